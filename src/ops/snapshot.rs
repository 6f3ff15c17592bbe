//! A point-in-time view of every statistic, summed over lcores: what the
//! live view prints, `--stats-json` writes (one object per line), the
//! Prometheus endpoint and DPDK telemetry serve, and the final report embeds.

use newipd_core::class::MAX_CLASSES;
use newipd_core::stats::counters::Counters;
use newipd_core::stats::histo::{ClassHistograms, Percentiles};
use newipd_core::kinds::Reason;
use newipd_core::stats::stages::{Stage, StageCounters};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Names the pipeline gives to ports and classes (in index order).
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub ports: Vec<String>,
    pub classes: Vec<String>,
}

/// One port at a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PortSnap {
    pub name: String,
    pub rx: u64,
    pub tx: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub dropped: u64,
    /// Packets held for this egress port (deadline queue and TX buffer).
    pub queued: u64,
    /// Packets per second since the previous snapshot.
    pub rx_pps: f64,
    pub tx_pps: f64,
}

/// One traffic class: packets and latency (ns).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassSnap {
    pub name: String,
    /// Packets routed towards an egress port in this class.
    pub forwarded: u64,
    pub tx: u64,
    /// Time inside newipd, arrival burst to transmit, since start.
    pub sojourn: Percentiles,
    /// End-to-end delay the packet's contract reports at transmit, since start.
    pub e2e: Percentiles,
}

/// One stage of the packet loop, as VPP's `show runtime`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageSnap {
    pub name: String,
    pub calls: u64,
    pub vectors: u64,
    /// TSC clocks of the timed (sampled) bursts.
    pub clocks: u64,
    pub vectors_per_call: f64,
    pub clocks_per_packet: f64,
}

/// Everything at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Counts snapshots from 0.
    pub seq: u64,
    /// Seconds since the packet loop started.
    pub uptime_s: f64,
    pub rx: u64,
    pub tx: u64,
    pub dropped: u64,
    /// Packets held in deadline queues (TX buffers are empty between poll rounds).
    pub queued: u64,
    /// Packets on rings between lcores (enqueued minus dequeued as published;
    /// may lag, even below 0, while running; the identity holds with it).
    #[serde(default)]
    pub in_rings: i64,
    /// Packets newipd made (broadcast copies).
    pub created: u64,
    /// `rx + created == tx + punted + dropped + queued + in_rings` in this snapshot.
    pub identity_holds: bool,
    pub rx_pps: f64,
    pub tx_pps: f64,
    pub ports: Vec<PortSnap>,
    /// Drops by reason (reasons with drops only).
    pub drops: BTreeMap<String, u64>,
    pub classes: Vec<ClassSnap>,
    pub stages: Vec<StageSnap>,
}

/// Per-stage lines from summed stage counters.
pub fn stage_snaps(s: &StageCounters) -> Vec<StageSnap> {
    Stage::ALL
        .iter()
        .map(|st| {
            let i = *st as usize;
            let per = |a: u64, b: u64| if b > 0 { a as f64 / b as f64 } else { 0.0 };
            StageSnap {
                name: st.name().to_string(),
                calls: s.calls[i],
                vectors: s.vectors[i],
                clocks: s.clocks[i],
                vectors_per_call: per(s.vectors[i], s.calls[i]),
                clocks_per_packet: s.clocks_per_packet(*st),
            }
        })
        .collect()
}

/// Per-class lines for the named classes.
pub fn class_snaps(names: &[String], c: &Counters, h: &ClassHistograms) -> Vec<ClassSnap> {
    names
        .iter()
        .take(MAX_CLASSES)
        .enumerate()
        .map(|(i, name)| {
            let (sojourn, e2e) = h.summary(i);
            ClassSnap { name: name.clone(), forwarded: c.classes[i].forwarded, tx: c.classes[i].tx, sojourn, e2e }
        })
        .collect()
}

impl Snapshot {
    /// Build from summed counters and histograms; rates against `prev`.
    pub fn build(names: &Names, c: &Counters, h: &ClassHistograms, prev: Option<&Snapshot>, uptime_s: f64) -> Snapshot {
        let dt = prev.map(|p| uptime_s - p.uptime_s).unwrap_or(uptime_s);
        let rate = |now: u64, before: u64| if dt > 0.0 { now.saturating_sub(before) as f64 / dt } else { 0.0 };
        let ports: Vec<PortSnap> = names
            .ports
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let p = &c.ports[i];
                let before = prev.and_then(|s| s.ports.get(i));
                PortSnap {
                    name: name.clone(),
                    rx: p.rx,
                    tx: p.tx,
                    rx_bytes: p.rx_bytes,
                    tx_bytes: p.tx_bytes,
                    dropped: p.dropped(),
                    queued: p.queued,
                    rx_pps: rate(p.rx, before.map_or(0, |b| b.rx)),
                    tx_pps: rate(p.tx, before.map_or(0, |b| b.tx)),
                }
            })
            .collect();
        let t = c.total();
        let mut drops = BTreeMap::new();
        for r in Reason::ALL {
            let n = t.drops[*r as usize];
            if n > 0 {
                drops.insert(r.name().to_string(), n);
            }
        }
        Snapshot {
            seq: prev.map_or(0, |p| p.seq + 1),
            uptime_s,
            rx: t.rx,
            tx: t.tx,
            dropped: t.dropped(),
            queued: c.lcore.held,
            in_rings: c.in_rings(),
            created: t.created(),
            identity_holds: (t.rx + t.created()) as i128 == (t.tx + t.punted() + t.dropped() + c.lcore.held) as i128 + c.in_rings() as i128,
            rx_pps: rate(t.rx, prev.map_or(0, |p| p.rx)),
            tx_pps: rate(t.tx, prev.map_or(0, |p| p.tx)),
            ports,
            drops,
            classes: class_snaps(&names.classes, c, h),
            stages: stage_snaps(&c.stages),
        }
    }
}

