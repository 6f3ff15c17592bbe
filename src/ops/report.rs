//! The run report: per-port packets and drops by reason, totals, rate, the
//! accounting identity, mbuf accounting. Printed for people, saved as JSON
//! for scripts (`--report-json`).

use newipd_core::stats::counters::Counters;
use newipd_core::kinds::{Event, Reason};
use super::snapshot::{stage_snaps, write_tables, ClassSnap, StageSnap};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;

/// One port's line in the report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PortReport {
    pub name: String,
    pub device: String,
    /// The port's own MAC address (the source of what it sends).
    #[serde(default)]
    pub mac: String,
    pub rx: u64,
    pub rx_bytes: u64,
    pub tx: u64,
    pub tx_bytes: u64,
    /// Drops counted at this port (ingress checks, or TX queue full on egress), by reason.
    pub drops: BTreeMap<String, u64>,
    /// Non-drop events at this port (unknown TLVs skipped, pings answered, ...).
    #[serde(default)]
    pub events: BTreeMap<String, u64>,
    /// What the driver counted (ipackets, opackets, imissed, ...), if asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hw: Option<BTreeMap<String, u64>>,
}

/// The shortest span a rate is computed over (1 ms).
pub const MIN_RATE_SPAN_S: f64 = 0.001;

/// The whole report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub ports: Vec<PortReport>,
    pub rx: u64,
    pub tx: u64,
    pub dropped: u64,
    /// Packets still held in newipd's deadline queues; 0 after a clean stop.
    pub queued: u64,
    /// Packets on rings between lcores (enqueued minus dequeued); 0 after a clean stop.
    #[serde(default)]
    pub in_rings: i64,
    pub drops: BTreeMap<String, u64>,
    #[serde(default)]
    pub events: BTreeMap<String, u64>,
    /// Packets newipd made itself (broadcast copies, ICMP errors, packets
    /// the kernel sent on host interfaces); the identity counts them with rx.
    #[serde(default)]
    pub created: u64,
    /// Packets handed to the kernel on host interfaces; the identity counts
    /// them with tx.
    #[serde(default)]
    pub punted: u64,
    /// Seconds the packet loop ran (with `--until-idle`: until the last
    /// packet arrived).
    pub elapsed_s: f64,
    /// Packets per second over `elapsed_s`, in millions; None (`null`) when
    /// packets flowed for less than [`MIN_RATE_SPAN_S`]: a rate over such a
    /// span says nothing (5 packets in one burst would read as thousands of
    /// Mpps).
    pub rx_mpps: Option<f64>,
    pub tx_mpps: Option<f64>,
    /// Host interfaces: frames to and from the kernel (empty without any).
    #[serde(default)]
    pub host_interfaces: Vec<crate::control::hostif::HostReport>,
    /// What the RIB did (with host interfaces).
    #[serde(default)]
    pub rib: Option<crate::control::rib::RibStats>,
    /// `rx + created == tx + punted + dropped + queued + in_rings`.
    pub identity_holds: bool,
    pub mbufs_in_use_start: u64,
    pub mbufs_in_use_end: u64,
    pub lcores: Vec<u32>,
    /// Heap allocations made by the packet lcores inside their loops (must be 0);
    /// `None` when the program does not count allocations.
    #[serde(default)]
    pub packet_loop_heap_allocations: Option<u64>,
    /// Per traffic class: packets and latency percentiles (filled by the run).
    #[serde(default)]
    pub classes: Vec<ClassSnap>,
    /// Per packet loop stage: calls, packets, cycles (VPP `show runtime` style).
    #[serde(default)]
    pub stages: Vec<StageSnap>,
    /// CPU seconds the packet lcores' loops used, summed (less than `elapsed_s` per lcore when
    /// other work preempted it); `tx` per CPU second is a load-independent rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packet_lcore_cpu_s: Option<f64>,
}

impl Report {
    /// Build from summed counters. `ports` gives (name, device) in pipeline order.
    pub fn new(ports: &[(String, String)], c: &Counters, queued: u64, elapsed_s: f64) -> Report {
        let mut out = Vec::new();
        let mut all = BTreeMap::new();
        let mut all_events = BTreeMap::new();
        for (i, (name, device)) in ports.iter().enumerate() {
            let p = &c.ports[i];
            let mut drops = BTreeMap::new();
            for r in Reason::ALL {
                let n = p.drops[*r as usize];
                if n > 0 {
                    drops.insert(r.name().to_string(), n);
                    *all.entry(r.name().to_string()).or_insert(0) += n;
                }
            }
            let mut events = BTreeMap::new();
            for e in Event::ALL {
                let n = p.events[*e as usize];
                if n > 0 {
                    events.insert(e.name().to_string(), n);
                    *all_events.entry(e.name().to_string()).or_insert(0) += n;
                }
            }
            out.push(PortReport {
                name: name.clone(),
                device: device.clone(),
                mac: String::new(),
                rx: p.rx,
                rx_bytes: p.rx_bytes,
                tx: p.tx,
                tx_bytes: p.tx_bytes,
                drops,
                events,
                hw: None,
            });
        }
        let t = c.total();
        let in_rings = c.in_rings();
        let rate = |n: u64| (elapsed_s >= MIN_RATE_SPAN_S).then(|| n as f64 / elapsed_s / 1e6);
        Report {
            ports: out,
            rx: t.rx,
            tx: t.tx,
            dropped: t.dropped(),
            queued,
            in_rings,
            drops: all,
            events: all_events,
            created: t.created(),
            punted: t.punted(),
            elapsed_s,
            rx_mpps: rate(t.rx),
            tx_mpps: rate(t.tx),
            host_interfaces: Vec::new(),
            rib: None,
            identity_holds: (t.rx + t.created()) as i128 == (t.tx + t.punted() + t.dropped() + queued) as i128 + in_rings as i128,
            mbufs_in_use_start: 0,
            mbufs_in_use_end: 0,
            lcores: Vec::new(),
            packet_loop_heap_allocations: None,
            classes: Vec::new(),
            stages: stage_snaps(&c.stages),
            packet_lcore_cpu_s: None,
        }
    }

