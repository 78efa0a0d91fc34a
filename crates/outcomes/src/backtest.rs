//! The backtest report: built in one place ([`Report::build`]) from the kept rows, printed
//! for people (`Display`) and serialized for machines (the `--json` contract).

use std::fmt;

use serde::Serialize;

use super::calibration::Reliability;
use super::error::OutcomesError;
use super::leakage::{self, Leaks};
use super::metrics::{self, Band, Goal, Point, Recommended, ThresholdRow};
use super::rewrite::Mql;
use super::rows::{Rows, Rules, NONE};
use super::{num, pct};

/// What to report, besides the rows.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportOptions {
    /// Equal-count score bands.
    pub bands: usize,
    /// How the threshold is recommended.
    pub goal: GoalSpec,
    /// The pack's threshold (`threshold N`, or `score >= N` in its `mql when`), if any.
    pub threshold: Option<f64>,
    /// The field the `by` table is by.
    pub by: Option<String>,
    /// The pack's MQL condition ([`super::rewrite::numbers`]): how the sweep reads a
    /// threshold. The rows say whether its other parts hold ([`super::Row::held`]).
    pub mql: Mql,
}

/// The recommendation asked for; a capacity is turned into a [`Goal`] with the weeks the
/// leads span.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GoalSpec {
    /// Maximise F1.
    F1,
    /// `--min-precision P`.
    MinPrecision(f64),
    /// `--capacity N` MQLs per week.
    Capacity(f64),
    /// The default: the current MQL volume is the capacity — the highest-recall threshold
    /// that gives no more MQLs (a week, where judging times are known) than the pack does
    /// now. A pack that makes no MQLs gets the highest F1 instead.
    Current,
}

impl GoalSpec {
    /// Refuses a precision outside 0..=1 and a capacity that is not a positive number.
    ///
    /// ```
    /// use leadscore_outcomes::backtest::GoalSpec;
    /// assert!(GoalSpec::MinPrecision(0.6).check().is_ok());
    /// assert!(GoalSpec::MinPrecision(f64::NAN).check().is_err());
    /// assert!(GoalSpec::Capacity(0.0).check().is_err());
    /// ```
    pub fn check(&self) -> Result<(), OutcomesError> {
        match *self {
            GoalSpec::MinPrecision(p) if !(0.0..=1.0).contains(&p) => Err(OutcomesError::Option {
                option: "--min-precision",
                value: p.to_string(),
                expected: "between 0 and 1",
            }),
            GoalSpec::Capacity(n) if !(n.is_finite() && n > 0.0) => Err(OutcomesError::Option {
                option: "--capacity",
                value: n.to_string(),
                expected: "a positive number of MQLs a week",
            }),
            _ => Ok(()),
        }
    }
}

/// The whole backtest. Field names are the `--json` contract.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The pack, `name@version`.
    pub pack: String,
    /// Leads read.
    pub leads: u64,
    /// Leads converted or not.
    pub labelled: u64,
    /// Leads with no outcome, or one in neither list.
    pub unlabelled: u64,
    /// Leads that could not be read or scored.
    pub failed: u64,
    /// Converted leads.
    pub positives: u64,
    /// positives / labelled.
    pub base_rate: Option<f64>,
    /// ROC AUC of the score, ties counted half.
    pub auc: Option<f64>,
    /// The pack's threshold, when it has one.
    pub threshold: Option<f64>,
    /// The pack's MQL condition as written (`None`: it has none, no lead is an MQL).
    pub condition: Option<String>,
    /// The threshold of the sweep's row that holds the pack's own MQLs: the pack's own, or
    /// the row with the same MQLs when no lead scores at it.
    pub current: Option<f64>,
    /// What an MQL is at each threshold of the sweep (`score > threshold`, `mql when fit
    /// >= 20 and score >= threshold`): the pack's condition with its bound moved.
    pub swept: String,
    /// The pack's MQLs.
    pub mql: MqlStats,
    /// The others.
    pub not_mql: Group,
    /// Per disqualifying reason.
    pub disqualified: Vec<Reason>,
    /// Equal-count score bands, highest first.
    pub bands: Vec<Band>,
    /// The threshold sweep, lowest first.
    pub thresholds: Vec<ThresholdRow>,
    /// The recommended threshold.
    pub recommended: Recommended,
    /// Weeks the leads' judging times span (at least one), when they differ
    /// (`--as-of-field`): MQLs a week are MQLs over this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weeks: Option<f64>,
    /// The capacity the recommendation kept to, in MQLs a week (or in MQLs, where the
    /// judging times are not known): `--capacity`, or by default the pack's current volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<f64>,
    /// MQL volume and conversion per week of judging time (per several weeks, for long
    /// spans), where the judging times differ.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub periods: Vec<Period>,
    /// The score distribution of converted and other leads, in equal-width bins.
    pub distribution: Vec<metrics::Bin>,
    /// The ROC curve (false positive rate across, true positive rate up); its area is the AUC.
    pub roc: Vec<metrics::CurvePoint>,
    /// Cumulative gains: the share of converted leads among the top share of leads by score.
    pub gains: Vec<metrics::CurvePoint>,
    /// Per rule.
    pub rules: Vec<RuleRow>,
    /// Per `--by` value, most leads first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<Vec<ByRow>>,
    /// The `--by` field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_field: Option<String>,
    /// For a pack with a `calibrate` statement: its chances against the outcomes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Reliability>,
    /// The pack's rules that predict too well to be true (see `leakage`).
    #[serde(skip_serializing_if = "Leaks::is_empty")]
    pub leakage: Leaks,
}

