//! The poll-mode packet loop of one lcore: for every port, rx_burst, run each
//! packet through the router stage, buffer it per egress port, and when a
//! buffer is full or the drain timer fires, apply the transmit-time contract
//! updates and tx_burst. Counters are plain fields of a local struct,
//! published to the shared copy about every millisecond.

use super::router::{experienced_ns, on_transmit, PacketCtx, Router, TxMeta, Verdict};
use crate::dpdk::mbuf::{Burst, Mbuf};
use crate::dpdk::mempool::Mempool;
use crate::dpdk::port::PortId;
use crate::dpdk::time::tsc;
use crate::sched::port::{PortSched, SchedConfig, Schedulable};
use crate::stats::class::class_of;
use crate::stats::histo::HistoWriter;
use crate::stats::stages::{Stage, StageClock};
use crate::stats::{Counters, Event, Reason, SharedCounters};
use crate::MAX_BURST;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

/// How far ahead in the burst to prefetch packet data.
const PREFETCH_AHEAD: usize = 3;

/// A port as the worker sees it.
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

/// A packet waiting in a port scheduler.
struct Queued {
    m: Mbuf,
    meta: TxMeta,
    class: u8,
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
}

/// When the loop stops (besides the stop flag).
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Stop after this many TSC ticks.
    pub duration_tsc: Option<u64>,
    /// Stop after receiving exactly this many packets.
    pub packets: Option<u64>,
    /// Stop once no port has delivered a packet for this many TSC ticks.
    pub idle_tsc: Option<u64>,
}

/// TSC ticks to nanoseconds with one multiply (32.32 fixed point).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    mult: u128,
}

impl Clock {
    pub fn new(hz: u64) -> Clock {
        Clock { mult: ((1_000_000_000u128) << 32) / hz.max(1) as u128 }
    }

    #[inline(always)]
    pub fn ns(&self, tsc: u64) -> u64 {
        ((tsc as u128 * self.mult) >> 32) as u64
    }
}

/// Everything one packet lcore needs.
pub struct Worker {
    pub ports: Vec<WorkerPort>,
    pub router: Arc<Router>,
    pub stats: Arc<SharedCounters>,
    pub stop: Arc<AtomicBool>,
    /// Pool for broadcast copies.
    pub pool: Mempool,
    pub clock: Clock,
    pub burst: usize,
    pub tx_drain_tsc: u64,
    pub publish_tsc: u64,
    pub idle_sleep_us: u64,
    pub limits: Limits,
    /// After a stop, keep sending queued packets for at most this long.
    pub drain_tsc: u64,
    /// [stats] Latency histograms (taken by `run`) and how often to hand them over.
    pub latency: Option<HistoWriter>,
    pub histo_tsc: u64,
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
    /// [stats] CPU time the loop used (ns; 0 if unknown).
    pub cpu_ns: u64,
}

/// Move what the scheduler releases now into the port's TX buffer (flushing
/// when it fills); drops (late at the head, ...) are counted on the port.
#[inline]
fn release(sq: &mut PortSched<Queued>, buf: &mut TxBuf, op: &WorkerPort, now_ns: u64, burst: usize, c: &mut Counters, lat: &mut HistoWriter) {
    loop {
        let room = burst.saturating_sub(buf.burst.len());
        if room == 0 {
            buf.flush(op, now_ns, c, lat);
            continue;
        }
        // `room` places are free, so a refused push cannot happen; if it ever
        // did, the packet is still counted (and freed) as tx-full.
        let mut refused = 0;
        let n = sq.dequeue(
            now_ns,
            room,
            |q| {
                let meta = q.meta;
                if buf.push(q.m, meta.has_updates().then_some(&meta), Stamp { rx_ns: meta.rx_ns, class: q.class }).is_err() {
                    refused += 1;
                }
            },
            |_, r| c.drop(op.index, r, 1),
        );
        c.drop(op.index, Reason::TxFull, refused);
        if n < room {
            break;
        }
        buf.flush(op, now_ns, c, lat);
    }
}

