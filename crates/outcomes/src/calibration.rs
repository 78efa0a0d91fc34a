//! What a score means as a chance of converting: `fit` fits a logistic curve of the
//! outcome on the fitted pack's score and writes it as the pack's `calibrate` statement;
//! `backtest` of a calibrated pack checks it still holds — a reliability table (predicted
//! against observed per score band) and the Brier score.

use std::fmt;

use serde::Serialize;

use super::fit::{Design, Logistic};
use super::metrics;
use super::rows::{Row, Rows};
use super::{num, pct};
use leadscore::Calibration;
use leadscore::{Sources, Span};

/// Fits the chance of converting as a logistic curve in the score, over the rows `keep`
/// picks: `None` when they hold one class only, or the score does not rank them (a slope
/// of 0 or less). The curve is written at the median score (a whole number), where the
/// chance is neither tiny nor certain, so the rounded percentage keeps its precision.
///
/// ```
/// use leadscore_outcomes::{calibration, Facts, Label, Rows, Rules};
/// let pack = leadscore::Pack::from_source("demo", "title ~ VP => +20")?;
/// let (rules, mut rows) = (Rules::of(&pack), Rows::default());
/// let at = leadscore::parse_time("2026-01-01T00:00:00Z").unwrap();
/// // VPs convert 1 in 2, the others 1 in 5: 20 points multiply the odds by 4.
/// for (title, won, n) in [("VP", true, 50), ("VP", false, 50), ("Intern", true, 20), ("Intern", false, 80)] {
///     let outcome = pack.score(&serde_json::json!({"title": title}), at)?;
///     let label = if won { Label::Positive } else { Label::Negative };
///     for _ in 0..n { rows.add(&rules, &Facts { label, outcome: None, at: 0, by: None, id: None }, &outcome); }
/// }
/// let c = calibration::fit(&rows, |_| true).unwrap();
/// assert!((c.double - 10.0).abs() < 0.05, "{c}");
/// assert!((c.probability(20.0) - 0.5).abs() < 1e-3 && (c.probability(0.0) - 0.2).abs() < 1e-3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn fit(rows: &Rows, keep: impl Fn(&Row) -> bool) -> Option<Calibration> {
    let kept: Vec<&Row> = rows.rows.iter().filter(|r| keep(r)).collect();
    let mut design = Design::new(1);
    for r in &kept {
        design.push([(0, r.score)], r.positive);
    }
    let regression = Logistic::fit(&design, 0.0).ok()?;
    let slope = regression.coefficients.first().copied()?;
    if !(slope > 0.0 && slope.is_finite() && regression.intercept.is_finite()) {
        return None;
    }
    let mut scores: Vec<f64> = kept.iter().map(|r| r.score).collect();
    scores.sort_by(f64::total_cmp);
    let at = scores.get(scores.len() / 2).copied().unwrap_or(0.0).round();
    let p = 1.0 / (1.0 + (-(regression.intercept + slope * at)).exp());
    let percent = (p * 10_000.0).round() / 100.0;
    let double = (std::f64::consts::LN_2 / slope * 10.0).round() / 10.0;
    (percent > 0.0 && percent < 100.0 && double > 0.0).then_some(Calibration { at, percent, double })
}

/// The edit that writes `calibration` into a pack: in place of its `calibrate` statement,
/// or appended (with a comment) to the file that holds its MQL condition (else the first).
pub fn edit(sources: &Sources, calibration: &Calibration) -> Option<(Span, String)> {
    let mut ast = leadscore::ast::Ast::default();
    for (i, file) in sources.files().iter().enumerate() {
        leadscore::syntax::parse_file(i as u32, &file.text, &mut ast, &mut Vec::new());
    }
    use leadscore::ast::StatementKind;
    if let Some(s) = ast
        .statements
        .iter()
        .find(|s| matches!(s.kind, StatementKind::Calibrate { .. }))
    {
        return Some((s.span, calibration.to_string()));
    }
    let file = ast
        .statements
        .iter()
        .find(|s| matches!(s.kind, StatementKind::Threshold(_) | StatementKind::Mql(_)))
        .map_or(0, |s| s.span.file);
    let text = &sources.files().get(file as usize)?.text;
    let newline = if text.is_empty() || text.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    Some((
        Span::new(file, text.len(), text.len()),
        format!("{newline}\n# The chance of converting a score means, fitted by `leadscore fit`.\n{calibration}\n"),
    ))
}

