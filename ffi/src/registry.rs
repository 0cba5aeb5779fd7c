//! Registry images: validated once, then looked up by id, by name, or by command line, zero-copy.
//!
//! A [`tcap_registry`] is a plain, fixed-size value the caller owns (a local, a global, a field): no
//! allocation and no size query. It holds a validated view of image bytes that the caller keeps alive and
//! unmodified while the handle, any copy of it, or any engine built on it is in use.

use core::mem::{MaybeUninit, align_of, size_of};

use tcap_core::registry::{Entry, ImageError, Registry, builtin};

use crate::boundary::{self, Out};
use crate::{tcap_result, tcap_risk};

/// A registry handle: a plain value the caller owns (copyable with `=` or `memcpy`). Initialise it with
/// `tcap_registry_builtin` or `tcap_registry_open`; its contents are private.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct tcap_registry {
    /// Private: a type tag and the validated view of the image.
    // `MaybeUninit` words (plain `uint64_t` in C: cbindgen drops the wrapper), so that the pointers
    // stored in them keep their provenance (Miri: integer words lose it, and reading the view back
    // then makes dangling references).
    pub opaque: [MaybeUninit<u64>; 16],
}

impl tcap_registry {
    /// A handle whose words are all `w` (no valid registry; for tests and zero-initialisation).
    pub const fn filled(w: u64) -> tcap_registry {
        tcap_registry { opaque: [MaybeUninit::new(w); 16] }
    }
}

/// What a `tcap_registry` holds.
#[repr(C)]
#[derive(Clone, Copy)]
struct Repr {
    magic: u64,
    reg: Registry<'static>,
}

const REGISTRY_MAGIC: u64 = u64::from_le_bytes(*b"tcapREG1");

const _: () = assert!(size_of::<Repr>() <= size_of::<tcap_registry>());
const _: () = assert!(align_of::<Repr>() <= align_of::<tcap_registry>());

impl tcap_registry {
    fn new(reg: Registry<'static>) -> tcap_registry {
        let mut h = tcap_registry::filled(0);
        // SAFETY: `Repr` fits `tcap_registry` and needs no stricter alignment (asserted above); `h` is a
        // live local, and `write` does not read the previous bytes.
        unsafe { (&raw mut h).cast::<Repr>().write(Repr { magic: REGISTRY_MAGIC, reg }) };
        h
    }

    /// The registry behind a handle: `TCAP_RESULT_BAD_HANDLE` unless this library initialised it.
    pub(crate) fn get(&self) -> Result<Registry<'static>, tcap_result> {
        // SAFETY: word 0 is initialised: handles come from C (whose objects are initialised bytes), from
        // `filled`, or from `new`, which writes the magic there.
        if unsafe { self.opaque[0].assume_init() } != REGISTRY_MAGIC {
            return Err(tcap_result::BadHandle);
        }
        // SAFETY: the magic is only ever written together with a `Repr` by `tcap_registry::new` (and
        // copies of such a value are byte-identical), so these bytes hold a valid `Registry`. Its slices
        // borrow image bytes that the caller keeps alive and unmodified while the handle is in use
        // (the documented contract, which is what `'static` stands for here).
        Ok(unsafe { (self as *const tcap_registry).cast::<Repr>().read() }.reg)
    }
}

/// One registry entry. `name` points into the image bytes (valid as long as they are) and is **not**
/// NUL-terminated: use `name_len`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct tcap_entry {
    /// TCP command id: `MD5(name)[0..4]`, big-endian.
    pub id: u32,
    /// Canonical security flags.
    pub flags: u32,
    /// Risk level (the highest risk bit of `flags`; `TCAP_RISK_UNKNOWN` if none).
    pub risk: tcap_risk,
    /// Typical execution time, ms.
    pub exec_time_ms: u32,
    /// Typical memory, MB.
    pub memory_mb: u16,
    /// Typical output, KB.
    pub output_kb: u16,
    /// The name as registered (e.g. `git status`), `name_len` bytes, not NUL-terminated.
    pub name: *const u8,
    /// Length of `name` in bytes.
    pub name_len: usize,
}

