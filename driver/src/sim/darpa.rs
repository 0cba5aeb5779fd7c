//! `tcapd simulate darpa`: the DARPA 1998 intrusion-detection edge stream, scored by tcap's sketch scorer.
//!
//! Each row `src_ip,dst_ip,MM/DD/YYYY-HH:MM,label` becomes an event (agent = source host, tool =
//! destination host, tick = minute) with the processing the streaming-detector literature uses: node id =
//! index of the IP in the sorted union of all IPs, tick = 1 + index of the minute among the sorted
//! distinct minutes, label = attack unless `-`; events are scored in file order.
//!
//! The report gives the exact ROC-AUC of the scores, the throughput of the scoring loop alone (data
//! preloaded, best of a few repetitions, as the published peer was timed), and the same for an integer
//! port of MIDAS-R run in the same process, beside the published MIDAS figures measured on this machine.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use tcap_core::behavior::sketch::{EdgeScorer, EndpointScorer, SketchPolicy};

/// Sketch rows used by the DARPA evaluation (as MIDAS).
pub const ROWS: usize = 2;
/// Sketch columns used by the DARPA evaluation (as MIDAS).
pub const COLS: usize = 1024;

/// Options of `tcapd simulate darpa`.
#[derive(Clone, Debug)]
pub struct DarpaOptions {
    /// The zip (`darpa_original.zip`) or the unzipped CSV.
    pub input: PathBuf,
    /// Timed repetitions of each scoring loop; the best is reported.
    pub repeats: u32,
    /// Seed of the sketch hashes.
    pub seed: u64,
    /// Seeds over which the headline scorer's AUC spread is reported (untimed).
    pub seeds: u32,
}

impl DarpaOptions {
    /// Defaults for `input`: 5 timed repetitions, seed 0x7ca9, AUC spread over 8 seeds.
    pub fn new(input: impl Into<PathBuf>) -> Self {
        Self { input: input.into(), repeats: 5, seed: 0x7ca9, seeds: 8 }
    }
}

/// The stream in memory, as compact parallel arrays in file order.
#[derive(Clone, Debug, Default)]
pub struct DarpaData {
    /// Source node ids.
    pub src: Vec<u32>,
    /// Destination node ids.
    pub dst: Vec<u32>,
    /// Ticks (1-based minute index).
    pub tick: Vec<u32>,
    /// `true` for attack rows.
    pub attack: Vec<bool>,
    /// Number of distinct hosts.
    pub hosts: u32,
    /// Number of distinct minutes.
    pub minutes: u32,
}

impl DarpaData {
    /// Number of events.
    pub fn len(&self) -> usize {
        self.src.len()
    }

    /// `true` when there are no events.
    pub fn is_empty(&self) -> bool {
        self.src.is_empty()
    }

    /// Number of attack events.
    pub fn attacks(&self) -> usize {
        self.attack.iter().filter(|&&a| a).count()
    }
}

/// Why the stream could not be loaded.
#[derive(Debug)]
pub enum DarpaError {
    /// The file could not be read.
    Io(PathBuf, io::Error),
    /// The zip archive is unreadable or holds no CSV.
    Zip(PathBuf, String),
    /// A row does not have the expected shape (1-based line number).
    Parse {
        /// Line number (1-based).
        line: u64,
        /// What was wrong.
        what: &'static str,
    },
    /// The file holds no rows.
    Empty,
}

impl fmt::Display for DarpaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(p, e) => write!(f, "{}: {e}", p.display()),
            Self::Zip(p, e) => write!(f, "{}: zip: {e}", p.display()),
            Self::Parse { line, what } => write!(f, "line {line}: {what}"),
            Self::Empty => f.write_str("no rows"),
        }
    }
}

impl std::error::Error for DarpaError {}

/// Loads `opts.input` and runs the evaluation: what `tcapd simulate darpa` does.
pub fn simulate(opts: &DarpaOptions) -> Result<DarpaReport, DarpaError> {
    let data = load(&opts.input)?;
    Ok(run(&data, opts))
}

