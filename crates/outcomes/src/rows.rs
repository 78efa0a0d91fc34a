//! What outcome tools keep per lead: not the lead, only its score, label, MQL verdict,
//! disqualifying reason, `--by` value, time and the rules that fired (as rule indices with
//! the feature value each gave). A million leads take tens of megabytes.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::label::{Label, Labels};
use super::pick::Picker;
use leadscore::{Outcome, Pack};

/// When each lead is judged (scored as of).
#[derive(Clone, Debug, PartialEq)]
pub enum When {
    /// Every lead as of one time (milliseconds since the epoch).
    At(i64),
    /// Each lead as of the RFC 3339 time in this field (when it was handed to sales, say),
    /// so events after that moment cannot leak into its score.
    Field(String),
}

/// What to read from each lead besides what the pack reads.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The outcome field (`None`: every lead is unlabelled, as `diff` without `--outcome`).
    pub outcome: Option<String>,
    /// Which outcome values mean converted and not converted.
    pub labels: Labels,
    /// When each lead is judged.
    pub when: When,
    /// The field to break results down by (`--by`).
    pub by: Option<String>,
    /// The field holding the lead's id.
    pub id_field: String,
}

/// One lead's facts: its label, the time it is judged as of, its `--by` value and id.
#[derive(Clone, Debug, PartialEq)]
pub struct Facts {
    /// Converted, not, or unlabelled.
    pub label: Label,
    /// When it is judged, in milliseconds since the epoch.
    pub at: i64,
    /// Its `--by` value, as text.
    pub by: Option<String>,
    /// Its id, when it has one.
    pub id: Option<Value>,
}

/// Reads each lead's facts and scores it as of its own time.
///
/// ```
/// use leadscore_outcomes::{Label, Labels, Reader, Setup, When};
/// let pack = leadscore::Pack::from_source("demo", "threshold 10\nvisited /pricing => +10")?;
/// let reader = Reader::new(Setup {
///     outcome: Some("won".into()),
///     labels: Labels::default(),
///     when: When::Field("handed_at".into()),
///     by: None,
///     id_field: "id".into(),
/// });
/// let lead = r#"{"id": 7, "won": "yes", "handed_at": "2026-03-01T00:00:00Z",
///                "events": [{"type": "page_view", "path": "/pricing", "at": "2026-03-05T00:00:00Z"}]}"#;
/// let (facts, outcome) = reader.judge_json(&pack, lead).map_err(|e| e)?;
/// assert_eq!(facts.label, Label::Positive);
/// assert_eq!(outcome.score, 0.0, "the visit came after the hand-off");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Reader {
    setup: Setup,
    picker: Picker,
}

impl Reader {
    /// A reader for this setup.
    pub fn new(setup: Setup) -> Reader {
        let mut names = vec![setup.outcome.clone().unwrap_or_default()];
        names.push(match &setup.when {
            When::Field(f) => f.clone(),
            When::At(_) => String::new(),
        });
        names.push(setup.by.clone().unwrap_or_default());
        names.push(setup.id_field.clone());
        Reader {
            picker: Picker::new(names),
            setup,
        }
    }

    /// The setup this reader reads with.
    pub fn setup(&self) -> &Setup {
        &self.setup
    }

    /// A lead's facts, from its JSON text.
    pub fn facts_json(&self, text: &str) -> Result<Facts, String> {
        self.facts(self.picker.pick_json(text)?)
    }

    /// A lead's facts, from a parsed lead.
    pub fn facts_value(&self, lead: &Value) -> Result<Facts, String> {
        if !lead.is_object() {
            return Err("a lead must be a JSON object".to_string());
        }
        self.facts(self.picker.pick_value(lead))
    }

