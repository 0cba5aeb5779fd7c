//! Simulations driven by `tcapd simulate ...`.

pub mod network;
