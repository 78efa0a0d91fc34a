//! The outcomes layer's error: why `fit` ([`super::tune::fit`]) could not fit a pack, or
//! an option of `backtest` or `fit` is out of range, kept structured until the command
//! line (or the Python module) renders it.

use super::fit::FitError;

/// Why a pack could not be fitted (nothing is written then), or an option was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutcomesError {
    /// An option is out of its range (`--lambda nan`, `--holdout 1`).
    #[error("{option} must be {expected}, not {value}")]
    Option {
        /// The option, as the command line spells it (`--lambda`).
        option: &'static str,
        /// The value given, as text.
        value: String,
        /// What it must be.
        expected: &'static str,
    },
    /// The regression could not be fitted.
    #[error(transparent)]
    Regression(#[from] FitError),
    /// The leads could not be read (an unreadable file, a bad delimiter).
    #[error("{0}")]
    Leads(Box<dyn std::error::Error + Send + Sync>),
    /// The rewritten pack does not build: a bug in fit, caught before anything is written.
    #[error("the fitted pack does not check, so nothing was written: {0}")]
    Refitted(crate::Error),
}
