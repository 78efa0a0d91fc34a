//! The lead fields a pack reads, against what it says leads have: its `fields`
//! declaration (an undeclared field is an error), or, without one, its own sample leads and
//! test cases (a field none of them has is a warning: probably a typo, perhaps a field the
//! samples leave out).

use serde_json::Value;

use crate::ast::*;
use crate::source::Span;

use super::warning::{CheckWarning, CheckWarningKind};
use super::DimInfo;

/// Every field a condition reads in the lead (not an event's properties in `where`), with
/// the span of its use; in `mql when` and `route when`, `score` and dimension names are
/// not fields.
pub(super) fn lead_fields<'a>(ast: &'a Ast, dims: &[DimInfo]) -> Vec<(&'a [String], Span)> {
    let mut out = Vec::new();
    for statement in &ast.statements {
        match &statement.kind {
            StatementKind::Rule(rule) => cond_fields(&rule.cond, None, &mut out),
            StatementKind::Let { cond, .. } => cond_fields(cond, None, &mut out),
            StatementKind::Mql(cond) | StatementKind::Route { when: Some(cond), .. } => {
                cond_fields(cond, Some(dims), &mut out);
            }
            _ => {}
        }
    }
    out
}

fn cond_fields<'a>(cond: &'a Cond, outcome: Option<&[DimInfo]>, out: &mut Vec<(&'a [String], Span)>) {
    match &cond.kind {
        CondKind::Or(parts) | CondKind::And(parts) => parts.iter().for_each(|c| cond_fields(c, outcome, out)),
        CondKind::Not(inner) => cond_fields(inner, outcome, out),
        CondKind::Test(test) => {
            operand_fields(&test.operand, outcome, out);
            match &test.op {
                TestOp::Compare(_, rhs) | TestOp::In(rhs) | TestOp::Str(_, rhs) => operand_fields(rhs, outcome, out),
                _ => {}
            }
        }
        CondKind::Behaviour(_) | CondKind::LetRef(_) => {}
    }
}

fn operand_fields<'a>(operand: &'a Operand, outcome: Option<&[DimInfo]>, out: &mut Vec<(&'a [String], Span)>) {
    match &operand.kind {
        OperandKind::Field(path) => {
            let outcome_name = |dims: &[DimInfo]| match path.as_slice() {
                [one] => one.eq_ignore_ascii_case("score") || dims.iter().any(|d| &d.name == one),
                _ => false,
            };
            if !outcome.is_some_and(outcome_name) {
                out.push((path, operand.span));
            }
        }
        OperandKind::Call { args, .. } => args.iter().for_each(|a| operand_fields(a, outcome, out)),
        OperandKind::List(items) => items.iter().for_each(|a| operand_fields(a, outcome, out)),
        _ => {}
    }
}

/// The paths a pack's `fields` statements declare, or `None` without one.
pub(super) fn declared(ast: &Ast) -> Option<Vec<&Spanned<Vec<String>>>> {
    let mut declared = None;
    for statement in &ast.statements {
        if let StatementKind::Fields(paths) = &statement.kind {
            declared.get_or_insert_with(Vec::new).extend(paths);
        }
    }
    declared
}

/// Whether reading `path` is covered by declaring `declared`: the same path, a field
/// inside a declared object (`company` covers `company.size`), or an object holding a
/// declared field (`company exists` with `company.size` declared).
pub(super) fn covers(declared: &[String], path: &[String]) -> bool {
    let n = declared.len().min(path.len());
    declared[..n] == path[..n]
}

