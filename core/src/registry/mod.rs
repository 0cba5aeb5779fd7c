//! The registry: an immutable lookup image of command descriptors, built once and then only read.
//!
//! An image is a 128-byte header followed by three sections, all little-endian and laid out for the
//! cache (every byte is documented in `docs/FORMAT.md`):
//!
//! * the **id table** — 64-byte buckets of six slots, keys apart from values inside the line
//!   (`keys[6] | flags[6] | first record | 16-bit record offsets[5] | count`), so a lookup by id
//!   touches one cache line and returns the hot fields (id, flags, risk) from it;
//! * the **name table** — 64-byte buckets of ten `(16-bit fingerprint, record offset)` slots;
//! * the **record heap** — per entry: id, flags, performance fields and the name, unpadded, stored in
//!   id-table order (bucket by bucket, slot by slot), so a bucket locates each slot's record from its
//!   first record's offset and a 16-bit offset from there: the cold data, read only when asked for.
//!
//! [`Registry::load`] validates an image once (header, section geometry, CRC-32C of the whole, every
//! bucket, every record, every entry found again by id and by name, every id the MD5 prefix of its
//! name). After that no query can panic or return a wrong entry. Images load from any `&[u8]`, at any
//! alignment (reads are bytewise); 64-byte alignment only makes each bucket one cache line.
//!
//! The built-in registry ([`builtin`]) is compiled from `core/data/builtin.tsv` by `build.rs`, which
//! validates it with this module's own validator, and is embedded 64-byte aligned.
//!
//! ```
//! use tcap_core::registry::builtin;
//! use tcap_core::wire::Risk;
//! let reg = builtin();
//! let hit = reg.resolve(b"  rm -rf /").unwrap();
//! assert_eq!(hit.entry.name(), b"rm");
//! assert_eq!(hit.entry.risk(), Risk::Critical);
//! assert_eq!(&b"  rm -rf /"[hit.matched_len..], b" -rf /");
//! ```

use crate::wire::{Flags, Risk};
use core::fmt;

#[cfg(feature = "alloc")]
mod builder;
mod format;

#[cfg(feature = "alloc")]
pub mod tsv;

#[cfg(feature = "alloc")]
pub use builder::BuildError;
pub use format::{
    BUCKET_LEN, Density, HEADER_LEN, ImageError, MAGIC, MAX_NAME_LEN, VERSION, crc32c, hdr, image_checksum,
};
use format::{Layout, rd16, rd32};

/// The longest command-line prefix (in bytes, after collapsing whitespace) that [`Registry::resolve`]
/// considers.
pub const RESOLVE_MAX: usize = 256;

/// Names per batch in [`Registry::get_many_by_name`] (two dependent misses per name: a longer batch
/// keeps more of them in flight).
const NAME_BATCH: usize = 32;

/// Name tables of at most this many 64-byte buckets (256 KiB) are taken to be cache-resident:
/// [`Registry::get_many_by_name`] then skips its touch passes.
const SMALL_TABLE_BUCKETS: usize = 4096;

/// A validated, read-only registry image borrowed from `'a` bytes. `Copy`: it is a handful of slices.
#[derive(Clone, Copy)]
pub struct Registry<'a> {
    l: Layout<'a>,
}

impl fmt::Debug for Registry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("entries", &self.l.count)
            .field("image_bytes", &self.l.image.len())
            .field("id_buckets", &self.l.id_table.len())
            .field("name_buckets", &self.l.name_table.len())
            .finish()
    }
}

/// One registry entry: the hot fields (id, flags) from the id table, the cold ones (name, performance)
/// read on demand from the record heap.
#[derive(Clone, Copy)]
pub struct Entry<'a> {
    id: u32,
    flags: u32,
    rec: u32,
    records: &'a [u8],
}

/// The result of [`Registry::resolve`]: the entry of the longest registered prefix of a command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolved<'a> {
    /// The entry matched.
    pub entry: Entry<'a>,
    /// How many words of the command line it covers.
    pub words: usize,
    /// Byte length of the command-line prefix it covers (leading whitespace included): the arguments
    /// are `&line[matched_len..]`.
    pub matched_len: usize,
}

