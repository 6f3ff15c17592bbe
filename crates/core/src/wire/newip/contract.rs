//! Walking the contract spec: decoding each contract in wire order
//! ([`contracts`], [`ContractRef`]), one contract at an offset
//! ([`contract_at`]), and the address swap of a ping reply. Each contract's
//! field layout, setters and rules are its own module's in
//! [`crate::contract`]; this file only reads through them.
//!
//! Fixed contracts (types 1-3) are addressed by the offset of their
//! `contract_type` field. TLV contracts (0x8001-0x8003) are addressed by the
//! offset of their **value** (contract offset + 4), so the precise-LBF rules
//! work unchanged on the IPv6 Hop-by-Hop option value.

use super::malformed::Malformed;
use crate::bytes::{arr, rd16};
use crate::contract::on_time::{self, OnTime};
use crate::contract::precise_lbf::{self, PreciseLbf};
use crate::contract::qualitative::{self, CHUNK_ENTRY_LEN, HDR_LEN as QUAL_HDR_LEN};
use crate::contract::tlv::{HDR_LEN as TLV_HDR_LEN, TLV_FLAG};
use crate::contract::{lbf, max_delay, ping};

/// One decoded contract. `off` is the offset of its `contract_type` field
/// from the start of the New IP header. For TLVs the value starts at
/// `off + 4` ([`ContractRef::value_off`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContractRef {
    /// Type 1, Max Delay Forwarding (times in ms).
    MaxDelay {
        /// Contract offset.
        off: usize,
        /// Deadline for the whole path, ms.
        max_allowed_delay: u16,
        /// Delay experienced so far, ms.
        delay_exp: u16,
    },
    /// Type 2, Latency Based Forwarding.
    Lbf {
        /// Contract offset.
        off: usize,
        /// Earliest delivery, ms.
        min_delay: u16,
        /// Latest delivery, ms (0 = best effort).
        max_delay: u16,
        /// Experienced so far, units of 0.1 ms.
        experienced_delay: u16,
        /// Predicted delay to destination, ms.
        fib_todelay: u16,
        /// Hops to destination.
        fib_tohops: u16,
    },
    /// Type 3, Ping.
    Ping {
        /// Contract offset.
        off: usize,
        /// 0 request, 1 response.
        code: u16,
        /// Hops left (starts at 255).
        hops: u16,
        /// Sender timestamp, µs.
        timestamp: u64,
    },
    /// TLV 0x8001, precise LBF.
    PreciseLbf {
        /// Contract offset.
        off: usize,
        /// Decoded value.
        v: PreciseLbf,
    },
    /// TLV 0x8002, on-time delivery.
    OnTime {
        /// Contract offset.
        off: usize,
        /// Decoded value.
        v: OnTime,
    },
    /// TLV 0x8003, qualitative payload; chunks via [`chunks`](super::qual::chunks).
    Qualitative {
        /// Contract offset.
        off: usize,
        /// Number of chunk entries.
        count: u8,
    },
    /// A TLV of a type this implementation does not know (skipped).
    UnknownTlv {
        /// Contract offset.
        off: usize,
        /// Its type (>= 0x8000).
        ty: u16,
        /// Its value length.
        len: u16,
    },
}

impl ContractRef {
    /// Offset of the contract's type field.
    #[inline]
    pub fn off(&self) -> usize {
        match *self {
            ContractRef::MaxDelay { off, .. }
            | ContractRef::Lbf { off, .. }
            | ContractRef::Ping { off, .. }
            | ContractRef::PreciseLbf { off, .. }
            | ContractRef::OnTime { off, .. }
            | ContractRef::Qualitative { off, .. }
            | ContractRef::UnknownTlv { off, .. } => off,
        }
    }
    /// Offset of a TLV's value (`off + 4`); `None` for fixed contracts.
    #[inline]
    pub fn value_off(&self) -> Option<usize> {
        match self {
            ContractRef::MaxDelay { .. } | ContractRef::Lbf { .. } | ContractRef::Ping { .. } => {
                None
            }
            _ => Some(self.off() + TLV_HDR_LEN),
        }
    }
    /// The contract type number.
    #[inline]
    pub fn ty(&self) -> u16 {
        match *self {
            ContractRef::MaxDelay { .. } => max_delay::TYPE,
            ContractRef::Lbf { .. } => lbf::TYPE,
            ContractRef::Ping { .. } => ping::TYPE,
            ContractRef::PreciseLbf { .. } => precise_lbf::TYPE,
            ContractRef::OnTime { .. } => on_time::TYPE,
            ContractRef::Qualitative { .. } => qualitative::TYPE,
            ContractRef::UnknownTlv { ty, .. } => ty,
        }
    }
    /// Whether this contract carries a deadline (types 1, 2, 0x8001).
    #[inline]
    pub fn has_deadline(&self) -> bool {
        matches!(
            self,
            ContractRef::MaxDelay { .. } | ContractRef::Lbf { .. } | ContractRef::PreciseLbf { .. }
        )
    }
}

