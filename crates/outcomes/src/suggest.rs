//! Candidate rules from what a pack does not use yet — field values, numeric cut points,
//! event types and their property values — collected per lead, ranked by information
//! value, and written as rule lines of the language.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use super::rows::Rows;

/// Fields with more distinct values than this are not categorical (names, emails, ids).
const MAX_VALUES: usize = 30;
/// The longest value a candidate tests.
const MAX_VALUE_LEN: usize = 40;
/// Quantiles numeric fields are cut at.
const CUTS: [f64; 4] = [0.25, 0.5, 0.75, 0.9];

/// A candidate condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Candidate {
    /// `field == "value"` (case-insensitive, as the language compares).
    Equals {
        /// Dotted path.
        field: String,
        /// The value as first seen.
        value: String,
    },
    /// `field >= cut`.
    AtLeast {
        /// Dotted path.
        field: String,
        /// The cut point.
        cut: f64,
    },
    /// `did "type"`: some event of a type the pack does not read, before the lead's time.
    Did {
        /// The event type.
        event_type: String,
    },
    /// `did "type" where prop == "value"`.
    DidWhere {
        /// The event type.
        event_type: String,
        /// The property.
        prop: String,
        /// The value as first seen.
        value: String,
    },
}

impl Candidate {
    /// The condition as rule text.
    ///
    /// ```
    /// use leadscore_outcomes::suggest::Candidate;
    /// let c = Candidate::Equals { field: "Lead Source".into(), value: "Referral".into() };
    /// assert_eq!(c.condition(), "`Lead Source` == \"Referral\"");
    /// ```
    pub fn condition(&self) -> String {
        match self {
            Candidate::Equals { field, value } => format!("{} == {}", path(field), quote(value)),
            Candidate::AtLeast { field, cut } => format!("{} >= {}", path(field), super::num(*cut)),
            Candidate::Did { event_type } => format!("did {}", quote(event_type)),
            Candidate::DidWhere {
                event_type,
                prop,
                value,
            } => format!("did {} where {} == {}", quote(event_type), path(prop), quote(value)),
        }
    }

    /// The column it reads, as `--allow-column` names it: the field (`Tags`), the event
    /// type (`chat_started`) or the event type's property (`video_play.video`).
    ///
    /// ```
    /// use leadscore_outcomes::suggest::Candidate;
    /// let c = Candidate::DidWhere { event_type: "video_play".into(), prop: "video".into(), value: "demo".into() };
    /// assert_eq!(c.column(), "video_play.video");
    /// ```
    pub fn column(&self) -> String {
        match self {
            Candidate::Equals { field, .. } | Candidate::AtLeast { field, .. } => field.clone(),
            Candidate::Did { event_type } => event_type.clone(),
            Candidate::DidWhere { event_type, prop, .. } => format!("{event_type}.{prop}"),
        }
    }
}

impl Candidate {
    /// The condition in words, for the rule's name (`Lead Source is Referral`).
    ///
    /// ```
    /// use leadscore_outcomes::suggest::Candidate;
    /// let c = Candidate::Equals { field: "Lead Source".into(), value: "Referral".into() };
    /// assert_eq!(c.name(), "Lead Source is Referral");
    /// ```
    pub fn name(&self) -> String {
        let name = match self {
            Candidate::Equals { field, value } => format!("{field} is {value}"),
            Candidate::AtLeast { field, cut } => format!("{field} at least {}", super::num(*cut)),
            Candidate::Did { event_type } => format!("did {event_type}"),
            Candidate::DidWhere {
                event_type,
                prop,
                value,
            } => format!("did {event_type} where {prop} is {value}"),
        };
        name.chars().filter(|c| !c.is_control()).collect()
    }
}

/// A field path in the language: plain segments bare, others in backticks.
fn path(field: &str) -> String {
    let plain = |s: &str| {
        let mut chars = s.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            && !leadscore::syntax::is_reserved(s)
    };
    if field.split('.').all(plain) {
        field.to_string()
    } else if !field.contains('.') {
        format!("`{field}`")
    } else {
        field
            .split('.')
            .map(|s| if plain(s) { s.to_string() } else { format!("`{s}`") })
            .collect::<Vec<_>>()
            .join(".")
    }
}

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Candidates seen per labelled lead, in the order of [`Rows::rows`].
#[derive(Debug, Default)]
pub struct Candidates {
    skip_fields: HashSet<String>,
    /// Objects none of whose fields are tested.
    skip_objects: HashSet<String>,
    skip_types: HashSet<String>,
    candidates: Vec<Candidate>,
    index: HashMap<(String, String, String), u32>,
    /// Distinct lower-cased values per field (or `type.prop`), up to one past the limit.
    values: HashMap<String, HashSet<String>>,
    numeric: BTreeMap<String, Vec<(u32, f64)>>,
    starts: Vec<u32>,
    hits: Vec<u32>,
}

