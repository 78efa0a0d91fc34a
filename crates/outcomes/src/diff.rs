//! What changing a pack does to real leads: the same leads scored by two packs, MQLs
//! gained and lost, routes and disqualifications changed, how scores moved, the first
//! leads that cross the MQL line each way and, with outcomes, both packs' AUC, precision
//! and recall. Accumulated lead by lead ([`Diff::add`]); the report is built once
//! ([`Diff::report`]).

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::backtest::{opt, signed};
use super::label::Label;
use super::metrics;
use super::rows::Facts;
use super::{num, pct};
use leadscore::Outcome;

/// Leads listed per direction of crossing the MQL line.
pub const EXAMPLES: usize = 10;

/// The running comparison.
#[derive(Clone, Debug, Default)]
pub struct Diff {
    leads: u64,
    failed: u64,
    gained: u64,
    lost: u64,
    both: u64,
    routes: BTreeMap<(Option<String>, Option<String>), u64>,
    disqualified: BTreeMap<(Option<String>, Option<String>), u64>,
    deltas: Vec<f64>,
    up: Vec<Crossing>,
    down: Vec<Crossing>,
    /// Labelled leads.
    labelled: Vec<Labelled>,
    unlabelled: u64,
}

/// A labelled lead: (score, MQL) with each pack, and its outcome.
#[derive(Clone, Copy, Debug)]
struct Labelled {
    a: (f64, bool),
    b: (f64, bool),
    positive: bool,
}

/// A lead that crossed the MQL line.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Crossing {
    /// Its id (or its number in the input, from 1).
    pub id: serde_json::Value,
    /// Score with pack A.
    pub old: f64,
    /// Score with pack B.
    pub new: f64,
    /// The rules that differ: `+rule` fired only with B, `-rule` only with A,
    /// `rule: +5 → +10` fired with both for different points.
    pub rules: Vec<String>,
}

impl Diff {
    /// Counts one lead scored by both packs.
    pub fn add(&mut self, facts: &Facts, a: &Outcome, b: &Outcome) {
        self.leads += 1;
        match (a.mql, b.mql) {
            (false, true) => self.gained += 1,
            (true, false) => self.lost += 1,
            (true, true) => self.both += 1,
            (false, false) => {}
        }
        let owned = |text: Option<&str>| text.map(str::to_string);
        if a.route() != b.route() {
            *self.routes.entry((owned(a.route()), owned(b.route()))).or_default() += 1;
        }
        if a.disqualified() != b.disqualified() {
            *self
                .disqualified
                .entry((owned(a.disqualified()), owned(b.disqualified())))
                .or_default() += 1;
        }
        self.deltas.push(b.score - a.score);
        let list = match (a.mql, b.mql) {
            (false, true) => Some(&mut self.up),
            (true, false) => Some(&mut self.down),
            _ => None,
        };
        if let Some(list) = list.filter(|l| l.len() < EXAMPLES) {
            list.push(Crossing {
                id: facts.id.clone().unwrap_or_else(|| serde_json::Value::from(self.leads)),
                old: a.score,
                new: b.score,
                rules: rule_changes(a, b),
            });
        }
        match facts.label {
            Label::Unlabelled => self.unlabelled += 1,
            label => self.labelled.push(Labelled {
                a: (a.score, a.mql),
                b: (b.score, b.mql),
                positive: label == Label::Positive,
            }),
        }
    }

    /// Counts a lead that either pack could not score.
    pub fn fail(&mut self) {
        self.failed += 1;
    }

    /// The report, pack A against pack B.
    pub fn report(&self, a: String, b: String, with_outcomes: bool) -> DiffReport {
        let mut sorted = self.deltas.clone();
        sorted.sort_by(f64::total_cmp);
        let quantile = |q: f64| (!sorted.is_empty()).then(|| sorted[((sorted.len() - 1) as f64 * q).round() as usize]);
        let changed = sorted.iter().filter(|d| **d != 0.0).count() as u64;
        let mean = (!sorted.is_empty()).then(|| sorted.iter().sum::<f64>() / sorted.len() as f64);
        let pairs = |m: &BTreeMap<(Option<String>, Option<String>), u64>| {
            let mut v: Vec<Change> = m
                .iter()
                .map(|((from, to), &count)| Change {
                    from: from.clone(),
                    to: to.clone(),
                    count,
                })
                .collect();
            v.sort_by(|x, y| y.count.cmp(&x.count).then(x.from.cmp(&y.from)).then(x.to.cmp(&y.to)));
            v
        };
        DiffReport {
            a,
            b,
            leads: self.leads,
            failed: self.failed,
            mql_a: self.both + self.lost,
            mql_b: self.both + self.gained,
            gained: self.gained,
            lost: self.lost,
            routes_changed: self.routes.values().sum(),
            routes: pairs(&self.routes),
            disqualified_changed: self.disqualified.values().sum(),
            disqualified: pairs(&self.disqualified),
            score_change: ScoreChange {
                changed,
                mean,
                min: quantile(0.0),
                p10: quantile(0.1),
                median: quantile(0.5),
                p90: quantile(0.9),
                max: quantile(1.0),
                buckets: buckets(&sorted),
            },
            crossed_up: self.up.clone(),
            crossed_down: self.down.clone(),
            outcomes: with_outcomes.then(|| self.outcomes()),
            warnings: volume_warning(self.both + self.lost, self.both + self.gained),
        }
    }

