//! The state an edge node serves from, as the API endpoint sends it (`GET /edge/state` of the `coffer-edge`
//! service): every enabled distribution with the OACs, cache policies, key groups, public keys and TLS
//! certificates it refers to, and the invalidations after the edge's cursor.
//!
//! An edge asks with the generation it holds and its invalidation cursor; the endpoint answers as soon as either
//! moves (or after the wait it was given), so a change reaches every edge in about one round trip.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{CachePolicy, Distribution, KeyGroup, Oac, PublicKey};

/// One invalidation as the edge sees it: which distribution, which paths (`*` only at the end of a path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidationEvent {
    /// The position in the feed; pass the last one seen as the next cursor.
    pub seq: u64,
    pub account: String,
    pub distribution_id: String,
    pub invalidation_id: String,
    pub paths: Vec<String>,
}

/// A certificate a distribution serves its aliases with: the leaf, its chain and the private key, all PEM.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeCertificate {
    pub certificate_pem: String,
    #[serde(default)]
    pub chain_pem: Option<String>,
    pub private_key_pem: String,
}

impl std::fmt::Debug for EdgeCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeCertificate").finish_non_exhaustive()
    }
}

/// Everything an edge needs to serve viewers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeState {
    /// Opaque; changes whenever any of the configuration below changes (not for invalidations alone).
    pub generation: String,
    /// Every distribution, enabled or not (a disabled one answers 403).
    pub distributions: Vec<Distribution>,
    /// `<account>/<id>` → the origin access controls the distributions name.
    pub oacs: BTreeMap<String, Oac>,
    /// id → the cache policies the distributions name (managed ones included).
    pub cache_policies: BTreeMap<String, CachePolicy>,
    /// `<account>/<id>` → key groups named by TrustedKeyGroups.
    pub key_groups: BTreeMap<String, KeyGroup>,
    /// `<account>/<id>` → the public keys in those key groups.
    pub public_keys: BTreeMap<String, PublicKey>,
    /// certificate ARN → certificate, chain and key, for the distributions whose ViewerCertificate names one.
    pub certificates: BTreeMap<String, EdgeCertificate>,
    /// The invalidations after the cursor the edge sent, in order.
    pub invalidations: Vec<InvalidationEvent>,
    /// The cursor to send next.
    pub invalidation_cursor: u64,
}

/// `<account>/<id>`, the key of per-account resources in [`EdgeState`].
pub fn scoped(account: &str, id: &str) -> String {
    format!("{account}/{id}")
}
