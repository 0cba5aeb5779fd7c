//! Synthetic workloads: realistic event streams for demos, tests and benchmarks.
//!
//! Agents call tools with Zipf-skewed popularity over ~100 real command names (benign, read-only tools
//! are the popular ones), in bursts, and most calls are followed by an outcome. A fraction of agents is
//! compromised: from an onset point onwards they drift towards high-risk tools and fail more often,
//! with a drift that grows over time (subtle at first). The truth (which agents, from when) is written
//! beside the stream as JSON.

use std::io::{self, Write};

use serde::{Deserialize, Serialize};
use tcap_core::wire::Risk;
use tcap_core::wire::record::{EVENT_LEN, EventRepr, Outcome, StreamHeader};

/// Built-in command names with a plausible risk, ordered by popularity (most popular first). The
/// registry will supply real names and descriptors later; ids are `command_id(name)`.
pub const COMMANDS: &[(&str, Risk)] = &[
    ("ls", Risk::Safe),
    ("cat", Risk::Safe),
    ("grep", Risk::Safe),
    ("git status", Risk::Low),
    ("echo", Risk::Safe),
    ("cd", Risk::Safe),
    ("pwd", Risk::Safe),
    ("head", Risk::Safe),
    ("git diff", Risk::Low),
    ("find", Risk::Low),
    ("tail", Risk::Safe),
    ("wc", Risk::Safe),
    ("sed", Risk::Medium),
    ("python3", Risk::Medium),
    ("git log", Risk::Low),
    ("sort", Risk::Safe),
    ("awk", Risk::Low),
    ("mkdir", Risk::Medium),
    ("cp", Risk::Medium),
    ("git add", Risk::Medium),
    ("git commit", Risk::Medium),
    ("diff", Risk::Safe),
    ("cargo build", Risk::Medium),
    ("make", Risk::Medium),
    ("npm install", Risk::Medium),
    ("mv", Risk::Medium),
    ("touch", Risk::Medium),
    ("jq", Risk::Safe),
    ("uniq", Risk::Safe),
    ("cut", Risk::Safe),
    ("tr", Risk::Safe),
    ("stat", Risk::Safe),
    ("file", Risk::Safe),
    ("du", Risk::Low),
    ("df", Risk::Low),
    ("ps", Risk::Low),
    ("which", Risk::Safe),
    ("env", Risk::Low),
    ("date", Risk::Safe),
    ("whoami", Risk::Safe),
    ("uname", Risk::Safe),
    ("tree", Risk::Safe),
    ("less", Risk::Safe),
    ("basename", Risk::Safe),
    ("dirname", Risk::Safe),
    ("realpath", Risk::Safe),
    ("pip install", Risk::Medium),
    ("node", Risk::Medium),
    ("curl", Risk::Medium),
    ("wget", Risk::Medium),
    ("tar", Risk::Medium),
    ("gzip", Risk::Medium),
    ("unzip", Risk::Medium),
    ("git push", Risk::Medium),
    ("git clone", Risk::Medium),
    ("git checkout", Risk::Medium),
    ("ln", Risk::Medium),
    ("chmod", Risk::Medium),
    ("top", Risk::Low),
    ("free", Risk::Low),
    ("uptime", Risk::Safe),
    ("hostname", Risk::Low),
    ("id", Risk::Low),
    ("lsof", Risk::Low),
    ("ss", Risk::Low),
    ("ip", Risk::Low),
    ("dig", Risk::Low),
    ("ping", Risk::Low),
    ("ssh", Risk::High),
    ("scp", Risk::High),
    ("rsync", Risk::Medium),
    ("kill", Risk::High),
    ("docker run", Risk::High),
    ("sudo", Risk::High),
    ("chown", Risk::High),
    ("systemctl", Risk::High),
    ("crontab", Risk::High),
    ("apt-get", Risk::High),
    ("mount", Risk::High),
    ("nc", Risk::High),
    ("iptables", Risk::High),
    ("useradd", Risk::High),
    ("passwd", Risk::High),
    ("su", Risk::High),
    ("umount", Risk::High),
    ("rm", Risk::Critical),
    ("dd", Risk::Critical),
    ("shred", Risk::Critical),
    ("mkfs", Risk::Critical),
    ("fdisk", Risk::Critical),
    ("insmod", Risk::Critical),
    ("rmmod", Risk::Critical),
    ("modprobe", Risk::Critical),
    ("chroot", Risk::Critical),
    ("nsenter", Risk::Critical),
    ("reboot", Risk::Critical),
    ("shutdown", Risk::Critical),
    ("setenforce", Risk::Critical),
    ("auditctl", Risk::Critical),
    ("history -c", Risk::Critical),
];

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
    let ids: Vec<u32> = COMMANDS.iter().map(|(n, _)| tcap_core::wire::command_id(n.as_bytes())).collect();
    let risky: Vec<usize> = (0..COMMANDS.len()).filter(|&i| COMMANDS[i].1 >= Risk::High).collect();
    let tools = Zipf::new(COMMANDS.len(), 1.1);
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
    while seq < w.events {
        let agent = perm[agents_zipf.sample(&mut rng)];
        let bad = bad_flags[agent as usize] && seq >= onset_seq;
        // Drift grows from 0 to 0.5 over the rest of the stream.
        let drift =
            if bad { 0.5 * (seq - onset_seq) as f64 / (w.events - onset_seq).max(1) as f64 } else { 0.0 };
        let burst = if rng.below(20) == 0 { 2 + rng.below(7) } else { 1 };
        for _ in 0..burst {
            if seq >= w.events {
                break;
            }
            now += 1 + rng.below(if burst > 1 { 4 } else { 40 });
            let tool = if bad && rng.unit() < drift.max(0.05) {
                risky[rng.below(risky.len() as u64) as usize]
            } else {
                tools.sample(&mut rng)
            };
            let command = ids[tool];
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
                now += 1;
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
        let rm = tcap_core::wire::command_id(b"rm");
        let (mut n_ls, mut n_rm_good, mut n_rm_bad, mut last_seq) = (0, 0, 0, None);
        parse_events(&a[HEADER_LEN..], |e| {
            assert_eq!(last_seq.map_or(0, |s: u64| s + 1), e.seq);
            last_seq = Some(e.seq);
            assert!(e.agent < 50);
            if e.outcome.is_none() {
                n_ls += (e.command == ls) as u32;
                if e.command == rm {
                    if t.compromised.binary_search(&e.agent).is_ok() { n_rm_bad += 1 } else { n_rm_good += 1 }
                }
            }
        })
        .unwrap();
        assert_eq!(t.compromised.len(), 10);
        assert_eq!(t.calls + t.outcomes, 20_000);
        assert!(n_ls > 1000, "ls is the most popular tool: {n_ls}");
        assert!(n_rm_bad > n_rm_good, "compromised agents use rm more: {n_rm_bad} vs {n_rm_good}");
        let mut c = Vec::new();
        generate(&Workload { seed: 8, ..w }, &mut c).unwrap();
        assert_ne!(a, c);
    }
}
