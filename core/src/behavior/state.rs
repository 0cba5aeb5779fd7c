//! The per-agent state (one cache line) and its O(1) updates.

use core::fmt;

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use super::config::Config;
use super::fixed::{bitlen, clamp_i32, ewma_u16, log2_q8_u64, log2_q16, sel_i32, sel_u32, sel_u64};
use super::population::PopulationView;
use super::{EVIDENCE_MAX, Evidence, RiskClass, SCORE_MAX};
use crate::Micros;

/// An agent's standing, derived from its score with hysteresis. Numeric values are frozen (snapshots,
/// records, C ABI) and ordered from least to most restricted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum AgentStatus {
    /// No standing evidence against the agent.
    #[default]
    Trusted = 0,
    /// Some evidence: watched, mild policy.
    Monitored = 1,
    /// Strong evidence: risky tools refused.
    Restricted = 2,
    /// Overwhelming evidence: every call refused.
    Quarantined = 3,
}

impl AgentStatus {
    /// Number of statuses (the number of policy columns).
    pub const COUNT: usize = 4;
    /// All values in numeric order.
    pub const ALL: [AgentStatus; 4] =
        [AgentStatus::Trusted, AgentStatus::Monitored, AgentStatus::Restricted, AgentStatus::Quarantined];

    /// The value for a numeric code.
    pub const fn from_u8(v: u8) -> Option<AgentStatus> {
        match v {
            0 => Some(AgentStatus::Trusted),
            1 => Some(AgentStatus::Monitored),
            2 => Some(AgentStatus::Restricted),
            3 => Some(AgentStatus::Quarantined),
            _ => None,
        }
    }

    /// Total conversion for codes already known to be `< 4` (values above saturate to Quarantined).
    pub const fn from_u8_saturating(v: u8) -> AgentStatus {
        match v {
            0 => AgentStatus::Trusted,
            1 => AgentStatus::Monitored,
            2 => AgentStatus::Restricted,
            _ => AgentStatus::Quarantined,
        }
    }

    /// Lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Trusted => "trusted",
            AgentStatus::Monitored => "monitored",
            AgentStatus::Restricted => "restricted",
            AgentStatus::Quarantined => "quarantined",
        }
    }
}

impl fmt::Display for AgentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a tool call ended, as reported by the host. Numeric values are frozen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Outcome {
    /// The tool ran and succeeded.
    Success = 0,
    /// The tool ran and failed.
    Error = 1,
    /// The host refused to run it (permissions, sandbox, a human said no).
    Denied = 2,
    /// The tool did not finish in time.
    Timeout = 3,
}

impl Outcome {
    /// Number of outcomes.
    pub const COUNT: usize = 4;
    /// All values in numeric order.
    pub const ALL: [Outcome; 4] = [Outcome::Success, Outcome::Error, Outcome::Denied, Outcome::Timeout];

    /// The value for a numeric code.
    pub const fn from_u8(v: u8) -> Option<Outcome> {
        match v {
            0 => Some(Outcome::Success),
            1 => Some(Outcome::Error),
            2 => Some(Outcome::Denied),
            3 => Some(Outcome::Timeout),
            _ => None,
        }
    }

