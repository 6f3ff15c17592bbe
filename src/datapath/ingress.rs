//! The ingress side: poll RX queues, run each packet through the router
//! (parse, classify, verdict: [`newipd_core::path`]) and hand it to a
//! [`Sink`]. Broadcasts are copied here, one copy per egress port. The
//! loops that call it: [`rtc`](super::rtc) and [`rx`](super::rx).

use newipd_dpdk::time::Clock;
use newipd_core::path::icmp::{self, Answer, Limiter as IcmpLimiter};
use newipd_core::path::{PacketCtx, Router, TxMeta, Verdict};
use super::sink::Sink;
use super::worker::{Limits, WorkerPort};
use newipd_core::class::BEST_EFFORT;
use newipd_dpdk::mbuf::{Burst, Mbuf};
use newipd_dpdk::mempool::Mempool;
use newipd_dpdk::time::tsc;
use newipd_core::stats::stages::{Stage, StageClock};
use newipd_core::kinds::{Event, Reason};
use newipd_core::stats::Counters;
use newipd_core::kinds::MAX_BURST;
use super::punt::Punt;
use newipd_core::rcu::QsbrReader;
use std::sync::Arc;

/// How far ahead in the burst to prefetch packet data.
const PREFETCH_AHEAD: usize = 3;

/// The RX queues one lcore polls and the router it runs.
pub struct Ingress {
    pub queues: Vec<WorkerPort>,
    pub router: Arc<Router>,
    /// Pool for broadcast copies.
    pub pool: Mempool,
    /// Every port index of the pipeline (broadcasts go to all but the ingress one).
    pub nports: usize,
    pub burst: usize,
    rx: Burst,
    /// This lcore's share of ICMP errors.
    icmp: IcmpLimiter,
    /// The ring to the host interfaces, if any port has one.
    punt: Option<Punt>,
    /// This lcore as a reader of the route tables: a quiescent point each
    /// poll round lets the control thread free what it replaced.
    reader: Option<QsbrReader>,
}

/// What one poll round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Polled {
    /// Packets received (0: nothing arrived).
    Got(usize),
    /// The `--packets` budget is spent: stop.
    Spent,
}

impl Ingress {
    pub fn new(queues: Vec<WorkerPort>, router: Arc<Router>, pool: Mempool, nports: usize, burst: usize) -> Ingress {
        let icmp = router.icmp_limiter();
        // Offline until the lcore's loop starts (a grace period does not wait for start-up).
        let reader = router.fib().register_reader();
        if let Some(r) = &reader {
            r.offline();
        }
        Ingress { queues, router, pool, nports, burst: burst.min(MAX_BURST), rx: Burst::new(), icmp, punt: None, reader }
    }

    /// The lcore's loop starts: from now on it reads the route tables.
    pub fn online(&self) {
        if let Some(r) = &self.reader {
            r.online();
        }
    }

    /// This lcore as a reader of the route tables (its quiescent points
    /// also gate port pauses: see [`super::link`]).
    pub fn reader(&self) -> Option<&QsbrReader> {
        self.reader.as_ref()
    }

    /// Hand what the kernel should take to the host interfaces through `punt`.
    pub fn with_punt(mut self, punt: Option<Punt>) -> Ingress {
        self.punt = punt;
        self
    }

