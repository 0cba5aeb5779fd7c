//! The real upstream corpus through tcap's wire layer: `tcp_complete.db` via the `TCPDB` reader,
//! cross-checked against `tcp_export.json`.

use std::collections::BTreeMap;

use tcap_core::wire::{
    Descriptor, Flags, Flavour, KbFlags, Risk, TcpDb, command_id, decode, descriptor_crc16,
};

/// Number of commands in the upstream corpus (upstream-tcp.md §3).
const CORPUS_LEN: usize = 1567;

fn load() -> Option<(Vec<u8>, serde_json::Value)> {
    let dir = tcap_tests::shared_data()?.join("upstream");
    let db = std::fs::read(dir.join("tcp_complete.db")).expect("read tcp_complete.db");
    let json = std::fs::read(dir.join("tcp_export.json")).expect("read tcp_export.json");
    Some((db, serde_json::from_slice(&json).expect("parse tcp_export.json")))
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
}

#[test]
fn tcp_complete_db_reads_and_verifies() {
    let Some((bytes, json)) = load() else { return };
    let db = TcpDb::new_checked(&bytes).expect("container validates");
    assert_eq!(db.count() as usize, CORPUS_LEN);
    assert_eq!(db.index().count(), CORPUS_LEN);

    let commands = json["commands"].as_object().expect("commands object");
    assert_eq!(commands.len(), CORPUS_LEN);
    assert_eq!(json["total_commands"].as_u64(), Some(CORPUS_LEN as u64));

    let mut prev: Option<&[u8]> = None;
    let mut crc_also = 0usize;
    let mut multi_risk = 0usize;
    let mut risks: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut n = 0usize;
    for e in db.entries() {
        let e = e.expect("entry");
        n += 1;
        if let Some(p) = prev {
            assert!(p < e.name, "names sorted and unique");
        }
        prev = Some(e.name);

        // Every descriptor verifies as knowledge base, whatever the hint says (the CRC never matches).
        let d = decode(e.descriptor, None).expect("descriptor verifies");
        assert_eq!(d.flavour, Flavour::KnowledgeBase, "{:?}", e.name);
        for hint in [Flavour::Spec, Flavour::Registry] {
            assert_eq!(decode(e.descriptor, Some(hint)).unwrap().flavour, Flavour::KnowledgeBase);
        }
        assert_eq!(d.repr.command_id, command_id(e.name), "id of {:?}", e.name);
        if descriptor_crc16(e.descriptor) == u16::from_be_bytes([e.descriptor[22], e.descriptor[23]]) {
            crc_also += 1;
        }
        if d.risk_bit_count() > 1 {
            multi_risk += 1;
        }
        *risks.entry(d.risk().as_str()).or_default() += 1;

        // Normalisation loses nothing: back to the KB map and back to the same bytes.
        let wire = Descriptor::new_checked(&e.descriptor[..]).unwrap().wire_flags();
        assert_eq!(d.repr.flags.to_kb(), Ok(KbFlags(wire)));
        assert_eq!(d.repr.to_bytes(Flavour::KnowledgeBase).unwrap(), *e.descriptor);
        // And the canonical spec layout (with the real command length) decodes to the same value.
        let spec = tcap_core::wire::DescriptorRepr {
            command_len: Some(u16::try_from(e.name.len()).unwrap()),
            ..d.repr
        };
        let back = decode(&spec.to_bytes(Flavour::Spec).unwrap(), None).unwrap();
        assert_eq!((back.flavour, back.repr), (Flavour::Spec, spec));

        // Cross-check with the JSON export: same bytes, same risk, same capabilities.
        let name = std::str::from_utf8(e.name).expect("utf-8 name");
        let c = &commands[name];
        assert_eq!(unhex(c["binary_hex"].as_str().expect("binary_hex")), e.descriptor, "{name}");
        assert_eq!(Risk::parse(c["risk"].as_str().unwrap()), Some(d.risk()), "{name}");
        let mut caps = KbFlags(0);
        for cap in c["capabilities"].as_array().unwrap() {
            let cap = cap.as_str().unwrap();
            let (f, _) = KbFlags::NAMED.iter().find(|(_, n)| *n == cap).expect("known capability");
            caps = KbFlags(caps.0 | f.0);
        }
        assert_eq!(caps.0, wire & 0x3f00, "{name}");
        assert_eq!(caps.to_canonical().unwrap(), Flags(d.repr.flags.0 & !Flags::RISK_MASK), "{name}");
    }
    assert_eq!(n, CORPUS_LEN);

    // The index points every name at its entry (validate checked it; check the names too).
    for r in db.index() {
        let r = r.unwrap();
        assert_eq!(db.entry_at(r.target).unwrap().name, r.name);
    }

    // The risk histogram agrees with the export's own.
    let dist = json["risk_distribution"].as_object().unwrap();
    for (k, v) in dist {
        assert_eq!(risks.get(k.as_str()).copied().unwrap_or(0), v.as_u64().unwrap(), "{k}");
    }
    assert_eq!(risks.values().sum::<u64>(), CORPUS_LEN as u64);
    eprintln!(
        "corpus: {n} entries, all knowledge-base; {crc_also} also pass the CRC; {multi_risk} with several risk bits; risks {risks:?}"
    );
    assert_eq!(crc_also, 0, "no corpus descriptor should also pass the CRC (ambiguity)");
}

#[test]
fn corrupting_any_byte_of_the_corpus_never_panics() {
    let Some((bytes, _)) = load() else { return };
    // Flip each byte of the header, the first entries and the index start; everything must be a typed
    // error or a still-valid container, never a panic.
    let idx = TcpDb::new(&bytes).unwrap().index_offset();
    let spots = (0..200).chain(idx - 50..idx + 200).chain(bytes.len() - 50..bytes.len());
    let mut errors = 0;
    for i in spots {
        let mut b = bytes.clone();
        b[i] ^= 0x41;
        match TcpDb::new_checked(&b) {
            Ok(db) => {
                for e in db.entries() {
                    let _ = decode(e.unwrap().descriptor, None);
                }
            }
            Err(_) => errors += 1,
        }
    }
    assert!(errors > 0);
}
