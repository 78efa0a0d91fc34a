//! An [`Outcome`] written as one line of JSON, field by field into a byte buffer: the
//! bytes its `Serialize` gives (`serde_json::to_writer`), without going through serde's
//! serializer for every field and string. The batch command writes a result per lead, and
//! serializing was a tenth of scoring one.
//!
//! The pack's own names (rule names and locations, dimensions, tags, reasons, queues, the
//! pack's id) are escaped once, when the pack's table of names is built ([`Written`]), and
//! a result line copies them as bytes.

use std::ops::Range;

use super::outcome::{Firing, PackId};
use super::{Capped, Enrichment, Outcome};

impl Outcome {
    /// Appends the outcome's JSON (what `serde_json::to_writer` writes for it) to `out`.
    ///
    /// ```
    /// # let pack = leadscore::Pack::from_source("demo", "threshold 10\ntitle ~ VP => +10")?;
    /// let lead = serde_json::json!({"id": 1, "title": "VP Sales"});
    /// let outcome = pack.score(&lead, leadscore::parse_time("2026-01-01T00:00:00Z").unwrap())?;
    /// let mut line = Vec::new();
    /// outcome.write_json(&mut line);
    /// assert_eq!(line, serde_json::to_vec(&outcome).unwrap());
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let names = &self.names.json;
        out.push(b'{');
        if let Some(id) = &self.id {
            out.extend_from_slice(b"\"id\":");
            json(out, id);
            out.push(b',');
        }
        out.extend_from_slice(b"\"score\":");
        number(out, self.score);
        if let Some(probability) = self.probability {
            out.extend_from_slice(b",\"probability\":");
            number(out, probability);
        }
        out.extend_from_slice(if self.mql { b",\"mql\":true" } else { b",\"mql\":false" });
        out.extend_from_slice(b",\"disqualified\":");
        names.optional(out, self.disqualified);
        out.extend_from_slice(b",\"dimensions\":{");
        for (i, (dim, &total)) in names.dims.iter().zip(&self.dimensions).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(names.get(dim));
            number(out, total);
        }
        out.extend_from_slice(b"},\"route\":");
        names.optional(out, self.route);
        out.extend_from_slice(b",\"tags\":");
        list(out, &self.tags, |&tag, out| out.extend_from_slice(names.text(tag)));
        out.extend_from_slice(b",\"fired\":");
        list(out, &self.fired, |firing, out| names.fired(out, firing));
        if !self.capped.is_empty() {
            out.extend_from_slice(b",\"capped\":");
            list(out, &self.capped, |capped, out| capped.write_json(out));
        }
        if !self.enriched.is_empty() {
            out.extend_from_slice(b",\"enriched\":");
            list(out, &self.enriched, |enrichment, out| enrichment.write_json(out));
        }
        out.extend_from_slice(names.pack());
    }
}

/// A table of names (`outcome.rs`'s `Names`) as a result line writes them, escaped once
/// into one buffer: each dimension as a key (`"fit":`), each text as a string, each rule's
/// fired entry around its points (`{"rule":…,"points":` and `,"dimension":…,"location":…`),
/// and the line's end (`,"pack":{…}}`).
#[derive(Debug, Default)]
pub(crate) struct Written {
    bytes: Vec<u8>,
    dims: Vec<Range<u32>>,
    texts: Vec<Range<u32>>,
    /// Per rule: its entry's bytes before the points, and after them.
    rules: Vec<(Range<u32>, Range<u32>)>,
    pack: Range<u32>,
}

impl Written {
    /// The JSON of a table's names: its pack, dimensions (sorted), rules (name, dimension
    /// and location each) and texts.
    pub(super) fn new<'n>(
        pack: &PackId,
        dims: &[Box<str>],
        rules: impl Iterator<Item = (&'n str, Option<&'n str>, &'n str)>,
        texts: &[Box<str>],
    ) -> Written {
        let mut written = Written::default();
        written.dims = dims
            .iter()
            .map(|dim| {
                written.add(|out| {
                    string(out, dim);
                    out.push(b':');
                })
            })
            .collect();
        written.texts = texts.iter().map(|text| written.add(|out| string(out, text))).collect();
        written.rules = rules
            .map(|(name, dimension, location)| {
                let head = written.add(|out| {
                    out.extend_from_slice(b"{\"rule\":");
                    string(out, name);
                    out.extend_from_slice(b",\"points\":");
                });
                let tail = written.add(|out| {
                    out.extend_from_slice(b",\"dimension\":");
                    optional(out, dimension);
                    out.extend_from_slice(b",\"location\":");
                    string(out, location);
                });
                (head, tail)
            })
            .collect();
        written.pack = written.add(|out| {
            out.extend_from_slice(b",\"pack\":{\"name\":");
            string(out, &pack.name);
            out.extend_from_slice(b",\"version\":");
            string(out, &pack.version);
            out.extend_from_slice(b"}}");
        });
        written
    }