    /// Lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Error => "error",
            Outcome::Denied => "denied",
            Outcome::Timeout => "timeout",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one update did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Update {
    /// Score after the update (Q16.16 bits of log-odds, `0..=SCORE_MAX`).
    pub score: i32,
    /// Status before the update.
    pub previous: AgentStatus,
    /// Status after the update.
    pub status: AgentStatus,
    /// Which evidence terms were positive in this update (and outcome evidence pending since the last
    /// call), as [`Evidence`] bits.
    pub evidence: Evidence,
}

/// One agent's behavioural state: 64 bytes, one cache line, `#[repr(C)]`, any byte pattern readable
/// (validate with [`AgentState::is_valid`]), all zeros = a fresh agent.
///
/// Formats: probabilities Q0.16, logarithms of inter-arrival times Q8.8 `log2(µs)`, the score Q16.16
/// bits of log-odds. The update equations are in docs/SCORING.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C, align(64))]
pub struct AgentState {
    /// Time of the last call (µs); the origin of inter-arrival times and of score decay.
    pub last_us: u64,
    /// Last time the agent was not calm (status change, or score at/above its level's `down` threshold).
    pub hot_us: u64,
    /// Evidence score, Q16.16 bits of log-odds, always in `0..=SCORE_MAX`.
    pub score: i32,
    /// Calls seen (saturating).
    pub calls: u32,
    /// Learned counts of each [`RiskClass`] among the agent's calls, halved whenever their total
    /// reaches `2^baseline_log2` (so a sliding window of between half that and that many calls).
    pub risk_n: [u16; 6],
    /// Learned counts of each [`Outcome`], halved like `risk_n`.
    pub outcome_n: [u16; 4],
    /// Baseline mean of `log2(inter-arrival µs)` (Q8.8).
    pub ia_base: u16,
    /// Baseline mean absolute deviation of `log2(inter-arrival µs)` (Q8.8).
    pub ia_dev: u16,
    /// Recent (weight 1/16) mean of `log2(inter-arrival µs)` (Q8.8).
    pub ia_recent: u16,
    /// Recent (weight 1/32) fraction of calls in the High, Critical or Unknown classes (Q0.16).
    pub hi_recent: u16,
    /// Outcomes seen (saturating).
    pub outcomes: u16,
    /// Layout version: 0 = never updated (fresh), [`AgentState::VERSION`] once updated.
    pub version: u8,
    /// Current [`AgentStatus`] code.
    pub status: u8,
    /// [`Evidence`] bits from outcomes observed since the last call, reported with the next verdict.
    pub pending: u8,
    /// Highest [`AgentStatus`] code ever reached (audit; cleared only by [`AgentState::reset`]).
    pub peak: u8,
    /// Cached evidence of a `Success` outcome, Q16.16 bits of log-odds divided by 4 (clamped to
    /// `±2` bits), refreshed after every other outcome and whenever it is 0 (= not cached); see
    /// docs/SCORING.md §3.3.
    pub success_llr: i16,
    /// Zero.
    pub reserved: [u8; 4],
}

const _: () = assert!(core::mem::size_of::<AgentState>() == 64);
const _: () = assert!(core::mem::align_of::<AgentState>() == 64);
const _: () = assert!(core::mem::offset_of!(AgentState, risk_n) == 24);
const _: () = assert!(core::mem::offset_of!(AgentState, version) == 54);
const _: () = assert!(core::mem::offset_of!(AgentState, success_llr) == 58);
// 1M agents in at most 64 MiB.
const _: () = assert!(core::mem::size_of::<AgentState>() * (1 << 20) <= 64 << 20);

/// Deviation floor for inter-arrival MAD (Q8.8, 0.25 bits).
const IA_DEV_FLOOR: u16 = 64;
/// Weight of the recent inter-arrival mean, as a shift.
const IA_RECENT_SHIFT: u32 = 4;
/// Weight of the recent high-risk fraction, as a shift.
const HI_RECENT_SHIFT: u32 = 5;
/// Largest baseline shift used for timing (timing habits move faster than tool habits).
const IA_BASE_MAX_SHIFT: u32 = 8;
/// Deviation floor for the population sigma (Q0.16).
const POP_SIGMA_FLOOR: u32 = 1024;

impl AgentState {
    /// The layout version written by this code.
    pub const VERSION: u8 = 1;
    /// A fresh agent (all zeros).
    pub const FRESH: AgentState = AgentState {
        last_us: 0,
        hot_us: 0,
        score: 0,
        calls: 0,
        risk_n: [0; 6],
        outcome_n: [0; 4],
        ia_base: 0,
        ia_dev: 0,
        ia_recent: 0,
        hi_recent: 0,
        outcomes: 0,
        version: 0,
        status: 0,
        pending: 0,
        peak: 0,
        success_llr: 0,
        reserved: [0; 4],
    };

    /// Whether the bytes are a state this code understands (e.g. after loading a snapshot).
    pub const fn is_valid(&self) -> bool {
        (self.version == 0 || self.version == Self::VERSION)
            && self.status < 4
            && self.peak < 4
            && self.score >= 0
            && self.score <= SCORE_MAX
            && u32::from_le_bytes(self.reserved) == 0
    }

    /// The current status.
    pub const fn status(&self) -> AgentStatus {
        AgentStatus::from_u8_saturating(self.status)
    }

    /// Forgets everything (operator release, or re-enrolment).
    pub fn reset(&mut self) {
        *self = Self::FRESH;
    }

    /// Operator override: sets the status (e.g. releases a quarantined agent) and the score to that
    /// level's calm value, restarting the cool-down at `now`.
    pub fn set_status(&mut self, cfg: &Config, now: Micros, status: AgentStatus) {
        let s = status as usize;
        self.version = Self::VERSION;
        self.status = status as u8;
        self.peak = self.peak.max(self.status);
        self.score = if s == 0 { 0 } else { cfg.down[s - 1] };
        self.hot_us = now;
    }

