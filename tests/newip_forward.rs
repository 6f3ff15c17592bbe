//! New IP forwarding through real net_pcap vdevs: every destination address
//! type (and asymmetric source/destination), each contract's field updates
//! and drops, pings to newipd answered, unknown TLVs skipped and counted,
//! broadcast flooded, the IPv6 hop-by-hop latency option, malformed New IP
//! counted by reason, and no mbuf leaked.

mod common;
use common::*;
use newipd_tools::gen::pcap;
use newipd_core::wire::newip::build::{build_ipv6_hbh, ethernet_frame, Address, ContractDesc, Ipv6HbhDesc, PacketDesc};
use newipd_core::wire::newip::{self as nip, Cast, ContractRef, PreciseLbf};
use std::collections::HashMap;

const PIPELINE: &str = r#"
[[port]]
name = "in"
device = "net_pcap0"
peer_mac = "02:00:00:00:0a:0a"
addresses = ["8bit:1", "10.0.0.1", "flex:0a0001"]

[[port]]
name = "a"
device = "net_pcap1"
peer_mac = "02:00:00:00:0b:0b"
link_delay_ns = 1000

[[port]]
name = "b"
device = "net_pcap2"
peer_mac = "02:00:00:00:0c:0c"

[[route]]
prefix = "10.1.0.0/16"
port = "a"
to_hops = 2
to_delay_ns = 100000

[[route]]
prefix = "2001:db8:1::/48"
port = "b"

[[route]]
prefix = "8bit:2"
port = "a"

[[route]]
prefix = "16bit:0x0102"
port = "b"

[[route]]
prefix = "flex:0a/8"
port = "a"
to_hops = 4
to_delay_ns = 400000

[[route]]
prefix = "flex:0a02/16"
port = "b"
"#;

const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x77];

fn frame(d: PacketDesc, tag: u16) -> Vec<u8> {
    let mut payload = b"pkt-".to_vec();
    payload.extend_from_slice(&tag.to_be_bytes());
    payload.extend_from_slice(&[0xab; 24]);
    ethernet_frame([2, 0, 0, 0, 0, 1], SRC_MAC, nip::ETHERTYPE_NEWIP, None, &d.payload(payload).build().unwrap())
}

fn tag_of(f: &[u8]) -> Option<u16> {
    let w = f.windows(4).position(|w| w == b"pkt-")?;
    Some(u16::from_be_bytes([f[w + 4], f[w + 5]]))
}

fn a(s: &str) -> Address {
    match newipd_core::fib::Prefix::parse(s).unwrap() {
        newipd_core::fib::Prefix::V4 { addr, .. } => Address::Ipv4(addr.to_be_bytes()),
        newipd_core::fib::Prefix::V6 { addr, .. } => Address::Ipv6(addr.to_be_bytes()),
        newipd_core::fib::Prefix::Bits8(x) => Address::Bits8(x),
        newipd_core::fib::Prefix::Bits16(x) => Address::Bits16(x),
        newipd_core::fib::Prefix::Flex { bytes, bits } => Address::Flex(bytes[..bits as usize / 8].to_vec()),
    }
}

fn plbf(min_ns: u32, max_ns: u32, experienced_ns: u32, flags: u16) -> PreciseLbf {
    PreciseLbf { min_ns, max_ns, experienced_ns, hops: 0, flags }
}

/// Contract of `f` (a frame) at the index of the contract list, decoded.
fn contracts(f: &[u8]) -> Vec<ContractRef> {
    let b = &f[14..];
    let h = nip::parse(b).expect("output parses");
    nip::contracts(b, &h).map(|c| c.unwrap()).collect()
}

