//! The rendering of the errors that reject a pack (`pack/error.rs`), done late:
//! `file:line:col`, the source line with a caret under the span, the message and a
//! `help:` (via codespan-reporting); test-file errors render the same way.

use std::borrow::Cow;
use std::fmt;

use codespan_reporting::diagnostic::{Diagnostic, Label};
use codespan_reporting::files::{self, Files};
use codespan_reporting::term::{self, termcolor};

use crate::pack::{PackErrors, PackWarnings};
use crate::source::Sources;
use crate::value::escape::{mask_hidden, show_text};

impl PackErrors {
    /// The errors rendered as text; `color` adds terminal colours.
    pub fn render(&self, color: bool) -> String {
        let files = PackFiles::new(&self.sources);
        let mut out = Renderer::new(color);
        for error in self.errors() {
            let span = error.span();
            // Names quoted in messages come from the pack: escaped, like its lines.
            let message = error.to_string();
            let mut d = Diagnostic::error()
                .with_message(show_text(&message))
                .with_labels(vec![Label::primary(span.file as usize, span.range())]);
            if let Some(help) = error.help() {
                d = d.with_notes(vec![format!("help: {}", show_text(help))]);
            }
            if !out.emit(&files, &d) {
                let loc = self.location(error);
                out.text(&format!(
                    "error: {}\n  --> {}:{}:{}\n",
                    show_text(&message),
                    show_text(&loc.file),
                    loc.line,
                    loc.column
                ));
            }
        }
        let n = self.errors().len();
        out.text(&format!("{n} error{} found\n", if n == 1 { "" } else { "s" }));
        out.finish()
    }
}

impl PackWarnings {
    /// The warnings rendered as text, as errors are; `color` adds terminal colours.
    pub fn render(&self, color: bool) -> String {
        let files = PackFiles::new(&self.sources);
        let mut out = Renderer::new(color);
        for warning in self.warnings() {
            let message = warning.to_string();
            let mut d = Diagnostic::warning()
                .with_message(show_text(&message))
                .with_labels(vec![Label::primary(warning.span.file as usize, warning.span.range())]);
            if let Some(help) = &warning.help {
                d = d.with_notes(vec![format!("help: {}", show_text(help))]);
            }
            if !out.emit(&files, &d) {
                let loc = self.location(warning);
                out.text(&format!(
                    "warning: {}\n  --> {}:{}:{}\n",
                    show_text(&message),
                    show_text(&loc.file),
                    loc.line,
                    loc.column
                ));
            }
        }
        let n = self.warnings().len();
        out.text(&format!("{n} warning{}\n", if n == 1 { "" } else { "s" }));
        out.finish()
    }
}

/// A pack's sources as codespan reads them, with lines numbered as
/// [`Sources::location`] numbers them, and control characters masked in their text and
/// escaped in their names (a rule file is shown, never obeyed, by the terminal).
struct PackFiles<'s> {
    sources: &'s Sources,
    names: Vec<Cow<'s, str>>,
    texts: Vec<Cow<'s, str>>,
}

impl<'s> PackFiles<'s> {
    fn new(sources: &'s Sources) -> PackFiles<'s> {
        PackFiles {
            sources,
            names: sources.files().iter().map(|f| show_text(&f.name)).collect(),
            texts: sources.files().iter().map(|f| mask_hidden(&f.text)).collect(),
        }
    }

    fn text(&self, id: usize) -> Result<&str, files::Error> {
        self.texts.get(id).map(|t| &**t).ok_or(files::Error::FileMissing)
    }

    /// Where line `line_index` starts; the text's end for the line after the last.
    fn line_start(&self, id: usize, line_index: usize) -> Result<usize, files::Error> {
        let starts = self.sources.line_starts(id as u32);
        match starts.get(line_index) {
            Some(&start) => Ok(start),
            None if line_index == starts.len() => Ok(self.text(id)?.len()),
            None => Err(files::Error::LineTooLarge {
                given: line_index,
                max: starts.len().saturating_sub(1),
            }),
        }
    }
}

impl<'s> Files<'s> for PackFiles<'_> {
    type FileId = usize;
    type Name = &'s str;
    type Source = &'s str;

    fn name(&'s self, id: usize) -> Result<&'s str, files::Error> {
        self.names.get(id).map(|n| &**n).ok_or(files::Error::FileMissing)
    }

    fn source(&'s self, id: usize) -> Result<&'s str, files::Error> {
        self.text(id)
    }

    fn line_index(&'s self, id: usize, byte_index: usize) -> Result<usize, files::Error> {
        let starts = self.sources.line_starts(id as u32);
        Ok(starts.partition_point(|&start| start <= byte_index).saturating_sub(1))
    }

    fn line_number(&'s self, id: usize, line_index: usize) -> Result<usize, files::Error> {
        Ok(self.sources.line_number(id as u32, line_index))
    }

    fn line_range(&'s self, id: usize, line_index: usize) -> Result<std::ops::Range<usize>, files::Error> {
        Ok(self.line_start(id, line_index)?..self.line_start(id, line_index + 1)?)
    }
}

/// Renders codespan diagnostics in the project's one style (ASCII frames, colour optional),
/// for pack errors and test-file errors alike.
pub(crate) struct Renderer {
    config: term::Config,
    out: termcolor::Buffer,
}

impl Renderer {
    pub(crate) fn new(color: bool) -> Renderer {
        let out = if color {
            termcolor::Buffer::ansi()
        } else {
            termcolor::Buffer::no_color()
        };
        Renderer {
            config: term::Config {
                chars: term::Chars::ascii(),
                ..term::Config::default()
            },
            out,
        }
    }

    /// Renders one diagnostic; `false` when the files do not hold its span.
    pub(crate) fn emit<'f, F: Files<'f>>(&mut self, files: &'f F, diagnostic: &Diagnostic<F::FileId>) -> bool {
        term::emit(&mut self.out, &self.config, files, diagnostic).is_ok()
    }

    /// Adds plain text.
    pub(crate) fn text(&mut self, text: &str) {
        use std::io::Write;
        let _ = self.out.write_all(text.as_bytes());
    }

    pub(crate) fn finish(self) -> String {
        String::from_utf8_lossy(self.out.as_slice()).into_owned()
    }
}

impl fmt::Display for PackErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}
