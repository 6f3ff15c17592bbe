//! Packet wash in the data path (New IP TLV 0x8003).
//!
//! A port's **wash budget** is what its shaped rate sends in
//! `wash_threshold_us`: `rate_bps / 8 * wash_threshold_us / 10^6` frame
//! bytes (the 24 bytes of per-frame wire overhead are not counted). When a
//! packet has to queue and the backlog, the frame bytes already queued at
//! the port (held and ready) plus its own, is above the budget, the packet
//! is washed by the excess: its least significant chunks go first
//! (significance 15 down to 1, never 0, later chunks first within one
//! significance; only the sender marks chunks washable), the chunk table is
//! rewritten in place (`washed` flag, length 0, later offsets moved down)
//! and the frame is shortened by the bytes removed. A packet with less to
//! shed loses what it can. Only the arriving packet is washed: packets
//! already queued are not touched again.

use crate::wire::newip as nip;

/// Bytes of the wash budget of a port sending `rate_bps` over `threshold_us`
/// (0: wash off; at least 1 otherwise).
pub fn budget_bytes(rate_bps: u64, threshold_us: u64) -> u64 {
    if rate_bps == 0 || threshold_us == 0 {
        return 0;
    }
    ((rate_bps as u128 * threshold_us as u128 / 8_000_000).min(u64::MAX as u128) as u64).max(1)
}

/// Wash the New IP packet whose header starts at `l3` in `frame` by at
/// least `bytes` (or all it allows); returns the bytes removed, which the
/// caller trims off the end of the frame. Anything that is not a valid New
/// IP packet with a qualitative contract is left alone (0).
pub fn wash_frame(frame: &mut [u8], l3: usize, bytes: u64) -> usize {
    let Some(buf) = frame.get_mut(l3..) else { return 0 };
    let Ok(h) = nip::parse(buf) else { return 0 };
    nip::wash(buf, &h, bytes.min(usize::MAX as u64) as usize).removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::newip::build::{ethernet_frame, Address, ContractDesc, PacketDesc};
    use crate::wire::newip::Chunk;

    #[test]
    fn budget_in_bytes() {
        assert_eq!(budget_bytes(10_000_000, 1000), 1250);
        assert_eq!(budget_bytes(0, 1000), 0);
        assert_eq!(budget_bytes(10_000_000, 0), 0);
        assert_eq!(budget_bytes(1, 1), 1);
        assert_eq!(budget_bytes(u64::MAX, u64::MAX), u64::MAX);
    }

    fn qual_frame() -> Vec<u8> {
        let chunks = vec![
            Chunk { offset: 0, length: 10, significance: 0, flags: 0 },
            Chunk { offset: 10, length: 20, significance: 3, flags: 0 },
            Chunk { offset: 30, length: 30, significance: 7, flags: 0 },
        ];
        let payload: Vec<u8> = (0..60).collect();
        let d = PacketDesc::new(Address::Bits8(1), Address::Bits8(2)).contract(ContractDesc::Qualitative(chunks)).payload(payload);
        ethernet_frame([2; 6], [4; 6], nip::ETHERTYPE_NEWIP, None, &d.build().unwrap())
    }

    #[test]
    fn least_significant_first_never_essential() {
        let mut f = qual_frame();
        let n = f.len();
        assert_eq!(wash_frame(&mut f, 14, 5), 30, "the significance-7 chunk goes whole");
        let h = nip::parse(&f[14..n - 30]).unwrap();
        let p = h.payload(&f[14..n - 30]);
        assert_eq!(p, (0..30).collect::<Vec<u8>>().as_slice());
        let mut f = qual_frame();
        assert_eq!(wash_frame(&mut f, 14, 1000), 50, "significance 0 stays");
        let g = f[..n - 50].to_vec();
        let h = nip::parse(&g[14..]).unwrap();
        assert_eq!(h.payload(&g[14..]), (0..10).collect::<Vec<u8>>().as_slice());
        let val = h.contracts.qualitative_value().unwrap();
        let c: Vec<Chunk> = crate::contract::qualitative::chunks(&g[14..], val).collect();
        assert_eq!(c[1], Chunk { offset: 10, length: 0, significance: 3, flags: Chunk::WASHED });
        assert_eq!(c[2], Chunk { offset: 10, length: 0, significance: 7, flags: Chunk::WASHED });
    }

    #[test]
    fn non_newip_is_left_alone() {
        let mut f = crate::wire::build::udp4(Default::default());
        let before = f.clone();
        assert_eq!(wash_frame(&mut f, 14, 100), 0);
        assert_eq!(wash_frame(&mut f, 9999, 100), 0);
        assert_eq!(f, before);
    }
}
