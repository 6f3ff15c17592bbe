//! The three-router chain  gen -> r1 -> r2 -> r3 -> sink: five newipd
//! processes linked by net_memif, with the configs of pipelines/chain/.
//! Started from the sink backwards (each memif client after its server's
//! socket file exists), routers wait for their links, processes back off
//! when idle (five processes, two cores), and every wait has a deadline.
//!
//! Checks: hops and experienced delay accumulate across the three hops, no
//! packet of an on-time window (precise LBF with a min, or an 0x8002
//! damper) arrives before its min, at low load at least
//! 99 % of the contract packets arrive by their max, and at overload on r2's
//! shaped egress EDF delivers far more deadline packets on time than FIFO.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A child process killed (if still running) when dropped, so a failed
/// assertion never leaves a chain behind.
struct Proc(Child, &'static str);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    /// Wait for exit with a deadline.
    fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        let end = Instant::now() + limit;
        loop {
            if let Some(s) = self.0.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < end, "{} did not exit within {limit:?}", self.1);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then wait for exit.
    fn stop(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").arg("-TERM").arg(self.0.id().to_string()).status();
        self.wait(Duration::from_secs(30))
    }
}

fn eal(dir: &Path, who: &str) -> Vec<String> {
    let tag = dir.file_name().unwrap().to_string_lossy().to_string();
    ["--no-huge", "-m", "256", "--no-shconf", "--no-pci", "--log-level=*:warning", "--lcores=0@(0-1)"]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("--file-prefix=nit-{tag}-{who}")])
        .collect()
}

fn memif(dir: &Path, n: u32, role: &str, idx: u32) -> String {
    format!("net_memif{idx},role={role},socket={}/s{n}.sock,socket-abstract=no", dir.display())
}

