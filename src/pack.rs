//! A rule pack: load a folder (or a string), check it, compile it, score leads with it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ast::{Ast, StatementKind};
use crate::check::{self, FunctionTable};
use crate::compile::compile;
use crate::diagnostic::{PackError, PackErrors};
use crate::error::Error;
use crate::eval::json::ReadPlan;
use crate::eval::{self, EvalError, Record};
use crate::explain::{Explanation, Outcome, PackId};
use crate::plugin::Plugins;
use crate::program::Program;
use crate::source::Sources;
use crate::syntax;

/// A compiled rule pack, ready to score leads. Cheap to clone and share across threads.
///
/// ```
/// use leadscore::Pack;
/// let pack = Pack::from_source("demo", r#"
///     threshold 20
///     title ~ VP and visited /pricing => +20
/// "#)?;
/// let lead = serde_json::json!({
///     "title": "VP Marketing",
///     "events": [{"type": "page_view", "path": "/pricing", "at": "2026-03-01T10:00:00Z"}]
/// });
/// let as_of = leadscore::parse_time("2026-03-02T00:00:00Z").unwrap();
/// let outcome = pack.score(&lead, as_of)?;
/// assert_eq!(outcome.score, 20.0);
/// assert!(outcome.mql);
/// # Ok::<(), leadscore::Error>(())
/// ```
#[derive(Clone)]
pub struct Pack {
    inner: Arc<Inner>,
}

struct Inner {
    program: Program,
    sources: Sources,
    id: PackId,
    plugins: Plugins,
    /// How to read JSON text with the default id field, `id`.
    plan: ReadPlan,
}

impl std::fmt::Debug for Pack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pack")
            .field("id", &self.inner.id)
            .finish_non_exhaustive()
    }
}

/// Options for loading packs: where plugins are found and how they are limited.
///
/// ```
/// let loader = leadscore::Loader::new().plugin_path(["plugins"]);
/// let pack = loader.load("rules/b2b-saas")?;
/// assert_eq!(pack.id().name, "b2b-saas");
/// # Ok::<(), leadscore::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Loader {
    pub(crate) plugin_path: Vec<PathBuf>,
    pub(crate) limits: crate::plugin::Limits,
}

impl Default for Loader {
    fn default() -> Self {
        Loader {
            plugin_path: vec![PathBuf::from("plugins")],
            limits: crate::plugin::Limits::default(),
        }
    }
}

impl Loader {
    /// Default options: plugins from `./plugins`, default sandbox limits.
    pub fn new() -> Loader {
        Loader::default()
    }

    /// Folders searched for plugins a pack names (after the pack's own `plugins/`).
    pub fn plugin_path<P: Into<PathBuf>>(mut self, dirs: impl IntoIterator<Item = P>) -> Loader {
        self.plugin_path = dirs.into_iter().map(Into::into).collect();
        self
    }

    /// Sandbox limits for plugin calls; a pack's `limit` statements override them.
    pub fn limits(mut self, limits: crate::plugin::Limits) -> Loader {
        self.limits = limits;
        self
    }

    /// Loads a pack folder: every `*.rules` file in it, in file-name order.
    pub fn load(&self, dir: impl AsRef<Path>) -> Result<Pack, Error> {
        let dir = dir.as_ref();
        let name = pack_name(dir);
        let mut sources = Sources::default();
        for path in rule_files(dir)? {
            let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            let file = path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            sources.add(format!("{name}/{file}"), text);
        }
        if sources.files().is_empty() {
            return Err(Error::EmptyPack(dir.to_path_buf()));
        }
        self.build(&name, Some(dir), sources)
    }

    /// Builds a pack from rule text; plugins are looked up on the plugin path only.
    pub fn from_source(&self, name: &str, text: &str) -> Result<Pack, Error> {
        let mut sources = Sources::default();
        sources.add(format!("{name}.rules"), text);
        self.build(name, None, sources)
    }

