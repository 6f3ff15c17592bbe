//! SIGHUP reloads the pipeline file while newipd forwards, live and whole:
//! a route added and a class changed take effect at once (traffic to the
//! new prefix leaves by the new route's port, the other traffic flows on);
//! a file that does not parse or validate changes nothing; a change that
//! needs a restart is refused by name and the live change beside it is not
//! applied either. At the end the accounting identity holds and newipd
//! exits 0.
//!
//! Traffic: a pcap replayed for ever (`infinite_rx`) into port `in`,
//! three packets to 10.1.0.0/16 (DSCP 46, route A, port `a`) for every one
//! to 10.2.0.0/16 (DSCP 34, no route at first), so the class counters tell
//! which traffic is in which class; ports `a` and `b` are net_null. What
//! happens is read from `--stats-json` snapshots, per port, per class and
//! per drop reason, over windows that start after the reload has answered.

mod common;
use common::*;
use newipd_core::wire::build::{udp4, Udp4};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

const ROUTE_A: &str = "[[route]]\nprefix = \"10.1.0.0/16\"\nport = \"a\"\n";
const ROUTE_B: &str = "[[route]]\nprefix = \"10.2.0.0/16\"\nport = \"b\"\n";
/// Route B by port `a`: applied, `b` would stop sending.
const ROUTE_B_BY_A: &str = "[[route]]\nprefix = \"10.2.0.0/16\"\nport = \"a\"\n";

/// The pipeline: `settings` lines, `routes`, and class `voice` on `voice_dscp`.
fn pipeline(dir: &Path, settings: &str, routes: &str, voice_dscp: u8) -> String {
    format!(
        r#"[settings]
burst = 32
{settings}

[[port]]
name = "in"
device = "net_pcap0,rx_pcap={},infinite_rx=1"
peer_mac = "02:00:00:00:00:01"

[[port]]
name = "a"
device = "net_null0,no-rx=1"
peer_mac = "02:00:00:00:00:0a"

[[port]]
name = "b"
device = "net_null1,no-rx=1"
peer_mac = "02:00:00:00:00:0b"

{routes}
[[class]]
name = "voice"
dscp = [{voice_dscp}]
budget_us = 1000000
late_ok = true
"#,
        dir.join("in.pcap").display()
    )
}

/// The `--stats-json` file, read as it grows.
struct Stats(PathBuf);

impl Stats {
    /// Every complete snapshot so far.
    fn all(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.0).unwrap_or_default();
        let complete = match text.rfind('\n') {
            Some(i) => &text[..=i],
            None => "",
        };
        complete.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
    }

    /// The first snapshot that satisfies `pred`, waiting at most `secs`.
    fn wait(&self, what: &str, secs: u64, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(s) = self.all().into_iter().find(|s| pred(s)) {
                return s;
            }
            assert!(Instant::now() < deadline, "no snapshot with {what} within {secs} s; last: {:?}", self.all().last());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The newest snapshot now (there is one).
    fn last(&self) -> Value {
        self.all().pop().expect("a snapshot")
    }

    /// Two snapshots that frame a stretch of forwarding that began after
    /// now: the second snapshot to come (the first may hold counters
    /// published before now), and a later one with `packets` more received.
    fn window(&self, packets: u64) -> (Value, Value) {
        let now = seq(&self.last());
        let from = self.wait("a snapshot after the answer", 10, |s| seq(s) >= now + 2);
        let rx = from["rx"].as_u64().unwrap();
        let to = self.wait("traffic after the answer", 10, |s| s["rx"].as_u64().unwrap() >= rx + packets);
        (from, to)
    }
}

fn seq(s: &Value) -> u64 {
    s["seq"].as_u64().unwrap()
}

fn tx(s: &Value, port: &str) -> u64 {
    s["ports"].as_array().unwrap().iter().find(|p| p["name"] == port).unwrap_or_else(|| panic!("no port {port}: {s}"))["tx"].as_u64().unwrap()
}

fn forwarded(s: &Value, class: &str) -> u64 {
    s["classes"].as_array().unwrap().iter().find(|k| k["name"] == class).unwrap_or_else(|| panic!("no class {class}: {s}"))["forwarded"].as_u64().unwrap()
}

fn no_route(s: &Value) -> u64 {
    s["drops"]["no-route"].as_u64().unwrap_or(0)
}

/// The next line of `rx` that contains `needle`, waiting at most `secs`.
fn line_with(rx: &Receiver<String>, needle: &str, secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(l) if l.contains(needle) => return l,
            Ok(_) => {}
            Err(e) => panic!("waiting for '{needle}': {e}"),
        }
    }
}

