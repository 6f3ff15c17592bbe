//! Templates: the New IP packets NewIP-Linux hosts send most, recognised by
//! one comparison of a fixed-size header (IPv4-type source and destination,
//! unicast, at most one contract right after the addresses), so every field
//! sits at a constant offset and the contract's accessors compile without
//! bounds checks. Each does exactly what the general path does for the
//! same packet: the proptests below hold verdict, bytes, metadata and
//! counted events to it (and `fuzz_one` does the same on any input).

use super::arrive;
use super::meta::{PacketCtx, TxMeta, Verdict};
use crate::contract::{lbf, precise_lbf, tlv};
use crate::fib::NextHop;
use crate::kinds::Reason;
use crate::stats::Counters;
use crate::wire::ether;

/// Length of the New IP headers of [`is_v4_plain`]: header spec (3),
/// shipping spec (3), two IPv4-type addresses (8).
pub const V4_PLAIN_LEN: usize = 14;

/// Length of the New IP headers of [`is_v4_lbf`]: [`V4_PLAIN_LEN`] and an
/// LBF contract (12).
pub const V4_LBF_LEN: usize = V4_PLAIN_LEN + lbf::LEN;
/// Offset of that packet's LBF contract.
pub const V4_LBF_AT: usize = V4_PLAIN_LEN;

/// Length of the New IP headers of [`is_v4_plbf`]: [`V4_PLAIN_LEN`] and a
/// precise-LBF TLV (4 + 16).
pub const V4_PLBF_LEN: usize = V4_PLAIN_LEN + tlv::HDR_LEN + precise_lbf::LEN;
/// Offset of that packet's precise-LBF TLV.
pub const V4_PLBF_AT: usize = V4_PLAIN_LEN;

/// The destination of a template header (bytes 10..14).
#[inline(always)]
pub fn v4_dst<const N: usize>(h: &[u8; N]) -> u32 {
    const { assert!(N >= V4_PLAIN_LEN) };
    u32::from_be_bytes([h[10], h[11], h[12], h[13]])
}

/// The New IP headers `h` are exactly: shipping spec at 3, no contract,
/// payload at 14; source and destination address type 0 (IPv4), unicast.
/// Such a packet is one `parse_simple` takes with `Single::None`.
#[inline(always)]
pub fn is_v4_plain(h: &[u8; V4_PLAIN_LEN]) -> bool {
    h[..6] == [3, 0, V4_PLAIN_LEN as u8, 0, 0, 0]
}

/// The New IP headers `h` are exactly: shipping spec at 3, contract at 14,
/// payload at 26; source and destination address type 0 (IPv4), unicast;
/// contract type 2 (LBF). Such a packet is one `parse_simple` takes with
/// `Single::Lbf(14)`.
#[inline(always)]
pub fn is_v4_lbf(h: &[u8; V4_LBF_LEN]) -> bool {
    const T: [u8; 2] = lbf::TYPE.to_be_bytes();
    h[..6] == [3, V4_LBF_AT as u8, V4_LBF_LEN as u8, 0, 0, 0] && h[V4_LBF_AT..V4_LBF_AT + 2] == T
}

/// The New IP headers `h` are exactly: shipping spec at 3, contract at 14,
/// payload at 34; source and destination address type 0 (IPv4), unicast;
/// one TLV of type 0x8001 (precise LBF) and length 16. Such a packet is one
/// `parse_simple` takes with `Single::PreciseLbf(14)`.
#[inline(always)]
pub fn is_v4_plbf(h: &[u8; V4_PLBF_LEN]) -> bool {
    const T: [u8; 2] = precise_lbf::TYPE.to_be_bytes();
    h[..6] == [3, V4_PLBF_AT as u8, V4_PLBF_LEN as u8, 0, 0, 0] && h[V4_PLBF_AT..V4_PLBF_AT + 4] == [T[0], T[1], 0, precise_lbf::LEN as u8]
}

/// [`is_v4_plain`], routed to `nh`: the MACs, nothing to carry to transmit.
#[inline(always)]
pub fn v4_plain(head: &mut [u8], nh: &NextHop) -> Result<Verdict, Reason> {
    ether::set_macs(head, &nh.macs);
    Ok(Verdict::Forward { port: nh.port, with_meta: false })
}

