//! CRC-32/ISO-HDLC (zlib's `crc32`) and the two descriptor checksums.
//!
//! The descriptor checksum is the low 16 bits of CRC-32/ISO-HDLC over bytes `0..22` (spec and registry
//! layouts) or the byte sum of the same bytes modulo 65536 (knowledge-base layout).
//!
//! Because the checksummed span has a fixed length and CRC is affine over GF(2), the CRC of a 22-byte
//! message is a constant XOR-ed with one table entry per byte position: `crc(m) = C ^ T[0][m0] ^ ... ^
//! T[21][m21]`, where `T[i][b]` is the contribution of byte `b` at position `i` (followed by `21 - i`
//! zero bytes). That is slice-by-N with N equal to the whole message: no serial dependency between bytes,
//! 22 independent table loads and an XOR tree. Only the low 16 bits are ever compared, so the tables store
//! `u16` (11 KiB, const-generated). The first six bytes (magic and version) are fixed once the header has
//! been checked; [`descriptor_crc16_after_header`] folds them into the constant and uses 16 tables (8 KiB).
//!
//! [`crc32`] (the general byte-at-a-time table version) and [`crc32_bitwise`] (the naive reference,
//! used as the test oracle) are kept for tools and tests.

/// Number of checksummed bytes at the start of a descriptor.
pub const CHECKED_LEN: usize = 22;

/// Reflected CRC-32/ISO-HDLC polynomial.
const POLY: u32 = 0xedb8_8320;

/// The classic byte-at-a-time table for the reflected polynomial.
const TABLE0: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// `POS[i][b]`: low 16 bits of the raw register contribution of byte `b` at position `i` of a 22-byte
/// message (i.e. `b` followed by `21 - i` zero bytes, starting from a zero register).
static POS: [[u16; 256]; CHECKED_LEN] = {
    // `shift[k][b]`: register after byte b then k zero bytes, from register 0 (full 32 bits needed to
    // build the next one).
    let mut out = [[0u16; 256]; CHECKED_LEN];
    let mut cur = TABLE0; // k = 0
    let mut k = 0;
    while k < CHECKED_LEN {
        let mut b = 0;
        while b < 256 {
            out[CHECKED_LEN - 1 - k][b] = cur[b] as u16;
            b += 1;
        }
        let mut next = [0u32; 256];
        let mut b = 0;
        while b < 256 {
            let c = cur[b];
            next[b] = (c >> 8) ^ TABLE0[(c & 0xff) as usize];
            b += 1;
        }
        cur = next;
        k += 1;
    }
    out
};

/// CRC-32/ISO-HDLC, bit by bit. The reference implementation: slow, obviously correct, a test oracle.
pub const fn crc32_bitwise(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    let mut i = 0;
    while i < data.len() {
        crc ^= data[i] as u32;
        let mut k = 0;
        while k < 8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ POLY } else { crc >> 1 };
            k += 1;
        }
        i += 1;
    }
    !crc
}

/// CRC-32/ISO-HDLC (zlib's `crc32`) of any byte string, table-driven one byte at a time.
///
/// ```
/// assert_eq!(tcap_core::wire::crc32(b"123456789"), 0xcbf4_3926);
/// ```
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc = (crc >> 8) ^ TABLE0[((crc ^ b as u32) & 0xff) as usize];
    }
    !crc
}

/// Low 16 bits of `crc32(&[0; 22])`: the constant term of the position-table formula.
const ZERO_CRC16: u16 = crc32_bitwise(&[0u8; CHECKED_LEN]) as u16;

/// Low 16 bits of the CRC of the fixed header `TCP\x02 00 02` followed by 16 zero bytes.
const HEADER_CRC16: u16 = {
    let mut m = [0u8; CHECKED_LEN];
    let h = super::descriptor::HEADER;
    let mut i = 0;
    while i < h.len() {
        m[i] = h[i];
        i += 1;
    }
    crc32_bitwise(&m) as u16
};

/// Low 16 bits of CRC-32/ISO-HDLC over the first 22 bytes of `d`: the spec/registry descriptor
/// checksum. Slice-by-22 over 16-bit tables.
#[inline]
pub fn descriptor_crc16(d: &[u8; 24]) -> u16 {
    let mut acc = ZERO_CRC16;
    let mut i = 0;
    while i < CHECKED_LEN {
        acc ^= POS[i][d[i] as usize];
        i += 1;
    }
    acc
}

/// [`descriptor_crc16`] for a descriptor whose first six bytes are known to be the header
/// `54 43 50 02 00 02`: those bytes are folded into the constant, leaving 16 table loads.
///
/// The result is only meaningful when the header really is that; callers check it first.
#[inline]
pub fn descriptor_crc16_after_header(d: &[u8; 24]) -> u16 {
    // Two accumulators halve the XOR chain; the 16 loads are independent either way.
    let (mut a, mut b) = (HEADER_CRC16, 0u16);
    let mut i = 6;
    while i < CHECKED_LEN {
        a ^= POS[i][d[i] as usize];
        b ^= POS[i + 1][d[i + 1] as usize];
        i += 2;
    }
    a ^ b
}

