//! Contract decoding, the contract iterator, and the in-place setters a
//! router uses.
//!
//! Fixed contracts (types 1-3) are addressed by the offset of their
//! `contract_type` field; their setters check that the type at that offset is
//! the expected one. TLV contracts (0x8001-0x8003) are addressed by the
//! offset of their **value** (contract offset + 4), so the precise-LBF setters
//! work unchanged on the IPv6 Hop-by-Hop option value (see
//! [`hbh`](super::hbh)). Every setter returns `false` and writes nothing when
//! the offset does not fit the buffer (or, for fixed contracts, does not
//! point at a contract of the right type); none of them panics.

use super::header::{Malformed, NewIp};
use super::{arr, rd16, rd32, wr16, wr32, wr_bytes};
use super::{CHUNK_ENTRY_LEN, QUAL_HDR_LEN, TLV_HDR_LEN};

/// Decoded precise-LBF value (TLV 0x8001, also the IPv6 option 0x3E data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct PreciseLbf {
    /// Earliest end-to-end delivery, ns after sending (0 = none).
    pub min_ns: u32,
    /// Latest end-to-end delivery, ns after sending (0 = best effort).
    pub max_ns: u32,
    /// Delay accumulated along the path so far, ns.
    pub experienced_ns: u32,
    /// Routers traversed so far.
    pub hops: u16,
    /// Flags; bit 0 = [`PreciseLbf::LATE_OK`].
    pub flags: u16,
}

impl PreciseLbf {
    /// Flag: deliver late (as best effort) rather than drop.
    pub const LATE_OK: u16 = 1;

    /// Decode the 16-byte value at `val`.
    #[inline]
    pub fn read(buf: &[u8], val: usize) -> Option<Self> {
        let a = arr::<16>(buf, val)?;
        Some(Self {
            min_ns: u32::from_be_bytes([a[0], a[1], a[2], a[3]]),
            max_ns: u32::from_be_bytes([a[4], a[5], a[6], a[7]]),
            experienced_ns: u32::from_be_bytes([a[8], a[9], a[10], a[11]]),
            hops: u16::from_be_bytes([a[12], a[13]]),
            flags: u16::from_be_bytes([a[14], a[15]]),
        })
    }

    /// Encode as the 16-byte value.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut o = [0u8; 16];
        o[0..4].copy_from_slice(&self.min_ns.to_be_bytes());
        o[4..8].copy_from_slice(&self.max_ns.to_be_bytes());
        o[8..12].copy_from_slice(&self.experienced_ns.to_be_bytes());
        o[12..14].copy_from_slice(&self.hops.to_be_bytes());
        o[14..16].copy_from_slice(&self.flags.to_be_bytes());
        o
    }

    /// Whether `late_ok` is set.
    #[inline]
    pub fn late_ok(&self) -> bool {
        self.flags & Self::LATE_OK != 0
    }
}

/// Decoded on-time (damper) value (TLV 0x8002).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct OnTime {
    /// How long the next router holds the packet before scheduling it, ns.
    pub damper_ns: u32,
    /// Priority 0-7.
    pub prio: u8,
    /// Flags: bit 0 [`OnTime::DI`], bit 1 [`OnTime::DS`].
    pub flags: u8,
}

impl OnTime {
    /// Flag: downgrade intent (send late packets as best effort instead of
    /// dropping them).
    pub const DI: u8 = 1;
    /// Flag: downgrade status (the bound was broken somewhere).
    pub const DS: u8 = 2;

    /// Decode the 8-byte value at `val` (the reserved bytes are ignored).
    #[inline]
    pub fn read(buf: &[u8], val: usize) -> Option<Self> {
        let a = arr::<8>(buf, val)?;
        Some(Self {
            damper_ns: u32::from_be_bytes([a[0], a[1], a[2], a[3]]),
            prio: a[4],
            flags: a[5],
        })
    }

