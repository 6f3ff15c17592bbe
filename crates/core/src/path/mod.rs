//! The per-packet forwarding stage, run to completion: parse Ethernet (and
//! VLAN tags), then
//! * IPv4 / IPv6: check, longest-prefix route, TTL / hop limit (IPv4 checksum
//!   patched incrementally); an IPv6 hop-by-hop latency option (0x3E) is
//!   honoured like a New IP precise-LBF contract;
//! * New IP: parse, look the destination up in the table of its type,
//!   apply every contract on arrival (drops, early discard, budgets), answer
//!   pings addressed to newipd, flood broadcasts;
//! * legacy IPv4 / IPv6 (no contract): a traffic class from the pipeline's
//!   `[[class]]` rules gives a per-hop deadline (or best effort);
//! and rewrite the MACs. What must be written when the packet leaves (time
//! spent here, hops) is described by the [`TxMeta`] returned with the
//! verdict and applied by [`on_transmit`] at send time.
//! No allocation, no panics, no DPDK.

use crate::class::{self, Classes};
use crate::fib::table::Fib;
use crate::fib::{NextHop, NhIndex, Prefix};
use crate::wire::newip::{self as nip, contract, AddrType, Cast, ContractRef};
use crate::wire::{ether, ipv4, ipv6};
use crate::sched::budget::{self, Budget, Refusal};
use crate::sched::damper::OnTimePort;
use crate::kinds::{Event, Reason};
use crate::stats::Counters;

/// Per-packet context from the lcore: the burst's arrival time and port.
#[derive(Debug, Clone, Copy, Default)]
pub struct PacketCtx {
    pub now_ns: u64,
    /// Index of the ingress port in the pipeline.
    pub in_port: u16,
}

/// Contract fields to update when the packet is sent, and its timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxMeta {
    /// Arrival time (ns).
    pub rx_ns: u64,
    /// Latest useful send time (ns); `u64::MAX`: best effort.
    pub deadline_ns: u64,
    /// Earliest send time (ns); 0: now.
    pub eligible_ns: u64,
    /// Offset of the New IP or IPv6 header in the frame.
    pub l3: u16,
    /// Offsets from `l3` of the contracts to update (0: none).
    pub max_delay: u16,
    pub lbf: u16,
    /// Value offset of a precise-LBF contract or the IPv6 option.
    pub plbf: u16,
    /// Value offset of an on-time (damper) contract.
    pub on_time: u16,
    /// Deliver late rather than drop.
    pub late_ok: bool,
    /// Traffic class ([`class::BEST_EFFORT`], [`class::CONTRACT`] or a
    /// configured one): for per-class statistics and late-drop names. A
    /// verdict without `with_meta` means class [`class::BEST_EFFORT`].
    pub class: u8,
    /// Prio of the on-time contract (meaningful when `on_time != 0`).
    pub prio: u8,
    /// Carries a qualitative payload (0x8003): may be washed.
    pub qual: bool,
    /// The LBF contract's experienced delay (0.1 ms) as it arrived (meaningful
    /// when `lbf != 0`): what the packet reports if sent within 50 µs.
    pub lbf_exp: u16,
}

impl TxMeta {
    /// A packet with no contract (legacy traffic, best effort).
    pub const NONE: TxMeta = TxMeta {
        rx_ns: 0,
        deadline_ns: u64::MAX,
        eligible_ns: 0,
        l3: 0,
        max_delay: 0,
        lbf: 0,
        plbf: 0,
        on_time: 0,
        late_ok: false,
        class: class::BEST_EFFORT,
        prio: 0,
        qual: false,
        lbf_exp: 0,
    };

    /// Does anything need writing at transmit time?
    #[inline(always)]
    pub fn has_updates(&self) -> bool {
        (self.max_delay | self.lbf | self.plbf | self.on_time) != 0
    }

    /// The drop reason of this packet when it misses its deadline.
    pub fn late_reason(&self) -> Reason {
        if self.class >= class::FIRST_CONFIGURED {
            Reason::ClassLate
        } else if self.on_time != 0 {
            Reason::NewipOnTimeBroken
        } else {
            Reason::NewipLate
        }
    }

    /// The class of a packet whose contracts were applied: scheduled by a
    /// contract, or best effort.
    #[inline(always)]
    fn set_contract_class(&mut self) {
        self.class = if self.deadline_ns != u64::MAX || self.on_time != 0 { class::CONTRACT } else { class::BEST_EFFORT };
    }

    fn apply(&mut self, rx_ns: u64, b: Budget) {
        self.eligible_ns = self.eligible_ns.max(rx_ns.saturating_add(b.hold_ns));
        if let Some(d) = b.deadline_ns {
            self.deadline_ns = self.deadline_ns.min(rx_ns.saturating_add(d));
        }
    }
}

/// What to do with a packet. Small on purpose (it travels in registers):
/// the transmit-time work of a packet with contracts goes to the caller's
/// [`TxMeta`], and `with_meta` says it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send on this port (index into the pipeline's port list).
    Forward { port: u16, with_meta: bool },
    /// A broadcast: send a copy on every port except the ingress one, with the
    /// broadcast MAC as destination and each port's MAC as source.
    Flood { with_meta: bool },
    /// Drop and count under this reason.
    Drop(Reason),
}

impl Verdict {
    /// The egress port of a plain forward (tests and tools).
    pub fn port(&self) -> Option<u16> {
        match self {
            Verdict::Forward { port, .. } => Some(*port),
            _ => None,
        }
    }
}

/// A New IP address of newipd itself (for pings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LocalAddr {
    ty: AddrType,
    len: u8,
    bytes: [u8; 32],
}

impl LocalAddr {
    fn from_prefix(p: &Prefix) -> Option<LocalAddr> {
        let mut bytes = [0u8; 32];
        let (ty, len) = match *p {
            Prefix::V4 { addr, len: 32 } => {
                bytes[..4].copy_from_slice(&addr.to_be_bytes());
                (AddrType::Ipv4, 4)
            }
            Prefix::V6 { addr, len: 128 } => {
                bytes[..16].copy_from_slice(&addr.to_be_bytes());
                (AddrType::Ipv6, 16)
            }
            Prefix::Bits8(a) => {
                bytes[0] = a;
                (AddrType::Bits8, 1)
            }
            Prefix::Bits16(a) => {
                bytes[..2].copy_from_slice(&a.to_be_bytes());
                (AddrType::Bits16, 2)
            }
            Prefix::Flex { bytes: b, bits } if bits % 8 == 0 && bits > 0 => {
                bytes = b;
                (AddrType::Flex, (bits / 8) as u8)
            }
            _ => return None,
        };
        Some(LocalAddr { ty, len, bytes })
    }

    #[inline]
    fn matches(&self, a: &nip::Addr<'_>) -> bool {
        self.ty == a.ty && a.bytes.len() == self.len as usize && a.bytes == &self.bytes[..self.len as usize]
    }
}

/// Route tables, next hops, port MACs and newipd's own addresses, built once
/// at start-up and shared read-only.
pub struct Router {
    fib: Fib,
    next_hops: Vec<NextHop>,
    port_macs: Vec<[u8; 6]>,
    locals: Vec<LocalAddr>,
    /// Bit `t` set: newipd has an address of New IP address type `t`, so
    /// such destinations must be compared with it (general path).
    local_types: u8,
    /// Take [`nip::parse_simple`]'s shortcut for simple New IP packets
    /// (off only to test that both paths agree).
    shortcut: bool,
    verify_ipv4_checksum: bool,
    classes: Classes,
}

const BROADCAST_MAC: [u8; 6] = [0xff; 6];

impl Router {
    /// A plain IP router (tests, benchmarks): IPv4 and IPv6 routes only.
    pub fn new(v4: &[(u32, u8, NhIndex)], v6: &[(u128, u8, NhIndex)], next_hops: Vec<NextHop>, verify_ipv4_checksum: bool) -> Router {
        let mut routes: Vec<(Prefix, NhIndex)> = v4.iter().map(|&(addr, len, nh)| (Prefix::V4 { addr, len }, nh)).collect();
        routes.extend(v6.iter().map(|&(addr, len, nh)| (Prefix::V6 { addr, len }, nh)));
        Router::build(&routes, next_hops, Vec::new(), &[], verify_ipv4_checksum)
    }

