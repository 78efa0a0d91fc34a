//! The numbers `fit` changes, found in the pack's syntax tree, and the pack's text with
//! only those numbers rewritten at their spans: every comment, blank and alignment stays.

use std::sync::OnceLock;

use regex::Regex;

use leadscore::ast::{Action, Ast, CmpOp, CondKind, OperandKind, StatementKind, TestOp};
use leadscore::{Sources, Span};

/// A number as written in a pack, and where.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NumberAt {
    /// Its value.
    pub value: f64,
    /// Its text's span (with the sign, for points).
    pub span: Span,
}

/// The numbers of one rule that `fit` may change.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RuleNumbers {
    /// The points of its first points action (the ones the evaluator gives).
    pub points: Option<NumberAt>,
    /// The `each max N` of that action.
    pub max: Option<NumberAt>,
}

/// The numbers `fit` may change in a pack.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Numbers {
    /// `threshold N`, or the `N` of `score >= N` / `score > N` at the top of `mql when`.
    pub threshold: Option<NumberAt>,
    /// Per rule, in file order (the order of the compiled program's rules).
    pub rules: Vec<RuleNumbers>,
}

/// Finds the numbers in a pack's rule sources.
///
/// ```
/// let pack = leadscore::Pack::from_source("demo", "threshold 40 # the MQL line\ncap fit at 30\ntitle ~ VP => +20 fit\nvisited /blog/* => +2 each max 10")?;
/// let numbers = leadscore_outcomes::rewrite::numbers(pack.sources());
/// assert_eq!(numbers.threshold.map(|t| t.value), Some(40.0));
/// assert_eq!(numbers.rules[1].max.map(|m| m.value), Some(10.0));
/// # Ok::<(), leadscore::Error>(())
/// ```
pub fn numbers(sources: &Sources) -> Numbers {
    let mut ast = Ast::default();
    for (i, file) in sources.files().iter().enumerate() {
        leadscore::syntax::parse_file(i as u32, &file.text, &mut ast, &mut Vec::new());
    }
    let mut out = Numbers::default();
    for statement in &ast.statements {
        match &statement.kind {
            StatementKind::Threshold(t) => {
                out.threshold = Some(NumberAt {
                    value: t.node,
                    span: t.span,
                })
            }
            StatementKind::Mql(cond) => out.threshold = score_bound(cond),
            StatementKind::Rule(rule) => {
                let first = rule.actions.iter().find(|a| matches!(a.node, Action::Points { .. }));
                out.rules
                    .push(first.map_or_else(RuleNumbers::default, |a| points_numbers(sources, a.span)));
            }
            _ => {}
        }
    }
    out
}

/// The `N` of `score >= N` or `score > N`, alone or as a part of a top-level `and`.
fn score_bound(cond: &leadscore::ast::Cond) -> Option<NumberAt> {
    match &cond.kind {
        CondKind::And(parts) => parts.iter().find_map(score_bound),
        CondKind::Test(test) => match (&test.operand.kind, &test.op) {
            (OperandKind::Field(path), TestOp::Compare(CmpOp::Ge | CmpOp::Gt, bound))
                if path.len() == 1 && path[0] == "score" =>
            {
                match bound.kind {
                    OperandKind::Num(value) => Some(NumberAt {
                        value,
                        span: bound.span,
                    }),
                    _ => None,
                }
            }
            _ => None,
        },
        _ => None,
    }
}

/// The points and `max` numbers inside a points action's text (`+2 intent each max 10`).
fn points_numbers(sources: &Sources, span: Span) -> RuleNumbers {
    static POINTS: OnceLock<Option<Regex>> = OnceLock::new();
    static MAX: OnceLock<Option<Regex>> = OnceLock::new();
    let text = sources.text(span);
    let at = |m: regex::Match| NumberAt {
        value: m.as_str().parse().unwrap_or(0.0),
        span: Span::new(
            span.file,
            span.start as usize + m.start(),
            span.start as usize + m.end(),
        ),
    };
    let points = POINTS.get_or_init(|| Regex::new(r"^[+-][0-9]+(\.[0-9]+)?").ok());
    let max = MAX.get_or_init(|| Regex::new(r"\beach[ \t]+max[ \t]+([0-9]+(\.[0-9]+)?)").ok());
    RuleNumbers {
        points: points.as_ref().and_then(|r| r.find(text)).map(at),
        max: max
            .as_ref()
            .and_then(|r| r.captures(text))
            .and_then(|c| c.get(1))
            .map(at),
    }
}

/// The rule files with `edits` applied: each span's text replaced, nothing else touched.
/// Returns `(file name, text)` per source file, in order.
pub fn rewrite(sources: &Sources, edits: &[(Span, String)]) -> Vec<(String, String)> {
    sources
        .files()
        .iter()
        .enumerate()
        .map(|(i, file)| {
            let mut mine: Vec<&(Span, String)> = edits.iter().filter(|(s, _)| s.file == i as u32).collect();
            mine.sort_by_key(|(s, _)| std::cmp::Reverse(s.start));
            let mut text = file.text.clone();
            for (span, new) in mine {
                if text.get(span.range()).is_some() {
                    text.replace_range(span.range(), new);
                }
            }
            (file.name.clone(), text)
        })
        .collect()
}

/// The edit that sets the pack's threshold (`threshold N` or the `N` of `score >= N`).
pub fn threshold_edit(numbers: &Numbers, threshold: f64) -> Option<(Span, String)> {
    numbers.threshold.map(|at| (at.span, super::num(threshold)))
}

/// Points as written in a rule: `+25`, `-10`, `+0`.
pub fn points_text(p: f64) -> String {
    if p < 0.0 {
        format!("-{}", super::num(-p))
    } else {
        format!("+{}", super::num(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_the_numbers() {
        let text = "# fit\nthreshold 40   # line\nrule \"A\": title ~ VP   => +20 fit # senior\nvisited /blog/* => +2 each max 10\nmql when score >= 3 and title exists\n";
        let mut sources = Sources::default();
        sources.add("p/main.rules", text);
        let n = numbers(&sources);
        let rules = &n.rules;
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].points.map(|p| p.value), Some(20.0));
        assert_eq!(n.threshold.map(|t| t.value), Some(3.0), "the last MQL statement wins");
        let edits = vec![
            (rules[0].points.unwrap().span, points_text(-5.0)),
            (rules[1].points.unwrap().span, points_text(3.0)),
            (rules[1].max.unwrap().span, "15".to_string()),
            (n.threshold.unwrap().span, "12".to_string()),
        ];
        let out = rewrite(&sources, &edits);
        assert_eq!(
            out[0].1,
            "# fit\nthreshold 40   # line\nrule \"A\": title ~ VP   => -5 fit # senior\nvisited /blog/* => +3 each max 15\nmql when score >= 12 and title exists\n"
        );
    }
}
