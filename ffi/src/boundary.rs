//! The boundary: panic containment and argument checking for every `extern "C"` function.
//!
//! Each entry point has the same shape:
//!
//! ```ignore
//! #[unsafe(no_mangle)]
//! pub unsafe extern "C" fn tcap_thing(obj: *const T, input: u32, out: *mut U) -> tcap_result {
//!     boundary::guard(|| {
//!         // SAFETY: per the function's documented contract, each pointer is NULL or valid.
//!         let obj = unsafe { boundary::arg_ref(obj) }?;
//!         let out = unsafe { boundary::Out::new(out) }?;   // checked before any work
//!         let value = compute(obj, input)?;                 // core errors map via From
//!         out.write(value);                                 // the only write, on success
//!         Ok(())
//!     })
//! }
//! ```
//!
//! With the `std` feature, [`guard`] runs the body under `catch_unwind` and turns a panic into
//! [`tcap_result::Panic`]. Without it, the body is called directly: no_std builds use
//! `panic = "abort"`, so there is nothing to catch. (Even with unwinding, Rust aborts rather than unwind
//! out of an `extern "C"` function, so no configuration lets a panic cross into C.)

use core::marker::PhantomData;

use crate::tcap_result;

/// Runs an entry point's body and converts its outcome into a [`tcap_result`].
#[cfg(feature = "std")]
#[inline]
pub fn guard<F: FnOnce() -> Result<(), tcap_result>>(body: F) -> tcap_result {
    // AssertUnwindSafe: after a caught panic the caller is told TCAP_RESULT_PANIC and must treat the
    // objects of that call as poisoned (documented on the code), so no broken invariant is observed.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(Ok(())) => tcap_result::Ok,
        Ok(Err(e)) => e,
        Err(_) => tcap_result::Panic,
    }
}

/// Runs an entry point's body and converts its outcome into a [`tcap_result`].
#[cfg(not(feature = "std"))]
#[inline(always)]
pub fn guard<F: FnOnce() -> Result<(), tcap_result>>(body: F) -> tcap_result {
    match body() {
        Ok(()) => tcap_result::Ok,
        Err(e) => e,
    }
}

/// For infallible entry points that return a value: `fallback` if the body panics.
#[cfg(feature = "std")]
#[inline]
pub fn guard_value<T, F: FnOnce() -> T>(fallback: T, body: F) -> T {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// For infallible entry points that return a value: `fallback` if the body panics.
#[cfg(not(feature = "std"))]
#[inline(always)]
pub fn guard_value<T, F: FnOnce() -> T>(_fallback: T, body: F) -> T {
    body()
}

/// A shared reference from a C pointer: [`tcap_result::NullArgument`] for NULL,
/// [`tcap_result::Misaligned`] if `p` is not aligned for `T`.
///
/// # Safety
/// `p` is NULL, or points to a valid, initialised `T` that is not mutated during `'a`.
#[inline]
pub unsafe fn arg_ref<'a, T>(p: *const T) -> Result<&'a T, tcap_result> {
    if p.is_null() {
        return Err(tcap_result::NullArgument);
    }
    if !p.is_aligned() {
        return Err(tcap_result::Misaligned);
    }
    // SAFETY: non-NULL and aligned (checked above); valid and unaliased for 'a by the caller's contract.
    Ok(unsafe { &*p })
}

/// An exclusive reference from a C pointer, checked like [`arg_ref`].
///
/// # Safety
/// `p` is NULL, or points to a valid, initialised `T` that nothing else accesses during `'a`.
#[inline]
pub unsafe fn arg_mut<'a, T>(p: *mut T) -> Result<&'a mut T, tcap_result> {
    if p.is_null() {
        return Err(tcap_result::NullArgument);
    }
    if !p.is_aligned() {
        return Err(tcap_result::Misaligned);
    }
    // SAFETY: non-NULL and aligned (checked above); valid and exclusive for 'a by the caller's contract.
    Ok(unsafe { &mut *p })
}

/// A byte slice from a C pointer and length. NULL is [`tcap_result::NullArgument`] even when `len` is 0
/// (one rule, no special case); a length above `isize::MAX` is [`tcap_result::InvalidLength`].
///
/// # Safety
/// `p` is NULL, or valid for reads of `len` bytes that are not mutated during `'a`.
#[inline]
pub unsafe fn arg_bytes<'a>(p: *const u8, len: usize) -> Result<&'a [u8], tcap_result> {
    if p.is_null() {
        return Err(tcap_result::NullArgument);
    }
    if len > isize::MAX as usize {
        return Err(tcap_result::InvalidLength);
    }
    // SAFETY: non-NULL, u8 needs no alignment, len ≤ isize::MAX (checked above); readable for `len`
    // bytes and unmutated for 'a by the caller's contract.
    Ok(unsafe { core::slice::from_raw_parts(p, len) })
}

/// An output parameter, checked (non-NULL, aligned) *before* the function does any work and written at
/// most once, at the end, on success. Dropping it without [`Out::write`] leaves the caller's memory
/// untouched.
#[must_use = "an output parameter must be written on success"]
pub struct Out<'a, T> {
    ptr: *mut T,
    _life: PhantomData<&'a mut T>,
}