    /// Builds a pack from already-loaded sources (the REPL adds its own).
    pub(crate) fn build(&self, name: &str, dir: Option<&Path>, sources: Sources) -> Result<Pack, Error> {
        let mut ast = Ast::default();
        let mut errors: Vec<PackError> = Vec::new();
        let mut parse_errors = Vec::new();
        for (i, file) in sources.files().iter().enumerate() {
            syntax::parse_file(i as u32, &file.text, &mut ast, &mut parse_errors);
        }
        errors.extend(parse_errors.into_iter().map(PackError::from));
        let (plugins, plugin_errors) = Plugins::load(self, dir, &ast);
        errors.extend(plugin_errors);
        match check::check(&ast, &sources, &plugins) {
            Ok(checked) if errors.is_empty() => {
                let program = compile(&ast, &sources, checked, &plugins.function_names());
                let id = PackId {
                    name: name.to_string(),
                    version: version(&sources, &plugins),
                };
                let plan = ReadPlan::new(&program, "id");
                Ok(Pack {
                    inner: Arc::new(Inner {
                        program,
                        sources,
                        id,
                        plugins,
                        plan,
                    }),
                })
            }
            Ok(_) => Err(PackErrors::new(sources, errors).into()),
            Err(check_errors) => {
                errors.extend(check_errors.into_iter().map(PackError::from));
                Err(PackErrors::new(sources, errors).into())
            }
        }
    }
}

impl Pack {
    /// Loads a pack folder with default options ([`Loader`]).
    pub fn load(dir: impl AsRef<Path>) -> Result<Pack, Error> {
        Loader::default().load(dir)
    }

    /// Builds a pack from rule text with default options.
    pub fn from_source(name: &str, text: &str) -> Result<Pack, Error> {
        Loader::default().from_source(name, text)
    }

    /// Scores a JSON lead as of a time.
    pub fn score(&self, lead: &serde_json::Value, as_of: DateTime<Utc>) -> Result<Outcome, EvalError> {
        self.scorer(as_of).score(lead)
    }

    /// Scores a lead given as JSON text, reading only the fields and events the pack uses.
    ///
    /// ```
    /// # let pack = leadscore::Pack::from_source("demo", "company.size >= 50 => +10")?;
    /// let as_of = leadscore::parse_time("2026-01-01T00:00:00Z").unwrap();
    /// let outcome = pack.score_json(r#"{"company": {"size": "120"}}"#, as_of)?;
    /// assert_eq!(outcome.score, 10.0);
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn score_json(&self, text: &str, as_of: DateTime<Utc>) -> Result<Outcome, EvalError> {
        self.scorer(as_of).score_json(text)
    }

    /// Scores any serializable lead (your own struct with `title`, `events`, ...).
    ///
    /// ```
    /// #[derive(serde::Serialize)]
    /// struct Lead { title: String }
    /// # let pack = leadscore::Pack::from_source("demo", "title ~ CEO => +5")?;
    /// let as_of = leadscore::parse_time("2026-01-01T00:00:00Z").unwrap();
    /// let outcome = pack.score_typed(&Lead { title: "CEO".into() }, as_of)?;
    /// assert_eq!(outcome.score, 5.0);
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn score_typed<T: Serialize>(&self, lead: &T, as_of: DateTime<Utc>) -> Result<Outcome, EvalError> {
        let value = serde_json::to_value(lead).map_err(|e| EvalError::Json(e.to_string()))?;
        self.score(&value, as_of)
    }

    /// A scorer for many leads as of one time, optionally reading ids from another field.
    pub fn scorer(&self, as_of: DateTime<Utc>) -> Scorer<'_> {
        Scorer {
            pack: self,
            as_of: as_of.timestamp_millis(),
            id_field: None,
        }
    }

    /// A readable breakdown of an outcome this pack produced.
    ///
    /// ```
    /// # let pack = leadscore::Pack::from_source("demo", "threshold 5\nrule \"CEO\": title ~ CEO => +5")?;
    /// # let as_of = leadscore::parse_time("2026-01-01T00:00:00Z").unwrap();
    /// let outcome = pack.score(&serde_json::json!({"title": "CEO"}), as_of)?;
    /// let text = pack.explain(&outcome).to_string();
    /// assert!(text.starts_with("score 5 — MQL"));
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn explain<'a>(&'a self, outcome: &'a Outcome) -> Explanation<'a> {
        Explanation {
            outcome,
            mql_rule: self.inner.program.mql.as_ref().map(|(_, text)| text.as_str()),
        }
    }

    /// The pack's name and version.
    pub fn id(&self) -> &PackId {
        &self.inner.id
    }

    /// The compiled program (printable).
    pub fn program(&self) -> &Program {
        &self.inner.program
    }

    /// The files the pack was built from.
    pub fn sources(&self) -> &Sources {
        &self.inner.sources
    }

    fn finish(
        &self,
        record: &Record,
        as_of: i64,
        enriched: Vec<crate::explain::Enrichment>,
    ) -> Result<Outcome, EvalError> {
        let mut outcome = eval::evaluate(&self.inner.program, record, as_of, &self.inner.plugins)?;
        outcome.pack = self.inner.id.clone();
        outcome.enriched = enriched;
        Ok(outcome)
    }
}

