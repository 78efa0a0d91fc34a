//! The HTTP API. Each handler parses its request, calls one function of the core (the
//! writer, a read of the store, the pack), and renders JSON. Errors are
//! `{"error": MESSAGE, "kind": KIND}` with a 4xx or 5xx status.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Bytes, HttpBody};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde_json::{json, Value};

use super::apply::{lead_text, Applied, LeadView};
use super::commit::{Committer, Reply};
use super::config::{digest, Limits, Scope, Settings, Token};
use super::error::{ApiError, ApiErrorKind};
use super::export::Export;
use super::input::{self, rfc3339, Op};
use super::lifecycle::{Acted, Ask, Stage};
use super::metrics::Metrics;
use super::model::now_millis;
use super::model::LeadRecord;
use super::pack::{self as live_pack, PackStatus, Removed};
use super::shadow::{self, Shadow};
use super::storage::{Reader, Storage, StorageError};
use leadscore::reload::ReloadEvent;
use leadscore::{LivePack, Outcome, Pack};

/// Most events or history entries or transitions in one page.
const MAX_PAGE: usize = 1_000;
/// The page size when none is asked for.
const DEFAULT_PAGE: usize = 100;
/// Longest request target (path and query), in bytes: a longer one is a 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most bytes of request headers: more is a 431.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// What every handler can reach.
pub struct App {
    /// The database, for reads.
    pub store: Arc<Storage>,
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
    /// Bodies parsed (and leads scored for `/v1/score`) at once, on the blocking pool.
    pub parsers: Arc<tokio::sync::Semaphore>,
    /// The shadow pack (`--shadow`), when there is one.
    pub shadow: Option<Arc<Shadow>>,
}

/// How many bodies are parsed at once: one per core.
pub fn parsers() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

pub(crate) type Shared = State<Arc<App>>;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let challenge = match (self.status, self.kind) {
            (401, _) => Some("Bearer".to_string()),
            (403, ApiErrorKind::Forbidden) => Some(format!(
                "Bearer error=\"insufficient_scope\", scope=\"{}\"",
                self.scope.unwrap_or("")
            )),
            _ => None,
        };
        let mut response = (status, Json(json!({"error": self.message, "kind": self.kind}))).into_response();
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// Who made a request: the name of the token it carried (`None` when the service runs
/// without tokens).
#[derive(Clone, Debug, Default)]
pub struct Caller {
    /// The token's name in the token file.
    pub name: Option<String>,
}

/// The API's routes, with authentication and metrics, and `more` routes of the API built
/// above this module (the webhook operations) under the same; `pages` are served beside
/// them (with metrics, without bearer tokens: the console, which has its own sessions).
pub fn router(app: Arc<App>, more: Router<Arc<App>>, pages: Router<Arc<App>>) -> Router {
    Router::new()
        .route(
            "/v1/leads/{id}",
            get(get_lead).put(put_lead).patch(patch_lead).delete(delete_lead),
        )
        .route("/v1/leads/{id}/events", post(post_events))
        .route("/v1/leads/{id}/history", get(get_history))
        .route("/v1/leads/{id}/stage", post(post_stage))
        .route("/v1/ingest", post(ingest))
        .route("/v1/score", post(score))
        .route("/v1/transitions", get(transitions))
        .route("/v1/pack", get(pack))
        .route("/v1/pack/reload", post(reload))
        .route("/metrics", get(metrics))
        .route("/v1/backup", get(backup))
        .merge(more)
        .route("/v1/export", get(export))
        .route("/v1/shadow", get(shadow_report))
        .route("/v1/shadow/reload", post(shadow_reload))
        .route("/v1/funnel", get(funnel))
        .route("/v1/alerts", get(alerts))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(Arc::clone(&app), authenticate))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .merge(pages)
        .layer(middleware::from_fn_with_state(Arc::clone(&app), observe))
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
    let response = match oversized(&request) {
        Some(refusal) => refusal.into_response(),
        None => next.run(request).await,
    };
    let response = end_with_newline(response).await;
    app.metrics
        .request(&route, &method, response.status().as_u16(), started.elapsed());
    response
}

/// A 414 or 431 for a request target or headers past their bounds.
fn oversized(request: &Request) -> Option<ApiError> {
    let target = request.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target > MAX_URI_BYTES {
        return Some(ApiError::status(
            414,
            ApiErrorKind::UriTooLong,
            format!("the request target is longer than {MAX_URI_BYTES} bytes"),
        ));
    }
    let headers: usize = request
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    (headers > MAX_HEADER_BYTES).then(|| {
        ApiError::status(
            431,
            ApiErrorKind::HeadersTooLarge,
            format!("the request headers are larger than {MAX_HEADER_BYTES} bytes"),
        )
    })
}

