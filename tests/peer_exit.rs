//! A memif peer that exits under full load, twenty times over, leaves
//! newipd running: newipd is the memif server, `newipd gen --live` the
//! client sending as fast as it can; each round the client is killed
//! (SIGKILL, no goodbye) once newipd has received from it, and a new one
//! connects. At the end newipd still forwards, stops with its report, the
//! identity holds and no mbuf is lost.

mod common;
use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// newipd's rx counter on port `m`, from the report SIGUSR1 prints.
fn rx_of_m(d: &Daemon) -> Option<u64> {
    sh(&["kill", "-USR1", &d.pid().to_string()]);
    let until = Instant::now() + Duration::from_secs(2);
    while let Ok(l) = d.out.recv_timeout(until.saturating_duration_since(Instant::now())) {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.first() == Some(&"m") {
            return f.get(1).and_then(|x| x.parse().ok());
        }
    }
    None
}

#[test]
fn a_memif_peer_killed_under_load_twenty_times_leaves_newipd_running() {
    let dir = tmpdir("peer-exit");
    let sock = dir.join("m.sock");
    let pipeline = format!(
        r#"
[settings]
idle_sleep_us = 20

[[port]]
name = "m"
device = "net_memif0,role=server,socket={},socket-abstract=no"

[[port]]
name = "out"
device = "net_null0,no-rx=1"

[[route]]
prefix = "10.0.0.0/8"
port = "out"
next_hop_mac = "02:00:00:00:00:99"
"#,
        sock.display()
    );
    let mut d = Daemon::start(&dir, &pipeline);
    let mut last = 0;
    for round in 0..20 {
        let mut gen = Command::new(bin())
            .args(["gen", "--live", &format!("--port=net_memif0,role=client,socket={},socket-abstract=no", sock.display())])
            .args(["--kind", "ipv4", "--rate", "20000000", "--duration", "60", "--"])
            .args(eal(&format!("peer-gen-{round}")))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn gen");
        // Under load: newipd has received 100,000 packets from this client
        // (it sends as fast as it can: the target rate is far above this VM's).
        let got = poll_until(Duration::from_secs(30), || rx_of_m(&d).filter(|&rx| rx > last + 100_000));
        let _ = gen.kill();
        let _ = gen.wait();
        last = got.unwrap_or_else(|| panic!("round {round}: newipd received nothing from the new client"));
        assert!(d.try_alive(), "round {round}: newipd died when its peer was killed");
    }
    let r = d.stop();
    assert_eq!(r["identity_holds"], true, "{r}");
    assert_eq!(r["mbufs_in_use_end"], r["mbufs_in_use_start"], "{r}");
    assert!(r["rx"].as_u64().unwrap() >= last);
    let dropped: u64 = r["drops"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(dropped, 0, "every packet the clients got across was forwarded: {}", r["drops"]);
    eprintln!("peer exit: 20 clients killed under load; newipd received {} packets, forwarded {}, dropped {:?}", r["rx"], r["tx"], r["drops"]);
}
