//! The edge's view of the deployment: a [`Snapshot`] of every distribution (and the OACs, cache policies, keys
//! and certificates they name), replaced whole whenever the API's feed reports a change, and the
//! [`Invalidations`] applied so far.
//!
//! The [`follow`] loop long-polls the API's `coffer-edge` feed with the edge's own SigV4 credentials. When the API
//! cannot be reached the loop retries with backoff and the edge keeps serving from the snapshot and cache it has.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use cloudfront_model::{
    normalize_host, normalize_invalidation_path, scoped, wildcard_alias, CachePolicy, Distribution,
    EdgeState, InvalidationEvent, InvalidationPath, NormalizedPath, Oac,
};

use crate::origin::OriginClient;

/// How long the API may hold a feed request open.
const FEED_WAIT_SECS: u64 = 20;
/// The most invalidation paths remembered per distribution; older entries are folded into a floor.
const MAX_REMEMBERED: usize = 10_000;

/// A distribution ready to serve.
#[derive(Debug)]
pub struct Dist {
    pub d: Distribution,
}

/// What TLS an alias is served with: its distribution's certificate and protocol floor.
#[derive(Debug, Clone)]
pub struct AliasTls {
    pub key: Arc<rustls::sign::CertifiedKey>,
    /// Only TLS 1.3 (`TLSv1.3_2025`).
    pub tls13_only: bool,
}

/// Everything the edge serves from, immutable once built.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub state: EdgeState,
    /// Host → distribution: every distribution's own domain name, and the aliases its certificate covers.
    hosts: HashMap<String, Arc<Dist>>,
    /// Alias → its certificate. A distribution's own `<id>.<edge domain>` is never here: it keeps the edge's
    /// default certificate (and floor) whatever certificate its aliases use.
    alias_tls: HashMap<String, AliasTls>,
    /// `<account>/<key id>` → the parsed public keys of trusted key groups.
    keys: HashMap<String, Arc<cloudfront_sign::PublicKey>>,
}

impl Snapshot {
    pub fn new(state: EdgeState) -> Snapshot {
        let mut hosts = HashMap::new();
        let mut alias_tls = HashMap::new();
        let mut tls_by_arn: HashMap<&str, Option<Arc<rustls::sign::CertifiedKey>>> = HashMap::new();
        for d in &state.distributions {
            let arn = d
                .config
                .viewer_certificate
                .as_ref()
                .and_then(|v| v.acm_certificate_arn.as_deref());
            let tls = arn.and_then(|arn| {
                tls_by_arn
                    .entry(arn)
                    .or_insert_with(|| {
                        let c = state.certificates.get(arn)?;
                        match crate::tls::certified_key(c) {
                            Ok(k) => Some(Arc::new(k)),
                            Err(e) => {
                                tracing::warn!("certificate {arn} cannot be used: {e}");
                                None
                            }
                        }
                    })
                    .clone()
            });
            let tls13_only = d
                .config
                .viewer_certificate
                .as_ref()
                .and_then(|v| v.minimum_protocol_version.as_deref())
                .is_some_and(|v| v.starts_with("TLSv1.3"));
            let dist = Arc::new(Dist { d: d.clone() });
            hosts.insert(d.domain_name.to_ascii_lowercase(), dist.clone());
            // An alias is served only while the distribution's certificate covers it (the API checks that, with
            // the chain, when the alias is added; this keeps a distribution stored before that check, or whose
            // certificate was replaced, from answering for names it cannot prove).
            for alias in &d.config.aliases {
                let covered = tls.as_ref().filter(|k| {
                    k.cert
                        .first()
                        .is_some_and(|leaf| cloudfront_model::certificate_covers(leaf, alias))
                });
                let Some(key) = covered else {
                    tracing::warn!(
                        "distribution {}: alias {alias} is not covered by its certificate; not serving it",
                        d.id
                    );
                    continue;
                };
                let alias = alias.to_ascii_lowercase();
                hosts.insert(alias.clone(), dist.clone());
                alias_tls.insert(
                    alias,
                    AliasTls {
                        key: key.clone(),
                        tls13_only,
                    },
                );
            }
        }
        let keys = state
            .public_keys
            .iter()
            .filter_map(|(scoped_id, k)| {
                match cloudfront_sign::PublicKey::from_pem(&k.config.encoded_key) {
                    Ok(parsed) => Some((scoped_id.clone(), Arc::new(parsed))),
                    Err(e) => {
                        tracing::warn!(
                            "public key {scoped_id} cannot be used for signed URLs: {e}"
                        );
                        None
                    }
                }
            })
            .collect();
        Snapshot {
            state,
            hosts,
            alias_tls,
            keys,
        }
    }

