//! Reading leads for `score` and `stats`: JSON Lines, CSV and JSON files, in batches so
//! memory stays bounded however large the input is.

use std::io::{BufRead, BufReader, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

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
        /// The columns read into each lead: their index and header, in order.
        keep: Vec<(usize, String)>,
        record: csv::StringRecord,
        /// Where the record being read starts, for the record bound.
        start: Arc<AtomicU64>,
        /// The longest record read, in bytes.
        max_record: usize,
        /// How the input ended, to tell a quote never closed.
        last: std::sync::Arc<Tail>,
    },
    Json {
        /// Each lead with the input bytes read for it.
        items: Receiver<(Position, Item, usize)>,
    },
}

/// How input is read.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// The CSV field delimiter.
    pub delimiter: u8,
    /// Whether `--delimiter` gave it (else a header split by `;` or tabs is an error).
    pub delimiter_given: bool,
    /// The longest JSON line read: a longer one is an error for that line and is skipped
    /// without being held in memory. A CSV record longer than this ends the input with
    /// an error naming its line (a record's end cannot be found without reading it).
    pub max_line: usize,
    /// The CSV columns read into leads.
    pub columns: Columns,
}

/// Which CSV columns become fields of a lead: those a pack reads (and the command's own
/// fields: id, outcome, time, `--by`), or all when a plugin may read any of them. A row of
/// 100,000 cells is then a lead of a handful of fields.
#[derive(Clone, Debug, Default)]
pub enum Columns {
    /// Every column.
    #[default]
    All,
    /// Only these headers.
    Only(Arc<std::collections::HashSet<String>>),
}

impl Columns {
    /// The columns `pack` reads, and `also`; all of them when the pack has plugins (an
    /// enrichment hook sees the whole lead).
    pub fn of(pack: &leadscore::Pack, also: &[&str]) -> Columns {
        if pack.plugin_files().next().is_some() {
            return Columns::All;
        }
        let program = pack.program();
        let mut names: std::collections::HashSet<String> = also.iter().map(|s| s.to_string()).collect();
        for path in program.field_paths() {
            // A flat column named by the dotted path (`company.size`), or its root.
            if let Some((root, _)) = path.split_once('.') {
                names.insert(root.to_string());
            }
            names.insert(path);
        }
        if program.event_types().next().is_some() {
            names.insert("events".to_string());
        }
        Columns::Only(Arc::new(names))
    }

    /// The columns either reads.
    pub fn union(self, other: Columns) -> Columns {
        match (self, other) {
            (Columns::Only(a), Columns::Only(b)) => Columns::Only(Arc::new(a.union(&b).cloned().collect())),
            _ => Columns::All,
        }
    }

    fn keeps(&self, header: &str) -> bool {
        match self {
            Columns::All => true,
            Columns::Only(names) => names.contains(header),
        }
    }
}

