//! A lead as the evaluator reads it: the values of the fields the pack uses, by slot, and
//! the events of the types it uses, up to `as_of`. Built from a `serde_json::Value` here,
//! or straight from JSON text in [`super::json`].

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
    /// Event properties: `props[event * program.event_props.len() + slot]`.
    pub props: Vec<Value<'a>>,
    /// The lead's id field, when present.
    pub id: Option<Value<'a>>,
}

/// One event: its type (index into the program's event types) and time.
#[derive(Clone, Copy, Debug)]
pub struct Event {
    pub ty: u32,
    pub at: Millis,
}

impl<'a> Record<'a> {
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
        let mut record = Record {
            fields: program
                .fields
                .iter()
                .map(|path| lookup(lead, path).map_or(Ok(Value::Null), Value::from_json_checked))
                .collect::<Result<_, _>>()?,
            id: object.get(id_field).map(Value::from_json_checked).transpose()?,
            ..Record::default()
        };
        match object.get("events") {
            None | Some(Json::Null) => {}
            Some(Json::Array(events)) => {
                record.events.reserve(events.len());
                record.props.reserve(events.len() * program.event_props.len());
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
        let Some(ty) = event.get("type").and_then(Json::as_str) else {
            return Err(bad("has no `type` string"));
        };
        let Some(ty) = program.event_type(ty) else {
            return Ok(());
        };
        let at = event
            .get("at")
            .and_then(Json::as_str)
            .ok_or_else(|| bad("has no `at` time"))?;
        let at = parse_time(at).ok_or_else(|| bad(&format!("`at` is not an RFC 3339 time: {at:?}")))?;
        if at > as_of {
            return Ok(());
        }
        self.events.push(Event { ty, at });
        // Only the properties this type's matchers read: the others are never looked at.
        let base = self.props.len();
        // Not `resize`: it clones its value into each slot, 160 instructions an event.
        self.props.extend((0..program.event_props.len()).map(|_| Value::Null));
        for &slot in program.props_by_type.get(ty as usize).map_or(&[][..], Vec::as_slice) {
            if let Some(value) = program
                .event_props
                .get(slot as usize)
                .and_then(|prop| event.get(prop.as_str()))
            {
                self.props[base + slot as usize] = Value::from_json_checked(value)?;
            }
        }
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
