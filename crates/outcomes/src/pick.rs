//! Reading the few fields outcome tools need besides what the pack reads — the outcome,
//! the time to judge a lead as of, the `--by` field, the id — from JSON text without
//! building the whole lead, or from a parsed lead.
//!
//! A name is looked up the way the pack's field paths are, by the core's one dotted-path
//! rule (`leadscore::read::lookup`, `nested_or_dotted`): `crm.stage` is the nested path
//! first, then a root key with the dots in it (a CSV column named `crm.stage`).

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// The fields to read, by name.
#[derive(Clone, Debug)]
pub struct Picker {
    names: Vec<String>,
    paths: Vec<Vec<String>>,
}

impl Picker {
    /// Reads these fields (plain, dotted or CSV column names).
    pub fn new<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Picker {
        let names: Vec<String> = names.into_iter().map(|n| n.as_ref().to_string()).collect();
        let paths = names
            .iter()
            .map(|n| n.split('.').map(str::to_string).collect())
            .collect();
        Picker { names, paths }
    }

    /// The fields' values in a parsed lead, in the order they were named.
    ///
    /// ```
    /// let picker = leadscore_outcomes::Picker::new(["crm.stage", "Lead Source"]);
    /// let lead = serde_json::json!({"crm": {"stage": "won"}, "Lead Source": "Event"});
    /// assert_eq!(picker.pick_value(&lead), [Some("won".into()), Some("Event".into())]);
    /// ```
    pub fn pick_value(&self, lead: &Value) -> Vec<Option<Value>> {
        self.paths
            .iter()
            .map(|path| leadscore::read::lookup(lead, path).filter(|v| !v.is_null()).cloned())
            .collect()
    }

    /// The fields' values in a lead given as JSON text; other fields are skipped unread.
    ///
    /// ```
    /// let picker = leadscore_outcomes::Picker::new(["crm.stage", "company.size"]);
    /// let values = picker.pick_json(r#"{"crm": {"stage": "won"}, "events": [], "company.size": 5}"#)?;
    /// assert_eq!(values, [Some("won".into()), Some(5.into())]);
    /// # Ok::<(), String>(())
    /// ```
    pub fn pick_json(&self, text: &str) -> Result<Vec<Option<Value>>, String> {
        let n = self.names.len();
        let mut out = vec![None; 2 * n];
        let wanted: Vec<usize> = (0..n).collect();
        let level = Level {
            picker: self,
            wanted: &wanted,
            depth: 0,
            out: &mut out,
        };
        let mut de = serde_json::Deserializer::from_str(text);
        level
            .deserialize(&mut de)
            .and_then(|()| de.end())
            .map_err(|e| format!("invalid JSON: {e}"))?;
        let (nested, dotted) = out.split_at_mut(n);
        Ok(nested
            .iter_mut()
            .zip(dotted.iter_mut())
            .map(|(a, b)| leadscore::read::nested_or_dotted(a.take(), || b.take()).filter(|v| !v.is_null()))
            .collect())
    }
}

/// One level of objects: the fields still wanted below it, by index.
struct Level<'a, 'o> {
    picker: &'a Picker,
    wanted: &'a [usize],
    depth: usize,
    /// Nested finds (`0..n`), then root keys with dots in them (`n..2n`).
    out: &'o mut Vec<Option<Value>>,
}

impl<'de> DeserializeSeed<'de> for Level<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Level<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a lead")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Level {
            picker,
            wanted,
            depth,
            out,
        } = self;
        let n = picker.names.len();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let here: Vec<usize> = wanted
                .iter()
                .copied()
                .filter(|&i| picker.paths[i].get(depth).is_some_and(|s| *s == *key))
                .collect();
            let dotted: Vec<usize> = if depth == 0 {
                wanted
                    .iter()
                    .copied()
                    .filter(|&i| picker.paths[i].len() > 1 && picker.names[i] == *key)
                    .collect()
            } else {
                Vec::new()
            };
            let ends_here = here.iter().any(|&i| picker.paths[i].len() == depth + 1);
            if ends_here || !dotted.is_empty() {
                let value: Value = map.next_value()?;
                for &i in &here {
                    let rest = &picker.paths[i][depth + 1..];
                    out[i] = rest.iter().try_fold(&value, |v, seg| v.get(seg)).cloned();
                }
                for &i in &dotted {
                    out[n + i] = Some(value.clone());
                }
            } else if !here.is_empty() {
                map.next_value_seed(Level {
                    picker,
                    wanted: &here,
                    depth: depth + 1,
                    out: &mut *out,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.depth == 0 {
            return Err(de::Error::custom("a lead must be a JSON object"));
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.scalar()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.scalar()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.scalar()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar()
    }
}

impl Level<'_, '_> {
    /// Not an object where a path goes on: the path is simply not there, unless this is
    /// the lead itself.
    fn scalar<E: de::Error>(&self) -> Result<(), E> {
        if self.depth == 0 {
            Err(E::custom("a lead must be a JSON object"))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_and_value_agree() {
        let picker = Picker::new(["a.b", "c", "a.b.c", "x.y", "missing", "z"]);
        let lead = json!({"a": {"b": 2}, "c": [1, {"d": 3}], "x.y": "root", "x": 4, "z": null, "events": [{"a": 1}]});
        let text = lead.to_string();
        let from_text = picker.pick_json(&text).unwrap();
        assert_eq!(from_text, picker.pick_value(&lead));
        assert_eq!(
            from_text,
            [
                Some(json!(2)),
                Some(json!([1, {"d": 3}])),
                None,
                Some(json!("root")),
                None,
                None
            ]
        );
    }

    #[test]
    fn nested_wins_over_a_root_key_with_dots() {
        let picker = Picker::new(["a.b"]);
        let text = r#"{"a.b": 1, "a": {"b": 2}}"#;
        assert_eq!(picker.pick_json(text).unwrap(), [Some(json!(2))]);
        assert_eq!(
            picker.pick_value(&serde_json::from_str(text).unwrap()),
            [Some(json!(2))]
        );
    }

    #[test]
    fn bad_text_is_an_error() {
        let picker = Picker::new(["a"]);
        assert!(picker.pick_json("[1]").is_err());
        assert!(picker.pick_json("{\"a\": ").is_err());
        assert!(picker.pick_json("{} x").is_err());
    }
}
