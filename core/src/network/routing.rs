//! The next-hop table and its incremental repair.
//!
//! Tables are destination-major: entry `(s, t)` at `t·len + s`, so the shortest-path tree rooted at `t`
//! (parent pointers `next`, the next hop toward `t`, and distances) is one contiguous block of `len`
//! slots, and repairing one tree walks a few KiB instead of one cache line and one page per node.
//! Invariants, for every unblocked `t` and unblocked `s`: `dist[t][t] = 0`, `next[t][t] = t`; a reachable
//! `s ≠ t` has an unblocked neighbour `h = next[s][t]` with `dist[s][t] = cost(s, h) + dist[h][t]`, and
//! `dist[s][t]` is the least cost of a path from `s` to `t` whose nodes are all unblocked; an unreachable
//! `s` has `INF` and `NO_HOP`. A blocked source's entry is `(INF, NO_HOP)` in every tree of an unblocked
//! destination (so a repair needs no blocked test: it offers nothing); trees of blocked destinations are
//! not maintained (every reader tests the blocked bit first) and are rebuilt when the node is released.
//!
//! Repairs after a node is blocked or an edge gets costlier: see [`Network::repair_subtree`] and
//! docs/NETWORK.md.
//!
//! `has_child[v]` is a bitset over trees: bit `t` is set whenever some entry of tree `t` was written with
//! next hop `v`. It is a superset of the trees in which `v` has a child (bits are only cleared by a full
//! rebuild and when `v` is blocked, after which it has no children), so blocking `v` visits those trees
//! only.

use super::{
    Graph, INF, Link, NO_HOP, Network, NetworkError, NodeId, RouteError, RouteSlot, StoragePart, bit, take,
};

// Tags a repair puts in the spare top bits of the slots of the tree it repairs, above the next hop:
// `hi = slot >> 32` is `tag << 16 | hop`. Every slot outside a repair has tag 0.

/// Found in the subtree, not looked at yet (distance and hop stale).
const IN: u64 = 1;
/// Looked at: distance and hop are a tentative label.
const AFF: u64 = 2;
/// Label checked: it rests on final nodes and checked labels only.
const OK: u64 = 3;
/// Label rested on a node of the subtree found later (its distance stale): looked at again.
const BAD: u64 = 4;