    /// The distribution serving `host` (a port and letter case are ignored; `*.example.com` aliases serve
    /// direct subdomains).
    pub fn for_host(&self, host: &str) -> Option<&Arc<Dist>> {
        let host = normalize_host(host);
        self.hosts
            .get(&host)
            .or_else(|| self.hosts.get(&wildcard_alias(&host)?))
    }

    /// The certificate and floor for a TLS server name, when it is an alias (exact, then `*.parent`); `None`
    /// for everything else, which gets the edge's default certificate.
    pub fn alias_tls(&self, server_name: &str) -> Option<&AliasTls> {
        let name = normalize_host(server_name);
        self.alias_tls
            .get(&name)
            .or_else(|| self.alias_tls.get(&wildcard_alias(&name)?))
    }

    pub fn oac(&self, account: &str, id: &str) -> Option<&Oac> {
        self.state.oacs.get(&scoped(account, id))
    }

    pub fn cache_policy(&self, id: &str) -> Option<&CachePolicy> {
        self.state.cache_policies.get(id)
    }

    /// Key `key_id` if one of `account`'s key `groups` holds it.
    pub fn trusted_key(
        &self,
        account: &str,
        groups: &[String],
        key_id: &str,
    ) -> Option<Arc<cloudfront_sign::PublicKey>> {
        let trusted = groups
            .iter()
            .filter_map(|g| self.state.key_groups.get(&scoped(account, g)))
            .any(|g| g.config.items.iter().any(|k| k == key_id));
        if !trusted {
            return None;
        }
        self.keys.get(&scoped(account, key_id)).cloned()
    }
}

/// The current snapshot, swapped whole.
#[derive(Debug, Default)]
pub struct Current {
    snapshot: RwLock<Arc<Snapshot>>,
}

impl Current {
    pub fn get(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set(&self, s: Snapshot) {
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(s);
    }
}

/// The invalidations applied on this node, from the API's feed and from writes made through the edge.
///
/// Every cached object remembers the counter's value when its fetch began; an invalidation gets the next value,
/// so an object is stale exactly when an invalidation with a larger value covers its path.
#[derive(Debug, Default)]
pub struct Invalidations {
    counter: AtomicU64,
    by_dist: RwLock<HashMap<String, Remembered>>,
}

#[derive(Debug, Default)]
struct Remembered {
    /// Everything stored before this counter value is stale (older entries were forgotten).
    floor: u64,
    newest: u64,
    paths: VecDeque<(u64, InvalidationPath)>,
}

impl Invalidations {
    /// The value to stamp on a fetch that starts now.
    pub fn stamp(&self) -> u64 {
        self.counter.load(Ordering::SeqCst)
    }

    /// Applies the invalidation paths `paths` of distribution `dist`, as CreateInvalidation took them. A path
    /// that does not normalize (the API refuses those; an older API may not have) invalidates everything of the
    /// distribution: over-invalidating is safe, missing an object is not.
    pub fn apply(&self, dist: &str, paths: &[String]) {
        let normalized: Vec<InvalidationPath> = paths
            .iter()
            .map(|p| {
                normalize_invalidation_path(p).unwrap_or_else(|e| {
                    tracing::warn!(
                        "invalidation path {p:?} of {dist}: {e}; invalidating everything"
                    );
                    InvalidationPath::everything()
                })
            })
            .collect();
        self.apply_normalized(dist, normalized);
    }

    /// Applies already normalized invalidation paths (a write through this edge invalidates its own path).
    pub fn apply_normalized(&self, dist: &str, paths: Vec<InvalidationPath>) {
        let mut map = self.by_dist.write().unwrap_or_else(|p| p.into_inner());
        let entry = map.entry(dist.to_owned()).or_default();
        for p in paths {
            let n = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
            entry.newest = n;
            entry.paths.push_back((n, p));
            if entry.paths.len() > MAX_REMEMBERED {
                if let Some((old, _)) = entry.paths.pop_front() {
                    entry.floor = entry.floor.max(old);
                }
            }
        }
    }

