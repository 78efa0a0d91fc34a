//! The write path at scale (issue 22): the writer's cache of leads never serves a lead
//! another instance wrote, or one erased since; `POST /v1/ingest?answer=counts` answers
//! without the leads; the results an ingest answers are batch scoring's, byte for byte;
//! Postgres, which sends a transaction's writes together, stores what redb stores row by
//! row.

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

/// Postgres, one round trip per commit (issue 22): an instance that wrote a lead last
/// sends the locks with the writes and a guard; the guard finds a repeated event id (a
/// client's retry) and a lead another instance wrote since, and the transaction is run
/// again the ordinary way, as if nothing had been guessed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_that_locks_with_its_writes_is_run_again_when_its_guess_was_wrong() {
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_dir(dir.path(), PACK);
    let url = cluster.create_db("guess");
    let a = Server::start_on(&pack, &["--database-url", &url], &[]);
    let b = Server::start_on(&pack, &["--database-url", &url], &[]);
    let http = client();
    let post = |server: &Server, id: &str| {
        let event = json!({"type": "page_view", "path": "/blog/a", "id": id});
        http.post(server.url("/v1/leads/d/events")).json(&event)
    };
    for (i, id) in ["e1", "e2", "e3"].into_iter().enumerate() {
        let (status, body) = call(post(&a, id)).await;
        assert_eq!((status, &body["result"]["score"]), (200, &json!(i + 1)), "{body}");
    }
    // A repeat of a stored id, on the instance that wrote it: stored once.
    let (status, body) = call(post(&a, "e2")).await;
    assert_eq!((status, &body["duplicate_events"]), (200, &json!(1)), "{body}");
    let (status, body) = call(post(&a, "e4")).await;
    assert_eq!((status, &body["result"]["score"]), (200, &json!(4)), "{body}");
    // The other instance writes it; the first one's guess is then wrong once.
    let (status, body) = call(post(&b, "e5")).await;
    assert_eq!((status, &body["result"]["score"]), (200, &json!(5)), "{body}");
    let (status, body) = call(post(&a, "e6")).await;
    assert_eq!((status, &body["result"]["score"]), (200, &json!(6)), "{body}");
    let (_, lead) = call(http.get(b.url("/v1/leads/d"))).await;
    assert_eq!(lead["events"]["kept"], 6, "{lead}");
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

