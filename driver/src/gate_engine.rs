//! The product engine: [`tcap_core::gate::Gate`] over a [`Registry`], behind the driver's [`Engine`] seam.
//!
//! * A call event is `gate.check_with_anomaly(now = time_us, agent, Command::Id(command), net, anomaly)`
//!   and its [`Verdict`](tcap_core::gate::Verdict) becomes the decision record field by field (the
//!   record's enums *are* the gate's, so nothing is translated). An outcome event is `gate.observe` and
//!   produces no record.
//! * Optional sketch evidence (`--sketch on`): a decaying count-min [`PairSketch`] over (agent, command)
//!   with one-minute ticks (`time_us / 60 s`) scores bursts of an agent's calls to one tool against the
//!   pair's own history; its score enters the gate as one evidence term. Off by default: it costs
//!   ~4–6 ns per event, made no difference to detection on the `tcapd gen` workload (compromised agents
//!   there spread over ~230 risky tools rather than hammering one), and its state is not persisted, so a
//!   restart with it on does not decide exactly as an uninterrupted run would.
//! * Gate errors never panic and never lose a record: a call for an agent beyond `--max-agents` (or
//!   whose stored state is corrupt) is answered with `Deny`, [`REASON_AGENT_OUT_OF_RANGE`] (or
//!   [`REASON_CORRUPT_STATE`]) and the command's risk, and counted in [`GateErrors`] (printed in the exit
//!   report). An outcome for such an agent is counted and otherwise ignored.
//! * tcapd has no network input yet: every agent's network state is `Healthy` (the gate's
//!   [`NetworkView`](tcap_core::gate::NetworkView) is `()`); embedders with a
//!   [`Network`](tcap_core::network::Network) pass it to the gate directly.
//!
//! The agent table is owned by the engine: one 64-byte, cache-line-aligned [`AgentState`] per agent id,
//! allocated once, advised to use transparent huge pages when large.
//!
//! # Snapshot payload (inside the driver's framed, checksummed state file)
//!
//! ```text
//! offset size field
//!   0     2   payload version, u16 LE = 1
//!   2     2   size of one agent state, u16 LE = 64
//!   4     1   AgentState::VERSION (2; layout 1 is still read: its states are valid layout-2 states)
//!   5     1   byte order of the states: 1 = little-endian (the only one this build writes or reads)
//!   6     2   zero
//!   8     8   capacity (agents), u64 LE
//!  16    88   population: hi.count u64, hi.sum u128, hi.sum_sq u128, classes[6] u64 (all LE)
//! 104    24   population view: mean u32, sigma u32, ready u8, mix_ready u8, risk_mix[6] u16, 2 zero
//! 128  64·n   the agent states, exactly as in memory (`#[repr(C)]`, host byte order)
//! ```
//! Restoring checks every field, then every state with `AgentState::is_valid`, and changes nothing on
//! error. The sketch is short-term memory (minutes) and is not persisted: with `--sketch on` it
//! re-learns after a restart.

use std::path::Path;
use std::ptr::NonNull;

use tcap_core::behavior::sketch::{PairSketch, score_of_log2, tick_of};
use tcap_core::behavior::{AgentState, Config, Moments, Population, PopulationView};
use tcap_core::gate::{Command, Gate, GateError, Lookup, Policy};
use tcap_core::network::NodeState;
use tcap_core::registry::{self, Registry};
use tcap_core::wire::Risk;
use tcap_core::wire::record::{Decision, DecisionRepr, EventRepr};
use zerocopy::{FromBytes, IntoBytes};

use crate::engine::{Engine, SnapshotError};

/// Reason bit (driver range, above the gate's own bits): the agent id is beyond `--max-agents`.
pub const REASON_AGENT_OUT_OF_RANGE: u32 = 1 << 31;
/// Reason bit (driver range): the agent's stored state is corrupt.
pub const REASON_CORRUPT_STATE: u32 = 1 << 30;

