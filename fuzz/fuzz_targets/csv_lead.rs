//! Arbitrary CSV through the `csv` crate into leads (one per row, header → string field,
//! the way a CRM export reads) and through every example pack on both inputs.
//!
//! The batch CLI's own CSV reader lives in `src/cli/` and is not reachable from here; this
//! target covers the csv crate on hostile input and scoring of all-string leads with
//! arbitrary field names. Point it at the CLI's reader once that is a library API.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn packs() -> &'static [leadscore::Pack] {
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

fuzz_target!(|data: &[u8]| {
    let as_of = leadscore::parse_time("2026-03-01T00:00:00Z").unwrap_or_default();
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(data);
    let Ok(headers) = reader.headers().cloned() else {
        return;
    };
    for record in reader.records().take(64) {
        let Ok(record) = record else {
            continue;
        };
        let mut lead = serde_json::Map::new();
        for (name, value) in headers.iter().zip(record.iter()) {
            lead.insert(name.to_string(), serde_json::Value::String(value.to_string()));
        }
        let lead = serde_json::Value::Object(lead);
        let text = lead.to_string();
        for pack in packs() {
            let slow = pack.score(&lead, as_of);
            let fast = pack.score_json(&text, as_of);
            match (&fast, &slow) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "the two inputs disagree on {text}"),
                (Err(_), Err(_)) => {}
                _ => panic!("one input failed: text {fast:?}, value {slow:?} on {text}"),
            }
        }
    }
});
