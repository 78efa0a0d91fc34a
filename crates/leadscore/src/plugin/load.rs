//! Finding, reading and compiling the plugins a pack names, once per pack load.
//!
//! `plugin "NAME"` is `NAME.rhai` in the pack's `plugins/` folder, else in the first
//! folder of the plugin path that has it. A name with folders in it is refused.

use std::path::{Path, PathBuf};

use rhai::FnAccess;

use super::error::{LoadError, LoadErrorKind};
use super::{limits, sandbox, Function, Limits, Plugins, Script};
use crate::ast::{Ast, Spanned};
use crate::source::{Sources, Span};

/// The name of the hook that enriches a lead.
pub(super) const HOOK: &str = "enrich";

impl Plugins {
    /// The plugin stage of the build: resolves the plugins `ast` names (among the scripts
    /// `held` in memory by name, then in the pack's `plugins/` folder, then on
    /// `plugin_path`) and compiles them under `limits` as the pack's `limit` statements
    /// change them. Plugin files are added to `shown`, so that errors in them render
    /// against their text like errors in rules.
    pub(crate) fn resolve(
        plugin_path: &[PathBuf],
        held: &[(String, String)],
        limits: &Limits,
        dir: Option<&Path>,
        ast: &Ast,
        shown: &mut Sources,
    ) -> (Plugins, Vec<LoadError>) {
        let mut errors = Vec::new();
        let limits = limits::from_pack(limits, ast, &mut errors).clamped();
        let mut plugins = Plugins {
            engine: sandbox::engine(&limits),
            tracer: sandbox::tracing_engine(&limits),
            limits,
            scripts: Vec::new(),
            functions: Vec::new(),
            hooks: Vec::new(),
            incomplete: false,
        };
        for name in plugin_names(ast) {
            if let Err(e) = plugins.add(plugin_path, held, dir, name, shown) {
                plugins.incomplete = true;
                errors.push(e);
            }
        }
        (plugins, errors)
    }

    /// Loads one named plugin.
    fn add(
        &mut self,
        plugin_path: &[PathBuf],
        held: &[(String, String)],
        dir: Option<&Path>,
        name: &Spanned<String>,
        shown: &mut Sources,
    ) -> Result<(), LoadError> {
        let error = |kind| LoadError::new(kind, name.span);
        if escapes(&name.node) {
            let stem = Path::new(&name.node)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned());
            let place = "put the script in the pack's `plugins/` folder or a folder given with `--plugins`";
            let help = match stem.filter(|s| !s.is_empty() && s != "..") {
                Some(stem) => format!("{place}, and name it `plugin \"{stem}\"`"),
                None => format!("{place}, and name it by its file name without `.rhai`"),
            };
            let err = LoadError::new(LoadErrorKind::PathEscapes(name.node.clone()), name.span).help(help);
            return Err(err);
        }
        if self.scripts.iter().any(|s| s.name == name.node) {
            return Err(error(LoadErrorKind::DuplicatePlugin(name.node.clone())));
        }
        let (path, text) = match held.iter().find(|(held, _)| *held == name.node) {
            Some((_, text)) => (PathBuf::from(format!("{}.rhai", name.node)), text.clone()),
            None => read_script(plugin_path, dir, name)?,
        };
        let file = shown.add(path.display().to_string(), text.clone());
        let ast = self.engine.compile(&text).map_err(|e| {
            let span = span_at(file, &text, e.position());
            let message = format!("plugin `{}` does not parse: {}", name.node, e.err_type());
            LoadError::new(LoadErrorKind::Plugin(message), span)
        })?;
        let index = self.scripts.len();
        let reads_events = text.contains("events");
        self.scripts.push(Script {
            name: name.node.clone(),
            path,
            text,
            ast,
            reads_events,
        });
        self.functions_of(index, name)
    }

    /// Registers the public functions of script `index`: `enrich` as a hook, the rest as
    /// functions rules may call.
    fn functions_of(&mut self, index: usize, name: &Spanned<String>) -> Result<(), LoadError> {
        let script = &self.scripts[index];
        let mut found: Vec<(String, Vec<String>)> = script
            .ast
            .iter_functions()
            .filter(|f| f.access != FnAccess::Private)
            .map(|f| (f.name.to_string(), f.params.iter().map(|p| p.to_string()).collect()))
            .collect();
        found.sort();
        let problem = |message: String| LoadError::new(LoadErrorKind::Plugin(message), name.span);
        for (i, (function, params)) in found.iter().enumerate() {
            if i > 0 && found[i - 1].0 == *function {
                return Err(problem(format!(
                    "plugin `{}` defines `{function}` twice; a function rules call has one definition (make helpers `private fn`)",
                    script.name
                )));
            }
            if function == HOOK {
                if params.len() != 1 {
                    return Err(problem(format!(
                        "in plugin `{}`, `fn {HOOK}` must take one parameter (the lead), not {}",
                        script.name,
                        params.len()
                    )));
                }
                continue;
            }
            if let Some(other) = self.functions.iter().find(|f| f.name == *function) {
                let other = &self.scripts[other.script].name;
                return Err(problem(format!(
                    "plugins `{other}` and `{}` both define `{function}`",
                    script.name
                )));
            }
        }
        for (function, params) in found {
            if function == HOOK {
                self.hooks.push(index);
            } else {
                self.functions.push(Function {
                    name: function,
                    script: index,
                    params,
                });
            }
        }
        Ok(())
    }
}

