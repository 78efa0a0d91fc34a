//! Names, types and duplicates. The checker reads the whole syntax tree and reports
//! every mistake it finds, sorted by position; the compiler runs only on a clean pack.

mod error;
mod fields;
mod lets;
mod names;
mod warning;

use std::collections::HashMap;

use regex::Regex;

use crate::ast::*;
use crate::source::{Sources, Span};

pub use error::{did_you_mean, CheckError, CheckErrorKind};
pub use fields::unseen_fields;
pub use warning::{CheckWarning, CheckWarningKind};

/// Regexes compiled while checking are limited to this many bytes of compiled program.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// How many unknown names get a "did you mean": each is compared with every known name,
/// so a pack with thousands of unknown names would take seconds to check (and hold up a
/// hot reload); past this many, the errors come without the suggestion.
const MAX_SUGGESTIONS: usize = 100;

/// The largest points (and `max`) a rule may give, either sign: a score adds up many
/// rules' points, `each` times a count of events, and must stay a finite, exact number.
/// An `each` rule without `max` gives at most this much in all, too.
pub const MAX_POINTS: f64 = 1e12;

/// The smallest points a rule may give other than 0: results print 4 decimals.
pub const MIN_POINTS: f64 = 1e-4;

/// The longest window a target may look back over, in days (ten years).
pub const MAX_TARGET_WINDOW_DAYS: i64 = 3650;

/// What the compiler needs to know about functions that plugins define.
pub trait FunctionTable {
    /// The number of arguments of function `name`, if some plugin defines it.
    fn arity(&self, name: &str) -> Option<usize>;
    /// Every function name, for did-you-mean.
    fn names(&self) -> Vec<&str>;
    /// How function `name` is defined, `plugin "email": is_competitor(email)`, for help.
    fn signature(&self, _name: &str) -> Option<String> {
        None
    }
}

/// A dimension as declared by `cap`, `decay` or `dimension`.
#[derive(Clone, Debug, Default)]
pub struct DimInfo {
    pub name: String,
    pub cap: Option<f64>,
    pub half_life: Option<Millis>,
}

/// What checking learned, for the compiler.
#[derive(Debug, Default)]
pub struct Checked {
    /// Dimensions in order of first declaration.
    pub dims: Vec<DimInfo>,
    /// Indices into `Ast::statements` of the `let`s, dependencies first.
    pub let_order: Vec<usize>,
    /// Regexes by the span of their pattern.
    pub regexes: HashMap<Span, Regex>,
}

/// Where a condition is evaluated, which decides what names mean in it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// A rule or `let`: lead fields, `let`s, behaviours, function calls.
    Lead,
    /// `mql when` and `route when`: also `score` and dimension names.
    Outcome,
    /// `did TYPE where ...`: the event's properties.
    Event,
}

/// Checks a pack; `Ok` holds what the compiler needs, `Err` every error found, by position.
pub fn check(ast: &Ast, sources: &Sources, functions: &dyn FunctionTable) -> Result<Checked, Vec<CheckError>> {
    let mut c = Checker {
        functions,
        sources,
        errors: Vec::new(),
        checked: Checked::default(),
        lets: HashMap::new(),
        unparsed_lets: &ast.unparsed_lets,
        suggestions: MAX_SUGGESTIONS,
    };
    c.declarations(ast);
    c.let_names(ast);
    for statement in &ast.statements {
        c.statement(statement);
    }
    c.checked.let_order = lets::order(ast, &c.lets, &mut c.errors);
    c.rule_names(ast);
    c.targets(ast);
    c.declared_fields(ast);
    if c.errors.is_empty() {
        Ok(c.checked)
    } else {
        c.errors.sort_by_key(|e| e.span);
        Err(c.errors)
    }
}

struct Checker<'a> {
    functions: &'a dyn FunctionTable,
    sources: &'a Sources,
    errors: Vec<CheckError>,
    checked: Checked,
    /// `let` name → statement index.
    lets: HashMap<String, usize>,
    /// The `let`s that did not parse (their uses are not unknown names).
    unparsed_lets: &'a [String],
    /// How many more unknown names get a "did you mean" ([`MAX_SUGGESTIONS`]).
    suggestions: usize,
}

