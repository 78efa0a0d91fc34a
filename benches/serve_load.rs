//! A bounded load run against the real `leadscore serve` binary on 127.0.0.1, with
//! durability on (every acknowledged write is committed with fsync, in group commits):
//!
//! 1. `/v1/ingest`: events per second, from concurrent clients posting JSON Lines.
//! 2. single-event `POST /v1/leads/{id}/events` at a paced ~1,000 requests/s: p50/p99.
//! 3. `POST /v1/score`: requests per second (nothing stored).
//!
//! Each on the embedded store (`redb`), on PostgreSQL with one instance (`postgres`) and
//! with two instances sharing the database (`postgres2`, the clients spread over both):
//! a throwaway cluster (the tests' `cluster.rs`) with `fsync` on. The machine's fsync
//! floor (a 4 KB write and `sync_data` in the data folder's file system) is measured
//! before and after, and the load average printed.
//!
//! `cargo bench --all-features --bench serve_load` (the numbers are in BENCHMARKS.md);
//! `SERVE_LOAD_BACKENDS=redb` runs one backend, `LEADSCORE_BIN=PATH` measures another
//! build of the binary the same way, and `SERVE_LOAD_PG_OPTIONS='-c max_wal_size=8GB'`
//! adds server options to the throwaway cluster's (a tuned server against the defaults).
//! Each phase stops after a fixed count or time, whichever comes first.

#![allow(
    clippy::unreachable,
    reason = "a benchmark whose setup fails has nothing to measure: it stops, saying why"
)]
#![expect(clippy::expect_used, reason = "a load run: a failed setup step or request stops it")]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

#[allow(
    dead_code,
    clippy::unwrap_used,
    clippy::panic,
    reason = "the tests' throwaway cluster: a setup step that fails stops the run"
)]
#[path = "../tests/it/serve/cluster.rs"]
mod cluster;
use cluster::Cluster;

const LEADS: usize = 2_000;
const INGEST_CLIENTS: usize = 4;
const INGEST_LINES: usize = 1_000;
const INGEST_EVENTS: usize = 300_000;
const INGEST_TIME: Duration = Duration::from_secs(20);
const PACED_TASKS: usize = 100;
const PACED_EVERY: Duration = Duration::from_millis(100);
const PACED_TIME: Duration = Duration::from_secs(10);
const SCORE_CLIENTS: usize = 8;
const SCORE_TIME: Duration = Duration::from_secs(5);

/// The machine's fsync floor: the time of `File::sync_data` after a 4 KB write, in a file
/// of the file system the data folders are in (a commit cannot be faster than one).
const FSYNC_WRITES: usize = 300;
const FSYNC_TIME: Duration = Duration::from_secs(10);

fn main() {
    // `cargo bench` passes `--bench`; a filter argument other than ours means "not this one".
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"serve_load".contains(a.as_str()))
    {
        return;
    }
    // `LEADSCORE_BIN`: another build of the binary (a baseline), measured the same way.
    let bin = std::env::var("LEADSCORE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_leadscore").to_string());
    let backends = std::env::var("SERVE_LOAD_BACKENDS").unwrap_or_else(|_| "redb,postgres,postgres2".into());
    let dir = tempfile::tempdir().expect("temp dir");
    println!("serve_load: {bin}");
    println!("load average before: {}", load_average());
    fsync_floor(dir.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut cluster = None;
    // The cluster's server log, and how much of it the earlier backends' runs printed.
    let mut pg_log: Option<std::path::PathBuf> = None;
    let mut pg_log_read = 0;
    for backend in backends.split(',') {
        let (instances, storage) = match backend {
            "redb" => (
                1,
                vec!["--data".to_string(), dir.path().join("data").display().to_string()],
            ),
            "postgres" | "postgres2" => {
                // A throwaway cluster with fsync on: a commit is as durable as redb's.
                let c: &Cluster = cluster.get_or_insert_with(|| {
                    Cluster::start_with(|folder| {
                        pg_log = Some(folder.join("server.log"));
                        let more = std::env::var("SERVE_LOAD_PG_OPTIONS").unwrap_or_default();
                        println!("postgres options: {PG_OPTIONS} {more}");
                        format!("{PG_OPTIONS} {more}")
                    })
                });
                let url = c.create_db(&format!("bench_{backend}"));
                (
                    if backend == "postgres" { 1 } else { 2 },
                    vec!["--database-url".to_string(), url],
                )
            }
            other => unreachable!("SERVE_LOAD_BACKENDS: unknown backend {other:?} (redb, postgres, postgres2)"),
        };
        let servers: Vec<Server> = (0..instances).map(|_| Server::start(&bin, &storage)).collect();
        let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
        println!("\n== {backend}: {instances} instance(s)");
        let url = storage.iter().find(|s| s.starts_with("postgres://")).cloned();
        let paced = runtime.block_on(run(&bases, url.as_deref()));
        if let Some(log) = &pg_log {
            pg_log_read = postgres_log(log, pg_log_read, &paced);
        }
    }
    drop(cluster);
    fsync_floor(dir.path());
    println!("load average after: {}", load_average());
}

