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
/// | name | meaning | default |
/// |---|---|---|
/// | `operations` | Rhai operations one call (a hook or a function) may run | 100 000 |
/// | `call_depth` | how deep functions may call functions (at most 48) | 32 |
/// | `expr_depth` | how deeply expressions may nest, checked at load (at most 128) | 64 |
/// | `string_size` | longest string, in bytes | 1 MiB |
/// | `array_size` | most items in an array, items of nested arrays counted | 1 000 |
/// | `map_size` | most entries in a map, entries of nested maps counted | 1 000 |
///
/// Rhai checks sizes outside the operation count, in time that grows with the square of
/// the nesting depth: raise `array_size` and `map_size` only as far as your leads need
/// (a hook that calls `lead.events.len()` needs `array_size` above the events' count).
///
/// A value of 0 counts as 1 (Rhai reads 0 as "no limit"); `call_depth` and `expr_depth`
/// above their maximum count as the maximum.
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
            call_depth: 32,
            expr_depth: 64,
            string_size: 1 << 20,
            array_size: 1_000,
            map_size: 1_000,
        }
    }
}

/// The names a `limit` statement takes.
const NAMES: [&str; 6] = [
    "operations",
    "call_depth",
    "expr_depth",
    "string_size",
    "array_size",
    "map_size",
];

impl Limits {
    /// The limits with every value in its safe range.
    pub(super) fn clamped(&self) -> Limits {
        Limits {
            operations: self.operations.max(1),
            call_depth: self.call_depth.clamp(1, MAX_CALL_DEPTH),
            expr_depth: self.expr_depth.clamp(1, MAX_EXPR_DEPTH),
            string_size: self.string_size.max(1),
            array_size: self.array_size.max(1),
            map_size: self.map_size.max(1),
        }
    }

    /// Sets one limit by its pack name; `Err` says what is wrong with the value.
    fn set(&mut self, name: &str, value: u64) -> Result<(), String> {
        let size = |max: usize| match usize::try_from(value) {
            Ok(v) if v <= max => Ok(v),
            _ => Err(format!("limit `{name}` is at most {max}")),
        };
        match name {
            "operations" => self.operations = value,
            "call_depth" => self.call_depth = size(MAX_CALL_DEPTH)?,
            "expr_depth" => self.expr_depth = size(MAX_EXPR_DEPTH)?,
            "string_size" => self.string_size = size(usize::MAX)?,
            "array_size" => self.array_size = size(usize::MAX)?,
            "map_size" => self.map_size = size(usize::MAX)?,
            _ => {}
        }
        Ok(())
    }
}

/// The loader's limits with the pack's `limit` statements applied; every bad statement
/// is an error.
pub(super) fn from_pack(base: &Limits, ast: &Ast, errors: &mut Vec<LoadError>) -> Limits {
    let mut limits = base.clone();
    let mut seen: Vec<&str> = Vec::new();
    for statement in &ast.statements {
        let StatementKind::Limit { name, value } = &statement.kind else {
            continue;
        };
        if !NAMES.contains(&name.node.as_str()) {
            let err = LoadError::new(LoadErrorKind::UnknownLimit(name.node.clone()), name.span)
                .suggest(&name.node, NAMES)
                .or_help(format!("the limits are {}", NAMES.join(", ")));
            errors.push(err);
            continue;
        }
        if seen.contains(&name.node.as_str()) {
            let kind = LoadErrorKind::Plugin(format!("limit `{}` is set twice", name.node));
            errors.push(LoadError::new(kind, name.span));
        }
        seen.push(&name.node);
        if value.node == 0 {
            let kind = LoadErrorKind::Plugin(format!("limit `{}` must be at least 1", name.node));
            errors.push(LoadError::new(kind, value.span));
        } else if let Err(message) = limits.set(&name.node, value.node) {
            errors.push(LoadError::new(LoadErrorKind::Plugin(message), value.span));
        }
    }
    limits
}
