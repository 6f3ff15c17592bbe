//! newipd as a router on a network, with the Linux kernel as its control
//! plane: hosts in network namespaces of the test's own, each joined by a
//! veth pair to one port of newipd (net_af_packet on the router's end, in
//! newipd's namespace), every port with a host interface. No static
//! neighbour entry anywhere: the kernel in newipd's namespace answers ARP
//! and ND on the host interfaces, and its routes, addresses and neighbours
//! reach newipd's FIB over netlink.
//!
//! The router's end of each veth is inert to its kernel (no ARP, no IPv6,
//! no IPv4 forwarding, strict reverse-path filter): only newipd uses it, as
//! it would use a NIC. Timings and counters are printed (`--nocapture`).

mod common;
use common::netns::*;
use common::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const LIMIT: Duration = Duration::from_secs(15);

/// A router namespace with newipd, and hosts h1..hn: host i is on port
/// p{i-1} (host interface hi{i-1}), subnet 10.0.i.0/24 and fd00:i::/64, the
/// router .1 / ::1, the host .2 / ::2, its default route via the router.
/// Fields drop in order: newipd stops before the namespaces go.
struct Lab {
    daemon: Option<Daemon>,
    hosts: Vec<Netns>,
    r: Netns,
    dir: PathBuf,
}

impl Lab {
    fn new(tag: &str, n: usize, extra: &str) -> Lab {
        Lab::on(tag, n, extra, None)
    }

    /// The same with EAL lcores `lcores` (instead of `-l 0`).
    fn on(tag: &str, n: usize, extra: &str, lcores: Option<&str>) -> Lab {
        let r = Netns::new(&format!("{tag}r"));
        let hosts: Vec<Netns> = (1..=n).map(|i| Netns::new(&format!("{tag}h{i}"))).collect();
        r.sh("sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1");
        let mut pipeline = format!("[settings]\nidle_sleep_us = 50\n{extra}\n");
        for (i, h) in hosts.iter().enumerate() {
            veth(&r, &format!("v{i}"), h, &format!("e{i}"));
            // Setting ip_forward above set every interface's forwarding: turn
            // it off again for the router's veth ends, made after it.
            r.sh(&format!(
                "sysctl -qw net.ipv6.conf.v{i}.disable_ipv6=1 net.ipv4.conf.v{i}.forwarding=0 net.ipv4.conf.v{i}.rp_filter=1 && ip link set v{i} arp off"
            ));
            pipeline += &format!("\n[[port]]\nname = \"p{i}\"\ndevice = \"net_af_packet{i},iface=v{i}\"\nhost_interface = \"hi{i}\"\n");
        }
        let dir = tmpdir(&format!("router-{tag}"));
        let prefix = ["ip", "netns", "exec", r.name()];
        let daemon = match lcores {
            Some(l) => Daemon::start_under_on(&dir, &pipeline, &prefix, l),
            None => Daemon::start_under(&dir, &pipeline, &prefix),
        };
        for (i, h) in hosts.iter().enumerate() {
            let n = i + 1;
            r.sh(&format!("ip addr add 10.0.{n}.1/24 dev hi{i} && ip addr add fd00:{n}::1/64 dev hi{i}"));
            // No checksum or segmentation offload on the host's veth end:
            // newipd sees frames as a NIC would, whole and checksummed (an
            // AF_PACKET socket would get TSO super-frames and TCP checksums
            // left for a NIC to fill).
            h.sh(&format!("ethtool -K e{i} tx off tso off gso off >/dev/null"));
            h.sh(&format!(
                "ip addr add 10.0.{n}.2/24 dev e{i} && ip addr add fd00:{n}::2/64 dev e{i} && ip route add default via 10.0.{n}.1 && ip -6 route add default via fd00:{n}::1"
            ));
        }
        Lab { daemon: Some(daemon), hosts, r, dir }
    }

    fn h(&self, i: usize) -> &Netns {
        &self.hosts[i - 1]
    }

    /// SIGINT, the final report; the identity must hold.
    fn stop(&mut self) -> Value {
        let report = self.daemon.take().expect("running").stop();
        assert_eq!(report["identity_holds"], true, "{report:#}");
        assert_eq!(report["mbufs_in_use_end"], report["mbufs_in_use_start"], "mbuf leak: {report:#}");
        report
    }

