//! Reading leads for `score` and `stats`: JSON Lines, CSV and JSON files, in batches so
//! memory stays bounded however large the input is.

use std::io::{BufRead, BufReader, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};

use serde::de::{Deserializer as _, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::Failure;

/// Leads per batch: enough to keep every core busy, few enough to bound memory.
pub const BATCH: usize = 2048;

/// A batch ends once it holds this many bytes of input, however few leads that is.
pub const BATCH_BYTES: usize = 16 << 20;

/// Input bytes read but not yet scored, at most (plus the longest line): the reader waits
/// for scored batches to come back before it reads on (`leadscore score`'s memory bound).
pub const IN_FLIGHT: usize = 64 << 20;

/// An input format.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// A header row, then one lead per row.
    Csv,
    /// One JSON object, or an array of objects.
    Json,
}

impl Format {
    /// The format of a file: `--format`, else its extension (JSON Lines for stdin).
    pub fn of(path: Option<&Path>, given: Option<Format>) -> Result<Format, Failure> {
        if let Some(format) = given {
            return Ok(format);
        }
        let Some(path) = path.filter(|p| p.as_os_str() != "-") else {
            return Ok(Format::Jsonl);
        };
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("csv") => Ok(Format::Csv),
            Some("json") => Ok(Format::Json),
            Some("jsonl" | "ndjson" | "txt") | None => Ok(Format::Jsonl),
            Some(other) => Err(Failure(format!(
                "error: cannot tell the format of {} from `.{other}`; use --format jsonl, csv or json",
                path.display()
            ))),
        }
    }
}

/// Where an item came from: a line (JSON Lines, CSV) or an array index (JSON).
#[derive(Clone, Copy, Debug)]
pub enum Position {
    Line(usize),
    Index(usize),
}

impl Position {
    pub fn number(self) -> usize {
        match self {
            Position::Line(n) | Position::Index(n) => n,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Position::Line(_) => "line",
            Position::Index(_) => "index",
        }
    }
}

/// One lead as read: a line of the batch's text to score straight from JSON, a parsed
/// object, or why the record could not be read.
pub enum Item {
    /// `batch.text[range]`: one JSON line (with its line break, if any).
    Line(Range<usize>),
    Lead(Value),
    Bad(String),
}

/// A batch of leads: the items, and the text the JSON Lines among them are in (read in
/// large chunks, so a line is never copied on its own).
#[derive(Default)]
pub struct Batch {
    pub items: Vec<(Position, Item)>,
    pub text: Vec<u8>,
    /// The input bytes the batch holds (its text, or the records and JSON values read).
    pub bytes: usize,
}

impl Batch {
    fn clear(&mut self) {
        self.items.clear();
        self.text.clear();
        // A batch that held one huge line gives its memory back before it is reused.
        self.text.shrink_to(BATCH_BYTES + CHUNK);
        self.bytes = 0;
    }
}

/// A reader of one input file.
pub enum Leads {
    Lines {
        input: Box<dyn Read + Send>,
        /// The longest line read; longer ones are that line's error, and skipped.
        max_line: usize,
        /// Lines read so far.
        line: usize,
        /// The start of a line read past the end of the last batch.
        rest: Vec<u8>,
        /// The input has ended.
        done: bool,
    },
    Csv {
        reader: csv::Reader<Box<dyn Read + Send>>,
        headers: Vec<String>,
        record: csv::StringRecord,
        /// How the input ended, to tell a quote never closed.
        last: std::sync::Arc<Tail>,
    },
    Json {
        /// Each lead with the input bytes read for it.
        items: Receiver<(Position, Item, usize)>,
    },
}

/// How input is read.
#[derive(Clone, Copy, Debug)]
pub struct ReadOptions {
    /// The CSV field delimiter.
    pub delimiter: u8,
    /// Whether `--delimiter` gave it (else a header split by `;` or tabs is an error).
    pub delimiter_given: bool,
    /// The longest JSON line read: a longer one is an error for that line and is skipped
    /// without being held in memory.
    pub max_line: usize,
}

