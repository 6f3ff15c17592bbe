//! Header spec + shipping spec parsing and the one-pass contract summary.
use super::addr::{AddrRef, AddrType, Cast};
use super::contract::{decode_at, ContractRef};
use super::malformed::Malformed;

/// Offsets are from the start of the New IP header and point at the
/// contract's `contract_type` field. When a known type appears more than
/// once, the summary keeps the **first** one; all of them (in particular all
/// deadline-bearing ones, where the earliest deadline wins) are available via
/// [`contracts`](super::contracts) / [`deadline_contracts`](super::deadline_contracts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Contracts {
    /// First Max Delay Forwarding contract (type 1).
    pub max_delay: Option<u8>,
    /// First LBF contract (type 2).
    pub lbf: Option<u8>,
    /// First Ping contract (type 3).
    pub ping: Option<u8>,
    /// First precise LBF TLV (0x8001). The value is at `off + 4`
    /// (see [`Contracts::precise_lbf_value`]).
    pub precise_lbf: Option<u8>,
    /// First on-time TLV (0x8002). The value is at `off + 4`.
    pub on_time: Option<u8>,
    /// The qualitative TLV (0x8003); a packet may carry only one. The value is at `off + 4`.
    pub qualitative: Option<u8>,
    /// Unknown TLVs skipped.
    pub unknown_tlvs: u8,
    /// Number of contracts carrying a deadline (types 1, 2 and 0x8001). When
    /// above 1, walk [`deadline_contracts`](super::deadline_contracts).
    pub deadlines: u8,
    /// Total number of contracts (known and unknown).
    pub count: u8,
}

impl Contracts {
    #[inline]
    fn tlv_value(off: Option<u8>) -> Option<usize> {
        off.map(|o| o as usize + crate::contract::tlv::HDR_LEN)
    }
    /// Offset of the first precise-LBF value (16 bytes), for the `plbf_*`
    /// setters.
    #[inline]
    pub fn precise_lbf_value(&self) -> Option<usize> {
        Self::tlv_value(self.precise_lbf)
    }
    /// Offset of the first on-time value (8 bytes), for the `on_time_*` setters.
    #[inline]
    pub fn on_time_value(&self) -> Option<usize> {
        Self::tlv_value(self.on_time)
    }
    /// Offset of the first qualitative value, for the chunk setters and
    /// [`wash`](super::wash).
    #[inline]
    pub fn qualitative_value(&self) -> Option<usize> {
        Self::tlv_value(self.qualitative)
    }
}

/// A parsed New IP header: small, `Copy`, offsets only (no borrow of the
/// buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewIp {
    /// Header spec byte 0: start of the shipping spec (>= 3).
    pub shipping_off: u8,
    /// Header spec byte 1: start of the contract spec; 0 = no contract.
    pub contract_off: u8,
    /// Header spec byte 2: start of the payload.
    pub payload_off: u8,
    /// Source address.
    pub src: AddrRef,
    /// Destination address.
    pub dst: AddrRef,
    /// Address cast.
    pub cast: Cast,
    /// Contract summary.
    pub contracts: Contracts,
}

impl NewIp {
    /// The payload (from `payload_off` to the end of `buf`).
    #[inline]
    pub fn payload<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.payload_off as usize..).unwrap_or(&[])
    }
    /// Payload length for a buffer of length `buf_len`.
    #[inline]
    pub fn payload_len(&self, buf_len: usize) -> usize {
        buf_len.saturating_sub(self.payload_off as usize)
    }
    /// End of the shipping spec area (contract offset, or payload offset
    /// when there is no contract).
    #[inline]
    pub fn shipping_end(&self) -> usize {
        if self.contract_off != 0 {
            self.contract_off as usize
        } else {
            self.payload_off as usize
        }
    }
}

