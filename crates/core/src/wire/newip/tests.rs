use super::build::*;
use super::*;

fn v6(last: u8) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0] = 0x20;
    a[1] = 0x01;
    a[2] = 0x0d;
    a[3] = 0xb8;
    a[15] = last;
    a
}

pub(super) fn vector_descs() -> Vec<(&'static str, PacketDesc)> {
    vec![
        (
            "IPV4_NO_CONTRACT",
            PacketDesc::new(Address::Ipv4([10, 0, 0, 1]), Address::Ipv4([10, 0, 0, 2]))
                .payload(b"hello".to_vec()),
        ),
        (
            "IPV6_MAX_DELAY",
            PacketDesc::new(Address::Ipv6(v6(1)), Address::Ipv6(v6(2)))
                .contract(ContractDesc::MaxDelay {
                    max_allowed_delay: 500,
                    delay_exp: 20,
                })
                .payload(b"hi".to_vec()),
        ),
        (
            "BITS8_LBF",
            PacketDesc::new(Address::Bits8(1), Address::Bits8(2))
                .contract(ContractDesc::Lbf {
                    min_delay: 10,
                    max_delay: 50,
                    experienced_delay: 25,
                    fib_todelay: 5,
                    fib_tohops: 3,
                })
                .payload(vec![0xaa, 0xbb]),
        ),
        (
            "BITS16_PING",
            PacketDesc::new(Address::Bits16(0x0102), Address::Bits16(0x0304)).contract(
                ContractDesc::Ping {
                    code: 0,
                    hops: 255,
                    timestamp: 0x0001_0203_0405,
                },
            ),
        ),
        (
            "FLEX_PRECISE_LBF",
            PacketDesc::new(
                Address::Flex(vec![0x0a, 0x01, 0x02]),
                Address::Flex(vec![0x0a, 0x02, 0x00, 0x00, 0x01]),
            )
            .contract(ContractDesc::PreciseLbf(PreciseLbf {
                min_ns: 0,
                max_ns: 2_000_000,
                experienced_ns: 150_000,
                hops: 2,
                flags: PreciseLbf::LATE_OK,
            }))
            .payload(b"x".to_vec()),
        ),
        (
            "ASYM_ON_TIME",
            PacketDesc::new(Address::Ipv4([192, 0, 2, 1]), Address::Bits8(7))
                .contract(ContractDesc::OnTime(OnTime {
                    damper_ns: 50_000,
                    prio: 5,
                    flags: OnTime::DI,
                }))
                .payload(vec![0]),
        ),
        (
            "UNKNOWN_TLV",
            PacketDesc::new(Address::Ipv4([10, 0, 0, 1]), Address::Ipv4([224, 0, 0, 9]))
                .cast(Cast::Multicast)
                .contract(ContractDesc::Tlv {
                    ty: 0x9abc,
                    value: vec![0xde, 0xad, 0xbe],
                })
                .contract(ContractDesc::MaxDelay {
                    max_allowed_delay: 100,
                    delay_exp: 0,
                })
                .payload(b"ok".to_vec()),
        ),
        (
            "QUALITATIVE",
            PacketDesc::new(Address::Bits8(1), Address::Bits8(2))
                .contract(ContractDesc::Qualitative(vec![
                    Chunk {
                        offset: 0,
                        length: 4,
                        significance: 0,
                        flags: 0,
                    },
                    Chunk {
                        offset: 4,
                        length: 4,
                        significance: 15,
                        flags: 0,
                    },
                    Chunk {
                        offset: 8,
                        length: 4,
                        significance: 3,
                        flags: 0,
                    },
                ]))
                .payload((0u8..12).collect::<Vec<u8>>()),
        ),
    ]
}

pub(super) fn ipv6_hbh_desc() -> Ipv6HbhDesc {
    Ipv6HbhDesc {
        src: v6(1),
        dst: v6(2),
        traffic_class: 0,
        flow_label: 0,
        hop_limit: 64,
        plbf: PreciseLbf {
            min_ns: 0,
            max_ns: 1_000_000,
            experienced_ns: 10_000,
            hops: 1,
            flags: 0,
        },
        sport: 49152,
        dport: 49153,
        payload: b"ping".to_vec(),
    }
}

use super::contract::*;
use crate::contract::lbf::{set_experienced_delay as set_lbf_experienced_delay, set_fib_todelay as set_lbf_fib_todelay, set_fib_tohops as set_lbf_fib_tohops};
use crate::contract::max_delay::set_delay_exp;
use crate::contract::on_time::{damper_ns as on_time_damper_ns, set_damper_ns as set_on_time_damper_ns, set_flags as set_on_time_flags};
use crate::contract::ping::{set_code as set_ping_code, set_hops as set_ping_hops, set_timestamp as set_ping_timestamp};
use crate::contract::precise_lbf::{on_transmit as plbf_on_transmit, set_experienced_ns as set_plbf_experienced_ns, set_flags as set_plbf_flags, set_hops as set_plbf_hops};
use crate::contract::qualitative::{chunk, chunks, set_chunk_flags, set_chunk_length, set_chunk_offset};
use super::vectors::*;
use proptest::prelude::*;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
fn v(h: &str) -> Vec<u8> {
    decode_hex(h).expect("valid hex")
}
fn all(buf: &[u8], nip: &NewIp) -> Vec<ContractRef> {
    contracts(buf, nip)
        .map(|r| r.expect("valid contract"))
        .collect()
}

// ---------------------------------------------------------------- vectors ---

#[test]
fn vectors_match_builders() {
    let descs = vector_descs();
    for (name, d) in &descs {
        let hexv = NEWIP_VECTORS
            .iter()
            .find(|(n, _)| n == name)
            .expect("vector exists")
            .1;
        assert_eq!(hex(&d.build().unwrap()), hexv, "{name}");
    }
    assert_eq!(hex(&build_ipv6_hbh(&ipv6_hbh_desc()).unwrap()), IPV6_HBH);
    // The washed vector is what wash() makes of QUALITATIVE.
    let mut w = v(QUALITATIVE);
    let nip = parse(&w).unwrap();
    let o = wash(&mut w, &nip, 1);
    assert_eq!(
        o,
        WashOutcome {
            removed: 4,
            chunks_washed: 1,
            reached: true
        }
    );
    w.truncate(w.len() - o.removed);
    assert_eq!(hex(&w), QUALITATIVE_WASHED);
}

#[test]
fn vectors_appear_in_docs() {
    let doc = include_str!("../../../../../docs/wire-format.md");
    for (name, h) in NEWIP_VECTORS.iter().chain([("IPV6_HBH", IPV6_HBH)].iter()) {
        assert!(doc.contains(h), "vector {name} not in docs/wire-format.md");
        assert!(
            doc.contains(&format!("### {name}")),
            "vector {name} has no section in docs/wire-format.md"
        );
    }
}

#[test]
fn vector_ipv4_no_contract() {
    let b = v(IPV4_NO_CONTRACT);
    let n = parse(&b).unwrap();
    assert_eq!((n.shipping_off, n.contract_off, n.payload_off), (3, 0, 14));
    assert_eq!(n.src.addr(&b).ipv4(), Some([10, 0, 0, 1]));
    assert_eq!(n.dst.addr(&b).ipv4(), Some([10, 0, 0, 2]));
    assert_eq!((n.src.off, n.dst.off), (6, 10));
    assert_eq!(n.cast, Cast::Unicast);
    assert_eq!(n.contracts, Contracts::default());
    assert_eq!(n.payload(&b), b"hello");
    assert_eq!(contracts(&b, &n).count(), 0);
}

