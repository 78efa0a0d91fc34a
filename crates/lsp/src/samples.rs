//! A pack's sample leads (`leads/*.json`): the values its fields take, its event types and
//! their properties (for hover and completion), and how many are MQLs (for the code lens).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::adapter;
use leadscore::packtest::PackTests;
use leadscore::Loader;

/// The sample leads of one pack folder.
pub struct Samples {
    leads: Vec<Value>,
    tests: PackTests,
}

/// How often each value occurs.
pub type Counts = BTreeMap<String, usize>;

impl Samples {
    /// Reads `DIR/leads/*.json`; leads that do not read are left out.
    pub fn load(dir: &Path) -> Samples {
        let tests = PackTests::load(dir);
        let leads = tests.samples().iter().map(|s| s.lead.clone()).collect();
        Samples { leads, tests }
    }

    /// The sample leads and the test cases' leads.
    pub fn leads(&self) -> Vec<&Value> {
        self.tests.leads()
    }

    /// How many sample leads there are.
    pub fn len(&self) -> usize {
        self.leads.len()
    }

    /// The values a field takes, or with `event`, a property of events of that type.
    pub fn values(&self, path: &str, event: Option<&str>) -> Counts {
        let mut counts = Counts::new();
        let mut count = |v: &Value| *counts.entry(shown(v)).or_default() += 1;
        for lead in &self.leads {
            match event {
                None => {
                    if let Some(v) = adapter::lookup(lead, path).filter(|v| !v.is_null()) {
                        count(v);
                    }
                }
                Some(ty) => {
                    for e in events(lead).filter(|e| e.get("type").and_then(Value::as_str) == Some(ty)) {
                        if let Some(v) = adapter::lookup(e, path).filter(|v| !v.is_null()) {
                            count(v);
                        }
                    }
                }
            }
        }
        counts
    }

    /// How many leads have the field (not null).
    pub fn present(&self, path: &str) -> usize {
        self.leads
            .iter()
            .filter(|l| adapter::lookup(l, path).is_some_and(|v| !v.is_null()))
            .count()
    }

    /// The dotted paths of the fields (not `events`), each once, sorted.
    pub fn field_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for lead in &self.leads {
            if let Value::Object(o) = lead {
                for (k, v) in o.iter().filter(|(k, _)| k.as_str() != "events") {
                    paths(k, v, &mut names);
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }

    /// The event types seen, sorted.
    pub fn event_types(&self) -> Vec<String> {
        let mut types: Vec<String> = self
            .leads
            .iter()
            .flat_map(events)
            .filter_map(|e| e.get("type").and_then(Value::as_str).map(str::to_string))
            .collect();
        types.sort();
        types.dedup();
        types
    }

    /// The properties of events of one type (not `type` and `at`), sorted.
    pub fn event_properties(&self, ty: &str) -> Vec<String> {
        let mut names = Vec::new();
        for e in self.leads.iter().flat_map(events) {
            if e.get("type").and_then(Value::as_str) != Some(ty) {
                continue;
            }
            if let Value::Object(o) = e {
                for (k, v) in o.iter().filter(|(k, _)| !matches!(k.as_str(), "type" | "at")) {
                    paths(k, v, &mut names);
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }

    /// "2 of 6 sample leads are MQLs", scoring with the pack as saved in `dir`; `None`
    /// when `cancelled` says so before every lead is scored (it is asked between leads).
    pub fn mql_summary(&self, dir: &Path, loader: &Loader, cancelled: impl Fn() -> bool) -> Option<String> {
        let pack = match loader.load(dir) {
            Ok(pack) => pack,
            Err(leadscore::Error::Pack(errors)) => {
                let n = errors.errors().len();
                return Some(format!(
                    "sample leads not scored: the saved pack has {n} error{}",
                    plural(n)
                ));
            }
            Err(e) => return Some(format!("sample leads not scored: {e}")),
        };
        let samples = self.tests.samples();
        if samples.is_empty() {
            return Some(format!("{}: no sample leads in leads/*.json", pack.id().name));
        }
        let as_of = self.tests.samples_as_of();
        let (mut mql, mut failed) = (0, 0);
        for s in samples {
            if cancelled() {
                return None;
            }
            match pack.score(&s.lead, as_of) {
                Ok(outcome) => mql += usize::from(outcome.mql),
                Err(_) => failed += 1,
            }
        }
        let n = samples.len();
        let failed = match failed {
            0 => String::new(),
            f => format!(", {f} could not be scored"),
        };
        Some(format!(
            "{mql} of {n} sample lead{} {} MQL{}{failed} (as of {})",
            plural(n),
            if n == 1 { "is an" } else { "are" },
            if n == 1 { "" } else { "s" },
            as_of.format("%Y-%m-%d")
        ))
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn events(lead: &Value) -> impl Iterator<Item = &Value> {
    lead.get("events").and_then(Value::as_array).into_iter().flatten()
}

/// The dotted paths to the values under `key` (nested objects are walked).
fn paths(key: &str, value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(o) if !o.is_empty() => {
            for (k, v) in o {
                paths(&format!("{key}.{k}"), v, out);
            }
        }
        _ => out.push(key.to_string()),
    }
}

/// A value as it reads in a rule: strings quoted, the rest as JSON.
fn shown(v: &Value) -> String {
    v.to_string()
}
