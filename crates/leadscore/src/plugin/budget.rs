//! The per-call budget: memory and time, checked on every Rhai operation (the engine's
//! `on_progress`), however the script builds its values and however costly each
//! operation is.
//!
//! Memory is what the calling thread allocated minus what it freed since the call began,
//! read from jemalloc's per-thread counters (`thread.allocatedp`/`thread.deallocatedp`).
//! They count only when jemalloc is the global allocator, as in the `leadscore` binary;
//! a program that links the library with another allocator has the size limits but no
//! memory budget. Time is the thread's CPU time, read only once the wall clock (cheap)
//! says the budget could be spent, so a busy machine does not fail calls that did not
//! run long.

use std::cell::Cell;
use std::time::{Duration, Instant};

use cpu_time::ThreadTime;
use rhai::{Dynamic, ImmutableString};
#[cfg(feature = "jemalloc")]
use tikv_jemalloc_ctl::thread::{allocatedp, deallocatedp, ThreadLocal};

use super::Limits;

/// Which budget stopped a call: the token `on_progress` hands to Rhai.
pub(super) const MEMORY: &str = "memory";
/// See [`MEMORY`].
pub(super) const TIME: &str = "time";
/// The rerun that finds where a call stopped reached the operation it stopped at.
pub(super) const FOUND: &str = "found";

/// The budget of the call running on this thread.
#[derive(Clone, Copy)]
struct Call {
    started: Instant,
    cpu_started: Option<Duration>,
    time: Duration,
    /// Net bytes held by this thread when the call began.
    held: u64,
    memory: u64,
    /// The operation count at which the call was stopped by [`check`].
    stopped_at: Option<u64>,
    /// In a rerun: stop at this operation count (where the call stopped before).
    stop_at: Option<u64>,
}

thread_local! {
    static CALL: Cell<Option<Call>> = const { Cell::new(None) };
}

#[cfg(feature = "jemalloc")]
thread_local! {
    static COUNTERS: Option<(ThreadLocal<u64>, ThreadLocal<u64>)> = counters();
}

#[cfg(feature = "jemalloc")]
fn counters() -> Option<(ThreadLocal<u64>, ThreadLocal<u64>)> {
    let allocated = allocatedp::mib().ok()?.read().ok()?;
    let freed = deallocatedp::mib().ok()?.read().ok()?;
    Some((allocated, freed))
}

/// Bytes this thread allocated minus bytes it freed, wrapping (another thread may free
/// what this one allocated, so only differences mean anything).
#[cfg(feature = "jemalloc")]
fn held() -> u64 {
    COUNTERS.with(|c| c.as_ref().map_or(0, |(a, f)| a.get().wrapping_sub(f.get())))
}

/// Without the `jemalloc` feature there are no per-thread counters: no memory budget.
#[cfg(not(feature = "jemalloc"))]
fn held() -> u64 {
    0
}

fn cpu_now() -> Option<Duration> {
    ThreadTime::try_now().ok().map(|t| t.as_duration())
}

/// Runs `f` (one plugin call, and the rerun that finds where it stopped) under the
/// budget of `limits`.
pub(super) fn within<T>(limits: &Limits, f: impl FnOnce() -> T) -> T {
    let call = Call {
        started: Instant::now(),
        cpu_started: cpu_now(),
        time: Duration::from_millis(limits.time_ms),
        held: held(),
        memory: limits.memory as u64,
        stopped_at: None,
        stop_at: None,
    };
    let previous = CALL.with(|c| c.replace(Some(call)));
    let out = f();
    CALL.with(|c| c.set(previous));
    out
}

/// Runs `f`, the rerun of a call [`check`] stopped, within what is left of the same call's
/// budget, stopping it at the operation the call stopped at ([`FOUND`]). Without a
/// call stopped by the budget, the rerun runs to its own end or limit.
pub(super) fn rerun<T>(f: impl FnOnce() -> T) -> T {
    let previous = CALL.with(Cell::get);
    if let Some(mut call) = previous {
        call.stop_at = call.stopped_at;
        call.held = held();
        CALL.with(|c| c.set(Some(call)));
    }
    let out = f();
    CALL.with(|c| c.set(previous));
    out
}

/// `on_progress`: `Some(token)` stops the call when it has spent its memory or time.
pub(super) fn check(operations: u64) -> Option<Dynamic> {
    let mut call = CALL.with(Cell::get)?;
    if call.stop_at.is_some_and(|at| operations >= at) {
        return Some(token(FOUND));
    }
    let stop = spent(&call)?;
    if call.stop_at.is_none() {
        call.stopped_at = Some(operations);
        CALL.with(|c| c.set(Some(call)));
    }
    Some(token(stop))
}

/// Which budget the call has spent, if any.
fn spent(call: &Call) -> Option<&'static str> {
    let grown = held().wrapping_sub(call.held);
    // A thread that freed more than it allocated since the start wraps to a huge value.
    // A rerun stops where the call did, which bounds its memory the same way.
    if call.stop_at.is_none() && grown <= u64::MAX / 2 && grown > call.memory {
        return Some(MEMORY);
    }
    // CPU time never runs ahead of the wall clock, so it is read only once the wall
    // clock says the budget may be spent; without a CPU clock, wall time decides.
    if call.started.elapsed() <= call.time {
        return None;
    }
    match (call.cpu_started, cpu_now()) {
        (Some(start), Some(now)) if now.saturating_sub(start) <= call.time => None,
        _ => Some(TIME),
    }
}

fn token(what: &str) -> Dynamic {
    Dynamic::from(ImmutableString::from(what))
}
