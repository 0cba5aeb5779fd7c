//! `tcapd serve`: many concurrent clients on one io_uring, each sending an event stream and receiving
//! its decisions, in order, on the same connection.
//!
//! * Accept is multishot where the kernel allows it (one submission, a completion per client), else
//!   re-armed after each completion.
//! * Receives are multishot into one ring of provided buffers shared by every connection (one
//!   submission per connection, a completion per arrival, the buffer handed back as soon as its bytes
//!   are decoded), else one receive per completion into a per-connection buffer.
//! * Per-connection state lives in a slab indexed by the low bits of `user_data`: a completion finds its
//!   connection with one index, never a hash lookup.
//! * Each connection has one fixed receive buffer and a bounded output queue. A connection whose output
//!   is not being drained stops being read (backpressure); nothing is dropped.
//! * A bad stream ends only that connection: the decisions for every record before the bad one are
//!   sent, the write side is shut, the error (peer, byte offset, reason) goes to stderr, and the rest
//!   of what the client sends is read and discarded (bounded) so closing does not reset the connection
//!   before the client has read its decisions.
//! * SIGINT/SIGTERM: stop accepting and reading, flush every decision already made (for at most
//!   [`DRAIN_LIMIT`]), close, return.

use std::io;
use std::mem::ManuallyDrop;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use io_uring::{cqueue, opcode, types};

use crate::engine::Engine;
use crate::io::IoFailure;
use crate::io::uring::{BufRing, Features, Ring, new_ring, probe};
use crate::stats::Stats;
use crate::stream::{Decoder, max_output};
use crate::sys;

/// Where to listen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    /// A Unix stream socket at this path (a stale socket file is replaced).
    Unix(PathBuf),
    /// A TCP address (`127.0.0.1:0` picks a free port; the bound address is printed).
    Tcp(SocketAddr),
}

impl std::str::FromStr for Listen {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(p) = s.strip_prefix("unix:") {
            Ok(Listen::Unix(PathBuf::from(p)))
        } else if let Some(a) = s.strip_prefix("tcp:") {
            a.parse().map(Listen::Tcp).map_err(|e| format!("bad TCP address {a:?}: {e}"))
        } else {
            Err(format!("expected unix:PATH or tcp:HOST:PORT, got {s:?}"))
        }
    }
}

/// Serve options.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Most concurrent connections; more are accepted and closed at once with a message.
    pub max_conns: usize,
    /// Receive buffer per connection.
    pub recv_buf: usize,
    /// Most decision bytes queued per connection before its reading pauses.
    pub out_cap: usize,
    /// No progress lines.
    pub quiet: bool,
    /// Ask for SQPOLL.
    pub sqpoll: bool,
    /// Receive with multishot receives into a ring of provided buffers where the kernel has them
    /// (otherwise, or when false, one receive per completion into a per-connection buffer).
    pub recv_multishot: bool,
    /// Exit after this many connections have closed (tests and benchmarks); `None` = run until a signal.
    pub exit_after: Option<u64>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            max_conns: 1024,
            recv_buf: 64 << 10,
            out_cap: 256 << 10,
            quiet: true,
            sqpoll: false,
            recv_multishot: true,
            exit_after: None,
        }
    }
}

/// After a stop request, how long to keep flushing to clients that do not read.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(5);
/// After a bad stream, how much more input to read and discard before closing anyway.
const DISCARD_LIMIT: u64 = 16 << 20;

/// Provided buffers shared by the connections' multishot receives (each `recv_buf` bytes).
const RECV_BUFFERS: u16 = 64;

const UD_ACCEPT: u64 = 1 << 32;
const UD_RECV: u64 = 2 << 32;
const UD_SEND: u64 = 3 << 32;
const UD_TICK: u64 = 4 << 32;
const UD_AUX: u64 = 5 << 32;

