//! The console's pages: each handler reads what the JSON API reads (the store, the live
//! pack, the pack's status), shapes it into a view and renders its template. The forms
//! (a stage change, trying a lead, publishing the pack) check the CSRF token and the
//! scope first (`super::allowed`), then do what the API's handler does.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::session::Session;
use super::{allowed, render, Chrome, Failure, Shared};
use crate::config::Scope;
use crate::funnel;
use crate::http::{explain, shadow_view, App};
use crate::input::{self, rfc3339, Op};
use crate::lifecycle::{Acted, Ask, Stage};
use crate::model::now_millis;
use crate::model::{hour_of, HistoryEntry, LeadRecord, Millis, RuleFires, HOUR_MS};
use crate::pack as live_pack;
use crate::shadow;
use crate::storage::Reader;
use leadscore::reload::ReloadEvent;
use leadscore::Outcome;
use leadscore_outcomes::chart::{lines, Series};

/// Events shown on a lead's page: the newest.
const EVENTS_SHOWN: u64 = 50;
/// Open hand-offs shown per route: the most urgent.
const QUEUE_PER_ROUTE: usize = 100;
/// Ledger entries drawn on a lead's page: the newest.
const LEDGER_SHOWN: u64 = 200;

type SessionOf = Extension<Arc<Session>>;

/// A rule that fired, as the pages show it.
pub struct FiredRow {
    rule: String,
    points: String,
    dimension: String,
    location: String,
}

/// A lead's result as the pages show it.
pub struct ResultView {
    score: String,
    mql: bool,
    route: Option<String>,
    disqualified: Option<String>,
    dimensions: Vec<(String, String)>,
    fired: Vec<FiredRow>,
    explanation: String,
}

impl ResultView {
    fn of(outcome: &Outcome, explanation: String) -> ResultView {
        ResultView {
            score: number(outcome.score),
            mql: outcome.mql,
            route: outcome.route().map(str::to_string),
            disqualified: outcome.disqualified().map(str::to_string),
            dimensions: outcome.dimensions().map(|(d, v)| (d.to_string(), number(v))).collect(),
            fired: outcome
                .fired()
                .map(|f| FiredRow {
                    rule: f.rule().to_string(),
                    points: signed(f.points()),
                    dimension: f.dimension().unwrap_or("").to_string(),
                    location: f.location().to_string(),
                })
                .collect(),
            explanation,
        }
    }
}

/// A number as the API writes it: `35`, not `35.0`.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

fn signed(v: f64) -> String {
    if v >= 0.0 {
        format!("+{}", number(v))
    } else {
        number(v)
    }
}

fn stored_outcome(record: &LeadRecord) -> Option<Outcome> {
    record.result.as_ref().and_then(crate::model::StoredResult::outcome)
}

/// A JSON value as one line of text (strings without their quotes).
fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------- the queue

/// One open MQL in the queue.
pub struct QueueRow {
    id: String,
    score: String,
    rules: String,
    since: String,
    since_ms: Millis,
    sla_due: Option<String>,
    sla_due_ms: Option<Millis>,
    breached: bool,
}

/// The open MQLs of one route, oldest SLA first.
pub struct RouteGroup {
    route: String,
    rows: Vec<QueueRow>,
    /// More are open than are shown.
    full: bool,
}

#[derive(Template)]
#[template(path = "console/queue.html")]
struct QueuePage {
    c: Chrome,
    routes: Vec<RouteGroup>,
    now_ms: Millis,
}

#[derive(Template)]
#[template(path = "console/queue_rows.html")]
struct QueueRows {
    c: Chrome,
    routes: Vec<RouteGroup>,
    now_ms: Millis,
}