    /// Records one tool call of class `class` at `now`, with an optional external anomaly score
    /// (`anomaly_q16`, Q16.16, higher = more anomalous, e.g. from a decaying count-min sketch; pass 0
    /// when there is none). O(1); branch-free in the score (see [`AgentState::record_call_ct`] for the
    /// fully constant-time variant).
    ///
    /// `cfg` must come from [`Config::validate`]; with any other value the update still cannot panic or
    /// overflow (every term is clamped to the hard bounds), it is merely meaningless.
    #[inline(always)]
    pub fn record_call(
        &mut self,
        cfg: &Config,
        pop: &PopulationView,
        now: Micros,
        class: RiskClass,
        anomaly_q16: u32,
    ) -> Update {
        self.record_call_impl::<false>(&Tables::new(cfg, pop), now, class, anomaly_q16)
    }

    /// [`AgentState::record_call`] with no branch and no memory access that depends on the score, the
    /// class or the learned counts (per-class tables are read by scanning every entry with masks, and
    /// the count window is halved with masks). Same result, bit for bit.
    #[inline(always)]
    pub fn record_call_ct(
        &mut self,
        cfg: &Config,
        pop: &PopulationView,
        now: Micros,
        class: RiskClass,
        anomaly_q16: u32,
    ) -> Update {
        self.record_call_impl::<true>(&Tables::new(cfg, pop), now, class, anomaly_q16)
    }

    /// [`AgentState::record_call`] with the configuration and population view already folded into
    /// [`Tables`] (what the gate keeps): the same result, bit for bit, without re-deriving the
    /// per-configuration constants on every call.
    #[inline(always)]
    pub fn record_call_with(
        &mut self,
        t: &Tables,
        now: Micros,
        class: RiskClass,
        anomaly_q16: u32,
    ) -> Update {
        self.record_call_impl::<false>(t, now, class, anomaly_q16)
    }

    /// [`AgentState::record_call_ct`] with precomputed [`Tables`].
    #[inline(always)]
    pub fn record_call_ct_with(
        &mut self,
        t: &Tables,
        now: Micros,
        class: RiskClass,
        anomaly_q16: u32,
    ) -> Update {
        self.record_call_impl::<true>(t, now, class, anomaly_q16)
    }

    /// [`AgentState::record_outcome`] with precomputed [`Tables`].
    #[inline(always)]
    pub fn record_outcome_with(&mut self, t: &Tables, now: Micros, outcome: Outcome) -> Update {
        self.record_outcome_impl::<false>(t, now, outcome)
    }

    /// [`AgentState::record_outcome_ct`] with precomputed [`Tables`].
    #[inline(always)]
    pub fn record_outcome_ct_with(&mut self, t: &Tables, now: Micros, outcome: Outcome) -> Update {
        self.record_outcome_impl::<true>(t, now, outcome)
    }

