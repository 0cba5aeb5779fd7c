//! End-to-end tests of `tcapd run`: real files, pipes and signals, through the built binary.

mod common;

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tcap_core::wire::record::{EVENT_LEN, HEADER_LEN};

const MODES: [&str; 2] = ["uring", "blocking"];

fn modes(test: &str) -> Vec<&'static str> {
    MODES.iter().copied().filter(|m| *m != "uring" || uring_available(test)).collect()
}

#[test]
fn file_to_file_matches_oracle_in_both_modes() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("ev.bin");
    // Several batches plus a partial one, with a small batch to force many reads.
    let data = workload(300, 60_000, 3);
    std::fs::write(&input, &data).unwrap();
    let (want, err) = oracle(&data);
    assert!(err.is_none());
    for m in modes("file_to_file uring") {
        for batch in ["4096", "65536", "524288"] {
            let out = dir.path().join(format!("out-{m}-{batch}.bin"));
            let (st, _, stderr) = run_tcapd(
                &["run", "--in", s(&input), "--out", s(&out), "--io", m, "--batch", batch, "-q"],
                None,
            );
            assert!(st.success(), "{m} {batch}: {stderr}");
            assert_eq!(std::fs::read(&out).unwrap(), want, "{m} batch {batch}");
        }
    }
}

#[test]
fn stdin_to_stdout_pipe_matches_oracle() {
    let data = workload(100, 30_000, 4);
    let (want, _) = oracle(&data);
    for m in modes("pipe uring") {
        let (st, out, stderr) =
            run_tcapd(&["run", "--in", "-", "--out", "-", "--io", m, "-q"], Some(data.clone()));
        assert!(st.success(), "{m}: {stderr}");
        assert_eq!(out.len(), want.len(), "{m}");
        assert!(out == want, "{m}: pipe output differs from the oracle");
    }
}

