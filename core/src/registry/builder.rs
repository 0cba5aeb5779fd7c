//! The image builder's core: raw entries in, image bytes out.
//!
//! Self-contained (`core`, `alloc` and the sibling `format` module only) so that `core/build.rs` can
//! include it with `#[path]` and compile the built-in table with the same code the `alloc` feature
//! exposes as [`Builder`](super::Builder).

use super::format::{
    self, BUCKET_LEN, Density, HEADER_LEN, ID_SLOTS, MAX_NAME_LEN, NAME_SLOTS, RECORD_FIXED,
};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

/// One entry to put into an image, with its flags as raw canonical bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawSpec {
    /// The command name (its id is MD5(name)[0..4]).
    pub name: Vec<u8>,
    /// Canonical flags.
    pub flags: u32,
    /// Typical execution time, ms.
    pub exec_time_ms: u32,
    /// Typical memory, MB.
    pub memory_mb: u16,
    /// Typical output, KB.
    pub output_kb: u16,
}

/// Why an image could not be built. Indices are positions in the order the entries were added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// Entry `index` has an empty name.
    EmptyName {
        /// Position of the entry.
        index: usize,
    },
    /// Entry `index` has a name longer than [`MAX_NAME_LEN`](super::MAX_NAME_LEN) (4,096) bytes.
    NameTooLong {
        /// Position of the entry.
        index: usize,
    },
    /// Entries `first` and `second` have the same name.
    DuplicateName {
        /// Position of the earlier entry.
        first: usize,
        /// Position of the later entry.
        second: usize,
    },
    /// Entries `first` and `second` have different names whose command ids collide in 32 bits.
    DuplicateId {
        /// The shared id.
        id: u32,
        /// Position of the earlier entry.
        first: usize,
        /// Position of the later entry.
        second: usize,
    },
    /// The image would exceed 4 GiB (offsets are 32-bit).
    TooLarge,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BuildError::EmptyName { index } => write!(f, "entry {index} has an empty name"),
            BuildError::NameTooLong { index } => {
                write!(f, "entry {index} has a name over {MAX_NAME_LEN} bytes")
            }
            BuildError::DuplicateName { first, second } => {
                write!(f, "entries {first} and {second} have the same name")
            }
            BuildError::DuplicateId { id, first, second } => {
                write!(f, "entries {first} and {second} have the same command id {id:#010x}")
            }
            BuildError::TooLarge => f.write_str("registry image would exceed 4 GiB"),
        }
    }
}

