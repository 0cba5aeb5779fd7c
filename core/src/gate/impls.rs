//! The gate's traits implemented for the real registry and the real network, and the snapshot hook a
//! host needs to restore a gate exactly.
//!
//! * [`Lookup`] for [`Registry`]: `by_id` is [`Registry::get`] (one cache line in the common case),
//!   `by_name` is [`Registry::get_by_name`] (exact name, as registered). Both are `#[inline(always)]`
//!   wrappers, so `Gate<Registry>` costs what the registry costs. `by_id_ct` keeps the trait's provided
//!   implementation: a hash-table probe, **not** constant-time in whether the command is known.
//! * [`NetworkView`] for [`Network`]: an agent whose id is beyond the network's nodes is simply not in
//!   the network, so it is [`NodeState::Healthy`] for the gate (the network has no evidence about it;
//!   the gate's own behaviour evidence still applies). This differs on purpose from
//!   [`Network::is_blocked`], which fails closed for routing.
//! * [`Gate::restore`]: replaces the agent states, the population statistics and the population view
//!   at once (validated first, all or nothing), so a restored gate decides exactly like the gate that was
//!   snapshotted. The view is part of the state because the gate refreshes it only when a class count
//!   crosses a multiple of 1024: recomputing it from the statistics would change later decisions.

use core::fmt;

use super::{CommandInfo, Gate, Lookup, NetworkView};
use crate::behavior::{AgentState, Population, PopulationView};
use crate::network::{Network, NodeState};
use crate::registry::{Entry, Registry};

#[inline(always)]
fn info(e: Entry<'_>) -> CommandInfo {
    CommandInfo { id: e.id(), flags: e.flags(), risk: e.risk() }
}

impl Lookup for Registry<'_> {
    #[inline(always)]
    fn by_id(&self, id: u32) -> Option<CommandInfo> {
        self.get(id).map(info)
    }
    #[inline(always)]
    fn by_name(&self, name: &[u8]) -> Option<CommandInfo> {
        self.get_by_name(name).map(info)
    }
}

impl<const D: usize> NetworkView for Network<'_, D> {
    /// The agent's node state; agents outside the network's nodes are `Healthy` (not in the network).
    #[inline(always)]
    fn node_state(&self, agent: u32) -> NodeState {
        Network::node_state(self, agent).unwrap_or(NodeState::Healthy)
    }
}

/// Why [`Gate::restore`] refused its input (the gate is unchanged).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestoreError {
    /// The number of states differs from the gate's capacity.
    Length {
        /// The gate's capacity.
        expected: usize,
        /// States handed in.
        found: usize,
    },
    /// This agent's state fails [`AgentState::is_valid`].
    Invalid {
        /// The agent (index of the state).
        agent: u32,
    },
    /// The population view holds a mean or deviation above 1.0 (Q0.16), which no population produces.
    View,
}

