//! The canonical layout of a rule file: one statement per line, single spaces between
//! tokens, `=>` aligned across a block of rules, `=` aligned across a block of `let`s,
//! comments kept.
//!
//! Formatting only ever changes blanks *between* tokens (never inside a string, regex,
//! path or backtick name), so the words of every statement are unchanged: an unnamed rule
//! keeps its name (a name reads its condition with the same blanks around operators,
//! `syntax/spacing.rs`), and the formatted file compiles to the same program. A blank is added
//! only where the syntax tree says a token ends: around `=>` and around the operator of a
//! test (`title~VP` becomes `title ~ VP`, `size>=50` becomes `size >= 50`). A statement with a comment inside it is kept as written.
//! A block is a run of statements with no blank line or comment line between them.

use crate::ast::{Ast, Cond, Statement, StatementKind};
use crate::pack::Error;
use crate::pack::{PackError, PackErrors};
use crate::source::Sources;
use crate::syntax::spacing::{operator_gaps, with_spaced_operators};
use crate::syntax::{self, nesting};

/// Lines longer than this (before alignment) do not take part in aligning their block.
const ALIGN_WIDTH: usize = 100;

/// Formats the text of one rule file in the canonical layout.
///
/// ```
/// let text = "threshold   75\nrule \"Demo\": submitted demo =>+40\nrule \"VP title\":title ~ VP  =>  +15 # fit\n";
/// assert_eq!(
///     leadscore::format(text)?,
///     "threshold 75\nrule \"Demo\":     submitted demo => +40\nrule \"VP title\": title ~ VP     => +15 # fit\n"
/// );
/// # Ok::<(), leadscore::Error>(())
/// ```
pub fn format(text: &str) -> Result<String, Error> {
    format_named("input.rules", text)
}

/// [`format()`], naming the file `name` in syntax errors. A file whose first line ends
/// in CRLF keeps CRLF line ends.
///
/// ```
/// let err = leadscore::format_named("main.rules", "title ~ => +1").unwrap_err();
/// assert!(err.to_string().contains("main.rules:1:9"));
/// assert_eq!(leadscore::format("title~VP and size>=50=>+15\n")?, "title ~ VP and size >= 50 => +15\n");
/// assert_eq!(leadscore::format("threshold  5\r\ntitle ~ VP  => +1\r\n")?, "threshold 5\r\ntitle ~ VP => +1\r\n");
/// # Ok::<(), leadscore::Error>(())
/// ```
pub fn format_named(name: &str, text: &str) -> Result<String, Error> {
    let mut ast = Ast::default();
    let mut errors = Vec::new();
    syntax::parse_file(0, text, &mut ast, &mut errors);
    if !errors.is_empty() {
        let mut sources = Sources::default();
        sources.add(name, text);
        let errors = errors.into_iter().map(PackError::from).collect();
        return Err(PackErrors::new(sources, errors).into());
    }
    let out = layout(text, &ast.statements);
    let crlf = text.find('\n').is_some_and(|i| text[..i].ends_with('\r'));
    Ok(if crlf {
        out.replace("\r\n", "\n").replace('\n', "\r\n")
    } else {
        out
    })
}

/// One output line before alignment.
enum Line {
    Blank,
    Comment(String),
    Statement { shape: Shape, comment: Option<String> },
}

/// A statement's text, in the parts alignment moves.
enum Shape {
    /// `rule "name":` (or nothing), the condition and the actions.
    Rule {
        name: String,
        cond: String,
        actions: String,
    },
    /// `let NAME` and the condition.
    Let { name: String, cond: String },
    /// Anything else, or a statement kept as written.
    Plain(String),
}

fn layout(text: &str, statements: &[Statement]) -> String {
    let mut lines = Vec::new();
    let mut pos = 0;
    for statement in statements {
        let span = trimmed(text, statement.span.range());
        gap(&text[pos..span.start], pos == 0, false, &mut lines);
        lines.push(Line::Statement {
            shape: shape(text, statement, span.clone()),
            comment: None,
        });
        pos = span.end;
        // A comment on the same line as the statement's end stays with it.
        let rest = &text[pos..];
        let line_end = rest.find('\n').unwrap_or(rest.len());
        let tail = rest[..line_end].trim();
        if tail.starts_with('#') {
            if let Some(Line::Statement { comment, .. }) = lines.last_mut() {
                *comment = Some(tail.to_string());
            }
            pos += line_end;
        }
    }
    gap(&text[pos..], pos == 0, true, &mut lines);
    render(&lines)
}

