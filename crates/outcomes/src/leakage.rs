//! Suspected leakage: columns that predict the outcome too well to be known before it.
//!
//! A CRM export often holds columns a sales rep fills in *after* talking to the lead —
//! X Education's `Tags` (`Closed by Horizzon`: 241 of 241 converted) or `Lead Quality`.
//! Rules on them score a lead on its own outcome: the held-out AUC looks superb and the
//! pack is worthless on new leads. Credit-scorecard practice treats an information value
//! above 0.5 as "suspicious, too good to be true"; a single value that converts at 98% or
//! more, or 2% or less, over 50 or more leads is the other tell.
//!
//! [`screen`] splits `fit --suggest`'s candidate columns into the ones it may propose and
//! the suspected ones (unless allowed by name); [`of_rules`] holds the pack's own rules to
//! the same test for `backtest`. Fewer than 50 labelled leads are too few to judge.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::rows::{Rows, Rules};
use super::suggest::{information_value, Candidate};
use super::{num, pct};

/// A column whose information value is above this is suspected.
pub const MAX_IV: f64 = 0.5;
/// A value converting at this rate or more is suspected …
pub const HIGH_RATE: f64 = 0.98;
/// … or at this rate or less …
pub const LOW_RATE: f64 = 0.02;
/// … over at least this many leads.
pub const MIN_LEADS: u64 = 50;

/// A column (a field, an event type, or an event type's property) suspected of leakage.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Leak {
    /// The field (`Tags`), event type (`did "x"`) or event property (`x.prop`); for the
    /// pack's own rules, the rule's name.
    pub column: String,
    /// The column's information value (over its values, or its numeric bins).
    pub iv: f64,
    /// Its values converting at ≥ 98% or ≤ 2% over at least 50 leads, highest rate first.
    pub values: Vec<LeakValue>,
    /// Named by `--allow-column`: reported, but still proposed.
    pub allowed: bool,
}

/// One value of a suspected column, with its figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LeakValue {
    /// The condition (`Tags == "Closed by Horizzon"`).
    pub condition: String,
    /// Labelled leads it holds for.
    pub leads: u64,
    /// Of which converted.
    pub positives: u64,
    /// positives / leads.
    pub rate: f64,
}

/// The suspected columns of a report, printed one line per column.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Leaks(pub Vec<Leak>);

impl Leaks {
    /// No column is suspected.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Splits candidate columns into those `fit --suggest` may propose and the suspected ones,
/// judged over every labelled row. A suspected column's candidates are left out unless its
/// name is in `allow` (then it is still reported, marked allowed).
///
/// ```
/// use leadscore_outcomes::leakage::screen;
/// use leadscore_outcomes::suggest::Candidate;
/// use leadscore_outcomes::{Label, Facts, Rows, Rules};
/// let pack = leadscore::Pack::from_source("demo", "title ~ VP => +10")?;
/// let (rules, mut rows) = (Rules::of(&pack), Rows::default());
/// for i in 0..200 {
///     let facts = Facts { label: if i % 2 == 0 { Label::Positive } else { Label::Negative }, outcome: None, at: 0, by: None, id: None };
///     rows.add(&rules, &facts, &pack.score(&serde_json::json!({}), chrono::Utc::now())?);
/// }
/// let tag = |v: &str| Candidate::Equals { field: "Tags".into(), value: v.into() };
/// let won: Vec<u32> = (0..200).step_by(2).collect();
/// let lost: Vec<u32> = (1..200).step_by(2).collect();
/// let (kept, leaks) = screen(vec![(tag("Closed"), won), (tag("Ringing"), lost)], &rows, &[]);
/// assert!(kept.is_empty());
/// assert_eq!(leaks.0[0].column, "Tags");
/// assert_eq!(leaks.0[0].values[0].rate, 1.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn screen(
    columns: Vec<(Candidate, Vec<u32>)>,
    rows: &Rows,
    allow: &[String],
) -> (Vec<(Candidate, Vec<u32>)>, Leaks) {
    let totals = Totals::of(rows);
    if !totals.enough() {
        return (columns, Leaks::default());
    }
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, (candidate, _)) in columns.iter().enumerate() {
        groups.entry(candidate.column()).or_default().push(i);
    }
    let mut suspected = Vec::new();
    for (column, members) in groups {
        let parts: Vec<(&Candidate, Counts)> = members
            .iter()
            .map(|&i| (&columns[i].0, totals.count(rows, &columns[i].1)))
            .collect();
        if let Some(leak) = judge(column, &parts, &totals, allow) {
            suspected.push(leak);
        }
    }
    let left_out = |c: &Candidate| suspected.iter().any(|l| !l.allowed && l.column == c.column());
    let kept = columns.into_iter().filter(|(c, _)| !left_out(c)).collect();
    (kept, Leaks(suspected))
}