impl Checker<'_> {
    fn error(&mut self, kind: CheckErrorKind, span: Span) {
        self.errors.push(CheckError::new(kind, span));
    }

    /// `business DAYS HH:MM-HH:MM "ZONE"`: hours within one day, a known time zone.
    fn business(&mut self, b: &Business) {
        use crate::value::hours::{BusinessHours, HoursProblem};
        let (from, until) = b.hours.node;
        match BusinessHours::new(b.days.node, from, until, &b.zone.node) {
            Ok(_) => {}
            Err(HoursProblem::Hours) => {
                let text = self.sources.text(b.hours.span).to_string();
                self.error(CheckErrorKind::BadBusinessHours(text), b.hours.span);
            }
            Err(HoursProblem::Zone) => {
                self.error(CheckErrorKind::UnknownTimeZone(b.zone.node.clone()), b.zone.span);
            }
        }
    }

    /// Whether one more unknown name may be compared with the known ones.
    fn may_suggest(&mut self) -> bool {
        let may = self.suggestions > 0;
        self.suggestions = self.suggestions.saturating_sub(1);
        may
    }

    /// Dimensions, `let` names and the MQL condition: what other statements may refer to.
    fn declarations(&mut self, ast: &Ast) {
        let mut mql_seen = false;
        let mut requalify_seen = false;
        let mut calibrate_seen = false;
        for (i, statement) in ast.statements.iter().enumerate() {
            if let StatementKind::Threshold(n) = &statement.kind {
                self.finite(n.node, n.span);
            }
            match &statement.kind {
                StatementKind::Cap { dim, at } => {
                    self.finite(at.node, at.span);
                    let d = self.dim(&dim.node);
                    if d.cap.replace(at.node).is_some() {
                        self.error(CheckErrorKind::DuplicateCap(dim.node.clone()), dim.span);
                    }
                    if at.node < 0.0 {
                        self.error(CheckErrorKind::NegativeCap, at.span);
                    }
                }
                StatementKind::Decay { dim, half_life } => {
                    let d = self.dim(&dim.node);
                    if d.half_life.replace(half_life.node).is_some() {
                        self.error(CheckErrorKind::DuplicateDecay(dim.node.clone()), dim.span);
                    }
                    if half_life.node == 0 {
                        self.error(CheckErrorKind::ZeroHalfLife, half_life.span);
                    }
                }
                StatementKind::Dimension(dim) => {
                    self.dim(&dim.node);
                    self.name("dimension", &dim.node, dim.span, false);
                }
                StatementKind::Let { name, .. } => {
                    self.name("let", &name.node, name.span, false);
                    if let Some(first) = self.lets.insert(name.node.clone(), i) {
                        let at = self.sources.location(ast.statements[first].span);
                        let err = CheckError::new(CheckErrorKind::DuplicateLet(name.node.clone()), name.span)
                            .help(format!("the first is at {}:{}", at.file, at.line));
                        self.errors.push(err);
                    }
                }
                StatementKind::Threshold(_) | StatementKind::Mql(_) if mql_seen => {
                    self.error(CheckErrorKind::DuplicateMql, statement.span);
                }
                StatementKind::Threshold(_) | StatementKind::Mql(_) => mql_seen = true,
                StatementKind::Route { sla: Some(sla), .. } if sla.node == 0 => {
                    self.error(CheckErrorKind::ZeroSla, sla.span);
                }
                StatementKind::Route {
                    business: Some(business),
                    ..
                } => self.business(business),
                StatementKind::Requalify(after) => {
                    if requalify_seen {
                        self.error(CheckErrorKind::DuplicateRequalify, statement.span);
                    }
                    requalify_seen = true;
                    if after.node == 0 {
                        self.error(CheckErrorKind::ZeroRequalify, after.span);
                    }
                }
                StatementKind::Calibrate { at, percent, double } => {
                    if std::mem::replace(&mut calibrate_seen, true) {
                        self.error(CheckErrorKind::DuplicateCalibrate, statement.span);
                    }
                    self.finite(at.node, at.span);
                    if !(percent.node > 0.0 && percent.node < 100.0) {
                        self.error(CheckErrorKind::CalibrationPercent, percent.span);
                    }
                    if !(double.node > 0.0 && double.node.is_finite()) {
                        self.error(CheckErrorKind::CalibrationDouble, double.span);
                    }
                }
                _ => {}
            }
        }
    }

    /// Every target: a known measure, a percentage from 0 to 100, a window within bounds,
    /// a name of its own.
    fn targets(&mut self, ast: &Ast) {
        let mut seen: HashMap<String, Span> = HashMap::new();
        for statement in &ast.statements {
            let StatementKind::Target(target) = &statement.kind else {
                continue;
            };
            let measure = &target.measure;
            if Measure::parse(&measure.node).is_none() {
                let words = Measure::ALL.map(Measure::word);
                let err = CheckError::new(CheckErrorKind::UnknownMeasure(measure.node.clone()), measure.span);
                self.errors.push(err.suggest(&measure.node, words));
            }
            let percent = &target.percent;
            if !(0.0..=100.0).contains(&percent.node) {
                self.error(CheckErrorKind::TargetPercent, percent.span);
            }
            let window = &target.window;
            if window.node <= 0 || window.node > MAX_TARGET_WINDOW_DAYS * 86_400_000 {
                self.error(CheckErrorKind::TargetWindow, window.span);
            }
            let (name, span) = target_name(target, self.sources);
            if let Some(given) = &target.name {
                self.name("target name", &given.node, given.span, true);
                if given.node.trim().is_empty() {
                    let err = CheckError::new(CheckErrorKind::EmptyName("target"), span)
                        .help("name the target, or leave out `\"\":` to name it by its text");
                    self.errors.push(err);
                }
            }
            if let Some(first) = seen.insert(name.clone(), span) {
                let at = self.sources.location(first);
                let err = CheckError::new(CheckErrorKind::DuplicateTarget(name), span).help(format!(
                    "the first is at {}:{}; target names identify targets in the funnel and its alerts",
                    at.file, at.line
                ));
                self.errors.push(err);
            }
        }
    }

    /// With a `fields` declaration, every field a condition reads must be declared (or lie
    /// inside or around a declared one).
    fn declared_fields(&mut self, ast: &Ast) {
        let Some(declared) = fields::declared(ast) else {
            return;
        };
        for d in &declared {
            self.name("field", &d.node.join("."), d.span, false);
        }
        let names: Vec<String> = declared.iter().map(|d| d.node.join(".")).collect();
        for (path, span) in fields::lead_fields(ast, &self.checked.dims) {
            if declared.iter().any(|d| fields::covers(&d.node, path)) {
                continue;
            }
            let name = path.join(".");
            let err = CheckError::new(CheckErrorKind::UndeclaredField(name.clone()), span);
            let err = match self.may_suggest() {
                true => err.suggest(&name, names.iter().map(String::as_str)),
                false => err,
            };
            self.errors
                .push(err.or_help("add it to the pack's `fields` declaration if leads have it"));
        }
    }

    /// A `let` named like a dimension or `score` would be read in place of it by MQL
    /// conditions and routes (or the other way round): either way a surprise.
    fn let_names(&mut self, ast: &Ast) {
        for statement in &ast.statements {
            let StatementKind::Let { name, .. } = &statement.kind else {
                continue;
            };
            let what = if name.node.eq_ignore_ascii_case("score") {
                "the score"
            } else if self.checked.dims.iter().any(|d| d.name == name.node) {
                "a dimension"
            } else {
                continue;
            };
            let err = CheckError::new(CheckErrorKind::LetShadows(name.node.clone(), what), name.span)
                .help("rename the `let`");
            self.errors.push(err);
        }
    }

    /// Numbers past f64's range (a 400-digit literal) would score as infinity or NaN.
    /// (Points have a tighter bound, [`MAX_POINTS`].)
    fn finite(&mut self, n: f64, span: Span) {
        if !n.is_finite() {
            self.error(CheckErrorKind::NumberTooLarge, span);
        }
    }

    fn dim(&mut self, name: &str) -> &mut DimInfo {
        let dims = &mut self.checked.dims;
        let i = match dims.iter().position(|d| d.name == name) {
            Some(i) => i,
            None => {
                dims.push(DimInfo {
                    name: name.to_string(),
                    ..DimInfo::default()
                });
                dims.len() - 1
            }
        };
        &mut dims[i]
    }

    fn statement(&mut self, statement: &Statement) {
        match &statement.kind {
            StatementKind::Mql(cond) => self.cond(cond, Scope::Outcome),
            StatementKind::Let { cond, .. } => self.cond(cond, Scope::Lead),
            StatementKind::Route { when: Some(cond), .. } => self.cond(cond, Scope::Outcome),
            StatementKind::Rule(rule) => self.rule(rule),
            _ => {}
        }
    }

    fn rule(&mut self, rule: &Rule) {
        self.cond(&rule.cond, Scope::Lead);
        let disqualifies = rule.actions.iter().any(|a| matches!(a.node, Action::Disqualify(_)));
        let mut points_seen = false;
        let mut disqualify_seen = false;
        for action in &rule.actions {
            let (name, what) = match &action.node {
                Action::Disqualify(reason) => (reason, "disqualify"),
                Action::Tag(tag) => (tag, "tag"),
                Action::Points { .. } => (&String::new(), ""),
            };
            if !what.is_empty() && name.trim().is_empty() {
                let err = CheckError::new(CheckErrorKind::EmptyName(what), action.span).help(format!(
                    "results show the {what} by its name: write one, like `{what} \"student\"`"
                ));
                self.errors.push(err);
            }
            if what == "disqualify" && std::mem::replace(&mut disqualify_seen, true) {
                let err = CheckError::new(CheckErrorKind::SeveralDisqualify, action.span)
                    .help("a result has one disqualification reason: write one rule per reason");
                self.errors.push(err);
            }
            let Action::Points { dim, each, value } = &action.node else {
                continue;
            };
            if *value != 0.0 && value.abs() < MIN_POINTS {
                self.error(CheckErrorKind::PointsTooSmall, action.span);
            }
            let max = each.as_ref().and_then(|e| e.max).unwrap_or(0.0);
            if !(value + max).is_finite() {
                self.error(CheckErrorKind::NumberTooLarge, action.span);
            } else if value.abs().max(max.abs()) > MAX_POINTS {
                let err = CheckError::new(CheckErrorKind::PointsTooLarge, action.span)
                    .help("a score adds up points; numbers this large would overflow it or lose its precision");
                self.errors.push(err);
            }
            if std::mem::replace(&mut points_seen, true) {
                let err =
                    CheckError::new(CheckErrorKind::SeveralPoints, action.span).help("write one rule per dimension");
                self.errors.push(err);
            }
            if disqualifies {
                self.error(CheckErrorKind::PointsOnDisqualify, action.span);
            }
            if let Some(dim) = dim {
                self.known_dim(dim);
            }
            if let Some(each) = each {
                let n = behaviours_counted(&rule.cond);
                if n != 1 {
                    self.error(CheckErrorKind::EachWithoutBehaviour(n), action.span);
                }
                if each.max.is_some_and(|m| m <= 0.0) {
                    self.error(CheckErrorKind::NonPositiveMax, action.span);
                }
            }
        }
    }

    fn known_dim(&mut self, dim: &Name) {
        if !self.checked.dims.iter().any(|d| d.name == dim.node) {
            let err = CheckError::new(CheckErrorKind::UnknownDimension(dim.node.clone()), dim.span);
            let err = match self.may_suggest() {
                true => err.suggest(&dim.node, self.checked.dims.iter().map(|d| d.name.as_str())),
                false => err,
            };
            let err = err.or_help("declare it with `dimension NAME` or `cap NAME at N`");
            self.errors.push(err);
        }
    }

    fn cond(&mut self, cond: &Cond, scope: Scope) {
        match &cond.kind {
            CondKind::Or(parts) | CondKind::And(parts) => parts.iter().for_each(|p| self.cond(p, scope)),
            CondKind::Not(inner) => self.cond(inner, scope),
            CondKind::Test(test) => self.test(test, cond.span, scope),
            CondKind::Behaviour(b) if scope == Scope::Event => {
                let _ = b;
                self.error(CheckErrorKind::NotInWhere("a behaviour"), cond.span);
            }
            CondKind::Behaviour(b) => self.behaviour(b),
            CondKind::LetRef(name) => self.let_ref(name, cond.span, scope),
        }
    }

    fn let_ref(&mut self, name: &str, span: Span, scope: Scope) {
        if scope == Scope::Event {
            self.error(CheckErrorKind::NotInWhere("a `let` name"), span);
        } else if !self.lets.contains_key(name) && !self.unparsed_lets.iter().any(|n| n == name) {
            let err = CheckError::new(CheckErrorKind::UnknownLet(name.to_string()), span);
            let err = match self.may_suggest() {
                true => err.suggest(name, self.lets.keys().map(String::as_str)),
                false => err,
            };
            let err = err.or_help(format!(
                "to test a field, compare it: `{name} == true`, `{name} exists`"
            ));
            self.errors.push(err);
        }
    }

    fn behaviour(&mut self, b: &Behaviour) {
        if let Some(n) = &b.at_least {
            if n.node == 0 {
                self.error(CheckErrorKind::AtLeastZero, n.span);
            }
        }
        if let Some(w) = &b.within {
            if w.node == 0 {
                self.error(CheckErrorKind::ZeroWindow, w.span);
            }
        }
        if let Some(filter) = &b.filter {
            self.cond(filter, Scope::Event);
        }
    }

    fn test(&mut self, test: &Test, span: Span, scope: Scope) {
        self.operand(&test.operand);
        match &test.op {
            TestOp::Truthy => self.truthy(&test.operand, span),
            TestOp::Compare(_, rhs) => {
                self.operand(rhs);
                if self.is_number(&test.operand, scope) && is_string(rhs)
                    || is_string(&test.operand) && self.is_number(rhs, scope)
                {
                    self.error(CheckErrorKind::NumberVsString, span);
                }
            }
            TestOp::In(list) => self.in_list(list),
            TestOp::Match(pattern) => self.pattern(pattern),
            TestOp::Str(_, rhs) => self.operand(rhs),
            TestOp::Exists | TestOp::Missing => {}
        }
    }

    fn truthy(&mut self, operand: &Operand, span: Span) {
        match &operand.kind {
            OperandKind::Call { .. } => {}
            OperandKind::Field(path) => {
                let name = path.join(".");
                let err = CheckError::new(CheckErrorKind::FieldAsCondition(name.clone()), span)
                    .help(format!("compare it: `{name} == true`, or test `{name} exists`"));
                self.errors.push(err);
            }
            _ => self.error(CheckErrorKind::LiteralAsCondition, span),
        }
    }

    fn in_list(&mut self, list: &Operand) {
        let OperandKind::List(items) = &list.kind else {
            self.error(CheckErrorKind::InNeedsList, list.span);
            return;
        };
        for item in items {
            if let OperandKind::Num(n) = item.kind {
                self.finite(n, item.span);
            }
            if !matches!(
                item.kind,
                OperandKind::Str(_) | OperandKind::Num(_) | OperandKind::Bool(_)
            ) {
                self.error(CheckErrorKind::NonLiteralInList, item.span);
            }
        }
    }

    fn pattern(&mut self, pattern: &Spanned<MatchPattern>) {
        if let MatchPattern::Words(words) = &pattern.node {
            if words.trim().is_empty() {
                let err = CheckError::new(CheckErrorKind::EmptyMatch, pattern.span)
                    .help("to test that a field is empty or missing, write `FIELD is missing`");
                self.errors.push(err);
            }
        }
        if let MatchPattern::Regex(source) = &pattern.node {
            match compile_regex(source) {
                Ok(re) => {
                    self.checked.regexes.insert(pattern.span, re);
                }
                Err(message) => self.error(CheckErrorKind::InvalidRegex(message), pattern.span),
            }
        }
    }

    /// Reports a name the reader cannot see as it is (see `names.rs`).
    fn name(&mut self, what: &'static str, name: &str, span: Span, words: bool) {
        let shown = crate::value::escape::show_text(name).into_owned();
        let (kind, help) = match names::suspicion(name, words) {
            None => return,
            Some(names::Suspicion::Hidden(c)) => (
                CheckErrorKind::HiddenCharacter {
                    what,
                    name: shown,
                    code: format!("U+{:04X}", u32::from(c)),
                },
                "delete it and type the name again",
            ),
            Some(names::Suspicion::MixedScripts(first, second)) => (
                CheckErrorKind::MixedScripts {
                    what,
                    name: shown,
                    first,
                    second,
                },
                "type the name again in one script",
            ),
        };
        self.errors.push(CheckError::new(kind, span).help(help));
    }

    fn operand(&mut self, operand: &Operand) {
        match &operand.kind {
            OperandKind::Field(path) => self.name("field", &path.join("."), operand.span, false),
            OperandKind::Num(n) => self.finite(*n, operand.span),
            OperandKind::List(_) => self.error(CheckErrorKind::MisplacedList, operand.span),
            OperandKind::Call { name, args } => {
                args.iter().for_each(|a| self.operand(a));
                self.call(name, args.len());
            }
            _ => {}
        }
    }

    fn call(&mut self, name: &Name, given: usize) {
        match self.functions.arity(&name.node) {
            Some(expected) if expected != given => {
                let kind = CheckErrorKind::WrongArity {
                    name: name.node.clone(),
                    expected,
                    given,
                };
                let mut err = CheckError::new(kind, name.span);
                if let Some(signature) = self.functions.signature(&name.node) {
                    err = err.help(format!("it is defined as {signature}"));
                }
                self.errors.push(err);
            }
            Some(_) => {}
            None => {
                let err = CheckError::new(CheckErrorKind::UnknownFunction(name.node.clone()), name.span);
                let err = match self.may_suggest() {
                    true => err.suggest(&name.node, self.functions.names()),
                    false => err,
                };
                let err = err.or_help("functions come from the plugins a pack names with `plugin \"NAME\"`");
                self.errors.push(err);
            }
        }
    }

    /// Whether a value is known to be a number: a number literal, or `score` or a dimension
    /// in an MQL or route condition.
    fn is_number(&self, operand: &Operand, scope: Scope) -> bool {
        match &operand.kind {
            OperandKind::Num(_) => true,
            OperandKind::Field(path) if scope == Scope::Outcome && path.len() == 1 => {
                path[0] == "score" || self.checked.dims.iter().any(|d| d.name == path[0])
            }
            _ => false,
        }
    }

    /// Rule names (an unnamed rule is named by its condition) must be unique.
    fn rule_names(&mut self, ast: &Ast) {
        let mut seen: HashMap<String, Span> = HashMap::new();
        for statement in &ast.statements {
            let StatementKind::Rule(rule) = &statement.kind else {
                continue;
            };
            let (name, span) = rule_name(rule, self.sources);
            if rule.name.is_some() {
                self.name("rule name", &name, span, true);
            }
            if rule.name.is_some() && name.trim().is_empty() {
                let err = CheckError::new(CheckErrorKind::EmptyName("rule"), span)
                    .help("name the rule, or leave out `rule \"\":` to name it by its condition");
                self.errors.push(err);
            }
            if let Some(first) = seen.insert(name.clone(), span) {
                let at = self.sources.location(first);
                let err = CheckError::new(CheckErrorKind::DuplicateRule(name), span).help(format!(
                    "the first is at {}:{}; rule names identify rules in results",
                    at.file, at.line
                ));
                self.errors.push(err);
            }
        }
        let mut catch_all: Option<&str> = None;
        for statement in &ast.statements {
            let StatementKind::Route { queue, when, .. } = &statement.kind else {
                continue;
            };
            self.name("route", &queue.node, queue.span, true);
            if let Some(first) = catch_all {
                self.error(CheckErrorKind::UnreachableRoute(first.to_string()), statement.span);
            } else if when.is_none() {
                catch_all = Some(&queue.node);
            }
        }
    }
}

