//! Network adaptation: a fixed-capacity trust graph of agents/nodes, node states, quarantine, peer votes
//! and a self-repairing next-hop table.
//!
//! * Graph: up to `N` nodes (ids `0..len`), undirected edges, at most `D` per node, each with a base
//!   weight (1..=[`MAX_EDGE_WEIGHT`]) and a trust in [`Q16`] updated by [`trust_ewma`]. The route cost of
//!   an edge is [`edge_cost`]: `weight × (17 − ⌊16·trust⌋)`.
//! * Nodes: an anomaly window of local evidence (the behaviour engine) and one of peer reports; states
//!   healthy / suspicious / quarantined / isolated / recovering with hysteresis and cool-downs.
//! * Votes: conviction by more than a configurable fraction (≥ 1/3) of the eligible voters.
//! * Routes: a destination-major table of `len × len` [`RouteSlot`]s (next hop and distance) in a
//!   caller-provided slice, one contiguous block per shortest-path tree; [`Network::route`] is a bit test and a table read, and every change is
//!   repaired incrementally (see `docs/NETWORK.md`).
//!
//! Blocked nodes ([`NodeState::is_blocked`]) are removed from the routing graph: no route starts at,
//! ends at or passes through one.

mod anomaly;
mod fixed;
mod routing;
#[cfg(test)]
mod tests;

use core::fmt;

use crate::Micros;
pub use anomaly::ANOMALY_WINDOW;
use anomaly::Window;
pub use fixed::{HALF_Q16, ONE_Q16, Q16, TRUST_LEVELS, edge_cost, q16_ratio, trust_ewma};
use routing::Heap;
pub use routing::{MAX_SCRATCH, MAX_SHARES, RepairRunner, RepairScratch, RepairShare};

/// The state of a node (an agent) in the network. Numeric values are frozen (records, C ABI).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum NodeState {
    /// Behaving normally; routes may pass through it.
    #[default]
    Healthy = 0,
    /// Anomaly above the suspicion threshold; still routable, watched.
    Suspicious = 1,
    /// Quarantined: its tool calls are refused and no route passes through it.
    Quarantined = 2,
    /// Isolated: cut off entirely.
    Isolated = 3,
    /// Released from quarantine, on probation; routable but watched.
    Recovering = 4,
}

impl NodeState {
    /// Whether no route may pass through, and no tool call be allowed for, a node in this state.
    pub const fn is_blocked(self) -> bool {
        matches!(self, NodeState::Quarantined | NodeState::Isolated)
    }
    /// The value for a numeric code.
    pub const fn from_u8(v: u8) -> Option<NodeState> {
        match v {
            0 => Some(NodeState::Healthy),
            1 => Some(NodeState::Suspicious),
            2 => Some(NodeState::Quarantined),
            3 => Some(NodeState::Isolated),
            4 => Some(NodeState::Recovering),
            _ => None,
        }
    }
    /// Lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            NodeState::Healthy => "healthy",
            NodeState::Suspicious => "suspicious",
            NodeState::Quarantined => "quarantined",
            NodeState::Isolated => "isolated",
            NodeState::Recovering => "recovering",
        }
    }
}
/// A node id: an index `0..len` of the network.
pub type NodeId = u32;

/// The largest supported capacity `N` (ids and next hops are stored as `u16`, and every path cost fits
/// a `u32`: `(MAX_NODES − 1) × MAX_EDGE_WEIGHT × 17 < 2^32`).
pub const MAX_NODES: usize = 32_767;

/// The largest base weight of an edge.
pub const MAX_EDGE_WEIGHT: u16 = 4_095;

/// The largest supported degree bound `D`.
pub const MAX_DEGREE: usize = 255;

/// The number of `u64` words of a bitset over `nodes` nodes.
pub const fn bitset_words(nodes: usize) -> usize {
    nodes.div_ceil(64)
}

/// The number of [`RouteSlot`]s the route table needs for `len` nodes (`len²`; [`StorageLen::table`]).
pub const fn table_len(len: usize) -> usize {
    len * len
}

/// Marker of "no next hop" in the next-hop table.
pub(crate) const NO_HOP: u16 = u16::MAX;
/// Marker of "unreachable" in the distance table.
pub(crate) const INF: u32 = u32::MAX;

/// One entry of the caller-provided route table: the next hop and the path cost from one node to one
/// destination, packed in 8 bytes so that a repair reads both with one load. The table is
/// destination-major (`t·len + s`): each shortest-path tree is one contiguous block. Opaque: create the
/// table as `[RouteSlot::EMPTY; table_len(len)]` (or a `Vec`) and hand it to [`Network::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteSlot(u64);

impl RouteSlot {
    /// An unreachable entry.
    pub const EMPTY: RouteSlot = RouteSlot::new(INF, NO_HOP);

    #[inline]
    pub(crate) const fn new(dist: u32, hop: u16) -> RouteSlot {
        RouteSlot((dist as u64) << 16 | hop as u64)
    }
    #[inline]
    pub(crate) const fn dist(self) -> u32 {
        (self.0 >> 16) as u32
    }
    #[inline]
    pub(crate) const fn hop(self) -> u16 {
        self.0 as u16
    }
}

impl Default for RouteSlot {
    fn default() -> Self {
        RouteSlot::EMPTY
    }
}

/// Tunables of a [`Network`]. All levels are [`Q16`] fractions; times are [`Micros`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetworkConfig {
    /// EWMA weight α of a new trust observation (upstream 0.1).
    pub trust_alpha: Q16,
    /// Trust of a new edge.
    pub initial_trust: Q16,
    /// Anomaly at which a healthy node becomes suspicious (local evidence or peer reports).
    pub suspicious: Q16,
    /// Local anomaly at which a node is quarantined (upstream 0.6).
    pub quarantine: Q16,
    /// Local anomaly at which a node is isolated (upstream 0.8).
    pub isolate: Q16,
    /// Hysteresis: a state is left only once the anomaly falls below its threshold minus this.
    pub hysteresis: Q16,
    /// Signals a window needs before its mean counts (1..=[`ANOMALY_WINDOW`]).
    pub min_signals: u8,
    /// Minimum time in quarantine before release to probation.
    pub quarantine_cooldown: Micros,
    /// Minimum time isolated before release to probation; `Micros::MAX` (the default): never
    /// automatically, only by an operator ([`Network::set_state`]).
    pub isolate_cooldown: Micros,
    /// Probation: minimum time recovering before a node is healthy again.
    pub probation: Micros,
    /// Conviction needs strictly more than `vote_num / vote_den` of the eligible voters.
    pub vote_num: u16,
    /// Denominator of the conviction fraction.
    pub vote_den: u16,
}

