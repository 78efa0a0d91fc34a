//! One batch of writes inside one transaction: apply each write to its lead, score every
//! lead that changed once (with the pack version live when the batch began, as batch
//! scoring would score the same fields and events), let the lifecycle decide the
//! transitions, and write records, history and outbox together.
//!
//! A write that cannot be applied (a stage change the lifecycle refuses, too many fields)
//! is that write's error and changes nothing; the others in the batch go on.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::cache::{Cached, KeptEvents, LeadCache, LeadMap};
use super::config::Limits;
use super::error::ApiError;
use super::input::{check_field_count, merge_patch, rfc3339, Incoming, Op};
use super::lifecycle::{self, Ask, Change, Kind, Reading, Stage, Standing};
use super::model::{
    hour_of, HandOff, HistoryEntry, LeadRecord, Millis, RuleChange, RuleFires, ScoringError, ShadowRecord, ShadowTally,
    StoredResult, Transition, RULE_FIRES_KEPT,
};
use super::shadow;
use super::storage::{StorageError, Txn};
use leadscore::{NextChange, Pack};

/// A 409 naming the first event id that the lead (or an earlier event of this write)
/// already has with another payload; a reused id with the same payload is a retry.
fn reused_id(t: &mut dyn Txn, lead: &str, events: &[Incoming]) -> Result<Option<ApiError>, StorageError> {
    let mut seen: HashMap<&str, &[u8; 32]> = HashMap::new();
    for event in events {
        let (Some(id), Some(payload)) = (&event.id, &event.payload) else {
            continue;
        };
        let earlier = match seen.get(id.as_str()) {
            Some(p) => Some(p.to_vec()),
            None => t.event_digest(lead, id)?,
        };
        if earlier.is_some_and(|e| e != payload) {
            return Ok(Some(ApiError::status(
                409,
                crate::error::ApiErrorKind::EventIdReused,
                format!(
                    "lead `{lead}` already has an event `{id}` with another payload; nothing of this write was stored"
                ),
            )));
        }
        seen.entry(id).or_insert(payload);
    }
    Ok(None)
}

/// What one write did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Events stored.
    pub new_events: u64,
    /// Events whose `id` the lead already had: ignored.
    pub duplicates: u64,
}

/// A lead after the batch, for the responses.
#[derive(Clone, Debug)]
pub struct LeadView {
    /// The stage and what goes with it.
    pub standing: Standing,
    /// The result (`None` when scoring failed or the lead has not been scored).
    pub result: Option<StoredResult>,
    /// Why scoring failed.
    pub error: Option<ScoringError>,
    /// The time the result was computed as of (ms).
    pub as_of: Millis,
    /// Seqs of the transitions this batch wrote for the lead.
    pub transitions: Vec<u64>,
}

/// Counters for metrics.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Events stored.
    pub events: u64,
    /// Events ignored as repeats.
    pub duplicates: u64,
    /// Events dropped past the per-lead limit.
    pub dropped: u64,
    /// Leads created.
    pub new_leads: u64,
    /// Leads whose scoring failed.
    pub score_errors: u64,
    /// Transitions written, by kind.
    pub transitions: Vec<&'static str>,
    /// The rules that fired in each result computed (a rule once per result).
    pub fired: Vec<std::sync::Arc<str>>,
    /// Stored leads loaded, by how the writer's cache served them.
    pub loads: Loads,
}

/// Stored leads a batch loaded, by how the writer's cache served them (storage and
/// scale, issue 22).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Loads {
    /// Current in the cache: nothing read.
    pub cached: u64,
    /// Stale in the cache, another instance having written the lead since: its record
    /// read, and of its events only those added since.
    pub caught_up: u64,
    /// Not in the cache (or not known to be the same lead): record and events read whole.
    pub read: u64,
}

struct Working {
    record: LeadRecord,
    /// The due index entry as stored before the batch.
    indexed_due: Option<Millis>,
    /// Changed since it was last scored.
    dirty: bool,
    /// Changed in this batch, so written at its end (a lead that only saw rejected writes
    /// or repeated events is not written, and a new one not created).
    changed: bool,
    /// Not in the database before this batch.
    created: bool,
    /// This batch's transitions of the lead: indexes into [`Batch::outbox`].
    transitions: Vec<usize>,
    /// Its kept events as stored, once known (from the cache, or read to score it), and
    /// kept up to date by the batch's appends and drops: text, checked once when read.
    events: Option<KeptEvents>,
    /// The stamp of its stored record (see [`Txn::lead_stamp`]).
    stamp: Option<i64>,
}

