//! `leadscore score`: stream leads through a pack in bounded memory, on every core,
//! printing results in input order. A bad line is reported and skipped; the rest are scored.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

use rayon::prelude::*;
use serde::Serialize;

use super::{as_of, load_pack, Failure, Outcome, PackArgs};

/// Lines scored per batch: enough to keep every core busy, few enough to bound memory.
const BATCH_LINES: usize = 2048;

/// Arguments of `score`.
#[derive(clap::Args, Debug)]
pub struct ScoreArgs {
    /// The pack folder.
    #[arg(long)]
    pack: PathBuf,
    /// Score as of this RFC 3339 time (default: now). Later events are ignored.
    #[arg(long = "as-of", value_name = "TIME")]
    as_of: Option<String>,
    /// JSON Lines input file; `-` or nothing reads standard input.
    input: Option<PathBuf>,
    /// The field that holds each lead's id (default `id`; the line number when missing).
    #[arg(long = "id-field", value_name = "NAME", default_value = "id")]
    id_field: String,
    /// Add a human-readable explanation to each result.
    #[arg(long)]
    explain: bool,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    #[command(flatten)]
    pack_args: PackArgs,
}

/// One line of output: the outcome, plus its explanation when asked for.
#[derive(Serialize)]
struct Line<'a> {
    #[serde(flatten)]
    outcome: &'a leadscore::Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    explanation: Option<String>,
}

/// Scores every line of the input.
pub fn run(args: &ScoreArgs) -> Result<Outcome, Failure> {
    let pack = load_pack(&args.pack, &args.pack_args)?;
    let as_of = as_of(args.as_of.as_deref())?;
    let mut input = open(args.input.as_ref())?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()?;
    let scorer = pack.scorer(as_of).id_field(&args.id_field);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut failed = false;
    let mut line_no = 0usize;
    let mut batch: Vec<Vec<u8>> = Vec::with_capacity(BATCH_LINES);
    loop {
        let first = line_no + 1;
        let more = read_batch(&mut input, &mut batch)?;
        line_no += batch.len();
        let results: Vec<Option<Result<String, String>>> = pool.install(|| {
            batch
                .par_iter()
                .enumerate()
                .map(|(i, raw)| score_line(&scorer, &pack, raw, first + i, args.explain))
                .collect()
        });
        for (i, result) in results.into_iter().enumerate() {
            match result {
                None => {}
                Some(Ok(json)) => writeln!(out, "{json}")?,
                Some(Err(error)) => {
                    failed = true;
                    out.flush()?;
                    eprintln!("{}", serde_json::json!({"line": first + i, "error": error}));
                }
            }
        }
        if !more {
            break;
        }
    }
    out.flush()?;
    Ok(if failed { Outcome::Partial } else { Outcome::Success })
}

/// Scores one line: `None` for a blank line, the JSON result, or the error message.
fn score_line(
    scorer: &leadscore::Scorer,
    pack: &leadscore::Pack,
    raw: &[u8],
    line: usize,
    explain: bool,
) -> Option<Result<String, String>> {
    let text = match std::str::from_utf8(raw) {
        Ok(text) => text.trim(),
        Err(e) => return Some(Err(format!("the line is not valid UTF-8 ({e})"))),
    };
    if text.is_empty() {
        return None;
    }
    Some(
        scorer
            .score_json(text)
            .map_err(|e| e.to_string())
            .and_then(|mut outcome| {
                outcome.id.get_or_insert_with(|| serde_json::Value::from(line));
                let explanation = explain.then(|| pack.explain(&outcome).to_string());
                serde_json::to_string(&Line {
                    outcome: &outcome,
                    explanation,
                })
                .map_err(|e| e.to_string())
            }),
    )
}

/// Opens a file, or standard input for `-` or no file.
pub fn open(path: Option<&PathBuf>) -> Result<Box<dyn BufRead + Send>, Failure> {
    match path {
        None => Ok(Box::new(BufReader::new(std::io::stdin()))),
        Some(p) if p.as_os_str() == "-" => Ok(Box::new(BufReader::new(std::io::stdin()))),
        Some(p) => {
            let file =
                std::fs::File::open(p).map_err(|e| Failure(format!("error: cannot read {}: {e}", p.display())))?;
            Ok(Box::new(BufReader::with_capacity(1 << 16, file)))
        }
    }
}

/// Reads up to [`BATCH_LINES`] lines into `batch`; `false` once the input is exhausted.
fn read_batch(input: &mut dyn BufRead, batch: &mut Vec<Vec<u8>>) -> Result<bool, Failure> {
    batch.clear();
    while batch.len() < BATCH_LINES {
        let mut line = Vec::new();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(false);
        }
        batch.push(line);
    }
    Ok(true)
}
