//! A full disk while snapshotting, with real kernel objects: a tiny tmpfs that holds one state file but
//! not a second (ENOSPC; needs CAP_SYS_ADMIN, skipped with a message otherwise) and a file-size limit set
//! with `setrlimit(RLIMIT_FSIZE)` in the child (EFBIG; always runs). In both cases `tcapd run` must write
//! every decision, report the failed snapshot with the path and the OS error and exit non-zero, and the
//! previous snapshot must stay byte-identical, loadable, and alone (no temp file left behind).
//!
//! SIGKILL during a snapshot is covered by `e2e_run::sigkill_mid_run_and_mid_snapshot_leaves_a_loadable_snapshot`.

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use tcap_driver::gate_engine::{GateEngine, GateOptions};
use tcap_driver::snapshot;

/// Small agent table: a state file is 32 + 4 + 1000 × 24 = 24,036 bytes (six pages).
const AGENTS: usize = 1000;

/// `tcapd run` from a file to a pipe with `--state`; `interval` between periodic snapshots ("0": only at
/// exit); `limit_fsize` sets RLIMIT_FSIZE in the child.
fn run_with_state(
    state: &Path,
    input: &[u8],
    interval: &str,
    limit_fsize: Option<u64>,
) -> (std::process::ExitStatus, Vec<u8>, String) {
    let dir = tempfile::tempdir().unwrap();
    let in_path = dir.path().join("events.bin");
    std::fs::write(&in_path, input).unwrap();
    let mut cmd: Command = tcapd();
    cmd.args(["run", "--in", s(&in_path), "--out", "-", "--state", s(state), "--max-agents", "1000"])
        .args(["--snapshot-interval", interval, "--batch", "4096", "-q"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(limit) = limit_fsize {
        // SAFETY: runs in the forked child before exec; setrlimit and signal are async-signal-safe and
        // take only values. SIGXFSZ ignored makes an oversized write fail with EFBIG instead of killing.
        unsafe {
            cmd.pre_exec(move || {
                let lim = libc::rlimit { rlim_cur: limit, rlim_max: limit };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0
                    || libc::signal(libc::SIGXFSZ, libc::SIG_IGN) == libc::SIG_ERR
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let child = cmd.spawn().unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status, out.stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Run 1 snapshots once, at exit; run 2 (with the caller's fault active) tries periodic snapshots every
/// millisecond and a final one, none of which can be written; checks all of the guarantees above.
fn previous_snapshot_survives(state_dir: &Path, limit_fsize: Option<u64>, os_error: &str) {
    let state = state_dir.join("agents.state");
    let w1 = workload(300, 4000, 31);
    let w2 = workload(300, 6000, 32);
    let mut oracle_engine =
        GateEngine::builtin(&GateOptions { max_agents: AGENTS, ..GateOptions::default() }).unwrap();
    let (want1, e1) = oracle_with(&w1, &mut oracle_engine);
    assert!(e1.is_none());
    let after1 = snapshot::encode(&oracle_engine);
    let (want2, e2) = oracle_with(&w2, &mut oracle_engine);
    assert!(e2.is_none());

    let (st, out, err) = run_with_state(&state, &w1, "0", None);
    assert!(st.success(), "run 1: {err}");
    assert!(out == want1);
    let good = std::fs::read(&state).unwrap();
    assert_eq!(good, after1, "run 1 left the state the oracle has after the same events");

    let (st, out, err) = run_with_state(&state, &w2, "0.001", limit_fsize);
    assert!(!st.success(), "a failed final snapshot is a failed run");
    assert_eq!(st.code(), Some(1), "I/O failure exit code: {err}");
    assert!(out == want2, "every decision is written although the snapshot failed");
    let last = err.lines().last().unwrap_or("");
    assert!(last.contains(&format!("snapshot to {}", state.display())), "context: {err}");
    assert!(last.contains(os_error), "OS error: {err}");

    assert_eq!(std::fs::read(&state).unwrap(), good, "the previous snapshot is untouched");
    let names: Vec<_> = std::fs::read_dir(state_dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["agents.state"], "no temporary file left behind");
    let mut e = GateEngine::builtin(&GateOptions { max_agents: AGENTS, ..GateOptions::default() }).unwrap();
    assert!(snapshot::load(&state, &mut e).unwrap(), "the previous snapshot loads");
    assert_eq!(snapshot::encode(&e), after1);
}

#[test]
fn enospc_on_a_full_tmpfs_keeps_the_previous_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    // 24 pages: one 16-page state file (1,000 agents × 64 B + headers) fits, a second one (the temp file
    // of the next snapshot) does not.
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=96k,mode=0700", "tcap-fault-tmpfs", s(&mnt)])
        .stderr(Stdio::piped())
        .output();
    match st {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            eprintln!(
                "skipping enospc_on_a_full_tmpfs_keeps_the_previous_snapshot: cannot mount a tmpfs ({})",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            return;
        }
        Err(e) => {
            eprintln!("skipping enospc_on_a_full_tmpfs_keeps_the_previous_snapshot: no mount(8) ({e})");
            return;
        }
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _guard = Unmount(&mnt);
    previous_snapshot_survives(&mnt, None, "No space left on device");
}

#[test]
fn efbig_under_a_file_size_limit_keeps_the_previous_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    // The limit is below one state file; decisions go to a pipe, which the limit does not cover.
    previous_snapshot_survives(dir.path(), Some(8192), "File too large");
}