/// Loads the stream from the zip or the unzipped CSV at `path` (decided by its first bytes).
pub fn load(path: &Path) -> Result<DarpaData, DarpaError> {
    let io_err = |e| DarpaError::Io(path.to_path_buf(), e);
    let mut file = File::open(path).map_err(io_err)?;
    let mut magic = [0u8; 4];
    let n = file.read(&mut magic).map_err(io_err)?;
    drop(file);
    let file = File::open(path).map_err(io_err)?;
    if n == 4 && magic == *b"PK\x03\x04" {
        let zip_err = |e: zip::result::ZipError| DarpaError::Zip(path.to_path_buf(), e.to_string());
        let mut archive = zip::ZipArchive::new(file).map_err(zip_err)?;
        let index = (0..archive.len())
            .find(|&i| archive.name_for_index(i).is_some_and(|n| n.ends_with(".csv")))
            .ok_or_else(|| DarpaError::Zip(path.to_path_buf(), "no .csv member".into()))?;
        let member = archive.by_index(index).map_err(zip_err)?;
        parse(BufReader::with_capacity(1 << 20, member)).map_err(|e| match e {
            DarpaError::Io(_, e) => io_err(e),
            e => e,
        })
    } else {
        parse(BufReader::with_capacity(1 << 20, file)).map_err(|e| match e {
            DarpaError::Io(_, e) => io_err(e),
            e => e,
        })
    }
}

/// An IP string as a fixed key that sorts like the string (NUL-padded).
type IpKey = [u8; 16];

fn ip_key(field: &[u8]) -> Option<IpKey> {
    if field.is_empty() || field.len() > 16 {
        return None;
    }
    let mut k = [0u8; 16];
    k[..field.len()].copy_from_slice(field);
    Some(k)
}

/// `MM/DD/YYYY-HH:MM` as the sortable number `YYYYMMDDHHMM`.
fn minute_key(f: &[u8]) -> Option<u64> {
    if f.len() != 16 || f[2] != b'/' || f[5] != b'/' || f[10] != b'-' || f[13] != b':' {
        return None;
    }
    let num = |s: &[u8]| -> Option<u64> {
        s.iter().try_fold(0u64, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as u64))
    };
    let (mo, d, y, h, mi) =
        (num(&f[0..2])?, num(&f[3..5])?, num(&f[6..10])?, num(&f[11..13])?, num(&f[14..16])?);
    Some((((y * 100 + mo) * 100 + d) * 100 + h) * 100 + mi)
}

/// Parses the CSV rows and applies the standard id/time mapping.
pub fn parse(mut reader: impl BufRead) -> Result<DarpaData, DarpaError> {
    let mut ips: HashMap<IpKey, u32> = HashMap::new();
    let mut minutes: HashMap<u64, u32> = HashMap::new();
    let mut data = DarpaData::default();
    let mut line = Vec::with_capacity(128);
    let mut lineno = 0u64;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(|e| DarpaError::Io(PathBuf::new(), e))?;
        if n == 0 {
            break;
        }
        lineno += 1;
        let row = line.trim_ascii_end();
        if row.is_empty() {
            continue;
        }
        let mut fields = row.split(|&c| c == b',');
        let bad = |what| DarpaError::Parse { line: lineno, what };
        let src = fields.next().and_then(ip_key).ok_or(bad("source ip"))?;
        let dst = fields.next().and_then(ip_key).ok_or(bad("destination ip"))?;
        let minute = fields.next().and_then(minute_key).ok_or(bad("minute"))?;
        let label = fields.next().ok_or(bad("label"))?;
        if fields.next().is_some() {
            return Err(bad("too many fields"));
        }
        let next = ips.len() as u32;
        let s = *ips.entry(src).or_insert(next);
        let next = ips.len() as u32;
        let d = *ips.entry(dst).or_insert(next);
        let next = minutes.len() as u32;
        let t = *minutes.entry(minute).or_insert(next);
        data.src.push(s);
        data.dst.push(d);
        data.tick.push(t);
        data.attack.push(label != b"-");
    }
    if data.is_empty() {
        return Err(DarpaError::Empty);
    }
    // Provisional ids (first seen) → ranks in sorted order.
    let mut sorted: Vec<(IpKey, u32)> = ips.into_iter().collect();
    sorted.sort_unstable();
    let mut ip_rank = vec![0u32; sorted.len()];
    for (rank, &(_, id)) in sorted.iter().enumerate() {
        ip_rank[id as usize] = rank as u32;
    }
    let mut sorted: Vec<(u64, u32)> = minutes.into_iter().collect();
    sorted.sort_unstable();
    let mut minute_rank = vec![0u32; sorted.len()];
    for (rank, &(_, id)) in sorted.iter().enumerate() {
        minute_rank[id as usize] = rank as u32 + 1;
    }
    for v in data.src.iter_mut().chain(data.dst.iter_mut()) {
        *v = ip_rank[*v as usize];
    }
    for t in data.tick.iter_mut() {
        *t = minute_rank[*t as usize];
    }
    data.hosts = ip_rank.len() as u32;
    data.minutes = minute_rank.len() as u32;
    Ok(data)
}

