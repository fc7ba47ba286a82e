//! The deployment-wide S3 master key behind SSE-S3 (and the seal of SSE-C check values): 32 random bytes
//! created on first use, stored in meta only sealed by the root of trust, held in memory only in a
//! [`crypto::RootKey`] (wiped on drop). Also the HKDF that derives every per-object key in this crate.

use std::sync::{Arc, OnceLock};

use api::ApiError;
use aws_lc_rs::hkdf;
use crypto::{RootKey, RootOfTrust};
use meta::Store;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::descriptor::{b64, unb64};

/// The meta table holding the sealed S3 master key.
pub const MASTER_KEY_TABLE: &str = "sse.master_keys";
/// The record of master key 1 in [`MASTER_KEY_TABLE`].
pub const MASTER_KEY_RECORD: &[u8] = b"s3/1";
/// The associated data the root of trust seals master key 1 with.
pub const MASTER_KEY_AAD: &[u8] = b"coffer:sse:s3-master-key:1";
/// The id descriptors name the master key by.
pub(crate) const MASTER_KEY_ID: u32 = 1;

/// HKDF `info` labels; each derived key serves one purpose only.
pub(crate) const SSE_S3_WRAP_LABEL: &[u8] = b"coffer-sse/v1/sse-s3-wrap/";
pub(crate) const SSE_C_CHECK_SEAL_LABEL: &[u8] = b"coffer-sse/v1/sse-c-check-seal";
pub(crate) const SSE_C_DATA_KEY_LABEL: &[u8] = b"coffer-sse/v1/sse-c-data-key/";

/// The stored record (versioned JSON through `meta::codec`).
#[derive(Serialize, Deserialize)]
pub struct MasterKeyRecord {
    pub v: u8,
    /// `RootOfTrust::seal(MASTER_KEY_AAD, key)`, base64.
    pub sealed: String,
}

/// Loads the master key once, creating it on first use.
pub(crate) struct MasterKey {
    store: Store,
    root: Arc<dyn RootOfTrust>,
    key: OnceLock<Arc<RootKey>>,
}

impl MasterKey {
    pub(crate) fn new(store: Store, root: Arc<dyn RootOfTrust>) -> Self {
        Self {
            store,
            root,
            key: OnceLock::new(),
        }
    }

    /// The key if it exists (loading it from meta once). Reads only; for callers that cannot create it.
    pub(crate) fn existing(&self) -> Result<Option<Arc<RootKey>>, ApiError> {
        if let Some(k) = self.key.get() {
            return Ok(Some(Arc::clone(k)));
        }
        let Some(record) = self
            .store
            .get_json::<MasterKeyRecord>(MASTER_KEY_TABLE, MASTER_KEY_RECORD)
            .map_err(ApiError::internal)?
        else {
            return Ok(None);
        };
        let sealed = unb64(&record.sealed, "sealed master key")?;
        let plain = self.root.open(MASTER_KEY_AAD, &sealed).map_err(|_| {
            ApiError::internal("the S3 master key does not open under the root of trust")
        })?;
        let bytes: [u8; 32] = plain[..]
            .try_into()
            .map_err(|_| ApiError::internal("the S3 master key has the wrong length"))?;
        let key = Arc::new(RootKey::from_bytes(bytes));
        Ok(Some(Arc::clone(self.key.get_or_init(|| key))))
    }

    /// The key, created (and durably stored, sealed) if this is the first use in the deployment. Concurrent
    /// first uses agree: the transaction stores a key only if none exists, and everyone loads the stored one.
    pub(crate) async fn get_or_create(&self) -> Result<Arc<RootKey>, ApiError> {
        if let Some(k) = self.existing()? {
            return Ok(k);
        }
        let fresh = Zeroizing::new(crypto::random_array::<32>());
        let sealed = self
            .root
            .seal(MASTER_KEY_AAD, &fresh[..])
            .map_err(ApiError::internal)?;
        let record = MasterKeyRecord {
            v: 1,
            sealed: b64(&sealed),
        };
        self.store
            .transact_async(move |txn| {
                if txn.get(MASTER_KEY_TABLE, MASTER_KEY_RECORD)?.is_none() {
                    txn.put_json(MASTER_KEY_TABLE, MASTER_KEY_RECORD, &record)?;
                }
                Ok::<_, meta::Error>(())
            })
            .await
            .map_err(ApiError::internal)?;
        tracing::info!("created the S3 master key");
        self.existing()?
            .ok_or_else(|| ApiError::internal("the S3 master key vanished after its creation"))
    }
}

/// HKDF-SHA256: extract with `salt` over `key`, expand with `label ‖ context` to 32 bytes.
pub(crate) fn derive(
    key: &[u8; 32],
    salt: &[u8; 32],
    label: &[u8],
    context: &[u8],
) -> Zeroizing<[u8; 32]> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(key);
    let mut out = Zeroizing::new([0u8; 32]);
    prk.expand(&[label, context], hkdf::HKDF_SHA256)
        .and_then(|okm| okm.fill(&mut out[..]))
        .expect("HKDF-SHA256 expanding to 32 bytes cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derive_separates_labels_salts_and_contexts() {
        let k = derive(&[1; 32], &[2; 32], SSE_S3_WRAP_LABEL, b"arn:aws:s3:::b/k");
        assert_ne!(
            *k,
            *derive(
                &[1; 32],
                &[2; 32],
                SSE_C_DATA_KEY_LABEL,
                b"arn:aws:s3:::b/k"
            )
        );
        assert_ne!(
            *k,
            *derive(&[1; 32], &[3; 32], SSE_S3_WRAP_LABEL, b"arn:aws:s3:::b/k")
        );
        assert_ne!(
            *k,
            *derive(&[1; 32], &[2; 32], SSE_S3_WRAP_LABEL, b"arn:aws:s3:::b/j")
        );
        assert_ne!(
            *k,
            *derive(&[9; 32], &[2; 32], SSE_S3_WRAP_LABEL, b"arn:aws:s3:::b/k")
        );
        assert_eq!(
            *k,
            *derive(&[1; 32], &[2; 32], SSE_S3_WRAP_LABEL, b"arn:aws:s3:::b/k")
        );
    }

    #[tokio::test]
    async fn master_key_is_created_once_and_reloaded() {
        let store = meta::Store::new(meta::MemoryBackend::new()).unwrap();
        let root: Arc<dyn RootOfTrust> = Arc::new(RootKey::generate());
        let a = MasterKey::new(store.clone(), root.clone());
        assert!(a.existing().unwrap().is_none());
        let k1 = a.get_or_create().await.unwrap();
        let b = MasterKey::new(store.clone(), root);
        let k2 = b.get_or_create().await.unwrap();
        assert_eq!(k1.expose(), k2.expose());
        // Under another root of trust the stored key does not open.
        let c = MasterKey::new(store, Arc::new(RootKey::generate()));
        assert_eq!(c.existing().unwrap_err().status, 500);
    }
}