    /// Everything: routes of every address type, next hops, the MAC of each
    /// port (by index) and newipd's own New IP addresses (host prefixes).
    pub fn build(
        routes: &[(Prefix, NhIndex)],
        next_hops: Vec<NextHop>,
        port_macs: Vec<[u8; 6]>,
        local: &[Prefix],
        verify_ipv4_checksum: bool,
    ) -> Router {
        let locals: Vec<LocalAddr> = local.iter().filter_map(LocalAddr::from_prefix).collect();
        Router {
            fib: Fib::build(routes),
            next_hops,
            port_macs,
            local_types: locals.iter().fold(0, |m, l| m | 1 << l.ty as u8),
            locals,
            shortcut: true,
            verify_ipv4_checksum,
            classes: Classes::default(),
        }
    }

    /// The same router without the simple-packet shortcut: every New IP
    /// packet takes the general parse (tests compare the two).
    pub fn without_shortcut(mut self) -> Router {
        self.shortcut = false;
        self
    }

    /// Schedule legacy traffic by these classes (default: all best effort).
    pub fn with_classes(mut self, classes: Classes) -> Router {
        self.classes = classes;
        self
    }

    /// The traffic classes.
    pub fn classes(&self) -> &Classes {
        &self.classes
    }

    #[inline(always)]
    fn next_hop(&self, nh: Option<NhIndex>) -> Result<&NextHop, Reason> {
        nh.and_then(|i| self.next_hops.get(i as usize)).ok_or(Reason::NoRoute)
    }

    /// Decide and rewrite one frame, with no time and no counters (tools,
    /// tests). It builds a fresh counter set each call: not for hot loops,
    /// which use [`process_at`](Self::process_at).
    pub fn process(&self, frame: &mut [u8]) -> Verdict {
        self.process_at(frame, &PacketCtx::default(), &mut Counters::default(), &mut TxMeta::NONE.clone())
    }

    /// Decide and rewrite one frame in place; events go to `c`; for a packet
    /// with contracts the transmit-time work is written to `meta` and the
    /// verdict says so (`with_meta`); otherwise `meta` means nothing.
    #[inline(always)]
    pub fn process_at(&self, frame: &mut [u8], ctx: &PacketCtx, c: &mut Counters, meta: &mut TxMeta) -> Verdict {
        match self.route(frame, ctx, c, meta) {
            Ok(v) => v,
            Err(r) => Verdict::Drop(r),
        }
    }

    #[inline(always)]
    fn route(&self, frame: &mut [u8], ctx: &PacketCtx, c: &mut Counters, out: &mut TxMeta) -> Result<Verdict, Reason> {
        let l2 = ether::parse(frame)?;
        let (head, ip) = frame.split_at_mut(l2.l3);
        let (nh, with_meta) = match l2.ethertype {
            ether::ETHERTYPE_IPV4 => {
                let v = ipv4::check(ip, self.verify_ipv4_checksum)?;
                if v.ttl <= 1 {
                    return Err(Reason::TtlExpired);
                }
                let nh = self.next_hop(self.fib.v4.lookup(v.dst))?;
                ipv4::decrement_ttl(ip);
                let classified = !self.classes.is_empty() && self.legacy_v4(ip, l2.l3, ctx, out);
                (nh, classified)
            }
            ether::ETHERTYPE_IPV6 => {
                let v = ipv6::check(ip)?;
                if v.hop_limit <= 1 {
                    return Err(Reason::HopLimitExpired);
                }
                let nh = self.next_hop(self.fib.v6.lookup(v.dst))?;
                let mut with_meta = v.next_header == 0 && self.ipv6_option(ip, l2.l3, nh, ctx, c, out)?;
                if !with_meta && !self.classes.is_empty() {
                    with_meta = self.legacy(self.classes.ipv6(ip, v.traffic_class, v.next_header), l2.l3, ctx, out);
                }
                ipv6::decrement_hop_limit(ip);
                (nh, with_meta)
            }
            nip::ETHERTYPE_NEWIP => {
                if self.shortcut && self.local_types & 1 << AddrType::Ipv4 as u8 == 0 {
                    if let Some(h) = ip.first_chunk_mut::<V4_LBF_LEN>().filter(|h| is_v4_lbf(h)) {
                        return self.newip_v4_lbf(head, h, l2.l3, ctx, out);
                    }
                    if let Some(h) = ip.first_chunk::<V4_PLAIN_LEN>().filter(|h| is_v4_plain(h)) {
                        return self.newip_v4_plain(head, h);
                    }
                    if let Some(h) = ip.first_chunk::<V4_PLBF_LEN>().filter(|h| is_v4_plbf(h)) {
                        return self.newip_v4_plbf(head, h, l2.l3, ctx, c, out);
                    }
                }
                if let Some(s) = nip::parse_simple(ip).filter(|s| self.shortcut && self.local_types & 1 << s.dst.ty as u8 == 0) {
                    return self.newip_simple(head, ip, l2.l3, s, ctx, c, out);
                }
                return self.newip(head, ip, l2.l3, ctx, c, out);
            }
            _ => return Err(Reason::UnsupportedEthertype),
        };
        ether::set_macs(head, &nh.macs);
        Ok(Verdict::Forward { port: nh.port, with_meta })
    }

    /// Classify a (checked) IPv4 packet; out of line so a pipeline without
    /// classes pays one branch.
    #[inline(never)]
    fn legacy_v4(&self, ip: &[u8], l3: usize, ctx: &PacketCtx, out: &mut TxMeta) -> bool {
        let (Some(&vihl), Some(&tos), Some(&proto)) = (ip.first(), ip.get(1), ip.get(9)) else { return false };
        self.legacy(self.classes.ipv4(ip, tos, proto, ((vihl & 0x0f) as usize) * 4), l3, ctx, out)
    }

    /// Legacy traffic of class `class`: its deadline (or best effort) goes
    /// to `out`. False for the default class (best effort, nothing to carry).
    #[inline]
    fn legacy(&self, class: u8, l3: usize, ctx: &PacketCtx, out: &mut TxMeta) -> bool {
        if class == class::BEST_EFFORT {
            return false;
        }
        let a = self.classes.action(class);
        let deadline_ns = if a.budget_ns == 0 { u64::MAX } else { ctx.now_ns.saturating_add(a.budget_ns) };
        *out = TxMeta { rx_ns: ctx.now_ns, deadline_ns, l3: l3 as u16, late_ok: a.late_ok || a.budget_ns == 0, class, ..TxMeta::NONE };
        true
    }

    /// An IPv6 hop-by-hop header: honour a latency option 0x3E like a New IP
    /// precise-LBF contract. True if `out` was written.
    #[inline(never)]
    fn ipv6_option(&self, ip: &[u8], l3: usize, nh: &NextHop, ctx: &PacketCtx, c: &mut Counters, out: &mut TxMeta) -> Result<bool, Reason> {
        let Some(val) = nip::find_plbf_option(ip)? else { return Ok(false) };
        *out = TxMeta { rx_ns: ctx.now_ns, l3: l3 as u16, ..TxMeta::NONE };
        self.precise_lbf(ip, val, nh, ctx, c, out)?;
        out.set_contract_class();
        Ok(true)
    }

    /// The 0x8001 contract (New IP TLV or IPv6 option value at `val` in `buf`).
    #[inline]
    fn precise_lbf(&self, buf: &[u8], val: usize, nh: &NextHop, ctx: &PacketCtx, c: &mut Counters, meta: &mut TxMeta) -> Result<(), Reason> {
        let Some(p) = nip::PreciseLbf::read(buf, val) else { return Ok(()) };
        match budget::precise_lbf(p.min_ns, p.max_ns, p.experienced_ns, nh.to_delay_ns, nh.to_hops) {
            Ok(b) => meta.apply(ctx.now_ns, b),
            Err(_) if p.late_ok() => {
                meta.late_ok = true;
                c.event(ctx.in_port as usize, Event::LateOkDemoted, 1);
            }
            Err(_) => return Err(Reason::NewipInfeasible),
        }
        meta.late_ok |= p.late_ok();
        meta.plbf = val as u16;
        Ok(())
    }

