//! The subcommands' arguments and implementations (the binary's `main.rs` only lists them).

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::engine::Engine;
use crate::gate_engine::{GateEngine, GateOptions};
use crate::io::{self as dio, IoFailure, IoMode, RunConfig, RunEnd, Sink, Source};
use crate::serve::{self, Listen, ServeConfig};
use crate::snapshot;
use crate::stats::Stats;
use crate::sys;
use crate::workload::{self, Truth, Workload};

/// Process exit codes (stable; scripts and tests rely on them).
pub mod exit {
    /// Success (also after a clean SIGINT/SIGTERM drain).
    pub const OK: u8 = 0;
    /// An I/O or setup failure.
    pub const FAILURE: u8 = 1;
    /// Bad command line (clap's own code).
    pub const USAGE: u8 = 2;
    /// The input stream was refused (bad header, bad record, truncated); every decision before the bad
    /// record was written.
    pub const BAD_INPUT: u8 = 3;
    /// The state file was refused (corrupt or incompatible); nothing was processed.
    pub const BAD_STATE: u8 = 4;
}

/// A command failure: a message and an exit code.
#[derive(Debug)]
pub struct CliError {
    /// Exit code.
    pub code: u8,
    /// Message (printed as `tcapd: <message>`).
    pub message: String,
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<IoFailure> for CliError {
    fn from(e: IoFailure) -> Self {
        CliError { code: exit::FAILURE, message: e.to_string() }
    }
}

fn failure(message: impl Into<String>) -> CliError {
    CliError { code: exit::FAILURE, message: message.into() }
}

fn io_ctx<T>(r: io::Result<T>, what: impl FnOnce() -> String) -> Result<T, CliError> {
    r.map_err(|e| failure(format!("{}: {e}", what())))
}

/// Result of a subcommand.
pub type CliResult = Result<ExitCode, CliError>;

/// Options shared by the commands that run an engine.
#[derive(Args, Debug, Clone)]
pub struct EngineArgs {
    /// Registry image (from `tcapd registry build`; default: the built-in registry). Validated in full
    /// at start; a bad image is refused.
    #[arg(long, value_name = "FILE")]
    pub registry: Option<PathBuf>,
    /// Feed the (agent, command) burst sketch (one-minute ticks) into the gate as evidence.
    #[arg(long, value_enum, default_value = "off", value_name = "on|off")]
    pub sketch: Switch,
    /// Agent ids the engine can hold (ids beyond are denied).
    #[arg(long, default_value_t = 65_536, value_name = "N")]
    pub max_agents: usize,
    /// Restore engine state from FILE at start (if it exists) and snapshot it there atomically every
    /// --snapshot-interval seconds and at exit.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Seconds between periodic snapshots (0 = only at exit).
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub snapshot_interval: f64,
    /// Ignore an existing state file (it is overwritten at the next snapshot).
    #[arg(long)]
    pub discard_state: bool,
}

/// Options shared by the I/O commands.
#[derive(Args, Debug, Clone)]
pub struct IoArgs {
    /// I/O implementation.
    #[arg(long = "io", value_enum, default_value = "auto")]
    pub io: IoMode,
    /// No progress lines and no exit report on stderr (errors are still printed).
    #[arg(long, short)]
    pub quiet: bool,
    /// Pin the process to this CPU.
    #[arg(long, value_name = "N")]
    pub cpu: Option<usize>,
    /// Ask io_uring for a kernel submission-polling thread (falls back with a warning if refused).
    #[arg(long)]
    pub sqpoll: bool,
    /// Hold a 0 µs CPU wake-up latency request (/dev/cpu_dma_latency) while running: idle CPUs poll
    /// instead of halting, which removes the wake-up tail of decisions on VMs and power-saving hosts,
    /// machine-wide, at the cost of power (needs root; falls back with a warning).
    #[arg(long)]
    pub low_latency: bool,
    /// Bytes per read (at least 4096; default 512 KiB).
    #[arg(long, default_value_t = 512 << 10, value_name = "BYTES")]
    pub batch: usize,
}

/// An on/off option.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switch {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

impl Switch {
    /// Whether it is on.
    pub fn on(self) -> bool {
        self == Switch::On
    }
}

/// Builds the product engine: the gate over `--registry` (or the built-in registry) with `--max-agents`
/// agent slots and the sketch per `--sketch`.
pub fn make_engine(args: &EngineArgs) -> Result<GateEngine, CliError> {
    let registry = match &args.registry {
        Some(p) => crate::gate_engine::load_registry(p).map_err(failure)?,
        None => tcap_core::registry::builtin(),
    };
    let opts =
        GateOptions { max_agents: args.max_agents, sketch: args.sketch.on(), ..GateOptions::default() };
    GateEngine::new(registry, &opts).map_err(|e| failure(format!("gate: {e}")))
}

/// Restores state per `--state`/`--discard-state`.
pub fn restore_state<E: Engine>(args: &EngineArgs, engine: &mut E, quiet: bool) -> Result<(), CliError> {
    let Some(path) = &args.state else { return Ok(()) };
    if args.discard_state {
        if !quiet {
            eprintln!("tcapd: --discard-state: starting fresh (will overwrite {})", path.display());
        }
        return Ok(());
    }
    match snapshot::load(path, engine) {
        Ok(true) => {
            if !quiet {
                eprintln!("tcapd: restored state from {}", path.display());
            }
            Ok(())
        }
        Ok(false) => Ok(()),
        Err(e) => Err(CliError {
            code: exit::BAD_STATE,
            message: format!(
                "state file {}: {e}; refusing to start (use --discard-state to start fresh)",
                path.display()
            ),
        }),
    }
}

/// The periodic snapshotter for `--state` / `--snapshot-interval`.
pub fn snapshotter(args: &EngineArgs) -> snapshot::Snapshotter {
    let interval = (args.snapshot_interval > 0.0).then(|| Duration::from_secs_f64(args.snapshot_interval));
    snapshot::Snapshotter::new(args.state.clone(), interval)
}

fn final_snapshot<E: Engine>(
    args: &EngineArgs,
    snap: &mut snapshot::Snapshotter,
    engine: &E,
) -> Result<(), CliError> {
    let r = snap.finish(engine);
    io_ctx(r, || format!("snapshot to {}", args.state.as_deref().unwrap_or(Path::new("?")).display()))
}

/// `--low-latency`: the held request (dropped on exit), or `None` with one warning when the device is
/// missing or not writable.
pub(crate) fn apply_low_latency(on: bool) -> Option<sys::CpuLatencyHold> {
    if !on {
        return None;
    }
    match sys::hold_cpu_latency(0) {
        Ok(h) => Some(h),
        Err(e) => {
            eprintln!(
                "tcapd: warning: --low-latency: {}: {e}; continuing without it (CPUs may halt when idle)",
                sys::CPU_DMA_LATENCY
            );
            None
        }
    }
}

fn apply_cpu(cpu: Option<usize>) -> Result<(), CliError> {
    if let Some(c) = cpu {
        io_ctx(sys::set_affinity(c), || format!("--cpu {c}"))?;
    }
    Ok(())
}

fn install_signals() -> Result<(), CliError> {
    io_ctx(sys::install_signal_handlers(), || "installing signal handlers".into())
}

// ---------------------------------------------------------------------------------------------------------

/// `tcapd run`: an event stream in, a decision stream out.
#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:
  tcapd run --in events.bin --out decisions.bin
  producer | tcapd run --in - --out - --quiet | consumer
  tcapd run --in events.bin --out decisions.bin --state agents.state --snapshot-interval 10
  tcapd run --in events.bin --out /dev/null --io blocking --cpu 1

Exit codes: 0 ok (also after SIGINT/SIGTERM), 1 I/O failure, 2 usage, 3 bad input stream
(reported as `SOURCE: offset N: reason`, after every decision before it was written), 4 bad state file.")]
pub struct RunArgs {
    /// Event stream to read: a file, a FIFO, or `-` for stdin.
    #[arg(long = "in", value_name = "PATH|-")]
    pub input: PathBuf,
    /// Decision stream to write: a file (truncated), a FIFO, or `-` for stdout.
    #[arg(long = "out", value_name = "PATH|-")]
    pub output: PathBuf,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub engine: EngineArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub io: IoArgs,
}

impl RunArgs {
    /// Runs the command.
    pub fn exec(self) -> CliResult {
        let mut engine = make_engine(&self.engine)?;
        self.exec_with(&mut engine)
    }

