//! `backtest`, `fit`, `diff` and `drift` from Python: the outcomes library the command
//! line calls (`leadscore-outcomes`), over leads given as dicts or Arrow data. Each lead is
//! written as JSON text once, then judged on the module's pool with the GIL released; the
//! reports come back as the dicts the command's `--json` prints (`json.loads` of it).
//! Options are the command's, named as its flags are; signals are checked between chunks.

use std::path::PathBuf;

use arrow_json::writer::EncoderOptions;
use chrono::Utc;
use leadscore_outcomes::backtest::{GoalSpec, Report, ReportOptions};
use leadscore_outcomes::diff::Diff;
use leadscore_outcomes::drift::{observe, DriftReport, Side};
use leadscore_outcomes::refit::{FitOptions, Split};
use leadscore_outcomes::tune::{self, FitInput, Judged, Leads, SourceError, Work};
use leadscore_outcomes::{
    score_json, Labels, Lead, OutcomesError, Reader, Rows, Rules, Setup, When, DEFAULT_NEGATIVE, DEFAULT_POSITIVE,
};
use pyo3::exceptions::{PyOSError, PyTypeError, PyUserWarning, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayon::prelude::*;

use crate::{convert, guard::guard, pool, rows, Pack};

/// Leads judged between two checks for signals.
const CHUNK: usize = 4096;

/// Each lead as JSON text, or why it could not be written.
type Texts = Vec<Result<String, String>>;

/// How leads are judged: the outcome field and its values, when each lead is judged, the
/// `by` and id fields (the command's `--outcome`, `--positive`, `--negative`, `--as-of`,
/// `--as-of-field`, `--by`, `--id-field`).
struct Judging<'py> {
    outcome: Option<String>,
    positive: Option<Vec<String>>,
    negative: Option<Vec<String>>,
    as_of: Option<Bound<'py, PyAny>>,
    as_of_field: Option<String>,
    by: Option<String>,
    id_field: String,
}

impl Judging<'_> {
    fn setup(self) -> PyResult<Setup> {
        let list = |given: Option<Vec<String>>, option: &str, default: &[&str]| -> PyResult<Vec<String>> {
            match given {
                None => Ok(default.iter().map(|v| v.to_string()).collect()),
                Some(values) => {
                    let values: Vec<String> = values
                        .into_iter()
                        .map(|v| v.trim().to_string())
                        .filter(|v| !v.is_empty())
                        .collect();
                    if values.is_empty() {
                        return Err(PyValueError::new_err(format!("{option} names no value")));
                    }
                    Ok(values)
                }
            }
        };
        let labels = Labels::new(
            list(self.positive, "positive", &DEFAULT_POSITIVE)?,
            list(self.negative, "negative", &DEFAULT_NEGATIVE)?,
        );
        if let Some(both) = labels.positive().iter().find(|v| labels.negative().contains(v)) {
            return Err(PyValueError::new_err(format!(
                "{both:?} is both a positive and a negative value"
            )));
        }
        let when = match (self.as_of.filter(|a| !a.is_none()), self.as_of_field) {
            (Some(_), Some(_)) => {
                return Err(PyTypeError::new_err(
                    "give as_of (one time for every lead) or as_of_field (each lead's own time), not both",
                ))
            }
            (None, Some(field)) => When::Field(field),
            (Some(as_of), None) => When::At(convert::as_of(&as_of)?.timestamp_millis()),
            (None, None) => When::At(chrono::SubsecRound::trunc_subsecs(Utc::now(), 0).timestamp_millis()),
        };
        Ok(Setup {
            outcome: self.outcome,
            labels,
            when,
            by: self.by,
            id_field: self.id_field,
        })
    }
}

/// `min_precision` or `capacity` (a number of MQLs a week, which needs each lead's time);
/// neither: the current MQL volume, as the commands choose, or the highest F1 with `max_f1`.
fn goal(min_precision: Option<f64>, capacity: Option<f64>, max_f1: bool, setup: &Setup) -> PyResult<GoalSpec> {
    let goal = match (min_precision, capacity) {
        (Some(_), Some(_)) => {
            return Err(PyTypeError::new_err("give min_precision or capacity, not both"));
        }
        (Some(p), None) => GoalSpec::MinPrecision(p),
        (None, Some(n)) => {
            if !matches!(setup.when, When::Field(_)) {
                return Err(PyTypeError::new_err(
                    "capacity (MQLs a week) needs as_of_field: each lead's time says which week it is in",
                ));
            }
            GoalSpec::Capacity(n)
        }
        (None, None) if max_f1 => GoalSpec::F1,
        (None, None) => GoalSpec::Current,
    };
    goal.check().map_err(outcomes_error)?;
    Ok(goal)
}

