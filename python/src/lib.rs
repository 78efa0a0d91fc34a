//! The `leadscore` Python package's native module: a thin edge over the library's `Pack`
//! and `Scorer`. Leads come in as dicts or Arrow data, results go out as dicts (what
//! `leadscore score` prints, one line each) or an Arrow table; scoring runs on a thread
//! pool with the GIL released, and a lead that cannot be scored is a result with `error`.

mod convert;
mod results;
mod rows;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use arrow_array::{ArrayRef, Int64Array};
use arrow_json::writer::EncoderOptions;
use chrono::{DateTime, Utc};
use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::PyTable;
use rayon::prelude::*;

use results::Scored;

create_exception!(
    leadscore,
    PackError,
    pyo3::exceptions::PyValueError,
    "A pack that does not check: the message is every error, rendered as `leadscore check` prints them; `.errors` lists them as (file, line, column, message)."
);
create_exception!(
    leadscore,
    ScoreError,
    pyo3::exceptions::PyValueError,
    "A lead that cannot be scored (`Pack.score`, `Pack.explain`)."
);

/// A compiled rule pack. Build one with `Pack.load(path)` or `Pack.from_source(name, text)`.
#[pyclass(module = "leadscore", name = "Pack", frozen)]
struct Pack {
    pack: leadscore::Pack,
}

#[pymethods]
impl Pack {
    /// Loads a pack folder; `plugins` is the plugin search path (default `["plugins"]`).
    #[staticmethod]
    #[pyo3(signature = (path, plugins = None))]
    fn load(py: Python<'_>, path: PathBuf, plugins: Option<Vec<PathBuf>>) -> PyResult<Pack> {
        let loader = loader(plugins);
        let pack = py.detach(|| loader.load(&path)).map_err(|e| pack_error(py, e))?;
        Ok(Pack { pack })
    }

    /// Builds a pack from rule text; plugins are looked up on `plugins` (default `["plugins"]`).
    #[staticmethod]
    #[pyo3(signature = (name, text, plugins = None))]
    fn from_source(py: Python<'_>, name: &str, text: &str, plugins: Option<Vec<PathBuf>>) -> PyResult<Pack> {
        let pack = loader(plugins).from_source(name, text).map_err(|e| pack_error(py, e))?;
        Ok(Pack { pack })
    }

    /// The pack's name (its folder's).
    #[getter]
    fn name(&self) -> String {
        self.pack.id().name.to_string()
    }

    /// A short hash of the pack's rule and plugin files.
    #[getter]
    fn version(&self) -> String {
        self.pack.id().version.to_string()
    }

    /// The rule files: `(name, text)` pairs, in load order.
    #[getter]
    fn sources(&self) -> Vec<(String, String)> {
        self.pack
            .sources()
            .files()
            .iter()
            .map(|f| (f.name.clone(), f.text.clone()))
            .collect()
    }

