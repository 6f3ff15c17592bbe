//! The egress side of an lcore: for each port it owns, the deadline queue
//! (PortSched) and a TX buffer. Packets arrive through [`Egress::submit`]
//! (straight from the router on a run-to-completion lcore, from rings on a
//! pipelined TX lcore); [`Egress::service`] releases what may leave now and
//! sends; [`Egress::finish`] drains at shutdown.
//!
//! Statistics of what leaves: per-class tx counts and latency (time inside
//! newipd, end-to-end delay from contracts) recorded per TX burst into the
//! lcore's histograms, the per-port queue depth gauges, and the `queue` and
//! `tx` stage clocks.

use super::router::{on_transmit_reporting, TxMeta, NO_E2E};
use super::worker::{Clock, WorkerPort};
use crate::classify::class::BEST_EFFORT;
use crate::dpdk::mbuf::{Burst, Mbuf};
use crate::dpdk::time::tsc;
use crate::sched::damper::OnTimePort;
use crate::sched::port::{PortSched, SchedConfig, Schedulable};
use crate::stats::histo::HistoWriter;
use crate::stats::stages::{Stage, StageClock};
use crate::stats::{Counters, Event, Reason};
use crate::MAX_BURST;

/// A packet waiting in a port scheduler.
struct Queued {
    m: Mbuf,
    meta: TxMeta,
}

impl Schedulable for Queued {
    #[inline(always)]
    fn deadline_ns(&self) -> u64 {
        self.meta.deadline_ns
    }
    #[inline(always)]
    fn eligible_ns(&self) -> u64 {
        self.meta.eligible_ns
    }
    #[inline(always)]
    fn frame_len(&self) -> u32 {
        self.m.len() as u32
    }
    #[inline(always)]
    fn late_ok(&self) -> bool {
        self.meta.late_ok
    }
    #[inline(always)]
    fn set_deadline_ns(&mut self, d: u64) {
        self.meta.deadline_ns = d;
    }
    fn late_reason(&self) -> Reason {
        self.meta.late_reason()
    }
    #[inline(always)]
    fn on_time_prio(&self) -> Option<u8> {
        (self.meta.on_time != 0).then_some(self.meta.prio)
    }
    fn wash(&mut self, bytes: u64) -> u64 {
        if !self.meta.qual {
            return 0;
        }
        let n = crate::sched::wash::wash_frame(self.m.data_mut(), self.meta.l3 as usize, bytes);
        if n > 0 && !self.m.trim(n as u16) {
            return 0;
        }
        n as u64
    }
}

/// What latency statistics need of a buffered packet.
#[derive(Debug, Clone, Copy, Default)]
struct Stamp {
    /// Arrival (ns, the time of its RX burst).
    rx_ns: u64,
    /// Traffic class ([`crate::classify::class`]).
    class: u8,
}

impl Stamp {
    /// A packet's stamp: from its metadata, else best effort arrived at `rx_ns`.
    #[inline(always)]
    fn of(meta: Option<&TxMeta>, rx_ns: u64) -> Stamp {
        match meta {
            Some(m) => Stamp { rx_ns: m.rx_ns, class: m.class },
            None => Stamp { rx_ns, class: BEST_EFFORT },
        }
    }
}


/// The latency side of an lcore's egress: its histograms (handed over to
/// the stats thread) and the clock that turns TSC into ns.
pub struct Latency {
    pub hist: HistoWriter,
    pub clock: Clock,
}

/// One egress port's TX buffer. A packet's transmit-time contract work
/// (experienced delay, hops, on-time damper) is done as it enters, with the
/// time of the poll round; the buffer is sent before that round ends (see
/// [`Egress::service`]), so that time is its send time.
struct TxBuf {
    burst: Burst,
    /// The port's on-time (damper) state.
    on_time: OnTimePort,
    /// Per packet: arrival and class; end-to-end delay from its contract (or NO_E2E).
    stamp: [Stamp; MAX_BURST],
    e2e: [u64; MAX_BURST],
    /// Some packet reports an end-to-end delay.
    any_e2e: bool,
    /// Frame bytes of the packets buffered.
    bytes: u64,
}

impl TxBuf {
    fn new(sched: &SchedConfig) -> TxBuf {
        TxBuf {
            burst: Burst::new(),
            on_time: OnTimePort::new(sched.on_time_bound_ns),
            stamp: [Stamp::default(); MAX_BURST],
            e2e: [NO_E2E; MAX_BURST],
            any_e2e: false,
            bytes: 0,
        }
    }

