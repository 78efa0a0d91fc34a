//! From kept rows to new points: the train/test split, the features (one per point-giving
//! rule, plus suggested rules), the regression, the scaled integer points and the edits
//! that write them into the pack; then the report comparing old and new on held-out leads.

use std::fmt;

use serde::Serialize;

use super::backtest::{opt, recommend, signed, weeks_of, GoalSpec};
use super::decay::LearnedDecay;
use super::error::OutcomesError;
use super::fit::{scale, Design, FitError, Logistic, Z95};
use super::leakage::Leaks;
use super::metrics::{self, Point};
use super::rewrite::{points_text, Numbers};
use super::rows::{Row, Rows, Rules};
use super::suggest::Ranked;
use super::{num, pct};
use leadscore::Span;

/// How leads are split into training and held-out leads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Split {
    /// This share of leads, picked by a seeded hash of their position, is held out.
    Holdout {
        /// The share held out.
        fraction: f64,
        /// The seed.
        seed: u64,
    },
    /// Leads judged before this time (ms) train; the rest are held out.
    At(i64),
}

impl Split {
    /// Whether a row is a training row.
    pub fn is_train(&self, row: &Row) -> bool {
        match *self {
            Split::Holdout { fraction, seed } => unit_hash(seed, row.ordinal) >= fraction,
            Split::At(t) => row.at < t,
        }
    }
}

/// A uniform number in `[0, 1)` from a seed and a position (SplitMix64's finaliser).
fn unit_hash(seed: u64, n: u64) -> f64 {
    let mut z = seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

/// How to fit.
#[derive(Clone, Debug, PartialEq)]
pub struct FitOptions {
    /// Train/test split.
    pub split: Split,
    /// The L2 penalty.
    pub lambda: f64,
    /// A rule fired for fewer training leads keeps its points.
    pub min_fired: u64,
    /// How the new threshold is chosen.
    pub goal: GoalSpec,
    /// Also propose up to this many new rules (0: none).
    pub suggest: usize,
    /// Columns the leakage guard lets suggestions use although they predict too well
    /// (`--allow-column`).
    pub allow_columns: Vec<String>,
    /// Also learn each event-driven dimension's half-life (`--decay`).
    pub decay: bool,
}

impl FitOptions {
    /// Refuses options out of range, before any lead is read.
    ///
    /// ```
    /// use leadscore_outcomes::{backtest::GoalSpec, refit::{FitOptions, Split}};
    /// let mut options = FitOptions { split: Split::Holdout { fraction: 0.3, seed: 1 }, lambda: 1.0, min_fired: 30, goal: GoalSpec::F1, suggest: 0, allow_columns: vec![], decay: false };
    /// assert!(options.check().is_ok());
    /// options.lambda = f64::NAN;
    /// assert_eq!(options.check().unwrap_err().to_string(), "--lambda must be a positive, finite number, not NaN");
    /// ```
    pub fn check(&self) -> Result<(), OutcomesError> {
        let bad = |option, value: f64, expected| {
            Err(OutcomesError::Option {
                option,
                value: value.to_string(),
                expected,
            })
        };
        if !(self.lambda.is_finite() && self.lambda > 0.0) {
            return bad("--lambda", self.lambda, "a positive, finite number");
        }
        if let Split::Holdout { fraction, .. } = self.split {
            if !(0.0..1.0).contains(&fraction) {
                return bad("--holdout", fraction, "at least 0 and below 1");
            }
        }
        self.goal.check()
    }
}

/// One rule's old and new points.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PointsRow {
    /// The rule.
    pub rule: String,
    /// `file:line`.
    pub location: String,
    /// Its points now.
    pub old: f64,
    /// Its fitted points.
    pub new: f64,
    /// The fitted coefficient (log-odds per unit of the feature).
    pub coefficient: Option<f64>,
    /// Its 95% interval, in points.
    pub low: Option<f64>,
    /// Its 95% interval, in points.
    pub high: Option<f64>,
    /// Training leads it fired for.
    pub fired: u64,
    /// Its interval holds 0: the data cannot tell whether the rule raises or lowers the
    /// odds.
    pub crosses_zero: bool,
    /// Why it was not fitted, when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A suggested rule with fitted points.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SuggestedRule {
    /// Its name in `suggested.rules`: the condition in words.
    pub name: String,
    /// The condition, as rule text.
    pub condition: String,
    /// Fitted points.
    pub points: f64,
    /// Training leads it holds for.
    pub fired: u64,
    /// Of which converted.
    pub positives: u64,
    /// Their conversion rate.
    pub rate: Option<f64>,
    /// The rate of the other training leads.
    pub rate_not: Option<f64>,
    /// Information value.
    pub iv: f64,
    /// 95% interval of its points.
    pub low: f64,
    /// 95% interval of its points.
    pub high: f64,
}

