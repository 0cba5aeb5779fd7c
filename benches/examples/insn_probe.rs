//! Instruction-count regression guard for the gate's hot operations (`make insn-check`).
//!
//! ```text
//! insn_probe run OP K                      # run OP's batch K times (what valgrind measures)
//! insn_probe check BASELINE [--bless]      # measure every op under callgrind, compare or rewrite
//! ```
//!
//! Instructions per operation = `(Ir(K2) − Ir(K1)) / ((K2 − K1) · BATCH)`, with `Ir` the whole-program
//! count from `valgrind --tool=callgrind`: both runs do the same set-up, so the difference is the loop
//! alone. Inputs are deterministic (fixed seeds), so the counts repeat exactly on one build.
//!
//! Test hook: `TCAP_INSN_INFLATE=OP` runs OP twice per iteration (a simulated 2× regression), to check
//! that the guard fails. Never set it outside that test.
use std::hint::black_box;
use std::process::Command as Proc;

use tcap_benches::{Rng, gate_commands, gate_events};
use tcap_core::behavior::{AgentState, Config};
use tcap_core::gate::{Command, Gate, Policy, SliceLookup};
use tcap_core::network::{Network, NetworkBuffers, NetworkConfig, NodeId};
use tcap_core::registry::builtin;
use tcap_core::wire::{DescriptorRepr, Flags, Flavour, command_id, decode};

/// Operations per batch (each `K` iteration runs one batch).
const BATCH: usize = 4096;
/// The two iteration counts whose difference is measured.
const K1: u64 = 2;
const K2: u64 = 12;
/// Allowed growth over the baseline, percent.
const TOLERANCE_PCT: f64 = 10.0;
const OPS: [&str; 7] = [
    "decode-spec",
    "decode-kb",
    "lookup-id",
    "lookup-id-flags",
    "lookup-name",
    "gate-check-observe",
    "route",
];

const NODES: usize = 256;
type Net<'t> = Network<'t, 16>;

fn descriptors(flavour: Flavour) -> Vec<[u8; 24]> {
    let mut r = Rng(5);
    // Flag sets every flavour can carry: the gate benchmarks' five risk profiles.
    let profiles: Vec<Flags> = gate_commands().iter().map(|c| c.flags).collect();
    (0..BATCH)
        .map(|i| {
            let repr = DescriptorRepr {
                command_id: command_id(format!("tool{}", i % 97).as_bytes()),
                flags: profiles[(r.next_u64() % 32) as usize],
                exec_time_ms: (r.next_u64() % 60_000) as u32,
                memory_mb: (r.next_u64() % 4096) as u16,
                output_kb: (r.next_u64() % 1024) as u16,
                command_len: (flavour == Flavour::Spec).then_some(5),
            };
            repr.to_bytes(flavour).expect("descriptor emits")
        })
        .collect()
}

fn network(bufs: &mut NetworkBuffers<16>) -> Net<'_> {
    let mut net = Net::new(NetworkConfig::DEFAULT, NODES, bufs.storage()).expect("network");
    let mut r = Rng(7);
    let mut edges = Vec::new();
    for i in 0..NODES {
        edges.push((i as NodeId, ((i + 1) % NODES) as NodeId, 1 + (r.next_u64() % 16) as u16));
        let j = (r.next_u64() % NODES as u64) as usize;
        if j != i && j != (i + 1) % NODES && (j + 1) % NODES != i {
            edges.push((i as NodeId, j as NodeId, 1 + (r.next_u64() % 16) as u16));
        }
    }
    edges.sort_by_key(|&(a, b, _)| (a.min(b), a.max(b)));
    edges.dedup_by_key(|&mut (a, b, _)| (a.min(b), a.max(b)));
    net.add_edges(edges).expect("edges");
    net
}

