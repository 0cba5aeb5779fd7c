//! Operating-system helpers: page-aligned buffers with huge-page advice, CPU affinity, signal flags.

use std::io;
use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::mman::{MapFlags, MmapAdvise, ProtFlags, madvise, mmap_anonymous, munmap};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

/// Size from which buffers and tables are advised to use transparent huge pages.
pub const HUGE_PAGE: usize = 2 << 20;

/// Asks for transparent huge pages on `[ptr, ptr+len)` (rounded inwards to whole pages). Harmless when
/// the system has none: the advice is best effort and failures are ignored.
pub fn advise_huge(ptr: *const u8, len: usize) {
    if len < HUGE_PAGE {
        return;
    }
    let page = 4096usize;
    let start = (ptr as usize).div_ceil(page) * page;
    let end = (ptr as usize + len) / page * page;
    if end <= start {
        return;
    }
    if let Some(p) = NonNull::new(start as *mut libc::c_void) {
        // SAFETY: `[start, end)` lies inside an allocation the caller owns (it is `[ptr, ptr+len)`
        // rounded inwards to page boundaries); MADV_HUGEPAGE changes no contents and no mapping rights.
        let _ = unsafe { madvise(p, end - start, MmapAdvise::MADV_HUGEPAGE) };
    }
}

/// A page-aligned, zero-initialised anonymous mapping, advised to use huge pages when large. Used for
/// I/O buffers that the kernel reads and writes asynchronously: its address never changes while it
/// lives, whatever happens to the value that owns it.
pub struct PageBuf {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: PageBuf owns its mapping exclusively (like a Box<[u8]>); nothing in it is thread-bound.
unsafe impl Send for PageBuf {}

impl PageBuf {
    /// Maps `len` bytes (at least one page).
    pub fn new(len: usize) -> io::Result<PageBuf> {
        let len = len.max(4096).div_ceil(4096) * 4096;
        let nz = NonZeroUsize::new(len).ok_or_else(|| io::Error::other("zero-length buffer"))?;
        // SAFETY: a fresh private anonymous mapping aliases nothing.
        let p = unsafe {
            mmap_anonymous(None, nz, ProtFlags::PROT_READ | ProtFlags::PROT_WRITE, MapFlags::MAP_PRIVATE)
        }
        .map_err(io::Error::from)?;
        advise_huge(p.as_ptr().cast(), len);
        Ok(PageBuf { ptr: p.cast(), len })
    }
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Always false (a buffer has at least one page).
    pub fn is_empty(&self) -> bool {
        false
    }
    /// Base address (stable for the buffer's life).
    pub fn as_mut_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: the mapping is `len` readable bytes, zero-initialised, owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
    /// The bytes, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as above, and `&mut self` makes this the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for PageBuf {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping created in `new`, exactly once; no slice of it outlives self.
        let _ = unsafe { munmap(self.ptr.cast(), self.len) };
    }
}

/// Pins the calling thread to CPU `cpu`.
pub fn set_affinity(cpu: usize) -> io::Result<()> {
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu).map_err(io::Error::from)?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).map_err(io::Error::from)
}

/// A PM QoS CPU wake-up latency request, held while this value lives (the kernel drops it when the
/// file is closed). See [`hold_cpu_latency`].
#[derive(Debug)]
pub struct CpuLatencyHold {
    _file: std::fs::File,
}

/// The PM QoS device through which a process asks every CPU to wake within a bound.
pub const CPU_DMA_LATENCY: &str = "/dev/cpu_dma_latency";

/// Asks the kernel to keep every CPU's wake-up latency at most `us` microseconds for as long as the
/// returned value lives: with `0`, idle CPUs poll instead of halting (on a KVM guest a halted vCPU
/// takes tens of µs to resume), at the cost of the power and host CPU time they would have saved.
/// Needs write access to [`CPU_DMA_LATENCY`] (root, or CAP_SYS_ADMIN-granted permissions).
pub fn hold_cpu_latency(us: i32) -> io::Result<CpuLatencyHold> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().write(true).open(CPU_DMA_LATENCY)?;
    file.write_all(&us.to_ne_bytes())?;
    Ok(CpuLatencyHold { _file: file })
}

static STOP: AtomicBool = AtomicBool::new(false);
static REPORT: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    // Only async-signal-safe work: two atomic stores.
    if sig == libc::SIGUSR1 {
        REPORT.store(true, Ordering::Relaxed);
    } else {
        STOP.store(true, Ordering::Relaxed);
    }
}

/// Installs handlers: SIGINT and SIGTERM request a clean stop, SIGUSR1 a statistics report. Installed
/// without `SA_RESTART`, so a blocking read or an io_uring wait returns `EINTR` and the loop looks at
/// the flags between batches. SIGPIPE is ignored (a closed peer is an `EPIPE` error, handled per
/// connection).
pub fn install_signal_handlers() -> io::Result<()> {
    let act = SigAction::new(SigHandler::Handler(on_signal), SaFlags::empty(), SigSet::empty());
    let ign = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    for (sig, a) in
        [(Signal::SIGINT, &act), (Signal::SIGTERM, &act), (Signal::SIGUSR1, &act), (Signal::SIGPIPE, &ign)]
    {
        // SAFETY: the handler only stores to atomics, which is async-signal-safe.
        unsafe { sigaction(sig, a) }.map_err(io::Error::from)?;
    }
    Ok(())
}

/// Whether SIGINT/SIGTERM asked to stop.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// Whether SIGUSR1 asked for a report since the last call (clears the flag).
pub fn take_report_request() -> bool {
    REPORT.swap(false, Ordering::Relaxed)
}

/// `fstat` on a raw descriptor the caller keeps open for the duration of the call.
pub fn fstat(fd: std::os::fd::RawFd) -> io::Result<libc::stat> {
    // SAFETY: the caller holds `fd` open for this call; the borrow does not outlive it.
    let b = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    nix::sys::stat::fstat(b).map_err(io::Error::from)
}
