//! Scoring leads with a pack: one path for every way a lead arrives, lead → hooks →
//! record → evaluate (or, for `trace_let`, → trace).

use serde_json::Value as Json;

use super::Pack;
use crate::eval::{self, Context, Enrichment, EvalError, Host, NextChange, Outcome};
use crate::plugin;
use crate::program::Program;
use crate::read::ReadPlan;
use crate::read::{self, Record};
#[cfg(feature = "arrow")]
use crate::read::{ArrowLeads, ArrowRefusal};

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

/// An Arrow record batch ready to be scored row by row, from any thread; made by
/// [`Scorer::arrow`], whose example scores one.
#[cfg(feature = "arrow")]
pub struct ArrowBatch<'s, 'b> {
    scorer: &'s Scorer<'s>,
    leads: ArrowLeads<'s, 'b>,
}

#[cfg(feature = "arrow")]
impl ArrowBatch<'_, '_> {
    /// The number of rows.
    pub fn len(&self) -> usize {
        self.leads.len()
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.leads.is_empty()
    }

    /// Scores row `row` (`< len()`), as [`Scorer::score`] scores the JSON object of its
    /// cells. A row with no id (a null cell, or no id column) gets none: unlike a line of
    /// a file, a row's number is the caller's to give.
    ///
    /// # Panics
    /// If `row >= len()`, as indexing a slice past its end does.
    pub fn score(&self, row: usize) -> Result<Outcome, EvalError> {
        let rows = self.len();
        assert!(row < rows, "row {row} is past the end of a batch of {rows} rows");
        let scorer = self.scorer;
        let mut record = self.leads.read(&scorer.pack.inner.program, row, scorer.as_of)?;
        scorer.evaluate(&mut record, Vec::new(), None, eval::evaluate)
    }

    /// Scores row `row` as of its own time `as_of` instead of the scorer's (a column of
    /// times, as `--as-of-field` judges each lead when it was handed over): events after
    /// `as_of` do not count and decay runs to `as_of`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_array::{ArrayRef, RecordBatch, StringArray};
    /// # let pack = leadscore::Pack::from_source("demo", "visited /pricing within 7d => +5")?;
    /// let batch = RecordBatch::try_from_iter([(
    ///     "events",
    ///     Arc::new(StringArray::from(vec![r#"[{"type": "page_view", "path": "/pricing", "at": "2026-01-01T00:00:00Z"}]"#])) as ArrayRef,
    /// )])?;
    /// let scorer = pack.scorer(leadscore::parse_time("2026-06-01T00:00:00Z").unwrap());
    /// let leads = scorer.arrow(&batch)?;
    /// assert_eq!(leads.score(0)?.score, 0.0);
    /// assert_eq!(leads.score_at(0, leadscore::parse_time("2026-01-03T00:00:00Z").unwrap())?.score, 5.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Panics
    /// If `row >= len()`, as [`ArrowBatch::score`] does.
    pub fn score_at(&self, row: usize, as_of: chrono::DateTime<chrono::Utc>) -> Result<Outcome, EvalError> {
        let rows = self.len();
        assert!(row < rows, "row {row} is past the end of a batch of {rows} rows");
        let scorer = Scorer::new(self.scorer.pack, as_of.timestamp_millis());
        let mut record = self.leads.read(&scorer.pack.inner.program, row, scorer.as_of)?;
        scorer.evaluate(&mut record, Vec::new(), None, eval::evaluate)
    }
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

    /// Scores a JSON lead, and says when its result can next change with no new data
    /// ([`NextChange`]): the same result as [`Scorer::score`], with the instant a window
    /// ends, an event after `as_of` comes, or decayed points cross a threshold; a pack
    /// whose hooks or functions read `as_of()` for it makes it
    /// [`NextChange::Unpredictable`].
    ///
    /// ```
    /// use leadscore::NextChange;
    /// # let pack = leadscore::Pack::from_source("demo", "title ~ CEO => +5")?;
    /// let as_of = leadscore::parse_time("2026-01-01T00:00:00Z").unwrap();
    /// let (outcome, next) = pack.scorer(as_of).score_with_next_change(&serde_json::json!({"title": "CEO"}))?;
    /// assert_eq!((outcome.score, next), (5.0, NextChange::Never));
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn score_with_next_change(&self, lead: &Json) -> Result<(Outcome, NextChange), EvalError> {
        self.outcome_with_next_change(Lead::Value(lead))
    }

