//! The engine: behaviour scoring + gate over a registry, for `n_agents` agents, in caller memory.
//!
//! Memory (`tcap_engine_size`, aligned to [`TCAP_ENGINE_ALIGN`]) holds the engine object followed by one
//! 64-byte state per agent. The object holds tcap-core's `Gate` itself, whose agent storage is the
//! state array in the same region; so the population statistics the gate keeps persist from call to
//! call and a check costs what `Gate::check` costs. Engines are not synchronised: one thread at a time
//! per engine (or external locking).

use core::ffi::c_void;
use core::mem::size_of;
use core::ptr::NonNull;

use tcap_core::Micros;
use tcap_core::behavior::{AgentState, Config};
use tcap_core::gate::{Command, Gate, GateError, Policy, PolicyError, Verdict};

use crate::boundary::{self, Out};
use crate::enums::{outcome_from_u32, tcap_agent_status};
use crate::mem::{CallerMem, Layout, Object, ObjectHeader, handle_mut, handle_ref};
use crate::network::{NetView, net_ref, tcap_network};
use crate::registry::tcap_registry;
use crate::{tcap_decision, tcap_node_state, tcap_result, tcap_risk};
use tcap_core::registry::Registry;

/// Alignment of the memory given to `tcap_engine_init` (one cache line: each agent state is one).
pub const TCAP_ENGINE_ALIGN: usize = 64;
/// Size of an exported agent state (`tcap_engine_agent_export` / `_import`).
pub const TCAP_AGENT_STATE_SIZE: usize = 64;
/// Number of entries of a policy table: 6 risk levels × 4 agent statuses, row-major by risk.
pub const TCAP_POLICY_LEN: usize = 24;

/// Reason bit: the command is not in the registry (treated as `TCAP_RISK_UNKNOWN`).
pub const TCAP_REASON_UNKNOWN_COMMAND: u32 = 1 << 0;
/// Reason bit: the command's risk alone (for a trusted agent) is not `allow`.
pub const TCAP_REASON_RISK: u32 = 1 << 1;
/// Reason bit: the agent is not trusted.
pub const TCAP_REASON_AGENT_STATE: u32 = 1 << 2;
/// Reason bit: the network has quarantined or isolated the agent.
pub const TCAP_REASON_NETWORK: u32 = 1 << 3;
/// Reason bit: the call's risk class is unusual for this agent, in the risky direction.
pub const TCAP_REASON_PROFILE: u32 = 1 << 4;
/// Reason bit: calls faster than the agent's baseline.
pub const TCAP_REASON_BURST: u32 = 1 << 5;
/// Reason bit: far more high-risk calls than the population.
pub const TCAP_REASON_POPULATION: u32 = 1 << 6;
/// Reason bit: novelty evidence.
pub const TCAP_REASON_NOVELTY: u32 = 1 << 7;
/// Reason bit: outcome evidence (errors, denials, timeouts) since the previous call.
pub const TCAP_REASON_OUTCOMES: u32 = 1 << 8;
/// Reason bit: the agent's status rose on this call.
pub const TCAP_REASON_ESCALATED: u32 = 1 << 9;
/// Reason bit: the network watches the agent (suspicious or recovering).
pub const TCAP_REASON_NETWORK_WATCH: u32 = 1 << 10;

/// Engine parameters. Get the defaults with `tcap_config_default`, change fields, pass to
/// `tcap_engine_init`. Log-odds quantities are Q16.16 bits (65536 = 1 bit); docs/SCORING.md explains
/// them. Parameters not listed keep tcap-core's defaults.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct tcap_config {
    /// `sizeof(tcap_config)`: lets the struct grow without breaking compiled callers.
    pub struct_size: u32,
    /// Calls an agent must make before its own-baseline evidence counts.
    pub warmup_calls: u32,
    /// Outcomes an agent must report before outcome evidence counts.
    pub warmup_outcomes: u32,
    /// Score half-life as `log2(microseconds)`, 16..=40.
    pub half_life_log2: u32,
    /// 1: a quarantined agent may step down on its own after the cool-down; 0: only by an operator.
    pub release_quarantine: u32,
    /// Time an agent must stay calm before it steps down one level, µs.
    pub cooldown_us: u64,
    /// Score thresholds (Q16.16) to step up into monitored, restricted, quarantined.
    pub up_q16: [i32; 3],
    /// Score thresholds (Q16.16) below which a monitored, restricted, quarantined agent is calm.
    /// Need `0 < down[i] < up[i] ≤ 64·65536`, both rows increasing.
    pub down_q16: [i32; 3],
    /// Policy: the `tcap_decision` for each (risk, agent status), index `risk·4 + status`. Must not
    /// allow `TCAP_RISK_UNKNOWN` at any status.
    pub policy: [u8; TCAP_POLICY_LEN],
    /// Calls evaluated together, 1..=15 (docs/SCORING.md §3.0): an agent's calls are counted and their
    /// evidence evaluated every `window` calls (the policy still judges every call's risk at once). 1
    /// evaluates each call on its own; larger is cheaper per call and delays the agent's status by at
    /// most `window − 1` calls.
    pub window: u32,
    /// Must be 0.
    pub reserved: u32,
}

