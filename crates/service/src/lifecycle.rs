//! The lead lifecycle as pure functions of a lead's standing, its latest result and the
//! time: when a lead becomes an MQL, when its SLA is breached, which stage changes sales
//! may ask for, and when a rejected or recycled lead may qualify again. No storage, no
//! clock: the caller passes `now` (milliseconds since the Unix epoch) and stores what
//! comes back.
//!
//! ```text
//! lead ──(mql condition holds)──▶ mql ──(sales)──▶ accepted ──(sales)──▶ won / lost
//!  │                               │  ╲              ▲  │                      │
//!  └──────────(sales)──────────────┼───╲─────────────┘  │(sales)               │(sales)
//!                                  ▼    ▼(sales)        ▼                      ▼
//!                        rejected / recycled ◀──────────┴──────────────────────┘
//!                                  │    └──(sales)──▶ accepted
//!                                  └──(mql again, on counted activity after the cool-down)──▶ mql
//! ```
//!
//! A rejected or recycled lead qualifies again only through activity after its cool-down
//! ended: an event the pack counts whose own `at` is later, or a change of its fields.
//! The cool-down runs from when the lead went back to nurture; recycling a rejected lead
//! does not start it again.

use serde::{Deserialize, Serialize};

/// A lead's stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Not (yet) qualified.
    Lead,
    /// Handed to sales: it met the MQL condition. It stays an MQL until sales acts.
    Mql,
    /// Sales took it.
    Accepted,
    /// Sales turned it down; back in nurture.
    Rejected,
    /// Sales gave it back to nurture.
    Recycled,
    /// The deal closed: won.
    Won,
    /// The deal closed: lost.
    Lost,
}

impl Stage {
    /// The stage's name as the API writes it.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Lead => "lead",
            Stage::Mql => "mql",
            Stage::Accepted => "accepted",
            Stage::Rejected => "rejected",
            Stage::Recycled => "recycled",
            Stage::Won => "won",
            Stage::Lost => "lost",
        }
    }

    /// The stages sales may ask for, by name.
    pub const REQUESTABLE: [Stage; 5] = [
        Stage::Accepted,
        Stage::Rejected,
        Stage::Recycled,
        Stage::Won,
        Stage::Lost,
    ];

    /// A stage sales may ask for by name: `accepted`, `rejected`, `recycled`, `won` or `lost`.
    pub fn requestable(name: &str) -> Option<Stage> {
        Stage::REQUESTABLE.into_iter().find(|s| s.name() == name)
    }

    /// Back in nurture: it may qualify again after the cool-down.
    fn nurture(self) -> bool {
        matches!(self, Stage::Rejected | Stage::Recycled)
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a lead stands: its stage and what the next decision needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Standing {
    /// The stage.
    pub stage: Stage,
    /// When the lead entered it (ms).
    pub since: i64,
    /// For MQLs: the route it was handed to.
    pub route: Option<String>,
    /// For MQLs with a route that has an SLA: when sales must have acted (ms).
    pub sla_due: Option<i64>,
    /// Whether that SLA has passed (reported once).
    pub sla_breached: bool,
    /// In nurture (rejected, recycled): when it went back to nurture, where its cool-down
    /// starts; moving between nurture stages keeps it. (Absent in records written before
    /// it existed: then `since`.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nurture_since: Option<i64>,
}

impl Standing {
    /// A new lead, created at `now`.
    pub fn new(now: i64) -> Standing {
        Standing {
            stage: Stage::Lead,
            since: now,
            route: None,
            sla_due: None,
            sla_breached: false,
            nurture_since: None,
        }
    }

    fn enter(&self, stage: Stage, now: i64) -> Standing {
        let nurture_since = match (self.stage.nurture(), stage.nurture()) {
            (_, false) => None,
            (true, true) => Some(self.cool_down_start()),
            (false, true) => Some(now),
        };
        Standing {
            stage,
            since: now,
            route: None,
            sla_due: None,
            sla_breached: false,
            nurture_since,
        }
    }

    /// Where the cool-down of a lead in nurture runs from.
    fn cool_down_start(&self) -> i64 {
        self.nurture_since.unwrap_or(self.since)
    }
}

/// What the latest result says, as the lifecycle reads it.
#[derive(Clone, Copy, Debug)]
pub struct Reading<'a> {
    /// The MQL condition holds and the lead is not disqualified.
    pub mql: bool,
    /// The route of the result.
    pub route: Option<&'a str>,
    /// The SLA of that route (ms), if the pack gives it one.
    pub sla: Option<i64>,
}

