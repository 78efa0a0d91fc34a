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

use super::{Decaying, Evaluator, Outcome, Scope, Totals};
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
    let drift = Drift { ev, totals };
    let later = Later::of(ev);
    let live = Live::find(ev, &drift, &later, outcome);
    let mut soonest = Soonest::default();
    later.events(ev, &live, &mut soonest);
    windows(ev, outcome, &live, &mut soonest);
    drift.caps(&mut soonest);
    for leaf in &live.leaves {
        drift.leaf(leaf, &mut soonest);
    }
    soonest.finish()
}

/// What a decision can follow as time passes, for this lead: the behaviours, and the
/// tests of decaying values, in conditions whose value is not already fixed by the tests
/// that do not change (`title ~ CEO and visited /pricing within 7d` for a lead that is not
/// a CEO follows nothing).
struct Live<'p> {
    /// Per behaviour, whether a decision follows it.
    behaviours: Vec<bool>,
    /// Tests of decaying values (`score >= 50`) a decision follows.
    leaves: Vec<&'p Expr>,
}

/// A thing a condition follows, found while folding it.
#[derive(Clone, Copy)]
enum Found<'p> {
    Behaviour(u32),
    Leaf(&'p Expr),
}

/// The fold of the conditions of one result.
struct Fold<'e, 'p, 'a> {
    ev: &'e Evaluator<'p, 'a>,
    drift: &'e Drift<'e, 'p, 'a>,
    later: &'e Later<'e>,
    /// What the conditions folded so far follow; a part found fixed takes back its own.
    found: Vec<Found<'p>>,
    /// Per `let`: whether it can change as time passes.
    lets_vary: Vec<bool>,
    /// Per `let`, once folded: its fixed value (or `None`), and what it follows.
    lets: Vec<Option<(Option<bool>, Vec<Found<'p>>)>>,
}

impl<'p> Live<'p> {
    fn find(ev: &Evaluator<'p, '_>, drift: &Drift<'_, 'p, '_>, later: &Later<'_>, outcome: &Outcome) -> Live<'p> {
        let program = ev.program;
        let mut fold = Fold {
            ev,
            drift,
            later,
            found: Vec::new(),
            lets_vary: Vec::with_capacity(program.lets.len()),
            lets: vec![None; program.lets.len()],
        };
        // Each `let` comes after those it uses, so each is looked at once.
        for l in &program.lets {
            let varies = fold.varies(&l.expr, &Scope::Lead);
            fold.lets_vary.push(varies);
        }
        let lead = Scope::Lead;
        let scope = drift.scope();
        for rule in &program.rules {
            fold.root(&rule.expr, &lead);
        }
        // A disqualified lead is no MQL whatever its condition says; routes are for MQLs.
        if let (Some((expr, _)), None) = (&program.mql, &outcome.disqualified) {
            fold.root(expr, &scope);
        }
        if outcome.mql {
            for expr in program.routes.iter().filter_map(|r| r.when.as_ref()) {
                fold.root(expr, &scope);
            }
        }
        let mut live = Live {
            behaviours: vec![false; program.behaviours.len()],
            leaves: Vec::new(),
        };
        for found in fold.found {
            match found {
                Found::Behaviour(b) => live.behaviours[b as usize] = true,
                Found::Leaf(leaf) => live.leaves.push(leaf),
            }
        }
        // The points of a fired rule that decays or counts follow its behaviours' events.
        for fired in &outcome.fired {
            let rule = &program.rules[fired.index];
            let decays = |p: &crate::program::Points| {
                p.each || p.dim.is_some_and(|d| program.dims[d as usize].half_life.is_some())
            };
            if rule.points.first().is_some_and(decays) {
                for &b in &rule.behaviours {
                    live.behaviours[b as usize] = true;
                }
            }
        }
        live
    }
}

impl<'p> Fold<'_, 'p, '_> {
    fn root(&mut self, expr: &'p Expr, scope: &Scope<'_, '_>) {
        if self.varies(expr, scope) {
            self.fold(expr, scope);
        }
    }

    /// Whether a condition can change as time passes: it has a behaviour that can, a
    /// `let` that can, or a test of a decaying value.
    fn varies(&self, expr: &Expr, scope: &Scope<'_, '_>) -> bool {
        match expr {
            Expr::Or(parts) | Expr::And(parts) => parts.iter().any(|p| self.varies(p, scope)),
            Expr::Not(inner) => self.varies(inner, scope),
            Expr::Behaviour(b) => self.behaviour_varies(*b),
            Expr::Let(l) => self.lets_vary.get(*l as usize).copied().unwrap_or(false),
            leaf => matches!(scope, Scope::Outcome { .. }) && self.drift.leaf_moves(leaf),
        }
    }