/// Blank lines and comment lines between statements (runs of blank lines become one).
/// Unless `first` (the start of the file), the text before the first newline is the end of
/// the previous statement's line; unless `last`, the text after the last newline is the
/// start of the next statement's.
fn gap(text: &str, first: bool, last: bool, lines: &mut Vec<Line>) {
    let mut parts: Vec<&str> = text.split('\n').collect();
    if !first {
        parts.remove(0);
    }
    if !last {
        parts.pop();
    }
    for part in parts {
        let part = part.trim();
        if part.is_empty() {
            if !matches!(lines.last(), None | Some(Line::Blank)) {
                lines.push(Line::Blank);
            }
        } else {
            lines.push(Line::Comment(part.to_string()));
        }
    }
}

/// A span without the blanks and comments pest counts into a rule that ends in a
/// repetition (`a (or b)*` takes the blanks after `a`).
fn trimmed(text: &str, span: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let mut end = 0;
    let mut at = 0;
    walk(&text[span.clone()], |piece| {
        at += piece.len();
        if !piece.starts_with([' ', '\t', '\r', '\n', '#']) {
            end = at;
        }
    });
    span.start..span.start + end
}

fn shape(text: &str, statement: &Statement, span: std::ops::Range<usize>) -> Shape {
    let whole = &text[span.clone()];
    if has_comment(whole) {
        let kept: Vec<&str> = whole.lines().map(str::trim_end).collect();
        return Shape::Plain(kept.join("\n"));
    }
    let mut gaps = Vec::new();
    for cond in conds_of(statement) {
        operator_gaps(cond, &mut gaps);
    }
    let spaced = |range: std::ops::Range<usize>| squash(&with_spaced_operators(text, range, &gaps));
    match &statement.kind {
        StatementKind::Rule(rule) => {
            let cond = trimmed(text, rule.cond.span.range());
            let actions: Vec<String> = rule
                .actions
                .iter()
                .map(|a| squash(&text[trimmed(text, a.span.range())]))
                .collect();
            Shape::Rule {
                name: squash(&text[statement.span.start as usize..cond.start]),
                cond: spaced(cond),
                actions: actions.join(", "),
            }
        }
        StatementKind::Let { name, cond } => Shape::Let {
            name: format!("let {}", name.node),
            cond: spaced(trimmed(text, cond.span.range())),
        },
        StatementKind::Calibrate { at, percent, double } => Shape::Plain(format!(
            "calibrate at {} = {}, {} points double the odds",
            &text[at.span.range()],
            &text[percent.span.range()],
            &text[double.span.range()]
        )),
        StatementKind::Target(target) => {
            let name = target
                .name
                .as_ref()
                .map(|n| format!("{}: ", &text[n.span.range()]))
                .unwrap_or_default();
            Shape::Plain(format!(
                "target {name}{} {} {} over {}",
                target.measure.node,
                target.op.node,
                &text[target.percent.span.range()],
                &text[target.window.span.range()]
            ))
        }
        StatementKind::Fields(paths) => {
            let paths: Vec<&str> = paths.iter().map(|p| &text[p.span.range()]).collect();
            Shape::Plain(format!("fields {}", paths.join(", ")))
        }
        _ => Shape::Plain(spaced(span)),
    }
}

/// The conditions written in a statement.
fn conds_of(statement: &Statement) -> Vec<&Cond> {
    match &statement.kind {
        StatementKind::Rule(rule) => vec![&rule.cond],
        StatementKind::Let { cond, .. } | StatementKind::Mql(cond) => vec![cond],
        StatementKind::Route { when: Some(cond), .. } => vec![cond],
        _ => Vec::new(),
    }
}

fn render(lines: &[Line]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < lines.len() {
        // A block: consecutive statements of the same kind (rules, or lets).
        let kind = block_kind(&lines[i]);
        let mut j = i + 1;
        while kind.is_some() && j < lines.len() && block_kind(&lines[j]) == kind {
            j += 1;
        }
        let block = &lines[i..j];
        let (head, body) = widths(block);
        for line in block {
            match line {
                Line::Blank => out.push('\n'),
                Line::Comment(c) => {
                    out.push_str(c);
                    out.push('\n');
                }
                Line::Statement { shape, comment } => {
                    let mut text = statement_line(shape, head, body);
                    if let Some(c) = comment {
                        text.push(' ');
                        text.push_str(c);
                    }
                    out.push_str(&text);
                    out.push('\n');
                }
            }
        }
        i = j;
    }
    let trimmed = out.trim_matches('\n');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}\n")
    }
}