#[test]
fn vector_ipv6_max_delay() {
    let b = v(IPV6_MAX_DELAY);
    let n = parse(&b).unwrap();
    assert_eq!((n.shipping_off, n.contract_off, n.payload_off), (3, 38, 44));
    assert_eq!(n.src.addr(&b).ipv6(), Some(v6(1)));
    assert_eq!(n.dst.addr(&b).ipv6(), Some(v6(2)));
    assert_eq!(n.contracts.max_delay, Some(38));
    assert_eq!(n.contracts.deadlines, 1);
    assert_eq!(
        all(&b, &n),
        vec![ContractRef::MaxDelay {
            off: 38,
            max_allowed_delay: 500,
            delay_exp: 20
        }]
    );
    assert_eq!(n.payload(&b), b"hi");
}

#[test]
fn vector_bits8_lbf() {
    let b = v(BITS8_LBF);
    let n = parse(&b).unwrap();
    assert_eq!((n.shipping_off, n.contract_off, n.payload_off), (3, 8, 20));
    assert_eq!(n.src.addr(&b).bits8(), Some(1));
    assert_eq!(n.dst.addr(&b).bits8(), Some(2));
    assert_eq!(n.contracts.lbf, Some(8));
    assert_eq!(
        all(&b, &n),
        vec![ContractRef::Lbf {
            off: 8,
            min_delay: 10,
            max_delay: 50,
            experienced_delay: 25,
            fib_todelay: 5,
            fib_tohops: 3
        }]
    );
    assert_eq!(n.payload(&b), &[0xaa, 0xbb]);
}

#[test]
fn vector_bits16_ping() {
    let b = v(BITS16_PING);
    let n = parse(&b).unwrap();
    assert_eq!((n.shipping_off, n.contract_off, n.payload_off), (3, 10, 24));
    assert_eq!(n.src.addr(&b).bits16(), Some(0x0102));
    assert_eq!(n.dst.addr(&b).bits16(), Some(0x0304));
    assert_eq!(n.contracts.ping, Some(10));
    assert_eq!(n.contracts.deadlines, 0);
    assert_eq!(
        all(&b, &n),
        vec![ContractRef::Ping {
            off: 10,
            code: 0,
            hops: 255,
            timestamp: 0x0001_0203_0405
        }]
    );
    assert!(n.payload(&b).is_empty());
}

#[test]
fn vector_flex_precise_lbf() {
    let b = v(FLEX_PRECISE_LBF);
    let n = parse(&b).unwrap();
    assert_eq!((n.shipping_off, n.contract_off, n.payload_off), (3, 16, 36));
    assert_eq!(
        n.src,
        AddrRef {
            ty: AddrType::Flex,
            off: 7,
            len: 3
        }
    );
    assert_eq!(
        n.dst,
        AddrRef {
            ty: AddrType::Flex,
            off: 11,
            len: 5
        }
    );
    assert_eq!(n.src.addr(&b).bytes, &[0x0a, 1, 2]);
    assert_eq!(n.dst.addr(&b).bytes, &[0x0a, 2, 0, 0, 1]);
    assert_eq!(n.contracts.precise_lbf, Some(16));
    assert_eq!(n.contracts.precise_lbf_value(), Some(20));
    let p = PreciseLbf {
        min_ns: 0,
        max_ns: 2_000_000,
        experienced_ns: 150_000,
        hops: 2,
        flags: 1,
    };
    assert_eq!(all(&b, &n), vec![ContractRef::PreciseLbf { off: 16, v: p }]);
    assert!(p.late_ok());
    assert_eq!(n.payload(&b), b"x");
}

#[test]
fn vector_asym_on_time() {
    let b = v(ASYM_ON_TIME);
    let n = parse(&b).unwrap();
    assert_eq!((n.shipping_off, n.contract_off, n.payload_off), (3, 11, 23));
    assert_eq!(n.src.addr(&b).ipv4(), Some([192, 0, 2, 1]));
    assert_eq!(n.dst.addr(&b).bits8(), Some(7));
    assert_eq!(n.contracts.on_time, Some(11));
    assert_eq!(n.contracts.on_time_value(), Some(15));
    assert_eq!(
        all(&b, &n),
        vec![ContractRef::OnTime {
            off: 11,
            v: OnTime {
                damper_ns: 50_000,
                prio: 5,
                flags: OnTime::DI
            }
        }]
    );
    assert_eq!(n.payload(&b), &[0]);
}

#[test]
fn vector_unknown_tlv() {
    let b = v(UNKNOWN_TLV);
    let n = parse(&b).unwrap();
    assert_eq!((n.shipping_off, n.contract_off, n.payload_off), (3, 14, 27));
    assert_eq!(n.cast, Cast::Multicast);
    assert_eq!(n.dst.addr(&b).ipv4(), Some([224, 0, 0, 9]));
    assert_eq!(n.contracts.unknown_tlvs, 1);
    assert_eq!(n.contracts.count, 2);
    assert_eq!(n.contracts.max_delay, Some(21));
    assert_eq!(
        all(&b, &n),
        vec![
            ContractRef::UnknownTlv {
                off: 14,
                ty: 0x9abc,
                len: 3
            },
            ContractRef::MaxDelay {
                off: 21,
                max_allowed_delay: 100,
                delay_exp: 0
            }
        ]
    );
    assert_eq!(n.payload(&b), b"ok");
}

#[test]
fn vector_qualitative() {
    let b = v(QUALITATIVE);
    let n = parse(&b).unwrap();
    assert_eq!((n.shipping_off, n.contract_off, n.payload_off), (3, 8, 34));
    assert_eq!(n.contracts.qualitative, Some(8));
    let val = n.contracts.qualitative_value().unwrap();
    assert_eq!(
        all(&b, &n),
        vec![ContractRef::Qualitative { off: 8, count: 3 }]
    );
    let cs: Vec<Chunk> = chunks(&b, val).collect();
    assert_eq!(
        cs,
        vec![
            Chunk {
                offset: 0,
                length: 4,
                significance: 0,
                flags: 0
            },
            Chunk {
                offset: 4,
                length: 4,
                significance: 15,
                flags: 0
            },
            Chunk {
                offset: 8,
                length: 4,
                significance: 3,
                flags: 0
            },
        ]
    );
    assert_eq!(n.payload(&b).len(), 12);
    let w = v(QUALITATIVE_WASHED);
    let nw = parse(&w).unwrap();
    let cs: Vec<Chunk> = chunks(&w, nw.contracts.qualitative_value().unwrap()).collect();
    assert_eq!(
        cs[1],
        Chunk {
            offset: 4,
            length: 0,
            significance: 15,
            flags: Chunk::WASHED
        }
    );
    assert_eq!(
        cs[2],
        Chunk {
            offset: 4,
            length: 4,
            significance: 3,
            flags: 0
        }
    );
    assert_eq!(nw.payload(&w), &[0, 1, 2, 3, 8, 9, 10, 11]);
}

#[test]
fn vector_ipv6_hbh() {
    let b = v(IPV6_HBH);
    let val = find_plbf_option(&b).unwrap().unwrap();
    assert_eq!(val, IPV6_HBH_PLBF_VALUE_OFF);
    assert_eq!(
        PreciseLbf::read(&b, val),
        Some(PreciseLbf {
            min_ns: 0,
            max_ns: 1_000_000,
            experienced_ns: 10_000,
            hops: 1,
            flags: 0
        })
    );
    assert_eq!(&b[6..8], &[0, 64]); // next header HBH, hop limit 64
    assert_eq!(&b[64..68], &[0xc0, 0x00, 0xc0, 0x01]); // UDP ports 49152 -> 49153
    assert_eq!(&b[b.len() - 4..], b"ping");
}

// -------------------------------------------------------------- malformed ---

fn base() -> Vec<u8> {
    v(IPV4_NO_CONTRACT)
}

