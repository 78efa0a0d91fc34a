//! A REPL session: a pack (or none), the statements the user typed, one lead, its events
//! and the time it is scored as of. `leadscore repl` is a thin terminal shell over this.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde_json::{Map, Value};

use crate::pack::Overridden;
use crate::source::{Sources, Span};
use crate::{Error, EvalError, Loader, Outcome, Pack, RuleSummary, Trace};

/// The name of the in-memory file that holds the statements typed in a session.
pub(crate) const SESSION_FILE: &str = "<session>";

/// The name of the in-memory file a typed condition is compiled from.
const CONDITION_FILE: &str = "<condition>";

/// The `let` a typed condition is compiled as, so it sees the pack's `let`s.
const CONDITION_LET: &str = "__condition";

/// Words that start a statement rather than a condition.
const STATEMENT_WORDS: [&str; 10] = [
    "threshold",
    "mql",
    "cap",
    "decay",
    "dimension",
    "let",
    "route",
    "plugin",
    "limit",
    "rule",
];

/// An interactive session over a pack.
///
/// Statements the user types (rules, `let`s, `threshold`, `cap`, `route`, ...) join the
/// pack through an in-memory file named `<session>`; one that redeclares something
/// the pack says (the threshold, a cap, a `let`, a rule's name) replaces it for the
/// session (see [`Loader::load_with`]). A statement with an error is reported with the
/// same diagnostics as `leadscore check` and is not added.
///
/// ```
/// use leadscore::session::{Entered, Session};
/// let as_of = leadscore::parse_time("2026-03-01T00:00:00Z").unwrap();
/// let mut session = Session::new(leadscore::Loader::new(), None, as_of)?;
/// session.set_field("title", "\"VP Sales\"")?;
/// session.add_event("page_view", &[("path", "/pricing")], Some("-2h"))?;
///
/// // A condition: true or false, and why.
/// let Entered::Condition(trace) = session.enter("title ~ VP and visited /pricing")? else { unreachable!() };
/// assert!(trace.value);
///
/// // A rule joins the session's pack.
/// session.enter("title ~ VP and visited /pricing => +20")?;
/// assert_eq!(session.score()?.score, 20.0);
/// assert_eq!(session.rules_text(), "title ~ VP and visited /pricing => +20\n");
/// # Ok::<(), leadscore::session::SessionError>(())
/// ```
pub struct Session {
    loader: Loader,
    dir: Option<PathBuf>,
    statements: Vec<String>,
    pack: Pack,
    lead: Value,
    as_of: DateTime<Utc>,
}

/// What typing a line of rule language did.
#[derive(Debug)]
#[allow(clippy::large_enum_variant, reason = "one value per line typed, never stored")]
pub enum Entered {
    /// It was a condition: its value for the current lead and what it looked at.
    Condition(Trace),
    /// It was a statement and joined the session's pack.
    Statement {
        /// Whether it replaced a statement of the pack or of the session that declared the
        /// same thing (the threshold, a cap, a `let`, a route, a rule of the same name).
        replaced: bool,
        /// The lead's score before, when it could be scored.
        before: Option<f64>,
        /// The lead scored with the new pack.
        after: Result<Outcome, EvalError>,
    },
}

/// Why a session command did nothing.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The pack (with the session's statements) does not load or check, or a lead could
    /// not be scored. [`Error::Pack`] holds diagnostics to render.
    #[error(transparent)]
    Error(#[from] Error),
    /// The command's input is not usable (a bad time, a lead that is not an object, ...).
    #[error("{0}")]
    Input(String),
}

impl From<EvalError> for SessionError {
    fn from(e: EvalError) -> Self {
        SessionError::Error(Error::Eval(e))
    }
}

fn input(message: impl Into<String>) -> SessionError {
    SessionError::Input(message.into())
}

impl Session {
    /// Starts a session over the pack in `dir` (or an empty pack), with an empty lead.
    pub fn new(loader: Loader, dir: Option<PathBuf>, as_of: DateTime<Utc>) -> Result<Session, Error> {
        let (pack, _) = build(&loader, dir.as_deref(), &[], None)?;
        Ok(Session {
            loader,
            dir,
            statements: Vec::new(),
            pack,
            lead: Value::Object(Map::new()),
            as_of,
        })
    }

    /// The pack with the session's statements.
    pub fn pack(&self) -> &Pack {
        &self.pack
    }

    /// The pack folder, if the session has one.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The current lead.
    pub fn lead(&self) -> &Value {
        &self.lead
    }

    /// The time leads are scored as of.
    pub fn as_of(&self) -> DateTime<Utc> {
        self.as_of
    }