/// Sketch rows (independent hash functions).
pub const SKETCH_ROWS: usize = 2;
/// Sketch columns per row (2 × 4096 buckets × 16 B = 128 KiB, cache-friendly).
pub const SKETCH_COLS: usize = 4096;
/// Sketch tick: one minute.
pub const SKETCH_WINDOW_US: u64 = 60_000_000;
/// The sketch's score of `χ² = 1` (`log2 χ² = 0`). The sketch adds a bias of 32 (so small deviations
/// still rank); the gate's `sketch_offset` (4.0 by default) is in units of `log2 χ²`, so the engine passes
/// `max(0, log2 χ²)` in Q16.16: a pair starts to count as evidence at `χ² > 16` and reaches the cap
/// (2 bits) at `χ² = 2¹²`.
pub const SKETCH_ZERO: u32 = score_of_log2(0);
/// The (agent, command) sketch.
pub type Sketch = PairSketch<SKETCH_ROWS, SKETCH_COLS>;

/// Engine kind in snapshot files.
pub const SNAPSHOT_KIND: [u8; 8] = *b"TCAPGAT1";
/// Payload version.
pub const PAYLOAD_VERSION: u16 = 1;
/// Payload header length (before the agent states).
pub const PAYLOAD_HEADER: usize = 128;
const STATE_LEN: usize = size_of::<AgentState>();
const _: () = assert!(STATE_LEN == 64 && PAYLOAD_HEADER.is_multiple_of(64));

/// How to build a [`GateEngine`].
#[derive(Clone, Copy, Debug)]
pub struct GateOptions {
    /// Agent ids `0..max_agents` have a state; calls beyond are denied ([`REASON_AGENT_OUT_OF_RANGE`]).
    pub max_agents: usize,
    /// Feed the (agent, command) sketch's anomaly score into the gate.
    pub sketch: bool,
    /// Seed of the sketch's hash functions.
    pub sketch_seed: u64,
    /// The policy table.
    pub policy: Policy,
    /// The behaviour configuration.
    pub config: Config,
}

impl Default for GateOptions {
    fn default() -> Self {
        GateOptions {
            max_agents: 65_536,
            sketch: false,
            sketch_seed: 0x7CA9_5EED,
            policy: Policy::default(),
            config: Config::default(),
        }
    }
}

/// Gate errors met while serving events (each one also produced a record or was an outcome).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GateErrors {
    /// Calls for agents beyond capacity (answered `Deny`).
    pub calls_out_of_range: u64,
    /// Outcomes for agents beyond capacity (ignored).
    pub outcomes_out_of_range: u64,
    /// Events for agents whose stored state is corrupt (calls answered `Deny`).
    pub corrupt_state: u64,
    /// The most recent error.
    pub last: Option<GateError>,
}

impl GateErrors {
    /// Total events that met an error.
    pub fn total(&self) -> u64 {
        self.calls_out_of_range + self.outcomes_out_of_range + self.corrupt_state
    }
}

/// The agent table: a heap slice of [`AgentState`]s owned here and lent to the gate for as long as the
/// engine lives.
struct AgentTable {
    raw: NonNull<[AgentState]>,
}

impl AgentTable {
    /// A table of `len` fresh states and the gate's borrow of it.
    ///
    /// The borrow is `'static` only in name: [`GateEngine`] keeps the gate that holds it in a private
    /// field declared before its `AgentTable`, never moves the gate out and never hands out `&mut` to it,
    /// so the borrow ends (the gate is dropped) before [`AgentTable::drop`] frees the memory.
    fn new(len: usize) -> (AgentTable, &'static mut [AgentState]) {
        let boxed: Box<[AgentState]> = vec![AgentState::FRESH; len].into_boxed_slice();
        crate::sys::advise_huge(boxed.as_ptr().cast(), len * STATE_LEN);
        let raw = NonNull::from(Box::leak(boxed));
        // SAFETY: `raw` comes from a leaked Box, so it is valid, aligned and initialised for `len`
        // states; the returned `&mut` is the only reference used to access it until `drop`, which runs
        // after the gate holding that reference is gone (see above).
        let states = unsafe { &mut *raw.as_ptr() };
        (AgentTable { raw }, states)
    }
}