/// The pack's own rules held to the same test: a rule whose fired/not split has an
/// information value above 0.5, or that fired for at least 50 leads converting at ≥ 98%
/// or ≤ 2% (not ≤ 2% for a disqualifying rule: that is what it is for).
pub fn of_rules(rows: &Rows, rules: &Rules) -> Leaks {
    let totals = Totals::of(rows);
    if !totals.enough() {
        return Leaks::default();
    }
    let mut fired = vec![Counts::default(); rules.rules.len()];
    for (i, row) in rows.rows.iter().enumerate() {
        for &(rule, _) in rows.hits(i) {
            if let Some(c) = fired.get_mut(rule as usize) {
                c.add(row.positive);
            }
        }
    }
    let leaks = rules
        .rules
        .iter()
        .zip(fired)
        .filter_map(|(rule, counts)| {
            let iv = counts.iv(&totals);
            // A disqualifying rule is meant to pick leads that do not convert.
            let values: Vec<LeakValue> = extreme(&counts)
                .filter(|&rate| rate >= HIGH_RATE || rule.disqualify.is_none())
                .map(|rate| LeakValue {
                    condition: "when it fired".to_string(),
                    leads: counts.leads,
                    positives: counts.positives,
                    rate,
                })
                .into_iter()
                .collect();
            (iv > MAX_IV || !values.is_empty()).then(|| Leak {
                column: rule.name.to_string(),
                iv,
                values,
                allowed: false,
            })
        })
        .collect();
    Leaks(leaks)
}

/// Labelled leads a condition holds for, and how many converted.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Counts {
    leads: u64,
    positives: u64,
}

impl Counts {
    fn add(&mut self, positive: bool) {
        self.leads += 1;
        self.positives += u64::from(positive);
    }

    fn negatives(&self) -> u64 {
        self.leads - self.positives
    }

    /// The information value of the split this condition makes.
    fn iv(&self, totals: &Totals) -> f64 {
        information_value(self.positives, self.negatives(), totals.positives, totals.negatives)
    }
}

/// Converted and other labelled leads.
struct Totals {
    positives: u64,
    negatives: u64,
}

impl Totals {
    fn of(rows: &Rows) -> Totals {
        let positives = rows.positives();
        Totals {
            positives,
            negatives: rows.rows.len() as u64 - positives,
        }
    }

    /// Fewer than 50 labelled leads tell nothing: every split of a handful looks strong.
    fn enough(&self) -> bool {
        self.positives + self.negatives >= MIN_LEADS
    }

    fn count(&self, rows: &Rows, hit: &[u32]) -> Counts {
        let mut counts = Counts::default();
        for &r in hit {
            if let Some(row) = rows.rows.get(r as usize) {
                counts.add(row.positive);
            }
        }
        counts
    }

    /// One group's term of an information value, smoothed as
    /// [`information_value`] smooths it.
    fn term(&self, group: Counts) -> f64 {
        let (p, n) = (self.positives as f64 + 1.0, self.negatives as f64 + 1.0);
        let (sp, sn) = ((group.positives as f64 + 0.5) / p, (group.negatives() as f64 + 0.5) / n);
        (sp - sn) * (sp / sn).ln()
    }
}

/// The rate of a condition, when it holds for at least 50 leads converting at ≥ 98% or ≤ 2%.
fn extreme(counts: &Counts) -> Option<f64> {
    let rate = counts.positives as f64 / counts.leads as f64;
    (counts.leads >= MIN_LEADS && (rate >= HIGH_RATE || rate <= LOW_RATE)).then_some(rate)
}