/// A JSON answer ends with a newline, so a terminal shows the next prompt on a line of its own.
async fn end_with_newline(response: Response) -> Response {
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    if !json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Our own JSON, already in memory.
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::unavailable("the answer could not be written").into_response();
    };
    let mut text = bytes.to_vec();
    if text.last() != Some(&b'\n') {
        text.push(b'\n');
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(text))
}

/// The scope an endpoint needs: reading is `read` (scoring a lead without storing it
/// too), stage changes `sales`, publishing the pack, erasing a lead and the webhooks'
/// state and actions `admin`, other
/// writes `write` (an event source may add to a lead, not make it disappear).
pub fn scope_of(method: &Method, route: &str) -> Scope {
    match (method.as_str(), route) {
        (_, webhooks) if webhooks.starts_with("/v1/webhooks") => Scope::Admin,
        ("POST", "/v1/pack/reload" | "/v1/shadow/reload")
        | ("DELETE", "/v1/leads/{id}")
        | ("GET" | "HEAD", "/v1/backup") => Scope::Admin,
        ("POST", "/v1/leads/{id}/stage") => Scope::Sales,
        ("POST", "/v1/score") | ("GET" | "HEAD", _) => Scope::Read,
        _ => Scope::Write,
    }
}

async fn authenticate(State(app): Shared, mut request: Request, next: Next) -> Response {
    let tokens = &app.settings.tokens;
    if tokens.is_empty() {
        request.extensions_mut().insert(Caller::default());
        return next.run(request).await;
    }
    let route = request.extensions().get::<MatchedPath>().map_or("", |p| p.as_str());
    let needed = scope_of(request.method(), route);
    let Some(token) = bearer(request.headers()).and_then(|given| find(tokens, given)) else {
        return ApiError::unauthorized().into_response();
    };
    if !token.scopes.contains(&needed) {
        return ApiError::forbidden(needed.name(), &token.name).into_response();
    }
    request.extensions_mut().insert(Caller {
        name: Some(token.name.clone()),
    });
    next.run(request).await
}

/// The token of an `Authorization: Bearer TOKEN` header (the scheme in any case).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The configured token `given` is, compared with every one in constant time (digests
/// of equal length: neither the token's length nor which token matched shows in the time).
pub(crate) fn find<'t>(tokens: &'t [Token], given: &str) -> Option<&'t Token> {
    use subtle::{ConditionallySelectable, ConstantTimeEq};
    let given = digest(given);
    let mut found = 0u32;
    for (i, token) in tokens.iter().enumerate() {
        let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
        found.conditional_assign(&n, token.digest.ct_eq(&given));
    }
    let index = usize::try_from(found).ok()?.checked_sub(1)?;
    tokens.get(index)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint (see the API table in the manual)")
}

/// 200 while writes can be stored, 503 while they cannot (see `Committer::ready`).
async fn ready(State(app): Shared) -> Response {
    if app.committer.ready().await {
        Json(json!({"status": "ready"})).into_response()
    } else {
        ApiError::unavailable("writes cannot be stored now (see the log); retrying").into_response()
    }
}

async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::status(
        405,
        ApiErrorKind::MethodNotAllowed,
        format!("{} does not take {method}", uri.path()),
    )
}

/// Only that the process is up: what it serves is behind a token on `/v1/pack`.
async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// OpenMetrics when the client asks for it (`Accept: application/openmetrics-text`, as
/// Prometheus does), the Prometheus text format 0.0.4 otherwise.
async fn metrics(State(app): Shared, headers: HeaderMap) -> Response {
    refresh_funnel_metrics(&app).await;
    let open = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let (content_type, body) = match open {
        true => (
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            app.metrics.render(),
        ),
        false => ("text/plain; version=0.0.4; charset=utf-8", app.metrics.render_text()),
    };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// A request body read whole, refused as soon as it passes `--max-body-bytes` and cut
/// off after `--body-timeout`.
struct Body(Bytes);

impl FromRequest<Arc<App>> for Body {
    type Rejection = ApiError;

    async fn from_request(request: Request, app: &Arc<App>) -> Result<Body, ApiError> {
        let limits = &app.settings.limits;
        let read = read_body(request.into_body(), limits.body_bytes);
        match tokio::time::timeout(limits.body_timeout, read).await {
            Ok(body) => body.map(Body),
            Err(_) => Err(ApiError::timeout(format!(
                "the body did not arrive within {}s (--body-timeout)",
                limits.body_timeout.as_secs()
            ))),
        }
    }
}

async fn read_body(mut body: axum::body::Body, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || ApiError::too_large(format!("the body is larger than {limit} bytes (--max-body-bytes)"));
    let expected = body.size_hint().exact().and_then(|n| usize::try_from(n).ok());
    if expected.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut buffer = Vec::with_capacity(expected.unwrap_or(0));
    while let Some(frame) = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|e| ApiError::bad_request(format!("cannot read the body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if buffer.len().saturating_add(data.len()) > limit {
                return Err(too_large());
            }
            buffer.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(buffer))
}

/// Bodies up to this many bytes are parsed on the async worker that read them (a few
/// microseconds of work): a hop to the blocking pool and back costs two thread wake-ups,
/// each waiting for a core on a busy machine, more than the parsing itself.
const PARSE_INLINE: usize = 16 << 10;

/// Parses a body with `parse`: a small one right here (see [`PARSE_INLINE`]), a bigger one
/// on the blocking pool (see [`off_workers`]).
async fn parse_body<T: Send + 'static>(
    app: &App,
    body: Bytes,
    parse: impl FnOnce(&[u8], &Limits) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    if body.len() <= PARSE_INLINE {
        return parse(&body, &app.settings.limits);
    }
    off_workers(app, body, parse).await
}