impl CheckError {
    pub(crate) fn or_help(self, help: impl Into<String>) -> CheckError {
        if self.help.is_some() {
            self
        } else {
            self.help(help)
        }
    }
}

fn is_string(operand: &Operand) -> bool {
    matches!(operand.kind, OperandKind::Str(_))
}

/// The name of a rule: its given name, or its condition's text with blanks collapsed and
/// one blank around each test's operator (`title~VP` is named `title ~ VP`).
pub fn rule_name(rule: &Rule, sources: &Sources) -> (String, Span) {
    match &rule.name {
        Some(name) => (name.node.clone(), name.span),
        None => {
            // Read with blanks around operators, so `title~VP` and `title ~ VP` (what `fmt`
            // makes of it) are one name.
            let mut gaps = Vec::new();
            crate::syntax::spacing::operator_gaps(&rule.cond, &mut gaps);
            let file = sources.file(rule.cond.span.file).map_or("", |f| f.text.as_str());
            let text = crate::syntax::spacing::with_spaced_operators(file, rule.cond.span.range(), &gaps);
            (text.split_whitespace().collect::<Vec<_>>().join(" "), rule.cond.span)
        }
    }
}

/// A target's name: the one given, or its statement as `fmt` writes it without the name
/// (`acceptance >= 70% over 30d`), and where it is written.
///
/// ```
/// let pack = leadscore::Pack::from_source("p", "target acceptance >= 70% over 30d\ntarget \"Won\": conversion>=20% over 90d")?;
/// let names: Vec<&str> = pack.program().targets().iter().map(|t| t.name.as_str()).collect();
/// assert_eq!(names, ["acceptance >= 70% over 30d", "Won"]);
/// # Ok::<(), leadscore::Error>(())
/// ```
pub fn target_name(target: &Target, sources: &Sources) -> (String, Span) {
    match &target.name {
        Some(name) => (name.node.clone(), name.span),
        None => (target_text(target, sources), target.measure.span),
    }
}

