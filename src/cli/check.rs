//! `leadscore check PACK`.

use std::io::Write;
use std::path::PathBuf;

use super::{load_pack, Exit, Failure, PackArgs};

/// Arguments of `check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The pack folder.
    pack: PathBuf,
    /// Also print the compiled program (slots, shared behaviours, rules).
    #[arg(long)]
    program: bool,
    #[command(flatten)]
    pack_args: PackArgs,
}

/// Loads the pack and reports whether it checks.
pub fn run(args: &CheckArgs) -> Result<Exit, Failure> {
    let pack = load_pack(&args.pack, &args.pack_args)?;
    let program = pack.program();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}: ok ({} rules, {} files)",
        pack.id(),
        program.rule_count(),
        pack.sources().files().len()
    )?;
    if args.program {
        write!(out, "{program}")?;
    }
    Ok(Exit::Success)
}