const _: () = assert!(size_of::<tcap_config>() == 88);

impl tcap_config {
    fn from_core(c: &Config, p: &Policy) -> tcap_config {
        tcap_config {
            struct_size: size_of::<tcap_config>() as u32,
            warmup_calls: c.warmup_calls,
            warmup_outcomes: c.warmup_outcomes,
            half_life_log2: u32::from(c.half_life_log2),
            release_quarantine: u32::from(c.release_quarantine),
            cooldown_us: c.cooldown_us,
            up_q16: c.up,
            down_q16: c.down,
            policy: p.codes(),
            window: u32::from(c.window),
            reserved: 0,
        }
    }

    fn core_parts(&self) -> Result<(Config, Policy), tcap_result> {
        if self.struct_size as usize != size_of::<tcap_config>() {
            return Err(tcap_result::InvalidLength);
        }
        let mut c = Config::DEFAULT;
        c.warmup_calls = self.warmup_calls;
        c.warmup_outcomes = self.warmup_outcomes;
        c.half_life_log2 = u8::try_from(self.half_life_log2).map_err(|_| tcap_result::ConfigInvalid)?;
        c.release_quarantine = match self.release_quarantine {
            0 => false,
            1 => true,
            _ => return Err(tcap_result::InvalidEnum),
        };
        c.cooldown_us = self.cooldown_us;
        c.up = self.up_q16;
        c.down = self.down_q16;
        c.window = u8::try_from(self.window).map_err(|_| tcap_result::ConfigInvalid)?;
        if self.reserved != 0 {
            return Err(tcap_result::ConfigInvalid);
        }
        let c = c.validate().map_err(|_| tcap_result::ConfigInvalid)?;
        Ok((c, policy(self.policy)?))
    }
}

fn policy(codes: [u8; TCAP_POLICY_LEN]) -> Result<Policy, tcap_result> {
    Policy::from_codes(codes).map_err(|e| match e {
        PolicyError::BadCode(_) => tcap_result::InvalidEnum,
        PolicyError::FailOpen(_) => tcap_result::PolicyFailsOpen,
    })
}

/// The answer for one tool call.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct tcap_verdict {
    /// What the host should do: run it only on `TCAP_DECISION_ALLOW` or `TCAP_DECISION_CAUTION`.
    pub decision: tcap_decision,
    /// The command's risk (`TCAP_RISK_UNKNOWN` if the registry does not know it).
    pub risk: tcap_risk,
    /// The agent's status after recording this call.
    pub agent_state: tcap_agent_status,
    /// The agent's node state in the attached network (`TCAP_NODE_STATE_HEALTHY` without one).
    pub net_state: tcap_node_state,
    /// The agent's evidence score after this call, Q16.16 bits of log-odds, 0..=64·65536.
    pub score: i32,
    /// Why: `TCAP_REASON_*` bits.
    pub reasons: u32,
}

impl From<Verdict> for tcap_verdict {
    fn from(v: Verdict) -> Self {
        tcap_verdict {
            decision: v.decision.into(),
            risk: v.risk.into(),
            agent_state: v.agent_state.into(),
            net_state: v.net_state.into(),
            score: v.score,
            reasons: v.reasons.0,
        }
    }
}

impl From<GateError> for tcap_result {
    fn from(e: GateError) -> Self {
        match e {
            GateError::AgentOutOfRange { .. } => tcap_result::AgentOutOfRange,
            GateError::CorruptState { .. } => tcap_result::AgentStateRejected,
            GateError::Config(_) => tcap_result::ConfigInvalid,
        }
    }
}

