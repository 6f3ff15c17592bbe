//! ICMP (RFC 792, RFC 1812) and ICMPv6 (RFC 4443) error messages, built in
//! place: the offending packet's network header and the start of its
//! payload move back to make room, and the new IP and ICMP headers are
//! written in front of them. No allocation; the caller gives the frame
//! buffer with its tailroom and gets the new frame length.
//!
//! What is quoted: as much of the offending packet as keeps the error
//! within 576 bytes of IPv4 (RFC 1812 4.3.2.3) or 1280 bytes of IPv6 (the
//! minimum MTU, RFC 4443 2.4 (c)).

use super::checksum;
use crate::bytes::be16;

/// ICMPv4 types and codes newipd sends.
pub const V4_DEST_UNREACHABLE: u8 = 3;
pub const V4_TIME_EXCEEDED: u8 = 11;
/// Destination unreachable codes: network unreachable, fragmentation needed and DF set.
pub const V4_NET_UNREACHABLE: u8 = 0;
pub const V4_FRAG_NEEDED: u8 = 4;
/// Time exceeded code: TTL exceeded in transit.
pub const V4_TTL_EXCEEDED: u8 = 0;

/// ICMPv6 types and codes newipd sends.
pub const V6_DEST_UNREACHABLE: u8 = 1;
pub const V6_PACKET_TOO_BIG: u8 = 2;
pub const V6_TIME_EXCEEDED: u8 = 3;
/// Destination unreachable code: no route to destination.
pub const V6_NO_ROUTE: u8 = 0;
/// Time exceeded code: hop limit exceeded in transit.
pub const V6_HOP_LIMIT_EXCEEDED: u8 = 0;

/// The IP protocol numbers of ICMP and ICMPv6.
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_ICMPV6: u8 = 58;

const V4_HDR: usize = 20;
const V6_HDR: usize = 40;
const ICMP_HDR: usize = 8;
/// Largest IPv4 error (RFC 1812) and IPv6 error (minimum MTU).
pub const V4_MAX_ERROR: usize = 576;
pub const V6_MAX_ERROR: usize = 1280;
/// TTL / hop limit of what newipd originates.
pub const ORIGIN_TTL: u8 = 64;

/// One error to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error {
    pub ty: u8,
    pub code: u8,
    /// The 32 bits after the checksum: 0, or the next-hop MTU (IPv4
    /// fragmentation needed: low 16 bits; ICMPv6 packet too big: all 32).
    pub rest: u32,
}

