//! A zero-copy reader of upstream's `TCPDB\x02` container (`tcp_complete.db`).
//!
//! Layout (all integers big-endian; docs/FORMAT.md has the byte-by-byte table):
//!
//! ```text
//! 0   6  "TCPDB\x02"
//! 6   4  u32 entry count N
//! 10  8  u64 unix time of creation
//! 18  4  u32 index size in bytes
//! 22  .. N entries, sorted by name (bytewise), names unique:
//!          u16 name length L (>= 1), L name bytes, 24-byte knowledge-base descriptor
//! ..  .. index (exactly "index size" bytes, the rest of the file), N records:
//!          u16 name length L (>= 1), L name bytes, u64 offset of that name's entry
//! ```
//!
//! [`TcpDb::new`] checks the header; [`TcpDb::entries`] and [`TcpDb::index`] walk lazily and yield
//! typed errors carrying the byte offset; [`TcpDb::validate`] (and [`TcpDb::new_checked`]) walks both,
//! and checks order, uniqueness, the entry count, that entries and index tile the file exactly, and
//! that every index offset points at the entry of the same name. Descriptors are returned as bytes;
//! verify them with [`super::decode`]. No input makes any of this panic.

use core::fmt;

/// The six magic bytes at offset 0.
pub const TCPDB_MAGIC: [u8; 6] = *b"TCPDB\x02";
/// Length of the fixed header.
pub const TCPDB_HEADER_LEN: usize = 22;

const _: () = assert!(TCPDB_MAGIC.len() + 4 + 8 + 4 == TCPDB_HEADER_LEN);

/// What is wrong with a `TCPDB` container, and where (byte offset from the start of the file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpDbError {
    /// Shorter than the 22-byte header.
    TruncatedHeader,
    /// Bytes 0..6 are not `"TCPDB\x02"`.
    BadMagic,
    /// The index size in the header does not fit in the file after the header.
    IndexSize {
        /// Index size from the header.
        index_size: u32,
    },
    /// A record (entry or index) runs past the end of its section.
    Truncated {
        /// Offset of the record.
        offset: usize,
    },
    /// A zero-length name.
    EmptyName {
        /// Offset of the record.
        offset: usize,
    },
    /// An entry's name is not strictly greater than the previous one (unsorted or duplicate).
    Unsorted {
        /// Offset of the entry.
        offset: usize,
    },
    /// The entries section does not hold exactly the header's count of entries ending where the
    /// index begins.
    Count {
        /// Entries found before the index.
        found: u32,
        /// Count in the header.
        expected: u32,
    },
    /// Bytes remain between the header's count of entries and the index.
    ExtraBytes {
        /// Offset of the first such byte.
        offset: usize,
    },
    /// An index record's offset does not point at the entry of the same name.
    IndexOffset {
        /// Offset of the index record.
        offset: usize,
        /// The offset it holds.
        target: u64,
    },
}

impl fmt::Display for TcpDbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TcpDbError::TruncatedHeader => {
                write!(f, "TCPDB: shorter than the {TCPDB_HEADER_LEN}-byte header")
            }
            TcpDbError::BadMagic => f.write_str("TCPDB: bad magic (want \"TCPDB\\x02\")"),
            TcpDbError::IndexSize { index_size } => {
                write!(f, "TCPDB: index size {index_size} does not fit in the file")
            }
            TcpDbError::Truncated { offset } => write!(f, "TCPDB: record at byte {offset} is truncated"),
            TcpDbError::EmptyName { offset } => write!(f, "TCPDB: empty name at byte {offset}"),
            TcpDbError::Unsorted { offset } => {
                write!(f, "TCPDB: entry at byte {offset} is out of order or a duplicate")
            }
            TcpDbError::Count { found, expected } => {
                write!(f, "TCPDB: header says {expected} entries, the entry section holds {found}")
            }
            TcpDbError::ExtraBytes { offset } => {
                write!(f, "TCPDB: unexpected bytes at {offset}, after the last entry and before the index")
            }
            TcpDbError::IndexOffset { offset, target } => write!(
                f,
                "TCPDB: index record at byte {offset} points at {target}, not at the entry of its name"
            ),
        }
    }
}

impl core::error::Error for TcpDbError {}

/// A `TCPDB\x02` container whose header has been checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpDb<'a> {
    bytes: &'a [u8],
    count: u32,
    created: u64,
    index_start: usize,
}

