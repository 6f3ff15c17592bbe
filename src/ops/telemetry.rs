//! The answers to newipd's DPDK telemetry commands, built from the latest
//! [`Snapshot`] as plain data (the FFI that hands them to DPDK lives in
//! `newipd_dpdk::telemetry`). DPDK allows one level of nesting and keys made of
//! letters, digits, `_` and `/`, so names are mapped to that alphabet.

use super::snapshot::Snapshot;
pub use newipd_dpdk::telemetry::TelValue;


/// Every command with its help text.
pub const COMMANDS: [(&str, &str); 4] = [
    ("/newipd/stats", "Totals, rates and drops by reason. No parameters."),
    ("/newipd/ports", "Per port: packets, bytes, drops, queue depth. No parameters."),
    ("/newipd/classes", "Per traffic class: packets and latency percentiles (ns). No parameters."),
    ("/newipd/runtime", "Per packet loop stage: calls, packets, cycles. No parameters."),
];

/// A name in the telemetry key alphabet (other characters become `_`).
pub fn key(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '/' { c } else { '_' }).collect()
}

fn u(k: &str, v: u64) -> (String, TelValue) {
    (k.to_string(), TelValue::U64(v))
}

/// The top-level dictionary answering `cmd`, or None for an unknown command.
pub fn answer(cmd: &str, s: &Snapshot) -> Option<Vec<(String, TelValue)>> {
    let out = match cmd {
        "/newipd/stats" => {
            let mut v = vec![
                u("uptime_ms", (s.uptime_s * 1000.0) as u64),
                u("rx", s.rx),
                u("tx", s.tx),
                u("dropped", s.dropped),
                u("queued", s.queued),
                ("in_rings".to_string(), TelValue::Int(s.in_rings)),
                u("created", s.created),
                u("identity_holds", u64::from(s.identity_holds)),
                u("rx_pps", s.rx_pps as u64),
                u("tx_pps", s.tx_pps as u64),
            ];
            v.extend(s.drops.iter().map(|(r, n)| (format!("drop_{}", key(r)), TelValue::U64(*n))));
            v
        }
        "/newipd/ports" => s
            .ports
            .iter()
            .map(|p| {
                let d = vec![
                    u("rx", p.rx),
                    u("tx", p.tx),
                    u("rx_bytes", p.rx_bytes),
                    u("tx_bytes", p.tx_bytes),
                    u("dropped", p.dropped),
                    u("queued", p.queued),
                    u("rx_pps", p.rx_pps as u64),
                    u("tx_pps", p.tx_pps as u64),
                ];
                (key(&p.name), TelValue::Dict(d))
            })
            .collect(),
        "/newipd/classes" => s
            .classes
            .iter()
            .map(|k| {
                let (q, e) = (&k.sojourn, &k.e2e);
                let d = vec![
                    u("forwarded", k.forwarded),
                    u("tx", k.tx),
                    u("sojourn_count", q.count),
                    u("sojourn_p50_ns", q.p50_ns),
                    u("sojourn_p99_ns", q.p99_ns),
                    u("sojourn_p999_ns", q.p999_ns),
                    u("sojourn_max_ns", q.max_ns),
                    u("e2e_count", e.count),
                    u("e2e_p50_ns", e.p50_ns),
                    u("e2e_p99_ns", e.p99_ns),
                ];
                (key(&k.name), TelValue::Dict(d))
            })
            .collect(),
        "/newipd/runtime" => s
            .stages
            .iter()
            .map(|st| {
                let d = vec![
                    u("calls", st.calls),
                    u("vectors", st.vectors),
                    u("clocks", st.clocks),
                    u("clocks_per_packet", st.clocks_per_packet.round() as u64),
                ];
                (key(&st.name), TelValue::Dict(d))
            })
            .collect(),
        _ => return None,
    };
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::snapshot::tests::sample;

    #[test]
    fn every_command_answers_with_valid_keys() {
        let (names, c, h) = sample();
        let s = Snapshot::build(&names, &c, &h, None, 1.5);
        for (cmd, help) in COMMANDS {
            assert!(!help.is_empty());
            let a = answer(cmd, &s).unwrap();
            assert!(!a.is_empty(), "{cmd}");
            for (k, v) in &a {
                assert_eq!(k, &key(k), "{cmd}: key {k}");
                if let TelValue::Dict(d) = v {
                    assert!(d.iter().all(|(k, v)| k == &key(k) && !matches!(v, TelValue::Dict(_))), "nested too deep");
                }
            }
        }
        let stats = answer("/newipd/stats", &s).unwrap();
        assert!(stats.contains(&("rx".to_string(), TelValue::U64(10))));
        assert!(stats.contains(&("drop_no_route".to_string(), TelValue::U64(1))));
        assert!(stats.contains(&("uptime_ms".to_string(), TelValue::U64(1500))));
        assert!(answer("/newipd/nope", &s).is_none());
        assert_eq!(key("best-effort"), "best_effort");
    }
}
