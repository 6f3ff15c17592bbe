//! What `newipd sink` measures, per flow set of the mix (the probe's class
//! byte; "class" in the report): one-way latency, loss, reordering, duplicates, deliveries before
//! the window's min or after its max, and the experienced delay and hop
//! count the routers wrote into the contract. Pure code, no DPDK; all
//! memory is allocated up front, recording never allocates.
//!
//! Sequence tracking is per stream (a generator-assigned id, never an
//! address) in a fixed table of [`MAX_STREAMS`] entries: the highest
//! sequence number seen plus a 64-bit bitmap of the 64 below it. A packet
//! below the highest is reordered (or a duplicate if its bit is set); one
//! more than 64 behind cannot be told from a duplicate and counts as
//! reordered. Loss is `highest + 1 - unique` summed over streams: packets
//! lost after a stream's last arrival are not seen (compare with the
//! generator's count). Only aggregates are reported.

use super::prebuilt::{MAX_FLOW_SETS, MAX_STREAMS};
use super::probe::{Probe, Window};
use super::span::{describe, Span};
use hdrhistogram::Histogram;
use serde::Serialize;

/// Largest latency the histograms hold (longer ones are recorded as this).
const HIST_MAX_NS: u64 = 60_000_000_000;

#[derive(Debug, Clone, Copy, Default)]
struct Stream {
    /// Highest sequence number seen + 1 (0: nothing yet).
    next: u64,
    /// Bit i: `next - 1 - i` was seen.
    seen: u64,
    set: u8,
}

/// The contract fields a router updates, read at the sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Experienced {
    /// Time the routers accounted along the path, ns.
    pub ns: u64,
    /// Routers traversed (precise LBF `hops`), or `None` when the contract
    /// does not count them (LBF counts down `fib_tohops` instead).
    pub hops: Option<u16>,
}

/// The experienced delay and hop count a frame's contract carries: precise
/// LBF (New IP 0x8001 or the IPv6 option 0x3E), else LBF (type 2, 0.1 ms
/// units, no hop count). `None` for frames without either.
pub fn read_experienced(frame: &[u8]) -> Option<Experienced> {
    use newipd_core::wire::newip as nip;
    let (et, off) = nip::ethernet_payload(frame)?;
    let l3 = frame.get(off..)?;
    match et {
        nip::ETHERTYPE_NEWIP => {
            let h = nip::parse(l3).ok()?;
            if let Some(v) = h.contracts.precise_lbf_value() {
                let p = nip::PreciseLbf::read(l3, v)?;
                return Some(Experienced { ns: p.experienced_ns as u64, hops: Some(p.hops) });
            }
            nip::contracts(l3, &h).find_map(|c| match c {
                Ok(nip::ContractRef::Lbf { experienced_delay, .. }) => Some(Experienced { ns: experienced_delay as u64 * 100_000, hops: None }),
                _ => None,
            })
        }
        nip::ETHERTYPE_IPV6 => {
            let v = nip::find_plbf_option(l3).ok()??;
            let p = nip::PreciseLbf::read(l3, v)?;
            Some(Experienced { ns: p.experienced_ns as u64, hops: Some(p.hops) })
        }
        _ => None,
    }
}

struct FlowSetFigures {
    packets: u64,
    bytes: u64,
    unique: u64,
    duplicates: u64,
    reordered: u64,
    windowed: u64,
    early: u64,
    late: u64,
    window: Window,
    latency: Histogram<u32>,
    experienced: Histogram<u32>,
    /// Packets whose experienced delay exceeds their measured latency.
    experienced_above_latency: u64,
    hops_min: u16,
    hops_max: u16,
    hops_sum: u64,
    hops_n: u64,
}

impl FlowSetFigures {
    fn new() -> FlowSetFigures {
        let h = || Histogram::new_with_bounds(1, HIST_MAX_NS, 3).expect("histogram bounds");
        FlowSetFigures {
            packets: 0,
            bytes: 0,
            unique: 0,
            duplicates: 0,
            reordered: 0,
            windowed: 0,
            early: 0,
            late: 0,
            window: Window::default(),
            latency: h(),
            experienced: h(),
            experienced_above_latency: 0,
            hops_min: u16::MAX,
            hops_max: 0,
            hops_sum: 0,
            hops_n: 0,
        }
    }
}

