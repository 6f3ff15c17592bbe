//! A harness for tests against the real Linux kernel, real FRR and iperf3,
//! each piece in network namespaces of the test's own:
//!
//! - `Netns`: a namespace that kills what runs in it and disappears on drop
//!   (also when the test panics); `veth` joins two of them (or one to itself,
//!   a stand-in for a dummy interface, which this kernel may lack).
//! - `Frr`: zebra plus the routing daemons a test names, private to one test:
//!   pid files, vty sockets, the zserv socket, configuration and logs live in
//!   a temporary directory of its own, never under /etc/frr or /var/run/frr,
//!   so several instances run side by side next to a system-wide FRR.
//! - `IperfServer`, `iperf3_tcp`, `iperf3_udp`: traffic and its JSON report.
//!
//! Needs root, iproute2, FRR 8.4 (`frr`), iperf3 and ping (ci/setup.sh
//! installs them); without them the tests fail rather than skip.

use super::{poll_until, tmpdir};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static NS_N: AtomicUsize = AtomicUsize::new(0);

/// The longest interface name the kernel takes (IFNAMSIZ less the NUL).
pub const IFNAME_MAX: usize = 15;

fn text(out: &Output) -> String {
    format!("status {}\nstdout:\n{}\nstderr:\n{}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A network namespace of one test, with `lo` up and IPv6 duplicate address
/// detection off. Dropping it kills every process still inside and deletes
/// it, also when the test panics.
pub struct Netns {
    name: String,
}

impl Netns {
    /// A new namespace named `<tag>-<pid>-<n>`: unique across parallel tests
    /// of this process and across test processes.
    pub fn new(tag: &str) -> Netns {
        let name = format!("{tag}-{}-{}", std::process::id(), NS_N.fetch_add(1, Ordering::SeqCst));
        // A leftover of an earlier run that had the same pid would make `add` fail.
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let out = Command::new("ip").args(["netns", "add", &name]).output().expect("ip (iproute2) installed");
        assert!(out.status.success(), "ip netns add {name} (needs root): {}", text(&out));
        let ns = Netns { name };
        // No duplicate address detection: it keeps every new IPv6 address,
        // link-local ones included, tentative (unusable) for a second or two,
        // and on a veth of a test there is nobody to collide with. bgpd, for
        // one, resets an IPv6 session while its interface has no usable
        // link-local address. `default` covers interfaces made later.
        ns.sh("ip link set lo up && sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0");
        ns
    }

    /// The namespace's name, as `ip netns` knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A `Command` running `args` inside the namespace (`ip netns exec`),
    /// for callers that want to choose its stdio themselves.
    pub fn command(&self, args: &[&str]) -> Command {
        assert!(!args.is_empty(), "no program to run in {}", self.name);
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(args);
        c
    }

    /// Run `args` inside the namespace to completion; its output, whatever
    /// the exit status.
    pub fn exec(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("ip netns exec {} {args:?}: {e}", self.name))
    }

    /// Run a shell script inside the namespace; its stdout. Panics with
    /// stdout and stderr if the script fails.
    pub fn sh(&self, script: &str) -> String {
        let out = self.exec(&["sh", "-c", script]);
        assert!(out.status.success(), "in netns {}: {script}\n{}", self.name, text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Start `args` in the background inside the namespace: stdin from
    /// /dev/null, stdout and stderr piped (read them, e.g. with
    /// `common::lines`, if the program is chatty, or it blocks). Since
    /// `ip netns exec` execs the program, the child's pid is the program's.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("ip netns exec {} {args:?}: {e}", self.name))
    }

    /// `ip -j <args>` inside the namespace (e.g. `-6 route show proto bgp`),
    /// parsed: the array `ip` prints, empty when it prints nothing.
    pub fn ip_json(&self, args: &str) -> Vec<Value> {
        let out = self.sh(&format!("ip -j {args}"));
        if out.trim().is_empty() {
            return Vec::new();
        }
        match serde_json::from_str(&out) {
            Ok(Value::Array(v)) => v,
            other => panic!("ip -j {args} in {}: not a JSON array: {other:?}\n{out}", self.name),
        }
    }

    /// The pids of the processes inside, as `ip netns pids` sees them
    /// (zombies have left the namespace and are not among them).
    pub fn pids(&self) -> Vec<u32> {
        let out = Command::new("ip").args(["netns", "pids", &self.name]).output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().filter_map(|p| p.parse().ok()).collect()).unwrap_or_default()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // A backstop for guards that did not stop their processes (or a test
        // that spawned and forgot): nothing may outlive the namespace, or a
        // daemon would keep running, and routing, with nobody to see it.
        let gone = poll_until(Duration::from_secs(5), || {
            let pids = self.pids();
            for p in &pids {
                let _ = Command::new("kill").args(["-KILL", &p.to_string()]).output();
            }
            pids.is_empty().then_some(())
        });
        if gone.is_none() {
            eprintln!("netns {}: processes still inside after SIGKILL: {:?}", self.name, self.pids());
        }
        let out = Command::new("ip").args(["netns", "del", &self.name]).output();
        if !matches!(&out, Ok(o) if o.status.success()) {
            eprintln!("ip netns del {}: {out:?}", self.name);
        }
    }
}

/// A veth pair, both ends up: `a_if` in `a`, `b_if` in `b`. With `a` and `b`
/// the same namespace it serves as a dummy interface: a link that is up and
/// can carry addresses and connected routes.
pub fn veth(a: &Netns, a_if: &str, b: &Netns, b_if: &str) {
    for i in [a_if, b_if] {
        assert!(!i.is_empty() && i.len() <= IFNAME_MAX, "interface name '{i}': 1 to {IFNAME_MAX} characters");
    }
    a.sh(&format!("ip link add {a_if} type veth peer name {b_if} netns {} && ip link set {a_if} up", b.name()));
    b.sh(&format!("ip link set {b_if} up"));
}

/// Where Debian's `frr` package puts the daemons.
const FRR_SBIN: &str = "/usr/lib/frr";

/// The user FRR's daemons drop to. Root cannot be used: FRR 8.4 insists that
/// the user it runs as be a member of its vty group (`frrvty`), and root is
/// not; the package makes `frr` one.
const FRR_USER: &str = "frr";

/// FRR in one namespace: zebra plus the daemons a test names, configured
/// from one text in FRR's integrated (`frr.conf`) syntax. Everything of it
/// lives in a private temporary directory. Dropping it stops the daemons
/// (SIGTERM, then SIGKILL); the directory stays when the test has panicked,
/// for its logs, and the log tails are printed then.
///
/// bgpd keeps new sessions idle until a moment after its configuration is
/// complete (its log says "released from config-pending hold"; about a
/// second here), so BGP peering takes over a second whatever the timers.
pub struct Frr {
    ns: String,
    dir: PathBuf,
    /// In start order, zebra first; stopped in reverse.
    daemons: Vec<(String, Child)>,
    /// Whether a panic message has carried the log tails already (then
    /// dropping during the panic does not print them again).
    logs_shown: std::cell::Cell<bool>,
}

impl Frr {
    /// Start zebra and then `daemons` (e.g. `["bgpd"]`, `["ospfd"]`) in `ns`,
    /// and apply `config` with `vtysh -b`, which fails on any line a daemon
    /// rejects (then this panics with vtysh's answer and the logs).
    ///
    /// `config` should not set `log` targets: each daemon logs to
    /// `<dir>/<daemon>.log` and its stdout and stderr go to `<daemon>.out`.
    pub fn start(ns: &Netns, daemons: &[&str], config: &str) -> Frr {
        let dir = tmpdir(&format!("frr-{}", ns.name()));
        let mut frr = Frr { ns: ns.name().to_string(), dir, daemons: Vec::new(), logs_shown: Default::default() };
        // vtysh reads <config_dir>/vtysh.conf at every start (and complains if
        // it is missing); an empty one keeps /etc/frr/vtysh.conf out of it.
        frr.write("vtysh.conf", "");
        frr.write("frr.conf", config);
        // The daemons write pid files, sockets and logs here after dropping
        // to the frr user, so it must own the directory.
        let out = Command::new("chown").args(["-R", &format!("{FRR_USER}:{FRR_USER}")]).arg(&frr.dir).output().expect("chown");
        assert!(out.status.success(), "chown {FRR_USER} {} (is FRR installed?): {}", frr.dir.display(), text(&out));

        for d in std::iter::once("zebra").chain(daemons.iter().copied().filter(|d| *d != "zebra")) {
            frr.spawn(d);
        }
        let out = frr.vtysh_cmd().arg("-b").output().expect("vtysh");
        if !out.status.success() {
            panic!("vtysh -b in {} rejected the configuration:\n{}\n{}\n{}", frr.ns, numbered(config), text(&out), frr.log_tail(30));
        }
        frr
    }

    /// The private directory: frr.conf, `<daemon>.log`, `.out`, `.pid`, `.vty`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn write(&self, name: &str, content: &str) {
        std::fs::write(self.dir.join(name), content).unwrap_or_else(|e| panic!("{}/{name}: {e}", self.dir.display()));
    }

    /// Start one daemon and wait for its vty socket (for zebra also the
    /// zserv socket, which the other daemons connect to).
    fn spawn(&mut self, d: &str) {
        let bin = Path::new(FRR_SBIN).join(d);
        assert!(bin.exists(), "{} missing (is the frr package installed?)", bin.display());
        let p = |suffix: &str| self.dir.join(format!("{d}{suffix}")).to_string_lossy().into_owned();
        // Each daemon reads its own <daemon>.conf at start-up, /etc/frr's
        // unless told otherwise: an empty private one; frr.conf comes after.
        self.write(&format!("{d}.conf"), "");
        let zserv = self.dir.join("zserv.api");
        let out = std::fs::File::create(p(".out")).unwrap();
        let args: Vec<String> = vec![
            bin.to_string_lossy().into_owned(),
            format!("--user={FRR_USER}"),
            format!("--group={FRR_USER}"),
            format!("--config_file={}", p(".conf")),
            format!("--pid_file={}", p(".pid")),
            format!("--socket={}", zserv.display()),
            format!("--vty_socket={}", self.dir.display()),
            // No TCP vty: the unix socket is all vtysh needs.
            "--vty_port=0".into(),
            format!("--log=file:{}", p(".log")),
        ];
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .args(&args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("ip netns exec {} {args:?}: {e}", self.ns));
        self.daemons.push((d.to_string(), child));
        let vty = self.dir.join(format!("{d}.vty"));
        let ready = poll_until(Duration::from_secs(20), || {
            let (_, c) = self.daemons.last_mut().unwrap();
            if let Ok(Some(st)) = c.try_wait() {
                return Some(Err(st));
            }
            (vty.exists() && (d != "zebra" || zserv.exists())).then_some(Ok(()))
        });
        match ready {
            Some(Ok(())) => {}
            Some(Err(st)) => panic!("{d} in {} exited at start-up ({st}): {}\n{}", self.ns, args.join(" "), self.log_tail(30)),
            None => panic!("{d} in {}: no {} within 20 s\n{}", self.ns, vty.display(), self.log_tail(30)),
        }
    }

    /// vtysh aimed at this instance's sockets and configuration directory.
    fn vtysh_cmd(&self) -> Command {
        let mut c = Command::new("vtysh");
        c.arg("--vty_socket").arg(&self.dir).arg("--config_dir").arg(&self.dir).stdin(Stdio::null());
        c
    }

    /// Run `cmd` with vtysh (several commands: one a line, e.g.
    /// "configure terminal\nrouter bgp 1\n..."); its output, or `Err` with
    /// vtysh's output when it fails.
    pub fn try_vtysh(&self, cmd: &str) -> Result<String, String> {
        let out = self.vtysh_cmd().arg("-c").arg(cmd).output().expect("vtysh (frr package) installed");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(text(&out))
        }
    }

    /// Run `cmd` with vtysh; its output. Panics when vtysh fails, with the
    /// daemons' log tails.
    pub fn vtysh(&self, cmd: &str) -> String {
        self.try_vtysh(cmd).unwrap_or_else(|e| panic!("vtysh in {}: {cmd}\n{e}\n{}", self.ns, self.log_tail(30)))
    }

    /// `vtysh -c "<cmd>"` for a command ending in `json`, parsed.
    pub fn vtysh_json(&self, cmd: &str) -> Value {
        let out = self.vtysh(cmd);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("vtysh in {}: {cmd}: not JSON ({e}):\n{out}", self.ns))
    }

    /// Poll `f` until it answers `Some`, panicking after `limit` with `what`,
    /// the last thing `f` saw (`last`) and the daemons' log tails.
    pub fn wait<T>(&self, what: &str, limit: Duration, mut f: impl FnMut(&mut String) -> Option<T>) -> T {
        let mut last = String::new();
        poll_until(limit, || f(&mut last))
            .unwrap_or_else(|| panic!("{}: timed out after {limit:?} waiting for {what}; last seen:\n{last}\n{}", self.ns, self.log_tail(30)))
    }

    /// Wait until the BGP session with `peer` (an address) is Established;
    /// the time it took.
    pub fn wait_bgp_established(&self, peer: &str, limit: Duration) -> Duration {
        let t0 = Instant::now();
        self.wait(&format!("BGP session with {peer} Established"), limit, |last| {
            let out = self.try_vtysh(&format!("show bgp neighbors {peer} json")).unwrap_or_else(|e| e);
            let state = serde_json::from_str::<Value>(&out).ok().and_then(|v| v[peer]["bgpState"].as_str().map(str::to_string));
            *last = out;
            (state.as_deref() == Some("Established")).then_some(())
        });
        t0.elapsed()
    }

    /// Wait until the OSPF neighbour with router id `router_id` is Full; the
    /// time it took.
    pub fn wait_ospf_full(&self, router_id: &str, limit: Duration) -> Duration {
        let t0 = Instant::now();
        self.wait(&format!("OSPF neighbour {router_id} Full"), limit, |last| {
            let out = self.try_vtysh("show ip ospf neighbor json").unwrap_or_else(|e| e);
            let full = serde_json::from_str::<Value>(&out).ok().is_some_and(|v| {
                // One entry per interface the neighbour is seen on; state "Full/-"
                // on point-to-point links, "Full/DR" and the like on others.
                v["neighbors"][router_id]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|n| n["nbrState"].as_str().or(n["state"].as_str()).is_some_and(|s| s.starts_with("Full"))))
            });
            *last = out;
            full.then_some(())
        });
        t0.elapsed()
    }

    /// The last `n` lines of every daemon's log and output, for failure messages.
    pub fn log_tail(&self, n: usize) -> String {
        self.logs_shown.set(true);
        let mut s = format!("-- FRR logs in {} --\n", self.dir.display());
        for (d, _) in &self.daemons {
            for suffix in [".log", ".out"] {
                let f = self.dir.join(format!("{d}{suffix}"));
                let t = std::fs::read_to_string(&f).unwrap_or_else(|e| format!("({e})"));
                let lines: Vec<&str> = t.lines().collect();
                s += &format!("-- {d}{suffix} (last {n} lines) --\n");
                for l in &lines[lines.len().saturating_sub(n)..] {
                    s += l;
                    s.push('\n');
                }
            }
        }
        s
    }

    /// Stop every daemon and check that each was still running and exited
    /// cleanly on SIGTERM: a daemon that crashed during a test fails it here.
    pub fn stop(mut self) {
        let bad: Vec<String> = self.stop_all().into_iter().filter(|(_, clean)| !clean).map(|(d, _)| d).collect();
        assert!(bad.is_empty(), "FRR in {}: {bad:?} had died or did not exit cleanly\n{}", self.ns, self.log_tail(30));
    }

    /// SIGTERM to each daemon (the routing daemons before zebra), SIGKILL
    /// for one that does not exit within 5 s; per daemon, whether it was
    /// running and exited with status 0.
    fn stop_all(&mut self) -> Vec<(String, bool)> {
        let mut res = Vec::new();
        for (d, c) in self.daemons.iter_mut().rev() {
            // A child already reaped (by an earlier stop) answers from the
            // status it kept, so nothing is signalled twice.
            let was_running = matches!(c.try_wait(), Ok(None));
            if was_running {
                let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).output();
            }
            let st = poll_until(Duration::from_secs(5), || c.try_wait().ok().flatten()).or_else(|| {
                let _ = c.kill();
                c.wait().ok()
            });
            res.push((d.clone(), was_running && st.is_some_and(|s| s.success())));
        }
        res
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        if std::thread::panicking() && !self.logs_shown.get() {
            eprintln!("{}", self.log_tail(30));
        }
        // After stop() the daemons have exited and been reaped: try_wait
        // answers at once and nothing is signalled.
        self.stop_all();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn numbered(config: &str) -> String {
    config.lines().enumerate().map(|(i, l)| format!("{:3} {l}\n", i + 1)).collect()
}

