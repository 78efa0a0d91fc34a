//! Source text → syntax tree. pest's `Rule` enum and pairs stay private here.
//!
//! Files are parsed one statement at a time: after a syntax error the parser skips to the
//! next line that starts a statement, so one typo does not hide the errors of the others.

mod error;
pub(crate) mod nesting;
pub(crate) mod spacing;

use pest::iterators::Pair;
use pest::Parser as _;
use pest_derive::Parser;

use crate::ast::*;
use crate::source::Span;

pub use error::{did_you_mean, ParseError, ParseErrorKind};

#[derive(Parser)]
#[grammar = "../../../grammar/leadscore.pest"]
struct Grammar;

/// The deepest nesting of parentheses, lists and `not`s the parser accepts; deeper input
/// is rejected with an error instead of exhausting the stack (see `nesting.rs`).
pub const MAX_NESTING: usize = 64;

/// Syntax errors reported per file before the rest of it is skipped.
pub const MAX_ERRORS: usize = 100;

/// Parses one file of a pack, appending its statements to `ast`.
pub fn parse_file(file: u32, text: &str, ast: &mut Ast, errors: &mut Vec<ParseError>) {
    let mut guard = nesting::Guard::default();
    let mut pos = 0;
    let first_error = errors.len();
    while pos < text.len() {
        if errors.len() - first_error >= MAX_ERRORS {
            // Not a rules file, most likely (a CSV given by mistake): each error costs
            // pest a scan of the rest of the file, so stop rather than take hours.
            errors.push(error::too_many(file, pos));
            break;
        }
        let rest = &text[pos..];
        let Some(start) = first_token(rest) else { break };
        // pest sees the text only up to where nesting would get too deep for its stack.
        let mut end = guard.safe_end(text, pos);
        let mut parsed = parse_statement(&text[pos..end], start);
        if end < text.len() && parsed.as_ref().is_err_and(|e| failed_at_cut(e, &text[pos..end])) {
            // The statement reaches the cut: measure from its own start, and either parse
            // the rest of it or report it as too deep.
            end = guard.fresh_end(text, pos);
            parsed = parse_statement(&text[pos..end], start);
            if end < text.len() && parsed.as_ref().is_err_and(|e| failed_at_cut(e, &text[pos..end])) {
                errors.push(error::too_deep(file, end));
                pos = resync(text, pos, end);
                continue;
            }
        }
        match parsed {
            Ok(mut pairs) => {
                let Some(statement) = pairs.next().and_then(|p| p.into_inner().find(not_keyword)) else {
                    break;
                };
                let end = statement.as_span().end();
                ast.statements.push(Builder { file, base: pos }.statement(statement));
                pos += end.max(1);
            }
            Err(e) => {
                ast.unparsed_lets.extend(let_name(&rest[start..]));
                let err = error::from_pest(file, pos, rest, &e);
                pos = resync(text, pos, err.span.start as usize);
                errors.push(err);
            }
        }
    }
}

/// The offset of the first character that is not a blank or in a comment (the grammar's
/// `WHITESPACE` and `COMMENT`), or `None` at the end of the file.
fn first_token(rest: &str) -> Option<usize> {
    let mut s = rest;
    loop {
        s = s.trim_start_matches([' ', '\t', '\n', '\r']);
        match s.strip_prefix('#') {
            Some(comment) => s = comment.find(['\n', '\r']).map_or("", |i| &comment[i..]),
            None if s.is_empty() => return None,
            None => return Some(rest.len() - s.len()),
        }
    }
}

/// The name a statement that did not parse defines, when it is a `let NAME =`.
fn let_name(statement: &str) -> Option<String> {
    let after_let = statement.strip_prefix("let")?;
    let rest = after_let.trim_start();
    let name_end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(rest.len());
    let (name, after_name) = rest.split_at(name_end);
    let defines = after_let.len() > rest.len() && !name.is_empty() && after_name.trim_start().starts_with('=');
    defines.then(|| name.to_string())
}

