//! Golden test through real net_pcap vdevs: what newipd writes is exactly the
//! input with next-hop/port MACs, TTL - 1 (hop limit - 1) and a correct IPv4
//! checksum, in order, on the right port; the report's counters match.

mod common;
use common::*;
use newipd_tools::gen::pcap;
use newipd_core::wire::build::{self, Udp4, Udp6};

const PIPELINE: &str = r#"
[[port]]
name = "in"
device = "net_pcap0"
peer_mac = "02:00:00:00:0a:0a"

[[port]]
name = "out"
device = "net_pcap1"

[[port]]
name = "v6"
device = "net_pcap2"

[[route]]
prefix = "10.0.0.0/8"
port = "out"
next_hop_mac = "02:00:00:00:0b:0b"

[[route]]
prefix = "10.9.0.0/16"
port = "out"
next_hop_mac = "02:00:00:00:0c:0c"

[[route]]
prefix = "192.168.0.0/16"
port = "in"

[[route]]
prefix = "2001:db8:1::/48"
port = "v6"
next_hop_mac = "02:00:00:00:0d:0d"
"#;

fn parse_mac(s: &str) -> [u8; 6] {
    newipd_core::wire::ether::parse_mac(s).unwrap()
}

/// IPv4 with 4 bytes of options (IHL 6), checksum fixed up by hand.
fn with_options(dst: u32) -> Vec<u8> {
    let f = build::udp4(Udp4 { dst, frame_len: 80, ..Default::default() });
    let mut g = f[..34].to_vec();
    g.extend_from_slice(&[1, 1, 1, 0]); // NOP NOP NOP EOL
    g.extend_from_slice(&f[34..]);
    g[14] = 0x46;
    let tl = (g.len() - 14) as u16;
    g[16..18].copy_from_slice(&tl.to_be_bytes());
    g[24] = 0;
    g[25] = 0;
    let mut s: u32 = 0;
    for c in g[14..38].chunks(2) {
        s += u32::from(c[0]) << 8 | u32::from(c[1]);
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    let c = !(s as u16);
    g[24..26].copy_from_slice(&c.to_be_bytes());
    g
}

#[test]
fn forwards_byte_exact_to_the_right_ports() {
    let dir = tmpdir("golden");
    let mut frames = Vec::new();
    for round in 0..3u16 {
        frames.push(build::udp4(Udp4 { dst: 0x0a01_0203, ident: round, ttl: 64, ..Default::default() }));
        frames.push(build::udp4(Udp4 { dst: 0x0a09_0909, vlan: Some(42), ttl: 2, ident: round, ..Default::default() }));
        frames.push(build::udp6(Udp6 { dst: (0x2001_0db8_0001u128 << 80) | 5, hop_limit: 64, ..Default::default() }));
        frames.push(build::udp4(Udp4 { dst: 0xc0a8_0505, ident: round, ..Default::default() }));
        frames.push(build::udp4(Udp4 { dst: 0xac10_0001, ident: round, ..Default::default() })); // no route
        frames.push(with_options(0x0a02_0202));
        frames.push(build::udp4(Udp4 { dst: 0x0a03_0303, frame_len: 1514, tos: 0xb8, ident: round, ..Default::default() }));
    }
    let input: Vec<(u64, Vec<u8>)> = frames.iter().enumerate().map(|(i, f)| (i as u64 * 1000, f.clone())).collect();
    pcap::write(&dir.join("in.pcap"), &input).unwrap();
    let d = |f: &str| dir.join(f).display().to_string();
    let ports = [
        format!("in=net_pcap0,rx_pcap={},tx_pcap={}", d("in.pcap"), d("in-out.pcap")),
        format!("out=net_pcap1,tx_pcap={}", d("out.pcap")),
        format!("v6=net_pcap2,tx_pcap={}", d("v6.pcap")),
    ];
    let mut flags = vec!["--until-idle", "--idle-ms", "300"];
    for p in &ports {
        flags.push("--port");
        flags.push(p);
    }
    let (out, report) = run(&dir, PIPELINE, &flags);
    assert!(out.status.success(), "{}", show(&out));
    let r = report.expect("report");

    // The model, written independently of the library's rewrite code.
    let mac_of = |port: &str| parse_mac(port_of(&r, port)["mac"].as_str().unwrap());
    let mut expect: std::collections::HashMap<&str, Vec<Vec<u8>>> = Default::default();
    for f in &frames {
        let mut g = f.clone();
        let l3 = if g[12..14] == [0x81, 0x00] { 18 } else { 14 };
        let (port, nh) = if g[l3] >> 4 == 4 {
            let dst = u32::from_be_bytes(g[l3 + 16..l3 + 20].try_into().unwrap());
            let route = if dst >> 16 == 0x0a09 {
                ("out", "02:00:00:00:0c:0c")
            } else if dst >> 24 == 10 {
                ("out", "02:00:00:00:0b:0b")
            } else if dst >> 16 == 0xc0a8 {
                ("in", "02:00:00:00:0a:0a")
            } else {
                continue;
            };
            g[l3 + 8] -= 1;
            let ihl = (g[l3] & 15) as usize * 4;
            g[l3 + 10] = 0;
            g[l3 + 11] = 0;
            let mut s: u32 = 0;
            for c in g[l3..l3 + ihl].chunks(2) {
                s += u32::from(c[0]) << 8 | u32::from(c[1]);
            }
            while s > 0xffff {
                s = (s & 0xffff) + (s >> 16);
            }
            g[l3 + 10..l3 + 12].copy_from_slice(&(!(s as u16)).to_be_bytes());
            route
        } else {
            g[l3 + 7] -= 1;
            ("v6", "02:00:00:00:0d:0d")
        };
        g[..6].copy_from_slice(&parse_mac(nh));
        g[6..12].copy_from_slice(&mac_of(port));
        expect.entry(port).or_default().push(g);
    }
    for (port, file) in [("out", "out.pcap"), ("v6", "v6.pcap"), ("in", "in-out.pcap")] {
        let got = pcap::read(&dir.join(file)).unwrap();
        let want = expect.remove(port).unwrap_or_default();
        assert_eq!(got.len(), want.len(), "packets on {port}");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "packet {i} on {port}");
            if g[12..14] == [0x08, 0x00] {
                assert!(ipv4_checksum_ok(&g[14..14 + (g[14] & 15) as usize * 4]));
            }
        }
        assert_eq!(port_of(&r, port)["tx"].as_u64().unwrap(), want.len() as u64, "{port} tx counter");
    }
    assert_eq!(r["rx"].as_u64(), Some(frames.len() as u64));
    assert_eq!(port_of(&r, "in")["rx"].as_u64(), Some(frames.len() as u64));
    assert_eq!(drops(&r, "no-route"), 3);
    assert_eq!(r["dropped"].as_u64(), Some(3));
    assert_eq!(r["tx"].as_u64(), Some(frames.len() as u64 - 3));
    assert_eq!(r["identity_holds"], true);
    assert_eq!(r["packet_loop_heap_allocations"], 0, "the packet loop allocated");
    assert_eq!(r["mbufs_in_use_end"], r["mbufs_in_use_start"]);
}

