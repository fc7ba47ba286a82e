//! The edge's counters, rendered in the Prometheus text format: requests by result type, hit ratio, bytes
//! served, origin requests and their latency.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Origin latency buckets, seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// The result types counted (CloudFront's x-edge-result-type).
pub const RESULTS: [&str; 6] = [
    "Hit",
    "RefreshHit",
    "Miss",
    "Error",
    "Redirect",
    "LimitExceeded",
];

#[derive(Debug, Default)]
pub struct Metrics {
    results: [AtomicU64; 6],
    bytes_served: AtomicU64,
    origin_requests: AtomicU64,
    origin_errors: AtomicU64,
    origin_buckets: [AtomicU64; 10],
    origin_count: AtomicU64,
    origin_micros: AtomicU64,
    connections_refused: AtomicU64,
    connections_timed_out: AtomicU64,
}

impl Metrics {
    pub fn result(&self, kind: &str, bytes: u64) {
        if let Some(i) = RESULTS.iter().position(|r| *r == kind) {
            self.results[i].fetch_add(1, Ordering::Relaxed);
        }
        self.bytes_served.fetch_add(bytes, Ordering::Relaxed);
    }

    /// One origin request and how long its response headers took (`None`: it failed).
    pub fn origin(&self, took: Option<Duration>) {
        self.origin_requests.fetch_add(1, Ordering::Relaxed);
        let Some(took) = took else {
            self.origin_errors.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let secs = took.as_secs_f64();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                self.origin_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.origin_count.fetch_add(1, Ordering::Relaxed);
        self.origin_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// A viewer connection closed at once because the listeners were at their connection cap.
    pub fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// A viewer connection closed by a timeout (handshake, header read, idle, blocked write).
    pub fn connection_timed_out(&self) {
        self.connections_timed_out.fetch_add(1, Ordering::Relaxed);
    }

    pub fn origin_requests(&self) -> u64 {
        self.origin_requests.load(Ordering::Relaxed)
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        out.push_str("# HELP coffer_edge_requests_total Viewer requests by result type.\n");
        out.push_str("# TYPE coffer_edge_requests_total counter\n");
        for (i, r) in RESULTS.iter().enumerate() {
            let _ = writeln!(
                out,
                "coffer_edge_requests_total{{result=\"{r}\"}} {}",
                get(&self.results[i])
            );
        }
        let hits = get(&self.results[0]) + get(&self.results[1]);
        let lookups = hits + get(&self.results[2]) + get(&self.results[3]);
        let ratio = if lookups == 0 {
            0.0
        } else {
            hits as f64 / lookups as f64
        };
        out.push_str(
            "# HELP coffer_edge_cache_hit_ratio Hits and refresh hits over all cache lookups.\n",
        );
        out.push_str("# TYPE coffer_edge_cache_hit_ratio gauge\n");
        let _ = writeln!(out, "coffer_edge_cache_hit_ratio {ratio}");
        out.push_str("# HELP coffer_edge_bytes_served_total Response bytes sent to viewers.\n");
        out.push_str("# TYPE coffer_edge_bytes_served_total counter\n");
        let _ = writeln!(
            out,
            "coffer_edge_bytes_served_total {}",
            get(&self.bytes_served)
        );
        out.push_str(
            "# HELP coffer_edge_origin_requests_total Requests the edge sent to origins.\n",
        );
        out.push_str("# TYPE coffer_edge_origin_requests_total counter\n");
        let _ = writeln!(
            out,
            "coffer_edge_origin_requests_total {}",
            get(&self.origin_requests)
        );
        out.push_str(
            "# HELP coffer_edge_origin_errors_total Origin requests that got no response.\n",
        );
        out.push_str("# TYPE coffer_edge_origin_errors_total counter\n");
        let _ = writeln!(
            out,
            "coffer_edge_origin_errors_total {}",
            get(&self.origin_errors)
        );
        out.push_str(
            "# HELP coffer_edge_origin_latency_seconds Time to the origin's response headers.\n",
        );
        out.push_str("# TYPE coffer_edge_origin_latency_seconds histogram\n");
        for (i, le) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "coffer_edge_origin_latency_seconds_bucket{{le=\"{le}\"}} {}",
                get(&self.origin_buckets[i])
            );
        }
        let count = get(&self.origin_count);
        let _ = writeln!(
            out,
            "coffer_edge_origin_latency_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "coffer_edge_origin_latency_seconds_sum {}",
            get(&self.origin_micros) as f64 / 1e6
        );
        let _ = writeln!(out, "coffer_edge_origin_latency_seconds_count {count}");
        out.push_str("# HELP coffer_edge_connections_refused_total Viewer connections closed at the connection cap.\n");
        out.push_str("# TYPE coffer_edge_connections_refused_total counter\n");
        let _ = writeln!(
            out,
            "coffer_edge_connections_refused_total {}",
            get(&self.connections_refused)
        );
        out.push_str("# HELP coffer_edge_connections_timed_out_total Viewer connections closed by a handshake, header, idle or write timeout.\n");
        out.push_str("# TYPE coffer_edge_connections_timed_out_total counter\n");
        let _ = writeln!(
            out,
            "coffer_edge_connections_timed_out_total {}",
            get(&self.connections_timed_out)
        );
        out
    }
}
