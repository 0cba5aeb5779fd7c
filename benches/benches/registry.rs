//! Registry lookups against `std::collections::HashMap` and `hashbrown::HashMap` in the same run.
//!
//! * by id on the real 1,567-entry corpus image (skipped without ../shared/data or $TCAP_SHARED_DATA);
//! * by id on a synthetic 1M-entry image: `get_many` (batched) and `get`;
//! * by name at 1.5k (corpus) and 1M (synthetic): `get_by_name` and `get_many_by_name`.
//!
//! Every routine looks up a fixed, shuffled query list and sums the flags it finds (so neither side
//! can skip the value read); the peers map the same keys to a 16-byte value holding the same fields.
//! Criterion reports each; at the end a table prints ns per lookup and the ratios to both peers.
//!
//! `TCAP_DENSITY=compact` builds the images at `Density::Compact` instead of the default (for A/B runs).
//!
//! Times are the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall time: the benchmark
//! machine is shared by several builds, and wall time there counts the time the thread sat descheduled.
//! On an idle machine the two agree. The final table also prints the wall-clock figure.
//!
//! `cargo bench -p tcap-benches --bench registry -- --warm-up-time 1 --measurement-time 3`

use criterion::{BenchmarkId, Criterion, Throughput};
use std::collections::{HashMap as StdMap, HashSet};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tcap_core::registry::{Builder, Density, Entry, EntrySpec, Registry};
use tcap_core::wire::{Flags, KbFlags, command_id};

/// The peers' value: the same fields the registry returns (only `flags` is read in the loop, as on the
/// registry side).
#[derive(Clone, Copy)]
#[allow(dead_code)]
struct V {
    flags: u32,
    exec_ms: u32,
    memory_mb: u16,
    output_kb: u16,
    index: u32,
}

struct Data {
    names: Vec<Vec<u8>>,
    flags: Vec<u32>,
    image: Vec<u8>,
}

/// Per (group, routine): total CPU ns, total wall ns, total lookups, from our timing in `iter_custom`.
static RESULTS: Mutex<Vec<Row>> = Mutex::new(Vec::new());

/// (group, routine, CPU ns, wall ns, lookups).
type Row = (String, String, f64, f64, u64);

fn record(group: &str, name: &str, cpu: Duration, wall: Duration, iters: u64, per_iter: usize) {
    let mut r = RESULTS.lock().unwrap();
    let lookups = iters * per_iter as u64;
    let (c, w) = (cpu.as_nanos() as f64, wall.as_nanos() as f64);
    if let Some(e) = r.iter_mut().find(|e| e.0 == group && e.1 == name) {
        e.2 += c;
        e.3 += w;
        e.4 += lookups;
    } else {
        r.push((group.to_string(), name.to_string(), c, w, lookups));
    }
}

/// CPU time consumed by the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call, and
    // CLOCK_THREAD_CPUTIME_ID is supported by every Linux kernel this project targets.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn shared_data() -> Option<PathBuf> {
    let dir = std::env::var_os("TCAP_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    dir.is_dir().then_some(dir)
}

/// A copy of an image in anonymous memory advised for transparent huge pages (2 MiB), as a daemon
/// would map a big registry: one TLB entry then covers 2 MiB of buckets instead of 4 KiB.
struct HugeImage {
    base: *mut libc::c_void,
    map_len: usize,
    offset: usize,
    len: usize,
}

impl HugeImage {
    const HUGE: usize = 2 << 20;