/// Exact ROC-AUC of `scores` against `labels` (ties get the average rank), or `None` without both classes.
pub fn roc_auc<S: PartialOrd + Copy>(scores: &[S], labels: &[bool]) -> Option<f64> {
    let n = scores.len().min(labels.len());
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.sort_unstable_by(|&a, &b| {
        scores[a as usize].partial_cmp(&scores[b as usize]).unwrap_or(std::cmp::Ordering::Equal)
    });
    let (mut rank_sum_pos, mut pos) = (0f64, 0u64);
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        let s = scores[order[i] as usize];
        while j < n && scores[order[j] as usize].partial_cmp(&s) == Some(std::cmp::Ordering::Equal) {
            j += 1;
        }
        // Ranks i+1 ..= j, average (i + 1 + j) / 2.
        let avg = (i + 1 + j) as f64 / 2.0;
        let p = order[i..j].iter().filter(|&&k| labels[k as usize]).count() as u64;
        rank_sum_pos += avg * p as f64;
        pos += p;
        i = j;
    }
    let neg = n as u64 - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let (p, q) = (pos as f64, neg as f64);
    Some((rank_sum_pos - p * (p + 1.0) / 2.0) / (p * q))
}

/// One detector's result.
#[derive(Clone, Debug, Serialize)]
pub struct DetectorFigures {
    /// Detector name.
    pub detector: String,
    /// ROC-AUC of its scores (exact, ties averaged).
    pub auc: f64,
    /// Events per second of the scoring loop (best repetition).
    pub events_per_s: f64,
    /// Nanoseconds per event of the scoring loop (best repetition).
    pub ns_per_event: f64,
    /// Events per second of the thread's CPU time in the scoring loop (best repetition): what one core
    /// delivers, insensitive to other processes sharing the machine (`None` for quoted figures).
    pub cpu_events_per_s: Option<f64>,
    /// `true`: measured in this run; `false`: the peer's figures measured on this machine, quoted.
    pub measured: bool,
}

/// ROC-AUC of the headline scorer over several hash seeds (sketch collisions depend on the seed).
#[derive(Clone, Debug, Serialize)]
pub struct SeedSpread {
    /// Seeds tried (`seed`, `seed + 1`, …).
    pub seeds: u32,
    /// Lowest AUC.
    pub min: f64,
    /// Mean AUC.
    pub mean: f64,
    /// Highest AUC.
    pub max: f64,
}