impl From<Entry<'static>> for tcap_entry {
    fn from(e: Entry<'static>) -> Self {
        let name = e.name();
        tcap_entry {
            id: e.id(),
            flags: e.flags().0,
            risk: e.risk().into(),
            exec_time_ms: e.exec_time_ms(),
            memory_mb: e.memory_mb(),
            output_kb: e.output_kb(),
            name: name.as_ptr(),
            name_len: name.len(),
        }
    }
}

impl From<ImageError> for tcap_result {
    fn from(e: ImageError) -> Self {
        match e {
            ImageError::Truncated { .. } => tcap_result::ImageTruncated,
            ImageError::BadMagic => tcap_result::ImageMagic,
            ImageError::UnsupportedVersion(_) => tcap_result::ImageVersion,
            ImageError::ChecksumMismatch { .. } => tcap_result::ImageChecksum,
            ImageError::BadHeader { .. }
            | ImageError::TrailingBytes { .. }
            | ImageError::BadSection { .. }
            | ImageError::BadBucket { .. }
            | ImageError::BadRecord { .. }
            | ImageError::IdMismatch { .. }
            | ImageError::IdTableMismatch { .. }
            | ImageError::NameTableMismatch { .. }
            | ImageError::CountMismatch { .. } => tcap_result::ImageCorrupt,
        }
    }
}

/// # Safety
/// `reg` is NULL or points to a readable `tcap_registry`.
unsafe fn registry_arg(reg: *const tcap_registry) -> Result<Registry<'static>, tcap_result> {
    // SAFETY: forwarded contract.
    unsafe { boundary::arg_ref(reg) }?.get()
}

/// The built-in registry (compiled into the library from `core/data/builtin.tsv`). O(1): the image was
/// validated when the library was built. Its bytes are static, so the handle never dangles.
///
/// Errors: `TCAP_RESULT_NULL_ARGUMENT`, `TCAP_RESULT_MISALIGNED` (`out`).
///
/// # Safety
/// `out` is NULL or writable for one `tcap_registry`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_registry_builtin(out: *mut tcap_registry) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or writable per this function's contract.
        let out = unsafe { Out::new(out) }?;
        out.write(tcap_registry::new(builtin()));
        Ok(())
    })
}

/// Validates `len` bytes as a registry image (docs/REGISTRY-FORMAT.md) and opens a handle on them,
/// zero-copy. O(len): the CRC-32C, every bucket and every record are checked once, so no later lookup
/// can fail or return a wrong entry. Any alignment is accepted.
///
/// **The bytes are borrowed, not copied:** keep them alive and unmodified while the handle, any copy of
/// it, or any engine initialised with it is in use.
///
/// Errors: `TCAP_RESULT_NULL_ARGUMENT`, `TCAP_RESULT_MISALIGNED` (`out`), `TCAP_RESULT_INVALID_LENGTH`
/// (`len` above `PTRDIFF_MAX`), `TCAP_RESULT_IMAGE_TRUNCATED`, `TCAP_RESULT_IMAGE_MAGIC`,
/// `TCAP_RESULT_IMAGE_VERSION`, `TCAP_RESULT_IMAGE_CHECKSUM`, `TCAP_RESULT_IMAGE_CORRUPT`.
///
/// # Safety
/// `bytes` is NULL or readable for `len` bytes, which stay alive and unmodified while the handle is
/// used; `out` is NULL or writable for one `tcap_registry`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_registry_open(
    bytes: *const u8,
    len: usize,
    out: *mut tcap_registry,
) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or valid for the handle's life per this function's contract, which is what the
        // 'static lifetime stands for.
        let bytes: &'static [u8] = unsafe { boundary::arg_bytes(bytes, len) }?;
        // SAFETY: NULL or writable per this function's contract.
        let out = unsafe { Out::new(out) }?;
        out.write(tcap_registry::new(Registry::load(bytes)?));
        Ok(())
    })
}

