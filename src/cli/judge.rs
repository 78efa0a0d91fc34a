//! Reading leads with their outcomes for `backtest`, `fit` and `diff`: the inputs and
//! options `score` takes, the outcome and judging-time options, and one loop that reads
//! batches ahead (the reader `score` uses), works on each lead in parallel and hands the
//! results over in input order. A lead that fails is reported as `score` reports it. And
//! the one way the three print their report.

use std::path::PathBuf;

use serde_json::Value;

use super::batch::{delimiter, read_ahead, threads, Read};
use super::input::{Columns, Format, Item, Position, ReadOptions};
use super::{Exit, Failure, PackArgs};
use leadscore_outcomes::tune::{Judged, Leads, SourceError, Work};
pub use leadscore_outcomes::Lead;
use leadscore_outcomes::{Labels, Setup, When, DEFAULT_NEGATIVE, DEFAULT_POSITIVE};

/// The leads to read, as `score` reads them.
#[derive(clap::Args, Clone, Debug)]
pub struct InputArgs {
    /// Input files: JSON Lines, CSV (`.csv`) or JSON (`.json`). None, or `-`, reads JSON
    /// Lines from standard input.
    #[arg(value_name = "FILE")]
    pub inputs: Vec<PathBuf>,
    /// The input format, when the file extension does not tell it.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// The CSV field delimiter: one character (`;`, `|`, `tab`) [default: `,`].
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,
    /// The longest JSON line read, in bytes.
    #[arg(long = "max-line-bytes", value_name = "BYTES", default_value_t = 256 << 20)]
    pub max_line_bytes: usize,
    /// The field that holds each lead's id (default `id`; the line number when missing).
    #[arg(long = "id-field", value_name = "NAME", default_value = "id")]
    pub id_field: String,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub pack_args: PackArgs,
}

/// Which outcome values count, and when each lead is judged.
#[derive(clap::Args, Debug)]
pub struct JudgeArgs {
    /// Values of the outcome field meaning converted, comma-separated (default: true, 1,
    /// yes, y, won, closed-won, converted; case-insensitive).
    #[arg(long, value_name = "V[,V...]")]
    pub positive: Option<String>,
    /// Values meaning not converted (default: false, 0, no, n, lost, closed-lost). Any
    /// other value, or none, leaves the lead unlabelled.
    #[arg(long, value_name = "V[,V...]")]
    pub negative: Option<String>,
    /// Judge every lead as of this RFC 3339 time (default: now).
    #[arg(long = "as-of", value_name = "TIME", conflicts_with = "as_of_field")]
    pub as_of: Option<String>,
    /// Judge each lead as of the RFC 3339 time in this field (e.g. when it was handed to
    /// sales): later events do not count.
    #[arg(long = "as-of-field", value_name = "FIELD")]
    pub as_of_field: Option<String>,
}

impl JudgeArgs {
    /// The setup for reading leads with this outcome field and `--by` field.
    pub fn setup(&self, outcome: Option<&str>, by: Option<&str>, id_field: &str) -> Result<Setup, Failure> {
        let list = |given: &Option<String>, default: &[&str]| -> Vec<String> {
            match given {
                Some(text) => text
                    .split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(String::from)
                    .collect(),
                None => default.iter().map(|v| v.to_string()).collect(),
            }
        };
        for (option, given) in [("--positive", &self.positive), ("--negative", &self.negative)] {
            if given
                .as_ref()
                .is_some_and(|text| text.split(',').all(|v| v.trim().is_empty()))
            {
                return Err(Failure(format!("error: {option} names no value")));
            }
        }
        let labels = Labels::new(
            list(&self.positive, &DEFAULT_POSITIVE),
            list(&self.negative, &DEFAULT_NEGATIVE),
        );
        if let Some(both) = labels.positive().iter().find(|v| labels.negative().contains(v)) {
            return Err(Failure(format!(
                "error: {both:?} is both a --positive and a --negative value"
            )));
        }
        let when = match &self.as_of_field {
            Some(field) => When::Field(field.clone()),
            None => When::At(super::as_of(self.as_of.as_deref())?.timestamp_millis()),
        };
        Ok(Setup {
            outcome: outcome.map(String::from),
            labels,
            when,
            by: by.map(String::from),
            id_field: id_field.to_string(),
        })
    }
}

/// The input files as a source of leads that `fit` reads once per pass.
pub struct Files<'a>(pub &'a InputArgs);