    #[inline(always)]
    fn record_call_impl<const CT: bool>(
        &mut self,
        cfg: &Tables,
        now: Micros,
        class: RiskClass,
        anomaly_q16: u32,
    ) -> Update {
        let previous = self.status();
        let fresh = self.version == 0;
        self.version = Self::VERSION;
        let dt = now.saturating_sub(self.last_us);
        let has_prev = (self.calls > 0) & !fresh;
        let warm = self.calls >= cfg.warmup_calls;
        let learn = (self.status <= AgentStatus::Monitored as u8) | !warm;

        // 1. Decay (time is public: branches on it are fine, but none are needed).
        let score = decay_hl(self.score, dt, cfg.hl, cfg.hl_mask, cfg.hl_frac_shift);

        // 2. Risk-profile evidence: LLR of this class under (1-ε)·p + ε·alt against p, before learning.
        let c = class as u32;
        let wprior = pick64::<6, CT>(&cfg.risk_wprior, c);
        let alt = pick64::<6, CT>(&cfg.risk_alt, c);
        let n_c = pick::<6, CT>(&self.risk_n, c) as u64;
        let total: u32 = self.risk_n.iter().map(|&x| x as u32).sum();
        let e_profile = seli::<CT>(warm, profile_llr(n_c, total, wprior, alt, cfg), 0);
        learn_counts::<6, CT>(&mut self.risk_n, total, c, cfg.window_cap, learn);

        // 3. Timing: log2 of the inter-arrival time; burst evidence when the recent mean is shorter
        // than the baseline by more than the allowance.
        let l = log2_q8_u64(dt);
        let ia_recent =
            sel32::<CT>(self.calls > 1, ewma_u16(self.ia_recent, l, IA_RECENT_SHIFT) as u32, l as u32) as u16;
        let delta = self.ia_base as i32 - ia_recent as i32;
        let dev = self.ia_dev.max(IA_DEV_FLOOR) as u32;
        let z = (((delta as i64) << 18) >> bitlen(dev)) as i32;
        let e_burst = seli::<CT>(
            warm & has_prev,
            clampi::<CT>(z.saturating_sub(cfg.burst_allowance), 0, cfg.burst_cap),
            0,
        );
        let n_ia = self.calls.saturating_sub(1);
        let ia_shift = bitlen(n_ia).min(cfg.ia_max_shift);
        let abs_dev = sel32::<CT>(n_ia == 0, 0, (l as i32 - self.ia_base as i32).unsigned_abs()).min(0xffff);
        let learn_ia = learn & has_prev;
        self.ia_base =
            sel32::<CT>(learn_ia, ewma_u16(self.ia_base, l, ia_shift) as u32, self.ia_base as u32) as u16;
        self.ia_dev =
            sel32::<CT>(learn_ia, ewma_u16(self.ia_dev, abs_dev as u16, ia_shift) as u32, self.ia_dev as u32)
                as u16;
        self.ia_recent = sel32::<CT>(has_prev, ia_recent as u32, 0) as u16;

        // 4. Population: the agent's recent high-risk fraction against the population's.
        let hi = class as u8 >= RiskClass::High as u8;
        self.hi_recent = ewma_u16(self.hi_recent, sel32::<CT>(hi, 0xffff, 0) as u16, HI_RECENT_SHIFT);
        let pop_on = warm & cfg.pop_ready;
        let e_pop = if CT || pop_on {
            let zp = ((((self.hi_recent as i64) - cfg.pop_mean) << 16) >> cfg.pop_shift)
                .clamp(i32::MIN as i64, i32::MAX as i64) as i32;
            seli::<CT>(pop_on, clampi::<CT>(zp.saturating_sub(cfg.pop_allowance), 0, cfg.pop_cap), 0)
        } else {
            0
        };

        // 5. External (sketch) anomaly. Off the constant-time path, a score at or below the offset
        // (always the case for `Gate::check`, which passes 0) skips the arithmetic: the term is then
        // `clamp(≤ 0, 0, EVIDENCE_MAX).min(cap)`.
        let e_sketch = if !CT && anomaly_q16 as i64 <= cfg.sketch_offset {
            cfg.sketch_cap.min(0)
        } else {
            sketch_evidence(anomaly_q16, cfg)
        };

        // Combine: each term is within [-EVIDENCE_MAX, EVIDENCE_MAX], the score within [0, SCORE_MAX];
        // the sum of four terms and a score fits an i32 with room to spare, saturating anyway.
        let e_profile = clampi::<CT>(e_profile, -EVIDENCE_MAX, EVIDENCE_MAX);
        let total = e_profile.saturating_add(e_burst).saturating_add(e_pop).saturating_add(e_sketch);
        let score = clampi::<CT>(score.saturating_add(total), 0, SCORE_MAX);
        self.score = score;
        self.calls = self.calls.saturating_add(1);
        self.last_us = self.last_us.max(now);

        let evidence = Evidence(
            self.pending
                | sel32::<CT>(e_profile > 0, Evidence::PROFILE.0 as u32, 0) as u8
                | sel32::<CT>(e_burst > 0, Evidence::BURST.0 as u32, 0) as u8
                | sel32::<CT>(e_pop > 0, Evidence::POPULATION.0 as u32, 0) as u8
                | sel32::<CT>(e_sketch > 0, Evidence::NOVELTY.0 as u32, 0) as u8,
        );
        self.pending = 0;
        let status = self.step_status::<CT>(cfg, now, score);
        Update { score, previous, status, evidence }
    }

    /// Records the outcome of a call at `now`. O(1), branch-free in the score.
    #[inline(always)]
    pub fn record_outcome(&mut self, cfg: &Config, now: Micros, outcome: Outcome) -> Update {
        self.record_outcome_impl::<false>(&Tables::new(cfg, &PopulationView::NONE), now, outcome)
    }

