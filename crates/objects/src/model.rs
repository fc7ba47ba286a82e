//! The engine's data types: what callers pass in and get back, and the records stored in meta.
//!
//! Stored records are versioned JSON through `meta::codec` (format byte 1); fields added later
//! are `#[serde(default)]` so every older record keeps decoding (GUIDE §4, invariant 9). The
//! layout is specified in `docs/design/objects.md` and pinned by golden tests.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// The version id S3 uses for the version written while versioning was off or suspended.
pub const NULL_VERSION: &str = "null";

/// A bucket's versioning state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Versioning {
    /// Never enabled: one "null" version per key, replaced by every write.
    #[default]
    Unversioned,
    /// Every write adds a version; deletes add delete markers.
    Enabled,
    /// Writes replace the "null" version; older versions stay.
    Suspended,
}

/// How an object's data key is wrapped, defined by the API layer (SSE-S3 wrapped key, SSE-KMS key
/// ARN + ciphertext blob + context + bucket-key info, SSE-C key MD5 + key check). The engine stores
/// it verbatim with the object and hands it back on reads; it never interprets it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EncryptionDescriptor(pub serde_json::Value);

impl EncryptionDescriptor {
    /// Wraps a typed descriptor.
    pub fn from_typed<T: Serialize>(value: &T) -> Result<Self, crate::ObjectError> {
        serde_json::to_value(value)
            .map(EncryptionDescriptor)
            .map_err(|e| crate::ObjectError::Internal(e.to_string()))
    }

    /// Reads the descriptor back as the API layer's type.
    pub fn to_typed<T: serde::de::DeserializeOwned>(&self) -> Result<T, crate::ObjectError> {
        serde_json::from_value(self.0.clone())
            .map_err(|e| crate::ObjectError::Internal(e.to_string()))
    }
}

/// The key an object body is sealed under, already unwrapped by the caller, and how it is wrapped.
pub struct Encryption {
    pub data_key: Zeroizing<[u8; 32]>,
    pub descriptor: EncryptionDescriptor,
}

impl std::fmt::Debug for Encryption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encryption")
            .field("data_key", &"<redacted>")
            .field("descriptor", &self.descriptor)
            .finish()
    }
}

/// The checksum algorithms S3 supports (`x-amz-checksum-*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    /// The name S3 uses (`CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`, `SHA256`).
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "CRC32",
            ChecksumAlgorithm::Crc32c => "CRC32C",
            ChecksumAlgorithm::Crc64Nvme => "CRC64NVME",
            ChecksumAlgorithm::Sha1 => "SHA1",
            ChecksumAlgorithm::Sha256 => "SHA256",
        }
    }

    /// Parses S3's name, case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
            ChecksumAlgorithm::Sha1,
            ChecksumAlgorithm::Sha256,
        ]
        .into_iter()
        .find(|a| a.as_str().eq_ignore_ascii_case(s))
    }

    pub(crate) fn is_crc(self) -> bool {
        matches!(
            self,
            ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c | ChecksumAlgorithm::Crc64Nvme
        )
    }
}

/// Whether a checksum covers the whole object or is a checksum of part checksums (multipart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ChecksumType {
    #[default]
    FullObject,
    Composite,
}

impl ChecksumType {
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumType::FullObject => "FULL_OBJECT",
            ChecksumType::Composite => "COMPOSITE",
        }
    }
}

/// A stored checksum, as S3 prints it: base64 of the big-endian digest, with `-N` appended for a
/// composite checksum of N parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    pub algorithm: ChecksumAlgorithm,
    pub value: String,
    #[serde(default)]
    pub kind: ChecksumType,
}

/// The HTTP metadata stored with an object and returned on GET/HEAD.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ObjectMetadata {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    /// The `Expires` header, verbatim.
    pub expires: Option<String>,
    /// `x-amz-meta-*` without the prefix, names lower-cased by the API layer.
    pub user: BTreeMap<String, String>,
}

/// One object or bucket tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

impl Tag {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// Conditions evaluated on GET/HEAD (and, via [`ReadConditions::check_copy_source`], on a copy
/// source). ETags may be given with or without quotes; `*` matches any object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadConditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<OffsetDateTime>,
    pub if_unmodified_since: Option<OffsetDateTime>,
}

