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
    /// Fail (exit 2) when there are warnings, not only errors.
    #[arg(long)]
    deny_warnings: bool,
    #[command(flatten)]
    pack_args: PackArgs,
}

/// Loads the pack and reports whether it checks, and its warnings (on stderr).
pub fn run(args: &CheckArgs) -> Result<Exit, Failure> {
    use std::io::IsTerminal;
    let pack = load_pack(&args.pack, &args.pack_args)?;
    let tests = leadscore::packtest::PackTests::load(&args.pack);
    let warnings = pack.field_warnings(&tests.leads());
    let program = pack.program();
    let (rules, files) = (program.rule_count(), pack.sources().files().len());
    let n = warnings.warnings().len();
    if n > 0 {
        eprint!("{}", warnings.render(std::io::stderr().is_terminal()));
        if args.deny_warnings {
            return Err(Failure(format!("error: {n} warning{} (--deny-warnings)", plural(n))));
        }
    }
    let mut out = super::stdout();
    let warned = match n {
        0 => String::new(),
        n => format!(", {n} warning{}", plural(n)),
    };
    writeln!(
        out,
        "{}: ok ({rules} rule{}, {files} file{}{warned})",
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
