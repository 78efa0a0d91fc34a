//! What the service stores, as plain serializable data: a lead's record, a transition, a
//! history entry, a webhook's delivery cursor. Both backends keep them as JSON; a lead's
//! result is kept as the JSON text it is served as ([`StoredResult`]).

use leadscore::read::ReadError;
use leadscore::EvalError;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

use super::lifecycle::{Handoff, Kind, Stage, Standing};

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// One lead: its fields, where it stands, its latest result, and counters of its events.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LeadRecord {
    /// The lead's fields (never `id` or `events`: the id is the key, events are stored apart).
    pub fields: Map<String, Value>,
    /// Stage, since when, route and SLA.
    pub standing: Standing,
    /// The latest result, as batch scoring writes it (`null` when scoring failed).
    pub result: Option<StoredResult>,
    /// Why the latest scoring failed (a plugin error, an event the pack cannot read).
    #[serde(default, deserialize_with = "stored_scoring_error")]
    pub error: Option<ScoringError>,
    /// The time the result was computed as of (ms).
    pub as_of: Millis,
    /// Event sequence numbers: the oldest kept, the next to assign.
    pub events: EventCounts,
    /// When the newest event was received (ms).
    pub last_activity: Option<Millis>,
    /// The latest counted activity (ms), what requalifies a lead in nurture: the `at` of
    /// an event of a type the pack counted when it arrived, or a change of the fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<Millis>,
    /// The next history entry's number.
    pub next_history: u64,
    /// When the lead was first written (ms).
    pub created: Millis,
    /// The next time its result may change without new data (ms): the scheduler scores it
    /// again then. `None`: never without new data. Kept in the storage's due index.
    #[serde(default)]
    pub due: Option<Millis>,
    /// When the latest result can next change with no new data (ms), as the core
    /// predicted it (`--reevaluate-every` after the result for what it cannot predict, or
    /// when scoring failed); `None`: only new data changes it. `due` is the earlier of
    /// this and what the lifecycle waits on (an SLA, the end of a cool-down).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_due: Option<Millis>,
    /// What sales did with the lead's latest hand-off (`None`: never handed off), for
    /// `GET /v1/export`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sales: Option<Handoff>,
    /// When a write last changed the lead (fields, events, a hand-off, a stage change;
    /// not a scoring alone), for `GET /v1/export?since=`. (Absent in records written
    /// before it existed: then `created`.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<Millis>,
    /// The shadow pack's result for the lead (`serve --shadow`), and what it added to
    /// that pack's [`ShadowTally`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<ShadowRecord>,
    /// The `mql_at` of the lead's latest hand-off, the key of its [`HandOff`]: where the
    /// funnel records what sales did next. `None`: never handed off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff: Option<Millis>,
}

/// Why a lead could not be scored, as stored and served: the core's [`EvalError`] kept
/// structured until it is shown — its kind as a stable code, where it happened, and its
/// message.
///
/// Records written before the error was structured hold only the message: they read back
/// with the code `unknown` (see `stored_scoring_error`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoringError {
    /// The kind: [`EvalError::code`] (`bad_event`, `plugin`, `not_a_bool`, ...).
    pub code: String,
    /// What went wrong, in words (the error's display).
    pub message: String,
    /// `file:line` of the rule whose condition failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The plugin whose call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    /// The function that failed (a plugin's, or one used as a condition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// `line:column` in the plugin's script where it stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// The index in `events` of the event that could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<usize>,
}

impl From<&EvalError> for ScoringError {
    fn from(error: &EvalError) -> ScoringError {
        let mut out = ScoringError::message(error.code(), error.to_string());
        match error {
            EvalError::Read(ReadError::BadEvent { index, .. }) => out.event = Some(*index),
            EvalError::Plugin(e) => {
                out.plugin = Some(e.plugin.clone());
                out.function = Some(e.function.clone());
                out.at = e.at.map(|p| p.to_string());
                out.rule = e.rule.as_deref().map(str::to_string);
            }
            EvalError::NotABool { function, rule, .. } => {
                out.function = Some(function.clone());
                out.rule = rule.as_deref().map(str::to_string);
            }
            _ => {}
        }
        out
    }
}

impl ScoringError {
    fn message(code: &str, message: String) -> ScoringError {
        ScoringError {
            code: code.to_string(),
            message,
            rule: None,
            plugin: None,
            function: None,
            at: None,
            event: None,
        }
    }
}

