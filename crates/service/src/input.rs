//! What a write may hold, checked before anything is stored: lead ids, fields, events
//! (stamped with the time they were received when they have no `at`), JSON Lines for
//! `/v1/ingest`. A rejected input names what was wrong.

use chrono::SecondsFormat;
use serde_json::{Map, Value};

use super::config::Limits;
use super::error::ApiError;
use super::model::Millis;

/// An event checked and ready to store.
#[derive(Clone, Debug, PartialEq)]
pub struct Incoming {
    /// The event as it will be stored and scored (JSON), `at` filled in.
    pub json: Vec<u8>,
    /// Its `id`, for recognising retries.
    pub id: Option<String>,
    /// When it was received (ms).
    pub received: Millis,
}

/// A write to one lead.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Replace the fields.
    Put(Map<String, Value>),
    /// Merge the fields (JSON merge patch: `null` removes).
    Patch(Map<String, Value>),
    /// Append events.
    Events(Vec<Incoming>),
    /// A stage change asked for by sales.
    Stage {
        /// `accepted`, `rejected` or `recycled`.
        to: super::lifecycle::Stage,
        /// Why, as given.
        reason: Option<String>,
    },
    /// Score again (time passed, or the pack changed). Nothing else changes.
    Evaluate,
}

/// A lead id from a path or an ingest line: 1 to `limits.id_bytes` bytes, no control characters.
pub fn lead_id(id: &str, limits: &Limits) -> Result<(), ApiError> {
    if id.is_empty() || id.len() > limits.id_bytes || id.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "a lead id must be 1 to {} bytes without control characters; got {:?}",
            limits.id_bytes,
            truncate(id)
        )));
    }
    Ok(())
}

/// A request body as JSON.
pub fn json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_json(format!("the body is not valid JSON: {e}")))
}

/// A lead's fields: an object, without the reserved `id` and `events` keys, within the
/// field limit. (`null` values are kept for a PUT and mean "remove" in a PATCH.)
pub fn fields(value: Value, limits: &Limits) -> Result<Map<String, Value>, ApiError> {
    let Value::Object(map) = value else {
        return Err(ApiError::bad_json(format!(
            "fields must be a JSON object, not {}",
            kind(&value)
        )));
    };
    if let Some(key) = ["id", "events"].into_iter().find(|k| map.contains_key(*k)) {
        return Err(ApiError::bad_request(format!(
            "`{key}` is not a field: the lead id is in the path, events are posted to /v1/leads/{{id}}/events"
        )));
    }
    check_field_count(map.len(), limits)?;
    Ok(map)
}

/// A lead may not hold more than `limits.fields_per_lead` fields.
pub fn check_field_count(count: usize, limits: &Limits) -> Result<(), ApiError> {
    if count > limits.fields_per_lead {
        return Err(ApiError::too_large(format!(
            "a lead may have at most {} fields; this one would have {count}",
            limits.fields_per_lead
        )));
    }
    Ok(())
}

/// One event or an array of them, each checked; `now` stamps those without `at`.
pub fn events(value: Value, now: Millis, limits: &Limits) -> Result<Vec<Incoming>, ApiError> {
    let list = match value {
        Value::Array(list) => list,
        one => vec![one],
    };
    if list.len() > limits.items_per_request {
        return Err(ApiError::too_large(format!(
            "at most {} events per request; got {}",
            limits.items_per_request,
            list.len()
        )));
    }
    list.into_iter()
        .enumerate()
        .map(|(i, e)| event(e, now, limits).map_err(|err| indexed(err, i)))
        .collect()
}

fn indexed(mut err: ApiError, i: usize) -> ApiError {
    err.message = format!("events[{i}]: {}", err.message);
    err
}

