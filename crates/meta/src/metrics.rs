//! Counters and a commit-latency histogram for the committer, in Prometheus shape.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds, in seconds, of the commit-latency buckets. An fsync on a local SSD lands in the
/// sub-millisecond to tens-of-milliseconds range; the top buckets catch stalled disks.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Live counters, updated by the committer and by submitters with relaxed atomics: each counter
/// is read on its own, so no ordering between them is needed.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    submitted: AtomicU64,
    transactions: AtomicU64,
    aborted: AtomicU64,
    commits: AtomicU64,
    commit_failures: AtomicU64,
    // Non-cumulative per-bucket counts; the last slot is +Inf. Made cumulative on snapshot.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_sum_nanos: AtomicU64,
}

impl Metrics {
    pub(crate) fn submitted(&self) {
        self.submitted.fetch_add(1, Relaxed);
    }

    pub(crate) fn executed(&self, ok: bool) {
        self.transactions.fetch_add(1, Relaxed);
        if !ok {
            self.aborted.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn committed(&self, latency: Duration, ok: bool) {
        self.commits.fetch_add(1, Relaxed);
        if !ok {
            self.commit_failures.fetch_add(1, Relaxed);
        }
        let secs = latency.as_secs_f64();
        let slot = LATENCY_BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[slot].fetch_add(1, Relaxed);
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.latency_sum_nanos.fetch_add(nanos, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> MetricsSnapshot {
        let mut cumulative = 0;
        let mut buckets = Vec::with_capacity(LATENCY_BUCKETS.len());
        for (i, &le) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += self.buckets[i].load(Relaxed);
            buckets.push((le, cumulative));
        }
        let count = cumulative + self.buckets[LATENCY_BUCKETS.len()].load(Relaxed);
        let transactions = self.transactions.load(Relaxed);
        MetricsSnapshot {
            transactions,
            aborted_transactions: self.aborted.load(Relaxed),
            // Submitted is bumped before executed, so this never underflows; saturate anyway
            // because the two loads are not one atomic read.
            queue_depth: self.submitted.load(Relaxed).saturating_sub(transactions),
            commits: self.commits.load(Relaxed),
            commit_failures: self.commit_failures.load(Relaxed),
            commit_latency: Histogram {
                buckets,
                count,
                sum_seconds: Duration::from_nanos(self.latency_sum_nanos.load(Relaxed))
                    .as_secs_f64(),
            },
        }
    }
}

/// A point-in-time copy of the store's metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsSnapshot {
    /// Transactions the committer has run (committed, failed or panicked).
    pub transactions: u64,
    /// Transactions whose closure returned `Err` or panicked.
    pub aborted_transactions: u64,
    /// Transactions submitted whose closure has not finished running (queued or running).
    pub queue_depth: u64,
    /// Backend commits issued, one per non-empty group.
    pub commits: u64,
    /// Backend commits that failed.
    pub commit_failures: u64,
    /// Latency of backend commits.
    pub commit_latency: Histogram,
}

/// A Prometheus-style histogram: cumulative bucket counts, plus sum and count.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// `(upper bound in seconds, observations <= bound)`, ascending; `+Inf` is `count`.
    pub buckets: Vec<(f64, u64)>,
    /// Number of observations.
    pub count: u64,
    /// Sum of observations, in seconds.
    pub sum_seconds: f64,
}

impl MetricsSnapshot {
    /// Renders the snapshot in the Prometheus text exposition format, names prefixed `prefix_`.
    pub fn to_prometheus(&self, prefix: &str) -> String {
        let mut out = String::new();
        let counters = [
            (
                "transactions_total",
                "Metadata transactions run.",
                self.transactions,
            ),
            (
                "aborted_transactions_total",
                "Metadata transactions that returned an error or panicked.",
                self.aborted_transactions,
            ),
            ("commits_total", "Metadata backend commits.", self.commits),
            (
                "commit_failures_total",
                "Metadata backend commits that failed.",
                self.commit_failures,
            ),
        ];
        // Writing to a String cannot fail, so the fmt results are discarded.
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {prefix}_{name} {help}");
            let _ = writeln!(out, "# TYPE {prefix}_{name} counter");
            let _ = writeln!(out, "{prefix}_{name} {value}");
        }
        let _ = writeln!(
            out,
            "# HELP {prefix}_queue_depth Metadata transactions waiting."
        );
        let _ = writeln!(out, "# TYPE {prefix}_queue_depth gauge");
        let _ = writeln!(out, "{prefix}_queue_depth {}", self.queue_depth);
        let h = &self.commit_latency;
        let name = format!("{prefix}_commit_seconds");
        let _ = writeln!(out, "# HELP {name} Metadata backend commit latency.");
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (le, n) in &h.buckets {
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "{name}_sum {}", h.sum_seconds);
        let _ = writeln!(out, "{name}_count {}", h.count);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let m = Metrics::default();
        m.committed(Duration::from_micros(50), true);
        m.committed(Duration::from_millis(3), true);
        m.committed(Duration::from_secs(10), false);
        let s = m.snapshot();
        assert_eq!(s.commits, 3);
        assert_eq!(s.commit_failures, 1);
        assert_eq!(s.commit_latency.count, 3);
        assert_eq!(s.commit_latency.buckets[0], (0.0001, 1));
        let at_5ms = s.commit_latency.buckets.iter().find(|(le, _)| *le == 0.005);
        assert_eq!(at_5ms, Some(&(0.005, 2)));
        assert_eq!(s.commit_latency.buckets.last(), Some(&(2.5, 2)));
        assert!((s.commit_latency.sum_seconds - 10.00305).abs() < 1e-9);
        let text = s.to_prometheus("meta");
        assert!(text.contains("meta_commit_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("meta_commits_total 3\n"));
    }
}
