//! Helpers for tcapd's end-to-end tests: the built binary, workloads, an in-process oracle, deadlines.
#![allow(dead_code)]

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tcap_core::wire::record::{EVENT_LEN, EventRepr, HEADER_LEN, StreamHeader};
use tcap_driver::gate_engine::{GateEngine, GateOptions};
use tcap_driver::stream::{Decoder, max_output};
use tcap_driver::workload::{Workload, generate};

/// Agent capacity every test run uses (the binary's default).
pub const MAX_AGENTS: usize = 65_536;

/// `tcapd` as built by cargo for this test run.
pub fn tcapd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tcapd"))
}

/// Whether this kernel lets us create an io_uring; prints a skip message when not.
pub fn uring_available(test: &str) -> bool {
    match tcap_driver::io::uring::features() {
        Ok(_) => true,
        Err(e) => {
            eprintln!("skipping {test}: io_uring refused by this kernel/sandbox ({e})");
            false
        }
    }
}

/// A workload stream (header + events).
pub fn workload(agents: u32, events: u64, seed: u64) -> Vec<u8> {
    let mut v = Vec::new();
    generate(&Workload { agents, events, compromised: 0.1, seed }, &mut v).unwrap();
    v
}

/// A stream whose agents are `base..base+agents` (disjoint agent sets give independent decisions).
pub fn workload_for_agents(base: u32, agents: u32, events: u64, seed: u64) -> Vec<u8> {
    let mut v = workload(agents, events, seed);
    for rec in v[HEADER_LEN..].chunks_exact_mut(EVENT_LEN) {
        let mut e = EventRepr::parse(rec).unwrap();
        e.agent += base;
        e.emit(rec).unwrap();
    }
    v
}

/// The engine `tcapd` runs by default (the gate over the built-in registry), in process.
pub fn default_engine() -> GateEngine {
    GateEngine::builtin(&GateOptions { max_agents: MAX_AGENTS, ..GateOptions::default() }).unwrap()
}

/// The decision stream `tcapd` must produce for `input` with its default engine (decoded in one piece,
/// in process). Also returns the error if the stream is bad.
pub fn oracle(input: &[u8]) -> (Vec<u8>, Option<tcap_driver::stream::StreamError>) {
    let mut e = default_engine();
    oracle_with(input, &mut e)
}

/// As [`oracle`], continuing from `engine`'s state.
pub fn oracle_with(input: &[u8], e: &mut GateEngine) -> (Vec<u8>, Option<tcap_driver::stream::StreamError>) {
    let mut d = Decoder::new();
    let mut out = vec![0u8; max_output(input.len())];
    let (n, err) = d.feed(input, e, &mut out);
    out.truncate(n);
    let err = err.or_else(|| d.finish().err());
    (out, err)
}

/// Waits for `child` at most `limit`; kills it and panics on timeout.
pub fn wait_deadline(child: &mut Child, limit: Duration) -> ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tcapd did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `tcapd args…` to completion (bounded), returning status, stdout, stderr.
pub fn run_tcapd(args: &[&str], stdin: Option<Vec<u8>>) -> (ExitStatus, Vec<u8>, String) {
    let mut child = tcapd()
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let writer = stdin.map(|data| {
        let mut w = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            use std::io::Write;
            // Odd-sized writes: records straddle pipe reads.
            for chunk in data.chunks(4093) {
                if w.write_all(chunk).is_err() {
                    break;
                }
            }
        })
    });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        out.read_to_end(&mut v).unwrap();
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).unwrap();
        s
    });
    let status = wait_deadline(&mut child, Duration::from_secs(60));
    if let Some(w) = writer {
        w.join().unwrap();
    }
    (status, out_t.join().unwrap(), err_t.join().unwrap())
}

/// `path` as &str.
pub fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A valid empty event stream (header only).
pub fn header_only() -> Vec<u8> {
    StreamHeader::EVENTS.to_bytes().to_vec()
}

/// Installs, in the child before exec, a seccomp filter that makes io_uring_setup fail with EPERM — the
/// real condition under a container's seccomp profile.
pub fn deny_io_uring(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only calls async-signal-safe prctl
    // with pointers to data on its own stack.
    unsafe {
        cmd.pre_exec(|| {
            let mut filter = [
                libc::sock_filter {
                    code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
                    jt: 0,
                    jf: 0,
                    k: 0,
                },
                libc::sock_filter {
                    code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
                    jt: 0,
                    jf: 1,
                    k: libc::SYS_io_uring_setup as u32,
                },
                libc::sock_filter {
                    code: (libc::BPF_RET | libc::BPF_K) as u16,
                    jt: 0,
                    jf: 0,
                    k: libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
                },
                libc::sock_filter {
                    code: (libc::BPF_RET | libc::BPF_K) as u16,
                    jt: 0,
                    jf: 0,
                    k: libc::SECCOMP_RET_ALLOW,
                },
            ];
            let prog = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_mut_ptr() };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &prog as *const _ as usize,
                    0,
                    0,
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Sequence number, agent, command, risk code.
pub type IoFields = (u64, u32, u32, u8);

/// What the I/O path alone determines in a decision stream: the header and, per record in order, the
/// sequence number, agent, command and the command's risk. Concurrent clients share the gate's
/// population baseline, so the verdict fields of one client's decisions depend on how the server
/// interleaved the clients; these fields do not.
pub fn io_fields(stream: &[u8]) -> (Vec<u8>, Vec<IoFields>) {
    use tcap_core::wire::record::{DECISION_LEN, DecisionRepr};
    assert_eq!((stream.len() - HEADER_LEN) % DECISION_LEN, 0, "whole records");
    let recs = stream[HEADER_LEN..]
        .chunks_exact(DECISION_LEN)
        .map(|r| {
            let d = DecisionRepr::parse(r).expect("a valid decision record");
            (d.seq, d.agent, d.command, d.risk as u8)
        })
        .collect();
    (stream[..HEADER_LEN].to_vec(), recs)
}
