//! The integration tests: one binary, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod adversarial;
mod baselines;
mod cli;
mod diagnostics;
mod differential;
mod format;
mod gen;
mod language;
mod listing;
#[cfg(feature = "lsp")]
mod lsp;
mod packgen;
mod packs;
mod packtest;
mod plugins;
mod reload;
mod repl;
