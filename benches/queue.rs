//! The deadline queue against std's BinaryHeap, in the same run, at 1k, 64k
//! and 1M items queued: ns per enqueue + dequeue pair in steady state.
//! Keys: the current time plus a spread of 0..4 ms (in ns ticks), time
//! advancing with each dequeue, as on a busy egress port.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use newipd_core::sched::queue::BucketQueue;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

const SPREAD: u64 = 4_000_000; // 4 ms of deadlines
const SHIFT: u32 = 10; // ~1 us buckets (1024 ns)
const BUCKETS: usize = 8192; // ~8.4 ms horizon

struct Rng(u64);
impl Rng {
    #[inline(always)]
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn pairs(c: &mut Criterion) {
    let mut g = c.benchmark_group("queue_pair");
    for n in [1_000usize, 64_000, 1_000_000] {
        g.bench_with_input(BenchmarkId::new("bucket_queue", n), &n, |b, &n| {
            let mut q: BucketQueue<u32> = BucketQueue::new(n + 1, BUCKETS, SHIFT);
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
            let mut now = 0u64;
            for i in 0..n {
                q.push(now + rng.next() % SPREAD, i as u32, now).unwrap();
            }
            b.iter(|| {
                let (k, v) = q.pop(now).unwrap();
                now = now.max(k);
                let _ = q.push(now + rng.next() % SPREAD, black_box(v), now);
            })
        });
        g.bench_with_input(BenchmarkId::new("binary_heap", n), &n, |b, &n| {
            let mut h: BinaryHeap<Reverse<(u64, u32)>> = BinaryHeap::with_capacity(n + 1);
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
            let mut now = 0u64;
            for i in 0..n {
                h.push(Reverse((now + rng.next() % SPREAD, i as u32)));
            }
            b.iter(|| {
                let Reverse((k, v)) = h.pop().unwrap();
                now = now.max(k);
                h.push(Reverse((now + rng.next() % SPREAD, black_box(v))));
            })
        });
    }
    g.finish();
}

criterion_group!(benches, pairs);
criterion_main!(benches);