    /// The plugin scripts the pack uses: `(file name, text)` pairs, read from their files.
    #[getter]
    fn plugin_sources(&self) -> PyResult<Vec<(String, String)>> {
        self.pack
            .plugin_files()
            .map(|path| {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| PyOSError::new_err(format!("cannot read {}: {e}", path.display())))?;
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                Ok((name, text))
            })
            .collect()
    }

    /// Scores one lead (a dict) as of an aware `datetime` or RFC 3339 string; the result
    /// is the dict `leadscore score` prints as one line. Raises `ScoreError` for a lead
    /// that cannot be scored.
    fn score<'py>(
        &self,
        py: Python<'py>,
        lead: &Bound<'py, PyAny>,
        as_of: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let outcome = self.score_one(py, lead, as_of)?;
        outcome_to_python(py, &outcome)
    }

    /// The readable explanation of one lead's score.
    fn explain(&self, py: Python<'_>, lead: &Bound<'_, PyAny>, as_of: &Bound<'_, PyAny>) -> PyResult<String> {
        let outcome = self.score_one(py, lead, as_of)?;
        Ok(self.pack.explain(&outcome).to_string())
    }

    /// Scores an iterable of dicts in parallel (GIL released). Results are in input order;
    /// a lead without an id gets its position (from 1), as `leadscore score` gives a line
    /// its number; a lead that cannot be scored gives `{"id": ..., "error": "..."}`.
    #[pyo3(signature = (leads, as_of, threads = None, id_field = "id"))]
    fn score_many<'py>(
        &self,
        py: Python<'py>,
        leads: &Bound<'py, PyAny>,
        as_of: &Bound<'py, PyAny>,
        threads: Option<usize>,
        id_field: &str,
    ) -> PyResult<Bound<'py, PyList>> {
        let as_of = convert::as_of(as_of)?;
        let pool = pool(threads)?;
        // Each lead as JSON text (with the GIL: cheaper than building values), then read
        // and scored in parallel without it by the text reader, as `leadscore score` does.
        let mut texts = Vec::new();
        for lead in leads.try_iter()? {
            let lead = lead?;
            texts.push(convert::json_text(&lead).map_err(|message| (lead_id(&lead, id_field), message)));
        }
        let pack = &self.pack;
        let scored: Vec<Result<leadscore::Outcome, (Option<serde_json::Value>, String)>> = py.detach(|| {
            pool.install(|| {
                let scorer = pack.scorer(as_of).id_field(id_field);
                texts
                    .par_iter()
                    .map(|text| match text {
                        Ok(lead) => scorer
                            .score_json(lead)
                            .map_err(|e| (text_id(lead, id_field), e.to_string())),
                        Err((id, message)) => Err((id.clone(), message.clone())),
                    })
                    .collect()
            })
        });
        let list = PyList::empty(py);
        for (i, result) in scored.into_iter().enumerate() {
            let position = serde_json::Value::from(i + 1);
            let item = match result {
                Ok(mut outcome) => {
                    outcome.id.get_or_insert(position);
                    outcome_to_python(py, &outcome)?
                }
                Err((id, message)) => {
                    let dict = PyDict::new(py);
                    dict.set_item("id", convert::to_python(py, &id.unwrap_or(position))?)?;
                    dict.set_item("error", message)?;
                    dict.into_any()
                }
            };
            list.append(item)?;
        }
        Ok(list)
    }

    /// Scores Arrow data (anything with `__arrow_c_stream__` or `__arrow_c_array__`: a
    /// pyarrow Table or RecordBatch, a Polars DataFrame, ...) without making Python
    /// objects of its rows, and returns a pyarrow Table of results: `id` (the `id_field`
    /// column, or row numbers from 1), `score`, `mql`, `disqualified`, `route`, `tags`,
    /// `dimensions`, `fired`, `error`.
    #[pyo3(signature = (data, as_of, id_field = "id", threads = None))]
    fn score_arrow<'py>(
        &self,
        py: Python<'py>,
        data: AnyRecordBatch,
        as_of: &Bound<'py, PyAny>,
        id_field: &str,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let as_of = convert::as_of(as_of)?;
        let pool = pool(threads)?;
        let reader = data.into_reader()?;
        let reading = rows::Reading::new(&self.pack);
        let id_type = match reader.schema().field_with_name(id_field) {
            Ok(field) => field.data_type().clone(),
            Err(_) => arrow_schema::DataType::Int64,
        };
        let mut batches = Vec::new();
        let mut first_row = 0usize;
        for batch in reader {
            let batch = batch.map_err(|e| PyValueError::new_err(e.to_string()))?;
            let scored = py
                .detach(|| score_batch(&self.pack, &reading, &pool, as_of, &batch, id_field, first_row))
                .map_err(|e| PyValueError::new_err(e.to_string()))?;
            first_row += batch.num_rows();
            batches.push(scored);
        }
        PyTable::try_new(batches, results::schema(id_type))?.into_pyarrow(py)
    }

    /// Why `score_arrow` would not read `data`'s columns directly but write each row as
    /// JSON and read that (the same results, slower): a column of a type the Arrow reader
    /// does not read, or a pack with enrichment hooks. `None` when it reads them directly.
    /// Only the schema is looked at.
    fn arrow_refusal(&self, data: AnyRecordBatch) -> PyResult<Option<String>> {
        let reader = data.into_reader()?;
        let batch = arrow_array::RecordBatch::new_empty(reader.schema());
        let as_of = DateTime::<Utc>::UNIX_EPOCH;
        Ok(self
            .pack
            .scorer(as_of)
            .arrow(&batch)
            .err()
            .map(|refusal| refusal.to_string()))
    }

    fn __repr__(&self) -> String {
        format!("<leadscore.Pack {}>", self.pack.id())
    }
}

impl Pack {
    fn score_one(
        &self,
        py: Python<'_>,
        lead: &Bound<'_, PyAny>,
        as_of: &Bound<'_, PyAny>,
    ) -> PyResult<leadscore::Outcome> {
        let as_of = convert::as_of(as_of)?;
        let text = convert::json_text(lead).map_err(ScoreError::new_err)?;
        let pool = pool(None)?;
        let pack = &self.pack;
        // On the pool: its threads have the deep stacks plugins need.
        py.detach(|| pool.install(|| pack.score_json(&text, as_of)))
            .map_err(|e| ScoreError::new_err(e.to_string()))
    }
}

/// Scores one batch in parallel: read straight from its columns by the library's Arrow
/// reader, or, for a batch that reader refuses (a pack with enrichment hooks, a column
/// of a type it does not read), each row written as JSON of what the pack reads and read
/// as text.
fn score_batch(
    pack: &leadscore::Pack,
    reading: &rows::Reading,
    pool: &rayon::ThreadPool,
    as_of: DateTime<Utc>,
    batch: &arrow_array::RecordBatch,
    id_field: &str,
    first_row: usize,
) -> Result<arrow_array::RecordBatch, arrow_schema::ArrowError> {
    // The columns the pack reads, checked (naive timestamps are an error) on both paths.
    let columns = reading.project(batch)?;
    let scored: Vec<Scored> = pool.install(|| {
        let scorer = pack.scorer(as_of);
        match scorer.arrow(batch) {
            Ok(leads) => Ok((0..leads.len())
                .into_par_iter()
                .with_min_len(256)
                .map(|row| leads.score(row).map_err(|e| e.to_string()))
                .collect()),
            Err(_) => score_as_json(&scorer, &columns, batch.num_rows()),
        }
    })?;
    let ids: ArrayRef = match batch.column_by_name(id_field) {
        Some(ids) => ids.clone(),
        None => {
            let numbers = (first_row..first_row + batch.num_rows()).map(|i| i as i64 + 1);
            Arc::new(Int64Array::from_iter_values(numbers))
        }
    };
    results::batch(ids, &scored)
}