impl Leads {
    /// Opens a reader of `format` over `input`.
    pub fn new(input: Box<dyn Read + Send>, format: Format, options: ReadOptions) -> Result<Leads, Failure> {
        Ok(match format {
            Format::Jsonl => Leads::Lines {
                input: skip_bom(input)?,
                max_line: options.max_line,
                line: 0,
                rest: Vec::new(),
                done: false,
            },
            Format::Csv => {
                let (input, last) = LastByte::wrap(input);
                let mut reader = csv::ReaderBuilder::new()
                    .delimiter(options.delimiter)
                    .has_headers(true)
                    .from_reader(input);
                let headers: Vec<String> = reader
                    .headers()
                    .map_err(|e| Failure(format!("error: cannot read the CSV header row: {e}")))?
                    .iter()
                    .map(|h| h.trim().to_string())
                    .collect();
                if !options.delimiter_given {
                    sniff_delimiter(&headers)?;
                }
                duplicate_header(&headers)?;
                Leads::Csv {
                    reader,
                    headers,
                    record: csv::StringRecord::new(),
                    last,
                }
            }
            Format::Json => Leads::Json {
                items: json_items(skip_bom(input)?),
            },
        })
    }

    /// Reads the next batch; `false` once the input is exhausted.
    pub fn batch(&mut self, batch: &mut Batch) -> Result<bool, Failure> {
        batch.clear();
        if let Leads::Lines {
            input,
            max_line,
            line,
            rest,
            done,
        } = self
        {
            return read_lines(input, *max_line, line, rest, done, batch);
        }
        while batch.items.len() < BATCH && batch.bytes < BATCH_BYTES {
            match self.next()? {
                Some((position, item, bytes)) => {
                    batch.items.push((position, item));
                    batch.bytes += bytes;
                }
                None => return Ok(false),
            }
        }
        Ok(true)
    }

    /// The next lead, and the input bytes it took.
    fn next(&mut self) -> Result<Option<(Position, Item, usize)>, Failure> {
        match self {
            Leads::Lines { .. } => Ok(None),
            Leads::Csv {
                reader,
                headers,
                record,
                last,
            } => {
                let line = reader.position().line() as usize;
                match reader.read_record(record) {
                    Ok(false) => Ok(None),
                    Ok(true) => {
                        let line = record.position().map_or(line, |p| p.line() as usize);
                        let bytes = record.as_byte_record().as_slice().len();
                        if let Some(message) = unterminated(reader, record, last, line) {
                            return Ok(Some((Position::Line(line), Item::Bad(message), bytes)));
                        }
                        Ok(Some((
                            Position::Line(line),
                            Item::Lead(csv_lead(headers, record)),
                            bytes,
                        )))
                    }
                    Err(e) => {
                        let line = e.position().map_or(line, |p| p.line() as usize);
                        if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                            return Err(Failure(format!("error: {e}")));
                        }
                        Ok(Some((Position::Line(line), Item::Bad(csv_error(&e)), 0)))
                    }
                }
            }
            Leads::Json { items } => Ok(items.recv().ok()),
        }
    }
}

/// JSON Lines are read this many bytes at a time.
const CHUNK: usize = 1 << 18;

/// Reads up to [`BATCH`] lines into `batch`: big chunks straight into the batch's text,
/// then the line breaks found with a byte search. Reading a fresh `Vec` per line (then
/// reused buffers, copied out of a `BufReader`) was a fifth of one thread's time. A line
/// longer than `max_line` bytes becomes that line's error and the rest of it is read
/// past, so one runaway line cannot take the memory of the whole run.
fn read_lines(
    input: &mut Box<dyn Read + Send>,
    max_line: usize,
    line: &mut usize,
    rest: &mut Vec<u8>,
    done: &mut bool,
    batch: &mut Batch,
) -> Result<bool, Failure> {
    let text = &mut batch.text;
    text.append(rest);
    let too_long = || {
        Item::Bad(format!(
            "the line is longer than {max_line} bytes (see --max-line-bytes)"
        ))
    };
    let (mut start, mut scanned) = (0, 0);
    loop {
        while batch.items.len() < BATCH && start < BATCH_BYTES {
            let Some(end) = memchr_newline(&text[scanned..]).map(|i| scanned + i + 1) else {
                scanned = text.len();
                break;
            };
            *line += 1;
            let item = if end - start > max_line + 1 {
                too_long()
            } else {
                Item::Line(start..end)
            };
            batch.items.push((Position::Line(*line), item));
            (start, scanned) = (end, end);
        }
        if batch.items.len() == BATCH || start >= BATCH_BYTES {
            rest.extend_from_slice(&text[start..]);
            text.truncate(start);
            batch.bytes = text.len();
            return Ok(true);
        }
        if text.len() - start > max_line {
            // The line under way is already too long: drop what is read of it and read
            // on to its end; what follows its line break is the next line.
            text.truncate(start);
            *line += 1;
            batch.items.push((Position::Line(*line), too_long()));
            skip_line(input, text, start, done)?;
            scanned = start;
            continue;
        }
        if *done {
            if start < text.len() {
                *line += 1;
                batch.items.push((Position::Line(*line), Item::Line(start..text.len())));
            }
            batch.bytes = text.len();
            return Ok(false);
        }
        let read = input.by_ref().take(CHUNK as u64).read_to_end(text)?;
        *done = read == 0;
    }
}