/// Runs `op`'s batch `k` times (`reps` times per iteration) and returns a checksum.
fn run(op: &str, k: u64, reps: u32) -> u64 {
    let mut acc = 0u64;
    match op {
        "decode-spec" | "decode-kb" => {
            let fl = if op == "decode-spec" { Flavour::Spec } else { Flavour::KnowledgeBase };
            let ds = descriptors(fl);
            for _ in 0..k * reps as u64 {
                for d in &ds {
                    acc += decode(black_box(d), None).map_or(1, |x| x.repr.exec_time_ms as u64);
                }
            }
        }
        "lookup-id" | "lookup-id-flags" | "lookup-name" => {
            let reg = builtin();
            let entries: Vec<_> = reg.iter().collect();
            let mut r = Rng(9);
            // 7 of 8 known, 1 of 8 unknown (the miss path matters too).
            let picks: Vec<usize> =
                (0..BATCH).map(|_| (r.next_u64() % (entries.len() as u64 * 8 / 7)) as usize).collect();
            if op != "lookup-name" {
                let ids: Vec<u32> =
                    picks.iter().map(|&i| entries.get(i).map_or(0x0bad_c0de, |e| e.id())).collect();
                // `lookup-id` reads a cold field (the record in the heap), `lookup-id-flags` only
                // what the gate reads (the id bucket): two loops, so neither pays for the other.
                if op == "lookup-id" {
                    for _ in 0..k * reps as u64 {
                        for &id in &ids {
                            acc += reg.get(black_box(id)).map_or(1, |e| e.memory_mb() as u64);
                        }
                    }
                } else {
                    for _ in 0..k * reps as u64 {
                        for &id in &ids {
                            acc += reg.get(black_box(id)).map_or(1, |e| e.flags().0 as u64);
                        }
                    }
                }
            } else {
                let names: Vec<&[u8]> = picks
                    .iter()
                    .map(|&i| entries.get(i).map_or(&b"no-such-tool"[..], |e| e.name()))
                    .collect();
                for _ in 0..k * reps as u64 {
                    for &n in &names {
                        acc += reg.get_by_name(black_box(n)).map_or(1, |e| e.memory_mb() as u64);
                    }
                }
            }
        }
        "gate-check-observe" => {
            let cmds = gate_commands();
            let (calls, obs) = gate_events(BATCH, 1000, &cmds);
            for _ in 0..reps {
                let mut st = vec![AgentState::FRESH; 1000];
                let lookup = SliceLookup::new(&cmds).expect("sorted");
                let mut g = Gate::new(lookup, Policy::DEFAULT, Config::DEFAULT, &mut st).expect("gate");
                for i in 0..k {
                    // Shift time forward each pass so the agents' clocks never run backwards.
                    let base = i * 10_000_000;
                    for (c, o) in calls.iter().zip(&obs) {
                        let v = g.check(base + c.now, c.agent, Command::Id(c.command), &());
                        acc += v.map_or(7, |v| v.decision as u64);
                        acc += g.observe(base + o.now, o.agent, o.outcome).is_err() as u64;
                    }
                }
            }
        }
        "route" => {
            let mut bufs = NetworkBuffers::<16>::new(NODES);
            let net = network(&mut bufs);
            let mut r = Rng(11);
            let pairs: Vec<(NodeId, NodeId)> = (0..BATCH)
                .map(|_| ((r.next_u64() % NODES as u64) as NodeId, (r.next_u64() % NODES as u64) as NodeId))
                .collect();
            for _ in 0..k * reps as u64 {
                for &(s, t) in &pairs {
                    acc += net.route(black_box(s), black_box(t)).map_or(1, |h| h as u64);
                }
            }
        }
        _ => {
            eprintln!("unknown op {op:?}; ops: {}", OPS.join(" "));
            std::process::exit(2);
        }
    }
    acc
}

/// Whole-program instruction count of `insn_probe run OP K` under callgrind.
fn measure(op: &str, k: u64) -> Result<u64, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let out = Proc::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(&exe)
        .args(["run", op, &k.to_string()])
        .output()
        .map_err(|e| format!("cannot run valgrind: {e}"))?;
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("valgrind failed for {op} K={k}: {}\n{err}", out.status));
    }
    err.lines()
        .find_map(|l| l.split_once("Collected :").map(|(_, n)| n.trim().parse::<u64>()))
        .ok_or_else(|| format!("no 'Collected :' line from callgrind for {op} K={k}:\n{err}"))?
        .map_err(|e| format!("bad Ir count for {op} K={k}: {e}"))
}