/// Does the pack predict which leads convert? `leadscore backtest --json`.
#[pyfunction]
#[pyo3(signature = (pack, leads, outcome, *, as_of = None, as_of_field = None, positive = None, negative = None,
                    bands = 10, min_precision = None, capacity = None, max_f1 = false, by = None,
                    id_field = "id".to_string(), threads = None, html = None))]
#[expect(clippy::too_many_arguments, reason = "the command's options, as keyword arguments")]
pub fn backtest<'py>(
    py: Python<'py>,
    pack: PyRef<'py, Pack>,
    leads: &Bound<'py, PyAny>,
    outcome: String,
    as_of: Option<Bound<'py, PyAny>>,
    as_of_field: Option<String>,
    positive: Option<Vec<String>>,
    negative: Option<Vec<String>>,
    bands: usize,
    min_precision: Option<f64>,
    capacity: Option<f64>,
    max_f1: bool,
    by: Option<String>,
    id_field: String,
    threads: Option<&Bound<'py, PyAny>>,
    html: Option<PathBuf>,
) -> PyResult<Bound<'py, PyAny>> {
    guard(|| {
        if bands == 0 || bands > usize::from(u16::MAX) {
            return Err(PyValueError::new_err(format!(
                "bands must be from 1 to {}, not {bands}",
                u16::MAX
            )));
        }
        let judging = Judging {
            outcome: Some(outcome),
            positive,
            negative,
            as_of,
            as_of_field,
            by: by.clone(),
            id_field,
        };
        let setup = judging.setup()?;
        let goal = goal(min_precision, capacity, max_f1, &setup)?;
        let pool = pool::get(py, pool::threads(threads)?)?;
        let texts = texts(leads)?;
        let pack = &pack.pack;
        let holding = tune::holding_pack(pack, &crate::loader_of(pack), None)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let reader = Reader::new(setup);
        let rules = Rules::of(pack);
        let mut rows = Rows::default();
        let failures = py.detach(|| {
            each(
                &texts,
                &pool,
                |lead| reader.judge(pack, holding.as_ref(), lead),
                |result| match result {
                    Ok(judgement) => rows.add_judged(&rules, &judgement),
                    Err(_) => rows.fail(),
                },
            )
        })?;
        if let Some(warning) = rows.check_labelled(reader.setup()).map_err(outcomes_error)? {
            warn(py, &warning)?;
        }
        failures.warn(py)?;
        let numbers = leadscore_outcomes::rewrite::numbers(pack.sources());
        let options = ReportOptions {
            bands,
            goal,
            threshold: numbers.threshold.map(|t| t.value),
            by,
            mql: numbers.mql,
        };
        let report = Report::build(pack.id().to_string(), &rows, &rules, &options);
        if let Some(path) = html {
            write_html(&path, &leadscore_outcomes::html::render(&report))?;
        }
        to_python(py, &report)
    })
}

/// The same leads scored by two packs: `leadscore diff --json`.
#[pyfunction]
#[pyo3(signature = (a, b, leads, *, outcome = None, as_of = None, as_of_field = None, positive = None,
                    negative = None, id_field = "id".to_string(), threads = None))]
