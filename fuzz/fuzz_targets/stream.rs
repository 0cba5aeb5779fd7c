//! The driver's incremental event-stream decoder (`tcap_driver::stream::Decoder`) through the test
//! engine. The first input byte selects options (bit 0: prepend a valid event-stream header so that the
//! fuzzer spends its time on records), the next eight seed the split points, the rest is the stream.
//!
//! Invariants: nothing panics; feeding the same bytes in arbitrary pieces (including empty ones) gives
//! byte-identical decisions, the same error (offset and reason) and the same counters as one piece; the
//! output is a valid decision stream with one decision per call event; a clean finish has consumed
//! every byte; after an error every later call returns the same error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tcap_core::wire::record::{DECISION_LEN, HEADER_LEN, StreamHeader, StreamKind, parse_decisions};

use tcap_driver::engine::TestEngine;
use tcap_driver::stream::{DecodeCounts, Decoder, StreamError, max_output};

const AGENTS: usize = 64;

/// The engine every decode starts from (cloned: building one inserts the built-in names).
fn engine() -> TestEngine {
    static TEMPLATE: OnceLock<TestEngine> = OnceLock::new();
    TEMPLATE.get_or_init(|| TestEngine::with_builtin_names(AGENTS)).clone()
}

type Outcome = (Vec<u8>, Option<StreamError>, DecodeCounts, u64);

fn decode(input: &[u8], mut split: impl FnMut(usize) -> usize) -> Outcome {
    let mut d = Decoder::new();
    let mut e = engine();
    let mut out = Vec::new();
    // One buffer for every piece: max_output is monotone, so the whole input's bound covers any piece.
    let mut buf = vec![0u8; max_output(input.len())];
    let mut rest = input;
    let err;
    loop {
        let n = split(rest.len()).min(rest.len());
        let (piece, tail) = rest.split_at(n);
        let (w, e2) = d.feed(piece, &mut e, &mut buf);
        assert!(w <= max_output(piece.len()));
        out.extend_from_slice(&buf[..w]);
        if let Some(e2) = e2 {
            err = Some(e2);
            // A failed decoder refuses everything after, consuming nothing.
            let (w2, e3) = d.feed(tail, &mut e, &mut buf);
            assert_eq!((w2, e3), (0, Some(e2)));
            assert_eq!(d.finish(), Err(e2));
            break;
        }
        rest = tail;
        if rest.is_empty() {
            err = d.finish().err();
            if err.is_none() {
                assert_eq!(d.offset(), input.len() as u64, "a clean finish consumed every byte");
            }
            break;
        }
    }
    assert_eq!(d.error(), err);
    (out, err, d.counts, d.offset())
}

fuzz_target!(|data: &[u8]| {
    let Some((&opts, rest)) = data.split_first() else { return };
    let (seed, body) = match rest.split_first_chunk::<8>() {
        Some((s, b)) => (u64::from_le_bytes(*s), b),
        None => (0, rest),
    };
    let mut input = Vec::with_capacity(body.len() + HEADER_LEN);
    if opts & 1 != 0 {
        input.extend_from_slice(&StreamHeader::EVENTS.to_bytes());
    }
    input.extend_from_slice(body);

    let whole = decode(&input, |n| n);
    // xorshift64* split points: mostly small pieces (0..=70 bytes) so records and the header straddle.
    let mut s = seed | 1;
    let pieces = decode(&input, |_| {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        let r = s.wrapping_mul(0x2545_F491_4F6C_DD1D);
        if r >> 60 == 0 { (r % 4096) as usize } else { (r % 71) as usize }
    });
    assert_eq!(whole.0, pieces.0, "decisions independent of piece sizes");
    assert_eq!(whole.1, pieces.1, "error independent of piece sizes");
    assert_eq!(whole.2, pieces.2, "counters independent of piece sizes");
    assert_eq!(whole.3, pieces.3, "offset independent of piece sizes");
    // One byte at a time too (bounded: it costs a call per byte).
    if input.len() <= 1024 {
        assert_eq!(whole, decode(&input, |_| 1));
    }
    let _ = whole.1.map(|e| std::format!("{e}"));

    let (out, _, counts, _) = whole;
    if !out.is_empty() {
        StreamHeader::parse(&out, StreamKind::Decisions).expect("decision header");
        let n = parse_decisions(&out[HEADER_LEN..], |_| {}).expect("valid decisions");
        assert_eq!(n as u64, counts.decisions.iter().sum::<u64>());
        assert_eq!(n as u64, counts.events - counts.outcomes, "one decision per call event");
        assert_eq!(out.len(), HEADER_LEN + n * DECISION_LEN);
    } else {
        assert_eq!(counts, DecodeCounts::default());
    }
});
