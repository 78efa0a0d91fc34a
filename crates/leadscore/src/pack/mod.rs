//! A rule pack: the scoring facade. `loader.rs` finds a pack's files (and the REPL's
//! overrides), `build.rs` is the pipeline that turns them into a pack (parse → resolve
//! plugins → check → compile), `scorer.rs` the one path a lead takes through it.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::eval::{EvalError, Names, NextChange, Outcome, PackId};
use crate::explain::Explanation;
use crate::plugin::Plugins;
use crate::program::Program;
use crate::read::ReadPlan;
use crate::source::Sources;

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
    /// The names its results refer to (shared by them all), its id among them.
    names: Arc<Names>,
    plugins: Plugins,
    /// How to read JSON text with the default id field, `id`.
    plan: ReadPlan,
}

mod build;
mod error;
mod loader;
mod scorer;

pub use build::{front, Front};
pub use error::{Error, PackError, PackErrors, PackWarnings};
pub use loader::rule_files;
pub use loader::Loader;
pub(crate) use loader::Overridden;
#[cfg(feature = "arrow")]
pub use scorer::ArrowBatch;
pub use scorer::Scorer;

impl std::fmt::Debug for Pack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pack").field("id", self.id()).finish_non_exhaustive()
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

    /// Scores a JSON lead as of a time, and says when its result can next change with no
    /// new data ([`NextChange`], whose example shows one).
    pub fn score_with_next_change(
        &self,
        lead: &serde_json::Value,
        as_of: DateTime<Utc>,
    ) -> Result<(Outcome, NextChange), EvalError> {
        self.scorer(as_of).score_with_next_change(lead)
    }

    /// [`Pack::score_with_next_change`] for a lead given as JSON text, read as
    /// [`Pack::score_json`] reads it: what `leadscore serve` stores with each lead.
    ///
    /// ```
    /// # let pack = leadscore::Pack::from_source("demo", "threshold 10\nnot visited /pricing within 30d => +10")?;
    /// let as_of = leadscore::parse_time("2026-03-02T00:00:00Z").unwrap();
    /// let lead = r#"{"events": [{"type": "page_view", "path": "/pricing", "at": "2026-03-01T00:00:00Z"}]}"#;
    /// let (outcome, next) = pack.score_json_with_next_change(lead, as_of)?;
    /// assert!(!outcome.mql);
    /// // 30 days after the visit, `not visited /pricing within 30d` turns true.
    /// assert_eq!(next, leadscore::NextChange::At(leadscore::parse_time("2026-03-31T00:00:00.001Z").unwrap()));
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn score_json_with_next_change(
        &self,
        text: &str,
        as_of: DateTime<Utc>,
    ) -> Result<(Outcome, NextChange), EvalError> {
        self.scorer(as_of).score_json_with_next_change(text)
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
        let value =
            serde_json::to_value(lead).map_err(|e| EvalError::Read(crate::read::ReadError::Json(e.to_string())))?;
        self.score(&value, as_of)
    }

    /// A scorer for many leads as of one time, optionally reading ids from another field.
    pub fn scorer(&self, as_of: DateTime<Utc>) -> Scorer<'_> {
        Scorer::new(self, as_of.timestamp_millis())
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
        self.scorer(as_of).trace_let(name, lead)
    }

    /// The pack's name and version.
    pub fn id(&self) -> &PackId {
        self.inner.names.pack()
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
    /// # std::env::set_current_dir("../..").unwrap(); // the repository root, where rules/ is
    /// let pack = leadscore::Pack::load("rules/agency")?;
    /// let files: Vec<_> = pack.plugin_files().collect();
    /// assert!(files.iter().any(|f| f.ends_with("seniority.rhai")));
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn plugin_files(&self) -> impl Iterator<Item = &Path> {
        self.inner.plugins.files()
    }

    /// Each plugin file with the text it was compiled from, in the order the pack names
    /// them: what the pack runs, even if the file has changed since (hot reload refuses
    /// empty ones). A plugin's name is its file's stem.
    ///
    /// ```
    /// let script = ("double".to_string(), "fn double(x) { x * 2 }".to_string());
    /// let loader = leadscore::Loader::new().plugin_scripts([script]);
    /// let pack = loader.from_source("demo", "plugin \"double\"\ndouble(company.size) > 100 => +5")?;
    /// let (file, text) = pack.plugin_texts().next().unwrap();
    /// assert_eq!((file.to_str(), text), (Some("double.rhai"), "fn double(x) { x * 2 }"));
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn plugin_texts(&self) -> impl Iterator<Item = (&Path, &str)> {
        self.inner.plugins.texts()
    }

    /// Warnings for the fields the pack's conditions read that none of `leads` has (the
    /// pack's sample leads and test cases: [`crate::packtest::PackTests::leads`]), each with
    /// a did-you-mean from the leads' keys. None for a pack with a `fields` declaration
    /// (which the checker enforces) or with a plugin hook (which may set fields); see
    /// [`crate::check::unseen_fields`].
    ///
    /// ```
    /// let pack = leadscore::Pack::from_source("p", "rule \"VP\": titel ~ VP => +15")?;
    /// let lead = serde_json::json!({"title": "VP Sales"});
    /// let warnings = pack.field_warnings(&[&lead]);
    /// assert!(warnings.render(false).contains("warning: no sample lead or test case (of 1) has the field `titel`"));
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn field_warnings(&self, leads: &[&serde_json::Value]) -> PackWarnings {
        let (ast, _) = build::parse(&self.inner.sources);
        let warnings = crate::check::unseen_fields(&ast, self.inner.plugins.has_hooks(), leads);
        PackWarnings::new(self.inner.sources.clone(), warnings)
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
}
