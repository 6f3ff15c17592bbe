//! Operating a running newipd: the Prometheus endpoint scraped over TCP, a
//! DPDK telemetry query answered by dpdk-telemetry.py, `--stats-json` lines
//! and the live log lines, all consistent with each other and with the
//! final report after SIGINT; on one lcore and pipelined on two (RX lcore,
//! ring, TX lcore), where the identity counts what is on the rings.

mod common;

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const PIPELINE: &str = r#"
[[port]]
name = "in"
device = "net_pcap0"
peer_mac = "02:00:00:00:00:99"

[[port]]
name = "out"
device = "net_null0"
peer_mac = "02:00:00:00:00:98"

[[route]]
prefix = "10.0.0.0/8"
port = "out"

[[route]]
prefix = "192.168.0.0/16"
port = "out"
"#;

/// GET /metrics; the samples by `name{labels}`.
fn scrape(addr: &str) -> BTreeMap<String, f64> {
    let mut s = TcpStream::connect(addr).expect("connect to the metrics endpoint");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    let len: usize = head.lines().find_map(|l| l.strip_prefix("Content-Length: ")).unwrap().parse().unwrap();
    assert_eq!(len, body.len());
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse::<f64>().unwrap_or_else(|_| panic!("bad value in {l}")))
        })
        .collect()
}

/// Sum of the samples of one family (all label sets).
fn family(m: &BTreeMap<String, f64>, name: &str) -> f64 {
    m.iter().filter(|(k, _)| k.as_str() == name || k.starts_with(&format!("{name}{{"))).map(|(_, v)| v).sum()
}

/// The pipelined variant of [`PIPELINE`]: RX lcore 1, TX lcore 2.
fn pipelined() -> String {
    format!("[settings]\nidle_sleep_us = 20\n\n[lcores]\nrx = [1]\ntx = [2]\n{PIPELINE}")
}

#[test]
fn metrics_telemetry_and_json_snapshots_agree_with_the_final_report() {
    operate("operating", PIPELINE, &[]);
}

#[test]
fn a_pipelined_run_keeps_the_identity_with_packets_on_rings() {
    let r = operate("operating-piped", &pipelined(), &["--lcores=0@0,1@0,2@1"]);
    assert_eq!(r["lcores"], serde_json::json!([1, 2]));
    let ring = r["stages"].as_array().unwrap().iter().find(|s| s["name"] == "ring").unwrap();
    assert!(ring["vectors"].as_u64().unwrap() > 0, "the TX lcore took packets off the ring");
}

