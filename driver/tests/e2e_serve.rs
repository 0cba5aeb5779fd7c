//! End-to-end tests of `tcapd serve`: Unix sockets and TCP loopback, concurrent clients, bad streams,
//! slow readers, SIGTERM.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tcap_core::wire::record::{EVENT_LEN, HEADER_LEN};

/// Starts `tcapd serve`, returns the child, the address it printed, and a channel of later stderr lines.
fn start(listen: &str, extra: &[&str]) -> (Child, String, mpsc::Receiver<String>) {
    let mut cmd = tcapd();
    cmd.args(["serve", "--listen", listen, "-q"]).args(extra);
    start_cmd(cmd).0
}

/// As [`start`] for a prepared command; also returns the stderr lines printed before the address.
fn start_cmd(mut cmd: std::process::Command) -> ((Child, String, mpsc::Receiver<String>), Vec<String>) {
    let mut child = cmd.stderr(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut before = Vec::new();
    let addr = loop {
        let l = lines.next().expect("tcapd exited before listening").unwrap();
        match l.strip_prefix("tcapd: listening on ") {
            Some(a) => break a.to_string(),
            None => before.push(l),
        }
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    ((child, addr, rx), before)
}

trait Conn: Read + Write + Send + 'static {
    fn split(&self) -> Box<dyn Read + Send>;
    fn close_write(&self);
}
impl Conn for UnixStream {
    fn split(&self) -> Box<dyn Read + Send> {
        Box::new(self.try_clone().unwrap())
    }
    fn close_write(&self) {
        self.shutdown(std::net::Shutdown::Write).unwrap();
    }
}
impl Conn for TcpStream {
    fn split(&self) -> Box<dyn Read + Send> {
        Box::new(self.try_clone().unwrap())
    }
    fn close_write(&self) {
        self.shutdown(std::net::Shutdown::Write).unwrap();
    }
}

fn connect(addr: &str) -> Box<dyn Conn> {
    if let Some(p) = addr.strip_prefix("unix:") {
        let s = UnixStream::connect(p).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Box::new(s)
    } else {
        let s = TcpStream::connect(addr.strip_prefix("tcp:").unwrap()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Box::new(s)
    }
}

/// One client: sends `data` in `chunk`-byte writes while reading concurrently (optionally slowly);
/// returns everything received until the server closed.
fn client(addr: String, data: Vec<u8>, chunk: usize, slow_reader: bool) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut c = connect(&addr);
        let mut r = c.split();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match r.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) => panic!("client read: {e}"),
                }
                if slow_reader {
                    std::thread::sleep(Duration::from_micros(300));
                }
            }
            got
        });
        for piece in data.chunks(chunk) {
            if c.write_all(piece).is_err() {
                break; // the server closed a bad stream early
            }
        }
        c.close_write();
        reader.join().unwrap()
    })
}

fn concurrent_clients_get_exactly_their_decisions(listen: &str, extra: &[&str]) {
    let mut args = vec!["--exit-after", "4"];
    args.extend_from_slice(extra);
    let (mut child, addr, _err) = start(listen, &args);
    let streams: Vec<Vec<u8>> =
        (0..4u32).map(|k| workload_for_agents(k * 1000, 100, 20_000, 20 + k as u64)).collect();
    let handles: Vec<_> = streams
        .iter()
        .enumerate()
        .map(|(k, d)| client(addr.clone(), d.clone(), [1000, 4096, 32, 70_000][k], false))
        .collect();
    for (k, h) in handles.into_iter().enumerate() {
        let got = h.join().unwrap();
        // Disjoint agents: each client gets exactly the records for its own stream, in order.
        let (want, _) = oracle(&streams[k]);
        assert_eq!(got.len(), want.len(), "client {k}");
        assert!(
            io_fields(&got) == io_fields(&want),
            "client {k}: decisions missing, foreign or out of order"
        );
    }
    let st = wait_deadline(&mut child, Duration::from_secs(30));
    assert!(st.success());
}

