//! ICMP errors through real net_pcap vdevs: a packet whose TTL / hop limit
//! runs out, or that has no route, comes back out of the port it arrived on
//! as the error it is owed, byte-checked (addresses, type, code, quoted
//! packet, checksums); the per-lcore rate limit holds; errors are never
//! sent about ICMP errors; the report counts them and the identity holds.

mod common;
use common::*;
use newipd_core::wire::build::{self, Udp4, Udp6};
use newipd_core::wire::checksum;

fn pipeline(settings: &str) -> String {
    format!(
        r#"
[settings]
{settings}

[[port]]
name = "in"
device = "net_pcap0"
addresses = ["192.0.2.1", "2001:db8:ff::1"]

[[port]]
name = "out"
device = "net_pcap1"

[[route]]
prefix = "10.0.0.0/8"
port = "out"
next_hop_mac = "02:00:00:00:0b:0b"

[[route]]
prefix = "2001:db8:1::/48"
port = "out"
next_hop_mac = "02:00:00:00:0d:0d"
"#
    )
}

const SENDER_MAC: [u8; 6] = [2, 0, 0, 0, 0x5e, 0x5e];
const SENDER4: u32 = 0xc633_6402; // 198.51.100.2
const SENDER6: u128 = 0x2001_0db8_0002u128 << 80 | 2;

/// Run `frames` through `pipeline` into port "in"; returns what left "in"
/// (the errors), what left "out", and the report (the run succeeded and
/// the identity holds).
fn run_both(name: &str, pipeline: &str, frames: &[Vec<u8>]) -> (Vec<Vec<u8>>, Vec<Vec<u8>>, serde_json::Value) {
    let dir = tmpdir(name);
    let input: Vec<_> = frames.iter().map(|f| (0u64, f.clone())).collect();
    newipd_tools::gen::pcap::write(&dir.join("in.pcap"), &input).unwrap();
    let a = format!("in=net_pcap0,rx_pcap={},tx_pcap={}", dir.join("in.pcap").display(), dir.join("back.pcap").display());
    let b = format!("out=net_pcap1,tx_pcap={}", dir.join("out.pcap").display());
    let (out, report) = run(&dir, pipeline, &["--until-idle", "--idle-ms", "300", "--port", &a, "--port", &b]);
    assert!(out.status.success(), "{}", show(&out));
    let r = report.expect("report");
    assert_eq!(r["identity_holds"], true, "{r}");
    let read = |f: &str| newipd_tools::gen::pcap::read(&dir.join(f)).unwrap();
    (read("back.pcap"), read("out.pcap"), r)
}

/// Run `frames` into port "in" and return what left "in" (the errors) and the report.
fn run_back(name: &str, settings: &str, frames: &[Vec<u8>]) -> (Vec<Vec<u8>>, serde_json::Value) {
    let (back, _, r) = run_both(name, &pipeline(settings), frames);
    assert_eq!(r["packet_loop_heap_allocations"], 0);
    assert_eq!(r["mbufs_in_use_end"], r["mbufs_in_use_start"]);
    (back, r)
}

fn event(r: &serde_json::Value, name: &str) -> u64 {
    r["events"][name].as_u64().unwrap_or(0)
}

fn mac(s: &str) -> [u8; 6] {
    newipd_core::wire::ether::parse_mac(s).unwrap()
}

/// The ICMPv6 checksum over the pseudo-header verifies.
fn icmpv6_ok(ip: &[u8]) -> bool {
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&ip[8..40]);
    pseudo.extend_from_slice(&((ip.len() - 40) as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, 58]);
    pseudo.extend_from_slice(&ip[40..]);
    checksum::verifies(&pseudo)
}

