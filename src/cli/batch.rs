//! The batch driver `score` and `stats` share: stream leads through a pack in bounded
//! memory, on every core, writing results in input order. A bad record is reported and
//! skipped; the rest are scored. Reads JSON Lines, CSV and JSON; writes JSON Lines or CSV.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};

use serde::Serialize;
use serde_json::Value;

use super::input::{self, Batch, Columns, Format, Item, Leads, Position, ReadOptions};
use super::summary::Stats;
use super::{as_of, load_pack, Exit, Failure, PackArgs};

/// What `score` and `stats` read, and how they score it.
#[derive(clap::Args, Debug)]
pub struct BatchArgs {
    /// The pack folder.
    #[arg(long)]
    pack: PathBuf,
    /// Score as of this RFC 3339 time (default: now). Later events are ignored.
    #[arg(long = "as-of", value_name = "TIME")]
    as_of: Option<String>,
    /// Input files: JSON Lines, CSV (`.csv`) or JSON (`.json`: an object or an array of
    /// objects). None, or `-`, reads JSON Lines from standard input.
    #[arg(value_name = "FILE")]
    inputs: Vec<PathBuf>,
    /// The input format, when the file extension does not tell it.
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<Format>,
    /// The CSV field delimiter: one character (`;`, `|`, `tab`) [default: `,`].
    #[arg(long, value_name = "CHAR")]
    delimiter: Option<String>,
    /// The longest JSON line read, in bytes: a longer line is an error for that line (the
    /// others are scored) and is not held in memory.
    #[arg(long = "max-line-bytes", value_name = "BYTES", default_value_t = 256 << 20)]
    max_line_bytes: usize,
    /// The field that holds each lead's id (default `id`; the line number when missing).
    #[arg(long = "id-field", value_name = "NAME", default_value = "id")]
    id_field: String,
    /// Worker threads (default: one per core; at most 4 per core).
    #[arg(long)]
    threads: Option<usize>,
    #[command(flatten)]
    pack_args: PackArgs,
}

/// An output format.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// One JSON result per line.
    Jsonl,
    /// id, score, mql, disqualified, route, one column per dimension, fired rules.
    Csv,
}

/// One line of JSON output with an explanation: the outcome's fields, then `explanation`.
/// (Without one, the line is the outcome serialized as it is.)
#[derive(Serialize)]
struct Line<'a> {
    #[serde(flatten)]
    outcome: &'a leadscore::Outcome,
    explanation: String,
}

/// Where results go.
pub enum Sink {
    /// JSON Lines on stdout.
    Jsonl(BufWriter<super::Stdout>),
    /// CSV on stdout.
    Csv(Box<csv::Writer<super::Stdout>>),
    /// Nowhere: only counted.
    Stats,
}

/// What each worker needs to score and render one lead.
struct Job<'a> {
    scorer: leadscore::Scorer<'a>,
    pack: &'a leadscore::Pack,
    explain: bool,
    output: Option<OutputFormat>,
    keep_outcome: bool,
    dims: Vec<String>,
}

/// A scored lead, rendered for the sink (in parallel), and kept for stats when needed.
/// Its JSON text is in its [`Slot`].
struct Scored {
    row: Option<Vec<String>>,
    outcome: Option<leadscore::Outcome>,
}

/// Where one lead of a batch is scored into; reused from batch to batch, so the JSON
/// text buffer is allocated once, not once per lead.
#[derive(Default)]
struct Slot {
    text: Vec<u8>,
    result: Option<Result<Scored, String>>,
}

/// The room a slot's result text starts with: a usual result line is 200 to 400 bytes.
const RESULT_BYTES: usize = 512;

