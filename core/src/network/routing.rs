//! The next-hop table and its incremental repair.
//!
//! Tables are source-major: entry `(s, t)` at `s·len + t`, so a node's row (its next hop and distance to
//! every destination) is contiguous and the per-node scans of a repair are sequential. Column `t` is the
//! shortest-path tree rooted at `t`, as parent pointers (`next`, the next hop toward `t`) and distances.
//! Invariants, for every unblocked `t`: `dist[t][t] = 0`, `next[t][t] = t`; a blocked `s` has
//! `dist[s][t] = INF`, `next[s][t] = NO_HOP`; a reachable unblocked `s ≠ t` has an unblocked neighbour
//! `h = next[s][t]` with `dist[s][t] = cost(s, h) + dist[h][t]`, and `dist[s][t]` is the least cost of a
//! path from `s` to `t` whose nodes are all unblocked. Columns of blocked destinations are not
//! maintained; they are rebuilt when the destination is released.

use super::{Graph, INF, NO_HOP, Network, NodeId, RouteError, RouteSlot, bit};

/// Distances a heap orders nodes by.
pub(crate) trait Keys {
    fn key(&self, x: usize) -> u32;
}

/// Tree `t` of the source-major tables: node `s`'s entry is at `s·len + t`.
struct Col<'a> {
    table: &'a mut [RouteSlot],
    len: usize,
    t: usize,
}

impl Col<'_> {
    #[inline]
    fn d(&self, s: usize) -> u32 {
        self.table[s * self.len + self.t].dist()
    }
    #[inline]
    fn hop(&self, s: usize) -> u16 {
        self.table[s * self.len + self.t].hop()
    }
    #[inline]
    fn set(&mut self, s: usize, d: u32, hop: u16) {
        self.table[s * self.len + self.t] = RouteSlot::new(d, hop);
    }
}

impl Keys for Col<'_> {
    #[inline]
    fn key(&self, x: usize) -> u32 {
        self.d(x)
    }
}

/// Row `s`: distances from `s` to every node.
struct Row<'a> {
    slots: &'a mut [RouteSlot],
}

impl Keys for Row<'_> {
    #[inline]
    fn key(&self, x: usize) -> u32 {
        self.slots[x].dist()
    }
}

/// An indexed binary min-heap of node ids with decrease-key, ordered by a [`Keys`].
pub(crate) struct Heap<const N: usize> {
    items: [u16; N],
    pos: [u16; N],
    len: usize,
}

