//! dudect-style timing-leak test of the gate's constant-time path, [`Gate::check_ct`], against the
//! normal path [`Gate::check_with_anomaly`] (which is expected to leak: that shows the test has power).
//!
//! ```text
//! dudect [MEASUREMENTS_PER_CLASS]     # default 1,000,000; `make ct-bench` pins it to one core
//! ```
//!
//! Design (Reparaz, Balasch, Verbauwhede, "Dude, is my code constant time?", 2017): for each class pair
//! the inputs of class 0 are fixed and those of class 1 random; the class of each measurement is drawn
//! at random, so drifts of the machine hit both classes alike. Before every measurement the agent state,
//! the population statistics and the policy are copied in (`Gate::restore`, `Gate::set_policy`, outside
//! the timed region), so both classes do the same work but for the secret. One measurement = the cycles
//! of one call, read with `mfence; lfence; rdtsc; lfence` on both sides. Welch's t is computed online (Welford
//! mean/variance per class) on all measurements and, as separate tests, on those below each of 32
//! percentiles of the first 10,000 (dudect's cropping of the heavy upper tail); the report is the
//! largest |t| of each pair. |t| < 4.5 passes.
//!
//! Pairs (the secret; agent id, time and network state are public and equal in both classes):
//! * `score`: a trusted agent with a low score vs one of 256 agents driven to random scores and statuses
//!   (Restricted among them) by the same call times, different commands and outcomes;
//! * `known`: a known command id vs a random (unknown) id;
//! * `policy`: `Policy::DEFAULT` vs one of 256 random valid policies.
//!
//! Then the cost of both paths in ns per call (1k agents, random commands, a plain loop). Exits 1 when a
//! `check_ct` pair reaches |t| >= 4.5 (`check` is expected to leak and does not count).
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Instant;
use tcap_core::behavior::{AgentState, AgentStatus, Config, Outcome, Population, PopulationView};
use tcap_core::gate::{Command, CommandInfo, Decision, Gate, Policy, SliceLookup};
use tcap_core::wire::Risk;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Cycles, with the reads serialised so that the measured call neither starts early nor ends late.
#[inline(always)]
fn cycles() -> u64 {
    use core::arch::x86_64::{_mm_lfence, _mm_mfence, _rdtsc};
    // SAFETY: `mfence` and `lfence` (SSE2) and `rdtsc` exist on every x86_64 CPU, take no pointers and only read the
    // time-stamp counter; nothing else is touched.
    unsafe {
        _mm_mfence(); // drain the stores of the preparation (the copied-in state) first
        _mm_lfence();
        let t = _rdtsc();
        _mm_lfence();
        t
    }
}

/// A fixed run of taken/not-taken branches, so that the branch history the measured call starts with
/// is the same for both classes (the preparation above branches differently per class).
#[inline(never)]
fn flush_history() {
    let mut x = 0u32;
    for i in 0..256u32 {
        if black_box(i) & 1 == 0 {
            x = x.wrapping_add(i);
        }
    }
    black_box(x);
}

/// Online mean and variance (Welford) of one class.
#[derive(Clone, Copy, Default)]
struct Moments {
    n: f64,
    mean: f64,
    m2: f64,
}
impl Moments {
    fn push(&mut self, x: f64) {
        self.n += 1.0;
        let d = x - self.mean;
        self.mean += d / self.n;
        self.m2 += d * (x - self.mean);
    }
    fn var(&self) -> f64 {
        if self.n < 2.0 { 0.0 } else { self.m2 / (self.n - 1.0) }
    }
}

/// Welch's t between two classes.
#[derive(Clone, Copy, Default)]
struct TTest([Moments; 2]);
impl TTest {
    fn push(&mut self, class: usize, x: f64) {
        self.0[class].push(x);
    }
    fn t(&self) -> f64 {
        let [a, b] = self.0;
        let se = (a.var() / a.n + b.var() / b.n).sqrt();
        if se == 0.0 { 0.0 } else { (a.mean - b.mean) / se }
    }
}

const CROPS: usize = 32;
const CALIBRATE: usize = 10_000;

