//! Time-bounded caches of unwrapped S3 Bucket Keys, in zeroizing memory.
//!
//! * Writes: one bucket key per (bucket, KMS key reference, encryption context, requesting principal and
//!   source), reused for every object written in its lifetime.
//! * Reads: one entry per (ciphertext and context digest, requesting principal and source), so a principal or
//!   source that KMS has not authorized in this period always reaches KMS before it gets a key.
//!
//! Entries live at most their TTL; the whole cache is bounded in size, dropping the entries nearest to expiry
//! first. Every entry records its KMS key ARN so a failure or state change of that key drops them all.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

/// Who a cached key was unwrapped or generated for: the KMS authorization it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Requester {
    /// The caller's own ARN (the session ARN for assumed roles) and access key.
    pub(crate) principal: String,
    pub(crate) access_key: String,
    /// `aws:SourceArn` / `aws:SourceAccount` of requests a service makes for a resource (the edge).
    pub(crate) source_arn: String,
    pub(crate) source_account: String,
}

impl Requester {
    pub(crate) fn of(ctx: &api::RequestContext) -> Self {
        Self {
            principal: ctx.caller.arn.clone(),
            access_key: ctx.caller.access_key_id.clone().unwrap_or_default(),
            source_arn: ctx.source_arn.clone().unwrap_or_default(),
            source_account: ctx.source_account.clone().unwrap_or_default(),
        }
    }
}

/// The slot of a write-side bucket key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PutSlot {
    pub(crate) bucket: String,
    pub(crate) key_ref: String,
    /// Canonical JSON of the bucket key's encryption context.
    pub(crate) context: String,
    pub(crate) requester: Requester,
}

/// The slot of a read-side (unwrapped) bucket key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct GetSlot {
    /// SHA-256 over the ciphertext and its canonical context.
    pub(crate) digest: [u8; 32],
    pub(crate) requester: Requester,
}

/// One cached bucket key.
pub(crate) struct CachedKey {
    pub(crate) plaintext: Zeroizing<[u8; 32]>,
    pub(crate) key_arn: String,
    /// The KMS ciphertext (write side; stored in each object's descriptor).
    pub(crate) ciphertext: Vec<u8>,
    /// The KMS key material that produced it (write side): a rotation makes the entry stale.
    pub(crate) material_id: Option<String>,
    expires: Instant,
}

impl CachedKey {
    pub(crate) fn new(
        plaintext: Zeroizing<[u8; 32]>,
        key_arn: String,
        ciphertext: Vec<u8>,
        material_id: Option<String>,
    ) -> Self {
        Self {
            plaintext,
            key_arn,
            ciphertext,
            material_id,
            expires: Instant::now(),
        }
    }
}

/// How many fill locks a cache has: slots hash onto them, so two misses contend only when they share one.
const FILL_STRIPES: usize = 64;

/// A TTL- and size-bounded map of cached keys.
pub(crate) struct KeyCache<K> {
    ttl: Duration,
    max_entries: usize,
    map: Mutex<HashMap<K, Arc<CachedKey>>>,
    /// Held while a missing entry is fetched from KMS, so that concurrent misses on one slot make one KMS call
    /// and the rest reuse its result (without this, a burst of PUTs into a fresh bucket each fetched a key).
    fills: Vec<tokio::sync::Mutex<()>>,
}

impl<K: Eq + Hash + Clone> KeyCache<K> {
    pub(crate) fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            ttl,
            max_entries,
            map: Mutex::new(HashMap::new()),
            fills: (0..FILL_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        }
    }

    /// Waits for the right to fill `slot`. Callers re-check the cache once they hold it: another caller may
    /// have filled the slot meanwhile.
    pub(crate) async fn fill_guard(&self, slot: &K) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let hash = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .hash_one(slot);
        self.fills[(hash as usize) % FILL_STRIPES].lock().await
    }

    // A poisoned lock can only come from a panic in the short sections below, none of which leaves the map
    // inconsistent.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Arc<CachedKey>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The live entry of `slot`; an expired one is dropped.
    pub(crate) fn get(&self, slot: &K) -> Option<Arc<CachedKey>> {
        let mut map = self.lock();
        match map.get(slot) {
            Some(e) if e.expires > Instant::now() => Some(Arc::clone(e)),
            Some(_) => {
                map.remove(slot);
                None
            }
            None => None,
        }
    }

    /// Caches `entry` for the TTL (not at all when the TTL is zero).
    pub(crate) fn insert(&self, slot: K, mut entry: CachedKey) -> Arc<CachedKey> {
        entry.expires = Instant::now() + self.ttl;
        let entry = Arc::new(entry);
        if self.ttl.is_zero() || self.max_entries == 0 {
            return entry;
        }
        let mut map = self.lock();
        if map.len() >= self.max_entries && !map.contains_key(&slot) {
            let now = Instant::now();
            map.retain(|_, e| e.expires > now);
            while map.len() >= self.max_entries {
                let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, e)| e.expires)
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                map.remove(&oldest);
            }
        }
        map.insert(slot, Arc::clone(&entry));
        entry
    }

    pub(crate) fn remove(&self, slot: &K) {
        self.lock().remove(slot);
    }

    /// Drops every entry under the KMS key `key_arn`; returns how many.
    pub(crate) fn evict_key(&self, key_arn: &str) -> usize {
        let mut map = self.lock();
        let before = map.len();
        map.retain(|_, e| e.key_arn != key_arn);
        before - map.len()
    }

    /// Drops the entries `matches` selects.
    pub(crate) fn evict_where(&self, matches: impl Fn(&K) -> bool) {
        self.lock().retain(|k, _| !matches(k));
    }

    pub(crate) fn len(&self) -> usize {
        let now = Instant::now();
        self.lock().values().filter(|e| e.expires > now).count()
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(arn: &str) -> CachedKey {
        CachedKey::new(Zeroizing::new([1; 32]), arn.into(), vec![], None)
    }

    #[test]
    fn ttl_size_and_eviction() {
        let c: KeyCache<u32> = KeyCache::new(Duration::from_secs(600), 2);
        c.insert(1, entry("a"));
        c.insert(2, entry("b"));
        c.insert(3, entry("a"));
        assert_eq!(c.len(), 2, "bounded in size");
        assert!(c.get(&1).is_none(), "the entry nearest expiry went first");
        assert_eq!(c.evict_key("a"), 1);
        assert!(c.get(&2).is_some());
        assert!(c.get(&3).is_none());

        let zero: KeyCache<u32> = KeyCache::new(Duration::ZERO, 10);
        zero.insert(1, entry("a"));
        assert!(zero.get(&1).is_none(), "a zero TTL caches nothing");
    }
}
