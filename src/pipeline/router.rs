//! The run-to-completion router stage for one packet: parse Ethernet (and
//! VLAN tags), check IPv4 / IPv6, look the destination up, rewrite MACs and
//! TTL / hop limit (IPv4 checksum patched incrementally), pick the egress port.
//! No allocation, no panics, no DPDK.

use crate::classify::{lpm4::Lpm4, lpm6::Lpm6, NextHop, NhIndex};
use crate::packet::{ether, ipv4, ipv6};
use crate::stats::Reason;

/// What to do with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send on this port (index into the pipeline's port list).
    Forward(u16),
    /// Drop and count under this reason.
    Drop(Reason),
}

/// Route tables and next hops, built once at start-up and shared read-only.
pub struct Router {
    lpm4: Lpm4,
    lpm6: Lpm6,
    next_hops: Vec<NextHop>,
    verify_ipv4_checksum: bool,
}

impl Router {
    /// Build from routes whose next-hop indexes point into `next_hops`.
    pub fn new(
        v4: &[(u32, u8, NhIndex)],
        v6: &[(u128, u8, NhIndex)],
        next_hops: Vec<NextHop>,
        verify_ipv4_checksum: bool,
    ) -> Router {
        Router { lpm4: Lpm4::build(v4), lpm6: Lpm6::build(v6), next_hops, verify_ipv4_checksum }
    }

    #[inline(always)]
    fn next_hop(&self, nh: Option<NhIndex>) -> Result<&NextHop, Reason> {
        nh.and_then(|i| self.next_hops.get(i as usize)).ok_or(Reason::NoRoute)
    }

    /// Decide and rewrite one frame in place.
    #[inline(always)]
    pub fn process(&self, frame: &mut [u8]) -> Verdict {
        match self.route(frame) {
            Ok(port) => Verdict::Forward(port),
            Err(r) => Verdict::Drop(r),
        }
    }

    #[inline(always)]
    fn route(&self, frame: &mut [u8]) -> Result<u16, Reason> {
        let l2 = ether::parse(frame)?;
        let (head, ip) = frame.split_at_mut(l2.l3);
        let nh = match l2.ethertype {
            ether::ETHERTYPE_IPV4 => {
                let v = ipv4::check(ip, self.verify_ipv4_checksum)?;
                if v.ttl <= 1 {
                    return Err(Reason::TtlExpired);
                }
                let nh = self.next_hop(self.lpm4.lookup(v.dst))?;
                ipv4::decrement_ttl(ip);
                nh
            }
            ether::ETHERTYPE_IPV6 => {
                let v = ipv6::check(ip)?;
                if v.hop_limit <= 1 {
                    return Err(Reason::HopLimitExpired);
                }
                let nh = self.next_hop(self.lpm6.lookup(v.dst))?;
                ipv6::decrement_hop_limit(ip);
                nh
            }
            _ => return Err(Reason::UnsupportedEthertype),
        };
        ether::set_macs(head, &nh.macs);
        Ok(nh.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{build, checksum};
    use proptest::prelude::*;

    const PORT_MAC: [u8; 6] = [0x02, 0xaa, 0, 0, 0, 1];
    const PEER: [u8; 6] = [0x02, 0xbb, 0, 0, 0, 2];

    fn router() -> Router {
        let nhs = vec![NextHop::new(0, PEER, PORT_MAC), NextHop::new(1, PEER, PORT_MAC)];
        Router::new(&[(0x0a00_0000, 8, 1)], &[(0x2001_0db8u128 << 96, 32, 0)], nhs, true)
    }

    #[test]
    fn ipv4_forward_rewrites_exactly_macs_ttl_checksum() {
        let r = router();
        let orig = build::udp4(build::Udp4 { dst: 0x0a01_0203, ttl: 10, frame_len: 64, ..Default::default() });
        let mut f = orig.clone();
        assert_eq!(r.process(&mut f), Verdict::Forward(1));
        assert_eq!(&f[0..6], &PEER);
        assert_eq!(&f[6..12], &PORT_MAC);
        assert_eq!(f[14 + 8], 9);
        assert!(checksum::verifies(&f[14..34]));
        // Nothing else changed.
        for i in (12..f.len()).filter(|i| ![22, 24, 25].contains(i)) {
            assert_eq!(f[i], orig[i], "byte {i}");
        }
    }

    #[test]
    fn vlan_tagged_ipv6_forwards_and_keeps_tag() {
        let r = router();
        let mut f = build::udp6(build::Udp6 { vlan: Some(0x0123), hop_limit: 2, ..Default::default() });
        assert_eq!(r.process(&mut f), Verdict::Forward(0));
        assert_eq!(&f[12..16], &[0x81, 0x00, 0x01, 0x23]);
        assert_eq!(f[18 + 7], 1);
    }

    #[test]
    fn drops_are_named() {
        let r = router();
        let mut f = build::udp4(build::Udp4 { dst: 0x0b00_0001, ..Default::default() });
        assert_eq!(r.process(&mut f), Verdict::Drop(Reason::NoRoute));
        let mut f = build::udp4(build::Udp4 { dst: 0x0a00_0001, ttl: 1, ..Default::default() });
        assert_eq!(r.process(&mut f), Verdict::Drop(Reason::TtlExpired));
        let mut f = build::udp6(build::Udp6 { hop_limit: 0, ..Default::default() });
        assert_eq!(r.process(&mut f), Verdict::Drop(Reason::HopLimitExpired));
        let mut f = build::udp6(build::Udp6 { dst: 1, ..Default::default() });
        assert_eq!(r.process(&mut f), Verdict::Drop(Reason::NoRoute));
        let mut f = build::ethernet([0; 6], [0; 6], None, ether::ETHERTYPE_ARP);
        f.resize(60, 0);
        assert_eq!(r.process(&mut f), Verdict::Drop(Reason::UnsupportedEthertype));
        assert_eq!(r.process(&mut [0u8; 10]), Verdict::Drop(Reason::MalformedEthernet));
    }

    proptest! {
        #[test]
        fn never_panics_and_drops_leave_frame_untouched(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let r = router();
            let mut f = bytes.clone();
            if let Verdict::Drop(_) = r.process(&mut f) {
                prop_assert_eq!(f, bytes);
            }
        }
    }
}
