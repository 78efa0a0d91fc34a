//! The webhook operations of the HTTP API (`admin` scope): each webhook's position,
//! backlog, last error and dead letters, and the actions on its stream. An action is
//! stored by the writer ([`crate::webhook::Op`]); the instance that holds the webhook's lease
//! carries it out, so with several instances exactly one delivers.
//!
//! | route | what |
//! |---|---|
//! | `GET /v1/webhooks` | every webhook's state and its first dead letters |
//! | `GET /v1/webhooks/{id}/dead?after=SEQ&limit=N` | a page of one webhook's dead letters |
//! | `POST /v1/webhooks/{id}/retry` | try the head now, without waiting out the backoff |
//! | `POST /v1/webhooks/{id}/skip` | the head becomes a dead letter; the stream goes on |
//! | `POST /v1/webhooks/{id}/replay?from=SEQ` | deliver again from `SEQ` on |
//! | `POST /v1/webhooks/{id}/dead/{seq}/replay` | deliver a dead letter again (once) |
//! | `DELETE /v1/webhooks/{id}/dead/{seq}` | discard a dead letter |
//!
//! Each webhook delivers two streams with a cursor and dead letters each: the lead
//! transitions and the target alerts. `?stream=alerts` on any route above (except the
//! list, which shows both) acts on the alerts; without it, on the transitions.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::error::ApiError;
use super::http::{number, page, params, App, Params, Shared};
use super::input::rfc3339;
use super::model::now_millis;
use super::model::DeadLetter;
use super::storage::Reader;
use super::webhook::{redacted, webhook_id, Op, Stream};

/// Dead letters shown with each webhook in `GET /v1/webhooks`.
const LISTED: usize = 100;

/// The routes, for [`super::http::router`].
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/v1/webhooks", get(list))
        .route("/v1/webhooks/{id}/dead", get(dead_page))
        .route("/v1/webhooks/{id}/retry", post(retry))
        .route("/v1/webhooks/{id}/skip", post(skip))
        .route("/v1/webhooks/{id}/replay", post(replay_from))
        .route("/v1/webhooks/{id}/dead/{seq}/replay", post(replay))
        .route("/v1/webhooks/{id}/dead/{seq}", delete(discard))
}

/// The configured URL a webhook id names.
fn url_of(app: &App, id: &str) -> Result<String, ApiError> {
    app.settings
        .webhooks
        .iter()
        .find(|url| webhook_id(url) == id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("no webhook `{id}` (see GET /v1/webhooks)")))
}

fn webhook_path(p: Result<Path<String>, PathRejection>, app: &App) -> Result<String, ApiError> {
    let Path(id) = p.map_err(|e| ApiError::bad_request(format!("bad webhook id in the path: {e}")))?;
    url_of(app, &id)
}

fn letter_path(p: Result<Path<(String, u64)>, PathRejection>, app: &App) -> Result<(String, u64), ApiError> {
    let Path((id, seq)) = p.map_err(|e| ApiError::bad_request(format!("bad webhook id or seq in the path: {e}")))?;
    Ok((url_of(app, &id)?, seq))
}

async fn list(State(app): Shared) -> Result<Json<Value>, ApiError> {
    let read = app.store.read().await?;
    let mut out = Vec::new();
    for url in &app.settings.webhooks {
        let mut one = listed(&read, url, Stream::Transitions).await?;
        one["alerts"] = listed(&read, url, Stream::Alerts).await?;
        out.push(one);
    }
    Ok(Json(json!({"webhooks": out})))
}

/// One stream of a webhook as `GET /v1/webhooks` lists it: its state and first dead letters.
async fn listed(read: &Reader, url: &str, stream: Stream) -> Result<Value, ApiError> {
    let mut one = status(read, url, stream).await?;
    let letters = read.dead_letters(&stream.key(url), 0, LISTED, false).await?;
    one["dead_letters"] = letters_json(read, &letters, LISTED, stream).await?;
    Ok(one)
}

/// The stream a request names: `?stream=alerts`, or the transitions.
fn stream_of(params: &HashMap<String, String>) -> Result<Stream, ApiError> {
    match params.get("stream").map(String::as_str) {
        None | Some("transitions") => Ok(Stream::Transitions),
        Some("alerts") => Ok(Stream::Alerts),
        Some(other) => Err(ApiError::bad_request(format!(
            "unknown stream `{}`: `transitions` (the default) or `alerts`",
            other.escape_debug()
        ))),
    }
}

async fn dead_page(
    State(app): Shared,
    id: Result<Path<String>, PathRejection>,
    q: Params,
) -> Result<Json<Value>, ApiError> {
    let url = webhook_path(id, &app)?;
    let params = params(q)?;
    let stream = stream_of(&params)?;
    let limit = page(&params, "limit")?;
    let read = app.store.read().await?;
    let letters = read
        .dead_letters(&stream.key(&url), number(&params, "after", 0)?, limit, false)
        .await?;
    Ok(Json(letters_json(&read, &letters, limit, stream).await?))
}