/// The rows of projected columns written as JSON objects and scored as text.
fn score_as_json(
    scorer: &leadscore::Scorer<'_>,
    columns: &[rows::Column],
    rows: usize,
) -> Result<Vec<Scored>, arrow_schema::ArrowError> {
    let options = EncoderOptions::default();
    // Made once here so that a column of a type that cannot be written fails the call.
    rows::Rows::new(columns, &options)?;
    Ok((0..rows)
        .into_par_iter()
        .with_min_len(256)
        .map_init(
            || {
                (
                    rows::Rows::new(columns, &options).map_err(|e| e.to_string()),
                    Vec::new(),
                )
            },
            |(rows, text), row| {
                let rows = rows.as_mut().map_err(|e| e.clone())?;
                rows.write(row, text)?;
                let text = std::str::from_utf8(text).map_err(|e| e.to_string())?;
                scorer.score_json(text).map_err(|e| e.to_string())
            },
        )
        .collect())
}

fn loader(plugins: Option<Vec<PathBuf>>) -> leadscore::Loader {
    match plugins {
        Some(dirs) => leadscore::Loader::new().plugin_path(dirs),
        None => leadscore::Loader::new(),
    }
}

/// A load failure as Python sees it: `PackError` (with `.errors`) or `OSError`.
fn pack_error(py: Python<'_>, error: leadscore::Error) -> PyErr {
    match error {
        leadscore::Error::Pack(errors) => {
            let list: Vec<(String, usize, usize, String)> = errors
                .errors()
                .iter()
                .map(|e| {
                    let at = errors.location(e);
                    (at.file, at.line, at.column, e.to_string())
                })
                .collect();
            let err = PackError::new_err(errors.render(false));
            if let Err(e) = err.value(py).setattr("errors", list) {
                return e;
            }
            err
        }
        leadscore::Error::EmptyPack(_) => {
            let err = PackError::new_err(error.to_string());
            let _ = err
                .value(py)
                .setattr("errors", Vec::<(String, usize, usize, String)>::new());
            err
        }
        other => PyOSError::new_err(other.to_string()),
    }
}

/// The lead's id, for the error result of a lead that could not be written as JSON.
fn lead_id(lead: &Bound<'_, PyAny>, id_field: &str) -> Option<serde_json::Value> {
    convert::to_json(&lead.get_item(id_field).ok()?)
}

/// The id of a lead written as JSON, for the error result of a lead that did not score.
fn text_id(text: &str, id_field: &str) -> Option<serde_json::Value> {
    let mut lead: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).ok()?;
    lead.remove(id_field)
}

fn outcome_to_python<'py>(py: Python<'py>, outcome: &leadscore::Outcome) -> PyResult<Bound<'py, PyAny>> {
    let value = serde_json::to_value(outcome).map_err(|e| PyValueError::new_err(e.to_string()))?;
    convert::to_python(py, &value)
}

/// Thread pools by size (`None`: one thread per core), made once: their threads have the
/// deep stacks plugin calls need (`leadscore::PLUGIN_STACK_SIZE`).
fn pool(threads: Option<usize>) -> PyResult<Arc<rayon::ThreadPool>> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    let size = match threads {
        Some(0) => return Err(PyValueError::new_err("threads must be at least 1")),
        Some(n) => n,
        None => 0,
    };
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .map_err(|_| PyValueError::new_err("the thread pools are unusable after a panic"))?;
    if let Some(pool) = pools.get(&size) {
        return Ok(pool.clone());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(size)
        .stack_size(leadscore::PLUGIN_STACK_SIZE)
        .thread_name(|i| format!("leadscore-{i}"))
        .build()
        .map_err(|e| PyValueError::new_err(format!("cannot start scoring threads: {e}")))?;
    let pool = Arc::new(pool);
    pools.insert(size, pool.clone());
    Ok(pool)
}

/// `as_of` (an aware `datetime` or an RFC 3339 string) checked and written as RFC 3339 in
/// UTC, as it travels to Spark executors.
#[pyfunction]
fn as_of_text(as_of: &Bound<'_, PyAny>) -> PyResult<String> {
    Ok(convert::as_of(as_of)?.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

/// The native half of the `leadscore` package.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Pack>()?;
    m.add_function(wrap_pyfunction!(as_of_text, m)?)?;
    m.add("PackError", m.py().get_type::<PackError>())?;
    m.add("ScoreError", m.py().get_type::<ScoreError>())?;
    Ok(())
}
