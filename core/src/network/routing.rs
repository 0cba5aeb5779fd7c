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

use super::{Graph, INF, NO_HOP, Network, NodeId, RouteError, RouteSlot, bit};

/// Trees repaired together by [`Network::block_routes`].
const CHUNK: usize = 16;

/// Distances a heap orders nodes by.
pub(crate) trait Keys {
    fn key(&self, x: usize) -> u32;
}

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

impl Keys for Tree<'_> {
    #[inline]
    fn key(&self, x: usize) -> u32 {
        self.d(x)
    }
}

/// An indexed binary min-heap of node ids with decrease-key, ordered by a [`Keys`].
pub(crate) struct Heap<'t> {
    items: &'t mut [u16],
    pos: &'t mut [u16],
    len: usize,
}

impl<'t> Heap<'t> {
    /// A heap over node ids below `pos.len()`, with room for `items.len()` of them.
    pub(crate) fn new(items: &'t mut [u16], pos: &'t mut [u16]) -> Self {
        Heap { items, pos, len: 0 }
    }

    /// Empties the heap.
    pub(crate) fn clear(&mut self) {
        self.pos.fill(NO_HOP);
        self.len = 0;
    }

    /// Inserts `x`, or restores the heap order after its key decreased.
    fn push_or_decrease(&mut self, x: u16, key: &impl Keys) {
        let p = self.pos[usize::from(x)];
        let i = if p == NO_HOP {
            let i = self.len;
            self.items[i] = x;
            self.pos[usize::from(x)] = i as u16;
            self.len += 1;
            i
        } else {
            usize::from(p)
        };
        self.sift_up(i, key);
    }

    fn pop(&mut self, key: &impl Keys) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let top = self.items[0];
        self.len -= 1;
        self.pos[usize::from(top)] = NO_HOP;
        if self.len > 0 {
            let last = self.items[self.len];
            self.items[0] = last;
            self.pos[usize::from(last)] = 0;
            self.sift_down(0, key);
        }
        Some(usize::from(top))
    }

    fn sift_up(&mut self, mut i: usize, key: &impl Keys) {
        let x = self.items[i];
        let k = key.key(usize::from(x));
        while i > 0 {
            let parent = (i - 1) / 2;
            let p = self.items[parent];
            if key.key(usize::from(p)) <= k {
                break;
            }
            self.items[i] = p;
            self.pos[usize::from(p)] = i as u16;
            i = parent;
        }
        self.items[i] = x;
        self.pos[usize::from(x)] = i as u16;
    }

    fn sift_down(&mut self, mut i: usize, key: &impl Keys) {
        let x = self.items[i];
        let k = key.key(usize::from(x));
        loop {
            let l = 2 * i + 1;
            if l >= self.len {
                break;
            }
            let r = l + 1;
            let (kl, c0) = (key.key(usize::from(self.items[l])), l);
            let (kc, c) = if r < self.len {
                let kr = key.key(usize::from(self.items[r]));
                if kr < kl { (kr, r) } else { (kl, c0) }
            } else {
                (kl, c0)
            };
            if kc >= k {
                break;
            }
            let cx = self.items[c];
            self.items[i] = cx;
            self.pos[usize::from(cx)] = i as u16;
            i = c;
        }
        self.items[i] = x;
        self.pos[usize::from(x)] = i as u16;
    }
}

/// Settles the heap's nodes in order and relaxes their unblocked neighbours in `tree` (a Dijkstra that
/// only lowers distances). With `only = Some((mark, epoch))`, relaxes only nodes marked `epoch`, and
/// never `skip`.
fn propagate<const D: usize>(
    graph: &Graph<'_, D>,
    blocked: &[u64],
    heap: &mut Heap<'_>,
    tree: &mut Tree<'_>,
    only: Option<(&[u16], u16)>,
    skip: usize,
) {
    while let Some(y) = heap.pop(tree) {
        let dy = tree.d(y);
        for e in graph.edges(y) {
            let z = usize::from(e.to);
            if z == skip || bit(blocked, z) {
                continue;
            }
            if let Some((mark, epoch)) = only
                && mark.get(z) != Some(&epoch)
            {
                continue;
            }
            let nd = dy.saturating_add(e.cost);
            if nd < tree.d(z) {
                tree.set(z, nd, y as u16);
                heap.push_or_decrease(z as u16, tree);
            }
        }
    }
}

