//! The integration tests: one binary, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod baselines;
mod cli;
mod diagnostics;
mod gen;
mod language;
mod packs;
mod packtest;
mod plugins;
mod reload;
mod repl;
