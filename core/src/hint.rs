//! Cache hints: the one module of `tcap-core` that contains `unsafe` code.
//!
//! [`prefetch_write`] asks the CPU to start loading a cache line that the caller is about to update.
//! Batched operations over tables larger than the cache ([`crate::gate::Gate::check_batch`]) issue
//! it a few items ahead, so that the next items' misses overlap the current item's work. A plain load
//! cannot do this: it waits in the reorder buffer until its data arrives, and behind a few hundred
//! instructions of evaluation the buffer fills and the core stalls on it. A prefetch retires at once.
//!
//! It is a hint: it changes no value anywhere, so every result is identical with or without it (the
//! targets where it is a no-op — other architectures, and Miri — compute the same answers).
#![allow(unsafe_code)]

/// Hints that the cache line holding `*r` will be written soon (x86-64: `PREFETCHW`, which fetches
/// the line for ownership; a no-op elsewhere).
#[inline(always)]
pub(crate) fn prefetch_write<T>(r: &T) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: `_mm_prefetch` compiles to one prefetch instruction, which never faults, never changes
    // architectural state and reads nothing the program can observe, whatever the address; the
    // address here is even a live reference's. Its one precondition is the `sse` target feature (the
    // call is `unsafe` only because the function carries `#[target_feature(enable = "sse")]`), which
    // every x86-64 CPU has: SSE and SSE2 are part of the x86-64 baseline and rustc enables them on
    // every x86-64 target. `_MM_HINT_ET0` (prefetch for write) falls back to a plain prefetch hint, or
    // a no-op, on CPUs without `PREFETCHW`; it is still never a fault.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_ET0 }>(
            (r as *const T).cast::<i8>(),
        );
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = r;
}

/// Hints that the cache line holding `*r` will be read soon (x86-64: `PREFETCHT0`; a no-op elsewhere).
#[inline(always)]
pub(crate) fn prefetch_read<T>(r: &T) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: as in `prefetch_write`: a prefetch never faults and changes no architectural state,
    // whatever the address (here a live reference's), and its one precondition, the `sse` target
    // feature, is part of the x86-64 baseline.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>((r as *const T).cast::<i8>());
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = r;
}