// SAFETY: an AgentTable owns its allocation exclusively, exactly like the `Box<[AgentState]>` it was
// made from (which is Send); it holds no thread-bound state.
unsafe impl Send for AgentTable {}

impl Drop for AgentTable {
    fn drop(&mut self) {
        // SAFETY: `raw` was produced by `Box::leak` in `new` and is freed exactly once, here; the only
        // borrow of it (the gate's) ended when the gate, declared earlier in `GateEngine`, was dropped.
        drop(unsafe { Box::from_raw(self.raw.as_ptr()) });
    }
}

/// The product engine. See the module documentation.
pub struct GateEngine {
    // Field order matters: `gate` borrows `table`'s memory and must be dropped first.
    gate: Gate<'static, Registry<'static>>,
    sketch: Option<Box<Sketch>>,
    errors: GateErrors,
    _table: AgentTable,
}

impl std::fmt::Debug for GateEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GateEngine")
            .field("gate", &self.gate)
            .field("registry", self.gate.lookup())
            .field("sketch", &self.sketch.is_some())
            .field("errors", &self.errors)
            .finish_non_exhaustive()
    }
}

impl GateEngine {
    /// An engine over `registry` with fresh agents. Fails only if `opts.config` is invalid.
    pub fn new(registry: Registry<'static>, opts: &GateOptions) -> Result<GateEngine, GateError> {
        let (table, states) = AgentTable::new(opts.max_agents);
        let gate = Gate::new(registry, opts.policy, opts.config, states)?;
        let sketch = opts.sketch.then(|| Box::new(Sketch::new(opts.sketch_seed)));
        Ok(GateEngine { gate, sketch, errors: GateErrors::default(), _table: table })
    }

    /// An engine over the built-in registry.
    pub fn builtin(opts: &GateOptions) -> Result<GateEngine, GateError> {
        GateEngine::new(registry::builtin(), opts)
    }

    /// The gate (read-only: agent states, population, policy, registry).
    pub fn gate(&self) -> &Gate<'_, Registry<'static>> {
        &self.gate
    }

    /// Agent capacity.
    pub fn capacity(&self) -> usize {
        self.gate.capacity()
    }

    /// Whether the sketch feeds the gate.
    pub fn sketch_enabled(&self) -> bool {
        self.sketch.is_some()
    }

    /// Errors met so far.
    pub fn errors(&self) -> GateErrors {
        self.errors
    }

    #[inline]
    fn decide(&mut self, ev: &EventRepr) -> DecisionRepr {
        let anomaly = match self.sketch.as_deref_mut() {
            Some(s) => s
                .observe(tick_of(ev.time_us, SKETCH_WINDOW_US), ev.agent, ev.command)
                .saturating_sub(SKETCH_ZERO),
            None => 0,
        };
        match self.gate.check_with_anomaly(ev.time_us, ev.agent, Command::Id(ev.command), &(), anomaly) {
            Ok(v) => DecisionRepr {
                seq: ev.seq,
                agent: ev.agent,
                command: ev.command,
                decision: v.decision,
                risk: v.risk,
                agent_state: v.agent_state,
                net_state: v.net_state,
                score: v.score,
                reasons: v.reasons.0,
            },
            Err(e) => self.refuse(ev, e),
        }
    }

    /// The record for a call the gate could not evaluate: `Deny`, with the reason, counted.
    #[cold]
    #[inline(never)]
    fn refuse(&mut self, ev: &EventRepr, e: GateError) -> DecisionRepr {
        let reasons = match e {
            GateError::CorruptState { .. } => {
                self.errors.corrupt_state += 1;
                REASON_CORRUPT_STATE
            }
            _ => {
                self.errors.calls_out_of_range += 1;
                REASON_AGENT_OUT_OF_RANGE
            }
        };
        self.errors.last = Some(e);
        let risk = self.gate.lookup().by_id(ev.command).map_or(Risk::Unknown, |c| c.risk);
        DecisionRepr {
            seq: ev.seq,
            agent: ev.agent,
            command: ev.command,
            decision: Decision::Deny,
            risk,
            agent_state: tcap_core::wire::record::AgentState::Restricted,
            net_state: NodeState::Healthy,
            score: 0,
            reasons,
        }
    }