/// One entry: a command name and its 24-byte descriptor (not yet verified).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpDbEntry<'a> {
    /// Byte offset of the entry (its name-length field) in the file.
    pub offset: usize,
    /// The command name, as stored (UTF-8 upstream, not checked here).
    pub name: &'a [u8],
    /// The descriptor bytes.
    pub descriptor: &'a [u8; 24],
}

/// One index record: a name and the offset of its entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpDbIndexEntry<'a> {
    /// Byte offset of this index record in the file.
    pub offset: usize,
    /// The command name.
    pub name: &'a [u8],
    /// The offset of the entry it points at, as stored.
    pub target: u64,
}

fn be_u16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at.checked_add(2)?)?.try_into().ok().map(u16::from_be_bytes)
}
fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at.checked_add(4)?)?.try_into().ok().map(u32::from_be_bytes)
}
fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at.checked_add(8)?)?.try_into().ok().map(u64::from_be_bytes)
}

/// Reads `[u16 len][name][tail]` at offset `at` of `section` (which starts at file offset 0); returns
/// the name, the tail and the offset after the record.
fn record<const TAIL: usize>(section: &[u8], at: usize) -> Result<(&[u8], &[u8; TAIL], usize), TcpDbError> {
    let err = TcpDbError::Truncated { offset: at };
    let len = be_u16(section, at).ok_or(err)? as usize;
    if len == 0 {
        return Err(TcpDbError::EmptyName { offset: at });
    }
    let name_end = at + 2 + len;
    let end = name_end + TAIL;
    let name = section.get(at + 2..name_end).ok_or(err)?;
    let tail: &[u8; TAIL] = section.get(name_end..end).and_then(|t| t.try_into().ok()).ok_or(err)?;
    Ok((name, tail, end))
}

impl<'a> TcpDb<'a> {
    /// Checks the header (magic, and that the index size fits in the file).
    pub fn new(bytes: &'a [u8]) -> Result<Self, TcpDbError> {
        let magic = bytes.get(..6).ok_or(TcpDbError::TruncatedHeader)?;
        if bytes.len() < TCPDB_HEADER_LEN {
            return Err(TcpDbError::TruncatedHeader);
        }
        if magic != TCPDB_MAGIC {
            return Err(TcpDbError::BadMagic);
        }
        let count = be_u32(bytes, 6).ok_or(TcpDbError::TruncatedHeader)?;
        let created = be_u64(bytes, 10).ok_or(TcpDbError::TruncatedHeader)?;
        let index_size = be_u32(bytes, 18).ok_or(TcpDbError::TruncatedHeader)?;
        let index_start = (bytes.len() - TCPDB_HEADER_LEN)
            .checked_sub(index_size as usize)
            .map(|entries_len| TCPDB_HEADER_LEN + entries_len)
            .ok_or(TcpDbError::IndexSize { index_size })?;
        Ok(TcpDb { bytes, count, created, index_start })
    }

    /// [`TcpDb::new`] followed by [`TcpDb::validate`].
    pub fn new_checked(bytes: &'a [u8]) -> Result<Self, TcpDbError> {
        let db = Self::new(bytes)?;
        db.validate()?;
        Ok(db)
    }

    /// Entry count from the header.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Creation time from the header (unix seconds).
    pub fn created_unix(&self) -> u64 {
        self.created
    }

    /// Byte offset where the index begins (the end of the entries).
    pub fn index_offset(&self) -> usize {
        self.index_start
    }

