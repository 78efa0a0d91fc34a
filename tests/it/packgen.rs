//! Random packs and leads for the property tests: a model of a pack built from the
//! grammar's constructs, rendered to rule text (with random layout, to exercise the parser),
//! and a deliberately simple reference evaluator over the model.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Milliseconds in a day.
pub const DAY: i64 = 86_400_000;
/// The time every generated lead is scored as of: 2026-03-01T00:00:00Z.
pub const AS_OF_MS: i64 = 1_772_323_200_000;

/// Lead fields the packs read, as rule text writes them.
pub const FIELDS: [&str; 5] = ["title", "company.size", "n", "tags", "flag"];
const STRINGS: [&str; 7] = ["VP Sales", "vp", "Engineer", "50", "7.5", "head of growth", ""];
const NUMBERS: [f64; 5] = [-1.0, 0.0, 7.5, 50.0, 100.0];
const PATHS: [&str; 5] = ["/pricing", "/pricing/?utm=x", "/blog/a", "/careers/eng", "/"];
const FORMS: [&str; 3] = ["demo-request", "contact-us", "Demo-Request"];

/// A value in a lead or a literal in a rule.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Str(String),
    Num(f64),
    Bool(bool),
    List(Vec<Val>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Copy, Debug)]
pub enum StrOp {
    Contains,
    StartsWith,
    EndsWith,
}

/// A test on a lead field (or, in a `where`, an event property).
#[derive(Clone, Debug)]
pub enum Test {
    Cmp(Cmp, Val),
    In(Vec<Val>),
    Str(StrOp, String),
    Words(String),
    Exists,
    Missing,
}

/// What events a behaviour counts.
#[derive(Clone, Debug)]
pub enum Verb {
    Visited(String),
    Submitted(String),
    /// `did video_play where percent >= N`
    Did(Option<f64>),
}

#[derive(Clone, Debug)]
pub struct Behaviour {
    pub verb: Verb,
    pub at_least: Option<u64>,
    pub within_days: Option<i64>,
}