/// The fitted points, before the threshold is chosen.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Per rule that gives points.
    pub points: Vec<PointsRow>,
    /// Suggested rules, with points.
    pub suggested: Vec<SuggestedRule>,
    /// Points per unit of log-odds.
    pub scale: f64,
    /// The regression.
    pub regression: Logistic,
    /// Edits to the pack's text: points and `each max` numbers.
    pub edits: Vec<(Span, String)>,
    /// Training rows.
    pub train: Vec<bool>,
    /// For each rule, its feature column, if fitted.
    columns: Vec<Option<u32>>,
    /// For each suggested rule, the rows it holds for.
    suggested_rows: Vec<Vec<u32>>,
}

impl Plan {
    /// Fits the pack's point-giving rules (and the suggested ones) on the training rows.
    pub fn fit(
        rows: &Rows,
        rules: &Rules,
        numbers: &Numbers,
        suggestions: Vec<Ranked>,
        options: &FitOptions,
    ) -> Result<Plan, FitError> {
        let train: Vec<bool> = rows.rows.iter().map(|r| options.split.is_train(r)).collect();
        let mut fired = vec![0u64; rules.rules.len()];
        for (i, _) in rows.rows.iter().enumerate().filter(|(i, _)| train[*i]) {
            for &(rule, _) in rows.hits(i) {
                fired[rule as usize] += 1;
            }
        }
        let train_count = train.iter().filter(|&&t| t).count() as u64;
        let mut columns = vec![None; rules.rules.len()];
        let mut notes = vec![None; rules.rules.len()];
        let mut next = 0u32;
        for (i, rule) in rules.rules.iter().enumerate() {
            let writable = numbers.rules.get(i).and_then(|n| n.points).is_some();
            notes[i] = match rule.points {
                None => continue,
                Some(_) if !writable => Some("its points could not be found in the text: kept".to_string()),
                Some(_) if fired[i] == train_count => Some(
                    "fired for every training lead: its points move every score alike, so the outcomes cannot tell them; kept"
                        .to_string(),
                ),
                Some(_) if fired[i] < options.min_fired => Some(format!(
                    "fired for {} training leads (fewer than {}): points kept",
                    fired[i], options.min_fired
                )),
                Some(_) => {
                    columns[i] = Some(next);
                    next += 1;
                    None
                }
            };
        }
        let rule_features = next as usize;
        let suggested_rows: Vec<Vec<u32>> = suggestions.iter().map(|s| s.rows.clone()).collect();
        let mut per_row: Vec<Vec<u32>> = vec![Vec::new(); rows.rows.len()];
        for (k, hit) in suggested_rows.iter().enumerate() {
            for &r in hit {
                per_row[r as usize].push((rule_features + k) as u32);
            }
        }
        let mut design = Design::new(rule_features + suggestions.len());
        for (i, row) in rows.rows.iter().enumerate().filter(|(i, _)| train[*i]) {
            let features = rows
                .hits(i)
                .iter()
                .filter_map(|&(rule, x)| columns[rule as usize].map(|c| (c, f64::from(x))))
                .chain(per_row[i].iter().map(|&c| (c, 1.0)));
            design.push(features, row.positive);
        }
        let regression = Logistic::fit(&design, options.lambda)?;
        let fitted_old: Vec<f64> = rules
            .rules
            .iter()
            .zip(&columns)
            .filter_map(|(r, c)| c.and(r.points))
            .collect();
        let scale = scale(&fitted_old, &regression.coefficients[..rule_features]);
        let mut edits = Vec::new();
        let mut points = Vec::new();
        for (i, rule) in rules.rules.iter().enumerate() {
            let Some(old) = rule.points else { continue };
            let column = columns[i].map(|c| c as usize);
            let coefficient = column.map(|c| regression.coefficients[c]);
            let se = column.map(|c| regression.std_errors[c]);
            let new = coefficient.map_or(old, |b| (b * scale).round());
            if let (Some(_), Some(n)) = (column, numbers.rules.get(i)) {
                edits.extend(rule_edits(n, old, new));
            }
            points.push(PointsRow {
                rule: rule.name.to_string(),
                location: rule.location.to_string(),
                old,
                new,
                coefficient,
                low: coefficient.zip(se).map(|(b, s)| (b - Z95 * s) * scale),
                high: coefficient.zip(se).map(|(b, s)| (b + Z95 * s) * scale),
                fired: fired[i],
                crosses_zero: coefficient
                    .zip(se)
                    .is_some_and(|(b, s)| (b - Z95 * s) < 0.0 && (b + Z95 * s) > 0.0),
                note: notes[i].clone(),
            });
        }
        let suggested = suggestions
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let (b, se) = (
                    regression.coefficients[rule_features + k],
                    regression.std_errors[rule_features + k],
                );
                SuggestedRule {
                    name: s.candidate.name(),
                    condition: s.candidate.condition(),
                    points: (b * scale).round(),
                    fired: s.fired,
                    positives: s.positives,
                    rate: metrics::ratio(s.positives, s.fired),
                    rate_not: s.rate_not,
                    iv: s.iv,
                    low: (b - Z95 * se) * scale,
                    high: (b + Z95 * se) * scale,
                }
            })
            .collect();
        Ok(Plan {
            points,
            suggested,
            scale,
            regression,
            edits,
            train,
            columns,
            suggested_rows,
        })
    }

    /// The regression's log-odds for row `i` of `rows` (the rows it was fitted on).
    pub fn log_odds(&self, rows: &Rows, i: usize) -> f64 {
        let rule_features = self.columns.iter().flatten().count();
        let mut features: Vec<(u32, f64)> = rows
            .hits(i)
            .iter()
            .filter_map(|&(rule, x)| self.columns[rule as usize].map(|c| (c, f64::from(x))))
            .collect();
        for (k, hit) in self.suggested_rows.iter().enumerate() {
            if hit.binary_search(&(i as u32)).is_ok() {
                features.push(((rule_features + k) as u32, 1.0));
            }
        }
        self.regression.log_odds(&features)
    }

    /// The regression's log-likelihood over the training rows of `rows` (without the
    /// penalty): what `fit --decay` compares half-lives by.
    pub fn train_log_likelihood(&self, rows: &Rows) -> f64 {
        (0..rows.rows.len())
            .filter(|&i| self.train[i])
            .map(|i| {
                let eta = self.log_odds(rows, i);
                // log σ(η) for a converted lead, log σ(−η) for the others, as
                // −log(1 + e^−s), written so that a large |s| stays finite.
                let s = if rows.rows[i].positive { eta } else { -eta };
                -((-s).max(0.0) + (-s.abs()).exp().ln_1p())
            })
            .sum()
    }

    /// AUC of the regression's log-odds on the held-out rows of `rows`.
    pub fn holdout_auc(&self, rows: &Rows) -> Option<f64> {
        let scored: Vec<(f64, bool)> = (0..rows.rows.len())
            .filter(|&i| !self.train[i])
            .map(|i| (self.log_odds(rows, i), rows.rows[i].positive))
            .collect();
        metrics::auc(&scored)
    }

    /// `OUT_DIR/suggested.rules`: each suggested rule with its counts and rate.
    pub fn suggested_file(&self) -> String {
        let mut text = String::from(
            "# Rules suggested by `leadscore fit --suggest`, ranked by information value and\n\
             # fitted together with the pack's rules. Delete the ones you do not want.\n",
        );
        for s in &self.suggested {
            text.push_str(&format!(
                "\n# fired for {} training leads, {} converted ({}; {} for the others); information value {:.3}\n",
                s.fired,
                s.positives,
                pct(s.rate),
                pct(s.rate_not),
                s.iv
            ));
            text.push_str(&format!(
                "rule {:?}: {} => {}\n",
                s.name,
                s.condition,
                points_text(s.points)
            ));
        }
        text
    }
}

