//! Simulations that evaluate tcap against synthetic populations (`tcapd simulate ...`).

pub mod stealth;
