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
