//! Gate benchmarks: `check` + `observe` per event, against in-run peers.
#![allow(missing_docs)]
//!
//! * `behaviour/1k`: the per-agent update alone (`AgentState::record_call_with` + `record_outcome_with`,
//!   with the `Tables` the gate keeps) against a
//!   plain per-agent f64 Welford/EWMA update in a `Vec<struct>`.
//! * `gate/1k`: the whole gate (`SliceLookup` + behaviour + policy) against a `hashbrown::HashMap` lookup +
//!   the f64 update + the same policy table.
//! * `gate/1M`: 1M agents (64 MiB of state), random agents, `check_batch` + `observe_batch` (look-ahead
//!   touches) against the same gate without batching and against the f64 peer with and without
//!   look-ahead.
//!
//! After criterion's groups, a short summary prints ns/event for every variant and the ratios.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group};
use tcap_core::behavior::{AgentState, Config, PopulationView, RiskClass, Tables};
use tcap_core::gate::{
    Call, Command, CommandInfo, Decision, Gate, Lookup, Observation, Policy, SliceLookup, Verdict,
};
use tcap_core::wire::Risk;

const EVENTS: usize = 1 << 16;
const BATCH: usize = 64;

use tcap_benches::{PeerState, builtin_commands, gate_commands as commands, gate_events, warm_up_gate};

struct Events {
    calls: Vec<Call>,
    obs: Vec<Observation>,
}

fn events(agents: u32, cmds: &[CommandInfo]) -> Events {
    let (calls, obs) = gate_events(EVENTS, agents, cmds);
    Events { calls, obs }
}

/// The default policy as a table, for the peers.
fn policy_rows() -> [[Decision; 4]; 6] {
    let p = Policy::DEFAULT;
    let mut rows = [[Decision::Allow; 4]; 6];
    for r in Risk::ALL {
        for s in tcap_core::behavior::AgentStatus::ALL {
            rows[r as usize][s as usize] = p.get(r, s);
        }
    }
    rows
}

// ---- the measured loops (each processes all EVENTS calls and outcomes once) ----

fn run_behaviour(
    states: &mut [AgentState],
    ev: &Events,
    classes: &hashbrown::HashMap<u32, RiskClass>,
) -> i64 {
    // Opaque to the optimiser, as they are in the gate (which keeps the same `Tables` in memory).
    let t = black_box(Tables::new(&Config::DEFAULT, &PopulationView::NONE));
    let mut acc = 0i64;
    for (c, o) in ev.calls.iter().zip(&ev.obs) {
        // The class is looked up per event as the gate does; only the update differs from the peer.
        let class = classes.get(&c.command).copied().unwrap_or(RiskClass::Unknown);
        let s = &mut states[c.agent as usize];
        acc += s.record_call_with(&t, c.now, class, 0).score as i64;
        acc += s.record_outcome_with(&t, o.now, o.outcome).score as i64;
    }
    acc
}

fn run_peer_behaviour(states: &mut [PeerState], ev: &Events, risks: &hashbrown::HashMap<u32, u8>) -> u64 {
    let mut acc = 0u64;
    for (c, o) in ev.calls.iter().zip(&ev.obs) {
        let risk = risks.get(&c.command).copied().unwrap_or(5);
        let s = &mut states[c.agent as usize];
        acc += s.call(c.now, risk) as u64;
        s.outcome(o.outcome);
    }
    acc
}

fn run_gate<L: Lookup>(g: &mut Gate<'_, L>, ev: &Events) -> u64 {
    let mut acc = 0u64;
    for (c, o) in ev.calls.iter().zip(&ev.obs) {
        let v = g.check(c.now, c.agent, Command::Id(c.command), &()).unwrap();
        acc += v.decision as u64;
        g.observe(o.now, o.agent, o.outcome).unwrap();
    }
    acc
}

/// `n` copies of `v` in a vector advised to use transparent huge pages before it is first written
/// (the 1M-agent tables of tcap and of the peer alike: 64 MiB of 4 KiB pages would make every random
/// agent a TLB miss as well as a cache miss; `tcapd` advises its agent table the same way).
fn huge_vec<T: Clone>(n: usize, v: T) -> Vec<T> {
    let mut out = Vec::with_capacity(n);
    tcap_driver::sys::advise_huge(out.as_ptr() as *const u8, n * std::mem::size_of::<T>());
    out.resize(n, v);
    out
}

fn run_gate_batched(
    g: &mut Gate<'_, SliceLookup<'_>>,
    ev: &Events,
    out: &mut [Result<Verdict, tcap_core::gate::GateError>],
    oout: &mut [Result<(), tcap_core::gate::GateError>],
) -> u64 {
    let mut acc = 0u64;
    for (cs, os) in ev.calls.chunks(BATCH).zip(ev.obs.chunks(BATCH)) {
        let n = g.check_batch(cs, &(), out);
        for v in out[..n].iter().flatten() {
            acc += v.decision as u64;
        }
        g.observe_batch(os, oout);
    }
    acc
}

