//! The hand-over between lcores: DPDK's rte_ring (SP/SC, burst of 16-byte
//! elements through the C shim) against newipd's Rust SPSC ring (batch copy
//! in, one publish, batch copy out), at bursts of 32 — the size of what an
//! RX lcore hands to an egress lcore. Elements are 16 bytes, like the data
//! path's hand-over entry (mbuf pointer, egress port, meta flag).
//!
//! * `same_core`: one thread enqueues a burst and dequeues it (the cost of
//!   the operations themselves, caches warm).
//! * `cross_core`: producer on CPU 0, consumer on CPU 1 (cache lines travel);
//!   the time for `iters` bursts to arrive at the consumer.
//!
//! Throughput is reported per element: ns per packet is 1e3 / Melem/s.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use newipd_dpdk::eal::Eal;
use newipd_dpdk::ring::rte_ring_pair;
use newipd_dpdk::spsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const BURST: usize = 32;
const SLOTS: usize = 1024;
type Elem = [u64; 2];

/// Start the EAL once; returns the CPUs usable before the EAL pinned this thread.
fn eal() -> usize {
    static E: OnceLock<usize> = OnceLock::new();
    *E.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let args = ["ring-bench", "--no-huge", "-m", "128", "--no-shconf", "--no-pci", "-l", "0-1", "--log-level=*:error", "--file-prefix=ringbench"];
        let eal = Eal::init(&args.map(String::from)).expect("EAL init");
        // Kept for the whole process.
        std::mem::forget(eal);
        cpus
    })
}

fn batch() -> [Elem; BURST] {
    std::array::from_fn(|i| [i as u64, 7])
}

fn same_core(c: &mut Criterion) {
    eal();
    let mut g = c.benchmark_group("ring_same_core");
    g.throughput(Throughput::Elements(BURST as u64));
    let items = batch();
    g.bench_function("rte_ring", |b| {
        let (mut p, mut q) = rte_ring_pair::<Elem>("bench_same", SLOTS as u32).unwrap();
        let mut out = [[0u64; 2]; BURST];
        b.iter(|| {
            let n = p.enqueue_burst(black_box(&items));
            let m = q.dequeue_burst(&mut out);
            black_box((n, m, out[BURST - 1]));
        })
    });
    g.bench_function("rust_spsc", |b| {
        let (mut p, mut q) = spsc::channel::<Elem>(SLOTS);
        let mut out = [[0u64; 2]; BURST];
        b.iter(|| {
            let n = p.push_slice(black_box(&items));
            p.publish();
            let m = q.pop_slice(&mut out);
            black_box((n, m, out[BURST - 1]));
        })
    });
    g.finish();
}

fn pin(cpu: usize) {
    core_affinity::set_for_current(core_affinity::CoreId { id: cpu });
}

/// Move `iters` bursts from this thread (CPU 0) to a consumer on CPU 1; the
/// time until the consumer has them all.
fn across<P: Send, C: Send + 'static>(iters: u64, mut prod: P, cons: C, push: impl Fn(&mut P) -> usize, pop: fn(&mut C) -> usize) -> Duration {
    let want = iters as usize * BURST;
    pin(0);
    let start = Instant::now();
    let t = std::thread::spawn(move || {
        pin(1);
        let mut cons = cons;
        let mut got = 0;
        while got < want {
            got += pop(&mut cons);
        }
        cons
    });
    let mut sent = 0;
    while sent < want {
        sent += push(&mut prod);
    }
    let _cons = t.join().unwrap();
    start.elapsed()
}

fn cross_core(c: &mut Criterion) {
    if eal() < 2 {
        eprintln!("ring bench: fewer than 2 CPUs, skipping cross_core");
        return;
    }
    let mut g = c.benchmark_group("ring_cross_core");
    g.throughput(Throughput::Elements(BURST as u64));
    g.bench_function("rte_ring", |b| {
        b.iter_custom(|iters| {
            let (p, q) = rte_ring_pair::<Elem>("bench_cross", SLOTS as u32).unwrap();
            let items = batch();
            across(iters, p, q, move |p| p.enqueue_burst(&items), |q| {
                let mut out = [[0u64; 2]; BURST];
                let n = q.dequeue_burst(&mut out);
                black_box(out[0]);
                n
            })
        })
    });
    g.bench_function("rust_spsc", |b| {
        b.iter_custom(|iters| {
            let (p, q) = spsc::channel::<Elem>(SLOTS);
            let items = batch();
            across(
                iters,
                p,
                q,
                move |p| {
                    let n = p.push_slice(&items);
                    p.publish();
                    n
                },
                |q| {
                    let mut out = [[0u64; 2]; BURST];
                    let n = q.pop_slice(&mut out);
                    black_box(out[0]);
                    n
                },
            )
        })
    });
    g.finish();
}

criterion_group!(benches, same_core, cross_core);
criterion_main!(benches);
