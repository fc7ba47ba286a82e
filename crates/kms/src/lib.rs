//! The KMS engine: symmetric keys in (account, region) namespaces, aliases, tags, key policies (stored and
//! parsed), grants, automatic and on-demand rotation, scheduled deletion, multi-Region keys, the AWS-managed
//! `aws/<service>` keys, and the versioned ciphertext format — persisted through `meta`, with every version of
//! key material sealed by the deployment's [`crypto::RootOfTrust`].
//!
//! The engine knows nothing about HTTP or authorization: `kms-api` resolves the caller, authorizes against
//! [`Kms::key_policy`], IAM and [`Kms::grant_allows`], then calls these functions.
//!
//! Public API notes for `kms-api`:
//! * `key_ref` arguments accept a key id, key ARN, alias name (`alias/x`) or alias ARN ([`Kms::resolve`]). A key or
//!   alias ARN resolves in the namespace it names, so cross-account use works.
//! * [`KeyRecord`] is an immutable snapshot (cheap to clone); functions that change a key take the snapshot only to
//!   identify it and re-read the stored record inside their transaction.
//! * Decrypt flow: [`Kms::ciphertext_key_id`] (reads the header, no decryption) → resolve → authorize →
//!   [`Kms::decrypt`]. [`Kms::resolve_ciphertext_key`] does the first two with AWS's errors.
//! * Every timestamp that decides something (`now`) is a parameter where the brief asked for it; creation dates
//!   use the clock.
//!
//! Formats: `docs/design/kms-ciphertext.md` (ciphertext blobs) and `docs/design/kms-keys.md` (records).

mod aliases;
pub mod ciphertext;
mod crypto_ops;
mod due;
mod error;
mod grants;
mod key_policy;
mod keys;
mod managed;
pub mod material;
mod model;
mod multi_region;
mod rotation;
mod tags;

pub use crypto_ops::{DataKey, DataKeySpec, Decrypted};
pub use due::DueReport;
pub use error::KmsError;
pub use grants::{
    grant_admits, grant_permits, parse_grant_token, principal_account, CreateGrantInput,
    GRANT_OPERATIONS, MAX_GRANTS_PER_KEY,
};
pub use key_policy::{aws_managed_policy, default_key_policy, MAX_POLICY_BYTES};
pub use keys::{CreateKeyInput, KEY_SPECS};
pub use model::{
    alias_arn, key_arn, AliasRecord, Grant, GrantConstraints, KeyInfo, KeyManager, KeyMetadata,
    KeyRecord, KeyState, MaterialSet, MaterialVersion, MultiRegionConfiguration, MultiRegionKey,
    RotationConfig, RotationEntry, RotationStatus, RotationType, SealedMaterial, StoredKey, Tag,
};

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crypto::RootOfTrust;
use meta::Store;

/// An encryption context: sorted, so its canonical encoding ignores the order a client sent it in.
pub type EncryptionContext = BTreeMap<String, String>;

/// One page of a listing; `next_marker` is `Some` when more follow (AWS's `Truncated` = `next_marker.is_some()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_marker: Option<String>,
}

/// Table names; keys are documented beside each record type in `model.rs` and in `docs/design/kms-keys.md`.
pub(crate) mod tables {
    pub const KEYS: &str = "kms.keys";
    pub const SETS: &str = "kms.material_sets";
    pub const MATERIALS: &str = "kms.materials";
    pub const ALIASES: &str = "kms.aliases";
    pub const GRANTS: &str = "kms.grants";
    pub const RETIRABLE: &str = "kms.retirable";
}

/// The most unsealed material versions kept in memory.
pub const MATERIAL_CACHE_ENTRIES: usize = 1024;
/// The most resolved key snapshots kept in memory.
const KEY_CACHE_ENTRIES: usize = 8192;

/// The KMS engine. Cheap to clone.
#[derive(Clone)]
pub struct Kms {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Kms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kms")
            .field("root", &self.inner.root.describe())
            .finish_non_exhaustive()
    }
}

struct Inner {
    store: Store,
    root: Arc<dyn RootOfTrust>,
    /// Bumped after every committed write; cached snapshots remember the generation they were read at, so a
    /// write makes every older snapshot stale without knowing which keys it touched.
    generation: AtomicU64,
    /// `<account>\0<region>\0<key ref>` → (generation, snapshot).
    keys: RwLock<HashMap<String, (u64, KeyRecord)>>,
    /// Unsealed material by material id. Material never changes once created, so entries need no generation;
    /// destroyed keys' entries are removed.
    materials: RwLock<HashMap<[u8; 32], Arc<material::MaterialKey>>>,
}

impl Kms {
    pub fn new(store: Store, root: Arc<dyn RootOfTrust>) -> Kms {
        Kms {
            inner: Arc::new(Inner {
                store,
                root,
                generation: AtomicU64::new(0),
                keys: RwLock::new(HashMap::new()),
                materials: RwLock::new(HashMap::new()),
            }),
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn root(&self) -> &dyn RootOfTrust {
        self.inner.root.as_ref()
    }

    pub(crate) fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// Runs a write transaction and marks every cached snapshot stale once it has committed (or failed).
    pub(crate) async fn write<R, F>(&self, f: F) -> Result<R, KmsError>
    where
        F: FnOnce(&mut meta::Txn) -> Result<R, KmsError> + Send + 'static,
        R: Send + 'static,
    {
        let out = self.inner.store.transact_async(f).await;
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        out
    }

    pub(crate) fn cached_key(&self, cache_key: &str) -> Option<KeyRecord> {
        let gen = self.generation();
        let map = self.inner.keys.read().unwrap_or_else(|e| e.into_inner());
        match map.get(cache_key) {
            Some((g, rec)) if *g == gen => Some(rec.clone()),
            _ => None,
        }
    }

    pub(crate) fn cache_key(&self, cache_key: String, gen: u64, rec: &KeyRecord) {
        let mut map = self.inner.keys.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= KEY_CACHE_ENTRIES {
            // Stale entries go first; if all are fresh, start over (a rare, bounded cost).
            let now = self.generation();
            map.retain(|_, (g, _)| *g == now);
            if map.len() >= KEY_CACHE_ENTRIES {
                map.clear();
            }
        }
        map.insert(cache_key, (gen, rec.clone()));
    }

    pub(crate) fn material_cache(&self) -> &RwLock<HashMap<[u8; 32], Arc<material::MaterialKey>>> {
        &self.inner.materials
    }
}

/// The current time at millisecond precision, as KMS reports dates.
pub(crate) fn now() -> time::OffsetDateTime {
    let t = time::OffsetDateTime::now_utc();
    t.replace_millisecond(t.millisecond()).unwrap_or(t)
}

/// Builds `<a>/<b>/<c>` keys.
pub(crate) fn key3(a: &str, b: &str, c: &str) -> Vec<u8> {
    format!("{a}/{b}/{c}").into_bytes()
}
