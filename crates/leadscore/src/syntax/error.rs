//! Syntax errors in the rule author's words, not the grammar's.

use pest::error::{ErrorVariant, InputLocation};

use super::{Rule, MAX_NESTING};
use crate::source::Span;

/// A syntax error: what kind, where, and a hint.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{kind}")]
pub struct ParseError {
    /// What went wrong; it displays in plain words.
    pub kind: ParseErrorKind,
    /// Where.
    pub span: Span,
    /// A hint, when there is one.
    pub help: Option<String>,
}

/// The kinds of syntax error.
#[derive(Clone, Debug, PartialEq, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// Something stood where the grammar expected something else.
    #[error("expected {expected}, found {found}")]
    Unexpected {
        /// What could stand there, in the author's words ("a condition, `=>` or `and`").
        expected: String,
        /// What stood there ("`=`", "the end of the line").
        found: String,
    },
    /// A backslash before a character that strings do not escape.
    #[error("unknown escape `\\{0}` in a string")]
    UnknownEscape(char),
    /// A condition nests deeper than [`MAX_NESTING`].
    #[error("the condition nests more than {MAX_NESTING} deep (parentheses, lists and `not`s)")]
    TooDeep,
    /// A file had more than [`super::MAX_ERRORS`] syntax errors; the rest was not read.
    #[error("more than {} syntax errors: the rest of this file was not read", super::MAX_ERRORS)]
    TooMany,
}

/// How alike two names are, 0 to 1: Jaro–Winkler, or 0.9 for one letter added, dropped,
/// changed or two swapped in a name of three letters or more (`fti` for `fit`, which
/// Jaro–Winkler scores below a typo).
fn similarity(a: &str, b: &str) -> f64 {
    let one_edit = a.chars().count() >= 3 && strsim::osa_distance(a, b) == 1;
    strsim::jaro_winkler(a, b).max(if one_edit { 0.9 } else { 0.0 })
}

/// The closest of `known` to `name`, if it is close enough to be a typo.
pub fn did_you_mean<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = |s: &'a str| -> std::borrow::Cow<'a, str> {
        if s.chars().any(char::is_uppercase) {
            s.to_lowercase().into()
        } else {
            s.into()
        }
    };
    let name = name.to_lowercase();
    known
        .into_iter()
        .map(|k| (similarity(&name, &lower(k)), k))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// Converts a pest error in `rest` (which starts at `base` in the file).
pub(super) fn from_pest(file: u32, base: usize, rest: &str, e: &pest::error::Error<Rule>) -> ParseError {
    let at = match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let mut found = found_at(&rest[at.min(rest.len())..]);
    let (expected, numeric) = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => (expected(positives), positives.iter().any(|&r| numeric(r))),
        ErrorVariant::CustomError { message } => (message.clone(), false),
    };
    // A token refused for what is inside it is reported where it goes wrong.
    let at = match inside(found.text, numeric) {
        Some(offset) => {
            let at = at + offset;
            found = found_at(&rest[at.min(rest.len())..]);
            at
        }
        None => at,
    };
    // A statement keyword starting a later line ends the statement before it: that
    // statement stops short, at the end of its own line.
    let (at, found) = match at.checked_sub(1).and_then(|i| rest.as_bytes().get(i)) {
        Some(b'\n') if super::STATEMENT_KEYWORDS.contains(&found.text) => {
            let end = rest[..at].trim_end().len();
            (end, found_at(&rest[end..]))
        }
        _ => (at, found),
    };
    // The end of a file that ends in a line break is past its last line: the error is
    // shown at the end of the last line with text, where the statement stops short.
    let (at, len) = match found.text {
        "" if rest[..at.min(rest.len())].ends_with(['\n', '\r', ' ', '\t']) => (rest[..at].trim_end().len(), 0),
        _ => (at, found.len()),
    };
    let help = misspelt_behaviour(&rest[..at.min(rest.len())], found.text)
        .map(|word| format!("did you mean `{word}`?"))
        .or_else(|| help_for(&expected, found.text));
    let kind = match found.text.strip_prefix('\\') {
        Some(escaped) => ParseErrorKind::UnknownEscape(escaped.chars().next().unwrap_or(' ')),
        None => ParseErrorKind::Unexpected {
            expected,
            found: found.describe(),
        },
    };
    ParseError {
        kind,
        span: Span::new(file, base + at, base + at + len),
        help,
    }
}