    fn facts(&self, mut values: Vec<Option<Value>>) -> Result<Facts, String> {
        let mut take = |i: usize| values.get_mut(i).and_then(Option::take);
        let label = match &self.setup.outcome {
            Some(_) => self.setup.labels.of(take(0).as_ref()),
            None => Label::Unlabelled,
        };
        let at = match &self.setup.when {
            When::At(t) => *t,
            When::Field(field) => time_of(field, take(1))?,
        };
        let by = self.setup.by.as_ref().and(take(2)).map(|v| match v {
            Value::String(s) => s,
            other => other.to_string(),
        });
        Ok(Facts {
            label,
            at,
            by,
            id: take(3),
        })
    }

    /// Reads a lead's facts and scores it with `pack` as of its time.
    pub fn judge_json(&self, pack: &Pack, text: &str) -> Result<(Facts, Outcome), String> {
        let facts = self.facts_json(text)?;
        let outcome = score_json(pack, text, facts.at)?;
        Ok((facts, outcome))
    }

    /// Reads a lead's facts and scores it with `pack` as of its time.
    pub fn judge_value(&self, pack: &Pack, lead: &Value) -> Result<(Facts, Outcome), String> {
        let facts = self.facts_value(lead)?;
        let outcome = score_value(pack, lead, facts.at)?;
        Ok((facts, outcome))
    }
}

/// Scores JSON text as of a time given in milliseconds.
pub fn score_json(pack: &Pack, text: &str, at: i64) -> Result<Outcome, String> {
    let at = chrono::DateTime::from_timestamp_millis(at).ok_or("the time is out of range")?;
    pack.scorer(at).score_json(text).map_err(|e| e.to_string())
}

/// Scores a parsed lead as of a time given in milliseconds.
pub fn score_value(pack: &Pack, lead: &Value, at: i64) -> Result<Outcome, String> {
    let at = chrono::DateTime::from_timestamp_millis(at).ok_or("the time is out of range")?;
    pack.scorer(at).score(lead).map_err(|e| e.to_string())
}

fn time_of(field: &str, value: Option<Value>) -> Result<i64, String> {
    match value {
        None => Err(format!("the lead has no `{field}` to judge it as of")),
        Some(Value::String(s)) => leadscore::parse_time(&s)
            .map(|t| t.timestamp_millis())
            .ok_or_else(|| format!("`{field}` is {s:?}, not an RFC 3339 time")),
        Some(other) => Err(format!("`{field}` is {other}, not an RFC 3339 time")),
    }
}

/// A pack's rules as outcome tools see them: name, location and the points of the first
/// points action (what the evaluator gives), in the program's order, so a fired rule's
/// [`leadscore::Fired::index`] finds its entry.
#[derive(Clone, Debug)]
pub struct Rules {
    /// In file order.
    pub rules: Vec<RuleInfo>,
}

/// One rule of a pack.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleInfo {
    /// Its name, or its condition's text.
    pub name: Arc<str>,
    /// `file:line`.
    pub location: Arc<str>,
    /// The points it gives when it fires (per event for `each`), if it gives any.
    pub points: Option<f64>,
    /// Its points are per counted event.
    pub each: bool,
    /// Its disqualifying reason.
    pub disqualify: Option<String>,
}

impl Rules {
    /// The rules of a pack.
    pub fn of(pack: &Pack) -> Rules {
        let rules = pack
            .program()
            .rules()
            .into_iter()
            .map(|r| RuleInfo {
                name: r.name.into(),
                location: r.location.into(),
                points: r.points,
                each: r.each,
                disqualify: r.disqualify,
            })
            .collect();
        Rules { rules }
    }

    /// The index of a fired rule: its own, when it names this rule (an outcome read back
    /// from JSON has index 0 and is matched by location and name).
    pub fn index_of(&self, fired: &leadscore::Fired) -> Option<u32> {
        let same = |r: &RuleInfo| r.location == fired.location && r.name == fired.rule;
        match self.rules.get(fired.index) {
            Some(r) if same(r) => Some(fired.index as u32),
            _ => self.rules.iter().position(same).map(|i| i as u32),
        }
    }

