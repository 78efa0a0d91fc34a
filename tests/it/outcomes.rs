//! `backtest`, `fit`, `diff` and `gen --outcomes` through the real binary.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

use crate::cli::{leadscore, leadscore_in, Run};

const TINY: &str = "tests/data/outcomes/tiny";
const TINY_LEADS: &str = "tests/data/outcomes/tiny.jsonl";
const AS_OF: &str = "2026-03-01T00:00:00Z";

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr))
}

fn close(v: &Value, x: f64) -> bool {
    v.as_f64().is_some_and(|v| (v - x).abs() < 1e-9)
}

/// Generated leads with outcomes, written once per test run.
struct Generated {
    _dir: tempfile::TempDir,
    leads: PathBuf,
}

fn generated() -> &'static Generated {
    static DATA: OnceLock<Generated> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let run = leadscore(&["gen", "--leads", "6000", "--seed", "3", "--outcomes"], "");
        assert_eq!(run.code, 0, "{}", run.stderr);
        let leads = dir.path().join("leads.jsonl");
        std::fs::write(&leads, run.stdout).unwrap();
        Generated { _dir: dir, leads }
    })
}

fn leads() -> &'static str {
    generated().leads.to_str().unwrap()
}

// ---- backtest ----

#[test]
fn backtest_json_has_the_contract_and_the_hand_computed_numbers() {
    let run = leadscore(
        &[
            "backtest",
            "--pack",
            TINY,
            "--outcome",
            "won",
            "--as-of",
            AS_OF,
            "--bands",
            "3",
            "--by",
            "source",
            "--max-f1",
            "--json",
            TINY_LEADS,
        ],
        "",
    );
    assert_eq!(run.code, 1, "a lead failed, so the exit code is 1: {}", run.stderr);
    assert!(
        run.stderr.contains(r#""line":11"#),
        "the failed lead is reported as score reports it: {}",
        run.stderr
    );
    let r = json(&run);
    for key in [
        "leads",
        "labelled",
        "unlabelled",
        "failed",
        "positives",
        "base_rate",
        "auc",
        "mql",
        "not_mql",
        "disqualified",
        "bands",
        "thresholds",
        "recommended",
        "rules",
        "by",
    ] {
        assert!(r.get(key).is_some(), "missing {key}");
    }
    assert_eq!((r["leads"].as_u64(), r["labelled"].as_u64()), (Some(11), Some(9)));
    assert_eq!((r["unlabelled"].as_u64(), r["failed"].as_u64()), (Some(1), Some(1)));
    assert!(close(&r["auc"], 0.775));
    assert!(close(&r["mql"]["precision"], 2.0 / 3.0) && close(&r["mql"]["lift"], 1.5));
    assert!(close(&r["not_mql"]["rate"], 1.0 / 3.0));
    assert_eq!(r["disqualified"][0]["reason"], "student");
    assert_eq!(r["disqualified"][0]["above_base_rate"], true);
    assert_eq!(r["bands"].as_array().unwrap().len(), 3);
    assert!(close(&r["bands"][1]["cumulative_recall"], 0.75));
    let thresholds: Vec<f64> = r["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["threshold"].as_f64().unwrap())
        .collect();
    assert_eq!(thresholds, [0.0, 10.0, 20.0, 30.0]);
    assert!(close(&r["thresholds"][1]["f1"], 0.6));
    assert!(close(&r["recommended"]["threshold"], 10.0));
    // The ROC curve's area (trapezoids) is the AUC; gains run from (0, 0) to (1, 1).
    let curve = |name: &str| -> Vec<(f64, f64)> {
        r[name]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["x"].as_f64().unwrap(), p["y"].as_f64().unwrap()))
            .collect()
    };
    let roc = curve("roc");
    let area: f64 = roc
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
        .sum();
    assert!((area - 0.775).abs() < 1e-9, "{roc:?}");
    let gains = curve("gains");
    assert_eq!((gains[0], gains[gains.len() - 1]), ((0.0, 0.0), (1.0, 1.0)));
    // The lift's interval: the Wilson interval of 3 converted of 4 over the base rate 4/9.
    let big = &r["rules"][1];
    let (p, n, z): (f64, f64, f64) = (0.75, 4.0, 1.959_964);
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let spread = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / (1.0 + z * z / n);
    assert!(
        (big["lift_low"].as_f64().unwrap() - (centre - spread) * 9.0 / 4.0).abs() < 1e-9,
        "{big}"
    );
    assert!(
        (big["lift_high"].as_f64().unwrap() - (centre + spread) * 9.0 / 4.0).abs() < 1e-9,
        "{big}"
    );
    for key in [
        "rule",
        "location",
        "points",
        "fired",
        "positives",
        "rate_fired",
        "rate_not_fired",
        "lift",
        "contradicts",
    ] {
        assert!(r["rules"][0].get(key).is_some(), "rules lack {key}");
    }
    assert_eq!(r["rules"][1]["location"], "main.rules:5");
    assert_eq!(r["by"][0]["value"], "web");
    assert!(close(&r["by"][0]["recall"], 2.0 / 3.0));
}

#[test]
fn backtest_report_for_people() {
    let run = leadscore(
        &[
            "backtest",
            "--pack",
            TINY,
            "--outcome",
            "won",
            "--as-of",
            AS_OF,
            "--bands",
            "3",
            "--by",
            "source",
            TINY_LEADS,
        ],
        "",
    );
    assert_eq!(run.code, 1);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn min_precision_picks_the_lowest_threshold_reaching_it() {
    let recommended = |p: &str| {
        let run = leadscore(
            &[
                "backtest",
                "--pack",
                TINY,
                "--outcome",
                "won",
                "--as-of",
                AS_OF,
                "--min-precision",
                p,
                "--json",
                TINY_LEADS,
            ],
            "",
        );
        json(&run)["recommended"].clone()
    };
    assert!(close(&recommended("0.6")["threshold"], 20.0));
    assert!(close(&recommended("0.9")["threshold"], 30.0));
    assert_eq!(recommended("1")["threshold"], 30.0);
    let bad = leadscore(
        &[
            "backtest",
            "--pack",
            TINY,
            "--outcome",
            "won",
            "--min-precision",
            "2",
            TINY_LEADS,
        ],
        "",
    );
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("is not a precision"), "{}", bad.stderr);
}

#[test]
fn positive_and_negative_values_can_be_named() {
    let run = leadscore(
        &[
            "backtest",
            "--pack",
            TINY,
            "--outcome",
            "won",
            "--as-of",
            AS_OF,
            "--positive",
            "yes,open",
            "--negative",
            "NO",
            "--json",
            TINY_LEADS,
        ],
        "",
    );
    let r = json(&run);
    assert_eq!((r["labelled"].as_u64(), r["positives"].as_u64()), (Some(10), Some(5)));
    let both = leadscore(
        &[
            "backtest",
            "--pack",
            TINY,
            "--outcome",
            "won",
            "--positive",
            "yes",
            "--negative",
            "Yes",
            TINY_LEADS,
        ],
        "",
    );
    assert_eq!(both.code, 2);
}

