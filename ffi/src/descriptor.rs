//! The 24-byte TCP descriptor: decode any of the three upstream layouts, encode any of them.

use tcap_core::wire::{DecodeError, DescriptorRepr, EmitError, Flags, decode};

use crate::boundary::{self, Out};
use crate::enums::{flavour_from_u32, tcap_flavour};
use crate::tcap_result;

/// Length of a TCP descriptor in bytes.
pub const TCAP_DESCRIPTOR_LEN: usize = 24;
/// `tcap_descriptor.command_len` when the layout does not carry the command length (registry and
/// knowledge-base layouts).
pub const TCAP_COMMAND_LEN_UNKNOWN: u32 = 0xFFFF_FFFF;
/// The `hint` of `tcap_descriptor_decode` that expresses no preference among the layouts.
pub const TCAP_FLAVOUR_HINT_NONE: u32 = 0xFFFF_FFFF;

/// A descriptor in canonical form, whatever layout it came from. A plain value: no pointers.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct tcap_descriptor {
    /// TCP command id: `MD5(command)[0..4]`, big-endian.
    pub command_id: u32,
    /// Security flags in the canonical (spec) map; knowledge-base flags are normalised on decode.
    pub flags: u32,
    /// Typical execution time, ms (the spec layout holds at most 65535).
    pub exec_time_ms: u32,
    /// Typical memory, MB.
    pub memory_mb: u16,
    /// Typical output, KB.
    pub output_kb: u16,
    /// Length of the command string (spec layout only, 0..=65535), or `TCAP_COMMAND_LEN_UNKNOWN`.
    pub command_len: u32,
}

impl From<DescriptorRepr> for tcap_descriptor {
    fn from(r: DescriptorRepr) -> Self {
        tcap_descriptor {
            command_id: r.command_id,
            flags: r.flags.0,
            exec_time_ms: r.exec_time_ms,
            memory_mb: r.memory_mb,
            output_kb: r.output_kb,
            command_len: r.command_len.map_or(TCAP_COMMAND_LEN_UNKNOWN, u32::from),
        }
    }
}

impl TryFrom<&tcap_descriptor> for DescriptorRepr {
    type Error = tcap_result;
    fn try_from(d: &tcap_descriptor) -> Result<Self, tcap_result> {
        let command_len = match d.command_len {
            TCAP_COMMAND_LEN_UNKNOWN => None,
            n => Some(u16::try_from(n).map_err(|_| tcap_result::DescriptorFieldRange)?),
        };
        Ok(DescriptorRepr {
            command_id: d.command_id,
            flags: Flags(d.flags),
            exec_time_ms: d.exec_time_ms,
            memory_mb: d.memory_mb,
            output_kb: d.output_kb,
            command_len,
        })
    }
}

impl From<DecodeError> for tcap_result {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Length(_) => tcap_result::DescriptorLength,
            DecodeError::BadMagic(_) => tcap_result::DescriptorMagic,
            DecodeError::BadVersion(_) => tcap_result::DescriptorVersion,
            DecodeError::Checksum { .. } => tcap_result::DescriptorChecksum,
            DecodeError::UnmappedFlags(_) => tcap_result::UnmappedFlags,
        }
    }
}

impl From<EmitError> for tcap_result {
    fn from(e: EmitError) -> Self {
        match e {
            EmitError::ExecTimeOverflow(_) => tcap_result::DescriptorFieldRange,
            EmitError::UnmappedFlags(_) => tcap_result::UnmappedFlags,
        }
    }
}

