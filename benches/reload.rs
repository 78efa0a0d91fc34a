//! Hot reload: how long an edit takes to go live, and what reloading costs concurrent scoring.
//!
//! `cargo bench --bench reload`. The latency benchmark also prints percentiles of every
//! measured edit (criterion reports means and medians only; the target is a p99).

#![allow(
    clippy::unreachable,
    reason = "a benchmark whose setup fails has nothing to measure: it stops, saying why"
)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use leadscore::reload::WatchOptions;
use leadscore::{LivePack, Loader};

/// The b2b-saas example pack copied into a temporary folder, watched with the defaults.
fn setup() -> (tempfile::TempDir, Editor, LivePack) {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/b2b-saas");
    let root = tempfile::tempdir().unwrap();
    let pack = root.path().join("b2b-saas");
    std::fs::create_dir(&pack).unwrap();
    for name in ["main.rules", "video.rules"] {
        std::fs::copy(examples.join(name), pack.join(name)).unwrap();
    }
    let base = std::fs::read_to_string(pack.join("main.rules")).unwrap();
    let (live, events) = LivePack::watch(&pack, Loader::new(), WatchOptions::new()).unwrap();
    drop(events);
    (root, Editor { pack, base, edits: 0 }, live)
}

/// Saves new versions of `main.rules`.
struct Editor {
    pack: PathBuf,
    base: String,
    edits: u64,
}

impl Editor {
    /// Saves a new version the way vim and `sed -i` do (write a temp file, rename it
    /// over) and returns how long it took to go live.
    fn edit_and_wait(&mut self, live: &LivePack) -> Duration {
        self.edits += 1;
        let text = format!("{}\nrule \"bench\": title ~ CEO => +{}\n", self.base, self.edits);
        let temp = self.pack.join("main.rules.tmp");
        std::fs::write(&temp, text).unwrap();
        let old = live.current().id().version.clone();
        let start = Instant::now();
        std::fs::rename(&temp, self.pack.join("main.rules")).unwrap();
        while live.current().id().version == old {
            std::thread::sleep(Duration::from_micros(100));
            assert!(start.elapsed() < Duration::from_secs(10), "the edit never went live");
        }
        start.elapsed()
    }
}

fn leads() -> Vec<serde_json::Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/b2b-saas/leads");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

fn latency(c: &mut Criterion) {
    let (_root, mut editor, live) = setup();
    let mut samples = Vec::new();
    let mut group = c.benchmark_group("reload");
    group.sample_size(20).measurement_time(Duration::from_secs(15));
    group.bench_function("latency", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let d = editor.edit_and_wait(&live);
                    samples.push(d);
                    d
                })
                .sum()
        })
    });
    group.finish();
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    eprintln!(
        "reload/latency over {} edits: p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
        samples.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        samples[samples.len() - 1]
    );
}

/// Scores the sample leads, one `current()` per lead, as a service would.
fn score_all(live: &LivePack, leads: &[serde_json::Value], as_of: chrono::DateTime<chrono::Utc>) {
    for lead in leads {
        let pack = live.current();
        std::hint::black_box(pack.score(lead, as_of).unwrap());
    }
}

fn scoring(c: &mut Criterion) {
    let (_root, mut editor, live) = setup();
    let leads = leads();
    let as_of = leadscore::parse_time("2026-03-01T00:00:00Z").unwrap();
    let mut group = c.benchmark_group("reload/scoring");
    group.throughput(Throughput::Elements(leads.len() as u64));
    group.bench_function("idle", |b| b.iter(|| score_all(&live, &leads, as_of)));
    // Another thread saves a new version as soon as the last one is live: a rebuild is
    // always queued or running while the scorer measures.
    let stop = AtomicBool::new(false);
    let reloads = std::thread::scope(|s| {
        let editing = s.spawn(|| {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                editor.edit_and_wait(&live);
                n += 1;
            }
            n
        });
        group.bench_function("while_reloading", |b| b.iter(|| score_all(&live, &leads, as_of)));
        stop.store(true, Ordering::Relaxed);
        editing.join().unwrap()
    });
    group.finish();
    eprintln!("reload/scoring/while_reloading: {reloads} reloads during the measurement");
}

criterion_group!(benches, latency, scoring);
criterion_main!(benches);
