//! Parallel network repairs: a small pool of helper threads that runs the shares of a repair
//! ([`RepairRunner`]) beside the calling thread.
//!
//! After a node is blocked or released, `tcap_core::network` updates every shortest-path tree it
//! touches. The trees are independent, so the work is cut into up to 16 shares of whole 64-tree
//! groups ([`RepairShare`]) that touch disjoint memory, and [`Network::set_parallel`] hands them to a
//! runner. This pool gives each thread (the caller and the helpers) a *home* range of shares of about
//! equal estimated work; a thread runs its own range first, then takes what is left of the others'
//! (one share at a time, from an atomic counter per range). Home ranges keep a tree's table lines in
//! the same core's cache from one repair to the next; taking leftovers evens out what the estimate
//! missed. The routes are bit for bit what one thread computes.
//!
//! Waking a parked thread costs tens of microseconds on a virtual machine (measured here: 67 µs median
//! on this 2-vCPU VM), a third of the repair itself. So a helper spins (`std::hint::spin_loop`) for
//! [`RepairPool::new`]'s `spin` after each repair before it parks, and a repair that follows another
//! within that time starts at once (≈ 1.3 µs round trip). Spinning occupies the helper's core; a
//! deployment that cannot spare it passes `spin = 0` (helpers park at once) or uses no pool.
//!
//! [`Network::set_parallel`]: tcap_core::network::Network::set_parallel

use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tcap_core::network::{MAX_SCRATCH, RepairRunner, RepairScratch, RepairShare};

/// What a helper and the pool share.
struct Slot {
    /// The task to run, a `*mut Task<'_, '_, '_, D>` with its type erased; null when there is none.
    job: AtomicPtr<()>,
    /// Tasks posted to this helper (written by the pool's thread only).
    posted: AtomicU64,
    /// Tasks this helper has finished.
    finished: AtomicU64,
    /// Set when the pool is dropped.
    stop: AtomicBool,
}

struct Helper {
    slot: Arc<Slot>,
    thread: Option<JoinHandle<()>>,
}

/// Helper threads that run repair shares: see the module documentation. `D` is the network's degree
/// bound. Dropping the pool stops and joins its threads.
pub struct RepairPool<const D: usize> {
    helpers: Vec<Helper>,
}

/// The shares of one repair, shared by every thread of the pool while [`RepairPool::run`] runs.
struct Work<'a, 'b, const D: usize> {
    /// The first share of the slice `run` was given (`len` of them).
    shares: *mut RepairShare<'a, D>,
    len: usize,
    /// Thread `k`'s home range is `bounds[k] .. bounds[k + 1]`; `next[k]` its next unclaimed share.
    bounds: [usize; MAX_SCRATCH + 1],
    next: [AtomicUsize; MAX_SCRATCH],
    threads: usize,
    _borrow: PhantomData<&'b mut [RepairShare<'a, D>]>,
}

impl<const D: usize> Work<'_, '_, D> {
    /// Runs shares with `scratch` until none is left: thread `k`'s home range first, then the others'.
    ///
    /// # Safety
    /// The slice behind `shares` must stay borrowed (and untouched by anyone else) until every thread
    /// that calls `drain` has returned; each concurrent caller passes its own `scratch`.
    unsafe fn drain(&self, k: usize, scratch: &mut RepairScratch<'_>) {
        for j in 0..self.threads {
            let r = (k + j) % self.threads;
            loop {
                let i = self.next[r].fetch_add(1, Ordering::Relaxed);
                if i >= self.bounds[r + 1] || i >= self.len {
                    break;
                }
                // SAFETY: `i < len`, so `shares.add(i)` is an element of the borrowed slice, alive by
                // the caller's contract. Each range's counter only grows and the ranges are disjoint,
                // so every index is handed out by exactly one `fetch_add` across all threads: this is
                // the only reference to share `i`. (`Relaxed` suffices: the shares were published to
                // the helpers by the `Release`/`Acquire` post, and their results go back through the
                // helpers' `finished` counters.)
                let share = unsafe { &mut *self.shares.add(i) };
                share.run(scratch);
            }
        }
    }
}

/// What one helper runs: its thread index in `work` and its own scratch.
struct Task<'w, 'a, 'b, 's, const D: usize> {
    work: &'w Work<'a, 'b, D>,
    k: usize,
    scratch: &'w mut RepairScratch<'s>,
}

