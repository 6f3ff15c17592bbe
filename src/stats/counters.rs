//! Per-core counters. Each packet lcore keeps a plain [`Counters`] it alone
//! writes, and publishes it into its own [`SharedCounters`] now and then with
//! relaxed stores (no read-modify-write atomics, no locks). Readers sum the
//! published copies of every lcore.

use super::reason::{Event, Reason, N_EVENTS, N_REASONS};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Most ports one pipeline may have.
pub const MAX_PORTS: usize = 32;

/// Counters of one port on one lcore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortCounters {
    pub rx: u64,
    pub rx_bytes: u64,
    pub tx: u64,
    pub tx_bytes: u64,
    pub drops: [u64; N_REASONS],
    pub events: [u64; N_EVENTS],
}

impl Default for PortCounters {
    fn default() -> Self {
        PortCounters { rx: 0, rx_bytes: 0, tx: 0, tx_bytes: 0, drops: [0; N_REASONS], events: [0; N_EVENTS] }
    }
}

impl PortCounters {
    pub fn dropped(&self) -> u64 {
        self.drops.iter().sum()
    }

    fn add(&mut self, o: &PortCounters) {
        self.rx += o.rx;
        self.rx_bytes += o.rx_bytes;
        self.tx += o.tx;
        self.tx_bytes += o.tx_bytes;
        for (a, b) in self.drops.iter_mut().zip(o.drops.iter()) {
            *a += b;
        }
        for (a, b) in self.events.iter_mut().zip(o.events.iter()) {
            *a += b;
        }
    }

    /// Packets newipd created (broadcast copies): they count in tx but not rx.
    pub fn created(&self) -> u64 {
        self.events[Event::BroadcastCopies as usize]
    }
}

/// All counters of one lcore (or, summed, of the whole process).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counters {
    pub ports: [PortCounters; MAX_PORTS],
}

impl Default for Counters {
    fn default() -> Self {
        Counters { ports: [PortCounters::default(); MAX_PORTS] }
    }
}

impl Counters {
    #[inline(always)]
    pub fn rx(&mut self, port: usize, bytes: usize) {
        if let Some(p) = self.ports.get_mut(port) {
            p.rx += 1;
            p.rx_bytes += bytes as u64;
        }
    }

    #[inline(always)]
    pub fn tx(&mut self, port: usize, packets: u64, bytes: u64) {
        if let Some(p) = self.ports.get_mut(port) {
            p.tx += packets;
            p.tx_bytes += bytes;
        }
    }

    #[inline(always)]
    pub fn drop(&mut self, port: usize, r: Reason, n: u64) {
        if let Some(p) = self.ports.get_mut(port) {
            p.drops[r as usize] += n;
        }
    }

    #[inline(always)]
    pub fn event(&mut self, port: usize, e: Event, n: u64) {
        if let Some(p) = self.ports.get_mut(port) {
            p.events[e as usize] += n;
        }
    }

    pub fn add(&mut self, o: &Counters) {
        for (a, b) in self.ports.iter_mut().zip(o.ports.iter()) {
            a.add(b);
        }
    }

    pub fn total(&self) -> PortCounters {
        let mut t = PortCounters::default();
        for p in &self.ports {
            t.add(p);
        }
        t
    }
}

const FIELDS: usize = 4 + N_REASONS + N_EVENTS;
const EV: usize = 4 + N_REASONS;

/// The published copy of one lcore's counters.
pub struct SharedCounters {
    ports: [[AtomicU64; FIELDS]; MAX_PORTS],
}

impl Default for SharedCounters {
    fn default() -> Self {
        SharedCounters { ports: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))) }
    }
}

impl SharedCounters {
    /// Publish (called only by the owning lcore).
    pub fn publish(&self, c: &Counters) {
        for (dst, src) in self.ports.iter().zip(c.ports.iter()) {
            dst[0].store(src.rx, Relaxed);
            dst[1].store(src.rx_bytes, Relaxed);
            dst[2].store(src.tx, Relaxed);
            dst[3].store(src.tx_bytes, Relaxed);
            for (d, s) in dst[4..EV].iter().zip(src.drops.iter()) {
                d.store(*s, Relaxed);
            }
            for (d, s) in dst[EV..].iter().zip(src.events.iter()) {
                d.store(*s, Relaxed);
            }
        }
    }

    /// Read the last published values.
    pub fn snapshot(&self) -> Counters {
        let mut c = Counters::default();
        for (src, dst) in self.ports.iter().zip(c.ports.iter_mut()) {
            dst.rx = src[0].load(Relaxed);
            dst.rx_bytes = src[1].load(Relaxed);
            dst.tx = src[2].load(Relaxed);
            dst.tx_bytes = src[3].load(Relaxed);
            for (d, s) in dst.drops.iter_mut().zip(src[4..EV].iter()) {
                *d = s.load(Relaxed);
            }
            for (d, s) in dst.events.iter_mut().zip(src[EV..].iter()) {
                *d = s.load(Relaxed);
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_snapshot_and_sum() {
        let mut a = Counters::default();
        a.rx(0, 64);
        a.rx(0, 64);
        a.tx(1, 1, 64);
        a.drop(0, Reason::NoRoute, 1);
        a.event(1, Event::PingAnswered, 2);
        let s = SharedCounters::default();
        s.publish(&a);
        let snap = s.snapshot();
        assert_eq!(snap, a);
        let mut sum = Counters::default();
        sum.add(&snap);
        sum.add(&snap);
        let t = sum.total();
        assert_eq!((t.rx, t.tx, t.dropped(), t.rx_bytes), (4, 2, 2, 256));
        // Out-of-range ports are ignored, not a panic.
        a.rx(MAX_PORTS, 1);
    }
}
