//! Streaming burst scores from decaying count-min sketches, in integers only.
//!
//! The MIDAS family (Bhatia et al., AAAI 2020; TKDD 2022) scores each edge `(a, b)` of a stream by how far
//! the count of the current tick lies above the count the item's history predicts, with a chi-squared
//! statistic over count-min sketches. This module is an integer re-design of that idea for a `no_std`,
//! allocation-free, float-free core:
//!
//! * **Lazy decay.** Every bucket stores the tick at which it was last touched. The decayed current count
//!   is brought up to date when the bucket is touched again (one shift by the elapsed ticks), instead of a
//!   sweep of the whole sketch on every tick change. The cost of a tick change is therefore zero.
//! * **Filtered baseline** (MIDAS-F's idea). A bucket's baseline (the sum of its counts in past ticks) only
//!   absorbs a closed tick whose last score stayed below a threshold, so an ongoing attack does not teach
//!   the sketch that the attack is normal. The decision is taken lazily, when the bucket is next touched.
//! * **Log-domain score.** The statistic `χ² = (c·n − s)² / (s·n)` (current decayed count `c`, baseline
//!   `s` over `n` past ticks) is never divided: its base-2 logarithm is computed from three fixed-point
//!   logarithms (a leading-zero count plus a 64-segment interpolation table built at compile time), so the
//!   score is monotone in `χ²`, bit-exact on every target and cannot overflow.
//!
//! Scores are Q16.16 fixed point: `score = 2¹⁶ · (log2 χ² + SCORE_BIAS)`, clamped to `0..=u32::MAX`.
//! Higher is more anomalous; `0` means "nothing unusual" (χ² ≤ 2⁻³²) or "no history yet".
//!
//! [`PairSketch`] scores pairs (an agent and a tool, a source and a destination host); [`EdgeScorer`]
//! combines a pair sketch with one sketch per endpoint (MIDAS-R's "relations") and returns the maximum.

/// Offset added to `log2 χ²` before the Q16.16 score is clamped at zero (so small deviations still rank).
pub const SCORE_BIAS: i64 = 32;

/// Fractional bits of the decayed current count.
const CUR_FRAC: u32 = 8;

/// Number of interpolation segments of the fixed-point logarithm (a power of two).
const LOG_SEGMENTS_BITS: u32 = 6;
const LOG_SEGMENTS: usize = 1 << LOG_SEGMENTS_BITS;

/// `log2(1 + i / 64)` in Q16 for `i` in `0..=64`, computed at compile time with integers only.
const LOG2_TABLE: [u32; LOG_SEGMENTS + 1] = {
    let mut t = [0u32; LOG_SEGMENTS + 1];
    let mut i = 0;
    while i <= LOG_SEGMENTS {
        // y = 1 + i/64 in Q62.
        let y = (1u128 << 62) + ((i as u128) << (62 - LOG_SEGMENTS_BITS));
        t[i] = log2_frac_q16(y);
        i += 1;
    }
    t
};

/// Base-2 logarithm of `y ∈ [1, 2]` given in Q62, as Q16 fraction (rounded), by repeated squaring.
const fn log2_frac_q16(mut y: u128) -> u32 {
    const ONE: u128 = 1 << 62;
    if y >= 2 * ONE {
        return 1 << 16;
    }
    let mut r: u32 = 0;
    let mut i = 0;
    // 20 fractional bits, rounded to 16.
    while i < 20 {
        y = (y * y) >> 62;
        r <<= 1;
        if y >= 2 * ONE {
            y >>= 1;
            r |= 1;
        }
        i += 1;
    }
    (r + 8) >> 4
}

/// Fixed-point base-2 logarithm: `2¹⁶ · log2(x)` for `x ≥ 1`, and `0` for `x = 0`.
///
/// Accurate to about 2⁻¹³ (a 64-segment linear interpolation of the mantissa); monotone non-decreasing.
#[inline(always)]
pub const fn log2_q16(x: u64) -> u32 {
    if x == 0 {
        return 0;
    }
    let p = 63 - x.leading_zeros();
    // Mantissa without its leading one, left-aligned in 64 bits.
    let m = (x << (63 - p)) << 1;
    let idx = (m >> (64 - LOG_SEGMENTS_BITS)) as usize & (LOG_SEGMENTS - 1);
    let rem = ((m >> (64 - LOG_SEGMENTS_BITS - 16)) & 0xFFFF) as u32;
    let lo = LOG2_TABLE[idx];
    let hi = LOG2_TABLE[idx + 1];
    let frac = lo + (((hi - lo) * rem) >> 16);
    (p << 16) + frac
}