    /// Appends what `write` writes, and says where it is.
    fn add(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> Range<u32> {
        let start = self.bytes.len() as u32;
        write(&mut self.bytes);
        start..self.bytes.len() as u32
    }

    fn get(&self, range: &Range<u32>) -> &[u8] {
        &self.bytes[range.start as usize..range.end as usize]
    }

    fn text(&self, id: u32) -> &[u8] {
        self.get(&self.texts[id as usize])
    }

    fn pack(&self) -> &[u8] {
        self.get(&self.pack)
    }

    /// A text by its id, or `null`.
    fn optional(&self, out: &mut Vec<u8>, text: Option<u32>) {
        match text {
            Some(id) => out.extend_from_slice(self.text(id)),
            None => out.extend_from_slice(b"null"),
        }
    }

    /// A fired rule's entry (what `Fired`'s `Serialize` gives).
    fn fired(&self, out: &mut Vec<u8>, firing: &Firing) {
        let (head, tail) = &self.rules[firing.names as usize];
        out.extend_from_slice(self.get(head));
        number(out, firing.points);
        out.extend_from_slice(self.get(tail));
        if let Some(count) = firing.count {
            out.extend_from_slice(b",\"count\":");
            json(out, &count);
        }
        if let Some(decay) = firing.decay {
            out.extend_from_slice(b",\"decay\":");
            number(out, decay);
        }
        out.push(b'}');
    }
}

impl Capped {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"dimension\":");
        string(out, &self.dimension);
        out.extend_from_slice(b",\"total\":");
        number(out, self.total);
        out.extend_from_slice(b",\"cap\":");
        number(out, self.cap);
        out.push(b'}');
    }
}

impl Enrichment {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"plugin\":");
        string(out, &self.plugin);
        out.extend_from_slice(b",\"fields\":");
        json(out, &self.fields);
        out.push(b'}');
    }
}

/// A JSON array of `items`, each written by `write`.
fn list<T>(out: &mut Vec<u8>, items: impl IntoIterator<Item = T>, write: impl Fn(T, &mut Vec<u8>)) {
    out.push(b'[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write(item, out);
    }
    out.push(b']');
}

/// A number as the outcome serializes it (`crate::value::num_to_json`: whole numbers
/// without `.0`, others as serde_json writes an `f64`, and `null` for one that is not
/// finite), written without building the `serde_json::Value`.
fn number(out: &mut Vec<u8>, n: f64) {
    match crate::value::whole(n) {
        Some(whole) => json(out, &whole),
        None => json(out, &n),
    }
}

/// Any other value, by serde_json (ids, enriched fields, counts: the less common parts).
fn json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Serializing these into a `Vec` cannot fail: they have string keys, and writing to
    // memory has no error.
    let _ = serde_json::to_writer(&mut *out, value);
}