    /// One round over every RX queue: receive a burst from each, route every
    /// packet and hand it to `sink`. `now_ns` is re-read from `clock` when a
    /// burst has arrived (the lcore may have been preempted since the loop
    /// read it, on a shared core, and contracts counted from an earlier time
    /// would be charged delay they did not have); it only moves forward, and
    /// the caller keeps using it so the scheduler never sees time go back.
    /// `clk` times the `rx` and `route` stages (that re-read is the `rx` lap).
    #[inline(always)]
    pub fn poll<S: Sink>(&mut self, sink: &mut S, limits: &Limits, now_ns: &mut u64, clock: &Clock, c: &mut Counters, clk: &mut StageClock) -> Polled {
        let mut got = 0usize;
        if let Some(r) = &self.reader {
            r.quiescent();
        }
        // After the quiescent point: a port the link watcher paused before
        // the ticket this point reports is seen paused here (see link.rs).
        let paused = super::link::paused_mask();
        for i in 0..self.queues.len() {
            let p = self.queues[i];
            if paused != 0 && super::link::is_paused(paused, p.index) {
                continue;
            }
            let want = match &limits.packets {
                Some(q) => match q.take(self.burst) {
                    0 => return Polled::Spent,
                    n => n,
                },
                None => self.burst,
            };
            let n = self.rx.rx(p.id.0, p.rxq, want);
            if let Some(q) = &limits.packets {
                q.give_back(want - n);
            }
            if n == 0 {
                continue;
            }
            got += n;
            let t = tsc();
            clk.lap_at(&mut c.stages, Stage::Rx, n as u64, t);
            *now_ns = clock.ns(t).max(*now_ns);
            sink.begin_burst(*now_ns, c, clk);
            self.route_burst(&p, sink, *now_ns, c);
            clk.lap(&mut c.stages, Stage::Route, n as u64, tsc);
        }
        Polled::Got(got)
    }

    #[inline(always)]
    fn route_burst<S: Sink>(&mut self, p: &WorkerPort, sink: &mut S, now_ns: u64, c: &mut Counters) {
        let ctx = PacketCtx { now_ns, in_port: p.index as u16 };
        let mut meta = TxMeta::NONE;
        let v4 = &self.router.fib().v4;
        if v4.len() >= newipd_core::fib::lpm4::Lpm4::WARM_FROM {
            warm_v4(v4, self.rx.as_slice());
        }
        // Received packets and bytes, and best-effort packets forwarded, are
        // summed here and counted once a burst: a register add a packet, not
        // a read-modify-write of a counter in memory, which the next
        // packet's would wait on (about 8 % of the IPv4 forwarding rate).
        let (n, mut bytes, mut best_effort) = (self.rx.as_slice().len(), 0usize, 0u64);
        let mut it = self.rx.drain();
        while let Some(mut m) = it.next() {
            if let Some(ahead) = it.peek(PREFETCH_AHEAD) {
                ahead.prefetch();
            }
            bytes += m.len();
            match self.router.process_at(m.data_mut(), &ctx, c, &mut meta) {
                Verdict::Forward { port, with_meta } => {
                    if with_meta {
                        c.class_forwarded(meta.class, 1);
                    } else {
                        best_effort += 1;
                    }
                    if sink.forward(m, with_meta.then_some(&meta), port as usize, now_ns, c).is_err() {
                        c.drop(p.index, Reason::NoRoute, 1);
                    }
                }
                Verdict::Fragment { port, mtu } => {
                    c.class_forwarded(BEST_EFFORT, 1);
                    fragment(&self.pool, m, port as usize, mtu, p.index, sink, now_ns, c);
                }
                Verdict::Flood { with_meta } => {
                    flood(&self.router, &self.pool, self.nports, m, with_meta.then_some(&meta), p.index, sink, now_ns, c)
                }
                Verdict::Drop(r) => {
                    let m = match (r.punts(), self.punt.as_mut()) {
                        (true, Some(punt)) => match punt.offer(m, p.index, now_ns, c) {
                            Ok(()) => continue,
                            Err(m) => m,
                        },
                        _ => m,
                    };
                    let m = if r == Reason::ForRouter {
                        match answer_echo(&self.router, &mut self.icmp, m, &p, sink, now_ns, c) {
                            Some(m) => m,
                            None => continue,
                        }
                    } else {
                        m
                    };
                    c.drop(p.index, r, 1);
                    if r.owes_icmp() {
                        answer_icmp(&self.router, &mut self.icmp, m, r, &p, sink, now_ns, c);
                    }
                }
            }
        }
        c.rx(p.index, n as u64, bytes as u64);
        c.class_forwarded(BEST_EFFORT, best_effort);
    }
}