/// SplitMix64: expands a seed into hash multipliers.
const fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// How a sketch decays and filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SketchPolicy {
    /// Right shift applied to the decayed current count per elapsed tick (`1` halves it every tick, the
    /// factor MIDAS-R uses).
    pub decay_shift: u8,
    /// A closed tick whose last score was at or above this (Q16.16) is kept out of the baseline.
    /// `u32::MAX` disables filtering (every tick is absorbed).
    pub filter_threshold: u32,
    /// When a tick is filtered out, add the bucket's mean per past tick to the baseline instead (MIDAS-F);
    /// otherwise the tick counts as a quiet one.
    pub substitute_mean: bool,
    /// Baseline used for a bucket without any history (`0`: such items score `0`, as in MIDAS; `≥ 1`:
    /// first sightings score high).
    pub novelty_floor: u32,
}

impl SketchPolicy {
    /// The default policy, chosen on the DARPA 1998 stream (see docs/SCORING-SKETCH.md).
    pub const DEFAULT: Self = Self {
        decay_shift: 1,
        filter_threshold: ((10 + SCORE_BIAS) << 16) as u32,
        substitute_mean: false,
        novelty_floor: 0,
    };
}

impl Default for SketchPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One sketch bucket: 16 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Bucket {
    /// Tick at which the bucket was last touched.
    tick: u32,
    /// Decayed current count, Q24.8.
    cur: u32,
    /// Raw count within `tick` (bits 0..31) and the filter flag of `tick` (bit 31).
    count: u32,
    /// Baseline: sum of the absorbed counts of past ticks.
    total: u32,
}

const FLAG: u32 = 1 << 31;

/// A decaying, filtered count-min sketch of `ROWS × COLS` buckets that scores keyed events.
///
/// Memory: `16 · ROWS · COLS` bytes plus a few words (2 × 1024 → 32 KiB).
#[derive(Clone, Debug)]
pub struct PairSketch<const ROWS: usize, const COLS: usize> {
    buckets: [[Bucket; COLS]; ROWS],
    mul: [[u64; 3]; ROWS],
    policy: SketchPolicy,
}

/// Bucket state after an update, per sketch: the count-min estimates.
#[derive(Clone, Copy)]
struct Estimate {
    cur: u32,
    total: u32,
}

impl<const ROWS: usize, const COLS: usize> PairSketch<ROWS, COLS> {
    /// An empty sketch whose hash functions are derived from `seed`, with the default policy.
    pub const fn new(seed: u64) -> Self {
        Self::with_policy(seed, SketchPolicy::DEFAULT)
    }

    /// An empty sketch with an explicit policy.
    pub const fn with_policy(seed: u64, policy: SketchPolicy) -> Self {
        let mut state = seed;
        let mut mul = [[0u64; 3]; ROWS];
        let mut r = 0;
        while r < ROWS {
            mul[r][0] = splitmix64(&mut state) | 1;
            mul[r][1] = splitmix64(&mut state) | 1;
            mul[r][2] = splitmix64(&mut state);
            r += 1;
        }
        Self { buckets: [[Bucket { tick: 0, cur: 0, count: 0, total: 0 }; COLS]; ROWS], mul, policy }
    }

    /// The policy this sketch runs.
    pub const fn policy(&self) -> SketchPolicy {
        self.policy
    }

    /// Forgets everything (hash functions and policy are kept).
    pub fn reset(&mut self) {
        self.buckets = [[Bucket::default(); COLS]; ROWS];
    }

    #[inline(always)]
    fn index(&self, r: usize, a: u32, b: u32) -> usize {
        let m = self.mul[r];
        let h = (a as u64).wrapping_mul(m[0]).wrapping_add((b as u64).wrapping_mul(m[1])).wrapping_add(m[2]);
        (((h >> 32) * COLS as u64) >> 32) as usize
    }