impl NetworkConfig {
    /// Upstream's values: α = 0.1, suspicious 0.4, quarantine 0.6, isolate 0.8, hysteresis 0.1; and ours:
    /// 5 signals minimum, 30 s quarantine cool-down, isolation released by an operator only, 60 s
    /// probation, conviction by a strict majority.
    pub const DEFAULT: NetworkConfig = NetworkConfig {
        trust_alpha: q16_ratio(1, 10),
        initial_trust: ONE_Q16,
        suspicious: q16_ratio(4, 10),
        quarantine: q16_ratio(6, 10),
        isolate: q16_ratio(8, 10),
        hysteresis: q16_ratio(1, 10),
        min_signals: 5,
        quarantine_cooldown: 30_000_000,
        isolate_cooldown: Micros::MAX,
        probation: 60_000_000,
        vote_num: 1,
        vote_den: 2,
    };

    /// Checks the configuration: `0 < hysteresis < suspicious < quarantine < isolate ≤ 1`,
    /// `0 < α ≤ 1`, `initial_trust ≤ 1`, `1 ≤ min_signals ≤ 20` and `1/3 ≤ vote_num/vote_den < 1`.
    pub const fn validate(&self) -> Result<(), ConfigError> {
        if self.trust_alpha == 0 || self.trust_alpha > ONE_Q16 {
            return Err(ConfigError::TrustAlpha);
        }
        if self.initial_trust > ONE_Q16 {
            return Err(ConfigError::InitialTrust);
        }
        if !(self.suspicious < self.quarantine && self.quarantine < self.isolate && self.isolate <= ONE_Q16) {
            return Err(ConfigError::ThresholdOrder);
        }
        if self.hysteresis == 0 || self.hysteresis >= self.suspicious {
            return Err(ConfigError::Hysteresis);
        }
        if self.min_signals == 0 || self.min_signals as usize > ANOMALY_WINDOW {
            return Err(ConfigError::MinSignals);
        }
        if self.vote_den == 0 || self.vote_num >= self.vote_den {
            return Err(ConfigError::VoteFractionUnreachable);
        }
        if (self.vote_num as u32) * 3 < self.vote_den as u32 {
            return Err(ConfigError::VoteFractionBelowByzantineBound);
        }
        Ok(())
    }
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A rejected [`NetworkConfig`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConfigError {
    /// `trust_alpha` is 0 or above 1.0.
    TrustAlpha,
    /// `initial_trust` is above 1.0.
    InitialTrust,
    /// Thresholds are not `suspicious < quarantine < isolate ≤ 1.0`.
    ThresholdOrder,
    /// Hysteresis is 0 or not below the suspicion threshold.
    Hysteresis,
    /// `min_signals` is 0 or larger than the window.
    MinSignals,
    /// The conviction fraction is below the one-third Byzantine bound.
    VoteFractionBelowByzantineBound,
    /// The conviction fraction is 1 or more (or has a zero denominator): no vote could ever convict.
    VoteFractionUnreachable,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigError::TrustAlpha => "trust EWMA weight must be in (0, 1]",
            ConfigError::InitialTrust => "initial trust must be at most 1",
            ConfigError::ThresholdOrder => "thresholds must satisfy suspicious < quarantine < isolate <= 1",
            ConfigError::Hysteresis => "hysteresis must be positive and below the suspicion threshold",
            ConfigError::MinSignals => "min_signals must be in 1..=20",
            ConfigError::VoteFractionBelowByzantineBound => {
                "conviction fraction is below the one-third Byzantine bound"
            }
            ConfigError::VoteFractionUnreachable => "conviction fraction must be below 1",
        })
    }
}

/// A part of a [`NetworkStorage`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoragePart {
    /// [`NetworkStorage::nodes`].
    Nodes,
    /// [`NetworkStorage::adjacency`].
    Adjacency,
    /// [`NetworkStorage::words`].
    Words,
    /// [`NetworkStorage::scratch`].
    Scratch,
    /// [`NetworkStorage::table`].
    Table,
}

impl StoragePart {
    /// The field's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            StoragePart::Nodes => "nodes",
            StoragePart::Adjacency => "adjacency",
            StoragePart::Words => "words",
            StoragePart::Scratch => "scratch",
            StoragePart::Table => "table",
        }
    }
}

/// A refused operation on a [`Network`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NetworkError {
    /// The configuration was rejected.
    Config(ConfigError),
    /// `len` exceeds [`MAX_NODES`].
    Capacity {
        /// The requested number of nodes.
        len: usize,
        /// The largest supported number of nodes ([`MAX_NODES`]).
        capacity: usize,
    },
    /// A slice of the caller-provided [`NetworkStorage`] is shorter than [`storage_len`] requires.
    StorageTooSmall {
        /// Which slice.
        part: StoragePart,
        /// Elements needed.
        needed: usize,
    },
    /// A node id is not below `len`.
    OutOfRange {
        /// The offending id.
        node: NodeId,
    },
    /// An edge from a node to itself.
    SelfLoop,
    /// The edge exists already.
    DuplicateEdge,
    /// The edge does not exist.
    NoSuchEdge,
    /// A weight outside `1..=MAX_EDGE_WEIGHT`.
    BadWeight,
    /// A node already has `D` edges; the edge was not added.
    DegreeFull {
        /// The full node.
        node: NodeId,
    },
    /// A node voted on or reported itself.
    SelfVote,
    /// A quarantined or isolated node tried to vote or report.
    VoterBlocked,
    /// The voter already voted in the accused's current round.
    AlreadyVoted,
}