/// [stats] What latency statistics need of a buffered packet.
#[derive(Debug, Clone, Copy, Default)]
struct Stamp {
    /// Arrival (ns, the time of its RX burst).
    rx_ns: u64,
    class: u8,
}

/// [stats] No end-to-end delay: the packet carries no contract that reports one.
const NO_E2E: u64 = u64::MAX;

/// One egress port's TX buffer: packets and what to write into each at send time.
struct TxBuf {
    burst: Burst,
    meta: [TxMeta; MAX_BURST],
    /// Some packet has transmit-time updates (else the fast path skips them).
    updates: bool,
    /// [stats] Per packet: arrival and class; end-to-end delay from its contract (or NO_E2E).
    stamp: [Stamp; MAX_BURST],
    e2e: [u64; MAX_BURST],
    clock: Clock,
}

impl TxBuf {
    fn new(clock: Clock) -> TxBuf {
        TxBuf { burst: Burst::new(), meta: [TxMeta::NONE; MAX_BURST], updates: false, stamp: [Stamp::default(); MAX_BURST], e2e: [NO_E2E; MAX_BURST], clock }
    }

    /// Queue a packet; `meta` is its transmit-time work, if it has any.
    /// Metadata slots are only written once some packet in the burst needs
    /// one, so contract-free traffic never touches them.
    #[inline(always)]
    fn push(&mut self, m: Mbuf, meta: Option<&TxMeta>, stamp: Stamp) -> Result<(), Mbuf> {
        let i = self.burst.len();
        self.burst.push(m)?;
        self.stamp[i] = stamp;
        match meta {
            Some(meta) => {
                if !self.updates {
                    self.meta[..i].fill(TxMeta::NONE);
                    self.updates = true;
                }
                self.meta[i] = *meta;
            }
            None if self.updates => self.meta[i] = TxMeta::NONE,
            None => {}
        }
        Ok(())
    }

    /// Apply transmit-time updates, send; whatever the queue refuses is `tx-full`.
    /// [stats] Returns the packets offered to the driver and the TSC right
    /// after sending (the latency end point), if any were.
    #[inline]
    fn flush(&mut self, port: &WorkerPort, now_ns: u64, c: &mut Counters, lat: &mut HistoWriter) -> Option<(u64, u64)> {
        if self.burst.is_empty() {
            return None;
        }
        let with_e2e = self.updates;
        if self.updates {
            let (meta, stamp, e2e) = (&self.meta, &mut self.stamp, &mut self.e2e);
            let mut kept = 0;
            self.burst.retain_mut(|i, m| match on_transmit(m.data_mut(), &meta[i], now_ns, port.link_delay_ns) {
                Ok(()) => {
                    // [stats] keep stamps aligned with the packets kept
                    stamp[kept] = stamp[i];
                    e2e[kept] = experienced_ns(m.data(), &meta[i]).unwrap_or(NO_E2E);
                    kept += 1;
                    true
                }
                Err(r) => {
                    c.drop(port.index, r, 1);
                    false
                }
            });
            self.updates = false;
        }
        let n = self.burst.len() as u64;
        if n == 0 {
            return None;
        }
        let bytes: u64 = self.burst.as_slice().iter().map(|m| m.len() as u64).sum();
        let sent = self.burst.tx(port.id.0, port.txq) as u64;
        if sent == n {
            c.tx(port.index, n, bytes);
        } else {
            let unsent: u64 = self.burst.as_slice().iter().map(|m| m.len() as u64).sum();
            c.tx(port.index, sent, bytes - unsent);
            c.drop(port.index, Reason::TxFull, n - sent);
            self.burst.free_all();
        }
        let t1 = tsc(); // [stats]
        self.record_sent(sent as usize, with_e2e, self.clock.ns(t1), c, lat);
        Some((n, t1))
    }

