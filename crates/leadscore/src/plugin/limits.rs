//! Sandbox limits: defaults, the API's [`Limits`], and a pack's `limit NAME N` statements.

use super::error::{LoadError, LoadErrorKind};
use crate::ast::{Ast, StatementKind};

/// The deepest `call_depth` allowed: deeper Rhai recursion could overflow a 2 MiB
/// thread stack in an unoptimized build before the limit stops it.
pub const MAX_CALL_DEPTH: usize = 48;
/// The deepest `expr_depth` allowed, for the same reason (it bounds the parser's recursion).
pub const MAX_EXPR_DEPTH: usize = 128;

/// The stack a thread that scores leads with plugins should have (64 MiB; the CLI's
/// workers do). Rhai recurses on the native stack while it builds, checks and drops nested
/// arrays and maps, so a script nesting `array_size + map_size` levels deep needs about
/// 2 KiB a level in an unoptimized build (a few hundred bytes optimized) before a limit
/// stops it. Threads with the default 2 MiB stack are safe with `array_size` and
/// `map_size` of 400 each, or in optimized builds with the defaults.
///
/// ```
/// let pool = std::thread::Builder::new().stack_size(leadscore::PLUGIN_STACK_SIZE);
/// # let _ = pool;
/// ```
pub const PLUGIN_STACK_SIZE: usize = 64 << 20;

/// Sandbox limits for plugin calls. Set them with [`Loader::limits`](crate::Loader::limits);
/// a pack's `limit NAME N` statements override them for that pack.
///
/// | name | meaning | default | at most |
/// |---|---|---|---|
/// | `operations` | Rhai operations one call (a hook or a function) may run | 100 000 | 100 000 000 |
/// | `time_ms` | CPU time one call may take, in milliseconds | 50 | 10 000 |
/// | `memory` | bytes one call may hold at once, however its values are built | 64 MiB | 1 GiB |
/// | `call_depth` | how deep functions may call functions | 32 | 48 |
/// | `expr_depth` | how deeply expressions may nest, checked at load | 64 | 128 |
/// | `string_size` | longest string, in bytes | 1 MiB | 64 MiB |
/// | `array_size` | most items in an array, items of nested arrays counted | 1 000 | 100 000 |
/// | `map_size` | most entries in a map, entries of nested maps counted | 1 000 | 100 000 |
///
/// `time_ms` and `memory` are checked on every operation, so a call stops within one
/// operation of spending either, whatever each operation costs. `memory` counts the bytes
/// the call's thread allocated minus those it freed, from jemalloc's per-thread counters:
/// it holds in the `leadscore` binary, and in a program of yours that makes
/// `tikv_jemallocator::Jemalloc` its `#[global_allocator]`; with another allocator only
/// the size limits apply.
///
/// Rhai checks sizes outside the operation count, in time that grows with the square of
/// the nesting depth: raise `array_size` and `map_size` only as far as your leads need
/// (a hook that calls `lead.events.len()` needs `array_size` above the events' count).
///
/// A value of 0 or above the maximum is a check error when a pack with plugins loads,
/// from a `limit` statement and from [`Loader::limits`](crate::Loader::limits) alike.
///
/// ```
/// let limits = leadscore::Limits { operations: 20_000, ..leadscore::Limits::default() };
/// let loader = leadscore::Loader::new().limits(limits);
/// # let _ = loader;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most operations one call may run.
    pub operations: u64,
    /// Most CPU time one call may take, in milliseconds.
    pub time_ms: u64,
    /// Most bytes one call may hold at once.
    pub memory: usize,
    /// Deepest function-call nesting.
    pub call_depth: usize,
    /// Deepest expression nesting (checked when the script is compiled).
    pub expr_depth: usize,
    /// Longest string, in bytes.
    pub string_size: usize,
    /// Most items in an array.
    pub array_size: usize,
    /// Most entries in a map.
    pub map_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            operations: 100_000,
            time_ms: 50,
            memory: 64 << 20,
            call_depth: 32,
            expr_depth: 64,
            string_size: 1 << 20,
            array_size: 1_000,
            map_size: 1_000,
        }
    }
}

