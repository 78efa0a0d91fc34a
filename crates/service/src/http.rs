//! The HTTP API. Each handler parses its request, calls one function of the core (the
//! writer, a read of the store, the pack), and renders JSON. Errors are
//! `{"error": MESSAGE, "kind": KIND}` with a 4xx or 5xx status.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::apply::{lead_text, Applied, LeadView};
use super::commit::{now_millis, Committer, Reply};
use super::config::Settings;
use super::error::ApiError;
use super::input::{self, rfc3339, Op};
use super::lifecycle::Stage;
use super::metrics::Metrics;
use super::model::LeadRecord;
use super::store::Store;
use leadscore::reload::Rejection;
use leadscore::{LivePack, Outcome};

/// Most events or history entries or transitions in one page.
const MAX_PAGE: usize = 1_000;
/// The page size when none is asked for.
const DEFAULT_PAGE: usize = 100;

/// The pack's reload history, for `GET /v1/pack`.
#[derive(Default)]
pub struct PackStatus {
    /// When the live version was loaded (ms).
    pub loaded_at: Mutex<i64>,
    /// The last rejected edit and when (ms).
    pub rejection: Mutex<Option<(i64, Rejection)>>,
}

/// What every handler can reach.
pub struct App {
    /// The database, for reads.
    pub store: Arc<Store>,
    /// The live pack.
    pub live: Arc<LivePack>,
    /// The writer.
    pub committer: Committer,
    /// The settings.
    pub settings: Arc<Settings>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Reloads and rejections.
    pub pack_status: Arc<PackStatus>,
}

type Shared = State<Arc<App>>;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(json!({"error": self.message, "kind": self.kind}))).into_response()
    }
}

/// The API's routes, with authentication, metrics and the body limit.
pub fn router(app: Arc<App>) -> Router {
    let limit = app.settings.limits.body_bytes;
    Router::new()
        .route("/v1/leads/{id}", get(get_lead).put(put_lead).patch(patch_lead))
        .route("/v1/leads/{id}/events", post(post_events))
        .route("/v1/leads/{id}/history", get(get_history))
        .route("/v1/leads/{id}/stage", post(post_stage))
        .route("/v1/ingest", post(ingest))
        .route("/v1/score", post(score))
        .route("/v1/transitions", get(transitions))
        .route("/v1/pack", get(pack))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(Arc::clone(&app), authenticate))
        .route("/health", get(health))
        .layer(middleware::from_fn_with_state(Arc::clone(&app), observe))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(app)
}

async fn observe(State(app): Shared, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let method = request.method().to_string();
    let response = next.run(request).await;
    app.metrics
        .request(&route, &method, response.status().as_u16(), started.elapsed());
    response
}

async fn authenticate(State(app): Shared, headers: HeaderMap, request: Request, next: Next) -> Response {
    let tokens = &app.settings.tokens;
    if tokens.is_empty() {
        return next.run(request).await;
    }
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(token) if tokens.iter().any(|t| same(t.as_bytes(), token.trim().as_bytes())) => next.run(request).await,
        _ => ApiError::unauthorized().into_response(),
    }
}

/// Compares in time that depends on the lengths only.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint (see the API table in the README)")
}

async fn health(State(app): Shared) -> Json<Value> {
    Json(json!({"status": "ok", "pack": app.live.current().id().to_string()}))
}

async fn metrics(State(app): Shared) -> Response {
    let body = app.metrics.render();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
        .into_response()
}

fn body(b: Result<Bytes, BytesRejection>, app: &App) -> Result<Bytes, ApiError> {
    b.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(format!(
            "the body is larger than {} bytes (--max-body-bytes)",
            app.settings.limits.body_bytes
        )),
        _ => ApiError::bad_request(format!("cannot read the body: {e}")),
    })
}

fn lead_path(p: Result<Path<String>, PathRejection>, app: &App) -> Result<String, ApiError> {
    let Path(id) = p.map_err(|e| ApiError::bad_request(format!("bad lead id in the path: {e}")))?;
    input::lead_id(&id, &app.settings.limits)?;
    Ok(id)
}