/// Runs `work` over a body on the blocking pool, at most [`parsers`] at once, so a big
/// body never holds up the async workers (and `/health`).
async fn off_workers<T: Send + 'static>(
    app: &App,
    body: Bytes,
    work: impl FnOnce(&[u8], &Limits) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let _permit = app
        .parsers
        .acquire()
        .await
        .map_err(|_| ApiError::unavailable("the service is shutting down"))?;
    let limits = app.settings.limits.clone();
    tokio::task::spawn_blocking(move || work(&body, &limits))
        .await
        .map_err(|e| ApiError::unavailable(format!("the request could not be read: {e}")))?
}

fn lead_path(p: Result<Path<String>, PathRejection>, app: &App) -> Result<String, ApiError> {
    let Path(id) = p.map_err(|e| ApiError::bad_request(format!("bad lead id in the path: {e}")))?;
    input::lead_id(&id, &app.settings.limits)
}

pub(crate) type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

pub(crate) fn params(q: Params) -> Result<HashMap<String, String>, ApiError> {
    q.map(|Query(m)| m)
        .map_err(|e| ApiError::bad_request(format!("bad query string: {e}")))
}

pub(crate) fn number(params: &HashMap<String, String>, name: &str, default: u64) -> Result<u64, ApiError> {
    match params.get(name) {
        None => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|_| ApiError::bad_request(format!("`{name}` must be a whole number, not {text:?}"))),
    }
}

pub(crate) fn page(params: &HashMap<String, String>, name: &str) -> Result<usize, ApiError> {
    let n = number(params, name, DEFAULT_PAGE as u64)?;
    Ok(usize::try_from(n).unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE))
}

/// One write to one lead, answered with the lead after the commit.
async fn write_one(app: &App, lead: String, op: Op) -> Result<Json<WriteAnswer>, ApiError> {
    let mut reply = app.committer.write(vec![(lead.clone(), op)]).await?;
    let applied = reply.items.pop().unwrap_or_else(|| Ok(Applied::default()))?;
    let view = reply
        .leads
        .remove(&lead)
        .ok_or_else(|| ApiError::unavailable("the write was not answered"))?;
    Ok(Json(WriteAnswer { lead, view, applied }))
}

async fn put_lead(
    State(app): Shared,
    id: Result<Path<String>, PathRejection>,
    Body(body): Body,
) -> Result<Json<WriteAnswer>, ApiError> {
    let lead = lead_path(id, &app)?;
    let fields = parse_body(&app, body, |b, limits| input::fields(input::json(b, limits)?, limits)).await?;
    write_one(&app, lead, Op::Put(fields)).await
}

async fn patch_lead(
    State(app): Shared,
    id: Result<Path<String>, PathRejection>,
    Body(body): Body,
) -> Result<Json<WriteAnswer>, ApiError> {
    let lead = lead_path(id, &app)?;
    let patch = parse_body(&app, body, |b, limits| input::fields(input::json(b, limits)?, limits)).await?;
    write_one(&app, lead, Op::Patch(patch)).await
}

/// Erases the lead (privacy requests): see `Batch::delete`.
async fn delete_lead(State(app): Shared, id: Result<Path<String>, PathRejection>) -> Result<Json<Value>, ApiError> {
    let lead = lead_path(id, &app)?;
    app.committer.delete(lead.clone()).await?;
    Ok(Json(json!({"lead": lead, "deleted": true})))
}

async fn post_events(
    State(app): Shared,
    id: Result<Path<String>, PathRejection>,
    Body(body): Body,
) -> Result<Json<WriteAnswer>, ApiError> {
    let lead = lead_path(id, &app)?;
    let now = now_millis();
    let events = parse_body(&app, body, move |b, limits| input::events_body(b, now, limits)).await?;
    write_one(&app, lead, Op::Events(events)).await
}

