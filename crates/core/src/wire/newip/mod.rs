#![warn(missing_docs)]
#![forbid(unsafe_code)]

//! New IP (EtherType 0x88B6) wire format: zero-allocation parsing, in-place
//! field updates for routers, packet wash, the IPv6 Hop-by-Hop carriage of
//! the precise latency contract, and (allocating) builders for generators
//! and tests.
//!
//! The user-facing description of the format, with hex test vectors, lives in
//! `docs/wire-format.md`; the vectors themselves are in [`vectors`].
//!
//! # Layout of this module
//! * [`header`]: [`parse`], the [`NewIp`] summary and the [`Malformed`] reasons.
//! * [`addr`]: address types, address cast, borrowed address values.
//! * [`contract`]: contract decoding ([`contracts`], [`ContractRef`]) and the
//!   in-place setters a router uses.
//! * [`qual`]: qualitative payload chunks and [`wash`].
//! * [`simple`]: [`parse_simple`], the forwarding shortcut for the common
//!   shape (unicast, fixed-width addresses, at most one Max Delay, LBF or precise-LBF contract).
//! * [`hbh`]: IPv6 Hop-by-Hop option 0x3E.
//! * [`build`]: packet builders (allocate; not for the forwarding path).
//! * [`vectors`]: named hex test vectors shared by docs and tests.
//!
//! # Hot-path guarantees
//! Everything outside [`build`] is allocation-free and cannot panic on any
//! input: every access is bounds-checked through `get`, and all arithmetic on
//! input-derived values is either bounded by construction (offsets are at
//! most 255 plus a few bytes) or checked.
//!
//! # Forwarding-path use
//! ```
//! use newipd_core::wire::newip::{self as nip, contract, ContractRef};
//! let mut frame = nip::vectors::decode_hex(nip::vectors::FLEX_PRECISE_LBF).unwrap();
//! let hdr = nip::parse(&frame).expect("valid");           // Err(m) => count m.name()
//! let dst = hdr.dst.addr(&frame);                         // FIB lookup by dst.ty
//! assert_eq!(dst.bytes, &[0x0a, 2, 0, 0, 1]);
//! if hdr.contracts.deadlines > 1 {
//!     for c in nip::deadline_contracts(&frame, &hdr) { let _ = c; /* keep the earliest */ }
//! }
//! if let Some(val) = hdr.contracts.precise_lbf_value() {
//!     let p = nip::PreciseLbf::read(&frame, val).unwrap();
//!     assert_eq!(p.max_ns, 2_000_000);
//!     // ... schedule; on transmit:
//!     contract::plbf_on_transmit(&mut frame, val, 1_500);
//! }
//! # let _ = ContractRef::UnknownTlv { off: 0, ty: 0x8100, len: 0 };
//! ```
//!
//! # Offsets
//! Every offset in this module counts from the first byte of the New IP
//! header (the byte after the EtherType or last VLAN tag), i.e. index 0 of the
//! `buf` passed to [`parse`]; for [`hbh`] it counts from the first byte of
//! the IPv6 header.

pub mod addr;
pub mod build;
pub mod contract;
pub mod hbh;
pub mod header;
pub mod qual;
pub mod simple;
pub mod vectors;

#[cfg(test)]
mod tests;

pub use addr::{Addr, AddrRef, AddrType, Cast};
pub use contract::{
    contract_at, contracts, deadline_contracts, ContractIter, ContractRef, OnTime, PreciseLbf,
};
pub use hbh::{find_plbf_option, HbhMalformed};
pub use header::{parse, Contracts, Malformed, NewIp};
pub use qual::{wash, Chunk, WashOutcome};
pub use simple::{parse_simple, Simple, Single};

/// EtherType of New IP.
pub const ETHERTYPE_NEWIP: u16 = 0x88B6;
/// EtherType of IPv6 (for the Hop-by-Hop option path).
pub const ETHERTYPE_IPV6: u16 = 0x86DD;
/// EtherType of an 802.1Q VLAN tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// EtherType of an 802.1ad (QinQ) service tag.
pub const ETHERTYPE_QINQ: u16 = 0x88A8;

