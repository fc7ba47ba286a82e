//! Writer metrics: queue backlog, fsync count and an fsync latency histogram in Prometheus histogram shape.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the fsync latency buckets: 100 µs to 2.5 s covers SSDs through slow network disks.
pub const FSYNC_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

/// A snapshot of the writer's metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct Metrics {
    /// Events appended but not yet written to the segment file.
    pub queue_backlog: u64,
    /// fsyncs of segment files since open.
    pub fsyncs: u64,
    /// Latency of those fsyncs.
    pub fsync_seconds: Histogram,
}

/// Prometheus histogram data: `buckets[i] = (le, cumulative count)`, plus `+Inf` implied by `count`.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    /// (upper bound in seconds, observations ≤ that bound).
    pub buckets: Vec<(f64, u64)>,
    /// Sum of all observations in seconds.
    pub sum: f64,
    /// Number of observations (the `+Inf` bucket).
    pub count: u64,
}

/// Shared counters, written by the writer thread and read by anyone.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) backlog: AtomicU64,
    pub(crate) fsyncs: AtomicU64,
    /// Non-cumulative per-bucket counts, the overflow bucket last, and the sum in seconds.
    fsync_hist: Mutex<([u64; FSYNC_BUCKETS.len() + 1], f64)>,
}

impl Counters {
    pub(crate) fn record_fsync(&self, took: Duration) {
        self.fsyncs.fetch_add(1, Ordering::Relaxed);
        let secs = took.as_secs_f64();
        let i = FSYNC_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(FSYNC_BUCKETS.len());
        // A poisoned lock only means a panic elsewhere mid-update of plain numbers; the data is still usable.
        let mut h = self.fsync_hist.lock().unwrap_or_else(|p| p.into_inner());
        h.0[i] += 1;
        h.1 += secs;
    }

    pub(crate) fn snapshot(&self) -> Metrics {
        let h = self.fsync_hist.lock().unwrap_or_else(|p| p.into_inner());
        let mut cumulative = 0;
        let buckets = FSYNC_BUCKETS
            .iter()
            .zip(h.0.iter())
            .map(|(le, n)| {
                cumulative += n;
                (*le, cumulative)
            })
            .collect();
        Metrics {
            queue_backlog: self.backlog.load(Ordering::Relaxed),
            fsyncs: self.fsyncs.load(Ordering::Relaxed),
            fsync_seconds: Histogram {
                buckets,
                sum: h.1,
                count: h.0.iter().sum(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let c = Counters::default();
        c.record_fsync(Duration::from_micros(50));
        c.record_fsync(Duration::from_millis(3));
        c.record_fsync(Duration::from_secs(10));
        let m = c.snapshot();
        assert_eq!(m.fsyncs, 3);
        assert_eq!(m.fsync_seconds.count, 3);
        assert_eq!(m.fsync_seconds.buckets[0], (0.0001, 1));
        assert_eq!(m.fsync_seconds.buckets[5], (0.005, 2));
        assert_eq!(m.fsync_seconds.buckets.last().map(|b| b.1), Some(2));
    }
}
