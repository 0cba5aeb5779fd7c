//! Counters, a log2 latency histogram and the progress line.

use std::time::{Duration, Instant};

use tcap_core::wire::record::Decision;

use crate::stream::DecodeCounts;

/// A histogram of durations in nanoseconds, log-linear: values below 8 exactly, above that 8 buckets
/// per power of two (each 1/8 of its octave wide), so a quantile is known to within 12.5%.
#[derive(Clone, Debug)]
pub struct Histogram {
    buckets: [u64; BUCKETS],
    count: u64,
    max: u64,
}

/// Sub-buckets per power of two, as a shift.
const SUB: u32 = 3;
const BUCKETS: usize = (1 << SUB) + (64 - SUB as usize) * (1 << SUB);

/// The bucket of `ns`.
const fn bucket(ns: u64) -> usize {
    if ns < 1 << SUB {
        return ns as usize;
    }
    let e = 63 - ns.leading_zeros(); // >= SUB
    let sub = (ns >> (e - SUB)) & ((1 << SUB) - 1);
    ((1 << SUB) + (e - SUB) as u64 * (1 << SUB) + sub) as usize
}

/// The largest value bucket `b` holds.
const fn bucket_upper(b: usize) -> u64 {
    if b < 1 << SUB {
        return b as u64;
    }
    let e = (b - (1 << SUB)) as u32 / (1 << SUB) + SUB;
    let sub = ((b - (1 << SUB)) % (1 << SUB)) as u64;
    let lo = ((1 << SUB) + sub) << (e - SUB);
    lo.saturating_add((1u64 << (e - SUB)) - 1)
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { buckets: [0; BUCKETS], count: 0, max: 0 }
    }
}

impl Histogram {
    /// Records one duration in nanoseconds.
    pub fn record(&mut self, ns: u64) {
        if let Some(b) = self.buckets.get_mut(bucket(ns)) {
            *b += 1;
        }
        self.count += 1;
        self.max = self.max.max(ns);
    }
    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.buckets.iter_mut().zip(other.buckets) {
            *a += b;
        }
        self.count += other.count;
        self.max = self.max.max(other.max);
    }
    /// Largest sample.
    pub fn max(&self) -> u64 {
        self.max
    }
    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.count
    }
    /// Upper bound (in ns) of the bucket holding quantile `q` (in parts per million: 500_000 = p50), or
    /// 0 with no samples: the true quantile is at most this and more than 8/9 of it.
    pub fn quantile_ppm(&self, q: u64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = (self.count as u128 * q.min(1_000_000) as u128).div_ceil(1_000_000).max(1) as u64;
        let mut seen = 0;
        for (b, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return bucket_upper(b).min(self.max);
            }
        }
        self.max
    }
    /// `p50 … p99 … p99.9 … max` in readable units.
    pub fn summary(&self) -> String {
        format!(
            "p50 ≤ {}  p99 ≤ {}  p99.9 ≤ {}  max {}  (n={})",
            fmt_ns(self.quantile_ppm(500_000)),
            fmt_ns(self.quantile_ppm(990_000)),
            fmt_ns(self.quantile_ppm(999_000)),
            fmt_ns(self.max),
            self.count
        )
    }
}

/// Formats nanoseconds as ns/µs/ms/s.
pub fn fmt_ns(ns: u64) -> String {
    match ns {
        0..1_000 => format!("{ns} ns"),
        1_000..1_000_000 => format!("{:.1} µs", ns as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} ms", ns as f64 / 1e6),
        _ => format!("{:.2} s", ns as f64 / 1e9),
    }
}

/// Counters of one `tcapd` process.
#[derive(Clone, Debug)]
pub struct Stats {
    /// When the work started.
    pub started: Instant,
    /// Bytes read.
    pub bytes_in: u64,
    /// Bytes written.
    pub bytes_out: u64,
    /// Read completions / read() calls that returned data.
    pub reads: u64,
    /// Write completions / write() calls.
    pub writes: u64,
    /// Event and decision counts.
    pub counts: DecodeCounts,
    /// Streams (connections) accepted (serve).
    pub streams: u64,
    /// Streams closed for bad input.
    pub bad_streams: u64,
    /// Latency of a batch: from its input's arrival to the completion of the write of its decisions.
    pub latency: Histogram,
    /// What the I/O path used (io_uring features), for the report.
    pub io_detail: String,
    last_progress: Instant,
    last_events: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

impl Stats {
    /// Fresh counters, clock started now.
    pub fn new() -> Stats {
        let now = Instant::now();
        Stats {
            started: now,
            bytes_in: 0,
            bytes_out: 0,
            reads: 0,
            writes: 0,
            counts: DecodeCounts::default(),
            streams: 0,
            bad_streams: 0,
            latency: Histogram::default(),
            io_detail: String::new(),
            last_progress: now,
            last_events: 0,
        }
    }

