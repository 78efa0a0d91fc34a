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
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_leadscore"))
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
    use std::io::Write;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let path = dir.join("leads-100k.jsonl");
    if !path.exists() {
        let written = std::fs::create_dir_all(&dir).and_then(|()| {
            let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
            for lead in leadscore::gen::Generator::new(1).take(100_000) {
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

/// The floor of JSON Lines scoring: the file read in the batches `leadscore score` uses
/// (2,048 lines), each line parsed into a `serde_json::Value` and nothing else. Returns
/// the number of lines parsed.
pub fn parse_only(file: &std::path::Path, pool: &rayon::ThreadPool) -> usize {
    use rayon::prelude::*;
    use std::io::BufRead;
    let Ok(file) = std::fs::File::open(file) else {
        return 0;
    };
    let mut input = std::io::BufReader::with_capacity(1 << 16, file);
    let mut parsed = 0;
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
            return parsed;
        }
        parsed += pool.install(|| {
            batch
                .par_iter()
                .filter(|raw| {
                    let text = std::str::from_utf8(raw).unwrap_or("");
                    std::hint::black_box(serde_json::from_str::<serde_json::Value>(text.trim())).is_ok()
                })
                .count()
        });
    }
}
