//! The deadline experiment: a mix of deadline flows (several budgets) and
//! best effort offered to one shaped egress port at a chosen share of its
//! link rate, run through the real router stage (parsing, contracts,
//! budgets) and the real port scheduler and shaper, in virtual time. The
//! same seeded traffic is run under EDF and under FIFO.
//!
//! On time: a deadline packet sent (released by the scheduler) no later
//! than its per-hop deadline. Feasible: a deadline packet not refused on
//! arrival (here every one is, since budgets exceed one frame time).
//! Lateness: how long after its deadline a deadline packet was sent (0 when
//! on time); for packets dropped late at the head, how late they were when
//! they reached it (a lower bound). Packets dropped late or for a full
//! queue are not on time.

use newipd_core::sched::port::{Discipline, PortSched, SchedConfig, Schedulable, WIRE_OVERHEAD};
use newipd_core::fib::{NextHop, Prefix};
use newipd_core::wire::build::{self as b4, Udp4};
use newipd_core::wire::newip::build::{ethernet_frame, Address, ContractDesc, PacketDesc};
use newipd_core::wire::newip::{PreciseLbf, ETHERTYPE_NEWIP};
use newipd_core::path::{PacketCtx, Router, TxMeta, Verdict};
use newipd_core::stats::Counters;
use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// Experiment settings.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Link rate of the bottleneck, bits/s.
    pub rate_bps: u64,
    /// Offered load as a share of the link rate (1.2 = 120 %).
    pub load: f64,
    /// Share of the offered bytes that carry deadlines.
    pub deadline_share: f64,
    /// Per-hop budgets of the deadline flows, ns (chosen uniformly).
    pub budgets_ns: Vec<u32>,
    /// Virtual seconds of traffic.
    pub seconds: f64,
    pub seed: u64,
    /// Egress queue capacity (packets).
    pub capacity: usize,
    /// Per-hop deadline of best-effort packets. Keep it above the longest a
    /// best-effort packet can wait (capacity x mean frame / leftover rate), or
    /// under overload best effort comes due and pushes deadline packets late.
    pub best_effort_ns: u64,
    /// Virtual-time step, ns.
    pub step_ns: u64,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            rate_bps: 100_000_000,
            load: 1.2,
            deadline_share: 0.5,
            budgets_ns: vec![1_000_000, 2_000_000, 5_000_000, 10_000_000],
            seconds: 2.0,
            seed: 7,
            capacity: 1024,
            best_effort_ns: 200_000_000,
            step_ns: 100,
        }
    }
}

/// What one run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    pub discipline: String,
    pub load: f64,
    pub deadline_packets: u64,
    pub on_time: u64,
    pub on_time_share: f64,
    pub late_sent: u64,
    pub dropped_deadline: u64,
    pub best_effort_packets: u64,
    pub best_effort_sent: u64,
    /// Lateness of deadline packets (0 when on time), ns.
    pub lateness_p50_ns: u64,
    pub lateness_p99_ns: u64,
    pub lateness_p999_ns: u64,
    /// Share of the link the sent packets used.
    pub link_utilisation: f64,
}

struct Item {
    meta: TxMeta,
    len: u32,
    deadline_flow: bool,
}

impl Schedulable for Item {
    fn deadline_ns(&self) -> u64 {
        self.meta.deadline_ns
    }
    fn eligible_ns(&self) -> u64 {
        self.meta.eligible_ns
    }
    fn frame_len(&self) -> u32 {
        self.len
    }
    fn late_ok(&self) -> bool {
        self.meta.late_ok
    }
    fn set_deadline_ns(&mut self, d: u64) {
        self.meta.deadline_ns = d;
    }
}

/// The traffic: (arrival ns, frame, carries a deadline).
pub fn traffic(s: &Setup) -> Vec<(u64, Vec<u8>, bool)> {
    let mut rng = Pcg64Mcg::seed_from_u64(s.seed);
    let bytes_per_ns = s.rate_bps as f64 / 8e9 * s.load;
    let end = (s.seconds * 1e9) as u64;
    let mut t = 0f64;
    let mut out = Vec::new();
    let mut seq: u32 = 0;
    while (t as u64) < end {
        let deadline = rng.gen_bool(s.deadline_share);
        let len: usize = rng.gen_range(200..=1400);
        let frame = if deadline {
            let budget = s.budgets_ns[rng.gen_range(0..s.budgets_ns.len())];
            let d = PacketDesc::new(Address::Bits8(1), Address::Bits8(2))
                .contract(ContractDesc::PreciseLbf(PreciseLbf { min_ns: 0, max_ns: budget, experienced_ns: 0, hops: 0, flags: 0 }))
                .payload(seq.to_be_bytes().to_vec());
            let mut f = ethernet_frame([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 9], ETHERTYPE_NEWIP, None, &d.build().expect("frame"));
            f.resize(len, 0);
            f
        } else {
            b4::udp4(Udp4 { dst: 0x0a00_0001, frame_len: len, ..Default::default() })
        };
        out.push((t as u64, frame, deadline));
        seq = seq.wrapping_add(1);
        // Exponential gaps with the mean that gives the offered load.
        let mean = (len as f64 + WIRE_OVERHEAD as f64) / bytes_per_ns;
        let u: f64 = rng.gen_range(f64::EPSILON..1.0);
        t += -mean * u.ln();
    }
    out
}