    /// Take a packet for this round's TX burst and do its transmit-time
    /// work (`meta`, if it has any) with `now_ns`, the round's time. Gives
    /// it back when the buffer is full; a packet its contract refuses now
    /// (late, a broken on-time contract) is freed and its drop reason
    /// returned, for the caller to count.
    #[inline(always)]
    fn push(&mut self, mut m: Mbuf, meta: Option<&TxMeta>, stamp: Stamp, now_ns: u64, link_delay_ns: u32) -> Result<Option<Reason>, Mbuf> {
        let i = self.burst.len();
        if i >= MAX_BURST {
            return Err(m);
        }
        let mut e2e = NO_E2E;
        if let Some(meta) = meta {
            match on_transmit_reporting(m.data_mut(), meta, now_ns, link_delay_ns, &mut self.on_time) {
                Ok(reported) => e2e = reported,
                Err(r) => return Ok(Some(r)),
            }
        }
        let len = m.len() as u64;
        self.burst.push(m)?;
        self.bytes += len;
        self.stamp[i] = stamp;
        self.e2e[i] = e2e;
        self.any_e2e |= e2e != NO_E2E;
        Ok(None)
    }

    /// Send; whatever the queue refuses is `tx-full`. Returns the packets
    /// offered to the driver and the TSC right after sending (the latency
    /// end point), if any were.
    #[inline]
    fn flush(&mut self, port: &WorkerPort, c: &mut Counters, lat: &mut Latency) -> Option<(u64, u64)> {
        if self.burst.is_empty() {
            return None;
        }
        c.event(port.index, Event::OnTimeDowngraded, self.on_time.take_downgraded());
        let with_e2e = std::mem::take(&mut self.any_e2e);
        let n = self.burst.len() as u64;
        let bytes = std::mem::take(&mut self.bytes);
        let sent = self.burst.tx(port.id.0, port.txq) as u64;
        if sent == n {
            c.tx(port.index, n, bytes);
        } else {
            let unsent: u64 = self.burst.as_slice().iter().map(|m| m.len() as u64).sum();
            c.tx(port.index, sent, bytes - unsent);
            c.drop(port.index, Reason::TxFull, n - sent);
            self.burst.free_all();
        }
        let t1 = tsc();
        self.record_sent(sent as usize, with_e2e, lat.clock.ns(t1), c, &mut lat.hist);
        Some((n, t1))
    }

    /// Per-class tx counts and latency of the first `sent` packets. Packets
    /// of one class from one RX burst share a sojourn time, and contract
    /// delays repeat: each distinct (class, value) is recorded once, with its
    /// count (a mix interleaves classes, so runs alone would not group them).
    #[inline]
    fn record_sent(&self, sent: usize, with_e2e: bool, tx_ns: u64, c: &mut Counters, hist: &mut HistoWriter) {
        let h = hist.rec();
        let mut t = Tally::default();
        // Per-class tx counts ride on the sojourn tally (every sent packet has one).
        let mut sojourn = |k: u8, v: u64, n: u64| {
            c.class_tx(k, n);
            h.sojourn(k, v, n);
        };
        for s in &self.stamp[..sent] {
            t.add(s.class, tx_ns.saturating_sub(s.rx_ns), &mut sojourn);
        }
        t.flush(&mut sojourn);
        if with_e2e {
            for (s, &e) in self.stamp[..sent].iter().zip(&self.e2e[..sent]) {
                if e != NO_E2E {
                    t.add(s.class, e, |k, v, n| h.e2e(k, v, n));
                }
            }
            t.flush(|k, v, n| h.e2e(k, v, n));
        }
    }
}

/// Up to [`TALLY`] distinct (class, value) pairs with their counts, so one
/// histogram record serves every packet sharing them. The current run of
/// equal pairs is counted in `run` (a register in the loop), and only folded
/// into the table when the pair changes.
#[derive(Default)]
struct Tally {
    len: usize,
    keys: [(u8, u64); TALLY],
    counts: [u64; TALLY],
    run: u64,
    run_key: (u8, u64),
}

const TALLY: usize = 8;

impl Tally {
    /// Count one (class, value); when the table is full, record it first.
    #[inline(always)]
    fn add(&mut self, class: u8, value: u64, mut record: impl FnMut(u8, u64, u64)) {
        let key = (class, value);
        if self.run > 0 && self.run_key == key {
            self.run += 1;
            return;
        }
        self.fold(&mut record);
        self.run_key = key;
        self.run = 1;
    }

    /// Move the current run into the table.
    #[inline(always)]
    fn fold(&mut self, mut record: impl FnMut(u8, u64, u64)) {
        if self.run == 0 {
            return;
        }
        let key = self.run_key;
        if let Some(i) = self.keys[..self.len].iter().position(|&k| k == key) {
            self.counts[i] += self.run;
        } else {
            if self.len == TALLY {
                self.record_all(&mut record);
            }
            self.keys[self.len] = key;
            self.counts[self.len] = self.run;
            self.len += 1;
        }
        self.run = 0;
    }

