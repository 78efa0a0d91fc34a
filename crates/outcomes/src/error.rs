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
    /// No lead read has a value of the outcome field in either list.
    #[error(
        "no lead has a converted or not-converted `{field}`: of {read} leads read, {missing} have no `{field}`{}; \
         converted is one of {}, not converted one of {} (name others with --positive and --negative)",
        values_seen(values, ", the others have "),
        list(positive),
        list(negative)
    )]
    NoLabelled {
        /// The outcome field.
        field: String,
        /// Leads read (not failed).
        read: u64,
        /// Of which without the field.
        missing: u64,
        /// The first few values seen that are in neither list.
        values: Vec<String>,
        /// The values that mean converted.
        positive: Vec<String>,
        /// The values that mean not converted.
        negative: Vec<String>,
    },
    /// The regression could not be fitted.
    #[error(transparent)]
    Regression(#[from] FitError),
    /// The leads could not be read (an unreadable file, a bad delimiter).
    #[error("{0}")]
    Leads(Box<dyn std::error::Error + Send + Sync>),
    /// The rewritten pack does not build: a bug in fit, caught before anything is written.
    #[error("the fitted pack does not check, so nothing was written: {0}")]
    Refitted(leadscore::Error),
}

/// `true, 1, yes` (or `(none)`).
fn list(values: &[String]) -> String {
    if values.is_empty() {
        "(none)".to_string()
    } else {
        values.join(", ")
    }
}

/// `, values: "2", "-1"`, or nothing.
pub(crate) fn values_seen(values: &[String], lead: &str) -> String {
    if values.is_empty() {
        return String::new();
    }
    let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    format!("{lead}{}", quoted.join(", "))
}