#[test]
fn malformed_names() {
    for (i, m) in Malformed::ALL.iter().enumerate() {
        assert_eq!(*m as usize, i);
        assert!(m.name().starts_with("malformed-newip-"), "{}", m.name());
        assert_eq!(m.to_string(), m.name());
    }
    let mut names: Vec<_> = Malformed::ALL.iter().map(|m| m.name()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), Malformed::ALL.len());
    for (i, m) in HbhMalformed::ALL.iter().enumerate() {
        assert_eq!(*m as usize, i);
        assert!(m.name().starts_with("malformed-hbh-"));
    }
}

#[test]
fn malformed_truncated() {
    assert_eq!(parse(&[]), Err(Malformed::Truncated));
    assert_eq!(parse(&[3, 0]), Err(Malformed::Truncated));
    assert_eq!(parse(&[3, 0, 3]), Err(Malformed::Truncated));
    assert_eq!(parse(&[3, 0, 5, 0, 0]), Err(Malformed::Truncated));
}

#[test]
fn malformed_offsets() {
    let mut b = base();
    b[0] = 2; // shipping offset < 3
    assert_eq!(parse(&b), Err(Malformed::Offsets));
    let mut b = base();
    b[2] = b.len() as u8 + 1; // payload past the frame
    assert_eq!(parse(&b), Err(Malformed::Offsets));
    let mut b = v(BITS8_LBF);
    b[1] = 20; // contract == payload offset
    assert_eq!(parse(&b), Err(Malformed::Offsets));
    let mut b = v(BITS8_LBF);
    b[1] = 3; // contract at shipping offset
    assert_eq!(parse(&b), Err(Malformed::Offsets));
    let mut b = v(BITS8_LBF);
    b[1] = 21; // contract after payload
    assert_eq!(parse(&b), Err(Malformed::Offsets));
    // payload before shipping
    assert_eq!(
        parse(&[5, 0, 4, 0, 0, 0, 0, 0, 0, 0]),
        Err(Malformed::Offsets)
    );
    // shipping spec does not fit before the payload offset
    assert_eq!(parse(&[3, 0, 4, 2, 2, 0, 1, 1]), Err(Malformed::Offsets));
}

#[test]
fn malformed_addr_type() {
    let mut b = base();
    b[3] = 5;
    assert_eq!(parse(&b), Err(Malformed::AddrType));
    let mut b = base();
    b[4] = 0xff;
    assert_eq!(parse(&b), Err(Malformed::AddrType));
}

#[test]
fn malformed_cast() {
    let mut b = base();
    b[5] = 5;
    assert_eq!(parse(&b), Err(Malformed::Cast));
}

#[test]
fn malformed_addr_length() {
    let mut b = base();
    b[2] = 13; // payload offset cuts the destination
    assert_eq!(parse(&b), Err(Malformed::AddrLength));
    let mut b = base();
    b[4] = 1; // IPv6 destination does not fit
    assert_eq!(parse(&b), Err(Malformed::AddrLength));
    let mut b = v(BITS8_LBF);
    b[1] = 7; // contract offset cuts the destination
    assert_eq!(parse(&b), Err(Malformed::AddrLength));
    // Flex length byte itself past the limit
    assert_eq!(parse(&[3, 0, 7, 2, 4, 0, 1, 9]), Err(Malformed::AddrLength));
    // Flex length 5 but only 2 bytes before the payload
    let mut b = v(FLEX_PRECISE_LBF);
    b[10] = 6;
    assert_eq!(parse(&b), Err(Malformed::AddrLength));
}

#[test]
fn malformed_flex_length() {
    let mut b = v(FLEX_PRECISE_LBF);
    b[6] = 0;
    assert_eq!(parse(&b), Err(Malformed::FlexLength));
    let mut b = v(FLEX_PRECISE_LBF);
    b[10] = 33;
    assert_eq!(parse(&b), Err(Malformed::FlexLength));
}

#[test]
fn malformed_contract_truncated() {
    // Max Delay with the payload offset 2 bytes early
    let mut b = v(IPV6_MAX_DELAY);
    b[2] -= 2;
    assert_eq!(parse(&b), Err(Malformed::ContractTruncated));
    // one byte of contract type
    let mut b = v(BITS8_LBF);
    b[2] = 9;
    assert_eq!(parse(&b), Err(Malformed::ContractTruncated));
    // TLV header cut
    let mut b = v(FLEX_PRECISE_LBF);
    b[2] = 19;
    assert_eq!(parse(&b), Err(Malformed::ContractTruncated));
    // Ping cut
    let mut b = v(BITS16_PING);
    b[2] = 23;
    assert_eq!(parse(&b), Err(Malformed::ContractTruncated));
}

#[test]
fn malformed_contract_unknown() {
    for ty in [0u16, 4, 0x7fff] {
        let mut b = v(IPV6_MAX_DELAY);
        b[38..40].copy_from_slice(&ty.to_be_bytes());
        assert_eq!(parse(&b), Err(Malformed::ContractUnknown), "{ty}");
    }
}

#[test]
fn malformed_tlv_length() {
    // precise LBF claiming 17 bytes
    let mut b = v(FLEX_PRECISE_LBF);
    b[19] = 17;
    assert_eq!(parse(&b), Err(Malformed::TlvLength));
    // precise LBF with the right area but wrong length
    let mut b = v(FLEX_PRECISE_LBF);
    b[19] = 12;
    assert_eq!(parse(&b), Err(Malformed::TlvLength));
    // on-time wrong length
    let mut b = v(ASYM_ON_TIME);
    b[14] = 4;
    assert_eq!(parse(&b), Err(Malformed::TlvLength));
    // unknown TLV running past the contract area
    let mut b = v(UNKNOWN_TLV);
    b[17] = 40;
    assert_eq!(parse(&b), Err(Malformed::TlvLength));
    // qualitative count not matching its length
    let mut b = v(QUALITATIVE);
    b[12] = 2;
    assert_eq!(parse(&b), Err(Malformed::TlvLength));
    // qualitative shorter than its fixed part
    let b = PacketDesc::new(Address::Bits8(1), Address::Bits8(2))
        .contract(ContractDesc::Tlv {
            ty: CT_QUALITATIVE,
            value: vec![0, 0],
        })
        .build()
        .unwrap();
    assert_eq!(parse(&b), Err(Malformed::TlvLength));
}

fn qual_with(chs: &[Chunk], plen: usize) -> Vec<u8> {
    PacketDesc::new(Address::Bits8(1), Address::Bits8(2))
        .contract(ContractDesc::Qualitative(chs.to_vec()))
        .payload(vec![0u8; plen])
        .build()
        .unwrap()
}

#[test]
fn malformed_chunks() {
    let c = |offset, length| Chunk {
        offset,
        length,
        significance: 1,
        flags: 0,
    };
    // overlapping
    assert_eq!(
        parse(&qual_with(&[c(0, 4), c(3, 2)], 10)),
        Err(Malformed::Chunks)
    );
    // unsorted
    assert_eq!(
        parse(&qual_with(&[c(5, 2), c(0, 2)], 10)),
        Err(Malformed::Chunks)
    );
    // outside the payload
    assert_eq!(parse(&qual_with(&[c(8, 3)], 10)), Err(Malformed::Chunks));
    assert_eq!(parse(&qual_with(&[c(11, 0)], 10)), Err(Malformed::Chunks));
    // fine: touching, empty and ending exactly at the end
    assert!(parse(&qual_with(&[c(0, 4), c(4, 0), c(4, 6)], 10)).is_ok());
}

