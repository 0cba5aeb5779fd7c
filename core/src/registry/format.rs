//! The registry image format: layout constants, the CRC-32C checksum, the two table hashes, the raw
//! lookups and the full validator.
//!
//! This file is self-contained (it depends only on `core` and the `md5` crate) so that `core/build.rs`
//! can include it with `#[path]` and validate the built-in image at build time with exactly the code the
//! library runs. The layout is documented byte by byte in `docs/FORMAT.md §5`.
//!
//! Every read goes through `slice::get`, so no function here can panic on any input; the validator
//! establishes the invariants under which the lookups also give the right answer.

use core::fmt;

/// Magic bytes at offset 0 of every image.
pub const MAGIC: [u8; 8] = *b"TCAPREG\0";
/// Format version written by this code; loading any other version is refused.
pub const VERSION: u16 = 2;
/// Size of the header in bytes (two cache lines).
pub const HEADER_LEN: usize = 128;
/// Size of one bucket of either table (one cache line).
pub const BUCKET_LEN: usize = 64;
/// Slots per id bucket.
pub const ID_SLOTS: usize = 6;

/// How densely the builder fills the id table: image size against lookup speed. Both are the same
/// format (the header records the table's size) and every reader reads both; lookups give the same
/// answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Density {
    /// 3 entries per 6-slot bucket (load 0.5): 0.5 % of the built-in ids live outside their home bucket, so
    /// a lookup is one bucket and one well-predicted branch. 64 bytes of id table per 3 entries.
    #[default]
    Fast,
    /// 4.8 entries per bucket (load 0.8): an id table 38 % smaller, but about 12 % of ids overflow
    /// their home bucket and each lookup of one costs a mispredicted branch. For flash-constrained
    /// builds (the firmware's built-in image).
    Compact,
}

impl Density {
    /// Home buckets for `n` entries.
    pub const fn home_buckets(self, n: usize) -> usize {
        let h = match self {
            Density::Fast => n.div_ceil(ID_SLOTS / 2),
            Density::Compact => (n * 5).div_ceil(ID_SLOTS * 4),
        };
        if h == 0 { 1 } else { h }
    }
}
/// Slots per name bucket.
pub const NAME_SLOTS: usize = 10;
/// Fixed part of a record before the name bytes.
pub const RECORD_FIXED: usize = 18;
/// Longest name an image can hold, in bytes (Linux's `PATH_MAX`: a command name is a path or a few
/// words). It keeps the records of an id bucket's first five slots within 65,535 bytes, so a bucket can
/// locate them with 16-bit offsets.
pub const MAX_NAME_LEN: usize = 4096;

/// Header field offsets.
pub mod hdr {
    /// `[u8; 8]` magic.
    pub const MAGIC: usize = 0;
    /// `u16` format version.
    pub const VERSION: usize = 8;
    /// `u16` header length (128).
    pub const HEADER_LEN: usize = 10;
    /// `u32` reserved flags, must be 0.
    pub const FLAGS: usize = 12;
    /// `u32` total image length in bytes.
    pub const TOTAL_LEN: usize = 16;
    /// `u32` number of entries.
    pub const COUNT: usize = 20;
    /// `u32` most whitespace-separated words in any name.
    pub const MAX_WORDS: usize = 24;
    /// `u32` CRC-32C of the whole image with this field read as zero.
    pub const CHECKSUM: usize = 28;
    /// `u32` odd multiplier of the id hash.
    pub const ID_MULT: usize = 32;
    /// `u32` number of home buckets of the id table.
    pub const ID_HOME: usize = 36;
    /// `u32` total buckets of the id table (home + overflow tail).
    pub const ID_BUCKETS: usize = 40;
    /// `u32` most buckets past its home any id lies.
    pub const ID_MAX_PROBE: usize = 44;
    /// `u64` seed of the name hash.
    pub const NAME_SEED: usize = 48;
    /// `u32` number of home buckets of the name table.
    pub const NAME_HOME: usize = 56;
    /// `u32` total buckets of the name table.
    pub const NAME_BUCKETS: usize = 60;
    /// `u32` most buckets past its home any name lies.
    pub const NAME_MAX_PROBE: usize = 64;
    /// `u32` byte offset of the id table.
    pub const ID_OFF: usize = 68;
    /// `u32` byte length of the id table.
    pub const ID_LEN: usize = 72;
    /// `u32` byte offset of the name table.
    pub const NAME_OFF: usize = 76;
    /// `u32` byte length of the name table.
    pub const NAME_LEN: usize = 80;
    /// `u32` byte offset of the record heap.
    pub const REC_OFF: usize = 84;
    /// `u32` byte length of the record heap.
    pub const REC_LEN: usize = 88;
    /// First reserved byte; bytes `RESERVED..HEADER_LEN` must be zero.
    pub const RESERVED: usize = 92;
}

/// Id bucket field offsets: `keys[6]`, `flags[6]` (all `u32`), the offset of the bucket's first record
/// (`u32`), the offsets of slots 1..6's records from it (`u16`), then the occupancy byte.
pub mod idb {
    /// `u32` keys (command ids), slot `j` at `KEYS + 4 * j`.
    pub const KEYS: usize = 0;
    /// `u32` canonical flags, slot `j` at `FLAGS + 4 * j`.
    pub const FLAGS: usize = 24;
    /// `u32` offset (relative to the record heap) of slot 0's record; the records of slots `1..count`
    /// follow it in slot order. Equal to the total length of the records of all earlier buckets.
    pub const REC: usize = 48;
    /// `u16` offset of slot `j`'s record from slot 0's, `1 <= j < 6`, at `OFFS + 2 * (j - 1)` (0 for
    /// an unused slot): slot `j`'s record starts at `rec + offs[j - 1]` in the record heap.
    pub const OFFS: usize = 52;
    /// `u8` number of occupied slots (filled from slot 0); the byte after it is zero.
    pub const COUNT: usize = 62;
}

