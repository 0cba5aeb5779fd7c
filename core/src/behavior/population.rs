//! The population baseline: exact, mergeable sufficient statistics (count, sum, sum of squares).

use super::state::AgentState;

/// Sufficient statistics of a set of `u32` samples: count, sum and sum of squares in wide integers.
///
/// Pushing is O(1); building over `n` agents is O(n); two shards merge by adding their fields, which is
/// *exactly* the statistics of the union (integer addition is associative and commutative, so no
/// Welford-style rounding exists to disagree). `sum` and `sum_sq` are `u128`: with samples below 2^32
/// they cannot overflow before `count` saturates at 2^64 samples, and every operation saturates anyway.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Moments {
    /// Number of samples.
    pub count: u64,
    /// Sum of the samples.
    pub sum: u128,
    /// Sum of the squared samples.
    pub sum_sq: u128,
}

impl Moments {
    /// No samples.
    pub const EMPTY: Moments = Moments { count: 0, sum: 0, sum_sq: 0 };

    /// Adds one sample. O(1).
    #[inline(always)]
    pub fn push(&mut self, x: u32) {
        let x = x as u128;
        self.count = self.count.saturating_add(1);
        self.sum = self.sum.saturating_add(x);
        self.sum_sq = self.sum_sq.saturating_add(x * x);
    }

    /// The statistics of the union of the two sample sets.
    pub const fn merge(self, other: Moments) -> Moments {
        Moments {
            count: self.count.saturating_add(other.count),
            sum: self.sum.saturating_add(other.sum),
            sum_sq: self.sum_sq.saturating_add(other.sum_sq),
        }
    }

    /// Statistics of `samples`. O(n).
    pub fn of(samples: impl IntoIterator<Item = u32>) -> Moments {
        let mut m = Moments::EMPTY;
        for x in samples {
            m.push(x);
        }
        m
    }

    /// The population baseline over agents: each agent that has made at least `min_calls` calls
    /// contributes its recent high-risk fraction ([`AgentState::hi_recent`], Q0.16). O(n).
    pub fn of_agents(states: &[AgentState], min_calls: u32) -> Moments {
        Moments::of(states.iter().filter(|s| s.calls >= min_calls).map(|s| s.hi_recent as u32))
    }

    /// Mean, rounded down (0 for no samples).
    pub fn mean(&self) -> u32 {
        match self.count {
            0 => 0,
            n => (self.sum / n as u128).min(u32::MAX as u128) as u32,
        }
    }

    /// Population variance `Σx²/n − (Σx/n)²`, computed exactly as `(n·Σx² − (Σx)²) / n²` when that fits,
    /// rounded down.
    pub fn variance(&self) -> u64 {
        let n = self.count as u128;
        if n == 0 {
            return 0;
        }
        match (n.checked_mul(self.sum_sq), self.sum.checked_mul(self.sum)) {
            (Some(a), Some(b)) => (a.saturating_sub(b) / (n * n)).min(u64::MAX as u128) as u64,
            // Huge populations: the (still exact to within one unit of the mean) two-step form.
            _ => {
                let mean = self.sum / n;
                (self.sum_sq / n).saturating_sub(mean * mean).min(u64::MAX as u128) as u64
            }
        }
    }

    /// Mean and integer standard deviation, with whether `count >= min_samples`.
    pub fn view(&self, min_samples: u64) -> MomentsView {
        MomentsView {
            mean: self.mean(),
            sigma: self.variance().isqrt().min(u32::MAX as u64) as u32,
            ready: self.count >= min_samples.max(1),
        }
    }
}

/// Mean and standard deviation derived from [`Moments`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MomentsView {
    /// Mean, rounded down.
    pub mean: u32,
    /// Standard deviation, rounded down.
    pub sigma: u32,
    /// Whether enough samples back it.
    pub ready: bool,
}

/// The population baseline the gate keeps: the agents' recent high-risk fraction as [`Moments`], and
/// how often each [`RiskClass`](super::RiskClass) is called across the population. Both are plain sums,
/// so two shards [`merge`](Population::merge) into exactly the statistics of the union.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Population {
    /// Recent high-risk fraction (Q0.16) of warm agents, one sample per call.
    pub hi: Moments,
    /// Calls per risk class.
    pub classes: [u64; 6],
}

impl Population {
    /// Nothing observed.
    pub const EMPTY: Population = Population { hi: Moments::EMPTY, classes: [0; 6] };

    /// Records one call of class `class` (index `0..6`) by an agent whose recent high-risk fraction is
    /// `hi_recent`; the fraction is sampled only for agents past their warm-up (`warm`). O(1).
    #[inline(always)]
    pub fn push(&mut self, class: usize, hi_recent: u16, warm: bool) {
        if let Some(c) = self.classes.get_mut(class) {
            *c = c.saturating_add(1);
        }
        if warm {
            self.hi.push(hi_recent as u32);
        }
    }

    /// Records a micro-window of calls (docs/SCORING.md §3.0): `counts[c]` calls of class `c`, and one
    /// sample of the agent's recent high-risk fraction when `sample`. Branch-free in its inputs (the
    /// gate's constant-time path uses it with zero counts and no sample for a call that did not close
    /// a window). O(1).
    #[inline(always)]
    pub fn push_window(&mut self, counts: [u32; 6], hi_recent: u16, sample: bool) {
        for (c, &n) in self.classes.iter_mut().zip(&counts) {
            *c = c.saturating_add(n as u64);
        }
        let x = (hi_recent as u64) * sample as u64;
        self.hi.count = self.hi.count.saturating_add(sample as u64);
        self.hi.sum = self.hi.sum.saturating_add(x as u128);
        self.hi.sum_sq = self.hi.sum_sq.saturating_add((x * x) as u128);
    }