#[test]
fn duplicate_contracts_first_kept_all_iterated() {
    let b = PacketDesc::new(Address::Bits8(1), Address::Bits8(2))
        .contract(ContractDesc::MaxDelay {
            max_allowed_delay: 300,
            delay_exp: 0,
        })
        .contract(ContractDesc::Ping {
            code: 0,
            hops: 255,
            timestamp: 0,
        })
        .contract(ContractDesc::MaxDelay {
            max_allowed_delay: 100,
            delay_exp: 0,
        })
        .contract(ContractDesc::PreciseLbf(PreciseLbf {
            max_ns: 5,
            ..Default::default()
        }))
        .contract(ContractDesc::Lbf {
            min_delay: 0,
            max_delay: 9,
            experienced_delay: 0,
            fib_todelay: 0,
            fib_tohops: 1,
        })
        .build()
        .unwrap();
    let n = parse(&b).unwrap();
    assert_eq!(n.contracts.max_delay, Some(8));
    assert_eq!(n.contracts.deadlines, 4);
    assert_eq!(n.contracts.count, 5);
    let d: Vec<u16> = deadline_contracts(&b, &n)
        .map(|r| r.unwrap().ty())
        .collect();
    assert_eq!(d, vec![1, 1, 0x8001, 2]);
    let offs: Vec<usize> = deadline_contracts(&b, &n)
        .map(|r| r.unwrap().off())
        .collect();
    assert_eq!(offs, vec![8, 28, 34, 54]);
    assert_eq!(
        contract_at(&b, &n, 28).unwrap(),
        ContractRef::MaxDelay {
            off: 28,
            max_allowed_delay: 100,
            delay_exp: 0
        }
    );
    assert!(contract_at(&b, &n, 9).is_err());
    assert!(contract_at(&b, &n, usize::MAX).is_err());
}

#[test]
fn iterator_reports_error_once() {
    let good = v(IPV6_MAX_DELAY);
    let n = parse(&good).unwrap();
    let mut bad = good.clone();
    bad[38] = 0;
    bad[39] = 9;
    let r: Vec<_> = contracts(&bad, &n).collect();
    assert_eq!(r, vec![Err(Malformed::ContractUnknown)]);
}

// ---------------------------------------------------------------- setters ---

#[test]
fn set_max_delay() {
    let mut b = v(IPV6_MAX_DELAY);
    let n = parse(&b).unwrap();
    let off = n.contracts.max_delay.unwrap() as usize;
    assert!(set_delay_exp(&mut b, off, 77));
    assert_eq!(
        contract_at(&b, &n, off).unwrap(),
        ContractRef::MaxDelay {
            off,
            max_allowed_delay: 500,
            delay_exp: 77
        }
    );
    assert!(!set_delay_exp(&mut b, off + 1, 1));
    assert!(!set_delay_exp(&mut b, 1000, 1));
    assert!(!set_delay_exp(&mut b, usize::MAX, 1));
    assert!(!set_lbf_fib_tohops(&mut b, off, 1), "wrong type rejected");
    assert_eq!(parse(&b).unwrap(), n);
}

#[test]
fn set_lbf() {
    let mut b = v(BITS8_LBF);
    let n = parse(&b).unwrap();
    let off = n.contracts.lbf.unwrap() as usize;
    assert!(set_lbf_experienced_delay(&mut b, off, 123));
    assert!(set_lbf_fib_tohops(&mut b, off, 2));
    assert!(set_lbf_fib_todelay(&mut b, off, 4));
    assert_eq!(
        contract_at(&b, &n, off).unwrap(),
        ContractRef::Lbf {
            off,
            min_delay: 10,
            max_delay: 50,
            experienced_delay: 123,
            fib_todelay: 4,
            fib_tohops: 2
        }
    );
    assert!(!set_lbf_experienced_delay(&mut b, usize::MAX - 1, 1));
    assert!(!set_lbf_fib_tohops(&mut b[..15], off, 1), "short buffer");
}

#[test]
fn set_ping_and_swap_same_len() {
    let mut b = v(BITS16_PING);
    let n = parse(&b).unwrap();
    let off = n.contracts.ping.unwrap() as usize;
    assert!(set_ping_code(&mut b, off, 1));
    assert!(set_ping_hops(&mut b, off, 254));
    assert!(set_ping_timestamp(&mut b, off, 42));
    assert_eq!(
        contract_at(&b, &n, off).unwrap(),
        ContractRef::Ping {
            off,
            code: 1,
            hops: 254,
            timestamp: 42
        }
    );
    let n2 = swap_addresses(&mut b, &n).unwrap();
    assert_eq!(n2.src.addr(&b).bits16(), Some(0x0304));
    assert_eq!(n2.dst.addr(&b).bits16(), Some(0x0102));
    assert_eq!(parse(&b).unwrap(), n2);
    assert!(!set_ping_code(&mut b, off + 2, 1));
}

#[test]
fn swap_different_lengths_and_types() {
    let descs = [
        (Address::Ipv4([1, 2, 3, 4]), Address::Ipv6(v6(9))),
        (Address::Flex(vec![1, 2, 3]), Address::Bits8(7)),
        (Address::Flex(vec![1]), Address::Flex(vec![5, 6, 7, 8, 9])),
        (Address::Bits16(0xabcd), Address::Flex(vec![1, 2])),
    ];
    for (s, d) in descs {
        let pd = PacketDesc::new(s.clone(), d.clone())
            .contract(ContractDesc::Ping {
                code: 0,
                hops: 255,
                timestamp: 7,
            })
            .payload(b"pay".to_vec());
        let mut b = pd.build().unwrap();
        let n = parse(&b).unwrap();
        let n2 = swap_addresses(&mut b, &n).unwrap();
        assert_eq!(parse(&b).unwrap(), n2);
        let back = PacketDesc::new(d.clone(), s.clone())
            .contract(ContractDesc::Ping {
                code: 0,
                hops: 255,
                timestamp: 7,
            })
            .payload(b"pay".to_vec())
            .build()
            .unwrap();
        assert_eq!(b, back, "{s:?} {d:?}");
    }
    // A NewIp that does not describe the buffer is refused, nothing written.
    let mut b = v(BITS16_PING);
    let mut n = parse(&b).unwrap();
    n.dst.off = 200;
    let before = b.clone();
    assert_eq!(swap_addresses(&mut b, &n), Err(SwapError::DoesNotFit));
    assert_eq!(b, before);
}

#[test]
fn set_plbf() {
    let mut b = v(FLEX_PRECISE_LBF);
    let n = parse(&b).unwrap();
    let val = n.contracts.precise_lbf_value().unwrap();
    assert!(set_plbf_experienced_ns(&mut b, val, 7));
    assert!(set_plbf_hops(&mut b, val, 9));
    assert!(set_plbf_flags(&mut b, val, 0));
    assert_eq!(
        PreciseLbf::read(&b, val),
        Some(PreciseLbf {
            min_ns: 0,
            max_ns: 2_000_000,
            experienced_ns: 7,
            hops: 9,
            flags: 0
        })
    );
    let after = plbf_on_transmit(&mut b, val, 1000).unwrap();
    assert_eq!((after.experienced_ns, after.hops), (1007, 10));
    assert_eq!(PreciseLbf::read(&b, val), Some(after));
    assert!(!set_plbf_experienced_ns(&mut b, usize::MAX, 1));
    let l = b.len();
    assert!(!set_plbf_hops(&mut b, l - 13, 1));
    assert!(!set_plbf_flags(&mut b, l, 1));
    assert!(plbf_on_transmit(&mut b, usize::MAX, 1).is_none());
    assert_eq!(parse(&b).unwrap(), n);
}

#[test]
fn set_on_time() {
    let mut b = v(ASYM_ON_TIME);
    let n = parse(&b).unwrap();
    let val = n.contracts.on_time_value().unwrap();
    assert!(set_on_time_damper_ns(&mut b, val, 99));
    assert!(set_on_time_flags(&mut b, val, OnTime::DI | OnTime::DS));
    assert_eq!(
        OnTime::read(&b, val),
        Some(OnTime {
            damper_ns: 99,
            prio: 5,
            flags: 3
        })
    );
    assert_eq!(on_time_damper_ns(&b, val), Some(99));
    assert!(!set_on_time_damper_ns(&mut b, usize::MAX, 1));
    assert!(!set_on_time_flags(&mut b, usize::MAX, 1));
}