    /// The report for people.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "newipd report: {:.3} s on lcore(s) {:?}", self.elapsed_s, self.lcores);
        let _ = writeln!(s, "  {:<12} {:>12} {:>12} {:>12}  device", "port", "rx", "tx", "dropped");
        for p in &self.ports {
            let d: u64 = p.drops.values().sum();
            let _ = writeln!(s, "  {:<12} {:>12} {:>12} {:>12}  {}", p.name, p.rx, p.tx, d, p.device);
            for (r, n) in &p.drops {
                let _ = writeln!(s, "  {:<12}   {:<28} {:>12}", "", r, n);
            }
            if let Some(hw) = &p.hw {
                let nz: Vec<String> = hw.iter().filter(|(_, v)| **v > 0).map(|(k, v)| format!("{k}={v}")).collect();
                if !nz.is_empty() {
                    let _ = writeln!(s, "  {:<12}   hw: {}", "", nz.join(" "));
                }
            }
        }
        let _ = writeln!(s, "  total: rx {} tx {} dropped {} queued {} in rings {}", self.rx, self.tx, self.dropped, self.queued, self.in_rings);
        if !self.drops.is_empty() {
            let _ = writeln!(s, "  drops by reason:");
            for (r, n) in &self.drops {
                let _ = writeln!(s, "    {:<28} {:>12}", r, n);
            }
        }
        if !self.events.is_empty() {
            let _ = writeln!(s, "  events:");
            for (e, n) in &self.events {
                let _ = writeln!(s, "    {:<28} {:>12}", e, n);
            }
        }
        if let Some(r) = &self.rib {
            let _ = writeln!(
                s,
                "  routes in the FIB: {} own address(es), {} pipeline, {} kernel, {} neighbour; {} written, {} deleted, {} refused",
                r.own_addresses, r.pipeline_routes, r.kernel_routes, r.neighbour_routes, r.fib_writes, r.fib_deletes, r.fib_errors
            );
        }
        for h in &self.host_interfaces {
            let _ = writeln!(
                s,
                "  host interface {} (port {}): to the kernel {} (refused {}), from the kernel {} (dropped {})",
                h.host_interface, h.port, h.to_kernel, h.to_kernel_refused, h.from_kernel, h.from_kernel_dropped
            );
        }
        match (self.rx_mpps, self.tx_mpps) {
            (Some(rx), Some(tx)) => {
                let _ = writeln!(s, "  rate: rx {rx:.3} Mpps, tx {tx:.3} Mpps");
            }
            _ => {
                let _ = writeln!(s, "  rate: not measured (packets flowed for {:.3} ms, under {} ms)", self.elapsed_s * 1e3, MIN_RATE_SPAN_S * 1e3);
            }
        }
        if let Some(cpu) = self.packet_lcore_cpu_s.filter(|c| *c >= MIN_RATE_SPAN_S) {
            let _ = writeln!(s, "  packet lcore CPU: {:.3} s, all packet lcores ({:.3} Mpps tx per CPU second)", cpu, self.tx as f64 / cpu / 1e6);
        }
        let _ = writeln!(
            s,
            "  identity rx{} = tx{} + dropped + queued + in rings: {} = {}{} + {} + {} + {} {}",
            if self.created > 0 { " + created" } else { "" },
            if self.punted > 0 { " + punted" } else { "" },
            self.rx + self.created,
            self.tx,
            if self.punted > 0 { format!(" + {}", self.punted) } else { String::new() },
            self.dropped,
            self.queued,
            self.in_rings,
            if self.identity_holds { "(holds)" } else { "(BROKEN)" }
        );
        let _ = writeln!(
            s,
            "  mbufs in use: {} at start, {} at end{}",
            self.mbufs_in_use_start,
            self.mbufs_in_use_end,
            if self.mbufs_in_use_end > self.mbufs_in_use_start { " (LEAK)" } else { "" }
        );
        if let Some(n) = self.packet_loop_heap_allocations {
            let _ = writeln!(s, "  heap allocations in the packet loop: {n}");
        }
        write_tables(&mut s, &self.classes, &self.stages);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_sums_and_checks_identity() {
        let mut c = Counters::default();
        for _ in 0..5 {
            c.rx(0, 1, 60);
        }
        c.tx(1, 3, 180);
        c.drop(0, Reason::NoRoute, 1);
        c.drop(1, Reason::TxFull, 1);
        let ports = [("a".to_string(), "net_null0".to_string()), ("b".to_string(), "net_null1".to_string())];
        let r = Report::new(&ports, &c, 0, 2.0);
        assert!(r.identity_holds);
        assert_eq!(r.drops["no-route"], 1);
        assert_eq!(r.ports[1].drops["tx-full"], 1);
        assert!((r.rx_mpps.expect("2 s is long enough") - 2.5e-6).abs() < 1e-12);
        // Five packets within a microsecond: no rate, said so.
        let short = Report::new(&ports, &c, 0, 0.000_001);
        assert_eq!((short.rx_mpps, short.tx_mpps), (None, None));
        assert!(short.render().contains("rate: not measured"), "{}", short.render());
        let text = r.render();
        assert!(text.contains("(holds)"));
        let back: Report = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        let broken = Report::new(&ports, &c, 1, 2.0);
        assert!(!broken.identity_holds);
    }
}
