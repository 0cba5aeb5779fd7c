//! Parallel route repairs for C callers: the caller's threads run tcap's shares of a repair.
//!
//! After a node is quarantined or released, a network repairs its route table one shortest-path tree
//! after another; the trees are independent, so a repair can be cut into *tasks* (whole 64-tree
//! groups, at most [`MAX_SHARES`]) that run on several threads, each with its own *worker* scratch
//! (docs/NETWORK.md, "Parallel repairs"). Rust callers install a `RepairRunner`; C callers install a
//! function, [`tcap_repair_run_fn`], and the memory for the extra workers' scratch:
//!
//! 1. `tcap_network_parallel_size(n_nodes, n_threads, &size)`: bytes (at [`TCAP_REPAIR_ALIGN`]) for
//!    `n_threads` helper threads (1..=[`TCAP_REPAIR_MAX_THREADS`]).
//! 2. `tcap_network_set_parallel(net, mem, size, n_threads, run, ctx)`: from then on, every repair
//!    that is cut into two or more tasks calls `run(ctx, job, n_tasks, n_workers)` on the thread that
//!    changed the network. (A network of 64 nodes or fewer has one group, and a repair whose work all
//!    lies in one group is one task: those run on the calling thread without `run`.)
//! 3. `run` has `tcap_repair_job_run(job, task, worker)` called once for every task `0..n_tasks`, from
//!    any threads, each thread with its own worker index `0..n_workers` (worker 0 is the calling
//!    thread's scratch; `n_workers = n_threads + 1`), and returns only after every one of those calls
//!    has *returned* (e.g. after joining its threads). Tasks left unrun are run by the network on the
//!    calling thread after `run` returns, so a runner that gives up makes a repair slower, never
//!    wrong: the table is bit for bit the sequential one.
//!
//! Misuse is refused, not undefined: a task claimed twice ([`tcap_result::RepairTaskTaken`]), a worker
//! index in use by another thread ([`tcap_result::RepairWorkerBusy`]), an index out of range
//! ([`tcap_result::RepairIndex`]), a job pointer that is not a live job ([`tcap_result::BadHandle`],
//! as for handles: a check against mistakes, not attacks). What the library cannot make safe is a call
//! that has not returned when `run` returns (the job lives on the repairing thread's stack for the
//! duration of `run` only): that breaks the contract. As a last line, the repairing thread waits for
//! the calls it can see under way before it goes on, and clears the job's tag, but a call that has not
//! yet registered is beyond its reach. A panic inside a task aborts the process: the table would be
//! half repaired.

use core::ffi::c_void;
use core::mem::align_of;
use core::sync::atomic::{AtomicU8, AtomicU32, Ordering};

use tcap_core::network::{MAX_SCRATCH, MAX_SHARES, RepairRunner, RepairScratch, RepairShare};

use crate::boundary::{self, Out};
use crate::mem::{CallerMem, Layout};
use crate::network::{D, layout as network_layout, net_mut, tcap_network};
use crate::tcap_result;

/// Most helper threads a network's repairs can use (`n_threads` of `tcap_network_set_parallel`).
pub const TCAP_REPAIR_MAX_THREADS: u32 = 7;
/// Most tasks one repair is cut into (`n_tasks` of a [`tcap_repair_run_fn`] call).
pub const TCAP_REPAIR_MAX_TASKS: u32 = 16;
/// Alignment of the memory given to `tcap_network_set_parallel`.
pub const TCAP_REPAIR_ALIGN: usize = 128;

// Shares and scratches are handed to the runner's threads through raw pointers, which bypass the
// auto-trait checks: these keep them honest (both hold only `Send` borrows of disjoint memory).
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<RepairShare<'static, D>>();
    assert_send::<RepairScratch<'static>>();
};

// The header's numbers are the core's (literals above, so that cbindgen writes numbers).
const _: () = assert!(align_of::<RepairScratch<'static>>() == TCAP_REPAIR_ALIGN);
const _: () = assert!(TCAP_REPAIR_MAX_THREADS as usize == MAX_SCRATCH - 1);
const _: () = assert!(TCAP_REPAIR_MAX_TASKS as usize == MAX_SHARES);

/// One repair's tasks, handed to a [`tcap_repair_run_fn`]. Opaque, and valid only during that call.
pub struct tcap_repair_job {
    _opaque: [u8; 0],
}

/// A caller's runner: has `tcap_repair_job_run(job, task, worker)` called for every task
/// `0..n_tasks`, on any of its threads, each thread with its own `worker` in `0..n_workers`, and
/// returns once every such call has returned. `ctx` is the pointer given to `tcap_network_set_parallel`.
/// It must not call any other function on the network.
pub type tcap_repair_run_fn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, job: *mut tcap_repair_job, n_tasks: u32, n_workers: u32)>;

