//! The per-packet forwarding stage, run to completion: parse Ethernet (and
//! VLAN tags), then
//! * IPv4 / IPv6: check, longest-prefix route, TTL / hop limit (IPv4 checksum
//!   patched incrementally); an IPv6 hop-by-hop latency option (0x3E) is
//!   honoured like a New IP precise-LBF contract;
//! * New IP: parse, look the destination up in the table of its type,
//!   apply every contract on arrival (drops, early discard, budgets), answer
//!   pings addressed to newipd, flood broadcasts;
//! and rewrite the MACs. What must be written when the packet leaves (time
//! spent here, hops) is described by the [`TxMeta`] returned with the
//! verdict and applied by [`on_transmit`] at send time.
//! No allocation, no panics, no DPDK.

use crate::classify::fib::Fib;
use crate::classify::{NextHop, NhIndex, Prefix};
use crate::packet::newip::{self as nip, contract, AddrType, Cast, ContractRef};
use crate::packet::{ether, ipv4, ipv6};
use crate::sched::budget::{self, Budget, Refusal};
use crate::stats::{Counters, Event, Reason};

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
    pub on_time: u16,
    /// Deliver late rather than drop.
    pub late_ok: bool,
}

impl TxMeta {
    /// A packet with no contract (legacy traffic, best effort).
    pub const NONE: TxMeta =
        TxMeta { rx_ns: 0, deadline_ns: u64::MAX, eligible_ns: 0, l3: 0, max_delay: 0, lbf: 0, plbf: 0, on_time: 0, late_ok: false };

    /// Does anything need writing at transmit time?
    #[inline(always)]
    pub fn has_updates(&self) -> bool {
        (self.max_delay | self.lbf | self.plbf) != 0
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
    verify_ipv4_checksum: bool,
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
        Router {
            fib: Fib::build(routes),
            next_hops,
            port_macs,
            locals: local.iter().filter_map(LocalAddr::from_prefix).collect(),
            verify_ipv4_checksum,
        }
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
                (nh, false)
            }
            ether::ETHERTYPE_IPV6 => {
                let v = ipv6::check(ip)?;
                if v.hop_limit <= 1 {
                    return Err(Reason::HopLimitExpired);
                }
                let nh = self.next_hop(self.fib.v6.lookup(v.dst))?;
                let with_meta = v.next_header == 0 && self.ipv6_option(ip, l2.l3, nh, ctx, c, out)?;
                ipv6::decrement_hop_limit(ip);
                (nh, with_meta)
            }
            nip::ETHERTYPE_NEWIP => return self.newip(head, ip, l2.l3, ctx, c, out),
            _ => return Err(Reason::UnsupportedEthertype),
        };
        ether::set_macs(head, &nh.macs);
        Ok(Verdict::Forward { port: nh.port, with_meta })
    }

    /// An IPv6 hop-by-hop header: honour a latency option 0x3E like a New IP
    /// precise-LBF contract. True if `out` was written.
    #[inline(never)]
    fn ipv6_option(&self, ip: &[u8], l3: usize, nh: &NextHop, ctx: &PacketCtx, c: &mut Counters, out: &mut TxMeta) -> Result<bool, Reason> {
        let Some(val) = nip::find_plbf_option(ip)? else { return Ok(false) };
        *out = TxMeta { rx_ns: ctx.now_ns, l3: l3 as u16, ..TxMeta::NONE };
        self.precise_lbf(ip, val, nh, ctx, c, out)?;
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
            let off = off as usize;
            if let (Some(max), Some(exp)) = (rd16(buf, off + 2), rd16(buf, off + 4)) {
                meta.apply(ctx.now_ns, budget::max_delay(max, exp).map_err(refusal)?);
                meta.max_delay = off as u16;
            }
        }
        if let Some(off) = k.lbf {
            let off = off as usize;
            if let Some(f) = fields::<12>(buf, off) {
                let b = budget::lbf(be(f, 2), be(f, 4), be(f, 6), be(f, 8), be(f, 10)).map_err(refusal)?;
                meta.apply(ctx.now_ns, b);
                meta.lbf = off as u16;
            }
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
            meta.on_time = val as u16;
        }
        let with_meta = meta.has_updates() || meta.on_time != 0;
        match nh {
            Some(nh) => {
                ether::set_macs(head, &nh.macs);
                Ok(Verdict::Forward { port: nh.port, with_meta })
            }
            None => Ok(Verdict::Flood { with_meta }),
        }
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

