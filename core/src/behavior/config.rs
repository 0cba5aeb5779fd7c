//! Tunable parameters of the behaviour engine, validated once so that the hot path needs no checks.

use core::fmt;

use super::fixed::ONE;
use super::{EVIDENCE_MAX, SCORE_MAX};
use crate::Micros;

/// Parameters of the behaviour engine. Build with [`Config::DEFAULT`] (or `Default`), adjust fields, and
/// pass through [`Config::validate`]; the gate only accepts validated configurations.
///
/// Every log-odds quantity is Q16.16 bits ([`super::fixed::ONE`] = 1 bit); probabilities are Q0.16.
/// The maths is in docs/SCORING.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Calls evaluated together (the micro-window, docs/SCORING.md §3.0), `1..=15`: an agent's calls
    /// are counted and evaluated every `window` calls, or at once when a call is High, Critical or
    /// Unknown or carries sketch evidence. 1 evaluates every call on its own.
    pub window: u8,
    /// Calls an agent must make before its own-baseline evidence (risk profile, timing) counts.
    pub warmup_calls: u32,
    /// Outcomes an agent must report before outcome evidence counts.
    pub warmup_outcomes: u32,
    /// Longest averaging window of the agent's own baselines, as `log2(events)` (1..=14). The baseline
    /// is a cumulative mean until `2^baseline_log2` events, then an EWMA with weight `2^-baseline_log2`.
    pub baseline_log2: u8,
    /// Score half-life as `log2(microseconds)` (16..=40): with no new evidence the score halves every
    /// `2^half_life_log2` µs.
    pub half_life_log2: u8,
    /// Mixture weight ε of the alternative ("compromised") distribution, as `log2(1/ε)` (1..=8).
    pub eps_log2: u8,
    /// Floor of every learned probability (Q0.16, ≥ 1): bounds one event's log-likelihood ratio.
    pub p_floor: u16,
    /// Weight of the prior in every learned frequency, in pseudo-observations: the agent's frequency of
    /// category `i` is `(n_i + w·prior_i) / (N + w)`.
    pub prior_weight: u16,
    /// Prior over the six risk classes (Q0.16), used until the population's own mix is ready.
    pub risk_prior: [u16; 6],
    /// Prior over the four outcomes (Q0.16).
    pub outcome_prior: [u16; 4],
    /// Alternative distribution over the six risk classes (Q0.16), what a compromised agent drifts to.
    pub risk_alt: [u16; 6],
    /// Alternative distribution over the four outcomes (Q0.16).
    pub outcome_alt: [u16; 4],
    /// Burst evidence: allowance `k` in scaled-deviation units (Q16.16), subtracted before clamping.
    pub burst_allowance: i32,
    /// Burst evidence: largest contribution of one call (Q16.16, ≤ [`EVIDENCE_MAX`]).
    pub burst_cap: i32,
    /// Population evidence: allowance in scaled-deviation units (Q16.16).
    pub pop_allowance: i32,
    /// Population evidence: largest contribution of one call (Q16.16, ≤ [`EVIDENCE_MAX`]).
    pub pop_cap: i32,
    /// Population evidence is off until the population statistics hold this many samples.
    pub pop_min_samples: u64,
    /// Sketch evidence: anomaly scores (Q16.16) at or below this offset contribute nothing.
    pub sketch_offset: u32,
    /// Sketch evidence: `(anomaly − offset) >> sketch_shift`, clamped to `[0, sketch_cap]`.
    pub sketch_shift: u8,
    /// Sketch evidence: largest contribution of one call (Q16.16, ≤ [`EVIDENCE_MAX`]).
    pub sketch_cap: i32,
    /// Score thresholds (Q16.16) to step *up* into Monitored, Restricted, Quarantined.
    pub up: [i32; 3],
    /// Score thresholds (Q16.16) below which an agent in Monitored, Restricted, Quarantined is calm.
    pub down: [i32; 3],
    /// How long an agent must stay calm (score below its level's `down` threshold) before it steps down
    /// one level.
    pub cooldown_us: Micros,
    /// Whether a Quarantined agent may step down on its own (otherwise only an operator releases it).
    pub release_quarantine: bool,
}

/// Why a [`Config`] was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// A shift or window parameter is outside its documented range.
    ShiftOutOfRange,
    /// A probability floor of zero (it would allow unbounded log-likelihood ratios).
    ZeroFloor,
    /// An evidence cap is negative or larger than [`EVIDENCE_MAX`], or an allowance is negative.
    EvidenceOutOfRange,
    /// Thresholds are not ordered: need `0 < down[i] < up[i] <= SCORE_MAX` and both rows increasing.
    Thresholds,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigError::ShiftOutOfRange => "a shift or window parameter is out of range",
            ConfigError::ZeroFloor => "the probability floor must be at least 1",
            ConfigError::EvidenceOutOfRange => "an evidence cap or allowance is out of range",
            ConfigError::Thresholds => "state thresholds must satisfy 0 < down < up <= SCORE_MAX, increasing",
        })
    }
}

