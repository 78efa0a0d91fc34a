//! A lead → [`Record`], reading only what the program uses: from JSON text in one pass,
//! or from a `serde_json::Value` already in memory.
//!
//! A [`ReadPlan`] is a tree of the keys the pack reads. Both readers walk the lead's keys
//! once and look each up in the plan (rather than searching the lead for each field).
//! From text, keys outside the plan are skipped without building values, strings are
//! borrowed from the text when they have no escapes, and events of types the pack never
//! tests are skipped whole; from a `Value`, strings are borrowed from it and events are
//! read when they are counted.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::record::{Events, ReadEvents, Record};
use super::time::{parse_time, Millis};
use super::{EvalError, Value};
use crate::program::Program;

/// Which keys of a lead to read, and where to put them.
#[derive(Debug, Default)]
pub struct ReadPlan {
    root: Node,
    /// Slots of dotted paths, which fall back to a root key with the dots in it.
    dotted_slots: Vec<u32>,
}

#[derive(Debug, Default)]
struct Node {
    keys: Vec<(String, Entry)>,
}

#[derive(Debug, Default)]
struct Entry {
    /// Field slots this key's value fills.
    slots: Vec<u32>,
    /// Slots of dotted paths this root key (`"company.size"`) fills when the nested
    /// path (`company` → `size`) is not in the lead, as [`super::record::lookup`] reads.
    fallback: Vec<u32>,
    /// Whether the value is the lead's id.
    id: bool,
    /// Keys to read inside the value, when it is an object.
    child: Option<Node>,
    /// The root `events` array.
    events: bool,
}

impl Node {
    fn entry(&mut self, key: &str) -> &mut Entry {
        let i = match self.keys.iter().position(|(k, _)| k == key) {
            Some(i) => i,
            None => {
                self.keys.push((key.to_string(), Entry::default()));
                self.keys.len() - 1
            }
        };
        &mut self.keys[i].1
    }

    fn get(&self, key: &str) -> Option<&Entry> {
        self.keys.iter().find(|(k, _)| k == key).map(|(_, e)| e)
    }

    /// Every slot filled at or under this node.
    fn each_slot(&self, f: &mut dyn FnMut(u32)) {
        for (_, entry) in &self.keys {
            entry.slots.iter().for_each(|&s| f(s));
            if let Some(child) = &entry.child {
                child.each_slot(f);
            }
        }
    }
}

impl ReadPlan {
    /// The plan for `program`, reading the id from `id_field`.
    pub fn new(program: &Program, id_field: &str) -> ReadPlan {
        let mut root = Node::default();
        let mut dotted = Vec::new();
        for (slot, path) in program.fields.iter().enumerate() {
            let (last, parents) = path
                .split_last()
                .unwrap_or_else(|| unreachable!("a field path has a segment"));
            let mut node = &mut root;
            for segment in parents {
                node = node.entry(segment).child.get_or_insert_with(Node::default);
            }
            node.entry(last).slots.push(slot as u32);
            if path.len() > 1 {
                root.entry(&path.join(".")).fallback.push(slot as u32);
                dotted.push(slot as u32);
            }
        }
        root.entry(id_field).id = true;
        if !program.event_types.is_empty() {
            root.entry("events").events = true;
        }
        ReadPlan {
            root,
            dotted_slots: dotted,
        }
    }

    /// Reads one lead from JSON text.
    pub fn read<'t>(&self, program: &Program, text: &'t str, as_of: Millis) -> Result<Record<'t>, EvalError> {
        let mut record = Record {
            fields: vec![Value::Null; program.fields.len()],
            ..Record::default()
        };
        let mut reading = Reading {
            found: vec![false; program.fields.len()],
            fallback: vec![None; program.fields.len()],
            events: ReadEvents::default(),
            events_error: None,
        };
        let mut de = serde_json::Deserializer::from_str(text);
        let seed = LeadSeed {
            node: &self.root,
            program,
            record: &mut record,
            reading: &mut reading,
            as_of,
            root: true,
        };
        seed.deserialize(&mut de)
            .and_then(|()| de.end())
            .map_err(|e| classify(&e))?;
        if let Some(error) = reading.events_error {
            return Err(error);
        }
        record.events = Events::Read(reading.events);
        for &slot in &self.dotted_slots {
            let slot = slot as usize;
            if !reading.found[slot] {
                record.fields[slot] = reading.fallback[slot].take().unwrap_or(Value::Null);
            }
        }
        Ok(record)
    }
}

impl ReadPlan {
    /// Reads a lead already parsed into a `serde_json::Value`: the same fields as
    /// [`ReadPlan::read`] finds in its text, by the same rules.
    pub fn read_value<'a>(&self, program: &Program, lead: &'a serde_json::Value) -> Result<Record<'a>, EvalError> {
        let serde_json::Value::Object(object) = lead else {
            return Err(EvalError::NotAnObject);
        };
        let mut walk = ValueWalk {
            record: Record {
                fields: vec![Value::Null; program.fields.len()],
                ..Record::default()
            },
            found: if self.dotted_slots.is_empty() {
                Vec::new()
            } else {
                vec![false; program.fields.len()]
            },
            fallback: Vec::new(),
            events: Ok(&[]),
        };
        walk.object(&self.root, object, true)?;
        for (slot, value) in walk.fallback {
            if !walk.found[slot as usize] {
                walk.record.fields[slot as usize] = value;
            }
        }
        walk.record.events = Events::Json(walk.events?);
        Ok(walk.record)
    }
}

