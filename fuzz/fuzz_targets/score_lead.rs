//! Arbitrary JSON leads against every example pack, through both inputs: the JSON-text
//! fast path (`score_json`) and `serde_json::Value` (`score`). Neither may panic, and when
//! the text parses as a `Value` both must give the same outcome or both fail.
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
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let as_of = leadscore::parse_time("2026-03-01T00:00:00Z").unwrap_or_default();
    let value: Option<serde_json::Value> = serde_json::from_str(text).ok();
    for pack in packs() {
        let fast = pack.score_json(text, as_of);
        if let Some(value) = &value {
            let slow = pack.score(value, as_of);
            match (&fast, &slow) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "the two inputs disagree on {text}"),
                (Err(_), Err(_)) => {}
                _ => panic!("one input failed: text {fast:?}, value {slow:?} on {text}"),
            }
        }
        if let Ok(outcome) = fast {
            let _ = pack.explain(&outcome).to_string();
            let _ = serde_json::to_string(&outcome);
        }
    }
});
