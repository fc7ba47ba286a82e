//! CloudFront's resources as typed records, the matching rules CloudFront applies to them (path patterns,
//! invalidation paths, S3 origin names), the one normalized form of a viewer's path ([`NormalizedPath`]) that all of
//! them are matched against, and [`EdgeState`], the feed an edge node follows.
//!
//! This crate is pure (serde, time, and rustls-webpki's name matching) so that both the engine, which stores these records, and the edge,
//! which serves viewers from them, can share one definition without the edge linking any storage code.

mod alias;
mod edge;
mod model;
mod origin_name;
mod path;

pub use alias::certificate_covers;
pub use edge::*;
pub use model::*;
pub use origin_name::*;
pub use path::*;

use std::time::Duration;

use time::OffsetDateTime;

/// How long a changed distribution stays `InProgress` (and an invalidation `InProgress`) before it is reported
/// `Deployed` (`Completed`).
pub const DEPLOY_DELAY: Duration = Duration::from_secs(1);

/// Whether a change made at `changed` has had [`DEPLOY_DELAY`] to deploy by `at`.
pub fn settled(changed: OffsetDateTime, at: OffsetDateTime) -> bool {
    at - changed >= DEPLOY_DELAY
}

/// `host` without a trailing `:port`.
pub fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// A viewer's `Host` as distributions are looked up by it: without the port and a trailing dot, lower case.
pub fn normalize_host(host: &str) -> String {
    strip_port(host).trim_end_matches('.').to_ascii_lowercase()
}

/// The wildcard alias (`*.example.com`) that also serves a normalized host (`a.example.com`), tried when no
/// distribution names the host itself.
pub fn wildcard_alias(normalized: &str) -> Option<String> {
    normalized
        .split_once('.')
        .map(|(_, parent)| format!("*.{parent}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        assert_eq!(strip_port("a.b:8443"), "a.b");
        assert_eq!(strip_port("a.b"), "a.b");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(normalize_host("CDN.Example.com.:443"), "cdn.example.com");
        assert_eq!(
            wildcard_alias("a.example.com").as_deref(),
            Some("*.example.com")
        );
        assert_eq!(wildcard_alias("localhost"), None);
    }
}
