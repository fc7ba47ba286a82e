//! The records stored in meta, their tables and keys. Spec: `docs/design/objects.md`.

use serde::{Deserialize, Serialize};

use crate::model::{
    from_ms, Checksum, ChecksumAlgorithm, ChecksumType, EncryptionDescriptor, ObjectInfo,
    ObjectMetadata, Tag, NULL_VERSION,
};

/// Table names. Keys are described beside each record.
pub(crate) mod tables {
    /// `bucket` → [`crate::Bucket`].
    pub const BUCKETS: &str = "s3.buckets";
    /// `account ‖ 0 ‖ bucket` → empty: ListBuckets per owner.
    pub const ACCOUNT_BUCKETS: &str = "s3.account_buckets";
    /// `bucket ‖ 0 ‖ esc(key) ‖ 0 0 ‖ sort id` → [`super::VersionRecord`], newest first per key.
    pub const VERSIONS: &str = "s3.versions";
    /// `bucket ‖ 0 ‖ key` → [`super::VersionRecord`] of the current version, only when it is an
    /// object (not a delete marker): ListObjects is a range scan of this table.
    pub const LATEST: &str = "s3.latest";
    /// `bucket ‖ 0 ‖ esc(key) ‖ 0 0` → the 16-byte sort id of the key's "null" version.
    pub const NULLS: &str = "s3.nulls";
    /// Version record key → the sealed envelope bytes of a small body (≤ the inline limit).
    pub const BODIES: &str = "s3.bodies";
    /// `bucket ‖ 0 ‖ esc(key) ‖ 0 0 ‖ upload id` → [`super::UploadRecord`].
    pub const UPLOADS: &str = "s3.uploads";
    /// `upload id (16) ‖ part number (u32 BE)` → [`super::PartRecord`].
    pub const PARTS: &str = "s3.parts";
}

/// One version of one key: an object or a delete marker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct VersionRecord {
    /// Hex of the 16-byte sort id: the record's position among the key's versions.
    pub sort: String,
    /// Whether this is the key's "null" version.
    pub null: bool,
    #[serde(default)]
    pub delete_marker: bool,
    /// Random id of the write that produced the body; bound into the envelope's associated data.
    pub write_id: String,
    pub last_modified_ms: i64,
    pub owner: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub etag: String,
    #[serde(default)]
    pub metadata: ObjectMetadata,
    #[serde(default)]
    pub descriptor: EncryptionDescriptor,
    #[serde(default)]
    pub checksum: Option<Checksum>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    pub body: Body,
}

/// Where a version's sealed bytes are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Body {
    /// A delete marker has none.
    None,
    /// In [`tables::BODIES`] under the version key.
    Inline { cipher_len: u64 },
    /// One blob holding the whole envelope.
    Blob { blob: String, cipher_len: u64 },
    /// A completed multipart upload: one envelope per part, each in its own blob.
    Parts {
        upload_id: String,
        parts: Vec<PartRef>,
    },
}

/// A part of a completed multipart object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PartRef {
    pub number: u32,
    pub size: u64,
    pub cipher_len: u64,
    pub blob: String,
    pub write_id: String,
    pub etag: String,
    #[serde(default)]
    pub checksum: Option<String>,
}

impl VersionRecord {
    pub fn version_id(&self) -> String {
        if self.null {
            NULL_VERSION.to_owned()
        } else {
            self.sort.clone()
        }
    }

    pub fn sort_id(&self) -> Result<[u8; 16], crate::ObjectError> {
        crate::keys::parse_id(&self.sort)
            .ok_or_else(|| crate::ObjectError::Internal("bad sort id in record".into()))
    }

    /// Every blob this version references.
    pub fn blobs(&self) -> Vec<String> {
        match &self.body {
            Body::Blob { blob, .. } => vec![blob.clone()],
            Body::Parts { parts, .. } => parts.iter().map(|p| p.blob.clone()).collect(),
            Body::None | Body::Inline { .. } => Vec::new(),
        }
    }

    pub fn info(&self, bucket: &str, key: &str, is_latest: bool) -> ObjectInfo {
        ObjectInfo {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version_id: self.version_id(),
            is_latest,
            etag: self.etag.clone(),
            size: self.size,
            last_modified: from_ms(self.last_modified_ms),
            metadata: self.metadata.clone(),
            descriptor: self.descriptor.clone(),
            checksum: self.checksum.clone(),
            tag_count: self.tags.len(),
            parts_count: match &self.body {
                Body::Parts { parts, .. } => Some(parts.len() as u32),
                _ => None,
            },
            storage_class: "STANDARD",
            owner: self.owner.clone(),
            record: self.clone(),
        }
    }
}

