//! The text reader: a lead read from JSON text in one pass with serde seeds, reading only
//! what the plan names. Keys outside the plan are skipped without building values,
//! strings are borrowed from the text when they have no escapes, and events of types the
//! pack never tests are skipped whole.
//!
//! A shape error (not an object, a bad event) is kept as a typed [`ReadError`] beside the
//! reader; serde only carries the news that reading stopped.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::event::{self, Checked};
use super::plan::{exact_id, EventKeys, Fill, Node, ReadPlan, EVENTS_RESERVED};
use super::{EventProblem, Events, ReadError, ReadEvents, Record};
use crate::program::Program;
use crate::value::time::Millis;
use crate::value::Value;

impl ReadPlan {
    /// Reads one lead from JSON text, in one pass.
    pub fn read<'t>(&self, program: &Program, text: &'t str, as_of: Millis) -> Result<Record<'t>, ReadError> {
        read(self, program, text, as_of)
    }
}

fn read<'t>(plan: &ReadPlan, program: &Program, text: &'t str, as_of: Millis) -> Result<Record<'t>, ReadError> {
    // The scanner reads the usual lead; anything else (an error above all) is read here,
    // so every message is serde_json's and this reader's.
    if let Some(record) = super::scan::read(plan, program, text, as_of) {
        return Ok(record);
    }
    read_serde(plan, program, text, as_of)
}

/// The serde reader: every lead the scanner (`scan.rs`) leaves to it.
pub(super) fn read_serde<'t>(
    plan: &ReadPlan,
    program: &Program,
    text: &'t str,
    as_of: Millis,
) -> Result<Record<'t>, ReadError> {
    let mut reading = Reading {
        fill: plan.fill(program),
        events: ReadEvents::default(),
        events_error: None,
        shape: None,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let seed = LeadSeed {
        node: &plan.root,
        program,
        keys: plan.event_keys,
        reading: &mut reading,
        as_of,
        root: true,
    };
    let result = seed.deserialize(&mut de).and_then(|()| de.end());
    if let Err(e) = result {
        return Err(reading.shape.take().unwrap_or_else(|| ReadError::Json(e.to_string())));
    }
    if let Some(error) = reading.events_error {
        return Err(error);
    }
    let mut record = reading.fill.finish();
    record.events = Events::Read(reading.events);
    Ok(record)
}

/// Reads an `events` array given as JSON text of its own (a string column of an Arrow
/// batch), as the text reader reads the `events` key of a lead: `null` is no events.
#[cfg(feature = "arrow")]
pub(super) fn read_events<'t>(program: &Program, text: &'t str, as_of: Millis) -> Result<ReadEvents<'t>, ReadError> {
    // The scanner reads the usual array; anything else is read here, as for a lead.
    if let Some(events) = super::scan::read_events(program, text, as_of) {
        return Ok(events);
    }
    read_events_serde(program, text, as_of)
}

/// The serde reader of an `events` array's text: every one the scanner leaves to it.
#[cfg(feature = "arrow")]
pub(super) fn read_events_serde<'t>(
    program: &Program,
    text: &'t str,
    as_of: Millis,
) -> Result<ReadEvents<'t>, ReadError> {
    let mut events = ReadEvents::default();
    let mut error = None;
    let mut de = serde_json::Deserializer::from_str(text);
    let seed = EventsSeed {
        program,
        keys: EventKeys::of(program),
        events: &mut events,
        error: &mut error,
        as_of,
    };
    seed.deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| ReadError::EventsText(e.to_string()))?;
    match error {
        Some(error) => Err(error),
        None => Ok(events),
    }
}

/// The record being filled, the events read, the first error in the `events` array (kept
/// until the end because a later `events` key replaces it: the last key wins, as in a
/// `serde_json::Value`), and the shape error that stopped reading, if one did.
struct Reading<'t> {
    fill: Fill<'t>,
    events: ReadEvents<'t>,
    events_error: Option<ReadError>,
    shape: Option<ReadError>,
}

/// Reads an object, filling the record from the keys in `node`.
struct LeadSeed<'p, 'r, 't> {
    node: &'p Node,
    program: &'p Program,
    keys: EventKeys,
    reading: &'r mut Reading<'t>,
    as_of: Millis,
    root: bool,
}

