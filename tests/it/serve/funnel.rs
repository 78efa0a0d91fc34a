//! `GET /v1/funnel` and `leadscore funnel` through the binary: a known history (hand-offs
//! on two routes with SLAs, accepts, rejects with reasons, recycles, won and lost deals,
//! breaches) on both backends, every figure checked against values this test computes
//! on its own from what it did and the times the service recorded.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::cluster::Cluster;
use super::*;

/// Two routes with SLAs: `east` short enough to breach in the test, `west` an hour.
const FUNNEL_PACK: &str = r#"threshold 30
rule "Senior":  title ~ VP                 => +20
rule "Pricing": visited /pricing within 7d => +15
rule "Demo":    visited /demo within 7d    => +40
route "east" when region in ["NY", "NJ"] sla 3s
route "west" sla 1h
"#;

/// A lead the test hands off: its fields, the page that makes it an MQL, the rules that
/// fire then, and what sales do, in order (stage, reason).
struct Plan {
    id: &'static str,
    region: &'static str,
    source: &'static str,
    page: &'static str,
    rules: &'static [&'static str],
    early: &'static [(&'static str, Option<&'static str>)],
    late: &'static [(&'static str, Option<&'static str>)],
}

const SENIOR_PRICING: &[&str] = &["Senior", "Pricing"];
const SENIOR_DEMO: &[&str] = &["Senior", "Demo"];

/// `early` actions come right after the hand-offs, `late` ones after the east SLA passed.
const PLANS: &[Plan] = &[
    Plan {
        id: "e1",
        region: "NY",
        source: "ads",
        page: "/pricing",
        rules: SENIOR_PRICING,
        early: &[("accepted", None), ("won", None)],
        late: &[],
    },
    Plan {
        id: "e2",
        region: "NJ",
        source: "ads",
        page: "/pricing",
        rules: SENIOR_PRICING,
        early: &[("rejected", Some("no budget"))],
        late: &[],
    },
    Plan {
        id: "e3",
        region: "NY",
        source: "event",
        page: "/demo",
        rules: SENIOR_DEMO,
        early: &[],
        late: &[],
    },
    Plan {
        id: "e4",
        region: "NJ",
        source: "event",
        page: "/demo",
        rules: SENIOR_DEMO,
        early: &[],
        late: &[("accepted", None), ("lost", Some("went with a competitor"))],
    },
    Plan {
        id: "e5",
        region: "NY",
        source: "ads",
        page: "/pricing",
        rules: SENIOR_PRICING,
        early: &[],
        late: &[("rejected", None)],
    },
    Plan {
        id: "w1",
        region: "CA",
        source: "ads",
        page: "/pricing",
        rules: SENIOR_PRICING,
        early: &[("recycled", None), ("accepted", None)],
        late: &[("won", None)],
    },
    Plan {
        id: "w2",
        region: "TX",
        source: "event",
        page: "/demo",
        rules: SENIOR_DEMO,
        early: &[("rejected", Some("no budget"))],
        late: &[],
    },
    Plan {
        id: "w3",
        region: "WA",
        source: "web",
        page: "/demo",
        rules: SENIOR_DEMO,
        early: &[("accepted", None)],
        late: &[("rejected", Some("wrong country"))],
    },
    Plan {
        id: "w4",
        region: "OR",
        source: "web",
        page: "/pricing",
        rules: SENIOR_PRICING,
        early: &[],
        late: &[],
    },
];

fn ms(text: &str) -> i64 {
    leadscore::parse_time(text).unwrap().timestamp_millis()
}

fn rfc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn stage(http: &reqwest::Client, server: &Server, id: &str, to: &str, reason: Option<&str>) {
    let mut body = json!({"stage": to});
    if let Some(r) = reason {
        body["reason"] = json!(r);
    }
    let (status, out) = call(http.post(server.url(&format!("/v1/leads/{id}/stage"))).json(&body)).await;
    assert_eq!((status, out["stage"].as_str()), (200, Some(to)), "{id} → {to}: {out}");
}

