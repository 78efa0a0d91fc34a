//! The syntax tree of a pack: plain data, a span on every node.

use crate::source::Span;
pub use crate::value::{CmpOp, Millis, StrOp};

/// `business Mon-Fri 09:00-17:00 "America/New_York"`, as written: checked by the checker.
#[derive(Clone, Debug, PartialEq)]
pub struct Business {
    /// The first and last working day, 0 = Monday (the range may wrap: `Sun-Thu`).
    pub days: Spanned<(u8, u8)>,
    /// The working hours, as (hours, minutes) from and until.
    pub hours: Spanned<((u32, u32), (u32, u32))>,
    /// The IANA time zone.
    pub zone: Spanned<String>,
}

/// A value with the span of the text it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    /// The value.
    pub node: T,
    /// Where it was written.
    pub span: Span,
}

/// A name as written: a dimension, a `let`, a function, a limit.
pub type Name = Spanned<String>;

/// Every statement of every file of a pack, in load order.
#[derive(Clone, Debug, Default)]
pub struct Ast {
    /// The statements.
    pub statements: Vec<Statement>,
    /// The names of `let` statements that did not parse: a syntax error already says what
    /// is wrong with each, so their uses are not reported as unknown names too.
    pub unparsed_lets: Vec<String>,
}

/// One statement and its span.
#[derive(Clone, Debug)]
pub struct Statement {
    /// What it says.
    pub kind: StatementKind,
    /// The whole statement.
    pub span: Span,
}

/// The kinds of statement.
#[derive(Clone, Debug)]
pub enum StatementKind {
    /// `threshold 75`.
    Threshold(Spanned<f64>),
    /// `mql when CONDITION`.
    Mql(Cond),
    /// `cap fit at 40`.
    Cap { dim: Name, at: Spanned<f64> },
    /// `decay intent half-life 14d`.
    Decay { dim: Name, half_life: Spanned<Millis> },
    /// `dimension engagement`.
    Dimension(Name),
    /// `let senior = CONDITION`.
    Let { name: Name, cond: Cond },
    /// `route "queue" [when CONDITION] [sla DURATION [business DAYS HOURS "ZONE"]]`.
    Route {
        queue: Spanned<String>,
        when: Option<Cond>,
        sla: Option<Spanned<Millis>>,
        /// The working time the SLA counts (none: wall-clock time).
        business: Option<Business>,
    },
    /// `requalify after 30d`.
    Requalify(Spanned<Millis>),
    /// `calibrate at 0 = 12%, 20 points double the odds`.
    Calibrate {
        /// The score the percentage is given at.
        at: Spanned<f64>,
        /// The chance of converting at that score, in percent.
        percent: Spanned<f64>,
        /// Points that double the odds.
        double: Spanned<f64>,
    },
    /// `target ["NAME":] acceptance >= 70% over 30d`.
    Target(Target),
    /// `plugin "seniority"`.
    Plugin(Spanned<String>),
    /// `limit operations 100000`.
    Limit { name: Name, value: Spanned<u64> },
    /// A scoring rule.
    Rule(Rule),
    /// `fields title, company.size`: the lead fields the pack reads, each a dotted path.
    Fields(Vec<Spanned<Vec<String>>>),
}

/// `target ["NAME":] MEASURE OP P% over DURATION`, as written: the measure is a name
/// the checker knows (`acceptance`, `conversion`, `sla`), the operator `>=` or `<=`.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// The name given with `"NAME":`.
    pub name: Option<Spanned<String>>,
    /// What is measured, as written.
    pub measure: Name,
    /// `>=` ([`CmpOp::Ge`]) or `<=` ([`CmpOp::Le`]).
    pub op: Spanned<CmpOp>,
    /// The percentage compared with.
    pub percent: Spanned<f64>,
    /// The trailing window the measure is taken over.
    pub window: Spanned<Millis>,
}

/// What a target measures: one of the funnel's rates over the hand-offs of its window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Measure {
    /// `acceptance`: accepted ÷ hand-offs sales acted on (the funnel's `acceptance_rate`).
    Acceptance,
    /// `conversion`: won ÷ hand-offs (the funnel's `conversion_rate`).
    Conversion,
    /// `sla`: acted on in time ÷ hand-offs with an SLA acted on or past due (the
    /// funnel's `sla_met_rate`).
    Sla,
}

impl Measure {
    /// Every measure, in the order the manual lists them.
    pub const ALL: [Measure; 3] = [Measure::Acceptance, Measure::Conversion, Measure::Sla];

    /// The word a target writes: `acceptance`, `conversion`, `sla`.
    pub fn word(self) -> &'static str {
        match self {
            Measure::Acceptance => "acceptance",
            Measure::Conversion => "conversion",
            Measure::Sla => "sla",
        }
    }

    /// The measure a word names.
    ///
    /// ```
    /// use leadscore::ast::Measure;
    /// assert_eq!(Measure::parse("sla"), Some(Measure::Sla));
    /// assert_eq!(Measure::parse("acceptence"), None);
    /// ```
    pub fn parse(word: &str) -> Option<Measure> {
        Measure::ALL.into_iter().find(|m| m.word() == word)
    }

    /// The funnel's figure it is: `acceptance_rate`, `conversion_rate`, `sla_met_rate`.
    pub fn figure(self) -> &'static str {
        match self {
            Measure::Acceptance => "acceptance_rate",
            Measure::Conversion => "conversion_rate",
            Measure::Sla => "sla_met_rate",
        }
    }
}