/// How the pack's MQLs did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MqlStats {
    /// MQLs.
    pub count: u64,
    /// MQLs a week, where judging times are known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_week: Option<f64>,
    /// Converted MQLs.
    pub positives: u64,
    /// positives / count.
    pub precision: Option<f64>,
    /// Converted MQLs / converted leads.
    pub recall: Option<f64>,
    /// precision / base rate.
    pub lift: Option<f64>,
}

/// A group of leads and how many converted.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Group {
    /// Leads.
    pub count: u64,
    /// Converted leads.
    pub positives: u64,
    /// positives / count.
    pub rate: Option<f64>,
}

/// The leads one disqualifying reason threw away.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reason {
    /// The reason.
    pub reason: String,
    /// Leads disqualified for it.
    pub count: u64,
    /// Of which converted.
    pub positives: u64,
    /// positives / count.
    pub rate: Option<f64>,
    /// Its rate is above the base rate: the filter throws away good leads.
    pub above_base_rate: bool,
}

/// One rule against the outcomes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleRow {
    /// Its name, or its condition's text.
    pub rule: String,
    /// `file:line`.
    pub location: String,
    /// Its points (per event for `each`), if it gives any.
    pub points: Option<f64>,
    /// Labelled leads it fired for.
    pub fired: u64,
    /// Of which converted.
    pub positives: u64,
    /// Conversion rate when it fired.
    pub rate_fired: Option<f64>,
    /// Conversion rate when it did not.
    pub rate_not_fired: Option<f64>,
    /// rate_fired / base rate.
    pub lift: Option<f64>,
    /// The 95% interval of the lift: the Wilson interval of rate_fired over the base rate.
    pub lift_low: Option<f64>,
    /// The 95% interval's high end.
    pub lift_high: Option<f64>,
    /// The two-proportion z of rate_fired against rate_not_fired.
    pub z: Option<f64>,
    /// The points' sign disagrees with the data, significantly at 95%.
    pub contradicts: bool,
}

/// The leads judged in one period (a week, or several for a long span).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Period {
    /// Its first day (UTC), `2026-03-02`: periods start at the first judging time.
    pub start: String,
    /// Its length in days (7, or a multiple of 7 for a long span).
    pub days: u32,
    /// Leads judged in it.
    pub leads: u64,
    /// Of which MQLs.
    pub mql: u64,
    /// Converted MQLs.
    pub converted_mql: u64,
    /// Converted leads.
    pub positives: u64,
    /// Converted MQLs / MQLs.
    pub precision: Option<f64>,
}

/// The most periods a report lists: two years of weeks; a longer span gets longer periods.
pub const MAX_PERIODS: usize = 104;