    /// Encode as the 8-byte value (reserved bytes zero).
    pub fn to_bytes(&self) -> [u8; 8] {
        let d = self.damper_ns.to_be_bytes();
        [d[0], d[1], d[2], d[3], self.prio, self.flags, 0, 0]
    }
}

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
            ContractRef::MaxDelay { .. } => super::CT_MAX_DELAY,
            ContractRef::Lbf { .. } => super::CT_LBF,
            ContractRef::Ping { .. } => super::CT_PING,
            ContractRef::PreciseLbf { .. } => super::CT_PRECISE_LBF,
            ContractRef::OnTime { .. } => super::CT_ON_TIME,
            ContractRef::Qualitative { .. } => super::CT_QUALITATIVE,
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
        super::CT_MAX_DELAY => {
            let a = arr::<6>(area, off).ok_or(Malformed::ContractTruncated)?;
            Ok((
                ContractRef::MaxDelay {
                    off,
                    max_allowed_delay: u16::from_be_bytes([a[2], a[3]]),
                    delay_exp: u16::from_be_bytes([a[4], a[5]]),
                },
                off + 6,
            ))
        }
        super::CT_LBF => {
            let a = arr::<12>(area, off).ok_or(Malformed::ContractTruncated)?;
            Ok((
                ContractRef::Lbf {
                    off,
                    min_delay: u16::from_be_bytes([a[2], a[3]]),
                    max_delay: u16::from_be_bytes([a[4], a[5]]),
                    experienced_delay: u16::from_be_bytes([a[6], a[7]]),
                    fib_todelay: u16::from_be_bytes([a[8], a[9]]),
                    fib_tohops: u16::from_be_bytes([a[10], a[11]]),
                },
                off + 12,
            ))
        }
        super::CT_PING => {
            let a = arr::<14>(area, off).ok_or(Malformed::ContractTruncated)?;
            Ok((
                ContractRef::Ping {
                    off,
                    code: u16::from_be_bytes([a[2], a[3]]),
                    hops: u16::from_be_bytes([a[4], a[5]]),
                    timestamp: u64::from_be_bytes([
                        a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13],
                    ]),
                },
                off + 14,
            ))
        }
        t if t >= super::CT_TLV_FLAG => {
            let len = rd16(area, off + 2).ok_or(Malformed::ContractTruncated)? as usize;
            let val = off + TLV_HDR_LEN;
            let next = val + len;
            if next > area.len() {
                return Err(Malformed::TlvLength);
            }
            let c = match t {
                super::CT_PRECISE_LBF => {
                    if len != super::PRECISE_LBF_LEN {
                        return Err(Malformed::TlvLength);
                    }
                    ContractRef::PreciseLbf {
                        off,
                        v: PreciseLbf::read(area, val).ok_or(Malformed::TlvLength)?,
                    }
                }
                super::CT_ON_TIME => {
                    if len != super::ON_TIME_LEN {
                        return Err(Malformed::TlvLength);
                    }
                    ContractRef::OnTime {
                        off,
                        v: OnTime::read(area, val).ok_or(Malformed::TlvLength)?,
                    }
                }
                super::CT_QUALITATIVE => {
                    let count = *area.get(val).ok_or(Malformed::TlvLength)?;
                    if len < QUAL_HDR_LEN || len != QUAL_HDR_LEN + CHUNK_ENTRY_LEN * count as usize
                    {
                        return Err(Malformed::TlvLength);
                    }
                    check_chunks(area, val, count, plen)?;
                    ContractRef::Qualitative { off, count }
                }
                _ => ContractRef::UnknownTlv {
                    off,
                    ty: t,
                    len: len as u16,
                },
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

/// Iterator over all contracts of a parsed packet, in wire order. Yields
/// `Err` once (and then stops) if the contract area is malformed, which
/// cannot happen on the buffer [`parse`](super::parse) accepted.
#[derive(Debug, Clone)]
pub struct ContractIter<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
    plen: usize,
}

impl<'a> Iterator for ContractIter<'a> {
    type Item = Result<ContractRef, Malformed>;
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.end {
            return None;
        }
        match decode_at(self.buf, self.pos, self.end, self.plen) {
            Ok((c, next)) => {
                self.pos = next;
                Some(Ok(c))
            }
            Err(e) => {
                self.pos = self.end;
                Some(Err(e))
            }
        }
    }
}