/// Decodes and verifies a 24-byte descriptor of any layout.
///
/// The checksum(s) that verify decide the layout; `hint` (a `tcap_flavour`, or `TCAP_FLAVOUR_HINT_NONE`)
/// only picks among layouts the bytes cannot tell apart (spec vs registry: both use the CRC). The layout
/// read is written to `out_flavour`.
///
/// Errors, checked in this order: `TCAP_RESULT_NULL_ARGUMENT` (any pointer), `TCAP_RESULT_MISALIGNED`
/// (an output), `TCAP_RESULT_INVALID_ENUM` (`hint`), `TCAP_RESULT_DESCRIPTOR_LENGTH` (`len` ≠ 24),
/// `TCAP_RESULT_DESCRIPTOR_MAGIC`, `TCAP_RESULT_DESCRIPTOR_VERSION`, `TCAP_RESULT_DESCRIPTOR_CHECKSUM`,
/// `TCAP_RESULT_UNMAPPED_FLAGS` (knowledge-base flag bits that map nowhere).
///
/// # Safety
/// `bytes` is NULL or readable for `len` bytes; each output is NULL or writable for one value.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_descriptor_decode(
    bytes: *const u8,
    len: usize,
    hint: u32,
    out: *mut tcap_descriptor,
    out_flavour: *mut tcap_flavour,
) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or valid per this function's contract.
        let bytes = unsafe { boundary::arg_bytes(bytes, len) }?;
        // SAFETY: NULL or writable per this function's contract.
        let (out, out_flavour) = unsafe { (Out::new(out)?, Out::new(out_flavour)?) };
        let hint = match hint {
            TCAP_FLAVOUR_HINT_NONE => None,
            h => Some(flavour_from_u32(h).ok_or(tcap_result::InvalidEnum)?),
        };
        let d = decode(bytes, hint)?;
        out.write(d.repr.into());
        out_flavour.write(d.flavour.into());
        Ok(())
    })
}

