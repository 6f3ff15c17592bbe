//! The live generator's pacing: a token bucket over TSC ticks. Each packet
//! costs its share of a second at the target rate (packets/s, or its bits on
//! the wire at bits/s); a packet may go once the bucket's virtual send time
//! has reached now. The bucket holds at most `depth` ticks of credit, so a
//! generator that was descheduled catches up by at most that much.
//! Fixed point with 16 fractional bits; times are relative to `origin`.

use newipd_core::sched::port::WIRE_OVERHEAD;

const FRAC: u32 = 16;

/// A token bucket in TSC ticks.
#[derive(Debug, Clone, Copy)]
pub struct Pacer {
    origin: u64,
    /// Virtual send time of the next packet, ticks << 16 after `origin`.
    next: u64,
    depth: u64,
}

impl Pacer {
    /// Start at `origin_tsc` with `depth_ticks` of burst credit.
    pub fn new(origin_tsc: u64, depth_ticks: u64) -> Pacer {
        Pacer { origin: origin_tsc, next: 0, depth: depth_ticks << FRAC }
    }

    /// Cost of one packet at `pps` packets/s with a `hz` clock.
    pub fn cost_pps(hz: u64, pps: u64) -> u64 {
        (((hz as u128) << FRAC) / pps.max(1) as u128).min(u64::MAX as u128) as u64
    }

    /// Cost of a `frame_len`-byte frame (without FCS) at `bps` bits/s on the
    /// wire (the frame padded to 60, plus preamble, FCS and gap).
    pub fn cost_bps(hz: u64, bps: u64, frame_len: usize) -> u64 {
        let bits = ((frame_len.max(60) as u64 + WIRE_OVERHEAD) * 8) as u128;
        ((bits * ((hz as u128) << FRAC)) / bps.max(1) as u128).min(u64::MAX as u128) as u64
    }

    #[inline(always)]
    fn at(&self, now_tsc: u64) -> u64 {
        now_tsc.wrapping_sub(self.origin) << FRAC
    }

    /// Forget credit beyond the bucket's depth.
    #[inline(always)]
    pub fn refill(&mut self, now_tsc: u64) {
        let now = self.at(now_tsc);
        if now > self.next + self.depth {
            self.next = now - self.depth;
        }
    }

    /// Whether a packet may be sent at `now_tsc`.
    #[inline(always)]
    pub fn ready(&self, now_tsc: u64) -> bool {
        self.next <= self.at(now_tsc)
    }

    /// Account one sent packet of this cost.
    #[inline(always)]
    pub fn spend(&mut self, cost: u64) {
        self.next = self.next.saturating_add(cost);
    }

    /// Ticks until the next packet may go (0 if now).
    #[inline(always)]
    pub fn wait_ticks(&self, now_tsc: u64) -> u64 {
        self.next.saturating_sub(self.at(now_tsc)) >> FRAC
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Simulated clock: poll every `step` ticks, send what is ready (bursts of at most 32).
    fn simulate(cost: impl Fn(usize) -> u64, hz: u64, seconds: u64, step: u64) -> usize {
        let mut p = Pacer::new(1_000, hz / 1000);
        let mut sent = 0;
        let mut now = 1_000;
        while now < 1_000 + hz * seconds {
            p.refill(now);
            let mut n = 0;
            while n < 32 && p.ready(now) {
                p.spend(cost(sent));
                sent += 1;
                n += 1;
            }
            now += step;
        }
        sent
    }

    #[test]
    fn packet_rate_is_met() {
        let hz = 2_500_000_000;
        let c = Pacer::cost_pps(hz, 1_000_000);
        for step in [100, 2_000, 50_000] {
            let n = simulate(|_| c, hz, 2, step);
            assert!(n.abs_diff(2_000_000) <= 40, "step {step}: {n}");
        }
        // 3 pps: the fractional part is kept.
        let c = Pacer::cost_pps(3_000_000_007, 7);
        assert!(simulate(|_| c, 3_000_000_007, 3, 10_000_000).abs_diff(21) <= 1);
    }

    #[test]
    fn bit_rate_counts_the_wire_bytes() {
        let hz = 1_000_000_000;
        // 1 Gb/s, alternating 60 and 1476 bytes: (84 + 1500) * 8 bits per pair.
        let costs = [Pacer::cost_bps(hz, 1_000_000_000, 60), Pacer::cost_bps(hz, 1_000_000_000, 1476)];
        assert_eq!(costs[0] >> FRAC, 672);
        let n = simulate(|i| costs[i % 2], hz, 1, 1_000);
        let want = 2 * 1_000_000_000 / ((84 + 1500) * 8);
        assert!(n.abs_diff(want) <= 34, "{n} vs {want}");
    }

    #[test]
    fn a_stall_catches_up_at_most_the_depth() {
        let hz = 1_000_000;
        let mut p = Pacer::new(0, 100); // 100 ticks of credit
        let c = Pacer::cost_pps(hz, 100_000); // 10 ticks per packet
        assert!(p.ready(0));
        p.spend(c);
        assert_eq!(p.wait_ticks(0), 10);
        assert!(!p.ready(9) && p.ready(10));
        // After a stall of 10_000 ticks only 100 ticks of credit are left.
        p.refill(10_000);
        let mut n = 0;
        while p.ready(10_000) {
            p.spend(c);
            n += 1;
        }
        assert_eq!(n, 11);
    }
}
