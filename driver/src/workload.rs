//! Synthetic workloads: realistic event streams for demos, tests and benchmarks.
//!
//! Commands are real entries of the built-in registry. Agents call tools with Zipf-skewed popularity:
//! the ~100 everyday commands of [`POPULAR`] first (read-only tools are the popular ones; risky ones such
//! as `sudo` or `rm` sit in the tail, so benign agents call them rarely), then the registry's other safe,
//! low and medium tools. Time is realistic: each agent calls a tool every few seconds on average, in
//! bursts (calls 1–20 ms apart), and most calls are followed by an outcome shortly after. A fraction of agents is compromised: from an onset point onwards they drift
//! towards the registry's high and critical tools, burst more and fail more often, with a drift that
//! grows over time (subtle at first). The truth (which agents, from when) is written beside the stream
//! as JSON.

use std::io::{self, Write};

use serde::{Deserialize, Serialize};
use tcap_core::registry;
use tcap_core::wire::Risk;
use tcap_core::wire::record::{EVENT_LEN, EventRepr, Outcome, StreamHeader};

/// Command names in order of popularity among well-behaved agents (most popular first). Their
/// descriptors and risk come from the built-in registry (`tcap_core::registry::builtin()`); names the
/// registry does not know are skipped.
pub const POPULAR: &[&str] = &[
    "ls",
    "cat",
    "grep",
    "git status",
    "echo",
    "cd",
    "pwd",
    "head",
    "git diff",
    "find",
    "tail",
    "wc",
    "sed",
    "python3",
    "git log",
    "sort",
    "awk",
    "mkdir",
    "cp",
    "git add",
    "git commit",
    "diff",
    "cargo build",
    "make",
    "npm install",
    "mv",
    "touch",
    "jq",
    "uniq",
    "cut",
    "tr",
    "stat",
    "file",
    "du",
    "df",
    "ps",
    "which",
    "env",
    "date",
    "whoami",
    "uname",
    "tree",
    "less",
    "basename",
    "dirname",
    "realpath",
    "pip install",
    "node",
    "curl",
    "wget",
    "tar",
    "gzip",
    "unzip",
    "git push",
    "git clone",
    "git checkout",
    "ln",
    "chmod",
    "top",
    "free",
    "uptime",
    "hostname",
    "id",
    "lsof",
    "ss",
    "ip",
    "dig",
    "ping",
    "ssh",
    "scp",
    "rsync",
    "kill",
    "docker run",
    "sudo",
    "chown",
    "systemctl",
    "crontab",
    "apt-get",
    "mount",
    "nc",
    "iptables",
    "useradd",
    "passwd",
    "su",
    "umount",
    "rm",
    "dd",
    "shred",
    "mkfs",
    "fdisk",
    "insmod",
    "rmmod",
    "modprobe",
    "chroot",
    "nsenter",
    "reboot",
    "shutdown",
    "setenforce",
    "auditctl",
    "history -c",
];

/// Mean time between two calls of one agent (µs): agents act every few seconds.
pub const PER_AGENT_GAP_US: u64 = 4_000_000;

/// The generator's commands from the built-in registry: the ids in popularity order (the names of
/// [`POPULAR`] that the registry knows, then its other safe, low and medium commands in name order),
/// and the ids of its high and critical commands, in name order (what compromised agents drift to).
/// Name order, not the image's storage order, so the workloads do not change with the image layout.
pub fn command_pools() -> (Vec<u32>, Vec<u32>) {
    let reg = registry::builtin();
    let mut ids: Vec<u32> =
        POPULAR.iter().filter_map(|n| reg.get_by_name(n.as_bytes()).map(|e| e.id())).collect();
    let mut risky = Vec::new();
    let mut entries: Vec<_> = reg.iter().collect();
    entries.sort_unstable_by(|a, b| a.name().cmp(b.name()));
    for e in entries {
        if e.risk() >= Risk::High {
            risky.push(e.id());
        } else if !ids.contains(&e.id()) {
            ids.push(e.id());
        }
    }
    (ids, risky)
}

/// Parameters of a workload.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Workload {
    /// Number of agents (ids `0..agents`).
    pub agents: u32,
    /// Number of events (calls and outcomes together).
    pub events: u64,
    /// Fraction of agents compromised (0..=1).
    pub compromised: f64,
    /// Random seed.
    pub seed: u64,
}