/// The report of `tcapd simulate darpa`.
#[derive(Clone, Debug, Serialize)]
pub struct DarpaReport {
    /// Events scored.
    pub events: usize,
    /// Attack events among them.
    pub attacks: usize,
    /// Distinct hosts.
    pub hosts: u32,
    /// Distinct minutes.
    pub minutes: u32,
    /// Geometry (rows, columns) of every sketch.
    pub sketch: (usize, usize),
    /// tcap's scorer (the headline figures).
    pub tcap: DetectorFigures,
    /// The headline scorer's AUC over several seeds.
    pub seed_spread: SeedSpread,
    /// All detectors: tcap's scorers, the in-run MIDAS-R port, and the peer figures measured here.
    pub detectors: Vec<DetectorFigures>,
    /// Throughput of the headline scorer over the in-run f64 MIDAS-R port.
    pub speedup_vs_midas_r_port: f64,
    /// The bar of issue 3: AUC ≥ 0.95 at ≥ 30 M events/s on one core (wall-clock or, on a machine
    /// shared with other work, the thread's CPU time).
    pub meets_bar: bool,
}

impl fmt::Display for DarpaReport {
    /// A plain-text table for the terminal (`--json` prints the struct instead).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "DARPA 1998: {} events ({} attacks), {} hosts, {} minutes; sketches {}x{}",
            self.events, self.attacks, self.hosts, self.minutes, self.sketch.0, self.sketch.1
        )?;
        writeln!(
            f,
            "{:<46} {:>7} {:>10} {:>9} {:>12}",
            "detector", "ROC-AUC", "M ev/s", "ns/ev", "M ev/s (cpu)"
        )?;
        for d in &self.detectors {
            let cpu = d.cpu_events_per_s.map_or_else(|| "-".to_string(), |c| format!("{:.1}", c / 1e6));
            let mark = if d.measured { "" } else { " *" };
            writeln!(
                f,
                "{:<46} {:>7.4} {:>10.1} {:>9.1} {:>12}",
                format!("{}{mark}", d.detector),
                d.auc,
                d.events_per_s / 1e6,
                d.ns_per_event,
                cpu
            )?;
        }
        writeln!(f, "* C++ peer, figures measured on this machine (shared/data/README.md)")?;
        writeln!(
            f,
            "AUC over {} seeds: min {:.4} mean {:.4} max {:.4}; {:.1}x the in-run MIDAS-R port's speed",
            self.seed_spread.seeds,
            self.seed_spread.min,
            self.seed_spread.mean,
            self.seed_spread.max,
            self.speedup_vs_midas_r_port
        )?;
        write!(
            f,
            "bar (AUC >= 0.95 at >= 30 M events/s on one core): {}",
            if self.meets_bar { "met" } else { "NOT met" }
        )
    }
}

/// Which of tcap's scorers to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Scorer {
    /// `EndpointScorer`: source and destination sketches, filtered (the headline).
    Endpoint,
    /// `EdgeScorer`: edge, source and destination sketches, filtered (MIDAS-F's shape).
    Edge,
    /// `EdgeScorer` without filtering: the integer counterpart of MIDAS-R.
    EdgeUnfiltered,
}

impl Scorer {
    /// A human-readable name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Endpoint => "tcap EndpointScorer (src+dst, filtered)",
            Self::Edge => "tcap EdgeScorer (edge+src+dst, filtered)",
            Self::EdgeUnfiltered => "tcap EdgeScorer unfiltered (integer MIDAS-R)",
        }
    }
}

/// Seconds of CPU time consumed by the calling thread.
fn thread_cpu_secs() -> f64 {
    use nix::time::{ClockId, clock_gettime};
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(|t| t.tv_sec() as f64 + t.tv_nsec() as f64 * 1e-9)
        .unwrap_or(f64::NAN)
}

/// Best wall-clock and best thread-CPU seconds of `repeats` runs of `f`.
#[derive(Clone, Copy, Debug)]
struct Timing {
    wall: f64,
    cpu: f64,
}