fn periods(rows: &Rows) -> Vec<Period> {
    let Some(first) = rows.rows.iter().map(|r| r.at).min() else {
        return Vec::new();
    };
    let last = rows.rows.iter().map(|r| r.at).max().unwrap_or(first);
    let week = WEEK_MILLIS as i64;
    let weeks = ((last - first) / week + 1) as usize;
    let per = weeks.div_ceil(MAX_PERIODS).max(1);
    let length = week * per as i64;
    let mut counts = vec![(0u64, 0u64, 0u64, 0u64); ((last - first) / length + 1) as usize];
    for r in &rows.rows {
        let c = &mut counts[((r.at - first) / length) as usize];
        c.0 += 1;
        c.1 += u64::from(r.mql);
        c.2 += u64::from(r.positive);
        c.3 += u64::from(r.mql && r.positive);
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(k, (leads, mql, positives, hit))| Period {
            start: chrono::DateTime::from_timestamp_millis(first + k as i64 * length)
                .map_or_else(String::new, |t| t.format("%Y-%m-%d").to_string()),
            days: 7 * per as u32,
            leads,
            mql,
            converted_mql: hit,
            positives,
            precision: metrics::ratio(hit, mql),
        })
        .collect()
}

/// The leads of one `--by` value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ByRow {
    /// The value (`(none)` for leads without one; `(other)` for the groups past
    /// [`MAX_BY_GROUPS`], folded into one row).
    pub value: String,
    /// How many values the row holds: 1, or the number folded into `(other)`.
    pub values: u64,
    /// Leads.
    pub count: u64,
    /// Of which MQLs.
    pub mql: u64,
    /// Converted leads.
    pub positives: u64,
    /// Converted MQLs / MQLs.
    pub precision: Option<f64>,
    /// Converted MQLs / converted leads.
    pub recall: Option<f64>,
}

impl RuleRow {
    /// The lift's interval as reports show it: `1.21 … 1.60`, or `—`.
    pub fn lift_interval(&self) -> String {
        match (self.lift_low, self.lift_high) {
            (Some(l), Some(h)) => format!("{l:.2} … {h:.2}"),
            _ => "—".to_string(),
        }
    }
}

impl ByRow {
    /// The value as a report shows it: `(N other values)` for the folded row.
    pub fn label(&self) -> String {
        match self.values {
            1 => self.value.clone(),
            n => format!("({n} other values)"),
        }
    }
}

/// Steps of the gains curve: every 5% of the leads.
const GAINS_STEPS: usize = 20;

/// Bins of the score distribution.
const HISTOGRAM_BINS: usize = 24;

const WEEK_MILLIS: f64 = 7.0 * 86_400_000.0;

impl Report {
    /// The report over `rows` scored by a pack with these `rules`.
    pub fn build(pack: String, rows: &Rows, rules: &Rules, options: &ReportOptions) -> Report {
        let labelled = rows.rows.len() as u64;
        let positives = rows.positives();
        let base_rate = metrics::ratio(positives, labelled);
        let scored: Vec<(f64, bool)> = rows.rows.iter().map(|r| (r.score, r.positive)).collect();
        let points: Vec<Point> = rows
            .rows
            .iter()
            .map(|r| Point {
                score: r.score,
                positive: r.positive,
                eligible: r.held,
            })
            .collect();
        let above = options.mql.bound.is_some_and(|b| b.above);
        let thresholds = metrics::sweep_by(&points, above);
        let weeks = weeks(rows);
        let mql = mql_stats(rows, base_rate, weeks);
        let (recommended, capacity) = recommend(&thresholds, options.goal, mql.count, weeks);
        let current = options.threshold.and_then(|t| current_row(&thresholds, t, above));
        Report {
            pack,
            leads: rows.leads,
            labelled,
            unlabelled: rows.unlabelled,
            failed: rows.failed,
            positives,
            base_rate,
            auc: metrics::auc(&scored),
            threshold: options.threshold,
            current,
            condition: options.mql.text.clone(),
            swept: options.mql.swept().to_string(),
            mql,
            not_mql: not_mql(rows),
            disqualified: reasons(rows, base_rate),
            bands: metrics::bands(&scored, options.bands),
            thresholds,
            recommended,
            weeks,
            capacity,
            distribution: metrics::histogram(&scored, HISTOGRAM_BINS),
            periods: weeks.map_or_else(Vec::new, |_| periods(rows)),
            roc: metrics::roc(&scored),
            gains: metrics::gains(&scored, GAINS_STEPS),
            rules: rule_rows(rows, rules, base_rate),
            by: options.by.as_ref().map(|_| by_rows(rows)),
            by_field: options.by.clone(),
            calibration: rules.calibration.map(|c| Reliability::of(rows, &c, options.bands)),
            leakage: leakage::of_rules(rows, rules),
        }
    }
}