#[derive(Clone, Debug)]
pub enum Cond {
    Field(usize, Test),
    Behaviour(Behaviour),
    Let(usize),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

#[derive(Clone, Debug)]
pub enum Action {
    Points {
        value: i64,
        dim: Option<usize>,
        each: Option<Option<i64>>,
    },
    Disqualify(String),
    Tag(String),
}

#[derive(Clone, Debug)]
pub struct Rule {
    pub cond: Cond,
    pub actions: Vec<Action>,
}

/// The dimensions every generated pack declares; `fit` is capped.
pub const DIMS: [&str; 2] = ["fit", "intent"];

#[derive(Clone, Debug)]
pub struct Model {
    pub threshold: i64,
    pub fit_cap: i64,
    pub lets: Vec<Cond>,
    pub rules: Vec<Rule>,
    pub routes: Vec<Option<Cond>>,
    /// Lets go after the rules that use them.
    pub lets_last: bool,
}

#[derive(Clone, Debug)]
pub struct Event {
    pub kind: usize,
    pub value: Val,
    pub percent: Option<f64>,
    pub days_ago: i64,
}

#[derive(Clone, Debug)]
pub struct Lead {
    pub fields: Vec<Option<Val>>,
    pub events: Vec<Event>,
}

// ---- strategies ------------------------------------------------------------------------

fn string() -> impl Strategy<Value = String> {
    prop::sample::select(STRINGS.to_vec()).prop_map(str::to_string)
}

fn number() -> impl Strategy<Value = f64> {
    prop::sample::select(NUMBERS.to_vec())
}

fn lit() -> impl Strategy<Value = Val> {
    prop_oneof![
        string().prop_map(Val::Str),
        number().prop_map(Val::Num),
        any::<bool>().prop_map(Val::Bool)
    ]
}

fn cmp() -> impl Strategy<Value = Cmp> {
    prop::sample::select(vec![Cmp::Eq, Cmp::Ne, Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge])
}

fn test() -> impl Strategy<Value = Test> {
    prop_oneof![
        // Ordered comparisons take numbers (`true < false` is not something to pin down).
        (cmp(), number()).prop_map(|(c, n)| Test::Cmp(c, Val::Num(n))),
        (prop::sample::select(vec![Cmp::Eq, Cmp::Ne]), lit()).prop_map(|(c, v)| Test::Cmp(c, v)),
        prop::collection::vec(
            prop_oneof![string().prop_map(Val::Str), number().prop_map(Val::Num)],
            1..4
        )
        .prop_map(Test::In),
        (
            prop::sample::select(vec![StrOp::Contains, StrOp::StartsWith, StrOp::EndsWith]),
            prop::sample::select(vec!["vp", "sales", "5", "growth", "EN"])
        )
            .prop_map(|(op, s)| Test::Str(op, s.to_string())),
        prop::sample::select(vec!["vp", "sales", "head of", "50", "engineer"]).prop_map(|w| Test::Words(w.into())),
        Just(Test::Exists),
        Just(Test::Missing),
    ]
}

fn behaviour() -> impl Strategy<Value = Behaviour> {
    let verb = prop_oneof![
        prop::sample::select(vec!["/pricing", "/blog/*", "/careers*", "/*"]).prop_map(|p| Verb::Visited(p.into())),
        prop::sample::select(vec!["demo-request", "contact*", "*"]).prop_map(|f| Verb::Submitted(f.into())),
        prop::option::of(number()).prop_map(Verb::Did),
    ];
    (verb, prop::option::of(1u64..4), prop::option::of(1i64..10)).prop_map(|(verb, at_least, within_days)| Behaviour {
        verb,
        at_least,
        within_days,
    })
}

/// A condition; `lets` is how many lets it may refer to, `behaviours` whether it may test events.
fn cond(lets: usize, behaviours: bool) -> BoxedStrategy<Cond> {
    let field = ((0..FIELDS.len()), test()).prop_map(|(f, t)| Cond::Field(f, t));
    let mut leaf = field.boxed();
    if behaviours {
        leaf = prop_oneof![3 => leaf, 2 => behaviour().prop_map(Cond::Behaviour)].boxed();
    }
    if lets > 0 {
        leaf = prop_oneof![4 => leaf, 1 => (0..lets).prop_map(Cond::Let)].boxed();
    }
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|c| Cond::Not(Box::new(c))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Cond::And),
            prop::collection::vec(inner, 2..4).prop_map(Cond::Or),
        ]
    })
    .boxed()
}

fn rule(lets: usize) -> impl Strategy<Value = Rule> {
    let points = (-20i64..=40, prop::option::of(0..DIMS.len())).prop_map(|(value, dim)| Action::Points {
        value,
        dim,
        each: None,
    });
    let plain = (
        cond(lets, true),
        prop_oneof![
            3 => (points, prop::option::of(prop::sample::select(vec!["hot", "pricing"])))
                .prop_map(|(p, tag)| {
                    let mut actions = vec![p];
                    actions.extend(tag.map(|t| Action::Tag(t.into())));
                    actions
                }),
            1 => prop::sample::select(vec!["student", "competitor"]).prop_map(|r| vec![Action::Disqualify(r.into())]),
        ],
    )
        .prop_map(|(cond, actions)| Rule { cond, actions });
    // `each` counts the one behaviour of its condition.
    let each = (
        behaviour(),
        prop::option::of(cond(0, false)),
        1i64..10,
        prop::option::of(1i64..30),
        prop::option::of(0..DIMS.len()),
    )
        .prop_map(|(b, rest, value, max, dim)| {
            let cond = match rest {
                Some(c) => Cond::And(vec![Cond::Behaviour(b), c]),
                None => Cond::Behaviour(b),
            };
            Rule {
                cond,
                actions: vec![Action::Points {
                    value,
                    dim,
                    each: Some(max),
                }],
            }
        });
    prop_oneof![4 => plain, 1 => each]
}

pub fn model() -> impl Strategy<Value = Model> {
    (0usize..4)
        .prop_flat_map(|n_lets| {
            let lets: Vec<BoxedStrategy<Cond>> = (0..n_lets).map(|i| cond(i, true)).collect();
            (
                0i64..60,
                0i64..50,
                lets,
                prop::collection::vec(rule(n_lets), 1..6),
                prop::collection::vec(prop::option::of(cond(0, false)), 0..3),
                any::<bool>(),
            )
        })
        .prop_map(|(threshold, fit_cap, lets, rules, routes, lets_last)| Model {
            threshold,
            fit_cap,
            lets,
            rules,
            routes,
            lets_last,
        })
}