/// Microseconds with one decimal, for tables.
fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1000.0)
}

/// The class latency and stage tables (shared by the live view and the report).
pub fn write_tables(s: &mut String, classes: &[ClassSnap], stages: &[StageSnap]) {
    if classes.iter().any(|k| k.forwarded > 0 || k.tx > 0) {
        let _ = writeln!(
            s,
            "  {:<16} {:>12} {:>12} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11}",
            "class", "forwarded", "tx", "p50 us", "p99 us", "p99.9 us", "max us", "e2e p50 us", "e2e p99 us"
        );
        for k in classes.iter().filter(|k| k.forwarded > 0 || k.tx > 0) {
            let (q, e) = (&k.sojourn, &k.e2e);
            let e2e = |v: u64| if e.count > 0 { us(v) } else { "-".into() };
            let _ = writeln!(
                s,
                "  {:<16} {:>12} {:>12} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11}",
                k.name,
                k.forwarded,
                k.tx,
                us(q.p50_ns),
                us(q.p99_ns),
                us(q.p999_ns),
                us(q.max_ns),
                e2e(e.p50_ns),
                e2e(e.p99_ns)
            );
        }
    }
    if stages.iter().any(|st| st.calls > 0) {
        let _ = writeln!(s, "  {:<16} {:>12} {:>14} {:>10} {:>12}", "stage", "calls", "vectors", "vec/call", "clocks/pkt");
        for st in stages {
            let _ = writeln!(
                s,
                "  {:<16} {:>12} {:>14} {:>10.1} {:>12.1}",
                st.name, st.calls, st.vectors, st.vectors_per_call, st.clocks_per_packet
            );
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use newipd_core::class::{Classes, CONTRACT};

    pub(crate) fn sample() -> (Names, Counters, ClassHistograms) {
        let names = Names { ports: vec!["lan".into(), "wan".into()], classes: Classes::default().names() };
        let mut c = Counters::default();
        for _ in 0..10 {
            c.rx(0, 1, 100);
        }
        c.tx(1, 6, 600);
        c.drop(0, Reason::NoRoute, 1);
        c.drop(1, Reason::NewipLate, 1);
        c.set_queued(1, 2);
        c.lcore.held = 2;
        c.class_forwarded(CONTRACT, 9);
        c.class_tx(CONTRACT, 6);
        c.stages.record(Stage::Rx, 10, Some(200));
        let mut h = ClassHistograms::default();
        h.sojourn(CONTRACT, 20_000, 6);
        h.e2e(CONTRACT, 3_000_000, 1);
        (names, c, h)
    }

    #[test]
    fn snapshot_sums_rates_and_identity() {
        let (names, mut c, h) = sample();
        let a = Snapshot::build(&names, &c, &h, None, 1.0);
        assert!(a.identity_holds, "{a:?}");
        assert_eq!((a.rx, a.tx, a.dropped, a.queued), (10, 6, 2, 2));
        assert_eq!(a.drops["no-route"], 1);
        assert_eq!(a.ports[1].queued, 2);
        assert_eq!(a.classes[CONTRACT as usize].sojourn.count, 6);
        assert_eq!(a.stages[0].clocks_per_packet, 20.0);
        assert_eq!(a.stages[0].vectors_per_call, 10.0);
        for _ in 0..4 {
            c.rx(0, 1, 100);
        }
        c.drop(0, Reason::NoRoute, 4);
        let b = Snapshot::build(&names, &c, &h, Some(&a), 3.0);
        assert_eq!(b.seq, 1);
        assert_eq!(b.rx_pps, 2.0);
        assert_eq!(b.ports[0].rx_pps, 2.0);
        assert!(b.identity_holds);
        c.lcore.ring_enqueued = 3;
        c.lcore.ring_dequeued = 1;
        c.drop(0, Reason::NoRoute, 0);
        c.lcore.held = 0;
        let r = Snapshot::build(&names, &c, &h, Some(&b), 3.5);
        assert_eq!(r.in_rings, 2);
        assert!(r.identity_holds, "2 fewer held, 2 more on rings: {r:?}");
        c.lcore.ring_dequeued = 3;
        assert!(!Snapshot::build(&names, &c, &h, Some(&b), 4.0).identity_holds);
        let line = serde_json::to_string(&b).unwrap();
        assert!(!line.contains('\n'));
        assert_eq!(serde_json::from_str::<Snapshot>(&line).unwrap(), b);
        let mut text = String::new();
        write_tables(&mut text, &b.classes, &b.stages);
        assert!(text.contains("contract") && text.contains("clocks/pkt"), "{text}");
        assert!(!text.contains("best-effort"), "idle classes are left out");
    }
}
