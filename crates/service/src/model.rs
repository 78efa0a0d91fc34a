//! What the service stores, as plain serializable data: a lead's record, a transition, a
//! history entry, a webhook's delivery cursor. Both backends keep them as JSON.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::lifecycle::{Kind, Stage, Standing};

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
    /// The `mql_at` of the lead's latest hand-off, the key of its [`HandOff`]: where the
    /// funnel records what sales did next. `None`: never handed off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff: Option<Millis>,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For a stage change sales asked for: when they acted (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acted_at: Option<String>,
    /// For a stage change sales asked for: the name of the token that asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
