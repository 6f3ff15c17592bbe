//! Writes the seed corpus of both fuzz targets from the crate's own test
//! vectors and packet builders, so every committed seed has a provenance.
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example seeds [-- OUT_DIR]
//! ```
//! OUT_DIR defaults to `fuzz/corpus`; the same files go to `OUT_DIR/forward`
//! and `OUT_DIR/newip` (both targets read an Ethernet frame). File names say
//! where each seed comes from:
//! * `nv-<VECTOR>`: a New IP vector of `packet::newip::vectors` behind an
//!   Ethernet header with EtherType 0x88B6 (`nvq-` with an 802.1Q tag);
//! * `v6-IPV6_HBH`: the IPv6 Hop-by-Hop vector behind EtherType 0x86DD;
//! * `nb-<what>`: New IP packets from `packet::newip::build` that combine
//!   contracts the vectors do not (several deadlines, all TLVs, Flex
//!   addresses of the extreme lengths);
//! * `udp4-*`, `udp6-*`: `packet::build::udp4` / `udp6`;
//! * `mix-<kind>-<n>`: the first frames of `gen::Mix::generate()`;
//! * `mal-<Malformation>`: every `gen::Malformation::ALL` made from the
//!   default templates.
//!
//! In every frame the source MAC carries the `newip` target's knobs (see
//! `src/check.rs`): bytes 6-7 the wash budget, bytes 8-11 the setter value.

use newipd_tools::gen::{Kind, Malformation, Mix};
use newipd_core::wire::build::{self as b, Udp4, Udp6};
use newipd_core::wire::newip::build::{self as nb, Address, ContractDesc, PacketDesc};
use newipd_core::wire::newip::{vectors, Chunk, OnTime, PreciseLbf, ETHERTYPE_IPV6, ETHERTYPE_NEWIP};
use std::path::PathBuf;

/// Router-side MAC of the test router's port 0 (`fuzz_one`).
const DST_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];

/// Source MAC = knobs: wash budget `budget`, setter value 0x000005dc.
fn knobs(budget: u16) -> [u8; 6] {
    let b = budget.to_be_bytes();
    [b[0], b[1], 0, 0, 0x05, 0xdc]
}

fn frame(ethertype: u16, vlan: Option<u16>, budget: u16, l3: &[u8]) -> Vec<u8> {
    nb::ethernet_frame(DST_MAC, knobs(budget), ethertype, vlan, l3)
}

fn hex(s: &str) -> Vec<u8> {
    vectors::decode_hex(s).expect("vector is valid hex")
}

fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();

    for (name, h) in vectors::NEWIP_VECTORS {
        out.push((
            format!("nv-{name}"),
            frame(ETHERTYPE_NEWIP, None, 4, &hex(h)),
        ));
    }
    for name in ["QUALITATIVE", "FLEX_PRECISE_LBF"] {
        let (_, h) = vectors::NEWIP_VECTORS
            .iter()
            .find(|(n, _)| *n == name)
            .expect("vector");
        out.push((
            format!("nvq-{name}"),
            frame(ETHERTYPE_NEWIP, Some(0x0064), 9, &hex(h)),
        ));
    }
    out.push((
        "v6-IPV6_HBH".into(),
        frame(ETHERTYPE_IPV6, None, 0, &hex(vectors::IPV6_HBH)),
    ));

    let plbf = PreciseLbf {
        min_ns: 1_000,
        max_ns: 5_000_000,
        experienced_ns: 20_000,
        hops: 3,
        flags: PreciseLbf::LATE_OK,
    };
    let chunks = |sigs: &[u8]| -> Vec<Chunk> {
        sigs.iter()
            .enumerate()
            .map(|(i, &s)| Chunk {
                offset: 3 * i as u16,
                length: 3,
                significance: s,
                flags: 0,
            })
            .collect()
    };
    let built = [
        (
            "nb-three-deadlines",
            PacketDesc::new(Address::Ipv4([10, 0, 0, 9]), Address::Ipv4([10, 1, 2, 3]))
                .contract(ContractDesc::MaxDelay {
                    max_allowed_delay: 40,
                    delay_exp: 2,
                })
                .contract(ContractDesc::Lbf {
                    min_delay: 1,
                    max_delay: 30,
                    experienced_delay: 10,
                    fib_todelay: 3,
                    fib_tohops: 2,
                })
                .contract(ContractDesc::PreciseLbf(plbf))
                .payload(&b"deadline"[..]),
        ),
        (
            "nb-all-tlvs",
            PacketDesc::new(Address::Bits16(0x0304), Address::Bits8(2))
                .contract(ContractDesc::OnTime(OnTime {
                    damper_ns: 10_000,
                    prio: 7,
                    flags: OnTime::DI | OnTime::DS,
                }))
                .contract(ContractDesc::Tlv {
                    ty: 0xfffe,
                    value: vec![],
                })
                .contract(ContractDesc::Qualitative(chunks(&[16, 0, 1, 15, 0, 1])))
                .contract(ContractDesc::PreciseLbf(plbf))
                .payload((0u8..20).collect::<Vec<u8>>()),
        ),
        (
            "nb-flex-ping",
            PacketDesc::new(
                Address::Flex(vec![0x0a; 32]),
                Address::Flex(vec![0x0a, 0, 1]),
            )
            .cast(newipd_core::wire::newip::Cast::Broadcast)
            .contract(ContractDesc::Ping {
                code: 0,
                hops: 255,
                timestamp: u64::MAX,
            })
            .contract(ContractDesc::MaxDelay {
                max_allowed_delay: 0,
                delay_exp: 0,
            }),
        ),
        (
            "nb-ipv6-local-ping",
            PacketDesc::new(
                Address::Ipv6([0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]),
                Address::Ipv4([10, 0, 0, 1]),
            )
            .contract(ContractDesc::Ping {
                code: 0,
                hops: 3,
                timestamp: 42,
            })
            .payload(&b"echo"[..]),
        ),
    ];
    for (name, d) in built {
        let l3 = d.build().unwrap_or_else(|e| panic!("{name}: {e:?}"));
        out.push((name.into(), frame(ETHERTYPE_NEWIP, None, 7, &l3)));
    }

    out.push((
        "udp4-default".into(),
        b::udp4(Udp4 {
            dst_mac: DST_MAC,
            ..Default::default()
        }),
    ));
    out.push((
        "udp4-vlan-local".into(),
        b::udp4(Udp4 {
            vlan: Some(7),
            dst: 0x0a00_0001,
            ..Default::default()
        }),
    ));
    out.push((
        "udp6-default".into(),
        b::udp6(Udp6 {
            dst_mac: DST_MAC,
            ..Default::default()
        }),
    ));
    out.push((
        "udp6-vlan".into(),
        b::udp6(Udp6 {
            vlan: Some(0x0123),
            dst: 0x2001_0db8_0000_0000_0000_0000_0000_0009,
            ..Default::default()
        }),
    ));

    for (kind, label) in [
        (Kind::Ipv4, "ipv4"),
        (Kind::Ipv6, "ipv6"),
        (Kind::Mix, "mix"),
    ] {
        let g = Mix {
            kind,
            packets: 8,
            flows: 4,
            size: 60,
            seed: 7,
            ..Default::default()
        }
        .generate();
        for (i, (_, f)) in g
            .frames
            .into_iter()
            .enumerate()
            .filter(|(i, _)| *i < 2 || *i == 7)
        {
            out.push((format!("mix-{label}-{i}"), f));
        }
    }

    let (v4, v6) = (Udp4::default(), Udp6::default());
    for m in Malformation::ALL {
        out.push((format!("mal-{m:?}"), m.make(&v4, &v6)));
    }

    // Drop byte-identical seeds, keeping the first name.
    let mut seen = std::collections::HashSet::new();
    out.retain(|(_, bytes)| seen.insert(bytes.clone()));
    out
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    let seeds = seeds();
    for target in ["forward", "newip"] {
        let d = dir.join(target);
        std::fs::create_dir_all(&d).expect("create corpus dir");
        for (name, bytes) in &seeds {
            std::fs::write(d.join(name), bytes).expect("write seed");
        }
    }
    let total: usize = seeds.iter().map(|(_, b)| b.len()).sum();
    println!(
        "wrote {} seeds ({} bytes) to each of {}/{{forward,newip}}",
        seeds.len(),
        total,
        dir.display()
    );
}
