//! Compiles `data/builtin.tsv` into a registry image in `OUT_DIR`, with the library's own parser
//! (`registry::tsv`) and builder, and validates the result with the library's own validator, so
//! `registry::builtin()` can skip the O(n) checks at run time. A malformed row fails the build with its
//! file and line.

extern crate alloc;

#[allow(dead_code)]
#[path = "src/registry/builder.rs"]
mod builder;
#[allow(dead_code)]
#[path = "src/wire/flags.rs"]
mod flags;
#[allow(dead_code)]
#[path = "src/registry/format.rs"]
mod format;
#[allow(dead_code)]
#[path = "src/registry/tsv.rs"]
mod tsv;

// `tsv` reaches these as `super::{Flags, Risk}`, as it does inside the library.
use flags::{Flags, Risk};
use std::path::PathBuf;

const SOURCE: &str = "data/builtin.tsv";

fn fail(line: usize, msg: &str) -> ! {
    eprintln!("error: {SOURCE}:{line}: {msg}");
    eprintln!("  {}", tsv::COLUMNS_HELP);
    std::process::exit(1);
}

fn main() {
    println!("cargo::rerun-if-changed={SOURCE}");
    println!("cargo::rerun-if-changed=src/registry/format.rs");
    println!("cargo::rerun-if-changed=src/registry/builder.rs");
    println!("cargo::rerun-if-changed=src/registry/tsv.rs");
    println!("cargo::rerun-if-changed=src/wire/flags.rs");
    let text = std::fs::read_to_string(SOURCE).unwrap_or_else(|e| fail(0, &format!("cannot read: {e}")));
    let rows = tsv::parse(&text).unwrap_or_else(|e| {
        let row = text.lines().nth(e.line.saturating_sub(1)).unwrap_or("");
        fail(e.line, &format!("{}: {row:?}", e.kind))
    });
    let specs: Vec<builder::RawSpec> = rows
        .iter()
        .map(|r| builder::RawSpec {
            name: r.name.as_bytes().to_vec(),
            flags: r.flags.0,
            exec_time_ms: r.exec_time_ms,
            memory_mb: r.memory_mb,
            output_kb: r.output_kb,
        })
        .collect();
    // Both densities (docs/FORMAT.md §5.3): `registry::builtin_image()` picks this target's, and a
    // host can name the other (firmware/build.rs checks the compact bytes its firmware flashes).
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for (density, file) in [
        (format::Density::Fast, "builtin_registry.bin"),
        (format::Density::Compact, "builtin_registry_compact.bin"),
    ] {
        let image = match builder::build_image(&specs, density) {
            Ok(img) => img,
            Err(builder::BuildError::DuplicateName { first, second }) => {
                fail(rows[second].line, &format!("duplicate name (first on line {})", rows[first].line))
            }
            Err(builder::BuildError::DuplicateId { id, first, second }) => fail(
                rows[second].line,
                &format!("command id {id:#010x} collides with line {}", rows[first].line),
            ),
            Err(e) => fail(0, &e.to_string()),
        };
        if let Err(e) = format::validate(&image) {
            fail(0, &format!("built image does not validate: {e}"));
        }
        std::fs::write(out.join(file), &image)
            .unwrap_or_else(|e| fail(0, &format!("cannot write image: {e}")));
    }
}