    /// Events per second so far.
    pub fn events_per_sec(&self) -> f64 {
        self.counts.events as f64 / self.started.elapsed().as_secs_f64().max(1e-9)
    }

    /// The exit/SIGUSR1 report (several lines, no trailing newline).
    pub fn report(&self, io: &str) -> String {
        let el = self.started.elapsed();
        let c = &self.counts;
        let mut s = format!(
            "tcapd: {} events ({} calls, {} outcomes) in {:.3} s = {:.2} M events/s via {io}\n",
            c.events,
            c.events - c.outcomes,
            c.outcomes,
            el.as_secs_f64(),
            self.events_per_sec() / 1e6
        );
        s += "tcapd: decisions:";
        for d in Decision::ALL {
            s += &format!(" {} {}", d.as_str(), c.decisions[d as usize]);
        }
        s += &format!(
            "\ntcapd: bytes in {} out {}; reads {} writes {}",
            self.bytes_in, self.bytes_out, self.reads, self.writes
        );
        if self.streams > 0 {
            s += &format!("; streams {} (bad {})", self.streams, self.bad_streams);
        }
        s += &format!("\ntcapd: batch latency {}", self.latency.summary());
        if !self.io_detail.is_empty() {
            s += &format!("\ntcapd: {}", self.io_detail);
        }
        s
    }

    /// Prints a progress line on stderr if at least two seconds passed since the last one.
    pub fn progress(&mut self, quiet: bool) {
        if quiet {
            return;
        }
        let now = Instant::now();
        let dt = now - self.last_progress;
        if dt < Duration::from_secs(2) {
            return;
        }
        let de = self.counts.events - self.last_events;
        eprintln!(
            "tcapd: {:>8.2} M events, {:>6.2} M events/s now, {:>6.2} M events/s overall",
            self.counts.events as f64 / 1e6,
            de as f64 / dt.as_secs_f64() / 1e6,
            self.events_per_sec() / 1e6
        );
        self.last_progress = now;
        self.last_events = self.counts.events;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_bound_the_samples() {
        let mut h = Histogram::default();
        for ns in 1..=1000u64 {
            h.record(ns);
        }
        let p50 = h.quantile_ppm(500_000);
        assert!((500..=500 * 9 / 8).contains(&p50), "{p50}");
        let p999 = h.quantile_ppm(999_000);
        assert!((999..=1000).contains(&p999), "{p999}");
        assert_eq!(h.count(), 1000);
        assert_eq!(Histogram::default().quantile_ppm(990_000), 0);
        let mut one = Histogram::default();
        one.record(0);
        assert_eq!(one.quantile_ppm(500_000), 0);
    }

    #[test]
    fn buckets_tile_the_range_within_an_eighth() {
        // Every value lands in a bucket whose upper bound is at least it and at most 1/8 above it, and
        // consecutive buckets are contiguous, up to u64::MAX.
        let mut probes: Vec<u64> = (0..5000).collect();
        for e in 3..64 {
            let p = 1u64 << e;
            probes.extend([p - 1, p, p + 1, p + p / 3, p.saturating_mul(2).saturating_sub(1)]);
        }
        probes.push(u64::MAX);
        for v in probes {
            let b = bucket(v);
            assert!(b < BUCKETS, "{v}");
            let up = bucket_upper(b);
            assert!(up >= v && up - v <= v / 8, "{v} -> {up}");
            if b > 0 {
                assert!(bucket_upper(b - 1) < v, "{v}");
                assert_eq!(bucket(bucket_upper(b - 1) + 1), b, "{v}");
            }
        }
        assert_eq!(bucket_upper(BUCKETS - 1), u64::MAX);
    }
}
