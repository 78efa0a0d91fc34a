//! Checked syntax tree → [`Program`]: names become slots, patterns are compiled once,
//! and equal behaviours share one counter.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::ast::{self, Action, CondKind, MatchPattern, OperandKind, StatementKind, TestOp};
use crate::check::{rule_name, target_name, Checked};
use crate::program::*;
use crate::source::Sources;
use crate::value::keys::KeyIndex;
use crate::value::pattern::{Glob, Words};
use crate::value::{Literal, Literals, Value};

/// Compiles a pack the checker accepted. `functions` lists the callable functions by name.
pub fn compile(ast: &ast::Ast, sources: &Sources, checked: Checked, functions: &[String]) -> Program {
    let mut c = Compiler {
        sources,
        checked: &checked,
        functions,
        fields: HashMap::new(),
        event_types: HashMap::new(),
        props: HashMap::new(),
        matchers: HashMap::new(),
        behaviours: HashMap::new(),
        lets: HashMap::new(),
        program: Program {
            fields: Vec::new(),
            event_types: Vec::new(),
            type_index: KeyIndex::default(),
            event_props: Vec::new(),
            prop_index: KeyIndex::default(),
            type_prop: None,
            at_prop: None,
            matchers: Vec::new(),
            plans: Vec::new(),
            counted: Vec::new(),
            counted_from: Vec::new(),
            keeps_event_times: false,
            props_by_type: Vec::new(),
            behaviours: Vec::new(),
            lets: Vec::new(),
            rules: Vec::new(),
            word_sets: Vec::new(),
            dims: checked
                .dims
                .iter()
                .map(|d| Dimension {
                    name: d.name.as_str().into(),
                    cap: d.cap,
                    half_life: d.half_life,
                })
                .collect(),
            mql: None,
            routes: Vec::new(),
            requalify_after: None,
            calibration: None,
            targets: Vec::new(),
            functions: functions.to_vec(),
        },
    };
    for (n, &i) in checked.let_order.iter().enumerate() {
        if let StatementKind::Let { name, .. } = &ast.statements[i].kind {
            c.lets.insert(name.node.clone(), n as u32);
        }
    }
    for &i in &checked.let_order {
        if let StatementKind::Let { name, cond } = &ast.statements[i].kind {
            let expr = c.cond(cond, Scope::Lead);
            c.program.lets.push(Let {
                name: name.node.clone(),
                expr,
                flat: Flat::default(),
                used: false,
            });
        }
    }
    for statement in &ast.statements {
        c.statement(statement);
    }
    let mut plans: Vec<TypePlan> = c.program.event_types.iter().map(|_| TypePlan::default()).collect();
    for (i, m) in c.program.matchers.iter().enumerate() {
        let plan = &mut plans[m.event_type as usize];
        let Some((prop, glob)) = &m.property else {
            plan.others.push(i as u32);
            continue;
        };
        let test = GlobTest {
            matcher: i as u32,
            glob: glob.clone(),
            filtered: m.filter.is_some(),
        };
        match plan
            .globs
            .iter_mut()
            .find(|g| g.prop == *prop && g.is_path == glob.is_path())
        {
            Some(group) => group.tests.push(test),
            None => plan.globs.push(PropGlobs {
                prop: *prop,
                is_path: glob.is_path(),
                tests: vec![test],
            }),
        }
    }
    c.program.plans = plans;
    c.program.type_index = KeyIndex::ignoring_ascii_case(c.program.event_types.iter().map(String::as_str));
    c.program.prop_index = KeyIndex::exact(c.program.event_props.iter().map(String::as_str));
    c.program.type_prop = c.program.prop_index.find(b"type");
    c.program.at_prop = c.program.prop_index.find(b"at");
    c.program.props_by_type = vec![Vec::new(); c.program.event_types.len()];
    for m in &c.program.matchers {
        let props = &mut c.program.props_by_type[m.event_type as usize];
        props.extend(m.property.as_ref().map(|(p, _)| *p));
        if let Some(filter) = &m.filter {
            filter.props(props);
        }
    }
    for props in &mut c.program.props_by_type {
        props.sort_unstable();
        props.dedup();
    }
    let (counted, counted_from) = counted(&c.program);
    c.program.counted = counted;
    c.program.counted_from = counted_from;
    let dims = &c.program.dims;
    c.program.keeps_event_times = c
        .program
        .rules
        .iter()
        .filter_map(|r| r.points.first())
        .any(|p| p.each && p.dim.is_some_and(|d| dims[d as usize].half_life.is_some()));
    mark_used_lets(&mut c.program);
    let behaviours = &c.program.behaviours;
    for l in &mut c.program.lets {
        l.flat = flatten(&l.expr, behaviours);
    }
    for r in &mut c.program.rules {
        r.flat = flatten(&r.expr, behaviours);
    }
    c.program.word_sets = word_sets(&mut c.program);
    c.program
}