/// Times `f` `repeats` times; returns the best wall-clock and CPU seconds.
fn best_of(repeats: u32, mut f: impl FnMut()) -> Timing {
    let mut best = Timing { wall: f64::INFINITY, cpu: f64::INFINITY };
    for _ in 0..repeats.max(1) {
        let c0 = thread_cpu_secs();
        let t0 = Instant::now();
        f();
        best.wall = best.wall.min(t0.elapsed().as_secs_f64());
        best.cpu = best.cpu.min(thread_cpu_secs() - c0);
    }
    best
}

fn figures(name: &str, auc: f64, t: Timing, events: usize) -> DetectorFigures {
    DetectorFigures {
        detector: name.into(),
        auc,
        events_per_s: events as f64 / t.wall,
        ns_per_event: t.wall * 1e9 / events as f64,
        cpu_events_per_s: (t.cpu > 0.0).then(|| events as f64 / t.cpu),
        measured: true,
    }
}

/// Scores the whole stream, in file order, with a fresh scorer of kind `scorer` into `out`.
pub fn score(data: &DarpaData, scorer: Scorer, seed: u64, out: &mut [u32]) {
    let events = out.iter_mut().zip(&data.tick).zip(&data.src).zip(&data.dst);
    match scorer {
        Scorer::Endpoint => {
            let mut sc = Box::new(EndpointScorer::<ROWS, COLS>::new(seed));
            for (((o, &t), &s), &d) in events {
                *o = sc.observe(t, s, d);
            }
        }
        Scorer::Edge | Scorer::EdgeUnfiltered => {
            let policy =
                if scorer == Scorer::Edge { SketchPolicy::DEFAULT } else { SketchPolicy::UNFILTERED };
            let mut sc = Box::new(EdgeScorer::<ROWS, COLS>::with_policy(seed, policy));
            for (((o, &t), &s), &d) in events {
                *o = sc.observe(t, s, d);
            }
        }
    }
}

/// Scores the whole stream with the f64 MIDAS-R port into `out`.
pub fn score_midas_r(data: &DarpaData, seed: u64, out: &mut [f64]) {
    let mut m = peer::MidasR::new(ROWS, COLS, seed);
    let events = out.iter_mut().zip(&data.tick).zip(&data.src).zip(&data.dst);
    for (((o, &t), &s), &d) in events {
        *o = m.observe(t, s, d);
    }
}

/// Runs the evaluation on preloaded data.
pub fn run(data: &DarpaData, opts: &DarpaOptions) -> DarpaReport {
    let n = data.len();
    let mut scores = vec![0u32; n];
    let mut detectors = Vec::new();
    for scorer in [Scorer::Endpoint, Scorer::Edge, Scorer::EdgeUnfiltered] {
        let t = best_of(opts.repeats, || score(data, scorer, opts.seed, &mut scores));
        let auc = roc_auc(&scores, &data.attack).unwrap_or(f64::NAN);
        detectors.push(figures(scorer.name(), auc, t, n));
    }
    let mut fscores = vec![0f64; n];
    let peer = best_of(opts.repeats, || score_midas_r(data, opts.seed, &mut fscores));
    let auc = roc_auc(&fscores, &data.attack).unwrap_or(f64::NAN);
    detectors.push(figures("MIDAS-R f64 port (in-run peer)", auc, peer, n));

    let mut aucs = vec![detectors[0].auc];
    for k in 1..opts.seeds.max(1) {
        score(data, Scorer::Endpoint, opts.seed.wrapping_add(k as u64), &mut scores);
        aucs.push(roc_auc(&scores, &data.attack).unwrap_or(f64::NAN));
    }
    let seed_spread = SeedSpread {
        seeds: aucs.len() as u32,
        min: aucs.iter().copied().fold(f64::INFINITY, f64::min),
        mean: aucs.iter().sum::<f64>() / aucs.len() as f64,
        max: aucs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    };

    for (name, auc, mps) in PUBLISHED {
        detectors.push(DetectorFigures {
            detector: (*name).into(),
            auc: *auc,
            events_per_s: mps * 1e6,
            ns_per_event: 1e3 / mps,
            cpu_events_per_s: None,
            measured: false,
        });
    }
    let tcap = detectors[0].clone();
    let cpu_rate = tcap.cpu_events_per_s.unwrap_or(0.0);
    DarpaReport {
        events: n,
        attacks: data.attacks(),
        hosts: data.hosts,
        minutes: data.minutes,
        sketch: (ROWS, COLS),
        meets_bar: tcap.auc >= 0.95 && tcap.events_per_s.max(cpu_rate) >= 30e6,
        speedup_vs_midas_r_port: tcap.events_per_s * peer.wall / n as f64,
        seed_spread,
        tcap,
        detectors,
    }
}

