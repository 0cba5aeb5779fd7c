//! Fault injection on `tcapd run`'s I/O, with real kernel objects: pipes fed one byte per `write()` and
//! drained one byte per `read()` (short reads and writes everywhere), a SIGUSR1 storm while blocked in
//! reads and writes (EINTR), and non-blocking pipes (EAGAIN). In every case the decision stream must be
//! exactly the in-process oracle's — nothing acknowledged is lost or duplicated — and the run exits 0.

mod common;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use nix::fcntl::OFlag;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The I/O paths to exercise: blocking always, io_uring when this kernel allows it.
fn modes(test: &str) -> Vec<&'static str> {
    let mut m = vec!["blocking"];
    if uring_available(test) {
        m.push("uring");
    }
    m
}

/// Shrinks a pipe to one page so that tcapd's large writes are split by the kernel (short writes).
fn small_pipe(fd: &impl AsRawFd) {
    // SAFETY: F_SETPIPE_SZ on a pipe descriptor we own; no memory is passed.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, 4096) };
    assert!(r >= 4096, "F_SETPIPE_SZ: {}", std::io::Error::last_os_error());
}

/// Writes `data` `chunk` bytes per `write()` call, pausing now and then, then closes the pipe.
fn trickle(mut w: impl Write + Send + 'static, data: Vec<u8>, chunk: usize) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for (i, piece) in data.chunks(chunk).enumerate() {
            w.write_all(piece).unwrap();
            if i % 997 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    })
}

/// Reads everything, `chunk` bytes per `read()` call.
fn drain(mut r: impl Read + Send + 'static, chunk: usize) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = vec![0u8; chunk];
        loop {
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => panic!("read: {e}"),
            }
        }
        got
    })
}

fn spawn_run(io: &str) -> Child {
    tcapd()
        .args(["run", "--in", "-", "--out", "-", "--io", io, "--batch", "4096"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn one_byte_writes_in_and_one_byte_reads_out() {
    let data = workload(50, 600, 11);
    let (want, err) = oracle(&data);
    assert!(err.is_none());
    for io in modes("one_byte_writes_in_and_one_byte_reads_out") {
        let mut child = spawn_run(io);
        let stdout = child.stdout.take().unwrap();
        small_pipe(&stdout);
        let w = trickle(child.stdin.take().unwrap(), data.clone(), 1);
        let r = drain(stdout, 1);
        let e = drain(child.stderr.take().unwrap(), 4096);
        let st = wait_deadline(&mut child, Duration::from_secs(60));
        w.join().unwrap();
        let got = r.join().unwrap();
        let stderr = String::from_utf8_lossy(&e.join().unwrap()).into_owned();
        assert!(st.success(), "{io}: {st:?}: {stderr}");
        assert_eq!(got.len(), want.len(), "{io}");
        assert!(got == want, "{io}: decisions differ from the oracle");
    }
}

#[test]
fn sigusr1_storm_during_blocked_reads_and_writes() {
    // Odd 7-byte writes in and 3-byte reads out keep tcapd blocked in read() and write() most of the
    // time, while a thread sends SIGUSR1 every 200 µs: each one interrupts the blocked call (the
    // handler is installed without SA_RESTART) and asks for a counters report on stderr.
    let data = workload(200, 30_000, 12);
    let (want, err) = oracle(&data);
    assert!(err.is_none());
    for io in modes("sigusr1_storm_during_blocked_reads_and_writes") {
        let mut child = spawn_run(io);
        let pid = Pid::from_raw(child.id() as i32);
        let stdout = child.stdout.take().unwrap();
        small_pipe(&stdout);
        let mut stderr = child.stderr.take().unwrap();
        let e = std::thread::spawn(move || {
            let mut s = String::new();
            stderr.read_to_string(&mut s).unwrap();
            s
        });
        // Paced writes keep the run going for a couple of seconds; the storm starts once the first
        // decision bytes arrive, i.e. once tcapd has installed its handlers (the default action of
        // SIGUSR1 is to exit) and is inside its loop.
        let first = Arc::new(AtomicBool::new(false));
        let w = {
            let (mut w, data) = (child.stdin.take().unwrap(), data.clone());
            std::thread::spawn(move || {
                for (i, piece) in data.chunks(7).enumerate() {
                    w.write_all(piece).unwrap();
                    if i % 64 == 0 {
                        std::thread::sleep(Duration::from_micros(500));
                    }
                }
            })
        };
        let r = {
            let (mut r, first) = (stdout, first.clone());
            std::thread::spawn(move || {
                let mut got = Vec::new();
                let mut buf = [0u8; 3];
                loop {
                    match r.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                        Err(e) => panic!("read: {e}"),
                    }
                    first.store(true, Ordering::Relaxed);
                }
                got
            })
        };
        let t0 = Instant::now();
        while !first.load(Ordering::Relaxed) {
            assert!(t0.elapsed() < Duration::from_secs(30), "{io}: no output");
            std::thread::sleep(Duration::from_millis(1));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let storm = {
            let (stop, sent) = (stop.clone(), sent.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if kill(pid, Signal::SIGUSR1).is_err() {
                        break;
                    }
                    sent.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_micros(200));
                }
            })
        };
        w.join().unwrap();
        let got = r.join().unwrap();
        stop.store(true, Ordering::Relaxed);
        storm.join().unwrap();
        let st = wait_deadline(&mut child, Duration::from_secs(60));
        let stderr = e.join().unwrap();
        assert!(st.success(), "{io}: {st:?}: {}", &stderr[stderr.len().saturating_sub(2000)..]);
        let sent = sent.load(Ordering::Relaxed);
        assert!(sent >= 100, "{io}: only {sent} signals sent");
        let reports = stderr.matches(" events (").count();
        assert!(reports >= 2, "{io}: SIGUSR1 reports on stderr besides the exit report ({reports})");
        assert_eq!(got.len(), want.len(), "{io}: after {sent} SIGUSR1");
        assert!(got == want, "{io}: decisions differ from the oracle after {sent} SIGUSR1");
    }
}