impl std::fmt::Display for ScoringError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Reads a stored scoring error: structured, or the bare message of an older record (as
/// the code `unknown`).
fn stored_scoring_error<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<ScoringError>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Message(String),
        Structured(ScoringError),
    }
    Ok(Option::<Stored>::deserialize(d)?.map(|stored| match stored {
        Stored::Message(message) => ScoringError::message("unknown", message),
        Stored::Structured(error) => error,
    }))
}

/// Where a lead's events are in the events table, and how many were dropped.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EventCounts {
    /// Sequence number of the oldest event kept.
    pub first: u64,
    /// Sequence number the next event gets.
    pub next: u64,
    /// Events dropped because the lead had more than the limit.
    pub dropped: u64,
}

impl EventCounts {
    /// Events kept.
    pub fn kept(&self) -> u64 {
        self.next - self.first
    }
}

impl LeadRecord {
    /// A lead first written at `now`.
    pub fn new(now: Millis) -> LeadRecord {
        LeadRecord {
            fields: Map::new(),
            standing: Standing::new(now),
            result: None,
            error: None,
            as_of: now,
            events: EventCounts::default(),
            last_activity: None,
            activity: None,
            next_history: 0,
            created: now,
            due: None,
            result_due: None,
            sales: None,
            updated: None,
            shadow: None,
            handoff: None,
        }
    }
}

/// A stage change or SLA breach, in the outbox: `GET /v1/transitions` and webhooks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// Its place in the outbox, from 1, without gaps.
    pub seq: u64,
    /// The lead.
    pub lead: String,
    /// The new stage, or `sla_breached`.
    #[serde(with = "kind_name")]
    pub kind: Kind,
    /// The stage before.
    pub from: Stage,
    /// The stage after.
    pub to: Stage,
    /// When (RFC 3339).
    pub at: String,
    /// The lead's score then (`null` if it could not be scored).
    #[serde(serialize_with = "whole")]
    pub score: Option<f64>,
    /// The route the MQL was handed to.
    pub route: Option<String>,
    /// When its SLA is due (RFC 3339).
    pub sla_due: Option<String>,
    /// The pack version that decided it (`name@version`).
    pub pack: String,
    /// Why.
    pub reason: String,
    /// For a stage change sales asked for: when they acted (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acted_at: Option<String>,
    /// For a stage change sales asked for: the name of the token that asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// One entry of a lead's score ledger: a change of score, MQL reading or stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When (RFC 3339): the time the result was computed as of.
    pub at: String,
    /// The score after (`null` if the lead could not be scored).
    #[serde(serialize_with = "whole")]
    pub score: Option<f64>,
    /// The score before (`null` for the first result).
    #[serde(serialize_with = "whole")]
    pub previous: Option<f64>,
    /// The MQL reading after.
    pub mql: bool,
    /// The stage after.
    pub stage: Stage,
    /// The pack version (`name@version`).
    pub pack: String,
    /// The rules whose points changed: fired, stopped firing, or gave other points.
    pub rules: Vec<RuleChange>,
    /// The scoring error, when there is one.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "stored_scoring_error"
    )]
    pub error: Option<ScoringError>,
    /// For a stage change sales asked for: when they acted (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acted_at: Option<String>,
    /// For a stage change sales asked for: the name of the token that asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Why the stage changed or the SLA was marked breached: the reasons of the entry's
    /// transitions as the outbox gives them (a rejection's or a loss's reason as sales
    /// typed it), joined with `; `. `None` when no transition came with the entry (and in
    /// entries written before the reason was kept in the ledger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A rule whose contribution changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleChange {
    /// The rule's name.
    pub rule: String,
    /// Points before (`null`: it did not fire).
    #[serde(serialize_with = "whole")]
    pub before: Option<f64>,
    /// Points after (`null`: it does not fire).
    #[serde(serialize_with = "whole")]
    pub after: Option<f64>,
}

/// How far one webhook has got through the outbox.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// The first transition not yet delivered.
    pub next: u64,
    /// Failed attempts at delivering it.
    pub attempts: u32,
    /// Not before this time (ms): the backoff after a failure.
    pub retry_at: Millis,
    /// The last failure, for `/v1/pack`-style inspection and logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The receiver's status at the last failure (none: no answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
    /// Failed attempts in a row that were permanent refusals (a 4xx other than 408 or
    /// 429): at the webhook's limit of refusals (`webhook::PERMANENT_ATTEMPTS`) the transition is dead-lettered.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refused: u32,
    /// Bumped by every operator action that moves the cursor (skip, replay from a seq):
    /// a sender's result for an older epoch is not stored over it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub epoch: u32,
    /// How many dead letters the webhook has.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dead: u32,
    /// How many of them an operator asked to replay and the sender has not yet tried.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub replays: u32,
}

