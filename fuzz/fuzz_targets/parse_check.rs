//! Arbitrary rule text through the whole front end: parse, check, compile, render the
//! diagnostics or print the program. Nothing may panic, overflow the stack or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/it/listing.rs"]
mod listing;
use listing::listing;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match leadscore::Pack::from_source("fuzz", text) {
        Ok(pack) => {
            let before = listing(&pack);
            // A pack that loads formats, and its formatted text loads to the same program.
            let formatted = leadscore::format(text).unwrap_or_else(|e| panic!("format failed: {e}"));
            let again = leadscore::Pack::from_source("fuzz", &formatted)
                .unwrap_or_else(|e| panic!("formatted text does not load: {e}\n{formatted}"));
            assert_eq!(
                listing(&again),
                before,
                "formatting changed the program:\n{text}\n---\n{formatted}"
            );
            let twice = leadscore::format(&formatted).unwrap_or_else(|e| panic!("formatted text does not format: {e}"));
            assert_eq!(twice, formatted, "formatting is not idempotent");
        }
        Err(leadscore::Error::Pack(errors)) => {
            let _ = errors.render(false);
            for e in errors.errors() {
                let _ = errors.location(e);
            }
        }
        Err(other) => panic!("unexpected error kind: {other}"),
    }
});
