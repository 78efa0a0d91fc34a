//! In-memory scoring: the compiled b2b-saas pack against the same rules hand-written in
//! Rust and written in Rhai (`eval/compiled`, `eval/handwritten`, `eval/rhai`), and how
//! the cost of compiling and of scoring grows with pack size (`compile/N`,
//! `eval/rules-N`). Run: `cargo bench --bench eval`.

#![allow(
    clippy::unreachable,
    reason = "a benchmark whose setup fails has nothing to measure: it stops, saying why"
)]

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use common::handwritten::Handwritten;
use common::rhai_baseline::RhaiBaseline;

/// Leads scored per iteration: parsed `serde_json::Value`s with 20 events each.
const LEADS: usize = 1000;

fn eval(c: &mut Criterion) {
    let leads = common::leads(LEADS, 1);
    let pack = common::b2b_saas();
    let scorer = pack.scorer(common::as_of());
    let hand = Handwritten::new();
    let rhai = RhaiBaseline::new().unwrap_or_else(|e| unreachable!("the script compiles: {e}"));

    let mut group = c.benchmark_group("eval");
    group.throughput(Throughput::Elements(LEADS as u64));
    group.bench_function("compiled", |b| b.iter(|| common::score_all(&scorer, &leads)));
    group.bench_function("handwritten", |b| {
        b.iter(|| {
            leads
                .iter()
                .map(|lead| hand.score(lead, common::AS_OF).map(|o| o.score))
                .for_each(|r| drop(black_box(r)))
        })
    });
    group.bench_function("rhai", |b| {
        b.iter(|| {
            leads
                .iter()
                .map(|lead| rhai.score(lead, common::AS_OF).map(|m| m.len()))
                .for_each(|r| drop(black_box(r)))
        })
    });
    for n in [10, 1000, 10_000] {
        group.bench_function(format!("rules-{n}"), |b| {
            // Built here, not above, so that selecting one benchmark skips the others' setup.
            let pack = leadscore::Pack::from_source("generated", &common::packs::pack(n))
                .unwrap_or_else(|e| unreachable!("generated packs check: {e}"));
            let scorer = pack.scorer(common::as_of());
            b.iter(|| common::score_all(&scorer, &leads))
        });
    }
    group.finish();
}

fn compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    for n in [10, 1000, 10_000] {
        let text = common::packs::pack(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &text, |b, text| {
            b.iter(|| leadscore::Pack::from_source("generated", black_box(text)).map(|p| p.program().rule_count()))
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
}

criterion_group! { name = benches; config = config(); targets = eval, compile }
criterion_main!(benches);