/// Scores every lead of the input into `sink` (with an explanation each when `explain`),
/// counting into `stats`.
pub fn run_batch(
    args: &BatchArgs,
    sink: &mut Sink,
    mut stats: Option<&mut Stats>,
    explain: bool,
) -> Result<Exit, Failure> {
    let pack = load_pack(&args.pack, &args.pack_args)?;
    let as_of = as_of(args.as_of.as_deref())?;
    let options = ReadOptions {
        delimiter: delimiter(args.delimiter.as_deref().unwrap_or(","))?,
        delimiter_given: args.delimiter.is_some(),
        max_line: args.max_line_bytes,
        columns: Columns::of(&pack, &[&args.id_field]),
    };
    let inputs: Vec<Option<&PathBuf>> = if args.inputs.is_empty() {
        vec![None]
    } else {
        args.inputs.iter().map(Some).collect()
    };
    let formats = inputs
        .iter()
        .map(|p| Format::of(p.map(PathBuf::as_path), args.format))
        .collect::<Result<Vec<_>, _>>()?;
    for path in inputs.iter().flatten().filter(|p| p.as_os_str() != "-") {
        // Every input is checked before the first is read: a folder, FIFO or device fails
        // the command up front, naming it.
        match leadscore::file::open(path) {
            Ok(_) => {}
            Err(e) if matches!(e.kind, leadscore::file::FileErrorKind::Folder) => {
                return Err(Failure(format!(
                    "error: {} is a folder; give the lead files (like leads/*.json)",
                    path.display()
                )))
            }
            Err(e) => return Err(Failure(format!("error: {e}"))),
        }
    }
    let progress = progress_bar(&inputs);
    let pool = leadscore::batch::Pool::new(threads(args.threads)?)?;
    let output = match sink {
        Sink::Jsonl(_) => Some(OutputFormat::Jsonl),
        Sink::Csv(_) => Some(OutputFormat::Csv),
        Sink::Stats => None,
    };
    let job = Job {
        scorer: pack.scorer(as_of).id_field(&args.id_field),
        pack: &pack,
        explain,
        output,
        keep_outcome: stats.is_some(),
        dims: pack.program().dimension_names().map(str::to_string).collect(),
    };
    if let Sink::Csv(writer) = sink {
        writer.write_record(csv_header(&job))?;
    }
    let mut failed = false;
    let several = inputs.len() > 1;
    let files: Vec<(Option<PathBuf>, Format)> = inputs.iter().map(|p| p.cloned()).zip(formats).collect();
    let (batches, recycle) = read_ahead(files, options, progress.clone());
    let mut slots: Vec<Slot> = Vec::new();
    let mut ids = IdSeen::new(&args.id_field);
    for read in batches {
        let Read { path, batch } = read?;
        ids.look(&batch);
        let file = path.as_ref().filter(|_| several).map(|p| p.display().to_string());
        let lines = &batch.text;
        pool.each(&batch.items, &mut slots, |(pos, item), slot| {
            slot.text.clear();
            // Room for a usual result line at once, rather than growing to it by doubling
            // (five reallocations for each of a batch's slots).
            slot.text.reserve(RESULT_BYTES);
            slot.result = score_item(&job, *pos, item, lines, &mut slot.text);
        });
        for ((pos, _), slot) in batch.items.iter().zip(&mut slots) {
            match slot.result.take() {
                None => {}
                Some(Ok(scored)) => emit(sink, &slot.text, scored, stats.as_deref_mut())?,
                Some(Err(error)) => {
                    failed = true;
                    if let Some(stats) = stats.as_deref_mut() {
                        stats.fail();
                    }
                    report(sink, progress.as_ref(), file.as_deref(), *pos, &error)?;
                }
            }
        }
        // The reader may have finished: then the batch is simply dropped.
        let _ = recycle.send(batch);
    }
    flush(sink)?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if let Some(warning) = ids.warning() {
        errln!("{warning}");
    }
    Ok(if failed { Exit::Partial } else { Exit::Success })
}

/// One batch read ahead, and the file it came from.
pub(super) struct Read {
    pub(super) path: Option<PathBuf>,
    pub(super) batch: Batch,
}

/// Batches read ahead of scoring, at most this many; and at most [`input::IN_FLIGHT`]
/// bytes of input with the batch being scored.
const READ_AHEAD: usize = 2;

/// Reads every input on a thread of its own, in batches, so the next batch is read while
/// the pool scores this one (reading was a fifth of one thread's time, and two cores could
/// not overlap it). Returns the batches in input order, and where to send a scored batch
/// back so its line buffers are reused. A read error ends the stream after the batches
/// before it, as the command reported it before.
pub(super) fn read_ahead(
    files: Vec<(Option<PathBuf>, Format)>,
    options: ReadOptions,
    progress: Option<indicatif::ProgressBar>,
) -> (Receiver<Result<Read, Failure>>, Sender<Batch>) {
    let (tx, batches) = sync_channel(READ_AHEAD);
    let (recycle, recycled) = channel::<Batch>();
    let errors = tx.clone();
    let read = move || -> Result<(), Failure> {
        let (mut in_flight, mut spare) = (0usize, None::<Batch>);
        for (path, format) in files {
            let mut leads = Leads::new(input::open(path.as_ref(), progress.as_ref())?, format, options.clone())?;
            loop {
                // Bytes in flight: read on only while what is read and not yet scored
                // leaves room for one more batch.
                while let Ok(done) = recycled.try_recv() {
                    in_flight = in_flight.saturating_sub(done.bytes);
                    spare = Some(done);
                }
                while in_flight > input::IN_FLIGHT - input::BATCH_BYTES {
                    let Ok(done) = recycled.recv() else {
                        return Ok(());
                    };
                    in_flight = in_flight.saturating_sub(done.bytes);
                    spare = Some(done);
                }
                let mut batch = spare.take().unwrap_or_default();
                let more = leads.batch(&mut batch).map_err(|Failure(message)| {
                    let name = path
                        .as_ref()
                        .map_or_else(|| "standard input".to_string(), |p| p.display().to_string());
                    Failure(format!(
                        "error: reading {name}: {}",
                        message.trim_start_matches("error: ")
                    ))
                })?;
                in_flight += batch.bytes;
                let read = Read {
                    path: path.clone(),
                    batch,
                };
                if tx.send(Ok(read)).is_err() {
                    // The command stopped (its output closed): nothing more to read for.
                    return Ok(());
                }
                if !more {
                    break;
                }
            }
        }
        Ok(())
    };
    std::thread::spawn(move || {
        if let Err(failure) = read() {
            // Nobody to tell when the command already stopped.
            let _ = errors.send(Err(failure));
        }
    });
    (batches, recycle)
}

