//! `leadscore drift`: do the current leads still look like the baseline the pack was tuned
//! on? Scores both with the same pack and reports the score's population stability index,
//! each rule's fire rate, the MQL rate and the fields that moved most.

use std::path::PathBuf;

use leadscore_outcomes::drift::{observe, DriftReport, Side};
use leadscore_outcomes::{Reader, Rules};

use super::judge::{each_lead, print_report, InputArgs, JudgeArgs, Lead};
use super::{load_pack, Exit, Failure};

/// Arguments of `drift`.
#[derive(clap::Args, Debug)]
pub struct DriftArgs {
    /// The pack folder.
    #[arg(long)]
    pack: PathBuf,
    #[command(flatten)]
    judge: JudgeArgs,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    json: bool,
    /// Also write a self-contained HTML report to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// BASELINE then CURRENT: two files of leads (JSON Lines, CSV or JSON).
    #[command(flatten)]
    input: InputArgs,
}

/// Scores both files and prints the report.
pub fn run(args: &DriftArgs) -> Result<Exit, Failure> {
    let [baseline, current] = args.input.inputs.as_slice() else {
        return Err(Failure("error: drift compares two files: BASELINE CURRENT".into()));
    };
    let pack = load_pack(&args.pack, &args.input.pack_args)?;
    let setup = args.judge.setup(None, None, &args.input.id_field)?;
    let reader = Reader::new(setup);
    let rules = Rules::of(&pack);
    let mut skip = vec![args.input.id_field.as_str()];
    skip.extend(args.judge.as_of_field.as_deref());
    let side = |path: &PathBuf| -> Result<(Side, bool), Failure> {
        let mut input = args.input.clone();
        input.inputs = vec![path.clone()];
        let mut side = Side::default();
        let failed = each_lead(
            &input,
            // Drift looks at every field, not only those the pack reads.
            super::input::Columns::All,
            true,
            |lead| {
                let parsed;
                let value = match lead {
                    Lead::Text(text) => {
                        parsed = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
                        &parsed
                    }
                    Lead::Value(value) => value,
                };
                let (_, outcome) = reader.judge_value(&pack, value)?;
                Ok((outcome, observe(value, &skip)))
            },
            |result| match result {
                Ok((outcome, fields)) => side.add(&rules, &outcome, fields),
                Err(_) => side.fail(),
            },
        )?;
        Ok((side, failed))
    };
    let (b, failed_b) = side(baseline)?;
    let (c, failed_c) = side(current)?;
    let report = DriftReport::build(
        pack.id().to_string(),
        &rules,
        (&baseline.display().to_string(), &b),
        (&current.display().to_string(), &c),
    );
    if let Some(path) = &args.html {
        std::fs::write(path, leadscore_outcomes::drift_html::render(&report))
            .map_err(|e| Failure(format!("error: cannot write {}: {e}", path.display())))?;
    }
    print_report(&report, args.json, failed_b || failed_c)
}