impl<'a> Entry<'a> {
    /// Command id: MD5(name)[0..4], big-endian.
    #[inline]
    pub fn id(&self) -> u32 {
        self.id
    }
    /// Canonical flags (risk bits included).
    #[inline]
    pub fn flags(&self) -> Flags {
        Flags(self.flags)
    }
    /// Risk level: the highest risk bit of the flags.
    #[inline]
    pub fn risk(&self) -> Risk {
        Flags(self.flags).risk()
    }
    /// The command name, exactly as registered.
    #[inline]
    pub fn name(&self) -> &'a [u8] {
        let r = self.rec();
        let n = rd16(self.records, r.wrapping_add(format::rec::NAME_LEN)) as usize;
        let start = r.wrapping_add(format::rec::NAME);
        self.records.get(start..start.wrapping_add(n)).unwrap_or(&[])
    }
    /// Typical execution time, milliseconds.
    #[inline]
    pub fn exec_time_ms(&self) -> u32 {
        rd32(self.records, self.rec().wrapping_add(format::rec::EXEC_MS))
    }
    /// Typical memory use, megabytes.
    #[inline]
    pub fn memory_mb(&self) -> u16 {
        rd16(self.records, self.rec().wrapping_add(format::rec::MEMORY_MB))
    }
    /// Typical output size, kilobytes.
    #[inline]
    pub fn output_kb(&self) -> u16 {
        rd16(self.records, self.rec().wrapping_add(format::rec::OUTPUT_KB))
    }
    /// Offset of the entry's record in the record heap.
    #[inline]
    pub(crate) fn rec(&self) -> usize {
        self.rec as usize
    }
}

impl PartialEq for Entry<'_> {
    fn eq(&self, o: &Self) -> bool {
        self.id == o.id
            && self.flags == o.flags
            && self.name() == o.name()
            && self.exec_time_ms() == o.exec_time_ms()
            && self.memory_mb() == o.memory_mb()
            && self.output_kb() == o.output_kb()
    }
}
impl Eq for Entry<'_> {}

impl fmt::Debug for Entry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("id", &format_args!("{:#010x}", self.id))
            .field("name", &Bytes(self.name()))
            .field("flags", &self.flags())
            .field("exec_time_ms", &self.exec_time_ms())
            .field("memory_mb", &self.memory_mb())
            .field("output_kb", &self.output_kb())
            .finish()
    }
}

/// Debug-prints bytes as a string with escapes.
struct Bytes<'b>(&'b [u8]);
impl fmt::Debug for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.0.utf8_chunks() {
            write!(f, "{}", c.valid().escape_debug())?;
            for b in c.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        f.write_str("\"")
    }
}

impl<'a> Registry<'a> {
    /// Validates `bytes` as a registry image and borrows it. O(n): checks the CRC-32C of the whole
    /// image, every bucket and every record (including an MD5 per entry). Any alignment is accepted.
    pub fn load(bytes: &'a [u8]) -> Result<Registry<'a>, ImageError> {
        format::validate(bytes).map(|l| Registry { l })
    }

    /// A registry with no entries.
    pub const fn empty() -> Registry<'static> {
        Registry { l: Layout::EMPTY }
    }