    /// Runs the command with a given engine.
    pub fn exec_with<E: Engine>(self, engine: &mut E) -> CliResult {
        install_signals()?;
        apply_cpu(self.io.cpu)?;
        let _qos = apply_low_latency(self.io.low_latency);
        restore_state(&self.engine, engine, self.io.quiet)?;
        let src = io_ctx(Source::open(&self.input), || format!("open {}", self.input.display()))?;
        if let (Ok(a), Ok(b)) = (std::fs::metadata(&self.input), std::fs::metadata(&self.output)) {
            use std::os::unix::fs::MetadataExt;
            if a.dev() == b.dev() && a.ino() == b.ino() && a.is_file() {
                return Err(CliError {
                    code: exit::USAGE,
                    message: format!(
                        "--out {} is the input file; refusing to overwrite it",
                        self.output.display()
                    ),
                });
            }
        }
        let sink = io_ctx(Sink::create(&self.output), || format!("create {}", self.output.display()))?;
        let cfg = RunConfig {
            batch: self.io.batch.max(4096),
            sqpoll: self.io.sqpoll,
            quiet: self.io.quiet,
            source_name: src.name(),
            sink_name: sink.name(),
            ..RunConfig::default()
        };
        let mut stats = Stats::new();
        let mut snap = snapshotter(&self.engine);
        let (end, path) =
            dio::run(self.io.io, src.fd(), sink.fd(), engine, &cfg, &mut stats, &mut |e: &E| snap.tick(e))?;
        final_snapshot(&self.engine, &mut snap, engine)?;
        if !self.io.quiet {
            eprintln!("{}", stats.report(path));
        }
        if let Some(r) = engine.report() {
            eprintln!("tcapd: {r}");
        }
        match end {
            RunEnd::Eof => Ok(ExitCode::SUCCESS),
            RunEnd::Stopped => {
                if !self.io.quiet {
                    eprintln!("tcapd: stopped by signal; every decision for the input read was written");
                }
                Ok(ExitCode::SUCCESS)
            }
            RunEnd::BadInput(e) => {
                Err(CliError { code: exit::BAD_INPUT, message: format!("{}: {e}", cfg.source_name) })
            }
        }
    }
}

/// `tcapd serve`: event streams from many clients, decisions back on the same connections.
#[derive(Args, Debug, Clone)]
#[command(after_help = "Examples:
  tcapd serve --listen unix:/run/tcapd.sock --state agents.state
  tcapd serve --listen tcp:127.0.0.1:0        # prints the port it bound

Each connection sends one event stream (header + records) and receives its decision stream, in
order, on the same connection. A bad stream closes only that connection (after its decisions) and is
reported on stderr as `PEER: offset N: reason`.")]
pub struct ServeArgs {
    /// Where to listen: `unix:PATH` or `tcp:HOST:PORT` (port 0 picks one; the address is printed).
    #[arg(long, value_name = "unix:PATH|tcp:HOST:PORT")]
    pub listen: Listen,
    /// Most concurrent connections.
    #[arg(long, default_value_t = 1024)]
    pub max_conns: usize,
    /// Exit after this many connections have closed (for scripts and benchmarks).
    #[arg(long, value_name = "N")]
    pub exit_after: Option<u64>,
    /// io_uring receives: `multishot` (one submission per connection, into a ring of provided buffers
    /// shared by all connections; falls back to `single` on kernels without it) or `single` (one
    /// receive per completion into a per-connection buffer).
    #[arg(long, default_value = "multishot", value_parser = ["multishot", "single"])]
    pub recv: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub engine: EngineArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub io: IoArgs,
}

impl ServeArgs {
    /// Runs the command.
    pub fn exec(self) -> CliResult {
        let mut engine = make_engine(&self.engine)?;
        self.exec_with(&mut engine)
    }

