//! Errors that reject a pack, rendered late: `file:line:col`, the source line with a
//! caret under the span, the message and a `help:` (via codespan-reporting).

use std::fmt;

use codespan_reporting::diagnostic::{Diagnostic, Label};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor};

use crate::check::CheckError;
use crate::source::{Location, Sources, Span};
use crate::syntax::ParseError;

/// One reason a pack was rejected.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PackError {
    /// The text does not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// It parses but does not check.
    #[error(transparent)]
    Check(#[from] CheckError),
}

impl PackError {
    /// Where the error is.
    pub fn span(&self) -> Span {
        match self {
            PackError::Parse(e) => e.span,
            PackError::Check(e) => e.span,
        }
    }

    /// The hint, if any.
    pub fn help(&self) -> Option<&str> {
        match self {
            PackError::Parse(e) => e.help.as_deref(),
            PackError::Check(e) => e.help.as_deref(),
        }
    }
}

/// Every error that rejected a pack, with the sources to show them against.
#[derive(Clone, Debug)]
pub struct PackErrors {
    sources: Sources,
    errors: Vec<PackError>,
}

impl std::error::Error for PackErrors {}

impl PackErrors {
    /// Errors sorted by position, so output is stable.
    pub fn new(sources: Sources, mut errors: Vec<PackError>) -> PackErrors {
        errors.sort_by_key(PackError::span);
        errors.dedup();
        PackErrors { sources, errors }
    }

    /// The errors, in source order.
    pub fn errors(&self) -> &[PackError] {
        &self.errors
    }

    /// Where an error is, as `file`, line and column.
    pub fn location(&self, error: &PackError) -> Location {
        self.sources.location(error.span())
    }

    /// The errors rendered as text; `color` adds terminal colours.
    pub fn render(&self, color: bool) -> String {
        let mut files = SimpleFiles::new();
        for f in self.sources.files() {
            files.add(f.name.clone(), f.text.clone());
        }
        let config = term::Config {
            chars: term::Chars::ascii(),
            ..term::Config::default()
        };
        let mut out = if color {
            termcolor::Buffer::ansi()
        } else {
            termcolor::Buffer::no_color()
        };
        for error in &self.errors {
            let span = error.span();
            let mut d = Diagnostic::error()
                .with_message(error.to_string())
                .with_labels(vec![Label::primary(span.file as usize, span.range())]);
            if let Some(help) = error.help() {
                d = d.with_notes(vec![format!("help: {help}")]);
            }
            if term::emit(&mut out, &config, &files, &d).is_err() {
                let loc = self.location(error);
                out_fallback(
                    &mut out,
                    &format!("error: {error}\n  --> {}:{}:{}\n", loc.file, loc.line, loc.column),
                );
            }
        }
        let n = self.errors.len();
        let summary = format!("{n} error{} found\n", if n == 1 { "" } else { "s" });
        out_fallback(&mut out, &summary);
        String::from_utf8_lossy(out.as_slice()).into_owned()
    }
}

fn out_fallback(out: &mut termcolor::Buffer, text: &str) {
    use std::io::Write;
    let _ = out.write_all(text.as_bytes());
}

impl fmt::Display for PackErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}
