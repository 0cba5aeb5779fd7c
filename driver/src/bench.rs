//! `tcapd bench`: one workload, one run, three I/O paths (io_uring, a blocking `read()` loop, `mmap`),
//! events/s for each and the ratios. Every path runs the same engine on the same page-cached input and
//! must produce byte-identical decisions (checked).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::cli::{BenchArgs, CliError, temp_dir, write_workload};
use crate::engine::{Engine, NullEngine, TestEngine};
use crate::gate_engine::{GateEngine, GateOptions};
use crate::io::{RunConfig, RunEnd, blocking, mmap, uring};
use crate::stats::Stats;
use crate::workload::Workload;
use crate::{snapshot, sys};

/// One I/O path's figures.
#[derive(Clone, Debug, Serialize)]
pub struct PathResult {
    /// Path name.
    pub path: String,
    /// Best events/s over the rounds.
    pub best_events_per_sec: f64,
    /// Median events/s.
    pub median_events_per_sec: f64,
    /// All rounds.
    pub rounds: Vec<f64>,
}

/// Per-stage cost, from extra rows run in the same process (see docs/TIMING.md).
#[derive(Clone, Debug, Serialize)]
pub struct Stages {
    /// Decode + validate + emit decisions, no engine logic, no I/O (ns/event, best round).
    pub decode_emit_ns: f64,
    /// The engine's own cost per event (in memory, minus the above).
    pub engine_ns: f64,
    /// The read loop's I/O cost per event (read loop with NullEngine minus in-memory NullEngine).
    pub read_write_ns: f64,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// Events in the workload.
    pub events: u64,
    /// Agents.
    pub agents: u32,
    /// Bytes per read.
    pub batch: usize,
    /// Engine used.
    pub engine: String,
    /// Per path.
    pub paths: Vec<PathResult>,
    /// Best io_uring / best read loop.
    pub ratio_uring_vs_read: Option<f64>,
    /// Best mmap / best read loop.
    pub ratio_mmap_vs_read: f64,
    /// Every path wrote the same decision bytes.
    pub identical_output: Option<bool>,
    /// Where decisions went: `file` (a file beside the input) or `null` (/dev/null).
    pub sink: String,
    /// Why io_uring was not measured, if it was not.
    pub uring_unavailable: Option<String>,
    /// Stage costs.
    pub stages: Stages,
    /// System load average (1 min) at the start: other work on the machine skews figures.
    pub loadavg_1m: f64,
    /// In-memory engine rows (filled by [`run`]).
    pub engines: Vec<EngineRow>,
}

impl BenchReport {
    /// A readable table.
    pub fn table(&self) -> String {
        let mut s = format!(
            "tcapd bench: {} events, {} agents, {} KiB reads, engine {}, page-cached input, output to {}\n",
            self.events,
            self.agents,
            self.batch >> 10,
            self.engine,
            self.sink
        );
        s += &format!("{:<24} {:>14} {:>14}\n", "path", "best M ev/s", "median M ev/s");
        for p in &self.paths {
            s += &format!(
                "{:<24} {:>14.2} {:>14.2}\n",
                p.path,
                p.best_events_per_sec / 1e6,
                p.median_events_per_sec / 1e6
            );
        }
        match self.ratio_uring_vs_read {
            Some(r) => s += &format!("io_uring / read loop: {r:.3}\n"),
            None => {
                s += &format!(
                    "io_uring not measured: {}\n",
                    self.uring_unavailable.as_deref().unwrap_or("unavailable")
                )
            }
        }
        s += &format!("mmap / read loop:     {:.3}\n", self.ratio_mmap_vs_read);
        match self.identical_output {
            Some(b) => s += &format!("identical decisions across paths: {b}\n"),
            None => s += "decisions written to /dev/null (not compared)\n",
        }
        s += &format!(
            "stages (ns/event): decode+emit {:.2}, engine {:.2}, read()+write() I/O {:.2}\n",
            self.stages.decode_emit_ns, self.stages.engine_ns, self.stages.read_write_ns
        );
        if !self.engines.is_empty() {
            s += &format!("{:<40} {:>14} {:>12}\n", "in memory (no I/O)", "best M ev/s", "engine ns/ev");
            for e in &self.engines {
                s += &format!(
                    "{:<40} {:>14.2} {:>12.2}\n",
                    e.engine,
                    e.best_events_per_sec / 1e6,
                    e.engine_ns
                );
            }
        }
        s += &format!("load average at start: {:.2}\n", self.loadavg_1m);
        s
    }
}