/// Decode the contract at `off`; the contract area ends at `end`
/// (the payload offset) and the payload is `plen` bytes long (for checking
/// qualitative chunks). Returns the contract and the offset after it.
#[inline]
pub(crate) fn decode_at(
    buf: &[u8],
    off: usize,
    end: usize,
    plen: usize,
) -> Result<(ContractRef, usize), Malformed> {
    let area = buf.get(..end).ok_or(Malformed::ContractTruncated)?;
    let ty = rd16(area, off).ok_or(Malformed::ContractTruncated)?;
    match ty {
        max_delay::TYPE => {
            let a = arr::<{ max_delay::LEN }>(area, off).ok_or(Malformed::ContractTruncated)?;
            Ok((
                ContractRef::MaxDelay { off, max_allowed_delay: max_delay::max_allowed_delay(&a), delay_exp: max_delay::delay_exp(&a) },
                off + max_delay::LEN,
            ))
        }
        lbf::TYPE => {
            let a = arr::<{ lbf::LEN }>(area, off).ok_or(Malformed::ContractTruncated)?;
            let f = lbf::Fields::read(&a);
            Ok((
                ContractRef::Lbf {
                    off,
                    min_delay: f.min_delay,
                    max_delay: f.max_delay,
                    experienced_delay: f.experienced_delay,
                    fib_todelay: f.fib_todelay,
                    fib_tohops: f.fib_tohops,
                },
                off + lbf::LEN,
            ))
        }
        ping::TYPE => {
            let a = arr::<{ ping::LEN }>(area, off).ok_or(Malformed::ContractTruncated)?;
            Ok((
                ContractRef::Ping {
                    off,
                    code: crate::bytes::be(&a, ping::CODE),
                    hops: crate::bytes::be(&a, ping::HOPS),
                    timestamp: u64::from_be_bytes(arr::<8>(&a, ping::TIMESTAMP).ok_or(Malformed::ContractTruncated)?),
                },
                off + ping::LEN,
            ))
        }
        t if t >= TLV_FLAG => {
            let len = rd16(area, off + 2).ok_or(Malformed::ContractTruncated)? as usize;
            let val = off + TLV_HDR_LEN;
            let next = val + len;
            if next > area.len() {
                return Err(Malformed::TlvLength);
            }
            let c = match t {
                precise_lbf::TYPE => {
                    if len != precise_lbf::LEN {
                        return Err(Malformed::TlvLength);
                    }
                    ContractRef::PreciseLbf { off, v: PreciseLbf::read(area, val).ok_or(Malformed::TlvLength)? }
                }
                on_time::TYPE => {
                    if len != on_time::LEN {
                        return Err(Malformed::TlvLength);
                    }
                    ContractRef::OnTime { off, v: OnTime::read(area, val).ok_or(Malformed::TlvLength)? }
                }
                qualitative::TYPE => {
                    let count = *area.get(val).ok_or(Malformed::TlvLength)?;
                    if len < QUAL_HDR_LEN || len != QUAL_HDR_LEN + CHUNK_ENTRY_LEN * count as usize {
                        return Err(Malformed::TlvLength);
                    }
                    check_chunks(area, val, count, plen)?;
                    ContractRef::Qualitative { off, count }
                }
                _ => ContractRef::UnknownTlv { off, ty: t, len: len as u16 },
            };
            Ok((c, next))
        }
        _ => Err(Malformed::ContractUnknown),
    }
}

/// Chunks sorted by offset, non-overlapping, inside the payload.
#[inline]
fn check_chunks(b: &[u8], val: usize, count: u8, plen: usize) -> Result<(), Malformed> {
    let mut prev_end = 0usize;
    let mut e = val + QUAL_HDR_LEN;
    for _ in 0..count {
        let a = arr::<4>(b, e).ok_or(Malformed::TlvLength)?;
        let o = u16::from_be_bytes([a[0], a[1]]) as usize;
        let l = u16::from_be_bytes([a[2], a[3]]) as usize;
        if o < prev_end || o + l > plen {
            return Err(Malformed::Chunks);
        }
        prev_end = o + l;
        e += CHUNK_ENTRY_LEN;
    }
    Ok(())
}
