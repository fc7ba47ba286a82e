//! Per-key, per-operation request counts — the KeyUsage / RequestCount metrics of the tutorials — rendered in
//! Prometheus text format for `/metrics`. Counters are atomics behind a read-mostly map.
//!
//! Only authorized requests on keys that exist are counted (the key id is the resolved key's, never the
//! request's text), and the number of series is capped: keys are created by callers, and `/metrics` is read
//! by anyone, so past [`MAX_SERIES`] further keys are counted under `key_id="other"`.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

/// The most (key, operation) series kept; later ones are summed under [`OTHER`].
pub(crate) const MAX_SERIES: usize = 10_000;
/// The key label of requests past the series cap.
const OTHER: &str = "other";

/// Request counts by key id and operation.
#[derive(Debug, Default)]
pub(crate) struct Usage {
    counts: RwLock<HashMap<(String, &'static str), AtomicU64>>,
}

impl Usage {
    /// Counts one authorized request for `operation` on the key `key_id`.
    pub fn record(&self, key_id: &str, operation: &'static str) {
        {
            let counts = self.counts.read().expect("usage lock");
            if let Some(c) = counts.get(&(key_id.to_owned(), operation)) {
                c.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        let mut counts = self.counts.write().expect("usage lock");
        let key = if counts.len() < MAX_SERIES {
            key_id
        } else {
            OTHER
        };
        counts
            .entry((key.to_owned(), operation))
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
    }

    /// `coffer_kms_requests_total{key_id="…",operation="…"} N`, sorted by key and operation.
    pub fn render(&self) -> String {
        let counts = self.counts.read().expect("usage lock");
        let mut rows: Vec<_> = counts
            .iter()
            .map(|((k, op), n)| (k.as_str(), *op, n.load(Ordering::Relaxed)))
            .collect();
        rows.sort();
        let mut out = String::from(
            "# HELP coffer_kms_requests_total KMS requests by key and operation.\n\
             # TYPE coffer_kms_requests_total counter\n",
        );
        for (key, op, n) in rows {
            let _ = writeln!(
                out,
                "coffer_kms_requests_total{{key_id=\"{}\",operation=\"{}\"}} {n}",
                api::metrics::escape_label(key),
                api::metrics::escape_label(op)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_key_and_operation() {
        let u = Usage::default();
        u.record("k2", "Decrypt");
        u.record("k1", "Encrypt");
        u.record("k2", "Decrypt");
        let text = u.render();
        assert!(text.contains("coffer_kms_requests_total{key_id=\"k2\",operation=\"Decrypt\"} 2\n"));
        assert!(text.contains("coffer_kms_requests_total{key_id=\"k1\",operation=\"Encrypt\"} 1\n"));
        assert!(text.find("k1").unwrap() < text.find("k2").unwrap());
    }

    #[test]
    fn series_are_capped() {
        let u = Usage::default();
        for i in 0..MAX_SERIES + 50 {
            u.record(&format!("key-{i}"), "Decrypt");
        }
        u.record("key-0", "Decrypt");
        let text = u.render();
        let series = text.lines().filter(|l| !l.starts_with('#')).count();
        // One more than the cap: the `other` series, which the cap itself can't refuse.
        assert_eq!(series, MAX_SERIES + 1);
        assert!(
            text.contains("coffer_kms_requests_total{key_id=\"other\",operation=\"Decrypt\"} 50\n")
        );
        assert!(
            text.contains("coffer_kms_requests_total{key_id=\"key-0\",operation=\"Decrypt\"} 2\n")
        );
    }
}
