//! PutObject: stream → seal (inline or blob, durable) → one metadata commit → unlink replaced.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures_core::Stream;

use crate::checksum::b64;
use crate::keys::{id_text, new_ascending_id};
use crate::model::{
    from_ms, now_ms, Checksum, ChecksumAlgorithm, ChecksumType, Encryption, ObjectMetadata,
    PutOutcome, Tag, WriteConditions,
};
use crate::records::{object_aad, Body, VersionRecord};
use crate::seal::{SealSpec, Sealed, SealedBody};
use crate::versions::{commit_version, NewVersion};
use crate::{validate_key, validate_metadata, ObjectError, Objects};

/// An expected checksum whose value becomes known only after the body ended (the trailing
/// `x-amz-checksum-<alg>` header of an aws-chunked upload). The algorithm is known up front so it
/// is computed while the body streams; `value` is called once the stream is exhausted, before
/// anything is committed, and returns the base64 value to verify (`None`: nothing to check).
pub struct LateChecksum {
    pub algorithm: ChecksumAlgorithm,
    value: Box<dyn FnOnce() -> Option<String> + Send>,
}

impl LateChecksum {
    pub fn new(
        algorithm: ChecksumAlgorithm,
        value: impl FnOnce() -> Option<String> + Send + 'static,
    ) -> Self {
        LateChecksum {
            algorithm,
            value: Box::new(value),
        }
    }

    pub(crate) fn take(self) -> Option<String> {
        (self.value)()
    }
}

impl std::fmt::Debug for LateChecksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LateChecksum")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// A PutObject request (everything but the body).
#[derive(Debug)]
pub struct PutObject {
    pub bucket: String,
    pub key: String,
    /// The account that owns the new object (with BucketOwnerEnforced: the bucket owner).
    pub owner: String,
    pub metadata: ObjectMetadata,
    pub encryption: Encryption,
    /// `Content-Length` (decoded length for aws-chunked uploads), if known.
    pub content_length: Option<u64>,
    /// `Content-MD5`, base64.
    pub content_md5: Option<String>,
    /// `x-amz-sdk-checksum-algorithm` / `x-amz-checksum-algorithm`: compute and store this one.
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// Declared `x-amz-checksum-<alg>` values (at most one), base64.
    pub checksums: Vec<(ChecksumAlgorithm, String)>,
    /// A checksum declared as a trailer, verified once the body ended.
    pub late_checksum: Option<LateChecksum>,
    pub tags: Vec<Tag>,
    pub conditions: WriteConditions,
}

impl PutObject {
    /// A request with no metadata, checksums, tags or conditions.
    pub fn new(
        bucket: impl Into<String>,
        key: impl Into<String>,
        owner: impl Into<String>,
        encryption: Encryption,
    ) -> Self {
        PutObject {
            bucket: bucket.into(),
            key: key.into(),
            owner: owner.into(),
            metadata: ObjectMetadata::default(),
            encryption,
            content_length: None,
            content_md5: None,
            checksum_algorithm: None,
            checksums: Vec::new(),
            late_checksum: None,
            tags: Vec::new(),
            conditions: WriteConditions::default(),
        }
    }
}

/// Which checksum to compute and store: the declared one (header or trailer), else the requested
/// one, else CRC64NVME (S3's default for new objects).
pub(crate) fn checksum_plan(
    requested: Option<ChecksumAlgorithm>,
    declared: &[(ChecksumAlgorithm, String)],
    late: Option<&LateChecksum>,
) -> Result<
    (
        ChecksumAlgorithm,
        BTreeMap<ChecksumAlgorithm, Option<String>>,
    ),
    ObjectError,
