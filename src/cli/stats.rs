//! `leadscore stats`: score the input and print only the summary.

use std::io::Write;

use super::batch::{self, BatchArgs};
use super::summary::Stats;
use super::{Exit, Failure};

/// Arguments of `stats`: the same inputs as `score`.
#[derive(clap::Args, Debug)]
pub struct StatsArgs {
    #[command(flatten)]
    batch: BatchArgs,
}

/// Scores the input and prints only the summary.
pub fn run(args: &StatsArgs) -> Result<Exit, Failure> {
    let mut stats = Stats::default();
    let outcome = batch::run_batch(&args.batch, &mut batch::Sink::Stats, Some(&mut stats), false)?;
    write!(super::stdout(), "{}", leadscore::show_rendered(&stats.to_string()))?;
    Ok(outcome)
}
