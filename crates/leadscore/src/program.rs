//! The executable form of a pack: plain data, shared across threads, printable.
//!
//! Field paths are resolved to slots, event types and properties to indices, patterns
//! compiled, and every distinct behaviour numbered so it is counted once per lead.

use std::fmt;

use regex::Regex;

use crate::ast::{CmpOp, Measure, Millis, StrOp};
use crate::value::keys::KeyIndex;
use crate::value::pattern::{Glob, Words};
use crate::value::{Literal, Literals};

/// A compiled pack. Its `Display` lists fields, matchers, behaviours, `let`s and rules
/// (with `{:#}`, each condition's steps as the evaluator runs them under it):
///
/// ```
/// let pack = leadscore::Pack::from_source("p", "visited /pricing at least 3 times => +5\nvisited /pricing => tag \"p\"")?;
/// let listing = pack.program().to_string();
/// assert!(listing.contains("matcher m0 = page_view path ~ \"/pricing\""));
/// assert!(listing.contains("behaviour b0 = count(m0) >= 3"));
/// assert!(listing.contains("behaviour b1 = count(m0) >= 1"));
/// assert!(format!("{:#}", pack.program()).contains("\n    0: b0 ? yes : no\n"));
/// # Ok::<(), leadscore::Error>(())
/// ```
#[derive(Debug)]
pub struct Program {
    /// Lead field paths, by slot.
    pub(crate) fields: Vec<Vec<String>>,
    /// Event types the pack reads, by index.
    pub(crate) event_types: Vec<String>,
    /// The same types, found by a lead's spelling in one probe ([`Program::event_type`]).
    pub(crate) type_index: KeyIndex,
    /// Event properties the pack reads, by slot.
    pub(crate) event_props: Vec<String>,
    /// The same properties, found by an event's key in one probe.
    pub(crate) prop_index: KeyIndex,
    /// The slots of `type` and `at` among them, when a filter reads them as properties
    /// (every event has both keys: found once here, not probed at every event).
    pub(crate) type_prop: Option<usize>,
    /// The slot of `at` among them, likewise.
    pub(crate) at_prop: Option<usize>,
    /// Distinct event matchers: an event type, a property glob, a filter.
    pub(crate) matchers: Vec<Matcher>,
    /// For each event type, how its events are matched.
    pub(crate) plans: Vec<TypePlan>,
    /// For each event type, the property slots its matchers read (the others stay null).
    pub(crate) props_by_type: Vec<Vec<u32>>,
    /// Distinct behaviour tests: a matcher, a count and a window.
    pub(crate) behaviours: Vec<BehaviourTest>,
    /// The behaviours that count each matcher's events, with their windows, matcher by
    /// matcher in one array: those of matcher `m` are
    /// `counted[counted_from[m]..counted_from[m + 1]]`, read in order as an event is counted.
    pub(crate) counted: Vec<Counted>,
    /// Where each matcher's behaviours start in `counted` (one more entry than matchers).
    pub(crate) counted_from: Vec<u32>,
    /// Whether some `each` rule decays, and so needs every matching event's time (other
    /// packs only need per-behaviour counts and latest times).
    pub(crate) keeps_event_times: bool,
    /// `let`s in evaluation order (each after those it uses).
    pub(crate) lets: Vec<Let>,
    /// Rules in file order.
    pub(crate) rules: Vec<Rule>,
    /// The word tests of the `let`s' and rules' [`Flat`] conditions, field by field.
    pub(crate) word_sets: Vec<WordSet>,
    /// Dimensions.
    pub(crate) dims: Vec<Dimension>,
    /// The MQL condition and its text.
    pub(crate) mql: Option<(Expr, String)>,
    /// Routes in order.
    pub(crate) routes: Vec<Route>,
    /// `requalify after`: a rejected or recycled lead's cool-down (`leadscore serve`).
    pub(crate) requalify_after: Option<Millis>,
    /// `calibrate`: the chance of converting a score means.
    pub(crate) calibration: Option<Calibration>,
    /// `target` statements, in file order (`leadscore serve` evaluates them).
    pub(crate) targets: Vec<Target>,
    /// Functions called from conditions, by index: (plugin index, name).
    pub(crate) functions: Vec<String>,
}

/// One test on events: type, optional property glob, optional filter.
#[derive(Debug)]
pub(crate) struct Matcher {
    pub event_type: u32,
    pub property: Option<(u32, Glob)>,
    pub filter: Option<Expr>,
}

