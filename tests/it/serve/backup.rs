//! `leadscore backup` and `leadscore restore`, through the binary: a backup taken from a
//! running service while it is written to is one consistent snapshot; it restores into
//! Postgres and back into a data folder unchanged (a migration both ways); a restored
//! copy serves exactly the leads, events, history and transitions of the original, under
//! a new instance id; a backup cut short or a target that holds data is refused.

use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;

use super::cluster::Cluster;
use super::*;

/// Runs `leadscore ARGS`: its success and its standard error.
fn leadscore(args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN).args(args).stdin(Stdio::null()).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A backup's lines after the header: what it holds, in order.
fn items(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap());
    assert_eq!(lines.next().unwrap()["header"]["format"], 2);
    lines.collect()
}

fn instance(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let header: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    header["header"]["instance"].as_str().unwrap().to_string()
}

const LEADS: usize = 12;

/// Writes leads and events (with ids) until `stop`, or 150 rounds.
async fn write(server: String, writer: usize, stop: Arc<AtomicBool>) {
    let http = client();
    for i in 0..150 {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let lead = format!("w{writer}-{}", i % LEADS);
        let title = if i % 3 == 0 { "VP Sales" } else { "Engineer" };
        let fields = json!({"title": title, "region": "CA", "n": i});
        let (status, body) = call(http.put(format!("{server}/v1/leads/{lead}")).json(&fields)).await;
        assert_eq!(status, 200, "{body}");
        let path = if i % 4 == 0 { "/pricing" } else { "/blog/a" };
        let event = json!({"type": "page_view", "path": path, "id": format!("e{i}")});
        let (status, body) = call(http.post(format!("{server}/v1/leads/{lead}/events")).json(&event)).await;
        assert_eq!(status, 200, "{body}");
    }
}

