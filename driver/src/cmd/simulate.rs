//! `tcapd simulate stealth|darpa|network`: the evaluations of issues 3 and 4.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use tcap_core::network::MAX_SCRATCH;
use tcap_driver::cli::CliResult;
use tcap_driver::sim::darpa::{self, DarpaOptions};
use tcap_driver::sim::network::{self, MAX_SIM_NODES, NetworkSimOptions, NetworkSimReport};
use tcap_driver::sim::stealth::{self, StealthOptions, Variant};

use super::{fail, print_json};

const SIMULATE_HELP: &str = "\
Every simulation is deterministic for its seeds; --json prints the full report (docs/CLI.md).
Exit status: 0 the run completed (whether or not a bar was met: see meets_bar / the figures);
1 the input could not be read or a value is out of range; 2 usage.

Examples:
  tcapd simulate stealth --seeds 100
  tcapd simulate darpa --input ../shared/data/darpa/darpa_original.zip
  tcapd simulate network --nodes 1024 --json";

/// Run an evaluation: stealthy agents, the DARPA 1998 stream, or an agent network.
#[derive(Args, Debug)]
#[command(after_help = SIMULATE_HELP)]
pub struct SimulateArgs {
    #[command(subcommand)]
    command: SimCommand,
}

#[derive(Subcommand, Debug)]
enum SimCommand {
    /// Agents compromised part-way through drift subtly; the real gate must flag them.
    Stealth(StealthArgs),
    /// Score the DARPA 1998 edge stream (agent = source, tool = destination, time = minute): ROC-AUC
    /// and events/s beside MIDAS.
    Darpa(DarpaArgs),
    /// A trust network with compromised nodes that are detected, quarantined and routed around
    /// (bar: no message routed through a node after its detection).
    Network(NetworkArgs),
}

impl SimulateArgs {
    /// Runs `tcapd simulate …`.
    pub fn exec(self) -> CliResult {
        match self.command {
            SimCommand::Stealth(a) => a.exec(),
            SimCommand::Darpa(a) => a.exec(),
            SimCommand::Network(a) => a.exec(),
        }
    }
}

/// Attacker models of the stealth simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum VariantArg {
    /// Drift over 150 calls towards riskier tools, new tools, 40% faster calls, more errors.
    Standard,
    /// Lower and slower: half the drift over 400 calls, mimicry of the agent's own tools, slower calls.
    Hard,
}

const STEALTH_HELP: &str = "\
Scoring is per agent: an agent is flagged when the gate moves it to restricted or quarantined.
Reported: precision, recall (and the lowest per-seed recall), false positives per million benign
events, calls from onset to detection. Bar (issue 3): precision >= 0.99, recall >= 0.95 over 100 seeds.

Examples:
  tcapd simulate stealth --seeds 100
  tcapd simulate stealth --variant hard --seeds 20 --json
  tcapd simulate stealth --agents 100 --compromised 0.1 --calls 2000";