/// A transition a webhook gave up on: kept (by webhook and seq) until an operator
/// replays or discards it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The transition's seq.
    pub seq: u64,
    /// Failed attempts.
    pub attempts: u32,
    /// The receiver's status at the last failure (none: no answer).
    pub status: Option<u16>,
    /// The last failure: the status and a cut of the receiver's answer, or why there was
    /// no answer.
    pub error: String,
    /// When it was last tried (ms).
    pub at: Millis,
    /// An operator asked for it to be delivered again: the sender does so next.
    #[serde(default)]
    pub replay: bool,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A lead's result under the shadow pack (`serve --shadow`): never acted on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShadowRecord {
    /// The shadow pack version that scored it (`name@version`).
    pub pack: String,
    /// Its result (`None` when scoring failed).
    pub result: Option<Value>,
    /// Why scoring failed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "stored_scoring_error"
    )]
    pub error: Option<ScoringError>,
    /// What the lead adds to the tally of `pack` (`None`: not counted, because the live or
    /// the shadow pack could not score it). Taken back out when the lead is scored again.
    pub counted: Option<ShadowMark>,
}

/// One lead's comparison of the live and the shadow result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShadowMark {
    /// The live pack makes it an MQL.
    pub live_mql: bool,
    /// The shadow pack makes it an MQL.
    pub shadow_mql: bool,
    /// Both make it an MQL, on different routes.
    pub route_changed: bool,
    /// Shadow score minus live score.
    pub score_change: f64,
    /// When the two disagree (MQL or route): the rules whose points differ between them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
}

impl ShadowMark {
    /// The two packs disagree on the lead: its MQL verdict or its route.
    pub fn differs(&self) -> bool {
        self.live_mql != self.shadow_mql || self.route_changed
    }
}

/// The shadow report's counts for one shadow pack version, maintained on write: each
/// lead scored by both packs adds its [`ShadowMark`], and takes its previous one back out
/// when scored again, so every lead counts once, by its latest results.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ShadowTally {
    /// The shadow pack version (`name@version`).
    pub pack: String,
    /// Leads scored by both packs.
    pub leads: i64,
    /// MQLs for both.
    pub mql_both: i64,
    /// MQLs for the live pack only.
    pub mql_live_only: i64,
    /// MQLs for the shadow pack only.
    pub mql_shadow_only: i64,
    /// MQLs for both, on different routes.
    pub route_changed: i64,
    /// The sum of shadow score minus live score.
    pub score_change: f64,
    /// By rule name: the disagreeing leads whose points for the rule differ.
    pub rules: std::collections::BTreeMap<String, RuleTally>,
}

/// The disagreeing leads behind which one rule's points differ, by kind of disagreement.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleTally {
    /// Disagreeing leads.
    pub leads: i64,
    /// Of those, MQLs for the live pack only.
    pub mql_live_only: i64,
    /// MQLs for the shadow pack only.
    pub mql_shadow_only: i64,
    /// MQLs for both on different routes.
    pub route_changed: i64,
}

impl ShadowTally {
    /// An empty tally of `pack`.
    pub fn new(pack: &str) -> ShadowTally {
        ShadowTally {
            pack: pack.to_string(),
            ..ShadowTally::default()
        }
    }

    /// Adds a lead's mark (`sign` 1), or takes it back out (`sign` -1).
    pub fn add(&mut self, mark: &ShadowMark, sign: i64) {
        let one = |b: bool| sign * i64::from(b);
        self.leads += sign;
        self.mql_both += one(mark.live_mql && mark.shadow_mql);
        self.mql_live_only += one(mark.live_mql && !mark.shadow_mql);
        self.mql_shadow_only += one(!mark.live_mql && mark.shadow_mql);
        self.route_changed += one(mark.route_changed);
        self.score_change += sign as f64 * mark.score_change;
        if !mark.differs() {
            return;
        }
        for rule in &mark.rules {
            let r = self.rules.entry(rule.clone()).or_default();
            r.leads += sign;
            r.mql_live_only += one(mark.live_mql && !mark.shadow_mql);
            r.mql_shadow_only += one(!mark.live_mql && mark.shadow_mql);
            r.route_changed += one(mark.route_changed);
        }
    }

