//! Running plugins for one lead: the `enrich` hooks before the rules, the functions rules
//! call while they are evaluated. Every Rhai failure becomes a [`PluginError`] for the lead.

use std::collections::BTreeMap;

use rhai::{CallFnOptions, Dynamic, EvalAltResult, Map, Scope};
use serde_json::Value as Json;

/// A JSON object's fields.
pub(crate) type Fields = serde_json::Map<String, Json>;

use super::convert::{dynamic_to_json, dynamic_to_value, json_to_dynamic, lead_to_map, value_to_dynamic};
use super::load::HOOK;
use super::{sandbox, Limits, Plugins, Script};
use crate::eval::Enrichment;
use crate::eval::{EvalError, Host, PluginError, ScriptPosition};
use crate::value::Value;

impl Plugins {
    /// Runs every `enrich` hook on `lead`, in the order the pack names the plugins (a later
    /// hook sees the fields of earlier ones). The lead is not copied: the result is the
    /// overlay, each top-level field the hooks changed with its new value, and what each
    /// hook set.
    pub(crate) fn enrich(&self, lead: &Json, as_of: i64) -> Result<(Fields, Vec<Enrichment>), EvalError> {
        let Json::Object(object) = lead else {
            return Err(EvalError::Read(crate::read::ReadError::NotAnObject));
        };
        let mut map = lead_to_map(object, self.hooks_read_events());
        let mut overlay = Fields::new();
        let mut out = Vec::new();
        sandbox::scoring_at(as_of, || {
            for (i, &h) in self.hooks.iter().enumerate() {
                let script = &self.scripts[h];
                let last = i + 1 == self.hooks.len();
                let mut arg = if last { std::mem::take(&mut map) } else { map.clone() };
                if !script.reads_events {
                    arg.remove("events");
                }
                if arg.len() > self.limits.map_size {
                    return Err(fail(script, HOOK, too_many_fields(arg.len(), &self.limits)).into());
                }
                let result = self.run(script, HOOK, vec![Dynamic::from_map(arg)], || {
                    vec![Dynamic::from_map(merged_map(object, &overlay, script.reads_events))]
                })?;
                let fields = hook_fields(script, result)?;
                for (key, value) in &fields {
                    let top = set_field(&mut overlay, object, key, value.clone())
                        .map_err(|message| fail(script, HOOK, message))?;
                    if !last {
                        let value = overlay.get(top).map_or(Dynamic::UNIT, json_to_dynamic);
                        map.insert(top.into(), value);
                    }
                }
                if !fields.is_empty() {
                    out.push(Enrichment {
                        plugin: script.name.clone(),
                        fields,
                    });
                }
            }
            Ok((overlay, out))
        })
    }

    /// Calls a script function with a fresh scope, top-level statements not run. When a
    /// limit stops the call, it runs again traced (`args` makes the arguments anew) to
    /// learn where.
    fn run(
        &self,
        script: &Script,
        function: &str,
        args: Vec<Dynamic>,
        again: impl FnOnce() -> Vec<Dynamic>,
    ) -> Result<Dynamic, PluginError> {
        let call = |engine: &rhai::Engine, args: Vec<Dynamic>| {
            let options = CallFnOptions::new().eval_ast(false).rewind_scope(true);
            engine.call_fn_with_options::<Dynamic>(options, &mut Scope::new(), &script.ast, function, args)
        };
        super::budget::within(&self.limits, || {
            let err = match call(&self.engine, args) {
                Ok(value) => return Ok(value),
                Err(err) => *err,
            };
            let kind = std::mem::discriminant(innermost(&err));
            let mut error = plugin_error(&self.limits, script, function, err);
            if error.at.is_none() {
                // The rerun spends what is left of the same time budget and stops at the
                // operation the call stopped at; stopped by anything else first, it
                // stopped elsewhere, and the position stays unknown.
                let (rerun, at) = super::budget::rerun(|| sandbox::traced(|| call(&self.tracer, again())));
                let found = |e: &EvalAltResult| match e {
                    EvalAltResult::ErrorTerminated(token, _) => token.to_string() == super::budget::FOUND,
                    other => std::mem::discriminant(other) == kind,
                };
                if rerun.is_err_and(|e| found(innermost(&e))) {
                    error.at = position(at);
                }
            }
            Err(error)
        })
    }
}

/// The innermost failure of a Rhai error (a function called from a function...).
fn innermost(mut err: &EvalAltResult) -> &EvalAltResult {
    while let EvalAltResult::ErrorInFunctionCall(_, _, inner, _) = err {
        err = inner;
    }
    err
}

impl Host for Plugins {
    fn call(&self, func: u32, args: &[Value]) -> Result<Value<'static>, EvalError> {
        let Some(f) = self.functions.get(func as usize) else {
            return Err(EvalError::Plugin(PluginError {
                plugin: String::new(),
                function: func.to_string(),
                at: None,
                rule: None,
                message: "no plugin defines this function".into(),
            }));
        };
        let script = &self.scripts[f.script];
        let convert = || args.iter().map(value_to_dynamic).collect();
        let result = self.run(script, &f.name, convert(), convert)?;
        dynamic_to_value(result)
            .map_err(|t| fail(script, &f.name, format!("returned {t}, which rules cannot use")).into())
    }
}

