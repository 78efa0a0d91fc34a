//! Targets in the pack (issue 27.3) through the binary, on both backends: a target turns
//! missed and then met again, with exactly one alert each in the paged alert log, at the
//! webhook receiver and on the gauge; `insufficient` below the minimum sample; the
//! `targets` of `GET /v1/funnel` checked against figures this test computes from what it
//! did. On Postgres two instances judge the same targets and publish each change once.

use std::time::Duration;

use serde_json::{json, Value};

use super::cluster::Cluster;
use super::*;

/// A route with a one-hour SLA; acceptance judged from 4 decided hand-offs (the test runs
/// the service with `--target-min-sample 4`), and a conversion target that stays met.
const TARGETS_PACK: &str = r#"threshold 30
rule "Demo": visited /demo within 7d => +40
route "west" sla 1h
target "Sales accept": acceptance >= 50% over 30d
target conversion <= 90% over 90d
"#;

/// How long a judgement may take to show (the service judges every second).
const JUDGED: Duration = Duration::from_secs(20);

/// The test's own record of the hand-offs: (lead, what sales did first, if anything).
#[derive(Default)]
struct Book {
    leads: Vec<(String, Option<&'static str>)>,
}

impl Book {
    /// acceptance: accepted ÷ decided, and decided.
    fn acceptance(&self) -> (Option<f64>, u64) {
        let decided: Vec<&str> = self.leads.iter().filter_map(|(_, s)| *s).collect();
        let accepted = decided.iter().filter(|s| **s == "accepted").count();
        let rate = (!decided.is_empty()).then(|| accepted as f64 / decided.len() as f64);
        (rate, decided.len() as u64)
    }
}

async fn hand_off(http: &reqwest::Client, server: &Server, book: &mut Book, id: &str) {
    call(
        http.put(server.url(&format!("/v1/leads/{id}")))
            .json(&json!({"title": "VP"})),
    )
    .await;
    let event = json!({"type": "page_view", "path": "/demo"});
    let (_, out) = call(http.post(server.url(&format!("/v1/leads/{id}/events"))).json(&event)).await;
    assert_eq!(out["stage"], "mql", "{id}: {out}");
    book.leads.push((id.to_string(), None));
}

async fn act(http: &reqwest::Client, server: &Server, book: &mut Book, id: &str, to: &'static str) {
    let (status, out) = call(
        http.post(server.url(&format!("/v1/leads/{id}/stage")))
            .json(&json!({"stage": to})),
    )
    .await;
    assert_eq!(status, 200, "{id} → {to}: {out}");
    let entry = book.leads.iter_mut().find(|(l, _)| l == id).unwrap();
    entry.1 = entry.1.or(Some(to));
}

/// The funnel's `targets`, by name.
async fn targets(http: &reqwest::Client, server: &Server) -> BTreeMap<String, Value> {
    let (status, report) = call(http.get(server.url("/v1/funnel"))).await;
    assert_eq!(status, 200, "{report}");
    report["targets"]
        .as_array()
        .unwrap_or_else(|| panic!("no targets in {report}"))
        .iter()
        .map(|t| (t["name"].as_str().unwrap().to_string(), t.clone()))
        .collect()
}

/// Every alert, paged 1 at a time (the paging rules of `/v1/transitions`).
async fn alerts(http: &reqwest::Client, server: &Server) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = 0;
    for _ in 0..100 {
        let (status, page) = call(http.get(server.url(&format!("/v1/alerts?after={after}&limit=1")))).await;
        assert_eq!(status, 200, "{page}");
        let list = page["alerts"].as_array().unwrap().clone();
        if list.is_empty() {
            assert_eq!(page["next"].as_u64(), Some(after), "an empty page keeps the place");
            return out;
        }
        assert_eq!(list.len(), 1);
        after = page["next"].as_u64().unwrap();
        assert_eq!(list[0]["seq"].as_u64(), Some(after));
        out.extend(list);
    }
    panic!("more than 100 alerts");
}

/// The gauge line of `target` with `status`.
async fn gauge(http: &reqwest::Client, server: &Server, target: &str, status: &str) -> Option<i64> {
    let (_, text) = call(http.get(server.url("/metrics"))).await;
    let prefix = format!("leadscore_target_status{{status=\"{status}\",target=\"{target}\"}} ");
    let alt = format!("leadscore_target_status{{target=\"{target}\",status=\"{status}\"}} ");
    text.as_str()?
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).or_else(|| l.strip_prefix(&alt)))
        .and_then(|v| v.parse().ok())
}

