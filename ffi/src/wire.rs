//! Command ids, security flags and risk levels.
//!
//! Descriptor decoding and encoding live in [`crate::descriptor`].

use core::ffi::c_char;
use core::fmt::Write;

use tcap_core::wire::{Flags, KbFlags, command_id};

use crate::boundary::{self, Out};
use crate::{tcap_result, tcap_risk};

/// Canonical flag bit 0: read-only, no security implications.
pub const TCAP_FLAG_SAFE: u32 = 1 << 0;
/// Canonical flag bit 1: low risk.
pub const TCAP_FLAG_LOW_RISK: u32 = 1 << 1;
/// Canonical flag bit 2: medium risk.
pub const TCAP_FLAG_MEDIUM_RISK: u32 = 1 << 2;
/// Canonical flag bit 3: high risk.
pub const TCAP_FLAG_HIGH_RISK: u32 = 1 << 3;
/// Canonical flag bit 4: critical.
pub const TCAP_FLAG_CRITICAL: u32 = 1 << 4;
/// Canonical flag bit 5: needs sudo.
pub const TCAP_FLAG_REQUIRES_SUDO: u32 = 1 << 5;
/// Canonical flag bit 6: needs root.
pub const TCAP_FLAG_REQUIRES_ROOT: u32 = 1 << 6;
/// Canonical flag bit 7: destroys data.
pub const TCAP_FLAG_DESTRUCTIVE: u32 = 1 << 7;
/// Canonical flag bit 8: reaches the network.
pub const TCAP_FLAG_NETWORK_ACCESS: u32 = 1 << 8;
/// Canonical flag bit 9: modifies files.
pub const TCAP_FLAG_FILE_MODIFICATION: u32 = 1 << 9;
/// Canonical flag bit 10: modifies the system configuration.
pub const TCAP_FLAG_SYSTEM_MODIFICATION: u32 = 1 << 10;
/// Canonical flag bit 11: can escalate privileges.
pub const TCAP_FLAG_PRIVILEGE_ESCALATION: u32 = 1 << 11;
/// Canonical flag bit 12: loads or manipulates kernel modules.
pub const TCAP_FLAG_KERNEL_MODULE: u32 = 1 << 12;
/// Canonical flag bit 13: can escape a container.
pub const TCAP_FLAG_CONTAINER_ESCAPE: u32 = 1 << 13;
/// Canonical flag bit 14: performs cryptographic operations.
pub const TCAP_FLAG_CRYPTO_OPERATION: u32 = 1 << 14;
/// Canonical flag bit 15: touches audit logging.
pub const TCAP_FLAG_AUDIT_LOGGING: u32 = 1 << 15;
/// Canonical flag bit 16 (tcap): starts, signals or controls processes.
pub const TCAP_FLAG_PROCESS_CONTROL: u32 = 1 << 16;
/// Knowledge-base flag bit 8: file operations.
pub const TCAP_KB_FLAG_FILE_OPS: u32 = 1 << 8;
/// Knowledge-base flag bit 9: network.
pub const TCAP_KB_FLAG_NETWORK: u32 = 1 << 9;
/// Knowledge-base flag bit 10: needs sudo.
pub const TCAP_KB_FLAG_SUDO: u32 = 1 << 10;
/// Knowledge-base flag bit 11: destructive.
pub const TCAP_KB_FLAG_DESTRUCTIVE: u32 = 1 << 11;
/// Knowledge-base flag bit 12: system.
pub const TCAP_KB_FLAG_SYSTEM: u32 = 1 << 12;
/// Knowledge-base flag bit 13: process control.
pub const TCAP_KB_FLAG_PROCESS: u32 = 1 << 13;

/// A buffer of this many bytes always holds the text of `tcap_flags_format`, NUL included.
pub const TCAP_FLAGS_FORMAT_MAX: usize = 320;

