//! The deployment's digest-signing key: RSA-2048, PKCS#1 v1.5 with SHA-256, as CloudTrail signs its digest files.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _, UnparsedPublicKey};

use crate::error::{Error, Result};

/// Signs digest files. Holds the private key in memory only; the key file is PKCS#8 DER with mode 0600.
pub struct DigestSigner {
    key: KeyPair,
}

impl std::fmt::Debug for DigestSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material; the fingerprint identifies the key well enough.
        f.debug_struct("DigestSigner")
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl DigestSigner {
    /// Loads the PKCS#8 DER key at `path`, or generates an RSA-2048 key and writes it there (mode 0600, created
    /// exclusively so a concurrent starter can't be overwritten) when the file does not exist.
    pub fn load_or_create(path: &Path) -> Result<DigestSigner> {
        match std::fs::read(path) {
            Ok(der) => DigestSigner::from_pkcs8(&der).map_err(|reason| Error::Key {
                path: path.into(),
                reason,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = KeyPair::generate(KeySize::Rsa2048).map_err(|_| Error::Key {
                    path: path.into(),
                    reason: "RSA key generation failed".into(),
                })?;
                let der = key.as_der().map_err(|_| Error::Key {
                    path: path.into(),
                    reason: "PKCS#8 encoding failed".into(),
                })?;
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(Error::io(path))?;
                file.write_all(der.as_ref()).map_err(Error::io(path))?;
                file.sync_all().map_err(Error::io(path))?;
                if let Some(parent) = path.parent() {
                    crate::fsutil::sync_dir(parent)?;
                }
                tracing::info!(path = %path.display(), "created audit digest signing key");
                Ok(DigestSigner { key })
            }
            Err(e) => Err(Error::Io {
                path: path.into(),
                source: e,
            }),
        }
    }

    /// Builds a signer from PKCS#8 DER bytes (tests use a fixed, checked-in key).
    pub fn from_pkcs8(der: &[u8]) -> Result<DigestSigner, String> {
        let key = KeyPair::from_pkcs8(der).map_err(|e| e.to_string())?;
        if key.public_modulus_len() * 8 < 2048 {
            return Err("RSA key shorter than 2048 bits".into());
        }
        Ok(DigestSigner { key })
    }

    /// The public key as DER `RSAPublicKey` (PKCS#1), the form CloudTrail's `ListPublicKeys` returns and
    /// [`crate::verify`] takes.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.key.public_key().as_ref().to_vec()
    }

    /// Lowercase hex SHA-256 of [`Self::public_key_der`]; digests record it so a verifier knows which key to use.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.public_key_der())
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `msg` (deterministic, so golden digests are stable).
    pub(crate) fn sign(&self, msg: &[u8]) -> Result<Vec<u8>> {
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                msg,
                &mut sig,
            )
            .map_err(|_| Error::Signing)?;
        Ok(sig)
    }
}

/// Lowercase hex SHA-256 of a public key's DER.
pub(crate) fn fingerprint(public_key_der: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        public_key_der,
    ))
}

/// Checks an RSASSA-PKCS1-v1_5 SHA-256 signature made by [`DigestSigner::sign`].
pub(crate) fn verify_signature(public_key_der: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, public_key_der)
        .verify(msg, sig)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_key_is_private_and_reloads() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("digest-key.der");
        let a = DigestSigner::load_or_create(&path).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let b = DigestSigner::load_or_create(&path).unwrap();
        assert_eq!(a.public_key_der(), b.public_key_der());
        let sig = a.sign(b"m").unwrap();
        assert!(verify_signature(&b.public_key_der(), b"m", &sig));
        assert!(!verify_signature(&b.public_key_der(), b"n", &sig));
    }

    #[test]
    fn garbage_key_file_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, b"not a key").unwrap();
        assert!(matches!(
            DigestSigner::load_or_create(&path),
            Err(Error::Key { .. })
        ));
    }
}
