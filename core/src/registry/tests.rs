//! Unit tests of the registry image: builder/loader round trip, duplicates, empty image, resolve edge
//! cases, and corruption (every byte flipped, every truncation).

use super::format::{self, hdr};
use super::*;
use crate::wire::command_id;

fn builtin_bytes() -> &'static [u8] {
    builtin_image()
}

#[test]
fn builtin_validates_fully_and_matches_fast_path() {
    let full = Registry::load(builtin_bytes()).expect("built-in image validates");
    let fast = builtin();
    assert_eq!(full.len(), fast.len());
    assert!(fast.len() >= 300, "{} entries", fast.len());
    assert_eq!(builtin_image().as_ptr() as usize % 64, 0, "embedded image is 64-byte aligned");
    for (a, b) in full.iter().zip(fast.iter()) {
        assert_eq!(a, b);
    }
}

/// The id table's load keeps most ids in their home bucket, so a lookup of a known id is one bucket
/// and its branch is predictable: at most 3 % of the built-in registry's ids may live in a later bucket
/// (at load 0.5 it is 3 of 577, 0.5 %; at load 0.8, the compact layout, 60 of 577, 10.4 %).
#[test]
fn builtin_ids_mostly_in_their_home_bucket() {
    let l = format::Layout::parse(builtin_bytes()).unwrap();
    let reg = builtin();
    let (mut n, mut away) = (0usize, 0usize);
    for e in reg.iter() {
        let home = l.id_home_of(e.id());
        let hit = l.find_id_from(e.id(), home);
        assert!(hit.is_some(), "id {:#010x} not found from its home bucket", e.id());
        let in_home = l.id_table[home][..4 * format::ID_SLOTS]
            .chunks_exact(4)
            .any(|k| u32::from_le_bytes([k[0], k[1], k[2], k[3]]) == e.id());
        n += 1;
        away += !in_home as usize;
    }
    assert!(n > 500, "{n} entries");
    assert!(away * 100 <= 3 * n, "{away} of {n} ids outside their home bucket");
    // The diagnostic counts the same ids, and the compact image displaces more of them.
    assert_eq!(reg.displaced_ids(), away);
    let compact = Registry::load(builtin_image_at(Density::Compact)).unwrap();
    assert!(compact.displaced_ids() > 2 * away, "compact {} vs fast {away}", compact.displaced_ids());
}

/// Both built-in images (the compact one is what firmware builds carry) validate in full and hold the
/// same entries, and `builtin_image()` is this target's.
#[test]
fn builtin_images_at_both_densities_agree() {
    let fast = Registry::load(builtin_image_at(Density::Fast)).expect("fast image validates");
    let compact = Registry::load(builtin_image_at(Density::Compact)).expect("compact image validates");
    assert!(builtin_image_at(Density::Compact).len() < builtin_image_at(Density::Fast).len());
    assert_eq!(builtin_image_at(Density::Compact).as_ptr() as usize % 64, 0);
    assert_eq!(builtin_image(), builtin_image_at(Density::Fast), "hosted targets use the fast image");
    assert_eq!(fast.len(), compact.len());
    for e in fast.iter() {
        let c = compact.get(e.id()).expect("every id in the compact image");
        assert_eq!((c.name(), c.flags(), c.exec_time_ms()), (e.name(), e.flags(), e.exec_time_ms()));
    }
}

#[test]
fn builtin_known_commands() {
    let reg = builtin();
    let rm = reg.get_by_name(b"rm").unwrap();
    assert_eq!(rm.id(), command_id(b"rm"));
    assert_eq!(rm.risk(), Risk::Critical);
    assert!(rm.flags().contains(Flags::DESTRUCTIVE));
    assert_eq!(reg.get(command_id(b"rm")), Some(rm));
    assert_eq!(reg.get_by_name(b"ls").unwrap().risk(), Risk::Safe);
    assert_eq!(reg.get_by_name(b"chmod").unwrap().risk(), Risk::High);
    assert_eq!(reg.get_by_name(b"git clone").unwrap().risk(), Risk::Medium);
    assert!(reg.get_by_name(b"RM").is_none());
    // Each entry carries exactly one risk bit.
    for e in reg.iter() {
        assert_eq!(e.flags().risk_bit_count(), 1, "{:?}", e);
    }
}

