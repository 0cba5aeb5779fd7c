//! Instruction-count driver for the gate's hot path (the machine is shared, so instructions per event
//! are the stable metric). Runs the same 65,536 events as `benches/gate.rs` `REPS` times:
//!
//! ```text
//! gate_insns behaviour|legacy|gate|batch1m REPS
//! ```
//!
//! * `behaviour`: `record_call_with` + `record_outcome_with` (the gate's `Tables`), 1k agents;
//! * `legacy`: the same through `record_call` / `record_outcome` (tables folded per call);
//! * `gate`: `Gate::check` + `Gate::observe`, `SliceLookup` over 32 commands, 1k agents;
//! * `batch1m`: `check_batch` + `observe_batch`, 1M agents (nearly all fresh);
//! * `warm1m` / `warmbatch1m`: 1M agents past their warm-up, unbatched / batched;
//! * `peer`: the bench's peer for the whole gate (hashbrown lookup + f64 Welford/EWMA + policy table).
//!
//! Instructions per event = `(Ir(REPS = 11) − Ir(REPS = 1)) / (10 · 65,536)`, with `Ir` from
//! `valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/gate_insns MODE REPS`
//! (the difference cancels set-up). The printed ns/event are only indicative.
use std::hint::black_box;
use tcap_benches::{PeerState, gate_commands, gate_events};
use tcap_core::behavior::{AgentState, Config, PopulationView, RiskClass};
use tcap_core::gate::{Command, Gate, GateError, Policy, SliceLookup, Verdict};

const EVENTS: usize = 1 << 16;
fn main() {
    let mode = std::env::args().nth(1).unwrap_or("gate".into());
    let reps: usize = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let cmds = gate_commands();
    let lookup = SliceLookup::new(&cmds).unwrap();
    let agents = if mode.contains("1m") { 1 << 20 } else { 1000 };
    let (calls, obs) = gate_events(EVENTS, agents, &cmds);
    let mut st = vec![AgentState::FRESH; agents as usize];
    let mut acc = 0u64;
    let t = std::time::Instant::now();
    match mode.as_str() {
        "behaviour" | "legacy" => {
            let legacy = mode == "legacy";
            let cfg = black_box(Config::DEFAULT);
            let pop = black_box(PopulationView::NONE);
            let t = black_box(tcap_core::behavior::Tables::new(&cfg, &pop));
            let classes: std::collections::HashMap<u32, RiskClass> =
                cmds.iter().map(|c| (c.id, RiskClass::of(c.risk, c.flags))).collect();
            let cl: Vec<RiskClass> = calls
                .iter()
                .map(|c| classes.get(&c.command).copied().unwrap_or(RiskClass::Unknown))
                .collect();
            for _ in 0..reps {
                for ((c, o), &class) in calls.iter().zip(&obs).zip(&cl) {
                    let s = &mut st[c.agent as usize];
                    if legacy {
                        acc += s.record_call(&cfg, &pop, c.now, class, 0).score as u64;
                        acc += s.record_outcome(&cfg, o.now, o.outcome).score as u64;
                    } else {
                        acc += s.record_call_with(&t, c.now, class, 0).score as u64;
                        acc += s.record_outcome_with(&t, o.now, o.outcome).score as u64;
                    }
                }
            }
        }
        "gatereg" => {
            // The whole gate over the built-in registry (577 commands), events over its commands.
            let cmds = tcap_benches::builtin_commands();
            let (calls, obs) = gate_events(EVENTS, agents, &cmds);
            let reg = tcap_core::registry::builtin();
            let mut g = Gate::new(reg, Policy::DEFAULT, Config::DEFAULT, &mut st).unwrap();
            for _ in 0..reps {
                for (c, o) in calls.iter().zip(&obs) {
                    let v = g.check(c.now, c.agent, Command::Id(c.command), &()).unwrap();
                    acc += v.decision as u64;
                    g.observe(o.now, o.agent, o.outcome).unwrap();
                }
            }
        }
        "peerreg" => {
            let cmds = tcap_benches::builtin_commands();
            let (calls, obs) = gate_events(EVENTS, agents, &cmds);
            acc += run_peer(&cmds, &calls, &obs, agents, reps);
        }
        "gate" => {
            let mut g = Gate::new(lookup, Policy::DEFAULT, Config::DEFAULT, &mut st).unwrap();
            for _ in 0..reps {
                for (c, o) in calls.iter().zip(&obs) {
                    let v = g.check(c.now, c.agent, Command::Id(c.command), &()).unwrap();
                    acc += v.decision as u64;
                    g.observe(o.now, o.agent, o.outcome).unwrap();
                }
            }
        }
        "peer" => acc += run_peer(&cmds, &calls, &obs, agents, reps),
        "warm1m" => {
            // 1M agents past their warm-up (set-up cancels in the REPS difference), unbatched.
            let mut g = Gate::new(lookup, Policy::DEFAULT, Config::DEFAULT, &mut st).unwrap();
            tcap_benches::warm_up_gate(&mut g, &cmds, agents, 72);
            for _ in 0..reps {
                for (c, o) in calls.iter().zip(&obs) {
                    let v = g.check(c.now, c.agent, Command::Id(c.command), &()).unwrap();
                    acc += v.decision as u64;
                    g.observe(o.now, o.agent, o.outcome).unwrap();
                }
            }
        }
        _ => {
            let mut g = Gate::new(lookup, Policy::DEFAULT, Config::DEFAULT, &mut st).unwrap();
            if mode == "warmbatch1m" {
                tcap_benches::warm_up_gate(&mut g, &cmds, agents, 72);
            }
            let mut out: Vec<Result<Verdict, GateError>> =
                vec![Err(GateError::CorruptState { agent: 0 }); 64];
            let mut oout = vec![Ok(()); 64];
            for _ in 0..reps {
                for (cs, os) in calls.chunks(64).zip(obs.chunks(64)) {
                    let n = g.check_batch(cs, &(), &mut out);
                    for v in out[..n].iter().flatten() {
                        acc += v.decision as u64;
                    }
                    g.observe_batch(os, &mut oout);
                }
            }
        }
    }
    let ns = t.elapsed().as_nanos() as f64 / (reps * EVENTS) as f64;
    println!("{mode} acc {acc} {ns:.2} ns/event");
}

/// The whole-gate peer: a hashbrown lookup, the f64 update and the policy table.
fn run_peer(
    cmds: &[tcap_core::gate::CommandInfo],
    calls: &[tcap_core::gate::Call],
    obs: &[tcap_core::gate::Observation],
    agents: u32,
    reps: usize,
) -> u64 {
    let mut acc = 0u64;
    let map: hashbrown::HashMap<u32, u8> = cmds.iter().map(|c| (c.id, c.risk as u8)).collect();
    let rows: Vec<u8> = (0..24).map(|i| (i / 4 + i % 4) as u8).collect();
    let mut ps = vec![PeerState::default(); agents as usize];
    for _ in 0..reps {
        for (c, o) in calls.iter().zip(obs) {
            let risk = map.get(&c.command).copied().unwrap_or(5);
            let s = &mut ps[c.agent as usize];
            let status = s.call(c.now, risk);
            acc += rows[risk as usize * 4 + status.min(3) as usize] as u64;
            s.outcome(o.outcome);
        }
    }
    acc
}