impl<const D: usize> RepairPool<D> {
    /// A pool of `helpers` threads (0 is allowed: every share then runs on the calling thread), each
    /// spinning for `spin` after its last task before it parks. Fails only if a thread cannot be
    /// spawned.
    pub fn new(helpers: usize, spin: Duration) -> std::io::Result<Self> {
        let mut pool = RepairPool { helpers: Vec::with_capacity(helpers) };
        for i in 0..helpers {
            let slot = Arc::new(Slot {
                job: AtomicPtr::new(std::ptr::null_mut()),
                posted: AtomicU64::new(0),
                finished: AtomicU64::new(0),
                stop: AtomicBool::new(false),
            });
            let s = Arc::clone(&slot);
            let thread = thread::Builder::new()
                .name(format!("tcap-repair-{i}"))
                .spawn(move || helper::<D>(&s, spin))?;
            pool.helpers.push(Helper { slot, thread: Some(thread) });
        }
        Ok(pool)
    }

    /// A pool without helper threads (every share runs on the calling thread).
    pub const fn none() -> Self {
        RepairPool { helpers: Vec::new() }
    }

    /// Number of helper threads.
    pub fn helpers(&self) -> usize {
        self.helpers.len()
    }
}

/// A helper's loop: take a task, drain the shares, report it finished; spin for `spin`, then park.
fn helper<const D: usize>(slot: &Slot, spin: Duration) {
    loop {
        let idle = Instant::now();
        let job = loop {
            let p = slot.job.swap(std::ptr::null_mut(), Ordering::Acquire);
            if !p.is_null() {
                break p;
            }
            if slot.stop.load(Ordering::Acquire) {
                return;
            }
            if idle.elapsed() < spin {
                // A yield now and then: if the scheduler put this thread on the caller's CPU, the
                // caller gets it back at once (a cheap system call when nothing else is runnable).
                for _ in 0..64 {
                    std::hint::spin_loop();
                }
                thread::yield_now();
            } else {
                // A post unparks the thread; the timeout only bounds the cost of a lost wake-up.
                thread::park_timeout(Duration::from_millis(50));
            }
        };
        // SAFETY: `job` was made by `RepairPool::run` from a `&mut Task<'_, '_, '_, '_, D>` (this `D`:
        // the pool and its helpers share the type parameter) living on that call's stack. It was
        // posted to this helper only, and `run` does not touch the task, return or unwind (its `Wait`
        // guard) until this helper's `finished` counter shows the task done — the `Release` increment
        // below, after which this thread never uses the pointer. So this `&mut` is the only access to
        // the task while it lives, and it ends inside the task's lifetime.
        let task = unsafe { &mut *job.cast::<Task<'_, '_, '_, '_, D>>() };
        // SAFETY: `drain`'s contract: `run` keeps the shares borrowed until this task is finished (as
        // above), and the task's scratch is this helper's alone (`run` hands each out once).
        let ran = catch_unwind(AssertUnwindSafe(|| unsafe { task.work.drain(task.k, task.scratch) }));
        if ran.is_err() {
            // A repair cannot panic by design; if one did, the caller would wait forever or resume
            // with a half-repaired table. Neither is acceptable: stop the process.
            eprintln!("tcap: a network repair share panicked; aborting");
            std::process::abort();
        }
        slot.finished.fetch_add(1, Ordering::Release);
    }
}

/// Waits, even during unwinding, until every helper has finished every task posted to it.
struct Wait<'a>(&'a [Helper]);

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        for h in self.0 {
            let want = h.slot.posted.load(Ordering::Relaxed);
            let mut spins = 0u32;
            while h.slot.finished.load(Ordering::Acquire) < want {
                std::hint::spin_loop();
                spins += 1;
                if spins.is_multiple_of(64) {
                    // The helper may share this CPU (the scheduler's choice): let it run.
                    thread::yield_now();
                }
            }
        }
    }
}

/// Cuts `works` (estimated work per share) into `threads` consecutive ranges of about equal sums.
fn home_ranges(
    works: impl Iterator<Item = u64> + Clone,
    n: usize,
    threads: usize,
) -> [usize; MAX_SCRATCH + 1] {
    let mut bounds = [n; MAX_SCRATCH + 1];
    bounds[0] = 0;
    let total: u64 = works.clone().sum();
    let (mut acc, mut k) = (0u64, 1);
    for (i, w) in works.enumerate() {
        if k >= threads {
            break;
        }
        acc += w;
        if acc * threads as u64 >= total * k as u64 && i + 1 < n {
            bounds[k] = i + 1;
            k += 1;
        }
    }
    bounds
}