/// The rules with the most points in a result, best first, at most three.
fn top_rules(outcome: Option<&Outcome>) -> String {
    let Some(outcome) = outcome else {
        return String::new();
    };
    let mut fired: Vec<_> = outcome.fired().filter(|f| f.points() > 0.0).collect();
    fired.sort_by(|a, b| b.points().total_cmp(&a.points()));
    fired
        .iter()
        .take(3)
        .map(|f| format!("{} {}", f.rule(), signed(f.points())))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The open hand-offs of every route of the live pack (and those without a route), each
/// route's oldest SLA first, at most [`QUEUE_PER_ROUTE`] per route.
async fn queue_groups(app: &App) -> Result<Vec<RouteGroup>, Failure> {
    let read = app.store.read().await?;
    let mut routes: Vec<String> = app
        .live
        .current()
        .program()
        .route_names()
        .into_iter()
        .map(str::to_string)
        .collect();
    routes.push(String::new());
    let now = now_millis();
    let mut groups = Vec::new();
    for route in routes {
        let open = read.open_handoffs(&route, QUEUE_PER_ROUTE).await?;
        let mut rows = Vec::with_capacity(open.len());
        for handoff in open {
            let record = read.lead(&handoff.lead).await?;
            let outcome = record.as_ref().and_then(stored_outcome);
            let breached =
                record.as_ref().is_some_and(|r| r.standing.sla_breached) || handoff.sla_due.is_some_and(|d| d <= now);
            rows.push(QueueRow {
                score: outcome.as_ref().map_or_else(String::new, |o| number(o.score)),
                rules: top_rules(outcome.as_ref()),
                since: rfc3339(handoff.mql_at),
                since_ms: handoff.mql_at,
                sla_due: handoff.sla_due.map(rfc3339),
                sla_due_ms: handoff.sla_due,
                breached,
                id: handoff.lead,
            });
        }
        if !rows.is_empty() {
            groups.push(RouteGroup {
                full: rows.len() >= QUEUE_PER_ROUTE,
                route,
                rows,
            });
        }
    }
    Ok(groups)
}

/// The queue: the console's front page.
pub async fn queue(State(app): Shared, Extension(session): SessionOf) -> Result<Response, Failure> {
    let routes = queue_groups(&app).await?;
    Ok(render(&QueuePage {
        c: Chrome::of("queue", &session),
        routes,
        now_ms: now_millis(),
    }))
}

/// The queue's table alone, for the page's script to swap in as hand-offs come and go.
pub async fn queue_rows(State(app): Shared, Extension(session): SessionOf) -> Result<Response, Failure> {
    let routes = queue_groups(&app).await?;
    Ok(render(&QueueRows {
        c: Chrome::of("queue", &session),
        routes,
        now_ms: now_millis(),
    }))
}

// ---------------------------------------------------------------- a lead

/// One event on a lead's timeline.
pub struct EventRow {
    seq: u64,
    at: String,
    kind: String,
    detail: String,
}

/// A stage change (or an SLA breach) on a lead's history: when, the stage after, who
/// acted (the token's name, for a change sales asked for) and why.
pub struct StageRow {
    at: String,
    stage: String,
    by: String,
    /// The service moved it (a hand-off, a breach), not a request.
    automatic: bool,
    reason: String,
}

#[derive(Template)]
#[template(path = "console/lead.html")]
struct LeadPage {
    c: Chrome,
    id: String,
    fields: Vec<(String, String)>,
    stage: String,
    route: Option<String>,
    sla_due: Option<String>,
    sla_due_ms: Option<Millis>,
    breached: bool,
    result: Option<ResultView>,
    error: Option<String>,
    shadow: Option<ShadowLeadView>,
    events: Vec<EventRow>,
    older_events: u64,
    ledger: String,
    stages: Vec<StageRow>,
    can_decide: bool,
    can_close: bool,
    now_ms: Millis,
}

fn event_row(seq: u64, event: &Value) -> EventRow {
    let get = |k: &str| event.get(k).map(text_of).unwrap_or_default();
    let rest: Map<String, Value> = event
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "at" | "type"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    EventRow {
        seq,
        at: get("at"),
        kind: get("type"),
        detail: if rest.is_empty() {
            String::new()
        } else {
            Value::Object(rest).to_string()
        },
    }
}

/// The score over time, from the ledger, as an SVG line.
fn ledger_chart(entries: &[(u64, HistoryEntry)]) -> String {
    let points: Vec<(f64, f64)> = entries
        .iter()
        .filter_map(|(_, e)| Some((crate::model::leadscore_time(&e.at)? as f64, e.score?)))
        .collect();
    if points.is_empty() {
        return String::new();
    }
    let series = Series {
        name: "score".into(),
        colour: "#0969da",
        points,
    };
    lines(
        "the lead's score over time (the ledger below has every change)",
        &[series],
        |x| {
            chrono::DateTime::from_timestamp_millis(x as i64)
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default()
        },
    )
}

/// The entries where the stage changed, sales acted, or a transition (an SLA breach)
/// came with its reason; the newest first. The lead's first entry (number 0, when the
/// ledger still keeps it) says so, since no transition gives it a reason.
fn stage_rows(entries: &[(u64, HistoryEntry)]) -> Vec<StageRow> {
    let mut rows = Vec::new();
    let mut last = None;
    for (n, e) in entries {
        if last != Some(e.stage) || e.by.is_some() || e.acted_at.is_some() || e.reason.is_some() {
            rows.push(StageRow {
                at: e.acted_at.clone().unwrap_or_else(|| e.at.clone()),
                stage: e.stage.name().to_string(),
                by: match (&e.by, &e.acted_at) {
                    (Some(name), _) => name.clone(),
                    (None, Some(_)) => "a request without a token".to_string(),
                    (None, None) => "the service".to_string(),
                },
                automatic: e.acted_at.is_none(),
                reason: match (&e.reason, n) {
                    (Some(reason), _) => reason.clone(),
                    (None, 0) => "first scored".to_string(),
                    (None, _) => String::new(),
                },
            });
        }
        last = Some(e.stage);
    }
    rows.reverse();
    rows
}

/// A lead's result under the shadow pack, beside the live one.
pub struct ShadowLeadView {
    pack: String,
    score: Option<String>,
    mql: bool,
    route: Option<String>,
    error: Option<String>,
    /// The rules behind a different verdict or route (`shadow::compare`).
    rules: Vec<String>,
}

/// The shadow result `GET /v1/leads/{id}` shows (`None` without one), compared with the
/// live result.
fn shadow_of_lead(app: &App, record: &LeadRecord, live: Option<&Outcome>) -> Option<ShadowLeadView> {
    let view = shadow_view(app, record);
    if view.is_null() {
        return None;
    }
    let outcome: Option<Outcome> = serde_json::from_value(view["result"].clone()).ok();
    let rules = match (live, &outcome) {
        (Some(live), Some(candidate)) => shadow::compare(live, candidate).rules,
        _ => Vec::new(),
    };
    Some(ShadowLeadView {
        pack: text_of(&view["pack"]),
        score: outcome.as_ref().map(|o| number(o.score)),
        mql: outcome.as_ref().is_some_and(|o| o.mql),
        route: outcome.as_ref().and_then(|o| o.route()).map(str::to_string),
        error: view["error"]["message"].as_str().map(str::to_string),
        rules,
    })
}

fn lead_id(id: Result<Path<String>, PathRejection>, app: &App) -> Result<String, Failure> {
    let Path(id) = id.map_err(|e| Failure::new(400, format!("bad lead id in the path: {e}")))?;
    Ok(input::lead_id(&id, &app.settings.limits)?)
}

/// A lead: its fields, where it stands, its result explained, events, ledger and stages.
pub async fn lead(
    State(app): Shared,
    Extension(session): SessionOf,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, Failure> {
    let id = lead_id(id, &app)?;
    let read = app.store.read().await?;
    let record = read
        .lead(&id)
        .await?
        .ok_or_else(|| Failure::new(404, format!("no lead `{id}`")))?;
    let from = record.events.first.max(record.events.next.saturating_sub(EVENTS_SHOWN));
    let events = read.events(&id, from, EVENTS_SHOWN as usize).await?;
    let history_from = record.next_history.saturating_sub(LEDGER_SHOWN);
    let history = read.history(&id, history_from, LEDGER_SHOWN as usize).await?;
    let explanation = explain(&app, &read, &id, &record).await?;
    let live = stored_outcome(&record);
    let shadow = shadow_of_lead(&app, &record, live.as_ref());
    let result = live.map(|o| ResultView::of(&o, explanation));
    let stage = record.standing.stage;
    let c = Chrome::of("lead", &session);
    let page = LeadPage {
        can_decide: c.sales && matches!(stage, Stage::Mql | Stage::Lead | Stage::Recycled),
        can_close: c.sales && stage == Stage::Accepted,
        c,
        fields: record.fields.iter().map(|(k, v)| (k.clone(), text_of(v))).collect(),
        stage: stage.name().to_string(),
        route: record.standing.route.clone(),
        sla_due: record.standing.sla_due.map(rfc3339),
        sla_due_ms: record.standing.sla_due,
        breached: record.standing.sla_breached,
        result,
        error: record.error.as_ref().map(|e| e.message.clone()),
        shadow,
        events: events.iter().rev().map(|(seq, e)| event_row(*seq, e)).collect(),
        older_events: from - record.events.first,
        ledger: ledger_chart(&history),
        stages: stage_rows(&history),
        now_ms: now_millis(),
        id,
    };
    Ok(render(&page))
}

#[derive(Deserialize)]
pub struct StageForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    stage: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    back: String,
}

/// Accept, reject (with a reason), recycle, won or lost, as `POST /v1/leads/{id}/stage`
/// does, by the session's token; then back to the page the form was on.
pub async fn stage(
    State(app): Shared,
    Extension(session): SessionOf,
    id: Result<Path<String>, PathRejection>,
    Form(form): Form<StageForm>,
) -> Result<Response, Failure> {
    allowed(&session, &form.csrf, Scope::Sales)?;
    let id = lead_id(id, &app)?;
    let to = Stage::requestable(&form.stage).ok_or_else(|| Failure::new(400, "no such stage"))?;
    let reason = Some(form.reason.trim().to_string()).filter(|r| !r.is_empty());
    if matches!(to, Stage::Rejected | Stage::Lost) && reason.is_none() {
        return Err(Failure::new(400, format!("a lead marked {to} needs a reason")));
    }
    let ask = Ask {
        to,
        reason,
        acted: Acted {
            at: now_millis(),
            by: session.who.clone(),
        },
    };
    let mut reply = app.committer.write(vec![(id.clone(), Op::Stage(ask))]).await?;
    if let Some(Err(e)) = reply.items.pop() {
        return Err(e.into());
    }
    let back = if form.back == "lead" {
        format!("/ui/leads/{}", path_segment(&id))
    } else {
        "/ui/".to_string()
    };
    Ok(Redirect::to(&back).into_response())
}

/// An id as one path segment.
fn path_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(char::from(b)),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

// ---------------------------------------------------------------- try a lead

#[derive(Template)]
#[template(path = "console/try.html")]
struct TryPage {
    c: Chrome,
    lead: String,
    result: Option<ResultView>,
    error: Option<String>,
}

const EXAMPLE: &str = "{\n  \"title\": \"VP Marketing\",\n  \"events\": [\n    {\"type\": \"page_view\", \"path\": \"/pricing\", \"at\": \"2026-01-01T00:00:00Z\"}\n  ]\n}";

/// The form to try a lead.
pub async fn try_form(Extension(session): SessionOf) -> Response {
    render(&TryPage {
        c: Chrome::of("try", &session),
        lead: EXAMPLE.to_string(),
        result: None,
        error: None,
    })
}

#[derive(Deserialize)]
pub struct TryForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lead: String,
}

