//! Per-core counters. Each packet lcore keeps a plain [`Counters`] it alone
//! writes, and publishes it into its own [`SharedCounters`] now and then with
//! relaxed stores inside a sequence lock (no read-modify-write atomics, no
//! locks: readers retry instead), so a reader always sees one consistent
//! publication: one moment of its lcore. Readers sum the published copies
//! of every lcore.

use crate::class::MAX_CLASSES;
use crate::kinds::{Event, Reason, N_EVENTS, N_REASONS};
use super::stages::StageCounters;
use std::sync::atomic::{fence, AtomicU64, Ordering::{Acquire, Relaxed, Release}};

pub use crate::kinds::MAX_PORTS;

/// Counters of one port on one lcore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortCounters {
    pub rx: u64,
    pub rx_bytes: u64,
    pub tx: u64,
    pub tx_bytes: u64,
    pub drops: [u64; N_REASONS],
    pub events: [u64; N_EVENTS],
    /// Packets held for this egress port (deadline queue and TX buffer) at
    /// the last publication: a gauge, not a counter.
    pub queued: u64,
}

impl Default for PortCounters {
    fn default() -> Self {
        PortCounters { rx: 0, rx_bytes: 0, tx: 0, tx_bytes: 0, drops: [0; N_REASONS], events: [0; N_EVENTS], queued: 0 }
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
        self.queued += o.queued;
    }

    /// Field values in the order of [`Self::fields_mut`].
    fn fields(&self) -> impl Iterator<Item = u64> + '_ {
        [self.rx, self.rx_bytes, self.tx, self.tx_bytes, self.queued].into_iter().chain(self.drops.iter().copied()).chain(self.events.iter().copied())
    }

    fn fields_mut(&mut self) -> impl Iterator<Item = &mut u64> {
        [&mut self.rx, &mut self.rx_bytes, &mut self.tx, &mut self.tx_bytes, &mut self.queued]
            .into_iter()
            .chain(self.drops.iter_mut())
            .chain(self.events.iter_mut())
    }

    /// Packets newipd created (broadcast copies, ICMP errors, packets the
    /// kernel sent on a host interface): they count in tx but not rx.
    pub fn created(&self) -> u64 {
        self.events[Event::BroadcastCopies as usize]
            + self.events[Event::IcmpErrorsSent as usize]
            + self.events[Event::Injected as usize]
            + self.events[Event::FragmentsCreated as usize]
    }

    /// Packets handed to the kernel on a host interface: they left the data
    /// path without being sent or dropped.
    pub fn punted(&self) -> u64 {
        self.events[Event::Punted as usize]
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
    /// Packets the lcore holds right now (its deadline queues): a gauge
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

    fn fields(&self) -> [u64; Self::FIELDS] {
        [self.ring_enqueued, self.ring_dequeued, self.held]
    }

    fn fields_mut(&mut self) -> [&mut u64; Self::FIELDS] {
        [&mut self.ring_enqueued, &mut self.ring_dequeued, &mut self.held]
    }
}

/// Counters of one traffic class (numbering and names: [`crate::class`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassCounters {
    /// Packets the router sent towards an egress port in this class.
    pub forwarded: u64,
    /// Packets of this class handed to the NIC.
    pub tx: u64,
}

/// All counters of one lcore (or, summed, of the whole process).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counters {
    pub ports: [PortCounters; MAX_PORTS],
    pub lcore: LcoreCounters,
    pub classes: [ClassCounters; MAX_CLASSES],
    pub stages: StageCounters,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            ports: [PortCounters::default(); MAX_PORTS],
            lcore: LcoreCounters::default(),
            classes: [ClassCounters::default(); MAX_CLASSES],
            stages: StageCounters::default(),
        }
    }
}