/// [`is_v4_lbf`], routed to `nh`: the general path's steps for
/// `Single::Lbf(14)` with the offset a constant.
#[inline(always)]
pub fn v4_lbf(head: &mut [u8], h: &mut [u8; V4_LBF_LEN], nh: &NextHop, l3: usize, ctx: &PacketCtx, out: &mut TxMeta) -> Result<Verdict, Reason> {
    *out = TxMeta { rx_ns: ctx.now_ns, l3: l3 as u16, ..TxMeta::NONE };
    arrive::lbf(h, V4_LBF_AT, ctx, out)?;
    out.set_contract_class();
    lbf::hop_done(h, out.lbf);
    ether::set_macs(head, &nh.macs);
    Ok(Verdict::Forward { port: nh.port, with_meta: true })
}

/// [`is_v4_plbf`], routed to `nh`: the general path's steps for
/// `Single::PreciseLbf(14)` with the value at a constant offset.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn v4_plbf(head: &mut [u8], h: &[u8; V4_PLBF_LEN], nh: &NextHop, l3: usize, ctx: &PacketCtx, c: &mut Counters, out: &mut TxMeta) -> Result<Verdict, Reason> {
    *out = TxMeta { rx_ns: ctx.now_ns, l3: l3 as u16, ..TxMeta::NONE };
    arrive::precise_lbf(h, V4_PLBF_AT + tlv::HDR_LEN, nh, ctx, c, out)?;
    out.set_contract_class();
    ether::set_macs(head, &nh.macs);
    Ok(Verdict::Forward { port: nh.port, with_meta: true })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::testkit::template_agrees;
    use crate::wire::newip::build::ContractDesc;
    use crate::wire::newip::PreciseLbf;
    use proptest::prelude::*;

    proptest! {
        /// The IPv4-address LBF template: the frames it takes (it must take
        /// every one of this shape) get the general path's verdict, bytes,
        /// metadata and counted events, drops included (no hops left, early discard).
        #[test]
        fn v4_lbf_template_agrees_with_general_path(
            src in any::<[u8; 4]>(),
            dst in prop_oneof![Just([10u8, 1, 2, 3]), Just([10, 0, 0, 1]), any::<[u8; 4]>()],
            v in any::<[u16; 5]>(),
            payload in 0usize..40,
        ) {
            let lbf = ContractDesc::Lbf { min_delay: v[0] % 40, max_delay: v[1] % 80, experienced_delay: v[2] % 600, fib_todelay: v[3] % 20, fib_tohops: v[4] % 5 };
            template_agrees(src, dst, vec![lbf], payload, |ip| ip.first_chunk::<V4_LBF_LEN>().is_some_and(is_v4_lbf))?;
        }

        /// The same for the precise-LBF template, drops included (infeasible).
        #[test]
        fn v4_plbf_template_agrees_with_general_path(
            src in any::<[u8; 4]>(),
            dst in prop_oneof![Just([10u8, 1, 2, 3]), Just([10, 0, 0, 1]), any::<[u8; 4]>()],
            v in any::<[u32; 3]>(),
            late_ok in any::<bool>(),
            payload in 0usize..40,
        ) {
            let p = PreciseLbf { min_ns: v[0] % 50_000, max_ns: v[1] % 3_000_000, experienced_ns: v[2] % 2_000_000, hops: 3, flags: late_ok as u16 };
            template_agrees(src, dst, vec![ContractDesc::PreciseLbf(p)], payload, |ip| ip.first_chunk::<V4_PLBF_LEN>().is_some_and(is_v4_plbf))?;
        }

        /// The same for the template without a contract; such a packet
        /// has nothing to do at transmit.
        #[test]
        fn v4_plain_template_agrees_with_general_path(
            src in any::<[u8; 4]>(),
            dst in prop_oneof![Just([10u8, 1, 2, 3]), Just([10, 0, 0, 1]), any::<[u8; 4]>()],
            payload in 0usize..40,
        ) {
            let v = template_agrees(src, dst, vec![], payload, |ip| ip.first_chunk::<V4_PLAIN_LEN>().is_some_and(is_v4_plain))?;
            let carries = matches!(v, Verdict::Forward { with_meta: true, .. });
            prop_assert!(!carries, "nothing to do at transmit");
        }
    }
}
