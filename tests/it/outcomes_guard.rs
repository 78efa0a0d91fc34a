//! The outcomes guard (issue 26): suspected leakage, drift, calibration — through the real
//! binary, on generated leads with a planted model, against figures computed here.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::Value;

use crate::cli::{leadscore, Run};

fn json(run: &Run) -> Value {
    assert!(run.code == 0 || run.code == 1, "{}\n{}", run.stdout, run.stderr);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr))
}

/// A temporary folder with generated leads in it, written once per test run.
struct Data {
    dir: tempfile::TempDir,
}

impl Data {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }
}

fn gen(dir: &tempfile::TempDir, name: &str, args: &[&str]) {
    let run = leadscore(&[&["gen"], args].concat(), "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    std::fs::write(dir.path().join(name), run.stdout).unwrap();
}

fn data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        gen(
            &dir,
            "leaky.jsonl",
            &["--leads", "6000", "--seed", "3", "--outcomes", "--leaky"],
        );
        Data { dir }
    })
}

fn leads(file: &str) -> Vec<Value> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

// ---- leakage ----

/// `fit --suggest` on the leaky leads, once, with and without `--allow-column Tags`.
fn leaky_fit(allow: bool) -> &'static Value {
    static PLAIN: OnceLock<Value> = OnceLock::new();
    static ALLOWED: OnceLock<Value> = OnceLock::new();
    let cell = if allow { &ALLOWED } else { &PLAIN };
    cell.get_or_init(|| {
        let d = data();
        let out = d.path(if allow { "fitted-allowed" } else { "fitted" });
        let leaky = d.path("leaky.jsonl");
        let mut args = vec![
            "fit",
            "--pack",
            "rules/b2b-saas",
            "--outcome",
            "converted",
            "--as-of-field",
            "judged_at",
            "--suggest",
            "6",
            "--json",
            "-o",
            &out,
        ];
        if allow {
            args.extend(["--allow-column", "Tags"]);
        }
        args.push(&leaky);
        json(&leadscore(&args, ""))
    })
}

/// Per value of `field` over labelled leads: (leads, converted); an empty or missing value
/// under `""`.
fn by_value(leads: &[Value], field: &str) -> BTreeMap<String, (u64, u64)> {
    let mut out: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for lead in leads {
        let value = lead[field].as_str().unwrap_or("").to_string();
        let c = out.entry(value).or_default();
        c.0 += 1;
        c.1 += u64::from(lead["converted"].as_bool().unwrap());
    }
    out
}

/// The information value over a field's values, each cell smoothed by half a lead.
fn iv(groups: &BTreeMap<String, (u64, u64)>) -> f64 {
    let p: u64 = groups.values().map(|g| g.1).sum();
    let n: u64 = groups.values().map(|g| g.0 - g.1).sum();
    groups
        .values()
        .map(|&(leads, pos)| {
            let a = (pos as f64 + 0.5) / (p as f64 + 1.0);
            let b = ((leads - pos) as f64 + 0.5) / (n as f64 + 1.0);
            (a - b) * (a / b).ln()
        })
        .sum()
}

#[test]
fn fit_names_the_leaky_columns_and_proposes_none_of_them() {
    let report = leaky_fit(false);
    let all = leads(&data().path("leaky.jsonl"));
    let leaks = report["leakage"].as_array().expect("a leakage list");
    let columns: Vec<&str> = leaks.iter().map(|l| l["column"].as_str().unwrap()).collect();
    assert_eq!(
        columns,
        ["Lead Quality", "Tags"],
        "the planted Lead Source signal is not leakage"
    );
    for leak in leaks {
        let field = leak["column"].as_str().unwrap();
        let groups = by_value(&all, field);
        let expected = iv(&groups);
        let got = leak["iv"].as_f64().unwrap();
        assert!(
            expected > 0.5 && (got - expected).abs() < 1e-9,
            "{field}: {got} vs {expected}"
        );
        assert_eq!(leak["allowed"], false);
        // Every value converting at >= 98% or <= 2% over 50+ leads, with its counts.
        let mut want: Vec<(String, u64, u64)> = groups
            .iter()
            .filter(|(v, &(leads, pos))| {
                let rate = pos as f64 / leads as f64;
                !v.is_empty() && leads >= 50 && (rate >= 0.98 || rate <= 0.02)
            })
            .map(|(v, &(leads, pos))| (v.clone(), leads, pos))
            .collect();
        let mut have: Vec<(String, u64, u64)> = leak["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                let condition = v["condition"].as_str().unwrap();
                let value = condition.rsplit("== ").next().unwrap().trim_matches('"').to_string();
                (value, v["leads"].as_u64().unwrap(), v["positives"].as_u64().unwrap())
            })
            .collect();
        want.sort();
        have.sort();
        assert_eq!(have, want, "{field}");
    }
    let tags = &by_value(&all, "Tags")["Closed by Horizzon"];
    assert_eq!(tags.0, tags.1, "the planted tag converts always");
    for s in report["suggested"].as_array().unwrap() {
        let condition = s["condition"].as_str().unwrap();
        assert!(
            !condition.contains("Tags") && !condition.contains("Lead Quality"),
            "{condition}"
        );
        assert_ne!(
            s["points"].as_f64().unwrap(),
            0.0,
            "no suggestion worth +0: {condition}"
        );
    }
    let suggested = std::fs::read_to_string(data().dir.path().join("fitted/suggested.rules")).unwrap();
    assert!(
        !suggested.contains("Tags") && !suggested.contains("Horizzon"),
        "{suggested}"
    );
}