/// The command id of a command string: the first four bytes of MD5 of the bytes exactly as given
/// (`"git status"` with its space; no trimming, no case folding), read big-endian. Bit-exact with
/// upstream TCP.
///
/// Errors: `TCAP_RESULT_NULL_ARGUMENT` if `name` or `out_id` is NULL; `TCAP_RESULT_INVALID_LENGTH` if
/// `len` is 0 or above `PTRDIFF_MAX`; `TCAP_RESULT_MISALIGNED` if `out_id` is not aligned.
///
/// # Safety
/// `name` is NULL or readable for `len` bytes; `out_id` is NULL or writable for one `uint32_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_command_id(name: *const u8, len: usize, out_id: *mut u32) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or valid per this function's contract.
        let name = unsafe { boundary::arg_bytes(name, len) }?;
        // SAFETY: NULL or writable per this function's contract.
        let out = unsafe { Out::new(out_id) }?;
        if name.is_empty() {
            return Err(tcap_result::InvalidLength);
        }
        out.write(command_id(name));
        Ok(())
    })
}

/// The risk level of canonical (spec-map) flags: the highest of bits 0..4, `TCAP_RISK_UNKNOWN` if none
/// is set. Every `uint32_t` is valid input.
#[unsafe(no_mangle)]
pub extern "C" fn tcap_flags_risk(flags: u32) -> tcap_risk {
    boundary::guard_value(tcap_risk::Unknown, || Flags(flags).risk().into())
}

/// The risk level of knowledge-base flags (same risk bits as the canonical map).
#[unsafe(no_mangle)]
pub extern "C" fn tcap_kb_flags_risk(kb_flags: u32) -> tcap_risk {
    boundary::guard_value(tcap_risk::Unknown, || KbFlags(kb_flags).risk().into())
}

/// Normalises knowledge-base flags onto the canonical map without losing a bit.
///
/// Errors: `TCAP_RESULT_UNMAPPED_FLAGS` if a bit undefined in the knowledge-base map (5..7, 14..16) is
/// set; `TCAP_RESULT_NULL_ARGUMENT` / `TCAP_RESULT_MISALIGNED` for `out_flags`.
///
/// # Safety
/// `out_flags` is NULL or writable for one `uint32_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_kb_flags_to_canonical(kb_flags: u32, out_flags: *mut u32) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or writable per this function's contract.
        let out = unsafe { Out::new(out_flags) }?;
        out.write(KbFlags(kb_flags).to_canonical().map_err(|_| tcap_result::UnmappedFlags)?.0);
        Ok(())
    })
}

/// Encodes canonical flags in the knowledge-base map.
///
/// Errors: `TCAP_RESULT_UNMAPPED_FLAGS` if a canonical bit with no knowledge-base home is set (root,
/// kernel module, container escape, ...); `TCAP_RESULT_NULL_ARGUMENT` / `TCAP_RESULT_MISALIGNED` for
/// `out_kb_flags`.
///
/// # Safety
/// `out_kb_flags` is NULL or writable for one `uint32_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_flags_to_kb(flags: u32, out_kb_flags: *mut u32) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or writable per this function's contract.
        let out = unsafe { Out::new(out_kb_flags) }?;
        out.write(Flags(flags).to_kb().map_err(|_| tcap_result::UnmappedFlags)?.0);
        Ok(())
    })
}

/// Formats into a fixed stack buffer; `Err` when it is full.
struct StackText {
    buf: [u8; TCAP_FLAGS_FORMAT_MAX],
    len: usize,
}

