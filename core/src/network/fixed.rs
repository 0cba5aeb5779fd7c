//! Fixed-point arithmetic of the network module: Q16 trust and anomaly levels, the trust EWMA and the
//! route cost of an edge. Integers only, so every result is bit-exact on every target.

/// A fraction in Q16 (`u32`): `0` is 0.0 and [`ONE_Q16`] (`65_536`) is 1.0. Inputs above 1.0 are clamped.
pub type Q16 = u32;

/// 1.0 in [`Q16`].
pub const ONE_Q16: Q16 = 1 << 16;

/// 0.5 in [`Q16`]: observations below it are halved before they enter the trust EWMA (upstream rule).
pub const HALF_Q16: Q16 = ONE_Q16 / 2;

/// Converts a ratio `num / den` (with `num <= den`, `den > 0`) to [`Q16`], rounding to nearest.
/// Returns 0 when `den` is 0 and clamps at 1.0.
pub const fn q16_ratio(num: u32, den: u32) -> Q16 {
    if den == 0 {
        return 0;
    }
    let v = ((num as u64) * (ONE_Q16 as u64) + (den as u64) / 2) / (den as u64);
    if v > ONE_Q16 as u64 { ONE_Q16 } else { v as Q16 }
}

/// One step of the trust EWMA: `t ← (1 − α)·t + α·a'` where `a' = a/2` if `a < 0.5` else `a`, all in Q16,
/// rounded to nearest (half up). With `t, a ≤ 1.0` and `α ≤ 1.0` the result never exceeds 1.0, because the
/// two weights sum to exactly `2^16`.
pub const fn trust_ewma(trust: Q16, observation: Q16, alpha: Q16) -> Q16 {
    let t = if trust > ONE_Q16 { ONE_Q16 } else { trust } as u64;
    let mut a = if observation > ONE_Q16 { ONE_Q16 } else { observation };
    if a < HALF_Q16 {
        a >>= 1;
    }
    let alpha = if alpha > ONE_Q16 { ONE_Q16 } else { alpha } as u64;
    let v = (t * (ONE_Q16 as u64 - alpha) + (a as u64) * alpha + (1 << 15)) >> 16;
    v as Q16
}

/// Trust levels that map to distinct costs: trust is quantised to sixteenths.
pub const TRUST_LEVELS: u32 = 16;

/// The route cost of an edge of base `weight` and `trust`: `weight × (17 − ⌊16·trust⌋)`, so a fully
/// trusted edge costs its weight and an edge with trust below 1/16 costs 17 times it. Quantising trust
/// to sixteenths keeps small EWMA moves from touching the route table at all.
pub const fn edge_cost(weight: u16, trust: Q16) -> u32 {
    let t = if trust > ONE_Q16 { ONE_Q16 } else { trust };
    let level = t >> 12; // 0..=16
    (weight as u32) * (TRUST_LEVELS + 1 - level)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ewma_matches_upstream_rule_in_fixed_point() {
        let alpha = q16_ratio(1, 10);
        assert_eq!(alpha, 6554);
        // 0.9·1.0 + 0.1·1.0 = 1.0 exactly: weights sum to 2^16.
        assert_eq!(trust_ewma(ONE_Q16, ONE_Q16, alpha), ONE_Q16);
        // An observation of 0.2 is halved to 0.1: 0.9·1 + 0.1·0.1 = 0.91.
        let got = trust_ewma(ONE_Q16, q16_ratio(2, 10), alpha);
        let want = q16_ratio(91, 100);
        assert!(got.abs_diff(want) <= 1, "{got} vs {want}");
        // 0.5 is not halved: 0.9·0 + 0.1·0.5 = 0.05.
        let got = trust_ewma(0, HALF_Q16, alpha);
        assert!(got.abs_diff(q16_ratio(5, 100)) <= 1);
        // Inputs above 1.0 are clamped.
        assert_eq!(trust_ewma(u32::MAX, u32::MAX, u32::MAX), ONE_Q16);
    }

    #[test]
    fn ewma_stays_in_range_and_is_monotone_in_the_observation() {
        let alpha = q16_ratio(1, 10);
        for t in (0..=ONE_Q16).step_by(257) {
            let mut prev = 0;
            for a in (HALF_Q16..=ONE_Q16).step_by(263) {
                let v = trust_ewma(t, a, alpha);
                assert!(v <= ONE_Q16);
                assert!(v >= prev);
                prev = v;
            }
        }
    }

    #[test]
    fn cost_is_weight_times_distrust_level() {
        assert_eq!(edge_cost(3, ONE_Q16), 3);
        assert_eq!(edge_cost(3, 0), 51);
        assert_eq!(edge_cost(1, HALF_Q16), 9);
        assert_eq!(edge_cost(1, HALF_Q16 - 1), 10);
        assert_eq!(edge_cost(7, u32::MAX), 7);
    }
}
