//! Frame builders for the traffic generator and tests (these allocate; the
//! forwarding path never calls them).

use super::checksum;
use super::ether::{ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN};

/// An Ethernet + IPv4 + UDP frame description.
#[derive(Debug, Clone)]
pub struct Udp4 {
    pub dst_mac: [u8; 6],
    pub src_mac: [u8; 6],
    /// Optional 802.1Q tag (TCI).
    pub vlan: Option<u16>,
    pub src: u32,
    pub dst: u32,
    pub sport: u16,
    pub dport: u16,
    pub ttl: u8,
    pub tos: u8,
    pub ident: u16,
    /// Whole frame size without FCS (at least the headers; padded with payload bytes).
    pub frame_len: usize,
    /// First payload bytes (the rest is a counting pattern).
    pub payload: Vec<u8>,
}

impl Default for Udp4 {
    fn default() -> Self {
        Udp4 {
            dst_mac: [0x02, 0, 0, 0, 0, 0x01],
            src_mac: [0x02, 0, 0, 0, 0, 0x02],
            vlan: None,
            src: u32::from_be_bytes([192, 168, 0, 1]),
            dst: u32::from_be_bytes([10, 0, 0, 1]),
            sport: 1024,
            dport: 5001,
            ttl: 64,
            tos: 0,
            ident: 0,
            frame_len: 60,
            payload: Vec::new(),
        }
    }
}

/// An Ethernet + IPv6 + UDP frame description.
#[derive(Debug, Clone)]
pub struct Udp6 {
    pub dst_mac: [u8; 6],
    pub src_mac: [u8; 6],
    pub vlan: Option<u16>,
    pub src: u128,
    pub dst: u128,
    pub sport: u16,
    pub dport: u16,
    pub hop_limit: u8,
    pub traffic_class: u8,
    pub frame_len: usize,
    pub payload: Vec<u8>,
}

impl Default for Udp6 {
    fn default() -> Self {
        Udp6 {
            dst_mac: [0x02, 0, 0, 0, 0, 0x01],
            src_mac: [0x02, 0, 0, 0, 0, 0x02],
            vlan: None,
            src: 0x2001_0db8_0000_0000_0000_0000_0000_0001,
            dst: 0x2001_0db8_0001_0000_0000_0000_0000_0001,
            sport: 1024,
            dport: 5001,
            hop_limit: 64,
            traffic_class: 0,
            frame_len: 78,
            payload: Vec::new(),
        }
    }
}

