#![doc = include_str!("../README.md")]

/// Unit tests measure plugin calls' memory as the binary does.
#[cfg(test)]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod ast;
mod check;
mod compile;
mod diagnostic;
mod error;
mod eval;
mod explain;
mod format;
mod gen;
mod pack;
mod packtest;
mod plugin;
mod program;
mod reload;
mod session;
mod source;
mod syntax;

pub use chrono;
pub use error::{Error, PackError, PackErrors};
pub use eval::trace::{Observation, Trace};
pub use eval::EvalError;
pub use explain::{Capped, Enrichment, Explanation, Fired, Outcome, PackId};
pub use format::{format, format_named};
pub use gen::{Company, Generator, SyntheticEvent, SyntheticLead, CSV_HEADER, DEFAULT_AS_OF_MILLIS};
pub use pack::{Loader, Pack, Scorer};
pub use packtest::{
    Case, CaseReport, Coverage, Mismatch, PackTests, RuleCoverage, Sample, SampleReport, SnapshotCheck, SnapshotStatus,
    SnapshotUpdate, TestFileError, DEFAULT_AS_OF,
};
pub use plugin::{Limits, PluginError, PLUGIN_STACK_SIZE};
pub use program::{Program, RuleSummary};
pub use reload::{LivePack, Problem, Rejection, ReloadEvent, Snapshot, WatchOptions, DEFAULT_DEBOUNCE};
pub use session::{Entered, Session, SessionError};
pub use source::{Location, SourceFile, Sources, Span};

/// Parses an RFC 3339 time (`2026-03-01T12:00:00Z`), the form `as_of` takes on the command line.
///
/// ```
/// let t = leadscore::parse_time("2026-03-01T12:00:00+01:00").unwrap();
/// assert_eq!(t.to_rfc3339(), "2026-03-01T11:00:00+00:00");
/// ```
pub fn parse_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    eval::time::parse_time(text).and_then(chrono::DateTime::from_timestamp_millis)
}
