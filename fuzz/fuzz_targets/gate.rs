//! `tcap_core::gate::Gate` over the built-in registry, 8 agents and a network state table, under arbitrary
//! operation sequences: checks by id and by name (agent ids in and out of range), outcomes, time steps
//! that jump and go backwards, policy changes (fail-closed ones and deliberate `set` overrides), status
//! changes and network state changes. Built with overflow checks.
//!
//! Two gates run in lockstep from identical states: `a` through `check`/`observe`, `b` through
//! `check_ct`/`observe_ct`. Invariants: nothing panics; both give the same verdict (or error) and end in
//! the same agent states; an out-of-range agent gives `AgentOutOfRange` with the capacity; scores stay
//! in `0..=SCORE_MAX`; an unknown command is never allowed under a fail-closed policy; an agent whose
//! node is blocked (quarantined or isolated) never gets `Allow`, always `Quarantined`.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use tcap_core::behavior::{AgentState, AgentStatus, Config, Outcome, SCORE_MAX};
use tcap_core::gate::{Command, Decision, Gate, GateError, Policy, Reasons};
use tcap_core::network::NodeState;
use tcap_core::registry;
use tcap_core::wire::{Risk, command_id};

const AGENTS: usize = 8;

#[derive(Arbitrary, Debug)]
enum Op {
    /// Command by id: an index into the built-in registry (`known`) or an arbitrary id.
    CheckId {
        agent: u32,
        known: bool,
        pick: u32,
        anomaly: u32,
    },
    /// Command by name: a built-in name (`pick`) or arbitrary bytes.
    CheckName {
        agent: u32,
        pick: Option<u16>,
        name: Vec<u8>,
        anomaly: u32,
    },
    Observe {
        agent: u32,
        outcome: u8,
    },
    /// Time step (microseconds); `back` moves time backwards.
    Step {
        back: bool,
        delta: u32,
        big: bool,
    },
    /// A policy from codes (refused ones keep the old policy) or the default.
    Policy {
        codes: Option<[u8; 24]>,
    },
    /// A deliberate override of one entry (may open `Unknown`).
    PolicySet {
        risk: u8,
        status: u8,
        decision: u8,
    },
    Status {
        agent: u32,
        status: u8,
    },
    Net {
        agent: u8,
        state: u8,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    config_tweak: Option<(u8, u8)>,
    ops: Vec<Op>,
}

fn node_state(v: u8) -> NodeState {
    match v % 5 {
        0 => NodeState::Healthy,
        1 => NodeState::Suspicious,
        2 => NodeState::Quarantined,
        3 => NodeState::Isolated,
        _ => NodeState::Recovering,
    }
}

fn agent_id(a: u32) -> u32 {
    // Mostly in range, sometimes just past it, sometimes anything.
    match a >> 28 {
        0..=11 => a % AGENTS as u32,
        12..=13 => AGENTS as u32 + (a & 3),
        _ => a,
    }
}

fuzz_target!(|input: Input| {
    let reg = registry::builtin();
    let entries: Vec<_> = reg.iter().collect();
    let mut config = Config::DEFAULT;
    if let Some((w, _)) = input.config_tweak {
        config.warmup_calls = u32::from(w);
    }
    let mut sa = [AgentState::FRESH; AGENTS];
    let mut sb = [AgentState::FRESH; AGENTS];
    let Ok(mut a) = Gate::new(reg, Policy::DEFAULT, config, &mut sa) else { return };
    let mut b = Gate::new(reg, Policy::DEFAULT, config, &mut sb).expect("same config accepted once");
    let mut net = [NodeState::Healthy; AGENTS];
    let mut now: u64 = 1_000_000;
    // Whether the current policy came through the fail-closed constructors (no `set` override since).
    let mut fail_closed = true;

    for op in input.ops.iter().take(512) {
        let (agent, cmd, anomaly) = match op {
            Op::CheckId { agent, known, pick, anomaly } => {
                let id = if *known && !entries.is_empty() {
                    entries[*pick as usize % entries.len()].id()
                } else {
                    *pick
                };
                (agent_id(*agent), Command::Id(id), *anomaly)
            }
            Op::CheckName { agent, pick, name, anomaly } => {
                let n: &[u8] = match pick {
                    Some(i) if !entries.is_empty() => entries[*i as usize % entries.len()].name(),
                    _ => name,
                };
                (agent_id(*agent), Command::Name(n), *anomaly)
            }
            Op::Observe { agent, outcome } => {
                let agent = agent_id(*agent);
                let outcome = Outcome::ALL[*outcome as usize % Outcome::COUNT];
                let ra = a.observe(now, agent, outcome);
                let rb = b.observe_ct(now, agent, outcome);
                assert_eq!(ra, rb);
                if agent as usize >= AGENTS {
                    assert_eq!(ra, Err(GateError::AgentOutOfRange { agent, capacity: AGENTS }));
                }
                continue;
            }
            Op::Step { back, delta, big } => {
                let d = if *big { u64::from(*delta) << 20 } else { u64::from(*delta) };
                now = if *back { now.saturating_sub(d) } else { now.saturating_add(d) };
                continue;
            }
            Op::Policy { codes } => {
                let p = match codes {
                    None => Some(Policy::DEFAULT),
                    Some(c) => Policy::from_codes(*c).ok(),
                };
                if let Some(p) = p {
                    a.set_policy(p);
                    b.set_policy(p);
                    fail_closed = true;
                }
                continue;
            }
            Op::PolicySet { risk, status, decision } => {
                let mut p = *a.policy();
                let risk = Risk::from_u8(risk % Risk::COUNT as u8).expect("risk code in range");
                let status = AgentStatus::ALL[*status as usize % AgentStatus::COUNT];
                let decision = Decision::ALL[*decision as usize % Decision::ALL.len()];
                p.set(risk, status, decision);
                if risk == Risk::Unknown && decision == Decision::Allow {
                    fail_closed = false;
                }
                a.set_policy(p);
                b.set_policy(p);
                continue;
            }
            Op::Status { agent, status } => {
                let agent = agent_id(*agent);
                let status = AgentStatus::ALL[*status as usize % AgentStatus::COUNT];
                let ra = a.set_status(now, agent, status);
                assert_eq!(ra, b.set_status(now, agent, status));
                if agent as usize >= AGENTS {
                    assert_eq!(ra, Err(GateError::AgentOutOfRange { agent, capacity: AGENTS }));
                }
                continue;
            }
            Op::Net { agent, state } => {
                net[*agent as usize % AGENTS] = node_state(*state);
                continue;
            }
        };

        let known = match cmd {
            Command::Id(id) => reg.get(id).is_some(),
            Command::Name(n) => reg.get_by_name(n).is_some(),
        };
        // Names resolve through their command id on the constant-time path, so an unregistered name
        // whose MD5 prefix is a registered id is the one legitimate difference: skip it (never seen).
        if let Command::Name(n) = cmd
            && !known
            && reg.get(command_id(n)).is_some()
        {
            continue;
        }
        let view: &[NodeState] = &net;
        let ra = a.check_with_anomaly(now, agent, cmd, &view, anomaly);
        let rb = b.check_ct(now, agent, cmd, &view, anomaly);
        assert_eq!(ra, rb, "check and check_ct disagree on {cmd:?}");
        match ra {
            Err(e) => {
                assert!(agent as usize >= AGENTS, "unexpected error {e:?}");
                assert_eq!(e, GateError::AgentOutOfRange { agent, capacity: AGENTS });
            }
            Ok(v) => {
                assert!((agent as usize) < AGENTS);
                assert!((0..=SCORE_MAX).contains(&v.score), "score {} out of range", v.score);
                let ns = net[agent as usize];
                assert_eq!(v.net_state, ns);
                if ns.is_blocked() {
                    assert_eq!(v.decision, Decision::Quarantined);
                    assert!(v.reasons.contains(Reasons::NETWORK));
                }
                if !known {
                    assert_eq!(v.risk, Risk::Unknown);
                    assert!(v.reasons.contains(Reasons::UNKNOWN_COMMAND));
                    if fail_closed {
                        assert_ne!(v.decision, Decision::Allow, "unknown command allowed");
                    }
                }
                assert_eq!(
                    v.decision,
                    if ns.is_blocked() {
                        Decision::Quarantined
                    } else {
                        a.policy().get(v.risk, v.agent_state)
                    }
                );
            }
        }
        assert_eq!(a.agents(), b.agents(), "state diverged between check and check_ct");
    }
    // The gates are done (no `Drop`): their final states are the arrays themselves.
    assert_eq!(sa, sb);
    for s in &sa {
        assert!(s.is_valid());
    }
});