/// The sweep row with the same MQLs as threshold `t`: the lowest at or above it, or for
/// `score > t` the highest at or below it.
fn current_row(rows: &[ThresholdRow], t: f64, above: bool) -> Option<f64> {
    let row = if above {
        rows.iter().rev().find(|r| r.threshold <= t)
    } else {
        rows.iter().find(|r| r.threshold >= t)
    };
    row.map(|r| r.threshold)
}

/// Weeks between the first and last judging time (at least one); `None` when every lead
/// is judged at the same time (no `--as-of-field`), so nothing can be said per week.
pub fn weeks(rows: &Rows) -> Option<f64> {
    weeks_of(rows.rows.iter().map(|r| r.at))
}

/// [`weeks`] over some judging times.
pub(crate) fn weeks_of(times: impl Iterator<Item = i64>) -> Option<f64> {
    let (min, max) = times.fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
    (max > min).then(|| ((max - min) as f64 / WEEK_MILLIS).max(1.0))
}

/// The recommended threshold for `goal` over the sweep, and the capacity it kept to.
/// `current`: the pack's MQLs now; `weeks`: what the judging times span.
pub fn recommend(
    sweep: &[ThresholdRow],
    goal: GoalSpec,
    current: u64,
    weeks: Option<f64>,
) -> (Recommended, Option<f64>) {
    let span = weeks.unwrap_or(1.0);
    let capacity = |per_week| Goal::Capacity { per_week, weeks: span };
    match goal {
        GoalSpec::F1 => (metrics::recommend(sweep, Goal::F1), None),
        GoalSpec::Current if current == 0 => {
            let mut r = metrics::recommend(sweep, Goal::F1);
            r.reason = format!(
                "{}; the pack makes no MQLs now, so there is no volume to keep",
                r.reason
            );
            (r, None)
        }
        GoalSpec::MinPrecision(p) => (metrics::recommend(sweep, Goal::MinPrecision(p)), None),
        GoalSpec::Capacity(per_week) => (metrics::recommend(sweep, capacity(per_week)), Some(per_week)),
        GoalSpec::Current => {
            let per_week = current as f64 / span;
            let mut r = metrics::recommend(sweep, capacity(per_week));
            let row = sweep.iter().find(|t| Some(t.threshold) == r.threshold);
            let recall = row.and_then(|t| t.recall).map_or_else(|| "—".to_string(), num);
            r.reason = match weeks {
                Some(w) => format!(
                    "the highest recall ({recall}) with at most {} MQLs a week, the current volume over {} weeks \
                     (choose another with --capacity, --min-precision or --max-f1)",
                    num((per_week * 10.0).round() / 10.0),
                    num((w * 10.0).round() / 10.0)
                ),
                None => format!(
                    "the highest recall ({recall}) with at most {current} MQLs, the current volume \
                     (every lead is judged at the same time, so MQLs cannot be counted by the week; \
                     choose another with --capacity, --min-precision or --max-f1)"
                ),
            };
            (r, Some(per_week))
        }
    }
}

fn mql_stats(rows: &Rows, base_rate: Option<f64>, weeks: Option<f64>) -> MqlStats {
    let count = rows.rows.iter().filter(|r| r.mql).count() as u64;
    let converted = rows.rows.iter().filter(|r| r.mql && r.positive).count() as u64;
    let precision = metrics::ratio(converted, count);
    MqlStats {
        count,
        per_week: weeks.map(|w| count as f64 / w),
        positives: converted,
        precision,
        recall: metrics::ratio(converted, rows.positives()),
        lift: lift(precision, base_rate),
    }
}

fn not_mql(rows: &Rows) -> Group {
    let count = rows.rows.iter().filter(|r| !r.mql).count() as u64;
    let positives = rows.rows.iter().filter(|r| !r.mql && r.positive).count() as u64;
    Group {
        count,
        positives,
        rate: metrics::ratio(positives, count),
    }
}

pub(crate) fn lift(rate: Option<f64>, base_rate: Option<f64>) -> Option<f64> {
    rate.zip(base_rate).and_then(|(r, b)| (b > 0.0).then(|| r / b))
}

