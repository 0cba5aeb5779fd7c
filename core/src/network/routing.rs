//! The next-hop table and its incremental repair.
//!
//! Tables are destination-major: column `t` (entries `t·len .. (t+1)·len`) is the shortest-path tree
//! rooted at `t`, stored as parent pointers (`next`, the next hop toward `t`) and distances (`dist`).
//! Invariants, for every unblocked `t`: `dist[t][t] = 0`, `next[t][t] = t`; a blocked `s` has
//! `dist[t][s] = INF`, `next[t][s] = NO_HOP`; a reachable unblocked `s ≠ t` has an unblocked neighbour
//! `h = next[t][s]` with `dist[t][s] = cost(s, h) + dist[t][h]`, and `dist[t][s]` is the least cost of a
//! path from `s` to `t` whose nodes are all unblocked. Columns of blocked destinations are not
//! maintained; they are rebuilt when the destination is released.

use super::{Graph, INF, NO_HOP, Network, NodeId, RouteError, bit};

/// An indexed binary min-heap of node ids keyed by a distance column, with decrease-key.
pub(crate) struct Heap<const N: usize> {
    items: [u16; N],
    pos: [u16; N],
    len: usize,
}

impl<const N: usize> Heap<N> {
    pub(crate) const fn new() -> Self {
        Heap { items: [0; N], pos: [NO_HOP; N], len: 0 }
    }

