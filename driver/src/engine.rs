//! The seam between the I/O driver and the decision logic.
//!
//! Every per-record operation of `tcapd` goes through [`Engine`]: the I/O paths (io_uring, blocking,
//! mmap, serve) only move bytes and call it. The product engine is
//! [`GateEngine`](crate::gate_engine::GateEngine) over `tcap_core::gate::Gate`; this module holds
//! [`TestEngine`], a small deterministic engine kept as a reference column of `tcapd bench` and for unit
//! tests of the seam, and [`NullEngine`]. Neither is the product policy.

use core::fmt;

use tcap_core::network::NodeState;
use tcap_core::wire::Risk;
use tcap_core::wire::record::{AgentState, Decision, DecisionRepr, EventRepr, Outcome};

/// Why an engine refused a snapshot payload (the snapshot file framing is checked before this).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotError {
    /// The payload length does not fit the engine's layout.
    Length {
        /// Length the engine expected.
        expected: usize,
        /// Length found.
        found: usize,
    },
    /// The snapshot was taken by an engine with a different shape (e.g. capacity).
    Incompatible(&'static str),
    /// A field holds a value the engine cannot hold.
    Corrupt(&'static str),
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::Length { expected, found } => {
                write!(f, "engine state is {found} bytes, expected {expected}")
            }
            SnapshotError::Incompatible(why) => write!(f, "incompatible engine state: {why}"),
            SnapshotError::Corrupt(why) => write!(f, "corrupt engine state: {why}"),
        }
    }
}

impl std::error::Error for SnapshotError {}

/// What the driver needs from the decision logic. One engine serves every stream of a process (all
/// connections of `serve` share it), on one thread.
pub trait Engine {
    /// Eight bytes naming the engine and its state layout, written into snapshot files so a snapshot
    /// of one engine is never restored into another.
    fn snapshot_kind(&self) -> [u8; 8];

    /// Handles one validated event. A call returns the decision for it; an outcome updates the agent
    /// and may return `None`. The event's `time_us` is the engine's notion of now.
    fn on_event(&mut self, ev: &EventRepr) -> Option<DecisionRepr>;

    /// Appends the engine's complete state to `out` (the driver frames, checksums and writes it).
    fn snapshot_into(&self, out: &mut Vec<u8>);

    /// Replaces the engine's state with a payload produced by [`Engine::snapshot_into`]. On error the
    /// engine is unchanged.
    fn restore(&mut self, bytes: &[u8]) -> Result<(), SnapshotError>;

    /// A line for the exit report about anything the engine had to refuse or work around (e.g. events
    /// for agents beyond its capacity); `None` when there is nothing to say.
    fn report(&self) -> Option<String> {
        None
    }
}

/// Reason bit: the command's risk drove the decision.
pub const REASON_RISK: u32 = 1 << 0;
/// Reason bit: the agent's state drove the decision.
pub const REASON_AGENT_STATE: u32 = 1 << 1;
/// Reason bit: the command is not known (fail closed).
pub const REASON_UNKNOWN_COMMAND: u32 = 1 << 2;
/// Reason bit: the agent id is beyond the engine's capacity.
pub const REASON_AGENT_RANGE: u32 = 1 << 3;

/// Per-agent counters of [`TestEngine`] (24 bytes, little-endian in snapshots).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct TestAgent {
    calls: u32,
    outcomes: u32,
    risky: u32,
    errors: u32,
    score: i32,
    state: u32,
}

const AGENT_BYTES: usize = 24;
const TABLE_BITS: u32 = 11;

/// A small deterministic engine for tests and benchmarks — **not the product policy**.
///
/// Risk comes from a built-in table of command names when the id is in it, otherwise from the id's
/// bits (`id % 6`, so 1 in 6 ids is [`Risk::Unknown`] and denied). Each agent keeps an integer score:
/// every call decays it by 1/32 and adds a weight for the call's risk; failed outcomes add a penalty.
/// States follow the score with hysteresis (up at 400/800/1600, down below half of that), and the
/// decision is a fixed table of risk × state. Outcomes produce no decision.
#[derive(Clone, Debug)]
pub struct TestEngine {
    agents: Vec<TestAgent>,
    /// Direct-mapped (id, risk) table with linear probing; `risk == u8::MAX` marks an empty slot.
    table: Vec<(u32, u8)>,
}

impl TestEngine {
    /// An engine for agent ids `0..capacity`, with no named commands.
    pub fn new(capacity: usize) -> TestEngine {
        let agents = vec![TestAgent::default(); capacity];
        crate::sys::advise_huge(agents.as_ptr().cast(), agents.len() * size_of::<TestAgent>());
        TestEngine { agents, table: vec![(0, u8::MAX); 1 << TABLE_BITS] }
    }

    /// An engine that knows the risk of the built-in registry's commands.
    pub fn with_builtin_names(capacity: usize) -> TestEngine {
        let mut e = TestEngine::new(capacity);
        for entry in tcap_core::registry::builtin().iter() {
            e.insert(entry.id(), entry.risk());
        }
        e
    }

    /// Agent capacity.
    pub fn capacity(&self) -> usize {
        self.agents.len()
    }