    /// New IP: `buf` starts at the New IP header.
    #[inline(never)]
    fn newip(&self, head: &mut [u8], buf: &mut [u8], l3: usize, ctx: &PacketCtx, c: &mut Counters, out: &mut TxMeta) -> Result<Verdict, Reason> {
        let h = nip::parse(buf)?;
        let port = ctx.in_port as usize;
        if h.contracts.unknown_tlvs > 0 {
            c.event(port, Event::UnknownTlvSkipped, h.contracts.unknown_tlvs as u64);
        }
        let dst = h.dst.addr(buf);
        // Addressed to newipd itself: answer a ping request, refuse the rest.
        if h.cast == Cast::Unicast && self.locals.iter().any(|l| l.matches(&dst)) {
            return self.ping_reply(head, buf, &h, ctx, c);
        }
        // Built in place in the caller's slot: no copy of a local afterwards.
        let meta = out;
        *meta = TxMeta { rx_ns: ctx.now_ns, l3: l3 as u16, ..TxMeta::NONE };
        let nh = match h.cast {
            Cast::Unicast => Some(self.next_hop(self.fib.lookup_newip(&dst))?),
            Cast::Broadcast => None,
            _ => return Err(Reason::NewipUnsupportedCast),
        };
        let path = nh.copied().unwrap_or(NextHop::new(0, [0; 6], [0; 6]));
        let k = h.contracts;
        // Fixed-size contracts were validated by parse: read their fields in place.
        if let Some(off) = k.max_delay {
            apply_max_delay(buf, off as usize, ctx, meta)?;
        }
        if let Some(off) = k.lbf {
            apply_lbf(buf, off as usize, ctx, meta)?;
        }
        if let Some(val) = k.precise_lbf_value() {
            self.precise_lbf(buf, val, &path, ctx, c, meta)?;
        }
        // A second contract of a kind already seen: its deadline counts too
        // (the earliest wins), its fields are left as they are.
        let kinds = k.max_delay.is_some() as u8 + k.lbf.is_some() as u8 + k.precise_lbf.is_some() as u8;
        if k.deadlines > kinds {
            self.extra_deadlines(buf, &h, &path, ctx, meta)?;
        }
        if let Some(off) = k.ping {
            if let Some(hops) = rd16(buf, off as usize + 4) {
                if hops == 0 {
                    return Err(Reason::NewipPingHopsExpired);
                }
                contract::set_ping_hops(buf, off as usize, hops - 1);
            }
        }
        if let Some(val) = k.on_time_value() {
            on_time(buf, val, ctx.now_ns, meta);
        }
        meta.qual = k.qualitative.is_some();
        meta.set_contract_class();
        lbf_hop_done(buf, meta);
        let with_meta = meta.has_updates() || meta.qual;
        match nh {
            Some(nh) => {
                ether::set_macs(head, &nh.macs);
                Ok(Verdict::Forward { port: nh.port, with_meta })
            }
            None => Ok(Verdict::Flood { with_meta }),
        }
    }

    /// A packet [`nip::parse_simple`] recognised (unicast, fixed-width
    /// addresses, not ours, at most one Max Delay, LBF or precise-LBF contract): the
    /// general path's decisions without its walk over the contract spec.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn newip_simple(&self, head: &mut [u8], buf: &mut [u8], l3: usize, s: nip::Simple, ctx: &PacketCtx, c: &mut Counters, out: &mut TxMeta) -> Result<Verdict, Reason> {
        let nh = self.next_hop(self.fib.lookup_newip(&s.dst.addr(buf)))?;
        *out = TxMeta { rx_ns: ctx.now_ns, l3: l3 as u16, ..TxMeta::NONE };
        // `with_meta` is `out.has_updates()`, from the one field written
        // (reading all four at once, just after a two-byte store, stalls).
        let with_meta = match s.contract {
            nip::Single::None => false,
            nip::Single::MaxDelay(off) => {
                apply_max_delay(buf, off as usize, ctx, out)?;
                out.max_delay != 0
            }
            nip::Single::Lbf(off) => {
                apply_lbf(buf, off as usize, ctx, out)?;
                out.lbf != 0
            }
            nip::Single::PreciseLbf(off) => {
                self.precise_lbf(buf, off as usize + nip::TLV_HDR_LEN, nh, ctx, c, out)?;
                out.plbf != 0
            }
        };
        out.set_contract_class();
        lbf_hop_done(buf, out);
        ether::set_macs(head, &nh.macs);
        Ok(Verdict::Forward { port: nh.port, with_meta })
    }

    /// The next hop of a template header's IPv4-type destination (bytes 10..14).
    #[inline(always)]
    fn v4_template_hop<const N: usize>(&self, h: &[u8; N]) -> Result<&NextHop, Reason> {
        const { assert!(N >= V4_PLAIN_LEN) };
        self.next_hop(self.fib.v4.lookup(u32::from_be_bytes([h[10], h[11], h[12], h[13]])))
    }

    /// The New IP packet NewIP-Linux hosts send most: IPv4-type source and
    /// destination, unicast, one LBF contract right after the addresses,
    /// payload after it ([`is_v4_lbf`]). Every field at a fixed offset of
    /// one fixed-size header: what [`newip_simple`](Self::newip_simple) does
    /// for it, without locating the fields (the shortcut tests and
    /// `fuzz_one` hold the two paths to the same verdict, bytes and
    /// metadata).
    #[inline(always)]
    fn newip_v4_lbf(&self, head: &mut [u8], h: &mut [u8; V4_LBF_LEN], l3: usize, ctx: &PacketCtx, out: &mut TxMeta) -> Result<Verdict, Reason> {
        let nh = self.v4_template_hop(h)?;
        *out = TxMeta { rx_ns: ctx.now_ns, l3: l3 as u16, ..TxMeta::NONE };
        // The same steps as newip_simple's for Single::Lbf(14): with the
        // offset a constant and the header a fixed-size array, the compiler
        // drops their bounds checks.
        apply_lbf(h, V4_LBF_AT, ctx, out)?;
        out.set_contract_class();
        lbf_hop_done(h, out);
        ether::set_macs(head, &nh.macs);
        Ok(Verdict::Forward { port: nh.port, with_meta: true })
    }

    /// The same without a contract (best effort): a route lookup and the
    /// MACs, nothing to carry to transmit ([`is_v4_plain`]).
    #[inline(always)]
    fn newip_v4_plain(&self, head: &mut [u8], h: &[u8; V4_PLAIN_LEN]) -> Result<Verdict, Reason> {
        let nh = self.v4_template_hop(h)?;
        ether::set_macs(head, &nh.macs);
        Ok(Verdict::Forward { port: nh.port, with_meta: false })
    }

    /// The same with one precise-LBF contract (0x8001) right after the
    /// addresses ([`is_v4_plbf`]): newip_simple's steps for
    /// `Single::PreciseLbf(14)` with the value at a constant offset.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn newip_v4_plbf(&self, head: &mut [u8], h: &[u8; V4_PLBF_LEN], l3: usize, ctx: &PacketCtx, c: &mut Counters, out: &mut TxMeta) -> Result<Verdict, Reason> {
        let nh = self.v4_template_hop(h)?;
        *out = TxMeta { rx_ns: ctx.now_ns, l3: l3 as u16, ..TxMeta::NONE };
        self.precise_lbf(h, V4_PLBF_AT + nip::TLV_HDR_LEN, nh, ctx, c, out)?;
        out.set_contract_class();
        ether::set_macs(head, &nh.macs);
        Ok(Verdict::Forward { port: nh.port, with_meta: true })
    }

    #[cold]
    fn extra_deadlines(&self, buf: &[u8], h: &nip::NewIp, path: &NextHop, ctx: &PacketCtx, meta: &mut TxMeta) -> Result<(), Reason> {
        let k = h.contracts;
        for cr in nip::deadline_contracts(buf, h).flatten() {
            let first = Some(cr.off() as u8) == k.max_delay || Some(cr.off() as u8) == k.lbf || Some(cr.off() as u8) == k.precise_lbf;
            if first {
                continue;
            }
            let b = match cr {
                ContractRef::MaxDelay { max_allowed_delay, delay_exp, .. } => budget::max_delay(max_allowed_delay, delay_exp),
                ContractRef::Lbf { min_delay, max_delay, experienced_delay, fib_todelay, fib_tohops, .. } => {
                    budget::lbf(min_delay, max_delay, experienced_delay, fib_todelay, fib_tohops)
                }
                ContractRef::PreciseLbf { v, .. } => budget::precise_lbf(v.min_ns, v.max_ns, v.experienced_ns, path.to_delay_ns, path.to_hops),
                _ => continue,
            };
            match b {
                Ok(b) => meta.apply(ctx.now_ns, b),
                Err(_) if meta.late_ok => {}
                Err(r) => return Err(refusal(r)),
            }
        }
        Ok(())
    }

    /// Answer a ping request addressed to newipd: code 1, addresses swapped,
    /// timestamp kept, back out of the ingress port.
    #[cold]
    fn ping_reply(&self, head: &mut [u8], buf: &mut [u8], h: &nip::NewIp, ctx: &PacketCtx, c: &mut Counters) -> Result<Verdict, Reason> {
        let Some(off) = h.contracts.ping else { return Err(Reason::NewipForRouter) };
        match nip::contract_at(buf, h, off as usize) {
            Ok(ContractRef::Ping { code: 0, .. }) => {}
            _ => return Err(Reason::NewipForRouter),
        }
        if contract::swap_addresses(buf, h).is_err() {
            return Err(Reason::MalformedNewipAddrLength);
        }
        contract::set_ping_code(buf, off as usize, 1);
        let port = ctx.in_port;
        let mut macs = [0u8; 12];
        macs[..6].copy_from_slice(head.get(6..12).unwrap_or(&[0; 6]));
        macs[6..].copy_from_slice(self.port_macs.get(port as usize).unwrap_or(&[0; 6]));
        ether::set_macs(head, &macs);
        c.event(port as usize, Event::PingAnswered, 1);
        Ok(Verdict::Forward { port, with_meta: false })
    }

    /// MACs of a broadcast copy leaving `port`.
    pub fn flood_macs(&self, port: usize) -> [u8; 12] {
        let mut m = [0u8; 12];
        m[..6].copy_from_slice(&BROADCAST_MAC);
        m[6..].copy_from_slice(self.port_macs.get(port).unwrap_or(&[0; 6]));
        m
    }
}

