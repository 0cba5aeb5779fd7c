//! `tcapd bench --serve`: `serve` over a Unix socket with several concurrent clients, in one process.
//!
//! Two phases, each against a fresh server on its own thread: (1) throughput — every client streams
//! its events as fast as it can while reading its decisions; (2) latency at a fixed offered load —
//! clients send small paced batches and time each batch from `send` to the arrival of its last
//! decision. The throughput clients are threads; the latency clients are driven from one thread with
//! `poll` (the machine has two cores: the server's and the clients'), staggered within the period.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;
use tcap_core::wire::record::{DECISION_LEN, EVENT_LEN, EventRepr, HEADER_LEN};

use crate::cli::CliError;
use crate::serve::{self, Listen, ServeConfig};
use crate::stats::{Histogram, Stats};
use crate::workload::{Workload, generate, offset_agents};

/// Figures of the serve benchmark.
#[derive(Clone, Debug, Serialize)]
pub struct ServeReport {
    /// Concurrent clients.
    pub clients: u32,
    /// Events sent in the throughput phase (all clients).
    pub events: u64,
    /// Throughput phase: events/s over all clients (wall clock, first connect to last decision).
    pub events_per_sec: f64,
    /// Latency phase: offered load, events/s over all clients.
    pub offered_events_per_sec: u64,
    /// Latency phase: batches timed.
    pub batches: u64,
    /// Batch latency quantiles (upper bounds of 1/8-octave buckets), ns.
    pub p50_ns: u64,
    /// p99.
    pub p99_ns: u64,
    /// p99.9.
    pub p999_ns: u64,
    /// Max.
    pub max_ns: u64,
    /// The peer in the same run: the same clients and load against an echo server (one thread,
    /// `poll` + `read` + `write`, one decision-sized record back per call, no gate): the floor this
    /// machine sets for a round trip over a Unix socket. p50.
    pub peer_p50_ns: u64,
    /// Peer p99.
    pub peer_p99_ns: u64,
    /// Peer p99.9.
    pub peer_p999_ns: u64,
    /// Peer max.
    pub peer_max_ns: u64,
    /// Whether a 0 µs CPU wake-up latency request was held during the run (`--low-latency`).
    pub low_latency: bool,
}

fn err(message: String) -> CliError {
    CliError { code: 1, message }
}

/// One client connection of the latency phase.
struct Paced {
    s: UnixStream,
    data: Vec<u8>,
    /// Bytes of `data` sent so far (the header first).
    at: usize,
    /// Decision bytes received and not yet parsed; the stream header is skipped first.
    pending: Vec<u8>,
    header_skipped: bool,
    /// The sequence number of the last call of the batch in flight, and when the batch was sent.
    waiting: Option<(u64, Instant)>,
}

/// The latency phase's clients, all driven from this one thread (so that the machine's two cores go
/// to the server and to one client rather than to a crowd of client threads): every `period`, each
/// client in turn (staggered by `period / clients`) writes its next batch of `per_batch` events, and
/// the thread waits in `poll` for that batch's last decision, recording the time from just before the
/// write to the read that returned it.
fn paced_clients(
    sock: &Path,
    clients: u32,
    agents: u32,
    per_batch: usize,
    batches: usize,
    period: Duration,
    hist: &mut Histogram,
) -> Result<(), CliError> {
    let io = |what: &str, e: std::io::Error| err(format!("serve bench client: {what}: {e}"));
    let mut conns = Vec::new();
    for c in 0..clients {
        let s = UnixStream::connect(sock).map_err(|e| io("connect", e))?;
        let data = stream_for(c, agents, (per_batch * batches) as u64);
        conns.push(Paced { s, data, at: 0, pending: Vec::new(), header_skipped: false, waiting: None });
    }
    for p in &mut conns {
        p.s.write_all(&p.data[..HEADER_LEN]).map_err(|e| io("write", e))?;
        p.at = HEADER_LEN;
    }
    let mut buf = vec![0u8; 64 << 10];
    let start = Instant::now();
    let n_conns = conns.len().max(1) as u32;
    for b in 0..batches * conns.len() {
        // Client k sends its batch b at b·period + k·period/n: the clients are not synchronised,
        // and each batch's decision is collected before the next client sends (one thread cannot
        // otherwise tell when a decision arrived while it was busy writing another client's batch).
        let (b, k) = (b / conns.len(), b % conns.len());
        let due = start + period * b as u32 + period * k as u32 / n_conns;
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
        if let Some(p) = conns.get_mut(k) {
            let end = (p.at + per_batch * EVENT_LEN).min(p.data.len());
            let batch = &p.data[p.at..end];
            let last_call = batch
                .chunks_exact(EVENT_LEN)
                .rev()
                .filter_map(|r| EventRepr::parse(r).ok())
                .find(|e| e.outcome.is_none())
                .map(|e| e.seq);
            p.waiting = last_call.map(|seq| (seq, Instant::now()));
            p.s.write_all(batch).map_err(|e| io("write", e))?;
            p.at = end;
        }
        // Collect every client's decision of its batch's last call.
        while conns.iter().any(|p| p.waiting.is_some()) {
            let Some((rc, fds)) =
                poll_readable(conns.iter().map(|p| p.waiting.is_some().then(|| p.s.as_raw_fd())))
                    .map_err(|e| io("poll", e))?
            else {
                continue;
            };
            if rc == 0 {
                return Err(err("serve bench: no decision within 10 s".into()));
            }
            for (p, f) in conns.iter_mut().zip(&fds) {
                if f.revents == 0 {
                    continue;
                }
                let n = p.s.read(&mut buf).map_err(|e| io("read", e))?;
                if n == 0 {
                    return Err(err("serve bench: the server closed a connection early".into()));
                }
                let arrived = Instant::now();
                p.pending.extend_from_slice(&buf[..n]);
                if !p.header_skipped && p.pending.len() >= HEADER_LEN {
                    p.pending.drain(..HEADER_LEN);
                    p.header_skipped = true;
                }
                let whole = if p.header_skipped { p.pending.len() / DECISION_LEN * DECISION_LEN } else { 0 };
                for d in p.pending[..whole].chunks_exact(DECISION_LEN) {
                    let seq = u64::from_le_bytes(d[..8].try_into().unwrap_or([0; 8]));
                    if let Some((last, t)) = p.waiting
                        && seq >= last
                    {
                        hist.record(arrived.duration_since(t).as_nanos() as u64);
                        p.waiting = None;
                    }
                }
                p.pending.drain(..whole);
            }
        }
    }
    // Done: close our write sides and drain what remains until the server closes.
    for p in &mut conns {
        p.s.shutdown(std::net::Shutdown::Write).map_err(|e| io("shutdown", e))?;
        while p.s.read(&mut buf).map_err(|e| io("read", e))? > 0 {}
    }
    Ok(())
}

