//! Shared helpers for tcap benchmarks.
