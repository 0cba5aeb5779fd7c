//! Streaming burst scores from decaying count-min sketches, in integers only.
//!
//! The MIDAS family (Bhatia et al., AAAI 2020; TKDD 2022) scores each edge `(a, b)` of a stream by how far
//! the count of the current tick lies above what the item's history predicts, with a chi-squared statistic
//! over count-min sketches. This module is an integer re-design of that idea for a `no_std`,
//! allocation-free, float-free core (details and measurements: docs/SCORING.md §10):
//!
//! * **Lazy decay.** Every bucket stores the tick at which it was last touched. Its decayed current count
//!   is brought up to date when the bucket is next touched (one shift by the elapsed ticks) instead of a
//!   sweep of the whole sketch on every tick change (MIDAS-R), so a tick change costs nothing.
//! * **Filtered baseline** (MIDAS-F's idea). A bucket's baseline only absorbs a closed tick in which the
//!   key never scored at or above a threshold, so an ongoing attack does not teach the sketch that the
//!   attack is normal. The decision is taken lazily too, when the bucket is next touched.
//! * **Log-domain score.** The statistic `χ² = (c·n − s)² / (s·n)` (decayed current count `c`, baseline
//!   `s` over the `n` ticks since the sketch's first tick) is never divided: its base-2 logarithm is assembled from
//!   fixed-point logarithms (a leading-zero count and the mantissa bits, [`log2_q16`]), so the score is
//!   monotone in each input, bit-exact on every target, and cannot overflow.
//!
//! Scores are Q16.16 fixed point: `score = 2¹⁶ · (log2 χ² + SCORE_BIAS)` clamped to `0..=u32::MAX`
//! ([`score_of_log2`] converts a threshold). Higher is more anomalous; `0` means "nothing unusual" or "no
//! history yet".
//!
//! * [`PairSketch`] scores keyed events: pairs (an agent and a tool, a source and a destination host) or
//!   single keys ([`PairSketch::observe_node`]).
//! * [`EndpointScorer`] keeps one sketch per endpoint (source, destination) and returns the larger score:
//!   the best detector on the DARPA 1998 stream (ROC-AUC 0.985 against MIDAS-F's 0.984).
//! * [`EdgeScorer`] adds the pair sketch (MIDAS-R's three sketches); with [`SketchPolicy::UNFILTERED`] it is
//!   the integer counterpart of MIDAS-R.

use crate::Micros;

/// Offset added to `log2 χ²` before the Q16.16 score is clamped at zero (so small deviations still rank).
pub const SCORE_BIAS: i32 = 32;

/// Fractional bits of the decayed current count and of the baseline.
const FRAC: u32 = 8;

/// The Q16.16 score of an event whose `log2 χ²` is `log2_chi2` (for thresholds).
pub const fn score_of_log2(log2_chi2: i32) -> u32 {
    let v = (log2_chi2 as i64 + SCORE_BIAS as i64) << 16;
    if v < 0 {
        0
    } else if v > u32::MAX as i64 {
        u32::MAX
    } else {
        v as u32
    }
}

/// Fixed-point base-2 logarithm: `2¹⁶ · log2(x)` for `x ≥ 1` (Mitchell's approximation), `0` for `x = 0`.
///
/// The integer part is the position of the leading one; the fraction is the 16 bits that follow it, i.e.
/// `log2(1 + m) ≈ m`. Exact at powers of two, monotone non-decreasing, never above the true value and at
/// most 0.0861 below it. Five instructions, no table, no branch besides the zero test.
#[inline(always)]
pub const fn log2_q16(x: u64) -> u32 {
    if x == 0 {
        return 0;
    }
    let p = 63 - x.leading_zeros();
    // Mantissa without its leading one, left-aligned in 64 bits; keep its top 16 bits.
    let m = (x << (63 - p)) << 1;
    (p << 16) + (m >> 48) as u32
}

/// The tick of time `now` for windows of `window` microseconds (`window = 0` is treated as 1 µs); ticks
/// saturate at `u32::MAX`.
pub const fn tick_of(now: Micros, window: Micros) -> u32 {
    let w = if window == 0 { 1 } else { window };
    let t = now / w;
    if t > u32::MAX as u64 { u32::MAX } else { t as u32 }
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
    /// A closed tick in which the key scored at or above this (Q16.16) is kept out of the baseline (it
    /// then counts as a quiet tick). `u32::MAX` disables filtering: every tick is absorbed.
    pub filter_threshold: u32,
    /// Baseline assumed for a bucket without history, in events (`0`: such keys score `0`, as in MIDAS;
    /// `≥ 1`: first sightings score high).
    pub novelty_floor: u32,
}