/// Length of the New IP headers of [`is_v4_lbf`]: header spec (3),
/// shipping spec (3), two IPv4-type addresses (8), an LBF contract (12).
const V4_LBF_LEN: usize = 26;
/// Offset of that packet's LBF contract.
const V4_LBF_AT: usize = 14;

/// The New IP headers `h` are exactly: shipping spec at 3, contract at 14,
/// payload at 26; source and destination address type 0 (IPv4), unicast;
/// contract type 2 (LBF). Such a packet is one [`nip::parse_simple`] takes
/// with `Single::Lbf(14)`.
#[inline(always)]
fn is_v4_lbf(h: &[u8; V4_LBF_LEN]) -> bool {
    h[..6] == [3, V4_LBF_AT as u8, V4_LBF_LEN as u8, 0, 0, 0] && h[V4_LBF_AT..V4_LBF_AT + 2] == [0, nip::CT_LBF as u8]
}

/// Length of the New IP headers of [`is_v4_plain`]: header spec (3),
/// shipping spec (3), two IPv4-type addresses (8).
const V4_PLAIN_LEN: usize = 14;

/// The New IP headers `h` are exactly: shipping spec at 3, no contract,
/// payload at 14; source and destination address type 0 (IPv4), unicast.
/// Such a packet is one [`nip::parse_simple`] takes with `Single::None`.
#[inline(always)]
fn is_v4_plain(h: &[u8; V4_PLAIN_LEN]) -> bool {
    h[..6] == [3, 0, V4_PLAIN_LEN as u8, 0, 0, 0]
}

/// Length of the New IP headers of [`is_v4_plbf`]: header spec (3),
/// shipping spec (3), two IPv4-type addresses (8), a precise-LBF TLV (4 + 16).
const V4_PLBF_LEN: usize = 34;
/// Offset of that packet's precise-LBF TLV.
const V4_PLBF_AT: usize = 14;

/// The New IP headers `h` are exactly: shipping spec at 3, contract at 14,
/// payload at 34; source and destination address type 0 (IPv4), unicast;
/// one TLV of type 0x8001 (precise LBF) and length 16. Such a packet is one
/// [`nip::parse_simple`] takes with `Single::PreciseLbf(14)`.
#[inline(always)]
fn is_v4_plbf(h: &[u8; V4_PLBF_LEN]) -> bool {
    const T: [u8; 2] = nip::CT_PRECISE_LBF.to_be_bytes();
    h[..6] == [3, V4_PLBF_AT as u8, V4_PLBF_LEN as u8, 0, 0, 0] && h[V4_PLBF_AT..V4_PLBF_AT + 4] == [T[0], T[1], 0, nip::PRECISE_LBF_LEN as u8]
}

/// A Max Delay contract at `off` on arrival: its budget, and its field
/// offset for the transmit-time update.
#[inline(always)]
fn apply_max_delay(buf: &[u8], off: usize, ctx: &PacketCtx, meta: &mut TxMeta) -> Result<(), Reason> {
    if let Some(f) = fields::<6>(buf, off) {
        meta.apply(ctx.now_ns, budget::max_delay(be(f, 2), be(f, 4)).map_err(refusal)?);
        meta.max_delay = off as u16;
    }
    Ok(())
}

/// An LBF contract at `off` on arrival, as [`apply_max_delay`].
#[inline(always)]
fn apply_lbf(buf: &[u8], off: usize, ctx: &PacketCtx, meta: &mut TxMeta) -> Result<(), Reason> {
    if let Some(f) = fields::<12>(buf, off) {
        meta.apply(ctx.now_ns, budget::lbf(be(f, 2), be(f, 4), be(f, 6), be(f, 8), be(f, 10)).map_err(refusal)?);
        meta.lbf = off as u16;
        meta.lbf_exp = be(f, 6);
    }
    Ok(())
}

/// A forwarded packet's LBF contract (at `meta.lbf`): fib_tohops minus one,
/// written once the verdict is to send it. The part of the type-2 transmit
/// update that does not depend on the send time, done while the field is
/// in cache; [`on_transmit`] adds the time spent here to the experienced
/// delay. (The budget refused fib_tohops 0, so it does not wrap.)
#[inline(always)]
fn lbf_hop_done(buf: &mut [u8], meta: &TxMeta) {
    if meta.lbf != 0 {
        let off = meta.lbf as usize;
        if let Some(f) = buf.get_mut(off + 10..off + 12) {
            let h = u16::from_be_bytes([f[0], f[1]]).saturating_sub(1);
            f.copy_from_slice(&h.to_be_bytes());
        }
    }
}

/// An on-time contract on arrival: hold for `damper_ns`, schedule by prio
/// (the port gives the deadline); Di asks for best effort rather than a
/// drop. A packet already marked Ds is best effort: no hold, no rewrite.
#[inline]
fn on_time(buf: &[u8], val: usize, now_ns: u64, meta: &mut TxMeta) {
    let Some(v) = nip::OnTime::read(buf, val) else { return };
    if v.flags & nip::OnTime::DS != 0 {
        return;
    }
    meta.on_time = val as u16;
    meta.prio = v.prio;
    meta.late_ok |= v.flags & nip::OnTime::DI != 0;
    meta.eligible_ns = meta.eligible_ns.max(now_ns.saturating_add(v.damper_ns as u64));
}

fn refusal(r: Refusal) -> Reason {
    match r {
        Refusal::MaxDelayExceeded => Reason::NewipMaxDelayExceeded,
        Refusal::NoHops => Reason::NewipLbfNoHops,
        Refusal::EarlyDiscard => Reason::NewipEarlyDiscard,
        Refusal::Infeasible => Reason::NewipInfeasible,
    }
}

/// At send time `now_ns`: write what the contracts ask (time spent here plus
/// the egress `link_delay_ns`, hops, the next hop's damper from the port's
/// on-time state `on_time`), or refuse a packet that is past its deadline
/// (unless late_ok). Leaves the frame untouched when refusing.
#[inline]
pub fn on_transmit(frame: &mut [u8], meta: &TxMeta, now_ns: u64, link_delay_ns: u32, on_time: &mut OnTimePort) -> Result<(), Reason> {
    on_transmit_reporting(frame, meta, now_ns, link_delay_ns, on_time).map(|_| ())
}

