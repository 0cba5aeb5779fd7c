//! The next-hop table and its incremental repair.
//!
//! Tables are destination-major: entry `(s, t)` at `t·len + s`, so the shortest-path tree rooted at `t`
//! (parent pointers `next`, the next hop toward `t`, and distances) is one contiguous block of `len`
//! slots, and repairing one tree walks a few KiB instead of one cache line and one page per node.
//! Invariants, for every unblocked `t` and unblocked `s`: `dist[t][t] = 0`, `next[t][t] = t`; a reachable
//! `s ≠ t` has an unblocked neighbour `h = next[s][t]` with `dist[s][t] = cost(s, h) + dist[h][t]`, and
//! `dist[s][t]` is the least cost of a path from `s` to `t` whose nodes are all unblocked; an unreachable
//! `s` has `INF` and `NO_HOP`. Entries of blocked sources and trees of blocked destinations are not
//! maintained (every reader tests the blocked bit first); they are rebuilt when the node is released.
//!
//! `has_child[v]` is a bitset over trees: bit `t` is set whenever some entry of tree `t` was written with
//! next hop `v`. It is a superset of the trees in which `v` has a child (bits are only cleared by a full
//! rebuild and when `v` is blocked, after which it has no children), so blocking `v` visits those trees
//! only.

use super::{Edge, Graph, INF, NO_HOP, Network, NodeId, RouteError, RouteSlot, bit};

/// The mark of a blocked node (see [`Network::next_epoch`]).
pub(crate) const BLOCKED_MARK: u16 = u16::MAX;

/// Edges of an affected node recorded by bit as leading into the subtree (the rest are always tested).
const MASK_EDGES: usize = 15;
/// Flag of an affected node whose seed a node classified after it may improve.
const RECHECK: u16 = 1 << 15;

/// Tree `t`: the contiguous block of slots `t·len .. (t + 1)·len`, and the child index it keeps up to
/// date.
struct Tree<'a> {
    slots: &'a mut [RouteSlot],
    t: usize,
    /// The child index: `w` words per node.
    has_child: &'a mut [u64],
    w: usize,
}

impl Tree<'_> {
    #[inline]
    fn d(&self, s: usize) -> u32 {
        self.slots.get(s).map_or(INF, |e| e.dist())
    }
    #[inline]
    fn slot(&self, s: usize) -> RouteSlot {
        self.slots.get(s).copied().unwrap_or(RouteSlot::EMPTY)
    }
    #[inline]
    fn set(&mut self, s: usize, d: u32, hop: u16) {
        if let Some(e) = self.slots.get_mut(s) {
            *e = RouteSlot::new(d, hop);
        }
        if usize::from(hop) != s
            && let Some(w) = self.has_child.get_mut(usize::from(hop) * self.w + self.t / 64)
        {
            *w |= 1 << (self.t % 64);
        }
    }
}

/// An indexed binary min-heap of node ids keyed by distance, with decrease-key. Entries carry their
/// key (`key << 16 | node`, so ties go to the lower id): sifting compares entries, never reads the
/// table.
pub(crate) struct Heap<'t> {
    items: &'t mut [u64],
    /// Each node's index in `items`, or `NO_HOP` when absent.
    pos: &'t mut [u16],
    len: usize,
}

impl<'t> Heap<'t> {
    /// A heap over node ids below `pos.len()`, with room for `items.len()` of them.
    pub(crate) fn new(items: &'t mut [u64], pos: &'t mut [u16]) -> Self {
        Heap { items, pos, len: 0 }
    }

    /// Empties the heap.
    pub(crate) fn clear(&mut self) {
        self.pos.fill(NO_HOP);
        self.len = 0;
    }

    /// Inserts `x` with `key`, or restores the heap order after its key decreased to `key`.
    #[inline]
    fn push_or_decrease(&mut self, x: u16, key: u32) {
        let Some(&p) = self.pos.get(usize::from(x)) else { return };
        let i = if p == NO_HOP {
            if self.len >= self.items.len() {
                return;
            }
            self.len += 1;
            self.len - 1
        } else {
            usize::from(p)
        };
        self.sift_up(i, u64::from(key) << 16 | u64::from(x));
    }

