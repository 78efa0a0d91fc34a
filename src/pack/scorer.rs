//! Scoring leads with a pack: one path for every way a lead arrives, lead → hooks →
//! record → evaluate (or, for `trace_let`, → trace).

use serde_json::Value as Json;

use super::Pack;
use crate::eval::{self, Context, Enrichment, EvalError, Outcome};
use crate::plugin;
use crate::read::ReadPlan;
use crate::read::{self, Record};

/// Scores leads with one pack as of one time.
///
/// ```
/// # let pack = leadscore::Pack::from_source("demo", "title ~ CEO => +5")?;
/// let as_of = leadscore::parse_time("2026-01-01T00:00:00Z").unwrap();
/// let scorer = pack.scorer(as_of).id_field("lead_id");
/// let outcome = scorer.score_json(r#"{"lead_id": "L-7", "title": "CEO"}"#)?;
/// assert_eq!(outcome.id, Some(serde_json::json!("L-7")));
/// # Ok::<(), leadscore::Error>(())
/// ```
pub struct Scorer<'p> {
    pack: &'p Pack,
    as_of: i64,
    id_field: Option<(String, ReadPlan)>,
}

/// A lead as it arrives: JSON text (read directly, only what the pack uses) or parsed.
#[derive(Clone, Copy)]
enum Lead<'l> {
    Text(&'l str),
    Value(&'l Json),
}

impl<'p> Scorer<'p> {
    pub(super) fn new(pack: &'p Pack, as_of: i64) -> Self {
        Scorer {
            pack,
            as_of,
            id_field: None,
        }
    }

    /// Reads each lead's id from `field` instead of `id`.
    pub fn id_field(mut self, field: &str) -> Self {
        let plan = ReadPlan::new(&self.pack.inner.program, field);
        self.id_field = Some((field.to_string(), plan));
        self
    }

    /// Scores a JSON lead.
    pub fn score(&self, lead: &Json) -> Result<Outcome, EvalError> {
        self.outcome(Lead::Value(lead), None)
    }

    /// Scores a lead given as JSON text.
    pub fn score_json(&self, text: &str) -> Result<Outcome, EvalError> {
        self.outcome(Lead::Text(text), None)
    }

    /// Scores a JSON lead; a lead without an id gets `number` (its place in the input).
    ///
    /// ```
    /// # let pack = leadscore::Pack::from_source("demo", "title ~ CEO => +5")?;
    /// # let as_of = leadscore::parse_time("2026-01-01T00:00:00Z").unwrap();
    /// let outcome = pack.scorer(as_of).score_numbered(&serde_json::json!({"title": "CEO"}), 7)?;
    /// assert_eq!(outcome.id, Some(serde_json::json!(7)));
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn score_numbered(&self, lead: &Json, number: u64) -> Result<Outcome, EvalError> {
        self.outcome(Lead::Value(lead), Some(number.into()))
    }

    /// Scores a lead given as JSON text; a lead without an id gets `number` (its line).
    ///
    /// ```
    /// # let pack = leadscore::Pack::from_source("demo", "title ~ CEO => +5")?;
    /// # let as_of = leadscore::parse_time("2026-01-01T00:00:00Z").unwrap();
    /// let scorer = pack.scorer(as_of);
    /// assert_eq!(scorer.score_json_numbered(r#"{"title": "CEO"}"#, 3)?.id, Some(serde_json::json!(3)));
    /// assert_eq!(scorer.score_json_numbered(r#"{"id": "L-1"}"#, 3)?.id, Some(serde_json::json!("L-1")));
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn score_json_numbered(&self, text: &str, number: u64) -> Result<Outcome, EvalError> {
        self.outcome(Lead::Text(text), Some(number.into()))
    }

    /// `Pack::trace_let` for this scorer's time and id field.
    pub(super) fn trace_let(&self, name: &str, lead: &Json) -> Result<Option<crate::Trace>, EvalError> {
        let program = &self.pack.inner.program;
        let Some(index) = program.lets.iter().position(|l| l.name == name) else {
            return Ok(None);
        };
        let plugins = &self.pack.inner.plugins;
        self.with_record(Lead::Value(lead), |record, _| {
            let trace = || eval::trace::trace_let(program, record, self.as_of, plugins, index);
            plugin::scoring_at(self.as_of, trace).map(Some)
        })
    }

    /// The one scoring path: the lead through the hooks into a record, then evaluated.
    fn outcome(&self, lead: Lead<'_>, fallback_id: Option<Json>) -> Result<Outcome, EvalError> {
        let inner = &self.pack.inner;
        self.with_record(lead, |record, enriched| {
            let context = Context {
                pack: inner.id.clone(),
                enriched,
                fallback_id,
            };
            let evaluate = || eval::evaluate(&inner.program, record, self.as_of, &inner.plugins, context);
            // Plugin functions read `as_of()`; a pack without plugins skips setting it.
            if inner.plugins.is_empty() {
                evaluate()
            } else {
                plugin::scoring_at(self.as_of, evaluate)
            }
        })
    }

    /// Runs the enrichment hooks on `lead` and reads it into a record for `then`: the rules
    /// see the hooks' fields exactly like input fields. The lead is read as it is and the
    /// changed fields patched in, so it is not copied (unless a hook replaced its events).
    fn with_record<R>(
        &self,
        lead: Lead<'_>,
        then: impl FnOnce(&Record, Vec<Enrichment>) -> Result<R, EvalError>,
    ) -> Result<R, EvalError> {
        let inner = &self.pack.inner;
        let (program, plan) = (&inner.program, self.plan());
        let parsed: Json;
        let value = match lead {
            _ if !inner.plugins.has_hooks() => return then(&self.read(lead)?, Vec::new()),
            Lead::Value(value) => value,
            Lead::Text(text) => {
                // Hooks that do not read events get the lead parsed without them; the rules
                // still read the text directly, with the hooks' fields patched in.
                let light = (!inner.plugins.hooks_read_events()).then(|| plugin::lead_without_events(text));
                if let Some(light) = light.flatten() {
                    let (changed, enriched) = inner.plugins.enrich(&light, self.as_of)?;
                    if !changed.contains_key("events") {
                        let changed = Json::Object(changed);
                        let mut record = plan.read(program, text, self.as_of)?;
                        read::overlay(program, &mut record, &light, &changed, self.id_name());
                        return then(&record, enriched);
                    }
                }
                parsed = serde_json::from_str(text).map_err(|e| EvalError::Json(e.to_string()))?;
                &parsed
            }
        };
        let (changed, enriched) = inner.plugins.enrich(value, self.as_of)?;
        if changed.contains_key("events") {
            let mut merged = value.clone();
            if let Json::Object(object) = &mut merged {
                object.extend(changed);
            }
            // Events are read as the rules count them: an error in the hook's events is
            // the hook's.
            let hook = crate::plugin::events_hook(&enriched);
            let blame = |e| crate::plugin::events_error(e, hook.as_deref());
            let record = plan.read_value(program, &merged).map_err(|e| blame(e.into()))?;
            return then(&record, enriched).map_err(blame);
        }
        let changed = Json::Object(changed);
        let mut record = plan.read_value(program, value)?;
        read::overlay(program, &mut record, value, &changed, self.id_name());
        then(&record, enriched)
    }

    /// A lead read as it is (no hooks).
    fn read<'l>(&self, lead: Lead<'l>) -> Result<Record<'l>, EvalError> {
        let program = &self.pack.inner.program;
        Ok(match lead {
            Lead::Text(text) => self.plan().read(program, text, self.as_of)?,
            Lead::Value(value) => self.plan().read_value(program, value)?,
        })
    }

    fn id_name(&self) -> &str {
        self.id_field.as_ref().map_or("id", |(f, _)| f.as_str())
    }

    /// How this scorer reads leads (which field is the id).
    fn plan(&self) -> &ReadPlan {
        self.id_field.as_ref().map_or(&self.pack.inner.plan, |(_, plan)| plan)
    }
}