/// The writes of one transaction.
pub struct Batch<'a> {
    pool: Option<&'a leadscore::batch::Pool>,
    pack: &'a Pack,
    limits: &'a Limits,
    now: Millis,
    /// The bound on what the core cannot predict (`--reevaluate-every`): a result that
    /// may change at any time, or a failed scoring, is due again this long after it.
    fallback: Millis,
    leads: LeadMap<Working>,
    /// The transitions of the batch, in order; their seqs are given at [`Batch::finish`].
    outbox: Vec<Transition>,
    /// Counters for metrics.
    pub tally: Tally,
    /// The shadow pack (`serve --shadow`): every lead scored is scored with it too.
    shadow: Option<&'a Pack>,
    /// What this batch changes in the shadow pack's tally.
    shadow_delta: ShadowTally,
    /// The console (issue 28): the results this batch computed and the rules that fired
    /// in them, added to the stored counts of the batch's hour.
    fires: RuleFires,
    /// The writer's cache of leads: leads are taken from it (see [`Batch::into_cached`]).
    cache: Option<&'a mut LeadCache>,
}

/// A lead scored: the live pack's result and, with a shadow pack, the shadow's.
type Scored = (
    Result<(leadscore::Outcome, Option<Millis>), leadscore::EvalError>,
    Option<Result<(leadscore::Outcome, Option<Millis>), leadscore::EvalError>>,
);