/// [`on_transmit`], also giving the end-to-end delay the contract reports
/// after the update (what [`experienced_ns`] would read back, in ns; `NO_E2E`
/// without such a contract), so the statistics need not read the frame again.
#[inline(always)]
pub fn on_transmit_reporting(frame: &mut [u8], meta: &TxMeta, now_ns: u64, link_delay_ns: u32, on_time: &mut OnTimePort) -> Result<u64, Reason> {
    if !meta.has_updates() {
        return Ok(NO_E2E);
    }
    if let Some(reported) = lbf_unchanged_delay(frame, meta, now_ns) {
        return Ok(reported);
    }
    if let Some(reported) = precise_lbf_alone(frame, meta, now_ns, link_delay_ns) {
        return Ok(reported);
    }
    on_transmit_general(frame, meta, now_ns, link_delay_ns, on_time)
}

/// The transmit update of a packet whose only contract is precise LBF
/// (0x8001, or the IPv6 latency option), whole in the frame and not
/// refused as late: experienced delay plus the time spent here and the
/// egress link delay (saturating), hops plus one, and that delay reported.
/// Exactly what [`on_transmit_general`] does then, in one fixed-size
/// field access (a proptest compares the two); None: not this case.
#[inline(always)]
fn precise_lbf_alone(frame: &mut [u8], meta: &TxMeta, now_ns: u64, link_delay_ns: u32) -> Option<u64> {
    if (meta.max_delay | meta.lbf | meta.on_time) != 0 || meta.plbf == 0 || (now_ns > meta.deadline_ns && !meta.late_ok) {
        return None;
    }
    let at = meta.l3 as usize + meta.plbf as usize;
    let v: &mut [u8; 16] = frame.get_mut(at..at + 16)?.try_into().ok()?;
    let add = now_ns.saturating_sub(meta.rx_ns).saturating_add(link_delay_ns as u64).min(u32::MAX as u64) as u32;
    let exp = u32::from_be_bytes([v[8], v[9], v[10], v[11]]).saturating_add(add);
    let hops = u16::from_be_bytes([v[12], v[13]]).wrapping_add(1);
    v[8..12].copy_from_slice(&exp.to_be_bytes());
    v[12..14].copy_from_slice(&hops.to_be_bytes());
    Some(exp as u64)
}

/// The common case of a type-2 LBF packet sent soon after it arrived: an
/// LBF contract alone (whole in the frame), not late, and less than half a
/// 0.1 ms unit spent here, so the experienced delay rounds to unchanged:
/// nothing to write (the router already took the hop off fib_tohops), and
/// the delay reported is the one it arrived with. Exactly what
/// [`on_transmit_general`] does then (a unit test compares the two); None:
/// not this case.
#[inline(always)]
fn lbf_unchanged_delay(frame: &[u8], meta: &TxMeta, now_ns: u64) -> Option<u64> {
    if (meta.max_delay | meta.plbf | meta.on_time) != 0 || meta.lbf == 0 || now_ns > meta.deadline_ns {
        return None;
    }
    if now_ns.saturating_sub(meta.rx_ns) >= budget::NS_PER_TENTH_MS / 2 {
        return None;
    }
    // The general path writes only a contract that is whole in the frame.
    let end = meta.l3 as usize + meta.lbf as usize + 12;
    (end <= frame.len()).then_some(meta.lbf_exp as u64 * budget::NS_PER_TENTH_MS)
}

/// [`on_transmit_reporting`] for any contract combination (out of line:
/// the per-packet loop inlines only the common case above).
#[inline(never)]
fn on_transmit_general(frame: &mut [u8], meta: &TxMeta, now_ns: u64, link_delay_ns: u32, on_time: &mut OnTimePort) -> Result<u64, Reason> {
    if now_ns > meta.deadline_ns && !meta.late_ok {
        return Err(meta.late_reason());
    }
    let Some(buf) = frame.get_mut(meta.l3 as usize..) else { return Ok(NO_E2E) };

    let local = now_ns.saturating_sub(meta.rx_ns);
    let mut delay_exp = None;
    if meta.max_delay != 0 {
        let off = meta.max_delay as usize;
        if let (Some(max), Some(exp)) = (rd16(buf, off + 2), rd16(buf, off + 4)) {
            match budget::max_delay_on_transmit(max, exp, local) {
                Ok(v) => delay_exp = Some(v),
                Err(_) if meta.late_ok => {}
                Err(_) => return Err(Reason::NewipMaxDelayExceeded),
            }
        }
    }
    // The last check that may refuse (it writes only when it does not).
    if meta.on_time != 0 {
        on_time.on_transmit(buf, meta.on_time as usize, meta.eligible_ns, now_ns)?;
    }
    if let Some(v) = delay_exp {
        contract::set_delay_exp(buf, meta.max_delay as usize, v);
    }
    if meta.lbf != 0 {
        let off = meta.lbf as usize;
        if let Some(f) = buf.get_mut(off..off + 12) {
            // fib_tohops was taken down when the packet was routed (lbf_hop_done).
            let (e, _) = budget::lbf_on_transmit(u16::from_be_bytes([f[6], f[7]]), u16::from_be_bytes([f[10], f[11]]), local);
            f[6..8].copy_from_slice(&e.to_be_bytes());
        }
    }
    if meta.plbf != 0 {
        let add = local.saturating_add(link_delay_ns as u64).min(u32::MAX as u64) as u32;
        contract::plbf_on_transmit(buf, meta.plbf as usize, add);
    }
    Ok(reported_ns(buf, meta).unwrap_or(NO_E2E))
}

/// No end-to-end delay: the packet carries no contract that reports one.
pub const NO_E2E: u64 = u64::MAX;

/// [stats] The end-to-end delay a packet's contract reports (ns), read after
/// [`on_transmit`] wrote it: precise LBF (ns), else LBF (0.1 ms), else
/// max-delay (ms). None without such a contract.
#[inline]
pub fn experienced_ns(frame: &[u8], meta: &TxMeta) -> Option<u64> {
    reported_ns(frame.get(meta.l3 as usize..)?, meta)
}

/// [`experienced_ns`] of `buf`, which starts at the network header.
#[inline(always)]
fn reported_ns(buf: &[u8], meta: &TxMeta) -> Option<u64> {
    if meta.plbf != 0 {
        return fields::<4>(buf, meta.plbf as usize + 8).map(|b| u32::from_be_bytes(*b) as u64);
    }
    if meta.lbf != 0 {
        return rd16(buf, meta.lbf as usize + 6).map(|v| v as u64 * 100_000);
    }
    if meta.max_delay != 0 {
        return rd16(buf, meta.max_delay as usize + 4).map(|v| v as u64 * 1_000_000);
    }
    None
}

/// The `N` bytes at `off` as an array (one bounds check for all the fields).
#[inline(always)]
fn fields<const N: usize>(b: &[u8], off: usize) -> Option<&[u8; N]> {
    b.get(off..off.checked_add(N)?)?.try_into().ok()
}

/// Big-endian u16 at `i` of a fixed array (bounds known at compile time).
#[inline(always)]
fn be<const N: usize>(f: &[u8; N], i: usize) -> u16 {
    u16::from_be_bytes([f[i], f[i + 1]])
}

#[inline(always)]
fn rd16(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(off)?, *b.get(off + 1)?]))
}

/// Fuzzing and corpus-regression entry point: runs one arbitrary frame through
/// fixed test routers (every kind of route; local addresses of every type,
/// and none of the IPv4 type, so that IPv4-type New IP destinations take the
/// shortcuts too) and every per-packet stage, as the forwarding path would.
/// Must never panic.
pub fn fuzz_one(data: &[u8]) {
    use std::sync::OnceLock;
    static R: OnceLock<[(Router, Router); 2]> = OnceLock::new();
    let routers = R.get_or_init(|| [true, false].map(|v4_local| (fuzz_router(v4_local), fuzz_router(v4_local).without_shortcut())));
    for (r, general) in routers {
        fuzz_pair(r, general, data);
    }
}

