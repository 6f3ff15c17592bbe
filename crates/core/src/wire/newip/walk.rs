//! Walking a parsed packet's contracts in wire order ([`contracts`],
//! [`deadline_contracts`]), one contract at an offset ([`contract_at`]),
//! and the address swap of a ping reply ([`swap_addresses`]).

use super::addr::{AddrRef, AddrType};
use super::contract::{decode_at, ContractRef};
use super::header::NewIp;
use super::malformed::Malformed;

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
    let flex_skip = |t: AddrType| if t == AddrType::Flex { 1 } else { 0 };
    out.src = AddrRef {
        ty: nip.dst.ty,
        off: (new_src_wire + flex_skip(nip.dst.ty)) as u16,
        len: nip.dst.len,
    };
    out.dst = AddrRef {
        ty: nip.src.ty,
        off: (new_dst_wire + flex_skip(nip.src.ty)) as u16,
        len: nip.src.len,
    };
    Ok(out)
}
