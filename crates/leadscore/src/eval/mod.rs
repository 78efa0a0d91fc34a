//! Scoring one lead. Everything that can go wrong is an [`EvalError`] for that lead;
//! nothing here panics or reads the clock.

mod due;
mod error;
mod host;
mod json;
mod json_bytes;
mod outcome;
pub mod trace;

use std::borrow::Cow;

use serde_json::Value as Json;

use crate::program::{Expr, Flat, Matcher, Operand, Program, Rule, Test};
use crate::read::{read_event, recycle, Checked, EventProps, Events, Record};
use crate::value::pattern::Prepared;
use crate::value::pattern::Words;
use crate::value::{self as value, Millis, Value};
pub use due::NextChange;
pub use error::{EvalError, PluginError, ScriptPosition};
pub use host::Host;
use outcome::Firing;
pub(crate) use outcome::Names;
pub use outcome::{Capped, Enrichment, Fired, Outcome, PackId};

/// An error met testing a condition, boxed: the condition walk returns a
/// `Result<bool, _>` from every node, and boxed it fits in two registers instead of
/// being written to memory and read back.
type Failed = Box<EvalError>;

/// The bit of a lead's [`WordSet`](crate::program::WordSet) answers saying they are made (the words take the
/// others).
const WORDS_MADE: u64 = 1 << 63;

/// Matching events of one matcher, newest time tracked for decay.
#[derive(Clone, Copy, Debug)]
struct Tally {
    count: u64,
    /// The newest time counted; meaningless while `count` is 0 (see [`Tally::latest`]),
    /// so that counting an event is a `max`, not a branch on whether one was counted.
    latest: Millis,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally {
            count: 0,
            latest: Millis::MIN,
        }
    }
}

impl Tally {
    /// The newest time counted, if an event was.
    fn latest(&self) -> Option<Millis> {
        (self.count > 0).then_some(self.latest)
    }
}

/// What a result says besides the rules' verdict: the pack that made it, what its hooks
/// set, and the lead's id (moved out of its record, or for a lead without one the id the
/// caller gives it: the CLI gives its line number).
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// The names of the pack scoring the lead (its id among them).
    pub names: std::sync::Arc<Names>,
    /// What the enrichment hooks set, in order.
    pub enriched: Vec<Enrichment>,
    /// The lead's id.
    pub id: Option<serde_json::Value>,
}

/// Scores a record into its whole result. `as_of` is the time the score is for.
pub fn evaluate(
    program: &Program,
    record: &Record,
    as_of: Millis,
    host: &dyn Host,
    context: Context,
) -> Result<Outcome, EvalError> {
    with_scratch(|scratch| {
        let mut ev = Evaluator::new(program, record, host, as_of, false, scratch);
        let (outcome, totals) = ev.outcome(context)?;
        ev.give_back(scratch, totals);
        Ok(outcome)
    })
}

/// [`evaluate`], and when the result can next change with no new data ([`NextChange`]):
/// the same result, with the times of the events it counted kept to find that instant.
pub fn evaluate_with_next_change(
    program: &Program,
    record: &Record,
    as_of: Millis,
    host: &dyn Host,
    context: Context,
) -> Result<(Outcome, NextChange), EvalError> {
    with_scratch(|scratch| {
        let mut ev = Evaluator::new(program, record, host, as_of, true, scratch);
        let (outcome, totals) = ev.outcome(context)?;
        let next = due::next_change(&ev, &outcome, &totals);
        ev.give_back(scratch, totals);
        Ok((outcome, next))
    })
}

/// The evaluator's working buffers, kept by each thread from one lead to the next: the
/// hand-written equivalent of a pack counts into locals, and with these reused neither
/// allocates per lead more than its result (a lead that fails takes its buffers with it).
#[derive(Default)]
pub(crate) struct Scratch {
    hits: Vec<(u32, Millis)>,
    later: Vec<(u32, Millis)>,
    tallies: Vec<Tally>,
    lets: Vec<bool>,
    raw: Vec<f64>,
    dims: Vec<f64>,
    fired: Vec<(usize, Given)>,
    words_found: Vec<std::cell::Cell<u64>>,
    /// Emptied between leads: the properties of one event of a lead in memory (see
    /// [`recycle`] for how the references' lifetime is changed without a copy).
    props: Vec<(u32, &'static Json)>,
}

thread_local! {
    static SCRATCH: std::cell::Cell<Scratch> = const { std::cell::Cell::new(Scratch {
        hits: Vec::new(),
        later: Vec::new(),
        tallies: Vec::new(),
        lets: Vec::new(),
        raw: Vec::new(),
        dims: Vec::new(),
        fired: Vec::new(),
        words_found: Vec::new(),
        props: Vec::new(),
    }) };
}

/// `run` with this thread's scratch (a fresh, empty one if scoring is nested, e.g. a
/// lead scored from inside another's evaluation: correct, only not reused).
fn with_scratch<R>(run: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| {
        let mut scratch = cell.take();
        let result = run(&mut scratch);
        cell.set(scratch);
        result
    })
}