    #[cold]
    #[inline(never)]
    fn outcome_error(&mut self, e: GateError) {
        match e {
            GateError::CorruptState { .. } => self.errors.corrupt_state += 1,
            _ => self.errors.outcomes_out_of_range += 1,
        }
        self.errors.last = Some(e);
    }
}

/// Reads a registry image from `path` and validates it. The bytes are leaked on purpose: a registry
/// lives as long as the process (call this once at startup).
pub fn load_registry(path: &Path) -> Result<Registry<'static>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("--registry {}: {e}", path.display()))?;
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    crate::sys::advise_huge(bytes.as_ptr(), bytes.len());
    Registry::load(bytes)
        .map_err(|e| format!("--registry {}: not a valid registry image: {e}", path.display()))
}

fn put_population(out: &mut Vec<u8>, p: &Population, v: &PopulationView) {
    out.extend_from_slice(&p.hi.count.to_le_bytes());
    out.extend_from_slice(&p.hi.sum.to_le_bytes());
    out.extend_from_slice(&p.hi.sum_sq.to_le_bytes());
    for c in p.classes {
        out.extend_from_slice(&c.to_le_bytes());
    }
    out.extend_from_slice(&v.mean.to_le_bytes());
    out.extend_from_slice(&v.sigma.to_le_bytes());
    out.push(v.ready as u8);
    out.push(v.mix_ready as u8);
    for m in v.risk_mix {
        out.extend_from_slice(&m.to_le_bytes());
    }
    out.extend_from_slice(&[0, 0]);
}

/// Little-endian reader over a fixed header (lengths checked by the caller).
struct Rd<'a>(&'a [u8]);

impl Rd<'_> {
    fn take<const K: usize>(&mut self) -> [u8; K] {
        let mut a = [0u8; K];
        let (h, t) = self.0.split_at(K.min(self.0.len()));
        a[..h.len()].copy_from_slice(h);
        self.0 = t;
        a
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
    fn u128(&mut self) -> u128 {
        u128::from_le_bytes(self.take())
    }
    fn flag(&mut self) -> Result<bool, SnapshotError> {
        match self.take::<1>()[0] {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(SnapshotError::Corrupt("population view flag is not 0 or 1")),
        }
    }
}

fn get_population(h: &[u8]) -> Result<(Population, PopulationView), SnapshotError> {
    let mut r = Rd(&h[16..PAYLOAD_HEADER]);
    let hi = Moments { count: r.u64(), sum: r.u128(), sum_sq: r.u128() };
    let mut classes = [0u64; 6];
    for c in &mut classes {
        *c = r.u64();
    }
    let (mean, sigma) = (r.u32(), r.u32());
    let (ready, mix_ready) = (r.flag()?, r.flag()?);
    let mut risk_mix = [0u16; 6];
    for m in &mut risk_mix {
        *m = r.u16();
    }
    if r.u16() != 0 {
        return Err(SnapshotError::Corrupt("reserved header bytes are not zero"));
    }
    Ok((Population { hi, classes }, PopulationView { mean, sigma, ready, risk_mix, mix_ready }))
}

impl Engine for GateEngine {
    fn snapshot_kind(&self) -> [u8; 8] {
        SNAPSHOT_KIND
    }

    #[inline]
    fn on_event(&mut self, ev: &EventRepr) -> Option<DecisionRepr> {
        match ev.outcome {
            None => Some(self.decide(ev)),
            Some(o) => {
                if let Err(e) = self.gate.observe(ev.time_us, ev.agent, o) {
                    self.outcome_error(e);
                }
                None
            }
        }
    }