fn reasons(rows: &Rows, base_rate: Option<f64>) -> Vec<Reason> {
    let mut counts = vec![(0u64, 0u64); rows.reasons.len()];
    for r in rows.rows.iter().filter(|r| r.disqualified != NONE) {
        let c = &mut counts[r.disqualified as usize];
        c.0 += 1;
        c.1 += u64::from(r.positive);
    }
    let mut out: Vec<Reason> = rows
        .reasons
        .iter()
        .zip(counts)
        .map(|(reason, (count, positives))| {
            let rate = metrics::ratio(positives, count);
            Reason {
                reason: reason.clone(),
                count,
                positives,
                rate,
                above_base_rate: rate.zip(base_rate).is_some_and(|(r, b)| r > b),
            }
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
    out
}

fn rule_rows(rows: &Rows, rules: &Rules, base_rate: Option<f64>) -> Vec<RuleRow> {
    let mut counts = vec![(0u64, 0u64); rules.rules.len()];
    for (i, row) in rows.rows.iter().enumerate() {
        for &(rule, _) in rows.hits(i) {
            if let Some(c) = counts.get_mut(rule as usize) {
                c.0 += 1;
                c.1 += u64::from(row.positive);
            }
        }
    }
    let (labelled, positives) = (rows.rows.len() as u64, rows.positives());
    rules
        .rules
        .iter()
        .zip(counts)
        .map(|(rule, (fired, hit))| {
            let rate_fired = metrics::ratio(hit, fired);
            let interval = metrics::wilson(hit, fired);
            let rate_not_fired = metrics::ratio(positives - hit, labelled - fired);
            let z = metrics::two_proportion_z(hit, fired, positives - hit, labelled - fired);
            let significant = z.is_some_and(|z| z.abs() > metrics::Z_95);
            let contradicts = significant
                && match (rule.points, z) {
                    (Some(p), Some(z)) => (p > 0.0 && z < 0.0) || (p < 0.0 && z > 0.0),
                    _ => false,
                };
            RuleRow {
                rule: rule.name.to_string(),
                location: rule.location.to_string(),
                points: rule.points,
                fired,
                positives: hit,
                rate_fired,
                rate_not_fired,
                lift: lift(rate_fired, base_rate),
                lift_low: lift(interval.map(|i| i.0), base_rate),
                lift_high: lift(interval.map(|i| i.1), base_rate),
                z,
                contradicts,
            }
        })
        .collect()
}

/// The most `--by` groups a report lists: the largest ones; the rest are folded into one
/// `(other)` row, so a field with a value per lead gives a short report.
pub const MAX_BY_GROUPS: usize = 50;

/// One `--by` group's leads, MQLs, converted leads and converted MQLs.
type Counts = (u64, u64, u64, u64);

fn by_rows(rows: &Rows) -> Vec<ByRow> {
    // The last slot is leads without a value.
    let mut counts: Vec<Counts> = vec![(0, 0, 0, 0); rows.by_values.len() + 1];
    for r in &rows.rows {
        let slot = if r.by == NONE {
            rows.by_values.len()
        } else {
            r.by as usize
        };
        let c = &mut counts[slot];
        c.0 += 1;
        c.1 += u64::from(r.mql);
        c.2 += u64::from(r.positive);
        c.3 += u64::from(r.mql && r.positive);
    }
    let names = rows
        .by_values
        .iter()
        .map(String::as_str)
        .chain(std::iter::once("(none)"));
    let mut groups: Vec<(&str, Counts)> = names.zip(counts).filter(|(_, c)| c.0 > 0).collect();
    groups.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(b.0)));
    let folded = groups.split_off(groups.len().min(MAX_BY_GROUPS));
    let row = |value: String, values: u64, (count, mql, positives, hit): Counts| ByRow {
        value,
        values,
        count,
        mql,
        positives,
        precision: metrics::ratio(hit, mql),
        recall: metrics::ratio(hit, positives),
    };
    let mut out: Vec<ByRow> = groups.into_iter().map(|(v, c)| row(v.to_string(), 1, c)).collect();
    if !folded.is_empty() {
        let sum = folded
            .iter()
            .fold((0, 0, 0, 0), |s, (_, c)| (s.0 + c.0, s.1 + c.1, s.2 + c.2, s.3 + c.3));
        out.push(row("(other)".to_string(), folded.len() as u64, sum));
    }
    out
}

