//! The stealth-compromise simulation: a population of agents with their own habits, some of which are
//! compromised part-way through and drift subtly; the real [`Gate`] watches every call.
//!
//! Modelled on upstream's stealth simulator (25 agents, 20% compromised, 1,000 calls each, the first 100
//! as baseline), with habits per agent and two attacker models:
//!
//! * **Standard**: after a random onset the agent drifts over 150 calls towards a riskier tool mix
//!   (High 6% → 16%, Critical 2% → 10%), reaches for tools it does not usually use, calls 40% faster and
//!   sees more errors and denials (probing).
//! * **Hard** (lower and slower): the drift takes 400 calls and goes only half as far (High 6% → 10%,
//!   Critical 2% → 5%), the attacker mimics the agent's own favourite tools within each risk level,
//!   calls *more slowly* than before (×1.3), and its errors and denials rise only slightly.
//!
//! Benign agents differ from one another (risk mix perturbed per agent, their own favourite tools,
//! inter-arrival means from 0.5 s to 8 s, their own error rates) and have benign bursts (1% of calls
//! start a burst of 5–15 quick calls) and occasional typos (unknown commands).
//!
//! Scoring is agent-level: an agent is *flagged* when it reaches Restricted or Quarantined. A compromised
//! agent flagged at or after its onset is a true positive; flagged before its onset, or a benign agent
//! flagged at any time, is a false positive. Floats are fine here (the driver); the gate itself uses none.

use serde::Serialize;
use tcap_core::behavior::{AgentState, AgentStatus, Config, Outcome};
use tcap_core::gate::{Command, CommandInfo, Gate, Policy, SliceLookup};
use tcap_core::wire::{Flags, command_id};

/// Which attacker model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// Subtle drift over 150 calls (see the module documentation).
    Standard,
    /// Lower and slower: half the drift over 400 calls, mimicry, slower timing.
    Hard,
}

/// Simulation parameters.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StealthOptions {
    /// Agents per run.
    pub agents: usize,
    /// Fraction of agents compromised (rounded to the nearest agent).
    pub compromised_fraction: f64,
    /// Tool calls per agent.
    pub calls: usize,
    /// Calls per agent used as baseline (the gate's warm-up; no onset before `baseline + 100`).
    pub baseline: usize,
    /// Number of runs (seeds `seed0 .. seed0 + seeds`).
    pub seeds: u64,
    /// Attacker model.
    pub variant: Variant,
    /// First seed.
    pub seed0: u64,
}

impl Default for StealthOptions {
    fn default() -> Self {
        StealthOptions {
            agents: 25,
            compromised_fraction: 0.2,
            calls: 1000,
            baseline: 100,
            seeds: 100,
            variant: Variant::Standard,
            seed0: 1,
        }
    }
}

/// Events from onset to detection, over detected agents.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DelayStats {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// Maximum.
    pub max: f64,
}

/// Results over all seeds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StealthReport {
    /// The options run.
    pub options: StealthOptions,
    /// Benign agents over all runs.
    pub benign_agents: u64,
    /// Compromised agents over all runs.
    pub compromised_agents: u64,
    /// Compromised agents flagged at or after onset.
    pub true_positives: u64,
    /// Benign agents flagged, plus compromised agents flagged before their onset.
    pub false_positives: u64,
    /// Compromised agents never flagged after onset.
    pub false_negatives: u64,
    /// TP / (TP + FP) (1.0 when nothing was flagged).
    pub precision: f64,
    /// TP / compromised.
    pub recall: f64,
    /// Lowest per-seed recall.
    pub min_seed_recall: f64,
    /// Benign events: calls of benign agents and pre-onset calls of compromised agents.
    pub benign_events: u64,
    /// Benign events decided while the agent was flagged (Restricted or Quarantined).
    pub false_positive_events: u64,
    /// `false_positive_events` per million benign events.
    pub fp_per_million_benign_events: f64,
    /// Benign agents that ever reached Monitored (a watch state, not a flag).
    pub benign_monitored_agents: u64,
    /// Calls from onset to detection.
    pub detection_delay: DelayStats,
    /// Total gate checks performed.
    pub gate_checks: u64,
}

/// splitmix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5851_f42d_4c95_7f2d)
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }
    fn normal(&mut self) -> f64 {
        let u = self.f64().max(1e-12);
        let v = self.f64();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
    fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.f64()).ln()
    }
    fn pick(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut r = self.f64() * total;
        for (i, w) in weights.iter().enumerate() {
            if r < *w {
                return i;
            }
            r -= w;
        }
        weights.len() - 1
    }
}