/// Contract type of Max Delay Forwarding (fixed size, 6 bytes).
pub const CT_MAX_DELAY: u16 = 1;
/// Contract type of Latency Based Forwarding (fixed size, 12 bytes).
pub const CT_LBF: u16 = 2;
/// Contract type of Ping (fixed size, 14 bytes).
pub const CT_PING: u16 = 3;
/// TLV contract: precise LBF (value 16 bytes).
pub const CT_PRECISE_LBF: u16 = 0x8001;
/// TLV contract: on-time delivery damper (value 8 bytes).
pub const CT_ON_TIME: u16 = 0x8002;
/// TLV contract: qualitative payload (value 4 + 6 * count bytes).
pub const CT_QUALITATIVE: u16 = 0x8003;
/// Contract types at or above this value are TLVs (type, length, value).
pub const CT_TLV_FLAG: u16 = 0x8000;

/// Size in bytes of the Max Delay contract.
pub const MAX_DELAY_LEN: usize = 6;
/// Size in bytes of the LBF contract.
pub const LBF_LEN: usize = 12;
/// Size in bytes of the Ping contract.
pub const PING_LEN: usize = 14;
/// Size of a TLV contract's type + length fields; the value starts this many
/// bytes after the contract's offset.
pub const TLV_HDR_LEN: usize = 4;
/// Size of the precise LBF value (also the IPv6 option data length).
pub const PRECISE_LBF_LEN: usize = 16;
/// Size of the on-time value.
pub const ON_TIME_LEN: usize = 8;
/// Size of one qualitative chunk entry.
pub const CHUNK_ENTRY_LEN: usize = 6;
/// Size of the qualitative value's fixed part (count, reserved).
pub const QUAL_HDR_LEN: usize = 4;
/// Longest flexible-length address, in bytes.
pub const FLEX_MAX_LEN: usize = 32;

/// Read a big-endian u16 at `off`, or `None` when out of bounds.
#[inline(always)]
pub(crate) fn rd16(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_be_bytes(arr::<2>(b, off)?))
}

/// Read a big-endian u32 at `off`, or `None` when out of bounds.
#[inline(always)]
pub(crate) fn rd32(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_be_bytes(arr::<4>(b, off)?))
}

/// Copy `N` bytes at `off` into an array, or `None` when out of bounds.
#[inline(always)]
pub(crate) fn arr<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    b.get(off..off.checked_add(N)?)?.try_into().ok()
}

/// Write `v` at `off`; false (and nothing written) when out of bounds.
#[inline(always)]
pub(crate) fn wr_bytes(b: &mut [u8], off: usize, v: &[u8]) -> bool {
    match off.checked_add(v.len()).and_then(|end| b.get_mut(off..end)) {
        Some(dst) => {
            dst.copy_from_slice(v);
            true
        }
        None => false,
    }
}

/// Write a big-endian u16 at `off`; false when out of bounds.
#[inline(always)]
pub(crate) fn wr16(b: &mut [u8], off: usize, v: u16) -> bool {
    wr_bytes(b, off, &v.to_be_bytes())
}

/// Write a big-endian u32 at `off`; false when out of bounds.
#[inline(always)]
pub(crate) fn wr32(b: &mut [u8], off: usize, v: u32) -> bool {
    wr_bytes(b, off, &v.to_be_bytes())
}

/// Where the network-layer header starts in an Ethernet frame: skips the
/// 14-byte Ethernet header and up to two 802.1Q / 802.1ad tags.
///
/// Returns `(ethertype, offset of the byte after it)`, or `None` when the
/// frame is too short. Allocation-free and panic-free.
#[inline]
pub fn ethernet_payload(frame: &[u8]) -> Option<(u16, usize)> {
    let mut et = rd16(frame, 12)?;
    let mut off = 14usize;
    let mut tags = 0;
    while (et == ETHERTYPE_VLAN || et == ETHERTYPE_QINQ) && tags < 2 {
        et = rd16(frame, off + 2)?;
        off += 4;
        tags += 1;
    }
    Some((et, off))
}