const fn assert_send<T: Send>() {}

impl<const D: usize> RepairRunner<D> for RepairPool<D> {
    fn run(&mut self, shares: &mut [RepairShare<'_, D>], scratch: &mut [RepairScratch<'_>]) {
        // Shares and scratches cross to the helpers.
        const { assert_send::<RepairShare<'static, D>>() };
        const { assert_send::<RepairScratch<'static>>() };
        let Some((own, rest)) = scratch.split_first_mut() else { return };
        let threads = (1 + rest.len().min(self.helpers.len())).min(MAX_SCRATCH);
        // Plus one per share so that shares of no estimated work are spread too.
        let bounds = home_ranges(shares.iter().map(|s| u64::from(s.work()) + 1), shares.len(), threads);
        let work = Work {
            shares: shares.as_mut_ptr(),
            len: shares.len(),
            bounds,
            next: std::array::from_fn(|k| AtomicUsize::new(bounds[k])),
            threads,
            _borrow: PhantomData,
        };
        let mut tasks: [Option<Task<'_, '_, '_, '_, D>>; MAX_SCRATCH] = Default::default();
        for (k, (t, sc)) in tasks.iter_mut().zip(rest.iter_mut()).take(threads - 1).enumerate() {
            *t = Some(Task { work: &work, k: k + 1, scratch: sc });
        }
        let helpers = &self.helpers[..threads - 1];
        let wait = Wait(helpers);
        for (h, t) in helpers.iter().zip(tasks.iter_mut().flatten()) {
            h.slot.posted.fetch_add(1, Ordering::Relaxed);
            let p: *mut Task<'_, '_, '_, '_, D> = t;
            h.slot.job.store(p.cast(), Ordering::Release);
            if let Some(th) = &h.thread {
                th.thread().unpark();
            }
        }
        // SAFETY: `shares` stays borrowed by this call, and nobody else touches it, until `wait` has
        // seen every helper finish; scratch 0 is this thread's, the helpers have 1.. (one each).
        unsafe { work.drain(0, own) };
        drop(wait);
    }
}

impl<const D: usize> Drop for RepairPool<D> {
    fn drop(&mut self) {
        for h in &self.helpers {
            h.slot.stop.store(true, Ordering::Release);
            if let Some(t) = &h.thread {
                t.thread().unpark();
            }
        }
        for h in &mut self.helpers {
            if let Some(t) = h.thread.take() {
                // A helper that panicked has already aborted the process; nothing to report here.
                let _ = t.join();
            }
        }
    }
}

impl<const D: usize> std::fmt::Debug for RepairPool<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepairPool").field("helpers", &self.helpers.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tcap_core::network::{
        Network, NetworkBuffers, NetworkConfig, NodeId, NodeState, RepairScratchBuffers,
    };

    const D: usize = 8;