/// The word tests of the `let`s' and rules' conditions grouped by field, for the fields
/// tested more than once (each test given its set and bit); equal words share a bit.
fn word_sets(program: &mut Program) -> Vec<WordSet> {
    fn flats(program: &mut Program) -> impl Iterator<Item = &mut Flat> {
        let lets = program.lets.iter_mut().map(|l| &mut l.flat);
        lets.chain(program.rules.iter_mut().map(|r| &mut r.flat))
    }
    let mut tests: HashMap<u32, usize> = HashMap::new();
    for flat in flats(program) {
        for step in flat.steps.iter() {
            if let Test::Words { field, .. } = &step.test {
                *tests.entry(*field).or_default() += 1;
            }
        }
    }
    let mut sets: Vec<WordSet> = Vec::new();
    for flat in flats(program) {
        for step in flat.steps.iter_mut() {
            let Test::Words { field, words, set } = &mut step.test else {
                continue;
            };
            if tests.get(field).is_none_or(|&n| n < 2) {
                continue;
            }
            let s = match sets.iter().position(|s| s.field == *field) {
                Some(s) => s,
                None => {
                    sets.push(WordSet {
                        field: *field,
                        words: Vec::new(),
                    });
                    sets.len() - 1
                }
            };
            let known = &mut sets[s].words;
            let bit = match known.iter().position(|w| *w == **words) {
                Some(bit) => bit,
                None if known.len() < 63 => {
                    known.push((**words).clone());
                    known.len() - 1
                }
                None => continue,
            };
            *set = Some((s as u32, bit as u32));
        }
    }
    sets
}

/// A condition's [`Flat`] form: each test of the tree once, in the order the tree's walk
/// meets them, with where each leads on true and on false (`and` goes on to its next part
/// or fails, `or` succeeds or goes on, `not` swaps the two).
fn flatten(expr: &Expr, behaviours: &[BehaviourTest]) -> Flat {
    let mut steps = Vec::new();
    let start = emit(expr, Flat::YES, Flat::NO, behaviours, &mut steps);
    // Emitted last test first (a test's targets exist before it): reversed, step 0 is the
    // first test and every jump goes forward.
    let count = steps.len() as u32;
    let at = |t: u32| if t >= Flat::NO { t } else { count - 1 - t };
    steps.reverse();
    for step in &mut steps {
        step.yes = at(step.yes);
        step.no = at(step.no);
    }
    Flat {
        start: at(start),
        steps: steps.into(),
    }
}

/// Emits the steps of `expr`, going to `yes` when it holds and `no` when not; returns
/// where its walk starts (a step's index in emission order, or `yes` / `no` for an empty
/// `and` / `or`).
fn emit(expr: &Expr, yes: u32, no: u32, behaviours: &[BehaviourTest], steps: &mut Vec<Step>) -> u32 {
    match expr {
        Expr::And(parts) => (parts.iter().rev()).fold(yes, |next, p| emit(p, next, no, behaviours, steps)),
        Expr::Or(parts) => (parts.iter().rev()).fold(no, |next, p| emit(p, yes, next, behaviours, steps)),
        Expr::Not(inner) => emit(inner, no, yes, behaviours, steps),
        leaf => {
            steps.push(Step {
                test: test(leaf, behaviours),
                yes,
                no,
            });
            steps.len() as u32 - 1
        }
    }
}