/// What kind of transition a change is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A change of stage, to this stage.
    Stage(Stage),
    /// An MQL's SLA passed without `accepted` or `rejected`; the stage stays `mql`.
    SlaBreached,
}

impl Kind {
    /// The kind's name in transitions and metrics: the new stage, or `sla_breached`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Stage(stage) => stage.name(),
            Kind::SlaBreached => "sla_breached",
        }
    }
}

/// One transition the lifecycle decided on, and the standing after it.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// What happened.
    pub kind: Kind,
    /// The stage before.
    pub from: Stage,
    /// The standing after.
    pub standing: Standing,
    /// When (ms).
    pub at: i64,
    /// Why, in words.
    pub reason: String,
    /// For a stage change sales asked for: when they acted (ms), and the name of the
    /// token that asked.
    pub acted: Option<Acted>,
}

/// When sales acted, and who.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acted {
    /// When the request came (ms).
    pub at: i64,
    /// The name of the token it carried (`None` without authentication).
    pub by: Option<String>,
}

/// A stage change sales ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ask {
    /// The stage.
    pub to: Stage,
    /// Why, as given.
    pub reason: Option<String>,
    /// When and who.
    pub acted: Acted,
}

/// A stage change sales asked for that the lifecycle does not allow.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a lead in stage `{from}` cannot become `{to}`{}", allowed_from(*to))]
pub struct StageError {
    /// The lead's stage.
    pub from: Stage,
    /// The stage asked for.
    pub to: Stage,
}

fn allowed_from(to: Stage) -> &'static str {
    match to {
        Stage::Accepted => " (a `lead`, `mql` or `recycled` lead can be accepted)",
        Stage::Rejected => " (only an `mql` or `accepted` lead can be rejected)",
        Stage::Recycled => " (an `mql`, `accepted`, `rejected` or `lost` lead can be recycled)",
        Stage::Won | Stage::Lost => " (only an `accepted` lead can be won or lost)",
        Stage::Lead | Stage::Mql => "",
    }
}

/// The transitions a lead's new result calls for at `now`, in order (a hand-off, then an
/// SLA check). `cool_down` is the pack's `requalify after` (ms); `activity` is the
/// latest time of the lead's counted activity (ms): the `at` of an event of a type the
/// pack counts, or a change of its fields.
pub fn advance(
    standing: &Standing,
    reading: Reading<'_>,
    activity: Option<i64>,
    cool_down: Option<i64>,
    now: i64,
) -> Vec<Change> {
    let mut changes = Vec::new();
    if let Some(change) = qualify(standing, reading, activity, cool_down, now) {
        changes.push(change);
    }
    let latest = changes.last().map_or(standing, |c| &c.standing);
    if let Some(breach) = sla_check(latest, now) {
        changes.push(breach);
    }
    changes
}

/// `lead` → `mql` when the result is an MQL; `rejected`/`recycled` → `mql` only when the
/// result is an MQL, the cool-down has passed, and counted activity happened after it
/// ended (an event by its own `at`, or a change of fields).
pub fn qualify(
    standing: &Standing,
    reading: Reading<'_>,
    activity: Option<i64>,
    cool_down: Option<i64>,
    now: i64,
) -> Option<Change> {
    if !reading.mql {
        return None;
    }
    let reason = match standing.stage {
        Stage::Lead => "the MQL condition holds".to_string(),
        stage if stage.nurture() => {
            let cooled = standing.cool_down_start().saturating_add(cool_down.unwrap_or(0));
            if now < cooled || activity.is_none_or(|at| at <= cooled) {
                return None;
            }
            match cool_down {
                Some(d) => format!("qualified again on new activity after the {} cool-down", show(d)),
                None => "qualified again on new activity".to_string(),
            }
        }
        _ => return None,
    };
    let mut after = standing.enter(Stage::Mql, now);
    after.route = reading.route.map(str::to_string);
    after.sla_due = reading.sla.map(|sla| now.saturating_add(sla));
    Some(Change {
        kind: Kind::Stage(Stage::Mql),
        from: standing.stage,
        standing: after,
        at: now,
        reason,
        acted: None,
    })
}