/// How the events of one type are matched: each property a glob tests is read and
/// prepared once per event, then tried against every glob on it.
#[derive(Debug, Default)]
pub(crate) struct TypePlan {
    /// Matchers with a property glob, grouped by the property.
    pub globs: Vec<PropGlobs>,
    /// Matchers without one (only a filter, or nothing).
    pub others: Vec<u32>,
}

/// The matchers whose globs test one property of an event type.
#[derive(Debug)]
pub(crate) struct PropGlobs {
    pub prop: u32,
    /// Whether the globs are path globs (all globs on one property are the same kind:
    /// the verb decides both).
    pub is_path: bool,
    pub tests: Vec<GlobTest>,
}

/// One matcher's glob, kept next to its neighbours so that testing an event's property
/// against all of them reads one array.
#[derive(Debug)]
pub(crate) struct GlobTest {
    pub matcher: u32,
    pub glob: Glob,
    /// Whether the matcher also has a `where` filter.
    pub filtered: bool,
}

/// A behaviour test: how many events a matcher must see, and when.
#[derive(Debug, PartialEq)]
pub(crate) struct BehaviourTest {
    pub matcher: u32,
    pub at_least: u64,
    pub within: Option<Millis>,
}

/// A behaviour that counts a matcher's events, and its window (copied from its
/// [`BehaviourTest`], so that counting an event reads one array).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Counted {
    pub behaviour: u32,
    pub within: Option<Millis>,
}

impl Program {
    /// The behaviours that count the events matcher `m` accepts.
    #[inline]
    pub(crate) fn counted_by(&self, m: u32) -> &[Counted] {
        let m = m as usize;
        match (self.counted_from.get(m), self.counted_from.get(m + 1)) {
            (Some(&from), Some(&to)) => self.counted.get(from as usize..to as usize).unwrap_or(&[]),
            _ => &[],
        }
    }
}

/// A named condition.
#[derive(Debug)]
pub(crate) struct Let {
    pub name: String,
    pub expr: Expr,
    /// `expr` as the evaluator runs it (derived from it by `compile`).
    pub flat: Flat,
    /// Whether a rule, the MQL condition or a route depends on it; unused `let`s are
    /// not evaluated.
    pub used: bool,
}

/// A compiled rule.
#[derive(Debug)]
pub(crate) struct Rule {
    pub name: std::sync::Arc<str>,
    /// `file:line` of the rule.
    pub location: std::sync::Arc<str>,
    pub expr: Expr,
    /// `expr` as the evaluator runs it (derived from it by `compile`).
    pub flat: Flat,
    pub points: Vec<Points>,
    pub disqualify: Option<String>,
    pub tags: Vec<String>,
    /// Behaviours not under `not`: what `each` counts and what decay measures age from.
    pub behaviours: Vec<u32>,
}

/// Points a rule gives.
#[derive(Debug)]
pub(crate) struct Points {
    pub value: f64,
    pub dim: Option<u32>,
    pub each: bool,
    pub max: Option<f64>,
}

/// A dimension.
#[derive(Debug)]
pub(crate) struct Dimension {
    pub name: std::sync::Arc<str>,
    pub cap: Option<f64>,
    pub half_life: Option<Millis>,
}

/// A route.
#[derive(Debug)]
pub(crate) struct Route {
    pub queue: String,
    pub when: Option<Expr>,
    /// `sla 2h`: how soon sales must act on its MQLs (`leadscore serve`).
    pub sla: Option<Millis>,
    /// `business Mon-Fri 09:00-17:00 "Zone"`: the SLA counts only this working time.
    pub business: Option<crate::value::hours::BusinessHours>,
}

/// A compiled condition.
#[derive(Clone, Debug)]
pub(crate) enum Expr {
    Or(Box<[Expr]>),
    And(Box<[Expr]>),
    Not(Box<Expr>),
    Compare(Operand, CmpOp, Operand),
    In(Operand, Literals),
    Words(Operand, Words),
    Regex(Operand, Regex),
    Str(StrOp, Operand, Operand),
    Exists(Operand),
    Truthy(Operand),
    Behaviour(u32),
    Let(u32),
}

/// A compiled value.
#[derive(Clone, Debug)]
pub(crate) enum Operand {
    Field(u32),
    Prop(u32),
    Lit(Literal),
    Score,
    Dim(u32),
    Call(u32, Box<[Operand]>),
}

