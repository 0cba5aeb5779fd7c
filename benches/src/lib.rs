//! Shared helpers for tcap benchmarks and the instruction-count drivers in `benches/examples/`.

use tcap_core::behavior::Outcome;
use tcap_core::gate::{Call, CommandInfo, Observation};
use tcap_core::wire::{Flags, command_id};

/// SplitMix64: a tiny deterministic generator, so every driver sees the same inputs on every run.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The gate benchmarks' 32 commands (`cmd0..cmd31`) over five risk levels, sorted by id.
pub fn gate_commands() -> Vec<CommandInfo> {
    let risks = [
        (Flags::SAFE, 10),
        (Flags::LOW_RISK, 8),
        (Flags(Flags::MEDIUM_RISK.0 | Flags::FILE_MODIFICATION.0), 7),
        (Flags(Flags::HIGH_RISK.0 | Flags::SYSTEM_MODIFICATION.0), 4),
        (Flags(Flags::CRITICAL.0 | Flags::DESTRUCTIVE.0), 3),
    ];
    let mut v = Vec::new();
    let mut i = 0;
    for (flags, n) in risks {
        for _ in 0..n {
            v.push(CommandInfo::new(command_id(format!("cmd{i}").as_bytes()), flags));
            i += 1;
        }
    }
    v.sort_by_key(|e| e.id);
    v
}

/// Every command of the built-in registry (577), as the gate sees them, in the registry's order
/// (by name): the real workload's command set for the whole-gate benchmarks.
pub fn builtin_commands() -> Vec<CommandInfo> {
    tcap_core::registry::builtin()
        .iter()
        .map(|e| CommandInfo { id: e.id(), flags: e.flags(), risk: e.risk() })
        .collect()
}

/// `n` calls and their outcomes from `agents` agents (seed 42): skewed towards the low-risk commands,
/// 1% unknown commands, 5% errors.
pub fn gate_events(n: usize, agents: u32, cmds: &[CommandInfo]) -> (Vec<Call>, Vec<Observation>) {
    let mut r = Rng(42);
    let mut now = 0u64;
    let (mut calls, mut obs) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let len = cmds.len() as u64;
    for _ in 0..n {
        now += r.next_u64() % 2000;
        let agent = (r.next_u64() % agents as u64) as u32;
        let k = ((r.next_u64() % len) * (r.next_u64() % len) / len) as usize;
        let command = if r.next_u64().is_multiple_of(100) { 0x0bad_c0de } else { cmds[k].id };
        calls.push(Call { now, agent, command });
        let outcome = if r.next_u64().is_multiple_of(20) { Outcome::Error } else { Outcome::Success };
        obs.push(Observation { now: now + 1, agent, outcome });
    }
    (calls, obs)
}
