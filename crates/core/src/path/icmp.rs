//! When a dropped IPv4 or IPv6 packet is owed an ICMP error (RFC 1812,
//! RFC 4443), and the per-lcore rate limit on them.
//!
//! Owed: time exceeded for an expired TTL / hop limit (so traceroute shows
//! newipd), destination unreachable for no route. Never about an ICMP
//! error, a fragment other than the first, a multicast or broadcast
//! destination (those are dropped before any of this, [`super::scope`]) or
//! a source that is not a host's. The error goes back out of the port the
//! packet came in on, to the neighbour that sent it, from that port's own
//! address (`addresses` in the pipeline file; any port's when it has none
//! of that family; no error without one).

use crate::fib::Prefix;
use crate::kinds::Reason;
use crate::wire::icmp::{self, Error};
use crate::wire::{checksum, ether, ipv6};

/// Each port's own IPv4 and IPv6 address, the source of its errors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    v4: Vec<Option<u32>>,
    v6: Vec<Option<u128>>,
}

impl Sources {
    /// From each port's address list (host prefixes: /32, /128).
    pub fn new(ports: &[Vec<Prefix>]) -> Sources {
        let v4 = ports.iter().map(|a| a.iter().find_map(|p| if let Prefix::V4 { addr, len: 32 } = *p { Some(addr) } else { None })).collect();
        let v6 = ports.iter().map(|a| a.iter().find_map(|p| if let Prefix::V6 { addr, len: 128 } = *p { Some(addr) } else { None })).collect();
        Sources { v4, v6 }
    }

    fn v4(&self, port: usize) -> Option<u32> {
        self.v4.get(port).copied().flatten().or_else(|| self.v4.iter().flatten().next().copied())
    }

    fn v6(&self, port: usize) -> Option<u128> {
        self.v6.get(port).copied().flatten().or_else(|| self.v6.iter().flatten().next().copied())
    }
}

/// A token bucket: `rate` errors a second, at most `burst` at once. One per
/// lcore, written only by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limiter {
    rate: u64,
    burst: u64,
    /// Tokens, in billionths (a token per second is one billionth a ns).
    tokens: u64,
    last_ns: u64,
}

const NANO: u64 = 1_000_000_000;

impl Limiter {
    /// `rate` errors a second (0: none ever), bursts of `burst`; full at first.
    pub fn new(rate: u64, burst: u64) -> Limiter {
        let burst = burst.max(1);
        Limiter { rate, burst, tokens: burst.saturating_mul(NANO), last_ns: 0 }
    }

    /// Take a token at `now_ns`, if there is one.
    pub fn take(&mut self, now_ns: u64) -> bool {
        if self.rate == 0 {
            return false;
        }
        let gained = now_ns.saturating_sub(self.last_ns).saturating_mul(self.rate);
        self.last_ns = self.last_ns.max(now_ns);
        self.tokens = self.tokens.saturating_add(gained).min(self.burst.saturating_mul(NANO));
        if self.tokens >= NANO {
            self.tokens -= NANO;
            true
        } else {
            false
        }
    }
}

impl Reason {
    /// Might a packet dropped for this reason be owed an ICMP error? (The
    /// packet decides the rest: [`answer`].)
    #[inline(always)]
    pub fn owes_icmp(self) -> bool {
        matches!(self, Reason::TtlExpired | Reason::HopLimitExpired | Reason::NoRoute | Reason::FragmentationNeeded | Reason::PacketTooBig)
    }
}

/// What [`answer`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The frame is now the error, `len` bytes long, to send out of the
    /// ingress port.
    Sent { len: usize },
    /// Owed, but the rate limit was spent (the frame is untouched).
    RateLimited,
    /// Not owed, or no source address (the frame is untouched).
    NotOwed,
}

/// The error a packet of `ethertype` dropped for `reason` is owed.
fn error_for(reason: Reason, ethertype: u16) -> Option<Error> {
    let (ty, code) = match (reason, ethertype) {
        (Reason::TtlExpired, ether::ETHERTYPE_IPV4) => (icmp::V4_TIME_EXCEEDED, icmp::V4_TTL_EXCEEDED),
        (Reason::NoRoute, ether::ETHERTYPE_IPV4) => (icmp::V4_DEST_UNREACHABLE, icmp::V4_NET_UNREACHABLE),
        (Reason::HopLimitExpired, ether::ETHERTYPE_IPV6) => (icmp::V6_TIME_EXCEEDED, icmp::V6_HOP_LIMIT_EXCEEDED),
        (Reason::NoRoute, ether::ETHERTYPE_IPV6) => (icmp::V6_DEST_UNREACHABLE, icmp::V6_NO_ROUTE),
        (Reason::FragmentationNeeded, ether::ETHERTYPE_IPV4) => (icmp::V4_DEST_UNREACHABLE, icmp::V4_FRAG_NEEDED),
        (Reason::PacketTooBig, ether::ETHERTYPE_IPV6) => (icmp::V6_PACKET_TOO_BIG, 0),
        _ => return None,
    };
    Some(Error { ty, code, rest: 0 })
}