/// A condition as the evaluator runs it: its tests in a row, each naming the step to go
/// to when it holds and when it does not (`and`, `or` and `not` are only where the steps
/// lead). Derived from the condition's [`Expr`] by `compile`, which stays the one source
/// of truth (the listing, explanations, traces and the next-change search read it); the
/// common tests on a lead field (a compare with a literal, `in` a list, a word match, a
/// string test, `exists`) and a behaviour's count are typed here, so testing one is a
/// branch on its kind and a compare, with no walk over boxes. Printed one step a line:
///
/// ```text
/// 0: f0 ~ "VP" ? 1 : no
/// 1: b0 ? yes : no
/// ```
#[derive(Clone, Debug)]
pub(crate) struct Flat {
    /// Where the walk starts: a step, or [`Flat::YES`] / [`Flat::NO`] for a condition
    /// decided without a test (an empty `and` or `or`).
    pub start: u32,
    /// The steps; every jump goes forward.
    pub steps: Box<[Step]>,
}

impl Default for Flat {
    /// A condition that holds without a test.
    fn default() -> Flat {
        Flat {
            start: Flat::YES,
            steps: Box::default(),
        }
    }
}

impl Flat {
    /// The condition holds.
    pub const YES: u32 = u32::MAX;
    /// The condition does not hold.
    pub const NO: u32 = u32::MAX - 1;
}

/// The word tests (`title ~ VP`) the conditions make on one lead field, when it has more
/// than one: made together once per lead, the field's text lower-cased once for all of
/// them ([`Words::matches_each`]), when the first is needed.
#[derive(Clone, Debug)]
pub(crate) struct WordSet {
    pub field: u32,
    /// At most 63 (a bit each, and one for "made").
    pub words: Vec<Words>,
}

/// One test of a [`Flat`] condition and where it leads.
#[derive(Clone, Debug)]
pub(crate) struct Step {
    pub test: Test,
    /// The next step when the test holds (or [`Flat::YES`] / [`Flat::NO`]).
    pub yes: u32,
    /// The next step when it does not.
    pub no: u32,
}

/// A test of a [`Flat`] condition, with the same answer as the [`Expr`] it comes from.
/// The larger payloads are boxed so that a step is small (a step a cache line at most).
#[derive(Clone, Debug)]
pub(crate) enum Test {
    /// `b >= at_least` events counted (`Expr::Behaviour`, its count copied in).
    Behaviour { behaviour: u32, at_least: u64 },
    /// A `let`'s value.
    Let(u32),
    /// A lead field against a literal.
    Compare { field: u32, op: CmpOp, literal: Literal },
    /// A lead field `in` a list.
    In { field: u32, list: Box<Literals> },
    /// A lead field `~` words; with `set`, the words are bit `.1` of the field's
    /// [`WordSet`] `.0` (made once per lead for all of them, when one is first needed).
    Words {
        field: u32,
        words: Box<Words>,
        set: Option<(u32, u32)>,
    },
    /// A lead field `contains`, `starts_with` or `ends_with` a literal.
    Str { op: StrOp, field: u32, literal: Literal },
    /// A lead field `exists`.
    Exists(u32),
    /// Any other test, run as the condition walk runs it (regexes, calls, event
    /// properties, the score).
    Other(Box<Expr>),
}

