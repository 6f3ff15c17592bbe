//! Rates over a packet loop's real span. A loop moves packets in bursts;
//! the packets of the first burst were sent (or arrived) at its start, so a
//! rate counts the packets after it over the time from the first burst to
//! the last. Runs too short to say anything (one burst, or less than
//! [`MIN_SPAN_NS`] between the first and the last) report no rate rather
//! than a made-up one. Pure code, no allocation.

/// The shortest span a rate is given for: below it, a few bursts moved at
/// memory speed (a pcap file read at once, a burst that went out in one
/// go) would read as an absurd rate.
pub const MIN_SPAN_NS: u64 = 1_000_000;

/// Packets and bytes counted per burst, with the first and last burst times.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    first_ns: u64,
    last_ns: u64,
    bursts: u64,
    packets: u64,
    bytes: u64,
    first_packets: u64,
    first_bytes: u64,
}

/// Rates over a span.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Rates {
    pub pps: f64,
    /// Bits per second of the bytes counted.
    pub bps: f64,
}

impl Span {
    /// A burst of `packets` packets and `bytes` bytes at `now_ns` (times
    /// never go back).
    #[inline]
    pub fn burst(&mut self, now_ns: u64, packets: u64, bytes: u64) {
        if packets == 0 {
            return;
        }
        if self.bursts == 0 {
            self.first_ns = now_ns;
            self.first_packets = packets;
            self.first_bytes = bytes;
        }
        self.last_ns = now_ns.max(self.first_ns);
        self.bursts += 1;
        self.packets += packets;
        self.bytes += bytes;
    }

    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Seconds from the first burst to the last (0 for fewer than two).
    pub fn seconds(&self) -> f64 {
        (self.last_ns - self.first_ns) as f64 / 1e9
    }

    /// The rates, or `None` for a span of one burst or under [`MIN_SPAN_NS`].
    pub fn rates(&self) -> Option<Rates> {
        let ns = self.last_ns - self.first_ns;
        if self.bursts < 2 || ns < MIN_SPAN_NS {
            return None;
        }
        let s = ns as f64 / 1e9;
        Some(Rates {
            pps: (self.packets - self.first_packets) as f64 / s,
            bps: (self.bytes - self.first_bytes) as f64 * 8.0 / s,
        })
    }
}

/// `rates` as text: "1234567 pps, 100.0 Mb/s" or why there is none.
pub fn describe(rates: Option<Rates>) -> String {
    match rates {
        Some(r) => format!("{:.0} pps, {:.1} Mb/s", r.pps, r.bps / 1e6),
        None => format!("rate not measured (under {} ms between the first and last burst)", MIN_SPAN_NS / 1_000_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_runs_give_no_rate() {
        // 5 packets in one burst: no span at all.
        let mut s = Span::default();
        s.burst(7_000, 5, 300);
        assert_eq!((s.packets(), s.seconds(), s.rates()), (5, 0.0, None));
        // 5 packets one by one, 1 µs apart: a real but tiny span.
        let mut s = Span::default();
        for i in 0..5 {
            s.burst(1_000 + i * 1_000, 1, 60);
        }
        assert_eq!(s.rates(), None);
        assert!(describe(s.rates()).starts_with("rate not measured"));
        // Empty bursts (a poll that found nothing) count for nothing.
        let mut s = Span::default();
        s.burst(0, 0, 0);
        s.burst(5_000_000, 3, 180);
        assert_eq!((s.packets(), s.rates()), (3, None));
    }

    #[test]
    fn rates_count_the_packets_after_the_first_burst() {
        // 1000 bursts of 32 packets every 32 µs: 1 Mpps, whatever the first burst held.
        let mut s = Span::default();
        for i in 0..1000u64 {
            s.burst(5_000 + i * 32_000, 32, 32 * 100);
        }
        let r = s.rates().unwrap();
        assert!((r.pps - 1e6).abs() < 1e-3, "{}", r.pps);
        assert!((r.bps - 800e6).abs() < 1.0, "{}", r.bps);
        assert!((s.seconds() - 0.031_968).abs() < 1e-12);
        // A huge first burst (a backlog) does not inflate the rate.
        let mut s = Span::default();
        s.burst(0, 10_000, 600_000);
        s.burst(2_000_000, 2, 120);
        assert_eq!(s.rates().map(|r| r.pps), Some(1000.0));
        assert_eq!(describe(s.rates()), "1000 pps, 0.5 Mb/s");
    }
}
