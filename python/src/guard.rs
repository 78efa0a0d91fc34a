//! The last line of defence: a panic inside the module is a bug, and it reaches Python as
//! `leadscore.InternalError` (an ordinary `Exception`), never as pyo3's `PanicException`,
//! which `except Exception` does not catch. Every function and method Python calls runs
//! inside [`guard`]; a panic on a scoring thread comes back to its caller through rayon.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::create_exception;
use pyo3::prelude::*;

create_exception!(
    leadscore,
    InternalError,
    pyo3::exceptions::PyRuntimeError,
    "A bug inside leadscore (a panic caught at the module's edge): the call failed, the process goes on. Please report it with the message."
);

/// `body`'s result, or `InternalError` if it panicked.
pub fn guard<T>(body: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| Err(internal(panic.as_ref())))
}

/// The exception a caught panic becomes.
pub fn internal(panic: &(dyn Any + Send)) -> PyErr {
    InternalError::new_err(format!(
        "internal error in leadscore (a bug, please report it): {}",
        message(panic)
    ))
}

/// A panic's message, when it has one.
pub fn message(panic: &(dyn Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}
