//! Re-evaluation when due: each lead is scored again when its `due` time comes (its
//! pending SLA, or `--reevaluate-every` after its result), not on a sweep of all leads.

use std::time::Duration;

use serde_json::json;

use super::*;

/// The lead's `as_of`.
async fn as_of(http: &reqwest::Client, server: &Server, id: &str) -> String {
    let (status, lead) = call(http.get(server.url(&format!("/v1/leads/{id}")))).await;
    assert_eq!(status, 200, "{lead}");
    lead["as_of"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_is_scored_again_when_it_is_due_and_not_before() {
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_dir(dir.path(), PACK);
    let data = dir.path().join("data");
    let http = client();
    // Due 60s after each result: nothing is scored again within the test.
    let server = Server::start(&pack, &data, &[]);
    let (status, _) = call(http.put(server.url("/v1/leads/a")).json(&json!({"title": "VP"}))).await;
    assert_eq!(status, 200);
    let first = as_of(&http, &server, "a").await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        as_of(&http, &server, "a").await,
        first,
        "scored again before it was due"
    );
    drop(server);

    // Due 2s after each result: scored again about every 2s, each lead on its own clock.
    let server = Server::start(&pack, &data, &["--reevaluate-every", "2"]);
    let started = as_of(&http, &server, "a").await;
    let (status, _) = call(http.put(server.url("/v1/leads/b")).json(&json!({"title": "VP"}))).await;
    assert_eq!(status, 200);
    let b = as_of(&http, &server, "b").await;
    let again = until(Duration::from_secs(10), "b to be scored again", || async {
        let now = as_of(&client(), &server, "b").await;
        (now != b).then_some(now)
    })
    .await;
    let gap = chrono::DateTime::parse_from_rfc3339(&again).unwrap() - chrono::DateTime::parse_from_rfc3339(&b).unwrap();
    assert!(
        (1_900..4_000).contains(&gap.num_milliseconds()),
        "scored again {}ms after its result",
        gap.num_milliseconds()
    );
    assert_ne!(as_of(&http, &server, "a").await, started, "a was never scored again");
}
