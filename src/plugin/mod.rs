//! The Rhai host: plugin scripts, compiled once per pack load, run in a sandbox.

use crate::eval::{EvalError, Host, Value};

/// A plugin call that failed: which plugin, which function, where in the script, why.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("plugin `{plugin}`, function `{function}`{}: {message}", at.as_ref().map(|p| format!(" at {p}")).unwrap_or_default())]
pub struct PluginError {
    /// The plugin's name.
    pub plugin: String,
    /// The function that failed.
    pub function: String,
    /// `line:col` in the script, when known.
    pub at: Option<String>,
    /// What went wrong.
    pub message: String,
}

/// The host of a pack without plugins: it has no functions to call.
pub struct NoPlugins;

impl Host for NoPlugins {
    fn call(&self, func: u32, _: &[Value]) -> Result<Value<'static>, EvalError> {
        Err(EvalError::Plugin(PluginError {
            plugin: String::new(),
            function: func.to_string(),
            at: None,
            message: "no plugin defines this function".into(),
        }))
    }
}

/// Sandbox limits for plugin calls.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Most operations one call may run.
    pub operations: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { operations: 100_000 }
    }
}

/// The plugins a pack names, compiled.
#[derive(Default)]
pub struct Plugins {
    functions: Vec<String>,
}

impl Plugins {
    /// Resolves and compiles the plugins `ast` names.
    pub(crate) fn load(
        _loader: &crate::Loader,
        _dir: Option<&std::path::Path>,
        ast: &crate::ast::Ast,
    ) -> (Plugins, Vec<crate::diagnostic::PackError>) {
        let errors = crate::pack::plugin_names(ast)
            .map(|name| {
                crate::check::CheckError::new(
                    crate::check::CheckErrorKind::UnknownPlugin(name.node.clone()),
                    name.span,
                )
                .into()
            })
            .collect();
        (Plugins::default(), errors)
    }

    pub(crate) fn function_names(&self) -> Vec<String> {
        self.functions.clone()
    }
    pub(crate) fn function_names_ref(&self) -> Vec<&str> {
        self.functions.iter().map(String::as_str).collect()
    }
    pub(crate) fn function_arity(&self, _name: &str) -> Option<usize> {
        None
    }
    pub(crate) fn has_hooks(&self) -> bool {
        false
    }
    pub(crate) fn sources(&self) -> Vec<&str> {
        Vec::new()
    }
    pub(crate) fn enrich(
        &self,
        lead: &serde_json::Value,
        _as_of: i64,
    ) -> Result<(serde_json::Value, Vec<crate::explain::Enrichment>), EvalError> {
        Ok((lead.clone(), Vec::new()))
    }
}

impl Host for Plugins {
    fn call(&self, func: u32, args: &[Value]) -> Result<Value<'static>, EvalError> {
        NoPlugins.call(func, args)
    }
}