    fn log(&self) -> Vec<String> {
        self.daemon.as_ref().map(|d| d.err.try_iter().collect()).unwrap_or_default()
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// Ping from `ns` until one answer (the first may wait for ARP / ND on
/// both sides); how long that took.
fn first_answer(ns: &Netns, addr: &str) -> Duration {
    let t = Instant::now();
    wait_until(&format!("a ping answer from {addr}"), LIMIT, || ns.exec(&["ping", "-n", "-c", "1", "-W", "1", addr]).status.success().then_some(()));
    t.elapsed()
}

/// `count` pings 10 ms apart from `ns`: every one answered.
fn all_answered(ns: &Netns, addr: &str, count: u32) {
    let out = ns.exec(&["ping", "-n", "-q", "-c", &count.to_string(), "-i", "0.01", "-W", "2", addr]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains(" 0% packet loss"), "ping {addr}: {text}");
}

fn event(report: &Value, port: &str, name: &str) -> u64 {
    port_of(report, port)["events"][name].as_u64().unwrap_or(0)
}

fn port_of<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["ports"].as_array().and_then(|v| v.iter().find(|p| p["name"] == name)).unwrap_or_else(|| panic!("no port {name}"))
}

fn port_drops(report: &Value, port: &str, reason: &str) -> u64 {
    port_of(report, port)["drops"][reason].as_u64().unwrap_or(0)
}

fn total_event(report: &Value, name: &str) -> u64 {
    report["events"][name].as_u64().unwrap_or(0)
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

/// a. Two hosts, nothing static: IPv4 and IPv6 across newipd, pings to
/// newipd's own addresses (answered by the kernel, punted and injected),
/// traceroute (newipd's time exceeded from the kernel's addresses),
/// iperf3 TCP both ways round in both families; the identity holds and
/// bulk traffic stays on the fast path.
#[test]
fn two_hosts_talk_through_newipd_with_the_kernel_resolving_neighbours() {
    let mut lab = Lab::new("rta", 2, "");
    let (h1, h2) = (lab.h(1), lab.h(2));
    let v4 = first_answer(h1, "10.0.2.2");
    let v6 = first_answer(h1, "fd00:2::2");
    eprintln!("router a: first answer across newipd: IPv4 {}, IPv6 {} (ARP / ND by the kernel, both sides)", ms(v4), ms(v6));
    all_answered(h1, "10.0.2.2", 50);
    all_answered(h1, "fd00:2::2", 50);
    // newipd's own addresses, the near one and the far one, both families.
    for a in ["10.0.1.1", "10.0.2.1", "fd00:1::1", "fd00:2::1"] {
        first_answer(h1, a);
        all_answered(h1, a, 10);
    }
    // traceroute lists newipd by the kernel's address on the port facing h1
    // (newipd's own time exceeded, from the host interface's address).
    for (fam, dst, want) in [("-4", "10.0.2.2", ["10.0.1.1", "10.0.2.2"]), ("-6", "fd00:2::2", ["fd00:1::1", "fd00:2::2"])] {
        let hops = traceroute(h1.name(), fam, dst, &want);
        assert_eq!(hops, want, "traceroute {fam} {dst}");
    }
    // The kernel's neighbours are newipd's next hops.
    let neigh = lab.r.ip_json("neigh show dev hi1");
    assert!(neigh.iter().any(|n| n["dst"] == "10.0.2.2" && n["lladdr"].is_string()), "{neigh:?}");
    for (server, v6) in [("10.0.2.2", false), ("fd00:2::2", true)] {
        let s = IperfServer::start(h2, 5201);
        let r = iperf3_tcp(h1, server, s.port, 3);
        eprintln!(
            "router a: iperf3 TCP {} 3 s: sent {} bytes, received {} ({:.2} Gbit/s), {} retransmits",
            if v6 { "IPv6" } else { "IPv4" },
            r.sent_bytes,
            r.received_bytes,
            r.received_bps / 1e9,
            r.retransmits.unwrap_or(0)
        );
        assert!(r.received_bytes > 1_000_000 && r.received_bytes <= r.sent_bytes, "{:?}", r.json);
    }
    let report = lab.stop();
    let (rx, punted, injected) = (report["rx"].as_u64().unwrap(), total_event(&report, "punted"), total_event(&report, "injected"));
    eprintln!(
        "router a: newipd rx {rx} tx {} punted {punted} injected {injected} dropped {} ({:?}); host interfaces {}",
        report["tx"], report["dropped"], report["drops"], report["host_interfaces"]
    );
    assert!(punted > 0 && injected > 0, "ARP / ND and pings to newipd go through the kernel");
    assert!(punted * 50 < rx, "bulk traffic is forwarded by newipd, not the kernel: {punted} punted of {rx}");
    for reason in ["punt-policed", "punt-queue-full", "no-route", "tx-full"] {
        assert_eq!(report["drops"][reason].as_u64().unwrap_or(0), 0, "{reason}: {:?}", report["drops"]);
    }
    let hi = report["host_interfaces"].as_array().unwrap();
    assert_eq!(hi.len(), 2);
    assert_eq!(hi.iter().map(|h| h["to_kernel"].as_u64().unwrap()).sum::<u64>(), punted, "every punted frame reached the kernel");
    assert_eq!(hi.iter().map(|h| h["from_kernel"].as_u64().unwrap()).sum::<u64>(), injected, "every frame of the kernel was sent");
}

/// A UDP receiver: each datagram (4-byte sequence number, one tag byte) as
/// a line `tag seq arrival_ns`, written at once, until the stop file exists.
const RECEIVER: &str = r#"
import os, socket, sys, time
port, out, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
s.bind(("0.0.0.0", port))
s.settimeout(0.05)
f = open(out, "w", buffering=1)
open(out + ".ready", "w").close()
while not os.path.exists(stop):
    try:
        d = s.recv(64)
    except socket.timeout:
        continue
    f.write("%s %d %d\n" % (d[4:5].decode(), int.from_bytes(d[:4], "big"), time.time_ns()))
f.close()
"#;

/// A UDP sender: `count` rounds `interval` seconds apart, each one datagram
/// to every `ip:port:tag`.
const SENDER: &str = r#"
import socket, sys, time
interval, count = float(sys.argv[1]), int(sys.argv[2])
targets = [(d.split(":")[0], int(d.split(":")[1]), d.split(":")[2].encode()) for d in sys.argv[3:]]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t0 = time.monotonic()
for i in range(count):
    for ip, port, tag in targets:
        try:
            s.sendto(i.to_bytes(4, "big") + tag, (ip, port))
        except OSError:
            pass
    d = t0 + (i + 1) * interval - time.monotonic()
    if d > 0:
        time.sleep(d)
"#;

/// A receiver running in a namespace, its lines read back from its file.
struct Receiver {
    child: Child,
    out: PathBuf,
    stop: PathBuf,
}

impl Receiver {
    fn start(ns: &Netns, dir: &std::path::Path, name: &str) -> Receiver {
        let (out, stop) = (dir.join(format!("{name}.txt")), dir.join(format!("{name}.stop")));
        let child = ns
            .command(&["python3", "-c", RECEIVER, "9000", out.to_str().unwrap(), stop.to_str().unwrap()])
            .stdin(Stdio::null())
            .spawn()
            .expect("python3");
        let ready = out.with_extension("txt.ready");
        wait_until("the receiver listens", LIMIT, || ready.exists().then_some(()));
        Receiver { child, out, stop }
    }

    /// (tag, seq, arrival ns) so far.
    fn lines(&self) -> Vec<(String, u64, u64)> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let mut it = l.split(' ');
                Some((it.next()?.to_string(), it.next()?.parse().ok()?, it.next()?.parse().ok()?))
            })
            .collect()
    }

    fn finish(mut self) -> Vec<(String, u64, u64)> {
        std::fs::write(&self.stop, "").unwrap();
        let _ = self.child.wait();
        self.lines()
    }
}