#[test]
fn unix_socket_concurrent_clients() {
    if !uring_available("serve unix") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tcapd.sock");
    concurrent_clients_get_exactly_their_decisions(&format!("unix:{}", path.display()), &[]);
    assert!(!path.exists(), "socket file removed at exit");
    // The one-receive-per-completion path, as on kernels without multishot receive.
    concurrent_clients_get_exactly_their_decisions(
        &format!("unix:{}", path.display()),
        &["--recv", "single"],
    );
}

#[test]
fn poll_fallback_unix_and_tcp_concurrent_clients() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("poll.sock");
    concurrent_clients_get_exactly_their_decisions(
        &format!("unix:{}", path.display()),
        &["--io", "blocking"],
    );
    concurrent_clients_get_exactly_their_decisions("tcp:127.0.0.1:0", &["--io", "blocking"]);
}

#[test]
fn serve_falls_back_to_poll_when_seccomp_refuses_io_uring() {
    let mut cmd = tcapd();
    cmd.args(["serve", "--listen", "tcp:127.0.0.1:0", "-q", "--exit-after", "2"]);
    deny_io_uring(&mut cmd);
    let ((mut child, addr, _), before) = start_cmd(cmd);
    assert_eq!(before.len(), 1, "{before:?}");
    assert!(before[0].contains("warning: io_uring unavailable") && before[0].contains("poll"), "{before:?}");
    let a = workload_for_agents(0, 30, 5_000, 60);
    let mut b = workload_for_agents(100, 30, 5_000, 61);
    let at = HEADER_LEN + 100 * EVENT_LEN;
    b[at + 30] = 1; // nonzero reserved byte
    let ha = client(addr.clone(), a.clone(), 777, false);
    let hb = client(addr, b.clone(), 777, false);
    assert!(io_fields(&ha.join().unwrap()) == io_fields(&oracle(&a).0));
    assert!(io_fields(&hb.join().unwrap()) == io_fields(&oracle(&b).0));
    assert!(wait_deadline(&mut child, Duration::from_secs(30)).success());
}

#[test]
fn tcp_loopback_concurrent_clients() {
    if !uring_available("serve tcp") {
        return;
    }
    concurrent_clients_get_exactly_their_decisions("tcp:127.0.0.1:0", &[]);
}

#[test]
fn bad_stream_closes_only_its_connection() {
    for m in serve_modes("serve bad stream (io_uring)") {
        bad_stream_closes_only_its_connection_with(m);
    }
}

/// The I/O paths of `serve`: poll with blocking sockets, and where io_uring is allowed its multishot
/// receives (the default) and its one-receive-per-completion fallback.
fn serve_modes(test: &str) -> Vec<&'static [&'static str]> {
    let mut modes: Vec<&'static [&'static str]> = vec![&["--io", "blocking"]];
    if uring_available(test) {
        modes.push(&["--io", "uring"]);
        modes.push(&["--io", "uring", "--recv", "single"]);
    }
    modes
}

fn bad_stream_closes_only_its_connection_with(io: &[&str]) {
    let mut args = vec!["--exit-after", "3"];
    args.extend_from_slice(io);
    let (mut child, addr, err) = start("tcp:127.0.0.1:0", &args);
    let good1 = workload_for_agents(0, 50, 10_000, 30);
    let good2 = workload_for_agents(1000, 50, 10_000, 31);
    let mut bad = workload_for_agents(2000, 50, 10_000, 32);
    let at = HEADER_LEN + 777 * EVENT_LEN;
    bad[at + 24] = 9; // unknown kind
    let hb = client(addr.clone(), bad.clone(), 5000, false);
    let h1 = client(addr.clone(), good1.clone(), 3000, false);
    let h2 = client(addr.clone(), good2.clone(), 3000, true);
    let got_bad = hb.join().unwrap();
    let (want_bad, e) = oracle(&bad);
    assert_eq!(e.unwrap().offset, at as u64);
    assert!(
        io_fields(&got_bad) == io_fields(&want_bad),
        "the bad client gets every decision before the bad record"
    );
    assert!(io_fields(&h1.join().unwrap()) == io_fields(&oracle(&good1).0), "other clients unaffected");
    assert!(io_fields(&h2.join().unwrap()) == io_fields(&oracle(&good2).0), "other clients unaffected");
    assert!(wait_deadline(&mut child, Duration::from_secs(30)).success());
    let lines: Vec<String> = err.try_iter().collect();
    let report = lines.iter().find(|l| l.contains("offset")).expect("an error report");
    assert!(report.contains(&format!("offset {at}")) && report.contains("unknown event kind 9"), "{report}");
    assert!(report.contains("tcp:127.0.0.1:"), "names the peer: {report}");
    assert_eq!(lines.iter().filter(|l| l.contains("offset")).count(), 1, "{lines:?}");
}