    /// Record every pair and start again.
    #[inline(always)]
    fn flush(&mut self, mut record: impl FnMut(u8, u64, u64)) {
        self.fold(&mut record);
        self.record_all(&mut record);
    }

    #[inline(always)]
    fn record_all(&mut self, mut record: impl FnMut(u8, u64, u64)) {
        for (&(k, v), &n) in self.keys[..self.len].iter().zip(&self.counts[..self.len]) {
            record(k, v, n);
        }
        self.len = 0;
    }
}

/// One owned egress port.
struct Out {
    op: WorkerPort,
    buf: TxBuf,
    sched: PortSched<Queued>,
}

impl Out {
    /// Count what the scheduler did on its own since the last call
    /// (demotions, washes), wherever it was asked to work.
    #[inline(always)]
    fn take_events(&mut self, c: &mut Counters) {
        let i = self.op.index;
        c.event(i, Event::LateOkDemoted, self.sched.take_demoted());
        let w = self.sched.take_washed();
        c.event(i, Event::WashedPackets, w.packets);
        c.event(i, Event::WashedBytes, w.bytes);
    }

    /// Move what the scheduler releases now into the TX buffer (flushing when
    /// it fills); drops (late at the head, ...) are counted on the port.
    #[inline]
    fn release(&mut self, now_ns: u64, burst: usize, c: &mut Counters, lat: &mut Latency) {
        let Out { op, buf, sched } = self;
        loop {
            let room = burst.saturating_sub(buf.burst.len());
            if room == 0 {
                buf.flush(op, c, lat);
                continue;
            }
            // `room` places are free, so a refused push cannot happen; if it ever
            // did, the packet is still counted (and freed) as tx-full.
            // Contract refusals at transmit are counted after the dequeue.
            let mut refused = 0;
            let mut why = [Reason::TxFull; MAX_BURST];
            let mut nwhy = 0;
            let n = sched.dequeue(
                now_ns,
                room,
                |q| {
                    let meta = q.meta;
                    let stamp = Stamp { rx_ns: meta.rx_ns, class: meta.class };
                    match buf.push(q.m, Some(&meta), stamp, now_ns, op.link_delay_ns) {
                        Ok(None) => {}
                        Ok(Some(r)) => {
                            if let Some(w) = why.get_mut(nwhy) {
                                *w = r;
                                nwhy += 1;
                            }
                        }
                        Err(_) => refused += 1,
                    }
                },
                |_, r| c.drop(op.index, r, 1),
            );
            c.drop(op.index, Reason::TxFull, refused);
            for &r in &why[..nwhy] {
                c.drop(op.index, r, 1);
            }
            if n < room {
                break;
            }
            buf.flush(op, c, lat);
        }
    }
}

/// The egress ports one lcore owns, indexed by pipeline port index.
pub struct Egress {
    ports: Vec<Option<Out>>,
    burst: usize,
    lat: Latency,
}

impl Egress {
    /// Own `ports` (allocates every queue now, nothing later); record
    /// latency into `lat`.
    pub fn new(ports: &[WorkerPort], burst: usize, now_ns: u64, lat: Latency) -> Egress {
        let n = ports.iter().map(|p| p.index + 1).max().unwrap_or(0);
        let mut v: Vec<Option<Out>> = (0..n).map(|_| None).collect();
        for p in ports {
            v[p.index] = Some(Out { op: *p, buf: TxBuf::new(&p.sched), sched: PortSched::new(p.sched, now_ns) });
        }
        Egress { ports: v, burst: burst.min(MAX_BURST), lat }
    }

    /// Hand a routed packet to egress port `out`: straight into the TX buffer
    /// when the scheduler would send it first anyway, else into the deadline
    /// queue. `meta`: the packet's contract work, if it has any; `rx_ns`:
    /// when it arrived. Gives the packet back if this lcore does not own `out`.
    #[inline(always)]
    pub fn submit(&mut self, m: Mbuf, meta: Option<&TxMeta>, out: usize, rx_ns: u64, now_ns: u64, c: &mut Counters) -> Result<(), Mbuf> {
        let Some(Some(o)) = self.ports.get_mut(out) else { return Err(m) };
        let len = m.len() as u32;
        let eligible = meta.map_or(0, |m| m.eligible_ns);
        if eligible <= now_ns && o.sched.has_due(now_ns) {
            // What the scheduler would send now goes first (into the same TX
            // burst); then, if it is all gone, this packet need not queue.
            o.release(now_ns, self.burst, c, &mut self.lat);
        }
        if o.sched.try_bypass_with(eligible, len, now_ns) {
            if o.buf.burst.len() >= self.burst {
                o.buf.flush(&o.op, c, &mut self.lat);
            }
            // The buffer has room after a flush; a refused push is dropped.
            // (Metadata with nothing to write at send time, e.g. a washable
            // payload, costs push one test.)
            match o.buf.push(m, meta, Stamp::of(meta, rx_ns), now_ns, o.op.link_delay_ns) {
                Ok(None) => {}
                Ok(Some(r)) => c.drop(out, r, 1),
                Err(_) => c.drop(out, Reason::TxFull, 1),
            }
        } else {
            // No contract: best effort, never dropped for lateness.
            let meta = meta.copied().unwrap_or(TxMeta { rx_ns, late_ok: true, ..TxMeta::NONE });
            o.sched.enqueue(Queued { m, meta }, now_ns, |_, r| c.drop(out, r, 1));
        }
        Ok(())
    }