impl From<ConfigError> for NetworkError {
    fn from(e: ConfigError) -> Self {
        NetworkError::Config(e)
    }
}

impl fmt::Display for NetworkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkError::Config(e) => write!(f, "invalid network config: {e}"),
            NetworkError::Capacity { len, capacity } => {
                write!(f, "{len} nodes exceed the capacity of {capacity}")
            }
            NetworkError::StorageTooSmall { part, needed } => {
                write!(f, "network storage: {} needs {needed} elements", part.as_str())
            }
            NetworkError::OutOfRange { node } => write!(f, "node {node} is out of range"),
            NetworkError::SelfLoop => f.write_str("an edge cannot join a node to itself"),
            NetworkError::DuplicateEdge => f.write_str("edge already exists"),
            NetworkError::NoSuchEdge => f.write_str("no such edge"),
            NetworkError::BadWeight => write!(f, "edge weight must be in 1..={MAX_EDGE_WEIGHT}"),
            NetworkError::DegreeFull { node } => write!(f, "node {node} has no free edge slot"),
            NetworkError::SelfVote => f.write_str("a node cannot vote on or report itself"),
            NetworkError::VoterBlocked => f.write_str("a quarantined or isolated node cannot vote or report"),
            NetworkError::AlreadyVoted => f.write_str("voter already voted in this round"),
        }
    }
}

/// A refused routing decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteError {
    /// Source or destination is not below `len`.
    OutOfRange,
    /// The source is quarantined or isolated.
    SourceBlocked,
    /// The destination is quarantined or isolated.
    DestinationBlocked,
    /// No path avoiding blocked nodes joins source and destination.
    Unreachable,
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RouteError::OutOfRange => "node out of range",
            RouteError::SourceBlocked => "source is quarantined or isolated",
            RouteError::DestinationBlocked => "destination is quarantined or isolated",
            RouteError::Unreachable => "destination unreachable",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ConfigError {}
#[cfg(feature = "std")]
impl std::error::Error for NetworkError {}
#[cfg(feature = "std")]
impl std::error::Error for RouteError {}

/// A node's change of state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StateChange {
    /// The node.
    pub node: NodeId,
    /// State before.
    pub from: NodeState,
    /// State after.
    pub to: NodeState,
    /// When (the caller's `now`).
    pub at: Micros,
}

/// The result of an accepted [`Network::vote`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VoteOutcome {
    /// The round is open: no conviction yet, and one is still possible.
    Pending {
        /// Guilty votes of eligible voters so far.
        guilty: u32,
        /// Not-guilty votes of eligible voters so far.
        innocent: u32,
        /// Eligible voters: unblocked nodes other than the accused.
        eligible: u32,
    },
    /// Conviction: the accused is isolated (peers' consensus outweighs its local evidence) and the round
    /// closed. `None` if it was already isolated.
    Convicted(Option<StateChange>),
    /// Conviction became impossible (too many not-guilty votes); the round closed.
    Acquitted,
}

/// One edge as seen from one of its ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EdgeInfo {
    /// The other end.
    pub to: NodeId,
    /// Base weight.
    pub weight: u16,
    /// Trust in [`Q16`].
    pub trust: Q16,
    /// Route cost ([`edge_cost`] of weight and trust).
    pub cost: u32,
}

/// The part of an edge a route repair reads: the other end (15 bits: ids are below [`MAX_NODES`]) and
/// the route cost (17 bits: at most `MAX_EDGE_WEIGHT × 17`) packed in one `u32`, so that a node's
/// links (`4·D` bytes: one cache line at `D = 16`) are scanned with one load per edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Link(pub(crate) u32);

const _: () = assert!(MAX_NODES <= 1 << 15);
const _: () = assert!((MAX_EDGE_WEIGHT as u32) * 17 < 1 << 17);

impl Link {
    const EMPTY: Link = Link(0);
    #[inline]
    const fn new(to: u16, cost: u32) -> Link {
        Link((to as u32) & 0x7FFF | cost << 15)
    }
    /// The other end.
    #[inline]
    pub(crate) const fn to(self) -> u16 {
        (self.0 & 0x7FFF) as u16
    }
    /// The route cost ([`edge_cost`]).
    #[inline]
    pub(crate) const fn cost(self) -> u32 {
        self.0 >> 15
    }
}

/// The rest of an edge: base weight and trust (read when the trust changes, never by a repair).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Edge {
    pub(crate) weight: u16,
    pub(crate) trust: u32,
}

impl Edge {
    const EMPTY: Edge = Edge { weight: 0, trust: 0 };
}

/// The per-node record of a network's caller-provided storage (time of the last state change and the
/// two anomaly windows; 184 bytes). Opaque: allocate `[NodeSlot::EMPTY; n]` (or a `Vec`), [`Network::new`] initialises it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeSlot {
    since: Micros,
    local: Window,
    peer: Window,
}

impl NodeSlot {
    /// A healthy node with empty windows and no votes.
    pub const EMPTY: NodeSlot = NodeSlot { since: 0, local: Window::EMPTY, peer: Window::EMPTY };
}

impl Default for NodeSlot {
    fn default() -> Self {
        Self::EMPTY
    }
}

/// The edges of one node in a network's caller-provided storage: up to `D` edges of 12 bytes, as two
/// arrays — the links a repair scans (other end and cost, 4 bytes each) and the base weights and
/// trusts (8 bytes each). The degree is kept apart, in [`NetworkStorage::scratch`].
/// Opaque: allocate `[Adjacency::EMPTY; n]` (or a `Vec`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Adjacency<const D: usize> {
    links: [Link; D],
    edges: [Edge; D],
}

impl<const D: usize> Adjacency<D> {
    /// No edges.
    pub const EMPTY: Adjacency<D> = Adjacency { links: [Link::EMPTY; D], edges: [Edge::EMPTY; D] };
}

impl<const D: usize> Default for Adjacency<D> {
    fn default() -> Self {
        Self::EMPTY
    }
}