/// An MQL whose SLA is due by `now` and not yet reported: the `sla_breached` transition.
pub fn sla_check(standing: &Standing, now: i64) -> Option<Change> {
    let due = standing.sla_due?;
    if standing.stage != Stage::Mql || standing.sla_breached || now < due {
        return None;
    }
    let mut after = standing.clone();
    after.sla_breached = true;
    let route = standing.route.as_deref().unwrap_or("?");
    Some(Change {
        kind: Kind::SlaBreached,
        from: Stage::Mql,
        standing: after,
        at: now,
        reason: format!(
            "the SLA of route `{route}` ({} after the hand-off) passed without `accepted` or `rejected`",
            show(due - standing.since)
        ),
        acted: None,
    })
}

/// The next instant the lifecycle decides something by time alone, for a lead that
/// stands as `standing` with a result whose MQL reading is `mql`: its pending SLA (the
/// breach), or, for an MQL lead in nurture whose counted activity came after its
/// cool-down ends, the end of the cool-down (the hand-off). `None` when only new data or
/// a new result can move it.
pub fn waits_until(standing: &Standing, mql: bool, activity: Option<i64>, cool_down: Option<i64>) -> Option<i64> {
    let sla = (standing.stage == Stage::Mql && !standing.sla_breached)
        .then_some(standing.sla_due)
        .flatten();
    let cooled = standing.cool_down_start().saturating_add(cool_down.unwrap_or(0));
    let requalifies = (mql && standing.stage.nurture() && activity.is_some_and(|at| at > cooled)).then_some(cooled);
    match (sla, requalifies) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The stage change sales asked for: `accepted` from `lead`, `mql` or `recycled`;
/// `rejected` from `mql` or `accepted`; `recycled` from `mql`, `accepted`, `rejected` or
/// `lost`; `won` and `lost` from `accepted`.
pub fn request(standing: &Standing, ask: &Ask, now: i64) -> Result<Change, StageError> {
    let from = standing.stage;
    let allowed = match ask.to {
        Stage::Accepted => matches!(from, Stage::Lead | Stage::Mql | Stage::Recycled),
        Stage::Rejected => matches!(from, Stage::Mql | Stage::Accepted),
        Stage::Recycled => matches!(from, Stage::Mql | Stage::Accepted | Stage::Rejected | Stage::Lost),
        Stage::Won | Stage::Lost => from == Stage::Accepted,
        Stage::Lead | Stage::Mql => false,
    };
    if !allowed {
        return Err(StageError { from, to: ask.to });
    }
    Ok(Change {
        kind: Kind::Stage(ask.to),
        from,
        standing: standing.enter(ask.to, now),
        at: now,
        reason: ask
            .reason
            .clone()
            .unwrap_or_else(|| format!("set to `{}` by request", ask.to)),
        acted: Some(ask.acted.clone()),
    })
}

/// What sales did with a lead's latest hand-off, as `GET /v1/export` writes it under
/// `sales`: the outcome of the hand-off, for `backtest` and `fit`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handoff {
    /// When the lead was handed off (ms): its latest `mql` transition.
    pub mql_at: i64,
    /// `true` once sales accepted it; `false` when their first action was a rejection or
    /// a recycle (and they have not accepted it since); `None` while they have not acted.
    pub accepted: Option<bool>,
    /// `true` once the deal was won; `false` once it was lost, or the lead went back to
    /// nurture (rejected, recycled) without a win; `None` while open.
    pub won: Option<bool>,
    /// The reason given with the rejection, when sales rejected it.
    pub rejection_reason: Option<String>,
    /// When sales first acted on it (ms).
    pub acted_at: Option<i64>,
}

