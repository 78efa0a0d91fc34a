//! What a write may hold, checked before anything is stored: lead ids, fields, events
//! (stamped with the time they were received when they have no `at`), JSON Lines for
//! `/v1/ingest`. A rejected input names what was wrong.

use std::cell::{Cell, RefCell};

use chrono::SecondsFormat;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::config::Limits;
use super::error::ApiError;
use super::model::{leadscore_time, Millis};

/// An event checked and ready to store.
#[derive(Clone, Debug, PartialEq)]
pub struct Incoming {
    /// The event as it will be stored and scored (JSON), `at` filled in.
    pub json: Vec<u8>,
    /// Its `id`, for recognising retries.
    pub id: Option<String>,
    /// When it was received (ms).
    pub received: Millis,
    /// Its `at` (ms): when it happened, by the client's account.
    pub at: Millis,
    /// Its `type`.
    pub kind: String,
    /// With an `id`: the SHA-256 of the event as sent (its `id` in NFC, without an `at`
    /// the service filled in), so a reused id with another payload is recognised.
    pub payload: Option<[u8; 32]>,
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
    /// A stage change asked for by sales: which, why, when and who.
    Stage(super::lifecycle::Ask),
    /// Score again (time passed, or the pack changed). Nothing else changes.
    Evaluate,
}

/// A lead id from a path or an ingest line, as the service keys it (see [`id`]).
pub fn lead_id(raw: &str, limits: &Limits) -> Result<String, ApiError> {
    id(raw, limits).map_err(|why| ApiError::bad_request(format!("a lead id {why}")))
}

/// An id as the service keys it: in Unicode NFC (so `é` typed either way is one id),
/// 1 to `limits.id_bytes` bytes, with no control character and no invisible or
/// bidirectional formatting character ([`hidden`]), which would make look-alike ids.
/// The error says what is wrong after "a lead id" or "an event id".
pub fn id(raw: &str, limits: &Limits) -> Result<String, String> {
    use unicode_normalization::UnicodeNormalization;
    let nfc: String = raw.nfc().collect();
    if nfc.is_empty() || nfc.len() > limits.id_bytes {
        return Err(format!(
            "must be 1 to {} bytes; got {} bytes",
            limits.id_bytes,
            nfc.len()
        ));
    }
    match nfc.chars().find(|c| c.is_control() || hidden(*c)) {
        Some(c) => Err(format!(
            "may not hold control, invisible or bidirectional formatting characters; {:?} holds U+{:04X}",
            truncate(&nfc),
            u32::from(c)
        )),
        None => Ok(nfc),
    }
}

/// A character that changes how text shows without showing itself: zero-width and
/// joining characters, bidirectional controls, the soft hyphen, word joiners and
/// invisible operators, the byte-order mark, interlinear annotations, tag characters.
pub fn hidden(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

/// How many JSON values a request may still build (`--max-json-values`), shared by
/// every item of the request. Parsing stops at the first value past it.
#[derive(Debug)]
pub struct Budget {
    left: Cell<usize>,
    limit: usize,
    over: Cell<bool>,
    /// A check of an item failed while parsing (the parse stops there).
    failure: RefCell<Option<ApiError>>,
}

impl Budget {
    /// The budget of one request.
    pub fn new(limits: &Limits) -> Budget {
        Budget {
            left: Cell::new(limits.json_values),
            limit: limits.json_values,
            over: Cell::new(false),
            failure: RefCell::new(None),
        }
    }

    fn take<E: de::Error>(&self) -> Result<(), E> {
        match self.left.get() {
            0 => {
                self.over.set(true);
                self.fail(ApiError::too_large(format!(
                    "the body holds more than {} JSON values (--max-json-values)",
                    self.limit
                )));
                Err(E::custom("past the budget"))
            }
            n => {
                self.left.set(n - 1);
                Ok(())
            }
        }
    }

    /// Whether a parse went past the budget (the request is refused whole).
    pub fn spent(&self) -> bool {
        self.over.get()
    }

    /// Stops the parse with `error` (the first one is kept).
    fn fail(&self, error: ApiError) {
        self.failure.borrow_mut().get_or_insert(error);
    }

    /// The error a parse ended with: a failed check or the budget, else bad JSON.
    fn error(&self, e: &serde_json::Error, what: &str) -> ApiError {
        match self.failure.borrow_mut().take() {
            Some(failure) => failure,
            None => ApiError::bad_json(format!("{what} is not valid JSON: {e}")),
        }
    }
}

/// Builds a `serde_json::Value` as serde_json does, counting every value and key
/// against the budget.
#[derive(Clone, Copy)]
struct Bounded<'b>(&'b Budget);

