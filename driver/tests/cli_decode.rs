//! `tcapd decode` through the built binary: the upstream reference descriptors, every accepted hex
//! form, refusals with their reasons and exit codes, and the documented JSON fields.

use std::process::{Command, Output};

use serde_json::Value;
use tcap_core::wire::{DescriptorRepr, Flags, Flavour, KbFlags, command_id};

fn tcapd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tcapd")).args(args).output().expect("run tcapd")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(args: &[&str]) -> (Output, Value) {
    let o = tcapd(args);
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)));
    (o, v)
}

// The four descriptors of shared/reference/upstream-tcp.md §1.
const SPEC_RM: &str = "544350020002d67f249b000006d0271003e800320002ef04";
const SPEC_CAT: &str = "544350020002d077f2440000000201f40032001a00032048";
const KB_RM: &str = "544350020002d67f249b0000170400000064000a00010389";
const KB_LS: &str = "54435002000244ba5ca60000050100000064000a00010360";

/// Every field docs/CLI.md documents for one `decode --json` object.
const FIELDS: [&str; 19] = [
    "input",
    "ok",
    "error",
    "bytes",
    "command_id",
    "checksum",
    "flavour",
    "ambiguous",
    "wire_flags",
    "wire_flag_names",
    "flags",
    "flag_names",
    "vendor_bits",
    "risk",
    "risk_bits",
    "exec_time_ms",
    "memory_mb",
    "output_kb",
    "command_len",
];

fn hex32(v: u32) -> String {
    format!("{v:#010x}")
}

