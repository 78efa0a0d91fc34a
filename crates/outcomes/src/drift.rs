//! Drift: do this quarter's leads still look like the ones the pack was tuned on?
//!
//! Each side (a baseline export and a current one) is scored by the same pack and reduced
//! to a [`Side`]: scores, MQLs, how often each rule fired, and the values of every lead
//! field. [`DriftReport::build`] then compares them in one place: the population
//! stability index (PSI) of the score over bands cut at the baseline's deciles, each
//! rule's fire rate in both with a two-proportion test, the MQL rate in both, and the
//! fields whose distribution moved most (their own PSI).
//!
//! PSI = Σ (c − b) · ln(c / b) over the bands, `b` and `c` the shares of baseline and
//! current leads in each band (a band empty on one side counts as 0.01% of its leads).
//! The usual reading: below 0.1 stable, 0.1 to 0.25 a moderate shift, above 0.25 a major
//! one.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use super::metrics::{self, Z_95};
use super::rows::Rules;
use super::{num, pct};
use leadscore::Outcome;

/// Score bands cut at the baseline's deciles (fewer when scores tie).
pub const BANDS: usize = 10;
/// PSI above this is a moderate shift …
pub const MODERATE: f64 = 0.1;
/// … and above this a major one.
pub const MAJOR: f64 = 0.25;
/// The share an empty band counts as, so the index stays finite.
const FLOOR: f64 = 1e-4;
/// A field with more distinct text values than this is an identifier, not a distribution.
const MAX_VALUES: usize = 50;
/// Fields listed in the report, most moved first.
const SHOWN_FIELDS: usize = 10;

/// The population stability index of `current` against `baseline`, counts per band.
///
/// ```
/// use leadscore_outcomes::drift::psi;
/// assert_eq!(psi(&[50, 50], &[50, 50]), 0.0);
/// let shifted = psi(&[50, 50], &[20, 80]);
/// let expected = (0.2 - 0.5) * (0.2f64 / 0.5).ln() + (0.8 - 0.5) * (0.8f64 / 0.5).ln();
/// assert!((shifted - expected).abs() < 1e-12);
/// ```
pub fn psi(baseline: &[u64], current: &[u64]) -> f64 {
    let (nb, nc) = (baseline.iter().sum::<u64>(), current.iter().sum::<u64>());
    if nb == 0 || nc == 0 {
        return 0.0;
    }
    let share = |n: u64, of: u64| (n as f64 / of as f64).max(FLOOR);
    baseline
        .iter()
        .zip(current)
        .map(|(&b, &c)| {
            let (b, c) = (share(b, nb), share(c, nc));
            (c - b) * (c / b).ln()
        })
        .sum()
}

/// The cut points of `n` bands at the quantiles of `values`, distinct and ascending: band
/// `k` holds values from cut `k − 1` (inclusive) up to cut `k` (exclusive).
///
/// ```
/// let cuts = leadscore_outcomes::drift::cuts(&[0.0, 0.0, 0.0, 1.0, 2.0, 3.0], 3);
/// // The tertiles are 0 and 2; a cut at the lowest value would leave the first band empty.
/// assert_eq!(cuts, vec![2.0]);
/// ```
pub fn cuts(values: &[f64], n: usize) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut cuts: Vec<f64> = (1..n)
        .filter_map(|k| sorted.get(k * sorted.len() / n).copied())
        .collect();
    cuts.dedup();
    // A cut at the lowest value would make an empty first band.
    let min = sorted.first().copied().unwrap_or(f64::NEG_INFINITY);
    cuts.retain(|&c| c > min);
    cuts
}

/// The band a value falls in, for these cuts.
fn band(cuts: &[f64], x: f64) -> usize {
    cuts.partition_point(|&c| c <= x)
}

/// How much a distribution moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Shift {
    /// PSI below 0.1.
    Stable,
    /// PSI from 0.1 to 0.25.
    Moderate,
    /// PSI above 0.25.
    Major,
}

