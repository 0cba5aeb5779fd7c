//! Integer fixed-point helpers shared by the behaviour engine and the gate.
//!
//! Formats used in tcap's behaviour code (see docs/SCORING.md):
//! * `Q16.16` (`i32`/`u32`): log-odds, evidence and scores; `ONE = 65536` is 1.0 bit of log-odds.
//! * `Q0.16` (`u16`): probabilities, `65535` ≈ 1.0.
//! * `Q8.8` (`u16`): base-2 logarithms of inter-arrival times in microseconds (0 ..= 63.996).
//!
//! Everything here is branch-free in its data (shifts, multiplies, masks), total (no panics, no
//! overflow for any input) and bit-exact on every target.

/// 1.0 in Q16.16.
pub const ONE: i32 = 1 << 16;

/// `log2(v)` in Q16.16 for `v >= 1`; `log2(0)` is defined as 0 (callers floor their inputs).
///
/// The integer part is the bit length minus one; the fraction `f` of the normalised mantissa is refined
/// with `log2(1 + f) ≈ f + c·f·(1 − f)`, `c = 0.3466` (maximum absolute error 0.0075 bits), so the
/// function is monotone non-decreasing and uses no table.
#[inline(always)]
pub const fn log2_q16(v: u32) -> i32 {
    // `v | 1` has the same leading one as `v` for `v >= 1`; for `v = 0` it gives lz = 31, int = 0 and
    // a zero fraction below, i.e. 0 — the value `log2_q16(1)`, bit for bit what the former
    // `v | (v == 0)` normalisation gave, in one instruction instead of four (no branch either way).
    let lz = (v | 1).leading_zeros();
    let int = 31 - lz as i32;
    // Normalise so the leading one is bit 31, then take the next 16 bits as the fraction f in Q0.16.
    let f = (v << lz >> 15) & 0xffff;
    // f·(1 − f) in Q0.16 (at most 0.25 → 16384), times c = 22713 / 65536.
    let corr = (((f * (65536 - f)) >> 16) * 22713) >> 16;
    (int << 16) + (f + corr) as i32
}

/// `log2_q16(a) − log2_q16(b)`, the same value for every input, with the integer parts subtracted
/// as leading-zero counts (`(31 − lz_a) − (31 − lz_b) = lz_b − lz_a`) instead of rebuilt from them.
#[inline(always)]
pub const fn log2_ratio_q16(a: u32, b: u32) -> i32 {
    let (la, lb) = ((a | 1).leading_zeros(), (b | 1).leading_zeros());
    let (fa, fb) = ((a << la >> 15) & 0xffff, (b << lb >> 15) & 0xffff);
    let ca = (((fa * (65536 - fa)) >> 16) * 22713) >> 16;
    let cb = (((fb * (65536 - fb)) >> 16) * 22713) >> 16;
    ((lb as i32 - la as i32) << 16) + (fa + ca) as i32 - (fb + cb) as i32
}

/// `log2(v)` in Q8.8 (`u16`) for a 64-bit `v`; `0` and `1` give 0. Used for inter-arrival times.
#[inline(always)]
pub const fn log2_q8_u64(v: u64) -> u16 {
    let v = v | (v == 0) as u64;
    let lz = v.leading_zeros();
    let int = 63 - lz;
    let f = ((v << lz) >> 55) as u32 & 0xff;
    ((int << 8) | f) as u16
}

/// Bit length of `v` (0 for 0): `v < 2^bitlen(v)`.
#[inline(always)]
pub const fn bitlen(v: u32) -> u32 {
    32 - v.leading_zeros()
}

/// All ones if `c`, else zero, behind an optimisation barrier (`black_box`): without it LLVM turns
/// `x & mask32(a == b)` in the constant-time scans back into a branch on the secret comparison (found
/// by `benches/examples/dudect.rs` in `SliceLookup::by_id_ct`; see docs/RELIABILITY.md).
#[inline(always)]
pub const fn mask32(c: bool) -> u32 {
    core::hint::black_box(0u32.wrapping_sub(c as u32))
}

/// [`mask32`] for `u64`.
#[inline(always)]
pub const fn mask64(c: bool) -> u64 {
    core::hint::black_box(0u64.wrapping_sub(c as u64))
}

/// `if c { a } else { b }` without a branch on `c` (for the constant-time paths).
#[inline(always)]
pub const fn sel_i32(c: bool, a: i32, b: i32) -> i32 {
    let m = mask32(c) as i32;
    (a & m) | (b & !m)
}

/// `if c { a } else { b }` without a branch on `c`.
#[inline(always)]
pub const fn sel_u32(c: bool, a: u32, b: u32) -> u32 {
    let m = mask32(c);
    (a & m) | (b & !m)
}

/// `if c { a } else { b }` without a branch on `c`.
#[inline(always)]
pub const fn sel_u64(c: bool, a: u64, b: u64) -> u64 {
    let m = mask64(c);
    (a & m) | (b & !m)
}