/// One event: an object with a `type` string, an RFC 3339 `at` no more than the clock
/// skew in the future (or none: then `at` is `now`), and an optional `id` (a string or a
/// whole number).
pub fn event(value: Value, now: Millis, limits: &Limits) -> Result<Incoming, ApiError> {
    let Value::Object(mut map) = value else {
        return Err(ApiError::bad_event(format!(
            "an event is a JSON object, not {}",
            kind(&value)
        )));
    };
    match map.get("type") {
        Some(Value::String(t)) if !t.is_empty() => {}
        Some(other) => {
            return Err(ApiError::bad_event(format!(
                "`type` must be a non-empty string, not {}",
                kind(other)
            )))
        }
        None => return Err(ApiError::bad_event("the event has no `type`")),
    }
    match map.get("at") {
        None | Some(Value::Null) => {
            map.insert("at".into(), Value::String(rfc3339(now)));
        }
        Some(Value::String(at)) => {
            let Some(t) = leadscore_time(at) else {
                return Err(ApiError::bad_event(format!(
                    "`at` {at:?} is not an RFC 3339 time (like 2026-03-01T12:00:00Z)"
                )));
            };
            let skew = i64::try_from(limits.clock_skew.as_millis()).unwrap_or(i64::MAX);
            if t > now.saturating_add(skew) {
                return Err(ApiError::bad_event(format!(
                    "`at` {at} is more than {}s in the future (the allowed clock skew)",
                    limits.clock_skew.as_secs()
                )));
            }
        }
        Some(other) => {
            return Err(ApiError::bad_event(format!(
                "`at` must be a string, not {}",
                kind(other)
            )))
        }
    }
    let id = match map.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() && s.len() <= limits.id_bytes => Some(s.clone()),
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        Some(_) => {
            return Err(ApiError::bad_event(format!(
                "`id` must be a string of 1 to {} bytes or a whole number",
                limits.id_bytes
            )))
        }
    };
    let json = serde_json::to_vec(&Value::Object(map)).map_err(|e| ApiError::bad_event(e.to_string()))?;
    Ok(Incoming {
        json,
        id,
        received: now,
    })
}

/// One line of `/v1/ingest`: `{"lead": ID, "fields": {...}}` (merged, as by PATCH) or
/// `{"lead": ID, "event": {...}}`.
pub fn ingest_line(line: &str, now: Millis, limits: &Limits) -> Result<(String, Op), ApiError> {
    let value: Value = serde_json::from_str(line).map_err(|e| ApiError::bad_json(format!("not valid JSON: {e}")))?;
    let Value::Object(mut map) = value else {
        return Err(ApiError::bad_json(
            "a line is a JSON object with `lead` and `fields` or `event`",
        ));
    };
    let lead = match map.remove("lead") {
        Some(Value::String(s)) => s,
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "`lead` must be a string or a whole number, not {}",
                kind(&other)
            )))
        }
        None => return Err(ApiError::bad_request("the line has no `lead`")),
    };
    lead_id(&lead, limits)?;
    let op = match (map.remove("fields"), map.remove("event")) {
        (Some(f), None) => Op::Patch(fields(f, limits)?),
        (None, Some(e)) => Op::Events(vec![event(e, now, limits)?]),
        (Some(_), Some(_)) => return Err(ApiError::bad_request("a line has `fields` or `event`, not both")),
        (None, None) => return Err(ApiError::bad_request("the line has neither `fields` nor `event`")),
    };
    if let Some(key) = map.keys().next() {
        return Err(ApiError::bad_request(format!(
            "unknown key `{key}` (a line has `lead` and `fields` or `event`)"
        )));
    }
    Ok((lead, op))
}

/// RFC 7396 JSON merge patch: objects merge key by key, `null` removes, anything else replaces.
pub fn merge_patch(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (key, value) in patch {
        match value {
            Value::Null => {
                target.remove(key);
            }
            Value::Object(inner) => {
                let slot = target.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                if let Value::Object(t) = slot {
                    merge_patch(t, inner);
                }
            }
            other => {
                target.insert(key.clone(), other.clone());
            }
        }
    }
}

