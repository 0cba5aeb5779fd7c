//! The two small traits that decouple the gate from the registry and the network, and a slice-backed
//! `Lookup` for tests, simulations and small deployments.

use core::fmt;

use crate::network::NodeState;
use crate::wire::{Flags, Risk, command_id};

/// What the gate needs to know about a command: its id, flags and risk level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CommandInfo {
    /// TCP command id (`MD5(name)[0..4]`, big-endian).
    pub id: u32,
    /// Canonical security flags.
    pub flags: Flags,
    /// Risk level (normally `flags.risk()`, but a registry may override it).
    pub risk: Risk,
}

impl CommandInfo {
    /// An entry whose risk is derived from its flags.
    pub const fn new(id: u32, flags: Flags) -> CommandInfo {
        CommandInfo { id, flags, risk: flags.risk() }
    }
    /// What the gate assumes about a command it cannot find: no flags, `Risk::Unknown`.
    pub const fn unknown(id: u32) -> CommandInfo {
        CommandInfo { id, flags: Flags(0), risk: Risk::Unknown }
    }
}

/// Command lookup by id and by name (implemented by the registry, and by [`SliceLookup`]).
pub trait Lookup {
    /// The command with this id, if known.
    fn by_id(&self, id: u32) -> Option<CommandInfo>;
    /// The command with this name, if known.
    fn by_name(&self, name: &[u8]) -> Option<CommandInfo>;
    /// Constant-time variant for [`super::Gate::check_ct`]: the entry (or [`CommandInfo::unknown`]) and
    /// a mask that is all ones if it was found, zero otherwise.
    ///
    /// The provided implementation calls [`Lookup::by_id`] and is only as constant-time as that is;
    /// implementations that must not leak whether a command is known override it (as [`SliceLookup`]
    /// does with a full scan).
    fn by_id_ct(&self, id: u32) -> (CommandInfo, u32) {
        match self.by_id(id) {
            Some(info) => (info, u32::MAX),
            None => (CommandInfo::unknown(id), 0),
        }
    }
}

impl<L: Lookup + ?Sized> Lookup for &L {
    fn by_id(&self, id: u32) -> Option<CommandInfo> {
        (**self).by_id(id)
    }
    fn by_name(&self, name: &[u8]) -> Option<CommandInfo> {
        (**self).by_name(name)
    }
    fn by_id_ct(&self, id: u32) -> (CommandInfo, u32) {
        (**self).by_id_ct(id)
    }
}

/// The network's view of an agent, as the gate needs it (implemented by the network).
pub trait NetworkView {
    /// The node state of this agent.
    fn node_state(&self, agent: u32) -> NodeState;
}

/// No network: every agent is healthy.
impl NetworkView for () {
    #[inline(always)]
    fn node_state(&self, _agent: u32) -> NodeState {
        NodeState::Healthy
    }
}

/// A table of node states indexed by agent id; agents beyond the table are healthy.
impl NetworkView for [NodeState] {
    #[inline(always)]
    fn node_state(&self, agent: u32) -> NodeState {
        self.get(agent as usize).copied().unwrap_or(NodeState::Healthy)
    }
}

impl<N: NetworkView + ?Sized> NetworkView for &N {
    #[inline(always)]
    fn node_state(&self, agent: u32) -> NodeState {
        (**self).node_state(agent)
    }
}

/// A [`Lookup`] over a slice of entries sorted by id (strictly increasing). Names are resolved through
/// their command id (`MD5(name)[0..4]`).
#[derive(Clone, Copy, Debug)]
pub struct SliceLookup<'a> {
    entries: &'a [CommandInfo],
}

/// Why a slice cannot back a [`SliceLookup`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SliceLookupError {
    /// Entries at this index and the next are not in strictly increasing id order.
    Unsorted(usize),
}

impl fmt::Display for SliceLookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SliceLookupError::Unsorted(i) => {
                write!(f, "command entries {i} and {} are not in strictly increasing id order", i + 1)
            }
        }
    }
}

impl<'a> SliceLookup<'a> {
    /// Wraps `entries`, which must be sorted by id with no duplicates.
    pub fn new(entries: &'a [CommandInfo]) -> Result<Self, SliceLookupError> {
        match entries.windows(2).position(|w| w[0].id >= w[1].id) {
            Some(i) => Err(SliceLookupError::Unsorted(i)),
            None => Ok(SliceLookup { entries }),
        }
    }
    /// The entries.
    pub fn entries(&self) -> &'a [CommandInfo] {
        self.entries
    }
}

impl Lookup for SliceLookup<'_> {
    #[inline]
    fn by_id(&self, id: u32) -> Option<CommandInfo> {
        // The standard library's binary search: branch-free, and no bounds checks in the loop.
        match self.entries.binary_search_by(|e| e.id.cmp(&id)) {
            Ok(i) => self.entries.get(i).copied(),
            Err(_) => None,
        }
    }
    fn by_name(&self, name: &[u8]) -> Option<CommandInfo> {
        self.by_id(command_id(name))
    }
    /// Scans every entry and selects with masks: the time does not depend on whether or where `id` is.
    fn by_id_ct(&self, id: u32) -> (CommandInfo, u32) {
        let mut flags = 0u32;
        let mut risk = 0u32;
        let mut found = 0u32;
        for e in self.entries {
            let m = crate::behavior::fixed::mask32(e.id == id);
            flags |= e.flags.0 & m;
            risk |= e.risk as u32 & m;
            found |= m;
        }
        let risk = crate::behavior::fixed::sel_u32(found != 0, risk, Risk::Unknown as u32);
        let risk = Risk::from_u8(risk as u8).unwrap_or(Risk::Unknown);
        (CommandInfo { id, flags: Flags(flags), risk }, found)
    }
}
