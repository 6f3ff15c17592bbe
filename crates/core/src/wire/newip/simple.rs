//! A shortcut for the shape nearly all New IP data traffic has: unicast,
//! fixed-width addresses (IPv4, IPv6, 8-bit, 16-bit), and either no contract
//! or exactly one Max Delay, LBF or precise LBF (0x8001) contract filling
//! the contract area.
//!
//! [`parse_simple`] recognises that shape with a handful of loads and
//! compares and says nothing about anything else (`None`: use [`parse`]).
//! Whenever it answers, [`parse`] would have accepted the packet with the
//! same destination and the same single contract. The unit tests check that
//! on arbitrary bytes and on mutated valid packets, and the router's
//! `fuzz_one` (the `forward` fuzz target, a proptest, the corpus test) runs
//! every frame through both paths and requires the same verdict, bytes and
//! transmit-time work.
//!
//! [`parse`]: super::parse

use super::addr::{AddrRef, AddrType};

/// The single contract of a simple packet, by offset from the New IP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Single {
    /// No contract spec.
    None,
    /// A Max Delay contract (6 bytes) at this offset.
    MaxDelay(u8),
    /// An LBF contract (12 bytes) at this offset.
    Lbf(u8),
    /// A precise-LBF TLV (4-byte TLV header, 16-byte value) at this offset.
    PreciseLbf(u8),
}

/// What the forwarding path needs from a simple packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Simple {
    /// The destination address.
    pub dst: AddrRef,
    /// The contract.
    pub contract: Single,
}

/// A whole precise-LBF TLV: header and value.
const PLBF_TLV_LEN: usize = super::TLV_HDR_LEN + super::PRECISE_LBF_LEN;

/// Address widths of types 0-3 (IPv4, IPv6, 8-bit, 16-bit).
const FIXED_LEN: [usize; 4] = [4, 16, 1, 2];
const FIXED_TYPE: [AddrType; 4] = [AddrType::Ipv4, AddrType::Ipv6, AddrType::Bits8, AddrType::Bits16];

/// Recognise a simple packet (see the module doc); `buf` starts at the New
/// IP header. `None` means "not this shape", not "malformed".
#[inline(always)]
pub fn parse_simple(buf: &[u8]) -> Option<Simple> {
    let (so, co, po) = match buf {
        [a, b, c, ..] => (*a as usize, *b as usize, *c as usize),
        _ => return None,
    };
    if so < 3 || po > buf.len() {
        return None;
    }
    let (st, dt) = match buf.get(so..so + 3)? {
        [s, d, 0] if *s < 4 && *d < 4 => (*s as usize, *d as usize),
        _ => return None,
    };
    let doff = so + 3 + FIXED_LEN[st];
    let dlen = FIXED_LEN[dt];
    // The addresses end at the contract offset, or at the payload offset when
    // there is none; this also puts the shipping spec before both offsets.
    let limit = if co != 0 { co } else { po };
    if doff + dlen > limit {
        return None;
    }
    let contract = if co == 0 {
        Single::None
    } else {
        let ty = u16::from_be_bytes([*buf.get(co)?, *buf.get(co + 1)?]);
        match (ty, po.checked_sub(co)?) {
            (super::CT_MAX_DELAY, super::MAX_DELAY_LEN) => Single::MaxDelay(co as u8),
            (super::CT_LBF, super::LBF_LEN) => Single::Lbf(co as u8),
            (super::CT_PRECISE_LBF, PLBF_TLV_LEN) if u16::from_be_bytes([*buf.get(co + 2)?, *buf.get(co + 3)?]) as usize == super::PRECISE_LBF_LEN => {
                Single::PreciseLbf(co as u8)
            }
            _ => return None,
        }
    };
    Some(Simple { dst: AddrRef { ty: FIXED_TYPE[dt], off: doff as u16, len: dlen as u8 }, contract })
}
