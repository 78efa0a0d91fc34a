//! Values across the boundary: Python objects into JSON leads, results back into Python
//! objects, and `as_of` from a `datetime` or an RFC 3339 string.

use chrono::{DateTime, Utc};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use serde_json::{Number, Value};

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
    // RFC 3339 offsets are whole minutes: a zone with seconds in its offset (historic
    // local mean times) is written as the same instant in UTC.
    let seconds: f64 = offset
        .call_method0("total_seconds")
        .and_then(|s| s.extract())
        .map_err(|e| e.to_string())?;
    let value = if seconds % 60.0 == 0.0 {
        value.clone()
    } else {
        let utc = value
            .py()
            .import("datetime")
            .and_then(|m| m.getattr("timezone")?.getattr("utc"))
            .map_err(|e| e.to_string())?;
        value.call_method1("astimezone", (utc,)).map_err(|e| e.to_string())?
    };
    Ok(value.call_method0("isoformat").map_err(|e| e.to_string())?.to_string())
}

/// How deep a Python lead may nest (the lead itself is the first level) before it is
/// refused: the JSON text it is written as is read by a reader that reads 127 levels,
/// and this walk stays far from the end of the stack.
pub const MAX_NESTING: usize = 127;

/// A Python lead (dicts, lists, strings, numbers, booleans, `None`, datetimes) as JSON
/// text, for the library's text reader (which reads only what the pack uses). `NaN` is
/// `null`, missing, as pandas writes a missing number; a naive datetime is an error.
pub fn json_text(value: &Bound<'_, PyAny>) -> Result<String, String> {
    let mut out = Vec::new();
    write(value, &mut out, 0).map_err(|e| match e {
        Unwritable::At(message) => message,
        Unwritable::TooDeep => format!("the lead nests more than {MAX_NESTING} deep"),
    })?;
    // Only serde_json's writers and ASCII punctuation wrote it: valid UTF-8.
    String::from_utf8(out).map_err(|e| e.to_string())
}

/// Why a value could not be written: a message with the path to it, or nesting too deep
/// (said once, not with a path as long as the nesting).
enum Unwritable {
    At(String),
    TooDeep,
}

impl From<String> for Unwritable {
    fn from(message: String) -> Self {
        Unwritable::At(message)
    }
}

impl Unwritable {
    fn under(self, step: impl std::fmt::Display) -> Unwritable {
        match self {
            Unwritable::At(message) => Unwritable::At(format!("{step}: {message}")),
            deep => deep,
        }
    }
}

fn write(value: &Bound<'_, PyAny>, out: &mut Vec<u8>, depth: usize) -> Result<(), Unwritable> {
    let py = value.py();
    if value.is_none() {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    if let Ok(b) = value.cast::<PyBool>() {
        out.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
        return Ok(());
    }
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(string(&s.to_cow().map_err(|e| e.to_string())?, out)?);
    }
    if let Ok(i) = value.cast::<PyInt>() {
        return Ok(int(i.as_any(), out)?);
    }
    if let Ok(f) = value.cast::<PyFloat>() {
        return Ok(float(f.value(), out)?);
    }
    if depth >= MAX_NESTING {
        return Err(Unwritable::TooDeep);
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        out.push(b'{');
        // Through Python's own iterator, which raises if the dict changes size while it is
        // walked (a value's `__float__` may change it), where pyo3's would panic.
        for (n, key) in dict.try_iter().map_err(|e| e.to_string())?.enumerate() {
            let key = key.map_err(|e| e.to_string())?;
            let Ok(key) = key.cast::<PyString>() else {
                return Err(format!("a key is a {}, not a string", type_name(&key)).into());
            };
            let item = dict
                .get_item(key)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| "the dict changed while it was read".to_string())?;
            let key = key.to_cow().map_err(|e| e.to_string())?;
            if n > 0 {
                out.push(b',');
            }
            string(&key, out)?;
            out.push(b':');
            write(&item, out, depth + 1).map_err(|e| e.under(&key))?;
        }
        out.push(b'}');
        return Ok(());
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        out.push(b'[');
        for (i, item) in value.try_iter().map_err(|e| e.to_string())?.enumerate() {
            let item = item.map_err(|e| e.to_string())?;
            if i > 0 {
                out.push(b',');
            }
            write(&item, out, depth + 1).map_err(|e| e.under(format_args!("[{i}]")))?;
        }
        out.push(b']');
        return Ok(());
    }
    let datetime = DATETIME.import(py, "datetime", "datetime").map_err(|e| e.to_string())?;
    if value.is_instance(datetime).unwrap_or(false) {
        return Ok(string(&aware_datetime(value)?, out)?);
    }
    let date = DATE.import(py, "datetime", "date").map_err(|e| e.to_string())?;
    if value.is_instance(date).unwrap_or(false) {
        let text = value.call_method0("isoformat").map_err(|e| e.to_string())?;
        return Ok(string(&text.to_string(), out)?);
    }
    // NumPy scalars and the like: integers index, other numbers convert to float.
    if value.hasattr("__index__").unwrap_or(false) {
        if let Ok(i) = value.call_method0("__index__") {
            return Ok(int(&i, out)?);
        }
    }
    if value.hasattr("__float__").unwrap_or(false) {
        if let Ok(f) = value.extract::<f64>() {
            return Ok(float(f, out)?);
        }
    }
    Err(format!("cannot read a value of type {}", type_name(value)).into())
}

/// One Python value (an id) as JSON, `None` when it cannot be read; an integer beyond 64
/// bits as its digits, a string, as the reader keeps such an id.
pub fn to_json(value: &Bound<'_, PyAny>) -> Option<Value> {
    exact_json(&json_text(value).ok()?)
}

/// JSON text as a value, an integer beyond 64 bits as its digits (a string), as the
/// reader keeps an id; `None` when it is not JSON.
pub fn exact_json(text: &str) -> Option<Value> {
    let json: Value = serde_json::from_str(text).ok()?;
    let text = text.trim();
    let integer = text.strip_prefix('-').unwrap_or(text);
    if json.is_f64() && !integer.is_empty() && integer.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Value::String(text.to_string()));
    }
    Some(json)
}

fn string(s: &str, out: &mut Vec<u8>) -> Result<(), String> {
    serde_json::to_writer(out, s).map_err(|e| e.to_string())
}

/// An integer as its digits, at any size (an id of more than 64 bits is kept exact, as
/// text; a field reads it as a number).
fn int(value: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> Result<(), String> {
    if let Ok(i) = value.extract::<i64>() {
        return serde_json::to_writer(out, &i).map_err(|e| e.to_string());
    }
    if let Ok(u) = value.extract::<u64>() {
        return serde_json::to_writer(out, &u).map_err(|e| e.to_string());
    }
    // `str` refuses integers of more digits than `sys.get_int_max_str_digits()`.
    let digits = value.str().map_err(|_| {
        let bits = value
            .call_method0("bit_length")
            .map_or_else(|_| "?".to_string(), |b| b.to_string());
        format!("an integer of {bits} bits is too large to read")
    })?;
    out.extend_from_slice(digits.to_cow().map_err(|e| e.to_string())?.as_bytes());
    Ok(())
}

/// A float as its shortest digits; a non-finite one as `null`, as JSON writers do.
fn float(f: f64, out: &mut Vec<u8>) -> Result<(), String> {
    serde_json::to_writer(out, &f).map_err(|e| e.to_string())
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
