//! Writes memory.x (from memory.x.in) and an empty device.x where cortex-m-rt's link.x looks for them,
//! and hands the firmware the facts about the registry image it runs with.
//!
//! The firmware runs the gate on the library's full built-in registry (`tcap_registry_builtin`: all
//! 577 commands of `core/data/builtin.tsv`, the same entries every host gets, at the compact id-table
//! density). Its bytes are validated
//! here in full (`Registry::load`: CRC-32C, every bucket and record, every id = MD5(name)), and their
//! length, number of commands and FNV-1a hash go to the firmware (`TCAP_FW_IMAGE_*`), which checks the
//! flashed bytes against them. (`tcap_registry_builtin` itself only parses the header: core's build.rs
//! ran the same validator when it embedded the image.)

use std::path::PathBuf;

use tcap_core::registry::{Density, Registry, builtin_image_at};

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let memory = std::fs::read_to_string("memory.x.in").expect("read memory.x.in");
    std::fs::write(out.join("memory.x"), memory).expect("write memory.x");
    // cortex-m-rt's `device` feature: the interrupt vectors are the firmware's own (`__INTERRUPTS`),
    // all the default handler, so device.x has nothing to add.
    std::fs::write(out.join("device.x"), "/* every interrupt is DefaultHandler: src/main.rs */\n")
        .expect("write device.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x.in");
    println!("cargo:rerun-if-changed=build.rs");

    // This script runs on the host, where `builtin_image()` is the host's (fast) image; the firmware
    // (no OS) carries the compact one (docs/FORMAT.md §5.3).
    let image = builtin_image_at(Density::Compact);
    let reg = Registry::load(image).expect("the built-in registry validates");
    let fnv = image.iter().fold(0x811c_9dc5u32, |h, &b| (h ^ b as u32).wrapping_mul(0x0100_0193));
    println!("cargo:rustc-env=TCAP_FW_IMAGE_LEN={}", image.len());
    println!("cargo:rustc-env=TCAP_FW_IMAGE_COMMANDS={}", reg.len());
    println!("cargo:rustc-env=TCAP_FW_IMAGE_FNV={fnv}");
}
