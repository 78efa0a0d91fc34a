//! End to end: `leadscore score` (the real binary) over a generated 100,000-lead JSON
//! Lines file, versus the floor of that pipeline — reading the same file in the same
//! batches and parsing each line into a `serde_json::Value` and nothing else — at one
//! thread and at every core; and issue 29's input (50,000 leads of ~1.1 KB with 12
//! events, `e2e/jsonl-50k`) on one thread, against hand-written Rust over `Value` and a
//! 30-rule generated pack. Run: `cargo bench --bench e2e`.

#![allow(
    clippy::unreachable,
    reason = "a benchmark whose setup fails has nothing to measure: it stops, saying why"
)]

mod common;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};

const LEADS: u64 = 100_000;

fn e2e(c: &mut Criterion) {
    let file = common::leads_file();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut group = c.benchmark_group("e2e/jsonl");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .throughput(Throughput::Elements(LEADS));
    for threads in [1, cores] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build();
        let pool = pool.unwrap_or_else(|e| unreachable!("a thread pool: {e}"));
        group.bench_function(format!("serde_json-parse/{threads}-thread"), |b| {
            b.iter(|| assert_eq!(common::parse_only(&file, &pool), LEADS as usize))
        });
        group.bench_function(format!("leadscore-score/{threads}-thread"), |b| {
            b.iter(|| assert!(common::score_with_binary(&file, threads)))
        });
    }
    group.finish();
    e2e_50k(c);
}

/// Issue 29's input on one core: `leadscore score` with b2b-saas and with 30 generated
/// rules, against the hand-written b2b-saas pack over `serde_json::Value` and parsing alone.
fn e2e_50k(c: &mut Criterion) {
    let file = common::leads_file_50k();
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_leadscore"));
    let b2b = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/b2b-saas");
    let pack30 = common::pack_30();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build();
    let pool = pool.unwrap_or_else(|e| unreachable!("a thread pool: {e}"));
    let hand = common::handwritten::Handwritten::new();
    let mut group = c.benchmark_group("e2e/jsonl-50k");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .throughput(Throughput::Elements(50_000));
    group.bench_function("serde_json-parse/1-thread", |b| {
        b.iter(|| assert_eq!(common::parse_only(&file, &pool), 50_000))
    });
    group.bench_function("handwritten-b2b-saas/1-thread", |b| {
        b.iter(|| assert_eq!(common::handwritten_e2e(&file, &pool, &hand), 50_000))
    });
    group.bench_function("leadscore-score-b2b-saas/1-thread", |b| {
        b.iter(|| assert!(common::score_with(binary, &b2b, &file, 1)))
    });
    group.bench_function("leadscore-score-pack-30/1-thread", |b| {
        b.iter(|| assert!(common::score_with(binary, &pack30, &file, 1)))
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10))
}

criterion_group! { name = benches; config = config(); targets = e2e }
criterion_main!(benches);
