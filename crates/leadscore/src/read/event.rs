//! The one check of an event every reader makes: its `type` a string, its `at` an RFC 3339
//! time; kept when the program uses its type and it is not after `as_of`.

use serde_json::Value as Json;

use super::EventProblem;
use crate::program::Program;
use crate::value::time::{parse_time, Millis};
use crate::value::Value;

/// An event's type (as the program numbers it) and time; `None` for an event of a type
/// the program does not use, or after `as_of`.
pub fn check(
    program: &Program,
    ty: Option<&str>,
    at: Option<&str>,
    as_of: Millis,
) -> Result<Option<(u32, Millis)>, EventProblem> {
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
) -> Result<Option<(u32, Millis)>, EventProblem> {
    let ty = ty.ok_or(EventProblem::NoType)?;
    let Some(ty) = program.event_type(ty) else {
        return Ok(None);
    };
    let at_ms = at()?;
    Ok((at_ms <= as_of).then_some((ty, at_ms)))
}

/// Reads `events[index]` of a lead in memory: its type and time, and into `props` the
/// properties its type's matchers read (an array among them checked for depth now, as
/// when its lead is read from text). `None` for an event of a type the program does not
/// use or after `as_of`.
pub fn read_event<'a>(
    program: &Program,
    index: usize,
    event: &'a Json,
    as_of: Millis,
    props: &mut Vec<(u32, &'a Json)>,
) -> Result<Option<(u32, Millis)>, super::ReadError> {
    let bad = |problem| super::ReadError::BadEvent { index, problem };
    let Json::Object(event) = event else {
        return Err(bad(EventProblem::NotAnObject));
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
    let ty = ty.and_then(Json::as_str);
    let Some((ty, at)) = check(program, ty, at.and_then(Json::as_str), as_of).map_err(bad)? else {
        return Ok(None);
    };
    // Only the properties this type's matchers read: the others are never looked at.
    props.clear();
    let wanted = program.props_by_type.get(ty as usize).map_or(&[][..], Vec::as_slice);
    for &slot in wanted {
        if let Some(value) = event.get(program.event_props[slot as usize].as_str()) {
            if value.is_array() {
                Value::from_json_checked(value)?;
            }
            props.push((slot, value));
        }
    }
    Ok(Some((ty, at)))
}
