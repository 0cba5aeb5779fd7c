//! The agent network on caller memory: node states, anomaly reports, peer votes and self-repairing
//! routes, for up to [`TCAP_NETWORK_MAX_NODES`] nodes of at most [`TCAP_NETWORK_MAX_DEGREE`] edges.
//!
//! Memory is `tcap_network_size(n_nodes)` bytes at [`TCAP_NETWORK_ALIGN`]: a small object (header and
//! the core `Network`, a few slices and the configuration) followed by the network's storage, carved
//! from the same region: per-node records, adjacency, bitsets, repair scratch and the `n_nodes²` route
//! table. Every part is initialised in place, so `tcap_network_init` needs no large stack whatever
//! `n_nodes`. Node ids are agent ids: an engine with a network attached (`tcap_engine_attach_network`)
//! refuses every call of an agent whose node is quarantined or isolated.

use core::ffi::c_void;
use core::mem::{MaybeUninit, align_of, size_of};

use tcap_core::Micros;
use tcap_core::gate::NetworkView;
use tcap_core::network::{
    Adjacency, MAX_EDGE_WEIGHT, MAX_NODES, Network, NetworkConfig, NetworkError, NetworkStorage, NodeSlot,
    NodeState, RouteError, RouteSlot, VoteOutcome, storage_len,
};

use crate::boundary::{self, Out};
use crate::enums::node_state_from_u32;
use crate::mem::{CallerMem, Layout, Object, ObjectHeader, handle_mut, handle_ref};
use crate::{tcap_node_state, tcap_result};

/// Most nodes a network of the C build can hold (node ids `0..n_nodes`, `n_nodes ≤` this). Memory grows
/// with `n_nodes²` (the route table: 8 MiB at 1,024 nodes); `tcap_network_size` gives the exact figure.
pub const TCAP_NETWORK_MAX_NODES: u32 = 32_767;
/// Most edges per node in the C build.
pub const TCAP_NETWORK_MAX_DEGREE: u32 = 16;
/// Largest edge weight.
pub const TCAP_EDGE_WEIGHT_MAX: u32 = 4095;
/// Alignment of the memory given to `tcap_network_init`.
pub const TCAP_NETWORK_ALIGN: usize = 64;

pub(crate) const D: usize = TCAP_NETWORK_MAX_DEGREE as usize;
const _: () = assert!(TCAP_NETWORK_MAX_NODES as usize == MAX_NODES);

/// The network type of the C build: its storage lives in the caller's region, after the object.
pub(crate) type CNetwork = Network<'static, D>;

/// An agent network living in caller memory. Opaque: reach it only through its handle.
pub struct tcap_network {
    _opaque: [u8; 0],
}

/// What a `tcap_network *` points to.
#[repr(C, align(64))]
pub(crate) struct NetObj {
    header: ObjectHeader,
    pub(crate) net: CNetwork,
}

// SAFETY: repr(C) with the header first; the magic is unique to this type.
unsafe impl Object for NetObj {
    const MAGIC: [u8; 8] = *b"tcapNET1";
}

const _: () = assert!(align_of::<NetObj>() == TCAP_NETWORK_ALIGN);
// The object is small: everything that grows with `n_nodes` is in the storage after it.
const _: () = assert!(size_of::<NetObj>() <= 512);
const _: () = assert!(TCAP_EDGE_WEIGHT_MAX == MAX_EDGE_WEIGHT as u32);

/// How a vote ended (`tcap_network_vote`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum tcap_vote_outcome {
    /// The round is open: no conviction yet, and one is still possible.
    Pending = 0,
    /// Conviction by more than half of the eligible voters: the accused is isolated; the round closed.
    Convicted = 1,
    /// Conviction became impossible; the round closed.
    Acquitted = 2,
}