#[test]
fn expired_and_unroutable_packets_get_their_errors_byte_exact() {
    let ttl1 = build::udp4(Udp4 { src_mac: SENDER_MAC, src: SENDER4, dst: 0x0a01_0203, ttl: 1, ident: 7, frame_len: 100, ..Default::default() });
    let unroutable = build::udp4(Udp4 { src_mac: SENDER_MAC, src: SENDER4, dst: 0xac10_0001, ttl: 9, frame_len: 700, ..Default::default() });
    let hop1 = build::udp6(Udp6 { src_mac: SENDER_MAC, src: SENDER6, dst: 0x2001_0db8_0001u128 << 80 | 5, hop_limit: 1, ..Default::default() });
    let v6_unroutable = build::udp6(Udp6 { src_mac: SENDER_MAC, src: SENDER6, dst: 0x2001_0db8_0009u128 << 80 | 5, hop_limit: 9, ..Default::default() });
    let (back, r) = run_back("icmp-errors", "", &[ttl1.clone(), unroutable.clone(), hop1.clone(), v6_unroutable.clone()]);
    assert_eq!(back.len(), 4, "one error per packet, in order");
    let port_mac = mac(port(&r, "in")["mac"].as_str().expect("the port's MAC"));
    for e in &back {
        assert_eq!(&e[..6], &SENDER_MAC, "back to the neighbour that sent it");
        assert_eq!(&e[6..12], &port_mac, "from the port it came in on");
    }
    // IPv4 time exceeded: from 192.0.2.1 to the sender, the whole packet quoted.
    let ip = &back[0][14..];
    assert_eq!(&back[0][12..14], &[0x08, 0x00]);
    assert!(checksum::verifies(&ip[..20]), "IPv4 header checksum");
    assert_eq!((ip[9], &ip[12..16], &ip[16..20]), (1, &[192u8, 0, 2, 1][..], &SENDER4.to_be_bytes()[..]));
    assert_eq!((ip[20], ip[21]), (11, 0), "time exceeded in transit");
    assert!(checksum::verifies(&ip[20..]), "ICMP checksum");
    assert_eq!(&ip[28..], &ttl1[14..], "the offending packet, unchanged (TTL 1 as it arrived)");
    // IPv4 destination unreachable (net): a 686-byte packet quoted to 576 bytes of error.
    let ip = &back[1][14..];
    assert_eq!(ip.len(), 576);
    assert_eq!((ip[20], ip[21]), (3, 0));
    assert!(checksum::verifies(&ip[20..]));
    assert_eq!(&ip[28..], &unroutable[14..14 + 548]);
    // ICMPv6 time exceeded and no route, from 2001:db8:ff::1.
    for (e, orig, ty) in [(&back[2], &hop1, 3u8), (&back[3], &v6_unroutable, 1)] {
        let ip = &e[14..];
        assert_eq!(&e[12..14], &[0x86, 0xdd]);
        assert_eq!((ip[6], ip[7]), (58, 64));
        assert_eq!(&ip[8..24], &(0x2001_0db8_00ffu128 << 80 | 1).to_be_bytes());
        assert_eq!(&ip[24..40], &SENDER6.to_be_bytes());
        assert_eq!((ip[40], ip[41]), (ty, 0));
        assert!(icmpv6_ok(ip), "ICMPv6 checksum with the pseudo-header");
        assert_eq!(&ip[48..], &orig[14..]);
    }
    assert_eq!(drops(&r, "ttl-expired"), 1);
    assert_eq!(drops(&r, "hop-limit-expired"), 1);
    assert_eq!(drops(&r, "no-route"), 2);
    assert_eq!(event(&r, "icmp-errors-sent"), 4);
    assert_eq!(r["created"].as_u64(), Some(4), "the errors are packets newipd made");
}

#[test]
fn the_rate_limit_holds_and_errors_are_not_answered() {
    // 40 expired packets in one burst against a bucket of 5 at 1 a second.
    let mut frames: Vec<Vec<u8>> = (0..40u16)
        .map(|i| build::udp4(Udp4 { src_mac: SENDER_MAC, src: SENDER4, dst: 0x0a01_0203, ttl: 1, ident: i, ..Default::default() }))
        .collect();
    // An ICMP error that itself expires: never answered.
    let mut err = build::udp4(Udp4 { src_mac: SENDER_MAC, src: SENDER4, dst: 0x0a01_0203, ttl: 1, ..Default::default() });
    err[14 + 9] = 1;
    err[14 + 20] = 11;
    err[14 + 10..14 + 12].fill(0);
    let c = checksum::checksum(&err[14..34]);
    err[14 + 10..14 + 12].copy_from_slice(&c.to_be_bytes());
    frames.insert(0, err);
    let (back, r) = run_back("icmp-limit", "icmp_errors_per_s = 1\nicmp_burst = 5", &frames);
    assert_eq!(back.len(), 5, "the burst, then nothing");
    assert_eq!(event(&r, "icmp-errors-sent"), 5);
    assert_eq!(event(&r, "icmp-rate-limited"), 35);
    assert_eq!(drops(&r, "ttl-expired"), 41);
    assert!(back.iter().all(|e| e[14 + 28 + 9] == 17), "every error quotes a UDP packet, none the ICMP one");
    // Off: none at all.
    let (back, r) = run_back("icmp-off", "icmp_errors_per_s = 0", &frames[..3]);
    assert!(back.is_empty());
    assert_eq!(event(&r, "icmp-errors-sent"), 0);
}

