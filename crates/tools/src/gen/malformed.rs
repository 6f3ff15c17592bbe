//! Every way the generator breaks a packet on purpose, each counted under
//! one drop reason: the legacy Ethernet/IPv4/IPv6 ones ([`Malformation`]),
//! the New IP header and IPv6 Hop-by-Hop ones ([`NewIpMalformation`]), and
//! the two together ([`Bad`]).

use super::contracts::{BENCH_LBF, BENCH_PLBF};
use super::flow::{SRC4, SRC_MAC};
use newipd_core::wire::build::{self, Udp4, Udp6};
use newipd_core::wire::ether;
use newipd_core::wire::newip::build::{self as nb, Address, ContractDesc, Ipv6HbhDesc, PacketDesc};
use newipd_core::wire::newip::{self as nip, Cast, HbhMalformed, Malformed};

/// Ways the generator breaks a packet on purpose; each maps to one drop reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformation {
    ShortEthernet,
    TruncatedVlan,
    ShortIpv4,
    BadIhl,
    Ipv4LengthBeyondFrame,
    BadVersion,
    BadChecksum,
    TtlZero,
    TtlOne,
    ShortIpv6,
    Ipv6LengthBeyondFrame,
    HopLimitOne,
    UnknownEthertype,
}

impl Malformation {
    pub const ALL: [Malformation; 13] = [
        Malformation::ShortEthernet,
        Malformation::TruncatedVlan,
        Malformation::ShortIpv4,
        Malformation::BadIhl,
        Malformation::Ipv4LengthBeyondFrame,
        Malformation::BadVersion,
        Malformation::BadChecksum,
        Malformation::TtlZero,
        Malformation::TtlOne,
        Malformation::ShortIpv6,
        Malformation::Ipv6LengthBeyondFrame,
        Malformation::HopLimitOne,
        Malformation::UnknownEthertype,
    ];

    /// The drop reason newipd must count this packet under.
    pub fn reason(self) -> newipd_core::kinds::Reason {
        use newipd_core::kinds::Reason as R;
        match self {
            Malformation::ShortEthernet => R::MalformedEthernet,
            Malformation::TruncatedVlan => R::MalformedVlan,
            Malformation::ShortIpv4 => R::MalformedIpv4Header,
            Malformation::BadIhl => R::MalformedIpv4Ihl,
            Malformation::Ipv4LengthBeyondFrame => R::MalformedIpv4Length,
            Malformation::BadVersion => R::MalformedIpv4Version,
            Malformation::BadChecksum => R::MalformedIpv4Checksum,
            Malformation::TtlZero | Malformation::TtlOne => R::TtlExpired,
            Malformation::ShortIpv6 => R::MalformedIpv6Header,
            Malformation::Ipv6LengthBeyondFrame => R::MalformedIpv6Length,
            Malformation::HopLimitOne => R::HopLimitExpired,
            Malformation::UnknownEthertype => R::UnsupportedEthertype,
        }
    }

    /// Build one such packet from a good IPv4 (or IPv6) template.
    pub fn make(self, v4: &Udp4, v6: &Udp6) -> Vec<u8> {
        let good4 = || build::udp4(v4.clone());
        match self {
            Malformation::ShortEthernet => good4()[..10].to_vec(),
            Malformation::TruncatedVlan => {
                let mut f = build::ethernet(v4.dst_mac, v4.src_mac, None, ether::ETHERTYPE_VLAN);
                f.extend_from_slice(&[0x00]);
                f
            }
            Malformation::ShortIpv4 => good4()[..14 + 19].to_vec(),
            Malformation::BadIhl => {
                let mut f = good4();
                f[14] = 0x43;
                f
            }
            Malformation::Ipv4LengthBeyondFrame => {
                let mut f = good4();
                let bad = (f.len() - 14 + 1) as u16;
                f[16..18].copy_from_slice(&bad.to_be_bytes());
                newipd_core::wire::ipv4::set_checksum(&mut f[14..]);
                f
            }
            Malformation::BadVersion => {
                let mut f = good4();
                f[14] = 0x55;
                f
            }
            Malformation::BadChecksum => {
                let mut f = good4();
                f[24] ^= 0x5a;
                f
            }
            Malformation::TtlZero => build::udp4(Udp4 { ttl: 0, ..v4.clone() }),
            Malformation::TtlOne => build::udp4(Udp4 { ttl: 1, ..v4.clone() }),
            Malformation::ShortIpv6 => build::udp6(v6.clone())[..14 + 39].to_vec(),
            Malformation::Ipv6LengthBeyondFrame => {
                let mut f = build::udp6(v6.clone());
                let n = f.len();
                f.truncate(n - 4);
                f
            }
            Malformation::HopLimitOne => build::udp6(Udp6 { hop_limit: 1, ..v6.clone() }),
            Malformation::UnknownEthertype => {
                let mut f = build::ethernet(v4.dst_mac, v4.src_mac, None, 0x88cc);
                f.resize(60, 0);
                f
            }
        }
    }
}

