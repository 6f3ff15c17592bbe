//! Pipelined lcores against run to completion, and stopping under traffic.
//!
//! * The same pcap through one lcore (run to completion), through an RX
//!   lcore and a TX lcore joined by a ring, and through two RX lcores (one
//!   RX queue each) and two TX lcores gives the same set of output packets
//!   on every port and exactly the same counters. Traffic: IPv4,
//!   IPv6 with VLAN tags, New IP with LBF and max-delay contracts (metadata
//!   carried across the ring in the mbuf), pings, broadcasts (copies),
//!   unknown TLVs, malformed packets and packets without a route. The only
//!   bytes that may differ are the contract fields that record time spent in
//!   newipd; they are masked before comparing.
//! * SIGTERM while net_pcap replays a file forever: newipd stops RX, drains,
//!   prints the report, exits 0 with the identity intact and nothing queued
//!   or in rings — in both modes. The signal comes once forwarded packets
//!   have reached the output file.

mod common;
use common::*;
use newipd_tools::gen::pcap;
use newipd_core::wire::{ether, newip};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

const PORTS: &str = r#"
[[port]]
name = "a"
device = "net_pcap0"
peer_mac = "02:00:00:00:00:0a"
addresses = ["16bit:0x0a0a"]
rx_queues = 2

[[port]]
name = "b"
device = "net_pcap1"
peer_mac = "02:00:00:00:00:0b"

[[port]]
name = "c"
device = "net_pcap2"
peer_mac = "02:00:00:00:00:0c"

[[route]]
prefix = "10.0.0.0/16"
port = "b"

[[route]]
prefix = "10.1.0.0/16"
port = "c"

[[route]]
prefix = "2001:db8:1::/48"
port = "c"

[[route]]
prefix = "16bit:0x1234"
port = "b"
"#;

/// Budgets of seconds: nothing can be late, so the counters are exact.
const MIX: &str = r#"
seed = 5
packets = 3000
malformed = 0.03
dst_mac = "02:00:00:00:00:01"

[[flow]]
kind = "ipv4"
dst = "10.0.0.1"
count = 16
size = 60

[[flow]]
kind = "ipv4"
dst = "10.1.0.1"
count = 16
size = [60, 300]

[[flow]]
kind = "ipv4"
dst = "172.16.0.1"
count = 4
size = 60

[[flow]]
kind = "ipv6"
src = "2001:db8::1"
dst = "2001:db8:1::1"
count = 8
size = [80, 200]
vlan = 100

[[flow]]
kind = "newip"
src = "192.168.0.1"
dst = "10.0.0.7"
count = 8
size = 64
contracts = [ { type = "lbf", min_ms = 0, max_ms = 10000 } ]

[[flow]]
kind = "newip"
src = "8bit:5"
dst = "16bit:0x1234"
count = 4
size = 64
contracts = [ { type = "max-delay", max_ms = 10000 }, { type = "unknown-tlv", ty = 0x8100, len = 4 } ]

[[flow]]
kind = "newip"
src = "16bit:4660"
dst = "16bit:0x0a0a"
size = 64
contracts = [ { type = "ping" } ]

[[flow]]
kind = "newip"
src = "8bit:7"
dst = "8bit:0xff"
cast = "broadcast"
size = 60
"#;

fn gen_mix(dir: &Path) -> std::path::PathBuf {
    let mix = dir.join("mix.toml");
    std::fs::write(&mix, MIX).unwrap();
    let input = dir.join("in.pcap");
    let out = Command::new(bin()).args(["gen", "--mix"]).arg(&mix).arg("--out").arg(&input).output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    input
}

fn devices(dir: &Path, tag: &str, input: &Path) -> Vec<String> {
    let o = |p: &str| dir.join(format!("{tag}-{p}.pcap")).display().to_string();
    vec![
        // Two RX queues, one per file (net_pcap has no RSS: each queue reads its own).
        format!("a=net_pcap0,rx_pcap={i},rx_pcap={i},tx_pcap={}", o("a"), i = input.display()),
        format!("b=net_pcap1,tx_pcap={}", o("b")),
        format!("c=net_pcap2,tx_pcap={}", o("c")),
    ]
}