/// An echo request frame from the sender to `dst` (IPv4, or IPv6 when `v6`).
fn echo_request(v6: bool, dst: &[u8]) -> Vec<u8> {
    let ethertype = if v6 { 0x86dd } else { 0x0800 };
    let mut f = build::ethernet([2, 0, 0, 0, 0, 1], SENDER_MAC, None, ethertype);
    let msg = [if v6 { 128 } else { 8 }, 0, 0, 0, 0x77, 0x01, 0, 3, 0xde, 0xad, 0xbe, 0xef];
    if v6 {
        let mut ip = vec![0x60, 0, 0, 0, 0, msg.len() as u8, 58, 60];
        ip.extend_from_slice(&SENDER6.to_be_bytes());
        ip.extend_from_slice(dst);
        ip.extend_from_slice(&msg);
        let mut pseudo = ip[8..40].to_vec();
        pseudo.extend_from_slice(&[0, 0, 0, msg.len() as u8, 0, 0, 0, 58]);
        pseudo.extend_from_slice(&ip[40..]);
        let c = checksum::checksum(&pseudo);
        ip[42..44].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&ip);
    } else {
        let mut ip = vec![0x45, 0, 0, 20 + msg.len() as u8, 0, 9, 0x40, 0, 60, 1, 0, 0];
        ip.extend_from_slice(&SENDER4.to_be_bytes());
        ip.extend_from_slice(dst);
        let c = checksum::checksum(&ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        ip.extend_from_slice(&msg);
        let c = checksum::checksum(&ip[20..]);
        ip[22..24].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&ip);
    }
    f
}

/// Pings to newipd's own addresses (a port without a host interface) are
/// answered by newipd: each request comes back as its reply, byte-checked;
/// other traffic to those addresses is dropped as `for-router`; the
/// identity holds without counting the answered ones as drops.
#[test]
fn pings_to_newipds_own_addresses_are_answered() {
    let v4 = echo_request(false, &[192, 0, 2, 1]);
    let v6 = echo_request(true, &(0x2001_0db8_00ffu128 << 80 | 1).to_be_bytes());
    let udp_to_me = build::udp4(Udp4 { src_mac: SENDER_MAC, src: SENDER4, dst: 0xc000_0201, ..Default::default() });
    let (back, r) = run_back("icmp-echo", "", &[v4.clone(), v6.clone(), udp_to_me]);
    assert_eq!(back.len(), 2, "two replies, nothing for the UDP packet");
    let port_mac = mac(port(&r, "in")["mac"].as_str().unwrap());
    let (a, b) = (&back[0], &back[1]);
    assert_eq!((&a[..6], &a[6..12]), (&SENDER_MAC[..], &port_mac[..]));
    let ip = &a[14..];
    assert!(checksum::verifies(&ip[..20]));
    assert_eq!((&ip[12..16], &ip[16..20], ip[8], ip[20]), (&[192u8, 0, 2, 1][..], &SENDER4.to_be_bytes()[..], 64, 0));
    assert!(checksum::verifies(&ip[20..]), "ICMP checksum");
    assert_eq!(&ip[24..], &v4[14 + 24..], "identifier, sequence and data echoed");
    let ip6 = &b[14..];
    assert_eq!((ip6[40], ip6[7]), (129, 64));
    assert_eq!(&ip6[24..40], &SENDER6.to_be_bytes());
    assert!(icmpv6_ok(ip6), "ICMPv6 checksum");
    assert_eq!(event(&r, "icmp-echo-answered"), 2);
    assert_eq!(drops(&r, "for-router"), 1, "the UDP packet to newipd");
    assert_eq!((r["rx"].as_u64(), r["tx"].as_u64()), (Some(3), Some(2)));
}