/// Name bucket field offsets: `fps[10]` (`u16`), `recs[10]` (`u32`), then the occupancy byte.
pub mod nmb {
    /// `u16` fingerprints (low 16 bits of the name hash), slot `j` at `FPS + 2 * j`.
    pub const FPS: usize = 0;
    /// `u32` record offsets, slot `j` at `RECS + 4 * j`.
    pub const RECS: usize = 20;
    /// `u8` number of occupied slots; bytes after it are zero.
    pub const COUNT: usize = 60;
}

/// Record field offsets (relative to the record's start in the heap).
pub mod rec {
    /// `u32` command id.
    pub const ID: usize = 0;
    /// `u32` canonical flags.
    pub const FLAGS: usize = 4;
    /// `u32` typical execution time, ms.
    pub const EXEC_MS: usize = 8;
    /// `u16` typical memory, MB.
    pub const MEMORY_MB: usize = 12;
    /// `u16` typical output, KB.
    pub const OUTPUT_KB: usize = 14;
    /// `u16` name length.
    pub const NAME_LEN: usize = 16;
    /// Name bytes.
    pub const NAME: usize = 18;
}

const _: () = assert!(idb::FLAGS == idb::KEYS + 4 * ID_SLOTS && idb::REC == idb::FLAGS + 4 * ID_SLOTS);
const _: () = assert!(idb::OFFS == idb::REC + 4 && idb::COUNT == idb::OFFS + 2 * (ID_SLOTS - 1));
// Five records of at most `RECORD_FIXED + MAX_NAME_LEN` bytes: slot 5's offset fits in a `u16`.
const _: () = assert!((ID_SLOTS - 1) * (RECORD_FIXED + MAX_NAME_LEN) <= u16::MAX as usize);
const _: () = assert!(idb::COUNT < BUCKET_LEN);
const _: () = assert!(nmb::RECS == nmb::FPS + 2 * NAME_SLOTS && nmb::COUNT == nmb::RECS + 4 * NAME_SLOTS);
const _: () = assert!(nmb::COUNT < BUCKET_LEN);
const _: () = assert!(hdr::RESERVED <= HEADER_LEN && HEADER_LEN.is_multiple_of(BUCKET_LEN));
const _: () = assert!(rec::NAME == RECORD_FIXED);
// The lookups read id buckets as 4-byte words, and name buckets' fingerprints as 2-byte words and their
// record offsets as 4-byte words.
const _: () =
    assert!(idb::KEYS.is_multiple_of(4) && idb::FLAGS.is_multiple_of(4) && idb::REC.is_multiple_of(4));
const _: () = assert!(idb::OFFS.is_multiple_of(2));
const _: () = assert!(nmb::FPS.is_multiple_of(2) && nmb::RECS.is_multiple_of(4));