/// The csv reader's buffer: a record is refused once its bytes read pass the limit by
/// more than this.
const CSV_BUFFER: usize = 1 << 16;

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
                let (input, start) = RecordBound::wrap(input, options.max_line);
                let mut reader = csv::ReaderBuilder::new()
                    .delimiter(options.delimiter)
                    .has_headers(true)
                    .buffer_capacity(CSV_BUFFER)
                    .from_reader(input);
                let headers: Vec<String> = reader
                    .headers()
                    .map_err(|e| match too_long(&e) {
                        Some(_) => record_too_long(1, options.max_line),
                        None => Failure(format!("error: cannot read the CSV header row: {e}")),
                    })?
                    .iter()
                    .map(|h| h.trim().to_string())
                    .collect();
                if !options.delimiter_given {
                    sniff_delimiter(&headers)?;
                }
                duplicate_header(&headers)?;
                let keep = headers
                    .into_iter()
                    .enumerate()
                    .filter(|(_, h)| options.columns.keeps(h))
                    .collect();
                start.store(reader.position().byte(), Ordering::Relaxed);
                Leads::Csv {
                    reader,
                    keep,
                    record: csv::StringRecord::new(),
                    start,
                    max_record: options.max_line,
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
                keep,
                record,
                start,
                max_record,
                last,
            } => {
                let line = reader.position().line() as usize;
                let read = reader.read_record(record);
                start.store(reader.position().byte(), Ordering::Relaxed);
                match read {
                    Ok(false) => Ok(None),
                    Ok(true) => {
                        let line = record.position().map_or(line, |p| p.line() as usize);
                        let bytes = record.as_byte_record().as_slice().len();
                        if let Some(message) = unterminated(reader, record, last, line) {
                            return Ok(Some((Position::Line(line), Item::Bad(message), bytes)));
                        }
                        Ok(Some((Position::Line(line), Item::Lead(csv_lead(keep, record)), bytes)))
                    }
                    Err(e) => {
                        let line = e.position().map_or(line, |p| p.line() as usize);
                        if too_long(&e).is_some() {
                            return Err(record_too_long(line, *max_record));
                        }
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
    let mut seen = std::collections::HashMap::with_capacity(headers.len());
    for (i, name) in headers.iter().enumerate().filter(|(_, h)| !h.is_empty()) {
        if let Some(first) = seen.insert(name.as_str(), i) {
            return Err(Failure(format!(
                "error: the CSV header names `{name}` twice (columns {} and {}); rename one",
                first + 1,
                i + 1
            )));
        }
    }
    Ok(())
}

/// The error of a CSV record longer than `--max-line-bytes`.
fn record_too_long(line: usize, max: usize) -> Failure {
    Failure(format!(
        "error: line {line}: the CSV record is longer than {max} bytes (see --max-line-bytes); the read stopped there"
    ))
}

/// Whether a CSV error is [`RecordBound`]'s.
fn too_long(e: &csv::Error) -> Option<&RecordTooLong> {
    match e.kind() {
        csv::ErrorKind::Io(io) => io.get_ref().and_then(|inner| inner.downcast_ref()),
        _ => None,
    }
}

/// A CSV record passed the limit.
#[derive(Debug, thiserror::Error)]
#[error("a CSV record is longer than the limit")]
struct RecordTooLong;

/// A reader that fails once the bytes read since the current record started pass the
/// limit (and the csv reader's buffer): the csv crate has no bound of its own and would
/// grow one record until memory runs out.
struct RecordBound {
    input: Box<dyn Read + Send>,
    read: u64,
    /// Where the current record starts, set by the reader after each record.
    start: Arc<AtomicU64>,
    max: u64,
}

impl RecordBound {
    fn wrap(input: Box<dyn Read + Send>, max: usize) -> (Box<dyn Read + Send>, Arc<AtomicU64>) {
        let start = Arc::new(AtomicU64::new(0));
        let bound = RecordBound {
            input,
            read: 0,
            start: start.clone(),
            max: (max as u64).saturating_add(2 * CSV_BUFFER as u64),
        };
        (Box::new(bound), start)
    }
}

impl Read for RecordBound {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let start = self.start.load(Ordering::Relaxed);
        if self.read.saturating_sub(start) > self.max {
            return Err(std::io::Error::other(RecordTooLong));
        }
        let n = self.input.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
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
/// Not buffered: JSON Lines are read in large chunks straight into a batch's text (a
/// buffer here copied every byte once more), and the JSON reader buffers its own.
fn skip_bom(mut input: Box<dyn Read + Send>) -> Result<Box<dyn Read + Send>, Failure> {
    let mut start = Vec::with_capacity(3);
    input.by_ref().take(3).read_to_end(&mut start)?;
    if start == b"\xEF\xBB\xBF" {
        start.clear();
    }
    Ok(Box::new(std::io::Cursor::new(start).chain(input)))
}

/// A CSV row as a lead: header → cell for the columns kept; empty cells are missing
/// fields.
fn csv_lead(keep: &[(usize, String)], record: &csv::StringRecord) -> Value {
    let mut lead = Map::new();
    for (index, name) in keep {
        if let Some(cell) = record.get(*index).filter(|c| !c.trim().is_empty()) {
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