/// Risk levels of the synthetic tools: Safe, Low, Medium, High, Critical.
const LEVELS: usize = 5;

/// A few dozen synthetic commands with realistic names, risk levels and capability flags.
fn catalogue() -> Vec<(&'static str, usize, Flags)> {
    let f = |bits: &[Flags]| Flags(bits.iter().fold(0, |a, b| a | b.0));
    vec![
        ("ls", 0, Flags::SAFE),
        ("cat", 0, Flags::SAFE),
        ("pwd", 0, Flags::SAFE),
        ("echo", 0, Flags::SAFE),
        ("head", 0, Flags::SAFE),
        ("tail", 0, Flags::SAFE),
        ("wc", 0, Flags::SAFE),
        ("grep", 0, Flags::SAFE),
        ("stat", 0, Flags::SAFE),
        ("ps", 1, Flags::LOW_RISK),
        ("df", 1, Flags::LOW_RISK),
        ("du", 1, Flags::LOW_RISK),
        ("whoami", 1, Flags::LOW_RISK),
        ("uname", 1, Flags::LOW_RISK),
        ("env", 1, Flags::LOW_RISK),
        ("git status", 1, Flags::LOW_RISK),
        ("find", 1, Flags::LOW_RISK),
        ("cp", 2, f(&[Flags::MEDIUM_RISK, Flags::FILE_MODIFICATION])),
        ("mv", 2, f(&[Flags::MEDIUM_RISK, Flags::FILE_MODIFICATION])),
        ("mkdir", 2, f(&[Flags::MEDIUM_RISK, Flags::FILE_MODIFICATION])),
        ("curl", 2, f(&[Flags::MEDIUM_RISK, Flags::NETWORK_ACCESS])),
        ("wget", 2, f(&[Flags::MEDIUM_RISK, Flags::NETWORK_ACCESS])),
        ("git commit", 2, f(&[Flags::MEDIUM_RISK, Flags::FILE_MODIFICATION])),
        ("pip install", 2, f(&[Flags::MEDIUM_RISK, Flags::NETWORK_ACCESS, Flags::FILE_MODIFICATION])),
        ("tar", 2, f(&[Flags::MEDIUM_RISK, Flags::FILE_MODIFICATION])),
        ("chmod", 3, f(&[Flags::HIGH_RISK, Flags::FILE_MODIFICATION])),
        ("chown", 3, f(&[Flags::HIGH_RISK, Flags::FILE_MODIFICATION, Flags::REQUIRES_ROOT])),
        ("ssh", 3, f(&[Flags::HIGH_RISK, Flags::NETWORK_ACCESS])),
        ("scp", 3, f(&[Flags::HIGH_RISK, Flags::NETWORK_ACCESS, Flags::FILE_MODIFICATION])),
        ("systemctl", 3, f(&[Flags::HIGH_RISK, Flags::SYSTEM_MODIFICATION, Flags::REQUIRES_SUDO])),
        ("crontab", 3, f(&[Flags::HIGH_RISK, Flags::SYSTEM_MODIFICATION])),
        ("docker run", 3, f(&[Flags::HIGH_RISK, Flags::SYSTEM_MODIFICATION, Flags::NETWORK_ACCESS])),
        ("rm -rf", 4, f(&[Flags::CRITICAL, Flags::DESTRUCTIVE, Flags::FILE_MODIFICATION])),
        ("dd", 4, f(&[Flags::CRITICAL, Flags::DESTRUCTIVE, Flags::REQUIRES_ROOT])),
        ("mkfs", 4, f(&[Flags::CRITICAL, Flags::DESTRUCTIVE, Flags::REQUIRES_ROOT])),
        ("iptables", 4, f(&[Flags::CRITICAL, Flags::SYSTEM_MODIFICATION, Flags::REQUIRES_ROOT])),
        ("insmod", 4, f(&[Flags::CRITICAL, Flags::KERNEL_MODULE, Flags::REQUIRES_ROOT])),
        ("sudo su", 4, f(&[Flags::CRITICAL, Flags::PRIVILEGE_ESCALATION, Flags::REQUIRES_SUDO])),
    ]
}

/// The built-in-like population risk mix: Safe, Low, Medium, High, Critical.
const BASE_MIX: [f64; LEVELS] = [0.45, 0.30, 0.17, 0.06, 0.02];

