//! Library half of `tcapd`, the tcap userspace driver; the binary is a thin shell over it.

pub mod sim;