/// Encodes `d` in layout `flavour` (a `tcap_flavour`) with its checksum into `out[0..24]`.
///
/// The registry and knowledge-base layouts do not carry `command_len` (it is dropped); the spec layout
/// writes `TCAP_COMMAND_LEN_UNKNOWN` as 0. Errors: `TCAP_RESULT_NULL_ARGUMENT`,
/// `TCAP_RESULT_MISALIGNED` (`d`), `TCAP_RESULT_INVALID_ENUM` (`flavour`),
/// `TCAP_RESULT_DESCRIPTOR_FIELD_RANGE` (execution time above 65535 ms for the spec layout, or a
/// `command_len` above 65535 that is not `TCAP_COMMAND_LEN_UNKNOWN`), `TCAP_RESULT_UNMAPPED_FLAGS`
/// (canonical flags with no knowledge-base bit, for that layout). `out` is untouched on error.
///
/// # Safety
/// `d` is NULL or points to a readable `tcap_descriptor`; `out` is NULL or writable for 24 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_descriptor_encode(
    d: *const tcap_descriptor,
    flavour: u32,
    out: *mut u8,
) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or readable per this function's contract.
        let d = unsafe { boundary::arg_ref(d) }?;
        // SAFETY: NULL or writable for 24 bytes per this function's contract ([u8; 24] has alignment 1).
        let out = unsafe { Out::new(out.cast::<[u8; TCAP_DESCRIPTOR_LEN]>()) }?;
        let flavour = flavour_from_u32(flavour).ok_or(tcap_result::InvalidEnum)?;
        let repr = DescriptorRepr::try_from(d)?;
        let mut buf = [0u8; TCAP_DESCRIPTOR_LEN];
        repr.emit_as(flavour, &mut buf)?;
        out.write(buf);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KB_RM: [u8; 24] = [
        0x54, 0x43, 0x50, 0x02, 0x00, 0x02, 0xd6, 0x7f, 0x24, 0x9b, 0x00, 0x00, 0x17, 0x04, 0x00, 0x00, 0x00,
        0x64, 0x00, 0x0a, 0x00, 0x01, 0x03, 0x89,
    ];

    fn dec(b: &[u8], hint: u32) -> Result<(tcap_descriptor, tcap_flavour), tcap_result> {
        let mut d = tcap_descriptor {
            command_id: 0,
            flags: 0,
            exec_time_ms: 0,
            memory_mb: 0,
            output_kb: 0,
            command_len: 0,
        };
        let mut f = tcap_flavour::Spec;
        // SAFETY: live locals and a live slice.
        unsafe { tcap_descriptor_decode(b.as_ptr(), b.len(), hint, &mut d, &mut f) }.into_result()?;
        Ok((d, f))
    }

    #[test]
    fn decode_encode_round_trip_every_layout() {
        let (d, f) = dec(&KB_RM, TCAP_FLAVOUR_HINT_NONE).unwrap();
        assert_eq!(f, tcap_flavour::KnowledgeBase);
        assert_eq!(d.command_id, 0xd67f249b);
        assert_eq!(d.command_len, TCAP_COMMAND_LEN_UNKNOWN);
        let mut out = [0u8; 24];
        // SAFETY: live locals.
        assert_eq!(unsafe { tcap_descriptor_encode(&d, 2, out.as_mut_ptr()) }, tcap_result::Ok);
        assert_eq!(out, KB_RM);
        for fl in [0u32, 1] {
            // SAFETY: live locals.
            assert_eq!(unsafe { tcap_descriptor_encode(&d, fl, out.as_mut_ptr()) }, tcap_result::Ok);
            let (back, f2) = dec(&out, fl).unwrap();
            assert_eq!(f2 as u32, fl);
            assert_eq!(back.flags, d.flags);
            assert_eq!(back.exec_time_ms, d.exec_time_ms);
        }
    }

    #[test]
    fn every_error() {
        let mut bad = KB_RM;
        bad[0] = b'X';
        assert_eq!(dec(&bad, TCAP_FLAVOUR_HINT_NONE).err(), Some(tcap_result::DescriptorMagic));
        let mut bad = KB_RM;
        bad[5] = 3;
        assert_eq!(dec(&bad, TCAP_FLAVOUR_HINT_NONE).err(), Some(tcap_result::DescriptorVersion));
        let mut bad = KB_RM;
        bad[23] ^= 1;
        assert_eq!(dec(&bad, TCAP_FLAVOUR_HINT_NONE).err(), Some(tcap_result::DescriptorChecksum));
        assert_eq!(dec(&KB_RM[..23], TCAP_FLAVOUR_HINT_NONE).err(), Some(tcap_result::DescriptorLength));
        assert_eq!(dec(&KB_RM, 3).err(), Some(tcap_result::InvalidEnum));
        let (mut d, _) = dec(&KB_RM, TCAP_FLAVOUR_HINT_NONE).unwrap();
        let mut out = [7u8; 24];
        // SAFETY: live locals or NULL.
        unsafe {
            assert_eq!(tcap_descriptor_encode(&d, 3, out.as_mut_ptr()), tcap_result::InvalidEnum);
            assert_eq!(
                tcap_descriptor_encode(core::ptr::null(), 0, out.as_mut_ptr()),
                tcap_result::NullArgument
            );
            assert_eq!(tcap_descriptor_encode(&d, 0, core::ptr::null_mut()), tcap_result::NullArgument);
            d.exec_time_ms = 70_000;
            assert_eq!(tcap_descriptor_encode(&d, 0, out.as_mut_ptr()), tcap_result::DescriptorFieldRange);
            d.exec_time_ms = 1;
            d.command_len = 70_000;
            assert_eq!(tcap_descriptor_encode(&d, 0, out.as_mut_ptr()), tcap_result::DescriptorFieldRange);
            d.command_len = TCAP_COMMAND_LEN_UNKNOWN;
            d.flags |= 1 << 12; // kernel module: no knowledge-base bit
            assert_eq!(tcap_descriptor_encode(&d, 2, out.as_mut_ptr()), tcap_result::UnmappedFlags);
        }
        assert_eq!(out, [7u8; 24], "nothing written on error");
    }
}
