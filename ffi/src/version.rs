//! Version: compile-time macros in the header and run-time functions in the library.
//!
//! The constants are literals (cbindgen copies them into `tcap.h` as `#define`s); `const` assertions
//! below refuse to compile if they drift from the crate version in Cargo.toml, and `tests/header.rs`
//! checks the committed header against Cargo.toml too. A C client compares the macros (what it was
//! compiled against) with [`tcap_version_number`] (what it runs against).

use core::ffi::{CStr, c_char};

/// Major version of the header (equals the workspace version in Cargo.toml).
pub const TCAP_VERSION_MAJOR: u32 = 0;
/// Minor version of the header.
pub const TCAP_VERSION_MINOR: u32 = 1;
/// Patch version of the header.
pub const TCAP_VERSION_PATCH: u32 = 0;
/// `(MAJOR << 16) | (MINOR << 8) | PATCH`, comparable with `tcap_version_number()`.
pub const TCAP_VERSION_NUMBER: u32 = 0x00_01_00;
/// The version as a string, equal to what `tcap_version()` returns. (cbindgen copies only numeric
/// constants; `tests/header.rs` writes this one into the header from Cargo's version.)
pub const TCAP_VERSION_STRING: &str = "0.1.0";

const fn parse_u32(s: &str) -> u32 {
    let b = s.as_bytes();
    assert!(!b.is_empty());
    let mut v: u32 = 0;
    let mut i = 0;
    while i < b.len() {
        assert!(b[i].is_ascii_digit());
        v = v * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    v
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

// Bump these literals together with the workspace version; the build fails until they agree.
const _: () = assert!(TCAP_VERSION_MAJOR == parse_u32(env!("CARGO_PKG_VERSION_MAJOR")));
const _: () = assert!(TCAP_VERSION_MINOR == parse_u32(env!("CARGO_PKG_VERSION_MINOR")));
const _: () = assert!(TCAP_VERSION_PATCH == parse_u32(env!("CARGO_PKG_VERSION_PATCH")));
const _: () = assert!(TCAP_VERSION_MINOR < 256 && TCAP_VERSION_PATCH < 256 && TCAP_VERSION_MAJOR < 256);
const _: () = assert!(
    TCAP_VERSION_NUMBER == (TCAP_VERSION_MAJOR << 16) | (TCAP_VERSION_MINOR << 8) | TCAP_VERSION_PATCH
);
const _: () = assert!(str_eq(TCAP_VERSION_STRING, env!("CARGO_PKG_VERSION")));

const VERSION_CSTR: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(c) => c,
        Err(_) => panic!("the package version contains a NUL byte"),
    };

/// The library's version as a static string, e.g. `"0.1.0"`. Never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn tcap_version() -> *const c_char {
    VERSION_CSTR.as_ptr()
}

/// The library's version as `(major << 16) | (minor << 8) | patch`, to compare with
/// `TCAP_VERSION_NUMBER` from the header the client was compiled against.
#[unsafe(no_mangle)]
pub extern "C" fn tcap_version_number() -> u32 {
    TCAP_VERSION_NUMBER
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_matches_cargo() {
        // SAFETY: tcap_version returns a static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(tcap_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
        assert_eq!(v.to_str().unwrap(), TCAP_VERSION_STRING);
        let n = tcap_version_number();
        assert_eq!(n >> 16, env!("CARGO_PKG_VERSION_MAJOR").parse::<u32>().unwrap());
        assert_eq!((n >> 8) & 0xff, env!("CARGO_PKG_VERSION_MINOR").parse::<u32>().unwrap());
        assert_eq!(n & 0xff, env!("CARGO_PKG_VERSION_PATCH").parse::<u32>().unwrap());
    }
}