    /// The image bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.l.image
    }

    /// Number of entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.l.count as usize
    }

    /// Whether the registry has no entries.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.l.count == 0
    }

    /// How many entries sit in a later bucket of the id table than their id's home bucket. A lookup of
    /// such an id probes past its home bucket, on a branch the CPU mispredicts. Images built at
    /// [`Density::Fast`] keep this low (3 of the built-in registry's 577 ids, 0.5 %; 60, 10.4 %, at
    /// [`Density::Compact`]). O(entries): a diagnostic (`tcapd registry inspect` prints it), not a
    /// lookup-path call.
    pub fn displaced_ids(&self) -> usize {
        let slots = format::ID_SLOTS;
        self.l
            .id_table
            .iter()
            .enumerate()
            .map(|(b, bucket)| {
                let used = usize::from(bucket[format::idb::COUNT]).min(slots);
                (0..used).filter(|&j| self.l.id_home_of(rd32(bucket, format::idb::KEYS + 4 * j)) != b).count()
            })
            .sum()
    }

    /// Most whitespace-separated words in any registered name (how far [`resolve`](Self::resolve) looks).
    pub fn max_words(&self) -> usize {
        self.l.max_words as usize
    }

    #[inline(always)]
    fn entry_at(&self, rec: u32) -> Entry<'a> {
        entry_at(self.l.records, rec)
    }

    /// The entry with command id `id`. Touches one cache line in the common case (and the record heap
    /// only when a cold field — name or performance — is read).
    #[inline]
    pub fn get(&self, id: u32) -> Option<Entry<'a>> {
        self.l.find_id(id).map(|(flags, rec)| Entry { id, flags, rec, records: self.l.records })
    }

    /// The entry named exactly `name` (bytes as registered: no trimming, no case folding).
    #[inline]
    pub fn get_by_name(&self, name: &[u8]) -> Option<Entry<'a>> {
        self.l.find_name(name).map(|r| self.entry_at(r))
    }

    /// Batched [`get`](Self::get): `out[i] = self.get(ids[i])` for `i < min(ids.len(), out.len())`.
    ///
    /// A lookup by id costs one cache line, and the lookups of a batch are independent, so the CPU's
    /// out-of-order window overlaps their misses by itself. A touch pass (load each home bucket of a
    /// group first, or a fixed distance ahead, with real loads) was
    /// measured *slower* on the benchmark machine (10.5 vs 8.3 ns per lookup at 1M entries): the extra
    /// loads only compete for the same fill buffers. So this is a tight loop with no data-dependent
    /// work between lookups. (Contrast [`get_many_by_name`](Self::get_many_by_name), whose two dependent
    /// misses per name do gain from explicit passes.)
    pub fn get_many(&self, ids: &[u32], out: &mut [Option<Entry<'a>>]) {
        for (o, &id) in out.iter_mut().zip(ids) {
            *o = self.get(id);
        }
    }

    /// Batched [`get_by_name`](Self::get_by_name): `out[i] = self.get_by_name(names[i])` for
    /// `i < min(names.len(), out.len())`.
    ///
    /// Five passes over each group of 32: hash every name; touch every home bucket; read each bucket's
    /// likely candidate; touch every candidate record; then verify. The touch passes are tight loops of
    /// independent loads, so the two dependent misses of a name lookup (bucket, then record) overlap
    /// across the whole group.
    pub fn get_many_by_name(&self, names: &[&[u8]], out: &mut [Option<Entry<'a>>]) {
        let table = self.l.name_table;
        if table.len() <= SMALL_TABLE_BUCKETS {
            for (o, name) in out.iter_mut().zip(names) {
                *o = self.get_by_name(name);
            }
            return;
        }
        let records = self.l.records;
        for (names, out) in names.chunks(NAME_BATCH).zip(out.chunks_mut(NAME_BATCH)) {
            let n = names.len();
            // Pass 1: hash every name (ALU only, no loads but the query bytes).
            let mut hb = [(0u64, 0usize); NAME_BATCH];
            for (x, name) in hb.iter_mut().zip(names) {
                let h = format::name_hash(self.l.name_seed, name);
                *x = (h, format::name_home_bucket(h, self.l.name_home));
            }
            // Pass 2: touch every home bucket. A handful of instructions per load, so the whole group's
            // misses fit in the out-of-order window at once (touching inside the hash loop let the
            // window fill with hashing work behind the first miss).
            let mut touch = 0u8;
            for &(_, b) in hb.iter().take(n) {
                touch ^= table.get(b).map_or(0, |b| b[format::nmb::COUNT]);
            }
            // Pass 3: each bucket's likely candidate (the buckets are arriving or in L1).
            let mut cand = [0u32; NAME_BATCH];
            for (c, &(h, b)) in cand.iter_mut().zip(&hb).take(n) {
                *c = self.l.name_candidate(h, b);
            }
            // Pass 4: touch every candidate record, again in a tight loop.
            for &r in cand.iter().take(n) {
                touch ^= format::rd8(records, (r as usize).wrapping_add(format::rec::NAME_LEN));
            }
            core::hint::black_box(touch);
            // Pass 5: verify (everything is now in cache).
            for ((o, name), &(h, b)) in out.iter_mut().zip(names).zip(&hb) {
                *o = match name.is_empty() {
                    true => None,
                    false => self.l.find_name_from(name, h, b).map(|r| self.entry_at(r)),
                };
            }
        }
    }

    /// The entry of the longest registered prefix of `command_line`, read as whitespace-separated words
    /// joined by single spaces: `"git clone https://x"` finds `"git clone"`, `"rm -rf /"` finds `"rm"`.
    ///
    /// Leading whitespace is skipped; runs of spaces and tabs between words count as one space. Looks
    /// at most [`max_words`](Self::max_words) words and [`RESOLVE_MAX`] bytes. Shell syntax is not
    /// interpreted (`"ls;rm"` is one unknown word), and an unknown command gives `None`, which callers
    /// must treat as unknown, never as safe. No allocation.
    pub fn resolve(&self, command_line: &[u8]) -> Option<Resolved<'a>> {
        let mut buf = [0u8; RESOLVE_MAX];
        let mut len = 0;
        let mut words = 0;
        let mut best = None;
        let mut i = 0;
        let line = command_line;
        while words < self.l.max_words as usize {
            while line.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
                i += 1;
            }
            let start = i;
            while line.get(i).is_some_and(|c| !c.is_ascii_whitespace()) {
                i += 1;
            }
            let Some(word) = line.get(start..i).filter(|w| !w.is_empty()) else { break };
            let sep = usize::from(words > 0);
            let Some(dst) = buf.get_mut(len..len + sep + word.len()) else { break };
            if sep == 1 {
                dst[0] = b' ';
            }
            dst[sep..].copy_from_slice(word);
            len += sep + word.len();
            words += 1;
            if let Some(entry) = buf.get(..len).and_then(|p| self.get_by_name(p)) {
                best = Some(Resolved { entry, words, matched_len: i });
            }
        }
        best
    }

    /// All entries, in the order the image stores them: id-table order (by bucket, then slot), which
    /// is fixed for a given image but follows the id hash, not the names. Sort by
    /// [`Entry::name`] for a listing.
    pub fn iter(&self) -> Iter<'a> {
        Iter { records: self.l.records, at: 0, left: self.l.count as usize }
    }
}