    /// A ring of `n` nodes plus `2·n` chords (`n / 4` under Miri) from a fixed linear-congruential
    /// sequence.
    fn graph(n: u32) -> Vec<(u32, u32, u16)> {
        let mut x = 12345u64;
        let mut next = |m: u64| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 33) % m
        };
        let mut e: Vec<_> = (0..n).map(|i| (i, (i + 1) % n, 1 + (i % 9) as u16)).collect();
        for _ in 0..if cfg!(miri) { n / 4 } else { 2 * n } {
            e.push((next(n as u64) as u32, next(n as u64) as u32, 1 + next(16) as u16));
        }
        e
    }

    fn table(
        net: &Network<'_, D>,
    ) -> Vec<(Result<NodeId, tcap_core::network::RouteError>, Result<u32, tcap_core::network::RouteError>)>
    {
        let n = net.len() as NodeId;
        (0..n)
            .flat_map(|s| (0..n).map(move |t| (s, t)))
            .map(|(s, t)| (net.route(s, t), net.route_cost(s, t)))
            .collect()
    }

    /// Blocks, releases and edge changes on a 300-node network (5 tree groups; 70 nodes and 2 groups
    /// under Miri) give the same routes with the pool as on one thread, for 0, 1 and 3 helpers,
    /// spinning or parking.
    #[test]
    fn pool_repairs_equal_sequential_repairs() {
        // Under Miri (which checks the pool's `unsafe`): 130 nodes (3 groups) and fewer steps.
        let (n, steps) = if cfg!(miri) { (70u32, 4u32) } else { (300, 40) };
        for (helpers, spin) in [(0, Duration::ZERO), (1, Duration::from_millis(2)), (3, Duration::ZERO)] {
            let mut pool = RepairPool::<D>::new(helpers, spin).unwrap();
            assert_eq!(pool.helpers(), helpers);
            let mut bufs: Vec<RepairScratchBuffers> =
                (0..helpers.max(1)).map(|_| RepairScratchBuffers::new(n as usize)).collect();
            let mut scratch: Vec<_> = bufs.iter_mut().map(|b| b.scratch()).collect();
            let (mut ta, mut tb) =
                (NetworkBuffers::<D>::new(n as usize), NetworkBuffers::<D>::new(n as usize));
            let mut seq = Network::<D>::new(NetworkConfig::DEFAULT, n as usize, ta.storage()).unwrap();
            let mut par = Network::<D>::new(NetworkConfig::DEFAULT, n as usize, tb.storage()).unwrap();
            par.set_parallel(&mut scratch, &mut pool).unwrap();
            for net in [&mut seq, &mut par] {
                for (a, b, w) in graph(n) {
                    let _ = net.add_edge(a, b, w);
                }
            }
            assert_eq!(table(&seq), table(&par));
            for k in 0..steps {
                let v = (k * 37 + 11) % n;
                for net in [&mut seq, &mut par] {
                    net.set_state(u64::from(k), v, NodeState::Quarantined).unwrap();
                    if k % 3 == 0 {
                        // An edge made costlier (distrusted) while `v` is out.
                        let e = net.edges((v + 1) % n).unwrap().next().unwrap();
                        net.observe_edge((v + 1) % n, e.to, 0).unwrap();
                    }
                    if k % 2 == 0 {
                        net.set_state(u64::from(k), v, NodeState::Healthy).unwrap();
                    }
                }
                assert_eq!(table(&seq), table(&par), "helpers {helpers}, step {k}");
            }
            // Blocked routes are refused, the rest are real paths.
            let blocked = (0..n).find(|&i| par.is_blocked(i)).unwrap();
            assert!(par.route((blocked + 1) % n, blocked).is_err());
        }
    }

    #[test]
    fn an_idle_pool_parks_and_still_serves() {
        let n = if cfg!(miri) { 70u32 } else { 130 };
        let mut pool = RepairPool::<D>::new(1, Duration::ZERO).unwrap();
        let mut sb = RepairScratchBuffers::new(n as usize);
        let mut scratch = [sb.scratch()];
        let mut tb = NetworkBuffers::<D>::new(n as usize);
        let mut net = Network::<D>::new(NetworkConfig::DEFAULT, n as usize, tb.storage()).unwrap();
        net.set_parallel(&mut scratch, &mut pool).unwrap();
        net.add_edges((0..n).map(|i| (i, (i + 1) % n, 1))).unwrap();
        // The helper has parked (spin 0) by the time each repair is posted.
        for v in [3, n / 2, n - 1] {
            std::thread::sleep(Duration::from_millis(if cfg!(miri) { 1 } else { 5 }));
            net.set_state(0, v, NodeState::Quarantined).unwrap();
            // Around the ring the other way.
            assert_eq!(net.route_cost((v + 1) % n, (v + n - 1) % n), Ok(n - 2));
            net.set_state(0, v, NodeState::Healthy).unwrap();
            assert_eq!(net.route_cost((v + 1) % n, (v + n - 1) % n), Ok(2));
        }
    }

    #[test]
    fn home_ranges_balance_work() {
        let b = home_ranges([1u64, 1, 1, 1, 10, 1].into_iter(), 6, 2);
        assert_eq!(&b[..3], &[0, 5, 6]);
        let b = home_ranges([1u64; 16].into_iter(), 16, 2);
        assert_eq!(&b[..3], &[0, 8, 16]);
        let b = home_ranges([5u64; 3].into_iter(), 3, 1);
        assert_eq!(&b[..2], &[0, 3]);
    }
}
