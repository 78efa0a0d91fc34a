//! When a result can next change with no new data: the earliest instant after `as_of` at
//! which scoring the same lead again could decide differently. Found from what one
//! evaluation saw (the times of the events it counted, the decaying points of the rules
//! that fired), never later than a real change: an earlier instant only costs a rescore
//! that finds nothing new, a later one would leave a result stale.
//!
//! What changes a result by time alone:
//! - an event after `as_of` (of a type the pack tests) comes, and may be counted;
//! - an event leaves a `within` window: a behaviour turns false (so a `not ... within`
//!   turns true) when fewer than its `at least` remain, and a fired `each` rule's count
//!   changes when any leaves;
//! - decayed points fall towards zero, and a value the MQL condition or a route compares
//!   (`score`, a dimension) crosses what it is compared with, or a dimension's total
//!   crosses its cap;
//! - a plugin's answer changes because it read `as_of()` (found by the pack, which runs
//!   the plugins: [`NextChange::Unpredictable`]).
//!
//! Between those instants the decisions of a result (which rules fire, their counts,
//! tags, disqualification, caps, MQL, route) stay as they are; decayed numbers (points,
//! dimensions, score) fall continuously and are brought up to date by the rescore.

use chrono::{DateTime, Utc};

use super::{Evaluator, Outcome, Scope, Totals};
use crate::program::{Expr, Operand};
use crate::read::Events;
use crate::value::{Millis, Value};

/// When a lead's result can next change with no new data (no new field or event), by
/// time alone. Between `as_of` and that instant, scoring the lead again gives the same
/// decisions (rules fired, `each` counts, tags, disqualification, caps, MQL, route);
/// decayed points, dimensions and the score fall continuously meanwhile.
///
/// ```
/// use leadscore::{NextChange, Pack};
/// let pack = Pack::from_source("demo", "threshold 10\nvisited /pricing within 7d => +10")?;
/// let lead = serde_json::json!({"events": [{"type": "page_view", "path": "/pricing", "at": "2026-03-01T00:00:00Z"}]});
/// let as_of = leadscore::parse_time("2026-03-02T00:00:00Z").unwrap();
/// let (outcome, next) = pack.score_with_next_change(&lead, as_of)?;
/// assert!(outcome.mql);
/// // The visit leaves the 7-day window one millisecond after 7 days.
/// let leaves = leadscore::parse_time("2026-03-08T00:00:00.001Z").unwrap();
/// assert_eq!(next, NextChange::At(leaves));
/// assert_eq!(next.due(as_of, std::time::Duration::from_secs(3600)), Some(leaves));
/// # Ok::<(), leadscore::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextChange {
    /// Nothing in the result depends on time: only new data changes it.
    Never,
    /// The result stays as it is before this instant and may change at it.
    At(DateTime<Utc>),
    /// A plugin's hook or function read `as_of()`, or the result depends on time in a
    /// way that is not predicted (a string test of the score): it may change at any
    /// time, so the lead is scored again after a fallback interval ([`NextChange::due`]),
    /// or at `at`, a predicted change, if that comes first.
    Unpredictable {
        /// A predicted change, as [`NextChange::At`] would give it.
        at: Option<DateTime<Utc>>,
    },
}

