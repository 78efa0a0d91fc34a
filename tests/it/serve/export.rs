//! `GET /v1/export` (issue 27.4): a known history of hand-offs and sales decisions built in
//! a running service, exported as JSON Lines, and read back by `leadscore backtest` and
//! `leadscore fit` with `--outcome sales.accepted --as-of-field sales.mql_at`; on both
//! storage backends.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::{json, Value};

use super::cluster::Cluster;
use super::*;

/// An MQL at 30 with no SLA (so no breach joins the history while the test runs).
const LOOP_PACK: &str = r#"threshold 30
rule "Senior":  title ~ VP                    => +20
rule "Pricing": visited /pricing within 7d    => +15
rule "Reader":  visited /blog/* => +1 each max 10
route "rest"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_carries_what_sales_did_and_backtest_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    export_case(dir.path(), &["--data", data.to_str().unwrap()]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_works_on_postgres() {
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let url = cluster.create_db("export");
    export_case(dir.path(), &["--database-url", &url]).await;
}

/// Stage requests, in order: (stage, reason).
type Steps = &'static [(&'static str, Option<&'static str>)];

/// The leads' stage requests after their hand-off.
const DECISIONS: &[(&str, Steps)] = &[
    ("acc", &[("accepted", None)]),
    ("rej", &[("rejected", Some("no budget"))]),
    ("rec", &[("recycled", None)]),
    ("open", &[]),
    ("won", &[("accepted", None), ("won", None)]),
    ("lost", &[("accepted", None), ("lost", Some("went with a rival"))]),
    (
        "late",
        &[("rejected", Some("too small")), ("recycled", None), ("accepted", None)],
    ),
];

async fn export_case(dir: &Path, store: &[&str]) {
    let pack = pack_dir(dir, LOOP_PACK);
    let server = Server::start_on(&pack, store, &[]);
    let http = client();
    let pricing = json!({"type": "page_view", "path": "/pricing"});
    for (lead, steps) in DECISIONS {
        call(
            http.put(server.url(&format!("/v1/leads/{lead}")))
                .json(&json!({"title": "VP", "source": "web"})),
        )
        .await;
        let (_, handed) = call(
            http.post(server.url(&format!("/v1/leads/{lead}/events")))
                .json(&pricing),
        )
        .await;
        assert_eq!(handed["stage"], "mql", "{handed}");
        for (stage, reason) in *steps {
            let (status, answer) = call(
                http.post(server.url(&format!("/v1/leads/{lead}/stage")))
                    .json(&json!({"stage": stage, "reason": reason})),
            )
            .await;
            assert_eq!(status, 200, "{lead} → {stage}: {answer}");
        }
    }
    // Never handed off: no hand-off record, no label.
    call(http.put(server.url("/v1/leads/cold")).json(&json!({"title": "Intern"}))).await;
    // After its hand-off `acc` reads the blog: exported, but not counted as of the hand-off.
    let blog = json!({"type": "page_view", "path": "/blog/a"});
    call(http.post(server.url("/v1/leads/acc/events")).json(&blog)).await;

    let lines = export_lines(&http, &server, "").await;
    let by_id: BTreeMap<String, Value> = lines
        .iter()
        .map(|l| (l["id"].as_str().unwrap().to_string(), l.clone()))
        .collect();
    assert_eq!(by_id.len(), DECISIONS.len() + 1, "one line per lead");
    let sales = |id: &str| {
        let s = &by_id[id]["sales"];
        (
            s["stage"].as_str().unwrap_or("").to_string(),
            s["accepted"].clone(),
            s["won"].clone(),
            s["rejection_reason"].clone(),
        )
    };
    let expected = [
        ("acc", "accepted", json!(true), Value::Null, Value::Null),
        ("rej", "rejected", json!(false), json!(false), json!("no budget")),
        ("rec", "recycled", json!(false), json!(false), Value::Null),
        ("open", "mql", Value::Null, Value::Null, Value::Null),
        ("won", "won", json!(true), json!(true), Value::Null),
        ("lost", "lost", json!(true), json!(false), Value::Null),
        ("late", "accepted", json!(true), Value::Null, json!("too small")),
        ("cold", "lead", Value::Null, Value::Null, Value::Null),
    ];
    for (id, stage, accepted, won, reason) in expected {
        assert_eq!(
            sales(id),
            (stage.to_string(), accepted, won, reason),
            "{id}: {}",
            by_id[id]
        );
    }
    // The shape `leadscore score` reads, with every kept event and the times of the hand-off.
    let acc = &by_id["acc"];
    assert_eq!(
        (acc["title"].as_str(), acc["source"].as_str()),
        (Some("VP"), Some("web"))
    );
    assert_eq!(acc["events"].as_array().map(Vec::len), Some(2));
    let mql_at = acc["sales"]["mql_at"].as_str().unwrap();
    let acted_at = acc["sales"]["acted_at"].as_str().unwrap();
    assert!(mql_at <= acted_at, "{acc}");
    assert!(by_id["cold"]["sales"]["mql_at"].is_null());

    // Backtest on what sales did: the six leads sales acted on are labelled (four
    // accepted, two not); `open` and `cold` are unlabelled, not failures.
    let file = dir.join("export.jsonl");
    std::fs::write(&file, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let out = Command::new(BIN)
        .args(["backtest", "--pack"])
        .arg(&pack)
        .args(["--outcome", "sales.accepted", "--as-of-field", "sales.mql_at", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            &report["labelled"],
            &report["positives"],
            &report["unlabelled"],
            &report["failed"]
        ),
        (&json!(6), &json!(4), &json!(2), &json!(0)),
        "{report}"
    );
    // Judged as of the hand-off: every labelled lead was an MQL at 35, the later blog
    // visit of `acc` not counted (as of now it would score 36).
    let scored = score_as_of_field(&pack, &file);
    assert_eq!(scored["acc"], 35.0);

    // fit reads the same export (too few leads to move any points: it says so, and runs).
    let fitted = Command::new(BIN)
        .args(["fit", "--pack"])
        .arg(&pack)
        .args([
            "--outcome",
            "sales.accepted",
            "--as-of-field",
            "sales.mql_at",
            "--json",
            "-o",
        ])
        .arg(dir.join("fitted"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(fitted.status.success(), "{}", String::from_utf8_lossy(&fitted.stderr));
    let fit: Value = serde_json::from_slice(&fitted.stdout).unwrap();
    assert_eq!(
        fit["train"].as_u64().unwrap() + fit["test"].as_u64().unwrap(),
        6,
        "{fit}"
    );

    // `since`: only the leads a write changed from then on.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    tokio::time::sleep(Duration::from_millis(20)).await;
    call(http.post(server.url("/v1/leads/cold/events")).json(&blog)).await;
    call(
        http.post(server.url("/v1/leads/open/stage"))
            .json(&json!({"stage": "accepted"})),
    )
    .await;
    let changed = export_lines(&http, &server, &format!("?since={since}")).await;
    let ids: Vec<&str> = changed.iter().filter_map(|l| l["id"].as_str()).collect();
    assert_eq!(ids, ["cold", "open"]);
    // Past one page (100 leads): every lead once, in id order, the body streamed in
    // chunks (no length known in advance).
    let many: String = (0..250)
        .map(|i| format!("{{\"lead\": \"p{i:03}\", \"fields\": {{\"title\": \"Engineer\"}}}}\n"))
        .collect();
    let (status, ingested) = call(http.post(server.url("/v1/ingest")).body(many)).await;
    assert_eq!((status, &ingested["applied"]), (200, &json!(250)), "{ingested}");
    let response = http.get(server.url("/v1/export")).send().await.unwrap();
    assert!(
        response.headers().get("content-length").is_none(),
        "{:?}",
        response.headers()
    );
    assert_eq!(
        response
            .headers()
            .get("transfer-encoding")
            .and_then(|v| v.to_str().ok()),
        Some("chunked")
    );
    let text = response.text().await.unwrap();
    let ids: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!((ids.len(), &ids), (DECISIONS.len() + 1 + 250, &sorted));

    let (status, bad) = call(http.get(server.url("/v1/export?since=yesterday"))).await;
    assert_eq!((status, bad["kind"].as_str()), (400, Some("bad_request")), "{bad}");
}

/// The export's lines, checking the content type.
async fn export_lines(http: &reqwest::Client, server: &Server, query: &str) -> Vec<Value> {
    let response = http
        .get(server.url(&format!("/v1/export{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers().get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/x-ndjson")
    );
    let text = response.text().await.unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Each exported lead's score as of its own `sales.mql_at` (`leadscore score` per line).
fn score_as_of_field(pack: &Path, file: &Path) -> BTreeMap<String, f64> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let lead: Value = serde_json::from_str(line).unwrap();
        let Some(at) = lead["sales"]["mql_at"].as_str() else {
            continue;
        };
        let one = file.with_extension("one.jsonl");
        std::fs::write(&one, format!("{line}\n")).unwrap();
        let scored = Command::new(BIN)
            .args(["score", "--pack"])
            .arg(pack)
            .args(["--as-of", at])
            .arg(&one)
            .output()
            .unwrap();
        assert!(scored.status.success(), "{}", String::from_utf8_lossy(&scored.stderr));
        let result: Value = serde_json::from_slice(&scored.stdout).unwrap();
        out.insert(
            lead["id"].as_str().unwrap().to_string(),
            result["score"].as_f64().unwrap(),
        );
    }
    out
}