/// All contracts of `nip` (parsed from `buf`), in wire order.
#[inline]
pub fn contracts<'a>(buf: &'a [u8], nip: &NewIp) -> ContractIter<'a> {
    let (pos, end) = if nip.contract_off == 0 {
        (0, 0)
    } else {
        (nip.contract_off as usize, nip.payload_off as usize)
    };
    ContractIter {
        buf,
        pos,
        end,
        plen: buf.len().saturating_sub(nip.payload_off as usize),
    }
}

/// The deadline-bearing contracts (types 1, 2 and 0x8001) in wire order. A
/// router evaluates each and keeps the earliest deadline.
#[inline]
pub fn deadline_contracts<'a>(
    buf: &'a [u8],
    nip: &NewIp,
) -> impl Iterator<Item = Result<ContractRef, Malformed>> + 'a {
    contracts(buf, nip).filter(|r| match r {
        Ok(c) => c.has_deadline(),
        Err(_) => true,
    })
}

/// Decode the single contract at `off` (an offset from [`NewIp::contracts`]
/// or [`ContractRef::off`]).
#[inline]
pub fn contract_at(buf: &[u8], nip: &NewIp, off: usize) -> Result<ContractRef, Malformed> {
    if nip.contract_off == 0 || off < nip.contract_off as usize {
        return Err(Malformed::ContractTruncated);
    }
    let po = nip.payload_off as usize;
    decode_at(buf, off, po, buf.len().saturating_sub(po)).map(|(c, _)| c)
}

#[inline(always)]
fn is_type(buf: &[u8], off: usize, ty: u16, size: usize) -> bool {
    rd16(buf, off) == Some(ty) && off.checked_add(size).is_some_and(|e| e <= buf.len())
}

// ---- type 1: Max Delay Forwarding ------------------------------------------

/// Type 1: write `delay_exp` (ms) of the Max Delay contract at `off`.
#[inline]
pub fn set_delay_exp(buf: &mut [u8], off: usize, v: u16) -> bool {
    is_type(buf, off, super::CT_MAX_DELAY, super::MAX_DELAY_LEN) && wr16(buf, off + 4, v)
}

// ---- type 2: LBF -----------------------------------------------------------

/// Type 2: write `experienced_delay` (0.1 ms units) of the LBF contract at `off`.
#[inline]
pub fn set_lbf_experienced_delay(buf: &mut [u8], off: usize, v: u16) -> bool {
    is_type(buf, off, super::CT_LBF, super::LBF_LEN) && wr16(buf, off + 6, v)
}

/// Type 2: write `fib_todelay` (ms) of the LBF contract at `off`.
#[inline]
pub fn set_lbf_fib_todelay(buf: &mut [u8], off: usize, v: u16) -> bool {
    is_type(buf, off, super::CT_LBF, super::LBF_LEN) && wr16(buf, off + 8, v)
}

/// Type 2: write `fib_tohops` of the LBF contract at `off`.
#[inline]
pub fn set_lbf_fib_tohops(buf: &mut [u8], off: usize, v: u16) -> bool {
    is_type(buf, off, super::CT_LBF, super::LBF_LEN) && wr16(buf, off + 10, v)
}

// ---- type 3: Ping ----------------------------------------------------------

/// Type 3: write `code` (0 request, 1 response) of the Ping contract at `off`.
#[inline]
pub fn set_ping_code(buf: &mut [u8], off: usize, v: u16) -> bool {
    is_type(buf, off, super::CT_PING, super::PING_LEN) && wr16(buf, off + 2, v)
}

/// Type 3: write `hops` of the Ping contract at `off`.
#[inline]
pub fn set_ping_hops(buf: &mut [u8], off: usize, v: u16) -> bool {
    is_type(buf, off, super::CT_PING, super::PING_LEN) && wr16(buf, off + 4, v)
}

/// Type 3: write `timestamp` (µs) of the Ping contract at `off`.
#[inline]
pub fn set_ping_timestamp(buf: &mut [u8], off: usize, v: u64) -> bool {
    is_type(buf, off, super::CT_PING, super::PING_LEN) && wr_bytes(buf, off + 6, &v.to_be_bytes())
}

/// Why [`swap_addresses`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwapError {
    /// `nip` does not describe `buf` (addresses not where it says, or the
    /// swapped shipping spec would not fit the shipping area).
    DoesNotFit,
}