#[test]
fn fifo_in_and_out() {
    if !uring_available("fifo") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fin = dir.path().join("in.fifo");
    let fout = dir.path().join("out.fifo");
    nix::unistd::mkfifo(&fin, nix::sys::stat::Mode::S_IRWXU).unwrap();
    nix::unistd::mkfifo(&fout, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let data = workload(50, 10_000, 5);
    let (want, _) = oracle(&data);
    let mut child = tcapd()
        .args(["run", "--in", s(&fin), "--out", s(&fout), "-q"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let fin2 = fin.clone();
    let w = std::thread::spawn(move || {
        std::fs::OpenOptions::new().write(true).open(fin2).unwrap().write_all(&data)
    });
    let mut got = Vec::new();
    std::fs::File::open(&fout).unwrap().read_to_end(&mut got).unwrap();
    w.join().unwrap().unwrap();
    assert!(wait_deadline(&mut child, Duration::from_secs(30)).success());
    assert!(got == want, "fifo output differs");
}

#[test]
fn bad_inputs_report_offset_and_exit_3_after_writing_what_they_could() {
    let dir = tempfile::tempdir().unwrap();
    let good = workload(20, 2_000, 6);
    let rec = |i: usize| HEADER_LEN + i * EVENT_LEN;
    let mut cases: Vec<(&str, Vec<u8>, u64, &str)> = Vec::new();
    // Truncated record at the end of the stream.
    cases.push(("truncated", good[..good.len() - 7].to_vec(), rec(1999) as u64, "ends inside record 1999"));
    // Wrong magic.
    let mut m = good.clone();
    m[1..7].copy_from_slice(b"NOTCAP");
    cases.push(("magic", m, 0, "bad magic"));
    // A decision stream handed in as events.
    let mut d = good.clone();
    d[..HEADER_LEN].copy_from_slice(&tcap_core::wire::record::StreamHeader::DECISIONS.to_bytes());
    cases.push(("decision stream", d, 0, "this is a decision stream"));
    // Wrong version.
    let mut v = good.clone();
    v[8] = 7;
    cases.push(("version", v, 0, "unsupported stream version 7"));
    // Garbage in the middle: record 1234 overwritten.
    let mut g = good.clone();
    g[rec(1234)..rec(1235)].copy_from_slice(&[0xA5; 32]);
    cases.push(("garbage", g, rec(1234) as u64, "record 1234"));
    // Truncated header.
    cases.push(("short header", good[..9].to_vec(), 0, "inside the header"));
    for (name, bytes, offset, reason) in cases {
        let input = dir.path().join(format!("{name}.bin"));
        std::fs::write(&input, &bytes).unwrap();
        let (want, err) = oracle(&bytes);
        let err = err.expect("the oracle refuses it too");
        assert_eq!(err.offset, offset, "{name}");
        for m in modes("bad inputs uring") {
            let out = dir.path().join(format!("{name}-{m}.out"));
            let (st, _, stderr) =
                run_tcapd(&["run", "--in", s(&input), "--out", s(&out), "--io", m, "-q"], None);
            assert_eq!(st.code(), Some(3), "{name} {m}: {stderr}");
            let needle = format!("{}: offset {offset}: ", input.display());
            assert!(stderr.contains(&needle), "{name} {m}: {stderr:?} lacks {needle:?}");
            assert!(stderr.contains(reason), "{name} {m}: {stderr:?} lacks {reason:?}");
            assert_eq!(std::fs::read(&out).unwrap(), want, "{name} {m}: decisions before the bad record");
        }
        // Same through a pipe.
        let (st, out, stderr) = run_tcapd(&["run", "--in", "-", "--out", "-", "-q"], Some(bytes.clone()));
        assert_eq!(st.code(), Some(3), "{name} pipe: {stderr}");
        assert!(stderr.contains(&format!("stdin: offset {offset}: ")), "{name} pipe: {stderr}");
        assert!(out == want, "{name} pipe output");
    }
}

#[test]
fn state_carries_across_runs_and_bad_state_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("agents.state");
    let data = workload(40, 20_000, 8);
    let split = HEADER_LEN + 9_000 * EVENT_LEN;
    let part1 = data[..split].to_vec();
    let mut part2 = header_only();
    part2.extend_from_slice(&data[split..]);
    let (p1, p2) = (dir.path().join("p1.bin"), dir.path().join("p2.bin"));
    std::fs::write(&p1, &part1).unwrap();
    std::fs::write(&p2, &part2).unwrap();
    let (o1, o2) = (dir.path().join("o1.bin"), dir.path().join("o2.bin"));
    let (st, _, e) = run_tcapd(&["run", "--in", s(&p1), "--out", s(&o1), "--state", s(&state), "-q"], None);
    assert!(st.success(), "{e}");
    let (st, _, e) = run_tcapd(&["run", "--in", s(&p2), "--out", s(&o2), "--state", s(&state), "-q"], None);
    assert!(st.success(), "{e}");
    // Two runs with state in between decide exactly like one run over the whole stream.
    let (whole, _) = oracle(&data);
    let mut joined = std::fs::read(&o1).unwrap();
    joined.extend_from_slice(&std::fs::read(&o2).unwrap()[HEADER_LEN..]);
    assert!(joined == whole, "state did not carry over");
    // Without the state the second half decides differently (the state matters).
    let (fresh, _) = oracle(&part2);
    assert_ne!(fresh, std::fs::read(&o2).unwrap());

    // Corrupt state: refused with the file and the reason, exit 4, nothing written.
    let mut bytes = std::fs::read(&state).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 0x40;
    std::fs::write(&state, &bytes).unwrap();
    let out = dir.path().join("o3.bin");
    let (st, _, e) = run_tcapd(&["run", "--in", s(&p2), "--out", s(&out), "--state", s(&state)], None);
    assert_eq!(st.code(), Some(4), "{e}");
    assert!(e.contains(&format!("state file {}", state.display())) && e.contains("checksum"), "{e}");
    std::fs::write(&state, b"TCAPSNAP\x02\0\0\0").unwrap();
    let (st, _, e) = run_tcapd(&["run", "--in", s(&p2), "--out", s(&out), "--state", s(&state)], None);
    assert_eq!(st.code(), Some(4), "{e}");
    assert!(e.contains("truncated"), "{e}");
    let (st, _, e) = run_tcapd(
        &["run", "--in", s(&p2), "--out", s(&out), "--state", s(&state), "--max-agents", "10"],
        None,
    );
    assert_eq!(st.code(), Some(4), "{e}");
    // --discard-state starts fresh and replaces the bad file.
    let (st, _, e) = run_tcapd(
        &["run", "--in", s(&p2), "--out", s(&out), "--state", s(&state), "--discard-state", "-q"],
        None,
    );
    assert!(st.success(), "{e}");
    assert_eq!(std::fs::read(&out).unwrap(), fresh);
    let (st, _, e) = run_tcapd(&["run", "--in", s(&p2), "--out", s(&out), "--state", s(&state), "-q"], None);
    assert!(st.success(), "the replaced state loads: {e}");
}

/// Spawns `tcapd run` on a pipe, feeds `data`, waits until `want_bytes` of decisions arrived.
fn spawn_fed(args: &[&str], data: &[u8], want_bytes: usize) -> (std::process::Child, Vec<u8>) {
    let mut child = tcapd()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.as_mut().unwrap().write_all(data).unwrap();
    let mut got = vec![0u8; want_bytes];
    child.stdout.as_mut().unwrap().read_exact(&mut got).unwrap();
    (child, got)
}

#[test]
fn sigterm_drains_flushes_and_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("st");
    let data = workload(30, 5_000, 9);
    let (want, _) = oracle(&data);
    for m in modes("sigterm uring") {
        let _ = std::fs::remove_file(&state);
        // stdin stays open: tcapd is blocked reading when the signal arrives.
        let (mut child, got) = spawn_fed(
            &["run", "--in", "-", "--out", "-", "--io", m, "--state", s(&state)],
            &data,
            want.len(),
        );
        assert!(got == want, "{m}: decisions before the signal");
        kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
        let st = wait_deadline(&mut child, Duration::from_secs(20));
        let mut rest = Vec::new();
        child.stdout.take().unwrap().read_to_end(&mut rest).unwrap();
        let mut err = String::new();
        child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        assert!(st.success(), "{m}: {st:?} {err}");
        assert!(rest.is_empty(), "{m}: nothing after the flushed decisions");
        assert!(err.contains("stopped by signal"), "{m}: {err}");
        assert!(err.contains("batch latency"), "{m}: the exit report is printed: {err}");
        // The snapshot taken at exit continues the stream exactly.
        let more = workload(30, 2_000, 10);
        let inp = dir.path().join("more.bin");
        let out = dir.path().join("more.out");
        std::fs::write(&inp, &more).unwrap();
        let (st, _, e) =
            run_tcapd(&["run", "--in", s(&inp), "--out", s(&out), "--state", s(&state), "-q"], None);
        assert!(st.success(), "{e}");
        let mut engine = default_engine();
        let _ = oracle_with(&data, &mut engine);
        let (want_more, _) = oracle_with(&more, &mut engine);
        assert!(std::fs::read(&out).unwrap() == want_more, "{m}: restored state differs");
    }
}

#[test]
fn sigusr1_prints_counters_and_latency() {
    if !uring_available("sigusr1") {
        return;
    }
    let data = workload(10, 1_000, 11);
    let (want, _) = oracle(&data);
    let (mut child, _) = spawn_fed(&["run", "--in", "-", "--out", "-", "-q"], &data, want.len());
    kill(Pid::from_raw(child.id() as i32), Signal::SIGUSR1).unwrap();
    // Nudge the loop: the report is printed between batches.
    std::thread::sleep(Duration::from_millis(200));
    drop(child.stdin.take());
    let st = wait_deadline(&mut child, Duration::from_secs(20));
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(st.success());
    assert!(err.contains("1000 events") && err.contains("p99"), "{err}");
}

#[test]
fn sigkill_mid_run_and_mid_snapshot_leaves_a_loadable_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("big.state");
    // 200k agents: each snapshot is ~4.8 MB and takes a while to write and fsync, so kills land inside
    // snapshot writes as well as between them.
    let cap = "200000";
    let data = workload(1000, 200_000, 12);
    let empty = dir.path().join("empty.bin");
    std::fs::write(&empty, header_only()).unwrap();
    let (mut kills, mut saw_tmp) = (0, false);
    let t0 = Instant::now();
    let mut rng = tcap_driver::workload::Rng::new(99);
    for i in 0..10u64 {
        let mut child = tcapd()
            .args(["run", "--in", "-", "--out", "/dev/null", "--state", s(&state), "--max-agents", cap])
            .args(["--snapshot-interval", "0.001", "-q", "--batch", "4096"])
            .stdin(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut w = child.stdin.take().unwrap();
        let d = data.clone();
        let feeder = std::thread::spawn(move || {
            for c in d.chunks(8192) {
                if w.write_all(c).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        });
        if i == 0 {
            // Let the first process complete at least one snapshot.
            let t = Instant::now();
            while !state.exists() && t.elapsed() < Duration::from_secs(30) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        std::thread::sleep(Duration::from_millis(20 + rng.below(400)));
        saw_tmp |= std::fs::read_dir(dir.path())
            .unwrap()
            .any(|e| e.unwrap().file_name().to_string_lossy().contains(".tmp"));
        kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
        let st = wait_deadline(&mut child, Duration::from_secs(10));
        assert_eq!(st.code(), None, "killed by a signal");
        kills += 1;
        feeder.join().unwrap();
        assert!(state.exists(), "a snapshot completed before kill #{i}");
        let (st, _, e) = run_tcapd(
            &[
                "run",
                "--in",
                s(&empty),
                "--out",
                "/dev/null",
                "--state",
                s(&state),
                "--max-agents",
                cap,
                "-q",
            ],
            None,
        );
        assert!(st.success(), "after SIGKILL #{i} the last snapshot must load: {e}");
        if t0.elapsed() > Duration::from_secs(40) {
            break;
        }
    }
    assert!(kills >= 3);
    let leftovers = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains(".tmp"));
    assert_eq!(leftovers.count(), 0, "stale temp files of killed processes are cleaned at start");
    eprintln!("sigkill test: {kills} kills, temp file observed mid-snapshot: {saw_tmp}");
}

#[test]
fn uring_forced_and_blocking_agree_with_fallback_warning_absent() {
    if !uring_available("agree") {
        return;
    }
    let data = workload(64, 8_000, 13);
    let (a_st, a, a_err) =
        run_tcapd(&["run", "--in", "-", "--out", "-", "--io", "uring"], Some(data.clone()));
    let (b_st, b, b_err) = run_tcapd(&["run", "--in", "-", "--out", "-", "--io", "blocking"], Some(data));
    assert!(a_st.success() && b_st.success());
    assert!(a == b, "io_uring and blocking outputs differ");
    assert!(a_err.contains("via io_uring"), "{a_err}");
    assert!(b_err.contains("via blocking"), "{b_err}");
    assert!(!a_err.contains("warning"), "{a_err}");
}

#[test]
fn help_has_examples() {
    let (st, out, _) = run_tcapd(&["--help"], None);
    assert!(st.success());
    let out = String::from_utf8(out).unwrap();
    for needle in ["Examples:", "tcapd run", "tcapd serve", "Exit codes", "SIGUSR1"] {
        assert!(out.contains(needle), "--help lacks {needle}");
    }
    let (st, _, err) = run_tcapd(&["run", "--in", "x"], None);
    assert_eq!(st.code(), Some(2), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("ev.bin");
    let data = workload(5, 100, 1);
    std::fs::write(&input, &data).unwrap();
    let (st, _, err) = run_tcapd(&["run", "--in", s(&input), "--out", s(&input)], None);
    assert_eq!(st.code(), Some(2), "{err}");
    assert!(err.contains("is the input file"), "{err}");
    assert_eq!(std::fs::read(&input).unwrap(), data, "input untouched");
    let (st, _, err) = run_tcapd(&["run", "--in", s(&input), "--out", "/dev/null", "--cpu", "0", "-q"], None);
    assert!(st.success(), "{err}");
    let (st, _, err) = run_tcapd(&["run", "--in", s(&input), "--out", "/dev/null", "--cpu", "4095"], None);
    assert_eq!(st.code(), Some(1));
    assert!(err.contains("--cpu 4095"), "{err}");
    let (st, _, err) =
        run_tcapd(&["run", "--in", s(&dir.path().join("missing")), "--out", "/dev/null"], None);
    assert_eq!(st.code(), Some(1));
    assert!(err.contains("open ") && err.contains("missing"), "{err}");
}

#[test]
fn auto_falls_back_with_one_warning_when_seccomp_refuses_io_uring() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("ev.bin");
    let data = workload(50, 5_000, 14);
    std::fs::write(&input, &data).unwrap();
    let (want, _) = oracle(&data);
    let out = dir.path().join("out.bin");
    let mut cmd = tcapd();
    cmd.args(["run", "--in", s(&input), "--out", s(&out)]).stderr(Stdio::piped());
    deny_io_uring(&mut cmd);
    let child = cmd.spawn().unwrap();
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(err.matches("warning").count(), 1, "exactly one warning: {err}");
    assert!(err.contains("io_uring unavailable") && err.contains("falling back"), "{err}");
    assert!(err.contains("via blocking"), "{err}");
    assert!(std::fs::read(&out).unwrap() == want);
    // --io uring refuses instead of falling back.
    let mut cmd = tcapd();
    cmd.args(["run", "--in", s(&input), "--out", s(&out), "--io", "uring"]).stderr(Stdio::piped());
    deny_io_uring(&mut cmd);
    let o = cmd.spawn().unwrap().wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("io_uring setup"));
}

#[test]
fn registry_file_is_used_and_bad_images_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("reg.img");
    std::fs::write(&img, tcap_core::registry::builtin_image()).unwrap();
    let data = workload(20, 3_000, 70);
    let (want, _) = oracle(&data);
    let (st, out, e) =
        run_tcapd(&["run", "--in", "-", "--out", "-", "-q", "--registry", s(&img)], Some(data.clone()));
    assert!(st.success(), "{e}");
    assert!(out == want, "the built-in image loaded from a file decides like the built-in registry");
    // An empty registry: every command is unknown, so nothing is allowed.
    let empty = tcap_core::registry::Builder::new().build().unwrap();
    std::fs::write(&img, &empty).unwrap();
    let (st, out, e) =
        run_tcapd(&["run", "--in", "-", "--out", "-", "-q", "--registry", s(&img)], Some(data.clone()));
    assert!(st.success(), "{e}");
    let mut n = 0;
    tcap_core::wire::record::parse_decisions(&out[HEADER_LEN..], |d| {
        n += 1;
        assert_ne!(
            d.decision,
            tcap_core::wire::record::Decision::Allow,
            "unknown commands are never allowed"
        );
    })
    .unwrap();
    assert_eq!(n, (want.len() - HEADER_LEN) / 32);
    // A corrupt image is refused before anything is read.
    let mut bad = tcap_core::registry::builtin_image().to_vec();
    let k = bad.len() / 2;
    bad[k] ^= 0x55;
    std::fs::write(&img, &bad).unwrap();
    let (st, out, e) = run_tcapd(&["run", "--in", "-", "--out", "-", "--registry", s(&img)], Some(data));
    assert_eq!(st.code(), Some(1), "{e}");
    assert!(out.is_empty());
    assert!(e.contains("--registry") && e.contains("not a valid registry image"), "{e}");
}

#[test]
fn agents_beyond_capacity_are_denied_and_reported() {
    let data = workload(50, 2_000, 71);
    let (st, out, e) = run_tcapd(&["run", "--in", "-", "--out", "-", "--max-agents", "10"], Some(data));
    assert!(st.success(), "{e}");
    let (mut denied, mut beyond) = (0, 0);
    tcap_core::wire::record::parse_decisions(&out[HEADER_LEN..], |d| {
        if d.agent >= 10 {
            beyond += 1;
            denied += (d.decision == tcap_core::wire::record::Decision::Deny
                && d.reasons == tcap_driver::gate_engine::REASON_AGENT_OUT_OF_RANGE)
                as u32;
        }
    })
    .unwrap();
    assert!(beyond > 100 && denied == beyond, "{denied} of {beyond}");
    assert!(e.contains(&format!("gate: {beyond} calls for agents beyond capacity 10 denied")), "{e}");
}
