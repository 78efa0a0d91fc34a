#![doc = include_str!("../../../docs/src/library.md")]

/// Unit tests measure plugin calls' memory as the binary does.
#[cfg(all(test, feature = "jemalloc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

pub mod ast;
pub mod batch;
pub mod check;
mod compile;
mod diagnostic;
mod eval;
mod explain;
pub mod file;
mod format;
pub mod gen;
pub mod pack;
pub mod packtest;
pub mod plugin;
mod program;
pub mod read;
pub mod reload;
pub mod session;
mod source;
pub mod syntax;
pub mod value;

pub use eval::trace::{Observation, Trace};
pub use eval::{Capped, Enrichment, EvalError, Fired, NextChange, Outcome, PackId, PluginError, ScriptPosition};
pub use explain::Explanation;
pub use format::{format, format_named};
pub use pack::{Error, PackError, PackErrors, PackWarnings};
pub use pack::{Loader, Pack, Scorer};
pub use plugin::{Limits, PLUGIN_STACK_SIZE};
pub use program::{Calibration, Program, RuleSummary, Target};
pub use reload::LivePack;
pub use source::{Location, SourceFile, Sources, Span};
#[cfg(feature = "arrow")]
pub use {pack::ArrowBatch, read::ArrowRefusal};

/// A number as results write it in JSON: a whole one without a fraction.
///
/// ```
/// assert_eq!(leadscore::num_to_json(20.0), serde_json::json!(20));
/// assert_eq!(leadscore::num_to_json(2.5), serde_json::json!(2.5));
/// ```
pub use value::num_to_json;
/// A number as results show it: no trailing `.0`, at most 4 decimals, never `-0`.
///
/// ```
/// assert_eq!(leadscore::show_number(15.0), "15");
/// assert_eq!(leadscore::show_number(2.345678), "2.3457");
/// assert_eq!(leadscore::show_number(-0.00001), "0");
/// ```
pub use value::show_number;

pub use value::escape::{show_rendered, show_text};

/// Parses an RFC 3339 time (`2026-03-01T12:00:00Z`), the form `as_of` takes on the command line.
///
/// ```
/// let t = leadscore::parse_time("2026-03-01T12:00:00+01:00").unwrap();
/// assert_eq!(t.to_rfc3339(), "2026-03-01T11:00:00+00:00");
/// ```
pub fn parse_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    value::time::parse_time(text).and_then(chrono::DateTime::from_timestamp_millis)
}
