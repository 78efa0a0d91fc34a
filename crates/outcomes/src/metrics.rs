//! The numbers a backtest reports, each a small function over scores and labels: ROC AUC
//! in its Mann–Whitney form, precision/recall/lift, equal-count bands, the threshold sweep
//! and its recommendation, and the two-proportion test that decides `contradicts`.

use serde::Serialize;

/// ROC AUC of `score` against the label: the chance a random converted lead outscores a
/// random other one, ties counted half (the Mann–Whitney U over average ranks). `None`
/// when either class is empty.
///
/// ```
/// let auc = leadscore_outcomes::metrics::auc(&[(3.0, true), (2.0, false), (2.0, true), (1.0, false)]);
/// assert_eq!(auc, Some(0.875));
/// ```
pub fn auc(scored: &[(f64, bool)]) -> Option<f64> {
    let positives = scored.iter().filter(|s| s.1).count();
    let negatives = scored.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let mut sorted: Vec<(f64, bool)> = scored.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j < sorted.len() && sorted[j].0 == sorted[i].0 {
            j += 1;
        }
        // Ranks i+1 ..= j share their average.
        let average = (i + 1 + j) as f64 / 2.0;
        rank_sum += average * sorted[i..j].iter().filter(|s| s.1).count() as f64;
        i = j;
    }
    let (p, n) = (positives as f64, negatives as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// `part / whole`, or `None` for an empty whole.
pub fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The harmonic mean of precision and recall.
pub fn f1(precision: Option<f64>, recall: Option<f64>) -> Option<f64> {
    match (precision, recall) {
        (Some(p), Some(r)) if p + r > 0.0 => Some(2.0 * p * r / (p + r)),
        (Some(_), Some(_)) => Some(0.0),
        _ => None,
    }
}

/// The z statistic of the difference between two proportions `x1/n1` and `x2/n2`, with
/// the pooled standard error; `None` when a group is empty or the pooled rate is 0 or 1.
///
/// ```
/// let z = leadscore_outcomes::metrics::two_proportion_z(30, 100, 50, 100).unwrap();
/// assert!((z + 2.8868).abs() < 1e-4);
/// ```
pub fn two_proportion_z(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<f64> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (p1, p2) = (x1 as f64 / n1 as f64, x2 as f64 / n2 as f64);
    let pooled = (x1 + x2) as f64 / (n1 + n2) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
    (se > 0.0).then(|| (p1 - p2) / se)
}

/// |z| above this is significant at 95% (two-sided).
pub const Z_95: f64 = 1.959_964;

/// One lead as the sweep sees it: score, converted, and whether a threshold can make it an
/// MQL (it is not disqualified).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Its score.
    pub score: f64,
    /// It converted.
    pub positive: bool,
    /// Not disqualified.
    pub eligible: bool,
}

/// One threshold of the sweep: `score >= threshold` and not disqualified.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ThresholdRow {
    /// The threshold.
    pub threshold: f64,
    /// MQLs at it.
    pub mql: u64,
    /// Converted MQLs / MQLs.
    pub precision: Option<f64>,
    /// Converted MQLs / converted leads.
    pub recall: Option<f64>,
    /// Harmonic mean of the two.
    pub f1: Option<f64>,
    /// Precision / base rate.
    pub lift: Option<f64>,
}

/// The most thresholds a sweep lists; more distinct scores are sampled evenly.
pub const SWEEP_ROWS: usize = 200;

/// The sweep over every distinct score of an eligible lead (or [`SWEEP_ROWS`] of them,
/// evenly spread, when there are more), lowest threshold first: an MQL at each is a lead
/// with `score >= threshold`.
pub fn sweep(points: &[Point]) -> Vec<ThresholdRow> {
    sweep_by(points, false)
}

