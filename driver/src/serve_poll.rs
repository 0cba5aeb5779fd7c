//! `tcapd serve` without io_uring: one thread, non-blocking sockets, `poll(2)`. Used when io_uring is
//! refused (ENOSYS/EPERM, e.g. under seccomp) or with `--io blocking`. Same behaviour as the io_uring
//! server: per-connection decoders and bounded output queues, backpressure (a connection whose
//! decisions are not being read is not read either), a bad stream closes only its connection after
//! its decisions are flushed, SIGINT/SIGTERM drain and stop.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::engine::Engine;
use crate::io::IoFailure;
use crate::serve::{DRAIN_LIMIT, ServeConfig, take_input};
use crate::stats::Stats;
use crate::stream::{Decoder, max_output};
use crate::sys;

const DISCARD_LIMIT: u64 = 16 << 20;

struct PConn {
    fd: OwnedFd,
    peer: String,
    dec: Decoder,
    out: Vec<u8>,
    sent: usize,
    born: Option<Instant>,
    input_done: bool,
    discarding: bool,
    discarded: u64,
    shut: bool,
    dead: bool,
}

fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own; no memory effects.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if fl < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Serves on `listener` with `poll(2)` until a stop signal (or `cfg.exit_after` connections).
pub fn serve<E: Engine>(
    listener: OwnedFd,
    listen_name: &str,
    engine: &mut E,
    cfg: &ServeConfig,
    stats: &mut Stats,
    tick: &mut dyn FnMut(&E),
) -> Result<(), IoFailure> {
    let fail = |what: &str, error: io::Error| IoFailure { context: what.to_string(), error };
    let lfd = listener.as_raw_fd();
    set_nonblocking(lfd).map_err(|e| fail("listener", e))?;
    let recv_len = cfg.recv_buf.max(4096);
    let out_cap = cfg.out_cap.max(max_output(recv_len) * 2);
    let mut inbuf = vec![0u8; recv_len];
    let mut conns: Vec<PConn> = Vec::new();
    let (mut accepted, mut closed) = (0u64, 0u64);
    let mut stop_at: Option<Instant> = None;
    let mut last_tick = Instant::now();
    let mut pfds: Vec<libc::pollfd> = Vec::new();
    loop {
        if stop_at.is_none() && (sys::stop_requested() || cfg.exit_after.is_some_and(|n| closed >= n)) {
            stop_at = Some(Instant::now());
        }
        let stop = stop_at.is_some();
        let give_up = stop_at.is_some_and(|t| t.elapsed() > DRAIN_LIMIT);
        // Close finished connections.
        conns.retain_mut(|c| {
            let flushed = c.sent == c.out.len();
            if c.discarding && flushed && !c.shut {
                c.shut = true;
                // SAFETY: shutdown on a descriptor we own; no memory effects.
                unsafe { libc::shutdown(c.fd.as_raw_fd(), libc::SHUT_WR) };
            }
            let done = c.dead || give_up || (flushed && (stop || (c.input_done && !c.discarding)));
            if done {
                closed += 1;
            }
            !done
        });
        if stop && conns.is_empty() {
            return Ok(());
        }
        if !stop && cfg.exit_after.is_some_and(|n| closed >= n) {
            continue; // stop at the top of the loop
        }
        pfds.clear();
        pfds.push(libc::pollfd { fd: if stop { -1 } else { lfd }, events: libc::POLLIN, revents: 0 });
        for c in &conns {
            let room = c.out.len() - c.sent + max_output(recv_len) <= out_cap;
            let mut ev = 0;
            if !stop && (c.discarding || (!c.input_done && room)) {
                ev |= libc::POLLIN;
            }
            if c.sent < c.out.len() {
                ev |= libc::POLLOUT;
            }
            pfds.push(libc::pollfd { fd: c.fd.as_raw_fd(), events: ev, revents: 0 });
        }
        // SAFETY: `pfds` is a valid array of `pfds.len()` pollfds; poll writes only `revents`.
        let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, 1000) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(fail("poll", e));
            }
        }
        for (k, c) in conns.iter_mut().enumerate() {
            let re = pfds[k + 1].revents;
            if re & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0
                && pfds[k + 1].events & libc::POLLIN != 0
            {
                // SAFETY: `inbuf` is valid for `recv_len` writable bytes.
                let r = unsafe { libc::recv(c.fd.as_raw_fd(), inbuf.as_mut_ptr().cast(), recv_len, 0) };
                if r < 0 {
                    let e = io::Error::last_os_error();
                    if !matches!(e.raw_os_error(), Some(libc::EINTR) | Some(libc::EAGAIN)) {
                        if !c.discarding {
                            eprintln!("tcapd: {}: offset {}: receive failed: {e}", c.peer, c.dec.offset());
                        }
                        c.dead = true;
                    }
                } else if c.discarding {
                    c.discarded += r as u64;
                    if r == 0 || c.discarded > DISCARD_LIMIT {
                        c.discarding = false;
                        c.input_done = true;
                    }
                } else {
                    if c.sent > 0 && c.sent == c.out.len() {
                        c.out.clear();
                        c.sent = 0;
                    }
                    let data = &inbuf[..r as usize];
                    let (dec, peer) = (&mut c.dec, c.peer.as_str());
                    if let Some(discard) = take_input(dec, data, engine, &mut c.out, &mut c.born, peer, stats)
                    {
                        c.input_done = true;
                        c.discarding = discard;
                    }
                }
            }
            if c.sent < c.out.len() && !c.dead {
                let rest = &c.out[c.sent..];
                // SAFETY: `rest` is valid for `rest.len()` readable bytes.
                let w = unsafe {
                    libc::send(c.fd.as_raw_fd(), rest.as_ptr().cast(), rest.len(), libc::MSG_NOSIGNAL)
                };
                if w < 0 {
                    let e = io::Error::last_os_error();
                    if !matches!(e.raw_os_error(), Some(libc::EINTR) | Some(libc::EAGAIN)) {
                        eprintln!("tcapd: {}: send failed: {e} (client went away)", c.peer);
                        c.dead = true;
                    }
                } else {
                    c.sent += w as usize;
                    stats.writes += 1;
                    stats.bytes_out += w as u64;
                    if c.sent == c.out.len() {
                        if let Some(t) = c.born.take() {
                            stats.latency.record(t.elapsed().as_nanos() as u64);
                        }
                        c.out.clear();
                        c.sent = 0;
                    } else if c.sent >= out_cap / 2 {
                        // Keep the queue bounded: drop the sent prefix.
                        c.out.drain(..c.sent);
                        c.sent = 0;
                    }
                }
            }
        }
        if !stop && pfds[0].revents & libc::POLLIN != 0 {
            loop {
                // SAFETY: accept4 with null address pointers; returns a new descriptor or -1.
                let fd = unsafe {
                    libc::accept4(
                        lfd,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                        libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                    )
                };
                if fd < 0 {
                    break;
                }
                // SAFETY: a successful accept4 returns a new descriptor that we now own.
                let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                accepted += 1;
                stats.streams += 1;
                let peer = crate::serve::peer_name(fd.as_raw_fd(), accepted, listen_name);
                if conns.len() >= cfg.max_conns {
                    eprintln!("tcapd: {peer}: refused: at most {} connections", cfg.max_conns);
                    closed += 1;
                    continue;
                }
                conns.push(PConn {
                    fd,
                    peer,
                    dec: Decoder::new(),
                    out: Vec::with_capacity(out_cap),
                    sent: 0,
                    born: None,
                    input_done: false,
                    discarding: false,
                    discarded: 0,
                    shut: false,
                    dead: false,
                });
            }
        }
        if sys::take_report_request() {
            eprintln!("{}", stats.report("poll serve"));
        }
        if last_tick.elapsed() >= Duration::from_secs(1) {
            last_tick = Instant::now();
            stats.progress(cfg.quiet);
            tick(engine);
        }
    }
}
