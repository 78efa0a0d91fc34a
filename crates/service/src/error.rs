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
    /// `bad_json`, `bad_request`, `bad_event`, `not_found`, `conflict`, `event_id_reused`, `too_large`,
    /// `unauthorized`, `forbidden`, `timeout`, `method_not_allowed`, `uri_too_long`,
    /// `headers_too_large`, `score_error`, `pack_rejected`, `unavailable`.
    pub kind: &'static str,
    /// What was wrong, in words.
    pub message: String,
    /// For `forbidden`: the scope the endpoint needs.
    pub scope: Option<&'static str>,
}

impl ApiError {
    fn new(status: u16, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind,
            message: message.into(),
            scope: None,
        }
    }

    /// Any status with its kind (405, 414, 422, 431 and the like).
    pub fn status(status: u16, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(status, kind, message)
    }

    /// 403: the token is known but lacks the scope the endpoint needs.
    pub fn forbidden(scope: &'static str, token: &str) -> ApiError {
        let mut e = ApiError::new(
            403,
            "forbidden",
            format!("this endpoint needs the `{scope}` scope, which the token `{token}` does not have"),
        );
        e.scope = Some(scope);
        e
    }

    /// 400: a body that is not JSON (or not the JSON expected).
    pub fn bad_json(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "bad_json", message)
    }

    /// 400: well-formed but wrong (a bad id, a bad query parameter).
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "bad_request", message)
    }

    /// 400: an event that cannot be stored (no `type`, a bad `at`, too far in the future).
    pub fn bad_event(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "bad_event", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, "not_found", message)
    }

    /// 409: a stage change the lifecycle does not allow.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(409, "conflict", message)
    }

    /// 413: past a limit (body size, events per request, fields per lead).
    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(413, "too_large", message)
    }

    /// 408: the client took too long to send its request.
    pub fn timeout(message: impl Into<String>) -> ApiError {
        ApiError::new(408, "timeout", message)
    }

    /// 401.
    pub fn unauthorized() -> ApiError {
        ApiError::new(
            401,
            "unauthorized",
            "this endpoint needs `Authorization: Bearer TOKEN` with a configured token",
        )
    }

    /// 503: the database failed or the service is shutting down; nothing was stored.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(503, "unavailable", message)
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> ApiError {
        ApiError::unavailable(e.to_string())
    }
}