/// The entry whose record starts at `rec` (its id and flags read from the record).
#[inline(always)]
fn entry_at(records: &[u8], rec: u32) -> Entry<'_> {
    let r = rec as usize;
    let id = rd32(records, r.wrapping_add(format::rec::ID));
    let flags = rd32(records, r.wrapping_add(format::rec::FLAGS));
    Entry { id, flags, rec, records }
}

impl<'a> IntoIterator for &Registry<'a> {
    type Item = Entry<'a>;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Iterator over a registry's entries, in the image's (id-table) order.
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    records: &'a [u8],
    at: usize,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Entry<'a>;
    fn next(&mut self) -> Option<Entry<'a>> {
        if self.left == 0 || self.at >= self.records.len() {
            return None;
        }
        let r = self.at;
        let e = entry_at(self.records, r as u32);
        self.at = format::next_record(r, rd16(self.records, r + format::rec::NAME_LEN) as usize);
        self.left -= 1;
        Some(e)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Iter<'_> {}

// ---------------------------------------------------------------------------------------------------
// Builder (alloc).

/// One entry to add to a [`Builder`].
#[cfg(feature = "alloc")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntrySpec<'n> {
    /// Command name; its id is MD5(name)[0..4].
    pub name: &'n [u8],
    /// Canonical flags, risk bits included.
    pub flags: Flags,
    /// Typical execution time, ms.
    pub exec_time_ms: u32,
    /// Typical memory, MB.
    pub memory_mb: u16,
    /// Typical output, KB.
    pub output_kb: u16,
}