#[test]
fn csv_input_with_a_delimiter_and_an_id_field() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("tiny.csv");
    let mut text = String::from("lead;title;size;email;source;won\n");
    for line in std::fs::read_to_string(TINY_LEADS).unwrap().lines() {
        let Ok(lead) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let cell = |k: &str| match &lead[k] {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        text.push_str(&["id", "title", "size", "email", "source", "won"].map(cell).join(";"));
        text.push('\n');
    }
    std::fs::write(&csv, text).unwrap();
    let run = leadscore(
        &[
            "backtest",
            "--pack",
            TINY,
            "--outcome",
            "won",
            "--as-of",
            AS_OF,
            "--delimiter",
            ";",
            "--id-field",
            "lead",
            "--json",
            csv.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = json(&run);
    assert_eq!((r["leads"].as_u64(), r["labelled"].as_u64()), (Some(10), Some(9)));
    assert!(close(&r["auc"], 0.775));
    // The same leads as one JSON array.
    let array = dir.path().join("tiny.json");
    let leads: Vec<Value> = std::fs::read_to_string(TINY_LEADS)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    std::fs::write(&array, serde_json::to_string(&leads).unwrap()).unwrap();
    let run = leadscore(
        &[
            "backtest",
            "--pack",
            TINY,
            "--outcome",
            "won",
            "--as-of",
            AS_OF,
            "--json",
            array.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(close(&json(&run)["auc"], 0.775));
}

/// A pack and leads where one event happens after the lead was handed to sales.
fn leak_case() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("pack");
    std::fs::create_dir(&pack).unwrap();
    std::fs::write(
        pack.join("main.rules"),
        "threshold 10\nrule \"Pricing\": visited /pricing => +10\n",
    )
    .unwrap();
    let leads = dir.path().join("leads.jsonl");
    let lead = |id: u32, handed: &str, at: &str, won: bool| {
        format!(
            r#"{{"id": {id}, "handed_at": "{handed}", "won": {won}, "events": [{{"type": "page_view", "path": "/pricing", "at": "{at}"}}]}}"#
        )
    };
    let text = [
        lead(1, "2026-02-01T00:00:00Z", "2026-02-10T00:00:00Z", true),
        lead(2, "2026-02-01T00:00:00Z", "2026-01-10T00:00:00Z", true),
        lead(3, "2026-02-01T00:00:00Z", "2026-03-10T00:00:00Z", false),
        r#"{"id": 4, "won": false}"#.to_string(),
    ]
    .join("\n");
    std::fs::write(&leads, text).unwrap();
    (dir, pack.display().to_string(), leads.display().to_string())
}

#[test]
fn as_of_field_keeps_later_events_out() {
    let (_dir, pack, leads) = leak_case();
    let fixed = leadscore(
        &[
            "backtest",
            "--pack",
            &pack,
            "--outcome",
            "won",
            "--as-of",
            "2026-04-01T00:00:00Z",
            "--json",
            &leads,
        ],
        "",
    );
    assert_eq!(json(&fixed)["mql"]["count"], 3, "as of April every visit counts");
    let each = leadscore(
        &[
            "backtest",
            "--pack",
            &pack,
            "--outcome",
            "won",
            "--as-of-field",
            "handed_at",
            "--json",
            &leads,
        ],
        "",
    );
    assert_eq!(each.code, 1, "lead 4 has no handed_at");
    assert!(each.stderr.contains("handed_at"), "{}", each.stderr);
    let r = json(&each);
    assert_eq!(r["failed"], 1);
    assert_eq!(r["mql"]["count"], 1, "only lead 2 visited before it was handed over");
    assert_eq!(r["mql"]["positives"], 1);
}

/// A pack with a rule the planted model contradicts: careers pages lower the odds.
fn contradicted_pack() -> &'static str {
    static PACK: OnceLock<(tempfile::TempDir, String)> = OnceLock::new();
    &PACK
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let text = "# Careers visitors as buyers: the data says otherwise.\nthreshold 40\n\
                        rule \"Careers fan\": visited /careers* => +10\n\
                        rule \"Demo request\": submitted \"demo-request\" => +40\n\
                        rule \"Student\": title ~ student => -20\n";
            std::fs::write(dir.path().join("main.rules"), text).unwrap();
            let path = dir.path().display().to_string();
            (dir, path)
        })
        .1
}

