//! A self-test of the namespace harness (tests/common/netns.rs) with no
//! newipd involved: real FRR between two namespaces over a veth pair, eBGP
//! (IPv4 and IPv6) and OSPF routes reaching the other side's kernel, traffic
//! following them, a withdrawal leaving the kernel; and iperf3 over a veth.
//! Timings go to stderr (`-- --nocapture` shows them).
//!
//! Addresses are from the documentation ranges (192.0.2.0/24, 198.51.100.0/24,
//! 203.0.113.0/24, 2001:db8::/32), and exist only in these namespaces.
//!
//! Needs root, iproute2, frr, iperf3 and ping (ci/setup.sh installs them).

mod common;
use common::netns::*;
use std::time::{Duration, Instant};

/// Generous against a loaded two-core machine; the measured times are far
/// shorter (see the timings printed).
const LIMIT: Duration = Duration::from_secs(20);


fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

/// Whether one ping from `ns` to `addr` is answered (within 3 s).
fn pings(ns: &Netns, addr: &str) -> bool {
    ns.exec(&["ping", "-n", "-c", "1", "-W", "3", addr]).status.success()
}

/// A (AS 65001) and B (AS 65002) over one veth; B owns 198.51.100.0/24 and
/// 2001:db8:99::/64 on a stub link and announces them once both sessions
/// are up. A's kernel must get exactly these routes via B, ping B's
/// addresses in them, and lose each route when B withdraws it: IPv4 by
/// `no network`, IPv6 by removing the address (import-check).
#[test]
fn ebgp_routes_reach_the_kernel_and_leave_it() {
    let a = Netns::new("bgpa");
    let b = Netns::new("bgpb");
    veth(&a, "eth-b", &b, "eth-a");
    a.sh("ip addr add 192.0.2.1/24 dev eth-b && ip addr add 2001:db8:12::1/64 dev eth-b");
    b.sh("ip addr add 192.0.2.2/24 dev eth-a && ip addr add 2001:db8:12::2/64 dev eth-a");
    // No dummy driver here: a veth pair inside B is its stub network.
    veth(&b, "stub", &b, "stub-peer");
    b.sh("ip addr add 198.51.100.1/24 dev stub && ip addr add 2001:db8:99::1/64 dev stub");

    // Nothing routes A to B's prefixes yet: the ping after the announcement
    // proves the BGP route carries it.
    assert!(!pings(&a, "198.51.100.1"), "198.51.100.1 reachable before any route");
    assert!(!pings(&a, "2001:db8:99::1"), "2001:db8:99::1 reachable before any route");

    let t0 = Instant::now();
    let fa = Frr::start(&a, &["bgpd"], &bgp_config(65001, "192.0.2.1", 65002, "192.0.2.2", "2001:db8:12::2"));
    let fb = Frr::start(&b, &["bgpd"], &bgp_config(65002, "192.0.2.2", 65001, "192.0.2.1", "2001:db8:12::1"));
    let started = t0.elapsed();
    fa.wait_bgp_established("192.0.2.2", LIMIT);
    fa.wait_bgp_established("2001:db8:12::2", LIMIT);
    let established = t0.elapsed();
    eprintln!("bgp: both FRR instances started in {}, both sessions Established {} after the first start", ms(started), ms(established));
    assert!(a.ip_json("-4 route show proto bgp").is_empty() && a.ip_json("-6 route show proto bgp").is_empty(), "BGP routes in A before any announcement");

    let t1 = Instant::now();
    fb.vtysh(
        "configure terminal
router bgp 65002
address-family ipv4 unicast
network 198.51.100.0/24
exit-address-family
address-family ipv6 unicast
network 2001:db8:99::/64
exit-address-family",
    );
    let v4 = wait_kernel_routes(&a, false, "bgp", &["198.51.100.0/24"], LIMIT);
    let t_v4 = t1.elapsed();
    let v6 = wait_kernel_routes(&a, true, "bgp", &["2001:db8:99::/64"], LIMIT);
    let t_v6 = t1.elapsed();
    eprintln!("bgp: announcement to A's kernel route: IPv4 {}, IPv6 {}", ms(t_v4), ms(t_v6));
    assert_eq!(v4[0]["gateway"], "192.0.2.2", "{v4:?}");
    assert_eq!(v4[0]["dev"], "eth-b", "{v4:?}");
    // The IPv6 next hop may be B's global or its link-local address on the link.
    // (`ip -j` leaves an empty object in addr_info for each address the scope filter drops.)
    let b_ll = b.ip_json("-6 addr show dev eth-a scope link");
    let b_ll = b_ll[0]["addr_info"].as_array().into_iter().flatten().find_map(|a| a["local"].as_str()).expect("B's link-local address");
    assert_eq!(v6[0]["dev"], "eth-b", "{v6:?}");
    assert!(["2001:db8:12::2", b_ll].contains(&v6[0]["gateway"].as_str().unwrap_or("none")), "{v6:?}, B's link-local {b_ll}");
    // FRR sees the routes as B's, not as something of A's own.
    let rib = fa.vtysh_json("show ip route 198.51.100.0/24 json");
    assert_eq!(rib["198.51.100.0/24"][0]["protocol"], "bgp", "{rib}");
    assert_eq!(rib["198.51.100.0/24"][0]["installed"], true, "{rib}");

    assert!(pings(&a, "198.51.100.1"), "no answer from 198.51.100.1 over the BGP route");
    assert!(pings(&a, "2001:db8:99::1"), "no answer from 2001:db8:99::1 over the BGP route");

    let t2 = Instant::now();
    fb.vtysh("configure terminal\nrouter bgp 65002\naddress-family ipv4 unicast\nno network 198.51.100.0/24");
    wait_kernel_routes(&a, false, "bgp", &[], LIMIT);
    let w_v4 = t2.elapsed();
    // The other family stays: the withdrawal was of one prefix only.
    assert_eq!(a.ip_json("-6 route show proto bgp").len(), 1, "the IPv6 route left with the IPv4 one");
    let t3 = Instant::now();
    b.sh("ip addr del 2001:db8:99::1/64 dev stub");
    wait_kernel_routes(&a, true, "bgp", &[], LIMIT);
    let w_v6 = t3.elapsed();
    eprintln!("bgp: withdrawal to A's kernel route gone: IPv4 (no network) {}, IPv6 (address removed) {}", ms(w_v4), ms(w_v6));
    assert!(!pings(&a, "198.51.100.1"), "198.51.100.1 still reachable after the withdrawal");

    // Both daemons of both instances lived through it and stop cleanly.
    fb.stop();
    fa.stop();
}

