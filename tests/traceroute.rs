//! traceroute through newipd, IPv4 and IPv6: two hosts in network
//! namespaces this test creates (and removes, also on failure), each behind
//! one of newipd's net_tap ports. The first hop traceroute lists is newipd,
//! by the address of the port facing the host (its ICMP time exceeded), the
//! second the far host. No ARP or ND through newipd yet: the hosts have
//! static neighbour entries for it, and newipd static routes to them.

mod common;
use common::*;
use std::process::Command;

/// Network namespaces removed when dropped (the test's cleanup, also on panic).
struct Netns(Vec<String>);

impl Netns {
    fn new(names: &[String]) -> Netns {
        for n in names {
            let _ = Command::new("ip").args(["netns", "del", n]).output();
            sh(&["ip", "netns", "add", n]);
        }
        Netns(names.to_vec())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", n]).output();
        }
    }
}

#[test]
fn traceroute_lists_newipd_ipv4_and_ipv6() {
    assert!(std::path::Path::new("/dev/net/tun").exists(), "/dev/net/tun is missing");
    let pid = std::process::id() % 100000;
    let (ta, tb) = (format!("trta{pid}"), format!("trtb{pid}"));
    let (h1, h2) = (format!("tr-h1-{pid}"), format!("tr-h2-{pid}"));
    let _ns = Netns::new(&[h1.clone(), h2.clone()]);
    let dir = tmpdir("traceroute");
    let pipeline = format!(
        r#"
[settings]
idle_sleep_us = 50

[[port]]
name = "a"
device = "net_tap0,iface={ta},mac=fixed"
addresses = ["10.201.1.1", "2001:db8:201:1::1"]

[[port]]
name = "b"
device = "net_tap1,iface={tb},mac=fixed"
addresses = ["10.201.2.1", "2001:db8:201:2::1"]

[[route]]
prefix = "10.201.1.0/24"
port = "a"
next_hop_mac = "02:00:00:00:01:02"

[[route]]
prefix = "10.201.2.0/24"
port = "b"
next_hop_mac = "02:00:00:00:02:02"

[[route]]
prefix = "2001:db8:201:1::/64"
port = "a"
next_hop_mac = "02:00:00:00:01:02"

[[route]]
prefix = "2001:db8:201:2::/64"
port = "b"
next_hop_mac = "02:00:00:00:02:02"
"#
    );
    let daemon = Daemon::start(&dir, &pipeline);
    for (tap, ns, host, mac, gw4, gw6) in [
        (&ta, &h1, "10.201.1.2/24", "02:00:00:00:01:02", "10.201.1.1", "2001:db8:201:1::1"),
        (&tb, &h2, "10.201.2.2/24", "02:00:00:00:02:02", "10.201.2.1", "2001:db8:201:2::1"),
    ] {
        sh(&["ip", "link", "set", tap, "netns", ns]);
        let x = |args: &[&str]| {
            let mut a = vec!["ip", "netns", "exec", ns.as_str()];
            a.extend_from_slice(args);
            sh(&a);
        };
        x(&["ip", "link", "set", "lo", "up"]);
        x(&["ip", "link", "set", tap, "address", mac]);
        x(&["ip", "link", "set", tap, "up"]);
        x(&["ip", "addr", "add", host, "dev", tap]);
        let host6 = if ns == &h1 { "2001:db8:201:1::2/64" } else { "2001:db8:201:2::2/64" };
        x(&["ip", "-6", "addr", "add", host6, "dev", tap, "nodad"]);
        // newipd's port MAC: DPDK's fixed tap MAC, 02:64:74:61:70 ("dtap")
        // and the last character of the vdev name, "0" or "1" (checked against
        // the report below).
        let newipd_mac = if ns == &h1 { "02:64:74:61:70:30" } else { "02:64:74:61:70:31" };
        x(&["ip", "neigh", "replace", gw4, "lladdr", newipd_mac, "dev", tap, "nud", "permanent"]);
        x(&["ip", "-6", "neigh", "replace", gw6, "lladdr", newipd_mac, "dev", tap, "nud", "permanent"]);
        x(&["ip", "route", "add", "default", "via", gw4]);
        x(&["ip", "-6", "route", "add", "default", "via", gw6]);
    }
    let v4 = traceroute(&h1, "-4", "10.201.2.2", &["10.201.1.1", "10.201.2.2"]);
    assert_eq!(v4, ["10.201.1.1", "10.201.2.2"], "IPv4 hops: newipd's port a, then h2");
    let v6 = traceroute(&h1, "-6", "2001:db8:201:2::2", &["2001:db8:201:1::1", "2001:db8:201:2::2"]);
    assert_eq!(v6, ["2001:db8:201:1::1", "2001:db8:201:2::2"], "IPv6 hops: newipd's port a, then h2");
    let report = daemon.stop();
    assert!(report["events"]["icmp-errors-sent"].as_u64().unwrap_or(0) >= 2, "{report}");
    assert!(drops(&report, "ttl-expired") >= 1 && drops(&report, "hop-limit-expired") >= 1);
    assert_eq!(report["identity_holds"], true);
    assert_eq!(port(&report, "a")["mac"], "02:64:74:61:70:30", "the MAC the hosts were given for newipd");
    assert_eq!(port(&report, "b")["mac"], "02:64:74:61:70:31");
}
