//! Unit tests of each rule and error path, and property tests against a naive oracle.
#![allow(clippy::needless_range_loop)]

extern crate std;

use std::vec;
use std::vec::Vec;

use proptest::prelude::*;

use super::*;

const CAP: usize = 16;
/// Under Miri the long oracle proptests run on smaller graphs and shorter op sequences (the oracle
/// is a full all-pairs recomputation after every op; at full size one case takes minutes).
const MIRI: bool = cfg!(miri);
type Net<'t> = Network<'t, 4>;
type Bufs = NetworkBuffers<4>;

fn tables(len: usize) -> Bufs {
    Bufs::new(len)
}

fn q(num: u32, den: u32) -> Q16 {
    q16_ratio(num, den)
}

/// 0 - 1 - 2 - 3 in a line, plus 0 - 4 - 3 (weights 5) as a costlier detour.
fn line(bufs: &mut Bufs) -> Net<'_> {
    let mut net = Net::new(NetworkConfig::DEFAULT, 5, bufs.storage()).unwrap();
    for (a, b, w) in [(0, 1, 1), (1, 2, 1), (2, 3, 1), (0, 4, 5), (4, 3, 5)] {
        net.add_edge(a, b, w).unwrap();
    }
    net
}

#[test]
fn config_validation_rejects_each_bad_field() {
    let d = NetworkConfig::DEFAULT;
    assert_eq!(d.validate(), Ok(()));
    let cases = [
        (NetworkConfig { trust_alpha: 0, ..d }, ConfigError::TrustAlpha),
        (NetworkConfig { trust_alpha: ONE_Q16 + 1, ..d }, ConfigError::TrustAlpha),
        (NetworkConfig { initial_trust: ONE_Q16 + 1, ..d }, ConfigError::InitialTrust),
        (NetworkConfig { quarantine: d.isolate, ..d }, ConfigError::ThresholdOrder),
        (NetworkConfig { suspicious: d.quarantine, ..d }, ConfigError::ThresholdOrder),
        (NetworkConfig { isolate: ONE_Q16 + 1, ..d }, ConfigError::ThresholdOrder),
        (NetworkConfig { hysteresis: 0, ..d }, ConfigError::Hysteresis),
        (NetworkConfig { hysteresis: d.suspicious, ..d }, ConfigError::Hysteresis),
        (NetworkConfig { min_signals: 0, ..d }, ConfigError::MinSignals),
        (NetworkConfig { min_signals: 21, ..d }, ConfigError::MinSignals),
        (NetworkConfig { vote_num: 1, vote_den: 4, ..d }, ConfigError::VoteFractionBelowByzantineBound),
        (NetworkConfig { vote_num: 32, vote_den: 97, ..d }, ConfigError::VoteFractionBelowByzantineBound),
        (NetworkConfig { vote_num: 1, vote_den: 1, ..d }, ConfigError::VoteFractionUnreachable),
        (NetworkConfig { vote_num: 0, vote_den: 0, ..d }, ConfigError::VoteFractionUnreachable),
    ];
    for (cfg, err) in cases {
        assert_eq!(cfg.validate(), Err(err), "{cfg:?}");
        let mut tb = tables(2);
        assert_eq!(Net::new(cfg, 2, tb.storage()).err(), Some(NetworkError::Config(err)));
    }
    // Exactly one third is allowed.
    assert_eq!(NetworkConfig { vote_num: 1, vote_den: 3, ..d }.validate(), Ok(()));
}

#[test]
fn construction_errors() {
    let mut tb = tables(1);
    assert_eq!(
        Net::new(NetworkConfig::DEFAULT, MAX_NODES + 1, tb.storage()).err(),
        Some(NetworkError::Capacity { len: MAX_NODES + 1, capacity: MAX_NODES })
    );
    // Each part one element short is refused, naming the part.
    let l = storage_len(70);
    assert_eq!(
        l,
        StorageLen { nodes: 70, adjacency: 70, words: 2 * (1 + 3 * 70) + 70, scratch: 7 * 70, table: 4900 }
    );
    for part in [
        StoragePart::Nodes,
        StoragePart::Adjacency,
        StoragePart::Words,
        StoragePart::Scratch,
        StoragePart::Table,
    ] {
        let mut tb = tables(70);
        let mut s = tb.storage();
        let needed = match part {
            StoragePart::Nodes => {
                s.nodes = s.nodes.split_last_mut().unwrap().1;
                l.nodes
            }
            StoragePart::Adjacency => {
                s.adjacency = s.adjacency.split_last_mut().unwrap().1;
                l.adjacency
            }
            StoragePart::Words => {
                s.words = s.words.split_last_mut().unwrap().1;
                l.words
            }
            StoragePart::Scratch => {
                s.scratch = s.scratch.split_last_mut().unwrap().1;
                l.scratch
            }
            StoragePart::Table => {
                s.table = s.table.split_last_mut().unwrap().1;
                l.table
            }
        };
        assert_eq!(
            Net::new(NetworkConfig::DEFAULT, 70, s).err(),
            Some(NetworkError::StorageTooSmall { part, needed })
        );
    }
    // Larger storage than needed is fine.
    let mut tb = tables(9);
    let net = Net::new(NetworkConfig::DEFAULT, 4, tb.storage()).unwrap();
    assert_eq!(net.len(), 4);
    assert_eq!(net.route(0, 4), Err(RouteError::OutOfRange));
    let mut tb = tables(0);
    let net = Net::new(NetworkConfig::DEFAULT, 0, tb.storage()).unwrap();
    assert!(net.is_empty());
    assert_eq!(net.route(0, 0), Err(RouteError::OutOfRange));
}

#[test]
fn reset_restores_a_fresh_network_in_place() {
    let mut tb = tables(5);
    let mut net = line(&mut tb);
    net.set_state(1, 1, NodeState::Quarantined).unwrap();
    net.vote(2, 0, 3, true).unwrap();
    net.report_anomaly(3, 2, ONE_Q16).unwrap();
    assert_eq!(net.route(0, 3), Ok(4));
    let bad = NetworkConfig { hysteresis: 0, ..NetworkConfig::DEFAULT };
    assert_eq!(net.reset(bad), Err(NetworkError::Config(ConfigError::Hysteresis)));
    assert_eq!(net.node_state(1), Ok(NodeState::Quarantined), "a refused reset changes nothing");
    let cfg = NetworkConfig { vote_num: 2, vote_den: 3, ..NetworkConfig::DEFAULT };
    net.reset(cfg).unwrap();
    assert_eq!(net.config(), &cfg);
    assert_eq!(net.len(), 5);
    assert_eq!(net.unblocked_count(), 5);
    for i in 0..5 {
        assert_eq!(net.node_state(i), Ok(NodeState::Healthy));
        assert_eq!(net.edges(i).unwrap().count(), 0);
        assert_eq!(net.votes(i), Ok((0, 0)));
        assert_eq!(net.local_anomaly(i), Ok(None));
    }
    assert_eq!(net.route(0, 3), Err(RouteError::Unreachable));
    assert_eq!(net.route(2, 2), Ok(2));
    for (a, b, w) in [(0, 1, 1), (1, 2, 1), (2, 3, 1)] {
        net.add_edge(a, b, w).unwrap();
    }
    assert_eq!(net.route(0, 3), Ok(1));
    assert_eq!(net.vote(2, 0, 3, true), Ok(VoteOutcome::Pending { guilty: 1, innocent: 0, eligible: 4 }));
}

