//! The one place the language server reaches into the crate's internals: the front of the
//! pack build pipeline (parse → resolve plugins → check, for the same diagnostics
//! `leadscore check` gives, and the syntax tree with the names and their spans), the
//! checker's error kinds and did-you-mean, the plugin host's functions, the loader's
//! file listing and the dotted-path lookup. Everything is turned into this module's own plain types,
//! so the editor features above it do not depend on how the core is laid out.

use std::path::{Path, PathBuf};

use leadscore::ast::{Action, Ast, Behaviour, Cond, CondKind, Operand, OperandKind, Rule, StatementKind, TestOp, Verb};
use leadscore::check::{self, CheckErrorKind, CheckWarningKind};
use leadscore::pack::{PackError, PackErrors};
use leadscore::plugin::LoadErrorKind;
use leadscore::Loader;
use leadscore::{Sources, Span};

/// A byte range in one file of an [`Analysis`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loc {
    /// Index into [`Analysis::files`].
    pub file: usize,
    /// Byte offsets.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// A file errors or names may point into: a rule file of the pack or a plugin script.
#[derive(Clone, Debug)]
pub struct FileText {
    /// Where it is on disk (for an open buffer, where it will be saved).
    pub path: PathBuf,
    /// Its text (an open buffer's unsaved text in place of the disk's).
    pub text: String,
}

/// One reason the pack does not load, where it is, and the fix when it is a typo.
#[derive(Clone, Debug)]
pub struct Problem {
    /// Where.
    pub at: Loc,
    /// The checker's message.
    pub message: String,
    /// Its `help:` line.
    pub help: Option<String>,
    /// The name the checker would suggest: replacing `at` with it fixes the typo.
    pub fix: Option<String>,
    /// A check warning (probably a mistake, but the pack loads), not an error.
    pub warning: bool,
}

/// What a name in the text is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A `let` name.
    Let,
    /// A dimension.
    Dimension,
    /// A `plugin "NAME"`.
    Plugin,
    /// A plugin function call.
    Function,
    /// A rule (defined only).
    Rule,
    /// A route (defined only).
    Route,
    /// `threshold` or `mql when` (defined only).
    Mql,
    /// A lead field, or in `did TYPE where ...` a property of events of that type.
    Field {
        /// The event type whose properties a `where` tests.
        event: Option<String>,
    },
    /// A behaviour's verb.
    Verb {
        /// The event type it counts.
        event_type: String,
        /// The property its pattern matches (`None` for `did`).
        property: Option<&'static str>,
    },
}

/// A definition or a use of a name.
#[derive(Clone, Debug)]
pub struct Item {
    /// What it names.
    pub kind: Kind,
    /// The name (a field's dotted path, a verb's word).
    pub name: String,
    /// Where the name is written.
    pub at: Loc,
    /// The whole statement of a definition (the name's own span for a use).
    pub whole: Loc,
    /// A definition, as opposed to a use.
    pub defines: bool,
    /// A one-line description: a rule's actions, a `let`'s condition, a route's condition.
    pub detail: Option<String>,
}

/// A declared dimension.
#[derive(Clone, Debug)]
pub struct Dimension {
    /// Its name.
    pub name: String,
    /// `cap NAME at N`.
    pub cap: Option<String>,
    /// `decay NAME half-life D`, as written.
    pub half_life: Option<String>,
}

/// A function a plugin defines.
#[derive(Clone, Debug)]
pub struct Function {
    /// Its name.
    pub name: String,
    /// Its parameters, as the script names them.
    pub params: Vec<String>,
    /// The plugin's name.
    pub plugin: String,
}

/// A plugin the pack names and that was found.
#[derive(Clone, Debug)]
pub struct Plugin {
    /// Its name.
    pub name: String,
    /// Its script.
    pub path: PathBuf,
}

/// A pack folder, as the editor sees it, analysed.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    /// The rule files (the first `rule_files`) and the plugin scripts problems point into.
    pub files: Vec<FileText>,
    /// How many of `files` are rule files.
    pub rule_files: usize,
    /// Every error, by position.
    pub problems: Vec<Problem>,
    /// Every definition and use of a name, in source order.
    pub items: Vec<Item>,
    /// The declared dimensions.
    pub dimensions: Vec<Dimension>,
    /// The functions the found plugins define.
    pub functions: Vec<Function>,
    /// The plugins found.
    pub plugins: Vec<Plugin>,
    /// The plugin scripts that exist in the folders searched (for completion).
    pub available_plugins: Vec<String>,
}

