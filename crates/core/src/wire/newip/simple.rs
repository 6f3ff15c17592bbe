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
const PLBF_TLV_LEN: usize = crate::contract::tlv::HDR_LEN + crate::contract::precise_lbf::LEN;

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
            (crate::contract::max_delay::TYPE, crate::contract::max_delay::LEN) => Single::MaxDelay(co as u8),
            (crate::contract::lbf::TYPE, crate::contract::lbf::LEN) => Single::Lbf(co as u8),
            (crate::contract::precise_lbf::TYPE, PLBF_TLV_LEN) if u16::from_be_bytes([*buf.get(co + 2)?, *buf.get(co + 3)?]) as usize == crate::contract::precise_lbf::LEN => {
                Single::PreciseLbf(co as u8)
            }
            _ => return None,
        }
    };
    Some(Simple { dst: AddrRef { ty: FIXED_TYPE[dt], off: doff as u16, len: dlen as u8 }, contract })
}

#[cfg(test)]
mod tests {
    use crate::path::harness::fuzz_one;
    use crate::path::testkit::{PEER, PORT_MAC};
    use crate::wire::build;
    use crate::wire::newip as nip;
    use proptest::prelude::*;

    /// New IP frames of the simple shape (and near it), with any contract
    /// values: `fuzz_one` checks that the shortcut (this
    /// module's `parse_simple`, and the templates) and the general path agree.
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

    proptest! {
        #[test]
        fn shortcut_agrees_with_general_path(f in simple_newip_frame()) {
            fuzz_one(&f);
        }

    }
}
