//! Compiles `data/builtin.tsv` into a registry image in `OUT_DIR`, with the library's own builder, and
//! validates the result with the library's own validator, so `registry::builtin()` can skip the O(n)
//! checks at run time. A malformed row fails the build with its file and line.

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

use flags::{Flags, Risk};
use std::path::PathBuf;

const SOURCE: &str = "data/builtin.tsv";

fn fail(line: usize, msg: &str) -> ! {
    eprintln!("error: {SOURCE}:{line}: {msg}");
    eprintln!(
        "  expected 7 tab-separated columns: name, risk (SAFE|LOW|MEDIUM|HIGH|CRITICAL), flags \
         (comma-separated canonical names or -), exec_ms, memory_mb, output_kb, reason"
    );
    std::process::exit(1);
}

fn parse_row(lineno: usize, line: &str) -> builder::RawSpec {
    let cols: Vec<&str> = line.split('\t').collect();
    if cols.len() != 7 {
        fail(lineno, &format!("{} columns", cols.len()));
    }
    let name = cols[0];
    if name.is_empty() || name.trim() != name || name.contains("  ") || name.contains('\t') {
        fail(lineno, &format!("bad name {name:?} (words separated by single spaces, no padding)"));
    }
    let risk = match Risk::parse(cols[1]) {
        Some(Risk::Unknown) | None => fail(lineno, &format!("bad risk {:?}", cols[1])),
        Some(r) => r,
    };
    let mut flags = Flags(0);
    if cols[2] != "-" {
        for f in cols[2].split(',') {
            match Flags::from_name(f.trim()) {
                Some(bit) if bit.0 & Flags::RISK_MASK != 0 => {
                    fail(lineno, &format!("risk flag {f:?} in the flags column (use the risk column)"))
                }
                Some(bit) => flags = flags.union(bit),
                None => fail(lineno, &format!("unknown flag {f:?}")),
            }
        }
    }
    let num = |i: usize, what: &str| -> u64 {
        cols[i].parse::<u64>().unwrap_or_else(|_| fail(lineno, &format!("bad {what} {:?}", cols[i])))
    };
    let exec = num(3, "exec_ms");
    let mem = num(4, "memory_mb");
    let out = num(5, "output_kb");
    if exec > u32::MAX as u64 || mem > u16::MAX as u64 || out > u16::MAX as u64 {
        fail(lineno, "performance field out of range (exec u32, memory u16, output u16)");
    }
    if cols[6].trim().len() < 8 {
        fail(lineno, "missing reason for the risk level");
    }
    builder::RawSpec {
        name: name.as_bytes().to_vec(),
        flags: flags.with_risk(risk).0,
        exec_time_ms: exec as u32,
        memory_mb: mem as u16,
        output_kb: out as u16,
    }
}

fn main() {
    println!("cargo::rerun-if-changed={SOURCE}");
    println!("cargo::rerun-if-changed=src/registry/format.rs");
    println!("cargo::rerun-if-changed=src/registry/builder.rs");
    println!("cargo::rerun-if-changed=src/wire/flags.rs");
    let text = std::fs::read_to_string(SOURCE).unwrap_or_else(|e| fail(0, &format!("cannot read: {e}")));
    let mut specs = Vec::new();
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        specs.push(parse_row(lineno, line));
        lines.push(lineno);
    }
    let image = match builder::build_image(&specs) {
        Ok(img) => img,
        Err(builder::BuildError::DuplicateName { first, second }) => {
            fail(lines[second], &format!("duplicate name (first on line {})", lines[first]))
        }
        Err(builder::BuildError::DuplicateId { id, first, second }) => {
            fail(lines[second], &format!("command id {id:#010x} collides with line {}", lines[first]))
        }
        Err(e) => fail(0, &e.to_string()),
    };
    if let Err(e) = format::validate(&image) {
        fail(0, &format!("built image does not validate: {e}"));
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("builtin_registry.bin"), &image)
        .unwrap_or_else(|e| fail(0, &format!("cannot write image: {e}")));
}
