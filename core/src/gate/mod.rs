//! The gate: descriptor × behaviour × network → verdict, for every tool call, in nanoseconds.
//!
//! A [`Gate`] owns a [`Lookup`] (the registry), a [`Policy`], a behaviour [`Config`], the caller's agent
//! storage (`&mut [AgentState]`) and the population baseline. [`Gate::check`] records the call in the
//! agent's state and returns a [`Verdict`]; [`Gate::observe`] records its outcome. Agent ids beyond the
//! storage are a typed error, never a panic or an alias. Unknown commands are never allowed by default.
//! [`Gate::check_ct`] is the constant-time evaluation path; [`Gate::check_batch`] serves agent tables
//! larger than the cache by touching the states of upcoming calls before it needs them.

mod impls;
mod lookup;
mod policy;
#[cfg(test)]
mod tests;

use core::fmt;

pub use impls::RestoreError;
pub use lookup::{CommandInfo, Lookup, NetworkView, SliceLookup, SliceLookupError};
pub use policy::{Decision, Policy, PolicyError};

use crate::Micros;
use crate::behavior::fixed::{mask32, sel_u32};
use crate::behavior::{
    AgentState, AgentStatus, Config, ConfigError, Evidence, Outcome, Population, PopulationView, RiskClass,
    Tables,
};
use crate::network::NodeState;
use crate::wire::{Flags, Risk, command_id};

/// Why a verdict was what it was: a bitset with frozen bit positions (records, C ABI).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Reasons(pub u32);

impl Reasons {
    /// The command is not in the registry (treated as `Risk::Unknown`).
    pub const UNKNOWN_COMMAND: Reasons = Reasons(1 << 0);
    /// The command's risk alone (for a trusted agent) is not `Allow`.
    pub const RISK: Reasons = Reasons(1 << 1);
    /// The agent is not trusted.
    pub const AGENT_STATE: Reasons = Reasons(1 << 2);
    /// The network has quarantined or isolated the agent.
    pub const NETWORK: Reasons = Reasons(1 << 3);
    /// Risk-profile evidence: the call's class is unusual for this agent, in the risky direction.
    pub const PROFILE: Reasons = Reasons(1 << 4);
    /// Burst evidence: calls faster than the agent's baseline.
    pub const BURST: Reasons = Reasons(1 << 5);
    /// Population evidence: far more high-risk calls than the population.
    pub const POPULATION: Reasons = Reasons(1 << 6);
    /// Novelty evidence from the sketch anomaly score.
    pub const NOVELTY: Reasons = Reasons(1 << 7);
    /// Outcome evidence (errors, denials, timeouts) since the previous call.
    pub const OUTCOMES: Reasons = Reasons(1 << 8);
    /// The agent's status rose on this call.
    pub const ESCALATED: Reasons = Reasons(1 << 9);
    /// The network watches the agent (suspicious or recovering), informational.
    pub const NETWORK_WATCH: Reasons = Reasons(1 << 10);

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Reasons) -> bool {
        self.0 & other.0 == other.0
    }
    /// Union.
    pub const fn union(self, other: Reasons) -> Reasons {
        Reasons(self.0 | other.0)
    }
    /// The reason bits for behaviour evidence bits.
    pub const fn from_evidence(e: Evidence) -> Reasons {
        Reasons((e.0 as u32 & 0x1f) << 4)
    }
}

/// The answer for one tool call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// What the host should do.
    pub decision: Decision,
    /// The command's risk level (`Unknown` if it is not known).
    pub risk: Risk,
    /// The agent's status after recording this call.
    pub agent_state: AgentStatus,
    /// The agent's node state in the network.
    pub net_state: NodeState,
    /// The agent's evidence score after this call: Q16.16 bits of log-odds (65536 = 1 bit), in
    /// `0..=behavior::SCORE_MAX`.
    pub score: i32,
    /// Why.
    pub reasons: Reasons,
}

/// A command named by id or by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// TCP command id.
    Id(u32),
    /// Command name as written (hashed or looked up exactly).
    Name(&'a [u8]),
}

