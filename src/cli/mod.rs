//! The command line: raw arguments (clap) → a command → an exit code.
//!
//! Exit codes: 0 success; 1 some leads could not be scored (the rest were); 2 the
//! command could not run (bad arguments, unreadable file, a pack that does not check).
//! A closed standard output or error (`leadscore check bad 2>&1 | head -1`) ends the
//! command quietly with 2, never with a panic.

/// `println!` that ends the command quietly when standard output is closed.
macro_rules! outln {
    ($($arg:tt)*) => { $crate::cli::write_or_exit(&mut std::io::stdout(), format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` that ends the command quietly when standard error is closed.
macro_rules! errln {
    ($($arg:tt)*) => { $crate::cli::write_or_exit(&mut std::io::stderr(), format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprint!` that ends the command quietly when standard error is closed.
macro_rules! err {
    ($($arg:tt)*) => { $crate::cli::write_or_exit(&mut std::io::stderr(), format_args!($($arg)*)) };
}

mod backtest;
#[cfg(feature = "serve")]
mod backup;
mod batch;
mod check;
mod diff;
mod drift;
mod explain;
mod fit;
mod fmt;
#[cfg(feature = "serve")]
mod funnel;
mod gen;
mod input;
mod judge;
mod lsp;
mod outdir;
mod repl;
mod score;
#[cfg(feature = "serve")]
mod serve;
mod stats;
mod summary;
mod test;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Lead scoring as code: check rule packs, score leads, explain scores.
#[derive(Parser, Debug)]
#[command(name = "leadscore", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check a pack: exit 0 when clean, 2 with every error found.
    Check(check::CheckArgs),
    /// Score leads (JSON Lines, CSV or JSON) and print one result per lead, in order.
    Score(score::ScoreArgs),
    /// Explain one lead's score: each rule that fired, the total, caps, threshold, route.
    Explain(explain::ExplainArgs),
    /// Score leads and print a summary: MQLs, disqualified, score histogram, top rules, routes.
    Stats(stats::StatsArgs),
    /// Try conditions and rules against one lead, interactively (or from a script on stdin).
    Repl(repl::ReplArgs),
    /// Test packs: expectation cases, sample-lead snapshots (--snapshots), rule coverage (--coverage).
    Test(test::TestArgs),
    /// Follow a pack folder: reload on every edit that checks, report every one that does not.
    Watch(watch::WatchArgs),
    /// Write realistic, deterministic synthetic leads (for demos and load tests).
    Gen(gen::GenArgs),
    /// Rewrite a pack's files in the canonical layout (`--check`: list files that would change, exit 1).
    Fmt(fmt::FmtArgs),
    /// Serve scoring over HTTP: leads and events stored, MQL hand-offs, SLAs, webhooks.
    #[cfg(feature = "serve")]
    Serve(serve::ServeArgs),
    /// Back up the service's data (from a running service, a data folder or Postgres) into one portable file.
    #[cfg(feature = "serve")]
    Backup(backup::BackupArgs),
    /// Restore a backup into a new data folder or an empty Postgres database (it gets a new instance id).
    #[cfg(feature = "serve")]
    Restore(backup::RestoreArgs),
    /// The sales funnel of a service: what became of its MQL hand-offs (--url or --data).
    #[cfg(feature = "serve")]
    Funnel(funnel::FunnelArgs),
    /// Backtest a pack against known outcomes: AUC, MQL precision/recall/lift, bands, thresholds, rules.
    Backtest(backtest::BacktestArgs),
    /// Fit points to known outcomes: write a copy of the pack with new points and threshold.
    Fit(fit::FitArgs),
    /// Score the same leads with two packs: MQLs gained and lost, routes, score changes, outcomes.
    Diff(diff::DiffArgs),
    /// Compare the leads of now with a baseline: score PSI, rule fire rates, MQL rate, fields that moved.
    Drift(drift::DriftArgs),
    /// The language server for editors (Language Server Protocol on stdio; needs the `lsp` feature).
    Lsp(lsp::LspArgs),
}

/// Options shared by every command that loads a pack.
#[derive(clap::Args, Debug, Clone)]
pub struct PackArgs {
    /// Plugin search path (repeatable); defaults to ./plugins.
    #[arg(long = "plugins", value_name = "DIR")]
    pub plugins: Vec<PathBuf>,
}

impl PackArgs {
    /// The loader these options describe.
    pub fn loader(&self) -> leadscore::Loader {
        let loader = leadscore::Loader::new();
        if self.plugins.is_empty() {
            loader
        } else {
            loader.plugin_path(self.plugins.clone())
        }
    }
}

/// What a command ended with.
pub enum Exit {
    /// Everything worked.
    Success,
    /// Some records failed; the rest were processed.
    Partial,
}

/// A command that could not run, and the message for the user.
pub struct Failure(pub String);

impl<E: std::fmt::Display + 'static> From<E> for Failure {
    /// Any error becomes its message, except a closed stdout (`leadscore ... | head`),
    /// which ends the command quietly.
    fn from(e: E) -> Self {
        let io = (&e as &dyn std::any::Any).downcast_ref::<std::io::Error>();
        if io.is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) {
            return Failure(String::new());
        }
        Failure(e.to_string())
    }
}

