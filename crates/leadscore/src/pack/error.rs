//! The pack layer's errors: every reason a pack was rejected (parse, plugin load, check),
//! sorted by position, with the sources to show them against (rendered by
//! `diagnostic.rs`); and the crate's [`Error`], what loading a pack (or anything built on
//! packs) fails with: one variant per layer, each structured until it is shown.

use std::path::PathBuf;

use crate::check::{CheckError, CheckWarning};
use crate::plugin::LoadError;
use crate::source::{Location, Sources, Span};
use crate::syntax::ParseError;

/// One reason a pack was rejected.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PackError {
    /// The text does not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A plugin it names cannot be loaded, or a `limit` is wrong.
    #[error(transparent)]
    Plugin(#[from] LoadError),
    /// It parses but does not check.
    #[error(transparent)]
    Check(#[from] CheckError),
}

impl PackError {
    /// Where the error is.
    pub fn span(&self) -> Span {
        match self {
            PackError::Parse(e) => e.span,
            PackError::Plugin(e) => e.span,
            PackError::Check(e) => e.span,
        }
    }

    /// The layer that rejected the pack: `parse`, `plugin` or `check`.
    pub fn layer(&self) -> &'static str {
        match self {
            PackError::Parse(_) => "parse",
            PackError::Plugin(_) => "plugin",
            PackError::Check(_) => "check",
        }
    }

    /// The error's kind as a stable snake_case name, unique across the layers
    /// (`unexpected`, `unknown_plugin`, `unknown_dimension`, ...): what a program that
    /// stores or sends the error keeps beside its message and location.
    ///
    /// ```
    /// let Err(leadscore::Error::Pack(errors)) = leadscore::Pack::from_source("p", "title ~ VP => +5 fti") else {
    ///     panic!("the pack should not load");
    /// };
    /// assert_eq!((errors.errors()[0].layer(), errors.errors()[0].code()), ("check", "unknown_dimension"));
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            PackError::Parse(e) => e.kind.code(),
            PackError::Plugin(e) => e.kind.code(),
            PackError::Check(e) => e.kind.code(),
        }
    }

    /// The hint, if any.
    pub fn help(&self) -> Option<&str> {
        match self {
            PackError::Parse(e) => e.help.as_deref(),
            PackError::Plugin(e) => e.help.as_deref(),
            PackError::Check(e) => e.help.as_deref(),
        }
    }
}

/// Every error that rejected a pack, with the sources to show them against.
///
/// ```
/// let Err(leadscore::Error::Pack(errors)) = leadscore::Pack::from_source("p", "title ~ VP => +5 fti") else {
///     panic!("the pack should not load");
/// };
/// let first = &errors.errors()[0];
/// assert_eq!(first.to_string(), "unknown dimension `fti`");
/// assert_eq!(errors.location(first).column, 18);
/// assert!(errors.render(false).contains("--> p.rules:1:18"));
/// ```
#[derive(Clone, Debug)]
pub struct PackErrors {
    pub(crate) sources: Sources,
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
}

/// A pack's check warnings ([`CheckWarning`]), with the sources to show them against:
/// what is probably a mistake in a pack that loads. See [`crate::Pack::field_warnings`].
#[derive(Clone, Debug)]
pub struct PackWarnings {
    pub(crate) sources: Sources,
    warnings: Vec<CheckWarning>,
}

impl PackWarnings {
    /// Warnings sorted by position.
    pub fn new(sources: Sources, mut warnings: Vec<CheckWarning>) -> PackWarnings {
        warnings.sort_by_key(|w| w.span);
        PackWarnings { sources, warnings }
    }

    /// The warnings, in source order.
    pub fn warnings(&self) -> &[CheckWarning] {
        &self.warnings
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.warnings.is_empty()
    }

    /// Where a warning is, as `file`, line and column.
    pub fn location(&self, warning: &CheckWarning) -> Location {
        self.sources.location(warning.span)
    }
}

/// Anything the library can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The pack does not parse or check; every error found, with sources to render them.
    #[error(transparent)]
    Pack(#[from] PackErrors),
    /// A file or folder could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// What could not be read.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file could not be read through the bounded opener ([`crate::file`]).
    #[error(transparent)]
    File(#[from] crate::file::FileError),
    /// A pack folder holds no `*.rules` files.
    #[error("{} holds no *.rules files", .0.display())]
    EmptyPack(PathBuf),
    /// A folder could not be watched for changes (hot reload).
    #[error("cannot watch {}: {message}", path.display())]
    Watch {
        /// The folder.
        path: PathBuf,
        /// Why, as the file watcher reported it.
        message: String,
    },
    /// One lead could not be scored.
    #[error(transparent)]
    Eval(#[from] crate::eval::EvalError),
}