/// The fields a hook returned: a map (or `()` for none), each value as JSON.
fn hook_fields(script: &Script, result: Dynamic) -> Result<BTreeMap<String, Json>, PluginError> {
    if result.is_unit() {
        return Ok(BTreeMap::new());
    }
    let type_name = result.type_name();
    let Some(map) = result.try_cast::<Map>() else {
        return Err(fail(
            script,
            HOOK,
            format!("returned a {type_name}; it must return a map of fields, like #{{seniority: \"vp\"}}"),
        ));
    };
    map.into_iter()
        .map(|(k, v)| {
            let value = dynamic_to_json(v).map_err(|t| {
                fail(
                    script,
                    HOOK,
                    format!("set `{k}` to {t}, which a lead field cannot hold"),
                )
            })?;
            Ok((k.to_string(), value))
        })
        .collect()
}

/// Sets a field a hook returned in the overlay; a dotted key sets a nested field, starting
/// from the lead's value and making objects on the way. Returns the top-level key.
fn set_field<'k>(overlay: &mut Fields, lead: &Fields, key: &'k str, value: Json) -> Result<&'k str, String> {
    let mut parts = key.split('.');
    let top = parts.next().unwrap_or(key);
    if key.split('.').any(str::is_empty) {
        return Err(format!("returned the field `{key}`, which is not a field name"));
    }
    let rest: Vec<&str> = parts.collect();
    let Some((last, path)) = rest.split_last() else {
        overlay.insert(key.to_string(), value);
        return Ok(top);
    };
    let empty = || Json::Object(Fields::new());
    let mut at = overlay
        .entry(top.to_string())
        .or_insert_with(|| lead.get(top).cloned().unwrap_or_else(empty));
    for (i, part) in path.iter().enumerate() {
        let Json::Object(inner) = at else {
            return Err(not_object(key, i));
        };
        at = inner.entry(part.to_string()).or_insert_with(empty);
    }
    let Json::Object(inner) = at else {
        return Err(not_object(key, path.len()));
    };
    inner.insert(last.to_string(), value);
    Ok(top)
}

/// The lead with the overlay's fields, as a hook's argument.
fn merged_map(lead: &Fields, overlay: &Fields, events: bool) -> Map {
    let mut map = lead_to_map(lead, events);
    for (k, v) in overlay {
        if events || k != "events" {
            map.insert(k.as_str().into(), json_to_dynamic(v));
        }
    }
    map
}

fn not_object(key: &str, depth: usize) -> String {
    let parent: Vec<&str> = key.split('.').take(depth + 1).collect();
    format!(
        "returned the field `{key}`, but the lead's `{}` is not an object",
        parent.join(".")
    )
}

/// A failure not tied to a place in the script.
fn fail(script: &Script, function: &str, message: String) -> PluginError {
    PluginError {
        plugin: script.name.clone(),
        function: function.to_string(),
        at: None,
        rule: None,
        message,
    }
}

/// A Rhai error as a [`PluginError`]: the innermost failure, its `line:col`, and a message
/// that names the limit that stopped the script.
fn plugin_error(limits: &Limits, script: &Script, function: &str, mut err: EvalAltResult) -> PluginError {
    let mut at = position(err.position());
    while let EvalAltResult::ErrorInFunctionCall(_, _, inner, _) = err {
        err = *inner;
        at = position(err.position()).or(at);
    }
    let message = match &err {
        EvalAltResult::ErrorTooManyOperations(_) => {
            format!("stopped after {} operations (limit `operations`); does a loop never end?", limits.operations)
        }
        EvalAltResult::ErrorStackOverflow(_) => format!(
            "functions called each other more than {} deep (limit `call_depth`); does a function call itself without end?",
            limits.call_depth
        ),
        EvalAltResult::ErrorDataTooLarge(what, _) => too_large(what, limits),
        EvalAltResult::ErrorTerminated(token, _) if token.to_string() == super::budget::MEMORY => format!(
            "used more than {} of memory (limit `memory`)",
            super::limits::bytes(limits.memory as u64)
        ),
        EvalAltResult::ErrorTerminated(..) => format!(
            "ran longer than {} ms (limit `time_ms`); is an operation in a loop costly?",
            limits.time_ms
        ),
        EvalAltResult::ErrorRuntime(value, _) => format!("threw: {value}"),
        _ => {
            err.clear_position();
            err.to_string()
        }
    };
    PluginError {
        plugin: script.name.clone(),
        function: function.to_string(),
        at,
        rule: None,
        message,
    }
}

fn position(pos: rhai::Position) -> Option<ScriptPosition> {
    pos.line().map(|line| ScriptPosition {
        line,
        column: pos.position().unwrap_or(1),
    })
}

/// A lead wider than a hook may take: the lead did not grow, the pack's limit is too low
/// for it (a frame of more than `map_size` columns, say).
fn too_many_fields(fields: usize, limits: &Limits) -> String {
    format!(
        "the lead has {fields} fields, more than a hook may take (limit `map_size`, {}): give the pack \
         `limit map_size {}` or leave out the fields it does not need",
        limits.map_size,
        fields.div_ceil(1000).saturating_mul(1000).min(100_000),
    )
}

fn too_large(what: &str, limits: &Limits) -> String {
    let what = what.to_lowercase();
    if what.contains("string") {
        format!(
            "a string grew longer than {} bytes (limit `string_size`)",
            limits.string_size
        )
    } else if what.contains("array") {
        format!(
            "an array grew longer than {} items (limit `array_size`)",
            limits.array_size
        )
    } else if what.contains("map") {
        format!("a map grew larger than {} entries (limit `map_size`)", limits.map_size)
    } else {
        format!("{what} is too large")
    }
}