/// The throwaway cluster's settings: `fsync` on (a commit is as durable as redb's), and
/// in its log the statements slower than 10 ms (a `COMMIT`'s time is its WAL flush),
/// checkpoints, and autovacuum's runs, printed after each backend's run.
/// `pg_stat_statements` gives each statement's server time in the single-event phase.
const PG_OPTIONS: &str = "-c fsync=on -c log_min_duration_statement=10 -c log_checkpoints=on \
     -c log_autovacuum_min_duration=0 -c shared_preload_libraries=pg_stat_statements \
     -c pg_stat_statements.track_utility=on";

/// The most lines of the Postgres log printed after a run.
const PG_LOG_LINES: usize = 20;

/// Prints what the Postgres log gained since `from` (bytes): checkpoints and
/// autovacuum's runs, the statements over 10 ms of the single-event phase (`paced`, its
/// first and last time of day), and the count of slow statements by their first word,
/// in that phase and outside it; where it got to.
fn postgres_log(path: &std::path::Path, from: usize, paced: &(String, String)) -> usize {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let new = text.get(from..).unwrap_or_default();
    // (in the phase, first word) -> (count, slowest ms)
    let mut slow: std::collections::BTreeMap<(bool, String), (usize, f64)> = std::collections::BTreeMap::new();
    let mut shown = 0;
    println!(
        "  postgres log: checkpoints, autovacuum, statements over 10 ms in {}-{}:",
        paced.0, paced.1
    );
    for line in new.lines() {
        // "2026-12-07 21:15:54.505 UTC [pid] LOG: ..."
        let time = line.split_whitespace().nth(1).unwrap_or("");
        let inside = *paced.0 <= *time && *time <= *paced.1;
        let background = ["checkpoint", "automatic vacuum", "automatic analyze"]
            .iter()
            .any(|w| line.contains(w));
        if let Some(rest) = line.split("duration: ").nth(1) {
            let ms: f64 = rest
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0);
            let statement = rest
                .split(": ")
                .nth(1)
                .unwrap_or("")
                .split_whitespace()
                .next()
                .unwrap_or("");
            let entry = slow.entry((inside, statement.to_string())).or_default();
            entry.0 += 1;
            entry.1 = entry.1.max(ms);
        } else if !background {
            continue;
        }
        if background || (inside && shown < PG_LOG_LINES) {
            let cut: String = line.chars().take(160).collect();
            println!("    {cut}");
            shown += 1;
        }
    }
    for ((inside, statement), (n, max)) in &slow {
        let phase = if *inside { "single-event phase" } else { "other phases" };
        println!("  slow statements, {phase}: {n} x {statement}, the slowest {max:.1} ms");
    }
    text.len()
}

/// The statements of the single-event phase that took most of the server's time
/// (`pg_stat_statements`, reset when the phase began): calls, total and mean time.
fn statement_times(url: &str) {
    let rows = psql(
        url,
        "SELECT calls, round(total_exec_time::numeric, 1), round(mean_exec_time::numeric, 3), \
         round(max_exec_time::numeric, 1), left(regexp_replace(query, '\\s+', ' ', 'g'), 90) \
         FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         ORDER BY total_exec_time DESC LIMIT 14",
    );
    println!("  postgres, the single-event phase's statements (calls | total ms | mean ms | max ms | text):");
    for line in rows.lines() {
        println!("    {line}");
    }
    let sizes = psql(
        url,
        "SELECT count(*), round(avg(length(record))), round(avg(pg_column_size(record))) FROM leadscore.leads",
    );
    println!(
        "  postgres, lead rows (count | record bytes | stored bytes): {}",
        sizes.trim()
    );
}