/// The number of entries.
///
/// Errors: `TCAP_RESULT_NULL_ARGUMENT`, `TCAP_RESULT_MISALIGNED`, `TCAP_RESULT_BAD_HANDLE` (`reg` was
/// not initialised by `tcap_registry_builtin`/`tcap_registry_open`).
///
/// # Safety
/// `reg` is NULL or a readable `tcap_registry`; `out_len` is NULL or writable for one `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_registry_len(reg: *const tcap_registry, out_len: *mut usize) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or valid per this function's contract.
        let (reg, out) = unsafe { (registry_arg(reg)?, Out::new(out_len)?) };
        out.write(reg.len());
        Ok(())
    })
}

/// The image bytes behind a handle (for the built-in registry: the image compiled into the library, 64-byte
/// aligned), e.g. to store them or to open a copy elsewhere. `*out_bytes` stays valid as long as the
/// bytes the handle was opened on.
///
/// Errors: as `tcap_registry_len`.
///
/// # Safety
/// `reg` is NULL or a readable `tcap_registry`; `out_bytes` and `out_len` are NULL or writable for one
/// pointer and one `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_registry_image(
    reg: *const tcap_registry,
    out_bytes: *mut *const u8,
    out_len: *mut usize,
) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or valid per this function's contract.
        let (reg, out_bytes, out_len) =
            unsafe { (registry_arg(reg)?, Out::new(out_bytes)?, Out::new(out_len)?) };
        let img = reg.as_bytes();
        out_bytes.write(img.as_ptr());
        out_len.write(img.len());
        Ok(())
    })
}

/// The entry with command id `id`; `TCAP_RESULT_NOT_FOUND` if there is none.
///
/// Errors: as `tcap_registry_len`, and `TCAP_RESULT_NOT_FOUND`.
///
/// # Safety
/// `reg` is NULL or a readable `tcap_registry`; `out` is NULL or writable for one `tcap_entry`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_registry_lookup_id(
    reg: *const tcap_registry,
    id: u32,
    out: *mut tcap_entry,
) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or valid per this function's contract.
        let (reg, out) = unsafe { (registry_arg(reg)?, Out::new(out)?) };
        out.write(reg.get(id).ok_or(tcap_result::NotFound)?.into());
        Ok(())
    })
}

/// The entry named exactly `name[0..len]` (bytes as registered: `git status` with one space; no
/// trimming, no case folding); `TCAP_RESULT_NOT_FOUND` if there is none.
///
/// Errors: as `tcap_registry_len`, `TCAP_RESULT_INVALID_LENGTH` (`len` 0 or above `PTRDIFF_MAX`), and
/// `TCAP_RESULT_NOT_FOUND`.
///
/// # Safety
/// `reg` is NULL or a readable `tcap_registry`; `name` is NULL or readable for `len` bytes; `out` is
/// NULL or writable for one `tcap_entry`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_registry_lookup_name(
    reg: *const tcap_registry,
    name: *const u8,
    len: usize,
    out: *mut tcap_entry,
) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or valid per this function's contract.
        let (reg, name, out) =
            unsafe { (registry_arg(reg)?, boundary::arg_bytes(name, len)?, Out::new(out)?) };
        if name.is_empty() {
            return Err(tcap_result::InvalidLength);
        }
        out.write(reg.get_by_name(name).ok_or(tcap_result::NotFound)?.into());
        Ok(())
    })
}