/// A pack without time limits of its own (no SLA, no cool-down), so two servers given the
/// same writes a little apart decide the same.
const TIMELESS: &str = r#"threshold 30
rule "Senior":  title ~ VP                    => +20
rule "Pricing": visited /pricing within 7d    => +15
rule "Reader":  visited /blog/* => +1 each max 10
route "east" when region in ["NY", "NJ"]
route "rest"
"#;

/// One `/v1/ingest` body (one transaction): for each lead, fields, then events with ids,
/// a repeat of one of them (a duplicate within the transaction), one of `earlier` again
/// (a duplicate of a stored event), and for some a reused id with another payload.
fn group(leads: std::ops::Range<usize>, round: usize, earlier: usize) -> String {
    let mut lines = Vec::new();
    for i in leads {
        let lead = format!("g{i:02}");
        let title = if i % 3 == 0 { "VP Sales" } else { "Engineer" };
        let region = if i % 2 == 0 { "NY" } else { "CA" };
        lines.push(json!({"lead": lead, "fields": {"title": title, "region": region, "round": round}}));
        for k in 0..4 {
            let path = if k == 3 && i % 2 == 0 {
                "/pricing".to_string()
            } else {
                format!("/blog/{round}-{k}")
            };
            let event = json!({"type": "page_view", "path": path, "id": format!("e{round}-{k}")});
            lines.push(json!({"lead": lead, "event": event}));
        }
        let again = json!({"type": "page_view", "path": format!("/blog/{round}-1"), "id": format!("e{round}-1")});
        lines.push(json!({"lead": lead, "event": again}));
        let stored = json!({"type": "page_view", "path": format!("/blog/{earlier}-2"), "id": format!("e{earlier}-2")});
        lines.push(json!({"lead": lead, "event": stored}));
        if i % 5 == 0 {
            let reused = json!({"type": "page_view", "path": "/other", "id": format!("e{round}-3")});
            lines.push(json!({"lead": lead, "event": reused}));
        }
    }
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// `value` without the times the servers stamp (they differ between two runs).
fn timeless(value: &Value) -> Value {
    match value {
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| {
                ![
                    "at",
                    "as_of",
                    "acted_at",
                    "mql_at",
                    "updated",
                    "received",
                    "minutes_to_first_action",
                ]
                .contains(&k.as_str())
            })
            .map(|(k, v)| (k.clone(), timeless(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        Value::Array(items) => items.iter().map(timeless).collect(),
        other => other.clone(),
    }
}

/// Everything a client can read back: every lead as exported, each one's history, every
/// transition, the hand-offs.
async fn read_back(http: &reqwest::Client, server: &Server) -> Value {
    let export = text(http, server.url("/v1/export")).await;
    let leads: Vec<Value> = export.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut histories = serde_json::Map::new();
    for lead in &leads {
        let id = lead["id"].as_str().unwrap();
        let (status, history) = call(http.get(server.url(&format!("/v1/leads/{id}/history")))).await;
        assert_eq!(status, 200, "{history}");
        histories.insert(id.to_string(), history);
    }
    let (_, transitions) = call(http.get(server.url("/v1/transitions?after=0"))).await;
    let (_, funnel) = call(http.get(server.url("/v1/funnel?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"))).await;
    timeless(&json!({"leads": leads, "history": histories, "transitions": transitions, "funnel": funnel}))
}

/// Postgres sends a transaction's writes together at its end (issue 22): what it stores
/// must be what redb, which writes each row as it goes, stores for the same requests.
/// Two Postgres instances take turns, so the second reads leads the first wrote with its
/// locks; each ingest is one transaction of 30 leads with events past the limit of 3
/// kept, duplicates within it and of stored events, and reused ids; leads are erased and
/// written again; hand-offs are accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_commit_on_postgres_stores_what_redb_stores_row_by_row() {
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_dir(dir.path(), TIMELESS);
    let url = cluster.create_db("group");
    let limits = ["--max-events-per-lead", "3"];
    let redb = Server::start(&pack, &dir.path().join("data"), &limits);
    let pg = [
        Server::start_on(&pack, &["--database-url", &url], &limits),
        Server::start_on(&pack, &["--database-url", &url], &limits),
    ];
    let http = client();
    let mut turn = 0;
    let mut both = |path: String, body: Option<String>, delete: bool| {
        let servers = [&redb, &pg[turn % 2]];
        turn += 1;
        let http = http.clone();
        async move {
            let mut answers = Vec::new();
            for server in servers {
                let request = match (&body, delete) {
                    (_, true) => http.delete(server.url(&path)),
                    (Some(body), false) => http.post(server.url(&path)).body(body.clone()),
                    (None, false) => http.post(server.url(&path)),
                };
                answers.push(call(request).await);
            }
            assert_eq!(
                (answers[0].0, timeless(&answers[0].1)),
                (answers[1].0, timeless(&answers[1].1)),
                "{path}"
            );
            answers.remove(1)
        }
    };
    for round in 0..3 {
        let (status, answer) = both("/v1/ingest".into(), Some(group(0..30, round, round.max(1) - 1)), false).await;
        assert_eq!(status, 200, "{answer}");
    }
    for id in ["g00", "g01", "g07"] {
        assert_eq!(both(format!("/v1/leads/{id}"), None, true).await.0, 200);
    }
    let (_, answer) = both("/v1/ingest".into(), Some(group(0..10, 3, 0)), false).await;
    assert_eq!(answer["applied"], 70, "{answer}");
    let stage = json!({"stage": "accepted", "reason": "call booked"}).to_string();
    for id in ["g06", "g12"] {
        let (status, answer) = both(format!("/v1/leads/{id}/stage"), Some(stage.clone()), false).await;
        assert_eq!(status, 200, "{answer}");
    }
    let (redb_state, pg_state) = (read_back(&http, &redb).await, read_back(&http, &pg[0]).await);
    assert_eq!(redb_state["leads"].as_array().unwrap().len(), 30);
    assert!(
        redb_state["funnel"].to_string().contains("accepted"),
        "{}",
        redb_state["funnel"]
    );
    for part in ["leads", "history", "transitions", "funnel"] {
        let (redb, pg) = (&redb_state[part], &pg_state[part]);
        let (redb, pg) = match (redb.as_array(), pg.as_array()) {
            (Some(r), Some(p)) if r.len() == p.len() => {
                let differ = r.iter().zip(p).find(|(a, b)| a != b);
                differ.map_or((redb, pg), |(a, b)| (a, b))
            }
            _ => (redb, pg),
        };
        assert_eq!(redb, pg, "{part}");
    }
}