/// The unrounded numbers behind a result, which the MQL condition and routes compare.
struct Totals {
    /// The score.
    score: f64,
    /// Each dimension's total before its cap.
    raw: Vec<f64>,
    /// Each dimension's total after its cap.
    dims: Vec<f64>,
    /// The decayed points of the rules that fired (kept only by
    /// [`evaluate_with_next_change`]).
    decaying: Vec<Decaying>,
}

/// Decayed points a rule gave: they fall towards zero as time passes.
#[derive(Clone, Copy, Debug)]
struct Decaying {
    /// The dimension they went into.
    dim: u32,
    /// The points before `max`.
    points: f64,
    /// The bound `max` (or the bound on any points) puts on them.
    max: f64,
}

impl<'a> Evaluator<'_, 'a> {
    /// The whole result, and the numbers behind it.
    fn outcome(&mut self, context: Context) -> Result<(Outcome, Totals), EvalError> {
        let program = self.program;
        self.match_events()?;
        for l in &program.lets {
            let value = l.used && self.holds(&l.flat, &Scope::Lead).map_err(|e| *e)?;
            self.lets.push(value);
        }
        // Every field named: `..Outcome::default()` would allocate a table of names only
        // to drop it.
        let mut outcome = Outcome {
            id: context.id,
            score: 0.0,
            probability: None,
            mql: false,
            capped: Vec::new(),
            enriched: context.enriched,
            names: context.names,
            disqualified: None,
            dimensions: Vec::new(),
            route: None,
            tags: Vec::new(),
            fired: Vec::new(),
        };
        let mut raw = std::mem::take(&mut self.raw);
        raw.clear();
        raw.resize(program.dims.len(), 0.0);
        let mut decaying = Vec::new();
        let mut loose = 0.0;
        // The rules that fire are noted first and put in the result after, so that its
        // list is allocated once, at its size.
        let mut fired = std::mem::take(&mut self.fired);
        fired.clear();
        for (index, rule) in program.rules.iter().enumerate() {
            if !self
                .holds(&rule.flat, &Scope::Lead)
                .map_err(|e| (*e).in_rule(&rule.location))?
            {
                continue;
            }
            let given = self.fire(rule);
            match given.dim {
                Some(d) => raw[d as usize] += given.points,
                None => loose += given.points,
            }
            if let (Some(decayed), true) = (given.decaying, self.keep_times) {
                decaying.push(decayed);
            }
            fired.push((index, given));
        }
        self.note_fired(&mut outcome, &fired);
        self.fired = fired;
        let mut dims = std::mem::take(&mut self.dims);
        dims.clear();
        outcome.dimensions = vec![0.0; program.dims.len()];
        for ((dim, &total), &at) in program.dims.iter().zip(&raw).zip(&outcome.names.dim_at) {
            let capped = dim.cap.map_or(total, |cap| total.min(cap));
            if capped < total {
                outcome.capped.push(Capped {
                    dimension: dim.name.to_string(),
                    total: round(total),
                    cap: capped,
                });
            }
            outcome.dimensions[at as usize] = round(capped);
            dims.push(capped);
        }
        let score = dims.iter().sum::<f64>() + loose;
        outcome.score = round(score);
        outcome.probability = program.calibration.map(|c| round(c.probability(score)));
        let scope = Scope::Outcome { score, dims: &dims };
        let mql = match &program.mql {
            Some((expr, _)) => self.test(expr, &scope).map_err(|e| *e)?,
            None => false,
        };
        outcome.mql = mql && outcome.disqualified.is_none();
        if outcome.mql {
            for (route, &queue) in program.routes.iter().zip(&outcome.names.queues) {
                let taken = match &route.when {
                    Some(expr) => self.test(expr, &scope).map_err(|e| *e)?,
                    None => true,
                };
                if taken {
                    outcome.route = Some(queue);
                    break;
                }
            }
        }
        let totals = Totals {
            score,
            raw,
            dims,
            decaying,
        };
        Ok((outcome, totals))
    }
}