fn read_baseline(path: &str) -> Vec<(String, f64)> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

const HEADER: &str = "\
# Instructions per operation of tcap's hot paths, counted under valgrind/callgrind by
# benches/examples/insn_probe.rs: (Ir(K2) - Ir(K1)) / ((K2 - K1) * batch), deterministic inputs.
# `make insn-check` fails when an operation exceeds its figure here by more than 10%.
# Update deliberately, never to silence a failure you have not understood: run `make insn-bless`
# after a change that is meant to cost (or save) instructions, or after a toolchain bump, and say
# in the commit message which operation moved, by how much, and why.
# op  instructions-per-op
";

fn check(path: &str, bless: bool) -> i32 {
    let t0 = std::time::Instant::now();
    let mut now = Vec::new();
    for op in OPS {
        let (a, b) = match (measure(op, K1), measure(op, K2)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("insn-check: {e}");
                return 2;
            }
        };
        now.push((op, b.saturating_sub(a) as f64 / ((K2 - K1) as f64 * BATCH as f64)));
    }
    if bless {
        let mut s = HEADER.to_string();
        for (op, v) in &now {
            s += &format!("{op} {v:.2}\n");
        }
        if let Err(e) = std::fs::write(path, s) {
            eprintln!("insn-bless: cannot write {path}: {e}");
            return 2;
        }
        for (op, v) in &now {
            println!("{op:<20} {v:>10.2}");
        }
        println!("wrote {path} ({:.1} s)", t0.elapsed().as_secs_f64());
        return 0;
    }
    let base = read_baseline(path);
    let (mut pass, mut fail) = (0, 0);
    println!("{:<20} {:>10} {:>10} {:>9}  verdict", "op", "baseline", "now", "change");
    for (op, v) in &now {
        let Some(&(_, b)) = base.iter().find(|(n, _)| n == op) else {
            println!("{op:<20} {:>10} {v:>10.2} {:>9}  FAIL (no baseline; run make insn-bless)", "-", "-");
            fail += 1;
            continue;
        };
        // Rounded to 0.1% so that the 2-decimal baseline's rounding does not print as -0.0%.
        let pct = ((v - b) / b * 1000.0).round() / 10.0 + 0.0;
        let ok = pct <= TOLERANCE_PCT;
        let verdict = if !ok {
            "FAIL"
        } else if pct < -TOLERANCE_PCT {
            "ok (faster: consider make insn-bless)"
        } else {
            "ok"
        };
        println!("{op:<20} {b:>10.2} {v:>10.2} {pct:>+8.1}%  {verdict}");
        if ok { pass += 1 } else { fail += 1 }
    }
    println!(
        "{pass} passed, {fail} failed ({:.1} s, tolerance +{TOLERANCE_PCT}%)",
        t0.elapsed().as_secs_f64()
    );
    i32::from(fail > 0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("run") if args.len() == 4 => {
            let op = &args[2];
            let k: u64 = args[3].parse().unwrap_or_else(|_| {
                eprintln!("K must be a non-negative integer");
                std::process::exit(2)
            });
            let reps = if std::env::var("TCAP_INSN_INFLATE").is_ok_and(|v| v == *op) { 2 } else { 1 };
            println!("{op} K={k} checksum {}", run(op, k, reps));
        }
        Some("check") if args.len() >= 3 => {
            let bless = args.get(3).is_some_and(|a| a == "--bless");
            std::process::exit(check(&args[2], bless));
        }
        _ => {
            eprintln!(
                "usage: insn_probe run OP K | insn_probe check BASELINE [--bless]\nops: {}",
                OPS.join(" ")
            );
            std::process::exit(2);
        }
    }
}
