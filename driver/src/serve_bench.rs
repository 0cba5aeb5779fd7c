//! `tcapd bench --serve`: `serve` over a Unix socket with several concurrent clients, in one process.
//!
//! Two phases, each against a fresh server on its own thread: (1) throughput — every client streams
//! its events as fast as it can while reading its decisions; (2) latency at a fixed offered load —
//! clients send small paced batches and time each batch from `send` to the arrival of its last
//! decision. Client threads share the machine with the server, as real clients would.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc;
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
    /// Batch latency quantiles (upper bounds of log2 buckets), ns.
    pub p50_ns: u64,
    /// p99.
    pub p99_ns: u64,
    /// p99.9.
    pub p999_ns: u64,
    /// Max.
    pub max_ns: u64,
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

fn join(h: thread::JoinHandle<Result<(), String>>) -> Result<(), CliError> {
    h.join()
        .map_err(|_| CliError { code: 1, message: "server thread panicked".into() })?
        .map_err(|m| CliError { code: 1, message: m })
}

/// Runs both phases.
pub fn run(dir: &Path, clients: u32, events: u64, rate: u64, agents: u32) -> Result<ServeReport, CliError> {
    let err = |m: String| CliError { code: 1, message: m };
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
    let (tx, rx) = mpsc::channel::<Histogram>();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let data = stream_for(c, agents, (per_batch * total_batches) as u64);
            let sock = sock.clone();
            let tx = tx.clone();
            thread::spawn(move || -> std::io::Result<()> {
                let mut s = UnixStream::connect(&sock)?;
                let mut r = s.try_clone()?;
                let (btx, brx) = mpsc::channel::<(u64, Instant)>();
                let reader = thread::spawn(move || {
                    let mut h = Histogram::default();
                    let mut buf = vec![0u8; 64 << 10];
                    let mut pending: Vec<u8> = Vec::new();
                    let mut header_skipped = false;
                    let mut waiting: Option<(u64, Instant)> = None;
                    loop {
                        let n = match r.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        pending.extend_from_slice(&buf[..n]);
                        if !header_skipped && pending.len() >= HEADER_LEN {
                            pending.drain(..HEADER_LEN);
                            header_skipped = true;
                        }
                        let whole = pending.len() / DECISION_LEN * DECISION_LEN;
                        for d in pending[..whole].chunks_exact(DECISION_LEN) {
                            let seq = u64::from_le_bytes(d[..8].try_into().unwrap_or([0; 8]));
                            loop {
                                if waiting.is_none() {
                                    waiting = brx.try_recv().ok();
                                }
                                match waiting {
                                    Some((last, t)) if seq >= last => {
                                        h.record(t.elapsed().as_nanos() as u64);
                                        waiting = None;
                                    }
                                    _ => break,
                                }
                            }
                        }
                        pending.drain(..whole);
                    }
                    h
                });
                s.write_all(&data[..HEADER_LEN])?;
                let body = &data[HEADER_LEN..];
                let start = Instant::now();
                for (b, batch) in body.chunks(per_batch * EVENT_LEN).enumerate() {
                    let due = start + period * b as u32;
                    let now = Instant::now();
                    if due > now {
                        thread::sleep(due - now);
                    }
                    // The last call in the batch: its decision closes the batch.
                    let last_call = batch
                        .chunks_exact(EVENT_LEN)
                        .rev()
                        .filter_map(|r| EventRepr::parse(r).ok())
                        .find(|e| e.outcome.is_none())
                        .map(|e| e.seq);
                    let t = Instant::now();
                    s.write_all(batch)?;
                    if let Some(seq) = last_call {
                        let _ = btx.send((seq, t));
                    }
                }
                drop(btx);
                s.shutdown(std::net::Shutdown::Write)?;
                if let Ok(h) = reader.join() {
                    let _ = tx.send(h);
                }
                Ok(())
            })
        })
        .collect();
    drop(tx);
    for h in handles {
        h.join().map_err(|_| err("client panicked".into()))?.map_err(|e| err(format!("client: {e}")))?;
    }
    join(server)?;
    let mut all = Histogram::default();
    for h in rx {
        all.merge(&h);
    }
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
    })
}
