//! The tcap C ABI.
