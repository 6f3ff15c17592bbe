//! Runs tshark with tools/wireshark/newip.lua over a pcap of packets built by
//! `newipd_core::wire::newip` and checks the decoded fields. Fails (does not
//! skip) when tshark is not installed.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use newipd_core::wire::newip::build::{
    build_ipv6_hbh, Address, ContractDesc, Ipv6HbhDesc, PacketDesc,
};
use newipd_core::wire::newip::{Cast, Chunk, OnTime, PreciseLbf};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};

/// Ethernet framing: fixed MACs, optional 802.1Q tag.
fn ether(ethertype: u16, vlan: Option<u16>, l3: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02];
    if let Some(tci) = vlan {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(l3);
    f
}

fn v6(last: u8) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    a[15] = last;
    a
}

fn frames() -> Vec<Vec<u8>> {
    let newip = |d: PacketDesc| ether(0x88B6, None, &d.build().expect("buildable"));
    let mut f = Vec::new();
    // 1: IPv4 -> IPv4, no contract
    f.push(newip(
        PacketDesc::new(Address::Ipv4([10, 0, 0, 1]), Address::Ipv4([10, 0, 0, 2]))
            .payload(b"hello".to_vec()),
    ));
    // 2: IPv6 -> IPv6, Max Delay, behind a VLAN tag
    let d = PacketDesc::new(Address::Ipv6(v6(1)), Address::Ipv6(v6(2)))
        .contract(ContractDesc::MaxDelay {
            max_allowed_delay: 500,
            delay_exp: 20,
        })
        .payload(b"hi".to_vec());
    f.push(ether(0x88B6, Some(100), &d.build().unwrap()));
    // 3: 8-bit, LBF
    f.push(newip(
        PacketDesc::new(Address::Bits8(1), Address::Bits8(2)).contract(ContractDesc::Lbf {
            min_delay: 10,
            max_delay: 50,
            experienced_delay: 25,
            fib_todelay: 5,
            fib_tohops: 3,
        }),
    ));
    // 4: 16-bit, Ping, broadcast
    f.push(newip(
        PacketDesc::new(Address::Bits16(0x0102), Address::Bits16(0x0304))
            .cast(Cast::Broadcast)
            .contract(ContractDesc::Ping {
                code: 1,
                hops: 250,
                timestamp: 1_234_567_890_123,
            }),
    ));
    // 5: flexible, precise LBF
    f.push(newip(
        PacketDesc::new(
            Address::Flex(vec![0x0a, 1, 2]),
            Address::Flex(vec![0x0a, 2, 0, 0, 1]),
        )
        .contract(ContractDesc::PreciseLbf(PreciseLbf {
            min_ns: 100,
            max_ns: 2_000_000,
            experienced_ns: 150_000,
            hops: 2,
            flags: PreciseLbf::LATE_OK,
        }))
        .payload(b"x".to_vec()),
    ));
    // 6: asymmetric IPv4 -> 8-bit, on-time
    f.push(newip(
        PacketDesc::new(Address::Ipv4([192, 0, 2, 1]), Address::Bits8(7)).contract(
            ContractDesc::OnTime(OnTime {
                damper_ns: 50_000,
                prio: 5,
                flags: OnTime::DI,
            }),
        ),
    ));
    // 7: unknown TLV then Max Delay
    f.push(newip(
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
    ));
    // 8: qualitative, one chunk already washed
    f.push(newip(
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
                    length: 0,
                    significance: 15,
                    flags: Chunk::WASHED,
                },
                Chunk {
                    offset: 4,
                    length: 4,
                    significance: 3,
                    flags: 0,
                },
            ]))
            .payload((0u8..8).collect::<Vec<u8>>()),
    ));
    // 9: IPv6 + Hop-by-Hop option 0x3E + UDP
    let h = build_ipv6_hbh(&Ipv6HbhDesc {
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
    })
    .unwrap();
    f.push(ether(0x86DD, None, &h));
    // 10: malformed (cast 9)
    let mut bad = PacketDesc::new(Address::Bits8(1), Address::Bits8(2))
        .build()
        .unwrap();
    bad[5] = 9;
    f.push(ether(0x88B6, None, &bad));
    f
}

const FIELDS: &[&str] = &[
    "newip.shipping_offset",
    "newip.contract_offset",
    "newip.payload_offset",
    "newip.src_type",
    "newip.dst_type",
    "newip.cast",
    "newip.src_addr",
    "newip.dst_addr",
    "newip.contract.type",
    "newip.contract.length",
    "newip.mdf.max_allowed_delay",
    "newip.mdf.delay_exp",
    "newip.lbf.min_delay",
    "newip.lbf.max_delay",
    "newip.lbf.experienced_delay",
    "newip.lbf.fib_todelay",
    "newip.lbf.fib_tohops",
    "newip.ping.code",
    "newip.ping.hops",
    "newip.ping.timestamp",
    "newip.plbf.min_ns",
    "newip.plbf.max_ns",
    "newip.plbf.experienced_ns",
    "newip.plbf.hops",
    "newip.plbf.late_ok",
    "newip.ontime.damper_ns",
    "newip.ontime.prio",
    "newip.ontime.di",
    "newip.qual.count",
    "newip.qual.chunk.offset",
    "newip.qual.chunk.length",
    "newip.qual.chunk.significance",
    "newip.qual.chunk.washed",
    "newip.hbh.value_offset",
    "newip.payload",
    "_ws.expert.message",
];

