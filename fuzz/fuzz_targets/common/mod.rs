//! What the scoring targets share: the example packs, loaded once, and the time they are
//! scored as of.

use std::sync::OnceLock;

/// The three example packs, with the repository's plugins.
pub fn packs() -> &'static [leadscore::Pack] {
    static PACKS: OnceLock<Vec<leadscore::Pack>> = OnceLock::new();
    PACKS.get_or_init(|| {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let loader = leadscore::Loader::new().plugin_path([format!("{root}/plugins")]);
        ["b2b-saas", "agency", "fintech"]
            .iter()
            .map(|name| {
                loader
                    .load(format!("{root}/rules/{name}"))
                    .unwrap_or_else(|e| panic!("example pack {name}: {e}"))
            })
            .collect()
    })
}

/// The time leads are scored as of (the sample leads' time).
pub fn as_of() -> chrono::DateTime<chrono::Utc> {
    leadscore::parse_time("2026-03-01T00:00:00Z").unwrap_or_default()
}
