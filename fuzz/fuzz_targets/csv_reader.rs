//! Arbitrary bytes through the command line's own CSV reader (`src/cli/input.rs`, the
//! reader `score`, `stats` and the outcome commands use), with a small record bound and
//! both column choices: it must never panic, never return a record past the bound, and
//! never keep a column it was not asked for; each lead is scored by the example packs.
//!
//! The reader is a module of the binary crate, so it is compiled here from its file, with
//! the one item of the CLI it names (`Failure`) given below as the CLI defines it.
#![no_main]

use std::collections::HashSet;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;

#[path = "common/mod.rs"]
mod common;
use common::{as_of, packs};

/// A command that could not run, and the message for the user (as in `src/cli/mod.rs`,
/// which the reader names as `super::Failure`).
pub struct Failure(pub String);

impl<E: std::fmt::Display + 'static> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(format!("error: {e}"))
    }
}

#[path = "../../src/cli/input.rs"]
#[allow(dead_code)]
mod input;

use input::{Batch, Columns, Format, Item, Leads, ReadOptions};

/// The longest record read: small, so the bound is met often.
const MAX_RECORD: usize = 512;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the delimiter and whether only some columns are kept.
    let Some((&first, csv)) = data.split_first() else {
        return;
    };
    let delimiter = [b',', b';', b'\t', b'|'][usize::from(first & 3)];
    let only: HashSet<String> = ["title", "company.size", "email", "a"].map(String::from).into();
    let columns = match first & 4 {
        0 => Columns::All,
        _ => Columns::Only(Arc::new(only.clone())),
    };
    let options = ReadOptions {
        delimiter,
        delimiter_given: first & 8 == 0,
        max_line: MAX_RECORD,
        columns: columns.clone(),
    };
    let input: Box<dyn std::io::Read + Send> = Box::new(std::io::Cursor::new(csv.to_vec()));
    let Ok(mut leads) = Leads::new(input, Format::Csv, options) else {
        return;
    };
    let mut batch = Batch::default();
    for _ in 0..16 {
        let more = match leads.batch(&mut batch) {
            Ok(more) => more,
            Err(_) => return, // a record past the bound, or input that is not text
        };
        for (_, item) in &batch.items {
            match item {
                Item::Lead(lead) => check_lead(lead, &columns),
                Item::Bad(message) => assert!(!message.is_empty()),
                Item::Line(_) => panic!("a CSV reader gave a JSON line"),
            }
        }
        assert!(batch.bytes <= csv.len(), "a batch holds more than the input");
        if !more {
            return;
        }
    }
});

/// A lead read from CSV: an object of strings, only kept columns, within the bound, and
/// scored alike from its value and its text by every example pack.
fn check_lead(lead: &serde_json::Value, columns: &Columns) {
    let object = lead.as_object().expect("a CSV lead is an object");
    let mut bytes = 0;
    for (name, value) in object {
        if let Columns::Only(names) = columns {
            assert!(names.contains(name), "column {name:?} was not asked for");
        }
        let value = value.as_str().expect("a CSV cell is a string");
        bytes += name.len() + value.len();
    }
    assert!(bytes <= 2 * MAX_RECORD + (1 << 16), "a record past the bound was read");
    let text = lead.to_string();
    for pack in packs() {
        let slow = pack.score(lead, as_of());
        let fast = pack.score_json(&text, as_of());
        match (&fast, &slow) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "the two inputs disagree on {text}"),
            (Err(_), Err(_)) => {}
            _ => panic!("one input failed: text {fast:?}, value {slow:?} on {text}"),
        }
    }
}