/// The sink's counters and histograms.
pub struct Meter {
    streams: Box<[Stream]>,
    sets: Vec<FlowSetFigures>,
    /// Every burst received: the rate's span.
    span: Span,
    /// Frames without a probe (or a flow set beyond the table).
    pub unstamped: u64,
    pub unstamped_bytes: u64,
    /// Stamps from the future (clocks not comparable): latency not recorded.
    pub clock_errors: u64,
}

impl Default for Meter {
    fn default() -> Self {
        Self::new()
    }
}

impl Meter {
    /// All tables, allocated once.
    pub fn new() -> Meter {
        Meter {
            streams: vec![Stream::default(); MAX_STREAMS].into_boxed_slice(),
            sets: (0..MAX_FLOW_SETS).map(|_| FlowSetFigures::new()).collect(),
            span: Span::default(),
            unstamped: 0,
            unstamped_bytes: 0,
            clock_errors: 0,
        }
    }

    /// A burst of `packets` frames, `bytes` bytes in all, received at
    /// `rx_ns` (the clock of [`Meter::record`]): the span the rate is
    /// computed over.
    #[inline]
    pub fn burst(&mut self, rx_ns: u64, packets: u64, bytes: u64) {
        self.span.burst(rx_ns, packets, bytes);
    }

    /// A frame of `len` bytes without a probe.
    #[inline]
    pub fn unstamped(&mut self, len: usize) {
        self.unstamped += 1;
        self.unstamped_bytes += len as u64;
    }

    /// A frame of `len` bytes with probe `s`, received at `rx_ns` (same clock
    /// as the probe), with the contract's experienced delay if it has one.
    #[inline]
    pub fn record(&mut self, s: &Probe, len: usize, rx_ns: u64, exp: Option<Experienced>) {
        let Some(c) = self.sets.get_mut(s.set as usize) else {
            self.unstamped(len);
            return;
        };
        c.packets += 1;
        c.bytes += len as u64;
        c.window = s.window;
        if let Some(st) = self.streams.get_mut(s.stream as usize) {
            st.set = s.set;
            if s.seq >= st.next {
                let shift = s.seq - st.next + 1;
                st.seen = if shift >= 64 { 0 } else { st.seen << shift };
                st.seen |= 1;
                st.next = s.seq + 1;
                c.unique += 1;
            } else {
                let back = st.next - 1 - s.seq;
                if back < 64 && st.seen & (1 << back) != 0 {
                    c.duplicates += 1;
                } else {
                    if back < 64 {
                        st.seen |= 1 << back;
                    }
                    c.reordered += 1;
                    c.unique += 1;
                }
            }
        }
        let Some(lat) = rx_ns.checked_sub(s.tx_ns) else {
            self.clock_errors += 1;
            return;
        };
        c.latency.saturating_record(lat.max(1));
        if s.window.min_ns > 0 || s.window.max_ns > 0 {
            c.windowed += 1;
            if lat < s.window.min_ns as u64 {
                c.early += 1;
            }
            if s.window.max_ns > 0 && lat > s.window.max_ns as u64 {
                c.late += 1;
            }
        }
        if let Some(e) = exp {
            c.experienced.saturating_record(e.ns.max(1));
            if e.ns > lat {
                c.experienced_above_latency += 1;
            }
            if let Some(h) = e.hops {
                c.hops_min = c.hops_min.min(h);
                c.hops_max = c.hops_max.max(h);
                c.hops_sum += h as u64;
                c.hops_n += 1;
            }
        }
    }

