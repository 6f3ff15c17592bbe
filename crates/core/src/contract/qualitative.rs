//! TLV 0x8003, qualitative payload: a chunk table over the payload, each
//! chunk with a significance; a congested router may wash (remove) the
//! least significant chunks instead of dropping the packet. Only chunks the
//! sender marked washable (significance 1..15) are ever touched.
//!
//! ```text
//! value: 0       1          4                        4 + 6n
//!        | count | reserved | entries: offset(2) length(2) significance(1) flags(1) ...
//! ```
//! Functions here take `val`, the offset of the qualitative **value** (its
//! `count` byte), i.e. `Contracts::qualitative_value` or
//! `ContractRef::value_off` of the wire layer.
//! Arrival: the packet is marked washable ([`Meta`]). Queue: a port whose
//! backlog passes its wash budget washes the arriving packet by the excess
//! (`sched::wash`). No transmit rule, no reported delay.

use super::words::{Words, W_FLAGS};
use crate::bytes::{arr, rd16, wr16, wr_bytes};

/// The TLV type.
pub const TYPE: u16 = 0x8003;
/// The value's fixed part: count and reserved bytes.
pub const HDR_LEN: usize = 4;
/// One chunk entry.
pub const CHUNK_ENTRY_LEN: usize = 6;

/// One chunk entry of a qualitative payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Chunk {
    /// Start of the chunk, from the payload start.
    pub offset: u16,
    /// Length in bytes (0 once washed).
    pub length: u16,
    /// 0 = essential (never washed), 1..=15 less and less important.
    pub significance: u8,
    /// Flags; bit 0 = [`Chunk::WASHED`].
    pub flags: u8,
}

impl Chunk {
    /// Flag: the chunk's bytes were removed by a router.
    pub const WASHED: u8 = 1;

    /// Whether the `washed` flag is set.
    #[inline]
    pub fn washed(&self) -> bool {
        self.flags & Self::WASHED != 0
    }

    /// Encode as a 6-byte entry.
    pub fn to_bytes(&self) -> [u8; 6] {
        let o = self.offset.to_be_bytes();
        let l = self.length.to_be_bytes();
        [o[0], o[1], l[0], l[1], self.significance, self.flags]
    }
}

#[inline(always)]
fn entry_off(val: usize, idx: usize) -> Option<usize> {
    val.checked_add(HDR_LEN)?
        .checked_add(idx.checked_mul(CHUNK_ENTRY_LEN)?)
}

/// Number of chunk entries of the qualitative value at `val`.
#[inline]
pub fn chunk_count(buf: &[u8], val: usize) -> Option<u8> {
    buf.get(val).copied()
}

/// Chunk entry `idx` of the qualitative value at `val` (`None` if
/// `idx >= count` or out of bounds).
#[inline]
pub fn chunk(buf: &[u8], val: usize, idx: usize) -> Option<Chunk> {
    if idx >= chunk_count(buf, val)? as usize {
        return None;
    }
    let a = arr::<6>(buf, entry_off(val, idx)?)?;
    Some(Chunk {
        offset: u16::from_be_bytes([a[0], a[1]]),
        length: u16::from_be_bytes([a[2], a[3]]),
        significance: a[4],
        flags: a[5],
    })
}

/// Iterator over the chunk entries of the qualitative value at `val`.
#[inline]
pub fn chunks(buf: &[u8], val: usize) -> impl Iterator<Item = Chunk> + '_ {
    let n = chunk_count(buf, val).unwrap_or(0) as usize;
    (0..n).map_while(move |i| chunk(buf, val, i))
}

#[inline(always)]
fn entry_field(buf: &[u8], val: usize, idx: usize, field: usize) -> Option<usize> {
    if idx >= chunk_count(buf, val)? as usize {
        return None;
    }
    entry_off(val, idx)?.checked_add(field)
}

/// Write the offset of chunk `idx`; false if out of range.
#[inline]
pub fn set_chunk_offset(buf: &mut [u8], val: usize, idx: usize, v: u16) -> bool {
    entry_field(buf, val, idx, 0).is_some_and(|o| wr16(buf, o, v))
}

/// Write the length of chunk `idx`; false if out of range.
#[inline]
pub fn set_chunk_length(buf: &mut [u8], val: usize, idx: usize, v: u16) -> bool {
    entry_field(buf, val, idx, 2).is_some_and(|o| wr16(buf, o, v))
}

/// Write the flags of chunk `idx`; false if out of range.
#[inline]
pub fn set_chunk_flags(buf: &mut [u8], val: usize, idx: usize, v: u8) -> bool {
    entry_field(buf, val, idx, 5).is_some_and(|o| wr_bytes(buf, o, &[v]))
}

/// Result of [`wash`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WashOutcome {
    /// Payload bytes removed; the caller trims the frame by this many bytes
    /// (the last `removed` bytes of `buf` are stale).
    pub removed: usize,
    /// Chunks washed by this call.
    pub chunks_washed: u16,
    /// Whether `removed >= remove_at_least`.
    pub reached: bool,
}