/// Whether a plugin name reaches outside the plugin folders: folders, `..`, a drive.
fn escapes(name: &str) -> bool {
    name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', ':']) || Path::new(name).is_absolute()
}

/// The folders searched for plugins: the pack's `plugins/`, then the plugin path.
fn folders(plugin_path: &[PathBuf], dir: Option<&Path>) -> Vec<PathBuf> {
    dir.map(|d| d.join("plugins"))
        .into_iter()
        .chain(plugin_path.iter().cloned())
        .collect()
}

/// The file of plugin `name` (in the pack's `plugins/` folder, then on `plugin_path`) and
/// its text.
fn read_script(
    plugin_path: &[PathBuf],
    dir: Option<&Path>,
    name: &Spanned<String>,
) -> Result<(PathBuf, String), LoadError> {
    let folders = folders(plugin_path, dir);
    let Some(path) = folders
        .iter()
        .map(|d| d.join(format!("{}.rhai", name.node)))
        .find(|p| p.symlink_metadata().is_ok())
    else {
        return Err(unknown(name, &folders));
    };
    // Through the one bounded opener: a regular file, never a FIFO or a device.
    let text = crate::file::read_text(&path, crate::file::DEFAULT_MAX_FILE_BYTES).map_err(|e| {
        let message = format!("cannot read plugin `{}`: {e}", name.node);
        LoadError::new(LoadErrorKind::Plugin(message), name.span)
    })?;
    Ok((path, text))
}

/// "unknown plugin", with a did-you-mean over the scripts that exist, or where we looked.
fn unknown(name: &Spanned<String>, folders: &[PathBuf]) -> LoadError {
    let mut known: Vec<String> = Vec::new();
    for folder in folders {
        let Ok(entries) = std::fs::read_dir(folder) else {
            continue;
        };
        for path in entries.flatten().map(|e| e.path()) {
            if path.extension().is_some_and(|e| e == "rhai") {
                known.extend(path.file_stem().map(|s| s.to_string_lossy().into_owned()));
            }
        }
    }
    let shown: Vec<String> = folders.iter().map(|f| f.display().to_string()).collect();
    let stem = name.node.strip_suffix(".rhai").unwrap_or(&name.node);
    let err = LoadError::new(LoadErrorKind::UnknownPlugin(name.node.clone()), name.span);
    if stem != name.node && known.iter().any(|k| k == stem) {
        return err.help(format!("name it without the extension: `plugin \"{stem}\"`"));
    }
    err.suggest(&name.node, known.iter().map(String::as_str))
        .or_help(format!("looked for `{}.rhai` in {}", name.node, shown.join(", ")))
}

/// The span of one character at a Rhai position (1-based line and column) in `text`.
fn span_at(file: u32, text: &str, pos: rhai::Position) -> Span {
    let (Some(line), column) = (pos.line(), pos.position().unwrap_or(1)) else {
        return Span::new(file, 0, 0);
    };
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let rest = text.get(line_start..).unwrap_or("");
    let start = line_start
        + rest
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(rest.len(), |(i, _)| i);
    let end = text
        .get(start..)
        .and_then(|r| r.chars().next())
        .map_or(start, |c| start + c.len_utf8());
    Span::new(file, start, end)
}

/// The names of the plugins a pack names, in order.
fn plugin_names(ast: &crate::ast::Ast) -> impl Iterator<Item = &crate::ast::Spanned<String>> {
    ast.statements.iter().filter_map(|s| match &s.kind {
        crate::ast::StatementKind::Plugin(name) => Some(name),
        _ => None,
    })
}