    /// The report over everything recorded; its rate is over the span of
    /// the bursts ([`Meter::burst`]).
    pub fn report(&self) -> MeterReport {
        let mut lost = [0u64; MAX_FLOW_SETS];
        for st in self.streams.iter().filter(|s| s.next > 0) {
            lost[st.set as usize] += st.next;
        }
        let classes: Vec<SetReport> = self
            .sets
            .iter()
            .enumerate()
            .filter(|(_, c)| c.packets > 0)
            .map(|(i, c)| SetReport {
                set: i as u8,
                packets: c.packets,
                bytes: c.bytes,
                unique: c.unique,
                lost: lost[i].saturating_sub(c.unique),
                duplicates: c.duplicates,
                reordered: c.reordered,
                window: c.window,
                windowed: c.windowed,
                early: c.early,
                late: c.late,
                in_window: c.windowed.saturating_sub(c.early + c.late),
                latency_ns: Percentiles::of(&c.latency),
                experienced_ns: (!c.experienced.is_empty()).then(|| Percentiles::of(&c.experienced)),
                experienced_above_latency: c.experienced_above_latency,
                hops: (c.hops_n > 0).then(|| Hops { min: c.hops_min, max: c.hops_max, mean: c.hops_sum as f64 / c.hops_n as f64 }),
            })
            .collect();
        let packets = classes.iter().map(|c| c.packets).sum::<u64>() + self.unstamped;
        let bytes = classes.iter().map(|c| c.bytes).sum::<u64>() + self.unstamped_bytes;
        let rates = self.span.rates();
        MeterReport {
            packets,
            bytes,
            unstamped: self.unstamped,
            clock_errors: self.clock_errors,
            elapsed_s: self.span.seconds(),
            pps: rates.map(|r| r.pps),
            classes,
            loop_heap_allocations: None,
        }
    }
}

/// Latency percentiles in ns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub min: u64,
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
}

impl Percentiles {
    fn of(h: &Histogram<u32>) -> Percentiles {
        if h.is_empty() {
            return Percentiles { count: 0, min: 0, p50: 0, p99: 0, p999: 0, max: 0, mean: 0.0 };
        }
        Percentiles {
            count: h.len(),
            min: h.min(),
            p50: h.value_at_quantile(0.5),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean(),
        }
    }
}

/// Hop counts read from precise-LBF contracts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Hops {
    pub min: u16,
    pub max: u16,
    pub mean: f64,
}

/// One flow set's figures (a "class" in the report).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetReport {
    /// The flow set's index in the mix.
    #[serde(rename = "class")]
    pub set: u8,
    pub packets: u64,
    pub bytes: u64,
    /// Distinct sequence numbers received.
    pub unique: u64,
    /// Gaps in the sequence numbers (see the module docs).
    pub lost: u64,
    pub duplicates: u64,
    pub reordered: u64,
    /// The contract window the probes carried.
    pub window: Window,
    /// Packets with a window.
    pub windowed: u64,
    /// Delivered before the window's min.
    pub early: u64,
    /// Delivered after the window's max.
    pub late: u64,
    /// Windowed packets delivered within it.
    pub in_window: u64,
    pub latency_ns: Percentiles,
    /// The contract's experienced delay at arrival (precise LBF, IPv6
    /// option, LBF in 0.1 ms units).
    pub experienced_ns: Option<Percentiles>,
    /// Packets whose experienced delay exceeds their one-way latency (0
    /// unless a router over-counts, e.g. a link_delay_ns above the real one).
    pub experienced_above_latency: u64,
    pub hops: Option<Hops>,
}

/// The sink's final report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeterReport {
    pub packets: u64,
    pub bytes: u64,
    /// Frames without a probe.
    pub unstamped: u64,
    pub clock_errors: u64,
    /// From the first burst received to the last.
    pub elapsed_s: f64,
    /// Packets per second over that span; `None` when it is too short to
    /// measure (see [`span`](super::span)).
    pub pps: Option<f64>,
    /// Per flow set.
    pub classes: Vec<SetReport>,
    /// Heap allocations the receive loop made (None: not counted).
    pub loop_heap_allocations: Option<u64>,
}

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1000.0)
}

