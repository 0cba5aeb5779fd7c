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

    /// Adds one sample. O(1). (Inlined on 64-bit targets, where it is three adds; out of line on 32-bit
    /// ones, where the two saturating 128-bit adds are some 150 bytes of code per call site.)
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
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
            n => div_wide(self.sum, n).min(u32::MAX as u128) as u32,
        }
    }

    /// Population variance `Σx²/n − (Σx/n)²`, computed exactly as `(n·Σx² − (Σx)²) / n²` when that fits,
    /// rounded down.
    pub fn variance(&self) -> u64 {
        let n = self.count;
        if n == 0 {
            return 0;
        }
        match (mul_wide(n, self.sum_sq), square_wide(self.sum)) {
            (Some(a), Some(b)) => div_by_square(a.saturating_sub(b), n).min(u64::MAX as u128) as u64,
            // Huge populations: the (still exact to within one unit of the mean) two-step form.
            _ => {
                // A mean of 2⁶⁴ or more (only possible for hand-made fields: pushed samples are below
                // 2³²) has a square above any Σx²/n: variance 0 rather than an overflow.
                let mean_sq = square_wide(div_wide(self.sum, n)).unwrap_or(u128::MAX);
                div_wide(self.sum_sq, n).saturating_sub(mean_sq).min(u64::MAX as u128) as u64
            }
        }
    }

    /// Mean and integer standard deviation, with whether `count >= min_samples`.
    pub fn view(&self, min_samples: u64) -> MomentsView {
        MomentsView {
            mean: self.mean(),
            sigma: isqrt(self.variance()).min(u32::MAX as u64) as u32,
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
                *m = div_wide(c as u128 * 65535, total) as u16;
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

// ---- wide arithmetic without a 128-bit division on 32-bit targets ---------------------------------
//
// Every divisor here is a sample count, a `u64`. On 64-bit targets `u128 / u128` with a 64-bit divisor
// is a few native instructions, and `div_wide` is exactly that. On 32-bit targets (the Cortex-M
// firmware) a 128-bit division, and even a 64-bit one, is a call into compiler-builtins' generic
// division — about a kilobyte of code per inlined site for `u128`, 0.9 KiB for the `u64` routine — so
// there `div_wide` and `isqrt` are shift-and-subtract loops with no division at all. Both ways are exact
// (the tests compare the loops with native division on every edge and on random operands), so the
// statistics, and everything derived from them, are identical on every target.

/// `⌊n / d⌋`, exactly (0 for `d = 0`, which no caller passes).
#[cfg(target_pointer_width = "64")]
#[inline]
fn div_wide(n: u128, d: u64) -> u128 {
    n.checked_div(d as u128).unwrap_or(0)
}

/// `⌊n / d⌋`, exactly (0 for `d = 0`, which no caller passes).
#[cfg(not(target_pointer_width = "64"))]
#[inline]
fn div_wide(n: u128, d: u64) -> u128 {
    div_shift_subtract(n, d)
}

/// `⌊a / n²⌋`, exactly (0 for `n = 0`): one native division on 64-bit targets (`n² < 2¹²⁸`).
#[cfg(target_pointer_width = "64")]
#[inline]
fn div_by_square(a: u128, n: u64) -> u128 {
    a.checked_div(n as u128 * n as u128).unwrap_or(0)
}

/// `⌊a / n²⌋`, exactly (0 for `n = 0`), as `⌊⌊a / n⌋ / n⌋` (equal for positive integers): two
/// 128-by-64 divisions.
#[cfg(not(target_pointer_width = "64"))]
#[inline]
fn div_by_square(a: u128, n: u64) -> u128 {
    div_wide(div_wide(a, n), n)
}

/// `⌊√x⌋`.
#[cfg(target_pointer_width = "64")]
#[inline]
fn isqrt(x: u64) -> u64 {
    x.isqrt()
}

/// `⌊√x⌋`.
#[cfg(not(target_pointer_width = "64"))]
#[inline]
fn isqrt(x: u64) -> u64 {
    isqrt_digits(x)
}

/// `⌊n / d⌋` by restoring division, one quotient bit per step, with no division instruction or call:
/// the remainder `r < d` is shifted left and the next dividend bit shifted in; as `r < d`, `2r + 1 < 2d`,
/// so the bit shifted out of `r` (`carry`) is the partial remainder's 65th bit, and when it is set the
/// remainder certainly exceeds `d`. 0 for `d = 0`.
#[cfg_attr(target_pointer_width = "64", allow(dead_code))]
fn div_shift_subtract(n: u128, d: u64) -> u128 {
    if d == 0 {
        return 0;
    }
    let mut r = 0u64;
    let mut q = [0u64; 2];
    for (word, q) in [(n >> 64) as u64, n as u64].into_iter().zip(&mut q) {
        let mut w = word;
        for _ in 0..64 {
            let carry = r >> 63;
            r = (r << 1) | (w >> 63);
            w <<= 1;
            *q <<= 1;
            if carry != 0 || r >= d {
                r = r.wrapping_sub(d);
                *q |= 1;
            }
        }
    }
    ((q[0] as u128) << 64) | q[1] as u128
}

/// `⌊√x⌋`, digit by digit (two bits of `x` per step), with no division.
#[cfg_attr(target_pointer_width = "64", allow(dead_code))]
fn isqrt_digits(x: u64) -> u64 {
    let (mut rem, mut root) = (x, 0u64);
    let mut bit = 1u64 << 62;
    while bit > rem {
        bit >>= 2;
    }
    while bit != 0 {
        if rem >= root + bit {
            rem -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    root
}

/// `n · x`, or `None` if it overflows 128 bits (`n.checked_mul(x)` for a 64-bit `n`).
fn mul_wide(n: u64, x: u128) -> Option<u128> {
    let (hi, lo) = ((x >> 64) as u64, x as u64);
    let top = n as u128 * hi as u128;
    if top >> 64 != 0 {
        return None;
    }
    (n as u128 * lo as u128).checked_add(top << 64)
}

/// `x²`, or `None` if it overflows 128 bits.
fn square_wide(x: u128) -> Option<u128> {
    match x >> 64 {
        0 => Some(x * x),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_rng::xorshift;

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
        let n = if cfg!(miri) { 300 } else { 10_000 };
        for i in 0..n {
            let class = (xorshift(&mut seed) % 6) as usize;
            let hi = xorshift(&mut seed) as u16;
            let warm = !xorshift(&mut seed).is_multiple_of(3);
            all.push(class, hi, warm);
            if i % 7 < 3 { a.push(class, hi, warm) } else { b.push(class, hi, warm) }
        }
        assert_eq!(a.merge(b), all);
        assert_eq!(a.merge(b).view(100), all.view(100));
        assert_eq!(all.calls(), n);
        let v = all.view(100);
        assert!(v.mix_ready);
        let sum: u32 = v.risk_mix.iter().map(|&m| m as u32).sum();
        assert!((65535 - 6..=65535).contains(&sum));
    }

    /// The former `u128`-division formulas, the oracle for the 128-by-64 arithmetic.
    fn reference_view(m: &Moments) -> (u32, u64) {
        let n = m.count as u128;
        if n == 0 {
            return (0, 0);
        }
        let mean = (m.sum / n).min(u32::MAX as u128) as u32;
        let var = match (n.checked_mul(m.sum_sq), m.sum.checked_mul(m.sum)) {
            (Some(a), Some(b)) => (a.saturating_sub(b) / (n * n)).min(u64::MAX as u128) as u64,
            _ => {
                let mean = m.sum / n;
                // (The former code overflowed here for a mean of 2⁶⁴ or more, which only hand-made
                // fields reach; it now saturates, as below.)
                let mean_sq = mean.saturating_mul(mean);
                (m.sum_sq / n).saturating_sub(mean_sq).min(u64::MAX as u128) as u64
            }
        };
        (mean, var)
    }

    #[test]
    fn wide_division_is_exact() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let edges = [0u128, 1, 2, u64::MAX as u128, 1 << 64, (1 << 64) + 1, u128::MAX, u128::MAX - 1];
        let divisors = [1u64, 2, 3, 7, 0xffff_ffff, 1 << 32, (1 << 63) + 1, u64::MAX - 1, u64::MAX];
        for &n in &edges {
            for &d in &divisors {
                assert_eq!(div_wide(n, d), n / d as u128, "{n} / {d}");
                assert_eq!(div_shift_subtract(n, d), n / d as u128, "{n} / {d}");
            }
        }
        // Fewer random cases under Miri (each shift-subtract division is 128 interpreted steps).
        for _ in 0..if cfg!(miri) { 500 } else { 20_000 } {
            let n = ((xorshift(&mut seed) as u128) << 64 | xorshift(&mut seed) as u128)
                >> (xorshift(&mut seed) % 128);
            let d = xorshift(&mut seed) >> (xorshift(&mut seed) % 64);
            if d == 0 {
                continue;
            }
            assert_eq!(div_wide(n, d), n / d as u128, "{n} / {d}");
            assert_eq!(div_shift_subtract(n, d), n / d as u128, "{n} / {d}");
            let x = n >> (xorshift(&mut seed) % 128);
            assert_eq!(mul_wide(d, x), (d as u128).checked_mul(x), "{d} * {x}");
            assert_eq!(square_wide(x), x.checked_mul(x), "{x}^2");
        }
        assert_eq!(div_wide(5, 0), 0);
        assert_eq!(div_shift_subtract(5, 0), 0);
        assert_eq!(div_by_square(5, 0), 0);
        // The 32-bit targets' ⌊⌊a / n⌋ / n⌋ is ⌊a / n²⌋.
        for _ in 0..if cfg!(miri) { 500 } else { 20_000 } {
            let a = ((xorshift(&mut seed) as u128) << 64 | xorshift(&mut seed) as u128)
                >> (xorshift(&mut seed) % 128);
            let n = xorshift(&mut seed) >> (xorshift(&mut seed) % 64);
            if n == 0 {
                continue;
            }
            let two_step = div_shift_subtract(div_shift_subtract(a, n), n);
            assert_eq!(two_step, a / (n as u128 * n as u128), "{a} / {n}^2");
            assert_eq!(div_by_square(a, n), two_step);
        }
    }

    #[test]
    fn digit_square_root_is_exact() {
        let mut seed = 0x5151_5151_5151_5151u64;
        let check = |x: u64| {
            assert_eq!(isqrt_digits(x), x.isqrt(), "sqrt {x}");
            assert_eq!(isqrt(x), x.isqrt(), "sqrt {x}");
        };
        for x in [0u64, 1, 2, 3, 4, 8, 15, 16, 17, u32::MAX as u64, 1 << 32, u64::MAX, u64::MAX - 1] {
            check(x);
        }
        for k in 1..32u64 {
            for x in [k * k - 1, k * k, k * k + 1, (1 << (2 * k)) - 1, 1 << (2 * k)] {
                check(x);
            }
        }
        for _ in 0..if cfg!(miri) { 1_000 } else { 20_000 } {
            let x = xorshift(&mut seed) >> (xorshift(&mut seed) % 64);
            check(x);
        }
    }

    #[test]
    fn mean_and_variance_match_the_u128_formulas() {
        let mut seed = 0x0123_4567_89ab_cdefu64;
        // Realistic statistics (pushed samples) of every size, and hand-made extreme fields that reach
        // the two-step branch and the clamps.
        for round in 0..4000u32 {
            let m = if round % 2 == 0 {
                let n = xorshift(&mut seed) % 300;
                let shift = xorshift(&mut seed) % 33;
                Moments::of((0..n).map(|_| (xorshift(&mut seed) >> (32 + shift.min(31))) as u32))
            } else {
                let wide =
                    |s: &mut u64| ((xorshift(s) as u128) << 64 | xorshift(s) as u128) >> (xorshift(s) % 128);
                Moments {
                    count: xorshift(&mut seed) >> (xorshift(&mut seed) % 64),
                    sum: wide(&mut seed),
                    sum_sq: wide(&mut seed),
                }
            };
            let (mean, var) = reference_view(&m);
            assert_eq!((m.mean(), m.variance()), (mean, var), "{m:?}");
        }
        // 2^40 samples of 2^32 - 1: n·Σx² overflows 128 bits, so the two-step form answers.
        let x = u32::MAX as u128;
        let n = 1u64 << 40;
        let m = Moments { count: n, sum: x * n as u128, sum_sq: x * x * n as u128 };
        assert_eq!(mul_wide(n, m.sum_sq), None);
        assert_eq!((m.mean(), m.variance()), (u32::MAX, 0));
        assert_eq!((m.mean(), m.variance()), reference_view(&m));
    }

    #[test]
    fn risk_mix_matches_the_u128_formula() {
        for classes in
            [[1u64, 0, 0, 0, 0, 0], [u64::MAX / 6; 6], [u64::MAX, 1, 2, 3, 4, 5], [3, 5, 7, 11, 13, 17]]
        {
            let p = Population { hi: Moments::EMPTY, classes };
            let total = p.calls();
            let v = p.view(1);
            for (m, c) in v.risk_mix.iter().zip(classes) {
                assert_eq!(*m as u128, (c as u128 * 65535) / total as u128, "{classes:?}");
            }
        }
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