impl Shift {
    /// The reading of a PSI.
    pub fn of(psi: f64) -> Shift {
        if psi > MAJOR {
            Shift::Major
        } else if psi >= MODERATE {
            Shift::Moderate
        } else {
            Shift::Stable
        }
    }
}

impl fmt::Display for Shift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Shift::Stable => "stable",
            Shift::Moderate => "moderate shift",
            Shift::Major => "major shift",
        })
    }
}

/// One value of a lead field, as drift counts it.
#[derive(Clone, Debug, PartialEq)]
pub enum Observed {
    /// A number (or text that reads as one).
    Number(f64),
    /// Text, a true/false, lower-cased.
    Text(String),
}

/// The fields of a lead, one level into objects (`company.size`), as drift counts them;
/// `events` and the fields named in `skip` (the id, time and outcome fields) left out.
///
/// ```
/// use leadscore_outcomes::drift::{observe, Observed};
/// let lead = serde_json::json!({"id": 1, "company": {"size": "120"}, "region": "NY", "events": []});
/// let seen = observe(&lead, &["id"]);
/// assert_eq!(seen, vec![("company.size".to_string(), Observed::Number(120.0)), ("region".to_string(), Observed::Text("ny".into()))]);
/// ```
pub fn observe(lead: &Value, skip: &[&str]) -> Vec<(String, Observed)> {
    let mut out = Vec::new();
    let Some(object) = lead.as_object() else {
        return out;
    };
    let mut one = |key: String, value: &Value| {
        if skip.contains(&key.as_str()) {
            return;
        }
        let seen = match value {
            Value::Number(n) => n.as_f64().map(Observed::Number),
            Value::String(s) => Some(match s.trim().parse::<f64>() {
                Ok(x) if x.is_finite() => Observed::Number(x),
                _ => Observed::Text(s.trim().to_lowercase()),
            }),
            Value::Bool(b) => Some(Observed::Text(b.to_string())),
            _ => None,
        };
        if let Some(seen) = seen {
            out.push((key, seen));
        }
    };
    for (key, value) in object {
        match value {
            Value::Object(inner) => {
                for (k, v) in inner {
                    one(format!("{key}.{k}"), v);
                }
            }
            _ if key == "events" => {}
            v => one(key.clone(), v),
        }
    }
    out
}

/// One side's values of one field.
#[derive(Clone, Debug, Default)]
struct Field {
    numbers: Vec<f64>,
    texts: HashMap<String, u64>,
    /// More distinct texts than [`MAX_VALUES`]: an identifier.
    too_many: bool,
}

/// One side (baseline or current), reduced to what the report needs.
#[derive(Clone, Debug, Default)]
pub struct Side {
    /// Leads scored.
    pub leads: u64,
    /// Leads that could not be read or scored.
    pub failed: u64,
    scores: Vec<f64>,
    mql: u64,
    /// Leads each rule fired for, by rule index.
    fired: Vec<u64>,
    fields: BTreeMap<String, Field>,
}

impl Side {
    /// Counts one scored lead and its observed fields.
    pub fn add(&mut self, rules: &Rules, outcome: &Outcome, fields: Vec<(String, Observed)>) {
        self.leads += 1;
        self.scores.push(outcome.score);
        self.mql += u64::from(outcome.mql);
        self.fired.resize(rules.rules.len(), 0);
        let mut seen: Vec<u32> = outcome.fired().filter_map(|f| rules.index_of(&f)).collect();
        seen.sort_unstable();
        seen.dedup();
        for i in seen {
            if let Some(n) = self.fired.get_mut(i as usize) {
                *n += 1;
            }
        }
        for (key, value) in fields {
            let field = self.fields.entry(key).or_default();
            match value {
                Observed::Number(x) => field.numbers.push(x),
                Observed::Text(_) if field.too_many => {}
                Observed::Text(t) => {
                    *field.texts.entry(t).or_default() += 1;
                    field.too_many = field.texts.len() > MAX_VALUES;
                    if field.too_many {
                        field.texts.clear();
                    }
                }
            }
        }
    }