impl MeterReport {
    /// The readable summary.
    pub fn render(&self) -> String {
        let rate = match self.pps {
            Some(pps) => format!("{pps:.0} pps"),
            None => describe(None),
        };
        let mut s = format!(
            "sink: {} packets ({} bytes) in {:.3} s, {rate}; {} without a probe{}\n",
            self.packets,
            self.bytes,
            self.elapsed_s,
            self.unstamped,
            if self.clock_errors > 0 { format!("; {} probes from the future (clock mismatch)", self.clock_errors) } else { String::new() }
        );
        s.push_str(&format!(
            "{:>5} {:>9} {:>7} {:>5} {:>5} {:>17} {:>7} {:>7} {:>9} {:>9} {:>9} {:>9} {:>10} {:>5}\n",
            "class", "packets", "lost", "reord", "dup", "window_us", "early", "late", "p50_us", "p99_us", "p99.9_us", "max_us", "exp_p50_us", "hops"
        ));
        for c in &self.classes {
            let w = if c.window == Window::default() {
                "-".to_string()
            } else {
                format!("{}..{}", us(c.window.min_ns as u64), if c.window.max_ns > 0 { us(c.window.max_ns as u64) } else { "-".into() })
            };
            s.push_str(&format!(
                "{:>5} {:>9} {:>7} {:>5} {:>5} {:>17} {:>7} {:>7} {:>9} {:>9} {:>9} {:>9} {:>10} {:>5}\n",
                c.set,
                c.packets,
                c.lost,
                c.reordered,
                c.duplicates,
                w,
                c.early,
                c.late,
                us(c.latency_ns.p50),
                us(c.latency_ns.p99),
                us(c.latency_ns.p999),
                us(c.latency_ns.max),
                c.experienced_ns.map_or("-".into(), |e| us(e.p50)),
                c.hops.map_or("-".into(), |h| if h.min == h.max { h.min.to_string() } else { format!("{}-{}", h.min, h.max) }),
            ));
        }
        if let Some(a) = self.loop_heap_allocations {
            s.push_str(&format!("receive loop heap allocations: {a}\n"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(stream: u16, set: u8, seq: u64, tx_ns: u64, window: Window) -> Probe {
        Probe { seq, tx_ns, stream, set, window }
    }

    #[test]
    fn loss_reorder_duplicates_per_class() {
        let mut m = Meter::new();
        let w = Window::default();
        // Stream 1 (class 0): 0 1 3 2 2 5 -> lost 4, one reordered, one dup.
        for seq in [0, 1, 3, 2, 2, 5] {
            m.record(&st(1, 0, seq, 0, w), 100, 1000, None);
        }
        // Stream 2 (class 0): 0..200 with 100 missing, 10 arriving 150 late.
        for seq in (0..200).filter(|s| *s != 100 && *s != 10) {
            m.record(&st(2, 0, seq, 0, w), 100, 1000, None);
        }
        m.record(&st(2, 0, 10, 0, w), 100, 1000, None);
        // Stream 7 (class 3): clean.
        for seq in 0..50 {
            m.record(&st(7, 3, seq, 0, w), 60, 1000, None);
        }
        let r = m.report();
        assert_eq!(r.classes.len(), 2);
        let c0 = &r.classes[0];
        assert_eq!((c0.set, c0.packets, c0.duplicates, c0.reordered), (0, 6 + 199, 1, 2));
        assert_eq!(c0.unique, 5 + 199);
        assert_eq!(c0.lost, 1 + 1);
        let c3 = &r.classes[1];
        assert_eq!((c3.set, c3.packets, c3.lost, c3.reordered, c3.duplicates), (3, 50, 0, 0, 0));
        assert_eq!(r.packets, 255);
    }

    #[test]
    fn windows_latency_and_experienced() {
        let mut m = Meter::new();
        let w = Window { min_ns: 1000, max_ns: 5000 };
        // Latencies 500 (early), 1000, 3000, 5000 (in), 7000 (late).
        for (i, lat) in [500u64, 1000, 3000, 5000, 7000].iter().enumerate() {
            let e = Experienced { ns: lat / 2, hops: Some(3) };
            m.record(&st(0, 1, i as u64, 10_000, w), 80, 10_000 + lat, Some(e));
        }
        m.record(&st(0, 1, 5, 10_000, w), 80, 9_000, None); // from the future
        m.unstamped(60);
        let r = m.report();
        let c = &r.classes[0];
        assert_eq!((c.windowed, c.early, c.late, c.in_window), (5, 1, 1, 3));
        assert_eq!(c.latency_ns.count, 5);
        assert!(c.latency_ns.max.abs_diff(7000) <= 7);
        assert!(c.latency_ns.p50.abs_diff(3000) <= 3);
        let e = c.experienced_ns.unwrap();
        assert!(e.max.abs_diff(3500) <= 4);
        assert_eq!(c.experienced_above_latency, 0);
        assert_eq!(c.hops, Some(Hops { min: 3, max: 3, mean: 3.0 }));
        assert_eq!((r.unstamped, r.clock_errors, r.packets), (1, 1, 7));
        assert!(r.render().contains("1.0..5.0"));
    }

    #[test]
    fn experienced_from_every_contract_kind() {
        use crate::gen::flow::{FlowKind, FlowSet};
        use newipd_core::wire::newip::build::ContractDesc;
        use newipd_core::wire::newip::PreciseLbf;
        let a = |s: &str| s.parse().unwrap();
        let p = PreciseLbf { max_ns: 9, experienced_ns: 4321, hops: 2, ..Default::default() };
        let mut f = FlowSet::new(FlowKind::Newip, a("8bit:1"), a("8bit:2"));
        f.contracts = vec![ContractDesc::PreciseLbf(p)];
        assert_eq!(read_experienced(&f.frame([0; 6], 0, 100, 0, 0)), Some(Experienced { ns: 4321, hops: Some(2) }));
        f.contracts = vec![ContractDesc::Lbf { min_delay: 0, max_delay: 9, experienced_delay: 7, fib_todelay: 0, fib_tohops: 3 }];
        assert_eq!(read_experienced(&f.frame([0; 6], 0, 100, 0, 0)), Some(Experienced { ns: 700_000, hops: None }));
        f.contracts.clear();
        assert_eq!(read_experienced(&f.frame([0; 6], 0, 100, 0, 0)), None);
        let mut h = FlowSet::new(FlowKind::Ipv6Hbh, a("2001:db8::1"), a("2001:db8::2"));
        h.contracts = vec![ContractDesc::PreciseLbf(p)];
        assert_eq!(read_experienced(&h.frame([0; 6], 0, 120, 0, 0)), Some(Experienced { ns: 4321, hops: Some(2) }));
        let v4 = FlowSet::new(FlowKind::Ipv4, a("1.1.1.1"), a("2.2.2.2"));
        assert_eq!(read_experienced(&v4.frame([0; 6], 0, 100, 0, 0)), None);
    }

    #[test]
    fn the_rate_is_over_the_span_of_the_bursts() {
        let mut m = Meter::new();
        // 5 packets in one burst: no rate (it used to say 0 pps, or millions
        // when a second burst followed at once).
        m.burst(1_000, 5, 300);
        (0..5).for_each(|_| m.unstamped(60));
        let r = m.report();
        assert_eq!((r.elapsed_s, r.pps), (0.0, None));
        assert!(r.render().contains("5 packets (300 bytes) in 0.000 s, rate not measured"), "{}", r.render());
        m.burst(1_500, 32, 1920);
        assert_eq!(m.report().pps, None, "two bursts 500 ns apart measure nothing");
        // Then 10 packets every 100 µs for 10 ms: about 100 kpps, counting
        // the packets after the first burst over the time since it.
        for i in 1..=100u64 {
            m.burst(1_500 + i * 100_000, 10, 600);
        }
        let r = m.report();
        let want = (32.0 + 1000.0) / 0.010_000_5;
        assert!((r.pps.unwrap() - want).abs() < 1e-6, "{:?}", r.pps);
        assert!((r.elapsed_s - 0.010_000_5).abs() < 1e-12);
        assert!(r.render().contains(" 103195 pps;"), "{}", r.render());
    }

    #[test]
    fn streams_and_classes_beyond_the_tables_do_not_panic() {
        let mut m = Meter::new();
        m.record(&st(u16::MAX, 0, 0, 0, Window::default()), 60, 1, None);
        m.record(&st(0, 255, 0, 0, Window::default()), 60, 1, None);
        let r = m.report();
        assert_eq!((r.unstamped, r.classes[0].packets, r.classes[0].unique), (1, 1, 0));
    }
}