#[test]
fn newip_forwarding_end_to_end() {
    let dir = tmpdir("newip");
    let src = a("192.168.1.1");
    let mut f = Vec::new();
    // 0..=5: one per destination type, asymmetric sources.
    f.push(frame(PacketDesc::new(src.clone(), a("10.1.2.3")), 0));
    f.push(frame(PacketDesc::new(a("16bit:7"), a("2001:db8:1::9")), 1));
    f.push(frame(PacketDesc::new(a("16bit:0x0fff"), a("8bit:2")), 2));
    f.push(frame(PacketDesc::new(a("flex:0b0c0d0e"), a("16bit:0x0102")), 3));
    f.push(frame(PacketDesc::new(a("8bit:9"), a("flex:0a0203")), 4));
    f.push(frame(PacketDesc::new(a("2001:db8::1"), a("flex:0a0903")), 5));
    // 6: no route.
    f.push(frame(PacketDesc::new(src.clone(), a("8bit:99")), 6));
    // 7, 8: max delay, kept and refused.
    f.push(frame(PacketDesc::new(src.clone(), a("8bit:2")).contract(ContractDesc::MaxDelay { max_allowed_delay: 10, delay_exp: 3 }), 7));
    f.push(frame(PacketDesc::new(src.clone(), a("8bit:2")).contract(ContractDesc::MaxDelay { max_allowed_delay: 10, delay_exp: 11 }), 8));
    // 9, 10, 11: LBF kept, no hops, early discard.
    let lbf = |exp, todelay, tohops| ContractDesc::Lbf { min_delay: 0, max_delay: 50, experienced_delay: exp, fib_todelay: todelay, fib_tohops: tohops };
    f.push(frame(PacketDesc::new(src.clone(), a("8bit:2")).contract(lbf(10, 5, 3)), 9));
    f.push(frame(PacketDesc::new(src.clone(), a("8bit:2")).contract(lbf(10, 5, 0)), 10));
    f.push(frame(PacketDesc::new(src.clone(), a("8bit:2")).contract(lbf(500, 1, 3)), 11));
    // 12, 13, 14: precise LBF via the 10.1/16 route (to_hops 2, to_delay 100 us): kept, infeasible, late_ok.
    f.push(frame(PacketDesc::new(src.clone(), a("10.1.0.5")).contract(ContractDesc::PreciseLbf(plbf(0, 5_000_000, 100_000, 0))), 12));
    f.push(frame(PacketDesc::new(src.clone(), a("10.1.0.5")).contract(ContractDesc::PreciseLbf(plbf(0, 100_000, 50_000, 0))), 13));
    f.push(frame(PacketDesc::new(src.clone(), a("10.1.0.5")).contract(ContractDesc::PreciseLbf(plbf(0, 100_000, 50_000, 1))), 14));
    // 15: ping to newipd; 16: ping through; 17: ping with no hops left; 18: not a ping, to newipd.
    let ping = |hops| ContractDesc::Ping { code: 0, hops, timestamp: 0x0102_0304_0506 };
    f.push(frame(PacketDesc::new(a("flex:0c0c0c"), a("8bit:1")).contract(ping(200)), 15));
    f.push(frame(PacketDesc::new(src.clone(), a("8bit:2")).contract(ping(5)), 16));
    f.push(frame(PacketDesc::new(src.clone(), a("8bit:2")).contract(ping(0)), 17));
    f.push(frame(PacketDesc::new(src.clone(), a("10.0.0.1")), 18));
    // 19: unknown TLV; 20: broadcast; 21: multicast.
    f.push(frame(PacketDesc::new(src.clone(), a("8bit:2")).contract(ContractDesc::Tlv { ty: 0x8100, value: vec![1, 2, 3, 4] }), 19));
    f.push(frame(PacketDesc::new(src.clone(), a("8bit:255")).cast(Cast::Broadcast), 20));
    f.push(frame(PacketDesc::new(src.clone(), a("8bit:2")).cast(Cast::Multicast), 21));
    // 22: the latency option inside plain IPv6.
    let mut dst6 = [0u8; 16];
    dst6[..6].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 1]);
    dst6[15] = 5;
    let hbh = build_ipv6_hbh(&Ipv6HbhDesc {
        src: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        dst: dst6,
        traffic_class: 0,
        flow_label: 0,
        hop_limit: 9,
        plbf: plbf(0, 3_000_000, 7_000, 0),
        sport: 4000,
        dport: 4001,
        payload: [b"pkt-".as_slice(), &22u16.to_be_bytes(), &[0u8; 10]].concat(),
    })
    .unwrap();
    f.push(ethernet_frame([2, 0, 0, 0, 0, 1], SRC_MAC, 0x86dd, None, &hbh));
    // Malformed New IP, each its own reason.
    let bad: Vec<(Vec<u8>, &str)> = vec![
        (vec![0x03, 0x00], "malformed-newip-truncated"),
        (vec![0x02, 0x00, 0x08, 0, 0, 0, 1, 2], "malformed-newip-offsets"),
        (vec![0x03, 0x00, 0x08, 9, 2, 0, 1, 2], "malformed-newip-addr-type"),
        (vec![0x03, 0x00, 0x08, 4, 2, 0, 0, 2], "malformed-newip-flex-length"),
        (vec![0x03, 0x00, 0x08, 2, 2, 7, 1, 2], "malformed-newip-cast"),
        (vec![0x03, 0x08, 0x0c, 2, 2, 0, 1, 2, 0x00, 0x09, 0, 0], "malformed-newip-contract-unknown"),
    ];
    for (b, _) in &bad {
        let mut fr = ethernet_frame([2, 0, 0, 0, 0, 1], SRC_MAC, nip::ETHERTYPE_NEWIP, None, b);
        // Ethernet padding would be payload; a truncated header must stay short.
        if b.len() > 2 {
            fr.resize(fr.len().max(60), 0);
        }
        f.push(fr);
    }
    let input: Vec<_> = f.iter().enumerate().map(|(i, x)| (i as u64 * 1000, x.clone())).collect();
    pcap::write(&dir.join("in.pcap"), &input).unwrap();
    let d = |n: &str| dir.join(n).display().to_string();
    let ports = [
        format!("in=net_pcap0,rx_pcap={},tx_pcap={}", d("in.pcap"), d("in-out.pcap")),
        format!("a=net_pcap1,tx_pcap={}", d("a.pcap")),
        format!("b=net_pcap2,tx_pcap={}", d("b.pcap")),
    ];
    let mut flags = vec!["--until-idle", "--idle-ms", "300"];
    for p in &ports {
        flags.extend(["--port", p.as_str()]);
    }
    let (out, report) = run(&dir, PIPELINE, &flags);
    assert!(out.status.success(), "{}", show(&out));
    let r = report.unwrap();

    let mut got: HashMap<&str, Vec<Vec<u8>>> = HashMap::new();
    for (p, file) in [("in", "in-out.pcap"), ("a", "a.pcap"), ("b", "b.pcap")] {
        got.insert(p, pcap::read(&dir.join(file)).unwrap());
    }
    let tags = |p: &str| got[p].iter().map(|x| tag_of(x).unwrap()).collect::<Vec<_>>();
    assert_eq!(tags("a"), vec![0, 2, 5, 7, 9, 12, 14, 16, 19, 20], "port a");
    assert_eq!(tags("b"), vec![1, 3, 4, 20, 22], "port b");
    assert_eq!(tags("in"), vec![15], "ping reply on the ingress port");
    let by_tag = |p: &str, t: u16| got[p].iter().find(|x| tag_of(x) == Some(t)).unwrap().clone();
    let mac = |p: &str| newipd_core::wire::ether::parse_mac(port(&r, p)["mac"].as_str().unwrap()).unwrap();

    // Plain forwards: only the MACs change.
    for (p, t, nh) in [("a", 0, [2, 0, 0, 0, 0xb, 0xb]), ("b", 1, [2, 0, 0, 0, 0xc, 0xc]), ("a", 2, [2, 0, 0, 0, 0xb, 0xb]), ("b", 3, [2, 0, 0, 0, 0xc, 0xc]), ("b", 4, [2, 0, 0, 0, 0xc, 0xc]), ("a", 5, [2, 0, 0, 0, 0xb, 0xb]), ("a", 19, [2, 0, 0, 0, 0xb, 0xb])] {
        let o = by_tag(p, t);
        assert_eq!(&o[..6], &nh, "next hop MAC of {t}");
        assert_eq!(&o[6..12], &mac(p), "source MAC of {t}");
        assert_eq!(&o[12..], &f[t as usize][12..], "packet {t} changed beyond its MACs");
    }
    // Max delay: delay_exp + local (well under 0.5 ms here, so + 0).
    match contracts(&by_tag("a", 7))[0] {
        ContractRef::MaxDelay { max_allowed_delay: 10, delay_exp, .. } => assert_eq!(delay_exp, 3),
        c => panic!("{c:?}"),
    }
    // LBF: hops - 1; experienced grows by the time spent here (0.1 ms units; < 1 ms).
    match contracts(&by_tag("a", 9))[0] {
        ContractRef::Lbf { experienced_delay, fib_tohops, fib_todelay, .. } => {
            assert_eq!((fib_tohops, fib_todelay), (2, 5));
            assert!((10..20).contains(&experienced_delay), "experienced {experienced_delay}");
        }
        c => panic!("{c:?}"),
    }
    // Precise LBF: experienced + local + port a's 1000 ns link delay, hops + 1.
    for t in [12u16, 14] {
        match contracts(&by_tag("a", t))[0] {
            ContractRef::PreciseLbf { v, .. } => {
                let base = if t == 12 { 100_000 } else { 50_000 };
                assert_eq!(v.hops, 1);
                assert!(v.experienced_ns >= base + 1000 && v.experienced_ns < base + 1000 + 1_000_000, "{t}: {v:?}");
            }
            c => panic!("{c:?}"),
        }
    }
    // Ping through: hops - 1. Ping to newipd: code 1, addresses swapped, timestamp kept, MACs turned round.
    match contracts(&by_tag("a", 16))[0] {
        ContractRef::Ping { code: 0, hops, .. } => assert_eq!(hops, 4),
        c => panic!("{c:?}"),
    }
    let reply = by_tag("in", 15);
    assert_eq!(&reply[..6], &SRC_MAC);
    assert_eq!(&reply[6..12], &mac("in"));
    let h = nip::parse(&reply[14..]).unwrap();
    assert_eq!(h.src.addr(&reply[14..]).bytes, &[1]);
    assert_eq!(h.dst.addr(&reply[14..]).bytes, &[0x0c, 0x0c, 0x0c]);
    match contracts(&reply)[0] {
        ContractRef::Ping { code, hops, timestamp, .. } => assert_eq!((code, hops, timestamp), (1, 200, 0x0102_0304_0506)),
        c => panic!("{c:?}"),
    }
    // Broadcast: one copy per other port, broadcast destination MAC, the port's own source MAC.
    for p in ["a", "b"] {
        let o = by_tag(p, 20);
        assert_eq!(&o[..6], &[0xff; 6]);
        assert_eq!(&o[6..12], &mac(p));
        assert_eq!(&o[12..], &f[20][12..]);
    }
    // IPv6 option: hop limit - 1, option experienced + local (+0 link delay on b), hops + 1.
    let o = by_tag("b", 22);
    assert_eq!(o[14 + 7], 8);
    let v = PreciseLbf::read(&o[14..], 44).unwrap();
    assert_eq!(v.hops, 1);
    assert!(v.experienced_ns >= 7_000 && v.experienced_ns < 1_007_000, "{v:?}");

    // Counters.
    let want_drops = [
        ("no-route", 1),
        ("newip-max-delay-exceeded", 1),
        ("newip-lbf-no-hops", 1),
        ("newip-early-discard", 1),
        ("newip-infeasible", 1),
        ("newip-ping-hops-expired", 1),
        ("newip-for-router", 1),
        ("newip-unsupported-cast", 1),
    ];
    for (reason, n) in want_drops.iter().chain(bad.iter().map(|(_, r)| (*r, 1)).collect::<Vec<_>>().iter()) {
        assert_eq!(drops(&r, reason), *n, "{reason}: {}", r["drops"]);
    }
    assert_eq!(r["dropped"].as_u64(), Some(8 + bad.len() as u64), "{}", r["drops"]);
    for (e, n) in [("newip-ping-answered", 1), ("newip-unknown-tlv-skipped", 1), ("late-ok-demoted", 1), ("broadcast-copies", 1)] {
        assert_eq!(r["events"][e].as_u64(), Some(n), "{e}: {}", r["events"]);
    }
    assert_eq!(r["rx"].as_u64(), Some(f.len() as u64));
    assert_eq!(r["created"].as_u64(), Some(1));
    assert_eq!(r["tx"].as_u64(), Some(16));
    assert_eq!(r["identity_holds"], true);
    assert_eq!(r["packet_loop_heap_allocations"], 0);
    assert_eq!(r["mbufs_in_use_end"], r["mbufs_in_use_start"], "mbuf leak");
}