/// Thresholds the human report lists: about this many, evenly spread, plus the current
/// and the recommended one.
const SHOWN_THRESHOLDS: usize = 12;

impl Report {
    /// The sweep rows the human report shows.
    pub fn shown_thresholds(&self) -> Vec<&ThresholdRow> {
        let n = self.thresholds.len();
        let step = n.div_ceil(SHOWN_THRESHOLDS).max(1);
        let marked = |t: f64| Some(t) == self.current || Some(t) == self.recommended.threshold;
        self.thresholds
            .iter()
            .enumerate()
            .filter(|(i, r)| i % step == 0 || *i + 1 == n || marked(r.threshold))
            .map(|(_, r)| r)
            .collect()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} leads — {} labelled, {} unlabelled, {} failed",
            self.pack, self.leads, self.labelled, self.unlabelled, self.failed
        )?;
        writeln!(
            f,
            "converted  {} of {} ({})",
            self.positives,
            self.labelled,
            pct(self.base_rate)
        )?;
        writeln!(f, "AUC        {}", opt(self.auc, 3))?;
        let line = self.condition.as_deref().unwrap_or("the pack has no MQL condition");
        writeln!(f, "\nMQLs ({line}, not disqualified)")?;
        writeln!(f, "  {:<10} {:>8} {:>10} {:>7}", "", "leads", "converted", "rate")?;
        let m = &self.mql;
        let per_week = m.per_week.map_or_else(String::new, |w| {
            format!("  ({} a week over {} weeks)", opt(Some(w), 1), opt(self.weeks, 1))
        });
        writeln!(
            f,
            "  {:<10} {:>8} {:>10} {:>7}   (precision)  recall {}  lift {}{per_week}",
            "MQL",
            m.count,
            m.positives,
            pct(m.precision),
            pct(m.recall),
            opt(m.lift, 2)
        )?;
        let n = &self.not_mql;
        writeln!(
            f,
            "  {:<10} {:>8} {:>10} {:>7}",
            "not MQL",
            n.count,
            n.positives,
            pct(n.rate)
        )?;
        self.fmt_disqualified(f)?;
        self.fmt_bands(f)?;
        if let Some(c) = &self.calibration {
            write!(f, "{c}")?;
        }
        self.fmt_thresholds(f)?;
        self.fmt_periods(f)?;
        self.fmt_rules(f)?;
        self.leakage.fmt_rules(f)?;
        self.fmt_by(f)
    }
}