impl From<NetworkError> for tcap_result {
    fn from(e: NetworkError) -> Self {
        match e {
            NetworkError::Config(_) => tcap_result::Internal,
            NetworkError::Capacity { .. } => tcap_result::NetworkCapacity,
            NetworkError::StorageTooSmall { .. } => tcap_result::BufferTooSmall,
            NetworkError::OutOfRange { .. } => tcap_result::NodeOutOfRange,
            NetworkError::SelfLoop | NetworkError::BadWeight | NetworkError::NoSuchEdge => {
                tcap_result::EdgeInvalid
            }
            NetworkError::DuplicateEdge => tcap_result::EdgeExists,
            NetworkError::DegreeFull { .. } => tcap_result::DegreeFull,
            NetworkError::SelfVote => tcap_result::SelfVote,
            NetworkError::VoterBlocked => tcap_result::VoterBlocked,
            NetworkError::AlreadyVoted => tcap_result::AlreadyVoted,
        }
    }
}

impl From<RouteError> for tcap_result {
    fn from(e: RouteError) -> Self {
        match e {
            RouteError::OutOfRange => tcap_result::NodeOutOfRange,
            RouteError::SourceBlocked => tcap_result::SourceBlocked,
            RouteError::DestinationBlocked => tcap_result::DestinationBlocked,
            RouteError::Unreachable => tcap_result::NoRoute,
        }
    }
}

/// The gate's view of a network: an agent beyond the network's nodes is healthy.
pub(crate) struct NetView<'a>(pub(crate) &'a CNetwork);

impl NetworkView for NetView<'_> {
    #[inline]
    fn node_state(&self, agent: u32) -> NodeState {
        self.0.node_state(agent).unwrap_or(NodeState::Healthy)
    }
}

pub(crate) fn layout(n_nodes: u32) -> Result<Layout, tcap_result> {
    if n_nodes == 0 {
        return Err(tcap_result::InvalidLength);
    }
    if n_nodes > TCAP_NETWORK_MAX_NODES {
        return Err(tcap_result::NetworkCapacity);
    }
    let s = storage_len(n_nodes as usize);
    let mut l = Layout::new();
    l.push::<NetObj>(1)?;
    l.push::<NodeSlot>(s.nodes)?;
    l.push::<Adjacency<D>>(s.adjacency)?;
    l.push::<u64>(s.words)?;
    l.push::<u16>(s.scratch)?;
    l.push::<RouteSlot>(s.table)?;
    Ok(l)
}

/// Fills `s` with `v` and returns it as an initialised slice.
pub(crate) fn fill<T: Copy>(s: &'static mut [MaybeUninit<T>], v: T) -> &'static mut [T] {
    for x in s.iter_mut() {
        x.write(v);
    }
    // SAFETY: every element was just initialised; `MaybeUninit<T>` has the layout of `T`, and the
    // exclusive borrow of the whole slice is handed over.
    unsafe { core::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<T>(), s.len()) }
}

/// # Safety
/// `p` is NULL or a handle from `tcap_network_init` whose memory is alive and used by one thread.
pub(crate) unsafe fn net_ref<'a>(p: *const tcap_network) -> Result<&'a CNetwork, tcap_result> {
    // SAFETY: forwarded contract; `tcap_network` handles point to a `NetObj`.
    Ok(&unsafe { handle_ref(p.cast::<NetObj>()) }?.net)
}

/// # Safety
/// As [`net_ref`], with no other access during `'a`.
pub(crate) unsafe fn net_mut<'a>(p: *mut tcap_network) -> Result<&'a mut CNetwork, tcap_result> {
    // SAFETY: forwarded contract; `tcap_network` handles point to a `NetObj`.
    Ok(&mut unsafe { handle_mut(p.cast::<NetObj>()) }?.net)
}

/// Bytes of memory (at `TCAP_NETWORK_ALIGN`) a network of `n_nodes` nodes needs: a 320-byte object,
/// 398 bytes per node (record, adjacency, dense arrays, scratch), `24·⌈n_nodes/64⌉` bytes of bitsets per
/// node and `8·n_nodes²` bytes of route table: 651,104 bytes at 256 nodes, 9,189,824 (8.8 MiB) at 1,024.
///
/// Errors: `TCAP_RESULT_NULL_ARGUMENT`, `TCAP_RESULT_MISALIGNED` (`out_size`),
/// `TCAP_RESULT_INVALID_LENGTH` (`n_nodes` 0), `TCAP_RESULT_NETWORK_CAPACITY` (above the maximum).
///
/// # Safety
/// `out_size` is NULL or writable for one `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_network_size(n_nodes: u32, out_size: *mut usize) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or writable per this function's contract.
        let out = unsafe { Out::new(out_size) }?;
        out.write(layout(n_nodes)?.size());
        Ok(())
    })
}