/// The error for nesting deeper than [`MAX_NESTING`] at byte `at` of a file.
pub(super) fn too_deep(file: u32, at: usize) -> ParseError {
    ParseError {
        kind: ParseErrorKind::TooDeep,
        span: Span::new(file, at, at + 1),
        help: Some("split the condition into `let`s".into()),
    }
}

/// The error that ends a file with more than [`super::MAX_ERRORS`] syntax errors.
pub(super) fn too_many(file: u32, at: usize) -> ParseError {
    ParseError {
        kind: ParseErrorKind::TooMany,
        span: Span::new(file, at, at + 1),
        help: Some("is this a rules file?".into()),
    }
}

/// What stood where the error is.
struct Found<'a> {
    text: &'a str,
}

impl Found<'_> {
    /// The length of the span that marks it: one past the end of the file for its end, none
    /// for the end of a line (the caret stays on that line).
    fn len(&self) -> usize {
        match self.text {
            "" => 1,
            "\n" | "\r" | "\r\n" => 0,
            t => t.len(),
        }
    }

    fn describe(&self) -> String {
        match self.text {
            "" => "the end of the file".into(),
            "\n" | "\r" | "\r\n" => "the end of the line".into(),
            t => format!("`{t}`"),
        }
    }
}

/// Where inside a refused token the trouble starts: the letter run into a number where
/// a number was expected (`1e5` at `e5`), the unknown escape of a string (`"a\qb"` at
/// `\q`). Where a word was expected, a token of digits is wrong as a whole (`30d`).
fn inside(token: &str, numeric: bool) -> Option<usize> {
    if numeric && token.starts_with(|c: char| c.is_ascii_digit()) {
        return token.find(|c: char| !c.is_ascii_digit() && c != '.');
    }
    let quoted = token.strip_prefix('"')?;
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '\\' && !matches!(chars.next(), Some((_, '"' | '\\' | 'n' | 't'))) {
            return Some(i + 1);
        }
    }
    None
}

fn found_at(rest: &str) -> Found<'_> {
    if let Some(quoted) = rest.strip_prefix('"') {
        let end = quoted.find(['"', '\n']).map_or(rest.len(), |i| i + 2).min(rest.len());
        return Found { text: &rest[..end] };
    }
    let word_end = rest
        .char_indices()
        .find(|&(i, c)| !(c.is_alphanumeric() || c == '_' || c == '-') && (i > 0 || c.is_whitespace()))
        .map_or(rest.len(), |(i, c)| if i == 0 { c.len_utf8() } else { i });
    let end = if word_end == 0 {
        rest.chars().next().map_or(0, char::len_utf8)
    } else {
        word_end
    };
    let text = &rest[..end];
    Found {
        text: if text.starts_with('\r') { "\n" } else { text },
    }
}

/// "a condition, `=>` or `and`": the expected rules in the author's words.
/// A rule that matches digits: a token starting with them was refused for what follows.
fn numeric(r: Rule) -> bool {
    matches!(r, Rule::number | Rule::unsigned | Rule::duration)
}