#[test]
fn iter_is_in_table_order_and_complete() {
    let reg = builtin();
    let mut n = 0;
    let mut prev = 0;
    for e in reg.iter() {
        let got = reg.get(e.id()).unwrap();
        assert_eq!(got, e);
        // Found by id at the record `iter` is on: the records are stored in id-table order, so the
        // buckets `iter` walks never go back.
        assert_eq!(got.rec(), e.rec());
        let bucket = reg.l.id_table.iter().position(|b| {
            (0..b[format::idb::COUNT] as usize).any(|j| b[4 * j..][..4] == e.id().to_le_bytes())
        });
        let bucket = bucket.unwrap();
        assert!(bucket >= prev, "{e:?} before bucket {prev}");
        prev = bucket;
        n += 1;
    }
    assert_eq!(n, reg.len());
    assert_eq!(reg.iter().len(), reg.len());
}

#[test]
fn resolve_edge_cases() {
    let reg = builtin();
    let name = |line: &[u8]| reg.resolve(line).map(|r| r.entry.name());
    assert_eq!(name(b""), None);
    assert_eq!(name(b"   \t  "), None);
    assert_eq!(name(b"frobnicate --all"), None);
    assert_eq!(name(b"rm"), Some(&b"rm"[..]));
    assert_eq!(name(b"rm -rf /"), Some(&b"rm"[..]));
    assert_eq!(name(b"   rm -rf /"), Some(&b"rm"[..]));
    assert_eq!(name(b"\trm\t-rf"), Some(&b"rm"[..]));
    assert_eq!(name(b"git clone https://x"), Some(&b"git clone"[..]));
    assert_eq!(name(b"git \t  clone\thttps://x"), Some(&b"git clone"[..]));
    assert_eq!(name(b"git frobnicate"), None, "git itself is not registered");
    assert_eq!(name(b"sudo systemctl restart nginx"), Some(&b"sudo"[..]));
    assert_eq!(name(b"sudo su"), Some(&b"sudo su"[..]));
    assert_eq!(name(b"ip addr show dev eth0"), Some(&b"ip addr show"[..]));
    assert_eq!(name(b"ip addr add 10.0.0.1/24 dev eth0"), Some(&b"ip"[..]));
    assert_eq!(name(b"ls;rm -rf /"), None, "shell syntax is not interpreted: an unknown word");
    let r = reg.resolve(b"  git   clone x").unwrap();
    assert_eq!(r.words, 2);
    assert_eq!(r.matched_len, 13);
    // A word too long for the resolve buffer ends the search but keeps earlier matches.
    let mut long = [b'a'; RESOLVE_MAX + 10];
    long[..3].copy_from_slice(b"rm ");
    assert_eq!(name(&long), Some(&b"rm"[..]));
    assert_eq!(name(&long[3..]), None);
}

#[test]
fn empty_registry_answers_nothing() {
    let reg = Registry::empty();
    assert!(reg.is_empty());
    assert!(reg.get(0).is_none());
    assert!(reg.get_by_name(b"").is_none());
    assert!(reg.resolve(b"ls").is_none());
    assert_eq!(reg.iter().count(), 0);
    let mut out = [None; 3];
    reg.get_many(&[1, 2, 3], &mut out);
    assert_eq!(out, [None; 3]);
}

#[test]
fn load_refuses_short_and_foreign_bytes() {
    assert_eq!(Registry::load(&[]).unwrap_err(), ImageError::Truncated { needed: 128, len: 0 });
    assert_eq!(Registry::load(b"TCAP").unwrap_err(), ImageError::Truncated { needed: 128, len: 4 });
    assert_eq!(Registry::load(b"nope").unwrap_err(), ImageError::BadMagic);
    assert_eq!(Registry::load(&[0u8; 256]).unwrap_err(), ImageError::BadMagic);
}