/// Initialises a network of `n_nodes` healthy nodes with no edges in `mem` (upstream's thresholds:
/// suspicious 0.4, quarantine 0.6, isolate 0.8; conviction by a strict majority) and writes its handle,
/// which points into `mem`, to `out`.
///
/// Errors: `TCAP_RESULT_NULL_ARGUMENT`, `TCAP_RESULT_MISALIGNED` (`mem` not aligned to
/// `TCAP_NETWORK_ALIGN`, or `out`), `TCAP_RESULT_BUFFER_TOO_SMALL` (`len` below `tcap_network_size`),
/// `TCAP_RESULT_INVALID_LENGTH`, `TCAP_RESULT_NETWORK_CAPACITY`.
///
/// Stack: a few hundred bytes whatever `n_nodes` (everything large is initialised in place in `mem`);
/// time: `O(n_nodes²)` to clear the route table.
///
/// # Safety
/// `mem` is NULL or valid for reads and writes of `len` bytes, owned by the network from this call until
/// the caller stops using the handle; `out` is NULL or writable for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_network_init(
    mem: *mut c_void,
    len: usize,
    n_nodes: u32,
    out: *mut *mut tcap_network,
) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or writable per this function's contract.
        let out = unsafe { Out::new(out) }?;
        let l = layout(n_nodes)?;
        // SAFETY: NULL or `len` bytes owned by the network for the handle's life, per the contract.
        let mut arena = unsafe { CallerMem::new(mem, len, &l) }?.arena();
        let s = storage_len(n_nodes as usize);
        let obj = arena.take::<NetObj>(1)?;
        // The storage is carved from the caller's region, which lives for the handle's life (the
        // contract's 'static) and is reached only through this network's handle.
        let storage = NetworkStorage {
            nodes: fill(arena.take::<NodeSlot>(s.nodes)?, NodeSlot::EMPTY),
            adjacency: fill(arena.take::<Adjacency<D>>(s.adjacency)?, Adjacency::EMPTY),
            words: fill(arena.take::<u64>(s.words)?, 0),
            scratch: fill(arena.take::<u16>(s.scratch)?, 0),
            table: fill(arena.take::<RouteSlot>(s.table)?, RouteSlot::EMPTY),
        };
        let net = CNetwork::new(NetworkConfig::DEFAULT, n_nodes as usize, storage)?;
        let obj = obj[0].write(NetObj { header: ObjectHeader::new::<NetObj>(), net });
        out.write((obj as *mut NetObj).cast::<tcap_network>());
        Ok(())
    })
}

/// Adds an undirected edge `a`–`b` with base `weight` (1..=`TCAP_EDGE_WEIGHT_MAX`) and repairs routes.
///
/// Errors: `TCAP_RESULT_NULL_ARGUMENT`, `TCAP_RESULT_MISALIGNED`, `TCAP_RESULT_BAD_HANDLE` (`net`),
/// `TCAP_RESULT_NODE_OUT_OF_RANGE`, `TCAP_RESULT_EDGE_INVALID` (self loop, weight out of range),
/// `TCAP_RESULT_EDGE_EXISTS`, `TCAP_RESULT_DEGREE_FULL`.
///
/// # Safety
/// `net` is NULL or a live handle from `tcap_network_init`, used by one thread at a time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_network_add_edge(
    net: *mut tcap_network,
    a: u32,
    b: u32,
    weight: u32,
) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or a live, exclusively used handle per this function's contract.
        let net = unsafe { net_mut(net) }?;
        let weight = u16::try_from(weight).map_err(|_| tcap_result::EdgeInvalid)?;
        net.add_edge(a, b, weight)?;
        Ok(())
    })
}

