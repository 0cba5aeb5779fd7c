//! The unit tests' pseudo-random numbers: Marsaglia's xorshift64 (13, 7, 17), deterministic from a seed.

/// The next value of the xorshift64 sequence in `s` (which must not be 0).
pub(crate) fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}
