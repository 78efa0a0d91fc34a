//! What the service stores, as plain serializable data: a lead's record, a transition, a
//! history entry, a webhook's delivery cursor. The store keeps them as JSON.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::lifecycle::Standing;

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
    pub result: Option<Value>,
    /// Why the latest scoring failed (a plugin error, an event the pack cannot read).
    pub error: Option<String>,
    /// The time the result was computed as of (ms).
    pub as_of: Millis,
    /// Event sequence numbers: the oldest kept, the next to assign.
    pub events: EventCounts,
    /// When the newest event was received (ms).
    pub last_activity: Option<Millis>,
    /// The next history entry's number.
    pub next_history: u64,
    /// When the lead was first written (ms).
    pub created: Millis,
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
            next_history: 0,
            created: now,
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
    pub kind: String,
    /// The stage before.
    pub from: String,
    /// The stage after.
    pub to: String,
    /// When (RFC 3339).
    pub at: String,
    /// The lead's score then (`null` if it could not be scored).
    pub score: Option<f64>,
    /// The route the MQL was handed to.
    pub route: Option<String>,
    /// When its SLA is due (RFC 3339).
    pub sla_due: Option<String>,
    /// The pack version that decided it (`name@version`).
    pub pack: String,
    /// Why.
    pub reason: String,
}

/// One entry of a lead's score ledger: a change of score, MQL reading or stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When (RFC 3339): the time the result was computed as of.
    pub at: String,
    /// The score after (`null` if the lead could not be scored).
    pub score: Option<f64>,
    /// The score before (`null` for the first result).
    pub previous: Option<f64>,
    /// The MQL reading after.
    pub mql: bool,
    /// The stage after.
    pub stage: String,
    /// The pack version (`name@version`).
    pub pack: String,
    /// The rules whose points changed: fired, stopped firing, or gave other points.
    pub rules: Vec<RuleChange>,
    /// The scoring error, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A rule whose contribution changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleChange {
    /// The rule's name.
    pub rule: String,
    /// Points before (`null`: it did not fire).
    pub before: Option<f64>,
    /// Points after (`null`: it does not fire).
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
}
