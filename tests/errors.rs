//! Errors that name the cause, and a router that survives the edges: no
//! hugepages, a driver that refused its device, `ready` only once every lcore
//! runs, numeric flags out of range, SIGUSR1 / SIGHUP, SIGINT during
//! --wait-links, a tap another process holds, memif socket files left
//! behind. Each test spawns the built binary.
//! The tap and memif tests need root and /dev/net/tun (CI has both); they
//! fail, not skip, without them.

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// EAL arguments as common::eal, with our own lcores; returns them and the
/// runtime directory DPDK makes for the prefix (removed by [`Cleanup`]).
fn eal_with(name: &str, lcores: &str) -> (Vec<String>, PathBuf) {
    let prefix = format!("nit-err-{name}-{}", std::process::id());
    let args = ["--no-huge", "-m", "256", "--no-shconf", "--no-pci", "-l", lcores, "--log-level=*:warning"]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("--file-prefix={prefix}")])
        .collect();
    (args, Path::new("/var/run/dpdk").join(prefix))
}

/// Removes what a test made (directories, DPDK runtime directories) when it ends, also on failure.
struct Cleanup(Vec<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

/// A running newipd whose output lines are collected; killed if the test ends first.
struct Running {
    child: Child,
    out: Arc<Mutex<Vec<String>>>,
    err: Arc<Mutex<Vec<String>>>,
}

fn collect(r: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let l = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            l.lock().unwrap().push(line);
        }
    });
    lines
}