    /// [`Scorer::score_with_next_change`] for a lead given as JSON text.
    pub fn score_json_with_next_change(&self, text: &str) -> Result<(Outcome, NextChange), EvalError> {
        self.outcome_with_next_change(Lead::Text(text))
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
        self.with_record(lead, |record, enriched| {
            self.evaluate(record, enriched, fallback_id, eval::evaluate)
        })
    }

    /// The same path, with the next change found as the record is evaluated. The hooks
    /// and functions that ran are watched: one that read `as_of()` may answer
    /// differently at any time.
    fn outcome_with_next_change(&self, lead: Lead<'_>) -> Result<(Outcome, NextChange), EvalError> {
        let score = || {
            self.with_record(lead, |record, enriched| {
                self.evaluate(record, enriched, None, eval::evaluate_with_next_change)
            })
        };
        if self.pack.inner.plugins.is_empty() {
            return score();
        }
        let (scored, read_as_of) = plugin::noting_as_of(score);
        let (outcome, next) = scored?;
        Ok((outcome, if read_as_of { next.unpredictable() } else { next }))
    }

    /// A record evaluated by `evaluate` into the whole result.
    /// The record's id moves into the result (it is not copied again).
    fn evaluate<R>(
        &self,
        record: &mut Record,
        enriched: Vec<Enrichment>,
        fallback_id: Option<Json>,
        evaluate: impl FnOnce(&Program, &Record, i64, &dyn Host, Context) -> Result<R, EvalError>,
    ) -> Result<R, EvalError> {
        let inner = &self.pack.inner;
        let context = Context {
            names: inner.names.clone(),
            enriched,
            id: record.id.take().or(fallback_id),
        };
        let evaluate = || evaluate(&inner.program, record, self.as_of, &inner.plugins, context);
        // Plugin functions read `as_of()`; a pack without plugins skips setting it.
        if inner.plugins.is_empty() {
            evaluate()
        } else {
            plugin::scoring_at(self.as_of, evaluate)
        }
    }

    /// Prepares an Arrow record batch to be scored row by row: the columns the pack
    /// reads (struct children by dotted paths, `events` a list of structs), read by the
    /// JSON readers' rules, so a row scores as the JSON object of its non-null cells
    /// does. Refused before any row is read for a pack with enrichment hooks (they take
    /// each lead whole, as JSON) and for a column the pack reads of a type the reader
    /// does not read (the refusal names it): score such a batch's rows as JSON.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
    /// # let pack = leadscore::Pack::from_source("demo", "title ~ CEO => +5")?;
    /// let as_of = leadscore::parse_time("2026-01-01T00:00:00Z").unwrap();
    /// let batch = RecordBatch::try_from_iter([
    ///     ("id", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
    ///     ("title", Arc::new(StringArray::from(vec![Some("CEO"), None]))),
    /// ])?;
    /// let scorer = pack.scorer(as_of);
    /// let leads = scorer.arrow(&batch)?;
    /// assert_eq!(leads.score(0)?.score, 5.0);
    /// assert_eq!(leads.score(1)?.id, Some(serde_json::json!(2)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "arrow")]
    pub fn arrow<'s, 'b>(&'s self, batch: &'b arrow_array::RecordBatch) -> Result<ArrowBatch<'s, 'b>, ArrowRefusal> {
        if self.pack.inner.plugins.has_hooks() {
            return Err(ArrowRefusal::Hooks);
        }
        let leads = self.plan().arrow(&self.pack.inner.program, batch)?;
        Ok(ArrowBatch { scorer: self, leads })
    }

    /// Runs the enrichment hooks on `lead` and reads it into a record for `then`: the rules
    /// see the hooks' fields exactly like input fields. The lead is read as it is and the
    /// changed fields patched in, so it is not copied (unless a hook replaced its events).
    fn with_record<R>(
        &self,
        lead: Lead<'_>,
        then: impl FnOnce(&mut Record, Vec<Enrichment>) -> Result<R, EvalError>,
    ) -> Result<R, EvalError> {
        let inner = &self.pack.inner;
        let (program, plan) = (&inner.program, self.plan());
        let parsed: Json;
        let value = match lead {
            _ if !inner.plugins.has_hooks() => return then(&mut self.read(lead)?, Vec::new()),
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
                        return then(&mut record, enriched);
                    }
                }
                parsed = serde_json::from_str(text)
                    .map_err(|e| EvalError::Read(crate::read::ReadError::Json(e.to_string())))?;
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
            let mut record = plan.read_value(program, &merged).map_err(|e| blame(e.into()))?;
            return then(&mut record, enriched).map_err(blame);
        }
        let changed = Json::Object(changed);
        let mut record = plan.read_value(program, value)?;
        read::overlay(program, &mut record, value, &changed, self.id_name());
        then(&mut record, enriched)
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
