//! What is under the cursor, where it is defined, and where it is used: `let` names,
//! dimensions, plugins (their `.rhai` file) and plugin functions (their `fn`).

use lsp_types::{Location, Position, Range};
use regex::Regex;

use super::adapter::{Analysis, Item, Kind, Loc};
use super::position::{uri_of, Lines};

/// The name at byte `offset` of file `file` (a cursor just after a name is on it), else
/// the rule whose statement holds the offset.
pub fn item_at(analysis: &Analysis, file: usize, offset: usize) -> Option<&Item> {
    let on = |l: &Loc| l.file == file && l.start <= offset && offset <= l.end;
    analysis
        .items
        .iter()
        .filter(|i| on(&i.at))
        .min_by_key(|i| i.at.end - i.at.start)
        .or_else(|| {
            analysis
                .items
                .iter()
                .find(|i| i.defines && i.kind == Kind::Rule && on(&i.whole))
        })
}

/// The definitions of what `item` names.
pub fn definitions(analysis: &Analysis, item: &Item) -> Vec<Location> {
    match &item.kind {
        Kind::Let | Kind::Dimension | Kind::Rule | Kind::Route | Kind::Mql => analysis
            .items
            .iter()
            .filter(|d| d.defines && d.kind == item.kind && d.name == item.name)
            .filter_map(|d| location(analysis, &d.at))
            .collect(),
        Kind::Plugin => plugin_file(analysis, &item.name).into_iter().collect(),
        Kind::Function => function_definition(analysis, &item.name).into_iter().collect(),
        Kind::Field { .. } | Kind::Verb { .. } => Vec::new(),
    }
}

/// Every use of what `item` names, and with `declarations` its definitions.
pub fn references(analysis: &Analysis, item: &Item, declarations: bool) -> Vec<Location> {
    let same = |other: &Item| match (&item.kind, &other.kind) {
        (Kind::Verb { event_type: a, .. }, Kind::Verb { event_type: b, .. }) => a == b,
        (a, b) => a == b && other.name == item.name,
    };
    let mut out: Vec<Location> = analysis
        .items
        .iter()
        .filter(|o| same(o) && (declarations || !o.defines))
        .filter_map(|o| location(analysis, &o.at))
        .collect();
    if declarations && item.kind == Kind::Function {
        out.extend(function_definition(analysis, &item.name));
    }
    out
}

/// An LSP location of a span.
pub fn location(analysis: &Analysis, at: &Loc) -> Option<Location> {
    let file = analysis.files.get(at.file)?;
    let range = Lines::new(&file.text).range(at.start, at.end);
    Some(Location::new(uri_of(&file.path)?, range))
}

fn plugin_file(analysis: &Analysis, name: &str) -> Option<Location> {
    let plugin = analysis.plugins.iter().find(|p| p.name == name)?;
    Some(Location::new(uri_of(&plugin.path)?, Range::default()))
}

/// The `fn NAME(` line of a plugin function's script.
fn function_definition(analysis: &Analysis, name: &str) -> Option<Location> {
    let function = analysis.functions.iter().find(|f| f.name == name)?;
    let plugin = analysis.plugins.iter().find(|p| p.name == function.plugin)?;
    let text = leadscore::file::read_text(&plugin.path, leadscore::file::DEFAULT_MAX_FILE_BYTES).unwrap_or_default();
    let pattern = Regex::new(&format!(r"(?m)^\s*fn\s+({})\s*\(", regex::escape(name))).ok()?;
    let range = match pattern.captures(&text).and_then(|c| c.get(1)) {
        Some(m) => Lines::new(&text).range(m.start(), m.end()),
        None => Range::new(Position::default(), Position::default()),
    };
    Some(Location::new(uri_of(&plugin.path)?, range))
}