impl Counters {
    /// `packets` received on `port`, `bytes` in all (the lcores count a
    /// burst at once).
    #[inline(always)]
    pub fn rx(&mut self, port: usize, packets: u64, bytes: u64) {
        if let Some(p) = self.ports.get_mut(port) {
            p.rx += packets;
            p.rx_bytes += bytes;
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

    /// `n` packets of `class` forwarded (towards an egress queue).
    #[inline(always)]
    pub fn class_forwarded(&mut self, class: u8, n: u64) {
        if let Some(k) = self.classes.get_mut(class as usize) {
            k.forwarded += n;
        }
    }

    /// `n` packets of `class` sent.
    #[inline(always)]
    pub fn class_tx(&mut self, class: u8, n: u64) {
        if let Some(k) = self.classes.get_mut(class as usize) {
            k.tx += n;
        }
    }

    /// Set the queue depth gauge of `port`.
    #[inline(always)]
    pub fn set_queued(&mut self, port: usize, n: u64) {
        if let Some(p) = self.ports.get_mut(port) {
            p.queued = n;
        }
    }

    pub fn add(&mut self, o: &Counters) {
        for (a, b) in self.ports.iter_mut().zip(o.ports.iter()) {
            a.add(b);
        }
        self.lcore.add(&o.lcore);
        for (a, b) in self.classes.iter_mut().zip(o.classes.iter()) {
            a.forwarded += b.forwarded;
            a.tx += b.tx;
        }
        self.stages.add(&o.stages);
    }

    /// Packets on rings between lcores: enqueued minus dequeued. Exact for the
    /// sum over all lcores at the end of a run; in a live sum of copies
    /// published at different moments it can lag by one publish interval
    /// (and even be negative), and the identity still holds with it.
    pub fn in_rings(&self) -> i64 {
        self.lcore.ring_enqueued as i64 - self.lcore.ring_dequeued as i64
    }

    /// Every field value in one fixed order (what [`SharedCounters`] stores).
    #[cfg(test)]
    fn fields(&self) -> impl Iterator<Item = u64> + '_ {
        self.fields_of(MAX_PORTS)
    }

    /// [`Self::fields`] with those of ports `0..ports` only.
    fn fields_of(&self, ports: usize) -> impl Iterator<Item = u64> + '_ {
        self.ports[..ports]
            .iter()
            .flat_map(|p| p.fields())
            .chain(self.lcore.fields())
            .chain(self.classes.iter().flat_map(|k| [k.forwarded, k.tx]))
            .chain(self.stages.fields())
    }

    /// The fields of [`Self::fields`], writable, in the same order.
    fn fields_mut(&mut self) -> impl Iterator<Item = &mut u64> {
        self.ports
            .iter_mut()
            .flat_map(|p| p.fields_mut())
            .chain(self.lcore.fields_mut())
            .chain(self.classes.iter_mut().flat_map(|k| [&mut k.forwarded, &mut k.tx]))
            .chain(self.stages.fields_mut())
    }

    pub fn total(&self) -> PortCounters {
        let mut t = PortCounters::default();
        for p in &self.ports {
            t.add(p);
        }
        t
    }
}

/// Number of u64 fields of one port in a [`Counters`].
const PORT_FIELDS: usize = 5 + N_REASONS + N_EVENTS;

/// Number of u64 fields in a [`Counters`].
const FIELDS: usize = MAX_PORTS * PORT_FIELDS + LcoreCounters::FIELDS + MAX_CLASSES * 2 + 4 * super::stages::N_STAGES;

/// The published copy of one lcore's counters, behind a sequence number:
/// odd while the owner writes, even when a copy is complete.
pub struct SharedCounters {
    seq: AtomicU64,
    fields: Box<[AtomicU64]>,
    /// Ports whose counters are published (the pipeline's): the others
    /// stay zero, so a publication copies a few hundred bytes a port, not
    /// the whole 20 KiB table through the lcore's L1 every millisecond.
    ports: usize,
}

impl Default for SharedCounters {
    fn default() -> Self {
        SharedCounters::for_ports(MAX_PORTS)
    }
}

