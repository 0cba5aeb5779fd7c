//! Enumerations shared with C: risk levels, gate decisions and node states, with their names.
//!
//! Each is `#[repr(u32)]` with frozen numbers. Rust only ever *returns* these types to C; where C passes
//! one in, the parameter is a `uint32_t` that is validated ([`tcap_result::InvalidEnum`]), because an
//! out-of-range discriminant in a Rust enum is undefined behaviour.

use core::ffi::{CStr, c_char};

use tcap_core::behavior::{AgentStatus, Outcome};
use tcap_core::gate::Decision;
use tcap_core::network::NodeState;
use tcap_core::wire::{Flavour, Risk};

use crate::boundary::{self, Out};
use crate::tcap_result;

/// What the `*_name` functions return for a number that is not a value of their enum.
pub const INVALID_NAME: &CStr = c"invalid";

/// Risk level of a command: the highest of the five risk bits, or `TCAP_RISK_UNKNOWN` when none is set
/// (tcap fails closed: unknown is not safe). Same numbers as tcap-core's `Risk`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum tcap_risk {
    /// Read-only, no security implications.
    Safe = 0,
    /// Information gathering.
    Low = 1,
    /// Modifies files or reaches the network.
    Medium = 2,
    /// System modification or privilege.
    High = 3,
    /// Can destroy data or systems irreversibly.
    Critical = 4,
    /// No risk bit set, or the command is not known.
    Unknown = 5,
}

impl From<Risk> for tcap_risk {
    fn from(r: Risk) -> Self {
        match r {
            Risk::Safe => tcap_risk::Safe,
            Risk::Low => tcap_risk::Low,
            Risk::Medium => tcap_risk::Medium,
            Risk::High => tcap_risk::High,
            Risk::Critical => tcap_risk::Critical,
            Risk::Unknown => tcap_risk::Unknown,
        }
    }
}

impl tcap_risk {
    /// Upstream's spelling (`SAFE`, `LOW_RISK`, `MEDIUM_RISK`, `HIGH_RISK`, `CRITICAL`, `UNKNOWN`).
    pub const fn name(self) -> &'static CStr {
        match self {
            tcap_risk::Safe => c"SAFE",
            tcap_risk::Low => c"LOW_RISK",
            tcap_risk::Medium => c"MEDIUM_RISK",
            tcap_risk::High => c"HIGH_RISK",
            tcap_risk::Critical => c"CRITICAL",
            tcap_risk::Unknown => c"UNKNOWN",
        }
    }
}

/// A gate decision about one tool call, from least to most restrictive.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum tcap_decision {
    /// Run it.
    Allow = 0,
    /// Run it, but log and watch.
    Caution = 1,
    /// Hold it until a human approves.
    RequireApproval = 2,
    /// Refuse it.
    Deny = 3,
    /// Refuse it and quarantine the agent.
    Quarantine = 4,
}

impl From<Decision> for tcap_decision {
    fn from(d: Decision) -> Self {
        match d {
            Decision::Allow => tcap_decision::Allow,
            Decision::Caution => tcap_decision::Caution,
            Decision::RequireApproval => tcap_decision::RequireApproval,
            Decision::Deny => tcap_decision::Deny,
            Decision::Quarantined => tcap_decision::Quarantine,
        }
    }
}

impl tcap_decision {
    /// Every value, in numeric order.
    ///
    /// cbindgen:ignore
    pub const ALL: [tcap_decision; 5] = [
        tcap_decision::Allow,
        tcap_decision::Caution,
        tcap_decision::RequireApproval,
        tcap_decision::Deny,
        tcap_decision::Quarantine,
    ];

    /// Whether the host may run the call without further approval (`ALLOW` or `CAUTION`).
    pub const fn permits(self) -> bool {
        matches!(self, tcap_decision::Allow | tcap_decision::Caution)
    }

    /// Lower-case name (`allow`, `caution`, `require_approval`, `deny`, `quarantine`).
    pub const fn name(self) -> &'static CStr {
        match self {
            tcap_decision::Allow => c"allow",
            tcap_decision::Caution => c"caution",
            tcap_decision::RequireApproval => c"require_approval",
            tcap_decision::Deny => c"deny",
            tcap_decision::Quarantine => c"quarantine",
        }
    }
}

/// The state of a node (an agent) in the agent network. Same numbers as tcap-core's `NodeState`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum tcap_node_state {
    /// Behaving normally; routes may pass through it.
    Healthy = 0,
    /// Anomalous; still routable, watched.
    Suspicious = 1,
    /// Its tool calls are refused and no route passes through it.
    Quarantined = 2,
    /// Cut off entirely.
    Isolated = 3,
    /// Released from quarantine, on probation.
    Recovering = 4,
}

impl From<NodeState> for tcap_node_state {
    fn from(s: NodeState) -> Self {
        match s {
            NodeState::Healthy => tcap_node_state::Healthy,
            NodeState::Suspicious => tcap_node_state::Suspicious,
            NodeState::Quarantined => tcap_node_state::Quarantined,
            NodeState::Isolated => tcap_node_state::Isolated,
            NodeState::Recovering => tcap_node_state::Recovering,
        }
    }
}

