//! Descriptor decode + verify, per flavour, single and over the real corpus, against two peers in the
//! same run: a naive decoder (bit-at-a-time CRC, manual shifts) and the upstream Python itself
//! (`struct.unpack` + `zlib.crc32`, timed with `timeit` in a spawned `python3`). Also the checksum
//! alone: tcap's slice-by-22 16-bit tables vs `crc32fast` vs byte-at-a-time table vs bitwise.
//!
//! `cargo bench -p tcap-benches --bench wire -- --warm-up-time 1 --measurement-time 2`

#![allow(missing_docs)] // criterion_group! generates an undocumented fn

use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group};
use tcap_core::wire::{
    DescriptorRepr, Flavour, TcpDb, command_id, crc32, decode, descriptor_byte_sum, descriptor_crc16,
};

const SPEC_RM: [u8; 24] = [
    0x54, 0x43, 0x50, 0x02, 0x00, 0x02, 0xd6, 0x7f, 0x24, 0x9b, 0x00, 0x00, 0x06, 0xd0, 0x27, 0x10, 0x03,
    0xe8, 0x00, 0x32, 0x00, 0x02, 0xef, 0x04,
];
const KB_RM: [u8; 24] = [
    0x54, 0x43, 0x50, 0x02, 0x00, 0x02, 0xd6, 0x7f, 0x24, 0x9b, 0x00, 0x00, 0x17, 0x04, 0x00, 0x00, 0x00,
    0x64, 0x00, 0x0a, 0x00, 0x01, 0x03, 0x89,
];

fn registry_rm() -> [u8; 24] {
    let repr = DescriptorRepr {
        command_id: command_id(b"rm"),
        flags: tcap_core::wire::Flags(0x6d0),
        exec_time_ms: 10_000,
        memory_mb: 1000,
        output_kb: 50,
        command_len: None,
    };
    repr.to_bytes(Flavour::Registry).unwrap()
}