impl SharedCounters {
    /// Shared counters of an lcore that counts on ports `0..ports` only.
    pub fn for_ports(ports: usize) -> SharedCounters {
        SharedCounters { seq: AtomicU64::new(0), fields: (0..FIELDS).map(|_| AtomicU64::new(0)).collect(), ports: ports.min(MAX_PORTS) }
    }

    /// Publish (called only by the owning lcore; never blocks).
    pub fn publish(&self, c: &Counters) {
        let s = self.seq.load(Relaxed);
        self.seq.store(s.wrapping_add(1), Relaxed);
        fence(Release);
        // The used ports' fields, then those of no port.
        let (ports, rest) = self.fields.split_at(MAX_PORTS * PORT_FIELDS);
        let mut dst = ports[..self.ports * PORT_FIELDS].iter().chain(rest);
        // for_each iterates the field chain internally (much faster than zip).
        c.fields_of(self.ports).for_each(|v| {
            if let Some(d) = dst.next() {
                d.store(v, Relaxed);
            }
        });
        self.seq.store(s.wrapping_add(2), Release);
    }

    /// Read the last complete publication (retries while the owner writes).
    pub fn snapshot(&self) -> Counters {
        let mut c = Counters::default();
        loop {
            let s1 = self.seq.load(Acquire);
            if s1 & 1 == 0 {
                for (d, s) in c.fields_mut().zip(self.fields.iter()) {
                    *d = s.load(Relaxed);
                }
                fence(Acquire);
                if self.seq.load(Relaxed) == s1 {
                    return c;
                }
            }
            std::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_snapshot_and_sum() {
        let mut a = Counters::default();
        a.rx(0, 1, 64);
        a.rx(0, 1, 64);
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
        a.rx(MAX_PORTS, 1, 1);
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
    fn a_publication_for_some_ports_carries_them_and_everything_of_no_port() {
        let mut a = Counters::default();
        for (i, f) in a.fields_mut().enumerate() {
            *f = i as u64 + 1;
        }
        let s = SharedCounters::for_ports(3);
        s.publish(&a);
        let snap = s.snapshot();
        assert_eq!(&snap.ports[..3], &a.ports[..3]);
        assert!(snap.ports[3..].iter().all(|p| *p == PortCounters::default()), "ports past the third are not published");
        assert_eq!((snap.lcore, snap.classes, snap.stages.fields().collect::<Vec<_>>()), (a.lcore, a.classes, a.stages.fields().collect()));
        // Every port: the default.
        let all = SharedCounters::default();
        all.publish(&a);
        assert_eq!(all.snapshot(), a);
    }

    #[test]
    fn every_field_round_trips_in_order() {
        let mut a = Counters::default();
        for (i, f) in a.fields_mut().enumerate() {
            *f = i as u64 + 1;
        }
        assert_eq!(a.fields().count(), FIELDS);
        let s = SharedCounters::default();
        s.publish(&a);
        assert_eq!(s.snapshot(), a);
    }

    #[test]
    fn a_reader_never_sees_half_a_publication() {
        // The writer keeps rx == tx in every publication; a torn read would differ.
        let s = std::sync::Arc::new(SharedCounters::default());
        let w = std::sync::Arc::clone(&s);
        let writer = std::thread::spawn(move || {
            let mut c = Counters::default();
            for i in 0..20_000u64 {
                c.ports[0].rx = i;
                c.ports[MAX_PORTS - 1].tx = i;
                c.stages.clocks[3] = i;
                c.lcore.held = i;
                w.publish(&c);
            }
        });
        let mut last = 0;
        while !writer.is_finished() {
            let c = s.snapshot();
            assert_eq!(c.ports[0].rx, c.ports[MAX_PORTS - 1].tx);
            assert_eq!(c.ports[0].rx, c.stages.clocks[3]);
            assert_eq!(c.ports[0].rx, c.lcore.held);
            assert!(c.ports[0].rx >= last, "went backwards");
            last = c.ports[0].rx;
        }
        writer.join().unwrap();
        assert_eq!(s.snapshot().ports[0].rx, 19_999);
    }
}
