//! Webhook failures an operator can see and act on (issue 23), on redb and on Postgres
//! (two instances on one database): a receiver that refuses one transition gets it
//! exactly five times, then it is a dead letter and the next transitions go through;
//! `GET /v1/webhooks` shows it with the status and a cut of the answer; replay, discard,
//! skip, retry and replay-from-seq act on it; dead letters survive a restart; a webhook
//! added later starts at the end of the outbox. Also: an event id reused with another
//! payload is a 409. Loops are bounded in count and time; everything on 127.0.0.1.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use super::cluster::Cluster;
use super::*;

/// One delivery attempt as the receiver saw it: the path, the transition's seq and lead,
/// and the status it answered.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    seq: u64,
    lead: String,
    status: u16,
}

/// A receiver that refuses (400) the transitions of some leads, answers 503 for others,
/// and takes the rest.
struct Hook {
    refused: Arc<Mutex<HashSet<String>>>,
    unavailable: Arc<Mutex<HashSet<String>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Hook {
    async fn start(addr: std::net::SocketAddr) -> Hook {
        let refused: Arc<Mutex<HashSet<String>>> = Arc::default();
        let unavailable: Arc<Mutex<HashSet<String>>> = Arc::default();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let (r, u, s) = (Arc::clone(&refused), Arc::clone(&unavailable), Arc::clone(&seen));
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri, body: axum::body::Bytes| {
            let (r, u, s) = (Arc::clone(&r), Arc::clone(&u), Arc::clone(&s));
            async move {
                let t: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                // A transition's lead, or a target alert's target.
                let lead = t["lead"].as_str().or(t["name"].as_str()).unwrap_or("").to_string();
                let (status, text) = if r.lock().unwrap().contains(&lead) {
                    (400, format!("no such account: {lead}\n\u{1b}[31mred"))
                } else if u.lock().unwrap().contains(&lead) {
                    (503, "try later".to_string())
                } else {
                    (200, "ok".to_string())
                };
                s.lock().unwrap().push(Seen {
                    path: uri.path().to_string(),
                    seq: t["seq"].as_u64().unwrap_or(0),
                    lead,
                    status,
                });
                (axum::http::StatusCode::from_u16(status).unwrap(), text)
            }
        });
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Hook {
            refused,
            unavailable,
            seen,
            task,
        }
    }

    fn refuse(&self, lead: &str, on: bool) {
        let mut set = self.refused.lock().unwrap();
        if on {
            set.insert(lead.into())
        } else {
            set.remove(lead)
        };
    }

    fn seen(&self, path: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }

    /// Attempts at `lead`'s transitions on `path`, and whether one was taken.
    fn tries(&self, path: &str, lead: &str) -> (usize, bool) {
        let seen: Vec<Seen> = self.seen(path).into_iter().filter(|s| s.lead == lead).collect();
        (seen.len(), seen.iter().any(|s| s.status == 200))
    }
}

impl Drop for Hook {
    fn drop(&mut self) {
        self.task.abort();
    }
}

trait Admin {
    fn admin(self) -> Self;
}

impl Admin for reqwest::RequestBuilder {
    fn admin(self) -> Self {
        self.header("authorization", "Bearer ops-token")
    }
}

