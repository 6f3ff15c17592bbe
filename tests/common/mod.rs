//! Helpers for integration tests: each test spawns the built `newipd` binary
//! with its own EAL instance (--no-huge, --no-shconf, a unique file prefix).
#![allow(dead_code)]

pub mod netns;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_newipd")
}

static N: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory for one test.
pub fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("newipd-it-{}-{}-{}", name, std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// EAL arguments for a test process: no hugepages, no shared files, one lcore.
pub fn eal(prefix: &str) -> Vec<String> {
    ["--no-huge", "-m", "256", "--no-shconf", "--no-pci", "-l", "0", "--log-level=*:warning"]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("--file-prefix=nit-{}-{}", prefix, std::process::id())])
        .collect()
}

/// Replay `frames` from a pcap into port `in_port` of `pipeline`, capture what
/// leaves `out_port`, stop once idle; assert what every such run must hold
/// (exit 0, the identity, nothing queued, no heap allocation in the packet
/// loop, no mbuf leak) and return the frames sent and the report.
pub fn run_pcap_case(name: &str, pipeline: &str, in_port: &str, out_port: &str, frames: &[Vec<u8>]) -> (Vec<Vec<u8>>, serde_json::Value) {
    let dir = tmpdir(name);
    let input: Vec<_> = frames.iter().map(|f| (0u64, f.clone())).collect();
    newipd_tools::gen::pcap::write(&dir.join("in.pcap"), &input).unwrap();
    let a = format!("{in_port}=net_pcap0,rx_pcap={}", dir.join("in.pcap").display());
    let b = format!("{out_port}=net_pcap1,tx_pcap={}", dir.join("out.pcap").display());
    let (out, report) = run(&dir, pipeline, &["--until-idle", "--idle-ms", "300", "--port", &a, "--port", &b]);
    assert!(out.status.success(), "{}", show(&out));
    let r = report.unwrap();
    assert_eq!(r["identity_holds"], true, "{r}");
    assert_eq!(r["queued"].as_u64(), Some(0));
    assert_eq!(r["packet_loop_heap_allocations"], 0);
    assert_eq!(r["mbufs_in_use_end"], r["mbufs_in_use_start"]);
    (newipd_tools::gen::pcap::read(&dir.join("out.pcap")).unwrap(), r)
}

/// Run `newipd run` on `pipeline` (written into `dir`) with extra flags; returns
/// the process output and the parsed JSON report (if it wrote one).
pub fn run(dir: &Path, pipeline: &str, flags: &[&str]) -> (Output, Option<serde_json::Value>) {
    let p = dir.join("pipeline.toml");
    std::fs::write(&p, pipeline).unwrap();
    let json = dir.join("report.json");
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let out = Command::new(bin())
        .arg("run")
        .arg("--pipeline")
        .arg(&p)
        .arg("--report-json")
        .arg(&json)
        .args(flags)
        .arg("--")
        .args(eal(&name))
        .output()
        .expect("spawn newipd");
    let report = std::fs::read_to_string(&json).ok().map(|t| serde_json::from_str(&t).expect("report JSON"));
    (out, report)
}