    fn insert(&mut self, id: u32, risk: Risk) {
        let mask = (1usize << TABLE_BITS) - 1;
        let mut i = id as usize & mask;
        // The table holds the built-in registry (< 1000 names) in 2048 slots, so a free slot is found.
        for _ in 0..self.table.len() {
            if self.table[i].1 == u8::MAX || self.table[i].0 == id {
                self.table[i] = (id, risk as u8);
                return;
            }
            i = (i + 1) & mask;
        }
    }

    #[inline]
    fn risk_of(&self, id: u32) -> Risk {
        let mask = (1usize << TABLE_BITS) - 1;
        let mut i = id as usize & mask;
        loop {
            let (k, r) = self.table[i];
            if r == u8::MAX {
                break;
            }
            if k == id {
                return Risk::from_u8(r).unwrap_or(Risk::Unknown);
            }
            i = (i + 1) & mask;
        }
        Risk::from_u8((id % 6) as u8).unwrap_or(Risk::Unknown)
    }

    /// The state of agent `agent`, if it is within capacity.
    pub fn agent_state(&self, agent: u32) -> Option<AgentState> {
        self.agents.get(agent as usize).and_then(|a| AgentState::from_u8(a.state as u8))
    }
}

const fn weight(r: Risk) -> i32 {
    match r {
        Risk::Safe => 0,
        Risk::Low => 2,
        Risk::Medium => 6,
        Risk::High => 24,
        Risk::Critical => 64,
        Risk::Unknown => 32,
    }
}

const UP: [i32; 3] = [400, 800, 1600];

fn next_state(state: u32, score: i32) -> u32 {
    let mut s = state.min(3);
    while s < 3 && score >= UP[s as usize] {
        s += 1;
    }
    while s > 0 && score < UP[s as usize - 1] / 2 {
        s -= 1;
    }
    s
}

fn policy(risk: Risk, state: AgentState) -> Decision {
    use Decision::*;
    if state == AgentState::Quarantined {
        return Quarantined;
    }
    let row: [Decision; 6] = match state {
        AgentState::Trusted => [Allow, Allow, Caution, RequireApproval, Deny, Deny],
        AgentState::Monitored => [Allow, Caution, RequireApproval, Deny, Deny, Deny],
        _ => [Caution, RequireApproval, Deny, Deny, Deny, Deny],
    };
    row[risk as usize]
}

impl Engine for TestEngine {
    fn snapshot_kind(&self) -> [u8; 8] {
        *b"TESTENG1"
    }

    #[inline]
    fn on_event(&mut self, ev: &EventRepr) -> Option<DecisionRepr> {
        let risk = self.risk_of(ev.command);
        let Some(a) = self.agents.get_mut(ev.agent as usize) else {
            return ev.outcome.is_none().then_some(DecisionRepr {
                seq: ev.seq,
                agent: ev.agent,
                command: ev.command,
                decision: Decision::Deny,
                risk,
                agent_state: AgentState::Restricted,
                net_state: NodeState::Healthy,
                score: 0,
                reasons: REASON_AGENT_RANGE,
            });
        };
        match ev.outcome {
            Some(o) => {
                a.outcomes = a.outcomes.wrapping_add(1);
                if o != Outcome::Success {
                    a.errors = a.errors.wrapping_add(1);
                    a.score = a.score.saturating_add(24);
                    a.state = next_state(a.state, a.score);
                }
                None
            }
            None => {
                a.calls = a.calls.wrapping_add(1);
                if risk >= Risk::High {
                    a.risky = a.risky.wrapping_add(1);
                }
                a.score = a.score - (a.score >> 5) + weight(risk);
                a.state = next_state(a.state, a.score);
                let agent_state = AgentState::from_u8(a.state as u8).unwrap_or(AgentState::Quarantined);
                let decision = policy(risk, agent_state);
                let mut reasons = 0;
                if decision != Decision::Allow {
                    reasons |= REASON_RISK;
                }
                if agent_state != AgentState::Trusted {
                    reasons |= REASON_AGENT_STATE;
                }
                if risk == Risk::Unknown {
                    reasons |= REASON_UNKNOWN_COMMAND;
                }
                let net_state = match agent_state {
                    AgentState::Trusted => NodeState::Healthy,
                    AgentState::Monitored | AgentState::Restricted => NodeState::Suspicious,
                    AgentState::Quarantined => NodeState::Quarantined,
                };
                Some(DecisionRepr {
                    seq: ev.seq,
                    agent: ev.agent,
                    command: ev.command,
                    decision,
                    risk,
                    agent_state,
                    net_state,
                    score: a.score,
                    reasons,
                })
            }
        }
    }