/// Scores leads with one pack as of one time.
///
/// ```
/// # let pack = leadscore::Pack::from_source("demo", "title ~ CEO => +5")?;
/// let as_of = leadscore::parse_time("2026-01-01T00:00:00Z").unwrap();
/// let scorer = pack.scorer(as_of).id_field("lead_id");
/// let outcome = scorer.score_json(r#"{"lead_id": "L-7", "title": "CEO"}"#)?;
/// assert_eq!(outcome.id, Some(serde_json::json!("L-7")));
/// # Ok::<(), leadscore::Error>(())
/// ```
pub struct Scorer<'p> {
    pack: &'p Pack,
    as_of: i64,
    id_field: Option<(String, ReadPlan)>,
}

impl Scorer<'_> {
    /// Reads each lead's id from `field` instead of `id`.
    pub fn id_field(mut self, field: &str) -> Self {
        let plan = ReadPlan::new(&self.pack.inner.program, field);
        self.id_field = Some((field.to_string(), plan));
        self
    }

    fn id_name(&self) -> &str {
        self.id_field.as_ref().map_or("id", |(f, _)| f.as_str())
    }

    /// Scores a JSON lead.
    pub fn score(&self, lead: &serde_json::Value) -> Result<Outcome, EvalError> {
        let inner = &self.pack.inner;
        if inner.plugins.has_hooks() {
            let (lead, enriched) = inner.plugins.enrich(lead, self.as_of)?;
            let record = Record::from_json(&inner.program, &lead, self.as_of, self.id_name())?;
            return self.pack.finish(&record, self.as_of, enriched);
        }
        let record = Record::from_json(&inner.program, lead, self.as_of, self.id_name())?;
        self.pack.finish(&record, self.as_of, Vec::new())
    }

    /// Scores a lead given as JSON text.
    pub fn score_json(&self, text: &str) -> Result<Outcome, EvalError> {
        let inner = &self.pack.inner;
        if inner.plugins.has_hooks() {
            let lead: serde_json::Value = serde_json::from_str(text).map_err(|e| EvalError::Json(e.to_string()))?;
            return self.score(&lead);
        }
        let plan = self.id_field.as_ref().map_or(&inner.plan, |(_, p)| p);
        let record = plan.read(&inner.program, text, self.as_of)?;
        self.pack.finish(&record, self.as_of, Vec::new())
    }
}

/// The name of a pack: its folder's name.
fn pack_name(dir: &Path) -> String {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    dir.file_name()
        .map_or_else(|| "pack".to_string(), |n| n.to_string_lossy().into_owned())
}

/// The `*.rules` files of a folder, in file-name order.
pub(crate) fn rule_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let io = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|e| e == "rules") && path.is_file() {
            files.push(path);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// The first 8 hex digits of an FNV-1a hash of every source and plugin file.
fn version(sources: &Sources, plugins: &Plugins) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        hash = (hash ^ 0xff).wrapping_mul(0x0000_0100_0000_01b3);
    };
    for f in sources.files() {
        feed(f.name.as_bytes());
        feed(f.text.as_bytes());
    }
    for text in plugins.sources() {
        feed(text.as_bytes());
    }
    format!("{:08x}", hash >> 32)
}

impl FunctionTable for Plugins {
    fn arity(&self, name: &str) -> Option<usize> {
        self.function_arity(name)
    }
    fn names(&self) -> Vec<&str> {
        self.function_names_ref()
    }
}

/// Whether a statement names a plugin (used by the plugin loader).
pub(crate) fn plugin_names(ast: &Ast) -> impl Iterator<Item = &crate::ast::Spanned<String>> {
    ast.statements.iter().filter_map(|s| match &s.kind {
        StatementKind::Plugin(name) => Some(name),
        _ => None,
    })
}