/// [`ReadPlan::read_value`] under way.
struct ValueWalk<'a> {
    record: Record<'a>,
    /// For dotted paths: whether the nested path was there (even as `null`).
    found: Vec<bool>,
    /// Values of root keys with dots in them, for dotted paths not found nested.
    fallback: Vec<(u32, Value<'a>)>,
    /// The `events` array, or the error it is (reported after the fields, as from text).
    events: Result<&'a [serde_json::Value], EvalError>,
}

impl<'a> ValueWalk<'a> {
    fn object(
        &mut self,
        node: &Node,
        object: &'a serde_json::Map<String, serde_json::Value>,
        root: bool,
    ) -> Result<(), EvalError> {
        for (key, json) in object {
            let Some(entry) = node.get(key) else {
                continue;
            };
            if entry.events && root {
                self.events = match json {
                    serde_json::Value::Array(events) => Ok(events),
                    serde_json::Value::Null => Ok(&[]),
                    _ => Err(EvalError::EventsNotArray),
                };
                continue;
            }
            if entry.id || !entry.slots.is_empty() || !entry.fallback.is_empty() {
                let value = Value::from_json_checked(json)?;
                if entry.id {
                    self.record.id = Some(json.clone());
                }
                for &slot in &entry.fallback {
                    self.fallback.push((slot, value.clone()));
                }
                for &slot in &entry.slots {
                    self.record.fields[slot as usize] = value.clone();
                    if let Some(found) = self.found.get_mut(slot as usize) {
                        *found = true;
                    }
                }
            }
            if let (Some(child), serde_json::Value::Object(inner)) = (&entry.child, json) {
                self.object(child, inner, false)?;
            }
        }
        Ok(())
    }
}

fn classify(e: &serde_json::Error) -> EvalError {
    let text = e.to_string();
    shape_of(&text).unwrap_or(EvalError::Json(text))
}

/// The error a [`shape_error`] message stands for; `None` for other (syntax) errors.
fn shape_of(text: &str) -> Option<EvalError> {
    let (_, rest) = text.split_once('\u{1}')?;
    let (code, message) = rest.split_once('\u{1}')?;
    Some(from_code(code, message))
}

/// Errors that are about the lead's shape, not its syntax, travel through serde as
/// `\u{1}CODE\u{1}message` so they come out as the same [`EvalError`] as the value path.
fn from_code(code: &str, message: &str) -> EvalError {
    let message = message.split(" at line ").next().unwrap_or(message);
    match code {
        "object" => EvalError::NotAnObject,
        "events" => EvalError::EventsNotArray,
        index => match index.parse() {
            Ok(index) => EvalError::BadEvent {
                index,
                message: message.to_string(),
            },
            Err(_) => EvalError::Json(message.to_string()),
        },
    }
}

fn shape_error<E: de::Error>(code: impl fmt::Display, message: impl fmt::Display) -> E {
    E::custom(format_args!("\u{1}{code}\u{1}{message}"))
}

/// What reading learns besides the record: for dotted paths, whether the nested path was
/// there (even as `null`) and the value of the root key with the dots in it; and the first
/// error in the `events` array, kept until the end because a later `events` key replaces
/// it (the last key wins, as in a `serde_json::Value`).
struct Reading<'t> {
    found: Vec<bool>,
    fallback: Vec<Option<Value<'t>>>,
    events: ReadEvents<'t>,
    events_error: Option<EvalError>,
}

/// Reads an object, filling the record from the keys in `node`.
struct LeadSeed<'p, 'r, 't> {
    node: &'p Node,
    program: &'p Program,
    record: &'r mut Record<'t>,
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

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
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
                    events: &mut self.reading.events,
                    error: &mut self.reading.events_error,
                    as_of: self.as_of,
                })?;
            } else if let Some(child) = &entry.child {
                // A key seen again replaces everything read under it (the last one wins,
                // as in a `serde_json::Value`).
                child.each_slot(&mut |slot| {
                    self.record.fields[slot as usize] = Value::Null;
                    self.reading.found[slot as usize] = false;
                });
                if entry.slots.is_empty() && entry.fallback.is_empty() && !entry.id {
                    let seed = LeadSeed {
                        node: child,
                        program: self.program,
                        record: self.record,
                        reading: self.reading,
                        as_of: self.as_of,
                        root: false,
                    };
                    map.next_value_seed(seed)?;
                } else {
                    // Both a value and a parent (`company exists` and `company.size`):
                    // rare, so read it whole and walk it.
                    let json: serde_json::Value = map.next_value()?;
                    fill_from_json(self.record, self.reading, &self.node.keys, &key.0, &json);
                }
            } else if entry.id {
                // The id is echoed exactly as given, so it is read as JSON, not as a value.
                let json: serde_json::Value = map.next_value()?;
                self.fill(entry, Value::from_json(&json).into_owned());
                self.record.id = Some(json);
            } else {
                let value: Value<'de> = map.next_value()?;
                self.fill(entry, value);
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
            Err(shape_error("object", "a lead must be a JSON object"))
        } else {
            Ok(())
        }
    }

    /// Stores a value read for `entry` (and reads into it, for a key also used as a parent).
    fn fill(&mut self, entry: &Entry, value: Value<'t>) {
        for &slot in &entry.fallback {
            self.reading.fallback[slot as usize] = Some(value.clone());
        }
        for &slot in &entry.slots {
            self.record.fields[slot as usize] = value.clone();
            self.reading.found[slot as usize] = true;
        }
    }
}