/// The acceptance target's entry agrees with the book: rate, sample, status.
fn assert_acceptance(got: &Value, book: &Book, status: &str) {
    let (rate, sample) = book.acceptance();
    assert_eq!(got["sample"].as_u64(), Some(sample), "{got}");
    match rate {
        Some(r) => assert!((got["actual"].as_f64().unwrap() - r).abs() < 1e-4, "{got} vs {r}"),
        None => assert_eq!(got["actual"], Value::Null, "{got}"),
    }
    assert_eq!(got["status"], status, "{got}");
    assert_eq!(
        (&got["measure"], &got["op"], &got["value"], &got["window"]),
        (&json!("acceptance"), &json!(">="), &json!(0.5), &json!("30d"))
    );
}

/// The target deliveries the receiver got, by seq (retries of one alert count once).
fn target_deliveries(got: &Mutex<Vec<Delivery>>) -> BTreeMap<u64, Value> {
    let got = got.lock().unwrap();
    got.iter()
        .filter(|d| d.body["kind"] == "target")
        .map(|d| {
            assert!(d.key.contains("-alert-"), "an alert's idempotency key: {}", d.key);
            (d.body["seq"].as_u64().unwrap(), d.body.clone())
        })
        .collect()
}

/// The whole case, with `servers` (one, or two on one Postgres database) judging the
/// targets; writes go through the first.
async fn targets_case(servers: &[&Server], got: &Mutex<Vec<Delivery>>) {
    let http = client();
    let s = servers[0];
    let mut book = Book::default();
    for i in 1..=8 {
        hand_off(&http, s, &mut book, &format!("l{i}")).await;
    }
    // Three decided, below the minimum sample of 4: insufficient, nothing published.
    for id in ["l1", "l2", "l3"] {
        act(&http, s, &mut book, id, "rejected").await;
    }
    for server in servers {
        let t = targets(&http, server).await;
        assert_acceptance(&t["Sales accept"], &book, "insufficient");
        let conversion = &t["conversion <= 90% over 90d"];
        assert_eq!(
            (&conversion["actual"], &conversion["sample"], &conversion["status"]),
            (&json!(0.0), &json!(8), &json!("met")),
            "{conversion}"
        );
    }
    until(JUDGED, "the insufficient gauge", || async {
        (gauge(&http, s, "Sales accept", "insufficient").await == Some(1)).then_some(())
    })
    .await;
    assert!(alerts(&http, s).await.is_empty(), "insufficient publishes nothing");

    // A fourth rejection: 0% of 4, missed; published once.
    act(&http, s, &mut book, "l4", "rejected").await;
    assert_acceptance(&targets(&http, s).await["Sales accept"], &book, "missed");
    let first = until(JUDGED, "the missed alert", || async {
        let list = alerts(&http, s).await;
        (!list.is_empty()).then_some(list)
    })
    .await;
    assert_eq!(first.len(), 1, "{first:?}");
    let alert = &first[0];
    assert_eq!(
        (&alert["kind"], &alert["name"], &alert["status"], &alert["previous"]),
        (
            &json!("target"),
            &json!("Sales accept"),
            &json!("missed"),
            &json!("met")
        ),
        "{alert}"
    );
    assert_eq!(
        (&alert["sample"], &alert["actual"]),
        (&json!(4), &json!(0.0)),
        "{alert}"
    );
    for server in servers {
        until(JUDGED, "the missed gauge", || async {
            (gauge(&http, server, "Sales accept", "missed").await == Some(1)).then_some(())
        })
        .await;
    }

    // Accepting four more: 4 of 8, 50%, met again; published once.
    for id in ["l5", "l6", "l7", "l8"] {
        act(&http, s, &mut book, id, "accepted").await;
    }
    assert_acceptance(&targets(&http, s).await["Sales accept"], &book, "met");
    let both = until(JUDGED, "the met alert", || async {
        let list = alerts(&http, s).await;
        (list.len() >= 2).then_some(list)
    })
    .await;
    assert_eq!(
        (
            &both[1]["status"],
            &both[1]["previous"],
            &both[1]["sample"],
            &both[1]["actual"]
        ),
        (&json!("met"), &json!("missed"), &json!(8), &json!(0.5)),
        "{both:?}"
    );
    for server in servers {
        until(JUDGED, "the met gauge", || async {
            (gauge(&http, server, "Sales accept", "met").await == Some(1)).then_some(())
        })
        .await;
    }
    // Each change was published once: several more judgements (by every instance) add nothing.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let last = alerts(&http, s).await;
    assert_eq!(last, both, "exactly one alert per change");
    assert_eq!(targets(&http, s).await["conversion <= 90% over 90d"]["status"], "met");

    // The webhook got each alert, told apart from transitions by `kind`, once per seq.
    let delivered = until(JUDGED, "both alerts delivered", || async {
        let d = target_deliveries(got);
        (d.len() >= 2).then_some(d)
    })
    .await;
    assert_eq!(delivered.keys().copied().collect::<Vec<_>>(), [1, 2]);
    for (seq, body) in &delivered {
        assert_eq!(body, &last[*seq as usize - 1]);
    }
    // The outbox and its readers are as they were: no alert among the transitions.
    let transitions = all_transitions(&http, s).await;
    assert!(transitions.iter().all(|t| t["kind"] != "target"));
    assert!(
        got.lock().unwrap().iter().any(|d| d.body["kind"] == "mql"),
        "transitions are delivered as before"
    );
    // Paging past the end, and a bad `after`.
    let (_, page) = call(http.get(s.url("/v1/alerts?after=2"))).await;
    assert_eq!(page, json!({"alerts": [], "next": 2}));
    let (status, _) = call(http.get(s.url("/v1/alerts?after=x"))).await;
    assert_eq!(status, 400);

    // The command line shows them too.
    let out = Command::new(BIN).args(["funnel", "--url", &s.base]).output().unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    for shown in ["Targets", "Sales accept ", "met ", ">= 50.0% over 30d"] {
        assert!(table.contains(shown), "{shown:?} in\n{table}");
    }
}

