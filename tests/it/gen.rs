//! `leadscore gen` and the library's `Generator`: deterministic, realistic, exact counts.

use std::process::Command;

use leadscore::gen::{Generator, DEFAULT_AS_OF_MILLIS};

fn gen(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_leadscore"))
        .arg("gen")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn same_seed_same_leads_other_seed_other_leads() {
    let a = gen(&["--leads", "40", "--seed", "9"]);
    let b = gen(&["--leads", "40", "--seed", "9"]);
    let c = gen(&["--leads", "40", "--seed", "10"]);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    assert_ne!(a.stdout, c.stdout);
}

#[test]
fn jsonl_has_the_leads_and_exactly_the_events_asked_for() {
    let out = gen(&["--leads", "25", "--events-per-lead", "7"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let leads: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(leads.len(), 25);
    assert_eq!(leads[0]["id"], "L-000001");
    assert!(leads.iter().all(|l| l["events"].as_array().unwrap().len() == 7));
    let default = gen(&["--leads", "3"]);
    let first: serde_json::Value =
        serde_json::from_slice(default.stdout.split(|&b| b == b'\n').next().unwrap()).unwrap();
    assert_eq!(first["events"].as_array().unwrap().len(), 20);
}

#[test]
fn generated_leads_score_with_the_example_pack() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leads.jsonl");
    std::fs::write(&file, gen(&["--leads", "300"]).stdout).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_leadscore"))
        .args(["score", "--pack", "rules/b2b-saas", "--as-of", "2026-03-01T00:00:00Z"])
        .arg(&file)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 300);
}

#[test]
fn csv_is_a_flat_export_with_a_header() {
    let out = gen(&["--leads", "5", "--format", "csv"]);
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header, leadscore::gen::CSV_HEADER);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 5);
    assert_eq!(&rows[4][0], "L-000005");
    assert_eq!(rows[0].len(), header.len());
}

#[test]
fn leads_look_like_a_real_funnel() {
    let leads: Vec<_> = Generator::new(1).take(2000).collect();
    let emails = |suffix: &str| leads.iter().filter(|l| l.email.ends_with(suffix)).count();
    assert!(
        emails(".edu") > 20 && emails("@gmail.com") > 20,
        "free-mail and .edu addresses"
    );
    assert!(leads.iter().any(|l| l.title.starts_with("VP")) && leads.iter().any(|l| l.title == "Student"));
    assert!(["NY", "MA", "CA"].iter().all(|r| leads.iter().any(|l| l.region == *r)));
    let events: Vec<_> = leads.iter().flat_map(|l| &l.events).collect();
    let with = |pred: &dyn Fn(&leadscore::gen::SyntheticEvent) -> bool| events.iter().filter(|e| pred(e)).count();
    assert!(with(&|e| e.path.as_deref().is_some_and(|p| p.starts_with("/pricing"))) > 100);
    assert!(with(&|e| e.path.as_deref().is_some_and(|p| p.starts_with("/blog/"))) > 100);
    assert!(with(&|e| e.path.as_deref().is_some_and(|p| p.starts_with("/careers"))) > 10);
    assert!(with(&|e| e.form == Some("demo-request")) > 10);
    assert!(with(&|e| e.asset.is_some_and(|a| a.to_lowercase().starts_with("case-study"))) > 10);
    assert!(with(&|e| e.kind == "email_open") > 100 && with(&|e| e.kind == "webinar") > 10);
    assert!(with(&|e| e.kind == "video_play" && e.percent.is_some() && e.video.is_some()) > 10);
    // Times: within the 120 days before as_of, and spread over them.
    let times: Vec<i64> = events
        .iter()
        .map(|e| leadscore::parse_time(&e.at).unwrap().timestamp_millis())
        .collect();
    let day = 86_400_000;
    assert!(times
        .iter()
        .all(|&t| t <= DEFAULT_AS_OF_MILLIS && t >= DEFAULT_AS_OF_MILLIS - 120 * day));
    assert!(
        times.iter().any(|&t| t < DEFAULT_AS_OF_MILLIS - 100 * day)
            && times.iter().any(|&t| t > DEFAULT_AS_OF_MILLIS - day)
    );
}
