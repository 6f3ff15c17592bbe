//! The egress side of an lcore: for each port it owns, the deadline queue
//! (PortSched) and a TX buffer. Packets arrive through [`Egress::submit`]
//! (straight from the router on a run-to-completion lcore, as its
//! [`Sink`]; from rings on a pipelined TX lcore); [`Egress::service`]
//! releases what may leave now and sends; [`Egress::finish`] drains at
//! shutdown.
//!
//! Statistics of what leaves: per-class tx counts and latency (time inside
//! newipd, end-to-end delay from contracts) recorded per TX burst into the
//! lcore's histograms, the per-port queue depth gauges, and the `queue` and
//! `tx` stage clocks.

use newipd_dpdk::time::Clock;
use super::privmeta;
use newipd_core::path::{on_transmit_reporting, TxMeta, NO_E2E};
use super::sink::Sink;
use super::worker::WorkerPort;
use newipd_core::class::{BEST_EFFORT, MAX_CLASSES};
use newipd_dpdk::mbuf::{Burst, Mbuf};
use newipd_dpdk::spsc::Consumer;
use newipd_dpdk::time::tsc;
use newipd_core::contract::on_time::OnTimePort;
use newipd_core::sched::port::{PortSched, SchedConfig, Schedulable};
use newipd_core::stats::histo::HistoWriter;
use newipd_core::stats::stages::{Stage, StageClock};
use newipd_core::kinds::{Event, Reason, MAX_PORTS};
use newipd_core::stats::Counters;
use newipd_core::kinds::MAX_BURST;
use newipd_core::rcu::QsbrReader;

/// A packet waiting in a port scheduler: the mbuf alone, its [`TxMeta`] in
/// the private area ([`privmeta`]), so the queue moves 8 bytes a packet.
struct Queued {
    m: Mbuf,
}

