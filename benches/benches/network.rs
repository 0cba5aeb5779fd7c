//! `core::network` benchmarks, each against a peer in the same run:
//! * `route`: [`Network::route`] vs a `hashbrown::HashMap<(src, dst), next>` holding the same table;
//! * `vote`: [`Network::vote`] vs a `HashSet` of (voter, accused) plus per-accused counters;
//! * `repair`: quarantining one node (incremental repair) vs `rebuild_routes` (full recomputation, the
//!   naive oracle), on 1,024 nodes with about 8 edges each.
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use hashbrown::{HashMap, HashSet};
use tcap_benches::Rng;
use tcap_core::network::{
    Network, NetworkBuffers, NetworkConfig, NodeId, NodeState, RepairScratch, RepairScratchBuffers,
};
use tcap_driver::repair::RepairPool;

const N: usize = 1024;
const D: usize = 16;
type Net<'t> = Network<'t, D>;

/// The shared benchmark graph ([`tcap_benches::bench_graph`]): a ring plus 3 random chords per node,
/// about 8 edges per node, weights 1..=16.
fn build(cfg: NetworkConfig, bufs: &mut NetworkBuffers<D>) -> Net<'_> {
    let mut net = Net::new(cfg, N, bufs.storage()).expect("network");
    net.add_edges(tcap_benches::bench_graph(N, D)).expect("edges were filtered");
    net
}

fn tables() -> NetworkBuffers<D> {
    NetworkBuffers::new(N)
}

fn bench_route(c: &mut Criterion) {
    let mut tb = tables();
    let net = build(NetworkConfig::DEFAULT, &mut tb);
    let mut rng = Rng(11);
    let pairs: Vec<(NodeId, NodeId)> =
        (0..4096).map(|_| (rng.below(N as u64) as NodeId, rng.below(N as u64) as NodeId)).collect();
    let mut map: HashMap<(NodeId, NodeId), NodeId> = HashMap::new();
    for s in 0..N as NodeId {
        for t in 0..N as NodeId {
            if let Ok(h) = net.route(s, t) {
                map.insert((s, t), h);
            }
        }
    }
    let mut g = c.benchmark_group("network/route");
    g.throughput(Throughput::Elements(pairs.len() as u64));
    g.bench_function("tcap_route", |b| {
        b.iter(|| {
            let mut acc = 0u32;
            for &(s, t) in &pairs {
                acc = acc.wrapping_add(net.route(black_box(s), black_box(t)).unwrap_or(0));
            }
            acc
        })
    });
    g.bench_function("peer_hashmap", |b| {
        b.iter(|| {
            let mut acc = 0u32;
            for &(s, t) in &pairs {
                acc = acc.wrapping_add(map.get(&(black_box(s), black_box(t))).copied().unwrap_or(0));
            }
            acc
        })
    });
    g.finish();
}