/// Marks a live [`Job`]; anything else at a job pointer is refused.
const JOB_MAGIC: u64 = u64::from_le_bytes(*b"tcapJOB1");

/// What a `tcap_repair_job *` points to: the repair's shares and scratches, and who holds which.
#[repr(C)]
struct Job<'s, 'x> {
    magic: u64,
    shares: *mut RepairShare<'s, D>,
    n_tasks: usize,
    scratch: *mut RepairScratch<'x>,
    n_workers: usize,
    /// Per task: 1 once a call claimed it.
    claimed: [AtomicU8; MAX_SHARES],
    /// Per worker: 1 while a call uses its scratch.
    busy: [AtomicU8; MAX_SCRATCH],
    /// Calls of `tcap_repair_job_run` under way.
    inflight: AtomicU32,
}

/// The installed runner, in the caller's memory: the function and its context.
struct CRunner {
    run: unsafe extern "C" fn(*mut c_void, *mut tcap_repair_job, u32, u32),
    ctx: *mut c_void,
}

// SAFETY: `RepairRunner` requires `Send` so that a network (which holds its runner) may move to
// another thread. `CRunner` holds a C function pointer, which is thread-agnostic, and `ctx`, which
// tcap never dereferences: it only passes it back to `run`, on whichever thread drives the network.
// Whether `run` may be called from another thread than the one that installed it is the C caller's
// side of the contract (`tcap_network_set_parallel` documents it).
unsafe impl Send for CRunner {}

impl RepairRunner<D> for CRunner {
    fn run(&mut self, shares: &mut [RepairShare<'_, D>], scratch: &mut [RepairScratch<'_>]) {
        let (n_tasks, n_workers) = (shares.len().min(MAX_SHARES), scratch.len().min(MAX_SCRATCH));
        let mut job = Job {
            magic: JOB_MAGIC,
            shares: shares.as_mut_ptr(),
            n_tasks,
            scratch: scratch.as_mut_ptr(),
            n_workers,
            claimed: [const { AtomicU8::new(0) }; MAX_SHARES],
            busy: [const { AtomicU8::new(0) }; MAX_SCRATCH],
            inflight: AtomicU32::new(0),
        };
        let p = (&job as *const Job<'_, '_>).cast_mut().cast::<tcap_repair_job>();
        // SAFETY: `self.run` is the function the caller installed with `tcap_network_set_parallel`,
        // whose contract makes it a valid function of this signature. `p` points to `job`, alive
        // until this function returns; the runner's calls of `tcap_repair_job_run` reach `shares`
        // and `scratch` only through it, and this function touches neither until they are done.
        unsafe { (self.run)(self.ctx, p, n_tasks as u32, n_workers as u32) };
        // A runner that returned while one of its threads is still running a task: wait for it,
        // so that no share or scratch is used after this borrow of them ends. (Acquire pairs with
        // the Release decrement: that task's writes are visible from here on.)
        while job.inflight.load(Ordering::Acquire) != 0 {
            core::hint::spin_loop();
        }
        // A stale pointer to this frame must not pass for a live job once it is gone.
        // SAFETY: `job` is this function's local, alive and not borrowed here; a volatile write so
        // that the clearing of a value read by no one afterwards in this function is not optimised out.
        unsafe { core::ptr::write_volatile(&raw mut job.magic, 0) };
    }
}

/// Aborts the process if dropped: armed around a task, disarmed (forgotten) once it returns. A task
/// that panicked has left its share half done, with the tree's child-index bits already taken, so no
/// rerun could repair it; a panic while unwinding aborts (no_std builds abort at the panic already).
struct AbortOnUnwind;

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        panic!("tcap: a route repair task panicked; the route table would be inconsistent");
    }
}

/// Decrements a job's `inflight` when dropped, on every path out of [`tcap_repair_job_run`].
struct Leave<'a>(&'a AtomicU32);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