/// The edits that give a rule its new points (and scale its `each max` with them).
fn rule_edits(n: &super::rewrite::RuleNumbers, old: f64, new: f64) -> Vec<(Span, String)> {
    let mut edits = Vec::new();
    if let Some(p) = n.points {
        edits.push((p.span, points_text(new)));
    }
    if let (Some(max), true) = (n.max, old != 0.0) {
        // The same count of events stays the cap; a cap must stay positive.
        edits.push((max.span, num((max.value * new.abs() / old.abs()).round().max(1.0))));
    }
    edits
}

/// The held-out leads scored by one pack.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Holdout {
    /// Held-out labelled leads.
    pub leads: u64,
    /// AUC of the score.
    pub auc: Option<f64>,
    /// The threshold.
    pub threshold: Option<f64>,
    /// MQLs among them.
    pub mql: u64,
    /// Those MQLs a week, where judging times are known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mql_per_week: Option<f64>,
    /// Converted MQLs / MQLs.
    pub precision: Option<f64>,
    /// Converted MQLs / converted leads.
    pub recall: Option<f64>,
}

impl Holdout {
    /// The held-out rows of `rows`.
    pub fn of(rows: &Rows, split: &Split, threshold: Option<f64>) -> Holdout {
        let test: Vec<&Row> = rows.rows.iter().filter(|r| !split.is_train(r)).collect();
        let scored: Vec<(f64, bool)> = test.iter().map(|r| (r.score, r.positive)).collect();
        let mql = test.iter().filter(|r| r.mql).count() as u64;
        let hit = test.iter().filter(|r| r.mql && r.positive).count() as u64;
        let positives = test.iter().filter(|r| r.positive).count() as u64;
        Holdout {
            leads: test.len() as u64,
            auc: metrics::auc(&scored),
            threshold,
            mql,
            mql_per_week: weeks_of(test.iter().map(|r| r.at)).map(|w| mql as f64 / w),
            precision: metrics::ratio(hit, mql),
            recall: metrics::ratio(hit, positives),
        }
    }
}