/// Analyses a pack folder whose rule files are `files` (path and text, in load order).
/// `leads` are the pack's sample leads and test cases' leads, for the warnings about
/// fields none of them has.
pub fn analyse(dir: &Path, files: Vec<FileText>, loader: &Loader, leads: &[&serde_json::Value]) -> Analysis {
    let pack = dir
        .file_name()
        .map_or_else(|| "pack".to_string(), |n| n.to_string_lossy().into_owned());
    let mut sources = Sources::default();
    for f in &files {
        let name = f.path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        sources.add(format!("{pack}/{name}"), f.text.clone());
    }
    let front = leadscore::pack::front(loader, Some(dir), &sources);
    let mut analysis = Analysis {
        rule_files: files.len(),
        files,
        functions: front
            .plugins
            .functions()
            .map(|(name, params, plugin)| Function {
                name: name.to_string(),
                params: params.to_vec(),
                plugin: plugin.to_string(),
            })
            .collect(),
        plugins: front
            .plugins
            .scripts()
            .map(|(name, path)| Plugin {
                name: name.to_string(),
                path: path.to_path_buf(),
            })
            .collect(),
        available_plugins: available_plugins(loader, dir),
        ..Analysis::default()
    };
    Index::new(&mut analysis, &sources).statements(&front.ast);
    if let Err(errors) = &front.checked {
        analysis.problems = problems(&mut analysis, errors);
    }
    let warnings = leadscore::check::unseen_fields(&front.ast, front.plugins.has_hooks(), leads);
    analysis.problems.extend(warnings.into_iter().filter_map(|w| {
        let file = usize::try_from(w.span.file).ok().filter(|&i| i < analysis.rule_files)?;
        Some(Problem {
            at: Loc {
                file,
                start: w.span.start as usize,
                end: w.span.end as usize,
            },
            message: w.to_string(),
            fix: match &w.kind {
                // A quick fix only for a name written bare (not one needing backticks).
                CheckWarningKind::UnseenField {
                    suggestion: Some(best), ..
                } if best.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '.') => Some(best.clone()),
                _ => None,
            },
            help: w.help,
            warning: true,
        })
    }));
    analysis
}

/// The pipeline's errors as problems; errors in plugin scripts add those files.
fn problems(analysis: &mut Analysis, errors: &PackErrors) -> Vec<Problem> {
    let mut out = Vec::new();
    for e in errors.errors() {
        let span = e.span();
        let file = match usize::try_from(span.file) {
            Ok(i) if i < analysis.rule_files => i,
            _ => plugin_file(analysis, PathBuf::from(errors.location(e).file)),
        };
        out.push(Problem {
            at: Loc {
                file,
                start: span.start as usize,
                end: span.end as usize,
            },
            message: e.to_string(),
            help: e.help().map(str::to_string),
            fix: e.help().and_then(|_| fix(analysis, e)),
            warning: false,
        });
    }
    out
}

/// The index of a plugin script in `files`, reading it the first time.
fn plugin_file(analysis: &mut Analysis, path: PathBuf) -> usize {
    if let Some(i) = analysis.files.iter().position(|f| f.path == path) {
        return i;
    }
    let text = leadscore::file::read_text(&path, leadscore::file::DEFAULT_MAX_FILE_BYTES).unwrap_or_default();
    analysis.files.push(FileText { path, text });
    analysis.files.len() - 1
}

/// The checker's did-you-mean, for the errors that name an unknown name.
fn fix(analysis: &Analysis, error: &PackError) -> Option<String> {
    let names = |kind: Kind| -> Vec<&str> {
        analysis
            .items
            .iter()
            .filter(|i| i.defines && i.kind == kind)
            .map(|i| i.name.as_str())
            .collect()
    };
    match error {
        PackError::Check(e) => match &e.kind {
            CheckErrorKind::UnknownDimension(name) => check::did_you_mean(name.as_str(), names(Kind::Dimension)),
            CheckErrorKind::UnknownLet(name) => check::did_you_mean(name.as_str(), names(Kind::Let)),
            CheckErrorKind::UnknownFunction(name) => {
                check::did_you_mean(name.as_str(), analysis.functions.iter().map(|f| f.name.as_str()))
            }
            _ => None,
        }
        .map(str::to_string),
        // A plugin's name is written in quotes, and its span covers them.
        PackError::Plugin(e) => match &e.kind {
            LoadErrorKind::UnknownPlugin(name) => {
                check::did_you_mean(name.as_str(), analysis.available_plugins.iter().map(String::as_str))
                    .map(|best| format!("\"{best}\""))
            }
            _ => None,
        },
        _ => None,
    }
}

