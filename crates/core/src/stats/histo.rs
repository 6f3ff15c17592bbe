//! Latency histograms per class, kept by each packet lcore and handed to the
//! stats thread without locks or copies.
//!
//! Each lcore records into its own pre-sized [`ClassHistograms`] (recording
//! into a fixed-range hdrhistogram never allocates). Every hand-over period
//! it swaps that set for a clean one taken from a [`HistoMailbox`] and posts
//! the full one: two lock-free queue operations, whatever the histogram size.
//! The stats thread adds posted sets into its totals, clears them and gives
//! them back. If it falls behind, the lcore simply keeps recording into the
//! set it has, so nothing is lost.

use crate::class::MAX_CLASSES;
use crossbeam::queue::ArrayQueue;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Smallest and largest recorded value (ns) and precision (significant
/// digits): 1 ns to 60 s at 1 %, about 28 KiB per histogram.
const LOW_NS: u64 = 1;
const HIGH_NS: u64 = 60_000_000_000;
const SIGFIG: u8 = 2;

/// Sets in circulation per lcore: the one recording, one posted, one spare.
const SETS: usize = 3;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(LOW_NS, HIGH_NS, SIGFIG).expect("constant histogram bounds are valid")
}

/// Two histograms per class: time spent inside newipd (arrival to
/// transmit) and end-to-end delay read from the packet's contract at
/// transmit (deadline classes only).
#[derive(Debug, Clone, PartialEq)]
pub struct ClassHistograms {
    sojourn: Vec<Histogram<u64>>,
    e2e: Vec<Histogram<u64>>,
}

impl Default for ClassHistograms {
    fn default() -> Self {
        ClassHistograms { sojourn: (0..MAX_CLASSES).map(|_| histogram()).collect(), e2e: (0..MAX_CLASSES).map(|_| histogram()).collect() }
    }
}

impl ClassHistograms {
    /// `n` packets of `class` that spent `ns` inside newipd.
    #[inline(always)]
    pub fn sojourn(&mut self, class: u8, ns: u64, n: u64) {
        if let Some(h) = self.sojourn.get_mut(class as usize) {
            h.saturating_record_n(ns.max(LOW_NS), n);
        }
    }

    /// `n` packets of `class` whose contracts say `ns` have passed since they were sent.
    #[inline(always)]
    pub fn e2e(&mut self, class: u8, ns: u64, n: u64) {
        if let Some(h) = self.e2e.get_mut(class as usize) {
            h.saturating_record_n(ns.max(LOW_NS), n);
        }
    }

    /// Add another set (same bounds: never allocates).
    pub fn add(&mut self, o: &ClassHistograms) {
        for (a, b) in self.sojourn.iter_mut().zip(&o.sojourn).chain(self.e2e.iter_mut().zip(&o.e2e)) {
            // Same bounds on both sides, so adding cannot fail.
            let _ = a.add(b);
        }
    }

    /// Forget every value.
    pub fn reset(&mut self) {
        self.sojourn.iter_mut().chain(self.e2e.iter_mut()).for_each(|h| h.reset());
    }

    /// Summary of class `class`: time inside newipd and end-to-end delay.
    pub fn summary(&self, class: usize) -> (Percentiles, Percentiles) {
        (Percentiles::of(&self.sojourn[class]), Percentiles::of(&self.e2e[class]))
    }
}

/// A latency distribution in a few numbers (ns).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    /// Approximate sum of all values (mean x count; for Prometheus `_sum`).
    pub sum_ns: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
}

impl Percentiles {
    /// The quantiles reported, with their field values in the same order.
    pub const QUANTILES: [f64; 4] = [0.5, 0.9, 0.99, 0.999];

    fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        let q = |x| h.highest_equivalent(h.value_at_quantile(x));
        Percentiles {
            count: h.len(),
            sum_ns: (h.mean() * h.len() as f64) as u64,
            p50_ns: q(0.5),
            p90_ns: q(0.9),
            p99_ns: q(0.99),
            p999_ns: q(0.999),
            max_ns: h.highest_equivalent(h.max()),
        }
    }

    /// The quantile values in the order of [`Self::QUANTILES`].
    pub fn values(&self) -> [u64; 4] {
        [self.p50_ns, self.p90_ns, self.p99_ns, self.p999_ns]
    }
}

