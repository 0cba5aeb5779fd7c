//! The io_uring path for `tcapd run`: a read → decode → write pipeline over one ring.
//!
//! * [`NIN`] input and [`NOUT`] output buffers of `batch` bytes, carved from one page-aligned mapping
//!   (huge-page advised) and registered with the ring when the kernel supports fixed buffers; the input
//!   and output descriptors are registered as fixed files when it can.
//! * Regular files are read with positional reads, at most `read_ahead` buffers (default 2) read but not
//!   yet decoded — more would push the data out of the cache before it is decoded when the file is in
//!   the page cache (each buffer is filled completely: short reads are resubmitted for the rest); pipes and sockets with one read at the current position,
//!   processed as soon as it completes (partial records are carried by the decoder).
//! * Decoding happens strictly in read order; an output buffer is written with positional writes (files,
//!   several in flight) or one at a time in order (pipes). Short writes are resubmitted for the rest.
//! * Backpressure: when every output buffer is waiting on a write, no input is decoded, so input buffers
//!   stay full and no further reads are issued.
//! * Every buffer lives in the mapping, which outlives every operation: on any exit path the loop
//!   cancels what is in flight and waits for every completion before returning.
//! * The submission queue being full is handled by submitting and retrying; the completion queue is
//!   sized at 4× the most operations ever in flight, and the overflow counter is checked anyway.

use std::io;
use std::os::fd::RawFd;
use std::time::Instant;

use io_uring::{IoUring, Probe, opcode, squeue, types};

use super::blocking::fail;
use super::{IoFailure, RunConfig, RunEnd, fd_kind};
use crate::engine::Engine;
use crate::stats::Stats;
use crate::stream::{Decoder, StreamError, max_output};
use crate::sys;

/// Input buffers.
pub const NIN: usize = 4;
/// Output buffers.
pub const NOUT: usize = 4;

const UD_READ: u64 = 1 << 32;
const UD_WRITE: u64 = 2 << 32;
const UD_AUX: u64 = 3 << 32;

/// Why the io_uring path could not run.
#[derive(Debug)]
pub enum UringError {
    /// The kernel refused to set up a ring (or lacks read/write opcodes): fall back.
    Setup(io::Error),
    /// An I/O operation failed.
    Io(IoFailure),
}

/// What the kernel's io_uring offers, from the probe at start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features {
    /// Fixed (registered) buffers are in use.
    pub fixed_buffers: bool,
    /// Fixed (registered) files are in use.
    pub fixed_files: bool,
    /// A kernel SQ polling thread is in use.
    pub sqpoll: bool,
    /// Multishot accept is available (serve).
    pub accept_multishot: bool,
    /// Multishot receive into a ring of provided buffers (serve).
    pub recv_multishot: bool,
}

impl Features {
    /// One line for the exit report.
    pub(crate) fn describe(&self, ring: &IoUring) -> String {
        let yn = |b: bool| if b { "yes" } else { "no" };
        format!(
            "io_uring: fixed buffers {}, fixed files {}, sqpoll {}, defer_taskrun {}, nodrop {}, sq {} cq {}",
            yn(self.fixed_buffers),
            yn(self.fixed_files),
            yn(self.sqpoll),
            yn(ring.params().is_setup_single_issuer()),
            yn(ring.params().is_feature_nodrop()),
            ring.params().sq_entries(),
            ring.params().cq_entries()
        )
    }
}

/// Creates a ring with a completion queue of `cq` entries. Without SQPOLL it asks for
/// `SINGLE_ISSUER | DEFER_TASKRUN` (6.1+: completion work runs only when this thread waits, so worker
/// completions do not interrupt decoding), falling back to a plain ring on older kernels. With SQPOLL
/// (falling back with a warning when refused) it asks for a kernel submission thread instead.
pub(crate) fn new_ring(sq: u32, cq: u32, sqpoll: bool) -> io::Result<(IoUring, bool)> {
    if sqpoll {
        match IoUring::builder().setup_cqsize(cq).setup_sqpoll(1000).build(sq) {
            Ok(r) => return Ok((r, true)),
            Err(e) => eprintln!("tcapd: warning: SQPOLL refused ({e}); continuing without it"),
        }
    }
    let r = match IoUring::builder().setup_cqsize(cq).setup_single_issuer().setup_defer_taskrun().build(sq) {
        Ok(r) => r,
        Err(_) => IoUring::builder().setup_cqsize(cq).build(sq)?,
    };
    spread_iowq(&r);
    Ok((r, false))
}

