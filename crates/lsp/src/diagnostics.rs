//! The checker's errors as LSP diagnostics: spans → ranges (UTF-16 columns), `help:` lines
//! as related information. Every rule file of the pack gets its list (an empty one clears
//! it), and so does a plugin script an error points into.

use std::path::PathBuf;

use lsp_types::{Diagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString};

use super::adapter::{Analysis, Problem};
use super::position::{uri_of, Lines};

/// The diagnostics of every file of an analysis.
pub fn of_pack(analysis: &Analysis) -> Vec<(PathBuf, Vec<Diagnostic>)> {
    analysis
        .files
        .iter()
        .enumerate()
        .map(|(i, file)| {
            let lines = Lines::new(&file.text);
            let diagnostics = analysis
                .problems
                .iter()
                .filter(|p| p.at.file == i)
                .map(|p| diagnostic(p, &lines, &file.path))
                .collect();
            (file.path.clone(), diagnostics)
        })
        .collect()
}

/// One problem as a diagnostic.
pub fn diagnostic(problem: &Problem, lines: &Lines<'_>, path: &std::path::Path) -> Diagnostic {
    let range = lines.range(problem.at.start, problem.at.end);
    let related = problem.help.as_ref().and_then(|help| {
        Some(vec![DiagnosticRelatedInformation {
            location: Location::new(uri_of(path)?, range),
            message: format!("help: {help}"),
        }])
    });
    Diagnostic {
        range,
        severity: Some(match problem.warning {
            true => DiagnosticSeverity::WARNING,
            false => DiagnosticSeverity::ERROR,
        }),
        code: problem
            .fix
            .as_ref()
            .map(|_| NumberOrString::String("did-you-mean".into())),
        source: Some("leadscore".into()),
        message: problem.message.clone(),
        related_information: related,
        ..Diagnostic::default()
    }
}
