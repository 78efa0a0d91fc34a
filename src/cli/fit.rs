//! `leadscore fit`: points that fit the outcomes. Fits a logistic regression on the
//! pack's rules over training leads, writes a copy of the pack where only the numbers
//! changed (points, `each max`, the threshold) and compares old and new on held-out leads.

use std::path::PathBuf;

use leadscore_outcomes::backtest::GoalSpec;
use leadscore_outcomes::refit::{FitOptions, Split};
use leadscore_outcomes::tune::{self, FitInput};
use leadscore_outcomes::{OutcomesError, Reader};

use super::judge::{print_report, Files, InputArgs, JudgeArgs};
use super::outdir::OutDir;
use super::{load_pack, Exit, Failure};

/// Arguments of `fit`.
#[derive(clap::Args, Debug)]
pub struct FitArgs {
    /// The pack folder.
    #[arg(long)]
    pack: PathBuf,
    /// The field holding each lead's outcome.
    #[arg(long, value_name = "FIELD")]
    outcome: String,
    /// Where to write the fitted pack (a new folder, or one `fit` wrote before).
    #[arg(short = 'o', long = "out", value_name = "OUT_DIR")]
    out: PathBuf,
    #[command(flatten)]
    judge: JudgeArgs,
    /// The share of leads held out to compare old and new points (a seeded split).
    #[arg(long, default_value_t = 0.3, value_name = "F", conflicts_with = "split_at")]
    holdout: f64,
    /// Instead: train on leads judged before this RFC 3339 time, test on the rest (needs --as-of-field).
    #[arg(long = "split-at", value_name = "TIME", requires = "as_of_field")]
    split_at: Option<String>,
    /// The seed of the holdout split.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// A rule that fired for fewer training leads keeps its points.
    #[arg(long = "min-fired", default_value_t = 30, value_name = "N")]
    min_fired: u64,
    /// The L2 penalty of the regression.
    #[arg(long, default_value_t = 1.0, value_name = "L")]
    lambda: f64,
    /// Also propose up to N new rules into OUT_DIR/suggested.rules.
    #[arg(long, default_value_t = 0, value_name = "N")]
    suggest: usize,
    /// Propose rules on this column although it is suspected of leakage (repeatable; a
    /// field, an event type or `type.property`).
    #[arg(long = "allow-column", value_name = "NAME", requires = "suggest")]
    allow_column: Vec<String>,
    /// Choose the new threshold as the lowest with precision at least P.
    #[arg(long = "min-precision", value_name = "P", conflicts_with = "capacity", value_parser = super::precision)]
    min_precision: Option<f64>,
    /// Choose the new threshold as the highest-recall one with at most N MQLs a week.
    #[arg(long, value_name = "N", requires = "as_of_field")]
    capacity: Option<f64>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    input: InputArgs,
}

/// Fits, writes OUT_DIR and prints the report.
pub fn run(args: &FitArgs) -> Result<Exit, Failure> {
    if args.input.inputs.is_empty() || args.input.inputs.iter().any(|p| p.as_os_str() == "-") {
        return Err(Failure(
            "error: fit reads its input files several times; name files, not standard input".into(),
        ));
    }
    let split = match &args.split_at {
        Some(t) => Split::At(super::as_of(Some(t))?.timestamp_millis()),
        None => Split::Holdout {
            fraction: args.holdout,
            seed: args.seed,
        },
    };
    let goal = match (args.min_precision, args.capacity) {
        (Some(p), _) => GoalSpec::MinPrecision(p),
        (None, Some(n)) => GoalSpec::Capacity(n),
        _ => GoalSpec::F1,
    };
    let options = FitOptions {
        split,
        lambda: args.lambda,
        min_fired: args.min_fired,
        goal,
        suggest: args.suggest,
        allow_columns: args.allow_column.clone(),
    };
    options.check().map_err(failure)?;
    let out_dir = OutDir::check(&args.pack, &args.out)?;
    let loader = args.input.pack_args.loader();
    let pack = load_pack(&args.pack, &args.input.pack_args)?;
    let reader = Reader::new(args.judge.setup(Some(&args.outcome), None, &args.input.id_field)?);
    let shown = args.out.display().to_string();
    let input = FitInput {
        pack: &pack,
        loader: &loader,
        dir: Some(&args.pack),
        reader: &reader,
        leads: &Files(&args.input),
        out_dir: &shown,
    };
    let fitted = tune::fit(&input, &options).map_err(failure)?;
    // The text report ends with them; JSON readers see them on standard error too.
    for warning in fitted.report.warnings.iter().filter(|_| args.json) {
        errln!("warning: {warning}");
    }
    let mut files = fitted.files.clone();
    files.push(("fit-report.txt".to_string(), fitted.report.to_string()));
    out_dir.write(&args.pack, &files)?;
    copied_tests(&args.out, &loader);
    print_report(&fitted.report, args.json, fitted.failed)
}

/// Says how many of the test cases copied into OUT_DIR fail with the fitted points: they
/// were written for the old ones, and are the author's to review (they are not rewritten,
/// which would make them pass whatever the points).
fn copied_tests(out: &std::path::Path, loader: &leadscore::Loader) {
    let tests = leadscore::packtest::PackTests::load(out);
    if tests.cases().is_empty() {
        return;
    }
    let Ok(fitted) = loader.load(out) else {
        return; // it checked before it was written; nothing to say if it no longer loads
    };
    let reports = tests.run_cases(&fitted, None);
    let failed = reports.iter().filter(|r| !r.passed()).count();
    if failed > 0 {
        errln!(
            "note: {failed} of {} test cases copied into {} fail with the fitted points (they expect the old ones): review them with `leadscore test {}`",
            reports.len(),
            leadscore::show_text(&out.display().to_string()),
            leadscore::show_text(&out.display().to_string())
        );
    }
}

/// A fit error as the command line shows it.
fn failure(error: OutcomesError) -> Failure {
    use std::io::IsTerminal;
    match error {
        OutcomesError::Leads(e) => Failure(e.to_string()),
        OutcomesError::Refitted(leadscore::Error::Pack(errors)) => Failure(format!(
            "error: the fitted pack does not check, so nothing was written:\n{}",
            errors.render(std::io::stderr().is_terminal())
        )),
        other => Failure(format!("error: {other}")),
    }
}