impl Schedulable for Queued {
    #[inline(always)]
    fn deadline_ns(&self) -> u64 {
        privmeta::deadline_ns(&self.m)
    }
    #[inline(always)]
    fn eligible_ns(&self) -> u64 {
        privmeta::eligible_ns(&self.m)
    }
    #[inline(always)]
    fn frame_len(&self) -> u32 {
        self.m.len() as u32
    }
    #[inline(always)]
    fn late_ok(&self) -> bool {
        privmeta::late_ok(&self.m)
    }
    #[inline(always)]
    fn set_deadline_ns(&mut self, d: u64) {
        privmeta::set_deadline_ns(&mut self.m, d);
    }
    fn late_reason(&self) -> Reason {
        privmeta::load(&self.m).map_or(Reason::NewipLate, |m| m.late_reason())
    }
    #[inline(always)]
    fn on_time_prio(&self) -> Option<u8> {
        privmeta::on_time_prio(&self.m)
    }
    fn wash(&mut self, bytes: u64) -> u64 {
        let Some(l3) = privmeta::washable_l3(&self.m) else { return 0 };
        let n = newipd_core::sched::wash::wash_frame(self.m.data_mut(), l3, bytes);
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
    /// Traffic class ([`newipd_core::class`]).
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
///
/// Statistics: entering writes three slots for the packet (arrival, class,
/// end-to-end delay) and nothing else, so consecutive packets never wait on
/// each other's counter stores; [`record_sent`](TxBuf::record_sent) turns
/// the slots of the sent packets into per-class counts and histogram
/// records once per burst.
struct TxBuf {
    burst: Burst,
    /// The port's on-time (damper) state.
    on_time: OnTimePort,
    /// Per place in the burst: arrival (ns), the end-to-end delay its
    /// contract reports (NO_E2E: none) and traffic class.
    rx_ns: [u64; MAX_BURST],
    e2e_ns: [u64; MAX_BURST],
    class: [u8; MAX_BURST],
    /// Frame bytes of the packets buffered.
    bytes: u64,
}

impl TxBuf {
    fn new(sched: &SchedConfig) -> TxBuf {
        TxBuf {
            burst: Burst::new(),
            on_time: OnTimePort::new(sched.on_time_bound_ns),
            rx_ns: [0; MAX_BURST],
            e2e_ns: [NO_E2E; MAX_BURST],
            class: [BEST_EFFORT; MAX_BURST],
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
        self.note(i, stamp, e2e);
        Ok(None)
    }

    /// What the statistics keep of packet `i` of the burst.
    #[inline(always)]
    fn note(&mut self, i: usize, stamp: Stamp, e2e: u64) {
        let i = i.min(MAX_BURST - 1);
        self.rx_ns[i] = stamp.rx_ns;
        self.e2e_ns[i] = e2e;
        self.class[i] = stamp.class;
    }

    /// Send; whatever the driver refuses is `link-down` when the port's
    /// link was last seen down, `tx-full` otherwise. Returns the packets
    /// offered to the driver and the TSC right after sending (the latency
    /// end point), if any were.
    #[inline]
    fn flush(&mut self, port: &WorkerPort, c: &mut Counters, lat: &mut Latency) -> Option<(u64, u64)> {
        if self.burst.is_empty() {
            return None;
        }
        c.event(port.index, Event::OnTimeDowngraded, self.on_time.take_downgraded());
        let n = self.burst.len() as u64;
        let bytes = std::mem::take(&mut self.bytes);
        // A paused port (being restarted by the link watcher) is not sent
        // to: one relaxed load a burst, after the lcore's quiescent point.
        let paused = super::link::is_paused(super::link::paused_mask(), port.index);
        let sent = if paused { 0 } else { self.burst.tx(port.id.0, port.txq) as u64 };
        if sent == n {
            c.tx(port.index, n, bytes);
        } else {
            self.refused(port, sent, n, bytes, paused, c);
        }
        let t1 = tsc();
        self.record_sent(sent as usize, n as usize, lat.clock.ns(t1), c, &mut lat.hist);
        Some((n, t1))
    }

    /// The driver took `sent` of the `n` packets (none: the port is
    /// `paused`): count the rest as dropped, `link-down` or `tx-full`, and
    /// free them. Out of line: the sending path stays short.
    #[cold]
    #[inline(never)]
    fn refused(&mut self, port: &WorkerPort, sent: u64, n: u64, bytes: u64, paused: bool, c: &mut Counters) {
        let unsent: u64 = self.burst.as_slice().iter().map(|m| m.len() as u64).sum();
        c.tx(port.index, sent, bytes - unsent);
        let why = if paused { Reason::LinkDown } else { super::link::refused(port.index, port.id) };
        c.drop(port.index, why, n - sent);
        self.burst.free_all();
    }

    /// Per-class tx counts and latency of the first `sent` of the `n`
    /// packets noted (the rest count nowhere). Packets that arrived when
    /// the last one did (most of a burst: one poll round) are counted per
    /// class in two registers, eight bits a class, and recorded once per
    /// class; the others one by one. End-to-end delays are recorded once
    /// per run of equal (class, delay). Recording goes through the writer's
    /// coalescing table, which turns values repeated over bursts into one
    /// record.
    #[inline]
    fn record_sent(&mut self, sent: usize, n: usize, tx_ns: u64, c: &mut Counters, hist: &mut HistoWriter) {
        let sent = sent.min(n).min(MAX_BURST);
        if sent == 0 {
            return;
        }
        let round = self.rx_ns[n.min(MAX_BURST) - 1];
        // Per-class counts of the packets of `round`: byte k of `lo` is
        // class k's, byte k - 8 of `hi` class k's from 8 on (a burst holds
        // at most 64 < 256 packets). Two words, not one u128: a variable
        // 128-bit shift is a dozen instructions.
        const _: () = assert!(MAX_CLASSES <= 16 && MAX_BURST < 256);
        let (mut lo, mut hi) = (0u64, 0u64);
        for (&rx, &k) in self.rx_ns[..sent].iter().zip(&self.class[..sent]) {
            if rx == round && (k as usize) < MAX_CLASSES {
                let one = 1u64 << (8 * (k as u32 & 7));
                if k < 8 {
                    lo += one;
                } else {
                    hi += one;
                }
            } else {
                c.class_tx(k, 1);
                hist.sojourn(k, tx_ns.saturating_sub(rx), 1);
            }
        }
        let ns = tx_ns.saturating_sub(round);
        for (base, mut w) in [(0u8, lo), (8, hi)] {
            while w != 0 {
                let b = w.trailing_zeros() / 8;
                let x = (w >> (8 * b)) & 0xff;
                c.class_tx(base + b as u8, x);
                hist.sojourn(base + b as u8, ns, x);
                w &= !(0xffu64 << (8 * b));
            }
        }
        let (mut run_class, mut run_ns, mut run) = (0u8, 0u64, 0u64);
        for (&e, &k) in self.e2e_ns[..sent].iter().zip(&self.class[..sent]) {
            if e == NO_E2E {
                continue;
            }
            if run > 0 && (k, e) == (run_class, run_ns) {
                run += 1;
            } else {
                if run > 0 {
                    hist.e2e(run_class, run_ns, run);
                }
                (run_class, run_ns, run) = (k, e, 1);
            }
        }
        if run > 0 {
            hist.e2e(run_class, run_ns, run);
        }
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

    /// [`release`](Self::release) if something is due (packets held for
    /// later need no work until one is), timed as the `queue` stage.
    #[inline]
    fn release_due(&mut self, now_ns: u64, burst: usize, c: &mut Counters, lat: &mut Latency, clk: &mut StageClock) {
        if self.sched.has_due(now_ns) {
            let before = self.sched.len();
            self.release(now_ns, burst, c, lat);
            clk.lap(&mut c.stages, Stage::Queue, before.saturating_sub(self.sched.len()) as u64, tsc);
        }
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
                    let meta = privmeta::load(&q.m).unwrap_or(TxMeta::NONE);
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

/// No [`Out`] for this port index.
const NOT_OWNED: u8 = u8::MAX;

/// The egress ports one lcore owns.
pub struct Egress {
    ports: Vec<Out>,
    /// Pipeline port index -> place in `ports` (or NOT_OWNED). A table
    /// nobody writes while packets flow: looking a port up never waits for
    /// a store to the port's own state (as testing an `Option<Out>` did).
    slot: [u8; MAX_PORTS],
    burst: usize,
    lat: Latency,
    /// The TSC read right after the last TX burst of [`Egress::service`]
    /// (0: it sent nothing since [`Egress::take_sent_tsc`]).
    sent_tsc: u64,
    /// Frames the kernel sent on owned ports' host interfaces: (port index,
    /// ring from the host-interface thread).
    inject: Vec<(usize, Consumer<Mbuf>)>,
}

impl Egress {
    /// Own `ports` (allocates every queue now, nothing later); record
    /// latency into `lat`.
    pub fn new(ports: &[WorkerPort], burst: usize, now_ns: u64, lat: Latency) -> Egress {
        let mut slot = [NOT_OWNED; MAX_PORTS];
        let mut v = Vec::with_capacity(ports.len());
        for p in ports {
            if let Some(s) = slot.get_mut(p.index) {
                *s = v.len() as u8;
                v.push(Out { op: *p, buf: TxBuf::new(&p.sched), sched: PortSched::new(p.sched, now_ns) });
            }
        }
        Egress { ports: v, slot, burst: burst.min(MAX_BURST), lat, sent_tsc: 0, inject: Vec::new() }
    }

    /// Also send what the kernel sends on these ports' host interfaces:
    /// `rings` of (port index, ring from the host-interface thread), each
    /// for a port this lcore owns.
    pub fn with_inject(mut self, rings: Vec<(usize, Consumer<Mbuf>)>) -> Egress {
        self.inject = rings;
        self
    }

    /// Take the kernel's frames waiting on the inject rings (a burst a ring
    /// at most) into the ports' queues as best effort: created packets,
    /// counted `injected`.
    #[inline(never)]
    fn take_injected(&mut self, now_ns: u64, c: &mut Counters) {
        let mut rings = std::mem::take(&mut self.inject);
        for (port, ring) in rings.iter_mut() {
            let port = *port;
            ring.pop_each(self.burst, |m| {
                c.event(port, Event::Injected, 1);
                c.class_forwarded(BEST_EFFORT, 1);
                if self.submit(m, None, port, now_ns, now_ns, c).is_err() {
                    c.drop(port, Reason::NoRoute, 1);
                }
            });
        }
        self.inject = rings;
    }

    /// Hand a routed packet to egress port `out`: straight into the TX buffer
    /// when the scheduler would send it first anyway, else into the deadline
    /// queue. `meta`: the packet's contract work, if it has any; `rx_ns`:
    /// when it arrived. Gives the packet back if this lcore does not own `out`.
    #[inline(always)]
    pub fn submit(&mut self, m: Mbuf, meta: Option<&TxMeta>, out: usize, rx_ns: u64, now_ns: u64, c: &mut Counters) -> Result<(), Mbuf> {
        // One owned port (the common case on a run-to-completion lcore): a
        // compare with a value known before the packet, instead of a table
        // load that waits for the route lookup.
        let o = match self.ports.as_mut_slice() {
            [only] if only.op.index == out => only,
            [_] => return Err(m),
            ports => match self.slot.get(out).and_then(|&i| ports.get_mut(i as usize)) {
                Some(o) => o,
                None => return Err(m),
            },
        };
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
            let mut m = m;
            if !privmeta::store(&mut m, &meta) {
                // The pool has no private area: cannot happen with run.rs's pool.
                c.drop(out, Reason::NoMbuf, 1);
                return Ok(());
            }
            o.sched.enqueue(Queued { m }, now_ns, |_, r| c.drop(out, r, 1));
        }
        Ok(())
    }

    /// Release what the schedulers allow at `now_ns` into the TX buffers,
    /// before a burst arriving at `now_ns` is routed. The same as the
    /// first [`submit`](Self::submit) of the burst would do (the burst
    /// shares one time), done once and out of the per-packet loop; a burst
    /// without a packet to send would leave it to [`service`](Self::service),
    /// which sends the same packets in the same order. `clk` times it as
    /// the `queue` stage.
    #[inline]
    pub fn release_due(&mut self, now_ns: u64, c: &mut Counters, clk: &mut StageClock) {
        for o in self.ports.iter_mut() {
            o.release_due(now_ns, self.burst, c, &mut self.lat, clk);
        }
    }

    /// End of a poll round: release what the schedulers allow now and send
    /// every TX buffer. A packet never waits in a TX buffer for a later
    /// round: its transmit-time contract work was done with this round's
    /// time, and a deadline-aware router does not hold packets to fill
    /// bursts. Returns the packets still queued and sets each port's queue
    /// depth gauge. `clk` times the `queue` and `tx` stages.
    #[inline]
    pub fn service(&mut self, now_ns: u64, c: &mut Counters, clk: &mut StageClock) -> u64 {
        // One load per ring while the kernel sends nothing.
        if self.inject.iter().any(|(_, r)| !r.is_empty()) {
            self.take_injected(now_ns, c);
        }
        let mut held = 0;
        for o in self.ports.iter_mut() {
            o.release_due(now_ns, self.burst, c, &mut self.lat, clk);
            o.take_events(c);
            if let Some((n, t)) = o.buf.flush(&o.op, c, &mut self.lat) {
                clk.lap_at(&mut c.stages, Stage::Tx, n, t);
                self.sent_tsc = t;
            }
            let q = o.sched.len() as u64;
            c.set_queued(o.op.index, q);
            held += q;
        }
        held
    }

    /// The TSC read after the last TX burst [`service`](Self::service) sent,
    /// if it sent any since the previous call: a clock reading that a loop
    /// can start its next round with instead of reading the TSC again.
    #[inline(always)]
    pub fn take_sent_tsc(&mut self) -> Option<u64> {
        match std::mem::take(&mut self.sent_tsc) {
            0 => None,
            t => Some(t),
        }
    }

    /// Post the latency recorded since the last hand-over to the stats thread.
    #[inline]
    pub fn hand_over(&mut self) {
        self.lat.hist.hand_over();
    }

    /// [`hand_over`](Self::hand_over) if the last hand-over (at `*last`) is
    /// older than `every_tsc`.
    #[inline]
    pub fn maybe_hand_over(&mut self, now: u64, last: &mut u64, every_tsc: u64) {
        if now.wrapping_sub(*last) >= every_tsc {
            self.hand_over();
            *last = now;
        }
    }

    /// Shutdown: keep sending what the schedulers hold for at most
    /// `drain_tsc`, then drop the rest as `shutdown-drained`; send what is
    /// buffered; post the last latency values. Returns what is left queued (0).
    /// `reader`: the lcore's QSBR reader, which reports a quiescent point
    /// each drain round.
    pub fn finish(mut self, drain_tsc: u64, c: &mut Counters, reader: Option<&QsbrReader>) -> u64 {
        let stop_at = tsc();
        loop {
            // Still a reader while draining: a round's quiescent point lets
            // the link watcher pause a port (see super::link).
            if let Some(r) = reader {
                r.quiescent();
            }
            let now = tsc();
            let now_ns = self.lat.clock.ns(now);
            let mut left = 0;
            for o in self.ports.iter_mut() {
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
        for o in self.ports.iter_mut() {
            o.take_events(c);
            c.set_queued(o.op.index, o.sched.len() as u64);
        }
        self.lat.hist.finish();
        self.ports.iter().map(|o| o.sched.len() as u64).sum()
    }
}

/// A run-to-completion lcore routes straight into its own egress.
impl Sink for Egress {
    #[inline(always)]
    fn forward(&mut self, m: Mbuf, meta: Option<&TxMeta>, out: usize, now_ns: u64, c: &mut Counters) -> Result<(), Mbuf> {
        self.submit(m, meta, out, now_ns, now_ns, c)
    }

    #[inline(always)]
    fn begin_burst(&mut self, now_ns: u64, c: &mut Counters, clk: &mut StageClock) {
        self.release_due(now_ns, c, clk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use newipd_core::stats::histo::{ClassHistograms, HistoMailbox};
    use proptest::prelude::*;

    proptest! {
        /// Per-class tx counts and histograms from `record_sent` are those of
        /// recording every sent packet one by one; unsent packets count nowhere.
        #[test]
        fn record_sent_matches_one_by_one(
            pkts in proptest::collection::vec((0u8..18, any::<bool>(), 0u64..50_000, proptest::option::of(0u64..10_000_000)), 0..=MAX_BURST),
            unsent in 0usize..4,
            rounds in 1u64..3,
        ) {
            let mut b = TxBuf::new(&SchedConfig::default());
            let round = 1_000_000u64;
            let mut rx = Vec::new();
            for (i, &(class, arrived_now, back, e2e)) in pkts.iter().enumerate() {
                // Some pushes come from an earlier round (a second RX queue).
                let pushed = round - (i as u64 % rounds) * 7;
                let rx_ns = if arrived_now { pushed } else { pushed - back };
                rx.push(rx_ns);
                b.note(i, Stamp { rx_ns, class }, e2e.unwrap_or(NO_E2E));
            }
            let sent = pkts.len() - unsent.min(pkts.len());
            let tx_ns = round + 1234;
            let (mb, mut w) = HistoMailbox::new();
            let mut c = Counters::default();
            b.record_sent(sent, pkts.len(), tx_ns, &mut c, &mut w);
            w.finish();
            let mut got = ClassHistograms::default();
            mb.collect(&mut got);

            let mut want = ClassHistograms::default();
            let mut want_tx = [0u64; 256];
            for (i, &(class, _, _, e2e)) in pkts.iter().enumerate().take(sent) {
                want_tx[class as usize] += 1;
                want.sojourn(class, tx_ns - rx[i], 1);
                if let Some(e) = e2e {
                    want.e2e(class, e, 1);
                }
            }
            prop_assert!(got == want, "histograms differ");
            for k in 0..MAX_CLASSES {
                prop_assert_eq!(c.classes[k].tx, want_tx[k], "class {}", k);
            }
        }
    }
}
