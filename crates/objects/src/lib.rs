//! The S3 storage engine: buckets and their configuration, versioned objects, listing, multipart
//! uploads, copy and tagging — over `meta` (records, small bodies) and `blob` (large bodies).
//!
//! No HTTP, no authorization, no KMS: the API layer (`s3-api`) decides who may do what and how an
//! object is encrypted, unwraps data keys, and hands them in. This crate seals every body with
//! `envelope` before anything is stored (GUIDE §4, invariant 1), binds each envelope to the
//! object's identity (bucket, key, write id), and keeps invariant 5: a body is durable before
//! the one metadata transaction that makes it visible, so a failed or interrupted write never
//! changes what GET returns. The layout and protocols are in `docs/design/objects.md`.
//!
//! Entry point: [`Objects`]. Operations are split by resource: [`buckets`](crate::Objects::create_bucket)
//! and bucket configuration, put, get/head, delete, list, versions, multipart, copy, tagging.

mod attributes;
mod buckets;
mod checksum;
mod conditions;
mod config;
mod copy;
mod delete;
mod error;
mod gc;
mod get;
mod keys;
mod list;
mod model;
mod multipart;
mod put;
mod records;
mod seal;
mod stream;
mod tagging;
mod versions;

use std::sync::Arc;

pub use attributes::ObjectAttributes;
pub use buckets::{validate_bucket_name, Bucket, BucketPage};
pub use config::{BucketEncryption, CorsRule, OwnershipControls, PublicAccessBlock};
pub use copy::CopySource;
pub use error::ObjectError;
pub use list::{ListObjects, ListedObject, ObjectPage};
pub use model::{
    ByteRange, Checksum, ChecksumAlgorithm, ChecksumType, DeleteOutcome, Encryption,
    EncryptionDescriptor, ObjectInfo, ObjectMetadata, ObjectPart, PutOutcome, ReadConditions, Tag,
    Versioning, WriteConditions, NULL_VERSION,
};
pub use multipart::{
    CompletedPart, CreateMultipartUpload, ListUploads, PartInfo, PartPage, UploadInfo, UploadPage,
    UploadPart,
};
pub use put::{LateChecksum, PutObject};
pub use stream::ObjectStream;
pub use versions::{ListVersions, ObjectVersion, VersionPage};

use blob::BlobStore;
use meta::Store;

/// Longest object key, in UTF-8 bytes.
pub const MAX_KEY_LEN: usize = 1024;
/// Largest total of user metadata keys and values, in UTF-8 bytes.
pub const MAX_USER_METADATA: usize = 2048;
/// Largest object a single PUT (or one part) may carry: 5 GiB.
pub const MAX_PUT_SIZE: u64 = 5 << 30;
/// Part numbers run 1..=10000.
pub const MAX_PART_NUMBER: u32 = 10_000;

/// Tuning of an [`Objects`] engine. The defaults are S3's limits.
#[derive(Clone)]
pub struct Config {
    /// Sealed bodies up to this many bytes are stored inline in the metadata store (riding its
    /// group commit); larger ones go to the blob store.
    pub inline_limit: u64,
    /// Smallest part size, except for the last part, accepted by CompleteMultipartUpload.
    pub min_part_size: u64,
    /// Largest single PUT or part.
    pub max_put_size: u64,
    /// Envelope segment size for new bodies.
    pub segment_size: envelope::SegmentSize,
    /// Test hook: runs after a body's blob is committed and before the metadata commit (the crash
    /// window the orphan collector exists for). `None` in production.
    #[doc(hidden)]
    pub after_blob_commit: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            inline_limit: 64 << 10,
            min_part_size: 5 << 20,
            max_put_size: MAX_PUT_SIZE,
            segment_size: envelope::SegmentSize::DEFAULT,
            after_blob_commit: None,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("inline_limit", &self.inline_limit)
            .field("min_part_size", &self.min_part_size)
            .field("max_put_size", &self.max_put_size)
            .field("segment_size", &self.segment_size.get())
            .finish_non_exhaustive()
    }
}

/// The S3 storage engine. Cheap to clone; clones share the stores.
#[derive(Clone)]
pub struct Objects {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    blobs: Arc<dyn BlobStore>,
    config: Config,
}

impl std::fmt::Debug for Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Objects")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Objects {
    /// An engine over `store` (records, small bodies) and `blobs` (large bodies).
    pub fn new(store: Store, blobs: Arc<dyn BlobStore>, config: Config) -> Self {
        Objects {
            inner: Arc::new(Inner {
                store,
                blobs,
                config,
            }),
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn blobs(&self) -> &dyn BlobStore {
        &*self.inner.blobs
    }

    pub(crate) fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Deletes blobs no longer referenced after a commit. Best effort: a failure leaves an orphan
    /// for [`Objects::collect_garbage`], never a dangling record.
    pub(crate) async fn delete_blobs(&self, blobs: Vec<String>) {
        for b in blobs {
            match b.parse::<blob::BlobId>() {
                Ok(id) => {
                    if let Err(e) = self.blobs().delete(&id).await {
                        tracing::warn!(blob = %id, error = %e, "deleting an unreferenced blob failed; gc will retry");
                    }
                }
                Err(_) => tracing::error!(blob = %b, "record names an invalid blob id"),
            }
        }
    }
}

/// Checks an object key: non-empty, at most [`MAX_KEY_LEN`] bytes.
pub(crate) fn validate_key(key: &str) -> Result<(), ObjectError> {
    if key.is_empty() {
        return Err(ObjectError::InvalidArgument(
            "Object key must not be empty".into(),
        ));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(ObjectError::KeyTooLongError);
    }
    Ok(())
}

/// Checks the user metadata size limit.
pub(crate) fn validate_metadata(metadata: &ObjectMetadata) -> Result<(), ObjectError> {
    let size: usize = metadata.user.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_USER_METADATA {
        return Err(ObjectError::MetadataTooLarge);
    }
    Ok(())
}