    /// Whether a behaviour can turn true or false as time passes: one with a window holds
    /// only until its events leave it, and one that does not hold can come to hold only
    /// by an event after `as_of` of its type.
    fn behaviour_varies(&self, b: u32) -> bool {
        let program = self.ev.program;
        let test = &program.behaviours[b as usize];
        match self.ev.behaviour_true(b) {
            true => test.within.is_some(),
            false => self.later.has_type(program.matchers[test.matcher as usize].event_type),
        }
    }

    /// A condition's value if it is fixed, `None` if it can change; what it follows is
    /// added to `found`.
    fn fold(&mut self, expr: &'p Expr, scope: &Scope<'_, '_>) -> Option<bool> {
        match expr {
            Expr::Behaviour(b) if !self.behaviour_varies(*b) => Some(self.ev.behaviour_true(*b)),
            Expr::Behaviour(b) => {
                self.found.push(Found::Behaviour(*b));
                None
            }
            Expr::Not(inner) => self.fold(inner, scope).map(|v| !v),
            Expr::And(parts) | Expr::Or(parts) => {
                // The value of `and` when no part is false, of `or` when none is true.
                let unless = matches!(expr, Expr::And(_));
                let start = self.found.len();
                let mut fixed = true;
                for part in parts.iter() {
                    let value = match self.varies(part, scope) {
                        true => self.fold(part, scope),
                        // A test that failed is taken as one that can change.
                        false => self.ev.test(part, scope).ok(),
                    };
                    match value {
                        Some(v) if v != unless => {
                            self.found.truncate(start);
                            return Some(v);
                        }
                        Some(_) => {}
                        None => fixed = false,
                    }
                }
                fixed.then_some(unless)
            }
            Expr::Let(l) => self.fold_let(*l),
            leaf => {
                self.found.push(Found::Leaf(leaf));
                None
            }
        }
    }

    /// A `let`, folded once per result.
    fn fold_let(&mut self, l: u32) -> Option<bool> {
        let program = self.ev.program;
        let Some(expr) = program.lets.get(l as usize).map(|l| &l.expr) else {
            return Some(false);
        };
        if self.lets[l as usize].is_none() {
            let start = self.found.len();
            let value = match self.lets_vary.get(l as usize).copied().unwrap_or(false) {
                true => self.fold(expr, &Scope::Lead),
                false => self.ev.test(expr, &Scope::Lead).ok(),
            };
            let follows = self.found.split_off(start);
            self.lets[l as usize] = Some((value, follows));
        }
        let (value, follows) = self.lets[l as usize].as_ref()?;
        self.found.extend_from_slice(follows);
        *value
    }
}

/// The events after `as_of` of types the pack tests: each may be counted when it comes.
struct Later<'e> {
    events: &'e [(u32, Millis)],
}

