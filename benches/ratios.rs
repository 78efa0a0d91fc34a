//! The ratios the targets are stated in, measured so that a busy machine does not skew
//! them: the contenders run interleaved, round after round, and each keeps its fastest
//! round (the round least disturbed by other processes). Criterion's groups
//! (`benches/eval.rs`, `benches/e2e.rs`) run one contender after another, so a load
//! change between them shows up as a ratio change; this is the cross-check.
//! Run: `cargo bench --bench ratios`.

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
fn eval(n: usize, rounds: usize) {
    println!("-- {n} leads");
    let leads = common::leads(n, 1);
    let pack = common::b2b_saas();
    let scorer = pack.scorer(common::as_of());
    let hand = Handwritten::new();
    let rhai = RhaiBaseline::new().unwrap_or_else(|e| unreachable!("the script compiles: {e}"));
    let best = fastest(
        rounds,
        &mut [
            ("eval/compiled", n as u64, &mut || common::score_all(&scorer, &leads)),
            ("eval/handwritten", n as u64, &mut || {
                leads.iter().for_each(|l| drop(black_box(hand.score(l, common::AS_OF))))
            }),
            // The same leads as the others (a subset would be cached when the rest is not).
            ("eval/rhai", n as u64, &mut || {
                leads.iter().for_each(|l| drop(black_box(rhai.score(l, common::AS_OF))))
            }),
        ],
    );
    ratio("compiled / handwritten (target <= 1.5)", best[0], best[1]);
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

fn main() {
    eval(1000, 15);
    eval(100, 40);
    e2e();
}