fn run_peer_gate(
    states: &mut [PeerState],
    ev: &Events,
    map: &hashbrown::HashMap<u32, u8>,
    rows: &[[Decision; 4]; 6],
    lookahead: bool,
) -> u64 {
    let mut acc = 0u64;
    let mut touch = 0u64;
    // With look-ahead: the same grouping as `Gate::check_batch` (touch 16 states, then process them).
    let group = if lookahead { 16 } else { usize::MAX };
    for (cs, os) in ev.calls.chunks(group.min(ev.calls.len())).zip(ev.obs.chunks(group.min(ev.obs.len()))) {
        if lookahead {
            for c in cs {
                touch ^= states[c.agent as usize].last();
            }
        }
        for (c, o) in cs.iter().zip(os) {
            let risk = map.get(&c.command).copied().unwrap_or(5);
            let s = &mut states[c.agent as usize];
            let status = s.call(c.now, risk);
            acc += rows[risk as usize][status.min(3) as usize] as u64;
            s.outcome(o.outcome);
        }
    }
    black_box(touch);
    acc
}

struct Fixture {
    cmds: Vec<CommandInfo>,
    ev1k: Events,
    ev1m: Events,
    risks: hashbrown::HashMap<u32, u8>,
    classes: hashbrown::HashMap<u32, RiskClass>,
}

fn fixture() -> Fixture {
    let cmds = commands();
    let ev1k = events(1000, &cmds);
    let ev1m = events(1 << 20, &cmds);
    let risks = cmds.iter().map(|c| (c.id, c.risk as u8)).collect();
    let classes = cmds.iter().map(|c| (c.id, RiskClass::of(c.risk, c.flags))).collect();
    Fixture { cmds, ev1k, ev1m, risks, classes }
}

fn verdict0() -> Result<Verdict, tcap_core::gate::GateError> {
    Err(tcap_core::gate::GateError::CorruptState { agent: 0 })
}

fn bench(c: &mut Criterion) {
    let f = fixture();
    let rows = policy_rows();
    let lookup = SliceLookup::new(&f.cmds).unwrap();

    let mut g = c.benchmark_group("behaviour_1k");
    g.throughput(Throughput::Elements(EVENTS as u64));
    let mut st = vec![AgentState::FRESH; 1000];
    g.bench_function("tcap_fixed_point", |b| b.iter(|| run_behaviour(&mut st, &f.ev1k, &f.classes)));
    let mut ps = vec![PeerState::default(); 1000];
    g.bench_function("peer_f64_welford", |b| b.iter(|| run_peer_behaviour(&mut ps, &f.ev1k, &f.risks)));
    g.finish();

    let mut g = c.benchmark_group("gate_1k");
    g.throughput(Throughput::Elements(EVENTS as u64));
    let mut st = vec![AgentState::FRESH; 1000];
    let mut gate = Gate::new(lookup, Policy::DEFAULT, Config::DEFAULT, &mut st).unwrap();
    g.bench_function("tcap_gate", |b| b.iter(|| run_gate(&mut gate, &f.ev1k)));
    let mut ps = vec![PeerState::default(); 1000];
    g.bench_function("peer_hashmap_f64", |b| {
        b.iter(|| run_peer_gate(&mut ps, &f.ev1k, &f.risks, &rows, false))
    });
    g.finish();

    let mut g = c.benchmark_group("gate_1M");
    g.throughput(Throughput::Elements(EVENTS as u64));
    let mut st = huge_vec(1 << 20, AgentState::FRESH);
    let mut gate = Gate::new(lookup, Policy::DEFAULT, Config::DEFAULT, &mut st).unwrap();
    let mut out = vec![verdict0(); BATCH];
    let mut oout = vec![Ok(()); BATCH];
    g.bench_function("tcap_gate_batched", |b| {
        b.iter(|| run_gate_batched(&mut gate, &f.ev1m, &mut out, &mut oout))
    });
    g.bench_function("tcap_gate_unbatched", |b| b.iter(|| run_gate(&mut gate, &f.ev1m)));
    let mut ps = huge_vec(1 << 20, PeerState::default());
    g.bench_function("peer_hashmap_f64_lookahead", |b| {
        b.iter(|| run_peer_gate(&mut ps, &f.ev1m, &f.risks, &rows, true))
    });
    g.bench_function("peer_hashmap_f64_plain", |b| {
        b.iter(|| run_peer_gate(&mut ps, &f.ev1m, &f.risks, &rows, false))
    });
    g.finish();
}

/// Median ns/event over `reps` runs of `f` (each run = EVENTS events).
fn time(reps: usize, mut f: impl FnMut() -> u64) -> f64 {
    let mut v: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed().as_nanos() as f64 / EVENTS as f64
        })
        .collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v[reps / 2]
}

