//! Public keys (parsed once from the PEM that CreatePublicKey takes) for verification, private
//! keys for signing, and the two hash algorithms CloudFront signatures use.

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair, ParsedPublicKey, RsaKeyPair, VerificationAlgorithm,
    ECDSA_P256_SHA1_ASN1, ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING,
    RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256,
};

use crate::der::{self, Algorithm};
use crate::error::KeyError;
use crate::rsa_sha1::RsaSha1Signer;

/// The hash under a signature: `Hash-Algorithm` / `CloudFront-Hash-Algorithm`, SHA-1 if absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// CloudFront's default, used whenever no hash algorithm is named, for RSA and ECDSA alike.
    #[default]
    Sha1,
    Sha256,
}

impl HashAlgorithm {
    /// The parameter value: `SHA1` or `SHA256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// Parses the parameter value. CloudFront documents exactly these two spellings.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "SHA1" => Some(Self::Sha1),
            "SHA256" => Some(Self::Sha256),
            _ => None,
        }
    }
}

/// The kinds of key CloudFront accepts for signed URLs and cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// RSA, 2048 bits or more, PKCS#1 v1.5 signatures.
    Rsa,
    /// ECDSA on P-256, ASN.1 DER signatures.
    EcdsaP256,
}

/// A public key a viewer's signature is checked against, parsed once and reused.
///
/// aws-lc-rs binds a parsed key to one algorithm, and the hash is chosen per request, so the
/// key is held parsed for both hashes.
#[derive(Clone)]
pub struct PublicKey {
    algorithm: KeyAlgorithm,
    sha1: ParsedPublicKey,
    sha256: ParsedPublicKey,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl PublicKey {
    /// Parses a `-----BEGIN PUBLIC KEY-----` (SubjectPublicKeyInfo) PEM, as CloudFront's
    /// CreatePublicKey takes it.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let (label, der) = der::pem(pem).ok_or(KeyError::NotPem)?;
        if label != "PUBLIC KEY" {
            return Err(KeyError::UnsupportedPemLabel(label.to_owned()));
        }
        Self::from_spki_der(&der)
    }

    /// Parses a DER SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        match der::spki_algorithm(der).ok_or(KeyError::Malformed("not a SubjectPublicKeyInfo"))? {
            Algorithm::Rsa => Self::parse(KeyAlgorithm::Rsa, der),
            Algorithm::EcP256 => Self::parse(KeyAlgorithm::EcdsaP256, der),
            Algorithm::Other => Err(KeyError::UnsupportedAlgorithm),
        }
    }

    /// Parses key bytes aws-lc-rs understands for `algorithm`: a SubjectPublicKeyInfo, a PKCS#1
    /// `RSAPublicKey` or an uncompressed EC point.
    fn parse(algorithm: KeyAlgorithm, bytes: &[u8]) -> Result<Self, KeyError> {
        let (sha1, sha256): (
            &'static dyn VerificationAlgorithm,
            &'static dyn VerificationAlgorithm,
        ) = match algorithm {
            KeyAlgorithm::Rsa => (
                &RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                &RSA_PKCS1_2048_8192_SHA256,
            ),
            KeyAlgorithm::EcdsaP256 => (&ECDSA_P256_SHA1_ASN1, &ECDSA_P256_SHA256_ASN1),
        };
        let parse = |alg| {
            ParsedPublicKey::new(alg, bytes).map_err(|e| KeyError::Malformed(e.description_()))
        };
        Ok(Self {
            algorithm,
            sha1: parse(sha1)?,
            sha256: parse(sha256)?,
        })
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// Whether `signature` is this key's signature of `message` under `hash`.
    pub(crate) fn verifies(&self, hash: HashAlgorithm, message: &[u8], signature: &[u8]) -> bool {
        let key = match hash {
            HashAlgorithm::Sha1 => &self.sha1,
            HashAlgorithm::Sha256 => &self.sha256,
        };
        key.verify_sig(message, signature).is_ok()
    }
}

/// A private key for minting signed URLs and cookies (tests, benchmarks and tools; the server
/// itself only verifies).
pub struct PrivateKey {
    inner: Private,
    public: PublicKey,
}