/// Why an image was refused. `at` is the byte offset (from the start of the image) of the offending
/// field, bucket or record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageError {
    /// Fewer bytes than the header (or than the header says).
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        len: usize,
    },
    /// The first eight bytes are not `TCAPREG\0`.
    BadMagic,
    /// A version this code does not read.
    UnsupportedVersion(u16),
    /// A header field is out of range (or a reserved byte is not zero).
    BadHeader {
        /// Offset of the field.
        at: usize,
    },
    /// The slice is longer than the image the header describes.
    TrailingBytes {
        /// Length the header states.
        expected: usize,
        /// Length of the slice.
        len: usize,
    },
    /// The CRC-32C over the image does not match the stored one.
    ChecksumMismatch {
        /// Stored value.
        stored: u32,
        /// Computed value.
        computed: u32,
    },
    /// A section is misplaced, overlaps another or has the wrong length for its bucket count.
    BadSection {
        /// Offset of the header field that describes it.
        at: usize,
    },
    /// A bucket's occupancy is out of range or its unused bytes are not zero.
    BadBucket {
        /// Offset of the bucket.
        at: usize,
    },
    /// A record is malformed (short, empty name, overrunning the heap), or the heap has bytes after
    /// the last record.
    BadRecord {
        /// Offset of the record.
        at: usize,
    },
    /// A record's id is not the MD5 prefix of its name.
    IdMismatch {
        /// Offset of the record.
        at: usize,
    },
    /// A record is not found again through the id table (misplaced slot, duplicate id, flags that
    /// disagree with the slot).
    IdTableMismatch {
        /// Offset of the record.
        at: usize,
    },
    /// A record is not found again through the name table (misplaced slot, duplicate name).
    NameTableMismatch {
        /// Offset of the record.
        at: usize,
    },
    /// The number of records or of occupied slots differs from the header's count, or the header's
    /// word count differs from the names'.
    CountMismatch {
        /// Count the header states.
        expected: u32,
        /// Count found.
        found: u32,
    },
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ImageError::Truncated { needed, len } => {
                write!(f, "registry image truncated: {len} bytes, need {needed}")
            }
            ImageError::BadMagic => f.write_str("not a registry image (bad magic)"),
            ImageError::UnsupportedVersion(v) => write!(f, "unsupported registry image version {v}"),
            ImageError::BadHeader { at } => write!(f, "bad registry header field at byte {at}"),
            ImageError::TrailingBytes { expected, len } => {
                write!(f, "registry image is {expected} bytes but the slice has {len}")
            }
            ImageError::ChecksumMismatch { stored, computed } => {
                write!(f, "registry checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")
            }
            ImageError::BadSection { at } => write!(f, "bad registry section (header field at byte {at})"),
            ImageError::BadBucket { at } => write!(f, "bad registry bucket at byte {at}"),
            ImageError::BadRecord { at } => write!(f, "bad registry record at byte {at}"),
            ImageError::IdMismatch { at } => {
                write!(f, "registry record at byte {at}: id is not the MD5 prefix of its name")
            }
            ImageError::IdTableMismatch { at } => {
                write!(f, "registry record at byte {at} is not found again by its id")
            }
            ImageError::NameTableMismatch { at } => {
                write!(f, "registry record at byte {at} is not found again by its name")
            }
            ImageError::CountMismatch { expected, found } => {
                write!(f, "registry count mismatch: header says {expected}, found {found}")
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Little-endian readers that cannot panic (a missing byte reads as zero; the validator makes sure no
// query ever relies on that).

#[inline(always)]
pub(crate) fn rd8(b: &[u8], off: usize) -> u8 {
    match b.get(off) {
        Some(v) => *v,
        None => 0,
    }
}

#[inline(always)]
pub(crate) fn rd16(b: &[u8], off: usize) -> u16 {
    match b.get(off..).and_then(|t| t.first_chunk::<2>()) {
        Some(x) => u16::from_le_bytes(*x),
        None => 0,
    }
}

#[inline(always)]
pub(crate) fn rd32(b: &[u8], off: usize) -> u32 {
    match b.get(off..).and_then(|t| t.first_chunk::<4>()) {
        Some(x) => u32::from_le_bytes(*x),
        None => 0,
    }
}

#[inline(always)]
pub(crate) fn rd64(b: &[u8], off: usize) -> u64 {
    match b.get(off..).and_then(|t| t.first_chunk::<8>()) {
        Some(x) => u64::from_le_bytes(*x),
        None => 0,
    }
}

// ---------------------------------------------------------------------------------------------------
// CRC-32C (Castagnoli): reflected polynomial 0x82F63B78, init and xorout 0xFFFFFFFF.
// Check value: crc32c(b"123456789") == 0xE3069283. Slicing-by-8, tables built at compile time.

const fn crc_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ 0x82F6_3B78 } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut s = 1;
    while s < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        s += 1;
    }
    t
}

static CRC_TABLES: [[u32; 256]; 8] = crc_tables();

/// Feeds `data` into a running CRC-32C state (start with `!0`, finish with `!state`).
pub fn crc32c_update(mut crc: u32, data: &[u8]) -> u32 {
    let t = &CRC_TABLES;
    let (chunks, rest) = data.as_chunks::<8>();
    for c in chunks {
        let lo = crc ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        crc = t[7][(lo & 0xff) as usize]
            ^ t[6][((lo >> 8) & 0xff) as usize]
            ^ t[5][((lo >> 16) & 0xff) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][c[4] as usize]
            ^ t[2][c[5] as usize]
            ^ t[1][c[6] as usize]
            ^ t[0][c[7] as usize];
    }
    for &b in rest {
        crc = (crc >> 8) ^ t[0][((crc ^ b as u32) & 0xff) as usize];
    }
    crc
}

/// CRC-32C of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    !crc32c_update(!0, data)
}

/// The image checksum: CRC-32C over the whole image with the checksum field read as four zero bytes.
pub fn image_checksum(image: &[u8]) -> u32 {
    let head = image.get(..hdr::CHECKSUM).unwrap_or(image);
    let tail = image.get(hdr::CHECKSUM + 4..).unwrap_or(&[]);
    let mut crc = crc32c_update(!0, head);
    crc = crc32c_update(crc, &[0; 4]);
    !crc32c_update(crc, tail)
}

// ---------------------------------------------------------------------------------------------------
// Hashes.

/// Home bucket of `id`: multiply by an odd 32-bit constant (a bijection), then map the product onto
/// `0..home` with a multiply-high ("fastrange"), which uses the well-mixed top bits.
#[inline(always)]
pub fn id_home_bucket(id: u32, mult: u32, home: u32) -> usize {
    ((id.wrapping_mul(mult) as u64 * home as u64) >> 32) as usize
}

const K0: u64 = 0x9E37_79B9_7F4A_7C15;
const K1: u64 = 0xA076_1D64_78BD_642F;
const K2: u64 = 0xE703_7ED1_A0B4_28DB;

#[inline(always)]
fn fold(a: u64, b: u64) -> u64 {
    let p = (a as u128).wrapping_mul(b as u128);
    (p as u64) ^ ((p >> 64) as u64)
}

/// The 64-bit seeded name hash (a folded-multiply construction in the style of wyhash, written for
/// tcap). The name table uses the high 32 bits for the home bucket and the low 16 bits as the
/// fingerprint stored in the slot.
#[inline]
pub fn name_hash(seed: u64, s: &[u8]) -> u64 {
    let len = s.len();
    let mut seed = seed ^ K0;
    let (a, b) = if len <= 16 {
        if len >= 8 {
            (rd64(s, 0), rd64(s, len - 8))
        } else if len >= 4 {
            (rd32(s, 0) as u64, rd32(s, len - 4) as u64)
        } else if len > 0 {
            (((rd8(s, 0) as u64) << 16) | ((rd8(s, len / 2) as u64) << 8) | rd8(s, len - 1) as u64, 0)
        } else {
            (0, 0)
        }
    } else {
        let mut i = 0;
        while len - i > 16 {
            seed = fold(rd64(s, i) ^ K1, rd64(s, i + 8) ^ seed);
            i += 16;
        }
        (rd64(s, len - 16), rd64(s, len - 8))
    };
    fold(K2 ^ len as u64, fold(a ^ K1, b ^ seed))
}