    /// Removes the entry of least key: its node and key.
    #[inline]
    fn pop(&mut self) -> Option<(usize, u32)> {
        let items = self.items.get_mut(..self.len)?;
        let (&top, _) = items.split_first()?;
        self.len -= 1;
        let last = items[self.len];
        if let Some(p) = self.pos.get_mut(usize::from(top as u16)) {
            *p = NO_HOP;
        }
        if self.len > 0 {
            self.sift_down(last);
        }
        Some((usize::from(top as u16), (top >> 16) as u32))
    }

    /// Moves entry `x` up from free index `i` to its place.
    #[inline]
    fn sift_up(&mut self, mut i: usize, x: u64) {
        let items = &mut self.items[..self.len];
        while i > 0 {
            let parent = (i - 1) / 2;
            let p = items[parent];
            if p <= x {
                break;
            }
            items[i] = p;
            if let Some(q) = self.pos.get_mut(usize::from(p as u16)) {
                *q = i as u16;
            }
            i = parent;
        }
        items[i] = x;
        if let Some(q) = self.pos.get_mut(usize::from(x as u16)) {
            *q = i as u16;
        }
    }

    /// Moves entry `x` down from the free root to its place.
    #[inline]
    fn sift_down(&mut self, x: u64) {
        let items = &mut self.items[..self.len];
        let mut i = 0;
        loop {
            let l = 2 * i + 1;
            let Some(&cl) = items.get(l) else { break };
            let (c, cx) = match items.get(l + 1) {
                Some(&cr) if cr < cl => (l + 1, cr),
                _ => (l, cl),
            };
            if cx >= x {
                break;
            }
            items[i] = cx;
            if let Some(q) = self.pos.get_mut(usize::from(cx as u16)) {
                *q = i as u16;
            }
            i = c;
        }
        items[i] = x;
        if let Some(q) = self.pos.get_mut(usize::from(x as u16)) {
            *q = i as u16;
        }
    }
}

/// Settles the heap's nodes in order and relaxes their unblocked neighbours in `tree` (a Dijkstra that
/// only lowers distances).
fn propagate<const D: usize>(graph: &Graph<'_, D>, blocked: &[u64], heap: &mut Heap<'_>, tree: &mut Tree<'_>) {
    while let Some((y, dy)) = heap.pop() {
        for e in graph.edges(y) {
            let z = usize::from(e.to);
            if bit(blocked, z) {
                continue;
            }
            let nd = dy.saturating_add(e.cost);
            if nd < tree.d(z) {
                tree.set(z, nd, y as u16);
                heap.push_or_decrease(e.to, nd);
            }
        }
    }
}

/// Appends to `list[n..]` the children of `u` in tree `t` (whose block is `block`): its unblocked
/// neighbours other than `t` whose next hop is `u`, marking each `e`. Returns the new length. Out of
/// line, so that its loop keeps its few values in registers.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn children(
    edges: &[Edge],
    block: &[RouteSlot],
    u: u16,
    t: usize,
    blocked: &[u64],
    marks: &mut [u16],
    list: &mut [u16],
    mut n: usize,
    e: u16,
) -> usize {
    for edge in edges {
        let x = usize::from(edge.to);
        if block.get(x).is_some_and(|s| s.hop() == u)
            && x != t
            && !bit(blocked, x)
            && let (Some(m), Some(l)) = (marks.get_mut(x), list.get_mut(n))
        {
            *m = e;
            *l = edge.to;
            n += 1;
        }
    }
    n
}

/// What one look at the neighbours of a node `x` of the subtree being repaired (marked `e`) finds.
struct Scan {
    /// The best offer of a final neighbour (mark below `e`), packed as `cost << 16 | neighbour`
    /// (`INF << 16 | NO_HOP` if none; ties go to the lower id).
    best: u64,
    /// Which edges lead into the subtree (marks `e` and `e + 1`): bit `i` for edge `i < MASK_EDGES`,
    /// and [`RECHECK`] if one leads to a node not yet classified.
    into: u16,
    /// The largest `d(z) − c(x, z)` over affected neighbours `z` (0 if none): `x` can improve one
    /// iff its distance is below this.
    gap: u64,
    /// The least `d(z) + c(z, x)` over affected neighbours `z`, packed like `best`: the neighbour
    /// that could improve `x` most.
    lo: u64,
}