fn bench_vote(c: &mut Criterion) {
    // Fraction 2/3: 64 votes per accused on average never convict or acquit, so this measures the vote
    // itself (checks, bitset update, counters, threshold test), not a repair.
    let cfg = NetworkConfig { vote_num: 2, vote_den: 3, ..NetworkConfig::DEFAULT };
    let mut tb = tables();
    let mut net = build(cfg, &mut tb);
    let mut rng = Rng(13);
    let votes: Vec<(NodeId, NodeId, bool)> = (0..65_536)
        .map(|_| {
            let v = rng.below(N as u64) as NodeId;
            let a = (v + 1 + rng.below(N as u64 - 1) as NodeId) % N as NodeId;
            (v, a, rng.below(10) < 3)
        })
        .collect();
    let mut g = c.benchmark_group("network/vote");
    g.throughput(Throughput::Elements(votes.len() as u64));
    g.bench_function("tcap_vote", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                for a in 0..N as NodeId {
                    net.clear_votes(a).expect("in range");
                }
                let t0 = Instant::now();
                for &(v, a, guilty) in &votes {
                    let _ = black_box(net.vote(0, black_box(v), a, guilty));
                }
                total += t0.elapsed();
            }
            total
        })
    });
    g.bench_function("peer_hashset", |b| {
        b.iter_batched_ref(
            || (HashSet::<(NodeId, NodeId)>::with_capacity(votes.len()), vec![(0u32, 0u32); N]),
            |(seen, counts)| {
                let eligible = (N - 1) as u64;
                for &(v, a, guilty) in &votes {
                    if seen.insert((black_box(v), a)) {
                        let c = &mut counts[a as usize];
                        if guilty {
                            c.0 += 1;
                        } else {
                            c.1 += 1;
                        }
                        black_box(u64::from(c.0) * 3 > 2 * eligible);
                    }
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// `iters` quarantines of the nodes `v + 97`, `v + 2·97`, … (each released afterwards, untimed): their
/// total time.
fn quarantines(net: &mut Net<'_>, v: &mut u32, iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        *v = (*v + 97) % N as u32;
        let t0 = Instant::now();
        black_box(net.set_state(0, *v, NodeState::Quarantined).expect("in range"));
        total += t0.elapsed();
        net.set_state(0, *v, NodeState::Healthy).expect("in range");
    }
    total
}

fn bench_repair(c: &mut Criterion) {
    let mut tb = tables();
    let mut net = build(NetworkConfig::DEFAULT, &mut tb);
    let mut g = c.benchmark_group("network/repair");
    let mut v = 0u32;
    g.bench_function("tcap_quarantine_one_incremental", |b| {
        b.iter_custom(|iters| quarantines(&mut net, &mut v, iters))
    });
    g.bench_function("tcap_release_one_incremental", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                v = (v + 97) % N as u32;
                net.set_state(0, v, NodeState::Quarantined).expect("in range");
                let t0 = Instant::now();
                black_box(net.set_state(0, v, NodeState::Healthy).expect("in range"));
                total += t0.elapsed();
            }
            total
        })
    });
    g.sample_size(10);
    g.bench_function("oracle_full_recompute", |b| b.iter(|| net.rebuild_routes()));
    // The same repairs cut into two shares, one on a helper thread (`tcap_driver::repair::RepairPool`).
    let (mut pool, mut sb) = pool(1);
    let mut scratch: Vec<RepairScratch<'_>> = sb.iter_mut().map(|b| b.scratch()).collect();
    let mut tb = tables();
    let mut net = build_parallel(&mut tb, &mut scratch, &mut pool);
    g.sample_size(100);
    g.bench_function("tcap_quarantine_one_incremental_2threads", |b| {
        b.iter_custom(|iters| quarantines(&mut net, &mut v, iters))
    });
    g.finish();
}

/// The bench graph on `bufs`, its repairs cut into `1 + scratch.len()` shares, all but the first run by
/// `pool`'s helper threads.
fn build_parallel<'a>(
    bufs: &'a mut NetworkBuffers<D>,
    scratch: &'a mut [RepairScratch<'a>],
    pool: &'a mut RepairPool<D>,
) -> Net<'a> {
    let mut net = build(NetworkConfig::DEFAULT, bufs);
    net.set_parallel(scratch, pool).expect("scratch sized for N");
    net
}

/// A pool of `helpers` threads (spinning 5 ms after each share) and scratch for as many shares.
fn pool(helpers: usize) -> (RepairPool<D>, Vec<RepairScratchBuffers>) {
    let pool = RepairPool::new(helpers, Duration::from_millis(5)).expect("helper threads");
    (pool, (0..helpers).map(|_| RepairScratchBuffers::new(N)).collect())
}

/// Pairs `(s, t)` whose route passes through `v` (as an interior node), and the trees in which `v` has
/// at least one such pair: the work a repair after blocking `v` cannot avoid. Memoised per tree.
/// Also: how many of these pairs keep their cost when `v` is blocked (only their hop changes).
fn routed_through(net: &mut Net<'_>, v: NodeId) -> (usize, usize, usize) {
    let (mut pairs, mut trees) = (0, 0);
    let mut through = Vec::new();
    let mut via = vec![0u8; N]; // 0 unknown, 1 no, 2 yes
    let mut path = Vec::new();
    for t in 0..N as NodeId {
        if t == v {
            continue;
        }
        via.fill(0);
        via[t as usize] = 1;
        via[v as usize] = 2;
        let mut here = 0;
        for s in 0..N as NodeId {
            let mut cur = s;
            path.clear();
            while via[cur as usize] == 0 {
                path.push(cur);
                match net.route(cur, t) {
                    Ok(h) => cur = h,
                    Err(_) => {
                        via[cur as usize] = 1;
                        path.pop();
                        break;
                    }
                }
            }
            let r = via[cur as usize];
            for &p in &path {
                via[p as usize] = r;
            }
            if s != v && via[s as usize] == 2 {
                here += 1;
                through.push((s, t, net.route_cost(s, t).expect("routed")));
            }
        }
        pairs += here;
        trees += usize::from(here > 0);
    }
    net.set_state(0, v, NodeState::Quarantined).expect("in range");
    let kept = through.iter().filter(|&&(s, t, c)| net.route_cost(s, t) == Ok(c)).count();
    net.set_state(0, v, NodeState::Healthy).expect("in range");
    (pairs, trees, kept)
}

