//! The read plan: a tree of the keys the pack reads, built once per program (and id
//! field) and kept with the pack. Both readers walk a lead's keys once and look each up in
//! the plan, rather than searching the lead for each field, and fill the record the same
//! way ([`Fill`]).

use serde_json::Value as Json;

use super::{Events, ReadError, Record};
use crate::program::Program;
use crate::value::keys::KeyIndex;
use crate::value::path::{dotted_key, nested_or_dotted};
use crate::value::Value;

/// Which keys of a lead to read, and where to put them.
#[derive(Debug, Default)]
pub struct ReadPlan {
    pub(super) root: Node,
    /// Slots of dotted paths, which fall back to a root key with the dots in it.
    dotted_slots: Vec<u32>,
    /// Whether an event's `type` and `at` are also properties the program reads.
    pub(super) event_keys: EventKeys,
}

/// The property slots of an event's `type` and `at` keys, when the program reads them as
/// properties too (`where type = ...`): found once with the plan, not at every event key.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct EventKeys {
    pub(super) ty: Option<u32>,
    pub(super) at: Option<u32>,
}

impl EventKeys {
    pub(super) fn of(program: &Program) -> EventKeys {
        let slot = |key: &str| program.event_props.iter().position(|p| p == key).map(|p| p as u32);
        EventKeys {
            ty: slot("type"),
            at: slot("at"),
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Node {
    pub(super) keys: Vec<(String, Entry)>,
    /// The keys, found by a lead's key in one probe ([`Node::get_raw`]); made by
    /// [`Node::index_keys`] once the plan is built.
    index: KeyIndex,
}

#[derive(Debug, Default)]
pub(super) struct Entry {
    /// Field slots this key's value fills.
    pub(super) slots: Vec<u32>,
    /// Slots of dotted paths this root key (`"company.size"`) fills when the nested
    /// path (`company` → `size`) is not in the lead: the dotted-path rule of `value/path.rs`.
    pub(super) fallback: Vec<u32>,
    /// Whether the value is the lead's id.
    pub(super) id: bool,
    /// Keys to read inside the value, when it is an object.
    pub(super) child: Option<Node>,
    /// The root `events` array.
    pub(super) events: bool,
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

    pub(super) fn get(&self, key: &str) -> Option<&Entry> {
        self.get_raw(key.as_bytes())
    }

    /// [`Node::get`] for a key the scanner has as bytes: one probe of the index, not a
    /// compare with each key in turn (which key a lead's key is, or that it is none, is
    /// data: a search stopping at it mispredicted a branch most keys). Inlined into the
    /// scanner's object walk: out of line, the call cost more than the search.
    #[inline(always)]
    pub(super) fn get_raw(&self, key: &[u8]) -> Option<&Entry> {
        let i = self.index.find(key)?;
        self.keys.get(i).map(|(_, e)| e)
    }

    /// Indexes the keys of this node and of those under it, once they are all in.
    fn index_keys(&mut self) {
        self.index = KeyIndex::exact(self.keys.iter().map(|(k, _)| k.as_str()));
        for (_, entry) in &mut self.keys {
            if let Some(child) = &mut entry.child {
                child.index_keys();
            }
        }
    }

    /// Every slot filled at or under this node.
    pub(super) fn each_slot(&self, f: &mut dyn FnMut(u32)) {
        for (_, entry) in &self.keys {
            entry.slots.iter().for_each(|&s| f(s));
            if let Some(child) = &entry.child {
                child.each_slot(f);
            }
        }
    }
}

impl Entry {
    /// Whether the key's own value is read (not only keys inside it).
    pub(super) fn wants_value(&self) -> bool {
        self.id || !self.slots.is_empty() || !self.fallback.is_empty()
    }
}

impl ReadPlan {
    /// The plan for `program`, reading the id from `id_field`.
    pub fn new(program: &Program, id_field: &str) -> ReadPlan {
        let mut root = Node::default();
        let mut dotted = Vec::new();
        for (slot, path) in program.fields.iter().enumerate() {
            let Some((last, parents)) = path.split_last() else {
                // The checker never makes an empty path; an empty one has nothing to read.
                continue;
            };
            let mut node = &mut root;
            for segment in parents {
                node = node.entry(segment).child.get_or_insert_with(Node::default);
            }
            node.entry(last).slots.push(slot as u32);
            if let Some(key) = dotted_key(path) {
                root.entry(&key).fallback.push(slot as u32);
                dotted.push(slot as u32);
            }
        }
        root.entry(id_field).id = true;
        if !program.event_types.is_empty() {
            root.entry("events").events = true;
        }
        root.index_keys();
        ReadPlan {
            root,
            dotted_slots: dotted,
            event_keys: EventKeys::of(program),
        }
    }

    /// Reads a lead already parsed into a `serde_json::Value`: the same fields as
    /// `ReadPlan::read` (in `text.rs`) finds in its text, by the same rules. Strings are borrowed from
    /// the lead; events are read when they are counted (`read_event`).
    pub fn read_value<'a>(&self, program: &Program, lead: &'a Json) -> Result<Record<'a>, ReadError> {
        let Json::Object(object) = lead else {
            return Err(ReadError::NotAnObject);
        };
        let mut fill = self.fill(program);
        // The `events` array, or the error it is (reported after the fields, as from text).
        let mut events = Ok(&[][..]);
        for (key, json) in object {
            let Some(entry) = self.root.get(key) else {
                continue;
            };
            if entry.events {
                events = match json {
                    Json::Array(events) => Ok(events.as_slice()),
                    Json::Null => Ok(&[]),
                    _ => Err(ReadError::EventsNotArray),
                };
                continue;
            }
            fill.json(entry, json, &|json| Ok(Value::from_json_checked(json)?))?;
        }
        let mut record = fill.finish();
        record.events = Events::Json(events?);
        Ok(record)
    }

    /// An empty record for `program`, to be filled by a reader.
    pub(super) fn fill<'a>(&self, program: &Program) -> Fill<'a> {
        let dotted = if self.dotted_slots.is_empty() {
            0
        } else {
            program.fields.len()
        };
        Fill {
            record: Record::with_fields(program.fields.len()),
            found: super::record::found_buffer(dotted),
            fallback: Vec::new(),
        }
    }
}

/// A record being filled, by either reader: the one place a value read for a key of the
/// plan is stored. For dotted paths it also keeps whether the nested path was there (even
/// as `null`) and the value of the root key with the dots in it (both empty when the
/// program has no dotted paths).
pub(super) struct Fill<'a> {
    pub(super) record: Record<'a>,
    found: Vec<bool>,
    /// In the order read: a later value for a slot wins, as a repeated key does.
    fallback: Vec<(u32, Value<'a>)>,
}

impl<'a> Fill<'a> {
    /// Stores the value read for `entry`'s key.
    /// (The id is stored by [`Fill::id`], exactly as the lead gave it.)
    pub(super) fn put(&mut self, entry: &Entry, value: Value<'a>) {
        for &slot in &entry.fallback {
            self.fallback.push((slot, value.clone()));
        }
        // The value itself goes to the last slot (a key usually fills one): a copy for
        // each of the others.
        let Some((&last, others)) = entry.slots.split_last() else {
            return;
        };
        for &slot in others {
            self.set(slot, value.clone());
        }
        self.set(last, value);
    }