impl Candidates {
    /// Collects candidates from every field but `skip_fields` (the pack's own, the outcome,
    /// time, id fields) and every event type but `skip_types` (the pack's own).
    pub fn new<'a>(
        skip_fields: impl IntoIterator<Item = &'a str>,
        skip_types: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        Candidates {
            skip_fields: skip_fields
                .into_iter()
                .map(str::to_string)
                .chain(["events".to_string()])
                .collect(),
            skip_types: skip_types.into_iter().map(str::to_string).collect(),
            ..Candidates::default()
        }
    }

    /// Tests none of the fields of this object (`sales`: not `sales.stage`, `sales.won`).
    pub fn skip_object(mut self, object: Option<&str>) -> Self {
        self.skip_objects.extend(object.map(str::to_string));
        self
    }

    /// Records the candidates one labelled lead has, judged at `at` (events after it do not
    /// count). Call once per row kept, in order.
    pub fn add(&mut self, lead: &Value, at: i64) {
        let row = self.starts.len() as u32;
        self.starts.push(self.hits.len() as u32);
        let Some(object) = lead.as_object() else { return };
        let mut seen: HashSet<u32> = HashSet::new();
        for (key, value) in object {
            match value {
                Value::Object(inner) => {
                    for (k, v) in inner {
                        self.field(&format!("{key}.{k}"), v, row, &mut seen);
                    }
                }
                v => self.field(key, v, row, &mut seen),
            }
        }
        if let Some(Value::Array(events)) = object.get("events") {
            for event in events {
                self.event(event, at, &mut seen);
            }
        }
        let mut seen: Vec<u32> = seen.into_iter().collect();
        seen.sort_unstable();
        self.hits.extend(seen);
    }

    fn field(&mut self, field: &str, value: &Value, row: u32, seen: &mut HashSet<u32>) {
        let parent = field.split_once('.').map(|(p, _)| p);
        if self.skip_fields.contains(field) || parent.is_some_and(|p| self.skip_objects.contains(p)) {
            return;
        }
        let number = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok().filter(|x| x.is_finite()),
            _ => None,
        };
        if let Some(x) = number {
            self.numeric.entry(field.to_string()).or_default().push((row, x));
            return;
        }
        let text = match value {
            Value::String(s) => s.trim().to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return,
        };
        if let Some(id) = self.categorical(field, &text, || Candidate::Equals {
            field: field.to_string(),
            value: text.clone(),
        }) {
            seen.insert(id);
        }
    }

    fn event(&mut self, event: &Value, at: i64, seen: &mut HashSet<u32>) {
        let Some(kind) = event.get("type").and_then(Value::as_str) else {
            return;
        };
        if self.skip_types.contains(kind) {
            return;
        }
        let time = event.get("at").and_then(Value::as_str).and_then(leadscore::parse_time);
        if time.is_none_or(|t| t.timestamp_millis() > at) {
            return;
        }
        let did = self.intern(("did".into(), kind.into(), String::new()), || Candidate::Did {
            event_type: kind.to_string(),
        });
        seen.insert(did);
        let Some(props) = event.as_object() else { return };
        for (prop, value) in props {
            let Some(text) = value.as_str().filter(|_| prop != "type" && prop != "at") else {
                continue;
            };
            let key = format!("{kind}.{prop}");
            let text = text.trim().to_string();
            if let Some(id) = self.categorical(&key, &text, || Candidate::DidWhere {
                event_type: kind.to_string(),
                prop: prop.clone(),
                value: text.clone(),
            }) {
                seen.insert(id);
            }
        }
    }

    /// The candidate for a categorical value, unless its field has too many values.
    fn categorical(&mut self, key: &str, text: &str, make: impl FnOnce() -> Candidate) -> Option<u32> {
        if text.is_empty() || text.chars().count() > MAX_VALUE_LEN || text.contains('\n') {
            return None;
        }
        let lower = text.to_lowercase();
        let values = self.values.entry(key.to_string()).or_default();
        if values.len() > MAX_VALUES {
            return None;
        }
        values.insert(lower.clone());
        Some(self.intern(("eq".into(), key.to_string(), lower), make))
    }

    fn intern(&mut self, key: (String, String, String), make: impl FnOnce() -> Candidate) -> u32 {
        if let Some(&id) = self.index.get(&key) {
            return id;
        }
        let id = self.candidates.len() as u32;
        self.candidates.push(make());
        self.index.insert(key, id);
        id
    }

    /// The candidates usable for suggestions: categorical fields within the value limit,
    /// and numeric fields cut at their quantiles. Returns, per candidate, the rows it holds
    /// for.
    pub fn columns(&self) -> Vec<(Candidate, Vec<u32>)> {
        let mut out: Vec<(Candidate, Vec<u32>)> = Vec::new();
        let mut rows_of: Vec<Vec<u32>> = vec![Vec::new(); self.candidates.len()];
        for row in 0..self.starts.len() {
            for &id in self.row(row) {
                rows_of[id as usize].push(row as u32);
            }
        }
        for (candidate, rows) in self.candidates.iter().zip(rows_of) {
            let key = match candidate {
                Candidate::Equals { field, .. } => Some(field.clone()),
                Candidate::DidWhere { event_type, prop, .. } => Some(format!("{event_type}.{prop}")),
                _ => None,
            };
            let too_many = key
                .and_then(|k| self.values.get(&k))
                .is_some_and(|v| v.len() > MAX_VALUES);
            if !too_many && !rows.is_empty() {
                out.push((candidate.clone(), rows));
            }
        }
        for (field, values) in &self.numeric {
            let mut sorted: Vec<f64> = values.iter().map(|v| v.1).collect();
            sorted.sort_by(f64::total_cmp);
            let mut cuts: Vec<f64> = CUTS
                .iter()
                .map(|q| sorted[((sorted.len() - 1) as f64 * q) as usize])
                .collect();
            cuts.dedup();
            for cut in cuts {
                let rows: Vec<u32> = values.iter().filter(|v| v.1 >= cut).map(|v| v.0).collect();
                if rows.len() < values.len() {
                    out.push((
                        Candidate::AtLeast {
                            field: field.clone(),
                            cut,
                        },
                        rows,
                    ));
                }
            }
        }
        out
    }

    fn row(&self, i: usize) -> &[u32] {
        let start = self.starts[i] as usize;
        let end = self.starts.get(i + 1).map_or(self.hits.len(), |&s| s as usize);
        &self.hits[start..end]
    }
}

