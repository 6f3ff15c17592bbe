//! Link state in every lcore mode: with the packet loop on the main lcore
//! (`-l 0`, where nothing watched links before), taking a net_tap port's
//! kernel side down is logged (`newipd: port b link down`), and the packets
//! newipd then cannot send there are counted `link-down`, not `tx-full`;
//! bringing it back up is logged too and traffic flows again.

mod common;
use common::*;
use std::net::UdpSocket;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn a_down_link_is_logged_and_its_drops_are_link_down() {
    assert!(std::path::Path::new("/dev/net/tun").exists(), "/dev/net/tun is missing");
    let dir = tmpdir("link");
    let pid = std::process::id() % 100000;
    let (ta, tb) = (format!("lka{pid}"), format!("lkb{pid}"));
    let pipeline = format!(
        r#"
[settings]
idle_sleep_us = 50

[[port]]
name = "a"
device = "net_tap0,iface={ta},mac=fixed"

[[port]]
name = "b"
device = "net_tap1,iface={tb},mac=fixed"

[[route]]
prefix = "10.202.2.0/24"
port = "b"
next_hop_mac = "02:00:00:00:00:bb"
"#
    );
    let d = Daemon::start(&dir, &pipeline);
    sh(&["ip", "link", "set", &ta, "up"]);
    let _ = Command::new("sysctl").args(["-qw", &format!("net.ipv6.conf.{ta}.disable_ipv6=1"), &format!("net.ipv6.conf.{tb}.disable_ipv6=1")]).status();
    sh(&["ip", "addr", "add", "10.202.1.1/24", "dev", &ta]);
    sh(&["ip", "neigh", "replace", "10.202.1.2", "lladdr", "02:64:74:61:70:30", "dev", &ta, "nud", "permanent"]);
    sh(&["ip", "route", "replace", "10.202.2.0/24", "via", "10.202.1.2", "dev", &ta]);

    sh(&["ip", "link", "set", &tb, "down"]);
    wait_for_line(&d.err, "newipd: port b link down", 10);
    const N: usize = 20;
    let sock = UdpSocket::bind("10.202.1.1:0").unwrap();
    for i in 0..N {
        sock.send_to(format!("while down {i}").as_bytes(), "10.202.2.2:40000").unwrap();
    }
    // Back up: logged, and packets leave again (polled through the counters
    // SIGUSR1 prints, so the test waits for the fact, not for a time).
    sh(&["ip", "link", "set", &tb, "up"]);
    wait_for_line(&d.err, "newipd: port b link up", 10);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut sent_after = false;
    while !sent_after && Instant::now() < deadline {
        sock.send_to(b"after", "10.202.2.2:40000").unwrap();
        let _ = Command::new("kill").args(["-USR1", &d.pid().to_string()]).status();
        let until = Instant::now() + Duration::from_millis(300);
        while let Ok(l) = d.out.recv_timeout(until.saturating_duration_since(Instant::now())) {
            // The port table of the report: "  b ... tx N ..." lines; any tx on b is enough.
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.first() == Some(&"b") && f.get(2).and_then(|t| t.parse::<u64>().ok()).is_some_and(|tx| tx > 0) {
                sent_after = true;
            }
        }
    }
    let r = d.stop();
    assert_eq!(drops(&r, "link-down"), N as u64, "{r}");
    assert_eq!(drops(&r, "tx-full"), 0, "{r}");
    assert!(port(&r, "b")["tx"].as_u64().unwrap() >= 1, "traffic flows again once the link is up: {r}");
    assert!(sent_after, "the counters showed a packet sent on b after the link came back");
    assert_eq!(r["identity_holds"], true);
}