fn refusal(r: Refusal) -> Reason {
    match r {
        Refusal::MaxDelayExceeded => Reason::NewipMaxDelayExceeded,
        Refusal::NoHops => Reason::NewipLbfNoHops,
        Refusal::EarlyDiscard => Reason::NewipEarlyDiscard,
        Refusal::Infeasible => Reason::NewipInfeasible,
    }
}

/// At send time `now_ns`: write what the contracts ask (time spent here plus
/// the egress `link_delay_ns`, hops), or refuse a packet that is past its
/// deadline (unless late_ok). Leaves the frame untouched when refusing.
#[inline]
pub fn on_transmit(frame: &mut [u8], meta: &TxMeta, now_ns: u64, link_delay_ns: u32) -> Result<(), Reason> {
    if !meta.has_updates() {
        return Ok(());
    }
    if now_ns > meta.deadline_ns && !meta.late_ok {
        return Err(Reason::NewipLate);
    }
    let Some(buf) = frame.get_mut(meta.l3 as usize..) else { return Ok(()) };
    let local = now_ns.saturating_sub(meta.rx_ns);
    if meta.max_delay != 0 {
        let off = meta.max_delay as usize;
        if let (Some(max), Some(exp)) = (rd16(buf, off + 2), rd16(buf, off + 4)) {
            match budget::max_delay_on_transmit(max, exp, local) {
                Ok(v) => {
                    contract::set_delay_exp(buf, off, v);
                }
                Err(_) if meta.late_ok => {}
                Err(_) => return Err(Reason::NewipMaxDelayExceeded),
            }
        }
    }
    if meta.lbf != 0 {
        let off = meta.lbf as usize;
        if let Some(f) = buf.get_mut(off..off + 12) {
            let (e, h) = budget::lbf_on_transmit(u16::from_be_bytes([f[6], f[7]]), u16::from_be_bytes([f[10], f[11]]), local);
            f[6..8].copy_from_slice(&e.to_be_bytes());
            f[10..12].copy_from_slice(&h.to_be_bytes());
        }
    }
    if meta.plbf != 0 {
        let add = local.saturating_add(link_delay_ns as u64).min(u32::MAX as u64) as u32;
        contract::plbf_on_transmit(buf, meta.plbf as usize, add);
    }
    Ok(())
}

/// [stats] The end-to-end delay a packet's contract reports (ns), read after
/// [`on_transmit`] wrote it: precise LBF (ns), else LBF (0.1 ms), else
/// max-delay (ms). None without such a contract.
#[inline]
pub fn experienced_ns(frame: &[u8], meta: &TxMeta) -> Option<u64> {
    let buf = frame.get(meta.l3 as usize..)?;
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
/// a fixed test router (every kind of route, local addresses) and every
/// per-packet stage, as the forwarding path would. Must never panic.
pub fn fuzz_one(data: &[u8]) {
    use std::sync::OnceLock;
    static R: OnceLock<Router> = OnceLock::new();
    let r = R.get_or_init(|| {
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
        Router::build(&routes, nhs, vec![[2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 4]], &locals, true)
    });
    let mut frame = [0u8; 2048];
    let n = data.len().min(frame.len());
    frame[..n].copy_from_slice(&data[..n]);
    let mut c = Counters::default();
    let ctx = PacketCtx { now_ns: 1_000_000_000, in_port: 0 };
    let before = frame;
    let mut meta = TxMeta::NONE;
    match r.process_at(&mut frame[..n], &ctx, &mut c, &mut meta) {
        Verdict::Forward { with_meta, .. } | Verdict::Flood { with_meta } => {
            if !with_meta {
                meta = TxMeta::NONE;
            }
            for t in [0, 10_000, 10_000_000_000] {
                let mut f = frame;
                let _ = on_transmit(&mut f[..n], &meta, ctx.now_ns + t, 500);
            }
        }
        Verdict::Drop(_) => assert_eq!(&frame[..n], &before[..n], "a dropped frame was modified"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{build, checksum};
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
        assert_eq!(on_transmit(&mut f, &TxMeta::NONE, u64::MAX, 1000), Ok(()));
        assert_eq!(f, before);
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