/// A ranked candidate.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranked {
    /// The condition.
    pub candidate: Candidate,
    /// The training rows it holds for.
    pub rows: Vec<u32>,
    /// Training leads it holds for, and of which converted.
    pub fired: u64,
    /// Converted among them.
    pub positives: u64,
    /// Conversion rate where it does not hold.
    pub rate_not: Option<f64>,
    /// Its information value.
    pub iv: f64,
}

/// The information value of a yes/no split: `Σ (p_i − n_i) ln(p_i / n_i)` over the two
/// groups, `p_i` and `n_i` the shares of converted and other leads in group `i` (with half
/// a lead added to each cell so an empty cell stays finite).
///
/// ```
/// let iv = leadscore_outcomes::suggest::information_value(50, 10, 100, 200);
/// assert!(iv > 0.5);
/// assert!(leadscore_outcomes::suggest::information_value(10, 20, 100, 200) < 1e-3);
/// ```
pub fn information_value(hit_pos: u64, hit_neg: u64, positives: u64, negatives: u64) -> f64 {
    let (p, n) = (positives as f64 + 1.0, negatives as f64 + 1.0);
    let group = |pos: f64, neg: f64| {
        let (sp, sn) = ((pos + 0.5) / p, (neg + 0.5) / n);
        (sp - sn) * (sp / sn).ln()
    };
    let (hp, hn) = (hit_pos as f64, hit_neg as f64);
    group(hp, hn) + group(positives as f64 - hp, negatives as f64 - hn)
}

/// The `n` best candidates by information value over the training rows, each holding for
/// at least `min_fired` of them and not for all; conditions that pick the same leads as a
/// better one, or exactly the others (`x == "hot"` after `x == "cold"` on a two-valued
/// field: together they cover every lead), are left out.
pub fn rank(columns: Vec<(Candidate, Vec<u32>)>, rows: &Rows, train: &[bool], n: usize, min_fired: u64) -> Vec<Ranked> {
    let train_rows = train.iter().filter(|&&t| t).count() as u64;
    let positives = rows.rows.iter().zip(train).filter(|(r, &t)| t && r.positive).count() as u64;
    let negatives = train_rows - positives;
    let mut ranked: Vec<Ranked> = columns
        .into_iter()
        .filter_map(|(candidate, hit)| {
            let train_hit: Vec<u32> = hit.iter().copied().filter(|&r| train[r as usize]).collect();
            let fired = train_hit.len() as u64;
            let pos = train_hit.iter().filter(|&&r| rows.rows[r as usize].positive).count() as u64;
            (fired >= min_fired && fired < train_rows).then(|| Ranked {
                iv: information_value(pos, fired - pos, positives, negatives),
                rate_not: super::metrics::ratio(positives - pos, train_rows - fired),
                candidate,
                rows: hit,
                fired,
                positives: pos,
            })
        })
        .collect();
    ranked.sort_by(|a, b| {
        b.iv.total_cmp(&a.iv)
            .then_with(|| a.candidate.condition().cmp(&b.candidate.condition()))
    });
    let mut out: Vec<Ranked> = Vec::new();
    for r in ranked {
        if out.len() >= n {
            break;
        }
        let total = rows.rows.len();
        if !out
            .iter()
            .any(|o| o.rows == r.rows || complement(&o.rows, &r.rows, total))
        {
            out.push(r);
        }
    }
    out
}

