//! Cache hints: the one module of `tcap-core` that contains `unsafe` code (one block).
//!
//! [`prefetch_write`] asks the CPU to start loading a cache line that the caller is about to update,
//! [`prefetch_read`] one it is about to read. Batched operations over tables larger than the cache
//! ([`crate::gate::Gate::check_batch`], the network's repair of one tree after another) issue them
//! ahead of use, so that the next items' misses overlap the current item's work. A plain load cannot
//! do this: it waits in the reorder buffer until its data arrives, and behind a few hundred
//! instructions of evaluation the buffer fills and the core stalls on it. A prefetch retires at once.
//!
//! They are hints: they change no value anywhere, so every result is identical with or without them
//! (the targets where they are no-ops — other architectures, and Miri — compute the same answers).
#![allow(unsafe_code)]

/// Hints that the cache line holding `*r` will be written soon (x86-64: `PREFETCHW`, which fetches
/// the line for ownership; a no-op elsewhere).
#[inline(always)]
pub(crate) fn prefetch_write<T>(r: &T) {
    prefetch::<true, T>(r);
}

/// Hints that the cache line holding `*r` will be read soon (x86-64: `PREFETCHT0`; a no-op elsewhere).
#[inline(always)]
pub(crate) fn prefetch_read<T>(r: &T) {
    prefetch::<false, T>(r);
}

#[inline(always)]
fn prefetch<const WRITE: bool, T>(r: &T) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        use core::arch::x86_64::{_MM_HINT_ET0, _MM_HINT_T0, _mm_prefetch};
        let p = (r as *const T).cast::<i8>();
        // SAFETY: `_mm_prefetch` compiles to one prefetch instruction, which never faults, never
        // changes architectural state and reads nothing the program can observe, whatever the
        // address; the address here is even a live reference's. Its one precondition is the `sse`
        // target feature (the call is `unsafe` only because the function carries
        // `#[target_feature(enable = "sse")]`), which every x86-64 CPU has: SSE and SSE2 are part of
        // the x86-64 baseline and rustc enables them on every x86-64 target. `_MM_HINT_ET0` (prefetch
        // for write) is a plain prefetch hint, or a no-op, on CPUs without `PREFETCHW`: still never a
        // fault.
        unsafe {
            if WRITE {
                _mm_prefetch::<_MM_HINT_ET0>(p);
            } else {
                _mm_prefetch::<_MM_HINT_T0>(p);
            }
        }
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = r;
}
