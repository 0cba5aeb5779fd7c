//! Scratch probe: quarantine/release cycles on the 1,024-node bench graph (for callgrind/cachegrind and
//! thread-CPU timing on a shared machine).
//!
//! `repair_probe K [ROUNDS]` quarantines and releases K nodes (`(i·97 + 5) mod 1024`), ROUNDS times
//! (default 1), and prints per round the mean quarantine time, wall and thread-CPU, then a checksum of
//! every route cost (equal checksums: equal tables). Instructions per quarantine:
//! `valgrind --tool=callgrind --toggle-collect='*quarantine_one*' target/release/examples/repair_probe 1024`,
//! total `Ir` divided by 1,024.
//!
//! Environment: `TCAP_HELPERS=k` repairs in `k + 1` shares with a `RepairPool` of `k` helper threads
//! (`TCAP_SPIN_US`: their spin before parking, default 5,000 µs); `TCAP_HUGE=1`, `TCAP_PERMUTE=seed`,
//! `TCAP_WARM=1` as documented below. Per round it also prints the 10th/50th/90th percentiles over the
//! nodes and the mean release time.
use std::hint::black_box;
use std::time::{Duration, Instant};
use tcap_core::network::{Network, NetworkConfig, NodeId, NodeState, RepairScratch};
const N: usize = 1024;
const D: usize = 16;
/// One quarantine, out of line so that callgrind can count it alone.
#[inline(never)]
fn quarantine_one(net: &mut Network<'_, D>, v: NodeId) {
    black_box(net.set_state(0, v, NodeState::Quarantined).unwrap());
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID is always supported on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let k: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(64);
    let rounds: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    // `TCAP_HUGE=1`: the route table on transparent huge pages (the caller's choice of memory).
    let huge = std::env::var("TCAP_HUGE").is_ok_and(|v| v == "1");
    let mut bufs = tcap_benches::BenchStorage::<D>::new(N, huge);
    // `TCAP_HELPERS=k`: the repair cut into k + 1 shares, k of them on helper threads.
    let helpers: usize = std::env::var("TCAP_HELPERS").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    // `TCAP_SPIN_US=µs`: how long helpers spin after a repair before they park (default 5,000).
    let spin: u64 = std::env::var("TCAP_SPIN_US").ok().and_then(|v| v.parse().ok()).unwrap_or(5000);
    let mut pool = tcap_driver::repair::RepairPool::<D>::new(helpers, Duration::from_micros(spin)).unwrap();
    let mut sw = vec![vec![0u64; RepairScratch::words(N)]; helpers];
    let mut sh = vec![vec![0u16; RepairScratch::halves(N)]; helpers];
    let mut scratch: Vec<RepairScratch<'_>> =
        sw.iter_mut().zip(&mut sh).map(|(w, h)| RepairScratch::new(N, w, h).unwrap()).collect();
    let mut net = Network::<D>::new(NetworkConfig::DEFAULT, N, bufs.storage()).unwrap();
    if helpers > 0 {
        net.set_parallel(&mut scratch, &mut pool).unwrap();
    }
    // `TCAP_PERMUTE=seed`: the same graph with its node ids randomly renumbered (the bench graph's ring
    // is in id order: neighbours on the ring share cache lines of every tree's block).
    let mut edges = tcap_benches::bench_graph(N, D);
    if let Some(seed) = std::env::var("TCAP_PERMUTE").ok().and_then(|v| v.parse::<u64>().ok()) {
        let mut perm: Vec<u32> = (0..N as u32).collect();
        let mut rng = tcap_benches::Rng(seed);
        for i in (1..N).rev() {
            perm.swap(i, rng.below(i as u64 + 1) as usize);
        }
        for e in &mut edges {
            (e.0, e.1) = (perm[e.0 as usize], perm[e.1 as usize]);
        }
    }
    net.add_edges(edges).unwrap();
    let mut each = Vec::with_capacity(k as usize);
    for r in 0..rounds {
        let (mut wall, mut cpu, mut rel) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        // `TCAP_WARM=1`: quarantine and release each node once untimed first (the table lines that
        // repair touches are then mostly cached): the difference to a cold run bounds the cost of misses.
        let warm = std::env::var("TCAP_WARM").is_ok_and(|v| v == "1");
        for i in 0..k {
            let v = (i * 97 + 5) % N as u32;
            if warm {
                quarantine_one(&mut net, v);
                net.set_state(0, v, NodeState::Healthy).unwrap();
            }
            let (t0, c0) = (Instant::now(), thread_cpu());
            quarantine_one(&mut net, v);
            cpu += thread_cpu() - c0;
            wall += t0.elapsed();
            each.push(t0.elapsed());
            let t1 = Instant::now();
            net.set_state(0, v, NodeState::Healthy).unwrap();
            rel += t1.elapsed();
        }
        each.sort();
        let pct = |p: usize| each[(each.len() - 1) * p / 100];
        eprintln!("round {r}: quarantine p10 {:?} p50 {:?} p90 {:?}", pct(10), pct(50), pct(90));
        each.clear();
        eprintln!(
            "round {r}: quarantine mean wall {:?} thread-cpu {:?} (release {:?})",
            wall / k,
            cpu / k,
            rel / k
        );
    }
    let mut sum = 0u64;
    for s in 0..N as NodeId {
        for t in 0..N as NodeId {
            sum = sum.wrapping_mul(31).wrapping_add(u64::from(net.route_cost(s, t).unwrap_or(u32::MAX)));
        }
    }
    eprintln!("route-cost checksum {sum:016x}");
}
