//! Caller-provided memory: the allocator-free object model of the C ABI.
//!
//! Every object with state (the engine, with one 64-byte state per agent) lives in memory the caller
//! owns, in three steps:
//!
//! 1. `tcap_X_size(params, size_t *out_size)` runs a [`Layout`] over the object's parts and reports the
//!    bytes it needs (a size overflow is `TCAP_RESULT_INVALID_LENGTH`). The alignment is a published
//!    constant (`TCAP_ENGINE_ALIGN`, 64 for the engine) that a `const` assertion ties to
//!    [`Layout::align`]; the example object below reports it through an output instead.
//! 2. The caller provides `mem` (static array, stack, DMA region, `aligned_alloc`...).
//! 3. `tcap_X_init(mem, len, ..., tcap_X **out)` checks it with [`CallerMem::new`]
//!    (NULL → `TCAP_RESULT_NULL_ARGUMENT`, misaligned → `TCAP_RESULT_MISALIGNED`, short →
//!    `TCAP_RESULT_BUFFER_TOO_SMALL`), carves the same parts in the same order with [`Arena::take`],
//!    initialises them, and hands back a handle that points into `mem`.
//!
//! The caller keeps `mem` alive and unmoved while the handle is in use, and frees it however it got it;
//! tcap never frees anything.
//!
//! 4. Every later call takes the handle and checks it with [`handle_ref`] / [`handle_mut`]: NULL,
//!    alignment, and the [`ObjectHeader`] magic (`TCAP_RESULT_BAD_HANDLE` for memory that was never
//!    initialised, was overwritten, or holds another type). This catches mistakes, not attacks: a
//!    pointer to unreadable memory still faults.
//!
//! The test module `example_object` at the bottom of this file is a complete object written this way
//! (size, init, a mutating and a reading call, every error path); the engine follows it.

use core::ffi::c_void;
use core::marker::PhantomData;
use core::mem::{MaybeUninit, align_of, size_of};

use crate::tcap_result;

/// The size and alignment of an object made of consecutive typed parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    size: usize,
    align: usize,
}

impl Default for Layout {
    fn default() -> Self {
        Self::new()
    }
}

impl Layout {
    /// An empty layout (size 0, alignment 1).
    pub const fn new() -> Layout {
        Layout { size: 0, align: 1 }
    }

    /// Appends `count` values of `T` and returns their byte offset. `TCAP_RESULT_INVALID_LENGTH` if the
    /// total would overflow `isize::MAX` (a `count` from C is untrusted).
    pub fn push<T>(&mut self, count: usize) -> Result<usize, tcap_result> {
        let align = align_of::<T>();
        let offset = self.size.checked_next_multiple_of(align).ok_or(tcap_result::InvalidLength)?;
        let bytes = size_of::<T>().checked_mul(count).ok_or(tcap_result::InvalidLength)?;
        let end = offset.checked_add(bytes).ok_or(tcap_result::InvalidLength)?;
        if end > isize::MAX as usize {
            return Err(tcap_result::InvalidLength);
        }
        self.size = end;
        self.align = self.align.max(align);
        Ok(offset)
    }

    /// Total bytes needed (not rounded: the region need not be a multiple of the alignment).
    pub const fn size(&self) -> usize {
        self.size
    }

    /// Alignment the start of the region must have.
    pub const fn align(&self) -> usize {
        self.align
    }
}

/// A checked, exclusively borrowed region of caller memory.
pub struct CallerMem<'a> {
    bytes: &'a mut [MaybeUninit<u8>],
}

impl<'a> CallerMem<'a> {
    /// Checks `mem`/`len` against `layout`.
    ///
    /// # Safety
    /// `mem` is NULL, or valid for reads and writes of `len` bytes during `'a`, and nothing else accesses
    /// those bytes during `'a`. The bytes need not be initialised.
    pub unsafe fn new(mem: *mut c_void, len: usize, layout: &Layout) -> Result<CallerMem<'a>, tcap_result> {
        if mem.is_null() {
            return Err(tcap_result::NullArgument);
        }
        if !(mem as usize).is_multiple_of(layout.align()) {
            return Err(tcap_result::Misaligned);
        }
        if len < layout.size() {
            return Err(tcap_result::BufferTooSmall);
        }
        if len > isize::MAX as usize {
            return Err(tcap_result::InvalidLength);
        }
        // SAFETY: non-NULL, len ≤ isize::MAX (checked above); valid and exclusive for 'a by the caller's
        // contract. MaybeUninit<u8> has no validity requirement, so uninitialised memory is fine.
        let bytes = unsafe { core::slice::from_raw_parts_mut(mem.cast::<MaybeUninit<u8>>(), len) };
        Ok(CallerMem { bytes })
    }

    /// An arena that carves the region front to back.
    pub fn arena(self) -> Arena<'a> {
        Arena { rest: self.bytes, _life: PhantomData }
    }
}