/// Fills the record from an already-parsed value for `key` and everything under it.
fn fill_from_json(
    record: &mut Record,
    reading: &mut Reading,
    keys: &[(String, Entry)],
    key: &str,
    json: &serde_json::Value,
) {
    let Some((_, entry)) = keys.iter().find(|(k, _)| k == key) else {
        return;
    };
    let value = Value::from_json(json).into_owned();
    if entry.id {
        record.id = Some(json.clone());
    }
    for &slot in &entry.fallback {
        reading.fallback[slot as usize] = Some(value.clone());
    }
    for &slot in &entry.slots {
        record.fields[slot as usize] = value.clone();
        reading.found[slot as usize] = true;
    }
    if let (Some(child), serde_json::Value::Object(object)) = (&entry.child, json) {
        for (k, v) in object {
            fill_from_json(record, reading, &child.keys, k, v);
        }
    }
}

/// Reads the `events` array.
struct EventsSeed<'p, 'r, 't> {
    program: &'p Program,
    events: &'r mut ReadEvents<'t>,
    /// The first malformed event, or `events` not being an array.
    error: &'r mut Option<EvalError>,
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
        let mut index = 0;
        loop {
            let seed = EventSeed {
                program: self.program,
                events: self.events,
                as_of: self.as_of,
                index,
            };
            match seq.next_element_seed(seed) {
                Ok(None) => return Ok(()),
                Ok(Some(())) => {}
                // A shape error comes from the visitor after the event was read whole,
                // so the array can be read on (its errors only count if no later `events`
                // key replaces it); a syntax error cannot be.
                Err(e) => match shape_of(&e.to_string()) {
                    Some(error) => {
                        self.error.get_or_insert(error);
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
        *self.error = Some(EvalError::EventsNotArray);
        Ok(())
    }
}

/// Reads one event, keeping it only if its type is used and it is not after `as_of`.
struct EventSeed<'p, 'r, 't> {
    program: &'p Program,
    events: &'r mut ReadEvents<'t>,
    as_of: Millis,
    index: usize,
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

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let props = &self.program.event_props;
        let base = self.events.next_base();
        let (mut ty, mut at): (Option<Value<'de>>, Option<Value<'de>>) = (None, None);
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let prop = props.iter().position(|p| *p == key.0).map(|p| p as u32);
            let slot = match &*key.0 {
                "type" => &mut ty,
                "at" => &mut at,
                _ => match prop {
                    Some(p) => {
                        let value = map.next_value()?;
                        self.events.set_prop(base, p, value);
                        continue;
                    }
                    None => {
                        map.next_value::<Skip>()?;
                        continue;
                    }
                },
            };
            let value: Value<'de> = map.next_value()?;
            if let Some(p) = prop {
                self.events.set_prop(base, p, value.clone());
            }
            *slot = Some(value);
        }
        match self.keep(ty, at)? {
            Some((ty, at)) => self.events.push(ty, at, base),
            None => self.events.discard(base),
        }
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(self.bad("is not an object"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(self.bad("is not an object"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(self.bad("is not an object"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(self.bad("is not an object"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(self.bad("is not an object"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(self.bad("is not an object"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Err(self.bad("is not an object"))
    }
}

impl EventSeed<'_, '_, '_> {
    fn bad<E: de::Error>(&self, message: &str) -> E {
        shape_error(self.index, message)
    }

    fn keep<E: de::Error>(&self, ty: Option<Value>, at: Option<Value>) -> Result<Option<(u32, Millis)>, E> {
        let Some(Value::Str(ty)) = ty else {
            return Err(self.bad("has no `type` string"));
        };
        let Some(ty) = self.program.event_type(&ty) else {
            return Ok(None);
        };
        let Some(Value::Str(at)) = at else {
            return Err(self.bad("has no `at` time"));
        };
        let Some(at_ms) = parse_time(&at) else {
            return Err(self.bad(&format!("`at` is not an RFC 3339 time: {at:?}")));
        };
        Ok((at_ms <= self.as_of).then_some((ty, at_ms)))
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