/// The lengths (in elements) of each part of the storage of a network of `len` nodes:
/// [`storage_len`]. Each slice of a [`NetworkStorage`] must be at least this long (extra is unused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StorageLen {
    /// [`NodeSlot`]s: `len`.
    pub nodes: usize,
    /// [`Adjacency`] records: `len`.
    pub adjacency: usize,
    /// `u64` words of bitsets (quarantine bits, vote rounds, child index) and the repair's heap:
    /// `W·(1 + 3·len) + len` with `W = bitset_words(len)`.
    pub words: usize,
    /// `u16` words: dense per-node arrays (states, vote counters, degrees) and repair scratch (heap
    /// positions, the subtree's list): `7·len`.
    pub scratch: usize,
    /// [`RouteSlot`]s of the route table: `len²` ([`table_len`]).
    pub table: usize,
}

impl StorageLen {
    /// Total bytes of the five parts for degree bound `D` (saturating).
    pub const fn bytes<const D: usize>(&self) -> usize {
        let parts = [
            self.nodes.saturating_mul(core::mem::size_of::<NodeSlot>()),
            self.adjacency.saturating_mul(core::mem::size_of::<Adjacency<D>>()),
            self.words.saturating_mul(8),
            self.scratch.saturating_mul(2),
            self.table.saturating_mul(core::mem::size_of::<RouteSlot>()),
        ];
        let mut total = 0usize;
        let mut i = 0;
        while i < parts.len() {
            total = total.saturating_add(parts[i]);
            i += 1;
        }
        total
    }
}

/// The storage a network of `len` nodes needs, part by part (saturating for absurd `len`).
pub const fn storage_len(len: usize) -> StorageLen {
    let w = bitset_words(len);
    StorageLen {
        nodes: len,
        adjacency: len,
        words: w.saturating_mul(len.saturating_mul(3).saturating_add(1)).saturating_add(len),
        scratch: len.saturating_mul(SCRATCH_ARRAYS),
        table: len.saturating_mul(len),
    }
}

/// Arrays of `len` `u16`s in [`NetworkStorage::scratch`]: states, vote counters (guilty, not guilty,
/// open rounds), degrees, then the repair's scratch (heap positions, the subtree's list).
const SCRATCH_ARRAYS: usize = 7;

/// Caller-provided storage of a [`Network`]: every array whose size grows with the number of nodes, so
/// that the network object itself is small (a few slices and the configuration) and can be built
/// anywhere — on a 64 KiB thread stack, in an interrupt handler, in a `static` — whatever `len`.
/// Size each slice with [`storage_len`]; the previous contents are overwritten by [`Network::new`].
#[derive(Debug)]
pub struct NetworkStorage<'t, const D: usize> {
    /// Per-node records.
    pub nodes: &'t mut [NodeSlot],
    /// Per-node adjacency.
    pub adjacency: &'t mut [Adjacency<D>],
    /// Bitsets.
    pub words: &'t mut [u64],
    /// Dense per-node `u16` arrays (states, vote counters, degrees) and repair scratch.
    pub scratch: &'t mut [u16],
    /// The route table: `table[t·len + s]` is the next hop of `s` toward `t` and its cost.
    pub table: &'t mut [RouteSlot],
}

/// Owned storage for a [`Network`] (with the `alloc` feature): five `Vec`s sized by [`storage_len`].
#[cfg(feature = "alloc")]
#[derive(Clone, Debug)]
pub struct NetworkBuffers<const D: usize> {
    nodes: alloc::vec::Vec<NodeSlot>,
    adjacency: alloc::vec::Vec<Adjacency<D>>,
    words: alloc::vec::Vec<u64>,
    scratch: alloc::vec::Vec<u16>,
    table: alloc::vec::Vec<RouteSlot>,
}

#[cfg(feature = "alloc")]
impl<const D: usize> NetworkBuffers<D> {
    /// Buffers for a network of `len` nodes (on the heap: nothing large touches the stack).
    pub fn new(len: usize) -> Self {
        let l = storage_len(len);
        NetworkBuffers {
            nodes: alloc::vec![NodeSlot::EMPTY; l.nodes],
            adjacency: alloc::vec![Adjacency::EMPTY; l.adjacency],
            words: alloc::vec![0; l.words],
            scratch: alloc::vec![0; l.scratch],
            table: alloc::vec![RouteSlot::EMPTY; l.table],
        }
    }

    /// The buffers as a [`NetworkStorage`] for [`Network::new`].
    pub fn storage(&mut self) -> NetworkStorage<'_, D> {
        NetworkStorage {
            nodes: &mut self.nodes,
            adjacency: &mut self.adjacency,
            words: &mut self.words,
            scratch: &mut self.scratch,
            table: &mut self.table,
        }
    }
}

/// Owned memory for one [`RepairScratch`] (with the `alloc` feature).
#[cfg(feature = "alloc")]
#[derive(Clone, Debug)]
pub struct RepairScratchBuffers {
    len: usize,
    words: alloc::vec::Vec<u64>,
    halves: alloc::vec::Vec<u16>,
}

#[cfg(feature = "alloc")]
impl RepairScratchBuffers {
    /// Memory for the scratch of a network of up to `len` nodes.
    pub fn new(len: usize) -> Self {
        RepairScratchBuffers {
            len,
            words: alloc::vec![0; RepairScratch::words(len)],
            halves: alloc::vec![0; RepairScratch::halves(len)],
        }
    }

    /// The scratch, for [`Network::set_parallel`].
    pub fn scratch(&mut self) -> RepairScratch<'_> {
        RepairScratch::carve(self.len, &mut self.words, &mut self.halves)
    }
}

/// Per-node adjacency, in caller storage: the edges (`12·D` bytes per node) and, in a dense array of
/// their own (2 KiB at 1,024 nodes, always cached), the degrees.
pub(crate) struct Graph<'t, const D: usize> {
    adj: &'t mut [Adjacency<D>],
    deg: &'t mut [u16],
}