/// The knowledge-base checksum: the sum of the first 22 bytes of `d`, modulo 65536.
///
/// SWAR: three 8-byte words, bytes paired into four 16-bit lanes (each lane at most 3 * 510), then
/// the lanes summed by one multiplication (the total, at most 5,610, cannot carry across lanes).
#[inline]
pub fn descriptor_byte_sum(d: &[u8; 24]) -> u16 {
    const LO: u64 = 0x00ff_00ff_00ff_00ff;
    let w = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&d[i..i + 8]);
        u64::from_le_bytes(b)
    };
    let lanes = |x: u64| (x & LO) + ((x >> 8) & LO);
    // Bytes 22 and 23 (the checksum itself) are the top 16 bits of the third word: masked off.
    let s = lanes(w(0)) + lanes(w(8)) + lanes(w(16) & 0x0000_ffff_ffff_ffff);
    (s.wrapping_mul(0x0001_0001_0001_0001) >> 48) as u16
}

/// Sum of the header bytes `54 43 50 02 00 02`.
const HEADER_SUM: u16 = {
    let h = super::descriptor::HEADER;
    let mut s = 0u16;
    let mut i = 0;
    while i < h.len() {
        s += h[i] as u16;
        i += 1;
    }
    s
};

/// [`descriptor_byte_sum`] for a descriptor whose first six bytes are known to be the header: the
/// header's sum is a constant, leaving bytes 6..22, two 8-byte words.
#[inline]
pub fn descriptor_byte_sum_after_header(d: &[u8; 24]) -> u16 {
    const LO: u64 = 0x00ff_00ff_00ff_00ff;
    let w = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&d[i..i + 8]); // constant in-range bounds: one 8-byte load
        u64::from_le_bytes(b)
    };
    let (a, b) = (w(6), w(14));
    // Four 16-bit lanes, each at most 4 * 255: no carries between lanes.
    let s = (a & LO) + ((a >> 8) & LO) + (b & LO) + ((b >> 8) & LO);
    ((s.wrapping_mul(0x0001_0001_0001_0001) >> 48) as u16).wrapping_add(HEADER_SUM)
}

/// The reference byte sum (test oracle for [`descriptor_byte_sum`]).
#[cfg(test)]
fn byte_sum_naive(d: &[u8; 24]) -> u16 {
    d[..CHECKED_LEN].iter().fold(0u16, |s, &b| s.wrapping_add(b as u16))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn check_value() {
        assert_eq!(crc32_bitwise(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32_bitwise(b""), 0);
    }

    #[test]
    fn real_spec_rm() {
        // Spec-layout rm: stored checksum ef04.
        let d: [u8; 24] = [
            0x54, 0x43, 0x50, 0x02, 0x00, 0x02, 0xd6, 0x7f, 0x24, 0x9b, 0x00, 0x00, 0x06, 0xd0, 0x27, 0x10,
            0x03, 0xe8, 0x00, 0x32, 0x00, 0x02, 0xef, 0x04,
        ];
        assert_eq!(descriptor_crc16(&d), 0xef04);
        assert_eq!(descriptor_crc16_after_header(&d), 0xef04);
        assert_eq!(crc32_bitwise(&d[..22]) as u16, 0xef04);
    }

    proptest! {
        #[test]
        fn table_matches_bitwise(data in proptest::collection::vec(any::<u8>(), 0..100)) {
            prop_assert_eq!(crc32(&data), crc32_bitwise(&data));
        }

        #[test]
        fn position_tables_match_bitwise(d in any::<[u8; 24]>()) {
            let want = crc32_bitwise(&d[..22]) as u16;
            prop_assert_eq!(descriptor_crc16(&d), want);
            let mut h = d;
            h[..6].copy_from_slice(&super::super::descriptor::HEADER);
            prop_assert_eq!(descriptor_crc16_after_header(&h), crc32_bitwise(&h[..22]) as u16);
            prop_assert_eq!(descriptor_byte_sum(&d), byte_sum_naive(&d));
            let mut h = d;
            h[..6].copy_from_slice(&super::super::descriptor::HEADER);
            prop_assert_eq!(descriptor_byte_sum_after_header(&h), byte_sum_naive(&h));
            prop_assert_eq!(byte_sum_naive(&[0xff; 24]), 22 * 255);
            prop_assert_eq!(descriptor_byte_sum(&[0xff; 24]), 22 * 255);
            let mut h = [0xff; 24];
            h[..6].copy_from_slice(&super::super::descriptor::HEADER);
            prop_assert_eq!(descriptor_byte_sum_after_header(&h), byte_sum_naive(&h));
        }
    }
}
