//! The result of scoring a lead, and its human-readable explanation.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Which pack produced a result: its name and a short hash of its sources.
///
/// The names in an [`Outcome`] (this id, rule names, locations, dimensions) are shared
/// `Arc<str>`s: every result carries them, and sharing them instead of copying them is
/// what keeps scoring a lead free of per-rule string copies. They serialize as strings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackId {
    /// The pack's name (its folder's name).
    pub name: Arc<str>,
    /// The first 8 hex digits of a hash of every rule and plugin file.
    pub version: Arc<str>,
}

impl fmt::Display for PackId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

/// The result of scoring one lead.
///
/// ```
/// # let pack = leadscore::Pack::from_source("demo", "threshold 10\ntitle ~ VP => +10")?;
/// let lead = serde_json::json!({"id": 1, "title": "VP Sales"});
/// let outcome = pack.score(&lead, leadscore::parse_time("2026-01-01T00:00:00Z").unwrap())?;
/// assert!(outcome.mql);
/// assert_eq!(&*outcome.fired[0].rule, "title ~ VP");
/// assert_eq!(outcome.dimensions.get("fit"), None);
/// # Ok::<(), leadscore::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The lead's id field, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<serde_json::Value>,
    /// Capped dimensions plus points given without a dimension.
    #[serde(serialize_with = "whole")]
    pub score: f64,
    /// The MQL condition holds and the lead is not disqualified.
    pub mql: bool,
    /// The reason of the first disqualifying rule, in file order.
    pub disqualified: Option<String>,
    /// Each dimension's total after its cap.
    #[serde(serialize_with = "whole_map")]
    pub dimensions: BTreeMap<Arc<str>, f64>,
    /// The queue of the first matching route (MQLs only).
    pub route: Option<String>,
    /// Tags of the rules that fired, in firing order.
    pub tags: Vec<String>,
    /// The rules that fired, in file order.
    pub fired: Vec<Fired>,
    /// Dimensions whose total went over their cap.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capped: Vec<Capped>,
    /// Fields added by plugin enrichment hooks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enriched: Vec<Enrichment>,
    /// The pack that produced this result.
    pub pack: PackId,
}

/// A rule that fired.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fired {
    /// Its name, or its condition's text.
    pub rule: Arc<str>,
    /// Points given (after `each`, `max` and decay).
    #[serde(serialize_with = "whole")]
    pub points: f64,
    /// The dimension the points went into.
    pub dimension: Option<Arc<str>>,
    /// `file:line` of the rule.
    pub location: Arc<str>,
    /// For `each` rules: the number of events counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// For decayed rules: the factor applied.
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "whole_opt")]
    pub decay: Option<f64>,
}

/// A dimension whose total was cut to its cap.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Capped {
    /// The dimension.
    pub dimension: String,
    /// Its total before the cap.
    #[serde(serialize_with = "whole")]
    pub total: f64,
    /// The cap.
    #[serde(serialize_with = "whole")]
    pub cap: f64,
}

/// The fields one plugin's enrichment hook set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Enrichment {
    /// The plugin.
    pub plugin: String,
    /// Field → value it set.
    pub fields: BTreeMap<String, serde_json::Value>,
}

/// A readable breakdown of an [`Outcome`]: each rule that fired with its points, the
/// dimensions and caps, the MQL condition and the route.
pub struct Explanation<'a> {
    pub(crate) outcome: &'a Outcome,
    /// The MQL condition's text, if the pack has one.
    pub(crate) mql_rule: Option<&'a str>,
    /// The program that produced the outcome: what each fired rule tags or disqualifies
    /// is read from it (an outcome lists points, not those).
    pub(crate) program: &'a crate::Program,
}

impl fmt::Display for Explanation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.outcome;
        let verdict = match (&o.disqualified, o.mql) {
            (Some(reason), _) => format!("disqualified ({reason})"),
            (None, true) => "MQL".to_string(),
            (None, false) => "not an MQL".to_string(),
        };
        writeln!(f, "score {} — {verdict}", num(o.score))?;
        for e in &o.enriched {
            let fields: Vec<String> = e.fields.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            writeln!(f, "  enriched by {}: {}", e.plugin, fields.join(", "))?;
        }
        let rule_width = o
            .fired
            .iter()
            .map(|r| r.rule.chars().count())
            .max()
            .unwrap_or(0)
            .clamp(4, 48);
        let dim_width = o
            .fired
            .iter()
            .filter_map(|r| r.dimension.as_ref())
            .map(|d| d.len())
            .max()
            .unwrap_or(0)
            .max(9);
        let points: Vec<String> = o.fired.iter().map(points_text).collect();
        let points_width = points.iter().map(|p| p.chars().count()).max().unwrap_or(0).max(7);
        if o.fired.is_empty() {
            writeln!(f, "  no rule fired")?;
        } else {
            writeln!(
                f,
                "  {:<rule_width$}  {:>points_width$}  {:<dim_width$}  location",
                "rule", "points", "dimension"
            )?;
        }
        for (r, points) in o.fired.iter().zip(&points) {
            let dim = r.dimension.as_deref().unwrap_or("-");
            write!(
                f,
                "  {:<rule_width$}  {points:>points_width$}  {dim:<dim_width$}  {}",
                truncate(&r.rule, rule_width),
                r.location
            )?;
            if let Some(d) = r.decay {
                write!(f, "  (decayed ×{d})")?;
            }
            if let Some(marks) = self.program.marks(&r.location) {
                write!(f, "  {marks}")?;
            }
            writeln!(f)?;
        }
        if !o.dimensions.is_empty() {
            let dims: Vec<String> = o
                .dimensions
                .iter()
                .map(|(name, v)| match o.capped.iter().find(|c| *c.dimension == **name) {
                    Some(c) => format!("{name} {} (capped from {})", num(*v), num(c.total)),
                    None => format!("{name} {}", num(*v)),
                })
                .collect();
            writeln!(f, "  dimensions: {}", dims.join(", "))?;
        }
        match self.mql_rule {
            Some(rule) => writeln!(f, "  mql when: {rule}")?,
            None => writeln!(f, "  mql when: (the pack sets no threshold)")?,
        }
        if !o.tags.is_empty() {
            writeln!(f, "  tags: {}", o.tags.join(", "))?;
        }
        if let Some(route) = &o.route {
            writeln!(f, "  route: {route}")?;
        }
        Ok(())
    }
}

/// Serializes whole numbers without `.0` (`20`, not `20.0`).
fn whole<S: serde::Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    crate::eval::num_to_json(*x).serialize(s)
}

fn whole_opt<S: serde::Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    x.map(crate::eval::num_to_json).serialize(s)
}

fn whole_map<S: serde::Serializer>(m: &BTreeMap<Arc<str>, f64>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(m.len()))?;
    for (k, v) in m {
        map.serialize_entry(k, &crate::eval::num_to_json(*v))?;
    }
    map.end()
}

/// A number without a trailing `.0`, to at most 4 decimals.
pub fn num(x: f64) -> String {
    let s = format!("{:.4}", x);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// `+15`, `-30`, `+10 (7×)` for `each` rules, and nothing for a rule that only tags or
/// disqualifies (it gives no points; "+0" would suggest it gave some).
fn points_text(r: &Fired) -> String {
    if r.points == 0.0 && r.dimension.is_none() && r.count.is_none() {
        return String::new();
    }
    match r.count {
        Some(n) => format!("{} ({n}×)", signed(r.points)),
        None => signed(r.points),
    }
}

fn signed(x: f64) -> String {
    if x >= 0.0 {
        format!("+{}", num(x))
    } else {
        num(x)
    }
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
