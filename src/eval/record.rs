//! A lead as the evaluator reads it: the values of the fields the pack uses, by slot, and
//! the events of the types it uses, up to `as_of`. Built from a `serde_json::Value` here,
//! or straight from JSON text in [`super::json`].

use std::ops::Range;

use serde_json::Value as Json;

use super::time::{parse_time, Millis};
use super::{EvalError, Value};
use crate::program::Program;

/// The parts of a lead a program reads.
#[derive(Debug, Default)]
pub struct Record<'a> {
    /// Field values by slot; `Null` when missing.
    pub fields: Vec<Value<'a>>,
    /// Events of the types the program uses, at or before `as_of`.
    pub events: Vec<Event>,
    /// The properties the program reads of every event, with their slots: event `i`'s
    /// are `props[events[i].props]`. Only the properties present are stored (an event
    /// has a few; a pack may read many across its event types).
    pub props: Vec<(u32, Value<'a>)>,
    /// The lead's id field, when present.
    pub id: Option<Value<'a>>,
}

/// One event: its type (index into the program's event types), time, and where its
/// properties are in [`Record::props`].
#[derive(Clone, Debug)]
pub struct Event {
    pub ty: u32,
    pub at: Millis,
    props: Range<u32>,
}

impl Event {
    /// An event without properties yet ([`Record::push_event`] sets them).
    pub fn new(ty: u32, at: Millis) -> Event {
        Event { ty, at, props: 0..0 }
    }
}

impl<'a> Record<'a> {
    /// Property `slot` of event `i`; `Null` when the event does not have it.
    pub fn prop(&self, i: usize, slot: u32) -> &Value<'a> {
        static NULL: Value<'static> = Value::Null;
        let range = &self.events[i].props;
        self.props[range.start as usize..range.end as usize]
            .iter()
            .find(|(s, _)| *s == slot)
            .map_or(&NULL, |(_, value)| value)
    }

    /// Sets property `slot` of the event whose properties start at `base` (the last
    /// value wins, as for a lead's duplicate keys).
    pub fn set_prop(&mut self, base: usize, slot: u32, value: Value<'a>) {
        match self.props[base..].iter_mut().find(|(s, _)| *s == slot) {
            Some(entry) => entry.1 = value,
            None => self.props.push((slot, value)),
        }
    }

    /// Adds an event whose properties are `props[base..]`.
    pub fn push_event(&mut self, mut event: Event, base: usize) {
        event.props = base as u32..self.props.len() as u32;
        self.events.push(event);
    }

    /// Reads a JSON lead.
    pub fn from_json(
        program: &Program,
        lead: &'a Json,
        as_of: Millis,
        id_field: &str,
    ) -> Result<Record<'a>, EvalError> {
        let Json::Object(object) = lead else {
            return Err(EvalError::NotAnObject);
        };
        let mut fields = Vec::with_capacity(program.fields.len());
        for path in &program.fields {
            fields.push(match lookup(lead, path) {
                Some(value) => Value::from_json_checked(value)?,
                None => Value::Null,
            });
        }
        let mut record = Record {
            fields,
            id: object.get(id_field).map(Value::from_json_checked).transpose()?,
            ..Record::default()
        };
        match object.get("events") {
            None | Some(Json::Null) => {}
            Some(Json::Array(events)) => {
                record.events.reserve(events.len());
                record.props.reserve(events.len());
                for (index, event) in events.iter().enumerate() {
                    record.event(program, index, event, as_of)?;
                }
            }
            Some(_) => return Err(EvalError::EventsNotArray),
        }
        Ok(record)
    }

    fn event(&mut self, program: &Program, index: usize, event: &'a Json, as_of: Millis) -> Result<(), EvalError> {
        let bad = |message: &str| EvalError::BadEvent {
            index,
            message: message.to_string(),
        };
        let Json::Object(event) = event else {
            return Err(bad("is not an object"));
        };
        // One pass over the keys instead of a map search per key: events are most of a
        // lead, and a search compares its key against several of the event's keys.
        let (mut ty, mut at) = (None, None);
        for (key, value) in event {
            match key.as_str() {
                "type" => ty = Some(value),
                "at" => at = Some(value),
                _ => {}
            }
        }
        let Some(ty) = ty.and_then(Json::as_str) else {
            return Err(bad("has no `type` string"));
        };
        let Some(ty) = program.event_type(ty) else {
            return Ok(());
        };
        let at = at.and_then(Json::as_str).ok_or_else(|| bad("has no `at` time"))?;
        let at = parse_time(at).ok_or_else(|| bad(&format!("`at` is not an RFC 3339 time: {at:?}")))?;
        if at > as_of {
            return Ok(());
        }
        // Only the properties this type's matchers read: the others are never looked at.
        let base = self.props.len();
        let wanted = program.props_by_type.get(ty as usize).map_or(&[][..], Vec::as_slice);
        if !wanted.is_empty() {
            for (key, value) in event {
                if let Some(&slot) = wanted.iter().find(|&&slot| program.event_props[slot as usize] == *key) {
                    self.props.push((slot, Value::from_json_checked(value)?));
                }
            }
        }
        self.push_event(Event::new(ty, at), base);
        Ok(())
    }
}

/// The value at a dotted path: nested objects first, then a key with the dots in it
/// (`"company.size"`, as CSV headers write it).
pub fn lookup<'a>(lead: &'a Json, path: &[String]) -> Option<&'a Json> {
    let nested = path.iter().try_fold(lead, |v, seg| v.get(seg.as_str()));
    match nested {
        Some(v) => Some(v),
        None if path.len() > 1 => lead.get(path.join(".")),
        None => None,
    }
}