/// One way a New IP header (counted as `malformed-newip-...`) or an IPv6
/// Hop-by-Hop header carrying option 0x3E (`malformed-hbh-...`) can lie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NewIpMalformation {
    /// Parsing the New IP header ([`nip::parse`]) fails with this reason.
    Header(Malformed),
    /// [`nip::find_plbf_option`] fails with this reason.
    Hbh(HbhMalformed),
}

impl NewIpMalformation {
    /// Every New IP reason, then every Hop-by-Hop reason.
    pub const ALL: [NewIpMalformation; 13] = [
        NewIpMalformation::Header(Malformed::Truncated),
        NewIpMalformation::Header(Malformed::Offsets),
        NewIpMalformation::Header(Malformed::AddrType),
        NewIpMalformation::Header(Malformed::AddrLength),
        NewIpMalformation::Header(Malformed::FlexLength),
        NewIpMalformation::Header(Malformed::Cast),
        NewIpMalformation::Header(Malformed::ContractTruncated),
        NewIpMalformation::Header(Malformed::ContractUnknown),
        NewIpMalformation::Header(Malformed::TlvLength),
        NewIpMalformation::Header(Malformed::Chunks),
        NewIpMalformation::Hbh(HbhMalformed::Truncated),
        NewIpMalformation::Hbh(HbhMalformed::OptionLength),
        NewIpMalformation::Hbh(HbhMalformed::PlbfLength),
    ];

    /// The drop counter name (`malformed-newip-...` / `malformed-hbh-...`).
    pub const fn name(self) -> &'static str {
        match self {
            NewIpMalformation::Header(m) => m.name(),
            NewIpMalformation::Hbh(m) => m.name(),
        }
    }

    /// Build one such Ethernet frame (source MAC 02:00:00:00:00:02). Only
    /// the `Truncated` New IP case is shorter than 60 bytes (it cannot be
    /// padded: padding is payload).
    pub fn make(self, dst_mac: [u8; 6]) -> Vec<u8> {
        let (et, l3) = match self {
            NewIpMalformation::Header(m) => (nip::ETHERTYPE_NEWIP, bad_newip(m)),
            NewIpMalformation::Hbh(m) => (nip::ETHERTYPE_IPV6, bad_hbh(m)),
        };
        nb::ethernet_frame(dst_mac, SRC_MAC, et, None, &l3)
    }
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| i as u8).collect()
}

/// A good New IP packet (IPv4 addresses, LBF + precise LBF, 24-byte
/// payload) with one lie in it.
fn bad_newip(m: Malformed) -> Vec<u8> {
    let dst = Address::Ipv4([10, 0, 0, 1]);
    let good = |src: Address, contracts: Vec<ContractDesc>| {
        let p = PacketDesc {
            src,
            dst: dst.clone(),
            cast: Cast::Unicast,
            contracts,
            payload: pattern(24),
        };
        p.build().expect("template builds")
    };
    let base = || {
        good(
            SRC4,
            vec![BENCH_LBF, ContractDesc::PreciseLbf(BENCH_PLBF)],
        )
    };
    let hdr = |b: &[u8]| nip::parse(b).expect("template parses");
    match m {
        // Too short for the shipping spec (cannot carry Ethernet padding).
        Malformed::Truncated => vec![3, 0, 3],
        Malformed::Offsets => {
            let mut b = base();
            b[0] = 2;
            b
        }
        Malformed::AddrType => {
            let mut b = base();
            b[3] = 5;
            b
        }
        Malformed::AddrLength => {
            // Source claims IPv6: 16 bytes do not fit before the contracts.
            let mut b = base();
            b[3] = nip::AddrType::Ipv6 as u8;
            b
        }
        Malformed::FlexLength => {
            let mut b = good(Address::Flex(vec![0x0a]), vec![BENCH_LBF]);
            b[6] = 0;
            b
        }
        Malformed::Cast => {
            let mut b = base();
            b[5] = 9;
            b
        }
        Malformed::ContractTruncated => {
            // Payload offset in the middle of the LBF contract.
            let mut b = base();
            let lbf = hdr(&b).contracts.lbf.expect("lbf") as usize;
            b[2] = (lbf + 6) as u8;
            b
        }
        Malformed::ContractUnknown => {
            let mut b = base();
            let lbf = hdr(&b).contracts.lbf.expect("lbf") as usize;
            b[lbf..lbf + 2].copy_from_slice(&7u16.to_be_bytes());
            b
        }
        Malformed::TlvLength => {
            let mut b = base();
            let p = hdr(&b).contracts.precise_lbf.expect("plbf") as usize;
            b[p + 2..p + 4].copy_from_slice(&15u16.to_be_bytes());
            b
        }
        Malformed::Chunks => {
            let chunks = vec![
                nip::Chunk {
                    offset: 0,
                    length: 10,
                    significance: 0,
                    flags: 0,
                },
                nip::Chunk {
                    offset: 10,
                    length: 10,
                    significance: 3,
                    flags: 0,
                },
            ];
            let mut b = good(SRC4, vec![ContractDesc::Qualitative(chunks)]);
            let val = hdr(&b).contracts.qualitative_value().expect("qual");
            // Second chunk starts inside the first.
            let e1 = val + nip::QUAL_HDR_LEN + nip::CHUNK_ENTRY_LEN;
            b[e1..e1 + 2].copy_from_slice(&5u16.to_be_bytes());
            b
        }
    }
}

