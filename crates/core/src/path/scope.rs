//! What a router never routes, named: link-scope and neighbour-control
//! traffic (ARP, IPv6 neighbour discovery and MLD, link-local destinations)
//! and multicast, which newipd does not route. Each gets its own drop
//! reason instead of `no-route`, `hop-limit-expired` or
//! `unsupported-ethertype`; with a host interface (the control-plane work)
//! the same classes are what is handed to the kernel.
//!
//! The per-packet cost is one comparison for IPv4 (destination at or above
//! 224.0.0.0) and two for IPv6 (destination in fe80::/10 or above, or an
//! ICMPv6 packet with hop limit 255); the rest runs only for those.

use crate::kinds::Reason;
use crate::wire::ipv6::{V6, HDR_LEN as IPV6_HDR_LEN};

/// IPv4 destinations at or above this one may be out of scope ([`v4`]).
pub const V4_FIRST_SCOPED: u32 = 0xE000_0000;

/// IPv4: why `dst` (at or above [`V4_FIRST_SCOPED`]) is not routed, if it is not.
#[cold]
pub fn v4(dst: u32) -> Option<Reason> {
    match dst {
        0xE000_0000..=0xE000_00FF | u32::MAX => Some(Reason::LinkLocal),
        0xE000_0000..=0xEFFF_FFFF => Some(Reason::MulticastNotRouted),
        _ => None,
    }
}

/// The top 10 bits of an IPv6 address at or above which it may be out of
/// scope: fe80::/10 (link-local unicast); ff00::/8 (multicast) is above.
pub const V6_FIRST_SCOPED_TOP10: u128 = 0x3fa;

/// IPv6: is this packet worth a look by [`v6`]?
#[inline(always)]
pub fn v6_maybe(v: &V6) -> bool {
    (v.dst >> 118) >= V6_FIRST_SCOPED_TOP10 || (v.hop_limit == 255 && v.next_header == ICMPV6)
}

const ICMPV6: u8 = 58;
const HOP_BY_HOP: u8 = 0;

/// ICMPv6 types of neighbour discovery (RFC 4861): RS, RA, NS, NA, redirect.
const ND_TYPES: std::ops::RangeInclusive<u8> = 133..=137;

/// ICMPv6 types of MLD (RFC 2710, RFC 3810): query, v1 report, done, v2 report.
fn is_mld(t: u8) -> bool {
    matches!(t, 130 | 131 | 132 | 143)
}

/// The ICMPv6 type of `ip`, directly after the IPv6 header or after one
/// hop-by-hop header (as MLD sends it, with a router alert).
fn icmpv6_type(ip: &[u8], next_header: u8) -> Option<u8> {
    match next_header {
        ICMPV6 => ip.get(IPV6_HDR_LEN).copied(),
        HOP_BY_HOP => {
            let nh = *ip.get(IPV6_HDR_LEN)?;
            let len = (*ip.get(IPV6_HDR_LEN + 1)? as usize + 1) * 8;
            (nh == ICMPV6).then(|| ip.get(IPV6_HDR_LEN + len).copied()).flatten()
        }
        _ => None,
    }
}

/// IPv6 (`ip` checked into `v`): why it is not routed, if it is not.
#[cold]
pub fn v6(ip: &[u8], v: &V6) -> Option<Reason> {
    let icmp = icmpv6_type(ip, v.next_header);
    if v.hop_limit == 255 && icmp.is_some_and(|t| ND_TYPES.contains(&t)) {
        return Some(Reason::Ipv6Nd);
    }
    if v.dst >> 120 == 0xff {
        if icmp.is_some_and(is_mld) {
            return Some(Reason::Ipv6Mld);
        }
        // Scope nibble: 1 interface-local, 2 link-local.
        return Some(if matches!((v.dst >> 112) & 0xf, 1 | 2) { Reason::LinkLocal } else { Reason::MulticastNotRouted });
    }
    if v.dst >> 118 == V6_FIRST_SCOPED_TOP10 {
        return Some(Reason::LinkLocal);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6_of(dst: u128, hop_limit: u8, next_header: u8) -> V6 {
        V6 { dst, hop_limit, next_header, traffic_class: 0, len: 40 }
    }

    #[test]
    fn ipv4_scopes() {
        assert_eq!(v4(0xE000_0005), Some(Reason::LinkLocal), "224.0.0.5 (OSPF)");
        assert_eq!(v4(u32::MAX), Some(Reason::LinkLocal), "limited broadcast");
        assert_eq!(v4(0xEF01_0203), Some(Reason::MulticastNotRouted), "239.1.2.3");
        assert_eq!(v4(0xE000_0100), Some(Reason::MulticastNotRouted), "224.0.1.0 is beyond the link");
        assert_eq!(v4(0xF000_0001), None, "class E goes to the route lookup as before");
        assert!(V4_FIRST_SCOPED <= 0xE000_0000);
    }

    #[test]
    fn ipv6_scopes() {
        let ip = |nh: u8, rest: &[u8]| {
            let mut b = vec![0u8; IPV6_HDR_LEN];
            b[6] = nh;
            b.extend_from_slice(rest);
            b
        };
        let all_nodes = 0xff02u128 << 112 | 1;
        let global = 0x2001_0db8u128 << 96 | 1;
        // A neighbour solicitation to a solicited-node group, and one to a unicast address (NUD).
        assert_eq!(v6(&ip(58, &[135, 0]), &v6_of(0xff02u128 << 112 | 0x1_ff00_0001, 255, 58)), Some(Reason::Ipv6Nd));
        assert_eq!(v6(&ip(58, &[135, 0]), &v6_of(global, 255, 58)), Some(Reason::Ipv6Nd));
        assert!(v6_maybe(&v6_of(global, 255, 58)));
        // A router solicitation with hop limit 255 to ff02::2.
        assert_eq!(v6(&ip(58, &[133, 0]), &v6_of(0xff02u128 << 112 | 2, 255, 58)), Some(Reason::Ipv6Nd));
        // An ND type with another hop limit is no ND (RFC 4861 drops it): a multicast to ff02 is link-local.
        assert_eq!(v6(&ip(58, &[135, 0]), &v6_of(all_nodes, 64, 58)), Some(Reason::LinkLocal));
        // MLDv2 report behind a hop-by-hop router alert, hop limit 1.
        let hbh = [58u8, 0, 5, 2, 0, 0, 1, 0, 143, 0];
        assert_eq!(v6(&ip(0, &hbh), &v6_of(0xff02u128 << 112 | 0x16, 1, 0)), Some(Reason::Ipv6Mld));
        assert_eq!(v6(&ip(17, &[]), &v6_of(all_nodes, 1, 17)), Some(Reason::LinkLocal));
        assert_eq!(v6(&ip(17, &[]), &v6_of(0xff0eu128 << 112 | 7, 9, 17)), Some(Reason::MulticastNotRouted));
        assert_eq!(v6(&ip(17, &[]), &v6_of(0xfe80u128 << 112 | 9, 9, 17)), Some(Reason::LinkLocal));
        // Ordinary traffic: not even looked at, and nothing to say if it were.
        assert!(!v6_maybe(&v6_of(global, 64, 17)));
        assert_eq!(v6(&ip(58, &[128, 0]), &v6_of(global, 255, 58)), None, "an echo request with hop limit 255 is routed");
        // Cut short: no panic, no reason from missing bytes.
        assert_eq!(v6(&ip(0, &[58]), &v6_of(global, 255, 0)), None);
    }
}
