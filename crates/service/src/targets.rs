//! Targets in the pack (issue 27.3): `target acceptance >= 70% over 30d`, the agreement
//! between marketing and sales, judged over the hand-offs of each target's own trailing
//! window ending now. Below the minimum sample (the measure's divisor: hand-offs sales
//! acted on for `acceptance`, hand-offs for `conversion`, hand-offs with an SLA acted on
//! or past due for `sla`) a target is `insufficient`, neither met nor missed.
//!
//! The scheduler (`judge.rs`) judges the live pack's targets every `--target-every`, sets the
//! `leadscore_target_status` gauges, and when a target has become missed (or met again)
//! since the last alert, has the writer publish it: in one transaction, under a lock that
//! serialises every instance's publication (Postgres: a transaction-level advisory lock;
//! redb: its single writer), the stored state of each target is read, and an alert is
//! appended to the alert log, with its own seq, only where the status differs from the
//! last one published. Two instances that judge the same change publish it once. A
//! target never published counts as met: a first judgement of `met` publishes nothing.
//!
//! Alerts are a log of their own, not entries of the transition outbox: every reader of
//! the outbox (`/v1/transitions`, the hand-off index rebuilt from it, backups, the
//! webhook streams' seqs) reads lead transitions only, and stays as it was.

use std::collections::HashMap;
use std::time::Duration;

use leadscore::ast::Measure;
use leadscore::Target;

use super::error::ApiError;
use super::funnel;
use super::model::{Alert, Evaluation, HandOff, Millis, TargetState, TargetStatus};
use super::storage::{Reader, StorageError, Txn};

/// The fewest hand-offs in a measure's divisor for a target to be judged (`--target-min-sample`).
pub const MIN_SAMPLE: u64 = 20;
/// How often the scheduler judges the targets (`--target-every`).
pub const EVERY: Duration = Duration::from_secs(60);

/// Judges `target` over `handoffs` (any; those made in the target's window ending at
/// `now` are counted), with `min_sample`.
pub fn evaluate(target: &Target, handoffs: &[HandOff], now: Millis, min_sample: u64) -> Evaluation {
    let from = now.saturating_sub(target.window);
    let within = handoffs.iter().filter(|h| (from..now).contains(&h.mql_at));
    let f = funnel::figures(within.clone(), now);
    let (actual, sample) = match target.measure {
        Measure::Acceptance => (f.acceptance_rate, f.decided),
        Measure::Conversion => (f.conversion_rate, f.mqls),
        Measure::Sla => (
            f.sla_met_rate,
            within.filter(|h| funnel::sla_kept(h, now).is_some()).count() as u64,
        ),
    };
    let status = match actual {
        Some(rate) if sample >= min_sample.max(1) => match target.met_by(rate) {
            true => TargetStatus::Met,
            false => TargetStatus::Missed,
        },
        _ => TargetStatus::Insufficient,
    };
    Evaluation {
        name: target.name.clone(),
        measure: target.measure.word().to_string(),
        op: target.op().to_string(),
        value: target.percent / 100.0,
        window: leadscore::value::time::show_duration(target.window),
        actual,
        sample,
        status,
    }
}

/// Judges every target of `targets` at `now`, reading the hand-offs of the longest window
/// once.
pub async fn read_evaluations(
    reader: &Reader,
    targets: &[Target],
    now: Millis,
    min_sample: u64,
) -> Result<Vec<Evaluation>, StorageError> {
    let Some(longest) = targets.iter().map(|t| t.window).max() else {
        return Ok(Vec::new());
    };
    let handoffs = reader.handoffs(now.saturating_sub(longest), now).await?;
    Ok(targets
        .iter()
        .map(|t| evaluate(t, &handoffs, now, min_sample))
        .collect())
}

/// The status to publish for a target judged `now` whose last published status is
/// `published` (`None`: never published, which counts as met); `None`: nothing to publish.
pub fn change(published: Option<TargetStatus>, now: TargetStatus) -> Option<TargetStatus> {
    match now {
        TargetStatus::Insufficient => None,
        status if status == published.unwrap_or(TargetStatus::Met) => None,
        status => Some(status),
    }
}

