//! Request metrics in Prometheus text format: counts by service, operation and status, and latency histograms
//! by service and operation. Counters are atomics behind a read-mostly map, so recording takes no lock on the
//! common path.
//!
//! `/metrics` is anonymous, so no label value may come from a request: services and operations are
//! `&'static str` names this process knows (anything else is counted as [`UNKNOWN`]), statuses are the
//! responses' own, and every label value is still escaped as the text format requires.

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

/// The label of a service or operation this endpoint does not know.
pub const UNKNOWN: &str = "unknown";

/// A label value escaped for the Prometheus text format: backslash, double quote and line feed.
pub fn escape_label(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return std::borrow::Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The metrics registry of one process.
#[derive(Default)]
pub struct Metrics {
    ops: RwLock<HashMap<(&'static str, &'static str), Arc<OpStats>>>,
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

    /// Records one finished request. Both labels are names known at compile time (a service's signing name,
    /// an AWS operation, or [`UNKNOWN`]), so the series are bounded by the code, never by requests.
    pub fn observe(
        &self,
        service: &'static str,
        operation: &'static str,
        status: u16,
        elapsed: Duration,
    ) {
        let stats = {
            let ops = self.ops.read().expect("metrics lock");
            ops.get(&(service, operation)).cloned()
        };
        let stats = match stats {
            Some(s) => s,
            None => self
                .ops
                .write()
                .expect("metrics lock")
                .entry((service, operation))
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
        let mut keys: Vec<_> = ops.keys().copied().collect();
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
                    escape_label(key.0),
                    escape_label(key.1)
                );
            }
        }
        out.push_str("# HELP coffer_request_duration_seconds API request latency by service and operation.\n");
        out.push_str("# TYPE coffer_request_duration_seconds histogram\n");
        for key in &keys {
            let stats = &ops[key];
            let labels = format!(
                "service=\"{}\",operation=\"{}\"",
                escape_label(key.0),
                escape_label(key.1)
            );
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

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("kms"), "kms");
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let m = Metrics::new();
        m.observe("x\"}\nfake 1", "Op", 200, Duration::ZERO);
        let text = m.render();
        assert!(!text.lines().any(|l| l.starts_with("fake")), "{text}");
        assert!(text.contains("service=\"x\\\"}\\nfake 1\""), "{text}");
    }
}