/// Carves disjoint, aligned, typed pieces off the front of a [`CallerMem`]. Carving the same parts in
/// the same order as the [`Layout`] that sized the region always succeeds.
pub struct Arena<'a> {
    rest: &'a mut [MaybeUninit<u8>],
    _life: PhantomData<&'a mut [u8]>,
}

impl<'a> Arena<'a> {
    /// The next `count` values of `T`, uninitialised. `TCAP_RESULT_BUFFER_TOO_SMALL` if they do not fit.
    pub fn take<T>(&mut self, count: usize) -> Result<&'a mut [MaybeUninit<T>], tcap_result> {
        let rest = core::mem::take(&mut self.rest);
        let pad = rest.as_ptr().align_offset(align_of::<T>());
        let bytes = size_of::<T>().checked_mul(count).ok_or(tcap_result::InvalidLength)?;
        let need = pad.checked_add(bytes).ok_or(tcap_result::InvalidLength)?;
        if need > rest.len() {
            self.rest = rest;
            return Err(tcap_result::BufferTooSmall);
        }
        // `need <= rest.len()`, so this is never `None` (`_checked`: no panic path is compiled in).
        let (front, back) = rest.split_at_mut_checked(need).ok_or(tcap_result::Internal)?;
        self.rest = back;
        // `pad <= need`, so this is never `None` either.
        let piece = front.get_mut(pad..).ok_or(tcap_result::Internal)?;
        // SAFETY: `piece` starts `pad` bytes in, which `align_offset` made aligned for T, and holds
        // exactly size_of::<T>() * count bytes, exclusively borrowed for 'a. MaybeUninit<T> has no
        // validity invariant, so viewing uninitialised bytes as it is sound.
        Ok(unsafe { core::slice::from_raw_parts_mut(piece.as_mut_ptr().cast::<MaybeUninit<T>>(), count) })
    }
}

/// The first field of every object that lives in caller memory and is reached through a handle.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectHeader {
    magic: u64,
}

/// An object reached through a handle. Implementors are `#[repr(C)]` with an [`ObjectHeader`] as their
/// first field, which is what makes [`handle_ref`] sound.
///
/// # Safety
/// `Self` is `#[repr(C)]` and its first field is an `ObjectHeader`; `MAGIC` is unique to `Self`.
pub unsafe trait Object: Sized {
    /// Eight bytes naming the type and its layout version, e.g. `*b"tcapENG1"`.
    const MAGIC: [u8; 8];
}

impl ObjectHeader {
    /// The header of a live `T`.
    pub const fn new<T: Object>() -> ObjectHeader {
        ObjectHeader { magic: u64::from_le_bytes(T::MAGIC) }
    }
}

/// Reads and checks the header behind a handle.
///
/// # Safety
/// `p` is NULL or readable for `size_of::<ObjectHeader>()` bytes.
unsafe fn check_handle<T: Object>(p: *const T) -> Result<(), tcap_result> {
    if p.is_null() {
        return Err(tcap_result::NullArgument);
    }
    if !p.is_aligned() {
        return Err(tcap_result::Misaligned);
    }
    // SAFETY: non-NULL and aligned for T, hence for its first field, the header (T: Object is
    // repr(C) with the header first); readable by the caller's contract. Read by value, as raw memory:
    // no reference to a possibly uninitialised T is formed before the magic matches.
    let header = unsafe { p.cast::<ObjectHeader>().read() };
    if header != ObjectHeader::new::<T>() {
        return Err(tcap_result::BadHandle);
    }
    Ok(())
}