/// An engine living in caller memory. Opaque: reach it only through its handle.
pub struct tcap_engine {
    _opaque: [u8; 0],
}

/// What a `tcap_engine *` points to.
#[repr(C, align(64))]
struct EngineObj {
    header: ObjectHeader,
    n_agents: u32,
    /// The agent states (the same memory the gate borrows), for import: written only while no gate
    /// holds them.
    states: NonNull<AgentState>,
    /// The attached network, if any.
    network: Option<NonNull<tcap_network>>,
    /// The gate; its `'static` borrows are the caller's region (agent states) and image bytes, alive for
    /// the handle's life by the documented contract.
    gate: Gate<'static, Registry<'static>>,
}

// SAFETY: repr(C) with the header first; the magic is unique to this type.
unsafe impl Object for EngineObj {
    const MAGIC: [u8; 8] = *b"tcapENG1";
}

fn layout(n_agents: u32) -> Result<Layout, tcap_result> {
    if n_agents == 0 {
        return Err(tcap_result::InvalidLength);
    }
    let mut l = Layout::new();
    l.push::<EngineObj>(1)?;
    l.push::<AgentState>(n_agents as usize)?;
    Ok(l)
}

const _: () = assert!(core::mem::align_of::<EngineObj>() == TCAP_ENGINE_ALIGN);
const _: () = assert!(core::mem::align_of::<AgentState>() <= TCAP_ENGINE_ALIGN);
const _: () = assert!(size_of::<AgentState>() == TCAP_AGENT_STATE_SIZE);

/// # Safety
/// `p` is NULL or a live engine handle used by one thread at a time.
unsafe fn engine_mut<'a>(p: *mut tcap_engine) -> Result<&'a mut EngineObj, tcap_result> {
    // SAFETY: forwarded contract; engine handles point to an `EngineObj`.
    unsafe { handle_mut(p.cast::<EngineObj>()) }
}

/// # Safety
/// `p` is NULL or a live engine handle, not mutated during `'a`.
unsafe fn engine_ref<'a>(p: *const tcap_engine) -> Result<&'a EngineObj, tcap_result> {
    // SAFETY: forwarded contract; engine handles point to an `EngineObj`.
    unsafe { handle_ref(p.cast::<EngineObj>()) }
}

impl EngineObj {
    fn check(&mut self, now: Micros, agent: u32, command: Command<'_>) -> Result<Verdict, tcap_result> {
        let v = match self.network {
            // SAFETY: attached by `tcap_engine_attach_network`, whose contract keeps the network alive,
            // unmoved and not mutated during engine calls; its header is re-checked here.
            Some(n) => self.gate.check(now, agent, command, &NetView(unsafe { net_ref(n.as_ptr()) }?)),
            None => self.gate.check(now, agent, command, &()),
        }?;
        Ok(v)
    }
}

/// The agent state as 64 little-endian bytes (the layout of tcap-core's `AgentState`, field by field).
fn encode_state(s: &AgentState) -> [u8; TCAP_AGENT_STATE_SIZE] {
    let mut b = [0u8; TCAP_AGENT_STATE_SIZE];
    b[0..8].copy_from_slice(&s.last_us.to_le_bytes());
    b[8..16].copy_from_slice(&s.hot_us.to_le_bytes());
    b[16..20].copy_from_slice(&s.score.to_le_bytes());
    b[20..24].copy_from_slice(&s.calls.to_le_bytes());
    for (i, v) in s.risk_n.iter().chain(&s.outcome_n).enumerate() {
        b[24 + 2 * i..26 + 2 * i].copy_from_slice(&v.to_le_bytes());
    }
    for (i, v) in [s.ia_base, s.ia_dev, s.ia_recent, s.hi_recent, s.outcomes].iter().enumerate() {
        b[44 + 2 * i..46 + 2 * i].copy_from_slice(&v.to_le_bytes());
    }
    b[54] = s.version;
    b[55] = s.status;
    b[56] = s.pending;
    b[57] = s.peak;
    b[58..60].copy_from_slice(&s.success_llr.to_le_bytes());
    b[60..64].copy_from_slice(&s.window.to_le_bytes());
    b
}