/// Rewrite the pipeline file, send SIGHUP, return newipd's answer.
fn reload(d: &Daemon, file: &Path, text: &str) -> String {
    std::fs::write(file, text).unwrap();
    sh(&["kill", "-HUP", &d.pid().to_string()]);
    line_with(&d.err, "newipd: SIGHUP", 10)
}

/// Over a window after a refused reload: forwarding exactly as after the
/// first reload (A by port a, B by port b, nothing without a route, A best
/// effort, B in class voice).
fn unchanged(stats: &Stats, when: &str) {
    let (s, t) = stats.window(4000);
    assert!(tx(&t, "a") >= tx(&s, "a") + 1500, "{when}: A's traffic stopped\n{s}\n{t}");
    assert!(tx(&t, "b") >= tx(&s, "b") + 500, "{when}: B's traffic no longer leaves by port b\n{s}\n{t}");
    assert_eq!(no_route(&t), no_route(&s), "{when}: packets without a route");
    classes_after_the_reload(&s, &t, when);
}

/// A (three packets in four) best effort, B (one in four) in class voice.
fn classes_after_the_reload(s: &Value, t: &Value, when: &str) {
    let be = forwarded(t, "best-effort") - forwarded(s, "best-effort");
    let voice = forwarded(t, "voice") - forwarded(s, "voice");
    assert!(voice >= 500 && be > 2 * voice, "{when}: best effort {be}, voice {voice}: A should be best effort, B voice\n{s}\n{t}");
}

