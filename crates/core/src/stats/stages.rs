//! Where the packet lcore spends its cycles, per stage, as VPP's
//! `show runtime` reports per node: calls (bursts that did work), vectors
//! (packets) and clocks per packet. Calls and vectors count every burst;
//! clocks are sampled: one loop iteration in [`SAMPLE_EVERY`] reads the TSC
//! at each stage boundary (reading it costs ~15 ns here, too much for every
//! burst), and clocks per packet divide by the packets of those iterations.

/// One loop iteration in this many is timed.
pub const SAMPLE_EVERY: u32 = 16;

/// A stage of the packet loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Stage {
    /// `rx_burst` on the ingress ports (empty polls of earlier ports included),
    /// and the loop's own bookkeeping since the previous round's last TX burst.
    Rx,
    /// Parse, classify (route lookup), rewrite and hand to egress: into the
    /// deadline queue (run to completion) or onto a ring (pipelined RX lcore).
    Route,
    /// Pipelined egress lcore: take packets off the rings into the deadline queues.
    Ring,
    /// Release from the deadline queues into the TX buffers.
    Queue,
    /// Transmit-time contract writes, `tx_burst`, latency recording.
    Tx,
}

/// Number of stages.
pub const N_STAGES: usize = Stage::ALL.len();

impl Stage {
    /// Every stage, in loop order.
    pub const ALL: [Stage; 5] = [Stage::Rx, Stage::Route, Stage::Ring, Stage::Queue, Stage::Tx];

    /// The stage's name in reports and metrics.
    pub const fn name(self) -> &'static str {
        match self {
            Stage::Rx => "rx",
            Stage::Route => "route",
            Stage::Ring => "ring",
            Stage::Queue => "queue",
            Stage::Tx => "tx",
        }
    }
}

/// Calls, packets and sampled clocks of every stage on one lcore (or summed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageCounters {
    pub calls: [u64; N_STAGES],
    pub vectors: [u64; N_STAGES],
    /// TSC ticks spent in timed iterations.
    pub clocks: [u64; N_STAGES],
    /// Packets handled in timed iterations (what `clocks` divides by).
    pub timed_vectors: [u64; N_STAGES],
}

impl StageCounters {
    /// One burst of `packets` in `stage`, and its `clocks` if it was timed.
    /// Bursts without packets are not calls.
    #[inline(always)]
    pub fn record(&mut self, stage: Stage, packets: u64, clocks: Option<u64>) {
        if packets > 0 {
            let i = stage as usize;
            self.calls[i] += 1;
            self.vectors[i] += packets;
            if let Some(t) = clocks {
                self.clocks[i] += t;
                self.timed_vectors[i] += packets;
            }
        }
    }

    /// Clocks per packet of `stage` (0 before any timed burst).
    pub fn clocks_per_packet(&self, stage: Stage) -> f64 {
        let i = stage as usize;
        if self.timed_vectors[i] > 0 {
            self.clocks[i] as f64 / self.timed_vectors[i] as f64
        } else {
            0.0
        }
    }

    pub fn add(&mut self, o: &StageCounters) {
        for (a, b) in self.fields_mut().zip(o.fields()) {
            *a += b;
        }
    }

    /// Every field value, in the order of `fields_mut` (for publishing).
    pub(crate) fn fields(&self) -> impl Iterator<Item = u64> + '_ {
        self.calls.iter().chain(&self.vectors).chain(&self.clocks).chain(&self.timed_vectors).copied()
    }

    /// Every field, writable, in a fixed order (for publishing).
    pub(crate) fn fields_mut(&mut self) -> impl Iterator<Item = &mut u64> {
        self.calls.iter_mut().chain(self.vectors.iter_mut()).chain(self.clocks.iter_mut()).chain(self.timed_vectors.iter_mut())
    }
}

/// Per-iteration stopwatch: each lap charges the ticks since the previous
/// lap (or `start`) to one stage, in timed iterations only.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageClock {
    last: u64,
    iteration: u32,
    timed: bool,
}

impl StageClock {
    /// Begin a loop iteration that started at `now` (a TSC value already read).
    #[inline(always)]
    pub fn start(&mut self, now: u64) {
        self.iteration = self.iteration.wrapping_add(1);
        self.timed = self.iteration.is_multiple_of(SAMPLE_EVERY);
        self.last = now;
    }

    /// Count `packets` for `stage`; in a timed iteration also read the
    /// clock (`tsc` is only called then) and charge the time since the last lap.
    #[inline(always)]
    pub fn lap(&mut self, s: &mut StageCounters, stage: Stage, packets: u64, tsc: impl FnOnce() -> u64) {
        if self.timed && packets > 0 {
            self.lap_at(s, stage, packets, tsc());
        } else {
            s.record(stage, packets, None);
        }
    }

    /// As [`lap`](Self::lap) with a TSC value the caller read anyway.
    #[inline(always)]
    pub fn lap_at(&mut self, s: &mut StageCounters, stage: Stage, packets: u64, now: u64) {
        let clocks = self.timed.then(|| now.wrapping_sub(self.last));
        s.record(stage, packets, clocks);
        self.last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_iteration_in_sample_every_is_timed_and_every_burst_counted() {
        let mut s = StageCounters::default();
        let mut clk = StageClock::default();
        let mut reads = 0;
        for i in 1..=(2 * SAMPLE_EVERY as u64) {
            let t0 = i * 10_000;
            clk.start(t0);
            clk.lap(&mut s, Stage::Rx, 32, || {
                reads += 1;
                t0 + 60
            });
            clk.lap(&mut s, Stage::Route, 32, || t0 + 1060);
            clk.lap(&mut s, Stage::Queue, 0, || unreachable!("no packets, no clock read"));
            clk.lap_at(&mut s, Stage::Tx, 32, t0 + 1380);
        }
        assert_eq!(reads, 2, "TSC read in timed iterations only");
        assert_eq!((s.calls[0], s.vectors[0], s.timed_vectors[0]), (32, 1024, 64));
        assert_eq!(s.clocks_per_packet(Stage::Rx), 60.0 / 32.0);
        assert_eq!(s.clocks_per_packet(Stage::Route), 1000.0 / 32.0);
        assert_eq!(s.clocks_per_packet(Stage::Tx), 320.0 / 32.0);
        assert_eq!((s.calls[Stage::Queue as usize], s.clocks_per_packet(Stage::Queue)), (0, 0.0));
        let mut t = s;
        t.add(&s);
        assert_eq!(t.vectors[1], 2048);
        assert_eq!(s.fields().count(), 4 * N_STAGES);
        for (i, st) in Stage::ALL.iter().enumerate() {
            assert_eq!(*st as usize, i);
        }
    }
}
