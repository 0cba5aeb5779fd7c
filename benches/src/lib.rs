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
    /// A value below `n` (`n > 0`; modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
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

/// The benchmarks' peer for the behaviour update: a plain per-agent f64 Welford mean/variance of the
/// risk weight, EWMAs of inter-arrival time and error rate, and a decaying score with three thresholds.
#[derive(Clone, Copy, Default)]
pub struct PeerState {
    n: f64,
    mean: f64,
    m2: f64,
    ia: f64,
    err: f64,
    score: f64,
    last: u64,
    status: u8,
}

impl PeerState {
    /// A call of risk code `risk` at `now`; returns the status (0..=3).
    #[inline(always)]
    pub fn call(&mut self, now: u64, risk: u8) -> u8 {
        let x = [0.0, 1.0, 4.0, 12.0, 32.0, 16.0][risk.min(5) as usize];
        self.n += 1.0;
        let d = x - self.mean;
        self.mean += d / self.n;
        self.m2 += d * (x - self.mean);
        let dt = now.saturating_sub(self.last) as f64;
        self.last = now;
        self.ia = 0.9 * self.ia + 0.1 * dt;
        let var = self.m2 / self.n;
        self.score = 0.99 * self.score + if d * d > 4.0 * var { 1.0 } else { -0.1 };
        self.score = self.score.max(0.0);
        self.status = (self.score >= 6.0) as u8 + (self.score >= 12.0) as u8 + (self.score >= 24.0) as u8;
        self.status
    }
    /// Time of the last call (the bench's look-ahead reads it to bring the state into the cache).
    #[inline(always)]
    pub fn last(&self) -> u64 {
        self.last
    }
    /// The outcome of the last call.
    #[inline(always)]
    pub fn outcome(&mut self, o: Outcome) {
        self.err = 0.95 * self.err + 0.05 * (o != Outcome::Success) as u8 as f64;
        self.score += self.err;
    }
}

/// The network benchmarks' graph on `n` nodes: a ring (for connectivity) plus 3 random chords per
/// node, at most `max_degree` edges per node, weights 1..=16 (seed 7): about 8 edges per node.
pub fn bench_graph(n: usize, max_degree: usize) -> Vec<(u32, u32, u16)> {
    let mut rng = Rng(7);
    let mut below = |m: u64| rng.below(m);
    let mut seen = std::collections::HashSet::new();
    let mut deg = vec![0usize; n];
    let mut edges = Vec::new();
    let mut push = |a: u64, b: u64, w: u16| {
        let (a, b) = (a as usize, b as usize);
        if a != b && deg[a] < max_degree && deg[b] < max_degree && seen.insert((a.min(b), a.max(b))) {
            deg[a] += 1;
            deg[b] += 1;
            edges.push((a as u32, b as u32, w));
        }
    };
    for i in 0..n as u64 {
        let w = 1 + below(16) as u16;
        push(i, (i + 1) % n as u64, w);
    }
    for i in 0..n as u64 {
        for _ in 0..3 {
            let (b, w) = (below(n as u64), 1 + below(16) as u16);
            push(i, b, w);
        }
    }
    edges
}

/// Caller storage for a [`Network`](tcap_core::network::Network) of `len` nodes whose route table
/// (the only large part: `8·len²` bytes) may be backed by 2 MiB transparent huge pages: the caller
/// owns the memory, so this is the caller's choice (`madvise(MADV_HUGEPAGE)` before the pages are
/// first touched; the kernel's THP mode here is `madvise`). With 4 KiB pages an 8 MiB table spans
/// 2,048 pages, and a repair that touches a few hundred trees walks the page tables for most of them.
pub struct BenchStorage<const D: usize> {
    nodes: Vec<tcap_core::network::NodeSlot>,
    adjacency: Vec<tcap_core::network::Adjacency<D>>,
    words: Vec<u64>,
    scratch: Vec<u16>,
    table: Vec<tcap_core::network::RouteSlot>,
    /// Where the table starts in `table` (aligned to 2 MiB when huge pages were asked for).
    off: usize,
    len: usize,
}