/// With a large IPv4 table: load the first-level entry of every IPv4
/// destination of the burst before routing any packet (see `Lpm4::warm`).
/// Plain Ethernet + IPv4 frames only; the rest are routed as ever.
#[inline(never)]
fn warm_v4(v4: &newipd_core::fib::lpm4::Lpm4, burst: &[Mbuf]) {
    let mut acc = 0u32;
    for m in burst {
        if let Some(h) = m.data().get(12..34) {
            if h[0] == 0x08 && h[1] == 0x00 {
                acc ^= v4.warm(u32::from_be_bytes([h[18], h[19], h[20], h[21]]));
            }
        }
    }
    std::hint::black_box(acc);
}

/// A dropped packet owed an ICMP error (time exceeded, unreachable):
/// the mbuf becomes the error and goes back out of its port, within
/// this lcore's rate limit. Counted as a created packet; the dropped one
/// stays counted under its reason.
#[cold]
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn answer_icmp<S: Sink>(router: &Router, lim: &mut IcmpLimiter, mut m: Mbuf, r: Reason, p: &WorkerPort, sink: &mut S, now_ns: u64, c: &mut Counters) {
    let len = m.len();
    let Some(want) = icmp::answer_len(m.data(), r) else { return };
    if want > len && m.append((want - len) as u16).is_none() {
        return;
    }
    match router.answer_icmp(m.data_mut(), len, r, p.index, lim, now_ns) {
        Answer::Sent { len: n } => {
            if m.len() > n {
                m.trim((m.len() - n) as u16);
            }
            c.event(p.index, Event::IcmpErrorsSent, 1);
            c.class_forwarded(BEST_EFFORT, 1);
            if sink.forward(m, None, p.index, now_ns, c).is_err() {
                c.drop(p.index, Reason::NoRoute, 1);
            }
        }
        Answer::RateLimited => c.event(p.index, Event::IcmpRateLimited, 1),
        Answer::NotOwed => {}
    }
}

/// An echo request to newipd's own address on a port without a host
/// interface: answered here, within this lcore's ICMP rate limit (the mbuf
/// becomes the reply; rx and tx count it, nothing is dropped). Gives the
/// packet back if it is not one (or the limit is spent): a drop.
#[cold]
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn answer_echo<S: Sink>(router: &Router, lim: &mut IcmpLimiter, mut m: Mbuf, p: &WorkerPort, sink: &mut S, now_ns: u64, c: &mut Counters) -> Option<Mbuf> {
    if !router.echo_reply(m.data_mut(), p.index) {
        return Some(m);
    }
    if !lim.take(now_ns) {
        // Undo is not needed: the frame is dropped whole.
        c.event(p.index, Event::IcmpRateLimited, 1);
        return Some(m);
    }
    c.event(p.index, Event::EchoAnswered, 1);
    c.class_forwarded(BEST_EFFORT, 1);
    if sink.forward(m, None, p.index, now_ns, c).is_err() {
        c.drop(p.index, Reason::NoRoute, 1);
    }
    None
}

/// Most fragments one packet becomes.
const MAX_FRAGMENTS: usize = 8;