/// A time in ms as RFC 3339 with milliseconds (`2026-03-01T12:00:00.000Z`).
pub fn rfc3339(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An RFC 3339 time in ms, parsed exactly as scoring parses it.
pub fn leadscore_time(text: &str) -> Option<Millis> {
    leadscore::parse_time(text).map(|t| t.timestamp_millis())
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: Millis = 1_772_323_200_000; // 2026-03-01T00:00:00Z

    fn msg<T: std::fmt::Debug>(r: Result<T, ApiError>) -> String {
        r.err().map(|e| e.message).unwrap_or_default()
    }

    #[test]
    fn an_event_without_at_is_stamped_on_receipt() -> Result<(), ApiError> {
        let e = event(json!({"type": "page_view", "path": "/x"}), NOW, &Limits::default())?;
        let stored: Value = serde_json::from_slice(&e.json).unwrap_or_default();
        assert_eq!(stored["at"], "2026-03-01T00:00:00.000Z");
        assert_eq!((e.id, e.received), (None, NOW));
        Ok(())
    }

    #[test]
    fn bad_events_are_named() {
        let l = Limits::default();
        assert_eq!(
            msg(event(json!({"at": "2026-01-01T00:00:00Z"}), NOW, &l)),
            "the event has no `type`"
        );
        assert_eq!(
            msg(event(json!({"type": "x", "at": "yesterday"}), NOW, &l)),
            "`at` \"yesterday\" is not an RFC 3339 time (like 2026-03-01T12:00:00Z)"
        );
        assert_eq!(
            msg(event(json!({"type": "x", "at": "2026-03-01T00:06:00Z"}), NOW, &l)),
            "`at` 2026-03-01T00:06:00Z is more than 300s in the future (the allowed clock skew)"
        );
        assert!(event(json!({"type": "x", "at": "2026-03-01T00:04:00Z"}), NOW, &l).is_ok());
        assert_eq!(
            msg(events(json!([{"type": "x"}, 3]), NOW, &l)),
            "events[1]: an event is a JSON object, not a number"
        );
        assert!(msg(event(json!({"type": "x", "id": [1]}), NOW, &l)).starts_with("`id` must be"));
        let e = event(json!({"type": "x", "id": 42}), NOW, &l);
        assert_eq!(e.ok().and_then(|e| e.id).as_deref(), Some("42"));
    }

    #[test]
    fn fields_reserve_id_and_events_and_are_bounded() {
        let mut l = Limits::default();
        assert!(msg(fields(json!({"id": 1}), &l)).starts_with("`id` is not a field"));
        assert_eq!(
            msg(fields(json!([1]), &l)),
            "fields must be a JSON object, not an array"
        );
        l.fields_per_lead = 1;
        assert_eq!(
            msg(fields(json!({"a": 1, "b": 2}), &l)),
            "a lead may have at most 1 fields; this one would have 2"
        );
    }

    #[test]
    fn ingest_lines_hold_fields_or_one_event() {
        let l = Limits::default();
        let (lead, op) =
            ingest_line(r#"{"lead": 7, "fields": {"title": "VP"}}"#, NOW, &l).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(lead, "7");
        assert!(matches!(op, Op::Patch(m) if m["title"] == "VP"));
        assert_eq!(
            msg(ingest_line(r#"{"lead": "a"}"#, NOW, &l)),
            "the line has neither `fields` nor `event`"
        );
        assert_eq!(
            msg(ingest_line(r#"{"lead": "a", "event": {"type": "x"}, "x": 1}"#, NOW, &l)),
            "unknown key `x` (a line has `lead` and `fields` or `event`)"
        );
        assert!(msg(ingest_line("{", NOW, &l)).starts_with("not valid JSON"));
        assert!(msg(ingest_line(r#"{"lead": "", "fields": {}}"#, NOW, &l)).starts_with("a lead id must be"));
    }

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut target = json!({"a": "b", "c": {"d": "e", "f": "g"}, "x": 1});
        let patch = json!({"a": "z", "c": {"f": null}, "x": {"y": 2}, "n": null});
        if let (Value::Object(t), Value::Object(p)) = (&mut target, &patch) {
            merge_patch(t, p);
        }
        assert_eq!(target, json!({"a": "z", "c": {"d": "e"}, "x": {"y": 2}}));
    }
}