impl tcap_node_state {
    /// Lower-case name (tcap-core's spelling).
    pub const fn name(self) -> &'static CStr {
        match self {
            tcap_node_state::Healthy => c"healthy",
            tcap_node_state::Suspicious => c"suspicious",
            tcap_node_state::Quarantined => c"quarantined",
            tcap_node_state::Isolated => c"isolated",
            tcap_node_state::Recovering => c"recovering",
        }
    }
}

/// An agent's standing in the behaviour engine, from least to most restricted. Same numbers as
/// tcap-core's `AgentStatus`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum tcap_agent_status {
    /// No standing evidence against the agent.
    Trusted = 0,
    /// Some evidence: watched, mild policy.
    Monitored = 1,
    /// Strong evidence: risky tools refused.
    Restricted = 2,
    /// Overwhelming evidence: every call refused.
    Quarantined = 3,
}

impl From<AgentStatus> for tcap_agent_status {
    fn from(s: AgentStatus) -> Self {
        match s {
            AgentStatus::Trusted => tcap_agent_status::Trusted,
            AgentStatus::Monitored => tcap_agent_status::Monitored,
            AgentStatus::Restricted => tcap_agent_status::Restricted,
            AgentStatus::Quarantined => tcap_agent_status::Quarantined,
        }
    }
}

impl tcap_agent_status {
    /// Lower-case name (tcap-core's spelling).
    pub const fn name(self) -> &'static CStr {
        match self {
            tcap_agent_status::Trusted => c"trusted",
            tcap_agent_status::Monitored => c"monitored",
            tcap_agent_status::Restricted => c"restricted",
            tcap_agent_status::Quarantined => c"quarantined",
        }
    }
}

/// How a tool call ended, as the host reports it to `tcap_engine_observe`. Same numbers as tcap-core's
/// `Outcome`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum tcap_outcome {
    /// The tool ran and succeeded.
    Success = 0,
    /// The tool ran and failed.
    Error = 1,
    /// The host refused to run it (permissions, sandbox, a human said no).
    Denied = 2,
    /// The tool did not finish in time.
    Timeout = 3,
}

/// The layout of a 24-byte TCP descriptor. Same numbers as tcap-core's `Flavour`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum tcap_flavour {
    /// Spec layout: u16 performance fields, command length, CRC-32-low-16 checksum, spec flag map.
    Spec = 0,
    /// Registry layout: u32 execution time, CRC-32-low-16 checksum, spec flag map.
    Registry = 1,
    /// Knowledge-base layout: registry layout, byte-sum checksum, knowledge-base flag map.
    KnowledgeBase = 2,
}

impl From<Flavour> for tcap_flavour {
    fn from(f: Flavour) -> Self {
        match f {
            Flavour::Spec => tcap_flavour::Spec,
            Flavour::Registry => tcap_flavour::Registry,
            Flavour::KnowledgeBase => tcap_flavour::KnowledgeBase,
        }
    }
}

/// Validates a C `uint32_t` as an outcome.
pub(crate) fn outcome_from_u32(v: u32) -> Option<Outcome> {
    u8::try_from(v).ok().and_then(Outcome::from_u8)
}

/// Validates a C `uint32_t` as a flavour.
pub(crate) fn flavour_from_u32(v: u32) -> Option<Flavour> {
    match v {
        0 => Some(Flavour::Spec),
        1 => Some(Flavour::Registry),
        2 => Some(Flavour::KnowledgeBase),
        _ => None,
    }
}

/// The static name of an agent status (`"trusted"`, ...), or `"invalid"` for a number that is not a
/// `tcap_agent_status`. Never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn tcap_agent_status_name(status: u32) -> *const c_char {
    boundary::guard_value(INVALID_NAME.as_ptr(), || {
        u8::try_from(status)
            .ok()
            .and_then(AgentStatus::from_u8)
            .map_or(INVALID_NAME, |s| tcap_agent_status::from(s).name())
            .as_ptr()
    })
}

/// Validates a C `uint32_t` as a risk level.
fn risk_from_u32(v: u32) -> Option<Risk> {
    u8::try_from(v).ok().and_then(Risk::from_u8)
}

/// Validates a C `uint32_t` as a node state.
pub(crate) fn node_state_from_u32(v: u32) -> Option<NodeState> {
    u8::try_from(v).ok().and_then(NodeState::from_u8)
}

/// Validates a C `uint32_t` as a decision.
fn decision_from_u32(v: u32) -> Option<tcap_decision> {
    tcap_decision::ALL.get(usize::try_from(v).ok()?).copied()
}

/// The static name of a risk level (`"CRITICAL"`, ...), or `"invalid"` for a number that is not a
/// `tcap_risk`. Never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn tcap_risk_name(risk: u32) -> *const c_char {
    boundary::guard_value(INVALID_NAME.as_ptr(), || {
        risk_from_u32(risk).map_or(INVALID_NAME, |r| tcap_risk::from(r).name()).as_ptr()
    })
}