#[test]
fn set_chunks() {
    let mut b = v(QUALITATIVE);
    let n = parse(&b).unwrap();
    let val = n.contracts.qualitative_value().unwrap();
    assert!(set_chunk_flags(&mut b, val, 2, 1));
    assert!(set_chunk_length(&mut b, val, 2, 3));
    assert!(set_chunk_offset(&mut b, val, 2, 9));
    assert_eq!(
        chunk(&b, val, 2),
        Some(Chunk {
            offset: 9,
            length: 3,
            significance: 3,
            flags: 1
        })
    );
    assert!(!set_chunk_flags(&mut b, val, 3, 1), "index past count");
    assert!(!set_chunk_length(&mut b, usize::MAX, 0, 1));
    assert!(!set_chunk_offset(&mut b, val, usize::MAX, 1));
    assert_eq!(chunk(&b, val, 3), None);
}

// ------------------------------------------------------------------- wash ---

#[test]
fn wash_order_and_partial() {
    let c = |offset, length, significance| Chunk {
        offset,
        length,
        significance,
        flags: 0,
    };
    // chunks: [0,2) s0, [2,5) s2, [5,7) s9, [7,10) s2, [10,12) s9
    let b0 = qual_with(
        &[c(0, 2, 0), c(2, 3, 2), c(5, 2, 9), c(7, 3, 2), c(10, 2, 9)],
        12,
    );
    let mut b0 = b0;
    let po = b0[2] as usize;
    for i in 0..12 {
        b0[po + i] = i as u8;
    }
    let n = parse(&b0).unwrap();
    let val = n.contracts.qualitative_value().unwrap();

    // 1 byte: the later significance-9 chunk only.
    let mut b = b0.clone();
    let o = wash(&mut b, &n, 1);
    assert_eq!(
        o,
        WashOutcome {
            removed: 2,
            chunks_washed: 1,
            reached: true
        }
    );
    b.truncate(b.len() - o.removed);
    assert_eq!(n.payload(&b), &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert_eq!(
        chunk(&b, val, 4),
        Some(Chunk {
            offset: 10,
            length: 0,
            significance: 9,
            flags: 1
        })
    );
    assert!(parse(&b).is_ok());

    // 5 bytes: both s9 (4 bytes), then the later s2.
    let mut b = b0.clone();
    let o = wash(&mut b, &n, 5);
    assert_eq!(
        o,
        WashOutcome {
            removed: 7,
            chunks_washed: 3,
            reached: true
        }
    );
    b.truncate(b.len() - o.removed);
    assert_eq!(n.payload(&b), &[0, 1, 2, 3, 4]);
    let cs: Vec<Chunk> = chunks(&b, val).collect();
    assert_eq!(
        cs,
        vec![
            c(0, 2, 0),
            c(2, 3, 2),
            Chunk {
                flags: 1,
                ..c(5, 0, 9)
            },
            Chunk {
                flags: 1,
                ..c(5, 0, 2)
            },
            Chunk {
                flags: 1,
                ..c(5, 0, 9)
            }
        ]
    );

    // Too much: everything but significance 0.
    let mut b = b0.clone();
    let o = wash(&mut b, &n, 100);
    assert_eq!(
        o,
        WashOutcome {
            removed: 10,
            chunks_washed: 4,
            reached: false
        }
    );
    b.truncate(b.len() - o.removed);
    assert_eq!(n.payload(&b), &[0, 1]);
    assert!(parse(&b).is_ok());

    // Nothing asked: nothing done.
    let mut b = b0.clone();
    assert_eq!(
        wash(&mut b, &n, 0),
        WashOutcome {
            removed: 0,
            chunks_washed: 0,
            reached: true
        }
    );
    assert_eq!(b, b0);

    // Washing again after everything is washed removes nothing.
    let mut b = b0.clone();
    let o = wash(&mut b, &n, 100);
    b.truncate(b.len() - o.removed);
    let n2 = parse(&b).unwrap();
    let o2 = wash(&mut b, &n2, 1);
    assert_eq!(
        o2,
        WashOutcome {
            removed: 0,
            chunks_washed: 0,
            reached: false
        }
    );
}

#[test]
fn wash_without_qualitative_is_noop() {
    let mut b = v(BITS8_LBF);
    let n = parse(&b).unwrap();
    let before = b.clone();
    assert_eq!(
        wash(&mut b, &n, 10),
        WashOutcome {
            removed: 0,
            chunks_washed: 0,
            reached: false
        }
    );
    assert_eq!(b, before);
    // mismatched NewIp: chunk table claims more than the buffer
    let b2 = v(QUALITATIVE);
    let n2 = parse(&b2).unwrap();
    let mut short = b2[..30].to_vec();
    let o = wash(&mut short, &n2, 4);
    assert_eq!(o.removed, 0);
}

// -------------------------------------------------------------------- hbh ---

fn hbh_packet(opts: &[u8]) -> Vec<u8> {
    // opts: the option bytes; HBH total = 2 + opts.len(), must be multiple of 8
    assert_eq!((2 + opts.len()) % 8, 0);
    let mut p = v(IPV6_HBH)[..40].to_vec();
    let plen = (2 + opts.len() + 8) as u16;
    p[4..6].copy_from_slice(&plen.to_be_bytes());
    p.push(17);
    p.push(((2 + opts.len()) / 8 - 1) as u8);
    p.extend_from_slice(opts);
    p.extend_from_slice(&[0; 8]);
    p
}

#[test]
fn hbh_walks_pad_and_unknown_options() {
    let mut opts = vec![0u8, 1, 3, 0, 0, 0, 0x05, 2, 0, 0]; // Pad1, PadN(3), router alert
    opts.extend_from_slice(&[0x3e, 16]);
    opts.extend_from_slice(
        &PreciseLbf {
            max_ns: 9,
            ..Default::default()
        }
        .to_bytes(),
    );
    while (2 + opts.len()) % 8 != 0 {
        opts.push(0);
    }
    let mut p = hbh_packet(&opts);
    let val = find_plbf_option(&p).unwrap().unwrap();
    assert_eq!(val, 40 + 2 + 10 + 2);
    assert_eq!(PreciseLbf::read(&p, val).unwrap().max_ns, 9);
    assert!(set_plbf_experienced_ns(&mut p, val, 5));
    assert!(set_plbf_hops(&mut p, val, 1));
    assert_eq!(PreciseLbf::read(&p, val).unwrap().experienced_ns, 5);
    assert_eq!(find_plbf_option(&p), Ok(Some(val)));
}

#[test]
fn hbh_absent() {
    let mut p = v(IPV6_HBH);
    p[6] = 17; // no HBH
    assert_eq!(find_plbf_option(&p), Ok(None));
    let p = hbh_packet(&[1, 4, 0, 0, 0, 0]); // only PadN
    assert_eq!(find_plbf_option(&p), Ok(None));
}

#[test]
fn hbh_malformed() {
    assert_eq!(find_plbf_option(&[0x60; 39]), Err(HbhMalformed::Truncated));
    let mut p = v(IPV6_HBH);
    p[0] = 0x40; // not version 6
    assert_eq!(find_plbf_option(&p), Err(HbhMalformed::Truncated));
    let mut p = v(IPV6_HBH);
    p[41] = 9; // HBH header longer than the packet
    assert_eq!(find_plbf_option(&p), Err(HbhMalformed::Truncated));
    let p = v(IPV6_HBH);
    assert_eq!(find_plbf_option(&p[..50]), Err(HbhMalformed::Truncated));
    let mut p = v(IPV6_HBH);
    p[4..6].copy_from_slice(&10u16.to_be_bytes()); // payload length shorter than HBH
    assert_eq!(find_plbf_option(&p), Err(HbhMalformed::Truncated));
    // PadN running past the header
    let p = hbh_packet(&[1, 5, 0, 0, 0, 0]);
    assert_eq!(find_plbf_option(&p), Err(HbhMalformed::OptionLength));
    // option type in the last byte, no room for its length
    let p = hbh_packet(&[0, 0, 0, 0, 0, 7]);
    assert_eq!(find_plbf_option(&p), Err(HbhMalformed::OptionLength));
    // 0x3E with data length 4
    let p = hbh_packet(&[0x3e, 4, 0, 0, 0, 0]);
    assert_eq!(find_plbf_option(&p), Err(HbhMalformed::PlbfLength));
}

#[test]
fn ethernet_helpers() {
    let l3 = v(IPV4_NO_CONTRACT);
    let f = ethernet_frame([2; 6], [4; 6], ETHERTYPE_NEWIP, None, &l3);
    assert_eq!(ethernet_payload(&f), Some((ETHERTYPE_NEWIP, 14)));
    let f = ethernet_frame([2; 6], [4; 6], ETHERTYPE_NEWIP, Some(100), &l3);
    assert_eq!(f.len(), 18 + l3.len());
    assert_eq!(ethernet_payload(&f), Some((ETHERTYPE_NEWIP, 18)));
    let (_, off) = ethernet_payload(&f).unwrap();
    assert!(parse(&f[off..]).is_ok());
    assert_eq!(ethernet_payload(&f[..13]), None);
}

#[test]
fn build_errors() {
    assert_eq!(
        PacketDesc::new(Address::Flex(vec![]), Address::Bits8(1)).build(),
        Err(BuildError::FlexLength)
    );
    assert_eq!(
        PacketDesc::new(Address::Flex(vec![0; 33]), Address::Bits8(1)).build(),
        Err(BuildError::FlexLength)
    );
    let big = PacketDesc::new(Address::Ipv6([0; 16]), Address::Ipv6([0; 16])).contract(
        ContractDesc::Tlv {
            ty: 0x8100,
            value: vec![0; 250],
        },
    );
    assert_eq!(big.build(), Err(BuildError::HeaderTooLong));
    let not_tlv =
        PacketDesc::new(Address::Bits8(0), Address::Bits8(1)).contract(ContractDesc::Tlv {
            ty: 5,
            value: vec![],
        });
    assert_eq!(not_tlv.build(), Err(BuildError::NotTlv));
    let many = PacketDesc::new(Address::Bits8(0), Address::Bits8(1))
        .contract(ContractDesc::Qualitative(vec![Chunk::default(); 256]));
    assert_eq!(many.build(), Err(BuildError::TooManyChunks));
}


/// The shortcut parser against the general one: whenever `parse_simple`
/// answers, `parse` accepts the packet with the same destination and exactly
/// that one contract; and every packet of the simple shape is recognised.
fn simple_agrees_with_parse(buf: &[u8]) {
    let full = parse(buf);
    match (parse_simple(buf), full) {
        (Some(s), Ok(n)) => {
            assert_eq!(n.cast, Cast::Unicast, "{}", hex(buf));
            assert_eq!(n.dst, s.dst, "{}", hex(buf));
            let one = |o: u8| Some(o);
            let want = match s.contract {
                Single::None => Contracts::default(),
                Single::MaxDelay(o) => Contracts { max_delay: one(o), deadlines: 1, count: 1, ..Contracts::default() },
                Single::Lbf(o) => Contracts { lbf: one(o), deadlines: 1, count: 1, ..Contracts::default() },
                Single::PreciseLbf(o) => Contracts { precise_lbf: one(o), deadlines: 1, count: 1, ..Contracts::default() },
            };
            assert_eq!(n.contracts, want, "{}", hex(buf));
        }
        (Some(s), Err(m)) => panic!("shortcut accepted {s:?} but parse says {m:?}: {}", hex(buf)),
        (None, Ok(n)) => {
            let c = n.contracts;
            let one_fixed = c.count == 1 && c.deadlines == 1 && (c.max_delay.is_some() || c.lbf.is_some() || c.precise_lbf.is_some());
            let simple_shape = n.cast == Cast::Unicast
                && n.src.ty != AddrType::Flex
                && n.dst.ty != AddrType::Flex
                && (c == Contracts::default() || one_fixed);
            assert!(!simple_shape, "shortcut missed a simple packet: {}", hex(buf));
        }
        (None, Err(_)) => {}
    }
}

#[test]
fn simple_shortcut_on_vectors() {
    let mut recognised = 0;
    for (_, h) in vectors::NEWIP_VECTORS {
        let b = vectors::decode_hex(h).unwrap();
        simple_agrees_with_parse(&b);
        recognised += parse_simple(&b).is_some() as usize;
    }
    assert!(recognised >= 3, "the plain vectors take the shortcut ({recognised})");
    // A contract area longer than the single contract is not simple.
    let d = PacketDesc {
        src: Address::Ipv4([1, 2, 3, 4]),
        dst: Address::Bits16(7),
        cast: Cast::Unicast,
        contracts: vec![ContractDesc::MaxDelay { max_allowed_delay: 9, delay_exp: 1 }, ContractDesc::MaxDelay { max_allowed_delay: 5, delay_exp: 0 }],
        payload: vec![1],
    };
    let b = d.build().unwrap();
    assert_eq!(parse_simple(&b), None);
    simple_agrees_with_parse(&b);
}

// -------------------------------------------------------------- proptests ---

fn arb_addr() -> impl Strategy<Value = Address> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(Address::Ipv4),
        any::<[u8; 16]>().prop_map(Address::Ipv6),
        any::<u8>().prop_map(Address::Bits8),
        any::<u16>().prop_map(Address::Bits16),
        proptest::collection::vec(any::<u8>(), 1..=32).prop_map(Address::Flex),
    ]
}

