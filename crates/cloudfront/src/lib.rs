//! The CloudFront engine: distributions, origin access controls (OAC), cache policies (the managed ones and
//! custom ones), invalidations, public keys and key groups for signed URLs, and the ACM certificates a
//! distribution's `ViewerCertificate` may name — persisted through `meta`, with certificate private keys sealed by
//! the deployment's [`crypto::RootOfTrust`].
//!
//! The engine knows nothing about HTTP or authorization: `cloudfront-api` decodes requests, authorizes them, then
//! calls these functions. Every resource belongs to one account; ids are global in shape (`E` + 13 upper-case
//! letters and digits, UUIDs for cache policies and key groups) but always looked up within the caller's account.
//!
//! Versioning: every change gives a resource a new opaque ETag; updates and deletes take the caller's `If-Match`
//! and fail with `InvalidIfMatchVersion` when it is missing and `PreconditionFailed` when it is stale.
//!
//! Deployment status is computed, not stored: a distribution is `InProgress` for [`DEPLOY_DELAY`] after each change
//! and `Deployed` afterwards; an invalidation is `InProgress` for the same time, then `Completed`.
//!
//! For the edge: [`CloudFront::edge_state`] (every distribution and what it refers to, plus the invalidations after
//! a cursor) and [`CloudFront::changed`] (wakes when any change commits), which `cloudfront-api` serves to edge
//! nodes as a long poll; [`CloudFront::distribution_for_host`] answers from the store by the edge's Host rule.

mod alias_certs;
mod cache_policies;
mod certificates;
mod distributions;
mod edge;
mod error;
mod invalidations;
mod keys;
mod oac;

pub use alias_certs::AliasTrust;
pub use cache_policies::{CACHING_DISABLED_ID, CACHING_OPTIMIZED_ID};
pub use certificates::{certificate_arn, CertifiedKey};
pub use cloudfront_model::*;
pub use error::CfError;

use std::sync::Arc;

use crypto::RootOfTrust;
use meta::Store;
use serde::de::DeserializeOwned;
use serde::Serialize;
use time::OffsetDateTime;

/// Table names. Keys are `<account>/<id>` unless noted.
pub(crate) mod tables {
    pub const DISTRIBUTIONS: &str = "cloudfront.distributions";
    /// `<account>/<caller reference>` → distribution id.
    pub const CALLER_REFS: &str = "cloudfront.caller_refs";
    /// `<lower-case host>` → `<account>/<distribution id>`: the default domain name and every alias.
    pub const HOSTS: &str = "cloudfront.hosts";
    pub const OACS: &str = "cloudfront.oacs";
    pub const CACHE_POLICIES: &str = "cloudfront.cache_policies";
    /// `<account>/<distribution id>/<invalidation id>`.
    pub const INVALIDATIONS: &str = "cloudfront.invalidations";
    /// big-endian u64 sequence → [`crate::InvalidationEvent`], the feed the edge follows.
    pub const INVALIDATION_LOG: &str = "cloudfront.invalidation_log";
    pub const PUBLIC_KEYS: &str = "cloudfront.public_keys";
    pub const KEY_GROUPS: &str = "cloudfront.key_groups";
    /// `<account>/<certificate uuid>`.
    pub const CERTIFICATES: &str = "acm.certificates";
}

/// Deployment settings of the engine.
#[derive(Debug, Clone)]
pub struct Config {
    /// Distributions are named `<lower-case id>.<edge_domain>`.
    pub edge_domain: String,
    /// The most distributions one account may have (`TooManyDistributions`), AWS's default quota.
    pub max_distributions: usize,
    /// The operator allowed a loopback network for origins (`[edge] origin_allow_networks`), so a custom origin
    /// may be named `localhost`. Off by default: custom origins must be public names.
    pub loopback_origins_allowed: bool,
    /// The roots an alternate domain name's certificate must chain to (the system's plus `[edge]
    /// alias_ca_file`). None by default: every alias is refused until the deployment loads them.
    pub alias_trust: Arc<AliasTrust>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            edge_domain: "cloudfront.localhost".into(),
            max_distributions: 200,
            loopback_origins_allowed: false,
            alias_trust: Arc::new(AliasTrust::none()),
        }
    }
}

/// The CloudFront engine. Cheap to clone.
#[derive(Clone)]
pub struct CloudFront {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    root: Arc<dyn RootOfTrust>,
    config: Config,
    /// Counts committed changes, so edges waiting for news wake as soon as something changes.
    changes: tokio::sync::watch::Sender<u64>,
    /// Random per process: a generation from before a restart never equals one after it.
    epoch: String,
    /// Set when the process shuts down, so no edge's request is held open while the server drains.
    closing: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for CloudFront {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudFront")
            .field("edge_domain", &self.inner.config.edge_domain)
            .finish_non_exhaustive()
    }
}