/// MIDAS C++ (-O3 -march=native) measured on this machine: name, ROC-AUC, M events/s.
pub const PUBLISHED: &[(&str, f64, f64)] = &[
    ("MIDAS (C++, peer figures)", 0.894, 62.2),
    ("MIDAS-R (C++, peer figures)", 0.949, 15.2),
    ("MIDAS-F (C++, peer figures)", 0.984, 6.0),
];

/// Float reference ports of the MIDAS family, written from the paper and used as in-run peers.
pub mod peer {
    /// Count-min sketch of `f64` counts with MIDAS's `(a·p + b·q) mod cols` row hashes.
    #[derive(Clone, Debug)]
    struct Cms {
        data: Vec<f64>,
    }

    /// MIDAS-R: decayed current counts (factor 0.5 per tick, applied to the whole sketch on a tick
    /// change), total counts, edge + source + destination sketches, score = max of the three χ².
    #[derive(Clone, Debug)]
    pub struct MidasR {
        rows: usize,
        cols: usize,
        p: Vec<u64>,
        q: Vec<u64>,
        tick: u32,
        cur: [Cms; 3],
        total: [Cms; 3],
        idx: Vec<usize>,
    }

    impl MidasR {
        /// A fresh detector with `rows × cols` sketches and hash parameters from `seed`.
        pub fn new(rows: usize, cols: usize, seed: u64) -> Self {
            let mut state = seed;
            let mut next = || {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (state >> 33) + 1
            };
            let p = (0..rows * 3).map(|_| next()).collect();
            let q = (0..rows * 3).map(|_| next()).collect();
            let cms = || Cms { data: vec![0.0; rows * cols] };
            Self {
                rows,
                cols,
                p,
                q,
                tick: 1,
                cur: [cms(), cms(), cms()],
                total: [cms(), cms(), cms()],
                idx: vec![0; rows],
            }
        }

        fn chi2(a: f64, s: f64, t: f64) -> f64 {
            if s == 0.0 || t - 1.0 == 0.0 { 0.0 } else { ((a - s / t) * t).powi(2) / (s * (t - 1.0)) }
        }

