//! A rule pack: load a folder (or a string), check it, compile it, score leads with it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ast::{Ast, StatementKind};
use crate::check;
use crate::compile::compile;
use crate::diagnostic::{PackError, PackErrors};
use crate::error::Error;
use crate::eval::json::ReadPlan;
use crate::eval::{self, EvalError, Record};
use crate::explain::{Explanation, Outcome, PackId};
use crate::plugin::Plugins;
use crate::program::Program;
use crate::source::{SourceFile, Sources};
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
/// assert_eq!(&*pack.id().name, "b2b-saas");
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
        let sources = read_pack(dir, &name)?;
        self.build(&name, Some(dir), sources)
    }

    /// Loads a pack folder (or, without one, an empty pack named `session`) plus files
    /// held in memory, loaded after the folder's. This is how the REPL adds what the user
    /// types; errors in any file are reported as [`Loader::load`] reports them.
    ///
    /// A statement in an extra file *overrides* what the folder's files say about the same
    /// thing: `threshold` or `mql when`, `cap D`, `decay D`, `let N`, `route "Q"` and a rule
    /// of the same name. The overridden statement is left out (its text is blanked, so the
    /// lines of everything else stay put), and so is an earlier statement of the extra
    /// files that a later one overrides.
    ///
    /// ```
    /// use leadscore::{Loader, SourceFile};
    /// let extra = SourceFile { name: "<session>".into(), text: "threshold 10\ntitle ~ CEO => +10".into() };
    /// let pack = Loader::new().load_with(Some("rules/b2b-saas".as_ref()), [extra])?;
    /// let as_of = leadscore::parse_time("2026-03-01T00:00:00Z").unwrap();
    /// let outcome = pack.score(&serde_json::json!({"title": "CEO"}), as_of)?;
    /// assert_eq!(outcome.score, 25.0, "+10 from the extra rule, +15 from the pack's `Senior title`");
    /// assert!(outcome.mql, "the extra file's threshold 10 replaced the pack's threshold 75");
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn load_with(&self, dir: Option<&Path>, extra: impl IntoIterator<Item = SourceFile>) -> Result<Pack, Error> {
        let (name, mut sources) = match dir {
            Some(dir) => {
                let name = pack_name(dir);
                let sources = read_pack(dir, &name)?;
                (name, sources)
            }
            None => ("session".to_string(), Sources::default()),
        };
        let first_extra = sources.files().len();
        for file in extra {
            sources.add(file.name, file.text);
        }
        blank_overridden(&mut sources, first_extra);
        self.build(&name, dir, sources)
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
        // Errors may point into plugin files too: they are shown, but are not rule sources.
        let mut shown = sources.clone();
        let (plugins, plugin_errors) = Plugins::load(self, dir, &ast, &mut shown);
        errors.extend(plugin_errors);
        match check::check(&ast, &sources, &plugins) {
            Ok(checked) if errors.is_empty() => {
                let program = compile(&ast, &sources, checked, &plugins.function_names());
                let id = PackId {
                    name: name.into(),
                    version: version(&sources, &plugins).into(),
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
            Ok(_) => Err(PackErrors::new(shown, errors).into()),
            Err(check_errors) => {
                // A plugin that failed to load would make every call to it "unknown" too.
                let noise = |e: &check::CheckError| {
                    plugins.incomplete() && matches!(e.kind, check::CheckErrorKind::UnknownFunction(_))
                };
                errors.extend(check_errors.into_iter().filter(|e| !noise(e)).map(PackError::from));
                Err(PackErrors::new(shown, errors).into())
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
            program: &self.inner.program,
        }
    }

    /// Evaluates the `let` named `name` for a lead as of a time, and records what it looked
    /// at: the fields it read, the behaviours it counted and the `let`s it used (see
    /// [`crate::Trace`]). `Ok(None)` when the pack has no such `let`. Scoring is not slowed
    /// by this: the trace is taken by a separate walk after the normal evaluation.
    pub fn trace_let(
        &self,
        name: &str,
        lead: &serde_json::Value,
        as_of: DateTime<Utc>,
    ) -> Result<Option<crate::Trace>, EvalError> {
        let inner = &self.inner;
        let Some(index) = inner.program.lets.iter().position(|l| l.name == name) else {
            return Ok(None);
        };
        let as_of = as_of.timestamp_millis();
        let changed = if inner.plugins.has_hooks() {
            inner.plugins.enrich(lead, as_of)?.0
        } else {
            serde_json::Map::new()
        };
        let merged;
        let lead = if changed.contains_key("events") {
            let mut copy = lead.clone();
            if let serde_json::Value::Object(object) = &mut copy {
                object.extend(changed.clone());
            }
            merged = copy;
            &merged
        } else {
            lead
        };
        let changed = serde_json::Value::Object(changed);
        let mut record = inner.plan.read_value(&inner.program, lead)?;
        crate::plugin::overlay(&inner.program, &mut record, lead, &changed, "id");
        let trace = || eval::trace::trace_let(&inner.program, &record, as_of, &inner.plugins, index);
        crate::plugin::scoring_at(as_of, trace).map(Some)
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

    /// The plugin files the pack uses, in the order it names them (for watching them).
    ///
    /// ```
    /// let pack = leadscore::Pack::load("rules/agency")?;
    /// let files: Vec<_> = pack.plugin_files().collect();
    /// assert!(files.iter().any(|f| f.ends_with("seniority.rhai")));
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn plugin_files(&self) -> impl Iterator<Item = &Path> {
        self.inner.plugins.files()
    }

    /// Each plugin file with the text it was compiled from (hot reload refuses empty ones).
    pub(crate) fn plugin_texts(&self) -> impl Iterator<Item = (&Path, &str)> {
        self.inner.plugins.texts()
    }

    /// The sandbox limits the pack's plugins run under (the loader's, overridden by the
    /// pack's `limit` statements).
    ///
    /// ```
    /// let pack = leadscore::Pack::from_source("demo", "limit operations 5000\nthreshold 1")?;
    /// assert_eq!(pack.limits().operations, 5000);
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn limits(&self) -> &crate::plugin::Limits {
        self.inner.plugins.limits()
    }

    fn finish(
        &self,
        record: &Record,
        as_of: i64,
        enriched: Vec<crate::explain::Enrichment>,
    ) -> Result<Outcome, EvalError> {
        let inner = &self.inner;
        let evaluate = || eval::evaluate(&inner.program, record, as_of, &inner.plugins);
        // Plugin functions read `as_of()`; a pack without plugins skips setting it.
        let mut outcome = if inner.plugins.is_empty() {
            evaluate()?
        } else {
            crate::plugin::scoring_at(as_of, evaluate)?
        };
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

    /// How this scorer reads leads (which field is the id).
    fn plan(&self) -> &ReadPlan {
        self.id_field.as_ref().map_or(&self.pack.inner.plan, |(_, plan)| plan)
    }

    /// Scores a JSON lead.
    pub fn score(&self, lead: &serde_json::Value) -> Result<Outcome, EvalError> {
        let inner = &self.pack.inner;
        if inner.plugins.has_hooks() {
            return self.score_enriched(lead);
        }
        let record = self.plan().read_value(&inner.program, lead)?;
        self.pack.finish(&record, self.as_of, Vec::new())
    }

    /// Scores a lead given as JSON text.
    pub fn score_json(&self, text: &str) -> Result<Outcome, EvalError> {
        let inner = &self.pack.inner;
        let plan = self.plan();
        if inner.plugins.has_hooks() {
            // Hooks that do not read events get the lead parsed without them; the rules
            // still read the text directly, with the hooks' fields patched in.
            if let Some(lead) = (!inner.plugins.hooks_read_events())
                .then(|| crate::plugin::lead_without_events(text))
                .flatten()
            {
                let (changed, enriched) = inner.plugins.enrich(&lead, self.as_of)?;
                if !changed.contains_key("events") {
                    let changed = serde_json::Value::Object(changed);
                    let mut record = plan.read(&inner.program, text, self.as_of)?;
                    crate::plugin::overlay(&inner.program, &mut record, &lead, &changed, self.id_name());
                    return self.pack.finish(&record, self.as_of, enriched);
                }
            }
            let lead: serde_json::Value = serde_json::from_str(text).map_err(|e| EvalError::Json(e.to_string()))?;
            return self.score_enriched(&lead);
        }
        let record = plan.read(&inner.program, text, self.as_of)?;
        self.pack.finish(&record, self.as_of, Vec::new())
    }
}

impl Scorer<'_> {
    /// Runs the enrichment hooks, then the rules over the enriched lead: they see the
    /// hooks' fields exactly like input fields. The lead is read as it is and the changed
    /// fields patched in, so it is not copied (unless a hook replaced its events).
    fn score_enriched(&self, lead: &serde_json::Value) -> Result<Outcome, EvalError> {
        let inner = &self.pack.inner;
        let (changed, enriched) = inner.plugins.enrich(lead, self.as_of)?;
        if changed.contains_key("events") {
            let mut merged = lead.clone();
            if let serde_json::Value::Object(object) = &mut merged {
                object.extend(changed);
            }
            // Events are read as the rules count them: an error in the hook's events is
            // the hook's.
            let hook = crate::plugin::events_hook(&enriched);
            let blame = |e| crate::plugin::events_error(e, hook.as_deref());
            let record = self.plan().read_value(&inner.program, &merged).map_err(blame)?;
            return self.pack.finish(&record, self.as_of, enriched).map_err(blame);
        }
        let changed = serde_json::Value::Object(changed);
        let mut record = self.plan().read_value(&inner.program, lead)?;
        crate::plugin::overlay(&inner.program, &mut record, lead, &changed, self.id_name());
        self.pack.finish(&record, self.as_of, enriched)
    }
}

/// The `*.rules` files of a pack folder, named `pack/file.rules`.
fn read_pack(dir: &Path, name: &str) -> Result<Sources, Error> {
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
        sources.add_in_pack(name, &file, text);
    }
    if sources.files().is_empty() {
        return Err(Error::EmptyPack(dir.to_path_buf()));
    }
    Ok(sources)
}

/// Blanks every statement that a later statement of the files from `first_extra` on
/// redeclares (see [`Loader::load_with`]). Files that do not parse are left to `build`
/// to report.
fn blank_overridden(sources: &mut Sources, first_extra: usize) {
    let mut statements = Vec::new();
    for (i, file) in sources.files().iter().enumerate() {
        let mut ast = Ast::default();
        syntax::parse_file(i as u32, &file.text, &mut ast, &mut Vec::new());
        statements.extend(ast.statements.into_iter().map(|s| (i, s)));
    }
    let mut overridden = Vec::new();
    for (n, (_, statement)) in statements.iter().enumerate() {
        let Some(key) = override_key(statement, sources) else {
            continue;
        };
        let later = statements[n + 1..]
            .iter()
            .any(|(file, s)| *file >= first_extra && override_key(s, sources).as_ref() == Some(&key));
        if later {
            overridden.push(statement.span);
        }
    }
    for span in overridden {
        sources.blank(span);
    }
}

/// What a statement declares, for overriding: two statements with the same key say
/// different things about the same thing.
fn override_key(statement: &crate::ast::Statement, sources: &Sources) -> Option<String> {
    Some(match &statement.kind {
        StatementKind::Threshold(_) | StatementKind::Mql(_) => "mql".to_string(),
        StatementKind::Cap { dim, .. } => format!("cap {}", dim.node),
        StatementKind::Decay { dim, .. } => format!("decay {}", dim.node),
        StatementKind::Let { name, .. } => format!("let {}", name.node),
        StatementKind::Route { queue, .. } => format!("route {}", queue.node),
        StatementKind::Rule(rule) => format!("rule {}", check::rule_name(rule, sources).0),
        _ => return None,
    })
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
        // Hidden files are editors' (`.#main.rules` lock files, `.main.rules.swp`), not rules.
        let hidden = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if !hidden && path.extension().is_some_and(|e| e == "rules") {
            // Every rule file is read or the pack fails: a dangling link, a FIFO, a device
            // or a folder named `*.rules` is an error naming it, never a file skipped.
            match std::fs::metadata(&path) {
                Ok(meta) if meta.is_file() => files.push(path),
                Ok(_) => {
                    let source = std::io::Error::other("not a regular file (a folder, FIFO or device)");
                    return Err(Error::Io { path, source });
                }
                Err(source) => return Err(Error::Io { path, source }),
            }
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