fn wait_for_socket(p: &Path) {
    let end = Instant::now() + Duration::from_secs(30);
    while !p.exists() {
        assert!(Instant::now() < end, "{} never appeared", p.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn(args: &[String], out: PathBuf, name: &'static str) -> Proc {
    let f = std::fs::File::create(out).unwrap();
    let child = Command::new(common::bin()).args(args).stdout(f.try_clone().unwrap()).stderr(f).spawn().expect("spawn newipd");
    Proc(child, name)
}

fn json(p: &Path) -> Value {
    let t = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&t).unwrap()
}

struct Run {
    gen: Value,
    sink: Value,
    routers: Vec<Value>,
}

impl Run {
    fn sent(&self, class: usize) -> u64 {
        self.gen["classes"][class]["sent"].as_u64().unwrap()
    }
    fn class(&self, class: u64) -> &Value {
        self.class_if_any(class).unwrap_or_else(|| panic!("no class {class} at the sink: {}", self.sink))
    }
    /// A class the run may have lost whole (FIFO under overload drops every
    /// packet of a held class when all of them are late).
    fn class_if_any(&self, class: u64) -> Option<&Value> {
        self.sink["classes"].as_array().unwrap().iter().find(|c| c["class"] == class)
    }
    /// Share of class `c`'s sent packets delivered within their window.
    fn on_time(&self, c: usize) -> f64 {
        self.class(c as u64)["in_window"].as_u64().unwrap() as f64 / self.sent(c).max(1) as f64
    }
}

/// One chain run: r2's egress scheduler `sched`, the generator at `rate_bps`
/// for `secs`, sending pipelines/chain/mix.toml plus, with `ontime`, the
/// on-time flow set of pipelines/chain/ontime.toml (class 3).
fn chain(name: &str, sched: &str, rate_bps: u64, secs: f64, ontime: bool) -> Run {
    let dir = common::tmpdir(name);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |f: &str| std::fs::read_to_string(root.join("pipelines/chain").join(f)).unwrap();
    let mix = dir.join("mix.toml");
    std::fs::write(&mix, if ontime { read("mix.toml") + &read("ontime.toml") } else { read("mix.toml") }).unwrap();
    let s = |v: &str| v.to_string();
    let mut sink = spawn(
        &[
            vec![s("sink"), s("--port"), memif(&dir, 4, "server", 0), s("--until-idle"), s("--idle-ms"), s("1500")],
            vec![s("--duration"), s("90"), s("--idle-sleep-us"), s("20"), s("--report-json"), dir.join("sink.json").display().to_string(), s("--")],
            eal(&dir, "sink"),
        ]
        .concat(),
        dir.join("sink.out"),
        "sink",
    );
    wait_for_socket(&dir.join("s4.sock"));
    let mut routers = Vec::new();
    for i in [3u32, 2, 1] {
        let text = std::fs::read_to_string(root.join(format!("pipelines/chain/r{i}.toml"))).unwrap();
        let text = text.replace("/tmp/newipd-chain", &dir.display().to_string()).replace("scheduler = \"edf\"", &format!("scheduler = \"{sched}\""));
        let cfg = dir.join(format!("r{i}.toml"));
        std::fs::write(&cfg, text).unwrap();
        let args = [
            vec![s("run"), s("--pipeline"), cfg.display().to_string(), s("--wait-links"), s("60"), s("--duration"), s("120")],
            vec![s("--report-json"), dir.join(format!("r{i}.json")).display().to_string(), s("--")],
            eal(&dir, &format!("r{i}")),
        ]
        .concat();
        routers.push(spawn(&args, dir.join(format!("r{i}.out")), ["r1", "r2", "r3"][i as usize - 1]));
        wait_for_socket(&dir.join(format!("s{i}.sock")));
    }
    let gen_args = [
        vec![s("gen"), s("--live"), s("--mix"), mix.display().to_string(), s("--port"), memif(&dir, 1, "client", 0)],
        vec![s("--rate-bps"), rate_bps.to_string(), s("--duration"), secs.to_string(), s("--idle-sleep-us"), s("20")],
        vec![s("--report-json"), dir.join("gen.json").display().to_string(), s("--")],
        eal(&dir, "gen"),
    ]
    .concat();
    let mut gen = spawn(&gen_args, dir.join("gen.out"), "gen");
    let st = gen.wait(Duration::from_secs(60));
    assert!(st.success(), "gen failed: {}", std::fs::read_to_string(dir.join("gen.out")).unwrap_or_default());
    let st = sink.wait(Duration::from_secs(120));
    let sink_out = std::fs::read_to_string(dir.join("sink.out")).unwrap_or_default();
    assert!(st.success(), "sink failed: {sink_out}");
    // Upstream first: r1, r2, r3 (routers holds them as r3, r2, r1).
    for r in routers.iter_mut().rev() {
        let st = r.stop();
        assert!(st.success(), "{} failed", r.1);
    }
    println!("{name}: sink\n{sink_out}");
    let run = Run {
        gen: json(&dir.join("gen.json")),
        sink: json(&dir.join("sink.json")),
        routers: (1..=3).map(|i| json(&dir.join(format!("r{i}.json")))).collect(),
    };
    for (i, r) in run.routers.iter().enumerate() {
        assert_eq!(r["identity_holds"], true, "r{}: {r}", i + 1);
        assert_eq!(r["packet_loop_heap_allocations"], 0, "r{}", i + 1);
    }
    assert_eq!(run.gen["loop_heap_allocations"], 0);
    assert_eq!(run.sink["loop_heap_allocations"], 0);
    assert_eq!(run.sink["unstamped"], 0);
    assert_eq!(run.sink["clock_errors"], 0);
    let _ = std::fs::remove_dir_all(&dir);
    run
}

/// Hops and experienced delay accumulated over the three routers.
fn check_path(run: &Run, class: u64) {
    let c = run.class(class);
    assert_eq!((c["hops"]["min"].as_u64(), c["hops"]["max"].as_u64()), (Some(3), Some(3)), "class {class}: {c}");
    let e = &c["experienced_ns"];
    assert!(e["min"].as_u64().unwrap() > 0, "class {class}: no time accounted: {c}");
    // The routers count their own time only: never more than the one-way latency.
    assert_eq!(c["experienced_above_latency"], 0, "class {class}: {c}");
    assert_eq!(c["duplicates"], 0, "class {class}");
}

#[test]
fn three_router_chain_honours_contracts_and_edf_beats_fifo() {
    // Low load: 2 Mb/s through r2's 4 Mb/s egress.
    let low = chain("chain-low", "edf", 2_000_000, 3.0, true);
    for class in [0, 1] {
        check_path(&low, class);
        let share = low.on_time(class as usize);
        assert!(share >= 0.99, "class {class}: only {share:.4} arrived within the window at low load: {}", low.class(class));
    }
    // The on-time window: never before its min, and the routers' holds add up to it.
    let w = low.class(1);
    assert_eq!(w["window"]["min_ns"], 2_000_000);
    assert_eq!(w["early"], 0, "{w}");
    assert!(w["latency_ns"]["min"].as_u64().unwrap() >= 2_000_000, "{w}");
    assert!(w["experienced_ns"]["min"].as_u64().unwrap() >= 1_990_000, "{w}");
    // Deadline traffic without a min is not held: its experienced delay stays far below 2 ms at p50.
    assert!(low.class(0)["experienced_ns"]["p50"].as_u64().unwrap() < 2_000_000, "{}", low.class(0));
    // Best effort: delivered, no contract to read.
    assert!(low.class(2)["experienced_ns"].is_null());
    // On-time (0x8002): held at least its first damper, never delivered before it.
    let ot = low.class(3);
    assert_eq!(ot["window"]["min_ns"], 1_000_000);
    assert_eq!(ot["early"], 0, "{ot}");
    assert!(ot["latency_ns"]["min"].as_u64().unwrap() >= 1_000_000, "{ot}");
    assert!(ot["packets"].as_u64().unwrap() as f64 >= 0.99 * low.sent(3) as f64, "{ot}");

    // Overload: 10 Mb/s offered to the 4 Mb/s link (best effort alone
    // exceeds it; the contract classes fit), EDF then FIFO on r2.
    let edf = chain("chain-edf", "edf", 10_000_000, 3.0, false);
    let fifo = chain("chain-fifo", "fifo", 10_000_000, 3.0, false);
    let (e, f) = (edf.on_time(0), fifo.on_time(0));
    println!("deadline class on time: edf {e:.4} fifo {f:.4}");
    assert!(e >= 0.8, "edf delivered only {e:.4} of the deadline packets on time");
    assert!(f <= 0.5 && e >= f + 0.4, "edf {e:.4} is not far above fifo {f:.4}");
    for run in [&edf, &fifo] {
        check_path(run, 0);
        // What arrives of the on-time window is never early (FIFO may lose it all).
        if let Some(w) = run.class_if_any(1) {
            assert_eq!(w["early"], 0, "{w}");
        }
    }
    assert_eq!(edf.class(1)["early"], 0, "EDF delivers the on-time window");
    // The shaped link really was the bottleneck: r2 dropped packets (best effort under EDF).
    let r2_drops = |r: &Run| r.routers[1]["dropped"].as_u64().unwrap();
    assert!(r2_drops(&edf) > 0 && r2_drops(&fifo) > 0);
}