/// `--threads`, checked by the core's rule (0 is one per core).
pub(super) fn threads(given: Option<usize>) -> Result<usize, Failure> {
    leadscore::batch::threads(given).map_err(|e| {
        Failure(format!(
            "error: --threads {} is more than {} ({} per core on this machine's {})",
            e.asked,
            e.most,
            leadscore::batch::THREADS_PER_CORE,
            e.cores
        ))
    })
}

/// `;`, `\t` or `tab` → the byte.
pub(super) fn delimiter(text: &str) -> Result<u8, Failure> {
    match text {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        "\"" | "\n" | "\r" => Err(Failure(format!(
            "error: --delimiter {text:?} cannot separate fields: it is CSV's quote or a line break"
        ))),
        t if t.len() == 1 && t.is_ascii() => Ok(t.as_bytes()[0]),
        t => Err(Failure(format!(
            "error: --delimiter must be one ASCII character (or `tab`), not {t:?}"
        ))),
    }
}

/// A progress bar on stderr, when stderr is a terminal and the input is a file.
fn progress_bar(inputs: &[Option<&PathBuf>]) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let files: Vec<&PathBuf> = inputs
        .iter()
        .flatten()
        .filter(|p| p.as_os_str() != "-")
        .copied()
        .collect();
    if files.len() != inputs.len() {
        return None;
    }
    let total = files
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
    {
        bar.set_style(style);
    }
    Some(bar)
}

/// Scores one lead: `None` for a blank line, the rendered result, or the error message.
fn score_item(
    job: &Job,
    pos: Position,
    item: &Item,
    lines: &[u8],
    text: &mut Vec<u8>,
) -> Option<Result<Scored, String>> {
    let result = match item {
        Item::Line(range) => {
            let text = match std::str::from_utf8(&lines[range.clone()]) {
                Ok(text) => text.trim(),
                Err(e) => return Some(Err(format!("the line is not valid UTF-8 ({e})"))),
            };
            if text.is_empty() {
                return None;
            }
            job.scorer.score_json_numbered(text, pos.number() as u64)
        }
        Item::Lead(lead) => job.scorer.score_numbered(lead, pos.number() as u64),
        Item::Bad(message) => return Some(Err(message.clone())),
    };
    Some(
        result
            .map_err(|e| e.to_string())
            .and_then(|outcome| render(job, outcome, text)),
    )
}

/// Renders a result: JSON into `text`, or a CSV row.
fn render(job: &Job, outcome: leadscore::Outcome, text: &mut Vec<u8>) -> Result<Scored, String> {
    let explanation = job.explain.then(|| job.pack.explain(&outcome).to_string());
    let row = match job.output {
        Some(OutputFormat::Jsonl) => {
            // Without an explanation the line is the outcome itself, written field by
            // field (the text serde gives it, less work).
            match explanation {
                None => outcome.write_json(text),
                Some(explanation) => {
                    let line = Line {
                        outcome: &outcome,
                        explanation,
                    };
                    serde_json::to_writer(&mut *text, &line).map_err(|e| e.to_string())?;
                }
            }
            text.push(b'\n');
            None
        }
        Some(OutputFormat::Csv) => Some(csv_row(job, &outcome, explanation)),
        None => None,
    };
    Ok(Scored {
        row,
        outcome: job.keep_outcome.then_some(outcome),
    })
}

