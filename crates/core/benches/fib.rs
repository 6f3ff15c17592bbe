//! Route-table microbenchmarks (no DPDK): lookups in IPv4, IPv6 and
//! flexible-address tables of several sizes, single updates, batch installs.
//! `cargo bench -p newipd-core --bench fib`; lookups are per address over
//! 1024 addresses spread over the table's routes.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use newipd_core::fib::flex::FlexLpm;
use newipd_core::fib::lpm4::Lpm4;
use newipd_core::fib::lpm6::Lpm6;
use newipd_core::fib::{mask128, mask32};

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 16
    }
}

/// `n` IPv4 routes; `share_long` of them longer than /24.
fn v4_routes(n: usize, share_long: f64) -> Vec<(u32, u8, u32)> {
    let mut r = Lcg(12345);
    (0..n)
        .map(|i| {
            let x = r.next() as u32;
            // Roughly an Internet table's shape: mostly /24, some /16../23, very few /8.
            let len = if (r.next() % 1000) as f64 / 1000.0 < share_long {
                25 + (r.next() % 8) as u8
            } else if i % 10_000 == 0 {
                8
            } else {
                [16u8, 19, 20, 21, 22, 23, 24, 24, 24, 24, 24, 24][i % 12]
            };
            (x & mask32(len), len, (i % 1000) as u32)
        })
        .collect()
}

fn v6_routes(n: usize) -> Vec<(u128, u8, u32)> {
    let mut r = Lcg(777);
    (0..n)
        .map(|i| {
            let x = ((0x2000u128 | (r.next() as u128 & 0x0fff)) << 112) | (r.next() as u128) << 64 | r.next() as u128;
            let len = [32u8, 48, 48, 48, 44, 40, 56, 64, 29, 128][i % 10];
            (x & mask128(len), len, (i % 1000) as u32)
        })
        .collect()
}

fn bench_lookups(c: &mut Criterion) {
    let mut g = c.benchmark_group("lookup");
    g.throughput(Throughput::Elements(1024));
    for (name, n, long) in [("v4_10k", 10_000usize, 0.0), ("v4_10k_long", 10_000, 0.3), ("v4_1m", 1_000_000, 0.02)] {
        let routes = v4_routes(n, long);
        let t = Lpm4::build(&routes);
        let probes: Vec<u32> = (0..1024u32).map(|i| routes[(i as usize * 7919) % routes.len()].0 | (i & 0xff)).collect();
        g.bench_function(name, |b| b.iter(|| probes.iter().map(|&d| t.lookup(black_box(d)).unwrap_or(0) as u64).sum::<u64>()));
    }
    for (name, n) in [("v6_10k", 10_000usize), ("v6_200k", 200_000)] {
        let routes = v6_routes(n);
        let t = Lpm6::build(&routes);
        let probes: Vec<u128> = (0..1024u32).map(|i| routes[(i as usize * 7919) % routes.len()].0 | i as u128).collect();
        g.bench_function(name, |b| b.iter(|| probes.iter().map(|&d| t.lookup(black_box(d)).unwrap_or(0) as u64).sum::<u64>()));
    }
    let small = Lpm6::build(&[(0x2001_0db8u128 << 96, 32, 1), (0, 0, 0)]);
    let probes: Vec<u128> = (0..1024u128).map(|i| 0x2001_0db8u128 << 96 | i << 64 | i).collect();
    g.bench_function("v6_router_2_routes", |b| b.iter(|| probes.iter().map(|&d| small.lookup(black_box(d)).unwrap_or(0) as u64).sum::<u64>()));
    let mut fl = Vec::new();
    for i in 0..1000u32 {
        let mut a = [0u8; 32];
        a[..4].copy_from_slice(&(0x0a00_0000 | i << 8).to_be_bytes());
        fl.push((a, [8u16, 16, 24, 28][i as usize % 4], i));
    }
    let ft = FlexLpm::build(&fl);
    let fprobes: Vec<[u8; 4]> = (0..1024u32).map(|i| (0x0a00_0000 | (i % 1000) << 8 | i & 0xff).to_be_bytes()).collect();
    g.bench_function("flex_1k_4byte", |b| b.iter(|| fprobes.iter().map(|d| ft.lookup(black_box(&d[..])).unwrap_or(0) as u64).sum::<u64>()));
    g.finish();
}

fn bench_updates(c: &mut Criterion) {
    let mut g = c.benchmark_group("update");
    let routes = v4_routes(100_000, 0.05);
    let t = Lpm4::build(&routes);
    let mut r = Lcg(5);
    g.bench_function("v4_add_delete_slash24_in_100k", |b| {
        b.iter(|| {
            let a = (r.next() as u32 | 0xe000_0000) & mask32(24);
            t.add(a, 24, 3).unwrap();
            t.delete(a, 24).unwrap();
        })
    });
    g.bench_function("v4_add_delete_slash32_in_100k", |b| {
        b.iter(|| {
            let a = r.next() as u32 | 0xe000_0000;
            t.add(a, 32, 3).unwrap();
            t.delete(a, 32).unwrap();
        })
    });
    g.bench_function("v4_replace_next_hop_slash16", |b| {
        let mut nh = 0;
        b.iter(|| {
            nh ^= 1;
            t.add(0x0a0a_0000, 16, nh).unwrap();
        })
    });
    let v6 = Lpm6::build(&v6_routes(100_000));
    g.bench_function("v6_add_delete_slash48_in_100k", |b| {
        b.iter(|| {
            let a = (0x3000u128 << 112 | (r.next() as u128) << 80) & mask128(48);
            v6.add(a, 48, 3).unwrap();
            v6.delete(a, 48).unwrap();
        })
    });
    g.sample_size(10);
    let batch = v4_routes(100_000, 0.05);
    g.throughput(Throughput::Elements(batch.len() as u64));
    // Into a table whose pages are already backed (as after the first
    // install): the first install also pays the OS for zeroed pages.
    let warm = || {
        let t = Lpm4::with_capacity(1 << 16, Default::default());
        t.add_batch(&batch, |_, _| {}).unwrap();
        for &(a, l, _) in &batch {
            let _ = t.delete(a, l);
        }
        t.reclaim();
        t
    };
    g.bench_function("v4_batch_install_100k", |b| {
        b.iter_batched(
            warm,
            |t| {
                t.add_batch(&batch, |_, _| {}).unwrap();
                t
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("v4_batch_install_100k_new_table", |b| {
        b.iter_batched(
            || Lpm4::with_capacity(1 << 16, Default::default()),
            |t| {
                t.add_batch(&batch, |_, _| {}).unwrap();
                t
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, bench_lookups, bench_updates);
criterion_main!(benches);