/// Each limit a `limit` statement names, with its maximum.
const MAXIMA: [(&str, u64); 8] = [
    ("operations", 100_000_000),
    ("time_ms", 10_000),
    ("memory", 1 << 30),
    ("call_depth", MAX_CALL_DEPTH as u64),
    ("expr_depth", MAX_EXPR_DEPTH as u64),
    ("string_size", 64 << 20),
    ("array_size", 100_000),
    ("map_size", 100_000),
];

/// `n` bytes for a message: `64 MiB`, `1 KiB`, `1000 bytes`.
pub(super) fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

impl Limits {
    /// The limits with every value in its safe range (values out of range were reported).
    pub(super) fn clamped(&self) -> Limits {
        let mut out = self.clone();
        for (name, max) in MAXIMA {
            let value = out.get(name).clamp(1, max);
            out.put(name, value);
        }
        out
    }

    fn get(&self, name: &str) -> u64 {
        match name {
            "operations" => self.operations,
            "time_ms" => self.time_ms,
            "memory" => self.memory as u64,
            "call_depth" => self.call_depth as u64,
            "expr_depth" => self.expr_depth as u64,
            "string_size" => self.string_size as u64,
            "array_size" => self.array_size as u64,
            _ => self.map_size as u64,
        }
    }

    /// Sets a limit by name; the caller keeps `value` within [`MAXIMA`] (all fit a `usize`).
    fn put(&mut self, name: &str, value: u64) {
        let size = usize::try_from(value).unwrap_or(usize::MAX);
        match name {
            "operations" => self.operations = value,
            "time_ms" => self.time_ms = value,
            "memory" => self.memory = size,
            "call_depth" => self.call_depth = size,
            "expr_depth" => self.expr_depth = size,
            "string_size" => self.string_size = size,
            "array_size" => self.array_size = size,
            _ => self.map_size = size,
        }
    }
}

/// What is wrong with `value` for limit `name`, if anything.
fn out_of_range(name: &str, value: u64) -> Option<String> {
    let max = MAXIMA.iter().find(|(n, _)| *n == name).map_or(u64::MAX, |(_, m)| *m);
    if value == 0 {
        Some(format!("limit `{name}` must be at least 1"))
    } else if value > max {
        Some(format!("limit `{name}` is at most {max}"))
    } else {
        None
    }
}

/// The loader's limits with the pack's `limit` statements applied; every bad statement
/// is an error.
pub(super) fn from_pack(base: &Limits, ast: &Ast, errors: &mut Vec<LoadError>) -> Limits {
    let mut limits = base.clone();
    check_base(base, ast, errors);
    let names: Vec<&str> = MAXIMA.iter().map(|(n, _)| *n).collect();
    let mut seen: Vec<&str> = Vec::new();
    for statement in &ast.statements {
        let StatementKind::Limit { name, value } = &statement.kind else {
            continue;
        };
        if !names.contains(&name.node.as_str()) {
            let err = LoadError::new(LoadErrorKind::UnknownLimit(name.node.clone()), name.span)
                .suggest(&name.node, names.iter().copied())
                .or_help(format!("the limits are {}", names.join(", ")));
            errors.push(err);
            continue;
        }
        if seen.contains(&name.node.as_str()) {
            let kind = LoadErrorKind::Plugin(format!("limit `{}` is set twice", name.node));
            errors.push(LoadError::new(kind, name.span));
        }
        seen.push(&name.node);
        match out_of_range(&name.node, value.node) {
            Some(message) => errors.push(LoadError::new(LoadErrorKind::Plugin(message), value.span)),
            None => limits.put(&name.node, value.node),
        }
    }
    limits
}

/// The loader's own limits out of range are errors at the pack's first `plugin`
/// statement (a pack without plugins never uses them).
fn check_base(base: &Limits, ast: &Ast, errors: &mut Vec<LoadError>) {
    let Some(span) = ast.statements.iter().find_map(|s| match &s.kind {
        StatementKind::Plugin(name) => Some(name.span),
        _ => None,
    }) else {
        return;
    };
    for (name, _) in MAXIMA {
        if let Some(message) = out_of_range(name, base.get(name)) {
            let message = format!("the loader's {message} (`Loader::limits`)");
            errors.push(LoadError::new(LoadErrorKind::Plugin(message), span));
        }
    }
}