#[expect(clippy::too_many_arguments, reason = "the command's options, as keyword arguments")]
pub fn diff<'py>(
    py: Python<'py>,
    a: PyRef<'py, Pack>,
    b: PyRef<'py, Pack>,
    leads: &Bound<'py, PyAny>,
    outcome: Option<String>,
    as_of: Option<Bound<'py, PyAny>>,
    as_of_field: Option<String>,
    positive: Option<Vec<String>>,
    negative: Option<Vec<String>>,
    id_field: String,
    threads: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    guard(|| {
        let with_outcomes = outcome.is_some();
        let judging = Judging {
            outcome,
            positive,
            negative,
            as_of,
            as_of_field,
            by: None,
            id_field,
        };
        let reader = Reader::new(judging.setup()?);
        let pool = pool::get(py, pool::threads(threads)?)?;
        let texts = texts(leads)?;
        let (a, b) = (&a.pack, &b.pack);
        let mut diff = Diff::default();
        let failures = py.detach(|| {
            each(
                &texts,
                &pool,
                |lead| {
                    let Lead::Text(text) = lead else {
                        return Err("a lead not given as text".to_string());
                    };
                    let facts = reader.facts_json(text)?;
                    let one = score_json(a, text, facts.at).map_err(|e| format!("pack A: {e}"))?;
                    let two = score_json(b, text, facts.at).map_err(|e| format!("pack B: {e}"))?;
                    Ok((facts, one, two))
                },
                |result| match result {
                    Ok((facts, one, two)) => diff.add(&facts, &one, &two),
                    Err(_) => diff.fail(),
                },
            )
        })?;
        failures.warn(py)?;
        let report = diff.report(a.id().to_string(), b.id().to_string(), with_outcomes);
        to_python(py, &report)
    })
}

/// Do the current leads still look like the baseline? `leadscore drift --json`; the two
/// sides are named `names` in the report (the command names them by their files).
#[pyfunction]
#[pyo3(signature = (pack, baseline, current, *, as_of = None, as_of_field = None, id_field = "id".to_string(),
                    threads = None, names = ("baseline".to_string(), "current".to_string()), html = None))]
#[expect(clippy::too_many_arguments, reason = "the command's options, as keyword arguments")]
pub fn drift<'py>(
    py: Python<'py>,
    pack: PyRef<'py, Pack>,
    baseline: &Bound<'py, PyAny>,
    current: &Bound<'py, PyAny>,
    as_of: Option<Bound<'py, PyAny>>,
    as_of_field: Option<String>,
    id_field: String,
    threads: Option<&Bound<'py, PyAny>>,
    names: (String, String),
    html: Option<PathBuf>,
) -> PyResult<Bound<'py, PyAny>> {
    guard(|| {
        let mut skip = vec![id_field.clone()];
        skip.extend(as_of_field.clone());
        let judging = Judging {
            outcome: None,
            positive: None,
            negative: None,
            as_of,
            as_of_field,
            by: None,
            id_field,
        };
        let reader = Reader::new(judging.setup()?);
        let pool = pool::get(py, pool::threads(threads)?)?;
        let pack = &pack.pack;
        let rules = Rules::of(pack);
        let skip: Vec<&str> = skip.iter().map(String::as_str).collect();
        let side = |leads: &Bound<'py, PyAny>| -> PyResult<(Side, Failures)> {
            let texts = texts(leads)?;
            let mut side = Side::default();
            let failures = py.detach(|| {
                each(
                    &texts,
                    &pool,
                    |lead| {
                        let Lead::Text(text) = lead else {
                            return Err("a lead not given as text".to_string());
                        };
                        let value: serde_json::Value =
                            serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
                        let (_, outcome) = reader.judge_value(pack, &value)?;
                        Ok((outcome, observe(&value, &skip)))
                    },
                    |result| match result {
                        Ok((outcome, fields)) => side.add(&rules, &outcome, fields),
                        Err(_) => side.fail(),
                    },
                )
            })?;
            Ok((side, failures))
        };
        let (b, failed_b) = side(baseline)?;
        let (c, failed_c) = side(current)?;
        failed_b.warn(py)?;
        failed_c.warn(py)?;
        let report = DriftReport::build(pack.id().to_string(), &rules, (&names.0, &b), (&names.1, &c));
        if let Some(path) = html {
            write_html(&path, &leadscore_outcomes::drift_html::render(&report))?;
        }
        to_python(py, &report)
    })
}

/// Points that fit the outcomes: `leadscore fit`. Returns `{"report": ..., "text": ...,
/// "files": {...}, "pack": Pack}`: the report as `--json` prints it and as text, the fitted
/// pack's rule files (what `fit` writes into OUT_DIR besides the pack's plugins and
/// tests), and the fitted pack itself, compiled with the pack's plugin scripts.
#[pyfunction]
#[pyo3(signature = (pack, leads, outcome, *, as_of = None, as_of_field = None, positive = None, negative = None,
                    holdout = 0.3, split_at = None, seed = 1, min_fired = 30, penalty = 1.0, suggest = 0,
                    allow_columns = Vec::new(), min_precision = None, capacity = None, max_f1 = false,
                    decay = false, id_field = "id".to_string(), threads = None, out_dir = "fitted".to_string()))]