/// The parts of the memory `tcap_network_set_parallel` takes, in order.
fn layout(n_nodes: usize, n_threads: usize) -> Result<Layout, tcap_result> {
    let mut l = Layout::new();
    l.push::<CRunner>(1)?;
    l.push::<RepairScratch<'static>>(n_threads)?;
    l.push::<u64>(RepairScratch::words(n_nodes).checked_mul(n_threads).ok_or(tcap_result::InvalidLength)?)?;
    l.push::<u16>(RepairScratch::halves(n_nodes).checked_mul(n_threads).ok_or(tcap_result::InvalidLength)?)?;
    Ok(l)
}

fn threads(n_threads: u32) -> Result<usize, tcap_result> {
    if (1..=TCAP_REPAIR_MAX_THREADS).contains(&n_threads) {
        Ok(n_threads as usize)
    } else {
        Err(tcap_result::InvalidLength)
    }
}

/// Bytes of memory (at `TCAP_REPAIR_ALIGN`) that `tcap_network_set_parallel` needs for a network of
/// `n_nodes` nodes and `n_threads` helper threads: `128 + n_threads · (128 + 12·n_nodes)` (a heap of
/// `n_nodes` 8-byte entries, its `n_nodes` positions and a list of `n_nodes` ids per thread): 12,544
/// bytes at 1,024 nodes and one thread.
///
/// Errors: `TCAP_RESULT_NULL_ARGUMENT`, `TCAP_RESULT_MISALIGNED` (`out_size`), `TCAP_RESULT_INVALID_LENGTH`
/// (`n_nodes` 0, `n_threads` not in 1..=`TCAP_REPAIR_MAX_THREADS`), `TCAP_RESULT_NETWORK_CAPACITY`.
///
/// # Safety
/// `out_size` is NULL or writable for one `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_network_parallel_size(
    n_nodes: u32,
    n_threads: u32,
    out_size: *mut usize,
) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or writable per this function's contract.
        let out = unsafe { Out::new(out_size) }?;
        network_layout(n_nodes)?;
        out.write(layout(n_nodes as usize, threads(n_threads)?)?.size());
        Ok(())
    })
}

/// Lets the network's repairs run on `n_threads` helper threads besides the calling one: from now on
/// every repair (after a quarantine, an isolation or a release) that is cut into two or more tasks
/// calls `run(ctx, job, n_tasks, n_workers)` as described in docs/C-API.md, "Parallel repairs". `mem`
/// holds the helpers' scratch (`tcap_network_parallel_size(n_nodes, n_threads)` bytes at
/// `TCAP_REPAIR_ALIGN`). Replaces a runner installed before (whose memory the network then no longer
/// uses): to change `run` or `ctx`, pass other memory, or clear first — `mem` of the installed runner
/// is the network's until then. Networks of 64 nodes or fewer always repair on the calling thread.
///
/// Errors: `TCAP_RESULT_NULL_ARGUMENT` (`net`, `mem`, `run`), `TCAP_RESULT_MISALIGNED`,
/// `TCAP_RESULT_BAD_HANDLE` (`net`), `TCAP_RESULT_INVALID_LENGTH` (`n_threads`),
/// `TCAP_RESULT_BUFFER_TOO_SMALL` (`len`). On error nothing changes.
///
/// # Safety
/// `net` is NULL or a live network handle used by one thread at a time. `mem` is NULL or valid for
/// reads and writes of `len` bytes, owned by the network until `tcap_network_clear_parallel`, another
/// `tcap_network_set_parallel`, or the end of the network's memory. `run`, if not NULL, is a function
/// that keeps the contract of [`tcap_repair_run_fn`] and may be called on any thread that uses the
/// network; `ctx` is passed to it unchanged.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_network_set_parallel(
    net: *mut tcap_network,
    mem: *mut c_void,
    len: usize,
    n_threads: u32,
    run: tcap_repair_run_fn,
    ctx: *mut c_void,
) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or a live, exclusively used handle per this function's contract.
        let net = unsafe { net_mut(net) }?;
        let run = run.ok_or(tcap_result::NullArgument)?;
        let (n, k) = (net.len(), threads(n_threads)?);
        let l = layout(n, k)?;
        // SAFETY: NULL or `len` bytes owned by the network until it stops using them, per the
        // contract (the 'static here: the network holds them until then).
        let mut arena = unsafe { CallerMem::new(mem, len, &l) }?.arena();
        let runner = arena.take::<CRunner>(1)?;
        let slots = arena.take::<RepairScratch<'static>>(k)?;
        let mut words = crate::network::fill(arena.take::<u64>(RepairScratch::words(n) * k)?, 0);
        let mut halves = crate::network::fill(arena.take::<u16>(RepairScratch::halves(n) * k)?, 0);
        for s in slots.iter_mut() {
            let (w, rest) = core::mem::take(&mut words).split_at_mut(RepairScratch::words(n));
            let (h, hrest) = core::mem::take(&mut halves).split_at_mut(RepairScratch::halves(n));
            (words, halves) = (rest, hrest);
            s.write(RepairScratch::new(n, w, h).map_err(|_| tcap_result::Internal)?);
        }
        // SAFETY: every element of `slots` was written just above (the loop visits each once, and an
        // error returns before the view is made); `MaybeUninit<T>` has the layout of `T`.
        let scratch = unsafe {
            core::slice::from_raw_parts_mut(slots.as_mut_ptr().cast::<RepairScratch<'static>>(), k)
        };
        let runner = runner[0].write(CRunner { run, ctx });
        net.set_parallel(scratch, runner).map_err(|_| tcap_result::Internal)?;
        Ok(())
    })
}