/// One uncropped test plus one per cropping threshold, as dudect does.
struct Tests {
    thresholds: Vec<u64>,
    all: TTest,
    cropped: Vec<TTest>,
    calib: Vec<u64>,
}
impl Tests {
    fn new() -> Tests {
        Tests {
            thresholds: Vec::new(),
            all: TTest::default(),
            cropped: vec![TTest::default(); CROPS],
            calib: Vec::new(),
        }
    }
    fn push(&mut self, class: usize, c: u64) {
        if self.thresholds.is_empty() {
            self.calib.push(c);
            if self.calib.len() == CALIBRATE {
                self.calib.sort_unstable();
                // dudect's percentiles: 1 - 0.5^(10 (k+1) / CROPS), from ~0.2 to 0.999.
                self.thresholds = (0..CROPS)
                    .map(|k| {
                        let p = 1.0 - 0.5f64.powf(10.0 * (k + 1) as f64 / CROPS as f64);
                        self.calib[((p * CALIBRATE as f64) as usize).min(CALIBRATE - 1)]
                    })
                    .collect();
            }
            return; // the calibration measurements (warm-up) are not tested
        }
        self.all.push(class, c as f64);
        for (t, &th) in self.cropped.iter_mut().zip(&self.thresholds) {
            if c < th {
                t.push(class, c as f64);
            }
        }
    }
    /// (max |t|, which test: 0 = uncropped, k = k-th threshold; mean cycles of class 0, class 1).
    fn report(&self) -> (f64, usize, f64, f64) {
        let mut best = (self.all.t().abs(), 0);
        for (k, t) in self.cropped.iter().enumerate() {
            if t.0[0].n > 1000.0 && t.0[1].n > 1000.0 && t.t().abs() > best.0 {
                best = (t.t().abs(), k + 1);
            }
        }
        (best.0, best.1, self.all.0[0].mean, self.all.0[1].mean)
    }
}

/// A random valid policy (never Allow for Unknown).
fn random_policy(r: &mut Rng) -> Policy {
    let mut p = Policy::DEFAULT;
    for risk in Risk::ALL {
        for s in AgentStatus::ALL {
            let lo = if risk == Risk::Unknown { 1 } else { 0 };
            p.set(risk, s, Decision::from_u8_saturating((lo + r.below(5 - lo)) as u8));
        }
    }
    p
}

const CALL_GAP: u64 = 700_000;
const HISTORY: usize = 300;

/// Agent states after `HISTORY` calls at the same times: benign ones (safe and low commands, successes)
/// and drifting ones (a random share of high/critical commands and failures).
fn agent_states(
    cmds: &[CommandInfo],
    r: &mut Rng,
) -> (AgentState, Vec<AgentState>, Population, PopulationView) {
    let n = 257;
    let mut states = vec![AgentState::FRESH; n];
    let lookup = SliceLookup::new(cmds).unwrap();
    let mut g = Gate::new(lookup, Policy::DEFAULT, Config::DEFAULT, &mut states).unwrap();
    let benign: Vec<u32> = cmds.iter().filter(|c| c.risk <= Risk::Low).map(|c| c.id).collect();
    let risky: Vec<u32> = cmds.iter().filter(|c| c.risk >= Risk::High).map(|c| c.id).collect();
    let drift: Vec<usize> = (0..n).map(|a| if a == 0 { 0 } else { r.below(101) }).collect();
    for i in 0..HISTORY {
        let now = (i as u64 + 1) * CALL_GAP;
        for (a, &d) in drift.iter().enumerate() {
            let late = i >= HISTORY / 3;
            let bad = late && r.below(100) < d;
            let id = if bad { risky[r.below(risky.len())] } else { benign[r.below(benign.len())] };
            g.check(now, a as u32, Command::Id(id), &()).unwrap();
            let o = if bad && r.below(2) == 0 { Outcome::Error } else { Outcome::Success };
            g.observe(now + 10, a as u32, o).unwrap();
        }
    }
    let (pop, view) = (g.population(), g.population_view());
    let all = g.agents().to_vec();
    (all[0], all[1..].to_vec(), pop, view)
}

#[derive(Clone, Copy, PartialEq)]
enum Path {
    Ct,
    Normal,
}

#[derive(Clone, Copy)]
enum Pair {
    /// A/A control: class 1 goes through the same random pool picks but gets the fixed inputs.
    Control,
    Score,
    Known,
    Policy,
}

struct Inputs<'a> {
    cmds: &'a [CommandInfo],
    fixed_state: AgentState,
    states: &'a [AgentState],
    pop: Population,
    view: PopulationView,
    policies: &'a [Policy],
}

/// The inputs of one measurement: the agent's state, the command id and the policy.
type Input = (AgentState, u32, Policy);

/// 256 inputs per class; class 0 repeats the fixed input, so both classes run the same preparation
/// code (a random pick from a pool) and differ only in the data.
fn pools(inp: &Inputs<'_>, pair: Pair, r: &mut Rng) -> [Vec<Input>; 2] {
    let known = inp.cmds[inp.cmds.len() / 2].id;
    let fixed = (inp.fixed_state, known, Policy::DEFAULT);
    let random: Vec<Input> = (0..256)
        .map(|i| match pair {
            Pair::Control => fixed,
            Pair::Score => (inp.states[i % inp.states.len()], known, Policy::DEFAULT),
            Pair::Known => (inp.fixed_state, r.next() as u32, Policy::DEFAULT),
            Pair::Policy => (inp.fixed_state, known, inp.policies[i % inp.policies.len()]),
        })
        .collect();
    [vec![fixed; 256], random]
}

