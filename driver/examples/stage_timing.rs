//! Splits the engine's cost per event into the gate's stages (docs/TIMING.md): registry lookup,
//! behaviour update, network view, policy, the whole gate, and the driver's `GateEngine` (gate + record
//! fields), on the `tcapd bench` workload (1 000 agents), one 512 KiB read batch (16 384 events) replayed
//! from the cache so that memory streaming does not count. The sketch row is the (agent, command) pair
//! sketch alone. Best of `ROUNDS` rounds, ns per event (calls and outcomes together, as in `tcapd bench`).
//!
//! `cargo run --release -p tcap-driver --example stage_timing`

use std::hint::black_box;
use std::time::Instant;

use tcap_core::behavior::sketch::tick_of;
use tcap_core::behavior::{AgentState, AgentStatus, Config, PopulationView, RiskClass};
use tcap_core::gate::{Command, Gate, Lookup, NetworkView, Policy};
use tcap_core::network::{Network, NetworkBuffers, NetworkConfig, NodeState};
use tcap_core::registry;
use tcap_core::wire::Risk;
use tcap_core::wire::record::{EventRepr, HEADER_LEN, parse_events};
use tcap_driver::engine::Engine;
use tcap_driver::gate_engine::{GateEngine, GateOptions, SKETCH_WINDOW_US, Sketch};
use tcap_driver::workload::{Workload, generate};

const BATCH: usize = 16_384;
const REPEAT: usize = 60;
const ROUNDS: usize = 7;

/// Best ns/event of `f` run over the batch `REPEAT` times per round; `f` gets the replay index.
fn time(evs: &[EventRepr], mut f: impl FnMut(usize)) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        for r in 0..REPEAT {
            f(r);
        }
        best = best.min(t.elapsed().as_nanos() as f64 / (REPEAT * evs.len()) as f64);
    }
    best
}

fn main() {
    let w = Workload { agents: 1000, events: 400_000, compromised: 0.05, seed: 1 };
    let mut bytes = Vec::new();
    generate(&w, &mut bytes).expect("in-memory write");
    let mut all = Vec::new();
    parse_events(&bytes[HEADER_LEN..], |e| all.push(e)).expect("valid stream");
    // A batch from the middle of the stream (agents warmed up by the first part).
    let (warm, rest) = all.split_at(all.len() / 2);
    let evs = &rest[..BATCH];
    let span = evs[BATCH - 1].time_us - evs[0].time_us + 1;
    let at = |r: usize, e: &EventRepr| e.time_us + r as u64 * span;
    let reg = registry::builtin();
    let cfg = Config::default();
    let policy = Policy::default();

    let lookup = time(evs, |_| {
        for e in evs {
            black_box(reg.by_id(black_box(e.command)));
        }
    });

    // Behaviour alone: the state update with the class precomputed, a fixed population view.
    let classes: Vec<RiskClass> = evs
        .iter()
        .map(|e| reg.by_id(e.command).map_or(RiskClass::Unknown, |c| RiskClass::of(c.risk, c.flags)))
        .collect();
    let mut states = vec![AgentState::FRESH; 1000];
    for e in warm {
        let c = reg.by_id(e.command).map_or(RiskClass::Unknown, |c| RiskClass::of(c.risk, c.flags));
        let s = &mut states[e.agent as usize];
        match e.outcome {
            None => drop(s.record_call(&cfg, &PopulationView::NONE, e.time_us, c, 0)),
            Some(o) => drop(s.record_outcome(&cfg, e.time_us, o)),
        }
    }
    let view = PopulationView::NONE;
    let behaviour = time(evs, |r| {
        for (e, &c) in evs.iter().zip(&classes) {
            let s = &mut states[e.agent as usize];
            match e.outcome {
                None => drop(black_box(s.record_call(&cfg, &view, at(r, e), c, 0))),
                Some(o) => drop(black_box(s.record_outcome(&cfg, at(r, e), o))),
            }
        }
    });

    let mut bufs = NetworkBuffers::<8>::new(1000);
    let mut net = Network::new(NetworkConfig::default(), 1000, bufs.storage()).unwrap();
    net.set_state(0, 7, NodeState::Quarantined).unwrap();
    let network = time(evs, |_| {
        for e in evs {
            black_box(NetworkView::node_state(&net, black_box(e.agent)));
        }
    });

    let risks: Vec<Risk> =
        evs.iter().map(|e| reg.by_id(e.command).map_or(Risk::Unknown, |c| c.risk)).collect();
    let policy_ns = time(evs, |_| {
        for (i, &r) in risks.iter().enumerate() {
            black_box(policy.get(black_box(r), AgentStatus::from_u8_saturating(i as u8 & 3)));
        }
    });

    let mut gstates = vec![AgentState::FRESH; 1000];
    let mut gate = Gate::new(reg, policy, cfg, &mut gstates).unwrap();
    for e in warm {
        match e.outcome {
            None => drop(gate.check(e.time_us, e.agent, Command::Id(e.command), &())),
            Some(o) => drop(gate.observe(e.time_us, e.agent, o)),
        }
    }
    let whole = time(evs, |r| {
        for e in evs {
            match e.outcome {
                None => drop(black_box(gate.check(at(r, e), e.agent, Command::Id(e.command), &()))),
                Some(o) => drop(black_box(gate.observe(at(r, e), e.agent, o))),
            }
        }
    });
    let whole_net = time(evs, |r| {
        for e in evs {
            match e.outcome {
                None => drop(black_box(gate.check(at(r, e), e.agent, Command::Id(e.command), &net))),
                Some(o) => drop(black_box(gate.observe(at(r, e), e.agent, o))),
            }
        }
    });

    let mut sketch = Box::new(Sketch::new(1));
    let sketch_ns = time(evs, |r| {
        for e in evs.iter().filter(|e| e.outcome.is_none()) {
            black_box(sketch.observe(tick_of(at(r, e), SKETCH_WINDOW_US), e.agent, e.command));
        }
    });

    let mut engine =
        GateEngine::builtin(&GateOptions { max_agents: 1000, ..GateOptions::default() }).unwrap();
    for e in warm {
        engine.on_event(e);
    }
    let mut shifted = evs.to_vec();
    let eng = time(evs, |r| {
        for (s, e) in shifted.iter_mut().zip(evs) {
            s.time_us = at(r, e);
        }
        for e in &shifted {
            black_box(engine.on_event(e));
        }
    });
    // The shifting loop alone, to subtract.
    let shift = time(evs, |r| {
        for (s, e) in shifted.iter_mut().zip(evs) {
            s.time_us = at(r, e);
        }
        black_box(&shifted);
    });

    let calls = evs.iter().filter(|e| e.outcome.is_none()).count() as f64 / evs.len() as f64;
    println!(
        "stage timing: {BATCH} events (calls {:.0}%), 1000 agents, best of {ROUNDS}, ns per event",
        calls * 100.0
    );
    println!("lookup (Registry::get, every event)        {lookup:6.2}");
    println!("behaviour (record_call / record_outcome)   {behaviour:6.2}");
    println!("network view (Network::node_state)         {network:6.2}");
    println!("policy (Policy::get)                       {policy_ns:6.2}");
    println!("whole gate, no network (check / observe)   {whole:6.2}");
    println!("whole gate, real Network view              {whole_net:6.2}");
    println!("sketch (PairSketch::observe, per event)    {:6.2}", sketch_ns * calls);
    println!("GateEngine::on_event (gate + record)       {:6.2}", eng - shift);
}