impl fmt::Display for Program {
    /// A listing of the program, one line per part, for snapshots and debugging.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, path) in self.fields.iter().enumerate() {
            writeln!(f, "field f{i} = {}", path.join("."))?;
        }
        for (i, m) in self.matchers.iter().enumerate() {
            write!(f, "matcher m{i} = {}", self.event_types[m.event_type as usize])?;
            if let Some((prop, glob)) = &m.property {
                write!(f, " {} ~ {glob}", self.event_props[*prop as usize])?;
            }
            if let Some(filter) = &m.filter {
                write!(f, " where {}", self.show(filter))?;
            }
            writeln!(f)?;
        }
        for (i, b) in self.behaviours.iter().enumerate() {
            write!(f, "behaviour b{i} = count(m{}) >= {}", b.matcher, b.at_least)?;
            if let Some(w) = b.within {
                write!(f, " within {}", crate::value::time::show_duration(w))?;
            }
            writeln!(f)?;
        }
        for (i, l) in self.lets.iter().enumerate() {
            let unused = if l.used { "" } else { " (unused)" };
            writeln!(f, "let l{i} {}{unused} = {}", l.name, self.show(&l.expr))?;
            self.steps(f, &l.flat)?;
        }
        for d in &self.dims {
            write!(f, "dimension {}", d.name)?;
            if let Some(cap) = d.cap {
                write!(f, " cap {cap}")?;
            }
            if let Some(h) = d.half_life {
                write!(f, " half-life {}", crate::value::time::show_duration(h))?;
            }
            writeln!(f)?;
        }
        for r in &self.rules {
            writeln!(
                f,
                "rule {:?} ({}) when {} => {}",
                r.name,
                r.location,
                self.show(&r.expr),
                self.actions(r)
            )?;
            self.steps(f, &r.flat)?;
        }
        if let Some((expr, _)) = &self.mql {
            writeln!(f, "mql when {}", self.show(expr))?;
        }
        for r in &self.routes {
            match &r.when {
                Some(w) => write!(f, "route {:?} when {}", r.queue, self.show(w))?,
                None => write!(f, "route {:?}", r.queue)?,
            }
            match (r.sla, &r.business) {
                (Some(sla), Some(hours)) => {
                    writeln!(f, " sla {} business {hours}", crate::value::time::show_duration(sla))?
                }
                (Some(sla), None) => writeln!(f, " sla {}", crate::value::time::show_duration(sla))?,
                (None, _) => writeln!(f)?,
            }
        }
        if let Some(after) = self.requalify_after {
            writeln!(f, "requalify after {}", crate::value::time::show_duration(after))?;
        }
        if let Some(c) = &self.calibration {
            writeln!(f, "{c}")?;
        }
        for t in &self.targets {
            writeln!(f, "{t}")?;
        }
        Ok(())
    }
}

impl Program {
    /// With `{:#}`, a condition's [`Flat`] steps under its line, indented (the listing
    /// without `#` is the tree's alone).
    fn steps(&self, f: &mut fmt::Formatter<'_>, flat: &Flat) -> fmt::Result {
        if !f.alternate() {
            return Ok(());
        }
        for line in self.show_flat(flat).to_string().lines() {
            writeln!(f, "    {line}")?;
        }
        Ok(())
    }

    pub(crate) fn show<'a>(&'a self, expr: &'a Expr) -> Show<'a> {
        Show { program: self, expr }
    }

    fn actions(&self, rule: &Rule) -> String {
        let mut parts = Vec::new();
        for p in &rule.points {
            let mut s = format!("{:+}", p.value);
            if let Some(d) = p.dim {
                s += &format!(" {}", self.dims[d as usize].name);
            }
            if p.each {
                s += " each";
            }
            if let Some(m) = p.max {
                s += &format!(" max {m}");
            }
            parts.push(s);
        }
        if let Some(reason) = &rule.disqualify {
            parts.push(format!("disqualify {reason:?}"));
        }
        parts.extend(rule.tags.iter().map(|t| format!("tag {t:?}")));
        parts.join(", ")
    }

    /// What the rule at `location` does besides giving points: `disqualify "student"`,
    /// `tag "pricing"` (for explanations: the points have their own column).
    /// `index` (from [`crate::Fired::index`]) finds the rule; an outcome read back from
    /// JSON has no index, so a rule whose location does not match is looked up by location.
    pub(crate) fn marks(&self, index: usize, location: &str) -> Option<String> {
        let rule = match self.rules.get(index) {
            Some(rule) if &*rule.location == location => rule,
            _ => self.rules.iter().find(|r| &*r.location == location)?,
        };
        let disqualify = rule.disqualify.iter().map(|reason| format!("disqualify {reason:?}"));
        let marks: Vec<String> = disqualify
            .chain(rule.tags.iter().map(|t| format!("tag {t:?}")))
            .collect();
        (!marks.is_empty()).then(|| marks.join(", "))
    }

    fn operand(&self, f: &mut fmt::Formatter<'_>, o: &Operand) -> fmt::Result {
        match o {
            Operand::Field(i) => write!(f, "f{i}"),
            Operand::Prop(i) => write!(f, "event.{}", self.event_props[*i as usize]),
            Operand::Lit(v) => write!(f, "{v}"),
            Operand::Score => write!(f, "score"),
            Operand::Dim(i) => write!(f, "{}", self.dims[*i as usize].name),
            Operand::Call(func, args) => {
                write!(f, "{}(", self.functions[*func as usize])?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    self.operand(f, a)?;
                }
                write!(f, ")")
            }
        }
    }
}

