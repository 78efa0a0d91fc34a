//! Results as an Arrow table: `id`, `score`, `mql`, `disqualified`, `route`, `tags`,
//! `dimensions`, `fired`, `error`. A lead that could not be scored has only `id` and
//! `error`; every other row has `error` null. And results as dicts, one per lead.

use std::sync::Arc;

use arrow_array::builder::{Float64Builder, ListBuilder, MapBuilder, MapFieldNames, StringBuilder};
use arrow_array::{Array, ArrayRef, BooleanArray, Float64Array, ListArray, RecordBatch, StringArray, StructArray};
use arrow_buffer::{NullBuffer, OffsetBuffer};
use arrow_schema::{ArrowError, DataType, Field, Fields, Schema, SchemaRef};
use leadscore::Outcome;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::convert;

/// What scoring one lead gave.
pub type Scored = Result<Outcome, String>;

fn fired_fields() -> Fields {
    Fields::from(vec![
        Field::new("rule", DataType::Utf8, true),
        Field::new("points", DataType::Float64, true),
        Field::new("dimension", DataType::Utf8, true),
        Field::new("location", DataType::Utf8, true),
    ])
}

fn map_names() -> MapFieldNames {
    MapFieldNames {
        entry: "entries".into(),
        key: "key".into(),
        value: "value".into(),
    }
}

fn dimensions_type() -> DataType {
    let entries = Field::new(
        "entries",
        DataType::Struct(Fields::from(vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("value", DataType::Float64, true),
        ])),
        false,
    );
    DataType::Map(Arc::new(entries), false)
}

/// The result schema, with the id column's type.
pub fn schema(id: DataType) -> SchemaRef {
    let list = |item: DataType| DataType::List(Arc::new(Field::new("item", item, true)));
    Arc::new(Schema::new(vec![
        Field::new("id", id, true),
        Field::new("score", DataType::Float64, true),
        Field::new("mql", DataType::Boolean, true),
        Field::new("disqualified", DataType::Utf8, true),
        Field::new("route", DataType::Utf8, true),
        Field::new("tags", list(DataType::Utf8), true),
        Field::new("dimensions", dimensions_type(), true),
        Field::new("fired", list(DataType::Struct(fired_fields())), true),
        Field::new("error", DataType::Utf8, true),
    ]))
}

fn ok(r: &Scored) -> Option<&Outcome> {
    r.as_ref().ok()
}

/// One batch of results; `ids` is the input's id column (or row numbers).
pub fn batch(ids: ArrayRef, results: &[Scored]) -> Result<RecordBatch, ArrowError> {
    let score: Float64Array = results.iter().map(|r| ok(r).map(|o| o.score)).collect();
    let mql: BooleanArray = results.iter().map(|r| ok(r).map(|o| o.mql)).collect();
    let disqualified: StringArray = results.iter().map(|r| ok(r).and_then(|o| o.disqualified())).collect();
    let route: StringArray = results.iter().map(|r| ok(r).and_then(|o| o.route())).collect();
    let error: StringArray = results.iter().map(|r| r.as_ref().err().map(String::as_str)).collect();
    let columns: Vec<ArrayRef> = vec![
        ids.clone(),
        Arc::new(score),
        Arc::new(mql),
        Arc::new(disqualified),
        Arc::new(route),
        Arc::new(tags(results)),
        Arc::new(dimensions(results)?),
        Arc::new(fired(results)?),
        Arc::new(error),
    ];
    RecordBatch::try_new(schema(ids.data_type().clone()), columns)
}

fn tags(results: &[Scored]) -> ListArray {
    let mut tags = ListBuilder::new(StringBuilder::new());
    for result in results {
        match result {
            Ok(outcome) => {
                for tag in outcome.tags() {
                    tags.values().append_value(tag);
                }
                tags.append(true);
            }
            Err(_) => tags.append(false),
        }
    }
    tags.finish()
}