    /// Adds another tally's counts (a batch's delta to the stored tally).
    pub fn merge(&mut self, other: &ShadowTally) {
        self.leads += other.leads;
        self.mql_both += other.mql_both;
        self.mql_live_only += other.mql_live_only;
        self.mql_shadow_only += other.mql_shadow_only;
        self.route_changed += other.route_changed;
        self.score_change += other.score_change;
        for (name, r) in &other.rules {
            let mine = self.rules.entry(name.clone()).or_default();
            mine.leads += r.leads;
            mine.mql_live_only += r.mql_live_only;
            mine.mql_shadow_only += r.mql_shadow_only;
            mine.route_changed += r.route_changed;
        }
        self.rules.retain(|_, r| *r != RuleTally::default());
    }

    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.leads == 0
            && self.mql_both == 0
            && self.mql_live_only == 0
            && self.mql_shadow_only == 0
            && self.route_changed == 0
            && self.score_change == 0.0
            && self.rules.values().all(|r| *r == RuleTally::default())
    }
}

/// One hand-off of a lead to sales and what became of it: the funnel's record, keyed by
/// (`mql_at`, `lead`) and written in the same transaction as each stage change. Route,
/// SLA and rules are fixed at the hand-off; the sales actions are added as they come.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HandOff {
    /// The lead.
    pub lead: String,
    /// When it became an MQL (ms).
    pub mql_at: Millis,
    /// The route it was handed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// When sales had to act by (ms), if the route has an SLA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_due: Option<Millis>,
    /// The rules that fired in the result that made it an MQL.
    #[serde(default)]
    pub rules: Vec<String>,
    /// The first sales action after the hand-off: its stage and when sales acted (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_action: Option<(Stage, Millis)>,
    /// Every stage sales moved it to since the hand-off, each once, in the order reached.
    #[serde(default)]
    pub reached: Vec<Stage>,
    /// The reason of its latest rejection (`None`: none given, or never rejected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection_reason: Option<String>,
}

impl HandOff {
    /// No sales action yet.
    pub fn open(&self) -> bool {
        self.first_action.is_none()
    }

    /// Whether sales moved it to `stage` at some point.
    pub fn reached(&self, stage: Stage) -> bool {
        self.reached.contains(&stage)
    }

    /// Records a sales action: the first one, the stages reached, a rejection's reason.
    pub fn act(&mut self, stage: Stage, at: Millis, reason: Option<&str>) {
        if self.first_action.is_none() {
            self.first_action = Some((stage, at));
        }
        if !self.reached.contains(&stage) {
            self.reached.push(stage);
        }
        if stage == Stage::Rejected {
            self.rejection_reason = reason.map(str::to_string);
        }
    }
}

// The console (issue 28): how often each rule fired recently.

/// An hour in ms.
pub const HOUR_MS: Millis = 3_600_000;
/// How long the hourly counts of rules fired are kept: a day longer than the console's
/// longest window (7 days), so an instance whose clock is ahead never drops an hour
/// another one still shows.
pub const RULE_FIRES_KEPT: Millis = 8 * 24 * HOUR_MS;

/// The start of the hour `at` falls in (ms, UTC).
pub fn hour_of(at: Millis) -> Millis {
    at - at.rem_euclid(HOUR_MS)
}

/// The time now in ms.
pub fn now_millis() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

/// An RFC 3339 time in ms, parsed exactly as scoring parses it.
pub fn leadscore_time(text: &str) -> Option<Millis> {
    leadscore::parse_time(text).map(|t| t.timestamp_millis())
}

/// The hand-offs the outbox records, for a database written before the funnel's index
/// existed: each `mql` transition starts one, each sales stage change after it (one with
/// `acted_at`) is added to the lead's latest. Their `rules` are unknown (empty). Also
/// gives each lead's latest hand-off key.
pub fn replay(transitions: impl IntoIterator<Item = Transition>) -> (Vec<HandOff>, HashMap<String, Millis>) {
    let mut all: Vec<HandOff> = Vec::new();
    let mut latest: HashMap<String, usize> = HashMap::new();
    for t in transitions {
        let Some(at) = leadscore_time(&t.at) else {
            continue;
        };
        match (t.kind, &t.acted_at) {
            (Kind::Stage(Stage::Mql), _) => {
                latest.insert(t.lead.clone(), all.len());
                all.push(HandOff {
                    lead: t.lead,
                    mql_at: at,
                    route: t.route,
                    sla_due: t.sla_due.as_deref().and_then(leadscore_time),
                    rules: Vec::new(),
                    first_action: None,
                    reached: Vec::new(),
                    rejection_reason: None,
                });
            }
            (Kind::Stage(stage), Some(acted)) => {
                let acted = leadscore_time(acted).unwrap_or(at);
                let default = format!("set to `{stage}` by request");
                let reason = (t.reason != default).then_some(t.reason.as_str());
                if let Some(h) = latest.get(&t.lead).and_then(|&i| all.get_mut(i)) {
                    h.act(stage, acted, reason);
                }
            }
            _ => {}
        }
    }
    let keys = latest
        .into_iter()
        .filter_map(|(lead, i)| Some((lead, all.get(i)?.mql_at)))
        .collect();
    (all, keys)
}