impl Report {
    fn fmt_disqualified(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "\ndisqualified")?;
        if self.disqualified.is_empty() {
            return writeln!(f, "  none");
        }
        let width = self
            .disqualified
            .iter()
            .map(|r| r.reason.chars().count())
            .max()
            .unwrap_or(0)
            .max(6);
        writeln!(
            f,
            "  {:<width$} {:>8} {:>10} {:>7}",
            "reason", "leads", "converted", "rate"
        )?;
        for r in &self.disqualified {
            let flag = if r.above_base_rate {
                "  ! above the base rate: this filter throws away good leads"
            } else {
                ""
            };
            writeln!(
                f,
                "  {:<width$} {:>8} {:>10} {:>7}{flag}",
                r.reason,
                r.count,
                r.positives,
                pct(r.rate)
            )?;
        }
        Ok(())
    }

    fn fmt_bands(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "\nscore bands ({} of equal count, highest first)", self.bands.len())?;
        writeln!(
            f,
            "  {:<15} {:>8} {:>10} {:>7} {:>6} {:>11}",
            "score", "leads", "converted", "rate", "lift", "cum. recall"
        )?;
        for b in &self.bands {
            let range = if b.min == b.max {
                num(b.min)
            } else {
                format!("{} – {}", num(b.min), num(b.max))
            };
            writeln!(
                f,
                "  {:<15} {:>8} {:>10} {:>7} {:>6} {:>11}",
                range,
                b.count,
                b.positives,
                pct(b.rate),
                opt(b.lift, 2),
                pct(b.cumulative_recall)
            )?;
        }
        Ok(())
    }

    fn fmt_thresholds(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.shown_thresholds();
        writeln!(
            f,
            "\nthresholds ({} of {} shown; {}, not disqualified)",
            shown.len(),
            self.thresholds.len(),
            self.swept
        )?;
        let weekly = |mql: u64| {
            self.weeks
                .map_or_else(String::new, |w| format!(" {:>9.1}", mql as f64 / w))
        };
        writeln!(
            f,
            "  {:>10} {:>8}{} {:>10} {:>7} {:>6} {:>6}",
            "threshold",
            "MQLs",
            if self.weeks.is_some() { " MQLs/week" } else { "" },
            "precision",
            "recall",
            "F1",
            "lift"
        )?;
        for r in shown {
            let mut marks = Vec::new();
            if Some(r.threshold) == self.current {
                marks.push("current");
            }
            if Some(r.threshold) == self.recommended.threshold {
                marks.push("recommended");
            }
            let marks = if marks.is_empty() {
                String::new()
            } else {
                format!("  ← {}", marks.join(", "))
            };
            writeln!(
                f,
                "  {:>10} {:>8}{} {:>10} {:>7} {:>6} {:>6}{marks}",
                num(r.threshold),
                r.mql,
                weekly(r.mql),
                pct(r.precision),
                pct(r.recall),
                opt(r.f1, 3),
                opt(r.lift, 2)
            )?;
        }
        match self.recommended.threshold {
            Some(t) => writeln!(f, "recommended threshold {}: {}", num(t), self.recommended.reason),
            None => writeln!(f, "no recommended threshold: {}", self.recommended.reason),
        }
    }

    fn fmt_periods(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(first) = self.periods.first() else {
            return Ok(());
        };
        writeln!(f, "\nby {} (of judging time)", period_name(first.days))?;
        writeln!(
            f,
            "  {:<10} {:>8} {:>7} {:>10} {:>10}",
            "from", "leads", "MQLs", "converted", "precision"
        )?;
        for p in &self.periods {
            writeln!(
                f,
                "  {:<10} {:>8} {:>7} {:>10} {:>10}",
                p.start,
                p.leads,
                p.mql,
                p.positives,
                pct(p.precision)
            )?;
        }
        Ok(())
    }

    fn fmt_rules(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "\nrules (rate = conversion rate of the labelled leads it fired / did not fire for)"
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
            "  {:<width$} {:>7} {:>7} {:>10} {:>11} {:>9} {:>6} {:>13}",
            "rule", "points", "fired", "converted", "rate fired", "rate not", "lift", "95% interval"
        )?;
        for r in &self.rules {
            let name: String = r.rule.chars().take(width).collect();
            let points = r.points.map_or_else(|| "—".to_string(), signed);
            let flag = if r.contradicts { "  ! contradicts the data" } else { "" };
            writeln!(
                f,
                "  {:<width$} {:>7} {:>7} {:>10} {:>11} {:>9} {:>6} {:>13}{flag}",
                name,
                points,
                r.fired,
                r.positives,
                pct(r.rate_fired),
                pct(r.rate_not_fired),
                opt(r.lift, 2),
                r.lift_interval()
            )?;
        }
        Ok(())
    }

    fn fmt_by(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (Some(rows), Some(field)) = (&self.by, &self.by_field) else {
            return Ok(());
        };
        writeln!(f, "\nby {field}")?;
        let width = rows
            .iter()
            .map(|r| r.label().chars().count())
            .max()
            .unwrap_or(0)
            .clamp(5, 30);
        writeln!(
            f,
            "  {:<width$} {:>8} {:>7} {:>10} {:>10} {:>7}",
            "value", "leads", "MQLs", "converted", "precision", "recall"
        )?;
        for r in rows {
            let value: String = r.label().chars().take(width).collect();
            writeln!(
                f,
                "  {:<width$} {:>8} {:>7} {:>10} {:>10} {:>7}",
                value,
                r.count,
                r.mql,
                r.positives,
                pct(r.precision),
                pct(r.recall)
            )?;
        }
        Ok(())
    }
}

/// `week`, or `4 weeks`.
pub(crate) fn period_name(days: u32) -> String {
    match days / 7 {
        1 => "week".to_string(),
        n => format!("{n} weeks"),
    }
}

/// Points with their sign: `+15`, `-30`.
pub(crate) fn signed(p: f64) -> String {
    if p >= 0.0 {
        format!("+{}", num(p))
    } else {
        num(p)
    }
}

/// A number to `digits` decimals, or `—`.
pub(crate) fn opt(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "—".to_string(), |x| format!("{x:.digits$}"))
}