/// The whole point of caller storage: a 1,024-node network (≈ 9 MiB of storage) is built, used and
/// reset on a thread whose stack is 64 KiB.
#[test]
#[cfg_attr(
    miri,
    ignore = "1,024 shortest-path trees on a 1,024-node ring: far too long under Miri; the small-network tests drive the same code"
)]
fn large_network_on_a_small_stack() {
    const LEN: usize = 1024;
    let mut bufs = NetworkBuffers::<16>::new(LEN);
    let h = std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(move || {
            let mut net = Network::new(NetworkConfig::DEFAULT, LEN, bufs.storage()).unwrap();
            assert!(core::mem::size_of::<Network<'_, 16>>() < 512);
            let ring = (0..LEN as u32).map(|i| (i, (i + 1) % LEN as u32, 1));
            net.add_edges(ring).unwrap();
            assert_eq!(net.route(0, 3), Ok(1));
            assert_eq!(net.route(0, LEN as u32 - 3), Ok(LEN as u32 - 1));
            assert_eq!(net.route_cost(0, 512), Ok(512));
            net.set_state(1, 1, NodeState::Quarantined).unwrap();
            assert_eq!(net.route(0, 3), Ok(LEN as u32 - 1), "around the ring the other way");
            assert_eq!(net.route_cost(0, 3), Ok(LEN as u32 - 3));
            net.set_state(2, 1, NodeState::Healthy).unwrap();
            assert_eq!(net.route(0, 3), Ok(1));
            net.reset(NetworkConfig::DEFAULT).unwrap();
            assert_eq!(net.route(0, 3), Err(RouteError::Unreachable));
        })
        .unwrap();
    h.join().unwrap();
}

#[test]
fn edge_errors() {
    let mut tb = tables(6);
    let mut net = Net::new(NetworkConfig::DEFAULT, 6, tb.storage()).unwrap();
    assert_eq!(net.add_edge(0, 6, 1), Err(NetworkError::OutOfRange { node: 6 }));
    assert_eq!(net.add_edge(7, 0, 1), Err(NetworkError::OutOfRange { node: 7 }));
    assert_eq!(net.add_edge(2, 2, 1), Err(NetworkError::SelfLoop));
    assert_eq!(net.add_edge(0, 1, 0), Err(NetworkError::BadWeight));
    assert_eq!(net.add_edge(0, 1, MAX_EDGE_WEIGHT + 1), Err(NetworkError::BadWeight));
    net.add_edge(0, 1, MAX_EDGE_WEIGHT).unwrap();
    assert_eq!(net.add_edge(1, 0, 1), Err(NetworkError::DuplicateEdge));
    for b in 2..5 {
        net.add_edge(0, b, 1).unwrap();
    }
    assert_eq!(net.add_edge(0, 5, 1), Err(NetworkError::DegreeFull { node: 0 }));
    assert_eq!(net.add_edge(5, 0, 1), Err(NetworkError::DegreeFull { node: 0 }));
    assert_eq!(net.remove_edge(1, 2), Err(NetworkError::NoSuchEdge));
    assert_eq!(net.observe_edge(1, 2, ONE_Q16), Err(NetworkError::NoSuchEdge));
    assert_eq!(net.observe_edge(1, 1, ONE_Q16), Err(NetworkError::SelfLoop));
    assert_eq!(net.edge(1, 2), Ok(None));
    assert_eq!(net.edge(0, 1).unwrap().map(|e| e.cost), Some(u32::from(MAX_EDGE_WEIGHT)));
    assert_eq!(net.edges(0).unwrap().count(), 4);
    assert!(net.edges(9).is_err());
    // Bulk insertion reports the position of the refused edge and keeps routes valid.
    assert_eq!(net.add_edges([(1, 2, 1), (2, 2, 1)]), Err((1, NetworkError::SelfLoop)));
    assert_eq!(net.route(1, 2), Ok(2));
    assert_eq!(net.route(1, 0), Ok(2), "two unit hops beat the heavy direct edge");
    net.remove_edge(0, 1).unwrap();
    assert_eq!(net.route_cost(1, 0), Ok(2));
    assert_eq!(net.route(1, 5), Err(RouteError::Unreachable));
    net.remove_edge(2, 1).unwrap();
    assert_eq!(net.route(1, 0), Err(RouteError::Unreachable));
    assert_eq!(net.edges(0).unwrap().count(), 3);
}

#[test]
fn route_refusals_and_paths() {
    let mut tb = tables(5);
    let mut net = line(&mut tb);
    assert_eq!(net.route(0, 3), Ok(1));
    assert_eq!(net.route_cost(0, 3), Ok(3));
    assert_eq!(net.route(3, 0), Ok(2));
    assert_eq!(net.route(2, 2), Ok(2));
    assert_eq!(net.route_cost(2, 2), Ok(0));
    assert_eq!(net.route(0, 5), Err(RouteError::OutOfRange));
    assert_eq!(net.route(5, 0), Err(RouteError::OutOfRange));
    // Quarantine 2: traffic takes the detour through 4.
    net.set_state(0, 2, NodeState::Quarantined).unwrap();
    assert!(net.is_blocked(2));
    assert!(net.is_blocked(99), "out of range fails closed");
    assert_eq!(net.route(0, 3), Ok(4));
    assert_eq!(net.route_cost(0, 3), Ok(10));
    assert_eq!(net.route(2, 0), Err(RouteError::SourceBlocked));
    assert_eq!(net.route(0, 2), Err(RouteError::DestinationBlocked));
    assert_eq!(net.route_cost(0, 2), Err(RouteError::DestinationBlocked));
    // Also isolate 4: 3 is cut off from 0.
    net.set_state(0, 4, NodeState::Isolated).unwrap();
    assert_eq!(net.route(0, 3), Err(RouteError::Unreachable));
    assert_eq!(net.route(0, 1), Ok(1));
    // Release both: the short path returns.
    net.set_state(1, 2, NodeState::Recovering).unwrap();
    net.set_state(1, 4, NodeState::Healthy).unwrap();
    assert_eq!(net.route(0, 3), Ok(1));
    assert_eq!(net.route_cost(0, 3), Ok(3));
    assert_eq!(net.route_cost(4, 2), Ok(6));
    assert_eq!(net.blocked_bits(), &[0]);
}

#[test]
fn distrust_reroutes_and_trust_restores() {
    let mut tb = tables(5);
    let mut net = line(&mut tb);
    let mut trust = ONE_Q16;
    // Bad observations of edge 1-2 raise its cost until the detour (10) is cheaper.
    while net.route(0, 3) == Ok(1) {
        let t = net.observe_edge(1, 2, 0).unwrap();
        assert!(t < trust);
        trust = t;
    }
    assert_eq!(net.route(0, 3), Ok(4));
    assert!(net.edge(1, 2).unwrap().unwrap().cost >= 8);
    while net.route(0, 3) == Ok(4) {
        net.observe_edge(2, 1, ONE_Q16).unwrap();
    }
    assert_eq!(net.route_cost(0, 3), Ok(net.edge(1, 2).unwrap().unwrap().cost + 2));
}

fn feed(net: &mut Net<'_>, now: Micros, node: NodeId, level: Q16, k: usize) -> Option<StateChange> {
    let mut last = None;
    for _ in 0..k {
        if let Some(c) = net.report_anomaly(now, node, level).unwrap() {
            last = Some(c);
        }
    }
    last
}

#[test]
fn anomaly_thresholds_quarantine_and_isolate() {
    let mut tb = tables(5);
    let mut net = line(&mut tb);
    // Fewer than min_signals: no decision, however high.
    for _ in 0..4 {
        assert_eq!(net.report_anomaly(0, 1, ONE_Q16).unwrap(), None);
    }
    assert_eq!(net.local_anomaly(1).unwrap(), None);
    let c = net.report_anomaly(5, 1, ONE_Q16).unwrap().unwrap();
    assert_eq!((c.node, c.from, c.to, c.at), (1, NodeState::Healthy, NodeState::Isolated, 5));
    assert_eq!(net.state_since(1), Ok(5));
    // Exactly at the quarantine threshold quarantines.
    let c = feed(&mut net, 0, 2, q(6, 10), 5).unwrap();
    assert_eq!(c.to, NodeState::Quarantined);
    // Just below: suspicious only.
    assert_eq!(feed(&mut net, 0, 3, q(6, 10) - 1, 5).unwrap().to, NodeState::Suspicious);
    assert!(!net.is_blocked(3));
    // Quarantined then isolated at 0.8.
    assert_eq!(feed(&mut net, 0, 2, ONE_Q16, 20).unwrap().to, NodeState::Isolated);
    assert_eq!(net.node_state(2), Ok(NodeState::Isolated));
    assert_eq!(net.node_state(5), Err(NetworkError::OutOfRange { node: 5 }));
    assert!(net.report_anomaly(0, 5, 0).is_err());
}

#[test]
fn peer_reports_make_suspicious_but_never_block() {
    let mut tb = tables(5);
    let mut net = line(&mut tb);
    for _ in 0..ANOMALY_WINDOW {
        net.report_peer(0, 0, 1, ONE_Q16).unwrap();
    }
    assert_eq!(net.peer_anomaly(1), Ok(Some(ONE_Q16)));
    assert_eq!(net.node_state(1), Ok(NodeState::Suspicious));
    assert_eq!(net.report_peer(0, 1, 1, 0), Err(NetworkError::SelfVote));
    net.set_state(0, 4, NodeState::Quarantined).unwrap();
    assert_eq!(net.report_peer(0, 4, 1, 0), Err(NetworkError::VoterBlocked));
    assert!(net.report_peer(0, 9, 1, 0).is_err());
    assert!(net.report_peer(0, 1, 9, 0).is_err());
}

#[test]
fn hysteresis_no_flapping_at_thresholds() {
    let mut tb = tables(5);
    let mut net = line(&mut tb);
    let cfg = *net.config();
    // Suspicion: alternate just above and just below 0.4 -> one transition only.
    let mut changes = 0;
    for i in 0..200u32 {
        let level = if i % 2 == 0 { cfg.suspicious + 50 } else { cfg.suspicious - 50 };
        changes += usize::from(net.report_anomaly(u64::from(i), 1, level).unwrap().is_some());
    }
    assert_eq!(changes, 1);
    assert_eq!(net.node_state(1), Ok(NodeState::Suspicious));
    // Falling below 0.4 - 0.1 clears it.
    assert_eq!(
        feed(&mut net, 300, 1, cfg.suspicious - cfg.hysteresis - 100, 20).unwrap().to,
        NodeState::Healthy
    );

    // Quarantine: hover at 0.6 for a long time, including past the cool-down -> never released.
    let mut changes = 0;
    let mut now = 0;
    for i in 0..400u32 {
        now = u64::from(i) * 1_000_000;
        let level = if i % 2 == 0 { cfg.quarantine + 40 } else { cfg.quarantine - 40 };
        changes += usize::from(net.report_anomaly(now, 2, level).unwrap().is_some());
        changes += net.tick(now) as usize;
    }
    assert_eq!(changes, 1, "entered quarantine once");
    assert_eq!(net.node_state(2), Ok(NodeState::Quarantined));
    // Low anomaly but within the cool-down: still quarantined.
    let since = net.state_since(2).unwrap();
    feed(&mut net, since + 1, 2, 0, 20);
    assert_eq!(net.node_state(2), Ok(NodeState::Quarantined));
    assert!(now > since + cfg.quarantine_cooldown);
    // After the cool-down, tick releases it to probation.
    assert_eq!(net.tick(since + cfg.quarantine_cooldown - 1), 0);
    assert_eq!(net.tick(since + cfg.quarantine_cooldown), 1);
    assert_eq!(net.node_state(2), Ok(NodeState::Recovering));
    assert_eq!(net.route(0, 3), Ok(1));
    // Probation ends only after `probation`.
    let r = net.state_since(2).unwrap();
    assert_eq!(net.tick(r + cfg.probation - 1), 0);
    assert_eq!(net.tick(r + cfg.probation), 1);
    assert_eq!(net.node_state(2), Ok(NodeState::Healthy));
}

#[test]
fn relapse_on_probation_and_isolation_cooldown() {
    let mut tb = tables(5);
    let cfg = NetworkConfig { isolate_cooldown: 120_000_000, ..NetworkConfig::DEFAULT };
    let mut net = line(&mut tb);
    net.cfg = cfg;
    net.set_state(0, 1, NodeState::Recovering).unwrap();
    assert_eq!(feed(&mut net, 1, 1, cfg.quarantine, 5).unwrap().to, NodeState::Quarantined);
    feed(&mut net, 2, 3, ONE_Q16, 5);
    assert_eq!(net.node_state(3), Ok(NodeState::Isolated));
    feed(&mut net, 3, 3, 0, 20);
    feed(&mut net, 3, 1, 0, 20);
    assert_eq!(net.node_state(1), Ok(NodeState::Quarantined), "cool-down not over");
    assert_eq!(net.tick(1 + cfg.quarantine_cooldown), 1, "only node 1 leaves: isolation cools longer");
    assert_eq!(net.node_state(1), Ok(NodeState::Recovering));
    assert_eq!(net.node_state(3), Ok(NodeState::Isolated));
    assert_eq!(net.tick(2 + cfg.isolate_cooldown), 2, "3 released, 1 past probation");
    assert_eq!(net.node_state(3), Ok(NodeState::Recovering));
    assert_eq!(net.node_state(1), Ok(NodeState::Healthy));
}

fn vote_net(cfg: NetworkConfig, len: usize, bufs: &mut Bufs) -> Net<'_> {
    let mut net = Net::new(cfg, len, bufs.storage()).unwrap();
    for i in 1..len as u32 {
        net.add_edge(i - 1, i, 1).unwrap();
    }
    net
}

