//! A lead as the evaluator reads it: the values of the fields the pack uses, by slot, and
//! its events. Built by the read plan ([`super::ReadPlan`]), from JSON text or from a
//! `serde_json::Value`; the events of a parsed lead are read one at a time, as they are
//! counted ([`super::read_event`]).

use std::borrow::Cow;
use std::cell::Cell;
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

impl<'a> Record<'a> {
    /// A record of `n` null fields and no events, in the field buffer of a record this
    /// thread dropped when there is one (see [`Drop`] below).
    pub(super) fn with_fields(n: usize) -> Record<'a> {
        let mut fields: Vec<Value<'a>> = recycle(SPARE_FIELDS.with(Cell::take));
        fields.resize(n, Value::Null);
        Record {
            fields,
            events: Events::default(),
            id: None,
        }
    }
}

/// A dropped record leaves its field buffer to the next record its thread reads: a
/// record's fields are as many as its program's, so once a thread has read a lead it
/// reads the next without allocating them (scoring a lead otherwise allocates only what
/// its result keeps).
impl Drop for Record<'_> {
    fn drop(&mut self) {
        let fields = recycle(std::mem::take(&mut self.fields));
        // A thread being torn down has no spare to keep it in: the buffer is freed.
        let _ = SPARE_FIELDS.try_with(|spare| {
            let kept = spare.take();
            spare.set(if kept.capacity() > fields.capacity() {
                kept
            } else {
                fields
            });
        });
        if let Events::Read(events) = &mut self.events {
            events.give_back();
        }
    }
}

thread_local! {
    /// The field buffer of the last record this thread dropped, empty.
    static SPARE_FIELDS: Cell<Vec<Value<'static>>> = const { Cell::new(Vec::new()) };
    /// The buffer of the last [`super::plan::Fill`] this thread finished, empty.
    static SPARE_FOUND: Cell<Vec<bool>> = const { Cell::new(Vec::new()) };
    /// The event buffers of the last record read from text this thread dropped, empty.
    static SPARE_EVENTS: Cell<ReadEvents<'static>> = const { Cell::new(ReadEvents {
        events: Vec::new(),
        later: Vec::new(),
        props: Vec::new(),
    }) };
}

/// `n` falses, in the buffer a finished fill gave back ([`give_back_found`]) when there is one.
pub(super) fn found_buffer(n: usize) -> Vec<bool> {
    let mut found = SPARE_FOUND.with(Cell::take);
    found.clear();
    found.resize(n, false);
    found
}

/// Keeps a finished fill's `found` buffer for the next one on this thread.
pub(super) fn give_back_found(found: Vec<bool>) {
    let _ = SPARE_FOUND.try_with(|spare| spare.set(found));
}

/// An empty vector of `U` in the allocation of `v` (cleared first), when `T` and `U`
/// have the same size and alignment: std collects a `vec::IntoIter` into a vector in
/// place. This is how a buffer of values or references that borrow one lead is kept for
/// the next without `unsafe`.
pub(crate) fn recycle<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
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
    /// read: in the buffers of the last record read from text that this thread dropped,
    /// when these have none yet.
    pub fn reserve(&mut self, n: usize) {
        if self.events.capacity() == 0 && self.props.capacity() == 0 && self.later.capacity() == 0 {
            let spare = SPARE_EVENTS.with(Cell::take);
            self.events = spare.events;
            self.later = spare.later;
            self.props = recycle(spare.props);
        }
        self.events.reserve(n);
        self.props.reserve(n);
    }

    /// Leaves this record's buffers, emptied, to the next one its thread reads.
    fn give_back(&mut self) {
        let mut events = std::mem::take(&mut self.events);
        let mut later = std::mem::take(&mut self.later);
        events.clear();
        later.clear();
        let props = recycle(std::mem::take(&mut self.props));
        let _ = SPARE_EVENTS.try_with(|spare| spare.set(ReadEvents { events, later, props }));
    }

    /// Where the properties of the next event will start.
    pub fn next_base(&self) -> usize {
        self.props.len()
    }

    /// Sets property `slot` of the event being read, whose properties start at `base`
    /// (the last value wins, as for a lead's duplicate keys).
    pub fn set_prop(&mut self, base: usize, slot: u32, value: Value<'a>) {
        // The usual event has one property the program reads: nothing to search.
        if base >= self.props.len() {
            self.props.push((slot, value));
            return;
        }
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

#[cfg(test)]
mod tests {
    use super::recycle;

    /// A recycled buffer keeps its allocation: std collects a `vec::IntoIter` in place
    /// when the element layouts match.
    #[test]
    fn recycled_buffers_keep_their_allocation() {
        let json = serde_json::json!("x");
        let mut props: Vec<(u32, &serde_json::Value)> = Vec::with_capacity(8);
        props.push((1, &json));
        let kept: Vec<(u32, &'static serde_json::Value)> = recycle(props);
        assert!(kept.is_empty());
        assert!(kept.capacity() >= 8, "capacity {}", kept.capacity());
    }

    /// A record read after one was dropped on the same thread reuses its field buffer,
    /// and starts with every field null whatever the last one held.
    #[test]
    fn a_record_reuses_the_fields_of_the_last_one_dropped() {
        let text = String::from("held");
        let mut first = super::Record::with_fields(5);
        first.fields[2] = crate::value::Value::Str(std::borrow::Cow::Borrowed(&text));
        let buffer = first.fields.as_ptr() as usize;
        drop(first);
        let second = super::Record::with_fields(3);
        assert_eq!(second.fields.as_ptr() as usize, buffer);
        assert!(second.fields.iter().all(|v| matches!(v, crate::value::Value::Null)));
        assert_eq!(second.fields.len(), 3);
    }
}