impl<'de> DeserializeSeed<'de> for LeadSeed<'_, '_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for LeadSeed<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let Some(entry) = self.node.get(&key.0) else {
                map.next_value::<Skip>()?;
                continue;
            };
            if entry.events && self.root {
                self.reading.events.clear();
                self.reading.events_error = None;
                map.next_value_seed(EventsSeed {
                    program: self.program,
                    keys: self.keys,
                    events: &mut self.reading.events,
                    error: &mut self.reading.events_error,
                    as_of: self.as_of,
                })?;
            } else if let Some(child) = &entry.child {
                // A key seen again replaces everything read under it (the last one wins,
                // as in a `serde_json::Value`).
                self.reading.fill.clear_under(child);
                if entry.slots.is_empty() && entry.fallback.is_empty() && !entry.id {
                    let seed = LeadSeed {
                        node: child,
                        program: self.program,
                        keys: self.keys,
                        reading: self.reading,
                        as_of: self.as_of,
                        root: false,
                    };
                    map.next_value_seed(seed)?;
                } else {
                    // Both a value and a parent (`company exists` and `company.size`):
                    // rare, so read it whole and walk it.
                    let json: serde_json::Value = map.next_value()?;
                    let owned = |json: &serde_json::Value| Ok(Value::from_json(json).into_owned());
                    self.reading
                        .fill
                        .json(entry, &json, &owned)
                        .map_err(de::Error::custom)?;
                }
            } else if entry.id {
                // The id is echoed exactly as given, so it is read as JSON, not as a value.
                let raw: &'de serde_json::value::RawValue = map.next_value()?;
                let json = exact_id(raw.get()).map_err(de::Error::custom)?;
                // Usually the id is only echoed, not also a field a rule reads.
                if !entry.slots.is_empty() || !entry.fallback.is_empty() {
                    self.reading.fill.put(entry, Value::from_json(&json).into_owned());
                }
                self.reading.fill.id(json);
            } else {
                let value: Value<'de> = map.next_value()?;
                self.reading.fill.put(entry, value);
            }
        }
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.not_an_object()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.not_an_object()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.not_an_object()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.not_an_object()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.not_an_object()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.not_an_object()
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        self.not_an_object()
    }
}

impl<'t> LeadSeed<'_, '_, 't> {
    /// A nested value that is not an object has no keys to read; a lead must be an object.
    fn not_an_object<E: de::Error>(self) -> Result<(), E> {
        if self.root {
            self.reading.shape = Some(ReadError::NotAnObject);
            Err(E::custom(ReadError::NotAnObject))
        } else {
            Ok(())
        }
    }
}

/// Reads the `events` array.
struct EventsSeed<'p, 'r, 't> {
    program: &'p Program,
    keys: EventKeys,
    events: &'r mut ReadEvents<'t>,
    /// The first malformed event, or `events` not being an array.
    error: &'r mut Option<ReadError>,
    as_of: Millis,
}

impl<'de> DeserializeSeed<'de> for EventsSeed<'_, '_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EventsSeed<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // A lead has a dozen or a few dozen events: room for them up front, instead of
        // growing each list from empty through four or five copies.
        self.events.reserve(EVENTS_RESERVED);
        let mut index = 0;
        loop {
            let mut problem = None;
            let seed = EventSeed {
                program: self.program,
                keys: self.keys,
                events: self.events,
                as_of: self.as_of,
                problem: &mut problem,
            };
            match seq.next_element_seed(seed) {
                Ok(None) => return Ok(()),
                Ok(Some(())) => {}
                // A shape error comes from the visitor after the event was read whole,
                // so the array can be read on (its errors only count if no later `events`
                // key replaces it); a syntax error cannot be.
                Err(e) => match problem {
                    Some(problem) => {
                        self.error.get_or_insert(ReadError::BadEvent { index, problem });
                    }
                    None => return Err(e),
                },
            }
            index += 1;
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        self.not_an_array()
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.not_an_array()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.not_an_array()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.not_an_array()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.not_an_array()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.not_an_array()
    }
}

impl EventsSeed<'_, '_, '_> {
    fn not_an_array<E>(self) -> Result<(), E> {
        *self.error = Some(ReadError::EventsNotArray);
        Ok(())
    }
}

/// Reads one event, keeping it only if its type is used and it is not after `as_of`.
struct EventSeed<'p, 'r, 't> {
    program: &'p Program,
    keys: EventKeys,
    events: &'r mut ReadEvents<'t>,
    as_of: Millis,
    /// What is wrong with the event, when reading it stops for that.
    problem: &'r mut Option<EventProblem>,
}