pub fn show(out: &Output) -> String {
    format!("status {:?}\nstdout:\n{}\nstderr:\n{}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A report's drop counter for `reason` (0 if absent).
pub fn drops(report: &serde_json::Value, reason: &str) -> u64 {
    report["drops"][reason].as_u64().unwrap_or(0)
}

pub fn port<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["ports"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("no port {name}"))
}

/// Independent IPv4 header checksum (not the library's): sum of 16-bit words.
pub fn ipv4_checksum_ok(h: &[u8]) -> bool {
    let mut s: u32 = 0;
    for c in h.chunks(2) {
        s += u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s == 0xffff
}

/// `newipd run` in the background on `pipeline` (written into `dir`, the
/// report going to `dir/report.json`), started and said `ready`; its
/// output as lines. Dropping it stops it (SIGINT) and waits, also when a
/// test fails half-way.
pub struct Daemon {
    child: std::process::Child,
    pub out: std::sync::mpsc::Receiver<String>,
    pub err: std::sync::mpsc::Receiver<String>,
    report: PathBuf,
}

/// The lines of `r`, read on a thread of their own.
pub fn lines(r: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(r).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// Wait for a line of `rx` that contains `needle`; panics after `secs`.
pub fn wait_for_line(rx: &std::sync::mpsc::Receiver<String>, needle: &str, secs: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) {
            Ok(l) if l.contains(needle) => return,
            Ok(_) => {}
            Err(e) => panic!("waiting for '{needle}': {e}"),
        }
    }
}

impl Daemon {
    pub fn start(dir: &Path, pipeline: &str) -> Daemon {
        Daemon::start_full(dir, pipeline, &[], &[], None)
    }

    /// [`Daemon::start`] with more `newipd run` flags (before `--`).
    pub fn start_with(dir: &Path, pipeline: &str, flags: &[&str]) -> Daemon {
        Daemon::start_full(dir, pipeline, flags, &[], None)
    }

    /// The same, run by the command `prefix` (e.g. `ip netns exec NS`: the
    /// daemon inside a network namespace).
    pub fn start_under(dir: &Path, pipeline: &str, prefix: &[&str]) -> Daemon {
        Daemon::start_full(dir, pipeline, &[], prefix, None)
    }

    /// [`Daemon::start_under`] with these EAL lcore arguments instead of `-l 0`
    /// (e.g. `--lcores=0@0,1@0,2@1` for a pipelined run on two CPUs).
    pub fn start_under_on(dir: &Path, pipeline: &str, prefix: &[&str], lcores: &str) -> Daemon {
        Daemon::start_full(dir, pipeline, &[], prefix, Some(lcores))
    }

    fn start_full(dir: &Path, pipeline: &str, flags: &[&str], prefix: &[&str], lcores: Option<&str>) -> Daemon {
        let mut eal_args = eal(&dir.file_name().unwrap().to_string_lossy());
        if let (Some(l), Some(i)) = (lcores, eal_args.iter().position(|a| a == "-l")) {
            // "-l 0" becomes the lcore list given.
            eal_args.remove(i + 1);
            eal_args[i] = l.to_string();
        }
        use std::process::Stdio;
        std::fs::write(dir.join("pipeline.toml"), pipeline).unwrap();
        let report = dir.join("report.json");
        let mut cmd = match prefix.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin());
                c
            }
            None => Command::new(bin()),
        };
        let mut child = cmd
            .args(["run", "--pipeline"])
            .arg(dir.join("pipeline.toml"))
            .arg("--report-json")
            .arg(&report)
            .args(flags)
            .arg("--")
            .args(eal_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn newipd");
        let out = lines(child.stdout.take().unwrap());
        let err = lines(child.stderr.take().unwrap());
        let d = Daemon { child, out, err, report };
        wait_for_line(&d.out, "newipd: ready", 30);
        d
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Is it still running?
    pub fn try_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Wait for it to exit (after a signal the test sent).
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().expect("wait for newipd")
    }

    /// Stop it (SIGINT): it must exit 0; its final report.
    pub fn stop(mut self) -> serde_json::Value {
        let _ = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status();
        let status = self.child.wait().expect("wait for newipd");
        assert!(status.success(), "newipd exit {status:?}");
        serde_json::from_str(&std::fs::read_to_string(&self.report).expect("report")).expect("report JSON")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status();
            let _ = self.child.wait();
        }
    }
}

/// Run a command (ip, sysctl, ...) that must succeed; its output.
pub fn sh(args: &[&str]) -> Output {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// How often `poll_until` looks again: short enough for timings in
/// milliseconds, long enough that a poll spawning `ip` or `vtysh` does not
/// eat a core of this two-core machine.
const POLL_EVERY: std::time::Duration = std::time::Duration::from_millis(10);

/// Ask `f` until it answers `Some` or `limit` has passed (then `None`); it is
/// asked at least once, also with a zero limit.
pub fn poll_until<T>(limit: std::time::Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(POLL_EVERY);
    }
}

/// Like `poll_until`, but a timeout is a failure: panics naming `what`.
/// Tests synchronise on a condition this way, never on a bare sleep.
pub fn wait_until<T>(what: &str, limit: std::time::Duration, f: impl FnMut() -> Option<T>) -> T {
    poll_until(limit, f).unwrap_or_else(|| panic!("timed out after {limit:?} waiting for {what}"))
}

/// traceroute from `ns` to `dst` until its hops are `want` (retried for a
/// few seconds: the first probes may go out before the neighbour entries
/// settle). Returns the hop addresses of the last try.
pub fn traceroute(ns: &str, family: &str, dst: &str, want: &[&str]) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", ns, "traceroute", family, "-n", "-q", "1", "-w", "1", "-m", "4", dst])
            .output()
            .expect("traceroute (apt-get install traceroute; ci/setup.sh does it)");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let hops: Vec<String> = text.lines().skip(1).filter_map(|l| l.split_whitespace().nth(1).map(str::to_string)).collect();
        if hops.iter().map(String::as_str).collect::<Vec<_>>() == want || std::time::Instant::now() > deadline {
            return hops;
        }
    }
}
