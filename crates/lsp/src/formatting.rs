//! Whole-document formatting through `leadscore fmt`'s formatter.

use lsp_types::TextEdit;

use super::position::Lines;

/// The edit that lays the text out canonically (none when it already is), or the syntax
/// error that stops formatting, as `leadscore fmt` reports it.
pub fn format(name: &str, text: &str) -> Result<Vec<TextEdit>, String> {
    let formatted = leadscore::format_named(name, text).map_err(|e| match e {
        leadscore::Error::Pack(errors) => format!("cannot format: {}", errors.render(false).trim_end()),
        other => format!("cannot format: {other}"),
    })?;
    if formatted == text {
        return Ok(Vec::new());
    }
    Ok(vec![TextEdit::new(Lines::new(text).all(), formatted)])
}
