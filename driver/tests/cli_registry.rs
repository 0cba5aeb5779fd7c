//! `tcapd registry build|inspect` through the built binary: TSV tables (the built-in one gives the
//! embedded image byte for byte), refusals (bad rows, duplicates) that leave no file behind, and the
//! import of upstream's tcp_complete.db and tcp_export.json followed by inspect and lookup.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tcap_core::registry::{Registry, builtin_image};
use tcap_core::wire::command_id;

fn tcapd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tcapd")).args(args).output().expect("run tcapd")
}

fn json(args: &[&str]) -> (Output, Value) {
    let o = tcapd(args);
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {} {}", String::from_utf8_lossy(&o.stdout), stderr(&o)));
    (o, v)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The shared data folder, located as `tcap_tests::shared_data()` does (`$TCAP_SHARED_DATA`, else
/// `../shared/data` beside the repository), or `None` with a message.
fn shared_data() -> Option<PathBuf> {
    let dir = match std::env::var_os("TCAP_SHARED_DATA") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
    };
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: {} is absent", dir.display());
        None
    }
}

/// Every top-level field docs/CLI.md documents for `registry inspect --json`.
const INSPECT_FIELDS: [&str; 20] = [
    "file",
    "valid",
    "magic",
    "version",
    "header_len",
    "total_len",
    "file_len",
    "entries",
    "max_words",
    "checksum",
    "checksum_computed",
    "checksum_ok",
    "id_hash_multiplier",
    "name_hash_seed",
    "id_table",
    "ids_displaced",
    "name_table",
    "record_heap",
    "risk_histogram",
    "entry_list",
];

const TSV: &str = "# a small table\n\
ls\tSAFE\t-\t5\t2\t4\tlists directory entries; read-only\n\
rm\tCRITICAL\tDESTRUCTIVE,FILE_MODIFICATION\t10\t2\t0\tdeletes files irreversibly\n\
\n\
git push\tMEDIUM\tNETWORK_ACCESS\t3000\t32\t4\tsends commits to a remote\n\
slow\tLOW\t-\t100000\t1\t1\ttakes a long time, harmlessly\n";

fn histogram_total(h: &Value) -> u64 {
    h.as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum()
}

#[test]
fn tsv_build_inspect_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("t.tsv");
    let img = dir.path().join("t.img");
    std::fs::write(&src, TSV).unwrap();
    let o = tcapd(&["registry", "build", "--from", s(&src), "-o", s(&img)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("(tsv): 4 entries read, 4 written"), "{out}");
    let bytes = std::fs::read(&img).unwrap();
    let reg = Registry::load(&bytes).unwrap();
    assert_eq!(reg.len(), 4);
    // No temporary file is left beside the output.
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 2, "{left:?}");

    let (o, v) = json(&["registry", "inspect", "--json", "--entries", s(&img)]);
    assert!(o.status.success());
    let obj = v.as_object().unwrap();
    assert_eq!(obj.len(), INSPECT_FIELDS.len(), "{v}");
    for f in INSPECT_FIELDS {
        assert!(obj.contains_key(f), "missing {f}");
    }
    assert_eq!(v["entries"], 4);
    assert_eq!(v["max_words"], 2);
    assert_eq!(v["checksum_ok"], true);
    assert_eq!(v["checksum"], v["checksum_computed"]);
    assert_eq!(v["file_len"].as_u64(), Some(bytes.len() as u64));
    assert_eq!(v["total_len"].as_u64(), Some(bytes.len() as u64));
    let h = &v["risk_histogram"];
    assert_eq!(
        (h["SAFE"].as_u64(), h["LOW_RISK"].as_u64(), h["MEDIUM_RISK"].as_u64()),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(
        (h["CRITICAL"].as_u64(), h["HIGH_RISK"].as_u64(), h["UNKNOWN"].as_u64()),
        (Some(1), Some(0), Some(0))
    );
    // Sections tile the image after the 128-byte header.
    let (id, nm, rec) = (&v["id_table"], &v["name_table"], &v["record_heap"]);
    assert_eq!(id["offset"], 128);
    assert_eq!(id["offset"].as_u64().unwrap() + id["len"].as_u64().unwrap(), nm["offset"].as_u64().unwrap());
    assert_eq!(nm["offset"].as_u64().unwrap() + nm["len"].as_u64().unwrap(), rec["offset"].as_u64().unwrap());
    assert_eq!(id["len"].as_u64().unwrap(), 64 * id["buckets"].as_u64().unwrap());
    assert!(rec["buckets"].is_null());
    // Four ids in at least two home buckets at the default density: none displaced.
    assert_eq!(v["ids_displaced"], 0);
    let list = v["entry_list"].as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["git push", "ls", "rm", "slow"]);
    assert_eq!(list[1]["id"], format!("{:#010x}", command_id(b"ls")));
    assert_eq!(list[3]["exec_time_ms"], 100000);

    let (o, v) = json(&["lookup", "--registry", s(&img), "--json", "git push --force", "slow"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(v[0]["matched"], "git push");
    assert_eq!(v[0]["rest"], "--force");
    assert_eq!(v[0]["risk"], "MEDIUM_RISK");
    // 100 s does not fit the spec layout's u16 ms: the registry layout is shown instead.
    assert_eq!(v[1]["descriptor_flavour"], "registry");

    let o = tcapd(&["registry", "inspect", s(&img)]);
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(t.contains("valid registry image") && t.contains("entries      4") && t.contains("(ok)"), "{t}");
}

#[test]
fn the_builtin_table_builds_the_embedded_image() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("b.img");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/data/builtin.tsv");
    let o = tcapd(&["registry", "build", "--from", s(&src), "-o", s(&img)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&img).unwrap(), builtin_image(), "same parser, same builder, same bytes");
}

