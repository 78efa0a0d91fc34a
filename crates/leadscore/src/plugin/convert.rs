//! Values crossing the boundary: JSON and rule values into Rhai, Rhai results back out.
//!
//! Numbers: a whole JSON number becomes a Rhai integer, any other a float. `null` and
//! missing values are `()`. Objects become maps when they come from the lead (hooks), but a
//! rule passes an object field to a function as `()`: rules only hold plain values.

use std::borrow::Cow;

use rhai::{Array, Dynamic, Map, FLOAT, INT};
use serde_json::Value as Json;

use crate::value::{num_to_json, Value};

/// How deep a result may nest before it is refused (guards the converter's own stack).
const MAX_DEPTH: usize = 64;

/// A JSON value as a Rhai value.
pub(super) fn json_to_dynamic(v: &Json) -> Dynamic {
    match v {
        Json::Null => Dynamic::UNIT,
        Json::Bool(b) => Dynamic::from_bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Dynamic::from_int(i),
            None => n.as_f64().map_or(Dynamic::UNIT, |f| Dynamic::from_float(f as FLOAT)),
        },
        Json::String(s) => Dynamic::from(rhai::ImmutableString::from(s.as_str())),
        Json::Array(items) => Dynamic::from_array(items.iter().map(json_to_dynamic).collect()),
        Json::Object(fields) => Dynamic::from_map(
            fields
                .iter()
                .map(|(k, v)| (k.as_str().into(), json_to_dynamic(v)))
                .collect(),
        ),
    }
}

/// A lead as the map an `enrich` hook receives, without `events` unless `events` is true.
pub(super) fn lead_to_map(lead: &serde_json::Map<String, Json>, events: bool) -> Map {
    lead.iter()
        .filter(|(k, _)| events || k.as_str() != "events")
        .map(|(k, v)| (k.as_str().into(), json_to_dynamic(v)))
        .collect()
}

/// A rule value as a function argument.
pub(super) fn value_to_dynamic(v: &Value) -> Dynamic {
    match v {
        Value::Null | Value::Object => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from_bool(*b),
        Value::Num(n) if n.fract() == 0.0 && n.abs() < 9e15 => Dynamic::from_int(*n as INT),
        Value::Num(n) => Dynamic::from_float(*n as FLOAT),
        Value::Str(s) => Dynamic::from(rhai::ImmutableString::from(s.as_ref())),
        Value::List(items) => Dynamic::from_array(items.iter().map(value_to_dynamic).collect::<Array>()),
    }
}

/// A function's result as a rule value; `Err` names the type rules cannot use.
pub(super) fn dynamic_to_value(d: Dynamic) -> Result<Value<'static>, String> {
    dynamic_to_value_at(d, 0)
}

fn dynamic_to_value_at(d: Dynamic, depth: usize) -> Result<Value<'static>, String> {
    if depth > MAX_DEPTH {
        return Err(format!("a value nested more than {MAX_DEPTH} levels deep"));
    }
    if d.is_unit() {
        return Ok(Value::Null);
    }
    if let Ok(b) = d.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Ok(i) = d.as_int() {
        return Ok(Value::Num(i as f64));
    }
    if let Ok(f) = d.as_float() {
        return Ok(if f.is_finite() { Value::Num(f) } else { Value::Null });
    }
    if let Ok(c) = d.as_char() {
        return Ok(Value::Str(Cow::Owned(c.to_string())));
    }
    if d.is_string() {
        let s = d.into_immutable_string().map_err(|t| format!("a {t}"))?;
        return Ok(Value::Str(Cow::Owned(s.to_string())));
    }
    if d.is_array() {
        let items = d.into_array().map_err(|t| format!("a {t}"))?;
        return items
            .into_iter()
            .map(|v| dynamic_to_value_at(v, depth + 1))
            .collect::<Result<_, _>>()
            .map(Value::List);
    }
    if d.is_map() {
        return Ok(Value::Object);
    }
    Err(format!("a value of type `{}`", d.type_name()))
}

/// A hook's result as JSON; `Err` names the type JSON cannot hold.
pub(super) fn dynamic_to_json(d: Dynamic) -> Result<Json, String> {
    dynamic_to_json_at(d, 0)
}

fn dynamic_to_json_at(d: Dynamic, depth: usize) -> Result<Json, String> {
    if depth > MAX_DEPTH {
        return Err(format!("a value nested more than {MAX_DEPTH} levels deep"));
    }
    if d.is_map() {
        let map = d.try_cast::<Map>().unwrap_or_default();
        let mut object = serde_json::Map::with_capacity(map.len());
        for (k, v) in map {
            object.insert(k.to_string(), dynamic_to_json_at(v, depth + 1)?);
        }
        return Ok(Json::Object(object));
    }
    if d.is_array() {
        let items = d.into_array().map_err(|t| format!("a {t}"))?;
        return items
            .into_iter()
            .map(|v| dynamic_to_json_at(v, depth + 1))
            .collect::<Result<_, _>>()
            .map(Json::Array);
    }
    // An integer stays one (a 64-bit id set by a hook must not pass through `f64`).
    if let Ok(i) = d.as_int() {
        return Ok(Json::from(i));
    }
    Ok(match dynamic_to_value_at(d, depth)? {
        Value::Num(n) => num_to_json(n),
        other => other.to_json(),
    })
}

/// A lead's JSON text parsed without its `events` (skipped, not built), for hooks that do
/// not read them; `None` when the text is not a JSON object.
pub(crate) fn lead_without_events(text: &str) -> Option<Json> {
    struct Fields;
    impl<'de> serde::de::Visitor<'de> for Fields {
        type Value = serde_json::Map<String, Json>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a lead object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut fields = serde_json::Map::new();
            while let Some(key) = map.next_key::<String>()? {
                if key == "events" {
                    map.next_value::<serde::de::IgnoredAny>()?;
                } else {
                    fields.insert(key, map.next_value()?);
                }
            }
            Ok(fields)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let fields = serde::Deserializer::deserialize_map(&mut de, Fields).ok()?;
    de.end().ok()?;
    Some(Json::Object(fields))
}