/// [`sweep`] for `score > threshold` when `above`: each row's threshold is the next lower
/// distinct score (one below the lowest for the row of every eligible lead), so the rule
/// written with it picks exactly the row's MQLs.
///
/// ```
/// use leadscore_outcomes::metrics::{sweep_by, Point};
/// let points: Vec<Point> = [0.0, 5.0, 10.0, 15.0].iter().map(|&score| Point { score, positive: score >= 10.0, eligible: true }).collect();
/// let rows = sweep_by(&points, true);
/// let thresholds: Vec<(f64, u64)> = rows.iter().map(|r| (r.threshold, r.mql)).collect();
/// assert_eq!(thresholds, [(-1.0, 4), (0.0, 3), (5.0, 2), (10.0, 1)]);
/// ```
pub fn sweep_by(points: &[Point], above: bool) -> Vec<ThresholdRow> {
    let total_positives = points.iter().filter(|p| p.positive).count() as u64;
    let base = ratio(total_positives, points.len() as u64);
    let mut eligible: Vec<(f64, bool)> = points
        .iter()
        .filter(|p| p.eligible)
        .map(|p| (p.score, p.positive))
        .collect();
    // Highest first: the MQLs at a threshold are a prefix.
    eligible.sort_by(|a, b| b.0.total_cmp(&a.0));
    // (threshold, MQLs, converted MQLs) for every distinct score.
    let mut steps: Vec<(f64, u64, u64)> = Vec::new();
    let (mut mql, mut converted) = (0u64, 0u64);
    for (i, &(score, positive)) in eligible.iter().enumerate() {
        mql += 1;
        converted += u64::from(positive);
        if eligible.get(i + 1).is_none_or(|next| next.0 != score) {
            steps.push((score, mql, converted));
        }
    }
    steps.reverse();
    if above {
        let lower: Vec<f64> = std::iter::once(steps.first().map_or(0.0, |s| s.0 - 1.0))
            .chain(steps.iter().map(|s| s.0))
            .collect();
        for (step, below) in steps.iter_mut().zip(lower) {
            step.0 = below;
        }
    }
    if steps.len() > SWEEP_ROWS {
        let last = steps.len() - 1;
        steps = (0..SWEEP_ROWS).map(|k| steps[k * last / (SWEEP_ROWS - 1)]).collect();
    }
    steps
        .into_iter()
        .map(|(threshold, mql, converted)| {
            let precision = ratio(converted, mql);
            let recall = ratio(converted, total_positives);
            ThresholdRow {
                threshold,
                mql,
                precision,
                recall,
                f1: f1(precision, recall),
                lift: precision.zip(base).and_then(|(p, b)| (b > 0.0).then(|| p / b)),
            }
        })
        .collect()
}

/// How to recommend a threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Goal {
    /// The F1-maximising threshold (the highest, among equals).
    F1,
    /// The lowest threshold whose precision is at least this.
    MinPrecision(f64),
    /// The highest-recall threshold whose MQLs per week, on average over `weeks`, stay
    /// within `per_week`.
    Capacity {
        /// MQLs sales can work per week.
        per_week: f64,
        /// Weeks the leads span.
        weeks: f64,
    },
}

/// A recommended threshold and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recommended {
    /// The threshold (`None`: no threshold meets the goal).
    pub threshold: Option<f64>,
    /// Why it was chosen, in words.
    pub reason: String,
}

/// Picks a threshold from a sweep for a goal.
pub fn recommend(sweep: &[ThresholdRow], goal: Goal) -> Recommended {
    let show = |x: f64| super::num(x);
    match goal {
        Goal::F1 => {
            let best = sweep
                .iter()
                .filter(|r| r.f1.is_some())
                .fold(None::<&ThresholdRow>, |best, r| match best {
                    Some(b) if b.f1 > r.f1 => Some(b),
                    _ => Some(r),
                });
            match best {
                Some(r) => Recommended {
                    threshold: Some(r.threshold),
                    reason: format!("the highest F1 ({})", show(r.f1.unwrap_or(0.0))),
                },
                None => none("no threshold has an F1 (no converted leads)"),
            }
        }
        Goal::MinPrecision(p) => match sweep.iter().find(|r| r.precision.is_some_and(|x| x >= p)) {
            Some(r) => Recommended {
                threshold: Some(r.threshold),
                reason: format!(
                    "the lowest threshold with precision at least {} ({}, recall {})",
                    show(p),
                    show(r.precision.unwrap_or(0.0)),
                    show(r.recall.unwrap_or(0.0))
                ),
            },
            None => none(&format!("no threshold reaches precision {}", show(p))),
        },
        Goal::Capacity { per_week, weeks } => match sweep.iter().find(|r| r.mql as f64 / weeks.max(1.0) <= per_week) {
            Some(r) => Recommended {
                threshold: Some(r.threshold),
                reason: format!(
                    "the highest recall ({}) with at most {} MQLs a week ({} over {} weeks)",
                    show(r.recall.unwrap_or(0.0)),
                    show(per_week),
                    show(r.mql as f64 / weeks.max(1.0)),
                    show(weeks.max(1.0))
                ),
            },
            None => none(&format!(
                "every threshold gives more than {} MQLs a week",
                show(per_week)
            )),
        },
    }
}

