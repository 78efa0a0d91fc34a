//! Expectation cases: the `tests/*.toml` format, read with spans so every mistake is
//! reported with its file and line, and checked against an [`Outcome`].

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use toml::Spanned;

use super::TestFileError;
use crate::eval::Outcome;
use crate::program::Program;
use crate::value::show_number as num;

/// Scores within this distance of the expected value pass (results have 4 decimals).
const SCORE_TOLERANCE: f64 = 0.0001 + 1e-9;

/// One test file as written: defaults, sample-lead settings and cases.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    /// The default `as_of` of this file's cases.
    as_of: Option<Spanned<toml::Value>>,
    /// Settings for the pack's sample leads (`leads/*.json`).
    leads: Option<Spanned<LeadsToml>>,
    #[serde(default, rename = "case")]
    cases: Vec<Spanned<CaseToml>>,
}

/// `[leads]`: how the sample leads are scored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LeadsToml {
    as_of: Spanned<toml::Value>,
}

/// One `[[case]]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseToml {
    name: String,
    lead: Spanned<toml::Value>,
    as_of: Option<Spanned<toml::Value>>,
    score: Option<Spanned<f64>>,
    mql: Option<bool>,
    disqualified: Option<StringOrFalse>,
    route: Option<StringOrFalse>,
    tags: Option<Vec<String>>,
    #[serde(default)]
    dimensions: BTreeMap<String, Spanned<f64>>,
    #[serde(default)]
    fired: Vec<String>,
    #[serde(default)]
    not_fired: Vec<String>,
}

/// A string, or `false` for "none": `disqualified = "student"`, `route = false`.
struct StringOrFalse(Option<String>);