impl Write for StackText {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(core::fmt::Error)?;
        // Keep one byte for the NUL.
        let dst = self.buf.get_mut(self.len..end).filter(|_| end < TCAP_FLAGS_FORMAT_MAX);
        dst.ok_or(core::fmt::Error)?.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Writes canonical flags as text, e.g. `0x000006d0 [CRITICAL|REQUIRES_ROOT|DESTRUCTIVE|...]`, NUL
/// terminated, into `buf`, and its length (without the NUL) into `out_len`. A buffer of
/// `TCAP_FLAGS_FORMAT_MAX` bytes always suffices.
///
/// Errors: `TCAP_RESULT_BUFFER_TOO_SMALL` if the text and its NUL do not fit in `len` bytes (nothing is
/// written); `TCAP_RESULT_NULL_ARGUMENT` if `buf` or `out_len` is NULL; `TCAP_RESULT_MISALIGNED` for
/// `out_len`.
///
/// # Safety
/// `buf` is NULL or writable for `len` bytes; `out_len` is NULL or writable for one `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_flags_format(
    flags: u32,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or writable for `len` bytes per this function's contract.
        let buf = unsafe { boundary::out_bytes(buf.cast::<u8>(), len) }?;
        // SAFETY: NULL or writable per this function's contract.
        let out_len = unsafe { Out::new(out_len) }?;
        let mut text = StackText { buf: [0; TCAP_FLAGS_FORMAT_MAX], len: 0 };
        write!(text, "{}", Flags(flags)).map_err(|_| tcap_result::Internal)?;
        let n = text.len;
        let dst = buf.get_mut(..=n).ok_or(tcap_result::BufferTooSmall)?;
        // `text.buf[n]` is the NUL: write_str always leaves at least one zero byte after the text.
        dst.copy_from_slice(&text.buf[..=n]);
        out_len.write(n);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::ffi::CStr;
    use tcap_core::wire::Risk;

    #[test]
    fn flag_constants_match_core() {
        let ours = [
            TCAP_FLAG_SAFE,
            TCAP_FLAG_LOW_RISK,
            TCAP_FLAG_MEDIUM_RISK,
            TCAP_FLAG_HIGH_RISK,
            TCAP_FLAG_CRITICAL,
            TCAP_FLAG_REQUIRES_SUDO,
            TCAP_FLAG_REQUIRES_ROOT,
            TCAP_FLAG_DESTRUCTIVE,
            TCAP_FLAG_NETWORK_ACCESS,
            TCAP_FLAG_FILE_MODIFICATION,
            TCAP_FLAG_SYSTEM_MODIFICATION,
            TCAP_FLAG_PRIVILEGE_ESCALATION,
            TCAP_FLAG_KERNEL_MODULE,
            TCAP_FLAG_CONTAINER_ESCAPE,
            TCAP_FLAG_CRYPTO_OPERATION,
            TCAP_FLAG_AUDIT_LOGGING,
            TCAP_FLAG_PROCESS_CONTROL,
        ];
        assert_eq!(ours.len(), Flags::NAMED.len());
        for (c, (f, _)) in ours.iter().zip(Flags::NAMED) {
            assert_eq!(*c, f.0);
        }
        let kb = [
            TCAP_KB_FLAG_FILE_OPS,
            TCAP_KB_FLAG_NETWORK,
            TCAP_KB_FLAG_SUDO,
            TCAP_KB_FLAG_DESTRUCTIVE,
            TCAP_KB_FLAG_SYSTEM,
            TCAP_KB_FLAG_PROCESS,
        ];
        assert_eq!(kb.len(), KbFlags::NAMED.len());
        for (c, (f, _)) in kb.iter().zip(KbFlags::NAMED) {
            assert_eq!(*c, f.0);
        }
    }

    #[test]
    fn command_id_real_and_errors() {
        let mut id = 0xdead_beef_u32;
        // SAFETY: live locals and static byte strings, or NULL.
        unsafe {
            assert_eq!(tcap_command_id(b"rm".as_ptr(), 2, &mut id), tcap_result::Ok);
            assert_eq!(id, 0xd67f_249b);
            assert_eq!(tcap_command_id(b"git status".as_ptr(), 10, &mut id), tcap_result::Ok);
            assert_eq!(id, command_id(b"git status"));
            id = 1;
            assert_eq!(tcap_command_id(core::ptr::null(), 2, &mut id), tcap_result::NullArgument);
            assert_eq!(tcap_command_id(b"rm".as_ptr(), 0, &mut id), tcap_result::InvalidLength);
            assert_eq!(tcap_command_id(b"rm".as_ptr(), usize::MAX, &mut id), tcap_result::InvalidLength);
            assert_eq!(tcap_command_id(b"rm".as_ptr(), 2, core::ptr::null_mut()), tcap_result::NullArgument);
            assert_eq!(id, 1, "output written on error");
        }
    }

