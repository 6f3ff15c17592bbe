//! New IP (EtherType 0x88B6) wire format: zero-allocation parsing, in-place
//! field updates for routers, packet wash, the IPv6 Hop-by-Hop carriage of
//! the precise latency contract, and (allocating) builders for generators
//! and tests.
//!
//! The user-facing description of the format, with hex test vectors, lives in
//! `docs/wire-format.md`; the vectors themselves are in [`vectors`].
//!
//! # Layout of this module
//! * [`header`]: [`parse`] and the [`NewIp`] summary.
//! * [`addr`]: address types, address cast, borrowed address values.
//! * [`malformed`]: the [`Malformed`] reasons.
//! * [`contract`]: decoding one contract ([`ContractRef`]); each contract's
//!   own fields, setters and rules live in its module of [`crate::contract`].
//! * [`walk`]: the contracts of a parsed packet in wire order ([`contracts`]),
//!   one at an offset, the address swap of a ping reply.
//! * [`qual`]: [`wash`] of a parsed packet.
//! * [`simple`]: [`parse_simple`], the forwarding shortcut for the common
//!   shape (unicast, fixed-width addresses, at most one Max Delay, LBF or precise-LBF contract).
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
//! use newipd_core::contract::precise_lbf;
//! use newipd_core::wire::newip::{self as nip, ContractRef};
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
//!     precise_lbf::on_transmit(&mut frame, val, 1_500);
//! }
//! # let _ = ContractRef::UnknownTlv { off: 0, ty: 0x8100, len: 0 };
//! ```
//!
//! # Offsets
//! Every offset in this module counts from the first byte of the New IP
//! header (the byte after the EtherType or last VLAN tag), i.e. index 0 of the
//! `buf` passed to [`parse`]; for [`find_plbf_option`] it counts from the
//! first byte of the IPv6 header.

pub mod addr;
pub mod build;
pub mod contract;
pub mod header;
pub mod malformed;
pub mod qual;
pub mod simple;
pub mod vectors;
pub mod walk;

#[cfg(test)]
mod tests;

pub use crate::contract::ipv6_option::{find_plbf_option, HbhMalformed};
pub use crate::contract::on_time::OnTime;
pub use crate::contract::precise_lbf::PreciseLbf;
pub use crate::contract::qualitative::{Chunk, WashOutcome};
pub use crate::wire::ether::{ethernet_payload, ETHERTYPE_IPV6, ETHERTYPE_NEWIP, ETHERTYPE_QINQ, ETHERTYPE_VLAN};
pub use addr::{Addr, AddrRef, AddrType, Cast, FLEX_MAX_LEN};
pub use contract::ContractRef;
pub use walk::{contract_at, contracts, deadline_contracts, swap_addresses, ContractIter, SwapError};
pub use header::{parse, Contracts, NewIp};
pub use malformed::Malformed;
pub use qual::wash;
pub use simple::{parse_simple, Simple, Single};

// The contract types and sizes under their wire-format names (each is
// defined once, in its contract's module).
pub use crate::contract::lbf::{LEN as LBF_LEN, TYPE as CT_LBF};
pub use crate::contract::max_delay::{LEN as MAX_DELAY_LEN, TYPE as CT_MAX_DELAY};
pub use crate::contract::on_time::{LEN as ON_TIME_LEN, TYPE as CT_ON_TIME};
pub use crate::contract::ping::{LEN as PING_LEN, TYPE as CT_PING};
pub use crate::contract::precise_lbf::{LEN as PRECISE_LBF_LEN, TYPE as CT_PRECISE_LBF};
pub use crate::contract::qualitative::{CHUNK_ENTRY_LEN, HDR_LEN as QUAL_HDR_LEN, TYPE as CT_QUALITATIVE};
pub use crate::contract::tlv::{HDR_LEN as TLV_HDR_LEN, TLV_FLAG as CT_TLV_FLAG};