#[test]
fn a_rule_that_contradicts_the_data_is_flagged() {
    let pack = contradicted_pack();
    let run = leadscore(
        &[
            "backtest",
            "--pack",
            pack,
            "--outcome",
            "converted",
            "--as-of-field",
            "judged_at",
            "--json",
            leads(),
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = json(&run);
    let rule = |name: &str| {
        r["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["rule"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(rule("Careers fan")["contradicts"], true, "{}", rule("Careers fan"));
    assert!(rule("Careers fan")["z"].as_f64().unwrap() < -1.96);
    assert_eq!(rule("Demo request")["contradicts"], false);
    assert_eq!(
        rule("Student")["contradicts"],
        false,
        "negative points, low rate: agrees"
    );
    let text = leadscore(
        &[
            "backtest",
            "--pack",
            pack,
            "--outcome",
            "converted",
            "--as-of-field",
            "judged_at",
            leads(),
        ],
        "",
    );
    let line = text
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("Careers fan"))
        .unwrap();
    assert!(line.contains("contradicts"), "{line}");
}

#[test]
fn capacity_needs_weeks_and_bounds_mqls_per_week() {
    let without = leadscore(
        &[
            "backtest",
            "--pack",
            "rules/b2b-saas",
            "--outcome",
            "converted",
            "--capacity",
            "50",
            leads(),
        ],
        "",
    );
    assert_eq!(without.code, 2);
    assert!(without.stderr.contains("--as-of-field"), "{}", without.stderr);
    let run = |n: &str| {
        json(&leadscore(
            &[
                "backtest",
                "--pack",
                "rules/b2b-saas",
                "--outcome",
                "converted",
                "--as-of-field",
                "judged_at",
                "--capacity",
                n,
                "--json",
                leads(),
            ],
            "",
        ))
    };
    let (small, large) = (run("20"), run("200"));
    let weeks = small["weeks"].as_f64().unwrap();
    assert!(weeks > 7.0 && weeks <= 8.0, "judged_at spans 8 weeks: {weeks}");
    let mqls_at = |r: &Value| {
        let t = r["recommended"]["threshold"].as_f64().unwrap();
        r["thresholds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["threshold"] == t)
            .unwrap()["mql"]
            .as_f64()
            .unwrap()
    };
    assert!(mqls_at(&small) / weeks <= 20.0);
    assert!(mqls_at(&large) / weeks <= 200.0 && mqls_at(&large) > mqls_at(&small));
    assert!(small["recommended"]["threshold"].as_f64() > large["recommended"]["threshold"].as_f64());
}

#[test]
fn by_and_bands_on_generated_leads() {
    let r = json(&leadscore(
        &[
            "backtest",
            "--pack",
            "rules/b2b-saas",
            "--outcome",
            "converted",
            "--as-of-field",
            "judged_at",
            "--bands",
            "5",
            "--by",
            "Lead Source",
            "--json",
            leads(),
        ],
        "",
    ));
    assert_eq!(r["bands"].as_array().unwrap().len(), 5);
    assert!(r["bands"].as_array().unwrap().iter().all(|b| b["count"] == 1200));
    let by = r["by"].as_array().unwrap();
    assert_eq!(by.len(), 7);
    let rate = |v: &str| {
        let row = by.iter().find(|b| b["value"] == v).unwrap();
        row["positives"].as_f64().unwrap() / row["count"].as_f64().unwrap()
    };
    assert!(
        rate("Referral") > 1.5 * rate("Google"),
        "the planted source effect shows"
    );
}

#[test]
fn html_report_is_self_contained_with_its_sections() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let run = leadscore(
        &[
            "backtest",
            "--pack",
            contradicted_pack(),
            "--outcome",
            "converted",
            "--as-of-field",
            "judged_at",
            "--html",
            page.to_str().unwrap(),
            leads(),
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for banned in ["http:", "https:", "<script", "<link", "src=", "@import", "url("] {
        assert!(
            !html.contains(banned),
            "the page references something outside itself: {banned}"
        );
    }
    for needed in [
        "id=\"distribution\"",
        "id=\"curve\"",
        "id=\"bands\"",
        "id=\"rules\"",
        "<svg",
        "class=\"positives\"",
        "class=\"negatives\"",
        "class=\"precision\"",
        "class=\"recall\"",
        "class=\"threshold current\"",
        "class=\"threshold recommended\"",
        "<tr class=\"contradicts\"><td>Careers fan",
    ] {
        assert!(html.contains(needed), "missing {needed}");
    }
    // Distribution, precision/recall, ROC, gains, MQLs by week and the rules' lift: each
    // with its numbers in a table.
    for needed in [
        "id=\"thresholds\"",
        "id=\"roc\"",
        "id=\"gains\"",
        "id=\"periods\"",
        "MQLs a week",
        "95% interval",
    ] {
        assert!(html.contains(needed), "missing {needed}");
    }
    assert_eq!(html.matches("<svg").count(), 6);
    assert_eq!(html.matches("</svg>").count(), 6);
    assert_eq!(html.matches("<svg role=\"img\" aria-label=").count(), 6);
    assert_eq!(
        html.matches("<details><summary>").count(),
        4,
        "the rules' and thresholds' tables are visible"
    );
}

/// `backtest` of b2b-saas over 300 generated leads with outcomes, by `Lead Source`: the
/// text report and the HTML page, for the snapshots.
fn small_backtest() -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let run = leadscore(&["gen", "--leads", "300", "--seed", "5", "--outcomes"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let leads = dir.path().join("leads.jsonl");
    std::fs::write(&leads, run.stdout).unwrap();
    let page = dir.path().join("report.html");
    let run = leadscore(
        &[
            "backtest",
            "--pack",
            "rules/b2b-saas",
            "--outcome",
            "converted",
            "--as-of-field",
            "judged_at",
            "--by",
            "Lead Source",
            "--bands",
            "5",
            "--html",
            page.to_str().unwrap(),
            leads.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    (run.stdout, std::fs::read_to_string(&page).unwrap())
}

#[test]
fn backtest_report_with_weeks_for_people() {
    insta::assert_snapshot!(small_backtest().0);
}

#[test]
fn backtest_html_page() {
    // One element a line, so the snapshot can be read and its changes reviewed.
    insta::assert_snapshot!(small_backtest().1.replace("><", ">\n<"));
}

// ---- fit ----

/// One `fit --suggest 3` run over the generated leads, shared by the fit tests.
struct Fitted {
    dir: tempfile::TempDir,
    report: Value,
    text: String,
}

fn fitted() -> &'static Fitted {
    static FIT: OnceLock<Fitted> = OnceLock::new();
    FIT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("fitted");
        let run = leadscore(
            &[
                "fit",
                "--pack",
                "rules/b2b-saas",
                "--outcome",
                "converted",
                "--as-of-field",
                "judged_at",
                "-o",
                out.to_str().unwrap(),
                "--suggest",
                "3",
                "--json",
                leads(),
            ],
            "",
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        let report = json(&run);
        let text = std::fs::read_to_string(out.join("fit-report.txt")).unwrap();
        Fitted { dir, report, text }
    })
}

fn fitted_dir() -> PathBuf {
    fitted().dir.path().join("fitted")
}

/// Text with every number taken out.
fn without_numbers(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_ascii_digit())
        .collect::<String>()
        .replace("+-", "+")
        .replace("-", "+")
}

#[test]
fn fit_writes_a_pack_that_checks_and_keeps_every_comment() {
    let out = fitted_dir();
    let check = leadscore(&["check", out.to_str().unwrap()], "");
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    for file in ["main.rules", "video.rules"] {
        let old = std::fs::read_to_string(Path::new("rules/b2b-saas").join(file)).unwrap();
        let new = std::fs::read_to_string(out.join(file)).unwrap();
        // `fit` appends the calibration it fitted to the file with the threshold.
        let new = match new.find("\n# The chance of converting a score means") {
            Some(i) => new[..i].to_string(),
            None => new,
        };
        assert_eq!(old.lines().count(), new.lines().count());
        assert_eq!(
            without_numbers(&old),
            without_numbers(&new),
            "only numbers changed in {file}"
        );
        for comment in old.lines().filter(|l| l.trim_start().starts_with('#')) {
            assert!(new.contains(comment), "{comment} kept");
        }
    }
    let main = std::fs::read_to_string(out.join("main.rules")).unwrap();
    assert_ne!(
        main,
        std::fs::read_to_string("rules/b2b-saas/main.rules").unwrap(),
        "the points changed"
    );
    assert!(out.join("tests").is_dir(), "the rest of the pack is copied too");
}

#[test]
fn fit_says_how_many_copied_test_cases_fail_with_the_new_points() {
    let out = fitted_dir();
    let pack = leadscore::Loader::new().plugin_path(["plugins"]).load(&out).unwrap();
    let tests = leadscore::packtest::PackTests::load(&out);
    let reports = tests.run_cases(&pack, None);
    let failed = reports.iter().filter(|r| !r.passed()).count();
    assert!(failed > 0, "the b2b-saas cases expect the old points");
    // The count `leadscore test` would find, in the report's warning.
    let note = format!("with the new ones {failed} of {} cases", reports.len());
    assert!(fitted().text.contains(&note), "{note}\n{}", fitted().text);
}

#[test]
fn fit_recovers_the_planted_signs_and_beats_the_old_points() {
    let r = &fitted().report;
    let rule = |name: &str| {
        r["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["rule"] == name)
            .unwrap()
            .clone()
    };
    assert!(rule("Demo request")["new"].as_f64().unwrap() > 0.0);
    assert!(rule("Webinar")["new"].as_f64().unwrap() > 0.0);
    assert!(rule("Job seeker")["new"].as_f64().unwrap() < 0.0);
    assert!(
        rule("Blog reader")["new"].as_f64().unwrap() <= 0.0,
        "no planted effect, the pack's +2 shrinks"
    );
    // The strongest planted term the pack has a rule for ranks first.
    let strongest = r["rules"]
        .as_array()
        .unwrap()
        .iter()
        .max_by(|a, b| a["new"].as_f64().unwrap().total_cmp(&b["new"].as_f64().unwrap()))
        .unwrap();
    assert_eq!(strongest["rule"], "Demo request");
    let pricing = rule("Pricing urgency");
    assert!(pricing["note"].as_str().unwrap().contains("points kept"), "{pricing}");
    assert_eq!(pricing["old"], pricing["new"]);
    for row in r["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["coefficient"].is_number())
    {
        assert!(
            row["low"].as_f64() <= row["new"].as_f64() && row["new"].as_f64() <= row["high"].as_f64(),
            "{row}"
        );
    }
    assert!(r["new"]["auc"].as_f64() > r["old"]["auc"].as_f64());
    // By default the threshold keeps the old pack's MQL volume (issue 26.5), so the better
    // points show as better precision at about the same volume.
    assert!(r["new"]["precision"].as_f64() > r["old"]["precision"].as_f64());
    assert!(
        r["recommended"]["reason"]
            .as_str()
            .unwrap()
            .contains("the current volume over 8 weeks"),
        "{}",
        r["recommended"]
    );
    assert_eq!(r["train"].as_u64().unwrap() + r["test"].as_u64().unwrap(), 6000);
    assert!((r["test"].as_f64().unwrap() / 6000.0 - 0.3).abs() < 0.03);
    assert!(fitted().text.contains("held-out leads"));
    // Recommendations an ops person can act on (issue 26.5): a sign the data cannot tell
    // is flagged, and the volume kept needs no warning.
    assert_eq!(rule("Case study")["crosses_zero"], true, "{}", rule("Case study"));
    assert_eq!(rule("Demo request")["crosses_zero"], false);
    let (old, new) = (r["old"]["mql"].as_f64().unwrap(), r["new"]["mql"].as_f64().unwrap());
    assert!((1.0 / 1.5..=1.5).contains(&(new / old)), "{old} → {new}");
    let warnings: Vec<&str> = r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert!(
        !warnings.iter().any(|w| w.contains("MQLs where the old one made")),
        "{warnings:?}"
    );
    // The copied tests do not fail silently: the warning counts what `leadscore test`
    // finds failing in the fitted copy.
    let copied = warnings
        .iter()
        .find(|w| w.contains("tests are copied"))
        .expect("a note on the tests");
    let run = leadscore(&["test", fitted_dir().to_str().unwrap()], "");
    let summary = run.stdout.lines().last().unwrap();
    // `test result: FAIL. 10 passed, 16 failed`
    let counts: Vec<u64> = summary
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    let (passed, failed) = (counts[0], counts[1]);
    assert!(failed > 0, "{summary}");
    assert!(
        copied.contains(&format!("{failed} of {} cases", passed + failed)),
        "{copied}\n{summary}"
    );
    // MQLs a week on the held-out leads: their MQLs over the weeks their times span.
    let per_week = r["old"]["mql_per_week"].as_f64().unwrap();
    assert!(
        per_week > old / 8.5 && per_week < old / 7.0,
        "about 8 weeks of leads: {per_week}"
    );
}

#[test]
fn suggest_finds_the_planted_rules_the_pack_lacks() {
    let r = &fitted().report;
    let conditions: Vec<&str> = r["suggested"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["condition"].as_str().unwrap())
        .collect();
    assert_eq!(conditions[0], "`Lead Source` == \"Referral\"", "{conditions:?}");
    assert!(conditions.contains(&"did \"chat_started\""), "{conditions:?}");
    let file = std::fs::read_to_string(fitted_dir().join("suggested.rules")).unwrap();
    assert!(
        file.contains("rule \"Lead Source is Referral\": `Lead Source` == \"Referral\" => +"),
        "{file}"
    );
    assert!(file.contains("# fired for"), "each rule is commented with its counts");
    assert!(r["suggested"][0]["points"].as_f64().unwrap() > 10.0);
    // Three suggestions close most of the gap between the pack's rules and a regression on
    // every candidate column.
    let gap = &r["gap"];
    let (alone, all) = (
        gap["rules_only_auc"].as_f64().unwrap(),
        gap["all_columns_auc"].as_f64().unwrap(),
    );
    let with = r["regression_auc"].as_f64().unwrap();
    assert!(
        all > alone && with - alone >= 0.5 * (all - alone),
        "{gap} with suggestions {with}"
    );
}

#[test]
fn fitted_auc_is_close_to_a_plain_regression_on_the_same_features() {
    use leadscore_outcomes::fit::{Design, Logistic};
    use leadscore_outcomes::refit::Split;
    use leadscore_outcomes::{metrics, Labels, Reader, Rows, Rules, Setup, When};
    // Without suggestions: the pack's own rules are the features.
    let dir = tempfile::tempdir().unwrap();
    let run = leadscore(
        &[
            "fit",
            "--pack",
            "rules/b2b-saas",
            "--outcome",
            "converted",
            "--as-of-field",
            "judged_at",
            "-o",
            dir.path().join("o").to_str().unwrap(),
            "--json",
            leads(),
        ],
        "",
    );
    let fitted_auc = json(&run)["new"]["auc"].as_f64().unwrap();
    // A plain, unpenalised regression on every rule feature, computed here.
    let pack = leadscore::Pack::load("rules/b2b-saas").unwrap();
    let rules = Rules::of(&pack);
    let reader = Reader::new(Setup {
        outcome: Some("converted".into()),
        labels: Labels::default(),
        when: When::Field("judged_at".into()),
        by: None,
        id_field: "id".into(),
    });
    let mut rows = Rows::default();
    for line in std::fs::read_to_string(leads()).unwrap().lines() {
        let (facts, outcome) = reader.judge_json(&pack, line).unwrap();
        rows.add(&rules, &facts, &outcome);
    }
    let split = Split::Holdout { fraction: 0.3, seed: 1 };
    let features = |i: usize| rows.hits(i).iter().map(|&(r, x)| (r, f64::from(x))).collect::<Vec<_>>();
    let mut design = Design::new(rules.rules.len());
    for (i, row) in rows.rows.iter().enumerate().filter(|(_, r)| split.is_train(r)) {
        design.push(features(i), row.positive);
    }
    let plain = Logistic::fit(&design, 1e-6).unwrap();
    let test: Vec<(f64, bool)> = rows
        .rows
        .iter()
        .enumerate()
        .filter(|(_, r)| !split.is_train(r))
        .map(|(i, r)| (plain.log_odds(&features(i)), r.positive))
        .collect();
    let plain_auc = metrics::auc(&test).unwrap();
    assert!(
        (fitted_auc - plain_auc).abs() <= 0.02,
        "fitted {fitted_auc} vs plain regression {plain_auc}"
    );
}

#[test]
fn split_at_trains_on_earlier_leads() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let no_field = leadscore(
        &[
            "fit",
            "--pack",
            "rules/b2b-saas",
            "--outcome",
            "converted",
            "-o",
            out.to_str().unwrap(),
            "--split-at",
            "2026-02-01T00:00:00Z",
            leads(),
        ],
        "",
    );
    assert_eq!(no_field.code, 2, "--split-at needs --as-of-field");
    let run = leadscore(
        &[
            "fit",
            "--pack",
            "rules/b2b-saas",
            "--outcome",
            "converted",
            "--as-of-field",
            "judged_at",
            "-o",
            out.to_str().unwrap(),
            "--split-at",
            "2026-02-01T00:00:00Z",
            "--json",
            leads(),
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = json(&run);
    let before = std::fs::read_to_string(leads())
        .unwrap()
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).unwrap()["judged_at"].as_str().unwrap() < "2026-02-01T00:00:00Z")
        .count();
    assert_eq!(r["train"].as_u64(), Some(before as u64));
    assert_eq!(r["test"].as_u64(), Some(6000 - before as u64));
    let holdout = json(&leadscore(
        &[
            "fit",
            "--pack",
            "rules/b2b-saas",
            "--outcome",
            "converted",
            "--as-of-field",
            "judged_at",
            "-o",
            out.to_str().unwrap(),
            "--holdout",
            "0.5",
            "--json",
            leads(),
        ],
        "",
    ));
    assert!((holdout["test"].as_f64().unwrap() / 6000.0 - 0.5).abs() < 0.03);
}

#[test]
fn fit_report_for_people() {
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let pack = format!("{root}/rules/b2b-saas");
    let run = leadscore_in(
        dir.path(),
        &[
            "fit",
            "--pack",
            &pack,
            "--outcome",
            "converted",
            "--as-of-field",
            "judged_at",
            "-o",
            "fitted",
            "--suggest",
            "2",
            leads(),
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn fit_rewrites_the_score_bound_of_mql_when() {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("pack");
    std::fs::create_dir(&pack).unwrap();
    let text = "# a pack with its threshold inside the MQL condition\n\
                mql when score >= 30 and title exists   # keep this comment\n\
                rule \"Demo\": submitted \"demo-request\" => +30\n\
                rule \"Careers\": visited /careers* => +10\n";
    std::fs::write(pack.join("main.rules"), text).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let run = leadscore(
        &[
            "fit",
            "--pack",
            pack.to_str().unwrap(),
            "--outcome",
            "converted",
            "--as-of-field",
            "judged_at",
            "-o",
            out.to_str().unwrap(),
            "--json",
            leads(),
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = json(&run);
    let new = std::fs::read_to_string(out.join("main.rules")).unwrap();
    let threshold = r["new"]["threshold"].as_f64().unwrap();
    assert!(
        new.contains(&format!(
            "mql when score >= {threshold} and title exists   # keep this comment"
        )),
        "{new}"
    );
    assert!(
        r["rules"][1]["new"].as_f64().unwrap() < 0.0,
        "careers visits lower the odds"
    );
    let no_bound = dir.path().join("nobound");
    std::fs::create_dir(&no_bound).unwrap();
    std::fs::write(no_bound.join("main.rules"), text.replace("score >= 30 and ", "")).unwrap();
    let run = leadscore(
        &[
            "fit",
            "--pack",
            no_bound.to_str().unwrap(),
            "--outcome",
            "converted",
            "--as-of-field",
            "judged_at",
            "-o",
            dir.path().join("o2").to_str().unwrap(),
            leads(),
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("has no `score >= N` or `score > N` that fit can move faithfully"),
        "{}",
        run.stdout
    );
}

#[test]
fn fit_reports_a_failed_lead_once() {
    let (dir, pack, leads) = leak_case();
    let out = dir.path().join("out");
    let run = leadscore(
        &[
            "fit",
            "--pack",
            &pack,
            "--outcome",
            "won",
            "--as-of-field",
            "handed_at",
            "--min-fired",
            "1",
            "--holdout",
            "0",
            "-o",
            out.to_str().unwrap(),
            &leads,
        ],
        "",
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        run.stderr.lines().filter(|l| l.contains(r#""line":4"#)).count(),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(leadscore(&["check", out.to_str().unwrap()], "").code, 0);
}

#[test]
fn fit_refuses_stdin_and_the_pack_itself() {
    let stdin = leadscore(&["fit", "--pack", TINY, "--outcome", "won", "-o", "x"], "");
    assert_eq!(stdin.code, 2);
    let same = leadscore(
        &[
            "fit",
            "--pack",
            TINY,
            "--outcome",
            "won",
            "--as-of",
            AS_OF,
            "-o",
            TINY,
            TINY_LEADS,
        ],
        "",
    );
    assert_eq!(same.code, 2);
    assert!(same.stderr.contains("must not be the pack"), "{}", same.stderr);
}

// ---- diff ----

fn tiny_with_threshold(dir: &Path, threshold: &str) -> String {
    let pack = dir.join("tiny-b");
    std::fs::create_dir_all(&pack).unwrap();
    let text = std::fs::read_to_string(Path::new(TINY).join("main.rules")).unwrap();
    std::fs::write(pack.join("main.rules"), text.replace("threshold 20", threshold)).unwrap();
    pack.display().to_string()
}

#[test]
fn diff_of_two_packs() {
    let dir = tempfile::tempdir().unwrap();
    let b = tiny_with_threshold(dir.path(), "threshold 10");
    let rules = Path::new(&b).join("main.rules");
    let text = std::fs::read_to_string(&rules).unwrap().replace("=> +10", "=> +15");
    std::fs::write(&rules, text).unwrap();
    let run = leadscore(
        &[
            "diff",
            "--pack",
            TINY,
            "--pack",
            &b,
            "--as-of",
            AS_OF,
            "--outcome",
            "won",
            "--json",
            TINY_LEADS,
        ],
        "",
    );
    assert_eq!(run.code, 1, "lead 11 fails: {}", run.stderr);
    let r = json(&run);
    assert_eq!((r["leads"].as_u64(), r["failed"].as_u64()), (Some(10), Some(1)));
    assert_eq!((r["mql_a"].as_u64(), r["mql_b"].as_u64()), (Some(4), Some(7)));
    assert_eq!((r["gained"].as_u64(), r["lost"].as_u64()), (Some(3), Some(0)));
    // 7 MQLs where there were 4: more than 1.5×, a change of workload to agree on.
    assert_eq!(
        r["warnings"][0],
        "B makes 7 MQLs where A makes 4 (1.8×): make sure sales can take the change before switching"
    );
    let up: Vec<&str> = r["crossed_up"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(up, ["L4", "L5", "L8"]);
    assert_eq!(r["crossed_up"][0]["rules"][0], "Big: +10 → +15");
    assert_eq!(r["score_change"]["changed"], 4, "L1, L4, L5 and L9 have Big");
    assert!(close(&r["outcomes"]["a"]["auc"], 0.775));
    assert!(close(&r["outcomes"]["b"]["precision"], 3.0 / 6.0), "{}", r["outcomes"]);
    let text = leadscore(
        &[
            "diff",
            "--pack",
            TINY,
            "--pack",
            &b,
            "--as-of",
            AS_OF,
            "--outcome",
            "won",
            TINY_LEADS,
        ],
        "",
    );
    insta::assert_snapshot!(text
        .stdout
        .replace(&b, "tiny-b")
        .lines()
        .skip(2)
        .collect::<Vec<_>>()
        .join("\n"));
}

#[test]
fn diff_needs_two_packs() {
    let run = leadscore(&["diff", "--pack", TINY, TINY_LEADS], "");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("two packs"), "{}", run.stderr);
}

#[test]
fn diff_against_the_fitted_pack_without_outcomes() {
    let out = fitted_dir();
    let run = leadscore(
        &[
            "diff",
            "--pack",
            "rules/b2b-saas",
            "--pack",
            out.to_str().unwrap(),
            "--as-of-field",
            "judged_at",
            "--json",
            leads(),
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = json(&run);
    assert!(r.get("outcomes").is_none());
    assert!(r["gained"].as_u64().unwrap() > 0 && r["routes_changed"].as_u64().unwrap() > 0);
    assert_eq!(r["crossed_up"].as_array().unwrap().len(), 10);
}

// ---- gen --outcomes ----

#[test]
fn gen_outcomes_adds_the_planted_fields_and_keeps_the_leads() {
    let with = leadscore(&["gen", "--leads", "2000", "--seed", "5", "--outcomes"], "");
    let without = leadscore(&["gen", "--leads", "2000", "--seed", "5"], "");
    let again = leadscore(&["gen", "--leads", "2000", "--seed", "5", "--outcomes"], "");
    assert_eq!(with.stdout, again.stdout);
    let mut converted = 0;
    for (a, b) in with.stdout.lines().zip(without.stdout.lines()) {
        let mut a: Value = serde_json::from_str(a).unwrap();
        let obj = a.as_object_mut().unwrap();
        let judged = obj.remove("judged_at").unwrap();
        converted += u32::from(obj.remove("converted").unwrap().as_bool().unwrap());
        assert!(judged.as_str().unwrap() <= AS_OF && judged.as_str().unwrap() >= "2026-01-04");
        assert_eq!(a, serde_json::from_str::<Value>(b).unwrap(), "the leads are the same");
    }
    assert!((150..=450).contains(&converted), "{converted} of 2000 converted");
    let csv = leadscore(&["gen", "--leads", "3", "--outcomes", "--format", "csv"], "");
    assert!(csv.stdout.lines().next().unwrap().ends_with(",judged_at,converted"));
}

#[test]
fn fit_is_a_library_function_the_command_line_calls() {
    use leadscore_outcomes::backtest::GoalSpec;
    use leadscore_outcomes::refit::{FitOptions, Split};
    use leadscore_outcomes::tune::{fit, FitInput};
    use leadscore_outcomes::{Labels, Reader, Setup, When};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let run = leadscore(
        &[
            "fit",
            "--pack",
            "rules/b2b-saas",
            "--outcome",
            "converted",
            "--as-of-field",
            "judged_at",
            "-o",
            out.to_str().unwrap(),
            "--max-f1",
            "--json",
            leads(),
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    // The highest F1 more than doubles the MQLs: a change of volume beyond 1.5× is a warning.
    let report = json(&run);
    let (old, new) = (
        report["old"]["mql"].as_f64().unwrap(),
        report["new"]["mql"].as_f64().unwrap(),
    );
    assert!(new / old > 1.5, "{old} → {new}");
    assert!(
        report["warnings"][0]
            .as_str()
            .unwrap()
            .contains("MQLs where the old one made"),
        "{}",
        report["warnings"]
    );
    let leads: Vec<Value> = std::fs::read_to_string(leads())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let loader = leadscore::Loader::new();
    let pack = loader.load("rules/b2b-saas").unwrap();
    let reader = Reader::new(Setup {
        outcome: Some("converted".into()),
        labels: Labels::default(),
        when: When::Field("judged_at".into()),
        by: None,
        id_field: "id".into(),
    });
    let input = FitInput {
        pack: &pack,
        loader: &loader,
        dir: Some(Path::new("rules/b2b-saas")),
        reader: &reader,
        leads: &leads,
        out_dir: out.to_str().unwrap(),
    };
    let options = FitOptions {
        split: Split::Holdout { fraction: 0.3, seed: 1 },
        lambda: 1.0,
        min_fired: 30,
        goal: GoalSpec::F1,
        suggest: 0,
        allow_columns: vec![],
        decay: false,
    };
    let fitted = fit(&input, &options).unwrap();
    assert!(!fitted.failed);
    assert_eq!(
        serde_json::to_value(&fitted.report).unwrap(),
        json(&run),
        "the same report"
    );
    for (file, text) in &fitted.files {
        assert_eq!(
            &std::fs::read_to_string(out.join(file)).unwrap(),
            text,
            "{file} as written"
        );
    }
}

// ---- every MQL condition shape (issue 24.1) ----

/// The issue's example: 3,000 leads where `a == "y"` exactly when the lead was won; `b`
/// and `c` are noise.
fn shape_case(condition: &str, rules: &str) -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("pack");
    std::fs::create_dir(&pack).unwrap();
    std::fs::write(pack.join("main.rules"), format!("{condition}\n{rules}")).unwrap();
    let mut state = 11u64;
    let mut coin = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % 2 == 0
    };
    let yn = |b: bool| if b { "y" } else { "n" };
    let text: String = (0..3000)
        .map(|i| {
            let (won, b, c) = (coin(), coin(), coin());
            format!(
                "{{\"id\": {i}, \"a\": \"{}\", \"b\": \"{}\", \"c\": \"{}\", \"won\": {won}}}\n",
                yn(won),
                yn(b),
                yn(c)
            )
        })
        .collect();
    let leads = dir.path().join("leads.jsonl");
    std::fs::write(&leads, text).unwrap();
    (dir, pack, leads.display().to_string())
}

fn fit_shape(pack: &Path, out: &Path, leads: &str) -> Run {
    leadscore(
        &[
            "fit",
            "--pack",
            pack.to_str().unwrap(),
            "--outcome",
            "won",
            "--as-of",
            AS_OF,
            "-o",
            out.to_str().unwrap(),
            "--json",
            leads,
        ],
        "",
    )
}

fn backtest_shape(pack: &Path, leads: &str) -> Value {
    let run = leadscore(
        &[
            "backtest",
            "--pack",
            pack.to_str().unwrap(),
            "--outcome",
            "won",
            "--as-of",
            AS_OF,
            "--json",
            leads,
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    json(&run)
}

/// The sweep row at the pack's own threshold.
fn current_row(report: &Value) -> Value {
    let t = report["current"].as_f64().unwrap();
    report["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["threshold"].as_f64() == Some(t))
        .unwrap_or_else(|| panic!("no sweep row at {t}: {}", report["thresholds"]))
        .clone()
}

#[test]
fn score_above_n_is_swept_and_written_as_above() {
    let (dir, pack, leads) = shape_case(
        "mql when score > 5",
        "rule \"A\": a == \"y\" => +10\nrule \"B\": b == \"y\" => +5\n",
    );
    let out = dir.path().join("out");
    let run = fit_shape(&pack, &out, &leads);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = json(&run);
    assert!(r["new"]["mql"].as_u64().unwrap() > 0, "{}", r["new"]);
    assert!(
        close(&r["new"]["precision"], 1.0) && close(&r["new"]["recall"], 1.0),
        "{}",
        r["new"]
    );
    // The written pack picks exactly the won leads on every lead, as the sweep chose.
    let fitted = backtest_shape(&out, &leads);
    assert_eq!(fitted["mql"]["count"], fitted["positives"], "{}", fitted["mql"]);
    assert!(close(&fitted["mql"]["precision"], 1.0));
    assert_eq!(current_row(&fitted)["mql"], fitted["mql"]["count"]);
    let text = std::fs::read_to_string(out.join("main.rules")).unwrap();
    assert!(text.starts_with("mql when score > "), "{text}");
    assert_eq!(fitted["condition"].as_str(), text.lines().next());
    let people = leadscore(
        &[
            "backtest",
            "--pack",
            pack.to_str().unwrap(),
            "--outcome",
            "won",
            "--as-of",
            AS_OF,
            &leads,
        ],
        "",
    );
    assert!(
        people.stdout.contains("MQLs (mql when score > 5, not disqualified)"),
        "{}",
        people.stdout
    );
    assert!(
        people
            .stdout
            .contains("; mql when score > threshold, not disqualified)"),
        "{}",
        people.stdout
    );
}

#[test]
fn other_parts_of_the_mql_condition_are_held_in_the_sweep() {
    let (dir, pack, leads) = shape_case(
        "dimension fit\nmql when fit >= 20 and score >= 10",
        "rule \"A\": a == \"y\" => +20 fit\nrule \"B\": b == \"y\" => +5\nrule \"C\": c == \"y\" => +20 fit\n",
    );
    let before = backtest_shape(&pack, &leads);
    assert_eq!(
        current_row(&before)["mql"],
        before["mql"]["count"],
        "the current row is the pack's own MQLs"
    );
    assert_eq!(before["swept"], "mql when fit >= 20 and score >= threshold");
    let out = dir.path().join("out");
    let run = fit_shape(&pack, &out, &leads);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = json(&run);
    let text = std::fs::read_to_string(out.join("main.rules")).unwrap();
    assert!(text.contains("\nmql when fit >= 20 and score >= "), "{text}");
    let after = backtest_shape(&out, &leads);
    assert_eq!(current_row(&after)["mql"], after["mql"]["count"], "{text}");
    assert!(r["new"]["mql"].as_u64().unwrap() <= r["test"].as_u64().unwrap());
    assert!(
        run.stdout.contains("\"condition\": \"mql when fit >= 20 and score >= "),
        "{}",
        run.stdout
    );
}

#[test]
fn a_condition_fit_cannot_move_is_said_and_left() {
    let condition = "mql when score >= 10 or c == \"y\"";
    let (dir, pack, leads) = shape_case(
        condition,
        "rule \"A\": a == \"y\" => +10\nrule \"B\": b == \"y\" => +5\n",
    );
    let out = dir.path().join("out");
    let run = fit_shape(&pack, &out, &leads);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = json(&run);
    assert_eq!(r["recommended"]["threshold"], Value::Null);
    assert!(
        r["threshold_note"].as_str().unwrap().contains("kept as written"),
        "{}",
        r["threshold_note"]
    );
    let text = std::fs::read_to_string(out.join("main.rules")).unwrap();
    assert!(text.starts_with(condition), "{text}");
}

// ---- OUT_DIR (issue 24.2) ----

#[test]
fn fit_writes_out_dir_whole_and_never_over_another_folder() {
    let (dir, pack, leads) = shape_case(
        "threshold 10",
        "rule \"A\": a == \"y\" => +10\nrule \"B\": b == \"y\" => +5\n",
    );
    let other = dir.path().join("other");
    std::fs::create_dir_all(other.join("tests")).unwrap();
    std::fs::write(other.join("main.rules"), "threshold 1\n").unwrap();
    std::fs::write(other.join("tests/cases.toml"), "# mine\n").unwrap();
    let refused = fit_shape(&pack, &other, &leads);
    assert_eq!(refused.code, 2, "{}", refused.stdout);
    assert!(
        refused.stderr.contains("not an earlier fit's output"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        std::fs::read_to_string(other.join("main.rules")).unwrap(),
        "threshold 1\n"
    );
    assert_eq!(
        std::fs::read_to_string(other.join("tests/cases.toml")).unwrap(),
        "# mine\n"
    );
    // A new folder, then a stale file in it, then a second fit: the folder is replaced whole.
    let out = dir.path().join("out");
    assert_eq!(fit_shape(&pack, &out, &leads).code, 0);
    assert!(out.join(".leadscore-fit").is_file());
    std::fs::write(out.join("extra.rules"), "rule \"Stale\": c == \"y\" => +100\n").unwrap();
    let again = fit_shape(&pack, &out, &leads);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        !out.join("extra.rules").exists(),
        "a stale file is not part of the fitted pack"
    );
    assert!(!json(&again)["rules"].to_string().contains("Stale"));
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "no temporary folder is left: {left:?}");
    // OUT_DIR inside the pack: refused before anything is written.
    let inside = leadscore_in(
        &pack,
        &[
            "fit",
            "--pack",
            ".",
            "--outcome",
            "won",
            "--as-of",
            AS_OF,
            "-o",
            "fitted",
            &leads,
        ],
        "",
    );
    assert_eq!(inside.code, 2, "{}", inside.stdout);
    assert!(inside.stderr.contains("inside the pack"), "{}", inside.stderr);
    assert!(!pack.join("fitted").exists());
}

// ---- bounded points and checked options (issue 24.3) ----

#[test]
fn a_rule_for_everyone_cannot_blow_the_points_up() {
    let (dir, pack, leads) = shape_case("threshold 10", "rule \"Everyone\": id exists => +10\n");
    let out = dir.path().join("out");
    let run = leadscore(
        &[
            "fit",
            "--pack",
            pack.to_str().unwrap(),
            "--outcome",
            "won",
            "--as-of",
            AS_OF,
            "--suggest",
            "1",
            "-o",
            out.to_str().unwrap(),
            "--json",
            &leads,
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = json(&run);
    // No rule is fitted, so 20 points double the odds.
    assert!(
        (r["scale"].as_f64().unwrap() - 20.0 / std::f64::consts::LN_2).abs() < 1e-9,
        "{}",
        r["scale"]
    );
    assert!(
        r["rules"][0]["note"].as_str().unwrap().contains("every training lead"),
        "{}",
        r["rules"][0]
    );
    let suggested = r["suggested"][0]["points"].as_f64().unwrap();
    assert!(
        suggested.abs() < 1000.0,
        "perfectly separated, yet bounded by the penalty: {suggested}"
    );
    let check = leadscore(&["check", out.to_str().unwrap()], "");
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    // A penalty so heavy every coefficient is near 0: the points stay on the pack's scale.
    let heavy = leadscore(
        &[
            "fit",
            "--pack",
            pack.to_str().unwrap(),
            "--outcome",
            "won",
            "--as-of",
            AS_OF,
            "--suggest",
            "1",
            "--lambda",
            "1e308",
            "-o",
            out.to_str().unwrap(),
            "--json",
            &leads,
        ],
        "",
    );
    assert_eq!(heavy.code, 0, "{}", heavy.stderr);
    assert!(json(&heavy)["scale"].as_f64().unwrap() <= 30.0);
    assert_eq!(leadscore(&["check", out.to_str().unwrap()], "").code, 0);
}

#[test]
fn fit_and_backtest_refuse_numbers_out_of_range() {
    let (dir, pack, leads) = shape_case("threshold 10", "rule \"A\": a == \"y\" => +10\n");
    let out = dir.path().join("out");
    for (option, value) in [
        ("--lambda", "nan"),
        ("--lambda", "inf"),
        ("--lambda", "-1"),
        ("--lambda", "0"),
        ("--holdout", "nan"),
        ("--holdout", "1"),
        ("--min-precision", "2"),
        ("--min-precision", "nan"),
    ] {
        let run = leadscore(
            &[
                "fit",
                "--pack",
                pack.to_str().unwrap(),
                "--outcome",
                "won",
                "--as-of",
                AS_OF,
                &format!("{option}={value}"),
                "-o",
                out.to_str().unwrap(),
                &leads,
            ],
            "",
        );
        assert_eq!(run.code, 2, "{option} {value}: {}", run.stdout);
        // The library's check, or the argument parser's for --min-precision (shared with
        // backtest): either way the option is named.
        assert!(
            run.stderr.contains(&format!("error: {option} must be"))
                || run.stderr.contains(&format!("'{option} <P>'")) && run.stderr.contains("is not a precision"),
            "{option} {value}: {}",
            run.stderr
        );
        assert!(!out.exists(), "nothing written for {option} {value}");
    }
    for value in ["nan", "inf", "-5", "0"] {
        let run = leadscore(
            &[
                "backtest",
                "--pack",
                pack.to_str().unwrap(),
                "--outcome",
                "won",
                "--as-of-field",
                "at",
                &format!("--capacity={value}"),
                &leads,
            ],
            "",
        );
        assert_eq!(run.code, 2, "--capacity {value}");
        assert!(
            run.stderr.contains("error: --capacity must be"),
            "{value}: {}",
            run.stderr
        );
    }
}

// ---- inputs that are outputs, and nothing labelled (issue 24.4, 24.5) ----

#[test]
fn backtest_html_refuses_to_overwrite_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let leads = dir.path().join("leads.jsonl");
    std::fs::copy(TINY_LEADS, &leads).unwrap();
    let before = std::fs::read_to_string(&leads).unwrap();
    let linked = dir.path().join("same.html");
    std::fs::hard_link(&leads, &linked).unwrap();
    for html in [leads.clone(), linked, dir.path().join(".").join("leads.jsonl")] {
        let run = leadscore(
            &[
                "backtest",
                "--pack",
                TINY,
                "--outcome",
                "won",
                "--as-of",
                AS_OF,
                "--html",
                html.to_str().unwrap(),
                leads.to_str().unwrap(),
            ],
            "",
        );
        assert_eq!(run.code, 2, "{}", html.display());
        assert!(run.stderr.contains("is the input file"), "{}", run.stderr);
    }
    assert_eq!(std::fs::read_to_string(&leads).unwrap(), before);
}

#[test]
fn nothing_labelled_is_an_error_naming_the_field_and_the_values() {
    let dir = tempfile::tempdir().unwrap();
    let leads = dir.path().join("leads.jsonl");
    let text: String = (0..40)
        .map(|i| {
            format!(
                "{{\"id\": {i}, \"title\": \"VP\", \"won\": {}}}\n",
                if i % 2 == 0 { "2" } else { "-1" }
            )
        })
        .collect();
    std::fs::write(&leads, text).unwrap();
    let backtest = |outcome: &str, extra: &[&str]| {
        let mut args = vec!["backtest", "--pack", TINY, "--outcome", outcome, "--as-of", AS_OF];
        args.extend_from_slice(extra);
        args.push(leads.to_str().unwrap());
        leadscore(&args, "")
    };
    let values = backtest("won", &[]);
    assert_eq!(values.code, 2);
    assert!(
        values.stderr.contains("no lead has a converted or not-converted `won`"),
        "{}",
        values.stderr
    );
    assert!(values.stderr.contains(r#""2", "-1""#), "{}", values.stderr);
    let typo = backtest("convertd", &[]);
    assert_eq!(typo.code, 2);
    assert!(typo.stderr.contains("40 have no `convertd`"), "{}", typo.stderr);
    let empty = backtest("won", &["--positive", ""]);
    assert_eq!(empty.code, 2);
    assert!(empty.stderr.contains("--positive names no value"), "{}", empty.stderr);
    let fit = leadscore(
        &[
            "fit",
            "--pack",
            TINY,
            "--outcome",
            "convertd",
            "--as-of",
            AS_OF,
            "-o",
            dir.path().join("out").to_str().unwrap(),
            leads.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(fit.code, 2);
    assert!(fit.stderr.contains("`convertd`"), "{}", fit.stderr);
    assert!(!dir.path().join("out").exists());
    // "1.0" as text is 1; a run with most leads unlabelled warns with the counts.
    let text: String = (0..40)
        .map(|i| {
            let won = match i {
                0..=4 => "\"1.0\"",
                5..=9 => "\"0\"",
                _ => "\"open\"",
            };
            format!("{{\"id\": {i}, \"title\": \"VP\", \"won\": {won}}}\n")
        })
        .collect();
    std::fs::write(&leads, text).unwrap();
    let mostly = backtest("won", &["--json"]);
    assert_eq!(mostly.code, 0, "{}", mostly.stderr);
    assert_eq!(json(&mostly)["positives"], 5);
    assert!(
        mostly
            .stderr
            .contains("warning: 30 of 40 leads are unlabelled and left out (0 without `won`, other values: \"open\")"),
        "{}",
        mostly.stderr
    );
}