    /// Sets the time leads are scored as of: an RFC 3339 time, `now`, or a time relative
    /// to the current one (`-1d`, `+2h`).
    pub fn set_as_of(&mut self, text: &str) -> Result<DateTime<Utc>, SessionError> {
        let text = text.trim();
        self.as_of = if text == "now" {
            Utc::now().trunc_subsecs(0)
        } else {
            self.time(text)?
        };
        Ok(self.as_of)
    }

    /// Replaces the lead; it must be a JSON object.
    pub fn set_lead(&mut self, lead: Value) -> Result<(), SessionError> {
        if !lead.is_object() {
            return Err(input("a lead must be a JSON object"));
        }
        self.lead = lead;
        Ok(())
    }

    /// Replaces the lead with a JSON object given as text (a pasted lead).
    pub fn set_lead_json(&mut self, text: &str) -> Result<(), SessionError> {
        let lead = serde_json::from_str(text).map_err(|e| input(format!("invalid JSON: {e}")))?;
        self.set_lead(lead)
    }

    /// Replaces the lead with the JSON object in a file.
    pub fn load_lead(&mut self, path: &Path) -> Result<(), SessionError> {
        let text = crate::file::read_text(path, crate::file::DEFAULT_MAX_FILE_BYTES).map_err(Error::File)?;
        self.set_lead_json(&text)
            .map_err(|e| input(format!("{}: {e}", path.display())))
    }

