//! Reproduces the ablation tables of docs/SCORING.md §10 (AUC over hash seeds; untimed):
//!
//! `cargo run --release -p tcap-driver --example darpa_ablation -- ../shared/data/darpa/darpa_original.zip`

use std::path::PathBuf;

use tcap_core::behavior::sketch::{EndpointScorer, PairSketch, SketchPolicy, score_of_log2};
use tcap_driver::sim::darpa::{self, DarpaData, roc_auc};

/// Scores the stream with `f` for each of `seeds` seeds; returns (min, mean, max) AUC.
fn spread(data: &DarpaData, seeds: u64, mut f: impl FnMut(u64, &mut [u32])) -> (f64, f64, f64) {
    let mut scores = vec![0u32; data.len()];
    let aucs: Vec<f64> = (0..seeds)
        .map(|k| {
            f(0x7ca9 + k, &mut scores);
            roc_auc(&scores, &data.attack).unwrap_or(f64::NAN)
        })
        .collect();
    let min = aucs.iter().copied().fold(f64::INFINITY, f64::min);
    let max = aucs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, aucs.iter().sum::<f64>() / aucs.len() as f64, max)
}

/// Which sketches score an event: bit 0 edge, bit 1 source, bit 2 destination, combined by max.
fn combination(data: &DarpaData, mask: u32, seed: u64, out: &mut [u32]) {
    let mut e = Box::new(PairSketch::<2, 1024>::new(seed));
    let mut s = Box::new(PairSketch::<2, 1024>::new(seed ^ 1));
    let mut d = Box::new(PairSketch::<2, 1024>::new(seed ^ 2));
    for (i, o) in out.iter_mut().enumerate() {
        let (t, a, b) = (data.tick[i], data.src[i], data.dst[i]);
        let mut m = 0;
        if mask & 1 != 0 {
            m = m.max(e.observe(t, a, b));
        }
        if mask & 2 != 0 {
            m = m.max(s.observe_node(t, a));
        }
        if mask & 4 != 0 {
            m = m.max(d.observe_node(t, b));
        }
        *o = m;
    }
}

fn endpoint<const R: usize, const C: usize>(data: &DarpaData, p: SketchPolicy, seed: u64, out: &mut [u32]) {
    let mut sc = Box::new(EndpointScorer::<R, C>::with_policy(seed, p));
    for (i, o) in out.iter_mut().enumerate() {
        *o = sc.observe(data.tick[i], data.src[i], data.dst[i]);
    }
}

fn main() {
    let path = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/data/darpa/darpa_original.zip"));
    let data = match darpa::load(&path) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    println!("| scored by (2x1024, filtered, 4 seeds) | AUC min | mean | max |\n|---|---|---|---|");
    for (mask, name) in [
        (1, "edge"),
        (4, "destination"),
        (2, "source"),
        (6, "max(source, destination)"),
        (3, "max(edge, source)"),
        (5, "max(edge, destination)"),
        (7, "max(edge, source, destination)"),
    ] {
        let (lo, mean, hi) = spread(&data, 4, |seed, out| combination(&data, mask, seed, out));
        println!("| {name} | {lo:.4} | {mean:.4} | {hi:.4} |");
    }

    println!("\n| EndpointScorer variant (8 seeds) | geometry | min | mean | max |\n|---|---|---|---|---|");
    let d = SketchPolicy::DEFAULT;
    let row = |name: &str, geo: &str, f: &dyn Fn(u64, &mut [u32])| {
        let (lo, mean, hi) = spread(&data, 8, f);
        println!("| {name} | {geo} | {lo:.4} | {mean:.4} | {hi:.4} |");
    };
    row("default", "2x1024", &|s, o| endpoint::<2, 1024>(&data, d, s, o));
    row("no filter", "2x1024", &|s, o| endpoint::<2, 1024>(&data, SketchPolicy::UNFILTERED, s, o));
    for t in [3, 6, 14, 20] {
        let p = SketchPolicy { filter_threshold: score_of_log2(t), ..d };
        row(&format!("filter at 2^{t}"), "2x1024", &|s, o| endpoint::<2, 1024>(&data, p, s, o));
    }
    let p = SketchPolicy { decay_shift: 2, ..d };
    row("decay_shift 2", "2x1024", &|s, o| endpoint::<2, 1024>(&data, p, s, o));
    let p = SketchPolicy { novelty_floor: 1, ..d };
    row("novelty_floor 1", "2x1024", &|s, o| endpoint::<2, 1024>(&data, p, s, o));
    row("default", "1x1024", &|s, o| endpoint::<1, 1024>(&data, d, s, o));
    row("default", "2x256", &|s, o| endpoint::<2, 256>(&data, d, s, o));
    row("default", "2x4096", &|s, o| endpoint::<2, 4096>(&data, d, s, o));
    row("default", "4x1024", &|s, o| endpoint::<4, 1024>(&data, d, s, o));
}