/// The inverse of [`encode_state`]; `None` unless the state is one this code understands.
fn decode_state(b: &[u8; TCAP_AGENT_STATE_SIZE]) -> Option<AgentState> {
    let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let mut w8 = [0u8; 8];
    let mut w4 = [0u8; 4];
    let mut s = AgentState::FRESH;
    w8.copy_from_slice(&b[0..8]);
    s.last_us = u64::from_le_bytes(w8);
    w8.copy_from_slice(&b[8..16]);
    s.hot_us = u64::from_le_bytes(w8);
    w4.copy_from_slice(&b[16..20]);
    s.score = i32::from_le_bytes(w4);
    w4.copy_from_slice(&b[20..24]);
    s.calls = u32::from_le_bytes(w4);
    for (i, v) in s.risk_n.iter_mut().enumerate() {
        *v = u16_at(24 + 2 * i);
    }
    for (i, v) in s.outcome_n.iter_mut().enumerate() {
        *v = u16_at(36 + 2 * i);
    }
    s.ia_base = u16_at(44);
    s.ia_dev = u16_at(46);
    s.ia_recent = u16_at(48);
    s.hi_recent = u16_at(50);
    s.outcomes = u16_at(52);
    s.version = b[54];
    s.status = b[55];
    s.pending = b[56];
    s.peak = b[57];
    s.success_llr = i16::from_le_bytes([b[58], b[59]]);
    w4.copy_from_slice(&b[60..64]);
    s.window = u32::from_le_bytes(w4);
    // Beyond tcap-core's own check: the peak status is never below the current one, and a fresh
    // (version 0) state carries no history.
    let fresh_ok = s.version != 0 || s == AgentState::FRESH;
    (s.is_valid() && s.peak >= s.status && fresh_ok).then_some(s)
}

/// Writes the default configuration (tcap-core's `Config::DEFAULT` and `Policy::DEFAULT`) to `out`.
///
/// Errors: `TCAP_RESULT_NULL_ARGUMENT`, `TCAP_RESULT_MISALIGNED`.
///
/// # Safety
/// `out` is NULL or writable for one `tcap_config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_config_default(out: *mut tcap_config) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or writable per this function's contract.
        let out = unsafe { Out::new(out) }?;
        out.write(tcap_config::from_core(&Config::DEFAULT, &Policy::DEFAULT));
        Ok(())
    })
}

/// Bytes of memory (at `TCAP_ENGINE_ALIGN`) an engine for `n_agents` agents needs: the engine object
/// plus 64 bytes per agent.
///
/// Errors: `TCAP_RESULT_NULL_ARGUMENT`, `TCAP_RESULT_MISALIGNED` (`out_size`),
/// `TCAP_RESULT_INVALID_LENGTH` (`n_agents` 0, or a size above `PTRDIFF_MAX`).
///
/// # Safety
/// `out_size` is NULL or writable for one `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_engine_size(n_agents: u32, out_size: *mut usize) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or writable per this function's contract.
        let out = unsafe { Out::new(out_size) }?;
        out.write(layout(n_agents)?.size());
        Ok(())
    })
}