/// OSPF: A and B, point-to-point on the veth, 1 s hellos; B has
/// 203.0.113.0/24 on a passive stub link in area 0. A's kernel must get it
/// via B, ping B's address in it, and lose it when B's address goes.
#[test]
fn ospf_route_reaches_the_kernel() {
    let a = Netns::new("ospfa");
    let b = Netns::new("ospfb");
    veth(&a, "eth-b", &b, "eth-a");
    a.sh("ip addr add 192.0.2.1/24 dev eth-b");
    b.sh("ip addr add 192.0.2.2/24 dev eth-a");
    veth(&b, "stub", &b, "stub-peer");
    b.sh("ip addr add 203.0.113.1/24 dev stub");
    assert!(!pings(&a, "203.0.113.1"), "203.0.113.1 reachable before any route");

    // Point-to-point: no DR election, which waits a dead interval first.
    // SPF at once and LSAs originated and accepted without the default holds.
    let conf = |id: &str, ifname: &str, extra: &str| {
        format!(
            "frr defaults traditional
!
interface {ifname}
 ip ospf network point-to-point
 ip ospf hello-interval 1
 ip ospf dead-interval 3
exit
!
router ospf
 ospf router-id {id}
 timers throttle spf 0 50 500
 timers throttle lsa all 0
 timers lsa min-arrival 0
 network 192.0.2.0/24 area 0
{extra}exit
!
"
        )
    };
    let t0 = Instant::now();
    let fa = Frr::start(&a, &["ospfd"], &conf("192.0.2.1", "eth-b", ""));
    let fb = Frr::start(&b, &["ospfd"], &conf("192.0.2.2", "eth-a", " network 203.0.113.0/24 area 0\n passive-interface stub\n"));
    let started = t0.elapsed();
    fa.wait_ospf_full("192.0.2.2", LIMIT);
    let full = t0.elapsed();
    let r = wait_kernel_routes(&a, false, "ospf", &["203.0.113.0/24"], LIMIT);
    let route = t0.elapsed();
    eprintln!("ospf: both FRR instances started in {}; after the first start: neighbour Full {}, route in A's kernel {}", ms(started), ms(full), ms(route));
    assert_eq!(r[0]["gateway"], "192.0.2.2", "{r:?}");
    assert_eq!(r[0]["dev"], "eth-b", "{r:?}");
    assert!(pings(&a, "203.0.113.1"), "no answer from 203.0.113.1 over the OSPF route");

    let t1 = Instant::now();
    b.sh("ip addr del 203.0.113.1/24 dev stub");
    wait_kernel_routes(&a, false, "ospf", &[], LIMIT);
    eprintln!("ospf: address removed in B to route gone from A's kernel: {}", ms(t1.elapsed()));
    fb.stop();
    fa.stop();
}