/// Every lead of the writers, its history, and the transitions, as `server` serves them.
async fn served(server: &Server) -> Vec<Value> {
    let http = client();
    let mut out = Vec::new();
    for writer in 0..3 {
        for n in 0..LEADS {
            let id = format!("w{writer}-{n}");
            let (status, lead) = call(http.get(server.url(&format!("/v1/leads/{id}?events_limit=1000")))).await;
            assert_eq!(status, 200, "{id}: {lead}");
            let (status, history) = call(http.get(server.url(&format!("/v1/leads/{id}/history?limit=1000")))).await;
            assert_eq!(status, 200, "{id}: {history}");
            out.push(json!({"lead": lead, "history": history}));
        }
    }
    out.push(Value::Array(all_transitions(&http, server).await));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_writing_restores_into_postgres_and_back() {
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let pack = pack_dir(root, PACK);
    let data = root.join("data");
    let server = Server::start(&pack, &data, &[]);
    let path = |name: &str| root.join(name).display().to_string();

    // A backup from the running service while three clients write to it.
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| tokio::spawn(write(server.base.clone(), w, Arc::clone(&stop))))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base = server.base.clone();
    let during = path("during.jsonl");
    let (ok, err) = {
        let during = during.clone();
        tokio::task::spawn_blocking(move || leadscore(&["backup", "--server", &base, "--to", &during]))
            .await
            .unwrap()
    };
    assert!(ok, "{err}");
    assert!(err.contains("backed up"), "{err}");
    for w in writers {
        w.await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let taken = items(Path::new(&during));
    assert!(
        taken.iter().any(|i| i.get("event").is_some()),
        "the backup holds events"
    );

    // Consistent: it restores into Postgres, and a backup of that copy holds the same.
    let pg = cluster.create_db("during");
    let (ok, err) = leadscore(&["restore", "--from", &during, "--database-url", &pg]);
    assert!(ok, "{err}");
    assert!(err.contains("new instance id"), "{err}");
    let from_pg = path("from-pg.jsonl");
    let (ok, err) = leadscore(&["backup", "--database-url", &pg, "--to", &from_pg]);
    assert!(ok, "{err}");
    assert_eq!(items(Path::new(&from_pg)), taken, "Postgres holds what the backup held");
    assert_ne!(
        instance(Path::new(&from_pg)),
        instance(Path::new(&during)),
        "a new identity"
    );
    // And back into a data folder, unchanged.
    let back = root.join("back");
    let (ok, err) = leadscore(&["restore", "--from", &from_pg, "--data", back.to_str().unwrap()]);
    assert!(ok, "{err}");
    let again = path("again.jsonl");
    let (ok, err) = leadscore(&["backup", "--data", back.to_str().unwrap(), "--to", &again]);
    assert!(ok, "{err}");
    assert_eq!(
        items(Path::new(&again)),
        taken,
        "the data folder holds what Postgres held"
    );

    // Once the writes are done: a restored copy serves what the original serves.
    let after = path("after.jsonl");
    let (ok, err) = leadscore(&["backup", "--server", &server.base, "--to", &after]);
    assert!(ok, "{err}");
    let original = served(&server).await;
    assert!(original
        .iter()
        .filter(|v| v.get("lead").is_some())
        .all(|v| v["lead"]["events"]["kept"] != 0));
    let copy = root.join("copy");
    let (ok, err) = leadscore(&["restore", "--from", &after, "--data", copy.to_str().unwrap()]);
    assert!(ok, "{err}");
    let restored = Server::start(&pack, &copy, &[]);
    assert_eq!(served(&restored).await, original);
    let of_copy = path("of-copy.jsonl");
    let (ok, err) = leadscore(&["backup", "--server", &restored.base, "--to", &of_copy]);
    assert!(ok, "{err}");
    assert_ne!(
        instance(Path::new(&of_copy)),
        instance(Path::new(&after)),
        "a new identity"
    );
    assert_eq!(items(Path::new(&of_copy)), items(Path::new(&after)));

    // A running service's folder cannot be read directly: the message says what to do.
    let (ok, err) = leadscore(&[
        "backup",
        "--data",
        data.to_str().unwrap(),
        "--to",
        &path("locked.jsonl"),
    ]);
    assert!(!ok);
    assert!(err.contains("--server"), "{err}");
    assert!(!root.join("locked.jsonl").exists() && !root.join("locked.jsonl.partial").exists());
}

#[test]
fn a_restore_never_writes_over_data_or_keeps_half_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let good = root.join("good.jsonl");
    let lines = [
        json!({"header": {"format": 1, "backend": "redb", "instance": "x", "taken_at": "2026-01-01T00:00:00Z"}}),
        json!({"transition": {"seq": 1, "body": "{}"}}),
        json!({"end": {"leads": 0, "events": 0, "event_ids": 0, "history": 0, "transitions": 1, "cursors": 0}}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&good, &text).unwrap();
    let (ok, err) = leadscore(&[
        "restore",
        "--from",
        good.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    // Not over a database.
    let (ok, err) = leadscore(&[
        "restore",
        "--from",
        good.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("already holds a database"), "{err}");
    // Cut short: refused, and the folder is left without a database.
    let cut = root.join("cut.jsonl");
    std::fs::write(&cut, &text[..text.rfind("{\"end\"").unwrap()]).unwrap();
    let empty = root.join("empty");
    let (ok, err) = leadscore(&[
        "restore",
        "--from",
        cut.to_str().unwrap(),
        "--data",
        empty.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        err.contains("cut short") && err.contains("nothing was restored"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0, "nothing left behind");
    // Not a backup at all.
    let (ok, err) = leadscore(&["restore", "--from", BIN, "--data", empty.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("is not a backup line"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_needs_the_admin_scope() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let pack = pack_dir(root, PACK);
    let tokens = root.join("tokens.txt");
    std::fs::write(&tokens, "ops ops-token admin\nreader read-token read\n").unwrap();
    let server = Server::start(&pack, &root.join("data"), &["--token-file", tokens.to_str().unwrap()]);
    let to = root.join("b.jsonl").display().to_string();
    let base = server.base.clone();
    let attempt = move |token: Option<&str>| {
        let mut command = Command::new(BIN);
        command
            .args(["backup", "--server", &base, "--to", &to])
            .env_remove("LEADSCORE_TOKEN");
        if let Some(token) = token {
            command.env("LEADSCORE_TOKEN", token);
        }
        let out = command.output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, err) = tokio::task::spawn_blocking({
        let attempt = attempt.clone();
        move || attempt(None)
    })
    .await
    .unwrap();
    assert!(!ok && err.contains("401"), "{err}");
    let (ok, err) = tokio::task::spawn_blocking({
        let attempt = attempt.clone();
        move || attempt(Some("read-token"))
    })
    .await
    .unwrap();
    assert!(!ok && err.contains("403"), "{err}");
    assert!(!root.join("b.jsonl").exists() && !root.join("b.jsonl.partial").exists());
    // HEAD: the scope is checked the same way; the answer's headers come without a backup.
    let head = |token: &str| client().head(server.url("/v1/backup")).bearer_auth(token).send();
    assert_eq!(head("read-token").await.unwrap().status(), 403);
    let answer = head("ops-token").await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "application/x-ndjson");
    assert!(answer.bytes().await.unwrap().is_empty());
    let (ok, err) = tokio::task::spawn_blocking(move || attempt(Some("ops-token")))
        .await
        .unwrap();
    assert!(ok, "{err}");
    assert!(!err.contains("ops-token"), "the token is never shown: {err}");
    assert_eq!(items(&root.join("b.jsonl")).last().unwrap()["end"]["leads"], 0);
}

/// A shadow pack for [`a_backup_holds_dead_letters_digests_and_shadow_tallies`]: it
/// disagrees with [`PACK`] on who is senior.
const SHADOW: &str = r#"threshold 30
rule "Senior":  title ~ Director              => +20
rule "Pricing": visited /pricing within 7d    => +15
route "rest"
"#;

/// The lines of a backup of `location` (`--server URL`, `--data DIR`, `--database-url URL`).
fn backup_of(root: &Path, name: &str, location: &[&str]) -> Vec<Value> {
    let to = root.join(name).display().to_string();
    let mut args = vec!["backup"];
    args.extend(location);
    args.extend(["--to", &to]);
    let (ok, err) = leadscore(&args);
    assert!(ok, "{err}");
    items(Path::new(&to))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_holds_dead_letters_digests_and_shadow_tallies() {
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let pack = pack_dir(root, PACK);
    let shadow = root.join("shadow");
    std::fs::create_dir_all(&shadow).unwrap();
    std::fs::write(shadow.join("main.rules"), SHADOW).unwrap();
    // A webhook nobody answers: its head stays undelivered until an operator skips it.
    let hook = format!(
        "http://{}/hook",
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    );
    let options = ["--shadow", shadow.to_str().unwrap(), "--webhook", &hook];
    let server = Server::start(&pack, &root.join("data"), &options);
    let http = client();
    let (status, body) = call(
        http.put(server.url("/v1/leads/a"))
            .json(&json!({"title": "VP", "region": "CA"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let visit = json!({"type": "page_view", "path": "/pricing", "id": "v1"});
    let (status, body) = call(http.post(server.url("/v1/leads/a/events")).json(&visit)).await;
    assert_eq!((status, &body["stage"]), (200, &json!("mql")), "{body}");
    let (_, list) = call(http.get(server.url("/v1/webhooks"))).await;
    let id = list["webhooks"][0]["id"].as_str().unwrap().to_string();
    let (status, w) = call(http.post(server.url(&format!("/v1/webhooks/{id}/skip")))).await;
    assert_eq!((status, w["dead_letter_count"].as_u64()), (200, Some(1)), "{w}");

    let taken = backup_of(root, "taken.jsonl", &["--server", &server.base]);
    let end = &taken.last().unwrap()["end"];
    assert_eq!(
        (&end["dead_letters"], &end["shadow_tallies"]),
        (&json!(1), &json!(1)),
        "{end}"
    );
    let digest = taken.iter().find_map(|i| i["event_id"]["digest"].as_str()).unwrap();
    assert_eq!(digest.len(), 64, "a SHA-256 in hex");
    let tally = taken.iter().find(|i| i.get("shadow").is_some()).unwrap();
    assert_eq!(tally["shadow"]["mql_live_only"], 1, "{tally}");

    // redb → Postgres → redb: every line the same.
    let pg = cluster.create_db("whole");
    let from = root.join("taken.jsonl").display().to_string();
    let (ok, err) = leadscore(&["restore", "--from", &from, "--database-url", &pg]);
    assert!(ok, "{err}");
    assert_eq!(backup_of(root, "pg.jsonl", &["--database-url", &pg])[..], taken[..]);
    let back = root.join("back");
    let from = root.join("pg.jsonl").display().to_string();
    let (ok, err) = leadscore(&["restore", "--from", &from, "--data", back.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(
        backup_of(root, "back.jsonl", &["--data", back.to_str().unwrap()])[..],
        taken[..]
    );

    // The copy acts on them: a reused id with another payload is refused, the shadow
    // report and the dead letter are there.
    let copy = Server::start(&pack, &back, &options);
    let other = json!({"type": "page_view", "path": "/blog/a", "id": "v1"});
    let (status, body) = call(http.post(copy.url("/v1/leads/a/events")).json(&other)).await;
    assert_eq!(status, 409, "{body}");
    let report = |base: String| async move {
        let (status, mut report) = call(client().get(format!("{base}/v1/shadow"))).await;
        assert_eq!(status, 200, "{report}");
        report.as_object_mut().unwrap().remove("loaded_at");
        report
    };
    let (restored, original) = (report(copy.base.clone()).await, report(server.base.clone()).await);
    assert_eq!(restored, original);
    assert_eq!(original["mql_live_only"], 1, "{original}");
    let (_, list) = call(http.get(copy.url("/v1/webhooks"))).await;
    assert_eq!(list["webhooks"][0]["dead_letter_count"], 1, "{list}");
}