impl<'a, T: Copy> Out<'a, T> {
    /// Checks `p`: [`tcap_result::NullArgument`] for NULL, [`tcap_result::Misaligned`] if unaligned.
    ///
    /// # Safety
    /// `p` is NULL, or valid for a write of one `T` during `'a` (it need not be initialised).
    #[inline]
    pub unsafe fn new(p: *mut T) -> Result<Out<'a, T>, tcap_result> {
        if p.is_null() {
            return Err(tcap_result::NullArgument);
        }
        if !p.is_aligned() {
            return Err(tcap_result::Misaligned);
        }
        Ok(Out { ptr: p, _life: PhantomData })
    }

    /// Writes the output. `T: Copy`, so nothing is dropped in the caller's memory.
    #[inline]
    pub fn write(self, value: T) {
        // SAFETY: `ptr` is non-NULL and aligned (checked in `new`) and valid for a write of one `T` by
        // the contract of `new`; `write` does not read or drop the old (possibly uninitialised) value.
        unsafe { self.ptr.write(value) }
    }
}

/// A caller-provided output buffer (`char *buf, size_t len`), checked like [`arg_bytes`] but writable.
///
/// # Safety
/// `p` is NULL, or valid for writes of `len` bytes during `'a`, and not accessed by anything else.
#[inline]
pub unsafe fn out_bytes<'a>(p: *mut u8, len: usize) -> Result<&'a mut [u8], tcap_result> {
    if p.is_null() {
        return Err(tcap_result::NullArgument);
    }
    if len > isize::MAX as usize {
        return Err(tcap_result::InvalidLength);
    }
    // SAFETY: non-NULL, byte-aligned, len ≤ isize::MAX (checked above); writable and exclusive for 'a
    // by the caller's contract. Callers only ever write through it (no read of uninitialised bytes).
    Ok(unsafe { core::slice::from_raw_parts_mut(p, len) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_maps_outcomes() {
        assert_eq!(guard(|| Ok(())), tcap_result::Ok);
        assert_eq!(guard(|| Err(tcap_result::InvalidEnum)), tcap_result::InvalidEnum);
    }

    #[cfg(feature = "std")]
    #[test]
    fn guard_catches_panics() {
        // Silence the default hook's message for this deliberate panic.
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let r = guard(|| panic!("boom"));
        let v = guard_value(7u32, || panic!("boom"));
        std::panic::set_hook(prev);
        assert_eq!(r, tcap_result::Panic);
        assert_eq!(v, 7);
        assert_eq!(guard_value(7u32, || 3), 3);
    }

    #[test]
    fn pointer_checks() {
        let x = 5u32;
        // SAFETY: NULL or pointers to live locals.
        unsafe {
            assert_eq!(arg_ref::<u32>(core::ptr::null()).err(), Some(tcap_result::NullArgument));
            assert_eq!(*arg_ref(&x).unwrap(), 5);
            let mut buf = [0u32; 2];
            let mis = (buf.as_mut_ptr() as *mut u8).add(1) as *mut u32;
            assert_eq!(arg_ref(mis as *const u32).err(), Some(tcap_result::Misaligned));
            assert_eq!(arg_mut(mis).err(), Some(tcap_result::Misaligned));
            assert_eq!(Out::new(mis).err(), Some(tcap_result::Misaligned));
            assert_eq!(Out::<u32>::new(core::ptr::null_mut()).err(), Some(tcap_result::NullArgument));
            let out = Out::new(buf.as_mut_ptr()).unwrap();
            out.write(9);
            assert_eq!(buf[0], 9);
            assert_eq!(arg_bytes(core::ptr::null(), 0).err(), Some(tcap_result::NullArgument));
            assert_eq!(arg_bytes(b"x".as_ptr(), usize::MAX).err(), Some(tcap_result::InvalidLength));
            assert_eq!(arg_bytes(b"xy".as_ptr(), 2).unwrap(), b"xy");
            assert_eq!(out_bytes(core::ptr::null_mut(), 1).err(), Some(tcap_result::NullArgument));
        }
    }
}