/// A leaf of a condition as a typed [`Test`] where it is a common one.
fn test(leaf: &Expr, behaviours: &[BehaviourTest]) -> Test {
    match leaf {
        Expr::Behaviour(b) => match behaviours.get(*b as usize) {
            Some(test) => Test::Behaviour {
                behaviour: *b,
                at_least: test.at_least,
            },
            None => Test::Other(Box::new(leaf.clone())),
        },
        Expr::Let(l) => Test::Let(*l),
        Expr::Compare(Operand::Field(field), op, Operand::Lit(literal)) => Test::Compare {
            field: *field,
            op: *op,
            literal: literal.clone(),
        },
        Expr::In(Operand::Field(field), list) => Test::In {
            field: *field,
            list: Box::new(list.clone()),
        },
        Expr::Words(Operand::Field(field), words) => Test::Words {
            field: *field,
            words: Box::new(words.clone()),
            set: None,
        },
        Expr::Str(op, Operand::Field(field), Operand::Lit(literal)) => Test::Str {
            op: *op,
            field: *field,
            literal: literal.clone(),
        },
        Expr::Exists(Operand::Field(field)) => Test::Exists(*field),
        _ => Test::Other(Box::new(leaf.clone())),
    }
}

/// The behaviours counting each matcher's events, matcher by matcher (in behaviour order
/// within one), and where each matcher's start.
fn counted(program: &Program) -> (Vec<Counted>, Vec<u32>) {
    let mut counted: Vec<(u32, Counted)> = (program.behaviours.iter().enumerate())
        .map(|(i, b)| {
            let c = Counted {
                behaviour: i as u32,
                within: b.within,
            };
            (b.matcher, c)
        })
        .collect();
    // Stable: a matcher's behaviours stay in behaviour order.
    counted.sort_by_key(|&(m, _)| m);
    let mut from = Vec::with_capacity(program.matchers.len() + 1);
    for m in 0..=program.matchers.len() as u32 {
        from.push(counted.partition_point(|&(n, _)| n < m) as u32);
    }
    (counted.into_iter().map(|(_, c)| c).collect(), from)
}

/// Marks the `let`s that rules, the MQL condition and routes depend on. `let`s are in
/// dependency order, so one pass from the last to the first propagates use.
fn mark_used_lets(program: &mut Program) {
    let mut used = vec![false; program.lets.len()];
    let roots = program
        .rules
        .iter()
        .map(|r| &r.expr)
        .chain(program.mql.iter().map(|(e, _)| e));
    for expr in roots.chain(program.routes.iter().filter_map(|r| r.when.as_ref())) {
        mark_lets(expr, &mut used);
    }
    for i in (0..program.lets.len()).rev() {
        if used[i] {
            mark_lets(&program.lets[i].expr, &mut used);
        }
    }
    for (l, used) in program.lets.iter_mut().zip(used) {
        l.used = used;
    }
}

fn mark_lets(expr: &Expr, used: &mut [bool]) {
    match expr {
        Expr::Let(i) => {
            if let Some(u) = used.get_mut(*i as usize) {
                *u = true;
            }
        }
        Expr::Or(parts) | Expr::And(parts) => parts.iter().for_each(|p| mark_lets(p, used)),
        Expr::Not(inner) => mark_lets(inner, used),
        _ => {}
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Lead,
    Outcome,
    Event,
}

/// What makes two behaviours' event tests the same: event type, property and glob, filter text.
type MatcherKey = (u32, Option<(u32, String)>, Option<String>);

struct Compiler<'a> {
    sources: &'a Sources,
    checked: &'a Checked,
    functions: &'a [String],
    fields: HashMap<Vec<String>, u32>,
    event_types: HashMap<String, u32>,
    props: HashMap<String, u32>,
    /// Matchers by (event type, property, glob, filter text).
    matchers: HashMap<MatcherKey, u32>,
    behaviours: HashMap<(u32, u64, Option<i64>), u32>,
    lets: HashMap<String, u32>,
    program: Program,
}

/// The index of `key` in `list`, pushing `value()` the first time the key is seen.
fn intern<K: std::hash::Hash + Eq, V>(
    index: &mut HashMap<K, u32>,
    list: &mut Vec<V>,
    key: K,
    value: impl FnOnce() -> V,
) -> u32 {
    *index.entry(key).or_insert_with(|| {
        list.push(value());
        (list.len() - 1) as u32
    })
}

