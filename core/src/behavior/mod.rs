//! Per-agent behavioural scoring.

pub mod sketch;