/// Looks at the neighbours of one node of the subtree (see [`Scan`]). Out of line, so that its loop
/// keeps its values in registers.
#[inline(never)]
fn scan(edges: &[Edge], marks: &[u16], slots: &[RouteSlot], e: u16) -> Scan {
    // One length for both arrays: one bounds check per neighbour.
    let k = marks.len().min(slots.len());
    let (marks, slots) = (&marks[..k], &slots[..k]);
    let (mut best, mut hop) = (u64::from(INF), NO_HOP);
    let (mut lo, mut lo_hop) = (u64::from(INF), NO_HOP);
    let (mut into, mut gap) = (0u16, 0u64);
    for (i, edge) in edges.iter().enumerate() {
        let u = usize::from(edge.to);
        if let (Some(&m), Some(s)) = (marks.get(u), slots.get(u)) {
            let d = u64::from(s.dist()) + u64::from(edge.cost);
            if m < e {
                if d < best {
                    best = d;
                    hop = edge.to;
                }
            } else if m <= e + 1 {
                if i < MASK_EDGES {
                    into |= 1 << i;
                }
                if m == e {
                    into |= RECHECK;
                } else {
                    gap = gap.max(u64::from(s.dist()).saturating_sub(u64::from(edge.cost)));
                    if d < lo {
                        lo = d;
                        lo_hop = edge.to;
                    }
                }
            }
        }
    }
    Scan { best: best << 16 | u64::from(hop), into, gap, lo: lo << 16 | u64::from(lo_hop) }
}

/// Calls `f` on the edges of `edges` that a repair recorded as leading into the subtree: the edges
/// `0..MASK_EDGES` whose bit is set in `mask`, and every edge from `MASK_EDGES` on (not recorded).
#[inline]
fn inside_edges(edges: &[Edge], mask: u16, mut f: impl FnMut(&Edge)) {
    let mut b = mask & !RECHECK;
    while b != 0 {
        let i = b.trailing_zeros() as usize;
        b &= b - 1;
        if let Some(e) = edges.get(i) {
            f(e);
        }
    }
    for e in edges.get(MASK_EDGES..).unwrap_or_default() {
        f(e);
    }
}

/// Iterates the set bits of one word `b` of a bitset, word index `w`.
fn word_bits(w: usize, mut b: u64) -> impl Iterator<Item = usize> {
    core::iter::from_fn(move || {
        if b == 0 {
            return None;
        }
        let i = b.trailing_zeros() as usize;
        b &= b - 1;
        Some(w * 64 + i)
    })
}