/// Whether a word is reserved (the grammar's `reserved` rule): a bare field segment or
/// name cannot be it, so it goes in backticks.
pub fn is_reserved(word: &str) -> bool {
    [&BEHAVIOURS[..], &STATEMENT_KEYWORDS, &OTHER_RESERVED]
        .iter()
        .any(|words| words.contains(&word))
}

/// The words that start a behaviour test.
pub(crate) const BEHAVIOURS: [&str; 7] = [
    "visited",
    "submitted",
    "downloaded",
    "opened",
    "clicked",
    "attended",
    "did",
];

/// The reserved words that are neither behaviours nor start a statement.
const OTHER_RESERVED: [&str; 20] = [
    "and",
    "or",
    "not",
    "in",
    "is",
    "missing",
    "exists",
    "contains",
    "starts_with",
    "ends_with",
    "where",
    "at",
    "within",
    "each",
    "max",
    "when",
    "disqualify",
    "tag",
    "true",
    "false",
];

/// Words that start a statement and can continue none (they are reserved).
const STATEMENT_KEYWORDS: [&str; 12] = [
    "rule",
    "let",
    "threshold",
    "mql",
    "cap",
    "decay",
    "dimension",
    "route",
    "plugin",
    "limit",
    "requalify",
    "calibrate",
];

/// The text up to the next line that starts in column 0 with a statement keyword: the
/// statement at `start` cannot run past it. When the statement does not parse inside the
/// window, the caller parses against the whole rest, so errors are unchanged.
fn window(rest: &str, start: usize) -> &str {
    let mut offset = rest[start..].find('\n').map_or(rest.len(), |i| start + i + 1);
    for line in rest[offset..].split_inclusive('\n') {
        let starts_statement = STATEMENT_KEYWORDS.iter().any(|kw| {
            line.strip_prefix(kw)
                .is_some_and(|after| !after.starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '-'))
        });
        if starts_statement {
            return &rest[..offset];
        }
        offset += line.len();
    }
    rest
}

/// Parses the statement that starts at `start` in `text`. pest indexes the lines of all the
/// text it is given, so parsing each statement against the whole rest of the file would be
/// quadratic: the statement is tried in its window first, then against all of `text` (so
/// errors are the same as without the window).
fn parse_statement(text: &str, start: usize) -> Result<pest::iterators::Pairs<'_, Rule>, pest::error::Error<Rule>> {
    Grammar::parse(Rule::next_statement, window(text, start)).or_else(|_| Grammar::parse(Rule::next_statement, text))
}

/// Whether pest failed because the text it was given (`given`) was cut short: it stopped
/// in the blanks or the word (`f` of a call `f(`) just before the cut.
fn failed_at_cut(e: &pest::error::Error<Rule>, given: &str) -> bool {
    let at = match e.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((_, end)) => end,
    };
    let last_word = given.trim_end_matches(|c: char| c.is_alphanumeric() || "_-. \t\r\n".contains(c));
    at >= last_word.len()
}