impl Evaluator<'_, '_> {
    /// The rules that fired (`(index, points)` in file order) in the result, with the
    /// first disqualifying reason and the tags in firing order.
    fn note_fired(&self, outcome: &mut Outcome, fired: &[(usize, Given)]) {
        outcome.fired = Vec::with_capacity(fired.len());
        for &(index, ref given) in fired {
            let names = outcome.names.rule(index);
            if outcome.disqualified.is_none() {
                outcome.disqualified = names.reason;
            }
            for &tag in &names.tags {
                if !outcome.tags.contains(&tag) {
                    outcome.tags.push(tag);
                }
            }
            outcome.fired.push(Firing {
                names: index as u32,
                index,
                points: round(given.points),
                count: given.count,
                decay: given.decay.map(round),
            });
        }
    }
}

/// Rounds to 4 decimal places: scores are shown and compared at that precision.
fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// What the names in a condition can see.
enum Scope<'s, 'a> {
    /// Lead fields, `let`s and behaviours.
    Lead,
    /// Also the score and the dimensions.
    Outcome { score: f64, dims: &'s [f64] },
    /// The properties of one event.
    Event(EventProps<'s, 'a>),
}

/// Points a fired rule gives.
struct Given {
    points: f64,
    dim: Option<u32>,
    count: Option<u64>,
    decay: Option<f64>,
    /// The decayed points, for points that decay.
    decaying: Option<Decaying>,
}

struct Evaluator<'p, 'a> {
    program: &'p Program,
    record: &'p Record<'a>,
    host: &'p dyn Host,
    as_of: Millis,
    /// (matcher, event time) for every event a matcher accepts, grouped by matcher; kept
    /// only for packs that need them ([`Program::keeps_event_times`]) and to find when the
    /// result next changes.
    hits: Vec<(u32, Millis)>,
    /// Whether `hits` are kept.
    keep_times: bool,
    /// The type and time of each event of a used type after `as_of`, of a lead in memory
    /// (a lead read from text has them in its `ReadEvents`).
    later: Vec<(u32, Millis)>,
    /// Per behaviour: matching events in its window.
    tallies: Vec<Tally>,
    lets: Vec<bool>,
    /// The buffer the properties of each event of a lead in memory are read into.
    props: Vec<(u32, &'a Json)>,
    /// Each dimension's total before and after its cap (buffers for [`Totals`]).
    raw: Vec<f64>,
    dims: Vec<f64>,
    /// The rules that fired, by index, with their points (a buffer for
    /// [`Evaluator::note_fired`]).
    fired: Vec<(usize, Given)>,
    /// Per [`WordSet`](crate::program::WordSet) of the program: which of its words its field matches, with
    /// [`WORDS_MADE`] once made for this lead.
    words_found: Vec<std::cell::Cell<u64>>,
}

impl<'p, 'a> Evaluator<'p, 'a> {
    /// An evaluator of `record`; `watch` keeps every counted event's time, to find when
    /// the result next changes.
    pub(crate) fn new(
        program: &'p Program,
        record: &'p Record<'a>,
        host: &'p dyn Host,
        as_of: Millis,
        watch: bool,
        scratch: &mut Scratch,
    ) -> Self {
        let keep_times = program.keeps_event_times || watch;
        let mut hits = std::mem::take(&mut scratch.hits);
        hits.clear();
        if let (Events::Json(events), true) = (&record.events, keep_times) {
            hits.reserve(events.len());
        }
        let mut tallies = std::mem::take(&mut scratch.tallies);
        tallies.clear();
        tallies.resize(program.behaviours.len(), Tally::default());
        let mut lets = std::mem::take(&mut scratch.lets);
        lets.clear();
        lets.reserve(program.lets.len());
        let mut later = std::mem::take(&mut scratch.later);
        later.clear();
        let mut words_found = std::mem::take(&mut scratch.words_found);
        words_found.clear();
        words_found.resize(program.word_sets.len(), std::cell::Cell::new(0));
        Evaluator {
            program,
            record,
            host,
            as_of,
            hits,
            keep_times,
            later,
            tallies,
            lets,
            props: recycle(std::mem::take(&mut scratch.props)),
            raw: std::mem::take(&mut scratch.raw),
            dims: std::mem::take(&mut scratch.dims),
            fired: std::mem::take(&mut scratch.fired),
            words_found,
        }
    }

