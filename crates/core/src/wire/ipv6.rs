//! IPv6: header checks and the hop-limit rewrite.

use crate::bytes::be16;
use crate::kinds::Reason;

pub const HDR_LEN: usize = 40;

/// What forwarding needs from a checked IPv6 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V6 {
    pub dst: u128,
    pub hop_limit: u8,
    pub next_header: u8,
    pub traffic_class: u8,
    /// Header and payload length in bytes.
    pub len: usize,
}

/// Check the IPv6 header that starts `ip` (which runs to the end of the frame).
#[inline(always)]
pub fn check(ip: &[u8]) -> Result<V6, Reason> {
    let Some(h) = ip.get(..HDR_LEN) else {
        return Err(Reason::MalformedIpv6Header);
    };
    if h[0] >> 4 != 6 {
        return Err(Reason::MalformedIpv6Version);
    }
    let plen = be16(h, 4) as usize;
    if HDR_LEN + plen > ip.len() {
        return Err(Reason::MalformedIpv6Length);
    }
    let mut d = [0u8; 16];
    d.copy_from_slice(&h[24..40]);
    Ok(V6 {
        dst: u128::from_be_bytes(d),
        hop_limit: h[7],
        next_header: h[6],
        traffic_class: (h[0] << 4) | (h[1] >> 4),
        len: HDR_LEN + plen,
    })
}

/// Decrement the hop limit (the caller has checked the header).
#[inline(always)]
pub fn decrement_hop_limit(ip: &mut [u8]) {
    if let Some(h) = ip.get_mut(7) {
        *h = h.wrapping_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::build;
    use proptest::prelude::*;

    #[test]
    fn good_and_bad_headers() {
        let f = build::udp6(build::Udp6 { hop_limit: 9, traffic_class: 0xb8, ..Default::default() });
        let ip = &f[14..];
        let v = check(ip).unwrap();
        assert_eq!(v.hop_limit, 9);
        assert_eq!(v.next_header, 17);
        assert_eq!(v.traffic_class, 0xb8);
        assert_eq!(check(&ip[..39]), Err(Reason::MalformedIpv6Header));
        let mut b = ip.to_vec();
        b[0] = 0x45;
        assert_eq!(check(&b), Err(Reason::MalformedIpv6Version));
        assert_eq!(check(&ip[..ip.len() - 1]), Err(Reason::MalformedIpv6Length));
    }

    proptest! {
        #[test]
        fn check_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = check(&bytes);
        }
    }
}