impl Program {
    /// A [`Flat`] condition, one step a line (`0: f0 ~ "VP" ? 1 : no`).
    pub(crate) fn show_flat<'a>(&'a self, flat: &'a Flat) -> ShowFlat<'a> {
        ShowFlat { program: self, flat }
    }
}

/// Displays a [`Flat`] condition: `start N` when it does not start at step 0, then one
/// line a step.
pub(crate) struct ShowFlat<'a> {
    program: &'a Program,
    flat: &'a Flat,
}

impl fmt::Display for ShowFlat<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = |t: u32| match t {
            Flat::YES => "yes".to_string(),
            Flat::NO => "no".to_string(),
            n => n.to_string(),
        };
        if self.flat.start != 0 {
            writeln!(f, "start {}", target(self.flat.start))?;
        }
        for (i, step) in self.flat.steps.iter().enumerate() {
            write!(f, "{i}: ")?;
            match &step.test {
                Test::Behaviour { behaviour, .. } => write!(f, "b{behaviour}")?,
                Test::Let(l) => write!(f, "l{l}")?,
                Test::Compare { field, op, literal } => write!(f, "f{field} {op} {literal}")?,
                Test::In { field, list } => {
                    let items: Vec<String> = list.iter().map(ToString::to_string).collect();
                    write!(f, "f{field} in [{}]", items.join(", "))?
                }
                Test::Words { field, words, set } => {
                    write!(f, "f{field} ~ {words}")?;
                    if let Some((set, bit)) = set {
                        write!(f, " (w{set}.{bit})")?;
                    }
                }
                Test::Str { op, field, literal } => write!(f, "f{field} {} {literal}", str_op(*op))?,
                Test::Exists(field) => write!(f, "f{field} exists")?,
                Test::Other(expr) => write!(f, "{}", self.program.show(expr))?,
            }
            writeln!(f, " ? {} : {}", target(step.yes), target(step.no))?;
        }
        Ok(())
    }
}

/// The word of a string test.
fn str_op(op: StrOp) -> &'static str {
    match op {
        StrOp::Contains => "contains",
        StrOp::StartsWith => "starts_with",
        StrOp::EndsWith => "ends_with",
    }
}

/// Displays a condition in prefix form: `and(f0 ~ "vp", b1)`.
pub(crate) struct Show<'a> {
    program: &'a Program,
    expr: &'a Expr,
}

impl fmt::Display for Show<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.program;
        let list = |f: &mut fmt::Formatter<'_>, name: &str, parts: &[Expr]| {
            write!(f, "{name}(")?;
            for (i, e) in parts.iter().enumerate() {
                if i > 0 {
                    write!(f, ", ")?;
                }
                write!(f, "{}", p.show(e))?;
            }
            write!(f, ")")
        };
        match self.expr {
            Expr::Or(parts) => list(f, "or", parts),
            Expr::And(parts) => list(f, "and", parts),
            Expr::Not(e) => write!(f, "not({})", p.show(e)),
            Expr::Compare(a, op, b) => {
                p.operand(f, a)?;
                write!(f, " {} ", op)?;
                p.operand(f, b)
            }
            Expr::In(a, list) => {
                p.operand(f, a)?;
                let items: Vec<String> = list.iter().map(ToString::to_string).collect();
                write!(f, " in [{}]", items.join(", "))
            }
            Expr::Words(a, w) => {
                p.operand(f, a)?;
                write!(f, " ~ {w}")
            }
            Expr::Regex(a, r) => {
                p.operand(f, a)?;
                write!(f, " ~ /{}/", r.as_str())
            }
            Expr::Str(op, a, b) => {
                p.operand(f, a)?;
                write!(f, " {} ", str_op(*op))?;
                p.operand(f, b)
            }
            Expr::Exists(a) => {
                p.operand(f, a)?;
                write!(f, " exists")
            }
            Expr::Truthy(a) => p.operand(f, a),
            Expr::Behaviour(b) => write!(f, "b{b}"),
            Expr::Let(l) => write!(f, "l{l}"),
        }
    }
}

