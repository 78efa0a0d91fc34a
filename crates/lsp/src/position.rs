//! Byte offsets ↔ LSP positions (line, UTF-16 column), and file paths ↔ `file://` URIs.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use lsp_types::{Position, Range, Uri};

/// The byte offset of every line start of a text, for converting positions.
pub struct Lines<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> Lines<'t> {
    /// Indexes `text`.
    pub fn new(text: &'t str) -> Lines<'t> {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines { text, starts }
    }

    /// The position of a byte offset (clamped to the text, moved back to a character start).
    pub fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset).saturating_sub(1);
        let start = self.starts.get(line).copied().unwrap_or(0);
        let column: usize = self.text[start..offset].chars().map(char::len_utf16).sum();
        Position::new(to_u32(line), to_u32(column))
    }

    /// The range of a byte span.
    pub fn range(&self, start: usize, end: usize) -> Range {
        Range::new(self.position(start), self.position(end))
    }

    /// The byte offset of a position; a column past the line's end is the line's end, a
    /// line past the text's end is the text's end.
    pub fn offset(&self, position: Position) -> usize {
        let Some(&start) = self.starts.get(position.line as usize) else {
            return self.text.len();
        };
        let end = self
            .starts
            .get(position.line as usize + 1)
            .map_or(self.text.len(), |&next| next - 1);
        let mut units = 0;
        for (i, c) in self.text[start..end].char_indices() {
            if units >= position.character as usize {
                return start + i;
            }
            units += c.len_utf16();
        }
        end
    }

    /// The text of line `line` up to a position on it.
    pub fn line_before(&self, position: Position) -> &'t str {
        let start = self
            .starts
            .get(position.line as usize)
            .copied()
            .unwrap_or(self.text.len());
        let end = self.offset(position).max(start);
        &self.text[start..end]
    }

    /// The range of the whole text.
    pub fn all(&self) -> Range {
        self.range(0, self.text.len())
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The path of a `file://` URI; `None` for other schemes.
pub fn path_of(uri: &Uri) -> Option<PathBuf> {
    if !uri.scheme().is_some_and(|s| s.as_str().eq_ignore_ascii_case("file")) {
        return None;
    }
    let path = uri.path().as_estr().decode().into_string().ok()?;
    Some(PathBuf::from(path.into_owned()))
}

/// The `file://` URI of a path (made absolute against the working folder).
pub fn uri_of(path: &Path) -> Option<Uri> {
    let absolute = std::path::absolute(path).ok()?;
    let text = absolute.to_str()?;
    let mut encoded = String::from("file://");
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    Uri::from_str(&encoded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_utf16_units() {
        let text = "a\nré 😀x\n";
        let lines = Lines::new(text);
        let x = text.find('x').unwrap();
        assert_eq!(lines.position(x), Position::new(1, 5), "é is 1 unit, 😀 is 2");
        assert_eq!(lines.offset(Position::new(1, 5)), x);
        assert_eq!(
            lines.offset(Position::new(1, 99)),
            text.len() - 1,
            "clamped to the line"
        );
        assert_eq!(lines.offset(Position::new(9, 0)), text.len());
        assert_eq!(
            lines.position(text.find('😀').unwrap() + 1),
            Position::new(1, 3),
            "inside a character"
        );
    }

    #[test]
    fn paths_round_trip_through_uris() {
        let path = Path::new("/tmp/a pack/ümlaut#1.rules");
        let uri = uri_of(path).unwrap();
        assert_eq!(uri.as_str(), "file:///tmp/a%20pack/%C3%BCmlaut%231.rules");
        assert_eq!(path_of(&uri).unwrap(), path);
    }
}
