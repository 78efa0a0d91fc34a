//! Re-evaluation when due: each lead is scored again when its result can change without
//! new data (the core's prediction: a window's end, a `not ... within` turning true),
//! when its SLA passes, or `--reevaluate-every` after its result for what cannot be
//! predicted; never otherwise, and never on a sweep of all leads. Every lead is scored
//! again once per pack, not at every start.

use std::time::Duration;

use serde_json::{json, Value};

use super::*;

/// The lead's `as_of`.
async fn as_of(http: &reqwest::Client, server: &Server, id: &str) -> String {
    let (status, lead) = call(http.get(server.url(&format!("/v1/leads/{id}")))).await;
    assert_eq!(status, 200, "{lead}");
    lead["as_of"].as_str().unwrap().to_string()
}

/// How many group commits the server has made (from `/metrics`: the counts of every
/// kind of group, `held`, added up).
async fn commits(http: &reqwest::Client, server: &Server) -> u64 {
    let text = text(http, server.url("/metrics")).await;
    let counts: Vec<u64> = text
        .lines()
        .filter(|l| l.starts_with("leadscore_commit_duration_seconds_count"))
        .map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap())
        .collect();
    assert!(
        text.contains("# TYPE leadscore_commit_duration_seconds histogram"),
        "no commit histogram in:\n{text}"
    );
    counts.iter().sum()
}

fn millis(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis()
}

/// A pack whose MQL condition turns true 4 s after a visit, by time alone.
const WINDOW_PACK: &str = r#"threshold 30
rule "Senior":   title ~ VP                        => +20
rule "Quiet":    not visited /pricing within 4s    => +15
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_becomes_an_mql_when_a_window_ends_without_a_new_event() {
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_dir(dir.path(), WINDOW_PACK);
    let data = dir.path().join("data");
    let http = client();
    // The default fallback (60 s): only the prediction can make it in time.
    let server = Server::start(&pack, &data, &[]);
    // The visit (stamped when received), then the title: 20 points, not an MQL yet.
    let visit = json!({"type": "page_view", "path": "/pricing"});
    let (status, lead) = call(http.post(server.url("/v1/leads/a/events")).json(&visit)).await;
    assert_eq!(status, 200, "{lead}");
    let (status, lead) = call(http.put(server.url("/v1/leads/a")).json(&json!({"title": "VP"}))).await;
    assert_eq!(
        (status, &lead["stage"], &lead["result"]["score"]),
        (200, &json!("lead"), &json!(20)),
        "{lead}"
    );
    let (_, stored) = call(http.get(server.url("/v1/leads/a"))).await;
    let visited = millis(stored["events"]["items"][0]["event"]["at"].as_str().unwrap());
    assert_eq!(
        millis(stored["due"].as_str().unwrap()),
        visited + 4_001,
        "due when the visit leaves: {stored}"
    );
    let scored = as_of(&http, &server, "a").await;
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(
        as_of(&http, &server, "a").await,
        scored,
        "scored again before the window ended"
    );

    let mql = until(Duration::from_secs(10), "the mql transition", || async {
        all_transitions(&client(), &server)
            .await
            .into_iter()
            .find(|t| t["lead"] == "a" && t["kind"] == "mql")
    })
    .await;
    let late = millis(mql["at"].as_str().unwrap()) - (visited + 4_000);
    assert!(
        (0..2_000).contains(&late),
        "handed off {late} ms after the window ended: {mql}"
    );
    assert_eq!(mql["reason"], "the MQL condition holds");
    // Nothing else can change by time: it is not scored again.
    let (_, stored) = call(http.get(server.url("/v1/leads/a"))).await;
    assert_eq!(stored["due"], Value::Null, "{stored}");
    let settled = as_of(&http, &server, "a").await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        as_of(&http, &server, "a").await,
        settled,
        "scored again with nothing due"
    );
}

/// A pack whose score drops 3 s after a visit, when the visit leaves its window.
const DROP_PACK: &str = r#"threshold 30
rule "Senior":  title ~ VP                    => +20
rule "Pricing": visited /pricing within 3s    => +15
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_score_drops_when_a_counted_event_leaves_its_window() {
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_dir(dir.path(), DROP_PACK);
    let data = dir.path().join("data");
    let http = client();
    let server = Server::start(&pack, &data, &[]);
    call(http.put(server.url("/v1/leads/b")).json(&json!({"title": "VP"}))).await;
    let visit = json!({"type": "page_view", "path": "/pricing"});
    let (_, lead) = call(http.post(server.url("/v1/leads/b/events")).json(&visit)).await;
    assert_eq!(lead["result"]["score"], 35, "{lead}");
    let visited = millis(&as_of(&http, &server, "b").await);
    let dropped = until(Duration::from_secs(10), "the score to drop", || async {
        let (_, lead) = call(client().get(server.url("/v1/leads/b"))).await;
        (lead["result"]["score"] == 20).then_some(lead)
    })
    .await;
    let late = millis(dropped["as_of"].as_str().unwrap()) - (visited + 3_000);
    assert!(
        (0..2_000).contains(&late),
        "scored {late} ms after the window ended: {dropped}"
    );
    assert_eq!(dropped["stage"], "mql", "an MQL stays one when its score drops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_due_means_nothing_written_and_a_restart_scores_nothing_again() {
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_dir(dir.path(), PACK);
    let data = dir.path().join("data");
    let http = client();
    // A 1 s fallback: it bounds only what cannot be predicted, and nothing here is.
    let server = Server::start(&pack, &data, &["--reevaluate-every", "1"]);
    for id in ["a", "b", "c"] {
        let (status, _) = call(
            http.put(server.url(&format!("/v1/leads/{id}")))
                .json(&json!({"title": "VP"})),
        )
        .await;
        assert_eq!(status, 200);
    }
    let first = as_of(&http, &server, "a").await;
    let file = data.join("leadscore.redb");
    let before = (
        commits(&http, &server).await,
        std::fs::metadata(&file).unwrap().modified().unwrap(),
    );
    tokio::time::sleep(Duration::from_millis(3_000)).await;
    let after = (
        commits(&http, &server).await,
        std::fs::metadata(&file).unwrap().modified().unwrap(),
    );
    assert_eq!(before, after, "a commit with nothing due");
    assert_eq!(as_of(&http, &server, "a").await, first);
    drop(server);

    // The same pack again: every lead was scored with it, so none is scored at start.
    let server = Server::start(&pack, &data, &["--reevaluate-every", "1"]);
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(
        as_of(&http, &server, "a").await,
        first,
        "scored again at start with the same pack"
    );
    drop(server);

    // Another pack: every lead is scored again, once.
    let changed = pack_dir(dir.path(), &PACK.replace("+20", "+25"));
    let server = Server::start(&changed, &data, &["--reevaluate-every", "1"]);
    for id in ["a", "b", "c"] {
        until(Duration::from_secs(10), "a lead scored with the new pack", || async {
            let (_, lead) = call(client().get(server.url(&format!("/v1/leads/{id}")))).await;
            (lead["result"]["score"] == 25).then_some(())
        })
        .await;
    }
    let rescored = as_of(&http, &server, "a").await;
    assert_ne!(rescored, first);
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(
        as_of(&http, &server, "a").await,
        rescored,
        "scored more than once for one pack"
    );
}