async fn post_stage(
    State(app): Shared,
    caller: Option<axum::Extension<Caller>>,
    id: Result<Path<String>, PathRejection>,
    Body(body): Body,
) -> Result<Json<WriteAnswer>, ApiError> {
    let acted = Acted {
        at: now_millis(),
        by: caller.and_then(|axum::Extension(c)| c.name),
    };
    let lead = lead_path(id, &app)?;
    let value = parse_body(&app, body, input::json).await?;
    let stage = value.get("stage").and_then(Value::as_str).unwrap_or_default();
    let to = Stage::requestable(stage).ok_or_else(|| {
        ApiError::bad_request(format!(
            "`stage` must be \"accepted\", \"rejected\", \"recycled\", \"won\" or \"lost\"; got {}",
            value.get("stage").map_or("nothing".to_string(), Value::to_string)
        ))
    })?;
    let reason = match value.get("reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(_) => return Err(ApiError::bad_request("`reason` must be a non-empty string")),
    };
    if to == Stage::Lost && reason.is_none() {
        return Err(ApiError::bad_request("a `lost` deal needs a `reason`"));
    }
    write_one(&app, lead, Op::Stage(Ask { to, reason, acted })).await
}

async fn ingest(State(app): Shared, q: Params, Body(body): Body) -> Result<Json<IngestAnswer>, ApiError> {
    let counts_only = ingest_answer(params(q)?)?;
    let now = now_millis();
    let (count, items, lines, errors) = parse_body(&app, body, move |b, limits| ingest_lines(b, now, limits)).await?;
    let reply = match (items.is_empty(), counts_only) {
        (true, _) => Reply::default(),
        (false, false) => app.committer.write(items).await?,
        (false, true) => app.committer.write_counts(items).await?,
    };
    let mut answer = ingest_response(count, &lines, reply, errors);
    if counts_only {
        answer.leads = None;
    }
    Ok(Json(answer))
}

/// The lines of an ingest body, each checked; the request is refused whole past
/// `--max-items-per-request` lines or `--max-json-values` values.
type Lines = (usize, Vec<(String, Op)>, Vec<usize>, Vec<Value>);

fn ingest_lines(bytes: &[u8], now: i64, limits: &Limits) -> Result<Lines, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ApiError::bad_request(format!("the body is not UTF-8: {e}")))?;
    let budget = input::Budget::new(limits);
    let (mut items, mut lines, mut errors) = (Vec::new(), Vec::new(), Vec::new());
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
        match input::ingest_line(line, now, limits, &budget) {
            Ok(item) => {
                items.push(item);
                lines.push(i + 1);
            }
            Err(e) if budget.spent() => return Err(e),
            Err(e) => errors.push(json!({"line": i + 1, "error": e.message, "kind": e.kind})),
        }
    }
    Ok((count, items, lines, errors))
}

fn ingest_response(count: usize, lines: &[usize], reply: Reply, mut errors: Vec<Value>) -> IngestAnswer {
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
    let mut leads: Vec<(String, LeadView)> = reply.leads.into_iter().collect();
    leads.sort_by(|a, b| a.0.cmp(&b.0));
    IngestAnswer {
        lines: count,
        applied,
        new_events,
        duplicates,
        errors,
        leads: Some(leads),
    }
}

async fn score(State(app): Shared, q: Params, Body(body): Body) -> Result<Json<Value>, ApiError> {
    let params = params(q)?;
    let as_of = match params.get("as_of") {
        None => now_millis(),
        Some(t) => crate::model::leadscore_time(t)
            .ok_or_else(|| ApiError::bad_request(format!("`as_of` {t:?} is not an RFC 3339 time")))?,
    };
    let pack = Pack::clone(&app.live.current());
    let outcome = off_workers(&app, body, move |bytes, _| {
        let text =
            std::str::from_utf8(bytes).map_err(|e| ApiError::bad_request(format!("the body is not UTF-8: {e}")))?;
        // The scorer reads the lead itself, building only what the pack uses.
        if !text.trim_start().starts_with('{') {
            return Err(ApiError::bad_json("the body must be a lead: a JSON object"));
        }
        let when = chrono::DateTime::from_timestamp_millis(as_of).unwrap_or_default();
        pack.score_json(text, when)
            .map_err(|e| ApiError::status(422, ApiErrorKind::ScoreError, e.to_string()))
    })
    .await?;
    Ok(Json(serde_json::to_value(&outcome).unwrap_or(Value::Null)))
}

async fn get_lead(
    State(app): Shared,
    id: Result<Path<String>, PathRejection>,
    q: Params,
) -> Result<Json<Value>, ApiError> {
    let lead = lead_path(id, &app)?;
    let params = params(q)?;
    let limit = page(&params, "events_limit")?;
    let read = app.store.read().await?;
    let record = read
        .lead(&lead)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no lead `{lead}`")))?;
    let from = match params.get("events_after") {
        Some(_) => number(&params, "events_after", 0)?
            .saturating_add(1)
            .max(record.events.first),
        None => record.events.first,
    };
    let events = read.events(&lead, from, limit).await?;
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
        "due": record.due.map(rfc3339),
        "stage": record.standing.stage,
        "standing": {
            "since": rfc3339(record.standing.since),
            "route": record.standing.route,
            "sla_due": record.standing.sla_due.map(rfc3339),
            "sla_breached": record.standing.sla_breached,
        },
        "shadow": shadow_view(&app, &record),
    });
    if params.get("explain").is_some_and(|v| v == "1" || v == "true") {
        out["explanation"] = json!(explain(&app, &read, &lead, &record).await?);
    }
    Ok(Json(out))
}