#[test]
fn vote_rules_and_errors() {
    let mut tb = tables(7);
    let mut net = vote_net(NetworkConfig::DEFAULT, 7, &mut tb);
    // 6 eligible voters on node 0; conviction needs > 3 guilty.
    assert_eq!(net.eligible_voters(0), Ok(6));
    assert_eq!(net.vote(0, 0, 0, true), Err(NetworkError::SelfVote));
    assert_eq!(net.vote(0, 9, 0, true), Err(NetworkError::OutOfRange { node: 9 }));
    assert_eq!(net.vote(0, 1, 9, true), Err(NetworkError::OutOfRange { node: 9 }));
    for v in 1..4 {
        assert!(matches!(net.vote(0, v, 0, true), Ok(VoteOutcome::Pending { guilty, .. }) if guilty == v));
    }
    assert_eq!(net.vote(0, 1, 0, false), Err(NetworkError::AlreadyVoted));
    assert_eq!(net.votes(0), Ok((3, 0)));
    let VoteOutcome::Convicted(Some(c)) = net.vote(7, 4, 0, true).unwrap() else { panic!("no conviction") };
    assert_eq!((c.node, c.from, c.to, c.at), (0, NodeState::Healthy, NodeState::Isolated, 7));
    assert_eq!(net.votes(0), Ok((0, 0)), "round closed");
    assert_eq!(net.vote(0, 0, 1, true), Err(NetworkError::VoterBlocked));
    // Eligible voters on a blocked accused stay 6; on others 6 - 1 (node 0 is blocked).
    assert_eq!(net.eligible_voters(0), Ok(6));
    assert_eq!(net.eligible_voters(1), Ok(5));
    // Isolation is not released automatically by default.
    assert_eq!(net.tick(u64::MAX - 1), 0);
    for v in 1..4 {
        net.vote(8, v, 0, true).unwrap();
    }
    assert_eq!(net.vote(8, 4, 0, true), Ok(VoteOutcome::Convicted(None)));
    // Acquittal: 5 eligible on node 1 (0 is blocked); once 3 say not guilty, > 2.5 guilty is impossible.
    assert!(matches!(net.vote(9, 2, 1, false), Ok(VoteOutcome::Pending { eligible: 5, .. })));
    assert!(matches!(net.vote(9, 3, 1, false), Ok(VoteOutcome::Pending { .. })));
    assert_eq!(net.vote(9, 4, 1, false), Ok(VoteOutcome::Acquitted));
    assert_eq!(net.votes(1), Ok((0, 0)));
    assert_eq!(net.vote(9, 2, 1, true).map(|_| ()), Ok(()), "a new round after acquittal");
    net.clear_votes(1).unwrap();
    assert_eq!(net.votes(1), Ok((0, 0)));
    assert!(net.clear_votes(99).is_err());
}

