//! `leadscore lsp`: a language server for rule files (Language Server Protocol over stdio).
//!
//! Built on rust-analyzer's `lsp-server` (messages) and `lsp-types` (the protocol's
//! types): synchronous, no async runtime. The checker, the formatter and hover all run in
//! milliseconds for a pack, so requests are answered one at a time on one thread; scoring
//! the sample leads for the code lens (plugins may take their whole time budget on each)
//! runs on a worker thread, cancellable, and a burst of edits is coalesced as it is read,
//! so only the latest text of a document is parsed and analysed.
//!
//! | file | one job |
//! |---|---|
//! | `transport.rs` | JSON-RPC framing on stdio, robust to garbage; bursts of changes coalesced |
//! | `server.rs` | the loop: initialize, dispatch, debounce, error responses, cancellation |
//! | `jobs.rs` | slow work (the code lens) on a worker thread, with a cancellation flag |
//! | `peek.rs` | whether a frame is a `didChange`, of which document, read without decoding its text |
//! | `workspace.rs` | open documents and the pack folders they belong to |
//! | `adapter.rs` | the only touchpoint with the crate's internals: build, syntax tree, check errors |
//! | `samples.rs` | the pack's sample leads: field values, event types, MQL count |
//! | `position.rs` | byte offsets ↔ LSP positions (UTF-16), paths ↔ URIs |
//! | `diagnostics.rs`, `hover.rs`, `navigate.rs`, `completion.rs`, `formatting.rs`, `symbols.rs`, `lens.rs`, `actions.rs` | one editor feature each |
//!
//! ```no_run
//! let options = leadscore_lsp::Options::default();
//! leadscore_lsp::run_stdio(&options)?; // until the client sends `exit`
//! # Ok::<(), std::io::Error>(())
//! ```

mod actions;
mod adapter;
mod completion;
mod diagnostics;
mod formatting;
mod hover;
mod jobs;
mod lens;
mod navigate;
mod peek;
mod position;
mod samples;
mod server;
mod symbols;
mod transport;
mod workspace;

use std::time::Duration;

use leadscore::Loader;

/// How long a change waits for the next keystroke before its pack's diagnostics are published.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(200);

/// How the server runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where plugins are found and how they are limited.
    pub loader: Loader,
    /// The debounce of diagnostics after a change.
    pub debounce: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            loader: Loader::new(),
            debounce: DEFAULT_DEBOUNCE,
        }
    }
}

/// Serves the Language Server Protocol on stdin and stdout until the client sends `exit`
/// or closes stdin. Returns whether `shutdown` came first: the protocol asks for exit
/// code 0 then, 1 otherwise. Fails only if the I/O threads cannot start or stdout breaks.
pub fn run_stdio(options: &Options) -> std::io::Result<bool> {
    let transport = transport::Transport::stdio()?;
    let mut server = server::Server::new(options, transport.outgoing.clone())?;
    let shut_down = server.serve(&transport.incoming);
    drop(server);
    transport.finish()?;
    Ok(shut_down)
}