/// Run `newipd run` with `eal` lcore arguments; returns the parsed report.
fn run_with(dir: &Path, tag: &str, pipeline: &str, ports: &[String], eal: &[&str]) -> serde_json::Value {
    let p = dir.join(format!("{tag}.toml"));
    std::fs::write(&p, pipeline).unwrap();
    let json = dir.join(format!("{tag}.json"));
    let mut cmd = Command::new(bin());
    cmd.arg("run").arg("--pipeline").arg(&p).arg("--until-idle").arg("--report-json").arg(&json);
    for d in ports {
        cmd.arg("--port").arg(d);
    }
    cmd.arg("--").args(["--no-huge", "-m", "256", "--no-shconf", "--no-pci", "--log-level=*:warning"]).args(eal);
    cmd.arg(format!("--file-prefix=nit-mc-{tag}-{}", std::process::id()));
    let out = cmd.output().expect("spawn newipd");
    assert!(out.status.success(), "{}", show(&out));
    serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap()
}

/// The frame with the contract fields that record time spent here zeroed
/// (LBF experienced delay, max-delay delay_exp).
fn mask_time(mut f: Vec<u8>) -> Vec<u8> {
    let Ok(l2) = ether::parse(&f) else { return f };
    if l2.ethertype != newip::ETHERTYPE_NEWIP {
        return f;
    }
    let ip = &mut f[l2.l3..];
    let Ok(h) = newip::parse(ip) else { return f };
    if let Some(off) = h.contracts.lbf {
        ip[off as usize + 6..off as usize + 8].fill(0);
    }
    if let Some(off) = h.contracts.max_delay {
        ip[off as usize + 4..off as usize + 6].fill(0);
    }
    f
}

/// Output frames of one port as a multiset.
fn frames(dir: &Path, tag: &str, port: &str) -> BTreeMap<Vec<u8>, usize> {
    let mut m = BTreeMap::new();
    for f in pcap::read(&dir.join(format!("{tag}-{port}.pcap"))).unwrap() {
        *m.entry(mask_time(f)).or_insert(0) += 1;
    }
    m
}

fn assert_clean(r: &serde_json::Value) {
    assert_eq!(r["identity_holds"], true, "{r:#}");
    assert_eq!((r["queued"].as_u64(), r["in_rings"].as_i64()), (Some(0), Some(0)), "{r:#}");
    assert_eq!(r["mbufs_in_use_end"], r["mbufs_in_use_start"], "mbuf leak: {r:#}");
    assert_eq!(r["packet_loop_heap_allocations"], 0, "{r:#}");
}

