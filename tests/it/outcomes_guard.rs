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

// ---- calibration ----

/// A pack fitted on generated leads (it carries a `calibrate` statement), and fresh leads
/// from another seed to check it on.
fn calibrated() -> &'static (Data, String) {
    static FITTED: OnceLock<(Data, String)> = OnceLock::new();
    FITTED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        gen(&dir, "train.jsonl", &["--leads", "8000", "--seed", "11", "--outcomes"]);
        gen(&dir, "fresh.jsonl", &["--leads", "10000", "--seed", "12", "--outcomes"]);
        let d = Data { dir };
        let (out, train) = (d.path("fitted"), d.path("train.jsonl"));
        let args = [
            "fit",
            "--pack",
            "rules/b2b-saas",
            "--outcome",
            "converted",
            "--as-of-field",
            "judged_at",
            "--json",
            "-o",
            &out,
            &train,
        ];
        let report = json(&leadscore(&args, ""));
        let statement = report["calibration"].as_str().expect("a calibration").to_string();
        (d, statement)
    })
}

/// `calibrate at S = P%, D points double the odds`, read here: (S, P / 100, D).
fn parse_calibration(statement: &str) -> (f64, f64, f64) {
    let words: Vec<&str> = statement.split_whitespace().collect();
    assert_eq!(
        (words[0], words[1], words[3], &words[6..]),
        ("calibrate", "at", "=", &["points", "double", "the", "odds"][..]),
        "{statement}"
    );
    let at: f64 = words[2].parse().unwrap();
    let p: f64 = words[4].trim_end_matches("%,").parse().unwrap();
    (at, p / 100.0, words[5].parse().unwrap())
}

#[test]
fn fit_writes_a_calibration_that_checks_and_holds_on_fresh_leads() {
    let (d, statement) = calibrated();
    let pack = d.path("fitted");
    let text: String = std::fs::read_dir(&pack)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rules"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert_eq!(text.matches("calibrate at").count(), 1, "{text}");
    assert!(text.contains(statement.as_str()));
    assert_eq!(leadscore(&["check", &pack], "").code, 0);
    let line = text.lines().find(|l| l.starts_with("calibrate")).unwrap();
    assert_eq!(
        leadscore::format(line).unwrap(),
        format!("{line}\n"),
        "written in the canonical layout"
    );
    let (at, p0, double) = parse_calibration(statement);
    let chance = |score: f64| {
        let z = (p0 / (1.0 - p0)).ln() + (score - at) * std::f64::consts::LN_2 / double;
        1.0 / (1.0 + (-z).exp())
    };
    // Every result of the calibrated pack carries its chance (scored through the library,
    // each lead as of its own `judged_at`).
    let fresh = d.path("fresh.jsonl");
    let loaded = leadscore::Loader::new().load(std::path::Path::new(&pack)).unwrap();
    let mut scored: Vec<(f64, f64, bool)> = leads(&fresh)
        .iter()
        .map(|lead| {
            let at = leadscore::parse_time(lead["judged_at"].as_str().unwrap()).unwrap();
            let r = loaded.score(lead, at).unwrap();
            let p = r.probability.expect("a calibrated pack gives a probability");
            assert!(
                (p - chance(r.score)).abs() < 1e-4,
                "score {}: {p} vs {}",
                r.score,
                chance(r.score)
            );
            (r.score, p, lead["converted"].as_bool().unwrap())
        })
        .collect();
    // Five equal-count bands of fresh leads, highest scores first: the observed rate is
    // within three standard errors of the mean chance.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let n = scored.len();
    let bands: Vec<(f64, f64, usize)> = (0..5)
        .map(|k| {
            let part = &scored[k * n / 5..(k + 1) * n / 5];
            let len = part.len() as f64;
            let predicted = part.iter().map(|s| s.1).sum::<f64>() / len;
            let observed = part.iter().filter(|s| s.2).count() as f64 / len;
            let se = (predicted * (1.0 - predicted) / len).sqrt();
            assert!(
                (observed - predicted).abs() < 3.0 * se,
                "band {k}: observed {observed}, predicted {predicted} ± {se}"
            );
            (predicted, observed, part.len())
        })
        .collect();
    assert!(bands[0].0 > 2.0 * bands[4].0, "the chances rank the leads: {bands:?}");
    // The backtest's reliability table says the same.
    let args = [
        "backtest",
        "--pack",
        &pack,
        "--outcome",
        "converted",
        "--as-of-field",
        "judged_at",
        "--bands",
        "5",
        "--json",
        &fresh,
    ];
    let report = json(&leadscore(&args, ""));
    let reliability = &report["calibration"];
    assert_eq!(reliability["statement"], statement.as_str());
    for (got, (predicted, observed, count)) in reliability["bands"].as_array().unwrap().iter().zip(&bands) {
        assert_eq!(got["count"], *count);
        assert!((got["predicted"].as_f64().unwrap() - predicted).abs() < 1e-4, "{got}");
        assert!((got["observed"].as_f64().unwrap() - observed).abs() < 1e-12, "{got}");
    }
    let html = d.path("fresh.html");
    let mut with_html = args.to_vec();
    with_html.splice(args.len() - 2..args.len() - 1, ["--html", html.as_str()]);
    assert_eq!(leadscore(&with_html, "").code, 0);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("<h2 id=\"calibration\">") && page.contains("aria-label=\"predicted against observed"),
        "the reliability chart and its table"
    );
    let brier = scored
        .iter()
        .map(|s| (s.1 - f64::from(u8::from(s.2))).powi(2))
        .sum::<f64>()
        / n as f64;
    assert!((reliability["brier"].as_f64().unwrap() - brier).abs() < 1e-4);
    assert!(brier < reliability["brier_base_rate"].as_f64().unwrap());
}