impl SketchPolicy {
    /// The default: halve per tick, filter ticks with `χ² ≥ 2¹⁰`, no novelty score (chosen on the DARPA
    /// 1998 stream, see docs/SCORING.md §10).
    pub const DEFAULT: Self = Self { decay_shift: 1, filter_threshold: score_of_log2(10), novelty_floor: 0 };

    /// No filtering: every tick joins the baseline (the integer counterpart of MIDAS-R).
    pub const UNFILTERED: Self = Self { filter_threshold: u32::MAX, ..Self::DEFAULT };
}

impl Default for SketchPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One sketch bucket: 16 bytes, aligned so that it never straddles a cache line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, align(16))]
struct Bucket {
    /// Tick at which the bucket was last touched.
    tick: u32,
    /// Decayed current count, Q24.8: `cur(T) = count(T) + cur(T − 1) · 2^−decay_shift` (saturating).
    cur: u32,
    /// Bits 0..63: the baseline, Q55.8, the sum of `cur` at the end of every absorbed past tick
    /// (saturating); bit 63: the key scored at or above the filter threshold during `tick`.
    total: u64,
}

const _: () = assert!(core::mem::size_of::<Bucket>() == 16);

const FLAG: u64 = 1 << 63;

/// A decaying, filtered count-min sketch of `ROWS × COLS` buckets that scores keyed events.
///
/// Memory: `16 · ROWS · COLS` bytes plus a few words (2 × 1024 → 32 KiB). `ROWS = 0` or `COLS = 0` is
/// accepted and scores everything `0`.
///
/// ```
/// use tcap_core::behavior::sketch::{PairSketch, score_of_log2};
///
/// let mut s = PairSketch::<2, 256>::new(42);
/// // Agent 7 calls tool 3 once a minute for an hour: nothing unusual.
/// for minute in 1..=60 {
///     assert!(s.observe(minute, 7, 3) < score_of_log2(10));
/// }
/// // Then 100 calls in one minute: χ² far above 2¹⁰.
/// let burst = (0..100).map(|_| s.observe(61, 7, 3)).max().unwrap_or(0);
/// assert!(burst > score_of_log2(10));
/// ```
#[derive(Clone, Debug)]
pub struct PairSketch<const ROWS: usize, const COLS: usize> {
    buckets: [[Bucket; COLS]; ROWS],
    mul: [[u64; 3]; ROWS],
    policy: SketchPolicy,
    /// The first tick observed (`None` until then): `n` counts the ticks since.
    start: Option<u32>,
    /// Tick of the cached values below.
    clock_tick: u32,
    /// Number of past ticks at `clock_tick`, and its logarithm.
    clock: Clock,
}

/// Past ticks `n` (since the sketch's first tick) and `log2_q16(n)`, cached per tick.
#[derive(Clone, Copy, Debug, Default)]
struct Clock {
    n: u32,
    log_n: u32,
}

