//! New IP traffic for the generator: the flows behind the `newip-lbf`,
//! `newip-plbf` and `newip-mix` kinds (and the legacy kinds, expressed as
//! flows for mix files without `[[flow]]` tables), and every way a New IP
//! header or an IPv6 Hop-by-Hop option can lie ([`NewIpMalformation`]).

use super::mix::{Kind, Mix};
use super::traffic::{ChunkSpec, FlowKind, FlowSpec, Rate, Traffic, SRC_MAC};
use newipd_core::wire::newip::build::{self as nb, Address, ContractDesc, Ipv6HbhDesc, PacketDesc};
use newipd_core::wire::newip::{self as nip, Cast, HbhMalformed, Malformed, OnTime, PreciseLbf};

/// The LBF contract of the `newip-lbf` benchmark traffic: min 0, max 50 ms,
/// experienced 0, fib_todelay 5 ms, fib_tohops 8 (a path newipd forwards).
pub const BENCH_LBF: ContractDesc = ContractDesc::Lbf {
    min_delay: 0,
    max_delay: 50,
    experienced_delay: 0,
    fib_todelay: 5,
    fib_tohops: 8,
};

/// The precise LBF value of the `newip-plbf` traffic: max 5 ms.
pub const BENCH_PLBF: PreciseLbf = PreciseLbf {
    min_ns: 0,
    max_ns: 5_000_000,
    experienced_ns: 0,
    hops: 0,
    flags: 0,
};

/// Source address of generated New IP traffic (IPv4 type).
pub const NEWIP_SRC4: Address = Address::Ipv4([192, 168, 0, 1]);
/// Source address of generated IPv6 traffic (`2001:db8::1`).
pub const SRC6: Address =
    Address::Ipv6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

/// The flows a [`Mix`] of `kind` sends (`count` = `flows`, frames of
/// `size`). For the New IP kinds this is exactly what
/// [`Mix::generate`](super::Mix::generate) sends; for the legacy kinds it is
/// the equivalent flow set used when a mix file has no `[[flow]]` table.
pub fn preset_flows(kind: Kind, m: &Mix) -> Vec<FlowSpec> {
    let dst4 = Address::Ipv4(m.dst4.to_be_bytes());
    let dst6 = Address::Ipv6(m.dst6.to_be_bytes());
    let base = |k: FlowKind, src: Address, dst: &Address| FlowSpec {
        count: m.flows.max(1),
        size: (m.size, m.size),
        ..FlowSpec::new(k, src, dst.clone())
    };
    let with = |mut f: FlowSpec, share: f64, contracts: Vec<ContractDesc>, chunks: &[(u16, u8)]| {
        f.share = share;
        f.contracts = contracts;
        f.chunks = chunks
            .iter()
            .map(|&(len, significance)| ChunkSpec { len, significance })
            .collect();
        f
    };
    let a = |s: &str| s.parse::<Address>().expect("built-in address");
    let plbf = |p: PreciseLbf| ContractDesc::PreciseLbf(p);
    match kind {
        Kind::Ipv4 => vec![base(FlowKind::Ipv4, NEWIP_SRC4, &dst4)],
        Kind::Ipv6 => vec![base(FlowKind::Ipv6, SRC6, &dst6)],
        Kind::Mix => vec![
            with(base(FlowKind::Ipv4, NEWIP_SRC4, &dst4), 7.0, vec![], &[]),
            with(base(FlowKind::Ipv6, SRC6, &dst6), 7.0, vec![], &[]),
            FlowSpec {
                vlan: Some(100),
                ..base(FlowKind::Ipv4, NEWIP_SRC4, &dst4)
            },
            FlowSpec {
                vlan: Some(100),
                ..base(FlowKind::Ipv6, SRC6, &dst6)
            },
        ],
        Kind::NewipLbf => vec![with(
            base(FlowKind::Newip, NEWIP_SRC4, &dst4),
            1.0,
            vec![BENCH_LBF],
            &[],
        )],
        Kind::NewipPlbf => vec![with(
            base(FlowKind::Newip, NEWIP_SRC4, &dst4),
            1.0,
            vec![plbf(BENCH_PLBF)],
            &[],
        )],
        Kind::NewipMix => {
            let n = |src: Address, dst: &Address| base(FlowKind::Newip, src, dst);
            let late_ok = PreciseLbf {
                max_ns: 2_000_000,
                flags: PreciseLbf::LATE_OK,
                ..BENCH_PLBF
            };
            let max_delay = ContractDesc::MaxDelay {
                max_allowed_delay: 20,
                delay_exp: 0,
            };
            let ping = ContractDesc::Ping {
                code: 0,
                hops: 255,
                timestamp: 0,
            };
            let on_time = ContractDesc::OnTime(OnTime {
                damper_ns: 100_000,
                prio: 3,
                flags: OnTime::DI,
            });
            let unknown = ContractDesc::Tlv {
                ty: 0x8100,
                value: vec![0xde, 0xad, 0xbe, 0xef],
            };
            vec![
                // IPv4 -> IPv4, the two latency contracts.
                with(n(NEWIP_SRC4, &dst4), 2.0, vec![BENCH_LBF], &[]),
                with(n(NEWIP_SRC4, &dst4), 2.0, vec![plbf(BENCH_PLBF)], &[]),
                // IPv6 -> IPv6, precise LBF that may arrive late.
                with(n(SRC6, &dst6), 1.0, vec![plbf(late_ok)], &[]),
                // Asymmetric: 8-bit -> 16-bit with max delay.
                with(
                    n(a("8bit:1"), &a("16bit:0x0100")),
                    1.0,
                    vec![max_delay.clone()],
                    &[],
                ),
                // 16-bit -> IPv4 ping.
                with(n(a("16bit:0x0001"), &dst4), 1.0, vec![ping], &[]),
                // Flex -> flex on-time delivery.
                with(
                    n(a("flex:0a01"), &a("flex:0a0201")),
                    1.0,
                    vec![on_time],
                    &[],
                ),
                // IPv4 -> flex, LBF + qualitative payload with 2 chunks.
                with(
                    n(NEWIP_SRC4, &a("flex:0a0301")),
                    1.0,
                    vec![BENCH_LBF],
                    &[(16, 0), (32, 4)],
                ),
                // IPv6 -> 8-bit, precise LBF + 4 chunks.
                with(
                    n(SRC6, &a("8bit:2")),
                    1.0,
                    vec![plbf(BENCH_PLBF)],
                    &[(24, 0), (16, 2), (16, 7), (8, 15)],
                ),
                // Flex -> IPv6, unknown TLV + max delay + 3 chunks.
                with(
                    n(a("flex:0b"), &dst6),
                    1.0,
                    vec![unknown, max_delay],
                    &[(16, 0), (20, 1), (12, 0)],
                ),
                // 8-bit broadcast without contract.
                FlowSpec {
                    cast: Cast::Broadcast,
                    ..n(a("8bit:3"), &a("8bit:0xff"))
                },
                // The same latency contract inside plain IPv6.
                with(
                    base(FlowKind::Ipv6Hbh, SRC6, &dst6),
                    2.0,
                    vec![plbf(BENCH_PLBF)],
                    &[],
                ),
            ]
        }
    }
}