/// The length the frame will have once [`answer`] made the error (to grow
/// or shrink the buffer first): None when nothing is owed.
pub fn answer_len(frame: &[u8], reason: Reason) -> Option<usize> {
    let l2 = ether::parse(frame).ok()?;
    error_for(reason, l2.ethertype)?;
    let ip_len = frame.len().checked_sub(l2.l3)?;
    Some(match l2.ethertype {
        ether::ETHERTYPE_IPV4 => l2.l3 + 28 + ip_len.min(icmp::V4_MAX_ERROR - 28),
        _ => l2.l3 + 48 + ip_len.min(icmp::V6_MAX_ERROR - 48),
    })
}

/// Turn the frame in `buf[..len]`, dropped for `reason` after arriving on
/// `in_port` (whose MAC is `port_mac`), into the ICMP error it is owed,
/// within the rate limit. `buf` must be at least [`answer_len`] long.
/// `mtu`: the egress MTU a too-big packet met (fragmentation needed,
/// packet too big carry it).
#[allow(clippy::too_many_arguments)]
pub fn answer(buf: &mut [u8], len: usize, reason: Reason, in_port: usize, port_mac: [u8; 6], sources: &Sources, lim: &mut Limiter, now_ns: u64, mtu: u32) -> Answer {
    let Some(frame) = buf.get(..len) else { return Answer::NotOwed };
    let Ok(l2) = ether::parse(frame) else { return Answer::NotOwed };
    let Some(mut e) = error_for(reason, l2.ethertype) else { return Answer::NotOwed };
    if matches!(reason, Reason::FragmentationNeeded | Reason::PacketTooBig) {
        e.rest = mtu;
    }
    let ip = &frame[l2.l3..];
    let built = |buf: &mut [u8], lim: &mut Limiter| -> Answer {
        if !lim.take(now_ns) {
            return Answer::RateLimited;
        }
        let n = if l2.ethertype == ether::ETHERTYPE_IPV4 {
            match sources.v4(in_port) {
                Some(src) => icmp::v4_error(buf, l2.l3, len, e, src),
                None => None,
            }
        } else {
            match sources.v6(in_port) {
                Some(src) => icmp::v6_error(buf, l2.l3, len, e, src),
                None => None,
            }
        };
        match n {
            Some(n) => {
                // Back to the neighbour that sent it, from this port.
                let mut macs = [0u8; 12];
                macs[..6].copy_from_slice(&buf[6..12]);
                macs[6..].copy_from_slice(&port_mac);
                ether::set_macs(buf, &macs);
                Answer::Sent { len: n }
            }
            None => Answer::NotOwed,
        }
    };
    let may = match l2.ethertype {
        ether::ETHERTYPE_IPV4 => icmp::v4_may_answer(ip) && sources.v4(in_port).is_some(),
        _ => ip.len() >= ipv6::HDR_LEN && icmp::v6_may_answer(ip) && sources.v6(in_port).is_some(),
    };
    if !may {
        return Answer::NotOwed;
    }
    built(buf, lim)
}

/// An ICMP echo request (IPv4 type 8) or ICMPv6 echo request (128) to
/// one of newipd's own addresses becomes, in place, its reply: addresses
/// swapped, type 0 / 129 (the checksum adjusted for that one change; the
/// swap leaves every sum as it was), TTL / hop limit 64, back to the
/// sender's MAC from `port_mac`. False (the frame untouched) for anything
/// else: another ICMP type, a fragment, IPv6 with extension headers, a
/// frame too short for its headers.
pub fn echo_reply(frame: &mut [u8], port_mac: [u8; 6]) -> bool {
    let Ok(l2) = ether::parse(frame) else { return false };
    let (head, ip) = frame.split_at_mut(l2.l3);
    let ok = match l2.ethertype {
        ether::ETHERTYPE_IPV4 => echo_v4(ip),
        ether::ETHERTYPE_IPV6 => echo_v6(ip),
        _ => false,
    };
    if ok {
        let mut macs = [0u8; 12];
        macs[..6].copy_from_slice(&head[6..12]);
        macs[6..].copy_from_slice(&port_mac);
        ether::set_macs(head, &macs);
    }
    ok
}

/// Swap `ip[a..a + n]` and `ip[b..b + n]`.
fn swap_fields(ip: &mut [u8], a: usize, b: usize, n: usize) {
    for k in 0..n {
        ip.swap(a + k, b + k);
    }
}