/// A backup of `from` (`--data DIR` or `--database-url URL`) holds the transitions
/// stream's webhook cursor but not the alert stream's: the alert log is not backed up, so
/// a restored copy's alert stream starts at its (empty) log.
fn assert_backup_leaves_out_the_alert_stream(dir: &Path, from: &[&str]) {
    let file = dir.join("backup.jsonl");
    let out = Command::new(BIN)
        .arg("backup")
        .args(from)
        .arg("--to")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&file).unwrap();
    let urls: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| Some(v.get("cursor")?["url"].as_str()?.to_string()))
        .collect();
    assert_eq!(urls.len(), 1, "{urls:?}");
    assert!(urls[0].starts_with("http://"), "{urls:?}");
}

/// The service's extra options for the case: judged every second, 4 hand-offs enough,
/// deliveries to `hook`.
fn options(hook: &str) -> Vec<String> {
    ["--target-every", "1", "--target-min-sample", "4", "--webhook", hook]
        .map(str::to_string)
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_turns_missed_and_met_with_one_alert_each_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_dir(dir.path(), TARGETS_PACK);
    let data = dir.path().join("data");
    let hook = free_port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let _receiver = Receiver::start(hook, Arc::clone(&got)).await;
    let extra = options(&format!("http://{hook}/hook"));
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let mut server = Server::start(&pack, &data, &extra);
    targets_case(&[&server], &got).await;
    assert_eq!(server.terminate(Duration::from_secs(20)).code(), Some(0));
    assert_backup_leaves_out_the_alert_stream(dir.path(), &["--data", data.to_str().unwrap()]);

    // A stopped service's folder, judged with the pack's targets, answers the same.
    let out = Command::new(BIN)
        .args(["funnel", "--json", "--target-min-sample", "4", "--data"])
        .arg(&data)
        .arg("--pack")
        .arg(&pack)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let statuses: Vec<&Value> = report["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["status"])
        .collect();
    assert_eq!(statuses, [&json!("met"), &json!("met")], "{report}");
    // The alert log and the states survive a restart: nothing is published again.
    let server = Server::start(&pack, &data, &extra);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(alerts(&client(), &server).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgres_publish_each_change_of_a_target_once() {
    let cluster = Cluster::start();
    let url = cluster.create_db("targets");
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_dir(dir.path(), TARGETS_PACK);
    let hook = free_port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let _receiver = Receiver::start(hook, Arc::clone(&got)).await;
    let extra = options(&format!("http://{hook}/hook"));
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let args = ["--database-url", url.as_str()];
    let a = Server::start_on(&pack, &args, &extra);
    let b = Server::start_on(&pack, &args, &extra);
    targets_case(&[&a, &b], &got).await;
    // Both instances read the one log.
    assert_eq!(alerts(&client(), &b).await, alerts(&client(), &a).await);
    assert_backup_leaves_out_the_alert_stream(dir.path(), &args);
}
