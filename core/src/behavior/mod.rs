//! Behavioural scoring: one fixed-size state per agent (one cache line), updated in O(1) per event with
//! integer fixed-point arithmetic only.
//!
//! * [`AgentState`] — the 64-byte per-agent state: learned habits (risk-class and outcome frequencies,
//!   inter-arrival baseline), recent behaviour, the evidence score and the [`AgentStatus`].
//! * Evidence is a saturating Q16.16 log-odds score (bits), Page's CUSUM with time decay: every call and
//!   outcome adds a bounded log-likelihood ratio, the score is clamped to `[0, SCORE_MAX]` and halves
//!   every half-life without new evidence, so it can neither overflow nor stay high forever.
//! * [`AgentStatus`] follows the score with hysteresis (separate up/down thresholds and a cool-down).
//! * [`Population`] (built on [`Moments`]) is the population baseline: exact, mergeable sufficient
//!   statistics.
//!
//! * [`sketch`] — decaying count-min sketches that score bursts and novelty of (agent, tool) pairs and of
//!   endpoints, MIDAS-style, in integers; their anomaly feeds the evidence as one term.
//!
//! No floats, no allocation, no panics; unsafe code is forbidden (`#![deny(unsafe_code)]`). The maths is in docs/SCORING.md.

mod config;
pub mod fixed;
mod population;
pub mod sketch;
mod state;

pub use config::{Config, ConfigError};
pub use population::{Moments, MomentsView, Population, PopulationView};
pub(crate) use state::WIN_CLASS_MASK;
pub use state::{AgentState, AgentStatus, MAX_WINDOW, Outcome, Tables, Update, decay};

use crate::wire::{Flags, Risk};

/// Upper bound of an agent's score: 64 bits of log-odds (Q16.16).
pub const SCORE_MAX: i32 = 64 << 16;
/// Upper bound of the magnitude of any single evidence term (Q16.16): 8 bits of log-odds.
pub const EVIDENCE_MAX: i32 = 8 << 16;

/// The class of a call for profiling: its risk level, promoted to at least `High` when the descriptor
/// carries a sensitive capability (destructive, privilege escalation, kernel module, container escape,
/// audit logging). Numeric values are frozen and equal [`Risk`]'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum RiskClass {
    /// [`Risk::Safe`].
    Safe = 0,
    /// [`Risk::Low`].
    Low = 1,
    /// [`Risk::Medium`].
    Medium = 2,
    /// [`Risk::High`], or a lower risk with a sensitive flag.
    High = 3,
    /// [`Risk::Critical`].
    Critical = 4,
    /// [`Risk::Unknown`] or an unknown command.
    Unknown = 5,
}

impl RiskClass {
    /// Capability flags that promote a call to at least `High`.
    pub const SENSITIVE: Flags = Flags(
        Flags::DESTRUCTIVE.0
            | Flags::PRIVILEGE_ESCALATION.0
            | Flags::KERNEL_MODULE.0
            | Flags::CONTAINER_ESCAPE.0
            | Flags::AUDIT_LOGGING.0,
    );

    /// The class of a call to a command with this risk and these flags. Branch-free.
    #[inline(always)]
    pub const fn of(risk: Risk, flags: Flags) -> RiskClass {
        let r = risk as u32;
        let floor = fixed::sel_u32(flags.0 & Self::SENSITIVE.0 != 0, RiskClass::High as u32, 0);
        let c = if r > floor { r } else { floor };
        match c {
            0 => RiskClass::Safe,
            1 => RiskClass::Low,
            2 => RiskClass::Medium,
            3 => RiskClass::High,
            4 => RiskClass::Critical,
            _ => RiskClass::Unknown,
        }
    }

    /// [`RiskClass::of`] by a table load instead of a mask behind an optimisation barrier
    /// ([`fixed::mask32`]): the same class for every input (the table is built with `of` itself),
    /// without the barrier's store and reload, and with no branch on the flags either (a plain `if`
    /// became one, ~0.15 mispredictions per call). For [`Gate::check`](crate::gate::Gate::check);
    /// `Gate::check_ct` keeps [`RiskClass::of`].
    #[inline(always)]
    pub(crate) const fn of_plain(risk: Risk, flags: Flags) -> RiskClass {
        /// `of(risk, sensitive)` at `2·risk + sensitive`.
        const BY: [RiskClass; 2 * Risk::COUNT] = {
            let mut t = [RiskClass::Safe; 2 * Risk::COUNT];
            let mut i = 0;
            while i < Risk::COUNT {
                t[2 * i] = RiskClass::of(Risk::ALL[i], Flags(0));
                t[2 * i + 1] = RiskClass::of(Risk::ALL[i], RiskClass::SENSITIVE);
                i += 1;
            }
            t
        };
        let sensitive = (flags.0 & Self::SENSITIVE.0 != 0) as usize;
        let i = 2 * risk as usize + sensitive;
        if i < BY.len() { BY[i] } else { RiskClass::Unknown }
    }
}

/// Which evidence terms fired (a bitset, frozen values; the gate reports them as reason bits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Evidence(pub u8);

impl Evidence {
    /// The call's risk class was more likely under the compromised alternative than under the agent's
    /// own habits.
    pub const PROFILE: Evidence = Evidence(1 << 0);
    /// Calls are arriving faster than the agent's own baseline.
    pub const BURST: Evidence = Evidence(1 << 1);
    /// The agent's recent high-risk fraction is far above the population's.
    pub const POPULATION: Evidence = Evidence(1 << 2);
    /// The external (sketch) anomaly score contributed evidence.
    pub const NOVELTY: Evidence = Evidence(1 << 3);
    /// An outcome (error, denial, timeout) was more likely under the compromised alternative.
    pub const OUTCOMES: Evidence = Evidence(1 << 4);

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Evidence) -> bool {
        self.0 & other.0 == other.0
    }
}

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
