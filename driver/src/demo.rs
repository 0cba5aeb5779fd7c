//! `tcapd demo`: generate a workload, stream it through an engine via io_uring, summarise.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::ExitCode;

use tcap_core::wire::record::{AgentState, Decision, HEADER_LEN, parse_decisions};

use crate::cli::{CliError, CliResult, DemoArgs, temp_dir, write_workload};
use crate::engine::Engine;
use crate::io::{IoMode, RunConfig, RunEnd};
use crate::stats::Stats;
use crate::workload::Workload;

/// Runs the demo with `engine` (`tcapd demo` passes the product gate).
pub fn run<E: Engine>(args: &DemoArgs, engine: &mut E) -> CliResult {
    let dir = temp_dir("tcapd-demo")?;
    let input = dir.join("events.bin");
    let output = dir.join("decisions.bin");
    let w =
        Workload { agents: args.agents, events: args.events, compromised: args.compromised, seed: args.seed };
    println!(
        "tcapd demo: generating {} events for {} agents ({:.0}% compromised, seed {})",
        w.events,
        w.agents,
        w.compromised * 100.0,
        w.seed
    );
    println!(
        "engine: the gate over the built-in registry ({} commands), sketch {}",
        tcap_core::registry::builtin().len(),
        if args.sketch.on() { "on" } else { "off" }
    );
    let truth = write_workload(&w, &input)?;
    let fail = |e: std::io::Error| CliError { code: 1, message: e.to_string() };
    let inp = File::open(&input).map_err(fail)?;
    let out = File::create(&output).map_err(fail)?;
    let cfg = RunConfig { source_name: input.display().to_string(), ..RunConfig::default() };
    let mut stats = Stats::new();
    let (end, path) = crate::io::run(
        IoMode::Auto,
        inp.as_raw_fd(),
        out.as_raw_fd(),
        engine,
        &cfg,
        &mut stats,
        &mut |_| {},
    )?;
    let secs = stats.started.elapsed().as_secs_f64();
    if end != RunEnd::Eof {
        return Err(CliError { code: 1, message: format!("demo run ended with {end:?}") });
    }
    let bytes = std::fs::read(&output).map_err(fail)?;
    let truth_set: BTreeSet<u32> = truth.compromised.iter().copied().collect();
    let mut flagged = BTreeSet::new();
    let mut by_kind = [0u64; 5];
    // Per compromised agent: its calls since the onset, and that count when it was first flagged.
    let mut since_onset: BTreeMap<u32, (u64, Option<u64>)> = BTreeMap::new();
    parse_decisions(&bytes[HEADER_LEN.min(bytes.len())..], |d| {
        by_kind[d.decision as usize] += 1;
        let hit = d.agent_state >= AgentState::Restricted;
        if hit {
            flagged.insert(d.agent);
        }
        if d.seq >= truth.onset_seq && truth_set.contains(&d.agent) {
            let e = since_onset.entry(d.agent).or_default();
            e.0 += 1;
            if hit && e.1.is_none() {
                e.1 = Some(e.0);
            }
        }
    })
    .map_err(|e| CliError { code: 1, message: format!("reading back decisions: {e}") })?;
    let tp = flagged.intersection(&truth_set).count();
    let fp = flagged.len() - tp;
    let missed = truth_set.len() - tp;
    println!(
        "streamed {} events ({} calls) via {path} in {:.3} s: {:.2} M events/s",
        stats.counts.events,
        stats.counts.events - stats.counts.outcomes,
        secs,
        stats.counts.events as f64 / secs / 1e6
    );
    println!("decisions:");
    let total: u64 = by_kind.iter().sum();
    for d in Decision::ALL {
        let n = by_kind[d as usize];
        println!("  {:<17} {:>10}  {:>5.1}%", d.as_str(), n, 100.0 * n as f64 / total.max(1) as f64);
    }
    println!(
        "agents flagged (restricted or quarantined): {} — {} of {} compromised caught, {} benign flagged, {} missed",
        flagged.len(),
        tp,
        truth_set.len(),
        fp,
        missed
    );
    if !flagged.is_empty() || !truth_set.is_empty() {
        let precision = tp as f64 / flagged.len().max(1) as f64;
        let recall = tp as f64 / truth_set.len().max(1) as f64;
        println!("precision {precision:.3}, recall {recall:.3}");
    }
    let mut delays: Vec<u64> = since_onset.values().filter_map(|v| v.1).collect();
    delays.sort_unstable();
    if !delays.is_empty() {
        println!(
            "calls from onset to detection (compromised agents caught): median {}, p90 {}, max {}",
            delays[delays.len() / 2],
            delays[delays.len() * 9 / 10],
            delays[delays.len() - 1]
        );
    }
    if let Some(r) = engine.report() {
        println!("{r}");
    }
    println!("batch latency {}", stats.latency.summary());
    let _ = std::fs::remove_dir_all(&dir);
    Ok(ExitCode::SUCCESS)
}