    /// Counts a lead that could not be read or scored.
    pub fn fail(&mut self) {
        self.failed += 1;
    }
}

/// The whole drift report. Field names are the `--json` contract.
#[derive(Clone, Debug, Serialize)]
pub struct DriftReport {
    /// The pack, `name@version`.
    pub pack: String,
    /// The population stability index of the score (bands from the baseline).
    pub psi: f64,
    /// Its reading: `stable`, `moderate` or `major`.
    pub shift: Shift,
    /// The baseline.
    pub baseline: SideSummary,
    /// The current leads.
    pub current: SideSummary,
    /// The score bands, lowest first, with each side's share.
    pub bands: Vec<BandShare>,
    /// The MQL rate moved significantly at 95% (a two-proportion test).
    pub mql_significant: bool,
    /// Per rule, in file order.
    pub rules: Vec<RuleDrift>,
    /// The fields whose distribution moved most, most first.
    pub fields: Vec<FieldDrift>,
}

/// One side's totals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SideSummary {
    /// Where its leads came from.
    pub source: String,
    /// Leads scored.
    pub leads: u64,
    /// Leads that failed.
    pub failed: u64,
    /// MQLs.
    pub mql: u64,
    /// MQLs / leads.
    pub mql_rate: Option<f64>,
}

/// One score band.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BandShare {
    /// Its lowest score (inclusive); `None` for the first band.
    pub from: Option<f64>,
    /// Its highest score (exclusive); `None` for the last band.
    pub to: Option<f64>,
    /// Share of baseline leads in it.
    pub baseline: f64,
    /// Share of current leads in it.
    pub current: f64,
}

/// One rule's fire rate in both.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleDrift {
    /// Its name, or its condition's text.
    pub rule: String,
    /// `file:line`.
    pub location: String,
    /// Share of baseline leads it fired for.
    pub baseline_rate: Option<f64>,
    /// Share of current leads it fired for.
    pub current_rate: Option<f64>,
    /// The two-proportion z (current against baseline).
    pub z: Option<f64>,
    /// |z| above 1.96.
    pub significant: bool,
}

/// How much one field's distribution moved.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldDrift {
    /// The field (dotted for nested ones).
    pub field: String,
    /// `number` (bands at the baseline's deciles) or `text` (its values).
    pub kind: &'static str,
    /// The PSI of its distribution (leads without it are a band of their own).
    pub psi: f64,
    /// Its reading.
    pub shift: Shift,
}

impl DriftReport {
    /// The report comparing `current` with `baseline`.
    pub fn build(pack: String, rules: &Rules, baseline: (&str, &Side), current: (&str, &Side)) -> DriftReport {
        let (b, c) = (baseline.1, current.1);
        let cuts = cuts(&b.scores, BANDS);
        let counts = |s: &Side| {
            let mut n = vec![0u64; cuts.len() + 1];
            for &x in &s.scores {
                n[band(&cuts, x)] += 1;
            }
            n
        };
        let (nb, nc) = (counts(b), counts(c));
        let psi = psi(&nb, &nc);
        let share = |n: u64, of: u64| if of == 0 { 0.0 } else { n as f64 / of as f64 };
        let bands = (0..nb.len())
            .map(|k| BandShare {
                from: k.checked_sub(1).map(|i| cuts[i]),
                to: cuts.get(k).copied(),
                baseline: share(nb[k], b.leads),
                current: share(nc[k], c.leads),
            })
            .collect();
        let z = metrics::two_proportion_z(c.mql, c.leads, b.mql, b.leads);
        DriftReport {
            pack,
            psi,
            shift: Shift::of(psi),
            baseline: summary(baseline.0, b),
            current: summary(current.0, c),
            bands,
            mql_significant: z.is_some_and(|z| z.abs() > Z_95),
            rules: rule_drift(rules, b, c),
            fields: field_drift(b, c),
        }
    }
}

