//! The dotted-path rule (`company.size`: the nested objects first, then a root key with
//! the dots in it, as CSV headers write it), for a lead in memory, and the overlay of the
//! fields enrichment hooks changed. The read plan follows the same rule while it reads
//! (see `plan.rs`, `Entry::fallback`).

use serde_json::Value as Json;

use super::Record;
use crate::program::Program;
use crate::value::Value;

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
        let value = lookup(overlay, path).or_else(|| match path.len() {
            1 => None,
            _ => lead.get(path.join(".")),
        });
        record.fields[slot] = value.map_or(Value::Null, Value::from_json);
    }
    if let Some(id) = changed.get(id_field) {
        record.id = Some(id.clone());
    }
}