impl Expr {
    /// Adds the event property slots this condition reads to `out`.
    pub(crate) fn props(&self, out: &mut Vec<u32>) {
        let operand = |o: &Operand, out: &mut Vec<u32>| o.props(out);
        match self {
            Expr::Or(parts) | Expr::And(parts) => parts.iter().for_each(|p| p.props(out)),
            Expr::Not(inner) => inner.props(out),
            Expr::Compare(a, _, b) | Expr::Str(_, a, b) => {
                operand(a, out);
                operand(b, out);
            }
            Expr::In(a, _) | Expr::Words(a, _) | Expr::Regex(a, _) | Expr::Exists(a) | Expr::Truthy(a) => {
                operand(a, out)
            }
            Expr::Behaviour(_) | Expr::Let(_) => {}
        }
    }
}

impl Operand {
    fn props(&self, out: &mut Vec<u32>) {
        match self {
            Operand::Prop(p) => out.push(*p),
            Operand::Call(_, args) => args.iter().for_each(|a| a.props(out)),
            Operand::Field(_) | Operand::Lit(_) | Operand::Score | Operand::Dim(_) => {}
        }
    }
}

impl Program {
    /// The index of an event type the program reads.
    /// Case is ignored: the program's types are lower-cased, a lead's may be any case.
    /// A lead's type is found in one probe of [`Program::type_index`] (ASCII case
    /// ignored, the exact spelling tried first), not compared with each type in turn:
    /// which type an event has is data, and a search that stops at it mispredicted a
    /// branch most events. The types are distinct and lower-cased, so at most one matches
    /// either way; a type with other capitals than ASCII's is lower-cased and found again.
    pub(crate) fn event_type(&self, name: &str) -> Option<u32> {
        let found = self.type_index.find_ignore_ascii_case(name.as_bytes()).or_else(|| {
            let lower = (!name.is_ascii()).then(|| name.to_lowercase())?;
            self.type_index.find(lower.as_bytes())
        });
        found.map(|i| i as u32)
    }
}

impl Program {
    /// The number of rules.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }
}

/// One rule of a program as people list it: its name, where it is, what it does.
///
/// ```
/// let pack = leadscore::Pack::from_source("demo", "cap fit at 40\nrule \"CEO\": title ~ CEO => +15 fit")?;
/// let rules = pack.program().rules();
/// assert_eq!(rules[0].name, "CEO");
/// assert_eq!(rules[0].location, "demo.rules:2");
/// assert_eq!(rules[0].actions, "+15 fit");
/// # Ok::<(), leadscore::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RuleSummary {
    /// The rule's name, or its condition's text.
    pub name: String,
    /// `file:line`.
    pub location: String,
    /// Its actions as written in the language: `+15 fit`, `disqualify "student"`.
    pub actions: String,
    /// The points it gives, if any.
    pub points: Option<f64>,
    /// Whether its points are given once per matching event (`each`).
    pub each: bool,
    /// Its disqualifying reason, if it disqualifies.
    pub disqualify: Option<String>,
}

impl Program {
    /// Every rule, in file order.
    pub fn rules(&self) -> Vec<RuleSummary> {
        self.rules
            .iter()
            .map(|r| RuleSummary {
                name: r.name.to_string(),
                location: r.location.to_string(),
                actions: self.actions(r),
                points: r.points.first().map(|p| p.value),
                each: r.points.first().is_some_and(|p| p.each),
                disqualify: r.disqualify.clone(),
            })
            .collect()
    }

    /// The names of the `let`s.
    ///
    /// ```
    /// let pack = leadscore::Pack::from_source("demo", "let vip = title ~ CEO\nvip => +5")?;
    /// assert_eq!(pack.program().let_names().collect::<Vec<_>>(), ["vip"]);
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn let_names(&self) -> impl Iterator<Item = &str> {
        self.lets.iter().map(|l| l.name.as_str())
    }

    /// The names of the dimensions, in order of declaration.
    ///
    /// ```
    /// let pack = leadscore::Pack::from_source("demo", "cap fit at 40\ndimension intent")?;
    /// assert_eq!(pack.program().dimension_names().collect::<Vec<_>>(), ["fit", "intent"]);
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn dimension_names(&self) -> impl Iterator<Item = &str> {
        self.dims.iter().map(|d| &*d.name)
    }

