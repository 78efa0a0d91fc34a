//! The result of scoring one lead, built whole by [`super::evaluate`].

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
    /// The rule's index in the program's rules (see [`crate::Program::rules`]). Not
    /// serialized: an outcome read back from JSON has index 0 and is matched by location.
    #[serde(skip)]
    pub index: usize,
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

/// Serializes whole numbers without `.0` (`20`, not `20.0`).
fn whole<S: serde::Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    crate::value::num_to_json(*x).serialize(s)
}

fn whole_opt<S: serde::Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    x.map(crate::value::num_to_json).serialize(s)
}

fn whole_map<S: serde::Serializer>(m: &BTreeMap<Arc<str>, f64>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(m.len()))?;
    for (k, v) in m {
        map.serialize_entry(k, &crate::value::num_to_json(*v))?;
    }
    map.end()
}
