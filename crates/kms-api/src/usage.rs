//! Per-key, per-operation request counts — the KeyUsage / RequestCount metrics of the tutorials — rendered in
//! Prometheus text format for `/metrics`. Counters are atomics behind a read-mostly map.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

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
        self.counts
            .write()
            .expect("usage lock")
            .entry((key_id.to_owned(), operation))
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
                "coffer_kms_requests_total{{key_id=\"{key}\",operation=\"{op}\"}} {n}"
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
}