/// Turn the IPv4 packet at `l3` of the frame in `buf[..len]` into the
/// ICMP error `e` from `src` back to its sender. `buf` runs to the end of
/// the mbuf's room; returns the new frame length, or None when it does not
/// fit (nothing is written then). The Ethernet header is left alone.
pub fn v4_error(buf: &mut [u8], l3: usize, len: usize, e: Error, src: u32) -> Option<usize> {
    let orig = buf.get(l3..len)?;
    if orig.len() < V4_HDR {
        return None;
    }
    let orig_src = [orig[12], orig[13], orig[14], orig[15]];
    let quote = orig.len().min(V4_MAX_ERROR - V4_HDR - ICMP_HDR);
    let head = V4_HDR + ICMP_HDR;
    let end = l3 + head + quote;
    if end > buf.len() {
        return None;
    }
    buf.copy_within(l3..l3 + quote, l3 + head);
    let total = (head + quote) as u16;
    let ip = &mut buf[l3..l3 + V4_HDR];
    ip.copy_from_slice(&[0x45, 0xc0, 0, 0, 0, 0, 0, 0, ORIGIN_TTL, PROTO_ICMP, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[12..16].copy_from_slice(&src.to_be_bytes());
    ip[16..20].copy_from_slice(&orig_src);
    let c = checksum::checksum(ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let icmp = &mut buf[l3 + V4_HDR..end];
    icmp[..ICMP_HDR].copy_from_slice(&[e.ty, e.code, 0, 0, 0, 0, 0, 0]);
    icmp[4..8].copy_from_slice(&e.rest.to_be_bytes());
    let c = checksum::checksum(icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    Some(end)
}

/// The ICMPv6 checksum of `msg` (checksum field zeroed) from `src` to `dst`.
fn v6_checksum(src: &[u8; 16], dst: &[u8; 16], msg: &[u8]) -> u16 {
    let mut pseudo = [0u8; 40];
    pseudo[..16].copy_from_slice(src);
    pseudo[16..32].copy_from_slice(dst);
    pseudo[32..36].copy_from_slice(&(msg.len() as u32).to_be_bytes());
    pseudo[39] = PROTO_ICMPV6;
    !checksum::fold(checksum::sum(msg, checksum::sum(&pseudo, 0)))
}

/// [`v4_error`] for IPv6: the ICMPv6 error `e` from `src`.
pub fn v6_error(buf: &mut [u8], l3: usize, len: usize, e: Error, src: u128) -> Option<usize> {
    let orig = buf.get(l3..len)?;
    if orig.len() < V6_HDR {
        return None;
    }
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&orig[8..24]);
    let quote = orig.len().min(V6_MAX_ERROR - V6_HDR - ICMP_HDR);
    let head = V6_HDR + ICMP_HDR;
    let end = l3 + head + quote;
    if end > buf.len() {
        return None;
    }
    buf.copy_within(l3..l3 + quote, l3 + head);
    let plen = (ICMP_HDR + quote) as u16;
    let src = src.to_be_bytes();
    let ip = &mut buf[l3..l3 + V6_HDR];
    ip[..8].copy_from_slice(&[0x60, 0, 0, 0, 0, 0, PROTO_ICMPV6, ORIGIN_TTL]);
    ip[4..6].copy_from_slice(&plen.to_be_bytes());
    ip[8..24].copy_from_slice(&src);
    ip[24..40].copy_from_slice(&dst);
    let icmp = &mut buf[l3 + V6_HDR..end];
    icmp[..ICMP_HDR].copy_from_slice(&[e.ty, e.code, 0, 0, 0, 0, 0, 0]);
    icmp[4..8].copy_from_slice(&e.rest.to_be_bytes());
    let c = v6_checksum(&src, &dst, icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    Some(end)
}

/// IPv4: may an error be sent about this (checked) packet at all? Not about
/// an ICMP error (RFC 1812 4.3.2.7), a fragment other than the first, or a
/// packet whose source is not a host's (0/8, 127/8, multicast, class E,
/// broadcast).
pub fn v4_may_answer(ip: &[u8]) -> bool {
    let Some(h) = ip.get(..V4_HDR) else { return false };
    let ihl = ((h[0] & 0x0f) as usize) * 4;
    let frag_off = be16(h, 6) & 0x1fff;
    let src = u32::from_be_bytes([h[12], h[13], h[14], h[15]]);
    if frag_off != 0 || matches!(src >> 24, 0 | 127) || src >= 0xE000_0000 {
        return false;
    }
    if h[9] == PROTO_ICMP {
        // Only queries (echo 8, timestamp 13, ...) and replies may be answered.
        return match ip.get(ihl) {
            Some(t) => matches!(t, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18),
            None => false,
        };
    }
    true
}

/// IPv6: the same rules (RFC 4443 2.4 (e)): not about an ICMPv6 error
/// message (types below 128), nor from the unspecified address or a
/// multicast source.
pub fn v6_may_answer(ip: &[u8]) -> bool {
    let Some(h) = ip.get(..V6_HDR) else { return false };
    let src_first = h[8];
    let unspecified = h[8..24].iter().all(|&b| b == 0);
    if unspecified || src_first == 0xff {
        return false;
    }
    if h[6] == PROTO_ICMPV6 {
        return ip.get(V6_HDR).is_some_and(|&t| t >= 128);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::build;

    #[test]
    fn v4_time_exceeded_quotes_the_packet_and_checksums() {
        let orig = build::udp4(build::Udp4 { src: 0x0a00_0002, dst: 0x0b00_0001, ttl: 1, frame_len: 80, ..Default::default() });
        let mut buf = orig.clone();
        buf.resize(2048, 0xee);
        let e = Error { ty: V4_TIME_EXCEEDED, code: V4_TTL_EXCEEDED, rest: 0 };
        let n = v4_error(&mut buf, 14, orig.len(), e, 0x0a00_0001).expect("fits");
        let ip = &buf[14..n];
        assert_eq!(n, 14 + 28 + (orig.len() - 14));
        assert_eq!((ip[0], ip[8], ip[9]), (0x45, ORIGIN_TTL, PROTO_ICMP));
        assert_eq!(be16(ip, 2) as usize, ip.len());
        assert_eq!(&ip[12..16], &[10, 0, 0, 1], "from the router");
        assert_eq!(&ip[16..20], &[10, 0, 0, 2], "to the sender");
        assert!(checksum::verifies(&ip[..20]));
        assert_eq!((ip[20], ip[21]), (11, 0));
        assert!(checksum::verifies(&ip[20..]), "ICMP checksum over header and quote");
        assert_eq!(&ip[28..], &orig[14..], "the whole offending packet is quoted");
        // A large packet is quoted only up to 576 bytes of error.
        let big = build::udp4(build::Udp4 { src: 0x0a00_0002, frame_len: 1500, ..Default::default() });
        let mut buf = big.clone();
        buf.resize(2048, 0);
        let n = v4_error(&mut buf, 14, big.len(), e, 1).expect("fits");
        assert_eq!(n - 14, V4_MAX_ERROR);
        // No room: nothing written.
        let mut tight = orig.clone();
        assert_eq!(v4_error(&mut tight, 14, orig.len(), e, 1), None);
        assert_eq!(tight, orig);
    }

    #[test]
    fn v6_errors_carry_type_code_mtu_and_a_pseudo_header_checksum() {
        let orig = build::udp6(build::Udp6 { src: 0x2001_0db8u128 << 96 | 2, hop_limit: 1, ..Default::default() });
        let mut buf = orig.clone();
        buf.resize(2048, 0);
        let e = Error { ty: V6_PACKET_TOO_BIG, code: 0, rest: 1280 };
        let src = 0x2001_0db8u128 << 96 | 1;
        let n = v6_error(&mut buf, 14, orig.len(), e, src).expect("fits");
        let ip = &buf[14..n];
        assert_eq!((ip[0] >> 4, ip[6], ip[7]), (6, PROTO_ICMPV6, ORIGIN_TTL));
        assert_eq!(be16(ip, 4) as usize, ip.len() - 40);
        assert_eq!(&ip[8..24], &src.to_be_bytes());
        assert_eq!(&ip[24..40], &orig[14 + 8..14 + 24], "to the sender");
        assert_eq!((ip[40], ip[41]), (V6_PACKET_TOO_BIG, 0));
        assert_eq!(u32::from_be_bytes([ip[44], ip[45], ip[46], ip[47]]), 1280);
        let mut s = [0u8; 16];
        s.copy_from_slice(&ip[8..24]);
        let mut d = [0u8; 16];
        d.copy_from_slice(&ip[24..40]);
        assert_eq!(v6_checksum(&s, &d, &ip[40..]), 0, "the checksum verifies");
        assert_eq!(&ip[48..], &orig[14..]);
    }

    #[test]
    fn never_about_errors_fragments_or_odd_sources() {
        let ok = build::udp4(build::Udp4 { src: 0x0a00_0002, ..Default::default() });
        assert!(v4_may_answer(&ok[14..]));
        let mut frag = ok.clone();
        frag[14 + 7] = 8; // fragment offset 8 (x8 bytes)
        assert!(!v4_may_answer(&frag[14..]));
        let mut mcast_src = ok.clone();
        mcast_src[14 + 12] = 224;
        assert!(!v4_may_answer(&mcast_src[14..]));
        let mut icmp_err = ok.clone();
        icmp_err[14 + 9] = PROTO_ICMP;
        icmp_err[14 + 20] = V4_TIME_EXCEEDED;
        assert!(!v4_may_answer(&icmp_err[14..]), "not about an ICMP error");
        icmp_err[14 + 20] = 8;
        assert!(v4_may_answer(&icmp_err[14..]), "an echo request may be answered");
        let six = build::udp6(build::Udp6 { src: 0x2001_0db8u128 << 96 | 2, ..Default::default() });
        assert!(v6_may_answer(&six[14..]));
        let mut e6 = six.clone();
        e6[14 + 6] = PROTO_ICMPV6;
        e6[14 + 40] = V6_TIME_EXCEEDED;
        assert!(!v6_may_answer(&e6[14..]));
        let mut unspec = six.clone();
        unspec[14 + 8..14 + 24].fill(0);
        assert!(!v6_may_answer(&unspec[14..]));
    }
}