/// An IPv4 packet without DF, longer than the MTU of its egress port
/// `out` (already rewritten for it): sent as fragments (RFC 791), the
/// packet itself as the first, copies from `pool` for the rest (counted
/// `fragments-created`). A packet with IP options, one that would need
/// more than 8 fragments, or no mbuf: dropped as `cannot-fragment`.
#[cold]
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn fragment<S: Sink>(pool: &Mempool, mut m: Mbuf, out: usize, mtu: u16, in_port: usize, sink: &mut S, now_ns: u64, c: &mut Counters) {
    use newipd_core::wire::{ether, ipv4};
    let data = m.data();
    let Ok(l2) = ether::parse(data) else { return c.drop(in_port, Reason::CannotFragment, 1) };
    let (l3, ihl) = (l2.l3, 20usize);
    let Some(ip) = data.get(l3..l3 + ihl) else { return c.drop(in_port, Reason::CannotFragment, 1) };
    let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
    let flags = u16::from_be_bytes([ip[6], ip[7]]);
    let chunk = (mtu as usize).saturating_sub(ihl) / 8 * 8;
    if ip[0] != 0x45 || chunk == 0 || total <= ihl || data.len() < l3 + total {
        return c.drop(in_port, Reason::CannotFragment, 1);
    }
    let payload = total - ihl;
    let n = payload.div_ceil(chunk);
    if n > MAX_FRAGMENTS {
        return c.drop(in_port, Reason::CannotFragment, 1);
    }
    // Fragments 2..n first (copied out of the packet), then the packet trimmed to the first.
    let mut rest: [Option<Mbuf>; MAX_FRAGMENTS] = std::array::from_fn(|_| None);
    for (k, slot) in rest.iter_mut().enumerate().take(n).skip(1) {
        let at = k * chunk;
        let len = chunk.min(payload - at);
        let Some(mut f) = Mbuf::alloc(pool) else { return c.drop(in_port, Reason::CannotFragment, 1) };
        let Some(buf) = f.append((l3 + ihl + len) as u16) else { return c.drop(in_port, Reason::CannotFragment, 1) };
        buf[..l3 + ihl].copy_from_slice(&data[..l3 + ihl]);
        buf[l3 + ihl..].copy_from_slice(&data[l3 + ihl + at..l3 + ihl + at + len]);
        let more = k + 1 < n || flags & 0x2000 != 0;
        let off = (flags & 0x1fff) + (at / 8) as u16;
        let h = &mut buf[l3..l3 + ihl];
        h[2..4].copy_from_slice(&((ihl + len) as u16).to_be_bytes());
        h[6..8].copy_from_slice(&((flags & 0x4000) | if more { 0x2000 } else { 0 } | off).to_be_bytes());
        ipv4::set_checksum(h);
        *slot = Some(f);
    }
    let frame_end = data.len();
    {
        let h = &mut m.data_mut()[l3..l3 + ihl];
        h[2..4].copy_from_slice(&((ihl + chunk) as u16).to_be_bytes());
        h[6..8].copy_from_slice(&(flags | 0x2000).to_be_bytes());
        ipv4::set_checksum(h);
    }
    m.trim((frame_end - (l3 + ihl + chunk)) as u16);
    c.event(in_port, Event::Fragmented, 1);
    for f in std::iter::once(m).chain(rest.into_iter().flatten()) {
        if sink.forward(f, None, out, now_ns, c).is_err() {
            c.drop(out, Reason::NoRoute, 1);
        }
    }
    c.event(in_port, Event::FragmentsCreated, (n - 1) as u64);
}

/// Send a broadcast out of every port but the one it came in on: copies for
/// all but the last, the original for the last.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn flood<S: Sink>(
    router: &Router,
    pool: &Mempool,
    nports: usize,
    m: Mbuf,
    meta: Option<&TxMeta>,
    in_port: usize,
    sink: &mut S,
    now_ns: u64,
    c: &mut Counters,
) {
    let Some(last) = (0..nports).rev().find(|&i| i != in_port) else {
        c.drop(in_port, Reason::NoRoute, 1);
        return;
    };
    let mut original = Some(m);
    for out in (0..nports).filter(|&i| i != in_port) {
        let pkt = if out == last {
            original.take()
        } else {
            // A missing copy is a packet that never existed: count it as
            // created and dropped so the identity stays exact.
            c.event(in_port, Event::BroadcastCopies, 1);
            let copy = original.as_ref().and_then(|o| o.copy_into(pool));
            if copy.is_none() {
                c.drop(out, Reason::NoMbuf, 1);
            }
            copy
        };
        let Some(mut pkt) = pkt else { continue };
        newipd_core::wire::ether::set_macs(pkt.data_mut(), &router.flood_macs(out));
        c.class_forwarded(meta.map_or(BEST_EFFORT, |m| m.class), 1);
        if sink.forward(pkt, meta, out, now_ns, c).is_err() {
            c.drop(out, Reason::NoRoute, 1);
        }
    }
}