/// Where parsing restarts after an error at `at` in the statement that starts at `from`:
/// the next line that starts in column 0 with something other than a comment or a
/// continuation (`and`, `or`, `=>`, `,`). That may be the line of the error itself, when
/// the error is its first character (`let a = title ~` before a line `let b = ...`).
fn resync(text: &str, from: usize, at: usize) -> usize {
    let mut offset = text[..at.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    for line in text[offset..].split_inclusive('\n') {
        let starts_statement = (offset > at || (offset == at && offset > from))
            && line.starts_with(|c: char| !c.is_whitespace() && c != '#' && c != ',')
            && !["and ", "or ", "=>"].iter().any(|p| line.starts_with(p));
        if starts_statement {
            return offset;
        }
        offset += line.len();
    }
    text.len()
}

/// Turns pest pairs into syntax nodes with absolute spans.
struct Builder {
    file: u32,
    base: usize,
}

impl Builder {
    /// The pair's span, without the blanks and comments pest may leave at its end.
    fn span(&self, pair: &Pair<Rule>) -> Span {
        Span::new(
            self.file,
            self.base + pair.as_span().start(),
            self.base + content_end(pair),
        )
    }

    fn duration(&self, pair: &Pair<Rule>) -> Spanned<Millis> {
        self.spanned(pair, duration(pair.as_str()))
    }

    fn spanned<T>(&self, pair: &Pair<Rule>, node: T) -> Spanned<T> {
        Spanned {
            node,
            span: self.span(pair),
        }
    }

    #[expect(
        clippy::unreachable,
        reason = "pest checked the text against the grammar: a pair missing a part the grammar requires is a bug in this file, which the grammar tests catch"
    )]
    fn statement(&self, pair: Pair<Rule>) -> Statement {
        let span = self.span(&pair);
        let kind_rule = pair.as_rule();
        let mut inner = pair.into_inner().filter(not_keyword);
        let mut next = || {
            inner
                .next()
                .unwrap_or_else(|| unreachable!("grammar: {kind_rule:?} is missing a part"))
        };
        let kind = match kind_rule {
            Rule::threshold => {
                let n = next();
                StatementKind::Threshold(self.spanned(&n, number(&n)))
            }
            Rule::mql => StatementKind::Mql(self.condition(next())),
            Rule::cap => {
                let dim = self.name(&next());
                let n = next();
                StatementKind::Cap {
                    dim,
                    at: self.spanned(&n, number(&n)),
                }
            }
            Rule::decay => {
                let dim = self.name(&next());
                let d = next();
                StatementKind::Decay {
                    dim,
                    half_life: self.spanned(&d, duration(d.as_str())),
                }
            }
            Rule::dimension => StatementKind::Dimension(self.name(&next())),
            Rule::let_stmt => {
                let name = self.name(&next());
                StatementKind::Let {
                    name,
                    cond: self.condition(next()),
                }
            }
            Rule::route => {
                let queue = self.string(next());
                let (mut when, mut sla, mut business) = (None, None, None);
                for part in inner {
                    match part.as_rule() {
                        Rule::sla => {
                            let mut parts = part.into_inner().filter(not_keyword);
                            sla = parts.next().map(|d| self.duration(&d));
                            business = parts.next().map(|b| self.business(b));
                        }
                        _ => when = Some(self.condition(part)),
                    }
                }
                StatementKind::Route {
                    queue,
                    when,
                    sla,
                    business,
                }
            }
            Rule::requalify => StatementKind::Requalify(self.duration(&next())),
            Rule::calibrate => {
                let (at, percent, double) = (next(), next(), next());
                let percent_value = percent.as_str().trim_end_matches('%').parse().unwrap_or(f64::NAN);
                StatementKind::Calibrate {
                    at: self.spanned(&at, number(&at)),
                    percent: self.spanned(&percent, percent_value),
                    double: self.spanned(&double, number(&double)),
                }
            }
            Rule::target => StatementKind::Target(self.target(inner)),
            Rule::plugin => StatementKind::Plugin(self.string(next())),
            Rule::limit => {
                let name = self.name(&next());
                let n = next();
                let value = n.as_str().parse().unwrap_or(u64::MAX);
                StatementKind::Limit {
                    name,
                    value: self.spanned(&n, value),
                }
            }
            Rule::rule => StatementKind::Rule(self.rule(inner)),
            Rule::fields => StatementKind::Fields(
                inner
                    .map(|field| {
                        let span = self.span(&field);
                        let Operand { kind, .. } = self.operand(field);
                        let path = match kind {
                            OperandKind::Field(path) => path,
                            _ => unreachable!("grammar: `fields` lists field paths"),
                        };
                        Spanned { node: path, span }
                    })
                    .collect(),
            ),
            other => unreachable!("grammar: {other:?} is not a statement"),
        };
        Statement { kind, span }
    }

    #[expect(
        clippy::unreachable,
        reason = "pest checked the text against the grammar: a pair missing a part the grammar requires is a bug in this file, which the grammar tests catch"
    )]
    fn rule<'i>(&self, inner: impl Iterator<Item = Pair<'i, Rule>>) -> crate::ast::Rule {
        let mut name = None;
        let mut cond = None;
        let mut actions = Vec::new();
        for pair in inner {
            match pair.as_rule() {
                Rule::rule_name => name = pair.into_inner().find(not_keyword).map(|s| self.string(s)),
                Rule::condition => {
                    // The rule's condition spans its text as written, parentheses and all:
                    // an unnamed rule is named by it.
                    let span = self.span(&pair);
                    cond = Some(Cond {
                        span,
                        ..self.condition(pair)
                    });
                }
                Rule::actions => actions = pair.into_inner().filter(not_keyword).map(|a| self.action(a)).collect(),
                _ => {}
            }
        }
        let cond = cond.unwrap_or_else(|| unreachable!("grammar: a rule has a condition"));
        crate::ast::Rule { name, cond, actions }
    }

    /// `target ["NAME":] MEASURE OP P% over DURATION`: the parts as written (the checker
    /// judges the measure, the percentage and the window).
    #[expect(
        clippy::unreachable,
        reason = "pest checked the text against the grammar: a pair missing a part the grammar requires is a bug in this file, which the grammar tests catch"
    )]
    fn target<'i>(&self, inner: impl Iterator<Item = Pair<'i, Rule>>) -> Target {
        let (mut name, mut measure, mut op, mut percent, mut window) = (None, None, None, None, None);
        for pair in inner {
            match pair.as_rule() {
                Rule::target_name => name = pair.into_inner().find(not_keyword).map(|s| self.string(s)),
                Rule::measure => measure = Some(self.name(&pair)),
                Rule::target_op => {
                    let at_least = pair.as_str() == ">=";
                    op = Some(self.spanned(&pair, if at_least { CmpOp::Ge } else { CmpOp::Le }));
                }
                Rule::percent => {
                    let value = pair.as_str().trim_end_matches('%').parse().unwrap_or(f64::NAN);
                    percent = Some(self.spanned(&pair, value));
                }
                Rule::duration => window = Some(self.duration(&pair)),
                _ => {}
            }
        }
        Target {
            name,
            measure: measure.unwrap_or_else(|| unreachable!("grammar: a target has a measure")),
            op: op.unwrap_or_else(|| unreachable!("grammar: a target has `>=` or `<=`")),
            percent: percent.unwrap_or_else(|| unreachable!("grammar: a target has a percentage")),
            window: window.unwrap_or_else(|| unreachable!("grammar: a target has a window")),
        }
    }

    #[expect(
        clippy::unreachable,
        reason = "pest checked the text against the grammar: a pair missing a part the grammar requires is a bug in this file, which the grammar tests catch"
    )]
    fn action(&self, pair: Pair<Rule>) -> Spanned<Action> {
        let span = self.span(&pair);
        let action = match pair.as_rule() {
            Rule::points => {
                let (mut sign, mut value, mut dim, mut each) = (1.0, 0.0, None, None);
                for part in pair.into_inner().filter(not_keyword) {
                    match part.as_rule() {
                        Rule::sign if part.as_str() == "-" => sign = -1.0,
                        Rule::unsigned => value = number(&part),
                        Rule::name => dim = Some(self.name(&part)),
                        Rule::each => {
                            let max = part.into_inner().find(not_keyword).map(|m| number(&m));
                            each = Some(Each { max });
                        }
                        _ => {}
                    }
                }
                Action::Points {
                    value: sign * value,
                    dim,
                    each,
                }
            }
            Rule::disqualify => Action::Disqualify(self.first_string(pair)),
            Rule::tag => Action::Tag(self.first_string(pair)),
            other => unreachable!("grammar: {other:?} is not an action"),
        };
        Spanned { node: action, span }
    }

    fn first_string(&self, pair: Pair<Rule>) -> String {
        pair.into_inner()
            .find(not_keyword)
            .map(|s| self.string(s).node)
            .unwrap_or_default()
    }

    #[expect(
        clippy::unreachable,
        reason = "pest checked the text against the grammar: a pair missing a part the grammar requires is a bug in this file, which the grammar tests catch"
    )]
    fn condition(&self, pair: Pair<Rule>) -> Cond {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            rule @ (Rule::condition | Rule::disjunct | Rule::conjunct) => {
                let mut parts: Vec<Cond> = pair
                    .into_inner()
                    .filter(not_keyword)
                    .filter(|p| !matches!(p.as_rule(), Rule::or_kw | Rule::and_kw))
                    .map(|p| self.condition(p))
                    .collect();
                match (parts.pop(), rule) {
                    (Some(only), _) if parts.is_empty() => return only,
                    (Some(last), Rule::condition) => CondKind::Or(push(parts, last)),
                    (Some(last), _) => CondKind::And(push(parts, last)),
                    (None, _) => unreachable!("grammar: {rule:?} has at least one part"),
                }
            }
            Rule::negation => {
                let inner = pair
                    .into_inner()
                    .find(not_keyword)
                    .unwrap_or_else(|| unreachable!("grammar: `not` has an operand"));
                CondKind::Not(Box::new(self.condition(inner)))
            }
            Rule::behaviour => CondKind::Behaviour(self.behaviour(pair)),
            Rule::test => self.test(pair),
            other => unreachable!("grammar: {other:?} is not a condition"),
        };
        Cond { kind, span }
    }

    /// A test; a bare one-word field is a `let` name.
    #[expect(
        clippy::unreachable,
        reason = "pest checked the text against the grammar: a pair missing a part the grammar requires is a bug in this file, which the grammar tests catch"
    )]
    fn test(&self, pair: Pair<Rule>) -> CondKind {
        let mut inner = pair.into_inner().filter(not_keyword);
        let operand = self.operand(
            inner
                .next()
                .unwrap_or_else(|| unreachable!("grammar: a test has an operand")),
        );
        let op = match inner.next() {
            None => TestOp::Truthy,
            Some(tail) => self.test_op(tail),
        };
        match (&operand.kind, &op) {
            (OperandKind::Field(path), TestOp::Truthy) if path.len() == 1 => CondKind::LetRef(path[0].clone()),
            _ => CondKind::Test(Test { operand, op }),
        }
    }

    #[expect(
        clippy::unreachable,
        reason = "pest checked the text against the grammar: a pair missing a part the grammar requires is a bug in this file, which the grammar tests catch"
    )]
    fn test_op(&self, tail: Pair<Rule>) -> TestOp {
        let tail_rule = tail.as_rule();
        let span = self.span(&tail);
        let mut inner = tail.into_inner().filter(not_keyword);
        let mut next = || {
            inner
                .next()
                .unwrap_or_else(|| unreachable!("grammar: {tail_rule:?} is missing a part"))
        };
        match tail_rule {
            Rule::compare => {
                let op = match next().as_str() {
                    "==" => CmpOp::Eq,
                    "!=" => CmpOp::Ne,
                    "<" => CmpOp::Lt,
                    "<=" => CmpOp::Le,
                    ">" => CmpOp::Gt,
                    _ => CmpOp::Ge,
                };
                TestOp::Compare(op, self.operand(next()))
            }
            Rule::in_list => TestOp::In(self.operand(next())),
            Rule::matches => {
                let p = next();
                let pattern = match p.as_rule() {
                    Rule::regex => MatchPattern::Regex(unescape_regex(inner_str(&p))),
                    Rule::string => MatchPattern::Words(unescape(inner_str(&p))),
                    _ => MatchPattern::Words(p.as_str().to_string()),
                };
                TestOp::Match(Spanned {
                    node: pattern,
                    span: Span {
                        start: span.start + 1,
                        ..span
                    },
                })
            }
            Rule::string_op => {
                let op = match next().as_str() {
                    "contains" => StrOp::Contains,
                    "starts_with" => StrOp::StartsWith,
                    _ => StrOp::EndsWith,
                };
                TestOp::Str(op, self.operand(next()))
            }
            Rule::exists => TestOp::Exists,
            Rule::missing => TestOp::Missing,
            other => unreachable!("grammar: {other:?} is not a test"),
        }
    }

    #[expect(
        clippy::unreachable,
        reason = "pest checked the text against the grammar: a pair missing a part the grammar requires is a bug in this file, which the grammar tests catch"
    )]
    fn operand(&self, pair: Pair<Rule>) -> Operand {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::number => OperandKind::Num(number(&pair)),
            Rule::string => OperandKind::Str(unescape(inner_str(&pair))),
            Rule::boolean => OperandKind::Bool(pair.as_str() == "true"),
            Rule::list => OperandKind::List(pair.into_inner().filter(not_keyword).map(|p| self.operand(p)).collect()),
            Rule::call => {
                let mut inner = pair.into_inner().filter(not_keyword);
                let name = inner
                    .next()
                    .map(|n| self.name(&n))
                    .unwrap_or_else(|| unreachable!("grammar: a call has a name"));
                OperandKind::Call {
                    name,
                    args: inner.map(|p| self.operand(p)).collect(),
                }
            }
            Rule::field => OperandKind::Field(
                pair.into_inner()
                    .filter(not_keyword)
                    .map(|seg| match seg.as_rule() {
                        Rule::quoted_ident => inner_str(&seg).to_string(),
                        _ => seg.as_str().to_string(),
                    })
                    .collect(),
            ),
            other => unreachable!("grammar: {other:?} is not a value"),
        };
        Operand { kind, span }
    }

    #[expect(
        clippy::unreachable,
        reason = "pest checked the text against the grammar: a pair missing a part the grammar requires is a bug in this file, which the grammar tests catch"
    )]
    fn behaviour(&self, pair: Pair<Rule>) -> Behaviour {
        let mut inner = pair.into_inner().filter(not_keyword);
        let kind = inner
            .next()
            .unwrap_or_else(|| unreachable!("grammar: a behaviour has a verb"));
        let verb_span = self.span(&kind);
        let verb = match kind.as_rule() {
            Rule::visited => Verb::Visited,
            Rule::submitted => Verb::Submitted,
            Rule::downloaded => Verb::Downloaded,
            Rule::opened => Verb::Opened,
            Rule::clicked => Verb::Clicked,
            Rule::attended => Verb::Attended,
            _ => Verb::Did,
        };
        let mut parts = kind.into_inner().filter(not_keyword);
        let mut pattern = parts.next().map(|p| self.pattern(p));
        let filter = parts.next().map(|c| Box::new(self.condition(c)));
        let event_type = match verb.event() {
            Some((ty, _)) => Spanned {
                node: ty.to_string(),
                span: verb_span,
            },
            None => pattern
                .take()
                .unwrap_or_else(|| unreachable!("grammar: `did` names an event type")),
        };
        let mut b = Behaviour {
            verb,
            event_type,
            pattern,
            filter,
            at_least: None,
            within: None,
        };
        for part in inner {
            let span = self.span(&part);
            let n = part.into_inner().find(not_keyword);
            match n {
                Some(n) if n.as_rule() == Rule::integer => {
                    b.at_least = Some(Spanned {
                        node: n.as_str().parse().unwrap_or(u64::MAX),
                        span,
                    });
                }
                Some(d) => {
                    b.within = Some(Spanned {
                        node: duration(d.as_str()),
                        span,
                    })
                }
                None => {}
            }
        }
        b
    }

    fn pattern(&self, pair: Pair<Rule>) -> Spanned<String> {
        match pair.as_rule() {
            Rule::string => self.string(pair),
            _ => self.spanned(&pair, pair.as_str().to_string()),
        }
    }

    /// `business Mon-Fri 09:00-17:00 "Zone"`: days and hours as written (the grammar
    /// fixed their shape; the checker judges the values).
    #[expect(
        clippy::unreachable,
        reason = "pest checked the text against the grammar: a pair missing a part the grammar requires is a bug in this file, which the grammar tests catch"
    )]
    fn business(&self, pair: Pair<Rule>) -> Business {
        let mut parts = pair.into_inner().filter(not_keyword);
        let mut next = || {
            parts
                .next()
                .unwrap_or_else(|| unreachable!("grammar: `business` is missing a part"))
        };
        let (days, hours, zone) = (next(), next(), next());
        let day = |d: &str| {
            WEEKDAYS
                .iter()
                .position(|w| *w == d)
                .and_then(|i| u8::try_from(i).ok())
                .unwrap_or(0)
        };
        let (first, last) = days.as_str().split_once('-').unwrap_or((days.as_str(), days.as_str()));
        let clock = |t: &str| {
            let (h, m) = t.split_once(':').unwrap_or(("", ""));
            (h.parse().unwrap_or(99), m.parse().unwrap_or(99))
        };
        let (from, until) = hours.as_str().split_once('-').unwrap_or(("", ""));
        Business {
            days: self.spanned(&days, (day(first), day(last))),
            hours: self.spanned(&hours, (clock(from), clock(until))),
            zone: self.string(zone),
        }
    }

    fn string(&self, pair: Pair<Rule>) -> Spanned<String> {
        self.spanned(&pair, unescape(inner_str(&pair)))
    }

    fn name(&self, pair: &Pair<Rule>) -> Name {
        self.spanned(pair, pair.as_str().to_string())
    }
}