    /// [stats] Per-class tx counts and latency of the first `sent` packets;
    /// runs of equal values and class are recorded at once.
    #[inline]
    fn record_sent(&self, sent: usize, with_e2e: bool, tx_ns: u64, c: &mut Counters, lat: &mut HistoWriter) {
        let h = lat.rec();
        let mut i = 0;
        while i < sent {
            let s = self.stamp[i];
            let mut j = i + 1;
            while j < sent && self.stamp[j].rx_ns == s.rx_ns && self.stamp[j].class == s.class {
                j += 1;
            }
            c.class_tx(s.class, (j - i) as u64);
            h.sojourn(s.class, tx_ns.saturating_sub(s.rx_ns), (j - i) as u64);
            i = j;
        }
        if with_e2e {
            let mut i = 0;
            while i < sent {
                let (class, e) = (self.stamp[i].class, self.e2e[i]);
                let mut j = i + 1;
                while j < sent && self.e2e[j] == e && self.stamp[j].class == class {
                    j += 1;
                }
                if e != NO_E2E {
                    h.e2e(class, e, (j - i) as u64);
                }
                i = j;
            }
        }
    }
}

impl Worker {
    /// Run until a limit or the stop flag ends it. Every received packet is
    /// sent or counted as dropped before this returns.
    pub fn run(mut self) -> Outcome {
        let mut c = Counters::default();
        let mut rx = Burst::new();
        // [stats] latency histograms, per-stage stopwatch
        let mut lat = self.latency.take().unwrap_or_else(|| crate::stats::histo::HistoMailbox::new().1);
        let mut clk = StageClock::default();
        // One TX buffer per pipeline port, indexed by port index (allocated once).
        let nports = self.ports.iter().map(|p| p.index + 1).max().unwrap_or(0);
        let mut tx: Vec<TxBuf> = (0..nports).map(|_| TxBuf::new(self.clock)).collect();
        let mut by_index: Vec<Option<WorkerPort>> = vec![None; nports];
        for p in &self.ports {
            by_index[p.index] = Some(*p);
        }
        let t0 = self.clock.ns(tsc());
        let mut sched: Vec<PortSched<Queued>> =
            (0..nports).map(|i| PortSched::new(by_index[i].map(|p| p.sched).unwrap_or_default(), t0)).collect();
        let allocs_before = crate::dpdk::heap::thread_allocations();
        let cpu_start = crate::dpdk::time::thread_cpu_ns(); // [stats]
        let start = tsc();
        let mut last_drain = start;
        let mut last_publish = start;
        let mut last_handover = start;
        let mut last_rx = start;
        let mut received: u64 = 0;
        let burst = self.burst.min(MAX_BURST);
        'poll: loop {
            let now = tsc();
            let now_ns = self.clock.ns(now);
            clk.start(now); // [stats]
            if self.stop.load(Relaxed) {
                break;
            }
            if let Some(d) = self.limits.duration_tsc {
                if now.wrapping_sub(start) >= d {
                    break;
                }
            }
            let mut got = 0usize;
            for p in &self.ports {
                let want = match self.limits.packets {
                    Some(max) if received >= max => break 'poll,
                    Some(max) => burst.min((max - received) as usize),
                    None => burst,
                };
                let n = rx.rx(p.id.0, p.rxq, want);
                if n == 0 {
                    continue;
                }
                clk.lap(&mut c.stages, Stage::Rx, n as u64, tsc); // [stats]
                got += n;
                received += n as u64;
                let ctx = PacketCtx { now_ns, in_port: p.index as u16 };
                let mut meta = TxMeta::NONE;
                let mut it = rx.drain();
                while let Some(mut m) = it.next() {
                    if let Some(ahead) = it.peek(PREFETCH_AHEAD) {
                        ahead.prefetch();
                    }
                    c.rx(p.index, m.len());
                    match self.router.process_at(m.data_mut(), &ctx, &mut c, &mut meta) {
                        Verdict::Forward { port, with_meta } => {
                            let out = port as usize;
                            // [stats] class of the packet
                            let class = class_of(with_meta && meta.deadline_ns != u64::MAX, with_meta && meta.on_time != 0, 0);
                            c.class_forwarded(class, 1);
                            let stamp = Stamp { rx_ns: now_ns, class };
                            match (tx.get_mut(out), sched.get_mut(out), by_index.get(out).copied().flatten()) {
                                (Some(buf), Some(sq), Some(op)) => {
                                    let (eligible, len) = if with_meta { (meta.eligible_ns, m.len() as u32) } else { (0, m.len() as u32) };
                                    if sq.try_bypass_with(eligible, len, now_ns) {
                                        if buf.burst.len() >= burst {
                                            buf.flush(&op, now_ns, &mut c, &mut lat);
                                        }
                                        // The buffer has room after a flush; a refused push is dropped.
                                        if buf.push(m, with_meta.then_some(&meta), stamp).is_err() {
                                            c.drop(op.index, Reason::TxFull, 1);
                                        }
                                    } else {
                                        // No contract: best effort, never dropped for lateness.
                                        let meta = if with_meta { meta } else { TxMeta { rx_ns: now_ns, late_ok: true, ..TxMeta::NONE } };
                                        let q = Queued { m, meta, class };
                                        sq.enqueue(q, now_ns, |_, r| c.drop(out, r, 1));
                                    }
                                }
                                _ => c.drop(p.index, Reason::NoRoute, 1),
                            }
                        }
                        Verdict::Flood { with_meta } => {
                            self.flood(m, with_meta.then_some(&meta), p.index, &by_index, &mut tx, now_ns, burst, &mut c, &mut lat)
                        }
                        Verdict::Drop(r) => c.drop(p.index, r, 1),
                    }
                }
                clk.lap(&mut c.stages, Stage::Route, n as u64, tsc); // [stats]
            }
            let drain_due = now.wrapping_sub(last_drain) >= self.tx_drain_tsc;
            let mut queued = 0;
            for (i, (buf, sq)) in tx.iter_mut().zip(sched.iter_mut()).enumerate() {
                let Some(op) = by_index[i] else { continue };
                if !sq.is_empty() {
                    let before = sq.len();
                    release(sq, buf, &op, now_ns, burst, &mut c, &mut lat);
                    clk.lap(&mut c.stages, Stage::Queue, before.saturating_sub(sq.len()) as u64, tsc); // [stats]
                    queued += sq.len();
                    c.event(op.index, Event::LateOkDemoted, sq.take_demoted());
                }
                if !buf.burst.is_empty() && (got == 0 || drain_due || buf.burst.len() >= burst) {
                    if let Some((n, t)) = buf.flush(&op, now_ns, &mut c, &mut lat) {
                        clk.lap_at(&mut c.stages, Stage::Tx, n, t); // [stats]
                    }
                }
            }
            if drain_due {
                last_drain = now;
            }
            if now.wrapping_sub(last_publish) >= self.publish_tsc {
                set_queue_gauges(&mut c, &sched, &tx); // [stats]
                self.stats.publish(&c);
                last_publish = now;
            }
            if now.wrapping_sub(last_handover) >= self.histo_tsc {
                lat.hand_over(); // [stats]
                last_handover = now;
            }
            if got > 0 {
                last_rx = now;
            } else if queued == 0 {
                if let Some(idle) = self.limits.idle_tsc {
                    if now.wrapping_sub(last_rx) >= idle {
                        break;
                    }
                }
                if self.idle_sleep_us > 0 {
                    std::thread::sleep(std::time::Duration::from_micros(self.idle_sleep_us));
                }
            }
        }
        // Drain: keep sending what the schedulers hold (for at most drain_tsc),
        // then drop the rest by name; send what is buffered. Nothing received
        // stays unaccounted.
        let stop_at = tsc();
        loop {
            let now = tsc();
            let now_ns = self.clock.ns(now);
            let mut left = 0;
            for (i, (buf, sq)) in tx.iter_mut().zip(sched.iter_mut()).enumerate() {
                let Some(op) = by_index[i] else { continue };
                if !sq.is_empty() {
                    if now.wrapping_sub(stop_at) >= self.drain_tsc {
                        sq.drain(now_ns, |_, r| c.drop(op.index, r, 1));
                    } else {
                        release(sq, buf, &op, now_ns, burst, &mut c, &mut lat);
                    }
                }
                buf.flush(&op, now_ns, &mut c, &mut lat);
                left += sq.len();
            }
            if left == 0 {
                break;
            }
        }
        let queued = sched.iter().map(|s| s.len() as u64).sum();
        let end = tsc();
        set_queue_gauges(&mut c, &sched, &tx); // [stats]
        self.stats.publish(&c);
        let allocs_after = crate::dpdk::heap::thread_allocations();
        lat.finish(); // [stats] post the last latency values
        Outcome {
            start_tsc: start,
            end_tsc: end,
            last_rx_tsc: last_rx,
            loop_allocations: allocs_before.zip(allocs_after).map(|(a, b)| b - a),
            queued,
            cpu_ns: crate::dpdk::time::thread_cpu_ns().saturating_sub(cpu_start),
        }
    }

    /// Send a broadcast out of every port but the one it came in on: copies
    /// for all but the last, the original for the last.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn flood(
        &self,
        m: Mbuf,
        meta: Option<&TxMeta>,
        in_port: usize,
        by_index: &[Option<WorkerPort>],
        tx: &mut [TxBuf],
        now_ns: u64,
        burst: usize,
        c: &mut Counters,
        lat: &mut HistoWriter,
    ) {
        let outs = by_index.iter().flatten().filter(|p| p.index != in_port);
        let last = by_index.iter().flatten().filter(|p| p.index != in_port).last().map(|p| p.index);
        let Some(last) = last else {
            c.drop(in_port, Reason::NoRoute, 1);
            return;
        };
        let mut original = Some(m);
        for op in outs {
            let pkt = if op.index == last {
                original.take()
            } else {
                match original.as_ref().and_then(|o| o.copy_into(&self.pool)) {
                    Some(copy) => {
                        c.event(in_port, Event::BroadcastCopies, 1);
                        Some(copy)
                    }
                    None => {
                        // A missing copy is a packet that never existed: count it
                        // as created and dropped so the identity stays exact.
                        c.event(in_port, Event::BroadcastCopies, 1);
                        c.drop(op.index, Reason::NoMbuf, 1);
                        None
                    }
                }
            };
            let Some(mut pkt) = pkt else { continue };
            crate::packet::ether::set_macs(pkt.data_mut(), &self.router.flood_macs(op.index));
            let buf = &mut tx[op.index];
            if buf.burst.len() >= burst {
                buf.flush(op, now_ns, c, lat);
            }
            let class = class_of(meta.is_some_and(|m| m.deadline_ns != u64::MAX), meta.is_some_and(|m| m.on_time != 0), 0);
            c.class_forwarded(class, 1); // [stats]
            if buf.push(pkt, meta, Stamp { rx_ns: now_ns, class }).is_err() {
                c.drop(op.index, Reason::TxFull, 1);
            }
        }
    }
}

/// [stats] Publish each port's queue depth: its deadline queue plus TX buffer.
fn set_queue_gauges(c: &mut Counters, sched: &[PortSched<Queued>], tx: &[TxBuf]) {
    for (i, (sq, buf)) in sched.iter().zip(tx).enumerate() {
        c.set_queued(i, (sq.len() + buf.burst.len()) as u64);
    }
}