fn arb_cast() -> impl Strategy<Value = Cast> {
    (0u8..5).prop_map(|c| Cast::from_u8(c).unwrap())
}

fn arb_plbf() -> impl Strategy<Value = PreciseLbf> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(a, b, c, d, e)| PreciseLbf {
            min_ns: a,
            max_ns: b,
            experienced_ns: c,
            hops: d,
            flags: e,
        })
}

/// Chunks covering a payload of `plen` bytes: sorted, non-overlapping, with
/// gaps.
fn arb_chunks_payload() -> impl Strategy<Value = (Vec<Chunk>, Vec<u8>)> {
    proptest::collection::vec((0u16..6, 0u16..12, 0u8..16, any::<bool>()), 0..8).prop_flat_map(
        |spec| {
            let mut pos = 0u16;
            let mut cs = Vec::new();
            for (gap, len, sig, washed) in spec {
                pos += gap;
                let (length, flags) = if washed { (0, 1) } else { (len, 0) };
                cs.push(Chunk {
                    offset: pos,
                    length,
                    significance: sig,
                    flags,
                });
                pos += length;
            }
            let plen = pos as usize;
            (
                Just(cs),
                proptest::collection::vec(any::<u8>(), plen..plen + 6),
            )
        },
    )
}

fn arb_contract() -> impl Strategy<Value = ContractDesc> {
    prop_oneof![
        (any::<u16>(), any::<u16>()).prop_map(|(a, b)| ContractDesc::MaxDelay {
            max_allowed_delay: a,
            delay_exp: b
        }),
        any::<[u16; 5]>().prop_map(|x| ContractDesc::Lbf {
            min_delay: x[0],
            max_delay: x[1],
            experienced_delay: x[2],
            fib_todelay: x[3],
            fib_tohops: x[4]
        }),
        (any::<u16>(), any::<u16>(), any::<u64>()).prop_map(|(c, h, t)| ContractDesc::Ping {
            code: c,
            hops: h,
            timestamp: t
        }),
        arb_plbf().prop_map(ContractDesc::PreciseLbf),
        (any::<u32>(), 0u8..8, 0u8..4).prop_map(|(d, p, f)| ContractDesc::OnTime(OnTime {
            damper_ns: d,
            prio: p,
            flags: f
        })),
        (
            0x8004u16..=0xffff,
            proptest::collection::vec(any::<u8>(), 0..12)
        )
            .prop_map(|(ty, value)| ContractDesc::Tlv { ty, value }),
    ]
}