impl fmt::Display for RestoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestoreError::Length { expected, found } => {
                write!(f, "{found} agent states for a gate of {expected} agents")
            }
            RestoreError::Invalid { agent } => write!(f, "agent {agent} has an invalid state"),
            RestoreError::View => f.write_str("population view out of range"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RestoreError {}

impl<L: Lookup> Gate<'_, L> {
    /// Replaces every agent state, the population statistics and the population view (e.g. from a
    /// snapshot taken with [`Gate::agents`], [`Gate::population`] and [`Gate::population_view`]).
    /// Validates everything first — one state per agent slot, each [`AgentState::is_valid`], mean and
    /// deviation of the view within `0..=1.0` (Q0.16) — and changes nothing on error. O(n).
    pub fn restore(
        &mut self,
        states: &[AgentState],
        population: Population,
        view: PopulationView,
    ) -> Result<(), RestoreError> {
        if states.len() != self.states.len() {
            return Err(RestoreError::Length { expected: self.states.len(), found: states.len() });
        }
        if let Some(i) = states.iter().position(|s| !s.is_valid()) {
            return Err(RestoreError::Invalid { agent: i as u32 });
        }
        if view.mean > 1 << 16 || view.sigma > 1 << 16 {
            return Err(RestoreError::View);
        }
        self.states.copy_from_slice(states);
        self.population = population;
        self.view = view;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::behavior::Config;
    use crate::gate::{Command, Policy};
    use crate::network::{
        Adjacency, NetworkConfig, NetworkStorage, NodeSlot, RouteSlot, StorageLen, storage_len,
    };
    use crate::registry::builtin;
    use crate::wire::command_id;

    #[test]
    fn registry_lookup_matches_registry() {
        let r = builtin();
        let mut n = 0;
        for e in r.iter() {
            let by_id = r.by_id(e.id()).unwrap();
            assert_eq!(by_id, CommandInfo { id: e.id(), flags: e.flags(), risk: e.risk() });
            assert_eq!(r.by_name(e.name()), Some(by_id));
            n += 1;
        }
        assert!(n > 50, "the built-in registry has entries: {n}");
        assert_eq!(r.by_name(b"no-such-tool-xyz"), None);
        assert_eq!(r.by_id(command_id(b"no-such-tool-xyz")), None);
    }

    #[test]
    fn network_view_in_and_out_of_range() {
        // Firmware style: every part of the storage in a fixed-size array.
        const L: StorageLen = storage_len(4);
        let (mut nodes, mut adjacency) = ([NodeSlot::EMPTY; L.nodes], [Adjacency::<4>::EMPTY; L.adjacency]);
        let (mut words, mut scratch, mut table) = ([0; L.words], [0; L.scratch], [RouteSlot::EMPTY; L.table]);
        let storage = NetworkStorage {
            nodes: &mut nodes,
            adjacency: &mut adjacency,
            words: &mut words,
            scratch: &mut scratch,
            table: &mut table,
        };
        let mut net = Network::new(NetworkConfig::default(), 4, storage).unwrap();
        net.set_state(0, 2, NodeState::Quarantined).unwrap();
        assert_eq!(NetworkView::node_state(&net, 2), NodeState::Quarantined);
        assert_eq!(NetworkView::node_state(&net, 1), NodeState::Healthy);
        assert_eq!(NetworkView::node_state(&net, 4), NodeState::Healthy, "not in the network");
        assert!(net.is_blocked(4), "routing still fails closed");
    }

    #[test]
    fn restore_is_exact_and_all_or_nothing() {
        let r = builtin();
        let ids: [u32; 3] = [command_id(b"ls"), command_id(b"rm"), command_id(b"sudo")];
        let mut a = [AgentState::FRESH; 4];
        let mut g = Gate::new(r, Policy::default(), Config::default(), &mut a).unwrap();
        for i in 0..3000u64 {
            g.check(i * 1000, (i % 4) as u32, Command::Id(ids[(i % 3) as usize]), &()).unwrap();
        }
        let states: [AgentState; 4] = g.agents().try_into().unwrap();
        let (pop, view) = (g.population(), g.population_view());
        let mut b = [AgentState::FRESH; 4];
        let mut h = Gate::new(r, Policy::default(), Config::default(), &mut b).unwrap();
        assert_eq!(h.restore(&states[..3], pop, view), Err(RestoreError::Length { expected: 4, found: 3 }));
        let mut bad = states;
        bad[2].status = 9;
        assert_eq!(h.restore(&bad, pop, view), Err(RestoreError::Invalid { agent: 2 }));
        assert_eq!(h.agents(), &[AgentState::FRESH; 4], "unchanged on error");
        let wild = PopulationView { sigma: (1 << 16) + 1, ..view };
        assert_eq!(h.restore(&states, pop, wild), Err(RestoreError::View));
        h.restore(&states, pop, view).unwrap();
        assert_eq!(h.population(), pop);
        assert_eq!(h.population_view(), g.population_view());
        for i in 3000..8000u64 {
            let c = Command::Id(ids[(i * 7 % 3) as usize]);
            let (x, y) = (g.check(i * 900, (i % 4) as u32, c, &()), h.check(i * 900, (i % 4) as u32, c, &()));
            assert_eq!(x, y);
        }
    }
}