#[expect(clippy::too_many_arguments, reason = "the command's options, as keyword arguments")]
pub fn fit<'py>(
    py: Python<'py>,
    pack: PyRef<'py, Pack>,
    leads: &Bound<'py, PyAny>,
    outcome: String,
    as_of: Option<Bound<'py, PyAny>>,
    as_of_field: Option<String>,
    positive: Option<Vec<String>>,
    negative: Option<Vec<String>>,
    holdout: f64,
    split_at: Option<Bound<'py, PyAny>>,
    seed: u64,
    min_fired: u64,
    penalty: f64,
    suggest: usize,
    allow_columns: Vec<String>,
    min_precision: Option<f64>,
    capacity: Option<f64>,
    max_f1: bool,
    decay: bool,
    id_field: String,
    threads: Option<&Bound<'py, PyAny>>,
    out_dir: String,
) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let judging = Judging {
            outcome: Some(outcome),
            positive,
            negative,
            as_of,
            as_of_field,
            by: None,
            id_field,
        };
        let setup = judging.setup()?;
        let split = match split_at.filter(|s| !s.is_none()) {
            Some(_) if !matches!(setup.when, When::Field(_)) => {
                return Err(PyTypeError::new_err(
                    "split_at needs as_of_field: each lead's time says on which side of it the lead falls",
                ))
            }
            Some(at) => Split::At(convert::as_of(&at)?.timestamp_millis()),
            None => Split::Holdout {
                fraction: holdout,
                seed,
            },
        };
        let options = FitOptions {
            split,
            lambda: penalty,
            min_fired,
            goal: goal(min_precision, capacity, max_f1, &setup)?,
            suggest,
            allow_columns,
            decay,
        };
        options.check().map_err(outcomes_error)?;
        let pool = pool::get(py, pool::threads(threads)?)?;
        let texts = texts(leads)?;
        let dir = pack.dir.clone();
        let pack = &pack.pack;
        let loader = crate::loader_of(pack);
        let reader = Reader::new(setup);
        let source = Source {
            texts: &texts,
            pool: &pool,
        };
        let fitted = py
            .detach(|| {
                let input = FitInput {
                    pack,
                    loader: &loader,
                    dir: dir.as_deref(),
                    reader: &reader,
                    leads: &source,
                    out_dir: &out_dir,
                };
                tune::fit(&input, &options)
            })
            .map_err(outcomes_error)?;
        for warning in &fitted.report.warnings {
            warn(py, warning)?;
        }
        // Built as `fit` built it, from the files it wrote, with the pack's plugin scripts.
        let fitted_pack = py
            .detach(|| loader.load_files(None, &pack.id().name, fitted.files.clone()))
            .map_err(|e| PyValueError::new_err(format!("the fitted pack does not build: {e}")))?;
        let out = PyDict::new(py);
        out.set_item("report", to_python(py, &fitted.report)?)?;
        out.set_item("text", fitted.report.to_string())?;
        let files = PyDict::new(py);
        for (name, text) in &fitted.files {
            files.set_item(name, text)?;
        }
        out.set_item("files", files)?;
        out.set_item(
            "pack",
            Pack {
                pack: fitted_pack,
                dir: None,
            },
        )?;
        Ok(out)
    })
}

/// Leads held as text, read once per pass of `fit`.
struct Source<'a> {
    texts: &'a Texts,
    pool: &'a leadscore::batch::Pool,
}

impl Leads for Source<'_> {
    fn each(
        &self,
        _first: bool,
        work: &Work<'_>,
        sink: &mut dyn FnMut(Result<Judged, String>),
    ) -> Result<bool, SourceError> {
        let failures = each(self.texts, self.pool, work, sink).map_err(|e| Box::new(e) as SourceError)?;
        Ok(failures.count > 0)
    }
}

/// Leads that could not be read or judged: how many, and the first one's place and why.
#[derive(Default)]
struct Failures {
    count: usize,
    first: Option<(usize, String)>,
}

impl Failures {
    /// A warning naming the first failure, as the command reports each on standard error.
    fn warn(&self, py: Python<'_>) -> PyResult<()> {
        let Some((number, message)) = &self.first else {
            return Ok(());
        };
        let others = match self.count {
            1 => String::new(),
            n => format!(" ({} more leads failed too)", n - 1),
        };
        warn(py, &format!("lead {number} was left out: {message}{others}"))
    }
}

