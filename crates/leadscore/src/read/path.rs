//! The dotted-path rule (`company.size`: the nested objects first, then a root key with
//! the dots in it, as CSV headers write it): [`dotted_key`] and [`nested_or_dotted`], the
//! one statement of it that the read plan (`plan.rs`, `Entry::fallback` and
//! `Fill::finish`), the overlay of the fields enrichment hooks changed, and the outcome
//! tools' picker (`leadscore-outcomes`) all follow.

use serde_json::Value as Json;

use super::Record;
use crate::program::Program;
use crate::value::Value;

/// The root key a path of more than one segment falls back to: its segments joined with
/// dots (`"company.size"`, as CSV headers write it).
pub fn dotted_key(path: &[String]) -> Option<String> {
    (path.len() > 1).then(|| path.join("."))
}

/// The dotted-path rule: the value at the nested path when the lead has it (even as
/// `null`), else the value of its [`dotted_key`] (`dotted`, asked only then).
#[inline]
pub fn nested_or_dotted<T>(nested: Option<T>, dotted: impl FnOnce() -> Option<T>) -> Option<T> {
    nested.or_else(dotted)
}

/// The value at a dotted path of a lead in memory, by the dotted-path rule.
pub fn lookup<'a>(lead: &'a Json, path: &[String]) -> Option<&'a Json> {
    let nested = path.iter().try_fold(lead, |v, seg| v.get(seg.as_str()));
    nested_or_dotted(nested, || dotted(lead, path))
}

/// The value of a path's [`dotted_key`] in a lead in memory.
fn dotted<'a>(lead: &'a Json, path: &[String]) -> Option<&'a Json> {
    dotted_key(path).and_then(|key| lead.get(key))
}

/// Puts the fields hooks changed (`overlay`, top-level keys with their new values) into a
/// record read from the original lead: rules then see them exactly like input fields.
/// (Events are not patched: when hooks replace `events`, read the record from a merged lead.)
pub fn overlay<'a>(program: &Program, record: &mut Record<'a>, lead: &'a Json, overlay: &'a Json, id_field: &str) {
    let Json::Object(changed) = overlay else {
        return;
    };
    for (slot, path) in program.fields.iter().enumerate() {
        if !path.first().is_some_and(|top| changed.contains_key(top.as_str())) {
            continue;
        }
        // As `lookup` on the merged lead: nested objects first, then a key with dots in it
        // (which hooks never set: their dotted keys set nested fields).
        let value = nested_or_dotted(lookup(overlay, path), || dotted(lead, path));
        record.fields[slot] = value.map_or(Value::Null, Value::from_json);
    }
    if let Some(id) = changed.get(id_field) {
        record.id = Some(id.clone());
    }
}
