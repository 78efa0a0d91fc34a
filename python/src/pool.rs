//! The module's one thread pool, its size checked by the command line's rule, and made
//! again in a process forked from one that had it.
//!
//! Every call scores on this pool, the core's one batch scorer (`leadscore::batch::Pool`:
//! its threads have the deep stacks plugin calls need, and the rule for how many threads
//! one may ask for is the core's). A call asking for another size replaces it: the old
//! pool's threads end when the calls still using it finish, so at most one pool per
//! running call exists, never one per size ever asked for.
//!
//! `fork` copies the pool but not its threads: a forked child that used the copy would
//! wait forever for threads that do not exist. The pool remembers the process it was made
//! in, and a child makes its own (the parent's copy is forgotten, not dropped: dropping it
//! would wake threads that are not there). The slot's lock is only taken with the GIL
//! held and released before the GIL is, so no other thread holds it when Python forks
//! (`os.fork` runs with the GIL held).

use std::sync::{Arc, Mutex, PoisonError};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt};

use leadscore::batch::THREADS_PER_CORE;

struct Shared {
    /// The process that made the pool.
    pid: u32,
    threads: usize,
    pool: Arc<leadscore::batch::Pool>,
}

static POOL: Mutex<Option<Shared>> = Mutex::new(None);

fn cores() -> usize {
    leadscore::batch::cores()
}

/// `threads=` checked: `None` is one per core; otherwise a whole number from 1 to
/// [`THREADS_PER_CORE`] per core (`True` is not a number of threads).
pub fn threads(given: Option<&Bound<'_, PyAny>>) -> PyResult<usize> {
    let Some(given) = given.filter(|g| !g.is_none()) else {
        return Ok(cores());
    };
    let most = THREADS_PER_CORE * cores();
    let range = || {
        format!(
            "a whole number from 1 to {most} ({THREADS_PER_CORE} per core on this machine's {})",
            cores()
        )
    };
    if given.is_instance_of::<PyBool>() || !given.is_instance_of::<PyInt>() {
        let kind = given
            .get_type()
            .name()
            .map_or_else(|_| "?".to_string(), |n| n.to_string());
        let message = format!("threads must be {}, not {kind}", range());
        return Err(if given.is_instance_of::<PyBool>() {
            PyValueError::new_err(message)
        } else {
            PyTypeError::new_err(message)
        });
    }
    match given.extract::<i64>() {
        Ok(n) if n >= 1 && n as u64 <= most as u64 => Ok(n as usize),
        _ => Err(PyValueError::new_err(format!(
            "threads must be {}, not {given}",
            range()
        ))),
    }
}

/// The pool with `threads` threads, made (or made again) as needed. Called with the GIL held.
pub fn get(_py: Python<'_>, threads: usize) -> PyResult<Arc<leadscore::batch::Pool>> {
    let mut slot = POOL.lock().unwrap_or_else(PoisonError::into_inner);
    let pid = std::process::id();
    if slot.as_ref().is_some_and(|shared| shared.pid != pid) {
        // Forked: the threads are the parent's.
        std::mem::forget(slot.take());
    }
    if let Some(shared) = slot.as_ref().filter(|shared| shared.threads == threads) {
        return Ok(shared.pool.clone());
    }
    let pool = leadscore::batch::Pool::new(threads)
        .map_err(|e| PyValueError::new_err(format!("cannot start {threads} scoring threads: {e}")))?;
    let pool = Arc::new(pool);
    *slot = Some(Shared {
        pid,
        threads,
        pool: pool.clone(),
    });
    Ok(pool)
}