/// An iperf3 server in a namespace, for one test (`-s -1`), then it exits.
/// Dropping it kills it if it is still running.
pub struct IperfServer {
    child: Child,
    /// The TCP port it listens on (also for the control connection of UDP tests).
    pub port: u16,
}

impl IperfServer {
    /// Start `iperf3 -s -1 -p <port>` in `ns` and wait until it listens.
    pub fn start(ns: &Netns, port: u16) -> IperfServer {
        let mut child = ns.command(&["iperf3", "-s", "-1", "-p", &port.to_string()]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("iperf3 installed");
        let listening = poll_until(Duration::from_secs(10), || {
            if let Ok(Some(st)) = child.try_wait() {
                return Some(Err(st));
            }
            let out = ns.exec(&["ss", "-Hltn", &format!("sport = :{port}")]);
            (!String::from_utf8_lossy(&out.stdout).trim().is_empty()).then_some(Ok(()))
        });
        match listening {
            Some(Ok(())) => IperfServer { child, port },
            Some(Err(st)) => panic!("iperf3 server in {} exited at start-up: {st}", ns.name()),
            None => panic!("iperf3 server in {} not listening on {port} within 10 s", ns.name()),
        }
    }
}

impl Drop for IperfServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// What an iperf3 client's JSON report (`-J`) says of a test, totals over
/// all streams. "Sent" is the client's count, "received" the server's, which
/// the client fetches at the end.
#[derive(Debug, Clone)]
pub struct IperfReport {
    pub sent_bytes: u64,
    pub received_bytes: u64,
    /// The test's length as the sender measured it.
    pub seconds: f64,
    pub sent_bps: f64,
    pub received_bps: f64,
    /// TCP only: segments the sender retransmitted.
    pub retransmits: Option<u64>,
    /// UDP only: datagrams sent, and those the server saw missing.
    pub packets: Option<u64>,
    pub lost_packets: Option<u64>,
    /// The whole report, for what the fields above leave out.
    pub json: Value,
}

impl IperfReport {
    /// Read the client's report; panics naming what is missing.
    pub fn parse(report: &str) -> IperfReport {
        let json: Value = serde_json::from_str(report).unwrap_or_else(|e| panic!("iperf3 report not JSON ({e}):\n{report}"));
        if let Some(e) = json["error"].as_str() {
            panic!("iperf3: {e}");
        }
        let end = &json["end"];
        let u = |v: &Value, what: &str| v.as_u64().unwrap_or_else(|| panic!("iperf3 report: no {what}:\n{report}"));
        let f = |v: &Value, what: &str| v.as_f64().unwrap_or_else(|| panic!("iperf3 report: no {what}:\n{report}"));
        let (sent, recv) = (&end["sum_sent"], &end["sum_received"]);
        let udp = json["start"]["test_start"]["protocol"] == "UDP";
        IperfReport {
            sent_bytes: u(&sent["bytes"], "end.sum_sent.bytes"),
            received_bytes: u(&recv["bytes"], "end.sum_received.bytes"),
            seconds: f(&sent["seconds"], "end.sum_sent.seconds"),
            sent_bps: f(&sent["bits_per_second"], "end.sum_sent.bits_per_second"),
            received_bps: f(&recv["bits_per_second"], "end.sum_received.bits_per_second"),
            retransmits: (!udp).then(|| u(&sent["retransmits"], "end.sum_sent.retransmits")),
            // For UDP `end.sum` carries the loss the server counted.
            packets: udp.then(|| u(&end["sum"]["packets"], "end.sum.packets")),
            lost_packets: udp.then(|| u(&end["sum"]["lost_packets"], "end.sum.lost_packets")),
            json,
        }
    }
}

/// Run an iperf3 client in `ns` against `server` (an address) and `port`
/// for `secs` seconds with extra `args`; the parsed report. A client that
/// hangs is killed after `secs` + 20 s and fails the test.
fn iperf3_client(ns: &Netns, server: &str, port: u16, secs: u32, args: &[&str]) -> IperfReport {
    let limit = (secs + 20).to_string();
    let (port, secs) = (port.to_string(), secs.to_string());
    let mut all = vec!["timeout", "-k", "2", &limit, "iperf3", "-J", "-c", server, "-p", &port, "-t", &secs];
    all.extend_from_slice(args);
    let out = ns.exec(&all);
    assert!(out.status.code() != Some(124), "iperf3 client in {} hung: killed after {limit} s", ns.name());
    let report = IperfReport::parse(&String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success(), "iperf3 client in {}: {}", ns.name(), text(&out));
    report
}

/// A TCP test of `secs` seconds from `ns` to the iperf3 server at `server`.
pub fn iperf3_tcp(ns: &Netns, server: &str, port: u16, secs: u32) -> IperfReport {
    iperf3_client(ns, server, port, secs, &[])
}

/// A UDP test of `secs` seconds at `rate` (iperf3's `-b`, e.g. "10M") from
/// `ns` to the iperf3 server at `server`.
pub fn iperf3_udp(ns: &Netns, server: &str, port: u16, secs: u32, rate: &str) -> IperfReport {
    iperf3_client(ns, server, port, secs, &["-u", "-b", rate])
}

/// Wait until `ns`'s kernel has routes of protocol `proto` (`bgp`, `ospf`)
/// in the main table for exactly the prefixes `want` (IPv4 when `v6` is
/// false); the routes, as `ip -j` shows them.
pub fn wait_kernel_routes(ns: &Netns, v6: bool, proto: &str, want: &[&str], limit: Duration) -> Vec<Value> {
    let fam = if v6 { "-6" } else { "-4" };
    let mut last = Vec::new();
    let got = poll_until(limit, || {
        let routes = ns.ip_json(&format!("{fam} route show proto {proto}"));
        let mut dsts: Vec<&str> = routes.iter().filter_map(|r| r["dst"].as_str()).collect();
        dsts.sort_unstable();
        let mut w = want.to_vec();
        w.sort_unstable();
        let done = dsts == w;
        last = routes.clone();
        done.then_some(routes)
    });
    got.unwrap_or_else(|| panic!("{}: kernel {fam} routes proto {proto} never became {want:?} within {limit:?}; last: {last:?}", ns.name()))
}

/// An eBGP speaker `asn` with one IPv4 and one IPv6 session to `peer_as`.
///
/// - `no bgp ebgp-requires-policy`: else FRR's eBGP sends and accepts
///   nothing without a route-map.
/// - `bgp network import-check` (the default, said aloud): `network`
///   announces only what the RIB has, so removing the address withdraws.
/// - `no bgp default ipv4-unicast`: one family per session, the IPv6 one
///   carrying no IPv4 routes.
/// - `timers bgp 1 3`: keepalive 1 s, hold 3 s; `timers connect 1`: retry a
///   refused connection (the peer's bgpd not up yet) after 1 s, not 120 s;
///   `advertisement-interval 0`: send updates at once; `coalesce-time 0`:
///   without it a new update group holds its first updates for 1 s, and an
///   announcement made just after the sessions came up waits that long.
///
/// `advertisement-interval` belongs to the `router bgp` level, not to an
/// address family: inside one, vtysh -b runs it one level up and stays
/// there, and the `exit-address-family` after it fails.
pub fn bgp_config(asn: u32, id: &str, peer_as: u32, peer4: &str, peer6: &str) -> String {
    format!(
        "frr defaults traditional
!
router bgp {asn}
 bgp router-id {id}
 no bgp ebgp-requires-policy
 bgp network import-check
 no bgp default ipv4-unicast
 timers bgp 1 3
 coalesce-time 0
 neighbor {peer4} remote-as {peer_as}
 neighbor {peer4} timers connect 1
 neighbor {peer4} advertisement-interval 0
 neighbor {peer6} remote-as {peer_as}
 neighbor {peer6} timers connect 1
 neighbor {peer6} advertisement-interval 0
 address-family ipv4 unicast
  neighbor {peer4} activate
 exit-address-family
 address-family ipv6 unicast
  neighbor {peer6} activate
 exit-address-family
exit
!
"
    )
}
