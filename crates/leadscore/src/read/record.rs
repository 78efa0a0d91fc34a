//! A lead as the evaluator reads it: the values of the fields the pack uses, by slot, and
//! its events. Built by the read plan ([`super::ReadPlan`]), from JSON text or from a
//! `serde_json::Value`; the events of a parsed lead are read one at a time, as they are
//! counted ([`super::read_event`]).

use std::borrow::Cow;
use std::ops::Range;

use serde_json::Value as Json;

use crate::value::time::Millis;
use crate::value::Value;

/// The parts of a lead a program reads.
#[derive(Debug, Default)]
pub struct Record<'a> {
    /// Field values by slot; `Null` when missing.
    pub fields: Vec<Value<'a>>,
    /// The lead's events.
    pub events: Events<'a>,
    /// The lead's id field, when present, exactly as the lead gave it (a 64-bit integer
    /// stays one: it never passes through `f64`).
    pub id: Option<serde_json::Value>,
}

/// A lead's events, as its reader had them.
#[derive(Debug)]
pub enum Events<'a> {
    /// Parsed from JSON text.
    Read(ReadEvents<'a>),
    /// The `events` array of a lead already in memory, read one event at a time while
    /// they are counted ([`super::read_event`]): copying them into a list first cost about a
    /// tenth of scoring a parsed lead.
    Json(&'a [Json]),
}

impl Default for Events<'_> {
    fn default() -> Self {
        Events::Read(ReadEvents::default())
    }
}

/// The events parsed from JSON text: those of the types the program uses, at or before
/// `as_of`, with the properties it reads; and the type and time of those after `as_of`.
#[derive(Debug, Default)]
pub struct ReadEvents<'a> {
    events: Vec<(u32, Millis, Range<u32>)>,
    /// The type and time of each event of a used type after `as_of` (not read further).
    later: Vec<(u32, Millis)>,
    /// Event `i`'s properties, with their slots, are `props[events[i].2]`. Only the
    /// properties present are stored (an event has a few; a pack may read many across
    /// its event types).
    props: Vec<(u32, Value<'a>)>,
}

impl<'a> ReadEvents<'a> {
    /// Makes room for `n` more events and as many properties, before an `events` array is
    /// read.
    pub fn reserve(&mut self, n: usize) {
        self.events.reserve(n);
        self.props.reserve(n);
    }

    /// Where the properties of the next event will start.
    pub fn next_base(&self) -> usize {
        self.props.len()
    }

    /// Sets property `slot` of the event being read, whose properties start at `base`
    /// (the last value wins, as for a lead's duplicate keys).
    pub fn set_prop(&mut self, base: usize, slot: u32, value: Value<'a>) {
        match self.props[base..].iter_mut().find(|(s, _)| *s == slot) {
            Some(entry) => entry.1 = value,
            None => self.props.push((slot, value)),
        }
    }

    /// Keeps the event being read, whose properties start at `base`.
    pub fn push(&mut self, ty: u32, at: Millis, base: usize) {
        self.events.push((ty, at, base as u32..self.props.len() as u32));
    }

    /// Drops the event being read (its type is not used, or it is after `as_of`).
    pub fn discard(&mut self, base: usize) {
        self.props.truncate(base);
    }

    /// Notes an event of type `ty` after `as_of`, at `at`: it is not counted now, and the
    /// result may change when it comes.
    pub fn note_later(&mut self, ty: u32, at: Millis) {
        self.later.push((ty, at));
    }

    /// The type and time of each event of a used type after `as_of`.
    pub fn later(&self) -> &[(u32, Millis)] {
        &self.later
    }

    /// Forgets everything read (a later `events` key replaces an earlier one).
    pub fn clear(&mut self) {
        self.events.clear();
        self.props.clear();
        self.later.clear();
    }

    /// Each event's type, time and properties.
    pub fn iter(&self) -> impl Iterator<Item = (u32, Millis, EventProps<'_, 'a>)> {
        self.events.iter().map(|(ty, at, props)| {
            let props = &self.props[props.start as usize..props.end as usize];
            (*ty, *at, EventProps::Values(props))
        })
    }
}

/// One event's properties (those its type's matchers read), with their slots, as its
/// reader has them.
#[derive(Clone, Copy, Debug)]
pub enum EventProps<'s, 'a> {
    /// Parsed from JSON text.
    Values(&'s [(u32, Value<'a>)]),
    /// Still in the parsed lead: converted when a filter reads them (a glob reads a string
    /// as it is), so the common case builds and drops no value.
    Json(&'s [(u32, &'a Json)]),
}

impl<'s, 'a> EventProps<'s, 'a> {
    /// Property `slot`; `Null` when the event does not have it.
    pub fn value(self, slot: u32) -> Cow<'s, Value<'a>> {
        static NULL: Value<'static> = Value::Null;
        match self {
            EventProps::Values(props) => {
                Cow::Borrowed(props.iter().find(|(s, _)| *s == slot).map_or(&NULL, |(_, value)| value))
            }
            // Arrays were checked for depth when the event was read.
            EventProps::Json(props) => props
                .iter()
                .find(|(s, _)| *s == slot)
                .map_or(Cow::Borrowed(&NULL), |(_, json)| Cow::Owned(Value::from_json(json))),
        }
    }

    /// The text of property `slot`, as [`Value::as_text`] gives it.
    pub fn text(self, slot: u32) -> Option<Cow<'s, str>> {
        match self {
            EventProps::Json(props) => match props.iter().find(|(s, _)| *s == slot)?.1 {
                Json::String(text) => Some(Cow::Borrowed(text)),
                json => Value::from_json(json).as_text().map(|t| Cow::Owned(t.into_owned())),
            },
            EventProps::Values(props) => props.iter().find(|(s, _)| *s == slot)?.1.as_text(),
        }
    }
}