/// The readable explanation of the stored result; if a newer pack is live, of the lead
/// scored again with it as of the same time.
pub(crate) async fn explain(app: &App, read: &Reader, lead: &str, record: &LeadRecord) -> Result<String, ApiError> {
    let pack = app.live.current();
    let stored: Option<Outcome> = record.result.as_ref().and_then(crate::model::StoredResult::outcome);
    if let Some(outcome) = stored.filter(|o| o.pack() == pack.id()) {
        return Ok(pack.explain(&outcome).to_string());
    }
    let events = read.events(lead, record.events.first, usize::MAX).await?;
    let raw: Vec<String> = events
        .iter()
        .map(|(_, e)| serde_json::to_string(e).unwrap_or_default())
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
    let read = app.store.read().await?;
    if read.lead(&lead).await?.is_none() {
        return Err(ApiError::not_found(format!("no lead `{lead}`")));
    }
    let after = params.get("after").map(|_| number(&params, "after", 0)).transpose()?;
    let from = after.map_or(0, |a| a.saturating_add(1));
    let limit = page(&params, "limit")?;
    let entries = read.history(&lead, from, limit).await?;
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
    let list = app
        .store
        .read()
        .await?
        .transitions(after.saturating_add(1), limit)
        .await?;
    let next = list.last().map_or(after, |(seq, _)| *seq);
    let list: Vec<Value> = list
        .iter()
        .filter_map(|(_, bytes)| serde_json::from_slice(bytes).ok())
        .collect();
    Ok(Json(json!({"transitions": list, "next": next})))
}

async fn pack(State(app): Shared) -> Json<Value> {
    let pack = app.live.current();
    let program = pack.program();
    Json(json!({
        "name": &*pack.id().name,
        "version": &*pack.id().version,
        "loaded_at": rfc3339(app.pack_status.loaded_at()),
        "rules": program.rule_count(),
        "routes": program.route_names(),
        "requalify_after": program.requalify_after().map(|d| leadscore::value::time::show_duration(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))),
        "last_rejection": app.pack_status.rejection().map(|(at, r)| json!({
            "at": rfc3339(at),
            "errors": r.errors,
            "rendered": r.rendered,
        })),
        "last_removal": app.pack_status.removed(),
    }))
}

/// Loads the pack folder as it is now; the new version goes live if it checks.
async fn reload(State(app): Shared) -> Response {
    let event = match live_pack::reload(&app.live).await {
        Ok(event) => event,
        Err(e) => return ApiError::unavailable(format!("the pack was not reloaded: {e}")).into_response(),
    };
    match event {
        ReloadEvent::Reloaded { pack, previous } => {
            let removed = app.pack_status.removed().filter(|r| r.to == pack.id().to_string());
            Json(json!({
                "outcome": "reloaded",
                "version": pack.id().to_string(),
                "previous": previous.to_string(),
                "removed": removed.unwrap_or_else(|| Removed { from: previous.to_string(), to: pack.id().to_string(), ..Removed::default() }),
            }))
            .into_response()
        }
        ReloadEvent::Unchanged { live } => {
            Json(json!({"outcome": "unchanged", "version": live.to_string()})).into_response()
        }
        ReloadEvent::Rejected(r) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({
                "error": format!("the pack does not check; {} stays live", r.live),
                "kind": ApiErrorKind::PackRejected,
                "errors": r.errors,
                "rendered": r.rendered,
            })),
        )
            .into_response(),
        other => ApiError::unavailable(format!("the pack was not reloaded: {other:?}")).into_response(),
    }
}

// Storage and scale (issue 22): a cheaper answer for bulk writes.

/// `POST /v1/ingest?answer=`: `leads` (the default) lists every lead touched after the
/// commit; `counts` only what was applied and the errors (true).
fn ingest_answer(params: HashMap<String, String>) -> Result<bool, ApiError> {
    match params.get("answer").map(String::as_str) {
        None | Some("leads") => Ok(false),
        Some("counts") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "`answer` must be \"leads\" or \"counts\"; got {other:?}"
        ))),
    }
}

// Storage and scale (issue 22): online backups.

/// Bytes of a backup sent at once.
const BACKUP_CHUNK: usize = 256 << 10;

