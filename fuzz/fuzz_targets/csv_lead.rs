//! Arbitrary CSV through the `csv` crate into leads (one per row, header → string field,
//! the way a CRM export reads) and through every example pack on both inputs.
//!
//! The batch CLI's own CSV reader lives in `src/cli/` and is not reachable from here; this
//! target covers the csv crate on hostile input and scoring of all-string leads with
//! arbitrary field names. Point it at the CLI's reader once that is a library API.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/mod.rs"]
mod common;
use common::{as_of, packs};

fuzz_target!(|data: &[u8]| {
    let as_of = as_of();
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