/// When the calling thread is pinned to one CPU (`--cpu`), lets the ring's async workers run on the
/// other CPUs instead of that one. They execute what cannot complete inline — buffered writes to a
/// file (ext4 has no non-blocking buffered write path) — and by default inherit the pinned mask, so
/// the copy of every output batch would queue behind the thread it was meant to relieve. Best effort:
/// a kernel without `IORING_REGISTER_IOWQ_AFF` (before 5.14) keeps the inherited mask.
fn spread_iowq(ring: &IoUring) {
    let Ok(mine) = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) else { return };
    let pinned: Vec<usize> =
        (0..nix::sched::CpuSet::count()).filter(|&c| mine.is_set(c).unwrap_or(false)).collect();
    let [cpu] = pinned[..] else { return };
    // SAFETY: sysconf only reads a system parameter.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    let online = usize::try_from(online).unwrap_or(0).min(libc::CPU_SETSIZE as usize);
    // SAFETY: `cpu_set_t` is a plain bit array: all zeros is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let mut any = false;
    for c in (0..online).filter(|&c| c != cpu) {
        // SAFETY: `c < CPU_SETSIZE`, so CPU_SET writes inside `set`, a live local.
        unsafe { libc::CPU_SET(c, &mut set) };
        any = true;
    }
    if any {
        let _ = ring.submitter().register_iowq_aff(&set);
    }
}

/// Probes the ring's opcodes. `None` if the probe itself is unsupported (kernels before 5.6, where the
/// basic opcodes we need are also missing).
pub(crate) fn probe(ring: &IoUring) -> Option<Probe> {
    let mut p = Probe::new();
    ring.submitter().register_probe(&mut p).ok().map(|()| p)
}

/// A ring of provided buffers (`IORING_REGISTER_PBUF_RING`) for multishot receives: `count` buffers
/// of `len` bytes in one page-aligned mapping, their descriptors in another. The kernel takes a free
/// buffer for each receive completion and names it in the completion's flags; its owner hands it back
/// with [`BufRing::recycle`] once the bytes are consumed. Dropping it frees the memory: the owner
/// unregisters it first ([`BufRing::unregister`]) once nothing that may use it is in flight, or
/// leaks it.
pub(crate) struct BufRing {
    entries: sys::PageBuf,
    pool: sys::PageBuf,
    count: u16,
    len: usize,
    tail: u16,
    bgid: u16,
}