/// Where a pair's content ends: after its last inner pair and any literal after that
/// (`)`, a closing quote), but before the blanks and comments pest may have consumed
/// looking for more (so `a  # note\n=> +1` names its rule `a`).
fn content_end(pair: &Pair<Rule>) -> usize {
    let outer = pair.as_span();
    let Some(last) = pair.clone().into_inner().last() else {
        return outer.start() + pair.as_str().trim_end().len();
    };
    let bytes = outer.get_input().as_bytes();
    let mut end = content_end(&last);
    let mut i = end;
    while i < outer.end() {
        match bytes[i] {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'#' => {
                i = bytes[i..outer.end()]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(outer.end(), |n| i + n)
            }
            _ => {
                i += 1;
                end = i;
            }
        }
    }
    end
}

/// Keyword tokens carry no information once parsed.
/// The days `business` names, Monday first.
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

fn not_keyword(pair: &Pair<Rule>) -> bool {
    error::keyword(pair.as_rule()).is_none()
}

fn push<T>(mut v: Vec<T>, last: T) -> Vec<T> {
    v.push(last);
    v
}

/// The text between the delimiters of a string, regex or quoted name.
fn inner_str<'i>(pair: &Pair<'i, Rule>) -> &'i str {
    pair.clone().into_inner().find(not_keyword).map_or("", |p| p.as_str())
}