fn lead_value() -> impl Strategy<Value = Option<Val>> {
    prop::option::of(prop_oneof![
        3 => lit(),
        1 => prop::collection::vec(string().prop_map(Val::Str), 0..3).prop_map(Val::List),
    ])
}

fn event() -> impl Strategy<Value = Event> {
    (0usize..3)
        .prop_flat_map(|kind| {
            let value = match kind {
                0 => prop::sample::select(PATHS.to_vec())
                    .prop_map(|p| Val::Str(p.into()))
                    .boxed(),
                1 => prop::sample::select(FORMS.to_vec())
                    .prop_map(|f| Val::Str(f.into()))
                    .boxed(),
                _ => Just(Val::Str(String::new())).boxed(),
            };
            (Just(kind), value, prop::option::of(number()), -2i64..12)
        })
        .prop_map(|(kind, value, percent, days_ago)| Event {
            kind,
            value,
            percent,
            days_ago,
        })
}

pub fn lead() -> impl Strategy<Value = Lead> {
    (
        prop::collection::vec(lead_value(), FIELDS.len()),
        prop::collection::vec(event(), 0..8),
    )
        .prop_map(|(fields, events)| Lead { fields, events })
}

// ---- rendering -------------------------------------------------------------------------

/// Blanks between tokens: mostly a space, sometimes a line break (conditions may span lines).
struct Layout {
    seed: u64,
}

impl Layout {
    fn gap(&mut self) -> &'static str {
        self.seed = self
            .seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        match (self.seed >> 33) % 8 {
            0 => "\n    ",
            1 => "  ",
            _ => " ",
        }
    }
}

fn num_text(n: f64) -> String {
    format!("{n}")
}

fn lit_text(v: &Val) -> String {
    match v {
        Val::Str(s) => format!("{s:?}"),
        Val::Num(n) => num_text(*n),
        Val::Bool(b) => b.to_string(),
        Val::List(items) => format!("[{}]", items.iter().map(lit_text).collect::<Vec<_>>().join(", ")),
    }
}

fn test_text(subject: &str, t: &Test) -> String {
    match t {
        Test::Cmp(c, v) => {
            let op = match c {
                Cmp::Eq => "==",
                Cmp::Ne => "!=",
                Cmp::Lt => "<",
                Cmp::Le => "<=",
                Cmp::Gt => ">",
                Cmp::Ge => ">=",
            };
            format!("{subject} {op} {}", lit_text(v))
        }
        Test::In(items) => format!("{subject} in {}", lit_text(&Val::List(items.clone()))),
        Test::Str(op, s) => {
            let op = match op {
                StrOp::Contains => "contains",
                StrOp::StartsWith => "starts_with",
                StrOp::EndsWith => "ends_with",
            };
            format!("{subject} {op} {s:?}")
        }
        Test::Words(w) if w.contains(' ') => format!("{subject} ~ {w:?}"),
        Test::Words(w) => format!("{subject} ~ {w}"),
        Test::Exists => format!("{subject} exists"),
        Test::Missing => format!("{subject} is missing"),
    }
}

fn behaviour_text(b: &Behaviour) -> String {
    let mut s = match &b.verb {
        Verb::Visited(p) => format!("visited {p}"),
        Verb::Submitted(f) => format!("submitted {f:?}"),
        Verb::Did(None) => "did video_play".to_string(),
        Verb::Did(Some(n)) => format!("did video_play where percent >= {}", num_text(*n)),
    };
    if let Some(n) = b.at_least {
        s += &format!(" at least {n} times");
    }
    if let Some(d) = b.within_days {
        s += &format!(" within {d}d");
    }
    s
}

