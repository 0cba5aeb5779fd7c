//! Writes memory.x (from memory.x.in) and an empty device.x where cortex-m-rt's link.x looks for them,
//! and compiles the firmware's registry image.
//!
//! The full built-in registry image (577 commands, 36,244 bytes) does not fit the 48 KiB flash budget
//! next to the gate's code (≥ 16 KiB on its own: docs/C-API.md), so the firmware carries a compact image
//! of the commands an agent on this device may ask for: the rows of `core/data/builtin.tsv` named in
//! `REGISTRY.txt`, built with tcap-core's own builder (the same one that builds the built-in image) and
//! validated again at boot by `tcap_registry_open`. Commands outside the subset are unknown to the
//! firmware and, like every unknown command, never allowed.
//!
//! With the `full-registry` feature the firmware opens the library's built-in image instead, and FLASH is
//! declared 128 KiB (a measurement build, `make firmware-full`, not the budgeted image).
//!
//! Either way the image is validated here in full (`Registry::load`) and its length, number of commands
//! and FNV-1a hash go to the firmware (`TCAP_FW_IMAGE_*`), which checks the bytes it runs with.

use std::path::PathBuf;

use tcap_core::registry::{Builder, EntrySpec, Registry, builtin_image};
use tcap_core::wire::{Flags, Risk};

const TSV: &str = "../core/data/builtin.tsv";
const SUBSET: &str = "REGISTRY.txt";

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let full = std::env::var_os("CARGO_FEATURE_FULL_REGISTRY").is_some();
    let memory = std::fs::read_to_string("memory.x.in").expect("read memory.x.in");
    let memory = if full {
        assert!(memory.contains("LENGTH = 48K"), "memory.x.in: no 48K FLASH region");
        memory.replace("LENGTH = 48K", "LENGTH = 128K /* full-registry: a measurement build */")
    } else {
        memory
    };
    std::fs::write(out.join("memory.x"), memory).expect("write memory.x");
    // cortex-m-rt's `device` feature: the interrupt vectors are the firmware's own (`__INTERRUPTS`),
    // all the default handler, so device.x has nothing to add.
    std::fs::write(out.join("device.x"), "/* every interrupt is DefaultHandler: src/main.rs */\n")
        .expect("write device.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x.in");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={TSV}");
    println!("cargo:rerun-if-changed={SUBSET}");

    if full {
        emit(builtin_image());
        return;
    }

    let tsv = std::fs::read_to_string(TSV).expect("read core/data/builtin.tsv");
    let subset = std::fs::read_to_string(SUBSET).expect("read REGISTRY.txt");
    let wanted: Vec<&str> =
        subset.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    let mut builder = Builder::new();
    let mut found = Vec::new();
    for line in tsv.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert!(cols.len() == 7, "{TSV}: malformed row {line:?}");
        if !wanted.contains(&cols[0]) {
            continue;
        }
        let risk = Risk::parse(cols[1]).unwrap_or_else(|| panic!("{TSV}: bad risk in {line:?}"));
        let mut flags = Flags(0);
        if cols[2] != "-" {
            for f in cols[2].split(',') {
                flags = flags
                    .union(Flags::from_name(f.trim()).unwrap_or_else(|| panic!("{TSV}: bad flag {f:?}")));
            }
        }
        let num =
            |i: usize| cols[i].parse::<u32>().unwrap_or_else(|_| panic!("{TSV}: bad number in {line:?}"));
        builder.push(EntrySpec {
            name: cols[0].as_bytes(),
            flags: flags.with_risk(risk),
            exec_time_ms: num(3),
            memory_mb: u16::try_from(num(4)).expect("memory_mb fits u16"),
            output_kb: u16::try_from(num(5)).expect("output_kb fits u16"),
        });
        found.push(cols[0]);
    }
    let missing: Vec<&&str> = wanted.iter().filter(|w| !found.contains(w)).collect();
    assert!(missing.is_empty(), "{SUBSET} names commands that {TSV} does not have: {missing:?}");
    let image = builder.build().expect("the firmware registry builds");
    std::fs::write(out.join("registry.bin"), &image).expect("write registry.bin");
    emit(&image);
}

/// Validates `image` in full and hands its length, number of commands and FNV-1a hash to the firmware.
fn emit(image: &[u8]) {
    let reg = Registry::load(image).expect("the firmware registry validates");
    let fnv = image.iter().fold(0x811c_9dc5u32, |h, &b| (h ^ b as u32).wrapping_mul(0x0100_0193));
    println!("cargo:rustc-env=TCAP_FW_IMAGE_LEN={}", image.len());
    println!("cargo:rustc-env=TCAP_FW_IMAGE_COMMANDS={}", reg.len());
    println!("cargo:rustc-env=TCAP_FW_IMAGE_FNV={fnv}");
}
