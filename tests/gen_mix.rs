//! `newipd gen` with traffic mix files and the New IP kinds: the pcap it
//! writes holds what the mix asks for, and bad mix files name the field.

use newipd_tools::gen::pcap;
use newipd_tools::gen::payload::{frame_payload, read_stamp};
use newipd_core::wire::newip::{self as nip, ContractRef};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn newipd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_newipd"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run newipd")
}

fn show(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("newipd-gen-mix-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn every_kind_mix_file_writes_every_kind() {
    let dir = tmpdir("every");
    let out = dir.join("every.pcap");
    let o = newipd(&[
        "gen",
        "--mix",
        "pipelines/mixes/every-kind.toml",
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("wrote 2000 packets"), "{stdout}");
    assert!(
        stdout.contains("malformed by reason:") && stdout.contains("malformed-newip-"),
        "{stdout}"
    );

    let frames = pcap::read(&out).unwrap();
    assert_eq!(frames.len(), 2000);
    let (mut v4, mut v6_vlan, mut hbh, mut newip, mut bad) = (0, 0, 0, 0, 0);
    let mut src_types = std::collections::BTreeSet::new();
    let mut dst_types = std::collections::BTreeSet::new();
    let (mut ping, mut on_time, mut unknown, mut qual, mut bcast) = (0, 0, 0, 0, 0);
    for (i, f) in frames.iter().enumerate() {
        let Some((et, off)) = nip::ethernet_payload(f) else {
            bad += 1;
            continue;
        };
        let l3 = &f[off..];
        let good = match et {
            0x0800 => {
                let ok = f.len() == 60
                    && l3.len() >= 20
                    && l3[0] == 0x45
                    && l3[1] == 46 << 2
                    && l3[8] > 1;
                v4 += ok as usize;
                ok
            }
            nip::ETHERTYPE_IPV6 => match nip::find_plbf_option(l3) {
                Ok(Some(val)) => {
                    let p = nip::PreciseLbf::read(l3, val).unwrap();
                    assert_eq!((p.max_ns, f.len()), (5_000_000, 128));
                    hbh += 1;
                    true
                }
                Ok(None) if off == 18 && l3.len() >= 48 && l3[7] > 1 => {
                    assert!((80..=200).contains(&f.len()), "{}", f.len());
                    v6_vlan += 1;
                    true
                }
                _ => false,
            },
            nip::ETHERTYPE_NEWIP => match nip::parse(l3) {
                Ok(h) => {
                    newip += 1;
                    src_types.insert(h.src.ty as u8);
                    dst_types.insert(h.dst.ty as u8);
                    bcast += (h.cast == nip::Cast::Broadcast) as usize;
                    for c in nip::contracts(l3, &h) {
                        match c.unwrap() {
                            ContractRef::Ping { hops: 255, .. } => ping += 1,
                            ContractRef::OnTime { .. } => on_time += 1,
                            ContractRef::UnknownTlv {
                                ty: 0x8100, len: 4, ..
                            } => unknown += 1,
                            ContractRef::Qualitative { count: 3, .. } => qual += 1,
                            _ => {}
                        }
                    }
                    true
                }
                Err(_) => false,
            },
            _ => false,
        };
        if good {
            let p = frame_payload(f).expect("payload");
            if p.len() >= 16 {
                assert_eq!(read_stamp(p).unwrap().0, i as u64);
            }
        } else {
            bad += 1;
        }
    }
    // 10 flow sets of equal share: 200 packets each, minus the ~2% malformed.
    assert!(bad > 10 && bad < 120, "bad {bad}");
    assert!((150..=200).contains(&v4), "ipv4 {v4}");
    assert!((150..=200).contains(&v6_vlan), "ipv6 {v6_vlan}");
    assert!((150..=200).contains(&hbh), "hbh {hbh}");
    assert!((7 * 150..=7 * 200).contains(&newip), "newip {newip}");
    assert_eq!(v4 + v6_vlan + hbh + newip + bad, 2000);
    let all: std::collections::BTreeSet<u8> = (0..=4).collect();
    assert_eq!(src_types, all);
    assert_eq!(dst_types, all);
    assert!(ping > 150 && on_time > 150 && unknown > 150 && qual > 150 && bcast > 150);

    // Same file, same bytes.
    let again = dir.join("again.pcap");
    let o = newipd(&[
        "gen",
        "--mix",
        "pipelines/mixes/every-kind.toml",
        "--out",
        s(&again),
    ]);
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn newip_lbf_kind_is_benchmark_traffic() {
    let dir = tmpdir("lbf");
    let out = dir.join("lbf.pcap");
    let o = newipd(&[
        "gen",
        "--kind",
        "newip-lbf",
        "--packets",
        "1000",
        "--flows",
        "10",
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let frames = pcap::read(&out).unwrap();
    assert_eq!(frames.len(), 1000);
    let mut dsts = std::collections::BTreeSet::new();
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.len(), 60);
        assert_eq!(&f[12..14], &[0x88, 0xb6]);
        let b = &f[14..];
        let h = nip::parse(b).unwrap();
        assert_eq!(h.src.addr(b).ipv4(), Some([192, 168, 0, 1]));
        let d = h.dst.addr(b).ipv4().unwrap();
        assert_eq!(&d[..3], &[10, 0, 0]);
        assert!((1..=10).contains(&d[3]));
        dsts.insert(d);
        assert_eq!(h.contracts.count, 1);
        match nip::contracts(b, &h).next().unwrap().unwrap() {
            ContractRef::Lbf {
                min_delay: 0,
                max_delay: 50,
                experienced_delay: 0,
                fib_todelay: 5,
                fib_tohops: 8,
                ..
            } => {}
            c => panic!("{c:?}"),
        }
        let (seq, _) = read_stamp(h.payload(b)).unwrap();
        assert_eq!(seq, i as u64);
    }
    assert_eq!(dsts.len(), 10);

    for kind in ["newip-plbf", "newip-mix"] {
        let p = dir.join(format!("{kind}.pcap"));
        let o = newipd(&[
            "gen",
            "--kind",
            kind,
            "--packets",
            "300",
            "--malformed",
            "0.1",
            "--out",
            s(&p),
        ]);
        assert!(o.status.success(), "{kind}: {}", show(&o));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("malformed-newip-"),
            "{}",
            show(&o)
        );
        assert_eq!(pcap::read(&p).unwrap().len(), 300);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_mix_files_exit_2_naming_the_field() {
    let dir = tmpdir("bad");
    let cases = [
        ("[[flow]]\nkind = \"newip\"\ndst = \"8bit:300\"\n", "flow[0].dst"),
        ("[[flow]]\nkind = \"ipv4\"\n[[flow]]\nkind = \"newip\"\ncontracts = [ { type = \"on-time\", damper_ns = 1, prio = 8 } ]\n", "flow[1].contracts[0].prio"),
        ("packets = 10\nspeed = 3\n", "unknown field `speed`"),
        ("[[flow]]\nkind = \"ipv4\"\nsize = [100, 60]\n", "flow[0].size"),
        ("rate_pps = 10\nrate_bps = 10\n", "rate_pps, rate_bps"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let p = dir.join(format!("bad{i}.toml"));
        std::fs::write(&p, text).unwrap();
        let o = newipd(&["gen", "--mix", s(&p), "--out", s(&dir.join("x.pcap"))]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "case {i}: {}", show(&o));
        assert!(err.contains(want), "case {i}: want '{want}' in: {err}");
        assert!(
            err.contains(&format!("bad{i}.toml")),
            "case {i} should name the file: {err}"
        );
    }
    let o = newipd(&[
        "gen",
        "--mix",
        "/nonexistent/mix.toml",
        "--out",
        s(&dir.join("x.pcap")),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let o = newipd(&["gen", "--help"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("The flags given win over the file's"),
        "{}",
        show(&o)
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Every top-level value a mix file can set is also a flag, and the flag
/// wins (it used to be the other way round, silently).
#[test]
fn flags_win_over_the_mix_file() {
    let dir = tmpdir("flags");
    let file = dir.join("m.toml");
    std::fs::write(
        &file,
        "seed = 3\npackets = 50\nrate_pps = 1000\nmalformed = 0.5\ndst_mac = \"02:00:00:00:00:aa\"\n[[flow]]\nkind = \"ipv4\"\ncount = 4\n",
    )
    .unwrap();
    let gen = |name: &str, extra: &[&str]| -> Vec<(u64, Vec<u8>)> {
        let out = dir.join(format!("{name}.pcap"));
        let mut args = vec!["gen", "--mix", s(&file), "--out", s(&out)];
        args.extend_from_slice(extra);
        let o = newipd(&args);
        assert!(o.status.success(), "{name}: {}", show(&o));
        read_timed(&out)
    };
    let file_only = gen("file", &[]);
    assert_eq!(file_only.len(), 50);
    assert!(file_only.iter().all(|(_, f)| f.len() < 60 || f[..6] == [2, 0, 0, 0, 0, 0xaa]));
    assert_eq!(file_only[1].0 - file_only[0].0, 1_000_000, "rate_pps 1000: 1 ms apart");
    // --dst-mac
    let f = gen("mac", &["--dst-mac", "02:00:00:00:00:bb"]);
    assert!(f.iter().all(|(_, f)| f.len() < 6 || f[..6] == [2, 0, 0, 0, 0, 0xbb]), "--dst-mac wins");
    // --packets
    assert_eq!(gen("packets", &["--packets", "7"]).len(), 7);
    // --rate
    let f = gen("rate", &["--rate", "1000000"]);
    assert_eq!(f[1].0 - f[0].0, 1_000, "--rate 1000000: 1 µs apart");
    // --malformed: none broken (the file asks for half).
    let f = gen("malformed", &["--malformed", "0"]);
    assert!(f.iter().all(|(_, f)| f.len() == 60 && f[12..14] == [8, 0]));
    assert!(file_only.iter().filter(|(_, f)| f.len() != 60 || f[12..14] != [8, 0]).count() > 5);
    // --seed: other draws than the file's seed; the file's seed given as a flag: the same.
    assert_ne!(gen("seed", &["--seed", "4"]), file_only);
    assert_eq!(gen("seed3", &["--seed", "3"]), file_only);
    std::fs::remove_dir_all(&dir).ok();
}

fn read_timed(p: &Path) -> Vec<(u64, Vec<u8>)> {
    let mut r = pcap_file::pcap::PcapReader::new(std::fs::File::open(p).unwrap()).unwrap();
    let mut v = Vec::new();
    while let Some(pk) = r.next_packet() {
        let pk = pk.unwrap();
        v.push((pk.timestamp.as_nanos() as u64, pk.data.into_owned()));
    }
    v
}

/// FNV-1a, 64 bits.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3))
}

/// The engine's bytes do not move: each pcap `newipd gen` writes for these
/// arguments hashes to the value recorded from the generator before the
/// engines were merged (the benchmark inputs first). The two shipped mixes
/// with LBF flows were recorded after their contracts got 8 hops to go
/// (the only bytes that changed: offset 39 of their LBF frames, 0 -> 8).
#[test]
fn generated_bytes_match_the_recorded_engine() {
    let cases: &[(&str, &[&str], u64)] = &[
        ("bench-ipv4", &["--packets", "8192", "--flows", "4096", "--seed", "42", "--kind", "ipv4", "--size", "60"], 0xa41e_3792_5332_12cd),
        ("bench-lbf", &["--packets", "8192", "--flows", "4096", "--seed", "42", "--kind", "newip-lbf", "--size", "64"], 0x6f28_853c_dce6_6f59),
        (
            "bench-mix",
            &["--packets", "8192", "--flows", "4096", "--seed", "42", "--mix", "pipelines/mixes/bench-mix.toml"],
            0x2391_dafe_c062_7750,
        ),
        ("ipv4", &["--kind", "ipv4"], 0x9902_a65c_5abe_7846),
        ("ipv6", &["--kind", "ipv6"], 0x9dd1_4678_ed6d_14dc),
        ("mix", &["--kind", "mix"], 0xd6be_9574_e483_279c),
        ("newip-lbf", &["--kind", "newip-lbf"], 0xc6bc_abe4_f54f_fa73),
        ("newip-plbf", &["--kind", "newip-plbf"], 0x56e1_d4e1_14c5_ce37),
        ("newip-mix", &["--kind", "newip-mix"], 0xf5ee_3d6d_b4dc_b0b7),
        ("ipv4-bad", &["--kind", "ipv4", "--malformed", "0.05", "--flows", "7", "--seed", "9", "--packets", "3000", "--size", "100"], 0x766f_fdd0_34e6_d078),
        ("ipv6-bad", &["--kind", "ipv6", "--malformed", "0.05", "--flows", "7", "--seed", "9", "--packets", "3000", "--size", "100"], 0x7e88_33fd_4ef4_7b7c),
        ("mix-bad", &["--kind", "mix", "--malformed", "0.05", "--flows", "7", "--seed", "9", "--packets", "3000", "--size", "100"], 0x2df9_1327_da51_9cb5),
        (
            "newip-lbf-bad",
            &["--kind", "newip-lbf", "--malformed", "0.05", "--flows", "7", "--seed", "9", "--packets", "3000", "--size", "100"],
            0x1daf_6631_5cec_dbd7,
        ),
        (
            "newip-plbf-bad",
            &["--kind", "newip-plbf", "--malformed", "0.05", "--flows", "7", "--seed", "9", "--packets", "3000", "--size", "100"],
            0xa6d9_6ab5_9e79_ebfa,
        ),
        (
            "newip-mix-bad",
            &["--kind", "newip-mix", "--malformed", "0.05", "--flows", "7", "--seed", "9", "--packets", "3000", "--size", "100"],
            0x4e3c_3fe6_cab3_fc19,
        ),
        ("ipv4-rate3m", &["--kind", "ipv4", "--rate", "3000000", "--packets", "2000"], 0xeaee_2a73_f460_b12e),
        ("newip-lbf-rate3m", &["--kind", "newip-lbf", "--rate", "3000000", "--packets", "2000"], 0xfaf9_ae26_75a5_da28),
        ("mix-flows60k", &["--kind", "mix", "--flows", "60000", "--packets", "3000", "--seed", "5"], 0xc9ba_9cbe_614f_b1a6),
        ("ipv4-flows1", &["--kind", "ipv4", "--flows", "1", "--packets", "500", "--malformed", "0.1"], 0x0bd7_8a83_9578_6724),
        (
            "ipv6-dst",
            &["--kind", "ipv6", "--dst4", "10.9.0.1", "--dst6", "2001:db8:9::1", "--dst-mac", "02:00:00:00:00:33", "--packets", "1000"],
            0xb9cc_d0b5_35e9_1d4b,
        ),
        ("demo-like", &["--kind", "mix", "--malformed", "0.02", "--packets", "5000"], 0x99c4_dfab_0abb_0b9f),
        // The first 5000 of the file's 1000000 packets.
        ("pktgen-udp", &["--mix", "pipelines/mixes/pktgen-udp.toml", "--packets", "5000"], 0x90aa_848e_5379_f80d),
        ("deadlines", &["--mix", "pipelines/mixes/deadlines.toml"], 0xa1f6_003a_5cad_2b2b),
        ("every-kind", &["--mix", "pipelines/mixes/every-kind.toml"], 0xdf30_ae12_34a2_7fcb),
    ];
    let dir = tmpdir("golden");
    let mut wrong = Vec::new();
    for (name, args, want) in cases {
        let out = dir.join(format!("{name}.pcap"));
        let mut a = vec!["gen", "--out", s(&out)];
        a.extend_from_slice(args);
        let o = newipd(&a);
        assert!(o.status.success(), "{name}: {}", show(&o));
        let got = fnv(&std::fs::read(&out).unwrap());
        if got != *want {
            wrong.push(format!("{name}: {got:#018x}, recorded {want:#018x}"));
        }
    }
    assert!(wrong.is_empty(), "generated bytes changed:\n{}", wrong.join("\n"));
    std::fs::remove_dir_all(&dir).ok();
}

/// A contract every router would drop is refused before anything is written.
#[test]
fn contracts_no_router_forwards_are_refused() {
    let dir = tmpdir("refuse");
    let p = dir.join("m.toml");
    std::fs::write(&p, "[[flow]]\nkind = \"ipv4\"\n[[flow]]\nkind = \"newip\"\ncontracts = [ { type = \"lbf\", max_ms = 10, tohops = 0 } ]\n").unwrap();
    let out = dir.join("x.pcap");
    let o = newipd(&["gen", "--mix", s(&p), "--out", s(&out)]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("flow[1].contracts[0].tohops:") && err.contains("newip-lbf-no-hops"), "{err}");
    assert!(!out.exists());
    std::fs::remove_dir_all(&dir).ok();
}
