//! A memif server that dies and comes back: the chain
//! `newipd gen --live -> r1 -> r2 -> newipd sink`, four processes linked by
//! net_memif (each router's `out` port a memif client of the next
//! process's server socket). Mid-run, with traffic flowing, r2 is killed
//! (SIGKILL) and started again with the same configuration. r1's link
//! watcher must notice its memif client's server gone, pause the port,
//! and reconnect once r2 is back: traffic reaches the sink again within
//! 2 s of r2's `newipd: ready`, r1 never dies, and r1's report counts what
//! it could not send meanwhile as `link-down` (never `tx-full`), with its
//! identity holding and no mbuf lost. Twice: r1 running to completion on
//! one lcore, and r1 pipelined (an RX lcore and a TX lcore: the TX lcore
//! sends to the paused port, and must be waited for too).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// A newipd process, killed (SIGKILL) if still running when dropped, so a
/// failed assertion never leaves a chain behind; its output as lines.
struct Proc {
    child: Child,
    name: &'static str,
    out: Receiver<String>,
    err: Receiver<String>,
    /// Every line read so far (both streams), for failure messages.
    seen: Vec<String>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn spawn(args: &[String], name: &'static str) -> Proc {
        let mut child = Command::new(common::bin())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let out = common::lines(child.stdout.take().unwrap());
        let err = common::lines(child.stderr.take().unwrap());
        Proc { child, name, out, err, seen: Vec::new() }
    }

    /// Take what both streams have said so far.
    fn drain(&mut self) {
        while let Ok(l) = self.err.try_recv() {
            self.seen.push(l);
        }
        while let Ok(l) = self.out.try_recv() {
            self.seen.push(l);
        }
    }

    /// Wait (at most `limit`) for a line, on either stream, containing `needle`.
    fn wait_line(&mut self, needle: &str, limit: Duration) -> bool {
        self.wait_count(needle, 1, limit)
    }

    /// Wait (at most `limit`) until `n` lines so far contain `needle`.
    fn wait_count(&mut self, needle: &str, n: usize, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        loop {
            if self.said(needle) >= n {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            if let Ok(l) = self.err.recv_timeout(Duration::from_millis(5)) {
                self.seen.push(l);
            }
        }
    }

    fn said(&mut self, needle: &str) -> usize {
        self.drain();
        self.seen.iter().filter(|l| l.contains(needle)).count()
    }

    fn log(&mut self) -> String {
        self.drain();
        format!("--- {} ---\n{}", self.name, self.seen.join("\n"))
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGINT, then wait (with a deadline) for a clean exit.
    fn stop(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status();
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < end, "{} did not exit within 30 s of SIGINT", self.name);
            self.drain();
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The router's (rx, tx, dropped) counters of port `port` so far, from
    /// the report SIGUSR1 prints (None if it did not answer within `limit`).
    fn counters(&mut self, port: &str, limit: Duration) -> Option<(u64, u64, u64)> {
        let _ = Command::new("kill").args(["-USR1", &self.child.id().to_string()]).status();
        let end = Instant::now() + limit;
        while let Ok(l) = self.out.recv_timeout(end.saturating_duration_since(Instant::now())) {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.first() == Some(&port) && f.len() >= 4 {
                return Some((f[1].parse().ok()?, f[2].parse().ok()?, f[3].parse().ok()?));
            }
        }
        None
    }
}

/// EAL arguments: no hugepages, no shared files, one lcore free to run on
/// either CPU (four processes share the machine's two), a unique prefix.
fn eal(dir: &Path, who: &str) -> Vec<String> {
    eal_on(dir, who, "--lcores=0@(0-1)")
}

/// The same with another lcore list.
fn eal_on(dir: &Path, who: &str, lcores: &str) -> Vec<String> {
    let tag = dir.file_name().unwrap().to_string_lossy().to_string();
    ["--no-huge", "-m", "256", "--no-shconf", "--no-pci", "--log-level=*:warning", lcores]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("--file-prefix=nit-{tag}-{who}")])
        .collect()
}

fn memif(sock: &Path, role: &str, idx: u32) -> String {
    format!("net_memif{idx},role={role},socket={},socket-abstract=no", sock.display())
}

