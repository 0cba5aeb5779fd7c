//! `tcapd lookup`: registry entries by name, command line or id, with the default policy's verdict.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;
use tcap_core::behavior::{AgentState, Config};
use tcap_core::gate::{Command, Gate, Policy, Reasons, Verdict};
use tcap_core::registry::{Entry, Registry, builtin};
use tcap_core::wire::{DESCRIPTOR_LEN, DescriptorRepr, Flavour, command_id};
use tcap_driver::cli::CliResult;

use super::{fail, hex, hex32, print_json};

const AFTER_HELP: &str = "\
Each argument is looked up in order:
  0xID          a command id (0x and 1-8 hex digits: the first 4 bytes of MD5(name), big-endian);
  NAME          an exact registered name (\"git clone\");
  COMMAND LINE  otherwise the longest registered prefix of its words (\"rm -rf /\" finds rm; the
                rest of the line is shown). Shell syntax is not interpreted.
The verdict is what the product gate (default policy, default behaviour config) answers for the
first call of a fresh, trusted agent. Unknown commands are never allowed: they get the fail-closed
decision for risk UNKNOWN.

Exit status: 0 every argument was found; 1 at least one was unknown (all are still reported) or the
registry file could not be loaded; 2 usage.

Examples:
  tcapd lookup ls 'git push' 0xd67f249b
  tcapd lookup 'rm -rf /'
  tcapd lookup --registry corpus.tcapreg --json kill shutdown";

/// Look commands up in a registry and show the verdict the default policy gives them.
#[derive(Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct LookupArgs {
    /// Registry image (from `tcapd registry build`); default: the built-in registry.
    #[arg(long, value_name = "FILE")]
    pub registry: Option<PathBuf>,
    /// One JSON array on stdout, one object per argument (docs/CLI.md lists the fields).
    #[arg(long)]
    pub json: bool,
    /// Names, command lines (quoted) or 0x command ids.
    #[arg(value_name = "NAME|0xID", required = true)]
    pub query: Vec<String>,
}

/// Reason bit names, in bit order (gate::Reasons).
const REASONS: [(Reasons, &str); 11] = [
    (Reasons::UNKNOWN_COMMAND, "unknown_command"),
    (Reasons::RISK, "risk"),
    (Reasons::AGENT_STATE, "agent_state"),
    (Reasons::NETWORK, "network"),
    (Reasons::PROFILE, "profile"),
    (Reasons::BURST, "burst"),
    (Reasons::POPULATION, "population"),
    (Reasons::NOVELTY, "novelty"),
    (Reasons::OUTCOMES, "outcomes"),
    (Reasons::ESCALATED, "escalated"),
    (Reasons::NETWORK_WATCH, "network_watch"),
];

/// Names of the set reason bits.
pub fn reason_names(r: Reasons) -> Vec<&'static str> {
    REASONS.iter().filter(|(b, _)| r.contains(*b)).map(|(_, n)| *n).collect()
}

#[derive(Serialize, Debug)]
struct VerdictJson {
    decision: &'static str,
    permits: bool,
    risk: &'static str,
    agent_state: &'static str,
    score: i32,
    reasons: Vec<&'static str>,
    reason_bits: u32,
}

#[derive(Serialize, Debug)]
struct LookupJson {
    query: String,
    found: bool,
    matched_by: Option<&'static str>,
    matched: Option<String>,
    rest: Option<String>,
    name: Option<String>,
    id: String,
    risk: &'static str,
    flags: Option<String>,
    flag_names: Option<Vec<&'static str>>,
    exec_time_ms: Option<u32>,
    memory_mb: Option<u16>,
    output_kb: Option<u16>,
    descriptor: Option<String>,
    descriptor_flavour: Option<&'static str>,
    verdict: VerdictJson,
}

/// `0x` and 1..=8 hex digits.
fn parse_id(s: &str) -> Option<u32> {
    let h = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    if h.is_empty() || h.len() > 8 {
        return None;
    }
    u32::from_str_radix(h, 16).ok()
}

/// The verdict of the real gate, default policy and config, for a fresh trusted agent's first call.
fn verdict(reg: Registry<'_>, cmd: Command<'_>) -> Result<Verdict, String> {
    let mut states = [AgentState::default()];
    let mut gate =
        Gate::new(reg, Policy::DEFAULT, Config::DEFAULT, &mut states).map_err(|e| e.to_string())?;
    gate.check(0, 0, cmd, &()).map_err(|e| e.to_string())
}

fn verdict_json(v: &Verdict) -> VerdictJson {
    VerdictJson {
        decision: v.decision.as_str(),
        permits: v.decision.permits(),
        risk: v.risk.as_str(),
        agent_state: v.agent_state.as_str(),
        score: v.score,
        reasons: reason_names(v.reasons),
        reason_bits: v.reasons.0,
    }
}