    fn snapshot_into(&self, out: &mut Vec<u8>) {
        let states = self.gate.agents();
        out.reserve(PAYLOAD_HEADER + states.len() * STATE_LEN);
        out.extend_from_slice(&PAYLOAD_VERSION.to_le_bytes());
        out.extend_from_slice(&(STATE_LEN as u16).to_le_bytes());
        out.push(AgentState::VERSION);
        out.push(cfg!(target_endian = "little") as u8);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(states.len() as u64).to_le_bytes());
        put_population(out, &self.gate.population(), &self.gate.population_view());
        out.extend_from_slice(states.as_bytes());
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        let cap = self.gate.capacity();
        let expected = PAYLOAD_HEADER + cap * STATE_LEN;
        if bytes.len() < PAYLOAD_HEADER {
            return Err(SnapshotError::Length { expected, found: bytes.len() });
        }
        let (h, body) = bytes.split_at(PAYLOAD_HEADER);
        let mut r = Rd(h);
        if r.u16() != PAYLOAD_VERSION {
            return Err(SnapshotError::Incompatible(
                "gate snapshot payload version differs from this build's",
            ));
        }
        // Layout 1 (no micro-window: its four bytes were zero) is read as layout 2 with empty windows.
        let layout = (r.u16() as usize, r.take::<1>()[0]);
        if layout.0 != STATE_LEN || !(1..=AgentState::VERSION).contains(&layout.1) {
            return Err(SnapshotError::Incompatible("agent state layout differs from this build's"));
        }
        if r.take::<1>()[0] != cfg!(target_endian = "little") as u8 {
            return Err(SnapshotError::Incompatible("agent states were written with another byte order"));
        }
        if r.u16() != 0 {
            return Err(SnapshotError::Corrupt("reserved header bytes are not zero"));
        }
        if r.u64() != cap as u64 {
            return Err(SnapshotError::Incompatible(
                "agent capacity differs from this engine's (--max-agents)",
            ));
        }
        if bytes.len() != expected {
            return Err(SnapshotError::Length { expected, found: bytes.len() });
        }
        let (population, view) = get_population(h)?;
        let mut states = Vec::with_capacity(cap);
        for chunk in body.chunks_exact(STATE_LEN) {
            // A length-exact read cannot fail; a failure would be a corrupt payload, never a panic.
            let s = AgentState::read_from_bytes(chunk)
                .map_err(|_| SnapshotError::Corrupt("agent state has the wrong length"))?;
            states.push(s);
        }
        self.gate.restore(&states, population, view).map_err(|e| match e {
            tcap_core::gate::RestoreError::Invalid { .. } => {
                SnapshotError::Corrupt("an agent state fails validation (AgentState::is_valid)")
            }
            tcap_core::gate::RestoreError::View => SnapshotError::Corrupt("population view out of range"),
            tcap_core::gate::RestoreError::Length { .. } => {
                SnapshotError::Length { expected, found: bytes.len() }
            }
        })
    }

    fn report(&self) -> Option<String> {
        let e = self.errors;
        (e.total() > 0).then(|| {
            format!(
                "gate: {} calls for agents beyond capacity {} denied (reason bit 31), {} outcomes for such agents ignored, {} events for corrupt agent states{}",
                e.calls_out_of_range,
                self.capacity(),
                e.outcomes_out_of_range,
                e.corrupt_state,
                e.last.map(|l| format!("; last: {l}")).unwrap_or_default()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tcap_core::gate::Reasons;
    use tcap_core::wire::command_id;
    use tcap_core::wire::record::{AgentState as Status, Outcome};

    fn call(seq: u64, agent: u32, name: &[u8]) -> EventRepr {
        EventRepr {
            seq,
            time_us: 1_000_000 + seq * 2_000_000,
            agent,
            command: command_id(name),
            outcome: None,
        }
    }

    fn engine(n: usize, sketch: bool) -> GateEngine {
        GateEngine::builtin(&GateOptions { max_agents: n, sketch, ..GateOptions::default() }).unwrap()
    }

    #[test]
    fn verdicts_become_records() {
        let mut e = engine(8, false);
        let d = e.on_event(&call(1, 3, b"ls")).unwrap();
        assert_eq!((d.seq, d.agent, d.command), (1, 3, command_id(b"ls")));
        assert_eq!((d.decision, d.risk, d.agent_state), (Decision::Allow, Risk::Safe, Status::Trusted));
        let unknown = e.on_event(&call(2, 3, b"no-such-tool-xyz")).unwrap();
        assert_ne!(unknown.decision, Decision::Allow, "unknown commands are never allowed");
        assert!(Reasons(unknown.reasons).contains(Reasons::UNKNOWN_COMMAND));
        let o = EventRepr { outcome: Some(Outcome::Error), ..call(3, 3, b"ls") };
        assert_eq!(e.on_event(&o), None);
        assert_eq!(e.gate().agent(3).unwrap().outcomes, 1);
        // The record equals the gate's verdict on an identical gate.
        let mut a = [AgentState::FRESH; 8];
        let mut g = Gate::new(registry::builtin(), Policy::default(), Config::default(), &mut a).unwrap();
        let ev = call(1, 3, b"ls");
        let v = g.check(ev.time_us, 3, Command::Id(ev.command), &()).unwrap();
        assert_eq!((v.decision, v.score, v.reasons.0), (d.decision, d.score, d.reasons));
    }

    #[test]
    fn out_of_range_is_denied_counted_and_reported() {
        let mut e = engine(4, true);
        assert_eq!(e.report(), None);
        let d = e.on_event(&call(1, 4, b"rm")).unwrap();
        assert_eq!(d.decision, Decision::Deny);
        assert_eq!(d.reasons, REASON_AGENT_OUT_OF_RANGE);
        assert_eq!(d.risk, registry::builtin().get(command_id(b"rm")).unwrap().risk());
        assert_eq!(e.on_event(&EventRepr { outcome: Some(Outcome::Success), ..call(2, 99, b"rm") }), None);
        let errs = e.errors();
        assert_eq!((errs.calls_out_of_range, errs.outcomes_out_of_range, errs.total()), (1, 1, 2));
        assert!(matches!(errs.last, Some(GateError::AgentOutOfRange { agent: 99, capacity: 4 })));
        assert!(e.report().unwrap().contains("1 calls for agents beyond capacity 4"));
        // Agents in range are unaffected.
        assert_eq!(e.on_event(&call(3, 0, b"ls")).unwrap().decision, Decision::Allow);
    }

    #[test]
    fn risky_agent_escalates() {
        let mut e = engine(2, false);
        let mut seq = 0;
        // A benign history, then a run of critical tools in quick succession.
        for _ in 0..200 {
            seq += 1;
            e.on_event(&call(seq, 0, b"ls"));
        }
        let mut last = None;
        for _ in 0..200 {
            seq += 1;
            last = e.on_event(&EventRepr { time_us: 400_000_000 + seq * 1000, ..call(seq, 0, b"rm") });
        }
        let d = last.unwrap();
        assert!(d.agent_state >= Status::Restricted, "{d:?}");
        assert!(d.decision >= Decision::Deny, "{d:?}");
        assert_eq!(e.gate().agent(1).unwrap(), &AgentState::FRESH, "other agents untouched");
    }

    fn drive(e: &mut GateEngine, from: u64, to: u64) -> Vec<Option<DecisionRepr>> {
        let names: [&[u8]; 6] = [b"ls", b"cat", b"grep", b"rm", b"sudo", b"curl"];
        (from..to)
            .map(|i| {
                let mut ev = call(i, (i % 5) as u32, names[(i * i % 6) as usize]);
                ev.time_us = 1_000_000 + i * 50_000;
                if i % 4 == 3 {
                    ev.outcome = Some(Outcome::ALL[(i / 4 % 4) as usize]);
                }
                e.on_event(&ev)
            })
            .collect()
    }

    #[test]
    fn snapshot_round_trip_is_exact_and_refusals_leave_the_engine_unchanged() {
        let mut e = engine(5, false);
        drive(&mut e, 0, 6000);
        let mut snap = Vec::new();
        e.snapshot_into(&mut snap);
        assert_eq!(snap.len(), PAYLOAD_HEADER + 5 * 64);
        let mut f = engine(5, false);
        f.restore(&snap).unwrap();
        let mut snap2 = Vec::new();
        f.snapshot_into(&mut snap2);
        assert_eq!(snap, snap2);
        assert_eq!(drive(&mut e, 6000, 12_000), drive(&mut f, 6000, 12_000), "same future decisions");

        let mut g = engine(5, false);
        let mut before = Vec::new();
        g.snapshot_into(&mut before);
        let check_unchanged = |g: &GateEngine| {
            let mut now = Vec::new();
            g.snapshot_into(&mut now);
            assert_eq!(now, before, "a refused restore changes nothing");
        };
        assert!(matches!(engine(6, false).restore(&snap), Err(SnapshotError::Incompatible(_))));
        assert!(matches!(g.restore(&snap[..snap.len() - 1]), Err(SnapshotError::Length { .. })));
        assert!(matches!(g.restore(&snap[..10]), Err(SnapshotError::Length { .. })));
        let mut bad = snap.clone();
        bad[0] = 9;
        assert!(matches!(g.restore(&bad), Err(SnapshotError::Incompatible(_))));
        let mut bad = snap.clone();
        bad[4] = AgentState::VERSION + 1;
        assert!(matches!(g.restore(&bad), Err(SnapshotError::Incompatible(_))));
        let mut bad = snap.clone();
        bad[4] = 0;
        assert!(matches!(g.restore(&bad), Err(SnapshotError::Incompatible(_))));

        let mut bad = snap.clone();
        bad[5] ^= 1;
        assert!(matches!(g.restore(&bad), Err(SnapshotError::Incompatible(_))));
        let mut bad = snap.clone();
        bad[104 + 8] = 2; // `ready` flag
        assert!(matches!(g.restore(&bad), Err(SnapshotError::Corrupt(_))));
        // The last agent's status byte (offset 55 in the state).
        let mut bad = snap.clone();
        bad[PAYLOAD_HEADER + 4 * 64 + 55] = 7;
        assert_eq!(
            g.restore(&bad),
            Err(SnapshotError::Corrupt("an agent state fails validation (AgentState::is_valid)"))
        );
        check_unchanged(&g);
        // A snapshot of the previous layout (1, before the micro-window) is still read.
        let mut old = snap.clone();
        old[4] = 1;
        let mut h = engine(5, false);
        h.restore(&old).unwrap();
        let mut back = Vec::new();
        h.snapshot_into(&mut back);
        assert_eq!(back, snap, "restored exactly; written back as layout 2");
    }

    #[test]
    fn sketch_scores_bursts_of_a_pair() {
        let mut e = engine(2, true);
        assert!(e.sketch_enabled());
        let ls = command_id(b"ls");
        // One call a minute for an hour, then a burst of 200 calls of the same pair in one minute.
        let mut seq = 0;
        for m in 0..60u64 {
            seq += 1;
            e.on_event(&EventRepr {
                seq,
                time_us: m * SKETCH_WINDOW_US,
                agent: 0,
                command: ls,
                outcome: None,
            });
        }
        let mut novelty = false;
        for k in 0..200u64 {
            seq += 1;
            let ev = EventRepr {
                seq,
                time_us: 60 * SKETCH_WINDOW_US + k * 100_000,
                agent: 0,
                command: ls,
                outcome: None,
            };
            novelty |= Reasons(e.on_event(&ev).unwrap().reasons).contains(Reasons::NOVELTY);
        }
        assert!(novelty, "the burst is sketch evidence");
    }
}

#[cfg(test)]
mod send_check {
    #[test]
    fn engine_can_move_to_another_thread() {
        let mut e =
            super::GateEngine::builtin(&super::GateOptions { max_agents: 3, ..Default::default() }).unwrap();
        let h = std::thread::spawn(move || {
            use crate::engine::Engine;
            let ev = tcap_core::wire::record::EventRepr {
                seq: 1,
                time_us: 5,
                agent: 2,
                command: tcap_core::wire::command_id(b"ls"),
                outcome: None,
            };
            e.on_event(&ev).map(|d| d.agent)
        });
        assert_eq!(h.join().unwrap(), Some(2));
    }
}