fn expected(positives: &[Rule]) -> String {
    // After a whole statement, what would continue it says more than "a new statement".
    let continues = |r: &&Rule| !matches!(r, Rule::EOI | Rule::statement_start);
    let only_a_new_statement = !positives.iter().any(|r| continues(&r));
    let mut names: Vec<&str> = Vec::new();
    for &r in positives.iter().filter(|r| only_a_new_statement || continues(r)) {
        let name = describe(r);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    // A value may be many things; name them once rather than rule by rule.
    if names.contains(&"a field name") && names.len() > 2 {
        names.retain(|n| !VALUE_PARTS.contains(n));
        names.insert(0, "a value (a field, a \"string\", a number or true/false)");
    }
    // After `~`, "a word" already names strings and regexes.
    if names.contains(&describe(Rule::word)) {
        names.retain(|n| *n != describe(Rule::string) && *n != describe(Rule::regex));
    }
    match names.as_slice() {
        [] => "a statement".into(),
        [one] => (*one).into(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// What [`describe`] calls the kinds of value.
const VALUE_PARTS: [&str; 5] = [
    "a field name",
    "a list (`[\"a\", \"b\"]`)",
    "a quoted string",
    "`true` or `false`",
    "a number",
];

fn describe(r: Rule) -> &'static str {
    if let Some(word) = keyword(r) {
        return word;
    }
    match r {
        Rule::arrow => "`=>`",
        Rule::colon => "`:` after the rule's name",
        Rule::and_kw => "`and`",
        Rule::or_kw => "`or`",
        Rule::statement | Rule::next_statement | Rule::statement_start | Rule::end_of_file | Rule::EOI => "a statement",
        Rule::rule | Rule::rule_name => "a rule",
        Rule::fields => "`fields NAME, NAME, ...`",
        Rule::condition | Rule::disjunct | Rule::conjunct | Rule::negation | Rule::test => "a condition",
        Rule::behaviour => "a behaviour",
        Rule::actions | Rule::points | Rule::disqualify | Rule::tag => {
            "an action (`+10`, `disqualify \"...\"`, `tag \"...\"`)"
        }
        Rule::sign => "`+` or `-`",
        Rule::each => "`each`",
        Rule::compare | Rule::cmp_op => "a comparison",
        Rule::in_list => "`in`",
        Rule::matches => "`~`",
        Rule::string_op | Rule::string_op_name => "`contains`, `starts_with` or `ends_with`",
        Rule::exists => "`exists`",
        Rule::missing => "`is missing`",
        Rule::call | Rule::field | Rule::quoted_ident | Rule::ident | Rule::segment => "a field name",
        Rule::name => "a name",
        Rule::list => "a list (`[\"a\", \"b\"]`)",
        Rule::string | Rule::string_text => "a quoted string",
        Rule::regex | Rule::regex_text => "a /regex/",
        Rule::word => "a word, a \"phrase\" or a /regex/",
        Rule::number | Rule::unsigned => "a number",
        Rule::integer => "a whole number",
        Rule::boolean => "`true` or `false`",
        Rule::duration => "a duration (`30m`, `12h`, `2d`, `3w`)",
        Rule::at_least => "`at least N times`",
        Rule::within => "`within DURATION`",
        Rule::sla => "`sla DURATION`",
        Rule::business => "`business DAYS HH:MM-HH:MM \"TIME/ZONE\"`",
        Rule::weekdays => "working days (`Mon-Fri`)",
        Rule::hours_of_day => "working hours (`09:00-17:00`)",
        Rule::requalify => "`requalify after DURATION`",
        Rule::calibrate => "`calibrate at SCORE = P%, N points double the odds`",
        Rule::percent => "a percentage (`12%`)",
        Rule::target => "`target MEASURE >= P% over DURATION`",
        Rule::measure => "a measure (`acceptance`, `conversion` or `sla`)",
        Rule::target_op => "`>=` or `<=`",
        Rule::path => "a path (`/pricing`)",
        Rule::glob_word => "a name or pattern",
        _ => "something else",
    }
}

/// The behaviour keyword that the word just before an error is a typo of, when what
/// stands at the error is what a behaviour takes (`visted /pricing` is read as a name
/// followed by a stray path).
fn misspelt_behaviour(before: &str, found: &str) -> Option<&'static str> {
    if !found.starts_with(|c: char| c == '/' || c == '"' || c.is_alphabetic()) {
        return None;
    }
    let before = before.trim_end();
    let word = &before[before
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1)..];
    (word.len() > 3 && !super::BEHAVIOURS.contains(&word))
        .then(|| did_you_mean(word, super::BEHAVIOURS))
        .flatten()
}

fn help_for(expected: &str, found: &str) -> Option<String> {
    if expected.contains("`=>`") && (found == "=" || found == ">") {
        return Some("actions follow `=>`, as in `title ~ VP => +10`".into());
    }
    if expected.contains("an action") {
        return Some("write points with a sign: `+10`, `-5 fit`".into());
    }
    if found.starts_with('\\') {
        return Some("strings know the escapes `\\\"`, `\\\\`, `\\n` and `\\t`; write `\\\\` for a backslash".into());
    }
    if found.starts_with(['e', 'E']) && found[1..].starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+') {
        return Some("write numbers in digits: `100000`, not `1e5`".into());
    }
    if found.starts_with(|c: char| !c.is_ascii() && !c.is_alphanumeric()) {
        return Some(
            "a field name starts with a letter or `_`; quote other names with backticks: `` `№ of seats` ``".into(),
        );
    }
    if expected.contains("`and`") && !found.is_empty() {
        return Some("join conditions with `and` or `or`".into());
    }
    None
}