/// Scores the lead given with the live pack as of now, as `POST /v1/score` does;
/// nothing is stored.
pub async fn try_lead(
    State(app): Shared,
    Extension(session): SessionOf,
    Form(form): Form<TryForm>,
) -> Result<Response, Failure> {
    allowed(&session, &form.csrf, Scope::Read)?;
    let pack = leadscore::Pack::clone(&app.live.current());
    let text = form.lead.clone();
    let scored = tokio::task::spawn_blocking(move || {
        if !text.trim_start().starts_with('{') {
            return Err("the lead must be a JSON object: { \"field\": value, ... }".to_string());
        }
        let now = chrono::Utc::now();
        let outcome = pack.score_json(&text, now).map_err(|e| e.to_string())?;
        let explanation = pack.explain(&outcome).to_string();
        Ok(ResultView::of(&outcome, explanation))
    })
    .await
    .map_err(|e| Failure::unavailable(format!("the lead could not be scored: {e}")))?;
    let (result, error) = match scored {
        Ok(view) => (Some(view), None),
        Err(e) => (None, Some(e)),
    };
    Ok(render(&TryPage {
        c: Chrome::of("try", &session),
        lead: form.lead,
        result,
        error,
    }))
}

// ---------------------------------------------------------------- the pack

/// A rule of the live pack, with how often it fired in the two windows.
pub struct RuleRow {
    name: String,
    location: String,
    actions: String,
    day: Share,
    week: Share,
}