/// A shared reference from a handle: `TCAP_RESULT_NULL_ARGUMENT`, `TCAP_RESULT_MISALIGNED`, or
/// `TCAP_RESULT_BAD_HANDLE` if the memory does not hold an initialised `T`.
///
/// # Safety
/// `p` is NULL, or readable for at least the header; if the magic matches, `p` points to a `T` that this
/// crate initialised and that is not mutated during `'a`.
pub unsafe fn handle_ref<'a, T: Object>(p: *const T) -> Result<&'a T, tcap_result> {
    // SAFETY: forwarded contract.
    unsafe { check_handle(p) }?;
    // SAFETY: the magic matches, so by the contract `p` is a live, initialised, unaliased-for-writes T.
    Ok(unsafe { &*p })
}

/// An exclusive reference from a handle, checked like [`handle_ref`].
///
/// # Safety
/// As [`handle_ref`], and nothing else accesses the `T` during `'a`.
pub unsafe fn handle_mut<'a, T: Object>(p: *mut T) -> Result<&'a mut T, tcap_result> {
    // SAFETY: forwarded contract.
    unsafe { check_handle(p.cast_const()) }?;
    // SAFETY: the magic matches, so by the contract `p` is a live, initialised, exclusive T.
    Ok(unsafe { &mut *p })
}

/// Zeroed heap memory for the unit tests, aligned to 128 bytes (a multiple of every object's
/// alignment), freed on drop.
#[cfg(test)]
pub(crate) struct TestMem {
    ptr: *mut u8,
    layout: std::alloc::Layout,
}

#[cfg(test)]
impl TestMem {
    /// `len` zeroed bytes (at least one).
    pub(crate) fn new(len: usize) -> TestMem {
        let layout = std::alloc::Layout::from_size_align(len.max(1), 128).unwrap();
        // SAFETY: non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        TestMem { ptr, layout }
    }
    /// The start of the memory.
    pub(crate) fn ptr(&self) -> *mut c_void {
        self.ptr.cast()
    }
    /// Its length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.layout.size()
    }
}

#[cfg(test)]
impl Drop for TestMem {
    fn drop(&mut self) {
        // SAFETY: allocated with this layout in `new`.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(C, align(64))]
    #[derive(Clone, Copy)]
    struct Line([u8; 64]);

    fn layout(n: usize) -> Result<Layout, tcap_result> {
        let mut l = Layout::new();
        l.push::<u32>(3)?;
        l.push::<Line>(n)?;
        Ok(l)
    }

    #[repr(C, align(64))]
    struct Backing([u8; 1024]);

    #[test]
    fn layout_sizes_and_overflow() {
        let l = layout(4).unwrap();
        assert_eq!(l.align(), 64);
        assert_eq!(l.size(), 64 + 4 * 64);
        assert_eq!(layout(usize::MAX).err(), Some(tcap_result::InvalidLength));
        assert_eq!(layout(usize::MAX / 64).err(), Some(tcap_result::InvalidLength));
    }

    #[test]
    fn caller_mem_checks_in_order() {
        let l = layout(4).unwrap();
        let mut b = Backing([0; 1024]);
        let base = b.0.as_mut_ptr().cast::<c_void>();
        // SAFETY: `b` outlives every region; each region is used once and dropped.
        unsafe {
            assert_eq!(
                CallerMem::new(core::ptr::null_mut(), 1024, &l).err(),
                Some(tcap_result::NullArgument)
            );
            let mis = base.cast::<u8>().add(8).cast::<c_void>();
            assert_eq!(CallerMem::new(mis, 1000, &l).err(), Some(tcap_result::Misaligned));
            assert_eq!(CallerMem::new(base, l.size() - 1, &l).err(), Some(tcap_result::BufferTooSmall));
            assert!(CallerMem::new(base, l.size(), &l).is_ok());
        }
    }

    #[test]
    fn arena_carves_the_layouts_offsets() {
        let mut l = Layout::new();
        let o_hdr = l.push::<u32>(3).unwrap();
        let o_lines = l.push::<Line>(4).unwrap();
        let mut b = Backing([0; 1024]);
        let base = b.0.as_mut_ptr();
        // SAFETY: `b` outlives the arena and is not touched while it lives.
        let mem = unsafe { CallerMem::new(base.cast(), l.size(), &l) }.unwrap();
        let mut a = mem.arena();
        let hdr = a.take::<u32>(3).unwrap();
        let lines = a.take::<Line>(4).unwrap();
        assert_eq!(hdr.as_ptr() as usize - base as usize, o_hdr);
        assert_eq!(lines.as_ptr() as usize - base as usize, o_lines);
        assert_eq!(lines.as_ptr() as usize % 64, 0);
        for (i, line) in lines.iter_mut().enumerate() {
            line.write(Line([i as u8; 64]));
        }
        hdr[0].write(7);
        // The region is used up: one more piece does not fit.
        assert_eq!(a.take::<u8>(1).err(), Some(tcap_result::BufferTooSmall));
        // The writes landed in the caller's bytes.
        assert_eq!(b.0[o_lines + 64], 1);
        assert_eq!(b.0[o_lines + 3 * 64 + 63], 3);
    }
}

/// A complete caller-memory object written the way the engine will be: a size query, an init that
/// hands back a handle, a mutating call and a reading call, each with its error paths.
#[cfg(test)]
mod example_object {
    use core::ffi::c_void;
    use core::mem::MaybeUninit;
    use core::ptr::NonNull;

