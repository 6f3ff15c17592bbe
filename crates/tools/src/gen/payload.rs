//! The payload of a generated frame and the stamp it starts with.
//!
//! Every well-formed payload of at least [`STAMP_LEN`] bytes starts with the
//! frame's sequence number (u64, big-endian: its 0-based index in the
//! generated list, malformed frames included) and its timestamp (u64,
//! big-endian, ns: the pcap timestamp). The rest is the byte pattern
//! `payload[i] = i as u8`. "Payload" is the UDP payload for UDP kinds and the
//! bytes from the New IP payload offset for New IP. The live generator's
//! [probe](super::probe) extends this stamp.

use newipd_core::wire::newip as nip;

/// Length of the payload stamp (sequence number + timestamp).
pub const STAMP_LEN: usize = 16;

/// A payload of `len` bytes: the stamp (when `len >= 16`) then the pattern
/// `i as u8`.
pub fn payload(len: usize, seq: u64, ts: u64) -> Vec<u8> {
    let mut p: Vec<u8> = (0..len).map(|i| i as u8).collect();
    if len >= STAMP_LEN {
        p[..8].copy_from_slice(&seq.to_be_bytes());
        p[8..16].copy_from_slice(&ts.to_be_bytes());
    }
    p
}

/// `(sequence number, timestamp ns)` from the first 16 payload bytes.
pub fn read_stamp(payload: &[u8]) -> Option<(u64, u64)> {
    let s: [u8; 8] = payload.get(..8)?.try_into().ok()?;
    let t: [u8; 8] = payload.get(8..16)?.try_into().ok()?;
    Some((u64::from_be_bytes(s), u64::from_be_bytes(t)))
}

/// The payload of a generated frame (UDP payload for UDP over IPv4/IPv6,
/// also behind the Hop-by-Hop header; the bytes from the payload offset for
/// New IP), or `None` for anything else or a malformed frame.
pub fn frame_payload(frame: &[u8]) -> Option<&[u8]> {
    let (et, off) = nip::ethernet_payload(frame)?;
    let l3 = frame.get(off..)?;
    match et {
        nip::ETHERTYPE_NEWIP => {
            let h = nip::parse(l3).ok()?;
            Some(h.payload(l3))
        }
        0x0800 => {
            let ihl = (*l3.first()? & 0x0F) as usize * 4;
            (*l3.get(9)? == 17).then_some(())?;
            l3.get(ihl + 8..)
        }
        nip::ETHERTYPE_IPV6 => {
            let mut nh = *l3.get(6)?;
            let mut pos = 40;
            if nh == newipd_core::contract::ipv6_option::NH_HOP_BY_HOP {
                nh = *l3.get(pos)?;
                pos += (*l3.get(pos + 1)? as usize + 1) * 8;
            }
            (nh == 17).then_some(())?;
            l3.get(pos + 8..)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_then_pattern() {
        let p = payload(20, 7, 9);
        assert_eq!(read_stamp(&p), Some((7, 9)));
        assert_eq!(&p[16..], &[16, 17, 18, 19]);
        assert_eq!(payload(15, 7, 9), (0..15).collect::<Vec<u8>>(), "too short for the stamp: pattern only");
        assert_eq!(read_stamp(&p[..15]), None);
    }
}
