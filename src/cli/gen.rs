//! `leadscore gen`: realistic, deterministic synthetic leads on standard output, streamed
//! one at a time so any number of leads fits in constant memory.

use std::io::{BufWriter, Write};

use super::{Exit, Failure};

/// Output formats of `gen`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON lead per line, with its events (what `leadscore score` reads).
    Jsonl,
    /// A flat CRM-style export: one row per lead, events summarised as counts.
    Csv,
}

/// Arguments of `gen`.
#[derive(clap::Args, Debug)]
pub struct GenArgs {
    /// How many leads to write.
    #[arg(long, value_name = "N")]
    leads: u64,
    /// Events per lead (JSON Lines), exactly; at most 1,000,000 (a lead is built whole).
    #[arg(long = "events-per-lead", value_name = "M", default_value_t = 20, value_parser = events_per_lead)]
    events_per_lead: usize,
    /// The seed: the same seed gives the same leads.
    #[arg(long, value_name = "S", default_value_t = 1)]
    seed: u64,
    /// Events are spread over the 120 days before this RFC 3339 time.
    #[arg(long = "as-of", value_name = "TIME", default_value = "2026-03-01T00:00:00Z")]
    as_of: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    format: Format,
    /// Also write `judged_at` and `converted`, drawn from the planted model (the manual: "Is my
    /// pack any good?").
    #[arg(long)]
    outcomes: bool,
    /// With --outcomes, also write `Tags` and `Lead Quality`: columns a CRM fills in after
    /// the outcome (to see `fit --suggest` catch leakage).
    #[arg(long, requires = "outcomes")]
    leaky: bool,
}

/// The most events one generated lead may have: it is built in memory (~150 bytes an event).
const MAX_EVENTS_PER_LEAD: usize = 1_000_000;

fn events_per_lead(text: &str) -> Result<usize, String> {
    let n: usize = text.parse().map_err(|e| format!("{e}"))?;
    if n > MAX_EVENTS_PER_LEAD {
        return Err(format!(
            "at most {MAX_EVENTS_PER_LEAD} events per lead (a lead is built in memory)"
        ));
    }
    Ok(n)
}

/// Writes the leads.
pub fn run(args: &GenArgs) -> Result<Exit, Failure> {
    let as_of = super::as_of(Some(&args.as_of))?;
    let generator = leadscore::gen::Generator::new(args.seed)
        .events_per_lead(args.events_per_lead)
        .as_of(as_of);
    let generator = match (args.outcomes, args.leaky) {
        (true, true) => generator.outcomes(args.seed).leaky(),
        (true, false) => generator.outcomes(args.seed),
        _ => generator,
    };
    let leads = generator.take(usize::try_from(args.leads).unwrap_or(usize::MAX));
    let stdout = std::io::stdout();
    let out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let written = match args.format {
        Format::Jsonl => write_jsonl(out, leads),
        Format::Csv => write_csv(out, leads, args.outcomes, args.leaky),
    };
    match written {
        Ok(()) => Ok(Exit::Success),
        // A closed pipe (`leadscore gen ... | head`) is the reader being done, not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Exit::Success),
        Err(e) => Err(Failure(format!("error: cannot write: {e}"))),
    }
}

fn write_jsonl(mut out: impl Write, leads: impl Iterator<Item = leadscore::gen::SyntheticLead>) -> std::io::Result<()> {
    for lead in leads {
        serde_json::to_writer(&mut out, &lead)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

fn write_csv(
    out: impl Write,
    leads: impl Iterator<Item = leadscore::gen::SyntheticLead>,
    outcomes: bool,
    leaky: bool,
) -> std::io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    let mut header = leadscore::gen::CSV_HEADER.map(String::from).to_vec();
    if outcomes {
        header.extend(["judged_at".to_string(), "converted".to_string()]);
    }
    if leaky {
        header.extend(["Tags".to_string(), "Lead Quality".to_string()]);
    }
    writer.write_record(header)?;
    for lead in leads {
        let mut row = lead.csv_record();
        if let (Some(at), Some(converted)) = (&lead.judged_at, lead.converted) {
            row.extend([at.clone(), converted.to_string()]);
        }
        if let (Some(tags), Some(quality)) = (lead.tags, lead.lead_quality) {
            row.extend([tags.to_string(), quality.to_string()]);
        }
        writer.write_record(row)?;
    }
    writer.flush()
}