/// Home bucket of a name hash.
#[inline(always)]
pub fn name_home_bucket(h: u64, home: u32) -> usize {
    (((h >> 32) * home as u64) >> 32) as usize
}

/// Number of maximal runs of non-whitespace bytes in `name` (what [`resolve`] calls words).
///
/// [`resolve`]: super::Registry::resolve
pub fn word_count(name: &[u8]) -> u32 {
    let mut n = 0;
    let mut prev_ws = true;
    for &c in name {
        let ws = c.is_ascii_whitespace();
        if prev_ws && !ws {
            n += 1;
        }
        prev_ws = ws;
    }
    n
}

/// The TCP command id: MD5(name)[0..4], big-endian (the same as `wire::command_id`, repeated here so
/// that this file stays self-contained for build.rs).
pub fn md5_id(name: &[u8]) -> u32 {
    use md5::{Digest, Md5};
    let d = Md5::digest(name);
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

// ---------------------------------------------------------------------------------------------------
// The parsed header with its section slices, and the raw lookups.

/// A header that passed the O(1) checks, with its three sections cut out.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct Layout<'a> {
    /// The whole image.
    pub image: &'a [u8],
    /// Name hash seed.
    pub name_seed: u64,
    /// Entry count.
    pub count: u32,
    /// Most words in a name.
    pub max_words: u32,
    /// Id hash multiplier (odd).
    pub id_mult: u32,
    /// Id table home buckets (≥ 1).
    pub id_home: u32,
    /// Id table probe limit.
    pub id_max_probe: u32,
    /// Name table home buckets (≥ 1).
    pub name_home: u32,
    /// Name table probe limit.
    pub name_max_probe: u32,
    /// Always 0: with it the 32-bit fields fill whole 64-bit words, so the layout (fields in this order,
    /// `repr(C)`) has no padding and a byte-for-byte copy of it, such as the C ABI's `tcap_registry`
    /// handle, is fully initialised (Miri reported the previous layout's uninitialised padding there).
    pub reserved: u32,
    /// Id buckets.
    pub id_table: &'a [[u8; BUCKET_LEN]],
    /// Name buckets.
    pub name_table: &'a [[u8; BUCKET_LEN]],
    /// Record heap.
    pub records: &'a [u8],
}