fn run_tshark() -> Vec<HashMap<&'static str, String>> {
    let dir = std::env::temp_dir().join(format!("newipd-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("newip.pcap");
    {
        let file = std::fs::File::create(&pcap).unwrap();
        let mut w = PcapWriter::with_header(file, PcapHeader::default()).unwrap();
        for (i, fr) in frames().iter().enumerate() {
            let p = PcapPacket::new(Duration::from_millis(i as u64), fr.len() as u32, fr);
            w.write_packet(&p).unwrap();
        }
    }
    let script: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tools",
        "wireshark",
        "newip.lua",
    ]
    .iter()
    .collect();
    assert!(script.exists(), "{} missing", script.display());
    let mut cmd = Command::new("tshark");
    cmd.arg("-X")
        .arg(format!("lua_script:{}", script.display()))
        .arg("-r")
        .arg(&pcap);
    cmd.args([
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run tshark (is it installed? apt-get install tshark): {e}")
    });
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tshark failed: {stderr}");
    assert!(
        !stderr.contains("Lua:") && !stderr.to_lowercase().contains("error"),
        "tshark stderr: {stderr}"
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            FIELDS
                .iter()
                .copied()
                .zip(l.split('|').map(str::to_string))
                .collect()
        })
        .collect()
}

fn r_has_malformed(r: &HashMap<&'static str, String>) -> bool {
    r.get("_ws.expert.message")
        .is_some_and(|m| m.contains("malformed"))
}

#[test]
fn tshark_decodes_newip() {
    let rows = run_tshark();
    assert_eq!(rows.len(), 10, "{rows:#?}");
    let chk = |i: usize, f: &str, want: &str| {
        let got = rows[i].get(f).map(String::as_str).unwrap_or("<missing>");
        assert_eq!(got, want, "packet {} field {f}", i + 1);
    };
    // 1
    chk(0, "newip.shipping_offset", "3");
    chk(0, "newip.contract_offset", "0");
    chk(0, "newip.payload_offset", "14");
    chk(0, "newip.src_type", "0");
    chk(0, "newip.src_addr", "10.0.0.1");
    chk(0, "newip.dst_addr", "10.0.0.2");
    chk(0, "newip.payload", "68656c6c6f");
    chk(0, "newip.contract.type", "");
    // 2 (VLAN)
    chk(1, "newip.src_type", "1");
    chk(1, "newip.dst_addr", "2001:db8::2");
    chk(1, "newip.contract_offset", "38");
    chk(1, "newip.contract.type", "0x0001");
    chk(1, "newip.mdf.max_allowed_delay", "500");
    chk(1, "newip.mdf.delay_exp", "20");
    // 3
    chk(2, "newip.src_type", "2");
    chk(2, "newip.dst_addr", "2");
    chk(2, "newip.lbf.min_delay", "10");
    chk(2, "newip.lbf.max_delay", "50");
    chk(2, "newip.lbf.experienced_delay", "25");
    chk(2, "newip.lbf.fib_todelay", "5");
    chk(2, "newip.lbf.fib_tohops", "3");
    // 4
    chk(3, "newip.dst_type", "3");
    chk(3, "newip.src_addr", "258");
    chk(3, "newip.dst_addr", "772");
    chk(3, "newip.cast", "3");
    chk(3, "newip.ping.code", "1");
    chk(3, "newip.ping.hops", "250");
    chk(3, "newip.ping.timestamp", "1234567890123");
    // 5
    chk(4, "newip.dst_type", "4");
    chk(4, "newip.src_addr", "0a:01:02");
    chk(4, "newip.dst_addr", "0a:02:00:00:01");
    chk(4, "newip.contract.type", "0x8001");
    chk(4, "newip.contract.length", "16");
    chk(4, "newip.plbf.min_ns", "100");
    chk(4, "newip.plbf.max_ns", "2000000");
    chk(4, "newip.plbf.experienced_ns", "150000");
    chk(4, "newip.plbf.hops", "2");
    chk(4, "newip.plbf.late_ok", "1");
    // 6
    chk(5, "newip.src_addr", "192.0.2.1");
    chk(5, "newip.dst_addr", "7");
    chk(5, "newip.ontime.damper_ns", "50000");
    chk(5, "newip.ontime.prio", "5");
    chk(5, "newip.ontime.di", "1");
    // 7
    chk(6, "newip.cast", "2");
    chk(6, "newip.contract.type", "0x9abc,0x0001");
    chk(6, "newip.contract.length", "3");
    chk(6, "newip.mdf.max_allowed_delay", "100");
    chk(6, "newip.payload", "6f6b");
    // 8
    chk(7, "newip.qual.count", "3");
    chk(7, "newip.qual.chunk.offset", "0,4,4");
    chk(7, "newip.qual.chunk.length", "4,0,4");
    chk(7, "newip.qual.chunk.significance", "0,15,3");
    chk(7, "newip.qual.chunk.washed", "0,1,0");
    // 9: IPv6 Hop-by-Hop option
    chk(8, "newip.hbh.value_offset", "44");
    chk(8, "newip.plbf.max_ns", "1000000");
    chk(8, "newip.plbf.experienced_ns", "10000");
    chk(8, "newip.plbf.hops", "1");
    for (i, r) in rows.iter().enumerate() {
        assert!(
            !r["_ws.expert.message"].contains("Lua"),
            "Lua error in packet {}: {:?}",
            i + 1,
            r
        );
    }
    for (i, r) in rows.iter().take(9).enumerate() {
        assert!(
            !r_has_malformed(r),
            "packet {} flagged malformed: {:?}",
            i + 1,
            r
        );
    }
    // 10: malformed
    assert!(
        rows[9]["_ws.expert.message"].contains("malformed-newip-cast"),
        "{:?}",
        rows[9]
    );
}
