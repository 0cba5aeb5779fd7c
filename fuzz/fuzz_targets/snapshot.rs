//! The state-file decoder (`tcap_driver::snapshot::decode_into`) and the test engine's `restore`. The
//! first byte selects options: bits 0..2 the engine capacity (0..=7 agents); bit 3 frames the rest as a
//! payload behind a correct header (magic, version, kind, length, real CRC), so the fuzzer reaches the
//! engine's own checks; otherwise the rest is the whole file (under `cfg(fuzzing)` the payload CRC counts
//! as verified, as the descriptor checksums do).
//!
//! Invariants: nothing panics; a refused file leaves the engine exactly as it was; an accepted file
//! re-encodes to the same bytes (header and payload; the CRC only when it was real).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcap_driver::engine::{Engine, TestEngine};
use tcap_driver::snapshot::{HEADER_LEN, MAGIC, VERSION, crc32, decode_into, encode};

fuzz_target!(|data: &[u8]| {
    let Some((&opts, rest)) = data.split_first() else { return };
    let cap = usize::from(opts & 7);
    let mut engine = TestEngine::new(cap);
    let file: Vec<u8> = if opts & 8 != 0 {
        let mut f = Vec::with_capacity(HEADER_LEN + rest.len());
        f.extend_from_slice(&MAGIC);
        f.extend_from_slice(&VERSION.to_le_bytes());
        f.extend_from_slice(&engine.snapshot_kind());
        f.extend_from_slice(&(rest.len() as u64).to_le_bytes());
        f.extend_from_slice(&crc32(rest).to_le_bytes());
        f.extend_from_slice(rest);
        f
    } else {
        rest.to_vec()
    };
    let before = encode(&engine);
    match decode_into(&file, &mut engine) {
        Ok(()) => {
            let again = encode(&engine);
            assert_eq!(again.len(), file.len());
            assert_eq!(again[..28], file[..28], "header re-encodes");
            assert_eq!(again[HEADER_LEN..], file[HEADER_LEN..], "payload re-encodes");
            if opts & 8 != 0 {
                assert_eq!(again, file);
            }
            // And what was restored restores again.
            let mut other = TestEngine::new(cap);
            decode_into(&again, &mut other).unwrap();
            assert_eq!(encode(&other), again);
        }
        Err(e) => {
            let _ = std::format!("{e}");
            assert_eq!(encode(&engine), before, "a refused file leaves the engine untouched");
        }
    }
});
