//! Moving event streams through an [`Engine`]: io_uring, a blocking `read()`/`write()` loop, `mmap`.
//!
//! All paths share [`crate::stream::Decoder`], so they produce byte-identical decision streams; they
//! differ only in how bytes move.

pub mod blocking;
pub mod mmap;
pub mod uring;

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};

use crate::engine::Engine;
use crate::stats::Stats;
use crate::stream::StreamError;

/// Which I/O implementation to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum IoMode {
    /// io_uring when the kernel allows it, else the blocking loop (with one warning).
    Auto,
    /// io_uring or fail.
    Uring,
    /// Plain blocking `read()`/`write()`.
    Blocking,
}

/// Knobs shared by the I/O paths.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Bytes per read (rounded to a whole number of pages).
    pub batch: usize,
    /// Ask io_uring for a kernel submission-polling thread.
    pub sqpoll: bool,
    /// No progress lines.
    pub quiet: bool,
    /// Name of the input for messages (a path, `stdin`, a peer).
    pub source_name: String,
    /// Name of the output for messages.
    pub sink_name: String,
    /// io_uring submission queue entries (tests shrink it to exercise the full-queue path).
    pub sq_entries: u32,
    /// io_uring: most input buffers read ahead of decoding (1..=4).
    pub read_ahead: usize,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            batch: 512 << 10,
            sqpoll: false,
            quiet: true,
            source_name: "input".into(),
            sink_name: "output".into(),
            sq_entries: 64,
            read_ahead: 2,
        }
    }
}

/// How a run ended (I/O errors are the `Err` side).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// The input ended cleanly; every decision was written.
    Eof,
    /// SIGINT/SIGTERM: reading stopped, every decision for the input read so far was written.
    Stopped,
    /// The input was refused at some offset; every decision before it was written.
    BadInput(StreamError),
}

/// What a path is, for choosing read strategy and offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdKind {
    /// A regular file (positional reads/writes, several in flight).
    pub seekable: bool,
    /// Starting offset for positional I/O.
    pub start: u64,
}

/// Classifies `fd`: a regular file without `O_APPEND` is positional; pipes, sockets, ttys are streams.
pub fn fd_kind(fd: RawFd) -> FdKind {
    let st = crate::sys::fstat(fd);
    let regular = st.map(|s| (s.st_mode & libc::S_IFMT) == libc::S_IFREG).unwrap_or(false);
    // SAFETY: F_GETFL on a descriptor we hold has no memory effects.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    let append = flags >= 0 && flags & libc::O_APPEND != 0;
    if regular && !append {
        // SAFETY: lseek on a descriptor we hold has no memory effects.
        let pos = unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) };
        FdKind { seekable: pos >= 0, start: pos.max(0) as u64 }
    } else {
        FdKind { seekable: false, start: 0 }
    }
}

/// An input: a file, or stdin (`-`).
pub enum Source {
    /// A file or named pipe opened by path.
    File(File, PathBuf),
    /// Standard input.
    Stdin,
}

impl Source {
    /// Opens `path` (`-` = stdin).
    pub fn open(path: &Path) -> io::Result<Source> {
        if path == Path::new("-") {
            Ok(Source::Stdin)
        } else {
            File::open(path).map(|f| Source::File(f, path.to_path_buf()))
        }
    }
    /// The descriptor.
    pub fn fd(&self) -> RawFd {
        match self {
            Source::File(f, _) => f.as_raw_fd(),
            Source::Stdin => 0,
        }
    }
    /// Name for messages.
    pub fn name(&self) -> String {
        match self {
            Source::File(_, p) => p.display().to_string(),
            Source::Stdin => "stdin".into(),
        }
    }
}

/// An output: a file (created/truncated), or stdout (`-`).
pub enum Sink {
    /// A file opened by path.
    File(File, PathBuf),
    /// Standard output.
    Stdout,
}

impl Sink {
    /// Creates/truncates `path` (`-` = stdout). A FIFO is opened for writing without truncation.
    pub fn create(path: &Path) -> io::Result<Sink> {
        if path == Path::new("-") {
            Ok(Sink::Stdout)
        } else {
            let is_fifo = std::fs::metadata(path)
                .map(|m| std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type()))
                .unwrap_or(false);
            let f = if is_fifo {
                OpenOptions::new().write(true).open(path)?
            } else {
                OpenOptions::new().write(true).create(true).truncate(true).open(path)?
            };
            Ok(Sink::File(f, path.to_path_buf()))
        }
    }
    /// The descriptor.
    pub fn fd(&self) -> RawFd {
        match self {
            Sink::File(f, _) => f.as_raw_fd(),
            Sink::Stdout => 1,
        }
    }
    /// Name for messages.
    pub fn name(&self) -> String {
        match self {
            Sink::File(_, p) => p.display().to_string(),
            Sink::Stdout => "stdout".into(),
        }
    }
}

/// An I/O failure with what was being done.
#[derive(Debug)]
pub struct IoFailure {
    /// What (e.g. "read stdin").
    pub context: String,
    /// The error.
    pub error: io::Error,
}

impl std::fmt::Display for IoFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.context, self.error)
    }
}

impl std::error::Error for IoFailure {}

/// Runs `input` → `engine` → `output` with the chosen mode. With [`IoMode::Auto`], an io_uring that the
/// kernel refuses (ENOSYS, EPERM, …) falls back to the blocking loop with one warning on stderr.
/// `tick` is called with the engine between batches (periodic snapshots). Returns the end and the name
/// of the path actually used.
pub fn run<E: Engine>(
    mode: IoMode,
    input: RawFd,
    output: RawFd,
    engine: &mut E,
    cfg: &RunConfig,
    stats: &mut Stats,
    tick: &mut dyn FnMut(&E),
) -> Result<(RunEnd, &'static str), IoFailure> {
    match mode {
        IoMode::Blocking => {
            blocking::run(input, output, engine, cfg, stats, tick).map(|e| (e, "blocking read/write"))
        }
        IoMode::Uring | IoMode::Auto => match uring::run(input, output, engine, cfg, stats, tick) {
            Ok(e) => Ok((e, "io_uring")),
            Err(uring::UringError::Setup(err)) if mode == IoMode::Auto => {
                eprintln!(
                    "tcapd: warning: io_uring unavailable ({err}); falling back to blocking read()/write()"
                );
                blocking::run(input, output, engine, cfg, stats, tick).map(|e| (e, "blocking read/write"))
            }
            Err(uring::UringError::Setup(err)) => {
                Err(IoFailure { context: "io_uring setup (--io uring)".into(), error: err })
            }
            Err(uring::UringError::Io(f)) => Err(f),
        },
    }
}
