//! The integration tests: one binary, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;
mod diagnostics;
mod language;
mod packs;
mod packtest;
mod plugins;
mod reload;
mod repl;