/// Tree `t`: the contiguous block of slots `t·len .. (t + 1)·len`, and the word group of the child index
/// that holds bit `t` of every node (see [`Network::tree`]).
struct Tree<'a> {
    slots: &'a mut [RouteSlot],
    /// Child-index words of trees `64·⌊t/64⌋ ..`, one per node.
    hc: &'a mut [u64],
    /// Bit `t % 64`.
    tb: u64,
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
            && let Some(w) = self.hc.get_mut(usize::from(hop))
        {
            *w |= self.tb;
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

    /// The same heap (empty, as it is between repairs) over the same memory, for a shorter lifetime.
    fn reborrow(&mut self) -> Heap<'_> {
        Heap { items: &mut *self.items, pos: &mut *self.pos, len: 0 }
    }

    /// Entries in the heap (0 between repairs).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether `x` is in the heap.
    fn contains(&self, x: u16) -> bool {
        self.pos.get(usize::from(x)).is_some_and(|&p| p != NO_HOP)
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
            self.sift_down(0, last);
        }
        Some((usize::from(top as u16), (top >> 16) as u32))
    }

    /// Gives `x` the key `key`, lower or higher than before, inserting it if absent.
    fn set_key(&mut self, x: u16, key: u32) {
        let Some(&p) = self.pos.get(usize::from(x)) else { return };
        if p == NO_HOP || usize::from(p) >= self.len {
            self.push_or_decrease(x, key);
            return;
        }
        let entry = u64::from(key) << 16 | u64::from(x);
        let i = usize::from(p);
        if self.items.get(i).is_some_and(|&old| entry < old) {
            self.sift_up(i, entry);
        } else {
            self.sift_down(i, entry);
        }
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

    /// Moves entry `x` down from free index `i` to its place.
    #[inline]
    fn sift_down(&mut self, mut i: usize, x: u64) {
        let items = &mut self.items[..self.len];
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
fn propagate<const D: usize>(
    graph: &Graph<'_, D>,
    blocked: &[u64],
    heap: &mut Heap<'_>,
    tree: &mut Tree<'_>,
) {
    while let Some((y, dy)) = heap.pop() {
        for &l in graph.links(y) {
            let z = usize::from(l.to());
            if bit(blocked, z) {
                continue;
            }
            let nd = dy.saturating_add(l.cost());
            if nd < tree.d(z) {
                tree.set(z, nd, y as u16);
                heap.push_or_decrease(l.to(), nd);
            }
        }
    }
}

/// The tag of a slot (see [`IN`]).
#[inline]
fn tag(s: RouteSlot) -> u64 {
    s.0 >> 48
}

/// `s` with tag `tag`.
#[inline]
fn tagged(s: RouteSlot, tag: u64) -> RouteSlot {
    RouteSlot(s.0 & 0x0000_FFFF_FFFF_FFFF | tag << 48)
}

/// A label `(d, hop)` with tag `tag`.
#[inline]
fn label(d: u64, hop: u16, tag: u64) -> RouteSlot {
    // `d ≤ INF` always: labels only take offers below the `INF` they start from.
    RouteSlot(d.min(u64::from(INF)) << 16 | u64::from(hop) | tag << 48)
}

/// Phase 1 of a repair in the tree whose block is `slots`: one look at each node of the subtree,
/// breadth-first from `root` (parents before children). A look at `u` finds its children — its
/// neighbours with next hop `u` and tag 0 —, tags them [`IN`] and queues them in `list`; and gives `u`
/// a label (tag [`AFF`]): the best offer of a neighbour tagged 0 (outside the subtree, or inside it
/// but not found yet: such labels are caught below) or [`AFF`] (looked at before `u`). Neighbours
/// tagged [`IN`] are looked at later and compare with `u` then; blocked ones hold `(INF, NO_HOP)` and
/// offer nothing. `u` is queued in `heap` if it can improve a neighbour looked at before it (whoever
/// can improve `u` already did: `u` took its offer). A blocked root is only searched for children;
/// another root is `list[0]`. Returns the size of the subtree and whether some label took the offer
/// of a node found after it (whose distance was stale). Out of line, so that its loop keeps its
/// values in registers.
#[inline(never)]
fn first_looks<const D: usize>(
    graph: &Graph<'_, D>,
    slots: &mut [RouteSlot],
    list: &mut [u16],
    heap: &mut Heap<'_>,
    root: usize,
    root_blocked: bool,
) -> usize {
    let (mut n, mut i) = (0, 0);
    if root_blocked {
        // Only its children: `v` itself is `(INF, NO_HOP)` and gets no label.
        n = look(graph.links(root), slots, list, 0, root as u16).0;
    } else if let (Some(s), Some(l)) = (slots.get_mut(root), list.get_mut(0)) {
        *s = FOUND;
        *l = root as u16;
        n = 1;
    }
    while let Some(&u) = list.get(i).filter(|_| i < n) {
        i += 1;
        let (m, best, gap) = look(graph.links(usize::from(u)), slots, list, n, u);
        n = m;
        let d = best >> 16;
        let hop = if d >= u64::from(INF) { NO_HOP } else { (best >> 1) as u16 & 0x7FFF };
        if let Some(s) = slots.get_mut(usize::from(u)) {
            *s = label(d, hop, AFF);
        }
        if ((d << 16) as i64) < gap {
            queue(heap, u, d as u32);
        }
    }
    n
}

/// `heap.push_or_decrease(u, d)`, out of line: rare in [`first_looks`], whose loop keeps its values in
/// registers only if this stays out.
#[inline(never)]
fn queue(heap: &mut Heap<'_>, u: u16, d: u32) {
    heap.push_or_decrease(u, d);
}

/// A node found in the subtree and not looked at yet: tag [`IN`], distance `INF` (its old distance is
/// stale: it offers nothing, without a tag test).
const FOUND: RouteSlot = RouteSlot(IN << 48 | (INF as u64) << 16 | NO_HOP as u64);

/// The distance bits of a slot.
const DIST: u64 = 0x0000_FFFF_FFFF_0000;

/// One look at `u` (links `links`) in phase 1, with `n` nodes in `list`: its children (tag 0, next hop
/// `u`) become [`FOUND`] and are appended to `list`; every other neighbour `y` offers its distance
/// plus the edge (found ones offer `INF + c`, never taken). Returns the new `n`, the best offer as a
/// key `(d + c) << 16 | y << 1` (the least distance, ties to the least id; `INF << 16 | 0xFFFF` if
/// none), and a bound `g` such that `(b << 16) < g` iff `b < d(z) − c` for some neighbour `z` looked at
/// before `u` (tag [`AFF`]), i.e. iff `u` with label `b` can improve `z`.
///
/// Branch-free but for the children (about one edge in eight): with `2l = c << 16 | y << 1` for a link
/// `l` and a slot `s = tag << 48 | d << 16 | hop`, `(s & DIST) + 2l` is the offer's key, and
/// `(s & !0xFFFF) − AFF << 48 − 2l` is `(d − c) << 16 − 2y` for a node tagged [`AFF`] (`0 ≤ 2y < 2^16`,
/// hence the exact test above) and negative for tags 0 and [`IN`].
#[inline(always)]
fn look(
    links: &[Link],
    slots: &mut [RouteSlot],
    list: &mut [u16],
    mut n: usize,
    u: u16,
) -> (usize, u64, i64) {
    let me = u32::from(u) << 16;
    let (best_init, gap) = (u64::from(INF) << 16 | 0xFFFF, 0i64);
    let (mut best, mut top) = (best_init, i64::MIN);
    for &l in links {
        let y = l.to();
        let Some(slot) = slots.get_mut(usize::from(y)) else { continue };
        let s = slot.0;
        // Tag 0 and hop `u`: the low half of `s` rotated by 16 is `hop << 16 | tag` (one register fewer
        // than a mask, which the loop needs for `DIST`).
        if s.rotate_left(16) as u32 == me {
            if let Some(x) = list.get_mut(n) {
                *x = y;
                n += 1;
                *slot = FOUND;
            }
            continue;
        }
        let l2 = u64::from(l.0) << 1;
        best = best.min((s & DIST) + l2);
        // `(s & !0xFFFF) − 2l` (below 2^51, above −2^34: exact in `i64`); the constant `AFF << 48` is
        // subtracted once, after the loop (it commutes with `max`).
        top = top.max((s & !0xFFFF) as i64 - l2 as i64);
    }
    (n, best, gap.max(top.saturating_sub((AFF << 48) as i64)))
}

/// Another look at node `u` whose label was [`BAD`], once the subtree is known and checked: offers
/// from neighbours tagged 0 (outside the subtree) or [`OK`]; the largest `d(z) − c` over the latter.
#[inline(never)]
fn second_look(links: &[Link], slots: &[RouteSlot]) -> (RouteSlot, u64) {
    let (mut best, mut hop, mut gap) = (u64::from(INF), NO_HOP, 0u64);
    for &l in links {
        let Some(&s) = slots.get(usize::from(l.to())) else { continue };
        let (t, d, c) = (tag(s), u64::from(s.dist()), u64::from(l.cost()));
        if t == 0 || t == OK {
            if d + c < best {
                best = d + c;
                hop = l.to();
            }
            if t == OK {
                gap = gap.max(d.saturating_sub(c));
            }
        }
    }
    (label(best, hop, OK), gap)
}

/// Phase 4 of a repair: a Dijkstra from the queued nodes, within the subtree (every label is tagged
/// [`OK`] by now). A settled node is final (tag 0). Out of line, like the other phases, so that each
/// loop has the registers to itself.
#[inline(never)]
fn settle<const D: usize>(graph: &Graph<'_, D>, slots: &mut [RouteSlot], heap: &mut Heap<'_>) {
    while let Some((y, dy)) = heap.pop() {
        if let Some(s) = slots.get_mut(y) {
            *s = tagged(*s, 0);
        }
        if dy == INF {
            // Unreachable (a seed whose label was recomputed to `INF`): improves nobody.
            continue;
        }
        for &l in graph.links(y) {
            let Some(s) = slots.get_mut(usize::from(l.to())) else { continue };
            let nd = u64::from(dy) + u64::from(l.cost());
            // One compare: tag `OK` (unsettled, in the subtree) and `nd < d` (`nd < INF + 1 = 2^32`).
            if OK << 48 | nd << 16 | 0xFFFF < s.0 {
                *s = label(nd, y as u16, OK);
                heap.push_or_decrease(l.to(), nd as u32);
            }
        }
    }
}

/// Phase 5 of a repair: untags the nodes of `list` and indexes each under its next hop in the child
/// index (`hc`: the tree's word group, one word per node; `tb`: the tree's bit).
#[inline(never)]
fn untag(list: &[u16], slots: &mut [RouteSlot], hc: &mut [u64], tb: u64) {
    for &x in list {
        let x = usize::from(x);
        let Some(s) = slots.get_mut(x) else { continue };
        *s = tagged(*s, 0);
        let h = usize::from(s.hop());
        if h != x
            && let Some(b) = hc.get_mut(h)
        {
            *b |= tb;
        }
    }
}

/// Tree `t` from scratch: every entry `(INF, NO_HOP)`, then (if `t` is unblocked) one Dijkstra rooted
/// at `t`.
fn rebuild_tree<const D: usize>(
    graph: &Graph<'_, D>,
    blocked: &[u64],
    tree: &mut Tree<'_>,
    heap: &mut Heap<'_>,
    t: usize,
) {
    tree.slots.fill(RouteSlot::EMPTY);
    if bit(blocked, t) {
        return;
    }
    tree.set(t, 0, t as u16);
    heap.push_or_decrease(t as u16, 0);
    propagate(graph, blocked, heap, tree);
}

/// In `tree`, after `v` was released: `v`'s entry = the best of its unblocked neighbours' entries plus
/// the edge cost, and if that strictly shortens a neighbour's path, a Dijkstra that only touches nodes
/// whose distance strictly drops (a strict gain for anyone implies a strict gain for a neighbour of `v`).
fn unblock_tree<const D: usize>(
    graph: &Graph<'_, D>,
    blocked: &[u64],
    tree: &mut Tree<'_>,
    heap: &mut Heap<'_>,
    v: usize,
) {
    let links = graph.links(v);
    let mut ds = [INF; D];
    for (d, l) in ds.iter_mut().zip(links) {
        if !bit(blocked, usize::from(l.to())) {
            *d = tree.d(usize::from(l.to()));
        }
    }
    let (mut best, mut hop) = (INF, NO_HOP);
    for (l, &d) in links.iter().zip(&ds) {
        let c = d.saturating_add(l.cost());
        if d != INF && c < best {
            best = c;
            hop = l.to();
        }
    }
    tree.set(v, best, hop);
    if best == INF {
        return;
    }
    let gains =
        |(l, &d): (&Link, &u32)| !bit(blocked, usize::from(l.to())) && best.saturating_add(l.cost()) < d;
    if links.iter().zip(&ds).any(gains) {
        heap.push_or_decrease(v as u16, best);
        propagate(graph, blocked, heap, tree);
    }
}

/// Recomputes, in the tree whose block is `slots`, the subtree hanging from `root`: every node whose
/// path went through `root` (a blocked root, itself excluded) or through `root`'s parent edge (a costlier
/// or removed edge; `root` included). Nodes outside the subtree keep their distances (removing a node or
/// making an edge costlier only removes paths, and their paths avoid the change), so they are final;
/// only the subtree's distances and hops are recomputed, from them. `hc`/`tb`: the tree's word group of
/// the child index and its bit; `list` and `heap`: scratch of at least `len` entries (the heap empty).
///
/// 1. One look per node, breadth-first ([`first_looks`]): it finds the node's children and gives it
///    a label, the best offer of a neighbour outside the subtree or looked at before it. One scan of
///    its edges per node of the subtree is all most nodes ever cost.
/// 2. A label may rest on a node of the subtree not found yet at the look (its old distance, which
///    can only have grown): such a label and any resting on it are marked bad, in look order.
/// 3. Bad labels are recomputed from good ones and the outside.
/// 4. A Dijkstra within the subtree, seeded only by the nodes that can still lower a neighbour's
///    label (checked at the later look of each edge's two ends, or at the recomputation).
/// 5. Tags cleared, and each node indexed in the child index under its new hop.
///
/// Cost: `O(k·D)` for a subtree of `k` nodes, plus `O(a·D·log a)` for the `a` nodes the Dijkstra
/// settles, all within the tree's block of the table.
#[allow(clippy::too_many_arguments)]
fn repair_tree<const D: usize>(
    graph: &Graph<'_, D>,
    slots: &mut [RouteSlot],
    hc: &mut [u64],
    tb: u64,
    list: &mut [u16],
    heap: &mut Heap<'_>,
    root: usize,
    root_blocked: bool,
) {
    // 1. One look at each node (see `first_looks`).
    let n = first_looks(graph, slots, list, heap, root, root_blocked);
    // 2. Check the labels in the same order: a label is good if its hop is outside the subtree
    //    or good itself; it is bad if the hop is bad or was found after the node (its distance
    //    was stale when offered; such hops are rare: breadth-first order finds most of the
    //    subtree before its nodes are looked at).
    let mut bad = false;
    for &x in list.get(..n).unwrap_or_default() {
        let Some(&s) = slots.get(usize::from(x)) else { continue };
        let h = slots.get(usize::from(s.hop())).map_or(0, |&h| tag(h));
        // `h ∈ {0, OK}` as one bit test: whether the hop is outside the subtree or inside it is random,
        // and a branch on it (what `h == 0 || h == OK` compiles to) mispredicts one time in three.
        let good = (1u64 << h.min(63)) & (1 | 1 << OK) != 0;
        bad |= !good;
        if let Some(s) = slots.get_mut(usize::from(x)) {
            *s = tagged(*s, if good { OK } else { BAD });
        }
    }
    // 3. Bad labels are recomputed from outside and good neighbours (in order, each becoming good),
    //    and requeued with their new key (which may be higher).
    if bad {
        for &x in list.get(..n).unwrap_or_default() {
            if slots.get(usize::from(x)).is_none_or(|&s| tag(s) != BAD) {
                continue;
            }
            let (lab, gap) = second_look(graph.links(usize::from(x)), slots);
            if let Some(s) = slots.get_mut(usize::from(x)) {
                *s = lab;
            }
            if heap.contains(x) || u64::from(lab.dist()) < gap {
                heap.set_key(x, lab.dist());
            }
        }
    }
    // 4. Dijkstra from the queued nodes, within the subtree.
    settle(graph, slots, heap);
    // 5. Untag, and index each node under its next hop.
    untag(list.get(..n).unwrap_or_default(), slots, hc, tb);
}

/// The most shares a repair is cut into ([`RepairShare`]): whole 64-tree groups, so networks of
/// `64·MAX_SHARES` nodes or fewer get one share per group.
pub const MAX_SHARES: usize = 16;

/// The most scratches (threads) a repair uses: the network's own and up to `MAX_SCRATCH − 1`
/// [`RepairScratch`]es given to [`Network::set_parallel`].
pub const MAX_SCRATCH: usize = 8;

/// Scratch for one thread of a repair: a heap of `len` entries and a list of `len` nodes. The network
/// has its own; [`Network::set_parallel`] takes more, in caller memory (`len` `u64`s and `2·len`
/// `u16`s each), one per extra thread.
///
/// Aligned to 128 bytes: the heap's length is written on every push and pop, and scratches of
/// different threads sit side by side in the slice a runner gets (no false sharing between them, nor
/// with the adjacent-line prefetcher's pair).
#[repr(align(128))]
pub struct RepairScratch<'s> {
    pub(crate) heap: Heap<'s>,
    pub(crate) list: &'s mut [u16],
    cap: usize,
}

impl<'s> RepairScratch<'s> {
    /// `u64` words a scratch for `len` nodes needs.
    pub const fn words(len: usize) -> usize {
        len
    }
    /// `u16` words a scratch for `len` nodes needs.
    pub const fn halves(len: usize) -> usize {
        len.saturating_mul(2)
    }
    /// Scratch for networks of up to `len` nodes in `words` ([`RepairScratch::words`] long or more) and
    /// `halves` ([`RepairScratch::halves`] or more); their contents are overwritten.
    pub fn new(len: usize, words: &'s mut [u64], halves: &'s mut [u16]) -> Result<Self, NetworkError> {
        if words.len() < len {
            return Err(NetworkError::StorageTooSmall { part: StoragePart::Words, needed: len });
        }
        if halves.len() < 2 * len {
            return Err(NetworkError::StorageTooSmall { part: StoragePart::Scratch, needed: 2 * len });
        }
        Ok(Self::carve(len, words, halves))
    }
    /// The scratch for up to `len` nodes, or fewer if the slices are shorter ([`RepairScratch::capacity`]).
    pub(crate) fn carve(len: usize, mut words: &'s mut [u64], mut halves: &'s mut [u16]) -> Self {
        let cap = len.min(words.len()).min(halves.len() / 2);
        let mut heap = Heap::new(take(&mut words, cap), take(&mut halves, cap));
        heap.clear();
        RepairScratch { heap, list: take(&mut halves, cap), cap }
    }
    /// The largest network this scratch serves.
    pub fn capacity(&self) -> usize {
        self.cap
    }
    /// The same scratch for a shorter lifetime.
    fn reborrow(&mut self) -> RepairScratch<'_> {
        RepairScratch { heap: self.heap.reborrow(), list: &mut *self.list, cap: self.cap }
    }
}

