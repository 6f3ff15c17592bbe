//! `newipd gen --live` and `newipd sink` against net_pcap ports: what the
//! generator sends is read back byte by byte, and the sink's loss,
//! duplicate and reorder counts are checked on a capture edited by hand.

mod common;

use newipd_tools::gen::probe::Probe;
use newipd_tools::gen::payload::frame_payload;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

fn run(args: &[String]) -> std::process::Output {
    Command::new(common::bin()).args(args).output().expect("spawn newipd")
}

fn s(v: &str) -> String {
    v.to_string()
}

/// Independent UDP-over-IPv4 checksum check (pseudo-header + UDP).
fn udp4_ok(f: &[u8]) -> bool {
    let ip = &f[14..];
    let ihl = (ip[0] & 0x0f) as usize * 4;
    let udp_len = u16::from_be_bytes([ip[ihl + 4], ip[ihl + 5]]) as usize;
    let mut data = Vec::new();
    data.extend_from_slice(&ip[12..20]);
    data.extend_from_slice(&[0, 17]);
    data.extend_from_slice(&(udp_len as u16).to_be_bytes());
    data.extend_from_slice(&ip[ihl..ihl + udp_len]);
    common::ipv4_checksum_ok(&data)
}

fn gen_to_pcap(dir: &Path) -> (Value, Vec<Vec<u8>>) {
    let out = dir.join("live.pcap");
    let json = dir.join("gen.json");
    let o = run(&[
        vec![s("gen"), s("--live"), format!("--port=net_pcap0,tx_pcap={}", out.display())],
        vec![s("--mix"), format!("{}/pipelines/mixes/deadlines.toml", env!("CARGO_MANIFEST_DIR"))],
        vec![s("--packets"), s("4000"), s("--rate"), s("400000"), s("--templates"), s("512"), s("--malformed"), s("0")],
        vec![s("--report-json"), json.display().to_string(), s("--")],
        common::eal("live-gen"),
    ]
    .concat());
    assert!(o.status.success(), "{}", common::show(&o));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (report, newipd_tools::gen::pcap::read(&out).unwrap())
}