fn cond_text(c: &Cond, layout: &mut Layout) -> String {
    match c {
        Cond::Field(f, t) => test_text(FIELDS[*f], t),
        Cond::Behaviour(b) => behaviour_text(b),
        Cond::Let(i) => format!("l{i}"),
        Cond::Not(inner) => format!("not ({})", cond_text(inner, layout)),
        Cond::And(parts) | Cond::Or(parts) => {
            let word = if matches!(c, Cond::And(_)) { "and" } else { "or" };
            let parts: Vec<String> = parts.iter().map(|p| format!("({})", cond_text(p, layout))).collect();
            let mut out = String::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    out += " ";
                    out += word;
                    out += layout.gap();
                }
                out += p;
            }
            out
        }
    }
}

fn action_text(a: &Action) -> String {
    match a {
        Action::Points { value, dim, each } => {
            let mut s = format!("{value:+}");
            if let Some(d) = dim {
                s += &format!(" {}", DIMS[*d]);
            }
            if let Some(max) = each {
                s += " each";
                if let Some(m) = max {
                    s += &format!(" max {m}");
                }
            }
            s
        }
        Action::Disqualify(r) => format!("disqualify {r:?}"),
        Action::Tag(t) => format!("tag {t:?}"),
    }
}

/// The model as rule text, laid out with `seed`.
pub fn render(m: &Model, seed: u64) -> String {
    let mut layout = Layout { seed };
    let mut out = format!(
        "# generated\nthreshold {}\ncap fit at {}\ndimension intent\n",
        m.threshold, m.fit_cap
    );
    let lets: String = m
        .lets
        .iter()
        .enumerate()
        .map(|(i, c)| format!("let l{i} = {}\n", cond_text(c, &mut layout)))
        .collect();
    if !m.lets_last {
        out += &lets;
    }
    for (i, r) in m.rules.iter().enumerate() {
        let actions: Vec<String> = r.actions.iter().map(action_text).collect();
        out += &format!(
            "rule \"r{i}\": {}{}=> {}\n",
            cond_text(&r.cond, &mut layout),
            layout.gap(),
            actions.join(", ")
        );
    }
    if m.lets_last {
        out += "\n# lets after use\n";
        out += &lets;
    }
    for route in &m.routes {
        match route {
            Some(c) => out += &format!("route \"q\" when {}\n", cond_text(c, &mut layout)),
            None => {
                out += "route \"any\"\n";
                break;
            }
        }
    }
    out
}

/// The lead as JSON (`company.size` nested).
pub fn lead_json(l: &Lead) -> Value {
    let mut obj = Map::new();
    for (i, v) in l.fields.iter().enumerate() {
        let Some(v) = v else { continue };
        let v = val_json(v);
        match FIELDS[i].split_once('.') {
            Some((outer, inner)) => {
                obj.insert(outer.to_string(), json!({ inner: v }));
            }
            None => {
                obj.insert(FIELDS[i].to_string(), v);
            }
        }
    }
    let events: Vec<Value> = l
        .events
        .iter()
        .map(|e| {
            let at = chrono::DateTime::from_timestamp_millis(AS_OF_MS - e.days_ago * DAY)
                .unwrap()
                .to_rfc3339();
            match e.kind {
                0 => json!({"type": "page_view", "path": val_json(&e.value), "at": at}),
                1 => json!({"type": "form_submit", "form": val_json(&e.value), "at": at}),
                _ => match e.percent {
                    Some(p) => json!({"type": "video_play", "percent": p, "at": at}),
                    None => json!({"type": "video_play", "at": at}),
                },
            }
        })
        .collect();
    obj.insert("events".into(), Value::Array(events));
    Value::Object(obj)
}

fn val_json(v: &Val) -> Value {
    match v {
        Val::Str(s) => json!(s),
        Val::Num(n) => json!(n),
        Val::Bool(b) => json!(b),
        Val::List(items) => Value::Array(items.iter().map(val_json).collect()),
    }
}

// ---- the reference evaluator -----------------------------------------------------------

/// What the reference evaluator expects for a lead.
#[derive(Debug, PartialEq)]
pub struct Expected {
    pub score: f64,
    pub mql: bool,
    pub disqualified: Option<String>,
    pub route: Option<String>,
    pub tags: Vec<String>,
    /// (rule name, points) of the rules that fired.
    pub fired: Vec<(String, f64)>,
}

fn as_num(v: &Val) -> Option<f64> {
    match v {
        Val::Num(n) => Some(*n),
        Val::Str(s) => s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
        _ => None,
    }
}