/// Initialises an engine for `n_agents` fresh agents (ids `0..n_agents`) in `mem`, deciding with `reg`
/// and `cfg` (NULL: `tcap_config_default`'s values), and writes its handle, which points into `mem`,
/// to `out`.
///
/// The engine copies the registry *view*, so `reg` itself may go out of scope, but the image bytes it
/// was opened on must stay alive and unmodified while the engine is used.
///
/// Errors: `TCAP_RESULT_NULL_ARGUMENT` (`mem`, `reg`, `out`), `TCAP_RESULT_MISALIGNED` (`mem` not aligned
/// to `TCAP_ENGINE_ALIGN`, or `reg`/`cfg`/`out`), `TCAP_RESULT_BUFFER_TOO_SMALL` (`len` below
/// `tcap_engine_size`), `TCAP_RESULT_INVALID_LENGTH` (`n_agents` 0, `cfg->struct_size` not
/// `sizeof(tcap_config)`), `TCAP_RESULT_BAD_HANDLE` (`reg`), `TCAP_RESULT_CONFIG_INVALID`,
/// `TCAP_RESULT_INVALID_ENUM` (a policy code above 4, `release_quarantine` above 1),
/// `TCAP_RESULT_POLICY_FAILS_OPEN`. Nothing is written to `mem` unless the result is `TCAP_RESULT_OK`.
///
/// # Safety
/// `mem` is NULL or valid for reads and writes of `len` bytes, owned by the engine from this call until
/// the caller stops using the handle; `reg` is NULL or a readable `tcap_registry`; `cfg` is NULL or a
/// readable `tcap_config`; `out` is NULL or writable for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_engine_init(
    mem: *mut c_void,
    len: usize,
    n_agents: u32,
    reg: *const tcap_registry,
    cfg: *const tcap_config,
    out: *mut *mut tcap_engine,
) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or writable per this function's contract.
        let out = unsafe { Out::new(out) }?;
        // SAFETY: NULL or readable per this function's contract.
        let reg = unsafe { boundary::arg_ref(reg) }?.get()?;
        let (config, policy) = if cfg.is_null() {
            (Config::DEFAULT, Policy::DEFAULT)
        } else {
            // SAFETY: non-NULL, so readable per this function's contract.
            unsafe { boundary::arg_ref(cfg) }?.core_parts()?
        };
        let l = layout(n_agents)?;
        // SAFETY: NULL or `len` bytes owned by the engine for the handle's life, per the contract.
        let mut arena = unsafe { CallerMem::new(mem, len, &l) }?.arena();
        let obj = arena.take::<EngineObj>(1)?;
        let states = arena.take::<AgentState>(n_agents as usize)?;
        for s in states.iter_mut() {
            s.write(AgentState::FRESH);
        }
        let states_ptr =
            NonNull::new(states.as_mut_ptr().cast::<AgentState>()).ok_or(tcap_result::Internal)?;
        // SAFETY: every state was just initialised; the slice is carved from the caller's region, which
        // lives for the handle's life (the 'static) and is reached only through this engine.
        let slice: &'static mut [AgentState] =
            unsafe { core::slice::from_raw_parts_mut(states_ptr.as_ptr(), n_agents as usize) };
        let gate = Gate::new(reg, policy, config, slice)?;
        let obj = obj[0].write(EngineObj {
            header: ObjectHeader::new::<EngineObj>(),
            n_agents,
            states: states_ptr,
            network: None,
            gate,
        });
        out.write((obj as *mut EngineObj).cast::<tcap_engine>());
        Ok(())
    })
}

/// Decides on one tool call by command id and records it in the agent's state (call it for every call
/// the agent asks for, before running it). A command the registry does not know is
/// `TCAP_RISK_UNKNOWN` and never allowed (the policy refuses to allow it).
///
/// Errors: `TCAP_RESULT_NULL_ARGUMENT`, `TCAP_RESULT_MISALIGNED`, `TCAP_RESULT_BAD_HANDLE` (`engine`, or
/// an attached network whose memory was overwritten), `TCAP_RESULT_AGENT_OUT_OF_RANGE`,
/// `TCAP_RESULT_AGENT_STATE_REJECTED` (the agent's state in memory is corrupt).
///
/// # Safety
/// `engine` is NULL or a live handle from `tcap_engine_init`, used by one thread at a time; `out` is
/// NULL or writable for one `tcap_verdict`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_engine_check(
    engine: *mut tcap_engine,
    now_us: u64,
    agent: u32,
    command_id: u32,
    out: *mut tcap_verdict,
) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or valid per this function's contract.
        let (e, out) = unsafe { (engine_mut(engine)?, Out::new(out)?) };
        out.write(e.check(now_us, agent, Command::Id(command_id))?.into());
        Ok(())
    })
}

/// `tcap_engine_check` by command name (`name[0..len]`, exactly as registered, e.g. `git status`).
///
/// Errors: as `tcap_engine_check`, and `TCAP_RESULT_INVALID_LENGTH` (`len` 0 or above `PTRDIFF_MAX`).
///
/// # Safety
/// As `tcap_engine_check`; `name` is NULL or readable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_engine_check_name(
    engine: *mut tcap_engine,
    now_us: u64,
    agent: u32,
    name: *const u8,
    len: usize,
    out: *mut tcap_verdict,
) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or valid per this function's contract.
        let (e, name, out) =
            unsafe { (engine_mut(engine)?, boundary::arg_bytes(name, len)?, Out::new(out)?) };
        if name.is_empty() {
            return Err(tcap_result::InvalidLength);
        }
        out.write(e.check(now_us, agent, Command::Name(name))?.into());
        Ok(())
    })
}

