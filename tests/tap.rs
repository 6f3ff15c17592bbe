//! net_tap: the kernel sends real UDP datagrams into tap A; newipd routes them
//! out of tap B; a capture on tap B (dumpcap via tshark) receives them intact.
//! Needs root and /dev/net/tun (CI has both); it fails, not skips, without them.

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn kernel_udp_through_two_taps() {
    assert!(std::path::Path::new("/dev/net/tun").exists(), "/dev/net/tun is missing");
    let dir = tmpdir("tap");
    let pid = std::process::id() % 10000;
    let (ta, tb) = (format!("nipa{pid}"), format!("nipb{pid}"));
    let pipeline = format!(
        r#"
[settings]
idle_sleep_us = 50

[[port]]
name = "a"
device = "net_tap0,iface={ta},mac=fixed"
peer_mac = "02:00:00:00:00:aa"

[[port]]
name = "b"
device = "net_tap1,iface={tb},mac=fixed"

[[route]]
prefix = "10.201.2.0/24"
port = "b"
next_hop_mac = "02:00:00:00:00:bb"
"#
    );
    let daemon = Daemon::start(&dir, &pipeline);

    // Kernel side: A has an address and a static neighbour for newipd; B carries
    // the next hop's MAC so the capture sees exactly what newipd sent.
    sh(&["ip", "link", "set", &ta, "up"]);
    sh(&["ip", "link", "set", &tb, "up"]);
    let _ = Command::new("sysctl").args(["-qw", &format!("net.ipv6.conf.{ta}.disable_ipv6=1"), &format!("net.ipv6.conf.{tb}.disable_ipv6=1")]).status();
    sh(&["ip", "addr", "add", "10.201.1.1/24", "dev", &ta]);
    sh(&["ip", "neigh", "replace", "10.201.1.2", "lladdr", "02:00:00:00:00:aa", "dev", &ta, "nud", "permanent"]);
    sh(&["ip", "route", "replace", "10.201.2.0/24", "via", "10.201.1.2", "dev", &ta]);

    const N: usize = 20;
    let cap = dir.join("b.pcap");
    // tshark writes the capture and also prints each packet's UDP port as it
    // arrives (-l -P), so the test can see when the capture is live.
    let mut tshark = Command::new("tshark")
        .args(["-i", &tb, "-f", "udp dst portrange 40000-40001", "-a", "duration:90", "-F", "pcap", "-l", "-P"])
        .args(["-T", "fields", "-e", "udp.dstport", "-w"])
        .arg(&cap)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tshark (apt-get install tshark; ci/setup.sh does it)");
    let (ltx, lines) = mpsc::channel();
    let out = tshark.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = ltx.send(l);
        }
    });
    let sock = UdpSocket::bind("10.201.1.1:0").unwrap();
    // Probe until the capture shows one: resend on a 100 ms timer, 30 s at most.
    let mut live = false;
    for _ in 0..300 {
        sock.send_to(b"probe", "10.201.2.2:40001").unwrap();
        if let Ok(l) = lines.recv_timeout(Duration::from_millis(100)) {
            assert_eq!(l.trim(), "40001");
            live = true;
            break;
        }
    }
    assert!(live, "the capture on {tb} never saw a probe through newipd");
    for i in 0..N {
        let msg = format!("newipd tap test datagram {i:04}");
        sock.send_to(msg.as_bytes(), "10.201.2.2:40000").unwrap();
    }
    let mut seen = 0;
    while seen < N {
        match lines.recv_timeout(Duration::from_secs(30)) {
            Ok(l) if l.trim() == "40000" => seen += 1,
            Ok(_) => {}
            Err(e) => panic!("only {seen} of {N} datagrams reached {tb}: {e}"),
        }
    }
    let _ = Command::new("kill").args(["-INT", &tshark.id().to_string()]).status();
    assert!(tshark.wait().unwrap().success(), "tshark failed");
    let report = daemon.stop();

    let all = newipd_tools::gen::pcap::read(&cap).unwrap();
    let got: Vec<_> = all.into_iter().filter(|f| f.len() > 38 && f[36..38] == [0x9c, 0x40]).collect();
    assert_eq!(got.len(), N, "datagrams captured on {tb}");
    let b_mac = newipd_core::wire::ether::parse_mac(port(&report, "b")["mac"].as_str().unwrap()).unwrap();
    for (i, f) in got.iter().enumerate() {
        assert_eq!(&f[0..6], &[2, 0, 0, 0, 0, 0xbb], "next-hop MAC");
        assert_eq!(&f[6..12], &b_mac, "port MAC");
        assert_eq!(&f[12..14], &[0x08, 0x00]);
        assert!(ipv4_checksum_ok(&f[14..34]), "IPv4 checksum");
        assert_eq!(f[14 + 8], 63, "TTL decremented from the kernel's 64");
        let payload = &f[42..];
        assert_eq!(payload, format!("newipd tap test datagram {i:04}").as_bytes(), "payload intact");
    }
    assert!(port(&report, "b")["tx"].as_u64().unwrap() >= N as u64);
    assert_eq!(report["identity_holds"], true);
    assert_eq!(report["mbufs_in_use_end"], report["mbufs_in_use_start"]);
    assert_eq!(report["packet_loop_heap_allocations"], 0, "the packet loop allocated");
}
