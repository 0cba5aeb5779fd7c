//! The implementation as it was before the hot-path rewrites (`Tables`, plain selects off the
//! constant-time path, status bands, decay constants), kept as a naive reference: the current code must
//! give the same bits on any state, configuration, population view and input. The one deliberate model
//! change since (a warm `Success` outcome weighs the agent's Success LLR cached at its last other
//! outcome, docs/SCORING.md §3.3) is written here in its own, direct form.
#![allow(clippy::too_many_arguments)]

use super::config::Config;
use super::fixed::{bitlen, clamp_i32, ewma_u16, log2_q8_u64, log2_q16, sel_i32, sel_u32, sel_u64};
use super::population::PopulationView;
use super::state::{AgentStatus, Outcome, Update};
use super::{AgentState, EVIDENCE_MAX, Evidence, RiskClass, SCORE_MAX};
use crate::Micros;

const IA_DEV_FLOOR: u16 = 64;
const IA_RECENT_SHIFT: u32 = 4;
const HI_RECENT_SHIFT: u32 = 5;
const IA_BASE_MAX_SHIFT: u32 = 8;
const POP_SIGMA_FLOOR: u32 = 1024;

impl AgentState {
    // Verbatim copy of the implementation before the `Tables` rewrite (renamed).
    #[inline(always)]
    fn ref_call_impl<const CT: bool>(
        &mut self,
        cfg: &Config,
        pop: &PopulationView,
        now: Micros,
        class: RiskClass,
        anomaly_q16: u32,
    ) -> Update {
        let previous = self.status();
        let fresh = self.version == 0;
        self.version = Self::VERSION;
        let dt = now.saturating_sub(self.last_us);
        let has_prev = self.calls > 0 && !fresh;
        let warm = self.calls >= cfg.warmup_calls;
        let learn = self.status <= AgentStatus::Monitored as u8 || !warm;

        // 1. Decay (time is public: branches on it are fine, but none are needed).
        let score = ref_decay(self.score, dt, cfg.half_life_log2);

        // 2. Risk-profile evidence: LLR of this class under (1-ε)·p + ε·alt against p, before learning.
        let c = class as u32;
        let prior = sel_u32(
            pop.mix_ready,
            ref_pick::<6, CT>(&pop.risk_mix, c) as u32,
            ref_pick::<6, CT>(&cfg.risk_prior, c) as u32,
        ) as u64;
        let alt = ref_pick::<6, CT>(&cfg.risk_alt, c) as u64;
        let n_c = ref_pick::<6, CT>(&self.risk_n, c) as u64;
        let total: u32 = self.risk_n.iter().map(|&x| x as u32).sum();
        let e_profile = sel_i32(warm, ref_profile_llr(n_c, total, prior, alt, cfg), 0);
        ref_learn_counts::<6, CT>(&mut self.risk_n, total, c, cfg.baseline_log2, learn);

        // 3. Timing: log2 of the inter-arrival time; burst evidence when the recent mean is shorter
        // than the baseline by more than the allowance.
        let l = log2_q8_u64(dt);
        let ia_recent =
            sel_u32(self.calls > 1, ewma_u16(self.ia_recent, l, IA_RECENT_SHIFT) as u32, l as u32) as u16;
        let delta = self.ia_base as i32 - ia_recent as i32;
        let dev = self.ia_dev.max(IA_DEV_FLOOR) as u32;
        let z = (((delta as i64) << 18) >> bitlen(dev)) as i32;
        let e_burst = sel_i32(
            warm & has_prev,
            clamp_i32(z.saturating_sub(cfg.burst_allowance), 0, cfg.burst_cap.min(EVIDENCE_MAX)),
            0,
        );
        let n_ia = self.calls.saturating_sub(1);
        let ia_shift = bitlen(n_ia).min(IA_BASE_MAX_SHIFT.min(cfg.baseline_log2 as u32));
        let abs_dev = sel_u32(n_ia == 0, 0, (l as i32 - self.ia_base as i32).unsigned_abs()).min(0xffff);
        let learn_ia = learn & has_prev;
        self.ia_base =
            sel_u32(learn_ia, ewma_u16(self.ia_base, l, ia_shift) as u32, self.ia_base as u32) as u16;
        self.ia_dev =
            sel_u32(learn_ia, ewma_u16(self.ia_dev, abs_dev as u16, ia_shift) as u32, self.ia_dev as u32)
                as u16;
        self.ia_recent = sel_u32(has_prev, ia_recent as u32, 0) as u16;

        // 4. Population: the agent's recent high-risk fraction against the population's.
        let hi = class as u8 >= RiskClass::High as u8;
        self.hi_recent = ewma_u16(self.hi_recent, sel_u32(hi, 0xffff, 0) as u16, HI_RECENT_SHIFT);
        let zp = ((((self.hi_recent as i64) - pop.mean as i64) << 16)
            >> bitlen(pop.sigma.max(POP_SIGMA_FLOOR)))
        .clamp(i32::MIN as i64, i32::MAX as i64) as i32;
        let e_pop = sel_i32(
            warm & pop.ready,
            clamp_i32(zp.saturating_sub(cfg.pop_allowance), 0, cfg.pop_cap.min(EVIDENCE_MAX)),
            0,
        );

        // 5. External (sketch) anomaly.
        let e_sketch = ref_sketch_evidence(anomaly_q16, cfg);

        // Combine: each term is within [-EVIDENCE_MAX, EVIDENCE_MAX], the score within [0, SCORE_MAX];
        // the sum of four terms and a score fits an i32 with room to spare, saturating anyway.
        let e_profile = clamp_i32(e_profile, -EVIDENCE_MAX, EVIDENCE_MAX);
        let total = e_profile.saturating_add(e_burst).saturating_add(e_pop).saturating_add(e_sketch);
        let score = clamp_i32(score.saturating_add(total), 0, SCORE_MAX);
        self.score = score;
        self.calls = self.calls.saturating_add(1);
        self.last_us = self.last_us.max(now);

        let evidence = Evidence(
            self.pending
                | sel_u32(e_profile > 0, Evidence::PROFILE.0 as u32, 0) as u8
                | sel_u32(e_burst > 0, Evidence::BURST.0 as u32, 0) as u8
                | sel_u32(e_pop > 0, Evidence::POPULATION.0 as u32, 0) as u8
                | sel_u32(e_sketch > 0, Evidence::NOVELTY.0 as u32, 0) as u8,
        );
        self.pending = 0;
        let status = self.ref_step_status::<CT>(cfg, now, score);
        Update { score, previous, status, evidence }
    }