/// What a generated workload really contains (written beside the stream as `FILE.truth.json`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Truth {
    /// The parameters.
    pub workload: Workload,
    /// Compromised agent ids, ascending.
    pub compromised: Vec<u32>,
    /// Sequence number from which compromised agents drift.
    pub onset_seq: u64,
    /// Calls in the stream.
    pub calls: u64,
    /// Outcomes in the stream.
    pub outcomes: u64,
}

/// SplitMix64: small, fast, deterministic.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A Zipf(s) sampler over `0..n` by inverse CDF.
#[derive(Clone, Debug)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// Ranks `0..n` with weight `1/(rank+1)^s`.
    pub fn new(n: usize, s: f64) -> Zipf {
        let mut acc = 0.0;
        let mut cdf: Vec<f64> = (0..n)
            .map(|k| {
                acc += 1.0 / ((k + 1) as f64).powf(s);
                acc
            })
            .collect();
        for c in &mut cdf {
            *c /= acc;
        }
        Zipf { cdf }
    }
    /// A rank.
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

/// Generates the workload into `out` (stream header and events). Returns the truth.
pub fn generate(w: &Workload, out: &mut impl Write) -> io::Result<Truth> {
    if w.agents == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "--agents must be at least 1"));
    }
    let mut rng = Rng::new(w.seed);
    let (ids, risky) = command_pools();
    let tools = Zipf::new(ids.len(), 1.1);
    let agents_zipf = Zipf::new(w.agents as usize, 0.6);
    // Agent activity is skewed too, but the busiest agents are spread over the id space.
    let perm: Vec<u32> = {
        let mut p: Vec<u32> = (0..w.agents).collect();
        for i in (1..p.len()).rev() {
            p.swap(i, rng.below(i as u64 + 1) as usize);
        }
        p
    };
    let n_bad = ((w.agents as f64 * w.compromised.clamp(0.0, 1.0)).round() as u32).min(w.agents);
    let mut bad_flags = vec![false; w.agents as usize];
    let mut compromised: Vec<u32> = Vec::new();
    while (compromised.len() as u32) < n_bad {
        let a = rng.below(w.agents as u64) as u32;
        if !bad_flags[a as usize] {
            bad_flags[a as usize] = true;
            compromised.push(a);
        }
    }
    compromised.sort_unstable();
    let onset_seq = w.events / 4;

    out.write_all(&StreamHeader::EVENTS.to_bytes())?;
    let mut buf = [0u8; EVENT_LEN];
    let (mut seq, mut now, mut calls, mut outcomes) = (0u64, 1_000_000u64, 0u64, 0u64);
    let mut emit = |ev: EventRepr, out: &mut dyn Write| -> io::Result<()> {
        ev.emit(&mut buf).map_err(io::Error::other)?;
        out.write_all(&buf)
    };
    // Every agent calls about once per `PER_AGENT_GAP_US` on average: the stream's clock advances by
    // that over the number of agents per call (uniform jitter, mean kept).
    let mean_gap = (PER_AGENT_GAP_US / w.agents as u64).max(2);
    while seq < w.events {
        let agent = perm[agents_zipf.sample(&mut rng)];
        let bad = bad_flags[agent as usize] && seq >= onset_seq;
        // Drift grows from 0 to 0.5 over the first quarter of the rest of the stream, then stays.
        let ramp = ((w.events - onset_seq) / 4).max(1);
        let drift = if bad { 0.5 * ((seq - onset_seq) as f64 / ramp as f64).min(1.0) } else { 0.0 };
        let burst_odds = if bad { 20 - (drift * 20.0) as u64 } else { 20 };
        let burst = if rng.below(burst_odds.max(2)) == 0 { 2 + rng.below(7) } else { 1 };
        now += 1 + rng.below(2 * mean_gap);
        for b in 0..burst {
            if seq >= w.events {
                break;
            }
            if b > 0 {
                now += 1_000 + rng.below(20_000);
            }
            let command = if bad && rng.unit() < drift.max(0.05) {
                risky[rng.below(risky.len() as u64) as usize]
            } else {
                ids[tools.sample(&mut rng)]
            };
            emit(EventRepr { seq, time_us: now, agent, command, outcome: None }, out)?;
            seq += 1;
            calls += 1;
            if seq < w.events && rng.below(10) < 8 {
                let fail = if bad { 0.05 + drift * 0.4 } else { 0.04 };
                let outcome = if rng.unit() < fail {
                    [Outcome::Error, Outcome::Denied, Outcome::Timeout][rng.below(3) as usize]
                } else {
                    Outcome::Success
                };
                // Time stays monotone across the stream (and so per agent).
                now += 1 + rng.below(mean_gap);
                emit(EventRepr { seq, time_us: now, agent, command, outcome: Some(outcome) }, out)?;
                seq += 1;
                outcomes += 1;
            }
        }
    }
    Ok(Truth { workload: *w, compromised, onset_seq, calls, outcomes })
}

