//! Helpers for integration tests: each test spawns the built `newipd` binary
//! with its own EAL instance (--no-huge, --no-shconf, a unique file prefix).
#![allow(dead_code)]

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