    /// [`AgentState::record_outcome`], constant-time like [`AgentState::record_call_ct`].
    #[inline(always)]
    pub fn record_outcome_ct(&mut self, cfg: &Config, now: Micros, outcome: Outcome) -> Update {
        self.record_outcome_impl::<true>(&Tables::new(cfg, &PopulationView::NONE), now, outcome)
    }

    #[inline(always)]
    fn record_outcome_impl<const CT: bool>(&mut self, cfg: &Tables, now: Micros, outcome: Outcome) -> Update {
        let previous = self.status();
        self.version = Self::VERSION;
        let warm = self.outcomes as u32 >= cfg.warmup_outcomes;
        let learn = (self.status <= AgentStatus::Monitored as u8) | !warm;
        let o = outcome as u32;
        let total: u32 = self.outcome_n.iter().map(|&x| x as u32).sum();
        // A success (the habitual outcome, ~95% of them) adds the agent's Success LLR as cached at its
        // last other outcome (§3.3): successes alone move it by ~10⁻⁵ bits each, so it is recomputed
        // only at a failure or when the cache is empty.
        let cached = (self.success_llr as i32) << 2;
        let refresh = (o != Outcome::Success as u32) | (self.success_llr == 0);
        // During the warm-up the evidence is 0 whatever the LLR: only the cache is kept up to date.
        let llr = if !CT && (!refresh || !warm) {
            cached
        } else {
            let wprior = pick64::<4, CT>(&cfg.outcome_wprior, o);
            let alt = pick64::<4, CT>(&cfg.outcome_alt, o);
            let n_o = pick::<4, CT>(&self.outcome_n, o) as u64;
            seli::<CT>(refresh, profile_llr(n_o, total, wprior, alt, cfg), cached)
        };
        let e = seli::<CT>(warm, clampi::<CT>(llr, -EVIDENCE_MAX, EVIDENCE_MAX), 0);
        learn_counts::<4, CT>(&mut self.outcome_n, total, o, cfg.window_cap, learn);
        if CT || refresh {
            let succ = Outcome::Success as usize;
            let total: u32 = self.outcome_n.iter().map(|&x| x as u32).sum();
            let ls = profile_llr(
                self.outcome_n[succ] as u64,
                total,
                cfg.outcome_wprior[succ],
                cfg.outcome_alt[succ],
                cfg,
            );
            let q = clampi::<CT>(ls >> 2, i16::MIN as i32, i16::MAX as i32);
            self.success_llr = seli::<CT>(refresh, q, self.success_llr as i32) as i16;
        }
        self.outcomes = self.outcomes.saturating_add(1);
        let score = clampi::<CT>(self.score.saturating_add(e), 0, SCORE_MAX);
        self.score = score;
        self.pending |= sel32::<CT>(e > 0, Evidence::OUTCOMES.0 as u32, 0) as u8;
        let status = self.step_status::<CT>(cfg, now, score);
        Update {
            score,
            previous,
            status,
            evidence: Evidence(sel32::<CT>(e > 0, Evidence::OUTCOMES.0 as u32, 0) as u8),
        }
    }

