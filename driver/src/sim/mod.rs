//! Simulations and evaluations run by `tcapd simulate …`.

pub mod darpa;
