//! IPv4: header checks and the router's in-place rewrite.

use super::checksum;
use crate::bytes::be16;
use crate::kinds::Reason;

pub const MIN_HDR: usize = 20;

/// What forwarding needs from a checked IPv4 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V4 {
    pub dst: u32,
    pub src: u32,
    pub ttl: u8,
    pub proto: u8,
    pub tos: u8,
    /// Header length in bytes.
    pub ihl: usize,
    /// Total length (header and payload) in bytes.
    pub len: usize,
}

/// Check the IPv4 header that starts `ip` (which runs to the end of the frame).
#[inline(always)]
pub fn check(ip: &[u8], verify_checksum: bool) -> Result<V4, Reason> {
    if ip.len() < MIN_HDR {
        return Err(Reason::MalformedIpv4Header);
    }
    let vihl = ip[0];
    if vihl >> 4 != 4 {
        return Err(Reason::MalformedIpv4Version);
    }
    let ihl = ((vihl & 0x0f) as usize) * 4;
    if ihl < MIN_HDR || ihl > ip.len() {
        return Err(Reason::MalformedIpv4Ihl);
    }
    let total = be16(ip, 2) as usize;
    if total < ihl || total > ip.len() {
        return Err(Reason::MalformedIpv4Length);
    }
    if verify_checksum && !checksum::verifies_words(&ip[..ihl]) {
        return Err(Reason::MalformedIpv4Checksum);
    }
    Ok(V4 {
        dst: u32::from_be_bytes([ip[16], ip[17], ip[18], ip[19]]),
        src: u32::from_be_bytes([ip[12], ip[13], ip[14], ip[15]]),
        ttl: ip[8],
        proto: ip[9],
        tos: ip[1],
        ihl,
        len: total,
    })
}

/// Decrement the TTL and patch the header checksum incrementally.
/// The caller has checked the header (at least 20 bytes).
#[inline(always)]
pub fn decrement_ttl(ip: &mut [u8]) {
    if ip.len() < MIN_HDR {
        return;
    }
    let old = be16(ip, 8);
    let new = old.wrapping_sub(0x0100);
    ip[8] = (new >> 8) as u8;
    let hc = be16(ip, 10);
    let c = checksum::update16(hc, old, new);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
}

/// Recompute the header checksum from scratch.
pub fn set_checksum(ip: &mut [u8]) {
    let ihl = ((ip[0] & 0x0f) as usize) * 4;
    ip[10] = 0;
    ip[11] = 0;
    let c = checksum::checksum(&ip[..ihl]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::build;
    use proptest::prelude::*;

    fn hdr(ttl: u8) -> Vec<u8> {
        let f = build::udp4(build::Udp4 { ttl, ..Default::default() });
        f[14..].to_vec()
    }

    #[test]
    fn good_header_parses() {
        let ip = hdr(64);
        let v = check(&ip, true).unwrap();
        assert_eq!(v.ttl, 64);
        assert_eq!(v.proto, 17);
        assert_eq!(v.ihl, 20);
    }

    #[test]
    fn each_lie_has_its_reason() {
        let ip = hdr(64);
        assert_eq!(check(&ip[..19], true), Err(Reason::MalformedIpv4Header));
        let mut v = ip.clone();
        v[0] = 0x65;
        assert_eq!(check(&v, false), Err(Reason::MalformedIpv4Version));
        let mut v = ip.clone();
        v[0] = 0x44;
        assert_eq!(check(&v, false), Err(Reason::MalformedIpv4Ihl));
        let mut v = ip.clone();
        v[0] = 0x4f; // 60-byte header in a shorter packet
        assert_eq!(check(&v[..40], false), Err(Reason::MalformedIpv4Ihl));
        let mut v = ip.clone();
        v[2..4].copy_from_slice(&((ip.len() + 1) as u16).to_be_bytes());
        assert_eq!(check(&v, false), Err(Reason::MalformedIpv4Length));
        let mut v = ip.clone();
        v[2..4].copy_from_slice(&19u16.to_be_bytes());
        assert_eq!(check(&v, false), Err(Reason::MalformedIpv4Length));
        let mut v = ip.clone();
        v[12] ^= 1;
        assert_eq!(check(&v, true), Err(Reason::MalformedIpv4Checksum));
        assert!(check(&v, false).is_ok());
    }

    proptest! {
        #[test]
        fn ttl_decrement_keeps_checksum_valid(ttl in 2u8..=255, tos in any::<u8>(), src in any::<u32>(), dst in any::<u32>(), id in any::<u16>()) {
            let f = build::udp4(build::Udp4 { ttl, tos, src, dst, ident: id, ..Default::default() });
            let mut ip = f[14..].to_vec();
            decrement_ttl(&mut ip);
            prop_assert_eq!(ip[8], ttl - 1);
            prop_assert!(checksum::verifies(&ip[..20]));
            let mut full = ip.clone();
            set_checksum(&mut full);
            prop_assert!(checksum::verifies(&full[..20]));
        }

        #[test]
        fn check_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80), verify in any::<bool>()) {
            let _ = check(&bytes, verify);
        }
    }
}