impl Running {
    fn spawn(cmd: &mut Command) -> Running {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn newipd");
        let out = collect(child.stdout.take().unwrap());
        let err = collect(child.stderr.take().unwrap());
        Running { child, out, err }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Wait until an output line (stdout or stderr) satisfies `pred`; panics after `secs`.
    fn wait_line(&mut self, secs: u64, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            for lines in [&self.out, &self.err] {
                if let Some(l) = lines.lock().unwrap().iter().find(|l| pred(l)) {
                    return l.clone();
                }
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                panic!("newipd exited ({st}) before {what}\n{}", self.text());
            }
            assert!(Instant::now() < deadline, "no {what} within {secs} s\n{}", self.text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Lines of stdout containing `needle`.
    fn count(&self, needle: &str) -> usize {
        self.out.lock().unwrap().iter().filter(|l| l.contains(needle)).count()
    }

    fn signal(&self, sig: &str) {
        let st = Command::new("kill").arg(format!("-{sig}")).arg(self.pid().to_string()).status().unwrap();
        assert!(st.success(), "kill -{sig}");
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Wait for the exit (at most `secs`), then for the output to be read.
    fn finish(mut self, secs: u64) -> (std::process::ExitStatus, String, String) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let st = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            assert!(Instant::now() < deadline, "newipd did not exit within {secs} s\n{}", self.text());
            std::thread::sleep(Duration::from_millis(20));
        };
        // The reader threads end at EOF; give them a moment to take the last lines.
        std::thread::sleep(Duration::from_millis(200));
        let (o, e) = (self.out.lock().unwrap().join("\n"), self.err.lock().unwrap().join("\n"));
        (st, o, e)
    }

    fn text(&self) -> String {
        format!("stdout:\n{}\nstderr:\n{}", self.out.lock().unwrap().join("\n"), self.err.lock().unwrap().join("\n"))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn run_cmd(dir: &Path, pipeline: &str, flags: &[&str], eal: &[String]) -> Command {
    let p = dir.join("pipeline.toml");
    std::fs::write(&p, pipeline).unwrap();
    let mut c = Command::new(bin());
    c.arg("run").arg("--pipeline").arg(&p).args(flags).arg("--").args(eal);
    c
}

/// newipd's own error line (`newipd: error: ...`).
fn error_line(stderr: &str) -> String {
    stderr.lines().filter(|l| l.starts_with("newipd: error:")).last().unwrap_or_default().to_string()
}

fn assert_no_panic(out: &Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked") && out.status.code() != Some(101) && out.status.code() != Some(134), "{}", show(out));
}

const PCAP_PAIR: &str = r#"
[settings]
idle_sleep_us = 1000

[[port]]
name = "in"
device = "net_pcap0"

[[port]]
name = "out"
device = "net_pcap1"
peer_mac = "02:00:00:00:0b:0b"

[[route]]
prefix = "0.0.0.0/0"
port = "out"
"#;

fn pcap_ports(dir: &Path) -> [String; 2] {
    [format!("in=net_pcap0,rx_pcap={}", dir.join("in.pcap").display()), format!("out=net_pcap1,tx_pcap={}", dir.join("out.pcap").display())]
}

fn write_input(dir: &Path, n: usize) {
    let frames: Vec<_> = (0..n).map(|_| (0u64, newipd_core::wire::build::udp4(Default::default()))).collect();
    newipd_tools::gen::pcap::write(&dir.join("in.pcap"), &frames).unwrap();
}

// ---------------------------------------------------------------- 1. hugepages

/// What this machine's hugepages are, read here independently of newipd.
#[derive(Debug)]
enum Huge {
    NoneReserved,
    NotMounted,
    AllInUse,
    Usable,
}

fn machine_hugepages() -> Huge {
    let mut sizes = Vec::new(); // (kB, total, free)
    for e in std::fs::read_dir("/sys/kernel/mm/hugepages").map(|d| d.flatten().collect::<Vec<_>>()).unwrap_or_default() {
        let name = e.file_name().to_string_lossy().to_string();
        let kb: u64 = name.trim_start_matches("hugepages-").trim_end_matches("kB").parse().unwrap();
        let num = |f: &str| -> u64 { std::fs::read_to_string(e.path().join(f)).unwrap().trim().parse().unwrap() };
        sizes.push((kb, num("nr_hugepages"), num("free_hugepages")));
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let default_kb: u64 = meminfo.lines().find_map(|l| l.strip_prefix("Hugepagesize:")).map(|v| v.trim().trim_end_matches("kB").trim().parse().unwrap()).unwrap_or(2048);
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    let mounted_kb: Vec<u64> = mounts
        .lines()
        .filter(|l| l.split_whitespace().nth(2) == Some("hugetlbfs"))
        .map(|l| {
            let opts = l.split_whitespace().nth(3).unwrap_or("");
            match opts.split(',').find_map(|o| o.strip_prefix("pagesize=")) {
                Some(p) if p.ends_with('G') => p.trim_end_matches('G').parse::<u64>().unwrap() << 20,
                Some(p) if p.ends_with('M') => p.trim_end_matches('M').parse::<u64>().unwrap() << 10,
                _ => default_kb,
            }
        })
        .collect();
    let reserved: Vec<_> = sizes.iter().filter(|s| s.1 > 0).collect();
    let usable: Vec<_> = reserved.iter().filter(|s| mounted_kb.contains(&s.0)).collect();
    if reserved.is_empty() {
        Huge::NoneReserved
    } else if usable.is_empty() {
        Huge::NotMounted
    } else if usable.iter().all(|s| s.2 == 0) {
        Huge::AllInUse
    } else {
        Huge::Usable
    }
}

#[test]
fn without_no_huge_the_error_names_the_hugepage_state_of_this_machine() {
    let dir = tmpdir("err-huge");
    write_input(&dir, 10);
    let prefix = format!("nit-err-huge-{}", std::process::id());
    let _clean = Cleanup(vec![dir.clone(), Path::new("/var/run/dpdk").join(&prefix)]);
    let [a, b] = pcap_ports(&dir);
    // The README's own command line, without --no-huge.
    let eal: Vec<String> = ["-l", "0", "--no-pci", "--no-shconf", "--log-level=*:warning"].iter().map(|s| s.to_string()).chain([format!("--file-prefix={prefix}")]).collect();
    let out = run_cmd(&dir, PCAP_PAIR, &["--until-idle", "--port", &a, "--port", &b], &eal).output().unwrap();
    assert_no_panic(&out);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let line = error_line(&err);
    let state = machine_hugepages();
    let want: &[&str] = match state {
        Huge::NoneReserved => &["EAL initialisation failed: no hugepages are reserved", "--no-huge -m", "echo 512 > /sys/kernel/mm/hugepages/hugepages-"],
        Huge::NotMounted => &["EAL initialisation failed: hugepages are reserved", "no hugetlbfs is mounted", "mount -t hugetlbfs"],
        Huge::AllInUse => &["EAL initialisation failed: every reserved hugepage is in use", "--no-huge -m"],
        Huge::Usable => {
            // The EAL starts on hugepages: the run works, or only the pool did not fit and says so.
            assert!(out.status.success() || line.contains("the EAL runs on hugepages"), "{state:?}: {}", show(&out));
            assert!(!line.contains("Permission denied"), "{}", show(&out));
            return;
        }
    };
    assert_eq!(out.status.code(), Some(1), "{state:?}: {}", show(&out));
    for w in want {
        assert!(line.contains(w), "{state:?}: want '{w}' in: {line}\n{}", show(&out));
    }
    assert!(!line.contains("Permission denied"), "DPDK's errno is not the cause: {line}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("ready"), "{}", show(&out));
}

// ------------------------------------------------------ 2. the driver's reason

#[test]
fn a_file_that_is_not_a_pcap_gets_the_drivers_reason() {
    let dir = tmpdir("err-notpcap");
    let (eal, rt) = eal_with("notpcap", "0");
    let _clean = Cleanup(vec![dir.clone(), rt]);
    std::fs::write(dir.join("in.pcap"), "this is not a pcap file\n").unwrap();
    let [a, b] = pcap_ports(&dir);
    let out = run_cmd(&dir, PCAP_PAIR, &["--duration", "1", "--port", &a, "--port", &b], &eal).output().unwrap();
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let line = error_line(&String::from_utf8_lossy(&out.stderr));
    for w in ["port 'in'", "net_pcap0", "Couldn't open", "in.pcap", "unknown file format"] {
        assert!(line.contains(w), "want '{w}' in: {line}");
    }
    assert!(!line.contains("is the device bound"), "the cause is known, no guess: {line}");
}

const MEMIF_ONE: &str = r#"
[settings]
idle_sleep_us = 1000

[[port]]
name = "m"
device = "DEVICE"
peer_mac = "02:00:00:00:0b:0b"

[[route]]
prefix = "0.0.0.0/0"
port = "m"
"#;

fn memif(role: &str, sock: &Path) -> String {
    MEMIF_ONE.replace("DEVICE", &format!("net_memif0,role={role},socket={},socket-abstract=no", sock.display()))
}

#[test]
fn a_memif_socket_path_that_is_a_plain_file_gets_the_drivers_reason() {
    let dir = tmpdir("err-memif-file");
    let (eal, rt) = eal_with("memif-file", "0");
    let _clean = Cleanup(vec![dir.clone(), rt]);
    let sock = dir.join("taken.sock");
    std::fs::write(&sock, "a plain file, not a socket").unwrap();
    let out = run_cmd(&dir, &memif("server", &sock), &["--duration", "1"], &eal).output().unwrap();
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let line = error_line(&String::from_utf8_lossy(&out.stderr));
    for w in ["port 'm'", "DPDK could not create device 'net_memif0'", "Failed to setup socket", "taken.sock", "Address already in use"] {
        assert!(line.contains(w), "want '{w}' in: {line}");
    }
    assert_eq!(std::fs::read_to_string(&sock).unwrap(), "a plain file, not a socket", "not a socket: left alone");
}

#[test]
fn a_memif_client_without_its_server_gets_the_drivers_reason() {
    let dir = tmpdir("err-memif-client");
    let (eal, rt) = eal_with("memif-client", "0");
    let _clean = Cleanup(vec![dir.clone(), rt]);
    let sock = dir.join("nobody.sock");
    let out = run_cmd(&dir, &memif("client", &sock), &["--duration", "1"], &eal).output().unwrap();
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let line = error_line(&String::from_utf8_lossy(&out.stderr));
    for w in ["port 'm'", "rte_eth_dev_start", "the driver said", "Failed to connect socket", "nobody.sock"] {
        assert!(line.contains(w), "want '{w}' in: {line}");
    }
}

// ------------------------------------------------------------------- 3. ready

#[test]
fn ready_is_said_only_once_every_lcore_and_exporter_started() {
    let dir = tmpdir("err-ready");
    let (eal2, rt) = eal_with("ready", "0-1");
    let _clean = Cleanup(vec![dir.clone(), rt]);
    write_input(&dir, 10);
    let [a, b] = pcap_ports(&dir);
    let ports = ["--port", a.as_str(), "--port", b.as_str()];
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = held.local_addr().unwrap().to_string();
    let cases: [(String, Vec<&str>, &[&str]); 3] = [
        (PCAP_PAIR.replace("[settings]", "[lcores]\nworker = 5\n\n[settings]"), vec![], &["lcore 5 is not an enabled worker lcore", "-l"]),
        (PCAP_PAIR.replace("[settings]", "[lcores]\nrx = [1]\ntx = [2]\n\n[settings]"), vec![], &["lcore 2 is not an enabled worker lcore"]),
        (PCAP_PAIR.to_string(), vec!["--metrics", busy.as_str()], &["--metrics", "Address already in use"]),
    ];
    for (i, (pipeline, extra, want)) in cases.iter().enumerate() {
        let flags: Vec<&str> = ["--until-idle"].iter().copied().chain(ports).chain(extra.iter().copied()).collect();
        let out = run_cmd(&dir, pipeline, &flags, &eal2).output().unwrap();
        assert_no_panic(&out);
        assert_eq!(out.status.code(), Some(1), "case {i}: {}", show(&out));
        let line = error_line(&String::from_utf8_lossy(&out.stderr));
        for w in *want {
            assert!(line.contains(w), "case {i}: want '{w}' in: {line}");
        }
        assert!(!String::from_utf8_lossy(&out.stdout).contains("newipd: ready"), "case {i}: ready before the error\n{}", show(&out));
    }
    // And a run that starts says it, before its report.
    let out = run_cmd(&dir, PCAP_PAIR, &["--until-idle", "--port", &a, "--port", &b], &eal2).output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let (r, rep) = (text.find("newipd: ready: 2 port(s), 1 route(s), packet loop on lcore 1"), text.find("newipd report"));
    assert!(r.is_some() && rep.is_some() && r < rep, "{text}");
}

// --------------------------------------------------------- 4. numeric flags

#[test]
fn numeric_flags_out_of_range_are_refused_naming_the_flag_never_a_panic() {
    let dir = tmpdir("err-flags");
    let _clean = Cleanup(vec![dir.clone()]);
    let p = dir.join("pipeline.toml");
    std::fs::write(&p, PCAP_PAIR).unwrap();
    let p = p.to_str().unwrap();
    let pcap = dir.join("x.pcap");
    let pcap = pcap.to_str().unwrap();
    let live = ["gen", "--live", "--port", "net_null0"];
    let sink = ["sink", "--port", "net_null0"];
    let mut cases: Vec<(Vec<String>, &str)> = Vec::new();
    let mut add = |base: &[&str], flag: &'static str, v: &str| {
        let mut a: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        a.push(format!("{flag}={v}"));
        // DPDK is never reached: the flags are checked first (no EAL arguments needed).
        cases.push((a, flag));
    };
    for v in ["1e300", "inf", "-inf", "NaN", "-1", "0", "31536001"] {
        add(&["run", "--pipeline", p], "--duration", v);
        add(&["run", "--pipeline", p], "--wait-links", v);
        add(&live, "--duration", v);
        add(&live, "--link-timeout", v);
        add(&sink, "--duration", v);
    }
    for v in ["18446744073709551615", "31536000001"] {
        add(&["run", "--pipeline", p, "--until-idle"], "--idle-ms", v);
        add(&sink, "--idle-ms", v);
    }
    for v in ["18446744073709551615", "1000001"] {
        add(&live, "--idle-sleep-us", v);
        add(&sink, "--idle-sleep-us", v);
    }
    for v in ["18446744073709551615", "10000001"] {
        add(&["gen", "--out", pcap], "--packets", v);
        add(&["demo"], "--packets", v);
    }
    for v in ["0", "9", "4294967295"] {
        add(&["run", "--pipeline", p], "--stats-interval-ms", v);
    }
    add(&live, "--templates", "0");
    add(&live, "--burst", "65");
    add(&sink, "--burst", "0");
    add(&["gen", "--out", pcap], "--malformed", "NaN");
    add(&["gen", "--out", pcap], "--size", "18446744073709551615");
    assert_eq!(cases.len(), 55);
    for (args, flag) in &cases {
        let out = Command::new(bin()).args(args).output().unwrap();
        assert_no_panic(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", show(&out));
        let line = error_line(&String::from_utf8_lossy(&out.stderr));
        assert!(line.contains(flag), "{args:?}: the error should name {flag}: {line}");
    }
    // A pipeline value that would overflow the drain deadline is refused the same way.
    let bad = dir.join("drain.toml");
    std::fs::write(&bad, PCAP_PAIR.replace("idle_sleep_us = 1000", "shutdown_drain_ms = 9223372036854775807")).unwrap();
    let out = Command::new(bin()).args(["check", bad.to_str().unwrap()]).output().unwrap();
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(error_line(&String::from_utf8_lossy(&out.stderr)).contains("settings.shutdown_drain_ms"), "{}", show(&out));
}

// ---------------------------------------------------------------- 5. signals

#[test]
fn sigusr1_prints_the_counters_sighup_reloads_and_neither_stops_the_run() {
    // The packet loop on the main lcore (the signal thread answers all the
    // same), then on a worker lcore (which never runs a signal handler).
    for (name, lcores) in [("signals-main", "0"), ("signals-worker", "0-1")] {
        signals_case(name, lcores);
    }
}

/// Whether every EAL worker thread of `pid` blocks SIGHUP, SIGINT, SIGUSR1 and SIGTERM; panics if there is none.
fn workers_block_control_signals(pid: u32) -> bool {
    let want: u64 = [1u64, 2, 10, 15].iter().map(|s| 1 << (s - 1)).sum();
    let mut workers = 0;
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        if !std::fs::read_to_string(t.path().join("comm")).unwrap_or_default().starts_with("rte-worker") {
            continue;
        }
        workers += 1;
        let status = std::fs::read_to_string(t.path().join("status")).unwrap();
        let blk = status.lines().find_map(|l| l.strip_prefix("SigBlk:")).map(|v| u64::from_str_radix(v.trim(), 16).unwrap()).unwrap();
        if blk & want != want {
            return false;
        }
    }
    assert!(workers > 0, "no rte-worker thread in process {pid}");
    true
}

fn signals_case(name: &str, lcores: &str) {
    let dir = tmpdir(name);
    let (eal, rt) = eal_with(name, lcores);
    let _clean = Cleanup(vec![dir.clone(), rt]);
    write_input(&dir, 40);
    let [a, b] = pcap_ports(&dir);
    let mut r = Running::spawn(&mut run_cmd(&dir, PCAP_PAIR, &["--duration", "120", "--port", &a, "--port", &b], &eal));
    r.wait_line(60, "ready", |l| l.starts_with("newipd: ready"));
    if lcores != "0" {
        assert!(workers_block_control_signals(r.pid()), "{name}: a worker lcore may run signal handlers");
    }

    // SIGUSR1 until a snapshot shows the whole input received and forwarded.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let asked = r.count("newipd: SIGUSR1: the counters so far");
        assert_eq!(r.count("identity rx"), asked, "{name}: one identity line per snapshot\n{}", r.text());
        r.signal("USR1");
        let answer = Instant::now() + Duration::from_secs(10);
        while r.count("identity rx") <= asked {
            assert!(Instant::now() < answer && r.alive(), "{name}: no answer to SIGUSR1\n{}", r.text());
            std::thread::sleep(Duration::from_millis(20));
        }
        if r.count("total: rx 40 tx 40 dropped 0 queued 0") > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{name}: no snapshot with rx 40 tx 40\n{}", r.text());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(r.alive(), "{name}: SIGUSR1 stopped the run\n{}", r.text());

    r.signal("HUP");
    // The same file, with the same --port overrides: nothing to change.
    r.wait_line(10, "the SIGHUP answer", |l| l.starts_with("newipd: SIGHUP: reloaded ") && l.ends_with("pipeline.toml: no change"));
    // Still running a while after both signals (nothing stopped it).
    std::thread::sleep(Duration::from_millis(300));
    assert!(r.alive(), "{name}: SIGHUP stopped the run\n{}", r.text());
    assert_eq!(r.count("newipd report"), r.count("newipd: SIGUSR1"), "{name}: a report besides the snapshots came early\n{}", r.text());

    r.signal("TERM");
    let (st, out, err) = r.finish(30);
    assert!(st.success(), "{name}: {st}\n{out}\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    let report = out.rsplit("newipd report").next().unwrap_or_default();
    assert!(report.contains("total: rx 40 tx 40 dropped 0") && report.contains("(holds)") && report.contains("mbufs in use"), "{name}: {out}");
}

#[test]
fn sigint_ends_a_wait_for_links_with_the_report() {
    let dir = tmpdir("err-waitlinks");
    let (eal, rt) = eal_with("waitlinks", "0");
    let _clean = Cleanup(vec![dir.clone(), rt]);
    // A memif server nobody connects to: its link stays down.
    let pipeline = memif("server", &dir.join("alone.sock"));
    let mut r = Running::spawn(&mut run_cmd(&dir, &pipeline, &["--wait-links", "600"], &eal));
    r.wait_line(60, "the port's line", |l| l.starts_with("newipd: port m") && l.ends_with("link down"));
    let asked = Instant::now();
    r.signal("INT");
    let (st, out, err) = r.finish(30);
    assert!(st.success(), "{st}\n{out}\n{err}");
    assert!(asked.elapsed() < Duration::from_secs(10), "the wait went on after SIGINT");
    assert!(out.contains("newipd report") && out.contains("(holds)"), "{out}\n{err}");
    assert!(!err.contains("every link is up") && !err.contains("panicked"), "{err}");
}

// ------------------------------------------------------------------- 6. tap

#[test]
fn a_tap_another_newipd_holds_is_refused_naming_that_process() {
    assert!(Path::new("/dev/net/tun").exists(), "/dev/net/tun is missing");
    let dir = tmpdir("err-tap");
    let (eal1, rt1) = eal_with("tap1", "0");
    let (eal2, rt2) = eal_with("tap2", "0");
    let _clean = Cleanup(vec![dir.clone(), rt1, rt2]);
    let iface = format!("nie{}", std::process::id() % 10_000_000);
    let pipeline = MEMIF_ONE.replace("DEVICE", &format!("net_tap0,iface={iface}"));
    let mut first = Running::spawn(&mut run_cmd(&dir, &pipeline, &["--duration", "120"], &eal1));
    first.wait_line(60, "ready", |l| l.starts_with("newipd: ready"));
    let flags = || std::fs::read_to_string(format!("/sys/class/net/{iface}/flags")).map(|f| u32::from_str_radix(f.trim().trim_start_matches("0x"), 16).unwrap());
    assert_eq!(flags().unwrap() & 1, 1, "the first newipd's tap is up");

    let second_dir = dir.join("second");
    std::fs::create_dir_all(&second_dir).unwrap();
    let out = run_cmd(&second_dir, &pipeline, &["--duration", "1"], &eal2).output().unwrap();
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let line = error_line(&String::from_utf8_lossy(&out.stderr));
    for w in [format!("the tap '{iface}' is already in use by process {} (newipd)", first.pid()), "another iface=".to_string()] {
        assert!(line.contains(&w), "want '{w}' in: {line}");
    }
    assert!(first.alive(), "{}", first.text());
    assert_eq!(flags().unwrap() & 1, 1, "the refused second process left the tap up");

    first.signal("INT");
    let (st, out, err) = first.finish(30);
    assert!(st.success(), "{st}\n{out}\n{err}");
    assert!(out.contains("(holds)"), "{out}");
}

// ------------------------------------------------------------------ 7. memif

#[test]
fn a_memif_server_clears_a_stale_socket_and_its_own_and_refuses_a_live_one() {
    let dir = tmpdir("err-memif-sock");
    let (eal, rt) = eal_with("memif-sock", "0");
    let (eal_b, rt_b) = eal_with("memif-sock-b", "0");
    let _clean = Cleanup(vec![dir.clone(), rt, rt_b]);
    let sock = dir.join("m.sock");
    let pipeline = memif("server", &sock);

    // A socket file nobody listens on (a killed server's): removed, the run works.
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    assert!(sock.exists());
    let out = run_cmd(&dir, &pipeline, &["--duration", "0.3"], &eal).output().unwrap();
    assert_no_panic(&out);
    assert!(out.status.success(), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("removed the stale memif socket {}", sock.display())), "{}", show(&out));
    assert!(!sock.exists(), "its own socket file is gone after the exit");

    // Again, from clean: nothing stale to say, and nothing left behind.
    let out = run_cmd(&dir, &pipeline, &["--duration", "0.3"], &eal).output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("stale"), "{}", show(&out));
    assert!(!sock.exists(), "its own socket file is gone after the exit");

    // A live server's socket is neither removed nor shared.
    let mut a = Running::spawn(&mut run_cmd(&dir, &pipeline, &["--duration", "120"], &eal));
    a.wait_line(60, "ready", |l| l.starts_with("newipd: ready"));
    assert!(sock.exists(), "the live server's socket");
    let second = dir.join("second");
    std::fs::create_dir_all(&second).unwrap();
    let out = run_cmd(&second, &pipeline, &["--duration", "0.3"], &eal_b).output().unwrap();
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let line = error_line(&String::from_utf8_lossy(&out.stderr));
    assert!(line.contains(&format!("memif socket {} is in use: a process is listening on it", sock.display())), "{line}");
    assert!(sock.exists() && a.alive(), "the live server keeps its socket\n{}", a.text());
    a.signal("TERM");
    let (st, out, err) = a.finish(30);
    assert!(st.success(), "{st}\n{out}\n{err}");
    assert!(!sock.exists(), "its own socket file is gone after the exit");
}