/// Packet wash: remove the bytes of the least significant chunks until at
/// least `remove_at_least` bytes are gone.
///
/// Order: significance 15 first, down to 1 (0 is never washed); within one
/// significance, the later chunk first. Each washed chunk gets the `washed`
/// flag and length 0; every chunk's offset moves down by the bytes removed
/// before it; the payload is compacted with `copy_within` (bytes outside the
/// washed chunks keep their order). If the target cannot be reached, all
/// washable chunks are washed and `reached` is false. Chunks already of
/// length 0 are skipped; significance values above 15 count as 15. A
/// packet whose chunk table (at `val`, over the payload from `payload_off`)
/// does not match `buf` is left untouched.
///
/// No allocation: one pass to total the bytes per significance, one to find
/// the cut-off chunk, one to compact.
pub fn wash(buf: &mut [u8], val: usize, payload_off: usize, remove_at_least: usize) -> WashOutcome {
    let mut out = WashOutcome {
        removed: 0,
        chunks_washed: 0,
        reached: remove_at_least == 0,
    };
    if remove_at_least == 0 {
        return out;
    }
    let Some(count) = chunk_count(buf, val) else {
        return out;
    };
    let n = count as usize;
    let po = payload_off;
    let plen = buf.len().saturating_sub(po);

    // Pass 1: bytes per significance; re-check the table against buf.
    let mut per_sig = [0usize; 16];
    let mut prev_end = 0usize;
    for i in 0..n {
        let Some(c) = chunk(buf, val, i) else {
            return out;
        };
        let (o, l) = (c.offset as usize, c.length as usize);
        if o < prev_end || o + l > plen {
            return out;
        }
        prev_end = o + l;
        if let Some(s) = per_sig.get_mut(sig_of(&c) as usize) {
            if c.significance != 0 {
                *s += l;
            }
        }
    }

    // Find the cut-off: wash every chunk with significance > cut_sig, and
    // those with significance == cut_sig and index >= cut_idx.
    let mut total = 0usize;
    let mut cut_sig = 1u8;
    let mut cut_idx = 0usize;
    let mut sig = 15u8;
    while sig >= 1 {
        let s = per_sig.get(sig as usize).copied().unwrap_or(0);
        if total + s >= remove_at_least {
            // Partial significance: from the last chunk backwards.
            let mut i = n;
            while i > 0 {
                i -= 1;
                if let Some(c) = chunk(buf, val, i) {
                    if sig_of(&c) == sig && c.length > 0 {
                        total += c.length as usize;
                        if total >= remove_at_least {
                            break;
                        }
                    }
                }
            }
            cut_sig = sig;
            cut_idx = i;
            break;
        }
        total += s;
        sig -= 1;
    }
    let selected = |c: &Chunk, i: usize| {
        c.length > 0
            && c.significance != 0
            && (sig_of(c) > cut_sig || (sig_of(c) == cut_sig && i >= cut_idx))
    };

    // Pass 3: compact the payload and rewrite the table.
    let mut shift = 0usize; // bytes removed so far (before the current chunk)
    let mut read = 0usize; // next payload byte not yet moved
    for i in 0..n {
        let Some(c) = chunk(buf, val, i) else { break };
        let o = c.offset as usize;
        if selected(&c, i) {
            if shift > 0 && o > read {
                buf.copy_within(po + read..po + o, po + read - shift);
            }
            read = o + c.length as usize;
            let new_off = (o - shift) as u16;
            shift += c.length as usize;
            set_chunk_length(buf, val, i, 0);
            set_chunk_flags(buf, val, i, c.flags | Chunk::WASHED);
            set_chunk_offset(buf, val, i, new_off);
            out.chunks_washed += 1;
        } else if shift > 0 {
            set_chunk_offset(buf, val, i, (o - shift) as u16);
        }
    }
    if shift > 0 && plen > read {
        buf.copy_within(po + read..po + plen, po + read - shift);
    }
    out.removed = shift;
    out.reached = shift >= remove_at_least;
    out
}

/// Significance used for washing: values above 15 count as 15.
#[inline(always)]
fn sig_of(c: &Chunk) -> u8 {
    c.significance.min(15)
}

/// Read the `offset` field of chunk `idx` (convenience for tests and tools).
#[inline]
pub fn chunk_offset(buf: &[u8], val: usize, idx: usize) -> Option<u16> {
    rd16(buf, entry_off(val, idx)?)
}

/// Its part of the transmit metadata: the packet carries a qualitative
/// payload and may be washed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Meta {
    pub washable: bool,
}

impl Meta {
    /// Bit 40 of [`W_FLAGS`].
    pub const SHIFT: u32 = 40;

    #[inline(always)]
    pub fn pack(self, w: &mut Words) {
        w[W_FLAGS] |= (self.washable as u64) << Self::SHIFT;
    }

    #[inline(always)]
    pub fn unpack(w: &Words) -> Meta {
        Meta { washable: Self::in_flags(w[W_FLAGS]) }
    }

    /// Washable, read from the flags word alone.
    #[inline(always)]
    pub fn in_flags(flags_word: u64) -> bool {
        (flags_word >> Self::SHIFT) & 1 == 1
    }
}