fn as_text(v: &Val) -> Option<String> {
    match v {
        Val::Str(s) => Some(s.clone()),
        Val::Num(n) => Some(n.to_string()),
        Val::Bool(b) => Some(b.to_string()),
        Val::List(_) => None,
    }
}

fn as_bool(v: &Val) -> Option<bool> {
    match v {
        Val::Bool(b) => Some(*b),
        Val::Str(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Val::Str(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// The language's comparison: a missing value fails every test, lists compare by
/// membership, numeric strings as numbers, strings without case, other mixes unequal.
fn compare(a: Option<&Val>, op: Cmp, b: &Val) -> bool {
    let Some(a) = a else { return false };
    if let Val::List(items) = a {
        let any = items.iter().any(|v| compare(Some(v), Cmp::Eq, b));
        return match op {
            Cmp::Eq => any,
            Cmp::Ne => !any,
            _ => false,
        };
    }
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (a, b) {
        (Val::Bool(_), _) | (_, Val::Bool(_)) => match (as_bool(a), as_bool(b)) {
            (Some(x), Some(y)) => Some(if x == y { Ordering::Equal } else { Ordering::Less }),
            _ => None,
        },
        (Val::Str(x), Val::Str(y)) => match (as_num(a), as_num(b)) {
            (Some(x), Some(y)) => x.partial_cmp(&y),
            _ => Some(x.to_lowercase().cmp(&y.to_lowercase())),
        },
        _ => match (as_num(a), as_num(b)) {
            (Some(x), Some(y)) => x.partial_cmp(&y),
            _ => None,
        },
    };
    match ord {
        None => op == Cmp::Ne,
        Some(o) => match op {
            Cmp::Eq => o == Ordering::Equal,
            Cmp::Ne => o != Ordering::Equal,
            Cmp::Lt => o == Ordering::Less,
            Cmp::Le => o != Ordering::Greater,
            Cmp::Gt => o == Ordering::Greater,
            Cmp::Ge => o != Ordering::Less,
        },
    }
}

fn words_match(text: &str, words: &str) -> bool {
    let (t, w) = (text.to_lowercase(), words.to_lowercase());
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    t.match_indices(&w)
        .any(|(i, _)| !is_word(t[..i].chars().next_back()) && !is_word(t[i + w.len()..].chars().next()))
}

fn test_value(v: Option<&Val>, t: &Test) -> bool {
    match t {
        Test::Cmp(op, lit) => compare(v, *op, lit),
        Test::In(items) => items.iter().any(|i| compare(v, Cmp::Eq, i)),
        Test::Str(op, s) => match (v, op) {
            (Some(Val::List(items)), StrOp::Contains) => {
                items.iter().any(|i| compare(Some(i), Cmp::Eq, &Val::Str(s.clone())))
            }
            _ => match v.and_then(as_text) {
                None => false,
                Some(text) => {
                    let (text, s) = (text.to_lowercase(), s.to_lowercase());
                    match op {
                        StrOp::Contains => text.contains(&s),
                        StrOp::StartsWith => text.starts_with(&s),
                        StrOp::EndsWith => text.ends_with(&s),
                    }
                }
            },
        },
        Test::Words(w) => v.and_then(as_text).is_some_and(|t| words_match(&t, w)),
        Test::Exists => v.is_some(),
        Test::Missing => v.is_none(),
    }
}

/// A glob: `*` any run; case-insensitive; paths drop `?query`, `#fragment` and a trailing `/`.
fn glob(pattern: &str, text: &str, path: bool) -> bool {
    fn norm(s: &str) -> String {
        let s = &s[..s.find(['?', '#']).unwrap_or(s.len())];
        if s.len() > 1 {
            s.trim_end_matches('/').to_lowercase()
        } else {
            s.to_lowercase()
        }
    }
    let (p, t) = if path {
        (norm(pattern), norm(text))
    } else {
        (pattern.to_lowercase(), text.to_lowercase())
    };
    // Plain recursive matcher: slow and obviously right.
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    go(&p.chars().collect::<Vec<_>>(), &t.chars().collect::<Vec<_>>())
}

struct Ref<'a> {
    lead: &'a Lead,
    lets: Vec<bool>,
}

impl Ref<'_> {
    /// Events a behaviour counts (ignoring its `at least`).
    fn matching(&self, b: &Behaviour) -> Vec<&Event> {
        self.lead
            .events
            .iter()
            .filter(|e| e.days_ago >= 0)
            .filter(|e| b.within_days.is_none_or(|d| e.days_ago <= d))
            .filter(|e| match &b.verb {
                Verb::Visited(p) => e.kind == 0 && as_text(&e.value).is_some_and(|t| glob(p, &t, true)),
                Verb::Submitted(f) => e.kind == 1 && as_text(&e.value).is_some_and(|t| glob(f, &t, false)),
                Verb::Did(min) => {
                    e.kind == 2 && min.is_none_or(|m| compare(e.percent.map(Val::Num).as_ref(), Cmp::Ge, &Val::Num(m)))
                }
            })
            .collect()
    }

    fn holds(&self, c: &Cond) -> bool {
        match c {
            Cond::Field(f, t) => test_value(self.lead.fields[*f].as_ref(), t),
            Cond::Behaviour(b) => self.matching(b).len() as u64 >= b.at_least.unwrap_or(1),
            Cond::Let(i) => self.lets[*i],
            Cond::Not(inner) => !self.holds(inner),
            Cond::And(parts) => parts.iter().all(|p| self.holds(p)),
            Cond::Or(parts) => parts.iter().any(|p| self.holds(p)),
        }
    }
}

/// The one behaviour an `each` rule counts.
fn counted(c: &Cond) -> Option<&Behaviour> {
    match c {
        Cond::Behaviour(b) => Some(b),
        Cond::And(parts) => parts.iter().find_map(counted),
        _ => None,
    }
}

/// Scores a lead the slow, obvious way.
pub fn reference(m: &Model, lead: &Lead) -> Expected {
    let mut r = Ref { lead, lets: Vec::new() };
    for c in &m.lets {
        let v = r.holds(c);
        r.lets.push(v);
    }
    let mut dims = [0.0f64; 2];
    let mut loose = 0.0;
    let mut e = Expected {
        score: 0.0,
        mql: false,
        disqualified: None,
        route: None,
        tags: Vec::new(),
        fired: Vec::new(),
    };
    for (i, rule) in m.rules.iter().enumerate() {
        if !r.holds(&rule.cond) {
            continue;
        }
        let mut given = 0.0;
        for a in &rule.actions {
            match a {
                Action::Points { value, dim, each } => {
                    given = *value as f64;
                    if let Some(max) = each {
                        let b = counted(&rule.cond).unwrap();
                        given *= r.matching(b).len() as f64;
                        if let Some(m) = max {
                            given = given.clamp(-(*m as f64), *m as f64);
                        }
                    }
                    match dim {
                        Some(d) => dims[*d] += given,
                        None => loose += given,
                    }
                }
                Action::Disqualify(reason) => {
                    e.disqualified.get_or_insert_with(|| reason.clone());
                }
                Action::Tag(t) => {
                    if !e.tags.contains(t) {
                        e.tags.push(t.clone());
                    }
                }
            }
        }
        e.fired.push((format!("r{i}"), given));
    }
    dims[0] = dims[0].min(m.fit_cap as f64);
    let score = dims[0] + dims[1] + loose;
    e.score = (score * 10_000.0).round() / 10_000.0;
    e.mql = score >= m.threshold as f64 && e.disqualified.is_none();
    if e.mql {
        for (i, route) in m.routes.iter().enumerate() {
            match route {
                Some(c) if r.holds(c) => {
                    e.route = Some("q".into());
                    let _ = i;
                    break;
                }
                Some(_) => {}
                None => {
                    e.route = Some("any".into());
                    break;
                }
            }
        }
    }
    e
}

/// The parts of an outcome the reference evaluator predicts.
pub fn observed(o: &leadscore::Outcome) -> Expected {
    Expected {
        score: o.score,
        mql: o.mql,
        disqualified: o.disqualified().map(str::to_string),
        route: o.route().map(str::to_string),
        tags: o.tags().map(str::to_string).collect(),
        fired: o.fired().map(|f| (f.rule().to_string(), f.points())).collect(),
    }
}
