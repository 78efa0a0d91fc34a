//! Options for loading packs, and finding a pack's files: a folder's `*.rules`, text held
//! in memory, and the REPL's extra files with the statements they override.

use std::path::{Path, PathBuf};

use super::Error;
use super::{build, Pack};
use crate::ast::{Ast, Statement, StatementKind};
use crate::check;
use crate::plugin::Limits;
use crate::source::{SourceFile, Sources, Span};

/// Options for loading packs: where plugins are found and how they are limited.
///
/// ```
/// # std::env::set_current_dir("../..").unwrap(); // the repository root, where rules/ is
/// let loader = leadscore::Loader::new().plugin_path(["plugins"]);
/// let pack = loader.load("rules/b2b-saas")?;
/// assert_eq!(&*pack.id().name, "b2b-saas");
/// # Ok::<(), leadscore::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Loader {
    pub(crate) plugin_path: Vec<PathBuf>,
    /// Plugin scripts held in memory: `(name, text)`, found before any folder.
    pub(crate) plugin_scripts: Vec<(String, String)>,
    pub(crate) limits: Limits,
}

impl Default for Loader {
    fn default() -> Self {
        Loader {
            plugin_path: vec![PathBuf::from("plugins")],
            plugin_scripts: Vec::new(),
            limits: Limits::default(),
        }
    }
}

impl Loader {
    /// The folders plugins are looked up in, in order.
    pub fn plugin_folders(&self) -> &[PathBuf] {
        &self.plugin_path
    }

    /// The sandbox limits plugins run under.
    pub fn plugin_limits(&self) -> &Limits {
        &self.limits
    }

    /// Default options: plugins from `./plugins`, default sandbox limits.
    pub fn new() -> Loader {
        Loader::default()
    }

    /// Folders searched for plugins a pack names (after the pack's own `plugins/`).
    pub fn plugin_path<P: Into<PathBuf>>(mut self, dirs: impl IntoIterator<Item = P>) -> Loader {
        self.plugin_path = dirs.into_iter().map(Into::into).collect();
        self
    }

    /// Plugin scripts held in memory, as `(name, text)`: `plugin "NAME"` is the script
    /// named `NAME` here, looked for before the pack's `plugins/` folder and the plugin
    /// path. With [`Loader::from_files`] and an empty plugin path, a pack is rebuilt from
    /// text alone (as [`Pack::plugin_texts`] and [`Pack::sources`] give it), reading no file.
    ///
    /// ```
    /// let script = ("double".to_string(), "fn double(x) { x * 2 }".to_string());
    /// let loader = leadscore::Loader::new().plugin_path(Vec::<String>::new()).plugin_scripts([script]);
    /// let pack = loader.from_source("demo", "plugin \"double\"\ndouble(company.size) > 100 => +5")?;
    /// let as_of = leadscore::parse_time("2026-01-01T00:00:00Z").unwrap();
    /// let outcome = pack.score(&serde_json::json!({"company": {"size": 60}}), as_of)?;
    /// assert_eq!(outcome.score, 5.0);
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    ///
    /// [`Pack::plugin_texts`]: crate::Pack::plugin_texts
    /// [`Pack::sources`]: crate::Pack::sources
    pub fn plugin_scripts(mut self, scripts: impl IntoIterator<Item = (String, String)>) -> Loader {
        self.plugin_scripts = scripts.into_iter().collect();
        self
    }