fn expect_ref(c: &ContractDesc, off: usize) -> ContractRef {
    match c {
        ContractDesc::MaxDelay {
            max_allowed_delay,
            delay_exp,
        } => ContractRef::MaxDelay {
            off,
            max_allowed_delay: *max_allowed_delay,
            delay_exp: *delay_exp,
        },
        ContractDesc::Lbf {
            min_delay,
            max_delay,
            experienced_delay,
            fib_todelay,
            fib_tohops,
        } => ContractRef::Lbf {
            off,
            min_delay: *min_delay,
            max_delay: *max_delay,
            experienced_delay: *experienced_delay,
            fib_todelay: *fib_todelay,
            fib_tohops: *fib_tohops,
        },
        ContractDesc::Ping {
            code,
            hops,
            timestamp,
        } => ContractRef::Ping {
            off,
            code: *code,
            hops: *hops,
            timestamp: *timestamp,
        },
        ContractDesc::PreciseLbf(v) => ContractRef::PreciseLbf { off, v: *v },
        ContractDesc::OnTime(v) => ContractRef::OnTime { off, v: *v },
        ContractDesc::Qualitative(c) => ContractRef::Qualitative {
            off,
            count: c.len() as u8,
        },
        ContractDesc::Tlv { ty, value } => ContractRef::UnknownTlv {
            off,
            ty: *ty,
            len: value.len() as u16,
        },
    }
}

