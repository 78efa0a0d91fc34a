//! What can be wrong with a lead's shape, as every reader finds it. Typed values all the
//! way: the text reader keeps them beside serde's error instead of encoding them in its
//! message.

use std::fmt;

use crate::value::TooDeep;

/// Why a lead could not be read.
///
/// ```
/// # let pack = leadscore::Pack::from_source("p", "visited /pricing => +5")?;
/// # let as_of = leadscore::parse_time("2026-01-01T00:00:00Z").unwrap();
/// // The crate reports these as `EvalError`s, with the same messages.
/// let err = pack.score_json(r#"{"events": [{"type": "page_view"}]}"#, as_of).unwrap_err();
/// assert_eq!(err.to_string(), "events[0] has no `at` time");
/// # Ok::<(), leadscore::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
#[non_exhaustive]
pub enum ReadError {
    /// The lead is not a JSON object.
    #[error("a lead must be a JSON object")]
    NotAnObject,
    /// The text is not valid JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// An array nested deeper than the text reader allows.
    #[error("invalid JSON: {0}")]
    TooDeep(TooDeep),
    /// `events` is there but is not an array.
    #[error("`events` must be an array of events")]
    EventsNotArray,
    /// `events` given as JSON text of its own (an Arrow string column) is not valid JSON.
    #[error("events is not valid JSON text: {0}")]
    EventsText(String),
    /// One event is malformed.
    #[error("events[{index}] {problem}")]
    BadEvent {
        /// Its index in `events`.
        index: usize,
        /// What is wrong with it.
        problem: EventProblem,
    },
}

/// Why the Arrow reader refuses a whole batch, before reading any row: read its rows
/// as JSON instead (the refusal is never a lead's error).
///
/// ```
/// use std::sync::Arc;
/// use arrow_array::{ArrayRef, Date32Array, RecordBatch};
/// # let pack = leadscore::Pack::from_source("demo", "signed_up exists => +5")?;
/// let as_of = leadscore::parse_time("2026-01-01T00:00:00Z").unwrap();
/// let batch = RecordBatch::try_from_iter([("signed_up", Arc::new(Date32Array::from(vec![20000])) as ArrayRef)])?;
/// let refusal = pack.scorer(as_of).arrow(&batch).err().unwrap();
/// assert_eq!(refusal.to_string(), "`signed_up` is an Arrow column of type Date32, which leads are not read from directly");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "arrow")]
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ArrowRefusal {
    /// A column the pack reads is of a type the Arrow reader does not read as the JSON
    /// readers would.
    #[error("`{path}` is an Arrow column of type {data_type}, which leads are not read from directly")]
    Column {
        /// The column's dotted path (`company.size`, `events[].at`).
        path: String,
        /// Its Arrow type.
        data_type: String,
    },
    /// The pack's enrichment hooks take each lead whole, as JSON.
    #[error("a pack with enrichment hooks reads each lead whole, as JSON, not from Arrow columns")]
    Hooks,
}

/// What is wrong with one event.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum EventProblem {
    /// Not a JSON object.
    NotAnObject,
    /// No `type`, or not a string.
    NoType,
    /// No `at`, or not a string.
    NoTime,
    /// `at` is not an RFC 3339 time.
    BadTime(String),
}

impl fmt::Display for EventProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventProblem::NotAnObject => write!(f, "is not an object"),
            EventProblem::NoType => write!(f, "has no `type` string"),
            EventProblem::NoTime => write!(f, "has no `at` time"),
            EventProblem::BadTime(at) => write!(f, "`at` is not an RFC 3339 time: {at:?}"),
        }
    }
}

impl From<TooDeep> for ReadError {
    fn from(e: TooDeep) -> Self {
        ReadError::TooDeep(e)
    }
}

impl ReadError {
    /// The kind's stable name in snake_case (`not_an_object`, `bad_event`, ...).
    pub fn code(&self) -> &'static str {
        self.into()
    }
}