/// Arguments of `simulate stealth`.
#[derive(Args, Debug)]
#[command(after_help = STEALTH_HELP)]
struct StealthArgs {
    /// Runs, with seeds SEED0 .. SEED0+N.
    #[arg(long, default_value_t = 100, value_name = "N")]
    seeds: u64,
    /// First seed.
    #[arg(long, default_value_t = 1, value_name = "SEED")]
    seed0: u64,
    /// Attacker model.
    #[arg(long, value_enum, default_value = "standard")]
    variant: VariantArg,
    /// Agents per run.
    #[arg(long, default_value_t = 25, value_name = "N")]
    agents: usize,
    /// Fraction of agents compromised (rounded to the nearest agent).
    #[arg(long, default_value_t = 0.2, value_name = "FRACTION")]
    compromised: f64,
    /// Tool calls per agent.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    calls: usize,
    /// Calls per agent used as baseline (the gate's warm-up; no onset before baseline + 100).
    #[arg(long, default_value_t = 100, value_name = "N")]
    baseline: usize,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

impl StealthArgs {
    fn exec(self) -> CliResult {
        if !(0.0..=1.0).contains(&self.compromised) {
            return Err(fail(format!("--compromised {}: want a fraction in 0..=1", self.compromised)));
        }
        if self.agents == 0 || self.calls <= self.baseline {
            return Err(fail("need --agents >= 1 and --calls > --baseline"));
        }
        let opts = StealthOptions {
            agents: self.agents,
            compromised_fraction: self.compromised,
            calls: self.calls,
            baseline: self.baseline,
            seeds: self.seeds.max(1),
            variant: match self.variant {
                VariantArg::Standard => Variant::Standard,
                VariantArg::Hard => Variant::Hard,
            },
            seed0: self.seed0,
        };
        let r = stealth::run(&opts);
        if self.json {
            print_json(&r)?;
        } else {
            println!("{}", r.summary());
        }
        Ok(ExitCode::SUCCESS)
    }
}

const DARPA_HELP: &str = "\
The stream is loaded into memory first; the scoring loops are then timed (best of --repeats), as the
MIDAS peer was. The MIDAS figures are the C++ peer measured on this machine (shared/data/README.md),
beside an in-run f64 MIDAS-R port. Bar (issue 3): ROC-AUC >= 0.95 at >= 30 M events/s on one core.

Examples:
  tcapd simulate darpa --input ../shared/data/darpa/darpa_original.zip
  tcapd simulate darpa --input darpa_processed.csv --repeats 1 --seeds 3 --json";

/// Arguments of `simulate darpa`.
#[derive(Args, Debug)]
#[command(after_help = DARPA_HELP)]
struct DarpaArgs {
    /// darpa_original.zip, or the unzipped CSV (decided by its first bytes).
    #[arg(long, value_name = "PATH")]
    input: PathBuf,
    /// Hash seeds over which the headline scorer's AUC spread is reported (untimed).
    #[arg(long, default_value_t = 8, value_name = "N")]
    seeds: u32,
    /// Timed repetitions of each scoring loop; the best is reported.
    #[arg(long, default_value_t = 5, value_name = "N")]
    repeats: u32,
    /// Seed of the sketch hashes for the timed runs.
    #[arg(long, default_value_t = 0x7ca9, value_name = "SEED")]
    seed: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

impl DarpaArgs {
    fn exec(self) -> CliResult {
        let mut opts = DarpaOptions::new(&self.input);
        opts.seeds = self.seeds.max(1);
        opts.repeats = self.repeats.max(1);
        opts.seed = self.seed;
        let r = darpa::simulate(&opts).map_err(|e| fail(format!("{}: {e}", self.input.display())))?;
        if self.json {
            print_json(&r)?;
        } else {
            println!("{r}");
        }
        Ok(ExitCode::SUCCESS)
    }
}

const NETWORK_HELP: &str = "\
Compromised nodes turn malicious part-way through: overt ones behave anomalously, stealthy ones look
honest but drop the messages they relay (proofs of drops are gossiped and honest peers vote). The
network quarantines or isolates them and routes around. Reported: time to detect and to isolate, and
hops routed through a compromised node after its detection (bar, issue 4: none).

Examples:
  tcapd simulate network --nodes 1024 --json
  tcapd simulate network --repair-threads 2
  tcapd simulate network --nodes 256 --compromised 0.2 --stealthy 1.0 --steps 100";

/// Arguments of `simulate network`.
#[derive(Args, Debug)]
#[command(after_help = NETWORK_HELP)]
struct NetworkArgs {
    /// Nodes (2..=1024).
    #[arg(long, default_value_t = 1024, value_name = "N")]
    nodes: usize,
    /// Random chords per node on top of a ring (average degree about 2 + 2 x chords).
    #[arg(long, default_value_t = 3, value_name = "N")]
    chords: usize,
    /// Fraction of nodes compromised (clamped to 0.33: the vote bound's premise).
    #[arg(long, default_value_t = 0.1, value_name = "FRACTION")]
    compromised: f64,
    /// Fraction of the compromised nodes that are stealthy.
    #[arg(long, default_value_t = 0.5, value_name = "FRACTION")]
    stealthy: f64,
    /// Probability that a compromised relay drops a message.
    #[arg(long, default_value_t = 0.5, value_name = "P")]
    drop: f64,
    /// Seed of the deterministic PRNG.
    #[arg(long, default_value_t = 1, value_name = "SEED")]
    seed: u64,
    /// Simulated steps.
    #[arg(long, default_value_t = 300, value_name = "N")]
    steps: u32,
    /// Messages routed per step.
    #[arg(long, default_value_t = 4096, value_name = "N")]
    messages_per_step: u32,
    /// Simulated milliseconds per step.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    step_ms: u64,
    /// Lying guilty votes each active compromised node casts per step.
    #[arg(long, default_value_t = 4, value_name = "N")]
    lies_per_step: u32,
    /// Random nodes a proof of a dropped message is gossiped to.
    #[arg(long, default_value_t = 8, value_name = "N")]
    proof_fanout: u32,
    /// Route decisions timed at the end for the routes/s figure.
    #[arg(long, default_value_t = 4_000_000, value_name = "N")]
    timed_routes: u32,
    /// Threads that repair the route table after a node is blocked or released (1..=8; more than 1
    /// adds helper threads that spin for 5 ms after each repair). Same outcome, faster repairs.
    #[arg(long, default_value_t = 1, value_name = "N")]
    repair_threads: usize,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn fraction(name: &str, v: f64) -> Result<f64, tcap_driver::cli::CliError> {
    if (0.0..=1.0).contains(&v) { Ok(v) } else { Err(fail(format!("--{name} {v}: want a value in 0..=1"))) }
}

impl NetworkArgs {
    fn exec(self) -> CliResult {
        if !(2..=MAX_SIM_NODES).contains(&self.nodes) {
            return Err(fail(format!("--nodes {}: want 2..={MAX_SIM_NODES}", self.nodes)));
        }
        if !(1..=MAX_SCRATCH).contains(&self.repair_threads) {
            return Err(fail(format!("--repair-threads {}: want 1..={MAX_SCRATCH}", self.repair_threads)));
        }
        let opts = NetworkSimOptions {
            nodes: self.nodes,
            chords: self.chords,
            compromised_fraction: fraction("compromised", self.compromised)?,
            stealthy_fraction: fraction("stealthy", self.stealthy)?,
            drop_probability: fraction("drop", self.drop)?,
            seed: self.seed,
            steps: self.steps,
            messages_per_step: self.messages_per_step,
            step_micros: self.step_ms.saturating_mul(1000),
            lies_per_step: self.lies_per_step,
            proof_fanout: self.proof_fanout,
            timed_routes: self.timed_routes,
            repair_threads: self.repair_threads,
        };
        let r = network::run(opts);
        if self.json {
            print_json(&r)?;
        } else {
            print_network(&r);
        }
        Ok(ExitCode::SUCCESS)
    }
}

fn secs(us: Option<f64>) -> String {
    us.map_or_else(|| "-".to_string(), |u| format!("{:.1} s", u / 1e6))
}

fn print_network(r: &NetworkSimReport) {
    let o = &r.options;
    println!(
        "network: {} nodes, {} edges, {} compromised ({} overt, {} stealthy), {} steps x {} messages",
        o.nodes,
        r.edges,
        r.compromised,
        r.overt,
        r.compromised - r.overt,
        o.steps,
        o.messages_per_step
    );
    println!(
        "  detected     {}/{} (overt {}/{}, stealthy {}/{}), isolated {}",
        r.detected,
        r.compromised,
        r.overt_detected,
        r.overt,
        r.stealthy_detected,
        r.compromised - r.overt,
        r.isolated
    );
    println!(
        "  time         to detect mean {} max {}; to isolate mean {} max {}",
        secs(r.mean_time_to_detect_us),
        secs(r.max_time_to_detect_us.map(|v| v as f64)),
        secs(r.mean_time_to_isolate_us),
        secs(r.max_time_to_isolate_us.map(|v| v as f64))
    );
    println!(
        "  messages     {} sent, {} delivered, {} dropped (first quarter {}, last quarter {}), {} refused, {} unreachable",
        r.messages,
        r.delivered,
        r.dropped,
        r.dropped_first_quarter,
        r.dropped_last_quarter,
        r.refused_blocked_endpoint,
        r.unreachable
    );
    println!(
        "  compromised  hops through them: {} before detection, {} after (bar: 0)",
        r.hops_through_compromised_before_detection, r.hops_through_compromised_after_detection
    );
    println!(
        "  honest       {} falsely convicted, {} ever suspicious; votes {} lying, {} honest, {} convictions by vote",
        r.false_convictions, r.honest_ever_suspicious, r.lying_votes, r.honest_votes, r.convictions_by_vote
    );
    println!(
        "  routing      {} decisions; {:.1} ns per route ({:.1} M routes/s); run {:.0} ms",
        r.route_decisions,
        r.ns_per_route,
        r.routes_per_sec / 1e6,
        r.wall_ms
    );
}