/// `--compact` writes the same entries in a smaller image (a denser id table) that answers every
/// lookup as the default one does.
#[test]
fn compact_build_is_smaller_and_answers_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let (fast, compact) = (dir.path().join("f.img"), dir.path().join("c.img"));
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/data/builtin.tsv");
    let o = tcapd(&["registry", "build", "--from", s(&src), "-o", s(&fast)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = tcapd(&["registry", "build", "--compact", "--from", s(&src), "-o", s(&compact)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (f, c) = (std::fs::read(&fast).unwrap(), std::fs::read(&compact).unwrap());
    assert!(c.len() + 64 * 60 < f.len(), "compact {} bytes, default {}", c.len(), f.len());
    let (rf, rc) = (Registry::load(&f).unwrap(), Registry::load(&c).unwrap());
    assert_eq!(rf.len(), rc.len());
    for e in rf.iter() {
        let g = rc.get(e.id()).expect("every id found in the compact image");
        assert_eq!((g.name(), g.flags(), g.risk()), (e.name(), e.flags(), e.risk()));
        assert_eq!(rc.get_by_name(e.name()).map(|x| x.id()), Some(e.id()));
    }
    for miss in [0x0bad_c0de_u32, 0, command_id(b"no such command")] {
        assert_eq!(rf.get(miss).is_some(), rc.get(miss).is_some(), "{miss:#x}");
    }
    // `inspect` reports the price of the compact layout: more ids past their home bucket.
    let (of, vf) = json(&["registry", "inspect", "--json", s(&fast)]);
    let (oc, vc) = json(&["registry", "inspect", "--json", s(&compact)]);
    assert!(of.status.success() && oc.status.success());
    let (df, dc) = (vf["ids_displaced"].as_u64().unwrap(), vc["ids_displaced"].as_u64().unwrap());
    assert_eq!((df, dc), (rf.displaced_ids() as u64, rc.displaced_ids() as u64));
    assert!(dc > 2 * df && df * 100 <= 3 * rf.len() as u64, "displaced: fast {df}, compact {dc}");
    let text = tcapd(&["registry", "inspect", s(&compact)]);
    assert!(String::from_utf8_lossy(&text.stdout).contains(&format!("displaced    {dc} of ")));
}

#[test]
fn refusals_leave_no_file_and_keep_an_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("t.img");
    let cases = [
        (format!("{TSV}ls\tLOW\t-\t1\t1\t1\tanother ls here\n"), "duplicate name \"ls\" (line 2 and line 7)"),
        ("a\tSAFE\t-\t1\t1\n".to_string(), "line 1: 5 columns, want 7"),
        ("a\tSAFE\tBOGUS\t1\t1\t1\treason long enough\n".to_string(), "line 1: unknown flag name"),
        ("a\tSAFE\t-\t1\t99999\t1\treason long enough\n".to_string(), "line 1: memory_mb out of range"),
    ];
    for (text, want) in &cases {
        let src = dir.path().join("bad.tsv");
        std::fs::write(&src, text).unwrap();
        let o = tcapd(&["registry", "build", "--from", s(&src), "-o", s(&img)]);
        assert_eq!(o.status.code(), Some(1), "{want}");
        assert!(stderr(&o).contains(want), "{want:?} not in {}", stderr(&o));
        assert!(!img.exists(), "{want}: a failed build must not leave a file");
    }
    // An existing image survives a failed build untouched.
    std::fs::write(&img, b"old").unwrap();
    let src = dir.path().join("bad.tsv");
    let o = tcapd(&["registry", "build", "--from", s(&src), "-o", s(&img)]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(std::fs::read(&img).unwrap(), b"old");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no temporary file left");
    // Wrong format named explicitly; a missing source.
    let o = tcapd(&["registry", "build", "--from", s(&src), "--format", "tcpdb", "-o", s(&img)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a valid TCPDB container"), "{}", stderr(&o));
    let o = tcapd(&["registry", "build", "--from", s(&dir.path().join("nope")), "-o", s(&img)]);
    assert_eq!(o.status.code(), Some(1));
    // A corrupt image does not inspect.
    let good = dir.path().join("good.img");
    std::fs::write(dir.path().join("g.tsv"), TSV).unwrap();
    assert!(
        tcapd(&["registry", "build", "--from", s(&dir.path().join("g.tsv")), "-o", s(&good)])
            .status
            .success()
    );
    let mut bytes = std::fs::read(&good).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x40;
    std::fs::write(&good, &bytes).unwrap();
    let o = tcapd(&["registry", "inspect", s(&good)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a valid registry image"), "{}", stderr(&o));
}

#[test]
fn json_duplicates_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let h = "54435002000244ba5ca60000050100000064000a00010360"; // ls, knowledge-base layout
    let text = format!(
        "{{\"commands\": {{\"ls\": {{\"binary_hex\": \"{h}\"}}, \"ls\": {{\"binary_hex\": \"{h}\"}}}}}}"
    );
    let src = dir.path().join("dup.json");
    std::fs::write(&src, text).unwrap();
    let img = dir.path().join("x.img");
    let o = tcapd(&["registry", "build", "--from", s(&src), "-o", s(&img)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("duplicate name \"ls\" (commands.ls and commands.ls)"), "{}", stderr(&o));
    assert!(!img.exists());
    // A descriptor filed under the wrong name is refused too.
    let text = format!("{{\"commands\": {{\"cat\": {{\"binary_hex\": \"{h}\"}}}}}}");
    std::fs::write(&src, text).unwrap();
    let o = tcapd(&["registry", "build", "--from", s(&src), "-o", s(&img)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is not MD5(name)[0..4]"), "{}", stderr(&o));
}

#[test]
fn upstream_corpus_imports_from_tcpdb_and_json() {
    let Some(data) = shared_data() else { return };
    let db = data.join("upstream/tcp_complete.db");
    let export = data.join("upstream/tcp_export.json");
    let ex: Value = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    let commands = ex["commands"].as_object().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut images = Vec::new();
    for (src, fmt) in [(&db, "tcpdb"), (&export, "json")] {
        let img = dir.path().join(format!("{fmt}.img"));
        // Format guessed from the extension.
        let o = tcapd(&["registry", "build", "--from", s(src), "-o", s(&img)]);
        assert!(o.status.success(), "{fmt}: {}", stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        let n = commands.len();
        assert!(out.contains(&format!("({fmt}): {n} entries read, {n} written")), "{out}");
        assert!(out.contains(&format!("descriptors verified: {n} knowledge-base")), "{out}");

        let (o, v) = json(&["registry", "inspect", "--json", s(&img)]);
        assert!(o.status.success());
        assert_eq!(v["entries"].as_u64(), Some(n as u64));
        assert_eq!(v["checksum_ok"], true);
        assert!(v["entry_list"].is_null());
        // The histogram equals upstream's own risk distribution.
        let h = &v["risk_histogram"];
        assert_eq!(histogram_total(h), n as u64);
        for (risk, count) in ex["risk_distribution"].as_object().unwrap() {
            assert_eq!(h[risk.as_str()], *count, "{fmt}: {risk}");
        }

        let names = ["rm", "kill", "ls", "tar", "ssh"];
        let (o, v) = json(&[&["lookup", "--registry", s(&img), "--json"][..], &names[..]].concat());
        assert!(o.status.success(), "{}", stderr(&o));
        for (j, name) in v.as_array().unwrap().iter().zip(names) {
            assert_eq!(j["found"], true, "{name}");
            assert_eq!(j["id"], format!("{:#010x}", command_id(name.as_bytes())));
            assert_eq!(j["risk"], commands[name]["risk"], "{name}: risk as upstream labels it");
        }
        images.push(std::fs::read(&img).unwrap());
    }
    assert_eq!(images[0], images[1], "both sources hold the same 1,567 descriptors");
    // Explicit format, and a format guessed from the content (no extension).
    let copy = dir.path().join("corpus");
    std::fs::copy(&db, &copy).unwrap();
    let img = dir.path().join("guessed.img");
    assert!(tcapd(&["registry", "build", "--from", s(&copy), "-o", s(&img)]).status.success());
    assert_eq!(std::fs::read(&img).unwrap(), images[0]);
}

#[test]
fn help_has_examples() {
    for sub in [&["registry", "build", "--help"][..], &["registry", "inspect", "--help"]] {
        let h = tcapd(sub);
        let t = String::from_utf8_lossy(&h.stdout);
        assert!(h.status.success() && t.contains("Examples:") && t.contains("Exit status"), "{t}");
    }
    assert_eq!(tcapd(&["registry", "build", "--from", "x"]).status.code(), Some(2));
}
