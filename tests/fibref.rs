//! DPDK's route tables through newipd-dpdk's `fibref` wrappers agree with
//! newipd's own on a generated route set (benches/fib_compare.rs measures
//! them; this checks the wrappers and the shims are right): every address
//! gets the same next hop, before and after deletes, from DPDK's own memory
//! and from an external heap. One EAL per process, so one test.

use newipd_core::fib::lpm4::Lpm4;
use newipd_core::fib::lpm6::Lpm6;
use newipd_dpdk::eal::Eal;
use newipd_dpdk::fibref::{self, Lookup, NhSize, RteFib, RteFib6, RteLpm, RteLpm6, ANY_SOCKET};
use newipd_tools::routes::{set, Spec};

const BATCH: usize = 32;

#[test]
fn dpdk_tables_agree_with_ours() {
    let args = ["fibref-test", "--no-huge", "-m", "512", "--no-pci", "--no-shconf", "-l", "0", "--log-level=*:error"];
    let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    args.push(format!("--file-prefix=fibref{}", std::process::id()));
    let eal = Eal::init(&args).expect("EAL init");

    let spec = Spec { v4: 3000, v6: 2000, seed: 4, next_hops: 5, avoid4: vec![], avoid6: vec![] };
    let s = set::generate(&spec).unwrap();
    let probes4: Vec<u32> = set::spread4(&s.v4, 4096, 1).into_iter().map(|x| x.0).chain((0..1024u32).map(|i| i.wrapping_mul(0x9e37_79b9))).collect();
    let probes6: Vec<u128> = set::spread6(&s.v6, 4096, 1).into_iter().map(|x| x.0).chain((0..1024u128).map(|i| i << 100 | i)).collect();

    // IPv4: the 4-byte rte_fib on an external heap, rte_lpm in DPDK's memory.
    let heap = fibref::external_heap("fibref_test", 96 << 20, false).expect("external heap");
    let ours = Lpm4::build(&s.v4);
    let mut fib = RteFib::dir24_8("t_fib4", heap, 4000, 512, NhSize::Four).expect("rte_fib");
    let mut lpm = RteLpm::new("t_lpm4", ANY_SOCKET, 4000, 512).expect("rte_lpm");
    assert!(fibref::heap_allocated(heap) > 64 << 20, "the rte_fib tables are on the external heap");
    for &(a, l, nh) in &s.v4 {
        fib.add(a, l, nh as u64 + 1).unwrap();
        lpm.add(a, l, nh + 1).unwrap();
    }
    let check4 = |ours: &Lpm4, fib: &mut RteFib, lpm: &RteLpm| {
        for l in [Lookup::Scalar, Lookup::Avx512] {
            if !fib.select(l) {
                continue; // AVX-512 needs the CPU flags and --force-max-simd-bitwidth=512
            }
            for c in probes4.chunks(BATCH) {
                let (mut f, mut raw, mut x4) = ([0u64; BATCH], [0u32; BATCH], [7u32; BATCH]);
                fib.lookup_bulk(c, &mut f);
                lpm.lookup_bulk(c, &mut raw);
                lpm.lookupx4_bulk(c, &mut x4, 0);
                for (i, &a) in c.iter().enumerate() {
                    let want = ours.lookup(a).map_or(0, |v| v + 1);
                    assert_eq!((f[i], RteLpm::hop(raw[i]).unwrap_or(0), x4[i]), (want as u64, want, want), "{a:#x} ({l:?})");
                }
            }
        }
    };
    check4(&ours, &mut fib, &lpm);
    // Delete every third route everywhere; the covering routes take over.
    for &(a, l, _) in s.v4.iter().step_by(3) {
        ours.delete(a, l).unwrap();
        fib.delete(a, l).unwrap();
        lpm.delete(a, l).unwrap();
    }
    check4(&ours, &mut fib, &lpm);
    assert!(fib.delete(s.v4[0].0, s.v4[0].1).is_err(), "already gone");
    drop((fib, lpm, ours));

    // IPv6: rte_fib6 and rte_lpm6 in DPDK's memory.
    let ours = Lpm6::build(&s.v6);
    let mut fib6 = RteFib6::trie("t_fib6", ANY_SOCKET, 4000, 20_000, NhSize::Four).expect("rte_fib6");
    let mut lpm6 = RteLpm6::new("t_lpm6", ANY_SOCKET, 4000, 20_000).expect("rte_lpm6");
    for &(a, l, nh) in &s.v6 {
        fib6.add(&a.to_be_bytes(), l, nh as u64 + 1).unwrap();
        lpm6.add(&a.to_be_bytes(), l, nh + 1).unwrap();
    }
    let bytes: Vec<[u8; 16]> = probes6.iter().map(|a| a.to_be_bytes()).collect();
    for l in [Lookup::Scalar, Lookup::Avx512] {
        if !fib6.select(l) {
            continue;
        }
        for (c, b) in probes6.chunks(BATCH).zip(bytes.chunks(BATCH)) {
            let (mut f, mut h) = ([0u64; BATCH], [0i32; BATCH]);
            fib6.lookup_bulk(b, &mut f);
            lpm6.lookup_bulk(b, &mut h);
            for (i, &a) in c.iter().enumerate() {
                let want = ours.lookup(a).map_or(0, |v| v + 1);
                assert_eq!((f[i], h[i].max(0) as u32), (want as u64, want), "{a:#x} ({l:?})");
            }
        }
    }
    let (a, l, _) = s.v6[0];
    lpm6.delete(&a.to_be_bytes(), l).unwrap();
    fib6.delete(&a.to_be_bytes(), l).unwrap();
    assert!(lpm6.delete(&a.to_be_bytes(), l).is_err());
    drop((fib6, lpm6));
    eal.leave();
}