    /// Hysteresis: step up at once to the highest level whose `up` threshold the score reaches; step
    /// down one level only after the score has stayed below the current level's `down` threshold for
    /// `cooldown_us`. `CT`: branch-free in the score; otherwise with branches (same result).
    #[inline(always)]
    fn step_status<const CT: bool>(&mut self, cfg: &Tables, now: Micros, score: i32) -> AgentStatus {
        // Fast path (not constant-time): a Trusted agent below every `up` threshold stays Trusted and,
        // its calm threshold being 0 ≤ score, restarts its cool-down — what the general code below
        // computes in that case, peak clamp included.
        let s = self.status.min(3) as u32;
        // Fast path (not constant-time): the score lies in the current level's band — at or above its
        // calm threshold (so the cool-down restarts) and below the next `up` threshold — so the status
        // stays: what the general code below computes in that case, peak clamp included.
        if !CT {
            let i = (s & 3) as usize;
            if score >= cfg.band_lo[i] && score < cfg.band_hi[i] {
                self.hot_us = now;
                self.status = s as u8;
                let peak = (self.peak as u32).min(3);
                self.peak = if s > peak { s } else { peak } as u8;
                return AgentStatus::from_u8_saturating(s as u8);
            }
        }
        let up_level =
            (score >= cfg.up[0]) as u32 + (score >= cfg.up[1]) as u32 + (score >= cfg.up[2]) as u32;
        let new = if CT {
            let rise = up_level > s;
            let thr = sel_i32(s == 1, cfg.down[0], 0)
                | sel_i32(s == 2, cfg.down[1], 0)
                | sel_i32(s == 3, cfg.down[2], 0);
            let hot = score >= thr;
            let calm_long = now.saturating_sub(self.hot_us) >= cfg.cooldown_us;
            let can_step = (s > 0) & ((s < 3) | cfg.release_quarantine);
            let fall = !rise & !hot & calm_long & can_step;
            self.hot_us = sel_u64(rise | hot | fall, now, self.hot_us);
            sel_u32(rise, up_level, sel_u32(fall, s.wrapping_sub(1), s))
        } else if up_level > s {
            self.hot_us = now;
            up_level
        } else {
            let thr = match s {
                1 => cfg.down[0],
                2 => cfg.down[1],
                3 => cfg.down[2],
                _ => 0,
            };
            if score >= thr {
                self.hot_us = now;
                s
            } else if s > 0
                && (s < 3 || cfg.release_quarantine)
                && now.saturating_sub(self.hot_us) >= cfg.cooldown_us
            {
                self.hot_us = now;
                s - 1
            } else {
                s
            }
        };
        self.status = new as u8;
        let peak = (self.peak as u32).min(3);
        self.peak = sel32::<CT>(new > peak, new, peak) as u8;
        AgentStatus::from_u8_saturating(new as u8)
    }
}

impl Default for AgentState {
    fn default() -> Self {
        Self::FRESH
    }
}

/// `score · 2^(-dt / 2^hl)`: whole half-lives by shifts, the fraction of one by `1 − f/2` (exact at
/// f = 0, 6% high at worst, monotone). Never increases a non-negative score.
#[inline(always)]
pub const fn decay(score: i32, dt: u64, half_life_log2: u8) -> i32 {
    let hl = clamp_hl(half_life_log2);
    decay_hl(score, dt, hl, (1u64 << hl) - 1, hl - 16)
}

/// The half-life shift the engine uses: `half_life_log2` clamped to `16..=40`.
const fn clamp_hl(half_life_log2: u8) -> u32 {
    let hl = half_life_log2 as u32;
    if hl < 16 {
        16
    } else if hl > 40 {
        40
    } else {
        hl
    }
}

/// [`decay`] with the half-life shift already clamped to `16..=40` (by [`Tables::new`]).
#[inline(always)]
const fn decay_hl(score: i32, dt: u64, hl: u32, mask: u64, frac_shift: u32) -> i32 {
    let halvings = dt >> hl;
    let s = sel_i32(halvings >= 31, 0, score >> (halvings & 31));
    let frac = ((dt & mask) >> frac_shift) as i64; // Q0.16 fraction of a half-life
    (s as i64 - ((s as i64 * frac) >> 17)) as i32
}

/// Entry `i` of a per-category table: a direct read, or (`CT`) a scan of every entry with masks so
/// that no load depends on `i`. Out-of-range `i` reads 0.
#[inline(always)]
fn pick<const K: usize, const CT: bool>(a: &[u16; K], i: u32) -> u16 {
    if CT {
        let mut v = 0u32;
        for (k, &x) in a.iter().enumerate() {
            v |= x as u32 & super::fixed::mask32(k as u32 == i);
        }
        v as u16
    } else {
        a.get(i as usize).copied().unwrap_or(0)
    }
}

/// [`pick`] for a table of `u64`.
#[inline(always)]
fn pick64<const K: usize, const CT: bool>(a: &[u64; K], i: u32) -> u64 {
    if CT {
        let mut v = 0u64;
        for (k, &x) in a.iter().enumerate() {
            v |= x & super::fixed::mask64(k as u32 == i);
        }
        v
    } else {
        a.get(i as usize).copied().unwrap_or(0)
    }
}

/// The log-likelihood ratio (Q16.16 bits) of observing a category with learned count `n_i` (of `total`),
/// prior `prior_i` and alternative `alt_i` (both Q0.16) under the mixture `(1-ε)·p + ε·alt` against the
/// agent's frequency `p = (n_i + w·prior_i) / (N + w)` (floored at `p_floor`), computed without a
/// division on `(N + w)·2^16`-scaled quantities: `log2((1-ε)·P + ε·alt·T) − log2(P)` with `T = N + w`
/// and `P = max(n_i·2^16 + w·prior_i, floor·T)`. Bounded by `log2(1 + ε·65535/floor)` above and
/// `log2(1-ε)` below.
#[inline(always)]
const fn profile_llr(n_i: u64, total: u32, wprior_i: u64, alt_i: u64, t: &Tables) -> i32 {
    // total < 2^19, w < 2^16: every product below stays under 2^36. `wprior_i` = w·prior_i.
    let tw = max_u64(total as u64 + t.w, 1);
    let p = max_u64((n_i << 16) + wprior_i, t.floor * tw);
    let e = t.eps;
    let t = tw;
    let mix = p - (p >> e) + ((alt_i * t) >> e);
    // Bring both under 32 bits with the same shift (keeps the ratio).
    let sh = (64 - (mix | p).leading_zeros()).saturating_sub(32);
    log2_q16((mix >> sh) as u32) - log2_q16((p >> sh) as u32)
}

#[inline(always)]
const fn max_u64(a: u64, b: u64) -> u64 {
    if a > b { a } else { b }
}

/// Sketch term: `clamp((a − offset) >> shift, 0, cap)`.
#[inline(always)]
fn sketch_evidence(a: u32, t: &Tables) -> i32 {
    let d = (a as i64 - t.sketch_offset) >> t.sketch_shift;
    let d = d.clamp(0, EVIDENCE_MAX as i64) as i32;
    d.min(t.sketch_cap)
}

/// Counts one occurrence of category `hit` when `learn`; when the `total` of the counts reaches
/// `2^window_log2`, halves every count first (an exponentially forgetting window, exact in integers).
/// `CT` does it with masks over every entry; otherwise with (rarely taken) branches and a direct write.
#[inline(always)]
fn learn_counts<const K: usize, const CT: bool>(
    n: &mut [u16; K],
    total: u32,
    hit: u32,
    cap: u32,
    learn: bool,
) {
    if CT {
        let halve = (total >= cap) as u32;
        for (k, nk) in n.iter_mut().enumerate() {
            let add = (learn & (k as u32 == hit)) as u32;
            let v = ((*nk as u32) >> (halve & learn as u32)) + add;
            *nk = v.min(0xffff) as u16;
        }
    } else if learn {
        if total >= cap {
            for nk in n.iter_mut() {
                *nk >>= 1;
            }
        }
        if let Some(nk) = n.get_mut(hit as usize) {
            *nk = nk.saturating_add(1);
        }
    }
}

/// `if c { a } else { b }`: masks on the constant-time path (`CT`), a plain select (cmov or branch)
/// otherwise. Same value either way.
#[inline(always)]
fn sel32<const CT: bool>(c: bool, a: u32, b: u32) -> u32 {
    if CT {
        sel_u32(c, a, b)
    } else if c {
        a
    } else {
        b
    }
}

/// [`sel32`] for `i32`.
#[inline(always)]
fn seli<const CT: bool>(c: bool, a: i32, b: i32) -> i32 {
    if CT {
        sel_i32(c, a, b)
    } else if c {
        a
    } else {
        b
    }
}

/// `clamp_i32` with masks (`CT`) or with `max`/`min` (same value, also for `lo > hi`).
#[inline(always)]
fn clampi<const CT: bool>(v: i32, lo: i32, hi: i32) -> i32 {
    if CT { clamp_i32(v, lo, hi) } else { v.max(lo).min(hi) }
}

/// A validated [`Config`] and a [`PopulationView`] folded into the constants the per-event updates
/// use: every range clamp, every `w·prior` product and the population prior choice done once instead
/// of on every event. [`Gate`](crate::gate::Gate) keeps one and refreshes it with its population view;
/// [`AgentState::record_call`] builds one per call. Updates through either give the same bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tables {
    warmup_calls: u32,
    warmup_outcomes: u32,
    /// Half-life shift, `16..=40`.
    hl: u32,
    /// `2^hl − 1`: the part of Δt below one half-life.
    hl_mask: u64,
    /// `hl − 16`: brings that part to a Q0.16 fraction.
    hl_frac_shift: u32,
    /// `log2(1/ε)`, `1..=8`.
    eps: u32,
    /// Probability floor, `>= 1`.
    floor: u64,
    /// Prior weight `w`.
    w: u64,
    /// Count window `2^baseline_log2`, `baseline_log2` clamped to `1..=14`.
    window_cap: u32,
    /// Largest timing baseline shift.
    ia_max_shift: u32,
    burst_allowance: i32,
    burst_cap: i32,
    pop_ready: bool,
    pop_mean: i64,
    /// `bitlen(max(σ, floor))` of the population's high-risk fraction.
    pop_shift: u32,
    pop_allowance: i32,
    pop_cap: i32,
    sketch_offset: i64,
    sketch_shift: u32,
    sketch_cap: i32,
    /// `w · prior_c` per risk class (the population's mix once ready, else `Config::risk_prior`).
    risk_wprior: [u64; 6],
    risk_alt: [u64; 6],
    /// `w · prior_o` per outcome.
    outcome_wprior: [u64; 4],
    outcome_alt: [u64; 4],
    up: [i32; 3],
    /// Per status: the score band `[band_lo, band_hi)` in which the status stays and is hot (the
    /// level's calm threshold, 0 for Trusted; the next `up` threshold in sorted order, `i32::MAX` for
    /// Quarantined).
    band_lo: [i32; 4],
    band_hi: [i32; 4],
    down: [i32; 3],
    cooldown_us: Micros,
    release_quarantine: bool,
}

