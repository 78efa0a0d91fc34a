//! Scoring one lead. Everything that can go wrong is an [`EvalError`] for that lead;
//! nothing here panics or reads the clock.

mod error;
mod host;
mod outcome;
pub mod trace;

use std::borrow::Cow;

use crate::program::{Expr, Matcher, Operand, Program, Rule};
use crate::read::{read_event, EventProps, Events, Record};
use crate::value::pattern::Prepared;
use crate::value::{self as value, CmpOp, Millis, Value};
pub use error::{EvalError, PluginError, ScriptPosition};
pub use host::Host;
pub use outcome::{Capped, Enrichment, Fired, Outcome, PackId};

/// Matching events of one matcher, newest time tracked for decay.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    count: u64,
    latest: Option<Millis>,
}

/// What a result says besides the rules' verdict: the pack that made it, what its hooks
/// set, and the id to give a lead that has none (the CLI gives its line number).
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// The pack scoring the lead.
    pub pack: PackId,
    /// What the enrichment hooks set, in order.
    pub enriched: Vec<Enrichment>,
    /// The id of a lead without one.
    pub fallback_id: Option<serde_json::Value>,
}

/// Scores a record into its whole result. `as_of` is the time the score is for.
pub fn evaluate(
    program: &Program,
    record: &Record,
    as_of: Millis,
    host: &dyn Host,
    context: Context,
) -> Result<Outcome, EvalError> {
    let mut ev = Evaluator::new(program, record, host, as_of);
    ev.match_events()?;
    for l in &program.lets {
        let value = l.used && ev.test(&l.expr, &Scope::Lead)?;
        ev.lets.push(value);
    }
    let mut outcome = Outcome {
        id: record.id.clone().or(context.fallback_id),
        fired: Vec::with_capacity(program.rules.len().min(4)),
        enriched: context.enriched,
        pack: context.pack,
        ..Outcome::default()
    };
    let mut raw = vec![0.0; program.dims.len()];
    let mut loose = 0.0;
    for (index, rule) in program.rules.iter().enumerate() {
        if !ev
            .test(&rule.expr, &Scope::Lead)
            .map_err(|e| e.in_rule(&rule.location))?
        {
            continue;
        }
        let fired = ev.fire(rule);
        match fired.dim {
            Some(d) => raw[d as usize] += fired.points,
            None => loose += fired.points,
        }
        if let (Some(reason), None) = (&rule.disqualify, &outcome.disqualified) {
            outcome.disqualified = Some(reason.clone());
        }
        for tag in &rule.tags {
            if !outcome.tags.contains(tag) {
                outcome.tags.push(tag.clone());
            }
        }
        outcome.fired.push(Fired {
            rule: rule.name.clone(),
            points: round(fired.points),
            dimension: fired.dim.map(|d| program.dims[d as usize].name.clone()),
            location: rule.location.clone(),
            index,
            count: fired.count,
            decay: fired.decay.map(round),
        });
    }
    let mut dims = Vec::with_capacity(raw.len());
    for (dim, &total) in program.dims.iter().zip(&raw) {
        let capped = dim.cap.map_or(total, |cap| total.min(cap));
        if capped < total {
            outcome.capped.push(Capped {
                dimension: dim.name.to_string(),
                total: round(total),
                cap: capped,
            });
        }
        outcome.dimensions.insert(dim.name.clone(), round(capped));
        dims.push(capped);
    }
    let score = dims.iter().sum::<f64>() + loose;
    outcome.score = round(score);
    let scope = Scope::Outcome { score, dims: &dims };
    let mql = match &program.mql {
        Some((expr, _)) => ev.test(expr, &scope)?,
        None => false,
    };
    outcome.mql = mql && outcome.disqualified.is_none();
    if outcome.mql {
        for route in &program.routes {
            let taken = match &route.when {
                Some(expr) => ev.test(expr, &scope)?,
                None => true,
            };
            if taken {
                outcome.route = Some(route.queue.clone());
                break;
            }
        }
    }
    Ok(outcome)
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
}

struct Evaluator<'p, 'a> {
    program: &'p Program,
    record: &'p Record<'a>,
    host: &'p dyn Host,
    as_of: Millis,
    /// (matcher, event time) for every event a matcher accepts, grouped by matcher; kept
    /// only for packs that need them ([`Program::keeps_event_times`]).
    hits: Vec<(u32, Millis)>,
    /// Per behaviour: matching events in its window.
    tallies: Vec<Tally>,
    lets: Vec<bool>,
}

