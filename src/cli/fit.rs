//! `leadscore fit`: points that fit the outcomes. Fits a logistic regression on the
//! pack's rules over training leads, writes a copy of the pack where only the numbers
//! changed (points, `each max`, the threshold) and compares old and new on held-out leads.

use std::path::{Path, PathBuf};

use leadscore_outcomes::backtest::GoalSpec;
use leadscore_outcomes::refit::{new_threshold, FitOptions, FitReport, Gap, Holdout, Plan, Split};
use leadscore_outcomes::rewrite::{numbers, rewrite, threshold_edit};
use leadscore_outcomes::suggest::{rank, Candidates};
use leadscore_outcomes::{Reader, Rows, Rules};

use super::judge::{each_lead, print_report, InputArgs, JudgeArgs, Lead};
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
    if !(0.0..1.0).contains(&args.holdout) {
        return Err(Failure(format!(
            "error: --holdout must be at least 0 and below 1, not {}",
            args.holdout
        )));
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
    let pack = load_pack(&args.pack, &args.input.pack_args)?;
    let setup = args.judge.setup(Some(&args.outcome), None, &args.input.id_field)?;
    let reader = Reader::new(setup);
    let rules = Rules::of(&pack);
    let mut skip = vec![args.outcome.as_str(), args.input.id_field.as_str()];
    skip.extend(args.judge.as_of_field.as_deref());
    let mut candidates = (args.suggest > 0).then(|| Candidates::for_pack(&pack, skip));
    let (rows, mut failed) = collect(args, &pack, &reader, &rules, candidates.as_mut(), true)?;
    let options = FitOptions {
        split,
        lambda: args.lambda,
        min_fired: args.min_fired,
        goal,
    };
    let train: Vec<bool> = rows.rows.iter().map(|r| split.is_train(r)).collect();
    let found = numbers(pack.sources());
    let fit = |suggestions| {
        Plan::fit(&rows, &rules, &found, suggestions, &options).map_err(|e| Failure(format!("error: {e}")))
    };
    let (plan, gap) = match candidates {
        None => (fit(Vec::new())?, None),
        Some(c) => {
            let columns = c.columns();
            let all = rank(columns.clone(), &rows, &train, usize::MAX, args.min_fired);
            let gap = Gap {
                columns: all.len(),
                rules_only_auc: fit(Vec::new())?.holdout_auc(&rows),
                all_columns_auc: fit(all)?.holdout_auc(&rows),
            };
            (
                fit(rank(columns, &rows, &train, args.suggest, args.min_fired))?,
                Some(gap),
            )
        }
    };
    copy_pack(&args.pack, &args.out)?;
    write_rules(&args.out, &rewrite(pack.sources(), &plan.edits))?;
    let suggested = args.out.join("suggested.rules");
    if args.suggest > 0 {
        write(&suggested, &plan.suggested_file())?;
    } else if suggested.exists() && !args.pack.join("suggested.rules").exists() {
        // Left by an earlier `fit --suggest` into the same folder: not part of this fit.
        std::fs::remove_file(&suggested)
            .map_err(|e| Failure(format!("error: cannot remove {}: {e}", suggested.display())))?;
    }
    // Score with the new points to choose the threshold on the training leads.
    let refitted = load_pack(&args.out, &args.input.pack_args)?;
    let (rescored, f2) = collect(args, &refitted, &reader, &Rules::of(&refitted), None, false)?;
    let recommended = new_threshold(&rescored, &split, goal);
    let mut edits = plan.edits.clone();
    let threshold_note = match (found.threshold, recommended.threshold) {
        (Some(_), Some(t)) => {
            edits.extend(threshold_edit(&found, t));
            None
        }
        (None, _) => Some("the pack's MQL condition has no `threshold N` or `score >= N` to rewrite".to_string()),
        (Some(_), None) => None,
    };
    write_rules(&args.out, &rewrite(pack.sources(), &edits))?;
    let fitted = load_pack(&args.out, &args.input.pack_args)?;
    let (final_rows, f3) = collect(args, &fitted, &reader, &Rules::of(&fitted), None, false)?;
    failed |= f2 || f3;
    let new_threshold = numbers(fitted.sources()).threshold.map(|t| t.value);
    let report = FitReport {
        pack: pack.id().to_string(),
        out_dir: args.out.display().to_string(),
        train: train.iter().filter(|&&t| t).count() as u64,
        test: train.iter().filter(|&&t| !t).count() as u64,
        scale: plan.scale,
        points_to_double_odds: plan.scale * std::f64::consts::LN_2,
        rules: plan.points.clone(),
        suggested: plan.suggested.clone(),
        recommended,
        threshold_note,
        old: Holdout::of(&rows, &split, found.threshold.map(|t| t.value)),
        new: Holdout::of(&final_rows, &split, new_threshold),
        regression_auc: plan.holdout_auc(&rows),
        gap,
    };
    write(&args.out.join("fit-report.txt"), &report.to_string())?;
    print_report(&report, args.json, failed)
}

/// Scores every lead with `pack`, keeping rows (and candidates, when collecting them).
fn collect(
    args: &FitArgs,
    pack: &leadscore::Pack,
    reader: &Reader,
    rules: &Rules,
    mut candidates: Option<&mut Candidates>,
    report: bool,
) -> Result<(Rows, bool), Failure> {
    let keep_lead = candidates.is_some();
    let mut rows = Rows::default();
    let failed = each_lead(
        &args.input,
        // `--suggest` looks at every column.
        super::input::Columns::All,
        // The later passes read the same leads: their failures were reported by the first.
        report,
        |lead| {
            let (facts, outcome) = match lead {
                Lead::Text(text) => reader.judge_json(pack, text)?,
                Lead::Value(value) => reader.judge_value(pack, value)?,
            };
            let value = match (keep_lead, lead) {
                (false, _) => None,
                (true, Lead::Text(text)) => Some(serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?),
                (true, Lead::Value(value)) => Some(value.clone()),
            };
            Ok((facts, outcome, value))
        },
        |result| match result {
            Ok((facts, outcome, value)) => {
                let before = rows.rows.len();
                rows.add(rules, &facts, &outcome);
                if let (Some(c), Some(v), true) = (candidates.as_deref_mut(), value, rows.rows.len() > before) {
                    c.add(&v, facts.at);
                }
            }
            Err(_) => rows.fail(),
        },
    )?;
    Ok((rows, failed))
}

/// Copies the pack folder (rules, plugins, tests) into OUT_DIR.
fn copy_pack(from: &Path, to: &Path) -> Result<(), Failure> {
    let same = std::fs::canonicalize(from)
        .ok()
        .zip(std::fs::canonicalize(to).ok())
        .is_some_and(|(a, b)| a == b);
    if same {
        return Err(Failure("error: OUT_DIR must not be the pack itself".into()));
    }
    copy_dir(from, to).map_err(|e| {
        Failure(format!(
            "error: cannot copy {} to {}: {e}",
            from.display(),
            to.display()
        ))
    })
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Writes rewritten rule files (named `pack/file.rules`) into OUT_DIR.
fn write_rules(out: &Path, files: &[(String, String)]) -> Result<(), Failure> {
    for (name, text) in files {
        let file = name.rsplit('/').next().unwrap_or(name);
        write(&out.join(file), text)?;
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text).map_err(|e| Failure(format!("error: cannot write {}: {e}", path.display())))
}
