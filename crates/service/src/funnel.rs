//! The funnel: what became of the MQLs handed to sales, as pure functions of the
//! hand-off records ([`HandOff`]) and the time. The storage keeps one record per hand-off
//! in an index by `mql_at`, so a report reads the hand-offs of its range, never every lead.
//!
//! The figures, over the hand-offs made in `[from, to)`:
//! - `mqls`: hand-offs; `accepted`, `rejected`, `recycled`, `won`, `lost`: the hand-offs
//!   sales moved to that stage at some point (a won deal counts as accepted too);
//!   `open`: no sales action yet; `decided`: some sales action;
//! - `sla_breached`: hand-offs with an SLA whose first sales action came at or after
//!   `sla_due`, or that have none and are past it now;
//! - `acceptance_rate` = accepted ÷ decided (the first action is an accept, a reject or a
//!   recycle); `conversion_rate` = won ÷ mqls; `sla_met_rate` = hand-offs with an SLA
//!   acted on before `sla_due` ÷ those acted on or past due; `null` when the divisor is 0;
//! - `minutes_to_first_action`: the median (the middle value, the mean of the two middle
//!   ones for an even count) and the 90th percentile (nearest rank) of the minutes from
//!   the hand-off to the first sales action, over the decided hand-offs;
//! - `rejection_reasons`: the reason of each rejected hand-off's latest rejection, counted;
//! - `rules`: per rule that fired at the hand-off, its MQLs, accepted, rejected and
//!   acceptance rate.
//!
//! Rates are rounded to 4 decimals, minutes to 2.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::ApiError;
use super::lifecycle::Stage;
use super::model::{HandOff, Millis};
use super::storage::Reader;

/// What `rejection_reasons` counts a rejection without a reason under.
pub const NO_REASON: &str = "(no reason given)";
/// The most periods a `series` may have.
pub const MAX_PERIODS: usize = 1_000;

/// How the hand-offs are grouped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum By {
    /// By the route they were handed to.
    Route,
    /// By the value of a lead field (as the lead is now).
    Field(String),
}

impl By {
    /// `route`, or any other name: a lead field.
    pub fn parse(name: &str) -> By {
        match name {
            "route" => By::Route,
            field => By::Field(field.to_string()),
        }
    }

    /// The name as given.
    pub fn name(&self) -> &str {
        match self {
            By::Route => "route",
            By::Field(f) => f,
        }
    }
}

/// The length of a period of a `series`: calendar periods in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Every {
    /// From midnight UTC.
    Day,
    /// From Monday, midnight UTC (ISO weeks).
    Week,
    /// From the first of the month, midnight UTC.
    Month,
}

impl Every {
    /// `day`, `week` or `month`.
    pub fn parse(name: &str) -> Option<Every> {
        match name {
            "day" => Some(Every::Day),
            "week" => Some(Every::Week),
            "month" => Some(Every::Month),
            _ => None,
        }
    }

    /// The start of the period that holds `t`.
    fn start(self, t: Millis) -> Millis {
        let day = utc(t).date_naive();
        let first = match self {
            Every::Day => day,
            Every::Week => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
            Every::Month => day.with_day(1).unwrap_or(day),
        };
        midnight(first)
    }

    /// The start of the period after the one starting at `start`.
    fn next(self, start: Millis) -> Millis {
        let day = utc(start).date_naive();
        let next = match self {
            Every::Day => day + Duration::days(1),
            Every::Week => day + Duration::days(7),
            Every::Month => day
                .checked_add_months(chrono::Months::new(1))
                .unwrap_or(day + Duration::days(31)),
        };
        midnight(next)
    }
}

fn utc(t: Millis) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t).unwrap_or_default()
}

fn midnight(day: NaiveDate) -> Millis {
    Utc.from_utc_datetime(&day.and_time(chrono::NaiveTime::MIN))
        .timestamp_millis()
}

/// The periods of `every` that cover `[from, to)`, each cut to the range.
pub fn periods(from: Millis, to: Millis, every: Every) -> Result<Vec<(Millis, Millis)>, String> {
    let mut out = Vec::new();
    let mut start = every.start(from);
    while start < to {
        let end = every.next(start);
        if out.len() == MAX_PERIODS {
            return Err(format!(
                "more than {MAX_PERIODS} periods: ask for a shorter range or a longer `every`"
            ));
        }
        out.push((start.max(from), end.min(to)));
        start = end;
    }
    Ok(out)
}

