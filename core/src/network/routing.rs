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

/// Trees repaired together by [`Network::block_routes`].
const CHUNK: usize = 16;

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
    /// cannot have altered. Cost: `O(k·D·log k)` for a subtree of `k` nodes, all within tree `t`'s
    /// block of the table.
    fn repair_subtree(&mut self, t: usize, root: usize, root_blocked: bool) {
        let e = self.next_epoch();
        let (len, w) = (self.len, self.w);
        let block = self.table.get(t * len..(t + 1) * len).unwrap_or_default();
        // 1. Collect the subtree, breadth-first: the children of u are the unblocked neighbours whose
        //    next hop is u. A node whose child-index bit says it has no child is not scanned, and a
        //    stale bit found on the way is cleared.
        let mut n = 0;
        if !root_blocked {
            self.mark[root] = e;
            self.list[0] = root as u16;
            n = 1;
        }
        let (mut i, mut at_root) = (0, root_blocked);
        loop {
            let u = if at_root {
                at_root = false;
                root
            } else if i < n {
                i += 1;
                usize::from(self.list[i - 1])
            } else {
                break;
            };
            let (cw, cb) = (u * w + t / 64, 1u64 << (t % 64));
            let indexed = u == root && root_blocked || self.has_child.get(cw).is_some_and(|&b| b & cb != 0);
            if !indexed {
                continue;
            }
            let before = n;
            for e2 in self.graph.edges(u) {
                let x = usize::from(e2.to);
                if block.get(x).is_some_and(|s| usize::from(s.hop()) == u)
                    && x != t
                    && !bit(self.blocked, x)
                    && self.mark[x] != e
                    && n < self.list.len()
                {
                    self.mark[x] = e;
                    self.list[n] = e2.to;
                    n += 1;
                }
            }
            if n == before
                && let Some(b) = self.has_child.get_mut(cw)
            {
                *b &= !cb;
            }
        }
        self.repair_collected(t, n, e, !root_blocked);
    }

    /// Steps 2–4 of a repair: `self.list[..n]` holds the subtree in tree `t` in collection order
    /// (parents before children), each node marked `e`; with `root_in_list`, `list[0]` is a root whose
    /// parent edge changed (else the root is blocked and not listed). Classifies each node as kept or
    /// affected, seeds the affected ones from their final neighbours and runs a Dijkstra restricted to
    /// them. Uses `self.tag` as a per-node record of the edges into the subtree.
    fn repair_collected(&mut self, t: usize, n: usize, e: u16, root_in_list: bool) {
        if n == 0 {
            return;
        }
        let aff = e + 1;
        let mut tree = Self::tree(self.table, self.has_child, self.w, self.len, t);
        let (graph, mark, inside, list, heap) =
            (&self.graph, &mut *self.mark, &mut *self.tag, &mut *self.list, &mut self.heap);
        // 2. Keep what does not change (Ramalingam–Reps): a node keeps its distance if it has an
        //    unblocked neighbour whose distance is final at exactly its old distance minus the edge.
        //    Final: outside the subtree (removing a node or making an edge costlier only removes
        //    paths, so nobody else's distance changes), or already found to keep its distance. In
        //    collection order, a node whose parent kept its distance keeps its distance and its hop
        //    with no look at all: whole sub-subtrees cost O(1) per node. A node not yet classified
        //    counts as not final: that can only miss an alternative, never accept a wrong one.
        //    One scan per other node gives its best final offer (exactly its old distance iff kept,
        //    since no final neighbour can offer less; else its seed), records which of its edges lead
        //    into the subtree, and whether a neighbour not yet classified might offer a better seed
        //    if it is kept later (`RECHECK`). Kept nodes are marked 0, affected ones `aff`.
        let (mut affected, mut kept) = (0, 0);
        let first = usize::from(root_in_list);
        for j in 0..n {
            let x16 = list[j];
            let x = usize::from(x16);
            let old = tree.slot(x);
            if j >= first && mark.get(usize::from(old.hop())).is_some_and(|&m| m < e) {
                // Its parent (in the subtree) kept its distance, and the edge to it is unchanged.
                mark[x] = 0;
                kept += 1;
                continue;
            }
            let (mut best, mut hop, mut pend, mut into) = (u64::from(INF), NO_HOP, u64::from(INF), 0u16);
            for (i, edge) in graph.edges(x).iter().enumerate() {
                let u = usize::from(edge.to);
                let m = mark.get(u).copied().unwrap_or(BLOCKED_MARK);
                let d = u64::from(tree.d(u)) + u64::from(edge.cost);
                if m < e {
                    if d < best {
                        best = d;
                        hop = edge.to;
                    }
                } else if m <= aff {
                    if i < MASK_EDGES {
                        into |= 1 << i;
                    }
                    if m == e {
                        pend = pend.min(d);
                    }
                }
            }
            if best == u64::from(old.dist()) && old.dist() != INF {
                mark[x] = 0;
                kept += 1;
                tree.set(x, old.dist(), hop);
            } else {
                mark[x] = aff;
                // `best ≤ INF`: unreachable for now is `(INF, NO_HOP)`.
                tree.set(x, best as u32, hop);
                inside[x] = into | if pend < best { RECHECK } else { 0 };
                list[affected] = x16;
                affected += 1;
            }
        }
        // 3. Seeds that a node kept later may improve: only its edges into the subtree can.
        if kept > 0 {
            for &x16 in &list[..affected] {
                let x = usize::from(x16);
                if inside[x] & RECHECK == 0 {
                    continue;
                }
                let (mut best, mut hop) = (u64::from(tree.d(x)), NO_HOP);
                inside_edges(graph.edges(x), inside[x], |edge| {
                    let u = usize::from(edge.to);
                    if mark.get(u).is_some_and(|&m| m < e) {
                        let d = u64::from(tree.d(u)) + u64::from(edge.cost);
                        if d < best {
                            best = d;
                            hop = edge.to;
                        }
                    }
                });
                if hop != NO_HOP {
                    tree.set(x, best as u32, hop);
                }
            }
        }
        // 4. Dijkstra restricted to the affected nodes, along their edges into the subtree. A settled
        //    node is final (mark 0).
        for &x16 in &list[..affected] {
            let d = tree.d(usize::from(x16));
            if d != INF {
                heap.push_or_decrease(x16, d);
            }
        }
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
    /// `x` is a child of `u` iff `next[x] = u`, so each node is found at most once per tree. A node
    /// whose child-index bit is clear has no child and is not scanned; a stale bit is cleared. The
    /// per-tree repairs that follow find the lines they read already in cache. If the scratch list
    /// (`N` entries) fills, the chunk is split in two and collected again (nothing was written yet,
    /// except cleared stale bits).
    fn block_chunk(&mut self, v: usize, trees: &[u16]) {
        let (len, w) = (self.len, self.w);
        let roots = trees.len();
        let (mut n, mut i) = (0, 0);
        // Queue position `i`: `v` in tree `i` for `i < roots`, then `list[i - roots]` in tree
        // `tag[i - roots]`.
        while i < roots + n {
            let (u, k) = if i < roots {
                (v, i as u16)
            } else {
                (usize::from(self.list[i - roots]), self.tag[i - roots])
            };
            i += 1;
            let t = usize::from(trees[usize::from(k)]);
            let (cw, cb) = (u * w + t / 64, 1u64 << (t % 64));
            if u != v && self.has_child.get(cw).is_none_or(|&b| b & cb == 0) {
                continue;
            }
            let block = self.table.get(t * len..(t + 1) * len).unwrap_or_default();
            let before = n;
            for e in self.graph.edges(u) {
                let x = usize::from(e.to);
                if block.get(x).is_some_and(|s| usize::from(s.hop()) == u) && x != t && !bit(self.blocked, x) {
                    if n >= self.list.len() {
                        // Nothing was written yet: split the chunk and start again. A single tree
                        // cannot overflow (each node is found at most once, `v` and `t` never), so
                        // this terminates.
                        if roots == 1 {
                            self.repair_subtree(t, v, true);
                            return;
                        }
                        let (l, r) = trees.split_at(roots / 2);
                        self.block_chunk(v, l);
                        self.block_chunk(v, r);
                        return;
                    }
                    self.list[n] = e.to;
                    self.tag[n] = k;
                    n += 1;
                }
            }
            if n == before
                && u != v
                && let Some(b) = self.has_child.get_mut(cw)
            {
                *b &= !cb;
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
            if a == b {
                continue;
            }
            let e = self.next_epoch();
            for j in a..b {
                let s = self.sorted[j];
                self.list[j - a] = s;
                self.mark[usize::from(s)] = e;
            }
            self.repair_collected(usize::from(t), b - a, e, false);
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