struct Conn {
    fd: OwnedFd,
    peer: String,
    dec: Decoder,
    inbuf: Box<[u8]>,
    pending: Vec<u8>,
    pending_born: Option<Instant>,
    sending: Vec<u8>,
    sending_born: Option<Instant>,
    sent: usize,
    recv_inflight: bool,
    /// The receive in flight is multishot: it goes on until it ends by itself or is cancelled.
    multishot: bool,
    /// Its cancellation has been submitted.
    cancel_sent: bool,
    send_inflight: bool,
    /// The peer finished sending (EOF), or the stream is bad: no more decoding.
    input_done: bool,
    /// Bad stream: shut our write side after flushing, then discard input until EOF.
    discarding: bool,
    discarded: u64,
    shut: bool,
    /// The connection failed (reset, broken pipe): close as soon as nothing is in flight.
    dead: bool,
    /// Its receive was armed or completed since the last once-a-second tick. A multishot receive
    /// still silent at the next tick (after 1–2 s) is cancelled and re-armed. Why: under load on Linux
    /// 6.18 with `DEFER_TASKRUN`, a multishot receive was seen to miss the end of a stream (the client
    /// had sent everything and shut its write side, the receive stayed armed, and no completion came:
    /// `e2e_serve::unix_socket_concurrent_clients`, about one run in ten with both cores busy; never
    /// with single-shot receives or the poll loop). A fresh receive reads the end at once. On an idle
    /// connection this costs one cancellation and one receive per tick; a flag rather than a timestamp
    /// keeps clock reads off the receive path.
    heard: bool,
}

/// One receive's bytes for a connection of either serve loop (`data` empty: the peer ended its input):
/// decodes them, appending the decisions to `out` (and timing the oldest undelivered one in `born`),
/// counts them in `stats`, and reports a bad stream on stderr. `None` while input goes on; at the end
/// of the input `Some(discard)`, `discard` when a bad record cut the stream short and the rest of what
/// the peer sends is to be read and dropped.
pub(crate) fn take_input<E: Engine>(
    dec: &mut Decoder,
    data: &[u8],
    engine: &mut E,
    out: &mut Vec<u8>,
    born: &mut Option<Instant>,
    peer: &str,
    stats: &mut Stats,
) -> Option<bool> {
    stats.reads += 1;
    stats.bytes_in += data.len() as u64;
    let before = dec.counts;
    let err = if data.is_empty() {
        dec.finish().err()
    } else {
        let (w, err) = dec.feed_vec(data, engine, out);
        if w > 0 {
            born.get_or_insert_with(Instant::now);
        }
        err
    };
    stats.counts.add_since(&before, &dec.counts);
    match err {
        Some(e) => {
            eprintln!("tcapd: {peer}: {e}");
            stats.bad_streams += 1;
            Some(!data.is_empty())
        }
        None => data.is_empty().then_some(false),
    }
}

/// Binds the listener and prints where it listens (`tcapd: listening on …`) on stderr.
pub fn bind(listen: &Listen) -> io::Result<(OwnedFd, String)> {
    match listen {
        Listen::Unix(p) => {
            if let Ok(m) = std::fs::symlink_metadata(p)
                && std::os::unix::fs::FileTypeExt::is_socket(&m.file_type())
            {
                std::fs::remove_file(p)?;
            }
            let l = UnixListener::bind(p)?;
            let name = format!("unix:{}", p.display());
            // SAFETY: into_raw_fd hands us sole ownership of the listener's descriptor.
            Ok((unsafe { OwnedFd::from_raw_fd(l.into_raw_fd()) }, name))
        }
        Listen::Tcp(a) => {
            let l = TcpListener::bind(a)?;
            let name = format!("tcp:{}", l.local_addr()?);
            // SAFETY: as above.
            Ok((unsafe { OwnedFd::from_raw_fd(l.into_raw_fd()) }, name))
        }
    }
}

pub(crate) fn peer_name(fd: RawFd, n: u64, listen_name: &str) -> String {
    use nix::sys::socket::{SockaddrStorage, getpeername};
    match getpeername::<SockaddrStorage>(fd) {
        Ok(a) if a.as_sockaddr_in().is_some() || a.as_sockaddr_in6().is_some() => format!("tcp:{a}"),
        _ => format!("{listen_name}#{n}"),
    }
}

