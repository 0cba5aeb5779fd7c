//! `tcapd simulate stealth|darpa|network` through the built binary: the flags reach the simulations,
//! the JSON reports carry the documented fields, bad arguments are refused.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::process::{Command, Output};

use serde_json::Value;

fn tcapd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tcapd")).args(args).output().expect("run tcapd")
}

fn json(args: &[&str]) -> Value {
    let o = tcapd(args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

fn has_all(v: &Value, fields: &[&str]) {
    let o = v.as_object().unwrap_or_else(|| panic!("not an object: {v}"));
    for f in fields {
        assert!(o.contains_key(*f), "missing {f} in {v}");
    }
}

#[test]
fn stealth_flags_reach_the_simulation() {
    let v = json(&["simulate", "stealth", "--seeds", "2", "--agents", "10", "--calls", "400", "--json"]);
    has_all(
        &v,
        &[
            "options",
            "benign_agents",
            "compromised_agents",
            "true_positives",
            "false_positives",
            "false_negatives",
            "precision",
            "recall",
            "min_seed_recall",
            "benign_events",
            "false_positive_events",
            "fp_per_million_benign_events",
            "benign_monitored_agents",
            "detection_delay",
            "gate_checks",
        ],
    );
    has_all(
        &v["options"],
        &["agents", "compromised_fraction", "calls", "baseline", "seeds", "variant", "seed0"],
    );
    has_all(&v["detection_delay"], &["mean", "p50", "p90", "max"]);
    assert_eq!(v["options"]["seeds"], 2);
    assert_eq!(v["options"]["variant"], "standard");
    assert_eq!(v["gate_checks"].as_u64(), Some(2 * 10 * 400));
    let (tp, fn_) = (v["true_positives"].as_u64().unwrap(), v["false_negatives"].as_u64().unwrap());
    assert_eq!(tp + fn_, v["compromised_agents"].as_u64().unwrap());
    assert_eq!(v["compromised_agents"].as_u64(), Some(2 * 2), "20% of 10 agents, 2 seeds");
    for k in ["precision", "recall"] {
        let x = v[k].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&x), "{k} {x}");
    }

    let hard = json(&["simulate", "stealth", "--seeds", "1", "--variant", "hard", "--json"]);
    assert_eq!(hard["options"]["variant"], "hard");
    let text = tcapd(&["simulate", "stealth", "--seeds", "1"]);
    let t = String::from_utf8_lossy(&text.stdout);
    assert!(text.status.success() && t.contains("precision") && t.contains("recall"), "{t}");
}

#[test]
fn network_flags_reach_the_simulation() {
    let v = json(&[
        "simulate",
        "network",
        "--nodes",
        "64",
        "--steps",
        "30",
        "--messages-per-step",
        "200",
        "--timed-routes",
        "1000",
        "--seed",
        "7",
        "--repair-threads",
        "2",
        "--json",
    ]);
    assert_eq!(v["options"]["repair_threads"], 2);
    has_all(
        &v,
        &[
            "options",
            "edges",
            "compromised",
            "detected",
            "isolated",
            "mean_time_to_detect_us",
            "mean_time_to_isolate_us",
            "messages",
            "delivered",
            "dropped",
            "hops_through_compromised_before_detection",
            "hops_through_compromised_after_detection",
            "false_convictions",
            "route_decisions",
            "ns_per_route",
            "compromised_nodes",
        ],
    );
    assert_eq!(v["options"]["nodes"], 64);
    assert_eq!(v["options"]["seed"], 7);
    assert_eq!(v["options"]["steps"], 30);
    let n = |k: &str| v[k].as_u64().unwrap();
    assert!(n("messages") > 0 && n("messages") <= 30 * 200, "at most steps x messages-per-step");
    assert_eq!(
        n("messages"),
        n("delivered") + n("dropped") + n("refused_blocked_endpoint") + n("unreachable")
    );
    assert_eq!(v["compromised_nodes"].as_array().unwrap().len() as u64, v["compromised"].as_u64().unwrap());
    assert_eq!(v["hops_through_compromised_after_detection"], 0, "issue 4's bar");
}

#[test]
fn darpa_reads_a_csv_and_reports_the_stream() {
    // A small synthetic stream in the DARPA CSV layout: src,dst,MM/DD/YYYY-HH:MM,label.
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::new();
    let mut hosts = HashSet::new();
    let mut attacks = 0;
    let mut x = 12345u64;
    for minute in 0..40u32 {
        for _ in 0..30 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let src = (x >> 33) % 16;
            let attack = minute > 30 && src == 3;
            let dst = if attack { (x >> 40) % 128 } else { (x >> 45) % 16 };
            let (s, d) = (format!("10.0.0.{src}"), format!("10.0.1.{dst}"));
            hosts.insert(s.clone());
            hosts.insert(d.clone());
            attacks += usize::from(attack);
            let label = if attack { "portsweep" } else { "-" };
            writeln!(csv, "{s},{d},07/03/1998-09:{minute:02},{label}").unwrap();
        }
    }
    let input = dir.path().join("stream.csv");
    std::fs::write(&input, csv).unwrap();
    let v = json(&[
        "simulate",
        "darpa",
        "--input",
        input.to_str().unwrap(),
        "--repeats",
        "1",
        "--seeds",
        "2",
        "--json",
    ]);
    has_all(
        &v,
        &[
            "events",
            "attacks",
            "hosts",
            "minutes",
            "sketch",
            "tcap",
            "seed_spread",
            "detectors",
            "speedup_vs_midas_r_port",
            "meets_bar",
        ],
    );
    has_all(&v["tcap"], &["detector", "auc", "events_per_s", "ns_per_event", "cpu_events_per_s", "measured"]);
    assert_eq!(v["events"], 40 * 30);
    assert_eq!(v["attacks"].as_u64(), Some(attacks as u64));
    assert_eq!(v["hosts"].as_u64(), Some(hosts.len() as u64));
    assert_eq!(v["minutes"], 40);
    assert_eq!(v["seed_spread"]["seeds"], 2);
    let auc = v["tcap"]["auc"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&auc));
}

#[test]
fn bad_arguments_are_refused() {
    let o = tcapd(&["simulate", "darpa", "--input", "/nonexistent/darpa.zip"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/darpa.zip"));
    let o = tcapd(&["simulate", "network", "--nodes", "5000"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--nodes 5000"));
    for bad in ["0", "9"] {
        let o = tcapd(&["simulate", "network", "--repair-threads", bad]);
        assert_eq!(o.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&o.stderr).contains(&format!("--repair-threads {bad}")));
    }
    let o = tcapd(&["simulate", "stealth", "--compromised", "1.5"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(tcapd(&["simulate", "stealth", "--variant", "bogus"]).status.code(), Some(2));
    assert_eq!(tcapd(&["simulate", "darpa"]).status.code(), Some(2), "--input is required");
    for sub in ["stealth", "darpa", "network"] {
        let h = tcapd(&["simulate", sub, "--help"]);
        let t = String::from_utf8_lossy(&h.stdout);
        assert!(h.status.success() && t.contains("Examples:"), "{sub}: {t}");
    }
}