    fn outcomes(&self) -> Outcomes {
        let side = |pick: fn(&Labelled) -> (f64, bool)| {
            let scored: Vec<(f64, bool)> = self.labelled.iter().map(|r| (pick(r).0, r.positive)).collect();
            let mql = self.labelled.iter().filter(|r| pick(r).1).count() as u64;
            let hit = self.labelled.iter().filter(|r| pick(r).1 && r.positive).count() as u64;
            let positives = self.labelled.iter().filter(|r| r.positive).count() as u64;
            Side {
                auc: metrics::auc(&scored),
                mql,
                precision: metrics::ratio(hit, mql),
                recall: metrics::ratio(hit, positives),
            }
        };
        Outcomes {
            labelled: self.labelled.len() as u64,
            unlabelled: self.unlabelled,
            positives: self.labelled.iter().filter(|r| r.positive).count() as u64,
            a: side(|r| r.a),
            b: side(|r| r.b),
        }
    }
}

/// The rules whose firing differs between two outcomes of one lead.
fn rule_changes(a: &Outcome, b: &Outcome) -> Vec<String> {
    let key = |f: leadscore::Fired| (f.rule().to_string(), f.points());
    let in_a: BTreeMap<String, f64> = a.fired().map(key).collect();
    let in_b: BTreeMap<String, f64> = b.fired().map(key).collect();
    let mut out = Vec::new();
    for (rule, pa) in &in_a {
        match in_b.get(rule) {
            None => out.push(format!("-{rule}")),
            Some(pb) if pb != pa => out.push(format!("{rule}: {} → {}", signed(*pa), signed(*pb))),
            Some(_) => {}
        }
    }
    out.extend(in_b.keys().filter(|r| !in_a.contains_key(*r)).map(|r| format!("+{r}")));
    out
}

/// Edges of the score-change buckets.
const EDGES: [f64; 8] = [-50.0, -20.0, -5.0, 0.0, 0.0, 5.0, 20.0, 50.0];

fn buckets(sorted: &[f64]) -> Vec<Bucket> {
    let labels = [
        "≤ -50",
        "-50 … -20",
        "-20 … -5",
        "-5 … 0",
        "unchanged",
        "0 … 5",
        "5 … 20",
        "20 … 50",
        "≥ 50",
    ];
    let index = |d: f64| -> usize {
        if d == 0.0 {
            4
        } else if d < 0.0 {
            EDGES[..4].iter().filter(|&&e| d > e).count()
        } else {
            5 + EDGES[5..].iter().filter(|&&e| d >= e).count()
        }
    };
    let mut counts = [0u64; 9];
    for &d in sorted {
        counts[index(d)] += 1;
    }
    labels
        .iter()
        .zip(counts)
        .map(|(label, count)| Bucket {
            change: label.to_string(),
            count,
        })
        .collect()
}

/// The warning when B's MQLs are more than [`metrics::VOLUME_WARNING`] times A's, or less
/// than A's divided by it.
fn volume_warning(a: u64, b: u64) -> Vec<String> {
    metrics::volume_jump(a, b)
        .map(|ratio| {
            let times = if ratio.is_finite() {
                format!(" ({}×)", num((ratio * 10.0).round() / 10.0))
            } else {
                String::new()
            };
            format!("B makes {b} MQLs where A makes {a}{times}: make sure sales can take the change before switching")
        })
        .into_iter()
        .collect()
}

/// The comparison of two packs over the same leads (the `--json` shape).
#[derive(Clone, Debug, Serialize)]
pub struct DiffReport {
    /// Pack A, `name@version`.
    pub a: String,
    /// Pack B.
    pub b: String,
    /// Leads scored by both.
    pub leads: u64,
    /// Leads either pack could not score.
    pub failed: u64,
    /// MQLs with A.
    pub mql_a: u64,
    /// MQLs with B.
    pub mql_b: u64,
    /// MQLs with B only.
    pub gained: u64,
    /// MQLs with A only.
    pub lost: u64,
    /// Leads routed differently (including to or from no route).
    pub routes_changed: u64,
    /// Route changes, most common first.
    pub routes: Vec<Change>,
    /// Leads disqualified differently.
    pub disqualified_changed: u64,
    /// Disqualification changes, most common first.
    pub disqualified: Vec<Change>,
    /// How scores moved (B − A).
    pub score_change: ScoreChange,
    /// The first leads that became MQLs.
    pub crossed_up: Vec<Crossing>,
    /// The first leads that stopped being MQLs.
    pub crossed_down: Vec<Crossing>,
    /// With `--outcome`: both packs against the outcomes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcomes: Option<Outcomes>,
    /// What to check before switching: B multiplies or divides the MQLs by more than
    /// [`super::metrics::VOLUME_WARNING`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A change from one value to another, and how many leads made it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    /// With A (`None`, JSON `null`: no route or not disqualified; `—` in text).
    pub from: Option<String>,
    /// With B.
    pub to: Option<String>,
    /// Leads.
    pub count: u64,
}