/// Whether two sorted row lists split `total` rows between them.
fn complement(a: &[u32], b: &[u32], total: usize) -> bool {
    if a.len() + b.len() != total {
        return false;
    }
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Equal => return false,
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
        }
    }
    true
}

/// The ranked candidates whose fitted points (in the same order) round to a number other
/// than 0: a suggested rule worth `+0` is left out, and the rest fitted again.
///
/// ```
/// use leadscore_outcomes::suggest::{worth_points, Candidate, Ranked};
/// let r = |t: &str| Ranked { candidate: Candidate::Did { event_type: t.into() }, rows: vec![], fired: 0, positives: 0, rate_not: None, iv: 0.0 };
/// let kept = worth_points(vec![r("a"), r("b")], &[0.0, 3.0]);
/// assert_eq!(kept, vec![r("b")]);
/// ```
pub fn worth_points(ranked: Vec<Ranked>, points: &[f64]) -> Vec<Ranked> {
    ranked
        .into_iter()
        .zip(points)
        .filter(|(_, &p)| p.round() != 0.0)
        .map(|(r, _)| r)
        .collect()
}

impl Candidates {
    /// Candidates for a pack: every field it does not read but `skip` (the outcome, time
    /// and id fields), every event type it does not read.
    pub fn for_pack<'a>(pack: &leadscore::Pack, skip: impl IntoIterator<Item = &'a str>) -> Candidates {
        let program = pack.program();
        let fields: Vec<String> = program.field_paths().collect();
        let skip: Vec<&str> = skip.into_iter().collect();
        Candidates::new(fields.iter().map(String::as_str).chain(skip), program.event_types())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Facts, Label, Rules};

    #[test]
    fn a_pair_that_covers_every_lead_is_not_suggested_twice() {
        let pack = leadscore::Pack::from_source("t", "title ~ VP => +1").unwrap();
        let rules = Rules::of(&pack);
        let mut rows = Rows::default();
        let outcome = pack.score(&serde_json::json!({}), chrono::Utc::now()).unwrap();
        for i in 0..200 {
            let label = if i % 3 == 0 { Label::Positive } else { Label::Negative };
            rows.add(
                &rules,
                &Facts {
                    label,
                    outcome: None,
                    at: 0,
                    by: None,
                    id: None,
                },
                &outcome,
            );
        }
        let temp = |v: &str| Candidate::Equals {
            field: "temp".into(),
            value: v.into(),
        };
        let hot: Vec<u32> = (0..200).filter(|i| i % 2 == 0).collect();
        let cold: Vec<u32> = (0..200).filter(|i| i % 2 == 1).collect();
        let third: Vec<u32> = (0..200).filter(|i| i % 3 == 0).collect();
        let columns = vec![(temp("hot"), hot), (temp("cold"), cold), (temp("x"), third)];
        let ranked = rank(columns, &rows, &[true; 200], 5, 1);
        let values: Vec<String> = ranked.iter().map(|r| r.candidate.condition()).collect();
        assert_eq!(values.len(), 2, "{values:?}");
        assert!(values[0].contains("\"x\""), "{values:?}");
    }

    #[test]
    fn a_skipped_object_offers_none_of_its_fields() {
        let mut c = Candidates::new([], []).skip_object(Some("sales"));
        c.add(
            &serde_json::json!({"sales": {"stage": "won"}, "crm": {"tier": "gold"}}),
            0,
        );
        let fields: Vec<String> = c.candidates.iter().map(Candidate::condition).collect();
        assert!(fields.iter().all(|f| !f.contains("sales")), "{fields:?}");
        assert!(fields.iter().any(|f| f.contains("crm.tier")), "{fields:?}");
    }

    #[test]
    fn a_reserved_or_unusual_field_name_is_written_in_backticks() {
        assert_eq!(super::path("company.size"), "company.size");
        // Every reserved word, not only the common ones (`tag`, `contains` were once missed).
        assert_eq!(super::path("tag"), "`tag`");
        assert_eq!(super::path("company.contains"), "company.`contains`");
        assert_eq!(super::path("Lead Source"), "`Lead Source`");
    }
}