/// Serves on `listener` until a stop signal (or `cfg.exit_after` connections). `tick` is called with the
/// engine about once a second (periodic snapshots).
pub fn serve<E: Engine>(
    listener: OwnedFd,
    listen_name: &str,
    engine: &mut E,
    cfg: &ServeConfig,
    stats: &mut Stats,
    tick: &mut dyn FnMut(&E),
) -> Result<Features, IoFailure> {
    let mut slab: Vec<Option<Conn>> = Vec::new();
    // Lives for the whole loop: the tick timeout refers to it.
    let tick_ts = Box::new(types::Timespec::new().sec(1));
    let r = serve_loop(&listener, listen_name, engine, cfg, stats, tick, &mut slab, &tick_ts);
    if r.is_err() {
        // The ring failed with operations possibly in flight: never free memory the kernel may still
        // write into (the process is about to exit with the error anyway).
        std::mem::forget(slab);
        std::mem::forget(tick_ts);
    }
    drop(listener);
    r
}

#[allow(clippy::too_many_arguments)]
fn serve_loop<E: Engine>(
    listener: &OwnedFd,
    listen_name: &str,
    engine: &mut E,
    cfg: &ServeConfig,
    stats: &mut Stats,
    tick: &mut dyn FnMut(&E),
    slab: &mut Vec<Option<Conn>>,
    tick_ts: &types::Timespec,
) -> Result<Features, IoFailure> {
    let fail = |what: &str, error: io::Error| IoFailure { context: what.to_string(), error };
    let (ring, sqpoll) = new_ring(256, 4096, cfg.sqpoll).map_err(|e| fail("io_uring setup", e))?;
    let p = probe(&ring);
    let has = |code: u8| p.as_ref().is_some_and(|p| p.is_supported(code));
    if p.is_some() && !(has(opcode::Accept::CODE) && has(opcode::Recv::CODE) && has(opcode::Send::CODE)) {
        return Err(fail("io_uring", io::Error::other("kernel lacks IORING_OP_ACCEPT/RECV/SEND")));
    }
    let mut feat = Features { sqpoll, accept_multishot: true, ..Features::default() };
    let mut r = Ring { ring, backlog: Vec::new() };
    // Provided buffers for multishot receives. Freed after the loop, once nothing is in flight; on an
    // error return they are leaked with the slab (a receive may still be in flight into them).
    let mut pbufs: Option<ManuallyDrop<BufRing>> = None;
    if cfg.recv_multishot {
        pbufs = BufRing::new(&r.ring, RECV_BUFFERS, cfg.recv_buf.max(4096), 0).ok().map(ManuallyDrop::new);
    }
    feat.recv_multishot = pbufs.is_some();
    stats.io_detail = feat.describe(&r.ring)
        + ", accept multishot (falls back if refused)"
        + if feat.recv_multishot { ", recv multishot into provided buffers" } else { "" };
    let lfd = listener.as_raw_fd();
    let mut free: Vec<usize> = Vec::new();
    let mut inflight = 0usize;
    let mut accepting = false;
    let mut stop = false;
    let mut stop_at: Option<Instant> = None;
    let mut closed = 0u64;
    let mut accepted = 0u64;
    let mut tick_armed = false;
    let mut last_tick = Instant::now();
    // Set for one pass of the loop after each tick: look for silent multishot receives.
    let mut stall_check = false;
    let recv_len = cfg.recv_buf.max(4096);
    let out_cap = cfg.out_cap.max(max_output(recv_len) * 2);

    macro_rules! push {
        ($e:expr) => {{
            // SAFETY: entries refer to connection buffers owned by the slab (heap allocations whose
            // addresses do not move while the slab grows, and which are freed only once their
            // connection has nothing in flight; on an error return `serve` leaks the slab), to
            // `tick_ts` (owned by `serve`, same rule), and to descriptors closed only after their
            // operations completed.
            unsafe { r.push(&$e) }.map_err(|e| fail("io_uring submit", e))?;
            inflight += 1;
        }};
    }

    loop {
        if sys::stop_requested() && !stop {
            stop = true;
            stop_at = Some(Instant::now());
            if accepting {
                push!(opcode::AsyncCancel::new(UD_ACCEPT).build().user_data(UD_AUX));
            }
            if tick_armed {
                push!(opcode::TimeoutRemove::new(UD_TICK).build().user_data(UD_AUX));
            }
            for (i, c) in slab.iter().enumerate() {
                if let Some(c) = c
                    && c.recv_inflight
                {
                    push!(opcode::AsyncCancel::new(UD_RECV | i as u64).build().user_data(UD_AUX));
                }
            }
        }
        let exit_now = cfg.exit_after.is_some_and(|n| closed >= n);
        if exit_now && !stop {
            stop = true;
            stop_at = Some(Instant::now());
            if accepting {
                push!(opcode::AsyncCancel::new(UD_ACCEPT).build().user_data(UD_AUX));
            }
            if tick_armed {
                push!(opcode::TimeoutRemove::new(UD_TICK).build().user_data(UD_AUX));
            }
        }
        if stop_at.is_some_and(|t| t.elapsed() > DRAIN_LIMIT) {
            // Clients that do not read: give up on them.
            for (i, c) in slab.iter_mut().enumerate() {
                if let Some(c) = c
                    && !c.dead
                {
                    c.dead = true;
                    if c.send_inflight {
                        push!(opcode::AsyncCancel::new(UD_SEND | i as u64).build().user_data(UD_AUX));
                    }
                    if c.recv_inflight {
                        push!(opcode::AsyncCancel::new(UD_RECV | i as u64).build().user_data(UD_AUX));
                    }
                }
            }
        }
        if !accepting && !stop {
            let e = if feat.accept_multishot {
                opcode::AcceptMulti::new(types::Fd(lfd)).build()
            } else {
                opcode::Accept::new(types::Fd(lfd), std::ptr::null_mut(), std::ptr::null_mut()).build()
            };
            push!(e.user_data(UD_ACCEPT));
            accepting = true;
        }
        if !tick_armed && !stop {
            push!(opcode::Timeout::new(tick_ts).build().user_data(UD_TICK));
            tick_armed = true;
        }
        // Per-connection work: sends, receives, closes.
        for (i, slot) in slab.iter_mut().enumerate() {
            let Some(c) = slot.as_mut() else { continue };
            if !c.send_inflight && !c.dead {
                if c.sent == c.sending.len() && !c.pending.is_empty() {
                    c.sending.clear();
                    std::mem::swap(&mut c.sending, &mut c.pending);
                    c.sending_born = c.pending_born.take();
                    c.sent = 0;
                }
                if c.sent < c.sending.len() {
                    let ptr = c.sending[c.sent..].as_ptr();
                    let len = (c.sending.len() - c.sent) as u32;
                    c.send_inflight = true;
                    push!(
                        opcode::Send::new(types::Fd(c.fd.as_raw_fd()), ptr, len)
                            .flags(libc::MSG_NOSIGNAL)
                            .build()
                            .user_data(UD_SEND | i as u64)
                    );
                }
            }
            let flushed = c.sent == c.sending.len() && c.pending.is_empty();
            if c.discarding && flushed && !c.shut {
                c.shut = true;
                // SAFETY: shutdown on a descriptor we own; no memory effects.
                unsafe { libc::shutdown(c.fd.as_raw_fd(), libc::SHUT_WR) };
            }
            let room = c.pending.len() + max_output(recv_len) <= out_cap;
            let want_recv = !c.dead && !stop && (c.discarding || (!c.input_done && room));
            if want_recv && !c.recv_inflight {
                c.recv_inflight = true;
                c.cancel_sent = false;
                c.heard = true;
                match pbufs.as_deref().filter(|_| feat.recv_multishot) {
                    Some(b) => {
                        c.multishot = true;
                        push!(
                            opcode::RecvMulti::new(types::Fd(c.fd.as_raw_fd()), b.group())
                                .build()
                                .user_data(UD_RECV | i as u64)
                        );
                    }
                    None => {
                        c.multishot = false;
                        if c.inbuf.len() < recv_len {
                            c.inbuf = vec![0u8; recv_len].into_boxed_slice();
                        }
                        let ptr = c.inbuf.as_mut_ptr();
                        push!(
                            opcode::Recv::new(types::Fd(c.fd.as_raw_fd()), ptr, recv_len as u32)
                                .build()
                                .user_data(UD_RECV | i as u64)
                        );
                    }
                }
            } else if c.recv_inflight
                && c.multishot
                && !c.cancel_sent
                && (!want_recv || (stall_check && !c.heard))
            {
                // A multishot receive goes on until cancelled: stop it (backpressure, a stop, a dead
                // connection), or restart it when it has been silent for a tick (`Conn::heard`). What it
                // delivered before the cancellation is still consumed.
                c.cancel_sent = true;
                push!(opcode::AsyncCancel::new(UD_RECV | i as u64).build().user_data(UD_AUX));
            }
            if stall_check {
                c.heard = false;
            }
            let finished = c.dead || (flushed && (stop || (c.input_done && !c.discarding)));
            if finished && !c.recv_inflight && !c.send_inflight {
                *slot = None; // drops (closes) the descriptor and frees the buffers
                free.push(i);
                closed += 1;
            }
        }
        if !stop && cfg.exit_after.is_some_and(|n| closed >= n) {
            continue; // the top of the loop stops accepting and cancels the tick
        }
        let live = slab.iter().any(Option::is_some);
        if stop && !live && inflight == 0 {
            break;
        }
        r.submit_and_wait().map_err(|e| fail("io_uring_enter", e))?;
        if r.overflow() > 0 {
            return Err(fail("io_uring", io::Error::other("completion queue overflowed")));
        }
        r.reap();
        for (ud, res, flags) in std::mem::take(&mut r.backlog) {
            let idx = (ud & 0xffff_ffff) as usize;
            // Only multishot accepts and receives say "more": their submission stays in flight.
            let multishot_more = cqueue::more(flags);
            if !multishot_more {
                inflight -= 1;
            }
            match ud & !0xffff_ffff {
                UD_ACCEPT => {
                    if !multishot_more {
                        accepting = false;
                    }
                    if res == -libc::EINVAL && feat.accept_multishot {
                        feat.accept_multishot = false; // older kernel: single-shot accepts
                        continue;
                    }
                    if res < 0 {
                        if res != -libc::ECANCELED && res != -libc::EINTR && res != -libc::ECONNABORTED {
                            eprintln!("tcapd: accept: {}", io::Error::from_raw_os_error(-res));
                        }
                        continue;
                    }
                    // SAFETY: a successful accept returns a new descriptor that we now own.
                    let fd = unsafe { OwnedFd::from_raw_fd(res) };
                    accepted += 1;
                    stats.streams += 1;
                    let peer = peer_name(fd.as_raw_fd(), accepted, listen_name);
                    if stop || slab.iter().filter(|c| c.is_some()).count() >= cfg.max_conns {
                        eprintln!("tcapd: {peer}: refused: at most {} connections", cfg.max_conns);
                        closed += 1;
                        continue;
                    }
                    let conn = Conn {
                        fd,
                        peer,
                        dec: Decoder::new(),
                        // Allocated when a single-shot receive first needs it.
                        inbuf: Box::default(),
                        pending: Vec::with_capacity(out_cap),
                        pending_born: None,
                        sending: Vec::with_capacity(out_cap),
                        sending_born: None,
                        sent: 0,
                        recv_inflight: false,
                        multishot: false,
                        cancel_sent: false,
                        send_inflight: false,
                        input_done: false,
                        discarding: false,
                        discarded: 0,
                        shut: false,
                        dead: false,
                        heard: true,
                    };
                    match free.pop() {
                        Some(i) => slab[i] = Some(conn),
                        None => slab.push(Some(conn)),
                    }
                }
                UD_RECV => {
                    let bid = cqueue::buffer_select(flags);
                    let Some(c) = slab.get_mut(idx).and_then(Option::as_mut) else {
                        // (A slot is freed only with nothing in flight; the buffer goes back anyway.)
                        if let (Some(b), Some(p)) = (bid, pbufs.as_deref_mut()) {
                            p.recycle(b);
                        }
                        continue;
                    };
                    if !multishot_more {
                        c.recv_inflight = false;
                    }
                    c.heard = true;
                    if res < 0 {
                        match -res {
                            // ENOBUFS: every provided buffer was in use; the receive is re-armed.
                            libc::EINTR | libc::EAGAIN | libc::ECANCELED | libc::ENOBUFS => {}
                            libc::EINVAL if c.multishot && feat.recv_multishot => {
                                // A kernel without multishot receive: one receive per completion.
                                feat.recv_multishot = false;
                            }
                            e => {
                                if !c.discarding {
                                    eprintln!(
                                        "tcapd: {}: offset {}: receive failed: {}",
                                        c.peer,
                                        c.dec.offset(),
                                        io::Error::from_raw_os_error(e)
                                    );
                                }
                                c.dead = true;
                            }
                        }
                        continue;
                    }
                    let n = res as usize;
                    let data: &[u8] = match (bid, pbufs.as_deref()) {
                        (Some(b), Some(p)) => p.get(b, n),
                        _ => c.inbuf.get(..n).unwrap_or(&[]),
                    };
                    if c.discarding || (c.input_done && n > 0) {
                        // After a bad stream (or what a multishot receive delivered after it): read and
                        // dropped, up to a bound.
                        c.discarded += n as u64;
                        if n == 0 || c.discarded > DISCARD_LIMIT {
                            c.discarding = false;
                            c.input_done = true;
                        }
                    } else {
                        let (dec, peer) = (&mut c.dec, c.peer.as_str());
                        if let Some(discard) =
                            take_input(dec, data, engine, &mut c.pending, &mut c.pending_born, peer, stats)
                        {
                            c.input_done = true;
                            c.discarding = discard;
                        }
                    }
                    if let (Some(b), Some(p)) = (bid, pbufs.as_deref_mut()) {
                        p.recycle(b);
                    }
                }
                UD_SEND => {
                    let Some(c) = slab.get_mut(idx).and_then(Option::as_mut) else { continue };
                    c.send_inflight = false;
                    if res < 0 {
                        match -res {
                            libc::EINTR | libc::EAGAIN => {}
                            libc::ECANCELED => c.dead = true,
                            e => {
                                eprintln!(
                                    "tcapd: {}: send failed: {} (client went away)",
                                    c.peer,
                                    io::Error::from_raw_os_error(e)
                                );
                                c.dead = true;
                            }
                        }
                        continue;
                    }
                    c.sent += res as usize;
                    stats.writes += 1;
                    stats.bytes_out += res as u64;
                    if c.sent == c.sending.len()
                        && let Some(t) = c.sending_born.take()
                    {
                        stats.latency.record(t.elapsed().as_nanos() as u64);
                    }
                }
                UD_TICK => tick_armed = false,
                _ => {}
            }
        }
        if sys::take_report_request() {
            eprintln!("{}", stats.report("io_uring serve"));
        }
        stall_check = false;
        if last_tick.elapsed() >= Duration::from_secs(1) {
            stall_check = true;
            last_tick = Instant::now();
            stats.progress(cfg.quiet);
            tick(engine);
        }
    }
    // Nothing is in flight any more: the provided buffers can go.
    if let Some(b) = pbufs.take() {
        let _ = b.unregister(&r.ring);
        drop(ManuallyDrop::into_inner(b));
    }
    Ok(feat)
}
