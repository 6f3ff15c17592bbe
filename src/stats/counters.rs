//! Per-core counters. Each packet lcore keeps a plain [`Counters`] it alone
//! writes, and publishes it into its own [`SharedCounters`] now and then with
//! relaxed stores inside a sequence lock (no read-modify-write atomics, no
//! locks on the writer's side). Readers sum the published copies of every
//! lcore; each copy is one consistent moment of its lcore.

use super::reason::{Event, Reason, N_EVENTS, N_REASONS};
use std::sync::atomic::{fence, AtomicU64, Ordering::Acquire, Ordering::Relaxed, Ordering::Release};

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

/// Counters of an lcore that belong to no port: the ring hand-over and what
/// the lcore holds. Summed over lcores, `ring_enqueued - ring_dequeued` is
/// what is in flight on rings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LcoreCounters {
    /// Packets an RX lcore put on rings to egress lcores.
    pub ring_enqueued: u64,
    /// Packets an egress lcore took from rings.
    pub ring_dequeued: u64,
    /// Packets the lcore holds right now (deadline queues, TX buffers): a gauge
    /// set before each publish.
    pub held: u64,
}

impl LcoreCounters {
    const FIELDS: usize = 3;

    fn add(&mut self, o: &LcoreCounters) {
        self.ring_enqueued += o.ring_enqueued;
        self.ring_dequeued += o.ring_dequeued;
        self.held += o.held;
    }

    fn to_array(self) -> [u64; Self::FIELDS] {
        [self.ring_enqueued, self.ring_dequeued, self.held]
    }

    fn from_array(a: [u64; Self::FIELDS]) -> LcoreCounters {
        LcoreCounters { ring_enqueued: a[0], ring_dequeued: a[1], held: a[2] }
    }
}

/// All counters of one lcore (or, summed, of the whole process).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counters {
    pub ports: [PortCounters; MAX_PORTS],
    pub lcore: LcoreCounters,
}

impl Default for Counters {
    fn default() -> Self {
        Counters { ports: [PortCounters::default(); MAX_PORTS], lcore: LcoreCounters::default() }
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
        self.lcore.add(&o.lcore);
    }

    /// Packets on rings between lcores: enqueued minus dequeued. Exact for the
    /// sum over all lcores at the end of a run; in a live sum of copies
    /// published at different moments it can lag by one publish interval
    /// (and even be negative), and the identity still holds with it.
    pub fn in_rings(&self) -> i64 {
        self.lcore.ring_enqueued as i64 - self.lcore.ring_dequeued as i64
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
    /// Sequence lock: odd while the owner writes.
    seq: AtomicU64,
    ports: [[AtomicU64; FIELDS]; MAX_PORTS],
    lcore: [AtomicU64; LcoreCounters::FIELDS],
}

impl Default for SharedCounters {
    fn default() -> Self {
        SharedCounters {
            seq: AtomicU64::new(0),
            ports: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            lcore: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl SharedCounters {
    /// Publish (called only by the owning lcore): two sequence stores around
    /// relaxed stores, so a reader never sees half of a publish.
    pub fn publish(&self, c: &Counters) {
        let s = self.seq.load(Relaxed);
        self.seq.store(s.wrapping_add(1), Relaxed);
        fence(Release);
        self.store(c);
        self.seq.store(s.wrapping_add(2), Release);
    }

    fn store(&self, c: &Counters) {
        for (d, s) in self.lcore.iter().zip(c.lcore.to_array()) {
            d.store(s, Relaxed);
        }
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

    /// Read the last published values (one whole publish, never a mix).
    pub fn snapshot(&self) -> Counters {
        loop {
            let before = self.seq.load(Acquire);
            if before & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let c = self.load();
            fence(Acquire);
            if self.seq.load(Relaxed) == before {
                return c;
            }
        }
    }

    fn load(&self) -> Counters {
        let mut c = Counters::default();
        c.lcore = LcoreCounters::from_array(std::array::from_fn(|i| self.lcore[i].load(Relaxed)));
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
        // Ring hand-over: what one lcore put on rings and another took off.
        let (mut rx_side, mut tx_side) = (Counters::default(), Counters::default());
        rx_side.lcore.ring_enqueued = 10;
        tx_side.lcore.ring_dequeued = 7;
        tx_side.lcore.held = 2;
        let (sa, sb) = (SharedCounters::default(), SharedCounters::default());
        sa.publish(&rx_side);
        sb.publish(&tx_side);
        let mut sum = sa.snapshot();
        sum.add(&sb.snapshot());
        assert_eq!((sum.in_rings(), sum.lcore.held), (3, 2));
    }

    #[test]
    fn a_reader_never_sees_half_a_publish() {
        // The writer keeps rx == tx in every publish; a torn read would differ.
        let s = std::sync::Arc::new(SharedCounters::default());
        let w = std::sync::Arc::clone(&s);
        let t = std::thread::spawn(move || {
            let mut c = Counters::default();
            for i in 0..20_000u64 {
                c.ports[0].rx = i;
                c.ports[MAX_PORTS - 1].tx = i;
                w.publish(&c);
            }
        });
        for _ in 0..20_000 {
            let c = s.snapshot();
            assert_eq!(c.ports[0].rx, c.ports[MAX_PORTS - 1].tx);
        }
        t.join().unwrap();
    }
}
