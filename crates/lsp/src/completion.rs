//! Completion from what the line before the cursor says: statement starts, actions,
//! dimensions, `let` names, plugin functions, event types, and field names seen in the
//! pack and its sample leads.

use std::sync::LazyLock;

use lsp_types::{CompletionItem, CompletionItemKind};
use regex::Regex;

use super::adapter::{Analysis, Kind};
use super::samples::Samples;

/// Words that start a statement, with what they are for.
const STATEMENTS: [(&str, &str); 13] = [
    ("rule \"", "a named rule: rule \"NAME\": CONDITION => ACTIONS"),
    ("threshold", "threshold N: MQL when score >= N"),
    ("mql when", "the MQL condition"),
    ("dimension", "declares a dimension"),
    ("cap", "cap DIMENSION at N"),
    ("decay", "decay DIMENSION half-life DURATION"),
    ("let", "let NAME = CONDITION"),
    ("route \"", "route \"QUEUE\" [when CONDITION] [sla DURATION]"),
    (
        "requalify after",
        "requalify after DURATION: a lead sales rejected may become an MQL again",
    ),
    (
        "calibrate at",
        "calibrate at SCORE = P%, N points double the odds: the chance of converting a score means",
    ),
    (
        "target",
        "target [\"NAME\":] acceptance|conversion|sla >= P% over DURATION: a funnel figure `serve` checks",
    ),
    ("plugin \"", "use a Rhai plugin"),
    ("limit", "limit NAME N: a plugin sandbox limit"),
];

/// The behaviour verbs and what they count.
const VERBS: [(&str, &str); 7] = [
    ("visited", "page_view events by path"),
    ("submitted", "form_submit events by form"),
    ("downloaded", "download events by asset"),
    ("opened email", "email_open events by campaign"),
    ("clicked email", "email_click events by campaign"),
    ("attended webinar", "webinar events by name"),
    ("did", "events of any type; `where` tests their properties"),
];

/// The event types the verbs count (the manual's language reference, docs/src/language.md "Behaviour").
const VERB_EVENT_TYPES: [&str; 6] = [
    "page_view",
    "form_submit",
    "download",
    "email_open",
    "email_click",
    "webinar",
];

/// Words inside a condition.
const CONDITION_WORDS: [&str; 13] = [
    "not",
    "and",
    "or",
    "in",
    "exists",
    "is missing",
    "contains",
    "starts_with",
    "ends_with",
    "within",
    "at least",
    "times",
    "where",
];

/// Words after `=>`.
const ACTION_WORDS: [(&str, &str); 4] = [
    ("disqualify \"", "the lead cannot be an MQL"),
    ("tag \"", "adds a tag to the result"),
    ("each", "points once per matching event"),
    ("max", "at most this many points from the rule"),
];

static PLUGIN_NAME: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r#"^\s*plugin\s+"[^"]*$"#).ok());
static DID: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"\bdid\s+\S*$").ok());
static WHERE: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"\bdid\s+(\S+)\s+where\b").ok());
static POINTS: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"[+-]\s*[0-9.]+\s+\w*$").ok());
static DIM_STATEMENT: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^\s*(cap|decay)\s+\w*$").ok());
static STATEMENT_START: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^\s*\w*$").ok());
static OUTCOME: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^\s*(mql\s+when|route\b)").ok());
static PLAIN_FIELD: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$").ok());

fn is(re: &LazyLock<Option<Regex>>, text: &str) -> bool {
    re.as_ref().is_some_and(|re| re.is_match(text))
}

/// The completions at a cursor whose line reads `before` up to it.
pub fn complete(analysis: &Analysis, samples: &Samples, before: &str) -> Vec<CompletionItem> {
    let mut out = Items::default();
    if is(&PLUGIN_NAME, before) {
        for name in &analysis.available_plugins {
            out.add(name, CompletionItemKind::MODULE, "plugin script");
        }
        return out.0;
    }
    if before.matches('"').count() % 2 == 1 || before.contains('#') {
        return out.0; // inside a string or a comment
    }
    if is(&DID, before) {
        let mut types: Vec<String> = VERB_EVENT_TYPES.iter().map(|t| t.to_string()).collect();
        types.extend(samples.event_types());
        types.sort();
        types.dedup();
        for t in types {
            out.add(&t, CompletionItemKind::EVENT, "event type");
        }
        return out.0;
    }
    if is(&DIM_STATEMENT, before) || (before.contains("=>") && is(&POINTS, before)) {
        dimensions(analysis, &mut out);
        return out.0;
    }
    if before.contains("=>") {
        for (word, detail) in ACTION_WORDS {
            out.add(word, CompletionItemKind::KEYWORD, detail);
        }
        return out.0;
    }
    if is(&STATEMENT_START, before) {
        for (word, detail) in STATEMENTS {
            out.add(word, CompletionItemKind::KEYWORD, detail);
        }
    }
    condition(analysis, samples, before, &mut out);
    out.0
}

/// Names and words that may come next in a condition.
fn condition(analysis: &Analysis, samples: &Samples, before: &str, out: &mut Items) {
    if let Some(ty) = WHERE.as_ref().and_then(|re| re.captures(before)).and_then(|c| c.get(1)) {
        for p in samples.event_properties(ty.as_str()) {
            out.add(
                &field_text(&p),
                CompletionItemKind::PROPERTY,
                &format!("property of {} events", ty.as_str()),
            );
        }
        return;
    }
    if is(&OUTCOME, before) {
        out.add("score", CompletionItemKind::VARIABLE, "the lead's score");
        dimensions(analysis, out);
    }
    for item in analysis.items.iter().filter(|i| i.defines && i.kind == Kind::Let) {
        out.add(
            &item.name,
            CompletionItemKind::VARIABLE,
            item.detail.as_deref().unwrap_or("let"),
        );
    }
    for f in &analysis.functions {
        let detail = format!("{}({}) from plugin {}", f.name, f.params.join(", "), f.plugin);
        out.add(&f.name, CompletionItemKind::FUNCTION, &detail);
    }
    for (word, detail) in VERBS {
        out.add(word, CompletionItemKind::KEYWORD, detail);
    }
    for word in CONDITION_WORDS {
        out.add(word, CompletionItemKind::KEYWORD, "");
    }
    let mut fields = samples.field_names();
    fields.extend(
        analysis
            .items
            .iter()
            .filter(|i| i.kind == (Kind::Field { event: None }))
            .map(|i| i.name.clone()),
    );
    fields.sort();
    fields.dedup();
    for f in fields {
        out.add(&field_text(&f), CompletionItemKind::FIELD, "lead field");
    }
}

fn dimensions(analysis: &Analysis, out: &mut Items) {
    for d in &analysis.dimensions {
        out.add(&d.name, CompletionItemKind::ENUM_MEMBER, "dimension");
    }
}

/// A field as a rule writes it: backticks around a name with blanks or odd characters.
fn field_text(path: &str) -> String {
    if is(&PLAIN_FIELD, path) {
        path.to_string()
    } else {
        format!("`{path}`")
    }
}

/// Completion items, each label once.
#[derive(Default)]
struct Items(Vec<CompletionItem>);

impl Items {
    fn add(&mut self, label: &str, kind: CompletionItemKind, detail: &str) {
        if self.0.iter().any(|i| i.label == label) {
            return;
        }
        self.0.push(CompletionItem {
            label: label.to_string(),
            kind: Some(kind),
            detail: (!detail.is_empty()).then(|| detail.to_string()),
            ..CompletionItem::default()
        });
    }
}
