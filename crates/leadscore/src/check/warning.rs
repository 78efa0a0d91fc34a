//! Check warnings: what is probably a mistake in a pack that checks, but may be right.
//! A warning never stops a build; `leadscore check` shows them (and fails on them only
//! with `--deny-warnings`), the language server shows them as warnings.

use crate::source::Span;

/// One warning, with a kind a program can match on:
///
/// ```
/// use leadscore::check::{unseen_fields, CheckWarningKind};
///
/// let pack = leadscore::Pack::from_source("demo", "rule \"VP\": titel ~ VP => +15")?;
/// let lead = serde_json::json!({"title": "VP Sales"});
/// let warnings = pack.field_warnings(&[&lead]);
/// assert!(matches!(
///     &warnings.warnings()[0].kind,
///     CheckWarningKind::UnseenField { name, .. } if name == "titel"
/// ));
/// assert_eq!(warnings.warnings()[0].help.as_deref(), Some("did you mean `title`?"));
/// # let _ = unseen_fields;
/// # Ok::<(), leadscore::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{kind}")]
#[non_exhaustive]
pub struct CheckWarning {
    /// What is probably wrong.
    pub kind: CheckWarningKind,
    /// Where.
    pub span: Span,
    /// A hint such as "did you mean `title`?".
    pub help: Option<String>,
}

/// The kinds of check warning.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckWarningKind {
    /// A field the pack reads that none of its sample leads and test cases has.
    #[error("no sample lead or test case (of {leads}) has the field `{name}`")]
    UnseenField {
        /// The field's dotted path.
        name: String,
        /// How many leads were looked at.
        leads: usize,
        /// The leads' own field most like it, when one is close.
        suggestion: Option<String>,
    },
}