    fn set(&mut self, slot: u32, value: Value<'a>) {
        self.record.fields[slot as usize] = value;
        if let Some(found) = self.found.get_mut(slot as usize) {
            *found = true;
        }
    }

    /// Stores the lead's id exactly as given (a 64-bit integer never passes through `f64`).
    pub(super) fn id(&mut self, json: Json) {
        self.record.id = Some(json);
    }

    /// Forgets everything read under `node` (a key seen again replaces it: the last one
    /// wins, as in a `serde_json::Value`).
    pub(super) fn clear_under(&mut self, node: &Node) {
        node.each_slot(&mut |slot| {
            self.record.fields[slot as usize] = Value::Null;
            if let Some(found) = self.found.get_mut(slot as usize) {
                *found = false;
            }
        });
    }

    /// Stores a parsed value for `entry`'s key and everything under it that the plan
    /// reads; `convert` makes each value (borrowed from a lead in memory, or owned).
    pub(super) fn json<'j, F>(&mut self, entry: &Entry, json: &'j Json, convert: &F) -> Result<(), ReadError>
    where
        F: Fn(&'j Json) -> Result<Value<'a>, ReadError>,
    {
        if entry.id {
            self.id(json.clone());
        }
        if entry.wants_value() {
            self.put(entry, convert(json)?);
        }
        if let (Some(child), Json::Object(object)) = (&entry.child, json) {
            for (key, json) in object {
                if let Some(entry) = child.get(key) {
                    self.json(entry, json, convert)?;
                }
            }
        }
        Ok(())
    }

    /// The record, each dotted path read by the dotted-path rule: its nested value if one
    /// was found (only `put` sets it, and it marks it found), else its dotted root key's.
    pub(super) fn finish(mut self) -> Record<'a> {
        for (slot, value) in self.fallback {
            let (field, found) = (&mut self.record.fields[slot as usize], self.found[slot as usize]);
            let nested = found.then(|| std::mem::replace(field, Value::Null));
            *field = nested_or_dotted(nested, || Some(value)).unwrap_or(Value::Null);
        }
        super::record::give_back_found(self.found);
        self.record
    }
}

/// Events (and event properties) room is made for when a lead's `events` array starts
/// (both text readers).
pub(super) const EVENTS_RESERVED: usize = 32;

/// An id read as JSON, exactly (both text readers): an integer too large for 64 bits (which JSON readers make
/// a float, losing digits: 2^64+1 and 2^64+2 would be one id) is kept as its digits, a
/// string.
pub(super) fn exact_id(raw: &str) -> Result<serde_json::Value, serde_json::Error> {
    // The usual id, a string without escapes, is its text: `raw` was checked as JSON.
    let unescaped = raw.trim().strip_prefix('"').and_then(|r| r.strip_suffix('"'));
    if let Some(text) = unescaped.filter(|t| !t.contains('\\')) {
        return Ok(serde_json::Value::String(text.to_string()));
    }
    let json: serde_json::Value = serde_json::from_str(raw)?;
    let raw = raw.trim();
    let integer = raw.strip_prefix('-').unwrap_or(raw);
    if json.is_f64() && !integer.is_empty() && integer.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(serde_json::Value::String(raw.to_string()));
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::exact_id;

    /// The shortcut for a string id without escapes gives what parsing it gives, and ids
    /// it does not take (escapes, numbers, blanks around) still parse exactly.
    #[test]
    fn an_id_reads_as_serde_json_reads_it() {
        for raw in [
            r#""L-000001""#,
            r#""""#,
            r#""  spaced  ""#,
            r#""é ü 日本""#,
            r#""a\"b""#,
            r#""back\\slash""#,
            r#""\u00e9""#,
            " \"blanks around\" ",
            "42",
            "-7",
            "1.5",
            "true",
            "null",
        ] {
            let parsed: serde_json::Value = serde_json::from_str(raw).unwrap();
            assert_eq!(exact_id(raw).unwrap(), parsed, "{raw}");
        }
        assert_eq!(
            exact_id("18446744073709551617").unwrap(),
            serde_json::Value::String("18446744073709551617".into())
        );
    }
}