/// Errors of the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GateError {
    /// The agent id is not below the capacity of the agent storage.
    AgentOutOfRange {
        /// The id asked for.
        agent: u32,
        /// The number of agent slots.
        capacity: usize,
    },
    /// The agent's stored state is not valid (e.g. a corrupt or foreign snapshot).
    CorruptState {
        /// The agent.
        agent: u32,
    },
    /// The behaviour configuration was refused.
    Config(ConfigError),
}

impl fmt::Display for GateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GateError::AgentOutOfRange { agent, capacity } => {
                write!(f, "agent {agent} is out of range (capacity {capacity})")
            }
            GateError::CorruptState { agent } => write!(f, "agent {agent} has a corrupt state"),
            GateError::Config(e) => write!(f, "invalid behaviour configuration: {e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for GateError {}

impl From<ConfigError> for GateError {
    fn from(e: ConfigError) -> Self {
        GateError::Config(e)
    }
}

/// One tool call in a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    /// Time of the call.
    pub now: Micros,
    /// The agent.
    pub agent: u32,
    /// The command id.
    pub command: u32,
}

/// One outcome in a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Observation {
    /// Time of the outcome.
    pub now: Micros,
    /// The agent.
    pub agent: u32,
    /// How the call ended.
    pub outcome: Outcome,
}

/// How many calls ahead of the one it evaluates [`Gate::check_batch`] (and
/// [`Gate::observe_batch`]) prefetches the agent's state: enough to cover a miss to DRAM (~100 ns)
/// with the work of the calls in between at 1M agents.
pub const PREFETCH_DISTANCE: usize = 8;
/// The population view is refreshed whenever a class count passes a multiple of this plus one.
const POP_REFRESH_MASK: u64 = 1023;

/// The agent's slot, if in range and plausibly valid. A free function so that callers can borrow the
/// configuration and the population view alongside it without copying them.
#[inline(always)]
fn slot_in(states: &mut [AgentState], agent: u32) -> Result<&mut AgentState, GateError> {
    let capacity = states.len();
    match states.get_mut(agent as usize) {
        // The cheap part of `is_valid` on the hot path: the update itself clamps every other field
        // into range, and snapshots are validated in full when loaded.
        Some(s) if s.version <= AgentState::VERSION && s.status < 4 => Ok(s),
        Some(_) => Err(GateError::CorruptState { agent }),
        None => Err(GateError::AgentOutOfRange { agent, capacity }),
    }
}

/// The gate. See the module documentation.
pub struct Gate<'s, L: Lookup> {
    lookup: L,
    policy: Policy,
    config: Config,
    states: &'s mut [AgentState],
    population: Population,
    view: PopulationView,
    /// `config` and `view` folded for the hot path; refreshed with `view`.
    tables: Tables,
    /// The policy folded with its static reasons, per `risk·4 + status`. Rebuilt with the policy.
    rows: [Row; Policy::LEN],
}

/// One entry of [`Gate::rows`]: the decision, kept as a [`Decision`] (not a code to convert back on
/// every call), and the [`Reasons`] bits it implies (`RISK`, `AGENT_STATE`).
#[derive(Clone, Copy)]
struct Row {
    decision: Decision,
    reasons: u32,
}

/// [`Gate::rows`] for `policy`.
fn policy_rows(policy: &Policy) -> [Row; Policy::LEN] {
    core::array::from_fn(|i| {
        let (risk, status) = (Risk::from_u8((i / AgentStatus::COUNT) as u8), i % AgentStatus::COUNT);
        let risk = risk.unwrap_or(Risk::Unknown);
        let status = AgentStatus::from_u8_saturating(status as u8);
        let mut reasons = 0;
        if policy.get(risk, AgentStatus::Trusted) != Decision::Allow {
            reasons |= Reasons::RISK.0;
        }
        if status != AgentStatus::Trusted {
            reasons |= Reasons::AGENT_STATE.0;
        }
        Row { decision: policy.get(risk, status), reasons }
    })
}

impl<L: Lookup> fmt::Debug for Gate<'_, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate")
            .field("policy", &self.policy)
            .field("config", &self.config)
            .field("agents", &self.states.len())
            .field("population", &self.population)
            .finish_non_exhaustive()
    }
}