fn csv_header(job: &Job) -> Vec<String> {
    let mut header: Vec<String> = ["id", "score", "mql", "disqualified", "route"]
        .map(String::from)
        .to_vec();
    header.extend(job.dims.iter().cloned());
    header.push("fired".into());
    if job.explain {
        header.push("explanation".into());
    }
    header
}

/// A result as a CSV row; fired rule names are joined with `;`.
fn csv_row(job: &Job, o: &leadscore::Outcome, explanation: Option<String>) -> Vec<String> {
    let id = match &o.id {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let mut row = vec![
        id,
        leadscore::show_number(o.score),
        o.mql.to_string(),
        o.disqualified().unwrap_or_default().to_string(),
        o.route().unwrap_or_default().to_string(),
    ];
    row.extend(
        job.dims
            .iter()
            .map(|d| o.dimension(d).map(leadscore::show_number).unwrap_or_default()),
    );
    row.push(o.fired().map(|f| f.rule()).collect::<Vec<_>>().join(";"));
    if let Some(text) = explanation {
        row.push(text);
    }
    row
}

/// Writes a scored lead: `text` is its JSON line (empty unless the sink is JSON Lines).
fn emit(sink: &mut Sink, text: &[u8], scored: Scored, stats: Option<&mut Stats>) -> Result<(), Failure> {
    if let (Some(stats), Some(outcome)) = (stats, &scored.outcome) {
        stats.add(outcome);
    }
    match (sink, scored.row) {
        (Sink::Jsonl(out), _) => out.write_all(text)?,
        (Sink::Csv(out), Some(row)) => out.write_record(&row)?,
        _ => {}
    }
    Ok(())
}

/// A record that could not be scored: `{"line": N, "error": "..."}` on stderr (with
/// `"file"` when there are several inputs; `"index"` for JSON arrays).
fn report(
    sink: &mut Sink,
    bar: Option<&indicatif::ProgressBar>,
    file: Option<&str>,
    pos: Position,
    error: &str,
) -> Result<(), Failure> {
    flush(sink)?;
    let mut object = serde_json::Map::new();
    if let Some(file) = file {
        object.insert("file".into(), file.into());
    }
    object.insert(pos.key().into(), pos.number().into());
    object.insert("error".into(), error.into());
    let line = serde_json::Value::Object(object).to_string();
    match bar {
        Some(bar) => bar.suspend(|| errln!("{line}")),
        None => errln!("{line}"),
    }
    Ok(())
}

fn flush(sink: &mut Sink) -> Result<(), Failure> {
    match sink {
        Sink::Jsonl(out) => out.flush()?,
        Sink::Csv(out) => out.flush()?,
        Sink::Stats => {}
    }
    Ok(())
}

/// Whether any of the first [`IdSeen::LEADS`] leads has the field `--id-field` names:
/// when none has, every result's id is its line number, which the user did not ask for.
/// (Without `--id-field`, a lead without `id` is numbered, as documented.)
struct IdSeen {
    field: Option<String>,
    checked: usize,
    seen: bool,
}

impl IdSeen {
    const LEADS: usize = 1000;

    fn new(field: &str) -> IdSeen {
        IdSeen {
            field: (field != "id").then(|| field.to_string()),
            checked: 0,
            seen: false,
        }
    }

    fn look(&mut self, batch: &Batch) {
        let Some(field) = &self.field else { return };
        for (_, item) in &batch.items {
            if self.seen || self.checked >= Self::LEADS {
                return;
            }
            let parsed;
            let lead = match item {
                Item::Line(range) => match serde_json::from_slice::<Value>(&batch.text[range.clone()]) {
                    Ok(lead) => {
                        parsed = lead;
                        &parsed
                    }
                    Err(_) => continue,
                },
                Item::Lead(lead) => lead,
                Item::Bad(_) => continue,
            };
            self.checked += 1;
            self.seen = has_field(lead, field);
        }
    }

    fn warning(&self) -> Option<String> {
        let field = self.field.as_ref().filter(|_| !self.seen && self.checked > 0)?;
        let which = if self.checked < Self::LEADS {
            "no lead"
        } else {
            "none of the first 1000 leads"
        };
        Some(format!(
            "warning: {which} has the field `{}` (--id-field), so results are numbered by line instead",
            leadscore::show_text(field)
        ))
    }
}

/// Whether `lead` has `field`, as a key or a dotted path (`company.id`).
fn has_field(lead: &Value, field: &str) -> bool {
    if lead.get(field).is_some_and(|v| !v.is_null()) {
        return true;
    }
    let mut node = lead;
    for segment in field.split('.') {
        match node.get(segment) {
            Some(next) => node = next,
            None => return false,
        }
    }
    !node.is_null()
}
