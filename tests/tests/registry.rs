//! Registry integration tests against the real upstream data:
//! * the built-in registry against the 42 hand-labelled commands of `expert_ground_truth.json`;
//! * an image built from the real 1,567-entry corpus (`tcp_complete.db`), every entry found again by id
//!   and by name with the right fields.

use tcap_core::registry::{self, Builder, EntrySpec, Registry};
use tcap_core::wire::{Flags, KbFlags, Risk, command_id};

#[test]
fn builtin_agrees_with_expert_ground_truth() {
    let Some(dir) = tcap_tests::shared_data() else { return };
    let text = std::fs::read_to_string(dir.join("upstream/expert_ground_truth.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let rows = json["ground_truth_dataset"].as_array().unwrap();
    assert_eq!(rows.len(), 42);
    let reg = registry::builtin();
    let (mut covered, mut agree) = (0usize, 0usize);
    let mut misses = Vec::new();
    for row in rows {
        let cmd = row["command"].as_str().unwrap();
        let want = Risk::parse(row["risk_level"].as_str().unwrap()).unwrap();
        match reg.resolve(cmd.as_bytes()) {
            None => misses.push(format!("not covered: {cmd:?} (expert {want})")),
            Some(r) => {
                covered += 1;
                let got = r.entry.risk();
                let name = String::from_utf8_lossy(r.entry.name());
                if got == want {
                    agree += 1;
                } else {
                    misses.push(format!("disagree: {cmd:?} -> {name:?} {got}, expert {want}"));
                }
            }
        }
    }
    println!("ground truth: {covered}/42 covered, {agree}/{covered} agree on risk");
    for m in &misses {
        println!("  {m}");
    }
    assert!(covered >= 35, "covers only {covered} of 42");
    assert!(agree * 10 >= covered * 9, "agrees on only {agree} of {covered}");
}

/// (name, 24-byte knowledge-base descriptor) of every entry of `tcp_complete.db`.
fn read_tcpdb(db: &[u8]) -> Vec<(&[u8], &[u8])> {
    assert_eq!(&db[..6], b"TCPDB\x02");
    let count = u32::from_be_bytes(db[6..10].try_into().unwrap()) as usize;
    let mut at = 6 + 4 + 8 + 4;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let n = u16::from_be_bytes([db[at], db[at + 1]]) as usize;
        let name = &db[at + 2..at + 2 + n];
        let desc = &db[at + 2 + n..at + 2 + n + 24];
        assert_eq!(&desc[..4], b"TCP\x02");
        out.push((name, desc));
        at += 2 + n + 24;
    }
    out
}

/// (name, id, canonical flags, exec ms, memory MB, output KB) of one corpus entry.
type Expected<'a> = (&'a [u8], u32, Flags, u32, u16, u16);

#[test]
fn real_corpus_round_trip() {
    let Some(dir) = tcap_tests::shared_data() else { return };
    let db = std::fs::read(dir.join("upstream/tcp_complete.db")).unwrap();
    let entries = read_tcpdb(&db);
    assert_eq!(entries.len(), 1567);
    let be32 = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap());
    let be16 = |b: &[u8]| u16::from_be_bytes(b.try_into().unwrap());
    let expect: Vec<Expected<'_>> = entries
        .iter()
        .map(|&(name, d)| {
            let flags = KbFlags(be32(&d[10..14])).to_canonical().unwrap();
            (name, be32(&d[6..10]), flags, be32(&d[14..18]), be16(&d[18..20]), be16(&d[20..22]))
        })
        .collect();
    let mut b = Builder::with_capacity(expect.len());
    for &(name, _, flags, exec_time_ms, memory_mb, output_kb) in &expect {
        b.push(EntrySpec { name, flags, exec_time_ms, memory_mb, output_kb });
    }
    let img = b.build().unwrap();
    let reg = Registry::load(&img).unwrap();
    assert_eq!(reg.len(), 1567);
    for &(name, id, flags, exec, mem, out) in &expect {
        assert_eq!(command_id(name), id, "stored id of {:?}", String::from_utf8_lossy(name));
        let by_id = reg.get(id).unwrap();
        let by_name = reg.get_by_name(name).unwrap();
        assert_eq!(by_id, by_name);
        assert_eq!(by_id.id(), id);
        assert_eq!(by_id.name(), name);
        assert_eq!(by_id.flags(), flags);
        assert_eq!(by_id.risk(), flags.risk());
        assert_eq!(by_id.exec_time_ms(), exec);
        assert_eq!(by_id.memory_mb(), mem);
        assert_eq!(by_id.output_kb(), out);
        assert_eq!(reg.resolve(name).map(|r| r.entry), Some(by_id));
    }
    let ids: Vec<u32> = expect.iter().map(|e| e.1).collect();
    let mut many = vec![None; ids.len()];
    reg.get_many(&ids, &mut many);
    assert!(many.iter().zip(&expect).all(|(m, e)| m.map(|m| m.name()) == Some(e.0)));
    // Ids that are not in the corpus are not found.
    let absent = (0u32..20_000).map(|i| i.wrapping_mul(0x9e37_79b9)).filter(|i| !ids.contains(i));
    assert!(absent.into_iter().all(|i| reg.get(i).is_none()));
}