impl<'s, L: Lookup> Gate<'s, L> {
    /// A gate over `states` (one slot per agent id; all zeros = fresh agents). Refuses an invalid config.
    pub fn new(
        lookup: L,
        policy: Policy,
        config: Config,
        states: &'s mut [AgentState],
    ) -> Result<Self, GateError> {
        let config = config.validate()?;
        let mut g = Gate {
            lookup,
            policy,
            config,
            states,
            population: Population::EMPTY,
            view: PopulationView::NONE,
            tables: Tables::new(&config, &PopulationView::NONE),
            rows: policy_rows(&policy),
        };
        g.rebuild_population();
        Ok(g)
    }

    /// Number of agent slots.
    pub fn capacity(&self) -> usize {
        self.states.len()
    }
    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
    /// Replaces the policy.
    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
        self.rows = policy_rows(&policy);
    }
    /// The behaviour configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }
    /// The lookup.
    pub fn lookup(&self) -> &L {
        &self.lookup
    }
    /// All agent states (e.g. to snapshot them as bytes).
    pub fn agents(&self) -> &[AgentState] {
        self.states
    }
    /// One agent's state.
    pub fn agent(&self, agent: u32) -> Result<&AgentState, GateError> {
        let capacity = self.states.len();
        self.states.get(agent as usize).ok_or(GateError::AgentOutOfRange { agent, capacity })
    }
    /// The population statistics.
    pub fn population(&self) -> Population {
        self.population
    }
    /// The population view the hot path uses.
    pub fn population_view(&self) -> PopulationView {
        self.view
    }
    /// Merges another shard's population statistics into this gate's.
    pub fn merge_population(&mut self, other: Population) {
        self.population = self.population.merge(other);
        self.refresh_view();
    }
    /// Derives the population view and the hot-path tables from the population statistics.
    fn refresh_view(&mut self) {
        self.view = self.population.view(self.config.pop_min_samples);
        self.tables = Tables::new(&self.config, &self.view);
    }
    /// Rebuilds the population statistics from the agent states (O(n); e.g. after loading a snapshot):
    /// one sample per agent past its warm-up.
    pub fn rebuild_population(&mut self) {
        self.population = Population::of_agents(self.states, self.config.warmup_calls.max(1));
        self.refresh_view();
    }
    /// Operator override of an agent's status (e.g. release from quarantine).
    pub fn set_status(&mut self, now: Micros, agent: u32, status: AgentStatus) -> Result<(), GateError> {
        let cfg = self.config;
        let s = self.slot(agent)?;
        s.set_status(&cfg, now, status);
        Ok(())
    }

    #[inline(always)]
    fn slot(&mut self, agent: u32) -> Result<&mut AgentState, GateError> {
        slot_in(self.states, agent)
    }

    /// Feeds the population with a micro-window that just closed (`closed`): the calls it held
    /// (`before`, the agent's open window before this call, plus this call of class `class`) and one
    /// sample of the agent's recent high-risk fraction if it is warm. Branch-free up to the refresh of
    /// the view, which happens whenever a class count passes a multiple of `POP_REFRESH_MASK + 1`.
    #[inline(always)]
    fn push_population<const CT: bool>(
        &mut self,
        closed: bool,
        before: u32,
        class: RiskClass,
        hi_recent: u16,
        warm: bool,
    ) {
        let on = if CT { mask32(closed) } else { 0u32.wrapping_sub(closed as u32) };
        let acc =
            (before & crate::behavior::WIN_CLASS_MASK).wrapping_add(1 << (4 * (class as u32).min(5))) & on;
        let counts: [u32; 6] = core::array::from_fn(|k| (acc >> (4 * k)) & 0xf);
        let old = self.population.classes;
        self.population.push_window(counts, hi_recent, warm & closed);
        // Folded with `|`, not `any`: an early exit per class is a data-dependent branch (LLVM
        // compiled `any` to one in some builds, 0.1 mispredictions per gate event).
        let crossed = old
            .iter()
            .zip(&self.population.classes)
            .fold(false, |x, (&a, &b)| x | ((a | POP_REFRESH_MASK) != (b | POP_REFRESH_MASK)));
        if crossed {
            self.refresh_view();
        }
    }

    /// Decides on one tool call and records it in the agent's state. See [`Gate::check_with_anomaly`].
    #[inline(always)]
    pub fn check(
        &mut self,
        now: Micros,
        agent: u32,
        command: Command<'_>,
        net: &impl NetworkView,
    ) -> Result<Verdict, GateError> {
        self.check_with_anomaly(now, agent, command, net, 0)
    }

    /// Decides on one tool call, recording it in the agent's state, with an extra anomaly score
    /// (Q16.16, higher = more anomalous; e.g. `behavior::sketch`'s pair score) added as one evidence term.
    #[inline(always)]
    pub fn check_with_anomaly(
        &mut self,
        now: Micros,
        agent: u32,
        command: Command<'_>,
        net: &impl NetworkView,
        anomaly_q16: u32,
    ) -> Result<Verdict, GateError> {
        let found = match command {
            Command::Id(id) => self.lookup.by_id(id),
            Command::Name(name) => self.lookup.by_name(name),
        };
        let (info, known) = match found {
            Some(info) => (info, true),
            None => (CommandInfo { id: 0, flags: Flags(0), risk: Risk::Unknown }, false),
        };
        let class = RiskClass::of_plain(info.risk, info.flags);
        let cfg = &self.config;
        let s = slot_in(self.states, agent)?;
        let before = s.window;
        let (u, closed) = s.record_call_closed(&self.tables, now, class, anomaly_q16);
        let (hi, warm) = (s.hi_recent, s.calls > cfg.warmup_calls);
        if closed {
            self.push_population::<false>(true, before, class, hi, warm);
        }

        let net_state = net.node_state(agent);
        let row = self.rows.get(info.risk as usize * AgentStatus::COUNT + u.status as usize).copied();
        let row = row.unwrap_or(Row { decision: Decision::Deny, reasons: 0 });
        let mut decision = row.decision;
        let mut reasons = row.reasons
            | Reasons::from_evidence(u.evidence).0
            | (!known as u32 * Reasons::UNKNOWN_COMMAND.0)
            | ((u.status > u.previous) as u32 * Reasons::ESCALATED.0);
        if net_state.is_blocked() {
            decision = Decision::Quarantined;
            reasons |= Reasons::NETWORK.0;
        } else if net_state != NodeState::Healthy {
            reasons |= Reasons::NETWORK_WATCH.0;
        }
        let reasons = Reasons(reasons);
        Ok(Verdict { decision, risk: info.risk, agent_state: u.status, net_state, score: u.score, reasons })
    }

    /// The constant-time evaluation path: the same verdict and the same state change as
    /// [`Gate::check_with_anomaly`], computed with no branch and no memory access that depends on the
    /// agent's score, the policy entries or whether the command is known (the lookup uses
    /// [`Lookup::by_id_ct`]; names are resolved through their command id). The agent id, the time and
    /// the network state are treated as public. Rust gives no timing guarantee; this path is written to
    /// be measured (dudect-style) rather than trusted.
    pub fn check_ct(
        &mut self,
        now: Micros,
        agent: u32,
        command: Command<'_>,
        net: &impl NetworkView,
        anomaly_q16: u32,
    ) -> Result<Verdict, GateError> {
        let id = match command {
            Command::Id(id) => id,
            Command::Name(name) => command_id(name),
        };
        let (info, found) = self.lookup.by_id_ct(id);
        let found = core::hint::black_box(found);
        let risk_code = sel_u32(found != 0, info.risk as u32, Risk::Unknown as u32);
        let risk = Risk::from_u8(risk_code as u8).unwrap_or(Risk::Unknown);
        let flags = Flags(info.flags.0 & found);
        // `black_box`: without it LLVM switches on the class and on the status after the update and
        // specialises the code that follows per value (a jump table on the secret; dudect finding).
        let class = core::hint::black_box(RiskClass::of(risk, flags));
        let cfg = &self.config;
        let s = slot_in(self.states, agent)?;
        let before = s.window;
        let u = core::hint::black_box(s.record_call_ct_with(&self.tables, now, class, anomaly_q16));
        let (hi, warm, closed) = (s.hi_recent, s.calls > cfg.warmup_calls, s.window == 0);
        self.push_population::<true>(closed, before, class, hi, warm);

        let net_state = net.node_state(agent);
        let status = u.status as u32;
        let code = self.policy.get_ct(risk_code * AgentStatus::COUNT as u32 + status) as u32;
        let trusted_code = self.policy.get_ct(risk_code * AgentStatus::COUNT as u32) as u32;
        let blocked = mask32(net_state.is_blocked());
        let watch = mask32(!net_state.is_blocked() & (net_state != NodeState::Healthy));
        let code = (Decision::Quarantined as u32 & blocked) | (code & !blocked);
        let reasons = Reasons::from_evidence(u.evidence).0
            | (Reasons::UNKNOWN_COMMAND.0 & !found)
            | (Reasons::RISK.0 & mask32(trusted_code != Decision::Allow as u32))
            | (Reasons::AGENT_STATE.0 & mask32(status != 0))
            | (Reasons::ESCALATED.0 & mask32(status > u.previous as u32))
            | (Reasons::NETWORK.0 & blocked)
            | (Reasons::NETWORK_WATCH.0 & watch);
        Ok(Verdict {
            decision: Decision::from_u8_saturating(code as u8),
            risk,
            agent_state: u.status,
            net_state,
            score: u.score,
            reasons: Reasons(reasons),
        })
    }

    /// Records the outcome of an agent's call.
    #[inline(always)]
    pub fn observe(&mut self, now: Micros, agent: u32, outcome: Outcome) -> Result<(), GateError> {
        let s = slot_in(self.states, agent)?;
        s.record_outcome_with(&self.tables, now, outcome);
        Ok(())
    }

    /// [`Gate::observe`] through the constant-time update ([`AgentState::record_outcome_ct`]).
    pub fn observe_ct(&mut self, now: Micros, agent: u32, outcome: Outcome) -> Result<(), GateError> {
        let s = slot_in(self.states, agent)?;
        s.record_outcome_ct_with(&self.tables, now, outcome);
        Ok(())
    }

    /// Checks a batch of calls (by command id), writing one result per call into `out`, and returns how
    /// many were processed (`min(calls.len(), out.len())`). Results equal calling [`Gate::check`] in
    /// order.
    ///
    /// For agent tables larger than the cache: while it evaluates call `i` it asks the CPU to fetch
    /// the state of the agent of call `i + PREFETCH_DISTANCE` (a prefetch hint, which retires at once,
    /// so the misses of the next calls are in flight during the current call's work), and the
    /// evaluation finds its state in the cache.
    pub fn check_batch(
        &mut self,
        calls: &[Call],
        net: &impl NetworkView,
        out: &mut [Result<Verdict, GateError>],
    ) -> usize {
        self.prefetched(calls, out, |c| c.agent, |g, c| g.check(c.now, c.agent, Command::Id(c.command), net))
    }

    /// Records a batch of outcomes with the same prefetching as [`Gate::check_batch`]; writes one
    /// result per outcome and returns how many were processed.
    pub fn observe_batch(&mut self, obs: &[Observation], out: &mut [Result<(), GateError>]) -> usize {
        self.prefetched(obs, out, |o| o.agent, |g, o| g.observe(o.now, o.agent, o.outcome))
    }

    /// `out[i] = each(self, &items[i])` in order for `i < min(items.len(), out.len())`, prefetching the
    /// state of the agent `PREFETCH_DISTANCE` items ahead; returns how many were processed.
    #[inline(always)]
    fn prefetched<T, R>(
        &mut self,
        items: &[T],
        out: &mut [R],
        agent: impl Fn(&T) -> u32,
        mut each: impl FnMut(&mut Self, &T) -> R,
    ) -> usize {
        let n = items.len().min(out.len());
        let items = &items[..n];
        for x in items.iter().take(PREFETCH_DISTANCE) {
            self.prefetch(agent(x));
        }
        for (i, (x, slot)) in items.iter().zip(out).enumerate() {
            if let Some(next) = items.get(i + PREFETCH_DISTANCE) {
                self.prefetch(agent(next));
            }
            *slot = each(self, x);
        }
        n
    }

    /// Asks for an agent's state to be brought into the cache (nothing for ids out of range).
    #[inline(always)]
    fn prefetch(&self, agent: u32) {
        if let Some(s) = self.states.get(agent as usize) {
            crate::hint::prefetch_write(s);
        }
    }
}
