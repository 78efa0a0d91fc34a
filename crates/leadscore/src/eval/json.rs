//! An [`Outcome`] written as one line of JSON, field by field into a byte buffer: the
//! bytes its `Serialize` gives (`serde_json::to_writer`), without going through serde's
//! serializer for every field and string. The batch command writes a result per lead, and
//! serializing was a tenth of scoring one.
//!
//! The pack's own names (rule names and locations, dimensions, tags, reasons, queues, the
//! pack's id) are escaped once, when the pack's table of names is built (`outcome.rs`'s
//! `Written`), and
//! a result line copies them as bytes.

use super::json_bytes::{json, list, number, string};
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

#[cfg(test)]
mod tests {
    use super::*;

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