/// [`fuzz_one`] with one router and the same without the shortcuts.
fn fuzz_pair(r: &Router, general: &Router, data: &[u8]) {
    let mut frame = [0u8; 2048];
    let n = data.len().min(frame.len());
    frame[..n].copy_from_slice(&data[..n]);
    let ctx = PacketCtx { now_ns: 1_000_000_000, in_port: 0 };
    let before = frame;
    // The simple-packet shortcut and the general path decide and rewrite alike.
    let mut other = frame;
    let mut other_meta = TxMeta::NONE;
    let other_verdict = general.process_at(&mut other[..n], &ctx, &mut Counters::default(), &mut other_meta);
    let mut c = Counters::default();
    let mut meta = TxMeta::NONE;
    let verdict = r.process_at(&mut frame[..n], &ctx, &mut c, &mut meta);
    assert_eq!(verdict, other_verdict, "shortcut and general path disagree");
    assert_eq!(&frame[..n], &other[..n], "shortcut and general path rewrite differently");
    match verdict {
        Verdict::Forward { with_meta, .. } | Verdict::Flood { with_meta } => {
            if with_meta {
                assert_eq!(meta, other_meta, "shortcut and general path schedule differently");
            } else {
                meta = TxMeta::NONE;
            }
            let mut on_time = OnTimePort::default();
            for t in [0, 10_000, 10_000_000_000] {
                let mut f = frame;
                if let Ok(e2e) = on_transmit_reporting(&mut f[..n], &meta, ctx.now_ns + t, 500, &mut on_time) {
                    assert_eq!(e2e, experienced_ns(&f[..n], &meta).unwrap_or(NO_E2E), "the reported delay is what the frame says");
                }
            }
        }
        Verdict::Drop(_) => assert_eq!(&frame[..n], &before[..n], "a dropped frame was modified"),
    }
}