impl<'de> Deserialize<'de> for StringOrFalse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = StringOrFalse;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, or false for none")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<StringOrFalse, E> {
                Ok(StringOrFalse(Some(v.to_string())))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<StringOrFalse, E> {
                if v {
                    Err(E::custom(
                        "`true` is not a value here: write the expected text, or false for none",
                    ))
                } else {
                    Ok(StringOrFalse(None))
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// An expectation case: a lead, the time it is scored as of, and what must hold.
#[derive(Clone, Debug)]
pub struct Case {
    /// The case's name.
    pub name: String,
    /// The test file, relative to the pack folder (`tests/leads.toml`).
    pub file: String,
    /// The line of the case's `[[case]]` header.
    pub line: usize,
    /// The lead, read from its file or from the inline table.
    pub lead: serde_json::Value,
    /// The time the lead is scored as of.
    pub as_of: DateTime<Utc>,
    pub(crate) expect: Expect,
}

/// What a case expects; each part is checked only when it is given.
#[derive(Clone, Debug, Default)]
pub(crate) struct Expect {
    score: Option<f64>,
    mql: Option<bool>,
    disqualified: Option<Option<String>>,
    route: Option<Option<String>>,
    tags: Option<Vec<String>>,
    dimensions: BTreeMap<String, f64>,
    fired: Vec<String>,
    not_fired: Vec<String>,
}

/// One expectation a case's result did not meet.
///
/// Displays as `score: expected 75, got 65`.
#[derive(Clone, Debug, PartialEq)]
pub struct Mismatch {
    /// What was checked: `score`, `mql`, `dimensions.fit`, `fired`, ...
    pub what: String,
    /// What the case expected, or a sentence saying what went wrong.
    pub expected: String,
    /// What the result had (empty when `expected` says it all).
    pub actual: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.actual.is_empty() {
            write!(f, "{}: {}", self.what, self.expected)
        } else {
            write!(f, "{}: expected {}, got {}", self.what, self.expected, self.actual)
        }
    }
}

/// What one test file holds once read.
pub(crate) struct ParsedFile {
    pub cases: Vec<Case>,
    /// `[leads] as_of`, with its span for a "set twice" error.
    pub leads_as_of: Option<(DateTime<Utc>, Range<usize>)>,
}

/// Reads one test file. `shown` is the file's name in messages, `relative` its name
/// relative to the pack folder; `default_as_of` applies to cases that set none.
pub(crate) fn parse_file(
    path: &Path,
    shown: &str,
    relative: &str,
    default_as_of: DateTime<Utc>,
) -> Result<ParsedFile, TestFileError> {
    let text = crate::file::read_text(path, crate::file::DEFAULT_MAX_FILE_BYTES)
        .map_err(|e| TestFileError::plain(shown, format!("cannot read it: {}", e.kind)))?;
    let error = |span: Range<usize>, message: String| TestFileError::at(shown, &text, span, message);
    let file: FileToml = toml::from_str(&text).map_err(|e| TestFileError::from_toml(shown, &text, &e))?;
    let file_as_of = match &file.as_of {
        Some(v) => time_value(v).map_err(|m| error(v.span(), m))?,
        None => default_as_of,
    };
    let leads_as_of = match &file.leads {
        Some(leads) => {
            let v = &leads.get_ref().as_of;
            Some((time_value(v).map_err(|m| error(v.span(), m))?, leads.span()))
        }
        None => None,
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let mut cases = Vec::with_capacity(file.cases.len());
    for case in file.cases {
        let line = crate::source::line_col(&text, case.span().start).0;
        let case = case.into_inner();
        let lead = read_lead(&case.lead, base).map_err(|m| error(case.lead.span(), m))?;
        let as_of = match &case.as_of {
            Some(v) => time_value(v).map_err(|m| error(v.span(), m))?,
            None => file_as_of,
        };
        // `nan` equals nothing and `inf` no score: such an expectation could never fail.
        let finite = |what: &str, value: &Spanned<f64>| match value.get_ref().is_finite() {
            true => Ok(*value.get_ref()),
            false => Err(error(
                value.span(),
                format!(
                    "`{what} = {}` can never be met or fail; expect a finite number",
                    value.get_ref()
                ),
            )),
        };
        let score = case.score.as_ref().map(|v| finite("score", v)).transpose()?;
        let mut dimensions = BTreeMap::new();
        for (name, value) in &case.dimensions {
            dimensions.insert(name.clone(), finite(&format!("dimensions.{name}"), value)?);
        }
        let expect = Expect {
            score,
            mql: case.mql,
            disqualified: case.disqualified.map(|d| d.0),
            route: case.route.map(|r| r.0),
            tags: case.tags,
            dimensions,
            fired: case.fired,
            not_fired: case.not_fired,
        };
        cases.push(Case {
            name: case.name,
            file: relative.to_string(),
            line,
            lead,
            as_of,
            expect,
        });
    }
    Ok(ParsedFile { cases, leads_as_of })
}

/// A time written as a string (`"2026-03-01T00:00:00Z"`) or a TOML date-time.
fn time_value(value: &Spanned<toml::Value>) -> Result<DateTime<Utc>, String> {
    let text = match value.get_ref() {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        other => return Err(format!("`as_of` must be an RFC 3339 time, not a {}", other.type_str())),
    };
    crate::parse_time(&text).ok_or_else(|| format!("`{text}` is not an RFC 3339 time (like 2026-03-01T00:00:00Z)"))
}

/// The lead of a case: a path to a JSON file (relative to the test file) or an inline table.
fn read_lead(value: &Spanned<toml::Value>, base: &Path) -> Result<serde_json::Value, String> {
    match value.get_ref() {
        toml::Value::String(rel) => {
            let path = base.join(rel);
            let text = crate::file::read_text(&path, crate::file::DEFAULT_MAX_FILE_BYTES)
                .map_err(|e| format!("cannot read lead file `{rel}`: {}", e.kind))?;
            serde_json::from_str(&text).map_err(|e| format!("lead file `{rel}` is not valid JSON: {e}"))
        }
        toml::Value::Table(table) => Ok(toml_to_json(&toml::Value::Table(table.clone()))),
        other => Err(format!(
            "`lead` must be a path to a JSON file or a table, not a {}",
            other.type_str()
        )),
    }
}

/// TOML → JSON, with date-times as their RFC 3339 text (what event `at`s are).
fn toml_to_json(value: &toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(items) => J::Array(items.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => J::Object(t.iter().map(|(k, v)| (k.clone(), toml_to_json(v))).collect()),
    }
}

impl Expect {
    /// Every expectation the outcome does not meet, in the order of the format's reference.
    pub(crate) fn check(&self, outcome: &Outcome, program: &Program) -> Vec<Mismatch> {
        let mut out = Vec::new();
        if let Some(score) = self.score {
            if (score - outcome.score).abs() > SCORE_TOLERANCE {
                out.push(mismatch("score", num(score), num(outcome.score)));
            }
        }
        if let Some(mql) = self.mql {
            if mql != outcome.mql {
                out.push(mismatch("mql", mql.to_string(), outcome.mql.to_string()));
            }
        }
        if let Some(reason) = &self.disqualified {
            if !same_text(reason.as_deref(), outcome.disqualified()) {
                out.push(mismatch(
                    "disqualified",
                    show_opt(reason.as_deref()),
                    show_opt(outcome.disqualified()),
                ));
            }
        }
        if let Some(route) = &self.route {
            if !same_text(route.as_deref(), outcome.route()) {
                out.push(mismatch("route", show_opt(route.as_deref()), show_opt(outcome.route())));
            }
        }
        self.check_tags(outcome, &mut out);
        self.check_dimensions(outcome, &mut out);
        self.check_fired(outcome, program, &mut out);
        out
    }

    fn check_tags(&self, outcome: &Outcome, out: &mut Vec<Mismatch>) {
        let Some(tags) = &self.tags else { return };
        let mut expected = tags.clone();
        let mut actual: Vec<String> = outcome.tags().map(str::to_string).collect();
        expected.sort();
        actual.sort();
        if expected != actual {
            out.push(mismatch("tags", show_list(&expected), show_list(&actual)));
        }
    }

    fn check_dimensions(&self, outcome: &Outcome, out: &mut Vec<Mismatch>) {
        for (dim, expected) in &self.dimensions {
            let what = format!("dimensions.{dim}");
            match outcome.dimension(dim) {
                Some(actual) if (expected - actual).abs() > SCORE_TOLERANCE => {
                    out.push(mismatch(&what, num(*expected), num(actual)));
                }
                Some(_) => {}
                None => {
                    let names: Vec<&str> = outcome.dimensions().map(|(name, _)| name).collect();
                    out.push(unknown(&what, "dimension", dim, &names));
                }
            }
        }
    }

    fn check_fired(&self, outcome: &Outcome, program: &Program, out: &mut Vec<Mismatch>) {
        let rules = program.rules();
        let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
        for rule in &self.fired {
            if !names.contains(&rule.as_str()) {
                out.push(unknown("fired", "rule", rule, &names));
            } else if !outcome.fired().any(|f| f.rule() == rule) {
                out.push(mismatch("fired", format!("`{rule}` did not fire"), String::new()));
            }
        }
        for rule in &self.not_fired {
            if !names.contains(&rule.as_str()) {
                out.push(unknown("not_fired", "rule", rule, &names));
            } else if let Some(f) = outcome.fired().find(|f| f.rule() == rule) {
                let points = if f.points() >= 0.0 {
                    format!("+{}", num(f.points()))
                } else {
                    num(f.points())
                };
                out.push(mismatch(
                    "not_fired",
                    format!("`{rule}` fired ({points})"),
                    String::new(),
                ));
            }
        }
    }
}

fn mismatch(what: &str, expected: String, actual: String) -> Mismatch {
    Mismatch {
        what: what.to_string(),
        expected,
        actual,
    }
}

/// A name the pack does not have: a mistake in the test, never a silent pass.
fn unknown(what: &str, kind: &str, name: &str, names: &[&str]) -> Mismatch {
    let mut message = format!("the pack has no {kind} `{name}`");
    let best = names
        .iter()
        .map(|n| (strsim::jaro_winkler(&name.to_lowercase(), &n.to_lowercase()), *n))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((_, n)) = best {
        message.push_str(&format!(" (did you mean `{n}`?)"));
    }
    Mismatch {
        what: what.to_string(),
        expected: message,
        actual: String::new(),
    }
}

/// Reasons and queues compare like the language's strings: case-insensitively.
fn same_text(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.to_lowercase() == b.to_lowercase(),
        (None, None) => true,
        _ => false,
    }
}

fn show_opt(s: Option<&str>) -> String {
    s.map_or_else(|| "none".to_string(), |s| format!("{s:?}"))
}

fn show_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(", "))
}