fn optional(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => string(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

/// A JSON string as serde_json writes it: `"` and `\` escaped, control characters as
/// `\b`, `\t`, `\n`, `\f`, `\r` or `\u00xx`, everything else as it is. Most strings
/// (rule names, locations, ids) have nothing to escape: the bytes that need it are found
/// eight at a time, and the runs between them copied whole.
fn string(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    while let Some(i) = crate::read::special(bytes, start) {
        out.extend_from_slice(&bytes[start..i]);
        escape(out, bytes[i]);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// A `"`, `\` or control character, escaped.
fn escape(out: &mut Vec<u8>, b: u8) {
    let short: &[u8] = match b {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        b'\x08' => b"\\b",
        b'\t' => b"\\t",
        b'\n' => b"\\n",
        b'\x0c' => b"\\f",
        b'\r' => b"\\r",
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let hex = [
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ];
            out.extend_from_slice(&hex);
            return;
        }
    };
    out.extend_from_slice(short);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let every: String = (0u8..128)
            .map(char::from)
            .chain("é\u{7f}\u{2028}日本\u{1F600}".chars())
            .collect();
        for text in [
            "",
            "plain",
            "a\"b\\c",
            "line\nbreak\ttab\r\u{8}\u{c}\u{1}\u{1f}",
            every.as_str(),
        ] {
            let mut out = Vec::new();
            string(&mut out, text);
            assert_eq!(out, serde_json::to_vec(text).unwrap(), "{text:?}");
        }
    }

    /// Escapes at every place in strings longer than the eight bytes searched at a time.
    #[test]
    fn escapes_anywhere_in_a_string_are_written_as_serde_writes_them() {
        for len in 0..20 {
            for at in 0..len {
                for c in ['"', '\\', '\n', '\u{1f}', '\u{7f}', 'é', '\u{2028}'] {
                    let mut text: Vec<char> = "abcdefghijklmnopqrstuvwxyz".chars().take(len).collect();
                    text[at] = c;
                    if at + 2 < len {
                        text[at + 2] = '\t';
                    }
                    let text: String = text.into_iter().collect();
                    let mut out = Vec::new();
                    string(&mut out, &text);
                    assert_eq!(out, serde_json::to_vec(&text).unwrap(), "{text:?}");
                }
            }
        }
    }

    /// Numbers as `num_to_json` makes them and serde_json writes them, at the edges of
    /// whole numbers written as integers.
    #[test]
    fn numbers_are_written_as_serde_writes_them() {
        for n in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            2.5,
            -7.25,
            1e-300,
            5e-324,
            1e15,
            8_999_999_999_999_999.0,
            9e15,
            -9e15,
            9.5e15,
            2f64.powi(53),
            2f64.powi(53) + 2.0,
            1e300,
            f64::MAX,
            f64::MIN,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1.0 / 3.0,
        ] {
            let mut out = Vec::new();
            number(&mut out, n);
            assert_eq!(out, serde_json::to_vec(&crate::value::num_to_json(n)).unwrap(), "{n:?}");
        }
    }

    /// A pack's own names, escaped once when its table of names is built, give the bytes
    /// serde gives: names with quotes, backslashes, tabs and non-ASCII letters, a rule
    /// without a dimension, several tags, a route and a disqualifying reason.
    #[test]
    fn a_packs_names_escaped_once_are_written_as_serde_writes_them() {
        let source = concat!(
            "threshold 5\ncap fit at 10\ncap intent at 10\n",
            "rule \"VP \\\"big\\\" \\\\ é\": title ~ VP => +20 fit, tag \"a\\tb\", tag \"ü\"\n",
            "rule \"Student\": title ~ student => disqualify \"stu\\\"dent\"\n",
            "title ~ \"x\" => +1.5 intent, tag \"a\\tb\"\n",
            "title exists => +2\n",
            "route \"q\\\\1\" when title ~ VP\nroute \"sdr\"\n",
        );
        let pack = crate::Pack::from_source("p\"k", source).unwrap();
        let as_of = crate::parse_time("2026-01-01T00:00:00Z").unwrap();
        for lead in [
            r#"{"id":"L\u0001","title":"VP student x"}"#,
            r#"{"id":7,"title":"x"}"#,
            r#"{"title":"VP"}"#,
            "{}",
        ] {
            let outcome = pack.score_json(lead, as_of).unwrap();
            let mut line = Vec::new();
            outcome.write_json(&mut line);
            assert_eq!(
                String::from_utf8(line).unwrap(),
                serde_json::to_string(&outcome).unwrap()
            );
        }
    }

    #[test]
    fn an_outcome_with_every_part_is_written_as_serde_writes_it() {
        let fired = |points: f64, count: Option<u64>, decay: Option<f64>| {
            serde_json::json!({"rule": "Rule \"one\"\n", "points": points, "dimension": "fit",
                "location": "main.rules:3", "count": count, "decay": decay})
        };
        let full = serde_json::json!({
            "id": {"a": [1, "x"]},
            "score": 12.5,
            "probability": 0.123_456_789,
            "mql": true,
            "disqualified": "student\u{1}",
            "dimensions": {"fit": 40.0, "intent": -0.5, "z": 1e300},
            "route": "east",
            "tags": ["pricing", "a\\b"],
            "fired": [fired(20.0, None, None), fired(2.5, Some(3), Some(0.5)), fired(-0.0, Some(0), None)],
            "capped": [{"dimension": "fit", "total": 55.0, "cap": 40.0}],
            "enriched": [{"plugin": "crm", "fields": {"tier": "gold"}}],
            "pack": {"name": "b2b", "version": "0123abcd"},
        });
        let full: Outcome = serde_json::from_value(full).unwrap();
        let mut empty: Outcome = serde_json::from_value(serde_json::json!({"score": 0, "mql": false,
            "disqualified": null, "dimensions": {"inf": 0}, "route": null, "tags": [], "fired": [],
            "pack": {"name": "", "version": ""}}))
        .unwrap();
        empty.score = f64::NAN;
        empty.dimensions[0] = f64::INFINITY;
        for outcome in [full, empty, Outcome::default()] {
            let mut out = Vec::new();
            outcome.write_json(&mut out);
            let text = String::from_utf8(out).unwrap();
            assert_eq!(text, serde_json::to_string(&outcome).unwrap());
            if outcome.score.is_finite() {
                let back: Outcome = serde_json::from_str(&text).unwrap();
                assert_eq!(back, outcome);
            }
        }
    }
}