/// The first arrival of `tag` after `t` (ns), polled for.
fn first_after(r: &Receiver, tag: &str, t: u64) -> u64 {
    wait_until(&format!("'{tag}' datagrams after the change"), LIMIT, || r.lines().iter().find(|l| l.0 == tag && l.2 > t).map(|l| l.2))
}

/// Wait until `tag` stopped arriving (none for 200 ms) after `t`; the last
/// arrival's time (or `t`).
fn last_after(r: &Receiver, tag: &str, t: u64) -> u64 {
    wait_until(&format!("'{tag}' datagrams to stop after the change"), LIMIT, || {
        let last = r.lines().iter().filter(|l| l.0 == tag).map(|l| l.2).max().unwrap_or(0);
        (now_ns().saturating_sub(last.max(t)) > 200_000_000).then_some(last.max(t))
    })
}

/// b. `ip route add / replace / del` in newipd's namespace while traffic
/// runs: the changed prefix follows each change (time measured from the
/// command to the first or last datagram), and traffic to an untouched
/// host loses nothing (every datagram at the receiver; no drop at newipd
/// on its way).
#[test]
fn kernel_route_changes_steer_traffic_while_other_traffic_loses_nothing() {
    let mut lab = Lab::new("rtb", 3, "");
    let (h1, h2, h3) = (lab.h(1), lab.h(2), lab.h(3));
    for h in [h2, h3] {
        h.sh("ip addr add 10.60.0.1/32 dev lo");
    }
    first_answer(h1, "10.0.2.2");
    first_answer(h1, "10.0.3.2");
    let (a2, a3) = (Receiver::start(h2, &lab.dir, "h2"), Receiver::start(h3, &lab.dir, "h3"));
    let r = &lab.r;
    r.sh("ip route add 10.60.0.0/24 via 10.0.3.2");
    // 1 ms apart, 12 s at most: each step waits for its effect, so the
    // whole sequence needs well under that.
    let count = 12_000u64;
    let mut sender = h1
        .command(&["python3", "-c", SENDER, "0.001", &count.to_string(), "10.0.2.2:9000:u", "10.60.0.1:9000:c"])
        .stdin(Stdio::null())
        .spawn()
        .expect("python3");
    let t = now_ns();
    first_after(&a3, "c", t);
    let mut steps = Vec::new();
    let t = now_ns();
    r.sh("ip route replace 10.60.0.0/24 via 10.0.2.2");
    steps.push(("replace via h2: first datagram at h2", first_after(&a2, "c", t) - t));
    let t = now_ns();
    r.sh("ip route replace blackhole 10.60.0.0/24");
    steps.push(("replace by blackhole: last datagram at h2", last_after(&a2, "c", t) - t));
    let t = now_ns();
    r.sh("ip route add 10.60.0.0/25 via 10.0.3.2");
    steps.push(("add a more specific route via h3: first datagram at h3", first_after(&a3, "c", t) - t));
    let t = now_ns();
    r.sh("ip route del 10.60.0.0/25");
    steps.push(("del it (the blackhole again): last datagram at h3", last_after(&a3, "c", t) - t));
    let t = now_ns();
    r.sh("ip route del 10.60.0.0/24");
    let t_del = t;
    r.sh("ip route add 10.60.0.0/24 via 10.0.3.2");
    steps.push(("del, then add via h3: first datagram at h3", first_after(&a3, "c", t_del) - t_del));
    // At least 2000 rounds of the untouched flow, changes included.
    wait_until("2000 datagrams of the untouched flow", LIMIT, || (a2.lines().iter().filter(|l| l.0 == "u").count() >= 2000).then_some(()));
    let _ = sender.kill();
    let _ = sender.wait();
    // What was sent: every round until the kill (the untouched flow's
    // datagrams in flight are given 200 ms to arrive).
    wait_until("the last untouched datagrams", LIMIT, || {
        let l = a2.lines();
        let last = l.iter().filter(|x| x.0 == "u").map(|x| x.2).max().unwrap_or(0);
        (now_ns().saturating_sub(last) > 200_000_000).then_some(())
    });
    let (l2, l3) = (a2.finish(), a3.finish());
    for (what, d) in &steps {
        eprintln!("router b: {what}: {}", ms(Duration::from_nanos(*d)));
    }
    let mut u: Vec<u64> = l2.iter().filter(|l| l.0 == "u").map(|l| l.1).collect();
    u.sort_unstable();
    let sent = u.last().copied().unwrap_or(0) + 1;
    u.dedup();
    assert!(sent >= 2000, "the untouched flow ran: {sent} datagrams");
    assert_eq!(u.len() as u64, sent, "the untouched flow lost {} of {sent} datagrams during the route changes", sent - u.len() as u64);
    assert!(l3.iter().all(|l| l.0 == "c"), "h3 only ever got the changed prefix's traffic");
    let report = lab.stop();
    eprintln!("router b: untouched flow: {sent} datagrams sent, all received; newipd drops {:?}", report["drops"]);
    assert!(port_drops(&report, "p0", "blackhole") > 0, "the blackhole route dropped at newipd: {:?}", report["drops"]);
    // The untouched flow's path (in at p0, out at p1): nothing lost at newipd.
    for reason in ["tx-full", "queue-full", "no-route", "next-hop-unresolved", "punt-policed"] {
        assert_eq!(port_drops(&report, "p1", reason), 0, "{reason} on p1");
    }
    assert!(port_of(&report, "p1")["tx"].as_u64().unwrap() >= sent, "p1 sent the untouched flow");
    assert!(report["rib"]["fib_writes"].as_u64().unwrap() >= 5, "{:?}", report["rib"]);
}