/// A router: port `in` the memif server on `sin`, port `out` a memif
/// client of `sout`, everything of 10/8 out; `lcores`: its `[lcores]`
/// section, if any.
fn router_toml(sin: &Path, sout: &Path, next_mac: &str, lcores: &str) -> String {
    format!(
        r#"
[settings]
idle_sleep_us = 20              # four processes share two cores
{lcores}

[[port]]
name = "in"
device = "{}"

[[port]]
name = "out"
device = "{}"
peer_mac = "{next_mac}"

[[route]]
prefix = "10.0.0.0/8"
port = "out"
"#,
        memif(sin, "server", 0),
        memif(sout, "client", 1),
    )
}

fn router(dir: &Path, name: &'static str, run: &str, lcores: &str) -> Proc {
    let s = |v: &str| v.to_string();
    let cfg = dir.join(format!("{name}.toml"));
    let report: PathBuf = dir.join(format!("{name}-{run}.json"));
    let args = [
        vec![s("run"), s("--pipeline"), cfg.display().to_string(), s("--report-json"), report.display().to_string(), s("--")],
        eal_on(dir, &format!("{name}-{run}"), lcores),
    ]
    .concat();
    let mut p = Proc::spawn(&args, name);
    assert!(p.wait_line("newipd: ready", Duration::from_secs(30)), "{name} never said ready\n{}", p.log());
    p
}

fn json(p: &Path) -> serde_json::Value {
    let t = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&t).unwrap()
}

/// One chain at a time: two would share the two cores with eight processes.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_memif_client_reconnects_when_its_server_comes_back() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    restart("memif-restart", "", "--lcores=0@(0-1)");
}

#[test]
fn a_pipelined_router_reconnects_its_memif_client_too() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    restart("memif-restart-piped", "[lcores]\nrx = [1]\ntx = [2]\n", "--lcores=0@(0-1),1@(0-1),2@(0-1)");
}

