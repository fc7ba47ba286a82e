//! Cryptographic operations on a key snapshot: Encrypt, Decrypt, GenerateDataKey, GenerateRandom.
//!
//! The hot path touches no store and unseals nothing once a key is warm: the snapshot carries its current
//! material, and older material comes from the engine's material cache.

use std::sync::Arc;

use zeroize::Zeroizing;

use crate::ciphertext;
use crate::keys::{is_key_id, require_enabled};
use crate::material::MaterialKey;
use crate::model::KeyRecord;
use crate::{EncryptionContext, Kms, KmsError};

/// The largest plaintext Encrypt accepts.
pub const MAX_PLAINTEXT: usize = 4096;
/// The largest ciphertext blob Decrypt accepts.
pub const MAX_CIPHERTEXT: usize = 6144;

/// The size of a data key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKeySpec {
    Aes256,
    Aes128,
    /// `NumberOfBytes`, 1..=1024.
    Bytes(usize),
}

/// Decrypt's result.
pub struct Decrypted {
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The material version that decrypted it (64 hex), for the audit record.
    pub material_id: String,
}

impl std::fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decrypted")
            .field("material_id", &self.material_id)
            .finish_non_exhaustive()
    }
}

/// GenerateDataKey's result (GenerateDataKeyWithoutPlaintext drops `plaintext`).
pub struct DataKey {
    pub plaintext: Zeroizing<Vec<u8>>,
    pub ciphertext: Vec<u8>,
    pub material_id: String,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey")
            .field("material_id", &self.material_id)
            .finish_non_exhaustive()
    }
}

fn incorrect_key() -> KmsError {
    KmsError::IncorrectKey(
        "The key ID in the request does not identify a KMS key that can perform this operation."
            .into(),
    )
}