impl NextChange {
    /// When to score the lead again, given the `as_of` it was scored at and the interval
    /// that bounds what cannot be predicted: the predicted instant, or for
    /// [`NextChange::Unpredictable`] `as_of + fallback` if that is sooner; `None` for
    /// [`NextChange::Never`].
    ///
    /// ```
    /// use leadscore::NextChange;
    /// use std::time::Duration;
    /// let as_of = leadscore::parse_time("2026-03-01T00:00:00Z").unwrap();
    /// let hour = leadscore::parse_time("2026-03-01T01:00:00Z").unwrap();
    /// assert_eq!(NextChange::Never.due(as_of, Duration::from_secs(60)), None);
    /// assert_eq!(NextChange::At(hour).due(as_of, Duration::from_secs(60)), Some(hour));
    /// let unpredictable = NextChange::Unpredictable { at: Some(hour) };
    /// assert_eq!(unpredictable.due(as_of, Duration::from_secs(60)), leadscore::parse_time("2026-03-01T00:01:00Z"));
    /// assert_eq!(unpredictable.due(as_of, Duration::from_secs(86_400)), Some(hour));
    /// ```
    pub fn due(self, as_of: DateTime<Utc>, fallback: std::time::Duration) -> Option<DateTime<Utc>> {
        match self {
            NextChange::Never => None,
            NextChange::At(at) => Some(at),
            NextChange::Unpredictable { at } => {
                let bound = chrono::TimeDelta::from_std(fallback)
                    .ok()
                    .and_then(|fallback| as_of.checked_add_signed(fallback))
                    .unwrap_or(DateTime::<Utc>::MAX_UTC);
                Some(at.map_or(bound, |at| at.min(bound)))
            }
        }
    }

    /// The same, for a result that a plugin's reading of `as_of()` went into.
    pub(crate) fn unpredictable(self) -> NextChange {
        match self {
            NextChange::Never => NextChange::Unpredictable { at: None },
            NextChange::At(at) => NextChange::Unpredictable { at: Some(at) },
            unpredictable @ NextChange::Unpredictable { .. } => unpredictable,
        }
    }
}

/// The earliest instant seen so far, and whether something unpredictable was.
#[derive(Default)]
struct Soonest {
    at: Option<Millis>,
    unpredictable: bool,
}

impl Soonest {
    fn add(&mut self, at: Millis) {
        self.at = Some(self.at.map_or(at, |soonest| soonest.min(at)));
    }

    fn finish(self) -> NextChange {
        // Past the range of a date (year 262143) is never.
        let at = self.at.and_then(DateTime::from_timestamp_millis);
        match (self.unpredictable, at) {
            (true, at) => NextChange::Unpredictable { at },
            (false, Some(at)) => NextChange::At(at),
            (false, None) => NextChange::Never,
        }
    }
}

/// When the result `ev` gave (`outcome`, from `totals`) can next change with no new data.
pub(super) fn next_change(ev: &Evaluator<'_, '_>, outcome: &Outcome, totals: &Totals) -> NextChange {
    let mut soonest = Soonest::default();
    let later = match &ev.record.events {
        Events::Read(events) => events.later(),
        Events::Json(_) => ev.later,
    };
    if let Some(at) = later {
        soonest.add(at);
    }
    windows(ev, outcome, &mut soonest);
    Drift { ev, totals }.crossings(outcome, &mut soonest);
    soonest.finish()
}

/// The first instant an event counted in a window is out of it: counted while
/// `as_of - within <= at`, it is out one millisecond after `at + within`.
fn leaves(at: Millis, within: Millis) -> Millis {
    at.saturating_add(within).saturating_add(1)
}

/// Events leaving windows: a behaviour turns false when fewer than its `at least` are
/// left, and a fired `each` rule's count (and decayed sum) changes when any leaves.
fn windows(ev: &Evaluator<'_, '_>, outcome: &Outcome, soonest: &mut Soonest) {
    let program = ev.program;
    let mut counted = vec![false; program.behaviours.len()];
    for fired in &outcome.fired {
        let rule = &program.rules[fired.index];
        if rule.points.first().is_some_and(|p| p.each) {
            if let Some(&b) = rule.behaviours.first() {
                counted[b as usize] = true;
            }
        }
    }
    let mut times = Vec::new();
    for (b, test) in program.behaviours.iter().enumerate() {
        let Some(within) = test.within else { continue };
        let from = ev.as_of.saturating_sub(within);
        times.clear();
        times.extend(ev.times(test.matcher).filter(|&at| at >= from));
        if times.is_empty() {
            continue;
        }
        let count = times.len() as u64;
        if count >= test.at_least {
            // True until the `count - at_least + 1`th oldest leaves.
            let k = (count - test.at_least) as usize;
            let (_, &mut kth, _) = times.select_nth_unstable(k);
            soonest.add(leaves(kth, within));
        }
        if counted[b] {
            if let Some(&oldest) = times.iter().min() {
                soonest.add(leaves(oldest, within));
            }
        }
    }
}