#[test]
fn fit_report_says_why_in_one_line_per_column() {
    leaky_fit(false);
    let d = data();
    let text = std::fs::read_to_string(d.dir.path().join("fitted/fit-report.txt")).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("  ! ")).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[1].starts_with("  ! Tags: information value "), "{text}");
    assert!(lines[1].contains("Tags == \"Closed by Horizzon\""), "{text}");
    assert!(lines[1].contains("--allow-column \"Tags\""), "{text}");
}

#[test]
fn allow_column_lets_a_suspected_column_be_proposed() {
    let report = leaky_fit(true);
    let leaks = report["leakage"].as_array().unwrap();
    let tags = leaks.iter().find(|l| l["column"] == "Tags").unwrap();
    assert_eq!(tags["allowed"], true);
    let conditions: Vec<&str> = report["suggested"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["condition"].as_str().unwrap())
        .collect();
    assert!(conditions.iter().any(|c| c.starts_with("Tags ==")), "{conditions:?}");
    assert!(!conditions.iter().any(|c| c.contains("Lead Quality")), "{conditions:?}");
}

#[test]
fn backtest_flags_a_rule_on_a_leaky_column() {
    let d = data();
    let pack = d.path("leaky-pack");
    std::fs::create_dir_all(&pack).unwrap();
    std::fs::write(
        PathBuf::from(&pack).join("main.rules"),
        "threshold 40\nrule \"Closed\": Tags == \"Closed by Horizzon\" => +50\nrule \"Senior\": title ~ VP => +15\n",
    )
    .unwrap();
    let leaky = d.path("leaky.jsonl");
    let args = [
        "backtest",
        "--pack",
        &pack,
        "--outcome",
        "converted",
        "--as-of-field",
        "judged_at",
        "--json",
        &leaky,
    ];
    let report = json(&leadscore(&args, ""));
    let leaks = report["leakage"].as_array().unwrap();
    assert_eq!(leaks.len(), 1, "{leaks:?}");
    assert_eq!(leaks[0]["column"], "Closed");
    let (n, pos) = by_value(&leads(&leaky), "Tags")["Closed by Horizzon"];
    assert_eq!(leaks[0]["values"][0]["leads"], n);
    assert_eq!(leaks[0]["values"][0]["positives"], pos);
    let text = leadscore(
        &args[..args.len() - 2]
            .iter()
            .chain([&leaky.as_str()])
            .copied()
            .collect::<Vec<_>>(),
        "",
    );
    assert!(text.stdout.contains("suspected leakage"), "{}", text.stdout);
}

// ---- drift ----

const AS_OF: &str = "2026-03-01T00:00:00Z";

/// Baseline leads, the same population from another seed, and leads that do less (8
/// events each instead of 20), written once.
fn drift_data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        gen(&dir, "base.jsonl", &["--leads", "4000", "--seed", "1"]);
        gen(&dir, "same.jsonl", &["--leads", "4000", "--seed", "2"]);
        gen(
            &dir,
            "quiet.jsonl",
            &["--leads", "4000", "--seed", "2", "--events-per-lead", "8"],
        );
        Data { dir }
    })
}

fn drift(current: &str) -> Value {
    let d = drift_data();
    let (base, current) = (d.path("base.jsonl"), d.path(current));
    let args = [
        "drift",
        "--pack",
        "rules/b2b-saas",
        "--as-of",
        AS_OF,
        "--json",
        &base,
        &current,
    ];
    json(&leadscore(&args, ""))
}

