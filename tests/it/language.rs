//! The scoring language, one focused test per construct.