#[test]
fn slow_reader_gets_everything_under_backpressure() {
    for m in serve_modes("serve backpressure (io_uring)") {
        let dir = tempfile::tempdir().unwrap();
        let listen = format!("unix:{}", dir.path().join("s").display());
        let mut args = vec!["--exit-after", "1"];
        args.extend_from_slice(m);
        let (mut child, addr, _) = start(&listen, &args);
        // ~3 MB of decisions, far above the per-connection output cap, read slowly.
        let data = workload_for_agents(0, 200, 150_000, 40);
        let got = client(addr, data.clone(), 65536, true).join().unwrap();
        assert!(got == oracle(&data).0, "{m:?}: nothing dropped, nothing reordered");
        assert!(wait_deadline(&mut child, Duration::from_secs(30)).success());
    }
}

#[test]
fn sigterm_stops_serve_cleanly_and_snapshots() {
    if !uring_available("serve sigterm") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("st");
    let listen = format!("unix:{}", dir.path().join("s").display());
    let (mut child, addr, _) = start(&listen, &["--state", state.to_str().unwrap()]);
    let data = workload_for_agents(0, 20, 2_000, 50);
    let (want, _) = oracle(&data);
    // A client that sends a whole stream but keeps its connection open.
    let mut c = connect(&addr);
    c.write_all(&data).unwrap();
    let mut got = vec![0u8; want.len()];
    c.read_exact(&mut got).unwrap();
    assert!(got == want);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let st = wait_deadline(&mut child, Duration::from_secs(20));
    assert!(st.success());
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "closed after the flush");
    assert!(state.exists(), "state snapshotted at exit");
}

/// `tcapd bench --serve --low-latency --json`: both phases run against the real server and the latency
/// phase again against the echo peer; every batch of both is timed and the quantiles are ordered.
#[test]
fn bench_serve_times_the_server_and_its_peer() {
    if !uring_available("bench_serve_times_the_server_and_its_peer") {
        return;
    }
    let (st, out, err) =
        run_tcapd(&["bench", "--serve", "--events", "100000", "--low-latency", "--json"], None);
    assert!(st.success(), "{err}");
    let r: serde_json::Value = serde_json::from_slice(&out).unwrap();
    // --low-latency is held (root) or refused with one warning naming the device; never silent.
    let held = r["low_latency"].as_bool().unwrap();
    assert_eq!(held, !err.contains("--low-latency: /dev/cpu_dma_latency"), "{err}");
    let n = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k} missing in {r}"));
    assert_eq!(n("clients"), 4);
    assert_eq!(n("events"), 100_000);
    assert!(r["events_per_sec"].as_f64().unwrap() > 0.0);
    // 4 clients × 2,000 periods of 1 ms, one timed batch each.
    assert_eq!(n("batches"), 8_000);
    assert_eq!(n("offered_events_per_sec"), 100_000);
    for p in ["", "peer_"] {
        let q = |k: &str| n(&format!("{p}{k}"));
        assert!(q("p50_ns") > 0, "{p}p50");
        assert!(q("p50_ns") <= q("p99_ns") && q("p99_ns") <= q("p999_ns"), "{p} quantiles out of order: {r}");
        assert!(q("p999_ns") <= q("max_ns") * 9 / 8 + 1, "{p}p99.9 above the max: {r}");
    }
}