/// The word a keyword rule matches, for messages; `None` for other rules.
pub(super) fn keyword(r: Rule) -> Option<&'static str> {
    match r {
        Rule::kw_threshold => Some("`threshold`"),
        Rule::kw_mql => Some("`mql`"),
        Rule::kw_when => Some("`when`"),
        Rule::kw_cap => Some("`cap`"),
        Rule::kw_at => Some("`at`"),
        Rule::kw_decay => Some("`decay`"),
        Rule::kw_dimension => Some("`dimension`"),
        Rule::kw_let => Some("`let`"),
        Rule::kw_route => Some("`route`"),
        Rule::kw_plugin => Some("`plugin`"),
        Rule::kw_limit => Some("`limit`"),
        Rule::kw_sla => Some("`sla`"),
        Rule::kw_business => Some("`business`"),
        Rule::kw_requalify => Some("`requalify`"),
        Rule::kw_after => Some("`after`"),
        Rule::kw_calibrate => Some("`calibrate`"),
        Rule::kw_target => Some("`target`"),
        Rule::kw_over => Some("`over`"),
        Rule::kw_points => Some("`points`"),
        Rule::kw_double => Some("`double`"),
        Rule::kw_the => Some("`the`"),
        Rule::kw_odds => Some("`odds`"),
        Rule::kw_rule => Some("`rule`"),
        Rule::kw_fields => Some("`fields`"),
        Rule::kw_disqualify => Some("`disqualify`"),
        Rule::kw_tag => Some("`tag`"),
        Rule::kw_not => Some("`not`"),
        Rule::kw_in => Some("`in`"),
        Rule::kw_is => Some("`is`"),
        Rule::kw_missing => Some("`missing`"),
        Rule::kw_visited => Some("`visited`"),
        Rule::kw_submitted => Some("`submitted`"),
        Rule::kw_downloaded => Some("`downloaded`"),
        Rule::kw_opened => Some("`opened`"),
        Rule::kw_email => Some("`email`"),
        Rule::kw_clicked => Some("`clicked`"),
        Rule::kw_attended => Some("`attended`"),
        Rule::kw_webinar => Some("`webinar`"),
        Rule::kw_did => Some("`did`"),
        Rule::kw_where => Some("`where`"),
        Rule::kw_least => Some("`least`"),
        Rule::kw_within => Some("`within`"),
        Rule::kw_times => Some("`times`"),
        _ => None,
    }
}

impl ParseErrorKind {
    /// The kind's stable name in snake_case (`unexpected`, `too_deep`, ...): what a
    /// program that stores or sends the error keeps.
    pub fn code(&self) -> &'static str {
        self.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Ast;

    fn errors(text: &str) -> Vec<ParseError> {
        let mut errors = Vec::new();
        super::super::parse_file(0, text, &mut Ast::default(), &mut errors);
        errors
    }

    #[test]
    fn each_error_has_its_kind_and_displays_as_before() {
        let [e] = errors("title ~ VP => 10\n").try_into().unwrap();
        assert!(
            matches!(&e.kind, ParseErrorKind::Unexpected { found, .. } if found == "`10`"),
            "{e:?}"
        );
        assert!(e.to_string().starts_with("expected "), "{e}");
        assert!(e.to_string().ends_with(", found `10`"), "{e}");
        let deep = format!(
            "{}title ~ VP{} => +1\n",
            "(".repeat(MAX_NESTING + 1),
            ")".repeat(MAX_NESTING + 1)
        );
        let [e] = errors(&deep).try_into().unwrap();
        assert_eq!(e.kind, ParseErrorKind::TooDeep);
        assert_eq!(
            e.to_string(),
            format!("the condition nests more than {MAX_NESTING} deep (parentheses, lists and `not`s)")
        );
    }
}
