//! Key material: 32 random bytes per version, sealed by the root of trust at rest, unsealed into a bounded
//! in-memory cache of ready AES-256-GCM keys.
//!
//! Plaintext material exists only in `Zeroizing` buffers and inside aws-lc's key schedule, which aws-lc wipes
//! when the key is freed (its `OPENSSL_free` cleanses). It is never written to the store.

use std::sync::Arc;

use aws_lc_rs::aead::{LessSafeKey, UnboundKey, AES_256_GCM};
use zeroize::Zeroizing;

use crate::model::{MaterialSet, SealedMaterial};
use crate::{tables, Kms, KmsError, MATERIAL_CACHE_ENTRIES};

/// Domain label at the start of every material AAD.
const AAD_LABEL: &[u8] = b"coffer:kms:material:v1";

/// An unsealed material version, ready to encrypt and decrypt.
pub struct MaterialKey {
    pub(crate) id: [u8; 32],
    pub(crate) aead: LessSafeKey,
}

impl MaterialKey {
    /// Builds the AEAD key from material bytes.
    pub fn new(id: [u8; 32], material: &[u8]) -> Result<MaterialKey, KmsError> {
        let unbound = UnboundKey::new(&AES_256_GCM, material)
            .map_err(|_| KmsError::Internal("key material has the wrong length".into()))?;
        Ok(MaterialKey {
            id,
            aead: LessSafeKey::new(unbound),
        })
    }

    pub fn id(&self) -> &[u8; 32] {
        &self.id
    }

    /// The AES-256-GCM key, for [`crate::ciphertext::seal`] / [`crate::ciphertext::open`].
    pub fn aead(&self) -> &LessSafeKey {
        &self.aead
    }
}

/// The associated data material is sealed with: `"coffer:kms:material:v1" 0x00 owner 0x00 material-id-hex`, where
/// owner is the key ARN (single-Region) or `<account>:<mrk id>` (multi-Region, shared by every region).
pub fn aad(owner: &str, material_id_hex: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(AAD_LABEL.len() + owner.len() + material_id_hex.len() + 2);
    out.extend_from_slice(AAD_LABEL);
    out.push(0);
    out.extend_from_slice(owner.as_bytes());
    out.push(0);
    out.extend_from_slice(material_id_hex.as_bytes());
    out
}

/// `<account>/<key id>/<material id>`.
pub(crate) fn material_key(account: &str, key_id: &str, id_hex: &str) -> Vec<u8> {
    crate::key3(account, key_id, id_hex)
}

/// A fresh material version, not yet stored: its id, sealed record, and the ready key (to prime the cache).
pub(crate) struct NewMaterial {
    pub(crate) id_hex: String,
    pub(crate) sealed: SealedMaterial,
    pub(crate) key: Arc<MaterialKey>,
}

impl Kms {
    /// Generates and seals a new material version for the key named by `owner` (see [`aad`]).
    pub(crate) fn new_material(&self, owner: &str) -> Result<NewMaterial, KmsError> {
        let material: Zeroizing<[u8; 32]> = Zeroizing::new(crypto::random_array());
        let id: [u8; 32] = crypto::random_array();
        let id_hex = hex::encode(id);
        let sealed = self.root().seal(&aad(owner, &id_hex), &material[..])?;
        let key = Arc::new(MaterialKey::new(id, &material[..])?);
        Ok(NewMaterial {
            id_hex,
            sealed: SealedMaterial { sealed },
            key,
        })
    }

    /// Puts a material key into the cache, evicting an arbitrary entry when full.
    pub(crate) fn remember_material(&self, key: Arc<MaterialKey>) {
        let mut map = self
            .material_cache()
            .write()
            .unwrap_or_else(|e| e.into_inner());
        if map.len() >= MATERIAL_CACHE_ENTRIES && !map.contains_key(&key.id) {
            if let Some(victim) = map.keys().next().copied() {
                map.remove(&victim);
            }
        }
        map.insert(key.id, key);
    }

    /// Drops destroyed material from the cache.
    pub(crate) fn forget_materials(&self, ids: &[String]) {
        let mut map = self
            .material_cache()
            .write()
            .unwrap_or_else(|e| e.into_inner());
        for id in ids {
            if let Ok(raw) = <[u8; 32]>::try_from(hex::decode(id).unwrap_or_default().as_slice()) {
                map.remove(&raw);
            }
        }
    }

    /// The ready key for material `id` of `set`: from the cache, else read from the store and unsealed.
    /// The caller has checked that `id` belongs to `set`.
    pub(crate) fn material(
        &self,
        set: &MaterialSet,
        id: &[u8; 32],
    ) -> Result<Arc<MaterialKey>, KmsError> {
        if let Some(k) = self
            .material_cache()
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
        {
            return Ok(Arc::clone(k));
        }
        let id_hex = hex::encode(id);
        let sealed: SealedMaterial = self
            .store()
            .get_json(
                tables::MATERIALS,
                &material_key(&set.account, &set.key_id, &id_hex),
            )?
            .ok_or_else(|| {
                KmsError::Internal(format!("key material {id_hex} is missing from the store"))
            })?;
        let plain = self
            .root()
            .open(&aad(&set.owner_name(), &id_hex), &sealed.sealed)?;
        let key = Arc::new(MaterialKey::new(*id, &plain)?);
        self.remember_material(Arc::clone(&key));
        Ok(key)
    }

    /// The plaintext bytes of material `material_id_hex` of `key`, unsealed from the store. Only for tests that
    /// prove material never reaches disk in plaintext.
    #[doc(hidden)]
    pub fn material_for_tests(
        &self,
        key: &crate::KeyRecord,
        material_id_hex: &str,
    ) -> Result<Zeroizing<Vec<u8>>, KmsError> {
        let set = &key.materials;
        let sealed: SealedMaterial = self
            .store()
            .get_json(
                tables::MATERIALS,
                &material_key(&set.account, &set.key_id, material_id_hex),
            )?
            .ok_or_else(|| KmsError::NotFound(format!("no material {material_id_hex}")))?;
        Ok(self
            .root()
            .open(&aad(&set.owner_name(), material_id_hex), &sealed.sealed)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aad_names_owner_and_material() {
        assert_eq!(
            aad("arn:aws:kms:r:1:key/k", "ab"),
            b"coffer:kms:material:v1\0arn:aws:kms:r:1:key/k\0ab".to_vec()
        );
    }

    #[test]
    fn material_key_rejects_wrong_length() {
        assert!(MaterialKey::new([0; 32], &[1; 16]).is_err());
        assert!(MaterialKey::new([0; 32], &[1; 32]).is_ok());
    }
}