    /// Brings one bucket to `tick`, counts one event in it and returns it.
    #[inline(always)]
    fn touch(policy: &SketchPolicy, bucket: &mut Bucket, tick: u32) -> Estimate {
        let mut b = *bucket;
        if b.tick != tick {
            // Close the tick the bucket was last touched in (ticks in between were empty).
            let count = b.count & !FLAG;
            if b.count & FLAG == 0 {
                b.total = b.total.saturating_add(count);
            } else if policy.substitute_mean && b.tick > 1 {
                b.total = b.total.saturating_add(b.total / (b.tick - 1));
            }
            let dt = tick.wrapping_sub(b.tick);
            let shift = (dt as u64).saturating_mul(policy.decay_shift as u64);
            b.cur = if shift >= 32 { 0 } else { b.cur >> shift };
            b.count = 0;
            b.tick = tick;
        }
        b.cur = b.cur.saturating_add(1 << CUR_FRAC);
        b.count = (b.count & FLAG) | ((b.count & !FLAG) + 1).min(!FLAG);
        *bucket = b;
        Estimate { cur: b.cur, total: b.total }
    }

    /// Counts one event `(a, b)` at `tick` and returns its anomaly score (Q16.16, see the module docs).
    ///
    /// Ticks are caller-supplied (a minute index, a window number) and should not go backwards; an older
    /// tick is treated like a new one (no panic, the bucket restarts its decay there).
    #[inline]
    pub fn observe(&mut self, tick: u32, a: u32, b: u32) -> u32 {
        let mut est = Estimate { cur: u32::MAX, total: u32::MAX };
        let mut idx = [0usize; ROWS];
        let mut r = 0;
        while r < ROWS {
            idx[r] = self.index(r, a, b);
            r += 1;
        }
        let policy = self.policy;
        for (row, &i) in self.buckets.iter_mut().zip(idx.iter()) {
            if let Some(bucket) = row.get_mut(i) {
                let e = Self::touch(&policy, bucket, tick);
                est.cur = est.cur.min(e.cur);
                est.total = est.total.min(e.total);
            }
        }
        let score = chi2_score(est.cur, est.total, tick, policy.novelty_floor);
        if score >= policy.filter_threshold {
            for (row, &i) in self.buckets.iter_mut().zip(idx.iter()) {
                if let Some(bucket) = row.get_mut(i) {
                    bucket.count |= FLAG;
                }
            }
        }
        score
    }

    /// Counts one event of the single key `a` (a node) at `tick` and returns its score.
    #[inline]
    pub fn observe_node(&mut self, tick: u32, a: u32) -> u32 {
        self.observe(tick, a, 0)
    }
}

/// `2¹⁶ · (log2 χ² + SCORE_BIAS)` clamped, with `χ² = (c·n − s)² / (s·n)`, `c = cur / 2⁸`, `n = tick − 1`.
#[inline(always)]
fn chi2_score(cur: u32, total: u32, tick: u32, novelty_floor: u32) -> u32 {
    let n = tick.saturating_sub(1);
    let s = total.max(novelty_floor);
    if n == 0 || s == 0 {
        return 0;
    }
    let cn = (cur as u64) * (n as u64);
    let s8 = (s as u64) << CUR_FRAC;
    let d = cn.abs_diff(s8);
    let l = 2 * log2_q16(d) as i64
        - log2_q16(s as u64) as i64
        - log2_q16(n as u64) as i64
        - ((2 * CUR_FRAC as i64) << 16)
        + (SCORE_BIAS << 16);
    l.clamp(0, u32::MAX as i64) as u32
}

/// MIDAS-R-style relational scorer: a pair sketch for the edge and one sketch per endpoint; the score of an
/// event is the maximum of the three.
///
/// Memory: `3 · 16 · ROWS · COLS` bytes (2 × 1024 → 96 KiB).
#[derive(Clone, Debug)]
pub struct EdgeScorer<const ROWS: usize, const COLS: usize> {
    edge: PairSketch<ROWS, COLS>,
    src: PairSketch<ROWS, COLS>,
    dst: PairSketch<ROWS, COLS>,
}

impl<const ROWS: usize, const COLS: usize> EdgeScorer<ROWS, COLS> {
    /// An empty scorer with the default policy; the three sketches get independent hashes from `seed`.
    pub const fn new(seed: u64) -> Self {
        Self::with_policy(seed, SketchPolicy::DEFAULT)
    }

