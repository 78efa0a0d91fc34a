//! Learned decay (`fit --decay`): for each dimension whose points come from event-driven
//! rules, the half-life that best predicts the outcome. The pack is scored with each
//! half-life tried and the points fitted again; the regression's log-likelihood over the
//! training leads, as a function of the half-life (its profile), is searched on a doubling
//! grid and then by golden section around the grid's best. The interval holds the
//! half-lives whose profile is within 1.92 of the top (a likelihood-ratio interval at
//! 95%). Where the data cannot tell — too few training leads with those events, or no
//! decay predicts as well as the best half-life — it says so and the statement is kept.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

use leadscore::ast::{Action, Ast, Cond, CondKind, Millis, StatementKind};
use leadscore::{Sources, Span};

/// A dimension that event-driven rules give points to: what `fit --decay` can learn.
#[derive(Clone, Debug, PartialEq)]
pub struct Decayable {
    /// The dimension's name.
    pub dimension: String,
    /// Its event-driven rules (indices in file order, as [`super::Rules`] has them).
    pub rules: Vec<u32>,
    /// Its `decay` statement: the half-life's span and value.
    pub statement: Option<(Span, Millis)>,
}

/// The dimensions of a pack whose points come (in part) from rules with behaviours.
///
/// ```
/// let pack = leadscore::Pack::from_source("demo", "dimension intent\ndimension fit\ntitle ~ VP => +10 fit\nvisited /pricing => +10 intent\ndecay fit half-life 7d")?;
/// let found = leadscore_outcomes::decay::decayable(pack.sources());
/// assert_eq!(found.len(), 1, "only intent has an event-driven rule");
/// assert_eq!((found[0].dimension.as_str(), found[0].rules.as_slice()), ("intent", &[1][..]));
/// # Ok::<(), leadscore::Error>(())
/// ```
pub fn decayable(sources: &Sources) -> Vec<Decayable> {
    let ast = parse(sources);
    let lets: HashMap<&str, &Cond> = ast
        .statements
        .iter()
        .filter_map(|s| match &s.kind {
            StatementKind::Let { name, cond } => Some((name.node.as_str(), cond)),
            _ => None,
        })
        .collect();
    let mut found: Vec<Decayable> = Vec::new();
    let rules = ast.statements.iter().filter_map(|s| match &s.kind {
        StatementKind::Rule(rule) => Some(rule),
        _ => None,
    });
    for (i, rule) in rules.enumerate() {
        let dim = rule.actions.iter().find_map(|a| match &a.node {
            Action::Points { dim, .. } => Some(dim.as_ref().map(|d| d.node.clone())),
            _ => None,
        });
        let (Some(Some(dim)), true) = (dim, has_behaviour(&rule.cond, &lets, 0)) else {
            continue;
        };
        match found.iter_mut().find(|d| d.dimension == dim) {
            Some(d) => d.rules.push(i as u32),
            None => found.push(Decayable {
                dimension: dim,
                rules: vec![i as u32],
                statement: None,
            }),
        }
    }
    for s in &ast.statements {
        if let StatementKind::Decay { dim, half_life } = &s.kind {
            if let Some(d) = found.iter_mut().find(|d| d.dimension == dim.node) {
                d.statement = Some((half_life.span, half_life.node));
            }
        }
    }
    found
}

fn parse(sources: &Sources) -> Ast {
    let mut ast = Ast::default();
    for (i, file) in sources.files().iter().enumerate() {
        leadscore::syntax::parse_file(i as u32, &file.text, &mut ast, &mut Vec::new());
    }
    ast
}

/// The deepest chain of `let`s followed (a cycle is a check error already).
const LET_DEPTH: usize = 32;

/// Whether a condition has a behaviour outside every `not`: what decay measures age from.
fn has_behaviour(cond: &Cond, lets: &HashMap<&str, &Cond>, depth: usize) -> bool {
    match &cond.kind {
        CondKind::Behaviour(_) => true,
        CondKind::Or(parts) | CondKind::And(parts) => parts.iter().any(|p| has_behaviour(p, lets, depth)),
        CondKind::Not(_) | CondKind::Test(_) => false,
        CondKind::LetRef(name) => {
            depth < LET_DEPTH
                && lets
                    .get(name.as_str())
                    .is_some_and(|c| has_behaviour(c, lets, depth + 1))
        }
    }
}

/// The edits that give each `(dimension, half-life)` its `decay` statement: in place of
/// the one it has, or one comment and the new statements appended to the first file.
pub fn edits(sources: &Sources, dims: &[(&Decayable, Millis)]) -> Vec<(Span, String)> {
    let mut edits = Vec::new();
    let mut appended = String::new();
    for (d, half_life) in dims {
        match d.statement {
            Some((span, _)) => edits.push((span, duration_text(*half_life))),
            None => appended.push_str(&format!(
                "decay {} half-life {}\n",
                d.dimension,
                duration_text(*half_life)
            )),
        }
    }
    if let (false, Some(file)) = (appended.is_empty(), sources.files().first()) {
        let text = &file.text;
        let newline = if text.is_empty() || text.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        edits.push((
            Span::new(0, text.len(), text.len()),
            format!("{newline}\n# Half-lives learned from the outcomes by `leadscore fit --decay`.\n{appended}"),
        ));
    }
    edits
}

