//! The per-agent state (one cache line) and its O(1) updates.

use core::fmt;

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use super::config::Config;
use super::fixed::{
    bitlen, clamp_i32, ewma_u16, log2_q8_u64, log2_q16, log2_ratio_q16, mask32, mask64, sel_i32, sel_u32,
    sel_u64,
};
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
    /// A clamp and a table load, not a `match` (which can compile to a mispredicted jump table).
    pub const fn from_u8_saturating(v: u8) -> AgentStatus {
        const BY_CODE: [AgentStatus; 4] =
            [AgentStatus::Trusted, AgentStatus::Monitored, AgentStatus::Restricted, AgentStatus::Quarantined];
        BY_CODE[if v > 3 { 3 } else { v as usize }]
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
    /// The open micro-window (docs/SCORING.md §3.0): calls counted but not yet evaluated — per-class
    /// counts in nibbles (bits `4c..4c+4` for class `c`), their total at bits 24..28 (at most
    /// `MAX_WINDOW − 1`) — and successes not yet applied (bits 28..32). 0 = empty; layouts before
    /// version 2 had zero here.
    pub window: u32,
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

/// The largest micro-window ([`Config::window`]): calls counted before they are evaluated together.
pub const MAX_WINDOW: u8 = 15;
/// `AgentState::window`: per-class call counts in nibbles 0..6 (bits 0..24), the window's call count
/// at bits 24..28 (below `MAX_WINDOW` at rest), deferred successes at bits 28..32.
pub(crate) const WIN_CLASS_MASK: u32 = 0x00ff_ffff;
const WIN_COUNT_SHIFT: u32 = 24;
/// Successes deferred to the window ([`AgentState::fold_successes`]), bits 28..32.
const WIN_SUCC_SHIFT: u32 = 28;
/// `log2(n)` in Q8.8 for `n` = 0..16 (0 for 0 and 1): the mean gap of a window of `n` calls.
const LOG2_Q8: [u16; 16] = {
    let mut t = [0u16; 16];
    let mut i = 0;
    while i < 16 {
        t[i] = log2_q8_exact(i as u32);
        i += 1;
    }
    t
};
/// `256 / √n` for `n` = 1..16 (index 0 unused), rounded: scales a deviation learned from window means
/// of `n` calls back to one call's.
const RSQRT_Q8: [u16; 16] = [0, 256, 181, 148, 128, 114, 105, 97, 91, 85, 81, 77, 74, 71, 68, 66];
/// `0xffff·2^16 / n` for `n` = 1..16 (index 0 unused): a fraction of the window's calls in Q0.16 by a
/// multiply (exactly `0xffff` for `n = 1`).
const RECIP_Q16: [u32; 16] = {
    let mut t = [0u32; 16];
    let mut i = 1;
    while i < 16 {
        t[i] = (0xffff << 16) / i as u32;
        i += 1;
    }
    t
};

/// `log2(n)` in Q8.8, rounded to nearest, for small `n` (by bisection on `n^256` in integers would be
/// overkill: squaring refinement of the mantissa, 8 steps).
const fn log2_q8_exact(n: u32) -> u16 {
    if n <= 1 {
        return 0;
    }
    let int = 31 - n.leading_zeros();
    // Mantissa m = n / 2^int in Q1.30; each squaring yields one more fraction bit.
    let mut m: u64 = (n as u64) << (30 - int);
    let mut frac = 0u32;
    let mut i = 0;
    while i < 8 {
        m = (m * m) >> 30;
        frac <<= 1;
        if m >= 2 << 30 {
            m >>= 1;
            frac |= 1;
        }
        i += 1;
    }
    ((int << 8) | frac) as u16
}

impl AgentState {
    /// The layout version written by this code.
    pub const VERSION: u8 = 2;
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
        window: 0,
    };

    /// Whether the bytes are a state this code understands (e.g. after loading a snapshot).
    pub const fn is_valid(&self) -> bool {
        self.version <= Self::VERSION
            && self.status < 4
            && self.peak < 4
            && self.score >= 0
            && self.score <= SCORE_MAX
            && window_is_valid(self.window, self.version)
    }

    /// The current status.
    pub const fn status(&self) -> AgentStatus {
        AgentStatus::from_u8_saturating(self.status)
    }

    /// `version == VERSION && status < 4 && peak < 4` (the state's bytes the hot path trusts) as one
    /// test of the four adjacent bytes `version`, `status`, `pending`, `peak`: the low byte is the
    /// version, and a code below 4 has no bit set above bit 1 (`pending` is not tested).
    #[inline(always)]
    const fn hot_valid(&self) -> bool {
        let w = u32::from_le_bytes([self.version, self.status, self.pending, self.peak]);
        w & 0xfc00_fcff == Self::VERSION as u32
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
        self.record_call_impl::<false>(&Tables::new(cfg, pop), now, class, anomaly_q16).0
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
        self.record_call_impl::<true>(&Tables::new(cfg, pop), now, class, anomaly_q16).0
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
        self.record_call_impl::<false>(t, now, class, anomaly_q16).0
    }

    /// [`AgentState::record_call_with`], also telling whether the call closed the agent's window
    /// (what `self.window == 0` tells afterwards: a close leaves 0, and an open window holds a call
    /// count of at least 1), without reading the window back.
    #[inline(always)]
    pub(crate) fn record_call_closed(
        &mut self,
        t: &Tables,
        now: Micros,
        class: RiskClass,
        anomaly_q16: u32,
    ) -> (Update, bool) {
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
        self.record_call_impl::<true>(t, now, class, anomaly_q16).0
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

    /// A call: counted into the agent's open micro-window (docs/SCORING.md §3.0), which is evaluated
    /// ([`AgentState::close_window`]) when it holds `window` calls, or at once for a call of class High
    /// or above, a call with sketch evidence, or the first call of a fresh (or older-layout) state.
    #[inline(always)]
    fn record_call_impl<const CT: bool>(
        &mut self,
        cfg: &Tables,
        now: Micros,
        class: RiskClass,
        anomaly_q16: u32,
    ) -> (Update, bool) {
        let c = (class as u32).min(5);
        let pending_n = (self.window >> WIN_COUNT_SHIFT) & 0xf;
        // The deferred successes (top nibble) stay; the count is replaced, the class nibble bumped.
        // `(pending_n + 1) << WIN_COUNT_SHIFT` without the shifts (at most `16 << 24`: no overflow).
        let count1 = (self.window & (0xf << WIN_COUNT_SHIFT)) + (1 << WIN_COUNT_SHIFT);
        let acc = (self.window & !(0xf << WIN_COUNT_SHIFT)).wrapping_add(1 << (4 * c))
            | if CT { (pending_n + 1) << WIN_COUNT_SHIFT } else { count1 };
        // `pending_n + 1 >= cfg.window`, both sides shifted by WIN_COUNT_SHIFT (neither overflows).
        let full = if CT { pending_n + 1 >= cfg.window } else { count1 >= cfg.window_at_count };
        let bad = if CT {
            (self.version != Self::VERSION) | ((self.status | self.peak) >= 4)
        } else {
            !self.hot_valid()
        };
        let close =
            full | (anomaly_q16 as i64 > cfg.sketch_offset) | bad | (self.score as u32 > SCORE_MAX as u32);
        if CT {
            // Both outcomes computed, one kept by masks: no branch on the class or on the state.
            let mut open = *self;
            let status = open.status();
            open.window = acc;
            let evidence = Evidence(open.pending);
            open.pending = 0;
            let kept = Update { score: open.score, previous: status, status, evidence };
            let mut closed = *self;
            let u = closed.close_window::<true>(cfg, now, acc, anomaly_q16);
            *self = select_state(close, &closed, &open);
            (select_update(close, &u, &kept), close)
        } else if close {
            (self.close_window::<false>(cfg, now, acc, anomaly_q16), true)
        } else {
            self.window = acc;
            let status = self.status();
            let evidence = Evidence(self.pending);
            self.pending = 0;
            (Update { score: self.score, previous: status, status, evidence }, false)
        }
    }

    /// Evaluates a micro-window: `acc` holds its calls (the count at [`WIN_COUNT_SHIFT`], per-class
    /// counts in nibbles), the last of them made at `now` with anomaly score `anomaly_q16`. Each term
    /// is the per-call term of docs/SCORING.md §3 times the calls it covers, computed against the
    /// counts and baselines as they were when the window opened; with one call it is exactly the
    /// per-call update.
    #[inline(never)]
    fn close_window<const CT: bool>(
        &mut self,
        cfg: &Tables,
        now: Micros,
        acc: u32,
        anomaly_q16: u32,
    ) -> Update {
        self.fold_successes::<CT>(cfg);
        let previous = self.status();
        let fresh = self.version == 0;
        self.version = Self::VERSION;
        let n = ((acc >> WIN_COUNT_SHIFT) & 0xf).max(1);
        let lgn = bitlen(n) - 1;
        let dt = now.saturating_sub(self.last_us);
        let has_prev = (self.calls > 0) & !fresh;
        let warm = self.calls >= cfg.warmup_calls;
        let learn = (self.status <= AgentStatus::Monitored as u8) | !warm;

        // 1. Decay (time is public: branches on it are fine, but none are needed).
        let score = decay_sel::<CT>(self.score, dt, cfg);

        // 2. Risk-profile evidence: per class present in the window, its calls times the LLR of the
        //    class under (1-ε)·p + ε·alt against p, p as learned before the window.
        //    The counts move during the window (each call is learned before the next one), so each
        //    class's calls are charged the LLR at the midpoint of that movement: counts `n_c + (w−1)/2`
        //    of `N + (n−1)/2` ([`profile_llr_mid`]). A window of one call is the per-call LLR exactly.
        let total: u32 = self.risk_n.iter().map(|&x| x as u32).sum();
        let mut e_profile = 0i32;
        let term = |k: usize, w: u32| {
            let llr = profile_llr_mid(
                self.risk_n[k] as u64,
                w.saturating_sub(1) as u64,
                total,
                (n - 1) as u64,
                cfg.risk_wprior[k],
                cfg.risk_alt[k],
                cfg,
            );
            clampi::<CT>(llr, -EVIDENCE_MAX, EVIDENCE_MAX) * w as i32
        };
        if CT {
            for k in 0..6 {
                e_profile = e_profile.saturating_add(term(k, (acc >> (4 * k)) & 0xf));
            }
        } else {
            // Only the classes present: bit 4k of `present` is set when nibble k is non-zero. A loop
            // over the set bits rather than a test per class (six unpredictable branches, ~2.3
            // mispredictions per window under callgrind's branch simulation).
            //
            // The loop computes `term` (what the constant-time branch above computes) with the
            // window's constants hoisted and three steps that provably change no bit dropped
            // ([`profile_llr_win`] has the proofs): the lower clamp at −EVIDENCE_MAX (the LLR is
            // above −2 bits), the saturation of the sum (at most six terms of at most
            // 15 · EVIDENCE_MAX = 15 · 2^19 in magnitude: below 2^26) and the common shift of the
            // two logarithms when it is zero.
            let x = acc & WIN_CLASS_MASK;
            let mut present = (x | (x >> 1) | (x >> 2) | (x >> 3)) & 0x0011_1111;
            let win = WinConsts::new(total, n, cfg);
            while present != 0 {
                let b = present.trailing_zeros();
                let k = (b / 4) as usize;
                let w = (acc >> b) & 0xf;
                let llr = profile_llr_win(
                    self.risk_n.get(k).copied().unwrap_or(0),
                    w,
                    cfg.risk_wprior_mid.get(k).copied().unwrap_or(0),
                    cfg.risk_alt.get(k).copied().unwrap_or(0),
                    &win,
                );
                e_profile += llr.min(EVIDENCE_MAX) * w as i32;
                present &= present - 1;
            }
        }
        let e_profile = seli::<CT>(warm, e_profile, 0);
        learn_window::<CT>(&mut self.risk_n, total, acc, cfg.window_cap, learn);

        // 3. Timing: log2 of the mean inter-arrival time over the window; burst evidence when the recent
        //    mean is shorter than the baseline by more than the allowance. EWMA weights per window are
        //    the per-call weights times the window's calls (shifts less by floor(log2 n)).
        let l = log2_q8_u64(dt).saturating_sub(LOG2_Q8[n as usize & 15]);
        let recent_shift = IA_RECENT_SHIFT.saturating_sub(lgn).max(1);
        let ia_recent =
            sel32::<CT>(self.calls > 1, ewma::<CT>(self.ia_recent, l, recent_shift) as u32, l as u32) as u16;
        let delta = self.ia_base as i32 - ia_recent as i32;
        let dev = self.ia_dev.max(IA_DEV_FLOOR) as u32;
        // z ≈ Δ / σ_recent, σ_recent ≈ σ_call / 4 (the recent mean spans ~16 calls). The deviation is
        // learned from window means, σ_window ≈ σ_call / √n, hence the factor 1/√n (exactly 1 for n = 1).
        let z = (((((delta as i64) << 18) >> bitlen(dev)) * RSQRT_Q8[n as usize & 15] as i64) >> 8) as i32;
        let e_burst = seli::<CT>(
            warm & has_prev,
            clampi::<CT>(z.saturating_sub(cfg.burst_allowance), 0, cfg.burst_cap),
            0,
        );
        let n_ia = self.calls.saturating_sub(1);
        let ia_shift = bitlen(n_ia).min(cfg.ia_max_shift).saturating_sub(lgn);
        let abs_dev = sel32::<CT>(n_ia == 0, 0, (l as i32 - self.ia_base as i32).unsigned_abs()).min(0xffff);
        let learn_ia = learn & has_prev;
        self.ia_base =
            sel32::<CT>(learn_ia, ewma::<CT>(self.ia_base, l, ia_shift) as u32, self.ia_base as u32) as u16;
        self.ia_dev = sel32::<CT>(
            learn_ia,
            ewma::<CT>(self.ia_dev, abs_dev as u16, ia_shift) as u32,
            self.ia_dev as u32,
        ) as u16;
        self.ia_recent = sel32::<CT>(has_prev, ia_recent as u32, 0) as u16;

        // 4. Population: the agent's recent high-risk fraction against the population's.
        let hi_n = ((acc >> 12) & 0xf) + ((acc >> 16) & 0xf) + ((acc >> 20) & 0xf);
        let hi_frac = ((hi_n as u64 * RECIP_Q16[n as usize & 15] as u64) >> 16).min(0xffff) as u16;
        self.hi_recent = ewma::<CT>(self.hi_recent, hi_frac, HI_RECENT_SHIFT.saturating_sub(lgn).max(1));
        let pop_on = warm & cfg.pop_ready;
        let e_pop = if CT || pop_on {
            let zp = ((((self.hi_recent as i64) - cfg.pop_mean) << 16) >> cfg.pop_shift)
                .clamp(i32::MIN as i64, i32::MAX as i64) as i32;
            seli::<CT>(pop_on, clampi::<CT>(zp.saturating_sub(cfg.pop_allowance), 0, cfg.pop_cap), 0)
        } else {
            0
        };

        // 5. External (sketch) anomaly of the closing call (a call with one always closes its window).
        //    Off the constant-time path, a score at or below the offset (always the case for
        //    `Gate::check`, which passes 0) skips the arithmetic: the term is then
        //    `clamp(≤ 0, 0, EVIDENCE_MAX).min(cap)`.
        let e_sketch = if !CT && anomaly_q16 as i64 <= cfg.sketch_offset {
            cfg.sketch_cap.min(0)
        } else {
            sketch_evidence(anomaly_q16, cfg)
        };

        // Combine: each per-call term is within [-EVIDENCE_MAX, EVIDENCE_MAX] and a window holds at most
        // 15 calls, so the sum of the terms and a score stays below 2^24 + 2^22 (docs/SCORING.md §3.7);
        // saturating anyway.
        let nn = n as i32;
        let total = if !CT && cfg.caps_bounded {
            // With every cap at least −EVIDENCE_MAX each of e_burst, e_pop and e_sketch lies in
            // [−2^19, 2^19] and e_profile (six classes, at most 15 calls each) within ±2^26, so the sum
            // stays below 2^27 and the saturating chain below never saturates: the same value.
            e_profile + (e_burst + e_pop) * nn + e_sketch
        } else {
            e_profile
                .saturating_add(e_burst.saturating_mul(nn))
                .saturating_add(e_pop.saturating_mul(nn))
                .saturating_add(e_sketch)
        };
        let score = add_score::<CT>(score, total);
        self.score = score;
        self.calls = self.calls.saturating_add(n);
        self.last_us = self.last_us.max(now);
        self.window = 0;

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

    /// An outcome. A warm `Success` with its evidence cached is deferred to the open window (counted
    /// in its top nibble, [`AgentState::fold_successes`]) when windows hold more than one call; any
    /// other outcome folds the deferred successes first and is evaluated at once.
    #[inline(always)]
    fn record_outcome_impl<const CT: bool>(&mut self, cfg: &Tables, now: Micros, outcome: Outcome) -> Update {
        let valid = if CT {
            (self.version == Self::VERSION) & ((self.status | self.peak) < 4)
        } else {
            self.hot_valid()
        };
        let defer = (outcome as u32 == Outcome::Success as u32)
            & (self.outcomes as u32 >= cfg.defer_outcomes)
            & (self.success_llr != 0)
            & (self.window >> WIN_SUCC_SHIFT < 15)
            & valid
            & (self.score as u32 <= SCORE_MAX as u32);
        if CT {
            let mut open = *self;
            open.window = open.window.wrapping_add(1 << WIN_SUCC_SHIFT);
            let status = open.status();
            let mut full = *self;
            full.fold_successes::<true>(cfg);
            let u = full.outcome_now::<true>(cfg, now, outcome);
            *self = select_state(defer, &open, &full);
            let kept = Update { score: open.score, previous: status, status, evidence: Evidence(0) };
            select_update(defer, &kept, &u)
        } else if defer {
            self.window += 1 << WIN_SUCC_SHIFT;
            let status = self.status();
            Update { score: self.score, previous: status, status, evidence: Evidence(0) }
        } else {
            self.fold_successes::<false>(cfg);
            self.outcome_now::<false>(cfg, now, outcome)
        }
    }

    /// Applies the successes deferred in the window's top nibble: each adds the cached Success
    /// evidence (what it would have added at once, docs/SCORING.md §3.3) and is learned and counted.
    /// The status is left to the caller's next step (a window close or an outcome). No-op when none.
    #[inline(never)]
    fn fold_successes<const CT: bool>(&mut self, cfg: &Tables) {
        let k = self.window >> WIN_SUCC_SHIFT;
        if !CT && k == 0 {
            return;
        }
        let any = k != 0;
        let learn = (self.status <= AgentStatus::Monitored as u8) & any;
        let total: u32 = self.outcome_n.iter().map(|&x| x as u32).sum();
        let succ = Outcome::Success as usize;
        let halve = ((total >= cfg.window_cap) & learn) as u32;
        let add = sel32::<CT>(learn, k, 0);
        for (i, nk) in self.outcome_n.iter_mut().enumerate() {
            let plus = sel32::<CT>(i == succ, add, 0);
            *nk = (((*nk as u32) >> halve) + plus).min(0xffff) as u16;
        }
        let e = ((self.success_llr as i32) << 2) * k as i32;
        self.outcomes = self.outcomes.saturating_add(k as u16);
        self.score = seli::<CT>(any, add_score::<CT>(self.score, e), self.score);
        self.pending |= sel32::<CT>(e > 0, Evidence::OUTCOMES.0 as u32, 0) as u8;
        self.window &= (1 << WIN_SUCC_SHIFT) - 1;
    }

    #[inline(never)]
    fn outcome_now<const CT: bool>(&mut self, cfg: &Tables, now: Micros, outcome: Outcome) -> Update {
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
        let score = add_score::<CT>(self.score, e);
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

/// A well-formed open window: empty before layout version 2; otherwise a call count below
/// [`MAX_WINDOW`] equal to the sum of the per-class nibbles (the top nibble, deferred successes, may
/// hold any count).
const fn window_is_valid(w: u32, version: u8) -> bool {
    if version < AgentState::VERSION {
        return w == 0;
    }
    let mut sum = 0;
    let mut k = 0;
    while k < 6 {
        sum += (w >> (4 * k)) & 0xf;
        k += 1;
    }
    let count = (w >> WIN_COUNT_SHIFT) & 0xf;
    count < MAX_WINDOW as u32 && sum == count
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

/// [`decay_hl`] with the folded half-life of `t`: as written there (a mask select behind an
/// optimisation barrier) on the constant-time path (`CT`), with a plain select of the whole
/// half-lives' shift otherwise — the same value (the time is public; the barrier cost a spill).
#[inline(always)]
fn decay_sel<const CT: bool>(score: i32, dt: u64, t: &Tables) -> i32 {
    if CT {
        decay_hl(score, dt, t.hl, t.hl_mask, t.hl_frac_shift)
    } else {
        let halvings = dt >> t.hl;
        let s = if halvings >= 31 { 0 } else { score >> (halvings & 31) };
        let frac = ((dt & t.hl_mask) >> t.hl_frac_shift) as i64;
        (s as i64 - ((s as i64 * frac) >> 17)) as i32
    }
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
    profile_llr_mid(n_i, 0, total, 0, wprior_i, alt_i, t)
}

/// [`profile_llr`] at the midpoint of a window: the category's count raised by `extra_i / 2` and the
/// total by `extra_t / 2` (half-counts, added as `x·2^15` and `(y·extra_t) >> 1` to the `2^16`-scaled
/// quantities); with no extras it is [`profile_llr`] itself. Both values are brought under 32 bits
/// with the same shift before the logarithms (keeps the ratio).
#[inline(always)]
const fn profile_llr_mid(
    n_i: u64,
    extra_i: u64,
    total: u32,
    extra_t: u64,
    wprior_i: u64,
    alt_i: u64,
    t: &Tables,
) -> i32 {
    // total < 2^19, w < 2^16, extra < 16: every product stays under 2^37.
    // `x·T + ⌊x·extra_t / 2⌋ = ⌊x·(2T + extra_t) / 2⌋` for integers: one multiply per term, on the
    // doubled total `tw2`, which does not depend on the category (hoisted out of a window's loop).
    let tw2 = 2 * max_u64(total as u64 + t.w, 1) + extra_t;
    let p = max_u64((n_i << 16) + (extra_i << 15) + wprior_i, (t.floor * tw2) >> 1);
    let e = t.eps;
    let mix = p - (p >> e) + (((alt_i * tw2) >> 1) >> e);
    let sh = (64 - (mix | p).leading_zeros()).saturating_sub(32);
    log2_ratio_q16((mix >> sh) as u32, (p >> sh) as u32)
}

/// The per-window constants of [`profile_llr_mid`] for the risk classes of one window (everything
/// but the class's count, prior and alternative), folded once per window instead of once per class.
struct WinConsts {
    /// `tw2` of [`profile_llr_mid`]: `2·max(N + w, 1) + (n − 1)`.
    tw2: u64,
    /// `⌊floor·tw2 / 2⌋`, the floor of `p`.
    floor_t: u64,
    /// `log2(1/ε)`.
    eps: u32,
}

impl WinConsts {
    #[inline(always)]
    fn new(total: u32, n: u32, t: &Tables) -> WinConsts {
        let tw2 = 2 * max_u64(total as u64 + t.w, 1) + n.saturating_sub(1) as u64;
        WinConsts { tw2, floor_t: (t.floor * tw2) >> 1, eps: t.eps }
    }
}

/// [`profile_llr_mid`] for a class with `w >= 1` calls in the window (`extra_i = w − 1`), its count
/// `n_i`, `wprior_mid_i = w·prior_i − 2^15` (wrapping, [`Tables::risk_wprior_mid`]) and alternative
/// `alt_i`: the same value, bit for bit, for every input with `w >= 1` (the callers' windows), with
/// fewer instructions. Not for the constant-time path (it branches on the magnitude of `p`).
///
/// * `p`: `(n_i << 16) + (w << 15) + (w·prior_i − 2^15)` is `(n_i << 16) + ((w − 1) << 15) + w·prior_i`
///   (the wrapping addition lands on the true value, which is non-negative for `w >= 1`).
/// * The common shift `sh` of [`profile_llr_mid`] is 0 unless `mix | p >= 2^32` (never with counts
///   below 2^14 and the default prior weight); the branch takes the general code in that case.
///
/// The result is at least −2 bits (−131,072), so a lower clamp at −EVIDENCE_MAX never binds: `mix >=
/// p − ⌊p/2⌋ >= ⌈p/2⌉`, so with `P = p >> sh`, `M = mix >> sh >= ⌊P/2⌋ = q`; if `P <= 1`, log2(P) = 0
/// <= log2(M); otherwise `log2_q16(P) <= log2_q16(2q + 2) = log2_q16(q + 1) + 1 bit <= log2_q16(q) + 2
/// bits <= log2_q16(M) + 2 bits` (`log2_q16` is monotone and exact under doubling).
#[inline(always)]
fn profile_llr_win(n_i: u16, w: u32, wprior_mid_i: u64, alt_i: u64, c: &WinConsts) -> i32 {
    let p = (((n_i as u64) << 16) + ((w as u64) << 15)).wrapping_add(wprior_mid_i);
    let p = max_u64(p, c.floor_t);
    let mix = p - (p >> c.eps) + (((alt_i * c.tw2) >> 1) >> c.eps);
    if (mix | p) >> 32 == 0 {
        log2_ratio_q16(mix as u32, p as u32)
    } else {
        let sh = (64 - (mix | p).leading_zeros()).saturating_sub(32);
        log2_q16((mix >> sh) as u32) - log2_q16((p >> sh) as u32)
    }
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

/// [`learn_counts`] for a whole window: when `learn`, halves every count first if their `total` has
/// reached `cap`, then adds each class's calls from the window's nibbles (`acc`). `CT`: masks only.
#[inline(always)]
fn learn_window<const CT: bool>(n: &mut [u16; 6], total: u32, acc: u32, cap: u32, learn: bool) {
    if CT {
        let halve = ((total >= cap) & learn) as u32;
        let on = mask32(learn);
        for (k, nk) in n.iter_mut().enumerate() {
            let add = (acc >> (4 * k)) & 0xf & on;
            *nk = (((*nk as u32) >> halve) + add).min(0xffff) as u16;
        }
    } else if learn {
        let halve = (total >= cap) as u32;
        for (k, nk) in n.iter_mut().enumerate() {
            *nk = (*nk >> halve).saturating_add(((acc >> (4 * k)) & 0xf) as u16);
        }
    }
}

/// Keeps `a` if `c`, else `b`, word by word with masks (the constant-time path's select of a whole
/// state).
#[inline(always)]
fn select_state(c: bool, a: &AgentState, b: &AgentState) -> AgentState {
    let m = mask64(c);
    let (wa, wb) = (<[u64; 8]>::read_from_bytes(a.as_bytes()), <[u64; 8]>::read_from_bytes(b.as_bytes()));
    let (Ok(wa), Ok(wb)) = (wa, wb) else { return *b };
    let w: [u64; 8] = core::array::from_fn(|i| (wa[i] & m) | (wb[i] & !m));
    AgentState::read_from_bytes(w.as_bytes()).unwrap_or(*b)
}

/// [`select_state`] for the [`Update`] that goes with it: `a` if `c`, else `b`, with masks.
#[inline(always)]
fn select_update(c: bool, a: &Update, b: &Update) -> Update {
    let status = |x: AgentStatus, y: AgentStatus| {
        AgentStatus::from_u8_saturating(sel_u32(c, x as u32, y as u32) as u8)
    };
    Update {
        score: sel_i32(c, a.score, b.score),
        previous: status(a.previous, b.previous),
        status: status(a.status, b.status),
        evidence: Evidence(sel_u32(c, a.evidence.0 as u32, b.evidence.0 as u32) as u8),
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

/// [`ewma_u16`]: as written there (its mask select, behind an optimisation barrier) on the
/// constant-time path (`CT`), with a plain select of the rounding bias otherwise — the same value
/// (the barrier only keeps LLVM from turning the select into a branch; off the constant-time path
/// it cost a store, a load and the address of the spilled mask per EWMA).
#[inline(always)]
fn ewma<const CT: bool>(m: u16, x: u16, shift: u32) -> u16 {
    if CT {
        ewma_u16(m, x, shift)
    } else {
        let d = x as i32 - m as i32;
        let bias = if d > 0 { (1i32 << (shift & 15)) - 1 } else { 0 };
        (m as i32 + ((d + bias) >> (shift & 15))) as u16
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

/// `clamp(score + e, 0, SCORE_MAX)`: on the constant-time path (`CT`) as a saturating `i32` sum and a
/// mask clamp; otherwise as an `i64` sum (it cannot overflow) clamped once — the same value, since
/// saturating to `i32::MIN..=i32::MAX` first cannot move a value across `0..=SCORE_MAX`.
#[inline(always)]
fn add_score<const CT: bool>(score: i32, e: i32) -> i32 {
    if CT {
        clamp_i32(score.saturating_add(e), 0, SCORE_MAX)
    } else {
        (score as i64 + e as i64).clamp(0, SCORE_MAX as i64) as i32
    }
}

/// A validated [`Config`] and a [`PopulationView`] folded into the constants the per-event updates
/// use: every range clamp, every `w·prior` product and the population prior choice done once instead
/// of on every event. [`Gate`](crate::gate::Gate) keeps one and refreshes it with its population view;
/// [`AgentState::record_call`] builds one per call. Updates through either give the same bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tables {
    warmup_calls: u32,
    warmup_outcomes: u32,
    /// Outcomes after which a success may be deferred: `warmup_outcomes`, or `u32::MAX` (never: the
    /// count is a `u16`) when windows hold one call.
    defer_outcomes: u32,
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
    /// Calls per micro-window, `Config::window` clamped to `1..=MAX_WINDOW`.
    window: u32,
    /// `window << WIN_COUNT_SHIFT`: compared with an open window's count field as stored.
    window_at_count: u32,
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
    /// `burst_cap`, `pop_cap` and `sketch_cap` are all at least `−EVIDENCE_MAX` (always, for a
    /// validated configuration): a window's evidence terms cannot overflow when summed.
    caps_bounded: bool,
    /// `w · prior_c` per risk class (the population's mix once ready, else `Config::risk_prior`).
    risk_wprior: [u64; 6],
    /// `risk_wprior − 2^15`, wrapping: the prior term and the half-count of the midpoint's `−1` in
    /// one constant ([`profile_llr_win`]).
    risk_wprior_mid: [u64; 6],
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
        let mut risk_wprior_mid = [0u64; 6];
        let mut risk_alt = [0u64; 6];
        let mut i = 0;
        while i < 6 {
            let prior = if pop.mix_ready { pop.risk_mix[i] } else { cfg.risk_prior[i] };
            risk_wprior[i] = w * prior as u64;
            risk_wprior_mid[i] = risk_wprior[i].wrapping_sub(1 << 15);
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
        let window = if cfg.window < 1 {
            1
        } else if cfg.window > MAX_WINDOW {
            MAX_WINDOW as u32
        } else {
            cfg.window as u32
        };
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
            defer_outcomes: if cfg.window > 1 { cfg.warmup_outcomes } else { u32::MAX },
            hl,
            hl_mask: (1u64 << hl) - 1,
            hl_frac_shift: hl - 16,
            eps,
            floor: if cfg.p_floor == 0 { 1 } else { cfg.p_floor as u64 },
            w,
            window_cap: 1 << window_log2,
            window,
            window_at_count: window << WIN_COUNT_SHIFT,
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
            caps_bounded: cfg.burst_cap >= -EVIDENCE_MAX
                && cfg.pop_cap >= -EVIDENCE_MAX
                && cfg.sketch_cap >= -EVIDENCE_MAX,
            risk_wprior,
            risk_wprior_mid,
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_rng::xorshift;

    /// The window loop's LLR ([`profile_llr_win`]) equals the general one ([`profile_llr_mid`]) bit
    /// for bit, and is above −2 bits (so the lower clamp it drops never binds), on random and extreme
    /// configurations and counts — garbage states included, and often with a nonzero common shift.
    #[test]
    fn window_llr_equals_the_general_llr() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut shifted = 0u32;
        for i in 0..if cfg!(miri) { 500 } else { 400_000 } {
            let r = |s: &mut u64, extreme: bool| if extreme { u16::MAX } else { xorshift(s) as u16 };
            let ext = i % 4 == 0;
            let mut cfg = Config::DEFAULT;
            cfg.prior_weight = r(&mut seed, ext);
            cfg.p_floor = if ext { xorshift(&mut seed) as u16 % 2 } else { xorshift(&mut seed) as u16 };
            cfg.eps_log2 = if ext { 1 } else { xorshift(&mut seed) as u8 };
            cfg.risk_alt = core::array::from_fn(|_| r(&mut seed, ext));
            cfg.risk_prior = core::array::from_fn(|_| r(&mut seed, ext && i % 8 == 0));
            let pop = PopulationView {
                risk_mix: core::array::from_fn(|_| xorshift(&mut seed) as u16),
                mix_ready: xorshift(&mut seed) & 1 == 1,
                ..PopulationView::NONE
            };
            let t = Tables::new(&cfg, &pop);
            let risk_n: [u16; 6] = core::array::from_fn(|_| match xorshift(&mut seed) % 3 {
                0 => xorshift(&mut seed) as u16 % 1024,
                1 => xorshift(&mut seed) as u16,
                _ => u16::MAX - (xorshift(&mut seed) as u16 % 16),
            });
            let total: u32 = risk_n.iter().map(|&x| x as u32).sum();
            let n = 1 + (xorshift(&mut seed) % 15) as u32;
            let win = WinConsts::new(total, n, &t);
            for k in 0..6 {
                let w = 1 + (xorshift(&mut seed) % 15) as u32;
                let a = profile_llr_mid(
                    risk_n[k] as u64,
                    (w - 1) as u64,
                    total,
                    (n - 1) as u64,
                    t.risk_wprior[k],
                    t.risk_alt[k],
                    &t,
                );
                let b = profile_llr_win(risk_n[k], w, t.risk_wprior_mid[k], t.risk_alt[k], &win);
                assert_eq!(a, b, "cfg {cfg:?} pop {pop:?} n {risk_n:?} k {k} w {w} window {n}");
                assert!(a >= -2 * 65536, "{a}");
                let p = ((risk_n[k] as u64) << 16) + (((w - 1) as u64) << 15) + t.risk_wprior[k];
                shifted += (p >> 32 != 0 || (t.risk_alt[k] * win.tw2) >> (t.eps + 1) >= 1 << 31) as u32;
            }
        }
        assert!(cfg!(miri) || shifted > 1000, "{shifted}");
    }
}
