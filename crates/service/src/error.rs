//! What a request did wrong, or why the service could not do it: an HTTP status, a short
//! machine-readable kind and a message naming the problem. Rendered as
//! `{"error": MESSAGE, "kind": KIND}`.

use super::storage::StorageError;

/// A failed request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// What went wrong, for a program to match on (rendered in snake case: `bad_json`).
    pub kind: ApiErrorKind,
    /// What was wrong, in words.
    pub message: String,
    /// For `forbidden`: the scope the endpoint needs.
    pub scope: Option<&'static str>,
}

/// The kinds of failed request; each answer's `kind` is one of these in snake case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ApiErrorKind {
    /// The body is not JSON, or not the JSON expected.
    BadJson,
    /// Well-formed but wrong: a bad id, a bad query parameter.
    BadRequest,
    /// An event that cannot be stored.
    BadEvent,
    /// No such lead or route.
    NotFound,
    /// A stage change the lifecycle does not allow.
    Conflict,
    /// An event id the lead already has, sent with another payload.
    EventIdReused,
    /// Past a limit: body size, events per request, fields per lead.
    TooLarge,
    /// No token, or an unknown one.
    Unauthorized,
    /// The token lacks the scope the endpoint needs.
    Forbidden,
    /// The client took too long to send its request.
    Timeout,
    /// The path does not take this method.
    MethodNotAllowed,
    /// The request target is too long.
    UriTooLong,
    /// The request headers are too large.
    HeadersTooLarge,
    /// The lead could not be scored (`/v1/score`).
    ScoreError,
    /// A published pack was refused; the live one stays.
    PackRejected,
    /// The service's shadow pack (`--shadow`) is not loaded.
    ShadowNotLoaded,
    /// The database failed or the service is stopping; nothing was stored.
    Unavailable,
}

impl ApiError {
    fn new(status: u16, kind: ApiErrorKind, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind,
            message: message.into(),
            scope: None,
        }
    }

    /// Any status with its kind (405, 414, 422, 431 and the like).
    pub fn status(status: u16, kind: ApiErrorKind, message: impl Into<String>) -> ApiError {
        ApiError::new(status, kind, message)
    }

    /// 403: the token is known but lacks the scope the endpoint needs.
    pub fn forbidden(scope: &'static str, token: &str) -> ApiError {
        let mut e = ApiError::new(
            403,
            ApiErrorKind::Forbidden,
            format!("this endpoint needs the `{scope}` scope, which the token `{token}` does not have"),
        );
        e.scope = Some(scope);
        e
    }

    /// 400: a body that is not JSON (or not the JSON expected).
    pub fn bad_json(message: impl Into<String>) -> ApiError {
        ApiError::new(400, ApiErrorKind::BadJson, message)
    }

    /// 400: well-formed but wrong (a bad id, a bad query parameter).
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, ApiErrorKind::BadRequest, message)
    }

    /// 400: an event that cannot be stored (no `type`, a bad `at`, too far in the future).
    pub fn bad_event(message: impl Into<String>) -> ApiError {
        ApiError::new(400, ApiErrorKind::BadEvent, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, ApiErrorKind::NotFound, message)
    }

    /// 409: a stage change the lifecycle does not allow.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(409, ApiErrorKind::Conflict, message)
    }

    /// 413: past a limit (body size, events per request, fields per lead).
    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(413, ApiErrorKind::TooLarge, message)
    }

    /// 408: the client took too long to send its request.
    pub fn timeout(message: impl Into<String>) -> ApiError {
        ApiError::new(408, ApiErrorKind::Timeout, message)
    }

    /// 401.
    pub fn unauthorized() -> ApiError {
        ApiError::new(
            401,
            ApiErrorKind::Unauthorized,
            "this endpoint needs `Authorization: Bearer TOKEN` with a configured token",
        )
    }

    /// 503: the database failed or the service is shutting down; nothing was stored.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(503, ApiErrorKind::Unavailable, message)
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> ApiError {
        ApiError::unavailable(e.to_string())
    }
}
