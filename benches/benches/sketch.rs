//! Per-event cost of tcap's sketch scorers against an f64 MIDAS-R port (the in-run peer), on the DARPA
//! 1998 edge stream when the shared data is present, else on a synthetic stream of the same shape.
//!
//! `cargo bench -p tcap-benches --bench sketch`. After criterion's figures, a short direct timing of the
//! whole stream prints the throughput ratio tcap / peer.

// criterion_group! generates undocumented items.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tcap_core::behavior::sketch::{EdgeScorer, EndpointScorer, PairSketch};
use tcap_driver::sim::darpa::{self, COLS, DarpaData, ROWS, peer::MidasR};

/// Events per criterion iteration (a prefix of the stream, scored by a fresh detector).
const CHUNK: usize = 1 << 20;

fn stream() -> (DarpaData, &'static str) {
    let dir = std::env::var_os("TCAP_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    let zip = dir.join("darpa/darpa_original.zip");
    if let Ok(data) = darpa::load(&zip) {
        return (data, "DARPA 1998");
    }
    eprintln!("{} absent: synthetic stream", zip.display());
    // 2,000 hosts with steady pairs, plus a flood every 97 minutes.
    let mut d = DarpaData::default();
    let mut x: u64 = 0x9e37_79b9;
    for t in 1..=4_000u32 {
        for _ in 0..1_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let s = (x % 2_000) as u32;
            d.src.push(s);
            d.dst.push((s * 7 + (x >> 40) as u32 % 3) % 2_000);
            d.tick.push(t);
            d.attack.push(false);
        }
        if t % 97 == 0 {
            for _ in 0..2_000 {
                d.src.push(t % 2_000);
                d.dst.push(1);
                d.tick.push(t);
                d.attack.push(true);
            }
        }
    }
    (d, "synthetic")
}

fn bench(c: &mut Criterion) {
    let (data, name) = stream();
    let n = data.len().min(CHUNK);
    let (src, dst, tick) = (&data.src[..n], &data.dst[..n], &data.tick[..n]);
    let mut g = c.benchmark_group(format!("sketch per event ({name}, {n} events, {ROWS}x{COLS})"));
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(3));

    macro_rules! scorer {
        ($label:expr, $make:expr) => {
            g.bench_function($label, |b| {
                b.iter_batched_ref(
                    || $make,
                    |sc| {
                        let mut acc = 0u32;
                        for i in 0..n {
                            acc = acc.wrapping_add(sc.observe(tick[i], src[i], dst[i]));
                        }
                        black_box(acc)
                    },
                    BatchSize::LargeInput,
                )
            });
        };
    }
    scorer!("tcap EndpointScorer", Box::new(EndpointScorer::<ROWS, COLS>::new(1)));
    scorer!("tcap EdgeScorer", Box::new(EdgeScorer::<ROWS, COLS>::new(1)));
    scorer!("tcap PairSketch (edge only)", Box::new(PairSketch::<ROWS, COLS>::new(1)));
    g.bench_function("peer MIDAS-R f64 port", |b| {
        b.iter_batched_ref(
            || MidasR::new(ROWS, COLS, 1),
            |m| {
                let mut acc = 0f64;
                for i in 0..n {
                    acc += m.observe(tick[i], src[i], dst[i]);
                }
                black_box(acc)
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    // Ratio over the whole stream, best of three, same process.
    let best = |f: &mut dyn FnMut()| {
        (0..3)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    let mut out = vec![0u32; data.len()];
    let mut fout = vec![0f64; data.len()];
    let tcap = best(&mut || darpa::score(&data, darpa::Scorer::Endpoint, 1, &mut out));
    let edge = best(&mut || darpa::score(&data, darpa::Scorer::Edge, 1, &mut out));
    let peer = best(&mut || darpa::score_midas_r(&data, 1, &mut fout));
    let m = data.len() as f64 / 1e6;
    println!(
        "whole stream ({name}, {} events): EndpointScorer {:.1} M/s, EdgeScorer {:.1} M/s, \
         MIDAS-R f64 port {:.1} M/s; ratio EndpointScorer/peer = {:.2}x, EdgeScorer/peer = {:.2}x",
        data.len(),
        m / tcap,
        m / edge,
        m / peer,
        peer / tcap,
        peer / edge
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
