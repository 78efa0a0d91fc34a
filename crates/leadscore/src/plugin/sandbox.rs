//! The Rhai engine a pack's plugins run in: only pure packages (no file, network,
//! environment, clock or `sleep`), no `eval`, no imports, output discarded, every limit set.

use std::cell::Cell;
use std::sync::OnceLock;

use rhai::debugger::{DebuggerCommand, DebuggerEvent};
use rhai::module_resolvers::DummyModuleResolver;
use rhai::packages::{
    ArithmeticPackage, BasicArrayPackage, BasicFnPackage, BasicIteratorPackage, BasicMapPackage, BasicMathPackage,
    BasicStringPackage, BitFieldPackage, LogicPackage, MoreStringPackage, Package,
};
use rhai::{Dynamic, Engine, EvalAltResult, Module, Position, Shared, INT};

type SharedModule = Shared<Module>;

use super::Limits;

/// Builds the engine every plugin of one pack shares.
pub(super) fn engine(limits: &Limits) -> Engine {
    let mut engine = Engine::new_raw();
    for package in packages() {
        engine.register_global_module(package.clone());
    }
    engine
        .disable_symbol("eval")
        .disable_symbol("import")
        .disable_symbol("export")
        .set_module_resolver(DummyModuleResolver::new())
        .set_max_modules(0)
        .set_strict_variables(true)
        .on_print(|_| {})
        .on_debug(|_, _, _| {})
        .set_max_operations(limits.operations)
        .set_max_call_levels(limits.call_depth)
        .set_max_expr_depths(limits.expr_depth, limits.expr_depth)
        .set_max_string_size(limits.string_size)
        .set_max_array_size(limits.array_size)
        .set_max_map_size(limits.map_size)
        .on_progress(super::budget::check);
    let map_size = limits.map_size;
    #[expect(deprecated, reason = "rhai marks `on_var` volatile, not deprecated")]
    engine.on_var(move |name, _, context| match context.scope().get(name) {
        Some(value) if map_entries(value) > map_size => {
            Err(EvalAltResult::ErrorDataTooLarge("Size of object map".into(), Position::NONE).into())
        }
        _ => Ok(None),
    });
    engine.register_fn("as_of", as_of).register_fn("parse_time", parse_time);
    engine
}

/// The entries of a map variable. Rhai checks `map_size` when a map is built, passed or
/// returned, not when `m[key] = v` inserts a key, so the engine looks at a map variable's
/// size each time the script names it (before the statement that would add one more):
/// constant time, so scripts that read maps pay nothing that grows. Keys inserted into
/// maps nested inside are bounded by the memory budget.
fn map_entries(value: &Dynamic) -> usize {
    value.read_lock::<rhai::Map>().map_or(0, |map| map.len())
}

/// The same engine with a debugger that records the position of every step. Rhai reports
/// a limit (operations, call depth, sizes) without saying where in the script it was hit;
/// a call that hit one is run again on this engine, which is slower but says where.
/// Scripts cannot read the clock or any other outside state, so the rerun stops at the
/// same place.
pub(super) fn tracing_engine(limits: &Limits) -> Engine {
    let mut engine = engine(limits);
    #[expect(deprecated, reason = "rhai marks its debugger API volatile, not deprecated")]
    engine.register_debugger(
        |_, debugger| debugger,
        |_, event, _, _, pos| {
            if matches!(event, DebuggerEvent::Step) && !pos.is_none() {
                LAST_STEP.with(|c| c.set(pos));
            }
            Ok(DebuggerCommand::StepInto)
        },
    );
    engine
}

/// Runs `f` on this thread and returns where the last traced step was.
pub(super) fn traced<T>(f: impl FnOnce() -> T) -> (T, Position) {
    LAST_STEP.with(|c| c.set(Position::NONE));
    let out = f();
    (out, LAST_STEP.with(Cell::get))
}

/// The standard packages minus `LanguageCorePackage` (which holds `sleep`) and the blob
/// and time packages: strings, numbers, arrays, maps, iterators, function pointers.
fn packages() -> &'static [SharedModule] {
    static PACKAGES: OnceLock<Vec<SharedModule>> = OnceLock::new();
    PACKAGES.get_or_init(|| {
        vec![
            ArithmeticPackage::new().as_shared_module(),
            LogicPackage::new().as_shared_module(),
            BasicMathPackage::new().as_shared_module(),
            BitFieldPackage::new().as_shared_module(),
            BasicStringPackage::new().as_shared_module(),
            MoreStringPackage::new().as_shared_module(),
            BasicIteratorPackage::new().as_shared_module(),
            BasicFnPackage::new().as_shared_module(),
            BasicArrayPackage::new().as_shared_module(),
            BasicMapPackage::new().as_shared_module(),
        ]
    })
}

thread_local! {
    /// The `as_of` of the lead being scored on this thread. The engine is shared across
    /// threads, but one lead is scored on one thread from start to finish.
    static AS_OF: Cell<Option<INT>> = const { Cell::new(None) };
    /// The position of the last step [`tracing_engine`] took on this thread.
    static LAST_STEP: Cell<Position> = const { Cell::new(Position::NONE) };
}

/// Runs `f` with `as_of()` returning `as_of` (milliseconds since the epoch).
pub(crate) fn scoring_at<T>(as_of: INT, f: impl FnOnce() -> T) -> T {
    let previous = AS_OF.with(|c| c.replace(Some(as_of)));
    let out = f();
    AS_OF.with(|c| c.set(previous));
    out
}

/// `as_of()`: the time the lead is scored for, in milliseconds since the Unix epoch.
fn as_of() -> Result<INT, Box<EvalAltResult>> {
    AS_OF
        .with(Cell::get)
        .ok_or_else(|| "as_of() is only available while a lead is scored".into())
}

/// `parse_time(text)`: an RFC 3339 time in milliseconds since the epoch, or `()` when
/// `text` is not one (or not a string).
fn parse_time(text: Dynamic) -> Dynamic {
    text.into_immutable_string()
        .ok()
        .and_then(|s| crate::value::time::parse_time(&s))
        .map_or(Dynamic::UNIT, Dynamic::from_int)
}