/// Every single-byte change and every truncation of `img` is refused (CRC-32C detects every error
/// burst of up to 32 bits, so a single changed byte can never pass the checksum).
fn assert_corruption_refused(img: &[u8]) {
    let mut buf = img.to_vec();
    for i in 0..img.len() {
        for x in [0x01u8, 0x80, 0xff] {
            buf[i] ^= x;
            assert!(Registry::load(&buf).is_err(), "flip {x:#x} at byte {i} accepted");
            buf[i] ^= x;
        }
    }
    for len in 0..img.len() {
        assert!(Registry::load(&img[..len]).is_err(), "truncation to {len} accepted");
    }
    buf.push(0);
    assert!(matches!(Registry::load(&buf), Err(ImageError::TrailingBytes { .. })));
    assert!(Registry::load(img).is_ok());
}

/// With the checksum recomputed after each change, the structural checks alone either refuse the image
/// or accept one in which every query is still consistent: no panic, every entry found again by id and
/// by name, no lookup returns an entry whose key differs.
fn assert_structure_checks_hold(img: &[u8], step: usize) {
    let orig = Registry::load(img).unwrap();
    let mut buf = img.to_vec();
    let mut accepted = 0;
    for i in (0..img.len()).step_by(step) {
        if (hdr::CHECKSUM..hdr::CHECKSUM + 4).contains(&i) {
            continue;
        }
        buf[i] ^= 0x01;
        let crc = format::image_checksum(&buf);
        buf[hdr::CHECKSUM..hdr::CHECKSUM + 4].copy_from_slice(&crc.to_le_bytes());
        if let Ok(reg) = Registry::load(&buf) {
            accepted += 1;
            let base = img.len() - orig.l.records.len();
            // With a single home bucket every id's home is bucket 0 whatever the multiplier.
            let unused_mult = orig.l.id_home == 1 && (hdr::ID_MULT..hdr::ID_MULT + 4).contains(&i);
            assert!(
                unused_mult || orig.iter().any(|e| (base + e.rec() + 8..base + e.rec() + 16).contains(&i)),
                "flip at byte {i} (outside every performance field) accepted"
            );
            for e in reg.iter() {
                assert_eq!(e.id(), command_id(e.name()));
                assert_eq!(reg.get(e.id()), Some(e));
                assert_eq!(reg.get_by_name(e.name()), Some(e));
            }
            for probe in [0u32, 1, 0xffff_ffff, command_id(b"nope")] {
                if let Some(e) = reg.get(probe) {
                    assert_eq!(e.id(), probe);
                }
            }
        }
        buf.copy_from_slice(img);
    }
    // The only bytes whose flips the structure cannot see are the free-valued performance fields
    // (8 per record): everything else is cross-checked (ids against MD5, flags between slot and record,
    // every slot against a lookup, every bucket's first record against the heap, seeds against the
    // placement, padding against zero).
    assert!(accepted <= 8 * orig.len() + 4, "{accepted} flips accepted, {} entries", orig.len());
}

#[cfg(feature = "alloc")]
mod with_alloc {
    use super::*;
    use alloc::vec::Vec;