fn names(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

fn canonical_names(f: Flags) -> Vec<String> {
    f.names().map(str::to_string).collect()
}

#[test]
fn reference_descriptors_decode_to_the_documented_values() {
    let (o, v) = json(&["decode", "--json", SPEC_RM, SPEC_CAT, KB_RM, KB_LS]);
    assert!(o.status.success(), "{}", stderr(&o));
    let a = v.as_array().unwrap();
    assert_eq!(a.len(), 4);
    for d in a {
        let obj = d.as_object().unwrap();
        for f in FIELDS {
            assert!(obj.contains_key(f), "missing field {f} in {d}");
        }
        assert_eq!(obj.len(), FIELDS.len(), "undocumented fields in {d}");
        assert_eq!(d["ok"], true);
        assert!(d["error"].is_null());
    }
    // rm, spec layout: flags 0x6D0, exec 10000 ms, mem 1000 MB, out 50, len 2.
    let rm = &a[0];
    assert_eq!(rm["flavour"], "spec");
    assert_eq!(rm["command_id"], hex32(command_id(b"rm")));
    assert_eq!(rm["wire_flags"], "0x000006d0");
    assert_eq!(rm["flags"], "0x000006d0");
    assert_eq!(names(&rm["flag_names"]), canonical_names(Flags(0x6d0)));
    assert_eq!(rm["risk"], "CRITICAL");
    assert_eq!(rm["risk_bits"], 1);
    assert_eq!((rm["exec_time_ms"].as_u64(), rm["memory_mb"].as_u64()), (Some(10000), Some(1000)));
    assert_eq!((rm["output_kb"].as_u64(), rm["command_len"].as_u64()), (Some(50), Some(2)));
    assert_eq!(rm["checksum"]["stored"], "0xef04");
    assert_eq!(rm["checksum"]["crc_ok"], true);
    assert_eq!(rm["checksum"]["sum_ok"], false);
    // cat, spec layout: flags 0x002, exec 500, mem 50, out 26, len 3.
    let cat = &a[1];
    assert_eq!(cat["command_id"], hex32(command_id(b"cat")));
    assert_eq!(cat["flags"], "0x00000002");
    assert_eq!(cat["risk"], "LOW_RISK");
    let perf: Vec<_> = ["exec_time_ms", "memory_mb", "output_kb", "command_len"]
        .iter()
        .map(|k| cat[*k].as_u64().unwrap())
        .collect();
    assert_eq!(perf, [500, 50, 26, 3]);
    // Knowledge-base rm and ls: byte-sum checksum, flags normalised onto the canonical map.
    for (d, name, wire) in [(&a[2], "rm", 0x1704u32), (&a[3], "ls", 0x0501)] {
        assert_eq!(d["flavour"], "knowledge-base");
        assert_eq!(d["command_id"], hex32(command_id(name.as_bytes())));
        assert_eq!(d["wire_flags"], hex32(wire));
        let canon = KbFlags(wire).to_canonical().unwrap();
        assert_eq!(d["flags"], hex32(canon.0));
        assert_eq!(names(&d["flag_names"]), canonical_names(canon));
        assert_eq!(d["risk"], canon.risk().as_str());
        assert!(d["command_len"].is_null());
        assert_eq!((d["exec_time_ms"].as_u64(), d["memory_mb"].as_u64()), (Some(100), Some(10)));
        assert_eq!(d["checksum"]["sum_ok"], true);
        assert_eq!(d["checksum"]["crc_ok"], false);
    }
    assert_eq!(a[2]["risk"], "MEDIUM_RISK");
    assert_eq!(a[3]["risk"], "SAFE");
    assert!(names(&a[2]["wire_flag_names"]).contains(&"FILE_OPS".to_string()));
    assert!(names(&a[2]["flag_names"]).contains(&"FILE_MODIFICATION".to_string()));
}

#[test]
fn text_output_names_everything() {
    let o = tcapd(&["decode", KB_RM]);
    assert!(o.status.success());
    let s = stdout(&o);
    for want in [
        "flavour      knowledge-base",
        &format!("command id   {}", hex32(command_id(b"rm"))),
        "wire flags   0x00001704 [MEDIUM_RISK|FILE_OPS|NETWORK|SUDO|SYSTEM]",
        "(canonical)",
        "risk         MEDIUM_RISK",
        "exec 100 ms, memory 10 MB, output 1 KB",
        "stored 0x0389",
        "byte sum 0x0389 ok",
    ] {
        assert!(s.contains(want), "{want:?} not in\n{s}");
    }
    assert!(!s.contains("warning"));
}

#[test]
fn hex_with_spaces_and_prefixes_is_the_same_descriptor() {
    let spaced: String =
        KB_LS.as_bytes().chunks(2).map(|p| std::str::from_utf8(p).unwrap()).collect::<Vec<_>>().join(" ");
    let prefixed = format!("0x{KB_LS}");
    let per_byte: String = KB_LS
        .as_bytes()
        .chunks(2)
        .map(|p| format!("0x{}", std::str::from_utf8(p).unwrap()))
        .collect::<Vec<_>>()
        .join(" ");
    let (_, plain) = json(&["decode", "--json", KB_LS]);
    for form in [spaced.as_str(), prefixed.as_str(), per_byte.as_str(), &KB_LS.to_uppercase()] {
        let (o, v) = json(&["decode", "--json", form]);
        assert!(o.status.success(), "{form}: {}", stderr(&o));
        assert_eq!(v[0]["bytes"], plain[0]["bytes"], "{form}");
        assert_eq!(v[0]["flags"], plain[0]["flags"], "{form}");
    }
}

#[test]
fn bad_descriptors_are_reported_and_the_others_still_decoded() {
    let mut bad_sum = KB_RM[..44].to_string();
    bad_sum.push_str("1234");
    let o = tcapd(&["decode", &bad_sum, SPEC_RM, "5443", "54zz"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("decode: 54435002…: checksum mismatch: stored 0x1234"), "{err}");
    assert!(err.contains("byte sum 0x0389"), "{err}");
    assert!(err.contains("decode: 5443: descriptor must be 24 bytes, got 2"), "{err}");
    assert!(err.contains("bad hex"), "{err}");
    let out = stdout(&o);
    assert!(out.contains("risk         CRITICAL"), "the good one is decoded too:\n{out}");

    let (o, v) = json(&["decode", "--json", &bad_sum, SPEC_RM]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(v[0]["ok"], false);
    assert!(v[0]["error"].as_str().unwrap().starts_with("checksum mismatch"));
    assert_eq!(v[0]["checksum"]["stored"], "0x1234");
    assert!(v[0]["flavour"].is_null());
    assert_eq!(v[1]["ok"], true);

    let mut bad_magic = SPEC_RM.to_string();
    bad_magic.replace_range(0..2, "55");
    let o = tcapd(&["decode", &bad_magic]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("bad magic"), "{}", stderr(&o));
}

#[test]
fn several_risk_bits_warn_and_the_highest_wins() {
    let flags =
        Flags::MEDIUM_RISK.union(Flags::HIGH_RISK).union(Flags::CRITICAL).union(Flags::NETWORK_ACCESS);
    let repr = DescriptorRepr {
        command_id: command_id(b"curl"),
        flags,
        exec_time_ms: 7,
        memory_mb: 8,
        output_kb: 9,
        command_len: Some(4),
    };
    let mut buf = [0u8; 24];
    repr.emit(&mut buf).unwrap();
    let h: String = buf.iter().map(|b| format!("{b:02x}")).collect();
    let o = tcapd(&["decode", &h]);
    assert!(o.status.success());
    let s = stdout(&o);
    assert!(s.contains("risk         CRITICAL"), "{s}");
    assert!(s.contains("warning      3 risk bits set (MEDIUM_RISK, HIGH_RISK, CRITICAL)"), "{s}");
    let (_, v) = json(&["decode", "--json", &h]);
    assert_eq!(v[0]["risk_bits"], 3);
    assert_eq!(v[0]["risk"], "CRITICAL");
}

#[test]
fn the_hint_reads_crc_descriptors_in_the_registry_layout() {
    let (o, v) = json(&["decode", "--json", "--hint", "registry", SPEC_CAT]);
    assert!(o.status.success());
    assert_eq!(v[0]["flavour"], Flavour::Registry.as_str());
    // Registry layout: u32 exec time over bytes 14..18 (0x01f40032), memory at 18, output at 20.
    assert_eq!(v[0]["exec_time_ms"].as_u64(), Some(0x01f4_0032));
    assert_eq!(v[0]["memory_mb"].as_u64(), Some(0x1a));
    assert!(v[0]["command_len"].is_null());
    // A kb hint does not override a checksum that does not verify as a byte sum.
    let (_, v) = json(&["decode", "--json", "--hint", "kb", SPEC_CAT]);
    assert_eq!(v[0]["flavour"], "spec");
    let o = tcapd(&["decode", "--hint", "nope", SPEC_CAT]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn usage_errors_exit_2_and_help_has_examples() {
    assert_eq!(tcapd(&["decode"]).status.code(), Some(2));
    let h = tcapd(&["decode", "--help"]);
    assert!(h.status.success());
    let s = stdout(&h);
    assert!(s.contains("Examples:") && s.contains("tcapd decode") && s.contains("Exit status"), "{s}");
}
