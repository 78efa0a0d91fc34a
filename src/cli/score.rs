//! `leadscore score`: every lead of the input scored, as JSON Lines or CSV, optionally
//! with a summary on standard error (see `batch.rs` for the driver).

use std::io::BufWriter;

use super::batch::{self, BatchArgs, OutputFormat, Sink};
use super::summary::Stats;
use super::{Exit, Failure};

/// Arguments of `score`.
#[derive(clap::Args, Debug)]
pub struct ScoreArgs {
    #[command(flatten)]
    batch: BatchArgs,
    /// The output format.
    #[arg(long, value_enum, default_value = "jsonl", value_name = "FORMAT")]
    output: OutputFormat,
    /// Add a human-readable explanation to each result.
    #[arg(long)]
    explain: bool,
    /// Also print a summary (as `leadscore stats` does) to standard error at the end.
    #[arg(long)]
    summary: bool,
}

/// Scores every lead of the input.
pub fn run(args: &ScoreArgs) -> Result<Exit, Failure> {
    let mut sink = match args.output {
        // 64 KiB: a batch's lines go out in a few writes, not one per 8 KiB.
        OutputFormat::Jsonl => Sink::Jsonl(BufWriter::with_capacity(64 << 10, super::stdout())),
        OutputFormat::Csv => Sink::Csv(Box::new(csv::Writer::from_writer(super::stdout()))),
    };
    let mut stats = args.summary.then(Stats::default);
    let outcome = batch::run_batch(&args.batch, &mut sink, stats.as_mut(), args.explain)?;
    if let Some(stats) = stats {
        err!("{stats}");
    }
    Ok(outcome)
}
