//! The `leadscore` Python package's native module: a thin edge over the library's `Pack`
//! and `Scorer`. Leads come in as dicts or Arrow data, results go out as dicts (what
//! `leadscore score` prints, one line each) or an Arrow table; scoring runs on the
//! module's one thread pool with the GIL released, in chunks between which the call
//! checks for signals, and a lead that cannot be scored is a result with `error`. No
//! call panics into Python: every one runs inside `guard::guard`.

mod batches;
mod convert;
mod guard;
mod many;
mod outcomes;
mod pool;
mod results;
mod rows;
mod times;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};
use pyo3_arrow::input::AnyRecordBatch;
use pyo3_arrow::PyTable;

use guard::guard;

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
/// It pickles as its rule files and plugin scripts (text), compiled again when unpickled.
#[pyclass(module = "leadscore", name = "Pack", frozen)]
struct Pack {
    pack: leadscore::Pack,
    /// The folder it was loaded from (`Pack.load`): `fit` reads the pack's own tests there,
    /// as the command does. `None` for a pack built from text or unpickled.
    dir: Option<PathBuf>,
}

#[pymethods]
impl Pack {
    /// Loads a pack folder; `plugins` is the plugin search path (default `["plugins"]`).
    #[staticmethod]
    #[pyo3(signature = (path, plugins = None))]
    fn load(py: Python<'_>, path: PathBuf, plugins: Option<&Bound<'_, PyAny>>) -> PyResult<Pack> {
        guard(|| {
            let loader = loader(plugins)?;
            let pack = py.detach(|| loader.load(&path)).map_err(|e| pack_error(py, e))?;
            Ok(Pack { pack, dir: Some(path) })
        })
    }

    /// Builds a pack from rule text; plugins are looked up on `plugins` (default `["plugins"]`).
    #[staticmethod]
    #[pyo3(signature = (name, text, plugins = None))]
    fn from_source(py: Python<'_>, name: &str, text: &str, plugins: Option<&Bound<'_, PyAny>>) -> PyResult<Pack> {
        guard(|| {
            let pack = loader(plugins)?
                .from_source(name, text)
                .map_err(|e| pack_error(py, e))?;
            Ok(Pack { pack, dir: None })
        })
    }

    /// A pack rebuilt from its texts: `sources` as `Pack.sources` gives them, `plugins`
    /// as `Pack.plugin_sources` does. No file is read: this is how a pickled pack (and
    /// the pack a Spark executor runs) is compiled again.
    #[staticmethod]
    fn from_texts(
        py: Python<'_>,
        name: &str,
        sources: Vec<(String, String)>,
        plugins: Vec<(String, String)>,
    ) -> PyResult<Pack> {
        guard(|| {
            let scripts = plugins.into_iter().map(|(file, text)| {
                let name = file.strip_suffix(".rhai").unwrap_or(&file).to_string();
                (name, text)
            });
            let loader = leadscore::Loader::new()
                .plugin_path(Vec::<PathBuf>::new())
                .plugin_scripts(scripts);
            let files = sources
                .into_iter()
                .map(|(name, text)| leadscore::SourceFile { name, text });
            let pack = py
                .detach(|| loader.from_files(name, files))
                .map_err(|e| pack_error(py, e))?;
            Ok(Pack { pack, dir: None })
        })
    }