#[test]
fn blocked_voters_votes_are_withdrawn() {
    let mut tb = tables(7);
    let mut net = vote_net(NetworkConfig::DEFAULT, 7, &mut tb);
    net.vote(0, 1, 0, true).unwrap();
    net.vote(0, 2, 0, true).unwrap();
    net.vote(0, 3, 0, false).unwrap();
    net.vote(0, 1, 4, true).unwrap();
    net.set_state(0, 1, NodeState::Quarantined).unwrap();
    assert_eq!(net.votes(0), Ok((1, 1)));
    assert_eq!(net.votes(4), Ok((0, 0)));
    net.set_state(0, 3, NodeState::Isolated).unwrap();
    assert_eq!(net.votes(0), Ok((1, 0)));
    // After release a voter may vote afresh.
    net.set_state(1, 1, NodeState::Recovering).unwrap();
    assert!(net.vote(1, 1, 0, true).is_ok());
    assert_eq!(net.votes(0), Ok((2, 0)));
}

#[test]
fn one_third_bound_is_tight() {
    let third = NetworkConfig { vote_num: 1, vote_den: 3, ..NetworkConfig::DEFAULT };
    // len 4 (3 eligible): one liar cannot convict, two can.
    let mut tb = tables(4);
    let mut net = vote_net(third, 4, &mut tb);
    assert!(matches!(net.vote(0, 1, 0, true), Ok(VoteOutcome::Pending { .. })));
    assert!(matches!(net.vote(0, 2, 0, true), Ok(VoteOutcome::Convicted(Some(_)))));
    assert_eq!(net.node_state(0), Ok(NodeState::Isolated));
}

#[test]
fn errors_display() {
    use core::fmt::Write;
    let mut s = std::string::String::new();
    let all_net = [
        NetworkError::Config(ConfigError::TrustAlpha),
        NetworkError::Capacity { len: 1, capacity: 0 },
        NetworkError::StorageTooSmall { part: StoragePart::Table, needed: 4 },
        NetworkError::OutOfRange { node: 3 },
        NetworkError::SelfLoop,
        NetworkError::DuplicateEdge,
        NetworkError::NoSuchEdge,
        NetworkError::BadWeight,
        NetworkError::DegreeFull { node: 1 },
        NetworkError::SelfVote,
        NetworkError::VoterBlocked,
        NetworkError::AlreadyVoted,
    ];
    let mut seen = std::collections::BTreeSet::new();
    for e in all_net {
        s.clear();
        write!(s, "{e}").unwrap();
        assert!(!s.is_empty());
        assert!(seen.insert(s.clone()), "duplicate message {s}");
    }
    for e in [
        RouteError::OutOfRange,
        RouteError::SourceBlocked,
        RouteError::DestinationBlocked,
        RouteError::Unreachable,
    ] {
        s.clear();
        write!(s, "{e}").unwrap();
        assert!(seen.insert(s.clone()));
    }
    for e in [
        ConfigError::InitialTrust,
        ConfigError::ThresholdOrder,
        ConfigError::Hysteresis,
        ConfigError::MinSignals,
        ConfigError::VoteFractionBelowByzantineBound,
        ConfigError::VoteFractionUnreachable,
    ] {
        s.clear();
        write!(s, "{e}").unwrap();
        assert!(seen.insert(s.clone()));
    }
}

/// A diamond 0–1–3, 0–2–3 with a tail 3–4–5 (unit weights): node 3 has two equal-cost parents toward 0.
/// Blocking or cutting its parent keeps its distance and only moves its hop (the Ramalingam–Reps
/// shortcut); its tail keeps everything. Cutting both forces a real recomputation.
#[test]
fn equal_cost_alternatives_keep_distances() {
    let mut tb = tables(6);
    let mut net = Net::new(NetworkConfig::DEFAULT, 6, tb.storage()).unwrap();
    net.add_edges([(0, 1, 1), (0, 2, 1), (1, 3, 1), (2, 3, 1), (3, 4, 1), (4, 5, 1)]).unwrap();
    let first = net.route(3, 0).unwrap();
    let other = 3 - first; // 1 ↔ 2
    assert!(first == 1 || first == 2);
    net.set_state(1, first, NodeState::Quarantined).unwrap();
    assert_eq!(net.route(3, 0), Ok(other));
    assert_eq!(net.route_cost(3, 0), Ok(2));
    assert_eq!((net.route(5, 0), net.route_cost(5, 0)), (Ok(4), Ok(4)));
    net.set_state(2, first, NodeState::Healthy).unwrap();
    // Cut 3's current parent edge: same distance via the other parent.
    let p = net.route(3, 0).unwrap();
    net.remove_edge(3, p).unwrap();
    assert_eq!(net.route(3, 0), Ok(3 - p));
    assert_eq!((net.route_cost(3, 0), net.route_cost(5, 0)), (Ok(2), Ok(4)));
    // Make the remaining parent edge costlier: no alternative any more, distances grow.
    for _ in 0..40 {
        net.observe_edge(3, 3 - p, 0).unwrap();
    }
    let c = net.edge(3, 3 - p).unwrap().unwrap().cost;
    assert!(c > 1);
    assert_eq!((net.route_cost(3, 0), net.route_cost(5, 0)), (Ok(1 + c), Ok(3 + c)));
    assert_eq!(net.route(5, 0), Ok(4));
}

/// The trap of the shortcut: node 4 (depth 1 below 1 in tree 0) has an equal-cost neighbour 3 that is
/// deeper in the same subtree and not yet classified when 4 is. Blocking 1 must not let 4 "keep" its
/// distance through 3, whose own path went through 1: all three are recomputed, via 5.
#[test]
fn equal_cost_neighbour_inside_the_subtree_is_not_an_alternative() {
    let mut tb = tables(6);
    let mut net = Net::new(NetworkConfig::DEFAULT, 6, tb.storage()).unwrap();
    net.add_edges([(0, 1, 1), (1, 4, 5), (1, 2, 1), (2, 3, 1), (3, 4, 3), (4, 5, 10), (5, 0, 10)]).unwrap();
    assert_eq!((net.route(4, 0), net.route_cost(4, 0)), (Ok(1), Ok(6)), "strict relaxation keeps hop 1");
    assert_eq!(net.route_cost(3, 0), Ok(3));
    net.set_state(1, 1, NodeState::Quarantined).unwrap();
    assert_eq!((net.route(4, 0), net.route_cost(4, 0)), (Ok(5), Ok(20)));
    assert_eq!((net.route(3, 0), net.route_cost(3, 0)), (Ok(4), Ok(23)));
    assert_eq!((net.route(2, 0), net.route_cost(2, 0)), (Ok(3), Ok(24)));
}