    /// Runs the command with a given engine.
    pub fn exec_with<E: Engine>(self, engine: &mut E) -> CliResult {
        install_signals()?;
        apply_cpu(self.io.cpu)?;
        let _qos = apply_low_latency(self.io.low_latency);
        let use_uring = match (self.io.io, crate::io::uring::features()) {
            (IoMode::Blocking, _) => false,
            (_, Ok(_)) => true,
            (IoMode::Auto, Err(e)) => {
                eprintln!(
                    "tcapd: warning: io_uring unavailable ({e}); falling back to poll() and blocking sockets"
                );
                false
            }
            (IoMode::Uring, Err(e)) => return Err(failure(format!("io_uring setup (--io uring): {e}"))),
        };
        restore_state(&self.engine, engine, self.io.quiet)?;
        let (listener, name) = io_ctx(serve::bind(&self.listen), || format!("listen on {:?}", self.listen))?;
        // Always printed (tests and scripts read the bound port from it).
        eprintln!("tcapd: listening on {name}");
        let cfg = ServeConfig {
            max_conns: self.max_conns.max(1),
            quiet: self.io.quiet,
            sqpoll: self.io.sqpoll,
            exit_after: self.exit_after,
            recv_multishot: self.recv == "multishot",
            ..ServeConfig::default()
        };
        let mut stats = Stats::new();
        let mut snap = snapshotter(&self.engine);
        let mut hook = |e: &E| snap.tick(e);
        let r = if use_uring {
            serve::serve(listener, &name, engine, &cfg, &mut stats, &mut hook).map(|_| ())
        } else {
            crate::serve_poll::serve(listener, &name, engine, &cfg, &mut stats, &mut hook)
        };
        if let Listen::Unix(p) = &self.listen {
            let _ = std::fs::remove_file(p);
        }
        r?;
        final_snapshot(&self.engine, &mut snap, engine)?;
        if !self.io.quiet {
            eprintln!("{}", stats.report(if use_uring { "io_uring serve" } else { "poll serve" }));
        }
        if let Some(r) = engine.report() {
            eprintln!("tcapd: {r}");
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// `tcapd gen`: a synthetic workload.
#[derive(Args, Debug, Clone)]
pub struct GenArgs {
    /// Number of agents.
    #[arg(long, default_value_t = 1000)]
    pub agents: u32,
    /// Number of events (calls and outcomes).
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Fraction of agents compromised.
    #[arg(long, default_value_t = 0.05)]
    pub compromised: f64,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output event stream (`-` = stdout, no truth file). The truth goes to FILE.truth.json.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub output: PathBuf,
}

/// Writes a workload to `path` and its truth beside it.
pub fn write_workload(w: &Workload, path: &Path) -> Result<Truth, CliError> {
    let f = io_ctx(File::create(path), || format!("create {}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, f);
    let truth = io_ctx(workload::generate(w, &mut out), || format!("write {}", path.display()))?;
    io_ctx(out.flush(), || format!("write {}", path.display()))?;
    let tp = workload::truth_path(path);
    let json = serde_json::to_vec_pretty(&truth).map_err(|e| failure(e.to_string()))?;
    io_ctx(std::fs::write(&tp, json), || format!("write {}", tp.display()))?;
    Ok(truth)
}

impl GenArgs {
    /// Runs the command.
    pub fn exec(self) -> CliResult {
        if !(0.0..=1.0).contains(&self.compromised) {
            return Err(CliError { code: exit::USAGE, message: "--compromised must be within 0..=1".into() });
        }
        let w = Workload {
            agents: self.agents,
            events: self.events,
            compromised: self.compromised,
            seed: self.seed,
        };
        if self.output == Path::new("-") {
            let stdout = io::stdout();
            let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
            io_ctx(workload::generate(&w, &mut out), || "write stdout".into())?;
            io_ctx(out.flush(), || "write stdout".into())?;
        } else {
            let t = write_workload(&w, &self.output)?;
            eprintln!(
                "tcapd: wrote {} events ({} calls, {} outcomes) for {} agents ({} compromised) to {}; truth in {}",
                w.events,
                t.calls,
                t.outcomes,
                w.agents,
                t.compromised.len(),
                self.output.display(),
                workload::truth_path(&self.output).display()
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// `tcapd bench`: the same workload through io_uring, a read() loop and mmap.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Events in the workload.
    #[arg(long, default_value_t = 4_000_000)]
    pub events: u64,
    /// Agents in the workload.
    #[arg(long, default_value_t = 1000)]
    pub agents: u32,
    /// Rounds per path (the best is reported; paths alternate within a round).
    #[arg(long, default_value_t = 5)]
    pub rounds: u32,
    /// Bytes per read.
    #[arg(long, default_value_t = 512 << 10)]
    pub batch: usize,
    /// Directory for the workload and outputs (default: a temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Where decisions go: `file` (beside the input; byte-identity across paths is checked) or `null`
    /// (/dev/null: isolates the read side).
    #[arg(long, default_value = "file", value_parser = ["file", "null"])]
    pub sink: String,
    /// Pin to this CPU.
    #[arg(long)]
    pub cpu: Option<usize>,
    /// Benchmark `serve` over a Unix socket instead: throughput with --clients concurrent clients, then
    /// batch latency at --rate events/s offered.
    #[arg(long)]
    pub serve: bool,
    /// Clients for --serve.
    #[arg(long, default_value_t = 4)]
    pub clients: u32,
    /// Offered load (events/s, all clients) for the --serve latency phase.
    #[arg(long, default_value_t = 100_000)]
    pub rate: u64,
    /// Hold a 0 µs CPU wake-up latency request while benchmarking (as `serve --low-latency`).
    #[arg(long)]
    pub low_latency: bool,
}

impl BenchArgs {
    /// Runs the command.
    pub fn exec(self) -> CliResult {
        apply_cpu(self.cpu)?;
        let qos = apply_low_latency(self.low_latency);
        if self.serve {
            let dir = temp_dir("tcapd-bench-serve")?;
            let r = crate::serve_bench::run(&dir, self.clients, self.events, self.rate, self.agents)
                .map(|r| crate::serve_bench::ServeReport { low_latency: qos.is_some(), ..r });
            let _ = std::fs::remove_dir_all(&dir);
            let r = r?;
            if self.json {
                println!("{}", serde_json::to_string_pretty(&r).map_err(|e| failure(e.to_string()))?);
            } else {
                println!(
                    "tcapd bench --serve: {} clients over a Unix socket, engine GateEngine (sketch off)\n\
                     throughput: {} events in total at {:.2} M events/s\n\
                     latency at {} events/s offered{}: {} batches, p50 ≤ {}  p99 ≤ {}  p99.9 ≤ {}  max {}\n\
                     peer (echo server, no gate, same clients and load): p50 ≤ {}  p99 ≤ {}  p99.9 ≤ {}  \
                     max {}  (p99 ratio {:.2})",
                    r.clients,
                    r.events,
                    r.events_per_sec / 1e6,
                    r.offered_events_per_sec,
                    if r.low_latency { " (CPU wake-up latency held at 0 µs)" } else { "" },
                    r.batches,
                    crate::stats::fmt_ns(r.p50_ns),
                    crate::stats::fmt_ns(r.p99_ns),
                    crate::stats::fmt_ns(r.p999_ns),
                    crate::stats::fmt_ns(r.max_ns),
                    crate::stats::fmt_ns(r.peer_p50_ns),
                    crate::stats::fmt_ns(r.peer_p99_ns),
                    crate::stats::fmt_ns(r.peer_p999_ns),
                    crate::stats::fmt_ns(r.peer_max_ns),
                    r.p99_ns as f64 / r.peer_p99_ns.max(1) as f64
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        let report = crate::bench::run(&self)?;
        if self.json {
            println!("{}", serde_json::to_string_pretty(&report).map_err(|e| failure(e.to_string()))?);
        } else {
            print!("{}", report.table());
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// `tcapd demo`: generate a workload, stream it through the engine via io_uring, summarise.
#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// Agents.
    #[arg(long, default_value_t = 1000)]
    pub agents: u32,
    /// Events.
    #[arg(long, default_value_t = 2_000_000)]
    pub events: u64,
    /// Fraction compromised.
    #[arg(long, default_value_t = 0.05)]
    pub compromised: f64,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Feed the (agent, command) burst sketch into the gate.
    #[arg(long, value_enum, default_value = "off", value_name = "on|off")]
    pub sketch: Switch,
}

impl DemoArgs {
    /// Runs the command with the product engine (the gate over the built-in registry).
    pub fn exec(self) -> CliResult {
        let opts = GateOptions {
            max_agents: self.agents as usize,
            sketch: self.sketch.on(),
            ..GateOptions::default()
        };
        let mut engine = GateEngine::builtin(&opts).map_err(|e| failure(format!("gate: {e}")))?;
        crate::demo::run(&self, &mut engine)
    }
}

pub(crate) fn temp_dir(prefix: &str) -> Result<PathBuf, CliError> {
    let base = std::env::temp_dir();
    for i in 0..1000u32 {
        let p = base.join(format!("{prefix}-{}-{i}", std::process::id()));
        match std::fs::create_dir(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(failure(format!("create {}: {e}", p.display()))),
        }
    }
    Err(failure("could not create a temporary directory"))
}