fn run(inp: &Inputs<'_>, pair: Pair, path: Path, per_class: usize, seed: u64) -> Tests {
    let mut r = Rng(seed);
    let pools = pools(inp, pair, &mut r);
    let mut slot = [inp.fixed_state];
    let lookup = SliceLookup::new(inp.cmds).unwrap();
    let mut g = Gate::new(lookup, Policy::DEFAULT, Config::DEFAULT, &mut slot).unwrap();
    let now = (HISTORY as u64 + 1) * CALL_GAP;
    let mut tests = Tests::new();
    let mut n = [0usize; 2];
    while n[0] < per_class || n[1] < per_class {
        let class = (r.next() & 1) as usize;
        n[class] += 1;
        // Prepare this measurement's inputs (untimed).
        let (state, id, policy) = pools[class][r.below(256)];
        g.restore(&[state], inp.pop, inp.view).unwrap();
        g.set_policy(policy);
        let cmd = black_box(Command::Id(id));
        flush_history();
        let t0 = cycles();
        let v = match path {
            Path::Ct => g.check_ct(now, 0, cmd, &(), 0),
            Path::Normal => g.check_with_anomaly(now, 0, cmd, &(), 0),
        };
        let t1 = cycles();
        black_box(v.ok());
        tests.push(class, t1.wrapping_sub(t0));
    }
    tests
}

/// ns per call of both paths over 1k agents, random known/unknown commands, random policy rows.
fn cost(cmds: &[CommandInfo], path: Path) -> f64 {
    const CALLS: usize = 1 << 16;
    let mut r = Rng(7);
    let ids: Vec<(u32, u32)> = (0..CALLS)
        .map(|_| {
            let id = if r.below(100) == 0 { r.next() as u32 } else { cmds[r.below(cmds.len())].id };
            (r.below(1000) as u32, id)
        })
        .collect();
    let mut best = f64::MAX;
    for _ in 0..15 {
        let mut states = vec![AgentState::FRESH; 1000];
        let mut g = Gate::new(SliceLookup::new(cmds).unwrap(), Policy::DEFAULT, Config::DEFAULT, &mut states)
            .unwrap();
        let t = Instant::now();
        let mut now = 0;
        for &(agent, id) in &ids {
            now += 500;
            let v = match path {
                Path::Ct => g.check_ct(now, agent, Command::Id(id), &(), 0),
                Path::Normal => g.check_with_anomaly(now, agent, Command::Id(id), &(), 0),
            };
            black_box(v.ok());
        }
        best = best.min(t.elapsed().as_nanos() as f64 / CALLS as f64);
    }
    best
}

fn main() {
    let per_class: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let mut r = Rng(0x5eed);
    let cmds = tcap_benches::gate_commands();
    let (fixed_state, states, pop, view) = agent_states(&cmds, &mut r);
    let statuses = states.iter().fold([0usize; 4], |mut a, s| {
        a[s.status as usize] += 1;
        a
    });
    println!(
        "pool: fixed agent status {} score {}; random agents by status (T/M/R/Q) {:?}, scores {}..{}",
        fixed_state.status,
        fixed_state.score,
        statuses,
        states.iter().map(|s| s.score).min().unwrap(),
        states.iter().map(|s| s.score).max().unwrap()
    );
    let policies: Vec<Policy> = (0..256).map(|_| random_policy(&mut r)).collect();
    let inp = Inputs { cmds: &cmds, fixed_state, states: &states, pop, view, policies: &policies };
    println!(
        "{per_class} measurements per class; max |t| over the uncropped test and {CROPS} crops; pass < 4.5"
    );
    println!(
        "{:<8} {:<7} {:>9} {:>6} {:>12} {:>12}  verdict",
        "pair", "path", "max|t|", "test", "cyc fixed", "cyc random"
    );
    let mut ct_leaks = 0;
    for (name, pair) in
        [("control", Pair::Control), ("score", Pair::Score), ("known", Pair::Known), ("policy", Pair::Policy)]
    {
        for (pname, path) in [("ct", Path::Ct), ("check", Path::Normal)] {
            let t0 = Instant::now();
            let tests = run(&inp, pair, path, per_class, 0xd0de ^ name.len() as u64);
            let (t, k, m0, m1) = tests.report();
            let verdict = if t < 4.5 { "ok" } else { "LEAK" };
            if t >= 4.5 && path == Path::Ct {
                ct_leaks += 1;
            }
            println!(
                "{name:<8} {pname:<7} {t:>9.2} {k:>6} {m0:>12.1} {m1:>12.1}  {verdict} ({:.1} s)",
                t0.elapsed().as_secs_f64()
            );
        }
    }
    let (ct, normal) = (cost(&cmds, Path::Ct), cost(&cmds, Path::Normal));
    println!("cost: check_ct {ct:.1} ns/call, check {normal:.1} ns/call, ratio {:.2}x", ct / normal);
    if ct_leaks > 0 {
        eprintln!("check_ct: {ct_leaks} pair(s) at |t| >= 4.5 (rerun once: a busy machine can do this)");
        std::process::exit(1);
    }
}