#[derive(PartialEq, Clone, Copy)]
enum BlockKind {
    Rules,
    Lets,
}

fn block_kind(line: &Line) -> Option<BlockKind> {
    match line {
        Line::Statement {
            shape: Shape::Rule { .. },
            ..
        } => Some(BlockKind::Rules),
        Line::Statement {
            shape: Shape::Let { .. },
            ..
        } => Some(BlockKind::Lets),
        _ => None,
    }
}

/// The column conditions start at (after `rule "name":` or `let NAME`) and the width of
/// the widest condition, over the lines of a block short enough to align.
fn widths(block: &[Line]) -> (usize, usize) {
    let mut head = 0;
    let mut body = 0;
    for line in block {
        let (h, b) = match line {
            Line::Statement {
                shape: Shape::Rule { name, cond, .. },
                ..
            } => (if name.is_empty() { 0 } else { width(name) + 1 }, width(cond)),
            Line::Statement {
                shape: Shape::Let { name, cond },
                ..
            } => (width(name), width(cond)),
            _ => continue,
        };
        if h + b <= ALIGN_WIDTH {
            head = head.max(h);
            body = body.max(b);
        }
    }
    (head, body)
}

fn statement_line(shape: &Shape, head: usize, body: usize) -> String {
    match shape {
        Shape::Plain(text) => text.clone(),
        Shape::Let { name, cond } => {
            let aligned = width(name) + width(cond) <= ALIGN_WIDTH;
            let pad = if aligned { head.saturating_sub(width(name)) } else { 0 };
            format!("{name}{} = {cond}", " ".repeat(pad))
        }
        Shape::Rule { name, cond, actions } => {
            let name_w = if name.is_empty() { 0 } else { width(name) + 1 };
            let aligned = name_w + width(cond) <= ALIGN_WIDTH;
            let mut line = String::new();
            if !name.is_empty() {
                line.push_str(name);
                let pad = if aligned { head - name_w } else { 0 };
                line.push_str(&" ".repeat(pad + 1));
            }
            line.push_str(cond);
            let pad = if aligned && !name.is_empty() {
                body - width(cond)
            } else if aligned {
                (head + body).saturating_sub(width(cond))
            } else {
                0
            };
            line.push_str(&" ".repeat(pad));
            line.push_str(" => ");
            line.push_str(actions);
            line
        }
    }
}

/// The width of text in columns (characters).
fn width(text: &str) -> usize {
    text.chars().count()
}

/// Whether a statement's text has a comment in it.
fn has_comment(text: &str) -> bool {
    let mut found = false;
    walk(text, |piece| found |= piece.starts_with('#'));
    found
}

/// Every run of blanks between tokens becomes one space; tokens are kept byte for byte.
fn squash(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    walk(text.trim(), |piece| {
        if piece.starts_with([' ', '\t', '\r', '\n']) {
            out.push(' ');
        } else {
            out.push_str(piece);
        }
    });
    out
}

/// Calls `f` with the pieces of `text`: a run of blanks, a comment, a string, regex,
/// path or backtick name whole, or one other character.
fn walk(text: &str, mut f: impl FnMut(&str)) {
    let b = text.as_bytes();
    let mut i = 0;
    let mut after_tilde = false;
    while i < b.len() {
        let c = b[i];
        let end = match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                let mut j = i;
                while j < b.len() && matches!(b[j], b' ' | b'\t' | b'\r' | b'\n') {
                    j += 1;
                }
                j
            }
            b'#' => nesting::skip_line(b, i),
            b'"' => nesting::skip_quoted(b, i + 1, b'"', true),
            b'`' => nesting::skip_quoted(b, i + 1, b'`', false),
            b'/' if after_tilde => nesting::skip_quoted(b, i + 1, b'/', true),
            b'/' => nesting::skip_path(b, i),
            _ => i + text[i..].chars().next().map_or(1, char::len_utf8),
        };
        if !c.is_ascii_whitespace() {
            after_tilde = c == b'~';
        }
        f(&text[i..end]);
        i = end;
    }
}