    fn snapshot_into(&self, out: &mut Vec<u8>) {
        out.reserve(4 + self.agents.len() * AGENT_BYTES);
        out.extend_from_slice(&(self.agents.len() as u32).to_le_bytes());
        for a in &self.agents {
            for v in [a.calls, a.outcomes, a.risky, a.errors, a.score as u32, a.state] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        let expected = 4 + self.agents.len() * AGENT_BYTES;
        let Some((cap, rest)) = bytes.split_first_chunk::<4>() else {
            return Err(SnapshotError::Length { expected, found: bytes.len() });
        };
        if u32::from_le_bytes(*cap) as usize != self.agents.len() {
            return Err(SnapshotError::Incompatible("agent capacity differs from this engine's"));
        }
        if bytes.len() != expected {
            return Err(SnapshotError::Length { expected, found: bytes.len() });
        }
        let mut agents = Vec::with_capacity(self.agents.len());
        for chunk in rest.chunks_exact(AGENT_BYTES) {
            let w = |i: usize| u32::from_le_bytes([chunk[i], chunk[i + 1], chunk[i + 2], chunk[i + 3]]);
            let a = TestAgent {
                calls: w(0),
                outcomes: w(4),
                risky: w(8),
                errors: w(12),
                score: w(16) as i32,
                state: w(20),
            };
            if a.state > 3 {
                return Err(SnapshotError::Corrupt("agent state out of range"));
            }
            agents.push(a);
        }
        self.agents.copy_from_slice(&agents);
        Ok(())
    }
}

/// An engine that allows every call and keeps no state: measures the driver without decision logic
/// (benchmarks only — **never** a policy).
#[derive(Clone, Copy, Debug, Default)]
pub struct NullEngine;

impl Engine for NullEngine {
    fn snapshot_kind(&self) -> [u8; 8] {
        *b"NULLENG1"
    }
    #[inline]
    fn on_event(&mut self, ev: &EventRepr) -> Option<DecisionRepr> {
        ev.outcome.is_none().then_some(DecisionRepr {
            seq: ev.seq,
            agent: ev.agent,
            command: ev.command,
            decision: Decision::Allow,
            risk: Risk::Unknown,
            agent_state: AgentState::Trusted,
            net_state: NodeState::Healthy,
            score: 0,
            reasons: 0,
        })
    }
    fn snapshot_into(&self, _out: &mut Vec<u8>) {}
    fn restore(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        if bytes.is_empty() { Ok(()) } else { Err(SnapshotError::Length { expected: 0, found: bytes.len() }) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(seq: u64, agent: u32, command: u32) -> EventRepr {
        EventRepr { seq, time_us: seq * 10, agent, command, outcome: None }
    }

    #[test]
    fn calls_decide_outcomes_do_not() {
        let mut e = TestEngine::with_builtin_names(8);
        let ls = tcap_core::wire::command_id(b"ls");
        let d = e.on_event(&call(1, 3, ls)).unwrap();
        assert_eq!((d.seq, d.agent, d.command, d.decision, d.risk), (1, 3, ls, Decision::Allow, Risk::Safe));
        let o = EventRepr { outcome: Some(Outcome::Error), ..call(2, 3, ls) };
        assert_eq!(e.on_event(&o), None);
        let out_of_range = e.on_event(&call(3, 8, ls)).unwrap();
        assert_eq!(out_of_range.decision, Decision::Deny);
        assert_eq!(out_of_range.reasons, REASON_AGENT_RANGE);
    }

    #[test]
    fn risky_agent_escalates_and_recovers_with_hysteresis() {
        let mut e = TestEngine::with_builtin_names(2);
        let rm = tcap_core::wire::command_id(b"rm");
        let ls = tcap_core::wire::command_id(b"ls");
        let mut seq = 0;
        let mut states = Vec::new();
        for _ in 0..200 {
            seq += 1;
            states.push(e.on_event(&call(seq, 0, rm)).unwrap().agent_state);
        }
        assert_eq!(*states.last().unwrap(), AgentState::Quarantined);
        assert!(states.windows(2).all(|w| w[0] <= w[1]), "escalation is monotone under constant pressure");
        for _ in 0..400 {
            seq += 1;
            e.on_event(&call(seq, 0, ls));
        }
        assert_eq!(e.agent_state(0), Some(AgentState::Trusted));
        assert_eq!(e.agent_state(1), Some(AgentState::Trusted), "other agents untouched");
    }

    #[test]
    fn snapshot_round_trip_and_refusals() {
        let mut e = TestEngine::with_builtin_names(4);
        for i in 0..100 {
            e.on_event(&call(i, (i % 4) as u32, i as u32 * 7919));
        }
        let mut snap = Vec::new();
        e.snapshot_into(&mut snap);
        let mut f = TestEngine::with_builtin_names(4);
        f.restore(&snap).unwrap();
        let mut snap2 = Vec::new();
        f.snapshot_into(&mut snap2);
        assert_eq!(snap, snap2);
        // Same future behaviour.
        for i in 100..200 {
            let ev = call(i, (i % 4) as u32, i as u32 * 31);
            assert_eq!(e.on_event(&ev), f.on_event(&ev));
        }
        let mut g = TestEngine::new(5);
        assert!(matches!(g.restore(&snap), Err(SnapshotError::Incompatible(_))));
        assert!(matches!(f.restore(&snap[..snap.len() - 1]), Err(SnapshotError::Length { .. })));
        let mut bad = snap.clone();
        bad[4 + 20] = 9;
        assert_eq!(f.restore(&bad), Err(SnapshotError::Corrupt("agent state out of range")));
    }
}