/// `GET /v1/backup` (`admin`): the whole database in the portable backup format (see
/// `storage/backup.rs`), from one consistent snapshot taken while writes go on, streamed
/// as it is read. A failure before the first line is a 503; one later cuts the answer
/// short, and a restore refuses a backup without its `end` line. `HEAD` answers with the
/// same headers once the storage can be read, without reading a backup.
async fn backup(State(app): Shared, method: Method) -> Response {
    if method == Method::HEAD {
        return match app.store.read().await {
            Ok(_) => backup_headers(axum::body::Body::empty().into_response()),
            Err(e) => ApiError::unavailable(format!("no backup: {e}")).into_response(),
        };
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let store = Arc::clone(&app.store);
    tokio::task::spawn_blocking(move || {
        let mut chunk = Vec::new();
        let mut first = true;
        let done = {
            let mut sink = |line: &[u8]| {
                chunk.extend_from_slice(line);
                if std::mem::take(&mut first) || chunk.len() >= BACKUP_CHUNK {
                    let gone = || {
                        super::storage::StorageError::new(
                            super::storage::StorageErrorKind::Unavailable,
                            "the client went away",
                        )
                    };
                    tx.blocking_send(Ok(std::mem::take(&mut chunk))).map_err(|_| gone())?;
                }
                Ok(())
            };
            store.backup(&mut sink)
        };
        let last = match done {
            Ok(_) => Ok(chunk),
            Err(e) => {
                eprintln!("leadscore serve: backup stopped: {e}");
                Err(std::io::Error::other(e.to_string()))
            }
        };
        let _ = tx.blocking_send(last);
    });
    let first = match rx.recv().await {
        Some(Ok(bytes)) => bytes,
        Some(Err(e)) => return ApiError::unavailable(format!("no backup: {e}")).into_response(),
        None => return ApiError::unavailable("no backup: it stopped").into_response(),
    };
    let rest = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let body = futures_util::stream::once(async move { Ok(first) }).chain(rest);
    backup_headers(axum::body::Body::from_stream(body).into_response())
}

/// A backup's content type and file name.
fn backup_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"leadscore-backup.jsonl\""),
    );
    response
}

/// The lead's result under the shadow pack now loaded: `{pack, result, error}`, or
/// `null` without a shadow pack (or before the lead was scored with this version).
pub(crate) fn shadow_view(app: &App, record: &LeadRecord) -> Value {
    let current = app.shadow.as_ref().and_then(|s| s.current());
    match (current, &record.shadow) {
        (Some(pack), Some(s)) if s.pack == pack.id().to_string() => json!({
            "pack": s.pack,
            "result": s.result,
            "error": s.error,
        }),
        _ => Value::Null,
    }
}

/// The shadow report: the live and the shadow pack compared over the leads scored with
/// this shadow version, from the tally kept on write.
async fn shadow_report(State(app): Shared) -> Result<Json<Value>, ApiError> {
    let shadow = app
        .shadow
        .as_ref()
        .ok_or_else(|| ApiError::not_found("the service runs without a shadow pack (serve --shadow PACK)"))?;
    let Some(pack) = shadow.current() else {
        return Err(ApiError::status(
            503,
            ApiErrorKind::ShadowNotLoaded,
            format!(
                "the shadow pack {} does not load:\n{}",
                shadow.dir().display(),
                shadow.error().unwrap_or_default()
            ),
        ));
    };
    let tally = app.store.read().await?.shadow_tally(&pack.id().to_string()).await?;
    let mut report = shadow::report(&tally, shadow.loaded_at());
    report["last_rejection"] = json!(shadow.error());
    Ok(Json(report))
}

/// Loads the shadow pack's folder as it is now: its first load, or a reload.
async fn shadow_reload(State(app): Shared) -> Response {
    let Some(shadow) = &app.shadow else {
        return ApiError::not_found("the service runs without a shadow pack (serve --shadow PACK)").into_response();
    };
    match shadow.reload().await {
        shadow::Reload::Loaded(version) => Json(json!({"outcome": "loaded", "version": version})).into_response(),
        shadow::Reload::Event(ReloadEvent::Reloaded { pack, previous }) => Json(json!({
            "outcome": "reloaded",
            "version": pack.id().to_string(),
            "previous": previous.to_string(),
        }))
        .into_response(),
        shadow::Reload::Event(ReloadEvent::Unchanged { live }) => {
            Json(json!({"outcome": "unchanged", "version": live.to_string()})).into_response()
        }
        shadow::Reload::Event(ReloadEvent::Rejected(r)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({
                "error": format!("the shadow pack does not check; {} stays the shadow", r.live),
                "kind": ApiErrorKind::PackRejected,
                "errors": r.errors,
                "rendered": r.rendered,
            })),
        )
            .into_response(),
        shadow::Reload::Failed(message) => ApiError::status(
            503,
            ApiErrorKind::ShadowNotLoaded,
            format!("the shadow pack was not loaded: {message}"),
        )
        .into_response(),
        shadow::Reload::Event(other) => {
            ApiError::unavailable(format!("the shadow pack was not reloaded: {other:?}")).into_response()
        }
    }
}