    /// Entries in file order. Each item is checked for length, a non-empty name and strict name order;
    /// after the last entry the iterator checks the count against the header. It stops after the first
    /// error.
    pub fn entries(&self) -> Entries<'a> {
        Entries {
            section: self.bytes.get(..self.index_start).unwrap_or(&[]),
            at: TCPDB_HEADER_LEN,
            found: 0,
            expected: self.count,
            prev: None,
            done: false,
        }
    }

    /// Index records in file order, checked for length and a non-empty name (not for their targets:
    /// [`TcpDb::validate`] does that). Stops after the first error.
    pub fn index(&self) -> IndexEntries<'a> {
        IndexEntries { bytes: self.bytes, at: self.index_start, done: false }
    }

    /// The entry at a byte offset (as stored in the index), if a well-formed entry starts there.
    pub fn entry_at(&self, offset: u64) -> Option<TcpDbEntry<'a>> {
        let at = usize::try_from(offset).ok()?;
        if at < TCPDB_HEADER_LEN || at >= self.index_start {
            return None;
        }
        let section = self.bytes.get(..self.index_start)?;
        let (name, descriptor, _) = record::<24>(section, at).ok()?;
        Some(TcpDbEntry { offset: at, name, descriptor })
    }

    /// Walks everything: every entry (lengths, order, uniqueness, count), every index record (lengths),
    /// the index count, and that each index record points at the entry of its name. O(N), no allocation.
    pub fn validate(&self) -> Result<(), TcpDbError> {
        for e in self.entries() {
            e?;
        }
        let mut n = 0u32;
        for r in self.index() {
            let r = r?;
            match self.entry_at(r.target) {
                Some(e) if e.name == r.name => {}
                _ => return Err(TcpDbError::IndexOffset { offset: r.offset, target: r.target }),
            }
            n = n.saturating_add(1);
        }
        // The index names entries only by offset; its count must match too (duplicates are impossible
        // to detect without allocation, but a wrong count is not).
        if n != self.count {
            return Err(TcpDbError::Count { found: n, expected: self.count });
        }
        Ok(())
    }
}

/// Iterator over the entries of a [`TcpDb`]; see [`TcpDb::entries`].
#[derive(Clone, Debug)]
pub struct Entries<'a> {
    section: &'a [u8],
    at: usize,
    found: u32,
    expected: u32,
    prev: Option<&'a [u8]>,
    done: bool,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<TcpDbEntry<'a>, TcpDbError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.found >= self.expected || self.at >= self.section.len() {
            self.done = true;
            return if self.at < self.section.len() {
                Some(Err(TcpDbError::ExtraBytes { offset: self.at }))
            } else if self.found < self.expected {
                Some(Err(TcpDbError::Count { found: self.found, expected: self.expected }))
            } else {
                None
            };
        }
        let offset = self.at;
        let item = record::<24>(self.section, offset).and_then(|(name, descriptor, end)| {
            if self.prev.is_some_and(|p| p >= name) {
                return Err(TcpDbError::Unsorted { offset });
            }
            self.prev = Some(name);
            self.at = end;
            self.found += 1;
            Ok(TcpDbEntry { offset, name, descriptor })
        });
        if item.is_err() {
            self.done = true;
        }
        Some(item)
    }
}

impl core::iter::FusedIterator for Entries<'_> {}

/// Iterator over the index records of a [`TcpDb`]; see [`TcpDb::index`].
#[derive(Clone, Debug)]
pub struct IndexEntries<'a> {
    bytes: &'a [u8],
    at: usize,
    done: bool,
}

impl<'a> Iterator for IndexEntries<'a> {
    type Item = Result<TcpDbIndexEntry<'a>, TcpDbError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.at >= self.bytes.len() {
            self.done = true;
            return None;
        }
        let offset = self.at;
        let item = record::<8>(self.bytes, offset).map(|(name, target, end)| {
            self.at = end;
            TcpDbIndexEntry { offset, name, target: u64::from_be_bytes(*target) }
        });
        if item.is_err() {
            self.done = true;
        }
        Some(item)
    }
}

