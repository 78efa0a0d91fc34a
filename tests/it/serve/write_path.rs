//! The write path at scale (issue 22): the writer's cache of leads never serves a lead
//! another instance wrote, or one erased since; `POST /v1/ingest?answer=counts` answers
//! without the leads.

use serde_json::json;

use super::cluster::Cluster;
use super::*;

/// Posts a `/blog/*` visit to `lead` through `server`: the lead's score after it (the
/// pack's `Reader` rule gives a point per visit).
async fn visit(http: &reqwest::Client, server: &Server, lead: &str) -> Value {
    let event = json!({"type": "page_view", "path": "/blog/a"});
    let (status, body) = call(http.post(server.url(&format!("/v1/leads/{lead}/events"))).json(&event)).await;
    assert_eq!(status, 200, "{body}");
    body["result"]["score"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_never_scores_from_a_lead_another_instance_wrote_since() {
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_dir(dir.path(), PACK);
    let url = cluster.create_db("cache");
    let a = Server::start_on(&pack, &["--database-url", &url], &[]);
    let b = Server::start_on(&pack, &["--database-url", &url], &[]);
    let http = client();
    // Each instance's cache holds the lead after its own write; the other's write in
    // between makes that copy stale.
    assert_eq!(visit(&http, &a, "x").await, 1);
    assert_eq!(visit(&http, &b, "x").await, 2);
    assert_eq!(visit(&http, &a, "x").await, 3);
    assert_eq!(visit(&http, &b, "x").await, 4);
    // Erased on one, created again on the other, written on the first: one visit.
    assert_eq!(visit(&http, &a, "y").await, 1);
    let (status, _) = call(http.delete(b.url("/v1/leads/y"))).await;
    assert_eq!(status, 200);
    assert_eq!(visit(&http, &b, "y").await, 1);
    assert_eq!(visit(&http, &a, "y").await, 2);
    let (_, lead) = call(http.get(a.url("/v1/leads/y"))).await;
    assert_eq!(lead["events"]["kept"], 2, "{lead}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_lead_written_again_starts_afresh_and_ingest_can_answer_with_counts() {
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_dir(dir.path(), PACK);
    let server = Server::start(&pack, &dir.path().join("data"), &[]);
    let http = client();
    assert_eq!(visit(&http, &server, "z").await, 1);
    assert_eq!(visit(&http, &server, "z").await, 2);
    let (status, _) = call(http.delete(server.url("/v1/leads/z"))).await;
    assert_eq!(status, 200);
    assert_eq!(
        visit(&http, &server, "z").await,
        1,
        "nothing of the erased lead is left"
    );

    let body = "{\"lead\": \"z\", \"event\": {\"type\": \"page_view\", \"path\": \"/blog/b\"}}\nnot json\n{\"lead\": \"w\", \"fields\": {\"title\": \"VP\"}}\n";
    let (status, answer) = call(http.post(server.url("/v1/ingest?answer=counts")).body(body)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({"lines": 3, "applied": 2, "new_events": 1, "duplicate_events": 0,
               "errors": [{"line": 2, "error": answer["errors"][0]["error"], "kind": "bad_json"}]})
    );
    let (_, lead) = call(http.get(server.url("/v1/leads/z"))).await;
    assert_eq!(lead["result"]["score"], 2, "stored as with the whole answer: {lead}");
    let (status, answer) = call(http.post(server.url("/v1/ingest?answer=all")).body(body)).await;
    assert_eq!(status, 400, "{answer}");
}

/// Each lead's result in a whole `/v1/ingest` answer, as the text the answer holds.
fn answered_results(text: &str) -> Vec<(String, String, String)> {
    #[derive(serde::Deserialize)]
    struct Answer<'a> {
        #[serde(borrow)]
        leads: Vec<Summary<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct Summary<'a> {
        lead: String,
        as_of: String,
        #[serde(borrow)]
        result: &'a serde_json::value::RawValue,
    }
    let answer: Answer = serde_json::from_str(text).unwrap();
    answer
        .leads
        .into_iter()
        .map(|l| (l.lead, l.as_of, l.result.get().to_string()))
        .collect()
}

/// Ingests `rounds` requests of events to leads `r0`..`r3` (fields first), and checks that
/// each answered result is, byte for byte, batch scoring's result of the lead's stored
/// fields and events written as a JSON value writes it (keys in order), as every answer
/// was before results were kept as text.
async fn ingest_and_compare(http: &reqwest::Client, server: &Server, pack: &Path, dir: &Path, rounds: usize) {
    for round in 0..rounds {
        let mut body = String::new();
        for (n, title) in ["VP Sales", "Engineer", "VP Marketing", "Student"].iter().enumerate() {
            let lead = format!("r{n}");
            if round == 0 {
                body.push_str(&json!({"lead": lead, "fields": {"title": title, "region": "NY"}}).to_string());
                body.push('\n');
            }
            for path in ["/blog/a", "/pricing", "/blog/b"].iter().take(1 + (round + n) % 3) {
                let event = json!({"type": "page_view", "path": path, "n": 0.1 + round as f64});
                body.push_str(&json!({"lead": lead, "event": event}).to_string());
                body.push('\n');
            }
        }
        let response = http.post(server.url("/v1/ingest")).body(body).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        let answered = answered_results(&text);
        assert_eq!(answered.len(), 4, "{text}");
        for (lead, as_of, result) in answered {
            let (line, stored) = export(http, server, &lead).await;
            let batch = batch_score(pack, dir, &as_of, &[line]);
            assert_eq!(result, batch[0].to_string(), "lead {lead}, round {round}");
            assert_eq!(stored["result"], batch[0], "lead {lead}, round {round}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_scored_from_the_kept_state_are_batch_scorings_byte_for_byte_before_and_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_dir(dir.path(), PACK);
    let data = dir.path().join("data");
    let http = client();
    let mut server = Server::start(&pack, &data, &[]);
    // The writer's cache holds each lead after its first write: later rounds score from it.
    ingest_and_compare(&http, &server, &pack, dir.path(), 4).await;
    assert!(server.terminate(Duration::from_secs(10)).success());
    // A new process reads the leads and their events from the file, then keeps them.
    let server = Server::start(&pack, &data, &[]);
    ingest_and_compare(&http, &server, &pack, dir.path(), 2).await;
}