/// How far the values the MQL condition and routes compare can move as decayed points
/// fall, and when they can reach what they are compared with.
struct Drift<'e, 'p, 'a> {
    ev: &'e Evaluator<'p, 'a>,
    totals: &'e Totals,
}

/// What a compared value does as time passes (with the rules that fired as they are).
#[derive(Clone, Copy, PartialEq)]
enum Moves {
    /// It stays.
    No,
    /// The score: each dimension's decaying points.
    Score,
    /// A dimension's decaying points.
    Dim(usize),
    /// Something computed from a moving value (a function of the score).
    Opaque,
}

impl Drift<'_, '_, '_> {
    /// Adds when a decision on decaying values can change: the MQL condition (unless the
    /// lead is disqualified, which decides it), the routes (for an MQL), the caps.
    fn crossings(&self, outcome: &Outcome, soonest: &mut Soonest) {
        if self.totals.decaying.iter().all(|&size| size == 0.0) {
            return;
        }
        let program = self.ev.program;
        for (d, dim) in program.dims.iter().enumerate() {
            if let Some(cap) = dim.cap {
                let gap = (self.totals.raw[d] - cap).abs();
                self.cross(gap, self.totals.raw[d].abs() + cap.abs(), &[Moves::Dim(d)], soonest);
            }
        }
        if outcome.disqualified.is_some() {
            return;
        }
        if let Some((expr, _)) = &program.mql {
            self.expr(expr, soonest);
        }
        if outcome.mql {
            for expr in program.routes.iter().filter_map(|r| r.when.as_ref()) {
                self.expr(expr, soonest);
            }
        }
    }

    fn expr(&self, expr: &Expr, soonest: &mut Soonest) {
        match expr {
            Expr::Or(parts) | Expr::And(parts) => parts.iter().for_each(|p| self.expr(p, soonest)),
            Expr::Not(inner) => self.expr(inner, soonest),
            Expr::Compare(a, _, b) => self.compare(a, b, soonest),
            Expr::In(a, list) => match self.moves(a) {
                Moves::No => {}
                Moves::Opaque => soonest.unpredictable = true,
                moving => self.against(moving, list.iter().filter_map(Value::as_num), soonest),
            },
            // A number always exists; a function of a moving value may stop existing.
            Expr::Exists(a) => {
                if self.moves(a) == Moves::Opaque {
                    soonest.unpredictable = true;
                }
            }
            // Tests of text: the text of a moving number changes with every digit.
            Expr::Words(a, _) | Expr::Regex(a, _) | Expr::Truthy(a) => {
                if self.moves(a) != Moves::No {
                    soonest.unpredictable = true;
                }
            }
            Expr::Str(_, a, b) => {
                if self.moves(a) != Moves::No || self.moves(b) != Moves::No {
                    soonest.unpredictable = true;
                }
            }
            Expr::Behaviour(_) | Expr::Let(_) => {}
        }
    }

    /// `a OP b`: it can change only where `a - b` crosses zero (a number against a value
    /// of another kind, or none, is decided by the kinds).
    fn compare(&self, a: &Operand, b: &Operand, soonest: &mut Soonest) {
        match (self.moves(a), self.moves(b)) {
            (Moves::No, Moves::No) => {}
            (Moves::Opaque, _) | (_, Moves::Opaque) => soonest.unpredictable = true,
            (Moves::No, moving) => self.against_operand(moving, a, soonest),
            (moving, Moves::No) => self.against_operand(moving, b, soonest),
            (x, y) => {
                let (vx, vy) = (self.number(x), self.number(y));
                self.cross((vx - vy).abs(), vx.abs() + vy.abs(), &[x, y], soonest);
            }
        }
    }

    /// A moving value against an operand that stays (a field, a literal, a function of
    /// them, evaluated again here).
    fn against_operand(&self, moving: Moves, still: &Operand, soonest: &mut Soonest) {
        let scope = Scope::Outcome {
            score: self.totals.score,
            dims: &self.totals.dims,
        };
        match self.ev.value(still, &scope) {
            Ok(value) => match &*value {
                Value::List(items) => self.against(moving, items.iter().filter_map(Value::as_num), soonest),
                value => self.against(moving, value.as_num(), soonest),
            },
            // A function the evaluation did not call (or that failed): not predicted.
            Err(_) => soonest.unpredictable = true,
        }
    }

    /// A moving value against numbers it may cross.
    fn against(&self, moving: Moves, numbers: impl IntoIterator<Item = f64>, soonest: &mut Soonest) {
        let value = self.number(moving);
        for n in numbers {
            self.cross((value - n).abs(), value.abs() + n.abs(), &[moving], soonest);
        }
    }

    /// What an operand does as time passes.
    fn moves(&self, operand: &Operand) -> Moves {
        let decaying = &self.totals.decaying;
        match operand {
            Operand::Score if decaying.iter().any(|&s| s > 0.0) => Moves::Score,
            Operand::Dim(d) if decaying.get(*d as usize).is_some_and(|&s| s > 0.0) => Moves::Dim(*d as usize),
            Operand::Call(_, args) if args.iter().any(|a| self.moves(a) != Moves::No) => Moves::Opaque,
            _ => Moves::No,
        }
    }

    /// The value of a moving operand now.
    fn number(&self, moving: Moves) -> f64 {
        match moving {
            Moves::Score => self.totals.score,
            Moves::Dim(d) => self.totals.dims[d],
            Moves::No | Moves::Opaque => 0.0,
        }
    }

    /// How far the sum of `moving` values can have moved `delta` ms after `as_of`: each
    /// dimension's decaying points `s` fall to `s * 0.5^(delta / half-life)`, and a cap
    /// or a rule's `max` moves a value no more than that.
    fn reach(&self, moving: &[Moves], delta: Millis) -> f64 {
        let dims = &self.ev.program.dims;
        let mut total = 0.0;
        for (d, (&size, dim)) in self.totals.decaying.iter().zip(dims).enumerate() {
            let (Some(half_life), true) = (dim.half_life, size > 0.0) else {
                continue;
            };
            let weight = moving
                .iter()
                .filter(|m| matches!(m, Moves::Score) || **m == Moves::Dim(d))
                .count();
            if weight > 0 {
                let fallen = 1.0 - 0.5f64.powf(delta as f64 / half_life as f64);
                total += weight as f64 * size * fallen;
            }
        }
        total
    }

    /// Adds the first instant at which values `moving`, `gap` apart from what they are
    /// compared with (numbers of size `scale`), may have closed the gap. Conservative: the
    /// gap is shrunk by far more than the rounding of the sums, and the reach bounds the
    /// real movement.
    fn cross(&self, gap: f64, scale: f64, moving: &[Moves], soonest: &mut Soonest) {
        /// Beyond 2^52 ms (142,000 years) nothing is due.
        const FAR: Millis = 1 << 52;
        let target = gap - 1e-9 * (1.0 + scale + self.reach(moving, FAR));
        if self.reach(moving, FAR) < target {
            return;
        }
        let as_of = self.ev.as_of;
        if target <= 0.0 {
            soonest.add(as_of.saturating_add(1));
            return;
        }
        // The smallest delta with reach(delta) >= target, by doubling then halving.
        let mut high: Millis = 1;
        while self.reach(moving, high) < target {
            if high >= FAR {
                return;
            }
            high *= 2;
        }
        let mut low = high / 2;
        while high - low > 1 {
            let mid = low + (high - low) / 2;
            if self.reach(moving, mid) >= target {
                high = mid;
            } else {
                low = mid;
            }
        }
        soonest.add(as_of.saturating_add(high));
    }
}
