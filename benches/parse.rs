//! Microbenchmarks of the per-packet stages, without DPDK: Ethernet/IP parsing,
//! the router stage (parse + LPM + rewrite), LPM lookups, New IP parsing.
//! Each iteration handles a burst of 32 frames; throughput is per packet.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use newipd_core::fib::{lpm4::Lpm4, NextHop};
use newipd_core::wire::build::{self, Udp4, Udp6};
use newipd_core::path::Router;

const BURST: usize = 32;

fn router() -> Router {
    let nh = vec![NextHop::new(0, [2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]), NextHop::new(1, [2, 0, 0, 0, 0, 3], [2, 0, 0, 0, 0, 4])];
    let mut v4 = vec![(0x0a00_0000u32, 8u8, 0u32)];
    for i in 0..1000u32 {
        v4.push((0x0a00_0000 | (i << 8), 24, 1));
    }
    Router::new(&v4, &[(0x2001_0db8u128 << 96, 32, 1), (0, 0, 0)], nh, true)
}

fn burst_of(frames: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    frames.into_iter().cycle().take(BURST).collect()
}

fn bench_router(c: &mut Criterion) {
    let r = router();
    let mut g = c.benchmark_group("router");
    g.throughput(Throughput::Elements(BURST as u64));
    let cases = [
        ("ipv4_udp_64B", burst_of((0..BURST as u32).map(|i| build::udp4(Udp4 { dst: 0x0a00_0001 + (i << 8), ..Default::default() })).collect())),
        ("ipv4_vlan", burst_of(vec![build::udp4(Udp4 { vlan: Some(5), ..Default::default() })])),
        ("ipv6_udp", burst_of(vec![build::udp6(Udp6::default())])),
    ];
    let mut cnt = newipd_core::stats::Counters::default();
    let ctx = newipd_core::path::PacketCtx { now_ns: 1_000_000, in_port: 0 };
    for (name, template) in cases {
        let mut work = template.clone();
        g.bench_function(name, |b| {
            b.iter(|| {
                for (w, t) in work.iter_mut().zip(&template) {
                    w.copy_from_slice(t); // restore the TTL
                }
                for w in work.iter_mut() {
                    let mut meta = newipd_core::path::TxMeta::NONE;
                    black_box(r.process_at(black_box(w), &ctx, &mut cnt, &mut meta));
                }
            })
        });
    }
    g.finish();
}

fn bench_lpm(c: &mut Criterion) {
    let mut routes = Vec::new();
    let mut x: u32 = 12345;
    for i in 0..10_000u32 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let len = [8u8, 16, 20, 24, 28, 32][(i % 6) as usize];
        routes.push((x & newipd_core::fib::mask32(len), len, i));
    }
    let t = Lpm4::build(&routes);
    let probes: Vec<u32> = (0..1024u32).map(|i| routes[(i as usize * 7) % routes.len()].0 | (i & 0xff)).collect();
    let mut g = c.benchmark_group("lpm4");
    g.throughput(Throughput::Elements(probes.len() as u64));
    g.bench_function("lookup_10k_routes", |b| b.iter(|| probes.iter().map(|&d| t.lookup(black_box(d)).unwrap_or(0) as u64).sum::<u64>()));
    g.finish();
}

fn bench_newip(c: &mut Criterion) {
    use newipd_core::wire::newip;
    let frames: Vec<Vec<u8>> = newip::vectors::NEWIP_VECTORS.iter().map(|(_, hex)| newip::vectors::decode_hex(hex).unwrap()).collect();
    let mut g = c.benchmark_group("newip");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("parse_all_vectors", |b| {
        b.iter(|| frames.iter().filter(|f| newip::parse(black_box(f)).is_ok()).count())
    });
    g.finish();
}

fn bench_newip_stage(c: &mut Criterion) {
    use newipd_tools::gen::{Kind, Mix};
    use newipd_core::path::{on_transmit, PacketCtx, TxMeta};
    use newipd_core::stats::Counters;
    let r = router();
    let frames: Vec<Vec<u8>> = Mix { kind: Kind::NewipLbf, packets: BURST, size: 64, ..Default::default() }.generate().frames.into_iter().map(|f| f.1).collect();
    let mut work = frames.clone();
    let mut cnt = Counters::default();
    let mut on_time = newipd_core::contract::on_time::OnTimePort::default();
    let mut g = c.benchmark_group("router");
    g.throughput(Throughput::Elements(BURST as u64));
    g.bench_function("newip_lbf_64B_with_transmit", |b| {
        b.iter(|| {
            for (w, t) in work.iter_mut().zip(&frames) {
                w.copy_from_slice(t);
            }
            for w in work.iter_mut() {
                let mut meta = TxMeta::NONE;
                let ctx = PacketCtx { now_ns: 1_000_000, in_port: 0 };
                black_box(r.process_at(black_box(w), &ctx, &mut cnt, &mut meta));
                black_box(on_transmit(w, &meta, 1_000_500, 0, &mut on_time).is_ok());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench_router, bench_lpm, bench_newip, bench_newip_stage);
criterion_main!(benches);