impl<'a> Batch<'a> {
    /// A batch scored with `pack` as of `now` (ms); a lead whose result may change at any
    /// time is due again `fallback` ms later. Leads are scored on `pool`'s threads when there
    /// is one.
    pub fn new(
        pack: &'a Pack,
        limits: &'a Limits,
        now: Millis,
        fallback: Millis,
        pool: Option<&'a leadscore::batch::Pool>,
    ) -> Batch<'a> {
        Batch {
            pool,
            pack,
            limits,
            now,
            fallback,
            leads: LeadMap::default(),
            outbox: Vec::new(),
            tally: Tally::default(),
            shadow: None,
            shadow_delta: ShadowTally::default(),
            fires: RuleFires::default(),
            cache: None,
        }
    }

    /// Takes the leads it loads from `cache` when they are current there (storage and
    /// scale, issue 22); [`Batch::into_cached`] gives them back after the commit.
    pub fn with_cache(mut self, cache: &'a mut LeadCache) -> Batch<'a> {
        self.cache = Some(cache);
        self
    }

    /// Every lead of the batch as stored now, for the writer's cache once the batch's
    /// transaction committed (never before: a rolled-back one stored none of it).
    pub fn into_cached(self) -> Vec<(String, Cached)> {
        let stored = self.leads.into_iter().filter(|(_, w)| w.changed || !w.created);
        stored
            .filter_map(|(id, w)| {
                let entry = Cached {
                    stamp: w.stamp?,
                    record: w.record,
                    events: w.events,
                };
                Some((id, entry))
            })
            .collect()
    }

    /// Scores every lead with `shadow` as well (`serve --shadow`): its results are stored
    /// beside the live ones and tallied, and never move a stage.
    pub fn with_shadow(mut self, shadow: Option<&'a Pack>) -> Batch<'a> {
        self.shadow_delta = ShadowTally::new(&shadow.map(|p| p.id().to_string()).unwrap_or_default());
        self.shadow = shadow;
        self
    }

    /// Applies one write. The outer error is the storage's (it fails the whole batch);
    /// the inner one is this write's, and it changed nothing.
    pub fn apply(&mut self, t: &mut dyn Txn, lead: &str, op: &Op) -> Result<Result<Applied, ApiError>, StorageError> {
        let creates = !matches!(op, Op::Stage { .. } | Op::Evaluate);
        if !self.load(t, lead, creates)? {
            return Ok(match op {
                Op::Evaluate => Ok(Applied::default()),
                _ => Err(ApiError::not_found(format!("no lead `{lead}`"))),
            });
        }
        match op {
            Op::Put(fields) => Ok(self.set_fields(lead, fields.clone())),
            Op::Patch(patch) => {
                let mut fields = self.working(lead).record.fields.clone();
                merge_patch(&mut fields, patch);
                Ok(self.set_fields(lead, fields))
            }
            Op::Events(events) => self.append(t, lead, events),
            Op::Stage(ask) => self.stage(t, lead, ask),
            Op::Evaluate => {
                self.working(lead).dirty = true;
                Ok(Ok(Applied::default()))
            }
        }
    }

    /// Scores every lead changed since it was last scored, writes every lead touched
    /// with its next due time, and then the batch's transitions (last: see
    /// [`Txn::push_transitions`]).
    pub fn finish(&mut self, t: &mut dyn Txn) -> Result<(), StorageError> {
        let mut ids: Vec<String> = self.leads.keys().cloned().collect();
        ids.sort();
        self.evaluate_all(t, &ids)?;
        let cool_down = self.pack.program().requalify_after().map(as_millis);
        for id in &ids {
            let w = self.working(id);
            if !w.changed {
                continue;
            }
            w.record.due = next_due(&w.record, cool_down);
            let created = w.created;
            t.put_lead(id, &w.record, w.indexed_due)?;
            self.tally.new_leads += u64::from(created);
        }
        for (id, w) in &mut self.leads {
            w.stamp = t.lead_stamp(id)?;
        }
        if self.shadow.is_some() && !self.shadow_delta.is_empty() {
            t.add_shadow(&self.shadow_delta)?;
        }
        if !self.fires.is_empty() {
            let hour = hour_of(self.now);
            t.add_rule_fires(hour, &self.fires, hour.saturating_sub(RULE_FIRES_KEPT))?;
        }
        t.push_transitions(&mut self.outbox)
    }

    /// Erases a lead: its record, events, event ids, ledger and due entry; the
    /// transitions already in the outbox stay (they hold its id, never its fields or
    /// events). A later write in the batch starts a new lead under the id.
    pub fn delete(&mut self, t: &mut dyn Txn, lead: &str) -> Result<Result<Applied, ApiError>, StorageError> {
        if !self.load(t, lead, false)? {
            return Ok(Err(ApiError::not_found(format!("no lead `{lead}`"))));
        }
        // Events an earlier write of this batch stored go too.
        let Some(w) = self.leads.remove(lead) else {
            return Ok(Ok(Applied::default()));
        };
        t.delete_lead(lead, w.indexed_due)?;
        // An erased lead leaves the shadow report too: its latest mark is taken out.
        if let Some(shadow) = w.record.shadow {
            if let Some(mark) = &shadow.counted {
                if self.shadow.is_some_and(|p| p.id().to_string() == shadow.pack) {
                    self.shadow_delta.add(mark, -1);
                } else {
                    let mut gone = ShadowTally::new(&shadow.pack);
                    gone.add(mark, -1);
                    t.add_shadow(&gone)?;
                }
            }
        }
        Ok(Ok(Applied::default()))
    }

    /// Loads the leads a due claim gave (see [`Txn::due_leads`]) and marks them to be
    /// scored again.
    pub fn evaluate_due(&mut self, t: &mut dyn Txn, ids: &[String]) -> Result<(), StorageError> {
        for id in ids {
            if self.load(t, id, false)? {
                self.working(id).dirty = true;
            }
        }
        Ok(())
    }

    /// Claims the next `limit` leads of the re-scoring with this batch's pack (see
    /// [`Txn::rescore_claim`]) and marks them to be scored again; how many.
    pub fn rescore(&mut self, t: &mut dyn Txn, limit: usize) -> Result<usize, StorageError> {
        let ids = t.rescore_claim(&self.pack.id().to_string(), limit)?;
        self.evaluate_due(t, &ids)?;
        Ok(ids.len())
    }

    /// Scores every dirty lead: reading them is the transaction's, scoring them is pure
    /// and runs on the pool's threads, storing the results is the transaction's again.
    fn evaluate_all(&mut self, t: &mut dyn Txn, ids: &[String]) -> Result<(), StorageError> {
        let mut prepared = Vec::new();
        for id in ids {
            if self.working(id).dirty {
                let (text, as_of) = self.prepare(t, id)?;
                prepared.push((id, text, as_of));
            }
        }
        let (pack, shadow, fallback) = (self.pack, self.shadow, self.fallback);
        let score = |(_, text, as_of): &(&String, String, Millis)| -> Scored {
            (
                score_at(pack, text, *as_of, fallback),
                shadow.map(|s| score_at(s, text, *as_of, fallback)),
            )
        };
        let mut scored = Vec::new();
        match (self.pool, prepared.len()) {
            (Some(pool), n) if n > 1 => pool.map(&prepared, &mut scored, score),
            _ => scored.extend(prepared.iter().map(score)),
        }
        for ((id, _, as_of), scored) in prepared.iter().zip(scored) {
            self.settle(t, id, *as_of, scored)?;
        }
        Ok(())
    }

    /// The lead as the batch left it.
    pub fn view(&self, lead: &str) -> Option<LeadView> {
        let stored = self.leads.get(lead).filter(|w| w.changed || !w.created);
        stored.map(|w| LeadView {
            standing: w.record.standing.clone(),
            result: w.record.result.clone(),
            error: w.record.error.clone(),
            as_of: w.record.as_of,
            transitions: w
                .transitions
                .iter()
                .filter_map(|&i| Some(self.outbox.get(i)?.seq))
                .collect(),
        })
    }

    /// Loads a lead into the batch (creating it if `create`); whether it exists now.
    fn load(&mut self, t: &mut dyn Txn, lead: &str, create: bool) -> Result<bool, StorageError> {
        if self.leads.contains_key(lead) {
            return Ok(true);
        }
        let stamp = t.lead_stamp(lead)?;
        let cached = self.cache.as_deref_mut().and_then(|c| c.take(lead));
        let (record, events, created) = match cached {
            Some(c) if Some(c.stamp) == stamp => {
                self.tally.loads.cached += 1;
                (c.record, c.events, false)
            }
            stale => match t.lead(lead)? {
                Some(r) => {
                    let events = match stale {
                        Some(copy) => catch_up(t, lead, copy, &r)?,
                        None => None,
                    };
                    match events {
                        Some(_) => self.tally.loads.caught_up += 1,
                        None => self.tally.loads.read += 1,
                    }
                    (r, events, false)
                }
                None if create => (LeadRecord::new(self.now), Some(KeptEvents::default()), true),
                None => return Ok(false),
            },
        };
        let working = Working {
            indexed_due: record.due,
            record,
            dirty: false,
            changed: false,
            created,
            transitions: Vec::new(),
            events,
            stamp,
        };
        self.leads.insert(lead.to_string(), working);
        Ok(true)
    }

    #[expect(clippy::expect_used, reason = "callers load the lead first")]
    fn working(&mut self, lead: &str) -> &mut Working {
        self.leads.get_mut(lead).expect("lead loaded")
    }

    fn set_fields(&mut self, lead: &str, fields: Map<String, Value>) -> Result<Applied, ApiError> {
        check_field_count(fields.len(), self.limits)?;
        let now = self.now;
        let w = self.working(lead);
        if w.record.fields != fields {
            w.record.activity = Some(w.record.activity.map_or(now, |a| a.max(now)));
            w.record.updated = Some(w.record.updated.map_or(now, |u| u.max(now)));
        }
        w.record.fields = fields;
        w.dirty = true;
        Ok(Applied::default())
    }

    fn append(
        &mut self,
        t: &mut dyn Txn,
        lead: &str,
        events: &[Incoming],
    ) -> Result<Result<Applied, ApiError>, StorageError> {
        if let Some(conflict) = reused_id(t, lead, events)? {
            return Ok(Err(conflict));
        }
        let mut applied = Applied::default();
        let keep = self.limits.events_per_lead;
        let program = self.pack.program();
        let w = self
            .leads
            .get_mut(lead)
            .ok_or_else(|| StorageError::decode("batch", "lead not loaded"))?;
        for event in events {
            if let Some(id) = &event.id {
                if t.has_event_id(lead, id)? {
                    applied.duplicates += 1;
                    continue;
                }
            }
            let counts = &mut w.record.events;
            t.put_event(lead, counts.next, &event.json, event.id.as_deref())?;
            if let Some(kept) = &mut w.events {
                kept.push(&event_text(&event.json));
            }
            if let (Some(id), Some(payload)) = (&event.id, &event.payload) {
                t.put_event_digest(lead, id, payload)?;
            }
            counts.next += 1;
            applied.new_events += 1;
            w.record.last_activity = Some(w.record.last_activity.map_or(event.received, |a| a.max(event.received)));
            if program.event_types().any(|c| c.eq_ignore_ascii_case(&event.kind)) {
                w.record.activity = Some(w.record.activity.map_or(event.at, |a| a.max(event.at)));
            }
        }
        let counts = &mut w.record.events;
        if counts.kept() > keep {
            let excess = counts.kept() - keep;
            t.drop_events(lead, counts.first, counts.first + excess)?;
            if let Some(kept) = &mut w.events {
                kept.drop_oldest(usize::try_from(excess).unwrap_or(usize::MAX));
            }
            counts.first += excess;
            counts.dropped += excess;
            self.tally.dropped += excess;
        }
        w.dirty |= applied.new_events > 0;
        if applied.new_events > 0 {
            w.record.updated = Some(w.record.updated.map_or(self.now, |u| u.max(self.now)));
        }
        self.tally.events += applied.new_events;
        self.tally.duplicates += applied.duplicates;
        Ok(Ok(applied))
    }

    fn stage(&mut self, t: &mut dyn Txn, lead: &str, ask: &Ask) -> Result<Result<Applied, ApiError>, StorageError> {
        // Earlier writes of this batch first: the change applies to the lead as they left it.
        if self.working(lead).dirty {
            self.evaluate(t, lead)?;
        }
        let now = self.now.max(self.working(lead).record.as_of);
        let change = match lifecycle::request(&self.working(lead).record.standing, ask, now) {
            Ok(change) => change,
            Err(e) => return Ok(Err(ApiError::conflict(e.to_string()))),
        };
        let score = self.working(lead).record.result.as_ref().and_then(StoredResult::score);
        let why = reasons(std::slice::from_ref(&change));
        self.record_changes(t, lead, vec![change], score, ask.reason.as_deref())?;
        let (pack, keep) = (self.pack, self.limits.history_per_lead);
        let w = self.working(lead);
        w.changed = true;
        let mut entry = history(&w.record, score, score, Vec::new(), pack);
        entry.acted_at = Some(rfc3339(ask.acted.at));
        entry.by.clone_from(&ask.acted.by);
        entry.reason = why;
        let n = w.record.next_history;
        w.record.next_history += 1;
        t.push_history(lead, n, &entry, keep)?;
        Ok(Ok(Applied::default()))
    }

    /// Scores the lead as of the batch's time (never earlier than its last result), runs
    /// the lifecycle, and writes the transitions and a history entry if anything moved.
    fn evaluate(&mut self, t: &mut dyn Txn, lead: &str) -> Result<(), StorageError> {
        let (text, as_of) = self.prepare(t, lead)?;
        let scored = (
            score_at(self.pack, &text, as_of, self.fallback),
            self.shadow.map(|s| score_at(s, &text, as_of, self.fallback)),
        );
        self.settle(t, lead, as_of, scored)
    }

    /// The lead as batch scoring would read it, and the time to score it as of.
    fn prepare(&mut self, t: &mut dyn Txn, lead: &str) -> Result<(String, Millis), StorageError> {
        let now = self.now;
        let w = self.working(lead);
        w.dirty = false;
        w.changed = true;
        let as_of = w.record.as_of.max(now);
        let kept = usize::try_from(w.record.events.kept()).unwrap_or(usize::MAX);
        let events = match w.events.take() {
            Some(events) if events.len() == kept => events,
            _ => KeptEvents::from_texts(
                t.events_from(lead, w.record.events.first)?
                    .iter()
                    .map(|e| event_text(e)),
            ),
        };
        let text = lead_text_of_items(lead, &w.record.fields, events.as_items());
        w.events = Some(events);
        Ok((text, as_of))
    }

    /// Stores a new result, with the transitions and the ledger entry it calls for.
    fn settle(
        &mut self,
        t: &mut dyn Txn,
        lead: &str,
        as_of: Millis,
        (scored, shadow): Scored,
    ) -> Result<(), StorageError> {
        let (pack, fallback) = (self.pack, self.fallback);
        // The shadow's own next change counts too, so its comparison never goes stale.
        let shadow_due = match &shadow {
            Some(Ok((_, due))) => *due,
            _ => None,
        };
        if let Some(shadowed) = shadow {
            let live = scored.as_ref().ok().map(|(outcome, _)| outcome);
            self.shadow_result(lead, live, shadowed.map(|(outcome, _)| outcome));
        }
        let w = self.working(lead);
        let before = w.record.result.take();
        let error_before = w.record.error.take();
        w.record.as_of = as_of;
        let changes = match scored {
            Ok((outcome, result_due)) => {
                self.tally
                    .fired
                    .extend(outcome.fired().map(|f| std::sync::Arc::from(f.rule())));
                self.fires.add(outcome.fired().map(|f| f.rule()));
                let w = self.working(lead);
                let changes = decide(pack, &outcome, &w.record, as_of);
                w.record.result = StoredResult::new(&outcome).ok();
                w.record.result_due = match (result_due, shadow_due) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                changes
            }
            Err(e) => {
                w.record.error = Some(ScoringError::from(&e));
                // A plugin that failed may answer later: tried again after the fallback.
                w.record.result_due = Some(as_of.saturating_add(fallback));
                let breach = lifecycle::sla_check(&w.record.standing, as_of);
                self.tally.score_errors += 1;
                breach.into_iter().collect()
            }
        };
        let score = self.working(lead).record.result.as_ref().and_then(StoredResult::score);
        let moved = !changes.is_empty();
        let why = reasons(&changes);
        self.record_changes(t, lead, changes, score, None)?;
        let keep = self.limits.history_per_lead;
        let w = self.working(lead);
        let rules = rule_changes(before.as_ref(), w.record.result.as_ref());
        let previous = before.as_ref().and_then(StoredResult::score);
        let mql_changed = before.as_ref().map(StoredResult::mql) != w.record.result.as_ref().map(StoredResult::mql);
        if moved || previous != score || mql_changed || !rules.is_empty() || error_before != w.record.error {
            let mut entry = history(&w.record, score, previous, rules, pack);
            entry.reason = why;
            let n = w.record.next_history;
            w.record.next_history += 1;
            t.push_history(lead, n, &entry, keep)?;
        }
        Ok(())
    }

    /// Stores the shadow pack's result beside the live one and moves the lead's mark in
    /// the shadow tally: its previous mark (for this shadow version) out, the new one in.
    fn shadow_result(
        &mut self,
        lead: &str,
        live: Option<&leadscore::Outcome>,
        shadowed: Result<leadscore::Outcome, leadscore::EvalError>,
    ) {
        let Some(pack) = self.shadow.map(|p| p.id().to_string()) else {
            return;
        };
        let counted = match (live, &shadowed) {
            (Some(live), Ok(shadow)) => Some(shadow::compare(live, shadow)),
            _ => None,
        };
        let record = ShadowRecord {
            result: shadowed.as_ref().ok().and_then(|o| serde_json::to_value(o).ok()),
            error: shadowed.as_ref().err().map(ScoringError::from),
            counted,
            pack,
        };
        let w = self.working(lead);
        let before = w.record.shadow.replace(record.clone());
        if let Some(old) = before.filter(|b| b.pack == record.pack).and_then(|b| b.counted) {
            self.shadow_delta.add(&old, -1);
        }
        if let Some(new) = &record.counted {
            self.shadow_delta.add(new, 1);
        }
    }

    /// Adds each change to the batch's outbox, to the funnel's hand-offs and to the lead's
    /// record of what sales did, and moves the lead's standing. `reason` is the one sales
    /// gave, for a stage change they asked for.
    fn record_changes(
        &mut self,
        t: &mut dyn Txn,
        lead: &str,
        changes: Vec<Change>,
        score: Option<f64>,
        reason: Option<&str>,
    ) -> Result<(), StorageError> {
        let pack = self.pack.id().to_string();
        for change in changes {
            self.track_handoff(t, lead, &change, reason)?;
            let sales = lifecycle::follow(self.working(lead).record.sales.take(), &change, reason);
            let stage_changed = matches!(change.kind, lifecycle::Kind::Stage(_));
            let transition = Transition {
                seq: 0,
                lead: lead.to_string(),
                kind: change.kind,
                from: change.from,
                to: change.standing.stage,
                at: rfc3339(change.at),
                score,
                route: change.standing.route.clone(),
                sla_due: change.standing.sla_due.map(rfc3339),
                pack: pack.clone(),
                reason: change.reason,
                acted_at: change.acted.as_ref().map(|a| rfc3339(a.at)),
                by: change.acted.and_then(|a| a.by),
            };
            self.outbox.push(transition);
            self.tally.transitions.push(change.kind.name());
            let index = self.outbox.len() - 1;
            let w = self.working(lead);
            w.record.sales = sales;
            if stage_changed {
                w.record.updated = Some(w.record.updated.map_or(change.at, |u| u.max(change.at)));
            }
            w.record.standing = change.standing;
            w.transitions.push(index);
        }
        Ok(())
    }
}

impl Batch<'_> {
    /// The funnel's record of a change: an MQL starts a hand-off (with the rules of the
    /// result that made it one); a stage change sales asked for is added to the lead's
    /// latest hand-off. A lead sales accept without a hand-off has none to add to.
    fn track_handoff(
        &mut self,
        t: &mut dyn Txn,
        lead: &str,
        change: &Change,
        reason: Option<&str>,
    ) -> Result<(), StorageError> {
        let w = self.working(lead);
        match (change.kind, &change.acted) {
            (Kind::Stage(Stage::Mql), _) => {
                let handoff = HandOff {
                    lead: lead.to_string(),
                    mql_at: change.at,
                    route: change.standing.route.clone(),
                    sla_due: change.standing.sla_due,
                    rules: fired(w.record.result.as_ref())
                        .iter()
                        .map(|(rule, _)| rule.to_string())
                        .collect(),
                    first_action: None,
                    reached: Vec::new(),
                    rejection_reason: None,
                };
                w.record.handoff = Some(change.at);
                t.put_handoff(&handoff)
            }
            (Kind::Stage(stage), Some(acted)) => {
                let Some(mql_at) = w.record.handoff else {
                    return Ok(());
                };
                let Some(mut handoff) = t.handoff(lead, mql_at)? else {
                    return Ok(());
                };
                handoff.act(stage, acted.at, reason);
                t.put_handoff(&handoff)
            }
            _ => Ok(()),
        }
    }
}