/// How many results were computed, and in how many of them each rule fired: in one
/// batch, or summed over the stored hours of a window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleFires {
    /// Results computed (writes and re-evaluations; not those whose scoring failed).
    pub results: u64,
    /// Results each rule fired in, by rule name (sorted: the order rows are locked in).
    pub rules: std::collections::BTreeMap<String, u64>,
}

impl RuleFires {
    /// Counts one result in which `fired` (each rule once) fired.
    pub fn add<'a>(&mut self, fired: impl IntoIterator<Item = &'a str>) {
        self.results += 1;
        for rule in fired {
            // A rule already counted costs no new name.
            match self.rules.get_mut(rule) {
                Some(n) => *n += 1,
                None => _ = self.rules.insert(rule.to_string(), 1),
            }
        }
    }

    /// Nothing counted.
    pub fn is_empty(&self) -> bool {
        self.results == 0 && self.rules.is_empty()
    }
}

/// A number as results write it: `35`, not `35.0`.
fn whole<S: serde::Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    x.map(leadscore::value::num_to_json).serialize(s)
}

/// A transition's kind as the API writes it: the new stage's name, or `sla_breached`.
mod kind_name {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::{Kind, Stage};

    pub fn serialize<S: Serializer>(kind: &Kind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(kind.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        let name = String::deserialize(d)?;
        if name == Kind::SlaBreached.name() {
            return Ok(Kind::SlaBreached);
        }
        let stage = Stage::deserialize(serde::de::value::StrDeserializer::<D::Error>::new(&name))?;
        Ok(Kind::Stage(stage))
    }
}

// Targets (issue 27.3): how a target stands, the alert log, each target's last alert.

/// How a target stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetStatus {
    /// The measure is on the right side of the value.
    Met,
    /// It is not.
    Missed,
    /// Fewer hand-offs in the divisor than the minimum sample.
    Insufficient,
}

impl TargetStatus {
    /// `met`, `missed`, `insufficient`.
    pub fn name(self) -> &'static str {
        match self {
            TargetStatus::Met => "met",
            TargetStatus::Missed => "missed",
            TargetStatus::Insufficient => "insufficient",
        }
    }
}

/// A target judged at one time: an entry of `targets` in `GET /v1/funnel`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The target's name (its text when the pack gives none).
    pub name: String,
    /// `acceptance`, `conversion` or `sla`.
    pub measure: String,
    /// `>=` or `<=`.
    pub op: String,
    /// The value, as a rate from 0 to 1 (`70%` is 0.7), as the funnel's rates are.
    pub value: f64,
    /// The trailing window (`30d`).
    pub window: String,
    /// The measure over the window's hand-offs (`null`: none in its divisor).
    pub actual: Option<f64>,
    /// The hand-offs in the measure's divisor.
    pub sample: u64,
    /// Met, missed, or insufficient.
    pub status: TargetStatus,
}

/// The last alert published for a target: stored per target name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetState {
    /// The target's name.
    pub name: String,
    /// The status the last alert published (met or missed).
    pub status: TargetStatus,
    /// That alert's seq.
    pub seq: u64,
}

/// An entry of the alert log (`GET /v1/alerts`) and the body of its webhook delivery:
/// `kind` is `target`, which no lead transition's `kind` is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Its place in the alert log, from 1.
    pub seq: u64,
    /// `target`.
    pub kind: String,
    /// When it was published (RFC 3339).
    pub at: String,
    /// The pack whose target it is (`name@version`).
    pub pack: String,
    /// The status published before (`met` for a target never published).
    pub previous: TargetStatus,
    /// The judgement that changed the status.
    #[serde(flatten)]
    pub target: Evaluation,
}

// Storage and scale (issue 22): a lead's result kept as the text it is stored and served as.

