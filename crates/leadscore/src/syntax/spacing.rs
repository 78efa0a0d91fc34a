//! Where a condition's text gets blanks it was written without: around the operator of
//! each test (`title~VP` reads `title ~ VP`), found from the syntax tree, never inside a
//! string, regex, path or backtick name. The formatter lays conditions out this way, and
//! an unnamed rule's name is its condition read this way, so formatting keeps its name.

use crate::ast::{Cond, CondKind, TestOp};

/// The text between the two sides of each test with an operator (`title~VP`'s `~`), in a
/// condition and the `where` filters inside it.
pub(crate) fn operator_gaps(cond: &Cond, gaps: &mut Vec<std::ops::Range<usize>>) {
    match &cond.kind {
        CondKind::Or(parts) | CondKind::And(parts) => parts.iter().for_each(|c| operator_gaps(c, gaps)),
        CondKind::Not(inner) => operator_gaps(inner, gaps),
        CondKind::Behaviour(b) => {
            if let Some(filter) = &b.filter {
                operator_gaps(filter, gaps);
            }
        }
        CondKind::Test(test) => {
            let right = match &test.op {
                TestOp::Compare(_, right) | TestOp::In(right) | TestOp::Str(_, right) => right.span,
                TestOp::Match(pattern) => pattern.span,
                TestOp::Truthy | TestOp::Exists | TestOp::Missing => return,
            };
            let (end, start) = (test.operand.span.end as usize, right.start as usize);
            if end < start {
                gaps.push(end..start);
            }
        }
        CondKind::LetRef(_) => {}
    }
}

/// The text of `range` with each operator gap inside it written ` OP ` (blanks on both
/// sides; `squash` makes runs of them one).
pub(crate) fn with_spaced_operators(
    text: &str,
    range: std::ops::Range<usize>,
    gaps: &[std::ops::Range<usize>],
) -> String {
    let mut inside: Vec<&std::ops::Range<usize>> = gaps
        .iter()
        .filter(|g| g.start >= range.start && g.end <= range.end)
        .collect();
    inside.sort_by_key(|g| g.start);
    let mut out = String::with_capacity(range.len() + 2 * inside.len());
    let mut at = range.start;
    for gap in inside {
        if gap.start < at {
            continue;
        }
        out.push_str(&text[at..gap.start]);
        out.push(' ');
        out.push_str(text[gap.clone()].trim());
        out.push(' ');
        at = gap.end;
    }
    out.push_str(&text[at..range.end]);
    out
}
