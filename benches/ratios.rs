//! The ratios the targets are stated in, measured so that a busy machine does not skew
//! them: the contenders run interleaved, round after round, and each keeps its fastest
//! round (the round least disturbed by other processes). Criterion's groups
//! (`benches/eval.rs`, `benches/e2e.rs`) run one contender after another, so a load
//! change between them shows up as a ratio change; this is the cross-check.
//! Run: `cargo bench --bench ratios` (everything), `cargo bench --bench ratios -- e2e-50k`
//! for issue 29's end-to-end contenders only, or `cargo bench --bench ratios -- eval` for
//! the evaluation contenders only (1,000 leads, then 100 cached); `-- eval compiled` (or
//! `handwritten`, `rhai`) runs one of them alone, for a profiler's count of its work. With `LEADSCORE_BASE=path/to/leadscore` (a
//! binary built from another commit), that binary runs as a contender too, interleaved
//! with this build's: a before/after in one run.

#![allow(
    clippy::unreachable,
    reason = "a benchmark whose setup fails has nothing to measure: it stops, saying why"
)]

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::handwritten::Handwritten;
use common::rhai_baseline::RhaiBaseline;

/// The fastest of `rounds` interleaved runs of each contender, per item.
fn fastest(rounds: usize, contenders: &mut [(&str, u64, &mut dyn FnMut())]) -> Vec<Duration> {
    let mut best = vec![Duration::MAX; contenders.len()];
    for _ in 0..rounds {
        for (i, (_, items, run)) in contenders.iter_mut().enumerate() {
            let start = Instant::now();
            run();
            best[i] = best[i].min(start.elapsed() / u32::try_from(*items).unwrap_or(u32::MAX));
        }
    }
    for ((name, _, _), time) in contenders.iter().zip(&best) {
        println!(
            "{name:<40} {:>10.2} µs per lead (fastest of {rounds} rounds)",
            time.as_secs_f64() * 1e6
        );
    }
    best
}

fn ratio(name: &str, slow: Duration, fast: Duration) {
    println!("{name:<40} {:>10.2}×", slow.as_secs_f64() / fast.as_secs_f64());
}

/// The three contenders over `n` generated leads. With 1,000 leads (16 MB of parsed
/// JSON) every round reads its leads from memory; with 100 they stay in cache between
/// rounds, as a lead a service has just parsed is when it scores it.
/// `only` names one contender to run alone (the others are skipped, and so the ratios).
fn eval(n: usize, rounds: usize, only: Option<&str>) {
    println!("-- {n} leads");
    let leads = common::leads(n, 1);
    let pack = common::b2b_saas();
    let scorer = pack.scorer(common::as_of());
    let hand = Handwritten::new();
    let rhai = RhaiBaseline::new().unwrap_or_else(|e| unreachable!("the script compiles: {e}"));
    let (mut compiled, mut handwritten, mut script) = (
        || common::score_all(&scorer, &leads),
        || leads.iter().for_each(|l| drop(black_box(hand.score(l, common::AS_OF)))),
        // The same leads as the others (a subset would be cached when the rest is not).
        || leads.iter().for_each(|l| drop(black_box(rhai.score(l, common::AS_OF)))),
    );
    let mut contenders: [(&str, u64, &mut dyn FnMut()); 3] = [
        ("eval/compiled", n as u64, &mut compiled),
        ("eval/handwritten", n as u64, &mut handwritten),
        ("eval/rhai", n as u64, &mut script),
    ];
    if let Some(only) = only {
        let mut alone: Vec<_> = contenders
            .into_iter()
            .filter(|(name, _, _)| name.ends_with(only))
            .collect();
        fastest(rounds, &mut alone);
        return;
    }
    let best = fastest(rounds, &mut contenders);
    ratio("compiled / handwritten (target <= 1.0)", best[0], best[1]);
    ratio("rhai / compiled (target >= 30)", best[2], best[0]);
}