/// A multipart upload in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UploadRecord {
    pub upload_id: String,
    pub key: String,
    pub initiated_ms: i64,
    pub owner: String,
    pub metadata: ObjectMetadata,
    pub descriptor: EncryptionDescriptor,
    #[serde(default)]
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    #[serde(default)]
    pub checksum_type: Option<ChecksumType>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// An uploaded part of an upload in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PartRecord {
    pub number: u32,
    pub size: u64,
    pub cipher_len: u64,
    pub blob: String,
    pub write_id: String,
    /// Hex MD5 of the part's plaintext.
    pub etag: String,
    pub last_modified_ms: i64,
    #[serde(default)]
    pub checksum: Option<String>,
}

/// Associated data bound into an object body's envelope: the object's identity.
pub(crate) fn object_aad(bucket: &str, key: &str, write_id: &str) -> Vec<u8> {
    aad(&[
        b"coffer-s3/v1/object",
        bucket.as_bytes(),
        key.as_bytes(),
        write_id.as_bytes(),
    ])
}

/// Associated data bound into a multipart part's envelope.
pub(crate) fn part_aad(
    bucket: &str,
    key: &str,
    upload_id: &str,
    number: u32,
    write_id: &str,
) -> Vec<u8> {
    aad(&[
        b"coffer-s3/v1/part",
        bucket.as_bytes(),
        key.as_bytes(),
        upload_id.as_bytes(),
        &number.to_be_bytes(),
        write_id.as_bytes(),
    ])
}

/// Length-prefixed concatenation, so no two field lists encode alike.
fn aad(fields: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields {
        out.extend_from_slice(&(f.len() as u32).to_be_bytes());
        out.extend_from_slice(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden bytes: a version record written by this release must decode in every later one.
    const RECORD_V1: &[u8] = b"\x01{\"sort\":\"ffffffffffffff0000000000000000aa\",\"null\":false,\"delete_marker\":false,\"write_id\":\"0000000000000001000000000000000b\",\"last_modified_ms\":1700000000000,\"owner\":\"111122223333\",\"size\":5,\"etag\":\"5d41402abc4b2a76b9719d911017c592\",\"metadata\":{\"content_type\":\"text/plain\",\"content_encoding\":null,\"content_disposition\":null,\"content_language\":null,\"cache_control\":null,\"expires\":null,\"user\":{\"a\":\"b\"}},\"descriptor\":{\"sse\":\"AES256\"},\"checksum\":{\"algorithm\":\"Crc32\",\"value\":\"NhCmhg==\",\"kind\":\"FullObject\"},\"tags\":[{\"key\":\"k\",\"value\":\"v\"}],\"body\":{\"Inline\":{\"cipher_len\":102}}}";

    fn sample() -> VersionRecord {
        VersionRecord {
            sort: "ffffffffffffff0000000000000000aa".into(),
            null: false,
            delete_marker: false,
            write_id: "0000000000000001000000000000000b".into(),
            last_modified_ms: 1_700_000_000_000,
            owner: "111122223333".into(),
            size: 5,
            etag: "5d41402abc4b2a76b9719d911017c592".into(),
            metadata: ObjectMetadata {
                content_type: Some("text/plain".into()),
                user: [("a".to_owned(), "b".to_owned())].into(),
                ..Default::default()
            },
            descriptor: EncryptionDescriptor(serde_json::json!({"sse": "AES256"})),
            checksum: Some(Checksum {
                algorithm: ChecksumAlgorithm::Crc32,
                value: "NhCmhg==".into(),
                kind: ChecksumType::FullObject,
            }),
            tags: vec![Tag::new("k", "v")],
            body: Body::Inline { cipher_len: 102 },
        }
    }

    #[test]
    fn version_record_golden_bytes() {
        assert_eq!(meta::codec::encode_json(&sample()).unwrap(), RECORD_V1);
        assert_eq!(
            meta::codec::decode_json::<VersionRecord>(RECORD_V1).unwrap(),
            sample()
        );
    }

    #[test]
    fn aad_is_unambiguous() {
        assert_ne!(object_aad("ab", "c", "w"), object_aad("a", "bc", "w"));
        assert_ne!(object_aad("b", "k", "w1"), object_aad("b", "k", "w2"));
    }
}
