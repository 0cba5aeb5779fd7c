//! The network driven by arbitrary operation sequences: edges added, removed and re-weighted by trust
//! observations, state changes, anomaly and peer reports, votes, ticks and rebuilds, on a capacity of 72
//! nodes (two bitset words) with degree 4 and an arbitrary, possibly invalid, configuration.
//!
//! Invariants, after every operation: nothing panics; the blocked bitset, `unblocked_count` and the node
//! states agree; anomaly means are within 0..=1; vote tallies never exceed the eligible voters; and for
//! the pairs the operation names (all pairs when the network is small, and always at the end) the routes
//! agree with a Dijkstra oracle over the unblocked subgraph: blocked ends are refused, a route exists
//! exactly when a path does, its cost is the shortest path's, and walking next hops reaches the
//! destination along existing edges, through unblocked nodes only, with edge costs summing to the cost.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use tcap_core::Micros;
use tcap_core::network::{
    Network, NetworkBuffers, NetworkConfig, NodeId, NodeState, ONE_Q16, RouteError, VoteOutcome,
};

const N: usize = 72;
const D: usize = 4;
/// Networks up to this size are checked against the oracle on every pair after every operation.
const FULL_CHECK_LEN: usize = 10;

#[derive(Arbitrary, Debug)]
enum Op {
    AddEdge(u8, u8, u16),
    AddEdges(Vec<(u8, u8, u16)>),
    RemoveEdge(u8, u8),
    ObserveEdge(u8, u8, u32),
    SetState(u8, u8, u16),
    ReportAnomaly(u8, u32, u16),
    ReportPeer(u8, u8, u32, u16),
    Vote(u8, u8, bool, u16),
    ClearVotes(u8),
    Tick(u32),
    Rebuild,
    Route(u8, u8),
}

/// An arbitrary configuration: six Q16 levels, minimum signals, three times, the vote fraction.
#[derive(Arbitrary, Debug)]
struct RawConfig([u32; 6], u8, [u32; 3], u16, u16);

#[derive(Arbitrary, Debug)]
struct Input {
    len: u8,
    /// `None`: the default configuration; otherwise arbitrary values (often refused by `validate`).
    cfg: Option<RawConfig>,
    ops: Vec<Op>,
}

type Net<'t> = Network<'t, D>;

/// Shortest distances from `s` over unblocked nodes (`None`: unreachable): textbook Dijkstra with a
/// binary heap, independent of the network's own incremental repair.
fn dijkstra(net: &Net<'_>, s: usize) -> Vec<Option<u64>> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut dist = vec![None::<u64>; net.len()];
    let mut heap = BinaryHeap::new();
    dist[s] = Some(0);
    heap.push(Reverse((0u64, s)));
    while let Some(Reverse((du, u))) = heap.pop() {
        if dist[u].is_some_and(|d| d < du) {
            continue;
        }
        for e in net.edges(u as NodeId).unwrap() {
            let v = e.to as usize;
            if net.is_blocked(e.to) {
                continue;
            }
            let nd = du + u64::from(e.cost);
            if dist[v].is_none_or(|d| nd < d) {
                dist[v] = Some(nd);
                heap.push(Reverse((nd, v)));
            }
        }
    }
    dist
}

fn check_pair(net: &Net<'_>, s: usize, d: usize, oracle: Option<u64>) {
    let (sid, did) = (s as NodeId, d as NodeId);
    let r = net.route(sid, did);
    if net.is_blocked(sid) {
        assert_eq!(r, Err(RouteError::SourceBlocked));
        return;
    }
    if net.is_blocked(did) {
        assert_eq!(r, Err(RouteError::DestinationBlocked));
        return;
    }
    match oracle {
        None => {
            assert_eq!(r, Err(RouteError::Unreachable), "{s}->{d}: no path, yet a route");
            assert_eq!(net.route_cost(sid, did), Err(RouteError::Unreachable));
        }
        Some(want) => {
            let cost = net.route_cost(sid, did).unwrap_or_else(|e| panic!("{s}->{d}: path of {want}, {e}"));
            assert_eq!(u64::from(cost), want, "{s}->{d}: route cost is the shortest path's");
            if s == d {
                assert_eq!(r, Ok(did));
                return;
            }
            let (mut cur, mut sum, mut steps) = (sid, 0u64, 0);
            while cur != did {
                let next = net.route(cur, did).expect("every node on a route has a route onward");
                assert!(!net.is_blocked(next), "{s}->{d}: route through blocked node {next}");
                let e = net.edge(cur, next).unwrap().expect("a next hop is a neighbour");
                sum += u64::from(e.cost);
                cur = next;
                steps += 1;
                assert!(steps <= net.len(), "{s}->{d}: routing loop");
            }
            assert_eq!(sum, want, "{s}->{d}: next hops follow a shortest path");
        }
    }
}

fn check_all(net: &Net<'_>) {
    for s in 0..net.len() {
        let dist = dijkstra(net, s);
        for (d, &want) in dist.iter().enumerate() {
            check_pair(net, s, d, want);
        }
    }
}