/// Every lead (or those changed at or after `since`) as JSON Lines with what sales did,
/// streamed a page at a time (see `export.rs`).
async fn export(State(app): Shared, q: Params) -> Result<Response, ApiError> {
    let params = params(q)?;
    let since = match params.get("since") {
        None => None,
        Some(t) => Some(
            crate::model::leadscore_time(t)
                .ok_or_else(|| ApiError::bad_request(format!("`since` {t:?} is not an RFC 3339 time")))?,
        ),
    };
    // The first page is read before answering, so a storage that cannot be read is an
    // error status, not a cut-off body.
    let first = Export::new(Arc::clone(&app.store), since).next_page().await?;
    let pages = futures_util::stream::try_unfold(first, |page| async move {
        let Some((bytes, rest)) = page else {
            return Ok::<_, StorageError>(None);
        };
        let next = rest.next_page().await?;
        Ok(Some((bytes, next)))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        axum::body::Body::from_stream(pages),
    )
        .into_response())
}
/// The funnel over the hand-offs of `[from, to)`: see `funnel.rs` and the manual's
/// funnel chapter.
async fn funnel(State(app): Shared, q: Params) -> Result<Json<super::funnel::Report>, ApiError> {
    let query = super::funnel::Query::from_params(&params(q)?, now_millis())?;
    let read = app.store.read().await?;
    let pack = app.live.current();
    let targets = pack.program().targets();
    let min_sample = app.settings.target_min_sample;
    Ok(Json(
        super::targets::read_report_with_targets(&read, &query, targets, min_sample).await?,
    ))
}

/// The funnel's gauges, from the hand-offs of the trailing window by route; when the
/// store cannot be read they keep their last values (and the error goes to the log).
async fn refresh_funnel_metrics(app: &App) {
    let now = now_millis();
    let query = super::funnel::Query {
        from: now.saturating_sub(super::metrics::FUNNEL_DAYS * 86_400_000),
        to: now,
        now,
        by: Some(super::funnel::By::Route),
        every: None,
    };
    let report = match app.store.read().await {
        Ok(read) => super::funnel::read_report(&read, &query).await,
        Err(e) => Err(e.into()),
    };
    match report {
        Ok(report) => app.metrics.set_funnel(&report),
        Err(e) => eprintln!("metrics: the funnel could not be read: {}", e.message),
    }
}

// Targets (issue 27.3).

/// `GET /v1/alerts?after=SEQ&limit=N`: the alert log after `SEQ`, as `/v1/transitions`
/// pages the outbox (`next` is the seq to ask after next).
async fn alerts(State(app): Shared, q: Params) -> Result<Json<Value>, ApiError> {
    let params = params(q)?;
    let after = number(&params, "after", 0)?;
    let limit = page(&params, "limit")?;
    let list = app.store.read().await?.alerts(after.saturating_add(1), limit).await?;
    let next = list.last().map_or(after, |(seq, _)| *seq);
    let list: Vec<Value> = list
        .iter()
        .filter_map(|(_, bytes)| serde_json::from_slice(bytes).ok())
        .collect();
    Ok(Json(json!({"alerts": list, "next": next})))
}

// Storage and scale (issue 22): answers written from the writer's views, each lead's
// result copied from its stored text instead of built into a tree and written again.

/// `POST /v1/ingest`'s answer: `{applied, duplicate_events, errors, leads, lines,
/// new_events}` (`leads` left out for `?answer=counts`).
struct IngestAnswer {
    lines: usize,
    applied: u64,
    new_events: u64,
    duplicates: u64,
    errors: Vec<Value>,
    /// Every lead touched, by id.
    leads: Option<Vec<(String, LeadView)>>,
}

/// A lead after a write: `{as_of, error, lead, result, sla_due, stage, transitions}`.
struct LeadSummary<'a>(&'a str, &'a LeadView);

/// The answer to one write to one lead: the lead after it (as [`LeadSummary`]) with
/// `new_events` and `duplicate_events`, the stored result written as its text.
pub(crate) struct WriteAnswer {
    lead: String,
    view: LeadView,
    applied: Applied,
}

// Both are written with their keys in order, as the `serde_json::Value` objects they
// replace were (`the_answers_are_written_as_their_values_were` holds them to it).
impl serde::Serialize for IngestAnswer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("applied", &self.applied)?;
        m.serialize_entry("duplicate_events", &self.duplicates)?;
        m.serialize_entry("errors", &self.errors)?;
        if let Some(leads) = &self.leads {
            let summaries = leads.iter().map(|(id, view)| LeadSummary(id, view));
            m.serialize_entry("leads", &Seq(std::cell::Cell::new(Some(summaries))))?;
        }
        m.serialize_entry("lines", &self.lines)?;
        m.serialize_entry("new_events", &self.new_events)?;
        m.end()
    }
}