impl Traffic {
    /// The traffic a [`Mix`] describes, as flows ([`preset_flows`]).
    pub fn from_mix(m: &Mix) -> Traffic {
        Traffic {
            seed: m.seed,
            packets: m.packets,
            rate: Rate::Pps(m.rate_pps.max(1)),
            malformed: m.malformed,
            dst_mac: m.dst_mac,
            flows: preset_flows(m.kind, m),
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
            NEWIP_SRC4,
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
            let mut b = good(NEWIP_SRC4, vec![ContractDesc::Qualitative(chunks)]);
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
    let h = newipd_core::contract::ipv6_option::IPV6_HDR_LEN;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::traffic::{frame_payload, read_stamp, Bad};

    /// The reason a frame gives when parsed the way a router would.
    fn parse_reason(f: &[u8]) -> Result<(), &'static str> {
        let (et, off) = nip::ethernet_payload(f).ok_or("malformed-ethernet")?;
        match et {
            nip::ETHERTYPE_NEWIP => nip::parse(&f[off..]).map(|_| ()).map_err(|m| m.name()),
            nip::ETHERTYPE_IPV6 => nip::find_plbf_option(&f[off..])
                .map(|_| ())
                .map_err(|m| m.name()),
            _ => Ok(()),
        }
    }

    #[test]
    fn each_malformation_gives_exactly_its_reason() {
        for m in NewIpMalformation::ALL {
            let f = m.make([2, 0, 0, 0, 0, 1]);
            assert_eq!(parse_reason(&f), Err(m.name()), "{m:?}");
        }
        let names: std::collections::BTreeSet<_> =
            NewIpMalformation::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names.len(), Malformed::ALL.len() + HbhMalformed::ALL.len());
    }

    #[test]
    fn every_generated_malformed_newip_packet_is_counted_under_its_reason() {
        for kind in [Kind::NewipLbf, Kind::NewipPlbf, Kind::NewipMix] {
            let m = Mix {
                kind,
                packets: 3000,
                malformed: 0.3,
                flows: 16,
                ..Default::default()
            };
            let (g, labels) = Traffic::from_mix(&m).generate_labeled();
            let mut seen = std::collections::BTreeMap::<&str, usize>::new();
            for ((_, f), l) in g.frames.iter().zip(&labels) {
                match l {
                    Some(Bad::NewIp(b)) => {
                        assert_eq!(parse_reason(f), Err(b.name()), "{kind:?} {b:?}");
                        *seen.entry(b.name()).or_default() += 1;
                    }
                    Some(Bad::Legacy(b)) => *seen.entry(b.reason().name()).or_default() += 1,
                    None => assert_eq!(parse_reason(f), Ok(()), "{kind:?}"),
                }
            }
            assert_eq!(seen, g.by_reason, "{kind:?}");
            for b in NewIpMalformation::ALL {
                assert!(
                    g.by_reason.get(b.name()).copied().unwrap_or(0) > 0,
                    "{kind:?} never made {b:?}"
                );
            }
            let bad: usize = g.by_reason.values().sum();
            assert_eq!(g.good + bad, 3000);
            assert_eq!(
                g.malformed.iter().map(|x| x.1).sum::<usize>()
                    + labels
                        .iter()
                        .filter(|l| matches!(l, Some(Bad::NewIp(_))))
                        .count(),
                bad
            );
        }
    }