    /// Sandbox limits for plugin calls; a pack's `limit` statements override them.
    pub fn limits(mut self, limits: Limits) -> Loader {
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
    /// of the same name. The overridden statement is left out of the syntax tree (its text
    /// stays, so the lines of everything else stay put), and so is an earlier statement of
    /// the extra files that a later one overrides.
    ///
    /// ```
    /// use leadscore::{Loader, SourceFile};
    /// let extra = SourceFile { name: "<session>".into(), text: "threshold 10\ntitle ~ CEO => +10".into() };
    /// # std::env::set_current_dir("../..").unwrap(); // the repository root, where rules/ is
    /// let pack = Loader::new().load_with(Some("rules/b2b-saas".as_ref()), [extra])?;
    /// let as_of = leadscore::parse_time("2026-03-01T00:00:00Z").unwrap();
    /// let outcome = pack.score(&serde_json::json!({"title": "CEO"}), as_of)?;
    /// assert_eq!(outcome.score, 25.0, "+10 from the extra rule, +15 from the pack's `Senior title`");
    /// assert!(outcome.mql, "the extra file's threshold 10 replaced the pack's threshold 75");
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn load_with(&self, dir: Option<&Path>, extra: impl IntoIterator<Item = SourceFile>) -> Result<Pack, Error> {
        let add = |sources: &mut Sources| {
            for file in extra {
                sources.add(file.name, file.text);
            }
        };
        self.load_overriding(dir, add).map(|(pack, _)| pack)
    }

    /// [`Loader::load_with`], also saying which statements were left out and which
    /// statement overrode each (the REPL's session learns from it what it replaced).
    /// `add_extra` adds the extra files after the folder's.
    pub(crate) fn load_overriding(
        &self,
        dir: Option<&Path>,
        add_extra: impl FnOnce(&mut Sources),
    ) -> Result<(Pack, Vec<Overridden>), Error> {
        let (name, mut sources) = match dir {
            Some(dir) => {
                let name = pack_name(dir);
                let sources = read_pack(dir, &name)?;
                (name, sources)
            }
            None => ("session".to_string(), Sources::default()),
        };
        let first_extra = sources.files().len() as u32;
        add_extra(&mut sources);
        let (mut ast, errors) = build::parse(&sources);
        let overridden = leave_out_overridden(&mut ast, &sources, first_extra);
        let pack = build::build(self, &name, dir, sources, ast, errors)?;
        Ok((pack, overridden))
    }

    /// Builds a pack as if the folder `dir` held these rule files, `(file name, text)`,
    /// instead of its own: named after the folder, its plugins looked up in the folder's
    /// `plugins/` and on the plugin path. Without a folder, the pack is called `name`.
    /// This is how `fit` checks a rewritten pack before anything is written.
    ///
    /// ```
    /// let pack = leadscore::Loader::new().load_files(
    ///     Some("rules/b2b-saas".as_ref()),
    ///     "unused",
    ///     [("main.rules".to_string(), "threshold 5\ntitle ~ VP => +5".to_string())],
    /// )?;
    /// assert_eq!(&*pack.id().name, "b2b-saas");
    /// assert_eq!(pack.program().rule_count(), 1, "only the files given, not the folder's");
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn load_files(
        &self,
        dir: Option<&Path>,
        name: &str,
        files: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Pack, Error> {
        let name = dir.map_or_else(|| name.to_string(), pack_name);
        let mut sources = Sources::default();
        for (file, text) in files {
            sources.add_in_pack(&name, &file, text);
        }
        self.build(&name, dir, sources)
    }

    /// Builds a pack from rule text; plugins are looked up on the plugin path only.
    pub fn from_source(&self, name: &str, text: &str) -> Result<Pack, Error> {
        let mut sources = Sources::default();
        sources.add(format!("{name}.rules"), text);
        self.build(name, None, sources)
    }

    /// Builds a pack named `name` from rule files held in memory, in load order, named as
    /// [`Pack::sources`] names them (`NAME/FILE.rules` for a file of the pack folder
    /// `NAME`, shown in results as `FILE.rules`): the same files give the same pack and
    /// the same version.
    ///
    /// ```
    /// let pack = leadscore::Pack::from_source("demo", "title ~ VP => +5")?;
    /// let files = pack.sources().files().to_vec();
    /// let copy = leadscore::Loader::new().from_files(&pack.id().name, files)?;
    /// assert_eq!(copy.id(), pack.id());
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    ///
    /// [`Pack::sources`]: crate::Pack::sources
    pub fn from_files(&self, name: &str, files: impl IntoIterator<Item = SourceFile>) -> Result<Pack, Error> {
        let mut sources = Sources::default();
        let prefix = format!("{name}/");
        for file in files {
            match file.name.strip_prefix(&prefix) {
                Some(rest) if !rest.contains('/') => sources.add_in_pack(name, rest, file.text),
                _ => sources.add(file.name, file.text),
            };
        }
        self.build(name, None, sources)
    }

    /// Builds a pack from already-loaded sources: the pipeline in `build.rs`.
    fn build(&self, name: &str, dir: Option<&Path>, sources: Sources) -> Result<Pack, Error> {
        let (ast, errors) = build::parse(&sources);
        build::build(self, name, dir, sources, ast, errors)
    }
}

/// The `*.rules` files of a pack folder, named `pack/file.rules`.
fn read_pack(dir: &Path, name: &str) -> Result<Sources, Error> {
    let mut sources = Sources::default();
    for path in rule_files(dir)? {
        let text = crate::file::read_text(&path, crate::file::DEFAULT_MAX_FILE_BYTES)?;
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

/// A statement left out of a pack because a later statement of the extra files says
/// something else about the same thing (see [`Loader::load_with`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Overridden {
    /// The statement left out.
    pub(crate) statement: Span,
    /// The statement that overrides it: the last one of the extra files with its key.
    pub(crate) by: Span,
}

/// Leaves out of the syntax tree every statement that a later statement of the files from
/// `first_extra` on redeclares, and says which they were.
fn leave_out_overridden(ast: &mut Ast, sources: &Sources, first_extra: u32) -> Vec<Overridden> {
    let keys: Vec<Option<String>> = ast.statements.iter().map(|s| override_key(s, sources)).collect();
    let mut winner = std::collections::HashMap::new();
    for (n, (statement, key)) in ast.statements.iter().zip(&keys).enumerate() {
        if let Some(key) = key.as_ref().filter(|_| statement.span.file >= first_extra) {
            winner.insert(key.as_str(), n);
        }
    }
    let by: Vec<Option<usize>> = keys
        .iter()
        .enumerate()
        .map(|(n, key)| key.as_deref().and_then(|k| winner.get(k)).copied().filter(|&w| w > n))
        .collect();
    let overridden = by
        .iter()
        .enumerate()
        .filter_map(|(n, w)| {
            w.map(|w| Overridden {
                statement: ast.statements[n].span,
                by: ast.statements[w].span,
            })
        })
        .collect();
    let mut by = by.into_iter();
    ast.statements.retain(|_| by.next().flatten().is_none());
    overridden
}

/// What a statement declares, for overriding: two statements with the same key say
/// different things about the same thing.
fn override_key(statement: &Statement, sources: &Sources) -> Option<String> {
    Some(match &statement.kind {
        StatementKind::Threshold(_) | StatementKind::Mql(_) => "mql".to_string(),
        StatementKind::Cap { dim, .. } => format!("cap {}", dim.node),
        StatementKind::Decay { dim, .. } => format!("decay {}", dim.node),
        StatementKind::Let { name, .. } => format!("let {}", name.node),
        StatementKind::Route { queue, .. } => format!("route {}", queue.node),
        StatementKind::Requalify(_) => "requalify".to_string(),
        StatementKind::Calibrate { .. } => "calibrate".to_string(),
        StatementKind::Rule(rule) => format!("rule {}", check::rule_name(rule, sources).0),
        StatementKind::Target(target) => format!("target {}", check::target_name(target, sources).0),
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
pub fn rule_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
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
            // or a folder named `*.rules` is an error naming it (from `crate::file`, when
            // it is read), never a file skipped.
            files.push(path);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}