/// The minutes to the first sales action.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Minutes {
    /// The middle value.
    pub median: Option<f64>,
    /// The 90th percentile (nearest rank).
    pub p90: Option<f64>,
}

/// One rule's part in the funnel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleFigures {
    /// The rule's name.
    pub rule: String,
    /// Hand-offs it fired for.
    pub mqls: u64,
    /// Of those, accepted at some point.
    pub accepted: u64,
    /// Of those, rejected at some point.
    pub rejected: u64,
    /// accepted ÷ those sales acted on.
    pub acceptance_rate: Option<f64>,
}

/// The funnel's figures over a set of hand-offs (see the module's documentation).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Hand-offs.
    pub mqls: u64,
    /// Hand-offs sales accepted at some point.
    pub accepted: u64,
    /// Hand-offs sales rejected at some point.
    pub rejected: u64,
    /// Hand-offs sales recycled at some point.
    pub recycled: u64,
    /// Hand-offs whose deal was won.
    pub won: u64,
    /// Hand-offs whose deal was lost.
    pub lost: u64,
    /// Hand-offs without a sales action yet.
    pub open: u64,
    /// Hand-offs with a sales action: the divisor of `acceptance_rate`.
    pub decided: u64,
    /// Hand-offs whose SLA passed before the first sales action.
    pub sla_breached: u64,
    /// accepted ÷ decided.
    pub acceptance_rate: Option<f64>,
    /// won ÷ mqls.
    pub conversion_rate: Option<f64>,
    /// From the hand-off to the first sales action.
    pub minutes_to_first_action: Minutes,
    /// Acted on before `sla_due` ÷ acted on or past due, over hand-offs with an SLA.
    pub sla_met_rate: Option<f64>,
    /// Rejected hand-offs by the reason of their latest rejection.
    pub rejection_reasons: BTreeMap<String, u64>,
    /// Per rule that fired at the hand-off, the most MQLs first.
    pub rules: Vec<RuleFigures>,
}

/// One group of a report with `by`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// The route or the field's value (`null`: none).
    pub key: Value,
    #[serde(flatten)]
    pub figures: Figures,
}

/// One period of a report with `every`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Period {
    /// Its start (RFC 3339), cut to the report's range.
    pub from: String,
    /// Its end, exclusive.
    pub to: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// The answer of `GET /v1/funnel`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The range's start (RFC 3339).
    pub from: String,
    /// Its end, exclusive.
    pub to: String,
    /// The time open hand-offs were judged at (past due or not).
    pub as_of: String,
    #[serde(flatten)]
    pub figures: Figures,
    /// What `groups` are by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The figures per route or field value, the most MQLs first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<Group>>,
    /// The period of `series`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<Every>,
    /// The figures per period, in time order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<Vec<Period>>,
    /// The pack's targets, each over its own trailing window ending at `as_of` (not the
    /// range); absent when the pack has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<super::model::Evaluation>,
}