/// Swap source and destination (types and address bytes) in place, for a
/// ping reply. When both addresses have the same wire size the bytes are
/// exchanged directly; otherwise the address part of the shipping spec is
/// rebuilt in the same bytes (it always has the same total size, so it fits
/// whenever `nip` really describes `buf`). Returns the updated [`NewIp`];
/// nothing is written on error. No allocation.
pub fn swap_addresses(buf: &mut [u8], nip: &NewIp) -> Result<NewIp, SwapError> {
    let so = nip.shipping_off as usize;
    let s_off = nip.src.wire_off();
    let s_len = nip.src.wire_len();
    let d_off = nip.dst.wire_off();
    let d_len = nip.dst.wire_len();
    if s_off != so + 3 || d_off != s_off + s_len || d_off + d_len > nip.shipping_end() {
        return Err(SwapError::DoesNotFit);
    }
    let region = buf
        .get_mut(s_off..d_off + d_len)
        .ok_or(SwapError::DoesNotFit)?;
    // [src | dst] -> [dst | src]; same-size addresses make this a plain swap.
    region.rotate_left(s_len);
    let types = buf.get_mut(so..so + 2).ok_or(SwapError::DoesNotFit)?;
    types.swap(0, 1);
    let mut out = *nip;
    let new_src_wire = s_off;
    let new_dst_wire = s_off + d_len;
    let flex_skip = |t: super::AddrType| if t == super::AddrType::Flex { 1 } else { 0 };
    out.src = super::AddrRef {
        ty: nip.dst.ty,
        off: (new_src_wire + flex_skip(nip.dst.ty)) as u16,
        len: nip.dst.len,
    };
    out.dst = super::AddrRef {
        ty: nip.src.ty,
        off: (new_dst_wire + flex_skip(nip.src.ty)) as u16,
        len: nip.src.len,
    };
    Ok(out)
}

// ---- 0x8001 precise LBF (also the IPv6 option value) -----------------------

/// 0x8001 / IPv6 option 0x3E: write `experienced_ns` of the value at `val`.
#[inline]
pub fn set_plbf_experienced_ns(buf: &mut [u8], val: usize, v: u32) -> bool {
    wr32(buf, val.saturating_add(8), v)
}

/// 0x8001 / IPv6 option 0x3E: write `hops` of the value at `val`.
#[inline]
pub fn set_plbf_hops(buf: &mut [u8], val: usize, v: u16) -> bool {
    wr16(buf, val.saturating_add(12), v)
}

/// 0x8001 / IPv6 option 0x3E: write `flags` of the value at `val`.
#[inline]
pub fn set_plbf_flags(buf: &mut [u8], val: usize, v: u16) -> bool {
    wr16(buf, val.saturating_add(14), v)
}

/// 0x8001 / IPv6 option 0x3E: on transmit, add `delta_ns` to
/// `experienced_ns` (saturating) and 1 to `hops` (wrapping). Returns the
/// new value, or `None` (nothing written) if `val` is out of bounds.
#[inline]
pub fn plbf_on_transmit(buf: &mut [u8], val: usize, delta_ns: u32) -> Option<PreciseLbf> {
    let mut v = PreciseLbf::read(buf, val)?;
    v.experienced_ns = v.experienced_ns.saturating_add(delta_ns);
    v.hops = v.hops.wrapping_add(1);
    wr32(buf, val + 8, v.experienced_ns);
    wr16(buf, val + 12, v.hops);
    Some(v)
}

// ---- 0x8002 on-time --------------------------------------------------------

/// 0x8002: write `damper_ns` of the value at `val`.
#[inline]
pub fn set_on_time_damper_ns(buf: &mut [u8], val: usize, v: u32) -> bool {
    wr32(buf, val, v)
}

/// 0x8002: write `flags` (bit 0 Di, bit 1 Ds) of the value at `val`.
#[inline]
pub fn set_on_time_flags(buf: &mut [u8], val: usize, v: u8) -> bool {
    wr_bytes(buf, val.saturating_add(5), &[v])
}

/// Read a u32 helper re-exported for callers that only need `damper_ns`.
#[inline]
pub fn on_time_damper_ns(buf: &[u8], val: usize) -> Option<u32> {
    rd32(buf, val)
}
