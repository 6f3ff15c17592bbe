//! Hostile input through net_pcap: every malformed packet is dropped under
//! its own named reason, the process exits 0, and no mbuf leaks.

mod common;
use common::*;
use newipd_tools::gen::{pcap, Malformation};
use newipd_core::wire::build::{Udp4, Udp6};
use rand::{Rng, SeedableRng};

const PIPELINE: &str = r#"
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

[[route]]
prefix = "::/0"
port = "out"
"#;

fn ports(dir: &std::path::Path) -> [String; 2] {
    [
        format!("in=net_pcap0,rx_pcap={}", dir.join("in.pcap").display()),
        format!("out=net_pcap1,tx_pcap={}", dir.join("out.pcap").display()),
    ]
}

#[test]
fn every_malformation_is_counted_under_its_reason() {
    let dir = tmpdir("hostile");
    let (v4, v6) = (Udp4::default(), Udp6::default());
    let mut frames = Vec::new();
    let mut want: std::collections::BTreeMap<&str, u64> = Default::default();
    for (i, m) in Malformation::ALL.iter().enumerate() {
        for _ in 0..(i + 1) {
            frames.push(m.make(&v4, &v6));
            *want.entry(m.reason().name()).or_default() += 1;
        }
    }
    let good = 25;
    for _ in 0..good {
        frames.push(newipd_core::wire::build::udp4(v4.clone()));
    }
    let input: Vec<_> = frames.iter().map(|f| (0u64, f.clone())).collect();
    pcap::write(&dir.join("in.pcap"), &input).unwrap();
    let [a, b] = ports(&dir);
    let (out, report) = run(&dir, PIPELINE, &["--until-idle", "--idle-ms", "300", "--port", &a, "--port", &b]);
    assert!(out.status.success(), "{}", show(&out));
    let r = report.unwrap();
    for (reason, n) in &want {
        assert_eq!(drops(&r, reason), *n, "{reason}\n{}", show(&out));
    }
    let total_bad: u64 = want.values().sum();
    assert_eq!(r["dropped"].as_u64(), Some(total_bad));
    assert_eq!(r["tx"].as_u64(), Some(good));
    assert_eq!(r["rx"].as_u64(), Some(frames.len() as u64));
    assert_eq!(r["identity_holds"], true);
    assert_eq!(r["packet_loop_heap_allocations"], 0, "the packet loop allocated");
    assert_eq!(r["mbufs_in_use_end"], r["mbufs_in_use_start"], "mbuf leak");
    assert_eq!(pcap::read(&dir.join("out.pcap")).unwrap().len() as u64, good);
}

#[test]
fn random_garbage_never_crashes_or_leaks() {
    let dir = tmpdir("garbage");
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
    let mut frames = Vec::new();
    for i in 0..3000 {
        let len = rng.gen_range(1..200);
        let mut f: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        // Steer a share towards the interesting EtherTypes so parsing goes deep.
        if len >= 14 {
            let et: [u8; 2] = match i % 4 {
                0 => [0x08, 0x00],
                1 => [0x86, 0xdd],
                2 => [0x81, 0x00],
                _ => [f[12], f[13]],
            };
            f[12..14].copy_from_slice(&et);
            if i % 4 == 0 && len > 14 {
                f[14] = 0x45;
            }
        }
        frames.push((0u64, f));
    }
    pcap::write(&dir.join("in.pcap"), &frames).unwrap();
    let [a, b] = ports(&dir);
    let (out, report) = run(&dir, PIPELINE, &["--until-idle", "--idle-ms", "300", "--port", &a, "--port", &b]);
    assert!(out.status.success(), "{}", show(&out));
    let r = report.unwrap();
    assert_eq!(r["rx"].as_u64(), Some(3000));
    assert_eq!(r["identity_holds"], true);
    assert!(r["dropped"].as_u64().unwrap() > 2000, "garbage should mostly be dropped: {r}");
    assert_eq!(r["packet_loop_heap_allocations"], 0, "the packet loop allocated");
    assert_eq!(r["mbufs_in_use_end"], r["mbufs_in_use_start"], "mbuf leak");
}