/// A lead's latest result as stored and served: the JSON text of the core's
/// [`Outcome`](leadscore::Outcome) exactly as a `serde_json::Value` of it writes it (every
/// object's keys in order, numbers as batch scoring writes them), written straight from
/// the outcome without building a tree, and copied verbatim into records and answers. What
/// the writer reads of a result (its score, MQL reading and points by rule) is kept typed
/// beside it. A stored record's result reads back as the text it was stored as.
///
/// ```
/// use leadscore_service::model::StoredResult;
/// let pack = leadscore::Pack::from_source("p", "title ~ VP => +10")?;
/// let as_of = leadscore::parse_time("2026-01-01T00:00:00Z").unwrap();
/// let outcome = pack.score(&serde_json::json!({"title": "VP"}), as_of)?;
/// let result = StoredResult::new(&outcome)?;
/// assert_eq!(result.score(), Some(10.0));
/// assert!(result.text().get().starts_with(r#"{"dimensions":{},"disqualified":null,"fired":[{"dimension":null"#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct StoredResult {
    text: Box<RawValue>,
    score: Option<f64>,
    mql: bool,
    fired: Vec<(Arc<str>, f64)>,
}

impl StoredResult {
    /// The result of `outcome`.
    pub fn new(outcome: &leadscore::Outcome) -> Result<StoredResult, serde_json::Error> {
        let whole = |x: f64| leadscore::num_to_json(x).as_f64();
        Ok(StoredResult {
            text: serde_json::value::to_raw_value(&sorted::Outcome(outcome))?,
            score: whole(outcome.score),
            mql: outcome.mql,
            fired: outcome
                .fired()
                .filter_map(|f| Some((Arc::from(f.rule()), whole(f.points())?)))
                .collect(),
        })
    }

    /// A result from its stored JSON text (a lead record's `result`).
    pub fn from_text(text: Box<RawValue>) -> Result<StoredResult, serde_json::Error> {
        #[derive(Deserialize)]
        struct Summary {
            #[serde(default)]
            score: Option<f64>,
            #[serde(default)]
            mql: Option<bool>,
            #[serde(default)]
            fired: Vec<FiredSummary>,
        }
        #[derive(Deserialize)]
        struct FiredSummary {
            rule: Option<String>,
            points: Option<f64>,
        }
        let summary: Summary = serde_json::from_str(text.get())?;
        Ok(StoredResult {
            score: summary.score,
            mql: summary.mql.unwrap_or(false),
            fired: summary
                .fired
                .into_iter()
                .filter_map(|f| Some((Arc::from(f.rule?), f.points?)))
                .collect(),
            text,
        })
    }

    /// The JSON text.
    pub fn text(&self) -> &RawValue {
        &self.text
    }

    /// The score (`None` when it is not a finite number).
    pub fn score(&self) -> Option<f64> {
        self.score
    }

    /// The MQL reading.
    pub fn mql(&self) -> bool {
        self.mql
    }

    /// The rules that fired with their points, in the result's order.
    pub fn fired(&self) -> &[(Arc<str>, f64)] {
        &self.fired
    }

    /// The result as the core's outcome again (for an explanation); `None` if the text
    /// is not one.
    pub fn outcome(&self) -> Option<leadscore::Outcome> {
        serde_json::from_str(self.text.get()).ok()
    }

    /// The result as a JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.text.get()).unwrap_or(Value::Null)
    }
}

impl PartialEq for StoredResult {
    fn eq(&self, other: &StoredResult) -> bool {
        self.text.get() == other.text.get()
    }
}

impl Serialize for StoredResult {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.text.serialize(s)
    }
}