    /// The statistics of the union of two shards.
    pub const fn merge(self, other: Population) -> Population {
        let mut classes = self.classes;
        let mut i = 0;
        while i < 6 {
            classes[i] = classes[i].saturating_add(other.classes[i]);
            i += 1;
        }
        Population { hi: self.hi.merge(other.hi), classes }
    }

    /// Built from agent states in O(n): each agent past `min_calls` calls contributes one sample of its
    /// recent high-risk fraction, and every agent its learned class counts.
    pub fn of_agents(states: &[AgentState], min_calls: u32) -> Population {
        let mut p = Population { hi: Moments::of_agents(states, min_calls), classes: [0; 6] };
        for s in states {
            for (c, n) in p.classes.iter_mut().zip(s.risk_n) {
                *c = c.saturating_add(n as u64);
            }
        }
        p
    }

    /// Total calls counted.
    pub fn calls(&self) -> u64 {
        self.classes.iter().fold(0u64, |a, &c| a.saturating_add(c))
    }

    /// The view used on the hot path; each part is ready once backed by `min_samples` samples.
    pub fn view(&self, min_samples: u64) -> PopulationView {
        let h = self.hi.view(min_samples);
        let total = self.calls();
        let mut risk_mix = [0u16; 6];
        if total > 0 {
            for (m, &c) in risk_mix.iter_mut().zip(&self.classes) {
                *m = ((c as u128 * 65535) / total as u128) as u16;
            }
        }
        PopulationView {
            mean: h.mean,
            sigma: h.sigma,
            ready: h.ready,
            risk_mix,
            mix_ready: total >= min_samples.max(1),
        }
    }
}

/// Derived population figures for the hot path, refreshed from [`Population`] off the hot path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PopulationView {
    /// Mean of the agents' recent high-risk fraction (Q0.16).
    pub mean: u32,
    /// Its standard deviation (Q0.16), rounded down.
    pub sigma: u32,
    /// Whether `mean` and `sigma` are backed by enough samples for population evidence to count.
    pub ready: bool,
    /// The population's frequency of each risk class (Q0.16): the prior of every agent's own profile.
    pub risk_mix: [u16; 6],
    /// Whether `risk_mix` is backed by enough calls (otherwise `Config::risk_prior` is the prior).
    pub mix_ready: bool,
}

impl PopulationView {
    /// No population information.
    pub const NONE: PopulationView =
        PopulationView { mean: 0, sigma: 0, ready: false, risk_mix: [0; 6], mix_ready: false };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xorshift(s: &mut u64) -> u64 {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        *s
    }

    #[test]
    fn merge_of_shards_equals_union_exactly() {
        let mut seed = 0x1234_5678_9abc_def1u64;
        for round in 0..50 {
            let n = 1 + (xorshift(&mut seed) % 5000) as usize;
            let split = (xorshift(&mut seed) as usize) % (n + 1);
            let mut samples = [0u32; 5000];
            for x in samples.iter_mut().take(n) {
                // Mix small and full-range values so the wide sums matter.
                *x = if round % 2 == 0 {
                    xorshift(&mut seed) as u32
                } else {
                    (xorshift(&mut seed) % 65536) as u32
                };
            }
            let a = Moments::of(samples[..split].iter().copied());
            let b = Moments::of(samples[split..n].iter().copied());
            let all = Moments::of(samples[..n].iter().copied());
            assert_eq!(a.merge(b), all);
            assert_eq!(b.merge(a), all);
            assert_eq!(a.merge(b).view(1), all.view(1));
        }
    }

    #[test]
    fn mean_and_variance_are_exact_on_known_data() {
        let m = Moments::of([2u32, 4, 4, 4, 5, 5, 7, 9]);
        assert_eq!(m.count, 8);
        assert_eq!(m.mean(), 5);
        assert_eq!(m.variance(), 4);
        assert_eq!(m.view(8), MomentsView { mean: 5, sigma: 2, ready: true });
        assert!(!m.view(9).ready);
        let big = Moments::of([u32::MAX; 3]);
        assert_eq!(big.mean(), u32::MAX);
        assert_eq!(big.variance(), 0);
        assert_eq!(Moments::EMPTY.view(0), MomentsView { mean: 0, sigma: 0, ready: false });
    }

    #[test]
    fn population_shards_merge_exactly() {
        let mut seed = 77u64;
        let mut all = Population::EMPTY;
        let mut a = Population::EMPTY;
        let mut b = Population::EMPTY;
        for i in 0..10_000 {
            let class = (xorshift(&mut seed) % 6) as usize;
            let hi = xorshift(&mut seed) as u16;
            let warm = !xorshift(&mut seed).is_multiple_of(3);
            all.push(class, hi, warm);
            if i % 7 < 3 { a.push(class, hi, warm) } else { b.push(class, hi, warm) }
        }
        assert_eq!(a.merge(b), all);
        assert_eq!(a.merge(b).view(100), all.view(100));
        assert_eq!(all.calls(), 10_000);
        let v = all.view(100);
        assert!(v.mix_ready);
        let sum: u32 = v.risk_mix.iter().map(|&m| m as u32).sum();
        assert!((65535 - 6..=65535).contains(&sum));
    }

    #[test]
    fn of_agents_counts_only_warm_agents() {
        let mut states = [AgentState::FRESH; 10];
        for (i, s) in states.iter_mut().enumerate() {
            s.calls = i as u32 * 10;
            s.hi_recent = i as u16 * 100;
        }
        let m = Moments::of_agents(&states, 50);
        assert_eq!(m.count, 5);
        assert_eq!(m.sum, (500 + 600 + 700 + 800 + 900) as u128);
    }
}
