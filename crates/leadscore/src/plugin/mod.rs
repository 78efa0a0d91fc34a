//! The Rhai host: the plugins a pack names, compiled once per pack load into one shared
//! engine, called in a sandbox whose limits are always set.
//!
//! `load.rs` finds and compiles the scripts, `limits.rs` reads a pack's `limit`
//! statements, `sandbox.rs` builds the engine, `host.rs` runs hooks and functions and
//! turns Rhai errors into [`PluginError`]s, `convert.rs` moves values across.

mod budget;
mod convert;
mod error;
mod host;
mod limits;
mod load;
mod sandbox;

use std::path::{Path, PathBuf};

pub(crate) use convert::lead_without_events;
pub use error::LoadError;
pub use error::LoadErrorKind;
pub use limits::{Limits, PLUGIN_STACK_SIZE};
pub(crate) use sandbox::{noting_as_of, scoring_at};

use crate::eval::{Enrichment, EvalError, PluginError};
use crate::read::ReadError;

/// The plugins a pack names, compiled, with the engine they share.
pub struct Plugins {
    engine: rhai::Engine,
    /// The engine again, with a tracer: reruns a failed call to find where it stopped.
    tracer: rhai::Engine,
    limits: Limits,
    /// In the order the pack names them.
    scripts: Vec<Script>,
    /// Functions rules may call; the index is the program's function index.
    functions: Vec<Function>,
    /// Scripts with an `enrich` hook, in order.
    hooks: Vec<usize>,
    /// Some named plugin could not be loaded (so calls to it are not reported as unknown).
    incomplete: bool,
}

/// One compiled plugin script.
struct Script {
    name: String,
    path: PathBuf,
    text: String,
    ast: rhai::AST,
    /// The script's text mentions `events`, so its hook is given `lead.events`.
    reads_events: bool,
}

/// A function a rule can call.
struct Function {
    name: String,
    script: usize,
    /// Parameter names, as the script writes them.
    params: Vec<String>,
}

impl Plugins {
    /// The names of the functions rules may call, by function index.
    pub(crate) fn function_names(&self) -> Vec<String> {
        self.functions.iter().map(|f| f.name.clone()).collect()
    }

    pub(crate) fn function_names_ref(&self) -> Vec<&str> {
        self.functions.iter().map(|f| f.name.as_str()).collect()
    }

    pub(crate) fn function_arity(&self, name: &str) -> Option<usize> {
        self.functions.iter().find(|f| f.name == name).map(|f| f.params.len())
    }

    /// `name(a, b)` in plugin `p`, as help for a wrong call.
    pub(crate) fn function_signature(&self, name: &str) -> Option<String> {
        let f = self.functions.iter().find(|f| f.name == name)?;
        Some(format!(
            "`{}({})` in plugin `{}`",
            f.name,
            f.params.join(", "),
            self.scripts[f.script].name
        ))
    }

    /// Whether some plugin has an `enrich` hook (which may set fields leads do not have).
    pub fn has_hooks(&self) -> bool {
        !self.hooks.is_empty()
    }

    /// Whether some hook's script names `events` (so hooks need the lead's events).
    pub(crate) fn hooks_read_events(&self) -> bool {
        self.hooks.iter().any(|&h| self.scripts[h].reads_events)
    }

    /// Whether the pack names any plugin (so `as_of()` must be set while scoring).
    pub(crate) fn is_empty(&self) -> bool {
        self.scripts.is_empty()
    }

    /// Whether a named plugin failed to load.
    pub(crate) fn incomplete(&self) -> bool {
        self.incomplete
    }

    /// Each plugin's name and text, for the pack's version hash.
    pub(crate) fn sources(&self) -> Vec<&str> {
        self.scripts
            .iter()
            .flat_map(|s| [s.name.as_str(), s.text.as_str()])
            .collect()
    }

    /// The files of the plugins, in the order the pack names them.
    pub(crate) fn files(&self) -> impl Iterator<Item = &Path> {
        self.scripts.iter().map(|s| s.path.as_path())
    }

    /// Each plugin's file and text, in the order the pack names them.
    pub(crate) fn texts(&self) -> impl Iterator<Item = (&Path, &str)> {
        self.scripts.iter().map(|s| (s.path.as_path(), s.text.as_str()))
    }

    /// Each plugin's name and file, in the order the pack names them (for editors).
    pub fn scripts(&self) -> impl Iterator<Item = (&str, &Path)> {
        self.scripts.iter().map(|s| (s.name.as_str(), s.path.as_path()))
    }

    /// Each function rules may call: its name, its parameters and its plugin's name (for editors).
    pub fn functions(&self) -> impl Iterator<Item = (&str, &[String], &str)> {
        self.functions.iter().map(|f| {
            (
                f.name.as_str(),
                f.params.as_slice(),
                self.scripts[f.script].name.as_str(),
            )
        })
    }

    /// The limits in force (the loader's, overridden by the pack's `limit` statements).
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }
}

/// The plugin whose hook set the lead's `events` last, if one did.
pub(crate) fn events_hook(enriched: &[Enrichment]) -> Option<String> {
    let hook = enriched.iter().rev().find(|e| e.fields.contains_key("events"))?;
    Some(hook.plugin.clone())
}

/// An error reading `events` that hook `plugin` replaced, as that hook's error: the
/// lead's own `events` were not read.
pub(crate) fn events_error(error: EvalError, plugin: Option<&str>) -> EvalError {
    match (plugin, &error) {
        (Some(plugin), EvalError::Read(ReadError::EventsNotArray | ReadError::BadEvent { .. })) => {
            EvalError::Plugin(PluginError {
                plugin: plugin.to_string(),
                function: load::HOOK.to_string(),
                at: None,
                rule: None,
                message: format!("returned `events` that cannot be read: {error}"),
            })
        }
        _ => error,
    }
}

/// What the checker asks of the functions the pack's plugins define.
impl crate::check::FunctionTable for Plugins {
    fn arity(&self, name: &str) -> Option<usize> {
        self.function_arity(name)
    }
    fn names(&self) -> Vec<&str> {
        self.function_names_ref()
    }
    fn signature(&self, name: &str) -> Option<String> {
        self.function_signature(name)
    }
}