/// Runs `sql` with `psql` on `url`: its rows, `|` between columns.
fn psql(url: &str, sql: &str) -> String {
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path().join("bin/psql"))
                .filter(|p| p.is_file())
                .max()
        })
        .ok()
        .flatten();
    let program = newest.unwrap_or_else(|| "psql".into());
    let out = Command::new(program)
        .args(["-At", "-F", " | ", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .output()
        .expect("run psql");
    assert!(out.status.success(), "psql: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The time of day (UTC, to the ms), to set the phases beside the Postgres log's lines.
fn clock() -> String {
    chrono::Utc::now().format("%H:%M:%S%.3f").to_string()
}

/// A `leadscore serve` child, killed when dropped.
struct Server {
    child: std::process::Child,
    base: String,
}

impl Server {
    fn start(bin: &str, storage: &[String]) -> Server {
        let pack = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/b2b-saas");
        let mut child = Command::new(bin)
            .args(["serve", "--pack", pack, "--listen", "127.0.0.1:0"])
            .args(storage)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start leadscore serve");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
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
        Server { child, base }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `/proc/loadavg`'s first three figures.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// Times `sync_data` after each 4 KB appended to a file in `dir`: p50, p99 and max.
fn fsync_floor(dir: &std::path::Path) {
    use std::io::Write;
    let path = dir.join("fsync-floor");
    let mut file = std::fs::File::create(&path).expect("fsync file");
    let block = [7u8; 4096];
    let started = Instant::now();
    let mut times = Vec::new();
    while times.len() < FSYNC_WRITES && started.elapsed() < FSYNC_TIME {
        let t = Instant::now();
        file.write_all(&block).expect("write");
        file.sync_data().expect("sync_data");
        times.push(t.elapsed());
    }
    drop(file);
    let _ = std::fs::remove_file(&path);
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "fsync floor (4 KB write + sync_data, {} times): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        times.len(),
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
}

/// The phases, one after the other; the single-event phase's first and last time of day.
async fn run(bases: &[String], pg: Option<&str>) -> (String, String) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");
    println!("serve_load: {LEADS} leads, pack rules/b2b-saas, durable group commits");
    // The whole answer (every lead touched, with its result), then `?answer=counts`, each
    // on its own 2,000 leads so both see leads grow the same way.
    ingest(&http, bases, "lead", "").await;
    ingest(&http, bases, "bulk", "?answer=counts").await;
    if let Some(url) = pg {
        psql(url, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
        psql(url, "SELECT pg_stat_statements_reset()");
    }
    let paced = paced(&http, bases).await;
    if let Some(url) = pg {
        statement_times(url);
    }
    score(&http, &bases[0]).await;
    paced
}

/// One JSON Lines body: `INGEST_LINES` events, spread over the leads.
fn ingest_body(prefix: &str, client: usize, batch: usize) -> String {
    let mut body = String::new();
    for i in 0..INGEST_LINES {
        let n = (client * 7919 + batch * INGEST_LINES + i) % LEADS;
        let path = match i % 10 {
            0 => "/pricing",
            1 => "/careers",
            _ => "/blog/post",
        };
        let line = json!({"lead": format!("{prefix}-{n}"), "event": {"type": "page_view", "path": path}});
        body.push_str(&line.to_string());
        body.push('\n');
    }
    body
}

/// Fields of `PREFIX-0` ... first, then events to them from every client for a while;
/// `query` is the ingest URL's.
async fn ingest(http: &reqwest::Client, bases: &[String], prefix: &str, query: &str) {
    let base = &bases[0];
    // Fields first, so every lead is scored on real data.
    let mut body = String::new();
    for n in 0..LEADS {
        let fields = json!({"title": if n % 3 == 0 { "VP Marketing" } else { "Engineer" }, "company": {"size": 100 + n}, "industry": "saas", "region": "NY"});
        body.push_str(&json!({"lead": format!("{prefix}-{n}"), "fields": fields}).to_string());
        body.push('\n');
    }
    post(http, &format!("{base}/v1/ingest"), body).await;
    let sent = Arc::new(AtomicU64::new(0));
    println!("ingest{query}: from {}", clock());
    let started = Instant::now();
    let tasks: Vec<_> = (0..INGEST_CLIENTS)
        .map(|c| {
            // Client `c` writes to instance `c % n`.
            let url = format!("{}/v1/ingest{query}", bases[c % bases.len()]);
            let prefix = prefix.to_string();
            let (http, sent) = (http.clone(), Arc::clone(&sent));
            tokio::spawn(async move {
                let mut batch = 0;
                while started.elapsed() < INGEST_TIME && sent.load(Ordering::Relaxed) < INGEST_EVENTS as u64 {
                    post(&http, &url, ingest_body(&prefix, c, batch)).await;
                    sent.fetch_add(INGEST_LINES as u64, Ordering::Relaxed);
                    batch += 1;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("ingest client");
    }
    let secs = started.elapsed().as_secs_f64();
    let events = sent.load(Ordering::Relaxed);
    println!(
        "ingest{query}: {events} events in {secs:.2}s = {:.0} events/s ({INGEST_CLIENTS} clients, {INGEST_LINES} lines per request)",
        events as f64 / secs
    );
}

/// The single-event phase; its first and last time of day.
async fn paced(http: &reqwest::Client, bases: &[String]) -> (String, String) {
    let before = histograms(http, bases).await;
    let from = clock();
    println!("single-event POST: from {from}");
    let started = Instant::now();
    let tasks: Vec<_> = (0..PACED_TASKS)
        .map(|t| {
            let (http, base) = (http.clone(), bases[t % bases.len()].clone());
            tokio::spawn(async move {
                // Spread the tasks' ticks over the interval.
                tokio::time::sleep(PACED_EVERY.mul_f64(t as f64 / PACED_TASKS as f64)).await;
                let mut tick = tokio::time::interval(PACED_EVERY);
                let mut latencies = Vec::new();
                let mut i = 0;
                while started.elapsed() < PACED_TIME {
                    tick.tick().await;
                    let lead = (t * 31 + i) % LEADS;
                    let event = json!({"type": "page_view", "path": "/pricing", "id": format!("p{t}-{i}")}).to_string();
                    let sent = Instant::now();
                    post(&http, &format!("{base}/v1/leads/lead-{lead}/events"), event).await;
                    latencies.push(sent.elapsed());
                    i += 1;
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("paced client"));
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1000.0;
    let to = clock();
    println!(
        "single-event POST: to {to}, {} requests in {secs:.2}s = {:.0} req/s; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        all.len(),
        all.len() as f64 / secs,
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    server_view(&before, &histograms(http, bases).await);
    (from, to)
}

/// The server's own view of the paced phase, from the histograms of its `/metrics`
/// (the difference over the phase, every instance together): the route's latency from
/// the request's receipt to its answer, without the client's share of the round trip,
/// and the group commits'. Quantiles interpolated within the buckets (0.1 ms doubling),
/// as Prometheus' `histogram_quantile` does.
fn server_view(before: &Histograms, after: &Histograms) {
    let delta = |name: &str| -> Histogram {
        let b = before.get(name).cloned().unwrap_or_default();
        after.get(name).cloned().unwrap_or_default().minus(&b)
    };
    let route = delta(r#"leadscore_http_request_duration_seconds{route="/v1/leads/{id}/events"}"#);
    // The commits by what they held (`held`), and all of them together.
    let commit = "leadscore_commit_duration_seconds";
    // (A build before the label has one series, `all`.)
    let mut held: Vec<(&str, Histogram)> = (after.keys())
        .filter_map(|k| match k.strip_prefix(commit)? {
            "" => Some(("all", k)),
            labels => Some((labels.strip_prefix("{held=")?.strip_suffix('}')?.trim_matches('"'), k)),
        })
        .map(|(label, key)| (label, delta(key)))
        .filter(|(_, h)| h.count > 0.0)
        .collect();
    held.sort_by(|a, b| a.0.cmp(b.0));
    let commits = held.iter().fold(Histogram::default(), |all, (_, h)| all.plus(h));
    let groups = delta("leadscore_commit_requests");
    println!(
        "  server side (its /metrics): the route p50 {:.2} ms, p99 {:.2} ms; {:.0} group commits, p50 {:.2} ms, p99 {:.2} ms, {:.2} requests each",
        route.quantile(0.50) * 1000.0,
        route.quantile(0.99) * 1000.0,
        commits.count,
        commits.quantile(0.50) * 1000.0,
        commits.quantile(0.99) * 1000.0,
        groups.sum / groups.count.max(1.0),
    );
    for (label, h) in &held {
        println!(
            "    commits that held {label}: {:.0}, p50 {:.2} ms, p99 {:.2} ms, {:.1} ms in all; over 6.4 ms: {:.0}, over 25.6 ms: {:.0}",
            h.count,
            h.quantile(0.50) * 1000.0,
            h.quantile(0.99) * 1000.0,
            h.sum * 1000.0,
            h.count - h.at_most(0.0064),
            h.count - h.at_most(0.0256),
        );
    }
}

/// A histogram of `/metrics`: cumulative counts by upper bound, sum and count.
#[derive(Clone, Debug, Default)]
struct Histogram {
    buckets: Vec<(f64, f64)>,
    sum: f64,
    count: f64,
}

impl Histogram {
    /// This one less `earlier` (the same series read before), bucket by bucket.
    fn minus(&self, earlier: &Histogram) -> Histogram {
        let before = |le: f64| earlier.buckets.iter().find(|x| x.0 == le).map_or(0.0, |x| x.1);
        Histogram {
            buckets: self.buckets.iter().map(|&(le, n)| (le, n - before(le))).collect(),
            sum: self.sum - earlier.sum,
            count: self.count - earlier.count,
        }
    }

    /// This one and `other` (of the same buckets) together.
    fn plus(&self, other: &Histogram) -> Histogram {
        let mut all = self.clone();
        for &(le, n) in &other.buckets {
            match all.buckets.iter_mut().find(|b| b.0 == le) {
                Some(b) => b.1 += n,
                None => all.buckets.push((le, n)),
            }
        }
        all.sum += other.sum;
        all.count += other.count;
        all
    }

    /// How many observations were at most `le` (a bucket's bound).
    fn at_most(&self, le: f64) -> f64 {
        self.buckets
            .iter()
            .find(|b| (b.0 - le).abs() < 1e-12)
            .map_or(0.0, |b| b.1)
    }

    /// The `q` quantile, linear within its bucket.
    fn quantile(&self, q: f64) -> f64 {
        let rank = q * self.count;
        let mut below = (0.0, 0.0);
        for &(le, n) in &self.buckets {
            if n >= rank {
                if le.is_infinite() {
                    return below.0;
                }
                let share = if n > below.1 {
                    (rank - below.1) / (n - below.1)
                } else {
                    0.0
                };
                return below.0 + (le - below.0) * share;
            }
            below = (le, n);
        }
        below.0
    }
}

/// Every histogram of the instances' `/metrics`, summed, by name and labels (without `le`).
type Histograms = std::collections::HashMap<String, Histogram>;

async fn histograms(http: &reqwest::Client, bases: &[String]) -> Histograms {
    let mut all = Histograms::new();
    for base in bases {
        let text = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text");
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let value: f64 = value.parse().unwrap_or(0.0);
            let (name, labels) = series.split_once('{').unwrap_or((series, "}"));
            let mut le = None;
            let labels: Vec<&str> = labels
                .trim_end_matches('}')
                .split(',')
                .filter(|l| !l.is_empty())
                .filter(|l| match l.strip_prefix("le=") {
                    Some(v) => {
                        le = Some(v.trim_matches('"').parse().unwrap_or(f64::INFINITY));
                        false
                    }
                    None => true,
                })
                .collect();
            let key = |base: &str| match labels.is_empty() {
                true => base.to_string(),
                false => format!("{base}{{{}}}", labels.join(",")),
            };
            if let (Some(base), Some(le)) = (name.strip_suffix("_bucket"), le) {
                let h = all.entry(key(base)).or_default();
                match h.buckets.iter_mut().find(|b| b.0 == le) {
                    Some(b) => b.1 += value,
                    None => h.buckets.push((le, value)),
                }
            } else if let Some(base) = name.strip_suffix("_sum") {
                all.entry(key(base)).or_default().sum += value;
            } else if let Some(base) = name.strip_suffix("_count") {
                all.entry(key(base)).or_default().count += value;
            }
        }
    }
    all
}

async fn score(http: &reqwest::Client, base: &str) {
    let lead = json!({
        "title": "VP Marketing", "company": {"size": 120}, "industry": "saas", "region": "NY",
        "events": [
            {"type": "page_view", "path": "/pricing", "at": "2026-02-28T10:00:00Z"},
            {"type": "form_submit", "form": "demo-request", "at": "2026-02-27T10:00:00Z"},
            {"type": "page_view", "path": "/blog/a", "at": "2026-02-20T10:00:00Z"}
        ]
    })
    .to_string();
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..SCORE_CLIENTS)
        .map(|_| {
            let (http, lead, done) = (http.clone(), lead.clone(), Arc::clone(&done));
            let url = format!("{base}/v1/score?as_of=2026-03-01T00:00:00Z");
            tokio::spawn(async move {
                while started.elapsed() < SCORE_TIME {
                    post(&http, &url, lead.clone()).await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("score client");
    }
    let secs = started.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    println!(
        "POST /v1/score: {n} requests in {secs:.2}s = {:.0} req/s ({SCORE_CLIENTS} clients)",
        n as f64 / secs
    );
}

async fn post(http: &reqwest::Client, url: &str, body: String) {
    let response = http
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "{url}: {status} {text}");
}