/// `leadscore score` of a file: per lead its score, MQL verdict and the rules that fired.
fn scored(file: &str) -> Vec<(f64, bool, Vec<String>)> {
    let run = leadscore(&["score", "--pack", "rules/b2b-saas", "--as-of", AS_OF, file], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout
        .lines()
        .map(|l| {
            let r: Value = serde_json::from_str(l).unwrap();
            let fired = r["fired"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["rule"].as_str().unwrap().to_string());
            (
                r["score"].as_f64().unwrap(),
                r["mql"].as_bool().unwrap(),
                fired.collect(),
            )
        })
        .collect()
}

/// The PSI of the current scores over ten bands cut at the baseline's deciles, computed
/// here from the definition: cuts at sorted[k·n/10], distinct, above the minimum; a lead
/// in the band of the cuts at or below its score; an empty band as 0.01%.
fn independent_psi(base: &[f64], current: &[f64]) -> f64 {
    let mut sorted = base.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut cuts: Vec<f64> = (1..10).map(|k| sorted[k * sorted.len() / 10]).collect();
    cuts.dedup();
    cuts.retain(|&c| c > sorted[0]);
    let shares = |scores: &[f64]| {
        let mut n = vec![0.0; cuts.len() + 1];
        for s in scores {
            n[cuts.iter().filter(|&&c| c <= *s).count()] += 1.0;
        }
        n.iter()
            .map(|k| (k / scores.len() as f64).max(1e-4))
            .collect::<Vec<f64>>()
    };
    let (b, c) = (shares(base), shares(current));
    b.iter().zip(&c).map(|(b, c)| (c - b) * (c / b).ln()).sum()
}

#[test]
fn drift_psi_matches_an_independent_computation() {
    let d = drift_data();
    let base = scored(&d.path("base.jsonl"));
    let base_scores: Vec<f64> = base.iter().map(|s| s.0).collect();
    for (file, shift) in [("same.jsonl", "stable"), ("quiet.jsonl", "major")] {
        let report = drift(file);
        let current = scored(&d.path(file));
        let current_scores: Vec<f64> = current.iter().map(|s| s.0).collect();
        let expected = independent_psi(&base_scores, &current_scores);
        let psi = report["psi"].as_f64().unwrap();
        assert!((psi - expected).abs() < 1e-9, "{file}: {psi} vs {expected}");
        assert_eq!(report["shift"], shift, "{file}: PSI {psi}");
        // The MQL rate and every rule's fire rate on both sides.
        for (side, leads) in [("baseline", &base), ("current", &current)] {
            let mql = leads.iter().filter(|l| l.1).count() as u64;
            assert_eq!(report[side]["mql"], mql, "{file} {side}");
            for rule in report["rules"].as_array().unwrap() {
                let name = rule["rule"].as_str().unwrap();
                let fired = leads.iter().filter(|l| l.2.iter().any(|r| r == name)).count();
                let rate = rule[format!("{side}_rate")].as_f64().unwrap();
                assert!(
                    (rate - fired as f64 / leads.len() as f64).abs() < 1e-12,
                    "{file} {side} {name}"
                );
            }
        }
    }
}

#[test]
fn drift_flags_the_rules_that_moved_and_writes_html() {
    let quiet = drift("quiet.jsonl");
    let moved = |name: &str| {
        quiet["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["rule"] == name)
            .unwrap()["significant"]
            .as_bool()
            .unwrap()
    };
    assert!(
        moved("Demo request") && moved("Blog reader"),
        "fewer events, fewer behaviours"
    );
    assert!(!moved("Senior title"), "titles did not change");
    assert_eq!(quiet["mql_significant"], true);
    let fields = quiet["fields"].as_array().unwrap();
    assert!(
        fields.iter().all(|f| f["shift"] == "stable"),
        "the fields are drawn alike: {fields:?}"
    );
    assert!(
        !fields.iter().any(|f| f["field"] == "id"),
        "the id is not a distribution"
    );
    let d = drift_data();
    let html = d.path("drift.html");
    let (base, current) = (d.path("base.jsonl"), d.path("quiet.jsonl"));
    let run = leadscore(
        &[
            "drift",
            "--pack",
            "rules/b2b-saas",
            "--as-of",
            AS_OF,
            "--html",
            &html,
            &base,
            &current,
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("score PSI") && run.stdout.contains("major shift"),
        "{}",
        run.stdout
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg role=\"img\" aria-label=") && page.contains("<th>score band</th>"));
    let one = leadscore(&["drift", "--pack", "rules/b2b-saas", &base], "");
    assert_eq!(one.code, 2);
    assert!(one.stderr.contains("BASELINE CURRENT"), "{}", one.stderr);
}
