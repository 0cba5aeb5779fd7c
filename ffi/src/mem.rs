//! Caller-provided memory: the allocator-free object model of the C ABI.
//!
//! Every object with state (the engine, with one 64-byte state per agent) lives in memory the caller
//! owns, in three steps:
//!
//! 1. `tcap_X_size(params, size_t *out_size, size_t *out_align)` runs a [`Layout`] over the object's
//!    parts and reports the bytes and alignment it needs (a size overflow is
//!    `TCAP_RESULT_INVALID_LENGTH`).
//! 2. The caller provides `mem` (static array, stack, DMA region, `aligned_alloc`...).
//! 3. `tcap_X_init(mem, len, ..., tcap_X **out)` checks it with [`CallerMem::new`]
//!    (NULL → `TCAP_RESULT_NULL_ARGUMENT`, misaligned → `TCAP_RESULT_MISALIGNED`, short →
//!    `TCAP_RESULT_BUFFER_TOO_SMALL`), carves the same parts in the same order with [`Arena::take`],
//!    initialises them, and hands back a handle that points into `mem`.
//!
//! The caller keeps `mem` alive and unmoved while the handle is in use, and frees it however it got it;
//! tcap never frees anything.

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
        let (front, back) = rest.split_at_mut(need);
        self.rest = back;
        let piece = &mut front[pad..];
        // SAFETY: `piece` starts `pad` bytes in, which `align_offset` made aligned for T, and holds
        // exactly size_of::<T>() * count bytes, exclusively borrowed for 'a. MaybeUninit<T> has no
        // validity invariant, so viewing uninitialised bytes as it is sound.
        Ok(unsafe { core::slice::from_raw_parts_mut(piece.as_mut_ptr().cast::<MaybeUninit<T>>(), count) })
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
