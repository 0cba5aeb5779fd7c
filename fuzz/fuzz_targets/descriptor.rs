//! The 24-byte descriptor: decode under every hint, the zero-copy view, and emit → parse round trips.
//!
//! Built with `cfg(fuzzing)`, so both checksums count as verified and every input of the right shape
//! reaches the field logic. Invariants:
//! * nothing panics, for any length;
//! * `decode` agrees with `Descriptor::new_checked` + `DescriptorRepr::parse` and with `inspect`;
//! * a decoded descriptor re-emitted in its own flavour gives back bytes 0..22 exactly, a checksum that
//!   really verifies (computed here, not bypassed), and the same value when decoded again;
//! * an arbitrary `DescriptorRepr` emitted in any flavour either is refused with the documented error
//!   or decodes (with that flavour as the hint) to the same canonical value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcap_core::wire::{
    DESCRIPTOR_LEN, DecodeError, Descriptor, DescriptorRepr, EmitError, Flags, Flavour, decode,
    descriptor_byte_sum, descriptor_crc16,
};

const HINTS: [Option<Flavour>; 4] =
    [None, Some(Flavour::Spec), Some(Flavour::Registry), Some(Flavour::KnowledgeBase)];
const FLAVOURS: [Flavour; 3] = [Flavour::Spec, Flavour::Registry, Flavour::KnowledgeBase];

fn stored_checksum_verifies(b: &[u8; DESCRIPTOR_LEN], flavour: Flavour) -> bool {
    let stored = u16::from_be_bytes([b[22], b[23]]);
    match flavour {
        Flavour::KnowledgeBase => descriptor_byte_sum(b) == stored,
        _ => descriptor_crc16(b) == stored,
    }
}

fn round_trip(repr: &DescriptorRepr, flavour: Flavour) {
    let mut buf = [0xA5u8; DESCRIPTOR_LEN];
    match repr.emit_as(flavour, &mut buf) {
        Ok(()) => {
            assert!(stored_checksum_verifies(&buf, flavour), "emitted checksum must verify for real");
            let back = decode(&buf, Some(flavour)).expect("an emitted descriptor decodes");
            assert_eq!(back.flavour, flavour, "under cfg(fuzzing) the hint picks the flavour");
            let mut want = *repr;
            if flavour != Flavour::Spec {
                want.command_len = None;
            } else if want.command_len.is_none() {
                want.command_len = Some(0);
            }
            assert_eq!(back.repr, want);
        }
        Err(e) => {
            assert_eq!(buf, [0xA5; DESCRIPTOR_LEN], "nothing is written on error");
            match e {
                EmitError::ExecTimeOverflow(ms) => {
                    assert_eq!(flavour, Flavour::Spec);
                    assert!(ms > u32::from(u16::MAX));
                    assert_eq!(ms, repr.exec_time_ms);
                }
                EmitError::UnmappedFlags(bits) => {
                    assert_eq!(flavour, Flavour::KnowledgeBase);
                    assert!(repr.flags.to_kb().is_err());
                    assert_ne!(bits.0, 0);
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // 1. Raw bytes under every hint.
    for hint in HINTS {
        let r = decode(data, hint);
        if data.len() != DESCRIPTOR_LEN {
            assert!(matches!(r, Err(DecodeError::Length(_))));
        }
        if let Ok(view) = Descriptor::new_checked(data) {
            let parsed = DescriptorRepr::parse(&view, hint);
            if data.len() == DESCRIPTOR_LEN {
                assert_eq!(parsed, r.map(|d| (d.repr, d.flavour)));
            }
            let insp = view.inspect(hint);
            let _ = std::format!("{insp}");
            assert_eq!(insp.result.map(|d| (d.repr, d.flavour)), parsed);
            let _ = (view.magic(), view.version(), view.command_id(), view.wire_flags(), view.checksum());
        }
        match r {
            Ok(d) => {
                let b: &[u8; DESCRIPTOR_LEN] = data.try_into().unwrap();
                let mut out = [0u8; DESCRIPTOR_LEN];
                d.repr.emit_as(d.flavour, &mut out).expect("a decoded descriptor re-emits");
                assert_eq!(out[..22], b[..22], "re-emission is byte-exact up to the checksum");
                assert!(stored_checksum_verifies(&out, d.flavour));
                let again = decode(&out, Some(d.flavour)).unwrap();
                assert_eq!(again, d);
                let _ = (d.risk(), d.risk_bit_count());
                for f in FLAVOURS {
                    round_trip(&d.repr, f);
                }
            }
            Err(e) => {
                let _ = std::format!("{e}");
            }
        }
    }

    // 2. The same bytes read as a canonical value (structured), emitted in every flavour.
    if data.len() >= 17 {
        let u32_at = |i: usize| u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
        let u16_at = |i: usize| u16::from_le_bytes([data[i], data[i + 1]]);
        let repr = DescriptorRepr {
            command_id: u32_at(0),
            flags: Flags(u32_at(4)),
            exec_time_ms: if data[16] & 1 == 0 { u32::from(u16_at(8)) } else { u32_at(8) },
            memory_mb: u16_at(12),
            output_kb: u16_at(14),
            command_len: (data[16] & 2 != 0).then(|| u16_at(12) ^ u16_at(14)),
        };
        for f in FLAVOURS {
            round_trip(&repr, f);
        }
    }
});