enum Private {
    Rsa {
        pair: RsaKeyPair,
        sha1: RsaSha1Signer,
    },
    Ec(EcdsaKeyPair),
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.public.algorithm)
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Parses an unencrypted private key PEM: `RSA PRIVATE KEY` (PKCS#1, what `openssl genrsa`
    /// printed before OpenSSL 3 and what the CloudFront guide shows), `PRIVATE KEY` (PKCS#8,
    /// RSA or P-256) or `EC PRIVATE KEY` (SEC1, P-256).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let (label, der) = der::pem(pem).ok_or(KeyError::NotPem)?;
        let rejected = |e: aws_lc_rs::error::KeyRejected| KeyError::Malformed(e.description_());
        match label {
            "RSA PRIVATE KEY" => Self::rsa(RsaKeyPair::from_der(&der).map_err(rejected)?, &der),
            "PRIVATE KEY" => match der::pkcs8(&der).ok_or(KeyError::Malformed("not PKCS#8"))? {
                (Algorithm::Rsa, pkcs1) => {
                    Self::rsa(RsaKeyPair::from_pkcs8(&der).map_err(rejected)?, pkcs1)
                }
                (Algorithm::EcP256, _) => Self::ec(
                    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &der)
                        .map_err(rejected)?,
                ),
                (Algorithm::Other, _) => Err(KeyError::UnsupportedAlgorithm),
            },
            "EC PRIVATE KEY" => Self::ec(
                EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_ASN1_SIGNING, &der)
                    .map_err(rejected)?,
            ),
            other => Err(KeyError::UnsupportedPemLabel(other.to_owned())),
        }
    }

    fn rsa(pair: RsaKeyPair, pkcs1: &[u8]) -> Result<Self, KeyError> {
        let (n, d) =
            der::rsa_private_n_d(pkcs1).ok_or(KeyError::Malformed("not a PKCS#1 RSA key"))?;
        let sha1 = RsaSha1Signer::new(n, d).ok_or(KeyError::Malformed("unusable RSA key"))?;
        let public = PublicKey::parse(KeyAlgorithm::Rsa, pair.public_key().as_ref())?;
        Ok(Self {
            inner: Private::Rsa { pair, sha1 },
            public,
        })
    }

    fn ec(pair: EcdsaKeyPair) -> Result<Self, KeyError> {
        let public = PublicKey::parse(KeyAlgorithm::EcdsaP256, pair.public_key().as_ref())?;
        Ok(Self {
            inner: Private::Ec(pair),
            public,
        })
    }

    /// The matching public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Signs `message` as CloudFront expects for this key kind and `hash`, and checks the result
    /// against the public key before returning it.
    pub(crate) fn sign(&self, hash: HashAlgorithm, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let signature = match (&self.inner, hash) {
            (Private::Rsa { sha1, .. }, HashAlgorithm::Sha1) => sha1.sign(message),
            (Private::Rsa { pair, .. }, HashAlgorithm::Sha256) => {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut sig)
                    .map_err(|_| KeyError::Signing)?;
                sig
            }
            (Private::Ec(pair), HashAlgorithm::Sha256) => pair
                .sign(&SystemRandom::new(), message)
                .map_err(|_| KeyError::Signing)?
                .as_ref()
                .to_vec(),
            (Private::Ec(pair), HashAlgorithm::Sha1) => {
                // aws-lc-rs has no ECDSA-with-SHA-1 signer, but ECDSA signs the hash read as an
                // integer (SEC 1 §4.1.3), and a 20-byte hash left-padded with zeros to 32 bytes
                // is the same integer. So we sign the padded SHA-1 as a "SHA-256" digest.
                let sha1 = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, message);
                let mut padded = [0u8; digest::SHA256_OUTPUT_LEN];
                padded[digest::SHA256_OUTPUT_LEN - sha1.as_ref().len()..]
                    .copy_from_slice(sha1.as_ref());
                let as_sha256 = digest::Digest::import_less_safe(&padded, &digest::SHA256)
                    .map_err(|_| KeyError::Signing)?;
                pair.sign_digest(&as_sha256)
                    .map_err(|_| KeyError::Signing)?
                    .as_ref()
                    .to_vec()
            }
        };
        if !self.public.verifies(hash, message, &signature) {
            return Err(KeyError::Signing);
        }
        Ok(signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA: &str = include_str!("../testdata/rsa2048.pem");
    const RSA_PUB: &str = include_str!("../testdata/rsa2048.pub.pem");
    const RSA_OTHER_PUB: &str = include_str!("../testdata/rsa2048-other.pub.pem");
    const EC: &str = include_str!("../testdata/ec-p256.pem");
    const EC_SEC1: &str = include_str!("../testdata/ec-p256.sec1.pem");
    const EC_PUB: &str = include_str!("../testdata/ec-p256.pub.pem");

    #[test]
    fn hash_algorithm_spellings() {
        assert_eq!(HashAlgorithm::parse("SHA1"), Some(HashAlgorithm::Sha1));
        assert_eq!(HashAlgorithm::parse("SHA256"), Some(HashAlgorithm::Sha256));
        assert_eq!(HashAlgorithm::parse("sha256"), None);
        assert_eq!(HashAlgorithm::parse("SHA-256"), None);
        assert_eq!(HashAlgorithm::default(), HashAlgorithm::Sha1);
        assert_eq!(HashAlgorithm::Sha256.as_str(), "SHA256");
    }

    #[test]
    fn parses_public_keys_of_both_kinds() {
        assert_eq!(
            PublicKey::from_pem(RSA_PUB).unwrap().algorithm(),
            KeyAlgorithm::Rsa
        );
        assert_eq!(
            PublicKey::from_pem(EC_PUB).unwrap().algorithm(),
            KeyAlgorithm::EcdsaP256
        );
    }

    #[test]
    fn rejects_what_cloudfront_would() {
        assert_eq!(PublicKey::from_pem("hello").unwrap_err(), KeyError::NotPem);
        assert_eq!(
            PublicKey::from_pem(RSA).unwrap_err(),
            KeyError::UnsupportedPemLabel("RSA PRIVATE KEY".into())
        );
        // An Ed25519 SubjectPublicKeyInfo: a well-formed key CloudFront does not accept.
        let ed25519 = "-----BEGIN PUBLIC KEY-----\n\
                       MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n\
                       -----END PUBLIC KEY-----\n";
        assert_eq!(
            PublicKey::from_pem(ed25519).unwrap_err(),
            KeyError::UnsupportedAlgorithm
        );
        let mut truncated = der::pem(RSA_PUB).unwrap().1;
        truncated.truncate(100);
        assert!(matches!(
            PublicKey::from_spki_der(&truncated),
            Err(KeyError::Malformed(_))
        ));
    }

    #[test]
    fn every_private_key_form_signs_for_its_public_key() {
        for (pem, public) in [(RSA, RSA_PUB), (EC, EC_PUB), (EC_SEC1, EC_PUB)] {
            let key = PrivateKey::from_pem(pem).unwrap();
            let public = PublicKey::from_pem(public).unwrap();
            for hash in [HashAlgorithm::Sha1, HashAlgorithm::Sha256] {
                let sig = key.sign(hash, b"policy").unwrap();
                assert!(public.verifies(hash, b"policy", &sig), "{key:?} {hash:?}");
                assert!(!public.verifies(hash, b"policz", &sig), "{key:?} {hash:?}");
                let other = match hash {
                    HashAlgorithm::Sha1 => HashAlgorithm::Sha256,
                    HashAlgorithm::Sha256 => HashAlgorithm::Sha1,
                };
                assert!(
                    !public.verifies(other, b"policy", &sig),
                    "hash is bound: {key:?}"
                );
            }
        }
    }

    #[test]
    fn pkcs8_rsa_is_accepted_too() {
        // Re-wrap the PKCS#1 test key as PKCS#8: SEQUENCE { 0, rsaEncryption NULL, OCTET STRING }.
        let pkcs1 = der::pem(RSA).unwrap().1;
        let mut body = vec![0x02, 0x01, 0x00];
        body.extend_from_slice(&[
            0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05,
            0x00,
        ]);
        body.push(0x04);
        push_len(&mut body, pkcs1.len());
        body.extend_from_slice(&pkcs1);
        let mut pkcs8 = vec![0x30];
        push_len(&mut pkcs8, body.len());
        pkcs8.extend_from_slice(&body);
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &pkcs8)
        );
        let key = PrivateKey::from_pem(&pem).unwrap();
        let sig = key.sign(HashAlgorithm::Sha1, b"x").unwrap();
        assert!(PublicKey::from_pem(RSA_PUB)
            .unwrap()
            .verifies(HashAlgorithm::Sha1, b"x", &sig));
    }

    fn push_len(out: &mut Vec<u8>, len: usize) {
        assert!(len < 0x1_0000);
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }

    #[test]
    fn a_different_key_does_not_verify() {
        let key = PrivateKey::from_pem(RSA).unwrap();
        let other = PublicKey::from_pem(RSA_OTHER_PUB).unwrap();
        let ec = PublicKey::from_pem(EC_PUB).unwrap();
        let sig = key.sign(HashAlgorithm::Sha1, b"policy").unwrap();
        assert!(!other.verifies(HashAlgorithm::Sha1, b"policy", &sig));
        assert!(!ec.verifies(HashAlgorithm::Sha1, b"policy", &sig));
    }

    #[test]
    fn rsa_sha1_signatures_are_deterministic() {
        let key = PrivateKey::from_pem(RSA).unwrap();
        assert_eq!(
            key.sign(HashAlgorithm::Sha1, b"m").unwrap(),
            key.sign(HashAlgorithm::Sha1, b"m").unwrap()
        );
    }
}