/// The kept events of the lead stored as `now`, from a stale copy of it (another writer
/// stored it since): the copy's events less those dropped since, then those added since,
/// read alone (see [`Txn::events_since`]); `None` when that cannot be done (the lead is
/// not known to be the one copied, or the copy had no events), and they are read whole.
fn catch_up(t: &mut dyn Txn, lead: &str, copy: Cached, now: &LeadRecord) -> Result<Option<KeptEvents>, StorageError> {
    let (Some(mut kept), was, is) = (copy.events, &copy.record.events, &now.events) else {
        return Ok(None);
    };
    if is.first < was.first || is.next < was.next {
        return Ok(None);
    }
    let Some(added) = t.events_since(lead, copy.stamp, was.next)? else {
        return Ok(None);
    };
    kept.drop_oldest(usize::try_from(is.first - was.first).unwrap_or(usize::MAX));
    for event in &added {
        kept.push(&event_text(event));
    }
    Ok((kept.len() as u64 == is.kept()).then_some(kept))
}

/// Scores a lead as of `as_of`, with the time its result is due to be scored again: the
/// core's prediction of its next change, bounded by `fallback` where it cannot predict
/// (see [`NextChange::due`]).
fn score_at(
    pack: &Pack,
    text: &str,
    as_of: Millis,
    fallback: Millis,
) -> Result<(leadscore::Outcome, Option<Millis>), leadscore::EvalError> {
    let when = chrono::DateTime::from_timestamp_millis(as_of).unwrap_or_default();
    let (outcome, next) = pack.score_json_with_next_change(text, when)?;
    Ok((outcome, result_due(next, as_of, fallback)))
}