fn summary() {
    let f = fixture();
    let rows = policy_rows();
    let lookup = SliceLookup::new(&f.cmds).unwrap();
    let reps = 15;

    let mut st = vec![AgentState::FRESH; 1000];
    let b_tcap = time(reps, || run_behaviour(&mut st, &f.ev1k, &f.classes) as u64);
    let mut ps = vec![PeerState::default(); 1000];
    let b_peer = time(reps, || run_peer_behaviour(&mut ps, &f.ev1k, &f.risks));

    let mut st = vec![AgentState::FRESH; 1000];
    let mut gate = Gate::new(lookup, Policy::DEFAULT, Config::DEFAULT, &mut st).unwrap();
    let g_tcap = time(reps, || run_gate(&mut gate, &f.ev1k));
    let mut ps = vec![PeerState::default(); 1000];
    let g_peer = time(reps, || run_peer_gate(&mut ps, &f.ev1k, &f.risks, &rows, false));

    println!("\n== gate summary (median of {reps} runs, ns per event = one check + one observe) ==");
    for w in tcap_benches::environment_warnings() {
        println!("{w}");
    }
    println!(
        "behaviour 1k agents : tcap {b_tcap:6.2} ns | peer f64 Welford/EWMA {b_peer:6.2} ns | tcap/peer {:.2}",
        b_tcap / b_peer
    );
    println!(
        "whole gate 1k agents: tcap {g_tcap:6.2} ns | peer hashbrown+f64+policy {g_peer:6.2} ns | tcap/peer {:.2}",
        g_tcap / g_peer
    );

    // The product's configuration: the built-in registry (577 commands) as the lookup; the peer's
    // hashbrown map holds the same commands.
    let rcmds = builtin_commands();
    let rev = events(1000, &rcmds);
    let rrisks: hashbrown::HashMap<u32, u8> = rcmds.iter().map(|c| (c.id, c.risk as u8)).collect();
    let mut st = vec![AgentState::FRESH; 1000];
    let mut gate =
        Gate::new(tcap_core::registry::builtin(), Policy::DEFAULT, Config::DEFAULT, &mut st).unwrap();
    let r_tcap = time(reps, || run_gate(&mut gate, &rev));
    let mut ps = vec![PeerState::default(); 1000];
    let r_peer = time(reps, || run_peer_gate(&mut ps, &rev, &rrisks, &rows, false));
    println!(
        "whole gate, built-in registry, 1k agents: tcap {r_tcap:6.2} ns | peer hashbrown+f64+policy {r_peer:6.2} ns | tcap/peer {:.2}",
        r_tcap / r_peer
    );
    if std::env::args().any(|a| a == "--skip-1m") {
        return;
    }
    let mut st = huge_vec(1 << 20, AgentState::FRESH);
    let mut gate = Gate::new(lookup, Policy::DEFAULT, Config::DEFAULT, &mut st).unwrap();
    let mut out = vec![verdict0(); BATCH];
    let mut oout = vec![Ok(()); BATCH];
    let m_batched = time(reps, || run_gate_batched(&mut gate, &f.ev1m, &mut out, &mut oout));
    let m_plain = time(reps, || run_gate(&mut gate, &f.ev1m));
    // Steady state: every agent past its warm-up (`Config::warmup_calls` = 64 calls), as the agents of
    // the 1k rows are; the rows above replay 65,536 calls over 1M agents, so nearly every agent there
    // is fresh and every call evaluates at once.
    warm_up_gate(&mut gate, &f.cmds, 1 << 20, 72);
    // Interleaved (batched, unbatched, batched, ...) so that neither gets the other's state history.
    let (mut wb, mut wp) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        wb.push(time(1, || run_gate_batched(&mut gate, &f.ev1m, &mut out, &mut oout)));
        wp.push(time(1, || run_gate(&mut gate, &f.ev1m)));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let (w_batched, w_plain) = (median(&mut wb), median(&mut wp));
    let mut ps = huge_vec(1 << 20, PeerState::default());
    let m_peer_la = time(reps, || run_peer_gate(&mut ps, &f.ev1m, &f.risks, &rows, true));
    let m_peer = time(reps, || run_peer_gate(&mut ps, &f.ev1m, &f.risks, &rows, false));

    println!(
        "whole gate 1M agents: tcap batched {m_batched:6.2} ns | tcap unbatched {m_plain:6.2} ns | peer look-ahead {m_peer_la:6.2} ns | peer plain {m_peer:6.2} ns"
    );
    println!(
        "  ratios: batched/unbatched {:.2} | tcap batched / peer look-ahead {:.2} | tcap batched / peer plain {:.2}",
        m_batched / m_plain,
        m_batched / m_peer_la,
        m_batched / m_peer
    );
    println!(
        "whole gate 1M warm agents: tcap batched {w_batched:6.2} ns | tcap unbatched {w_plain:6.2} ns | tcap batched / peer look-ahead {:.2}",
        w_batched / m_peer_la
    );
}

criterion_group! {
    // (the macro generates an undocumented public fn)
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1));
    targets = bench
}

fn main() {
    let summary_only = std::env::args().any(|a| a == "--summary-only");
    if !summary_only {
        benches();
        Criterion::default().configure_from_args().final_summary();
    }
    summary();
}
