//! The fields enrichment hooks changed, put into a record read from the original lead, by
//! the dotted-path rule ([`crate::value::path`]).

use serde_json::Value as Json;

use super::Record;
use crate::program::Program;
use crate::value::path::{dotted, lookup, nested_or_dotted};
use crate::value::Value;

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
