//! The encryption descriptors persisted with every object (inside the object record, as the engine's opaque
//! `EncryptionDescriptor`), specified in `docs/design/envelope.md` § "Server-side encryption". Versioned by `v`;
//! binary values are standard base64 strings. None of them holds a key in plaintext.

use std::collections::BTreeMap;

use api::ApiError;
use base64::Engine as _;
use objects::EncryptionDescriptor;
use serde::{Deserialize, Serialize};

use crate::errors;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The descriptor format version written today.
pub const DESCRIPTOR_VERSION: u8 = 1;

/// One object's descriptor, tagged by `sse` with S3's name of the method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "sse")]
pub(crate) enum Descriptor {
    /// SSE-S3: the data key wrapped under a per-object key derived from the S3 master key.
    #[serde(rename = "AES256")]
    S3(S3Managed),
    /// SSE-KMS: a KMS ciphertext (of the data key, or of the S3 Bucket Key the data key derives from).
    #[serde(rename = "aws:kms")]
    Kms(KmsManaged),
    /// SSE-C: only a sealed, salted check value of the customer's key.
    #[serde(rename = "SSE-C")]
    Customer(CustomerManaged),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct S3Managed {
    pub(crate) v: u8,
    /// Which S3 master key (only 1 exists today; rotation adds more).
    pub(crate) mk: u32,
    /// HKDF salt of the per-object wrapping key (32 bytes).
    pub(crate) salt: String,
    /// `crypto::seal` of the 32-byte data key under the wrapping key.
    pub(crate) wrapped: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KmsManaged {
    pub(crate) v: u8,
    /// The full ARN of the KMS key (what KMS answered, whatever reference the request used).
    pub(crate) key_arn: String,
    /// KMS's ciphertext blob.
    pub(crate) ciphertext: String,
    /// The complete encryption context the ciphertext is bound to (`aws:s3:arn` included).
    pub(crate) context: BTreeMap<String, String>,
    /// Present when the ciphertext is an S3 Bucket Key: the object's data key is
    /// `HKDF(bucket key, salt, object ARN)` (`envelope::derive_object_key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) bucket_key: Option<BucketKeyRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BucketKeyRef {
    /// The per-object HKDF salt (32 bytes).
    pub(crate) salt: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CustomerManaged {
    pub(crate) v: u8,
    /// Always `AES256`.
    pub(crate) algorithm: String,
    /// HKDF salt of the data key derived from the customer key (32 bytes).
    pub(crate) key_salt: String,
    /// Salt of `envelope::customer_key_check` (32 bytes).
    pub(crate) check_salt: String,
    /// The check value, sealed under a key derived from the S3 master key so that damage to it is told apart
    /// from a wrong customer key.
    pub(crate) check: String,
}

impl Descriptor {
    pub(crate) fn to_stored(&self) -> Result<EncryptionDescriptor, ApiError> {
        EncryptionDescriptor::from_typed(self).map_err(ApiError::internal)
    }

    pub(crate) fn from_stored(d: &EncryptionDescriptor) -> Result<Descriptor, ApiError> {
        let parsed: Descriptor = d
            .to_typed()
            .map_err(|e| errors::damaged(&format!("unreadable ({e})")))?;
        let v = match &parsed {
            Descriptor::S3(x) => x.v,
            Descriptor::Kms(x) => x.v,
            Descriptor::Customer(x) => x.v,
        };
        if v == 0 || v > DESCRIPTOR_VERSION {
            return Err(errors::damaged(&format!("unknown version {v}")));
        }
        Ok(parsed)
    }
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

pub(crate) fn unb64(s: &str, what: &str) -> Result<Vec<u8>, ApiError> {
    B64.decode(s.as_bytes())
        .map_err(|_| errors::damaged(&format!("{what} is not base64")))
}

pub(crate) fn unb64_32(s: &str, what: &str) -> Result<[u8; 32], ApiError> {
    unb64(s, what)?
        .try_into()
        .map_err(|_| errors::damaged(&format!("{what} is not 32 bytes")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden descriptors: these exact documents must keep parsing (GUIDE §4, invariant 9).
    #[test]
    fn golden_descriptors_parse() {
        let s3 = serde_json::json!({"sse": "AES256", "v": 1, "mk": 1, "salt": "AAAA", "wrapped": "AQ=="});
        let kms = serde_json::json!({"sse": "aws:kms", "v": 1, "key_arn": "arn:aws:kms:us-east-1:111122223333:key/k",
            "ciphertext": "AQ==", "context": {"aws:s3:arn": "arn:aws:s3:::b"}, "bucket_key": {"salt": "AA=="}});
        let c = serde_json::json!({"sse": "SSE-C", "v": 1, "algorithm": "AES256", "key_salt": "AA==",
            "check_salt": "AA==", "check": "AQ=="});
        for (doc, tag) in [(s3, "AES256"), (kms, "aws:kms"), (c, "SSE-C")] {
            let d = Descriptor::from_stored(&EncryptionDescriptor(doc.clone())).unwrap();
            let back = d.to_stored().unwrap();
            assert_eq!(back.0, doc, "{tag} must round-trip unchanged");
        }
        let kms_plain = serde_json::json!({"sse": "aws:kms", "v": 1, "key_arn": "a", "ciphertext": "AQ==",
            "context": {}});
        assert!(matches!(
            Descriptor::from_stored(&EncryptionDescriptor(kms_plain)).unwrap(),
            Descriptor::Kms(KmsManaged {
                bucket_key: None,
                ..
            })
        ));
    }

    #[test]
    fn unknown_or_future_descriptors_are_damage() {
        for doc in [
            serde_json::json!({"sse": "AES256", "wrapped": "AQ=="}),
            serde_json::json!({"sse": "AES256", "v": 2, "mk": 1, "salt": "", "wrapped": ""}),
            serde_json::json!({"sse": "rot13"}),
            serde_json::Value::Null,
        ] {
            let e = Descriptor::from_stored(&EncryptionDescriptor(doc)).unwrap_err();
            assert_eq!(e.status, 500);
        }
    }
}