/// A label that took the offer of a node of the subtree not found yet (its distance stale) is caught
/// and recomputed, and so is a label that took the offer of such a label. Tree 0, block 1: the subtree
/// is 2, 3 (children of 1) and 4 (child of 3). Breadth-first, 2 is looked at before 4 is found and
/// takes 4's old offer (3 + 2); 4 then takes 2's (stale) label. Both are recomputed: the true routes
/// go around through 5.
#[test]
fn stale_offers_inside_the_subtree_are_recomputed() {
    let mut tb = tables(6);
    let mut net = Net::new(NetworkConfig::DEFAULT, 6, tb.storage()).unwrap();
    net.add_edges([
        (0, 1, 1),
        (1, 2, 1),
        (1, 3, 1),
        (3, 4, 1),
        (2, 4, 2),
        (2, 5, 10),
        (3, 5, 10),
        (0, 5, 10),
    ])
    .unwrap();
    assert_eq!((net.route(4, 0), net.route_cost(4, 0)), (Ok(3), Ok(3)));
    assert_eq!((net.route(2, 0), net.route_cost(2, 0)), (Ok(1), Ok(2)));
    net.set_state(1, 1, NodeState::Quarantined).unwrap();
    assert_eq!((net.route(2, 0), net.route_cost(2, 0)), (Ok(5), Ok(20)));
    assert_eq!((net.route(3, 0), net.route_cost(3, 0)), (Ok(5), Ok(20)));
    assert_eq!((net.route(4, 0), net.route_cost(4, 0)), (Ok(3), Ok(21)));
}

// ---- property tests against a naive oracle ----------------------------------------------------------

/// Floyd–Warshall over unblocked nodes with the network's own edge costs.
fn oracle<const D: usize>(net: &Network<'_, D>) -> Vec<Vec<u64>> {
    let n = net.len();
    let mut d = vec![vec![u64::MAX; n]; n];
    for s in 0..n {
        if net.is_blocked(s as NodeId) {
            continue;
        }
        d[s][s] = 0;
        for e in net.edges(s as NodeId).unwrap() {
            if !net.is_blocked(e.to) {
                d[s][e.to as usize] = d[s][e.to as usize].min(u64::from(e.cost));
            }
        }
    }
    // Floyd–Warshall, a row at a time (the same recurrence, written with row slices and the
    // unreachable rows skipped: under Miri, indexing every term costs minutes per call at 68 nodes).
    for k in 0..n {
        let via = d[k].clone();
        for row in d.iter_mut() {
            let dik = row[k];
            if dik == u64::MAX {
                continue;
            }
            for (dij, &dkj) in row.iter_mut().zip(&via) {
                if dkj != u64::MAX && dik + dkj < *dij {
                    *dij = dik + dkj;
                }
            }
        }
    }
    d
}

fn check_against_oracle<const D: usize>(net: &Network<'_, D>) -> Result<(), TestCaseError> {
    let d = oracle(net);
    let n = net.len();
    for s in 0..n as NodeId {
        for t in 0..n as NodeId {
            let r = net.route(s, t);
            if net.is_blocked(s) {
                prop_assert_eq!(r, Err(RouteError::SourceBlocked));
                continue;
            }
            if net.is_blocked(t) {
                prop_assert_eq!(r, Err(RouteError::DestinationBlocked));
                continue;
            }
            let want = d[s as usize][t as usize];
            if want == u64::MAX {
                prop_assert_eq!(r, Err(RouteError::Unreachable), "{} -> {}", s, t);
                continue;
            }
            prop_assert_eq!(net.route_cost(s, t).map(u64::from), Ok(want), "{} -> {}", s, t);
            // The hop is an unblocked neighbour whose optimal distance plus the edge is the optimum.
            // Checked for every pair, this proves that following the hops from any source reaches
            // `t` at the optimal cost without a loop: every edge costs at least 1, so the remaining
            // optimal distance falls strictly at each hop. (Walking every path instead costs a factor
            // of the path length, which under Miri is tens of minutes per test.)
            if s == t {
                prop_assert_eq!(want, 0);
                continue;
            }
            let h = r.unwrap();
            prop_assert!(!net.is_blocked(h), "{} -> {}: hop {} is blocked", s, t, h);
            let e = net.edge(s, h).unwrap();
            prop_assert!(e.is_some(), "next hop {} of {} is not a neighbour", h, s);
            let c = u64::from(e.unwrap().cost);
            prop_assert!(c >= 1);
            let rest = d[h as usize][t as usize];
            prop_assert!(rest != u64::MAX, "{} -> {}: hop {} cannot reach it", s, t, h);
            prop_assert_eq!(c + rest, want, "{} -> {} via {}", s, t, h);
        }
    }
    check_child_index(net)
}

/// The child index is a superset of the real children: for every maintained entry `(s, t)` with next
/// hop `h ≠ s`, bit `t` of `has_child[h]` is set (blocking `h` relies on it to find every tree to repair).
fn check_child_index<const D: usize>(net: &Network<'_, D>) -> Result<(), TestCaseError> {
    let n = net.len();
    for t in 0..n {
        if net.is_blocked(t as NodeId) {
            continue;
        }
        for s in 0..n {
            if s == t || net.is_blocked(s as NodeId) {
                continue;
            }
            let h = net.table[t * n + s].hop();
            if h != NO_HOP {
                prop_assert!(
                    (net.has_child[t / 64 * net.len + usize::from(h)] >> (t % 64)) & 1 == 1,
                    "{} -> {} via {} not indexed",
                    s,
                    t,
                    h
                );
            }
        }
    }
    Ok(())
}

#[derive(Clone, Debug)]
enum Op {
    SetState(u32, u8),
    Observe(usize, u32),
    AddEdge(u32, u32, u16),
    RemoveEdge(usize),
    Report(u32, u32),
    Vote(u32, u32, bool),
    Tick(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..CAP as u32, 0..5u8).prop_map(|(n, s)| Op::SetState(n, s)),
        4 => (any::<usize>(), 0..=ONE_Q16).prop_map(|(e, o)| Op::Observe(e, o)),
        2 => (0..CAP as u32, 0..CAP as u32, 1..20u16).prop_map(|(a, b, w)| Op::AddEdge(a, b, w)),
        1 => any::<usize>().prop_map(Op::RemoveEdge),
        2 => (0..CAP as u32, 0..=ONE_Q16).prop_map(|(n, l)| Op::Report(n, l)),
        2 => (0..CAP as u32, 0..CAP as u32, any::<bool>()).prop_map(|(a, b, g)| Op::Vote(a, b, g)),
        1 => (0..100_000_000u64).prop_map(Op::Tick),
    ]
}

/// Applies a state change, an edge observation (`observations` times: enough to drive trust to an
/// end) or an edge removal at time `now` (node ids and edge indices taken modulo what exists); other
/// operations are ignored.
fn apply_state_op<const D: usize>(net: &mut Network<'_, D>, now: u64, op: Op, observations: u32) {
    let len = net.len() as NodeId;
    match op {
        Op::SetState(n, st) => {
            net.set_state(now, n % len, NodeState::from_u8(st).unwrap()).unwrap();
        }
        Op::Observe(e, o) => {
            if let Some((a, b)) = nth_edge(net, e) {
                for _ in 0..observations {
                    net.observe_edge(a, b, o).unwrap();
                }
            }
        }
        Op::RemoveEdge(e) => {
            if let Some((a, b)) = nth_edge(net, e) {
                net.remove_edge(a, b).unwrap();
            }
        }
        _ => {}
    }
}

