//! The plugin-load layer's error: a plugin a pack names that cannot be used, or a `limit`
//! statement that is wrong. The build wraps it as a `PackError`.

use crate::check::did_you_mean;
use crate::source::Span;

/// Why a pack's plugins could not be loaded as it names them: what kind, where, a hint.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{kind}")]
pub struct LoadError {
    /// What went wrong; it displays in the author's words.
    pub kind: LoadErrorKind,
    /// Where: the `plugin` or `limit` statement's part at fault, or the place in the script.
    pub span: Span,
    /// A hint, when there is one.
    pub help: Option<String>,
}

/// The kinds of plugin-load error.
#[derive(Clone, Debug, PartialEq, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
#[non_exhaustive]
pub enum LoadErrorKind {
    /// No plugin of that name on the plugin path.
    #[error("unknown plugin `{0}`")]
    UnknownPlugin(String),
    /// A plugin named twice.
    #[error("plugin `{0}` is named twice")]
    DuplicatePlugin(String),
    /// A plugin named with folders in it.
    #[error("a plugin is named by its file name, without folders: `{0}` is not allowed")]
    PathEscapes(String),
    /// A `limit` that does not exist.
    #[error("unknown limit `{0}`")]
    UnknownLimit(String),
    /// A script that cannot be read, does not parse or defines its functions wrongly, or a
    /// limit set wrongly: the message says which.
    #[error("{0}")]
    Plugin(String),
}

impl LoadError {
    pub(crate) fn new(kind: LoadErrorKind, span: Span) -> LoadError {
        LoadError { kind, span, help: None }
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> LoadError {
        self.help = Some(help.into());
        self
    }

    /// Adds "did you mean ...?" when a known name is close to `name`.
    pub(crate) fn suggest<'a>(mut self, name: &str, known: impl IntoIterator<Item = &'a str>) -> LoadError {
        if let Some(best) = did_you_mean(name, known) {
            self.help = Some(format!("did you mean `{best}`?"));
        }
        self
    }

    /// Adds `help` unless there is a hint already.
    pub(crate) fn or_help(self, help: impl Into<String>) -> LoadError {
        if self.help.is_some() {
            self
        } else {
            self.help(help)
        }
    }
}

impl LoadErrorKind {
    /// The kind's stable name in snake_case (`unknown_plugin`, `unknown_limit`, ...).
    pub fn code(&self) -> &'static str {
        self.into()
    }
}