> {
    if declared.len() + usize::from(late.is_some()) > 1 {
        return Err(ObjectError::InvalidRequest(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
                .into(),
        ));
    }
    let declared_alg = declared
        .first()
        .map(|(a, _)| *a)
        .or(late.map(|l| l.algorithm));
    if let (Some(req), Some(alg)) = (requested, declared_alg) {
        if req != alg {
            return Err(ObjectError::InvalidRequest(
                "Value for x-amz-sdk-checksum-algorithm header is invalid.".into(),
            ));
        }
    }
    let algorithm = declared_alg
        .or(requested)
        .unwrap_or(ChecksumAlgorithm::Crc64Nvme);
    let mut map = BTreeMap::new();
    map.insert(algorithm, declared.first().map(|(_, v)| v.clone()));
    Ok((algorithm, map))
}

impl Objects {
    /// PutObject. Streams `body` (plaintext) through the envelope in constant memory, verifies
    /// length, `Content-MD5` and checksums, makes the body durable, and only then commits the
    /// version in one metadata transaction (which also evaluates `conditions` and unlinks a
    /// replaced null version, whose blob is deleted after the commit).
    pub async fn put_object<S, E>(&self, req: PutObject, body: S) -> Result<PutOutcome, ObjectError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        validate_key(&req.key)?;
        validate_metadata(&req.metadata)?;
        crate::tagging::validate_tags(&req.tags)?;
        self.head_bucket(&req.bucket)?;
        let (algorithm, checks) = checksum_plan(
            req.checksum_algorithm,
            &req.checksums,
            req.late_checksum.as_ref(),
        )?;
        let write_id = id_text(&new_ascending_id());
        let sealed = self
            .seal(
                body,
                SealSpec {
                    data_key: &req.encryption.data_key,
                    aad: object_aad(&req.bucket, &req.key, &write_id),
                    declared_len: req.content_length,
                    content_md5: req.content_md5.as_deref(),
                    checksums: checks,
                    late_checksum: req.late_checksum,
                    allow_inline: true,
                },
            )
            .await?;
        let checksum = sealed.checksums.get(&algorithm).map(|raw| Checksum {
            algorithm,
            value: b64(raw),
            kind: ChecksumType::FullObject,
        });
        let record = VersionRecord {
            sort: String::new(),
            null: false,
            delete_marker: false,
            write_id,
            last_modified_ms: now_ms(),
            owner: req.owner,
            size: sealed.size,
            etag: hex::encode(sealed.md5),
            metadata: req.metadata,
            descriptor: req.encryption.descriptor,
            checksum,
            tags: req.tags,
            body: match &sealed.body {
                SealedBody::Inline(b) => Body::Inline {
                    cipher_len: b.len() as u64,
                },
                SealedBody::Blob { id, cipher_len } => Body::Blob {
                    blob: id.to_hex(),
                    cipher_len: *cipher_len,
                },
            },
        };
        self.commit_sealed(req.bucket, req.key, record, sealed, req.conditions)
            .await
    }

    /// Commits a sealed body as a new version; on failure deletes its blob again.
    pub(crate) async fn commit_sealed(
        &self,
        bucket: String,
        key: String,
        record: VersionRecord,
        sealed: Sealed,
        conditions: WriteConditions,
    ) -> Result<PutOutcome, ObjectError> {
        let new_blob = sealed.body.blob();
        let inline = match sealed.body {
            SealedBody::Inline(b) => Some(b),
            SealedBody::Blob { .. } => None,
        };
        let committed = self
            .store()
            .transact_async(move |txn| {
                commit_version(
                    txn,
                    NewVersion {
                        bucket,
                        key,
                        record,
                        inline,
                        conditions,
                    },
                )
            })
            .await;
        match committed {
            Ok((record, unlinked)) => {
                self.delete_blobs(unlinked).await;
                Ok(PutOutcome {
                    version_id: record.version_id(),
                    etag: record.etag,
                    size: record.size,
                    checksum: record.checksum,
                    last_modified: from_ms(record.last_modified_ms),
                })
            }
            Err(e) => {
                // The record never became visible, so the blob is unreferenced.
                self.delete_blobs(new_blob.into_iter().collect()).await;
                Err(e)
            }
        }
    }
}
