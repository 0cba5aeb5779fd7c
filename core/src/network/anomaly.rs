//! A node's anomaly window: the mean of the last [`ANOMALY_WINDOW`] signals, each a [`Q16`] level.

use super::fixed::{ONE_Q16, Q16};

/// Signals kept per node and per source (local evidence, peer reports): upstream's 20.
pub const ANOMALY_WINDOW: usize = 20;

/// A ring of the last [`ANOMALY_WINDOW`] levels with their running sum. O(1) push, O(1) mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    samples: [u32; ANOMALY_WINDOW],
    head: u8,
    count: u8,
    sum: u32,
}

impl Window {
    pub(crate) const EMPTY: Window = Window { samples: [0; ANOMALY_WINDOW], head: 0, count: 0, sum: 0 };

    /// Pushes a level (clamped to 1.0), evicting the oldest once full.
    pub(crate) fn push(&mut self, level: Q16) {
        let level = if level > ONE_Q16 { ONE_Q16 } else { level };
        let head = usize::from(self.head) % ANOMALY_WINDOW;
        if usize::from(self.count) == ANOMALY_WINDOW {
            self.sum -= self.samples[head];
        } else {
            self.count += 1;
        }
        self.samples[head] = level;
        self.sum += level;
        self.head = ((head + 1) % ANOMALY_WINDOW) as u8;
    }

    /// Number of signals held (at most [`ANOMALY_WINDOW`]).
    #[cfg(test)]
    pub(crate) fn count(&self) -> u8 {
        self.count
    }

    /// Mean of the held signals (rounded down), or `None` with fewer than `min` signals.
    pub(crate) fn mean(&self, min: u8) -> Option<Q16> {
        if self.count == 0 || self.count < min {
            return None;
        }
        Some(self.sum / u32::from(self.count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_over_the_last_twenty() {
        let mut w = Window::EMPTY;
        assert_eq!(w.mean(1), None);
        for _ in 0..ANOMALY_WINDOW {
            w.push(ONE_Q16);
        }
        assert_eq!(w.mean(1), Some(ONE_Q16));
        for i in 0..ANOMALY_WINDOW {
            w.push(0);
            let want = ONE_Q16 * (ANOMALY_WINDOW - 1 - i) as u32 / ANOMALY_WINDOW as u32;
            assert_eq!(w.mean(1), Some(want));
        }
        assert_eq!(w.count(), ANOMALY_WINDOW as u8);
    }

    #[test]
    fn min_signals_and_clamping() {
        let mut w = Window::EMPTY;
        w.push(u32::MAX);
        assert_eq!(w.mean(2), None);
        assert_eq!(w.mean(1), Some(ONE_Q16));
        w.push(0);
        assert_eq!(w.mean(2), Some(ONE_Q16 / 2));
    }
}
