//! Simulations and evaluations run by `tcapd simulate …`.

pub mod darpa;
pub mod network;
pub mod stealth;