    /// The lead fields the program reads, as dotted paths (`company.size`).
    pub fn field_paths(&self) -> impl Iterator<Item = String> + '_ {
        self.fields.iter().map(|path| path.join("."))
    }

    /// The event types the program tests (`page_view` for `visited`, `TYPE` for `did TYPE`).
    ///
    /// ```
    /// let pack = leadscore::Pack::from_source("demo", "visited /pricing => +5\ndid demo where length >= 2 => +1")?;
    /// assert_eq!(pack.program().event_types().collect::<Vec<_>>(), ["page_view", "demo"]);
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn event_types(&self) -> impl Iterator<Item = &str> {
        self.event_types.iter().map(String::as_str)
    }

    /// The event properties the program reads, besides `type` and `at` (`path` for
    /// `visited`, the names a `where` tests).
    ///
    /// ```
    /// let pack = leadscore::Pack::from_source("demo", "visited /pricing => +5\ndid demo where length >= 2 => +1")?;
    /// let mut props: Vec<_> = pack.program().event_properties().collect();
    /// props.sort();
    /// assert_eq!(props, ["length", "path"]);
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn event_properties(&self) -> impl Iterator<Item = &str> {
        self.event_props.iter().map(String::as_str)
    }
}

/// What only `leadscore serve` uses: route SLAs and the requalification cool-down.
/// Batch scoring ignores both.
impl Program {
    /// The SLA of the first route for `queue` (`route "ae" when ... sla 2h`), if it has one.
    ///
    /// ```
    /// let pack = leadscore::Pack::from_source("demo", "threshold 10\nroute \"ae\" when score > 50 sla 2h\nroute \"sdr\"")?;
    /// assert_eq!(pack.program().route_sla("ae"), Some(std::time::Duration::from_secs(7200)));
    /// assert_eq!(pack.program().route_sla("sdr"), None);
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn route_sla(&self, queue: &str) -> Option<std::time::Duration> {
        let route = self.routes.iter().find(|r| r.queue == queue)?;
        route.sla.map(millis)
    }

    /// When the SLA of an MQL handed to `queue` at `at` is due: `at` plus the SLA, or,
    /// for `sla 4h business DAYS HOURS "ZONE"`, after that much working time (see
    /// [`BusinessHours::add`](crate::value::hours::BusinessHours::add)). `None` when the
    /// route has no SLA.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// let pack = leadscore::Pack::from_source("demo", "threshold 10\nroute \"ae\" sla 2h")?;
    /// let at = Utc.with_ymd_and_hms(2026, 3, 14, 23, 0, 0).unwrap();
    /// assert_eq!(pack.program().route_sla_due("ae", at), Some(Utc.with_ymd_and_hms(2026, 3, 15, 1, 0, 0).unwrap()));
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn route_sla_due(
        &self,
        queue: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        let route = self.routes.iter().find(|r| r.queue == queue)?;
        let sla = chrono::Duration::milliseconds(route.sla?);
        Some(match &route.business {
            Some(hours) => hours.add(at, sla),
            None => at + sla,
        })
    }

    /// How long a rejected or recycled lead waits before it may become an MQL again
    /// (`requalify after 30d`); `None` when the pack does not say.
    ///
    /// ```
    /// let pack = leadscore::Pack::from_source("demo", "requalify after 30d")?;
    /// assert_eq!(pack.program().requalify_after(), Some(std::time::Duration::from_secs(30 * 86_400)));
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn requalify_after(&self) -> Option<std::time::Duration> {
        self.requalify_after.map(millis)
    }

    /// The queues of the routes, in order, each once.
    ///
    /// ```
    /// let pack = leadscore::Pack::from_source("demo", "threshold 10\nroute \"ae\" when score > 50\nroute \"sdr\"")?;
    /// assert_eq!(pack.program().route_names(), ["ae", "sdr"]);
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn route_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for route in &self.routes {
            if !names.contains(&&*route.queue) {
                names.push(&route.queue);
            }
        }
        names
    }

    /// The pack's `calibrate` statement: what chance of converting a score means.
    ///
    /// ```
    /// let pack = leadscore::Pack::from_source("demo", "calibrate at 0 = 20%, 10 points double the odds")?;
    /// let c = pack.program().calibration().unwrap();
    /// assert!((c.probability(10.0) - 1.0 / 3.0).abs() < 1e-12, "odds 1:4 doubled are 1:2");
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn calibration(&self) -> Option<Calibration> {
        self.calibration
    }

    /// The pack's `target` statements, in file order. Scoring ignores them.
    ///
    /// ```
    /// let pack = leadscore::Pack::from_source("demo", "target \"Sales accept\": acceptance >= 70% over 30d")?;
    /// let t = &pack.program().targets()[0];
    /// assert_eq!((t.name.as_str(), t.measure.figure(), t.percent), ("Sales accept", "acceptance_rate", 70.0));
    /// assert_eq!(t.window(), std::time::Duration::from_secs(30 * 86_400));
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }
}