    #[inline(always)]
    fn ref_outcome_impl<const CT: bool>(&mut self, cfg: &Config, now: Micros, outcome: Outcome) -> Update {
        let previous = self.status();
        self.version = Self::VERSION;
        let warm = self.outcomes as u32 >= cfg.warmup_outcomes;
        let learn = self.status <= AgentStatus::Monitored as u8 || !warm;
        let o = outcome as u32;
        let prior = ref_pick::<4, CT>(&cfg.outcome_prior, o) as u64;
        let alt = ref_pick::<4, CT>(&cfg.outcome_alt, o) as u64;
        let n_o = ref_pick::<4, CT>(&self.outcome_n, o) as u64;
        let total: u32 = self.outcome_n.iter().map(|&x| x as u32).sum();
        // Since the lean model: a success with a cached value weighs what the agent's Success LLR was
        // after its last refresh (cached / 4 in an i16); any other outcome, or a success with an
        // empty cache, computes its LLR afresh and refreshes the cache after learning.
        let refresh = outcome != Outcome::Success || self.success_llr == 0;
        let llr =
            if refresh { ref_profile_llr(n_o, total, prior, alt, cfg) } else { self.success_llr as i32 * 4 };
        let e = sel_i32(warm, clamp_i32(llr, -EVIDENCE_MAX, EVIDENCE_MAX), 0);
        ref_learn_counts::<4, CT>(&mut self.outcome_n, total, o, cfg.baseline_log2, learn);
        if refresh {
            let n_s = self.outcome_n[0] as u64;
            let total_after: u32 = self.outcome_n.iter().map(|&x| x as u32).sum();
            let l = ref_profile_llr(
                n_s,
                total_after,
                cfg.outcome_prior[0] as u64,
                cfg.outcome_alt[0] as u64,
                cfg,
            );
            self.success_llr = (l / 4 - (l % 4 < 0) as i32).clamp(-32768, 32767) as i16;
        }
        self.outcomes = self.outcomes.saturating_add(1);
        let score = clamp_i32(self.score.saturating_add(e), 0, SCORE_MAX);
        self.score = score;
        self.pending |= sel_u32(e > 0, Evidence::OUTCOMES.0 as u32, 0) as u8;
        let status = self.ref_step_status::<CT>(cfg, now, score);
        Update {
            score,
            previous,
            status,
            evidence: Evidence(sel_u32(e > 0, Evidence::OUTCOMES.0 as u32, 0) as u8),
        }
    }

