//! The funnel for the command line (`leadscore funnel`): asked of a running service over
//! HTTP, or read from the data folder of a stopped one. Either way the answer is the
//! [`Report`] `GET /v1/funnel` serves.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use super::error::ApiError;
use super::funnel::{Query, Report};
use super::model::now_millis;
use super::storage::{redb::RedbStore, Storage, StorageError};
use super::targets::read_report_with_targets;

/// How long the command waits for a service's answer.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Where the funnel is read from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A running service's base URL (`http://127.0.0.1:7878`), and the bearer token to
    /// send, if any.
    Service {
        /// The base URL.
        url: String,
        /// A token with the `read` scope.
        token: Option<String>,
    },
    /// The data folder of a stopped service (the embedded store).
    Folder(PathBuf),
}

/// Why the funnel could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The data folder cannot be opened or read (a running service holds it, say).
    #[error("{0}")]
    Store(#[from] StorageError),
    /// The query is not one the funnel answers.
    #[error("{0}")]
    Query(#[from] ApiError),
    /// The service could not be reached, or refused the request.
    #[error("{0}")]
    Service(String),
}

/// The funnel the query `params` (`from`, `to`, `by`, `every`, as `GET /v1/funnel`
/// takes them) asks for, from `source`. A data folder's report judges `targets` (a
/// pack's, with the fewest hand-offs `min_sample`); a service judges its live pack's.
pub fn funnel(
    source: &Source,
    params: &[(String, String)],
    targets: &[leadscore::Target],
    min_sample: u64,
) -> Result<Report, ReportError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ReportError::Service(e.to_string()))?;
    match source {
        Source::Folder(dir) => {
            let query = Query::from_params(&params.iter().cloned().collect::<HashMap<_, _>>(), now_millis())?;
            let store = Storage::Redb(RedbStore::open_existing(dir)?);
            runtime.block_on(async {
                let reader = store.read().await?;
                Ok(read_report_with_targets(&reader, &query, targets, min_sample).await?)
            })
        }
        Source::Service { url, token } => runtime.block_on(ask(url, token.as_deref(), params)),
    }
}

async fn ask(url: &str, token: Option<&str>, params: &[(String, String)]) -> Result<Report, ReportError> {
    let service = |e: reqwest::Error| ReportError::Service(format!("{url}: {e}"));
    let client = reqwest::Client::builder().timeout(TIMEOUT).build().map_err(service)?;
    let mut request = client
        .get(format!("{}/v1/funnel", url.trim_end_matches('/')))
        .query(params);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(service)?;
    let status = response.status();
    let body = response.bytes().await.map_err(service)?;
    if !status.is_success() {
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let message = value["error"].as_str().unwrap_or("no message").to_string();
        return Err(ReportError::Service(format!("{url} answered {status}: {message}")));
    }
    serde_json::from_slice(&body)
        .map_err(|e| ReportError::Service(format!("{url}: the answer is not a funnel report: {e}")))
}