impl<const N: usize> Heap<N> {
    pub(crate) const fn new() -> Self {
        Heap { items: [0; N], pos: [NO_HOP; N], len: 0 }
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

/// Settles the heap's nodes in order and relaxes their unblocked neighbours in tree `col.t` (a Dijkstra
/// that only lowers distances). With `only = Some((mark, epoch))`, relaxes only nodes marked `epoch`, and
/// never `skip`.
fn propagate<const N: usize, const W: usize, const D: usize>(
    graph: &Graph<N, D>,
    blocked: &[u64; W],
    heap: &mut Heap<N>,
    col: &mut Col<'_>,
    only: Option<(&[u32; N], u32)>,
    skip: usize,
) {
    while let Some(y) = heap.pop(col) {
        let dy = col.d(y);
        for e in graph.edges(y) {
            let z = usize::from(e.to);
            if z == skip || bit(blocked, z) {
                continue;
            }
            if let Some((mark, epoch)) = only
                && mark[z] != epoch
            {
                continue;
            }
            let nd = dy.saturating_add(e.cost);
            if nd < col.d(z) {
                col.set(z, nd, y as u16);
                heap.push_or_decrease(z as u16, col);
            }
        }
    }
}

impl<const N: usize, const W: usize, const D: usize> Network<'_, N, W, D> {
    /// The next hop from `src` toward `dst`: `dst` itself when `src == dst`. A bit test per end and one
    /// table read.
    #[inline]
    pub fn route(&self, src: NodeId, dst: NodeId) -> Result<NodeId, RouteError> {
        let (s, d) = (src as usize, dst as usize);
        if s >= self.len || d >= self.len {
            return Err(RouteError::OutOfRange);
        }
        if bit(&self.blocked, s) {
            return Err(RouteError::SourceBlocked);
        }
        if bit(&self.blocked, d) {
            return Err(RouteError::DestinationBlocked);
        }
        match self.table.get(s * self.len + d) {
            Some(e) if e.hop() != NO_HOP => Ok(NodeId::from(e.hop())),
            _ => Err(RouteError::Unreachable),
        }
    }

    /// The cost of the route from `src` to `dst` (0 when equal), with the same refusals as
    /// [`Network::route`].
    pub fn route_cost(&self, src: NodeId, dst: NodeId) -> Result<u32, RouteError> {
        self.route(src, dst)?;
        match self.table.get(src as usize * self.len + dst as usize) {
            Some(e) if e.dist() != INF => Ok(e.dist()),
            _ => Err(RouteError::Unreachable),
        }
    }

    /// Recomputes every route from scratch: one Dijkstra per unblocked source (edges are undirected, so
    /// the first hop of a shortest path from `s` is a valid next hop), `O(len·(len + E)·log len)`. The
    /// naive reference the incremental repair is measured against.
    pub fn rebuild_routes(&mut self) {
        let len = self.len;
        for s in 0..len {
            let row = Row { slots: &mut self.table[s * len..(s + 1) * len] };
            row.slots.fill(RouteSlot::EMPTY);
            if bit(&self.blocked, s) {
                continue;
            }
            row.slots[s] = RouteSlot::new(0, s as u16);
            self.heap.push_or_decrease(s as u16, &row);
            while let Some(y) = self.heap.pop(&row) {
                let dy = row.slots[y].dist();
                let first = if y == s { None } else { Some(row.slots[y].hop()) };
                for e in self.graph.edges(y) {
                    let z = usize::from(e.to);
                    if bit(&self.blocked, z) {
                        continue;
                    }
                    let nd = dy.saturating_add(e.cost);
                    if nd < row.slots[z].dist() {
                        row.slots[z] = RouteSlot::new(nd, first.unwrap_or(e.to));
                        self.heap.push_or_decrease(e.to, &row);
                    }
                }
            }
        }
    }

    /// Recomputes tree `t` with one Dijkstra rooted at `t`.
    fn rebuild_column(&mut self, t: usize) {
        let len = self.len;
        let mut col = Col { table: &mut *self.table, len, t };
        for s in 0..len {
            col.set(s, INF, NO_HOP);
        }
        if bit(&self.blocked, t) {
            return;
        }
        col.set(t, 0, t as u16);
        self.heap.push_or_decrease(t as u16, &col);
        propagate(&self.graph, &self.blocked, &mut self.heap, &mut col, None, usize::MAX);
    }

    /// In tree `t`, `x` can now reach `t` at cost `d` via `hop`: record it and propagate the improvement.
    fn improve(&mut self, t: usize, x: usize, d: u32, hop: usize) {
        let mut col = Col { table: &mut *self.table, len: self.len, t };
        col.set(x, d, hop as u16);
        self.heap.push_or_decrease(x as u16, &col);
        propagate(&self.graph, &self.blocked, &mut self.heap, &mut col, None, usize::MAX);
    }

    fn next_epoch(&mut self) -> u32 {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.mark = [0; N];
            self.epoch = 1;
        }
        self.epoch
    }