/// Deterministic seed sequence (SplitMix64), so the same entries always give the same image.
fn splitmix(i: u64) -> u64 {
    let mut z = i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Seeds tried per table: more for small tables (cheap), fewer for big ones.
fn tries(n: usize) -> u64 {
    if n <= 1 << 16 { 16 } else { 3 }
}

/// Places `homes` (home bucket of each item, in insertion order) by linear probing over buckets of
/// `slots`; returns the bucket of each item, the total number of buckets and the longest probe.
fn place(homes: &[usize], home: usize, slots: usize) -> (Vec<u32>, usize, usize, u64) {
    let mut fill: Vec<u8> = vec![0; home];
    let mut at = Vec::with_capacity(homes.len());
    let mut max_probe = 0;
    let mut total_disp: u64 = 0;
    for &h in homes {
        let mut b = h;
        loop {
            if b == fill.len() {
                fill.push(0);
            }
            if (fill[b] as usize) < slots {
                break;
            }
            b += 1;
        }
        fill[b] += 1;
        max_probe = max_probe.max(b - h);
        total_disp += (b - h) as u64;
        at.push(b as u32);
    }
    (at, home + max_probe, max_probe, total_disp)
}

/// Tries several seeds and keeps the one with the shortest longest probe (then the least total
/// displacement). Returns (seed, per-item bucket, total buckets, max probe).
fn best_seed(
    n: usize,
    home: usize,
    slots: usize,
    mut homes_for: impl FnMut(u64) -> Vec<usize>,
    salt: u64,
) -> (u64, Vec<u32>, usize, usize) {
    let mut best: Option<(usize, u64, u64, Vec<u32>, usize)> = None;
    for t in 0..tries(n) {
        let seed = splitmix(salt ^ t);
        let homes = homes_for(seed);
        let (at, buckets, max_probe, disp) = place(&homes, home, slots);
        let better = match &best {
            None => true,
            Some((bp, bd, _, _, _)) => (max_probe, disp) < (*bp, *bd),
        };
        if better {
            best = Some((max_probe, disp, seed, at, buckets));
        }
    }
    match best {
        Some((max_probe, _, seed, at, buckets)) => (seed, at, buckets, max_probe),
        None => (splitmix(salt), Vec::new(), home, 0),
    }
}

fn put16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}
fn put64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// Builds an image from `specs`. Deterministic: the result depends only on the set of entries, not on
/// the order they were given in (entries are placed in name order).
pub fn build_image(specs: &[RawSpec], density: Density) -> Result<Vec<u8>, BuildError> {
    use format::{hdr, idb, nmb, rec};
    for (index, s) in specs.iter().enumerate() {
        if s.name.is_empty() {
            return Err(BuildError::EmptyName { index });
        }
        if s.name.len() > MAX_NAME_LEN {
            return Err(BuildError::NameTooLong { index });
        }
    }
    // Entries in name order; equal names are adjacent.
    let mut order: Vec<usize> = (0..specs.len()).collect();
    order.sort_by(|&a, &b| specs[a].name.cmp(&specs[b].name).then(a.cmp(&b)));
    for w in order.windows(2) {
        if specs[w[0]].name == specs[w[1]].name {
            return Err(BuildError::DuplicateName { first: w[0], second: w[1] });
        }
    }
    let ids: Vec<u32> = specs.iter().map(|s| format::md5_id(&s.name)).collect();
    let mut by_id: Vec<usize> = (0..specs.len()).collect();
    by_id.sort_by_key(|&i| (ids[i], i));
    for w in by_id.windows(2) {
        if ids[w[0]] == ids[w[1]] {
            return Err(BuildError::DuplicateId { id: ids[w[0]], first: w[0], second: w[1] });
        }
    }
    let n = specs.len();
    if n > u32::MAX as usize {
        return Err(BuildError::TooLarge);
    }
    let max_words = order.iter().map(|&i| format::word_count(&specs[i].name)).max().unwrap_or(0);

    // Id table: see `Density`. At load 0.8 (the first layout, now `Compact`) one id in eight of the
    // built-in registry overflowed its home bucket, and each lookup of one cost a mispredicted branch:
    // 0.16 per gate event, about 6 % of the whole gate's time.
    let id_home = density.home_buckets(n);
    let id_home32 = u32::try_from(id_home).map_err(|_| BuildError::TooLarge)?;
    let (id_seed, id_at, id_buckets, id_max_probe) = best_seed(
        n,
        id_home,
        ID_SLOTS,
        |seed| order.iter().map(|&i| format::id_home_bucket(ids[i], seed as u32 | 1, id_home32)).collect(),
        0x1d,
    );
    let id_mult = id_seed as u32 | 1;

    // Slots: each bucket's entries in name order. Records: bucket by bucket, slot by slot, so a bucket
    // locates them by the offset of its first record and each slot's 16-bit offset from it.
    let mut slots: Vec<Vec<usize>> = vec![Vec::new(); id_buckets]; // per bucket, positions in `order`
    for (k, &b) in id_at.iter().enumerate() {
        slots[b as usize].push(k);
    }
    let mut records: Vec<u8> = Vec::new();
    let mut first: Vec<u32> = Vec::with_capacity(id_buckets);
    let mut rec_at: Vec<u32> = vec![0; n]; // per position in `order`
    for bucket in &slots {
        let r = u32::try_from(records.len()).map_err(|_| BuildError::TooLarge)?;
        first.push(r);
        for &k in bucket {
            let i = order[k];
            let s = &specs[i];
            let r = records.len();
            rec_at[k] = u32::try_from(r).map_err(|_| BuildError::TooLarge)?;
            records.resize(format::next_record(r, s.name.len()), 0);
            put32(&mut records, r + rec::ID, ids[i]);
            put32(&mut records, r + rec::FLAGS, s.flags);
            put32(&mut records, r + rec::EXEC_MS, s.exec_time_ms);
            put16(&mut records, r + rec::MEMORY_MB, s.memory_mb);
            put16(&mut records, r + rec::OUTPUT_KB, s.output_kb);
            put16(&mut records, r + rec::NAME_LEN, s.name.len() as u16);
            records[r + RECORD_FIXED..r + RECORD_FIXED + s.name.len()].copy_from_slice(&s.name);
        }
    }

    // Name table: about 4 entries per 5 slots (load 0.8, 8 of 10 per bucket).
    let name_home = (n * 5).div_ceil(NAME_SLOTS * 4).max(1);
    let name_home32 = u32::try_from(name_home).map_err(|_| BuildError::TooLarge)?;
    let (name_seed, name_at, name_buckets, name_max_probe) = best_seed(
        n,
        name_home,
        NAME_SLOTS,
        |seed| {
            order
                .iter()
                .map(|&i| format::name_home_bucket(format::name_hash(seed, &specs[i].name), name_home32))
                .collect()
        },
        0x4e,
    );

    let id_len = id_buckets * BUCKET_LEN;
    let name_len = name_buckets * BUCKET_LEN;
    let id_off = HEADER_LEN;
    let name_off = id_off + id_len;
    let rec_off = name_off + name_len;
    let total = rec_off + records.len();
    if total > u32::MAX as usize {
        return Err(BuildError::TooLarge);
    }
    let mut img = vec![0u8; total];
    img[..8].copy_from_slice(&format::MAGIC);
    put16(&mut img, hdr::VERSION, format::VERSION);
    put16(&mut img, hdr::HEADER_LEN, HEADER_LEN as u16);
    put32(&mut img, hdr::TOTAL_LEN, total as u32);
    put32(&mut img, hdr::COUNT, n as u32);
    put32(&mut img, hdr::MAX_WORDS, max_words);
    put32(&mut img, hdr::ID_MULT, id_mult);
    put32(&mut img, hdr::ID_HOME, id_home as u32);
    put32(&mut img, hdr::ID_BUCKETS, id_buckets as u32);
    put32(&mut img, hdr::ID_MAX_PROBE, id_max_probe as u32);
    put64(&mut img, hdr::NAME_SEED, name_seed);
    put32(&mut img, hdr::NAME_HOME, name_home as u32);
    put32(&mut img, hdr::NAME_BUCKETS, name_buckets as u32);
    put32(&mut img, hdr::NAME_MAX_PROBE, name_max_probe as u32);
    put32(&mut img, hdr::ID_OFF, id_off as u32);
    put32(&mut img, hdr::ID_LEN, id_len as u32);
    put32(&mut img, hdr::NAME_OFF, name_off as u32);
    put32(&mut img, hdr::NAME_LEN, name_len as u32);
    put32(&mut img, hdr::REC_OFF, rec_off as u32);
    put32(&mut img, hdr::REC_LEN, records.len() as u32);

    for (b, bucket) in slots.iter().enumerate() {
        let at = id_off + b * BUCKET_LEN;
        for (j, &k) in bucket.iter().enumerate() {
            let i = order[k];
            put32(&mut img, at + idb::KEYS + 4 * j, ids[i]);
            put32(&mut img, at + idb::FLAGS + 4 * j, specs[i].flags);
            if j > 0 {
                // At most five records of at most 18 + MAX_NAME_LEN bytes each: fits (pinned in format).
                let off = rec_at[k] - first[b];
                put16(
                    &mut img,
                    at + idb::OFFS + 2 * (j - 1),
                    u16::try_from(off).map_err(|_| BuildError::TooLarge)?,
                );
            }
        }
        put32(&mut img, at + idb::REC, first[b]);
        img[at + idb::COUNT] = bucket.len() as u8;
    }
    for (k, &i) in order.iter().enumerate() {
        let at = name_off + name_at[k] as usize * BUCKET_LEN;
        let j = img[at + nmb::COUNT] as usize;
        put16(&mut img, at + nmb::FPS + 2 * j, format::name_hash(name_seed, &specs[i].name) as u16);
        put32(&mut img, at + nmb::RECS + 4 * j, rec_at[k]);
        img[at + nmb::COUNT] += 1;
    }
    img[rec_off..].copy_from_slice(&records);
    let crc = format::image_checksum(&img);
    put32(&mut img, hdr::CHECKSUM, crc);
    Ok(img)
}