/// In how many of a window's results a rule fired, and that as a share of them.
pub struct Share {
    fired: u64,
    percent: String,
}

impl Share {
    fn of(fired: u64, results: u64) -> Share {
        let percent = if results == 0 {
            "–".to_string()
        } else {
            format!("{}%", number((fired as f64 * 1000.0 / results as f64).round() / 10.0))
        };
        Share { fired, percent }
    }
}

/// A window of the rule counts: the hours from `from` (RFC 3339) to now.
pub struct Window {
    from: String,
    results: u64,
}

/// The results computed in the `hours` whole hours up to `to` (the current hour so far
/// the last of them) and how often each rule fired in them, from the counts every
/// instance stores per hour.
async fn rule_window(read: &Reader, to: Millis, hours: i64) -> Result<(Window, RuleFires), Failure> {
    let from = to - hours * HOUR_MS;
    let fires = read.rule_fires(from, to).await?;
    let window = Window {
        from: rfc3339(from),
        results: fires.results,
    };
    Ok((window, fires))
}

/// The last rejected edit.
pub struct RejectionView {
    at: String,
    count: usize,
    rendered: String,
}

#[derive(Template)]
#[template(path = "console/pack.html")]
struct PackPage {
    c: Chrome,
    name: String,
    version: String,
    loaded_at: String,
    routes: Vec<String>,
    rules: Vec<RuleRow>,
    day: Window,
    week: Window,
    rejection: Option<RejectionView>,
    removed: Option<live_pack::Removed>,
    notice: Option<String>,
    shadow: ShadowPackView,
}