    /// Inserts `x`, or restores the heap order after `key[x]` decreased.
    fn push_or_decrease(&mut self, x: u16, key: &[u32]) {
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

    fn pop(&mut self, key: &[u32]) -> Option<usize> {
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

    fn sift_up(&mut self, mut i: usize, key: &[u32]) {
        let x = self.items[i];
        let k = key[usize::from(x)];
        while i > 0 {
            let parent = (i - 1) / 2;
            let p = self.items[parent];
            if key[usize::from(p)] <= k {
                break;
            }
            self.items[i] = p;
            self.pos[usize::from(p)] = i as u16;
            i = parent;
        }
        self.items[i] = x;
        self.pos[usize::from(x)] = i as u16;
    }

    fn sift_down(&mut self, mut i: usize, key: &[u32]) {
        let x = self.items[i];
        let k = key[usize::from(x)];
        loop {
            let l = 2 * i + 1;
            if l >= self.len {
                break;
            }
            let r = l + 1;
            let c = if r < self.len && key[usize::from(self.items[r])] < key[usize::from(self.items[l])] {
                r
            } else {
                l
            };
            let cx = self.items[c];
            if key[usize::from(cx)] >= k {
                break;
            }
            self.items[i] = cx;
            self.pos[usize::from(cx)] = i as u16;
            i = c;
        }
        self.items[i] = x;
        self.pos[usize::from(x)] = i as u16;
    }
}

/// Settles the heap's nodes in order and relaxes their unblocked neighbours (a Dijkstra that only
/// lowers distances). With `only = Some((mark, epoch))`, relaxes only nodes marked with `epoch`, and never
/// `skip`.
#[allow(clippy::too_many_arguments)]
fn propagate<const N: usize, const W: usize, const D: usize>(
    graph: &Graph<N, D>,
    blocked: &[u64; W],
    heap: &mut Heap<N>,
    dist: &mut [u32],
    next: &mut [u16],
    only: Option<(&[u32; N], u32)>,
    skip: usize,
) {
    while let Some(y) = heap.pop(dist) {
        let dy = dist[y];
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
            if nd < dist[z] {
                dist[z] = nd;
                next[z] = y as u16;
                heap.push_or_decrease(z as u16, dist);
            }
        }
    }
}

impl<const N: usize, const W: usize, const D: usize> Network<'_, N, W, D> {
    /// The next hop from `src` toward `dst`: `dst` itself when `src == dst`. A bit test and a table read.
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
        match self.next.get(d * self.len + s) {
            Some(&h) if h != NO_HOP => Ok(NodeId::from(h)),
            _ => Err(RouteError::Unreachable),
        }
    }

    /// The cost of the route from `src` to `dst` (0 when equal), with the same refusals as
    /// [`Network::route`].
    pub fn route_cost(&self, src: NodeId, dst: NodeId) -> Result<u32, RouteError> {
        self.route(src, dst)?;
        match self.dist.get(dst as usize * self.len + src as usize) {
            Some(&c) if c != INF => Ok(c),
            _ => Err(RouteError::Unreachable),
        }
    }

    /// Recomputes every route from scratch: one Dijkstra per unblocked destination,
    /// `O(len·(len + E)·log len)`. The reference the incremental repair is measured against.
    pub fn rebuild_routes(&mut self) {
        for t in 0..self.len {
            self.rebuild_column(t);
        }
    }

    fn rebuild_column(&mut self, t: usize) {
        let len = self.len;
        let r = t * len..(t + 1) * len;
        let (dist, next) = (&mut self.dist[r.clone()], &mut self.next[r]);
        dist.fill(INF);
        next.fill(NO_HOP);
        if bit(&self.blocked, t) {
            return;
        }
        dist[t] = 0;
        next[t] = t as u16;
        self.heap.push_or_decrease(t as u16, dist);
        propagate(&self.graph, &self.blocked, &mut self.heap, dist, next, None, usize::MAX);
    }

    /// `x` can now reach `t` at cost `d` via `hop`: record it and propagate the improvement.
    fn improve(&mut self, t: usize, x: usize, d: u32, hop: usize) {
        let len = self.len;
        let r = t * len..(t + 1) * len;
        let (dist, next) = (&mut self.dist[r.clone()], &mut self.next[r]);
        dist[x] = d;
        next[x] = hop as u16;
        self.heap.push_or_decrease(x as u16, dist);
        propagate(&self.graph, &self.blocked, &mut self.heap, dist, next, None, usize::MAX);
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
        let len = self.len;
        let r = t * len..(t + 1) * len;
        let (dist, next) = (&mut self.dist[r.clone()], &mut self.next[r]);
        // 1. Collect the subtree: children of u are the neighbours whose next hop is u.
        self.mark[root] = epoch;
        self.list[0] = root as u16;
        let (mut n, mut i) = (1, 0);
        while i < n {
            let u = usize::from(self.list[i]);
            i += 1;
            for e in self.graph.edges(u) {
                let x = usize::from(e.to);
                if self.mark[x] != epoch && usize::from(next[x]) == u {
                    self.mark[x] = epoch;
                    self.list[n] = x as u16;
                    n += 1;
                }
            }
        }
        for &s in &self.list[..n] {
            dist[usize::from(s)] = INF;
            next[usize::from(s)] = NO_HOP;
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
                if self.mark[u] != epoch && dist[u] != INF {
                    let c = dist[u].saturating_add(e.cost);
                    if c < best {
                        best = c;
                        hop = e.to;
                    }
                }
            }
            if best != INF {
                dist[s] = best;
                next[s] = hop;
                self.heap.push_or_decrease(s as u16, dist);
            }
        }
        // 3. Dijkstra restricted to the subtree.
        let skip = if root_blocked { root } else { usize::MAX };
        propagate(&self.graph, &self.blocked, &mut self.heap, dist, next, Some((&self.mark, epoch)), skip);
    }

    /// Routes after `v` became blocked (its bit is already set).
    pub(crate) fn block_routes(&mut self, v: usize) {
        for t in 0..self.len {
            if t == v || bit(&self.blocked, t) {
                continue;
            }
            let i = t * self.len + v;
            if self.dist[i] != INF {
                self.repair_subtree(t, v, true);
            }
        }
    }

    /// Routes after `v` was released (its bit is already clear).
    pub(crate) fn unblock_routes(&mut self, v: usize) {
        for t in 0..self.len {
            if t == v || bit(&self.blocked, t) {
                continue;
            }
            let (best, hop) = {
                let dist = &self.dist[t * self.len..(t + 1) * self.len];
                let (mut best, mut hop) = (INF, 0);
                for e in self.graph.edges(v) {
                    let u = usize::from(e.to);
                    if dist[u] != INF {
                        let c = dist[u].saturating_add(e.cost);
                        if c < best {
                            best = c;
                            hop = u;
                        }
                    }
                }
                (best, hop)
            };
            if best != INF {
                self.improve(t, v, best, hop);
            }
        }
        self.rebuild_column(v);
    }

    /// Routes after edge `a`–`b` appeared or became cheaper (new cost `cost`).
    pub(crate) fn edge_decreased(&mut self, a: usize, b: usize, cost: u32) {
        if bit(&self.blocked, a) || bit(&self.blocked, b) {
            return;
        }
        for t in 0..self.len {
            if bit(&self.blocked, t) {
                continue;
            }
            let (da, db) = (self.dist[t * self.len + a], self.dist[t * self.len + b]);
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
        for t in 0..self.len {
            if bit(&self.blocked, t) {
                continue;
            }
            let base = t * self.len;
            if a != t && usize::from(self.next[base + a]) == b {
                self.repair_subtree(t, a, false);
            } else if b != t && usize::from(self.next[base + b]) == a {
                self.repair_subtree(t, b, false);
            }
        }
    }
}