impl<const D: usize> Network<'_, D> {
    /// The next hop from `src` toward `dst`: `dst` itself when `src == dst`. A bit test per end and one
    /// table read.
    #[inline]
    pub fn route(&self, src: NodeId, dst: NodeId) -> Result<NodeId, RouteError> {
        let (s, d) = (src as usize, dst as usize);
        if s >= self.len || d >= self.len {
            return Err(RouteError::OutOfRange);
        }
        if bit(self.blocked, s) {
            return Err(RouteError::SourceBlocked);
        }
        if bit(self.blocked, d) {
            return Err(RouteError::DestinationBlocked);
        }
        match self.table.get(d * self.len + s) {
            Some(e) if e.hop() != NO_HOP => Ok(NodeId::from(e.hop())),
            _ => Err(RouteError::Unreachable),
        }
    }

    /// The cost of the route from `src` to `dst` (0 when equal), with the same refusals as
    /// [`Network::route`].
    pub fn route_cost(&self, src: NodeId, dst: NodeId) -> Result<u32, RouteError> {
        self.route(src, dst)?;
        match self.table.get(dst as usize * self.len + src as usize) {
            Some(e) if e.dist() != INF => Ok(e.dist()),
            _ => Err(RouteError::Unreachable),
        }
    }

    /// Tree `t` and the child index, borrowed from `self`.
    #[inline]
    fn tree<'a>(
        table: &'a mut [RouteSlot],
        has_child: &'a mut [u64],
        w: usize,
        len: usize,
        t: usize,
    ) -> Tree<'a> {
        let slots = table.get_mut(t * len..(t + 1) * len).unwrap_or_default();
        Tree { slots, t, has_child, w }
    }

    /// Recomputes every route from scratch: one Dijkstra per unblocked destination `t`, rooted at `t`
    /// and writing its tree (edges are undirected, so the Dijkstra parent of `s` is its next hop toward
    /// `t`), `O(len·(len + E)·log len)`. The naive reference the incremental repair is measured against.
    pub fn rebuild_routes(&mut self) {
        self.has_child.fill(0);
        for t in 0..self.len {
            self.rebuild_column(t);
        }
    }

    /// Recomputes tree `t` with one Dijkstra rooted at `t`.
    fn rebuild_column(&mut self, t: usize) {
        let mut tree = Self::tree(self.table, self.has_child, self.w, self.len, t);
        tree.slots.fill(RouteSlot::EMPTY);
        if bit(self.blocked, t) {
            return;
        }
        tree.set(t, 0, t as u16);
        self.heap.push_or_decrease(t as u16, 0);
        propagate(&self.graph, self.blocked, &mut self.heap, &mut tree);
    }

    /// In tree `t`, `x` can now reach `t` at cost `d` via `hop`: record it and propagate the improvement.
    fn improve(&mut self, t: usize, x: usize, d: u32, hop: usize) {
        let mut tree = Self::tree(self.table, self.has_child, self.w, self.len, t);
        tree.set(x, d, hop as u16);
        self.heap.push_or_decrease(x as u16, d);
        propagate(&self.graph, self.blocked, &mut self.heap, &mut tree);
    }

    /// A fresh epoch `e` for one repair: nodes of the subtree are marked `e` (not classified yet) or
    /// `e + 1` (affected); any mark below `e` means final. Blocked nodes carry [`BLOCKED_MARK`], above
    /// every epoch, so the one compare `mark < e` also excludes them.
    fn next_epoch(&mut self) -> u16 {
        let mut e = self.epoch.wrapping_add(1);
        if e >= BLOCKED_MARK - 1 {
            for m in self.mark.iter_mut() {
                if *m != BLOCKED_MARK {
                    *m = 0;
                }
            }
            e = 1;
        }
        self.epoch = e + 1;
        e
    }

    /// Recomputes, in tree `t`, the subtree hanging from `root`: every node whose path to `t` went
    /// through `root` (a blocked root, itself excluded) or through `root`'s parent edge (a costlier or
    /// removed edge; `root` included). Nodes outside the subtree keep their distances, which the change
    /// cannot have altered. Cost: `O(k·D)` for a subtree of `k` nodes plus `O(a·D·log a)` for the `a`
    /// of them whose distance may still drop after seeding, all within tree `t`'s block of the table.
    fn repair_subtree(&mut self, t: usize, root: usize, root_blocked: bool) {
        let e = self.next_epoch();
        let (len, w) = (self.len, self.w);
        let block = self.table.get(t * len..(t + 1) * len).unwrap_or_default();
        let (graph, mark, list, has_child, blocked) =
            (&self.graph, &mut *self.mark, &mut *self.list, &mut *self.has_child, &*self.blocked);
        // 1. Collect the subtree breadth-first (parents before children): the children of `u` are the
        //    unblocked neighbours whose next hop is `u`, so each node is found once, with no test.
        //    A node whose child-index bit is clear has no child and is not scanned; a stale bit
        //    found on the way is cleared.
        let (tw, tb) = (t / 64, 1u64 << (t % 64));
        let mut n = 0;
        if !root_blocked && let (Some(m), Some(l)) = (mark.get_mut(root), list.get_mut(0)) {
            *m = e;
            *l = root as u16;
            n = 1;
        }
        let (mut i, mut u, mut at_root) = (0, root, root_blocked);
        loop {
            let cw = if at_root {
                at_root = false;
                usize::MAX
            } else {
                let Some(&x) = list.get(i).filter(|_| i < n) else { break };
                i += 1;
                u = usize::from(x);
                let cw = u * w + tw;
                if has_child.get(cw).is_none_or(|&b| b & tb == 0) {
                    continue;
                }
                cw
            };
            let before = n;
            n = children(graph.edges(u), block, u as u16, t, blocked, mark, list, n, e);
            if n == before
                && let Some(b) = has_child.get_mut(cw)
            {
                *b &= !tb;
            }
        }
        self.repair_collected(t, n, e, !root_blocked);
    }

    /// Steps 2–4 of a repair: `self.list[..n]` holds the subtree in tree `t` in collection order
    /// (parents before children), each node marked `e`; with `root_in_list`, `list[0]` is a root whose
    /// parent edge changed (else the root is blocked and not listed). Classifies each node as kept or
    /// affected, seeds the affected ones from their final neighbours and runs a Dijkstra restricted to
    /// them. `self.inside` records, per affected node, its edges into the subtree.
    #[inline(never)]
    fn repair_collected(&mut self, t: usize, n: usize, e: u16, root_in_list: bool) {
        let aff = e + 1;
        let mut tree = Self::tree(self.table, self.has_child, self.w, self.len, t);
        let (graph, mark, inside, list, heap) =
            (&self.graph, &mut *self.mark, &mut *self.inside, &mut *self.list, &mut self.heap);
        // 2. Keep what does not change (Ramalingam–Reps): a node keeps its distance if it has an
        //    unblocked neighbour whose distance is final at exactly its old distance minus the edge.
        //    Final: outside the subtree (removing a node or making an edge costlier only removes
        //    paths, so nobody else's distance changes), or already found to keep its distance. In
        //    collection order, a node whose parent kept its distance keeps its distance and its hop
        //    with no look at all: whole sub-subtrees cost O(1) per node. A node not yet classified
        //    counts as not final: that can only miss an alternative, never accept a wrong one.
        //    One scan per other node gives its best final offer (exactly its old distance iff kept,
        //    since no final neighbour can offer less; else its seed) and records which of its edges
        //    lead into the subtree, and whether one leads to a node not yet classified (`RECHECK`:
        //    kept later, it may offer a better seed). Kept nodes are marked 0, affected ones `aff`
        //    and listed first in `list`.
        let (mut affected, mut kept) = (0, 0);
        let first = usize::from(root_in_list);
        for j in 0..n.min(list.len()) {
            let x16 = list[j];
            let x = usize::from(x16);
            let old = tree.slot(x);
            if j >= first && mark.get(usize::from(old.hop())).is_some_and(|&m| m < e) {
                // Its parent (in the subtree) kept its distance, and the edge to it is unchanged.
                mark[x] = 0;
                kept += 1;
                continue;
            }
            let sc = scan(graph.edges(x), mark, tree.slots, e);
            let (best, hop) = ((sc.best >> 16) as u32, sc.best as u16);
            if best == old.dist() && best != INF {
                mark[x] = 0;
                kept += 1;
                tree.set(x, best, hop);
                continue;
            }
            mark[x] = aff;
            // Unreachable for now is `(INF, NO_HOP)`.
            tree.set(x, best, hop);
            inside[x] = sc.into;
            list[affected] = x16;
            affected += 1;
            // Queue whoever can improve a neighbour now: `x` (if below its gap) and the affected
            // neighbour that offers `x` the most (if it offers less than the seed). Every edge
            // between affected nodes is checked once this way, by the later of its two ends; a
            // node whose distance drops afterwards is queued when it drops.
            if u64::from(best) < sc.gap {
                heap.push_or_decrease(x16, best);
            }
            if sc.lo >> 16 < u64::from(best) {
                let z = sc.lo as u16;
                heap.push_or_decrease(z, tree.d(usize::from(z)));
            }
        }
        // 3. Seeds that a node kept after it may improve: only its edges into the subtree can. A seed
        //    that drops is queued.
        if kept > 0 {
            for &x16 in &list[..affected] {
                let x = usize::from(x16);
                let mask = inside[x];
                if mask & RECHECK == 0 {
                    continue;
                }
                let slot = tree.slot(x);
                let (mut dx, mut hop) = (u64::from(slot.dist()), slot.hop());
                inside_edges(graph.edges(x), mask, |edge| {
                    let u = usize::from(edge.to);
                    if mark.get(u).is_some_and(|&m| m < e) {
                        let du = u64::from(tree.d(u)) + u64::from(edge.cost);
                        if du < dx {
                            dx = du;
                            hop = edge.to;
                        }
                    }
                });
                if dx != u64::from(slot.dist()) {
                    tree.set(x, dx as u32, hop);
                    heap.push_or_decrease(x16, dx as u32);
                }
            }
        }
        // 4. Dijkstra restricted to the affected nodes, along their edges into the subtree. A settled
        //    node is final (mark 0).
        while let Some((y, dy)) = heap.pop() {
            mark[y] = 0;
            let dy = u64::from(dy);
            inside_edges(graph.edges(y), inside[y], |edge| {
                let z = usize::from(edge.to);
                if mark.get(z) == Some(&aff) {
                    let nd = dy + u64::from(edge.cost);
                    if nd < u64::from(tree.d(z)) {
                        tree.set(z, nd as u32, y as u16);
                        heap.push_or_decrease(edge.to, nd as u32);
                    }
                }
            });
        }
    }

    /// Routes after `v` became blocked (its bit is already set): only the trees in which the child index
    /// says `v` may have a child are visited, and in each only `v`'s subtree is recomputed. Afterwards
    /// `v` has no child anywhere, so its index is cleared.
    pub(crate) fn block_routes(&mut self, v: usize) {
        if let Some(m) = self.mark.get_mut(v) {
            *m = BLOCKED_MARK;
        }
        for w in 0..self.w {
            // `v` is nobody's next hop from now on: its word can be read and cleared before the
            // repairs (which never set bits of `v`).
            let Some(word) = self.has_child.get_mut(v * self.w + w) else { break };
            let bits = core::mem::take(word);
            for t in word_bits(w, bits) {
                if t < self.len && t != v && !bit(self.blocked, t) {
                    self.repair_subtree(t, v, true);
                }
            }
        }
    }

    /// Routes after `v` was released (its bit is already clear). Per unblocked tree: `v`'s entry from its
    /// neighbours' entries, then, if that shortens a neighbour's path, a Dijkstra that only lowers
    /// distances. Then `v`'s own tree.
    pub(crate) fn unblock_routes(&mut self, v: usize) {
        if let Some(m) = self.mark.get_mut(v) {
            *m = 0;
        }
        let len = self.len;
        for t in 0..len {
            if t == v || bit(self.blocked, t) {
                continue;
            }
            let mut tree = Self::tree(self.table, self.has_child, self.w, len, t);
            let edges = self.graph.edges(v);
            let mut ds = [INF; D];
            for (d, e) in ds.iter_mut().zip(edges) {
                if !bit(self.blocked, usize::from(e.to)) {
                    *d = tree.d(usize::from(e.to));
                }
            }
            let (mut best, mut hop) = (INF, NO_HOP);
            for (e, &d) in edges.iter().zip(&ds) {
                let c = d.saturating_add(e.cost);
                if d != INF && c < best {
                    best = c;
                    hop = e.to;
                }
            }
            tree.set(v, best, hop);
            if best == INF {
                continue;
            }
            // A strict gain for anyone implies a strict gain for a neighbour of v.
            let gains = |(e, &d): (&super::Edge, &u32)| {
                !bit(self.blocked, usize::from(e.to)) && best.saturating_add(e.cost) < d
            };
            if edges.iter().zip(&ds).any(gains) {
                self.heap.push_or_decrease(v as u16, best);
                propagate(&self.graph, self.blocked, &mut self.heap, &mut tree);
            }
        }
        self.rebuild_column(v);
    }

    /// Routes after edge `a`–`b` appeared or became cheaper (new cost `cost`).
    pub(crate) fn edge_decreased(&mut self, a: usize, b: usize, cost: u32) {
        if bit(self.blocked, a) || bit(self.blocked, b) {
            return;
        }
        let len = self.len;
        for t in 0..len {
            if bit(self.blocked, t) {
                continue;
            }
            let (da, db) = (self.table[t * len + a].dist(), self.table[t * len + b].dist());
            if db != INF && a != t && db.saturating_add(cost) < da {
                self.improve(t, a, db.saturating_add(cost), b);
            } else if da != INF && b != t && da.saturating_add(cost) < db {
                self.improve(t, b, da.saturating_add(cost), a);
            }
        }
    }

    /// Routes after edge `a`–`b` became costlier or disappeared: only trees in which `a` or `b` may have
    /// a child (the child index) can use the edge.
    pub(crate) fn edge_increased(&mut self, a: usize, b: usize) {
        if bit(self.blocked, a) || bit(self.blocked, b) {
            return;
        }
        let len = self.len;
        // Word by word: the repair of tree `t` only sets bit `t`, in the word already read.
        for w in 0..self.w {
            let word = self.has_child[a * self.w + w] | self.has_child[b * self.w + w];
            for t in word_bits(w, word) {
                if t >= len || bit(self.blocked, t) {
                    continue;
                }
                if a != t && usize::from(self.table[t * len + a].hop()) == b {
                    self.repair_subtree(t, a, false);
                } else if b != t && usize::from(self.table[t * len + b].hop()) == a {
                    self.repair_subtree(t, b, false);
                }
            }
        }
    }
}
