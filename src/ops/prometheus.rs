//! Prometheus text exposition (format 0.0.4) of a [`Snapshot`], and a tiny
//! HTTP/1.1 server for it on std::net (one request per connection, GET only).

use super::exporter::Latest;
use super::snapshot::Snapshot;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// One metric family: HELP and TYPE lines, then samples.
struct Family<'a> {
    out: &'a mut String,
}

impl<'a> Family<'a> {
    fn new(out: &'a mut String, name: &str, kind: &str, help: &str) -> Family<'a> {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        Family { out }
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], v: impl std::fmt::Display) -> &mut Self {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape(val));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {v}");
        self
    }
}

/// Label values escape backslash, double quote and newline.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The metrics of `s` in the Prometheus text format.
pub fn render(s: &Snapshot) -> String {
    let mut o = String::new();
    type PortField = fn(&super::snapshot::PortSnap) -> u64;
    let per_port: [(&str, &str, &str, PortField); 5] = [
        ("newipd_rx_packets_total", "counter", "Packets received per port.", |p| p.rx),
        ("newipd_tx_packets_total", "counter", "Packets sent per port.", |p| p.tx),
        ("newipd_rx_bytes_total", "counter", "Bytes received per port.", |p| p.rx_bytes),
        ("newipd_tx_bytes_total", "counter", "Bytes sent per port.", |p| p.tx_bytes),
        ("newipd_queued_packets", "gauge", "Packets held for the egress port (deadline queue and TX buffer).", |p| p.queued),
    ];
    for (name, kind, help, get) in per_port {
        let mut f = Family::new(&mut o, name, kind, help);
        for p in &s.ports {
            f.sample(name, &[("port", &p.name)], get(p));
        }
    }
    let mut f = Family::new(&mut o, "newipd_dropped_packets_total", "counter", "Packets dropped, by reason (all ports).");
    for r in newipd_core::kinds::Reason::ALL {
        f.sample("newipd_dropped_packets_total", &[("reason", r.name())], s.drops.get(r.name()).copied().unwrap_or(0));
    }
    Family::new(&mut o, "newipd_created_packets_total", "counter", "Packets newipd made itself (broadcast copies).")
        .sample("newipd_created_packets_total", &[], s.created);
    Family::new(&mut o, "newipd_uptime_seconds", "gauge", "Seconds since the packet loop started.").sample("newipd_uptime_seconds", &[], s.uptime_s);
    Family::new(&mut o, "newipd_in_rings_packets", "gauge", "Packets on rings between lcores (as published; may lag while running).")
        .sample("newipd_in_rings_packets", &[], s.in_rings);
    Family::new(&mut o, "newipd_identity_holds", "gauge", "1 if rx + created == tx + dropped + queued + in_rings in this snapshot.")
        .sample("newipd_identity_holds", &[], u8::from(s.identity_holds));
    for (name, help, get) in [
        ("newipd_class_forwarded_packets_total", "Packets routed towards an egress port, per class.", (|k| k.forwarded) as fn(&super::snapshot::ClassSnap) -> u64),
        ("newipd_class_tx_packets_total", "Packets sent, per class.", |k| k.tx),
    ] {
        let mut f = Family::new(&mut o, name, "counter", help);
        for k in &s.classes {
            f.sample(name, &[("class", &k.name)], get(k));
        }
    }
    for (name, help, e2e) in [
        ("newipd_sojourn_seconds", "Time from the arrival burst to transmit, per class.", false),
        ("newipd_e2e_delay_seconds", "End-to-end delay carried by contracts at transmit, per class.", true),
    ] {
        let mut f = Family::new(&mut o, name, "summary", help);
        for k in &s.classes {
            let p = if e2e { &k.e2e } else { &k.sojourn };
            for (q, v) in newipd_core::stats::histo::Percentiles::QUANTILES.iter().zip(p.values()) {
                f.sample(name, &[("class", &k.name), ("quantile", &q.to_string())], v as f64 / 1e9);
            }
            f.sample(&format!("{name}_sum"), &[("class", &k.name)], p.sum_ns as f64 / 1e9);
            f.sample(&format!("{name}_count"), &[("class", &k.name)], p.count);
        }
    }
    for (name, help, get) in [
        ("newipd_stage_calls_total", "Bursts that did work, per packet loop stage.", (|st| st.calls) as fn(&super::snapshot::StageSnap) -> u64),
        ("newipd_stage_packets_total", "Packets handled, per packet loop stage.", |st| st.vectors),
    ] {
        let mut f = Family::new(&mut o, name, "counter", help);
        for st in &s.stages {
            f.sample(name, &[("stage", &st.name)], get(st));
        }
    }
    let name = "newipd_stage_cycles_per_packet";
    let mut f = Family::new(&mut o, name, "gauge", "TSC cycles per packet per packet loop stage (sampled bursts, since start).");
    for st in &s.stages {
        f.sample(name, &[("stage", &st.name)], st.clocks_per_packet);
    }
    o
}