fn dimensions(results: &[Scored]) -> Result<arrow_array::MapArray, ArrowError> {
    let mut map = MapBuilder::new(Some(map_names()), StringBuilder::new(), Float64Builder::new());
    for result in results {
        match result {
            Ok(outcome) => {
                for (name, value) in outcome.dimensions() {
                    map.keys().append_value(name);
                    map.values().append_value(value);
                }
                map.append(true)?;
            }
            Err(_) => map.append(false)?,
        }
    }
    Ok(map.finish())
}

fn fired(results: &[Scored]) -> Result<ListArray, ArrowError> {
    let mut offsets = vec![0i32];
    let (mut rule, mut points, mut dimension, mut location) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for result in results {
        for fired in result.iter().flat_map(|o| o.fired()) {
            rule.push(Some(fired.rule()));
            points.push(Some(fired.points()));
            dimension.push(fired.dimension());
            location.push(Some(fired.location()));
        }
        let end = i32::try_from(rule.len()).map_err(|_| ArrowError::ComputeError("too many fired rules".into()))?;
        offsets.push(end);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(rule)),
        Arc::new(Float64Array::from(points)),
        Arc::new(StringArray::from(dimension)),
        Arc::new(StringArray::from(location)),
    ];
    let values = StructArray::try_new(fired_fields(), columns, None)?;
    let item = Arc::new(Field::new("item", values.data_type().clone(), true));
    let valid = NullBuffer::from(results.iter().map(Result::is_ok).collect::<Vec<_>>());
    ListArray::try_new(item, OffsetBuffer::new(offsets.into()), Arc::new(values), Some(valid))
}

/// An outcome as the dict `leadscore score` prints as its line (`json.loads` of it), built
/// directly, keys in the line's order; `number` fills in an id the lead did not have.
pub fn dict<'py>(py: Python<'py>, outcome: &Outcome, number: usize) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    match &outcome.id {
        Some(id) => dict.set_item("id", convert::to_python(py, id)?)?,
        None => dict.set_item("id", number)?,
    }
    dict.set_item("score", whole(py, outcome.score)?)?;
    dict.set_item("mql", outcome.mql)?;
    dict.set_item("disqualified", outcome.disqualified())?;
    let dimensions = PyDict::new(py);
    for (name, value) in outcome.dimensions() {
        dimensions.set_item(name, whole(py, value)?)?;
    }
    dict.set_item("dimensions", dimensions)?;
    dict.set_item("route", outcome.route())?;
    dict.set_item("tags", PyList::new(py, outcome.tags())?)?;
    let fired = PyList::empty(py);
    for rule in outcome.fired() {
        let item = PyDict::new(py);
        item.set_item("rule", rule.rule())?;
        item.set_item("points", whole(py, rule.points())?)?;
        item.set_item("dimension", rule.dimension())?;
        item.set_item("location", rule.location())?;
        if let Some(count) = rule.count() {
            item.set_item("count", count)?;
        }
        if let Some(decay) = rule.decay() {
            item.set_item("decay", whole(py, decay)?)?;
        }
        fired.append(item)?;
    }
    dict.set_item("fired", fired)?;
    // The rare parts, as their JSON.
    if !outcome.capped.is_empty() {
        dict.set_item("capped", json(py, &outcome.capped)?)?;
    }
    if !outcome.enriched.is_empty() {
        dict.set_item("enriched", json(py, &outcome.enriched)?)?;
    }
    let pack = PyDict::new(py);
    pack.set_item("name", &*outcome.pack().name)?;
    pack.set_item("version", &*outcome.pack().version)?;
    dict.set_item("pack", pack)?;
    Ok(dict)
}

/// A number as results write it: a whole one as an `int` (`20`, not `20.0`).
fn whole(py: Python<'_>, n: f64) -> PyResult<Bound<'_, PyAny>> {
    convert::to_python(py, &leadscore::num_to_json(n))
}

fn json<'py>(py: Python<'py>, value: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    let value = serde_json::to_value(value).map_err(|e| PyValueError::new_err(e.to_string()))?;
    convert::to_python(py, &value)
}