/// Clamps `v` into `[lo, hi]` (requires `lo <= hi`; if not, returns `hi` for large `v` and `lo` for small,
/// never panics).
#[inline(always)]
pub const fn clamp_i32(v: i32, lo: i32, hi: i32) -> i32 {
    let v = sel_i32(v < lo, lo, v);
    sel_i32(v > hi, hi, v)
}

/// One step of an exponentially weighted moving average of `u16` values with weight `2^-shift`:
/// `m + (x − m) / 2^shift`, rounding towards the target's side so that a constant input is reached
/// exactly. The result always lies between `m` and `x`, so it cannot leave the `u16` range.
#[inline(always)]
pub const fn ewma_u16(m: u16, x: u16, shift: u32) -> u16 {
    let d = x as i32 - m as i32;
    // Arithmetic shift floors; add (2^shift − 1) for positive steps so both directions converge exactly.
    let bias = sel_i32(d > 0, (1i32 << (shift & 15)) - 1, 0);
    (m as i32 + ((d + bias) >> (shift & 15))) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_exact_powers_and_bounded_error() {
        for k in 0..32 {
            assert_eq!(log2_q16(1u32 << k), k << 16);
        }
        assert_eq!(log2_q16(0), 0);
        // Compare against a reference computed with integer bisection on v^(2^16) would be heavy; instead
        // check the known error bound on a grid using the identity log2(a·b) = log2 a + log2 b on
        // exact powers of two and monotonicity everywhere sampled.
        let mut prev = i32::MIN;
        let mut v = 1u32;
        while v < u32::MAX / 3 {
            let l = log2_q16(v);
            assert!(l >= prev, "log2 not monotone at {v}");
            prev = l;
            // log2(2v) = log2(v) + 1 exactly for this mantissa-based approximation (v < 2^31).
            assert_eq!(log2_q16(2 * v), l + ONE);
            v = v + v / 7 + 1;
        }
        // Known values in Q16 (round(log2(v)·65536)): log2(3) = 1.58496, log2(10) = 3.32193,
        // log2(10⁶) = 19.93157, log2(46341) = 15.50002; allowed error 0.0075 bits = 491 in Q16.
        let err = |v: u32, truth_q16: i64| (i64::from(log2_q16(v)) - truth_q16).abs();
        assert!(err(3, 103872) < 491);
        assert!(err(10, 217706) < 491);
        assert!(err(1_000_000, 1306235) < 491);
        assert!(err(46341, 1015808) < 491);
    }

    #[test]
    fn log2_ratio_is_the_difference_of_the_logarithms() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let edges = [0u32, 1, 2, 3, 0xffff, 0x1_0000, 0x7fff_ffff, 0x8000_0000, u32::MAX];
        for &a in &edges {
            for &b in &edges {
                assert_eq!(log2_ratio_q16(a, b), log2_q16(a) - log2_q16(b), "{a} {b}");
            }
        }
        for _ in 0..if cfg!(miri) { 1_000 } else { 1_000_000 } {
            let x = crate::test_rng::xorshift(&mut x);
            // Random magnitudes too, not only 32-bit-wide values.
            let (a, b) = ((x as u32) >> (x >> 32 & 31), ((x >> 32) as u32) >> (x & 31));
            assert_eq!(log2_ratio_q16(a, b), log2_q16(a) - log2_q16(b), "{a} {b}");
        }
    }

    #[test]
    fn log2_q8_u64_values() {
        assert_eq!(log2_q8_u64(0), 0);
        assert_eq!(log2_q8_u64(1), 0);
        assert_eq!(log2_q8_u64(1 << 20), 20 << 8);
        assert_eq!(log2_q8_u64(u64::MAX), (63 << 8) | 0xff);
        assert_eq!(log2_q8_u64(3 << 10), (11 << 8) | 0x80);
    }

    #[test]
    fn ewma_reaches_targets_and_stays_in_range() {
        for shift in 0..12 {
            let mut m = 0u16;
            for _ in 0..200_000 {
                m = ewma_u16(m, u16::MAX, shift);
                if m == u16::MAX {
                    break;
                }
            }
            assert_eq!(m, u16::MAX, "shift {shift} never reached the target from below");
            for _ in 0..200_000 {
                m = ewma_u16(m, 0, shift);
                if m == 0 {
                    break;
                }
            }
            assert_eq!(m, 0, "shift {shift} never reached the target from above");
        }
    }

    #[test]
    fn selects_and_clamps() {
        assert_eq!(sel_i32(true, -3, 9), -3);
        assert_eq!(sel_i32(false, -3, 9), 9);
        assert_eq!(sel_u64(true, u64::MAX, 1), u64::MAX);
        assert_eq!(clamp_i32(i32::MIN, -5, 5), -5);
        assert_eq!(clamp_i32(i32::MAX, -5, 5), 5);
        assert_eq!(clamp_i32(2, -5, 5), 2);
        assert_eq!(bitlen(0), 0);
        assert_eq!(bitlen(1), 1);
        assert_eq!(bitlen(u32::MAX), 32);
    }
}