fn shared_data() -> Option<PathBuf> {
    let dir = std::env::var_os("TCAP_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    dir.is_dir().then_some(dir)
}

/// The 1,567 real knowledge-base descriptors, or `None` (with a message) when the data is absent.
fn corpus() -> Option<Vec<[u8; 24]>> {
    let Some(dir) = shared_data() else {
        eprintln!("wire bench: shared data absent; skipping the corpus batches (set TCAP_SHARED_DATA)");
        return None;
    };
    let bytes = std::fs::read(dir.join("upstream/tcp_complete.db")).ok()?;
    let db = TcpDb::new_checked(&bytes).ok()?;
    Some(db.entries().map(|e| *e.unwrap().descriptor).collect())
}

// ---- peer (a): the naive decoder ------------------------------------------------------------------

fn naive_crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// (flavour 0/1/2, id, flags, exec, mem, out): what a straightforward decoder does.
fn naive_decode(b: &[u8], prefer_registry: bool) -> Option<(u8, u32, u32, u32, u16, u16)> {
    if b.len() != 24 || b[0..4] != *b"TCP\x02" || ((b[4] as u16) << 8 | b[5] as u16) != 2 {
        return None;
    }
    let be16 = |i: usize| (b[i] as u16) << 8 | b[i + 1] as u16;
    let be32 =
        |i: usize| (b[i] as u32) << 24 | (b[i + 1] as u32) << 16 | (b[i + 2] as u32) << 8 | b[i + 3] as u32;
    let stored = be16(22);
    let crc_ok = naive_crc32(&b[..22]) as u16 == stored;
    let sum_ok = b[..22].iter().fold(0u16, |s, &x| s.wrapping_add(x as u16)) == stored;
    let flavour = match (crc_ok, sum_ok) {
        (true, _) if prefer_registry => 1,
        (true, _) => 0,
        (false, true) => 2,
        (false, false) => return None,
    };
    if flavour == 0 {
        Some((0, be32(6), be32(10), be16(14) as u32, be16(16), be16(18)))
    } else {
        Some((flavour, be32(6), be32(10), be32(14), be16(18), be16(20)))
    }
}

// ---- peer (b): the upstream Python ----------------------------------------------------------------

/// ns per descriptor for `struct.unpack('>4sHIIIHHH', b)` + `zlib.crc32(b[:22]) & 0xffff`, single and
/// over the given batch, as [wall single, wall batch, thread-CPU single, thread-CPU batch], or `None`
/// if python3 is unavailable.
fn python_ns(single: &[u8; 24], batch: &[[u8; 24]]) -> Option<[f64; 4]> {
    let hexes: Vec<String> = batch.iter().map(|d| d.iter().map(|b| format!("{b:02x}")).collect()).collect();
    let single_hex: String = single.iter().map(|b| format!("{b:02x}")).collect();
    let script = format!(
        r#"
import struct, zlib, timeit, time
b = bytes.fromhex("{single_hex}")
batch = [bytes.fromhex(h) for h in "{batch}".split(",") if h]
def one(b):
    f = struct.unpack('>4sHIIIHHH', b)
    c = zlib.crc32(b[:22]) & 0xffff
    return f, c
def many():
    for d in batch:
        struct.unpack('>4sHIIIHHH', d); zlib.crc32(d[:22]) & 0xffff
n = 200000
for timer in (time.perf_counter, time.thread_time):
    s = min(timeit.repeat(lambda: (struct.unpack('>4sHIIIHHH', b), zlib.crc32(b[:22]) & 0xffff), number=n, repeat=5, timer=timer)) / n * 1e9
    m = (min(timeit.repeat(many, number=50, repeat=5, timer=timer)) / (50 * len(batch)) * 1e9) if batch else float('nan')
    print(s, m)
"#,
        batch = hexes.join(",")
    );
    let out = Command::new("python3").arg("-c").arg(script).output().ok()?;
    if !out.status.success() {
        eprintln!("python3 failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?;
    let v: Vec<f64> = s.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    v.try_into().ok()
}

/// CPU time of the calling thread, ns. Unlike wall time it does not count time spent descheduled, so
/// on a shared, loaded machine it is the fairer figure (Python's peer uses `time.thread_time`, the same
/// clock).
fn thread_cpu_ns() -> u128 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call; CLOCK_THREAD_CPUTIME_ID
    // is supported by every Linux kernel this benchmark targets. The return value is checked.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

/// Our own ns/op of a closure over `reps` runs, as (wall, thread CPU); best of five. For the ratio
/// lines; criterion has the careful wall-clock figures.
fn time_ns(reps: u64, per_rep: u64, mut f: impl FnMut()) -> (f64, f64) {
    f();
    let mut best = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        let (t, c) = (Instant::now(), thread_cpu_ns());
        for _ in 0..reps {
            f();
        }
        let n = (reps * per_rep) as f64;
        let (w, cpu) = (t.elapsed().as_nanos() as f64 / n, (thread_cpu_ns() - c) as f64 / n);
        best = (best.0.min(w), best.1.min(cpu));
    }
    best
}

// ---- criterion -----------------------------------------------------------------------------------

fn bench_single(c: &mut Criterion) {
    let registry = registry_rm();
    let mut g = c.benchmark_group("decode/single");
    g.throughput(Throughput::Elements(1));
    for (name, bytes, hint) in [
        ("spec", SPEC_RM, None),
        ("registry", registry, Some(Flavour::Registry)),
        ("knowledge-base", KB_RM, None),
    ] {
        g.bench_function(format!("tcap/{name}"), |b| b.iter(|| decode(black_box(&bytes), black_box(hint))));
        let prefer = hint == Some(Flavour::Registry);
        g.bench_function(format!("naive/{name}"), |b| {
            b.iter(|| naive_decode(black_box(&bytes), black_box(prefer)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("checksum22");
    g.throughput(Throughput::Elements(1));
    g.bench_function("tcap-slice22-u16", |b| b.iter(|| descriptor_crc16(black_box(&SPEC_RM))));
    g.bench_function("crc32fast", |b| b.iter(|| crc32fast::hash(black_box(&SPEC_RM[..22])) as u16));
    g.bench_function("table-bytewise", |b| b.iter(|| crc32(black_box(&SPEC_RM[..22])) as u16));
    g.bench_function("bitwise", |b| b.iter(|| naive_crc32(black_box(&SPEC_RM[..22])) as u16));
    g.bench_function("byte-sum", |b| b.iter(|| descriptor_byte_sum(black_box(&KB_RM))));
    g.finish();
}

fn bench_corpus(c: &mut Criterion) {
    let Some(kb) = corpus() else { return };
    // The same 1,567 commands re-emitted in the spec and registry layouts.
    let as_flavour = |f: Flavour| -> Vec<[u8; 24]> {
        kb.iter()
            .map(|d| {
                let r = decode(d, None).unwrap().repr;
                DescriptorRepr { command_len: Some(3), ..r }.to_bytes(f).unwrap()
            })
            .collect()
    };
    let spec = as_flavour(Flavour::Spec);
    let registry = as_flavour(Flavour::Registry);
    let mut g = c.benchmark_group("decode/corpus");
    g.throughput(Throughput::Elements(kb.len() as u64));
    for (name, batch, hint) in [
        ("spec", &spec, None),
        ("registry", &registry, Some(Flavour::Registry)),
        ("knowledge-base", &kb, None),
        ("knowledge-base+hint", &kb, Some(Flavour::KnowledgeBase)),
    ] {
        g.bench_function(format!("tcap/{name}"), |b| {
            b.iter(|| {
                let mut acc = 0u32;
                for d in black_box(batch.as_slice()) {
                    if let Ok(x) = decode(d, hint) {
                        acc = acc.wrapping_add(x.repr.flags.0 ^ x.repr.exec_time_ms);
                    }
                }
                acc
            })
        });
        let prefer = hint == Some(Flavour::Registry);
        g.bench_function(format!("naive/{name}"), |b| {
            b.iter(|| {
                let mut acc = 0u32;
                for d in black_box(batch.as_slice()) {
                    if let Some(x) = naive_decode(d, prefer) {
                        acc = acc.wrapping_add(x.2 ^ x.3);
                    }
                }
                acc
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default();
    targets = bench_single, bench_corpus
}

fn peer_summary() {
    let kb = corpus().unwrap_or_else(|| vec![KB_RM]);
    let n = kb.len() as u64;
    let single = time_ns(2_000_000, 1, || {
        black_box(decode(black_box(&SPEC_RM), black_box(None))).ok();
    });
    let batch = time_ns(1_000, n, || {
        for d in black_box(kb.as_slice()) {
            black_box(decode(d, None)).ok();
        }
    });
    let naive = time_ns(100, n, || {
        for d in black_box(kb.as_slice()) {
            black_box(naive_decode(d, false));
        }
    });
    println!("\n== wire peer summary: ns per descriptor, decode + verify (wall | thread CPU) ==");
    println!("tcap   single (spec rm)       {:8.2} | {:8.2}", single.0, single.1);
    println!("tcap   batch (corpus, {n})   {:8.2} | {:8.2}", batch.0, batch.1);
    println!(
        "naive  batch (corpus)         {:8.2} | {:8.2}   -> tcap {:.1}x | {:.1}x faster",
        naive.0,
        naive.1,
        naive.0 / batch.0,
        naive.1 / batch.1
    );
    match python_ns(&SPEC_RM, &kb) {
        Some([ws, wb, cs, cb]) => {
            println!(
                "python single                 {ws:8.1} | {cs:8.1}   -> tcap {:.0}x | {:.0}x faster",
                ws / single.0,
                cs / single.1
            );
            println!(
                "python batch (corpus)         {wb:8.1} | {cb:8.1}   -> tcap {:.0}x | {:.0}x faster",
                wb / batch.0,
                cb / batch.1
            );
        }
        None => println!("python3 peer unavailable"),
    }
}

fn main() {
    benches();
    peer_summary();
    Criterion::default().configure_from_args().final_summary();
}