/// The threshold recommended for the refitted pack, from its training rows.
/// `above`: the pack's bound is `score > N`; `current`: the old pack's MQLs among the
/// training leads (the volume [`GoalSpec::Current`] keeps).
pub fn new_threshold(rows: &Rows, split: &Split, goal: GoalSpec, above: bool, current: u64) -> metrics::Recommended {
    let train: Vec<&Row> = rows.rows.iter().filter(|r| split.is_train(r)).collect();
    let points: Vec<Point> = train
        .iter()
        .map(|r| Point {
            score: r.score,
            positive: r.positive,
            eligible: r.held,
        })
        .collect();
    let weeks = weeks_of(train.iter().map(|r| r.at));
    recommend(&metrics::sweep_by(&points, above), goal, current, weeks).0
}

/// What `fit` did. Serialized for `--json`; `Display` is the table people read.
#[derive(Clone, Debug, Serialize)]
pub struct FitReport {
    /// The pack fitted.
    pub pack: String,
    /// Where the new pack was written.
    pub out_dir: String,
    /// Training leads.
    pub train: u64,
    /// Held-out leads.
    pub test: u64,
    /// Points per unit of log-odds.
    pub scale: f64,
    /// Points that double the odds.
    pub points_to_double_odds: f64,
    /// Old → new points per rule.
    pub rules: Vec<PointsRow>,
    /// Suggested rules.
    pub suggested: Vec<SuggestedRule>,
    /// How the new threshold was chosen.
    pub recommended: metrics::Recommended,
    /// The threshold could not be written (the pack has no `threshold` or `score >=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold_note: Option<String>,
    /// The old pack on the held-out leads.
    pub old: Holdout,
    /// The new pack on the held-out leads.
    pub new: Holdout,
    /// The fitted pack's MQL condition as written.
    pub condition: Option<String>,
    /// AUC of the unrounded regression on the held-out leads.
    pub regression_auc: Option<f64>,
    /// With `--suggest`: held-out AUC of regressions on the pack's rules alone, and on
    /// the rules plus every candidate column — how much of the gap the suggestions close.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap: Option<Gap>,
    /// With `--suggest`: candidate columns suspected of leakage (see `leakage`).
    #[serde(skip_serializing_if = "Leaks::is_empty")]
    pub leakage: Leaks,
    /// The `calibrate` statement written into the fitted pack (none when the score does
    /// not rank the training leads).
    pub calibration: Option<String>,
    /// What the reader should know before trusting the fit (most leads unlabelled).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// With `--decay`: the half-life learned for each dimension with event-driven rules.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub decay: Vec<LearnedDecay>,
}

/// Held-out AUCs that show what the suggestions are worth.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Gap {
    /// A regression on the pack's rules only.
    pub rules_only_auc: Option<f64>,
    /// A regression on the rules and every candidate column.
    pub all_columns_auc: Option<f64>,
    /// Candidate columns in that regression.
    pub columns: usize,
}