const HOUR: Millis = 3_600_000;

/// A half-life as a pack writes it: whole days, or else whole hours (`14d`, `36h`).
pub fn duration_text(ms: Millis) -> String {
    let hours = (ms as f64 / HOUR as f64).round().max(1.0) as i64;
    if hours % 24 == 0 {
        format!("{}d", hours / 24)
    } else {
        format!("{hours}h")
    }
}

/// The grid's first half-life: 6 hours.
const GRID_START: Millis = 6 * HOUR;
/// Half-lives on the grid, each twice the one before: 6 hours to 512 days.
const GRID_STEPS: u32 = 12;
/// Golden-section steps around the grid's best (the bracket shrinks to about 5% of a
/// factor of 4).
const GOLDEN_STEPS: usize = 6;
/// "No decay": a half-life of a century leaves every event's points as they are.
pub const NO_DECAY: Millis = 36_500 * 24 * HOUR;
/// Half the 95% quantile of χ² with one degree of freedom: a likelihood-ratio interval.
const CUTOFF: f64 = 1.92;

/// What `fit --decay` found for one dimension.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LearnedDecay {
    /// The dimension.
    pub dimension: String,
    /// Its half-life before, in days (`None`: it had no `decay` statement).
    pub old_days: Option<f64>,
    /// Training leads for which its event-driven rules fired.
    pub fired: u64,
    /// The half-life that predicts the outcome best, in days (`None`: not searched, or no
    /// decay predicts it better than any half-life tried).
    pub half_life_days: Option<f64>,
    /// The 95% interval's low end in days (`None`: below the shortest half-life tried).
    pub low_days: Option<f64>,
    /// The 95% interval's high end in days (`None`: no decay is in the interval).
    pub high_days: Option<f64>,
    /// How much the best half-life raises the log-likelihood over no decay.
    pub gain: Option<f64>,
    /// The statement written into the fitted pack (`None`: kept as it was).
    pub written: Option<String>,
    /// Why nothing was written, when nothing was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The profile: every half-life tried (days) with the training log-likelihood.
    pub profile: Vec<(f64, f64)>,
}

/// One half-life tried: the training log-likelihood, and the training leads the
/// dimension's event-driven rules fired for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tried {
    /// The regression's log-likelihood over the training leads.
    pub log_likelihood: f64,
    /// Training leads for which the dimension's event-driven rules fired.
    pub fired: u64,
}

/// Searches the half-life of `dim`: `evaluate` scores the leads with a half-life and fits
/// the points (see [`super::tune::fit`]). Leads too few (under `min_fired`) are not searched.
///
/// ```
/// use leadscore_outcomes::decay::{learn, Decayable, Tried};
/// let dim = Decayable { dimension: "intent".into(), rules: vec![0], statement: None };
/// // A profile peaking at a 10-day half-life.
/// let day = 86_400_000.0;
/// let learned = learn(&dim, 30, |ms| Ok::<_, ()>(Tried { log_likelihood: -((ms as f64 / day / 10.0).ln().powi(2)) * 20.0, fired: 500 }))?;
/// assert!((learned.half_life_days.unwrap() / 10.0 - 1.0).abs() < 0.05, "{learned:?}");
/// assert!(learned.written.unwrap().starts_with("decay intent half-life "));
/// # Ok::<(), ()>(())
/// ```
pub fn learn<E>(
    dim: &Decayable,
    min_fired: u64,
    mut evaluate: impl FnMut(Millis) -> Result<Tried, E>,
) -> Result<LearnedDecay, E> {
    let none = evaluate(NO_DECAY)?;
    let mut learned = LearnedDecay {
        dimension: dim.dimension.clone(),
        old_days: dim.statement.map(|(_, ms)| days(ms)),
        fired: none.fired,
        half_life_days: None,
        low_days: None,
        high_days: None,
        gain: None,
        written: None,
        note: None,
        profile: Vec::new(),
    };
    if none.fired < min_fired {
        learned.note = Some(format!(
            "its event-driven rules fired for {} training leads (fewer than {min_fired}): too few to tell a half-life; kept",
            none.fired
        ));
        return Ok(learned);
    }
    let profile = search(&mut evaluate)?;
    let (best, top) = profile
        .iter()
        .copied()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((NO_DECAY, none.log_likelihood));
    learned.profile = profile.iter().map(|&(ms, ll)| (days(ms), ll)).collect();
    learned.gain = Some(top - none.log_likelihood);
    if none.log_likelihood >= top {
        learned.note = Some("no decay predicts the outcome best: kept".to_string());
        return Ok(learned);
    }
    let (low, high) = interval(&profile, best, top - CUTOFF, none.log_likelihood);
    learned.half_life_days = Some(days(best));
    learned.low_days = low;
    learned.high_days = high;
    match high {
        None => {
            learned.note =
                Some(format!(
                "no decay predicts the outcome as well (the likelihood is flat above {}): the data cannot tell; kept",
                low.map_or_else(|| "the shortest half-life tried".to_string(), |d| format!("{}d", round_days(d)))
            ));
        }
        Some(_) => {
            learned.written = Some(format!("decay {} half-life {}", dim.dimension, duration_text(best)));
        }
    }
    Ok(learned)
}