impl<'de> DeserializeSeed<'de> for EventSeed<'_, '_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EventSeed<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let props = &self.program.event_props;
        let base = self.events.next_base();
        let (mut ty, mut at): (Option<Value<'de>>, Option<Value<'de>>) = (None, None);
        let prop = |key: &str| props.iter().position(|p| p == key).map(|p| p as u32);
        while let Some(key) = map.next_key::<Key<'de>>()? {
            // `type` and `at`, two of an event's usual three keys, are not searched for
            // among the properties: whether the program reads them as properties too is
            // known from the plan.
            let (slot, also) = match &*key.0 {
                "type" => (&mut ty, self.keys.ty),
                "at" => (&mut at, self.keys.at),
                other => {
                    match prop(other) {
                        Some(p) => {
                            let value = map.next_value()?;
                            self.events.set_prop(base, p, value);
                        }
                        None => {
                            map.next_value::<Skip>()?;
                        }
                    }
                    continue;
                }
            };
            let value: Value<'de> = map.next_value()?;
            if let Some(p) = also {
                self.events.set_prop(base, p, value.clone());
            }
            *slot = Some(value);
        }
        match self.keep(ty, at)? {
            Checked::Kept(ty, at) => self.events.push(ty, at, base),
            Checked::Later(ty, at) => {
                self.events.note_later(ty, at);
                self.events.discard(base);
            }
            Checked::Unused => self.events.discard(base),
        }
        Ok(())
    }

    fn visit_bool<E: de::Error>(mut self, _: bool) -> Result<(), E> {
        Err(self.bad(EventProblem::NotAnObject))
    }
    fn visit_i64<E: de::Error>(mut self, _: i64) -> Result<(), E> {
        Err(self.bad(EventProblem::NotAnObject))
    }
    fn visit_u64<E: de::Error>(mut self, _: u64) -> Result<(), E> {
        Err(self.bad(EventProblem::NotAnObject))
    }
    fn visit_f64<E: de::Error>(mut self, _: f64) -> Result<(), E> {
        Err(self.bad(EventProblem::NotAnObject))
    }
    fn visit_str<E: de::Error>(mut self, _: &str) -> Result<(), E> {
        Err(self.bad(EventProblem::NotAnObject))
    }
    fn visit_unit<E: de::Error>(mut self) -> Result<(), E> {
        Err(self.bad(EventProblem::NotAnObject))
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Err(self.bad(EventProblem::NotAnObject))
    }
}

impl EventSeed<'_, '_, '_> {
    fn bad<E: de::Error>(&mut self, problem: EventProblem) -> E {
        let error = E::custom(&problem);
        *self.problem = Some(problem);
        error
    }

    fn keep<E: de::Error>(&mut self, ty: Option<Value>, at: Option<Value>) -> Result<Checked, E> {
        fn text<'v>(v: &'v Option<Value>) -> Option<&'v str> {
            match v {
                Some(Value::Str(s)) => Some(s),
                _ => None,
            }
        }
        event::check(self.program, text(&ty), text(&at), self.as_of).map_err(|p| self.bad(p))
    }
}

/// A value the pack does not read, skipped without being built.
///
/// Not serde's `IgnoredAny`: serde_json skips that with a scanner that neither counts
/// nesting nor checks numbers, so a lead nested 10,000 deep or holding `1e400` in a field
/// the pack never reads was accepted here while `serde_json::from_str::<Value>` rejects
/// it. Going through `deserialize_any` keeps both inputs to the same rules (the 128-level
/// recursion limit, number range, string escapes) and still allocates nothing.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

/// A string that borrows from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Value<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value<'de>, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value<'de>, E> {
        Ok(Value::Num(n as f64))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value<'de>, E> {
        Ok(Value::Num(n as f64))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Value<'de>, E> {
        Ok(Value::Num(n))
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Value<'de>, E> {
        Ok(Value::Str(Cow::Borrowed(s)))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value<'de>, E> {
        Ok(Value::Str(Cow::Owned(s.to_string())))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Value<'de>, E> {
        Ok(Value::Str(Cow::Owned(s)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value<'de>, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value<'de>, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value<'de>, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value<'de>, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Value::Object)
    }
}
