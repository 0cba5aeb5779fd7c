//! `tcapd lookup` through the built binary: names, command lines and ids against the built-in
//! registry, the verdict of the default policy, unknown commands failing closed, the JSON fields.

use std::process::{Command, Output};

use serde_json::Value;
use tcap_core::behavior::AgentStatus;
use tcap_core::gate::Policy;
use tcap_core::registry::builtin;
use tcap_core::wire::{Risk, command_id, decode};

fn tcapd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tcapd")).args(args).output().expect("run tcapd")
}

fn json(args: &[&str]) -> (Output, Value) {
    let o = tcapd(args);
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)));
    (o, v)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every field docs/CLI.md documents for one `lookup --json` object, and for its `verdict`.
const FIELDS: [&str; 16] = [
    "query",
    "found",
    "matched_by",
    "matched",
    "rest",
    "name",
    "id",
    "risk",
    "flags",
    "flag_names",
    "exec_time_ms",
    "memory_mb",
    "output_kb",
    "descriptor",
    "descriptor_flavour",
    "verdict",
];
const VERDICT_FIELDS: [&str; 7] =
    ["decision", "permits", "risk", "agent_state", "score", "reasons", "reason_bits"];

fn check_fields(v: &Value) {
    let o = v.as_object().unwrap();
    assert_eq!(o.len(), FIELDS.len(), "{v}");
    for f in FIELDS {
        assert!(o.contains_key(f), "missing {f} in {v}");
    }
    let vd = v["verdict"].as_object().unwrap();
    assert_eq!(vd.len(), VERDICT_FIELDS.len(), "{v}");
    for f in VERDICT_FIELDS {
        assert!(vd.contains_key(f), "missing verdict.{f} in {v}");
    }
}

/// The default policy's decision for a trusted agent.
fn policy(risk: Risk) -> &'static str {
    Policy::DEFAULT.get(risk, AgentStatus::Trusted).as_str()
}

#[test]
fn names_command_lines_and_ids_agree_with_the_registry_and_policy() {
    let reg = builtin();
    let rm = reg.get_by_name(b"rm").expect("rm is built in");
    let ls = reg.get_by_name(b"ls").expect("ls is built in");
    let id = format!("{:#010x}", rm.id());
    let (o, v) = json(&["lookup", "--json", "ls", "rm -rf /", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let a = v.as_array().unwrap();
    assert_eq!(a.len(), 3);
    a.iter().for_each(check_fields);

    assert_eq!(a[0]["matched_by"], "name");
    assert_eq!(a[0]["name"], "ls");
    assert_eq!(a[0]["id"], format!("{:#010x}", command_id(b"ls")));
    assert_eq!(a[0]["risk"], ls.risk().as_str());
    assert_eq!(a[0]["verdict"]["decision"], policy(ls.risk()));

    assert_eq!(a[1]["matched_by"], "prefix");
    assert_eq!(a[1]["matched"], "rm");
    assert_eq!(a[1]["rest"], "-rf /");
    assert_eq!(a[1]["name"], "rm");
    assert_eq!(a[1]["risk"], rm.risk().as_str());
    assert_eq!(a[1]["verdict"]["decision"], policy(rm.risk()));
    assert_eq!(a[1]["verdict"]["agent_state"], "trusted");

    assert_eq!(a[2]["matched_by"], "id");
    assert_eq!(a[2]["name"], "rm");
    for k in ["flags", "exec_time_ms", "memory_mb", "output_kb", "descriptor", "verdict"] {
        assert_eq!(a[2][k], a[1][k], "{k}");
    }
}

#[test]
fn the_descriptor_shown_decodes_back_to_the_entry() {
    let reg = builtin();
    let names = ["git clone", "cat", "sudo", "docker run", "curl"];
    let (o, v) = json(&[&["lookup", "--json"][..], &names[..]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    for (j, name) in v.as_array().unwrap().iter().zip(names) {
        let e = reg.get_by_name(name.as_bytes()).unwrap();
        assert_eq!(j["descriptor_flavour"], "spec");
        let hex = j["descriptor"].as_str().unwrap();
        let bytes: Vec<u8> =
            (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
        let d = decode(&bytes, None).unwrap();
        assert_eq!(d.repr.command_id, e.id(), "{name}");
        assert_eq!(d.repr.flags, e.flags(), "{name}");
        assert_eq!(d.repr.exec_time_ms, e.exec_time_ms(), "{name}");
        assert_eq!(d.repr.memory_mb, e.memory_mb(), "{name}");
        assert_eq!(d.repr.output_kb, e.output_kb(), "{name}");
        assert_eq!(d.repr.command_len, Some(name.len() as u16));
        let names_json: Vec<&str> =
            j["flag_names"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
        assert_eq!(names_json, e.flags().names().collect::<Vec<_>>());
    }
}

#[test]
fn unknown_commands_fail_closed_and_exit_1() {
    let (o, v) = json(&["lookup", "--json", "ls", "frobnicate-xyz --all", "0x00000001"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("\"frobnicate-xyz --all\": unknown command"), "{err}");
    assert!(err.contains("\"0x00000001\": unknown command"), "{err}");
    let a = v.as_array().unwrap();
    a.iter().for_each(check_fields);
    assert_eq!(a[0]["found"], true);
    for u in &a[1..] {
        assert_eq!(u["found"], false);
        assert_eq!(u["risk"], "UNKNOWN");
        assert!(u["name"].is_null() && u["descriptor"].is_null());
        assert_eq!(u["verdict"]["permits"], false, "{u}");
        assert_ne!(u["verdict"]["decision"], "allow");
        assert_eq!(u["verdict"]["decision"], policy(Risk::Unknown));
        let reasons: Vec<&str> =
            u["verdict"]["reasons"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
        assert!(reasons.contains(&"unknown_command"), "{reasons:?}");
    }
    assert_eq!(a[1]["id"], format!("{:#010x}", command_id(b"frobnicate-xyz --all")));
    assert_eq!(a[2]["id"], "0x00000001");

    let o = tcapd(&["lookup", "frobnicate-xyz"]);
    assert_eq!(o.status.code(), Some(1));
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("unknown command") && s.contains("fail closed"), "{s}");
}

#[test]
fn a_bad_registry_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("junk.img");
    std::fs::write(&p, b"TCAPREG\0 but not really an image").unwrap();
    let o = tcapd(&["lookup", "--registry", p.to_str().unwrap(), "ls"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a valid registry image"), "{}", stderr(&o));
    let o = tcapd(&["lookup", "--registry", dir.path().join("absent").to_str().unwrap(), "ls"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("No such file"), "{}", stderr(&o));
}

#[test]
fn help_has_examples() {
    let h = tcapd(&["lookup", "--help"]);
    let s = String::from_utf8_lossy(&h.stdout);
    assert!(h.status.success() && s.contains("Examples:") && s.contains("Exit status"), "{s}");
    assert_eq!(tcapd(&["lookup"]).status.code(), Some(2));
}