impl<'e> Later<'e> {
    fn of(ev: &'e Evaluator<'_, '_>) -> Later<'e> {
        let events = match &ev.record.events {
            Events::Read(events) => events.later(),
            Events::Json(_) => &ev.later,
        };
        Later { events }
    }

    fn has_type(&self, ty: u32) -> bool {
        self.events.iter().any(|&(t, _)| t == ty)
    }

    /// Adds the first time of an event a decision follows: of a type that a behaviour it
    /// follows counts.
    fn events(&self, ev: &Evaluator<'_, '_>, live: &Live<'_>, soonest: &mut Soonest) {
        if self.events.is_empty() {
            return;
        }
        let program = ev.program;
        let mut followed = vec![false; program.event_types.len()];
        for (test, _) in program
            .behaviours
            .iter()
            .zip(&live.behaviours)
            .filter(|(_, &live)| live)
        {
            followed[program.matchers[test.matcher as usize].event_type as usize] = true;
        }
        for &(ty, at) in self.events {
            if followed.get(ty as usize).copied().unwrap_or(true) {
                soonest.add(at);
            }
        }
    }
}

/// The first instant an event counted in a window is out of it: counted while
/// `as_of - within <= at`, it is out one millisecond after `at + within`.
fn leaves(at: Millis, within: Millis) -> Millis {
    at.saturating_add(within).saturating_add(1)
}

/// Events leaving windows: a behaviour a decision follows turns false when fewer than its
/// `at least` are left, and a fired `each` rule's count (and decayed sum) changes when any
/// leaves.
fn windows(ev: &Evaluator<'_, '_>, outcome: &Outcome, live: &Live<'_>, soonest: &mut Soonest) {
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
        if !live.behaviours[b] && !counted[b] {
            continue;
        }
        let from = ev.as_of.saturating_sub(within);
        times.clear();
        times.extend(ev.times(test.matcher).filter(|&at| at >= from));
        let count = times.len() as u64;
        if count >= test.at_least && count > 0 {
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

/// How the values the MQL condition, routes and caps compare move as decayed points fall
/// (with the rules that fired as they are, which the other instants bound), and when they
/// can reach what they are compared with.
struct Drift<'e, 'p, 'a> {
    ev: &'e Evaluator<'p, 'a>,
    totals: &'e Totals,
}

/// What a compared value does as time passes.
#[derive(Clone, Copy, PartialEq)]
enum Moves {
    /// It stays.
    No,
    /// The score: every dimension's decaying points.
    Score,
    /// A dimension (after its cap): its decaying points.
    Dim(usize),
    /// A dimension's total before its cap.
    Raw(usize),
    /// Something computed from a moving value (a function of the score).
    Opaque,
}

/// One side of a comparison.
#[derive(Clone, Copy)]
enum Side {
    Moving(Moves),
    Fixed(f64),
}

/// Beyond 2^52 ms (142,000 years) nothing is due.
const FAR: Millis = 1 << 52;

/// How many times a crossing is looked for closer: each look moves on by at least as far
/// as the values could have met, so only points of both signs or several half-lives need
/// more than one.
const LOOKS: usize = 24;

impl Drift<'_, '_, '_> {
    /// The scope the MQL condition and routes were tested in.
    fn scope(&self) -> Scope<'_, 'static> {
        Scope::Outcome {
            score: self.totals.score,
            dims: &self.totals.dims,
        }
    }

    /// A dimension's total crossing its cap.
    fn caps(&self, soonest: &mut Soonest) {
        for (d, dim) in self.ev.program.dims.iter().enumerate() {
            if let (Some(cap), Moves::Dim(_)) = (dim.cap, self.dim_moves(d)) {
                self.cross(Side::Moving(Moves::Raw(d)), Side::Fixed(cap), soonest);
            }
        }
    }

    /// Whether a test compares a decaying value.
    fn leaf_moves(&self, leaf: &Expr) -> bool {
        match leaf {
            Expr::Compare(a, _, b) | Expr::Str(_, a, b) => self.moves(a) != Moves::No || self.moves(b) != Moves::No,
            Expr::In(a, _) | Expr::Words(a, _) | Expr::Regex(a, _) | Expr::Exists(a) | Expr::Truthy(a) => {
                self.moves(a) != Moves::No
            }
            _ => false,
        }
    }

    /// When a test of a decaying value can change.
    fn leaf(&self, leaf: &Expr, soonest: &mut Soonest) {
        match leaf {
            Expr::Compare(a, _, b) => self.compare(a, b, soonest),
            Expr::In(a, list) => match self.moves(a) {
                Moves::No => {}
                Moves::Opaque => soonest.unpredictable = true,
                moving => {
                    for n in list.iter().filter_map(|item| item.value().as_num()) {
                        self.cross(Side::Moving(moving), Side::Fixed(n), soonest);
                    }
                }
            },
            // A number always exists; a function of a moving value may stop existing.
            Expr::Exists(a) => {
                if self.moves(a) == Moves::Opaque {
                    soonest.unpredictable = true;
                }
            }
            // Tests of text: the text of a moving number changes with every digit.
            _ => {
                if self.leaf_moves(leaf) {
                    soonest.unpredictable = true;
                }
            }
        }
    }

    /// `a OP b`: it can change only where `a - b` crosses zero (a number against a value
    /// of another kind, or none, is decided by the kinds).
    fn compare(&self, a: &Operand, b: &Operand, soonest: &mut Soonest) {
        match (self.moves(a), self.moves(b)) {
            (Moves::No, Moves::No) => {}
            (Moves::Opaque, _) | (_, Moves::Opaque) => soonest.unpredictable = true,
            (Moves::No, moving) => self.against(moving, a, soonest),
            (moving, Moves::No) => self.against(moving, b, soonest),
            (x, y) => self.cross(Side::Moving(x), Side::Moving(y), soonest),
        }
    }

    /// A moving value against an operand that stays (a field, a literal, a function of
    /// them, evaluated again here): every number it stands for.
    fn against(&self, moving: Moves, still: &Operand, soonest: &mut Soonest) {
        let scope = self.scope();
        match self.ev.value(still, &scope) {
            Ok(value) => {
                let numbers: Vec<f64> = match &*value {
                    Value::List(items) => items.iter().filter_map(Value::as_num).collect(),
                    value => value.as_num().into_iter().collect(),
                };
                for n in numbers {
                    self.cross(Side::Moving(moving), Side::Fixed(n), soonest);
                }
            }
            // A function the evaluation did not call (or that failed): not predicted.
            Err(_) => soonest.unpredictable = true,
        }
    }

    /// What an operand does as time passes.
    fn moves(&self, operand: &Operand) -> Moves {
        match operand {
            Operand::Score if !self.totals.decaying.is_empty() => Moves::Score,
            Operand::Dim(d) => self.dim_moves(*d as usize),
            Operand::Call(_, args) if args.iter().any(|a| self.moves(a) != Moves::No) => Moves::Opaque,
            _ => Moves::No,
        }
    }

    fn dim_moves(&self, d: usize) -> Moves {
        match self.totals.decaying.iter().any(|r| r.dim as usize == d) {
            true => Moves::Dim(d),
            false => Moves::No,
        }
    }

    /// A fired rule's decayed points `delta` ms after `as_of`.
    fn points(&self, rule: &Decaying, delta: Millis) -> f64 {
        let half_life = self.ev.program.dims[rule.dim as usize].half_life.unwrap_or(1);
        let factor = 0.5f64.powf(delta as f64 / half_life as f64);
        (rule.points * factor).clamp(-rule.max, rule.max)
    }

    /// A dimension's total before its cap, `delta` ms after `as_of`.
    fn raw(&self, d: usize, delta: Millis) -> f64 {
        let rules = self.totals.decaying.iter().filter(|r| r.dim as usize == d);
        self.totals.raw[d] + rules.map(|r| self.points(r, delta) - self.points(r, 0)).sum::<f64>()
    }

    /// A dimension after its cap, `delta` ms after `as_of`.
    fn dim(&self, d: usize, delta: Millis) -> f64 {
        let raw = self.raw(d, delta);
        self.ev.program.dims[d].cap.map_or(raw, |cap| raw.min(cap))
    }

    /// A side's value `delta` ms after `as_of`.
    fn value(&self, side: Side, delta: Millis) -> f64 {
        match side {
            Side::Fixed(n) => n,
            Side::Moving(Moves::Score) => {
                let dims = 0..self.totals.dims.len();
                let moved = dims.filter(|&d| self.dim_moves(d) != Moves::No);
                self.totals.score + moved.map(|d| self.dim(d, delta) - self.totals.dims[d]).sum::<f64>()
            }
            Side::Moving(Moves::Dim(d)) => self.dim(d, delta),
            Side::Moving(Moves::Raw(d)) => self.raw(d, delta),
            Side::Moving(Moves::No | Moves::Opaque) => 0.0,
        }
    }

    /// How far the difference of two sides can move between `from` and `to` ms after
    /// `as_of`: each rule's points move by no more than that (a cap moves a total no
    /// more than its points do).
    fn reach(&self, sides: [Side; 2], from: Millis, to: Millis) -> f64 {
        let weight = |rule: &Decaying| {
            let follows = |side: &Side| match side {
                Side::Moving(Moves::Score) => true,
                Side::Moving(Moves::Dim(d) | Moves::Raw(d)) => *d == rule.dim as usize,
                _ => false,
            };
            sides.iter().filter(|side| follows(side)).count() as f64
        };
        let rules = self.totals.decaying.iter();
        rules
            .map(|r| weight(r) * (self.points(r, to) - self.points(r, from)).abs())
            .sum()
    }

    /// Adds the first instant at which `a OP b` may decide differently: where `a - b` may
    /// reach zero or change sign. Looks forward by the reach of the points: before the
    /// difference could have closed nothing changes; there it is looked at again.
    fn cross(&self, a: Side, b: Side, soonest: &mut Soonest) {
        let sides = [a, b];
        let difference = |delta| self.value(a, delta) - self.value(b, delta);
        // Far more than the rounding of the sums, which the evaluator adds in another order.
        let size: f64 = self.totals.decaying.iter().map(|r| r.points.abs().min(r.max)).sum();
        let tolerance = 1e-9 * (1.0 + size + self.value(a, 0).abs() + self.value(b, 0).abs());
        let first = difference(0);
        let mut from = 0;
        let mut now = first;
        for _ in 0..LOOKS {
            if now.abs() <= tolerance || now.signum() != first.signum() {
                soonest.add(self.ev.as_of.saturating_add(from.max(1)));
                return;
            }
            let target = now.abs() - tolerance;
            if self.reach(sides, from, FAR) < target {
                return;
            }
            from = self.first_reach(sides, from, target);
            now = difference(from);
        }
        soonest.add(self.ev.as_of.saturating_add(from));
    }

    /// The first instant after `from` at which the points may have moved `target` (which
    /// they do by `FAR`), by doubling then halving.
    fn first_reach(&self, sides: [Side; 2], from: Millis, target: f64) -> Millis {
        let mut span: Millis = 1;
        while from + span < FAR && self.reach(sides, from, from + span) < target {
            span *= 2;
        }
        let (mut low, mut high) = (from + span / 2, (from + span).min(FAR));
        while high - low > 1 {
            let mid = low + (high - low) / 2;
            if self.reach(sides, from, mid) >= target {
                high = mid;
            } else {
                low = mid;
            }
        }
        high
    }
}
