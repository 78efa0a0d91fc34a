//! The dotted-path rule (`company.size`: the nested objects first, then a root key with
//! the dots in it, as CSV headers write it): [`dotted_key`] and [`nested_or_dotted`], the
//! one statement of it that the read plan (`read/plan.rs`, `Entry::fallback` and
//! `Fill::finish`), the overlay of the fields enrichment hooks changed (`read/path.rs`),
//! the checker's look at sample leads, and the outcome tools' picker
//! (`leadscore-outcomes`) all follow.

use serde_json::Value as Json;

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
pub fn dotted<'a>(lead: &'a Json, path: &[String]) -> Option<&'a Json> {
    dotted_key(path).and_then(|key| lead.get(key))
}