    /// A fired rule's feature: points given / the rule's points — 1 for a plain rule, the
    /// events counted for `each` (after its `max`), the decay factor for a decayed one —
    /// so the points a lead got are the rule's points times its feature.
    pub fn feature(&self, index: u32, fired: &leadscore::Fired) -> f64 {
        match self.rules.get(index as usize).and_then(|r| r.points) {
            Some(p) if p != 0.0 => fired.points / p,
            _ => fired.count.map_or(1.0, |c| c as f64),
        }
    }
}

/// Marks an absent reason or `--by` value.
pub const NONE: u32 = u32::MAX;

/// One labelled lead.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row {
    /// Its score.
    pub score: f64,
    /// It converted.
    pub positive: bool,
    /// The pack made it an MQL.
    pub mql: bool,
    /// Index into [`Rows::reasons`], or [`NONE`].
    pub disqualified: u32,
    /// Index into [`Rows::by_values`], or [`NONE`].
    pub by: u32,
    /// When it was judged (ms).
    pub at: i64,
    /// Its position among all leads read, from 0.
    pub ordinal: u64,
}

/// Every labelled lead's [`Row`] and rule hits, and the counts of the others.
#[derive(Clone, Debug, Default)]
pub struct Rows {
    /// Labelled leads, in input order.
    pub rows: Vec<Row>,
    /// Leads read.
    pub leads: u64,
    /// Leads whose outcome was missing or in neither list.
    pub unlabelled: u64,
    /// Leads that could not be read or scored.
    pub failed: u64,
    /// Disqualifying reasons, by index.
    pub reasons: Vec<String>,
    /// `--by` values, by index.
    pub by_values: Vec<String>,
    starts: Vec<u32>,
    hits: Vec<(u32, f32)>,
    reason_index: HashMap<String, u32>,
    by_index: HashMap<String, u32>,
}

impl Rows {
    /// Counts one lead read; labelled leads are kept.
    pub fn add(&mut self, rules: &Rules, facts: &Facts, outcome: &Outcome) {
        let ordinal = self.leads;
        self.leads += 1;
        let positive = match facts.label {
            Label::Positive => true,
            Label::Negative => false,
            Label::Unlabelled => {
                self.unlabelled += 1;
                return;
            }
        };
        let disqualified = match &outcome.disqualified {
            Some(reason) => intern(&mut self.reasons, &mut self.reason_index, reason),
            None => NONE,
        };
        let by = match &facts.by {
            Some(value) => intern(&mut self.by_values, &mut self.by_index, value),
            None => NONE,
        };
        self.starts.push(self.hits.len() as u32);
        for fired in &outcome.fired {
            if let Some(i) = rules.index_of(fired) {
                self.hits.push((i, rules.feature(i, fired) as f32));
            }
        }
        self.rows.push(Row {
            score: outcome.score,
            positive,
            mql: outcome.mql,
            disqualified,
            by,
            at: facts.at,
            ordinal,
        });
    }

    /// Counts a lead that could not be read or scored.
    pub fn fail(&mut self) {
        self.leads += 1;
        self.failed += 1;
    }

    /// The rules that fired for row `i`, with their feature values.
    pub fn hits(&self, i: usize) -> &[(u32, f32)] {
        let start = self.starts.get(i).map_or(0, |&s| s as usize);
        let end = self.starts.get(i + 1).map_or(self.hits.len(), |&s| s as usize);
        self.hits.get(start..end).unwrap_or(&[])
    }

    /// Converted leads.
    pub fn positives(&self) -> u64 {
        self.rows.iter().filter(|r| r.positive).count() as u64
    }
}

fn intern(values: &mut Vec<String>, index: &mut HashMap<String, u32>, value: &str) -> u32 {
    if let Some(&i) = index.get(value) {
        return i;
    }
    let i = values.len() as u32;
    values.push(value.to_string());
    index.insert(value.to_string(), i);
    i
}
