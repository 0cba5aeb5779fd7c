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

    /// The derived view used on the hot path (mean and integer standard deviation), ready once
    /// `count >= min_samples`.
    pub fn view(&self, min_samples: u64) -> PopulationView {
        PopulationView {
            mean: self.mean(),
            sigma: self.variance().isqrt().min(u32::MAX as u64) as u32,
            ready: self.count >= min_samples.max(1),
        }
    }
}

/// Population mean and standard deviation of the agents' recent high-risk fraction (Q0.16), refreshed
/// from [`Moments`] off the hot path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PopulationView {
    /// Mean (Q0.16).
    pub mean: u32,
    /// Standard deviation (Q0.16), rounded down.
    pub sigma: u32,
    /// Whether enough samples back the view for population evidence to count.
    pub ready: bool,
}

impl PopulationView {
    /// No population evidence.
    pub const NONE: PopulationView = PopulationView { mean: 0, sigma: 0, ready: false };
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
        assert_eq!(m.view(8), PopulationView { mean: 5, sigma: 2, ready: true });
        assert!(!m.view(9).ready);
        let big = Moments::of([u32::MAX; 3]);
        assert_eq!(big.mean(), u32::MAX);
        assert_eq!(big.variance(), 0);
        assert_eq!(Moments::EMPTY.view(0), PopulationView { mean: 0, sigma: 0, ready: false });
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