impl<const D: usize> Graph<'_, D> {
    /// The links of `u` (other end and cost of each edge).
    #[inline]
    pub(crate) fn links(&self, u: usize) -> &[Link] {
        match (self.adj.get(u), self.deg.get(u)) {
            (Some(a), Some(&d)) => &a.links[..usize::from(d).min(D)],
            _ => &[],
        }
    }
    /// Base weights and trusts of the edges of `u`, in the order of [`Graph::links`].
    #[inline]
    fn edges(&self, u: usize) -> &[Edge] {
        match (self.adj.get(u), self.deg.get(u)) {
            (Some(a), Some(&d)) => &a.edges[..usize::from(d).min(D)],
            _ => &[],
        }
    }
    fn degree(&self, u: usize) -> usize {
        self.links(u).len()
    }
    fn find(&self, u: usize, v: u16) -> Option<usize> {
        self.links(u).iter().position(|l| l.to() == v)
    }
    /// Edge `k` of `u` as the public [`EdgeInfo`].
    fn info(&self, u: usize, k: usize) -> Option<EdgeInfo> {
        let (l, e) = (self.links(u).get(k)?, self.edges(u).get(k)?);
        Some(EdgeInfo { to: NodeId::from(l.to()), weight: e.weight, trust: e.trust, cost: l.cost() })
    }
}

#[inline]
pub(crate) fn bit(words: &[u64], i: usize) -> bool {
    match words.get(i / 64) {
        Some(w) => (w >> (i % 64)) & 1 == 1,
        None => true,
    }
}

/// Takes the first `n` elements of `s` (which has at least `n`).
fn take<'t, T>(s: &mut &'t mut [T], n: usize) -> &'t mut [T] {
    let all = core::mem::take(s);
    let n = n.min(all.len());
    let (head, tail) = all.split_at_mut(n);
    *s = tail;
    head
}

/// A trust graph of `len` nodes with at most `D` edges each, all of whose per-node arrays and route table
/// live in a caller-provided [`NetworkStorage`] of lifetime `'t`.
///
/// The object itself is small (≈ 300 bytes: slices, counters and the configuration), so it can be built
/// and moved on any stack; the storage is [`storage_len`]`(len)`: at `len = 1024, D = 8` ≈ 0.6 MiB of
/// node data and bitsets plus the 8 MiB route table (`len²` 8-byte [`RouteSlot`]s).
pub struct Network<'t, const D: usize> {
    cfg: NetworkConfig,
    len: usize,
    /// Words of a node bitset: `bitset_words(len)`.
    w: usize,
    unblocked: u32,
    nodes: &'t mut [NodeSlot],
    /// Dense per-node arrays (hot: the gate reads states, votes touch the counters): state codes,
    /// guilty and not-guilty votes of the current round per accused, rounds with a pending vote per
    /// voter (so blocking a node that never voted costs nothing).
    state: &'t mut [u16],
    guilty: &'t mut [u16],
    innocent: &'t mut [u16],
    open_votes: &'t mut [u16],
    graph: Graph<'t, D>,
    /// The quarantine bitset (`w` words).
    blocked: &'t mut [u64],
    /// Per accused `a` and word `i`: `[voted, guilty]` at `2·(a·w + i)` (one cache line for both).
    ballots: &'t mut [u64],
    /// `has_child[⌊t/64⌋·len + v]`, bit `t % 64`: set if `v` may have a child in tree `t` (a superset,
    /// see `routing`). Group-major, so that the words of 64 trees are one contiguous slice (a
    /// [`RepairShare`] owns whole groups).
    has_child: &'t mut [u64],
    /// `table[t·len + s]`: the neighbour of `s` on a shortest path from `s` to `t` and its cost.
    table: &'t mut [RouteSlot],
    /// Scratch of a repair on the calling thread: the heap, and the subtree's nodes in the order they
    /// were found. (Not a `RepairScratch`, whose 128-byte alignment would pad this object.)
    heap: Heap<'t>,
    list: &'t mut [u16],
    /// Extra scratch and a runner for parallel repairs ([`Network::set_parallel`]).
    par: Option<Parallel<'t, D>>,
}

/// What [`Network::set_parallel`] installs.
struct Parallel<'t, const D: usize> {
    scratch: &'t mut [RepairScratch<'t>],
    runner: &'t mut dyn RepairRunner<D>,
}

impl<'t, const D: usize> Network<'t, D> {
    const CHECK: () = {
        assert!(D > 0 && D <= MAX_DEGREE, "D must be in 1..=255");
    };

    /// A network of `len` nodes (all healthy, no edges; `len ≤` [`MAX_NODES`]) in `storage`, each of
    /// whose slices holds at least [`storage_len`]`(len)` elements (the previous contents are
    /// overwritten). Nothing large is built on the stack.
    pub fn new(cfg: NetworkConfig, len: usize, storage: NetworkStorage<'t, D>) -> Result<Self, NetworkError> {
        let () = Self::CHECK;
        cfg.validate()?;
        if len > MAX_NODES {
            return Err(NetworkError::Capacity { len, capacity: MAX_NODES });
        }
        let need = storage_len(len);
        let NetworkStorage { nodes, adjacency, mut words, mut scratch, table } = storage;
        for (part, have, needed) in [
            (StoragePart::Nodes, nodes.len(), need.nodes),
            (StoragePart::Adjacency, adjacency.len(), need.adjacency),
            (StoragePart::Words, words.len(), need.words),
            (StoragePart::Scratch, scratch.len(), need.scratch),
            (StoragePart::Table, table.len(), need.table),
        ] {
            if have < needed {
                return Err(NetworkError::StorageTooSmall { part, needed });
            }
        }
        let w = bitset_words(len);
        let mut net = Network {
            cfg,
            len,
            w,
            unblocked: 0,
            nodes: nodes.split_at_mut(len).0,
            state: take(&mut scratch, len),
            guilty: take(&mut scratch, len),
            innocent: take(&mut scratch, len),
            open_votes: take(&mut scratch, len),
            graph: Graph { adj: adjacency.split_at_mut(len).0, deg: take(&mut scratch, len) },
            blocked: take(&mut words, w),
            ballots: take(&mut words, 2 * w * len),
            has_child: take(&mut words, w * len),
            // Heap entries, heap positions, then the list: the order of `storage_len`.
            heap: Heap::new(take(&mut words, len), take(&mut scratch, len)),
            list: take(&mut scratch, len),
            table: table.split_at_mut(need.table).0,
            par: None,
        };
        net.clear();
        Ok(net)
    }

