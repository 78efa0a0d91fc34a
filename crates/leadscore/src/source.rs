//! Source files of a pack and byte spans into them.

use std::fmt;

/// A byte range in one source file of a pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    /// Index of the file in [`Sources`].
    pub file: u32,
    /// Byte offset of the first byte.
    pub start: u32,
    /// Byte offset one past the last byte.
    pub end: u32,
}

impl Span {
    /// A span in `file` from `start` to `end`.
    pub fn new(file: u32, start: usize, end: usize) -> Span {
        Span {
            file,
            start: clamp(start),
            end: clamp(end),
        }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The byte range, for slicing the file's text.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// One file of a pack: its display name and its text.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The name shown in diagnostics and locations (`b2b-saas/main.rules`).
    pub name: String,
    /// The whole text.
    pub text: String,
}

/// Every file a pack was built from, indexed by [`Span::file`].
#[derive(Clone, Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
    /// Per file, the byte offset where each line starts: `location` is a binary search,
    /// not a scan from the top of the file (which made compiling big packs quadratic).
    line_starts: Vec<Vec<usize>>,
    /// Per file, the length of its name's pack folder prefix (`b2b-saas/`), which
    /// locations in results leave out: they are relative to the pack.
    in_pack: Vec<usize>,
    /// Per file, how many leading lines the tool wrote before what the user typed (the
    /// REPL's `let __condition =`): lines are numbered from the first line after them.
    hidden_lines: Vec<usize>,
}

impl Sources {
    /// Adds a file and returns its index.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> u32 {
        let mut text = text.into();
        // A UTF-8 byte-order mark (Windows tools write one) is not part of the text.
        if text.starts_with('\u{feff}') {
            text.drain(..'\u{feff}'.len_utf8());
        }
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        self.line_starts.push(starts);
        self.in_pack.push(0);
        self.hidden_lines.push(0);
        self.files.push(SourceFile {
            name: name.into(),
            text,
        });
        clamp(self.files.len() - 1)
    }

    /// Adds a file whose first `hidden` lines are the tool's, not the user's: its lines
    /// are numbered from the one after them, so a diagnostic points at what was typed.
    pub(crate) fn add_after_hidden_lines(&mut self, name: impl Into<String>, text: String, hidden: usize) -> u32 {
        let index = self.add(name, text);
        if let Some(lines) = self.hidden_lines.last_mut() {
            *lines = hidden;
        }
        index
    }

    /// The byte offset where each line of a file starts.
    pub(crate) fn line_starts(&self, file: u32) -> &[usize] {
        self.line_starts.get(file as usize).map_or(&[0][..], Vec::as_slice)
    }

    /// The number shown for a file's line, given its 0-based index in the text.
    pub(crate) fn line_number(&self, file: u32, line_index: usize) -> usize {
        let hidden = self.hidden_lines.get(file as usize).copied().unwrap_or(0);
        (line_index + 1).saturating_sub(hidden).max(1)
    }

    /// All files in order.
    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    /// The file a span points into.
    pub fn file(&self, id: u32) -> Option<&SourceFile> {
        self.files.get(id as usize)
    }

    /// Adds a file of the pack folder named `pack`: shown as `pack/file` in diagnostics,
    /// as `file` in results' locations.
    pub(crate) fn add_in_pack(&mut self, pack: &str, file: &str, text: String) -> u32 {
        let index = self.add(format!("{pack}/{file}"), text);
        if let Some(prefix) = self.in_pack.last_mut() {
            *prefix = pack.len() + 1;
        }
        index
    }

    /// `file:line` of a span's start relative to the pack folder (`main.rules:12`), the
    /// form results show: a copy of the pack in another folder gives the same results.
    pub(crate) fn pack_location(&self, span: Span) -> String {
        let mut at = self.location(span);
        let prefix = self.in_pack.get(span.file as usize).copied().unwrap_or(0);
        at.file.drain(..prefix.min(at.file.len()));
        at.to_string()
    }

    /// The text a span covers, or `""` for a span outside the sources.
    pub fn text(&self, span: Span) -> &str {
        self.file(span.file)
            .and_then(|f| f.text.get(span.range()))
            .unwrap_or("")
    }

    /// `file:line` of a span's start, the form shown in results.
    pub fn location(&self, span: Span) -> Location {
        let Some(file) = self.file(span.file) else {
            return Location {
                file: String::new(),
                line: 0,
                column: 0,
            };
        };
        let offset = (span.start as usize).min(file.text.len());
        let starts = self.line_starts(span.file);
        let line_index = starts.partition_point(|&start| start <= offset).saturating_sub(1);
        let line_start = starts.get(line_index).copied().unwrap_or(0);
        let column = file.text.get(line_start..offset).map_or(1, |s| s.chars().count() + 1);
        Location {
            file: file.name.clone(),
            line: self.line_number(span.file, line_index),
            column,
        }
    }
}

/// A place in a pack's source, as people read it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    /// File name.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// The 1-based line and column of a byte offset in a text that is not part of a pack
/// (a test file); pack sources use their line index instead.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let column = text.get(line_start..offset).map_or(1, |s| s.chars().count() + 1);
    (line, column)
}
