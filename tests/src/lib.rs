//! Shared helpers for the cross-crate test suites (fixture loading, bit formatting).