/// Run `pipeline` with every exporter on, check them against each other and
/// the final report (returned). `lcores`: EAL lcore arguments instead of `-l 0`.
fn operate(tag: &str, pipeline: &str, lcores: &[&str]) -> Value {
    let dir = common::tmpdir(tag);
    let pcap = dir.join("in.pcap");
    let g = Command::new(common::bin())
        .args(["gen", "--kind", "newip-plbf", "--packets", "256", "--size", "100", "--out"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(g.status.success(), "{}", common::show(&g));
    std::fs::write(dir.join("p.toml"), pipeline).unwrap();
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let mut eal = common::eal(&name);
    if !lcores.is_empty() {
        let l = eal.iter().position(|a| a == "-l").unwrap();
        eal.splice(l..l + 2, lcores.iter().map(|s| s.to_string()));
    }
    let prefix = eal.iter().find_map(|a| a.strip_prefix("--file-prefix=")).unwrap().to_string();
    let (jsonl, report) = (dir.join("stats.jsonl"), dir.join("report.json"));
    let mut child = Command::new(common::bin())
        .args(["run", "--pipeline"])
        .arg(dir.join("p.toml"))
        .arg("--port")
        .arg(format!("in=net_pcap0,rx_pcap={},infinite_rx=1", pcap.display()))
        .args(["--port", "out=net_null0,no-rx=1", "--duration", "300", "--metrics", "0", "--live", "on", "--stats-interval-ms", "100"])
        .arg("--stats-json")
        .arg(&jsonl)
        .arg("--report-json")
        .arg(&report)
        .arg("--")
        .args(&eal)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn newipd");
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let addr = loop {
        let l = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("no metrics line from newipd");
        lines.push(l.clone());
        if let Some(rest) = l.strip_prefix("newipd: metrics on http://") {
            break rest.trim_end_matches("/metrics").to_string();
        }
    };

    // Scrape until three snapshots with traffic were seen: counters only grow,
    // and every snapshot satisfies the identity on its own numbers.
    let mut scrapes: Vec<BTreeMap<String, f64>> = Vec::new();
    while scrapes.len() < 3 {
        assert!(Instant::now() < deadline, "no traffic in the metrics");
        let m = scrape(&addr);
        let rx_n = m["newipd_rx_packets_total{port=\"in\"}"];
        if rx_n > 0.0 && scrapes.last().is_none_or(|p| p["newipd_uptime_seconds"] < m["newipd_uptime_seconds"]) {
            let (tx_n, dropped, queued, rings) = (
                family(&m, "newipd_tx_packets_total"),
                family(&m, "newipd_dropped_packets_total"),
                family(&m, "newipd_queued_packets"),
                m["newipd_in_rings_packets"],
            );
            assert_eq!(family(&m, "newipd_rx_packets_total") + family(&m, "newipd_created_packets_total"), tx_n + dropped + queued + rings);
            assert_eq!(m["newipd_identity_holds"], 1.0);
            if let Some(p) = scrapes.last() {
                for k in ["newipd_rx_packets_total{port=\"in\"}", "newipd_tx_packets_total{port=\"out\"}", "newipd_stage_packets_total{stage=\"route\"}"] {
                    assert!(m[k] >= p[k], "{k} went backwards");
                }
            }
            assert!(m["newipd_stage_packets_total{stage=\"route\"}"] > 0.0);
            scrapes.push(m);
        } else {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    // A telemetry query through DPDK's own client.
    let tel = loop {
        assert!(Instant::now() < deadline, "telemetry never answered");
        let mut c = Command::new("dpdk-telemetry.py")
            .args(["-f", &prefix])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dpdk-telemetry.py (package dpdk-dev)");
        c.stdin.take().unwrap().write_all(b"/newipd/stats\n/newipd/ports\n").unwrap();
        let out = c.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let answers: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        if answers.len() == 2 && answers[0]["/newipd/stats"]["rx"].as_u64().unwrap_or(0) > 0 {
            break answers;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let st = &tel[0]["/newipd/stats"];
    assert_eq!(st["identity_holds"], 1);
    let t = |k: &str| st[k].as_i64().unwrap();
    assert_eq!(t("rx"), t("tx") + t("dropped") + t("queued") + t("in_rings"), "{st}");
    assert!(tel[1]["/newipd/ports"]["out"]["tx"].as_u64().unwrap() > 0, "{:?}", tel[1]);

    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let status = child.wait().unwrap();
    reader.join().unwrap();
    lines.extend(rx.try_iter());
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "{status:?}\n{}\n{err}", lines.join("\n"));

    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["identity_holds"], true);
    assert_eq!((&r["queued"], &r["in_rings"]), (&Value::from(0), &Value::from(0)));
    assert_eq!(r["packet_loop_heap_allocations"], 0, "the packet loop allocated");
    let last = scrapes.last().unwrap();
    assert!(r["rx"].as_u64().unwrap() as f64 >= last["newipd_rx_packets_total{port=\"in\"}"]);
    let class = r["classes"].as_array().unwrap().iter().find(|k| k["name"] == "contract").expect("deadline class");
    assert_eq!(class["tx"], r["tx"], "every packet carries a precise-LBF contract");
    assert_eq!(class["sojourn"]["count"], r["tx"], "one latency sample per packet sent");
    assert_eq!(class["e2e"]["count"], r["tx"]);
    let route = r["stages"].as_array().unwrap().iter().find(|s| s["name"] == "route").unwrap();
    assert_eq!(route["vectors"], r["rx"]);

    let snaps: Vec<Value> = std::fs::read_to_string(&jsonl).unwrap().lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert!(snaps.len() >= 3, "{} snapshots", snaps.len());
    for (i, s) in snaps.iter().enumerate() {
        assert_eq!(s["seq"], i as u64);
        assert_eq!(s["identity_holds"], true, "{s}");
        let n = |k: &str| s[k].as_i64().unwrap();
        assert_eq!(n("rx") + n("created"), n("tx") + n("dropped") + n("queued") + n("in_rings"), "{s}");
        if i > 0 {
            assert!(n("rx") >= snaps[i - 1]["rx"].as_i64().unwrap());
        }
    }
    let fin = snaps.last().unwrap();
    assert_eq!((&fin["rx"], &fin["tx"], &fin["queued"], &fin["in_rings"]), (&r["rx"], &r["tx"], &Value::from(0), &Value::from(0)));
    assert!(lines.iter().any(|l| l.starts_with("newipd: stats t=")), "no live log lines:\n{}", lines.join("\n"));
    let _ = std::fs::remove_dir_all(&dir);
    r
}

#[test]
fn a_bad_metrics_address_is_refused_by_name() {
    let dir = common::tmpdir("bad-metrics");
    let (out, _) = common::run(&dir, PIPELINE, &["--metrics", "not-an-address", "--duration", "1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--metrics not-an-address"), "{}", common::show(&out));
}