    #[test]
    fn risk_and_maps() {
        assert_eq!(tcap_flags_risk(0x6d0), tcap_risk::Critical);
        assert_eq!(tcap_flags_risk(0x100), tcap_risk::Unknown);
        assert_eq!(tcap_kb_flags_risk(0x1704), tcap_risk::Medium);
        for bits in [0u32, 1, 0x1f, 0xffff_ffff, 0x8000_0004] {
            assert_eq!(tcap_flags_risk(bits), tcap_risk::from(Flags(bits).risk()));
        }
        let mut out = 0u32;
        // SAFETY: live locals.
        unsafe {
            assert_eq!(tcap_kb_flags_to_canonical(0x1704, &mut out), tcap_result::Ok);
            assert_eq!(Flags(out).risk(), Risk::Medium);
            let canon = out;
            assert_eq!(tcap_flags_to_kb(canon, &mut out), tcap_result::Ok);
            assert_eq!(out, 0x1704);
            assert_eq!(tcap_kb_flags_to_canonical(0x20, &mut out), tcap_result::UnmappedFlags);
            assert_eq!(tcap_flags_to_kb(TCAP_FLAG_KERNEL_MODULE, &mut out), tcap_result::UnmappedFlags);
            assert_eq!(out, 0x1704, "output written on error");
        }
    }

    #[test]
    fn format_fits_and_refuses_small_buffers() {
        let mut buf = [0x55 as c_char; TCAP_FLAGS_FORMAT_MAX];
        let mut n = 0usize;
        // SAFETY: live locals.
        unsafe {
            // The longest possible text fits the advertised maximum.
            assert_eq!(tcap_flags_format(u32::MAX, buf.as_mut_ptr(), buf.len(), &mut n), tcap_result::Ok);
            let s = CStr::from_ptr(buf.as_ptr()).to_str().unwrap();
            assert_eq!(s.len(), n);
            assert!(s.contains("PROCESS_CONTROL") && s.contains("vendor:0xfffe0000"));
            assert_eq!(tcap_flags_format(0x6d0, buf.as_mut_ptr(), buf.len(), &mut n), tcap_result::Ok);
            let expect =
                "0x000006d0 [CRITICAL|REQUIRES_ROOT|DESTRUCTIVE|FILE_MODIFICATION|SYSTEM_MODIFICATION]";
            assert_eq!(CStr::from_ptr(buf.as_ptr()).to_str().unwrap(), expect);
            // Exactly enough (text + NUL) works; one byte less is refused and writes nothing.
            let mut small = [0x55 as c_char; 128];
            let exact = expect.len() + 1;
            assert_eq!(tcap_flags_format(0x6d0, small.as_mut_ptr(), exact, &mut n), tcap_result::Ok);
            small = [0x55 as c_char; 128];
            n = 7;
            assert_eq!(
                tcap_flags_format(0x6d0, small.as_mut_ptr(), exact - 1, &mut n),
                tcap_result::BufferTooSmall
            );
            assert!(small.iter().all(|&b| b == 0x55) && n == 7, "written on error");
            assert_eq!(tcap_flags_format(0, core::ptr::null_mut(), 8, &mut n), tcap_result::NullArgument);
            assert_eq!(
                tcap_flags_format(0, small.as_mut_ptr(), 8, core::ptr::null_mut()),
                tcap_result::NullArgument
            );
        }
    }
}