/// Resolves `\"`, `\\`, `\n` and `\t` in a string literal.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// A regex literal's text with `\/` turned back into `/`.
fn unescape_regex(text: &str) -> String {
    text.replace("\\/", "/")
}

fn number(pair: &Pair<Rule>) -> f64 {
    pair.as_str().parse().unwrap_or(f64::NAN)
}

/// Milliseconds in a duration such as `2d` (the grammar admits only digits and a unit; one
/// beyond the range of times saturates, and the checker's window limits refuse it).
fn duration(text: &str) -> Millis {
    crate::value::time::parse_duration(text).unwrap_or(Millis::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parses(text: &str) -> bool {
        let mut errors = Vec::new();
        parse_file(0, text, &mut Ast::default(), &mut errors);
        errors.is_empty()
    }

    #[test]
    fn the_reserved_words_are_the_grammars() {
        let grammar = include_str!("../../../../grammar/leadscore.pest");
        let words = |name: &str| -> Vec<&str> {
            let rule = &grammar[grammar.find(&format!("\n{name} = ")).unwrap()..];
            let rule = &rule[..rule.find("\n}").unwrap()];
            rule.split('"').skip(1).step_by(2).collect()
        };
        assert_eq!(words("statement_keyword"), STATEMENT_KEYWORDS);
        let reserved = words("reserved");
        assert!(grammar.contains("reserved = @{\n    (statement_keyword | "));
        let mut in_grammar: Vec<&str> = [reserved, STATEMENT_KEYWORDS.to_vec()].concat();
        let mut listed: Vec<&str> = [&BEHAVIOURS[..], &STATEMENT_KEYWORDS, &OTHER_RESERVED].concat();
        in_grammar.sort_unstable();
        listed.sort_unstable();
        assert_eq!(listed, in_grammar);
        for word in listed {
            assert!(is_reserved(word));
            // What `fit --suggest` relies on: reserved, so written in backticks.
            assert!(!parses(&format!("lead.{word} == \"x\" => +1\n")), "{word} is reserved");
            assert!(
                parses(&format!("lead.`{word}` == \"x\" => +1\n")),
                "`{word}` is a field"
            );
        }
        assert!(!is_reserved("title") && !is_reserved("AND"));
    }
}