/// `acceptance >= 70% over 30d`: a target's statement without `target` and its name,
/// its percentage and window as written, one blank between the parts (what `fmt` writes).
pub fn target_text(target: &Target, sources: &Sources) -> String {
    format!(
        "{} {} {} over {}",
        target.measure.node,
        target.op.node,
        sources.text(target.percent.span),
        sources.text(target.window.span)
    )
}

/// The behaviours a rule's points can count: those not under `not`.
pub fn behaviours_counted(cond: &Cond) -> usize {
    match &cond.kind {
        CondKind::Or(parts) | CondKind::And(parts) => parts.iter().map(behaviours_counted).sum(),
        CondKind::Behaviour(_) => 1,
        CondKind::Not(_) | CondKind::Test(_) | CondKind::LetRef(_) => 0,
    }
}

/// Compiles a `~ /regex/` pattern: case-insensitive, size-limited.
pub fn compile_regex(source: &str) -> Result<Regex, String> {
    regex::RegexBuilder::new(source)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(limit) => {
                format!("the regex is too large (over {limit} bytes compiled); simplify it")
            }
            other => other
                .to_string()
                .lines()
                .last()
                .unwrap_or("syntax error")
                .trim_start_matches("error: ")
                .to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoFunctions;

    impl FunctionTable for NoFunctions {
        fn arity(&self, _: &str) -> Option<usize> {
            None
        }
        fn names(&self) -> Vec<&str> {
            Vec::new()
        }
    }

    /// The kinds of the check errors of `text`, with the text each one's span covers.
    fn errors(text: &str) -> Vec<(CheckErrorKind, String)> {
        let mut sources = Sources::default();
        let file = sources.add("t.rules", text);
        let mut ast = Ast::default();
        let mut parse_errors = Vec::new();
        crate::syntax::parse_file(file, text, &mut ast, &mut parse_errors);
        assert!(parse_errors.is_empty(), "{parse_errors:?}");
        match check(&ast, &sources, &NoFunctions) {
            Ok(_) => Vec::new(),
            Err(errors) => errors
                .into_iter()
                .map(|e| (e.kind, text[e.span.range()].to_string()))
                .collect(),
        }
    }

    #[test]
    fn targets_are_checked_with_typed_errors_at_their_parts() {
        assert_eq!(
            errors("target acceptance >= 70% over 30d\ntarget \"w\": conversion <= 0% over 3650d"),
            []
        );
        assert_eq!(
            errors("target acceptence >= 70% over 30d"),
            [(CheckErrorKind::UnknownMeasure("acceptence".into()), "acceptence".into())]
        );
        assert_eq!(
            errors("target sla >= 100.5% over 7d"),
            [(CheckErrorKind::TargetPercent, "100.5%".into())]
        );
        for window in ["0d", "3651d", "99999999999999999999w"] {
            assert_eq!(
                errors(&format!("target sla >= 90% over {window}")),
                [(CheckErrorKind::TargetWindow, window.to_string())]
            );
        }
        assert_eq!(
            errors("target \"a\": sla >= 90% over 7d\ntarget \"a\": acceptance >= 1% over 1d"),
            [(CheckErrorKind::DuplicateTarget("a".into()), "\"a\"".into())]
        );
        // Unnamed targets are named by their text, blanks aside.
        assert_eq!(
            errors("target sla>=90% over 7d\ntarget sla >= 90%  over  7d"),
            [(
                CheckErrorKind::DuplicateTarget("sla >= 90% over 7d".into()),
                "sla".into()
            )]
        );
        assert_eq!(
            errors("target \" \": sla >= 90% over 7d"),
            [(CheckErrorKind::EmptyName("target"), "\" \"".into())]
        );
    }

    #[test]
    fn an_unknown_measure_suggests_the_nearest() {
        let text = "target convertion >= 20% over 90d";
        let mut sources = Sources::default();
        let file = sources.add("t.rules", text);
        let mut ast = Ast::default();
        crate::syntax::parse_file(file, text, &mut ast, &mut Vec::new());
        let errors = check(&ast, &sources, &NoFunctions).unwrap_err();
        assert_eq!(errors[0].help.as_deref(), Some("did you mean `conversion`?"));
    }
}
