//! The upstream `TCPDB\x02` container. Invariants: nothing panics; the lazy iterators agree with
//! `validate`; after a successful `validate` the entries are exactly `count`, strictly sorted, tile the
//! file up to the index, every index record resolves (via `entry_at`) to the entry of its name, and every
//! offset lies inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcap_core::wire::tcpdb::{TCPDB_HEADER_LEN, TcpDb};
use tcap_core::wire::{Flavour, decode};

fuzz_target!(|data: &[u8]| {
    let Ok(db) = TcpDb::new(data) else { return };
    assert!(db.index_offset() >= TCPDB_HEADER_LEN && db.index_offset() <= data.len());
    let _ = db.created_unix();

    let mut entries_ok = true;
    let mut n = 0u32;
    let mut prev: Option<&[u8]> = None;
    let mut end = TCPDB_HEADER_LEN;
    for e in db.entries() {
        match e {
            Ok(e) => {
                assert_eq!(e.offset, end, "entries tile the section");
                assert!(!e.name.is_empty());
                assert!(prev.is_none_or(|p| p < e.name), "strictly sorted");
                end = e.offset + 2 + e.name.len() + 24;
                assert!(end <= db.index_offset());
                assert_eq!(db.entry_at(e.offset as u64), Some(e));
                // Descriptors are bytes; decoding them must not panic either.
                let _ = decode(e.descriptor, Some(Flavour::KnowledgeBase));
                prev = Some(e.name);
                n += 1;
            }
            Err(err) => {
                let _ = std::format!("{err}");
                entries_ok = false;
            }
        }
    }
    let mut index_ok = true;
    let mut index_n = 0u32;
    for r in db.index() {
        match r {
            Ok(r) => {
                assert!(r.offset >= db.index_offset() && r.offset + 2 + r.name.len() + 8 <= data.len());
                if let Some(e) = db.entry_at(r.target) {
                    assert!(e.offset >= TCPDB_HEADER_LEN && e.offset < db.index_offset());
                }
                index_n += 1;
            }
            Err(_) => index_ok = false,
        }
    }
    let v = db.validate();
    assert_eq!(v, TcpDb::new_checked(data).map(|_| ()));
    if v.is_ok() {
        assert!(entries_ok && index_ok);
        assert_eq!(n, db.count());
        assert_eq!(index_n, db.count());
        assert_eq!(end, db.index_offset(), "entries end where the index begins");
        for r in db.index() {
            let r = r.unwrap();
            let e = db.entry_at(r.target).expect("validated index targets resolve");
            assert_eq!(e.name, r.name);
        }
    } else if entries_ok && index_ok {
        // Only the cross-checks can have failed: a count or a target.
        assert!(
            n != db.count()
                || index_n != db.count()
                || db.index().any(|r| {
                    let r = r.unwrap();
                    db.entry_at(r.target).is_none_or(|e| e.name != r.name)
                })
        );
    }
});