/// Reports local evidence about `node` (e.g. from the behaviour engine): an anomaly level in Q16
/// (65536 = 1.0; larger values count as 1.0). Applies the state rules and writes the node's state after
/// the report.
///
/// Errors: as `tcap_network_add_edge` for `net` and `out_state`, `TCAP_RESULT_NODE_OUT_OF_RANGE`.
///
/// # Safety
/// As `tcap_network_add_edge`; `out_state` is NULL or writable for one `tcap_node_state`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_network_report_anomaly(
    net: *mut tcap_network,
    now_us: u64,
    node: u32,
    level_q16: u32,
    out_state: *mut tcap_node_state,
) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or valid per this function's contract.
        let (net, out) = unsafe { (net_mut(net)?, Out::new(out_state)?) };
        net.report_anomaly(now_us as Micros, node, level_q16)?;
        out.write(net.node_state(node)?.into());
        Ok(())
    })
}

/// `voter` votes on `accused` (`guilty` or not). Conviction (strictly more than half of the eligible
/// voters: unblocked nodes other than the accused) isolates the accused.
///
/// Errors: as `tcap_network_add_edge` for `net` and `out_outcome`, `TCAP_RESULT_NODE_OUT_OF_RANGE`,
/// `TCAP_RESULT_SELF_VOTE`, `TCAP_RESULT_VOTER_BLOCKED`, `TCAP_RESULT_ALREADY_VOTED`.
///
/// # Safety
/// As `tcap_network_add_edge`; `out_outcome` is NULL or writable for one `tcap_vote_outcome`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_network_vote(
    net: *mut tcap_network,
    now_us: u64,
    voter: u32,
    accused: u32,
    guilty: bool,
    out_outcome: *mut tcap_vote_outcome,
) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or valid per this function's contract.
        let (net, out) = unsafe { (net_mut(net)?, Out::new(out_outcome)?) };
        let o = match net.vote(now_us as Micros, voter, accused, guilty)? {
            VoteOutcome::Pending { .. } => tcap_vote_outcome::Pending,
            VoteOutcome::Convicted(_) => tcap_vote_outcome::Convicted,
            VoteOutcome::Acquitted => tcap_vote_outcome::Acquitted,
        };
        out.write(o);
        Ok(())
    })
}

/// Forces `node` into `state` (a `tcap_node_state`: an operator's decision, e.g. quarantine or release)
/// and repairs routes.
///
/// Errors: as `tcap_network_add_edge` for `net`, `TCAP_RESULT_INVALID_ENUM` (`state`),
/// `TCAP_RESULT_NODE_OUT_OF_RANGE`.
///
/// # Safety
/// As `tcap_network_add_edge`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_network_set_state(
    net: *mut tcap_network,
    now_us: u64,
    node: u32,
    state: u32,
) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or a live, exclusively used handle per this function's contract.
        let net = unsafe { net_mut(net) }?;
        let state = node_state_from_u32(state).ok_or(tcap_result::InvalidEnum)?;
        net.set_state(now_us as Micros, node, state)?;
        Ok(())
    })
}

/// The next hop from `src` toward `dst` (`dst` itself when `src == dst`) on a cheapest path that avoids
/// quarantined and isolated nodes. O(1).
///
/// Errors: as `tcap_network_add_edge` for `net` and `out_next_hop`, `TCAP_RESULT_NODE_OUT_OF_RANGE`,
/// `TCAP_RESULT_SOURCE_BLOCKED`, `TCAP_RESULT_DESTINATION_BLOCKED`, `TCAP_RESULT_NO_ROUTE`.
///
/// # Safety
/// `net` is NULL or a live handle, not mutated during the call; `out_next_hop` is NULL or writable for
/// one `uint32_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_network_route(
    net: *const tcap_network,
    src: u32,
    dst: u32,
    out_next_hop: *mut u32,
) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or valid per this function's contract.
        let (net, out) = unsafe { (net_ref(net)?, Out::new(out_next_hop)?) };
        out.write(net.route(src, dst)?);
        Ok(())
    })
}

