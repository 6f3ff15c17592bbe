//! The ingress stage, run to completion: parse Ethernet (and VLAN tags),
//! then
//! * IPv4 / IPv6: check, longest-prefix route, TTL / hop limit (IPv4 checksum
//!   patched incrementally); an IPv6 hop-by-hop latency option (0x3E) is
//!   honoured like a New IP precise-LBF contract;
//! * New IP: parse, look the destination up in the table of its type,
//!   apply every contract on arrival (drops, early discard, budgets), answer
//!   pings addressed to newipd, flood broadcasts; the common shapes take a
//!   [template](super::templates) or the `parse_simple` shortcut;
//! * legacy IPv4 / IPv6 (no contract): a traffic class from the pipeline's
//!   `[[class]]` rules gives a per-hop deadline (or best effort);
//! and rewrite the MACs. What must be written when the packet leaves (time
//! spent here, hops) is described by the [`TxMeta`] returned with the
//! verdict and applied by [`on_transmit`](super::transmit::on_transmit) at send time.
//! No allocation, no panics, no DPDK.

use super::arrive;
use super::flow;
use super::icmp;
use super::meta::{PacketCtx, TxMeta, Verdict};
use super::scope;
use super::templates;
use crate::class::{self, Classes};
use crate::contract::{lbf, max_delay, ping, precise_lbf, qualitative, tlv};
use crate::fib::table::{Fib, FibConfig};
use crate::fib::{NextHop, NhIndex, Prefix};
use crate::kinds::{Event, Reason, MAX_PORTS};
use crate::stats::Counters;
use crate::wire::newip::{self as nip, AddrType, Cast, ContractRef};
use crate::wire::{ether, ipv4, ipv6};
use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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

/// Route tables, next hops, port MACs and newipd's own addresses, built at
/// start-up and shared by the lcores; the route and next-hop tables change
/// in place ([`Router::fib`]) while they forward.
pub struct Router {
    fib: Fib,
    port_macs: Vec<[u8; 6]>,
    /// Each port's MTU (IP bytes a frame may carry), and the smallest: a
    /// packet no longer than that needs no look at its egress port's.
    mtus: [u16; MAX_PORTS],
    min_mtu: u16,
    locals: Vec<LocalAddr>,
    /// Bit `t` set: newipd has an address of New IP address type `t`, so
    /// such destinations must be compared with it (general path).
    local_types: u8,
    /// Take [`nip::parse_simple`]'s shortcut for simple New IP packets
    /// (off only to test that both paths agree).
    shortcut: bool,
    verify_ipv4_checksum: bool,
    /// The traffic classes, replaced whole while the lcores classify
    /// ([`Router::set_classes`]): a packet loads the table once and is
    /// classified by that one table.
    classes: ArcSwap<Classes>,
    /// Whether `classes` has rules: the hot path's one test (a relaxed load),
    /// so a pipeline without classes never touches the table.
    classified: AtomicBool,
    /// How many ICMP errors an lcore may send.
    icmp: IcmpConfig,
    /// Where they come from: replaced whole when the control plane's
    /// addresses change, read only on the (rate-limited) error path.
    sources: ArcSwap<icmp::Sources>,
}

/// The ICMP errors a router sends: from which addresses, how many a second
/// per lcore and in a burst.
#[derive(Debug, Clone, Default)]
pub struct IcmpConfig {
    pub sources: icmp::Sources,
    pub per_s: u64,
    pub burst: u64,
}

const BROADCAST_MAC: [u8; 6] = [0xff; 6];