/// The two queues between one lcore and the stats thread.
pub struct HistoMailbox {
    posted: ArrayQueue<Box<ClassHistograms>>,
    clean: ArrayQueue<Box<ClassHistograms>>,
}

impl HistoMailbox {
    /// A mailbox and the lcore's end of it (all sets allocated here, up front).
    pub fn new() -> (Arc<HistoMailbox>, HistoWriter) {
        let mb = Arc::new(HistoMailbox { posted: ArrayQueue::new(SETS), clean: ArrayQueue::new(SETS) });
        for _ in 1..SETS {
            let _ = mb.clean.push(Box::default());
        }
        let w = HistoWriter { cur: Box::default(), mb: Arc::clone(&mb), pending: Coalescer::new() };
        (mb, w)
    }

    /// Stats thread: add every posted set into `into`, then clear and return them.
    /// True if anything was posted.
    pub fn collect(&self, into: &mut ClassHistograms) -> bool {
        let mut any = false;
        while let Some(mut set) = self.posted.pop() {
            into.add(&set);
            set.reset();
            // At most SETS sets exist, so the clean queue has room.
            let _ = self.clean.push(set);
            any = true;
        }
        any
    }
}

/// The lowest value of `v`'s histogram bucket: the value kept to
/// [`SIGFIG`] precision (8 significant bits; exact below 256). Values in
/// one bucket are one value to the histogram (counts, quantiles, max, mean),
/// so recording this instead of `v` changes nothing.
#[inline(always)]
pub fn bucket_floor(v: u64) -> u64 {
    let shift = (64 - v.leading_zeros()).saturating_sub(8);
    (v >> shift) << shift
}

/// Entries of the [`Coalescer`]: a power of two.
const SLOTS: usize = 256;

/// Records waiting to go into the histograms, coalesced: a direct-mapped
/// table from (histogram kind, class, bucket) to a count. Packets repeat a
/// few values (one burst's time inside newipd, a contract's delay), so most
/// packets cost a table hit instead of a histogram record; a different key
/// in the slot records the old one first, and [`flush`](Self::flush) records
/// everything.
struct Coalescer {
    keys: [u64; SLOTS],
    counts: [u64; SLOTS],
}

/// Key layout: bucket floor (at most 36 bits), class (8 bits), kind (1 bit).
const SOJOURN: u64 = 0;
const E2E: u64 = 1;

impl Coalescer {
    fn new() -> Coalescer {
        Coalescer { keys: [0; SLOTS], counts: [0; SLOTS] }
    }

    #[inline(always)]
    fn add(&mut self, into: &mut ClassHistograms, kind: u64, class: u8, ns: u64, n: u64) {
        if ns > HIGH_NS {
            // Saturates in the histogram: rare, recorded as it is.
            return Self::record_raw(into, kind, class, ns, n);
        }
        let key = bucket_floor(ns.max(LOW_NS)) << 9 | (class as u64) << 1 | kind;
        let i = (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - SLOTS.trailing_zeros())) as usize;
        if self.keys[i] == key {
            self.counts[i] += n;
        } else {
            Self::record(into, self.keys[i], self.counts[i]);
            self.keys[i] = key;
            self.counts[i] = n;
        }
    }

    #[inline(always)]
    fn record(into: &mut ClassHistograms, key: u64, n: u64) {
        if n == 0 {
            return;
        }
        Self::record_raw(into, key & 1, (key >> 1) as u8, key >> 9, n);
    }

    #[inline(always)]
    fn record_raw(into: &mut ClassHistograms, kind: u64, class: u8, ns: u64, n: u64) {
        if kind == E2E {
            into.e2e(class, ns, n);
        } else {
            into.sojourn(class, ns, n);
        }
    }

    /// Record every waiting count.
    fn flush(&mut self, into: &mut ClassHistograms) {
        for (k, n) in self.keys.iter().zip(self.counts.iter_mut()) {
            Self::record(into, *k, std::mem::take(n));
        }
    }
}