/// The cheapest way for `x` into `tree` through an unblocked neighbour whose distance is final (not
/// marked `epoch`): its cost and that neighbour, or `(INF, NO_HOP)`.
#[inline]
fn best_final<const D: usize>(
    graph: &Graph<'_, D>,
    blocked: &[u64],
    mark: &[u16],
    tree: &Tree<'_>,
    x: usize,
    epoch: u16,
) -> (u32, u16) {
    let (mut best, mut hop) = (INF, NO_HOP);
    for e in graph.edges(x) {
        let u = usize::from(e.to);
        if mark.get(u) != Some(&epoch) && !bit(blocked, u) {
            let du = tree.d(u);
            if du != INF && du.saturating_add(e.cost) < best {
                best = du.saturating_add(e.cost);
                hop = e.to;
            }
        }
    }
    (best, hop)
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
        self.heap.push_or_decrease(t as u16, &tree);
        propagate(&self.graph, self.blocked, &mut self.heap, &mut tree, None, usize::MAX);
    }

    /// In tree `t`, `x` can now reach `t` at cost `d` via `hop`: record it and propagate the improvement.
    fn improve(&mut self, t: usize, x: usize, d: u32, hop: usize) {
        let mut tree = Self::tree(self.table, self.has_child, self.w, self.len, t);
        tree.set(x, d, hop as u16);
        self.heap.push_or_decrease(x as u16, &tree);
        propagate(&self.graph, self.blocked, &mut self.heap, &mut tree, None, usize::MAX);
    }

    fn next_epoch(&mut self) -> u16 {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.mark.fill(0);
            self.epoch = 1;
        }
        self.epoch
    }

    /// Recomputes, in tree `t`, the subtree hanging from `root` (root included): every node whose path
    /// to `t` went through `root` (a blocked root) or through `root`'s parent edge (a costlier or removed
    /// edge). Nodes outside the subtree keep their distances, which the change cannot have altered.
    /// Cost: `O(k·D·log k)` for a subtree of `k` nodes, all within tree `t`'s block of the table.
    fn repair_subtree(&mut self, t: usize, root: usize, root_blocked: bool) {
        let epoch = self.next_epoch();
        let len = self.len;
        let block = self.table.get(t * len..(t + 1) * len).unwrap_or_default();
        // 1. Collect the subtree: the children of u are the unblocked neighbours whose next hop is u.
        self.mark[root] = epoch;
        self.list[0] = root as u16;
        let (mut n, mut i) = (1, 0);
        while i < n {
            let u = usize::from(self.list[i]);
            i += 1;
            // Gather first (independent loads overlap their cache misses), then test.
            let edges = self.graph.edges(u);
            let mut hops = [NO_HOP; D];
            for (h, e) in hops.iter_mut().zip(edges) {
                *h = block.get(usize::from(e.to)).map_or(NO_HOP, |e| e.hop());
            }
            for (e, &h) in edges.iter().zip(&hops) {
                let x = usize::from(e.to);
                if usize::from(h) == u && self.mark[x] != epoch && x != t && !bit(self.blocked, x) {
                    self.mark[x] = epoch;
                    self.list[n] = e.to;
                    n += 1;
                }
            }
        }
        self.repair_collected(t, root, root_blocked, n, epoch);
    }

    /// Steps 2–3 of [`Network::repair_subtree`]: `self.list[..n]` holds the subtree of `root` in tree
    /// `t`, each node marked `epoch`. Resets it, seeds each node from its best neighbour outside, and
    /// runs a Dijkstra restricted to it.
    fn repair_collected(&mut self, t: usize, root: usize, root_blocked: bool, n: usize, epoch: u16) {
        if root_blocked && n == 1 {
            // `root` has no child here (a stale bit of the child index): nothing routes through it.
            return;
        }
        let mut tree = Self::tree(self.table, self.has_child, self.w, self.len, t);
        // 2. Keep what does not change (Ramalingam–Reps): a node of the subtree keeps its distance if it
        //    has an unblocked neighbour whose distance is final at exactly its old distance minus the
        //    edge. Final: outside the subtree (removing a node or making an edge costlier only removes
        //    paths, so nobody else's distance changes), or already found to keep its distance. The list
        //    is in collection order, parents before children, so a node whose parent kept its distance
        //    keeps its distance and its hop with no look at all: whole sub-subtrees are skipped in O(1)
        //    per node. A node not yet classified counts as not final (marked): that can only miss an
        //    alternative, never accept a wrong one, and the node is then recomputed exactly below.
        //    Kept nodes are unmarked; the rest stay marked, are reset and recomputed.
        let (mut affected, mut kept) = (0, 0);
        for j in 0..n {
            let x = usize::from(self.list[j]);
            if root_blocked && x == root {
                tree.set(x, INF, NO_HOP);
                continue;
            }
            let old = tree.d(x);
            let parent = tree.slots.get(x).map_or(NO_HOP, |e| e.hop());
            if x != root && self.mark.get(usize::from(parent)).is_some_and(|&m| m != epoch) {
                // Its parent (in the subtree) kept its distance, and the edge to it is unchanged.
                self.mark[x] = 0;
                kept += 1;
                continue;
            }
            // The best final neighbour: it offers exactly `old` iff the distance is kept (no final
            // neighbour can offer less: the new distance is at least the old one); otherwise it is
            // the node's seed for the restricted Dijkstra.
            let (best, hop) = best_final(&self.graph, self.blocked, self.mark, &tree, x, epoch);
            if best == old && old != INF {
                tree.set(x, old, hop);
                self.mark[x] = 0;
                kept += 1;
            } else {
                tree.set(x, best, hop);
                self.list[affected] = x as u16;
                affected += 1;
            }
        }
        // 3. Seeds. Computed above from the nodes final at the time; only nodes kept later can
        //    improve them, so they are recomputed only if something was kept in this tree.
        for j in 0..affected {
            let s = usize::from(self.list[j]);
            if kept > 0 {
                let (best, hop) = best_final(&self.graph, self.blocked, self.mark, &tree, s, epoch);
                tree.set(s, best, hop);
            }
            if tree.d(s) != INF {
                self.heap.push_or_decrease(s as u16, &tree);
            }
        }
        // 4. Dijkstra restricted to the affected nodes.
        let skip = if root_blocked { root } else { usize::MAX };
        propagate(&self.graph, self.blocked, &mut self.heap, &mut tree, Some((&*self.mark, epoch)), skip);
    }

    /// Routes after `v` became blocked (its bit is already set): only the trees in which the child index
    /// says `v` may have a child are visited, and in each only `v`'s subtree is recomputed. Afterwards
    /// `v` has no child anywhere, so its index is cleared.
    pub(crate) fn block_routes(&mut self, v: usize) {
        let mut chunk = [0u16; CHUNK];
        let mut k = 0;
        for w in 0..self.w {
            // `v` is nobody's next hop from now on: its word can be read and cleared before the
            // repairs (which never set bits of `v`).
            let Some(word) = self.has_child.get_mut(v * self.w + w) else { break };
            let bits = core::mem::take(word);
            for t in word_bits(w, bits) {
                if t < self.len && t != v && !bit(self.blocked, t) {
                    chunk[k] = t as u16;
                    k += 1;
                    if k == CHUNK {
                        self.block_chunk(v, &chunk);
                        k = 0;
                    }
                }
            }
        }
        if k > 0 {
            self.block_chunk(v, &chunk[..k]);
        }
    }

    /// Repairs, after `v` was blocked, the trees in `trees` (at most [`CHUNK`]). The subtrees of `v` are
    /// collected for all of them together, breadth-first across trees: consecutive steps read unrelated
    /// trees, so their cache misses overlap instead of forming one chain per tree. No marks are needed:
    /// `x` is a child of `u` iff `next[x] = u`, so each node is found at most once per tree. The
    /// per-tree repairs that follow find the lines they read already in cache. If the scratch list
    /// (`N` entries) fills, the chunk is split in two and collected again (nothing was written yet).
    fn block_chunk(&mut self, v: usize, trees: &[u16]) {
        let len = self.len;
        let mut n = 0;
        for k in 0..trees.len() {
            self.list[n] = v as u16;
            self.tag[n] = k as u16;
            n += 1;
        }
        let mut i = 0;
        while i < n {
            let (u, k) = (usize::from(self.list[i]), self.tag[i]);
            i += 1;
            let t = usize::from(trees[usize::from(k)]);
            let block = self.table.get(t * len..(t + 1) * len).unwrap_or_default();
            let edges = self.graph.edges(u);
            let mut hops = [NO_HOP; D];
            for (h, e) in hops.iter_mut().zip(edges) {
                *h = block.get(usize::from(e.to)).map_or(NO_HOP, |e| e.hop());
            }
            for (e, &h) in edges.iter().zip(&hops) {
                let x = usize::from(e.to);
                if usize::from(h) == u && x != t && !bit(self.blocked, x) {
                    if n >= self.list.len() {
                        // Nothing was written yet: split the chunk and start again. A single tree
                        // cannot overflow (each node is found at most once), so this terminates.
                        if trees.len() == 1 {
                            self.repair_subtree(t, v, true);
                            return;
                        }
                        let (l, r) = trees.split_at(trees.len() / 2);
                        self.block_chunk(v, l);
                        self.block_chunk(v, r);
                        return;
                    }
                    self.list[n] = e.to;
                    self.tag[n] = k;
                    n += 1;
                }
            }
        }
        // Group by tree (a stable counting sort), then repair tree by tree.
        let mut start = [0usize; CHUNK + 1];
        for &k in &self.tag[..n] {
            start[usize::from(k) + 1] += 1;
        }
        for k in 0..CHUNK {
            start[k + 1] += start[k];
        }
        let mut fill = start;
        for j in 0..n {
            let k = usize::from(self.tag[j]);
            self.sorted[fill[k]] = self.list[j];
            fill[k] += 1;
        }
        for (k, &t) in trees.iter().enumerate() {
            let (a, b) = (start[k], start[k + 1]);
            if b - a <= 1 {
                continue;
            }
            let epoch = self.next_epoch();
            for j in a..b {
                let s = self.sorted[j];
                self.list[j - a] = s;
                self.mark[usize::from(s)] = epoch;
            }
            self.repair_collected(usize::from(t), v, true, b - a, epoch);
        }
    }

    /// Routes after `v` was released (its bit is already clear). Per unblocked tree: `v`'s entry from its
    /// neighbours' entries, then, if that shortens a neighbour's path, a Dijkstra that only lowers
    /// distances. Then `v`'s own tree.
    pub(crate) fn unblock_routes(&mut self, v: usize) {
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
                self.heap.push_or_decrease(v as u16, &tree);
                propagate(&self.graph, self.blocked, &mut self.heap, &mut tree, None, usize::MAX);
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