fn one<E: Engine>(
    which: &str,
    input: &Path,
    output: &Path,
    engine: &mut E,
    cfg: &RunConfig,
) -> Result<(f64, u64), CliError> {
    let inp = File::open(input).map_err(|e| fail(input, e))?;
    let out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(output)
        .map_err(|e| fail(output, e))?;
    let mut stats = Stats::new();
    let t0 = Instant::now();
    let end = match which {
        "io_uring" => uring::run(inp.as_raw_fd(), out.as_raw_fd(), engine, cfg, &mut stats, &mut |_| {})
            .map_err(|e| match e {
                uring::UringError::Setup(e) => CliError { code: 1, message: format!("io_uring setup: {e}") },
                uring::UringError::Io(f) => f.into(),
            })?,
        "read loop" => blocking::run(inp.as_raw_fd(), out.as_raw_fd(), engine, cfg, &mut stats, &mut |_| {})?,
        _ => mmap::run(inp.as_raw_fd(), out.as_raw_fd(), engine, cfg, &mut stats)?,
    };
    let dt = t0.elapsed().as_secs_f64();
    finish(which, end, dt, stats, output)
}

fn finish(which: &str, end: RunEnd, dt: f64, stats: Stats, output: &Path) -> Result<(f64, u64), CliError> {
    if end != RunEnd::Eof {
        return Err(CliError { code: 1, message: format!("bench {which}: unexpected end {end:?}") });
    }
    let bytes = std::fs::read(output).map_err(|e| fail(output, e))?;
    Ok((stats.counts.events as f64 / dt, snapshot::crc32(&bytes) as u64 | (bytes.len() as u64) << 32))
}

/// Decodes `bytes` in memory (no I/O) in `batch` pieces; events/s.
fn memory<E: Engine>(bytes: &[u8], batch: usize, engine: &mut E) -> f64 {
    let mut dec = crate::stream::Decoder::new();
    let mut out = vec![0u8; crate::stream::max_output(batch)];
    let t0 = Instant::now();
    for chunk in bytes.chunks(batch) {
        let (w, _) = dec.feed(chunk, engine, &mut out);
        std::hint::black_box(&out[..w]);
    }
    dec.counts.events as f64 / t0.elapsed().as_secs_f64()
}

fn read_loop_null(input: &Path, output: &Path, cfg: &RunConfig) -> Result<f64, CliError> {
    let inp = File::open(input).map_err(|e| fail(input, e))?;
    let out = File::create(output).map_err(|e| fail(output, e))?;
    let mut stats = Stats::new();
    let t0 = Instant::now();
    blocking::run(inp.as_raw_fd(), out.as_raw_fd(), &mut NullEngine, cfg, &mut stats, &mut |_| {})?;
    Ok(stats.counts.events as f64 / t0.elapsed().as_secs_f64())
}

fn fail(p: &Path, e: std::io::Error) -> CliError {
    CliError { code: 1, message: format!("{}: {e}", p.display()) }
}

/// In-memory cost of one engine (decode + engine + emit, no I/O), same workload, same process.
#[derive(Clone, Debug, Serialize)]
pub struct EngineRow {
    /// Engine name.
    pub engine: String,
    /// Best events/s over the rounds.
    pub best_events_per_sec: f64,
    /// The engine's own ns/event (this row minus `NullEngine`).
    pub engine_ns: f64,
}

/// The gate options `tcapd bench` runs (the product defaults, capacity = the workload's agents).
pub fn bench_gate_options(agents: u32, sketch: bool) -> GateOptions {
    GateOptions { max_agents: agents as usize, sketch, ..GateOptions::default() }
}

/// Runs the benchmark with the product engine ([`GateEngine`], built-in registry, default options),
/// then the in-memory engine rows: `NullEngine`, the gate with and without the sketch, and the driver's
/// `TestEngine` as a reference column.
pub fn run(args: &BenchArgs) -> Result<BenchReport, CliError> {
    let gate = |sketch: bool| {
        let opts = bench_gate_options(args.agents, sketch);
        move || GateEngine::builtin(&opts).expect("the default gate configuration is valid")
    };
    let mut report = run_with(args, "GateEngine (the gate, built-in registry, sketch off)", gate(false))?;
    let w = Workload { agents: args.agents, events: args.events, compromised: 0.05, seed: 1 };
    let mut bytes = Vec::new();
    crate::workload::generate(&w, &mut bytes).map_err(|e| CliError { code: 1, message: e.to_string() })?;
    let batch = args.batch.max(4096);
    let (mut null, mut off, mut on, mut test) = (0f64, 0f64, 0f64, 0f64);
    for _ in 0..args.rounds.max(1) {
        null = null.max(memory(&bytes, batch, &mut NullEngine));
        off = off.max(memory(&bytes, batch, &mut gate(false)()));
        on = on.max(memory(&bytes, batch, &mut gate(true)()));
        test = test.max(memory(&bytes, batch, &mut TestEngine::with_builtin_names(args.agents as usize)));
    }
    let row = |engine: &str, eps: f64| EngineRow {
        engine: engine.into(),
        best_events_per_sec: eps,
        engine_ns: 1e9 / eps - 1e9 / null,
    };
    report.engines = vec![
        row("NullEngine (decode + emit only)", null),
        row("GateEngine, sketch off (default)", off),
        row("GateEngine, sketch on", on),
        row("TestEngine (reference, not the gate)", test),
    ];
    Ok(report)
}