fn nth_edge<const D: usize>(net: &Network<'_, D>, k: usize) -> Option<(NodeId, NodeId)> {
    let all: Vec<(NodeId, NodeId)> = (0..net.len() as NodeId)
        .flat_map(|a| net.edges(a).unwrap().map(move |e| (a, e.to)))
        .filter(|(a, b)| a < b)
        .collect();
    if all.is_empty() { None } else { Some(all[k % all.len()]) }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 4 } else { 200 }, ..ProptestConfig::default() })]


    #[test]
    fn incremental_routes_match_oracle(
        len in 2..=CAP,
        edges in proptest::collection::vec((0..CAP as u32, 0..CAP as u32, 1..20u16), 0..40),
        bulk in any::<bool>(),
        ops in proptest::collection::vec(op(), 0..if MIRI { 12 } else { 60 }),
    ) {
        let mut tb = tables(len);
        let mut net = Net::new(NetworkConfig::DEFAULT, len, tb.storage()).unwrap();
        let len32 = len as u32;
        let edges: Vec<_> = edges.into_iter().map(|(a, b, w)| (a % len32, b % len32, w)).collect();
        if bulk {
            for (a, b, w) in edges {
                let _ = net.add_edges([(a, b, w)]);
            }
        } else {
            for (a, b, w) in edges {
                let _ = net.add_edge(a, b, w);
            }
        }
        check_against_oracle(&net)?;
        let mut now = 0;
        for op in ops {
            match op {
                Op::SetState(n, s) => {
                    let _ = net.set_state(now, n % len32, NodeState::from_u8(s).unwrap());
                }
                Op::Observe(k, o) => {
                    if let Some((a, b)) = nth_edge(&net, k) {
                        net.observe_edge(a, b, o).unwrap();
                    }
                }
                Op::AddEdge(a, b, w) => {
                    let _ = net.add_edge(a % len32, b % len32, w);
                }
                Op::RemoveEdge(k) => {
                    if let Some((a, b)) = nth_edge(&net, k) {
                        net.remove_edge(a, b).unwrap();
                    }
                }
                Op::Report(n, l) => {
                    net.report_anomaly(now, n % len32, l).unwrap();
                }
                Op::Vote(a, b, g) => {
                    let _ = net.vote(now, a % len32, b % len32, g);
                }
                Op::Tick(dt) => {
                    now += dt;
                    net.tick(now);
                }
            }
            check_against_oracle(&net)?;
            let blocked = (0..len32).filter(|&i| net.is_blocked(i)).count() as u32;
            prop_assert_eq!(net.unblocked_count(), len32 - blocked);
            for i in 0..len32 {
                prop_assert_eq!(net.is_blocked(i), net.node_state(i).unwrap().is_blocked());
            }
        }
    }

    /// Any coalition of at most ⌊(len − 1)/3⌋ colluding voters never convicts an honest node, for every
    /// admissible fraction, whatever the honest voters do to the coalition.
    #[test]
    fn coalition_within_bound_never_convicts_honest(
        len in 2..=CAP,
        frac in prop_oneof![Just((1u16, 3u16)), Just((1, 2)), Just((2, 3)), Just((34, 100))],
        coalition_seed in any::<u64>(),
        votes in proptest::collection::vec((0..CAP as u32, 0..CAP as u32, any::<bool>()), 0..400),
    ) {
        let cfg = NetworkConfig { vote_num: frac.0, vote_den: frac.1, ..NetworkConfig::DEFAULT };
        let mut tb = tables(len);
        let mut net = vote_net(cfg, len, &mut tb);
        let bound = (len - 1) / 3;
        let mut bad = [false; CAP];
        let mut s = coalition_seed;
        let mut chosen = 0;
        while chosen < bound {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let i = (s >> 33) as usize % len;
            if !bad[i] {
                bad[i] = true;
                chosen += 1;
            }
        }
        let len32 = len as u32;
        for (v, a, coin) in votes {
            let (v, a) = (v % len32, a % len32);
            // Liars: guilty on honest nodes, not guilty on accomplices. Honest: the truth, or abstain.
            let guilty = if bad[v as usize] { !bad[a as usize] } else { bad[a as usize] && coin };
            let _ = net.vote(0, v, a, guilty);
            for i in 0..len {
                if !bad[i] {
                    prop_assert!(!net.is_blocked(i as NodeId), "honest node {} convicted", i);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 4 } else { 200 }, ..ProptestConfig::default() })]

    /// Many equal-cost paths (weights 1..=2, trust moved only to the extremes) and long sequences of
    /// blocks, releases and edge changes: repairs must pick a least-cost hop among ties, and stale bits
    /// of the child index (nodes that lost their children before being blocked) must not matter.
    #[test]
    fn ties_and_block_release_cycles_match_oracle(
        len in 2..=CAP,
        edges in proptest::collection::vec((0..CAP as u32, 0..CAP as u32, 1..=2u16), 0..40),
        ops in proptest::collection::vec(
            prop_oneof![
                6 => (0..CAP as u32, prop_oneof![Just(0u8), Just(2), Just(3), Just(4)])
                    .prop_map(|(n, s)| Op::SetState(n, s)),
                2 => (any::<usize>(), prop_oneof![Just(0), Just(ONE_Q16)]).prop_map(|(e, o)| Op::Observe(e, o)),
                2 => (0..CAP as u32, 0..CAP as u32, 1..=2u16).prop_map(|(a, b, w)| Op::AddEdge(a, b, w)),
                1 => any::<usize>().prop_map(Op::RemoveEdge),
            ],
            0..80,
        ),
    ) {
        let mut tb = tables(len);
        let mut net = Net::new(NetworkConfig::DEFAULT, len, tb.storage()).unwrap();
        let len32 = len as u32;
        let _ = net.add_edges(edges.into_iter().map(|(a, b, w)| (a % len32, b % len32, w)).filter(|(a, b, _)| a != b));
        check_against_oracle(&net)?;
        for (k, op) in ops.into_iter().enumerate() {
            match op {
                Op::SetState(n, st) => {
                    net.set_state(k as u64, n % len32, NodeState::from_u8(st).unwrap()).unwrap();
                }
                Op::Observe(e, o) => {
                    if let Some((a, b)) = nth_edge(&net, e) {
                        net.observe_edge(a, b, o).unwrap();
                    }
                }
                Op::AddEdge(a, b, w) => {
                    let _ = net.add_edge(a % len32, b % len32, w);
                }
                Op::RemoveEdge(e) => {
                    if let Some((a, b)) = nth_edge(&net, e) {
                        net.remove_edge(a, b).unwrap();
                    }
                }
                _ => {}
            }
            check_against_oracle(&net)?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 4 } else { 64 }, ..ProptestConfig::default() })]

    /// Multi-word bitsets (W = 2) on graphs of up to 100 nodes: blocks, releases and trust moves
    /// against the oracle.
    #[test]
    fn multiword_routes_match_oracle(
        len in 65..=if MIRI { 68 } else { 100usize },
        chords in proptest::collection::vec((0..100u32, 0..100u32, 1..20u16), if MIRI { 10..20 } else { 50..150 }),
        ops in proptest::collection::vec(
            prop_oneof![
                (0..100u32, 0..5u8).prop_map(|(n, s)| Op::SetState(n, s)),
                (any::<usize>(), 0..=ONE_Q16).prop_map(|(e, o)| Op::Observe(e, o)),
                any::<usize>().prop_map(Op::RemoveEdge),
            ],
            1..if MIRI { 6 } else { 25 },
        ),
    ) {
        type Big<'t> = Network<'t, 6>;
        let mut tb = NetworkBuffers::<6>::new(len);
        let mut net = Big::new(NetworkConfig::DEFAULT, len, tb.storage()).unwrap();
        let len32 = len as u32;
        let ring = (0..len32).map(|i| (i, (i + 1) % len32, 1 + (i % 7) as u16));
        net.add_edges(ring).unwrap();
        for (a, b, w) in chords {
            let _ = net.add_edge(a % len32, b % len32, w);
        }
        for (k, op) in ops.into_iter().enumerate() {
            apply_state_op(&mut net, k as u64, op, 1);
        }
        check_against_oracle(&net)?;
        let blocked = (0..len32).filter(|&i| net.is_blocked(i)).count() as u32;
        prop_assert_eq!(net.unblocked_count(), len32 - blocked);
        let words = net.blocked_bits();
        prop_assert_eq!(words.iter().map(|w| w.count_ones()).sum::<u32>(), blocked);
    }

    /// Unit-weight grids: nearly every node has several equal-cost parents in every tree, so repairs
    /// mostly move hops without changing distances, skip whole sub-subtrees, and mix kept and
    /// recomputed nodes in one subtree; trust observations break some ties.
    #[test]
    fn unit_grids_with_many_ties_match_oracle(
        rows in 2..=4usize,
        cols in 2..=4usize,
        ops in proptest::collection::vec(
            prop_oneof![
                6 => (0..CAP as u32, prop_oneof![Just(0u8), Just(2), Just(3)]).prop_map(|(n, s)| Op::SetState(n, s)),
                3 => (any::<usize>(), prop_oneof![Just(0), Just(ONE_Q16 / 2), Just(ONE_Q16)])
                    .prop_map(|(e, o)| Op::Observe(e, o)),
                2 => any::<usize>().prop_map(Op::RemoveEdge),
                1 => (0..CAP as u32, 0..CAP as u32).prop_map(|(a, b)| Op::AddEdge(a, b, 1)),
            ],
            0..60,
        ),
    ) {
        let len = rows * cols;
        let mut tb = tables(len);
        let mut net = Net::new(NetworkConfig::DEFAULT, len, tb.storage()).unwrap();
        let id = |r: usize, c: usize| (r * cols + c) as NodeId;
        let mut edges = Vec::new();
        for r in 0..rows {
            for c in 0..cols {
                if c + 1 < cols { edges.push((id(r, c), id(r, c + 1), 1)); }
                if r + 1 < rows { edges.push((id(r, c), id(r + 1, c), 1)); }
            }
        }
        net.add_edges(edges).unwrap();
        check_against_oracle(&net)?;
        let len32 = len as u32;
        for (k, op) in ops.into_iter().enumerate() {
            match op {
                Op::SetState(n, st) => {
                    net.set_state(k as u64, n % len32, NodeState::from_u8(st).unwrap()).unwrap();
                }
                Op::Observe(e, o) => {
                    if let Some((a, b)) = nth_edge(&net, e) {
                        for _ in 0..8 {
                            net.observe_edge(a, b, o).unwrap();
                        }
                    }
                }
                Op::AddEdge(a, b, w) => {
                    let _ = net.add_edge(a % len32, b % len32, w);
                }
                Op::RemoveEdge(e) => {
                    if let Some((a, b)) = nth_edge(&net, e) {
                        net.remove_edge(a, b).unwrap();
                    }
                }
                _ => {}
            }
            check_against_oracle(&net)?;
        }
    }
}