/// Count-min estimates of one key after an update (Q.8).
#[derive(Clone, Copy)]
struct Estimate {
    cur: u32,
    total: u64,
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
        Self {
            buckets: [[Bucket { tick: 0, cur: 0, total: 0 }; COLS]; ROWS],
            mul,
            policy,
            start: None,
            clock_tick: 0,
            clock: Clock { n: 0, log_n: 0 },
        }
    }

    /// The policy this sketch runs.
    pub const fn policy(&self) -> SketchPolicy {
        self.policy
    }

    /// Forgets everything (hash functions and policy are kept).
    pub fn reset(&mut self) {
        self.buckets = [[Bucket::default(); COLS]; ROWS];
        self.start = None;
        self.clock_tick = 0;
        self.clock = Clock::default();
    }

    /// Row `r`'s bucket for `(a, b)`: a multiply-add-shift hash (2-universal on 32-bit keys) reduced to
    /// `0..COLS` by a multiply-high (no division, any `COLS`).
    #[inline(always)]
    fn index(m: &[u64; 3], a: u32, b: u32) -> usize {
        let h = (a as u64).wrapping_mul(m[0]).wrapping_add((b as u64).wrapping_mul(m[1])).wrapping_add(m[2]);
        (((h >> 32) * COLS as u64) >> 32) as usize
    }

    /// Brings one bucket to `tick` and counts one event in it, without data-dependent branches. Returns
    /// the new bucket (not yet stored: the caller adds the filter flag).
    #[inline(always)]
    fn touch(decay_shift: u32, b: Bucket, tick: u32) -> Bucket {
        use core::hint::select_unpredictable as select;
        let dt = tick.wrapping_sub(b.tick);
        // Whether a bucket is stale (last touched in an earlier tick) is close to a coin flip on real
        // streams: selects, not branches.
        let stale = dt != 0;
        let flagged = b.total & FLAG != 0;
        // Closing the bucket's last tick: absorb its decayed count unless that tick was flagged.
        let absorb = select(stale & !flagged, b.cur as u64, 0);
        // base < 2^63 and absorb < 2^32: no overflow; the cap keeps bit 63 free.
        let total = ((b.total & !FLAG) + absorb).min(!FLAG);
        // dt ≤ 63 and decay_shift ≤ 255: the product cannot overflow.
        let shift = (dt.min(63) * decay_shift).min(63);
        let cur = (((b.cur as u64) >> shift) + (1 << FRAC)).min(u32::MAX as u64) as u32;
        let flag = select(stale, 0, b.total & FLAG);
        Bucket { tick, cur, total: total | flag }
    }

    /// The clock at `tick`: ticks elapsed since the first one this sketch saw (0 before it).
    #[inline(always)]
    fn clock(&mut self, tick: u32) -> Clock {
        let start = *self.start.get_or_insert(tick);
        if self.clock_tick != tick {
            let n = tick.saturating_sub(start);
            self.clock_tick = tick;
            self.clock = Clock { n, log_n: log2_q16(n as u64) };
        }
        self.clock
    }

    #[inline(always)]
    fn observe_with(&mut self, tick: u32, a: u32, b: u32, clock: Clock) -> u32 {
        let policy = self.policy;
        let ds = policy.decay_shift as u32;
        let mut idx = [0usize; ROWS];
        let mut new = [Bucket::default(); ROWS];
        let mut est = Estimate { cur: u32::MAX, total: u64::MAX };
        for r in 0..ROWS {
            let i = Self::index(&self.mul[r], a, b);
            if let Some(old) = self.buckets[r].get(i) {
                let nb = Self::touch(ds, *old, tick);
                est.cur = est.cur.min(nb.cur);
                est.total = est.total.min(nb.total & !FLAG);
                new[r] = nb;
                idx[r] = i;
            }
        }
        let score = if ROWS == 0 || COLS == 0 { 0 } else { chi2_score(est, clock, policy.novelty_floor) };
        let flag = if score >= policy.filter_threshold { FLAG } else { 0 };
        for r in 0..ROWS {
            if let Some(slot) = self.buckets[r].get_mut(idx[r]) {
                *slot = Bucket { total: new[r].total | flag, ..new[r] };
            }
        }
        score
    }

    /// Counts one event `(a, b)` at `tick` and returns its anomaly score (Q16.16, see the module docs).
    ///
    /// Ticks are caller-supplied (a minute index, a window number, [`tick_of`]) and should not go
    /// backwards; an older tick is accepted (no panic) and treated like a much later one. The history
    /// is counted from the first tick the sketch sees, so any origin works (`n = tick − first tick`).
    #[inline]
    pub fn observe(&mut self, tick: u32, a: u32, b: u32) -> u32 {
        let clock = self.clock(tick);
        self.observe_with(tick, a, b, clock)
    }

    /// Counts one event of the single key `a` (a node) at `tick` and returns its score.
    #[inline]
    pub fn observe_node(&mut self, tick: u32, a: u32) -> u32 {
        self.observe(tick, a, 0)
    }
}

/// `2¹⁶ · (log2 χ² + SCORE_BIAS)` clamped, with `χ² = (c·n − s)² / (s·n)`, `c = cur / 2⁸`,
/// `s = total / 2⁸`, `n` past ticks.
#[inline(always)]
fn chi2_score(est: Estimate, clock: Clock, novelty_floor: u32) -> u32 {
    let Clock { n, log_n } = clock;
    let s = est.total.max((novelty_floor as u64) << FRAC);
    if n == 0 || s == 0 {
        return 0;
    }
    // c·n < 2^64 and s < 2^63: both fit.
    let d = ((est.cur as u64) * (n as u64)).abs_diff(s);
    // d and s carry 8 fractional bits: log2 χ² = 2·log2 d − log2 s − log2 n − 8.
    // At most 2·64 + 24 = 152 in Q16: only the lower clamp can bind.
    let l = 2 * log2_q16(d) as i64 - log2_q16(s) as i64 - log_n as i64
        + (((SCORE_BIAS - FRAC as i32) as i64) << 16);
    l.max(0) as u32
}

