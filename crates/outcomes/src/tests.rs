//! Every metric on the hand-computed file `tests/data/outcomes/tiny.jsonl` (its README
//! has the computation).

use super::backtest::{GoalSpec, Report, ReportOptions};
use super::metrics::{self, Goal, Point};
use super::*;

fn tiny(goal: GoalSpec) -> Report {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let pack = leadscore::Pack::load(format!("{root}/tests/data/outcomes/tiny")).unwrap();
    let text = std::fs::read_to_string(format!("{root}/tests/data/outcomes/tiny.jsonl")).unwrap();
    let reader = Reader::new(Setup {
        outcome: Some("won".into()),
        labels: Labels::default(),
        when: When::At(
            leadscore::parse_time("2026-03-01T00:00:00Z")
                .unwrap()
                .timestamp_millis(),
        ),
        by: Some("source".into()),
        id_field: "id".into(),
    });
    let (rules, mut rows) = (Rules::of(&pack), Rows::default());
    for line in text.lines() {
        match reader.judge_json(&pack, line) {
            Ok((facts, outcome)) => rows.add(&rules, &facts, &outcome),
            Err(_) => rows.fail(),
        }
    }
    let options = ReportOptions {
        bands: 3,
        goal,
        threshold: Some(20.0),
        by: Some("source".into()),
        mql: super::rewrite::numbers(pack.sources()).mql,
    };
    Report::build("tiny".into(), &rows, &rules, &options)
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn counts_auc_and_mqls() {
    let r = tiny(GoalSpec::F1);
    assert_eq!(
        (r.leads, r.labelled, r.unlabelled, r.failed, r.positives),
        (11, 9, 1, 1, 4)
    );
    assert!(close(r.base_rate, 4.0 / 9.0));
    assert!(close(r.auc, 0.775));
    assert_eq!((r.mql.count, r.mql.positives), (3, 2));
    assert!(close(r.mql.precision, 2.0 / 3.0) && close(r.mql.recall, 0.5) && close(r.mql.lift, 1.5));
    assert_eq!((r.not_mql.count, r.not_mql.positives), (6, 2));
    assert!(close(r.not_mql.rate, 1.0 / 3.0));
    assert_eq!(r.disqualified.len(), 1);
    let d = &r.disqualified[0];
    assert_eq!(
        (d.reason.as_str(), d.count, d.positives, d.above_base_rate),
        ("student", 1, 1, true)
    );
}

#[test]
fn sweep_and_recommendations() {
    let r = tiny(GoalSpec::F1);
    let rows: Vec<(f64, u64)> = r.thresholds.iter().map(|t| (t.threshold, t.mql)).collect();
    assert_eq!(rows, [(0.0, 8), (10.0, 6), (20.0, 3), (30.0, 1)]);
    let t = &r.thresholds;
    assert!(close(t[0].precision, 0.375) && close(t[0].recall, 0.75) && close(t[0].f1, 0.5));
    assert!(close(t[0].lift, 0.84375));
    assert!(close(t[1].precision, 0.5) && close(t[1].f1, 0.6) && close(t[1].lift, 1.125));
    assert!(close(t[2].f1, 4.0 / 7.0) && close(t[2].lift, 1.5));
    assert!(close(t[3].precision, 1.0) && close(t[3].recall, 0.25) && close(t[3].f1, 0.4));
    assert!(close(t[3].lift, 2.25));
    assert_eq!(r.recommended.threshold, Some(10.0));
    assert_eq!(tiny(GoalSpec::MinPrecision(0.6)).recommended.threshold, Some(20.0));
    assert_eq!(tiny(GoalSpec::MinPrecision(0.9)).recommended.threshold, Some(30.0));
    assert_eq!(tiny(GoalSpec::MinPrecision(1.01)).recommended.threshold, None);
}

#[test]
fn bands() {
    let r = tiny(GoalSpec::F1);
    let b: Vec<(f64, f64, u64, u64)> = r.bands.iter().map(|b| (b.min, b.max, b.count, b.positives)).collect();
    assert_eq!(b, [(20.0, 30.0, 3, 2), (10.0, 10.0, 3, 1), (0.0, 10.0, 3, 1)]);
    assert!(close(r.bands[0].lift, 1.5) && close(r.bands[1].lift, 0.75));
    let recall: Vec<f64> = r.bands.iter().filter_map(|b| b.cumulative_recall).collect();
    assert_eq!(recall, [0.5, 0.75, 1.0]);
}

#[test]
fn rules_and_by() {
    let r = tiny(GoalSpec::F1);
    let rules: Vec<(&str, u64, u64)> = r
        .rules
        .iter()
        .map(|x| (x.rule.as_str(), x.fired, x.positives))
        .collect();
    assert_eq!(
        rules,
        [("Senior", 4, 2), ("Big", 4, 3), ("Freemail", 1, 0), ("Student", 1, 1)]
    );
    assert!(close(r.rules[0].rate_fired, 0.5) && close(r.rules[0].rate_not_fired, 0.4));
    assert!(close(r.rules[1].rate_not_fired, 0.2) && close(r.rules[2].rate_not_fired, 0.5));
    assert!(
        r.rules.iter().all(|x| !x.contradicts),
        "nothing is significant on 9 leads"
    );
    let by = r.by.unwrap();
    assert_eq!(
        (by[0].value.as_str(), by[0].count, by[0].mql, by[0].positives),
        ("web", 5, 3, 3)
    );
    assert!(close(by[0].precision, 2.0 / 3.0) && close(by[0].recall, 2.0 / 3.0));
    assert_eq!(
        (by[1].value.as_str(), by[1].count, by[1].mql, by[1].positives),
        ("event", 4, 0, 1)
    );
    assert_eq!((by[1].precision, by[1].recall), (None, Some(0.0)));
}

#[test]
fn contradiction_needs_significance() {
    // 100 fired at 10% vs 900 not fired at 30%: z ≈ -4.1, significant.
    let z = metrics::two_proportion_z(10, 100, 270, 900).unwrap();
    assert!(z < -metrics::Z_95);
    // 5 fired at 0% vs 5 at 40%: not significant.
    assert!(metrics::two_proportion_z(0, 5, 2, 5).unwrap().abs() < metrics::Z_95);
    assert_eq!(metrics::two_proportion_z(0, 0, 2, 5), None);
}

#[test]
fn capacity_picks_the_lowest_threshold_within_it() {
    let points: Vec<Point> = (0..10)
        .map(|i| Point {
            score: f64::from(i),
            positive: i % 2 == 0,
            eligible: true,
        })
        .collect();
    let sweep = metrics::sweep(&points);
    // 2 weeks, at most 2 MQLs a week: at most 4 MQLs, so the threshold is 6 (6, 7, 8, 9).
    let r = metrics::recommend(
        &sweep,
        Goal::Capacity {
            per_week: 2.0,
            weeks: 2.0,
        },
    );
    assert_eq!(r.threshold, Some(6.0));
    let r = metrics::recommend(
        &sweep,
        Goal::Capacity {
            per_week: 0.1,
            weeks: 2.0,
        },
    );
    assert_eq!(r.threshold, None);
}

#[test]
fn auc_edge_cases() {
    assert_eq!(metrics::auc(&[(1.0, true), (1.0, false)]), Some(0.5));
    assert_eq!(metrics::auc(&[(1.0, true), (2.0, true)]), None);
    assert_eq!(metrics::auc(&[(0.0, false), (5.0, true)]), Some(1.0));
    assert_eq!(metrics::auc(&[(5.0, false), (0.0, true)]), Some(0.0));
}

#[test]
fn a_sweep_over_many_scores_is_sampled() {
    let points: Vec<Point> = (0..1000)
        .map(|i| Point {
            score: f64::from(i),
            positive: i % 3 == 0,
            eligible: true,
        })
        .collect();
    let sweep = metrics::sweep(&points);
    assert_eq!(sweep.len(), metrics::SWEEP_ROWS);
    assert_eq!((sweep[0].threshold, sweep[199].threshold), (0.0, 999.0));
}

/// A service export's line: the outcome a dotted boolean (or `null`), each lead judged as
/// of its own hand-off time; a lead never handed off has no time and no label.
#[test]
fn an_export_line_is_judged_as_of_its_handoff_by_a_dotted_boolean() {
    let pack = leadscore::Pack::from_source("p", "threshold 10\nrule \"Pricing\": visited /pricing => +10").unwrap();
    let reader = Reader::new(Setup {
        outcome: Some("sales.accepted".into()),
        labels: Labels::default(),
        when: When::Field("sales.mql_at".into()),
        by: None,
        id_field: "id".into(),
    });
    let events = r#"[{"type": "page_view", "path": "/pricing", "at": "2026-03-05T00:00:00Z"}]"#;
    let line = |sales: &str| format!(r#"{{"id": "a", "events": {events}, "sales": {sales}}}"#);
    let handed = line(r#"{"stage": "accepted", "mql_at": "2026-03-06T00:00:00.000Z", "accepted": true}"#);
    let j = reader.judge(&pack, None, Lead::Text(&handed)).unwrap();
    assert_eq!((j.facts.label, j.outcome.score), (Label::Positive, 10.0));
    let early = line(r#"{"stage": "rejected", "mql_at": "2026-03-04T00:00:00.000Z", "accepted": false}"#);
    let j = reader.judge(&pack, None, Lead::Text(&early)).unwrap();
    assert_eq!(
        (j.facts.label, j.outcome.score),
        (Label::Negative, 0.0),
        "the visit came after"
    );
    let never = line(r#"{"stage": "lead", "mql_at": null, "accepted": null}"#);
    let j = reader.judge(&pack, None, Lead::Text(&never)).unwrap();
    assert_eq!(j.facts.label, Label::Unlabelled);
    // A labelled lead without its time is still an error, and so is any lead for `facts_json`.
    let broken = line(r#"{"stage": "accepted", "mql_at": null, "accepted": true}"#);
    assert!(reader.judge(&pack, None, Lead::Text(&broken)).is_err());
    assert!(reader.facts_json(&never).is_err());
}
