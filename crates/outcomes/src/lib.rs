//! Outcomes: does a pack predict which leads convert, and what should its points be?
//!
//! The tooling behind `leadscore backtest`, `fit` and `diff`. Leads are read once and
//! reduced to [`Rows`] — score, label, MQL verdict, the rules that fired — so a million
//! leads fit in tens of megabytes; every report is then built from the rows in one place.
//!
//! ```
//! use leadscore_outcomes::{backtest::{GoalSpec, Report, ReportOptions}, Labels, Reader, Rows, Rules, Setup, When};
//! let pack = leadscore::Pack::from_source("demo", "threshold 10\ntitle ~ VP => +10")?;
//! let reader = Reader::new(Setup {
//!     outcome: Some("won".into()),
//!     labels: Labels::default(),
//!     when: When::At(leadscore::parse_time("2026-03-01T00:00:00Z").unwrap().timestamp_millis()),
//!     by: None,
//!     id_field: "id".into(),
//! });
//! let (rules, mut rows) = (Rules::of(&pack), Rows::default());
//! for lead in [r#"{"title": "VP", "won": true}"#, r#"{"title": "Intern", "won": false}"#, r#"{"title": "VP", "won": false}"#] {
//!     let (facts, outcome) = reader.judge_json(&pack, lead)?;
//!     rows.add(&rules, &facts, &outcome);
//! }
//! let options = ReportOptions { bands: 2, goal: GoalSpec::F1, threshold: Some(10.0), by: None, mql: Default::default() };
//! let report = Report::build(pack.id().to_string(), &rows, &rules, &options);
//! assert_eq!(report.auc, Some(0.75));
//! assert_eq!(report.mql.precision, Some(0.5));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod backtest;
pub mod calibration;
pub mod chart;
pub mod decay;
pub mod diff;
pub mod drift;
pub mod drift_html;
mod error;
pub mod fit;
pub mod html;
mod label;
pub mod leakage;
pub mod metrics;
mod pick;
pub mod refit;
pub mod rewrite;
mod rows;
pub mod suggest;
#[cfg(test)]
mod tests;
pub mod tune;

pub use error::OutcomesError;
pub use label::{Label, Labels, DEFAULT_NEGATIVE, DEFAULT_POSITIVE};
pub use pick::Picker;
pub use rows::{
    score_json, score_value, Facts, Judgement, Lead, Reader, Row, Rows, RuleInfo, Rules, Setup, When, NONE,
};

/// A number with at most 3 decimals and no trailing zeros: `75`, `0.5`, `12.125`.
pub(crate) fn num(x: f64) -> String {
    let text = format!("{:.3}", x);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// A rate as a percentage with one decimal, or `—`.
pub(crate) fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "—".to_string(), |x| format!("{:.1}%", 100.0 * x))
}