/// A port's MTU when the pipeline gives none.
pub const DEFAULT_MTU: u16 = 1500;

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
        let fib = Fib::build_with(routes, &next_hops, &FibConfig::default()).unwrap_or_else(|e| panic!("Router::build: {e}"));
        for (port, mac) in port_macs.iter().enumerate() {
            // Ports no next hop names yet keep their MAC for routes added later.
            if !next_hops.iter().any(|nh| nh.port as usize == port) {
                let _ = fib.next_hops.set_port_mac(port as u16, *mac);
            }
        }
        Router {
            fib,
            port_macs,
            mtus: [DEFAULT_MTU; MAX_PORTS],
            min_mtu: DEFAULT_MTU,
            local_types: locals.iter().fold(0, |m, l| m | 1 << l.ty as u8),
            locals,
            shortcut: true,
            verify_ipv4_checksum,
            classes: ArcSwap::from_pointee(Classes::default()),
            classified: AtomicBool::new(false),
            icmp: IcmpConfig::default(),
            sources: ArcSwap::from_pointee(icmp::Sources::default()),
        }
    }

    /// Ports with these MTUs (by port index; ports not given keep 1500).
    pub fn with_mtus(mut self, mtus: &[u16]) -> Router {
        for (m, &v) in self.mtus.iter_mut().zip(mtus) {
            *m = v;
        }
        self.min_mtu = self.mtus[..mtus.len().clamp(1, MAX_PORTS)].iter().copied().min().unwrap_or(DEFAULT_MTU);
        self
    }

    /// The MTU of port `port`.
    pub fn mtu(&self, port: usize) -> u16 {
        self.mtus.get(port).copied().unwrap_or(DEFAULT_MTU)
    }

    /// A packet of `len` IP bytes leaving by `port`: Ok if it fits, else
    /// the port's MTU (out of line: only packets longer than the smallest
    /// MTU of all ports get here).
    #[cold]
    #[inline(never)]
    fn too_big(&self, len: usize, port: u16) -> Result<(), u16> {
        let mtu = self.mtu(port as usize);
        if len > mtu as usize {
            Err(mtu)
        } else {
            Ok(())
        }
    }

    /// The same router without the simple-packet shortcut: every New IP
    /// packet takes the general parse (tests compare the two).
    pub fn without_shortcut(mut self) -> Router {
        self.shortcut = false;
        self
    }

    /// Schedule legacy traffic by these classes (default: all best effort).
    pub fn with_classes(self, classes: Classes) -> Router {
        self.set_classes(classes);
        self
    }

    /// Replace the traffic classes while the lcores forward (a reload):
    /// each packet is classified by the old table or the new one, never a
    /// mix. The old table is freed when the last packet using it is done.
    pub fn set_classes(&self, classes: Classes) {
        // Table first, then the flag: a packet that sees the flag set and
        // still loads the old (or an empty) table classifies by that one.
        let any = !classes.is_empty();
        self.classes.store(Arc::new(classes));
        self.classified.store(any, Ordering::Release);
    }

    /// The traffic classes now (a snapshot: a later
    /// [`set_classes`](Self::set_classes) does not change it).
    pub fn classes(&self) -> Arc<Classes> {
        self.classes.load_full()
    }

    /// Make the calling thread ready to read class tables without
    /// allocating: a thread's first load takes a slot of arc-swap's (a heap
    /// allocation, unless a finished thread left one). A packet lcore calls
    /// it before its loop.
    pub fn prepare_thread() {
        let _ = ArcSwap::from_pointee(()).load();
    }

    /// Answer dropped packets with the ICMP errors they are owed
    /// ([`icmp`]; default: none, there is no source address).
    pub fn with_icmp(mut self, icmp: IcmpConfig) -> Router {
        self.sources.store(Arc::new(icmp.sources.clone()));
        self.icmp = icmp;
        self
    }

    /// Send ICMP errors from these addresses from now on (the control
    /// plane's addresses changed).
    pub fn set_icmp_sources(&self, sources: icmp::Sources) {
        self.sources.store(Arc::new(sources));
    }

    /// A fresh rate limiter for one lcore's ICMP errors.
    pub fn icmp_limiter(&self) -> icmp::Limiter {
        icmp::Limiter::new(self.icmp.per_s, self.icmp.burst)
    }

    /// Turn the frame in `buf[..len]`, dropped for `reason` after arriving
    /// on `in_port`, into the ICMP error it is owed ([`icmp::answer`]).
    pub fn answer_icmp(&self, buf: &mut [u8], len: usize, reason: Reason, in_port: usize, lim: &mut icmp::Limiter, now_ns: u64) -> icmp::Answer {
        let mac = self.port_macs.get(in_port).copied().unwrap_or([0; 6]);
        let mtu = match reason {
            Reason::FragmentationNeeded | Reason::PacketTooBig => self.egress_mtu(buf.get(..len).unwrap_or(&[])),
            _ => 0,
        };
        icmp::answer(buf, len, reason, in_port, mac, &self.sources.load(), lim, now_ns, mtu as u32)
    }

    /// The MTU of the port an IPv4 / IPv6 frame's route leaves by (the
    /// smallest MTU when it has none).
    fn egress_mtu(&self, frame: &[u8]) -> u16 {
        let port = ether::parse(frame).ok().and_then(|l2| {
            let ip = frame.get(l2.l3..)?;
            let nh = match l2.ethertype {
                ether::ETHERTYPE_IPV4 => self.fib.v4.lookup(u32::from_be_bytes(ip.get(16..20)?.try_into().ok()?)),
                ether::ETHERTYPE_IPV6 => self.fib.v6.lookup(u128::from_be_bytes(ip.get(24..40)?.try_into().ok()?)),
                _ => None,
            }?;
            self.fib.next_hops.get(nh).ok().map(|n| n.port)
        });
        port.map_or(self.min_mtu, |p| self.mtu(p as usize))
    }

    /// Turn an echo request to newipd's own address, arrived on `in_port`,
    /// into its reply in place ([`icmp::echo_reply`]); false if it is not one.
    pub fn echo_reply(&self, frame: &mut [u8], in_port: usize) -> bool {
        icmp::echo_reply(frame, self.port_macs.get(in_port).copied().unwrap_or([0; 6]))
    }

    /// The route and next-hop tables: the control thread changes them in
    /// place; each lcore registers with [`Fib::register_reader`] and reports
    /// a quiescent point once per poll round.
    pub fn fib(&self) -> &Fib {
        &self.fib
    }

    /// A packet whose TTL or hop limit is spent: expired, unless it is for
    /// newipd itself (an eBGP session's TTL is 1), which the kernel takes.
    #[cold]
    #[inline(never)]
    fn expired(&self, nh: Option<NhIndex>, expired: Reason) -> Reason {
        match self.next_hop(nh, || 0) {
            Err(Reason::ForRouter) => Reason::ForRouter,
            _ => expired,
        }
    }

    /// The next hop of a route; for an ECMP route, the member the
    /// packet's flow `hash` (computed only then) picks.
    #[inline(always)]
    fn next_hop(&self, nh: Option<NhIndex>, hash: impl FnOnce() -> u32) -> Result<NextHop, Reason> {
        match nh {
            Some(i) => self.fib.next_hops.get_flow(i, hash),
            None => Err(Reason::NoRoute),
        }
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
                if v.dst >= scope::V4_FIRST_SCOPED {
                    if let Some(r) = scope::v4(v.dst) {
                        return Err(r);
                    }
                }
                if v.ttl <= 1 {
                    return Err(self.expired(self.fib.v4.lookup(v.dst), Reason::TtlExpired));
                }
                let nh = self.next_hop(self.fib.v4.lookup(v.dst), || flow::v4(ip))?;
                let mut fragment = None;
                if v.len > self.min_mtu as usize {
                    if let Err(mtu) = self.too_big(v.len, nh.port) {
                        if ip.get(6).is_some_and(|f| f & 0x40 != 0) {
                            return Err(Reason::FragmentationNeeded);
                        }
                        fragment = Some(mtu);
                    }
                }
                ipv4::decrement_ttl(ip);
                if let Some(mtu) = fragment {
                    ether::set_macs(head, &nh.macs);
                    return Ok(Verdict::Fragment { port: nh.port, mtu });
                }
                let classified = self.classified.load(Ordering::Relaxed) && self.legacy_v4(ip, l2.l3, ctx, out);
                (nh, classified)
            }
            ether::ETHERTYPE_IPV6 => {
                let v = ipv6::check(ip)?;
                if scope::v6_maybe(&v) {
                    if let Some(r) = scope::v6(ip, &v) {
                        return Err(r);
                    }
                }
                if v.hop_limit <= 1 {
                    return Err(self.expired(self.fib.v6.lookup(v.dst), Reason::HopLimitExpired));
                }
                let nh = self.next_hop(self.fib.v6.lookup(v.dst), || flow::v6(ip))?;
                if v.len > self.min_mtu as usize && self.too_big(v.len, nh.port).is_err() {
                    return Err(Reason::PacketTooBig);
                }
                let mut with_meta = v.next_header == 0 && self.ipv6_option(ip, l2.l3, &nh, ctx, c, out)?;
                if !with_meta && self.classified.load(Ordering::Relaxed) {
                    with_meta = self.legacy_v6(ip, v.traffic_class, v.next_header, l2.l3, ctx, out);
                }
                ipv6::decrement_hop_limit(ip);
                (nh, with_meta)
            }
            nip::ETHERTYPE_NEWIP => {
                if self.shortcut && self.local_types & 1 << AddrType::Ipv4 as u8 == 0 {
                    if let Some(h) = ip.first_chunk_mut::<{ templates::V4_LBF_LEN }>().filter(|h| templates::is_v4_lbf(h)) {
                        let nh = self.v4_template_hop(h)?;
                        return templates::v4_lbf(head, h, &nh, l2.l3, ctx, out);
                    }
                    if let Some(h) = ip.first_chunk::<{ templates::V4_PLAIN_LEN }>().filter(|h| templates::is_v4_plain(h)) {
                        return templates::v4_plain(head, &self.v4_template_hop(h)?);
                    }
                    if let Some(h) = ip.first_chunk::<{ templates::V4_PLBF_LEN }>().filter(|h| templates::is_v4_plbf(h)) {
                        let nh = self.v4_template_hop(h)?;
                        return templates::v4_plbf(head, h, &nh, l2.l3, ctx, c, out);
                    }
                }
                if let Some(s) = nip::parse_simple(ip).filter(|s| self.shortcut && self.local_types & 1 << s.dst.ty as u8 == 0) {
                    return self.newip_simple(head, ip, l2.l3, s, ctx, c, out);
                }
                return self.newip(head, ip, l2.l3, ctx, c, out);
            }
            ether::ETHERTYPE_ARP => return Err(Reason::Arp),
            _ => return Err(Reason::UnsupportedEthertype),
        };
        ether::set_macs(head, &nh.macs);
        Ok(Verdict::Forward { port: nh.port, with_meta })
    }

    /// Classify a (checked) IPv4 packet; out of line so a pipeline without
    /// classes pays one branch. One load of the class table per packet.
    #[inline(never)]
    fn legacy_v4(&self, ip: &[u8], l3: usize, ctx: &PacketCtx, out: &mut TxMeta) -> bool {
        let (Some(&vihl), Some(&tos), Some(&proto)) = (ip.first(), ip.get(1), ip.get(9)) else { return false };
        let classes = self.classes.load();
        self.legacy(&classes, classes.ipv4(ip, tos, proto, ((vihl & 0x0f) as usize) * 4), l3, ctx, out)
    }

    /// Classify a (checked) IPv6 packet without a latency option, as
    /// [`legacy_v4`](Self::legacy_v4).
    #[inline(never)]
    fn legacy_v6(&self, ip: &[u8], traffic_class: u8, next_header: u8, l3: usize, ctx: &PacketCtx, out: &mut TxMeta) -> bool {
        let classes = self.classes.load();
        self.legacy(&classes, classes.ipv6(ip, traffic_class, next_header), l3, ctx, out)
    }

    /// Legacy traffic of class `class` (of table `classes`): its deadline
    /// (or best effort) goes to `out`. False for the default class (best
    /// effort, nothing to carry).
    #[inline]
    fn legacy(&self, classes: &Classes, class: u8, l3: usize, ctx: &PacketCtx, out: &mut TxMeta) -> bool {
        if class == class::BEST_EFFORT {
            return false;
        }
        let a = classes.action(class);
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
        arrive::precise_lbf(ip, val, nh, ctx, c, out)?;
        out.set_contract_class();
        Ok(true)
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
            Cast::Unicast => {
                let ship = || flow::bytes(buf.get(h.shipping_off as usize..h.dst.off as usize + h.dst.len as usize).unwrap_or(&[]));
                Some(self.next_hop(self.fib.lookup_newip(&dst), ship)?)
            }
            Cast::Broadcast => None,
            _ => return Err(Reason::NewipUnsupportedCast),
        };
        let path = nh.unwrap_or(NextHop::new(0, [0; 6], [0; 6]));
        let k = h.contracts;
        // Fixed-size contracts were validated by parse: read their fields in place.
        if let Some(off) = k.max_delay {
            arrive::max_delay(buf, off as usize, ctx, meta)?;
        }
        if let Some(off) = k.lbf {
            arrive::lbf(buf, off as usize, ctx, meta)?;
        }
        if let Some(val) = k.precise_lbf_value() {
            arrive::precise_lbf(buf, val, &path, ctx, c, meta)?;
        }
        // A second contract of a kind already seen: its deadline counts too
        // (the earliest wins), its fields are left as they are.
        let kinds = k.max_delay.is_some() as u8 + k.lbf.is_some() as u8 + k.precise_lbf.is_some() as u8;
        if k.deadlines > kinds {
            self.extra_deadlines(buf, &h, &path, ctx, meta)?;
        }
        if let Some(off) = k.ping {
            ping::arrive(buf, off as usize)?;
        }
        if let Some(val) = k.on_time_value() {
            arrive::on_time(buf, val, ctx.now_ns, meta);
        }
        meta.qual = qualitative::Meta { washable: k.qualitative.is_some() };
        meta.set_contract_class();
        lbf::hop_done(buf, meta.lbf);
        let with_meta = meta.has_updates() || meta.qual.washable;
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
        let ship = || flow::bytes(buf.get(*buf.first().unwrap_or(&3) as usize..s.dst.off as usize + s.dst.len as usize).unwrap_or(&[]));
        let nh = self.next_hop(self.fib.lookup_newip(&s.dst.addr(buf)), ship)?;
        *out = TxMeta { rx_ns: ctx.now_ns, l3: l3 as u16, ..TxMeta::NONE };
        // `with_meta` is `out.has_updates()`, from the one field written
        // (reading all four at once, just after a two-byte store, stalls).
        let with_meta = match s.contract {
            nip::Single::None => false,
            nip::Single::MaxDelay(off) => {
                arrive::max_delay(buf, off as usize, ctx, out)?;
                out.max_delay.off != 0
            }
            nip::Single::Lbf(off) => {
                arrive::lbf(buf, off as usize, ctx, out)?;
                out.lbf.off != 0
            }
            nip::Single::PreciseLbf(off) => {
                arrive::precise_lbf(buf, off as usize + tlv::HDR_LEN, &nh, ctx, c, out)?;
                out.plbf.val != 0
            }
        };
        out.set_contract_class();
        lbf::hop_done(buf, out.lbf);
        ether::set_macs(head, &nh.macs);
        Ok(Verdict::Forward { port: nh.port, with_meta })
    }

    /// The next hop of a template header's IPv4-type destination.
    #[inline(always)]
    fn v4_template_hop<const N: usize>(&self, h: &[u8; N]) -> Result<NextHop, Reason> {
        self.next_hop(self.fib.v4.lookup(templates::v4_dst(h)), || flow::bytes(&h[6..14]))
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
                ContractRef::MaxDelay { max_allowed_delay, delay_exp, .. } => max_delay::budget(max_allowed_delay, delay_exp),
                ContractRef::Lbf { min_delay, max_delay, experienced_delay, fib_todelay, fib_tohops, .. } => {
                    lbf::budget(min_delay, max_delay, experienced_delay, fib_todelay, fib_tohops)
                }
                ContractRef::PreciseLbf { v, .. } => precise_lbf::budget(v.min_ns, v.max_ns, v.experienced_ns, path.to_delay_ns, path.to_hops),
                _ => continue,
            };
            match b {
                Ok(b) => meta.apply(ctx.now_ns, b),
                Err(_) if meta.late_ok => {}
                Err(r) => return Err(r.reason()),
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
            Ok(ContractRef::Ping { code: ping::REQUEST, .. }) => {}
            _ => return Err(Reason::NewipForRouter),
        }
        if nip::swap_addresses(buf, h).is_err() {
            return Err(Reason::MalformedNewipAddrLength);
        }
        ping::set_code(buf, off as usize, ping::REPLY);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::harness::fuzz_one;
    use crate::path::testkit::{router, run, PEER, PORT_MAC};
    use crate::wire::{build, checksum};
    use proptest::prelude::*;

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
        assert_eq!(r.process(&mut f), Verdict::Drop(Reason::Arp));
        let mut f = build::ethernet([0; 6], [0; 6], None, 0x88cc);
        f.resize(60, 0);
        assert_eq!(r.process(&mut f), Verdict::Drop(Reason::UnsupportedEthertype), "LLDP");
        // Link scope and multicast are named, before the TTL and route checks.
        let mut f = build::udp4(build::Udp4 { dst: 0xE000_0005, ttl: 1, ..Default::default() });
        assert_eq!(r.process(&mut f), Verdict::Drop(Reason::LinkLocal));
        let mut f = build::udp4(build::Udp4 { dst: 0xEF00_0001, ..Default::default() });
        assert_eq!(r.process(&mut f), Verdict::Drop(Reason::MulticastNotRouted));
        let mut f = build::udp6(build::Udp6 { dst: 0xff02u128 << 112 | 1, hop_limit: 1, ..Default::default() });
        assert_eq!(r.process(&mut f), Verdict::Drop(Reason::LinkLocal));
        assert_eq!(r.process(&mut [0u8; 10]), Verdict::Drop(Reason::MalformedEthernet));
    }

    #[test]
    fn ecmp_routes_keep_a_flow_on_one_path_and_use_all_of_them() {
        use crate::fib::{Link, NhKey};
        let r = router();
        let member = |port: u16, n: u8| (NhKey { port, neighbour: n as u128, to_hops: 1, to_delay_ns: 0 }, Link::resolved(port, [2, 0, 0, 0, 0, n]), 1);
        r.fib().add_route_multi(Prefix::V4 { addr: 0xc633_6400, len: 24 }, &[member(0, 1), member(1, 2)]).unwrap();
        let mut seen = std::collections::HashSet::new();
        for sport in 0..64u16 {
            let f = build::udp4(build::Udp4 { dst: 0xc633_6401, sport: 1000 + sport, ..Default::default() });
            let (mut a, mut b) = (f.clone(), f);
            let (va, vb) = (r.process(&mut a), r.process(&mut b));
            assert_eq!(va, vb, "one flow, one path");
            assert_eq!(a[5], if va.port() == Some(0) { 1 } else { 2 }, "the member's MAC");
            seen.insert(va.port());
        }
        assert_eq!(seen.len(), 2, "64 flows use both paths");
    }

    #[test]
    fn packets_for_newipd_itself_are_named_before_their_ttl() {
        use crate::fib::{Link, NhKey, NhState};
        let r = router();
        let local = |p: Prefix| {
            let key = NhKey { port: 0, neighbour: u128::MAX - 1, to_hops: 1, to_delay_ns: 0 };
            r.fib().add_route(p, key, Link { port: 0, mac: [0; 6], state: NhState::Local }).unwrap();
        };
        local(Prefix::V4 { addr: 0x0a01_0201, len: 32 });
        let me6 = 0x2001_0db8u128 << 96 | 1;
        local(Prefix::V6 { addr: me6, len: 128 });
        for ttl in [64, 1] {
            let orig = build::udp4(build::Udp4 { dst: 0x0a01_0201, ttl, ..Default::default() });
            let mut f = orig.clone();
            assert_eq!(r.process(&mut f), Verdict::Drop(Reason::ForRouter), "ttl {ttl} (eBGP sends 1)");
            assert_eq!(f, orig, "handed to the kernel untouched");
            let mut f = build::udp6(build::Udp6 { dst: me6, hop_limit: ttl, ..Default::default() });
            assert_eq!(r.process(&mut f), Verdict::Drop(Reason::ForRouter));
        }
        let mut f = build::udp4(build::Udp4 { dst: 0x0a01_0203, ttl: 1, ..Default::default() });
        assert_eq!(r.process(&mut f), Verdict::Drop(Reason::TtlExpired), "a neighbour of it still expires");
        let mut f = build::udp6(build::Udp6 { dst: me6 + 1, hop_limit: 1, ..Default::default() });
        assert_eq!(r.process(&mut f), Verdict::Drop(Reason::HopLimitExpired));
        for (reason, punts) in [(Reason::ForRouter, true), (Reason::Arp, true), (Reason::NextHopUnresolved, true), (Reason::TtlExpired, false), (Reason::NoRoute, false), (Reason::Blackhole, false)] {
            assert_eq!(reason.punts(), punts, "{}", reason.name());
        }
    }

    fn classed_router() -> Router {
        use crate::class::{ClassAction, Rule};
        let entries = vec![
            ("voice".to_string(), Rule { dscp: 1 << 46, ..Rule::ANY }, ClassAction { budget_ns: 500_000, late_ok: false }),
            ("bulk".to_string(), Rule { proto: Some(17), dst_ports: Some((9000, 9100)), ..Rule::ANY }, ClassAction::default()),
        ];
        router().with_classes(Classes::new(&entries))
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

    /// A class table of DSCP rules: (name, DSCP, budget in µs).
    fn dscp_classes(rules: &[(&str, u8, u64)]) -> Classes {
        use crate::class::{ClassAction, Rule};
        let entries: Vec<_> =
            rules.iter().map(|&(n, d, us)| (n.to_string(), Rule { dscp: 1 << d, ..Rule::ANY }, ClassAction { budget_ns: us * 1000, late_ok: false })).collect();
        Classes::new(&entries)
    }

    #[test]
    fn set_classes_takes_effect_for_the_next_packet() {
        let r = router();
        let v4 = |tos: u8| build::udp4(build::Udp4 { dst: 0x0a01_0203, tos, ..Default::default() });
        let v6 = |tc: u8| build::udp6(build::Udp6 { traffic_class: tc, ..Default::default() });
        let classify = |f: &mut Vec<u8>| {
            let (v, m) = run(&r, f);
            assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
            if let Verdict::Forward { with_meta: true, .. } = v {
                (m.class, m.deadline_ns)
            } else {
                (class::BEST_EFFORT, 0)
            }
        };
        // No classes: best effort, nothing carried.
        assert!(r.classes().is_empty());
        assert_eq!(classify(&mut v4(46 << 2)), (class::BEST_EFFORT, 0));
        // Swapped in: the next packet is classified by them, both families.
        r.set_classes(dscp_classes(&[("voice", 46, 500)]));
        let before = r.classes();
        assert_eq!(classify(&mut v4(46 << 2)), (2, 7_500_000));
        assert_eq!(classify(&mut v6(46 << 2)), (2, 7_500_000));
        assert_eq!(classify(&mut v4(10 << 2)), (class::BEST_EFFORT, 0));
        // Another table: other DSCP, other budget, one class more.
        r.set_classes(dscp_classes(&[("video", 10, 2000), ("voice", 46, 300)]));
        assert_eq!(classify(&mut v4(10 << 2)), (2, 9_000_000));
        assert_eq!(classify(&mut v4(46 << 2)), (3, 7_300_000));
        assert_eq!(classify(&mut v6(10 << 2)), (2, 9_000_000));
        assert_eq!(r.classes().names(), ["best-effort", "contract", "video", "voice"]);
        // A snapshot taken before keeps the table it had.
        assert_eq!(before.names(), ["best-effort", "contract", "voice"]);
        // Back to none: best effort again.
        r.set_classes(Classes::default());
        assert_eq!(classify(&mut v4(10 << 2)), (class::BEST_EFFORT, 0));
        assert_eq!(classify(&mut v6(46 << 2)), (class::BEST_EFFORT, 0));
    }

    #[test]
    fn a_packet_is_classified_by_one_table_while_they_are_swapped() {
        use std::sync::atomic::AtomicBool;
        // Table X puts DSCP 46 in class 2 (100 µs), table Y in class 3
        // (300 µs) with class 2 at 700 µs: a packet classified by one table
        // and given the other's action would show (2, 700 µs) or (3, best effort).
        let (x, y) = (dscp_classes(&[("voice", 46, 100)]), dscp_classes(&[("video", 10, 700), ("voice", 46, 300)]));
        let r = Arc::new(router().with_classes(x.clone()));
        let stop = Arc::new(AtomicBool::new(false));
        let swapper = {
            let (r, stop) = (Arc::clone(&r), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    r.set_classes(if n.is_multiple_of(2) { y.clone() } else { x.clone() });
                    n += 1;
                }
                n
            })
        };
        let frame = build::udp4(build::Udp4 { dst: 0x0a01_0203, tos: 46 << 2, ..Default::default() });
        let (mut by_x, mut by_y) = (0u64, 0u64);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while (by_x < 1000 || by_y < 1000) && std::time::Instant::now() < deadline {
            let mut f = frame.clone();
            let (v, m) = run(&r, &mut f);
            assert_eq!(v, Verdict::Forward { port: 1, with_meta: true });
            match (m.class, m.deadline_ns) {
                (2, 7_100_000) => by_x += 1,
                (3, 7_300_000) => by_y += 1,
                other => panic!("a packet classified by a mix of two tables: {other:?}"),
            }
        }
        stop.store(true, Ordering::Relaxed);
        let swaps = swapper.join().unwrap();
        assert!(by_x >= 1000 && by_y >= 1000, "both tables in use: {by_x} by X, {by_y} by Y, {swaps} swaps");
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
        .with_classes((*classed_router().classes()).clone());
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
        assert_eq!((m.class, m.eligible_ns, m.on_time.prio, m.late_ok, m.deadline_ns), (class::CONTRACT, 7_250_000, 3, true, u64::MAX));
        assert!(m.on_time.val != 0 && m.has_updates());
        assert_eq!(m.late_reason(), Reason::NewipOnTimeBroken);
        // Ds already set: best effort here, no hold, nothing to rewrite.
        let ot = OnTime { damper_ns: 250_000, prio: 3, flags: OnTime::DI | OnTime::DS };
        let (v, m) = run(&r, &mut frame(vec![ContractDesc::OnTime(ot)]));
        assert_eq!((v, m.on_time.val, m.eligible_ns, m.class), (Verdict::Forward { port: 0, with_meta: false }, 0, 0, class::BEST_EFFORT));
        // Qualitative: carried so the port may wash it.
        let q = vec![Chunk { offset: 0, length: 10, significance: 2, flags: 0 }];
        let (v, m) = run(&r, &mut frame(vec![ContractDesc::Qualitative(q)]));
        assert_eq!((v, m.qual.washable, m.has_updates()), (Verdict::Forward { port: 0, with_meta: true }, true, false));
    }

    proptest! {
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