/// The stems of the `.rhai` files in the folders plugins are looked up in.
fn available_plugins(loader: &Loader, dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::iter::once(dir.join("plugins"))
        .chain(loader.plugin_folders().iter().cloned())
        .filter_map(|folder| std::fs::read_dir(folder).ok())
        .flat_map(|entries| entries.flatten().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "rhai"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Where a condition is: which names mean what in it.
#[derive(Clone)]
enum Scope {
    Lead,
    Outcome,
    Event(Option<String>),
}

/// Walks the syntax tree once, collecting definitions and uses.
struct Index<'a> {
    analysis: &'a mut Analysis,
    sources: &'a Sources,
}

impl<'a> Index<'a> {
    fn new(analysis: &'a mut Analysis, sources: &'a Sources) -> Self {
        Index { analysis, sources }
    }

    fn loc(span: Span) -> Loc {
        Loc {
            file: span.file as usize,
            start: span.start as usize,
            end: span.end as usize,
        }
    }

    /// The text of a span with its blanks collapsed.
    fn text(&self, span: Span) -> String {
        self.sources.text(span).split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn add(&mut self, kind: Kind, name: &str, at: Span, whole: Option<Span>, detail: Option<String>) {
        self.analysis.items.push(Item {
            kind,
            name: name.to_string(),
            at: Self::loc(at),
            whole: Self::loc(whole.unwrap_or(at)),
            defines: whole.is_some(),
            detail,
        });
    }

    fn statements(&mut self, ast: &Ast) {
        self.dimensions(ast);
        for s in &ast.statements {
            let whole = Some(s.span);
            match &s.kind {
                StatementKind::Threshold(n) => {
                    self.add(
                        Kind::Mql,
                        "threshold",
                        s.span,
                        whole,
                        Some(format!("score >= {}", n.node)),
                    );
                }
                StatementKind::Mql(cond) => {
                    self.add(Kind::Mql, "mql", s.span, whole, Some(self.text(cond.span)));
                    self.cond(cond, &Scope::Outcome);
                }
                StatementKind::Cap { dim, .. } | StatementKind::Decay { dim, .. } | StatementKind::Dimension(dim) => {
                    self.add(Kind::Dimension, &dim.node, dim.span, whole, None);
                }
                StatementKind::Let { name, cond } => {
                    let detail = format!("let {} = {}", name.node, self.text(cond.span));
                    self.add(Kind::Let, &name.node, name.span, whole, Some(detail));
                    self.cond(cond, &Scope::Lead);
                }
                StatementKind::Route { queue, when, .. } => {
                    let detail = when.as_ref().map(|c| format!("when {}", self.text(c.span)));
                    self.add(Kind::Route, &queue.node, queue.span, whole, detail);
                    if let Some(cond) = when {
                        self.cond(cond, &Scope::Outcome);
                    }
                }
                StatementKind::Plugin(name) => self.add(Kind::Plugin, &name.node, name.span, whole, None),
                StatementKind::Limit { .. }
                | StatementKind::Requalify(_)
                | StatementKind::Calibrate { .. }
                | StatementKind::Target(_) => {}
                StatementKind::Rule(rule) => self.rule(rule, s.span),
                StatementKind::Fields(paths) => {
                    for path in paths {
                        self.add(Kind::Field { event: None }, &path.node.join("."), path.span, None, None);
                    }
                }
            }
        }
    }

    /// The dimensions first: a bare name in `mql when` may be one declared further down.
    fn dimensions(&mut self, ast: &Ast) {
        for s in &ast.statements {
            let (dim, cap, half_life) = match &s.kind {
                StatementKind::Cap { dim, at } => (dim, Some(self.text(at.span)), None),
                StatementKind::Decay { dim, half_life } => (dim, None, Some(self.text(half_life.span))),
                StatementKind::Dimension(dim) => (dim, None, None),
                _ => continue,
            };
            let dims = &mut self.analysis.dimensions;
            let i = dims.iter().position(|d| d.name == dim.node).unwrap_or_else(|| {
                dims.push(Dimension {
                    name: dim.node.clone(),
                    cap: None,
                    half_life: None,
                });
                dims.len() - 1
            });
            let d = &mut dims[i];
            d.cap = d.cap.take().or(cap);
            d.half_life = d.half_life.take().or(half_life);
        }
    }

    fn rule(&mut self, rule: &Rule, whole: Span) {
        let (name, at) = check::rule_name(rule, self.sources);
        let at = rule.name.as_ref().map_or(at, |n| n.span);
        let actions: Vec<String> = rule.actions.iter().map(|a| action(&a.node)).collect();
        self.add(Kind::Rule, &name, at, Some(whole), Some(actions.join("; ")));
        self.cond(&rule.cond, &Scope::Lead);
        for action in &rule.actions {
            if let Action::Points { dim: Some(dim), .. } = &action.node {
                self.add(Kind::Dimension, &dim.node, dim.span, None, None);
            }
        }
    }

    fn cond(&mut self, cond: &Cond, scope: &Scope) {
        match &cond.kind {
            CondKind::Or(parts) | CondKind::And(parts) => parts.iter().for_each(|p| self.cond(p, scope)),
            CondKind::Not(inner) => self.cond(inner, scope),
            CondKind::LetRef(name) => self.add(Kind::Let, name, cond.span, None, None),
            CondKind::Behaviour(b) => self.behaviour(b, cond.span),
            CondKind::Test(test) => {
                self.operand(&test.operand, scope);
                match &test.op {
                    TestOp::Compare(_, rhs) | TestOp::In(rhs) | TestOp::Str(_, rhs) => self.operand(rhs, scope),
                    TestOp::Truthy | TestOp::Match(_) | TestOp::Exists | TestOp::Missing => {}
                }
            }
        }
    }

    fn behaviour(&mut self, b: &Behaviour, span: Span) {
        let text = self.sources.text(span);
        let verb_len = text.find(|c: char| !c.is_alphabetic()).unwrap_or(text.len());
        let verb = Span {
            end: span.start + u32::try_from(verb_len).unwrap_or(0),
            ..span
        };
        let kind = Kind::Verb {
            event_type: b.event_type.node.clone(),
            property: b.verb.event().map(|(_, property)| property),
        };
        self.add(kind, &text[..verb_len], verb, None, None);
        if b.verb == Verb::Did {
            let kind = Kind::Verb {
                event_type: b.event_type.node.clone(),
                property: None,
            };
            self.add(kind, &b.event_type.node, b.event_type.span, None, None);
        }
        if let Some(filter) = &b.filter {
            self.cond(filter, &Scope::Event(Some(b.event_type.node.clone())));
        }
    }

    fn operand(&mut self, operand: &Operand, scope: &Scope) {
        match &operand.kind {
            OperandKind::Field(path) => {
                let name = path.join(".");
                let dimension = matches!(scope, Scope::Outcome)
                    && path.len() == 1
                    && self.analysis.dimensions.iter().any(|d| d.name == name);
                if dimension {
                    self.add(Kind::Dimension, &name, operand.span, None, None);
                } else if !(matches!(scope, Scope::Outcome) && name == "score") {
                    let event = match scope {
                        Scope::Event(ty) => ty.clone(),
                        Scope::Lead | Scope::Outcome => None,
                    };
                    self.add(Kind::Field { event }, &name, operand.span, None, None);
                }
            }
            OperandKind::List(items) => items.iter().for_each(|i| self.operand(i, scope)),
            OperandKind::Call { name, args } => {
                self.add(Kind::Function, &name.node, name.span, None, None);
                args.iter().for_each(|a| self.operand(a, scope));
            }
            OperandKind::Str(_) | OperandKind::Num(_) | OperandKind::Bool(_) => {}
        }
    }
}

/// What an action does, in words: "+15 points into `fit`".
fn action(action: &Action) -> String {
    match action {
        Action::Points { value, dim, each } => {
            let mut text = format!("{}{value} points", if *value >= 0.0 { "+" } else { "" });
            if let Some(dim) = dim {
                text += &format!(" into `{}`", dim.node);
            } else {
                text += " (no dimension)";
            }
            if let Some(each) = each {
                text += " for each matching event";
                if let Some(max) = each.max {
                    text += &format!(", at most {max}");
                }
            }
            text
        }
        Action::Disqualify(reason) => format!("disqualifies: \"{reason}\""),
        Action::Tag(tag) => format!("tags \"{tag}\""),
    }
}

/// The `*.rules` files of a pack folder on disk, in load order (as `Loader::load` reads them).
pub fn rule_files(dir: &Path) -> Vec<PathBuf> {
    leadscore::pack::rule_files(dir).unwrap_or_default()
}

/// A field of a lead by its dotted path, found as the evaluator finds it.
pub fn lookup<'a>(lead: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    let path: Vec<String> = path.split('.').map(str::to_string).collect();
    leadscore::read::lookup(lead, &path)
}
