//! The one check of an event every reader makes: its `type` a string, its `at` an RFC 3339
//! time; kept when the program uses its type and it is not after `as_of`; the time of one
//! after `as_of` noted, since the result may change when it comes.

use serde_json::Value as Json;

use super::EventProblem;
use crate::program::Program;
use crate::value::time::{parse_time, Millis};
use crate::value::Value;

/// What a reader does with an event it checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checked {
    /// Counted: its type (as the program numbers it) and time, at or before `as_of`.
    Kept(u32, Millis),
    /// Of a type the program uses (numbered), but after `as_of`: not counted now, counted
    /// from its time on (so the result may change then).
    Later(u32, Millis),
    /// Of a type the program does not use.
    Unused,
}

/// Checks an event's type and time against the program and `as_of`.
pub fn check(program: &Program, ty: Option<&str>, at: Option<&str>, as_of: Millis) -> Result<Checked, EventProblem> {
    check_timed(program, ty, as_of, || {
        let at = at.ok_or(EventProblem::NoTime)?;
        parse_time(at).ok_or_else(|| EventProblem::BadTime(at.to_string()))
    })
}

/// [`check`] for a reader that has the time in another form than text (an Arrow
/// timestamp): `at` gives it, asked only for an event of a type the program uses.
pub(super) fn check_timed(
    program: &Program,
    ty: Option<&str>,
    as_of: Millis,
    at: impl FnOnce() -> Result<Millis, EventProblem>,
) -> Result<Checked, EventProblem> {
    let ty = ty.ok_or(EventProblem::NoType)?;
    let Some(ty) = program.event_type(ty) else {
        return Ok(Checked::Unused);
    };
    let at_ms = at()?;
    Ok(match at_ms <= as_of {
        true => Checked::Kept(ty, at_ms),
        false => Checked::Later(ty, at_ms),
    })
}

/// Reads `events[index]` of a lead in memory: its type and time, and into `props` the
/// properties its type's matchers read (an array among them checked for depth now, as
/// when its lead is read from text), for an event it keeps.
pub fn read_event<'a>(
    program: &Program,
    index: usize,
    event: &'a Json,
    as_of: Millis,
    props: &mut Vec<(u32, &'a Json)>,
) -> Result<Checked, super::ReadError> {
    let bad = |problem| super::ReadError::BadEvent { index, problem };
    let Json::Object(event) = event else {
        return Err(bad(EventProblem::NotAnObject));
    };
    // One pass over the keys instead of a map search per key: events are most of a
    // lead, and a search compares its key against several of the event's keys. Each
    // key the program reads as a property is found in one probe and kept for now; which
    // of them this type's matchers read is known once the type is.
    let (mut ty, mut at) = (None, None);
    props.clear();
    for (key, value) in event {
        let slot = match key.as_str() {
            "type" => {
                ty = Some(value);
                program.type_prop
            }
            "at" => {
                at = Some(value);
                program.at_prop
            }
            key => program.prop_index.find(key.as_bytes()),
        };
        if let Some(slot) = slot {
            props.push((slot as u32, value));
        }
    }
    let ty = ty.and_then(Json::as_str);
    let checked = check(program, ty, at.and_then(Json::as_str), as_of).map_err(bad)?;
    let Checked::Kept(ty, _) = checked else {
        return Ok(checked);
    };
    // Only the properties this type's matchers read: the others are never looked at.
    let wanted = program.props_by_type.get(ty as usize).map_or(&[][..], Vec::as_slice);
    props.retain(|(slot, _)| wanted.contains(slot));
    for (_, value) in props.iter() {
        if value.is_array() {
            Value::from_json_checked(value)?;
        }
    }
    Ok(checked)
}