impl core::iter::FusedIterator for IndexEntries<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KB_BANG: [u8; 24] = [
        0x54, 0x43, 0x50, 0x02, 0x00, 0x02, 0x90, 0x33, 0xe0, 0xe3, 0x00, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00,
        0x64, 0x00, 0x0a, 0x00, 0x01, 0x03, 0xe5,
    ];
    const KB_LS: [u8; 24] = [
        0x54, 0x43, 0x50, 0x02, 0x00, 0x02, 0x44, 0xba, 0x5c, 0xa6, 0x00, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00,
        0x64, 0x00, 0x0a, 0x00, 0x01, 0x03, 0x60,
    ];

    /// Builds a container the way upstream does (into a fixed buffer; returns the length).
    fn build(entries: &[(&[u8], [u8; 24])], out: &mut [u8; 512]) -> usize {
        let mut p = TCPDB_HEADER_LEN;
        let mut offs = [0usize; 8];
        for (i, (name, d)) in entries.iter().enumerate() {
            offs[i] = p;
            out[p..p + 2].copy_from_slice(&(name.len() as u16).to_be_bytes());
            out[p + 2..p + 2 + name.len()].copy_from_slice(name);
            out[p + 2 + name.len()..p + 26 + name.len()].copy_from_slice(d);
            p += 26 + name.len();
        }
        let index_start = p;
        for (i, (name, _)) in entries.iter().enumerate() {
            out[p..p + 2].copy_from_slice(&(name.len() as u16).to_be_bytes());
            out[p + 2..p + 2 + name.len()].copy_from_slice(name);
            out[p + 2 + name.len()..p + 10 + name.len()].copy_from_slice(&(offs[i] as u64).to_be_bytes());
            p += 10 + name.len();
        }
        out[..6].copy_from_slice(&TCPDB_MAGIC);
        out[6..10].copy_from_slice(&(entries.len() as u32).to_be_bytes());
        out[10..18].copy_from_slice(&1_752_120_397u64.to_be_bytes());
        out[18..22].copy_from_slice(&((p - index_start) as u32).to_be_bytes());
        p
    }

    fn sample(out: &mut [u8; 512]) -> usize {
        build(&[(b"!", KB_BANG), (b"ls", KB_LS)], out)
    }

    #[test]
    fn reads_small_container() {
        let mut buf = [0u8; 512];
        let n = sample(&mut buf);
        // Upstream's first entry sits right after the header: offset 22, as in tcp_complete.db.
        assert_eq!(&buf[22..25], &[0, 1, b'!']);
        let db = TcpDb::new_checked(&buf[..n]).unwrap();
        assert_eq!(db.count(), 2);
        assert_eq!(db.created_unix(), 1_752_120_397);
        assert_eq!(db.index_offset(), 22 + 27 + 28);
        let mut it = db.entries();
        let a = it.next().unwrap().unwrap();
        assert_eq!((a.offset, a.name, a.descriptor), (22, &b"!"[..], &KB_BANG));
        let b = it.next().unwrap().unwrap();
        assert_eq!((b.offset, b.name, b.descriptor), (49, &b"ls"[..], &KB_LS));
        assert!(it.next().is_none());
        assert!(it.next().is_none());
        let idx: [TcpDbIndexEntry<'_>; 2] = {
            let mut i = db.index().map(Result::unwrap);
            [i.next().unwrap(), i.next().unwrap()]
        };
        assert_eq!((idx[0].name, idx[0].target), (&b"!"[..], 22));
        assert_eq!((idx[1].name, idx[1].target), (&b"ls"[..], 49));
        assert_eq!(db.entry_at(49).unwrap().name, b"ls");
        assert_eq!(db.entry_at(50), None);
        assert_eq!(db.entry_at(u64::MAX), None);
        // Every descriptor verifies as knowledge base.
        for e in db.entries() {
            let d = super::super::decode(e.unwrap().descriptor, None).unwrap();
            assert_eq!(d.flavour, super::super::Flavour::KnowledgeBase);
        }
    }

    #[test]
    fn empty_container() {
        let mut buf = [0u8; 512];
        let n = build(&[], &mut buf);
        assert_eq!(n, 22);
        let db = TcpDb::new_checked(&buf[..n]).unwrap();
        assert_eq!(db.entries().count(), 0);
        assert_eq!(db.index().count(), 0);
    }

    #[test]
    fn header_errors() {
        let mut buf = [0u8; 512];
        let n = sample(&mut buf);
        assert_eq!(TcpDb::new(&buf[..21]), Err(TcpDbError::TruncatedHeader));
        assert_eq!(TcpDb::new(&buf[..3]), Err(TcpDbError::TruncatedHeader));
        let mut m = buf;
        m[5] = 1;
        assert_eq!(TcpDb::new(&m[..n]), Err(TcpDbError::BadMagic));
        let mut s = buf;
        s[18..22].copy_from_slice(&(n as u32).to_be_bytes());
        assert_eq!(TcpDb::new(&s[..n]), Err(TcpDbError::IndexSize { index_size: n as u32 }));
    }

    #[test]
    fn entry_errors() {
        let mut buf = [0u8; 512];
        let n = sample(&mut buf);
        // Wrong count in the header (too many, too few).
        let mut c = buf;
        c[6..10].copy_from_slice(&3u32.to_be_bytes());
        assert_eq!(TcpDb::new_checked(&c[..n]), Err(TcpDbError::Count { found: 2, expected: 3 }));
        c[6..10].copy_from_slice(&1u32.to_be_bytes());
        assert_eq!(TcpDb::new_checked(&c[..n]), Err(TcpDbError::ExtraBytes { offset: 49 }));
        // Unsorted / duplicate names.
        let n2 = build(&[(b"ls", KB_LS), (b"!", KB_BANG)], &mut buf);
        assert_eq!(TcpDb::new_checked(&buf[..n2]), Err(TcpDbError::Unsorted { offset: 50 }));
        let n3 = build(&[(b"ls", KB_LS), (b"ls", KB_LS)], &mut buf);
        assert_eq!(TcpDb::new_checked(&buf[..n3]), Err(TcpDbError::Unsorted { offset: 50 }));
        // Empty name.
        let n4 = build(&[(b"", KB_LS)], &mut buf);
        assert_eq!(TcpDb::new_checked(&buf[..n4]), Err(TcpDbError::EmptyName { offset: 22 }));
        // A name length running past the entries.
        let n5 = sample(&mut buf);
        buf[49..51].copy_from_slice(&200u16.to_be_bytes());
        assert_eq!(TcpDb::new_checked(&buf[..n5]), Err(TcpDbError::Truncated { offset: 49 }));
        // The iterator stops after the first error.
        let db = TcpDb::new(&buf[..n5]).unwrap();
        let mut it = db.entries();
        assert!(it.next().unwrap().is_ok());
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }

    #[test]
    fn index_errors() {
        let mut buf = [0u8; 512];
        let n = sample(&mut buf);
        let idx = TcpDb::new(&buf[..n]).unwrap().index_offset();
        // Index offset pointing at the wrong entry.
        let mut w = buf;
        w[idx + 3..idx + 11].copy_from_slice(&49u64.to_be_bytes());
        assert_eq!(TcpDb::new_checked(&w[..n]), Err(TcpDbError::IndexOffset { offset: idx, target: 49 }));
        // Index offset pointing into the middle of an entry / the header / past the end.
        for t in [23u64, 0, n as u64, u64::MAX] {
            w[idx + 3..idx + 11].copy_from_slice(&t.to_be_bytes());
            assert_eq!(TcpDb::new_checked(&w[..n]), Err(TcpDbError::IndexOffset { offset: idx, target: t }));
        }
        // Truncated index record: cut the file and shrink the index size to match.
        let mut t = buf;
        let isz = (n - idx - 1) as u32;
        t[18..22].copy_from_slice(&isz.to_be_bytes());
        assert_eq!(TcpDb::new_checked(&t[..n - 1]), Err(TcpDbError::Truncated { offset: idx + 11 }));
        // Index size too small: the entries section then ends in index bytes.
        let mut s = buf;
        s[18..22].copy_from_slice(&11u32.to_be_bytes());
        assert_eq!(TcpDb::new_checked(&s[..n]), Err(TcpDbError::ExtraBytes { offset: idx }));
        // An index record with an empty name.
        let mut e = buf;
        e[idx..idx + 2].copy_from_slice(&0u16.to_be_bytes());
        assert_eq!(TcpDb::new_checked(&e[..n]), Err(TcpDbError::EmptyName { offset: idx }));
    }

    #[test]
    fn errors_display() {
        let mut s = [0u8; 128];
        let e = TcpDbError::IndexOffset { offset: 7, target: 9 };
        let mut w = Buf(&mut s, 0);
        core::fmt::write(&mut w, format_args!("{e}")).unwrap();
        let len = w.1;
        assert!(core::str::from_utf8(&s[..len]).unwrap().contains("byte 7"));
    }

    struct Buf<'a>(&'a mut [u8], usize);
    impl core::fmt::Write for Buf<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.1 + s.len();
            self.0.get_mut(self.1..end).ok_or(core::fmt::Error)?.copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(mut b in proptest::collection::vec(any::<u8>(), 0..200), magic in any::<bool>()) {
            if magic && b.len() >= 6 { b[..6].copy_from_slice(&TCPDB_MAGIC); }
            if let Ok(db) = TcpDb::new(&b) {
                let _ = db.validate();
                prop_assert!(db.entries().take(300).count() <= 200);
                let _ = db.index().take(300).count();
                let _ = db.entry_at(30);
            }
        }

        #[test]
        fn byte_flips_of_valid_container_never_panic(pos in 0usize..512, x in 1u8..=255) {
            let mut buf = [0u8; 512];
            let n = sample(&mut buf);
            let pos = pos % n;
            buf[pos] ^= x;
            if let Ok(db) = TcpDb::new(&buf[..n]) {
                let _ = db.validate();
                for e in db.entries() { let _ = e; }
            }
        }
    }
}