impl<'p, 'a> Evaluator<'p, 'a> {
    pub(crate) fn new(program: &'p Program, record: &'p Record<'a>, host: &'p dyn Host, as_of: Millis) -> Self {
        let hits = match &record.events {
            Events::Json(events) if program.keeps_event_times => Vec::with_capacity(events.len()),
            _ => Vec::new(),
        };
        let tallies = vec![Tally::default(); program.behaviours.len()];
        let lets = Vec::with_capacity(program.lets.len());
        Evaluator {
            program,
            record,
            host,
            as_of,
            hits,
            tallies,
            lets,
        }
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
                let mut props = Vec::new();
                for (index, event) in events.iter().enumerate() {
                    if let Some((ty, at)) = read_event(program, index, event, self.as_of, &mut props)? {
                        self.match_event(ty, at, EventProps::Json(&props))?;
                    }
                }
            }
        }
        if program.keeps_event_times {
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
            Some(filter) => self.test(filter, &Scope::Event(props)),
            None => Ok(true),
        }
    }

    /// Counts an event matcher `m` accepted.
    fn count(&mut self, m: u32, at: Millis) {
        let (program, as_of) = (self.program, self.as_of);
        for &b in &program.behaviours_by_matcher[m as usize] {
            if program.behaviours[b as usize]
                .within
                .is_none_or(|w| at >= as_of.saturating_sub(w))
            {
                let tally = &mut self.tallies[b as usize];
                tally.count += 1;
                tally.latest = tally.latest.max(Some(at));
            }
        }
        if self.program.keeps_event_times {
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
            };
        };
        let half_life = points.dim.and_then(|d| self.program.dims[d as usize].half_life);
        let decay = |at: Millis, hl: Millis| 0.5f64.powf((self.as_of - at) as f64 / hl as f64);
        let (mut total, count, factor) = match (points.each, rule.behaviours.first()) {
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
                (total, Some(count), None)
            }
            _ => {
                let latest = rule
                    .behaviours
                    .iter()
                    .filter(|&&b| self.behaviour_true(b))
                    .filter_map(|&b| self.tallies[b as usize].latest)
                    .max();
                match (half_life, latest) {
                    (Some(hl), Some(at)) => {
                        let f = decay(at, hl);
                        (points.value * f, None, Some(f))
                    }
                    _ => (points.value, None, None),
                }
            }
        };
        // Without `max`, the bound on points bounds the total too: 10,001 events of 1e12
        // would add up past where small points are lost.
        let max = points.max.unwrap_or(crate::check::MAX_POINTS);
        total = total.clamp(-max, max);
        Given {
            points: total,
            dim: points.dim,
            count,
            decay: factor,
        }
    }

    fn test(&self, expr: &Expr, scope: &Scope<'_, 'a>) -> Result<bool, EvalError> {
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
            Expr::Compare(a, op, b) => {
                self.with_value(a, scope, |a| self.with_value(b, scope, |b| value::compare(a, *op, b)))??
            }
            Expr::In(a, list) => {
                self.with_value(a, scope, |a| list.iter().any(|item| value::compare(a, CmpOp::Eq, item)))?
            }
            Expr::Words(a, words) => self.with_value(a, scope, |a| a.as_text().is_some_and(|t| words.matches(&t)))?,
            Expr::Regex(a, re) => self.with_value(a, scope, |a| a.as_text().is_some_and(|t| re.is_match(&t)))?,
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
                    return Err(EvalError::NotABool {
                        function,
                        value: other.to_string(),
                        rule: None,
                    });
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
    ) -> Result<R, EvalError> {
        Ok(match operand {
            Operand::Field(slot) => f(&self.record.fields[*slot as usize]),
            Operand::Lit(value) => f(value),
            _ => f(&*self.value(operand, scope)?),
        })
    }

    fn value<'s>(&'s self, operand: &'s Operand, scope: &Scope<'s, 'a>) -> Result<Cow<'s, Value<'a>>, EvalError>
    where
        'p: 's,
    {
        static NULL: Value<'static> = Value::Null;
        Ok(match (operand, scope) {
            (Operand::Field(slot), _) => Cow::Borrowed(&self.record.fields[*slot as usize]),
            (Operand::Prop(slot), Scope::Event(props)) => props.value(*slot),
            (Operand::Lit(v), _) => Cow::Borrowed(v),
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