/// Reads past the rest of a line, chunk by chunk into `text[start..]`, keeping only what
/// follows its line break.
fn skip_line(
    input: &mut Box<dyn Read + Send>,
    text: &mut Vec<u8>,
    start: usize,
    done: &mut bool,
) -> Result<(), Failure> {
    loop {
        let read = input.by_ref().take(CHUNK as u64).read_to_end(text)?;
        if read == 0 {
            *done = true;
            text.truncate(start);
            return Ok(());
        }
        match memchr_newline(&text[start..]) {
            Some(i) => {
                text.drain(start..start + i + 1);
                return Ok(());
            }
            None => text.truncate(start),
        }
    }
}

/// The first `\n` in `bytes`.
fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', bytes)
}

/// A header that is one column holding `;` or tabs was written with another delimiter.
fn sniff_delimiter(headers: &[String]) -> Result<(), Failure> {
    let [only] = headers else {
        return Ok(());
    };
    for (byte, name) in [(';', "';'"), ('\t', "tab"), ('|', "'|'")] {
        if only.contains(byte) {
            return Err(Failure(format!(
                "error: the CSV header row has no `,` but is split by {name}s; pass `--delimiter {name}`"
            )));
        }
    }
    Ok(())
}

/// Two columns of one name would leave one of them unread.
fn duplicate_header(headers: &[String]) -> Result<(), Failure> {
    for (i, name) in headers.iter().enumerate() {
        if name.is_empty() {
            continue;
        }
        if let Some(j) = headers[i + 1..].iter().position(|h| h == name) {
            return Err(Failure(format!(
                "error: the CSV header names `{name}` twice (columns {} and {}); rename one",
                i + 1,
                i + j + 2
            )));
        }
    }
    Ok(())
}

/// A quote never closed reads the rest of the file into one field of the last row: a
/// row read at the end of the input, whose last field spans lines although the input
/// does not end in `"`, is that. The error names the line the row starts on and the
/// lines it swallowed.
fn unterminated(
    reader: &csv::Reader<Box<dyn Read + Send>>,
    record: &csv::StringRecord,
    last: &Tail,
    line: usize,
) -> Option<String> {
    let field = record.iter().next_back()?;
    let closed = last.byte.load(std::sync::atomic::Ordering::Relaxed) == b'"';
    // Only a field still open reads on to the end of the input to finish its row.
    let at_end = last.eof.load(std::sync::atomic::Ordering::Relaxed) || reader.is_done();
    if !at_end || !field.contains('\n') || closed {
        return None;
    }
    let end = line + field.trim_end_matches(['\r', '\n']).matches('\n').count();
    Some(format!(
        "a quoted field opened on line {line} is never closed, so lines {line} to {end} were read as one row; close the quote"
    ))
}

/// How an input ended: its last byte other than `\r` and `\n`, and whether a read found
/// its end.
#[derive(Default)]
pub struct Tail {
    byte: std::sync::atomic::AtomicU8,
    eof: std::sync::atomic::AtomicBool,
}

/// A reader that keeps its input's [`Tail`].
struct LastByte {
    input: Box<dyn Read + Send>,
    last: std::sync::Arc<Tail>,
}

impl LastByte {
    fn wrap(input: Box<dyn Read + Send>) -> (Box<dyn Read + Send>, std::sync::Arc<Tail>) {
        let last = std::sync::Arc::new(Tail::default());
        let reader = LastByte {
            input,
            last: last.clone(),
        };
        (Box::new(reader), last)
    }
}

impl Read for LastByte {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.input.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.last.eof.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        if let Some(&b) = buf[..n].iter().rev().find(|b| !matches!(b, b'\r' | b'\n')) {
            self.last.byte.store(b, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(n)
    }
}

/// The input without a UTF-8 byte-order mark at its start (Windows tools write one).
fn skip_bom(input: Box<dyn Read + Send>) -> Result<Box<dyn Read + Send>, Failure> {
    let mut input = BufReader::with_capacity(CHUNK, input);
    let start = input.fill_buf()?;
    if start.starts_with(b"\xEF\xBB\xBF") {
        input.consume(3);
    }
    Ok(Box::new(input))
}

/// A CSV row as a lead: header → cell; empty cells are missing fields.
fn csv_lead(headers: &[String], record: &csv::StringRecord) -> Value {
    let mut lead = Map::new();
    for (name, cell) in headers.iter().zip(record.iter()) {
        if !cell.trim().is_empty() {
            lead.insert(name.clone(), Value::from(cell));
        }
    }
    Value::Object(lead)
}

fn csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("the row has {len} field(s) but the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "the row is not valid UTF-8".to_string(),
        _ => e.to_string(),
    }
}