    fn new(image: &[u8]) -> Option<HugeImage> {
        let map_len = image.len().div_ceil(Self::HUGE) * Self::HUGE + Self::HUGE;
        // SAFETY: an anonymous private mapping with no address hint; the result is checked below.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return None;
        }
        let offset = (base as usize).next_multiple_of(Self::HUGE) - base as usize;
        // SAFETY: `offset + image.len() <= map_len` by construction, the range lies inside the mapping
        // just created, and the advice does not change its contents.
        let advised = unsafe {
            libc::madvise(base.cast::<u8>().add(offset).cast(), map_len - offset, libc::MADV_HUGEPAGE)
        };
        let h = HugeImage { base, map_len, offset, len: image.len() };
        if advised != 0 {
            return None;
        }
        // SAFETY: the destination is `len` writable bytes inside our mapping, disjoint from `image`.
        unsafe { std::ptr::copy_nonoverlapping(image.as_ptr(), base.cast::<u8>().add(offset), image.len()) };
        Some(h)
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `offset..offset + len` lies in the live mapping, was initialised in `new`, and is only
        // read for as long as `self` (which unmaps it on drop) is borrowed.
        unsafe { std::slice::from_raw_parts(self.base.cast::<u8>().add(self.offset), self.len) }
    }
}

impl Drop for HugeImage {
    fn drop(&mut self) {
        // SAFETY: `base`/`map_len` describe exactly the mapping created in `new`; no borrow outlives self.
        unsafe { libc::munmap(self.base, self.map_len) };
    }
}

/// `AnonHugePages` of this process, in kB (how much of the advised memory the kernel gave 2 MiB pages).
fn anon_huge_kb() -> u64 {
    std::fs::read_to_string("/proc/self/smaps_rollup")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("AnonHugePages:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// The id-table density of the bench's images: `Density::Fast` (the builder's default), or
/// `Density::Compact` with `TCAP_DENSITY=compact` (for A/B runs; docs/FORMAT.md §5.3).
fn density() -> Density {
    match std::env::var("TCAP_DENSITY").as_deref() {
        Ok("compact") => Density::Compact,
        _ => Density::Fast,
    }
}

fn corpus() -> Option<Data> {
    let db = std::fs::read(shared_data()?.join("upstream/tcp_complete.db")).ok()?;
    let count = u32::from_be_bytes(db[6..10].try_into().unwrap()) as usize;
    let mut at = 22;
    let mut b = Builder::with_capacity(count);
    b.density(density());
    let (mut names, mut flags) = (Vec::new(), Vec::new());
    for _ in 0..count {
        let n = u16::from_be_bytes([db[at], db[at + 1]]) as usize;
        let name = &db[at + 2..at + 2 + n];
        let d = &db[at + 2 + n..at + 2 + n + 24];
        let f = KbFlags(u32::from_be_bytes(d[10..14].try_into().unwrap())).to_canonical().unwrap();
        b.push(EntrySpec {
            name,
            flags: f,
            exec_time_ms: u32::from_be_bytes(d[14..18].try_into().unwrap()),
            memory_mb: u16::from_be_bytes([d[18], d[19]]),
            output_kb: u16::from_be_bytes([d[20], d[21]]),
        });
        names.push(name.to_vec());
        flags.push(f.0);
        at += 2 + n + 24;
    }
    Some(Data { names, flags, image: b.build().unwrap() })
}

fn synthetic(n: usize) -> Data {
    const STEMS: [&str; 8] =
        ["tool", "git sub", "kubectl x", "pkg-", "bin/", "svc ctl ", "a", "longer-command-name-"];
    let mut seen = HashSet::with_capacity(n);
    let mut b = Builder::with_capacity(n);
    b.density(density());
    let (mut names, mut flags) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut i = 0u64;
    while names.len() < n {
        let name = format!("{}{:x}", STEMS[(i % 8) as usize], i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40);
        i += 1;
        if !seen.insert(command_id(name.as_bytes())) {
            continue; // 32-bit id collision (or a repeated name): skip it
        }
        let f = Flags((1u32 << (i % 5)) | ((i as u32 & 0x3f) << 8));
        b.push(EntrySpec {
            name: name.as_bytes(),
            flags: f,
            exec_time_ms: i as u32,
            memory_mb: 1,
            output_kb: 2,
        });
        names.push(name.into_bytes());
        flags.push(f.0);
    }
    Data { names, flags, image: b.build().unwrap() }
}

/// `len` pseudo-random indices below `n` (xorshift; fixed seed).
fn shuffled(n: usize, len: usize) -> Vec<usize> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        })
        .collect()
}

