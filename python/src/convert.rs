//! Values across the boundary: Python objects into JSON leads, results back into Python
//! objects, and `as_of` from a `datetime` or an RFC 3339 string.

use chrono::{DateTime, Utc};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use serde_json::{Map, Number, Value};

static DATETIME: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DATE: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `as_of` as the caller gave it: an aware `datetime` or an RFC 3339 string.
pub fn as_of(value: &Bound<'_, PyAny>) -> PyResult<DateTime<Utc>> {
    let text = if let Ok(text) = value.cast::<PyString>() {
        text.extract::<String>()?
    } else if value.is_instance(DATETIME.import(value.py(), "datetime", "datetime")?)? {
        aware_datetime(value).map_err(|e| PyValueError::new_err(format!("as_of: {e}")))?
    } else {
        return Err(PyTypeError::new_err(format!(
            "as_of must be a timezone-aware datetime or an RFC 3339 string, not {}",
            value.get_type().name()?
        )));
    };
    leadscore::parse_time(&text).ok_or_else(|| {
        PyValueError::new_err(format!(
            "as_of {text:?} is not an RFC 3339 time (like 2026-03-01T00:00:00Z)"
        ))
    })
}

/// An aware `datetime` in RFC 3339; a naive one is an error, since its instant is unknown.
fn aware_datetime(value: &Bound<'_, PyAny>) -> Result<String, String> {
    let offset = value.call_method0("utcoffset").map_err(|e| e.to_string())?;
    if offset.is_none() {
        let text = value
            .call_method0("isoformat")
            .map_or_else(|_| "?".into(), |t| t.to_string());
        return Err(format!(
            "the datetime {text} has no timezone; give it one (tzinfo=datetime.timezone.utc)"
        ));
    }
    Ok(value.call_method0("isoformat").map_err(|e| e.to_string())?.to_string())
}

/// A Python lead (dicts, lists, strings, numbers, booleans, `None`, datetimes) as JSON.
/// `NaN` is missing, as pandas writes a missing number; a naive datetime is an error.
pub fn to_json(value: &Bound<'_, PyAny>) -> Result<Value, String> {
    let py = value.py();
    if value.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = value.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(s) = value.cast::<PyString>() {
        return s.extract::<String>().map(Value::String).map_err(|e| e.to_string());
    }
    if let Ok(i) = value.cast::<PyInt>() {
        return int(i.as_any());
    }
    if let Ok(f) = value.cast::<PyFloat>() {
        return Ok(float(f.value()));
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        let mut object = Map::new();
        for (key, item) in dict.iter() {
            let Ok(key) = key.cast::<PyString>() else {
                return Err(format!("a key is a {}, not a string", type_name(&key)));
            };
            let key: String = key.extract().map_err(|e: PyErr| e.to_string())?;
            let item = to_json(&item).map_err(|e| format!("{key}: {e}"))?;
            object.insert(key, item);
        }
        return Ok(Value::Object(object));
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        let items = value.try_iter().map_err(|e| e.to_string())?;
        return items
            .enumerate()
            .map(|(i, item)| {
                let item = item.map_err(|e| e.to_string())?;
                to_json(&item).map_err(|e| format!("[{i}]: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    let datetime = DATETIME.import(py, "datetime", "datetime").map_err(|e| e.to_string())?;
    if value.is_instance(datetime).unwrap_or(false) {
        return aware_datetime(value).map(Value::String);
    }
    let date = DATE.import(py, "datetime", "date").map_err(|e| e.to_string())?;
    if value.is_instance(date).unwrap_or(false) {
        let text = value.call_method0("isoformat").map_err(|e| e.to_string())?;
        return Ok(Value::String(text.to_string()));
    }
    // NumPy scalars and the like: integers index, other numbers convert to float.
    if value.hasattr("__index__").unwrap_or(false) {
        if let Ok(i) = value.call_method0("__index__") {
            return int(&i);
        }
    }
    if value.hasattr("__float__").unwrap_or(false) {
        if let Ok(f) = value.extract::<f64>() {
            return Ok(float(f));
        }
    }
    Err(format!("cannot read a value of type {}", type_name(value)))
}

fn int(value: &Bound<'_, PyAny>) -> Result<Value, String> {
    if let Ok(i) = value.extract::<i64>() {
        return Ok(Value::from(i));
    }
    if let Ok(u) = value.extract::<u64>() {
        return Ok(Value::from(u));
    }
    value
        .extract::<f64>()
        .map(float)
        .map_err(|_| format!("the integer {value} is too large"))
}

fn float(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map_or_else(|_| "?".to_string(), |n| n.to_string())
}

/// JSON (a serialized result) as Python objects, as `json.loads` would give them.
pub fn to_python<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => number(py, n)?,
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_python(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(object) => {
            let dict = PyDict::new(py);
            for (key, item) in object {
                dict.set_item(key, to_python(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

fn number<'py>(py: Python<'py>, n: &Number) -> PyResult<Bound<'py, PyAny>> {
    if let Some(i) = n.as_i64() {
        Ok(i.into_pyobject(py)?.into_any())
    } else if let Some(u) = n.as_u64() {
        Ok(u.into_pyobject(py)?.into_any())
    } else {
        Ok(PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any())
    }
}