    /// Pickling: the pack's name, rule files and plugin scripts, as text.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        guard(|| {
            let py = slf.py();
            let pack = slf.get();
            let rebuild = slf.get_type().getattr("from_texts")?;
            let args = (pack.name(), pack.sources(), pack.plugin_sources()).into_pyobject(py)?;
            Ok((rebuild, args))
        })
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

    /// The plugin scripts the pack runs: `(file name, text)` pairs, the text it compiled
    /// (not the file as it is now).
    #[getter]
    fn plugin_sources(&self) -> Vec<(String, String)> {
        self.pack
            .plugin_texts()
            .map(|(path, text)| (file_name(path), text.to_string()))
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
        guard(|| {
            let outcome = self.score_one(py, lead, as_of)?;
            Ok(results::dict(py, &outcome, 1)?.into_any())
        })
    }

    /// The readable explanation of one lead's score.
    fn explain(&self, py: Python<'_>, lead: &Bound<'_, PyAny>, as_of: &Bound<'_, PyAny>) -> PyResult<String> {
        guard(|| {
            let outcome = self.score_one(py, lead, as_of)?;
            Ok(self.pack.explain(&outcome).to_string())
        })
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
        threads: Option<&Bound<'py, PyAny>>,
        id_field: &str,
    ) -> PyResult<Bound<'py, PyList>> {
        guard(|| self.batch(py, as_of, threads, id_field, many::CHUNK)?.score(leads))
    }

    /// `score_many` a chunk at a time: an iterator of lists of result dicts (`chunk_size`
    /// leads each, the last shorter), in input order and numbered as `score_many` numbers
    /// them. Leads are read from `leads` as the chunks are asked for, so memory stays
    /// bounded by a few chunks whatever the iterable's length (a generator over a file, a
    /// database cursor).
    #[pyo3(signature = (leads, as_of, threads = None, id_field = "id", chunk_size = None))]
    fn score_chunks(
        &self,
        py: Python<'_>,
        leads: &Bound<'_, PyAny>,
        as_of: &Bound<'_, PyAny>,
        threads: Option<&Bound<'_, PyAny>>,
        id_field: &str,
        chunk_size: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<ScoreChunks> {
        guard(|| {
            let chunk = chunk_size_of(chunk_size)?;
            let batch = self.batch(py, as_of, threads, id_field, chunk)?;
            Ok(ScoreChunks {
                stream: Mutex::new(many::Stream::new(batch, leads)?),
            })
        })
    }

    /// Scores Arrow data (anything with `__arrow_c_stream__` or `__arrow_c_array__`: a
    /// pyarrow Table or RecordBatch, a Polars DataFrame, ...) without making Python
    /// objects of its rows, and returns a pyarrow Table of results: `id` (a copy of the
    /// `id_field` column, or row numbers from 1), `score`, `mql`, `disqualified`, `route`,
    /// `tags`, `dimensions`, `fired`, `error`. Rows are scored as of `as_of`, or each as
    /// of its own time in the column `as_of_field` (RFC 3339 text or timestamps with a
    /// timezone), as `leadscore backtest --as-of-field` judges each lead; give one of them.
    #[pyo3(signature = (data, as_of = None, id_field = "id", threads = None, as_of_field = None))]
    fn score_arrow<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        as_of: Option<&Bound<'py, PyAny>>,
        id_field: &str,
        threads: Option<&Bound<'py, PyAny>>,
        as_of_field: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(|| {
            let when = when(as_of, as_of_field)?;
            let pool = pool::get(py, pool::threads(threads)?)?;
            let reader = arrow_input(data)?.into_reader()?;
            let batches = batches::Batches {
                pack: &self.pack,
                when,
                id_field,
                pool: &pool,
            };
            let (scored, id_type) = batches.score(py, reader)?;
            PyTable::try_new(scored, results::schema(id_type))?.into_pyarrow(py)
        })
    }

    /// Why `score_arrow` would not read `data`'s columns directly but write each row as
    /// JSON and read that (the same results, slower): a column of a type the Arrow reader
    /// does not read, or a pack with enrichment hooks. `None` when it reads them directly.
    /// Only the schema is looked at.
    fn arrow_refusal(&self, data: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
        guard(|| {
            let reader = arrow_input(data)?.into_reader()?;
            let batch = arrow_array::RecordBatch::new_empty(reader.schema());
            let as_of = DateTime::<Utc>::UNIX_EPOCH;
            Ok(self
                .pack
                .scorer(as_of)
                .arrow(&batch)
                .err()
                .map(|refusal| refusal.to_string()))
        })
    }

    fn __repr__(&self) -> String {
        format!("<leadscore.Pack {}>", self.pack.id())
    }
}

impl Pack {
    /// What a `score_many` or `score_chunks` call scores with.
    fn batch(
        &self,
        py: Python<'_>,
        as_of: &Bound<'_, PyAny>,
        threads: Option<&Bound<'_, PyAny>>,
        id_field: &str,
        chunk: usize,
    ) -> PyResult<many::Batch> {
        Ok(many::Batch {
            pack: self.pack.clone(),
            as_of: convert::as_of(as_of)?,
            id_field: id_field.to_string(),
            pool: pool::get(py, pool::threads(threads)?)?,
            chunk,
        })
    }

    fn score_one(
        &self,
        py: Python<'_>,
        lead: &Bound<'_, PyAny>,
        as_of: &Bound<'_, PyAny>,
    ) -> PyResult<leadscore::Outcome> {
        let as_of = convert::as_of(as_of)?;
        let text = convert::json_text(lead).map_err(|e| score_error(py, "not_json", e))?;
        let pool = pool::get(py, pool::threads(None)?)?;
        let pack = &self.pack;
        // On the pool: its threads have the deep stacks plugins need.
        py.detach(|| pool.run(|| pack.score_json(&text, as_of)))
            .map_err(|e| score_error(py, e.code(), e.to_string()))
    }
}

/// The results of `Pack.score_chunks`: iterate over it for lists of result dicts.
#[pyclass(module = "leadscore", name = "ScoreChunks")]
struct ScoreChunks {
    stream: Mutex<many::Stream>,
}