/// Conditional writes (PutObject, CompleteMultipartUpload), checked inside the commit
/// transaction, so of two racing writers at most one can pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteConditions {
    /// `If-None-Match: *`: succeed only if the key has no current object.
    pub if_none_match_star: bool,
    /// `If-Match: <etag>`: succeed only if the current object has this ETag.
    pub if_match: Option<String>,
}

/// A byte range of a GET, in HTTP's three forms; resolved against the object's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=a-b` (inclusive; `b` past the end is clamped).
    FromTo(u64, u64),
    /// `bytes=a-`.
    From(u64),
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

impl ByteRange {
    /// The inclusive range this selects in an object of `size` bytes, or `InvalidRange`.
    pub fn resolve(self, size: u64) -> Result<(u64, u64), crate::ObjectError> {
        let bad = crate::ObjectError::InvalidRange { size };
        if size == 0 {
            return Err(bad);
        }
        match self {
            ByteRange::FromTo(a, b) if a <= b && a < size => Ok((a, b.min(size - 1))),
            ByteRange::From(a) if a < size => Ok((a, size - 1)),
            ByteRange::Suffix(n) if n > 0 => Ok((size.saturating_sub(n), size - 1)),
            _ => Err(bad),
        }
    }
}

/// Everything HEAD returns about one object version, and what [`read_object`] needs to read it.
///
/// [`read_object`]: crate::Objects::read_object
#[derive(Debug, Clone)]
pub struct ObjectInfo {
    pub bucket: String,
    pub key: String,
    /// `"null"` or an opaque id.
    pub version_id: String,
    pub is_latest: bool,
    /// Hex MD5 (or `<hex>-<parts>` for multipart), without quotes.
    pub etag: String,
    pub size: u64,
    pub last_modified: OffsetDateTime,
    pub metadata: ObjectMetadata,
    pub descriptor: EncryptionDescriptor,
    pub checksum: Option<Checksum>,
    pub tag_count: usize,
    /// Number of parts for a multipart object.
    pub parts_count: Option<u32>,
    pub storage_class: &'static str,
    pub owner: String,
    pub(crate) record: crate::records::VersionRecord,
}

impl ObjectInfo {
    /// The ETag in the quoted form of the `ETag` header.
    pub fn quoted_etag(&self) -> String {
        format!("\"{}\"", self.etag)
    }

    /// Sizes and checksums of the parts of a multipart object (empty otherwise).
    pub fn parts(&self) -> Vec<ObjectPart> {
        match &self.record.body {
            crate::records::Body::Parts { parts, .. } => parts
                .iter()
                .map(|p| ObjectPart {
                    part_number: p.number,
                    size: p.size,
                    checksum: p.checksum.clone(),
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The inclusive byte range of part `n` (GET/HEAD `?partNumber=n`); a non-multipart object
    /// has one part, the whole object.
    pub fn part_range(&self, n: u32) -> Result<(u64, u64), crate::ObjectError> {
        let invalid = || crate::ObjectError::InvalidRange { size: self.size };
        match &self.record.body {
            crate::records::Body::Parts { parts, .. } => {
                let mut start = 0;
                for p in parts {
                    if p.number == n {
                        return if p.size == 0 {
                            Err(invalid())
                        } else {
                            Ok((start, start + p.size - 1))
                        };
                    }
                    start += p.size;
                }
                Err(crate::ObjectError::InvalidArgument(
                    "Part number must be an integer between 1 and 10000, inclusive".into(),
                ))
            }
            _ if n == 1 => ByteRange::From(0).resolve(self.size),
            _ => Err(invalid()),
        }
    }
}

/// One part of a multipart object (GetObjectAttributes `ObjectParts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPart {
    pub part_number: u32,
    pub size: u64,
    pub checksum: Option<String>,
}

/// What a successful write returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutOutcome {
    /// `"null"` when the bucket is unversioned or suspended.
    pub version_id: String,
    pub etag: String,
    pub size: u64,
    pub checksum: Option<Checksum>,
    pub last_modified: OffsetDateTime,
}

/// What a DELETE did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteOutcome {
    /// The version removed or the delete marker created (`None` when nothing was versioned).
    pub version_id: Option<String>,
    /// Whether the version removed, or the one created, is a delete marker.
    pub delete_marker: bool,
}

pub(crate) fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

pub(crate) fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}
