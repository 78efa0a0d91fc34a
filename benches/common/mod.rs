//! Shared by the benches and by `tests/it/baselines.rs` (which includes this folder with
//! `#[path]`), so the baselines measured are the baselines tested.
#![allow(dead_code)]

pub mod handwritten;
pub mod packs;
pub mod rhai_baseline;

/// The time every benchmark scores as of: the generator's default, 2026-03-01T00:00:00Z.
pub const AS_OF: i64 = leadscore::DEFAULT_AS_OF_MILLIS;

/// `as_of` as the library takes it.
pub fn as_of() -> leadscore::chrono::DateTime<leadscore::chrono::Utc> {
    leadscore::chrono::DateTime::from_timestamp_millis(AS_OF).unwrap_or_default()
}

/// `n` generated leads with 20 events each, parsed.
pub fn leads(n: usize, seed: u64) -> Vec<serde_json::Value> {
    leadscore::Generator::new(seed)
        .take(n)
        .map(|lead| serde_json::to_value(lead).unwrap_or_default())
        .collect()
}

/// The b2b-saas example pack.
pub fn b2b_saas() -> leadscore::Pack {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/b2b-saas");
    leadscore::Pack::load(dir).unwrap_or_else(|e| unreachable!("the example pack loads: {e}"))
}
