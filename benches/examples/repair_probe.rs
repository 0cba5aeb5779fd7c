//! Scratch probe: quarantine/release cycles on the 1,024-node bench graph (for callgrind/cachegrind).
//! `repair_probe K` quarantines and releases K nodes and prints the mean quarantine time; instructions
//! per quarantine: `(Ir(48) − Ir(16)) / 32` under `--toggle-collect='*quarantine_one*'`.
use std::collections::HashSet;
use std::hint::black_box;
use std::time::Instant;
use tcap_core::network::{Network, NetworkBuffers, NetworkConfig, NodeId, NodeState};
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
const N: usize = 1024;
const D: usize = 16;
/// One quarantine, out of line so that callgrind can count it alone:
/// `valgrind --tool=callgrind --toggle-collect='*quarantine_one*' target/release/examples/repair_probe 48`.
#[inline(never)]
fn quarantine_one(net: &mut Network<'_, D>, v: NodeId) {
    black_box(net.set_state(0, v, NodeState::Quarantined).unwrap());
}

fn main() {
    let k: u32 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(64);
    let mut bufs = NetworkBuffers::<D>::new(N);
    let mut net = Network::<D>::new(NetworkConfig::DEFAULT, N, bufs.storage()).unwrap();
    let mut rng = Rng(7);
    let mut seen = HashSet::new();
    let mut deg = vec![0usize; N];
    let mut edges = Vec::new();
    let mut push = |a: u64, b: u64, w: u16| {
        let (a, b) = (a as usize, b as usize);
        if a != b && deg[a] < D && deg[b] < D && seen.insert((a.min(b), a.max(b))) {
            deg[a] += 1;
            deg[b] += 1;
            edges.push((a as NodeId, b as NodeId, w));
        }
    };
    for i in 0..N as u64 {
        let w = 1 + rng.below(16) as u16;
        push(i, (i + 1) % N as u64, w);
    }
    for i in 0..N as u64 {
        for _ in 0..3 {
            let (b, w) = (rng.below(N as u64), 1 + rng.below(16) as u16);
            push(i, b, w);
        }
    }
    net.add_edges(edges).unwrap();
    let mut q = std::time::Duration::ZERO;
    for i in 0..k {
        let v = (i * 97 + 5) % N as u32;
        let t0 = Instant::now();
        quarantine_one(&mut net, v);
        q += t0.elapsed();
        net.set_state(0, v, NodeState::Healthy).unwrap();
    }
    eprintln!("quarantine mean {:?}", q / k);
}