#[pymethods]
impl ScoreChunks {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyList>>> {
        guard(|| {
            // Only taken with the GIL held; a lead iterator that asks for the next chunk
            // of the stream it feeds finds it busy.
            let mut stream = self
                .stream
                .try_lock()
                .map_err(|_| PyValueError::new_err("score_chunks: the next chunk is already being scored"))?;
            stream.next(py)
        })
    }
}

/// `chunk_size=`: a whole number from 1 to [`many::MAX_CHUNK`]; [`many::CHUNK`] when not given.
fn chunk_size_of(given: Option<&Bound<'_, PyAny>>) -> PyResult<usize> {
    let Some(given) = given.filter(|g| !g.is_none()) else {
        return Ok(many::CHUNK);
    };
    let range = || format!("chunk_size must be a whole number from 1 to {}", many::MAX_CHUNK);
    if given.is_instance_of::<pyo3::types::PyBool>() || !given.is_instance_of::<pyo3::types::PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "{}, not {}",
            range(),
            given.get_type().name()?
        )));
    }
    match given.extract::<i64>() {
        Ok(n) if n >= 1 && n as u64 <= many::MAX_CHUNK as u64 => Ok(n as usize),
        _ => Err(PyValueError::new_err(format!("{}, not {given}", range()))),
    }
}

/// A loader that builds packs with `pack`'s plugin scripts as it compiled them (no file
/// read): how the outcomes tools rebuild a pack with new numbers.
fn loader_of(pack: &leadscore::Pack) -> leadscore::Loader {
    let scripts: Vec<(String, String)> = pack
        .plugin_texts()
        .map(|(path, text)| {
            let name = file_name(path);
            let name = name.strip_suffix(".rhai").unwrap_or(&name).to_string();
            (name, text.to_string())
        })
        .collect();
    leadscore::Loader::new()
        .plugin_path(Vec::<PathBuf>::new())
        .plugin_scripts(scripts)
}

/// `as_of=` or `as_of_field=`: exactly one of them.
fn when(as_of: Option<&Bound<'_, PyAny>>, as_of_field: Option<String>) -> PyResult<batches::When> {
    match (as_of.filter(|a| !a.is_none()), as_of_field) {
        (Some(as_of), None) => Ok(batches::When::At(convert::as_of(as_of)?)),
        (None, Some(field)) => Ok(batches::When::Field(field)),
        (Some(_), Some(_)) => Err(PyTypeError::new_err(
            "give as_of (one time for every row) or as_of_field (a column of times), not both",
        )),
        (None, None) => Err(PyTypeError::new_err(
            "give as_of (one time for every row) or as_of_field (a column of times)",
        )),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Arrow data as pyo3-arrow reads it, or a `TypeError` that says what is accepted (and
/// what to do with a lazy frame or a Series).
fn arrow_input(data: &Bound<'_, PyAny>) -> PyResult<AnyRecordBatch> {
    let data = &exportable(data)?;
    data.extract::<AnyRecordBatch>().map_err(|e| {
        let kind = data.get_type();
        let module = kind.module().map_or_else(|_| String::new(), |m| m.to_string());
        let name = kind.name().map_or_else(|_| "?".to_string(), |n| n.to_string());
        let hint = match (module.split('.').next().unwrap_or(""), name.as_str()) {
            ("polars", "LazyFrame") => "; call .collect() on a Polars LazyFrame first",
            (_, "Series") => "; a Series is one column: pass a DataFrame (series.to_frame())",
            _ => "",
        };
        PyTypeError::new_err(format!(
            "score_arrow takes Arrow data (a pyarrow Table, RecordBatch or RecordBatchReader, a Polars \
             DataFrame, anything with __arrow_c_stream__ or __arrow_c_array__), not {module}.{name}{hint} ({e})"
        ))
    })
}

/// A Polars DataFrame with the columns Arrow's C interface cannot bring into this module
/// cast first: Polars gives a Null column a buffer that the format does not have, and Arrow
/// here has no 128-bit integers. A Null column becomes strings (every cell missing, as
/// before); an Int128 or UInt128 column becomes Decimal(38, 0) (its integers read as
/// numbers, an id kept exact). Anything else is returned as it is.
fn exportable<'py>(data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let kind = data.get_type();
    let polars = kind
        .module()
        .is_ok_and(|m| m.to_string().split('.').next() == Some("polars"));
    if !polars || kind.name()? != "DataFrame" {
        return Ok(data.clone());
    }
    let py = data.py();
    let pl = py.import("polars")?;
    let is = |dtype: &Bound<'_, PyAny>, name: &str| -> PyResult<bool> {
        match pl.getattr(name) {
            Ok(kind) => dtype.eq(kind),
            Err(_) => Ok(false),
        }
    };
    let casts = pyo3::types::PyDict::new(py);
    for item in data.getattr("schema")?.call_method0("items")?.try_iter()? {
        let (name, dtype): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
        if is(&dtype, "Null")? {
            casts.set_item(name, pl.getattr("String")?)?;
        } else if is(&dtype, "Int128")? || is(&dtype, "UInt128")? {
            casts.set_item(name, pl.getattr("Decimal")?.call1((38, 0))?)?;
        }
    }
    if casts.is_empty() {
        return Ok(data.clone());
    }
    data.call_method1("cast", (casts,))
}

/// The loader for `plugins=`: a list of folders (a single folder as a string is refused
/// with a hint, since it would be read as a list of one-letter folders).
fn loader(plugins: Option<&Bound<'_, PyAny>>) -> PyResult<leadscore::Loader> {
    let Some(plugins) = plugins.filter(|p| !p.is_none()) else {
        return Ok(leadscore::Loader::new());
    };
    if plugins.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "plugins must be a list of folders, not a string: plugins=[{:?}]",
            plugins.to_string()
        )));
    }
    let dirs: Vec<PathBuf> = plugins
        .extract()
        .map_err(|_| PyTypeError::new_err("plugins must be a list of folders (strings or paths)"))?;
    Ok(leadscore::Loader::new().plugin_path(dirs))
}