/// The entry of the longest registered prefix of a command line, read as whitespace-separated words
/// (`"git  clone https://x"` finds `git clone`, `"rm -rf /"` finds `rm`), and the number of bytes of
/// `line` it covers (leading whitespace included: the arguments start at `line + *matched_len`). Shell
/// syntax is not interpreted. `TCAP_RESULT_NOT_FOUND` if no prefix is registered: treat that command as
/// unknown, never as safe.
///
/// Errors: as `tcap_registry_lookup_name`.
///
/// # Safety
/// As `tcap_registry_lookup_name`; `matched_len` is NULL or writable for one `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_registry_resolve(
    reg: *const tcap_registry,
    line: *const u8,
    len: usize,
    out: *mut tcap_entry,
    matched_len: *mut usize,
) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or valid per this function's contract.
        let (reg, line, out, matched) = unsafe {
            (registry_arg(reg)?, boundary::arg_bytes(line, len)?, Out::new(out)?, Out::new(matched_len)?)
        };
        if line.is_empty() {
            return Err(tcap_result::InvalidLength);
        }
        let hit = reg.resolve(line).ok_or(tcap_result::NotFound)?;
        out.write(hit.entry.into());
        matched.write(hit.matched_len);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tcap_core::registry::builtin_image;

    fn entry() -> tcap_entry {
        tcap_entry {
            id: 0,
            flags: 0,
            risk: tcap_risk::Safe,
            exec_time_ms: 0,
            memory_mb: 0,
            output_kb: 0,
            name: core::ptr::null(),
            name_len: 0,
        }
    }

    #[test]
    fn builtin_open_and_lookups() {
        let mut reg = tcap_registry::filled(0);
        let mut opened = reg;
        let img = builtin_image();
        let (mut n, mut m) = (0usize, 0usize);
        let mut e = entry();
        // SAFETY: live locals; the built-in image is static.
        unsafe {
            assert_eq!(tcap_registry_len(&reg, &mut n), tcap_result::BadHandle);
            assert_eq!(tcap_registry_builtin(&mut reg), tcap_result::Ok);
            assert_eq!(tcap_registry_open(img.as_ptr(), img.len(), &mut opened), tcap_result::Ok);
            assert_eq!(tcap_registry_len(&reg, &mut n), tcap_result::Ok);
            assert_eq!(tcap_registry_len(&opened, &mut m), tcap_result::Ok);
            assert_eq!(n, builtin().len());
            assert_eq!(n, m);
            assert_eq!(tcap_registry_lookup_name(&reg, b"rm".as_ptr(), 2, &mut e), tcap_result::Ok);
            assert_eq!(e.id, 0xd67f249b);
            assert_eq!(e.risk, tcap_risk::Critical);
            assert_eq!(core::slice::from_raw_parts(e.name, e.name_len), b"rm");
            let mut e2 = entry();
            assert_eq!(tcap_registry_lookup_id(&opened, e.id, &mut e2), tcap_result::Ok);
            assert_eq!((e2.id, e2.flags, e2.exec_time_ms), (e.id, e.flags, e.exec_time_ms));
            let line = b"  rm -rf /";
            assert_eq!(
                tcap_registry_resolve(&reg, line.as_ptr(), line.len(), &mut e2, &mut m),
                tcap_result::Ok
            );
            assert_eq!(&line[m..], b" -rf /");
            assert_eq!(e2.id, e.id);
            assert_eq!(tcap_registry_lookup_id(&reg, 0x1234_5678, &mut e2), tcap_result::NotFound);
            let (mut p, mut l) = (core::ptr::null(), 0usize);
            assert_eq!(tcap_registry_image(&reg, &mut p, &mut l), tcap_result::Ok);
            assert_eq!((p, l), (img.as_ptr(), img.len()));
            assert_eq!(tcap_registry_image(&reg, core::ptr::null_mut(), &mut l), tcap_result::NullArgument);
        }
    }

    #[test]
    fn bad_images_are_refused_with_their_codes() {
        let img = builtin_image().to_vec();
        let mut reg = tcap_registry::filled(9);
        let open = |b: &[u8], r: &mut tcap_registry| {
            // SAFETY: a live slice and a live handle.
            unsafe { tcap_registry_open(b.as_ptr(), b.len(), r) }
        };
        assert_eq!(open(&img[..64], &mut reg), tcap_result::ImageTruncated);
        let mut bad = img.clone();
        bad[0] = b'X';
        assert_eq!(open(&bad, &mut reg), tcap_result::ImageMagic);
        let mut bad = img.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x55;
        assert!(matches!(open(&bad, &mut reg), tcap_result::ImageChecksum | tcap_result::ImageCorrupt));
        let mut bad = img.clone();
        bad.push(0);
        assert_eq!(open(&bad, &mut reg), tcap_result::ImageCorrupt);
        // SAFETY: the words were initialised by `filled` and the failed call wrote none of them.
        let words = reg.opaque.map(|w| unsafe { w.assume_init() });
        assert_eq!(words, [9; 16], "handle untouched on error");
    }
}
