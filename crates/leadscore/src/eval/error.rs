//! What can go wrong scoring one lead: the lead's shape, or a plugin call the rules or
//! hooks made. Defined here, below the plugin host, so the evaluator can report a failed
//! call without knowing how plugins run.

use std::fmt;
use std::sync::Arc;

/// Why one lead could not be scored.
///
/// ```
/// # let pack = leadscore::Pack::from_source("p", "visited /pricing => +5")?;
/// # let as_of = leadscore::parse_time("2026-01-01T00:00:00Z").unwrap();
/// let err = pack.score_json(r#"{"events": "yesterday"}"#, as_of).unwrap_err();
/// assert_eq!(err, leadscore::EvalError::Read(leadscore::read::ReadError::EventsNotArray));
/// # Ok::<(), leadscore::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The lead could not be read: its shape (not an object, not JSON, malformed `events`).
    #[error(transparent)]
    Read(#[from] crate::read::ReadError),
    /// A plugin function or hook failed.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// A function used as a condition returned something other than true or false; `rule`
    /// is the `file:line` of the rule whose condition called it (none outside a rule).
    #[error("`{function}` returned {value}, not true or false{}",
        rule.as_ref().map(|r| format!(", in the rule at {r}")).unwrap_or_default())]
    NotABool {
        function: String,
        value: String,
        rule: Option<Arc<str>>,
    },
}

/// A plugin call that failed for one lead: which plugin, which function, where in the
/// script, why. The lead gets this error; every other lead is scored as usual.
///
/// When a rule's condition made the failing call, the error names that rule.
///
/// ```
/// let mut error = leadscore::PluginError {
///     plugin: "seniority".into(),
///     function: "enrich".into(),
///     at: Some(leadscore::ScriptPosition { line: 4, column: 9 }),
///     rule: None,
///     message: "threw: no title".into(),
/// };
/// assert_eq!(error.to_string(), "plugin `seniority`, function `enrich` at 4:9: threw: no title");
/// error.rule = Some("demo.rules:3".into());
/// assert_eq!(
///     error.to_string(),
///     "plugin `seniority`, function `enrich` at 4:9, called by the rule at demo.rules:3: threw: no title"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("plugin `{plugin}`, function `{function}`{}{}: {message}",
    at.as_ref().map(|p| format!(" at {p}")).unwrap_or_default(),
    rule.as_ref().map(|r| format!(", called by the rule at {r}")).unwrap_or_default())]
pub struct PluginError {
    /// The plugin's name.
    pub plugin: String,
    /// The function that failed.
    pub function: String,
    /// Where in the script it stopped, when known.
    pub at: Option<ScriptPosition>,
    /// `file:line` of the rule whose condition made the call (none for hooks).
    pub rule: Option<Arc<str>>,
    /// What went wrong.
    pub message: String,
}

/// A place in a plugin script: line and column, from 1.
///
/// ```
/// assert_eq!(leadscore::ScriptPosition { line: 4, column: 9 }.to_string(), "4:9");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScriptPosition {
    /// The line.
    pub line: usize,
    /// The column.
    pub column: usize,
}

impl fmt::Display for ScriptPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

impl EvalError {
    /// This error, as met while testing the rule at `location`: a failed plugin call
    /// and a function's answer that is not true or false name the rule.
    pub(crate) fn in_rule(self, location: &Arc<str>) -> EvalError {
        match self {
            EvalError::Plugin(mut e) if e.rule.is_none() => {
                e.rule = Some(Arc::clone(location));
                EvalError::Plugin(e)
            }
            EvalError::NotABool {
                function,
                value,
                rule: None,
            } => EvalError::NotABool {
                function,
                value,
                rule: Some(Arc::clone(location)),
            },
            other => other,
        }
    }
}