/// Adds `base` to the agent id of every event of a stream (header + events), so that several streams
/// use disjoint agents. Stops at the first record that does not parse.
pub fn offset_agents(stream: &mut [u8], base: u32) {
    use tcap_core::wire::record::HEADER_LEN;
    if stream.len() < HEADER_LEN {
        return;
    }
    for rec in stream[HEADER_LEN..].chunks_exact_mut(EVENT_LEN) {
        let Ok(mut e) = EventRepr::parse(rec) else { return };
        e.agent = e.agent.wrapping_add(base);
        if e.emit(rec).is_err() {
            return;
        }
    }
}

/// The truth file path beside a workload file: `FILE.truth.json`.
pub fn truth_path(stream: &std::path::Path) -> std::path::PathBuf {
    let mut s = stream.as_os_str().to_owned();
    s.push(".truth.json");
    s.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tcap_core::wire::record::{HEADER_LEN, StreamKind, parse_events};

    #[test]
    fn deterministic_valid_and_skewed() {
        let w = Workload { agents: 50, events: 20_000, compromised: 0.2, seed: 7 };
        let mut a = Vec::new();
        let t = generate(&w, &mut a).unwrap();
        let mut b = Vec::new();
        assert_eq!(generate(&w, &mut b).unwrap(), t);
        assert_eq!(a, b, "same seed, same bytes");
        assert_eq!(a.len(), HEADER_LEN + 20_000 * EVENT_LEN);
        StreamHeader::parse(&a, StreamKind::Events).unwrap();
        let ls = tcap_core::wire::command_id(b"ls");
        let reg = registry::builtin();
        let risky = |id: u32| reg.get(id).is_some_and(|e| e.risk() >= Risk::High);
        // [benign, compromised after onset]: (calls, high-or-critical calls).
        let mut mix = [(0u32, 0u32); 2];
        let (mut n_ls, mut last_seq, mut last_time) = (0, None, 0);
        parse_events(&a[HEADER_LEN..], |e| {
            assert_eq!(last_seq.map_or(0, |s: u64| s + 1), e.seq);
            last_seq = Some(e.seq);
            assert!(e.time_us >= last_time, "time is monotone");
            last_time = e.time_us;
            assert!(e.agent < 50);
            assert!(reg.get(e.command).is_some(), "every command is a registry entry");
            if e.outcome.is_none() {
                n_ls += (e.command == ls) as u32;
                let bad = t.compromised.binary_search(&e.agent).is_ok();
                if !bad || e.seq >= t.onset_seq {
                    let m = &mut mix[bad as usize];
                    *m = (m.0 + 1, m.1 + risky(e.command) as u32);
                }
            }
        })
        .unwrap();
        assert_eq!(t.compromised.len(), 10);
        assert_eq!(t.calls + t.outcomes, 20_000);
        assert!(n_ls > 1000, "ls is the most popular tool: {n_ls}");
        let frac = |(n, r): (u32, u32)| r as f64 / n.max(1) as f64;
        assert!(frac(mix[0]) < 0.1, "benign agents mostly call safe to medium tools: {mix:?}");
        assert!(frac(mix[1]) > 2.0 * frac(mix[0]), "compromised agents drift to risky tools: {mix:?}");
        // Agents act every few seconds: the stream spans far more than the sum of its event count in µs.
        assert!(last_time > 20_000 * 1000, "realistic time span: {last_time} µs");
        let mut c = Vec::new();
        generate(&Workload { seed: 8, ..w }, &mut c).unwrap();
        assert_ne!(a, c);
    }
}