#[test]
fn generator_sends_stamped_templates_in_sequence() {
    let dir = common::tmpdir("live-gen");
    let (report, frames) = gen_to_pcap(&dir);
    assert_eq!(report["sent"], 4000);
    assert_eq!(report["loop_heap_allocations"], 0);
    assert_eq!(frames.len(), 4000);
    let classes = report["classes"].as_array().unwrap();
    let mut per_class = vec![0u64; classes.len()];
    let mut next_seq: HashMap<u16, u64> = HashMap::new();
    let mut last_tx = 0;
    for f in &frames {
        let st = Probe::read(frame_payload(f).expect("payload")).expect("a probe in every frame");
        // Per stream, sequence numbers count up from 0 without a gap.
        let want = next_seq.entry(st.stream).or_insert(0);
        assert_eq!(st.seq, *want, "stream {}", st.stream);
        *want += 1;
        assert!(st.tx_ns >= last_tx, "TX times never go back");
        last_tx = st.tx_ns;
        let c = &classes[st.set as usize];
        assert_eq!(st.window.min_ns as u64, c["window"]["min_ns"].as_u64().unwrap());
        assert_eq!(st.window.max_ns as u64, c["window"]["max_ns"].as_u64().unwrap());
        assert!(f.len() >= c["min_size"].as_u64().unwrap() as usize);
        per_class[st.set as usize] += 1;
        if f[12..14] == [0x08, 0x00] {
            assert!(common::ipv4_checksum_ok(&f[14..34]));
            assert!(udp4_ok(f), "UDP checksum after restamping");
        }
    }
    for (i, c) in classes.iter().enumerate() {
        assert_eq!(c["sent"].as_u64().unwrap(), per_class[i], "class {i}");
    }
    // deadlines.toml: 60-byte IPv4 frames grew to fit the 32-byte probe.
    assert!(classes.iter().any(|c| c["label"] == "ipv4" && c["min_size"] == 74));
    assert!(next_seq.len() > 7 && next_seq.len() <= report["streams"].as_u64().unwrap() as usize);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sink_counts_loss_duplicates_and_reordering() {
    let dir = common::tmpdir("live-sink");
    let (_, mut frames) = gen_to_pcap(&dir);
    // Pick a stream with at least 10 packets; lose its #3, duplicate its #5,
    // and swap its #7 and #8.
    let stamp = |f: &Vec<u8>| Probe::read(frame_payload(f).unwrap()).unwrap();
    let mut by_stream: HashMap<u16, Vec<usize>> = HashMap::new();
    for (i, f) in frames.iter().enumerate() {
        by_stream.entry(stamp(f).stream).or_default().push(i);
    }
    let (&stream, idx) = by_stream.iter().filter(|(_, v)| v.len() >= 10).min_by_key(|(s, _)| **s).unwrap();
    let class = stamp(&frames[idx[0]]).set;
    let in_class = frames.iter().filter(|f| stamp(f).set == class).count() as u64;
    frames.swap(idx[7], idx[8]);
    let dup = frames[idx[5]].clone();
    frames.insert(idx[5] + 1, dup);
    frames.remove(idx[3]);
    let edited = dir.join("edited.pcap");
    let ts: Vec<(u64, Vec<u8>)> = frames.into_iter().enumerate().map(|(i, f)| (i as u64 * 1000, f)).collect();
    newipd_tools::gen::pcap::write(&edited, &ts).unwrap();

    let json = dir.join("sink.json");
    let o = run(&[
        vec![s("sink"), format!("--port=net_pcap0,rx_pcap={}", edited.display()), s("--until-idle"), s("--idle-ms"), s("300")],
        vec![s("--duration"), s("30"), s("--report-json"), json.display().to_string(), s("--")],
        common::eal("live-sink"),
    ]
    .concat());
    assert!(o.status.success(), "{}", common::show(&o));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r["packets"], 4000);
    assert_eq!(r["unstamped"], 0);
    assert_eq!(r["clock_errors"], 0);
    assert_eq!(r["loop_heap_allocations"], 0);
    for c in r["classes"].as_array().unwrap() {
        let want = if c["class"] == class as u64 { (1, 1, 1) } else { (0, 0, 0) };
        let got = (c["lost"].as_u64().unwrap(), c["duplicates"].as_u64().unwrap(), c["reordered"].as_u64().unwrap());
        assert_eq!(got, want, "class {} (edited stream {stream} in class {class}): {c}", c["class"]);
        if c["class"] == class as u64 {
            assert_eq!(c["packets"].as_u64().unwrap(), in_class);
            assert_eq!(c["unique"].as_u64().unwrap(), in_class - 1);
        }
        // Received after they were sent, on the same clock.
        assert!(c["latency_ns"]["min"].as_u64().unwrap() > 0);
    }
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("p99.9_us") && text.contains("receive loop heap allocations: 0"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn live_flags_are_checked() {
    let o = run(&[s("gen"), s("--live")]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--port"), "{}", common::show(&o));
    let o = run(&[s("gen"), s("--live"), s("--port"), s("net_null0"), s("--templates"), s("0")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--templates"), "{}", common::show(&o));
    let o = run(&[s("gen"), s("--out"), s("x.pcap"), s("--rate-bps"), s("1000")]);
    assert!(!o.status.success(), "--rate-bps needs --live");
    let o = run(&[s("sink"), s("--port"), s("net_null0"), s("--burst"), s("65")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--burst"), "{}", common::show(&o));
}

/// `gen --live` and `sink` survive SIGUSR1 (and SIGUSR2), and SIGHUP ends
/// them as SIGINT does: exit 0, their report written.
#[test]
fn the_traffic_tools_stop_gracefully_on_sighup_and_ignore_sigusr1() {
    use std::process::Stdio;
    let dir = common::tmpdir("live-signals");
    let cases = [
        ("sink", vec![s("sink"), s("--port=net_null0,no-rx=1"), s("--duration"), s("60")]),
        ("gen", vec![s("gen"), s("--live"), s("--port=net_null0"), s("--kind"), s("ipv4"), s("--rate"), s("1000"), s("--duration"), s("60")]),
    ];
    for (name, args) in cases {
        let json = dir.join(format!("{name}.json"));
        let mut child = Command::new(common::bin())
            .args(args)
            .arg("--report-json")
            .arg(&json)
            .arg("--")
            .args(common::eal(&format!("live-sig-{name}")))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let out = common::lines(child.stdout.take().unwrap());
        common::wait_for_line(&out, &format!("{name}: ready"), 30);
        for sig in ["-USR1", "-USR2", "-HUP"] {
            common::sh(&["kill", sig, &child.id().to_string()]);
        }
        let status = child.wait().unwrap();
        assert!(status.success(), "{name}: {status:?}");
        assert!(json.exists(), "{name}: no report after SIGHUP");
    }
}