/// One sketch per endpoint: the source's and the destination's bursts, scored by the larger of the two.
///
/// For `(agent, tool)` events this flags an agent whose call rate jumps and a tool that is suddenly
/// called far more than usual; on the DARPA 1998 stream it is the most accurate and the cheapest of the
/// scorers here. Memory: `2 · 16 · ROWS · COLS` bytes (2 × 1024 → 64 KiB).
#[derive(Clone, Debug)]
pub struct EndpointScorer<const ROWS: usize, const COLS: usize> {
    src: PairSketch<ROWS, COLS>,
    dst: PairSketch<ROWS, COLS>,
}

impl<const ROWS: usize, const COLS: usize> EndpointScorer<ROWS, COLS> {
    /// An empty scorer with the default policy; the two sketches get independent hashes from `seed`.
    pub const fn new(seed: u64) -> Self {
        Self::with_policy(seed, SketchPolicy::DEFAULT)
    }

    /// An empty scorer with an explicit policy for both sketches.
    pub const fn with_policy(seed: u64, policy: SketchPolicy) -> Self {
        Self {
            src: PairSketch::with_policy(seed ^ SRC_SALT, policy),
            dst: PairSketch::with_policy(seed ^ DST_SALT, policy),
        }
    }

    /// Forgets everything.
    pub fn reset(&mut self) {
        self.src.reset();
        self.dst.reset();
    }

    /// Counts the event `a → b` at `tick`; returns `max(source score, destination score)` (Q16.16).
    #[inline]
    pub fn observe(&mut self, tick: u32, a: u32, b: u32) -> u32 {
        let clock = self.src.clock(tick);
        let s = self.src.observe_with(tick, a, 0, clock);
        let d = self.dst.observe_with(tick, b, 0, clock);
        s.max(d)
    }
}

const SRC_SALT: u64 = 0x5352_435F_5352_435F;
const DST_SALT: u64 = 0x4453_545F_4453_545F;

/// MIDAS-R's relational scorer: a pair sketch for the edge and one sketch per endpoint; the score of an
/// event is the maximum of the three.
///
/// Memory: `3 · 16 · ROWS · COLS` bytes (2 × 1024 → 96 KiB).
#[derive(Clone, Debug)]
pub struct EdgeScorer<const ROWS: usize, const COLS: usize> {
    edge: PairSketch<ROWS, COLS>,
    ends: EndpointScorer<ROWS, COLS>,
}

impl<const ROWS: usize, const COLS: usize> EdgeScorer<ROWS, COLS> {
    /// An empty scorer with the default policy; the three sketches get independent hashes from `seed`.
    pub const fn new(seed: u64) -> Self {
        Self::with_policy(seed, SketchPolicy::DEFAULT)
    }

    /// An empty scorer with an explicit policy for all three sketches.
    pub const fn with_policy(seed: u64, policy: SketchPolicy) -> Self {
        Self { edge: PairSketch::with_policy(seed, policy), ends: EndpointScorer::with_policy(seed, policy) }
    }

    /// Forgets everything.
    pub fn reset(&mut self) {
        self.edge.reset();
        self.ends.reset();
    }