    /// Whether an object of `dist` at `path` stamped `stamp` has been invalidated since.
    pub fn is_stale(&self, dist: &str, path: &NormalizedPath, stamp: u64) -> bool {
        let map = self.by_dist.read().unwrap_or_else(|p| p.into_inner());
        let Some(r) = map.get(dist) else {
            return false;
        };
        if r.newest <= stamp {
            return false;
        }
        if stamp < r.floor {
            return true;
        }
        r.paths
            .iter()
            .rev()
            .take_while(|(n, _)| *n > stamp)
            .any(|(_, p)| p.covers(path))
    }
}

/// Follows the API's feed until the process ends: installs each new snapshot and applies each invalidation.
/// `ready` is told once the first snapshot is in.
pub async fn follow(
    client: Arc<OriginClient>,
    current: Arc<Current>,
    invalidations: Arc<Invalidations>,
    ready: tokio::sync::watch::Sender<bool>,
) {
    let mut generation = String::new();
    let mut cursor = 0u64;
    let mut backoff = Duration::from_millis(100);
    let mut first = true;
    loop {
        let wait = if first { 0 } else { FEED_WAIT_SECS };
        match client.edge_state(&generation, cursor, wait).await {
            Ok(state) => {
                backoff = Duration::from_millis(100);
                // On the first load the cache is empty, so the backlog of old invalidations needs no applying.
                if !first {
                    apply_all(&invalidations, &state.invalidations);
                }
                cursor = state.invalidation_cursor;
                if state.generation != generation {
                    generation = state.generation.clone();
                    current.set(Snapshot::new(state));
                }
                if first {
                    first = false;
                    let _ = ready.send(true);
                }
            }
            Err(e) => {
                tracing::warn!(
                    "edge feed: {e}; serving from the last state, retrying in {backoff:?}"
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

fn apply_all(invalidations: &Invalidations, events: &[InvalidationEvent]) {
    for e in events {
        invalidations.apply(&e.distribution_id, &e.paths);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> NormalizedPath {
        cloudfront_model::normalize_path(s).unwrap()
    }

    #[test]
    fn stamps_and_coverage() {
        let inv = Invalidations::default();
        let before = inv.stamp();
        inv.apply("E1", &["/img/*".into()]);
        assert!(inv.is_stale("E1", &p("/img/a.png"), before));
        assert!(inv.is_stale("E1", &p("/%69mg/a.png"), before));
        assert!(!inv.is_stale("E1", &p("/doc/a.pdf"), before));
        assert!(!inv.is_stale("E2", &p("/img/a.png"), before));
        let after = inv.stamp();
        assert!(!inv.is_stale("E1", &p("/img/a.png"), after));
        // Encoded invalidation paths cover the decoded object; one that does not normalize covers everything.
        inv.apply("E3", &["/%64oc/a.pdf".into()]);
        assert!(inv.is_stale("E3", &p("/doc/a.pdf"), after));
        let later = inv.stamp();
        inv.apply("E3", &["/bad%zz".into()]);
        assert!(inv.is_stale("E3", &p("/anything"), later));
    }

    fn distribution(id: &str, aliases: &[&str], arn: Option<&str>) -> Distribution {
        serde_json::from_value(serde_json::json!({
            "id": id, "account": "1", "arn": format!("arn:aws:cloudfront::1:distribution/{id}"),
            "domain_name": format!("{}.cloudfront.localhost", id.to_lowercase()), "etag": "E",
            "last_modified": "2024-01-01T00:00:00Z",
            "config": {
                "caller_reference": id, "aliases": aliases, "enabled": true,
                "origins": [], "default_cache_behavior": {"target_origin_id": "o", "viewer_protocol_policy": "allow-all"},
                "viewer_certificate": arn.map(|a| serde_json::json!({"acm_certificate_arn": a, "minimum_protocol_version": "TLSv1.3_2025"})),
            }
        }))
        .unwrap()
    }

    #[test]
    fn aliases_are_served_only_as_far_as_their_certificate_covers_them() {
        let made = rcgen::generate_simple_self_signed(vec!["*.example.com".to_owned()]).unwrap();
        let mut state = EdgeState::default();
        state.certificates.insert(
            "arn:c".into(),
            cloudfront_model::EdgeCertificate {
                certificate_pem: made.cert.pem(),
                chain_pem: None,
                private_key_pem: made.signing_key.serialize_pem(),
            },
        );
        state.distributions = vec![
            distribution("E1", &["www.example.com", "evil.other.com"], Some("arn:c")),
            distribution("E2", &["no-cert.example.org"], None),
        ];
        let snap = Snapshot::new(state);
        assert_eq!(
            snap.for_host("WWW.example.com:443")
                .map(|d| d.d.id.as_str()),
            Some("E1")
        );
        assert!(snap.for_host("evil.other.com").is_none(), "not covered");
        assert!(
            snap.for_host("no-cert.example.org").is_none(),
            "no certificate"
        );
        assert!(snap
            .alias_tls("www.example.com")
            .is_some_and(|t| t.tls13_only));
        // The distributions' own names route, but keep the default certificate and floor.
        assert!(snap.for_host("e1.cloudfront.localhost").is_some());
        assert!(snap.alias_tls("e1.cloudfront.localhost").is_none());
        assert!(snap.for_host("e2.cloudfront.localhost").is_some());
    }

    #[test]
    fn forgotten_invalidations_make_older_objects_stale() {
        let inv = Invalidations::default();
        let old = inv.stamp();
        let paths: Vec<String> = (0..MAX_REMEMBERED + 5).map(|i| format!("/p{i}")).collect();
        inv.apply("E1", &paths);
        assert!(inv.is_stale("E1", &p("/unrelated"), old));
        assert!(!inv.is_stale("E1", &p("/unrelated"), inv.stamp()));
    }
}