/// The packed link (other end in 15 bits, cost in 17) at its extremes: the costliest edge there is
/// (`MAX_EDGE_WEIGHT` at trust 0: `× 17`) is stored, reported and routed at its full cost, and an edge
/// whose trust moves between the extremes keeps its other end.
#[test]
fn costliest_edges_keep_their_cost_and_end() {
    let cfg = NetworkConfig { initial_trust: 0, ..NetworkConfig::DEFAULT };
    let mut tb = tables(5);
    let mut net = Net::new(cfg, 5, tb.storage()).unwrap();
    net.add_edges([(0, 4, MAX_EDGE_WEIGHT), (4, 3, MAX_EDGE_WEIGHT), (0, 1, 1), (1, 2, 1)]).unwrap();
    let max = u32::from(MAX_EDGE_WEIGHT) * 17;
    assert!(max >= 1 << 16, "the cost needs the 17th bit");
    assert_eq!(net.edge(0, 4).unwrap().map(|e| (e.to, e.cost)), Some((4, max)));
    assert_eq!(net.edge(4, 0).unwrap().map(|e| (e.to, e.cost)), Some((0, max)));
    assert_eq!((net.route(3, 0), net.route_cost(3, 0)), (Ok(4), Ok(2 * max)));
    // Full trust: the cost drops to the weight; the ends do not move.
    for _ in 0..200 {
        net.observe_edge(0, 4, ONE_Q16).unwrap();
    }
    let e = net.edge(0, 4).unwrap().unwrap();
    assert_eq!(e.to, 4);
    assert!(e.cost <= 2 * u32::from(MAX_EDGE_WEIGHT), "trust near 1.0: cost near the weight");
    assert_eq!(net.route_cost(3, 0), Ok(max + e.cost));
    net.set_state(0, 4, NodeState::Quarantined).unwrap();
    assert_eq!(net.route(3, 0), Err(RouteError::Unreachable));
    assert_eq!((net.route(2, 0), net.route_cost(2, 0)), (Ok(1), Ok(2 * 17)), "two untrusted unit edges");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 4 } else { 96 }, ..ProptestConfig::default() })]

    /// Costs across the whole range of the packed link (weights up to `MAX_EDGE_WEIGHT`, trust driven
    /// to 0 or 1, so edge costs from 1 to `4095 × 17`) and mostly blocks and releases, on ring-plus-chord
    /// graphs of up to 48 nodes (several subtrees per tree, found nodes, stale offers, seeds): every
    /// state against the oracle.
    #[test]
    fn wide_costs_and_quarantine_cycles_match_oracle(
        len in 8..=if MIRI { 16 } else { 48usize },
        ring_w in proptest::collection::vec(1..=MAX_EDGE_WEIGHT, 48),
        chords in proptest::collection::vec((0..48u32, 0..48u32, prop_oneof![1..=16u16, 1..=MAX_EDGE_WEIGHT]), 0..60),
        ops in proptest::collection::vec(
            prop_oneof![
                6 => (0..48u32, prop_oneof![Just(0u8), Just(2), Just(3)]).prop_map(|(n, s)| Op::SetState(n, s)),
                2 => (any::<usize>(), prop_oneof![Just(0), Just(ONE_Q16)]).prop_map(|(e, o)| Op::Observe(e, o)),
                1 => any::<usize>().prop_map(Op::RemoveEdge),
            ],
            1..if MIRI { 8 } else { 40 },
        ),
    ) {
        type Wide<'t> = Network<'t, 8>;
        let mut tb = NetworkBuffers::<8>::new(len);
        let mut net = Wide::new(NetworkConfig::DEFAULT, len, tb.storage()).unwrap();
        let len32 = len as u32;
        let ring = (0..len32).map(|i| (i, (i + 1) % len32, ring_w[i as usize]));
        let chords = chords.into_iter().map(|(a, b, w)| (a % len32, b % len32, w));
        let mut edges: Vec<(u32, u32, u16)> = ring.collect();
        for (a, b, w) in chords {
            if a != b && !edges.iter().any(|&(x, y, _)| (x, y) == (a, b) || (x, y) == (b, a)) {
                edges.push((a, b, w));
            }
        }
        // Degree-full edges are refused and the rest kept: routes are consistent either way.
        for e in edges {
            let _ = net.add_edge(e.0, e.1, e.2);
        }
        check_against_oracle(&net)?;
        for (k, op) in ops.into_iter().enumerate() {
            apply_state_op(&mut net, k as u64, op, 40);
            check_against_oracle(&net)?;
        }
    }
}