    /// Counts the event `a → b` at `tick` and returns `max(edge, source, destination)` scores (Q16.16).
    #[inline]
    pub fn observe(&mut self, tick: u32, a: u32, b: u32) -> u32 {
        let clock = self.edge.clock(tick);
        let e = self.edge.observe_with(tick, a, b, clock);
        let s = self.ends.src.observe_with(tick, a, 0, clock);
        let d = self.ends.dst.observe_with(tick, b, 0, clock);
        e.max(s).max(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reference `2¹⁶ · log2(x)` by repeated squaring of the mantissa (20 fractional bits, truncated).
    fn log2_ref(x: u64) -> i64 {
        let p = 63 - x.leading_zeros();
        const ONE: u128 = 1 << 62;
        let mut y = ((x as u128) << 62) >> p;
        let mut frac: i64 = 0;
        for _ in 0..20 {
            y = (y * y) >> 62;
            frac <<= 1;
            if y >= 2 * ONE {
                y >>= 1;
                frac |= 1;
            }
        }
        ((p as i64) << 16) + (frac >> 4)
    }

    #[test]
    fn log2_is_mitchell_bounded_exact_at_powers_and_monotone() {
        let mut prev = 0;
        let mut x: u64 = 1;
        while x < u64::MAX / 2 {
            for y in [x, x + x / 3, x + x / 2, x + x / 2 + x / 5] {
                let err = log2_q16(y) as i64 - log2_ref(y);
                // Never above the truth (allowing the reference's truncation), at most 0.0861 below.
                assert!((-5645..=1).contains(&err), "x={y} err={err}");
            }
            let got = log2_q16(x);
            assert!(got >= prev, "not monotone at {x}");
            prev = got;
            x = x + x / 7 + 1;
        }
        for p in 0..64 {
            assert_eq!(log2_q16(1 << p), p << 16);
        }
        assert_eq!(log2_q16(0), 0);
        assert!(log2_q16(u64::MAX) < 64 << 16);
    }

    #[test]
    fn score_and_tick_helpers_saturate() {
        assert_eq!(score_of_log2(0), (SCORE_BIAS as u32) << 16);
        assert_eq!(score_of_log2(-SCORE_BIAS - 1), 0);
        assert_eq!(score_of_log2(i32::MAX), u32::MAX);
        assert_eq!(tick_of(120_000_000, 60_000_000), 2);
        assert_eq!(tick_of(5, 0), 5);
        assert_eq!(tick_of(u64::MAX, 1), u32::MAX);
    }

    /// Steady traffic (every host talks to its neighbour twice a minute), then a flood 3 → 4.
    fn background_then_burst(mut observe: impl FnMut(u32, u32, u32) -> u32) -> (u32, u32, u32) {
        let mut background_max = 0;
        for tick in 1..=200u32 {
            for host in 0..20u32 {
                for _ in 0..2 {
                    let score = observe(tick, host, (host + 1) % 20);
                    if tick > 20 {
                        background_max = background_max.max(score);
                    }
                }
            }
        }
        let (mut burst_min, mut last) = (u32::MAX, 0);
        for i in 0..500u32 {
            last = observe(201, 3, 4);
            if i >= 10 {
                burst_min = burst_min.min(last);
            }
        }
        (background_max, burst_min, last)
    }

    #[test]
    fn burst_scores_above_background() {
        let mut e = EdgeScorer::<2, 1024>::new(7);
        let (bg, burst, _) = background_then_burst(|t, a, b| e.observe(t, a, b));
        assert!(burst > bg, "edge scorer: burst {burst} vs background {bg}");
        let mut n = EndpointScorer::<2, 256>::new(7);
        let (bg, burst, _) = background_then_burst(|t, a, b| n.observe(t, a, b));
        assert!(burst > bg, "endpoint scorer: burst {burst} vs background {bg}");
        let mut p = PairSketch::<1, 64>::new(7);
        let (bg, burst, last) = background_then_burst(|t, a, b| p.observe(t, a, b));
        assert!(burst > bg, "pair sketch: burst {burst} vs background {bg}");
        // 500 events where ~2 are usual: χ² far above the filter threshold 2¹⁰.
        assert!(last > score_of_log2(10), "{last}");
    }

    #[test]
    fn ongoing_attack_stays_anomalous_with_filtering() {
        let mut filtered = PairSketch::<2, 256>::new(1);
        let mut plain = PairSketch::<2, 256>::with_policy(1, SketchPolicy::UNFILTERED);
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
        // After an hour of flooding the unfiltered baseline has learnt the flood; the filtered one not.
        assert!(f > p + (4 << 16), "filtered {f} plain {p}");
        assert!(f > score_of_log2(10));
    }

    #[test]
    fn history_counts_from_the_first_tick_whatever_the_origin() {
        // The same stream at ticks 1.. and at ticks 28,000,000.. (minutes since 1970) scores alike.
        let mut early = EndpointScorer::<2, 128>::new(5);
        let mut late = EndpointScorer::<2, 128>::new(5);
        let mut anomalous = 0;
        for t in 0..300u32 {
            let burst = if t == 250 { 300 } else { 0 };
            for i in 0..(10 + burst) {
                let (a, b) = (if burst > 0 { 3 } else { i % 10 }, i % 7);
                let x = early.observe(1 + t, a, b);
                assert_eq!(x, late.observe(28_000_000 + t, a, b));
                anomalous += (x > score_of_log2(10)) as u32;
            }
        }
        // And the burst does stand out.
        assert!(anomalous > 200, "{anomalous}");
    }

    #[test]
    fn novelty_floor_scores_first_sightings() {
        let mut quiet = PairSketch::<2, 64>::new(3);
        let mut novel =
            PairSketch::<2, 64>::with_policy(3, SketchPolicy { novelty_floor: 1, ..SketchPolicy::DEFAULT });
        // Some history for other keys, then a first sighting of (4, 5) much later.
        for t in 1..=3 {
            quiet.observe(t, 1, 1);
            novel.observe(t, 1, 1);
        }
        assert_eq!(quiet.observe(500, 4, 5), 0);
        assert!(novel.observe(500, 4, 5) > score_of_log2(5));
    }

    #[test]
    fn extreme_inputs_saturate_without_panic() {
        // A single bucket flooded far beyond u32 counts within one tick, then ticks that jump and go back.
        let mut p = PairSketch::<1, 1>::new(3);
        p.observe(1, 0, 0);
        let mut prev = 0;
        for _ in 0..(1u32 << 24) + 10 {
            let sc = p.observe(2, 1, 1);
            assert!(sc >= prev, "score fell during a flood: {sc} < {prev}");
            prev = sc;
        }
        assert!(prev > 0);
        for tick in [u32::MAX, 0, 7, u32::MAX - 1, 3] {
            let _ = p.observe(tick, 9, 9);
        }
        let mut e = EdgeScorer::<2, 64>::new(0);
        for i in 0..10_000u32 {
            let _ = e.observe(i / 10, i, u32::MAX - i);
        }
        // Degenerate geometries are accepted.
        assert_eq!(PairSketch::<0, 16>::new(1).observe(9, 1, 2), 0);
        assert_eq!(PairSketch::<2, 0>::new(1).observe(9, 1, 2), 0);
    }

    /// Naive eager model of one bucket (every key in the same bucket): decays and closes ticks one at a
    /// time, as MIDAS-F sweeps its sketches, instead of lazily.
    struct Eager {
        start: Option<u32>,
        tick: u32,
        cur: u64,
        total: u64,
        touched: bool,
        flagged: bool,
        policy: SketchPolicy,
    }

    impl Eager {
        fn observe(&mut self, tick: u32) -> u32 {
            while self.tick < tick {
                if self.touched && !self.flagged {
                    self.total += self.cur;
                }
                self.cur >>= self.policy.decay_shift;
                self.tick += 1;
                self.touched = false;
                self.flagged = false;
            }
            self.touched = true;
            self.cur = (self.cur + 256).min(u32::MAX as u64);
            let n = (tick - *self.start.get_or_insert(tick)) as i64;
            let s = self.total.max(self.policy.novelty_floor as u64 * 256);
            let score = if n <= 0 || s == 0 {
                0
            } else {
                let d = (self.cur as i128 * n as i128 - s as i128).unsigned_abs() as u64;
                (2 * log2_q16(d) as i64 - log2_q16(s) as i64 - log2_q16(n as u64) as i64
                    + ((SCORE_BIAS as i64 - 8) << 16))
                    .clamp(0, u32::MAX as i64) as u32
            };
            self.flagged |= score >= self.policy.filter_threshold;
            score
        }
    }

    proptest! {
        #[test]
        fn lazy_bucket_matches_eager_model(
            steps in proptest::collection::vec((0u32..4, 1u32..6), 1..300),
            threshold in 30i32..50,
            decay_shift in 1u8..3,
        ) {
            let policy = SketchPolicy {
                decay_shift,
                filter_threshold: score_of_log2(threshold - SCORE_BIAS),
                novelty_floor: 0,
            };
            let mut lazy = PairSketch::<1, 1>::with_policy(11, policy);
            let mut eager = Eager { start: None, tick: 1, cur: 0, total: 0, touched: false, flagged: false, policy };
            let mut tick = 1;
            for (gap, burst) in steps {
                tick += gap;
                for k in 0..burst {
                    prop_assert_eq!(lazy.observe(tick, k, 0), eager.observe(tick));
                }
            }
        }
    }
}