        /// Scores one edge; ticks must not decrease.
        pub fn observe(&mut self, tick: u32, src: u32, dst: u32) -> f64 {
            if self.tick < tick {
                for c in &mut self.cur {
                    c.data.iter_mut().for_each(|v| *v *= 0.5);
                }
                self.tick = tick;
            }
            let t = tick as f64;
            let mut best = 0f64;
            for k in 0..3 {
                let (a, b) = match k {
                    0 => (src as u64, dst as u64),
                    1 => (src as u64, 0),
                    _ => (dst as u64, 0),
                };
                for r in 0..self.rows {
                    let h =
                        (a * self.p[k * self.rows + r] + b * self.q[k * self.rows + r]) % self.cols as u64;
                    self.idx[r] = r * self.cols + h as usize;
                }
                let (mut a_min, mut s_min) = (f64::INFINITY, f64::INFINITY);
                for &i in &self.idx {
                    self.cur[k].data[i] += 1.0;
                    self.total[k].data[i] += 1.0;
                    a_min = a_min.min(self.cur[k].data[i]);
                    s_min = s_min.min(self.total[k].data[i]);
                }
                best = best.max(Self::chi2(a_min, s_min, t));
            }
            best.ln_1p()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_handles_ties_and_order() {
        assert_eq!(roc_auc(&[1, 2, 3, 4], &[false, false, true, true]), Some(1.0));
        assert_eq!(roc_auc(&[4, 3, 2, 1], &[false, false, true, true]), Some(0.0));
        assert_eq!(roc_auc(&[5, 5, 5, 5], &[false, true, false, true]), Some(0.5));
        // One positive tied with one negative above another negative: (1 + 0.5) / 2.
        assert_eq!(roc_auc(&[1, 2, 2], &[false, false, true]), Some(0.75));
        assert_eq!(roc_auc(&[1, 2], &[true, true]), None);
    }

    #[test]
    fn parse_maps_ids_and_minutes_in_sorted_order() {
        let csv = "10.0.0.2,10.0.0.1,06/01/1998-08:01,-\n\
                   10.0.0.1,10.0.0.3,06/01/1998-07:55,smurf\n\
                   10.0.0.2,10.0.0.1,06/01/1998-08:01,-\n";
        let d = parse(csv.as_bytes()).unwrap();
        assert_eq!(d.src, [1, 0, 1]);
        assert_eq!(d.dst, [0, 2, 0]);
        assert_eq!(d.tick, [2, 1, 2]);
        assert_eq!(d.attack, [false, true, false]);
        assert_eq!((d.hosts, d.minutes), (3, 2));
        assert!(matches!(
            parse("a,b,06/01/1998-0801,-\n".as_bytes()),
            Err(DarpaError::Parse { line: 1, .. })
        ));
    }

    #[test]
    fn loads_zip_and_csv_alike() {
        use std::io::Write;
        let rows = "10.0.0.2,10.0.0.1,06/01/1998-08:01,-\n10.0.0.1,10.0.0.3,06/01/1998-07:55,smurf\n";
        let dir = std::env::temp_dir().join(format!("tcap-darpa-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let zip_path = dir.join("small.zip");
        let mut w = zip::ZipWriter::new(File::create(&zip_path).unwrap());
        let opts =
            zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        w.start_file("readme.txt", opts).unwrap();
        w.write_all(b"not the data").unwrap();
        w.start_file("small.csv", opts).unwrap();
        w.write_all(rows.as_bytes()).unwrap();
        w.finish().unwrap();
        let csv_path = dir.join("small.csv");
        std::fs::write(&csv_path, rows).unwrap();
        let (z, c) = (load(&zip_path).unwrap(), load(&csv_path).unwrap());
        assert_eq!((z.src, z.dst, z.tick, z.attack), (c.src, c.dst, c.tick, c.attack));
        // A zip without a CSV member is a typed error, not a panic.
        let empty = dir.join("empty.zip");
        let mut w = zip::ZipWriter::new(File::create(&empty).unwrap());
        w.start_file("x.txt", opts).unwrap();
        w.finish().unwrap();
        assert!(matches!(load(&empty), Err(DarpaError::Zip(..))));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn injected_burst_outscores_background() {
        // Background: 50 hosts, each sends to two fixed peers once per minute, for 300 minutes; then one
        // minute where host 7 floods host 30 (the attack).
        let mut data = DarpaData::default();
        for t in 1..=300u32 {
            for h in 0..50u32 {
                for peer in [(h + 1) % 50, (h + 13) % 50] {
                    data.src.push(h);
                    data.dst.push(peer);
                    data.tick.push(t);
                    data.attack.push(false);
                }
            }
            if t == 250 {
                for _ in 0..400 {
                    data.src.push(7);
                    data.dst.push(30);
                    data.tick.push(t);
                    data.attack.push(true);
                }
            }
        }
        let mut scores = vec![0u32; data.len()];
        for scorer in [Scorer::Endpoint, Scorer::Edge, Scorer::EdgeUnfiltered] {
            score(&data, scorer, 1, &mut scores);
            let auc = roc_auc(&scores, &data.attack).unwrap();
            assert!(auc > 0.99, "{scorer:?}: auc {auc}");
        }
    }
}