    /// End of a poll round: release what the schedulers allow now and send
    /// every TX buffer. A packet never waits in a TX buffer for a later
    /// round: its transmit-time contract work was done with this round's
    /// time, and a deadline-aware router does not hold packets to fill
    /// bursts. Returns the packets still queued and sets each port's queue
    /// depth gauge. `clk` times the `queue` and `tx` stages.
    #[inline]
    pub fn service(&mut self, now_ns: u64, c: &mut Counters, clk: &mut StageClock) -> u64 {
        let mut held = 0;
        for o in self.ports.iter_mut().flatten() {
            // (Packets held for later need no work until one is due.)
            if o.sched.has_due(now_ns) {
                let before = o.sched.len();
                o.release(now_ns, self.burst, c, &mut self.lat);
                clk.lap(&mut c.stages, Stage::Queue, before.saturating_sub(o.sched.len()) as u64, tsc);
            }
            o.take_events(c);
            if let Some((n, t)) = o.buf.flush(&o.op, c, &mut self.lat) {
                clk.lap_at(&mut c.stages, Stage::Tx, n, t);
            }
            let q = o.sched.len() as u64;
            c.set_queued(o.op.index, q);
            held += q;
        }
        held
    }

    /// Post the latency recorded since the last hand-over to the stats thread.
    #[inline]
    pub fn hand_over(&mut self) {
        self.lat.hist.hand_over();
    }

    /// Shutdown: keep sending what the schedulers hold for at most
    /// `drain_tsc`, then drop the rest as `shutdown-drained`; send what is
    /// buffered; post the last latency values. Returns what is left queued (0).
    pub fn finish(mut self, drain_tsc: u64, c: &mut Counters) -> u64 {
        let stop_at = tsc();
        loop {
            let now = tsc();
            let now_ns = self.lat.clock.ns(now);
            let mut left = 0;
            for o in self.ports.iter_mut().flatten() {
                if !o.sched.is_empty() {
                    if now.wrapping_sub(stop_at) >= drain_tsc {
                        o.sched.drain(now_ns, |_, r| c.drop(o.op.index, r, 1));
                    } else {
                        o.release(now_ns, self.burst, c, &mut self.lat);
                    }
                }
                o.buf.flush(&o.op, c, &mut self.lat);
                left += o.sched.len();
            }
            if left == 0 {
                break;
            }
        }
        for o in self.ports.iter_mut().flatten() {
            o.take_events(c);
            c.set_queued(o.op.index, o.sched.len() as u64);
        }
        self.lat.hist.finish();
        self.ports.iter().flatten().map(|o| o.sched.len() as u64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::Tally;
    use proptest::prelude::*;

    proptest! {
        /// Every packet is counted once, under its own (class, value), and
        /// no pair is recorded twice between two flushes unless the tally
        /// overflowed.
        #[test]
        fn tally_counts_every_pair_exactly(items in proptest::collection::vec((0u8..4, 0u64..6), 0..64)) {
            let mut t = Tally::default();
            let mut got: Vec<(u8, u64, u64)> = Vec::new();
            for &(k, v) in &items {
                t.add(k, v, |k, v, n| got.push((k, v, n)));
            }
            t.flush(|k, v, n| got.push((k, v, n)));
            let mut want = std::collections::BTreeMap::new();
            for &(k, v) in &items {
                *want.entry((k, v)).or_insert(0u64) += 1;
            }
            let mut summed = std::collections::BTreeMap::new();
            for &(k, v, n) in &got {
                *summed.entry((k, v)).or_insert(0u64) += n;
            }
            prop_assert_eq!(summed, want.clone());
            if want.len() <= super::TALLY {
                prop_assert_eq!(got.len(), want.len(), "one record per distinct pair");
            }
        }
    }
}
