//! KMS request counts by operation, rendered in Prometheus text format for `/metrics`.
//!
//! Counted are authorized requests on keys that exist. They are deliberately not broken down by key: `/metrics`
//! is read by anyone who reaches the endpoint, and accounts on one deployment are adversaries of each other —
//! series named by key id would list every account's keys and show when each one is used. A key's own usage is
//! its owner's to see, in the audit trail (`LookupEvents` by the key's ARN).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

/// Request counts by operation.
#[derive(Debug, Default)]
pub(crate) struct Usage {
    counts: RwLock<BTreeMap<&'static str, AtomicU64>>,
}

impl Usage {
    /// Counts one authorized request for `operation` on an existing key.
    pub fn record(&self, operation: &'static str) {
        {
            let counts = self.counts.read().expect("usage lock");
            if let Some(c) = counts.get(operation) {
                c.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        self.counts
            .write()
            .expect("usage lock")
            .entry(operation)
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
    }

    /// `coffer_kms_requests_total{operation="…"} N`, sorted by operation.
    pub fn render(&self) -> String {
        let counts = self.counts.read().expect("usage lock");
        let mut out = String::from(
            "# HELP coffer_kms_requests_total KMS requests on existing keys, by operation.\n\
             # TYPE coffer_kms_requests_total counter\n",
        );
        for (op, n) in counts.iter() {
            let _ = writeln!(
                out,
                "coffer_kms_requests_total{{operation=\"{}\"}} {}",
                api::metrics::escape_label(op),
                n.load(Ordering::Relaxed)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_operation_and_names_no_key() {
        let u = Usage::default();
        u.record("Decrypt");
        u.record("Encrypt");
        u.record("Decrypt");
        let text = u.render();
        assert!(text.contains("coffer_kms_requests_total{operation=\"Decrypt\"} 2\n"));
        assert!(text.contains("coffer_kms_requests_total{operation=\"Encrypt\"} 1\n"));
        assert!(!text.contains("key_id"));
    }
}