/// When a result with this next change is due (ms), never at or before `as_of` (so a
/// lead is never claimed again by the transaction that just scored it).
fn result_due(next: NextChange, as_of: Millis, fallback: Millis) -> Option<Millis> {
    let when = chrono::DateTime::from_timestamp_millis(as_of).unwrap_or_default();
    let fallback = std::time::Duration::from_millis(u64::try_from(fallback).unwrap_or(0));
    let due = next.due(when, fallback)?;
    Some(due.timestamp_millis().max(as_of.saturating_add(1)))
}

/// The lifecycle's verdict on a new result: the route's SLA and the pack's cool-down
/// come from the pack that scored it. A hand-off at `as_of` is due after the route's
/// SLA, counted in working time when the route says `business` (issue 23).
fn decide(pack: &Pack, outcome: &leadscore::Outcome, record: &LeadRecord, as_of: Millis) -> Vec<Change> {
    let program = pack.program();
    let handed_off = chrono::DateTime::from_timestamp_millis(as_of).unwrap_or_default();
    let reading = Reading {
        mql: outcome.mql,
        route: outcome.route(),
        sla: outcome
            .route()
            .and_then(|r| program.route_sla_due(r, handed_off))
            .map(|due| due.timestamp_millis().saturating_sub(as_of)),
    };
    let cool_down = program.requalify_after().map(as_millis);
    lifecycle::advance(&record.standing, reading, record.activity, cool_down, as_of)
}

