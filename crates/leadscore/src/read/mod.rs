//! Reading a lead: JSON text, a `serde_json::Value` or an Arrow row → [`Record`], reading
//! only what the program uses, by one plan and one set of rules for every reader.
//!
//! `plan.rs` holds the [`ReadPlan`] (built with the pack, kept with its program), the one
//! place a value is stored into a record, and the `Value` walk; `text.rs` the one-pass
//! text reader (serde seeds); `event.rs` the one event check every reader makes;
//! `scan.rs` its fast path, a scanner that reads the usual lead and leaves the rest to it;
//! `path.rs` the overlay of the fields hooks set (by the dotted-path rule of
//! `value/path.rs`); `record.rs` the record the evaluator reads; `error.rs` the typed
//! shape errors; `arrow.rs` (feature `arrow`) the reader of Arrow record batches, by the
//! same plan and checks.

#[cfg(feature = "arrow")]
mod arrow;
mod error;
mod event;
mod path;
mod plan;
mod record;
mod scan;
mod text;

pub use crate::value::path::{dotted_key, lookup, nested_or_dotted};
#[cfg(feature = "arrow")]
pub use arrow::ArrowLeads;
#[cfg(feature = "arrow")]
pub use error::ArrowRefusal;
pub use error::{EventProblem, ReadError};
pub use event::{read_event, Checked};
pub use path::overlay;
pub use plan::ReadPlan;
pub(crate) use record::recycle;
pub use record::{EventProps, Events, ReadEvents, Record};
pub(crate) use scan::special;