/// How well a calibrated pack's chances match the outcomes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reliability {
    /// The `calibrate` statement.
    pub statement: String,
    /// Per equal-count score band, highest first.
    pub bands: Vec<ReliabilityBand>,
    /// The mean squared difference between the chance and the outcome (0 is perfect).
    pub brier: Option<f64>,
    /// The Brier score of giving every lead the base rate, for comparison.
    pub brier_base_rate: Option<f64>,
}

/// One band: the mean chance the pack gave and the share that converted.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReliabilityBand {
    /// Its lowest score.
    pub min: f64,
    /// Its highest score.
    pub max: f64,
    /// Leads in it.
    pub count: u64,
    /// The mean chance the calibration gave them.
    pub predicted: f64,
    /// The share that converted.
    pub observed: f64,
    /// |observed − predicted| is more than three times its standard error
    /// (`√(predicted · (1 − predicted) / count)`).
    pub off: bool,
}

impl Reliability {
    /// The reliability of `calibration` over the labelled rows, in `n` equal-count bands.
    pub fn of(rows: &Rows, calibration: &Calibration, n: usize) -> Reliability {
        let mut scored: Vec<(f64, bool)> = rows.rows.iter().map(|r| (r.score, r.positive)).collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        let n = n.clamp(1, scored.len().max(1));
        let bands = (0..n)
            .filter_map(|k| {
                let part = &scored[k * scored.len() / n..(k + 1) * scored.len() / n];
                let count = part.len() as f64;
                (!part.is_empty()).then(|| {
                    let predicted = part.iter().map(|s| calibration.probability(s.0)).sum::<f64>() / count;
                    let observed = part.iter().filter(|s| s.1).count() as f64 / count;
                    let se = (predicted * (1.0 - predicted) / count).sqrt();
                    ReliabilityBand {
                        min: part.last().map_or(0.0, |s| s.0),
                        max: part.first().map_or(0.0, |s| s.0),
                        count: part.len() as u64,
                        predicted,
                        observed,
                        off: (observed - predicted).abs() > 3.0 * se,
                    }
                })
            })
            .collect();
        let base = metrics::ratio(rows.positives(), rows.rows.len() as u64);
        let brier_of = |p: &dyn Fn(f64) -> f64| {
            (!scored.is_empty()).then(|| {
                scored
                    .iter()
                    .map(|&(s, y)| (p(s) - f64::from(u8::from(y))).powi(2))
                    .sum::<f64>()
                    / scored.len() as f64
            })
        };
        Reliability {
            statement: calibration.to_string(),
            bands,
            brier: brier_of(&|s| calibration.probability(s)),
            brier_base_rate: base.and_then(|b| brier_of(&|_| b)),
        }
    }
}

impl fmt::Display for Reliability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "\ncalibration ({})", self.statement)?;
        writeln!(
            f,
            "  {:<15} {:>8} {:>10} {:>9}",
            "score", "leads", "predicted", "observed"
        )?;
        for b in &self.bands {
            let flag = if b.off {
                "  ! off by more than 3 standard errors"
            } else {
                ""
            };
            writeln!(
                f,
                "  {:<15} {:>8} {:>10} {:>9}{flag}",
                format!("{} … {}", num(b.min), num(b.max)),
                b.count,
                pct(Some(b.predicted)),
                pct(Some(b.observed))
            )?;
        }
        let show = |x: Option<f64>| x.map_or_else(|| "—".to_string(), |x| format!("{x:.4}"));
        writeln!(
            f,
            "  Brier score {} (the base rate alone: {}; lower is better)",
            show(self.brier),
            show(self.brier_base_rate)
        )
    }
}