/// The figures over `handoffs`, judging open ones at `now`.
pub fn figures<'h>(handoffs: impl IntoIterator<Item = &'h HandOff>, now: Millis) -> Figures {
    let mut f = Figures::default();
    let mut minutes = Vec::new();
    let (mut sla_counted, mut sla_met) = (0u64, 0u64);
    let mut rules: BTreeMap<&str, (u64, u64, u64, u64)> = BTreeMap::new();
    for h in handoffs {
        f.mqls += 1;
        f.accepted += u64::from(h.reached(Stage::Accepted));
        f.rejected += u64::from(h.reached(Stage::Rejected));
        f.recycled += u64::from(h.reached(Stage::Recycled));
        f.won += u64::from(h.reached(Stage::Won));
        f.lost += u64::from(h.reached(Stage::Lost));
        f.open += u64::from(h.open());
        if let Some((_, at)) = h.first_action {
            f.decided += 1;
            minutes.push((at - h.mql_at).max(0) as f64 / 60_000.0);
        }
        if let Some(met) = sla_kept(h, now) {
            sla_met += u64::from(met);
            sla_counted += 1;
            f.sla_breached += u64::from(!met);
        }
        if h.reached(Stage::Rejected) {
            let reason = h.rejection_reason.as_deref().unwrap_or(NO_REASON);
            *f.rejection_reasons.entry(reason.to_string()).or_default() += 1;
        }
        let mut seen: Vec<&str> = Vec::new();
        for rule in &h.rules {
            if seen.contains(&rule.as_str()) {
                continue;
            }
            seen.push(rule);
            let r = rules.entry(rule).or_default();
            r.0 += 1;
            r.1 += u64::from(h.reached(Stage::Accepted));
            r.2 += u64::from(h.reached(Stage::Rejected));
            r.3 += u64::from(h.first_action.is_some());
        }
    }
    f.acceptance_rate = rate(f.accepted, f.decided);
    f.conversion_rate = rate(f.won, f.mqls);
    f.sla_met_rate = rate(sla_met, sla_counted);
    f.minutes_to_first_action = quantiles(minutes);
    f.rules = rules
        .into_iter()
        .map(|(rule, (mqls, accepted, rejected, decided))| RuleFigures {
            rule: rule.to_string(),
            mqls,
            accepted,
            rejected,
            acceptance_rate: rate(accepted, decided),
        })
        .collect();
    f.rules
        .sort_by(|a, b| b.mqls.cmp(&a.mqls).then_with(|| a.rule.cmp(&b.rule)));
    f
}

/// Whether a hand-off met its SLA, judged at `now`: `Some(true)` acted on before
/// `sla_due`, `Some(false)` acted on later or still open past it, `None` when it has no
/// SLA or is open and not yet due (not counted by `sla_met_rate`).
pub fn sla_kept(h: &HandOff, now: Millis) -> Option<bool> {
    let due = h.sla_due?;
    let met = h.first_action.is_some_and(|(_, at)| at < due);
    let counted = h.first_action.is_some() || now >= due;
    counted.then_some(met)
}

/// `part ÷ whole` to 4 decimals; `None` when `whole` is 0.
pub fn rate(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| round(part as f64 / whole as f64, 4))
}

fn round(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

/// The median and the 90th percentile (nearest rank), to 2 decimals.
fn quantiles(mut values: Vec<f64>) -> Minutes {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return Minutes::default();
    }
    let median = match n % 2 {
        1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    };
    let rank = (n * 9).div_ceil(10).max(1);
    Minutes {
        median: Some(round(median, 2)),
        p90: Some(round(values[rank - 1], 2)),
    }
}

/// What a report asks for.
#[derive(Clone, Debug)]
pub struct Query {
    /// The range's start (ms).
    pub from: Millis,
    /// Its end, exclusive (ms).
    pub to: Millis,
    /// The time open hand-offs are judged at.
    pub now: Millis,
    /// Groups.
    pub by: Option<By>,
    /// Series.
    pub every: Option<Every>,
}

/// The report over `handoffs` (those in the range, in `mql_at` order); `keys` gives each
/// one's group key when the query has `by`.
pub fn report(query: &Query, handoffs: &[HandOff], keys: Option<&[Value]>) -> Result<Report, String> {
    let rfc = super::input::rfc3339;
    let in_range: Vec<&HandOff> = handoffs
        .iter()
        .filter(|h| (query.from..query.to).contains(&h.mql_at))
        .collect();
    let groups = match (&query.by, keys) {
        (Some(_), Some(keys)) => Some(groups(handoffs, keys, query)),
        _ => None,
    };
    let series = match query.every {
        Some(every) => Some(
            periods(query.from, query.to, every)?
                .into_iter()
                .map(|(from, to)| Period {
                    from: rfc(from),
                    to: rfc(to),
                    figures: figures(
                        in_range.iter().copied().filter(|h| (from..to).contains(&h.mql_at)),
                        query.now,
                    ),
                })
                .collect(),
        ),
        None => None,
    };
    Ok(Report {
        from: rfc(query.from),
        to: rfc(query.to),
        as_of: rfc(query.now),
        figures: figures(in_range.iter().copied(), query.now),
        by: query.by.as_ref().map(|b| b.name().to_string()),
        groups,
        every: query.every,
        series,
        targets: Vec::new(),
    })
}