#[test]
fn a_pack_without_calibrate_gives_no_probability() {
    let run = leadscore(
        &["score", "--pack", "rules/b2b-saas", "--as-of", AS_OF],
        "{\"title\": \"VP Sales\"}\n",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stdout.contains("probability"), "{}", run.stdout);
}

// ---- learned decay ----

/// SplitMix64: the test's own random stream.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

const DAY_MS: i64 = 86_400_000;

/// A pack with an event-driven `intent` rule (no decay) and a plain one.
const DECAY_PACK: &str = "threshold 10\ndimension intent\nrule \"Pricing\": visited /pricing => +10 intent\nrule \"VP\": title ~ VP => +10\n";

/// Leads judged at one time; three in four visited /pricing once, 0 to 40 days before.
/// The planted log-odds: −2 + 0.8 for a VP + 3 × 0.5^(age / half-life) for the visit
/// (`None`: 3 for any visit, whatever its age).
fn decay_leads(seed: u64, n: usize, half_life_days: Option<f64>) -> String {
    let judged = chrono::DateTime::parse_from_rfc3339(AS_OF).unwrap().timestamp_millis();
    let time = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let mut rng = Rng(seed);
    let mut out = String::new();
    for id in 0..n {
        let vp = rng.unit() < 0.3;
        let visited = rng.unit() < 0.75;
        let age_days = rng.unit() * 40.0;
        let visit = match (visited, half_life_days) {
            (false, _) => 0.0,
            (true, Some(h)) => 0.5f64.powf(age_days / h),
            (true, None) => 1.0,
        };
        let odds = -2.0 + 0.8 * f64::from(u8::from(vp)) + 3.0 * visit;
        let converted = rng.unit() < 1.0 / (1.0 + (-odds).exp());
        let events = if visited {
            let at = judged - (age_days * DAY_MS as f64) as i64;
            format!(r#"{{"type": "page_view", "path": "/pricing", "at": "{}"}}"#, time(at))
        } else {
            String::new()
        };
        let title = if vp { "VP Sales" } else { "Analyst" };
        out.push_str(&format!(
            r#"{{"id": {id}, "title": "{title}", "judged_at": "{}", "converted": {converted}, "events": [{events}]}}"#,
            time(judged)
        ));
        out.push('\n');
    }
    out
}

/// `fit --decay --json` of [`DECAY_PACK`] on leads planted with `half_life_days`, and
/// the fitted pack's text.
fn fit_decay(half_life_days: Option<f64>) -> (Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("pack");
    std::fs::create_dir(&pack).unwrap();
    std::fs::write(pack.join("main.rules"), DECAY_PACK).unwrap();
    let leads = dir.path().join("leads.jsonl");
    std::fs::write(&leads, decay_leads(11, 6000, half_life_days)).unwrap();
    let out = dir.path().join("fitted");
    let args = [
        "fit",
        "--pack",
        pack.to_str().unwrap(),
        "--outcome",
        "converted",
        "--as-of-field",
        "judged_at",
        "--decay",
        "--json",
        "-o",
        out.to_str().unwrap(),
        leads.to_str().unwrap(),
    ];
    let report = json(&leadscore(&args, ""));
    let text = std::fs::read_to_string(out.join("main.rules")).unwrap();
    (report, text)
}

#[test]
fn fit_decay_recovers_a_planted_half_life() {
    let (report, text) = fit_decay(Some(7.0));
    let learned = &report["decay"][0];
    assert_eq!(learned["dimension"], "intent", "{report}");
    let days = learned["half_life_days"].as_f64().unwrap();
    assert!(
        (days / 7.0 - 1.0).abs() < 0.25,
        "planted 7 days, found {days}: {learned}"
    );
    let (low, high) = (
        learned["low_days"].as_f64().unwrap(),
        learned["high_days"].as_f64().unwrap(),
    );
    assert!(
        low < days && days < high && high < 30.0,
        "a bounded interval: {learned}"
    );
    let written = learned["written"].as_str().unwrap();
    assert!(written.starts_with("decay intent half-life "), "{written}");
    assert!(text.contains(written), "written into the fitted pack:\n{text}");
    // The profile's top is the half-life reported, and it beats no decay by far.
    let profile = learned["profile"].as_array().unwrap();
    let top = profile
        .iter()
        .max_by(|a, b| a[1].as_f64().unwrap().total_cmp(&b[1].as_f64().unwrap()))
        .unwrap();
    assert_eq!(top[0].as_f64().unwrap(), days);
    assert!(learned["gain"].as_f64().unwrap() > 10.0, "{learned}");
}

#[test]
fn fit_decay_writes_none_when_no_decay_is_planted() {
    let (report, text) = fit_decay(None);
    let learned = &report["decay"][0];
    assert_eq!(learned["dimension"], "intent", "{report}");
    let kept = learned["written"].is_null() && learned["high_days"].is_null();
    let long = learned["half_life_days"].as_f64().is_some_and(|d| d > 200.0);
    assert!(
        kept || long,
        "no decay planted: none proposed, or a very long one: {learned}"
    );
    if kept {
        let note = learned["note"].as_str().unwrap();
        assert!(
            note.contains("cannot tell") || note.contains("no decay predicts"),
            "{learned}"
        );
        assert!(
            !text.contains("decay intent"),
            "the statement is left as it was:\n{text}"
        );
    }
    // The gain over no decay is small: within the interval's 1.92.
    assert!(learned["gain"].as_f64().unwrap() < 1.92, "{learned}");
}
