//! Gives `libtcap.so` its SONAME (`libtcap.so.<major>`) on ELF targets with dynamic linking.
//!
//! The crate's manifest declares only an rlib (so firmware can depend on it without tcap's panic handler);
//! `make ffi-lib` builds the archives with `cargo rustc --crate-type staticlib,cdylib` and sets
//! `TCAP_CDYLIB=1`, which is when the SONAME argument is emitted. Emitting it unconditionally makes cargo
//! warn that the package has no cdylib target.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=TCAP_CDYLIB");
    if std::env::var_os("TCAP_CDYLIB").is_none() {
        return;
    }
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    if matches!(os.as_str(), "linux" | "android" | "freebsd" | "netbsd" | "openbsd" | "dragonfly") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libtcap.so.{major}");
    }
}