/// An ARP request flood out of `ifname` for `secs` seconds, as fast as
/// Python sends (who-has 10.0.1.1 from a fixed host); prints the count.
const ARP_FLOOD: &str = r#"
import socket, sys, time
ifname, secs = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
me = bytes.fromhex("020000000177")
frame = b"\xff" * 6 + me + b"\x08\x06" + bytes([0, 1, 8, 0, 6, 4, 0, 1]) + me + bytes([10, 0, 1, 77]) + bytes(6) + bytes([10, 0, 1, 1]) + bytes(18)
n, end = 0, time.monotonic() + secs
open(sys.argv[3], "w").close()
while time.monotonic() < end:
    for _ in range(200):
        try:
            s.send(frame)
            n += 1
        except OSError:
            pass
print(n)
"#;

/// d. An ARP flood into one port: the punt path polices it (counted
/// `punt-policed`) and traffic between two other ports keeps at least
/// 90 % of the rate it has without the flood.
#[test]
fn an_arp_flood_is_policed_and_other_traffic_keeps_its_rate() {
    let mut lab = Lab::new("rtd", 3, "");
    let (h1, h2, h3) = (lab.h(1), lab.h(2), lab.h(3));
    first_answer(h2, "10.0.3.2");
    let udp = |label: &str| {
        let s = IperfServer::start(h3, 5201);
        let r = iperf3_udp(h2, "10.0.3.2", s.port, 2, "100M");
        let lost = r.lost_packets.unwrap_or(0);
        eprintln!("router d: {label}: UDP 100 Mbit/s offered, {:.1} Mbit/s received, {lost} of {} lost", r.received_bps / 1e6, r.packets.unwrap_or(0));
        r.received_bps
    };
    let base = udp("without the flood");
    let started = lab.dir.join("flood.started");
    let flood = h1
        .command(&["python3", "-c", ARP_FLOOD, "e0", "5", started.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    wait_until("the flood to start", LIMIT, || started.exists().then_some(()));
    let t = Instant::now();
    let during = udp("during the ARP flood");
    let out = flood.wait_with_output().expect("flood");
    let sent: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0);
    let flood_s = t.elapsed().as_secs_f64().max(5.0);
    let report = lab.stop();
    let policed = port_drops(&report, "p0", "punt-policed");
    let punted = event(&report, "p0", "punted");
    let elapsed = report["elapsed_s"].as_f64().unwrap();
    eprintln!(
        "router d: flood {sent} ARP requests in about {flood_s:.1} s ({:.0} a second); at newipd: punted {punted}, punt-policed {policed}, rx on p0 {}; other traffic {:.0} % of its rate",
        sent as f64 / flood_s,
        port_of(&report, "p0")["rx"],
        100.0 * during / base
    );
    assert!(sent > 20_000, "the flood ran: {sent}");
    assert!(policed > 0, "the policer dropped part of the flood: {:?}", report["drops"]);
    assert!(punted as f64 <= 10_000.0 * elapsed + 1000.0, "at most the default rate (10000/s, burst 1000) went to the kernel: {punted} in {elapsed:.1} s");
    assert!(during >= 0.9 * base, "other traffic kept {:.0} % of its rate", 100.0 * during / base);
}

/// c. FRR (zebra and bgpd) runs on newipd's host interfaces and peers over
/// newipd's port with FRR in a host: the prefixes that host announces reach
/// the kernel, then newipd's FIB, and traffic follows them through newipd;
/// a withdrawal stops it (dropped as no-route at newipd).
#[test]
fn routes_learned_by_frr_over_newipd_steer_newipd() {
    let mut lab = Lab::new("rtc", 2, "");
    let (h1, h2) = (lab.h(1), lab.h(2));
    // The announced prefixes live on a stand-in for a dummy link in h2.
    veth(h2, "stub0", h2, "stub1");
    h2.sh("ip addr add 198.51.100.1/24 dev stub0 && ip addr add 2001:db8:99::1/64 dev stub0");
    let fr = Frr::start(&lab.r, &["bgpd"], &bgp_config(65001, "10.0.2.1", 65002, "10.0.2.2", "fd00:2::2"));
    let fh = Frr::start(h2, &["bgpd"], &bgp_config(65002, "10.0.2.2", 65001, "10.0.2.1", "fd00:2::1"));
    let t = Instant::now();
    fr.wait_bgp_established("10.0.2.2", LIMIT);
    fr.wait_bgp_established("fd00:2::2", LIMIT);
    let up = t.elapsed();
    let t = Instant::now();
    fh.vtysh("configure terminal\nrouter bgp 65002\naddress-family ipv4 unicast\nnetwork 198.51.100.0/24\nexit-address-family\naddress-family ipv6 unicast\nnetwork 2001:db8:99::/64\nexit-address-family");
    wait_kernel_routes(&lab.r, false, "bgp", &["198.51.100.0/24"], LIMIT);
    wait_kernel_routes(&lab.r, true, "bgp", &["2001:db8:99::/64"], LIMIT);
    let learned = t.elapsed();
    let v4 = first_answer(h1, "198.51.100.1");
    let v6 = first_answer(h1, "2001:db8:99::1");
    all_answered(h1, "198.51.100.1", 50);
    all_answered(h1, "2001:db8:99::1", 50);
    let t = Instant::now();
    fh.vtysh("configure terminal\nrouter bgp 65002\naddress-family ipv4 unicast\nno network 198.51.100.0/24");
    wait_kernel_routes(&lab.r, false, "bgp", &[], LIMIT);
    let withdrawn = t.elapsed();
    let out = h1.exec(&["ping", "-n", "-c", "3", "-i", "0.05", "-W", "1", "198.51.100.1"]);
    assert!(!out.status.success(), "no answer after the withdrawal: {}", String::from_utf8_lossy(&out.stdout));
    let log = lab.log();
    let report = lab.stop();
    eprintln!(
        "router c: BGP over newipd: sessions up in {}, announcement to the kernel of newipd's namespace {}, first answer across it IPv4 {} IPv6 {}, withdrawal {}",
        ms(up),
        ms(learned),
        ms(v4),
        ms(v6),
        ms(withdrawn)
    );
    eprintln!("router c: newipd punted {} injected {} drops {:?}", total_event(&report, "punted"), total_event(&report, "injected"), report["drops"]);
    assert!(port_drops(&report, "p0", "no-route") >= 3, "the pings after the withdrawal died at newipd: {:?} (log {log:?})", report["drops"]);
    assert!(port_of(&report, "p1")["tx"].as_u64().unwrap() >= 100, "the 100 pings went out of p1");
    // Forwarded by newipd's FIB, not by the kernel: through the kernel they
    // would have been injected on p1, 100 of them.
    assert!(event(&report, "p1", "injected") < 100, "injected on p1: {}", event(&report, "p1", "injected"));
    fh.stop();
    fr.stop();
}

/// Flows from one socket each (a source port each), three datagrams a
/// flow, the flow number as the sequence number, a flow a millisecond: a
/// port's receive ring (512 frames for net_af_packet) then holds what
/// arrives while newipd's lcore waits for a CPU this busy machine shares,
/// where an unpaced burst of 600 overflowed it.
const FLOWS: &str = r#"
import socket, sys, time
dst, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(3):
        s.sendto(i.to_bytes(4, "big") + b"e", (dst, 9000))
    s.close()
    time.sleep(0.001)
"#;

/// A multipath kernel route (`nexthop via h2 nexthop via h3`): newipd
/// spreads flows over both paths, and every datagram of one flow takes the
/// same one.
#[test]
fn a_multipath_kernel_route_spreads_flows_and_keeps_each_on_one_path() {
    let mut lab = Lab::new("rte", 3, "");
    let (h1, h2, h3) = (lab.h(1), lab.h(2), lab.h(3));
    for h in [h2, h3] {
        h.sh("ip addr add 10.70.0.1/32 dev lo");
    }
    first_answer(h1, "10.0.2.2");
    first_answer(h1, "10.0.3.2");
    lab.r.sh("ip route add 10.70.0.0/24 nexthop via 10.0.2.2 nexthop via 10.0.3.2");
    let (a2, a3) = (Receiver::start(h2, &lab.dir, "h2"), Receiver::start(h3, &lab.dir, "h3"));
    let flows = 200u64;
    let out = h1.exec(&["python3", "-c", FLOWS, "10.70.0.1", &flows.to_string()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    if poll_until(LIMIT, || (a2.lines().len() + a3.lines().len() >= 3 * flows as usize).then_some(())).is_none() {
        let got = a2.lines().len() + a3.lines().len();
        let report = lab.stop();
        panic!("{got} of {} datagrams arrived in {LIMIT:?}; newipd: rx on p0 {}, drops {}", 3 * flows, port_of(&report, "p0")["rx"], report["drops"]);
    }
    let (l2, l3) = (a2.finish(), a3.finish());
    let ids = |l: &[(String, u64, u64)]| l.iter().map(|x| x.1).collect::<std::collections::BTreeSet<u64>>();
    let (f2, f3) = (ids(&l2), ids(&l3));
    eprintln!("router e: {flows} flows over two equal paths: {} by h2, {} by h3", f2.len(), f3.len());
    assert_eq!(f2.intersection(&f3).count(), 0, "a flow split over both paths");
    assert_eq!(f2.len() + f3.len(), flows as usize, "every flow arrived");
    assert!(f2.len() >= 60 && f3.len() >= 60, "both paths carry a fair share: {} / {}", f2.len(), f3.len());
    let report = lab.stop();
    assert!(event(&report, "p1", "injected") < 10 && event(&report, "p2", "injected") < 10, "forwarded by newipd, not the kernel");
}

/// SIGUSR1 until newipd says how many kernel routes its FIB holds and
/// `done` likes the number; that number.
fn fib_kernel_routes(lab: &Lab, limit: Duration, done: impl Fn(u64) -> bool) -> u64 {
    let d = lab.daemon.as_ref().expect("running");
    let mut last = String::new();
    let got = poll_until(limit, || {
        sh(&["kill", "-USR1", &d.pid().to_string()]);
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(2) {
            let Ok(l) = d.out.recv_timeout(Duration::from_millis(200)) else { continue };
            if let Some(rest) = l.trim_start().strip_prefix("routes in the FIB: ") {
                let k: u64 = rest.split(", ").find_map(|x| x.strip_suffix(" kernel")).and_then(|x| x.parse().ok()).unwrap_or(0);
                last = rest.to_string();
                return done(k).then_some(k);
            }
        }
        None
    });
    got.unwrap_or_else(|| panic!("newipd's FIB did not get there in {limit:?}; last said: {last}; its log: {:?}", lab.log()))
}

/// The kernel's main-table prefixes in a namespace (IPv4 and IPv6).
fn kernel_prefixes(ns: &Netns) -> usize {
    let mut set = std::collections::BTreeSet::new();
    for fam in ["-4", "-6"] {
        for r in ns.ip_json(&format!("{fam} route show table main")) {
            set.insert(r["dst"].as_str().unwrap_or("?").to_string());
        }
    }
    set.len()
}

/// 100,000 routes added to the kernel at once (`newipd install-routes`:
/// batched requests, the fastest burst), then deleted (`ip -batch`):
/// newipd's FIB ends holding exactly the kernel's routes each time (the
/// mirror overruns and resyncs on the way, or keeps up), and sampled
/// destinations across the table are forwarded by newipd to the gateway.
#[test]
fn a_100k_route_burst_in_the_kernel_ends_equal_in_newipds_fib() {
    let mut lab = Lab::new("rtf", 2, "");
    let (h1, h2) = (lab.h(1), lab.h(2));
    first_answer(h1, "10.0.2.2");
    // h2 takes every 20.0.0.0/8 address as its own (AnyIP).
    h2.sh("ip route add local 20.0.0.0/8 dev lo");
    let base = fib_kernel_routes(&lab, LIMIT, |_| true);
    assert_eq!(base as usize, kernel_prefixes(&lab.r), "before the burst");
    let n = 100_000u32;
    let prefix = |i: u32| format!("20.{}.{}.0/24", i >> 16 & 0xff, i >> 8 & 0xff).replace(".0/24", &format!(".{}/32", i & 0xff));
    let add: String = (0..n).map(|i| format!("route add {} via 10.0.2.2\n", prefix(i))).collect();
    let del: String = (0..n).map(|i| format!("route del {}\n", prefix(i))).collect();
    let (fa, fd) = (lab.dir.join("add.batch"), lab.dir.join("del.batch"));
    std::fs::write(&fa, add).unwrap();
    std::fs::write(&fd, del).unwrap();
    let t = Instant::now();
    let out = lab.r.exec(&[bin(), "install-routes", &fa.display().to_string()]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("installed {n} route request(s)")), "{}", show(&out));
    let kernel_s = t.elapsed();
    let want = kernel_prefixes(&lab.r) as u64;
    assert_eq!(want, base + n as u64);
    let got = fib_kernel_routes(&lab, Duration::from_secs(60), |k| k == want);
    let equal_s = t.elapsed();
    // 500 destinations spread over the table, paced as the flows above: each
    // reaches h2 through newipd.
    let a2 = Receiver::start(h2, &lab.dir, "h2");
    let picks: Vec<String> = (0..500u32).map(|k| prefix(k * (n / 500) + 7).replace("/32", "")).collect();
    let script = format!(
        "import socket, time\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i, d in enumerate({picks:?}):\n    s.sendto(i.to_bytes(4, 'big') + b's', (d, 9000))\n    time.sleep(0.0005)\n"
    );
    let out = h1.exec(&["python3", "-c", &script]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_until("500 sampled destinations at h2", LIMIT, || (a2.lines().len() >= 500).then_some(()));
    a2.finish();
    let t = Instant::now();
    lab.r.sh(&format!("ip -batch {}", fd.display()));
    let back = fib_kernel_routes(&lab, Duration::from_secs(60), |k| k == base);
    let gone_s = t.elapsed();
    let log = lab.log();
    let overruns = log.iter().filter(|l| l.contains("netlink overrun")).count();
    let report = lab.stop();
    eprintln!(
        "router f: 100k routes: kernel took them in {}, newipd's FIB equal {} after the burst began ({got} kernel routes); deleted: equal again after {} ({back}); {overruns} overrun(s); FIB writes {}, deletes {}, refused {}",
        ms(kernel_s),
        ms(equal_s),
        ms(gone_s),
        report["rib"]["fib_writes"],
        report["rib"]["fib_deletes"],
        report["rib"]["fib_errors"]
    );
    assert_eq!(report["rib"]["fib_errors"], 0);
    assert_eq!(report["rib"]["kernel_routes"].as_u64(), Some(base));
}

/// Pipelined (an RX lcore handing over to a TX lcore): punts come from the
/// RX lcore's ring, the kernel's frames leave through the TX lcore that owns
/// the port; pings across newipd and to its addresses, both families, the
/// identity exact.
#[test]
fn host_interfaces_work_pipelined_too() {
    let mut lab = Lab::on("rtg", 2, "[lcores]\nrx = [1]\ntx = [2]", Some("--lcores=0@0,1@0,2@1"));
    let h1 = lab.h(1);
    for a in ["10.0.2.2", "fd00:2::2", "10.0.1.1", "fd00:2::1"] {
        first_answer(h1, a);
        all_answered(h1, a, 20);
    }
    let report = lab.stop();
    eprintln!("router g: pipelined: punted {} injected {} rx {} tx {}", total_event(&report, "punted"), total_event(&report, "injected"), report["rx"], report["tx"]);
    assert!(total_event(&report, "punted") > 0 && total_event(&report, "injected") > 0);
    assert_eq!(report["lcores"], serde_json::json!([1, 2]), "ran pipelined");
}