    #[test]
    fn lbf_kinds_are_benchmark_frames() {
        for (kind, want_plbf) in [(Kind::NewipLbf, false), (Kind::NewipPlbf, true)] {
            let m = Mix {
                kind,
                packets: 500,
                flows: 100,
                ..Default::default()
            };
            let g = m.generate();
            assert_eq!(g.good, 500);
            for (i, (ts, f)) in g.frames.iter().enumerate() {
                assert_eq!(f.len(), 60);
                assert_eq!(&f[12..14], &[0x88, 0xb6]);
                assert_eq!(&f[6..12], &SRC_MAC);
                let b = &f[14..];
                let h = nip::parse(b).unwrap();
                assert_eq!(h.src.addr(b).ipv4(), Some([192, 168, 0, 1]));
                let d = u32::from_be_bytes(h.dst.addr(b).ipv4().unwrap());
                assert!((m.dst4..m.dst4 + 100).contains(&d));
                assert_eq!(h.contracts.count, 1);
                if want_plbf {
                    let v =
                        nip::PreciseLbf::read(b, h.contracts.precise_lbf_value().unwrap()).unwrap();
                    assert_eq!(v, BENCH_PLBF);
                } else {
                    match nip::contracts(b, &h).next() {
                        Some(Ok(nip::ContractRef::Lbf {
                            min_delay: 0,
                            max_delay: 50,
                            experienced_delay: 0,
                            fib_todelay: 5,
                            fib_tohops: 8,
                            ..
                        })) => {}
                        other => panic!("{other:?}"),
                    }
                    // 20-byte payload: the stamp fits.
                    assert_eq!(read_stamp(frame_payload(f).unwrap()), Some((i as u64, *ts)));
                }
            }
        }
    }

    #[test]
    fn newip_mix_covers_every_type_contract_and_hbh() {
        let m = Mix {
            kind: Kind::NewipMix,
            packets: 2000,
            ..Default::default()
        };
        let g = m.generate();
        let (mut src_t, mut dst_t, mut asym, mut hbh) = (0u8, 0u8, 0, 0);
        let mut c = nip::Contracts::default();
        let mut sigs = std::collections::BTreeSet::new();
        let mut chunk_counts = std::collections::BTreeSet::new();
        for (_, f) in &g.frames {
            let (et, off) = nip::ethernet_payload(f).unwrap();
            let b = &f[off..];
            if et == nip::ETHERTYPE_IPV6 {
                let v = nip::find_plbf_option(b).unwrap().unwrap();
                assert_eq!(nip::PreciseLbf::read(b, v).unwrap(), BENCH_PLBF);
                hbh += 1;
                continue;
            }
            let h = nip::parse(b).unwrap();
            src_t |= 1 << h.src.ty as u8;
            dst_t |= 1 << h.dst.ty as u8;
            asym += (h.src.ty != h.dst.ty) as usize;
            let k = h.contracts;
            c.max_delay = c.max_delay.or(k.max_delay);
            c.lbf = c.lbf.or(k.lbf);
            c.ping = c.ping.or(k.ping);
            c.precise_lbf = c.precise_lbf.or(k.precise_lbf);
            c.on_time = c.on_time.or(k.on_time);
            c.unknown_tlvs |= k.unknown_tlvs;
            if let Some(v) = k.qualitative_value() {
                let ch: Vec<_> = newipd_core::contract::qualitative::chunks(b, v).collect();
                chunk_counts.insert(ch.len());
                sigs.extend(ch.iter().map(|c| c.significance));
                assert_eq!(ch[0].significance, 0);
                assert!(ch[0].length >= 16);
            }
        }
        assert_eq!(src_t, 0b11111);
        assert_eq!(dst_t, 0b11111);
        assert!(asym > 0 && hbh > 0);
        assert!(c.max_delay.is_some() && c.lbf.is_some() && c.ping.is_some());
        assert!(c.precise_lbf.is_some() && c.on_time.is_some() && c.unknown_tlvs > 0);
        assert_eq!(chunk_counts.into_iter().collect::<Vec<_>>(), vec![2, 3, 4]);
        assert!(sigs.contains(&0) && sigs.len() >= 4);
        assert_eq!(g, m.generate());
    }
}