impl Compiler<'_> {
    fn statement(&mut self, statement: &ast::Statement) {
        match &statement.kind {
            StatementKind::Threshold(n) => {
                let expr = Expr::Compare(
                    Operand::Score,
                    ast::CmpOp::Ge,
                    Operand::Lit(Literal::new(Value::Num(n.node))),
                );
                self.program.mql = Some((expr, format!("score >= {}", n.node)));
            }
            StatementKind::Mql(cond) => {
                let text = self
                    .sources
                    .text(cond.span)
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                self.program.mql = Some((self.cond(cond, Scope::Outcome), text));
            }
            StatementKind::Route {
                queue,
                when,
                sla,
                business,
            } => {
                let when = when.as_ref().map(|c| self.cond(c, Scope::Outcome));
                self.program.routes.push(Route {
                    queue: queue.node.clone(),
                    when,
                    sla: sla.as_ref().map(|s| s.node),
                    // The checker refused hours that do not make one.
                    business: business.as_ref().and_then(|b| {
                        let (from, until) = b.hours.node;
                        crate::value::hours::BusinessHours::new(b.days.node, from, until, &b.zone.node).ok()
                    }),
                });
            }
            StatementKind::Requalify(after) => self.program.requalify_after = Some(after.node),
            StatementKind::Calibrate { at, percent, double } => {
                self.program.calibration = Some(crate::program::Calibration {
                    at: at.node,
                    percent: percent.node,
                    double: double.node,
                });
            }
            StatementKind::Rule(rule) => {
                let compiled = self.rule(rule);
                self.program.rules.push(compiled);
            }
            StatementKind::Target(target) => {
                // The checker refused targets with an unknown measure.
                if let Some(measure) = ast::Measure::parse(&target.measure.node) {
                    self.program.targets.push(Target {
                        name: target_name(target, self.sources).0,
                        location: self
                            .sources
                            .pack_location(target.name.as_ref().map_or(target.measure.span, |n| n.span)),
                        measure,
                        at_least: target.op.node == ast::CmpOp::Ge,
                        percent: target.percent.node,
                        window: target.window.node,
                    });
                }
            }
            _ => {}
        }
    }

    fn rule(&mut self, rule: &ast::Rule) -> Rule {
        let (name, _) = rule_name(rule, self.sources);
        let expr = self.cond(&rule.cond, Scope::Lead);
        let mut behaviours = Vec::new();
        self.counted(&rule.cond, &mut behaviours);
        let mut compiled = Rule {
            name: name.into(),
            location: self
                .sources
                .pack_location(rule.cond.span.to(rule.name.as_ref().map_or(rule.cond.span, |n| n.span)))
                .into(),
            expr,
            flat: Flat::default(),
            points: Vec::new(),
            disqualify: None,
            tags: Vec::new(),
            behaviours,
        };
        for action in &rule.actions {
            match &action.node {
                Action::Points { value, dim, each } => compiled.points.push(Points {
                    value: *value,
                    dim: dim.as_ref().and_then(|d| self.dim(&d.node)),
                    each: each.is_some(),
                    max: each.as_ref().and_then(|e| e.max),
                }),
                Action::Disqualify(reason) => {
                    compiled.disqualify.get_or_insert_with(|| reason.clone());
                }
                Action::Tag(tag) => compiled.tags.push(tag.clone()),
            }
        }
        compiled
    }

    /// The behaviours of a condition that are not under `not`, compiled.
    fn counted(&mut self, cond: &ast::Cond, out: &mut Vec<u32>) {
        match &cond.kind {
            CondKind::Or(parts) | CondKind::And(parts) => parts.iter().for_each(|p| self.counted(p, out)),
            CondKind::Behaviour(b) => out.push(self.behaviour(b)),
            _ => {}
        }
    }

    fn dim(&self, name: &str) -> Option<u32> {
        self.program
            .dims
            .iter()
            .position(|d| *d.name == *name)
            .map(|i| i as u32)
    }

    fn cond(&mut self, cond: &ast::Cond, scope: Scope) -> Expr {
        match &cond.kind {
            CondKind::Or(parts) => Expr::Or(parts.iter().map(|p| self.cond(p, scope)).collect()),
            CondKind::And(parts) => Expr::And(parts.iter().map(|p| self.cond(p, scope)).collect()),
            CondKind::Not(inner) => Expr::Not(Box::new(self.cond(inner, scope))),
            CondKind::Behaviour(b) => Expr::Behaviour(self.behaviour(b)),
            CondKind::LetRef(name) => Expr::Let(self.lets.get(name).copied().unwrap_or(u32::MAX)),
            CondKind::Test(test) => self.test(test, scope),
        }
    }

    fn test(&mut self, test: &ast::Test, scope: Scope) -> Expr {
        let a = self.operand(&test.operand, scope);
        match &test.op {
            TestOp::Truthy => Expr::Truthy(a),
            TestOp::Compare(op, b) => Expr::Compare(a, *op, self.operand(b, scope)),
            TestOp::In(list) => {
                let items = match &list.kind {
                    OperandKind::List(items) => items.iter().filter_map(literal).map(Literal::new).collect(),
                    _ => Box::default(),
                };
                Expr::In(a, Literals::new(items))
            }
            TestOp::Match(pattern) => match &pattern.node {
                MatchPattern::Words(words) => Expr::Words(a, Words::new(words)),
                MatchPattern::Regex(_) => match self.checked.regexes.get(&pattern.span) {
                    Some(re) => Expr::Regex(a, re.clone()),
                    None => Expr::Or(Box::default()),
                },
            },
            TestOp::Str(op, b) => Expr::Str(*op, a, self.operand(b, scope)),
            TestOp::Exists => Expr::Exists(a),
            TestOp::Missing => Expr::Not(Box::new(Expr::Exists(a))),
        }
    }

    fn operand(&mut self, operand: &ast::Operand, scope: Scope) -> Operand {
        match &operand.kind {
            OperandKind::Field(path) => self.field(path, scope),
            OperandKind::Call { name, args } => {
                let func = self
                    .functions
                    .iter()
                    .position(|f| *f == name.node)
                    .unwrap_or(usize::MAX) as u32;
                Operand::Call(func, args.iter().map(|a| self.operand(a, scope)).collect())
            }
            _ => Operand::Lit(Literal::new(literal(operand).unwrap_or(Value::Null))),
        }
    }

    fn field(&mut self, path: &[String], scope: Scope) -> Operand {
        match scope {
            Scope::Outcome if path.len() == 1 && path[0] == "score" => return Operand::Score,
            Scope::Outcome if path.len() == 1 => {
                if let Some(d) = self.dim(&path[0]) {
                    return Operand::Dim(d);
                }
            }
            Scope::Event => return Operand::Prop(self.prop(&path.join("."))),
            _ => {}
        }
        Operand::Field(intern(
            &mut self.fields,
            &mut self.program.fields,
            path.to_vec(),
            || path.to_vec(),
        ))
    }

    fn prop(&mut self, name: &str) -> u32 {
        intern(&mut self.props, &mut self.program.event_props, name.to_string(), || {
            name.to_string()
        })
    }

    /// Event types ignore case, like every other comparison (`PAGE_VIEW` is a
    /// `page_view`): the program keeps them lower-cased.
    fn event_type(&mut self, name: &str) -> u32 {
        let name = name.to_lowercase();
        intern(
            &mut self.event_types,
            &mut self.program.event_types,
            name.clone(),
            || name,
        )
    }

    fn behaviour(&mut self, b: &ast::Behaviour) -> u32 {
        let matcher = self.matcher(b);
        let at_least = b.at_least.as_ref().map_or(1, |n| n.node);
        let within = b.within.as_ref().map(|w| w.node);
        let test = || BehaviourTest {
            matcher,
            at_least,
            within,
        };
        intern(
            &mut self.behaviours,
            &mut self.program.behaviours,
            (matcher, at_least, within),
            test,
        )
    }

    fn matcher(&mut self, b: &ast::Behaviour) -> u32 {
        let event_type = self.event_type(&b.event_type.node);
        let property = match (b.verb.event(), &b.pattern) {
            (Some((_, prop)), Some(pattern)) => Some((self.prop(prop), pattern.node.clone())),
            _ => None,
        };
        let filter_text = b.filter.as_ref().map(|f| {
            self.sources
                .text(f.span)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        });
        let key = (event_type, property.clone(), filter_text);
        if let Some(&m) = self.matchers.get(&key) {
            return m;
        }
        let filter = b.filter.as_ref().map(|f| self.cond(f, Scope::Event));
        let is_path = b.verb == ast::Verb::Visited;
        let property = property.map(|(prop, pattern)| (prop, Glob::new(&pattern, is_path)));
        self.program.matchers.push(Matcher {
            event_type,
            property,
            filter,
        });
        let m = (self.program.matchers.len() - 1) as u32;
        self.matchers.insert(key, m);
        m
    }
}