    /// Puts the buffers back into `scratch` for the next lead, with those of `totals`.
    fn give_back(self, scratch: &mut Scratch, totals: Totals) {
        scratch.hits = self.hits;
        scratch.later = self.later;
        scratch.tallies = self.tallies;
        scratch.lets = self.lets;
        scratch.props = recycle(self.props);
        scratch.raw = totals.raw;
        scratch.dims = totals.dims;
        scratch.fired = self.fired;
        scratch.words_found = self.words_found;
    }

    /// Runs every matcher over the events of its type, once per lead, counting each
    /// accepted event into the behaviours whose window it falls in.
    fn match_events(&mut self) -> Result<(), EvalError> {
        let (program, record) = (self.program, self.record);
        match &record.events {
            Events::Read(events) => {
                for (ty, at, props) in events.iter() {
                    self.match_event(ty, at, props)?;
                }
            }
            // A lead in memory: each event is read as it is matched (see `Events::Json`).
            Events::Json(events) => {
                let mut props = std::mem::take(&mut self.props);
                for (index, event) in events.iter().enumerate() {
                    match read_event(program, index, event, self.as_of, &mut props)? {
                        Checked::Kept(ty, at) => self.match_event(ty, at, EventProps::Json(&props))?,
                        Checked::Later(ty, at) => self.later.push((ty, at)),
                        Checked::Unused => {}
                    }
                }
                self.props = props;
            }
        }
        if self.keep_times {
            self.hits.sort_unstable_by_key(|&(m, _)| m);
        }
        Ok(())
    }

    /// Runs the matchers of an event's type over it.
    fn match_event(&mut self, ty: u32, at: Millis, props: EventProps<'_, 'a>) -> Result<(), EvalError> {
        let program = self.program;
        let plan = &program.plans[ty as usize];
        // Each property a glob tests is read once per event for all the globs on it.
        for group in &plan.globs {
            let Some(text) = props.text(group.prop) else {
                continue;
            };
            // Prepared only if some glob cannot decide on the text as it is.
            let mut prepared = None;
            for test in &group.tests {
                let hit = match test.glob.matches_raw(&text) {
                    Some(hit) => hit,
                    None => {
                        let prepared =
                            prepared.get_or_insert_with(|| Prepared::new(Cow::Borrowed(&*text), group.is_path));
                        test.glob.matches_prepared(prepared)
                    }
                };
                if hit && (!test.filtered || self.filter_accepts(&program.matchers[test.matcher as usize], props)?) {
                    self.count(test.matcher, at);
                }
            }
        }
        for &m in &plan.others {
            if self.filter_accepts(&program.matchers[m as usize], props)? {
                self.count(m, at);
            }
        }
        Ok(())
    }

    /// Whether an event passes the matcher's `where` filter (if it has one).
    fn filter_accepts(&self, matcher: &Matcher, props: EventProps<'_, 'a>) -> Result<bool, EvalError> {
        match &matcher.filter {
            Some(filter) => self.test(filter, &Scope::Event(props)).map_err(|e| *e),
            None => Ok(true),
        }
    }

    /// Counts an event matcher `m` accepted into the behaviours whose window it is in:
    /// with arithmetic rather than a branch, since whether it is in each window is data.
    fn count(&mut self, m: u32, at: Millis) {
        let (program, as_of) = (self.program, self.as_of);
        for counted in program.counted_by(m) {
            let inside = counted.within.is_none_or(|w| at >= as_of.saturating_sub(w));
            if let Some(tally) = self.tallies.get_mut(counted.behaviour as usize) {
                tally.count += u64::from(inside);
                tally.latest = tally.latest.max(if inside { at } else { Millis::MIN });
            }
        }
        if self.keep_times {
            self.hits.push((m, at));
        }
    }

    /// The event times a matcher accepted.
    fn times(&self, matcher: u32) -> impl Iterator<Item = Millis> + '_ {
        let start = self.hits.partition_point(|&(m, _)| m < matcher);
        self.hits[start..]
            .iter()
            .take_while(move |&&(m, _)| m == matcher)
            .map(|&(_, at)| at)
    }