impl Leads for Files<'_> {
    fn each(
        &self,
        first: bool,
        work: &Work<'_>,
        sink: &mut dyn FnMut(Result<Judged, String>),
    ) -> Result<bool, SourceError> {
        // Every column: `--suggest` may propose rules on fields the pack does not read.
        each_lead(self.0, Columns::All, first, work, sink).map_err(|Failure(message)| message.into())
    }
}

/// The CSV columns `pack` and the judging of `setup` read: the pack's fields, the
/// outcome, time, `--by` and id fields.
pub fn columns(pack: &leadscore::Pack, setup: &Setup) -> Columns {
    let mut also = vec![setup.id_field.as_str()];
    also.extend(setup.outcome.as_deref());
    also.extend(setup.by.as_deref());
    if let When::Field(field) = &setup.when {
        also.push(field);
    }
    Columns::of(pack, &also)
}

/// Reads every input; `work` runs on each lead in parallel, `sink` gets each result in
/// input order (`Err` for a lead that could not be read or worked on, reported on standard
/// error when `report_failures`). Returns whether any lead failed.
pub fn each_lead<T: Send>(
    args: &InputArgs,
    columns: Columns,
    report_failures: bool,
    work: impl Fn(Lead) -> Result<T, String> + Sync,
    mut sink: impl FnMut(Result<T, String>),
) -> Result<bool, Failure> {
    let options = ReadOptions {
        delimiter: delimiter(args.delimiter.as_deref().unwrap_or(","))?,
        delimiter_given: args.delimiter.is_some(),
        max_line: args.max_line_bytes,
        columns,
    };
    let inputs: Vec<Option<PathBuf>> = if args.inputs.is_empty() {
        vec![None]
    } else {
        args.inputs.iter().cloned().map(Some).collect()
    };
    let files = inputs
        .into_iter()
        .map(|p| Format::of(p.as_deref(), args.format).map(|f| (p, f)))
        .collect::<Result<Vec<_>, _>>()?;
    let several = files.len() > 1;
    let pool = leadscore::batch::Pool::new(threads(args.threads)?)?;
    let (batches, recycle) = read_ahead(files, options, None);
    let mut failed = false;
    let mut results: Vec<Option<Result<T, String>>> = Vec::new();
    for read in batches {
        let Read { path, batch } = read?;
        let lines = &batch.text;
        pool.map(&batch.items, &mut results, |(_, item)| work_on(item, lines, &work));
        let file = path.as_ref().filter(|_| several).map(|p| p.display().to_string());
        for ((pos, _), result) in batch.items.iter().zip(results.drain(..)) {
            let Some(result) = result else { continue };
            if let Err(error) = &result {
                failed = true;
                if report_failures {
                    report(file.as_deref(), *pos, error);
                }
            }
            sink(result);
        }
        let _ = recycle.send(batch);
    }
    Ok(failed)
}

/// `None` for a blank line.
fn work_on<T>(item: &Item, lines: &[u8], work: &impl Fn(Lead) -> Result<T, String>) -> Option<Result<T, String>> {
    Some(match item {
        Item::Line(range) => match std::str::from_utf8(&lines[range.clone()]) {
            Ok(text) if text.trim().is_empty() => return None,
            Ok(text) => work(Lead::Text(text.trim())),
            Err(e) => Err(format!("the line is not valid UTF-8 ({e})")),
        },
        Item::Lead(lead) => work(Lead::Value(lead)),
        Item::Bad(message) => Err(message.clone()),
    })
}

/// `{"line": N, "error": "..."}` on standard error, as `score` writes it.
fn report(file: Option<&str>, pos: Position, error: &str) {
    let mut object = serde_json::Map::new();
    if let Some(file) = file {
        object.insert("file".into(), file.into());
    }
    object.insert(pos.key().into(), pos.number().into());
    object.insert("error".into(), error.into());
    eprintln!("{}", Value::Object(object));
}

/// Prints a report as text, or as pretty JSON with `--json`; the run is `Partial` when a
/// lead failed.
pub fn print_report<R: serde::Serialize + std::fmt::Display>(
    report: &R,
    json: bool,
    failed: bool,
) -> Result<Exit, Failure> {
    use std::io::Write;
    let mut out = super::stdout();
    if json {
        serde_json::to_writer_pretty(&mut out, report)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", leadscore::show_rendered(&report.to_string()))?;
    }
    Ok(if failed { Exit::Partial } else { Exit::Success })
}
