//! The integration tests: one binary, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// As in the binary: plugin calls scored through the library here get their memory budget.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod adversarial;
#[cfg(feature = "arrow")]
mod arrow;
mod baselines;
mod cli;
#[cfg(feature = "serve")]
mod console;
mod diagnostics;
mod differential;
mod docs;
mod due;
mod format;
mod gen;
mod hardening;
mod language;
mod layout;
mod listing;
#[cfg(feature = "lsp")]
mod lsp;
mod outcomes;
mod outcomes_guard;
mod packgen;
mod packs;
mod packtest;
mod plugins;
mod reload;
mod repl;
#[cfg(feature = "serve")]
mod serve;
#[cfg(feature = "serve")]
mod serve_security;
mod tools;
