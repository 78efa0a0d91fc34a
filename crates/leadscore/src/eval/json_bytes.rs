//! JSON values appended to a byte buffer exactly as `serde_json::to_writer` writes them:
//! strings escaped, numbers as results show them, lists, and anything else by serde_json
//! itself. Shared by the result line (`json.rs`) and the names table's JSON, escaped once
//! (`outcome.rs`, `Written`).

/// A JSON array of `items`, each written by `write`.
pub(super) fn list<T>(out: &mut Vec<u8>, items: impl IntoIterator<Item = T>, write: impl Fn(T, &mut Vec<u8>)) {
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
pub(super) fn number(out: &mut Vec<u8>, n: f64) {
    match crate::value::whole(n) {
        Some(whole) => json(out, &whole),
        None => json(out, &n),
    }
}

/// Any other value, by serde_json (ids, enriched fields, counts: the less common parts).
pub(super) fn json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Serializing these into a `Vec` cannot fail: they have string keys, and writing to
    // memory has no error.
    let _ = serde_json::to_writer(&mut *out, value);
}

pub(super) fn optional(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => string(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

/// A JSON string as serde_json writes it: `"` and `\` escaped, control characters as
/// `\b`, `\t`, `\n`, `\f`, `\r` or `\u00xx`, everything else as it is. Most strings
/// (rule names, locations, ids) have nothing to escape: the bytes that need it are found
/// eight at a time, and the runs between them copied whole.
pub(super) fn string(out: &mut Vec<u8>, text: &str) {
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
}
