//! Why a condition is true or false: the values it looked at. Tracing walks a condition
//! after the normal evaluation has run, reading the same record, tallies and `let`
//! values, so scoring itself never pays for it.

use std::fmt;

use super::{EvalError, Evaluator, Host, Scope, Scratch};
use crate::program::{Expr, Operand, Program};
use crate::read::Record;
use crate::value::time::{show_duration, Millis};

/// A condition's value for one lead, and what it looked at to get it.
///
/// ```
/// let pack = leadscore::Pack::from_source("demo", "let vp_pricing = title ~ VP and visited /pricing")?;
/// let lead = serde_json::json!({"title": "VP Sales", "events": [
///     {"type": "page_view", "path": "/pricing", "at": "2026-02-28T00:00:00Z"}]});
/// let as_of = leadscore::parse_time("2026-03-01T00:00:00Z").unwrap();
/// let trace = pack.trace_let("vp_pricing", &lead, as_of)?.unwrap();
/// assert!(trace.value);
/// assert_eq!(trace.to_string(), "\
/// true
///   title = \"VP Sales\"
///   page_view events with path \"/pricing\": 1 (needs at least 1) → true
/// ");
/// # Ok::<(), leadscore::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// Whether the condition holds.
    pub value: bool,
    /// What it read, in the order it appears in the condition, each once.
    pub looked_at: Vec<Observation>,
}

/// One thing a condition read.
#[derive(Clone, Debug, PartialEq)]
pub enum Observation {
    /// A lead field and its value (`None` when the lead does not have it).
    Field {
        /// The dotted path.
        path: String,
        /// The value as the language shows it (`"VP Sales"`, `120`), or `None`.
        value: Option<String>,
    },
    /// A behaviour: matching events in its window against the number needed.
    Behaviour {
        /// Which events it counts: `page_view events with path "/pricing"`.
        events: String,
        /// The window, if any (`2d`).
        within: Option<String>,
        /// Matching events in the window.
        count: u64,
        /// Events needed.
        at_least: u64,
    },
    /// A `let` and its value.
    Let {
        /// The `let`'s name.
        name: String,
        /// Its value for this lead.
        value: bool,
    },
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.value)?;
        for o in &self.looked_at {
            writeln!(f, "  {o}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Observation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Observation::Field { path, value: Some(v) } => write!(f, "{path} = {v}"),
            Observation::Field { path, value: None } => write!(f, "{path} is missing"),
            Observation::Behaviour {
                events,
                within,
                count,
                at_least,
            } => {
                let window = within.as_ref().map(|w| format!(" within {w}")).unwrap_or_default();
                let holds = count >= at_least;
                write!(f, "{events}{window}: {count} (needs at least {at_least}) → {holds}")
            }
            Observation::Let { name, value } => write!(f, "let {name} = {value}"),
        }
    }
}

/// Evaluates `let` number `index` for a record and traces it.
pub(crate) fn trace_let(
    program: &Program,
    record: &Record,
    as_of: Millis,
    host: &dyn Host,
    index: usize,
) -> Result<Trace, EvalError> {
    let mut ev = Evaluator::new(program, record, host, as_of, false, &mut Scratch::default());
    ev.match_events()?;
    for l in program.lets.iter().take(index + 1) {
        let value = ev.test(&l.expr, &Scope::Lead).map_err(|e| *e)?;
        ev.lets.push(value);
    }
    let value = ev.lets.get(index).copied().unwrap_or(false);
    let mut looked_at = Vec::new();
    if let Some(l) = program.lets.get(index) {
        ev.observe(&l.expr, &mut looked_at);
    }
    Ok(Trace { value, looked_at })
}

impl Evaluator<'_, '_> {
    /// Records what `expr` reads: fields, behaviours and `let`s, each once.
    fn observe(&self, expr: &Expr, out: &mut Vec<Observation>) {
        let mut push = |o: Observation| {
            if !out.contains(&o) {
                out.push(o);
            }
        };
        match expr {
            Expr::Or(parts) | Expr::And(parts) => parts.iter().for_each(|p| self.observe(p, out)),
            Expr::Not(inner) => self.observe(inner, out),
            Expr::Behaviour(b) => push(self.behaviour_observation(*b)),
            Expr::Let(l) => {
                if let Some(def) = self.program.lets.get(*l as usize) {
                    push(Observation::Let {
                        name: def.name.clone(),
                        value: self.lets.get(*l as usize).copied().unwrap_or(false),
                    });
                }
            }
            Expr::Compare(a, _, b) | Expr::Str(_, a, b) => {
                self.observe_operand(a, out);
                self.observe_operand(b, out);
            }
            Expr::In(a, _) | Expr::Words(a, _) | Expr::Regex(a, _) | Expr::Exists(a) | Expr::Truthy(a) => {
                self.observe_operand(a, out);
            }
        }
    }

    fn observe_operand(&self, operand: &Operand, out: &mut Vec<Observation>) {
        match operand {
            Operand::Field(slot) => {
                let path = self.program.fields[*slot as usize].join(".");
                let value = &self.record.fields[*slot as usize];
                let o = Observation::Field {
                    path,
                    value: value.exists().then(|| value.to_string()),
                };
                if !out.contains(&o) {
                    out.push(o);
                }
            }
            Operand::Call(_, args) => args.iter().for_each(|a| self.observe_operand(a, out)),
            Operand::Prop(_) | Operand::Lit(_) | Operand::Score | Operand::Dim(_) => {}
        }
    }

    fn behaviour_observation(&self, b: u32) -> Observation {
        let test = &self.program.behaviours[b as usize];
        let matcher = &self.program.matchers[test.matcher as usize];
        let mut events = format!("{} events", self.program.event_types[matcher.event_type as usize]);
        if let Some((prop, glob)) = &matcher.property {
            events += &format!(" with {} {glob}", self.program.event_props[*prop as usize]);
        }
        if let Some(filter) = &matcher.filter {
            events += &format!(" where {}", self.program.show(filter));
        }
        Observation::Behaviour {
            events,
            within: test.within.map(show_duration),
            count: self.tallies[b as usize].count,
            at_least: test.at_least,
        }
    }
}
