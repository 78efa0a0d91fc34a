//! The order `let`s are evaluated in, and the cycles that make an order impossible.

use std::collections::HashMap;

use super::{CheckError, CheckErrorKind};
use crate::ast::*;

/// Statement indices of the `let`s, each after the `let`s it refers to. Lets in a cycle
/// are reported and left out. Iterative, so a chain of 10,000 `let`s is fine.
pub(super) fn order(ast: &Ast, lets: &HashMap<String, usize>, errors: &mut Vec<CheckError>) -> Vec<usize> {
    // deps[i]: statement indices that let i refers to.
    let mut deps: HashMap<usize, Vec<usize>> = HashMap::new();
    for &i in lets.values() {
        let StatementKind::Let { cond, .. } = &ast.statements[i].kind else {
            continue;
        };
        let mut refs = Vec::new();
        let_refs(cond, &mut |name| refs.extend(lets.get(name).copied()));
        deps.insert(i, refs);
    }
    let mut order = Vec::with_capacity(deps.len());
    let mut state: HashMap<usize, Visit> = HashMap::new();
    let mut roots: Vec<usize> = deps.keys().copied().collect();
    roots.sort_unstable();
    for root in roots {
        if state.contains_key(&root) {
            continue;
        }
        // Depth-first with an explicit stack of (node, next dependency to visit).
        let mut stack = vec![(root, 0usize)];
        state.insert(root, Visit::Open);
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let Some(&dep) = deps.get(&node).and_then(|d| d.get(*next)) else {
                stack.pop();
                state.insert(node, Visit::Done);
                order.push(node);
                continue;
            };
            *next += 1;
            match state.get(&dep) {
                None => {
                    state.insert(dep, Visit::Open);
                    stack.push((dep, 0));
                }
                Some(Visit::Open) => {
                    let path: Vec<usize> = stack.iter().map(|&(n, _)| n).skip_while(|&n| n != dep).collect();
                    errors.push(cycle_error(ast, &path));
                }
                Some(Visit::Done) => {}
            }
        }
    }
    order
}

#[derive(Clone, Copy)]
enum Visit {
    Open,
    Done,
}

fn cycle_error(ast: &Ast, path: &[usize]) -> CheckError {
    let name_of = |i: usize| match &ast.statements[i].kind {
        StatementKind::Let { name, .. } => name.clone(),
        _ => Spanned {
            node: String::new(),
            span: ast.statements[i].span,
        },
    };
    let first = name_of(path[0]);
    let kind = if path.len() == 1 {
        CheckErrorKind::SelfReferentialLet(first.node.clone())
    } else {
        let mut names: Vec<String> = path.iter().map(|&i| name_of(i).node).collect();
        if names.len() > 8 {
            // A cycle through thousands of lets: the first few and the last are enough.
            let last = names.split_off(names.len() - 1);
            names.truncate(3);
            names.push(format!("… ({} lets) …", path.len() - 4));
            names.extend(last);
        }
        names.push(first.node.clone());
        CheckErrorKind::CyclicLet {
            name: first.node.clone(),
            cycle: names.join(" → "),
        }
    };
    CheckError::new(kind, first.span)
}

/// Calls `f` with every `let` name a condition refers to.
pub fn let_refs(cond: &Cond, f: &mut dyn FnMut(&str)) {
    match &cond.kind {
        CondKind::Or(parts) | CondKind::And(parts) => parts.iter().for_each(|p| let_refs(p, f)),
        CondKind::Not(inner) => let_refs(inner, f),
        CondKind::LetRef(name) => f(name),
        CondKind::Test(_) | CondKind::Behaviour(_) => {}
    }
}