    /// Sets one field of the lead. `path` is dotted (`company.size`), creating nested
    /// objects; `value` is JSON (`120`, `"VP Sales"`, `["a"]`) or else a bare string.
    pub fn set_field(&mut self, path: &str, value: &str) -> Result<(), SessionError> {
        let value = json_or_bare(value);
        let segments: Vec<&str> = path.trim().split('.').map(str::trim).collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Err(input(format!(
                "`{path}` is not a field path (like `title` or `company.size`)"
            )));
        }
        let mut node = &mut self.lead;
        for (i, segment) in segments.iter().enumerate() {
            let Value::Object(map) = node else {
                return Err(input(format!("`{}` is not an object", segments[..i].join("."))));
            };
            if i + 1 == segments.len() {
                map.insert((*segment).to_string(), value);
                return Ok(());
            }
            node = map
                .entry((*segment).to_string())
                .or_insert_with(|| Value::Object(Map::new()));
        }
        Ok(())
    }

    /// Removes one field of the lead; `false` when it was not there.
    pub fn unset_field(&mut self, path: &str) -> bool {
        let segments: Vec<&str> = path.trim().split('.').map(str::trim).collect();
        let Some((last, parents)) = segments.split_last() else {
            return false;
        };
        let mut node = &mut self.lead;
        for segment in parents {
            match node.get_mut(*segment) {
                Some(child) => node = child,
                None => return false,
            }
        }
        node.as_object_mut().is_some_and(|map| map.remove(*last).is_some())
    }

    /// Adds an event to the lead: its type, properties (values are JSON or bare strings)
    /// and time: RFC 3339, or relative to `as_of` (`-30m`, `-2h`, `-3d`, `-1w`); `as_of`
    /// itself when not given. Returns the event added.
    pub fn add_event(
        &mut self,
        event_type: &str,
        props: &[(&str, &str)],
        at: Option<&str>,
    ) -> Result<&Value, SessionError> {
        let at = match at {
            Some(text) => self.time(text)?,
            None => self.as_of,
        };
        let mut event = Map::new();
        event.insert("type".into(), Value::from(event_type));
        for (key, value) in props {
            event.insert((*key).to_string(), json_or_bare(value));
        }
        event.insert(
            "at".into(),
            Value::from(at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        );
        let Value::Object(lead) = &mut self.lead else {
            return Err(input("the lead is not an object"));
        };
        let events = lead.entry("events").or_insert_with(|| Value::Array(Vec::new()));
        let Value::Array(events) = events else {
            return Err(input("the lead's `events` is not an array; `:clear-events` resets it"));
        };
        events.push(Value::Object(event));
        Ok(&events[events.len() - 1])
    }

    /// The lead's events.
    pub fn events(&self) -> &[Value] {
        self.lead
            .get("events")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    /// Removes every event; returns how many there were.
    pub fn clear_events(&mut self) -> usize {
        let n = self.events().len();
        if let Value::Object(lead) = &mut self.lead {
            lead.remove("events");
        }
        n
    }

    /// A time: RFC 3339, or `±N` + `s`/`m`/`h`/`d`/`w` relative to `as_of`.
    fn time(&self, text: &str) -> Result<DateTime<Utc>, SessionError> {
        let text = text.trim();
        if let Some(t) = crate::parse_time(text) {
            return Ok(t);
        }
        relative(text)
            .and_then(|d| self.as_of.checked_add_signed(d))
            .ok_or_else(|| input(format!("`{text}` is not a time: write RFC 3339 (2026-03-01T09:00:00Z) or relative to as-of (-30m, -2h, -3d, -1w)")))
    }

    /// Types a line of the rule language: a condition is evaluated and traced; a statement
    /// joins the session's pack (or, with an error, is rejected and nothing changes).
    pub fn enter(&mut self, text: &str) -> Result<Entered, SessionError> {
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            return Err(input("nothing to evaluate"));
        }
        if is_statement(text) {
            self.add_statement(text)
        } else {
            self.condition(text).map(Entered::Condition)
        }
    }

    fn add_statement(&mut self, text: &str) -> Result<Entered, SessionError> {
        let before = self.score().ok().map(|o| o.score);
        let mut statements = self.statements.clone();
        statements.push(text.to_string());
        let (pack, overridden) = build(&self.loader, self.dir.as_deref(), &statements, None)?;
        let typed = Typed::locate(&pack, &statements);
        let replaced = overridden.iter().any(|o| typed.is_last(o.by));
        let kept: Vec<String> = statements
            .iter()
            .enumerate()
            .filter(|(i, _)| !overridden.iter().any(|o| typed.is(*i, o.statement)))
            .map(|(_, s)| s.clone())
            .collect();
        self.pack = if kept.len() < statements.len() {
            // The session's file still holds the statements the new one replaced: build it
            // without them, so its lines are those of the statements kept.
            statements = kept;
            build(&self.loader, self.dir.as_deref(), &statements, None)?.0
        } else {
            pack
        };
        self.statements = statements;
        Ok(Entered::Statement {
            replaced,
            before,
            after: self.score(),
        })
    }

    /// Evaluates a condition for the current lead in the session's context.
    fn condition(&self, text: &str) -> Result<Trace, SessionError> {
        let (pack, _) = build(&self.loader, self.dir.as_deref(), &self.statements, Some(text))?;
        pack.trace_let(CONDITION_LET, &self.lead, self.as_of)?
            .ok_or_else(|| input("the condition could not be compiled"))
    }

    /// Scores the current lead.
    pub fn score(&self) -> Result<Outcome, EvalError> {
        self.pack.score(&self.lead, self.as_of)
    }

    /// The readable explanation of the current lead's score.
    pub fn explain(&self) -> Result<String, EvalError> {
        let outcome = self.score()?;
        Ok(self.pack.explain(&outcome).to_string())
    }

    /// The rules of the pack and of the session, in order, with their locations.
    pub fn rules(&self) -> Vec<RuleSummary> {
        self.pack.program().rules()
    }

    /// The statements typed in this session, in order.
    pub fn statements(&self) -> &[String] {
        &self.statements
    }

    /// The session's statements as a rules file.
    pub fn rules_text(&self) -> String {
        self.statements.iter().map(|s| format!("{s}\n")).collect()
    }

    /// Writes the session's statements to a rules file. Put it in the pack's folder to
    /// make them part of the pack (statements that replaced the pack's must then replace
    /// them there too: in a pack folder a second `threshold` is an error).
    pub fn save(&self, path: &Path) -> Result<(), SessionError> {
        let mut text = String::from("# Saved from a leadscore repl session.\n");
        text += &self.rules_text();
        crate::file::write_text(path, &text)
            .map_err(|e| input(format!("cannot write {}: {}", path.display(), e.kind)))?;
        Ok(())
    }

    /// Reloads the pack's files from disk, keeping the session's statements. On an error
    /// the session keeps the pack it had.
    pub fn reload(&mut self) -> Result<(), SessionError> {
        self.pack = build(&self.loader, self.dir.as_deref(), &self.statements, None)?.0;
        Ok(())
    }

    /// Names worth completing: the lead's field paths, the pack's `let`s and dimensions.
    pub fn names(&self) -> Vec<String> {
        let mut names = Vec::new();
        field_paths(&self.lead, "", &mut names);
        let program = self.pack.program();
        names.extend(program.let_names().map(str::to_string));
        names.extend(program.dimension_names().map(str::to_string));
        names.sort();
        names.dedup();
        names
    }
}

/// Builds the pack: the folder's files, the session's statements, and a condition; with
/// the statements the session's left out (see [`Loader::load_with`]).
fn build(
    loader: &Loader,
    dir: Option<&Path>,
    statements: &[String],
    condition: Option<&str>,
) -> Result<(Pack, Vec<Overridden>), Error> {
    let add = |sources: &mut Sources| {
        sources.add(
            SESSION_FILE,
            statements.iter().map(|s| format!("{s}\n")).collect::<String>(),
        );
        if let Some(condition) = condition {
            // The condition on a line of its own, after a line of ours that its
            // diagnostics neither show nor count: they point at just what was typed.
            let text = format!("let {CONDITION_LET} =\n{condition}");
            sources.add_after_hidden_lines(CONDITION_FILE, text, 1);
        }
    };
    loader.load_overriding(dir, add)
}