/// 8 rounds of 128 quarantines (each followed by the release, untimed) and a full recomputation:
/// the mean quarantine time of each round, and each round's full recomputation time.
fn rounds(net: &mut Net<'_>) -> (Vec<Duration>, Vec<Duration>) {
    let (rounds, per_round) = (8, 128u32);
    let (mut repair, mut full) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        let mut sum = Duration::ZERO;
        for k in 0..per_round {
            let v = ((r * per_round + k) * 97 + 5) % N as u32;
            let t0 = Instant::now();
            net.set_state(0, v, NodeState::Quarantined).expect("in range");
            sum += t0.elapsed();
            net.set_state(0, v, NodeState::Healthy).expect("in range");
        }
        repair.push(sum / per_round);
        let t0 = Instant::now();
        net.rebuild_routes();
        full.push(t0.elapsed());
    }
    (repair, full)
}

/// Prints the ratios the targets are stated in, measured in this run with plain `Instant` timing:
/// repairs and full recomputations interleaved (the machine is shared), best-of and mean, and the cost
/// per repaired pair against the cost per pair of a full recomputation.
fn ratios() {
    let mut tb = tables();
    let mut net = build(NetworkConfig::DEFAULT, &mut tb);
    let (mut pairs, mut trees, mut kept) = (0, 0, 0);
    let sampled = 64u32;
    for k in 0..sampled {
        let (p, t, c) = routed_through(&mut net, (k * 97 + 5) % N as u32);
        pairs += p;
        trees += t;
        kept += c;
    }
    let kept = kept as f64 / pairs as f64;
    let (pairs, trees) = (pairs as f64 / f64::from(sampled), trees as f64 / f64::from(sampled));
    let (repair, full) = rounds(&mut net);
    // The same rounds with the repair in shares on two threads (one helper), against the full
    // recomputation on the same two threads (it runs in shares on the pool too), and against the
    // one-thread one above.
    let (mut pool, mut sb) = pool(1);
    let mut scratch: Vec<RepairScratch<'_>> = sb.iter_mut().map(|b| b.scratch()).collect();
    let mut tb2 = tables();
    let mut pnet = build_parallel(&mut tb2, &mut scratch, &mut pool);
    let (prepair, pfull) = rounds(&mut pnet);
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let best = |v: &[Duration]| v.iter().copied().min().unwrap_or_default();
    let mean = |v: &[Duration]| v.iter().sum::<Duration>() / v.len() as u32;
    let (pinc, fl, pfl) = (best(&prepair), best(&full), best(&pfull));
    println!(
        "network/repair ratio, 2 threads: incremental quarantine {:.1} µs (best round; mean {:.1}; \
         target 200) vs full recomputation on 2 threads {:.1} µs (best; mean {:.1}): {:.0}x faster \
         (mean {:.0}x); vs full recomputation on one thread {:.1} µs: {:.0}x",
        us(pinc),
        us(mean(&prepair)),
        us(pfl),
        us(mean(&pfull)),
        pfl.as_secs_f64() / pinc.as_secs_f64(),
        mean(&pfull).as_secs_f64() / mean(&prepair).as_secs_f64(),
        us(fl),
        fl.as_secs_f64() / pinc.as_secs_f64(),
    );
    let (inc, fl) = (best(&repair), best(&full));
    println!(
        "network/repair ratio: incremental quarantine {:.1} µs (best round; mean {:.1}) vs full recomputation \
         {:.1} µs (best; mean {:.1}): {:.0}x faster (mean {:.0}x)",
        us(inc),
        us(mean(&repair)),
        us(fl),
        us(mean(&full)),
        fl.as_secs_f64() / inc.as_secs_f64(),
        mean(&full).as_secs_f64() / mean(&repair).as_secs_f64(),
    );
    let pairs_all = (N * N) as f64;
    println!(
        "network/repair work: a node lies on {pairs:.0} routes in {trees:.0} of {} trees (mean of {sampled}), \
         {:.0}% of which keep their cost (only the hop changes); \
         repair {:.0} ns per rerouted pair vs full recomputation {:.0} ns per pair",
        N - 1,
        kept * 100.0,
        us(inc) * 1e3 / pairs,
        us(fl) * 1e3 / pairs_all,
    );
}

mod group {
    #![allow(missing_docs)]
    use super::*;
    criterion_group!(benches, bench_route, bench_vote, bench_repair);
}

fn main() {
    group::benches();
    ratios();
    Criterion::default().configure_from_args().final_summary();
}