impl fmt::Display for FitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "fitted {} on {} labelled leads, {} held out; wrote {}",
            self.pack, self.train, self.test, self.out_dir
        )?;
        writeln!(
            f,
            "scale: {} points per unit of log-odds (≈ {} points double the odds), keeping the pack's total points",
            num(self.scale),
            num(self.points_to_double_odds.round())
        )?;
        let width = self
            .rules
            .iter()
            .map(|r| r.rule.chars().count())
            .max()
            .unwrap_or(0)
            .clamp(4, 40);
        writeln!(
            f,
            "\n  {:<width$} {:>6} {:>6} {:>17} {:>7}",
            "rule", "old", "new", "95% interval", "fired"
        )?;
        for r in &self.rules {
            let name: String = r.rule.chars().take(width).collect();
            let interval = match (r.low, r.high) {
                (Some(l), Some(h)) => format!("{} … {}", whole(l), whole(h)),
                _ => "—".to_string(),
            };
            let note = match (&r.note, r.crosses_zero) {
                (Some(n), _) => format!("  ({n})"),
                (None, true) => "  (? the interval holds 0: the data cannot tell its sign)".to_string(),
                (None, false) => String::new(),
            };
            writeln!(
                f,
                "  {:<width$} {:>6} {:>6} {:>17} {:>7}{note}",
                name,
                signed(r.old),
                signed(r.new),
                interval,
                r.fired
            )?;
        }
        if !self.suggested.is_empty() {
            writeln!(f, "\nsuggested rules (suggested.rules), by information value")?;
            for s in &self.suggested {
                writeln!(
                    f,
                    "  {:>5}  {}   fired {}, {} converted ({} vs {}), IV {:.3}",
                    signed(s.points),
                    s.condition,
                    s.fired,
                    s.positives,
                    pct(s.rate),
                    pct(s.rate_not),
                    s.iv
                )?;
            }
        }
        self.leakage.fmt_candidates(f)?;
        if !self.decay.is_empty() {
            writeln!(f, "\nlearned decay (half-lives that best predict the outcome)")?;
            for d in &self.decay {
                write!(f, "{d}")?;
            }
        }
        match self.recommended.threshold {
            Some(t) => writeln!(f, "\nnew threshold {}: {}", num(t), self.recommended.reason)?,
            None => writeln!(f, "\nthreshold kept: {}", self.recommended.reason)?,
        }
        if let Some(condition) = self.condition.as_ref().filter(|c| !c.starts_with("threshold ")) {
            writeln!(f, "  written as `{condition}`")?;
        }
        if let Some(note) = &self.threshold_note {
            writeln!(f, "  {note}")?;
        }
        match &self.calibration {
            Some(c) => writeln!(f, "calibration written: {c}")?,
            None => writeln!(f, "no calibration: the fitted score does not rank the training leads")?,
        }
        writeln!(f, "\nheld-out leads ({})", self.test)?;
        writeln!(
            f,
            "  {:<5} {:>9} {:>6} {:>7} {:>9} {:>10} {:>7}",
            "pack", "threshold", "AUC", "MQLs", "MQLs/week", "precision", "recall"
        )?;
        for (name, h) in [("old", &self.old), ("new", &self.new)] {
            writeln!(
                f,
                "  {:<5} {:>9} {:>6} {:>7} {:>9} {:>10} {:>7}",
                name,
                h.threshold.map_or_else(|| "—".to_string(), num),
                opt(h.auc, 3),
                h.mql,
                opt(h.mql_per_week, 1),
                pct(h.precision),
                pct(h.recall)
            )?;
        }
        writeln!(f, "  unrounded regression AUC {}", opt(self.regression_auc, 3))?;
        if let Some(g) = &self.gap {
            writeln!(
                f,
                "  regression on the rules alone {}, on the rules and all {} candidate columns {}",
                opt(g.rules_only_auc, 3),
                g.columns,
                opt(g.all_columns_auc, 3)
            )?;
        }
        for warning in &self.warnings {
            writeln!(f, "\nwarning: {warning}")?;
        }
        Ok(())
    }
}

/// A number rounded to a whole one, without a `-0`.
fn whole(x: f64) -> String {
    let r = x.round();
    if r == 0.0 {
        "0".to_string()
    } else {
        format!("{r:.0}")
    }
}