type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

fn params(q: Params) -> Result<HashMap<String, String>, ApiError> {
    q.map(|Query(m)| m)
        .map_err(|e| ApiError::bad_request(format!("bad query string: {e}")))
}

fn number(params: &HashMap<String, String>, name: &str, default: u64) -> Result<u64, ApiError> {
    match params.get(name) {
        None => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|_| ApiError::bad_request(format!("`{name}` must be a whole number, not {text:?}"))),
    }
}

fn page(params: &HashMap<String, String>, name: &str) -> Result<usize, ApiError> {
    let n = number(params, name, DEFAULT_PAGE as u64)?;
    Ok(usize::try_from(n).unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE))
}

/// One write to one lead, answered with the lead after the commit.
async fn write_one(app: &App, lead: String, op: Op) -> Result<Json<Value>, ApiError> {
    let mut reply = app.committer.write(vec![(lead.clone(), op)]).await?;
    let applied = reply.items.pop().unwrap_or_else(|| Ok(Applied::default()))?;
    let view = reply
        .leads
        .get(&lead)
        .ok_or_else(|| ApiError::unavailable("the write was not answered"))?;
    Ok(Json(write_response(&lead, view, &applied)))
}

fn write_response(lead: &str, view: &LeadView, applied: &Applied) -> Value {
    let mut out = lead_summary(lead, view);
    out["new_events"] = json!(applied.new_events);
    out["duplicate_events"] = json!(applied.duplicates);
    out
}

fn lead_summary(lead: &str, view: &LeadView) -> Value {
    json!({
        "lead": lead,
        "stage": view.standing.stage,
        "result": view.result,
        "error": view.error,
        "as_of": rfc3339(view.as_of),
        "sla_due": view.standing.sla_due.map(rfc3339),
        "transitions": view.transitions,
    })
}

async fn put_lead(
    State(app): Shared,
    id: Result<Path<String>, PathRejection>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let lead = lead_path(id, &app)?;
    let fields = input::fields(input::json(&body(b, &app)?)?, &app.settings.limits)?;
    write_one(&app, lead, Op::Put(fields)).await
}

async fn patch_lead(
    State(app): Shared,
    id: Result<Path<String>, PathRejection>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let lead = lead_path(id, &app)?;
    let patch = input::fields(input::json(&body(b, &app)?)?, &app.settings.limits)?;
    write_one(&app, lead, Op::Patch(patch)).await
}

async fn post_events(
    State(app): Shared,
    id: Result<Path<String>, PathRejection>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let lead = lead_path(id, &app)?;
    let events = input::events(input::json(&body(b, &app)?)?, now_millis(), &app.settings.limits)?;
    write_one(&app, lead, Op::Events(events)).await
}

async fn post_stage(
    State(app): Shared,
    id: Result<Path<String>, PathRejection>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let lead = lead_path(id, &app)?;
    let value = input::json(&body(b, &app)?)?;
    let stage = value.get("stage").and_then(Value::as_str).unwrap_or_default();
    let to = Stage::requestable(stage).ok_or_else(|| {
        ApiError::bad_request(format!(
            "`stage` must be \"accepted\", \"rejected\" or \"recycled\"; got {}",
            value.get("stage").map_or("nothing".to_string(), Value::to_string)
        ))
    })?;
    let reason = match value.get("reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ApiError::bad_request("`reason` must be a string")),
    };
    write_one(&app, lead, Op::Stage { to, reason }).await
}