/// Runs the shares of a repair in a test-chosen way: on scoped threads, in reverse order, or leaving
/// some for the network to run.
struct TestRunner {
    mode: u8,
    /// Shares seen and shares run by the runner itself, summed over all repairs.
    seen: usize,
    ran: usize,
}

impl<const D: usize> RepairRunner<D> for TestRunner {
    fn run(&mut self, shares: &mut [RepairShare<'_, D>], scratch: &mut [RepairScratch<'_>]) {
        self.seen += shares.len();
        match self.mode % 3 {
            // One thread per scratch, each with a contiguous run of shares.
            0 => std::thread::scope(|s| {
                let per = shares.len().div_ceil(scratch.len());
                for (run, sc) in shares.chunks_mut(per).zip(scratch.iter_mut()) {
                    s.spawn(move || run.iter_mut().for_each(|sh| sh.run(sc)));
                }
            }),
            1 => {
                let sc = scratch.last_mut().unwrap();
                shares.iter_mut().rev().for_each(|sh| sh.run(sc));
            }
            // Every other share left undone: the network must finish them.
            _ => shares.iter_mut().step_by(2).for_each(|sh| sh.run(&mut scratch[0])),
        }
        self.ran += shares.iter().filter(|s| s.is_done()).count();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 2 } else { 48 }, ..ProptestConfig::default() })]

    /// A repair cut into shares (run on threads, in reverse, or partly by the network) leaves the
    /// route table and the child index bit for bit as the sequential repair does, after the full
    /// rebuild and after every block, release, trust change and edge removal.
    #[test]
    fn parallel_shares_match_sequential(
        len in if MIRI { 65..=70usize } else { 65..=260usize },
        extra in 1..=3usize,
        mode in 0..3u8,
        chords in proptest::collection::vec((0..260u32, 0..260u32, 1..20u16), if MIRI { 10..20 } else { 60..300 }),
        ops in proptest::collection::vec(
            prop_oneof![
                4 => (0..260u32, 0..5u8).prop_map(|(n, s)| Op::SetState(n, s)),
                2 => (any::<usize>(), 0..=ONE_Q16).prop_map(|(e, o)| Op::Observe(e, o)),
                1 => any::<usize>().prop_map(Op::RemoveEdge),
            ],
            1..if MIRI { 6 } else { 30 },
        ),
    ) {
        type Big<'t> = Network<'t, 8>;
        let len32 = len as u32;
        let ring = (0..len32).map(|i| (i, (i + 1) % len32, 1 + (i % 7) as u16));
        let chords: Vec<_> = chords.into_iter().map(|(a, b, w)| (a % len32, b % len32, w)).collect();
        let (mut ta, mut tb) = (NetworkBuffers::<8>::new(len), NetworkBuffers::<8>::new(len));
        let mut bufs: Vec<RepairScratchBuffers> = (0..extra).map(|_| RepairScratchBuffers::new(len)).collect();
        let mut scratch: Vec<RepairScratch<'_>> = bufs.iter_mut().map(|b| b.scratch()).collect();
        let mut runner = TestRunner { mode, seen: 0, ran: 0 };
        let mut seq = Big::new(NetworkConfig::DEFAULT, len, ta.storage()).unwrap();
        let mut par = Big::new(NetworkConfig::DEFAULT, len, tb.storage()).unwrap();
        par.set_parallel(&mut scratch, &mut runner).unwrap();
        for net in [&mut seq, &mut par] {
            net.add_edges(ring.clone()).unwrap();
            for &(a, b, w) in &chords {
                let _ = net.add_edge(a, b, w);
            }
        }
        // `add_edges` rebuilt every tree, `par`'s in shares.
        prop_assert!(seq.table == par.table && seq.has_child == par.has_child, "after the build");
        for (k, op) in ops.into_iter().enumerate() {
            apply_state_op(&mut seq, k as u64, op.clone(), 1);
            apply_state_op(&mut par, k as u64, op, 1);
            prop_assert!(seq.table == par.table, "route tables differ after op {}", k);
            prop_assert!(seq.has_child == par.has_child, "child indexes differ after op {}", k);
            prop_assert!(seq.heap.len() == 0 && par.heap.len() == 0);
        }
        // One more block and release of a healthy node: both go through the runner (two or more groups).
        if let Some(x) = (0..len32).find(|&i| par.node_state(i) == Ok(NodeState::Healthy)) {
            for net in [&mut seq, &mut par] {
                net.set_state(1000, x, NodeState::Quarantined).unwrap();
                net.set_state(1000, x, NodeState::Healthy).unwrap();
            }
            prop_assert!(seq.table == par.table && seq.has_child == par.has_child);
        }
        check_against_oracle(&par)?;
        check_child_index(&par)?;
        prop_assert!(runner.seen >= 4, "the runner saw {} shares", runner.seen);
        prop_assert!(runner.ran <= runner.seen);
    }
}

#[test]
fn set_parallel_refuses_small_scratch_and_small_networks_stay_sequential() {
    let mut small = RepairScratchBuffers::new(10);
    let mut s = [small.scratch()];
    let mut runner = TestRunner { mode: 0, seen: 0, ran: 0 };
    let mut tb = NetworkBuffers::<4>::new(20);
    let mut net = Network::<4>::new(NetworkConfig::DEFAULT, 20, tb.storage()).unwrap();
    assert_eq!(
        net.set_parallel(&mut s, &mut runner).unwrap_err(),
        NetworkError::StorageTooSmall { part: StoragePart::Scratch, needed: RepairScratch::halves(20) }
    );
    let (mut w, mut h) = (vec![0u64; 5], vec![0u16; 40]);
    assert!(matches!(RepairScratch::new(20, &mut w, &mut h), Err(NetworkError::StorageTooSmall { .. })));
    let (mut w, mut h) = (vec![0u64; 20], vec![0u16; 39]);
    assert!(matches!(RepairScratch::new(20, &mut w, &mut h), Err(NetworkError::StorageTooSmall { .. })));

    // One tree group (≤ 64 nodes): one share, the runner is never called.
    let mut big = RepairScratchBuffers::new(20);
    let mut s = [big.scratch()];
    let mut runner = TestRunner { mode: 0, seen: 0, ran: 0 };
    let mut tb = NetworkBuffers::<4>::new(20);
    let mut net = Network::<4>::new(NetworkConfig::DEFAULT, 20, tb.storage()).unwrap();
    net.set_parallel(&mut s, &mut runner).unwrap();
    net.add_edges((0..20).map(|i| (i, (i + 1) % 20, 1))).unwrap();
    net.set_state(0, 3, NodeState::Quarantined).unwrap();
    net.set_state(0, 3, NodeState::Healthy).unwrap();
    assert_eq!(net.route_cost(2, 4), Ok(2));
    assert_eq!(runner.seen, 0);
}

#[test]
fn shares_are_balanced_by_work() {
    // 4 groups with work 10, 0, 10, 20 into 2 shares: cut after the third group (20 of 40 reached).
    let work = [10u32, 0, 10, 20];
    let (b, used) = split_groups_for_test(4, 2, &work);
    assert_eq!(used, 2);
    assert_eq!(&b[..3], &[0, 3, 4]);
    // More shares wanted than groups: one per group at most.
    let (b, used) = split_groups_for_test(2, 8, &[5, 5]);
    assert_eq!(used, 2);
    assert_eq!(&b[..3], &[0, 1, 2]);
    // No work at all: still cut (the entries of the blocked node are written in every tree).
    let (b, used) = split_groups_for_test(3, 2, &[0, 0, 0]);
    assert_eq!((used, b[1]), (2, 1));
}

fn split_groups_for_test(w: usize, wanted: usize, work: &[u32]) -> ([usize; MAX_SHARES + 1], usize) {
    super::routing::split_groups(w, wanted, |k| work[k])
}
