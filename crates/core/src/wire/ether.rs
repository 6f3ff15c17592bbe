//! Ethernet II with up to two 802.1Q / 802.1ad tags.

use crate::bytes::{be16, rd16};
use crate::kinds::Reason;

pub const HDR_LEN: usize = 14;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86DD;
pub const ETHERTYPE_VLAN: u16 = 0x8100;
pub const ETHERTYPE_QINQ: u16 = 0x88A8;
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType of New IP.
pub const ETHERTYPE_NEWIP: u16 = 0x88B6;

/// What the link layer says about a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L2 {
    /// The EtherType after any VLAN tags.
    pub ethertype: u16,
    /// Offset of the network header (14, 18 or 22).
    pub l3: usize,
}

/// Parse the Ethernet header and VLAN tags of `frame`.
#[inline(always)]
pub fn parse(frame: &[u8]) -> Result<L2, Reason> {
    if frame.len() < HDR_LEN {
        return Err(Reason::MalformedEthernet);
    }
    let mut ethertype = be16(frame, 12);
    let mut l3 = HDR_LEN;
    let mut tags = 0;
    while ethertype == ETHERTYPE_VLAN || ethertype == ETHERTYPE_QINQ {
        if tags == 2 {
            return Err(Reason::UnsupportedVlanDepth);
        }
        if frame.len() < l3 + 4 {
            return Err(Reason::MalformedVlan);
        }
        ethertype = be16(frame, l3 + 2);
        l3 += 4;
        tags += 1;
    }
    Ok(L2 { ethertype, l3 })
}

/// Overwrite destination and source MAC with a precomputed 12-byte pair.
#[inline(always)]
pub fn set_macs(frame: &mut [u8], dst_src: &[u8; 12]) {
    if let Some(h) = frame.get_mut(..12) {
        h.copy_from_slice(dst_src);
    }
}

/// Format a MAC address as `aa:bb:cc:dd:ee:ff`.
pub fn mac_to_string(m: &[u8; 6]) -> String {
    format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
}

/// Parse `aa:bb:cc:dd:ee:ff` (or with `-`).
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut n = 0;
    for part in s.split([':', '-']) {
        if n == 6 || part.len() != 2 {
            return None;
        }
        out[n] = u8::from_str_radix(part, 16).ok()?;
        n += 1;
    }
    (n == 6).then_some(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(types: &[u16]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        for (i, t) in types.iter().enumerate() {
            f.extend_from_slice(&t.to_be_bytes());
            if i + 1 < types.len() {
                f.extend_from_slice(&[0x00, 0x05]); // TCI
            }
        }
        f
    }

    #[test]
    fn untagged_single_and_double_tags() {
        assert_eq!(parse(&frame(&[0x0800])), Ok(L2 { ethertype: 0x0800, l3: 14 }));
        assert_eq!(parse(&frame(&[0x8100, 0x86dd])), Ok(L2 { ethertype: 0x86dd, l3: 18 }));
        assert_eq!(parse(&frame(&[0x88a8, 0x8100, 0x0800])), Ok(L2 { ethertype: 0x0800, l3: 22 }));
    }

    #[test]
    fn bad_frames_have_named_reasons() {
        assert_eq!(parse(&[0u8; 13]), Err(Reason::MalformedEthernet));
        let mut f = frame(&[0x8100]);
        f.extend_from_slice(&[0, 5]); // TCI but no inner EtherType
        assert_eq!(parse(&f), Err(Reason::MalformedVlan));
        assert_eq!(parse(&frame(&[0x8100, 0x8100, 0x8100, 0x0800])), Err(Reason::UnsupportedVlanDepth));
    }

    #[test]
    fn mac_round_trip() {
        let m = parse_mac("02:00:5e:10:ab:FF").unwrap();
        assert_eq!(m, [2, 0, 0x5e, 0x10, 0xab, 0xff]);
        assert_eq!(mac_to_string(&m), "02:00:5e:10:ab:ff");
        assert_eq!(parse_mac("02:00:5e:10:ab"), None);
        assert_eq!(parse_mac("02:00:5e:10:ab:ff:00"), None);
        assert_eq!(parse_mac("0g:00:5e:10:ab:ff"), None);
    }
}
