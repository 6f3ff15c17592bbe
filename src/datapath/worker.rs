//! What every packet lcore shares, whatever its role: the ports it works on,
//! its limits, the TSC clock, the knobs of its loop, the meter of the loop
//! and what it reports when it ends. The loops themselves are per role,
//! above this file: [`rtc`](super::rtc) (one lcore does everything),
//! [`rx`](super::rx) and [`tx`](super::tx) (pipelined).

use newipd_dpdk::time::Clock;
use newipd_dpdk::port::PortId;
use newipd_core::sched::port::SchedConfig;
use newipd_core::stats::{Counters, SharedCounters};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// A port as a worker sees it.
#[derive(Debug, Clone, Copy)]
pub struct WorkerPort {
    /// Index in the pipeline's port list (counter and route index).
    pub index: usize,
    pub id: PortId,
    pub rxq: u16,
    pub txq: u16,
    /// Egress link delay added to precise-LBF experienced time.
    pub link_delay_ns: u32,
    /// The egress scheduler of this port.
    pub sched: SchedConfig,
}

/// When the loop stops (besides the stop flag).
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// Stop after this many TSC ticks.
    pub duration_tsc: Option<u64>,
    /// Stop after receiving exactly this many packets (shared by every RX lcore).
    pub packets: Option<Arc<Quota>>,
    /// Stop once no port has delivered a packet for this many TSC ticks.
    pub idle_tsc: Option<u64>,
}

/// A packet budget shared by RX lcores. Taken a burst at a time (one atomic
/// per burst, and only when a `--packets` limit is set).
#[derive(Debug)]
pub struct Quota(AtomicU64);

impl Quota {
    pub fn new(packets: u64) -> Quota {
        Quota(AtomicU64::new(packets))
    }

    /// Take up to `want` packets of the budget; returns how many were granted.
    #[inline]
    pub fn take(&self, want: usize) -> usize {
        let r = self.0.fetch_update(Relaxed, Relaxed, |left| Some(left.saturating_sub(want as u64)));
        let left = r.unwrap_or(0);
        left.min(want as u64) as usize
    }

    /// Give back what was granted but not received.
    #[inline]
    pub fn give_back(&self, n: usize) {
        if n > 0 {
            self.0.fetch_add(n as u64, Relaxed);
        }
    }

    pub fn is_spent(&self) -> bool {
        self.0.load(Relaxed) == 0
    }
}

/// The knobs every packet loop shares.
#[derive(Clone)]
pub struct LoopConf {
    pub stats: Arc<SharedCounters>,
    pub stop: Arc<AtomicBool>,
    pub clock: Clock,
    pub burst: usize,
    /// How often the lcore publishes its counters.
    pub publish_tsc: u64,
    /// Sleep after an empty poll round (shared cores); 0: spin.
    pub idle_sleep_us: u64,
    /// After a stop, keep sending queued packets for at most this long.
    pub drain_tsc: u64,
    /// How often an lcore with egress ports hands its latency histograms
    /// over ([`Egress::maybe_hand_over`](super::egress::Egress::maybe_hand_over)).
    pub histo_tsc: u64,
}

impl LoopConf {
    /// Back off after a round that found nothing to do (if configured).
    #[inline]
    pub fn idle(&self) {
        if self.idle_sleep_us > 0 {
            std::thread::sleep(std::time::Duration::from_micros(self.idle_sleep_us));
        }
    }

    /// Publish `c` if the last publish is older than the interval.
    #[inline]
    pub fn maybe_publish(&self, now: u64, last: &mut u64, c: &Counters) {
        if now.wrapping_sub(*last) >= self.publish_tsc {
            self.stats.publish(c);
            *last = now;
        }
    }
}

/// What the loop reports when it ends.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outcome {
    pub start_tsc: u64,
    pub end_tsc: u64,
    /// When the last packet arrived (rates of --until-idle runs end here).
    pub last_rx_tsc: u64,
    /// Heap allocations this lcore made inside the loop (None: not counted).
    pub loop_allocations: Option<u64>,
    /// Packets still in the schedulers at the end (0 after a full drain).
    pub queued: u64,
    /// CPU time the loop used (ns; 0 if unknown): summed over lcores by [`Outcome::merge`].
    pub cpu_ns: u64,
}

impl Outcome {
    /// Several lcores as one: the earliest start, the latest end, the sums.
    pub fn merge(all: &[Outcome]) -> Outcome {
        let mut o = all.first().copied().unwrap_or_default();
        for x in all.iter().skip(1) {
            o.start_tsc = o.start_tsc.min(x.start_tsc);
            o.end_tsc = o.end_tsc.max(x.end_tsc);
            o.last_rx_tsc = o.last_rx_tsc.max(x.last_rx_tsc);
            o.loop_allocations = o.loop_allocations.zip(x.loop_allocations).map(|(a, b)| a + b);
            o.queued += x.queued;
            o.cpu_ns += x.cpu_ns;
        }
        o
    }
}

/// Heap allocations of this thread so far (for [`Outcome::loop_allocations`]).
pub fn allocations() -> Option<u64> {
    newipd_dpdk::heap::thread_allocations()
}

/// What every lcore loop measures about itself, from its start: the TSC,
/// the thread's CPU time and its heap allocations.
pub struct LoopMeter {
    start_tsc: u64,
    cpu_start: u64,
    allocs_before: Option<u64>,
}

impl LoopMeter {
    /// Start measuring (just before the loop).
    pub fn start() -> LoopMeter {
        // The class table's per-thread slot, taken now rather than by the first packet.
        newipd_core::path::Router::prepare_thread();
        let allocs_before = allocations();
        let cpu_start = newipd_dpdk::time::thread_cpu_ns();
        LoopMeter { start_tsc: newipd_dpdk::time::tsc(), cpu_start, allocs_before }
    }

    /// The TSC when the loop started.
    pub fn start_tsc(&self) -> u64 {
        self.start_tsc
    }

    /// The loop's outcome, ended at `end_tsc`.
    pub fn outcome(&self, end_tsc: u64, last_rx_tsc: u64, queued: u64) -> Outcome {
        Outcome {
            start_tsc: self.start_tsc,
            end_tsc,
            last_rx_tsc,
            loop_allocations: self.allocs_before.zip(allocations()).map(|(a, b)| b - a),
            queued,
            cpu_ns: newipd_dpdk::time::thread_cpu_ns().saturating_sub(self.cpu_start),
        }
    }
}
