//! Per-bucket configuration: versioning, default encryption, policy, Block Public Access,
//! ownership controls, CORS and bucket tags. The API layer validates the documents; the engine
//! stores them on the bucket record and answers "not found" with S3's error for each.

use serde::{Deserialize, Serialize};

use crate::model::{Tag, Versioning};
use crate::{ObjectError, Objects};

/// Default encryption (PutBucketEncryption), one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketEncryption {
    /// `AES256`, `aws:kms` or `aws:kms:dsse`.
    pub sse_algorithm: String,
    #[serde(default)]
    pub kms_key_id: Option<String>,
    #[serde(default)]
    pub bucket_key_enabled: bool,
}

/// Block Public Access for a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

/// Object Ownership (`BucketOwnerEnforced`, `BucketOwnerPreferred`, `ObjectWriter`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnershipControls {
    pub object_ownership: String,
}

/// One CORS rule.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CorsRule {
    pub id: Option<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<u32>,
}

/// Generates a getter, setter and deleter for one optional configuration field.
macro_rules! bucket_config {
    ($field:ident: $ty:ty, $missing:expr, $get:ident, $put:ident, $delete:ident) => {
        impl Objects {
            #[doc = concat!("The bucket's `", stringify!($field), "` configuration.")]
            pub fn $get(&self, bucket: &str) -> Result<$ty, ObjectError> {
                self.head_bucket(bucket)?.$field.ok_or($missing)
            }

            #[doc = concat!("Sets the bucket's `", stringify!($field), "` configuration.")]
            pub async fn $put(&self, bucket: &str, value: $ty) -> Result<(), ObjectError> {
                self.update_bucket(bucket, move |b| {
                    b.$field = Some(value);
                    Ok(())
                })
                .await
            }

            #[doc = concat!("Removes the bucket's `", stringify!($field), "` configuration (idempotent).")]
            pub async fn $delete(&self, bucket: &str) -> Result<(), ObjectError> {
                self.update_bucket(bucket, |b| {
                    b.$field = None;
                    Ok(())
                })
                .await
            }
        }
    };
}

bucket_config!(
    encryption: BucketEncryption,
    ObjectError::ServerSideEncryptionConfigurationNotFoundError,
    bucket_encryption,
    put_bucket_encryption,
    delete_bucket_encryption
);
bucket_config!(
    policy: String,
    ObjectError::NoSuchBucketPolicy,
    bucket_policy,
    put_bucket_policy,
    delete_bucket_policy
);
bucket_config!(
    public_access_block: PublicAccessBlock,
    ObjectError::NoSuchPublicAccessBlockConfiguration,
    public_access_block,
    put_public_access_block,
    delete_public_access_block
);
bucket_config!(
    ownership: OwnershipControls,
    ObjectError::OwnershipControlsNotFoundError,
    bucket_ownership_controls,
    put_bucket_ownership_controls,
    delete_bucket_ownership_controls
);
bucket_config!(
    cors: Vec<CorsRule>,
    ObjectError::NoSuchCORSConfiguration,
    bucket_cors,
    put_bucket_cors,
    delete_bucket_cors
);
bucket_config!(
    tags: Vec<Tag>,
    ObjectError::NoSuchTagSet,
    bucket_tagging,
    put_bucket_tagging,
    delete_bucket_tagging
);

impl Objects {
    /// GetBucketVersioning.
    pub fn bucket_versioning(&self, bucket: &str) -> Result<Versioning, ObjectError> {
        Ok(self.head_bucket(bucket)?.versioning)
    }

    /// PutBucketVersioning: `Enabled` or `Suspended` (a bucket never returns to `Unversioned`).
    pub async fn put_bucket_versioning(
        &self,
        bucket: &str,
        state: Versioning,
    ) -> Result<(), ObjectError> {
        if state == Versioning::Unversioned {
            return Err(ObjectError::InvalidArgument(
                "Versioning status must be Enabled or Suspended".into(),
            ));
        }
        self.update_bucket(bucket, move |b| {
            b.versioning = state;
            Ok(())
        })
        .await
    }
}
