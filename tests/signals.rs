//! No signal a user can send kills newipd without its report: SIGUSR1 and
//! SIGUSR2 print the counters and the run goes on; SIGQUIT, SIGALRM,
//! SIGXCPU, SIGVTALRM, SIGPROF, SIGPWR and SIGIO stop it as SIGINT and
//! SIGTERM do (drain, report, exit 0). The traffic tools stop the same way
//! and survive SIGHUP / SIGUSR1 (tests/live.rs runs them).

mod common;
use common::*;

const PIPELINE: &str = r#"
[settings]
idle_sleep_us = 100

[[port]]
name = "a"
device = "net_null0,no-rx=1"
peer_mac = "02:00:00:00:00:0a"
"#;

fn kill(pid: u32, sig: &str) {
    sh(&["kill", &format!("-{sig}"), &pid.to_string()]);
}

#[test]
fn every_signal_ends_in_a_report_or_is_answered() {
    let dir = tmpdir("signals-usr2");
    let d = Daemon::start(&dir, PIPELINE);
    kill(d.pid(), "USR2");
    wait_for_line(&d.out, "newipd: SIGUSR2: the counters so far", 20);
    kill(d.pid(), "USR1");
    wait_for_line(&d.out, "newipd: SIGUSR1: the counters so far", 20);
    let r = d.stop();
    assert_eq!(r["identity_holds"], true);
    for sig in ["QUIT", "ALRM", "XCPU", "VTALRM", "PROF", "PWR", "IO"] {
        let dir = tmpdir(&format!("signals-{}", sig.to_lowercase()));
        let mut d = Daemon::start(&dir, PIPELINE);
        kill(d.pid(), sig);
        let status = d.wait();
        assert!(status.success(), "SIG{sig}: exit {status:?}");
        let report = std::fs::read_to_string(dir.join("report.json")).unwrap_or_else(|e| panic!("SIG{sig}: no report: {e}"));
        let r: serde_json::Value = serde_json::from_str(&report).unwrap();
        assert_eq!(r["identity_holds"], true, "SIG{sig}");
    }
}