/// A rule behind the shadow pack's differences.
pub struct ShadowRuleRow {
    rule: String,
    leads: String,
    mql_live_only: String,
    mql_shadow_only: String,
    route_changed: String,
}

/// The shadow comparison on the pack page.
pub enum ShadowPackView {
    /// The service runs without `--shadow`.
    Off,
    /// The shadow pack's folder does not load.
    NotLoaded { dir: String, error: String },
    /// The report of `GET /v1/shadow`, its values as text.
    Report {
        pack: String,
        loaded_at: String,
        counts: Vec<(String, String)>,
        rules: Vec<ShadowRuleRow>,
    },
}

/// The shadow comparison: what `GET /v1/shadow` reports, from the same tally and
/// `shadow::report`.
async fn shadow_pack_view(app: &App) -> Result<ShadowPackView, Failure> {
    let Some(running) = &app.shadow else {
        return Ok(ShadowPackView::Off);
    };
    let Some(pack) = running.current() else {
        return Ok(ShadowPackView::NotLoaded {
            dir: running.dir().display().to_string(),
            error: running.error().unwrap_or_default(),
        });
    };
    let tally = app.store.read().await?.shadow_tally(&pack.id().to_string()).await?;
    let report = shadow::report(&tally, running.loaded_at());
    let field = |v: &Value, k: &str| match v.get(k) {
        None | Some(Value::Null) => "none".to_string(),
        Some(value) => text_of(value),
    };
    let counts = [
        ("Leads scored by both", "leads"),
        ("MQL for both", "mql_both"),
        ("MQL for the live pack only", "mql_live_only"),
        ("MQL for the shadow pack only", "mql_shadow_only"),
        ("MQL for both, route changed", "route_changed"),
        ("Mean score change (shadow − live)", "mean_score_change"),
    ]
    .into_iter()
    .map(|(label, key)| (label.to_string(), field(&report, key)))
    .collect();
    let rules = report["rules"]
        .as_array()
        .map(|rules| {
            rules
                .iter()
                .map(|r| ShadowRuleRow {
                    rule: field(r, "rule"),
                    leads: field(r, "leads"),
                    mql_live_only: field(r, "mql_live_only"),
                    mql_shadow_only: field(r, "mql_shadow_only"),
                    route_changed: field(r, "route_changed"),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(ShadowPackView::Report {
        pack: field(&report, "pack"),
        loaded_at: field(&report, "loaded_at"),
        counts,
        rules,
    })
}

async fn pack_page(app: &App, session: &Session, notice: Option<String>) -> Result<PackPage, Failure> {
    let shadow = shadow_pack_view(app).await?;
    let read = app.store.read().await?;
    let to = hour_of(now_millis()) + HOUR_MS;
    let (day, day_fires) = rule_window(&read, to, 24).await?;
    let (week, week_fires) = rule_window(&read, to, 7 * 24).await?;
    drop(read);
    let pack = app.live.current();
    let program = pack.program();
    let share = |fires: &RuleFires, rule: &str| Share::of(fires.rules.get(rule).copied().unwrap_or(0), fires.results);
    Ok(PackPage {
        c: Chrome::of("pack", session),
        name: pack.id().name.to_string(),
        version: pack.id().version.to_string(),
        loaded_at: rfc3339(app.pack_status.loaded_at()),
        routes: program.route_names().into_iter().map(str::to_string).collect(),
        rules: program
            .rules()
            .into_iter()
            .map(|r| RuleRow {
                day: share(&day_fires, &r.name),
                week: share(&week_fires, &r.name),
                name: r.name,
                location: r.location,
                actions: r.actions,
            })
            .collect(),
        day,
        week,
        rejection: app.pack_status.rejection().map(|(at, r)| RejectionView {
            at: rfc3339(at),
            count: r.errors.len(),
            rendered: r.rendered,
        }),
        removed: app.pack_status.removed(),
        notice,
        shadow,
    })
}

/// The live pack: its rules and how often each fired, the last rejected edit, the shadow
/// comparison.
pub async fn pack(State(app): Shared, Extension(session): SessionOf) -> Result<Response, Failure> {
    Ok(render(&pack_page(&app, &session, None).await?))
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// Loads the published pack, as `POST /v1/pack/reload` does (admin).
pub async fn reload(
    State(app): Shared,
    Extension(session): SessionOf,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, Failure> {
    allowed(&session, &form.csrf, Scope::Admin)?;
    let event = live_pack::reload(&app.live)
        .await
        .map_err(|e| Failure::unavailable(format!("the pack was not reloaded: {e}")))?;
    let notice = match event {
        ReloadEvent::Reloaded { pack, previous } => format!("{} is live (was {previous}).", pack.id()),
        ReloadEvent::Unchanged { live } => format!("Nothing new was published; {live} stays live."),
        ReloadEvent::Rejected(r) => format!("The published pack does not check; {} stays live.", r.live),
        other => format!("The pack was not reloaded: {other:?}"),
    };
    Ok(render(&pack_page(&app, &session, Some(notice)).await?))
}

// ---------------------------------------------------------------- the funnel

/// One row of the funnel's tables: a group, or a period.
pub struct FigureRow {
    key: String,
    mqls: u64,
    accepted: u64,
    rejected: u64,
    open: u64,
    acceptance: String,
    conversion: String,
    sla: String,
}

impl FigureRow {
    fn of(key: String, f: &funnel::Figures) -> FigureRow {
        FigureRow {
            key,
            mqls: f.mqls,
            accepted: f.accepted,
            rejected: f.rejected,
            open: f.open,
            acceptance: percent(f.acceptance_rate),
            conversion: percent(f.conversion_rate),
            sla: percent(f.sla_met_rate),
        }
    }
}

/// A rule's hand-offs and what sales did with them.
pub struct RuleFigureRow {
    rule: String,
    mqls: u64,
    accepted: u64,
    rejected: u64,
    acceptance: String,
}

/// The funnel report as the page shows it.
pub struct FunnelView {
    from: String,
    to: String,
    cards: Vec<(String, String)>,
    chart: String,
    series: Vec<FigureRow>,
    groups: Vec<FigureRow>,
    reasons: Vec<(String, u64)>,
    rules: Vec<RuleFigureRow>,
    targets: Vec<TargetRow>,
}

/// One of the pack's targets as judged now (issue 27.3).
pub struct TargetRow {
    name: String,
    /// `met`, `missed` or `insufficient`: the text shown, and the class.
    status: &'static str,
    /// `acceptance >= 70% over 30d`.
    goal: String,
    actual: String,
    sample: u64,
}

impl TargetRow {
    fn of(e: &crate::model::Evaluation) -> TargetRow {
        TargetRow {
            name: e.name.clone(),
            status: e.status.name(),
            goal: format!("{} {} {} over {}", e.measure, e.op, percent(Some(e.value)), e.window),
            actual: percent(e.actual),
            sample: e.sample,
        }
    }
}

#[derive(Template)]
#[template(path = "console/funnel.html")]
struct FunnelPage {
    c: Chrome,
    from: String,
    to: String,
    by: String,
    every: String,
    error: Option<String>,
    report: Option<FunnelView>,
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(
        || "–".to_string(),
        |r| format!("{}%", number((r * 1000.0).round() / 10.0)),
    )
}

fn minutes(m: Option<f64>) -> String {
    m.map_or_else(|| "–".to_string(), |m| format!("{} min", number(m.round())))
}

/// MQLs, accepted and rejected per period, as lines.
fn series_chart(series: &[funnel::Period]) -> String {
    if series.len() < 2 {
        return String::new();
    }
    let x = |p: &funnel::Period| crate::model::leadscore_time(&p.from).unwrap_or_default() as f64;
    type Pick = fn(&funnel::Figures) -> u64;
    let lines_of: [(&str, &'static str, Pick); 3] = [
        ("MQLs", "#0969da", |f| f.mqls),
        ("accepted", "#1a7f37", |f| f.accepted),
        ("rejected", "#cf222e", |f| f.rejected),
    ];
    let all: Vec<Series> = lines_of
        .into_iter()
        .map(|(name, colour, pick)| Series {
            name: name.to_string(),
            colour,
            points: series.iter().map(|p| (x(p), pick(&p.figures) as f64)).collect(),
        })
        .collect();
    lines(
        "MQLs, accepted and rejected per period (the table below has the numbers)",
        &all,
        |x| {
            chrono::DateTime::from_timestamp_millis(x as i64)
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        },
    )
}

fn funnel_view(r: &funnel::Report) -> FunnelView {
    let f = &r.figures;
    let cards = vec![
        ("MQLs".to_string(), f.mqls.to_string()),
        ("Accepted".to_string(), f.accepted.to_string()),
        ("Rejected".to_string(), f.rejected.to_string()),
        ("Recycled".to_string(), f.recycled.to_string()),
        ("Won".to_string(), f.won.to_string()),
        ("Lost".to_string(), f.lost.to_string()),
        ("Open".to_string(), f.open.to_string()),
        ("SLA breached".to_string(), f.sla_breached.to_string()),
        ("Acceptance".to_string(), percent(f.acceptance_rate)),
        ("Conversion".to_string(), percent(f.conversion_rate)),
        ("SLA met".to_string(), percent(f.sla_met_rate)),
        (
            "First action, median".to_string(),
            minutes(f.minutes_to_first_action.median),
        ),
        ("First action, p90".to_string(), minutes(f.minutes_to_first_action.p90)),
    ];
    let series = r.series.as_deref().unwrap_or_default();
    FunnelView {
        from: r.from.clone(),
        to: r.to.clone(),
        cards,
        chart: series_chart(series),
        series: series
            .iter()
            .map(|p| FigureRow::of(p.from.chars().take(10).collect(), &p.figures))
            .collect(),
        groups: r
            .groups
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|g| FigureRow::of(text_of(&g.key), &g.figures))
            .collect(),
        reasons: f.rejection_reasons.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        rules: f
            .rules
            .iter()
            .map(|r| RuleFigureRow {
                rule: r.rule.clone(),
                mqls: r.mqls,
                accepted: r.accepted,
                rejected: r.rejected,
                acceptance: percent(r.acceptance_rate),
            })
            .collect(),
        targets: r.targets.iter().map(TargetRow::of).collect(),
    }
}

/// The funnel of a period, by route or a field, over time: `GET /v1/funnel` as a page.
pub async fn funnel_page(
    State(app): Shared,
    Extension(session): SessionOf,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, Failure> {
    let asked: HashMap<String, String> = params
        .iter()
        .filter(|(k, v)| matches!(k.as_str(), "from" | "to" | "by" | "every") && !v.trim().is_empty())
        .map(|(k, v)| (k.clone(), v.trim().to_string()))
        .collect();
    let field = |k: &str| asked.get(k).cloned().unwrap_or_default();
    let mut page = FunnelPage {
        c: Chrome::of("funnel", &session),
        from: field("from"),
        to: field("to"),
        by: field("by"),
        every: field("every"),
        error: None,
        report: None,
    };
    match funnel::Query::from_params(&asked, now_millis()) {
        Err(e) => page.error = Some(e.message),
        Ok(query) => {
            let read = app.store.read().await?;
            let pack = app.live.current();
            let targets = pack.program().targets();
            let min_sample = app.settings.target_min_sample;
            match crate::targets::read_report_with_targets(&read, &query, targets, min_sample).await {
                Ok(report) => page.report = Some(funnel_view(&report)),
                Err(e) if e.status == 400 => page.error = Some(e.message),
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(render(&page))
}