/// The static name of a decision (`"allow"`, ...), or `"invalid"` for a number that is not a
/// `tcap_decision`. Never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn tcap_decision_name(decision: u32) -> *const c_char {
    boundary::guard_value(INVALID_NAME.as_ptr(), || {
        decision_from_u32(decision).map_or(INVALID_NAME, tcap_decision::name).as_ptr()
    })
}

/// The static name of a node state (`"quarantined"`, ...), or `"invalid"` for a number that is not a
/// `tcap_node_state`. Never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn tcap_node_state_name(state: u32) -> *const c_char {
    boundary::guard_value(INVALID_NAME.as_ptr(), || {
        node_state_from_u32(state).map_or(INVALID_NAME, |s| tcap_node_state::from(s).name()).as_ptr()
    })
}

/// Whether a node in `state` is blocked: no tool call is allowed for it and no route passes through it
/// (quarantined or isolated).
///
/// Errors: `TCAP_RESULT_INVALID_ENUM` if `state` is not a `tcap_node_state`; `TCAP_RESULT_NULL_ARGUMENT`
/// or `TCAP_RESULT_MISALIGNED` for `out_blocked`.
///
/// # Safety
/// `out_blocked` is NULL or valid for writing one `bool`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_node_state_is_blocked(state: u32, out_blocked: *mut bool) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or writable per this function's contract.
        let out = unsafe { Out::new(out_blocked) }?;
        let s = node_state_from_u32(state).ok_or(tcap_result::InvalidEnum)?;
        out.write(s.is_blocked());
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(p: *const c_char) -> &'static CStr {
        // SAFETY: every name function returns a pointer to a static NUL-terminated string.
        unsafe { CStr::from_ptr(p) }
    }

    #[test]
    fn risk_numbers_and_names_match_core() {
        for r in Risk::ALL {
            let c = tcap_risk::from(r);
            assert_eq!(c as u32, r as u8 as u32);
            assert_eq!(c.name().to_str().unwrap(), r.as_str());
            assert_eq!(s(tcap_risk_name(r as u32)), c.name());
        }
        assert_eq!(s(tcap_risk_name(6)), INVALID_NAME);
        assert_eq!(s(tcap_risk_name(256)), INVALID_NAME);
    }

    #[test]
    fn node_state_numbers_and_names_match_core() {
        for v in 0u8..=4 {
            let n = NodeState::from_u8(v).unwrap();
            let c = tcap_node_state::from(n);
            assert_eq!(c as u32, v as u32);
            assert_eq!(c.name().to_str().unwrap(), n.as_str());
            assert_eq!(s(tcap_node_state_name(v as u32)), c.name());
            let mut blocked = !n.is_blocked();
            // SAFETY: a live local bool.
            assert_eq!(unsafe { tcap_node_state_is_blocked(v as u32, &mut blocked) }, tcap_result::Ok);
            assert_eq!(blocked, n.is_blocked());
        }
        assert_eq!(s(tcap_node_state_name(5)), INVALID_NAME);
        let mut b = true;
        // SAFETY: a live local bool, or NULL.
        unsafe {
            assert_eq!(tcap_node_state_is_blocked(5, &mut b), tcap_result::InvalidEnum);
            assert!(b, "output written on error");
            assert_eq!(tcap_node_state_is_blocked(0, core::ptr::null_mut()), tcap_result::NullArgument);
        }
    }

    #[test]
    fn agent_status_outcome_flavour_match_core() {
        for st in AgentStatus::ALL {
            let c = tcap_agent_status::from(st);
            assert_eq!(c as u32, st as u8 as u32);
            assert_eq!(c.name().to_str().unwrap(), st.as_str());
            assert_eq!(s(tcap_agent_status_name(st as u32)), c.name());
        }
        assert_eq!(s(tcap_agent_status_name(4)), INVALID_NAME);
        for o in Outcome::ALL {
            assert_eq!(outcome_from_u32(o as u8 as u32), Some(o));
        }
        assert_eq!(outcome_from_u32(4), None);
        assert_eq!(outcome_from_u32(256), None);
        for f in [Flavour::Spec, Flavour::Registry, Flavour::KnowledgeBase] {
            assert_eq!(tcap_flavour::from(f) as u32, f as u8 as u32);
            assert_eq!(flavour_from_u32(f as u8 as u32), Some(f));
        }
        assert_eq!(flavour_from_u32(3), None);
        for d in Decision::ALL {
            assert_eq!(tcap_decision::from(d) as u32, d as u8 as u32);
        }
        assert_eq!(tcap_outcome::Timeout as u32, Outcome::Timeout as u8 as u32);
    }

    #[test]
    fn decisions() {
        for (i, d) in tcap_decision::ALL.iter().enumerate() {
            assert_eq!(*d as usize, i);
            assert_eq!(s(tcap_decision_name(i as u32)), d.name());
        }
        assert_eq!(s(tcap_decision_name(5)), INVALID_NAME);
        assert_eq!(s(tcap_decision_name(u32::MAX)), INVALID_NAME);
    }
}