fn groups(handoffs: &[HandOff], keys: &[Value], query: &Query) -> Vec<Group> {
    let mut by_key: HashMap<String, (Value, Vec<&HandOff>)> = HashMap::new();
    for (h, key) in handoffs.iter().zip(keys) {
        if (query.from..query.to).contains(&h.mql_at) {
            let entry = by_key
                .entry(key.to_string())
                .or_insert_with(|| (key.clone(), Vec::new()));
            entry.1.push(h);
        }
    }
    let mut out: Vec<(String, Group)> = by_key
        .into_iter()
        .map(|(text, (key, list))| {
            let figures = figures(list, query.now);
            (text, Group { key, figures })
        })
        .collect();
    out.sort_by(|a, b| b.1.figures.mqls.cmp(&a.1.figures.mqls).then_with(|| a.0.cmp(&b.0)));
    out.into_iter().map(|(_, g)| g).collect()
}

/// A hand-off's group key for `by`: its route, or the lead's field (`null` when the lead
/// has no such field or was erased).
pub fn key_of(by: &By, handoff: &HandOff, fields: Option<&serde_json::Map<String, Value>>) -> Value {
    match by {
        By::Route => handoff.route.clone().map_or(Value::Null, Value::String),
        By::Field(name) => fields.and_then(|f| f.get(name)).cloned().unwrap_or(Value::Null),
    }
}

/// The range when none is given: the 30 days before `to`.
pub const DEFAULT_DAYS: i64 = 30;

impl Query {
    /// A query from `?from=T&to=T&by=route|FIELD&every=day|week|month`: `to` defaults to
    /// `now`, `from` to [`DEFAULT_DAYS`] before `to`.
    pub fn from_params(params: &HashMap<String, String>, now: Millis) -> Result<Query, ApiError> {
        let time = |name: &str| -> Result<Option<Millis>, ApiError> {
            params
                .get(name)
                .map(|t| {
                    super::model::leadscore_time(t)
                        .ok_or_else(|| ApiError::bad_request(format!("`{name}` {t:?} is not an RFC 3339 time")))
                })
                .transpose()
        };
        let to = time("to")?.unwrap_or(now);
        let from = time("from")?.unwrap_or(to.saturating_sub(DEFAULT_DAYS * 86_400_000));
        if from >= to {
            return Err(ApiError::bad_request("`from` must be before `to`"));
        }
        let by = match params.get("by").map(String::as_str) {
            None => None,
            Some("") => return Err(ApiError::bad_request("`by` must be `route` or a lead field's name")),
            Some(name) => Some(By::parse(name)),
        };
        let every = match params.get("every") {
            None => None,
            Some(name) => Some(Every::parse(name).ok_or_else(|| {
                ApiError::bad_request(format!("`every` must be `day`, `week` or `month`, not {name:?}"))
            })?),
        };
        if let Some(every) = every {
            periods(from, to, every).map_err(ApiError::bad_request)?;
        }
        Ok(Query {
            from,
            to,
            now,
            by,
            every,
        })
    }
}

