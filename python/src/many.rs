//! `Pack.score_many` and `Pack.score_chunks`: dicts in, dicts out, a chunk at a time.
//!
//! A chunk of leads is written as JSON text with the GIL (cheaper than building values),
//! then scored on the pool without it while the next chunk is written and the previous
//! chunk's results are built: converting, scoring and building overlap. Between chunks
//! the call checks for signals, so Ctrl-C stops it within a chunk's time, and only two
//! chunks of text are held at once. The garbage collector is paused while results are
//! built: a million result dicts would otherwise set off full collections over every
//! object the process holds (most of the call's time), though none of them is garbage.
//!
//! [`Stream`] hands the results over chunk by chunk (`score_chunks`), so memory stays
//! bounded whatever the iterator's length; `score_many` gathers every chunk into one list.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc};

use chrono::{DateTime, Utc};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyIterator, PyList, PyModule};
use rayon::prelude::*;
use serde_json::Value as Json;

use crate::{convert, guard, results};

/// Leads per chunk: about 10 ms of scoring on one thread, so a signal waits no longer.
pub const CHUNK: usize = 2048;

/// The most leads a chunk of `score_chunks` may hold: a chunk's text and results are held
/// twice over while the next one is scored.
pub const MAX_CHUNK: usize = 1 << 20;

/// A lead as JSON text, or the id it has and why it could not be written.
type Lead = Result<String, (Option<Json>, String)>;
/// A lead's outcome, or its id and why it could not be scored.
type Done = Result<leadscore::Outcome, (Option<Json>, String)>;
/// A chunk's results, or the message of a panic while scoring it.
type Chunk = Result<Vec<Done>, String>;

/// What one `score_many` or `score_chunks` call scores with.
pub struct Batch {
    pub pack: leadscore::Pack,
    pub as_of: DateTime<Utc>,
    pub id_field: String,
    pub pool: Arc<leadscore::batch::Pool>,
    /// Leads per chunk.
    pub chunk: usize,
}

/// Leads being scored: the iterator they come from (until it ends), the chunk on the pool,
/// and how many results were handed over (to number leads without an id).
pub struct Stream {
    batch: Batch,
    leads: Option<Py<PyIterator>>,
    scoring: Option<mpsc::Receiver<Chunk>>,
    handed: usize,
}

impl Stream {
    pub fn new(batch: Batch, leads: &Bound<'_, PyAny>) -> PyResult<Stream> {
        Ok(Stream {
            batch,
            leads: Some(leads.try_iter()?.unbind()),
            scoring: None,
            handed: 0,
        })
    }

    /// The next chunk's results in input order (`None` once every lead was handed over):
    /// each lead's result dict, or `{"id": ..., "error": ...}`; a lead without an id gets
    /// its position (from 1). The chunk after it is scored meanwhile.
    pub fn next<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyList>>> {
        loop {
            let next = match &self.leads {
                Some(leads) => {
                    let chunk = self.batch.next_chunk(leads.bind(py))?;
                    if chunk.is_empty() {
                        self.leads = None;
                        None
                    } else {
                        Some(self.batch.spawn(chunk))
                    }
                }
                None => None,
            };
            let previous = std::mem::replace(&mut self.scoring, next);
            let Some(previous) = previous else {
                if self.scoring.is_none() {
                    return Ok(None);
                }
                continue;
            };
            let done = py.detach(move || previous.recv());
            let done = done.map_err(|_| guard::internal(&"a scoring thread stopped without its results"))?;
            let list = self.results(py, done.map_err(|panic| guard::internal(&panic))?)?;
            py.check_signals()?;
            return Ok(Some(list));
        }
    }

    /// A chunk's results as dicts, numbered after those already handed over.
    fn results<'py>(&mut self, py: Python<'py>, done: Vec<Done>) -> PyResult<Bound<'py, PyList>> {
        let _paused = GcPaused::new(py)?;
        let list = PyList::empty(py);
        for result in done {
            self.handed += 1;
            let number = self.handed;
            let item = match result {
                Ok(outcome) => results::dict(py, &outcome, number)?,
                Err((id, message)) => {
                    let dict = PyDict::new(py);
                    match id {
                        Some(id) => dict.set_item("id", convert::to_python(py, &id)?)?,
                        None => dict.set_item("id", number)?,
                    }
                    dict.set_item("error", message)?;
                    dict
                }
            };
            list.append(item)?;
        }
        Ok(list)
    }
}

