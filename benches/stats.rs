//! What statistics cost the packet lcore, per operation: recording a run of
//! packets into a latency histogram, recording through the lcore's
//! coalescing table, publishing the counters (done every millisecond) and
//! handing the histograms over (every 100 ms). Multiply by
//! the rates to get the share of a core (docs/operating.md).

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use newipd_core::stats::histo::{ClassHistograms, HistoMailbox};
use newipd_core::kinds::Reason;
use newipd_core::stats::{Counters, SharedCounters};

fn stats(c: &mut Criterion) {
    let mut g = c.benchmark_group("stats");
    g.bench_function("histogram_record_n", |b| {
        let mut h = ClassHistograms::default();
        let mut v = 1_000u64;
        b.iter(|| {
            v = v.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            h.sojourn(1, black_box(v >> 44), 32);
        })
    });
    // Through the lcore's coalescing table: values that repeat (a handful of
    // contract delays) hit it; values that do not each cost a record.
    g.bench_function("writer_repeated_values", |b| {
        let (_mb, mut w) = HistoMailbox::new();
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            w.e2e(1, black_box(1_000_000 + (i & 7) * 100_000), 1);
        })
    });
    g.bench_function("writer_distinct_values", |b| {
        let (_mb, mut w) = HistoMailbox::new();
        let mut v = 1_000u64;
        b.iter(|| {
            v = v.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            w.sojourn(1, black_box(v >> 44), 1);
        })
    });
    g.bench_function("counters_publish", |b| {
        let mut cnt = Counters::default();
        cnt.rx(0, 1, 64);
        cnt.drop(1, Reason::NoRoute, 3);
        let s = SharedCounters::default();
        b.iter(|| s.publish(black_box(&cnt)))
    });
    // What an lcore of a two-port pipeline publishes.
    g.bench_function("counters_publish_2_ports", |b| {
        let mut cnt = Counters::default();
        cnt.rx(0, 1, 64);
        cnt.drop(1, Reason::NoRoute, 3);
        let s = SharedCounters::for_ports(2);
        b.iter(|| s.publish(black_box(&cnt)))
    });
    g.bench_function("histogram_hand_over", |b| {
        // Timed: the lcore's swap and post; untimed: the stats thread giving sets back.
        let (mb, mut w) = HistoMailbox::new();
        let mut total = ClassHistograms::default();
        b.iter_batched(
            || {
                mb.collect(&mut total);
            },
            |_| w.hand_over(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, stats);
criterion_main!(benches);
