//! Network adaptation: a fixed-capacity trust graph of agents/nodes, node states, quarantine, peer votes
//! and a self-repairing next-hop table. (Being built; see issue 4.)

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