async fn ingest(State(app): Shared, b: Result<Bytes, BytesRejection>) -> Result<Json<Value>, ApiError> {
    let bytes = body(b, &app)?;
    let text = std::str::from_utf8(&bytes).map_err(|e| ApiError::bad_request(format!("the body is not UTF-8: {e}")))?;
    let limits = &app.settings.limits;
    let now = now_millis();
    let mut items = Vec::new();
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    let mut count = 0;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        count += 1;
        if count > limits.items_per_request {
            return Err(ApiError::too_large(format!(
                "at most {} lines per request (--max-items-per-request)",
                limits.items_per_request
            )));
        }
        match input::ingest_line(line, now, limits) {
            Ok(item) => {
                items.push(item);
                lines.push(i + 1);
            }
            Err(e) => errors.push(json!({"line": i + 1, "error": e.message, "kind": e.kind})),
        }
    }
    let reply = if items.is_empty() {
        Reply::default()
    } else {
        app.committer.write(items).await?
    };
    Ok(Json(ingest_response(count, &lines, reply, errors)))
}

fn ingest_response(count: usize, lines: &[usize], reply: Reply, mut errors: Vec<Value>) -> Value {
    let (mut new_events, mut duplicates, mut applied) = (0, 0, 0);
    for (line, outcome) in lines.iter().zip(&reply.items) {
        match outcome {
            Ok(a) => {
                applied += 1;
                new_events += a.new_events;
                duplicates += a.duplicates;
            }
            Err(e) => errors.push(json!({"line": line, "error": e.message, "kind": e.kind})),
        }
    }
    errors.sort_by_key(|e| e["line"].as_u64());
    let mut leads: Vec<(&String, &LeadView)> = reply.leads.iter().collect();
    leads.sort_by(|a, b| a.0.cmp(b.0));
    json!({
        "lines": count,
        "applied": applied,
        "new_events": new_events,
        "duplicate_events": duplicates,
        "errors": errors,
        "leads": leads.into_iter().map(|(id, view)| lead_summary(id, view)).collect::<Vec<_>>(),
    })
}

async fn score(State(app): Shared, q: Params, b: Result<Bytes, BytesRejection>) -> Result<Json<Value>, ApiError> {
    let params = params(q)?;
    let as_of = match params.get("as_of") {
        None => now_millis(),
        Some(t) => input::leadscore_time(t)
            .ok_or_else(|| ApiError::bad_request(format!("`as_of` {t:?} is not an RFC 3339 time")))?,
    };
    let bytes = body(b, &app)?;
    let text = std::str::from_utf8(&bytes).map_err(|e| ApiError::bad_request(format!("the body is not UTF-8: {e}")))?;
    if !matches!(input::json(&bytes)?, Value::Object(_)) {
        return Err(ApiError::bad_json("the body must be a lead: a JSON object"));
    }
    let pack = app.live.current();
    let when = chrono::DateTime::from_timestamp_millis(as_of).unwrap_or_default();
    match pack.score_json(text, when) {
        Ok(outcome) => Ok(Json(serde_json::to_value(&outcome).unwrap_or(Value::Null))),
        Err(e) => Err(ApiError {
            status: 422,
            kind: "score_error",
            message: e.to_string(),
        }),
    }
}

async fn get_lead(
    State(app): Shared,
    id: Result<Path<String>, PathRejection>,
    q: Params,
) -> Result<Json<Value>, ApiError> {
    let lead = lead_path(id, &app)?;
    let params = params(q)?;
    let limit = page(&params, "events_limit")?;
    let read = app.store.read()?;
    let record = read
        .lead(&lead)?
        .ok_or_else(|| ApiError::not_found(format!("no lead `{lead}`")))?;
    let from = match params.get("events_after") {
        Some(_) => number(&params, "events_after", 0)?
            .saturating_add(1)
            .max(record.events.first),
        None => record.events.first,
    };
    let events = read.events(&lead, from, limit)?;
    let next = events
        .last()
        .filter(|(seq, _)| seq + 1 < record.events.next)
        .map(|(seq, _)| *seq);
    let mut out = json!({
        "id": lead,
        "fields": record.fields,
        "events": {
            "items": events.iter().map(|(seq, e)| json!({"seq": seq, "event": e})).collect::<Vec<_>>(),
            "next": next,
            "kept": record.events.kept(),
            "dropped": record.events.dropped,
        },
        "result": record.result,
        "error": record.error,
        "as_of": rfc3339(record.as_of),
        "stage": record.standing.stage,
        "standing": {
            "since": rfc3339(record.standing.since),
            "route": record.standing.route,
            "sla_due": record.standing.sla_due.map(rfc3339),
            "sla_breached": record.standing.sla_breached,
        },
    });
    if params.get("explain").is_some_and(|v| v == "1" || v == "true") {
        out["explanation"] = json!(explain(&app, &read, &lead, &record)?);
    }
    Ok(Json(out))
}