/// The state of `node`.
///
/// Errors: as `tcap_network_route` for `net` and `out`, `TCAP_RESULT_NODE_OUT_OF_RANGE`.
///
/// # Safety
/// As `tcap_network_route`; `out` is NULL or writable for one `tcap_node_state`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_network_node_state(
    net: *const tcap_network,
    node: u32,
    out: *mut tcap_node_state,
) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or valid per this function's contract.
        let (net, out) = unsafe { (net_ref(net)?, Out::new(out)?) };
        out.write(net.node_state(node)?.into());
        Ok(())
    })
}

/// Size of the network object of the C build (without its storage), for the docs and tests.
pub const NETWORK_OBJECT_SIZE: usize = size_of::<NetObj>();

#[cfg(test)]
mod tests {
    use super::*;

    use crate::mem::TestMem as Mem;

    #[test]
    fn line_network_routes_and_refusals() {
        let mut size = 0usize;
        // SAFETY: live locals; `mem` outlives the handle.
        unsafe {
            assert_eq!(tcap_network_size(0, &mut size), tcap_result::InvalidLength);
            assert_eq!(
                tcap_network_size(TCAP_NETWORK_MAX_NODES + 1, &mut size),
                tcap_result::NetworkCapacity
            );
            assert_eq!(tcap_network_size(4, &mut size), tcap_result::Ok);
            // The object, then the storage parts (a few bytes of padding between them at most).
            let parts = NETWORK_OBJECT_SIZE + storage_len(4).bytes::<D>();
            assert!((parts..parts + 32).contains(&size), "{size} vs {parts}");
            let mem = Mem::new(size + 64);
            let mut h: *mut tcap_network = core::ptr::null_mut();
            let mis = mem.ptr().cast::<u8>().add(8).cast::<c_void>();
            assert_eq!(tcap_network_init(mis, size, 4, &mut h), tcap_result::Misaligned);
            assert_eq!(tcap_network_init(mem.ptr(), size - 1, 4, &mut h), tcap_result::BufferTooSmall);
            assert!(h.is_null());
            assert_eq!(tcap_network_init(mem.ptr(), size, 4, &mut h), tcap_result::Ok);
            for (a, b) in [(0, 1), (1, 2), (2, 3)] {
                assert_eq!(tcap_network_add_edge(h, a, b, 1), tcap_result::Ok);
            }
            assert_eq!(tcap_network_add_edge(h, 0, 1, 1), tcap_result::EdgeExists);
            assert_eq!(tcap_network_add_edge(h, 0, 0, 1), tcap_result::EdgeInvalid);
            assert_eq!(tcap_network_add_edge(h, 0, 2, 0), tcap_result::EdgeInvalid);
            assert_eq!(tcap_network_add_edge(h, 0, 2, 70_000), tcap_result::EdgeInvalid);
            assert_eq!(tcap_network_add_edge(h, 0, 9, 1), tcap_result::NodeOutOfRange);
            let mut hop = 99u32;
            assert_eq!(tcap_network_route(h, 0, 3, &mut hop), tcap_result::Ok);
            assert_eq!(hop, 1);
            assert_eq!(tcap_network_set_state(h, 1, 1, NodeState::Quarantined as u32), tcap_result::Ok);
            assert_eq!(tcap_network_route(h, 0, 3, &mut hop), tcap_result::NoRoute);
            assert_eq!(tcap_network_route(h, 1, 3, &mut hop), tcap_result::SourceBlocked);
            assert_eq!(tcap_network_route(h, 0, 1, &mut hop), tcap_result::DestinationBlocked);
            assert_eq!(tcap_network_route(h, 0, 4, &mut hop), tcap_result::NodeOutOfRange);
            assert_eq!(tcap_network_set_state(h, 1, 1, 9), tcap_result::InvalidEnum);
            let mut st = tcap_node_state::Healthy;
            assert_eq!(tcap_network_node_state(h, 1, &mut st), tcap_result::Ok);
            assert_eq!(st, tcap_node_state::Quarantined);
            let mut vo = tcap_vote_outcome::Acquitted;
            assert_eq!(tcap_network_vote(h, 2, 1, 2, true, &mut vo), tcap_result::VoterBlocked);
            assert_eq!(tcap_network_vote(h, 2, 0, 0, true, &mut vo), tcap_result::SelfVote);
            assert_eq!(tcap_network_vote(h, 2, 0, 3, true, &mut vo), tcap_result::Ok);
            assert_eq!(vo, tcap_vote_outcome::Pending);
            assert_eq!(tcap_network_vote(h, 2, 0, 3, true, &mut vo), tcap_result::AlreadyVoted);
            assert_eq!(tcap_network_vote(h, 2, 2, 3, true, &mut vo), tcap_result::Ok);
            assert_eq!(vo, tcap_vote_outcome::Convicted);
            assert_eq!(tcap_network_node_state(h, 3, &mut st), tcap_result::Ok);
            assert_eq!(st, tcap_node_state::Isolated);
            for i in 0..5 {
                assert_eq!(tcap_network_report_anomaly(h, 10 + i, 2, 1 << 16, &mut st), tcap_result::Ok);
            }
            assert_eq!(st, tcap_node_state::Isolated, "anomaly 1.0 ≥ isolate threshold");
            // The handle is refused once its memory is overwritten.
            core::ptr::write_bytes(mem.ptr().cast::<u8>(), 0, 8);
            assert_eq!(tcap_network_node_state(mem.ptr().cast(), 0, &mut st), tcap_result::BadHandle);
        }
    }