/// Run one discipline over `traffic` in 1 µs steps of virtual time.
pub fn run(s: &Setup, discipline: Discipline, traffic: &[(u64, Vec<u8>, bool)]) -> Outcome {
    let p = |x: &str| Prefix::parse(x).expect("prefix");
    let router = Router::build(
        &[(p("8bit:2"), 0), (p("10.0.0.0/8"), 0)],
        vec![NextHop::new(0, [2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 3])],
        vec![[2, 0, 0, 0, 0, 3]],
        &[],
        true,
    );
    let cfg = SchedConfig {
        discipline,
        capacity: s.capacity,
        bucket_shift: 10,
        buckets: 262_144,
        rate_bps: s.rate_bps,
        best_effort_ns: s.best_effort_ns,
        ..SchedConfig::default()
    };
    let mut sched: PortSched<Item> = PortSched::new(cfg, 0);
    // Both dequeue callbacks record into it: a RefCell lets them share it.
    let hist = std::cell::RefCell::new(Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("histogram"));
    let mut c = Counters::default();
    let (mut dl, mut on_time, mut late_sent, mut dropped_dl, mut be, mut be_sent, mut sent_bytes) = (0u64, 0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    let mut i = 0;
    let step = s.step_ns.max(1);
    let end = traffic.last().map(|x| x.0).unwrap_or(0) + 2_000_000_000;
    let mut now = 0u64;
    let mut buf = Vec::new();
    while now <= end && (i < traffic.len() || !sched.is_empty()) {
        while i < traffic.len() && traffic[i].0 <= now {
            let (at, frame, is_dl) = &traffic[i];
            i += 1;
            if *is_dl {
                dl += 1;
            } else {
                be += 1;
            }
            buf.clear();
            buf.extend_from_slice(frame);
            let mut meta = TxMeta::NONE;
            let ctx = PacketCtx { now_ns: *at, in_port: 1 };
            match router.process_at(&mut buf, &ctx, &mut c, &mut meta) {
                Verdict::Forward { with_meta, .. } => {
                    if !with_meta {
                        meta = TxMeta { rx_ns: *at, late_ok: true, ..TxMeta::NONE };
                    }
                    let item = Item { meta, len: buf.len() as u32, deadline_flow: *is_dl };
                    sched.enqueue(item, now, |x, _| {
                        if x.deadline_flow {
                            dropped_dl += 1;
                        }
                    });
                }
                _ => {
                    if *is_dl {
                        dropped_dl += 1;
                    }
                }
            }
        }
        sched.dequeue(
            now,
            64,
            |x| {
                sent_bytes += x.len as u64 + WIRE_OVERHEAD;
                if x.deadline_flow {
                    let late = now.saturating_sub(x.meta.deadline_ns);
                    if late == 0 {
                        on_time += 1;
                    } else {
                        late_sent += 1;
                    }
                    // Stored +1 so on time (0) fits the histogram's range.
                    let _ = hist.borrow_mut().record(late + 1);
                } else {
                    be_sent += 1;
                }
            },
            |x, r| {
                if x.deadline_flow {
                    dropped_dl += 1;
                    // Late at the head: it would have been at least this late.
                    if r == newipd_core::kinds::Reason::NewipLate {
                        let _ = hist.borrow_mut().record(now.saturating_sub(x.meta.deadline_ns).max(1) + 1);
                    }
                }
            },
        );
        now += step;
    }
    let hist = hist.into_inner();
    let q = |p: f64| if hist.is_empty() { 0 } else { hist.value_at_quantile(p).saturating_sub(1) };
    let span_ns = traffic.last().map(|x| x.0).unwrap_or(1).max(1) as f64;
    Outcome {
        discipline: format!("{discipline:?}").to_lowercase(),
        load: s.load,
        deadline_packets: dl,
        on_time,
        on_time_share: if dl == 0 { 0.0 } else { on_time as f64 / dl as f64 },
        late_sent,
        dropped_deadline: dropped_dl,
        best_effort_packets: be,
        best_effort_sent: be_sent,
        lateness_p50_ns: q(0.5),
        lateness_p99_ns: q(0.99),
        lateness_p999_ns: q(0.999),
        link_utilisation: sent_bytes as f64 * 8.0 / (s.rate_bps as f64 * span_ns / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edf_keeps_deadlines_under_overload_where_fifo_does_not() {
        let s = Setup { seconds: 0.2, ..Default::default() };
        let t = traffic(&s);
        let edf = run(&s, Discipline::Edf, &t);
        let fifo = run(&s, Discipline::Fifo, &t);
        assert_eq!(edf.deadline_packets, fifo.deadline_packets);
        assert!(edf.deadline_packets > 500, "{edf:?}");
        assert!(edf.on_time_share > 0.99, "{edf:?}");
        assert!(fifo.on_time_share < edf.on_time_share - 0.2, "{fifo:?}");
        // Everything is accounted for.
        assert_eq!(edf.on_time + edf.late_sent + edf.dropped_deadline, edf.deadline_packets);
        assert_eq!(fifo.on_time + fifo.late_sent + fifo.dropped_deadline, fifo.deadline_packets);
    }

    #[test]
    fn under_light_load_both_are_on_time() {
        let s = Setup { seconds: 0.1, load: 0.5, ..Default::default() };
        let t = traffic(&s);
        for d in [Discipline::Edf, Discipline::Fifo] {
            let o = run(&s, d, &t);
            assert!(o.on_time_share > 0.999, "{o:?}");
            assert_eq!(o.best_effort_sent, o.best_effort_packets);
        }
    }
}