// No padding: the size is exactly the sum of the fields' sizes (four slices, one u64, eight u32).
const _: () =
    assert!(core::mem::size_of::<Layout<'static>>() == 4 * core::mem::size_of::<&[u8]>() + 8 + 8 * 4);

/// Outcome of an id-table probe: `(flags, record offset)`.
pub type IdHit = (u32, u32);

/// Offset of slot `j`'s record in id bucket `bucket`: the bucket's first record plus the slot's 16-bit
/// offset from it (none for slot 0). Branch-free, and only the bucket's own bytes: an unused result
/// costs nothing.
#[inline(always)]
fn slot_record(bucket: &[u8; BUCKET_LEN], j: usize) -> u32 {
    let (half, _) = bucket.as_chunks::<2>();
    let word = |at: usize| half.get(at / 2).map_or(0, |v| u16::from_le_bytes(*v) as u32);
    let first = word(idb::REC) | (word(idb::REC + 2) << 16);
    // Slot 0 reads some offset (slot 5's) and masks it off.
    let k = j.wrapping_sub(1).min(ID_SLOTS - 2);
    first.wrapping_add(word(idb::OFFS + 2 * k) & ((j != 0) as u32).wrapping_neg())
}

impl<'a> Layout<'a> {
    /// A layout with no entries (every lookup misses).
    pub const EMPTY: Layout<'static> = Layout {
        image: &[],
        count: 0,
        max_words: 0,
        id_mult: 1,
        id_home: 1,
        id_max_probe: 0,
        name_seed: 0,
        name_home: 1,
        name_max_probe: 0,
        id_table: &[],
        name_table: &[],
        records: &[],
        reserved: 0,
    };

    /// The O(1) part of validation: header fields and section geometry. Does not read the checksum or
    /// any table.
    pub fn parse(image: &'a [u8]) -> Result<Layout<'a>, ImageError> {
        let len = image.len();
        if len < HEADER_LEN {
            if image.get(..len.min(8)) != MAGIC.get(..len.min(8)) {
                return Err(ImageError::BadMagic);
            }
            return Err(ImageError::Truncated { needed: HEADER_LEN, len });
        }
        if image.get(hdr::MAGIC..hdr::MAGIC + 8) != Some(&MAGIC[..]) {
            return Err(ImageError::BadMagic);
        }
        let version = rd16(image, hdr::VERSION);
        if version != VERSION {
            return Err(ImageError::UnsupportedVersion(version));
        }
        if rd16(image, hdr::HEADER_LEN) as usize != HEADER_LEN {
            return Err(ImageError::BadHeader { at: hdr::HEADER_LEN });
        }
        if rd32(image, hdr::FLAGS) != 0 {
            return Err(ImageError::BadHeader { at: hdr::FLAGS });
        }
        if let Some(i) = image.get(hdr::RESERVED..HEADER_LEN).and_then(|r| r.iter().position(|&b| b != 0)) {
            return Err(ImageError::BadHeader { at: hdr::RESERVED + i });
        }
        let total = rd32(image, hdr::TOTAL_LEN) as usize;
        if total < HEADER_LEN {
            return Err(ImageError::BadHeader { at: hdr::TOTAL_LEN });
        }
        if total > len {
            return Err(ImageError::Truncated { needed: total, len });
        }
        if total < len {
            return Err(ImageError::TrailingBytes { expected: total, len });
        }
        let count = rd32(image, hdr::COUNT);
        let id_mult = rd32(image, hdr::ID_MULT);
        if id_mult & 1 == 0 {
            return Err(ImageError::BadHeader { at: hdr::ID_MULT });
        }
        let id_home = rd32(image, hdr::ID_HOME);
        let id_buckets = rd32(image, hdr::ID_BUCKETS);
        let id_max_probe = rd32(image, hdr::ID_MAX_PROBE);
        if id_home == 0 {
            return Err(ImageError::BadHeader { at: hdr::ID_HOME });
        }
        if id_home.checked_add(id_max_probe) != Some(id_buckets) {
            return Err(ImageError::BadHeader { at: hdr::ID_BUCKETS });
        }
        let name_home = rd32(image, hdr::NAME_HOME);
        let name_buckets = rd32(image, hdr::NAME_BUCKETS);
        let name_max_probe = rd32(image, hdr::NAME_MAX_PROBE);
        if name_home == 0 {
            return Err(ImageError::BadHeader { at: hdr::NAME_HOME });
        }
        if name_home.checked_add(name_max_probe) != Some(name_buckets) {
            return Err(ImageError::BadHeader { at: hdr::NAME_BUCKETS });
        }
        // Sections: id table right after the header, then the name table, then the record heap, which
        // ends the image. Contiguity makes them in bounds and non-overlapping by construction.
        let id_off = rd32(image, hdr::ID_OFF) as usize;
        let id_len = rd32(image, hdr::ID_LEN) as usize;
        let name_off = rd32(image, hdr::NAME_OFF) as usize;
        let name_len = rd32(image, hdr::NAME_LEN) as usize;
        let rec_off = rd32(image, hdr::REC_OFF) as usize;
        let rec_len = rd32(image, hdr::REC_LEN) as usize;
        if id_off != HEADER_LEN {
            return Err(ImageError::BadSection { at: hdr::ID_OFF });
        }
        if (id_buckets as u64) * BUCKET_LEN as u64 != id_len as u64 {
            return Err(ImageError::BadSection { at: hdr::ID_LEN });
        }
        if id_off.checked_add(id_len) != Some(name_off) {
            return Err(ImageError::BadSection { at: hdr::NAME_OFF });
        }
        if (name_buckets as u64) * BUCKET_LEN as u64 != name_len as u64 {
            return Err(ImageError::BadSection { at: hdr::NAME_LEN });
        }
        if name_off.checked_add(name_len) != Some(rec_off) {
            return Err(ImageError::BadSection { at: hdr::REC_OFF });
        }
        if rec_off.checked_add(rec_len) != Some(total) {
            return Err(ImageError::BadSection { at: hdr::REC_LEN });
        }
        let (Some(id_bytes), Some(name_bytes), Some(records)) =
            (image.get(id_off..name_off), image.get(name_off..rec_off), image.get(rec_off..total))
        else {
            return Err(ImageError::BadSection { at: hdr::ID_OFF });
        };
        let (id_table, _) = id_bytes.as_chunks::<BUCKET_LEN>();
        let (name_table, _) = name_bytes.as_chunks::<BUCKET_LEN>();
        Ok(Layout {
            image,
            count,
            max_words: rd32(image, hdr::MAX_WORDS),
            id_mult,
            id_home,
            id_max_probe,
            name_seed: rd64(image, hdr::NAME_SEED),
            name_home,
            name_max_probe,
            id_table,
            name_table,
            records,
            reserved: 0,
        })
    }

    /// Home bucket of `id` in the id table.
    #[inline(always)]
    pub fn id_home_of(&self, id: u32) -> usize {
        id_home_bucket(id, self.id_mult, self.id_home)
    }

    /// Probes the id table from bucket `b` (normally `id_home_of(id)`).
    #[inline(always)]
    pub fn find_id_from(&self, id: u32, b: usize) -> Option<IdHit> {
        if id == 0 {
            return self.find_zero_from(b);
        }
        let mut b = b;
        let mut left = self.id_max_probe;
        loop {
            let bucket = self.id_table.get(b)?;
            // Bit k set when slot k holds `id`. Unused slots hold key 0, which `id` is not, so no
            // occupancy mask is needed on this path. The six keys are compared as words 0..4 and 4..8
            // with words 6 and 7 (slots 0 and 1's flags) masked off: written so, the first four are one
            // vector compare and move-mask on x86-64 and the other two branch-free scalar compares (a
            // plain six-step loop compiles to a vector compare of keys 1..5 with a horizontal OR and a
            // separate branch for key 5: measured under callgrind, 8 % more instructions and 1.6 times
            // the branch mispredictions).
            // The bucket as sixteen 4-byte words, a view whose length the optimiser knows, and the slot
            // index clamped to the last slot (a no-op: `m` has bits 0..5 only), so that the value reads
            // below compile without bounds checks.
            let (w, _) = bucket.as_chunks::<4>();
            let m = (eq_mask4(w, 0, id) | (eq_mask4(w, 4, id) << 4)) & ((1 << ID_SLOTS) - 1);
            if m != 0 {
                let j = (m.trailing_zeros() as usize).min(ID_SLOTS - 1);
                let flags = u32::from_le_bytes(w[idb::FLAGS / 4 + j]);
                return Some((flags, slot_record(bucket, j)));
            }
            if (bucket[idb::COUNT] as usize) < ID_SLOTS || left == 0 {
                return None;
            }
            left -= 1;
            b += 1;
        }
    }

    /// [`find_id_from`](Self::find_id_from) for id 0, which unused slots also hold: only the first
    /// `count` slots of a bucket count.
    #[cold]
    #[inline(never)]
    fn find_zero_from(&self, mut b: usize) -> Option<IdHit> {
        let mut left = self.id_max_probe;
        loop {
            let bucket = self.id_table.get(b)?;
            let cnt = (bucket[idb::COUNT] as usize).min(ID_SLOTS);
            if let Some(j) = (0..cnt).find(|&j| rd32(bucket, idb::KEYS + 4 * j) == 0) {
                return Some((rd32(bucket, idb::FLAGS + 4 * j), slot_record(bucket, j)));
            }
            if cnt < ID_SLOTS || left == 0 {
                return None;
            }
            left -= 1;
            b += 1;
        }
    }

    /// Looks `id` up in the id table.
    #[inline(always)]
    pub fn find_id(&self, id: u32) -> Option<IdHit> {
        self.find_id_from(id, self.id_home_of(id))
    }

    /// The name of the record at `r` (empty if `r` is not a record start of a valid image).
    #[inline(always)]
    pub fn record_name(&self, r: u32) -> &'a [u8] {
        let r = r as usize;
        let n = rd16(self.records, r.wrapping_add(rec::NAME_LEN)) as usize;
        let start = r.wrapping_add(rec::NAME);
        self.records.get(start..start.wrapping_add(n)).unwrap_or(&[])
    }

    /// Bit `k` set when slot `k` of a name bucket has fingerprint `fp`.
    #[inline(always)]
    fn fp_matches(bucket: &[u8; BUCKET_LEN], fp: u16) -> u32 {
        let (w, _) = bucket.as_chunks::<2>();
        let mut m = 0u32;
        for k in 0..NAME_SLOTS {
            m |= ((u16::from_le_bytes(w[nmb::FPS / 2 + k]) == fp) as u32) << k;
        }
        m
    }

    /// Probes the name table for `name` whose hash is `h`, from bucket `b` (normally its home).
    #[inline(always)]
    pub fn find_name_from(&self, name: &[u8], h: u64, mut b: usize) -> Option<u32> {
        let fp = h as u16;
        let mut left = self.name_max_probe;
        loop {
            let bucket = self.name_table.get(b)?;
            // Bit k set when slot k's fingerprint matches. Unused slots (fingerprint 0, record 0) are not
            // masked off: a candidate only counts if its record's name equals `name`, and in a validated
            // image offset 0 is a real record, so a stray candidate can only give the right answer.
            let mut m = Self::fp_matches(bucket, fp);
            let (w, _) = bucket.as_chunks::<4>();
            while m != 0 {
                let j = (m.trailing_zeros() as usize).min(NAME_SLOTS - 1);
                let r = u32::from_le_bytes(w[nmb::RECS / 4 + j]);
                if bytes_eq(self.record_name(r), name) {
                    return Some(r);
                }
                m &= m - 1;
            }
            let cnt = bucket[nmb::COUNT] as usize;
            if cnt < NAME_SLOTS || left == 0 {
                return None;
            }
            left -= 1;
            b += 1;
        }
    }

    /// Record offset of the first slot in bucket `b` whose fingerprint matches `h` (or `u32::MAX`):
    /// the record a lookup will most likely verify, for the batched lookups to touch early.
    #[inline(always)]
    pub fn name_candidate(&self, h: u64, b: usize) -> u32 {
        let Some(bucket) = self.name_table.get(b) else { return u32::MAX };
        let m = Self::fp_matches(bucket, h as u16);
        let (w, _) = bucket.as_chunks::<4>();
        let j = (m.trailing_zeros() as usize).min(NAME_SLOTS - 1);
        if m == 0 { u32::MAX } else { u32::from_le_bytes(w[nmb::RECS / 4 + j]) }
    }

    /// Looks `name` up in the name table; returns the record offset.
    #[inline(always)]
    pub fn find_name(&self, name: &[u8]) -> Option<u32> {
        if name.is_empty() {
            return None; // never registered (and an empty image's empty record heap "holds" it)
        }
        let h = name_hash(self.name_seed, name);
        self.find_name_from(name, h, name_home_bucket(h, self.name_home))
    }

    /// Offset in the image of the record heap.
    fn rec_base(&self) -> usize {
        self.image.len() - self.records.len()
    }
}