    fn spec(name: &[u8], risk: Risk) -> EntrySpec<'_> {
        EntrySpec {
            name,
            flags: Flags::FILE_MODIFICATION.with_risk(risk),
            exec_time_ms: name.len() as u32 * 1000 + 7,
            memory_mb: name.len() as u16 + 3,
            output_kb: name.len() as u16 * 2,
        }
    }

    fn small() -> Vec<u8> {
        let mut b = Builder::new();
        b.push(spec(b"ls", Risk::Safe))
            .push(spec(b"rm", Risk::Critical))
            .push(spec(b"git clone", Risk::Medium))
            .push(spec(b"git", Risk::Low));
        b.build().unwrap()
    }

    #[test]
    fn round_trip_small() {
        let img = small();
        let reg = Registry::load(&img).unwrap();
        assert_eq!(reg.len(), 4);
        assert_eq!(reg.max_words(), 2);
        for (name, risk) in [
            (&b"ls"[..], Risk::Safe),
            (b"rm", Risk::Critical),
            (b"git clone", Risk::Medium),
            (b"git", Risk::Low),
        ] {
            let e = reg.get_by_name(name).unwrap();
            assert_eq!(e.name(), name);
            assert_eq!(e.id(), command_id(name));
            assert_eq!(e.risk(), risk);
            assert_eq!(e.flags(), Flags::FILE_MODIFICATION.with_risk(risk));
            assert_eq!(e.exec_time_ms(), name.len() as u32 * 1000 + 7);
            assert_eq!(e.memory_mb(), name.len() as u16 + 3);
            assert_eq!(e.output_kb(), name.len() as u16 * 2);
            assert_eq!(reg.get(command_id(name)), Some(e));
        }
        assert_eq!(reg.resolve(b"git clone x").unwrap().entry.name(), b"git clone");
        assert_eq!(reg.resolve(b"git status").unwrap().entry.name(), b"git");
        let mut names: Vec<&[u8]> = reg.iter().map(|e| e.name()).collect();
        names.sort_unstable();
        assert_eq!(names, [&b"git"[..], b"git clone", b"ls", b"rm"]);
    }

    #[test]
    fn build_is_deterministic_and_order_independent() {
        let mut b = Builder::new();
        b.push(spec(b"git", Risk::Low))
            .push(spec(b"rm", Risk::Critical))
            .push(spec(b"ls", Risk::Safe))
            .push(spec(b"git clone", Risk::Medium));
        assert_eq!(b.build().unwrap(), small());
    }

    #[test]
    fn misaligned_slices_load() {
        let img = small();
        let mut buf = Vec::with_capacity(img.len() + 8);
        for shift in 0..8 {
            buf.clear();
            buf.resize(shift, 0);
            buf.extend_from_slice(&img);
            let reg = Registry::load(&buf[shift..]).unwrap();
            assert_eq!(reg.get_by_name(b"rm").unwrap().risk(), Risk::Critical);
        }
    }

    #[test]
    fn duplicates_refused_with_positions() {
        let mut b = Builder::new();
        b.push(spec(b"ls", Risk::Safe)).push(spec(b"rm", Risk::Safe)).push(spec(b"ls", Risk::Low));
        assert_eq!(b.build(), Err(BuildError::DuplicateName { first: 0, second: 2 }));
        let mut b = Builder::new();
        b.push(spec(b"", Risk::Safe));
        assert_eq!(b.build(), Err(BuildError::EmptyName { index: 0 }));
        let long = [b'x'; MAX_NAME_LEN + 1];
        let mut b = Builder::new();
        b.push(spec(b"ok", Risk::Safe)).push(spec(&long, Risk::Safe));
        assert_eq!(b.build(), Err(BuildError::NameTooLong { index: 1 }));
    }

    #[test]
    fn longest_names_round_trip() {
        // Three names of MAX_NAME_LEN bytes share the one bucket of a three-entry image (load 0.5):
        // the slots' 16-bit offsets reach 2 × (18 + 4,096).
        let names: Vec<Vec<u8>> = (b'a'..=b'c').map(|c| alloc::vec![c; MAX_NAME_LEN]).collect();
        let mut b = Builder::new();
        for n in &names {
            b.push(spec(n, Risk::High));
        }
        let img = b.build().unwrap();
        let reg = Registry::load(&img).unwrap();
        assert_eq!(reg.l.id_table.len(), 1);
        for n in &names {
            let e = reg.get(command_id(n)).unwrap();
            assert_eq!(e.name(), &n[..]);
            assert_eq!(reg.get_by_name(n), Some(e));
        }
    }

    #[test]
    fn colliding_ids_refused() {
        // Two distinct names with the same 32-bit MD5 prefix, found by a birthday search.
        let (a, b) = (&b"tcap-collide-69801"[..], &b"tcap-collide-104830"[..]);
        assert_eq!(command_id(a), 0x560f_89e0);
        assert_eq!(command_id(a), command_id(b));
        let mut bld = Builder::new();
        bld.push(spec(b"ls", Risk::Safe)).push(spec(b, Risk::Safe)).push(spec(a, Risk::Low));
        assert_eq!(bld.build(), Err(BuildError::DuplicateId { id: 0x560f_89e0, first: 1, second: 2 }));
    }

    #[test]
    fn empty_image_round_trip() {
        let img = Builder::new().build().unwrap();
        let reg = Registry::load(&img).unwrap();
        assert!(reg.is_empty());
        assert!(reg.get(0).is_none());
        assert!(reg.get(command_id(b"ls")).is_none());
        assert!(reg.get_by_name(b"ls").is_none());
        assert!(reg.resolve(b"ls -l").is_none());
        assert_eq!(reg.iter().count(), 0);
        assert_corruption_refused(&img);
    }

    #[test]
    fn every_byte_flip_and_truncation_refused() {
        assert_corruption_refused(&small());
    }

    #[test]
    fn structure_checks_without_checksum() {
        assert_structure_checks_hold(&small(), 1);
    }

    #[test]
    fn structure_checks_without_checksum_builtin_sampled() {
        // Every 89th byte natively (~300 full validations of the 577-entry image, 577 MD5s each);
        // every 1,999th under Miri (14 of them: the same checks, in minutes rather than an hour).
        assert_structure_checks_hold(builtin_bytes(), if cfg!(miri) { 1999 } else { 89 });
    }

    #[test]
    fn get_many_matches_get() {
        let mut b = Builder::new();
        let names: Vec<Vec<u8>> = (0..2000).map(|i| alloc::format!("tool-{i}").into_bytes()).collect();
        for n in &names {
            b.push(spec(n, Risk::Medium));
        }
        let img = b.build().unwrap();
        let reg = Registry::load(&img).unwrap();
        let mut ids: Vec<u32> = names.iter().map(|n| command_id(n)).collect();
        ids.extend((0..500u32).map(|i| i.wrapping_mul(0x9e37_79b9)));
        let mut out = alloc::vec![None; ids.len()];
        reg.get_many(&ids, &mut out);
        for (id, o) in ids.iter().zip(&out) {
            assert_eq!(*o, reg.get(*id));
        }
        assert!(out[..2000].iter().all(|o| o.is_some()));
        let qs: Vec<&[u8]> = names.iter().map(|n| n.as_slice()).chain([&b"nope"[..], b""]).collect();
        let mut out = alloc::vec![None; qs.len()];
        reg.get_many_by_name(&qs, &mut out);
        for (q, o) in qs.iter().zip(&out) {
            assert_eq!(*o, reg.get_by_name(q));
        }
        assert!(out[..2000].iter().all(|o| o.is_some()));
        // A short output slice gets only what fits.
        let mut short = [None; 5];
        reg.get_many(&ids, &mut short);
        assert_eq!(short[4], reg.get(ids[4]));
    }
}

#[test]
fn builtin_corruption_refused_sampled() {
    // The full every-byte test runs on small images; here every 61st byte of the real built-in image.
    let img = builtin_bytes();
    let mut buf = [0u8; 65536];
    assert!(img.len() <= buf.len(), "built-in image grew to {} bytes", img.len());
    let buf = &mut buf[..img.len()];
    buf.copy_from_slice(img);
    for i in (0..img.len()).step_by(61) {
        buf[i] ^= 0x20;
        assert!(Registry::load(buf).is_err(), "flip at byte {i} accepted");
        buf[i] ^= 0x20;
    }
}