const fn q16(bits: i32, frac_256: i32) -> i32 {
    bits * ONE + frac_256 * (ONE / 256)
}

impl Config {
    /// The default, tuned on the stealth simulation (docs/SCORING.md, "Defaults").
    pub const DEFAULT: Config = Config {
        window: 8,
        warmup_calls: 64,
        warmup_outcomes: 32,
        baseline_log2: 10,
        half_life_log2: 30,
        eps_log2: 3,
        p_floor: 64,
        prior_weight: 32,
        // Safe .45, Low .29, Medium .17, High .06, Critical .02, Unknown .01
        risk_prior: [29491, 19005, 11141, 3932, 1311, 655],
        // success .90, error .07, denied .015, timeout .015
        outcome_prior: [58982, 4588, 983, 983],
        // Safe .04, Low .08, Medium .20, High .33, Critical .25, Unknown .10
        risk_alt: [2621, 5243, 13107, 21627, 16384, 6554],
        // success .55, error .25, denied .12, timeout .08
        outcome_alt: [36045, 16384, 7864, 5243],
        burst_allowance: q16(2, 0),
        burst_cap: q16(0, 32),
        pop_allowance: q16(4, 0),
        pop_cap: q16(0, 8),
        pop_min_samples: 4096,
        sketch_offset: 4 << 16,
        sketch_shift: 2,
        sketch_cap: q16(2, 0),
        up: [q16(8, 0), q16(16, 0), q16(32, 0)],
        down: [q16(4, 0), q16(10, 0), q16(20, 0)],
        cooldown_us: 120_000_000,
        release_quarantine: false,
    };

    /// Checks every documented range; the returned value is what the gate stores.
    pub const fn validate(self) -> Result<Config, ConfigError> {
        if self.baseline_log2 < 1
            || self.baseline_log2 > 14
            || self.half_life_log2 < 16
            || self.half_life_log2 > 40
            || self.eps_log2 < 1
            || self.eps_log2 > 8
            || self.sketch_shift > 16
            || self.window < 1
            || self.window > super::state::MAX_WINDOW
        {
            return Err(ConfigError::ShiftOutOfRange);
        }
        if self.p_floor == 0 {
            return Err(ConfigError::ZeroFloor);
        }
        let caps = [self.burst_cap, self.pop_cap, self.sketch_cap];
        let mut i = 0;
        while i < caps.len() {
            if caps[i] < 0 || caps[i] > EVIDENCE_MAX {
                return Err(ConfigError::EvidenceOutOfRange);
            }
            i += 1;
        }
        if self.burst_allowance < 0 || self.pop_allowance < 0 {
            return Err(ConfigError::EvidenceOutOfRange);
        }
        let mut i = 0;
        while i < 3 {
            if self.down[i] <= 0 || self.down[i] >= self.up[i] || self.up[i] > SCORE_MAX {
                return Err(ConfigError::Thresholds);
            }
            if i > 0 && (self.up[i] <= self.up[i - 1] || self.down[i] <= self.down[i - 1]) {
                return Err(ConfigError::Thresholds);
            }
            i += 1;
        }
        Ok(self)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        assert_eq!(Config::DEFAULT.validate(), Ok(Config::DEFAULT));
    }

    #[test]
    fn bad_configs_refused() {
        let mut c = Config::DEFAULT;
        c.p_floor = 0;
        assert_eq!(c.validate(), Err(ConfigError::ZeroFloor));
        let mut c = Config::DEFAULT;
        c.half_life_log2 = 8;
        assert_eq!(c.validate(), Err(ConfigError::ShiftOutOfRange));
        let mut c = Config::DEFAULT;
        c.burst_cap = EVIDENCE_MAX + 1;
        assert_eq!(c.validate(), Err(ConfigError::EvidenceOutOfRange));
        let mut c = Config::DEFAULT;
        c.down[1] = c.up[1];
        assert_eq!(c.validate(), Err(ConfigError::Thresholds));
        let mut c = Config::DEFAULT;
        c.up[2] = SCORE_MAX + 1;
        assert_eq!(c.validate(), Err(ConfigError::Thresholds));
        let mut c = Config::DEFAULT;
        c.up = [c.up[1], c.up[0], c.up[2]];
        assert_eq!(c.validate(), Err(ConfigError::Thresholds));
    }
}
