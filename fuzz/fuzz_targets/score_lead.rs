//! Arbitrary JSON leads against every example pack, through both inputs: the JSON-text
//! fast path (`score_json`) and `serde_json::Value` (`score`). Neither may panic, and when
//! the text parses as a `Value` both must give the same outcome or both fail.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/mod.rs"]
mod common;
use common::{as_of, packs};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let as_of = as_of();
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
