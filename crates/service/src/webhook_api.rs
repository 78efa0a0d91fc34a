//! The webhook operations of the HTTP API (`admin` scope): each webhook's position,
//! backlog, last error and dead letters, and the actions on its stream. An action is
//! stored by the writer ([`webhook::Op`]); the instance that holds the webhook's lease
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

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::commit::now_millis;
use super::error::ApiError;
use super::http::{number, page, params, App, Params, Shared};
use super::input::rfc3339;
use super::model::DeadLetter;
use super::storage::Reader;
use super::webhook::{redacted, webhook_id, Op};

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
        let mut one = status(&read, url).await?;
        let letters = read.dead_letters(url, 0, LISTED, false).await?;
        one["dead_letters"] = letters_json(&read, &letters, LISTED).await?;
        out.push(one);
    }
    Ok(Json(json!({"webhooks": out})))
}

async fn dead_page(
    State(app): Shared,
    id: Result<Path<String>, PathRejection>,
    q: Params,
) -> Result<Json<Value>, ApiError> {
    let url = webhook_path(id, &app)?;
    let params = params(q)?;
    let limit = page(&params, "limit")?;
    let read = app.store.read().await?;
    let letters = read
        .dead_letters(&url, number(&params, "after", 0)?, limit, false)
        .await?;
    Ok(Json(letters_json(&read, &letters, limit).await?))
}

/// A webhook's position in the outbox, backlog, retry state and dead-letter count.
async fn status(read: &Reader, url: &str) -> Result<Value, ApiError> {
    let cursor = read.cursor(url).await?;
    let last = read.last_transition().await?;
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

/// Dead letters with the lead and kind of their transitions; `next` when there may be more.
async fn letters_json(read: &Reader, letters: &[DeadLetter], limit: usize) -> Result<Value, ApiError> {
    let mut items = Vec::with_capacity(letters.len());
    for letter in letters {
        let transition = read.transitions(letter.seq, 1).await?.into_iter().next();
        let body: Value = transition
            .filter(|(seq, _)| *seq == letter.seq)
            .and_then(|(_, b)| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        items.push(json!({
            "seq": letter.seq,
            "lead": body["lead"],
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
async fn act(app: &App, url: &str, op: Op) -> Result<Json<Value>, ApiError> {
    app.committer.webhook(op).await?;
    let read = app.store.read().await?;
    Ok(Json(status(&read, url).await?))
}

async fn retry(State(app): Shared, id: Result<Path<String>, PathRejection>) -> Result<Json<Value>, ApiError> {
    let url = webhook_path(id, &app)?;
    act(&app, &url, Op::RetryNow { url: url.clone() }).await
}

async fn skip(State(app): Shared, id: Result<Path<String>, PathRejection>) -> Result<Json<Value>, ApiError> {
    let url = webhook_path(id, &app)?;
    let last = app.store.read().await?.last_transition().await?;
    let op = Op::Skip {
        url: url.clone(),
        last,
        now: now_millis(),
    };
    act(&app, &url, op).await
}

async fn replay_from(
    State(app): Shared,
    id: Result<Path<String>, PathRejection>,
    q: Params,
) -> Result<Json<Value>, ApiError> {
    let url = webhook_path(id, &app)?;
    let params = params(q)?;
    if !params.contains_key("from") {
        return Err(ApiError::bad_request(
            "`from` (the first seq to deliver again) is required",
        ));
    }
    let from = number(&params, "from", 0)?;
    let last = app.store.read().await?.last_transition().await?;
    act(
        &app,
        &url,
        Op::ReplayFrom {
            url: url.clone(),
            from,
            last,
        },
    )
    .await
}

async fn replay(State(app): Shared, p: Result<Path<(String, u64)>, PathRejection>) -> Result<Json<Value>, ApiError> {
    let (url, seq) = letter_path(p, &app)?;
    act(&app, &url, Op::Replay { url: url.clone(), seq }).await
}

async fn discard(State(app): Shared, p: Result<Path<(String, u64)>, PathRejection>) -> Result<Json<Value>, ApiError> {
    let (url, seq) = letter_path(p, &app)?;
    act(&app, &url, Op::Discard { url: url.clone(), seq }).await
}