/// Records how the agent's last call ended (`outcome`, a `tcap_outcome`).
///
/// Errors: `TCAP_RESULT_NULL_ARGUMENT`, `TCAP_RESULT_MISALIGNED`, `TCAP_RESULT_BAD_HANDLE`,
/// `TCAP_RESULT_INVALID_ENUM` (`outcome`), `TCAP_RESULT_AGENT_OUT_OF_RANGE`,
/// `TCAP_RESULT_AGENT_STATE_REJECTED`.
///
/// # Safety
/// As `tcap_engine_check`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_engine_observe(
    engine: *mut tcap_engine,
    now_us: u64,
    agent: u32,
    outcome: u32,
) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or valid per this function's contract.
        let e = unsafe { engine_mut(engine) }?;
        let outcome = outcome_from_u32(outcome).ok_or(tcap_result::InvalidEnum)?;
        e.gate.observe(now_us, agent, outcome)?;
        Ok(())
    })
}

/// Copies agent `agent`'s state out as `TCAP_AGENT_STATE_SIZE` (64) little-endian bytes (a snapshot to
/// persist, or to move the agent to another engine).
///
/// Errors: `TCAP_RESULT_NULL_ARGUMENT`, `TCAP_RESULT_MISALIGNED`, `TCAP_RESULT_BAD_HANDLE`,
/// `TCAP_RESULT_AGENT_OUT_OF_RANGE`.
///
/// # Safety
/// `engine` is NULL or a live handle, not mutated during the call; `out` is NULL or writable for 64
/// bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_engine_agent_export(
    engine: *const tcap_engine,
    agent: u32,
    out: *mut u8,
) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or valid per this function's contract ([u8; 64] has alignment 1).
        let (e, out) = unsafe { (engine_ref(engine)?, Out::new(out.cast::<[u8; TCAP_AGENT_STATE_SIZE]>())?) };
        out.write(encode_state(e.gate.agent(agent)?));
        Ok(())
    })
}

/// Replaces agent `agent`'s state with a snapshot from `tcap_engine_agent_export`. The bytes are
/// validated first; a corrupt or foreign snapshot is `TCAP_RESULT_AGENT_STATE_REJECTED` and changes
/// nothing. The engine then rebuilds its population statistics from all agents (O(n_agents)).
///
/// Errors: `TCAP_RESULT_NULL_ARGUMENT`, `TCAP_RESULT_MISALIGNED`, `TCAP_RESULT_BAD_HANDLE`,
/// `TCAP_RESULT_AGENT_OUT_OF_RANGE`, `TCAP_RESULT_AGENT_STATE_REJECTED`.
///
/// # Safety
/// As `tcap_engine_check`; `state` is NULL or readable for 64 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_engine_agent_import(
    engine: *mut tcap_engine,
    agent: u32,
    state: *const u8,
) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or valid per this function's contract ([u8; 64] has alignment 1).
        let (e, bytes) =
            unsafe { (engine_mut(engine)?, boundary::arg_ref(state.cast::<[u8; TCAP_AGENT_STATE_SIZE]>())?) };
        if agent >= e.n_agents {
            return Err(tcap_result::AgentOutOfRange);
        }
        let s = decode_state(bytes).ok_or(tcap_result::AgentStateRejected)?;
        let lookup = *e.gate.lookup();
        let (policy, config) = (*e.gate.policy(), *e.gate.config());
        // Retire the gate (and with it its exclusive borrow of the states) by swapping in one over no
        // agents; then the states may be written through the raw pointer they were borrowed from.
        let _retired = core::mem::replace(&mut e.gate, Gate::new(lookup, policy, config, &mut [])?);
        #[allow(clippy::drop_non_drop)] // ends the retired gate's borrow here, explicitly
        drop(_retired);
        // SAFETY: `agent < n_agents`, so the slot is inside the state array carved by init; no reference
        // to the states is alive (the gate that borrowed them was dropped above), and `&mut e` makes this
        // the only access to the engine.
        unsafe { e.states.as_ptr().add(agent as usize).write(s) };
        // SAFETY: as in `tcap_engine_init`: `n_agents` initialised states in the caller's region, reached
        // only through this engine from here on.
        let slice: &'static mut [AgentState] =
            unsafe { core::slice::from_raw_parts_mut(e.states.as_ptr(), e.n_agents as usize) };
        // Cannot fail: the same configuration was validated when the engine was initialised. (Were it to,
        // the engine would keep the gate over no agents and refuse every agent id.)
        e.gate = Gate::new(lookup, policy, config, slice)?;
        Ok(())
    })
}

