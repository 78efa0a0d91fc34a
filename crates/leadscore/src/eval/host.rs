//! The boundary the evaluator calls plugin functions through. The plugin host
//! implements it; the evaluator never imports the host.

use super::EvalError;
use crate::value::Value;

/// Calls plugin functions on behalf of the evaluator.
pub trait Host: Sync {
    /// Calls function `func` (an index into the program's functions).
    fn call(&self, func: u32, args: &[Value]) -> Result<Value<'static>, EvalError>;
}
