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
    let mut out = super::stdout();
    let (rules, files) = (program.rule_count(), pack.sources().files().len());
    writeln!(
        out,
        "{}: ok ({rules} rule{}, {files} file{})",
        leadscore::show_text(&pack.id().to_string()),
        plural(rules),
        plural(files)
    )?;
    if args.program {
        write!(out, "{}", leadscore::show_rendered(&program.to_string()))?;
    }
    Ok(Exit::Success)
}

/// The plural ending for `n` things.
fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