struct Habits {
    mix: [f64; LEVELS],
    /// Per level, the agent's preference weight for each command of that level.
    prefs: Vec<Vec<f64>>,
    mean_gap_s: f64,
    error: f64,
    denied: f64,
    timeout: f64,
}

fn habits(rng: &mut Rng, by_level: &[Vec<usize>]) -> Habits {
    let mut mix = BASE_MIX;
    for m in mix.iter_mut() {
        *m *= (0.35 * rng.normal()).exp();
    }
    let s: f64 = mix.iter().sum();
    mix.iter_mut().for_each(|m| *m /= s);
    // Zipf-like preference over a random order of each level's commands.
    let prefs = by_level
        .iter()
        .map(|cmds| {
            let mut order: Vec<usize> = (0..cmds.len()).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i + 1));
            }
            let mut w = vec![0.0; cmds.len()];
            for (rank, &i) in order.iter().enumerate() {
                w[i] = 1.0 / (rank as f64 + 1.0).powf(1.2);
            }
            w
        })
        .collect();
    Habits {
        mix,
        prefs,
        mean_gap_s: (0.5f64.ln() + rng.f64() * (8.0f64.ln() - 0.5f64.ln())).exp(),
        error: rng.range(0.02, 0.10),
        denied: rng.range(0.002, 0.01),
        timeout: rng.range(0.002, 0.01),
    }
}

/// Attacker parameters per variant.
struct Attack {
    ramp: f64,
    target: [f64; LEVELS],
    /// Probability (at full drift) of picking a tool uniformly within its level instead of by habit.
    off_habit: f64,
    /// Inter-arrival multiplier at full drift.
    gap_factor: f64,
    error_add: f64,
    denied_add: f64,
    /// Calls left after the latest possible onset.
    tail: usize,
}

fn attack(v: Variant) -> Attack {
    match v {
        Variant::Standard => Attack {
            ramp: 150.0,
            target: [0.30, 0.22, 0.22, 0.16, 0.10],
            off_habit: 0.5,
            gap_factor: 0.6,
            error_add: 0.08,
            denied_add: 0.04,
            tail: 300,
        },
        Variant::Hard => Attack {
            ramp: 400.0,
            target: [0.38, 0.27, 0.20, 0.10, 0.05],
            off_habit: 0.0,
            gap_factor: 1.3,
            error_add: 0.03,
            denied_add: 0.01,
            tail: 400,
        },
    }
}

struct SeedOutcome {
    benign: u64,
    compromised: u64,
    tp: u64,
    fp: u64,
    benign_events: u64,
    fp_events: u64,
    benign_monitored: u64,
    delays: Vec<f64>,
    checks: u64,
}

/// The gate configuration the simulation runs with: the defaults, with the warm-up set to the
/// baseline length.
pub fn gate_config(opts: &StealthOptions) -> Config {
    let mut cfg = Config::DEFAULT;
    cfg.warmup_calls = opts.baseline as u32;
    cfg.warmup_outcomes = opts.baseline as u32;
    cfg
}

