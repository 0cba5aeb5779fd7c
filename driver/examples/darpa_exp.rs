//! Scratch experiments (not committed).
#![allow(clippy::needless_range_loop, missing_docs)]
use std::time::Instant;
use tcap_core::behavior::sketch::{SCORE_BIAS, SketchPolicy};
use tcap_driver::sim::darpa::*;

fn cpu() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid pointer to a timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn main() {
    let t0 = Instant::now();
    let data = load(std::path::Path::new(&std::env::args().nth(1).unwrap())).unwrap();
    eprintln!("loaded {} events in {:?}", data.len(), t0.elapsed());
    let which = std::env::args().nth(2).unwrap_or_default();
    let mut scores = vec![0u32; data.len()];
    let thr = |x: i64| ((x + SCORE_BIAS as i64) << 16) as u32;
    let time = |p: SketchPolicy, scores: &mut Vec<u32>, reps: u32| {
        let mut best = f64::MAX;
        for _ in 0..reps {
            let t = cpu();
            let mut sc = Box::new(tcap_core::behavior::sketch::EdgeScorer::<2, 1024>::with_policy(0x7ca9, p));
            for i in 0..data.len() {
                scores[i] = sc.observe(data.tick[i], data.src[i], data.dst[i]);
            }
            best = best.min(cpu() - t);
        }
        (roc_auc(scores, &data.attack).unwrap(), data.len() as f64 / best / 1e6)
    };
    if which == "ep" {
        use tcap_core::behavior::sketch::EndpointScorer;
        fn run<const R: usize, const C: usize>(
            data: &DarpaData,
            scores: &mut [u32],
            p: SketchPolicy,
            label: &str,
        ) {
            let mut aucs = vec![];
            for seed in 0..8u64 {
                let mut sc = Box::new(EndpointScorer::<R, C>::with_policy(0x7ca9 + seed, p));
                for i in 0..data.len() {
                    scores[i] = sc.observe(data.tick[i], data.src[i], data.dst[i]);
                }
                aucs.push(roc_auc(scores, &data.attack).unwrap());
            }
            let mean = aucs.iter().sum::<f64>() / aucs.len() as f64;
            let min = aucs.iter().cloned().fold(1.0, f64::min);
            let max = aucs.iter().cloned().fold(0.0, f64::max);
            println!("| {label} | {R}x{C} | {min:.4} | {mean:.4} | {max:.4} |");
        }
        let d = SketchPolicy::DEFAULT;
        run::<2, 1024>(&data, &mut scores, d, "default (thr 2^10, halve/tick)");
        run::<2, 1024>(&data, &mut scores, SketchPolicy::UNFILTERED, "unfiltered");
        for t in [3, 6, 14, 20] {
            run::<2, 1024>(
                &data,
                &mut scores,
                SketchPolicy { filter_threshold: thr(t), ..d },
                &format!("thr 2^{t}"),
            );
        }
        run::<2, 1024>(&data, &mut scores, SketchPolicy { decay_shift: 2, ..d }, "quarter/tick");
        run::<2, 1024>(&data, &mut scores, SketchPolicy { novelty_floor: 1, ..d }, "novelty floor 1");
        run::<1, 1024>(&data, &mut scores, d, "default");
        run::<2, 256>(&data, &mut scores, d, "default");
        run::<2, 4096>(&data, &mut scores, d, "default");
        run::<4, 1024>(&data, &mut scores, d, "default");
        return;
    }
    if which == "all" {
        for sc in [Scorer::Endpoint, Scorer::Edge, Scorer::EdgeUnfiltered] {
            let mut best = f64::MAX;
            for _ in 0..7 {
                let t = cpu();
                score(&data, sc, 0x7ca9, &mut scores);
                best = best.min(cpu() - t);
            }
            println!(
                "{sc:?} auc {:.4} cpu-best {:.1} M/s",
                roc_auc(&scores, &data.attack).unwrap(),
                data.len() as f64 / best / 1e6
            );
        }
        let mut f = vec![0f64; data.len()];
        let mut best = f64::MAX;
        for _ in 0..3 {
            let t = cpu();
            score_midas_r(&data, 0x7ca9, &mut f);
            best = best.min(cpu() - t);
        }
        println!(
            "MIDAS-R f64 auc {:.4} cpu-best {:.1} M/s",
            roc_auc(&f, &data.attack).unwrap(),
            data.len() as f64 / best / 1e6
        );
        return;
    }
    if which == "one" {
        for p in [SketchPolicy::DEFAULT, SketchPolicy::UNFILTERED] {
            let (auc, mps) = time(p, &mut scores, 9);
            println!("{p:?} auc {auc:.4} best {mps:.1} M/s");
        }
        return;
    }
    if which == "seeds" {
        fn run<const R: usize, const C: usize>(data: &DarpaData, scores: &mut [u32], p: SketchPolicy) {
            let mut aucs = vec![];
            for seed in 0..8u64 {
                let mut sc = Box::new(tcap_core::behavior::sketch::EdgeScorer::<R, C>::with_policy(
                    seed * 0x1234567 + 99,
                    p,
                ));
                for i in 0..data.len() {
                    scores[i] = sc.observe(data.tick[i], data.src[i], data.dst[i]);
                }
                aucs.push(roc_auc(scores, &data.attack).unwrap());
            }
            let mean = aucs.iter().sum::<f64>() / aucs.len() as f64;
            let min = aucs.iter().cloned().fold(1.0, f64::min);
            let max = aucs.iter().cloned().fold(0.0, f64::max);
            println!(
                "{R}x{C} thr {} nov {} ds {}: mean {mean:.4} min {min:.4} max {max:.4}",
                (p.filter_threshold >> 16) as i64 - SCORE_BIAS as i64,
                p.novelty_floor,
                p.decay_shift
            );
        }
        let arg = std::env::args().nth(3).unwrap_or_default();
        for t in [i64::MAX, 3, 6, 10, 14] {
            let p = SketchPolicy {
                filter_threshold: if t == i64::MAX { u32::MAX } else { thr(t) },
                ..SketchPolicy::DEFAULT
            };
            if arg == "1" {
                run::<1, 1024>(&data, &mut scores, p);
            } else {
                run::<2, 1024>(&data, &mut scores, p);
            }
        }
        return;
    }
    if which == "combo" {
        use tcap_core::behavior::sketch::PairSketch;
        for mask in 1..8u32 {
            let mut aucs = vec![];
            for seed in 0..4u64 {
                let mut e = Box::new(PairSketch::<2, 1024>::new(seed * 77 + 1));
                let mut sr = Box::new(PairSketch::<2, 1024>::new(seed * 77 + 2));
                let mut ds = Box::new(PairSketch::<2, 1024>::new(seed * 77 + 3));
                for i in 0..data.len() {
                    let (t, a, b) = (data.tick[i], data.src[i], data.dst[i]);
                    let mut m = 0;
                    if mask & 1 != 0 {
                        m = m.max(e.observe(t, a, b));
                    }
                    if mask & 2 != 0 {
                        m = m.max(sr.observe_node(t, a));
                    }
                    if mask & 4 != 0 {
                        m = m.max(ds.observe_node(t, b));
                    }
                    scores[i] = m;
                }
                aucs.push(roc_auc(&scores, &data.attack).unwrap());
            }
            println!(
                "mask {mask:03b} (dst,src,edge): {:?}",
                aucs.iter().map(|a| format!("{a:.4}")).collect::<Vec<_>>()
            );
        }
        return;
    }
    if which == "combo2" {
        use tcap_core::behavior::sketch::PairSketch;
        let names = [
            "max(s,d)",
            "s+d",
            "max(s,d,e-4)",
            "max(s,d,e-8)",
            "s",
            "max(s,d) 1row",
            "s+d+e",
            "max(s,d)+e/4",
        ];
        for v in 0..names.len() {
            let mut aucs = vec![];
            for seed in 0..4u64 {
                let mut e = Box::new(PairSketch::<2, 1024>::new(seed * 77 + 1));
                let mut sr = Box::new(PairSketch::<2, 1024>::new(seed * 77 + 2));
                let mut ds = Box::new(PairSketch::<2, 1024>::new(seed * 77 + 3));
                let mut sr1 = Box::new(PairSketch::<1, 1024>::new(seed * 77 + 2));
                let mut ds1 = Box::new(PairSketch::<1, 1024>::new(seed * 77 + 3));
                for i in 0..data.len() {
                    let (t, a, b) = (data.tick[i], data.src[i], data.dst[i]);
                    let k = 1u32 << 16;
                    scores[i] = match v {
                        0 => sr.observe_node(t, a).max(ds.observe_node(t, b)),
                        1 => sr.observe_node(t, a).saturating_add(ds.observe_node(t, b)),
                        2 => sr
                            .observe_node(t, a)
                            .max(ds.observe_node(t, b))
                            .max(e.observe(t, a, b).saturating_sub(4 * k)),
                        3 => sr
                            .observe_node(t, a)
                            .max(ds.observe_node(t, b))
                            .max(e.observe(t, a, b).saturating_sub(8 * k)),
                        4 => sr.observe_node(t, a),
                        5 => sr1.observe_node(t, a).max(ds1.observe_node(t, b)),
                        6 => sr
                            .observe_node(t, a)
                            .saturating_add(ds.observe_node(t, b))
                            .saturating_add(e.observe(t, a, b)),
                        _ => sr
                            .observe_node(t, a)
                            .max(ds.observe_node(t, b))
                            .saturating_add(e.observe(t, a, b) / 4),
                    };
                }
                aucs.push(roc_auc(&scores, &data.attack).unwrap());
            }
            let mean = aucs.iter().sum::<f64>() / 4.0;
            println!(
                "{:14} mean {mean:.4} {:?}",
                names[v],
                aucs.iter().map(|a| format!("{a:.4}")).collect::<Vec<_>>()
            );
        }
        return;
    }
    if which == "geo" {
        fn run<const R: usize, const C: usize>(data: &DarpaData, scores: &mut [u32]) {
            let mut best = f64::MAX;
            for _ in 0..5 {
                let t = cpu();
                let mut sc = Box::new(tcap_core::behavior::sketch::EdgeScorer::<R, C>::new(0x7ca9));
                for i in 0..data.len() {
                    scores[i] = sc.observe(data.tick[i], data.src[i], data.dst[i]);
                }
                best = best.min(cpu() - t);
            }
            let auc = roc_auc(scores, &data.attack).unwrap();
            println!("{R}x{C} auc {auc:.4} {:.1} M/s", data.len() as f64 / best / 1e6);
        }
        run::<1, 1024>(&data, &mut scores);
        run::<1, 2048>(&data, &mut scores);
        run::<2, 512>(&data, &mut scores);
        run::<2, 1024>(&data, &mut scores);
        run::<2, 4096>(&data, &mut scores);
        run::<3, 1024>(&data, &mut scores);
        run::<4, 1024>(&data, &mut scores);
        return;
    }
    if which == "peer" {
        let mut f = vec![0f64; data.len()];
        let t = Instant::now();
        let mut m = peer::MidasR::new(ROWS, COLS, 0x7ca9);
        for i in 0..data.len() {
            f[i] = m.observe(data.tick[i], data.src[i], data.dst[i]);
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "peer MIDAS-R f64 auc {:.4} {:.1} M/s",
            roc_auc(&f, &data.attack).unwrap(),
            data.len() as f64 / s / 1e6
        );
    }
    for ds in [1u8, 2] {
        for ft in [u32::MAX, thr(3), thr(4), thr(6), thr(8), thr(10), thr(12), thr(14)] {
            for nov in [0u32, 1] {
                let p = SketchPolicy { decay_shift: ds, filter_threshold: ft, novelty_floor: nov };
                let (auc, mps) = time(p, &mut scores, 1);
                println!(
                    "ds {ds} thr {} nov {nov} auc {auc:.4} {mps:.1} M/s",
                    (ft >> 16) as i64 - SCORE_BIAS as i64
                );
            }
        }
    }
}