    use super::*;
    use crate::boundary::{self, Out};

    /// The object: a header, then `n` counters that live in the same caller memory.
    #[repr(C)]
    pub struct tcap_counters {
        header: ObjectHeader,
        n: u32,
        // Raw parts rather than a reference into the caller's memory: the handle may be copied by C and
        // the slots are reached only through `&mut self`.
        slots: NonNull<u64>,
    }

    // SAFETY: repr(C), header first, magic unique to this type.
    unsafe impl Object for tcap_counters {
        const MAGIC: [u8; 8] = *b"tcapCNT1";
    }

    impl tcap_counters {
        fn slots(&mut self) -> &mut [u64] {
            // SAFETY: `slots` points to `n` initialised u64 carved from the same caller region by
            // `tcap_counters_init`; `&mut self` makes this the only access.
            unsafe { core::slice::from_raw_parts_mut(self.slots.as_ptr(), self.n as usize) }
        }
    }

    fn layout(n: u32) -> Result<Layout, tcap_result> {
        let mut l = Layout::new();
        l.push::<tcap_counters>(1)?;
        l.push::<u64>(n as usize)?;
        Ok(l)
    }

    /// Bytes and alignment the object needs for `n` counters.
    pub unsafe extern "C" fn tcap_counters_size(
        n: u32,
        out_size: *mut usize,
        out_align: *mut usize,
    ) -> tcap_result {
        boundary::guard(|| {
            // SAFETY: NULL or writable per the function's contract.
            let (out_size, out_align) = unsafe { (Out::new(out_size)?, Out::new(out_align)?) };
            let l = layout(n)?;
            out_size.write(l.size());
            out_align.write(l.align());
            Ok(())
        })
    }

    /// Initialises the object in `mem` and writes its handle to `out`.
    pub unsafe extern "C" fn tcap_counters_init(
        mem: *mut c_void,
        len: usize,
        n: u32,
        out: *mut *mut tcap_counters,
    ) -> tcap_result {
        boundary::guard(|| {
            // SAFETY: NULL or writable per the function's contract.
            let out = unsafe { Out::new(out) }?;
            let l = layout(n)?;
            // SAFETY: NULL or `len` writable bytes owned by us for the object's life, per the contract.
            let mut arena = unsafe { CallerMem::new(mem, len, &l) }?.arena();
            let obj = arena.take::<tcap_counters>(1)?;
            let slots = arena.take::<u64>(n as usize)?;
            for s in slots.iter_mut() {
                s.write(0);
            }
            let slots = NonNull::new(slots.as_mut_ptr().cast::<u64>()).ok_or(tcap_result::Internal)?;
            let obj: &mut MaybeUninit<tcap_counters> = &mut obj[0];
            let obj = obj.write(tcap_counters { header: ObjectHeader::new::<tcap_counters>(), n, slots });
            out.write(obj);
            Ok(())
        })
    }

