//! Check errors: what is wrong with a pack that parses, in the rule author's words.

use crate::source::Span;
pub use crate::syntax::did_you_mean;

/// One mistake found by the checker. Its kind is public, so a program can tell mistakes
/// apart without reading messages:
///
/// ```
/// use leadscore::check::CheckErrorKind;
/// use leadscore::{Error, PackError};
///
/// let Err(Error::Pack(errors)) = leadscore::Pack::from_source("demo", "let a = vip\na => +5") else {
///     panic!("the pack must not check");
/// };
/// let unknown: Vec<&str> = errors
///     .errors()
///     .iter()
///     .filter_map(|e| match e {
///         PackError::Check(c) => match &c.kind {
///             CheckErrorKind::UnknownLet(name) => Some(name.as_str()),
///             _ => None,
///         },
///         _ => None,
///     })
///     .collect();
/// assert_eq!(unknown, ["vip"]);
/// ```
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{kind}")]
pub struct CheckError {
    /// What is wrong.
    pub kind: CheckErrorKind,
    /// Where.
    pub span: Span,
    /// A hint such as "did you mean `intent`?".
    pub help: Option<String>,
}

impl CheckError {
    pub(crate) fn new(kind: CheckErrorKind, span: Span) -> CheckError {
        CheckError { kind, span, help: None }
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> CheckError {
        self.help = Some(help.into());
        self
    }

    /// Adds "did you mean ...?" when a known name is close to `name`.
    pub(crate) fn suggest<'a>(mut self, name: &str, known: impl IntoIterator<Item = &'a str>) -> CheckError {
        if let Some(best) = did_you_mean(name, known) {
            self.help = Some(format!("did you mean `{best}`?"));
        }
        self
    }
}