/// A webhook's position in one stream's log, backlog, retry state and dead-letter count.
async fn status(read: &Reader, url: &str, stream: Stream) -> Result<Value, ApiError> {
    let cursor = read.cursor(&stream.key(url)).await?;
    let last = stream.last(read).await?;
    let delivered = cursor.next.saturating_sub(1);
    Ok(json!({
        "id": webhook_id(url),
        "url": redacted(url),
        "position": delivered,
        "newest": last,
        "pending": last.saturating_sub(delivered),
        "attempts": cursor.attempts,
        "retry_at": (cursor.retry_at > 0).then(|| rfc3339(cursor.retry_at)),
        "last_status": cursor.last_status,
        "last_error": cursor.last_error,
        "dead_letter_count": cursor.dead,
    }))
}

/// Dead letters with the lead (or the target, for an alert) and kind of what they held;
/// `next` when there may be more.
async fn letters_json(read: &Reader, letters: &[DeadLetter], limit: usize, stream: Stream) -> Result<Value, ApiError> {
    let mut items = Vec::with_capacity(letters.len());
    for letter in letters {
        let entry = stream.read(read, letter.seq, 1).await?.into_iter().next();
        let body: Value = entry
            .filter(|(seq, _)| *seq == letter.seq)
            .and_then(|(_, b)| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        let (about, name) = match stream {
            Stream::Transitions => ("lead", body["lead"].clone()),
            Stream::Alerts => ("target", body["name"].clone()),
        };
        items.push(json!({
            "seq": letter.seq,
            about: name,
            "kind": body["kind"],
            "attempts": letter.attempts,
            "status": letter.status,
            "error": letter.error,
            "at": rfc3339(letter.at),
            "replay_requested": letter.replay,
        }));
    }
    let next = (letters.len() >= limit)
        .then(|| letters.last().map(|l| l.seq))
        .flatten();
    Ok(json!({"items": items, "next": next}))
}

/// Stores the action, then answers with the webhook's state after it.
async fn act(app: &App, url: &str, stream: Stream, op: Op) -> Result<Json<Value>, ApiError> {
    app.committer.webhook(op).await?;
    let read = app.store.read().await?;
    Ok(Json(status(&read, url, stream).await?))
}

async fn retry(
    State(app): Shared,
    id: Result<Path<String>, PathRejection>,
    q: Params,
) -> Result<Json<Value>, ApiError> {
    let url = webhook_path(id, &app)?;
    let stream = stream_of(&params(q)?)?;
    let op = Op::RetryNow { url: stream.key(&url) };
    act(&app, &url, stream, op).await
}

async fn skip(State(app): Shared, id: Result<Path<String>, PathRejection>, q: Params) -> Result<Json<Value>, ApiError> {
    let url = webhook_path(id, &app)?;
    let stream = stream_of(&params(q)?)?;
    let last = stream.last(&app.store.read().await?).await?;
    let op = Op::Skip {
        url: stream.key(&url),
        last,
        now: now_millis(),
    };
    act(&app, &url, stream, op).await
}

async fn replay_from(
    State(app): Shared,
    id: Result<Path<String>, PathRejection>,
    q: Params,
) -> Result<Json<Value>, ApiError> {
    let url = webhook_path(id, &app)?;
    let params = params(q)?;
    let stream = stream_of(&params)?;
    if !params.contains_key("from") {
        return Err(ApiError::bad_request(
            "`from` (the first seq to deliver again) is required",
        ));
    }
    let from = number(&params, "from", 0)?;
    let last = stream.last(&app.store.read().await?).await?;
    let op = Op::ReplayFrom {
        url: stream.key(&url),
        from,
        last,
    };
    act(&app, &url, stream, op).await
}

async fn replay(
    State(app): Shared,
    p: Result<Path<(String, u64)>, PathRejection>,
    q: Params,
) -> Result<Json<Value>, ApiError> {
    on_letter(&app, p, q, |url, seq| Op::Replay { url, seq }).await
}

async fn discard(
    State(app): Shared,
    p: Result<Path<(String, u64)>, PathRejection>,
    q: Params,
) -> Result<Json<Value>, ApiError> {
    on_letter(&app, p, q, |url, seq| Op::Discard { url, seq }).await
}

/// An action on one dead letter of the stream the request names: `op` of the stream's
/// key and the letter's seq.
async fn on_letter(
    app: &App,
    p: Result<Path<(String, u64)>, PathRejection>,
    q: Params,
    op: fn(String, u64) -> Op,
) -> Result<Json<Value>, ApiError> {
    let (url, seq) = letter_path(p, app)?;
    let stream = stream_of(&params(q)?)?;
    act(app, &url, stream, op(stream.key(&url), seq)).await
}