    /// An empty scorer with an explicit policy for all three sketches.
    pub const fn with_policy(seed: u64, policy: SketchPolicy) -> Self {
        Self {
            edge: PairSketch::with_policy(seed, policy),
            src: PairSketch::with_policy(seed ^ 0x5352_435F_5352_435F, policy),
            dst: PairSketch::with_policy(seed ^ 0x4453_545F_4453_545F, policy),
        }
    }

    /// Forgets everything.
    pub fn reset(&mut self) {
        self.edge.reset();
        self.src.reset();
        self.dst.reset();
    }

    /// Counts the event `a → b` at `tick` and returns `max(edge, source, destination)` scores (Q16.16).
    #[inline]
    pub fn observe(&mut self, tick: u32, a: u32, b: u32) -> u32 {
        let e = self.edge.observe(tick, a, b);
        let s = self.src.observe_node(tick, a);
        let d = self.dst.observe_node(tick, b);
        e.max(s).max(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference log2 in Q16 computed by repeated squaring (slow, exact to 2⁻¹⁶ before rounding).
    fn log2_ref(x: u64) -> i64 {
        let p = 63 - x.leading_zeros();
        let y = ((x as u128) << 62) >> p;
        ((p as i64) << 16) + log2_frac_q16(y) as i64
    }

    #[test]
    fn log2_matches_reference_and_is_monotone() {
        let mut prev = 0;
        let mut x: u64 = 1;
        let mut worst = 0;
        while x < u64::MAX / 3 {
            for y in [x, x + x / 3, x + x / 2] {
                let got = log2_q16(y) as i64;
                worst = worst.max((got - log2_ref(y)).abs());
            }
            let got = log2_q16(x);
            assert!(got >= prev, "not monotone at {x}");
            prev = got;
            x = x + x / 7 + 1;
        }
        // 64 segments: interpolation error below 2^-13 (8 Q16 units).
        assert!(worst <= 8, "worst error {worst}");
        assert_eq!(log2_q16(1), 0);
        assert_eq!(log2_q16(1024), 10 << 16);
        assert_eq!(log2_q16(0), 0);
        assert_eq!(log2_q16(u64::MAX) >> 16, 63);
    }

    #[test]
    fn burst_scores_above_background() {
        let mut s = EdgeScorer::<2, 1024>::new(7);
        let mut background_max = 0;
        // 200 minutes of steady traffic: every host talks to its neighbour twice a minute.
        for tick in 1..=200u32 {
            for host in 0..20u32 {
                for _ in 0..2 {
                    let score = s.observe(tick, host, (host + 1) % 20);
                    if tick > 20 {
                        background_max = background_max.max(score);
                    }
                }
            }
        }
        // A burst: host 3 floods host 9 with 500 events in one minute.
        let mut burst_min = u32::MAX;
        for i in 0..500u32 {
            let score = s.observe(201, 3, 9);
            if i >= 10 {
                burst_min = burst_min.min(score);
            }
        }
        assert!(burst_min > background_max, "burst {burst_min} vs background {background_max}");
    }

    #[test]
    fn ongoing_attack_stays_anomalous_with_filtering() {
        let mut filtered = PairSketch::<2, 256>::new(1);
        let mut plain = PairSketch::<2, 256>::with_policy(
            1,
            SketchPolicy { filter_threshold: u32::MAX, ..SketchPolicy::DEFAULT },
        );
        for tick in 1..=100u32 {
            filtered.observe(tick, 1, 2);
            plain.observe(tick, 1, 2);
        }
        let (mut f, mut p) = (0, 0);
        for tick in 101..=160u32 {
            for _ in 0..200 {
                f = filtered.observe(tick, 1, 2);
                p = plain.observe(tick, 1, 2);
            }
        }
        assert!(f > p, "filtered {f} plain {p}");
    }

    #[test]
    fn extreme_inputs_do_not_panic_or_wrap() {
        let mut s = EdgeScorer::<2, 64>::new(0);
        let mut last = 0;
        for i in 0..100_000u32 {
            last = s.observe(u32::MAX - 1, i, u32::MAX - i);
        }
        // Ticks going backwards and jumping are accepted.
        assert!(s.observe(0, 1, 2) <= u32::MAX);
        let _ = s.observe(u32::MAX, 1, 2);
        let _ = last;
        let mut p = PairSketch::<1, 1>::new(3);
        let mut prev = 0;
        for _ in 0..1_000_000 {
            let sc = p.observe(5, 1, 1);
            assert!(sc >= prev || prev == 0);
            prev = sc;
        }
    }
}