    /// Recomputes, in tree `t`, the subtree hanging from `root` (root included): every node whose path
    /// to `t` went through `root` (a blocked root) or through `root`'s parent edge (a costlier or removed
    /// edge). Nodes outside the subtree keep their distances, which the change cannot have altered.
    /// Cost: `O(k·D·log k)` for a subtree of `k` nodes.
    fn repair_subtree(&mut self, t: usize, root: usize, root_blocked: bool) {
        let epoch = self.next_epoch();
        let mut col = Col { table: &mut *self.table, len: self.len, t };
        // 1. Collect the subtree: the children of u are the neighbours whose next hop is u.
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
                *h = col.hop(usize::from(e.to));
            }
            for (e, &h) in edges.iter().zip(&hops) {
                let x = usize::from(e.to);
                if usize::from(h) == u && self.mark[x] != epoch {
                    self.mark[x] = epoch;
                    self.list[n] = e.to;
                    n += 1;
                }
            }
        }
        for &s in &self.list[..n] {
            col.set(usize::from(s), INF, NO_HOP);
        }
        // 2. Seed each subtree node with its best neighbour outside the subtree.
        for &s in &self.list[..n] {
            let s = usize::from(s);
            if root_blocked && s == root {
                continue;
            }
            let (mut best, mut hop) = (INF, NO_HOP);
            for e in self.graph.edges(s) {
                let u = usize::from(e.to);
                if self.mark[u] != epoch {
                    let du = col.d(u);
                    if du != INF {
                        let c = du.saturating_add(e.cost);
                        if c < best {
                            best = c;
                            hop = e.to;
                        }
                    }
                }
            }
            if best != INF {
                col.set(s, best, hop);
                self.heap.push_or_decrease(s as u16, &col);
            }
        }
        // 3. Dijkstra restricted to the subtree.
        let skip = if root_blocked { root } else { usize::MAX };
        propagate(&self.graph, &self.blocked, &mut self.heap, &mut col, Some((&self.mark, epoch)), skip);
    }

    /// Marks in `self.trees` every tree `t` in which some unblocked neighbour of `v` has next hop `v`
    /// (i.e. `v` has a child). Sequential scans of the neighbours' rows: `O(D·len)`.
    fn trees_through(&mut self, v: usize) {
        let len = self.len;
        self.trees = [0; W];
        for e in self.graph.edges(v) {
            let x = usize::from(e.to);
            if bit(&self.blocked, x) {
                continue;
            }
            let row = &self.table[x * len..(x + 1) * len];
            for (t, e) in row.iter().enumerate() {
                if usize::from(e.hop()) == v {
                    self.trees[t / 64] |= 1 << (t % 64);
                }
            }
        }
    }

    /// Routes after `v` became blocked (its bit is already set). Its own row becomes unreachable; only
    /// the trees in which it had children are repaired.
    pub(crate) fn block_routes(&mut self, v: usize) {
        let len = self.len;
        self.trees_through(v);
        self.table[v * len..(v + 1) * len].fill(RouteSlot::EMPTY);
        for w in 0..W {
            let mut bits = self.trees[w];
            while bits != 0 {
                let t = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if t != v && !bit(&self.blocked, t) {
                    self.repair_subtree(t, v, true);
                }
            }
        }
    }

    /// Routes after `v` was released (its bit is already clear): its row from its neighbours' rows, then
    /// propagation in the trees where it shortens a neighbour's path, then its own tree.
    pub(crate) fn unblock_routes(&mut self, v: usize) {
        let len = self.len;
        self.table[v * len..(v + 1) * len].fill(RouteSlot::EMPTY);
        for e in self.graph.edges(v) {
            let u = usize::from(e.to);
            if bit(&self.blocked, u) {
                continue;
            }
            for t in 0..len {
                let c = self.table[u * len + t].dist().saturating_add(e.cost);
                if c < self.table[v * len + t].dist() {
                    self.table[v * len + t] = RouteSlot::new(c, e.to);
                }
            }
        }
        // Trees in which some neighbour z gains by going through v.
        self.trees = [0; W];
        for e in self.graph.edges(v) {
            let z = usize::from(e.to);
            if bit(&self.blocked, z) {
                continue;
            }
            for t in 0..len {
                if self.table[v * len + t].dist().saturating_add(e.cost) < self.table[z * len + t].dist() {
                    self.trees[t / 64] |= 1 << (t % 64);
                }
            }
        }
        for w in 0..W {
            let mut bits = self.trees[w];
            while bits != 0 {
                let t = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if t != v && !bit(&self.blocked, t) {
                    let mut col = Col { table: &mut *self.table, len, t };
                    self.heap.push_or_decrease(v as u16, &col);
                    propagate(&self.graph, &self.blocked, &mut self.heap, &mut col, None, usize::MAX);
                }
            }
        }
        self.rebuild_column(v);
    }

    /// Routes after edge `a`–`b` appeared or became cheaper (new cost `cost`).
    pub(crate) fn edge_decreased(&mut self, a: usize, b: usize, cost: u32) {
        if bit(&self.blocked, a) || bit(&self.blocked, b) {
            return;
        }
        let len = self.len;
        for t in 0..len {
            if bit(&self.blocked, t) {
                continue;
            }
            let (da, db) = (self.table[a * len + t].dist(), self.table[b * len + t].dist());
            if db != INF && a != t && db.saturating_add(cost) < da {
                self.improve(t, a, db.saturating_add(cost), b);
            } else if da != INF && b != t && da.saturating_add(cost) < db {
                self.improve(t, b, da.saturating_add(cost), a);
            }
        }
    }

    /// Routes after edge `a`–`b` became costlier or disappeared.
    pub(crate) fn edge_increased(&mut self, a: usize, b: usize) {
        if bit(&self.blocked, a) || bit(&self.blocked, b) {
            return;
        }
        let len = self.len;
        for t in 0..len {
            if bit(&self.blocked, t) {
                continue;
            }
            if a != t && usize::from(self.table[a * len + t].hop()) == b {
                self.repair_subtree(t, a, false);
            } else if b != t && usize::from(self.table[b * len + t].hop()) == a {
                self.repair_subtree(t, b, false);
            }
        }
    }
}