/// Ethernet header (with an optional 802.1Q tag).
pub fn ethernet(dst: [u8; 6], src: [u8; 6], vlan: Option<u16>, ethertype: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(128);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    if let Some(tci) = vlan {
        f.extend_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

fn payload_bytes(first: &[u8], len: usize) -> Vec<u8> {
    (0..len).map(|i| first.get(i).copied().unwrap_or(i as u8)).collect()
}

/// Build an IPv4/UDP frame with valid IP and UDP checksums.
pub fn udp4(d: Udp4) -> Vec<u8> {
    let mut f = ethernet(d.dst_mac, d.src_mac, d.vlan, ETHERTYPE_IPV4);
    let l3 = f.len();
    let plen = d.frame_len.saturating_sub(l3 + 28).max(d.payload.len());
    let total = (28 + plen) as u16;
    f.extend_from_slice(&[0x45, d.tos]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&d.ident.to_be_bytes());
    f.extend_from_slice(&[0x40, 0x00, d.ttl, 17, 0, 0]); // DF, TTL, UDP, checksum
    f.extend_from_slice(&d.src.to_be_bytes());
    f.extend_from_slice(&d.dst.to_be_bytes());
    let c = checksum::checksum(&f[l3..l3 + 20]);
    f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
    let udp_len = (8 + plen) as u16;
    let l4 = f.len();
    f.extend_from_slice(&d.sport.to_be_bytes());
    f.extend_from_slice(&d.dport.to_be_bytes());
    f.extend_from_slice(&udp_len.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&payload_bytes(&d.payload, plen));
    // Pseudo-header: src, dst, zero, proto, UDP length.
    let mut ph = Vec::with_capacity(12);
    ph.extend_from_slice(&d.src.to_be_bytes());
    ph.extend_from_slice(&d.dst.to_be_bytes());
    ph.extend_from_slice(&[0, 17]);
    ph.extend_from_slice(&udp_len.to_be_bytes());
    let mut c = !checksum::fold(checksum::sum(&f[l4..], checksum::sum(&ph, 0)));
    if c == 0 {
        c = 0xffff;
    }
    f[l4 + 6..l4 + 8].copy_from_slice(&c.to_be_bytes());
    f
}

/// Build an IPv6/UDP frame with a valid UDP checksum.
pub fn udp6(d: Udp6) -> Vec<u8> {
    let mut f = ethernet(d.dst_mac, d.src_mac, d.vlan, ETHERTYPE_IPV6);
    let plen = d.frame_len.saturating_sub(f.len() + 48).max(d.payload.len());
    let udp_len = (8 + plen) as u16;
    let tc = d.traffic_class;
    f.extend_from_slice(&[0x60 | (tc >> 4), tc << 4, 0, 0]);
    f.extend_from_slice(&udp_len.to_be_bytes());
    f.extend_from_slice(&[17, d.hop_limit]);
    f.extend_from_slice(&d.src.to_be_bytes());
    f.extend_from_slice(&d.dst.to_be_bytes());
    let l4 = f.len();
    f.extend_from_slice(&d.sport.to_be_bytes());
    f.extend_from_slice(&d.dport.to_be_bytes());
    f.extend_from_slice(&udp_len.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&payload_bytes(&d.payload, plen));
    let mut ph = Vec::with_capacity(40);
    ph.extend_from_slice(&d.src.to_be_bytes());
    ph.extend_from_slice(&d.dst.to_be_bytes());
    ph.extend_from_slice(&(udp_len as u32).to_be_bytes());
    ph.extend_from_slice(&[0, 0, 0, 17]);
    let mut c = !checksum::fold(checksum::sum(&f[l4..], checksum::sum(&ph, 0)));
    if c == 0 {
        c = 0xffff;
    }
    f[l4 + 6..l4 + 8].copy_from_slice(&c.to_be_bytes());
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_checksums() {
        let f = udp4(Udp4 { frame_len: 64, ..Default::default() });
        assert_eq!(f.len(), 64);
        assert!(checksum::verifies(&f[14..34]));
        assert_eq!(u16::from_be_bytes([f[16], f[17]]) as usize, 64 - 14);
        let f = udp4(Udp4 { vlan: Some(7), frame_len: 64, ..Default::default() });
        assert_eq!(f.len(), 64);
        assert_eq!(&f[12..14], &[0x81, 0x00]);
        let f = udp6(Udp6 { frame_len: 100, ..Default::default() });
        assert_eq!(f.len(), 100);
        assert_eq!(u16::from_be_bytes([f[18], f[19]]) as usize, 100 - 54);
    }

    #[test]
    fn udp4_checksum_matches_known_capture() {
        // Verify with the receiver's rule: the sum over pseudo-header + UDP is 0xffff.
        let d = Udp4 { frame_len: 80, payload: b"newipd".to_vec(), ..Default::default() };
        let (src, dst) = (d.src, d.dst);
        let f = udp4(d);
        let udp = &f[34..];
        let mut ph = Vec::new();
        ph.extend_from_slice(&src.to_be_bytes());
        ph.extend_from_slice(&dst.to_be_bytes());
        ph.extend_from_slice(&[0, 17]);
        ph.extend_from_slice(&(udp.len() as u16).to_be_bytes());
        assert_eq!(checksum::fold(checksum::sum(udp, checksum::sum(&ph, 0))), 0xffff);
        assert_eq!(&udp[8..14], b"newipd");
    }
}