/// A pipe whose both ends are `O_NONBLOCK` (the flag lives on the shared open file description, so
/// tcapd's end is non-blocking too).
fn nonblocking_pipe() -> (OwnedFd, OwnedFd) {
    let (r, w) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC).unwrap();
    (r, w)
}

#[test]
fn nonblocking_pipes_eagain_on_both_ends() {
    let data = workload(100, 20_000, 13);
    let (want, err) = oracle(&data);
    assert!(err.is_none());
    for io in modes("nonblocking_pipes_eagain_on_both_ends") {
        let (in_r, in_w) = nonblocking_pipe();
        let (out_r, out_w) = nonblocking_pipe();
        small_pipe(&out_w);
        let mut child = tcapd()
            .args(["run", "--in", "-", "--out", "-", "--io", io, "-q"])
            .stdin(Stdio::from(in_r))
            .stdout(Stdio::from(out_w))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Our ends are non-blocking too; std's write_all/read would fail on EAGAIN, so we wait in
        // small sleeps instead — tcapd sees an empty input pipe and a full output pipe over and over.
        let data = data.clone();
        let writer = std::thread::spawn(move || {
            let mut f = std::fs::File::from(in_w);
            let mut rest = &data[..];
            let t0 = Instant::now();
            while !rest.is_empty() {
                match f.write(&rest[..rest.len().min(1000)]) {
                    Ok(n) => rest = &rest[n..],
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_micros(100))
                    }
                    Err(e) => panic!("write: {e}"),
                }
                assert!(t0.elapsed() < Duration::from_secs(60));
            }
        });
        let reader = std::thread::spawn(move || {
            let mut f = std::fs::File::from(out_r);
            let mut got = Vec::new();
            let mut buf = [0u8; 777];
            let t0 = Instant::now();
            loop {
                match f.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_micros(300))
                    }
                    Err(e) => panic!("read: {e}"),
                }
                assert!(t0.elapsed() < Duration::from_secs(60));
            }
            got
        });
        let e = drain(child.stderr.take().unwrap(), 4096);
        let st = wait_deadline(&mut child, Duration::from_secs(90));
        writer.join().unwrap();
        let got = reader.join().unwrap();
        let stderr = String::from_utf8_lossy(&e.join().unwrap()).into_owned();
        assert!(st.success(), "{io}: {st:?}: {stderr}");
        assert_eq!(got.len(), want.len(), "{io}");
        assert!(got == want, "{io}: decisions differ from the oracle");
    }
}
