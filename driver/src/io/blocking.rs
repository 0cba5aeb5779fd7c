//! The plain blocking path: `read()` a batch, decode, `write()` the decisions, repeat. The fallback
//! when io_uring is refused, and the baseline in `tcapd bench`.

use std::io;
use std::os::fd::RawFd;
use std::time::Instant;

use super::{IoFailure, RunConfig, RunEnd};
use crate::engine::Engine;
use crate::stats::Stats;
use crate::stream::{Decoder, max_output};
use crate::sys;

/// Waits until `fd` is ready for `events` (used after `EAGAIN` on a non-blocking descriptor).
pub(crate) fn wait_ready(fd: RawFd, events: libc::c_short) {
    let mut p = libc::pollfd { fd, events, revents: 0 };
    // SAFETY: one valid pollfd on the stack, count 1; poll writes only `revents`.
    unsafe { libc::poll(&mut p, 1, 100) };
}

/// `read()` retrying EINTR (unless a stop was requested) and EAGAIN. `Ok(None)` = stop requested.
pub(crate) fn read_some(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<usize>> {
    loop {
        // SAFETY: `buf` is a valid writable region of `buf.len()` bytes for the duration of the call.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(Some(n as usize));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) if sys::stop_requested() => return Ok(None),
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) => wait_ready(fd, libc::POLLIN),
            _ => return Err(e),
        }
    }
}

/// `write()` all of `buf`, resuming short writes and retrying EINTR/EAGAIN.
pub(crate) fn write_all(fd: RawFd, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        // SAFETY: `buf` is a valid readable region of `buf.len()` bytes.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n >= 0 {
            buf = &buf[n as usize..];
            continue;
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) => wait_ready(fd, libc::POLLOUT),
            _ => return Err(e),
        }
    }
    Ok(())
}

/// Runs the stream on `input` through `engine` to `output` with blocking calls.
pub fn run<E: Engine>(
    input: RawFd,
    output: RawFd,
    engine: &mut E,
    cfg: &RunConfig,
    stats: &mut Stats,
    tick: &mut dyn FnMut(&E),
) -> Result<RunEnd, IoFailure> {
    let batch = cfg.batch.max(4096);
    let mut inb = sys::PageBuf::new(batch).map_err(|e| fail("allocate input buffer", e))?;
    let mut outb = sys::PageBuf::new(max_output(batch)).map_err(|e| fail("allocate output buffer", e))?;
    let mut dec = Decoder::new();
    let rname = format!("read {}", cfg.source_name);
    let wname = format!("write {}", cfg.sink_name);
    let end = loop {
        if sys::stop_requested() {
            break RunEnd::Stopped;
        }
        let Some(n) = read_some(input, &mut inb.as_mut_slice()[..batch]).map_err(|e| fail(&rname, e))? else {
            break RunEnd::Stopped;
        };
        let t0 = Instant::now();
        if n == 0 {
            break match dec.finish() {
                Ok(()) => RunEnd::Eof,
                Err(e) => RunEnd::BadInput(e),
            };
        }
        stats.reads += 1;
        stats.bytes_in += n as u64;
        let (w, err) = dec.feed(&inb.as_slice()[..n], engine, outb.as_mut_slice());
        write_all(output, &outb.as_slice()[..w]).map_err(|e| fail(&wname, e))?;
        stats.writes += (w > 0) as u64;
        stats.bytes_out += w as u64;
        stats.counts = dec.counts;
        stats.latency.record(t0.elapsed().as_nanos() as u64);
        if let Some(e) = err {
            break RunEnd::BadInput(e);
        }
        if sys::take_report_request() {
            eprintln!("{}", stats.report("blocking read/write"));
        }
        stats.progress(cfg.quiet);
        tick(engine);
    };
    Ok(end)
}

pub(crate) fn fail(what: &str, error: io::Error) -> IoFailure {
    IoFailure { context: what.to_string(), error }
}