/// Waits up to 10 s for input on the descriptors given (`None` entries are skipped but keep their
/// place): the number ready and the `pollfd`s with their `revents`, or `None` if a signal interrupted
/// the wait.
fn poll_readable(
    fds: impl Iterator<Item = Option<std::os::fd::RawFd>>,
) -> std::io::Result<Option<(i32, Vec<libc::pollfd>)>> {
    let mut fds: Vec<libc::pollfd> =
        fds.map(|fd| libc::pollfd { fd: fd.unwrap_or(-1), events: libc::POLLIN, revents: 0 }).collect();
    // SAFETY: `fds` is a live, exclusively borrowed array of `fds.len()` pollfd structs.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 10_000) };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        return if e.kind() == std::io::ErrorKind::Interrupted { Ok(None) } else { Err(e) };
    }
    Ok(Some((rc, fds)))
}

fn stream_for(client: u32, agents: u32, events: u64) -> Vec<u8> {
    let mut v = Vec::new();
    let w = Workload { agents, events, compromised: 0.05, seed: 100 + client as u64 };
    // Writing into a Vec cannot fail.
    let _ = generate(&w, &mut v);
    offset_agents(&mut v, client * agents);
    v
}

fn start_server(
    path: &Path,
    clients: u32,
    agents: u32,
) -> Result<thread::JoinHandle<Result<(), String>>, CliError> {
    let (fd, name) = serve::bind(&Listen::Unix(path.to_path_buf()))
        .map_err(|e| CliError { code: 1, message: format!("bind {}: {e}", path.display()) })?;
    Ok(thread::spawn(move || {
        let opts = crate::bench::bench_gate_options(clients * agents, false);
        let mut engine = match crate::gate_engine::GateEngine::builtin(&opts) {
            Ok(e) => e,
            Err(e) => return Err(format!("gate: {e}")),
        };
        let cfg = ServeConfig { exit_after: Some(clients as u64), ..ServeConfig::default() };
        let mut stats = Stats::new();
        serve::serve(fd, &name, &mut engine, &cfg, &mut stats, &mut |_| {})
            .map(|_| ())
            .map_err(|e| e.to_string())
    }))
}