impl<const D: usize> BenchStorage<D> {
    /// Storage for `len` nodes; `huge`: back the route table with transparent huge pages if the kernel
    /// allows it (otherwise ordinary pages, silently).
    pub fn new(len: usize, huge: bool) -> Self {
        use tcap_core::network::{Adjacency, NodeSlot, RouteSlot, storage_len};
        const HUGE: usize = 2 << 20;
        let l = storage_len(len);
        let slot = std::mem::size_of::<RouteSlot>();
        let extra = if huge { HUGE / slot } else { 0 };
        let mut table: Vec<RouteSlot> = Vec::with_capacity(l.table + extra);
        let mut off = 0;
        if huge {
            let p = table.as_ptr() as usize;
            off = (HUGE - p % HUGE) % HUGE / slot;
            let start = p + off * slot;
            let bytes = l.table * slot / HUGE * HUGE;
            if bytes > 0 {
                // SAFETY: `[start, start + bytes)` lies inside the allocation of `table` (capacity
                // `l.table + extra` slots, `start` at most `extra` slots in): madvise only changes how
                // the kernel backs these pages, which nothing has touched yet.
                unsafe { libc::madvise(start as *mut libc::c_void, bytes, libc::MADV_HUGEPAGE) };
            }
        }
        table.resize(off + l.table, RouteSlot::EMPTY);
        BenchStorage {
            nodes: vec![NodeSlot::EMPTY; l.nodes],
            adjacency: vec![Adjacency::EMPTY; l.adjacency],
            words: vec![0; l.words],
            scratch: vec![0; l.scratch],
            table,
            off,
            len,
        }
    }

    /// The parts, for [`Network::new`](tcap_core::network::Network::new).
    pub fn storage(&mut self) -> tcap_core::network::NetworkStorage<'_, D> {
        let n = tcap_core::network::storage_len(self.len).table;
        tcap_core::network::NetworkStorage {
            nodes: &mut self.nodes,
            adjacency: &mut self.adjacency,
            words: &mut self.words,
            scratch: &mut self.scratch,
            table: &mut self.table[self.off..self.off + n],
        }
    }
}

/// `rounds` calls (each followed by a successful outcome) for each of `agents` agents, agent by
/// agent, spread over `cmds`: brings every agent past the gate's warm-up (64 calls by default) for
/// steady-state measurements.
pub fn warm_up_gate<L: tcap_core::gate::Lookup>(
    g: &mut tcap_core::gate::Gate<'_, L>,
    cmds: &[CommandInfo],
    agents: u32,
    rounds: u32,
) {
    let mut now = 0u64;
    for r in 0..rounds {
        for a in 0..agents {
            now += 1;
            let c = cmds[(a as usize * 7 + r as usize) % cmds.len()].id;
            std::hint::black_box(g.check(now, a, tcap_core::gate::Command::Id(c), &()).ok());
            std::hint::black_box(g.observe(now, a, Outcome::Success).ok());
        }
    }
}

/// Conditions of this machine that make large-memory figures unreliable, one line each (empty when
/// none is found). Today: a running DAMON `kdamond` (Linux data-access monitoring; on the benchmark VM
/// it runs a `pageout` scheme on physical memory, and the 1M-agent rows were bimodal from run to run,
/// 20–35 ns in some runs and 90–430 ns in others, peers included).
pub fn environment_warnings() -> Vec<String> {
    let mut out = Vec::new();
    let dir = std::path::Path::new("/sys/kernel/mm/damon/admin/kdamonds");
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let state = std::fs::read_to_string(e.path().join("state")).unwrap_or_default();
            if state.trim() == "on" {
                out.push(format!(
                    "warning: DAMON kdamond {} is on ({}): large-memory rows (1M agents) may be bimodal from run to run",
                    e.file_name().to_string_lossy(),
                    e.path().display()
                ));
            }
        }
    }
    out
}