impl core::fmt::Debug for RepairScratch<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RepairScratch").field("capacity", &self.cap).finish()
    }
}

/// Runs the shares of a repair, e.g. on a pool of threads (`tcap_driver::repair::RepairPool`): each
/// share's [`RepairShare::run`] at most once, in any order, on any thread, with any scratch of
/// `scratch` that no other thread uses at the time, all finished before `run` returns. A share left
/// unrun is run by the network afterwards on the calling thread, so a runner can only make a repair
/// slower, never wrong.
pub trait RepairRunner<const D: usize>: Send {
    /// Runs the shares of `shares` with the scratches of `scratch` (`scratch[0]` is the network's own).
    fn run(&mut self, shares: &mut [RepairShare<'_, D>], scratch: &mut [RepairScratch<'_>]);
}

/// What a share does for its node in each of its trees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Job {
    /// The node was blocked: repair the trees it had children in.
    Block,
    /// The node was released: give it an entry and propagate what it improves, in every tree.
    Unblock,
    /// Every tree recomputed from scratch (the node is unused).
    Rebuild,
}

/// One share of a repair after a node was blocked or released: whole 64-tree groups of the route table
/// and of the child index. Shares touch disjoint memory (and read the graph and the quarantine bits,
/// which do not change during the repair), so they may run in parallel; a share's result does not
/// depend on who runs it or when, so the table is bit for bit what one thread computes.
pub struct RepairShare<'a, const D: usize> {
    graph: &'a Graph<'a, D>,
    blocked: &'a [u64],
    len: usize,
    /// The node blocked or released.
    v: usize,
    job: Job,
    /// First tree of the share (a multiple of 64).
    first: usize,
    /// Blocks of trees `first ..`.
    table: &'a mut [RouteSlot],
    /// Child-index word groups of those trees (`len` words each).
    has_child: &'a mut [u64],
    /// Estimated work (trees to repair).
    work: u32,
    done: bool,
}