impl Tables {
    /// Folds `cfg` and `pop` (O(1), a few dozen instructions).
    #[inline(always)]
    pub const fn new(cfg: &Config, pop: &PopulationView) -> Tables {
        let w = cfg.prior_weight as u64;
        let mut risk_wprior = [0u64; 6];
        let mut risk_alt = [0u64; 6];
        let mut i = 0;
        while i < 6 {
            let prior = if pop.mix_ready { pop.risk_mix[i] } else { cfg.risk_prior[i] };
            risk_wprior[i] = w * prior as u64;
            risk_alt[i] = cfg.risk_alt[i] as u64;
            i += 1;
        }
        let mut outcome_wprior = [0u64; 4];
        let mut outcome_alt = [0u64; 4];
        let mut i = 0;
        while i < 4 {
            outcome_wprior[i] = w * cfg.outcome_prior[i] as u64;
            outcome_alt[i] = cfg.outcome_alt[i] as u64;
            i += 1;
        }
        let window_log2 = if cfg.baseline_log2 < 1 {
            1
        } else if cfg.baseline_log2 > 14 {
            14
        } else {
            cfg.baseline_log2 as u32
        };
        let eps = if cfg.eps_log2 < 1 {
            1
        } else if cfg.eps_log2 > 8 {
            8
        } else {
            cfg.eps_log2 as u32
        };
        let sigma = if pop.sigma > POP_SIGMA_FLOOR { pop.sigma } else { POP_SIGMA_FLOOR };
        let hl = clamp_hl(cfg.half_life_log2);
        // `up` sorted: the status stays at s (no rise) iff fewer than s + 1 thresholds are reached.
        let (mut u0, mut u1, mut u2) = (cfg.up[0], cfg.up[1], cfg.up[2]);
        if u0 > u1 {
            (u0, u1) = (u1, u0);
        }
        if u1 > u2 {
            (u1, u2) = (u2, u1);
        }
        if u0 > u1 {
            (u0, u1) = (u1, u0);
        }
        Tables {
            warmup_calls: cfg.warmup_calls,
            warmup_outcomes: cfg.warmup_outcomes,
            hl,
            hl_mask: (1u64 << hl) - 1,
            hl_frac_shift: hl - 16,
            eps,
            floor: if cfg.p_floor == 0 { 1 } else { cfg.p_floor as u64 },
            w,
            window_cap: 1 << window_log2,
            ia_max_shift: if (cfg.baseline_log2 as u32) < IA_BASE_MAX_SHIFT {
                cfg.baseline_log2 as u32
            } else {
                IA_BASE_MAX_SHIFT
            },
            burst_allowance: cfg.burst_allowance,
            burst_cap: min_i32(cfg.burst_cap, EVIDENCE_MAX),
            pop_ready: pop.ready,
            pop_mean: pop.mean as i64,
            pop_shift: bitlen(sigma),
            pop_allowance: cfg.pop_allowance,
            pop_cap: min_i32(cfg.pop_cap, EVIDENCE_MAX),
            sketch_offset: cfg.sketch_offset as i64,
            sketch_shift: if cfg.sketch_shift > 31 { 31 } else { cfg.sketch_shift as u32 },
            sketch_cap: min_i32(cfg.sketch_cap, EVIDENCE_MAX),
            risk_wprior,
            risk_alt,
            outcome_wprior,
            outcome_alt,
            up: cfg.up,
            band_lo: [0, cfg.down[0], cfg.down[1], cfg.down[2]],
            band_hi: [u0, u1, u2, i32::MAX],
            down: cfg.down,
            cooldown_us: cfg.cooldown_us,
            release_quarantine: cfg.release_quarantine,
        }
    }
}

const fn min_i32(a: i32, b: i32) -> i32 {
    if a < b { a } else { b }
}