impl CloudFront {
    pub fn new(store: Store, root: Arc<dyn RootOfTrust>, config: Config) -> CloudFront {
        CloudFront {
            inner: Arc::new(Inner {
                store,
                root,
                config,
                changes: tokio::sync::watch::Sender::new(0),
                epoch: new_id('G'),
                closing: tokio::sync::watch::Sender::new(false),
            }),
        }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn root(&self) -> &dyn RootOfTrust {
        self.inner.root.as_ref()
    }

    /// Reads `<account>/<id>` of `table`.
    pub(crate) fn read<T: DeserializeOwned>(
        &self,
        table: &str,
        account: &str,
        id: &str,
    ) -> Result<Option<T>, CfError> {
        Ok(self.store().get_json(table, &key2(account, id))?)
    }

    /// Every record of `account` in `table`, in key order.
    pub(crate) fn read_all<T: DeserializeOwned>(
        &self,
        table: &str,
        account: &str,
    ) -> Result<Vec<T>, CfError> {
        let prefix = format!("{account}/");
        self.store()
            .scan_prefix(table, prefix.as_bytes(), None, usize::MAX)?
            .into_iter()
            .map(|e| Ok(meta::codec::decode_json(&e.1)?))
            .collect()
    }

    /// Runs a write transaction.
    pub(crate) async fn write<R, F>(&self, f: F) -> Result<R, CfError>
    where
        F: FnOnce(&mut meta::Txn) -> Result<R, CfError> + Send + 'static,
        R: Send + 'static,
    {
        let out = self.store().transact_async(f).await?;
        self.inner.changes.send_modify(|n| *n += 1);
        Ok(out)
    }
}

/// Every record of `account` in `table` as a transaction sees them.
pub(crate) fn txn_all<T: DeserializeOwned>(
    txn: &meta::Txn,
    table: &str,
    account: &str,
) -> Result<Vec<T>, CfError> {
    let prefix = format!("{account}/");
    txn.scan_prefix(table, prefix.as_bytes(), None, usize::MAX)?
        .into_iter()
        .map(|e| Ok(meta::codec::decode_json(&e.1)?))
        .collect()
}

/// Writes `value` under `<account>/<id>`.
pub(crate) fn txn_put<T: Serialize>(
    txn: &mut meta::Txn,
    table: &'static str,
    account: &str,
    id: &str,
    value: &T,
) -> Result<(), CfError> {
    txn.put_json(table, key2(account, id), value)?;
    Ok(())
}

/// `<a>/<b>` as a key.
pub(crate) fn key2(a: &str, b: &str) -> Vec<u8> {
    format!("{a}/{b}").into_bytes()
}

/// The upper-case letters and digits CloudFront ids are made of.
const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A CloudFront-shaped id: `prefix` followed by random upper-case letters and digits, 14 characters in all
/// (`E2QWRUHAPOMQZL`).
pub fn new_id(prefix: char) -> String {
    let mut out = String::with_capacity(14);
    out.push(prefix);
    let bytes: [u8; 13] = crypto::random_array();
    // 36 does not divide 256, so the first letters are very slightly likelier; ids need uniqueness, not uniformity.
    out.extend(
        bytes
            .iter()
            .map(|b| ID_ALPHABET[*b as usize % ID_ALPHABET.len()] as char),
    );
    out
}

/// A new opaque ETag, in the shape CloudFront sends them.
pub(crate) fn new_etag() -> String {
    new_id('E')
}

/// Checks the caller's `If-Match` against the current ETag.
pub(crate) fn check_if_match(current: &str, if_match: Option<&str>) -> Result<(), CfError> {
    match if_match.map(str::trim).filter(|s| !s.is_empty()) {
        None => Err(CfError::client(
            "InvalidIfMatchVersion",
            400,
            "The If-Match version is missing or not valid for the resource.",
        )),
        Some(m) if m == current => Ok(()),
        Some(_) => Err(CfError::client(
            "PreconditionFailed",
            412,
            "The request failed because it didn't meet the preconditions in one or more request-header fields.",
        )),
    }
}

/// The time at millisecond precision, as CloudFront reports times.
pub(crate) fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_millisecond(t.millisecond()).unwrap_or(t)
}

/// Pages `items` (sorted by `id`) after `marker`, at most `max`; returns the page and the next marker.
pub fn page<T>(
    items: Vec<T>,
    id: impl Fn(&T) -> &str,
    marker: Option<&str>,
    max: usize,
) -> (Vec<T>, Option<String>) {
    let mut rest: Vec<T> = items
        .into_iter()
        .filter(|t| marker.is_none_or(|m| id(t) > m))
        .collect();
    if rest.len() > max {
        rest.truncate(max);
        let next = rest.last().map(|t| id(t).to_owned());
        (rest, next)
    } else {
        (rest, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_cloudfront_shape() {
        let id = new_id('E');
        assert_eq!(id.len(), 14);
        assert!(id.starts_with('E'));
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        assert_ne!(new_id('E'), id);
    }

    #[test]
    fn if_match_rules() {
        assert_eq!(
            check_if_match("E1", None).unwrap_err().code(),
            "InvalidIfMatchVersion"
        );
        assert_eq!(
            check_if_match("E1", Some("E2")).unwrap_err().code(),
            "PreconditionFailed"
        );
        assert!(check_if_match("E1", Some("E1")).is_ok());
    }

    #[test]
    fn pages_after_marker() {
        let items = vec!["a".to_owned(), "b".into(), "c".into()];
        let (p, next) = page(items.clone(), |s| s, None, 2);
        assert_eq!((p.len(), next.as_deref()), (2, Some("b")));
        let (p, next) = page(items, |s| s, Some("b"), 2);
        assert_eq!((p, next), (vec!["c".to_owned()], None));
    }
}