impl Kms {
    /// The key snapshot's current material, ready to use.
    fn current_material(&self, key: &KeyRecord) -> Result<Arc<MaterialKey>, KmsError> {
        if let Some(k) = key.current.get() {
            return Ok(Arc::clone(k));
        }
        let id: [u8; 32] = hex::decode(&key.materials.current)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| KmsError::Internal("malformed current material id".into()))?;
        let mk = self.material(&key.materials, &id)?;
        Ok(Arc::clone(key.current.get_or_init(|| mk)))
    }

    /// Encrypt: `plaintext` (1..=4096 bytes) under the key's current material (the snapshot's
    /// [`KeyRecord::current_material_id`]), bound to `ctx`.
    pub fn encrypt(
        &self,
        key: &KeyRecord,
        plaintext: &[u8],
        ctx: &EncryptionContext,
    ) -> Result<Vec<u8>, KmsError> {
        if plaintext.is_empty() || plaintext.len() > MAX_PLAINTEXT {
            return Err(KmsError::constraint(
                "plaintext",
                "[SENSITIVE]",
                "Member must have length between 1 and 4096",
            ));
        }
        require_enabled(&key.key)?;
        let mk = self.current_material(key)?;
        ciphertext::seal(
            &mk.aead,
            key.arn(),
            &mk.id,
            ctx,
            plaintext,
            crypto::random_array(),
        )
    }

    /// The ARN of the key that encrypted `blob`, read from its header without decrypting, so the caller can
    /// resolve and authorize that key first. Garbage is `InvalidCiphertextException`.
    pub fn ciphertext_key_id(&self, blob: &[u8]) -> Result<String, KmsError> {
        check_blob_len(blob)?;
        Ok(ciphertext::parse(blob)?.key_arn.to_owned())
    }

    /// Resolves the key named in `blob`'s header (Decrypt without KeyId). For a multi-Region key the copy in
    /// (`account`, `region`) is used when the caller's account owns it, as a replica decrypts its primary's
    /// ciphertext. A key that does not exist is `InvalidCiphertextException`: a tampered header must not be
    /// told apart from tampered bytes.
    pub fn resolve_ciphertext_key(
        &self,
        account: &str,
        region: &str,
        blob: &[u8],
    ) -> Result<KeyRecord, KmsError> {
        check_blob_len(blob)?;
        let h = ciphertext::parse(blob)?;
        let (Some(id), Some((acct, _))) = (h.key_id(), h.account_region()) else {
            return Err(KmsError::InvalidCiphertext(String::new()));
        };
        if id.starts_with("mrk-") && acct == account {
            if let Ok(k) = self.resolve(account, region, id) {
                return Ok(k);
            }
        }
        match self.resolve(account, region, h.key_arn) {
            Ok(k) => Ok(k),
            Err(KmsError::NotFound(_) | KmsError::InvalidArn(_)) => {
                Err(KmsError::InvalidCiphertext(String::new()))
            }
            Err(e) => Err(e),
        }
    }

    /// Decrypt `blob` with `key`. A blob made under a different existing key is `IncorrectKeyException`; a
    /// wrong context or any altered byte is `InvalidCiphertextException`.
    pub fn decrypt(
        &self,
        key: &KeyRecord,
        blob: &[u8],
        ctx: &EncryptionContext,
    ) -> Result<Decrypted, KmsError> {
        check_blob_len(blob)?;
        let h = ciphertext::parse(blob)?;
        if !self.blob_names_key(key, &h)? {
            return Err(incorrect_key());
        }
        require_enabled(&key.key)?;
        if !key.materials.has_version(&h.material_id) {
            return Err(KmsError::InvalidCiphertext(String::new()));
        }
        let mk = match key.current.get() {
            Some(k) if k.id == h.material_id => Arc::clone(k),
            _ => self.material(&key.materials, &h.material_id)?,
        };
        let plaintext = ciphertext::open(&mk.aead, blob, &h, ctx)?;
        Ok(Decrypted {
            plaintext,
            material_id: h.material_id_hex(),
        })
    }

    /// Whether the header names `key` (any regional copy of a multi-Region key counts). If it names another
    /// key, that is `IncorrectKeyException` only when such a key exists; otherwise the header was tampered with.
    fn blob_names_key(
        &self,
        key: &KeyRecord,
        h: &ciphertext::Header<'_>,
    ) -> Result<bool, KmsError> {
        let (Some(id), Some((account, region))) = (h.key_id(), h.account_region()) else {
            return Err(KmsError::InvalidCiphertext(String::new()));
        };
        if id == key.key_id()
            && account == key.account()
            && (key.is_multi_region() || region == key.region())
        {
            return Ok(true);
        }
        if !is_key_id(id) {
            return Err(KmsError::InvalidCiphertext(String::new()));
        }
        match self.load(account, region, id) {
            Ok(_) => Ok(false),
            Err(KmsError::NotFound(_)) => Err(KmsError::InvalidCiphertext(String::new())),
            Err(e) => Err(e),
        }
    }

    /// GenerateDataKey: a fresh random data key, returned in plaintext and encrypted under `key`.
    pub fn generate_data_key(
        &self,
        key: &KeyRecord,
        spec: DataKeySpec,
        ctx: &EncryptionContext,
    ) -> Result<DataKey, KmsError> {
        let n = match spec {
            DataKeySpec::Aes256 => 32,
            DataKeySpec::Aes128 => 16,
            DataKeySpec::Bytes(n) => {
                check_random_len("numberOfBytes", n)?;
                n
            }
        };
        require_enabled(&key.key)?;
        let mut plaintext = Zeroizing::new(vec![0u8; n]);
        crypto::fill_random(&mut plaintext);
        let mk = self.current_material(key)?;
        let ciphertext = ciphertext::seal(
            &mk.aead,
            key.arn(),
            &mk.id,
            ctx,
            &plaintext,
            crypto::random_array(),
        )?;
        Ok(DataKey {
            plaintext,
            ciphertext,
            material_id: key.materials.current.clone(),
        })
    }

    /// GenerateRandom: `n` (1..=1024) bytes from the system CSPRNG.
    pub fn generate_random(&self, n: usize) -> Result<Vec<u8>, KmsError> {
        check_random_len("numberOfBytes", n)?;
        let mut out = vec![0u8; n];
        crypto::fill_random(&mut out);
        Ok(out)
    }
}

fn check_random_len(what: &str, n: usize) -> Result<(), KmsError> {
    if n == 0 {
        return Err(KmsError::constraint(
            what,
            n,
            "Member must have value greater than or equal to 1",
        ));
    }
    if n > 1024 {
        return Err(KmsError::constraint(
            what,
            n,
            "Member must have value less than or equal to 1024",
        ));
    }
    Ok(())
}

fn check_blob_len(blob: &[u8]) -> Result<(), KmsError> {
    if blob.is_empty() || blob.len() > MAX_CIPHERTEXT {
        return Err(KmsError::constraint(
            "ciphertextBlob",
            "[BLOB]",
            "Member must have length between 1 and 6144",
        ));
    }
    Ok(())
}