/// The report `query` asks for, read from `reader`: the hand-offs of its range from the
/// index, and with `by` a field, each one's lead (as it is now).
pub async fn read_report(reader: &Reader, query: &Query) -> Result<Report, ApiError> {
    let handoffs = reader.handoffs(query.from, query.to).await?;
    let keys = match &query.by {
        None => None,
        Some(By::Route) => Some(handoffs.iter().map(|h| key_of(&By::Route, h, None)).collect::<Vec<_>>()),
        Some(by) => {
            let mut fields: HashMap<&str, Option<serde_json::Map<String, Value>>> = HashMap::new();
            let mut keys = Vec::with_capacity(handoffs.len());
            for h in &handoffs {
                if !fields.contains_key(h.lead.as_str()) {
                    let record = reader.lead(&h.lead).await?;
                    fields.insert(&h.lead, record.map(|r| r.fields));
                }
                let lead_fields = fields.get(h.lead.as_str()).and_then(Option::as_ref);
                keys.push(key_of(by, h, lead_fields));
            }
            Some(keys)
        }
    };
    report(query, &handoffs, keys.as_deref()).map_err(ApiError::bad_request)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Millis = 60_000;

    fn handoff(mql_at: Millis, route: &str, sla: Option<Millis>) -> HandOff {
        HandOff {
            lead: format!("l{mql_at}"),
            mql_at,
            route: Some(route.into()),
            sla_due: sla.map(|s| mql_at + s),
            rules: vec!["A".into()],
            first_action: None,
            reached: Vec::new(),
            rejection_reason: None,
        }
    }

    #[test]
    fn the_figures_follow_their_definitions() {
        let mut a = handoff(0, "east", Some(10 * MIN));
        a.act(Stage::Accepted, 5 * MIN, None);
        a.act(Stage::Won, 50 * MIN, None);
        let mut b = handoff(MIN, "east", Some(10 * MIN));
        b.act(Stage::Rejected, 21 * MIN, Some("no budget"));
        let mut c = handoff(2 * MIN, "rest", None);
        c.act(Stage::Recycled, 3 * MIN, None);
        c.act(Stage::Accepted, 4 * MIN, None);
        let d = handoff(3 * MIN, "east", Some(10 * MIN));
        let f = figures([&a, &b, &c, &d], 12 * MIN);
        assert_eq!(
            (f.mqls, f.accepted, f.rejected, f.recycled, f.won, f.open),
            (4, 2, 1, 1, 1, 1)
        );
        assert_eq!(f.acceptance_rate, Some(0.6667));
        assert_eq!(f.conversion_rate, Some(0.25));
        // a met; b acted late; d open but not yet due at 12 min (due at 13).
        assert_eq!((f.sla_breached, f.sla_met_rate), (1, Some(0.5)));
        assert_eq!(figures([&d], 13 * MIN).sla_breached, 1, "past due and open");
        // 5, 20, 1 minutes: median 5, p90 the 3rd of 3.
        assert_eq!(
            f.minutes_to_first_action,
            Minutes {
                median: Some(5.0),
                p90: Some(20.0)
            }
        );
        assert_eq!(f.rejection_reasons.get("no budget"), Some(&1));
        assert_eq!(f.rules.len(), 1);
        assert_eq!(
            (f.rules[0].mqls, f.rules[0].accepted, f.rules[0].acceptance_rate),
            (4, 2, Some(0.6667))
        );
        assert_eq!(figures([], 0).acceptance_rate, None);
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        let q = quantiles(vec![4.0, 1.0, 2.0, 3.0]);
        assert_eq!((q.median, q.p90), (Some(2.5), Some(4.0)));
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(quantiles(ten).p90, Some(9.0));
    }

    #[test]
    fn periods_are_calendar_periods_in_utc_cut_to_the_range() {
        let t = |s: &str| super::super::model::leadscore_time(s).unwrap_or_default();
        let weeks = periods(t("2026-03-04T12:00:00Z"), t("2026-03-17T00:00:00Z"), Every::Week).unwrap_or_default();
        let shown: Vec<_> = weeks
            .iter()
            .map(|&(a, b)| (super::super::input::rfc3339(a), super::super::input::rfc3339(b)))
            .collect();
        assert_eq!(
            shown,
            [
                (
                    "2026-03-04T12:00:00.000Z".to_string(),
                    "2026-03-09T00:00:00.000Z".to_string()
                ),
                ("2026-03-09T00:00:00.000Z".into(), "2026-03-16T00:00:00.000Z".into()),
                ("2026-03-16T00:00:00.000Z".into(), "2026-03-17T00:00:00.000Z".into()),
            ]
        );
        let months = periods(t("2026-01-31T00:00:00Z"), t("2026-03-01T00:00:00Z"), Every::Month).unwrap_or_default();
        assert_eq!(months.len(), 2);
        assert_eq!(months[1].0, t("2026-02-01T00:00:00Z"));
        assert!(periods(0, 10_000 * 86_400_000, Every::Day).is_err());
    }

    #[test]
    fn a_series_splits_the_hand_offs_by_period() {
        const DAY: Millis = 86_400_000;
        let list = vec![
            handoff(DAY / 2, "east", None),
            handoff(DAY + 1, "rest", None),
            handoff(DAY + 2, "rest", None),
        ];
        let keys: Vec<Value> = list.iter().map(|h| key_of(&By::Route, h, None)).collect();
        let query = Query {
            from: 0,
            to: 2 * DAY,
            now: 2 * DAY,
            by: Some(By::Route),
            every: Some(Every::Day),
        };
        let r = report(&query, &list, Some(&keys)).unwrap();
        let series = r.series.unwrap_or_default();
        assert_eq!(series.iter().map(|p| p.figures.mqls).collect::<Vec<_>>(), [1, 2]);
        let groups = r.groups.unwrap_or_default();
        assert_eq!(
            groups
                .iter()
                .map(|g| (g.key.clone(), g.figures.mqls))
                .collect::<Vec<_>>(),
            [(Value::from("rest"), 2), (Value::from("east"), 1)]
        );
    }
}