impl serde::Serialize for LeadSummary<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        lead_entries(&mut m, self.0, self.1, None)?;
        m.end()
    }
}

impl serde::Serialize for WriteAnswer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        lead_entries(&mut m, &self.lead, &self.view, Some(&self.applied))?;
        m.end()
    }
}

/// A lead's entries in an answer, in the order of their keys (as a `serde_json::Value`
/// writes them); with what a write did (`new_events`, `duplicate_events`) for the
/// answer to one write.
fn lead_entries<M: serde::ser::SerializeMap>(
    m: &mut M,
    lead: &str,
    view: &LeadView,
    applied: Option<&Applied>,
) -> Result<(), M::Error> {
    m.serialize_entry("as_of", &rfc3339(view.as_of))?;
    if let Some(applied) = applied {
        m.serialize_entry("duplicate_events", &applied.duplicates)?;
    }
    // A scoring error is rare: written through a value, for its keys' order.
    let error = view.error.as_ref().map(serde_json::to_value).transpose();
    m.serialize_entry("error", &error.map_err(serde::ser::Error::custom)?)?;
    m.serialize_entry("lead", lead)?;
    if let Some(applied) = applied {
        m.serialize_entry("new_events", &applied.new_events)?;
    }
    m.serialize_entry("result", &view.result.as_ref().map(crate::model::StoredResult::text))?;
    m.serialize_entry("sla_due", &view.standing.sla_due.map(rfc3339))?;
    m.serialize_entry("stage", &view.standing.stage)?;
    m.serialize_entry("transitions", &view.transitions)?;
    Ok(())
}

/// A sequence written from an iterator, once.
struct Seq<I>(std::cell::Cell<Option<I>>);

impl<I: Iterator<Item = T>, T: serde::Serialize> serde::Serialize for Seq<I> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.take().into_iter().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::Standing;
    use crate::model::{ScoringError, StoredResult};

    #[test]
    fn the_answers_are_written_as_their_values_were() {
        let pack = Pack::from_source(
            "p",
            "threshold 5\ntitle ~ VP => +10\nvisited /pricing => +5\nroute \"sales\" when title ~ VP",
        )
        .unwrap();
        let as_of = leadscore::parse_time("2026-01-01T00:00:00Z").unwrap();
        let outcome = pack.score(&json!({"id": "a", "title": "VP"}), as_of).unwrap();
        let mut standing = Standing::new(0);
        standing.sla_due = Some(86_400_000);
        let scored = LeadView {
            standing: standing.clone(),
            result: Some(StoredResult::new(&outcome).unwrap()),
            error: None,
            as_of: 1_000,
            transitions: vec![3, 4],
        };
        let mut error = ScoringError::from(&pack.score_json(r#"{"events": [1]}"#, as_of).unwrap_err());
        error.rule = Some("a.rules:1".into());
        let failed = LeadView {
            standing,
            result: None,
            error: Some(error),
            as_of: 2_000,
            transitions: Vec::new(),
        };
        let views = [("a".to_string(), scored), ("b\"".to_string(), failed)];
        // What the answer was: a value built with `json!`, the result as a value.
        let before = |(lead, view): &(String, LeadView)| {
            json!({
                "lead": lead,
                "stage": view.standing.stage,
                "result": serde_json::to_value(&outcome).ok().filter(|_| view.result.is_some()),
                "error": view.error,
                "as_of": rfc3339(view.as_of),
                "sla_due": view.standing.sla_due.map(rfc3339),
                "transitions": view.transitions,
            })
        };
        let errors = vec![json!({"line": 2, "error": "bad", "kind": "bad_request"})];
        let expected = json!({
            "lines": 3,
            "applied": 2,
            "new_events": 5,
            "duplicate_events": 1,
            "errors": errors,
            "leads": views.iter().map(before).collect::<Vec<_>>(),
        });
        let mut answer = IngestAnswer {
            lines: 3,
            applied: 2,
            new_events: 5,
            duplicates: 1,
            errors,
            leads: Some(views.to_vec()),
        };
        let text = serde_json::to_string(&answer).unwrap();
        assert_eq!(text, expected.to_string());
        answer.leads = None;
        let mut counts = expected;
        counts.as_object_mut().unwrap().remove("leads");
        assert_eq!(serde_json::to_string(&answer).unwrap(), counts.to_string());
        // The answer to one write: the lead with what the write did, as the value it was.
        let applied = Applied {
            new_events: 2,
            duplicates: 1,
        };
        for (lead, view) in &views {
            let mut was = serde_json::to_value(LeadSummary(lead, view)).unwrap();
            was["new_events"] = json!(applied.new_events);
            was["duplicate_events"] = json!(applied.duplicates);
            let one = WriteAnswer {
                lead: lead.clone(),
                view: view.clone(),
                applied: applied.clone(),
            };
            assert_eq!(serde_json::to_string(&one).unwrap(), was.to_string());
        }
    }
}