/// Back to repairs on the calling thread only; the memory given to `tcap_network_set_parallel` is no
/// longer used when this returns. A no-op without a runner.
///
/// Errors: `TCAP_RESULT_NULL_ARGUMENT`, `TCAP_RESULT_MISALIGNED`, `TCAP_RESULT_BAD_HANDLE`.
///
/// # Safety
/// `net` is NULL or a live network handle used by one thread at a time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_network_clear_parallel(net: *mut tcap_network) -> tcap_result {
    boundary::guard(|| {
        // SAFETY: NULL or a live, exclusively used handle per this function's contract.
        unsafe { net_mut(net) }?.clear_parallel();
        Ok(())
    })
}

/// Runs task `task` of a repair with worker `worker`'s scratch; for a [`tcap_repair_run_fn`], which
/// calls it once per task, on any of its threads (see docs/C-API.md, "Parallel repairs").
///
/// Errors: `TCAP_RESULT_NULL_ARGUMENT`, `TCAP_RESULT_MISALIGNED`, `TCAP_RESULT_BAD_HANDLE` (`job` is not
/// a live job), `TCAP_RESULT_REPAIR_INDEX` (`task ≥ n_tasks` or `worker ≥ n_workers`),
/// `TCAP_RESULT_REPAIR_TASK_TAKEN` (the task was already claimed: it ran, or runs on another thread),
/// `TCAP_RESULT_REPAIR_WORKER_BUSY` (another thread is using that worker; the task stays unclaimed).
///
/// # Safety
/// `job` is NULL or the pointer given to the runner, and this call returns before the runner does.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tcap_repair_job_run(
    job: *mut tcap_repair_job,
    task: u32,
    worker: u32,
) -> tcap_result {
    boundary::guard(|| {
        if job.is_null() {
            return Err(tcap_result::NullArgument);
        }
        if !(job as usize).is_multiple_of(align_of::<Job<'static, 'static>>()) {
            return Err(tcap_result::Misaligned);
        }
        let job = job.cast::<Job<'static, 'static>>().cast_const();
        // SAFETY: non-NULL and aligned (checked); per the contract it points to the job this repair
        // handed to its runner, alive until the runner returns, which the caller must not let happen
        // before this call returns. The tag is read by value first (`Job` is `repr(C)` with `magic`
        // first), as handles are, before any reference to the job is formed.
        if unsafe { core::ptr::read(job.cast::<u64>()) } != JOB_MAGIC {
            return Err(tcap_result::BadHandle);
        }
        // SAFETY: as above; only shared access from here on: every field used concurrently is atomic
        // and the rest is written before the runner is called.
        let job = unsafe { &*job };
        let (t, w) = (task as usize, worker as usize);
        let (Some(claimed), Some(busy)) =
            (job.claimed.get(t).filter(|_| t < job.n_tasks), job.busy.get(w).filter(|_| w < job.n_workers))
        else {
            return Err(tcap_result::RepairIndex);
        };
        job.inflight.fetch_add(1, Ordering::AcqRel);
        let _leave = Leave(&job.inflight);
        // The worker first, then the task: a claim, once made, is never given back, so a task reported
        // taken did run or is running.
        if busy.compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed).is_err() {
            return Err(tcap_result::RepairWorkerBusy);
        }
        if claimed.compare_exchange(0, 1, Ordering::AcqRel, Ordering::Relaxed).is_err() {
            busy.store(0, Ordering::Release);
            return Err(tcap_result::RepairTaskTaken);
        }
        let bomb = AbortOnUnwind;
        // SAFETY: `t < n_tasks` and `w < n_workers` index the slices the runner got (checked above).
        // The share is claimed by this call alone (the compare-exchange on `claimed[t]` succeeds once
        // per job and is never undone), and the scratch is held by this call alone until `busy[w]` is
        // released below, so both exclusive borrows are unique. The repairing thread does not touch
        // either while the runner runs (and waits for `inflight` before it does). The lifetimes were
        // erased to `'static` in the `Job`; `RepairShare::run` takes the scratch at any lifetime and
        // keeps no borrow of it or of the share beyond the call, so none outlives the real ones.
        unsafe { (*job.shares.add(t)).run(&mut *job.scratch.add(w)) };
        core::mem::forget(bomb);
        busy.store(0, Ordering::Release);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{
        tcap_network_add_edge, tcap_network_init, tcap_network_route, tcap_network_set_state,
        tcap_network_size,
    };
    use std::sync::atomic::AtomicUsize;
    use tcap_core::network::NodeState;

    use crate::mem::TestMem as Mem;

    /// More than 64 nodes, so that a repair is cut in several tasks (fewer under Miri, which is slow).
    const NODES: u32 = if cfg!(miri) { 130 } else { 200 };

    /// A network of `NODES` nodes on a ring plus chords (4 tree groups, so repairs are cut in tasks).
    fn network(mem: &Mem) -> *mut tcap_network {
        let mut h = core::ptr::null_mut();
        // SAFETY: `mem` holds `tcap_network_size(NODES)` bytes and outlives the handle.
        unsafe {
            let mut size = 0;
            assert_eq!(tcap_network_size(NODES, &mut size), tcap_result::Ok);
            assert_eq!(tcap_network_init(mem.ptr(), size, NODES, &mut h), tcap_result::Ok);
            for i in 0..NODES {
                assert_eq!(tcap_network_add_edge(h, i, (i + 1) % NODES, 1 + i % 7), tcap_result::Ok);
                let j = (i * 37 + 11) % NODES;
                let r = tcap_network_add_edge(h, i, j, 1 + (i * 5) % 13);
                assert!(
                    matches!(r, tcap_result::Ok | tcap_result::EdgeExists | tcap_result::EdgeInvalid),
                    "{r:?}"
                );
            }
        }
        h
    }

    fn network_mem() -> Mem {
        let mut size = 0;
        // SAFETY: live local.
        assert_eq!(unsafe { tcap_network_size(NODES, &mut size) }, tcap_result::Ok);
        Mem::new(size)
    }

    /// Every route of the network (under Miri, every 13th source: it checks the threads, not the
    /// routing, which the native run covers), as the result and the hop.
    fn routes(h: *mut tcap_network) -> Vec<(tcap_result, u32)> {
        let mut v = Vec::with_capacity((NODES * NODES) as usize);
        for s in (0..NODES).step_by(if cfg!(miri) { 13 } else { 1 }) {
            for t in 0..NODES {
                let mut hop = u32::MAX;
                // SAFETY: live handle, not mutated meanwhile.
                let r = unsafe { tcap_network_route(h, s, t, &mut hop) };
                v.push((r, hop));
            }
        }
        v
    }

    /// Quarantines, isolations and releases, applied to every network of a test in the same order.
    const STEPS: [(u32, NodeState); 8] = [
        (3, NodeState::Quarantined),
        (120, NodeState::Isolated),
        (3, NodeState::Healthy),
        (77, NodeState::Quarantined),
        (78, NodeState::Quarantined),
        (120, NodeState::Healthy),
        (129, NodeState::Quarantined),
        (77, NodeState::Healthy),
    ];

    /// How many of `STEPS` a test applies (fewer under Miri).
    const STEPS_RUN: u32 = if cfg!(miri) { 3 } else { STEPS.len() as u32 };

    /// What the test runners count.
    #[derive(Default)]
    struct Ctx {
        calls: AtomicU32,
        /// Tasks the runner was given, over all calls.
        tasks: AtomicU32,
        ran: AtomicU32,
        max_tasks: AtomicU32,
    }

    /// A job pointer handed to scoped threads (they all end before the runner returns).
    #[derive(Clone, Copy)]
    struct JobPtr(*mut tcap_repair_job);
    // SAFETY: the pointee is a `Job`, whose concurrently used fields are atomics; the threads that get
    // it are scoped inside the runner call, so they end while the job is alive.
    unsafe impl Send for JobPtr {}

    /// A runner on `n_workers` threads (the calling one is worker 0) that take tasks from a counter.
    unsafe extern "C" fn threaded(ctx: *mut c_void, job: *mut tcap_repair_job, n_tasks: u32, n_workers: u32) {
        // SAFETY: the tests pass a live `Ctx`.
        let ctx = unsafe { &*ctx.cast::<Ctx>() };
        ctx.calls.fetch_add(1, Ordering::Relaxed);
        ctx.tasks.fetch_add(n_tasks, Ordering::Relaxed);
        ctx.max_tasks.fetch_max(n_tasks, Ordering::Relaxed);
        let counter = AtomicUsize::new(0);
        let (next, job) = (&counter, JobPtr(job));
        let work = move |w: u32| {
            // The whole `JobPtr` is moved in (a closure that named only `job.0` would capture the bare
            // pointer, which is not `Send`).
            let job = job;
            loop {
                let t = next.fetch_add(1, Ordering::Relaxed);
                if t >= n_tasks as usize {
                    break;
                }
                // SAFETY: the job given to this runner, which has not returned.
                assert_eq!(unsafe { tcap_repair_job_run(job.0, t as u32, w) }, tcap_result::Ok);
                ctx.ran.fetch_add(1, Ordering::Relaxed);
            }
        };
        std::thread::scope(|s| {
            for w in 1..n_workers {
                s.spawn(move || work(w));
            }
            work(0);
        });
        // Every task really ran (an `Ok` that did nothing would otherwise pass: the network reruns
        // what is left).
        // SAFETY: the job is live until this runner returns, and its threads have all ended.
        let j = unsafe { &*job.0.cast::<Job<'static, 'static>>() };
        for t in 0..j.n_tasks {
            // SAFETY: `t < n_tasks` indexes the runner's shares; no other thread uses them now.
            assert!(unsafe { &*j.shares.add(t) }.is_done(), "task {t} not done");
        }
    }

    /// A runner that misuses the job in every refusable way, runs task 0, and leaves the rest.
    unsafe extern "C" fn misuser(ctx: *mut c_void, job: *mut tcap_repair_job, n_tasks: u32, n_workers: u32) {
        // SAFETY: the tests pass a live `Ctx`; `job` is live during this call.
        unsafe {
            let ctx = &*ctx.cast::<Ctx>();
            ctx.calls.fetch_add(1, Ordering::Relaxed);
            assert_eq!(tcap_repair_job_run(core::ptr::null_mut(), 0, 0), tcap_result::NullArgument);
            let fake = Mem::new(256);
            assert_eq!(tcap_repair_job_run(fake.ptr().cast(), 0, 0), tcap_result::BadHandle);
            assert_eq!(
                tcap_repair_job_run(fake.ptr().cast::<u8>().add(1).cast(), 0, 0),
                tcap_result::Misaligned
            );
            assert_eq!(tcap_repair_job_run(job, n_tasks, 0), tcap_result::RepairIndex);
            assert_eq!(tcap_repair_job_run(job, 0, n_workers), tcap_result::RepairIndex);
            // Worker 1 held by "another thread": refused, and the task stays free.
            let j = &*job.cast::<Job<'static, 'static>>();
            j.busy[1].store(1, Ordering::Relaxed);
            assert_eq!(tcap_repair_job_run(job, 0, 1), tcap_result::RepairWorkerBusy);
            j.busy[1].store(0, Ordering::Relaxed);
            assert_eq!(tcap_repair_job_run(job, 0, 1), tcap_result::Ok);
            assert_eq!(tcap_repair_job_run(job, 0, 0), tcap_result::RepairTaskTaken);
            ctx.ran.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A runner that runs nothing.
    unsafe extern "C" fn idle(ctx: *mut c_void, _job: *mut tcap_repair_job, _n_tasks: u32, _n_workers: u32) {
        // SAFETY: the tests pass a live `Ctx`.
        unsafe { &*ctx.cast::<Ctx>() }.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// Applies `STEPS` to a sequential network and to one with `run` on `threads` helpers, and
    /// compares every route after every step; returns the runner's counters.
    fn against_sequential(run: tcap_repair_run_fn, threads: u32) -> Ctx {
        let (ms, mp) = (network_mem(), network_mem());
        let (seq, par) = (network(&ms), network(&mp));
        let mut size = 0;
        // SAFETY: live locals; `pm` and `ctx` outlive the runner's installation (cleared below).
        unsafe {
            assert_eq!(tcap_network_parallel_size(NODES, threads, &mut size), tcap_result::Ok);
            let pm = Mem::new(size);
            let ctx = Ctx::default();
            let c = (&ctx as *const Ctx).cast_mut().cast::<c_void>();
            assert_eq!(tcap_network_set_parallel(par, pm.ptr(), size, threads, run, c), tcap_result::Ok);
            for (i, &(node, state)) in STEPS.iter().enumerate().take(if cfg!(miri) { 3 } else { STEPS.len() })
            {
                assert_eq!(tcap_network_set_state(seq, i as u64, node, state as u32), tcap_result::Ok);
                assert_eq!(tcap_network_set_state(par, i as u64, node, state as u32), tcap_result::Ok);
                assert!(routes(seq) == routes(par), "step {i}: routes differ");
            }
            assert_eq!(tcap_network_clear_parallel(par), tcap_result::Ok);
            let calls = ctx.calls.load(Ordering::Relaxed);
            assert_eq!(tcap_network_set_state(par, 99, 5, NodeState::Quarantined as u32), tcap_result::Ok);
            assert_eq!(ctx.calls.load(Ordering::Relaxed), calls, "no runner once cleared");
            ctx
        }
    }

    #[test]
    fn threaded_runner_repairs_exactly_as_one_thread() {
        for threads in [1, 3] {
            let ctx = against_sequential(Some(threaded), threads);
            assert_eq!(ctx.calls.load(Ordering::Relaxed), STEPS_RUN, "one call per state change");
            assert_eq!(ctx.ran.load(Ordering::Relaxed), ctx.tasks.load(Ordering::Relaxed), "every task ran");
            // One task per 64-tree group at most (four at 200 nodes), and they all ran on the runner.
            assert_eq!(ctx.max_tasks.load(Ordering::Relaxed), NODES.div_ceil(64));
            assert!(ctx.ran.load(Ordering::Relaxed) >= STEPS_RUN * 2);
        }
    }

    #[test]
    fn misused_or_idle_runners_leave_the_routes_right() {
        let ctx = against_sequential(Some(misuser), 2);
        assert_eq!(ctx.calls.load(Ordering::Relaxed), STEPS_RUN);
        let ctx = against_sequential(Some(idle), 1);
        assert_eq!(ctx.calls.load(Ordering::Relaxed), STEPS_RUN);
    }

    #[test]
    fn sizes_and_refusals_change_nothing() {
        let mut size = 0usize;
        // SAFETY: live locals throughout.
        unsafe {
            assert_eq!(tcap_network_parallel_size(1024, 1, &mut size), tcap_result::Ok);
            assert_eq!(size, 128 + 128 + 12 * 1024);
            assert_eq!(tcap_network_parallel_size(1024, 7, &mut size), tcap_result::Ok);
            assert_eq!(size, 128 + 7 * (128 + 12 * 1024));
            let before = size;
            for (n, k, want) in [
                (1024, 0, tcap_result::InvalidLength),
                (1024, TCAP_REPAIR_MAX_THREADS + 1, tcap_result::InvalidLength),
                (0, 1, tcap_result::InvalidLength),
                (TCAP_NETWORK_MAX_NODES_PLUS_ONE, 1, tcap_result::NetworkCapacity),
            ] {
                assert_eq!(tcap_network_parallel_size(n, k, &mut size), want, "{n} {k}");
                assert_eq!(size, before, "no write on error");
            }
            assert_eq!(tcap_network_parallel_size(4, 1, core::ptr::null_mut()), tcap_result::NullArgument);

            let mn = network_mem();
            let h = network(&mn);
            assert_eq!(tcap_network_parallel_size(NODES, 2, &mut size), tcap_result::Ok);
            let pm = Mem::new(size + TCAP_REPAIR_ALIGN);
            let ctx = Ctx::default();
            let c = (&ctx as *const Ctx).cast_mut().cast::<c_void>();
            let mis = pm.ptr().cast::<u8>().add(64).cast::<c_void>();
            for (mem, len, k, run, want) in [
                (pm.ptr(), size, 2, None, tcap_result::NullArgument),
                (core::ptr::null_mut(), size, 2, Some(threaded as _), tcap_result::NullArgument),
                (mis, size, 2, Some(threaded as _), tcap_result::Misaligned),
                (pm.ptr(), size - 1, 2, Some(threaded as _), tcap_result::BufferTooSmall),
                (pm.ptr(), size, 0, Some(threaded as _), tcap_result::InvalidLength),
                (pm.ptr(), size, 8, Some(threaded as _), tcap_result::InvalidLength),
            ] {
                assert_eq!(tcap_network_set_parallel(h, mem, len, k, run, c), want);
            }
            assert_eq!(
                tcap_network_set_parallel(core::ptr::null_mut(), pm.ptr(), size, 2, Some(threaded), c),
                tcap_result::NullArgument
            );
            // None of the refusals installed a runner or wrote to the memory.
            assert_eq!(tcap_network_set_state(h, 1, 9, NodeState::Quarantined as u32), tcap_result::Ok);
            assert_eq!(ctx.calls.load(Ordering::Relaxed), 0);
            let bytes =
                core::slice::from_raw_parts(pm.ptr().cast::<u8>().cast_const(), size + TCAP_REPAIR_ALIGN);
            assert!(bytes.iter().all(|&b| b == 0), "memory written by a refused call");
            assert_eq!(tcap_network_clear_parallel(core::ptr::null_mut()), tcap_result::NullArgument);
            assert_eq!(tcap_network_clear_parallel(h), tcap_result::Ok, "no-op without a runner");
            // A refusal keeps the runner installed before it.
            assert_eq!(tcap_network_set_parallel(h, pm.ptr(), size, 2, Some(threaded), c), tcap_result::Ok);
            assert_eq!(
                tcap_network_set_parallel(h, pm.ptr(), size, 0, Some(idle), c),
                tcap_result::InvalidLength
            );
            assert_eq!(tcap_network_set_state(h, 2, 9, NodeState::Healthy as u32), tcap_result::Ok);
            assert_eq!(ctx.calls.load(Ordering::Relaxed), 1);
            assert_eq!(
                ctx.ran.load(Ordering::Relaxed),
                ctx.tasks.load(Ordering::Relaxed),
                "the threaded one ran"
            );
            assert_eq!(tcap_network_clear_parallel(h), tcap_result::Ok);

            // 64 nodes or fewer: one tree group, one task, no runner call.
            let mut small = 0;
            assert_eq!(tcap_network_size(64, &mut small), tcap_result::Ok);
            let (ms, mut hs) = (Mem::new(small), core::ptr::null_mut());
            assert_eq!(tcap_network_init(ms.ptr(), small, 64, &mut hs), tcap_result::Ok);
            for i in 0..64 {
                assert_eq!(tcap_network_add_edge(hs, i, (i + 1) % 64, 1), tcap_result::Ok);
            }
            assert_eq!(tcap_network_parallel_size(64, 1, &mut small), tcap_result::Ok);
            let pms = Mem::new(small);
            assert_eq!(
                tcap_network_set_parallel(hs, pms.ptr(), small, 1, Some(threaded), c),
                tcap_result::Ok
            );
            assert_eq!(tcap_network_set_state(hs, 1, 5, NodeState::Quarantined as u32), tcap_result::Ok);
            let mut hop = 0;
            assert_eq!(tcap_network_route(hs, 4, 6, &mut hop), tcap_result::Ok);
            assert_eq!(hop, 3, "around the quarantined node");
            assert_eq!(ctx.calls.load(Ordering::Relaxed), 1, "no runner call at 64 nodes");
        }
    }

    const TCAP_NETWORK_MAX_NODES_PLUS_ONE: u32 = crate::network::TCAP_NETWORK_MAX_NODES + 1;
}