/// iperf3 over a veth: TCP for 2 s, then UDP for 1 s at 20 Mbit/s; what
/// each report must say.
#[test]
fn iperf3_over_a_veth() {
    let a = Netns::new("ipfa");
    let b = Netns::new("ipfb");
    veth(&a, "eth-b", &b, "eth-a");
    a.sh("ip addr add 192.0.2.1/24 dev eth-b");
    b.sh("ip addr add 192.0.2.2/24 dev eth-a");

    let _server = IperfServer::start(&b, 5201);
    let tcp = iperf3_tcp(&a, "192.0.2.2", 5201, 2);
    eprintln!(
        "iperf3 tcp: sent {} B, received {} B in {:.2} s, {:.2} Gbit/s, {} retransmits",
        tcp.sent_bytes,
        tcp.received_bytes,
        tcp.seconds,
        tcp.received_bps / 1e9,
        tcp.retransmits.unwrap()
    );
    assert!(tcp.received_bytes > 0, "{tcp:?}");
    assert!((1.5..4.0).contains(&tcp.seconds), "a 2 s test lasted {} s", tcp.seconds);
    // iperf3 does not promise received == sent for TCP: the server stops
    // counting when the test ends, while the last bytes the client wrote may
    // still sit in the sender's send buffer (unacknowledged) or the
    // receiver's receive buffer (unread). At most both buffers' worth, then.
    let max_buf = |ns: &Netns, f: &str| -> u64 { ns.sh(&format!("cat /proc/sys/net/ipv4/{f}")).split_whitespace().last().unwrap().parse().unwrap() };
    let in_buffers = max_buf(&a, "tcp_wmem") + max_buf(&b, "tcp_rmem");
    assert!(tcp.received_bytes <= tcp.sent_bytes, "{tcp:?}");
    assert!(tcp.sent_bytes - tcp.received_bytes <= in_buffers, "{} B short, more than the {in_buffers} B buffers hold", tcp.sent_bytes - tcp.received_bytes);
    assert!(tcp.packets.is_none() && tcp.lost_packets.is_none());

    let _server = IperfServer::start(&b, 5201);
    let udp = iperf3_udp(&a, "192.0.2.2", 5201, 1, "20M");
    let (packets, lost) = (udp.packets.unwrap(), udp.lost_packets.unwrap());
    eprintln!("iperf3 udp: sent {} B, {:.1} Mbit/s, {packets} datagrams, {lost} lost", udp.sent_bytes, udp.sent_bps / 1e6);
    assert!(udp.retransmits.is_none());
    assert!(packets > 0 && udp.received_bytes > 0, "{udp:?}");
    // iperf3 paces UDP to the rate asked for.
    assert!((10e6..30e6).contains(&udp.sent_bps), "asked 20 Mbit/s, sent {} bit/s", udp.sent_bps);
    // A veth has no reason to drop a tenth of 20 Mbit/s.
    assert!(lost * 10 < packets, "{lost} of {packets} datagrams lost");
}