/// The hand-off record after `change` (`given`: the reason sales gave with a stage change
/// they asked for). A hand-off starts a new record; sales' actions update it; a lead
/// never handed off has none (a lead sales accepted without a hand-off included).
pub fn follow(before: Option<Handoff>, change: &Change, given: Option<&str>) -> Option<Handoff> {
    let Kind::Stage(stage) = change.kind else {
        return before;
    };
    if stage == Stage::Mql {
        return Some(Handoff {
            mql_at: change.at,
            accepted: None,
            won: None,
            rejection_reason: None,
            acted_at: None,
        });
    }
    let mut h = before?;
    if let Some(acted) = &change.acted {
        h.acted_at.get_or_insert(acted.at);
    }
    match stage {
        Stage::Accepted => {
            h.accepted = Some(true);
            h.won = h.won.filter(|&won| won);
        }
        Stage::Rejected | Stage::Recycled => {
            h.accepted.get_or_insert(false);
            h.won = Some(h.won == Some(true));
            if stage == Stage::Rejected {
                h.rejection_reason = given.map(str::to_string);
            }
        }
        Stage::Won => h.won = Some(true),
        Stage::Lost => h.won = Some(false),
        Stage::Lead | Stage::Mql => {}
    }
    Some(h)
}

/// A duration in the language's units: `2h`, `30d`, `90m`.
fn show(ms: i64) -> String {
    leadscore::value::time::show_duration(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;
    const D: i64 = 24 * H;

    fn mql(route: Option<&str>, sla: Option<i64>) -> Reading<'_> {
        Reading { mql: true, route, sla }
    }

    const NOT_MQL: Reading<'static> = Reading {
        mql: false,
        route: None,
        sla: None,
    };

    #[test]
    fn a_lead_becomes_an_mql_with_its_route_and_sla() {
        let lead = Standing::new(0);
        let changes = advance(&lead, mql(Some("ae"), Some(2 * H)), Some(10), None, 100);
        assert_eq!(changes.len(), 1);
        let c = &changes[0];
        assert_eq!((c.kind, c.from, c.at), (Kind::Stage(Stage::Mql), Stage::Lead, 100));
        assert_eq!(c.standing.route.as_deref(), Some("ae"));
        assert_eq!(c.standing.sla_due, Some(100 + 2 * H));
        assert!(advance(&lead, NOT_MQL, Some(10), None, 100).is_empty());
    }

    #[test]
    fn an_mql_stays_one_when_its_score_drops() {
        let m = qualify(&Standing::new(0), mql(None, None), None, None, 5).map(|c| c.standing);
        let m = m.unwrap_or_else(|| Standing::new(0));
        assert_eq!(m.stage, Stage::Mql);
        assert!(advance(&m, NOT_MQL, None, None, 10).is_empty());
        assert!(advance(&m, mql(Some("other"), None), None, None, 10).is_empty());
    }

    #[test]
    fn the_sla_is_breached_once_when_due() {
        let m = qualify(&Standing::new(0), mql(Some("ae"), Some(2 * H)), None, None, 0)
            .map(|c| c.standing)
            .unwrap_or_else(|| Standing::new(0));
        assert!(sla_check(&m, 2 * H - 1).is_none());
        let breach = sla_check(&m, 2 * H).unwrap();
        assert_eq!(breach.kind, Kind::SlaBreached);
        assert_eq!(breach.kind.name(), "sla_breached");
        assert_eq!(breach.standing.stage, Stage::Mql);
        assert!(
            breach.reason.contains("route `ae` (2h after the hand-off)"),
            "{}",
            breach.reason
        );
        assert!(sla_check(&breach.standing, 3 * H).is_none(), "reported once");
        // Accepted in time: no breach.
        let accepted = request_at(&m, Stage::Accepted, None, H).map(|c| c.standing);
        assert!(accepted.is_ok_and(|s| sla_check(&s, 3 * H).is_none()));
    }

    #[test]
    fn advance_reports_a_breach_found_by_a_later_evaluation() {
        let m = qualify(&Standing::new(0), mql(Some("ae"), Some(H)), None, None, 0).map(|c| c.standing);
        let m = m.unwrap_or_else(|| Standing::new(0));
        let changes = advance(&m, NOT_MQL, None, None, 2 * H);
        assert_eq!(
            changes.iter().map(|c| c.kind.name()).collect::<Vec<_>>(),
            ["sla_breached"]
        );
    }

    fn ask(to: Stage, reason: Option<&str>, at: i64) -> Ask {
        Ask {
            to,
            reason: reason.map(str::to_string),
            acted: Acted {
                at,
                by: Some("crm".into()),
            },
        }
    }

    fn request_at(standing: &Standing, to: Stage, reason: Option<&str>, now: i64) -> Result<Change, StageError> {
        request(standing, &ask(to, reason, now), now)
    }

    #[test]
    fn sales_may_only_make_the_allowed_moves() {
        use Stage::*;
        // (from, to, allowed)
        let table = [
            (Lead, Accepted, true),
            (Mql, Accepted, true),
            (Recycled, Accepted, true),
            (Rejected, Accepted, false),
            (Accepted, Accepted, false),
            (Lead, Rejected, false),
            (Mql, Rejected, true),
            (Accepted, Rejected, true),
            (Rejected, Rejected, false),
            (Lead, Recycled, false),
            (Rejected, Recycled, true),
            (Lost, Recycled, true),
            (Won, Recycled, false),
            (Mql, Won, false),
            (Accepted, Won, true),
            (Accepted, Lost, true),
            (Won, Lost, false),
        ];
        for (from, to, allowed) in table {
            let standing = Standing::new(0).enter(from, 1);
            assert_eq!(request_at(&standing, to, None, 2).is_ok(), allowed, "{from} → {to}");
        }
        let m = Standing::new(0).enter(Mql, 1);
        let accepted = request_at(&m, Accepted, Some("booked a call"), 2);
        let accepted = accepted.unwrap();
        assert_eq!(
            (accepted.reason.as_str(), accepted.standing.since),
            ("booked a call", 2)
        );
        assert_eq!(
            accepted.acted,
            Some(Acted {
                at: 2,
                by: Some("crm".into())
            })
        );
        let err = request_at(&Standing::new(0).enter(Rejected, 1), Accepted, None, 2).err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("a lead in stage `rejected` cannot become `accepted` (a `lead`, `mql` or `recycled` lead can be accepted)")
        );
        assert_eq!(Stage::requestable("mql"), None);
        assert_eq!(Stage::requestable("lost"), Some(Lost));
    }

    #[test]
    fn recycling_a_rejected_lead_keeps_its_cool_down() {
        let rejected = Standing::new(0).enter(Stage::Rejected, 10 * D);
        let recycled = request_at(&rejected, Stage::Recycled, None, 40 * D).map(|c| c.standing);
        let recycled = recycled.unwrap();
        assert_eq!(recycled.nurture_since, Some(10 * D));
        // The 30d cool-down ran from day 10: activity on day 41 requalifies.
        let again = qualify(&recycled, mql(None, None), Some(41 * D), Some(30 * D), 41 * D);
        assert!(again.is_some());
        // Out of nurture and back: a new cool-down.
        let m = again.map(|c| c.standing).unwrap_or_else(|| Standing::new(0));
        assert_eq!(m.nurture_since, None);
        let rejected = request_at(&m, Stage::Rejected, None, 42 * D).map(|c| c.standing);
        assert!(rejected.is_ok_and(|r| r.nurture_since == Some(42 * D)));
    }

    #[test]
    fn the_lifecycle_waits_on_a_pending_sla_or_the_end_of_a_cool_down() {
        let lead = Standing::new(0);
        assert_eq!(
            waits_until(&lead, true, Some(D), Some(30 * D)),
            None,
            "a lead qualifies on its result"
        );
        let handed = qualify(&lead, mql(None, Some(D)), None, None, 5).map(|c| c.standing);
        let handed = handed.unwrap();
        assert_eq!(waits_until(&handed, true, None, None), Some(5 + D), "the SLA");
        let mut breached = handed.clone();
        breached.sla_breached = true;
        assert_eq!(
            waits_until(&breached, true, None, None),
            None,
            "a breach is reported once"
        );
        let rejected = Standing::new(0).enter(Stage::Rejected, 0);
        let cool = Some(30 * D);
        // An event dated after the cool-down ends requalifies the lead when it ends.
        assert_eq!(waits_until(&rejected, true, Some(31 * D), cool), Some(30 * D));
        assert_eq!(
            waits_until(&rejected, true, Some(D), cool),
            None,
            "activity during the cool-down"
        );
        assert_eq!(waits_until(&rejected, false, Some(31 * D), cool), None, "not an MQL");
    }

    #[test]
    fn activity_before_the_cool_down_ended_does_not_requalify() {
        let rejected = Standing::new(0).enter(Stage::Rejected, 0);
        // An event dated a year back, received after the cool-down: its `at` counts.
        assert!(qualify(&rejected, mql(None, None), Some(-365 * D), Some(30 * D), 31 * D).is_none());
    }

    #[test]
    fn a_rejected_lead_requalifies_only_on_activity_after_the_cool_down() {
        let rejected = Standing::new(0).enter(Stage::Rejected, 0);
        let cool = Some(30 * D);
        // Still cooling down.
        assert!(qualify(&rejected, mql(None, None), Some(D), cool, 29 * D).is_none());
        // Cooled down, but the only activity was during the cool-down.
        assert!(qualify(&rejected, mql(None, None), Some(D), cool, 31 * D).is_none());
        // Cooled down, no activity at all.
        assert!(qualify(&rejected, mql(None, None), None, cool, 31 * D).is_none());
        // Cooled down and active again, but not an MQL.
        assert!(qualify(&rejected, NOT_MQL, Some(31 * D), cool, 31 * D).is_none());
        let again = qualify(&rejected, mql(Some("sdr"), None), Some(31 * D), cool, 31 * D);
        let again = again.unwrap();
        assert_eq!((again.from, again.standing.stage), (Stage::Rejected, Stage::Mql));
        assert_eq!(again.reason, "qualified again on new activity after the 30d cool-down");
    }

    #[test]
    fn without_a_cool_down_a_recycled_lead_requalifies_on_its_next_event() {
        let recycled = Standing::new(0).enter(Stage::Recycled, 10);
        assert!(
            qualify(&recycled, mql(None, None), Some(10), None, 20).is_none(),
            "no event since"
        );
        assert!(qualify(&recycled, mql(None, None), Some(11), None, 20).is_some());
    }

    /// The hand-off record after each of `steps` (stage, reason), from a hand-off at 0.
    fn handoff_after(steps: &[(Stage, Option<&str>)]) -> Option<Handoff> {
        let mut standing = Standing::new(0);
        let first = qualify(&standing, mql(None, None), None, None, 0)?;
        let mut h = follow(None, &first, None);
        standing = first.standing;
        for (i, (to, reason)) in steps.iter().enumerate() {
            let at = 10 * (i as i64 + 1);
            let change = request_at(&standing, *to, *reason, at).ok()?;
            h = follow(h, &change, *reason);
            standing = change.standing;
        }
        h
    }

    #[test]
    fn a_handoff_records_what_sales_did_with_it() {
        use Stage::*;
        let open = handoff_after(&[]).unwrap();
        assert_eq!(
            (open.mql_at, open.accepted, open.won, open.acted_at),
            (0, None, None, None)
        );
        let won = handoff_after(&[(Accepted, None), (Won, None)]).unwrap();
        assert_eq!(
            (won.accepted, won.won, won.acted_at),
            (Some(true), Some(true), Some(10))
        );
        let rejected = handoff_after(&[(Rejected, Some("no budget"))]).unwrap();
        assert_eq!(
            (rejected.accepted, rejected.won, rejected.rejection_reason.as_deref()),
            (Some(false), Some(false), Some("no budget"))
        );
        let recycled = handoff_after(&[(Recycled, None)]).unwrap();
        assert_eq!((recycled.accepted, recycled.won), (Some(false), Some(false)));
        // Accepted later after all: accepted, and open again for a deal.
        let later = handoff_after(&[(Recycled, None), (Accepted, None)]).unwrap();
        assert_eq!(
            (later.accepted, later.won, later.acted_at),
            (Some(true), None, Some(10))
        );
        let lost = handoff_after(&[(Accepted, None), (Lost, Some("price"))]).unwrap();
        assert_eq!(
            (lost.accepted, lost.won, lost.rejection_reason),
            (Some(true), Some(false), None)
        );
        // A lead sales took without a hand-off has no hand-off record.
        let direct = request_at(&Standing::new(0), Accepted, None, 5).unwrap();
        assert_eq!(follow(None, &direct, None), None);
    }

    #[test]
    fn an_accepted_lead_is_left_alone() {
        let accepted = Standing::new(0).enter(Stage::Accepted, 10);
        assert!(advance(&accepted, mql(Some("ae"), Some(H)), Some(100), None, 10 * D).is_empty());
    }
}