fn sum(out: &[Option<Entry<'_>>]) -> u64 {
    out.iter().map(|e| e.map_or(0, |e| e.flags().0 as u64)).sum()
}

/// The four peer maps: std and hashbrown, by id and by name.
type Peers =
    (StdMap<u32, V>, hashbrown::HashMap<u32, V>, StdMap<Box<[u8]>, V>, hashbrown::HashMap<Box<[u8]>, V>);

fn peers(d: &Data) -> Peers {
    let reg = Registry::load(&d.image).unwrap();
    let mut a = StdMap::with_capacity(d.names.len());
    let mut b = hashbrown::HashMap::with_capacity(d.names.len());
    let mut c = StdMap::with_capacity(d.names.len());
    let mut e = hashbrown::HashMap::with_capacity(d.names.len());
    for (i, name) in d.names.iter().enumerate() {
        let r = reg.get_by_name(name).unwrap();
        let v = V {
            flags: d.flags[i],
            exec_ms: r.exec_time_ms(),
            memory_mb: r.memory_mb(),
            output_kb: r.output_kb(),
            index: i as u32,
        };
        a.insert(r.id(), v);
        b.insert(r.id(), v);
        c.insert(name.clone().into_boxed_slice(), v);
        e.insert(name.clone().into_boxed_slice(), v);
    }
    (a, b, c, e)
}

macro_rules! timed {
    ($b:expr, $group:expr, $name:expr, $per:expr, $body:expr) => {
        $b.iter_custom(|iters| {
            let (c, t) = (thread_cpu(), Instant::now());
            for _ in 0..iters {
                black_box($body);
            }
            let (cpu, wall) = (thread_cpu() - c, t.elapsed());
            record($group, $name, cpu, wall, iters, $per);
            cpu
        })
    };
}

fn bench_set(c: &mut Criterion, label: &str, d: &Data, queries: usize, huge_pages: bool) {
    let reg = Registry::load(&d.image).unwrap();
    let (std_id, hb_id, std_name, hb_name) = peers(d);
    let idx = shuffled(d.names.len(), queries);
    let ids: Vec<u32> = idx.iter().map(|&i| command_id(&d.names[i])).collect();
    // Query names laid out one after another, as a stream of incoming command lines would be, so that
    // neither side pays a cache miss for the query bytes themselves.
    let arena: Vec<u8> = idx.iter().flat_map(|&i| d.names[i].iter().copied()).collect();
    let mut names: Vec<&[u8]> = Vec::with_capacity(queries);
    let mut at = 0;
    for &i in &idx {
        names.push(&arena[at..at + d.names[i].len()]);
        at += d.names[i].len();
    }
    let huge = if huge_pages { HugeImage::new(&d.image) } else { None };
    let hreg = huge.as_ref().map(|h| Registry::load(h.bytes()).unwrap());
    if huge.is_some() {
        eprintln!("image copy advised for 2 MiB pages: AnonHugePages = {} kB", anon_huge_kb());
    }
    let mut out = vec![None; 256];
    let v = |x: Option<&V>| x.map_or(0, |v| v.flags as u64);

    let group = format!("registry/by_id/{label}");
    let mut g = c.benchmark_group(&group);
    g.throughput(Throughput::Elements(queries as u64));
    {
        g.bench_function(BenchmarkId::from_parameter("tcap get"), |b| {
            timed!(
                b,
                &group,
                "tcap get",
                queries,
                ids.iter().map(|&i| reg.get(i).map_or(0, |e| e.flags().0 as u64)).sum::<u64>()
            )
        });
    }
    g.bench_function(BenchmarkId::from_parameter("tcap get_many"), |b| {
        timed!(b, &group, "tcap get_many", queries, {
            let mut s = 0;
            for chunk in ids.chunks(256) {
                reg.get_many(chunk, &mut out);
                s += sum(&out[..chunk.len()]);
            }
            s
        })
    });
    if let Some(hreg) = &hreg {
        g.bench_function(BenchmarkId::from_parameter("tcap get_many 2M pages"), |b| {
            timed!(b, &group, "tcap get_many 2M pages", queries, {
                let mut s = 0;
                for chunk in ids.chunks(256) {
                    hreg.get_many(chunk, &mut out);
                    s += sum(&out[..chunk.len()]);
                }
                s
            })
        });
    }
    g.bench_function(BenchmarkId::from_parameter("hashbrown"), |b| {
        timed!(b, &group, "hashbrown", queries, ids.iter().map(|i| v(hb_id.get(i))).sum::<u64>())
    });
    g.bench_function(BenchmarkId::from_parameter("std HashMap"), |b| {
        timed!(b, &group, "std HashMap", queries, ids.iter().map(|i| v(std_id.get(i))).sum::<u64>())
    });
    g.finish();

    let group = format!("registry/by_name/{label}");
    let mut g = c.benchmark_group(&group);
    g.throughput(Throughput::Elements(queries as u64));
    g.bench_function(BenchmarkId::from_parameter("tcap get_by_name"), |b| {
        timed!(
            b,
            &group,
            "tcap get_by_name",
            queries,
            names.iter().map(|n| reg.get_by_name(n).map_or(0, |e| e.flags().0 as u64)).sum::<u64>()
        )
    });
    g.bench_function(BenchmarkId::from_parameter("tcap get_many_by_name"), |b| {
        timed!(b, &group, "tcap get_many_by_name", queries, {
            let mut s = 0;
            for chunk in names.chunks(256) {
                reg.get_many_by_name(chunk, &mut out);
                s += sum(&out[..chunk.len()]);
            }
            s
        })
    });
    if let Some(hreg) = &hreg {
        g.bench_function(BenchmarkId::from_parameter("tcap get_many_by_name 2M pages"), |b| {
            timed!(b, &group, "tcap get_many_by_name 2M pages", queries, {
                let mut s = 0;
                for chunk in names.chunks(256) {
                    hreg.get_many_by_name(chunk, &mut out);
                    s += sum(&out[..chunk.len()]);
                }
                s
            })
        });
    }
    g.bench_function(BenchmarkId::from_parameter("hashbrown"), |b| {
        timed!(b, &group, "hashbrown", queries, names.iter().map(|n| v(hb_name.get(*n))).sum::<u64>())
    });
    g.bench_function(BenchmarkId::from_parameter("std HashMap"), |b| {
        timed!(b, &group, "std HashMap", queries, names.iter().map(|n| v(std_name.get(*n))).sum::<u64>())
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    match corpus() {
        Some(d) => bench_set(&mut c, "corpus-1567", &d, 4096, false),
        None => eprintln!("skipping corpus benches: shared data absent (set TCAP_SHARED_DATA)"),
    }
    let t = Instant::now();
    let d = synthetic(1_000_000);
    let built = t.elapsed();
    let t = Instant::now();
    let reg = Registry::load(&d.image).unwrap();
    let loaded = t.elapsed();
    eprintln!(
        "synthetic 1M image: {} entries, {:.1} MB, built in {:.2?}, full validation in {:.2?}",
        reg.len(),
        d.image.len() as f64 / 1e6,
        built,
        loaded
    );
    bench_set(&mut c, "synthetic-1M", &d, 1 << 16, true);
    c.final_summary();

    let r = RESULTS.lock().unwrap();
    let per = |g: &str, n: &str| r.iter().find(|e| e.0 == g && e.1 == n).map(|e| e.2 / e.4 as f64);
    println!(
        "\n{:<30} {:<22} {:>10} {:>10} {:>12} {:>8}",
        "group", "routine", "cpu ns/op", "wall ns/op", "vs hashbrown", "vs std"
    );
    for (g, n, _, w, k) in r.iter() {
        let x = per(g, n).unwrap();
        let hb = per(g, "hashbrown").map_or(String::new(), |h| format!("{:.2}x", h / x));
        let st = per(g, "std HashMap").map_or(String::new(), |s| format!("{:.2}x", s / x));
        let wall = w / *k as f64;
        println!("{g:<30} {n:<22} {x:>10.2} {wall:>10.2} {hb:>12} {st:>8}");
    }
    println!("(ratios > 1 mean tcap is faster by that factor)");
}