/// The chain, r2 killed and restarted; r1 configured with `r1_lcores`
/// (its `[lcores]` section) on EAL lcores `r1_eal`.
fn restart(name: &str, r1_lcores: &str, r1_eal: &str) {
    let dir = common::tmpdir(name);
    let (s1, s2, s3) = (dir.join("s1.sock"), dir.join("s2.sock"), dir.join("s3.sock"));
    std::fs::write(dir.join("r1.toml"), router_toml(&s1, &s2, "02:00:00:00:02:01", r1_lcores)).unwrap();
    std::fs::write(dir.join("r2.toml"), router_toml(&s2, &s3, "02:00:00:00:03:01", "")).unwrap();
    let s = |v: &str| v.to_string();

    // From the sink backwards: each memif client after its server is up.
    let sink_json = dir.join("sink.json");
    let mut sink = Proc::spawn(
        &[
            vec![s("sink"), s("--port"), memif(&s3, "server", 0), s("--duration"), s("300"), s("--idle-sleep-us"), s("20")],
            vec![s("--report-json"), sink_json.display().to_string(), s("--")],
            eal(&dir, "sink"),
        ]
        .concat(),
        "sink",
    );
    assert!(sink.wait_line("sink: ready", Duration::from_secs(30)), "{}", sink.log());
    let mut r2 = router(&dir, "r2", "a", "--lcores=0@(0-1)");
    let mut r1 = router(&dir, "r1", "a", r1_eal);
    let mut gen = Proc::spawn(
        &[
            vec![s("gen"), s("--live"), s("--kind"), s("ipv4"), s("--port"), memif(&s1, "client", 0)],
            vec![s("--rate"), s("20000"), s("--duration"), s("300"), s("--idle-sleep-us"), s("20"), s("--")],
            eal(&dir, "gen"),
        ]
        .concat(),
        "gen",
    );

    // Traffic flows end to end: r2 has sent a thousand packets to the sink.
    let flowing = common::poll_until(Duration::from_secs(30), || r2.counters("out", Duration::from_millis(500)).filter(|&(_, tx, _)| tx >= 1000));
    assert!(flowing.is_some(), "no traffic through r2\n{}\n{}\n{}", r1.log(), r2.log(), gen.log());

    // r2 dies without a goodbye; r1 must notice and start reconnecting.
    let ups = r1.said("newipd: port out link up");
    r2.child.kill().unwrap();
    r2.child.wait().unwrap();
    drop(r2);
    let s2_text = s2.display().to_string();
    let begun = format!("newipd: port out: memif server gone, reconnecting to {s2_text}");
    assert!(r1.wait_line(&begun, Duration::from_secs(10)), "r1 did not start reconnecting\n{}", r1.log());
    // r2 stays away while r1 keeps running and counting what it cannot
    // send (10,000 packets: half a second of the generator, several retries).
    let counting = common::poll_until(Duration::from_secs(10), || r1.counters("out", Duration::from_millis(500)).filter(|&(_, _, d)| d >= 10_000));
    assert!(counting.is_some(), "r1 did not count what it could not send while r2 was away\n{}", r1.log());
    assert!(r1.alive(), "r1 died while its memif server was away\n{}", r1.log());
    assert!(gen.alive(), "gen died\n{}", gen.log());
    assert_eq!(r1.said("memif reconnected"), 0, "r1 reconnected with no server\n{}", r1.log());

    // r2 comes back, same configuration (its stale socket file is removed).
    let mut r2 = router(&dir, "r2", "b", "--lcores=0@(0-1)");
    let ready = Instant::now();
    let back = common::poll_until(Duration::from_secs(2), || {
        let left = Duration::from_secs(2).saturating_sub(ready.elapsed()).max(Duration::from_millis(50));
        r2.counters("out", left).filter(|&(_, tx, _)| tx > 0)
    });
    let took = ready.elapsed();
    assert!(
        back.is_some() && took <= Duration::from_secs(2),
        "traffic did not reach the sink within 2 s of r2's ready ({took:?}: {back:?})\n{}\n{}",
        r1.log(),
        r2.log()
    );
    assert!(r1.wait_count("newipd: port out link up", ups + 1, Duration::from_secs(5)), "r1 never saw its link up again\n{}", r1.log());
    let done = format!("newipd: port out: memif reconnected to {s2_text}");
    assert!(r1.wait_line(&done, Duration::from_secs(5)), "{}", r1.log());
    assert_eq!(r1.said(&done), 1, "{}", r1.log());
    assert_eq!(r1.said("memif server gone"), 1, "one line when reconnecting begins, none per retry\n{}", r1.log());
    assert_eq!(r1.said("Failed to connect socket"), 0, "the driver's error of each retry stays quiet\n{}", r1.log());
    // No lcore called the port while it was stopped (DPDK's stand-in burst
    // functions of a stopped port say so).
    assert_eq!(r1.said("for not ready port"), 0, "an lcore used the port while it was stopped\n{}", r1.log());
    // And it keeps flowing.
    let more = common::poll_until(Duration::from_secs(10), || r2.counters("out", Duration::from_millis(500)).filter(|&(_, tx, _)| tx >= 2000));
    assert!(more.is_some(), "traffic stopped again\n{}\n{}", r1.log(), r2.log());

    // Stop from the generator down; every process exits cleanly.
    for p in [&mut gen, &mut r1, &mut r2, &mut sink] {
        let st = p.stop();
        if !st.success() {
            let log = p.log();
            panic!("{} exit {st:?}\n{log}", p.name);
        }
    }
    let r = json(&dir.join("r1-a.json"));
    let link_down = common::drops(&r, "link-down");
    assert!(link_down > 0, "r1 counted nothing as link-down while r2 was away: {}", r["drops"]);
    assert_eq!(common::drops(&r, "tx-full"), 0, "what r1 could not send is link-down, not tx-full: {}", r["drops"]);
    assert_eq!(r["identity_holds"], true, "{r}");
    assert_eq!(r["mbufs_in_use_end"], r["mbufs_in_use_start"], "{r}");
    assert_eq!(r["packet_loop_heap_allocations"], 0, "{r}");
    let packet_lcores = r["lcores"].as_array().map_or(0, Vec::len);
    assert_eq!(packet_lcores, if r1_lcores.is_empty() { 1 } else { 2 }, "r1 ran with the lcores asked: {}", r["lcores"]);
    let out = common::port(&r, "out");
    assert!(out["tx"].as_u64().unwrap() > 0, "{out}");
    let r2b = json(&dir.join("r2-b.json"));
    assert!(r2b["tx"].as_u64().unwrap() > 0, "{r2b}");
    let sink = json(&sink_json);
    eprintln!("{name}: r1 link-down {link_down}, r1 tx {}, r2 (second run) tx {}, traffic back {took:?} after r2's ready; sink {}", r["tx"], r2b["tx"], sink);
    let _ = std::fs::remove_dir_all(&dir);
}