fn port_of<'a>(r: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    port(r, name)
}

#[test]
fn packets_limit_stops_exactly() {
    let dir = tmpdir("limit");
    let mix = newipd_tools::gen::Mix { packets: 500, ..Default::default() }.generate();
    pcap::write(&dir.join("in.pcap"), &mix.frames).unwrap();
    let d = |f: &str| dir.join(f).display().to_string();
    let p0 = format!("in=net_pcap0,rx_pcap={},infinite_rx=1", d("in.pcap"));
    let p1 = format!("out=net_pcap1,tx_pcap={}", d("out.pcap"));
    let p2 = format!("v6=net_pcap2,tx_pcap={}", d("v6.pcap"));
    let pipeline = PIPELINE.replace("[[port]]\nname = \"in\"", "[settings]\nmbufs = 4095\n\n[[port]]\nname = \"in\"");
    let (out, report) = run(&dir, &pipeline, &["--packets", "12345", "--port", &p0, "--port", &p1, "--port", &p2]);
    assert!(out.status.success(), "{}", show(&out));
    let r = report.unwrap();
    assert_eq!(r["rx"].as_u64(), Some(12345));
    assert_eq!(r["tx"].as_u64(), Some(12345));
    assert_eq!(pcap::read(&dir.join("out.pcap")).unwrap().len(), 12345);
}