/// Whether one column is suspected, and its figures.
fn judge(column: String, parts: &[(&Candidate, Counts)], totals: &Totals, allow: &[String]) -> Option<Leak> {
    let iv = column_iv(parts, totals);
    let mut values: Vec<LeakValue> = parts
        .iter()
        .filter_map(|(candidate, counts)| {
            extreme(counts).map(|rate| LeakValue {
                condition: candidate.condition(),
                leads: counts.leads,
                positives: counts.positives,
                rate,
            })
        })
        .collect();
    // Values that convert first (what a suggestion would give points to), then by rate.
    values.sort_by(|a, b| {
        b.rate
            .total_cmp(&a.rate)
            .then(b.leads.cmp(&a.leads))
            .then_with(|| a.condition.cmp(&b.condition))
    });
    (iv > MAX_IV || !values.is_empty()).then(|| Leak {
        allowed: allow.iter().any(|a| a == &column),
        column,
        iv,
        values,
    })
}

/// A column's information value: over its values and the leads with none (a field), over
/// the bins its cut points make (a number), or the best split of its conditions (an event
/// type or property, whose values a lead may have several of).
fn column_iv(parts: &[(&Candidate, Counts)], totals: &Totals) -> f64 {
    match parts.first().map(|p| p.0) {
        Some(Candidate::Equals { .. }) => {
            let mut rest = Counts {
                leads: totals.positives + totals.negatives,
                positives: totals.positives,
            };
            let mut iv = 0.0;
            for (_, counts) in parts {
                iv += totals.term(*counts);
                rest.leads = rest.leads.saturating_sub(counts.leads);
                rest.positives = rest.positives.saturating_sub(counts.positives);
            }
            iv + if rest.leads > 0 { totals.term(rest) } else { 0.0 }
        }
        Some(Candidate::AtLeast { .. }) => binned_iv(parts, totals),
        _ => parts.iter().map(|(_, c)| c.iv(totals)).fold(0.0, f64::max),
    }
}

/// The information value over the bins of a numeric column: `[cut_k, cut_k+1)`, and below
/// the lowest cut (with the leads that have no number).
fn binned_iv(parts: &[(&Candidate, Counts)], totals: &Totals) -> f64 {
    let mut cuts: Vec<(f64, Counts)> = parts
        .iter()
        .filter_map(|(c, counts)| match c {
            Candidate::AtLeast { cut, .. } => Some((*cut, *counts)),
            _ => None,
        })
        .collect();
    cuts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut above = Counts::default();
    let mut iv = 0.0;
    // From the highest cut down: each bin is the leads at or above its cut, less those above.
    for (_, at_least) in cuts.iter().rev() {
        let bin = Counts {
            leads: at_least.leads.saturating_sub(above.leads),
            positives: at_least.positives.saturating_sub(above.positives),
        };
        iv += totals.term(bin);
        above = *at_least;
    }
    let below = Counts {
        leads: (totals.positives + totals.negatives).saturating_sub(above.leads),
        positives: totals.positives.saturating_sub(above.positives),
    };
    iv + totals.term(below)
}

impl fmt::Display for Leak {
    /// One line: the column, its figures, and what was done with it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: information value {:.2}", self.column, self.iv)?;
        if self.iv > MAX_IV {
            write!(f, " (above {})", num(MAX_IV))?;
        }
        for v in self.values.iter().take(3) {
            write!(
                f,
                "; {} {} of {} converted ({})",
                v.condition,
                v.positives,
                v.leads,
                pct(Some(v.rate))
            )?;
        }
        if self.values.len() > 3 {
            write!(f, "; {} more such values", self.values.len() - 3)?;
        }
        Ok(())
    }
}