    /// Adds one to counter `i`; returns the new value.
    pub unsafe extern "C" fn tcap_counters_bump(
        c: *mut tcap_counters,
        i: u32,
        out_value: *mut u64,
    ) -> tcap_result {
        boundary::guard(|| {
            // SAFETY: NULL, or a handle from tcap_counters_init used by one thread, per the contract.
            let c = unsafe { handle_mut(c) }?;
            // SAFETY: NULL or writable per the contract.
            let out = unsafe { Out::new(out_value) }?;
            let slot = c.slots().get_mut(i as usize).ok_or(tcap_result::InvalidLength)?;
            *slot = slot.saturating_add(1);
            out.write(*slot);
            Ok(())
        })
    }

    /// Reads the number of counters.
    pub unsafe extern "C" fn tcap_counters_len(c: *const tcap_counters, out_n: *mut u32) -> tcap_result {
        boundary::guard(|| {
            // SAFETY: NULL or a live handle per the contract.
            let c = unsafe { handle_ref(c) }?;
            // SAFETY: NULL or writable per the contract.
            let out = unsafe { Out::new(out_n) }?;
            out.write(c.n);
            Ok(())
        })
    }

    #[repr(C, align(64))]
    struct Mem([u8; 512]);

    #[test]
    fn size_init_use_and_every_error() {
        let (mut size, mut align) = (0usize, 0usize);
        // SAFETY: every pointer is NULL, a live local, or a handle into `mem`, which outlives its uses
        // and is not touched directly while the handle is in use.
        unsafe {
            assert_eq!(tcap_counters_size(4, &mut size, &mut align), tcap_result::Ok);
            assert_eq!(align, core::mem::align_of::<tcap_counters>());
            assert!(size >= core::mem::size_of::<tcap_counters>() + 4 * 8);
            assert_eq!(tcap_counters_size(4, core::ptr::null_mut(), &mut align), tcap_result::NullArgument);

            let mut mem = Mem([0xa5; 512]);
            let base = mem.0.as_mut_ptr().cast::<c_void>();
            let mut h: *mut tcap_counters = core::ptr::null_mut();
            // Every refusal leaves the handle untouched.
            assert_eq!(tcap_counters_init(core::ptr::null_mut(), 512, 4, &mut h), tcap_result::NullArgument);
            let mis = base.cast::<u8>().add(1).cast::<c_void>();
            assert_eq!(tcap_counters_init(mis, 511, 4, &mut h), tcap_result::Misaligned);
            assert_eq!(tcap_counters_init(base, size - 1, 4, &mut h), tcap_result::BufferTooSmall);
            assert_eq!(tcap_counters_init(base, 512, 4, core::ptr::null_mut()), tcap_result::NullArgument);
            assert!(h.is_null());
            // Before init, the memory is not an object.
            assert_eq!(tcap_counters_len(base.cast(), &mut 0), tcap_result::BadHandle);

            assert_eq!(tcap_counters_init(base, size, 4, &mut h), tcap_result::Ok);
            assert_eq!(h.cast::<c_void>(), base, "the handle points into the caller's memory");
            let mut n = 0u32;
            assert_eq!(tcap_counters_len(h, &mut n), tcap_result::Ok);
            assert_eq!(n, 4);
            let mut v = 0u64;
            for expect in 1..=3 {
                assert_eq!(tcap_counters_bump(h, 2, &mut v), tcap_result::Ok);
                assert_eq!(v, expect);
            }
            assert_eq!(tcap_counters_bump(h, 0, &mut v), tcap_result::Ok);
            assert_eq!(v, 1, "slots are independent");
            v = 99;
            assert_eq!(tcap_counters_bump(h, 4, &mut v), tcap_result::InvalidLength);
            assert_eq!(tcap_counters_bump(core::ptr::null_mut(), 0, &mut v), tcap_result::NullArgument);
            assert_eq!(tcap_counters_bump(h, 0, core::ptr::null_mut()), tcap_result::NullArgument);
            assert_eq!(v, 99);
            // Overwrite the memory: the stale handle is refused, not read. (The handle is re-derived
            // from `base`, as C would hold it, so the test itself stays within Rust's aliasing rules.)
            core::ptr::write_bytes(base.cast::<u8>(), 0, size);
            assert_eq!(tcap_counters_len(base.cast(), &mut n), tcap_result::BadHandle);
        }
    }
}
