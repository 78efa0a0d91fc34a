//! The integration tests: one binary, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod language;
mod adversarial;
mod differential;
mod packgen;
mod format;
