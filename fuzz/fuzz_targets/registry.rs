//! `tcap_core::registry::Registry::load` on arbitrary bytes (the image checksum counts as verified under
//! `cfg(fuzzing)`, so mutations reach the structural validator). Invariants: nothing panics; when an image
//! is accepted, every query is consistent: each entry of `iter` is found again by `get(id)` and by
//! `get_by_name(name)` at the very record `iter` is on, its id is `command_id(name)`, `iter` yields
//! exactly `len()` entries with distinct names, `get_many` and `get_many_by_name` agree with the single
//! lookups, and `resolve` on arbitrary lines returns an entry whose name is a word prefix of the line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcap_core::registry::Registry;
use tcap_core::wire::command_id;

fn check_entry(reg: &Registry<'_>, id: u32, name: &[u8]) {
    let by_id = reg.get(id).expect("entry not found by its id");
    assert_eq!(by_id.id(), id);
    let by_name = reg.get_by_name(name).expect("entry not found by its name");
    assert_eq!(by_name.name(), name);
    assert_eq!(by_name.id(), id);
    assert_eq!(command_id(name), id);
    assert_eq!(by_id, by_name);
    // The same record, not merely an equal one: the name slices are the same bytes of the image.
    assert_eq!(by_id.name().as_ptr(), by_name.name().as_ptr());
}

fuzz_target!(|data: &[u8]| {
    // The whole input is tried as an image, and so is its head: the last byte `n` splits off the `n`
    // bytes before it as probe lines (for `resolve`, `get_many`, `get_many_by_name`).
    let Some((&n, rest)) = data.split_last() else { return };
    let (image, probes) = rest.split_at(rest.len().saturating_sub(n as usize));
    for bytes in [data, image] {
        let Ok(reg) = Registry::load(bytes) else { continue };
        assert_eq!(reg.as_bytes(), bytes);
        assert_eq!(reg.is_empty(), reg.iter().next().is_none());
        let mut n = 0usize;
        let mut ids = [0u32; 32];
        for e in reg.iter() {
            check_entry(&reg, e.id(), e.name());
            // Found again at the record `iter` is on: distinct entries, distinct records, distinct names.
            assert_eq!(reg.get(e.id()).map(|x| x.name().as_ptr()), Some(e.name().as_ptr()));
            if n < ids.len() {
                ids[n] = e.id();
            }
            n += 1;
        }
        assert_eq!(n, reg.len());
        assert_eq!(reg.iter().len(), reg.len());

        // Batched lookups agree with single lookups (known ids mixed with arbitrary ones).
        let m = n.min(ids.len());
        for (i, w) in probes.chunks(4).take(ids.len() - m).enumerate() {
            let mut b = [0u8; 4];
            b[..w.len()].copy_from_slice(w);
            ids[m + i] = u32::from_le_bytes(b);
        }
        let mut out = [None; 32];
        reg.get_many(&ids, &mut out);
        for (id, got) in ids.iter().zip(&out) {
            assert_eq!(*got, reg.get(*id));
            if let Some(e) = got {
                assert_eq!(e.id(), *id);
                check_entry(&reg, e.id(), e.name());
            }
        }

        // Names: arbitrary pieces of the probes plus every entry name.
        let mut names: [&[u8]; 40] = [&[]; 40];
        let mut k = 0;
        for piece in probes.split(|&c| c == b'\n').take(8) {
            names[k] = piece;
            k += 1;
        }
        for e in reg.iter().take(names.len() - k) {
            names[k] = e.name();
            k += 1;
        }
        let mut out = [None; 40];
        reg.get_many_by_name(&names[..k], &mut out);
        for (name, got) in names[..k].iter().zip(&out) {
            assert_eq!(*got, reg.get_by_name(name));
            if let Some(e) = got {
                assert_eq!(e.name(), *name);
                check_entry(&reg, e.id(), e.name());
            }
        }

        // resolve: the match is a registered entry whose name, words joined by single spaces, is what
        // the line's first `words` words spell.
        for line in probes.split(|&c| c == b'\n').take(8) {
            let Some(r) = reg.resolve(line) else { continue };
            assert!(r.words >= 1 && r.matched_len <= line.len());
            check_entry(&reg, r.entry.id(), r.entry.name());
            let mut spelled = [0u8; 1024];
            let mut len = 0;
            for (i, w) in
                line[..r.matched_len].split(|c| c.is_ascii_whitespace()).filter(|w| !w.is_empty()).enumerate()
            {
                let sep = usize::from(i > 0);
                let dst = &mut spelled[len..len + sep + w.len()];
                if sep == 1 {
                    dst[0] = b' ';
                }
                dst[sep..].copy_from_slice(w);
                len += sep + w.len();
            }
            assert_eq!(&spelled[..len], r.entry.name());
        }
    }
});
