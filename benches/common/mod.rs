//! Shared by the benches and by `tests/it/baselines.rs` (which includes this folder with
//! `#[path]`), so the baselines measured are the baselines tested.
#![allow(dead_code)]

pub mod handwritten;
pub mod packs;
pub mod rhai_baseline;

/// The time every benchmark scores as of: the generator's default, 2026-03-01T00:00:00Z.
pub const AS_OF: i64 = leadscore::gen::DEFAULT_AS_OF_MILLIS;

/// `as_of` as the library takes it.
pub fn as_of() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(AS_OF).unwrap_or_default()
}

/// `n` generated leads with 20 events each, parsed.
pub fn leads(n: usize, seed: u64) -> Vec<serde_json::Value> {
    leadscore::gen::Generator::new(seed)
        .take(n)
        .map(|lead| serde_json::to_value(lead).unwrap_or_default())
        .collect()
}

/// Scores every lead, keeping nothing: the loop every eval benchmark times.
pub fn score_all(scorer: &leadscore::Scorer, leads: &[serde_json::Value]) {
    leads
        .iter()
        .map(|lead| scorer.score(lead).map(|o| o.score))
        .for_each(|r| drop(std::hint::black_box(r)));
}

/// Runs the real `leadscore score` over `file` with the b2b-saas pack, output discarded.
pub fn score_with_binary(file: &std::path::Path, threads: usize) -> bool {
    let pack = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/b2b-saas");
    score_with(
        std::path::Path::new(env!("CARGO_BIN_EXE_leadscore")),
        &pack,
        file,
        threads,
    )
}

/// Runs `binary score` (this build's, or another build's for a before/after) over `file`
/// with `pack`, output discarded.
pub fn score_with(binary: &std::path::Path, pack: &std::path::Path, file: &std::path::Path, threads: usize) -> bool {
    let status = std::process::Command::new(binary)
        .args(["score", "--as-of", "2026-03-01T00:00:00Z", "--pack"])
        .arg(pack)
        .arg("--threads")
        .arg(threads.to_string())
        .arg(file)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::null())
        .status();
    status.is_ok_and(|s| s.success())
}

/// The b2b-saas example pack.
pub fn b2b_saas() -> leadscore::Pack {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/b2b-saas");
    leadscore::Pack::load(dir).unwrap_or_else(|e| unreachable!("the example pack loads: {e}"))
}

/// A generated 100,000-lead JSON Lines file, written once and reused
/// (`target/bench-data/leads-100k.jsonl`).
pub fn leads_file() -> std::path::PathBuf {
    generated_file("leads-100k.jsonl", 100_000, 20)
}

/// Issue 29's input: 50,000 generated leads with 12 events each, about 1.1 KB a line
/// (`target/bench-data/leads-50k-12.jsonl`).
pub fn leads_file_50k() -> std::path::PathBuf {
    generated_file("leads-50k-12.jsonl", 50_000, 12)
}

/// `n` generated leads (seed 1) with `events` events each, written once and reused.
fn generated_file(name: &str, n: usize, events: usize) -> std::path::PathBuf {
    use std::io::Write;
    let path = bench_data().join(name);
    if !path.exists() {
        let written = std::fs::File::create(&path).and_then(|file| {
            let mut out = std::io::BufWriter::new(file);
            for lead in leadscore::gen::Generator::new(1).events_per_lead(events).take(n) {
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

/// Issue 29's pack: 30 generated rules (`packs::pack(30)`: globs, counts, windows,
/// `each … max`, `did … where`, lets, caps, a threshold and routes), written once as a
/// pack folder (`target/bench-data/pack-30/`).
pub fn pack_30() -> std::path::PathBuf {
    let dir = bench_data().join("pack-30");
    let file = dir.join("pack.rules");
    let text = packs::pack(30);
    if std::fs::read_to_string(&file).ok().as_deref() != Some(text.as_str()) {
        if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&file, &text)) {
            unreachable!("cannot write {}: {e}", file.display());
        }
    }
    dir
}

/// `target/bench-data/`, made when missing.
fn bench_data() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        unreachable!("cannot make {}: {e}", dir.display());
    }
    dir
}

/// Every line of `file` in `leadscore score`'s batches (2,048 lines), each given to `each`
/// on `pool`; returns how many `each` accepted.
pub fn each_line(file: &std::path::Path, pool: &rayon::ThreadPool, each: impl Fn(&str) -> bool + Sync) -> usize {
    use rayon::prelude::*;
    use std::io::BufRead;
    let Ok(file) = std::fs::File::open(file) else {
        return 0;
    };
    let mut input = std::io::BufReader::with_capacity(1 << 16, file);
    let mut accepted = 0;
    let mut batch: Vec<Vec<u8>> = Vec::with_capacity(2048);
    loop {
        batch.clear();
        while batch.len() < 2048 {
            let mut line = Vec::new();
            if input.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
                break;
            }
            batch.push(line);
        }
        if batch.is_empty() {
            return accepted;
        }
        accepted += pool.install(|| {
            batch
                .par_iter()
                .filter(|raw| each(std::str::from_utf8(raw).unwrap_or("").trim()))
                .count()
        });
    }
}

/// The hand-written pack end to end: each line parsed into a `serde_json::Value` and
/// scored by [`handwritten::Handwritten`] (results dropped, not written: a floor for
/// hand-written code, which would also have to print them). Returns the leads scored.
pub fn handwritten_e2e(file: &std::path::Path, pool: &rayon::ThreadPool, hand: &handwritten::Handwritten) -> usize {
    each_line(file, pool, |text| {
        serde_json::from_str::<serde_json::Value>(text)
            .is_ok_and(|lead| std::hint::black_box(hand.score(&lead, AS_OF)).is_ok())
    })
}

/// The parser's own limit: each line checked as JSON and skipped (`serde::de::IgnoredAny`),
/// nothing built. Returns the lines read.
pub fn skip_only(file: &std::path::Path, pool: &rayon::ThreadPool) -> usize {
    each_line(file, pool, |text| {
        std::hint::black_box(serde_json::from_str::<serde::de::IgnoredAny>(text)).is_ok()
    })
}

/// The floor of JSON Lines scoring: the file read in the batches `leadscore score` uses
/// (2,048 lines), each line parsed into a `serde_json::Value` and nothing else. Returns
/// the number of lines parsed.
pub fn parse_only(file: &std::path::Path, pool: &rayon::ThreadPool) -> usize {
    each_line(file, pool, |text| {
        std::hint::black_box(serde_json::from_str::<serde_json::Value>(text)).is_ok()
    })
}