/// Publishes, in `t`, an alert for each judged target whose status differs from the last
/// one published (see the module's documentation); how many.
pub fn publish(t: &mut dyn Txn, evaluations: &[Evaluation], pack: &str, now: Millis) -> Result<usize, StorageError> {
    let stored: HashMap<String, TargetStatus> = t
        .lock_target_states()?
        .into_iter()
        .map(|s| (s.name, s.status))
        .collect();
    let mut published = 0;
    for e in evaluations {
        let before = stored.get(&e.name).copied();
        let Some(status) = change(before, e.status) else {
            continue;
        };
        let mut alert = Alert {
            seq: 0,
            kind: "target".into(),
            at: super::input::rfc3339(now),
            pack: pack.to_string(),
            previous: before.unwrap_or(TargetStatus::Met),
            target: e.clone(),
        };
        t.push_alert(&mut alert)?;
        t.put_target_state(&TargetState {
            name: e.name.clone(),
            status,
            seq: alert.seq,
        })?;
        published += 1;
    }
    Ok(published)
}

/// The report `query` asks for with the judgement of `targets`, each
/// over its own window ending at the query's `now`.
pub async fn read_report_with_targets(
    reader: &Reader,
    query: &funnel::Query,
    targets: &[leadscore::Target],
    min_sample: u64,
) -> Result<funnel::Report, ApiError> {
    let report = funnel::read_report(reader, query).await?;
    let targets = read_evaluations(reader, targets, query.now, min_sample).await?;
    Ok(funnel::Report { targets, ..report })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::Stage;

    const DAY: Millis = 86_400_000;

    fn target(text: &str) -> Target {
        let pack = leadscore::Pack::from_source("t", text).unwrap();
        pack.program().targets()[0].clone()
    }

    fn handoff(n: i64, at: Millis, stage: Option<Stage>) -> HandOff {
        let mut h = HandOff {
            lead: format!("l{n}"),
            mql_at: at,
            route: None,
            sla_due: Some(at + DAY),
            rules: Vec::new(),
            first_action: None,
            reached: Vec::new(),
            rejection_reason: None,
        };
        if let Some(stage) = stage {
            h.act(stage, at + 1_000, None);
        }
        h
    }

    #[test]
    fn a_target_is_judged_over_its_own_window() {
        let now = 100 * DAY;
        // In the window: 3 accepted, 1 rejected, 1 open; before it: 5 rejected.
        let mut hs: Vec<HandOff> = (0..3).map(|n| handoff(n, now - DAY, Some(Stage::Accepted))).collect();
        hs.push(handoff(3, now - 2 * DAY, Some(Stage::Rejected)));
        hs.push(handoff(4, now - 3 * DAY, None));
        hs.extend((5..10).map(|n| handoff(n, now - 40 * DAY, Some(Stage::Rejected))));
        let e = evaluate(&target("target acceptance >= 70% over 30d"), &hs, now, 4);
        assert_eq!((e.actual, e.sample, e.status), (Some(0.75), 4, TargetStatus::Met));
        assert_eq!((e.value, e.window.as_str(), e.op.as_str()), (0.7, "30d", ">="));
        let e = evaluate(&target("target acceptance >= 70% over 60d"), &hs, now, 4);
        assert_eq!((e.actual, e.sample, e.status), (Some(0.3333), 9, TargetStatus::Missed));
        let e = evaluate(&target("target acceptance >= 70% over 30d"), &hs, now, 5);
        assert_eq!(e.status, TargetStatus::Insufficient, "4 decided, 5 needed");
        let e = evaluate(&target("target conversion <= 10% over 30d"), &hs, now, 5);
        assert_eq!((e.actual, e.sample, e.status), (Some(0.0), 5, TargetStatus::Met));
        // The open one is 3 days old, past its 1-day SLA: counted, not met.
        let e = evaluate(&target("target sla >= 80% over 30d"), &hs, now, 1);
        assert_eq!((e.actual, e.sample, e.status), (Some(0.8), 5, TargetStatus::Met));
    }

    #[test]
    fn only_a_change_between_met_and_missed_is_published() {
        use TargetStatus::*;
        assert_eq!(change(None, Met), None, "never published counts as met");
        assert_eq!(change(None, Missed), Some(Missed));
        assert_eq!(change(Some(Missed), Missed), None);
        assert_eq!(change(Some(Missed), Insufficient), None);
        assert_eq!(change(Some(Missed), Met), Some(Met));
        assert_eq!(change(Some(Met), Missed), Some(Missed));
    }
}