    fn window_start(&self, within: Option<Millis>) -> Millis {
        within.map_or(Millis::MIN, |w| self.as_of.saturating_sub(w))
    }

    fn behaviour_true(&self, b: u32) -> bool {
        let test = &self.program.behaviours[b as usize];
        self.tallies[b as usize].count >= test.at_least
    }

    /// The points a rule whose condition held gives, with `each`, `max` and decay applied.
    fn fire(&self, rule: &Rule) -> Given {
        let Some(points) = rule.points.first() else {
            return Given {
                points: 0.0,
                dim: None,
                count: None,
                decay: None,
                decaying: None,
            };
        };
        let half_life = points.dim.and_then(|d| self.program.dims[d as usize].half_life);
        let decay = |at: Millis, hl: Millis| 0.5f64.powf((self.as_of - at) as f64 / hl as f64);
        let (mut total, count, factor, decays) = match (points.each, rule.behaviours.first()) {
            (true, Some(&b)) => {
                let count = self.tallies[b as usize].count;
                let total = match half_life {
                    // Each event decays by its own age (the pack keeps event times).
                    Some(hl) => {
                        let test = &self.program.behaviours[b as usize];
                        let from = self.window_start(test.within);
                        self.times(test.matcher)
                            .filter(|&at| at >= from)
                            .map(|at| points.value * decay(at, hl))
                            .sum()
                    }
                    None => points.value * count as f64,
                };
                (total, Some(count), None, half_life.is_some())
            }
            _ => {
                let latest = rule
                    .behaviours
                    .iter()
                    .filter(|&&b| self.behaviour_true(b))
                    .filter_map(|&b| self.tallies[b as usize].latest())
                    .max();
                match (half_life, latest) {
                    (Some(hl), Some(at)) => {
                        let f = decay(at, hl);
                        (points.value * f, None, Some(f), true)
                    }
                    _ => (points.value, None, None, false),
                }
            }
        };
        // Without `max`, the bound on points bounds the total too: 10,001 events of 1e12
        // would add up past where small points are lost.
        let max = points.max.unwrap_or(crate::check::MAX_POINTS);
        let decaying = match (decays, points.dim) {
            (true, Some(dim)) => Some(Decaying {
                dim,
                points: total,
                max,
            }),
            _ => None,
        };
        total = total.clamp(-max, max);
        Given {
            points: total,
            dim: points.dim,
            count,
            decay: factor,
            decaying,
        }
    }

    /// Whether a [`Flat`] condition holds: its steps in turn, each test deciding the next;
    /// the same answer (and the same error, from the same test) as [`Evaluator::test`] of
    /// the tree it comes from.
    fn holds(&self, flat: &Flat, scope: &Scope<'_, 'a>) -> Result<bool, Failed> {
        let fields = &self.record.fields;
        let mut at = flat.start;
        while let Some(step) = flat.steps.get(at as usize) {
            let holds = match &step.test {
                Test::Behaviour { behaviour, at_least } => self.tallies[*behaviour as usize].count >= *at_least,
                Test::Let(l) => self.lets.get(*l as usize).copied().unwrap_or(false),
                Test::Compare { field, op, literal } => literal.compare(&fields[*field as usize], *op),
                Test::In { field, list } => list.contains(&fields[*field as usize]),
                Test::Words {
                    set: Some((set, bit)), ..
                } => self.words_found(*set) >> bit & 1 == 1,
                Test::Words { field, words, .. } => {
                    fields[*field as usize].as_text().is_some_and(|t| words.matches(&t))
                }
                Test::Str { op, field, literal } => literal.str_test(*op, &fields[*field as usize]),
                Test::Exists(field) => fields[*field as usize].exists(),
                Test::Other(expr) => self.test(expr, scope)?,
            };
            at = if holds { step.yes } else { step.no };
        }
        Ok(at == Flat::YES)
    }

    /// Which words of word set `set` its field matches, as bits (see [`crate::program::WordSet`]), made
    /// the first time a test asks for the lead.
    #[inline]
    fn words_found(&self, set: u32) -> u64 {
        let Some(cell) = self.words_found.get(set as usize) else {
            return 0;
        };
        match cell.get() {
            found if found & WORDS_MADE != 0 => found,
            _ => self.make_words_found(set, cell),
        }
    }

