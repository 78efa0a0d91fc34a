//! `leadscore lsp`: the language server for editors, on stdin and stdout.

use super::{Exit, Failure, PackArgs};

/// Arguments of `lsp`.
#[derive(clap::Args, Debug)]
pub struct LspArgs {
    #[command(flatten)]
    pack: PackArgs,
    /// How long a change waits for the next keystroke before diagnostics are published (ms).
    #[arg(long, value_name = "MS", default_value_t = 200)]
    debounce: u64,
    /// Accepted for editors' clients that pass it; stdio is the only transport.
    #[arg(long, hide = true)]
    stdio: bool,
}

/// Serves until the editor says `exit`.
#[cfg(feature = "lsp")]
pub fn run(args: &LspArgs) -> Result<Exit, Failure> {
    let options = leadscore_lsp::Options {
        loader: args.pack.loader(),
        debounce: std::time::Duration::from_millis(args.debounce),
    };
    // `exit` without `shutdown` first ends with 1, as the protocol asks.
    match leadscore_lsp::run_stdio(&options)? {
        true => Ok(Exit::Success),
        false => Ok(Exit::Partial),
    }
}

/// Without the `lsp` feature, says how to build it.
#[cfg(not(feature = "lsp"))]
pub fn run(args: &LspArgs) -> Result<Exit, Failure> {
    let _ = (&args.pack, args.debounce, args.stdio);
    Err(Failure(
        "error: this leadscore was built without the language server; build it with the default features (`cargo install --locked --path .`)"
            .into(),
    ))
}