/// The distribution of score changes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScoreChange {
    /// Leads whose score changed.
    pub changed: u64,
    /// Mean change.
    pub mean: Option<f64>,
    /// Smallest change.
    pub min: Option<f64>,
    /// 10th percentile.
    pub p10: Option<f64>,
    /// Median.
    pub median: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// Largest change.
    pub max: Option<f64>,
    /// Counts by size of change.
    pub buckets: Vec<Bucket>,
}

/// Leads whose score moved by an amount in a range.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bucket {
    /// The range.
    pub change: String,
    /// Leads.
    pub count: u64,
}

/// Both packs against the outcomes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcomes {
    /// Labelled leads.
    pub labelled: u64,
    /// Unlabelled leads (left out).
    pub unlabelled: u64,
    /// Converted leads.
    pub positives: u64,
    /// Pack A.
    pub a: Side,
    /// Pack B.
    pub b: Side,
}

/// One pack against the outcomes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Side {
    /// AUC of its score.
    pub auc: Option<f64>,
    /// Its MQLs among labelled leads.
    pub mql: u64,
    /// Converted MQLs / MQLs.
    pub precision: Option<f64>,
    /// Converted MQLs / converted leads.
    pub recall: Option<f64>,
}

impl fmt::Display for DiffReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "A = {}\nB = {}", self.a, self.b)?;
        writeln!(f, "{} leads scored by both, {} failed", self.leads, self.failed)?;
        writeln!(
            f,
            "MQLs: {} → {}  ({} gained, {} lost)",
            self.mql_a, self.mql_b, self.gained, self.lost
        )?;
        writeln!(f, "routes changed: {}", self.routes_changed)?;
        let none = |o: &Option<String>| o.clone().unwrap_or_else(|| "—".to_string());
        for c in self.routes.iter().take(10) {
            writeln!(f, "  {:>7}  {} → {}", c.count, none(&c.from), none(&c.to))?;
        }
        writeln!(f, "disqualifications changed: {}", self.disqualified_changed)?;
        for c in self.disqualified.iter().take(10) {
            writeln!(f, "  {:>7}  {} → {}", c.count, none(&c.from), none(&c.to))?;
        }
        let s = &self.score_change;
        let show = |x: Option<f64>| x.map_or_else(|| "—".to_string(), num);
        writeln!(
            f,
            "score change (B − A): {} leads changed; min {}, p10 {}, median {}, mean {}, p90 {}, max {}",
            s.changed,
            show(s.min),
            show(s.p10),
            show(s.median),
            show(s.mean),
            show(s.p90),
            show(s.max)
        )?;
        let most = s.buckets.iter().map(|b| b.count).max().unwrap_or(0).max(1);
        for b in &s.buckets {
            let bar = "█".repeat((b.count * 40).div_ceil(most) as usize);
            let line = format!("  {:>10}  {:>7}  {bar}", b.change, b.count);
            writeln!(f, "{}", line.trim_end())?;
        }
        for (title, list) in [
            ("became MQLs", &self.crossed_up),
            ("stopped being MQLs", &self.crossed_down),
        ] {
            writeln!(f, "first leads that {title}:")?;
            if list.is_empty() {
                writeln!(f, "  none")?;
            }
            for c in list {
                let id = match &c.id {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let why = if c.rules.is_empty() {
                    "same rules; the MQL condition moved".to_string()
                } else {
                    c.rules.join(", ")
                };
                writeln!(f, "  {id}: {} → {}  {why}", num(c.old), num(c.new))?;
            }
        }
        if let Some(o) = &self.outcomes {
            writeln!(
                f,
                "against the outcomes ({} labelled, {} converted, {} unlabelled)",
                o.labelled, o.positives, o.unlabelled
            )?;
            writeln!(
                f,
                "  {:<4} {:>6} {:>7} {:>10} {:>7}",
                "pack", "AUC", "MQLs", "precision", "recall"
            )?;
            for (name, side) in [("A", &o.a), ("B", &o.b)] {
                writeln!(
                    f,
                    "  {:<4} {:>6} {:>7} {:>10} {:>7}",
                    name,
                    opt(side.auc, 3),
                    side.mql,
                    pct(side.precision),
                    pct(side.recall)
                )?;
            }
        }
        for warning in &self.warnings {
            writeln!(f, "\nwarning: {warning}")?;
        }
        Ok(())
    }
}