/// Warnings for the fields a pack reads that none of `leads` has, each with a
/// did-you-mean from the leads' own keys. None when there are no leads to go by, when the
/// pack declares its fields (the declaration governs), or when a plugin hook may set
/// fields the leads do not have (`hooks`: declare them to be checked).
pub fn unseen_fields(ast: &Ast, hooks: bool, leads: &[&Value]) -> Vec<CheckWarning> {
    if leads.is_empty() || hooks || declared(ast).is_some() {
        return Vec::new();
    }
    let dims = dimensions(ast);
    let mut keys = Vec::new();
    for lead in leads {
        if let Value::Object(o) = lead {
            for (k, v) in o.iter().filter(|(k, _)| k.as_str() != "events") {
                key_paths(k, v, &mut keys);
            }
        }
    }
    keys.sort();
    keys.dedup();
    let mut warnings: Vec<CheckWarning> = Vec::new();
    for (path, span) in lead_fields(ast, &dims) {
        let seen = leads
            .iter()
            .any(|lead| crate::value::path::lookup(lead, path).is_some());
        // `id` is the lead's id, which a sample may leave to its file name.
        if seen || path == ["id"] {
            continue;
        }
        let name = path.join(".");
        let suggestion = super::did_you_mean(&name, keys.iter().map(String::as_str)).map(str::to_string);
        let help = match &suggestion {
            Some(best) => format!("did you mean `{best}`?"),
            None => "declare the fields leads have with `fields NAME, ...` if this one is right".to_string(),
        };
        warnings.push(CheckWarning {
            kind: CheckWarningKind::UnseenField {
                name,
                leads: leads.len(),
                suggestion,
            },
            span,
            help: Some(help),
        });
    }
    warnings.sort_by_key(|w| w.span);
    warnings
}

/// The dimension names a pack declares (what `mql when` may read besides fields).
fn dimensions(ast: &Ast) -> Vec<DimInfo> {
    let mut dims: Vec<DimInfo> = Vec::new();
    for statement in &ast.statements {
        let name = match &statement.kind {
            StatementKind::Cap { dim, .. } | StatementKind::Decay { dim, .. } | StatementKind::Dimension(dim) => dim,
            _ => continue,
        };
        if !dims.iter().any(|d| d.name == name.node) {
            dims.push(DimInfo {
                name: name.node.clone(),
                ..DimInfo::default()
            });
        }
    }
    dims
}

/// The dotted paths to the values under `key` (nested objects walked), as a rule names them.
fn key_paths(key: &str, value: &Value, out: &mut Vec<String>) {
    out.push(key.to_string());
    if let Value::Object(o) = value {
        for (k, v) in o {
            key_paths(&format!("{key}.{k}"), v, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ast(text: &str) -> Ast {
        let mut ast = Ast::default();
        let mut errors = Vec::new();
        crate::syntax::parse_file(0, text, &mut ast, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        ast
    }

    fn warned(text: &str, hooks: bool, leads: &[Value]) -> Vec<String> {
        let leads: Vec<&Value> = leads.iter().collect();
        unseen_fields(&ast(text), hooks, &leads)
            .iter()
            .map(|w| format!("{} ({})", w, w.help.as_deref().unwrap_or("")))
            .collect()
    }

    #[test]
    fn a_field_no_lead_has_is_a_warning_with_the_leads_own_keys() {
        let leads = [
            json!({"title": "VP", "company": {"size": 50}}),
            json!({"title": "CEO", "country": "DE"}),
        ];
        let text = "dimension fit\nmql when score >= 10 and fit > 0\nrule \"VP\": titel ~ VP => +15 fit\nlet big = company.sise >= 50 or country == \"DE\"\n";
        assert_eq!(
            warned(text, false, &leads),
            [
                "no sample lead or test case (of 2) has the field `titel` (did you mean `title`?)",
                "no sample lead or test case (of 2) has the field `company.sise` (did you mean `company.size`?)",
            ]
        );
    }

    #[test]
    fn no_warning_without_leads_with_hooks_or_with_a_declaration() {
        let leads = [json!({"title": "VP"})];
        assert!(warned("titel ~ VP => +1", false, &[]).is_empty());
        assert!(warned("titel ~ VP => +1", true, &leads).is_empty(), "a hook may set it");
        assert!(warned("fields titel\ntitel ~ VP => +1", false, &leads).is_empty());
        assert!(warned("title ~ VP and id exists => +1", false, &leads).is_empty());
    }

    #[test]
    fn declared_paths_cover_fields_inside_and_objects_around() {
        let s = |p: &str| p.split('.').map(str::to_string).collect::<Vec<_>>();
        assert!(covers(&s("company"), &s("company.size")));
        assert!(covers(&s("company.size"), &s("company")));
        assert!(covers(&s("title"), &s("title")));
        assert!(!covers(&s("company.size"), &s("company.name")));
        assert!(!covers(&s("title"), &s("titel")));
    }
}
