//! Code actions: a did-you-mean becomes a quick fix that writes the suggested name.

use std::collections::HashMap;

use lsp_types::{CodeAction, CodeActionKind, CodeActionOrCommand, Range, TextEdit, Uri, WorkspaceEdit};

use super::adapter::Analysis;
use super::diagnostics::diagnostic;
use super::position::Lines;

/// The quick fixes for the problems of file `file` that touch `range`.
pub fn quick_fixes(analysis: &Analysis, file: usize, uri: &Uri, range: Range) -> Vec<CodeActionOrCommand> {
    let Some(f) = analysis.files.get(file) else {
        return Vec::new();
    };
    let lines = Lines::new(&f.text);
    let (start, end) = (lines.offset(range.start), lines.offset(range.end));
    analysis
        .problems
        .iter()
        .filter(|p| p.at.file == file && p.at.start <= end && start <= p.at.end)
        .filter_map(|p| {
            let name = p.fix.as_ref()?;
            let edit = TextEdit::new(lines.range(p.at.start, p.at.end), name.clone());
            Some(CodeActionOrCommand::CodeAction(CodeAction {
                title: format!("Replace with {}", quoted(name)),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![diagnostic(p, &lines, &f.path)]),
                edit: Some(WorkspaceEdit::new(HashMap::from([(uri.clone(), vec![edit])]))),
                is_preferred: Some(true),
                ..CodeAction::default()
            }))
        })
        .collect()
}

fn quoted(name: &str) -> String {
    if name.starts_with('"') {
        name.to_string()
    } else {
        format!("`{name}`")
    }
}