#[test]
fn pipelined_and_run_to_completion_agree() {
    let dir = tmpdir("mc-agree");
    let input = gen_mix(&dir);
    let rtc = run_with(&dir, "rtc", PORTS, &devices(&dir, "rtc", &input), &["-l", "0"]);
    // RX lcore 1 shares CPU 0 with the main lcore, TX lcore 2 has CPU 1; both
    // back off when idle. Rings hold the whole input: no ring-full drops.
    let piped_conf = format!("[settings]\nidle_sleep_us = 20\nring_size = 8192\n\n[lcores]\nrx = [1]\ntx = [2]\n{PORTS}");
    let piped = run_with(&dir, "piped", &piped_conf, &devices(&dir, "piped", &input), &["--lcores=0@0,1@0,2@1"]);
    assert_eq!(piped["lcores"], serde_json::json!([1, 2]));
    // Two RX lcores (one queue each) and two TX lcores (ports a, c on one, b on the other).
    // Each of its four rings carries at most one queue's 3000 packets.
    let wide_conf = piped_conf.replace("rx = [1]\ntx = [2]", "rx = [1, 3]\ntx = [2, 4]").replace("ring_size = 8192", "ring_size = 4096");
    let wide = run_with(&dir, "wide", &wide_conf, &devices(&dir, "wide", &input), &["--lcores=0@0,1@0,2@1,3@1,4@0"]);
    assert_eq!(wide["lcores"], serde_json::json!([1, 2, 3, 4]));
    for r in [&rtc, &piped, &wide] {
        assert_clean(r);
        assert_eq!(r["rx"], 6000);
        for k in ["no-route", "malformed-ethernet"] {
            assert!(drops(r, k) > 0, "the mix exercises {k}: {r:#}");
        }
        for k in ["broadcast-copies", "newip-ping-answered", "newip-unknown-tlv-skipped"] {
            assert!(r["events"][k].as_u64().unwrap_or(0) > 0, "the mix exercises {k}: {r:#}");
        }
    }
    for (tag, other) in [("piped", &piped), ("wide", &wide)] {
        for k in ["rx", "tx", "dropped", "created", "drops", "events"] {
            assert_eq!(rtc[k], other[k], "{tag}: {k} differs");
        }
        for name in ["a", "b", "c"] {
            for k in ["rx", "rx_bytes", "tx", "tx_bytes", "drops", "events"] {
                assert_eq!(port(&rtc, name)[k], port(other, name)[k], "{tag}: port {name} {k} differs");
            }
            let (x, y) = (frames(&dir, "rtc", name), frames(&dir, tag, name));
            assert_eq!(x.values().sum::<usize>() as u64, port(&rtc, name)["tx"].as_u64().unwrap());
            assert!(x == y, "{tag}: port {name}: different output packets ({} vs {} distinct)", x.len(), y.len());
        }
    }
    // LBF metadata crossed the ring: fib_tohops was decremented at transmit
    // (and the frames equal run to completion's, checked above).
    let lbf_out = frames(&dir, "piped", "b").into_keys().filter(|f| f.get(12..14) == Some(&[0x88, 0xb6][..])).count();
    assert!(lbf_out > 0, "New IP frames forwarded on b");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Start newipd on an endless input, wait for it to be ready, SIGTERM it.
fn sigterm_under_traffic(tag: &str, pipeline: &str, eal: &[&str]) -> (std::process::Output, serde_json::Value) {
    let dir = tmpdir(tag);
    let input = dir.join("in.pcap");
    let out = Command::new(bin()).args(["gen", "--kind", "mix", "--packets", "512", "--out"]).arg(&input).output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let p = dir.join("p.toml");
    std::fs::write(&p, pipeline).unwrap();
    let json = dir.join("r.json");
    let mut child = Command::new(bin())
        .arg("run")
        .arg("--pipeline")
        .arg(&p)
        .arg("--report-json")
        .arg(&json)
        .arg("--port")
        .arg(format!("a=net_pcap0,rx_pcap={},infinite_rx=1", input.display()))
        .arg("--port")
        .arg(format!("b=net_pcap1,tx_pcap={}", dir.join("b.pcap").display()))
        .arg("--port")
        .arg("c=net_null1")
        .arg("--")
        .args(["--no-huge", "-m", "256", "--no-shconf", "--no-pci", "--log-level=*:warning"])
        .args(eal)
        .arg(format!("--file-prefix=nit-mc-{tag}-{}", std::process::id()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Packets flow from the moment the loop is ready (the input never ends).
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap() > 0 {
        seen += &line;
        if line.contains("newipd: ready:") {
            break;
        }
        line.clear();
    }
    assert!(seen.contains("ready:"), "never ready:\n{seen}");
    // Traffic is flowing once forwarded packets reach b's file (net_pcap
    // flushes every burst): poll for it, with a generous deadline.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::metadata(dir.join("b.pcap")).map_or(0, |m| m.len()) < 24 + 10 * 60 {
        assert!(std::time::Instant::now() < deadline, "no packet forwarded within 60 s");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let kill = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(kill.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let mut out = child.wait_with_output().unwrap();
    out.stdout = (seen + &rest).into_bytes();
    let report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap_or_else(|_| panic!("no report\n{}", show(&out)))).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (out, report)
}

#[test]
fn sigterm_during_traffic_exits_zero_with_nothing_left() {
    let piped = format!("[settings]\nidle_sleep_us = 20\n\n[lcores]\nrx = [1]\ntx = [2]\n{PORTS}");
    for (tag, conf, eal) in [
        ("mc-term-rtc", PORTS.to_string(), &["-l", "0-1"][..]),
        ("mc-term-piped", piped, &["--lcores=0@0,1@0,2@1"][..]),
    ] {
        let (out, r) = sigterm_under_traffic(tag, &conf, eal);
        assert!(out.status.success(), "{tag}: {}", show(&out));
        assert!(r["rx"].as_u64().unwrap() > 0, "{tag}: traffic flowed: {r:#}");
        assert_clean(&r);
        assert!(String::from_utf8_lossy(&out.stdout).contains("(holds)"), "{tag}: final report printed");
    }
}