    #[inline(always)]
    fn ref_step_status<const CT: bool>(&mut self, cfg: &Config, now: Micros, score: i32) -> AgentStatus {
        let s = self.status.min(3) as u32;
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
        self.peak = sel_u32(new > peak, new, peak) as u8;
        AgentStatus::from_u8_saturating(new as u8)
    }
}

/// `score · 2^(-dt / 2^hl)`: whole half-lives by shifts, the fraction of one by `1 − f/2` (exact at
/// f = 0, 6% high at worst, monotone). Never increases a non-negative score.
#[inline(always)]
const fn ref_decay(score: i32, dt: u64, half_life_log2: u8) -> i32 {
    let hl = half_life_log2 as u32;
    let hl = if hl < 16 {
        16
    } else if hl > 40 {
        40
    } else {
        hl
    };
    let halvings = dt >> hl;
    let s = sel_i32(halvings >= 31, 0, score >> (halvings & 31));
    let frac = ((dt & ((1u64 << hl) - 1)) >> (hl - 16)) as i64; // Q0.16 fraction of a half-life
    (s as i64 - ((s as i64 * frac) >> 17)) as i32
}

/// Entry `i` of a per-category table: a direct read, or (`CT`) a scan of every entry with masks so
/// that no load depends on `i`. Out-of-range `i` reads 0.
#[inline(always)]
fn ref_pick<const K: usize, const CT: bool>(a: &[u16; K], i: u32) -> u16 {
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

/// The log-likelihood ratio (Q16.16 bits) of observing a category with learned count `n_i` (of `total`),
/// prior `prior_i` and alternative `alt_i` (both Q0.16) under the mixture `(1-ε)·p + ε·alt` against the
/// agent's frequency `p = (n_i + w·prior_i) / (N + w)` (floored at `p_floor`), computed without a
/// division on `(N + w)·2^16`-scaled quantities: `log2((1-ε)·P + ε·alt·T) − log2(P)` with `T = N + w`
/// and `P = max(n_i·2^16 + w·prior_i, floor·T)`. Bounded by `log2(1 + ε·65535/floor)` above and
/// `log2(1-ε)` below.
#[inline(always)]
fn ref_profile_llr(n_i: u64, total: u32, prior_i: u64, alt_i: u64, cfg: &Config) -> i32 {
    // total < 2^19, w < 2^16: every product below stays under 2^36.
    let w = cfg.prior_weight as u64;
    let t = (total as u64 + w).max(1);
    let floor = cfg.p_floor.max(1) as u64;
    let p = ((n_i << 16) + w * prior_i).max(floor * t);
    let e = (cfg.eps_log2 as u32).clamp(1, 8);
    let mix = p - (p >> e) + ((alt_i * t) >> e);
    // Bring both under 32 bits with the same shift (keeps the ratio).
    let sh = (64 - (mix | p).leading_zeros()).saturating_sub(32);
    log2_q16((mix >> sh) as u32) - log2_q16((p >> sh) as u32)
}

/// Sketch term: `clamp((a − offset) >> shift, 0, cap)`.
#[inline(always)]
fn ref_sketch_evidence(a: u32, cfg: &Config) -> i32 {
    let d = (a as i64 - cfg.sketch_offset as i64) >> (cfg.sketch_shift.min(31) as u32);
    let d = d.clamp(0, EVIDENCE_MAX as i64) as i32;
    d.min(cfg.sketch_cap.min(EVIDENCE_MAX))
}

/// Counts one occurrence of category `hit` when `learn`; when the `total` of the counts reaches
/// `2^window_log2`, halves every count first (an exponentially forgetting window, exact in integers).
/// `CT` does it with masks over every entry; otherwise with (rarely taken) branches and a direct write.
#[inline(always)]
fn ref_learn_counts<const K: usize, const CT: bool>(
    n: &mut [u16; K],
    total: u32,
    hit: u32,
    window_log2: u8,
    learn: bool,
) {
    let cap = 1u32 << (window_log2 as u32).clamp(1, 14);
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

impl AgentState {
    pub(super) fn ref_record_call(
        &mut self,
        cfg: &Config,
        pop: &PopulationView,
        now: Micros,
        class: RiskClass,
        a: u32,
    ) -> Update {
        self.ref_call_impl::<false>(cfg, pop, now, class, a)
    }
    pub(super) fn ref_record_outcome(&mut self, cfg: &Config, now: Micros, o: Outcome) -> Update {
        self.ref_outcome_impl::<false>(cfg, now, o)
    }
}
