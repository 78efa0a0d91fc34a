//! Outcome values → labels: which values mean converted, which mean not, and everything
//! else (a missing field, `open`, `""`) is *unlabelled* and left out of every metric.

/// What an outcome value says about a lead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Label {
    /// The lead converted.
    Positive,
    /// The lead did not convert.
    Negative,
    /// Neither: a missing field or a value in neither list.
    Unlabelled,
}

/// The values that mean converted and not converted, compared case-insensitively.
///
/// ```
/// use leadscore_outcomes::{Label, Labels};
/// let labels = Labels::default();
/// assert_eq!(labels.of(Some(&serde_json::json!("Closed-Won"))), Label::Positive);
/// assert_eq!(labels.of(Some(&serde_json::json!(0))), Label::Negative);
/// assert_eq!(labels.of(Some(&serde_json::json!("open"))), Label::Unlabelled);
/// assert_eq!(labels.of(None), Label::Unlabelled);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Labels {
    positive: Vec<String>,
    negative: Vec<String>,
}

/// The default values meaning converted.
pub const DEFAULT_POSITIVE: [&str; 7] = ["true", "1", "yes", "y", "won", "closed-won", "converted"];
/// The default values meaning not converted.
pub const DEFAULT_NEGATIVE: [&str; 6] = ["false", "0", "no", "n", "lost", "closed-lost"];

impl Default for Labels {
    fn default() -> Self {
        Labels::new(DEFAULT_POSITIVE, DEFAULT_NEGATIVE)
    }
}

impl Labels {
    /// Labels from the two lists of values (trimmed, case-insensitive).
    pub fn new<P: AsRef<str>, N: AsRef<str>>(
        positive: impl IntoIterator<Item = P>,
        negative: impl IntoIterator<Item = N>,
    ) -> Labels {
        let norm = |v: &str| v.trim().to_lowercase();
        Labels {
            positive: positive.into_iter().map(|v| norm(v.as_ref())).collect(),
            negative: negative.into_iter().map(|v| norm(v.as_ref())).collect(),
        }
    }

    /// The values that mean converted.
    pub fn positive(&self) -> &[String] {
        &self.positive
    }

    /// The values that mean not converted.
    pub fn negative(&self) -> &[String] {
        &self.negative
    }

    /// The label of an outcome value (`None`: the lead has no such field).
    pub fn of(&self, value: Option<&serde_json::Value>) -> Label {
        let text = match value {
            None | Some(serde_json::Value::Null) => return Label::Unlabelled,
            Some(serde_json::Value::String(s)) => s.trim().to_lowercase(),
            Some(serde_json::Value::Bool(b)) => b.to_string(),
            Some(serde_json::Value::Number(n)) => match n.as_f64() {
                // `1.0` is `1`: a CSV or spreadsheet export may write either.
                Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", x as i64),
                _ => n.to_string(),
            },
            Some(_) => return Label::Unlabelled,
        };
        if self.positive.contains(&text) {
            Label::Positive
        } else if self.negative.contains(&text) {
            Label::Negative
        } else {
            Label::Unlabelled
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_custom_values() {
        let d = Labels::default();
        for v in [
            json!(true),
            json!("YES"),
            json!(" won "),
            json!(1),
            json!(1.0),
            json!("converted"),
        ] {
            assert_eq!(d.of(Some(&v)), Label::Positive, "{v}");
        }
        for v in [json!(false), json!("N"), json!("closed-lost"), json!(0)] {
            assert_eq!(d.of(Some(&v)), Label::Negative, "{v}");
        }
        for v in [json!(null), json!("open"), json!(2), json!([1]), json!({})] {
            assert_eq!(d.of(Some(&v)), Label::Unlabelled, "{v}");
        }
        let custom = Labels::new(["SQL"], ["Recycled", "Disqualified"]);
        assert_eq!(custom.of(Some(&json!("sql"))), Label::Positive);
        assert_eq!(custom.of(Some(&json!("recycled"))), Label::Negative);
        assert_eq!(custom.of(Some(&json!("true"))), Label::Unlabelled);
    }
}