/// The profile over the grid and a golden-section search around its best: `(half-life,
/// log-likelihood)` sorted by half-life, each whole hour tried once.
fn search<E>(evaluate: &mut impl FnMut(Millis) -> Result<Tried, E>) -> Result<Vec<(Millis, f64)>, E> {
    let mut seen: HashMap<Millis, f64> = HashMap::new();
    let mut at = |ms: f64, seen: &mut HashMap<Millis, f64>| -> Result<(Millis, f64), E> {
        let ms = ((ms / HOUR as f64).round().max(1.0) as Millis) * HOUR;
        if let Some(&ll) = seen.get(&ms) {
            return Ok((ms, ll));
        }
        let ll = evaluate(ms)?.log_likelihood;
        seen.insert(ms, ll);
        Ok((ms, ll))
    };
    let grid: Vec<f64> = (0..GRID_STEPS)
        .map(|k| (GRID_START as f64).log2() + f64::from(k))
        .collect();
    let mut best = (0, f64::NEG_INFINITY);
    for (k, &g) in grid.iter().enumerate() {
        let (_, ll) = at(g.exp2(), &mut seen)?;
        if ll > best.1 {
            best = (k, ll);
        }
    }
    // Golden section in log2(half-life) over the best grid point's neighbours.
    let (mut a, mut b) = (grid[best.0.saturating_sub(1)], grid[(best.0 + 1).min(grid.len() - 1)]);
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..GOLDEN_STEPS {
        let (c, d) = (b - ratio * (b - a), a + ratio * (b - a));
        let (_, fc) = at(c.exp2(), &mut seen)?;
        let (_, fd) = at(d.exp2(), &mut seen)?;
        if fc >= fd {
            b = d;
        } else {
            a = c;
        }
    }
    let mut profile: Vec<(Millis, f64)> = seen.into_iter().collect();
    profile.sort_by_key(|p| p.0);
    Ok(profile)
}

/// The interval around `best` where the profile stays at or above `cutoff`, its ends
/// interpolated in log half-life (days); `None` at the low end when the shortest
/// half-life tried is inside, at the high end when no decay (`none`) is.
fn interval(profile: &[(Millis, f64)], best: Millis, cutoff: f64, none: f64) -> (Option<f64>, Option<f64>) {
    let Some(i) = profile.iter().position(|p| p.0 == best) else {
        return (None, None);
    };
    let cross = |inside: (Millis, f64), outside: (Millis, f64)| {
        let t = (inside.1 - cutoff) / (inside.1 - outside.1);
        let (x0, x1) = ((inside.0 as f64).ln(), (outside.0 as f64).ln());
        days((x0 + t * (x1 - x0)).exp() as Millis)
    };
    let low = (0..i)
        .rev()
        .find(|&j| profile[j].1 < cutoff)
        .map(|j| cross(profile[j + 1], profile[j]));
    let high = match (i + 1..profile.len()).find(|&j| profile[j].1 < cutoff) {
        Some(j) => Some(cross(profile[j - 1], profile[j])),
        // Past the longest half-life tried: bounded only when no decay is outside.
        None if none < cutoff => profile.last().map(|p| (*p, (NO_DECAY, none))).map(|(a, b)| cross(a, b)),
        None => None,
    };
    (low, high.filter(|_| none < cutoff))
}

fn days(ms: Millis) -> f64 {
    ms as f64 / (24 * HOUR) as f64
}

/// Days as a report shows them: one decimal under 10, whole above.
fn round_days(d: f64) -> String {
    if d < 10.0 {
        format!("{:.1}", d)
    } else {
        format!("{:.0}", d)
    }
}

impl fmt::Display for LearnedDecay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let was = self
            .old_days
            .map_or_else(|| "no decay".to_string(), |d| format!("half-life {}d", round_days(d)));
        write!(
            f,
            "  {} (was {was}; fired for {} training leads): ",
            self.dimension, self.fired
        )?;
        if let Some(best) = self.half_life_days {
            let end =
                |d: Option<f64>, open: &str| d.map_or_else(|| open.to_string(), |d| format!("{}d", round_days(d)));
            write!(
                f,
                "best half-life {}d, 95% interval {} … {}",
                round_days(best),
                end(self.low_days, "under 6h"),
                end(self.high_days, "no decay")
            )?;
            if let Some(gain) = self.gain {
                write!(f, ", log-likelihood {gain:+.1} over no decay")?;
            }
            write!(f, "; ")?;
        }
        match (&self.written, &self.note) {
            (Some(w), _) => writeln!(f, "written `{w}`"),
            (None, Some(note)) => writeln!(f, "{note}"),
            (None, None) => writeln!(f, "kept"),
        }
    }
}
