//! docs/CLI.md documents every JSON field the subcommands emit: each key of each `--json` document
//! (recursively) appears in the page inside a backtick span (`` `key` `` or `` `{a, key, b}` ``).

use std::process::Command;

use serde_json::Value;

fn tcapd_json(args: &[&str]) -> Value {
    let o = Command::new(env!("CARGO_BIN_EXE_tcapd")).args(args).output().expect("run tcapd");
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn keys(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                out.push(k.clone());
                keys(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| keys(x, out)),
        _ => {}
    }
}

#[test]
fn every_json_field_is_documented() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/CLI.md")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("b.img");
    let tsv = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/data/builtin.tsv");
    let built = Command::new(env!("CARGO_BIN_EXE_tcapd"))
        .args(["registry", "build", "--from", tsv, "-o", img.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(built.success());
    let csv = dir.path().join("d.csv");
    std::fs::write(&csv, "a,b,07/03/1998-09:00,-\na,c,07/03/1998-09:01,smurf\nb,c,07/03/1998-09:01,-\n")
        .unwrap();
    let docs = [
        tcapd_json(&["decode", "--json", "544350020002d67f249b0000170400000064000a00010389", "00"]),
        tcapd_json(&["lookup", "--json", "rm -rf /", "nosuchcommand"]),
        tcapd_json(&["registry", "inspect", "--json", "--entries", img.to_str().unwrap()]),
        tcapd_json(&["simulate", "stealth", "--json", "--seeds", "1", "--agents", "5", "--calls", "300"]),
        tcapd_json(&[
            "simulate",
            "network",
            "--json",
            "--nodes",
            "32",
            "--steps",
            "10",
            "--timed-routes",
            "100",
        ]),
        tcapd_json(&[
            "simulate",
            "darpa",
            "--json",
            "--input",
            csv.to_str().unwrap(),
            "--repeats",
            "1",
            "--seeds",
            "1",
        ]),
    ];
    let mut all = Vec::new();
    for d in &docs {
        keys(d, &mut all);
    }
    all.sort();
    all.dedup();
    assert!(all.len() > 100, "{} keys", all.len());
    // Identifiers inside backtick spans of the page (`name`, or `{a, b, c}` lists).
    let documented: std::collections::HashSet<&str> = doc
        .split('`')
        .skip(1)
        .step_by(2)
        .flat_map(|span| span.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .filter(|t| !t.is_empty())
        .collect();
    let missing: Vec<_> = all.iter().filter(|k| !documented.contains(k.as_str())).collect();
    assert!(missing.is_empty(), "fields missing from docs/CLI.md: {missing:?}");
}
