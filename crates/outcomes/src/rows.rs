//! What outcome tools keep per lead: not the lead, only its score, label, MQL verdict,
//! disqualifying reason, `--by` value, time and the rules that fired (as rule indices with
//! the feature value each gave). A million leads take tens of megabytes.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::error::{values_seen, OutcomesError};
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
    /// An unlabelled lead's outcome value, as text (`None`: it has no such field, or it
    /// is labelled).
    pub outcome: Option<String>,
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
        self.facts(self.picker.pick_json(text)?, false).map(|(facts, _)| facts)
    }

    /// A lead's facts, from a parsed lead.
    pub fn facts_value(&self, lead: &Value) -> Result<Facts, String> {
        if !lead.is_object() {
            return Err("a lead must be a JSON object".to_string());
        }
        self.facts(self.picker.pick_value(lead), false).map(|(facts, _)| facts)
    }

    /// The facts, and whether the lead has a time to be scored as of. With `untimed`, an
    /// unlabelled lead without its `--as-of-field` (`null` or missing: a lead never handed
    /// off has no `sales.mql_at`) is no error: it is left out like any unlabelled lead,
    /// and not scored.
    fn facts(&self, mut values: Vec<Option<Value>>, untimed: bool) -> Result<(Facts, bool), String> {
        let mut take = |i: usize| values.get_mut(i).and_then(Option::take);
        let (label, outcome) = match &self.setup.outcome {
            Some(_) => {
                let value = take(0);
                let label = self.setup.labels.of(value.as_ref());
                let seen = value.filter(|_| label == Label::Unlabelled).map(|v| shown(&v));
                (label, seen)
            }
            None => (Label::Unlabelled, None),
        };
        let (at, timed) = match (&self.setup.when, take(1)) {
            (When::At(t), _) => (*t, true),
            (When::Field(_), None) if untimed && self.setup.outcome.is_some() && label == Label::Unlabelled => {
                (0, false)
            }
            (When::Field(field), value) => (time_of(field, value)?, true),
        };
        let by = self.setup.by.as_ref().and(take(2)).map(|v| match v {
            Value::String(s) => s,
            other => other.to_string(),
        });
        let facts = Facts {
            label,
            outcome,
            at,
            by,
            id: take(3),
        };
        Ok((facts, timed))
    }

    /// Reads a lead's facts and scores it with `pack` as of its time; with a `holding`
    /// pack (see [`super::tune::holding_pack`]), also whether the other parts of the MQL
    /// condition hold for it. An unlabelled lead without its `--as-of-field` is not scored
    /// (its outcome is empty): it counts as unlabelled, as every unlabelled lead does.
    pub fn judge(&self, pack: &Pack, holding: Option<&Pack>, lead: Lead) -> Result<Judgement, String> {
        let (facts, timed) = match lead {
            Lead::Text(text) => self.facts(self.picker.pick_json(text)?, true)?,
            Lead::Value(value) if !value.is_object() => return Err("a lead must be a JSON object".to_string()),
            Lead::Value(value) => self.facts(self.picker.pick_value(value), true)?,
        };
        if !timed {
            return Ok(Judgement {
                facts,
                outcome: Outcome::default(),
                held: None,
            });
        }
        let outcome = match lead {
            Lead::Text(text) => score_json(pack, text, facts.at)?,
            Lead::Value(value) => score_value(pack, value, facts.at)?,
        };
        let held = match (holding, lead) {
            (None, _) => None,
            (Some(p), Lead::Text(text)) => Some(score_json(p, text, facts.at)?.mql),
            (Some(p), Lead::Value(value)) => Some(score_value(p, value, facts.at)?.mql),
        };
        Ok(Judgement { facts, outcome, held })
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

/// One lead as a source gives it: JSON text, or a parsed lead (CSV rows, JSON arrays).
#[derive(Clone, Copy, Debug)]
pub enum Lead<'a> {
    /// JSON text.
    Text(&'a str),
    /// A parsed lead.
    Value(&'a Value),
}

/// A lead judged: its facts, its outcome and, with a holding pack, whether the other parts
/// of the MQL condition hold for it.
#[derive(Clone, Debug)]
pub struct Judgement {
    /// Its facts.
    pub facts: Facts,
    /// Its outcome.
    pub outcome: Outcome,
    /// Whether a threshold alone decides if it is an MQL (`None`: not asked).
    pub held: Option<bool>,
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

/// The most characters of an outcome value a message shows.
const SHOWN_CHARS: usize = 40;

/// A value as a message shows it: a string as it is, anything else as JSON, cut short.
fn shown(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    text.chars().take(SHOWN_CHARS).collect()
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
    /// The pack's `calibrate` statement, if it has one.
    pub calibration: Option<leadscore::Calibration>,
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
        Rules {
            rules,
            calibration: pack.program().calibration(),
        }
    }

    /// The index of a fired rule: its own, when it names this rule (an outcome read back
    /// from JSON has index 0 and is matched by location and name).
    pub fn index_of(&self, fired: &leadscore::Fired) -> Option<u32> {
        let same = |r: &RuleInfo| *r.location == *fired.location() && *r.name == *fired.rule();
        match self.rules.get(fired.index()) {
            Some(r) if same(r) => Some(fired.index() as u32),
            _ => self.rules.iter().position(same).map(|i| i as u32),
        }
    }

    /// A fired rule's feature: points given / the rule's points — 1 for a plain rule, the
    /// events counted for `each` (after its `max`), the decay factor for a decayed one —
    /// so the points a lead got are the rule's points times its feature.
    pub fn feature(&self, index: u32, fired: &leadscore::Fired) -> f64 {
        match self.rules.get(index as usize).and_then(|r| r.points) {
            Some(p) if p != 0.0 => fired.points() / p,
            _ => fired.count().map_or(1.0, |c| c as f64),
        }
    }
}

/// The most distinct unlabelled outcome values kept for messages.
const SHOWN_VALUES: usize = 5;

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
    /// A threshold alone decides whether it is an MQL: it is not disqualified and the
    /// other parts of the MQL condition (`fit >= 20` in `fit >= 20 and score >= 10`) hold.
    pub held: bool,
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
    /// Of those, the leads without the outcome field.
    pub missing_outcome: u64,
    /// The first few distinct outcome values that were in neither list.
    pub unlabelled_values: Vec<String>,
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
        self.add_held(rules, facts, outcome, None);
    }

    /// Counts a lead judged with a holding pack ([`Reader::judge`]).
    pub fn add_judged(&mut self, rules: &Rules, judgement: &Judgement) {
        self.add_held(rules, &judgement.facts, &judgement.outcome, judgement.held);
    }

    /// [`Rows::add`], saying whether the other parts of the MQL condition hold (`None`:
    /// the condition has none, so only a disqualification takes a lead out of the sweep).
    fn add_held(&mut self, rules: &Rules, facts: &Facts, outcome: &Outcome, held: Option<bool>) {
        let ordinal = self.leads;
        self.leads += 1;
        let positive = match facts.label {
            Label::Positive => true,
            Label::Negative => false,
            Label::Unlabelled => {
                self.unlabelled += 1;
                match &facts.outcome {
                    None => self.missing_outcome += 1,
                    Some(v) if self.unlabelled_values.len() < SHOWN_VALUES && !self.unlabelled_values.contains(v) => {
                        self.unlabelled_values.push(v.clone())
                    }
                    Some(_) => {}
                }
                return;
            }
        };
        let disqualified = match outcome.disqualified() {
            Some(reason) => intern(&mut self.reasons, &mut self.reason_index, reason),
            None => NONE,
        };
        let by = match &facts.by {
            Some(value) => intern(&mut self.by_values, &mut self.by_index, value),
            None => NONE,
        };
        self.starts.push(self.hits.len() as u32);
        for fired in outcome.fired() {
            if let Some(i) = rules.index_of(&fired) {
                self.hits.push((i, rules.feature(i, &fired) as f32));
            }
        }
        self.rows.push(Row {
            score: outcome.score,
            positive,
            mql: outcome.mql,
            disqualified,
            by,
            held: held.unwrap_or(true) && outcome.disqualified().is_none(),
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

    /// Refuses rows with no labelled lead (an outcome field misspelt, values in neither
    /// list), naming the field and the values seen; with some, a warning when most leads
    /// are unlabelled.
    pub fn check_labelled(&self, setup: &Setup) -> Result<Option<String>, OutcomesError> {
        let Some(field) = &setup.outcome else { return Ok(None) };
        let read = self.leads - self.failed;
        if self.rows.is_empty() && read > 0 {
            return Err(OutcomesError::NoLabelled {
                field: field.clone(),
                read,
                missing: self.missing_outcome,
                values: self.unlabelled_values.clone(),
                positive: setup.labels.positive().to_vec(),
                negative: setup.labels.negative().to_vec(),
            });
        }
        Ok((self.unlabelled > self.rows.len() as u64).then(|| {
            format!(
                "{} of {read} leads are unlabelled and left out ({} without `{field}`{})",
                self.unlabelled,
                self.missing_outcome,
                values_seen(&self.unlabelled_values, ", other values: ")
            )
        }))
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
