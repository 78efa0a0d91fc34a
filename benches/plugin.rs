//! `plugin/enrich`: what a typical enrichment hook adds per lead. The b2b-saas rules are
//! scored on the same generated leads twice: as they are (`plugin/without`), and with
//! `plugin "seniority"` (plugins/seniority.rhai: its `enrich` hook derives a seniority
//! level from the title) plus one rule that reads the field it sets (`plugin/enrich`).
//! Both from parsed `serde_json::Value`s and from JSON text (`.../json`), the form
//! `leadscore score` reads. Run: `cargo bench --bench plugin`.

#![allow(
    clippy::unreachable,
    reason = "a benchmark whose setup fails has nothing to measure: it stops, saying why"
)]

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Leads scored per iteration: 20 events each.
const LEADS: usize = 1000;

/// The b2b-saas pack's rule files as one text, plus `extra`.
fn b2b_saas_source(extra: &str) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/b2b-saas");
    let mut text = String::new();
    for file in ["main.rules", "video.rules"] {
        let path = format!("{dir}/{file}");
        let source = std::fs::read_to_string(&path).unwrap_or_else(|e| unreachable!("{path}: {e}"));
        text.push_str(&source);
        text.push('\n');
    }
    text.push_str(extra);
    text
}

fn pack(extra: &str) -> leadscore::Pack {
    let plugins = concat!(env!("CARGO_MANIFEST_DIR"), "/plugins");
    leadscore::Loader::new()
        .plugin_path([plugins])
        .from_source("b2b-saas", &b2b_saas_source(extra))
        .unwrap_or_else(|e| unreachable!("the pack builds: {e}"))
}

fn plugin(c: &mut Criterion) {
    let leads = common::leads(LEADS, 1);
    let texts: Vec<String> = leads.iter().map(|l| l.to_string()).collect();
    let without = pack("");
    let with = pack("plugin \"seniority\"\nrule \"VP or above\": seniority in [\"vp\", \"c-level\"] => +5 fit\n");
    // The hook really runs: some leads get the rule only the plugin's field can fire.
    let scorer = with.scorer(common::as_of());
    let fired = leads
        .iter()
        .filter_map(|l| scorer.score(l).ok())
        .filter(|o| o.fired().any(|f| f.rule() == "VP or above"))
        .count();
    assert!(fired > 0, "the seniority hook never fired its rule");

    let mut group = c.benchmark_group("plugin");
    group.throughput(Throughput::Elements(LEADS as u64));
    for (name, pack) in [("without", &without), ("enrich", &with)] {
        let scorer = pack.scorer(common::as_of());
        group.bench_function(name, |b| b.iter(|| common::score_all(&scorer, &leads)));
        group.bench_function(format!("{name}/json"), |b| {
            b.iter(|| {
                texts
                    .iter()
                    .map(|text| scorer.score_json(text).map(|o| o.score))
                    .for_each(|r| drop(black_box(r)))
            })
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

criterion_group! { name = benches; config = config(); targets = plugin }
criterion_main!(benches);