/// Runs `work` on every lead on `pool`, a chunk at a time, and hands each result to `sink`
/// in input order; checks for signals between chunks (called without the GIL).
fn each<T: Send>(
    texts: &Texts,
    pool: &leadscore::batch::Pool,
    work: impl Fn(Lead<'_>) -> Result<T, String> + Sync,
    mut sink: impl FnMut(Result<T, String>),
) -> PyResult<Failures> {
    let mut failures = Failures::default();
    for (c, chunk) in texts.chunks(CHUNK).enumerate() {
        let results: Vec<Result<T, String>> = pool.run(|| {
            chunk
                .par_iter()
                .with_min_len(64)
                .map(|lead| match lead {
                    Ok(text) => work(Lead::Text(text)),
                    Err(message) => Err(message.clone()),
                })
                .collect()
        });
        for (i, result) in results.into_iter().enumerate() {
            if let Err(message) = &result {
                failures.count += 1;
                if failures.first.is_none() {
                    failures.first = Some((c * CHUNK + i + 1, message.clone()));
                }
            }
            sink(result);
        }
        Python::attach(|py| py.check_signals())?;
    }
    Ok(failures)
}

/// Leads as JSON text: Arrow data (a pyarrow Table, a Polars DataFrame, anything with
/// `__arrow_c_stream__`), every column of each row; or an iterable of dicts.
fn texts(leads: &Bound<'_, PyAny>) -> PyResult<Texts> {
    if leads.hasattr("__arrow_c_stream__")? || leads.hasattr("__arrow_c_array__")? {
        return arrow_texts(leads);
    }
    let mut texts = Vec::new();
    for (i, lead) in leads.try_iter()?.enumerate() {
        texts.push(convert::json_text(&lead?));
        if i % CHUNK == 0 {
            leads.py().check_signals()?;
        }
    }
    Ok(texts)
}

fn arrow_texts(data: &Bound<'_, PyAny>) -> PyResult<Texts> {
    let py = data.py();
    let reader = crate::arrow_input(data)?.into_reader()?;
    let reading = rows::Reading::every();
    let options = EncoderOptions::default();
    let value_error = |e: arrow_schema::ArrowError| PyValueError::new_err(e.to_string());
    let mut texts = Vec::new();
    for batch in reader {
        let batch = batch.map_err(value_error)?;
        let columns = reading.project(&batch).map_err(value_error)?;
        let mut rows = rows::Rows::new(&columns, &options).map_err(value_error)?;
        let mut text = Vec::new();
        for row in 0..batch.num_rows() {
            texts.push(
                rows.write(row, &mut text)
                    .and_then(|()| String::from_utf8(text.clone()).map_err(|e| e.to_string())),
            );
        }
        py.check_signals()?;
    }
    Ok(texts)
}

/// A report as `json.loads` of the command's `--json` gives it.
fn to_python<'py>(py: Python<'py>, report: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    let value = serde_json::to_value(report).map_err(|e| PyValueError::new_err(e.to_string()))?;
    convert::to_python(py, &value)
}

fn write_html(path: &std::path::Path, page: &str) -> PyResult<()> {
    std::fs::write(path, page).map_err(|e| PyOSError::new_err(format!("cannot write {}: {e}", path.display())))
}

fn warn(py: Python<'_>, message: &str) -> PyResult<()> {
    let message = std::ffi::CString::new(message.replace('\0', " ")).unwrap_or_default();
    PyErr::warn(py, py.get_type::<PyUserWarning>().as_any(), &message, 2)
}

/// An outcomes error as Python sees it: an interrupt raised while leads were read is
/// raised again as it was, anything else is a `ValueError` with the command's message.
fn outcomes_error(error: OutcomesError) -> PyErr {
    match error {
        OutcomesError::Leads(source) => match source.downcast::<PyErr>() {
            Ok(e) => *e,
            Err(other) => PyValueError::new_err(other.to_string()),
        },
        OutcomesError::Refitted(leadscore::Error::Pack(errors)) => {
            PyValueError::new_err(format!("the fitted pack does not check:\n{}", errors.render(false)))
        }
        other => PyValueError::new_err(other.to_string()),
    }
}