impl Failure {
    /// A pack that does not load (or an error loading one), as `check` shows it: every
    /// error with its source lines, coloured on a terminal. The one place the command line
    /// renders a `leadscore::Error`.
    pub fn pack(error: leadscore::Error) -> Failure {
        use std::io::IsTerminal;
        match error {
            leadscore::Error::Pack(errors) => Failure(errors.render(std::io::stderr().is_terminal())),
            other => Failure(format!("error: {other}")),
        }
    }
}

/// Writes to standard output or error; when that is closed (a reader like `head` that
/// has read enough), there is nobody left to tell anything, so the command ends with 2.
pub fn write_or_exit(to: &mut dyn std::io::Write, args: std::fmt::Arguments) {
    if to.write_fmt(args).and_then(|()| to.flush()).is_err() {
        std::process::exit(2);
    }
}

/// Standard output as every command writes it: when it is closed (`leadscore backtest
/// --json | head`), the command ends quietly with 2, whichever writer (JSON, CSV, text)
/// found out, instead of reporting "Broken pipe".
pub struct Stdout(std::io::StdoutLock<'static>);

/// The locked standard output, closing quietly (see [`Stdout`]).
pub fn stdout() -> Stdout {
    Stdout(std::io::stdout().lock())
}

impl std::io::Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        quiet(self.0.write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        quiet(self.0.flush())
    }
}

/// Ends the command quietly on a closed pipe; any other result is passed on.
fn quiet<T>(result: std::io::Result<T>) -> std::io::Result<T> {
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(2),
        other => other,
    }
}

/// Parses arguments, runs the command, maps the result to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Score(args) => score::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Stats(args) => stats::run(&args),
        Command::Repl(args) => repl::run(&args),
        Command::Test(args) => test::run(&args),
        Command::Watch(args) => watch::run(&args),
        Command::Gen(args) => gen::run(&args),
        Command::Fmt(args) => fmt::run(&args),
        #[cfg(feature = "serve")]
        Command::Serve(args) => serve::run(&args),
        #[cfg(feature = "serve")]
        Command::Backup(args) => backup::backup(&args),
        #[cfg(feature = "serve")]
        Command::Restore(args) => backup::restore(&args),
        #[cfg(feature = "serve")]
        Command::Funnel(args) => funnel::run(&args),
        Command::Backtest(args) => backtest::run(&args),
        Command::Fit(args) => fit::run(&args),
        Command::Diff(args) => diff::run(&args),
        Command::Drift(args) => drift::run(&args),
        Command::Lsp(args) => lsp::run(&args),
    };
    match result {
        Ok(Exit::Success) => ExitCode::SUCCESS,
        Ok(Exit::Partial) => ExitCode::from(1),
        Err(Failure(message)) => {
            let message = message.trim_end();
            if !message.is_empty() {
                errln!("{message}");
            }
            ExitCode::from(2)
        }
    }
}

/// Loads a pack, rendering its diagnostics (in colour on a terminal) on failure.
pub fn load_pack(dir: &std::path::Path, args: &PackArgs) -> Result<leadscore::Pack, Failure> {
    args.loader().load(dir).map_err(Failure::pack)
}

/// Parses a precision for `--min-precision`: a number in (0, 1]. A precision of 0 is
/// every threshold; NaN, above 1 or negative is no precision at all.
pub fn precision(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(p) if p > 0.0 && p <= 1.0 => Ok(p),
        _ => Err(format!(
            "{text:?} is not a precision: give a number above 0 and at most 1 (like 0.4)"
        )),
    }
}

/// The time to score as of: `--as-of`, or now.
pub fn as_of(arg: Option<&str>) -> Result<chrono::DateTime<chrono::Utc>, Failure> {
    match arg {
        None => Ok(chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 0)),
        Some(text) => leadscore::parse_time(text).ok_or_else(|| {
            Failure(format!(
                "error: --as-of {text:?} is not an RFC 3339 time (like 2026-03-01T00:00:00Z)"
            ))
        }),
    }
}
