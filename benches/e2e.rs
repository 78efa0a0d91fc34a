//! End to end: `leadscore score` (the real binary) over a generated 100,000-lead JSON
//! Lines file, versus the floor of that pipeline — reading the same file in the same
//! batches and parsing each line into a `serde_json::Value` and nothing else — at one
//! thread and at every core. Run: `cargo bench --bench e2e`.

mod common;

use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use rayon::prelude::*;

const LEADS: u64 = 100_000;
/// The batch size `leadscore score` uses.
const BATCH_LINES: usize = 2048;

/// The generated file, written once and reused (`target/bench-data/leads-100k.jsonl`).
fn leads_file() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let path = dir.join("leads-100k.jsonl");
    if !path.exists() {
        let written = std::fs::create_dir_all(&dir).and_then(|()| {
            let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
            for lead in leadscore::Generator::new(1).take(LEADS as usize) {
                serde_json::to_writer(&mut out, &lead)?;
                out.write_all(b"\n")?;
            }
            out.flush()
        });
        if let Err(e) = written {
            unreachable!("cannot write {}: {e}", path.display());
        }
    }
    path
}

/// Runs the real `leadscore score` over the file, output discarded.
fn score_with_binary(file: &Path, threads: usize) -> bool {
    let status = Command::new(env!("CARGO_BIN_EXE_leadscore"))
        .args([
            "score",
            "--pack",
            "rules/b2b-saas",
            "--as-of",
            "2026-03-01T00:00:00Z",
            "--threads",
        ])
        .arg(threads.to_string())
        .arg(file)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .status();
    status.is_ok_and(|s| s.success())
}

/// The floor: the same batched reading, each line parsed into a `serde_json::Value`.
fn parse_only(file: &Path, pool: &rayon::ThreadPool) -> usize {
    let Ok(file) = std::fs::File::open(file) else {
        return 0;
    };
    let mut input = BufReader::with_capacity(1 << 16, file);
    let mut parsed = 0;
    let mut batch: Vec<Vec<u8>> = Vec::with_capacity(BATCH_LINES);
    loop {
        batch.clear();
        while batch.len() < BATCH_LINES {
            let mut line = Vec::new();
            if input.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
                break;
            }
            batch.push(line);
        }
        if batch.is_empty() {
            return parsed;
        }
        parsed += pool.install(|| {
            batch
                .par_iter()
                .filter(|raw| {
                    let text = std::str::from_utf8(raw).unwrap_or("");
                    black_box(serde_json::from_str::<serde_json::Value>(text.trim())).is_ok()
                })
                .count()
        });
    }
}

fn e2e(c: &mut Criterion) {
    let file = leads_file();
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
            b.iter(|| assert_eq!(parse_only(&file, &pool), LEADS as usize))
        });
        group.bench_function(format!("leadscore-score/{threads}-thread"), |b| {
            b.iter(|| assert!(score_with_binary(&file, threads)))
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10))
}

criterion_group! { name = benches; config = config(); targets = e2e }
criterion_main!(benches);