impl<const D: usize> RepairShare<'_, D> {
    /// Repairs the share's trees with `scratch` (nothing if the share already ran, or if `scratch` is
    /// smaller than the network: the network then runs it itself).
    pub fn run(&mut self, scratch: &mut RepairScratch<'_>) {
        if self.done || scratch.capacity() < self.len {
            return;
        }
        match self.job {
            Job::Block => self.run_block(scratch),
            Job::Unblock => self.run_unblock(scratch),
            Job::Rebuild => self.run_rebuild(scratch),
        }
        self.done = true;
    }

    /// Every tree of the share recomputed with one Dijkstra rooted at it, its child-index words first
    /// cleared.
    fn run_rebuild(&mut self, scratch: &mut RepairScratch<'_>) {
        self.has_child.fill(0);
        let (graph, blocked) = (self.graph, self.blocked);
        self.each_tree(|t, tree| rebuild_tree(graph, blocked, tree, &mut scratch.heap, t));
    }

    /// `f(t, tree t)` for every tree `t` of the share, in order.
    fn each_tree(&mut self, mut f: impl FnMut(usize, &mut Tree<'_>)) {
        let (len, first) = (self.len, self.first);
        let trees = self.table.len().checked_div(len).unwrap_or(0);
        for (i, t) in (first..first + trees).enumerate() {
            let (Some(slots), Some(hc)) = (
                self.table.get_mut(i * len..(i + 1) * len),
                self.has_child.get_mut(i / 64 * len..(i / 64 + 1) * len),
            ) else {
                continue;
            };
            f(t, &mut Tree { slots, hc, tb: 1 << (t % 64) });
        }
    }

    /// Whether the share has run.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Its estimated work, to balance shares between threads: trees it may repair.
    pub fn work(&self) -> u32 {
        self.work
    }

    /// After `v` was blocked: `v`'s entry becomes `(INF, NO_HOP)` in every maintained tree of the share,
    /// and the trees in which the child index says `v` may have a child are repaired.
    fn run_block(&mut self, scratch: &mut RepairScratch<'_>) {
        let (len, v, first) = (self.len, self.v, self.first);
        let groups = self.has_child.len().checked_div(len).unwrap_or(0);
        for g in 0..groups {
            let t0 = first + 64 * g;
            let Some(hc) = self.has_child.get_mut(g * len..(g + 1) * len) else { break };
            // `v` is nobody's next hop from now on: its word can be read and cleared before the
            // repairs (which never set bits of `v`).
            let bits = hc.get_mut(v).map_or(0, core::mem::take);
            for t in t0..(t0 + 64).min(len) {
                if t != v
                    && !bit(self.blocked, t)
                    && let Some(s) = self.table.get_mut((t - first) * len + v)
                {
                    *s = RouteSlot::EMPTY;
                }
            }
            for t in word_bits(t0 / 64, bits) {
                if t >= len || t == v || bit(self.blocked, t) {
                    continue;
                }
                // While this tree is repaired, the next one's first look (`v`'s neighbours in its
                // block) is fetched.
                let later = bits >> (t % 64) >> 1;
                if later != 0 {
                    let next = t + 1 + later.trailing_zeros() as usize - first;
                    prefetch_first_look(self.graph, self.table.get(next * len..(next + 1) * len), v);
                }
                let Some(slots) = self.table.get_mut((t - first) * len..(t - first + 1) * len) else {
                    continue;
                };
                let RepairScratch { heap, list, .. } = scratch;
                repair_tree(self.graph, slots, hc, 1 << (t % 64), list, heap, v, true);
            }
        }
    }

    /// After `v` was released: per unblocked tree `t ≠ v` of the share, `v`'s entry from its neighbours'
    /// entries, then, if that shortens a neighbour's path, a Dijkstra that only lowers distances.
    fn run_unblock(&mut self, scratch: &mut RepairScratch<'_>) {
        let (graph, blocked, v) = (self.graph, self.blocked, self.v);
        self.each_tree(|t, tree| {
            if t != v && !bit(blocked, t) {
                unblock_tree(graph, blocked, tree, &mut scratch.heap, v);
            }
        });
    }
}