impl Batch {
    /// Every lead of `leads` (an iterable of dicts), in order, in one list.
    pub fn score<'py>(self, leads: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
        let py = leads.py();
        let mut stream = Stream::new(self, leads)?;
        let list = PyList::empty(py);
        // Paused for the whole call: the results are kept, so collecting finds nothing.
        let _paused = GcPaused::new(py)?;
        while let Some(chunk) = stream.next(py)? {
            for item in chunk.iter() {
                list.append(item)?;
            }
        }
        Ok(list)
    }

    /// Up to a chunk of leads from `leads`, written as JSON text.
    fn next_chunk(&self, leads: &Bound<'_, PyIterator>) -> PyResult<Vec<Lead>> {
        let mut chunk = Vec::with_capacity(self.chunk.min(CHUNK));
        for lead in leads.clone().take(self.chunk) {
            let lead = lead?;
            chunk.push(convert::json_text(&lead).map_err(|message| (lead_id(&lead, &self.id_field), message)));
        }
        Ok(chunk)
    }

    /// Scores `chunk` on the pool; its results arrive on the receiver.
    fn spawn(&self, chunk: Vec<Lead>) -> mpsc::Receiver<Chunk> {
        let (send, receive) = mpsc::sync_channel(1);
        let (pack, as_of, id_field) = (self.pack.clone(), self.as_of, self.id_field.clone());
        self.pool.spawn(move || {
            let done = catch_unwind(AssertUnwindSafe(|| score_chunk(&pack, as_of, &id_field, chunk)));
            // The caller may have stopped (an interrupt, a dropped stream): then no one
            // waits for these.
            let _ = send.send(done.map_err(|panic| guard::message(panic.as_ref())));
        });
        receive
    }
}

/// Scores a chunk in parallel on the current pool.
fn score_chunk(pack: &leadscore::Pack, as_of: DateTime<Utc>, id_field: &str, chunk: Vec<Lead>) -> Vec<Done> {
    let scorer = pack.scorer(as_of).id_field(id_field);
    chunk
        .into_par_iter()
        .with_min_len(64)
        .map(|lead| {
            let text = lead?;
            scorer
                .score_json(&text)
                .map_err(|e| (text_id(&text, id_field), e.to_string()))
        })
        .collect()
}

/// The lead's id, for the error result of a lead that could not be written as JSON.
fn lead_id(lead: &Bound<'_, PyAny>, id_field: &str) -> Option<Json> {
    convert::to_json(&lead.get_item(id_field).ok()?)
}

/// The id of a lead written as JSON, for the error result of a lead that did not score
/// (read as the reader reads it: an integer beyond 64 bits as its digits).
fn text_id(text: &str, id_field: &str) -> Option<Json> {
    let mut lead: std::collections::HashMap<String, Box<serde_json::value::RawValue>> =
        serde_json::from_str(text).ok()?;
    convert::exact_json(lead.remove(id_field)?.get())
}

/// The garbage collector, paused for as long as this lives when it was running.
struct GcPaused<'py> {
    gc: Option<Bound<'py, PyModule>>,
}

impl<'py> GcPaused<'py> {
    fn new(py: Python<'py>) -> PyResult<Self> {
        let gc = py.import("gc")?;
        if !gc.call_method0("isenabled")?.is_truthy()? {
            return Ok(GcPaused { gc: None });
        }
        gc.call_method0("disable")?;
        Ok(GcPaused { gc: Some(gc) })
    }
}

impl Drop for GcPaused<'_> {
    fn drop(&mut self) {
        if let Some(gc) = &self.gc {
            if let Err(e) = gc.call_method0("enable") {
                e.write_unraisable(gc.py(), None);
            }
        }
    }
}
