//! `tcapd`: the tcap userspace driver.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tcap_driver::cli::{self, BenchArgs, CliResult, DemoArgs, GenArgs, RunArgs, ServeArgs};

mod cmd;

const AFTER_HELP: &str = "\
Examples:
  tcapd gen --agents 1000 --events 10000000 --compromised 0.05 -o events.bin
  tcapd run --in events.bin --out decisions.bin --state agents.state
  producer | tcapd run --in - --out - --quiet | consumer
  tcapd serve --listen unix:/run/tcapd.sock --state agents.state
  tcapd serve --listen tcp:127.0.0.1:7070
  tcapd bench --events 4000000 --json
  tcapd demo
  tcapd decode 544350020002d67f249b000006d0271003e800320002ef04
  tcapd lookup ls 'rm -rf /' 0xd67f249b
  tcapd registry build --from ../shared/data/upstream/tcp_complete.db -o corpus.tcapreg
  tcapd registry inspect corpus.tcapreg
  tcapd simulate stealth --seeds 100

Streams: events in, decisions out, each a 16-byte header then 32-byte little-endian records
(docs/FORMAT.md). Subcommands' own exit codes and JSON fields: docs/CLI.md. Exit codes: 0 ok (also after SIGINT/SIGTERM drained), 1 I/O or setup failure,
2 usage, 3 bad input stream (every decision before the bad record was written), 4 bad state file.
Signals: SIGINT/SIGTERM stop reading, flush every decision, snapshot, exit 0; SIGUSR1 prints counters.";

/// tcapd — the tcap safety gate daemon: event records in, decision records out, via io_uring.
#[derive(Parser, Debug)]
#[command(name = "tcapd", version, about, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Every subcommand, in one place.
#[derive(Subcommand, Debug)]
enum Command {
    /// Stream events from a file, FIFO or stdin through the engine; write decisions.
    Run(RunArgs),
    /// Serve many clients on a Unix or TCP socket, each getting its decisions in order.
    Serve(ServeArgs),
    /// Generate a synthetic workload (and its truth file).
    Gen(GenArgs),
    /// Benchmark io_uring against a read() loop and mmap on the same workload.
    Bench(BenchArgs),
    /// Generate a workload, stream it through the engine via io_uring, print a summary.
    Demo(DemoArgs),
    /// Decode and verify 24-byte TCP descriptors (any flavour).
    Decode(cmd::decode::DecodeArgs),
    /// Look commands up (name, command line or 0xID) and show the default policy's verdict.
    Lookup(cmd::lookup::LookupArgs),
    /// Build registry images (from TSV, TCPDB or tcp_export.json) and inspect them.
    Registry(cmd::registry::RegistryArgs),
    /// Run an evaluation: stealth agents, the DARPA 1998 stream, an agent network.
    Simulate(cmd::simulate::SimulateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r: CliResult = match cli.command {
        Command::Run(a) => a.exec(),
        Command::Serve(a) => a.exec(),
        Command::Gen(a) => a.exec(),
        Command::Bench(a) => a.exec(),
        Command::Demo(a) => a.exec(),
        Command::Decode(a) => a.exec(),
        Command::Lookup(a) => a.exec(),
        Command::Registry(a) => a.exec(),
        Command::Simulate(a) => a.exec(),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tcapd: {e}");
            ExitCode::from(if e.code == 0 { cli::exit::FAILURE } else { e.code })
        }
    }
}