/// Streams a JSON file (one object, several, or an array of objects) from a thread, a
/// bounded number of leads ahead of the scorer.
fn json_items(input: Box<dyn Read + Send>) -> Receiver<(Position, Item, usize)> {
    let (tx, rx) = sync_channel(BATCH);
    std::thread::spawn(move || {
        let (input, read) = Counted::wrap(input);
        let mut tx = Sender { tx, read, sent: 0 };
        let mut input = BufReader::with_capacity(1 << 16, input);
        let first = loop {
            match input.fill_buf() {
                Ok([]) => return,
                Ok(buf) => match buf.iter().position(|b| !b.is_ascii_whitespace()) {
                    Some(i) => {
                        let b = buf[i];
                        input.consume(i);
                        break b;
                    }
                    None => {
                        let n = buf.len();
                        input.consume(n);
                    }
                },
                Err(e) => {
                    let _ = tx.send((Position::Index(1), Item::Bad(format!("cannot read: {e}"))));
                    return;
                }
            }
        };
        if first == b'[' {
            let mut de = serde_json::Deserializer::from_reader(input);
            let count = std::cell::Cell::new(0);
            let tx = std::cell::RefCell::new(tx);
            let read = de.deserialize_seq(ArrayItems { tx: &tx, count: &count });
            let mut tx = tx.into_inner();
            if let Err(e) = read {
                let _ = tx.send((
                    Position::Index(count.get() + 1),
                    Item::Bad(format!("invalid JSON: {e}")),
                ));
            } else if let Err(e) = de.end() {
                let _ = tx.send((
                    Position::Index(count.get() + 1),
                    Item::Bad(format!("invalid JSON after the array: {e}")),
                ));
            }
        } else {
            for (i, value) in serde_json::Deserializer::from_reader(input)
                .into_iter::<Value>()
                .enumerate()
            {
                let item = match value {
                    Ok(v) => Item::Lead(v),
                    Err(e) => Item::Bad(format!("invalid JSON: {e}")),
                };
                let stop = matches!(item, Item::Bad(_));
                if tx.send((Position::Index(i + 1), item)).is_err() || stop {
                    return;
                }
            }
        }
    });
    rx
}

/// Sends leads read from a JSON file with the bytes read since the last one.
struct Sender {
    tx: std::sync::mpsc::SyncSender<(Position, Item, usize)>,
    read: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    sent: usize,
}

impl Sender {
    fn send(&mut self, (position, item): (Position, Item)) -> Result<(), ()> {
        let read = self.read.load(std::sync::atomic::Ordering::Relaxed);
        let bytes = read.saturating_sub(self.sent);
        self.sent = read;
        self.tx.send((position, item, bytes)).map_err(|_| ())
    }
}

/// A reader that counts the bytes it passed on.
struct Counted {
    input: Box<dyn Read + Send>,
    read: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Counted {
    fn wrap(input: Box<dyn Read + Send>) -> (Counted, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let read = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        (
            Counted {
                input,
                read: read.clone(),
            },
            read,
        )
    }
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.input.read(buf)?;
        self.read.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Sends each element of a JSON array as it is parsed.
struct ArrayItems<'a> {
    tx: &'a std::cell::RefCell<Sender>,
    /// Elements sent so far, so a syntax error can say where it is.
    count: &'a std::cell::Cell<usize>,
}

impl<'de> Visitor<'de> for ArrayItems<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of leads")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(value) = seq.next_element::<Value>()? {
            self.count.set(self.count.get() + 1);
            if self
                .tx
                .borrow_mut()
                .send((Position::Index(self.count.get()), Item::Lead(value)))
                .is_err()
            {
                break;
            }
        }
        Ok(())
    }
}

/// Opens a file (or stdin for `-`), wrapped in a progress bar when given one.
pub fn open(
    path: Option<&PathBuf>,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<Box<dyn Read + Send>, Failure> {
    match path {
        Some(p) if p.as_os_str() != "-" => {
            let file = leadscore::file::open(p).map_err(|e| Failure(format!("error: {e}")))?;
            Ok(match progress {
                Some(bar) => Box::new(bar.wrap_read(file)),
                None => Box::new(file),
            })
        }
        _ => Ok(Box::new(std::io::stdin())),
    }
}