/// A lead that cannot be scored as Python sees it: `ScoreError` with the message, and
/// `.code`, the kind as the core names it (`bad_event`, `plugin`, ...), or `not_json` for
/// a Python value that has no JSON form.
fn score_error(py: Python<'_>, code: &str, message: String) -> PyErr {
    let err = ScoreError::new_err(message);
    if let Err(e) = err.value(py).setattr("code", code) {
        return e;
    }
    err
}

/// One error of a rejected pack as `PackError.details` lists it: a dict, so a program can
/// match on its `layer` and `code` (the core's `PackError::layer`/`code`) and show the rest.
#[derive(IntoPyObject)]
struct ErrorDetail {
    file: String,
    line: usize,
    column: usize,
    message: String,
    layer: &'static str,
    code: &'static str,
    help: Option<String>,
}

/// A load failure as Python sees it: `PackError` (with `.errors`) or `OSError`.
fn pack_error(py: Python<'_>, error: leadscore::Error) -> PyErr {
    match error {
        leadscore::Error::Pack(errors) => {
            let mut list = Vec::new();
            let mut details = Vec::new();
            for e in errors.errors() {
                let at = errors.location(e);
                list.push((at.file.clone(), at.line, at.column, e.to_string()));
                details.push(ErrorDetail {
                    file: at.file,
                    line: at.line,
                    column: at.column,
                    message: e.to_string(),
                    layer: e.layer(),
                    code: e.code(),
                    help: e.help().map(str::to_string),
                });
            }
            let err = PackError::new_err(errors.render(false));
            let value = err.value(py);
            if let Err(e) = value
                .setattr("errors", list)
                .and_then(|()| value.setattr("details", details))
            {
                return e;
            }
            err
        }
        leadscore::Error::EmptyPack(_) => {
            let err = PackError::new_err(error.to_string());
            let value = err.value(py);
            let _ = value.setattr("errors", Vec::<(String, usize, usize, String)>::new());
            let _ = value.setattr("details", Vec::<ErrorDetail>::new());
            err
        }
        other => PyOSError::new_err(other.to_string()),
    }
}

/// `as_of` (an aware `datetime` or an RFC 3339 string) checked and written as RFC 3339 in
/// UTC, as it travels to Spark executors.
#[pyfunction]
fn as_of_text(as_of: &Bound<'_, PyAny>) -> PyResult<String> {
    guard(|| Ok(convert::as_of(as_of)?.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)))
}

/// The native half of the `leadscore` package.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Pack>()?;
    m.add_class::<ScoreChunks>()?;
    m.add_function(wrap_pyfunction!(as_of_text, m)?)?;
    m.add_function(wrap_pyfunction!(outcomes::backtest, m)?)?;
    m.add_function(wrap_pyfunction!(outcomes::fit, m)?)?;
    m.add_function(wrap_pyfunction!(outcomes::diff, m)?)?;
    m.add_function(wrap_pyfunction!(outcomes::drift, m)?)?;
    m.add("PackError", m.py().get_type::<PackError>())?;
    m.add("ScoreError", m.py().get_type::<ScoreError>())?;
    m.add("InternalError", m.py().get_type::<guard::InternalError>())?;
    Ok(())
}