/// The latency peer: accepts `clients` connections and answers each call record with a
/// decision-sized record carrying its sequence number, from one thread blocked in `poll` — the
/// least a server can do per round trip, so its latency is what the kernel and the machine cost.
fn start_echo_server(path: &Path, clients: u32) -> Result<thread::JoinHandle<Result<(), String>>, CliError> {
    let listener = std::os::unix::net::UnixListener::bind(path)
        .map_err(|e| err(format!("bind {}: {e}", path.display())))?;
    Ok(thread::spawn(move || {
        let e = |what: &str, e: std::io::Error| format!("echo peer: {what}: {e}");
        let mut conns = Vec::new();
        for _ in 0..clients {
            let (mut s, _) = listener.accept().map_err(|x| e("accept", x))?;
            s.write_all(&[0u8; HEADER_LEN]).map_err(|x| e("write", x))?;
            conns.push((s, Vec::<u8>::new(), HEADER_LEN, true));
        }
        let mut buf = vec![0u8; 64 << 10];
        let mut out = Vec::with_capacity(64 << 10);
        while conns.iter().any(|c| c.3) {
            let Some((_, fds)) = poll_readable(conns.iter().map(|c| c.3.then(|| c.0.as_raw_fd())))
                .map_err(|x| e("poll", x))?
            else {
                continue;
            };
            for ((s, pending, skip, open), f) in conns.iter_mut().zip(&fds) {
                if f.revents == 0 {
                    continue;
                }
                let n = s.read(&mut buf).map_err(|x| e("read", x))?;
                if n == 0 {
                    // Close our side too: the client drains until it sees the end.
                    let _ = s.shutdown(std::net::Shutdown::Both);
                    *open = false;
                    continue;
                }
                let mut data = &buf[..n];
                let k = (*skip).min(data.len());
                data = &data[k..];
                *skip -= k;
                pending.extend_from_slice(data);
                let whole = pending.len() / EVENT_LEN * EVENT_LEN;
                out.clear();
                for r in pending[..whole].chunks_exact(EVENT_LEN) {
                    if let Ok(ev) = EventRepr::parse(r)
                        && ev.outcome.is_none()
                    {
                        let mut d = [0u8; DECISION_LEN];
                        d[..8].copy_from_slice(&ev.seq.to_le_bytes());
                        out.extend_from_slice(&d);
                    }
                }
                pending.drain(..whole);
                s.write_all(&out).map_err(|x| e("write", x))?;
            }
        }
        Ok(())
    }))
}

fn join(h: thread::JoinHandle<Result<(), String>>) -> Result<(), CliError> {
    h.join()
        .map_err(|_| CliError { code: 1, message: "server thread panicked".into() })?
        .map_err(|m| CliError { code: 1, message: m })
}

/// Runs both phases.
pub fn run(dir: &Path, clients: u32, events: u64, rate: u64, agents: u32) -> Result<ServeReport, CliError> {
    let clients = clients.max(1);
    // Phase 1: throughput.
    let sock = dir.join("bench-serve.sock");
    let server = start_server(&sock, clients, agents)?;
    let streams: Vec<Vec<u8>> =
        (0..clients).map(|c| stream_for(c, agents, events / clients as u64)).collect();
    let t0 = Instant::now();
    let handles: Vec<_> = streams
        .into_iter()
        .map(|data| {
            let sock = sock.clone();
            thread::spawn(move || -> std::io::Result<usize> {
                let mut s = UnixStream::connect(&sock)?;
                let mut r = s.try_clone()?;
                let reader = thread::spawn(move || {
                    let mut n = 0usize;
                    let mut buf = vec![0u8; 256 << 10];
                    loop {
                        match r.read(&mut buf) {
                            Ok(0) | Err(_) => return n,
                            Ok(k) => n += k,
                        }
                    }
                });
                s.write_all(&data)?;
                s.shutdown(std::net::Shutdown::Write)?;
                Ok(reader.join().unwrap_or(0))
            })
        })
        .collect();
    let mut got = 0usize;
    for h in handles {
        got +=
            h.join().map_err(|_| err("client panicked".into()))?.map_err(|e| err(format!("client: {e}")))?;
    }
    let secs = t0.elapsed().as_secs_f64();
    join(server)?;
    if got < clients as usize * HEADER_LEN {
        return Err(err("serve bench: clients received no decisions".into()));
    }
    let sent = events / clients as u64 * clients as u64;

    // Phase 2: latency at a fixed offered load.
    let server = start_server(&sock, clients, agents)?;
    let per_client = rate / clients as u64;
    let period = Duration::from_millis(1);
    let per_batch = (per_client / 1000).max(1) as usize;
    let duration = Duration::from_secs(2);
    let total_batches = (duration.as_millis() as usize).max(1);
    let mut all = Histogram::default();
    paced_clients(&sock, clients, agents, per_batch, total_batches, period, &mut all)?;
    join(server)?;
    let _ = std::fs::remove_file(&sock);

    // The peer: the same clients and load against the echo server.
    let server = start_echo_server(&sock, clients)?;
    let mut peer = Histogram::default();
    paced_clients(&sock, clients, agents, per_batch, total_batches, period, &mut peer)?;
    join(server)?;
    let _ = std::fs::remove_file(&sock);
    Ok(ServeReport {
        clients,
        events: sent,
        events_per_sec: sent as f64 / secs,
        offered_events_per_sec: per_batch as u64 * 1000 * clients as u64,
        batches: all.count(),
        p50_ns: all.quantile_ppm(500_000),
        p99_ns: all.quantile_ppm(990_000),
        p999_ns: all.quantile_ppm(999_000),
        max_ns: all.max(),
        peer_p50_ns: peer.quantile_ppm(500_000),
        peer_p99_ns: peer.quantile_ppm(990_000),
        peer_p999_ns: peer.quantile_ppm(999_000),
        peer_max_ns: peer.max(),
        low_latency: false,
    })
}
