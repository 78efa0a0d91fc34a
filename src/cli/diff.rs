//! `leadscore diff`: the same leads scored by two packs — what a change does before it ships.

use std::path::PathBuf;

use leadscore_outcomes::diff::Diff;
use leadscore_outcomes::{score_json, score_value, Reader};

use super::judge::{columns, each_lead, print_report, InputArgs, JudgeArgs, Lead};
use super::{load_pack, Exit, Failure};

/// Arguments of `diff`.
#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// The two pack folders: `--pack A --pack B`.
    #[arg(long, num_args = 1, required = true, value_name = "DIR")]
    pack: Vec<PathBuf>,
    /// Also compare both packs against the outcome in this field.
    #[arg(long, value_name = "FIELD")]
    outcome: Option<String>,
    #[command(flatten)]
    judge: JudgeArgs,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    input: InputArgs,
}

/// Scores the leads with both packs and prints what changed.
pub fn run(args: &DiffArgs) -> Result<Exit, Failure> {
    let [a, b] = args.pack.as_slice() else {
        return Err(Failure(format!(
            "error: diff compares two packs (--pack A --pack B), not {}",
            args.pack.len()
        )));
    };
    let (a, b) = (
        load_pack(a, &args.input.pack_args)?,
        load_pack(b, &args.input.pack_args)?,
    );
    let setup = args.judge.setup(args.outcome.as_deref(), None, &args.input.id_field)?;
    let columns = columns(&a, &setup).union(columns(&b, &setup));
    let reader = Reader::new(setup);
    let mut diff = Diff::default();
    let failed = each_lead(
        &args.input,
        columns,
        true,
        |lead| match lead {
            Lead::Text(text) => {
                let facts = reader.facts_json(text)?;
                let one = score_json(&a, text, facts.at).map_err(|e| format!("pack A: {e}"))?;
                let two = score_json(&b, text, facts.at).map_err(|e| format!("pack B: {e}"))?;
                Ok((facts, one, two))
            }
            Lead::Value(value) => {
                let facts = reader.facts_value(value)?;
                let one = score_value(&a, value, facts.at).map_err(|e| format!("pack A: {e}"))?;
                let two = score_value(&b, value, facts.at).map_err(|e| format!("pack B: {e}"))?;
                Ok((facts, one, two))
            }
        },
        |result| match result {
            Ok((facts, one, two)) => diff.add(&facts, &one, &two),
            Err(_) => diff.fail(),
        },
    )?;
    let report = diff.report(a.id().to_string(), b.id().to_string(), args.outcome.is_some());
    print_report(&report, args.json, failed)
}