/// Where the session's statements are in a pack's `<session>` file: one a line, in order.
struct Typed {
    /// The index of the session's file in the pack's sources.
    file: Option<u32>,
    /// Each statement's byte range in it.
    ranges: Vec<std::ops::Range<u32>>,
}

impl Typed {
    fn locate(pack: &Pack, statements: &[String]) -> Typed {
        let files = pack.sources().files();
        let file = files.iter().rposition(|f| f.name == SESSION_FILE).map(|i| i as u32);
        let mut offset = 0;
        let mut ranges = Vec::with_capacity(statements.len());
        for s in statements {
            let end = offset + s.len() as u32;
            ranges.push(offset..end);
            offset = end + 1;
        }
        Typed { file, ranges }
    }

    /// Whether a span is in the `i`th statement.
    fn is(&self, i: usize, span: Span) -> bool {
        self.file == Some(span.file) && self.ranges.get(i).is_some_and(|r| r.contains(&span.start))
    }

    /// Whether a span is in the statement typed last.
    fn is_last(&self, span: Span) -> bool {
        self.ranges.len().checked_sub(1).is_some_and(|last| self.is(last, span))
    }
}

/// Whether typed text is a statement (it starts with a statement keyword or has `=>`).
fn is_statement(text: &str) -> bool {
    let first = text
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .next()
        .unwrap_or("");
    // `target` is not reserved (a condition may test a field of that name): typed text is
    // a target statement when it has the `over` every target has.
    let target = first == "target" && text.split_whitespace().any(|w| w == "over");
    STATEMENT_WORDS.contains(&first) || text.contains("=>") || target
}

/// `120` → 120, `"VP"` → "VP", `VP Sales` → "VP Sales".
fn json_or_bare(text: &str) -> Value {
    let text = text.trim();
    serde_json::from_str(text).unwrap_or_else(|_| Value::from(text))
}

/// `-2h`, `+3d`, `-30m`, `-1w`, `-10s`.
fn relative(text: &str) -> Option<Duration> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'-' => (-1, &text[1..]),
        b'+' => (1, &text[1..]),
        _ => return None,
    };
    let d = Duration::try_milliseconds(crate::value::time::parse_duration(rest)?)?;
    Some(d * sign)
}

/// Every dotted path to a value in a lead, except inside `events`.
fn field_paths(value: &Value, prefix: &str, out: &mut Vec<String>) {
    let Value::Object(map) = value else { return };
    for (key, child) in map {
        if prefix.is_empty() && key == "events" {
            continue;
        }
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        out.push(path.clone());
        field_paths(child, &path, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times() {
        assert_eq!(relative("-2h"), Duration::try_hours(-2));
        assert_eq!(relative("+1w"), Duration::try_weeks(1));
        assert_eq!(relative("2h"), None);
        assert_eq!(relative("-2x"), None);
    }

    fn replaced(session: &mut Session, text: &str) -> bool {
        match session.enter(text) {
            Ok(Entered::Statement { replaced, .. }) => replaced,
            other => panic!("`{text}` was not added: {other:?}"),
        }
    }

    #[test]
    fn a_statement_replaces_the_one_it_overrides_and_is_kept_in_its_place() {
        let as_of = crate::parse_time("2026-03-01T00:00:00Z").unwrap();
        let mut session = Session::new(Loader::new(), None, as_of).unwrap();
        assert!(!replaced(&mut session, "threshold 10"));
        assert!(!replaced(&mut session, "rule \"vp\": title ~ VP => +5"));
        assert!(replaced(&mut session, "threshold 20"));
        assert!(replaced(&mut session, "rule \"vp\": title ~ VP => +7"));
        assert_eq!(session.statements(), ["threshold 20", "rule \"vp\": title ~ VP => +7"]);
        // The session's file holds only the statements kept, so their lines are theirs.
        let rules = session.rules();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].location, "<session>:2");
        session.set_field("title", "VP").unwrap();
        assert_eq!(session.score().unwrap().score, 7.0);
    }

    #[test]
    fn statements_and_conditions() {
        assert!(is_statement("threshold 50"));
        assert!(is_statement("rule \"x\": title ~ VP => +5"));
        assert!(is_statement("title ~ VP => +5"));
        assert!(!is_statement("title ~ VP and visited /pricing"));
        assert!(!is_statement("letter == \"a\""));
    }
}