/// Canonical descriptor bytes of an entry: the spec layout, or the registry layout when the execution
/// time does not fit the spec's u16.
fn descriptor_of(e: &Entry<'_>) -> Option<(String, Flavour)> {
    let repr = DescriptorRepr {
        command_id: e.id(),
        flags: e.flags(),
        exec_time_ms: e.exec_time_ms(),
        memory_mb: e.memory_mb(),
        output_kb: e.output_kb(),
        command_len: u16::try_from(e.name().len()).ok(),
    };
    let mut buf = [0u8; DESCRIPTOR_LEN];
    if repr.emit(&mut buf).is_ok() {
        return Some((hex(&buf), Flavour::Spec));
    }
    repr.emit_as(Flavour::Registry, &mut buf).ok().map(|()| (hex(&buf), Flavour::Registry))
}

fn one(reg: Registry<'_>, q: &str) -> Result<LookupJson, String> {
    let (entry, by, matched, rest) = if let Some(id) = parse_id(q) {
        (reg.get(id), "id", None, None)
    } else if let Some(e) = reg.get_by_name(q.as_bytes()) {
        (Some(e), "name", None, None)
    } else if let Some(r) = reg.resolve(q.as_bytes()) {
        let rest = q.get(r.matched_len..).unwrap_or("").trim_start().to_string();
        (Some(r.entry), "prefix", Some(String::from_utf8_lossy(r.entry.name()).into_owned()), Some(rest))
    } else {
        (None, "none", None, None)
    };
    let Some(e) = entry else {
        let (id, cmd) = match parse_id(q) {
            Some(id) => (id, Command::Id(id)),
            None => (command_id(q.as_bytes()), Command::Name(q.as_bytes())),
        };
        let v = verdict(reg, cmd)?;
        return Ok(LookupJson {
            query: q.to_string(),
            found: false,
            matched_by: None,
            matched: None,
            rest: None,
            name: None,
            id: hex32(id),
            risk: v.risk.as_str(),
            flags: None,
            flag_names: None,
            exec_time_ms: None,
            memory_mb: None,
            output_kb: None,
            descriptor: None,
            descriptor_flavour: None,
            verdict: verdict_json(&v),
        });
    };
    let v = verdict(reg, Command::Id(e.id()))?;
    let desc = descriptor_of(&e);
    Ok(LookupJson {
        query: q.to_string(),
        found: true,
        matched_by: Some(by),
        matched,
        rest,
        name: Some(String::from_utf8_lossy(e.name()).into_owned()),
        id: hex32(e.id()),
        risk: e.risk().as_str(),
        flags: Some(hex32(e.flags().0)),
        flag_names: Some(e.flags().names().collect()),
        exec_time_ms: Some(e.exec_time_ms()),
        memory_mb: Some(e.memory_mb()),
        output_kb: Some(e.output_kb()),
        descriptor_flavour: desc.as_ref().map(|d| d.1.as_str()),
        descriptor: desc.map(|d| d.0),
        verdict: verdict_json(&v),
    })
}

fn print_text(j: &LookupJson) {
    println!("{}", j.query);
    let v = &j.verdict;
    let reasons = if v.reasons.is_empty() { "none".to_string() } else { v.reasons.join(", ") };
    if !j.found {
        println!("  unknown command (id {}; not in the registry, risk {})", j.id, j.risk);
        println!(
            "  verdict      {} (fail closed: unknown commands are never allowed; reasons: {reasons})",
            v.decision
        );
        return;
    }
    if let (Some(m), Some(rest)) = (&j.matched, &j.rest) {
        println!("  matched      {m:?} (longest registered prefix); rest {rest:?}");
    }
    println!("  name         {}", j.name.as_deref().unwrap_or(""));
    println!("  id           {}", j.id);
    println!("  risk         {}", j.risk);
    if let (Some(f), Some(n)) = (&j.flags, &j.flag_names) {
        println!("  flags        {f} [{}]", n.join("|"));
    }
    if let (Some(e), Some(m), Some(o)) = (j.exec_time_ms, j.memory_mb, j.output_kb) {
        println!("  perf         exec {e} ms, memory {m} MB, output {o} KB");
    }
    if let (Some(d), Some(f)) = (&j.descriptor, j.descriptor_flavour) {
        println!("  descriptor   {d} ({f} layout)");
    }
    println!("  verdict      {} (default policy, fresh trusted agent; reasons: {reasons})", v.decision);
}

impl LookupArgs {
    /// Runs `tcapd lookup`.
    pub fn exec(self) -> CliResult {
        let file;
        let reg = match &self.registry {
            None => builtin(),
            Some(p) => {
                file = std::fs::read(p).map_err(|e| fail(format!("{}: {e}", p.display())))?;
                Registry::load(&file)
                    .map_err(|e| fail(format!("{}: not a valid registry image: {e}", p.display())))?
            }
        };
        let mut out = Vec::with_capacity(self.query.len());
        for q in &self.query {
            out.push(one(reg, q).map_err(|e| fail(format!("lookup {q:?}: {e}")))?);
        }
        let unknown = out.iter().filter(|j| !j.found).count();
        for j in out.iter().filter(|j| !j.found) {
            eprintln!("lookup: {:?}: unknown command", j.query);
        }
        if self.json {
            print_json(&out)?;
        } else {
            for (k, j) in out.iter().enumerate() {
                if k > 0 {
                    println!();
                }
                print_text(j);
            }
        }
        Ok(if unknown == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
    }
}
