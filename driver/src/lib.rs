//! Library half of `tcapd`, the tcap userspace driver; the binary is a thin shell over it.
//!
//! * [`engine`] — the [`engine::Engine`] seam every record goes through, and a deterministic test engine.
//! * [`gate_engine`] — the product engine: the gate over a registry, agent table, sketch, snapshots.
//! * [`stream`] — incremental decoding of event streams (header, partial records, offsets).
//! * [`io`] — the io_uring, blocking and mmap paths for `run`; [`serve`] — many clients on one ring.
//! * [`snapshot`] — atomic, validated engine state files.
//! * [`workload`], [`bench`], [`demo`] — workloads, the I/O benchmark, the demo.
//! * [`cli`] — subcommand arguments and implementations.
//! * [`repair`] — a thread pool that runs network repairs in parallel.
//! * [`sim`] — simulations (stealth agents, the DARPA 1998 stream, the agent network).

pub mod bench;
pub mod cli;
pub mod demo;
pub mod engine;
pub mod gate_engine;
pub mod io;
pub mod repair;
pub mod serve;
pub mod serve_bench;
pub mod serve_poll;
pub mod snapshot;
pub mod stats;
pub mod stream;
pub mod sys;
pub mod workload;

pub mod sim;