/// Bit `k` set when word `at + k` of `w` (little-endian) equals `x`, for `k < 4` (a missing word is
/// no match).
#[inline(always)]
fn eq_mask4(w: &[[u8; 4]], at: usize, x: u32) -> u32 {
    let mut m = 0u32;
    for k in 0..4 {
        m |= (w.get(at + k).is_some_and(|v| u32::from_le_bytes(*v) == x) as u32) << k;
    }
    m
}

/// `a == b`, without a call to `memcmp` for names up to 16 bytes: two overlapping windows of 8 (or 4)
/// bytes cover every byte of equal-length inputs of 8..=16 (or 4..8) bytes; 1..=3 bytes are compared as
/// first, middle and last byte.
#[inline(always)]
pub fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n > 16 {
        return a == b;
    }
    if n >= 8 {
        rd64(a, 0) == rd64(b, 0) && rd64(a, n - 8) == rd64(b, n - 8)
    } else if n >= 4 {
        rd32(a, 0) == rd32(b, 0) && rd32(a, n - 4) == rd32(b, n - 4)
    } else if n > 0 {
        rd8(a, 0) == rd8(b, 0) && rd8(a, n / 2) == rd8(b, n / 2) && rd8(a, n - 1) == rd8(b, n - 1)
    } else {
        true
    }
}