impl<'de> Deserialize<'de> for StoredResult {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<StoredResult, D::Error> {
        StoredResult::from_text(Box::<RawValue>::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// The core's result written as a `serde_json::Value` of it is written: each object's
/// keys in order (the order of `Value`'s map), the fields the core skips skipped.
/// `a_result_is_written_as_its_json_value_would_be` holds it to that.
mod sorted {
    use serde::ser::{Serialize, SerializeMap, Serializer};

    use leadscore::num_to_json;

    /// An outcome.
    pub struct Outcome<'a>(pub &'a leadscore::Outcome);

    struct Fired<'a>(leadscore::Fired<'a>);
    struct Capped<'a>(&'a leadscore::Capped);
    struct Enrichment<'a>(&'a leadscore::Enrichment);
    struct Dimensions<'a>(&'a leadscore::Outcome);
    struct FiredList<'a>(&'a leadscore::Outcome);
    struct Tags<'a>(&'a leadscore::Outcome);
    struct List<'a, T, W>(&'a [T], fn(&'a T) -> W);

    impl<'a, T, W: Serialize> Serialize for List<'a, T, W> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(self.0.iter().map(self.1))
        }
    }

    impl Serialize for FiredList<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(self.0.fired().map(Fired))
        }
    }

    impl Serialize for Tags<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(self.0.tags())
        }
    }

    impl Serialize for Outcome<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let o = self.0;
            let mut m = s.serialize_map(None)?;
            if !o.capped.is_empty() {
                m.serialize_entry("capped", &List(&o.capped, Capped))?;
            }
            m.serialize_entry("dimensions", &Dimensions(o))?;
            m.serialize_entry("disqualified", &o.disqualified())?;
            if !o.enriched.is_empty() {
                m.serialize_entry("enriched", &List(&o.enriched, Enrichment))?;
            }
            m.serialize_entry("fired", &FiredList(o))?;
            if let Some(id) = &o.id {
                m.serialize_entry("id", id)?;
            }
            m.serialize_entry("mql", &o.mql)?;
            m.serialize_entry("pack", o.pack())?;
            if let Some(p) = o.probability {
                m.serialize_entry("probability", &num_to_json(p))?;
            }
            m.serialize_entry("route", &o.route())?;
            m.serialize_entry("score", &num_to_json(o.score))?;
            m.serialize_entry("tags", &Tags(o))?;
            m.end()
        }
    }

    impl Serialize for Fired<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let f = &self.0;
            let mut m = s.serialize_map(None)?;
            if let Some(count) = f.count() {
                m.serialize_entry("count", &count)?;
            }
            if let Some(decay) = f.decay() {
                m.serialize_entry("decay", &num_to_json(decay))?;
            }
            m.serialize_entry("dimension", &f.dimension())?;
            m.serialize_entry("location", f.location())?;
            m.serialize_entry("points", &num_to_json(f.points()))?;
            m.serialize_entry("rule", f.rule())?;
            m.end()
        }
    }

    impl Serialize for Capped<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let c = self.0;
            let mut m = s.serialize_map(None)?;
            m.serialize_entry("cap", &num_to_json(c.cap))?;
            m.serialize_entry("dimension", &c.dimension)?;
            m.serialize_entry("total", &num_to_json(c.total))?;
            m.end()
        }
    }

    impl Serialize for Enrichment<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let e = self.0;
            let mut m = s.serialize_map(None)?;
            m.serialize_entry("fields", &e.fields)?;
            m.serialize_entry("plugin", &e.plugin)?;
            m.end()
        }
    }

    impl Serialize for Dimensions<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(self.0.dimensions().map(|(k, v)| (k, num_to_json(v))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn a_scoring_error_keeps_its_kind_and_place_and_reads_an_older_message() {
        let pack = leadscore::Pack::from_source("p", "visited /pricing => +5").unwrap();
        let as_of = leadscore::parse_time("2026-01-01T00:00:00Z").unwrap();
        let error = pack.score_json(r#"{"events": [1, 7]}"#, as_of).unwrap_err();
        let stored = ScoringError::from(&error);
        assert_eq!((stored.code.as_str(), stored.event), ("bad_event", Some(0)));
        assert_eq!(stored.message, error.to_string());
        let mut record = LeadRecord::new(0);
        record.error = Some(stored.clone());
        let text = serde_json::to_string(&record).unwrap();
        assert_eq!(serde_json::from_str::<LeadRecord>(&text).unwrap().error, Some(stored));
        let older = text.replace(&serde_json::to_string(&record.error).unwrap(), r#""a plugin failed""#);
        let older = serde_json::from_str::<LeadRecord>(&older).unwrap().error.unwrap();
        assert_eq!(
            (older.code.as_str(), older.message.as_str()),
            ("unknown", "a plugin failed")
        );
    }

    #[test]
    fn a_transition_reads_back_as_written() {
        for kind in [Kind::Stage(Stage::Mql), Kind::SlaBreached] {
            let t = Transition {
                seq: 3,
                lead: "a".into(),
                kind,
                from: Stage::Lead,
                to: Stage::Mql,
                at: "2026-01-01T00:00:00Z".into(),
                score: Some(30.0),
                route: None,
                sla_due: None,
                pack: "p@1".into(),
                reason: "r".into(),
                acted_at: None,
                by: None,
            };
            let text = serde_json::to_string(&t).unwrap_or_default();
            assert!(
                text.contains(&format!(r#""kind":"{}","from":"lead","to":"mql""#, kind.name())),
                "{text}"
            );
            assert_eq!(serde_json::from_str::<Transition>(&text).ok(), Some(t));
        }
    }

    /// An outcome with every field the core writes set (numbers whole and not), as JSON.
    fn every_field_json() -> Value {
        let fired = |rule: &str, points: f64, count: Option<u64>, decay: Option<f64>| {
            serde_json::json!({"rule": rule, "points": points, "dimension": (points > 1.0).then_some("fit"),
                "location": "a.rules:3", "count": count, "decay": decay})
        };
        serde_json::json!({
            "id": {"z": 1, "a": 2},
            "score": 37.25,
            "probability": 0.125,
            "mql": true,
            "disqualified": "students",
            "dimensions": {"fit": 20.0, "engagement": 17.25},
            "route": "enterprise",
            "tags": ["b", "a"],
            "fired": [fired("title ~ VP", 20.0, None, None), fired("visits", 0.5, Some(3), Some(0.25))],
            "capped": [{"dimension": "fit", "total": 25.5, "cap": 20.0}],
            "enriched": [{"plugin": "clearbit", "fields": {"zeta": {"b": 1, "a": [1.5, null]}, "alpha": "x\"y"}}],
            "pack": {"name": "p", "version": "0123abcd"},
        })
    }

    /// [`every_field_json`] read as the core's outcome.
    fn every_field() -> leadscore::Outcome {
        serde_json::from_value(every_field_json()).unwrap()
    }

    #[test]
    fn a_result_is_written_as_its_json_value_would_be() {
        let pack = leadscore::Pack::from_source("p", "threshold 5\ntitle ~ VP => +10\nroute \"sales\" when title ~ VP")
            .unwrap();
        let as_of = leadscore::parse_time("2026-01-01T00:00:00Z").unwrap();
        let scored = pack.score(&serde_json::json!({"id": 7, "title": "VP"}), as_of).unwrap();
        let mut sparse = every_field_json();
        for key in ["id", "probability", "capped", "enriched"] {
            sparse.as_object_mut().unwrap().remove(key);
        }
        (sparse["disqualified"], sparse["route"]) = (Value::Null, Value::Null);
        let mut sparse: leadscore::Outcome = serde_json::from_value(sparse).unwrap();
        sparse.score = f64::NAN;
        for outcome in [every_field(), sparse, scored, leadscore::Outcome::default()] {
            let value = serde_json::to_value(&outcome).unwrap();
            let stored = StoredResult::new(&outcome).unwrap();
            assert_eq!(stored.text().get(), value.to_string());
            assert_eq!(stored.score(), value["score"].as_f64());
            assert_eq!(stored.mql(), value["mql"].as_bool().unwrap());
            let read = StoredResult::from_text(stored.text.clone()).unwrap();
            assert_eq!(
                (read.score(), read.mql(), read.fired()),
                (stored.score(), stored.mql(), stored.fired())
            );
            // (A score that is not a number is written `null`, which no outcome reads.)
            let back = stored.outcome().filter(|_| outcome.score.is_finite());
            assert_eq!(back.is_some(), outcome.score.is_finite());
        }
        let stored = StoredResult::new(&every_field()).unwrap();
        let fired: Vec<(&str, f64)> = stored.fired().iter().map(|(r, p)| (&**r, *p)).collect();
        assert_eq!(fired, [("title ~ VP", 20.0), ("visits", 0.5)]);
    }

    #[test]
    fn a_record_stored_with_its_result_as_a_json_value_reads_back_and_is_stored_the_same() {
        // What a record was before its result was kept as text: the result a JSON value.
        let mut record = LeadRecord::new(5);
        record.fields.insert("title".into(), Value::from("VP"));
        let unscored = serde_json::to_string(&record).unwrap();
        let result = serde_json::to_value(every_field()).unwrap().to_string();
        let older = unscored
            .replace(r#""result":null"#, &format!(r#""result":{result}"#))
            .into_bytes();
        assert_ne!(older, unscored.as_bytes());
        let read: LeadRecord = serde_json::from_slice(&older).unwrap();
        let result = read.result.as_ref().unwrap();
        assert_eq!(
            (result.score(), result.mql(), result.fired().len()),
            (Some(37.25), true, 2)
        );
        assert_eq!(serde_json::to_vec(&read).unwrap(), older, "stored again byte for byte");
        assert_eq!(result, &StoredResult::new(&every_field()).unwrap());
        assert_eq!(result.to_value(), serde_json::to_value(every_field()).unwrap());
        // And one that could not be scored.
        let none: LeadRecord = serde_json::from_slice(&serde_json::to_vec(&record).unwrap()).unwrap();
        assert!(none.result.is_none());
    }
}
