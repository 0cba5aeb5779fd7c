//! `tcapd`: the tcap userspace driver.
fn main() {}