    /// A 1,024-node network is initialised and used from a thread with a 64 KiB stack (the object is
    /// small and all its storage is initialised in place in the caller's memory).
    #[test]
    fn thousand_nodes_on_a_small_stack() {
        const NODES: u32 = 1024;
        let mut size = 0usize;
        // SAFETY: live local.
        assert_eq!(unsafe { tcap_network_size(NODES, &mut size) }, tcap_result::Ok);
        assert!(size > 8 << 20 && size < 9 << 20, "≈ 8.5 MiB: {size}");
        let mem = Mem::new(size);
        /// The memory's pointer, handed to the thread with its provenance (an address cast to an
        /// integer and back would lose it, and Miri could no longer check the accesses).
        struct Region(*mut c_void);
        // SAFETY: the region is used by the spawned thread only, and outlives it (joined before
        // `mem` is dropped).
        unsafe impl Send for Region {}
        impl Region {
            /// The pointer (a method, so that the closure captures the whole `Send` wrapper).
            fn get(self) -> *mut c_void {
                self.0
            }
        }
        let region = Region(mem.ptr());
        std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || {
                let mem = region.get();
                let mut h: *mut tcap_network = core::ptr::null_mut();
                // SAFETY: `mem` is `size` bytes, alive until after the join, used by this thread only.
                unsafe {
                    assert_eq!(tcap_network_init(mem, size, NODES, &mut h), tcap_result::Ok);
                    for i in 0..16 {
                        assert_eq!(tcap_network_add_edge(h, i, i + 1, 1), tcap_result::Ok);
                    }
                    assert_eq!(tcap_network_add_edge(h, 0, NODES - 1, 3), tcap_result::Ok);
                    assert_eq!(tcap_network_add_edge(h, NODES - 1, 16, 3), tcap_result::Ok);
                    let mut hop = 0u32;
                    assert_eq!(tcap_network_route(h, 0, 16, &mut hop), tcap_result::Ok);
                    assert_eq!(hop, NODES - 1, "cost 6 beats 16 along the line");
                    assert_eq!(tcap_network_route(h, 0, 8, &mut hop), tcap_result::Ok);
                    assert_eq!(hop, 1);
                    assert_eq!(tcap_network_route(h, 0, 500, &mut hop), tcap_result::NoRoute);
                    let q = NodeState::Quarantined as u32;
                    assert_eq!(tcap_network_set_state(h, 1, NODES - 1, q), tcap_result::Ok);
                    assert_eq!(tcap_network_route(h, 0, 16, &mut hop), tcap_result::Ok);
                    assert_eq!(hop, 1);
                    assert_eq!(
                        tcap_network_route(h, 0, NODES - 1, &mut hop),
                        tcap_result::DestinationBlocked
                    );
                    assert_eq!(tcap_network_route(h, 0, NODES, &mut hop), tcap_result::NodeOutOfRange);
                }
            })
            .unwrap()
            .join()
            .unwrap();
        drop(mem);
    }
}