impl<'de> DeserializeSeed<'de> for Bounded<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Bounded<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        self.0.take()?;
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value, E> {
        self.0.take()?;
        Ok(Value::from(n))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        self.0.take()?;
        Ok(Value::from(n))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Value, E> {
        self.0.take()?;
        Ok(serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        self.0.take()?;
        Ok(Value::String(s.to_string()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        self.0.take()?;
        Ok(Value::String(s))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.0.take()?;
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.0.take()?;
        let mut list = Vec::new();
        while let Some(v) = seq.next_element_seed(self)? {
            list.push(v);
        }
        Ok(Value::Array(list))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.0.take()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            self.0.take()?;
            let value = map.next_value_seed(self)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// Parses all of `text` with `seed`, the errors as the budget saw them.
fn parse_with<'de, S: DeserializeSeed<'de>>(
    text: &'de [u8],
    seed: S,
    budget: &Budget,
    what: &str,
) -> Result<S::Value, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let value = seed.deserialize(&mut de).map_err(|e| budget.error(&e, what))?;
    de.end().map_err(|e| budget.error(&e, what))?;
    Ok(value)
}

/// A request body as JSON, within `--max-json-values`.
pub fn json(body: &[u8], limits: &Limits) -> Result<Value, ApiError> {
    let budget = Budget::new(limits);
    parse_with(body, Bounded(&budget), &budget, "the body")
}

/// The body of `POST /v1/leads/{id}/events`: one event or an array of them, each checked
/// as it is read (an array stops at the first item past `--max-items-per-request`, or
/// the first bad event): no more than one event is ever held as a `Value`.
pub fn events_body(body: &[u8], now: Millis, limits: &Limits) -> Result<Vec<Incoming>, ApiError> {
    let budget = Budget::new(limits);
    let seed = Events {
        budget: &budget,
        now,
        limits,
    };
    parse_with(body, seed, &budget, "the body")
}

struct Events<'a> {
    budget: &'a Budget,
    now: Millis,
    limits: &'a Limits,
}

impl<'de> DeserializeSeed<'de> for Events<'_> {
    type Value = Vec<Incoming>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Vec<Incoming>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Events<'_> {
    type Value = Vec<Incoming>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an event or an array of events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Incoming>, A::Error> {
        let mut out = Vec::new();
        while let Some(value) = seq.next_element_seed(Bounded(self.budget))? {
            if out.len() == self.limits.items_per_request {
                self.budget.fail(ApiError::too_large(format!(
                    "at most {} events per request (--max-items-per-request)",
                    self.limits.items_per_request
                )));
                return Err(de::Error::custom("too many events"));
            }
            match event(value, self.now, self.limits) {
                Ok(e) => out.push(e),
                Err(err) => {
                    self.budget.fail(indexed(err, out.len()));
                    return Err(de::Error::custom("a bad event"));
                }
            }
        }
        Ok(out)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Vec<Incoming>, A::Error> {
        let value = Bounded(self.budget).visit_map(map)?;
        match event(value, self.now, self.limits) {
            Ok(e) => Ok(vec![e]),
            Err(err) => {
                self.budget.fail(err);
                Err(de::Error::custom("a bad event"))
            }
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<Incoming>, E> {
        self.budget
            .fail(ApiError::bad_event("an event is a JSON object, not null"));
        Err(E::custom("null"))
    }
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
    let event_type = match map.get("type") {
        Some(Value::String(t)) if !t.is_empty() => t.clone(),
        Some(other) => {
            return Err(ApiError::bad_event(format!(
                "`type` must be a non-empty string, not {}",
                kind(other)
            )))
        }
        None => return Err(ApiError::bad_event("the event has no `type`")),
    };
    let filled_at = matches!(map.get("at"), None | Some(Value::Null));
    let at = match map.get("at") {
        None | Some(Value::Null) => {
            map.insert("at".into(), Value::String(rfc3339(now)));
            now
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
            t
        }
        Some(other) => {
            return Err(ApiError::bad_event(format!(
                "`at` must be a string, not {}",
                kind(other)
            )))
        }
    };
    let id = match map.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let nfc = id(s, limits).map_err(|why| ApiError::bad_event(format!("an event id {why}")))?;
            map.insert("id".into(), Value::String(nfc.clone()));
            Some(nfc)
        }
        Some(other) => {
            return Err(ApiError::bad_event(format!(
                "`id` must be a string (a number would be the same id as its digits in quotes), not {}",
                kind(other)
            )))
        }
    };
    let payload = id.as_ref().map(|_| payload_digest(&mut map, filled_at));
    let json = serde_json::to_vec(&Value::Object(map)).map_err(|e| ApiError::bad_event(e.to_string()))?;
    Ok(Incoming {
        json,
        id,
        received: now,
        at,
        kind: event_type,
        payload,
    })
}

/// The SHA-256 of an event as its sender wrote it: keys in order (serde_json's map is
/// sorted), without the `at` the service filled in (a retry of an event without `at` is
/// the same event).
fn payload_digest(map: &mut Map<String, Value>, filled_at: bool) -> [u8; 32] {
    use sha2::Digest;
    let at = if filled_at { map.remove("at") } else { None };
    // Serializing a map of JSON values to a Vec cannot fail.
    let digest = sha2::Sha256::digest(serde_json::to_vec(&*map).unwrap_or_default());
    if let Some(at) = at {
        map.insert("at".into(), at);
    }
    digest.into()
}

/// One line of `/v1/ingest`: `{"lead": ID, "fields": {...}}` (merged, as by PATCH) or
/// `{"lead": ID, "event": {...}}`.
pub fn ingest_line(line: &str, now: Millis, limits: &Limits, budget: &Budget) -> Result<(String, Op), ApiError> {
    let value = parse_with(line.as_bytes(), Bounded(budget), budget, "the line")?;
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
    let lead = lead_id(&lead, limits)?;
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
        assert!(msg(event(json!({"type": "x", "id": [1]}), NOW, &l)).starts_with("`id` must be a string"));
        assert!(msg(event(json!({"type": "x", "id": 42}), NOW, &l)).starts_with("`id` must be a string"));
        let e = event(json!({"type": "x", "id": "42"}), NOW, &l);
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
        let (lead, op) = ingest_line(r#"{"lead": 7, "fields": {"title": "VP"}}"#, NOW, &l, &Budget::new(&l)).unwrap();
        assert_eq!(lead, "7");
        assert!(matches!(op, Op::Patch(m) if m["title"] == "VP"));
        assert_eq!(
            msg(ingest_line(r#"{"lead": "a"}"#, NOW, &l, &Budget::new(&l))),
            "the line has neither `fields` nor `event`"
        );
        assert_eq!(
            msg(ingest_line(
                r#"{"lead": "a", "event": {"type": "x"}, "x": 1}"#,
                NOW,
                &l,
                &Budget::new(&l)
            )),
            "unknown key `x` (a line has `lead` and `fields` or `event`)"
        );
        assert!(msg(ingest_line("{", NOW, &l, &Budget::new(&l))).starts_with("the line is not valid JSON"));
        assert!(
            msg(ingest_line(r#"{"lead": "", "fields": {}}"#, NOW, &l, &Budget::new(&l)))
                .starts_with("a lead id must be")
        );
    }

    #[test]
    fn a_body_stops_at_its_first_value_past_the_budget() {
        let l = Limits {
            json_values: 5,
            ..Limits::default()
        };
        assert_eq!(json(br#"{"a": [1, 2]}"#, &l).ok(), Some(json!({"a": [1, 2]})));
        let err = json(br#"{"a": [1, 2, 3]}"#, &l).err();
        assert_eq!(
            err.map(|e| (e.status, e.message)),
            Some((
                413,
                "the body holds more than 5 JSON values (--max-json-values)".to_string()
            ))
        );
        assert!(msg(json(b"{} x", &l)).starts_with("the body is not valid JSON"));
    }

    #[test]
    fn events_are_checked_while_the_array_is_read() {
        let l = Limits {
            items_per_request: 2,
            ..Limits::default()
        };
        let two = events_body(br#"[{"type": "a"}, {"type": "b", "id": "7"}]"#, NOW, &l);
        assert_eq!(two.map(|e| e.len()).ok(), Some(2));
        let one = events_body(br#"{"type": "a"}"#, NOW, &l);
        assert_eq!(one.map(|e| e.len()).ok(), Some(1));
        // The third item stops the parse; what follows it is never read.
        let err = events_body(br#"[{"type": "a"}, {"type": "b"}, {"type": "c"}, oops"#, NOW, &l).err();
        assert_eq!(
            err.map(|e| (e.status, e.message)),
            Some((
                413,
                "at most 2 events per request (--max-items-per-request)".to_string()
            ))
        );
        assert_eq!(
            msg(events_body(br#"[{"type": "a"}, {"at": "x"}, oops"#, NOW, &l)),
            "events[1]: the event has no `type`"
        );
        assert_eq!(
            msg(events_body(b"null", NOW, &l)),
            "an event is a JSON object, not null"
        );
    }

    #[test]
    fn ids_are_nfc_and_refuse_hidden_characters() {
        let l = Limits::default();
        // "é" composed and decomposed is one id.
        assert_eq!(lead_id("caf\u{0065}\u{0301}", &l).ok().as_deref(), Some("caf\u{e9}"));
        for sneaky in ["ann\u{200B}", "\u{202E}nna", "a\u{2066}b", "x\u{FEFF}", "tab\there"] {
            let err = msg(lead_id(sneaky, &l));
            assert!(
                err.starts_with("a lead id may not hold control, invisible"),
                "{sneaky:?}: {err}"
            );
        }
        assert_eq!(msg(lead_id("", &l)), "a lead id must be 1 to 256 bytes; got 0 bytes");
        let e = event(json!({"type": "x", "id": "e\u{0301}"}), NOW, &l).ok();
        assert_eq!(e.as_ref().and_then(|e| e.id.as_deref()), Some("\u{e9}"));
        let stored: Value = e
            .map(|e| serde_json::from_slice(&e.json).unwrap_or_default())
            .unwrap_or_default();
        assert_eq!(stored["id"], "\u{e9}");
        assert!(msg(event(json!({"type": "x", "id": "a\u{200D}"}), NOW, &l)).starts_with("an event id may not hold"));
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
