//! Request metrics in Prometheus text format: counts by service, operation and status, and latency histograms
//! by service and operation. Counters are atomics behind a read-mostly map, so recording takes no lock on the
//! common path.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Latency bucket upper bounds, in seconds.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct OpStats {
    statuses: Mutex<HashMap<u16, u64>>,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

/// A source of extra metric lines (audit backlog, metadata commits…), rendered after the request metrics.
pub type MetricSource = Box<dyn Fn() -> String + Send + Sync>;

/// The metrics registry of one process.
#[derive(Default)]
pub struct Metrics {
    ops: RwLock<HashMap<(String, &'static str), Arc<OpStats>>>,
    sources: RwLock<Vec<MetricSource>>,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a source of extra lines in Prometheus text format.
    pub fn add_source(&self, source: MetricSource) {
        self.sources.write().expect("metrics lock").push(source);
    }

    /// Records one finished request.
    pub fn observe(&self, service: &str, operation: &'static str, status: u16, elapsed: Duration) {
        let stats = {
            let ops = self.ops.read().expect("metrics lock");
            ops.get(&(service.to_owned(), operation)).cloned()
        };
        let stats = match stats {
            Some(s) => s,
            None => self
                .ops
                .write()
                .expect("metrics lock")
                .entry((service.to_owned(), operation))
                .or_default()
                .clone(),
        };
        *stats
            .statuses
            .lock()
            .expect("metrics lock")
            .entry(status)
            .or_default() += 1;
        let secs = elapsed.as_secs_f64();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                stats.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        stats.count.fetch_add(1, Ordering::Relaxed);
        stats
            .sum_nanos
            .fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
    }

    /// The whole registry in Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let ops = self.ops.read().expect("metrics lock");
        let mut keys: Vec<_> = ops.keys().cloned().collect();
        keys.sort();
        out.push_str(
            "# HELP coffer_requests_total API requests by service, operation and HTTP status.\n",
        );
        out.push_str("# TYPE coffer_requests_total counter\n");
        for key in &keys {
            let stats = &ops[key];
            let mut statuses: Vec<_> = stats
                .statuses
                .lock()
                .expect("metrics lock")
                .iter()
                .map(|(s, n)| (*s, *n))
                .collect();
            statuses.sort();
            for (status, n) in statuses {
                let _ = writeln!(
                    out,
                    "coffer_requests_total{{service=\"{}\",operation=\"{}\",status=\"{status}\"}} {n}",
                    key.0, key.1
                );
            }
        }
        out.push_str("# HELP coffer_request_duration_seconds API request latency by service and operation.\n");
        out.push_str("# TYPE coffer_request_duration_seconds histogram\n");
        for key in &keys {
            let stats = &ops[key];
            let labels = format!("service=\"{}\",operation=\"{}\"", key.0, key.1);
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "coffer_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                    stats.buckets[i].load(Ordering::Relaxed)
                );
            }
            let count = stats.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "coffer_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "coffer_request_duration_seconds_sum{{{labels}}} {}",
                stats.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9
            );
            let _ = writeln!(
                out,
                "coffer_request_duration_seconds_count{{{labels}}} {count}"
            );
        }
        drop(ops);
        for source in self.sources.read().expect("metrics lock").iter() {
            out.push_str(&source());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_histograms() {
        let m = Metrics::new();
        m.observe("sts", "GetCallerIdentity", 200, Duration::from_micros(300));
        m.observe("sts", "GetCallerIdentity", 200, Duration::from_millis(2));
        m.observe("iam", "CreateUser", 403, Duration::from_micros(50));
        m.add_source(Box::new(|| "coffer_extra 1\n".into()));
        let text = m.render();
        assert!(text.contains("coffer_requests_total{service=\"sts\",operation=\"GetCallerIdentity\",status=\"200\"} 2"));
        assert!(text.contains(
            "coffer_requests_total{service=\"iam\",operation=\"CreateUser\",status=\"403\"} 1"
        ));
        assert!(text.contains(
            "coffer_request_duration_seconds_bucket{service=\"sts\",operation=\"GetCallerIdentity\",le=\"0.0005\"} 1"
        ));
        assert!(text.contains("coffer_request_duration_seconds_count{service=\"sts\",operation=\"GetCallerIdentity\"} 2"));
        assert!(text.ends_with("coffer_extra 1\n"));
    }
}