impl BufRing {
    /// Maps and registers `count` (a power of two, at most 32,768) buffers of `len` bytes as buffer
    /// group `bgid` of `ring`, all of them free.
    pub(crate) fn new(ring: &IoUring, count: u16, len: usize, bgid: u16) -> io::Result<BufRing> {
        if !count.is_power_of_two() || count > 1 << 15 || len == 0 || len > u32::MAX as usize {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "buffer ring: bad count or length"));
        }
        let entries = sys::PageBuf::new(count as usize * std::mem::size_of::<types::BufRingEntry>())?;
        let pool = sys::PageBuf::new(count as usize * len)?;
        let mut b = BufRing { entries, pool, count, len, tail: 0, bgid };
        for bid in 0..count {
            b.put(bid);
        }
        b.publish();
        // SAFETY: the descriptor array is `count` entries of a page-aligned mapping owned by `b`, and
        // every buffer it names lies in `b.pool`; both stay mapped until `b` is dropped, which its
        // owner does only after `unregister` (nothing in flight) or never (it leaks `b` on errors).
        unsafe {
            ring.submitter().register_buf_ring_with_flags(b.entries.as_mut_ptr() as u64, count, bgid, 0)
        }?;
        Ok(b)
    }

    /// Writes buffer `bid` into the descriptor slot at the (unpublished) tail.
    fn put(&mut self, bid: u16) {
        let slot = usize::from(self.tail & (self.count - 1));
        let base = self.entries.as_mut_ptr().cast::<types::BufRingEntry>();
        // SAFETY: `slot < count` and the mapping holds `count` descriptors (16 bytes each, aligned).
        // The kernel reads only descriptors between its head and the published tail, and this slot is
        // past the tail until `publish`. The setters write the address, length and id fields only,
        // not the bytes 14..16 of descriptor 0 where the shared tail lives.
        let e = unsafe { &mut *base.add(slot) };
        e.set_addr(self.pool.as_mut_ptr() as u64 + u64::from(bid) * self.len as u64);
        e.set_len(self.len as u32);
        e.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Makes the descriptors written so far visible to the kernel.
    fn publish(&self) {
        let base = self.entries.as_mut_ptr().cast::<types::BufRingEntry>();
        // SAFETY: `tail` points at the ring's 16-bit tail, inside descriptor 0 of the live mapping and
        // 2-byte aligned; the kernel reads it concurrently, so it is written through an atomic, with
        // release ordering so that the descriptors written before it are visible first.
        unsafe {
            let tail = types::BufRingEntry::tail(base.cast_const()).cast::<std::sync::atomic::AtomicU16>();
            (*tail).store(self.tail, std::sync::atomic::Ordering::Release);
        }
    }

    /// The first `n` bytes of buffer `bid` (empty for an id the ring never handed out).
    pub(crate) fn get(&self, bid: u16, n: usize) -> &[u8] {
        let start = usize::from(bid) * self.len;
        match self.pool.as_slice().get(start..start + n.min(self.len)) {
            Some(b) if bid < self.count => b,
            _ => &[],
        }
    }

    /// Hands buffer `bid` back to the kernel.
    pub(crate) fn recycle(&mut self, bid: u16) {
        if bid < self.count {
            self.put(bid);
            self.publish();
        }
    }

    /// The buffer group id to receive with.
    pub(crate) fn group(&self) -> u16 {
        self.bgid
    }

    /// Unregisters the group (call when no receive that may use it is in flight).
    pub(crate) fn unregister(&self, ring: &IoUring) -> io::Result<()> {
        ring.submitter().unregister_buf_ring(self.bgid)
    }
}

/// A ring plus completions set aside while making room in a full submission queue.
pub(crate) struct Ring {
    pub(crate) ring: IoUring,
    pub(crate) backlog: Vec<(u64, i32, u32)>,
}

