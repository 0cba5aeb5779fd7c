//! The behaviour sketches (`tcap_core::behavior::sketch`) under arbitrary event sequences: arbitrary
//! policies, ticks that jump, repeat and go backwards, arbitrary keys. Built with overflow checks, so an
//! arithmetic overflow is a finding. Invariants: nothing panics; `EdgeScorer` scores exactly
//! `max(PairSketch, EndpointScorer)` built from the same seed and policy; scoring is deterministic and
//! `reset` gives back a fresh scorer; `log2_q16` is monotone and `tick_of` never panics.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use tcap_core::behavior::sketch::{
    EdgeScorer, EndpointScorer, PairSketch, SketchPolicy, log2_q16, score_of_log2, tick_of,
};

#[derive(Arbitrary, Debug)]
struct Input {
    seed: u64,
    policy: Option<(u8, u32, u32)>,
    /// (tick step, absolute tick instead of a step, a, b)
    events: Vec<(u16, Option<u32>, u16, u16)>,
    probes: (u64, u64, i32),
}

const R: usize = 2;
const C: usize = 64;

fuzz_target!(|input: Input| {
    let policy = match input.policy {
        None => SketchPolicy::DEFAULT,
        Some((decay_shift, filter_threshold, novelty_floor)) => {
            SketchPolicy { decay_shift, filter_threshold, novelty_floor }
        }
    };
    let (x, y, l) = input.probes;
    assert!(log2_q16(x.min(y)) <= log2_q16(x.max(y)));
    let _ = (tick_of(x, y), score_of_log2(l));

    let mut edge = EdgeScorer::<R, C>::with_policy(input.seed, policy);
    let mut pair = PairSketch::<R, C>::with_policy(input.seed, policy);
    let mut ends = EndpointScorer::<R, C>::with_policy(input.seed, policy);
    let mut tick = 0u32;
    let mut scores = Vec::with_capacity(input.events.len());
    let events: Vec<_> = input
        .events
        .iter()
        .take(512)
        .map(|&(step, abs, a, b)| {
            tick = abs.unwrap_or(tick.saturating_add(u32::from(step % 8)));
            (tick, u32::from(a % 32), u32::from(b % 32))
        })
        .collect();
    for &(t, a, b) in &events {
        let e = edge.observe(t, a, b);
        let p = pair.observe(t, a, b);
        let n = ends.observe(t, a, b);
        assert_eq!(e, p.max(n), "edge score is the max of its parts");
        scores.push(e);
    }
    edge.reset();
    for (&(t, a, b), &s) in events.iter().zip(&scores) {
        assert_eq!(edge.observe(t, a, b), s, "reset gives a fresh, deterministic scorer");
    }
});
