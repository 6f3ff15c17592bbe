//! Where the packet lcore spends its cycles, per stage, as VPP's
//! `show runtime` reports per node: calls (bursts that did work), vectors
//! (packets) and clocks (TSC ticks). The loop reads the TSC once per burst
//! and stage, never per packet.

/// A stage of the packet loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Stage {
    /// `rx_burst` on the ingress ports (empty polls of earlier ports included).
    Rx,
    /// Parse, classify (route lookup), rewrite and enqueue into the egress queue.
    Route,
    /// Release from the deadline queues into the TX buffers.
    Queue,
    /// Transmit-time contract writes, `tx_burst`, latency recording.
    Tx,
}

/// Number of stages.
pub const N_STAGES: usize = Stage::ALL.len();

impl Stage {
    /// Every stage, in loop order.
    pub const ALL: [Stage; 4] = [Stage::Rx, Stage::Route, Stage::Queue, Stage::Tx];

    /// The stage's name in reports and metrics.
    pub const fn name(self) -> &'static str {
        match self {
            Stage::Rx => "rx",
            Stage::Route => "route",
            Stage::Queue => "queue",
            Stage::Tx => "tx",
        }
    }
}

/// Calls, packets and clocks of every stage on one lcore (or summed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageCounters {
    pub calls: [u64; N_STAGES],
    pub vectors: [u64; N_STAGES],
    pub clocks: [u64; N_STAGES],
}

impl StageCounters {
    /// One burst of `packets` that took `clocks` in `stage`. Bursts without
    /// packets are not calls (their time still counts towards the next one).
    #[inline(always)]
    pub fn record(&mut self, stage: Stage, packets: u64, clocks: u64) {
        if packets > 0 {
            let i = stage as usize;
            self.calls[i] += 1;
            self.vectors[i] += packets;
            self.clocks[i] += clocks;
        }
    }

    pub fn add(&mut self, o: &StageCounters) {
        for i in 0..N_STAGES {
            self.calls[i] += o.calls[i];
            self.vectors[i] += o.vectors[i];
            self.clocks[i] += o.clocks[i];
        }
    }

    /// Every field value, in the order of `fields_mut` (for publishing).
    pub(crate) fn fields(&self) -> impl Iterator<Item = u64> + '_ {
        self.calls.iter().chain(self.vectors.iter()).chain(self.clocks.iter()).copied()
    }

    /// Every field, writable, in a fixed order (for publishing).
    pub(crate) fn fields_mut(&mut self) -> impl Iterator<Item = &mut u64> {
        self.calls.iter_mut().chain(self.vectors.iter_mut()).chain(self.clocks.iter_mut())
    }
}

/// Per-burst stopwatch: each `lap` charges the ticks since the previous lap
/// (or `start`) to one stage.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageClock {
    last: u64,
}

impl StageClock {
    /// Start timing at `now` (a TSC value).
    #[inline(always)]
    pub fn start(&mut self, now: u64) {
        self.last = now;
    }

    /// Charge `now - last` to `stage` for `packets` packets and restart at `now`.
    #[inline(always)]
    pub fn lap(&mut self, s: &mut StageCounters, stage: Stage, packets: u64, now: u64) {
        s.record(stage, packets, now.wrapping_sub(self.last));
        self.last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn laps_charge_stages_and_empty_bursts_are_not_calls() {
        let mut s = StageCounters::default();
        let mut clk = StageClock::default();
        clk.start(100);
        clk.lap(&mut s, Stage::Rx, 32, 160);
        clk.lap(&mut s, Stage::Route, 32, 1160);
        clk.lap(&mut s, Stage::Tx, 0, 1200);
        clk.lap(&mut s, Stage::Tx, 32, 1500);
        assert_eq!((s.calls[0], s.vectors[0], s.clocks[0]), (1, 32, 60));
        assert_eq!(s.clocks[Stage::Route as usize], 1000);
        assert_eq!((s.calls[3], s.clocks[3]), (1, 300));
        let mut t = s;
        t.add(&s);
        assert_eq!(t.vectors[1], 64);
        assert_eq!(s.fields_mut().count(), 3 * N_STAGES);
        for (i, st) in Stage::ALL.iter().enumerate() {
            assert_eq!(*st as usize, i);
        }
    }
}
