//! `DELETE /v1/leads/{id}`: the lead's fields, events and ledger are gone, its published
//! transitions stay (they hold its id, never its fields or events), and it stays deleted
//! across a restart and re-evaluations.

use std::time::Duration;

use serde_json::json;

use super::*;

async fn erase_case(dir: &Path, store: &[&str]) {
    let pack = pack_dir(dir, PACK);
    let http = client();
    let mut server = Server::start_on(&pack, store, &["--reevaluate-every", "1"]);
    for id in ["gone", "kept"] {
        let (status, _) = call(
            http.put(server.url(&format!("/v1/leads/{id}")))
                .json(&json!({"title": "VP", "region": "CA", "email": "ann@example.com"})),
        )
        .await;
        assert_eq!(status, 200);
        let event = json!({"type": "page_view", "path": "/pricing", "id": "e1"});
        let (_, mql) = call(http.post(server.url(&format!("/v1/leads/{id}/events"))).json(&event)).await;
        assert_eq!(mql["stage"], "mql", "{mql}");
    }
    let before = all_transitions(&http, &server).await;
    let (status, body) = call(http.delete(server.url("/v1/leads/gone"))).await;
    assert_eq!((status, &body), (200, &json!({"lead": "gone", "deleted": true})));
    let (status, _) = call(http.delete(server.url("/v1/leads/gone"))).await;
    assert_eq!(status, 404, "deleted twice");
    for path in ["/v1/leads/gone", "/v1/leads/gone/history"] {
        let (status, body) = call(http.get(server.url(path))).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    // Re-evaluations (every second here) do not bring it back; a restart neither.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(call(http.get(server.url("/v1/leads/gone"))).await.0, 404);
    assert!(server.terminate(Duration::from_secs(10)).success());
    let server = Server::start_on(&pack, store, &["--reevaluate-every", "1"]);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(call(http.get(server.url("/v1/leads/gone"))).await.0, 404);
    let (status, kept) = call(http.get(server.url("/v1/leads/kept"))).await;
    assert_eq!((status, &kept["fields"]["email"]), (200, &json!("ann@example.com")));
    // The outbox is as published: the transitions keep the id, and hold no field.
    let after = all_transitions(&http, &server).await;
    assert_eq!(&after[..before.len()], &before[..]);
    assert!(after.iter().any(|t| t["lead"] == "gone"));
    assert!(!after.iter().any(|t| t.to_string().contains("example.com")));
    // The id is free again: a new write starts a new lead, without the old events.
    let (status, fresh) = call(
        http.put(server.url("/v1/leads/gone"))
            .json(&json!({"title": "Engineer"})),
    )
    .await;
    assert_eq!((status, &fresh["stage"]), (200, &json!("lead")), "{fresh}");
    let (_, lead) = call(http.get(server.url("/v1/leads/gone"))).await;
    assert_eq!(lead["events"]["kept"], 0, "{lead}");
    let event = json!({"type": "page_view", "path": "/pricing", "id": "e1"});
    let (_, again) = call(http.post(server.url("/v1/leads/gone/events")).json(&event)).await;
    assert_eq!(again["new_events"], 1, "the old event id is forgotten too: {again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_lead_stays_erased() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    erase_case(dir.path(), &["--data", data.to_str().unwrap()]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_lead_stays_erased_on_postgres() {
    let cluster = super::cluster::Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let url = cluster.create_db("erasure");
    erase_case(dir.path(), &["--database-url", &url]).await;
}
