//! `leadscore serve` against hostile or careless use, through the real binary on
//! 127.0.0.1: packs published whole (a save caught half-way never goes live), clients
//! that hold connections or send huge bodies, tokens and their scopes. Every loop is
//! bounded in count and time.

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::serve::{all_transitions, call, client, pack_dir, publish, until, JsonBody, Server, PACK};

async fn version(server: &Server) -> String {
    let (status, info) = call(client().get(server.url("/v1/pack"))).await;
    assert_eq!(status, 200, "{info}");
    info["version"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_in_place_save_never_hands_off_an_mql_without_its_route() {
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_dir(dir.path(), PACK);
    let server = Server::start(&pack, &dir.path().join("data"), &[]);
    let http = client();
    let before = version(&server).await;

    // The edit lowers the threshold; its route lines come 2 s after the rest.
    let prefix = "threshold 5\nrule \"Senior\":  title ~ VP => +20\n";
    let rest = "route \"east\" when region in [\"NY\", \"NJ\"] sla 1h\nroute \"rest\"\n";
    let mut file = std::fs::File::create(pack.join("main.rules")).unwrap();
    file.write_all(prefix.as_bytes()).unwrap();
    file.flush().unwrap();
    let window = Instant::now();
    let mut n = 0;
    while window.elapsed() < Duration::from_secs(2) && n < 200 {
        let (status, lead) = call(
            http.put(server.url(&format!("/v1/leads/w{n}")))
                .json(&json!({"title": "VP", "region": "NY"})),
        )
        .await;
        assert_eq!(status, 200, "{lead}");
        if lead["stage"] == "mql" {
            assert!(lead["result"]["route"].is_string(), "an MQL without a route: {lead}");
        }
        n += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    file.write_all(rest.as_bytes()).unwrap();
    drop(file);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        version(&server).await,
        before,
        "an in-place edit went live without a reload"
    );

    // Taken when asked for: the whole file.
    let (status, reloaded) = call(http.post(server.url("/v1/pack/reload"))).await;
    assert_eq!(
        (status, reloaded["outcome"].as_str()),
        (200, Some("reloaded")),
        "{reloaded}"
    );
    let (_, lead) = call(
        http.put(server.url("/v1/leads/after"))
            .json(&json!({"title": "VP", "region": "NY"})),
    )
    .await;
    assert_eq!(
        (lead["stage"].as_str(), lead["result"]["route"].as_str()),
        (Some("mql"), Some("east")),
        "{lead}"
    );
    for t in all_transitions(&http, &server).await {
        if t["kind"] == "mql" {
            assert!(t["route"].is_string() && t["sla_due"].is_string(), "{t}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_version_goes_live_and_what_it_dropped_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let link = publish(dir.path(), "v1", PACK);
    let server = Server::start(&link, &dir.path().join("data"), &[]);
    let http = client();
    let v1 = version(&server).await;

    // v2 drops the "Reader" rule and the "east" route: accepted, and said.
    let v2_text = PACK
        .replace("rule \"Reader\":  visited /blog/* => +1 each max 10\n", "")
        .replace("route \"east\" when region in [\"NY\", \"NJ\"] sla 2s\n", "");
    publish(dir.path(), "v2", &v2_text);
    let v2 = until(Duration::from_secs(10), "v2 to go live", || async {
        let v = version(&server).await;
        (v != v1).then_some(v)
    })
    .await;
    let (_, info) = call(http.get(server.url("/v1/pack"))).await;
    assert_eq!(info["last_removal"]["rules"], json!(["Reader"]), "{info}");
    assert_eq!(info["last_removal"]["routes"], json!(["east"]), "{info}");
    assert_eq!(info["routes"], json!(["rest"]), "{info}");
    let log = server.log();
    assert!(
        log.contains("removed rules: \"Reader\"; removed routes: \"east\""),
        "{log}"
    );

    // A version that does not check is refused whole; the live one stays.
    publish(
        dir.path(),
        "v3",
        "threshold 30\nrule \"Senior\": title ~ VP => +20 fitt\n",
    );
    until(Duration::from_secs(10), "the rejection", || async {
        server.log().contains("published pack rejected").then_some(())
    })
    .await;
    assert_eq!(version(&server).await, v2);

    // An in-place edit of the live folder waits for SIGHUP.
    let live_file = dir.path().join("versions/v3/main.rules");
    std::fs::write(&live_file, "threshold 30\nrule \"Senior\": title ~ VP => +25\n").unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(version(&server).await, v2);
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    let v4 = until(Duration::from_secs(10), "the SIGHUP reload", || async {
        let v = version(&server).await;
        (v != v2).then_some(v)
    })
    .await;
    let (_, lead) = call(http.put(server.url("/v1/leads/x")).json(&json!({"title": "VP"}))).await;
    assert_eq!(lead["result"]["score"], json!(25), "{lead}");
    assert_eq!(lead["result"]["pack"]["version"].as_str(), Some(v4.as_str()));
}

/// Lets this process open `n` files (CI's default soft limit is 1,024).
fn allow_open_files(n: u64) {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current.is_some_and(|c| c < n) {
        let current = limit.maximum.map_or(n, |m| m.min(n));
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(current),
                maximum: limit.maximum,
            },
        )
        .unwrap();
    }
}

/// How long one request took, and its status (0: it failed).
async fn timed(req: reqwest::RequestBuilder) -> (Duration, u16) {
    let started = Instant::now();
    let status = req.send().await.map_or(0, |r| r.status().as_u16());
    (started.elapsed(), status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slowloris_sockets_do_not_lock_out_health_or_a_write() {
    allow_open_files(4_096);
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_dir(dir.path(), PACK);
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "writer-token\n").unwrap();
    let server = Server::start(
        &pack,
        &dir.path().join("data"),
        &["--token-file", tokens.to_str().unwrap()],
    );
    let addr = server.base.trim_start_matches("http://").to_string();
    // 1,100 sockets: half say nothing, half send a header line now and then.
    let mut idle = Vec::new();
    let mut slow = Vec::new();
    for i in 0..1_100 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        if i % 2 == 1 {
            use tokio::io::AsyncWriteExt;
            s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").await.unwrap();
            slow.push(s);
        } else {
            idle.push(s);
        }
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    for round in 0..3 {
        for s in &mut slow {
            use tokio::io::AsyncWriteExt;
            let _ = s.write_all(b"X-Slow: 1\r\n").await;
        }
        let (took, status) = timed(http.get(server.url("/health"))).await;
        assert!(
            status == 200 && took < Duration::from_secs(2),
            "round {round}: /health {status} after {took:?}"
        );
        let write = http
            .post(server.url("/v1/leads/held/events"))
            .bearer_auth("writer-token")
            .json(&json!({"type": "page_view", "path": "/pricing"}));
        let (took, status) = timed(write).await;
        assert!(
            status == 200 && took < Duration::from_secs(2),
            "round {round}: the write {status} after {took:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop((idle, slow));
}

/// The most memory the process ever held (VmHWM), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_16_mib_bodies_are_refused_in_bounded_memory_while_health_answers() {
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_dir(dir.path(), PACK);
    let server = Server::start(&pack, &dir.path().join("data"), &[]);
    const MIB16: usize = 16 * 1024 * 1024;
    let array = |item: &str| {
        let mut body = String::with_capacity(MIB16);
        body.push('[');
        while body.len() + item.len() + 2 < MIB16 {
            body.push_str(item);
            body.push(',');
        }
        body.pop();
        body.push(']');
        body
    };
    let mut wide = String::from("{\"type\":\"page_view\"");
    let mut k = 0;
    while wide.len() + 32 < MIB16 {
        wide.push_str(&format!(",\"k{k}\":0"));
        k += 1;
    }
    wide.push('}');
    let bodies: Vec<(&str, String, u16)> = vec![
        ("/v1/leads/h/events", array("{\"a\":0}"), 400),
        ("/v1/leads/h/events", array("{\"type\":\"x\"}"), 413),
        ("/v1/leads/h/events", wide.clone(), 413),
        ("/v1/leads/h", wide, 413),
        (
            "/v1/ingest",
            format!(
                "{{\"lead\":\"a\",\"fields\":{{\"x\":[{}0]}}}}\n",
                "0,".repeat(MIB16 / 2 - 64)
            ),
            413,
        ),
    ];
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (url, stop) = (server.url("/health"), std::sync::Arc::clone(&stop));
        tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            let mut slowest = Duration::ZERO;
            for _ in 0..2_000 {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let (took, status) = timed(http.get(&url)).await;
                assert_eq!(status, 200);
                slowest = slowest.max(took);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            slowest
        })
    };
    let http = client();
    for (path, body, expected) in bodies {
        let len = body.len();
        let req = if path == "/v1/leads/h" {
            http.put(server.url(path))
        } else {
            http.post(server.url(path))
        };
        let started = Instant::now();
        let (status, answer) = call(req.header("content-type", "application/json").body(body)).await;
        assert_eq!(status, expected, "{path} ({len} bytes): {answer}");
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{path}: {:?}",
            started.elapsed()
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let slowest = watcher.await.unwrap();
    assert!(slowest < Duration::from_secs(1), "/health took {slowest:?}");
    let peak = peak_rss(server.child.id());
    assert!(peak < 300 * 1024 * 1024, "peak RSS {} MB", peak / (1024 * 1024));
    eprintln!("peak RSS after the hostile bodies: {} MB", peak / (1024 * 1024));
}

/// A request's status, `WWW-Authenticate` header and raw body.
async fn raw(req: reqwest::RequestBuilder) -> (u16, String, String) {
    let response = req.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, challenge, response.text().await.unwrap())
}

/// The body is one JSON value on one line, and its `kind`.
fn kind_of(body: &str) -> String {
    assert!(body.ends_with('\n') && body.trim_end().lines().count() == 1, "{body:?}");
    let value: serde_json::Value = serde_json::from_str(body).unwrap();
    value["kind"].as_str().unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_are_enforced_per_endpoint_and_every_answer_is_a_json_line() {
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_dir(dir.path(), PACK);
    let tokens = dir.path().join("tokens");
    std::fs::write(
        &tokens,
        "# name  token  scopes\ncrm crm-token write\nsales sales-token read,sales\nops ops-token admin\nlegacy-token\n",
    )
    .unwrap();
    let server = Server::start(
        &pack,
        &dir.path().join("data"),
        &["--token-file", tokens.to_str().unwrap()],
    );
    let http = client();
    let with = |req: reqwest::RequestBuilder, token: &str| req.header("authorization", format!("Bearer {token}"));

    // Nobody: only /health, which says nothing about the pack.
    let (status, _, body) = raw(http.get(server.url("/health"))).await;
    assert_eq!((status, body.as_str()), (200, "{\"status\":\"ok\"}\n"));
    let (status, challenge, body) = raw(http.get(server.url("/v1/pack"))).await;
    assert_eq!(
        (status, challenge.as_str(), kind_of(&body).as_str()),
        (401, "Bearer", "unauthorized")
    );
    let (status, _, _) = raw(with(http.get(server.url("/v1/pack")), "legacy-tokenx")).await;
    assert_eq!(status, 401);
    let (status, _, _) = raw(http
        .get(server.url("/v1/pack"))
        .header("authorization", "bEaReR legacy-token"))
    .await;
    assert_eq!(status, 200, "the scheme is case-insensitive");

    let lead = json!({"title": "VP", "region": "NY"});
    let pricing = json!({"type": "page_view", "path": "/pricing"});
    // (token, request, expected status)
    let cases: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
        ("crm-token", http.put(server.url("/v1/leads/a")).json(&lead), 200),
        (
            "crm-token",
            http.post(server.url("/v1/leads/a/events")).json(&pricing),
            200,
        ),
        ("crm-token", http.get(server.url("/v1/leads/a")), 403),
        (
            "crm-token",
            http.post(server.url("/v1/leads/a/stage"))
                .json(&json!({"stage": "accepted"})),
            403,
        ),
        ("crm-token", http.post(server.url("/v1/pack/reload")), 403),
        ("sales-token", http.put(server.url("/v1/leads/a")).json(&lead), 403),
        ("sales-token", http.get(server.url("/v1/leads/a")), 200),
        ("sales-token", http.get(server.url("/v1/transitions")), 200),
        ("sales-token", http.post(server.url("/v1/score")).json(&lead), 200),
        (
            "sales-token",
            http.post(server.url("/v1/leads/a/stage"))
                .json(&json!({"stage": "accepted"})),
            200,
        ),
        ("sales-token", http.post(server.url("/v1/pack/reload")), 403),
        ("ops-token", http.post(server.url("/v1/pack/reload")), 200),
        ("ops-token", http.get(server.url("/v1/pack")), 403),
        ("ops-token", http.get(server.url("/metrics")), 403),
        ("legacy-token", http.get(server.url("/metrics")), 200),
        ("legacy-token", http.post(server.url("/v1/pack/reload")), 200),
        // Erasure is admin: an event source adds to leads, it does not make them disappear.
        ("crm-token", http.delete(server.url("/v1/leads/a")), 403),
        // The funnel is a read (issue 27).
        ("crm-token", http.get(server.url("/v1/funnel")), 403),
        ("sales-token", http.get(server.url("/v1/funnel")), 200),
    ];
    for (i, (token, req, expected)) in cases.into_iter().enumerate() {
        let (status, challenge, body) = raw(with(req, token)).await;
        assert_eq!(status, expected, "case {i} ({token}): {body}");
        if status == 403 {
            assert_eq!(kind_of(&body), "forbidden");
            assert!(
                challenge.starts_with("Bearer error=\"insufficient_scope\""),
                "{challenge}"
            );
        } else if i != 14 {
            assert!(body.ends_with('\n'), "case {i}: {body:?}");
        }
    }

    // Every refusal is JSON with a kind, the fallbacks too.
    let long = format!("/v1/leads/a?x={}", "y".repeat(9_000));
    let huge = "z".repeat(70_000);
    let fallbacks = [
        (http.delete(server.url("/v1/transitions")), 405, "method_not_allowed"),
        (http.get(server.url("/v1/nothing")), 404, "not_found"),
        (http.get(server.url(&long)), 414, "uri_too_long"),
        (
            http.get(server.url("/v1/pack")).header("x-big", huge),
            431,
            "headers_too_large",
        ),
        (http.put(server.url("/v1/leads/b")).body("{"), 400, "bad_json"),
    ];
    for (req, expected, kind) in fallbacks {
        let (status, _, body) = raw(with(req, "legacy-token")).await;
        assert_eq!((status, kind_of(&body).as_str()), (expected, kind), "{body}");
    }

    // Numbers in transitions and history print as results print them.
    let (_, _, transitions) = raw(with(http.get(server.url("/v1/transitions")), "sales-token")).await;
    assert!(
        transitions.contains("\"score\":35,") && !transitions.contains("35.0"),
        "{transitions}"
    );
    let (_, _, history) = raw(with(http.get(server.url("/v1/leads/a/history")), "sales-token")).await;
    assert!(
        history.contains("\"score\":35,") && !history.contains(".0,"),
        "{history}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_requalifies_on_counted_activity_and_records_who_acted() {
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_dir(dir.path(), PACK);
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "crm crm-token write,read\nsales sales-token read,sales\n").unwrap();
    let server = Server::start(
        &pack,
        &dir.path().join("data"),
        &["--token-file", tokens.to_str().unwrap()],
    );
    let http = client();
    let crm = |req: reqwest::RequestBuilder| req.bearer_auth("crm-token");
    let sales = |req: reqwest::RequestBuilder| req.bearer_auth("sales-token");
    let stage =
        |id: &str, body: serde_json::Value| sales(http.post(server.url(&format!("/v1/leads/{id}/stage"))).json(&body));
    let pricing = json!({"type": "page_view", "path": "/pricing"});
    for id in ["r", "c"] {
        call(crm(http.put(server.url(&format!("/v1/leads/{id}")))).json(&json!({"title": "VP", "region": "NJ"}))).await;
        let (_, lead) = call(crm(http.post(server.url(&format!("/v1/leads/{id}/events")))).json(&pricing)).await;
        assert_eq!(lead["stage"], "mql", "{lead}");
        let (status, lead) = call(stage(id, json!({"stage": "rejected", "reason": "no budget"}))).await;
        assert_eq!((status, lead["stage"].as_str()), (200, Some("rejected")), "{lead}");
    }
    tokio::time::sleep(Duration::from_millis(2_200)).await;

    // After the cool-down: neither a page view dated a year back nor an event type the
    // pack does not count requalifies `r`; a change of its fields does.
    let old = json!({"type": "page_view", "path": "/blog/x", "at": "2025-03-01T00:00:00Z"});
    let ignored = json!({"type": "email_open"});
    for event in [old, ignored] {
        let (status, lead) = call(crm(http.post(server.url("/v1/leads/r/events"))).json(&event)).await;
        assert_eq!(
            (status, lead["stage"].as_str()),
            (200, Some("rejected")),
            "{event}: {lead}"
        );
    }
    let (_, lead) = call(crm(http.patch(server.url("/v1/leads/r"))).json(&json!({"title": "VP Sales"}))).await;
    assert_eq!(lead["stage"], "mql", "{lead}");

    // Recycling `c` after its cool-down ran does not start another: its next page view
    // requalifies it.
    let (_, lead) = call(stage("c", json!({"stage": "recycled"}))).await;
    assert_eq!(lead["stage"], "recycled");
    let (_, lead) =
        call(crm(http.post(server.url("/v1/leads/c/events"))).json(&json!({"type": "page_view", "path": "/blog/y"})))
            .await;
    assert_eq!(lead["stage"], "mql", "{lead}");

    // Sales accept a lead that never qualified, then close it; `lost` needs a reason.
    for id in ["p", "q"] {
        call(crm(http.put(server.url(&format!("/v1/leads/{id}")))).json(&json!({"title": "Engineer"}))).await;
        let (status, lead) = call(stage(id, json!({"stage": "accepted"}))).await;
        assert_eq!((status, lead["stage"].as_str()), (200, Some("accepted")), "{lead}");
    }
    let (status, lead) = call(stage("p", json!({"stage": "won"}))).await;
    assert_eq!((status, lead["stage"].as_str()), (200, Some("won")), "{lead}");
    let (status, answer) = call(stage("p", json!({"stage": "lost", "reason": "churned"}))).await;
    assert_eq!((status, answer["kind"].as_str()), (409, Some("conflict")), "{answer}");
    let (status, answer) = call(stage("q", json!({"stage": "lost"}))).await;
    assert_eq!(
        (status, answer["kind"].as_str()),
        (400, Some("bad_request")),
        "{answer}"
    );
    let (status, _) = call(stage("q", json!({"stage": "lost", "reason": "went with a rival"}))).await;
    assert_eq!(status, 200);

    // Every stage change sales made says when and who; the lifecycle's own do not.
    let transitions = {
        let (_, page) = call(sales(http.get(server.url("/v1/transitions?limit=1000")))).await;
        page["transitions"].as_array().unwrap().clone()
    };
    let requested: Vec<&Value> = transitions.iter().filter(|t| t["by"].is_string()).collect();
    let kinds: Vec<(&str, &str)> = requested
        .iter()
        .map(|t| (t["lead"].as_str().unwrap(), t["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("r", "rejected"),
            ("c", "rejected"),
            ("c", "recycled"),
            ("p", "accepted"),
            ("q", "accepted"),
            ("p", "won"),
            ("q", "lost")
        ]
    );
    for t in &requested {
        assert_eq!(t["by"], "sales");
        assert!(t["acted_at"].as_str().is_some_and(|a| a.ends_with('Z')), "{t}");
    }
    assert!(transitions
        .iter()
        .filter(|t| t["kind"] == "mql")
        .all(|t| t.get("by").is_none()));
    let (_, history) = call(sales(http.get(server.url("/v1/leads/q/history")))).await;
    let last = history["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["stage"].as_str(), last["by"].as_str()),
        (Some("lost"), Some("sales")),
        "{last}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_are_nfc_without_hidden_characters_and_metrics_pass_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let pack = pack_dir(dir.path(), PACK);
    let server = Server::start(&pack, &dir.path().join("data"), &[]);
    let http = client();
    // "café" with a composed é and with e + a combining accent: one lead.
    let (status, _) = call(
        http.put(server.url("/v1/leads/caf%C3%A9"))
            .json(&json!({"title": "VP"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, lead) = call(http.get(server.url("/v1/leads/cafe%CC%81"))).await;
    assert_eq!((status, lead["id"].as_str()), (200, Some("caf\u{e9}")), "{lead}");
    for sneaky in ["ann%E2%80%8B", "%E2%80%AEnna", "a%E2%81%A6b"] {
        let (status, answer) = call(http.put(server.url(&format!("/v1/leads/{sneaky}"))).json(&json!({}))).await;
        assert_eq!(
            (status, answer["kind"].as_str()),
            (400, Some("bad_request")),
            "{sneaky}: {answer}"
        );
    }
    let events = server.url("/v1/leads/caf%C3%A9/events");
    for (id, expected) in [
        (json!(42), 400),
        (json!("e\u{200B}1"), 400),
        (json!("e\u{301}1"), 200),
        (json!("\u{e9}1"), 200),
    ] {
        let (status, answer) = call(
            http.post(&events)
                .json(&json!({"type": "page_view", "path": "/", "id": id})),
        )
        .await;
        assert_eq!(status, expected, "{id}: {answer}");
        if status == 400 {
            assert_eq!(answer["kind"], "bad_event");
        }
    }
    let (_, lead) = call(http.get(server.url("/v1/leads/caf%C3%A9"))).await;
    assert_eq!(
        lead["events"]["kept"], 1,
        "the two spellings of é1 are one event id: {lead}"
    );

    // /metrics: the 0.0.4 text format unless OpenMetrics is asked for; promtool reads it.
    let plain = http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(
        plain.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = plain.text().await.unwrap();
    assert!(
        text.contains("# TYPE leadscore_events_total counter") && !text.contains("# EOF"),
        "{text}"
    );
    let open = http
        .get(server.url("/metrics"))
        .header("accept", "application/openmetrics-text; version=1.0.0,text/plain;q=0.5")
        .send()
        .await
        .unwrap();
    assert!(open.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    assert!(open.text().await.unwrap().ends_with("# EOF\n"));
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian's `prometheus` package, which .ci/run installs)");
    promtool.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
