//! The precise latency contract inside plain IPv6: Hop-by-Hop option 0x3E
//! (data length 16, data = the 0x8001 value).
//!
//! [`find_plbf_option`] returns the offset of the 16-byte value from the start
//! of the IPv6 header, so the field accessors, arrival and transmit rules,
//! reported delay and metadata of [`precise_lbf`](super::precise_lbf) apply
//! to it unchanged: this module only finds it (and names what is malformed
//! about the header that carries it).

use super::precise_lbf;
use crate::bytes::rd16;
use crate::kinds::Reason;

/// IPv6 Hop-by-Hop option type carrying the precise-LBF value
/// (RFC 4727 experimental: action 00 skip, change bit set).
pub const OPT_PLBF: u8 = 0x3E;
/// Pad1 option type.
pub const OPT_PAD1: u8 = 0;
/// PadN option type.
pub const OPT_PADN: u8 = 1;
/// IPv6 next-header value of the Hop-by-Hop options header.
pub const NH_HOP_BY_HOP: u8 = 0;
/// Length of the fixed IPv6 header.
pub use crate::wire::ipv6::HDR_LEN as IPV6_HDR_LEN;

/// Ways an IPv6 Hop-by-Hop header carrying (or scanned for) option 0x3E can
/// be inconsistent. Counter names start with `malformed-hbh-`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum HbhMalformed {
    /// Shorter than the IPv6 header, not IP version 6, or the Hop-by-Hop
    /// header runs past the packet.
    Truncated = 0,
    /// An option's length runs past the end of the Hop-by-Hop header.
    OptionLength = 1,
    /// Option 0x3E with a data length other than 16.
    PlbfLength = 2,
}

impl HbhMalformed {
    /// All reasons, in discriminant order.
    pub const ALL: [HbhMalformed; 3] = [
        HbhMalformed::Truncated,
        HbhMalformed::OptionLength,
        HbhMalformed::PlbfLength,
    ];

    /// Kebab-case counter name, `malformed-hbh-...`.
    pub const fn name(self) -> &'static str {
        match self {
            HbhMalformed::Truncated => "malformed-hbh-truncated",
            HbhMalformed::OptionLength => "malformed-hbh-option-length",
            HbhMalformed::PlbfLength => "malformed-hbh-plbf-length",
        }
    }
}

impl core::fmt::Display for HbhMalformed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Find option 0x3E in the Hop-by-Hop header of an IPv6 packet.
///
/// `ip6` starts at the IPv6 header (the byte after the EtherType). Returns
/// `Ok(None)` when the packet has no Hop-by-Hop header (next header != 0) or
/// the header has no option 0x3E; `Ok(Some(val))` with the offset of the
/// 16-byte value otherwise (the first one, if several). The whole
/// Hop-by-Hop header is walked (Pad1, PadN and unknown options skipped), so a
/// malformed option anywhere in it is reported. The header must lie within
/// both the buffer and the IPv6 payload length (when that is non-zero).
/// No allocation, no panic.
#[inline]
pub fn find_plbf_option(ip6: &[u8]) -> Result<Option<usize>, HbhMalformed> {
    let (vtc, nh) = match ip6 {
        [v, _, _, _, _, _, nh, ..] if ip6.len() >= IPV6_HDR_LEN => (*v, *nh),
        _ => return Err(HbhMalformed::Truncated),
    };
    if vtc >> 4 != 6 {
        return Err(HbhMalformed::Truncated);
    }
    if nh != NH_HOP_BY_HOP {
        return Ok(None);
    }
    let plen = rd16(ip6, 4).unwrap_or(0) as usize;
    let limit = if plen == 0 {
        ip6.len()
    } else {
        ip6.len().min(IPV6_HDR_LEN + plen)
    };
    let ext_len = *ip6.get(IPV6_HDR_LEN + 1).ok_or(HbhMalformed::Truncated)? as usize;
    let end = IPV6_HDR_LEN + (ext_len + 1) * 8;
    if end > limit {
        return Err(HbhMalformed::Truncated);
    }
    let mut pos = IPV6_HDR_LEN + 2;
    let mut found = None;
    while pos < end {
        let ty = *ip6.get(pos).ok_or(HbhMalformed::Truncated)?;
        if ty == OPT_PAD1 {
            pos += 1;
            continue;
        }
        if pos + 2 > end {
            return Err(HbhMalformed::OptionLength);
        }
        let len = *ip6.get(pos + 1).ok_or(HbhMalformed::Truncated)? as usize;
        let next = pos + 2 + len;
        if next > end {
            return Err(HbhMalformed::OptionLength);
        }
        if ty == OPT_PLBF {
            if len != precise_lbf::LEN {
                return Err(HbhMalformed::PlbfLength);
            }
            if found.is_none() {
                found = Some(pos + 2);
            }
        }
        pos = next;
    }
    Ok(found)
}

impl From<HbhMalformed> for Reason {
    fn from(m: HbhMalformed) -> Reason {
        use HbhMalformed as H;
        match m {
            H::Truncated => Reason::MalformedHbhTruncated,
            H::OptionLength => Reason::MalformedHbhOptionLength,
            H::PlbfLength => Reason::MalformedHbhPlbfLength,
        }
    }
}