    /// Returns the network to the state [`Network::new`] leaves it in (all nodes healthy, no edges, no
    /// votes), with configuration `cfg`, in place: no allocation, no large stack. On an invalid `cfg`
    /// nothing changes.
    pub fn reset(&mut self, cfg: NetworkConfig) -> Result<(), NetworkError> {
        cfg.validate()?;
        self.cfg = cfg;
        self.clear();
        Ok(())
    }

    fn clear(&mut self) {
        self.unblocked = self.len as u32;
        self.nodes.fill(NodeSlot::EMPTY);
        self.state.fill(NodeState::Healthy as u16);
        self.guilty.fill(0);
        self.innocent.fill(0);
        self.open_votes.fill(0);
        self.graph.adj.fill(Adjacency::EMPTY);
        self.graph.deg.fill(0);
        self.blocked.fill(0);
        self.ballots.fill(0);
        self.heap.clear();
        self.rebuild_routes();
    }

    /// Lets the repairs after a node is blocked or released run on several threads: the trees are cut
    /// into up to [`MAX_SHARES`] shares of whole 64-tree groups and about equal work ([`RepairShare`]),
    /// and `runner` runs them with `1 + scratch.len()` scratches (the network's own first; at most
    /// [`MAX_SCRATCH`] are used), e.g. on a thread pool. The routes are bit for bit those of the
    /// sequential repair. Refused (nothing changes) if a scratch is smaller than the network
    /// (`StorageTooSmall` with the `u16` length it needs). Networks of 64 nodes or fewer have one tree
    /// group and always repair on the calling thread. See docs/NETWORK.md, "Parallel repairs".
    pub fn set_parallel(
        &mut self,
        scratch: &'t mut [RepairScratch<'t>],
        runner: &'t mut dyn RepairRunner<D>,
    ) -> Result<(), NetworkError> {
        if scratch.iter().any(|s| s.capacity() < self.len) {
            return Err(NetworkError::StorageTooSmall {
                part: StoragePart::Scratch,
                needed: RepairScratch::halves(self.len),
            });
        }
        self.par = Some(Parallel { scratch, runner });
        Ok(())
    }

    /// Back to repairs on the calling thread only.
    pub fn clear_parallel(&mut self) {
        self.par = None;
    }

    /// The configuration.
    pub fn config(&self) -> &NetworkConfig {
        &self.cfg
    }

    /// Number of nodes (ids `0..len`).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the network has no nodes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The state of node `i` (`i < len`); an impossible code reads as isolated (fails closed).
    #[inline]
    fn state(&self, i: usize) -> NodeState {
        match self.state.get(i) {
            Some(&c) => u8::try_from(c).ok().and_then(NodeState::from_u8).unwrap_or(NodeState::Isolated),
            None => NodeState::Isolated,
        }
    }

    fn check(&self, node: NodeId) -> Result<usize, NetworkError> {
        let i = node as usize;
        if i < self.len { Ok(i) } else { Err(NetworkError::OutOfRange { node }) }
    }

    /// The state of `node`.
    pub fn node_state(&self, node: NodeId) -> Result<NodeState, NetworkError> {
        let i = self.check(node)?;
        Ok(self.state(i))
    }

    /// Whether `node` is quarantined or isolated: one bit test. Fails closed: an out-of-range id is
    /// reported as blocked.
    #[inline]
    pub fn is_blocked(&self, node: NodeId) -> bool {
        let i = node as usize;
        i >= self.len || bit(self.blocked, i)
    }

    /// The quarantine bitset: bit `i % 64` of word `i / 64` is set iff node `i` is blocked.
    pub fn blocked_bits(&self) -> &[u64] {
        self.blocked
    }

    /// Number of nodes not blocked.
    pub fn unblocked_count(&self) -> u32 {
        self.unblocked
    }

    /// When `node` entered its current state.
    pub fn state_since(&self, node: NodeId) -> Result<Micros, NetworkError> {
        let i = self.check(node)?;
        Ok(self.nodes[i].since)
    }

    /// The mean of `node`'s local anomaly window, `None` with fewer than `min_signals` signals.
    pub fn local_anomaly(&self, node: NodeId) -> Result<Option<Q16>, NetworkError> {
        let i = self.check(node)?;
        Ok(self.nodes[i].local.mean(self.cfg.min_signals))
    }

    /// The mean of `node`'s peer-report window, `None` with fewer than `min_signals` reports.
    pub fn peer_anomaly(&self, node: NodeId) -> Result<Option<Q16>, NetworkError> {
        let i = self.check(node)?;
        Ok(self.nodes[i].peer.mean(self.cfg.min_signals))
    }

    // ---- edges ------------------------------------------------------------------------------------

    fn check_pair(&self, a: NodeId, b: NodeId) -> Result<(usize, usize), NetworkError> {
        let (a, b) = (self.check(a)?, self.check(b)?);
        if a == b { Err(NetworkError::SelfLoop) } else { Ok((a, b)) }
    }

    fn insert_edge(
        &mut self,
        a: NodeId,
        b: NodeId,
        weight: u16,
    ) -> Result<(usize, usize, u32), NetworkError> {
        let (ai, bi) = self.check_pair(a, b)?;
        if weight == 0 || weight > MAX_EDGE_WEIGHT {
            return Err(NetworkError::BadWeight);
        }
        if self.graph.find(ai, bi as u16).is_some() {
            return Err(NetworkError::DuplicateEdge);
        }
        for (i, id) in [(ai, a), (bi, b)] {
            if self.graph.degree(i) >= D {
                return Err(NetworkError::DegreeFull { node: id });
            }
        }
        let trust = self.cfg.initial_trust;
        let cost = edge_cost(weight, trust);
        for (u, v) in [(ai, bi), (bi, ai)] {
            let d = usize::from(self.graph.deg[u]);
            self.graph.adj[u].links[d] = Link::new(v as u16, cost);
            self.graph.adj[u].edges[d] = Edge { weight, trust };
            self.graph.deg[u] += 1;
        }
        Ok((ai, bi, cost))
    }

    /// Adds an undirected edge of base `weight` (1..=[`MAX_EDGE_WEIGHT`]) and the configured initial
    /// trust, and repairs the routes it shortens.
    pub fn add_edge(&mut self, a: NodeId, b: NodeId, weight: u16) -> Result<(), NetworkError> {
        let (ai, bi, cost) = self.insert_edge(a, b, weight)?;
        self.edge_decreased(ai, bi, cost);
        Ok(())
    }

    /// Adds many edges, then recomputes all routes once (cheaper than [`Network::add_edge`] for building
    /// a graph). Stops at the first refused edge, returning its error (and its position in `edges`);
    /// the routes are consistent either way.
    pub fn add_edges<I>(&mut self, edges: I) -> Result<(), (usize, NetworkError)>
    where
        I: IntoIterator<Item = (NodeId, NodeId, u16)>,
    {
        let mut result = Ok(());
        for (k, (a, b, w)) in edges.into_iter().enumerate() {
            if let Err(e) = self.insert_edge(a, b, w) {
                result = Err((k, e));
                break;
            }
        }
        self.rebuild_routes();
        result
    }

    /// Removes the edge between `a` and `b` and repairs the routes that used it.
    pub fn remove_edge(&mut self, a: NodeId, b: NodeId) -> Result<(), NetworkError> {
        let (ai, bi) = self.check_pair(a, b)?;
        let (Some(i), Some(j)) = (self.graph.find(ai, bi as u16), self.graph.find(bi, ai as u16)) else {
            return Err(NetworkError::NoSuchEdge);
        };
        for (u, k) in [(ai, i), (bi, j)] {
            self.graph.deg[u] -= 1;
            let (a, last) = (&mut self.graph.adj[u], usize::from(self.graph.deg[u]));
            a.links[k] = a.links[last];
            a.edges[k] = a.edges[last];
        }
        self.edge_increased(ai, bi);
        Ok(())
    }

    /// The edge between `a` and `b`, if any.
    pub fn edge(&self, a: NodeId, b: NodeId) -> Result<Option<EdgeInfo>, NetworkError> {
        let (ai, bi) = self.check_pair(a, b)?;
        Ok(self.graph.find(ai, bi as u16).and_then(|k| self.graph.info(ai, k)))
    }

    /// The edges of `node`.
    pub fn edges(&self, node: NodeId) -> Result<impl Iterator<Item = EdgeInfo> + '_, NetworkError> {
        let i = self.check(node)?;
        Ok((0..self.graph.degree(i)).filter_map(move |k| self.graph.info(i, k)))
    }

    /// Feeds an observation `obs` ([`Q16`], e.g. 1 − anomaly of what `a` saw from `b`) into the trust of
    /// edge `a`–`b` ([`trust_ewma`]); repairs routes when the quantised cost changes. Returns the new
    /// trust.
    pub fn observe_edge(&mut self, a: NodeId, b: NodeId, obs: Q16) -> Result<Q16, NetworkError> {
        let (ai, bi) = self.check_pair(a, b)?;
        let (Some(i), Some(j)) = (self.graph.find(ai, bi as u16), self.graph.find(bi, ai as u16)) else {
            return Err(NetworkError::NoSuchEdge);
        };
        let (e, old) = (self.graph.adj[ai].edges[i], self.graph.adj[ai].links[i].cost());
        let trust = trust_ewma(e.trust, obs, self.cfg.trust_alpha);
        let cost = edge_cost(e.weight, trust);
        for (u, v, k) in [(ai, bi, i), (bi, ai, j)] {
            self.graph.adj[u].edges[k].trust = trust;
            self.graph.adj[u].links[k] = Link::new(v as u16, cost);
        }
        if cost > old {
            self.edge_increased(ai, bi);
        } else if cost < old {
            self.edge_decreased(ai, bi, cost);
        }
        Ok(trust)
    }

    // ---- states -----------------------------------------------------------------------------------

    /// Moves `v` to `to`, updating the bitset, votes and routes. `None` if it was already there.
    fn transition(&mut self, now: Micros, v: usize, to: NodeState) -> Option<StateChange> {
        let from = self.state(v);
        if from == to {
            return None;
        }
        self.state[v] = to as u16;
        self.nodes[v].since = now;
        match (from.is_blocked(), to.is_blocked()) {
            (false, true) => {
                self.blocked[v / 64] |= 1 << (v % 64);
                self.unblocked -= 1;
                self.withdraw_votes(v);
                self.block_routes(v);
            }
            (true, false) => {
                self.blocked[v / 64] &= !(1 << (v % 64));
                self.unblocked += 1;
                self.unblock_routes(v);
            }
            _ => {}
        }
        Some(StateChange { node: v as NodeId, from, to, at: now })
    }

    /// Forces `node` into `state` (an operator's decision), repairing routes as needed.
    pub fn set_state(
        &mut self,
        now: Micros,
        node: NodeId,
        state: NodeState,
    ) -> Result<Option<StateChange>, NetworkError> {
        let v = self.check(node)?;
        Ok(self.transition(now, v, state))
    }

    /// Applies the state rules to `v` at `now`.
    fn evaluate(&mut self, now: Micros, v: usize) -> Option<StateChange> {
        let c = &self.cfg;
        let node = &self.nodes[v];
        let a = node.local.mean(c.min_signals).unwrap_or(0);
        let s = a.max(node.peer.mean(c.min_signals).unwrap_or(0));
        let h = c.hysteresis;
        let elapsed = now.saturating_sub(node.since);
        let state = self.state(v);
        let to = if a >= c.isolate {
            NodeState::Isolated
        } else {
            match state {
                NodeState::Healthy | NodeState::Suspicious | NodeState::Recovering if a >= c.quarantine => {
                    NodeState::Quarantined
                }
                NodeState::Healthy if s >= c.suspicious => NodeState::Suspicious,
                NodeState::Suspicious if s < c.suspicious - h => NodeState::Healthy,
                NodeState::Quarantined if a < c.quarantine - h && elapsed >= c.quarantine_cooldown => {
                    NodeState::Recovering
                }
                NodeState::Isolated
                    if c.isolate_cooldown != Micros::MAX
                        && a < c.quarantine - h
                        && elapsed >= c.isolate_cooldown =>
                {
                    NodeState::Recovering
                }
                NodeState::Recovering if elapsed >= c.probation && s < c.suspicious - h => NodeState::Healthy,
                other => other,
            }
        };
        self.transition(now, v, to)
    }

    /// Local evidence about `node` (from the behaviour engine): an anomaly `level` in [`Q16`] (1 −
    /// confidence). Pushes it into the node's window and applies the state rules.
    pub fn report_anomaly(
        &mut self,
        now: Micros,
        node: NodeId,
        level: Q16,
    ) -> Result<Option<StateChange>, NetworkError> {
        let v = self.check(node)?;
        self.nodes[v].local.push(level);
        Ok(self.evaluate(now, v))
    }

    /// A peer's report about `subject`. Peer reports can make a node suspicious but never block it on
    /// their own (blocking by peers goes through [`Network::vote`] and its Byzantine bound).
    pub fn report_peer(
        &mut self,
        now: Micros,
        reporter: NodeId,
        subject: NodeId,
        level: Q16,
    ) -> Result<Option<StateChange>, NetworkError> {
        let r = self.check(reporter)?;
        let v = self.check(subject)?;
        if r == v {
            return Err(NetworkError::SelfVote);
        }
        if bit(self.blocked, r) {
            return Err(NetworkError::VoterBlocked);
        }
        self.nodes[v].peer.push(level);
        Ok(self.evaluate(now, v))
    }

    /// Applies the time-based rules (release from quarantine or isolation after the cool-down, end of
    /// probation) to every node. O(len). Returns the number of nodes that changed state.
    pub fn tick(&mut self, now: Micros) -> u32 {
        let mut changed = 0;
        for v in 0..self.len {
            if matches!(self.state(v), NodeState::Quarantined | NodeState::Isolated | NodeState::Recovering)
                && self.evaluate(now, v).is_some()
            {
                changed += 1;
            }
        }
        changed
    }

    // ---- votes ------------------------------------------------------------------------------------

    /// Eligible voters on `accused`: unblocked nodes other than the accused.
    pub fn eligible_voters(&self, accused: NodeId) -> Result<u32, NetworkError> {
        let a = self.check(accused)?;
        Ok(self.unblocked - u32::from(!bit(self.blocked, a)))
    }

    /// The current round on `accused`: (guilty, not guilty) votes of eligible voters.
    pub fn votes(&self, accused: NodeId) -> Result<(u32, u32), NetworkError> {
        let a = self.check(accused)?;
        Ok((u32::from(self.guilty[a]), u32::from(self.innocent[a])))
    }

    /// `voter` votes on `accused`. Refused if the voter is blocked, is the accused, or already voted in
    /// this round. Conviction (the accused is isolated) when the guilty votes `g` of eligible voters
    /// satisfy `g·den > num·n` (`n` = eligible voters); acquittal when even all the undecided could no
    /// longer convict. Both close the round.
    pub fn vote(
        &mut self,
        now: Micros,
        voter: NodeId,
        accused: NodeId,
        guilty: bool,
    ) -> Result<VoteOutcome, NetworkError> {
        let v = self.check(voter)?;
        let a = self.check(accused)?;
        if v == a {
            return Err(NetworkError::SelfVote);
        }
        let (w, m) = (v / 64, 1u64 << (v % 64));
        if self.blocked[w] & m != 0 {
            return Err(NetworkError::VoterBlocked);
        }
        let b = 2 * (a * self.w + w);
        if self.ballots[b] & m != 0 {
            return Err(NetworkError::AlreadyVoted);
        }
        self.ballots[b] |= m;
        self.open_votes[v] += 1;
        if guilty {
            self.ballots[b + 1] |= m;
            self.guilty[a] += 1;
        } else {
            self.innocent[a] += 1;
        }
        let n = u64::from(self.unblocked - u32::from(!bit(self.blocked, a)));
        let (num, den) = (u64::from(self.cfg.vote_num), u64::from(self.cfg.vote_den));
        let g = u64::from(self.guilty[a]);
        let i = u64::from(self.innocent[a]);
        if g * den > num * n {
            self.clear_round(a);
            return Ok(VoteOutcome::Convicted(self.transition(now, a, NodeState::Isolated)));
        }
        if (n - i) * den <= num * n {
            self.clear_round(a);
            return Ok(VoteOutcome::Acquitted);
        }
        Ok(VoteOutcome::Pending { guilty: g as u32, innocent: i as u32, eligible: n as u32 })
    }

    /// Closes the round on `accused` without a verdict (all its votes are forgotten).
    pub fn clear_votes(&mut self, accused: NodeId) -> Result<(), NetworkError> {
        let a = self.check(accused)?;
        self.clear_round(a);
        Ok(())
    }

    fn clear_round(&mut self, a: usize) {
        let round = 2 * a * self.w..2 * (a + 1) * self.w;
        for (w, pair) in self.ballots[round.clone()].chunks_exact(2).enumerate() {
            let mut bits = pair[0];
            while bits != 0 {
                let v = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                self.open_votes[v] -= 1;
            }
        }
        self.ballots[round].fill(0);
        self.guilty[a] = 0;
        self.innocent[a] = 0;
    }

    /// A node that becomes blocked loses its pending votes: it is no longer an eligible voter.
    fn withdraw_votes(&mut self, v: usize) {
        if self.open_votes[v] == 0 {
            return;
        }
        self.open_votes[v] = 0;
        let (w, m) = (v / 64, 1u64 << (v % 64));
        for a in 0..self.len {
            let b = 2 * (a * self.w + w);
            if self.ballots[b] & m != 0 {
                self.ballots[b] &= !m;
                if self.ballots[b + 1] & m != 0 {
                    self.ballots[b + 1] &= !m;
                    self.guilty[a] -= 1;
                } else {
                    self.innocent[a] -= 1;
                }
            }
        }
    }
}