/// The readable explanation of the stored result; if a newer pack is live, of the lead
/// scored again with it as of the same time.
fn explain(app: &App, read: &super::store::Reader, lead: &str, record: &LeadRecord) -> Result<String, ApiError> {
    let pack = app.live.current();
    let stored: Option<Outcome> = record.result.clone().and_then(|v| serde_json::from_value(v).ok());
    if let Some(outcome) = stored.filter(|o| o.pack == *pack.id()) {
        return Ok(pack.explain(&outcome).to_string());
    }
    let events = read.events(lead, record.events.first, usize::MAX)?;
    let raw: Vec<Vec<u8>> = events
        .iter()
        .map(|(_, e)| serde_json::to_vec(e).unwrap_or_default())
        .collect();
    let text = lead_text(lead, &record.fields, &raw);
    let when = chrono::DateTime::from_timestamp_millis(record.as_of).unwrap_or_default();
    match pack.score_json(&text, when) {
        Ok(outcome) => Ok(format!("(scored again with {})\n{}", pack.id(), pack.explain(&outcome))),
        Err(e) => Ok(format!("cannot be scored: {e}")),
    }
}

async fn get_history(
    State(app): Shared,
    id: Result<Path<String>, PathRejection>,
    q: Params,
) -> Result<Json<Value>, ApiError> {
    let lead = lead_path(id, &app)?;
    let params = params(q)?;
    let read = app.store.read()?;
    if read.lead(&lead)?.is_none() {
        return Err(ApiError::not_found(format!("no lead `{lead}`")));
    }
    let after = params.get("after").map(|_| number(&params, "after", 0)).transpose()?;
    let from = after.map_or(0, |a| a.saturating_add(1));
    let limit = page(&params, "limit")?;
    let entries = read.history(&lead, from, limit)?;
    let next = entries.last().map(|(n, _)| *n);
    let entries: Vec<Value> = entries
        .into_iter()
        .map(|(n, e)| {
            let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
            v["n"] = json!(n);
            v
        })
        .collect();
    Ok(Json(json!({"lead": lead, "history": entries, "next": next})))
}

async fn transitions(State(app): Shared, q: Params) -> Result<Json<Value>, ApiError> {
    let params = params(q)?;
    let after = number(&params, "after", 0)?;
    let limit = page(&params, "limit")?;
    let list = app.store.read()?.transitions(after.saturating_add(1).., limit)?;
    let next = list.last().map_or(after, |(seq, _)| *seq);
    let list: Vec<Value> = list
        .iter()
        .filter_map(|(_, bytes)| serde_json::from_slice(bytes).ok())
        .collect();
    Ok(Json(json!({"transitions": list, "next": next})))
}

async fn pack(State(app): Shared) -> Json<Value> {
    let pack = app.live.current();
    let loaded_at = *app.pack_status.loaded_at.lock().unwrap_or_else(|e| e.into_inner());
    let rejection = app
        .pack_status
        .rejection
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let program = pack.program();
    Json(json!({
        "name": &*pack.id().name,
        "version": &*pack.id().version,
        "loaded_at": rfc3339(loaded_at),
        "rules": program.rule_count(),
        "requalify_after": program.requalify_after().map(|d| leadscore::value::time::show_duration(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))),
        "last_rejection": rejection.map(|(at, r)| json!({
            "at": rfc3339(at),
            "errors": r.errors,
            "rendered": r.rendered,
        })),
    }))
}