/// Serve `GET /metrics` from the latest snapshot until the process ends.
/// Runs on the calling (helper) thread.
pub fn serve(listener: TcpListener, latest: Arc<Latest>) {
    for conn in listener.incoming() {
        let Ok(mut c) = conn else { continue };
        let _ = answer(&mut c, &latest);
    }
}

fn answer(c: &mut TcpStream, latest: &Latest) -> std::io::Result<()> {
    c.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut req = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 16 * 1024 {
        let n = c.read(&mut buf)?;
        if n == 0 {
            break;
        }
        req.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&req);
    let mut words = line.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let (status, body) = match (method, path.split('?').next().unwrap_or("")) {
        ("GET", "/metrics") => match latest.get() {
            Some(s) => ("200 OK", render(&s)),
            None => ("503 Service Unavailable", "no snapshot yet\n".to_string()),
        },
        ("GET", _) => ("404 Not Found", "try /metrics\n".to_string()),
        _ => ("405 Method Not Allowed", "GET only\n".to_string()),
    };
    write!(
        c,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    c.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::snapshot::tests::sample;

    /// Parse exposition text into (name{labels}, value) pairs, checking the grammar.
    fn parse(text: &str) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        let mut typed = std::collections::HashSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut w = rest.split(' ');
                let name = w.next().unwrap();
                assert!(["counter", "gauge", "summary"].contains(&w.next().unwrap()));
                assert!(typed.insert(name.to_string()), "family {name} declared twice");
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let (key, v) = line.rsplit_once(' ').unwrap();
            let name = key.split('{').next().unwrap();
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{name}");
            let family = name.trim_end_matches("_sum").trim_end_matches("_count");
            assert!(typed.contains(name) || typed.contains(family), "sample before its TYPE: {line}");
            if key.contains('{') {
                assert!(key.ends_with('}'), "{line}");
            }
            out.push((key.to_string(), v.parse::<f64>().unwrap()));
        }
        out
    }

    #[test]
    fn exposition_is_well_formed_and_carries_the_counters() {
        let (names, c, h) = sample();
        let s = Snapshot::build(&names, &c, &h, None, 1.0);
        let m = parse(&render(&s));
        let get = |k: &str| m.iter().find(|(n, _)| n == k).map(|(_, v)| *v).unwrap_or_else(|| panic!("no {k}"));
        assert_eq!(get("newipd_rx_packets_total{port=\"lan\"}"), 10.0);
        assert_eq!(get("newipd_tx_packets_total{port=\"wan\"}"), 6.0);
        assert_eq!(get("newipd_queued_packets{port=\"wan\"}"), 2.0);
        assert_eq!(get("newipd_dropped_packets_total{reason=\"no-route\"}"), 1.0);
        assert_eq!(get("newipd_dropped_packets_total{reason=\"queue-full\"}"), 0.0);
        assert_eq!(get("newipd_class_tx_packets_total{class=\"contract\"}"), 6.0);
        assert_eq!(get("newipd_sojourn_seconds_count{class=\"contract\"}"), 6.0);
        let p99 = get("newipd_sojourn_seconds{class=\"contract\",quantile=\"0.99\"}");
        assert!((19e-6..21e-6).contains(&p99), "{p99}");
        assert_eq!(get("newipd_stage_packets_total{stage=\"rx\"}"), 10.0);
        assert_eq!(get("newipd_stage_cycles_per_packet{stage=\"rx\"}"), 20.0);
        assert_eq!(get("newipd_identity_holds"), 1.0);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