impl Leaks {
    /// The lines of `fit --suggest`: each column and whether it was left out.
    pub fn fmt_candidates(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return Ok(());
        }
        writeln!(
            f,
            "\nsuspected leakage (information value above {}, or a value converting at ≥ {} or ≤ {} over {}+ leads):",
            num(MAX_IV),
            pct(Some(HIGH_RATE)),
            pct(Some(LOW_RATE)),
            MIN_LEADS
        )?;
        for leak in &self.0 {
            let done = if leak.allowed {
                "kept (--allow-column)".to_string()
            } else {
                format!("left out (--allow-column {:?} to keep it)", leak.column)
            };
            writeln!(f, "  ! {leak} — {done}")?;
        }
        writeln!(
            f,
            "  a column filled in after the outcome (a sales rep's tags, a lead quality) scores leads on their outcome"
        )
    }

    /// The lines of `backtest`: the pack's rules that look too good to be true.
    pub fn fmt_rules(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return Ok(());
        }
        writeln!(
            f,
            "\nsuspected leakage: rules that predict too well (information value above {}, or converting at ≥ {} or ≤ {} over {}+ leads)",
            num(MAX_IV),
            pct(Some(HIGH_RATE)),
            pct(Some(LOW_RATE)),
            MIN_LEADS
        )?;
        for leak in &self.0 {
            writeln!(f, "  ! {leak}")?;
        }
        writeln!(
            f,
            "  check that what they read is known before the outcome (not filled in by sales afterwards)"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Facts, Label};

    fn rows(labels: &[bool]) -> (Rows, Rules) {
        let pack = leadscore::Pack::from_source("t", "title ~ VP => +1").unwrap();
        let rules = Rules::of(&pack);
        let mut rows = Rows::default();
        let outcome = pack.score(&serde_json::json!({}), chrono::Utc::now()).unwrap();
        for &positive in labels {
            let label = if positive { Label::Positive } else { Label::Negative };
            let facts = Facts {
                label,
                outcome: None,
                at: 0,
                by: None,
                id: None,
            };
            rows.add(&rules, &facts, &outcome);
        }
        (rows, rules)
    }

    #[test]
    fn a_numeric_column_is_binned_at_its_cuts() {
        // 100 leads, value = i; converted when i >= 50.
        let labels: Vec<bool> = (0..100).map(|i| i >= 50).collect();
        let (rows, _) = rows(&labels);
        let at = |cut: f64| {
            (
                Candidate::AtLeast { field: "x".into(), cut },
                (cut as u32..100).collect::<Vec<u32>>(),
            )
        };
        let (kept, leaks) = screen(vec![at(25.0), at(50.0), at(75.0)], &rows, &[]);
        assert!(kept.is_empty());
        // Bins [75,100): 25 pos; [50,75): 25 pos; [25,50): 25 neg; below: 25 neg.
        let (p, n) = (51.0, 51.0);
        let term = |pos: f64, neg: f64| {
            let (a, b) = ((pos + 0.5) / p, (neg + 0.5) / n);
            (a - b) * (a / b).ln()
        };
        let expected = 2.0 * term(25.0, 0.0) + 2.0 * term(0.0, 25.0);
        assert!((leaks.0[0].iv - expected).abs() < 1e-12);
    }

    #[test]
    fn an_allowed_column_is_reported_and_kept() {
        let labels: Vec<bool> = (0..100).map(|i| i % 2 == 0).collect();
        let (rows, _) = rows(&labels);
        let won: Vec<u32> = (0..100).step_by(2).collect();
        let candidate = Candidate::Equals {
            field: "Tags".into(),
            value: "Won".into(),
        };
        let (kept, leaks) = screen(vec![(candidate, won)], &rows, &["Tags".to_string()]);
        assert_eq!(kept.len(), 1);
        assert!(leaks.0[0].allowed);
    }

    #[test]
    fn a_weak_column_is_not_suspected() {
        let labels: Vec<bool> = (0..400).map(|i| i % 4 == 0).collect();
        let (rows, _) = rows(&labels);
        // Holds for the first half: converts at the base rate.
        let half: Vec<u32> = (0..200).collect();
        let candidate = Candidate::Did {
            event_type: "chat".into(),
        };
        let (kept, leaks) = screen(vec![(candidate, half)], &rows, &[]);
        assert_eq!(kept.len(), 1);
        assert!(leaks.is_empty());
    }
}