/// Makes `lead` an MQL (route `rest`, no SLA): one `mql` transition.
async fn qualify(http: &reqwest::Client, server: &Server, lead: &str) {
    let (status, body) = call(
        http.put(server.url(&format!("/v1/leads/{lead}")))
            .admin()
            .json(&json!({"title": "VP Sales", "region": "CA"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let pricing = json!({"type": "page_view", "path": "/pricing"});
    let (status, body) = call(
        http.post(server.url(&format!("/v1/leads/{lead}/events")))
            .admin()
            .json(&pricing),
    )
    .await;
    assert_eq!((status, body["stage"].as_str()), (200, Some("mql")), "{body}");
}

/// The state of the webhook whose (redacted) URL ends with `path`.
async fn webhook(http: &reqwest::Client, server: &Server, path: &str) -> Value {
    let (status, list) = call(http.get(server.url("/v1/webhooks")).admin()).await;
    assert_eq!(status, 200, "{list}");
    list["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["url"].as_str().unwrap().ends_with(path))
        .cloned()
        .unwrap_or_else(|| panic!("no webhook {path} in {list}"))
}

async fn post(http: &reqwest::Client, server: &Server, path: &str) -> (u16, Value) {
    call(http.post(server.url(path)).admin()).await
}

/// Waits until `check` holds of the hook, for at most `secs`.
async fn wait(secs: u64, what: &str, check: impl Fn() -> bool) {
    until(Duration::from_secs(secs), what, || {
        let ok = check();
        async move { ok.then_some(()) }
    })
    .await;
}

fn start(pack: &Path, store: &[&str], tokens: &Path, hooks: &[&str]) -> Server {
    let mut extra = vec!["--token-file", tokens.to_str().unwrap()];
    for h in hooks {
        extra.extend(["--webhook", h]);
    }
    Server::start_on(pack, store, &extra)
}

/// Stops `server` (`kill -9`), then starts it again with `start`.
fn restart(server: &mut Server, start: impl FnOnce() -> Server) {
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    *server = start();
}

/// The whole story on the storage `store` names; with `two`, a second instance on the
/// same database shares the work (Postgres).
async fn dead_letter_case(dir: &Path, store: &[&str], two: bool) {
    let pack = pack_dir(dir, PACK);
    let tokens = dir.join("tokens");
    std::fs::write(&tokens, "ops ops-token read,write,admin\nreader read-token read\n").unwrap();
    let addr = free_port();
    let hook = Hook::start(addr).await;
    let url = format!("http://{addr}/hook?token=hook-secret");
    hook.refuse("bad", true);
    let mut a = start(&pack, store, &tokens, &[&url]);
    let b = two.then(|| start(&pack, store, &tokens, &[&url]));
    let http = client();

    // A refused transition does not hold back the next ones; it is tried exactly five
    // times (by one instance), then dead-lettered.
    qualify(&http, &a, "bad").await;
    qualify(&http, b.as_ref().unwrap_or(&a), "good1").await;
    wait(40, "good1 to get past the refused transition", || {
        hook.tries("/hook", "good1").1
    })
    .await;
    assert_eq!(hook.tries("/hook", "bad"), (5, false));
    // The receiver has good1 before the sender stores its cursor: wait for the stored one.
    let w = until(Duration::from_secs(20), "the cursor past good1", || {
        let (http, a) = (&http, &a);
        async move {
            let w = webhook(http, a, "/hook").await;
            (w["pending"].as_u64() == Some(0)).then_some(w)
        }
    })
    .await;
    assert_eq!(w["url"], format!("http://{addr}/hook"), "no query in the URL shown");
    assert_eq!(
        (w["pending"].as_u64(), w["dead_letter_count"].as_u64()),
        (Some(0), Some(1)),
        "{w}"
    );
    let letter = &w["dead_letters"]["items"][0];
    let bad_seq = letter["seq"].as_u64().unwrap();
    assert_eq!(
        (letter["lead"].as_str(), letter["kind"].as_str()),
        (Some("bad"), Some("mql"))
    );
    assert_eq!(
        (letter["status"].as_u64(), letter["attempts"].as_u64()),
        (Some(400), Some(5))
    );
    let error = letter["error"].as_str().unwrap();
    assert!(
        error.contains("400 Bad Request: no such account: bad??[31mred"),
        "{error}"
    );
    // Admin only.
    let (status, _) = call(
        http.get(a.url("/v1/webhooks"))
            .header("authorization", "Bearer read-token"),
    )
    .await;
    assert_eq!(status, 403);
    // Logged with the status and the answer, never with the URL's secret; and counted.
    let logs = format!("{}{}", a.log(), b.as_ref().map(Server::log).unwrap_or_default());
    assert!(
        logs.contains(&format!(
            "transition {bad_seq} not delivered (attempt 1): the receiver answered 400"
        )),
        "{logs}"
    );
    assert!(
        logs.contains("now a dead letter") && !logs.contains("hook-secret"),
        "{logs}"
    );
    let (_, metrics) = call(http.get(a.url("/metrics")).admin()).await;
    let metrics = metrics.as_str().unwrap_or("").to_string();
    let gauge = format!("leadscore_webhook_dead_letters{{webhook=\"http://{addr}/hook\"}} 1");
    // The gauge is the holder's: with two instances it may be the other one's.
    assert!(two || metrics.contains(&gauge), "{metrics}");

    // A replay while the receiver still refuses: one more attempt, still dead.
    let id = w["id"].as_str().unwrap().to_string();
    let (status, body) = post(&http, &a, &format!("/v1/webhooks/{id}/dead/{bad_seq}/replay")).await;
    assert_eq!(status, 200, "{body}");
    wait(30, "the refused replay", || hook.tries("/hook", "bad").0 == 6).await;
    let letter = until(Duration::from_secs(10), "the replay's result", || async {
        let w = webhook(&http, &a, "/hook").await;
        let l = w["dead_letters"]["items"][0].clone();
        (l["attempts"] == 6 && l["replay_requested"] == false).then_some(l)
    })
    .await;
    assert_eq!(letter["seq"].as_u64(), Some(bad_seq));
    // Dead letters survive a restart.
    restart(&mut a, || start(&pack, store, &tokens, &[&url]));
    assert_eq!(webhook(&http, &a, "/hook").await["dead_letter_count"], 1);
    // Accepted now: the replay delivers it and the dead letter goes.
    hook.refuse("bad", false);
    post(&http, &a, &format!("/v1/webhooks/{id}/dead/{bad_seq}/replay")).await;
    // (With two instances the killed one may hold the lease: the other takes over
    // when it runs out, after 30 s.)
    wait(60, "the replay to be delivered", || hook.tries("/hook", "bad").1).await;
    until(Duration::from_secs(10), "the dead letter to go", || async {
        (webhook(&http, &a, "/hook").await["dead_letter_count"] == 0).then_some(())
    })
    .await;
    let (status, body) = post(&http, &a, &format!("/v1/webhooks/{id}/dead/{bad_seq}/replay")).await;
    assert_eq!((status, body["kind"].as_str()), (404, Some("not_found")), "{body}");

    // Discarded: never tried again.
    hook.refuse("bad2", true);
    qualify(&http, &a, "bad2").await;
    qualify(&http, &a, "good2").await;
    wait(60, "good2 past bad2", || hook.tries("/hook", "good2").1).await;
    let w = webhook(&http, &a, "/hook").await;
    let bad2 = w["dead_letters"]["items"][0]["seq"].as_u64().unwrap();
    let (status, _) = call(http.delete(a.url(&format!("/v1/webhooks/{id}/dead/{bad2}"))).admin()).await;
    assert_eq!(status, 200);
    assert_eq!(webhook(&http, &a, "/hook").await["dead_letter_count"], 0);

    // A receiver that answers 503 is retried (it may come back); "retry now" tries at
    // once, "skip" makes it a dead letter and the stream goes on.
    hook.unavailable.lock().unwrap().insert("slow".into());
    qualify(&http, &a, "slow").await;
    qualify(&http, &a, "good3").await;
    // Five attempts take 7.5 s; the sixth would come 8 s later.
    wait(60, "five 503s", || hook.tries("/hook", "slow").0 >= 5).await;
    assert!(!hook.tries("/hook", "good3").1, "held back behind a 503, in order");
    let before = hook.tries("/hook", "slow").0;
    let (status, w) = post(&http, &a, &format!("/v1/webhooks/{id}/retry")).await;
    assert_eq!((status, w["last_status"].as_u64()), (200, Some(503)), "{w}");
    wait(5, "the retry now", || hook.tries("/hook", "slow").0 > before).await;
    let (status, w) = post(&http, &a, &format!("/v1/webhooks/{id}/skip")).await;
    assert_eq!((status, w["dead_letter_count"].as_u64()), (200, Some(1)), "{w}");
    wait(20, "good3 after the skip", || hook.tries("/hook", "good3").1).await;
    let w = webhook(&http, &a, "/hook").await;
    let skipped = &w["dead_letters"]["items"][0];
    assert_eq!(
        (skipped["lead"].as_str(), skipped["status"].as_u64()),
        (Some("slow"), Some(503))
    );
    assert!(
        skipped["error"].as_str().unwrap().starts_with("skipped by an operator"),
        "{skipped}"
    );

    // A webhook added later starts at the end of the outbox; asked, it replays from a seq.
    let url2 = format!("http://{addr}/hook2");
    drop(b);
    restart(&mut a, || start(&pack, store, &tokens, &[&url, &url2]));
    qualify(&http, &a, "late").await;
    wait(20, "hook2 to get the new transition", || hook.tries("/hook2", "late").1).await;
    let firsts: Vec<String> = hook.seen("/hook2").into_iter().map(|s| s.lead).collect();
    assert_eq!(firsts, ["late"], "a new webhook gets no history");
    let id2 = webhook(&http, &a, "/hook2").await["id"].as_str().unwrap().to_string();
    let (status, body) = post(&http, &a, &format!("/v1/webhooks/{id2}/replay?from=0")).await;
    assert_eq!((status, body["kind"].as_str()), (400, Some("bad_request")), "{body}");
    let (status, _) = post(&http, &a, &format!("/v1/webhooks/{id2}/replay?from=1")).await;
    assert_eq!(status, 200);
    wait(20, "hook2 to get the history", || hook.tries("/hook2", "good1").1).await;
    let seqs: Vec<u64> = hook.seen("/hook2").iter().map(|s| s.seq).collect();
    assert_eq!(seqs[1], 1, "replayed from seq 1 in order: {seqs:?}");
    let (status, _) = post(&http, &a, "/v1/webhooks/nope/retry").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_transition_is_dead_lettered_and_operated_on_redb() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    dead_letter_case(dir.path(), &["--data", data.to_str().unwrap()], false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_transition_is_dead_lettered_once_by_two_instances_on_postgres() {
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let url = cluster.create_db("dead");
    dead_letter_case(dir.path(), &["--database-url", &url], true).await;
}

/// The target alerts are a stream of their own with its own dead letters: `?stream=alerts`
/// shows and acts on them (skip, page, replay), and the transitions stream is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_target_alert_is_a_dead_letter_of_the_alert_stream() {
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_dir(
        dir.path(),
        &format!("{PACK}target \"Sales accept\": acceptance >= 50% over 30d\n"),
    );
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "ops ops-token read,write,sales,admin\n").unwrap();
    let addr = free_port();
    let hook = Hook::start(addr).await;
    hook.refuse("Sales accept", true);
    let url = format!("http://{addr}/hook");
    let data = dir.path().join("data");
    let mut extra = vec!["--token-file", tokens.to_str().unwrap(), "--webhook", &url];
    extra.extend(["--target-every", "1", "--target-min-sample", "1"]);
    let server = Server::start_on(&pack, &["--data", data.to_str().unwrap()], &extra);
    let http = client();
    // One hand-off, rejected: acceptance 0% of 1, missed; the alert is refused.
    qualify(&http, &server, "ann").await;
    let (status, body) = call(
        http.post(server.url("/v1/leads/ann/stage"))
            .admin()
            .json(&json!({"stage": "rejected"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    wait(30, "the alert to be refused once", || {
        hook.tries("/hook", "Sales accept").0 >= 1
    })
    .await;
    let id = webhook(&http, &server, "/hook").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, w) = post(&http, &server, &format!("/v1/webhooks/{id}/skip?stream=alerts")).await;
    assert_eq!((status, w["dead_letter_count"].as_u64()), (200, Some(1)), "{w}");

    // Listed under the webhook's `alerts`, with the target's name; transitions untouched.
    let w = webhook(&http, &server, "/hook").await;
    let letter = &w["alerts"]["dead_letters"]["items"][0];
    assert_eq!(
        (&letter["seq"], &letter["target"], &letter["kind"]),
        (&json!(1), &json!("Sales accept"), &json!("target")),
        "{w}"
    );
    assert_eq!(
        (&w["alerts"]["position"], &w["alerts"]["newest"]),
        (&json!(1), &json!(1)),
        "{w}"
    );
    assert_eq!((&w["dead_letter_count"], &w["pending"]), (&json!(0), &json!(0)), "{w}");
    let (status, page) = call(
        http.get(server.url(&format!("/v1/webhooks/{id}/dead?stream=alerts")))
            .admin(),
    )
    .await;
    assert_eq!(
        (status, &page["items"][0]["target"]),
        (200, &json!("Sales accept")),
        "{page}"
    );
    let (status, page) = call(http.get(server.url(&format!("/v1/webhooks/{id}/dead"))).admin()).await;
    assert_eq!((status, &page["items"]), (200, &json!([])), "{page}");
    let (status, body) = call(
        http.get(server.url(&format!("/v1/webhooks/{id}/dead?stream=outbox")))
            .admin(),
    )
    .await;
    assert_eq!((status, body["kind"].as_str()), (400, Some("bad_request")), "{body}");
    // A dead letter of the other stream is not there.
    let (status, _) = post(&http, &server, &format!("/v1/webhooks/{id}/dead/1/replay")).await;
    assert_eq!(status, 404);

    // Replayed once the receiver takes it: delivered, and gone from the dead letters.
    hook.refuse("Sales accept", false);
    let (status, _) = post(
        &http,
        &server,
        &format!("/v1/webhooks/{id}/dead/1/replay?stream=alerts"),
    )
    .await;
    assert_eq!(status, 200);
    wait(30, "the replayed alert to be taken", || {
        hook.tries("/hook", "Sales accept").1
    })
    .await;
    let w = until(Duration::from_secs(20), "the alert's dead letter gone", || {
        let (http, server) = (&http, &server);
        async move {
            let w = webhook(http, server, "/hook").await;
            (w["alerts"]["dead_letter_count"].as_u64() == Some(0)).then_some(w)
        }
    })
    .await;
    assert_eq!(w["alerts"]["dead_letters"]["items"], json!([]), "{w}");
}

/// The same event id with the same payload is a retry; with another, a 409 naming it.
async fn reused_id_case(dir: &Path, store: &[&str]) {
    let pack = pack_dir(dir, PACK);
    let server = Server::start_on(&pack, store, &[]);
    let http = client();
    let events = |path: &str| json!([{"type": "page_view", "path": path, "id": "e1"}]);
    let url = server.url("/v1/leads/x/events");
    let (status, body) = call(http.post(&url).json(&events("/pricing"))).await;
    assert_eq!((status, body["new_events"].as_u64()), (200, Some(1)), "{body}");
    let (status, body) = call(http.post(&url).json(&events("/pricing"))).await;
    assert_eq!(
        (status, body["duplicate_events"].as_u64()),
        (200, Some(1)),
        "a retry: {body}"
    );
    let (status, body) = call(http.post(&url).json(&events("/blog/a"))).await;
    assert_eq!(
        (status, body["kind"].as_str()),
        (409, Some("event_id_reused")),
        "{body}"
    );
    assert!(body["error"].as_str().unwrap().contains("`e1`"), "{body}");
    // Two events of one write with one id and two payloads: refused whole.
    let two = json!([{"type": "page_view", "path": "/a", "id": "e2"}, {"type": "page_view", "path": "/b", "id": "e2"}]);
    let (status, _) = call(http.post(&url).json(&two)).await;
    assert_eq!(status, 409);
    let (_, lead) = call(http.get(server.url("/v1/leads/x"))).await;
    assert_eq!(
        lead["events"]["kept"], 1,
        "nothing of a refused write is stored: {lead}"
    );
    // Erasing a lead forgets its ids.
    let (status, _) = call(http.delete(server.url("/v1/leads/x"))).await;
    assert_eq!(status, 200);
    let (status, body) = call(http.post(&url).json(&events("/blog/a"))).await;
    assert_eq!((status, body["new_events"].as_u64()), (200, Some(1)), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_event_id_with_another_payload_is_a_409_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    reused_id_case(&dir.path().join("a"), &["--data", data.to_str().unwrap()]).await;
    let cluster = Cluster::start();
    let url = cluster.create_db("reused");
    reused_id_case(&dir.path().join("b"), &["--database-url", &url]).await;
}