/// The kinds of check error.
#[derive(Clone, Debug, PartialEq, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
#[non_exhaustive]
pub enum CheckErrorKind {
    #[error("unknown dimension `{0}`")]
    UnknownDimension(String),
    #[error("dimension `{0}` is capped twice")]
    DuplicateCap(String),
    #[error("dimension `{0}` has two decay statements")]
    DuplicateDecay(String),
    #[error("a cap must not be negative")]
    NegativeCap,
    #[error("this number is too large")]
    NumberTooLarge,
    #[error("points must be between -1000000000000 and 1000000000000")]
    PointsTooLarge,
    #[error("unknown name `{0}`: no `let` defines it")]
    UnknownLet(String),
    #[error("`let {0}` is defined twice")]
    DuplicateLet(String),
    #[error("`let {0}` refers to itself")]
    SelfReferentialLet(String),
    #[error("`let {name}` is defined in terms of itself: {cycle}")]
    CyclicLet { name: String, cycle: String },
    #[error("two rules are named \"{0}\"")]
    DuplicateRule(String),
    #[error("the MQL condition is set twice (by `threshold` or `mql when`)")]
    DuplicateMql,
    #[error("invalid regex: {0}")]
    InvalidRegex(String),
    #[error("a number is compared with a string")]
    NumberVsString,
    #[error("a list can only follow `in`")]
    MisplacedList,
    #[error("`in` takes a list of values")]
    InNeedsList,
    #[error("lists hold plain values (strings, numbers, true/false)")]
    NonLiteralInList,
    #[error("`{0}` is a field, not a condition")]
    FieldAsCondition(String),
    #[error("a value on its own is not a condition")]
    LiteralAsCondition,
    #[error("a `within` window of zero matches nothing")]
    ZeroWindow,
    #[error("a half-life of zero")]
    ZeroHalfLife,
    #[error("an SLA of zero is breached the moment a lead becomes an MQL")]
    ZeroSla,
    /// `business Mon-Fri 17:00-09:00`: hours that are not a time of day, or that end
    /// before they start.
    #[error(
        "working hours {0} are not a part of one day: write HH:MM-HH:MM from 00:00 to 24:00, the end after the start"
    )]
    BadBusinessHours(String),
    /// `business ... "Mars/Olympus"`: not an IANA time zone.
    #[error("unknown time zone {0:?}: write an IANA name such as \"America/New_York\", \"Europe/Paris\" or \"UTC\"")]
    UnknownTimeZone(String),
    #[error("a cool-down of zero: leave `requalify after` out to requalify on the next activity")]
    ZeroRequalify,
    #[error("the requalification cool-down is set twice (`requalify after`)")]
    DuplicateRequalify,
    #[error("the calibration is set twice (`calibrate`)")]
    DuplicateCalibrate,
    #[error("a chance of converting is above 0% and below 100%")]
    CalibrationPercent,
    #[error("the points that double the odds must be more than 0")]
    CalibrationDouble,
    /// `target acceptence >= 70% over 30d`: not a measure a target can name.
    #[error("unknown measure `{0}`: a target measures `acceptance`, `conversion` or `sla`")]
    UnknownMeasure(String),
    /// `target acceptance >= 170% over 30d`.
    #[error("a target's percentage is from 0% to 100%")]
    TargetPercent,
    /// `target acceptance >= 70% over 0d`, or a window past [`MAX_TARGET_WINDOW_DAYS`](super::MAX_TARGET_WINDOW_DAYS).
    #[error("a target's window is more than zero and at most {}d", super::MAX_TARGET_WINDOW_DAYS)]
    TargetWindow,
    /// Two targets with one name (an unnamed target is named by its text).
    #[error("two targets are named \"{0}\"")]
    DuplicateTarget(String),
    #[error("`at least 0 times` is always true")]
    AtLeastZero,
    #[error("a rule gives points once; this one has a second `+N`/`-N`")]
    SeveralPoints,
    #[error("a rule that disqualifies does not give points")]
    PointsOnDisqualify,
    #[error("`each` needs exactly one behaviour in the condition to count events of; this one has {0}")]
    EachWithoutBehaviour(usize),
    #[error("`max` must be positive")]
    NonPositiveMax,
    #[error("a `where` condition tests the event's properties; {0} cannot be used in it")]
    NotInWhere(&'static str),
    #[error("a `route` after `route \"{0}\"`, which takes every MQL, is never used")]
    UnreachableRoute(String),
    #[error("unknown function `{0}`: no plugin named by this pack defines it")]
    UnknownFunction(String),
    #[error("`{name}` takes {expected} argument{}, given {given}", if *expected == 1 { "" } else { "s" })]
    WrongArity {
        name: String,
        expected: usize,
        given: usize,
    },
    #[error("`~ \"\"` matches nothing: a word match needs a word")]
    EmptyMatch,
    #[error("a rule disqualifies once; this one has a second `disqualify`")]
    SeveralDisqualify,
    #[error("an empty {0} name")]
    EmptyName(&'static str),
    #[error("`let {0}` has the name of {1}, which MQL conditions and routes read")]
    LetShadows(String, &'static str),
    #[error("points smaller than 0.0001 print as 0 in results")]
    PointsTooSmall,
    #[error("the {what} `{name}` holds an invisible or control character ({code})")]
    HiddenCharacter {
        what: &'static str,
        /// The name, escaped for showing.
        name: String,
        /// The character, as `U+200D`.
        code: String,
    },
    #[error("the field `{0}` is not declared in the pack's `fields`")]
    UndeclaredField(String),
    #[error("the {what} `{name}` mixes {first} and {second} letters, which look alike")]
    MixedScripts {
        what: &'static str,
        name: String,
        first: &'static str,
        second: &'static str,
    },
}

impl CheckErrorKind {
    /// The kind's stable name in snake_case (`unknown_dimension`, `duplicate_rule`, ...).
    ///
    /// ```
    /// let kind = leadscore::check::CheckErrorKind::UnknownDimension("fti".into());
    /// assert_eq!(kind.code(), "unknown_dimension");
    /// ```
    pub fn code(&self) -> &'static str {
        self.into()
    }
}
