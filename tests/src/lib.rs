//! Shared helpers for tcap's integration tests.

use std::path::PathBuf;

/// The shared data folder (`../shared/data` beside the repository, or `$TCAP_SHARED_DATA` when set, e.g.
/// from a git worktree elsewhere), if present.
///
/// Tests that need the real upstream corpus call this and skip, with a message, when it is absent (a
/// user's fresh clone); in CI it is always present.
pub fn shared_data() -> Option<PathBuf> {
    let dir = match std::env::var_os("TCAP_SHARED_DATA") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
    };
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: {} is absent", dir.display());
        None
    }
}