fn e2e() {
    let file = common::leads_file();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let score = |threads: usize| {
        let file = file.clone();
        move || assert!(common::score_with_binary(&file, threads))
    };
    let parse = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build();
        let pool = pool.unwrap_or_else(|e| unreachable!("a thread pool: {e}"));
        let file = file.clone();
        move || assert_eq!(common::parse_only(&file, &pool), 100_000)
    };
    let (mut s1, mut sn, mut p1, mut pn) = (score(1), score(cores), parse(1), parse(cores));
    let best = fastest(
        5,
        &mut [
            ("e2e/jsonl serde_json parse, 1 thread", 100_000, &mut p1),
            ("e2e/jsonl leadscore score, 1 thread", 100_000, &mut s1),
            ("e2e/jsonl serde_json parse, all cores", 100_000, &mut pn),
            ("e2e/jsonl leadscore score, all cores", 100_000, &mut sn),
        ],
    );
    ratio("score / parse throughput, 1 thread (>= 1.3)", best[0], best[1]);
    ratio("score throughput, all cores / 1 thread (>= 1.7)", best[1], best[3]);
    ratio("parse throughput, all cores / 1 thread", best[0], best[2]);
}

/// Issue 29's end-to-end figures on one core: 50,000 leads of ~1.1 KB (12 events each)
/// scored by `leadscore score --threads 1` with the b2b-saas pack and with a 30-rule
/// generated pack, against hand-written Rust over `serde_json::Value` (parse, then the
/// hand-written b2b-saas pack), parsing alone, and skipping alone (the parser's limit).
fn e2e_50k(rounds: usize) {
    let file = common::leads_file_50k();
    let bytes = std::fs::metadata(&file).map_or(0, |m| m.len());
    let leads = 50_000;
    println!("-- {leads} leads, 12 events each, {:.1} MB", bytes as f64 / 1e6);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build();
    let pool = pool.unwrap_or_else(|e| unreachable!("a thread pool: {e}"));
    let hand = Handwritten::new();
    let this = std::path::PathBuf::from(env!("CARGO_BIN_EXE_leadscore"));
    let base = std::env::var_os("LEADSCORE_BASE").map(std::path::PathBuf::from);
    let (b2b, pack30) = (
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/b2b-saas"),
        common::pack_30(),
    );
    let score = |binary: &std::path::Path, pack: &std::path::Path| {
        let (binary, pack, file) = (binary.to_path_buf(), pack.to_path_buf(), file.clone());
        move || assert!(common::score_with(&binary, &pack, &file, 1))
    };
    let (mut s_b2b, mut s_30) = (score(&this, &b2b), score(&this, &pack30));
    let base_binary = base.clone().unwrap_or_else(|| this.clone());
    let (mut base_b2b, mut base_30) = (score(&base_binary, &b2b), score(&base_binary, &pack30));
    let mut hand_e2e = || assert_eq!(common::handwritten_e2e(&file, &pool, &hand), leads as usize);
    let mut parse = || assert_eq!(common::parse_only(&file, &pool), leads as usize);
    let mut skip = || assert_eq!(common::skip_only(&file, &pool), leads as usize);
    let mut contenders: Vec<(&str, u64, &mut dyn FnMut())> = vec![
        ("serde_json skip (IgnoredAny)", leads, &mut skip),
        ("serde_json parse into Value", leads, &mut parse),
        ("hand-written: parse + b2b-saas", leads, &mut hand_e2e),
        ("leadscore score b2b-saas", leads, &mut s_b2b),
        ("leadscore score pack-30", leads, &mut s_30),
    ];
    if base.is_some() {
        contenders.push(("LEADSCORE_BASE score b2b-saas", leads, &mut base_b2b));
        contenders.push(("LEADSCORE_BASE score pack-30", leads, &mut base_30));
    }
    let best = fastest(rounds, &mut contenders);
    let mbs = |d: std::time::Duration| bytes as f64 / (d.as_secs_f64() * leads as f64) / 1e6;
    for ((name, _, _), time) in contenders.iter().zip(&best) {
        println!("{name:<40} {:>10.0} MB/s", mbs(*time));
    }
    ratio("score b2b-saas / hand-written (<= 0.3)", best[3], best[2]);
    ratio("score pack-30 / parse into Value (<= 0.3)", best[4], best[1]);
    ratio("score b2b-saas / parse into Value", best[3], best[1]);
    ratio("score b2b-saas / skip", best[3], best[0]);
    if base.is_some() {
        ratio("b2b-saas: this build / LEADSCORE_BASE", best[3], best[5]);
        ratio("pack-30: this build / LEADSCORE_BASE", best[4], best[6]);
    }
}

fn main() {
    if std::env::args().any(|a| a == "e2e-50k") {
        return e2e_50k(9);
    }
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "eval") {
        let only = args.get(at + 1).map(String::as_str).filter(|a| !a.starts_with('-'));
        eval(1000, 15, only);
        return eval(100, 40, only);
    }
    eval(1000, 15, None);
    eval(100, 40, None);
    e2e();
    e2e_50k(7);
}