fn check_state(net: &Net<'_>) {
    let mut unblocked = 0;
    for v in 0..net.len() as NodeId {
        let st = net.node_state(v).unwrap();
        assert_eq!(st.is_blocked(), net.is_blocked(v));
        let bit = net.blocked_bits()[v as usize / 64] >> (v % 64) & 1 == 1;
        assert_eq!(bit, st.is_blocked());
        unblocked += u32::from(!st.is_blocked());
        for a in [net.local_anomaly(v).unwrap(), net.peer_anomaly(v).unwrap()].into_iter().flatten() {
            assert!(a <= ONE_Q16);
        }
        let (g, i) = net.votes(v).unwrap();
        assert!(g + i <= net.eligible_voters(v).unwrap());
    }
    assert_eq!(unblocked, net.unblocked_count());
    assert!(net.is_blocked(net.len() as NodeId), "ids past len are never routable");
}

fuzz_target!(|input: Input| {
    let len = usize::from(input.len) % (N + 1);
    let cfg = match input.cfg {
        None => NetworkConfig::DEFAULT,
        Some(RawConfig(q, min_signals, t, vote_num, vote_den)) => NetworkConfig {
            trust_alpha: q[0],
            initial_trust: q[1],
            suspicious: q[2],
            quarantine: q[3],
            isolate: q[4],
            hysteresis: q[5],
            min_signals,
            quarantine_cooldown: Micros::from(t[0]),
            isolate_cooldown: if t[1] == u32::MAX { Micros::MAX } else { Micros::from(t[1]) },
            probation: Micros::from(t[2]),
            vote_num,
            vote_den,
        },
    };
    let mut bufs = NetworkBuffers::<D>::new(len);
    let Ok(mut net) = Net::new(cfg, len, bufs.storage()) else {
        assert!(cfg.validate().is_err(), "a valid config and a fitting table are accepted");
        return;
    };
    let node = |x: u8| NodeId::from(x) % (len as NodeId + 1); // sometimes out of range
    let mut now: Micros = 0;
    for op in input.ops.iter().take(200) {
        let mut pair = None;
        match *op {
            Op::AddEdge(a, b, w) => {
                let _ = net.add_edge(node(a), node(b), w % 5000);
                pair = Some((node(a), node(b)));
            }
            Op::AddEdges(ref es) => {
                let _ = net.add_edges(es.iter().take(32).map(|&(a, b, w)| (node(a), node(b), w % 5000)));
            }
            Op::RemoveEdge(a, b) => {
                let _ = net.remove_edge(node(a), node(b));
                pair = Some((node(b), node(a)));
            }
            Op::ObserveEdge(a, b, obs) => {
                let _ = net.observe_edge(node(a), node(b), obs % (ONE_Q16 + 2));
                pair = Some((node(a), node(b)));
            }
            Op::SetState(v, st, dt) => {
                now += Micros::from(dt);
                if let Some(st) = NodeState::from_u8(st % 5) {
                    let _ = net.set_state(now, node(v), st);
                }
            }
            Op::ReportAnomaly(v, level, dt) => {
                now += Micros::from(dt) * 1000;
                let _ = net.report_anomaly(now, node(v), level % (ONE_Q16 + 2));
            }
            Op::ReportPeer(r, v, level, dt) => {
                now += Micros::from(dt) * 1000;
                let _ = net.report_peer(now, node(r), node(v), level % (ONE_Q16 + 2));
            }
            Op::Vote(v, a, guilty, dt) => {
                now += Micros::from(dt);
                if let Ok(VoteOutcome::Pending { guilty: g, innocent: i, eligible }) =
                    net.vote(now, node(v), node(a), guilty)
                {
                    assert!(g + i <= eligible);
                }
            }
            Op::ClearVotes(a) => {
                let _ = net.clear_votes(node(a));
                if (node(a) as usize) < len {
                    assert_eq!(net.votes(node(a)), Ok((0, 0)));
                }
            }
            Op::Tick(dt) => {
                now += Micros::from(dt) * 1000;
                net.tick(now);
            }
            Op::Rebuild => net.rebuild_routes(),
            Op::Route(a, b) => pair = Some((node(a), node(b))),
        }
        check_state(&net);
        if len <= FULL_CHECK_LEN {
            check_all(&net);
        } else if let Some((s, d)) = pair
            && (s as usize) < len
            && (d as usize) < len
        {
            let dist = dijkstra(&net, s as usize);
            check_pair(&net, s as usize, d as usize, dist[d as usize]);
        }
    }
    check_all(&net);
    // The incremental repairs must leave exactly what a rebuild from scratch computes.
    let before: Vec<_> = (0..len)
        .flat_map(|s| (0..len).map(move |d| (s, d)))
        .map(|(s, d)| (net.route_cost(s as NodeId, d as NodeId), net.route(s as NodeId, d as NodeId).is_ok()))
        .collect();
    net.rebuild_routes();
    let after: Vec<_> = (0..len)
        .flat_map(|s| (0..len).map(move |d| (s, d)))
        .map(|(s, d)| (net.route_cost(s as NodeId, d as NodeId), net.route(s as NodeId, d as NodeId).is_ok()))
        .collect();
    assert_eq!(before, after);
});