fn none(reason: &str) -> Recommended {
    Recommended {
        threshold: None,
        reason: reason.to_string(),
    }
}

/// One equal-count score band.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Band {
    /// Its lowest score.
    pub min: f64,
    /// Its highest score.
    pub max: f64,
    /// Leads in it.
    pub count: u64,
    /// Converted leads in it.
    pub positives: u64,
    /// Conversion rate.
    pub rate: Option<f64>,
    /// Rate / base rate.
    pub lift: Option<f64>,
    /// Share of all converted leads in this band and the ones above it.
    pub cumulative_recall: Option<f64>,
}

/// `n` bands of (nearly) equal count, highest scores first; leads with the same score keep
/// their input order, so a tie may straddle two bands.
pub fn bands(scored: &[(f64, bool)], n: usize) -> Vec<Band> {
    let mut sorted: Vec<(f64, bool)> = scored.to_vec();
    // Stable: equal scores stay in input order.
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let n = n.clamp(1, sorted.len().max(1));
    let total_positives = sorted.iter().filter(|s| s.1).count() as u64;
    let base = ratio(total_positives, sorted.len() as u64);
    let mut seen = 0;
    (0..n)
        .filter_map(|k| {
            let part = &sorted[k * sorted.len() / n..(k + 1) * sorted.len() / n];
            let count = part.len() as u64;
            let positives = part.iter().filter(|s| s.1).count() as u64;
            seen += positives;
            let rate = ratio(positives, count);
            (count > 0).then(|| Band {
                min: part.last().map_or(0.0, |s| s.0),
                max: part.first().map_or(0.0, |s| s.0),
                count,
                positives,
                rate,
                lift: rate.zip(base).and_then(|(r, b)| (b > 0.0).then(|| r / b)),
                cumulative_recall: ratio(seen, total_positives),
            })
        })
        .collect()
}

/// A point of a curve whose axes are both shares (0 to 1).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CurvePoint {
    /// Across.
    pub x: f64,
    /// Up.
    pub y: f64,
}

/// The most points a curve keeps (evenly spread, ends included).
pub const CURVE_POINTS: usize = 200;

/// The ROC curve: for each distinct score taken as the threshold, highest first, the share
/// of other leads at or above it (`x`, the false positive rate) and of converted ones
/// (`y`, the true positive rate), from (0, 0) to (1, 1). Its area is [`auc`] (ties are a
/// diagonal step). Empty when either class is.
///
/// ```
/// use leadscore_outcomes::metrics::roc;
/// let curve = roc(&[(3.0, true), (2.0, false), (2.0, true), (1.0, false)]);
/// let xy: Vec<(f64, f64)> = curve.iter().map(|p| (p.x, p.y)).collect();
/// assert_eq!(xy, [(0.0, 0.0), (0.0, 0.5), (0.5, 1.0), (1.0, 1.0)]);
/// ```
pub fn roc(scored: &[(f64, bool)]) -> Vec<CurvePoint> {
    let positives = scored.iter().filter(|s| s.1).count() as f64;
    let negatives = scored.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return Vec::new();
    }
    let mut sorted: Vec<(f64, bool)> = scored.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut points = vec![CurvePoint { x: 0.0, y: 0.0 }];
    let (mut tp, mut fp) = (0.0, 0.0);
    for (i, &(score, positive)) in sorted.iter().enumerate() {
        if positive {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        if sorted.get(i + 1).is_none_or(|next| next.0 != score) {
            points.push(CurvePoint {
                x: fp / negatives,
                y: tp / positives,
            });
        }
    }
    thin(points)
}