/// The speed figure of BENCHMARKS.md in-process, for a release build of this crate alone:
/// `cargo test --release -p leadscore-service --lib speed -- --ignored --nocapture`.
#[cfg(test)]
mod speed {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::model::LeadRecord;
    use crate::storage::{Location, Storage};

    const N: i64 = 100_000;
    const T0: i64 = 1_767_225_600_000;

    fn handoff(i: i64) -> HandOff {
        let mut h = HandOff {
            lead: format!("lead-{i:06}"),
            mql_at: T0 + i * 25_000,
            route: Some(["east", "west", "sdr"][(i % 3) as usize].into()),
            sla_due: Some(T0 + i * 25_000 + 7_200_000),
            rules: vec!["Senior".into(), ["Pricing", "Demo"][(i % 2) as usize].into()],
            first_action: None,
            reached: Vec::new(),
            rejection_reason: None,
        };
        match i % 5 {
            0 | 1 => h.act(Stage::Accepted, h.mql_at + i % 7_200_000, None),
            2 => h.act(Stage::Rejected, h.mql_at + 600_000, Some("no budget")),
            3 => h.act(Stage::Recycled, h.mql_at + 9_000_000, None),
            _ => {}
        }
        h
    }

    #[tokio::test]
    #[ignore = "a measurement: run it by name (see BENCHMARKS.md)"]
    async fn speed_of_a_report_over_100_000_hand_offs_against_a_scan() {
        let dir = tempfile::tempdir().unwrap();
        let store = Storage::open(&Location::Folder(dir.path().to_path_buf()))
            .await
            .unwrap();
        for chunk in 0..N / 5_000 {
            store
                .write(|t| {
                    (chunk * 5_000..(chunk + 1) * 5_000).try_for_each(|i| {
                        let h = handoff(i);
                        let mut record = LeadRecord::new(T0);
                        record.handoff = Some(h.mql_at);
                        t.put_lead(&h.lead, &record, None)?;
                        t.put_handoff(&h)
                    })
                })
                .unwrap();
        }
        let plain = Query {
            from: T0,
            to: T0 + N * 25_000,
            now: T0 + N * 25_000,
            by: None,
            every: None,
        };
        let by_route = Query {
            by: Some(By::Route),
            ..plain.clone()
        };
        let (mut report, mut grouped, mut scan) = (Duration::MAX, Duration::MAX, Duration::MAX);
        for _ in 0..5 {
            for (query, best) in [(&plain, &mut report), (&by_route, &mut grouped)] {
                let started = Instant::now();
                let read = store.read().await.unwrap();
                let answer = read_report(&read, query).await.unwrap();
                let body = serde_json::to_vec(&answer).unwrap();
                *best = (*best).min(started.elapsed());
                assert_eq!((answer.figures.mqls, body.is_empty()), (N as u64, false));
            }
            let started = Instant::now();
            let read = store.read().await.unwrap();
            let (mut after, mut n) = (None, 0);
            loop {
                let ids = read.lead_ids(after.as_deref(), 1_000).await.unwrap();
                let Some(last) = ids.last().cloned() else { break };
                for id in &ids {
                    n += i64::from(read.lead(id).await.unwrap().is_some_and(|r| r.handoff.is_some()));
                }
                after = Some(last);
            }
            scan = scan.min(started.elapsed());
            assert_eq!(n, N);
        }
        println!(
            "a report over {N} hand-offs, read and rendered: {report:?}; by route: {grouped:?}; a scan of {N} lead records alone: {scan:?}; ratio {:.1}x",
            scan.as_secs_f64() / report.as_secs_f64()
        );
    }
}