#[test]
fn sighup_reloads_routes_and_classes_live_and_refuses_bad_or_restart_only_files() {
    let dir = tmpdir("reload");
    let frames: Vec<(u64, Vec<u8>)> = (0..64u32)
        .map(|i| {
            let (dst, dscp) = if i % 4 != 3 { (0x0a01_0001, 46u8) } else { (0x0a02_0001, 34u8) };
            (0, udp4(Udp4 { dst: dst + (i >> 2), tos: dscp << 2, frame_len: 128, ..Default::default() }))
        })
        .collect();
    newipd_tools::gen::pcap::write(&dir.join("in.pcap"), &frames).unwrap();
    let file = dir.join("pipeline.toml");
    let path = file.display().to_string();
    let jsonl = dir.join("stats.jsonl");
    let d = Daemon::start_with(
        &dir,
        &pipeline(&dir, "", ROUTE_A, 46),
        &["--stats-json", jsonl.to_str().unwrap(), "--stats-interval-ms", "50", "--live", "off"],
    );
    let stats = Stats(jsonl.clone());

    // Before: A leaves by port a in class voice; B has no route.
    let s0 = stats.wait("traffic", 20, |s| tx(s, "a") >= 1000 && no_route(s) >= 1000);
    assert_eq!((tx(&s0, "b"), forwarded(&s0, "best-effort")), (0, 0), "{s0}");
    assert!(forwarded(&s0, "voice") >= 1000, "{s0}");

    // a. Route B added, class voice moved from DSCP 46 (A) to 34 (B).
    let answer = reload(&d, &file, &pipeline(&dir, "", &format!("{ROUTE_A}{ROUTE_B}"), 34));
    assert_eq!(answer, format!("newipd: SIGHUP: reloaded {path}: route 10.2.0.0/16 added, class voice changed"));
    // Until the answer, port b sent nothing and A was never best effort.
    for s in stats.all().iter().filter(|s| seq(s) <= seq(&s0)) {
        assert_eq!((tx(s, "b"), forwarded(s, "best-effort")), (0, 0), "{s}");
    }
    let (s, t) = stats.window(4000);
    assert!(tx(&t, "b") >= tx(&s, "b") + 500, "B's traffic leaves by port b\n{s}\n{t}");
    assert!(tx(&t, "a") >= tx(&s, "a") + 1500, "A's traffic still flows\n{s}\n{t}");
    assert_eq!(no_route(&t), no_route(&s), "B has a route now");
    classes_after_the_reload(&s, &t, "after the reload");

    // b. A file that does not parse, with a live change in it: nothing changes.
    let broken = pipeline(&dir, "", &format!("{ROUTE_A}{ROUTE_B_BY_A}"), 46).replace("dscp = [46]", "dscp = [46");
    let answer = reload(&d, &file, &broken);
    assert!(answer.starts_with(&format!("newipd: SIGHUP: {path}: line ")), "{answer}");
    assert!(answer.ends_with("; nothing changed, the running configuration stays"), "{answer}");
    unchanged(&stats, "after a TOML syntax error");

    // ... nor one that does not validate (a route to a port that is not there).
    let invalid = pipeline(&dir, "", &format!("{ROUTE_A}{ROUTE_B_BY_A}{}", ROUTE_B.replace("10.2.0.0/16", "10.3.0.0/16").replace("\"b\"", "\"zz\"")), 34);
    let answer = reload(&d, &file, &invalid);
    assert_eq!(
        answer,
        format!("newipd: SIGHUP: {path}: route[2].port: no port named 'zz' (ports are: in, a, b); nothing changed, the running configuration stays")
    );
    unchanged(&stats, "after a validation error");

    // c. A change that needs a restart, beside a live one: refused by name, whole.
    let restart = pipeline(&dir, "", &format!("{ROUTE_A}{ROUTE_B_BY_A}"), 34)
        .replace("burst = 32", "burst = 16")
        .replace("peer_mac = \"02:00:00:00:00:0a\"", "peer_mac = \"02:00:00:00:00:0a\"\nrx_desc = 512");
    let answer = reload(&d, &file, &restart);
    assert_eq!(
        answer,
        "newipd: SIGHUP: not applied: settings.burst (running 32, file 16), port[1].rx_desc (running 1024, file 512) need a restart; nothing changed"
    );
    unchanged(&stats, "after a restart-only change");

    // The file as running again: nothing to do.
    let answer = reload(&d, &file, &pipeline(&dir, "", &format!("{ROUTE_A}{ROUTE_B}"), 34));
    assert_eq!(answer, format!("newipd: SIGHUP: reloaded {path}: no change"));

    // d. The end: exit 0 (stop checks it), the identity holds, no allocation in the loop.
    let last = stats.last();
    let r = d.stop();
    assert_eq!(r["identity_holds"], true, "{r}");
    assert_eq!(r["queued"], 0, "{r}");
    assert_eq!(r["packet_loop_heap_allocations"], 0, "the packet loop allocated (class tables swapped under it)");
    assert!(port(&r, "b")["tx"].as_u64().unwrap() >= tx(&last, "b"));
    assert_eq!(drops(&r, "no-route"), no_route(&last), "no packet without a route after the first reload");
    let n = |k: &str| r[k].as_u64().unwrap();
    assert_eq!(n("rx") + n("created"), n("tx") + n("punted") + n("dropped") + n("queued"), "the identity, counted here: {r}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The class table an lcore reads can be swapped (it is an `arc_swap`),
/// and a thread's first read of one takes a slot that may be allocated:
/// a worker lcore (not the main thread, which built the router) takes it
/// before its loop, so classifying makes no heap allocation in the loop.
#[test]
fn a_worker_lcore_classifies_without_allocating() {
    let dir = tmpdir("reload-worker");
    let frames: Vec<(u64, Vec<u8>)> = (0..64u32).map(|i| (0, udp4(Udp4 { dst: 0x0a01_0001 + i, tos: 46 << 2, ..Default::default() }))).collect();
    newipd_tools::gen::pcap::write(&dir.join("in.pcap"), &frames).unwrap();
    let text = pipeline(&dir, "", ROUTE_A, 46).replace(",infinite_rx=1", "");
    std::fs::write(dir.join("pipeline.toml"), text).unwrap();
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let mut eal = eal(&name);
    let l = eal.iter().position(|a| a == "-l").unwrap();
    eal[l + 1] = "0-1".into();
    let out = std::process::Command::new(bin())
        .args(["run", "--pipeline"])
        .arg(dir.join("pipeline.toml"))
        .args(["--until-idle", "--idle-ms", "300", "--report-json"])
        .arg(dir.join("report.json"))
        .arg("--")
        .args(&eal)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(r["lcores"], serde_json::json!([1]), "the packet loop on a worker lcore");
    assert_eq!((r["tx"].as_u64(), port(&r, "a")["tx"].as_u64()), (Some(64), Some(64)), "{r}");
    let voice = r["classes"].as_array().unwrap().iter().find(|k| k["name"] == "voice").unwrap();
    assert_eq!(voice["forwarded"], 64, "every packet classified: {r}");
    assert_eq!(r["identity_holds"], true);
    assert_eq!(r["packet_loop_heap_allocations"], 0, "the packet loop allocated");
    let _ = std::fs::remove_dir_all(&dir);
}
