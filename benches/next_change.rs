//! What finding when a lead's result next changes costs on top of scoring it: `score` and
//! `score_with_next_change` (and their JSON-text forms, what `leadscore serve` scores)
//! over the same generated leads, interleaved round by round, the fastest round of each
//! kept (as `benches/ratios.rs` does, so a busy machine does not skew the ratio). Run on
//! the b2b-saas pack (windows, `at least`, `each`) and on the same pack with `intent`
//! decaying (crossings of the threshold and the cap).
//! Run: `cargo bench --bench next_change`.

#![allow(
    clippy::unreachable,
    reason = "a benchmark whose setup fails has nothing to measure: it stops, saying why"
)]

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

/// The fastest of `rounds` interleaved runs of each contender, per lead.
fn fastest<const N: usize>(rounds: usize, leads: usize, contenders: [(&str, &dyn Fn()); N]) -> [Duration; N] {
    let mut best = [Duration::MAX; N];
    for _ in 0..rounds {
        for (i, (_, run)) in contenders.iter().enumerate() {
            let start = Instant::now();
            run();
            best[i] = best[i].min(start.elapsed() / u32::try_from(leads).unwrap_or(u32::MAX));
        }
    }
    for ((name, _), time) in contenders.iter().zip(&best) {
        println!(
            "{name:<44} {:>8.2} µs per lead (fastest of {rounds} rounds)",
            time.as_secs_f64() * 1e6
        );
    }
    best
}

fn ratio(name: &str, slow: Duration, fast: Duration) {
    println!("{name:<44} {:>8.3}×", slow.as_secs_f64() / fast.as_secs_f64());
}

fn run(name: &str, pack: &leadscore::Pack, leads: &[serde_json::Value], rounds: usize) {
    println!("-- {name}, {} leads", leads.len());
    let texts: Vec<String> = leads.iter().map(ToString::to_string).collect();
    let scorer = pack.scorer(common::as_of());
    let (mut due, mut never) = (0, 0);
    for lead in leads {
        match scorer.score_with_next_change(lead) {
            Ok((_, leadscore::NextChange::Never)) => never += 1,
            Ok(_) => due += 1,
            Err(e) => unreachable!("a generated lead scores: {e}"),
        }
    }
    println!("{due} leads with a next change, {never} never");
    let best = fastest(
        rounds,
        leads.len(),
        [
            ("score (parsed lead)", &|| {
                leads.iter().for_each(|l| drop(black_box(scorer.score(l))))
            }),
            ("score_with_next_change (parsed lead)", &|| {
                leads
                    .iter()
                    .for_each(|l| drop(black_box(scorer.score_with_next_change(l))))
            }),
            ("score_json (JSON text)", &|| {
                texts.iter().for_each(|t| drop(black_box(scorer.score_json(t))))
            }),
            ("score_json_with_next_change (JSON text)", &|| {
                texts
                    .iter()
                    .for_each(|t| drop(black_box(scorer.score_json_with_next_change(t))))
            }),
        ],
    );
    ratio("with next change / score, parsed", best[1], best[0]);
    ratio("with next change / score, text", best[3], best[2]);
}

fn main() {
    let leads = common::leads(1000, 1);
    let pack = common::b2b_saas();
    run("b2b-saas", &pack, &leads, 30);
    let main = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/b2b-saas/main.rules"));
    let main = main.unwrap_or_else(|e| unreachable!("the example pack is there: {e}"));
    let decaying = format!("{main}\ndecay intent half-life 14d\n");
    let pack = leadscore::Pack::from_source("b2b-saas-decay", &decaying);
    let pack = pack.unwrap_or_else(|e| unreachable!("the example pack with decay loads: {e}"));
    run("b2b-saas with decay intent half-life 14d", &pack, &leads, 30);
}