/// The history the test makes: every planned hand-off and action, a lead accepted with
/// no hand-off (outside the funnel), and the east SLA passing for e3, e4 and e5.
async fn make_history(http: &reqwest::Client, server: &Server) {
    for p in PLANS {
        let lead = json!({"title": "VP", "region": p.region, "source": p.source});
        call(http.put(server.url(&format!("/v1/leads/{}", p.id))).json(&lead)).await;
        let event = json!({"type": "page_view", "path": p.page});
        let (_, out) = call(
            http.post(server.url(&format!("/v1/leads/{}/events", p.id)))
                .json(&event),
        )
        .await;
        assert_eq!(out["stage"], "mql", "{}: {out}", p.id);
    }
    call(
        http.put(server.url("/v1/leads/direct"))
            .json(&json!({"title": "Intern"})),
    )
    .await;
    stage(http, server, "direct", "accepted", None).await;
    for p in PLANS {
        for (to, reason) in p.early {
            stage(http, server, p.id, to, *reason).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(3300)).await;
    for p in PLANS {
        for (to, reason) in p.late {
            stage(http, server, p.id, to, *reason).await;
        }
    }
}

/// A hand-off as this test sees it: the plan, and the times the service recorded.
struct Seen {
    plan: &'static Plan,
    route: String,
    mql_at: i64,
    sla_due: i64,
    /// (stage, when sales acted, reason as sent).
    actions: Vec<(&'static str, i64, Option<&'static str>)>,
}

/// Each hand-off with its times, from the outbox; checks the outbox holds what the test did.
fn seen(transitions: &[Value]) -> Vec<Seen> {
    let mut out: Vec<Seen> = Vec::new();
    for t in transitions {
        let lead = t["lead"].as_str().unwrap();
        let Some(plan) = PLANS.iter().find(|p| p.id == lead) else {
            continue;
        };
        match t["kind"].as_str().unwrap() {
            "mql" => out.push(Seen {
                plan,
                route: t["route"].as_str().unwrap().to_string(),
                mql_at: ms(t["at"].as_str().unwrap()),
                sla_due: ms(t["sla_due"].as_str().unwrap()),
                actions: Vec::new(),
            }),
            "sla_breached" => {}
            kind => {
                let s = out.iter_mut().find(|s| s.plan.id == lead).unwrap();
                let planned = plan.early.iter().chain(plan.late).nth(s.actions.len()).unwrap();
                assert_eq!(kind, planned.0, "{lead}");
                s.actions
                    .push((planned.0, ms(t["acted_at"].as_str().unwrap()), planned.1));
            }
        }
    }
    assert_eq!(out.len(), PLANS.len());
    out
}

fn rate(part: usize, whole: usize) -> Value {
    if whole == 0 {
        return Value::Null;
    }
    json!((part as f64 / whole as f64 * 10_000.0).round() / 10_000.0)
}

fn two_decimals(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The funnel's figures over `hs`, judged at `now`, computed here from the definitions.
fn expected(hs: &[&Seen], now: i64) -> Value {
    let reached = |h: &Seen, stage: &str| h.actions.iter().any(|a| a.0 == stage);
    let count = |stage: &str| hs.iter().filter(|h| reached(h, stage)).count();
    let decided: Vec<&&Seen> = hs.iter().filter(|h| !h.actions.is_empty()).collect();
    let accepted = count("accepted");
    let mut minutes: Vec<f64> = decided
        .iter()
        .map(|h| (h.actions[0].1 - h.mql_at).max(0) as f64 / 60_000.0)
        .collect();
    minutes.sort_by(f64::total_cmp);
    let (median, p90) = match minutes.len() {
        0 => (Value::Null, Value::Null),
        n => {
            let median = if n % 2 == 1 {
                minutes[n / 2]
            } else {
                (minutes[n / 2 - 1] + minutes[n / 2]) / 2.0
            };
            let rank = ((n as f64) * 0.9).ceil() as usize;
            (json!(two_decimals(median)), json!(two_decimals(minutes[rank - 1])))
        }
    };
    let met = hs
        .iter()
        .filter(|h| h.actions.first().is_some_and(|a| a.1 < h.sla_due))
        .count();
    let counted = hs.iter().filter(|h| !h.actions.is_empty() || now >= h.sla_due).count();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for h in hs.iter().filter(|h| reached(h, "rejected")) {
        let last = h.actions.iter().rev().find(|a| a.0 == "rejected").unwrap();
        *reasons
            .entry(last.2.unwrap_or("(no reason given)").to_string())
            .or_default() += 1;
    }
    let mut rules: Vec<Value> = ["Senior", "Pricing", "Demo"]
        .iter()
        .map(|rule| {
            let mine: Vec<&&Seen> = hs.iter().filter(|h| h.plan.rules.contains(rule)).collect();
            let acc = mine.iter().filter(|h| reached(h, "accepted")).count();
            let rej = mine.iter().filter(|h| reached(h, "rejected")).count();
            let dec = mine.iter().filter(|h| !h.actions.is_empty()).count();
            json!({"rule": rule, "mqls": mine.len(), "accepted": acc, "rejected": rej, "acceptance_rate": rate(acc, dec)})
        })
        .filter(|r| r["mqls"] != 0)
        .collect();
    rules.sort_by(|a, b| {
        b["mqls"]
            .as_u64()
            .cmp(&a["mqls"].as_u64())
            .then(a["rule"].as_str().cmp(&b["rule"].as_str()))
    });
    json!({
        "mqls": hs.len(),
        "accepted": accepted,
        "rejected": count("rejected"),
        "recycled": count("recycled"),
        "won": count("won"),
        "lost": count("lost"),
        "open": hs.len() - decided.len(),
        "decided": decided.len(),
        "sla_breached": counted - met,
        "acceptance_rate": rate(accepted, decided.len()),
        "conversion_rate": rate(count("won"), hs.len()),
        "minutes_to_first_action": {"median": median, "p90": p90},
        "sla_met_rate": rate(met, counted),
        "rejection_reasons": reasons,
        "rules": rules,
    })
}

fn assert_figures(got: &Value, want: &Value, what: &str) {
    for (key, value) in want.as_object().unwrap() {
        assert_eq!(&got[key], value, "{what}: `{key}` in {got:#}");
    }
}

/// The whole case on the storage `store` names; the server is stopped at the end and
/// the report of the whole range returned (with its query string).
async fn funnel_case(dir: &Path, store: &[&str]) -> (Value, String) {
    let pack = pack_dir(dir, FUNNEL_PACK);
    let mut server = Server::start_on(&pack, store, &[]);
    let http = client();
    let start = chrono::Utc::now().timestamp_millis() - 1_000;
    make_history(&http, &server).await;
    let hs = seen(&all_transitions(&http, &server).await);
    let end = chrono::Utc::now().timestamp_millis() + 60_000;
    let range = format!("from={}&to={}", rfc(start), rfc(end));

    let (status, report) = call(http.get(server.url(&format!("/v1/funnel?{range}&by=route&every=day")))).await;
    assert_eq!(status, 200, "{report}");
    let now = ms(report["as_of"].as_str().unwrap());
    let all: Vec<&Seen> = hs.iter().collect();
    let want = expected(&all, now);
    assert_figures(&report, &want, "all");
    // The history has what the figures should show, whatever the machine's speed.
    assert_eq!(
        (want["mqls"].as_u64(), want["won"].as_u64(), want["lost"].as_u64()),
        (Some(9), Some(2), Some(1))
    );
    assert!(
        want["sla_breached"].as_u64().unwrap() >= 3,
        "e3, e4 and e5 breach: {want}"
    );
    assert_eq!(
        report["rejection_reasons"],
        json!({"(no reason given)": 1, "no budget": 2, "wrong country": 1})
    );

    // Per route, the most MQLs first.
    let groups = report["groups"].as_array().unwrap();
    assert_eq!(
        groups.iter().map(|g| g["key"].clone()).collect::<Vec<_>>(),
        [json!("east"), json!("west")]
    );
    for g in groups {
        let route = g["key"].as_str().unwrap();
        let mine: Vec<&Seen> = hs.iter().filter(|h| h.route == route).collect();
        assert_figures(g, &expected(&mine, now), route);
    }

    // Per period: each day's hand-offs.
    let series = report["series"].as_array().unwrap();
    assert!(!series.is_empty());
    for p in series {
        let (from, to) = (ms(p["from"].as_str().unwrap()), ms(p["to"].as_str().unwrap()));
        let mine: Vec<&Seen> = hs.iter().filter(|h| (from..to).contains(&h.mql_at)).collect();
        assert_figures(p, &expected(&mine, now), p["from"].as_str().unwrap());
    }
    assert_eq!(series.iter().map(|p| p["mqls"].as_u64().unwrap()).sum::<u64>(), 9);

    // By a lead field: "MQL volume per channel".
    let (_, by_source) = call(http.get(server.url(&format!("/v1/funnel?{range}&by=source")))).await;
    let keys: Vec<Value> = by_source["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].clone())
        .collect();
    assert_eq!(keys, [json!("ads"), json!("event"), json!("web")]);
    for g in by_source["groups"].as_array().unwrap() {
        let source = g["key"].as_str().unwrap();
        let mine: Vec<&Seen> = hs.iter().filter(|h| h.plan.source == source).collect();
        assert_figures(g, &expected(&mine, ms(by_source["as_of"].as_str().unwrap())), source);
    }

    // A range holds the hand-offs made in it: none before the first.
    let first = hs.iter().map(|h| h.mql_at).min().unwrap();
    let (_, before) =
        call(http.get(server.url(&format!("/v1/funnel?from={}&to={}", rfc(first - 60_000), rfc(first))))).await;
    assert_eq!(
        (before["mqls"].as_u64(), &before["acceptance_rate"]),
        (Some(0), &Value::Null)
    );
    let (_, from_first) =
        call(http.get(server.url(&format!("/v1/funnel?from={}&to={}", rfc(first + 1), rfc(end))))).await;
    let later: Vec<&Seen> = hs.iter().filter(|h| h.mql_at > first).collect();
    assert_figures(
        &from_first,
        &expected(&later, ms(from_first["as_of"].as_str().unwrap())),
        "after the first",
    );

    // Bad queries are refused by name.
    for (query, says) in [
        ("from=yesterday", "`from`"),
        ("every=year", "`every`"),
        (&*format!("from={}&to={}", rfc(end), rfc(start)), "before `to`"),
        ("from=2000-01-01T00:00:00Z&every=day", "periods"),
    ] {
        let (status, out) = call(http.get(server.url(&format!("/v1/funnel?{query}")))).await;
        assert_eq!(status, 400, "{query}: {out}");
        assert!(out["error"].as_str().unwrap().contains(says), "{query}: {out}");
    }

    // The headline figures per route are gauges on /metrics.
    let (_, text) = call(http.get(server.url("/metrics"))).await;
    let text = text.as_str().unwrap();
    for g in groups {
        let route = g["key"].as_str().unwrap();
        for (name, figure) in [
            ("mqls", "mqls"),
            ("won", "won"),
            ("open", "open"),
            ("sla_breached", "sla_breached"),
            ("acceptance_rate", "acceptance_rate"),
        ] {
            let line = format!("leadscore_funnel_{name}{{route=\"{route}\"}} {}", g[figure]);
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }

    // The command line asks the service the same question.
    let args = [
        "--from",
        &rfc(start),
        "--to",
        &rfc(end),
        "--by",
        "route",
        "--every",
        "day",
    ];
    let out = Command::new(BIN)
        .args(["funnel", "--url", &server.base, "--json"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut answered: Value = serde_json::from_slice(&out.stdout).unwrap();
    answered["as_of"] = report["as_of"].clone();
    assert_figures(&answered, &want, "leadscore funnel --json");
    let out = Command::new(BIN)
        .args(["funnel", "--url", &server.base])
        .args(args)
        .output()
        .unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    for shown in ["route ", "east ", "west ", "no budget ", "Senior ", "Per day"] {
        assert!(table.contains(shown), "{shown:?} in\n{table}");
    }

    // A value from a lead is escaped in the table: a field that would retitle the terminal.
    let lead = json!({"title": "VP", "region": "CA", "source": "x\u{1b}]0;pwned\u{7}"});
    call(http.put(server.url("/v1/leads/odd")).json(&lead)).await;
    call(
        http.post(server.url("/v1/leads/odd/events"))
            .json(&json!({"type": "page_view", "path": "/demo"})),
    )
    .await;
    let out = Command::new(BIN)
        .args(["funnel", "--url", &server.base, "--by", "source"])
        .output()
        .unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains(r"x\u{1b}]0;pwned\u{7}") && !table.contains('\u{1b}'),
        "{table}"
    );

    let (_, report) = call(http.get(server.url(&format!("/v1/funnel?{range}")))).await;
    assert_eq!(server.terminate(Duration::from_secs(20)).code(), Some(0));
    (report, range)
}

/// The sales queue: open hand-offs by route, read from the store itself.
async fn assert_open_handoffs(location: leadscore_service::storage::Location) {
    let store = leadscore_service::storage::Storage::open(&location).await.unwrap();
    let read = store.read().await.unwrap();
    let leads = |list: Vec<leadscore_service::model::HandOff>| list.into_iter().map(|h| h.lead).collect::<Vec<_>>();
    assert_eq!(leads(read.open_handoffs("east", 10).await.unwrap()), ["e3"]);
    // w4, then `odd` (handed off later, so due later).
    assert_eq!(leads(read.open_handoffs("west", 10).await.unwrap()), ["w4", "odd"]);
    assert_eq!(leads(read.open_handoffs("west", 1).await.unwrap()), ["w4"]);
    assert!(read.open_handoffs("", 10).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_funnel_counts_a_known_history_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (report, range) = funnel_case(dir.path(), &["--data", data.to_str().unwrap()]).await;
    // A stopped service's folder answers the same.
    let mut args = vec![
        "funnel".to_string(),
        "--data".into(),
        data.display().to_string(),
        "--json".into(),
    ];
    for pair in range.split('&') {
        let (name, value) = pair.split_once('=').unwrap();
        args.extend([format!("--{name}"), value.to_string()]);
    }
    let out = Command::new(BIN).args(&args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut offline: Value = serde_json::from_slice(&out.stdout).unwrap();
    offline["as_of"] = report["as_of"].clone();
    assert_eq!(offline, report);
    assert_open_handoffs(leadscore_service::storage::Location::Folder(data)).await;
    // A folder without a database is an error, not a new one.
    let out = Command::new(BIN)
        .args(["funnel", "--data"])
        .arg(dir.path().join("none"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no leadscore database"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_funnel_counts_a_known_history_on_postgres() {
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let url = cluster.create_db("funnel");
    let (report, range) = funnel_case(dir.path(), &["--database-url", &url]).await;
    assert_open_handoffs(leadscore_service::storage::Location::Postgres(url.clone())).await;

    // A database from before the index: the hand-offs are rebuilt from the outbox at
    // start (without their rules, which the outbox does not record).
    cluster.psql(
        "funnel",
        "DROP TABLE leadscore.handoffs, leadscore.target_states, leadscore.alerts, leadscore.rule_fires, leadscore.results_scored;
         DELETE FROM leadscore.counters WHERE name = 'alert';
         ALTER TABLE leadscore.leads DROP COLUMN stamp, DROP COLUMN born;
         DROP SEQUENCE leadscore.lead_stamps;
         DELETE FROM leadscore.migrations WHERE version >= 4",
    );
    let pack = pack_dir(dir.path(), FUNNEL_PACK);
    let server = Server::start_on(&pack, &["--database-url", &url], &[]);
    let (_, rebuilt) = call(client().get(server.url(&format!("/v1/funnel?{range}")))).await;
    let mut want = report.clone();
    want["as_of"] = rebuilt["as_of"].clone();
    want["rules"] = json!([]);
    assert_eq!(rebuilt, want);
}

/// The speed figure of BENCHMARKS.md (issue 27), measured, not asserted: 100,000
/// hand-offs in a data folder, then side by side in one run: `GET /v1/funnel` through the
/// binary (reading the hand-off index), and in this process a scan of 100,000 lead
/// records (what a report without the index would read first, before any figure).
/// `cargo test --all-features --test it serve::funnel::speed -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run it by name (see BENCHMARKS.md)"]
async fn speed_of_the_funnel_over_100_000_hand_offs() {
    use leadscore_service::lifecycle::Stage;
    use leadscore_service::model::{HandOff, LeadRecord};
    use leadscore_service::storage::{Location, Storage};
    const N: i64 = 100_000;
    const T0: i64 = 1_767_225_600_000; // 2026-01-01
    let dir = tempfile::tempdir().unwrap();
    let (index, scan) = (dir.path().join("index"), dir.path().join("scan"));
    let handoff = |i: i64| {
        let mut h = HandOff {
            lead: format!("lead-{i:06}"),
            mql_at: T0 + i * 25_000,
            route: Some(["east", "west", "sdr"][(i % 3) as usize].into()),
            sla_due: Some(T0 + i * 25_000 + 7_200_000),
            rules: vec!["Senior".into(), ["Pricing", "Demo"][(i % 2) as usize].into()],
            first_action: None,
            reached: Vec::new(),
            rejection_reason: None,
        };
        match i % 5 {
            0 | 1 => h.act(Stage::Accepted, h.mql_at + i % 7_200_000, None),
            2 => h.act(Stage::Rejected, h.mql_at + 600_000, Some("no budget")),
            3 => h.act(Stage::Recycled, h.mql_at + 9_000_000, None),
            _ => {}
        }
        if i % 10 == 0 {
            h.act(Stage::Won, h.mql_at + 86_400_000, None);
        }
        h
    };
    let store = Storage::open(&Location::Folder(index.clone())).await.unwrap();
    for chunk in 0..N / 5_000 {
        store
            .write(|t| (chunk * 5_000..(chunk + 1) * 5_000).try_for_each(|i| t.put_handoff(&handoff(i))))
            .unwrap();
    }
    drop(store);
    let store = Storage::open(&Location::Folder(scan.clone())).await.unwrap();
    for chunk in 0..N / 5_000 {
        store
            .write(|t| {
                (chunk * 5_000..(chunk + 1) * 5_000).try_for_each(|i| {
                    let mut record = LeadRecord::new(T0);
                    record.fields.insert("title".into(), json!("VP Sales"));
                    record.fields.insert("source".into(), json!("ads"));
                    record.handoff = Some(T0 + i * 25_000);
                    t.put_lead(&format!("lead-{i:06}"), &record, None)
                })
            })
            .unwrap();
    }

    let pack = pack_dir(dir.path(), FUNNEL_PACK);
    let server = Server::start(&pack, &index, &[]);
    let http = client();
    let query = format!("/v1/funnel?from={}&to={}", rfc(T0), rfc(T0 + N * 25_000));
    let (status, report) = call(http.get(server.url(&query))).await;
    assert_eq!((status, report["mqls"].as_i64()), (200, Some(N)), "{report}");
    let mut funnel = Vec::new();
    let mut scanned = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let (status, _) = call(http.get(server.url(&query))).await;
        assert_eq!(status, 200);
        funnel.push(started.elapsed());
        let started = Instant::now();
        let read = store.read().await.unwrap();
        let (mut after, mut n) = (None, 0);
        loop {
            let ids = read.lead_ids(after.as_deref(), 1_000).await.unwrap();
            let Some(last) = ids.last().cloned() else { break };
            for id in &ids {
                n += usize::from(read.lead(id).await.unwrap().is_some_and(|r| r.handoff.is_some()));
            }
            after = Some(last);
        }
        assert_eq!(n as i64, N);
        scanned.push(started.elapsed());
    }
    let (funnel, scanned) = (funnel.iter().min().unwrap(), scanned.iter().min().unwrap());
    println!(
        "GET /v1/funnel over {N} hand-offs: {funnel:?} (fastest of 5); a scan of {N} lead records alone: {scanned:?}; ratio {:.1}x",
        scanned.as_secs_f64() / funnel.as_secs_f64()
    );
}
