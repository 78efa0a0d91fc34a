//! `leadscore backtest`: does the pack predict which leads convert? Scores labelled leads
//! and reports AUC, MQL precision/recall/lift, bands, a threshold sweep, the rules against
//! the data and, with `--html`, a self-contained page of the same.

use std::path::{Path, PathBuf};

use leadscore_outcomes::backtest::{GoalSpec, Report, ReportOptions};
use leadscore_outcomes::tune::holding_pack;
use leadscore_outcomes::{Reader, Rows, Rules};

use super::judge::{columns, each_lead, print_report, InputArgs, JudgeArgs};
use super::{load_pack, Exit, Failure};

/// Arguments of `backtest`.
#[derive(clap::Args, Debug)]
pub struct BacktestArgs {
    /// The pack folder.
    #[arg(long)]
    pack: PathBuf,
    /// The field holding each lead's outcome (plain, dotted or a CSV column name).
    #[arg(long, value_name = "FIELD")]
    outcome: String,
    #[command(flatten)]
    judge: JudgeArgs,
    /// Equal-count score bands.
    #[arg(long, default_value_t = 10, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    bands: u16,
    /// Recommend the lowest threshold whose precision is at least P (0 to 1).
    #[arg(long = "min-precision", value_name = "P", conflicts_with = "capacity", value_parser = super::precision)]
    min_precision: Option<f64>,
    /// Recommend the highest-recall threshold with at most N MQLs a week (needs --as-of-field).
    #[arg(long, value_name = "N", requires = "as_of_field")]
    capacity: Option<f64>,
    /// Recommend the threshold with the highest F1 (by default: the highest recall that
    /// keeps the current MQL volume).
    #[arg(long = "max-f1", conflicts_with_all = ["min_precision", "capacity"])]
    max_f1: bool,
    /// Break MQLs, precision and recall down by this field (the lead source, say).
    #[arg(long, value_name = "FIELD")]
    by: Option<String>,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    json: bool,
    /// Also write a self-contained HTML report to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    #[command(flatten)]
    input: InputArgs,
}

/// Scores the leads and prints the report.
pub fn run(args: &BacktestArgs) -> Result<Exit, Failure> {
    let goal = goal(args)?;
    if let Some(html) = &args.html {
        refuse_an_input(html, &args.input.inputs)?;
    }
    let pack = load_pack(&args.pack, &args.input.pack_args)?;
    let holding = holding_pack(&pack, &args.input.pack_args.loader(), Some(&args.pack))
        .map_err(|e| Failure(format!("error: {e}")))?;
    let setup = args
        .judge
        .setup(Some(&args.outcome), args.by.as_deref(), &args.input.id_field)?;
    let columns = columns(&pack, &setup);
    let reader = Reader::new(setup);
    let rules = Rules::of(&pack);
    let mut rows = Rows::default();
    let failed = each_lead(
        &args.input,
        columns,
        true,
        |lead| reader.judge(&pack, holding.as_ref(), lead),
        |result| match result {
            Ok(judgement) => rows.add_judged(&rules, &judgement),
            Err(_) => rows.fail(),
        },
    )?;
    if let Some(warning) = rows
        .check_labelled(reader.setup())
        .map_err(|e| Failure(format!("error: {e}")))?
    {
        errln!("warning: {warning}");
    }
    let numbers = leadscore_outcomes::rewrite::numbers(pack.sources());
    let options = ReportOptions {
        bands: usize::from(args.bands),
        goal,
        threshold: numbers.threshold.map(|t| t.value),
        by: args.by.clone(),
        mql: numbers.mql,
    };
    let report = Report::build(pack.id().to_string(), &rows, &rules, &options);
    if let Some(path) = &args.html {
        std::fs::write(path, leadscore_outcomes::html::render(&report))
            .map_err(|e| Failure(format!("error: cannot write {}: {e}", path.display())))?;
    }
    print_report(&report, args.json, failed)
}

fn goal(args: &BacktestArgs) -> Result<GoalSpec, Failure> {
    let goal = match (args.min_precision, args.capacity) {
        (Some(p), _) => GoalSpec::MinPrecision(p),
        (None, Some(n)) => GoalSpec::Capacity(n),
        (None, None) if args.max_f1 => GoalSpec::F1,
        (None, None) => GoalSpec::Current,
    };
    goal.check().map_err(|e| Failure(format!("error: {e}")))?;
    Ok(goal)
}

/// Refuses an output file that is one of the input files (the same file, by whatever path).
fn refuse_an_input(output: &Path, inputs: &[PathBuf]) -> Result<(), Failure> {
    let Ok(out) = std::fs::metadata(output) else {
        return Ok(());
    };
    for input in inputs {
        if std::fs::metadata(input).is_ok_and(|i| same_file(&out, &i)) {
            return Err(Failure(format!(
                "error: --html {} is the input file {}: name another file for the report",
                output.display(),
                input.display()
            )));
        }
    }
    Ok(())
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    a.len() == b.len() && a.modified().ok() == b.modified().ok() && a.created().ok() == b.created().ok()
}
