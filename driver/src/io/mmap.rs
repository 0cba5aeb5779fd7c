//! The `mmap` path (a benchmark peer): map the whole input read-only, decode it in batches straight
//! from the mapping, `write()` the decisions.

use std::num::NonZeroUsize;
use std::os::fd::{BorrowedFd, RawFd};
use std::time::Instant;

use nix::sys::mman::{MapFlags, MmapAdvise, ProtFlags, madvise, mmap, munmap};

use super::blocking::{fail, write_all};
use super::{IoFailure, RunConfig, RunEnd};
use crate::engine::Engine;
use crate::stats::Stats;
use crate::stream::{Decoder, max_output};
use crate::sys;

/// Runs a regular file `input` through `engine` to `output` via a read-only mapping.
pub fn run<E: Engine>(
    input: RawFd,
    output: RawFd,
    engine: &mut E,
    cfg: &RunConfig,
    stats: &mut Stats,
) -> Result<RunEnd, IoFailure> {
    let rname = format!("mmap {}", cfg.source_name);
    let len = sys::fstat(input).map_err(|e| fail(&rname, e))?.st_size as usize;
    let batch = cfg.batch.max(4096);
    let mut outb = sys::PageBuf::new(max_output(batch)).map_err(|e| fail("allocate output buffer", e))?;
    let mut dec = Decoder::new();
    let map = match NonZeroUsize::new(len) {
        None => None,
        Some(nz) => {
            // SAFETY: `input` is a descriptor the caller keeps open for this call.
            let fd = unsafe { BorrowedFd::borrow_raw(input) };
            // SAFETY: a private read-only mapping of a file; we only read it, and treat it as plain
            // bytes (a concurrent truncation would fault, which tcapd documents as unsupported).
            let p = unsafe { mmap(None, nz, ProtFlags::PROT_READ, MapFlags::MAP_PRIVATE, fd, 0) }
                .map_err(|e| fail(&rname, e.into()))?;
            // SAFETY: advice on the mapping just created; changes no contents.
            let _ = unsafe { madvise(p, len, MmapAdvise::MADV_SEQUENTIAL) };
            Some(p)
        }
    };
    let bytes: &[u8] = match map {
        // SAFETY: the mapping is `len` readable bytes and lives until the munmap below.
        Some(p) => unsafe { std::slice::from_raw_parts(p.as_ptr().cast(), len) },
        None => &[],
    };
    let wname = format!("write {}", cfg.sink_name);
    let mut end = RunEnd::Eof;
    for chunk in bytes.chunks(batch) {
        if sys::stop_requested() {
            end = RunEnd::Stopped;
            break;
        }
        let t0 = Instant::now();
        let (w, err) = dec.feed(chunk, engine, outb.as_mut_slice());
        if let Err(e) = write_all(output, &outb.as_slice()[..w]) {
            if let Some(p) = map {
                // SAFETY: unmapping our mapping; `bytes` is not used after this.
                let _ = unsafe { munmap(p, len) };
            }
            return Err(fail(&wname, e));
        }
        stats.reads += 1;
        stats.bytes_in += chunk.len() as u64;
        stats.writes += 1;
        stats.bytes_out += w as u64;
        stats.counts = dec.counts;
        stats.latency.record(t0.elapsed().as_nanos() as u64);
        if let Some(e) = err {
            end = RunEnd::BadInput(e);
            break;
        }
    }
    if end == RunEnd::Eof
        && let Err(e) = dec.finish()
    {
        end = RunEnd::BadInput(e);
    }
    if let Some(p) = map {
        // SAFETY: unmapping our mapping; `bytes` is not used after this.
        let _ = unsafe { munmap(p, len) };
    }
    Ok(end)
}