/// Cumulative gains: after the top `x` share of leads by score (`n` even steps from 0 to
/// 1), the share `y` of all converted leads among them. Leads with equal scores keep their
/// input order, as in [`bands`]. Empty without converted leads.
///
/// ```
/// use leadscore_outcomes::metrics::gains;
/// let curve = gains(&[(3.0, true), (2.0, false), (2.0, true), (1.0, false)], 2);
/// let xy: Vec<(f64, f64)> = curve.iter().map(|p| (p.x, p.y)).collect();
/// assert_eq!(xy, [(0.0, 0.0), (0.5, 0.5), (1.0, 1.0)]);
/// ```
pub fn gains(scored: &[(f64, bool)], n: usize) -> Vec<CurvePoint> {
    let positives = scored.iter().filter(|s| s.1).count();
    if positives == 0 {
        return Vec::new();
    }
    let mut sorted: Vec<(f64, bool)> = scored.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut seen = vec![0usize; sorted.len() + 1];
    for (i, s) in sorted.iter().enumerate() {
        seen[i + 1] = seen[i] + usize::from(s.1);
    }
    let n = n.max(1);
    (0..=n)
        .map(|k| CurvePoint {
            x: k as f64 / n as f64,
            y: seen[k * sorted.len() / n] as f64 / positives as f64,
        })
        .collect()
}

/// At most [`CURVE_POINTS`] of a curve's points, evenly spread, the first and last kept.
fn thin(points: Vec<CurvePoint>) -> Vec<CurvePoint> {
    if points.len() <= CURVE_POINTS {
        return points;
    }
    let last = points.len() - 1;
    (0..CURVE_POINTS)
        .map(|k| points[k * last / (CURVE_POINTS - 1)])
        .collect()
}

/// The Wilson score interval at 95% of a proportion `x / n`; `None` when `n` is 0.
///
/// ```
/// let (low, high) = leadscore_outcomes::metrics::wilson(30, 100).unwrap();
/// assert!((low - 0.2189).abs() < 1e-4 && (high - 0.3958).abs() < 1e-4);
/// ```
pub fn wilson(x: u64, n: u64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let (n, p, z) = (n as f64, x as f64 / n as f64, Z_95);
    let centre = p + z * z / (2.0 * n);
    let spread = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    let denominator = 1.0 + z * z / n;
    Some(((centre - spread) / denominator, (centre + spread) / denominator))
}

/// A change of MQL volume beyond this factor, either way, is worth a warning: sales get
/// half as many again, or a third fewer.
pub const VOLUME_WARNING: f64 = 1.5;

/// The factor by which the MQLs changed from `old` to `new`, when it is beyond
/// [`VOLUME_WARNING`] either way (or some MQLs where there were none: infinite).
///
/// ```
/// use leadscore_outcomes::metrics::volume_jump;
/// assert_eq!(volume_jump(322, 3664).map(|r| (r * 10.0).round() / 10.0), Some(11.4));
/// assert_eq!(volume_jump(100, 140), None);
/// assert_eq!(volume_jump(100, 60), Some(0.6));
/// ```
pub fn volume_jump(old: u64, new: u64) -> Option<f64> {
    let ratio = new as f64 / old as f64;
    let jumped = if old == 0 {
        new > 0
    } else {
        !(1.0 / VOLUME_WARNING..=VOLUME_WARNING).contains(&ratio)
    };
    jumped.then_some(ratio)
}

/// One bin of the score distribution.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bin {
    /// Its lowest score (inclusive).
    pub min: f64,
    /// Its highest score (exclusive, but inclusive for the last bin).
    pub max: f64,
    /// Converted leads in it.
    pub positives: u64,
    /// Other leads in it.
    pub negatives: u64,
}

/// The score distribution of converted and other leads in `n` equal-width bins.
pub fn histogram(scored: &[(f64, bool)], n: usize) -> Vec<Bin> {
    let Some(min) = scored.iter().map(|s| s.0).min_by(f64::total_cmp) else {
        return Vec::new();
    };
    let max = scored.iter().map(|s| s.0).max_by(f64::total_cmp).unwrap_or(min);
    let n = if max > min { n.max(1) } else { 1 };
    let width = (max - min) / n as f64;
    let mut bins: Vec<Bin> = (0..n)
        .map(|k| Bin {
            min: min + k as f64 * width,
            max: if k + 1 == n { max } else { min + (k + 1) as f64 * width },
            positives: 0,
            negatives: 0,
        })
        .collect();
    for &(score, positive) in scored {
        let k = if width > 0.0 {
            (((score - min) / width) as usize).min(n - 1)
        } else {
            0
        };
        if positive {
            bins[k].positives += 1;
        } else {
            bins[k].negatives += 1;
        }
    }
    bins
}
