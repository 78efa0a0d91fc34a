//! `leadscore serve`, through the real binary on 127.0.0.1 (ephemeral ports): the API,
//! a crash mid-load, reloads under load, a webhook receiver that is down for a while,
//! SLAs and requalification, shutdown. Every loop is bounded in count and time.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod backup;
mod business;
pub(crate) mod cluster;
mod due;
mod erasure;
mod export;
mod faults;
mod funnel;
mod postgres;
mod shadow;
mod targets;
mod webhooks;
mod write_path;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_leadscore");

/// The pack most tests serve: an MQL at 30, an SLA on the east route, a cool-down.
pub(crate) const PACK: &str = r#"threshold 30
requalify after 2s
rule "Senior":  title ~ VP                    => +20
rule "Pricing": visited /pricing within 7d    => +15
rule "Reader":  visited /blog/* => +1 each max 10
route "east" when region in ["NY", "NJ"] sla 2s
route "rest"
"#;

/// A running `leadscore serve`, killed when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
    log: Arc<Mutex<String>>,
}

impl Server {
    pub(crate) fn start(pack: &Path, data: &Path, extra: &[&str]) -> Server {
        Server::start_on(pack, &["--data", data.to_str().unwrap()], extra)
    }

    /// A server on the storage `store` names: `--data DIR` or `--database-url URL`.
    pub(crate) fn start_on(pack: &Path, store: &[&str], extra: &[&str]) -> Server {
        let mut command = Command::new(BIN);
        command
            .args(["serve", "--pack"])
            .arg(pack)
            .args(store)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra);
        Server::launch(command)
    }

    /// Runs `command` (a `leadscore serve`, perhaps behind a wrapper that `exec`s it) and
    /// waits for it to listen.
    fn launch(mut command: Command) -> Server {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let Ok(base) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            panic!("the server did not start:\n{}", log.lock().unwrap());
        };
        Server { child, base, log }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGTERM, then the exit status (within `within`).
    fn terminate(&mut self, within: Duration) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "not stopped within {within:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn pack_dir(root: &Path, text: &str) -> PathBuf {
    let dir = root.join("pack");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.rules"), text).unwrap();
    dir
}

/// Publishes `text` as version `name`: written in its own folder, then the `current` link
/// flipped to it in one rename.
pub(crate) fn publish(root: &Path, name: &str, text: &str) -> PathBuf {
    let version = root.join("versions").join(name);
    std::fs::create_dir_all(&version).unwrap();
    std::fs::write(version.join("main.rules"), text).unwrap();
    let link = root.join("current");
    let tmp = root.join("current.tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&version, &tmp).unwrap();
    std::fs::rename(&tmp, &link).unwrap();
    link
}

/// A JSON body (the service's dependency has no `json` feature; this is all it would do).
pub(crate) trait JsonBody {
    fn json(self, value: &Value) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json(self, value: &Value) -> Self {
        self.header("content-type", "application/json").body(value.to_string())
    }
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The body of a GET as text (`/metrics`, `/v1/export`: not one JSON value).
pub(crate) async fn text(http: &reqwest::Client, url: String) -> String {
    http.get(url).send().await.unwrap().text().await.unwrap()
}

/// A request's status and JSON body.
pub(crate) async fn call(req: reqwest::RequestBuilder) -> (u16, Value) {
    let response = req.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Polls `check` every 50 ms until it returns `Some`, for at most `within`.
pub(crate) async fn until<T, F: std::future::Future<Output = Option<T>>>(
    within: Duration,
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn all_transitions(http: &reqwest::Client, server: &Server) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = 0;
    for _ in 0..10_000 {
        let (status, page) = call(http.get(server.url(&format!("/v1/transitions?after={after}&limit=1000")))).await;
        assert_eq!(status, 200, "{page}");
        let list = page["transitions"].as_array().unwrap().clone();
        if list.is_empty() {
            return out;
        }
        after = page["next"].as_u64().unwrap();
        out.extend(list);
    }
    panic!("too many transition pages")
}

/// A lead's fields, all its events and its stored result, as one batch-scoring line.
async fn export(http: &reqwest::Client, server: &Server, id: &str) -> (Value, Value) {
    let (status, lead) = call(http.get(server.url(&format!("/v1/leads/{id}?events_limit=1000")))).await;
    assert_eq!(status, 200, "{lead}");
    assert!(lead["events"]["next"].is_null(), "more than one page of events");
    let mut line = lead["fields"].clone();
    line["id"] = json!(id);
    line["events"] = lead["events"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].clone())
        .collect();
    (line, lead)
}

/// Batch `leadscore score` of `lines` as of `as_of`: the results in order.
fn batch_score(pack: &Path, dir: &Path, as_of: &str, lines: &[Value]) -> Vec<Value> {
    let file = dir.join("batch.jsonl");
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let out = Command::new(BIN)
        .args(["score", "--pack"])
        .arg(pack)
        .args(["--as-of", as_of])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every stored result equals a batch score of the same fields and events at the same as-of.
async fn assert_results_equal_batch(http: &reqwest::Client, server: &Server, pack: &Path, dir: &Path, ids: &[String]) {
    let mut by_as_of: BTreeMap<String, Vec<(Value, Value)>> = BTreeMap::new();
    for id in ids {
        let (line, lead) = export(http, server, id).await;
        by_as_of
            .entry(lead["as_of"].as_str().unwrap().to_string())
            .or_default()
            .push((line, lead["result"].clone()));
    }
    let mut compared = 0;
    for (as_of, leads) in &by_as_of {
        let lines: Vec<Value> = leads.iter().map(|(l, _)| l.clone()).collect();
        let batch = batch_score(pack, dir, as_of, &lines);
        assert_eq!(batch.len(), leads.len());
        for ((line, stored), scored) in leads.iter().zip(&batch) {
            assert_eq!(stored, scored, "lead {} as of {as_of}", line["id"]);
            compared += 1;
        }
    }
    assert_eq!(compared, ids.len());
}

/// What a webhook receiver got: one entry per delivery (retries included).
#[derive(Clone, Debug)]
struct Delivery {
    key: String,
    signature: Option<String>,
    body: Value,
    raw: Vec<u8>,
}

/// A webhook receiver on 127.0.0.1, recording every delivery.
struct Receiver {
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(addr: std::net::SocketAddr, got: Arc<Mutex<Vec<Delivery>>>) -> Receiver {
        use axum::routing::post;
        let sink = Arc::clone(&got);
        let app = axum::Router::new().route(
            "/hook",
            post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let sink = Arc::clone(&sink);
                async move {
                    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
                    sink.lock().unwrap().push(Delivery {
                        key: header("idempotency-key").unwrap_or_default(),
                        signature: header("x-leadscore-signature"),
                        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                        raw: body.to_vec(),
                    });
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { task }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A free port on 127.0.0.1 (bound, then released).
fn free_port() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// Every transition was delivered, each delivery equals the stored transition, and the
/// first deliveries of each lead's transitions came in seq order.
fn assert_delivered(deliveries: &[Delivery], transitions: &[Value]) {
    let stored: HashMap<u64, &Value> = transitions.iter().map(|t| (t["seq"].as_u64().unwrap(), t)).collect();
    let mut first_seen: Vec<u64> = Vec::new();
    let mut keys: HashMap<u64, String> = HashMap::new();
    for d in deliveries {
        let seq = d.body["seq"].as_u64().unwrap();
        assert_eq!(
            Some(&d.body),
            stored.get(&seq).copied(),
            "delivery of {seq} differs from the outbox"
        );
        let key = keys.entry(seq).or_insert_with(|| d.key.clone());
        assert_eq!(*key, d.key, "a retry of {seq} has another Idempotency-Key");
        if !first_seen.contains(&seq) {
            first_seen.push(seq);
        }
    }
    let distinct: BTreeSet<&String> = keys.values().collect();
    assert_eq!(distinct.len(), keys.len(), "two transitions share an Idempotency-Key");
    let missing: Vec<u64> = stored.keys().filter(|s| !keys.contains_key(s)).copied().collect();
    assert!(missing.is_empty(), "not delivered: {missing:?}");
    let mut by_lead: HashMap<String, Vec<u64>> = HashMap::new();
    for seq in first_seen {
        by_lead
            .entry(stored[&seq]["lead"].as_str().unwrap().to_string())
            .or_default()
            .push(seq);
    }
    for (lead, seqs) in by_lead {
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "lead {lead}: delivered out of order: {seqs:?}"
        );
    }
}

/// Seqs run from 1 without gaps or repeats.
fn assert_contiguous(transitions: &[Value]) {
    let seqs: Vec<u64> = transitions.iter().map(|t| t["seq"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_stores_scores_and_explains_leads() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    api_case(dir.path(), &["--data", data.to_str().unwrap()]).await;
}

/// The API's core cases on the storage `store` names (the Postgres tests run it too).
async fn api_case(dir: &Path, store: &[&str]) {
    let pack = pack_dir(dir, PACK);
    let server = Server::start_on(
        &pack,
        store,
        &["--max-body-bytes", "4096", "--max-fields-per-lead", "5"],
    );
    let http = client();

    let (status, put) = call(
        http.put(server.url("/v1/leads/ann"))
            .json(&json!({"title": "VP Sales", "region": "NY", "plan": {"seats": 5}})),
    )
    .await;
    assert_eq!(status, 200, "{put}");
    assert_eq!(
        (put["stage"].as_str(), put["result"]["score"].as_f64()),
        (Some("lead"), Some(20.0))
    );

    let (_, patched) = call(
        http.patch(server.url("/v1/leads/ann"))
            .json(&json!({"plan": {"seats": null, "tier": "pro"}})),
    )
    .await;
    assert_eq!(patched["result"]["score"], 20);
    let events = json!([{"type": "page_view", "path": "/pricing", "id": "e1"}, {"type": "page_view", "path": "/pricing", "id": "e1"}]);
    let (status, posted) = call(http.post(server.url("/v1/leads/ann/events")).json(&events)).await;
    assert_eq!(status, 200, "{posted}");
    assert_eq!(
        (posted["new_events"].as_u64(), posted["duplicate_events"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        (posted["stage"].as_str(), posted["result"]["route"].as_str()),
        (Some("mql"), Some("east"))
    );
    assert!(posted["sla_due"].is_string(), "{posted}");
    // A client retry of the same event changes nothing.
    let (_, retry) = call(
        http.post(server.url("/v1/leads/ann/events"))
            .json(&json!({"type": "page_view", "path": "/pricing", "id": "e1"})),
    )
    .await;
    assert_eq!(
        (retry["new_events"].as_u64(), retry["duplicate_events"].as_u64()),
        (Some(0), Some(1))
    );

    let (_, lead) = call(http.get(server.url("/v1/leads/ann?explain=1"))).await;
    assert_eq!(
        lead["fields"],
        json!({"title": "VP Sales", "region": "NY", "plan": {"tier": "pro"}})
    );
    assert_eq!(lead["events"]["kept"], 1);
    assert_eq!(lead["events"]["items"][0]["event"]["path"], "/pricing");
    assert!(
        lead["events"]["items"][0]["event"]["at"].is_string(),
        "stamped on receipt"
    );
    assert!(
        lead["explanation"].as_str().unwrap().starts_with("score 35 — MQL"),
        "{lead}"
    );
    assert_eq!(lead["result"]["pack"]["name"], "pack");

    let (status, stage) = call(
        http.post(server.url("/v1/leads/ann/stage"))
            .json(&json!({"stage": "accepted", "reason": "call booked"})),
    )
    .await;
    assert_eq!((status, stage["stage"].as_str()), (200, Some("accepted")));
    let (status, again) = call(
        http.post(server.url("/v1/leads/ann/stage"))
            .json(&json!({"stage": "accepted"})),
    )
    .await;
    assert_eq!((status, again["kind"].as_str()), (409, Some("conflict")), "{again}");

    let (_, history) = call(http.get(server.url("/v1/leads/ann/history"))).await;
    let entries = history["history"].as_array().unwrap();
    let stages: Vec<&str> = entries.iter().map(|e| e["stage"].as_str().unwrap()).collect();
    assert_eq!(stages, ["lead", "mql", "accepted"]);
    assert_eq!(
        entries[1]["rules"],
        json!([{"rule": "Pricing", "before": null, "after": 15}])
    );

    let (_, t) = call(http.get(server.url("/v1/transitions?after=0&limit=10"))).await;
    let kinds: Vec<(&str, &str, &str)> = t["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["kind"].as_str().unwrap(),
                t["from"].as_str().unwrap(),
                t["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("mql", "lead", "the MQL condition holds"),
            ("accepted", "mql", "call booked")
        ]
    );
    assert_eq!(t["next"], 2);
    let (_, t) = call(http.get(server.url("/v1/transitions?after=2"))).await;
    assert_eq!(
        (t["transitions"].as_array().map(Vec::len), t["next"].as_u64()),
        (Some(0), Some(2))
    );

    // Ingest: one bad line is reported by number; the others are applied.
    let body = "{\"lead\": \"bob\", \"fields\": {\"title\": \"VP\"}}\nnot json\n{\"lead\": \"bob\", \"event\": {\"type\": \"page_view\", \"path\": \"/pricing\"}}\n{\"lead\": \"ghost\", \"event\": {\"at\": \"2026-01-01T00:00:00Z\"}}\n";
    let (status, ingested) = call(http.post(server.url("/v1/ingest")).body(body)).await;
    assert_eq!(status, 200, "{ingested}");
    assert_eq!(
        (
            ingested["lines"].as_u64(),
            ingested["applied"].as_u64(),
            ingested["new_events"].as_u64()
        ),
        (Some(4), Some(2), Some(1))
    );
    let lines: Vec<u64> = ingested["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [2, 4]);
    assert_eq!(ingested["errors"][1]["error"], "the event has no `type`");
    assert_eq!(ingested["leads"][0]["stage"], "mql");
    assert_eq!(ingested["leads"].as_array().map(Vec::len), Some(1), "{ingested}");
    let (status, _) = call(http.get(server.url("/v1/leads/ghost"))).await;
    assert_eq!(status, 404, "a lead only a rejected line named is not created");

    // Scoring without storing.
    let (status, scored) = call(http.post(server.url("/v1/score?as_of=2026-03-01T00:00:00Z")).json(
        &json!({"title": "VP", "events": [{"type": "page_view", "path": "/pricing", "at": "2026-02-28T00:00:00Z"}]}),
    ))
    .await;
    assert_eq!((status, scored["score"].as_f64()), (200, Some(35.0)), "{scored}");
    let (_, missing) = call(http.get(server.url("/v1/leads/nobody-stored-this"))).await;
    assert_eq!(missing["kind"], "not_found");

    // Bad input: a 4xx naming the problem, and nothing stored.
    let bad = [
        (
            http.put(server.url("/v1/leads/ann")).body("{\"title\": "),
            400,
            "the body is not valid JSON",
        ),
        (
            http.put(server.url("/v1/leads/ann")).json(&json!({"id": 3})),
            400,
            "`id` is not a field",
        ),
        (
            http.put(server.url("/v1/leads/ann"))
                .json(&json!({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6})),
            413,
            "at most 5 fields",
        ),
        (
            http.post(server.url("/v1/leads/ann/events"))
                .json(&json!({"type": "x", "at": "2999-01-01T00:00:00Z"})),
            400,
            "in the future",
        ),
        (
            http.post(server.url("/v1/leads/ann/events"))
                .json(&json!([{"type": "x"}, {"path": "/y"}])),
            400,
            "events[1]: the event has no `type`",
        ),
        (
            http.post(server.url("/v1/leads/ann/events")).body("x".repeat(5000)),
            413,
            "larger than 4096 bytes",
        ),
        (
            http.post(server.url("/v1/leads/ann/stage"))
                .json(&json!({"stage": "mql"})),
            400,
            "`stage` must be",
        ),
        (
            http.post(server.url("/v1/leads/nobody/stage"))
                .json(&json!({"stage": "accepted"})),
            404,
            "no lead `nobody`",
        ),
        (
            http.get(server.url("/v1/transitions?after=x")),
            400,
            "`after` must be a whole number",
        ),
        (http.get(server.url("/v1/nothing")), 404, "no such endpoint"),
    ];
    for (req, want_status, want) in bad {
        let (status, body) = call(req).await;
        assert_eq!(status, want_status, "{body}");
        assert!(body["error"].as_str().unwrap().contains(want), "{body}");
    }
    let (_, after) = call(http.get(server.url("/v1/leads/ann"))).await;
    assert_eq!(
        (after["fields"].clone(), &after["events"]["kept"]),
        (lead["fields"].clone(), &json!(1))
    );

    let (_, pack_info) = call(http.get(server.url("/v1/pack"))).await;
    assert_eq!(
        (pack_info["name"].as_str(), pack_info["requalify_after"].as_str()),
        (Some("pack"), Some("2s"))
    );
    assert!(pack_info["last_rejection"].is_null());
    let (status, health) = call(http.get(server.url("/health"))).await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    let metrics = text(&http, server.url("/metrics")).await;
    for line in [
        "leadscore_leads 2",
        "leadscore_events_total 2",
        "leadscore_events_duplicate_total 2",
        "leadscore_transitions_total{kind=\"mql\"} 2",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    assert!(metrics.contains("leadscore_http_requests_total{route=\"/v1/leads/{id}\",method=\"PUT\",status=\"200\"}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_guard_every_endpoint_but_health_and_a_public_address_needs_them() {
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_dir(dir.path(), PACK);
    let out = Command::new(BIN)
        .args(["serve", "--pack"])
        .arg(&pack)
        .arg("--data")
        .arg(dir.path().join("data"))
        // A documentation address (RFC 5737), on no interface here: even if the refusal
        // broke, nothing could bind it.
        .args(["--listen", "192.0.2.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to listen on 192.0.2.1:0 without authentication"));

    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "# ops\nsecret-1\n").unwrap();
    let server = Server::start(
        &pack,
        &dir.path().join("data"),
        &["--token-file", tokens.to_str().unwrap()],
    );
    let http = client();
    let (status, body) = call(http.get(server.url("/v1/pack"))).await;
    assert_eq!((status, body["kind"].as_str()), (401, Some("unauthorized")));
    let (status, _) = call(http.get(server.url("/v1/pack")).bearer_auth("wrong")).await;
    assert_eq!(status, 401);
    let (status, _) = call(http.get(server.url("/v1/pack")).bearer_auth("secret-1")).await;
    assert_eq!(status, 200);
    let (status, _) = call(http.get(server.url("/health"))).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sla_is_breached_once_and_a_rejected_lead_requalifies_after_the_cool_down() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    sla_case(dir.path(), &["--data", data.to_str().unwrap()]).await;
}

/// SLAs and requalification on the storage `store` names (the Postgres tests run it too).
async fn sla_case(dir: &Path, store: &[&str]) {
    let pack = pack_dir(dir, PACK);
    let server = Server::start_on(&pack, store, &[]);
    let http = client();
    let lead = json!({"title": "VP", "region": "NJ"});
    let pricing = json!({"type": "page_view", "path": "/pricing"});
    call(http.put(server.url("/v1/leads/east-1")).json(&lead)).await;
    let (_, mql) = call(http.post(server.url("/v1/leads/east-1/events")).json(&pricing)).await;
    assert_eq!(mql["stage"], "mql");
    call(http.put(server.url("/v1/leads/east-2")).json(&lead)).await;
    call(http.post(server.url("/v1/leads/east-2/events")).json(&pricing)).await;
    let (_, accepted) = call(
        http.post(server.url("/v1/leads/east-2/stage"))
            .json(&json!({"stage": "accepted"})),
    )
    .await;
    assert_eq!(accepted["stage"], "accepted");

    // east-1's 2s SLA passes without sales acting; east-2 was accepted in time.
    let breach = until(Duration::from_secs(20), "an sla_breached transition", || async {
        let (_, t) = call(client().get(server.url("/v1/transitions"))).await;
        t["transitions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["kind"] == "sla_breached")
            .cloned()
    })
    .await;
    assert_eq!(
        (breach["lead"].as_str(), breach["to"].as_str()),
        (Some("east-1"), Some("mql"))
    );
    assert!(
        breach["reason"]
            .as_str()
            .unwrap()
            .contains("route `east` (2s after the hand-off)"),
        "{breach}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let transitions = all_transitions(&http, &server).await;
    let kinds: Vec<(&str, &str)> = transitions
        .iter()
        .map(|t| (t["lead"].as_str().unwrap(), t["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("east-1", "mql"),
            ("east-2", "mql"),
            ("east-2", "accepted"),
            ("east-1", "sla_breached")
        ]
    );

    // Rejected: new activity during the cool-down does not requalify; after it, it does.
    let (_, rejected) = call(
        http.post(server.url("/v1/leads/east-1/stage"))
            .json(&json!({"stage": "rejected", "reason": "no budget"})),
    )
    .await;
    assert_eq!(rejected["stage"], "rejected");
    let (_, still) = call(http.post(server.url("/v1/leads/east-1/events")).json(&pricing)).await;
    assert_eq!(
        (still["stage"].as_str(), still["result"]["mql"].as_bool()),
        (Some("rejected"), Some(true))
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (_, again) = call(
        http.post(server.url("/v1/leads/east-1/events"))
            .json(&json!({"type": "page_view", "path": "/blog/a"})),
    )
    .await;
    assert_eq!(again["stage"], "mql", "{again}");
    let transitions = all_transitions(&http, &server).await;
    let last = transitions.last().unwrap();
    assert_eq!(
        (last["from"].as_str(), last["to"].as_str()),
        (Some("rejected"), Some("mql"))
    );
    assert_eq!(last["reason"], "qualified again on new activity after the 2s cool-down");
}

/// The events one client sent: acknowledged, or sent when the server died.
#[derive(Default)]
struct Sent {
    acked: BTreeMap<String, BTreeSet<String>>,
    in_flight: Option<(String, String)>,
    fields: BTreeMap<String, Vec<Value>>,
    requests: usize,
}

/// One client's load: its own leads (index % clients), a PUT of fields first, then events.
async fn load(
    server_url: String,
    client_no: usize,
    clients: usize,
    leads: usize,
    events: usize,
    sent: Arc<Mutex<Sent>>,
) {
    let http = client();
    let mine: Vec<String> = (0..leads)
        .filter(|i| i % clients == client_no)
        .map(|i| format!("L{i:03}"))
        .collect();
    for (n, lead) in mine.iter().enumerate() {
        let title = if n % 2 == 0 { "VP Marketing" } else { "Engineer" };
        let region = if n % 3 == 0 { "NY" } else { "CA" };
        let fields = json!({"title": title, "region": region});
        sent.lock()
            .unwrap()
            .fields
            .entry(lead.clone())
            .or_default()
            .push(fields.clone());
        if !http
            .put(format!("{server_url}/v1/leads/{lead}"))
            .json(&fields)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
    }
    for i in 0..events {
        let lead = &mine[i % mine.len()];
        let id = format!("c{client_no}-{i}");
        let path = if i % 7 == 0 {
            "/pricing".to_string()
        } else {
            format!("/blog/{}", i % 13)
        };
        let event = json!({"type": "page_view", "path": path, "id": id});
        sent.lock().unwrap().in_flight = Some((lead.clone(), id.clone()));
        let ok = http
            .post(format!("{server_url}/v1/leads/{lead}/events"))
            .json(&event)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        let mut s = sent.lock().unwrap();
        match ok {
            true => {
                s.acked.entry(lead.clone()).or_default().insert(id);
                s.in_flight = None;
                s.requests += 1;
            }
            // The server died: this one may or may not have been stored.
            false => return,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_every_acknowledged_write_is_there_and_the_outbox_delivers() {
    const CLIENTS: usize = 8;
    const LEADS: usize = 120;
    const EVENTS: usize = 2_000;
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_dir(dir.path(), PACK);
    let data = dir.path().join("data");
    let hook = free_port();
    let hook_url = format!("http://{hook}/hook");
    let mut server = Server::start(&pack, &data, &["--webhook", &hook_url]);

    let sent: Vec<Arc<Mutex<Sent>>> = (0..CLIENTS).map(|_| Arc::default()).collect();
    let tasks: Vec<_> = sent
        .iter()
        .enumerate()
        .map(|(c, s)| tokio::spawn(load(server.base.clone(), c, CLIENTS, LEADS, EVENTS, Arc::clone(s))))
        .collect();
    // Kill it mid-load: once a good share of the events is acknowledged.
    until(Duration::from_secs(120), "load to get going", || async {
        let done: usize = sent.iter().map(|s| s.lock().unwrap().requests).sum();
        (done >= 1_500).then_some(())
    })
    .await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let acked: usize = sent.iter().map(|s| s.lock().unwrap().requests).sum();
    assert!(acked < CLIENTS * EVENTS, "the load finished before the kill");

    // The receiver is up now; the restarted server delivers what was pending.
    let got = Arc::new(Mutex::new(Vec::new()));
    let _receiver = Receiver::start(hook, Arc::clone(&got)).await;
    let mut server = Server::start(&pack, &data, &["--webhook", &hook_url]);
    let http = client();

    let ids: Vec<String> = (0..LEADS).map(|i| format!("L{i:03}")).collect();
    for s in &sent {
        let s = std::mem::take(&mut *s.lock().unwrap());
        for (lead, acked) in &s.acked {
            let (_, stored) = export(&http, &server, lead).await;
            let stored_ids: BTreeSet<String> = stored["events"]["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["event"]["id"].as_str().unwrap().to_string())
                .collect();
            let missing: Vec<&String> = acked.difference(&stored_ids).collect();
            assert!(missing.is_empty(), "{lead}: acknowledged but lost: {missing:?}");
            let extra: Vec<&String> = stored_ids
                .difference(acked)
                .filter(|id| s.in_flight.as_ref().is_none_or(|(_, f)| f != *id))
                .collect();
            assert!(extra.is_empty(), "{lead}: stored but never sent: {extra:?}");
        }
        for (lead, fields) in &s.fields {
            let (status, stored) = call(http.get(server.url(&format!("/v1/leads/{lead}")))).await;
            if status == 200 {
                assert!(
                    fields.contains(&stored["fields"]),
                    "{lead}: fields {} were never sent",
                    stored["fields"]
                );
            }
        }
    }

    // Let due SLAs be reported (2s after each hand-off, checked every second).
    tokio::time::sleep(Duration::from_secs(4)).await;
    let transitions = all_transitions(&http, &server).await;
    assert_contiguous(&transitions);
    let mut per_lead: HashMap<&str, Vec<&str>> = HashMap::new();
    for t in &transitions {
        per_lead
            .entry(t["lead"].as_str().unwrap())
            .or_default()
            .push(t["kind"].as_str().unwrap());
    }
    let mut mqls = 0;
    for id in &ids {
        let (status, lead) = call(http.get(server.url(&format!("/v1/leads/{id}")))).await;
        if status == 404 {
            continue;
        }
        let kinds = per_lead.get(id.as_str()).cloned().unwrap_or_default();
        let expected: Vec<&str> = match (lead["stage"].as_str().unwrap(), lead["standing"]["route"].as_str()) {
            ("lead", _) => vec![],
            ("mql", Some("east")) => vec!["mql", "sla_breached"],
            ("mql", _) => vec!["mql"],
            (other, _) => panic!("{id}: unexpected stage {other}"),
        };
        assert_eq!(kinds, expected, "{id}: transitions do not match its stage ({lead})");
        mqls += usize::from(lead["stage"] == "mql");
    }
    assert!(mqls > 10, "the load made only {mqls} MQLs");

    let deliveries = until(Duration::from_secs(60), "the outbox to drain", || async {
        let got = got.lock().unwrap();
        let seqs: BTreeSet<u64> = got.iter().map(|d| d.body["seq"].as_u64().unwrap()).collect();
        (seqs.len() == transitions.len()).then(|| got.clone())
    })
    .await;
    assert_delivered(&deliveries, &transitions);
    assert!(
        deliveries.iter().all(|d| d.signature.is_none()),
        "no secret, no signature"
    );

    let stored: Vec<String> = {
        let mut out = Vec::new();
        for id in &ids {
            if call(http.get(server.url(&format!("/v1/leads/{id}")))).await.0 == 200 {
                out.push(id.clone());
            }
        }
        out
    };
    assert_results_equal_batch(&http, &server, &pack, dir.path(), &stored).await;

    let status = server.terminate(Duration::from_secs(10));
    assert!(status.success(), "{status}:\n{}", server.log());
    assert!(server.log().contains("leadscore serve: stopped"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_under_load_fail_no_request_and_every_result_names_a_checked_version() {
    let dir = tempfile::tempdir().unwrap();
    let pack = publish(dir.path(), "v0", PACK);
    let server = Server::start(&pack, &dir.path().join("data"), &[]);
    let http = client();
    let (_, info) = call(http.get(server.url("/v1/pack"))).await;
    let mut good: BTreeSet<String> = BTreeSet::from([info["version"].as_str().unwrap().to_string()]);

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Requests made, pack versions seen, failures.
    type Seen = (usize, BTreeSet<String>, Vec<String>);
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (base, stop, seen) = (server.base.clone(), Arc::clone(&stop), Arc::clone(&seen));
            tokio::spawn(async move {
                let http = client();
                for i in 0..5_000 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        return;
                    }
                    let event = json!({"type": "page_view", "path": format!("/blog/{i}")});
                    let (status, body) = call(
                        http.post(format!("{base}/v1/leads/w{w}-{}/events", i % 10))
                            .json(&event),
                    )
                    .await;
                    let mut seen = seen.lock().unwrap();
                    seen.0 += 1;
                    if status != 200 {
                        seen.2.push(format!("{status}: {body}"));
                    }
                    seen.1
                        .insert(body["result"]["pack"]["version"].as_str().unwrap_or("none").to_string());
                }
            })
        })
        .collect();

    for edit in 0..8 {
        let text = if edit % 2 == 0 {
            PACK.replace("+1 each max 10", &format!("+{} each max 10", edit + 2))
        } else {
            PACK.replace("+1 each max 10", "+1 eahc max 10")
        };
        publish(dir.path(), &format!("v{}", edit + 1), &text);
        if let Ok(p) = leadscore::Pack::load(&pack) {
            good.insert(p.id().version.to_string());
        }
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let (requests, versions, failures) = seen.lock().unwrap().clone();
    assert!(requests > 50, "only {requests} requests during the reloads");
    assert!(failures.is_empty(), "requests failed during reloads: {failures:?}");
    assert_eq!(good.len(), 5, "the initial version and four good edits");
    let unchecked: Vec<&String> = versions.difference(&good).collect();
    assert!(
        unchecked.is_empty(),
        "results named versions that never checked: {unchecked:?}"
    );
    assert!(versions.len() >= 2, "the load saw no reload: {versions:?}");
    let (_, info) = call(http.get(server.url("/v1/pack"))).await;
    assert!(info["last_rejection"]["errors"][0]["message"].is_string(), "{info}");
    let log = server.log();
    assert!(log.contains("published pack rejected"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_receiver_down_for_a_while_gets_every_transition_in_order_signed() {
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_dir(dir.path(), PACK);
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "s3cret\n").unwrap();
    let hook = free_port();
    let hook_url = format!("http://{hook}/hook");
    let server = Server::start(
        &pack,
        &dir.path().join("data"),
        &[
            "--webhook",
            &hook_url,
            "--webhook-secret-file",
            secret.to_str().unwrap(),
        ],
    );
    let http = client();
    // Twenty leads become MQLs; half are then accepted and recycled: several transitions per lead.
    for i in 0..20 {
        let lead = format!("h{i}");
        call(
            http.put(server.url(&format!("/v1/leads/{lead}")))
                .json(&json!({"title": "VP", "region": "CA"})),
        )
        .await;
        call(
            http.post(server.url(&format!("/v1/leads/{lead}/events")))
                .json(&json!({"type": "page_view", "path": "/pricing"})),
        )
        .await;
        if i % 2 == 0 {
            for stage in ["accepted", "recycled"] {
                let (status, body) = call(
                    http.post(server.url(&format!("/v1/leads/{lead}/stage")))
                        .json(&json!({"stage": stage})),
                )
                .await;
                assert_eq!(status, 200, "{body}");
            }
        }
    }
    // The receiver is down: deliveries fail and back off.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let metrics = text(&http, server.url("/metrics")).await;
    assert!(
        metrics.contains("leadscore_webhook_failures_total{webhook="),
        "{metrics}"
    );
    assert!(metrics.contains("leadscore_outbox_depth{webhook="), "{metrics}");

    let got = Arc::new(Mutex::new(Vec::new()));
    let _receiver = Receiver::start(hook, Arc::clone(&got)).await;
    let transitions = all_transitions(&http, &server).await;
    assert_eq!(transitions.len(), 40);
    let deliveries = until(Duration::from_secs(60), "every transition delivered", || async {
        let got = got.lock().unwrap();
        let seqs: BTreeSet<u64> = got.iter().map(|d| d.body["seq"].as_u64().unwrap()).collect();
        (seqs.len() == transitions.len()).then(|| got.clone())
    })
    .await;
    assert_delivered(&deliveries, &transitions);
    for d in &deliveries {
        let expected = leadscore_service::webhook::signature(b"s3cret", &d.raw);
        assert_eq!(d.signature.as_deref(), Some(expected.as_str()), "bad signature");
    }
}

/// A lead whose scoring fails keeps its data and gets its error as an object a program can
/// match on: the kind's code, the message, and where (the plugin, function, script
/// position and the rule); the ledger entry carries the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_that_cannot_be_scored_has_a_structured_error() {
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_dir(dir.path(), "plugin \"grumpy\"\ncheck_domain(domain) => +1\n");
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plugins/lib");
    let data = dir.path().join("data");
    let server = Server::start(&pack, &data, &["--plugins", plugins.to_str().unwrap()]);
    let http = client();

    let (status, put) = call(
        http.put(server.url("/v1/leads/bad"))
            .json(&json!({"domain": "bad.example"})),
    )
    .await;
    assert_eq!(status, 200, "{put}");
    let (_, lead) = call(http.get(server.url("/v1/leads/bad"))).await;
    let error = &lead["error"];
    assert_eq!(lead["result"], Value::Null, "{lead}");
    assert_eq!(
        (
            &error["code"],
            &error["plugin"],
            &error["function"],
            &error["at"],
            &error["rule"]
        ),
        (
            &json!("plugin"),
            &json!("grumpy"),
            &json!("check_domain"),
            &json!("4:9"),
            &json!("main.rules:2")
        ),
        "{lead}"
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .ends_with("threw: domain is on the block list"),
        "{lead}"
    );
    let (_, history) = call(http.get(server.url("/v1/leads/bad/history"))).await;
    assert_eq!(history["history"][0]["error"], *error, "{history}");

    let (_, fixed) = call(
        http.put(server.url("/v1/leads/bad"))
            .json(&json!({"domain": "good.example"})),
    )
    .await;
    assert_eq!(
        (fixed["result"]["score"].as_f64(), &fixed["error"]),
        (Some(1.0), &Value::Null),
        "{fixed}"
    );
}