fn summary(source: &str, s: &Side) -> SideSummary {
    SideSummary {
        source: source.to_string(),
        leads: s.leads,
        failed: s.failed,
        mql: s.mql,
        mql_rate: metrics::ratio(s.mql, s.leads),
    }
}

fn rule_drift(rules: &Rules, b: &Side, c: &Side) -> Vec<RuleDrift> {
    let at = |s: &Side, i: usize| s.fired.get(i).copied().unwrap_or(0);
    rules
        .rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let z = metrics::two_proportion_z(at(c, i), c.leads, at(b, i), b.leads);
            RuleDrift {
                rule: rule.name.to_string(),
                location: rule.location.to_string(),
                baseline_rate: metrics::ratio(at(b, i), b.leads),
                current_rate: metrics::ratio(at(c, i), c.leads),
                z,
                significant: z.is_some_and(|z| z.abs() > Z_95),
            }
        })
        .collect()
}

/// Every field seen on either side with a distribution (not an identifier), by PSI.
fn field_drift(b: &Side, c: &Side) -> Vec<FieldDrift> {
    let empty = Field::default();
    let names: std::collections::BTreeSet<&String> = b.fields.keys().chain(c.fields.keys()).collect();
    let mut out: Vec<FieldDrift> = names
        .into_iter()
        .filter_map(|name| {
            let (fb, fc) = (
                b.fields.get(name).unwrap_or(&empty),
                c.fields.get(name).unwrap_or(&empty),
            );
            if fb.too_many || fc.too_many {
                return None;
            }
            let numeric = fb.numbers.len() + fc.numbers.len()
                >= fb.texts.values().sum::<u64>() as usize + fc.texts.values().sum::<u64>() as usize;
            let (nb, nc) = if numeric {
                numeric_counts(fb, fc, b.leads, c.leads)
            } else {
                text_counts(fb, fc, b.leads, c.leads)
            };
            let psi = psi(&nb, &nc);
            Some(FieldDrift {
                field: name.clone(),
                kind: if numeric { "number" } else { "text" },
                psi,
                shift: Shift::of(psi),
            })
        })
        .collect();
    out.sort_by(|a, b| b.psi.total_cmp(&a.psi).then_with(|| a.field.cmp(&b.field)));
    out.truncate(SHOWN_FIELDS);
    out
}

/// Counts per band of the baseline's deciles, then the leads without a number.
fn numeric_counts(fb: &Field, fc: &Field, leads_b: u64, leads_c: u64) -> (Vec<u64>, Vec<u64>) {
    let cuts = cuts(&fb.numbers, BANDS);
    let count = |f: &Field, leads: u64| {
        let mut n = vec![0u64; cuts.len() + 2];
        for &x in &f.numbers {
            n[band(&cuts, x)] += 1;
        }
        n[cuts.len() + 1] = leads.saturating_sub(f.numbers.len() as u64);
        n
    };
    (count(fb, leads_b), count(fc, leads_c))
}

/// Counts per value seen on either side, then the leads without one.
fn text_counts(fb: &Field, fc: &Field, leads_b: u64, leads_c: u64) -> (Vec<u64>, Vec<u64>) {
    let values: std::collections::BTreeSet<&String> = fb.texts.keys().chain(fc.texts.keys()).collect();
    let count = |f: &Field, leads: u64| {
        let mut n: Vec<u64> = values.iter().map(|v| f.texts.get(*v).copied().unwrap_or(0)).collect();
        n.push(leads.saturating_sub(f.texts.values().sum()));
        n
    };
    (count(fb, leads_b), count(fc, leads_c))
}