fn check_offsets_inside(buf: &[u8], n: &NewIp) {
    let len = buf.len();
    assert!(n.shipping_off >= 3 && (n.shipping_off as usize) + 3 <= len);
    assert!((n.payload_off as usize) <= len);
    assert!(
        n.contract_off == 0 || (n.contract_off > n.shipping_off && n.contract_off < n.payload_off)
    );
    for a in [n.src, n.dst] {
        assert!(a.off as usize + a.len as usize <= n.shipping_end());
        assert_eq!(a.bytes(buf).len(), a.len as usize);
    }
    let c = n.contracts;
    for o in [
        c.max_delay,
        c.lbf,
        c.ping,
        c.precise_lbf,
        c.on_time,
        c.qualitative,
    ]
    .into_iter()
    .flatten()
    {
        assert!(o >= n.contract_off && o < n.payload_off);
    }
    let mut count = 0;
    for r in contracts(buf, n) {
        let r = r.expect("parse accepted, iterator must too");
        assert!(r.off() < n.payload_off as usize);
        count += 1;
    }
    assert_eq!(count, c.count as usize);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn prop_round_trip(src in arb_addr(), dst in arb_addr(), cast in arb_cast(),
                       cs in proptest::collection::vec(arb_contract(), 0..5),
                       qual in proptest::option::of(arb_chunks_payload()),
                       payload in proptest::collection::vec(any::<u8>(), 0..40)) {
        let mut d = PacketDesc { src: src.clone(), dst: dst.clone(), cast, contracts: cs, payload };
        if let Some((chs, p)) = qual {
            d.contracts.push(ContractDesc::Qualitative(chs));
            d.payload = p;
        }
        let b = match d.build() { Ok(b) => b, Err(BuildError::HeaderTooLong) => return Ok(()), Err(e) => panic!("{e:?}") };
        let n = parse(&b).unwrap();
        check_offsets_inside(&b, &n);
        simple_agrees_with_parse(&b);
        prop_assert_eq!(n.src.addr(&b), Addr { ty: src.ty(), bytes: &src.bytes() });
        prop_assert_eq!(n.dst.addr(&b), Addr { ty: dst.ty(), bytes: &dst.bytes() });
        prop_assert_eq!(n.cast, cast);
        prop_assert_eq!(n.payload(&b), &d.payload[..]);
        let got = all(&b, &n);
        prop_assert_eq!(got.len(), d.contracts.len());
        let mut off = n.contract_off as usize;
        for (g, c) in got.iter().zip(&d.contracts) {
            prop_assert_eq!(*g, expect_ref(c, off));
            let mut enc = Vec::new();
            c.encode(&mut enc).unwrap();
            off += enc.len();
            if let ContractDesc::Qualitative(chs) = c {
                let back: Vec<Chunk> = chunks(&b, g.value_off().unwrap()).collect();
                prop_assert_eq!(&back, chs);
            }
        }
        if !d.contracts.is_empty() {
            prop_assert_eq!(off, n.payload_off as usize);
        } else {
            prop_assert_eq!(n.contract_off, 0);
        }
        // summary = first of each kind
        let first = |t: u16| got.iter().find(|c| c.ty() == t).map(|c| c.off() as u8);
        prop_assert_eq!(n.contracts.max_delay, first(CT_MAX_DELAY));
        prop_assert_eq!(n.contracts.lbf, first(CT_LBF));
        prop_assert_eq!(n.contracts.ping, first(CT_PING));
        prop_assert_eq!(n.contracts.precise_lbf, first(CT_PRECISE_LBF));
        prop_assert_eq!(n.contracts.on_time, first(CT_ON_TIME));
        prop_assert_eq!(n.contracts.qualitative, first(CT_QUALITATIVE));
        prop_assert_eq!(n.contracts.unknown_tlvs as usize, got.iter().filter(|c| matches!(c, ContractRef::UnknownTlv{..})).count());
        prop_assert_eq!(n.contracts.deadlines as usize, got.iter().filter(|c| c.has_deadline()).count());
        // swapping twice gives the original bytes back
        let mut s = b.clone();
        let n2 = swap_addresses(&mut s, &n).unwrap();
        prop_assert_eq!(parse(&s).unwrap(), n2);
        swap_addresses(&mut s, &n2).unwrap();
        prop_assert_eq!(&s, &b);
    }

    #[test]
    fn prop_parse_never_panics(buf in proptest::collection::vec(any::<u8>(), 0..300)) {
        simple_agrees_with_parse(&buf);
        if let Ok(n) = parse(&buf) {
            check_offsets_inside(&buf, &n);
            let mut b = buf.clone();
            let _ = wash(&mut b, &n, 7);
            let _ = swap_addresses(&mut b, &n);
        }
        let _ = find_plbf_option(&buf);
    }

    #[test]
    fn prop_parse_mutated_never_panics(src in arb_addr(), dst in arb_addr(),
                                       cs in proptest::collection::vec(arb_contract(), 0..4),
                                       flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
                                       cut in any::<usize>()) {
        let d = PacketDesc { src, dst, cast: Cast::Unicast, contracts: cs, payload: vec![1, 2, 3] };
        let Ok(mut b) = d.build() else { return Ok(()) };
        for (i, x) in flips { let l = b.len(); b[i % l] = x; }
        let l = b.len();
        b.truncate(cut % (l + 1));
        simple_agrees_with_parse(&b);
        if let Ok(n) = parse(&b) {
            check_offsets_inside(&b, &n);
        }
    }

    #[test]
    fn prop_setters_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..64), off in any::<usize>(), small in 0usize..80, x in any::<u32>()) {
        let mut b = buf;
        for o in [off, small] {
            let _ = set_delay_exp(&mut b, o, x as u16);
            let _ = set_lbf_experienced_delay(&mut b, o, x as u16);
            let _ = set_lbf_fib_tohops(&mut b, o, x as u16);
            let _ = set_lbf_fib_todelay(&mut b, o, x as u16);
            let _ = set_ping_code(&mut b, o, 1);
            let _ = set_ping_hops(&mut b, o, 1);
            let _ = set_ping_timestamp(&mut b, o, 1);
            let _ = set_plbf_experienced_ns(&mut b, o, x);
            let _ = set_plbf_hops(&mut b, o, 1);
            let _ = set_plbf_flags(&mut b, o, 1);
            let _ = plbf_on_transmit(&mut b, o, x);
            let _ = set_on_time_damper_ns(&mut b, o, x);
            let _ = set_on_time_flags(&mut b, o, 1);
            let _ = set_chunk_flags(&mut b, o, small, 1);
            let _ = set_chunk_length(&mut b, o, off, 1);
            let _ = set_chunk_offset(&mut b, o, small, 1);
            let _ = chunk(&b, o, off);
            let _ = PreciseLbf::read(&b, o);
            let _ = OnTime::read(&b, o);
        }
    }

    #[test]
    fn prop_hbh_never_panics(opts in proptest::collection::vec(any::<u8>(), 0..40), nh in prop_oneof![Just(0u8), any::<u8>()], extlen in any::<u8>()) {
        let mut p = v(IPV6_HBH)[..40].to_vec();
        p[6] = nh;
        p.push(17);
        p.push(extlen);
        p.extend_from_slice(&opts);
        if let Ok(Some(val)) = find_plbf_option(&p) {
            prop_assert!(val + 16 <= p.len());
            prop_assert_eq!(p[val - 2], 0x3e);
            prop_assert!(set_plbf_experienced_ns(&mut p, val, 1));
        }
    }

    #[test]
    fn prop_hbh_round_trip(plbf in arb_plbf(), payload in proptest::collection::vec(any::<u8>(), 0..30)) {
        let mut d = ipv6_hbh_desc();
        d.plbf = plbf;
        d.payload = payload;
        let p = build_ipv6_hbh(&d).unwrap();
        let val = find_plbf_option(&p).unwrap().unwrap();
        prop_assert_eq!(PreciseLbf::read(&p, val), Some(plbf));
    }

    #[test]
    fn prop_wash(prefix in arb_addr(), (chs, payload) in arb_chunks_payload(), target in 0usize..80) {
        let d = PacketDesc::new(prefix, Address::Bits8(2))
            .contract(ContractDesc::Qualitative(chs.clone()))
            .payload(payload.clone());
        let Ok(b0) = d.build() else { return Ok(()) };
        let n = parse(&b0).unwrap();
        let po = n.payload_off as usize;
        let val = n.contracts.qualitative_value().unwrap();
        let mut b = b0.clone();
        let o = wash(&mut b, &n, target);
        prop_assert!(o.removed <= payload.len());
        b.truncate(b.len() - o.removed);
        // Header area untouched except the chunk table's offset/length/flags.
        prop_assert_eq!(&b[..val + 4], &b0[..val + 4]);
        let n2 = parse(&b).unwrap();
        prop_assert_eq!(n2.contracts, n.contracts);
        let after: Vec<Chunk> = chunks(&b, val).collect();
        prop_assert_eq!(after.len(), chs.len());
        // Which chunks were washed now, and expected survivors of the payload.
        let mut kept = Vec::new();
        let mut washed_now = Vec::new();
        let mut removed = 0usize;
        let mut cursor = 0usize;
        for (i, (a, c)) in after.iter().zip(&chs).enumerate() {
            prop_assert_eq!(a.significance, c.significance);
            let now = c.length > 0 && a.length == 0;
            if now {
                prop_assert!(c.significance != 0, "significance 0 washed");
                prop_assert!(a.washed());
                washed_now.push(i);
            } else {
                prop_assert_eq!(a.length, c.length);
                prop_assert_eq!(a.flags, c.flags);
            }
            prop_assert_eq!(a.offset as usize, c.offset as usize - removed);
            kept.extend_from_slice(&payload[cursor..c.offset as usize]);
            if !now { kept.extend_from_slice(&payload[c.offset as usize..(c.offset + c.length) as usize]); }
            else { removed += c.length as usize; }
            cursor = (c.offset + c.length) as usize;
        }
        kept.extend_from_slice(&payload[cursor..]);
        prop_assert_eq!(removed, o.removed);
        prop_assert_eq!(washed_now.len(), o.chunks_washed as usize);
        prop_assert_eq!(&b[po..], &kept[..], "non-washed bytes preserved in order");
        // Each surviving chunk still holds its own bytes.
        for (a, c) in after.iter().zip(&chs) {
            if a.length > 0 {
                prop_assert_eq!(&b[po + a.offset as usize..po + (a.offset + a.length) as usize],
                                &payload[c.offset as usize..(c.offset + c.length) as usize]);
            }
        }
        // Order: every washed chunk ranks before every washable one left.
        let rank = |i: usize| (chs[i].significance.min(15), i);
        for &w in &washed_now {
            for (i, a) in after.iter().enumerate() {
                if a.length > 0 && a.significance != 0 {
                    prop_assert!(rank(w) > rank(i), "washed {:?} before {:?}", rank(w), rank(i));
                }
            }
        }
        let washable: usize = chs.iter().filter(|c| c.significance != 0).map(|c| c.length as usize).sum();
        prop_assert_eq!(o.reached, o.removed >= target);
        if o.reached && target > 0 {
            // minimal: without the last washed chunk we'd be short
            let last = washed_now.iter().copied().min_by_key(|&i| rank(i)).unwrap();
            prop_assert!((o.removed - chs[last].length as usize) < target);
        } else if target > 0 {
            prop_assert_eq!(o.removed, washable);
        }
    }
}

#[test]
fn small_copy_structs() {
    assert!(
        core::mem::size_of::<NewIp>() <= 32,
        "{}",
        core::mem::size_of::<NewIp>()
    );
    assert!(core::mem::size_of::<ContractRef>() <= 32);
    fn is_copy<T: Copy>() {}
    is_copy::<NewIp>();
    is_copy::<ContractRef>();
    is_copy::<Malformed>();
    is_copy::<WashOutcome>();
}

/// Found by the fuzzer: two qualitative tables over one payload. A wash by
/// the first left the second pointing past the payload; such a packet is now
/// malformed at parse (a second table is an overlapping chunk list).
#[test]
fn second_qualitative_table_is_malformed() {
    use super::build::{ContractDesc, PacketDesc, Address};
    use super::Chunk;
    let chunk = |offset, length, significance| Chunk { offset, length, significance, flags: 0 };
    let d = PacketDesc::new(Address::Bits8(1), Address::Bits8(2))
        .contract(ContractDesc::Qualitative(vec![chunk(0, 4, 0), chunk(4, 4, 5)]))
        .contract(ContractDesc::Qualitative(vec![chunk(0, 8, 0)]))
        .payload(vec![7u8; 8]);
    let b = d.build().unwrap();
    assert_eq!(super::parse(&b), Err(super::Malformed::Chunks));
    let one = PacketDesc::new(Address::Bits8(1), Address::Bits8(2))
        .contract(ContractDesc::Qualitative(vec![chunk(0, 4, 0), chunk(4, 4, 5)]))
        .payload(vec![7u8; 8]);
    assert!(super::parse(&one.build().unwrap()).is_ok());
}

#[test]
fn every_newip_malformed_maps_to_its_own_name() {
    for m in Malformed::ALL {
        assert_eq!(crate::kinds::Reason::from(m).name(), m.name());
    }
    for h in HbhMalformed::ALL {
        assert_eq!(crate::kinds::Reason::from(h).name(), h.name());
    }
}