impl<const D: usize> core::fmt::Debug for RepairShare<'_, D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RepairShare")
            .field("job", &self.job)
            .field("first_tree", &self.first)
            .field("work", &self.work)
            .field("done", &self.done)
            .finish()
    }
}

/// Asks the cache for the slots of `v`'s neighbours in a tree's block, which its repair reads first (a
/// hint: see `crate::hint`).
#[inline]
fn prefetch_first_look<const D: usize>(graph: &Graph<'_, D>, block: Option<&[RouteSlot]>, v: usize) {
    let Some(block) = block else { return };
    for l in graph.links(v) {
        if let Some(s) = block.get(usize::from(l.to())) {
            crate::hint::prefetch_read(s);
        }
    }
}

/// Cuts `w` tree groups into at most `wanted` (and [`MAX_SHARES`]) consecutive ranges of about equal
/// `work` (trees to repair per group): `bounds[i]..bounds[i + 1]` is share `i`'s groups; the bounds past
/// the last share are `w`. Returns the bounds and the number of shares.
pub(super) fn split_groups(
    w: usize,
    wanted: usize,
    work: impl Fn(usize) -> u32,
) -> ([usize; MAX_SHARES + 1], usize) {
    let mut bounds = [w; MAX_SHARES + 1];
    bounds[0] = 0;
    let total: u64 = (0..w).map(|k| u64::from(work(k))).sum();
    let k = wanted.clamp(1, MAX_SHARES).min(w.max(1));
    let (mut acc, mut share) = (0u64, 1);
    for g in 0..w {
        if share >= k {
            break;
        }
        acc += u64::from(work(g));
        // Cut after group `g` once the work so far reaches share `share`'s part of the total.
        if acc * k as u64 >= total * share as u64 && g + 1 < w {
            bounds[share] = g + 1;
            share += 1;
        }
    }
    (bounds, share)
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

    /// Tree `t` and its word group of the child index, borrowed from `self`.
    #[inline]
    fn tree<'a>(table: &'a mut [RouteSlot], has_child: &'a mut [u64], len: usize, t: usize) -> Tree<'a> {
        let slots = table.get_mut(t * len..(t + 1) * len).unwrap_or_default();
        let hc = has_child.get_mut(t / 64 * len..(t / 64 + 1) * len).unwrap_or_default();
        Tree { slots, hc, tb: 1 << (t % 64) }
    }

    /// Recomputes every route from scratch: one Dijkstra per unblocked destination `t`, rooted at `t`
    /// and writing its tree (edges are undirected, so the Dijkstra parent of `s` is its next hop toward
    /// `t`), `O(len·(len + E)·log len)`. The naive reference the incremental repair is measured against.
    /// With [`Network::set_parallel`] the trees are shared out like a repair's (which also leaves each
    /// tree's lines in the cache of the core that repairs it later).
    pub fn rebuild_routes(&mut self) {
        self.run_shares(0, Job::Rebuild);
    }

    /// Recomputes tree `t` with one Dijkstra rooted at `t`.
    fn rebuild_column(&mut self, t: usize) {
        let mut tree = Self::tree(self.table, self.has_child, self.len, t);
        rebuild_tree(&self.graph, self.blocked, &mut tree, &mut self.heap, t);
    }

    /// In tree `t`, `x` can now reach `t` at cost `d` via `hop`: record it and propagate the improvement.
    fn improve(&mut self, t: usize, x: usize, d: u32, hop: usize) {
        let mut tree = Self::tree(self.table, self.has_child, self.len, t);
        tree.set(x, d, hop as u16);
        self.heap.push_or_decrease(x as u16, d);
        propagate(&self.graph, self.blocked, &mut self.heap, &mut tree);
    }

    /// Recomputes, in tree `t`, the subtree hanging from `root` (see [`repair_tree`]).
    fn repair_subtree(&mut self, t: usize, root: usize, root_blocked: bool) {
        let Tree { slots, hc, tb } = Self::tree(self.table, self.has_child, self.len, t);
        repair_tree(&self.graph, slots, hc, tb, self.list, &mut self.heap, root, root_blocked);
    }

    /// Routes after `v` became blocked (its bit is already set). Its entry becomes `(INF, NO_HOP)` in
    /// every maintained tree, so that it offers nothing to any later repair. Only the trees in which the
    /// child index says `v` may have a child are then repaired, each only in `v`'s subtree. Afterwards
    /// `v` has no child anywhere, so its index is cleared. The trees are independent: with a
    /// [`RepairRunner`] ([`Network::set_parallel`]) they are shared out between threads (see
    /// [`Network::run_shares`]).
    pub(crate) fn block_routes(&mut self, v: usize) {
        self.run_shares(v, Job::Block);
    }

    /// Runs `job` for node `v` over every tree. Without a runner, one share (every tree) runs here with
    /// the network's scratch. With one ([`Network::set_parallel`]), the trees are cut into up to
    /// [`MAX_SHARES`] shares of whole 64-tree groups and about equal work ([`RepairShare`]), which the
    /// runner spreads over its threads, one scratch each; whatever it leaves undone runs here after.
    fn run_shares(&mut self, v: usize, job: Job) {
        let Network { graph, blocked, table, has_child, heap, list, par, len, w, .. } = self;
        let (len, w, graph, blocked) = (*len, *w, &*graph, &**blocked);
        let (extra, runner) = match par {
            Some(p) => (&mut *p.scratch, Some(&mut *p.runner)),
            None => (&mut [][..], None),
        };
        let hc = &**has_child;
        let work = |k: usize| match job {
            // The trees `v` may have a child in.
            Job::Block => hc.get(k * len + v).map_or(0, |b| b.count_ones()),
            // Every tree.
            Job::Unblock | Job::Rebuild => (64 * k + 64).min(len).saturating_sub(64 * k) as u32,
        };
        let threads = (1 + extra.len()).min(MAX_SCRATCH);
        let wanted = if runner.is_some() && threads > 1 { MAX_SHARES } else { 1 };
        let (bounds, used) = split_groups(w, wanted, work);
        let works: [u32; MAX_SHARES] = core::array::from_fn(|i| (bounds[i]..bounds[i + 1]).map(work).sum());
        let (mut tbl, mut hcs) = (&mut **table, &mut **has_child);
        let mut own_scratch = RepairScratch { heap: heap.reborrow(), list, cap: len };
        let mut shares: [RepairShare<'_, D>; MAX_SHARES] = core::array::from_fn(|i| {
            let (g0, g1) = (bounds[i], bounds[i + 1]);
            let trees = (64 * g1).min(len) - (64 * g0).min(len);
            let table = take(&mut tbl, trees * len);
            let has_child = take(&mut hcs, (g1 - g0) * len);
            let work = works[i];
            RepairShare {
                graph,
                blocked,
                len,
                v,
                job,
                first: 64 * g0,
                table,
                has_child,
                work,
                done: i >= used,
            }
        });
        if let (Some(r), true) = (runner, used > 1) {
            let mut extra = extra.iter_mut();
            let mut own = Some(&mut own_scratch);
            let mut all: [RepairScratch<'_>; MAX_SCRATCH] = core::array::from_fn(|_| match own.take() {
                Some(s) => s.reborrow(),
                None => match extra.next() {
                    Some(s) => s.reborrow(),
                    None => RepairScratch { heap: Heap::new(&mut [], &mut []), list: &mut [], cap: 0 },
                },
            });
            r.run(&mut shares[..used], &mut all[..threads]);
        }
        // Whatever a runner left undone (all of it, without one) runs here, in order.
        for s in shares.iter_mut().take(used) {
            s.run(&mut own_scratch);
        }
    }

    /// Routes after `v` was released (its bit is already clear). Per unblocked tree: `v`'s entry from its
    /// neighbours' entries, then, if that shortens a neighbour's path, a Dijkstra that only lowers
    /// distances. Then `v`'s own tree.
    pub(crate) fn unblock_routes(&mut self, v: usize) {
        self.run_shares(v, Job::Unblock);
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
            let word = self.has_child[w * len + a] | self.has_child[w * len + b];
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