/// `target "NAME": acceptance >= 70% over 30d`: a figure of the funnel sales and marketing
/// agreed on. Scoring ignores targets; `leadscore serve` judges them over the hand-offs
/// of the trailing window.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// Its name: the one given, or its text (`acceptance >= 70% over 30d`).
    pub name: String,
    /// Where it is written, `file:line`.
    pub location: String,
    /// What it measures.
    pub measure: Measure,
    /// Whether the measure must be at least (`>=`) or at most (`<=`) the value.
    pub at_least: bool,
    /// The percentage, 0 to 100.
    pub percent: f64,
    /// The trailing window, in milliseconds.
    pub window: Millis,
}

impl Target {
    /// Whether a measured rate (0 to 1) meets the target.
    ///
    /// ```
    /// let pack = leadscore::Pack::from_source("p", "target sla >= 90% over 7d")?;
    /// let target = &pack.program().targets()[0];
    /// assert!(target.met_by(0.9) && !target.met_by(0.8999));
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn met_by(&self, rate: f64) -> bool {
        // The rate in percent to 2 decimals (rates are kept to 4), so 0.7 meets 70%.
        let percent = (rate * 10_000.0).round() / 100.0;
        if self.at_least {
            percent >= self.percent
        } else {
            percent <= self.percent
        }
    }

    /// `>=` or `<=`.
    pub fn op(&self) -> &'static str {
        if self.at_least {
            ">="
        } else {
            "<="
        }
    }

    /// The window as a `std` duration.
    pub fn window(&self) -> std::time::Duration {
        millis(self.window)
    }
}

impl fmt::Display for Target {
    /// The statement: `target "NAME": acceptance >= 70% over 30d`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "target {:?}: {} {} {}% over {}",
            self.name,
            self.measure.word(),
            self.op(),
            crate::value::show_number(self.percent),
            crate::value::time::show_duration(self.window)
        )
    }
}

/// `calibrate at 0 = 12%, 20 points double the odds`: the chance of converting at one
/// score, and the points that double the odds. The log-odds of a score `s` are
/// `logit(percent / 100) + (s − at) · ln 2 / double` — a logistic curve in the score, as a
/// logistic regression on the score gives.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Calibration {
    /// The score the chance is given at.
    pub at: f64,
    /// The chance of converting at that score, in percent (above 0, below 100).
    pub percent: f64,
    /// Points that double the odds (above 0).
    pub double: f64,
}

impl Calibration {
    /// The chance (0 to 1) that a lead with this score converts.
    pub fn probability(&self, score: f64) -> f64 {
        let p = self.percent / 100.0;
        let log_odds = (p / (1.0 - p)).ln() + (score - self.at) * std::f64::consts::LN_2 / self.double;
        1.0 / (1.0 + (-log_odds).exp())
    }
}

impl fmt::Display for Calibration {
    /// The statement: `calibrate at 0 = 12.5%, 20 points double the odds`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "calibrate at {} = {}%, {} points double the odds",
            crate::value::show_number(self.at),
            crate::value::show_number(self.percent),
            crate::value::show_number(self.double)
        )
    }
}

/// A checked duration (never negative) as a `std` duration.
fn millis(ms: Millis) -> std::time::Duration {
    std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    /// An event's type is found whatever its case, and the exact spelling (tried first)
    /// finds what ignoring case finds.
    #[test]
    fn event_types_are_found_in_any_case() {
        let source = "visited /pricing => +1\nsubmitted \"demo\" => +1\ndid \"Ünïted_Event\" => +1";
        let pack = crate::Pack::from_source("p", source).unwrap();
        let program = pack.program();
        let page_view = program.event_type("page_view").unwrap();
        for spelling in ["page_view", "PAGE_VIEW", "Page_View"] {
            assert_eq!(program.event_type(spelling), Some(page_view), "{spelling}");
        }
        let united = program.event_type("ünïted_event").unwrap();
        assert_eq!(program.event_type("ÜNÏTED_EVENT"), Some(united));
        assert_ne!(united, page_view);
        assert_eq!(program.event_type("page_views"), None);
        assert_eq!(program.event_type("email_click"), None);
    }
}