/// The lcore's end: the set it records into.
pub struct HistoWriter {
    cur: Box<ClassHistograms>,
    mb: Arc<HistoMailbox>,
    pending: Coalescer,
}

impl HistoWriter {
    /// `n` packets of `class` that spent `ns` inside newipd.
    #[inline(always)]
    pub fn sojourn(&mut self, class: u8, ns: u64, n: u64) {
        self.pending.add(&mut self.cur, SOJOURN, class, ns, n);
    }

    /// `n` packets of `class` whose contracts say `ns` have passed since they were sent.
    #[inline(always)]
    pub fn e2e(&mut self, class: u8, ns: u64, n: u64) {
        self.pending.add(&mut self.cur, E2E, class, ns, n);
    }

    /// Post what was recorded since the last hand-over, if a clean set is
    /// available (else keep recording into this one). No allocation, no lock.
    pub fn hand_over(&mut self) {
        self.pending.flush(&mut self.cur);
        if let Some(mut clean) = self.mb.clean.pop() {
            std::mem::swap(&mut self.cur, &mut clean);
            // SETS sets exist and the queue holds SETS: posting cannot fail.
            let _ = self.mb.posted.push(clean);
        }
    }

    /// Post the last values (at the end of the loop): always succeeds.
    pub fn finish(mut self) {
        self.pending.flush(&mut self.cur);
        let _ = self.mb.posted.push(self.cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn bucket_floor_is_the_histograms_own(v in 1u64..=HIGH_NS) {
            prop_assert_eq!(bucket_floor(v), histogram().lowest_equivalent(v));
        }

        /// Through the coalescing table, with hand-overs at random points and a
        /// reader that never keeps up, the histograms come out exactly as
        /// recording every value straight away makes them.
        #[test]
        fn coalescing_changes_no_histogram(
            recs in proptest::collection::vec(
                (any::<bool>(), 0u8..20, prop_oneof![0u64..2000, 0u64..100_000_000, any::<u64>()], 1u64..4, 0u8..40),
                0..800,
            )
        ) {
            let (mb, mut w) = HistoMailbox::new();
            let mut direct = ClassHistograms::default();
            for &(e2e, class, ns, n, hand_over) in &recs {
                if e2e {
                    w.e2e(class, ns, n);
                    direct.e2e(class, ns, n);
                } else {
                    w.sojourn(class, ns, n);
                    direct.sojourn(class, ns, n);
                }
                if hand_over == 0 {
                    w.hand_over();
                }
            }
            w.finish();
            let mut total = ClassHistograms::default();
            mb.collect(&mut total);
            prop_assert!(total == direct);
        }
    }

    #[test]
    fn recorded_values_reach_the_reader_exactly_once() {
        let (mb, mut w) = HistoMailbox::new();
        let mut total = ClassHistograms::default();
        w.sojourn(0, 1000, 10);
        w.e2e(1, 5_000_000, 1);
        w.hand_over();
        w.sojourn(0, 2000, 5);
        // The reader is slow: the writer keeps handing over; no value is lost.
        for _ in 0..10 {
            w.hand_over();
        }
        w.sojourn(0, 3000, 1);
        assert!(mb.collect(&mut total));
        assert!(!mb.collect(&mut total), "collected twice");
        w.hand_over();
        w.sojourn(200, 1, 1); // unknown class: ignored
        w.finish();
        assert!(mb.collect(&mut total));
        let (s, e) = total.summary(0);
        assert_eq!(s.count, 16);
        assert!((990..=1010).contains(&s.p50_ns), "{s:?}");
        assert!((2980..=3030).contains(&s.max_ns), "{s:?}");
        assert_eq!(e.count, 0);
        let (_, e1) = total.summary(1);
        assert_eq!(e1.count, 1);
        assert!((4_950_000..=5_050_000).contains(&e1.p99_ns));
    }

    #[test]
    fn out_of_range_values_saturate() {
        let mut h = ClassHistograms::default();
        h.sojourn(2, 0, 1);
        h.sojourn(2, u64::MAX, 1);
        let (s, _) = h.summary(2);
        assert_eq!(s.count, 2);
        assert!(s.max_ns >= HIGH_NS);
        h.reset();
        assert_eq!(h.summary(2).0, Percentiles::default());
    }
}