/// The 16-bit checksum at `ip[at..at + 2]` after the word holding type and
/// code went from `old` to `new`.
fn adjust(ip: &mut [u8], at: usize, old: u16, new: u16) {
    let hc = u16::from_be_bytes([ip[at], ip[at + 1]]);
    ip[at..at + 2].copy_from_slice(&checksum::update16(hc, old, new).to_be_bytes());
}

fn echo_v4(ip: &mut [u8]) -> bool {
    let Some(&vihl) = ip.first() else { return false };
    let ihl = (vihl & 0x0f) as usize * 4;
    if vihl >> 4 != 4 || ihl < 20 || ip.len() < ihl + 8 || ip[9] != 1 {
        return false;
    }
    let frag = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff;
    if frag != 0 || ip[ihl] != 8 || ip[ihl + 1] != 0 {
        return false;
    }
    swap_fields(ip, 12, 16, 4);
    let ttl_proto = u16::from_be_bytes([ip[8], ip[9]]);
    ip[8] = 64;
    adjust(ip, 10, ttl_proto, u16::from_be_bytes([ip[8], ip[9]]));
    ip[ihl] = 0;
    adjust(ip, ihl + 2, 0x0800, 0x0000);
    true
}

fn echo_v6(ip: &mut [u8]) -> bool {
    const ICMPV6: u8 = 58;
    let h = ipv6::HDR_LEN;
    if ip.len() < h + 8 || ip[0] >> 4 != 6 || ip[6] != ICMPV6 || ip[h] != 128 || ip[h + 1] != 0 {
        return false;
    }
    swap_fields(ip, 8, 24, 16);
    ip[7] = 64;
    ip[h] = 129;
    adjust(ip, h + 2, 0x8000, 0x8100);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::build;
    use crate::wire::checksum;

    const PORT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

    fn sources() -> Sources {
        Sources::new(&[vec![Prefix::parse("192.0.2.1").unwrap(), Prefix::parse("2001:db8::1").unwrap()], vec![]])
    }

    #[test]
    fn limiter_refills_at_its_rate_up_to_its_burst() {
        let mut l = Limiter::new(1000, 3);
        assert!((0..3).all(|_| l.take(0)), "the burst");
        assert!(!l.take(0));
        assert!(!l.take(999_999), "just under 1 ms: no token yet");
        assert!(l.take(1_000_000));
        assert_eq!((0..10).filter(|_| l.take(1_000_000_000)).count(), 3, "a second later: only the burst");
        assert!(!Limiter::new(0, 5).take(7), "rate 0: off");
    }

    #[test]
    fn ttl_expired_becomes_time_exceeded_from_the_port_back_to_the_sender() {
        let f = build::udp4(build::Udp4 { src_mac: [2, 0, 0, 0, 0, 9], src: 0x0a00_0002, dst: 0x0b00_0001, ttl: 1, ..Default::default() });
        let want = answer_len(&f, Reason::TtlExpired).expect("owed");
        let mut buf = f.clone();
        buf.resize(want.max(f.len()), 0);
        let mut lim = Limiter::new(10, 1);
        let a = answer(&mut buf, f.len(), Reason::TtlExpired, 1, PORT_MAC, &sources(), &mut lim, 5, 0);
        assert_eq!(a, Answer::Sent { len: want });
        let out = &buf[..want];
        assert_eq!(&out[..6], &[2, 0, 0, 0, 0, 9], "to the sender's MAC");
        assert_eq!(&out[6..12], &PORT_MAC);
        assert_eq!(&out[14 + 12..14 + 16], &[192, 0, 2, 1], "port 1 has no IPv4 address: another port's");
        assert_eq!((out[14 + 20], out[14 + 21]), (11, 0));
        assert!(checksum::verifies(&out[14 + 20..]));
        // The second within the same instant is rate limited, and untouched.
        let mut again = f.clone();
        again.resize(want.max(f.len()), 0);
        let before = again.clone();
        assert_eq!(answer(&mut again, f.len(), Reason::TtlExpired, 0, PORT_MAC, &sources(), &mut lim, 5, 0), Answer::RateLimited);
        assert_eq!(again, before);
    }

    #[test]
    fn only_owed_errors_are_built() {
        let mut lim = Limiter::new(1000, 100);
        let f = build::udp4(build::Udp4 { src: 0x0a00_0002, ..Default::default() });
        for r in [Reason::TxFull, Reason::MalformedIpv4Checksum, Reason::NewipLate] {
            assert_eq!(answer_len(&f, r), None);
            let mut b = f.clone();
            assert_eq!(answer(&mut b, f.len(), r, 0, PORT_MAC, &sources(), &mut lim, 0, 0), Answer::NotOwed);
        }
        // No IPv4 address anywhere: nothing to send from.
        let none = Sources::new(&[vec![Prefix::parse("2001:db8::1").unwrap()]]);
        let mut b = f.clone();
        b.resize(200, 0);
        assert_eq!(answer(&mut b, f.len(), Reason::NoRoute, 0, PORT_MAC, &none, &mut lim, 0, 0), Answer::NotOwed);
        // IPv6 no route: destination unreachable, code 0.
        let six = build::udp6(build::Udp6 { src: 0x2001_0db8u128 << 96 | 7, ..Default::default() });
        let n = answer_len(&six, Reason::NoRoute).expect("owed");
        let mut b = six.clone();
        b.resize(n, 0);
        assert_eq!(answer(&mut b, six.len(), Reason::NoRoute, 0, PORT_MAC, &sources(), &mut lim, 0, 0), Answer::Sent { len: n });
        assert_eq!((b[14 + 40], b[14 + 41]), (1, 0));
    }

    /// Sum of the ICMPv6 pseudo header and message of an IPv6 packet.
    fn icmpv6_ok(ip: &[u8]) -> bool {
        let len = ip.len() - 40;
        let mut pseudo = ip[8..40].to_vec();
        pseudo.extend_from_slice(&(len as u32).to_be_bytes());
        pseudo.extend_from_slice(&[0, 0, 0, 58]);
        checksum::fold(checksum::sum(&ip[40..], checksum::sum(&pseudo, 0))) == 0xffff
    }

    #[test]
    fn echo_requests_to_newipd_become_replies_in_place() {
        // IPv4: 10.0.0.2 pings 192.0.2.1 (ident 0x1234, seq 7, 4 bytes of data).
        let mut ip = vec![0x45, 0, 0, 32, 0, 1, 0x40, 0, 63, 1, 0, 0, 10, 0, 0, 2, 192, 0, 2, 1];
        let icmp_msg = [8, 0, 0, 0, 0x12, 0x34, 0, 7, 1, 2, 3, 4];
        ip.extend_from_slice(&icmp_msg);
        let c = checksum::checksum(&ip[..20]);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let c = checksum::checksum(&ip[20..]);
        ip[22..24].copy_from_slice(&c.to_be_bytes());
        let mut f = build::ethernet(PORT_MAC, [2, 0, 0, 0, 0, 9], None, ether::ETHERTYPE_IPV4);
        f.extend_from_slice(&ip);
        assert!(echo_reply(&mut f, PORT_MAC));
        let r = &f[14..];
        assert_eq!((&f[..6], &f[6..12]), (&[2, 0, 0, 0, 0, 9][..], &PORT_MAC[..]));
        assert_eq!((&r[12..16], &r[16..20], r[8]), (&[192, 0, 2, 1][..], &[10, 0, 0, 2][..], 64));
        assert!(checksum::verifies(&r[..20]), "IPv4 header checksum");
        assert_eq!(r[20], 0, "echo reply");
        assert_eq!(checksum::checksum(&r[20..]), 0, "ICMP checksum");
        assert_eq!(&r[24..], &icmp_msg[4..], "ident, sequence and data as they came");
        // Not an echo request: untouched.
        let mut g = f.clone();
        assert!(!echo_reply(&mut g, PORT_MAC), "a reply is not answered");
        assert_eq!(g, f);
        // IPv6: 2001:db8::2 pings 2001:db8::1.
        let mut f6 = build::ethernet(PORT_MAC, [2, 0, 0, 0, 0, 9], None, ether::ETHERTYPE_IPV6);
        let mut ip6 = vec![0x60, 0, 0, 0, 0, 12, 58, 61];
        ip6.extend_from_slice(&(0x2001_0db8u128 << 96 | 2).to_be_bytes());
        ip6.extend_from_slice(&(0x2001_0db8u128 << 96 | 1).to_be_bytes());
        ip6.extend_from_slice(&[128, 0, 0, 0, 0xab, 0xcd, 0, 1, 9, 8, 7, 6]);
        let mut pseudo = ip6[8..40].to_vec();
        pseudo.extend_from_slice(&[0, 0, 0, 12, 0, 0, 0, 58]);
        let c = checksum::fold(checksum::sum(&ip6[40..], checksum::sum(&pseudo, 0)));
        ip6[42..44].copy_from_slice(&(!c).to_be_bytes());
        assert!(icmpv6_ok(&ip6), "the request as built");
        f6.extend_from_slice(&ip6);
        assert!(echo_reply(&mut f6, PORT_MAC));
        let r6 = &f6[14..];
        assert_eq!((r6[40], r6[7]), (129, 64));
        assert_eq!(&r6[8..24], &(0x2001_0db8u128 << 96 | 1).to_be_bytes());
        assert!(icmpv6_ok(r6), "ICMPv6 checksum over the pseudo header");
    }
}
