//! `serve --shadow PACK` (issue 27.5): two packs with known differences; `GET /v1/shadow`
//! counts their disagreements exactly, by the leads' latest results, through a restart;
//! the shadow never makes a transition; a shadow pack that does not load leaves the live
//! one alone until a reload loads it. On both storage backends.

use serde_json::{json, Value};

use super::cluster::Cluster;
use super::*;

/// The live pack: an MQL at 30; `east` for New York and New Jersey.
const LIVE: &str = r#"threshold 30
rule "Senior":  title ~ VP                 => +20
rule "Pricing": visited /pricing within 7d => +15
route "east" when region in ["NY", "NJ"]
route "rest"
"#;

/// The candidate: `Senior` worth less, a new `Demo` rule, `east` without New Jersey.
const CANDIDATE: &str = r#"threshold 30
rule "Senior":  title ~ VP                 => +10
rule "Pricing": visited /pricing within 7d => +15
rule "Demo":    visited /demo within 7d    => +20
route "east" when region in ["NY"]
route "rest"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shadow_report_counts_the_disagreements_of_two_packs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    shadow_case(dir.path(), &["--data", data.to_str().unwrap()]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shadow_report_works_on_postgres() {
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let url = cluster.create_db("shadow");
    shadow_case(dir.path(), &["--database-url", &url]).await;
}

/// The leads: (id, fields, pages visited). Live / shadow scores and verdicts in comments.
fn leads() -> Vec<(&'static str, Value, &'static [&'static str])> {
    vec![
        // 35 MQL / 25: the live pack's MQL only, behind `Senior`.
        ("l1", json!({"title": "VP"}), &["/pricing"]),
        // 35 MQL rest / 45 MQL rest: both.
        ("l2", json!({"title": "VP"}), &["/pricing", "/demo"]),
        // 15 / 35 MQL: the shadow's only, behind `Demo`.
        ("l3", json!({"title": "Engineer"}), &["/pricing", "/demo"]),
        // 0 / 0: neither.
        ("l4", json!({"title": "Intern"}), &[]),
        // 35 MQL east / 45 MQL rest: both, route changed, behind `Senior` and `Demo`.
        ("l5", json!({"title": "VP", "region": "NJ"}), &["/pricing", "/demo"]),
    ]
}

async fn shadow_case(dir: &Path, store: &[&str]) {
    let live = pack_dir(dir, LIVE);
    let candidate = dir.join("candidate");
    std::fs::create_dir_all(&candidate).unwrap();
    std::fs::write(candidate.join("main.rules"), CANDIDATE).unwrap();
    let shadow_arg = ["--shadow", candidate.to_str().unwrap()];
    let mut server = Server::start_on(&live, store, &shadow_arg);
    let http = client();
    for (id, fields, pages) in leads() {
        call(http.put(server.url(&format!("/v1/leads/{id}"))).json(&fields)).await;
        for page in pages {
            let event = json!({"type": "page_view", "path": page});
            call(http.post(server.url(&format!("/v1/leads/{id}/events"))).json(&event)).await;
        }
    }
    let expected = json!({
        "leads": 5, "mql_both": 2, "mql_live_only": 1, "mql_shadow_only": 1, "route_changed": 1,
        "mean_score_change": 6,
        "rules": [
            {"rule": "Demo", "leads": 2, "mql_live_only": 0, "mql_shadow_only": 1, "route_changed": 1},
            {"rule": "Senior", "leads": 2, "mql_live_only": 1, "mql_shadow_only": 0, "route_changed": 1},
        ],
    });
    assert_report(&http, &server, &expected).await;

    // The lead shows both results; only the live one moved its stage.
    let (_, l3) = call(http.get(server.url("/v1/leads/l3"))).await;
    assert_eq!(
        (l3["stage"].as_str(), &l3["result"]["mql"]),
        (Some("lead"), &json!(false)),
        "{l3}"
    );
    assert!(l3["shadow"]["pack"].as_str().unwrap().starts_with("candidate@"), "{l3}");
    assert_eq!(
        (&l3["shadow"]["result"]["mql"], &l3["shadow"]["result"]["score"]),
        (&json!(true), &json!(35))
    );
    let transitions = all_transitions(&http, &server).await;
    let moved: Vec<(&str, &str, &str)> = transitions
        .iter()
        .map(|t| {
            (
                t["lead"].as_str().unwrap(),
                t["kind"].as_str().unwrap(),
                t["route"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        moved,
        [("l1", "mql", "rest"), ("l2", "mql", "rest"), ("l5", "mql", "east")]
    );

    // Scored again, a lead counts once, by its latest results (not its stage: l1 stays
    // an MQL, but neither pack's result says so now).
    call(http.put(server.url("/v1/leads/l1")).json(&json!({"title": "Intern"}))).await;
    let (_, l1) = call(http.get(server.url("/v1/leads/l1"))).await;
    assert_eq!(l1["stage"], "mql");
    let mut after = expected.clone();
    after["mql_live_only"] = json!(0);
    after["mean_score_change"] = json!(8);
    after["rules"][1] =
        json!({"rule": "Senior", "leads": 1, "mql_live_only": 0, "mql_shadow_only": 0, "route_changed": 1});
    assert_report(&http, &server, &after).await;

    // The report is stored: a restart keeps it.
    server.terminate(Duration::from_secs(20));
    let server = Server::start_on(&live, store, &shadow_arg);
    assert_report(&http, &server, &after).await;
    // An erased lead leaves the report.
    let (status, _) = call(http.delete(server.url("/v1/leads/l3"))).await;
    assert_eq!(status, 200);
    let mut erased = after.clone();
    erased["leads"] = json!(4);
    erased["mql_shadow_only"] = json!(0);
    erased["mean_score_change"] = json!(5);
    erased["rules"][0] =
        json!({"rule": "Demo", "leads": 1, "mql_live_only": 0, "mql_shadow_only": 0, "route_changed": 1});
    assert_report(&http, &server, &erased).await;
    drop(server);

    // A shadow pack that does not load is reported and leaves the live pack serving;
    // fixed, a reload loads it.
    std::fs::write(
        candidate.join("main.rules"),
        "threshold 30\nrule \"Broken\": title ~ => +5\n",
    )
    .unwrap();
    let server = Server::start_on(&live, store, &shadow_arg);
    assert!(server.log().contains("the shadow pack"), "{}", server.log());
    let (status, missing) = call(http.get(server.url("/v1/shadow"))).await;
    assert_eq!(
        (status, missing["kind"].as_str()),
        (503, Some("shadow_not_loaded")),
        "{missing}"
    );
    let (status, written) = call(http.put(server.url("/v1/leads/l6")).json(&json!({"title": "VP"}))).await;
    assert_eq!((status, &written["result"]["score"]), (200, &json!(20)), "{written}");
    let (_, l6) = call(http.get(server.url("/v1/leads/l6"))).await;
    assert!(l6["shadow"].is_null(), "{l6}");
    std::fs::write(candidate.join("main.rules"), CANDIDATE).unwrap();
    let (status, loaded) = call(http.post(server.url("/v1/shadow/reload"))).await;
    assert_eq!((status, loaded["outcome"].as_str()), (200, Some("loaded")), "{loaded}");
    call(http.patch(server.url("/v1/leads/l6")).json(&json!({"region": "NY"}))).await;
    let (_, l6) = call(http.get(server.url("/v1/leads/l6"))).await;
    assert_eq!(l6["shadow"]["result"]["score"], json!(10), "{l6}");
}

/// `GET /v1/shadow` equals `expected` in every figure it names.
async fn assert_report(http: &reqwest::Client, server: &Server, expected: &Value) {
    let (status, report) = call(http.get(server.url("/v1/shadow"))).await;
    assert_eq!(status, 200, "{report}");
    assert!(report["pack"].as_str().unwrap().starts_with("candidate@"), "{report}");
    for (key, value) in expected.as_object().unwrap() {
        assert_eq!(&report[key], value, "`{key}` in {report}");
    }
}