fn literal(operand: &ast::Operand) -> Option<Value<'static>> {
    match &operand.kind {
        OperandKind::Str(s) => Some(Value::Str(Cow::Owned(s.clone()))),
        OperandKind::Num(n) => Some(Value::Num(*n)),
        OperandKind::Bool(b) => Some(Value::Bool(*b)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    /// The flat form of a condition, printed: each test once, in the tree's order, `and`
    /// going on or failing, `or` succeeding or going on, `not` swapping the two; a field
    /// test typed, a regex left as the tree's test.
    #[test]
    fn conditions_flatten_into_steps() {
        let source = "let senior = title ~ VP or not (title ~ /intern/)\n\
                      senior and (industry in [\"saas\", \"fintech\"] or company.size >= 50) and visited /pricing => +1\n\
                      email ends_with \".edu\" or not email exists => +1";
        let pack = crate::Pack::from_source("p", source).unwrap();
        let program = pack.program();
        let shown = |flat| program.show_flat(flat).to_string();
        assert_eq!(
            shown(&program.lets[0].flat),
            "0: f0 ~ \"VP\" ? yes : 1\n1: f0 ~ /intern/ ? no : yes\n"
        );
        assert!(
            program.word_sets.is_empty(),
            "one word test on a field is made where it is"
        );
        assert_eq!(
            shown(&program.rules[0].flat),
            "0: l0 ? 1 : no\n\
             1: f1 in [\"saas\", \"fintech\"] ? 3 : 2\n\
             2: f2 >= 50 ? 3 : no\n\
             3: b0 ? yes : no\n"
        );
        assert_eq!(
            shown(&program.rules[1].flat),
            "0: f3 ends_with \".edu\" ? yes : 1\n1: f3 exists ? no : yes\n"
        );
    }

    /// The word tests on one field share a set, equal words a bit; a field tested once
    /// has none.
    #[test]
    fn word_tests_on_a_field_share_a_set() {
        let source = "let senior = title ~ VP or title ~ \"vice president\"\n\
                      title ~ VP and senior => +1\n\
                      title ~ student or email ~ edu => disqualify \"student\"";
        let pack = crate::Pack::from_source("p", source).unwrap();
        let program = pack.program();
        let shown = |flat| program.show_flat(flat).to_string();
        assert_eq!(
            shown(&program.lets[0].flat),
            "0: f0 ~ \"VP\" (w0.0) ? yes : 1\n1: f0 ~ \"vice president\" (w0.1) ? yes : no\n"
        );
        assert_eq!(
            shown(&program.rules[0].flat),
            "0: f0 ~ \"VP\" (w0.0) ? 1 : no\n1: l0 ? yes : no\n"
        );
        assert_eq!(
            shown(&program.rules[1].flat),
            "0: f0 ~ \"student\" (w0.2) ? yes : 1\n1: f1 ~ \"edu\" ? yes : no\n"
        );
        assert_eq!(program.word_sets.len(), 1);
    }

    /// A step stays within a cache line (the large tests are boxed).
    #[test]
    fn a_step_is_small() {
        assert!(std::mem::size_of::<crate::program::Step>() <= 64);
    }

    /// A condition decided without a test (a regex that cannot compile is an empty `or`)
    /// starts at its answer.
    #[test]
    fn an_empty_condition_starts_at_its_answer() {
        let flat = super::flatten(&crate::program::Expr::Or(Box::default()), &[]);
        assert_eq!((flat.start, flat.steps.len()), (crate::program::Flat::NO, 0));
        let flat = super::flatten(&crate::program::Expr::And(Box::default()), &[]);
        assert_eq!((flat.start, flat.steps.len()), (crate::program::Flat::YES, 0));
    }
}