fn run_seed(opts: &StealthOptions, seed: u64, cmds: &[(&'static str, usize, Flags)]) -> SeedOutcome {
    let mut rng = Rng::new(seed);
    let atk = attack(opts.variant);
    let mut entries: Vec<CommandInfo> =
        cmds.iter().map(|(name, _, flags)| CommandInfo::new(command_id(name.as_bytes()), *flags)).collect();
    entries.sort_by_key(|e| e.id);
    let lookup = SliceLookup::new(&entries).expect("distinct synthetic command ids");
    let mut by_level: Vec<Vec<usize>> = vec![Vec::new(); LEVELS];
    for (i, (_, level, _)) in cmds.iter().enumerate() {
        by_level[*level].push(i);
    }

    let n = opts.agents;
    let n_comp = ((n as f64 * opts.compromised_fraction).round() as usize).min(n);
    let mut compromised = vec![false; n];
    let mut chosen = 0;
    while chosen < n_comp {
        let a = rng.below(n);
        if !compromised[a] {
            compromised[a] = true;
            chosen += 1;
        }
    }
    let earliest = opts.baseline + 100;
    let latest = opts.calls.saturating_sub(atk.tail).max(earliest);
    let onset: Vec<usize> = (0..n).map(|_| earliest + rng.below(latest - earliest + 1)).collect();
    let habits: Vec<Habits> = (0..n).map(|_| habits(&mut rng, &by_level)).collect();

    let mut states = vec![AgentState::FRESH; n];
    let mut gate = Gate::new(lookup, Policy::DEFAULT, gate_config(opts), &mut states)
        .expect("valid default configuration");
    let mut clock = vec![0f64; n];
    let mut burst_left = vec![0usize; n];
    let mut flagged_at: Vec<Option<usize>> = vec![None; n];
    let mut monitored = vec![false; n];
    let mut out = SeedOutcome {
        benign: 0,
        compromised: 0,
        tp: 0,
        fp: 0,
        benign_events: 0,
        fp_events: 0,
        benign_monitored: 0,
        delays: Vec::new(),
        checks: 0,
    };

    for k in 0..opts.calls {
        for a in 0..n {
            let h = &habits[a];
            let d = if compromised[a] && k >= onset[a] {
                ((k - onset[a]) as f64 / atk.ramp).min(1.0)
            } else {
                0.0
            };
            // Timing: exponential gaps around the agent's mean, shifted by the drift; benign bursts.
            let mut gap = h.mean_gap_s * (1.0 + d * (atk.gap_factor - 1.0));
            if burst_left[a] > 0 {
                burst_left[a] -= 1;
                gap /= 8.0;
            } else if rng.f64() < 0.01 {
                burst_left[a] = 5 + rng.below(11);
            }
            clock[a] += rng.exp(gap).max(1e-6);
            let now = (clock[a] * 1e6) as u64;

            // Tool: level from the (drifted) mix, tool by habit or (drifting) off habit; rare typos.
            let mut mix = [0.0; LEVELS];
            for (l, m) in mix.iter_mut().enumerate() {
                *m = (1.0 - d) * h.mix[l] + d * atk.target[l];
            }
            let level = rng.pick(&mix);
            let off = rng.f64() < d * atk.off_habit;
            let idx = if off { rng.below(by_level[level].len()) } else { rng.pick(&h.prefs[level]) };
            let name = cmds[by_level[level][idx]].0;
            let typo = rng.f64() < 0.003;
            let cmd = if typo { Command::Name(b"sl") } else { Command::Name(name.as_bytes()) };
            let v = gate.check(now, a as u32, cmd, &()).expect("agent in range");
            out.checks += 1;

            let err = h.error + d * atk.error_add;
            let den = h.denied + d * atk.denied_add;
            let r = rng.f64();
            let outcome = if r < den {
                Outcome::Denied
            } else if r < den + h.timeout {
                Outcome::Timeout
            } else if r < den + h.timeout + err {
                Outcome::Error
            } else {
                Outcome::Success
            };
            let _ = gate.observe(now + 1000, a as u32, outcome);

            let is_benign_event = !compromised[a] || k < onset[a];
            let flagged = v.agent_state >= AgentStatus::Restricted;
            if is_benign_event {
                out.benign_events += 1;
                out.fp_events += flagged as u64;
            }
            if flagged && flagged_at[a].is_none() {
                flagged_at[a] = Some(k);
            }
            if !compromised[a] && v.agent_state >= AgentStatus::Monitored {
                monitored[a] = true;
            }
        }
    }
    for a in 0..n {
        if compromised[a] {
            out.compromised += 1;
            match flagged_at[a] {
                Some(k) if k >= onset[a] => {
                    out.tp += 1;
                    out.delays.push((k - onset[a]) as f64);
                }
                Some(_) => out.fp += 1,
                None => {}
            }
        } else {
            out.benign += 1;
            out.fp += flagged_at[a].is_some() as u64;
            out.benign_monitored += monitored[a] as u64;
        }
    }
    out
}

/// Runs the simulation over `opts.seeds` seeds.
pub fn run(opts: &StealthOptions) -> StealthReport {
    let cmds = catalogue();
    let mut total = SeedOutcome {
        benign: 0,
        compromised: 0,
        tp: 0,
        fp: 0,
        benign_events: 0,
        fp_events: 0,
        benign_monitored: 0,
        delays: Vec::new(),
        checks: 0,
    };
    let mut min_seed_recall = 1.0f64;
    for s in 0..opts.seeds {
        let o = run_seed(opts, opts.seed0.wrapping_add(s), &cmds);
        if o.compromised > 0 {
            min_seed_recall = min_seed_recall.min(o.tp as f64 / o.compromised as f64);
        }
        total.benign += o.benign;
        total.compromised += o.compromised;
        total.tp += o.tp;
        total.fp += o.fp;
        total.benign_events += o.benign_events;
        total.fp_events += o.fp_events;
        total.benign_monitored += o.benign_monitored;
        total.delays.extend(o.delays);
        total.checks += o.checks;
    }
    let mut delays = total.delays;
    delays.sort_by(f64::total_cmp);
    let q = |p: f64| {
        if delays.is_empty() { 0.0 } else { delays[((delays.len() - 1) as f64 * p).round() as usize] }
    };
    let detection_delay = DelayStats {
        mean: if delays.is_empty() { 0.0 } else { delays.iter().sum::<f64>() / delays.len() as f64 },
        p50: q(0.5),
        p90: q(0.9),
        max: delays.last().copied().unwrap_or(0.0),
    };
    let flagged = total.tp + total.fp;
    StealthReport {
        options: opts.clone(),
        benign_agents: total.benign,
        compromised_agents: total.compromised,
        true_positives: total.tp,
        false_positives: total.fp,
        false_negatives: total.compromised - total.tp,
        precision: if flagged == 0 { 1.0 } else { total.tp as f64 / flagged as f64 },
        recall: if total.compromised == 0 { 1.0 } else { total.tp as f64 / total.compromised as f64 },
        min_seed_recall,
        benign_events: total.benign_events,
        false_positive_events: total.fp_events,
        fp_per_million_benign_events: if total.benign_events == 0 {
            0.0
        } else {
            total.fp_events as f64 * 1e6 / total.benign_events as f64
        },
        benign_monitored_agents: total.benign_monitored,
        detection_delay,
        gate_checks: total.checks,
    }
}

impl StealthReport {
    /// A short human-readable summary.
    pub fn summary(&self) -> String {
        format!(
            "stealth ({:?}, {} seeds, {} agents, {:.0}% compromised, {} calls, baseline {}):\n  \
             precision {:.4}  recall {:.4} (min per seed {:.2})  TP {} FP {} FN {}\n  \
             false positives per million benign events {:.1}  benign agents ever monitored {}/{}\n  \
             calls from onset to detection: mean {:.1}  p50 {:.0}  p90 {:.0}  max {:.0}",
            self.options.variant,
            self.options.seeds,
            self.options.agents,
            self.options.compromised_fraction * 100.0,
            self.options.calls,
            self.options.baseline,
            self.precision,
            self.recall,
            self.min_seed_recall,
            self.true_positives,
            self.false_positives,
            self.false_negatives,
            self.fp_per_million_benign_events,
            self.benign_monitored_agents,
            self.benign_agents,
            self.detection_delay.mean,
            self.detection_delay.p50,
            self.detection_delay.p90,
            self.detection_delay.max,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_variant_meets_the_bar_over_20_seeds() {
        let opts = StealthOptions { seeds: 20, ..StealthOptions::default() };
        let r = run(&opts);
        assert_eq!(r.compromised_agents, 100);
        assert_eq!(r.benign_agents, 400);
        assert!(r.precision >= 0.99, "{}", r.summary());
        assert!(r.recall >= 0.95, "{}", r.summary());
        assert!(r.detection_delay.max > 0.0);
    }

    #[test]
    fn hard_variant_runs_and_stays_precise() {
        let opts = StealthOptions { seeds: 10, variant: Variant::Hard, ..StealthOptions::default() };
        let r = run(&opts);
        assert_eq!(r.compromised_agents, 50);
        assert!(r.precision >= 0.95, "{}", r.summary());
        // The JSON form carries every figure the CLI prints.
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["options"]["variant"], "hard");
        assert!(j["recall"].as_f64().unwrap() <= 1.0);
    }

    #[test]
    fn deterministic_per_seed() {
        let opts = StealthOptions { seeds: 2, seed0: 7, calls: 400, ..StealthOptions::default() };
        assert_eq!(run(&opts), run(&opts));
        let other = StealthOptions { seed0: 8, ..opts.clone() };
        assert_ne!(run(&opts).gate_checks, 0);
        assert_eq!(run(&other).gate_checks, run(&opts).gate_checks);
    }

    #[test]
    fn a_population_without_attackers_is_not_flagged_much() {
        let opts = StealthOptions { seeds: 5, compromised_fraction: 0.0, ..StealthOptions::default() };
        let r = run(&opts);
        assert_eq!(r.compromised_agents, 0);
        assert!(r.false_positives <= 1, "{}", r.summary());
    }
}
