//! Rule coverage: which rules any case or sample lead made fire (like `opa test --coverage`).

use std::fmt;

use crate::eval::Outcome;
use crate::program::Program;

/// Per rule, how many cases and sample leads made it fire.
///
/// ```
/// use leadscore::Pack;
/// use leadscore::packtest::Coverage;
/// let pack = Pack::from_source("demo", "rule \"CEO\": title ~ CEO => +5\nrule \"VP\": title ~ VP => +3")?;
/// let as_of = leadscore::parse_time("2026-01-01T00:00:00Z").unwrap();
/// let outcome = pack.score(&serde_json::json!({"title": "CEO"}), as_of)?;
/// let coverage = Coverage::new(pack.program(), [&outcome], []);
/// assert_eq!(coverage.percent(), 50.0);
/// assert_eq!(coverage.not_exercised().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["VP"]);
/// # Ok::<(), leadscore::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Coverage {
    /// Every rule of the pack, in file order.
    pub rules: Vec<RuleCoverage>,
}

/// One rule's line in a coverage report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleCoverage {
    /// The rule's name (or condition text).
    pub name: String,
    /// `file:line` of the rule.
    pub location: String,
    /// Cases whose lead made it fire.
    pub cases: usize,
    /// Sample leads that made it fire.
    pub samples: usize,
}

impl RuleCoverage {
    /// Whether anything made the rule fire.
    pub fn exercised(&self) -> bool {
        self.cases + self.samples > 0
    }
}

impl Coverage {
    /// Counts, per rule of `program`, the case and sample-lead outcomes in which it fired.
    pub fn new<'a>(
        program: &Program,
        cases: impl IntoIterator<Item = &'a Outcome>,
        samples: impl IntoIterator<Item = &'a Outcome>,
    ) -> Coverage {
        let mut rules: Vec<RuleCoverage> = program
            .rules()
            .into_iter()
            .map(|r| RuleCoverage {
                name: r.name,
                location: r.location,
                cases: 0,
                samples: 0,
            })
            .collect();
        let mut count = |outcome: &Outcome, case: bool| {
            for fired in outcome.fired() {
                // The fired rule's index finds it; the check keeps an outcome of another
                // program (or one read back from JSON) from counting for the wrong rule.
                let rule = rules.get_mut(fired.index());
                if let Some(rule) = rule.filter(|r| r.location == fired.location() && r.name == fired.rule()) {
                    if case {
                        rule.cases += 1;
                    } else {
                        rule.samples += 1;
                    }
                }
            }
        };
        cases.into_iter().for_each(|o| count(o, true));
        samples.into_iter().for_each(|o| count(o, false));
        Coverage { rules }
    }

    /// The share of rules exercised, 0 to 100 (100 for a pack without rules).
    pub fn percent(&self) -> f64 {
        if self.rules.is_empty() {
            return 100.0;
        }
        let hit = self.rules.iter().filter(|r| r.exercised()).count();
        hit as f64 * 100.0 / self.rules.len() as f64
    }

    /// The rules nothing made fire.
    pub fn not_exercised(&self) -> impl Iterator<Item = &RuleCoverage> {
        self.rules.iter().filter(|r| !r.exercised())
    }
}

/// The report: one line per rule (location, name, what fired it), then the rules nothing
/// exercises and the percentage.
impl fmt::Display for Coverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loc_width = self.rules.iter().map(|r| r.location.chars().count()).max().unwrap_or(0);
        let name_width = self
            .rules
            .iter()
            .map(|r| r.name.chars().count())
            .max()
            .unwrap_or(0)
            .min(48);
        for r in &self.rules {
            let what = if r.exercised() {
                format!("{}, {}", plural(r.cases, "case"), plural(r.samples, "sample lead"))
            } else {
                "NOT EXERCISED".to_string()
            };
            writeln!(f, "  {:<loc_width$}  {:<name_width$}  {what}", r.location, r.name)?;
        }
        let missing: Vec<&RuleCoverage> = self.not_exercised().collect();
        if !missing.is_empty() {
            writeln!(f, "  not exercised:")?;
            for r in missing {
                writeln!(f, "    {} ({})", r.name, r.location)?;
            }
        }
        let hit = self.rules.len() - self.not_exercised().count();
        writeln!(
            f,
            "  coverage: {hit} of {} rules ({})",
            self.rules.len(),
            percent(self.percent())
        )
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// `100%`, `92.3%`: one decimal, none when whole.
pub(crate) fn percent(p: f64) -> String {
    let s = format!("{p:.1}");
    format!("{}%", s.strip_suffix(".0").unwrap_or(&s))
}