/// When a lead must be looked at again without new data: when its result can next
/// change (see [`result_due`]), or when the lifecycle decides by time alone (its pending
/// SLA, the end of a cool-down), whichever comes first; `None` when only new data can
/// change anything.
fn next_due(record: &LeadRecord, cool_down: Option<Millis>) -> Option<Millis> {
    let mql = record.result.as_ref().is_some_and(StoredResult::mql);
    let waits = lifecycle::waits_until(&record.standing, mql, record.activity, cool_down);
    match (record.result_due, waits) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn as_millis(d: std::time::Duration) -> Millis {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A stored event as text (what it was written as: an event is stored as the JSON text
/// it was received as), with any byte that is not UTF-8 replaced, as batch scoring
/// would read it. Checked once, when read, so scoring the lead again copies it only.
fn event_text(event: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(event)
}

/// The lead as batch scoring reads it: `{"id": ID, "events": [...], ...fields}`.
pub fn lead_text(id: &str, fields: &Map<String, Value>, events: &[impl AsRef<str>]) -> String {
    let items: Vec<&str> = events.iter().map(AsRef::as_ref).collect();
    lead_text_of_items(id, fields, &items.join(","))
}

/// [`lead_text`] of events given as the items of their array (`e1,e2,...`).
fn lead_text_of_items(id: &str, fields: &Map<String, Value>, items: &str) -> String {
    let fields_text = serde_json::to_string(fields).unwrap_or_else(|_| "{}".into());
    let id_text = serde_json::to_string(id).unwrap_or_else(|_| "null".into());
    let mut text = String::with_capacity(fields_text.len() + id_text.len() + items.len() + 32);
    text.push_str("{\"id\":");
    text.push_str(&id_text);
    text.push_str(",\"events\":[");
    text.push_str(items);
    text.push(']');
    let rest = &fields_text[1..];
    if rest != "}" {
        text.push(',');
    }
    text.push_str(rest);
    text
}

/// Points by rule name in a result's `fired` list.
fn fired(result: Option<&StoredResult>) -> &[(std::sync::Arc<str>, f64)] {
    result.map_or(&[], StoredResult::fired)
}

/// The rules that started or stopped firing, or gave other points.
fn rule_changes(before: Option<&StoredResult>, after: Option<&StoredResult>) -> Vec<RuleChange> {
    let (before, after) = (fired(before), fired(after));
    let find =
        |list: &[(std::sync::Arc<str>, f64)], name: &str| list.iter().find(|(n, _)| &**n == name).map(|(_, p)| *p);
    let mut out: Vec<RuleChange> = Vec::new();
    for (name, points) in after {
        let was = find(before, name);
        if was != Some(*points) {
            out.push(RuleChange {
                rule: name.to_string(),
                before: was,
                after: Some(*points),
            });
        }
    }
    for (name, points) in before {
        if find(after, name).is_none() {
            out.push(RuleChange {
                rule: name.to_string(),
                before: Some(*points),
                after: None,
            });
        }
    }
    out
}

fn history(
    record: &LeadRecord,
    score: Option<f64>,
    previous: Option<f64>,
    rules: Vec<RuleChange>,
    pack: &Pack,
) -> HistoryEntry {
    HistoryEntry {
        at: rfc3339(record.as_of),
        score,
        previous,
        mql: record.result.as_ref().is_some_and(StoredResult::mql),
        stage: record.standing.stage,
        pack: pack.id().to_string(),
        rules,
        error: record.error.clone(),
        acted_at: None,
        by: None,
        reason: None,
    }
}

/// The reasons of a ledger entry's transitions, as the outbox gives them (`None`: none).
fn reasons(changes: &[Change]) -> Option<String> {
    let all: Vec<&str> = changes.iter().map(|c| c.reason.as_str()).collect();
    (!all.is_empty()).then(|| all.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lead_text_is_what_batch_scoring_reads() {
        let mut fields = Map::new();
        fields.insert("title".into(), Value::String("VP".into()));
        let events = vec![r#"{"type":"x","at":"2026-01-01T00:00:00Z"}"#];
        let text = lead_text("a\"b", &fields, &events);
        assert_eq!(
            text,
            r#"{"id":"a\"b","events":[{"type":"x","at":"2026-01-01T00:00:00Z"}],"title":"VP"}"#
        );
        assert!(serde_json::from_str::<Value>(&text).is_ok());
        assert_eq!(lead_text("x", &Map::new(), &[] as &[&str]), r#"{"id":"x","events":[]}"#);
        assert_eq!(
            event_text(b"{\"a\":\"\xff\"}"),
            "{\"a\":\"\u{fffd}\"}",
            "as batch scoring reads it"
        );
    }

    #[test]
    fn a_lead_is_due_when_its_result_can_change_or_its_sla_passes() {
        use super::lifecycle::Stage;
        let mut record = LeadRecord::new(0);
        record.as_of = 1_000;
        assert_eq!(next_due(&record, None), None, "nothing changes by time alone");
        record.result_due = Some(61_000);
        assert_eq!(next_due(&record, None), Some(61_000), "the result's next change");
        record.standing.stage = Stage::Mql;
        record.standing.sla_due = Some(5_000);
        assert_eq!(next_due(&record, None), Some(5_000), "the SLA comes first");
        record.result_due = None;
        assert_eq!(next_due(&record, None), Some(5_000), "the SLA counts without a change");
        record.standing.sla_breached = true;
        assert_eq!(next_due(&record, None), None, "a breached SLA is not waited on");
    }

    #[test]
    fn only_what_the_core_cannot_predict_falls_back_to_the_interval() {
        let at = |ms| chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
        assert_eq!(result_due(NextChange::Never, 1_000, 60_000), None);
        assert_eq!(result_due(NextChange::At(at(500_000)), 1_000, 60_000), Some(500_000));
        let unpredictable = NextChange::Unpredictable { at: Some(at(500_000)) };
        assert_eq!(result_due(unpredictable, 1_000, 60_000), Some(61_000));
        assert_eq!(
            result_due(NextChange::Unpredictable { at: None }, 1_000, 60_000),
            Some(61_000)
        );
        assert_eq!(
            result_due(NextChange::At(at(1_000)), 1_000, 60_000),
            Some(1_001),
            "never at as_of"
        );
    }

    #[test]
    fn rule_changes_name_what_moved() {
        let result = |text: &str| {
            let raw = serde_json::value::RawValue::from_string(text.to_string()).unwrap();
            StoredResult::from_text(raw).unwrap()
        };
        let before = result(r#"{"fired": [{"rule": "a", "points": 5}, {"rule": "b", "points": 2}]}"#);
        let after = result(
            r#"{"fired": [{"rule": "a", "points": 5}, {"rule": "c", "points": 1}, {"rule": "b", "points": 3}]}"#,
        );
        let changes = rule_changes(Some(&before), Some(&after));
        let names: Vec<_> = changes.iter().map(|c| (c.rule.as_str(), c.before, c.after)).collect();
        assert_eq!(names, [("c", None, Some(1.0)), ("b", Some(2.0), Some(3.0))]);
    }
}
