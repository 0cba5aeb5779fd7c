//! Scratch probe: quarantine/release cycles on the 1,024-node bench graph (for callgrind/cachegrind).
//! `repair_probe K` quarantines and releases K nodes and prints the mean quarantine time; instructions
//! per quarantine: `(Ir(48) − Ir(16)) / 32` under `--toggle-collect='*quarantine_one*'`.
use std::hint::black_box;
use std::time::Instant;
use tcap_core::network::{Network, NetworkBuffers, NetworkConfig, NodeId, NodeState};
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
    net.add_edges(tcap_benches::bench_graph(N, D)).unwrap();
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