impl fmt::Display for DriftReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: drift from {} to {}",
            self.pack, self.baseline.source, self.current.source
        )?;
        for (name, s) in [("baseline", &self.baseline), ("current", &self.current)] {
            writeln!(
                f,
                "  {name:<9} {:>8} leads ({} failed), {:>7} MQLs ({})",
                s.leads,
                s.failed,
                s.mql,
                pct(s.mql_rate)
            )?;
        }
        if self.mql_significant {
            writeln!(f, "  ! the MQL rate moved significantly (95%)")?;
        }
        writeln!(
            f,
            "\nscore PSI {:.3}: {} (below {} stable, {}–{} moderate, above {} major)",
            self.psi,
            self.shift,
            num(MODERATE),
            num(MODERATE),
            num(MAJOR),
            num(MAJOR)
        )?;
        writeln!(f, "  {:<17} {:>9} {:>9}", "score band", "baseline", "current")?;
        for band in &self.bands {
            writeln!(
                f,
                "  {:<17} {:>9} {:>9}",
                band_text(band),
                pct(Some(band.baseline)),
                pct(Some(band.current))
            )?;
        }
        self.fmt_rules(f)?;
        self.fmt_fields(f)
    }
}

/// `< 10`, `10 to < 25`, `≥ 80`.
pub fn band_text(band: &BandShare) -> String {
    match (band.from, band.to) {
        (None, Some(t)) => format!("< {}", num(t)),
        (Some(a), Some(t)) => format!("{} to < {}", num(a), num(t)),
        (Some(a), None) => format!("≥ {}", num(a)),
        (None, None) => "all".to_string(),
    }
}

impl DriftReport {
    fn fmt_rules(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "\nrules (share of leads each fired for)")?;
        let width = self
            .rules
            .iter()
            .map(|r| r.rule.chars().count())
            .max()
            .unwrap_or(0)
            .clamp(4, 40);
        writeln!(f, "  {:<width$} {:>9} {:>9} {:>7}", "rule", "baseline", "current", "z")?;
        for r in &self.rules {
            let name: String = r.rule.chars().take(width).collect();
            let flag = if r.significant { "  ! moved (95%)" } else { "" };
            writeln!(
                f,
                "  {:<width$} {:>9} {:>9} {:>7}{flag}",
                name,
                pct(r.baseline_rate),
                pct(r.current_rate),
                r.z.map_or_else(|| "—".to_string(), |z| format!("{z:.2}"))
            )?;
        }
        Ok(())
    }

    fn fmt_fields(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "\nfields that moved most (PSI of their distribution)")?;
        if self.fields.is_empty() {
            return writeln!(f, "  none");
        }
        for d in &self.fields {
            writeln!(f, "  {:<24} {:>7.3}  {} ({})", d.field, d.psi, d.shift, d.kind)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_are_cut_at_the_baselines_deciles() {
        let values: Vec<f64> = (0..100).map(f64::from).collect();
        let cuts = cuts(&values, 10);
        assert_eq!(cuts, (1..10).map(|k| f64::from(k * 10)).collect::<Vec<_>>());
        assert_eq!(band(&cuts, 9.0), 0);
        assert_eq!(band(&cuts, 10.0), 1);
        assert_eq!(band(&cuts, 99.0), 9);
    }

    #[test]
    fn ties_at_the_bottom_make_one_band() {
        let mut values = vec![0.0; 60];
        values.extend((1..=40).map(f64::from));
        let cuts = cuts(&values, 10);
        assert!(cuts[0] > 0.0, "{cuts:?}");
        assert_eq!(band(&cuts, 0.0), 0);
    }

    #[test]
    fn an_empty_band_stays_finite() {
        let x = psi(&[100, 0], &[50, 50]);
        assert!(x.is_finite() && x > MAJOR);
    }

    #[test]
    fn shifts_read_the_usual_bands() {
        assert_eq!(Shift::of(0.05), Shift::Stable);
        assert_eq!(Shift::of(0.1), Shift::Moderate);
        assert_eq!(Shift::of(0.25), Shift::Moderate);
        assert_eq!(Shift::of(0.3), Shift::Major);
    }
}