/// A good IPv6 + Hop-by-Hop (option 0x3E, PadN) + UDP packet with one lie.
fn bad_hbh(m: HbhMalformed) -> Vec<u8> {
    let mut b = nb::build_ipv6_hbh(&Ipv6HbhDesc {
        src: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        dst: [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        traffic_class: 0,
        flow_label: 0,
        hop_limit: 64,
        plbf: BENCH_PLBF,
        sport: 1024,
        dport: 5001,
        payload: pattern(24),
    })
    .expect("template builds");
    let h = newipd_core::wire::ipv6::HDR_LEN;
    match m {
        // Hop-by-Hop header length far beyond the packet.
        HbhMalformed::Truncated => b[h + 1] = 30,
        // The PadN after option 0x3E runs past the header's end.
        HbhMalformed::OptionLength => b[nb::IPV6_HBH_PLBF_VALUE_OFF + nip::PRECISE_LBF_LEN + 1] = 3,
        // Option 0x3E with data length 15.
        HbhMalformed::PlbfLength => b[nb::IPV6_HBH_PLBF_VALUE_OFF - 1] = 15,
    }
    b
}

/// One way a generated packet is broken on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bad {
    /// A legacy (Ethernet/IPv4/IPv6) malformation.
    Legacy(Malformation),
    /// A New IP header or IPv6 Hop-by-Hop malformation.
    NewIp(NewIpMalformation),
}

impl Bad {
    /// The counter name the packet is counted under.
    pub fn name(self) -> &'static str {
        match self {
            Bad::Legacy(m) => m.reason().name(),
            Bad::NewIp(m) => m.name(),
        }
    }
}

/// The reason a frame gives when its New IP header or Hop-by-Hop option
/// is parsed the way a router would (tests).
#[cfg(test)]
pub(crate) fn parse_reason(f: &[u8]) -> Result<(), &'static str> {
    let (et, off) = nip::ethernet_payload(f).ok_or("malformed-ethernet")?;
    match et {
        nip::ETHERTYPE_NEWIP => nip::parse(&f[off..]).map(|_| ()).map_err(|m| m.name()),
        nip::ETHERTYPE_IPV6 => nip::find_plbf_option(&f[off..]).map(|_| ()).map_err(|m| m.name()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use newipd_core::fib::NextHop;
    use newipd_core::path::{Router, Verdict};

    #[test]
    fn every_legacy_malformation_hits_its_reason() {
        let r = Router::new(&[(0, 0, 0)], &[(0, 0, 0)], vec![NextHop::new(0, [2, 0, 0, 0, 0, 9], [2, 0, 0, 0, 0, 8])], true);
        let (v4, v6) = (Udp4::default(), Udp6::default());
        for m in Malformation::ALL {
            let mut f = m.make(&v4, &v6);
            assert_eq!(r.process(&mut f), Verdict::Drop(m.reason()), "{m:?}");
        }
    }

    #[test]
    fn each_newip_malformation_gives_exactly_its_reason() {
        for m in NewIpMalformation::ALL {
            let f = m.make([2, 0, 0, 0, 0, 1]);
            assert_eq!(parse_reason(&f), Err(m.name()), "{m:?}");
        }
        let names: std::collections::BTreeSet<_> = NewIpMalformation::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names.len(), Malformed::ALL.len() + HbhMalformed::ALL.len());
    }
}