/// Next record start after the record at `r` with a name of `name_len` bytes (records are not padded).
#[inline(always)]
pub fn next_record(r: usize, name_len: usize) -> usize {
    r.wrapping_add(RECORD_FIXED).wrapping_add(name_len)
}

/// Full validation: header, checksum, every bucket, every record, and every entry found again through
/// both tables. After this succeeds, every lookup returns either `None` or the one record whose key
/// matches, and no accessor reads out of its record.
pub fn validate(image: &[u8]) -> Result<Layout<'_>, ImageError> {
    let l = Layout::parse(image)?;
    let stored = rd32(image, hdr::CHECKSUM);
    let computed = image_checksum(image);
    if stored != computed && !cfg!(fuzzing) {
        return Err(ImageError::ChecksumMismatch { stored, computed });
    }
    validate_structure(&l)?;
    Ok(l)
}

/// The structural part of [`validate`] (everything but the checksum).
pub fn validate_structure(l: &Layout<'_>) -> Result<(), ImageError> {
    // The id buckets in order, and with them the record heap: records are stored bucket by bucket,
    // slot by slot, so walking the buckets walks the heap. Each bucket: occupancy in range, unused slots,
    // unused offsets and padding zero, its first-record offset equal to the heap position reached.
    // Each occupied slot: a well-formed record there (the slot's offset, for slots 1..6, leading to
    // it), whose id is the slot's key and the MD5 prefix of its name, with the slot's flags, found again
    // through the id table at exactly this offset (the lookup stops at the first match, so a duplicate
    // id is refused) and through the name table at exactly this offset.
    let recs = l.records;
    let base = l.rec_base();
    let mut r = 0usize;
    let mut n: u32 = 0;
    let mut max_words = 0;
    for (i, bucket) in l.id_table.iter().enumerate() {
        let at = HEADER_LEN + i * BUCKET_LEN;
        let cnt = bucket[idb::COUNT] as usize;
        let clean = |j: usize| rd32(bucket, idb::KEYS + 4 * j) == 0 && rd32(bucket, idb::FLAGS + 4 * j) == 0;
        let clean_off = |j: usize| rd16(bucket, idb::OFFS + 2 * (j - 1)) == 0;
        let first = rd32(bucket, idb::REC) as usize;
        if cnt > ID_SLOTS
            || !(cnt..ID_SLOTS).all(clean)
            || !(cnt.max(1)..ID_SLOTS).all(clean_off)
            || bucket[idb::COUNT + 1..].iter().any(|&b| b != 0)
            || first != r
        {
            return Err(ImageError::BadBucket { at });
        }
        for j in 0..cnt {
            let at = base + r;
            if recs.len() - r < RECORD_FIXED {
                return Err(ImageError::BadRecord { at });
            }
            let name_len = rd16(recs, r + rec::NAME_LEN) as usize;
            let end = r + RECORD_FIXED + name_len;
            if name_len == 0 || name_len > MAX_NAME_LEN || end > recs.len() {
                return Err(ImageError::BadRecord { at });
            }
            let name = &recs[r + RECORD_FIXED..end];
            let id = rd32(recs, r + rec::ID);
            let flags = rd32(recs, r + rec::FLAGS);
            if md5_id(name) != id {
                return Err(ImageError::IdMismatch { at });
            }
            let off_ok = j == 0 || rd16(bucket, idb::OFFS + 2 * (j - 1)) as usize == r - first;
            if rd32(bucket, idb::KEYS + 4 * j) != id
                || rd32(bucket, idb::FLAGS + 4 * j) != flags
                || !off_ok
                || l.find_id(id) != Some((flags, r as u32))
            {
                return Err(ImageError::IdTableMismatch { at });
            }
            if l.find_name(name) != Some(r as u32) {
                return Err(ImageError::NameTableMismatch { at });
            }
            max_words = max_words.max(word_count(name));
            n = n.saturating_add(1);
            r = end;
        }
    }
    if r != recs.len() {
        return Err(ImageError::BadRecord { at: base + r });
    }
    if n != l.count {
        return Err(ImageError::CountMismatch { expected: l.count, found: n });
    }
    // Name buckets: occupancy in range, unused slots and padding zero, and every occupied slot points
    // at a record start (the id table, now known to map each record's id to exactly that record,
    // confirms it) whose name has the slot's fingerprint. Unused slots are zero, and offset 0 is then a
    // real record (or the heap is empty): so every candidate a name lookup can verify is a genuine
    // record. With exactly `count` occupied slots, each record is reached through exactly one.
    let name_base = HEADER_LEN + l.id_table.len() * BUCKET_LEN;
    let mut name_occupied: u64 = 0;
    for (i, bucket) in l.name_table.iter().enumerate() {
        let at = name_base + i * BUCKET_LEN;
        let cnt = bucket[nmb::COUNT] as usize;
        let clean = |j: usize| rd16(bucket, nmb::FPS + 2 * j) == 0 && rd32(bucket, nmb::RECS + 4 * j) == 0;
        if cnt > NAME_SLOTS
            || !(cnt..NAME_SLOTS).all(clean)
            || bucket[nmb::COUNT + 1..].iter().any(|&b| b != 0)
        {
            return Err(ImageError::BadBucket { at });
        }
        for j in 0..cnt {
            let r = rd32(bucket, nmb::RECS + 4 * j);
            let id = rd32(recs, r as usize);
            let ok = matches!(l.find_id(id), Some((_, x)) if x == r)
                && name_hash(l.name_seed, l.record_name(r)) as u16 == rd16(bucket, nmb::FPS + 2 * j);
            if !ok {
                return Err(ImageError::BadBucket { at });
            }
        }
        name_occupied += cnt as u64;
    }
    if name_occupied != l.count as u64 {
        return Err(ImageError::CountMismatch { expected: l.count, found: name_occupied as u32 });
    }
    if max_words != l.max_words {
        return Err(ImageError::BadHeader { at: hdr::MAX_WORDS });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
        // Slicing-by-8 agrees with the bytewise path on every length and split.
        let data: [u8; 37] = core::array::from_fn(|i| (i as u8).wrapping_mul(151).wrapping_add(7));
        for cut in 0..data.len() {
            let two = !crc32c_update(crc32c_update(!0, &data[..cut]), &data[cut..]);
            assert_eq!(two, crc32c(&data), "cut {cut}");
        }
    }

    #[test]
    fn name_hash_depends_on_every_byte_and_seed() {
        let base = *b"abcdefghijklmnopqrstuvwxyz0123456789";
        for len in 0..base.len() {
            let h = name_hash(7, &base[..len]);
            assert_ne!(h, name_hash(8, &base[..len]), "len {len}");
            for i in 0..len {
                let mut m = base;
                m[i] ^= 1;
                assert_ne!(h, name_hash(7, &m[..len]), "len {len} byte {i}");
            }
        }
    }

    #[test]
    fn bytes_eq_matches_slice_eq() {
        let base: [u8; 40] = core::array::from_fn(|i| b'a' + (i % 26) as u8);
        for n in 0..base.len() {
            assert!(bytes_eq(&base[..n], &base[..n]));
            assert!(!bytes_eq(&base[..n], &base[..n + 1]));
            for i in 0..n {
                let mut m = base;
                m[i] ^= 0x40;
                assert!(!bytes_eq(&base[..n], &m[..n]), "len {n}, byte {i}");
            }
        }
    }

    /// A bucket locates every slot's record by itself (first record, 16-bit offsets), and id 0 (which
    /// unused slots also hold) is found only among the occupied slots. Hand-made buckets: no name with
    /// MD5 prefix 0 is known.
    #[test]
    fn slot_records_and_id_zero() {
        let mut bucket = [0u8; BUCKET_LEN];
        let keys = [9u32, 5, 0xdead_beef, 0, 8];
        let offsets = [0u16, 21, 49, 68, 93];
        for (j, k) in keys.iter().enumerate() {
            bucket[idb::KEYS + 4 * j..][..4].copy_from_slice(&k.to_le_bytes());
            bucket[idb::FLAGS + 4 * j..][..4].copy_from_slice(&(100 + j as u32).to_le_bytes());
            if j > 0 {
                bucket[idb::OFFS + 2 * (j - 1)..][..2].copy_from_slice(&offsets[j].to_le_bytes());
            }
        }
        bucket[idb::COUNT] = keys.len() as u8;
        bucket[idb::REC..][..4].copy_from_slice(&40u32.to_le_bytes());
        let table = [bucket];
        let l = Layout { id_table: &table, ..Layout::EMPTY };
        for (j, &k) in keys.iter().enumerate() {
            assert_eq!(l.find_id_from(k, 0), Some((100 + j as u32, 40 + offsets[j] as u32)), "key {k}");
        }
        for absent in [1u32, 6, 10, u32::MAX] {
            assert_eq!(l.find_id_from(absent, 0), None, "id {absent}");
        }
        // Slot 5, the largest offset, and a bucket without id 0.
        let mut full = bucket;
        full[idb::KEYS + 20..][..4].copy_from_slice(&11u32.to_le_bytes());
        full[idb::OFFS + 8..][..2].copy_from_slice(&u16::MAX.to_le_bytes());
        full[idb::KEYS + 12..][..4].copy_from_slice(&12u32.to_le_bytes());
        full[idb::COUNT] = 6;
        let table = [full];
        let l = Layout { id_table: &table, ..Layout::EMPTY };
        assert_eq!(l.find_id_from(11, 0), Some((0, 40 + 65_535)));
        assert_eq!(l.find_id_from(12, 0), Some((103, 40 + 68)));
        assert_eq!(l.find_id_from(9, 0), Some((100, 40)), "slot 0 has no offset: slot 5's is masked");
        assert_eq!(l.find_id_from(0, 0), None, "unused key 0 is not id 0");
    }

    #[test]
    fn words() {
        assert_eq!(word_count(b""), 0);
        assert_eq!(word_count(b"  "), 0);
        assert_eq!(word_count(b"git"), 1);
        assert_eq!(word_count(b" git\tclone  x "), 3);
    }
}