/// Port `out` has an MTU of 1280: a 1400-byte IPv4 packet with DF is
/// answered with fragmentation needed carrying 1280; without DF it leaves
/// as two fragments that reassemble to the packet; a 1400-byte IPv6 packet
/// is answered with packet too big carrying 1280; a small one passes.
#[test]
fn packets_longer_than_the_egress_mtu_are_fragmented_or_answered() {
    let pipeline = pipeline("").replace("name = \"out\"\ndevice = \"net_pcap1\"", "name = \"out\"\ndevice = \"net_pcap1\"\nmtu = 1280");
    assert!(pipeline.contains("mtu = 1280"));
    let df = build::udp4(Udp4 { src_mac: SENDER_MAC, src: SENDER4, dst: 0x0a01_0203, ttl: 9, ident: 1, frame_len: 14 + 1400, ..Default::default() });
    let mut nodf = build::udp4(Udp4 { src_mac: SENDER_MAC, src: SENDER4, dst: 0x0a01_0203, ttl: 9, ident: 2, frame_len: 14 + 1400, ..Default::default() });
    nodf[14 + 6] = 0;
    newipd_core::wire::ipv4::set_checksum(&mut nodf[14..]);
    let v6 = build::udp6(Udp6 { src_mac: SENDER_MAC, src: SENDER6, dst: 0x2001_0db8_0001u128 << 80 | 5, hop_limit: 9, frame_len: 14 + 1400, ..Default::default() });
    let small = build::udp4(Udp4 { src_mac: SENDER_MAC, src: SENDER4, dst: 0x0a01_0203, ttl: 9, ident: 3, frame_len: 200, ..Default::default() });
    let (back, sent, r) = run_both("icmp-mtu", &pipeline, &[df, nodf.clone(), v6, small.clone()]);
    assert_eq!(r["mbufs_in_use_end"], r["mbufs_in_use_start"]);
    // Back to the sender: fragmentation needed (3/4, MTU 1280), packet too big (2/0, MTU 1280).
    assert_eq!(back.len(), 2, "two errors");
    let ip = &back[0][14..];
    assert_eq!((ip[20], ip[21], &ip[26..28]), (3, 4, &1280u16.to_be_bytes()[..]));
    assert!(checksum::verifies(&ip[20..]));
    let ip6 = &back[1][14..];
    assert_eq!((ip6[40], ip6[41], &ip6[44..48]), (2, 0, &1280u32.to_be_bytes()[..]));
    assert!(icmpv6_ok(ip6));
    // Out of `out`: two fragments of the DF-less packet, then the small one.
    assert_eq!(sent.len(), 3, "{} frames", sent.len());
    let (f1, f2) = (&sent[0][14..], &sent[1][14..]);
    for f in [f1, f2] {
        assert!(f.len() <= 1280 && checksum::verifies(&f[..20]), "each fragment fits and checks");
        assert_eq!((&f[4..6], f[8]), (&2u16.to_be_bytes()[..], 8), "same ident, TTL decremented");
    }
    let word = |f: &[u8]| u16::from_be_bytes([f[6], f[7]]);
    assert_eq!((word(f1) & 0x2000, word(f1) & 0x1fff), (0x2000, 0), "first: more fragments, offset 0");
    assert_eq!(word(f2) & 0x2000, 0, "last: no more fragments");
    assert_eq!((word(f2) & 0x1fff) as usize * 8, f1.len() - 20, "the second starts where the first ends");
    let mut whole = f1[20..].to_vec();
    whole.extend_from_slice(&f2[20..]);
    assert_eq!(whole, nodf[14 + 20..].to_vec(), "the fragments reassemble to the packet");
    assert_eq!(&sent[2][14 + 12..], &small[14 + 12..], "the small packet passes");
    assert_eq!((drops(&r, "fragmentation-needed"), drops(&r, "packet-too-big")), (1, 1));
    assert_eq!((event(&r, "fragmented"), event(&r, "fragments-created")), (1, 1));
}

/// Jumbo ports (MTU 9000 both): a 9000-byte IPv4 packet and a 9000-byte
/// IPv6 packet are forwarded whole; with the egress port at 1500, the same
/// IPv4 packet with DF is answered with fragmentation needed carrying 1500.
#[test]
fn jumbo_frames_cross_jumbo_ports_and_meet_smaller_ones_with_an_error() {
    let v4 = build::udp4(Udp4 { src_mac: SENDER_MAC, src: SENDER4, dst: 0x0a01_0203, ttl: 9, ident: 5, frame_len: 14 + 9000, ..Default::default() });
    let v6 = build::udp6(Udp6 { src_mac: SENDER_MAC, src: SENDER6, dst: 0x2001_0db8_0001u128 << 80 | 5, hop_limit: 9, frame_len: 14 + 9000, ..Default::default() });
    for out_mtu in [9000u16, 1500] {
        let pipeline = pipeline("")
            .replace("name = \"in\"\ndevice = \"net_pcap0\"", "name = \"in\"\ndevice = \"net_pcap0\"\nmtu = 9000")
            .replace("name = \"out\"\ndevice = \"net_pcap1\"", &format!("name = \"out\"\ndevice = \"net_pcap1\"\nmtu = {out_mtu}"));
        let (back, sent, _) = run_both(&format!("icmp-jumbo-{out_mtu}"), &pipeline, &[v4.clone(), v6.clone()]);
        if out_mtu == 9000 {
            assert_eq!(sent.len(), 2, "both jumbo packets forwarded");
            assert_eq!((sent[0].len(), sent[1].len()), (v4.len(), v6.len()));
            assert_eq!(&sent[0][14 + 20..], &v4[14 + 20..], "the IPv4 payload whole");
            assert_eq!(&sent[1][14 + 40..], &v6[14 + 40..], "the IPv6 payload whole");
            assert!(back.is_empty());
        } else {
            assert!(sent.is_empty(), "nothing fits a 1500 port");
            assert_eq!(back.len(), 2, "fragmentation needed and packet too big");
            assert_eq!((back[0][14 + 20], back[0][14 + 21], &back[0][14 + 26..14 + 28]), (3, 4, &1500u16.to_be_bytes()[..]));
            assert_eq!((back[1][14 + 40], &back[1][14 + 44..14 + 48]), (2, &1500u32.to_be_bytes()[..]));
        }
    }
}
