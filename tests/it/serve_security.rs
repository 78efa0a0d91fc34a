//! `leadscore serve` against hostile or careless use, through the real binary on
//! 127.0.0.1: packs published whole (a save caught half-way never goes live), clients
//! that hold connections or send huge bodies, tokens and their scopes. Every loop is
//! bounded in count and time.

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

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
    assert_eq!(version(&server).await, before, "an in-place edit went live without a reload");

    // Taken when asked for: the whole file.
    let (status, reloaded) = call(http.post(server.url("/v1/pack/reload"))).await;
    assert_eq!((status, reloaded["outcome"].as_str()), (200, Some("reloaded")), "{reloaded}");
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
    assert!(log.contains("removed rules: \"Reader\"; removed routes: \"east\""), "{log}");

    // A version that does not check is refused whole; the live one stays.
    publish(dir.path(), "v3", "threshold 30\nrule \"Senior\": title ~ VP => +20 fitt\n");
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