impl Ring {
    /// Queues `e`, submitting to make room when the submission queue is full.
    ///
    /// # Safety
    /// Every buffer and descriptor `e` refers to must stay valid until its completion is reaped.
    pub(crate) unsafe fn push(&mut self, e: &squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: forwarded to the caller's contract.
            if unsafe { self.ring.submission().push(e) }.is_ok() {
                return Ok(());
            }
            match self.ring.submit() {
                Ok(_) => {}
                Err(err) if err.raw_os_error() == Some(libc::EBUSY) => self.reap(),
                Err(err) if err.raw_os_error() == Some(libc::EINTR) => {}
                Err(err) => return Err(err),
            }
        }
    }

    /// Moves every available completion into the backlog.
    pub(crate) fn reap(&mut self) {
        for c in self.ring.completion() {
            self.backlog.push((c.user_data(), c.result(), c.flags()));
        }
    }

    /// Submits and waits for at least one completion; EINTR and EBUSY are not errors (the caller
    /// re-checks its flags and reaps).
    pub(crate) fn submit_and_wait(&mut self) -> io::Result<()> {
        match self.ring.submit_and_wait(1) {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR) | Some(libc::EBUSY)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Completions lost to CQ overflow (never expected: the CQ is sized for the in-flight work and
    /// modern kernels do not drop).
    pub(crate) fn overflow(&mut self) -> u32 {
        self.ring.completion().overflow()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InState {
    Free,
    Reading,
    Ready { len: usize },
}

#[derive(Clone, Copy, Debug)]
struct InSlot {
    state: InState,
    seq: u64,
    off: u64,
    filled: usize,
    arrived: Option<Instant>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OutState {
    Free,
    Queued,
    Writing,
}

#[derive(Clone, Copy, Debug)]
struct OutSlot {
    state: OutState,
    seq: u64,
    off: u64,
    len: usize,
    done: usize,
    born: Instant,
}

/// Runs the stream on `input` through `engine` to `output` over io_uring.
pub fn run<E: Engine>(
    input: RawFd,
    output: RawFd,
    engine: &mut E,
    cfg: &RunConfig,
    stats: &mut Stats,
    tick: &mut dyn FnMut(&E),
) -> Result<RunEnd, UringError> {
    let batch = cfg.batch.max(4096).div_ceil(4096) * 4096;
    let out_len = max_output(batch).div_ceil(4096) * 4096;
    let (ring, sqpoll) = new_ring(cfg.sq_entries.max(1), 256, cfg.sqpoll).map_err(UringError::Setup)?;
    let probe = probe(&ring);
    let has = |code: u8| probe.as_ref().is_some_and(|p| p.is_supported(code));
    if probe.is_some() && !(has(opcode::Read::CODE) && has(opcode::Write::CODE)) {
        return Err(UringError::Setup(io::Error::other("kernel lacks IORING_OP_READ/WRITE")));
    }
    // The mapping is declared before the ring wrapper so that it is dropped after it; in any case the
    // loop below never returns with an operation in flight.
    let region = sys::PageBuf::new(NIN * batch + NOUT * out_len)
        .map_err(|e| UringError::Io(fail("allocate io_uring buffers", e)))?;
    let base = region.as_mut_ptr();
    let in_ptr = |i: usize| base.wrapping_add(i * batch);
    let out_ptr = |j: usize| base.wrapping_add(NIN * batch + j * out_len);
    let mut feat = Features { sqpoll, ..Features::default() };
    if has(opcode::ReadFixed::CODE) && has(opcode::WriteFixed::CODE) {
        let iov: Vec<libc::iovec> = (0..NIN)
            .map(|i| libc::iovec { iov_base: in_ptr(i).cast(), iov_len: batch })
            .chain((0..NOUT).map(|j| libc::iovec { iov_base: out_ptr(j).cast(), iov_len: out_len }))
            .collect();
        // SAFETY: the iovecs describe disjoint parts of `region`, which outlives the ring (the ring is
        // dropped at the end of this function, before `region`).
        feat.fixed_buffers = unsafe { ring.submitter().register_buffers(&iov) }.is_ok();
    }
    feat.fixed_files = ring.submitter().register_files(&[input, output]).is_ok();
    stats.io_detail = feat.describe(&ring);
    let mut r = Ring { ring, backlog: Vec::new() };

    let ik = fd_kind(input);
    let read_ahead = cfg.read_ahead.clamp(1, NIN);
    let ok = fd_kind(output);
    let mut ins = [InSlot { state: InState::Free, seq: 0, off: 0, filled: 0, arrived: None }; NIN];
    let now = Instant::now();
    let mut outs = [OutSlot { state: OutState::Free, seq: 0, off: 0, len: 0, done: 0, born: now }; NOUT];
    let mut dec = Decoder::new();
    let (mut next_read_seq, mut next_proc_seq, mut next_out_seq, mut next_write_seq) =
        (0u64, 0u64, 0u64, 0u64);
    let (mut read_off, mut out_off) = (ik.start, ok.start);
    let (mut eof, mut stop) = (false, false);
    let mut bad: Option<StreamError> = None;
    let mut fatal: Option<IoFailure> = None;
    let mut inflight = 0usize;
    let (mut cancelled_reads, mut cancelled_writes) = (false, false);
    let rname = format!("read {}", cfg.source_name);
    let wname = format!("write {}", cfg.sink_name);
    let io_name = if feat.fixed_buffers { "io_uring (fixed buffers)" } else { "io_uring" };

    let read_sqe = |s: &InSlot, i: usize| -> squeue::Entry {
        let ptr = in_ptr(i).wrapping_add(s.filled);
        let len = (batch - s.filled) as u32;
        let off = if ik.seekable { s.off + s.filled as u64 } else { u64::MAX };
        let e = match (feat.fixed_buffers, feat.fixed_files) {
            (true, true) => opcode::ReadFixed::new(types::Fixed(0), ptr, len, i as u16).offset(off).build(),
            (true, false) => opcode::ReadFixed::new(types::Fd(input), ptr, len, i as u16).offset(off).build(),
            (false, true) => opcode::Read::new(types::Fixed(0), ptr, len).offset(off).build(),
            (false, false) => opcode::Read::new(types::Fd(input), ptr, len).offset(off).build(),
        };
        e.user_data(UD_READ | i as u64)
    };
    let write_sqe = |s: &OutSlot, j: usize| -> squeue::Entry {
        let ptr = out_ptr(j).wrapping_add(s.done) as *const u8;
        let len = (s.len - s.done) as u32;
        let off = if ok.seekable { s.off + s.done as u64 } else { u64::MAX };
        let idx = (NIN + j) as u16;
        let e = match (feat.fixed_buffers, feat.fixed_files) {
            (true, true) => opcode::WriteFixed::new(types::Fixed(1), ptr, len, idx).offset(off).build(),
            (true, false) => opcode::WriteFixed::new(types::Fd(output), ptr, len, idx).offset(off).build(),
            (false, true) => opcode::Write::new(types::Fixed(1), ptr, len).offset(off).build(),
            (false, false) => opcode::Write::new(types::Fd(output), ptr, len).offset(off).build(),
        };
        e.user_data(UD_WRITE | j as u64)
    };
    let poll_sqe = |fd_index: u32, fd: RawFd, events: libc::c_short| -> squeue::Entry {
        let e = if feat.fixed_files {
            opcode::PollAdd::new(types::Fixed(fd_index), events as u32).build()
        } else {
            opcode::PollAdd::new(types::Fd(fd), events as u32).build()
        };
        e.user_data(UD_AUX).flags(squeue::Flags::IO_LINK)
    };

    // Pushes an entry; a push failure becomes the fatal error (and the loop winds down).
    macro_rules! push {
        ($e:expr) => {{
            // SAFETY: every entry refers only to `region` (alive until this function returns, and the
            // loop does not return while `inflight > 0`) and to descriptors the caller keeps open.
            match unsafe { r.push(&$e) } {
                Ok(()) => inflight += 1,
                Err(e) => {
                    if fatal.is_none() {
                        fatal = Some(fail("io_uring submit", e));
                    }
                }
            }
        }};
    }

    loop {
        if sys::stop_requested() {
            stop = true;
        }
        if (stop || fatal.is_some()) && !cancelled_reads && inflight > 0 {
            // Stop reading now: cancel reads (a pipe read could otherwise wait forever). Completions
            // still arrive for every cancelled operation.
            cancelled_reads = true;
            for (i, s) in ins.iter().enumerate() {
                if s.state == InState::Reading {
                    push!(opcode::AsyncCancel::new(UD_READ | i as u64).build().user_data(UD_AUX));
                }
            }
        }
        if fatal.is_some() && !cancelled_writes && inflight > 0 {
            // On a fatal error also cancel writes (a pipe nobody reads could otherwise block us).
            cancelled_writes = true;
            {
                for (j, s) in outs.iter().enumerate() {
                    if s.state == OutState::Writing {
                        push!(opcode::AsyncCancel::new(UD_WRITE | j as u64).build().user_data(UD_AUX));
                    }
                }
            }
        }
        // 1. Decode ready input, in read order, while an output buffer is free.
        while fatal.is_none() {
            let Some(i) =
                ins.iter().position(|s| matches!(s.state, InState::Ready { .. }) && s.seq == next_proc_seq)
            else {
                break;
            };
            let Some(j) = outs.iter().position(|s| s.state == OutState::Free) else { break };
            let InState::Ready { len } = ins[i].state else { break };
            if bad.is_none() && len > 0 {
                // SAFETY: slot i is not in flight (Ready) and slot j is Free: no operation refers to
                // these bytes, and the two ranges are disjoint parts of `region`.
                let (src, dst) = unsafe {
                    (
                        std::slice::from_raw_parts(in_ptr(i), len),
                        std::slice::from_raw_parts_mut(out_ptr(j), out_len),
                    )
                };
                let (w, err) = dec.feed(src, engine, dst);
                stats.counts = dec.counts;
                if w > 0 {
                    outs[j] = OutSlot {
                        state: OutState::Queued,
                        seq: next_out_seq,
                        off: out_off,
                        len: w,
                        done: 0,
                        born: ins[i].arrived.unwrap_or_else(Instant::now),
                    };
                    next_out_seq += 1;
                    out_off += w as u64;
                }
                if err.is_some() {
                    bad = err;
                }
            }
            ins[i].state = InState::Free;
            next_proc_seq += 1;
        }
        // 2. Writes: positional ones all at once; stream ones one at a time, in order.
        if fatal.is_none() {
            for j in 0..NOUT {
                let s = outs[j];
                if s.state == OutState::Queued
                    && (ok.seekable
                        || (s.seq == next_write_seq && !outs.iter().any(|o| o.state == OutState::Writing)))
                {
                    outs[j].state = OutState::Writing;
                    push!(write_sqe(&outs[j], j));
                }
            }
        }
        // 3. Reads into free buffers (one at a time from a stream).
        while !eof && !stop && bad.is_none() && fatal.is_none() {
            let reading = ins.iter().filter(|s| s.state == InState::Reading).count();
            if !ik.seekable && reading > 0 {
                break;
            }
            let ahead = ins.iter().filter(|s| s.state != InState::Free).count();
            if ahead >= read_ahead {
                break;
            }
            let Some(i) = ins.iter().position(|s| s.state == InState::Free) else { break };
            ins[i] = InSlot {
                state: InState::Reading,
                seq: next_read_seq,
                off: read_off,
                filled: 0,
                arrived: None,
            };
            next_read_seq += 1;
            read_off += batch as u64;
            push!(read_sqe(&ins[i], i));
        }
        // 4. Done?
        if inflight == 0 {
            let pending = ins.iter().any(|s| matches!(s.state, InState::Ready { .. }))
                || outs.iter().any(|s| s.state != OutState::Free);
            if fatal.is_some() || !pending {
                break;
            }
        }
        // 5. Wait.
        if let Err(e) = r.submit_and_wait() {
            // The ring itself failed, so we cannot wait for what is in flight: leak the buffers rather
            // than free memory the kernel may still write into.
            std::mem::forget(region);
            return Err(UringError::Io(fail("io_uring_enter", e)));
        }
        if r.overflow() > 0 && fatal.is_none() {
            fatal = Some(fail("io_uring", io::Error::other("completion queue overflowed")));
        }
        r.reap();
        let done: Vec<(u64, i32, u32)> = std::mem::take(&mut r.backlog);
        for (ud, res, _flags) in done {
            inflight -= 1;
            let idx = (ud & 0xffff_ffff) as usize;
            match ud & !0xffff_ffff {
                UD_READ => {
                    let s = &mut ins[idx];
                    if res < 0 {
                        let errno = -res;
                        if (errno == libc::ECANCELED || errno == libc::EINTR) && (stop || fatal.is_some()) {
                            s.state = InState::Ready { len: s.filled };
                        } else if errno == libc::EINTR || errno == libc::ECANCELED {
                            push!(read_sqe(s, idx));
                        } else if errno == libc::EAGAIN {
                            push!(poll_sqe(0, input, libc::POLLIN));
                            push!(read_sqe(&ins[idx], idx));
                        } else {
                            s.state = InState::Ready { len: s.filled };
                            if fatal.is_none() {
                                fatal = Some(fail(&rname, io::Error::from_raw_os_error(errno)));
                            }
                        }
                    } else if res == 0 {
                        eof = true;
                        s.state = InState::Ready { len: s.filled };
                    } else {
                        stats.reads += 1;
                        stats.bytes_in += res as u64;
                        s.filled += res as usize;
                        s.arrived.get_or_insert_with(Instant::now);
                        if ik.seekable && s.filled < batch && !stop && fatal.is_none() {
                            push!(read_sqe(s, idx));
                        } else {
                            s.state = InState::Ready { len: s.filled };
                        }
                    }
                }
                UD_WRITE => {
                    let s = &mut outs[idx];
                    if res < 0 {
                        let errno = -res;
                        if fatal.is_some() {
                            s.state = OutState::Free;
                        } else if errno == libc::EINTR || errno == libc::ECANCELED {
                            push!(write_sqe(s, idx));
                        } else if errno == libc::EAGAIN {
                            push!(poll_sqe(1, output, libc::POLLOUT));
                            push!(write_sqe(&outs[idx], idx));
                        } else {
                            s.state = OutState::Free;
                            fatal = Some(fail(&wname, io::Error::from_raw_os_error(errno)));
                        }
                    } else if res == 0 {
                        s.state = OutState::Free;
                        if fatal.is_none() {
                            fatal =
                                Some(fail(&wname, io::Error::new(io::ErrorKind::WriteZero, "wrote 0 bytes")));
                        }
                    } else {
                        s.done += res as usize;
                        stats.writes += 1;
                        stats.bytes_out += res as u64;
                        if s.done < s.len && fatal.is_none() {
                            push!(write_sqe(s, idx));
                        } else {
                            stats.latency.record(s.born.elapsed().as_nanos() as u64);
                            s.state = OutState::Free;
                            next_write_seq += 1;
                        }
                    }
                }
                _ => {}
            }
        }
        if sys::take_report_request() {
            eprintln!("{}", stats.report(io_name));
        }
        stats.progress(cfg.quiet);
        tick(engine);
    }
    if let Some(f) = fatal {
        return Err(UringError::Io(f));
    }
    Ok(if let Some(b) = bad {
        RunEnd::BadInput(b)
    } else if eof && !stop {
        match dec.finish() {
            Ok(()) => RunEnd::Eof,
            Err(e) => RunEnd::BadInput(e),
        }
    } else if eof {
        // Stop requested, but the input had ended anyway: judge the end of the stream.
        match dec.finish() {
            Ok(()) => RunEnd::Stopped,
            Err(e) => RunEnd::BadInput(e),
        }
    } else {
        RunEnd::Stopped
    })
}

/// What this kernel's io_uring offers (for `tcapd` diagnostics and tests); `Err` if rings are refused.
pub fn features() -> io::Result<Features> {
    let (ring, _) = new_ring(8, 16, false)?;
    let p = probe(&ring);
    let has = |code: u8| p.as_ref().is_some_and(|p| p.is_supported(code));
    Ok(Features {
        fixed_buffers: has(opcode::ReadFixed::CODE),
        fixed_files: true,
        sqpoll: false,
        accept_multishot: has(opcode::AcceptMulti::CODE),
        // Registering a ring of provided buffers is the test (5.19+; multishot receive came in 6.0).
        recv_multishot: BufRing::new(&ring, 1, 4096, 0).and_then(|b| b.unregister(&ring)).is_ok(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::TestEngine;
    use std::os::fd::AsRawFd;

    /// A one-entry submission queue: every second push finds the queue full and must submit first.
    #[test]
    fn full_submission_queue_is_handled() {
        if features().is_err() {
            eprintln!("skipping: io_uring refused here");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (inp, outp) = (dir.path().join("in"), dir.path().join("out"));
        let mut data = Vec::new();
        crate::workload::generate(
            &crate::workload::Workload { agents: 10, events: 5_000, compromised: 0.1, seed: 3 },
            &mut data,
        )
        .unwrap();
        std::fs::write(&inp, &data).unwrap();
        let (fi, fo) = (std::fs::File::open(&inp).unwrap(), std::fs::File::create(&outp).unwrap());
        let cfg = RunConfig { batch: 4096, sq_entries: 1, ..RunConfig::default() };
        let mut stats = Stats::new();
        let mut e = TestEngine::new(16);
        let end = run(fi.as_raw_fd(), fo.as_raw_fd(), &mut e, &cfg, &mut stats, &mut |_| {}).unwrap();
        assert_eq!(end, RunEnd::Eof);
        let mut want = vec![0u8; max_output(data.len())];
        let (n, err) = Decoder::new().feed(&data, &mut TestEngine::new(16), &mut want);
        assert!(err.is_none());
        assert_eq!(std::fs::read(&outp).unwrap(), want[..n]);
        assert!(stats.reads > 10, "many reads went through a one-entry queue");
    }
}
