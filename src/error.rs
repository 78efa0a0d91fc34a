//! The crate's error: one variant per layer, each structured until it is shown.

use std::path::PathBuf;

pub use crate::pack::{PackError, PackErrors};

/// Anything the library can fail with.
#[derive(Debug, thiserror::Error)]
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