/// `[rule "name":] CONDITION => ACTIONS`.
#[derive(Clone, Debug)]
pub struct Rule {
    /// The name given with `rule "name":`.
    pub name: Option<Spanned<String>>,
    /// When the rule fires.
    pub cond: Cond,
    /// What it does when it fires.
    pub actions: Vec<Spanned<Action>>,
}

/// One action of a rule.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// `+15 fit each max 30`.
    Points {
        value: f64,
        dim: Option<Name>,
        each: Option<Each>,
    },
    /// `disqualify "student"`.
    Disqualify(String),
    /// `tag "pricing"`.
    Tag(String),
}

/// `each [max N]` on points.
#[derive(Clone, Debug, PartialEq)]
pub struct Each {
    /// The most points the rule gives in total.
    pub max: Option<f64>,
}

/// A condition and its span.
#[derive(Clone, Debug)]
pub struct Cond {
    /// What it tests.
    pub kind: CondKind,
    /// Where it was written.
    pub span: Span,
}

/// The kinds of condition.
#[derive(Clone, Debug)]
pub enum CondKind {
    /// `a or b or c`.
    Or(Vec<Cond>),
    /// `a and b`.
    And(Vec<Cond>),
    /// `not a`.
    Not(Box<Cond>),
    /// A test on a value.
    Test(Test),
    /// A behaviour over events.
    Behaviour(Behaviour),
    /// A `let` name.
    LetRef(String),
}

/// A test on a value: `title ~ VP`, `company.size >= 50`, `is_competitor(email)`.
#[derive(Clone, Debug)]
pub struct Test {
    /// The value tested.
    pub operand: Operand,
    /// The test.
    pub op: TestOp,
}

/// The tests a value can be put to.
#[derive(Clone, Debug)]
pub enum TestOp {
    /// A bare value used as a condition (a function call returning true/false).
    Truthy,
    /// `== != < <= > >=`.
    Compare(CmpOp, Operand),
    /// `in [..]`.
    In(Operand),
    /// `~ word`, `~ "phrase"`, `~ /regex/`.
    Match(Spanned<MatchPattern>),
    /// `contains`, `starts_with`, `ends_with`.
    Str(StrOp, Operand),
    /// `exists`.
    Exists,
    /// `is missing`.
    Missing,
}

/// What `~` matches.
#[derive(Clone, Debug, PartialEq)]
pub enum MatchPattern {
    /// A bare word or quoted phrase, on word boundaries.
    Words(String),
    /// A `/regex/`.
    Regex(String),
}

/// A value in a condition.
#[derive(Clone, Debug)]
pub struct Operand {
    /// What value.
    pub kind: OperandKind,
    /// Where it was written.
    pub span: Span,
}

/// The kinds of value.
#[derive(Clone, Debug)]
pub enum OperandKind {
    /// A field path, one entry per dotted segment.
    Field(Vec<String>),
    /// A string literal.
    Str(String),
    /// A number literal.
    Num(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `[a, b]`.
    List(Vec<Operand>),
    /// `name(args)`.
    Call { name: Name, args: Vec<Operand> },
}

/// A behaviour: a count of matching events, optionally within a window.
#[derive(Clone, Debug)]
pub struct Behaviour {
    /// The keyword, which fixes the event type and property.
    pub verb: Verb,
    /// The event type (`page_view`, or what `did` names).
    pub event_type: Spanned<String>,
    /// The glob the verb's property must match.
    pub pattern: Option<Spanned<String>>,
    /// `did TYPE where ...`: a condition on the event's properties.
    pub filter: Option<Box<Cond>>,
    /// `at least N times`.
    pub at_least: Option<Spanned<u64>>,
    /// `within DURATION`.
    pub within: Option<Spanned<Millis>>,
}

/// The behaviour keywords.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    /// `visited PATH`.
    Visited,
    /// `submitted FORM`.
    Submitted,
    /// `downloaded ASSET`.
    Downloaded,
    /// `opened email [CAMPAIGN]`.
    Opened,
    /// `clicked email [CAMPAIGN]`.
    Clicked,
    /// `attended webinar [NAME]`.
    Attended,
    /// `did TYPE [where ...]`.
    Did,
}

impl Verb {
    /// The event type and the property its pattern matches.
    pub fn event(self) -> Option<(&'static str, &'static str)> {
        match self {
            Verb::Visited => Some(("page_view", "path")),
            Verb::Submitted => Some(("form_submit", "form")),
            Verb::Downloaded => Some(("download", "asset")),
            Verb::Opened => Some(("email_open", "campaign")),
            Verb::Clicked => Some(("email_click", "campaign")),
            Verb::Attended => Some(("webinar", "name")),
            Verb::Did => None,
        }
    }
}