/// Collects entries and writes a registry image.
#[cfg(feature = "alloc")]
#[derive(Clone, Debug, Default)]
pub struct Builder {
    specs: alloc::vec::Vec<builder::RawSpec>,
    density: Density,
}

#[cfg(feature = "alloc")]
impl Builder {
    /// An empty builder.
    pub fn new() -> Builder {
        Builder::default()
    }
    /// An empty builder with room for `n` entries.
    pub fn with_capacity(n: usize) -> Builder {
        Builder { specs: alloc::vec::Vec::with_capacity(n), density: Density::default() }
    }
    /// Adds an entry (duplicates are reported by [`build`](Self::build), with both positions).
    pub fn push(&mut self, spec: EntrySpec<'_>) -> &mut Builder {
        self.specs.push(builder::RawSpec {
            name: spec.name.to_vec(),
            flags: spec.flags.0,
            exec_time_ms: spec.exec_time_ms,
            memory_mb: spec.memory_mb,
            output_kb: spec.output_kb,
        });
        self
    }
    /// Sets how densely the id table is filled (default [`Density::Fast`]).
    pub fn density(&mut self, density: Density) -> &mut Builder {
        self.density = density;
        self
    }
    /// Number of entries added.
    pub fn len(&self) -> usize {
        self.specs.len()
    }
    /// Whether no entry was added.
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }
    /// Writes the image. Refuses empty or over-long names, duplicate names and colliding ids, naming
    /// the entries by the position they were pushed at. Deterministic: the same set of entries gives the
    /// same bytes whatever order they were pushed in.
    pub fn build(&self) -> Result<alloc::vec::Vec<u8>, BuildError> {
        builder::build_image(&self.specs, self.density)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ImageError {}
#[cfg(feature = "std")]
impl std::error::Error for BuildError {}

// ---------------------------------------------------------------------------------------------------
// Built-in registry.

#[repr(C, align(64))]
struct Aligned<T: ?Sized>(T);

static BUILTIN_FAST: &Aligned<[u8]> =
    &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/builtin_registry.bin")));
static BUILTIN_COMPACT: &Aligned<[u8]> =
    &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/builtin_registry_compact.bin")));

/// The built-in registry image (compiled from `core/data/builtin.tsv`), 64-byte aligned, at this
/// target's density: [`Density::Compact`] on targets without an OS (firmware, whose flash is tight),
/// [`Density::Fast`] elsewhere.
pub fn builtin_image() -> &'static [u8] {
    #[cfg(target_os = "none")]
    let image = &BUILTIN_COMPACT.0;
    #[cfg(not(target_os = "none"))]
    let image = &BUILTIN_FAST.0;
    image
}

/// The built-in registry image at a given density (both are built and validated by `core/build.rs`).
/// A host uses this to know the bytes a firmware build carries. A program that calls only
/// [`builtin_image`] links one image; one that calls this links both.
pub fn builtin_image_at(density: Density) -> &'static [u8] {
    match density {
        Density::Fast => &BUILTIN_FAST.0,
        Density::Compact => &BUILTIN_COMPACT.0,
    }
}

/// The built-in registry. O(1): `build.rs` ran the full validator on these exact bytes, so this only
/// parses the header (and a test re-runs [`Registry::load`] on them). Never fails: a header that did not
/// parse would give the empty registry, under which every command is unknown.
pub fn builtin() -> Registry<'static> {
    match Layout::parse(builtin_image()) {
        Ok(l) => Registry { l },
        Err(_) => Registry::empty(),
    }
}

#[cfg(test)]
mod tests;
