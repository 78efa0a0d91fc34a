//! Document symbols for the outline: rules by name, `let`s, routes, dimensions, plugins
//! and the MQL condition.

use lsp_types::{DocumentSymbol, SymbolKind};

use super::adapter::{Analysis, Kind};
use super::position::Lines;

/// The symbols of file `file`, in source order.
pub fn of_file(analysis: &Analysis, file: usize) -> Vec<DocumentSymbol> {
    let Some(f) = analysis.files.get(file) else {
        return Vec::new();
    };
    let lines = Lines::new(&f.text);
    analysis
        .items
        .iter()
        .filter(|i| i.defines && i.at.file == file)
        .map(|i| {
            let (kind, what) = match i.kind {
                Kind::Rule => (SymbolKind::FUNCTION, "rule"),
                Kind::Let => (SymbolKind::VARIABLE, "let"),
                Kind::Route => (SymbolKind::EVENT, "route"),
                Kind::Dimension => (SymbolKind::ENUM_MEMBER, "dimension"),
                Kind::Plugin => (SymbolKind::MODULE, "plugin"),
                _ => (SymbolKind::CONSTANT, "mql"),
            };
            #[expect(deprecated, reason = "`deprecated` is a field every DocumentSymbol must set")]
            DocumentSymbol {
                name: i.name.clone(),
                detail: Some(i.detail.clone().map_or(what.to_string(), |d| format!("{what}: {d}"))),
                kind,
                tags: None,
                deprecated: None,
                range: lines.range(i.whole.start, i.whole.end),
                selection_range: lines.range(i.at.start, i.at.end),
                children: None,
            }
        })
        .collect()
}