/// Locate one address starting at `pos`; the address must end at or before
/// `limit`. Returns the address and the position after it.
#[inline(always)]
fn addr_at(
    buf: &[u8],
    ty: AddrType,
    pos: usize,
    limit: usize,
) -> Result<(AddrRef, usize), Malformed> {
    let (off, len) = match ty.fixed_len() {
        Some(n) => (pos, n),
        None => {
            if pos >= limit {
                return Err(Malformed::AddrLength);
            }
            let l = *buf.get(pos).ok_or(Malformed::AddrLength)? as usize;
            if l == 0 || l > super::addr::FLEX_MAX_LEN {
                return Err(Malformed::FlexLength);
            }
            (pos + 1, l)
        }
    };
    let end = off + len;
    if end > limit {
        return Err(Malformed::AddrLength);
    }
    Ok((
        AddrRef {
            ty,
            off: off as u16,
            len: len as u8,
        },
        end,
    ))
}

/// Parse a New IP header. `buf` starts at the first byte of the header spec
/// and runs to the end of the frame.
///
/// One forward pass: header spec, shipping spec, then every contract up to
/// the payload offset (validating TLV lengths and qualitative chunk lists).
/// No allocation, no panic on any input; every offset in the result lies
/// inside `buf`.
#[inline(always)]
pub fn parse(buf: &[u8]) -> Result<NewIp, Malformed> {
    let (so, co, po) = match buf {
        [a, b, c, ..] => (*a as usize, *b as usize, *c as usize),
        _ => return Err(Malformed::Truncated),
    };
    if so < 3 || po > buf.len() || po < so || (co != 0 && (co <= so || co >= po)) {
        return Err(Malformed::Offsets);
    }
    let limit = if co != 0 { co } else { po };
    if so + 3 > limit {
        return Err(if so + 3 > buf.len() {
            Malformed::Truncated
        } else {
            Malformed::Offsets
        });
    }
    let (st, dt, ct) = match buf.get(so..so + 3) {
        Some([a, b, c]) => (*a, *b, *c),
        _ => return Err(Malformed::Truncated),
    };
    let st = AddrType::from_u8(st).ok_or(Malformed::AddrType)?;
    let dt = AddrType::from_u8(dt).ok_or(Malformed::AddrType)?;
    let cast = Cast::from_u8(ct).ok_or(Malformed::Cast)?;
    let (src, pos) = addr_at(buf, st, so + 3, limit)?;
    let (dst, _) = addr_at(buf, dt, pos, limit)?;

    let mut c = Contracts::default();
    if co != 0 {
        let plen = buf.len() - po;
        let mut pos = co;
        while pos < po {
            let (cr, next) = decode_at(buf, pos, po, plen)?;
            let o = Some(pos as u8);
            c.count = c.count.saturating_add(1);
            match cr {
                ContractRef::MaxDelay { .. } => {
                    c.deadlines = c.deadlines.saturating_add(1);
                    c.max_delay = c.max_delay.or(o);
                }
                ContractRef::Lbf { .. } => {
                    c.deadlines = c.deadlines.saturating_add(1);
                    c.lbf = c.lbf.or(o);
                }
                ContractRef::Ping { .. } => c.ping = c.ping.or(o),
                ContractRef::PreciseLbf { .. } => {
                    c.deadlines = c.deadlines.saturating_add(1);
                    c.precise_lbf = c.precise_lbf.or(o);
                }
                ContractRef::OnTime { .. } => c.on_time = c.on_time.or(o),
                // One payload has one chunk table: a second one would contradict
                // it (and a wash by one would leave the other pointing past the
                // payload), so it counts as overlapping chunk lists.
                ContractRef::Qualitative { .. } if c.qualitative.is_some() => return Err(Malformed::Chunks),
                ContractRef::Qualitative { .. } => c.qualitative = o,
                ContractRef::UnknownTlv { .. } => c.unknown_tlvs = c.unknown_tlvs.saturating_add(1),
            }
            pos = next;
        }
    }
    Ok(NewIp {
        shipping_off: so as u8,
        contract_off: co as u8,
        payload_off: po as u8,
        src,
        dst,
        cast,
        contracts: c,
    })
}


