//! `leadscore check PACK`.

use std::path::PathBuf;

use super::{load_pack, Failure, Outcome, PackArgs};

/// Arguments of `check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The pack folder.
    pack: PathBuf,
    #[command(flatten)]
    pack_args: PackArgs,
}

/// Loads the pack and reports whether it checks.
pub fn run(args: &CheckArgs) -> Result<Outcome, Failure> {
    let pack = load_pack(&args.pack, &args.pack_args)?;
    let program = pack.program();
    println!(
        "{}: ok ({} rules, {} files)",
        pack.id(),
        program.rule_count(),
        pack.sources().files().len()
    );
    Ok(Outcome::Success)
}
