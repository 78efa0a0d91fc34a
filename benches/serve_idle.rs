//! Idle cost of `leadscore serve` with many leads stored and nothing due (issue 22): a
//! backup of LEADS leads, each with one `/pricing` visit a day old (due when it leaves the
//! 7-day window, in six days), restored into a fresh data folder with `leadscore
//! restore`; the service started on it re-scores every lead once for its pack, and is
//! then left alone for a minute while its CPU time is read from `/proc/PID/stat`.
//!
//! `cargo bench --features serve --bench serve_idle` (release), or with `--profile dev`
//! for a debug build; `LEADS` and `IDLE_SECS` in the environment change the sizes. The
//! figures are in BENCHMARKS.md.
#![expect(clippy::expect_used, reason = "a measurement: a failed setup step stops it")]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use leadscore_service::model::LeadRecord;
use leadscore_service::storage::backup::{Dump, Item};

const PACK: &str = r#"threshold 30
rule "Senior":  title ~ VP                    => +20
rule "Pricing": visited /pricing within 7d    => +15
rule "Reader":  visited /blog/* => +1 each max 10
route "rest"
"#;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// utime + stime of `pid`, in seconds (from `/proc/PID/stat`, in clock ticks of 1/100 s).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')').expect("a stat line") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    ticks as f64 / 100.0
}

/// Clock ticks of each live thread of `pid`, by thread id, with its name.
fn thread_ticks(pid: u32) -> std::collections::BTreeMap<String, (String, u64)> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.filter_map(Result::ok) {
        let path = task.path();
        let (Ok(name), Ok(stat)) = (
            std::fs::read_to_string(path.join("comm")),
            std::fs::read_to_string(path.join("stat")),
        ) else {
            continue;
        };
        let Some(end) = stat.rfind(')') else { continue };
        let fields: Vec<&str> = stat[end + 2..].split_whitespace().collect();
        let ticks = fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
        out.insert(
            task.file_name().to_string_lossy().into_owned(),
            (name.trim().to_string(), ticks),
        );
    }
    out
}

/// A backup of `n` leads, written with the service's own backup writer.
fn write_backup(path: &std::path::Path, n: u64) {
    let now = chrono::Utc::now();
    let visit = (now - chrono::Duration::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create the backup"));
    let mut sink = |line: &[u8]| {
        out.write_all(line).expect("write the backup");
        Ok(())
    };
    let mut dump = Dump::start(&mut sink, "redb", "bench").expect("header");
    let created = now.timestamp_millis() - 86_400_000;
    for i in 0..n {
        let mut record = LeadRecord::new(created);
        record.fields.insert(
            "title".into(),
            (if i % 3 == 0 { "VP Sales" } else { "Engineer" }).into(),
        );
        record.events.next = 1;
        let id = format!("lead-{i:07}");
        dump.put(&Item::Lead {
            id: id.clone(),
            record: Box::new(record),
        })
        .expect("lead");
        let body = format!(r#"{{"type":"page_view","path":"/pricing","at":"{visit}"}}"#);
        dump.put(&Item::Event { lead: id, seq: 0, body }).expect("event");
    }
    dump.finish().expect("end");
    drop(out);
}

fn main() {
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"serve_idle".contains(a.as_str()))
    {
        return;
    }
    let leads = env_number("LEADS", 100_000);
    let idle = Duration::from_secs(env_number("IDLE_SECS", 60));
    let bin = env!("CARGO_BIN_EXE_leadscore");
    let dir = tempfile::tempdir().expect("temp dir");
    let pack = dir.path().join("pack");
    std::fs::create_dir_all(&pack).expect("pack folder");
    std::fs::write(pack.join("main.rules"), PACK).expect("pack");
    let backup = dir.path().join("backup.jsonl");
    let data = dir.path().join("data");

    let started = Instant::now();
    write_backup(&backup, leads);
    let restore = Command::new(bin)
        .args(["restore", "--from"])
        .arg(&backup)
        .arg("--data")
        .arg(&data)
        .status()
        .expect("run leadscore restore");
    assert!(restore.success(), "restore failed");
    eprintln!("restored {leads} leads in {:.1}s", started.elapsed().as_secs_f64());

    let mut child = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--pack"])
        .arg(&pack)
        .arg("--data")
        .arg(&data)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start leadscore serve");
    let started = Instant::now();
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("the server exits before listening")
            .expect("stderr");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap_or_default().to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let rescored = || {
        runtime.block_on(async {
            let text = reqwest::get(format!("{base}/metrics")).await.ok()?.text().await.ok()?;
            text.lines()
                .find_map(|l| l.strip_prefix("leadscore_leads_rescored_total ")?.parse::<u64>().ok())
        })
    };
    while rescored().unwrap_or(0) < leads {
        assert!(
            started.elapsed() < Duration::from_secs(1_800),
            "the re-scoring at start did not end"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let pid = child.id();
    let start_cpu = cpu_seconds(pid);
    eprintln!(
        "re-scored {leads} leads once at start in {:.1}s ({start_cpu:.2}s of CPU since the start)",
        started.elapsed().as_secs_f64()
    );
    // Settle: the last chunk's commit and the due check after it.
    std::thread::sleep(Duration::from_secs(2));
    let before = cpu_seconds(pid);
    let threads_before = thread_ticks(pid);
    std::thread::sleep(idle);
    let after = cpu_seconds(pid);
    let threads_after = thread_ticks(pid);
    // Where the time went: the live threads (a thread that ended in the window adds its
    // whole life's time to the process's, and is not listed).
    for (tid, (name, ticks)) in &threads_after {
        let was = threads_before.get(tid).map_or(0, |(_, t)| *t);
        if *ticks > was {
            eprintln!("  thread {name} ({tid}): {:.2}s", (ticks - was) as f64 / 100.0);
        }
    }
    let again = rescored().unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "idle with {leads} leads stored, nothing due: {:.2}s of CPU in {}s ({:.2}s per 2 minutes); leads re-scored: {again}",
        after - before,
        idle.as_secs(),
        (after - before) * 120.0 / idle.as_secs_f64()
    );
}