/// Runs the benchmark with engines from `make` (one fresh engine per path and round), named `name` in
/// the report. The product gate plugs in here.
pub fn run_with<E: Engine, F: Fn() -> E>(
    args: &BenchArgs,
    name: &str,
    make: F,
) -> Result<BenchReport, CliError> {
    let (dir, temp) = match &args.dir {
        Some(d) => (d.clone(), false),
        None => (temp_dir("tcapd-bench")?, true),
    };
    let input = dir.join("bench-events.bin");
    let w = Workload { agents: args.agents, events: args.events, compromised: 0.05, seed: 1 };
    write_workload(&w, &input)?;
    // Page-cache the input.
    let _ = std::fs::read(&input).map_err(|e| fail(&input, e))?;
    let null = args.sink == "null";
    let cfg = RunConfig { batch: args.batch.max(4096), ..RunConfig::default() };
    let mut names: Vec<&str> = vec!["io_uring", "read loop", "mmap"];
    let mut uring_unavailable = None;
    if let Err(e) = uring::features() {
        uring_unavailable = Some(e.to_string());
        names.remove(0);
    }
    let loadavg_1m = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN);
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut digests = Vec::new();
    let bytes = std::fs::read(&input).map_err(|e| fail(&input, e))?;
    let (mut mem_null, mut mem_test, mut io_null) = (0f64, 0f64, 0f64);
    let _ = sys::stop_requested();
    for round in 0..args.rounds.max(1) {
        mem_null = mem_null.max(memory(&bytes, cfg.batch, &mut NullEngine));
        mem_test = mem_test.max(memory(&bytes, cfg.batch, &mut make()));
        let out = if null { PathBuf::from("/dev/null") } else { dir.join("bench-out-null.bin") };
        io_null = io_null.max(read_loop_null(&input, &out, &cfg)?);
        if !null {
            let _ = std::fs::remove_file(&out);
        }
        for (k, name) in names.iter().enumerate() {
            let mut engine = make();
            let out = if null { PathBuf::from("/dev/null") } else { dir.join(format!("bench-out-{k}.bin")) };
            let (eps, digest) = one(name, &input, &out, &mut engine, &cfg)?;
            results[k].push(eps);
            if round == 0 {
                digests.push(digest);
            }
            if !null {
                let _ = std::fs::remove_file(&out);
            }
        }
    }
    if temp {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let paths: Vec<PathResult> = names
        .iter()
        .zip(results)
        .map(|(n, mut r)| {
            let rounds = r.clone();
            r.sort_by(|a, b| a.total_cmp(b));
            PathResult {
                path: n.to_string(),
                best_events_per_sec: *r.last().unwrap_or(&0.0),
                median_events_per_sec: r[r.len() / 2],
                rounds,
            }
        })
        .collect();
    let best = |n: &str| paths.iter().find(|p| p.path == n).map(|p| p.best_events_per_sec);
    let read = best("read loop").unwrap_or(f64::NAN);
    Ok(BenchReport {
        events: args.events,
        agents: args.agents,
        batch: cfg.batch,
        engine: name.into(),
        ratio_uring_vs_read: best("io_uring").map(|u| u / read),
        ratio_mmap_vs_read: best("mmap").unwrap_or(f64::NAN) / read,
        identical_output: (!null).then(|| digests.windows(2).all(|w| w[0] == w[1])),
        sink: if null { "null".into() } else { "file".into() },
        stages: Stages {
            decode_emit_ns: 1e9 / mem_null,
            engine_ns: 1e9 / mem_test - 1e9 / mem_null,
            read_write_ns: 1e9 / io_null - 1e9 / mem_null,
        },
        loadavg_1m,
        engines: Vec::new(),
        paths,
        uring_unavailable,
    })
}