    #[inline(never)]
    fn make_words_found(&self, set: u32, cell: &std::cell::Cell<u64>) -> u64 {
        let found = match self.program.word_sets.get(set as usize) {
            Some(set) => (self.record.fields[set.field as usize].as_text())
                .map_or(0, |text| Words::matches_each(&set.words, &text)),
            None => 0,
        };
        cell.set(found | WORDS_MADE);
        found | WORDS_MADE
    }

    fn test(&self, expr: &Expr, scope: &Scope<'_, 'a>) -> Result<bool, Failed> {
        Ok(match expr {
            Expr::Or(parts) => {
                for p in parts.iter() {
                    if self.test(p, scope)? {
                        return Ok(true);
                    }
                }
                false
            }
            Expr::And(parts) => {
                for p in parts.iter() {
                    if !self.test(p, scope)? {
                        return Ok(false);
                    }
                }
                true
            }
            Expr::Not(inner) => !self.test(inner, scope)?,
            Expr::Behaviour(b) => self.behaviour_true(*b),
            Expr::Let(l) => self.lets.get(*l as usize).copied().unwrap_or(false),
            // A literal on the right (most tests): compared as the pack compiled it.
            Expr::Compare(a, op, Operand::Lit(b)) => self.with_value(a, scope, |a| b.compare(a, *op))?,
            Expr::Compare(a, op, b) => {
                self.with_value(a, scope, |a| self.with_value(b, scope, |b| value::compare(a, *op, b)))??
            }
            Expr::In(a, list) => self.with_value(a, scope, |a| list.contains(a))?,
            Expr::Words(a, words) => self.with_value(a, scope, |a| a.as_text().is_some_and(|t| words.matches(&t)))?,
            Expr::Regex(a, re) => self.with_value(a, scope, |a| a.as_text().is_some_and(|t| re.is_match(&t)))?,
            Expr::Str(op, a, Operand::Lit(b)) => self.with_value(a, scope, |a| b.str_test(*op, a))?,
            Expr::Str(op, a, b) => {
                self.with_value(a, scope, |a| self.with_value(b, scope, |b| value::str_test(*op, a, b)))??
            }
            Expr::Exists(a) => self.with_value(a, scope, Value::exists)?,
            Expr::Truthy(a) => match &*self.value(a, scope)? {
                Value::Bool(b) => *b,
                other => {
                    let function = match a {
                        Operand::Call(f, _) => self.program.functions.get(*f as usize).cloned().unwrap_or_default(),
                        _ => String::new(),
                    };
                    return Err(Box::new(EvalError::NotABool {
                        function,
                        value: other.to_string(),
                        rule: None,
                    }));
                }
            },
        })
    }

    /// `f` of an operand's value. A field or a literal is passed where it is stored (most
    /// operands are one; building a `Result<Cow<Value>>` for them and copying it out cost
    /// a store-to-load stall per test); the others are computed by [`Evaluator::value`].
    #[inline]
    fn with_value<R>(
        &self,
        operand: &Operand,
        scope: &Scope<'_, 'a>,
        f: impl FnOnce(&Value<'a>) -> R,
    ) -> Result<R, Failed> {
        Ok(match operand {
            Operand::Field(slot) => f(&self.record.fields[*slot as usize]),
            Operand::Lit(literal) => f(literal.value()),
            _ => f(&*self.value(operand, scope)?),
        })
    }

    fn value<'s>(&'s self, operand: &'s Operand, scope: &Scope<'s, 'a>) -> Result<Cow<'s, Value<'a>>, Failed>
    where
        'p: 's,
    {
        static NULL: Value<'static> = Value::Null;
        Ok(match (operand, scope) {
            (Operand::Field(slot), _) => Cow::Borrowed(&self.record.fields[*slot as usize]),
            (Operand::Prop(slot), Scope::Event(props)) => props.value(*slot),
            (Operand::Lit(literal), _) => Cow::Borrowed(literal.value()),
            (Operand::Score, Scope::Outcome { score, .. }) => Cow::Owned(Value::Num(*score)),
            (Operand::Dim(d), Scope::Outcome { dims, .. }) => Cow::Owned(Value::Num(dims[*d as usize])),
            (Operand::Call(func, args), _) => {
                let args = args
                    .iter()
                    .map(|a| self.value(a, scope).map(Cow::into_owned))
                    .collect::<Result<Vec<_>, _>>()?;
                Cow::Owned(self.host.call(*func, &args)?)
            }
            _ => Cow::Borrowed(&NULL),
        })
    }
}