/// Replaces the policy: `codes[risk·4 + status]` is the `tcap_decision` for a command of that risk from
/// an agent of that status. A table that allows `TCAP_RISK_UNKNOWN` at any status is refused: tcap
/// fails closed.
///
/// Errors: `TCAP_RESULT_NULL_ARGUMENT`, `TCAP_RESULT_MISALIGNED`, `TCAP_RESULT_BAD_HANDLE`,
/// `TCAP_RESULT_INVALID_ENUM` (a code above 4), `TCAP_RESULT_POLICY_FAILS_OPEN`. The engine keeps its
/// policy on error.
///
/// # Safety
/// As `tcap_engine_check`; `codes` is NULL or readable for 24 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_engine_set_policy(engine: *mut tcap_engine, codes: *const u8) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or valid per this function's contract ([u8; 24] has alignment 1).
        let (e, codes) =
            unsafe { (engine_mut(engine)?, boundary::arg_ref(codes.cast::<[u8; TCAP_POLICY_LEN]>())?) };
        e.gate.set_policy(policy(*codes)?);
        Ok(())
    })
}

/// Makes the engine consult `net`: node `i` of the network is agent `i`, and every call of an agent
/// whose node is quarantined or isolated gets `TCAP_DECISION_QUARANTINE` (agents beyond the network's
/// nodes count as healthy). Replaces any previously attached network.
///
/// The engine keeps the pointer: `net` must stay alive and unmoved while attached, and must not be
/// used by another thread during an engine call. Detach with `tcap_engine_detach_network`.
///
/// Errors: `TCAP_RESULT_NULL_ARGUMENT`, `TCAP_RESULT_MISALIGNED`, `TCAP_RESULT_BAD_HANDLE` (either
/// handle).
///
/// # Safety
/// `engine` as in `tcap_engine_check`; `net` is NULL or a live network handle, kept alive while attached.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_engine_attach_network(
    engine: *mut tcap_engine,
    net: *const tcap_network,
) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or valid per this function's contract.
        let e = unsafe { engine_mut(engine) }?;
        // SAFETY: NULL or a live network handle per this function's contract (checked, not kept as a
        // reference).
        unsafe { net_ref(net) }?;
        e.network = NonNull::new(net.cast_mut());
        Ok(())
    })
}

/// Stops consulting the attached network (no-op if none is attached).
///
/// Errors: `TCAP_RESULT_NULL_ARGUMENT`, `TCAP_RESULT_MISALIGNED`, `TCAP_RESULT_BAD_HANDLE`.
///
/// # Safety
/// As `tcap_engine_check`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_engine_detach_network(engine: *mut tcap_engine) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or valid per this function's contract.
        let e = unsafe { engine_mut(engine) }?;
        e.network = None;
        Ok(())
    })
}

/// The reason bits equal tcap-core's (checked by a test; the header needs literals).
#[cfg(test)]
const REASONS: [(u32, tcap_core::gate::Reasons); 11] = [
    (TCAP_REASON_UNKNOWN_COMMAND, tcap_core::gate::Reasons::UNKNOWN_COMMAND),
    (TCAP_REASON_RISK, tcap_core::gate::Reasons::RISK),
    (TCAP_REASON_AGENT_STATE, tcap_core::gate::Reasons::AGENT_STATE),
    (TCAP_REASON_NETWORK, tcap_core::gate::Reasons::NETWORK),
    (TCAP_REASON_PROFILE, tcap_core::gate::Reasons::PROFILE),
    (TCAP_REASON_BURST, tcap_core::gate::Reasons::BURST),
    (TCAP_REASON_POPULATION, tcap_core::gate::Reasons::POPULATION),
    (TCAP_REASON_NOVELTY, tcap_core::gate::Reasons::NOVELTY),
    (TCAP_REASON_OUTCOMES, tcap_core::gate::Reasons::OUTCOMES),
    (TCAP_REASON_ESCALATED, tcap_core::gate::Reasons::ESCALATED),
    (TCAP_REASON_NETWORK_WATCH, tcap_core::gate::Reasons::NETWORK_WATCH),
];

#[cfg(test)]
mod tests;