/// A router [`fuzz_one`] uses: every kind of route, local addresses (one
/// of the IPv4 type if `v4_local`).
fn fuzz_router(v4_local: bool) -> Router {
    let nhs = vec![
        NextHop::new(0, [2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]),
        NextHop::new(1, [2, 0, 0, 0, 0, 3], [2, 0, 0, 0, 0, 4]).with_path(3, 200_000),
    ];
    let p = |s: &str| Prefix::parse(s).expect("test prefix");
    let routes = [
        (p("10.0.0.0/8"), 1),
        (p("0.0.0.0/0"), 0),
        (p("2001:db8::/32"), 1),
        (p("::/0"), 0),
        (p("8bit:2"), 1),
        (p("16bit:0x0102"), 1),
        (p("flex:0a/8"), 1),
        (p("flex:00/0"), 0),
    ];
    let locals = [p("10.0.0.1"), p("8bit:1"), p("flex:0a0001")];
    let locals = if v4_local { &locals[..] } else { &locals[1..] };
    Router::build(&routes, nhs, vec![[2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 4]], locals, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{build, checksum};
    use proptest::prelude::*;

    const PORT_MAC: [u8; 6] = [0x02, 0xaa, 0, 0, 0, 1];
    const PEER: [u8; 6] = [0x02, 0xbb, 0, 0, 0, 2];

    fn router() -> Router {
        let nhs = vec![NextHop::new(0, PEER, PORT_MAC), NextHop::new(1, PEER, PORT_MAC)];
        Router::new(&[(0x0a00_0000, 8, 1)], &[(0x2001_0db8u128 << 96, 32, 0)], nhs, true)
    }

    #[test]
    fn ipv4_forward_rewrites_exactly_macs_ttl_checksum() {
        let r = router();
        let orig = build::udp4(build::Udp4 { dst: 0x0a01_0203, ttl: 10, frame_len: 64, ..Default::default() });
        let mut f = orig.clone();
        assert_eq!(r.process(&mut f).port(), Some(1));
        assert_eq!(&f[0..6], &PEER);
        assert_eq!(&f[6..12], &PORT_MAC);
        assert_eq!(f[14 + 8], 9);
        assert!(checksum::verifies(&f[14..34]));
        for i in (12..f.len()).filter(|i| ![22, 24, 25].contains(i)) {
            assert_eq!(f[i], orig[i], "byte {i}");
        }
    }

    #[test]
    fn vlan_tagged_ipv6_forwards_and_keeps_tag() {
        let r = router();
        let mut f = build::udp6(build::Udp6 { vlan: Some(0x0123), hop_limit: 2, ..Default::default() });
        assert_eq!(r.process(&mut f).port(), Some(0));
        assert_eq!(&f[12..16], &[0x81, 0x00, 0x01, 0x23]);
        assert_eq!(f[18 + 7], 1);
    }

    #[test]
    fn drops_are_named() {
        let r = router();
        let mut f = build::udp4(build::Udp4 { dst: 0x0b00_0001, ..Default::default() });
        assert_eq!(r.process(&mut f), Verdict::Drop(Reason::NoRoute));
        let mut f = build::udp4(build::Udp4 { dst: 0x0a00_0001, ttl: 1, ..Default::default() });
        assert_eq!(r.process(&mut f), Verdict::Drop(Reason::TtlExpired));
        let mut f = build::udp6(build::Udp6 { hop_limit: 0, ..Default::default() });
        assert_eq!(r.process(&mut f), Verdict::Drop(Reason::HopLimitExpired));
        let mut f = build::udp6(build::Udp6 { dst: 1, ..Default::default() });
        assert_eq!(r.process(&mut f), Verdict::Drop(Reason::NoRoute));
        let mut f = build::ethernet([0; 6], [0; 6], None, ether::ETHERTYPE_ARP);
        f.resize(60, 0);
        assert_eq!(r.process(&mut f), Verdict::Drop(Reason::UnsupportedEthertype));
        assert_eq!(r.process(&mut [0u8; 10]), Verdict::Drop(Reason::MalformedEthernet));
    }

    #[test]
    fn transmit_without_contracts_changes_nothing() {
        let mut f = build::udp4(build::Udp4::default());
        let before = f.clone();
        assert_eq!(on_transmit(&mut f, &TxMeta::NONE, u64::MAX, 1000, &mut OnTimePort::default()), Ok(()));
        assert_eq!(f, before);
    }

    fn classed_router() -> Router {
        use crate::class::{ClassAction, Rule};
        let entries = vec![
            ("voice".to_string(), Rule { dscp: 1 << 46, ..Rule::ANY }, ClassAction { budget_ns: 500_000, late_ok: false }),
            ("bulk".to_string(), Rule { proto: Some(17), dst_ports: Some((9000, 9100)), ..Rule::ANY }, ClassAction::default()),
        ];
        router().with_classes(Classes::new(&entries))
    }

    fn ctx() -> PacketCtx {
        PacketCtx { now_ns: 7_000_000, in_port: 0 }
    }

    fn run(r: &Router, f: &mut [u8]) -> (Verdict, TxMeta) {
        let mut meta = TxMeta::NONE;
        let v = r.process_at(f, &ctx(), &mut Counters::default(), &mut meta);
        (v, meta)
    }

    #[test]
    fn legacy_classes_set_deadline_and_class() {
        let r = classed_router();
        let mut f = build::udp4(build::Udp4 { dst: 0x0a01_0203, tos: 46 << 2, ..Default::default() });
        let (v, m) = run(&r, &mut f);
        assert_eq!(v, Verdict::Forward { port: 1, with_meta: true });
        assert_eq!((m.class, m.deadline_ns, m.late_ok, m.rx_ns, m.l3), (2, 7_500_000, false, 7_000_000, 14));
        assert!(!m.has_updates(), "nothing to write at transmit");
        assert_eq!(m.late_reason(), Reason::ClassLate);
        // A best-effort class still carries its number; late_ok (never dropped late).
        let mut f = build::udp6(build::Udp6 { dport: 9050, ..Default::default() });
        let (v, m) = run(&r, &mut f);
        assert_eq!(v, Verdict::Forward { port: 0, with_meta: true });
        assert_eq!((m.class, m.deadline_ns, m.late_ok), (3, u64::MAX, true));
        // Unmatched: best effort with nothing to carry; the rewrite is unchanged.
        let mut f = build::udp4(build::Udp4 { dst: 0x0a01_0203, ..Default::default() });
        let mut g = f.clone();
        assert_eq!(run(&r, &mut f).0, Verdict::Forward { port: 1, with_meta: false });
        assert_eq!(router().process(&mut g), Verdict::Forward { port: 1, with_meta: false });
        assert_eq!(f, g);
    }

    #[test]
    fn newip_classes_on_time_and_qual() {
        use crate::wire::newip::build::{ethernet_frame, Address, ContractDesc, PacketDesc};
        use crate::wire::newip::{Chunk, OnTime, PreciseLbf};
        let r = Router::build(
            &[(Prefix::Bits8(2), 0)],
            vec![NextHop::new(0, PEER, PORT_MAC)],
            vec![PORT_MAC],
            &[],
            true,
        )
        .with_classes(classed_router().classes.clone());
        let frame = |c: Vec<ContractDesc>| {
            let mut d = PacketDesc::new(Address::Bits8(1), Address::Bits8(2)).payload(vec![0u8; 40]);
            for c in c {
                d = d.contract(c);
            }
            ethernet_frame(PEER, PORT_MAC, nip::ETHERTYPE_NEWIP, None, &d.build().unwrap())
        };
        // No contract: best effort, nothing to carry (DSCP rules do not apply to New IP).
        let (v, m) = run(&r, &mut frame(vec![]));
        assert_eq!((v, m.class), (Verdict::Forward { port: 0, with_meta: false }, class::BEST_EFFORT));
        // Precise LBF: the contract's deadline, class "contract".
        let p = PreciseLbf { max_ns: 3_000_000, ..Default::default() };
        let (_, m) = run(&r, &mut frame(vec![ContractDesc::PreciseLbf(p)]));
        assert_eq!((m.class, m.deadline_ns), (class::CONTRACT, 10_000_000));
        // On-time: held for damper_ns, prio kept, Di means late_ok.
        let ot = OnTime { damper_ns: 250_000, prio: 3, flags: OnTime::DI };
        let (v, m) = run(&r, &mut frame(vec![ContractDesc::OnTime(ot)]));
        assert_eq!(v, Verdict::Forward { port: 0, with_meta: true });
        assert_eq!((m.class, m.eligible_ns, m.prio, m.late_ok, m.deadline_ns), (class::CONTRACT, 7_250_000, 3, true, u64::MAX));
        assert!(m.on_time != 0 && m.has_updates());
        assert_eq!(m.late_reason(), Reason::NewipOnTimeBroken);
        // Ds already set: best effort here, no hold, nothing to rewrite.
        let ot = OnTime { damper_ns: 250_000, prio: 3, flags: OnTime::DI | OnTime::DS };
        let (v, m) = run(&r, &mut frame(vec![ContractDesc::OnTime(ot)]));
        assert_eq!((v, m.on_time, m.eligible_ns, m.class), (Verdict::Forward { port: 0, with_meta: false }, 0, 0, class::BEST_EFFORT));
        // Qualitative: carried so the port may wash it.
        let q = vec![Chunk { offset: 0, length: 10, significance: 2, flags: 0 }];
        let (v, m) = run(&r, &mut frame(vec![ContractDesc::Qualitative(q)]));
        assert_eq!((v, m.qual, m.has_updates()), (Verdict::Forward { port: 0, with_meta: true }, true, false));
    }

    #[test]
    fn on_transmit_rewrites_the_damper() {
        use crate::wire::newip::build::{ethernet_frame, Address, ContractDesc, PacketDesc};
        use crate::wire::newip::OnTime;
        let r = Router::build(&[(Prefix::Bits8(2), 0)], vec![NextHop::new(0, PEER, PORT_MAC)], vec![PORT_MAC], &[], true);
        let d = PacketDesc::new(Address::Bits8(1), Address::Bits8(2))
            .contract(ContractDesc::OnTime(OnTime { damper_ns: 1000, prio: 0, flags: 0 }))
            .payload(vec![1u8; 8]);
        let f0 = ethernet_frame(PEER, PORT_MAC, nip::ETHERTYPE_NEWIP, None, &d.build().unwrap());
        let mut port = OnTimePort::new([100_000; 8]);
        let damper = |f: &[u8]| OnTime::read(&f[14..], nip::parse(&f[14..]).unwrap().contracts.on_time_value().unwrap()).unwrap();
        // Eligible at 7_001_000; queued 60 us, then 20 us: the second gets 40 us.
        for (queued, want) in [(60_000u64, 0u32), (20_000, 40_000)] {
            let mut f = f0.clone();
            let (_, m) = run(&r, &mut f);
            assert_eq!(on_transmit(&mut f, &m, m.eligible_ns + queued, 0, &mut port), Ok(()));
            assert_eq!(damper(&f).damper_ns, want);
        }
        // Past the bound: refused by name, the frame untouched.
        let mut f = f0.clone();
        let (_, m) = run(&r, &mut f);
        let before = f.clone();
        assert_eq!(on_transmit(&mut f, &m, m.eligible_ns + 100_001, 0, &mut port), Err(Reason::NewipOnTimeBroken));
        assert_eq!(f, before);
    }

    /// New IP frames of the simple shape (and near it), with any contract
    /// values: `fuzz_one` checks that the shortcut and the general path agree.
    fn simple_newip_frame() -> impl Strategy<Value = Vec<u8>> {
        use crate::wire::newip::build::{Address, ContractDesc, PacketDesc};
        let addr = prop_oneof![
            any::<[u8; 4]>().prop_map(Address::Ipv4),
            prop_oneof![Just([10u8, 0, 0, 1]), Just([10, 9, 9, 9]), Just([11, 0, 0, 0])].prop_map(Address::Ipv4),
            any::<[u8; 16]>().prop_map(Address::Ipv6),
            (0u8..4).prop_map(Address::Bits8),
            prop_oneof![Just(0x0102u16), any::<u16>()].prop_map(Address::Bits16),
        ];
        let contract = prop_oneof![
            (any::<u16>(), any::<u16>()).prop_map(|(m, e)| ContractDesc::MaxDelay { max_allowed_delay: m % 64, delay_exp: e % 64 }),
            any::<[u16; 5]>().prop_map(|v| ContractDesc::Lbf {
                min_delay: v[0] % 32,
                max_delay: v[1] % 64,
                experienced_delay: v[2] % 300,
                fib_todelay: v[3] % 16,
                fib_tohops: v[4] % 4,
            }),
            (any::<[u32; 3]>(), any::<u16>(), 0u16..4).prop_map(|(v, hops, flags)| ContractDesc::PreciseLbf(nip::PreciseLbf {
                min_ns: v[0] % 2_000_000,
                max_ns: v[1] % 4_000_000,
                experienced_ns: v[2] % 3_000_000,
                hops,
                flags,
            })),
        ];
        (addr.clone(), addr, proptest::collection::vec(contract, 0..3), 0usize..20).prop_map(|(src, dst, contracts, pl)| {
            let d = PacketDesc { src, dst, cast: nip::Cast::Unicast, contracts, payload: vec![0x5a; pl] };
            let mut f = build::ethernet(PEER, PORT_MAC, None, nip::ETHERTYPE_NEWIP);
            f.extend(d.build().expect("small header"));
            f
        })
    }

    #[test]
    fn experienced_delay_is_read_in_each_contract_unit() {
        let mut f = [0u8; 96];
        let l3 = 14;
        f[l3 + 40 + 8..l3 + 40 + 12].copy_from_slice(&1_234_567u32.to_be_bytes()); // precise LBF value at 40
        f[l3 + 20 + 6..l3 + 20 + 8].copy_from_slice(&25u16.to_be_bytes()); // LBF at 20: 2.5 ms
        f[l3 + 4 + 4..l3 + 4 + 6].copy_from_slice(&7u16.to_be_bytes()); // max-delay at 4: 7 ms
        let m = TxMeta { l3: l3 as u16, plbf: 40, lbf: 20, max_delay: 4, ..TxMeta::NONE };
        assert_eq!(experienced_ns(&f, &m), Some(1_234_567));
        assert_eq!(experienced_ns(&f, &TxMeta { plbf: 0, ..m }), Some(2_500_000));
        assert_eq!(experienced_ns(&f, &TxMeta { plbf: 0, lbf: 0, ..m }), Some(7_000_000));
        assert_eq!(experienced_ns(&f, &TxMeta::NONE), None);
        assert_eq!(experienced_ns(&f[..50], &m), None, "cut off: no value, no panic");
    }

    use crate::wire::newip::build::{Address, ContractDesc, PacketDesc};

    /// `value` between `lead` bytes of 0x5a and `tail` bytes of 0xa5.
    fn framed(value: &[u8], lead: usize, tail: usize) -> Vec<u8> {
        let mut f = vec![0x5au8; lead];
        f.extend_from_slice(value);
        f.extend(std::iter::repeat_n(0xa5u8, tail));
        f
    }

    /// The general transmit path and the public entry point, each on its
    /// own copy of `frame`: (result, bytes after) of each.
    #[allow(clippy::type_complexity)]
    fn transmit_both(frame: &[u8], meta: &TxMeta, now: u64, link: u32) -> ((Result<u64, Reason>, Vec<u8>), (Result<u64, Reason>, Vec<u8>)) {
        let (mut g, mut p) = (frame.to_vec(), frame.to_vec());
        let general = on_transmit_general(&mut g, meta, now, link, &mut OnTimePort::new([100_000; 8]));
        let public = on_transmit_reporting(&mut p, meta, now, link, &mut OnTimePort::new([100_000; 8]));
        ((general, g), (public, p))
    }

    /// A unicast New IP frame from `src` to `dst` (IPv4-type addresses)
    /// with `contracts` must have the template's `shape`, and the router
    /// with its shortcuts must give it the general path's verdict, bytes,
    /// metadata and counted events. Returns the verdict.
    fn template_agrees(src: [u8; 4], dst: [u8; 4], contracts: Vec<ContractDesc>, payload: usize, shape: impl Fn(&[u8]) -> bool) -> Result<Verdict, TestCaseError> {
        let d = PacketDesc { src: Address::Ipv4(src), dst: Address::Ipv4(dst), cast: nip::Cast::Unicast, contracts, payload: vec![0x5a; payload] };
        let mut f = build::ethernet(PEER, PORT_MAC, None, nip::ETHERTYPE_NEWIP);
        f.extend(d.build().expect("small header"));
        prop_assert!(shape(&f[14..]), "the template's shape");
        let (r, general) = (fuzz_router(false), fuzz_router(false).without_shortcut());
        let ctx = PacketCtx { now_ns: 5_000_000, in_port: 0 };
        let (mut a, mut b) = (f.clone(), f.clone());
        let (mut ma, mut mb) = (TxMeta::NONE, TxMeta::NONE);
        let (mut ca, mut cb) = (Counters::default(), Counters::default());
        let va = r.process_at(&mut a, &ctx, &mut ca, &mut ma);
        let vb = general.process_at(&mut b, &ctx, &mut cb, &mut mb);
        prop_assert_eq!(va, vb);
        prop_assert_eq!(&a, &b);
        prop_assert!(ca == cb, "the same events counted");
        if let Verdict::Forward { with_meta: true, .. } = va {
            prop_assert_eq!(ma, mb);
        }
        fuzz_one(&f);
        Ok(va)
    }

    proptest! {
        /// The LBF shortcut at transmit reports what the general path does,
        /// and the general path then leaves the frame as it was (the delay
        /// rounds to unchanged; the hop was taken when routing). The meta
        /// carries the experienced delay as the router reads it.
        #[test]
        fn lbf_unchanged_delay_matches_the_general_path(
            fields in any::<[u8; 12]>(),
            lead in 0usize..24,
            tail in 0usize..16,
            off in 0u16..40,
            rx in 0u64..1_000_000,
            local in 0u64..120_000,
            deadline_after in 0u64..200_000,
            late_ok in any::<bool>(),
            other in 0u8..4,
        ) {
            let frame = framed(&fields, lead, tail);
            let mut meta = TxMeta { rx_ns: rx, deadline_ns: rx + deadline_after, l3: 0, lbf: off.max(1), late_ok, ..TxMeta::NONE };
            let o = meta.lbf as usize;
            if let Some(e) = frame.get(o + 6..o + 8) {
                meta.lbf_exp = u16::from_be_bytes([e[0], e[1]]);
            }
            match other {
                1 => meta.max_delay = 2,
                2 => meta.plbf = 4,
                _ => {}
            }
            let now = rx + local;
            let ((general, b), (public, _)) = transmit_both(&frame, &meta, now, 0);
            if let Some(r) = lbf_unchanged_delay(&frame, &meta, now) {
                prop_assert_eq!(Ok(r), general);
                prop_assert_eq!(&b, &frame, "nothing left to write");
            }
            // And the public entry point agrees with the general one.
            prop_assert_eq!(public, general);
        }

        /// The precise-LBF transmit shortcut writes and reports what the
        /// general path does, wherever it applies; the public entry point
        /// agrees with the general path everywhere.
        #[test]
        fn precise_lbf_alone_matches_the_general_path(
            value in any::<[u8; 16]>(),
            lead in 0usize..24,
            tail in 0usize..20,
            l3 in 0u16..8,
            off in 1u16..40,
            rx in 0u64..1_000_000,
            local in 0u64..5_000_000_000,
            link in any::<u32>(),
            deadline_after in 0u64..200_000,
            late_ok in any::<bool>(),
            other in 0u8..5,
        ) {
            let frame = framed(&value, lead, tail);
            let mut meta = TxMeta { rx_ns: rx, deadline_ns: rx + deadline_after, l3, plbf: off, late_ok, ..TxMeta::NONE };
            match other {
                1 => meta.max_delay = 2,
                2 => meta.lbf = 4,
                3 => meta.on_time = 6,
                _ => {}
            }
            let now = rx + local;
            let ((want, general), (public, public_bytes)) = transmit_both(&frame, &meta, now, link);
            let mut fast = frame.clone();
            if let Some(r) = precise_lbf_alone(&mut fast, &meta, now, link) {
                prop_assert_eq!(Ok(r), want);
                prop_assert_eq!(&fast, &general);
            } else {
                prop_assert_eq!(&fast, &frame, "untouched when it does not apply");
            }
            prop_assert_eq!(public, want);
            prop_assert_eq!(&public_bytes, &general);
        }

        #[test]
        fn shortcut_agrees_with_general_path(f in simple_newip_frame()) {
            fuzz_one(&f);
        }

        /// The IPv4-address LBF template: the frames it takes (it must take
        /// every one of this shape) get the general path's verdict, bytes,
        /// metadata and counted events, drops included (no hops left, early discard).
        #[test]
        fn v4_lbf_template_agrees_with_general_path(
            src in any::<[u8; 4]>(),
            dst in prop_oneof![Just([10u8, 1, 2, 3]), Just([10, 0, 0, 1]), any::<[u8; 4]>()],
            v in any::<[u16; 5]>(),
            payload in 0usize..40,
        ) {
            let lbf = ContractDesc::Lbf { min_delay: v[0] % 40, max_delay: v[1] % 80, experienced_delay: v[2] % 600, fib_todelay: v[3] % 20, fib_tohops: v[4] % 5 };
            template_agrees(src, dst, vec![lbf], payload, |ip| ip.first_chunk::<V4_LBF_LEN>().is_some_and(is_v4_lbf))?;
        }

        /// The same for the precise-LBF template, drops included (infeasible).
        #[test]
        fn v4_plbf_template_agrees_with_general_path(
            src in any::<[u8; 4]>(),
            dst in prop_oneof![Just([10u8, 1, 2, 3]), Just([10, 0, 0, 1]), any::<[u8; 4]>()],
            v in any::<[u32; 3]>(),
            late_ok in any::<bool>(),
            payload in 0usize..40,
        ) {
            let p = nip::PreciseLbf { min_ns: v[0] % 50_000, max_ns: v[1] % 3_000_000, experienced_ns: v[2] % 2_000_000, hops: 3, flags: late_ok as u16 };
            template_agrees(src, dst, vec![ContractDesc::PreciseLbf(p)], payload, |ip| ip.first_chunk::<V4_PLBF_LEN>().is_some_and(is_v4_plbf))?;
        }

        /// The same for the template without a contract; such a packet
        /// has nothing to do at transmit.
        #[test]
        fn v4_plain_template_agrees_with_general_path(
            src in any::<[u8; 4]>(),
            dst in prop_oneof![Just([10u8, 1, 2, 3]), Just([10, 0, 0, 1]), any::<[u8; 4]>()],
            payload in 0usize..40,
        ) {
            let v = template_agrees(src, dst, vec![], payload, |ip| ip.first_chunk::<V4_PLAIN_LEN>().is_some_and(is_v4_plain))?;
            let carries = matches!(v, Verdict::Forward { with_meta: true, .. });
            prop_assert!(!carries, "nothing to do at transmit");
        }

        #[test]
        fn never_panics_and_drops_leave_frame_untouched(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            fuzz_one(&bytes);
            let r = router();
            let mut f = bytes.clone();
            if let Verdict::Drop(_) = r.process(&mut f) {
                prop_assert_eq!(f, bytes);
            }
        }
    }
}
