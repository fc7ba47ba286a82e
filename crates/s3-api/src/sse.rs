//! The seam to server-side encryption. The `sse` crate (SSE-S3, SSE-KMS with Bucket Keys, SSE-C) plugs in
//! behind [`KeyService`]; [`SseS3Only`] is the simple SSE-S3 implementation this crate's own tests use.
//!
//! Every object is encrypted: a `KeyService` hands a fresh data key (and the descriptor saying how it is
//! wrapped) for every write, and unwraps it again for every read. Requests for encryption a service cannot
//! provide are refused, never downgraded.

use std::sync::Arc;

use api::{ApiError, RequestContext};
use base64::Engine as _;
use crypto::RootOfTrust;
use objects::{BucketEncryption, Encryption, EncryptionDescriptor};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The SSE request headers, lower-case, in the order S3 documents them.
pub const SSE_HEADERS: [&str; 7] = [
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-context",
    "x-amz-server-side-encryption-bucket-key-enabled",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-customer-key",
    "x-amz-server-side-encryption-customer-key-md5",
];

/// The SSE headers of one request, as sent (the customer key stays base64 in zeroizing memory).
#[derive(Default, Clone)]
pub struct SseRequest {
    pub algorithm: Option<String>,
    pub kms_key_id: Option<String>,
    /// Base64 of a JSON object.
    pub kms_context: Option<String>,
    pub bucket_key_enabled: Option<bool>,
    pub customer_algorithm: Option<String>,
    pub customer_key: Option<Zeroizing<String>>,
    pub customer_key_md5: Option<String>,
}

impl std::fmt::Debug for SseRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseRequest")
            .field("algorithm", &self.algorithm)
            .field("kms_key_id", &self.kms_key_id)
            .field("bucket_key_enabled", &self.bucket_key_enabled)
            .field("customer_algorithm", &self.customer_algorithm)
            .finish_non_exhaustive()
    }
}

impl SseRequest {
    /// True when the request carries any SSE-C header.
    pub fn is_customer(&self) -> bool {
        self.customer_algorithm.is_some()
            || self.customer_key.is_some()
            || self.customer_key_md5.is_some()
    }

    /// True when the request asks for any encryption at all.
    pub fn is_empty(&self) -> bool {
        self.algorithm.is_none()
            && self.kms_key_id.is_none()
            && self.kms_context.is_none()
            && self.bucket_key_enabled.is_none()
            && !self.is_customer()
    }
}

/// The object a key is for.
#[derive(Debug, Clone)]
pub struct ObjectIdentity {
    pub bucket: String,
    pub key: String,
    /// The bucket's region.
    pub region: String,
    /// The bucket owner's account.
    pub bucket_owner: String,
    /// The bucket's default encryption, if configured.
    pub bucket_default: Option<BucketEncryption>,
}

impl ObjectIdentity {
    pub fn object_arn(&self) -> String {
        format!("arn:aws:s3:::{}/{}", self.bucket, self.key)
    }
}

/// The SSE response headers of an operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseResponse {
    /// `AES256`, `aws:kms`, `aws:kms:dsse`; `None` for SSE-C.
    pub algorithm: Option<String>,
    pub kms_key_id: Option<String>,
    pub kms_context: Option<String>,
    pub bucket_key_enabled: Option<bool>,
    pub customer_algorithm: Option<String>,
    pub customer_key_md5: Option<String>,
}

/// A fresh data key for a write, how it is wrapped, and what to answer.
#[derive(Debug)]
pub struct PutKey {
    pub encryption: Encryption,
    pub response: SseResponse,
}

/// An unwrapped data key for a read, and what to answer.
pub struct ReadKey {
    pub data_key: Zeroizing<[u8; 32]>,
    pub response: SseResponse,
}

impl std::fmt::Debug for ReadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadKey")
            .field("response", &self.response)
            .finish_non_exhaustive()
    }
}

/// What S3 needs from server-side encryption. Calls happen after authorization, on behalf of the caller in
/// `ctx` (the KMS implementation asks KMS with `kms:ViaService = s3.<region>.amazonaws.com`).
#[async_trait::async_trait]
pub trait KeyService: Send + Sync + 'static {
    /// Checks the SSE headers of a write before anything is read (conflicting or unsupported combinations are
    /// refused as S3 refuses them).
    fn validate_put(&self, sse: &SseRequest, secure_transport: bool) -> Result<(), ApiError>;
    /// A data key for a new object (or part, or copy destination).
    async fn key_for_put(
        &self,
        ctx: &RequestContext,
        object: &ObjectIdentity,
        sse: &SseRequest,
    ) -> Result<PutKey, ApiError>;
    /// The data key of a stored object, unwrapped; SSE-C objects need the customer key in `sse`.
    async fn key_for_get(
        &self,
        ctx: &RequestContext,
        object: &ObjectIdentity,
        descriptor: &EncryptionDescriptor,
        sse: &SseRequest,
    ) -> Result<ReadKey, ApiError>;
    /// The response headers for a stored object without unwrapping its key (HEAD, copy results, listings);
    /// for SSE-C objects the request must still carry the matching key.
    fn describe(
        &self,
        descriptor: &EncryptionDescriptor,
        sse: &SseRequest,
    ) -> Result<SseResponse, ApiError>;
}

/// The descriptor [`SseS3Only`] stores: the data key sealed under its root key.
#[derive(Serialize, Deserialize)]
struct S3ManagedDescriptor {
    sse: String,
    wrapped: String,
}

/// SSE-S3 only: data keys sealed under an in-memory root key. Requests for SSE-KMS or SSE-C are refused
/// with `NotImplemented`. For tests and as the reference behaviour of the seam.
#[derive(Clone)]
pub struct SseS3Only {
    root: Arc<crypto::RootKey>,
}

impl std::fmt::Debug for SseS3Only {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseS3Only").finish_non_exhaustive()
    }
}

impl Default for SseS3Only {
    fn default() -> Self {
        Self::new()
    }
}

impl SseS3Only {
    pub fn new() -> Self {
        SseS3Only {
            root: Arc::new(crypto::RootKey::generate()),
        }
    }

    fn aad(object: &ObjectIdentity) -> Vec<u8> {
        format!("coffer:s3:sse-s3:{}", object.object_arn()).into_bytes()
    }

    fn response() -> SseResponse {
        SseResponse {
            algorithm: Some("AES256".into()),
            ..SseResponse::default()
        }
    }

    fn refuse_unsupported(sse: &SseRequest) -> Result<(), ApiError> {
        if sse.is_customer() || sse.kms_key_id.is_some() || sse.kms_context.is_some() {
            return Err(crate::error::not_implemented("SSE-KMS and SSE-C"));
        }
        match sse.algorithm.as_deref() {
            None | Some("AES256") => Ok(()),
            Some("aws:kms" | "aws:kms:dsse") => Err(crate::error::not_implemented("SSE-KMS")),
            Some(_) => Err(ApiError::bad_request(
                "InvalidArgument",
                "The encryption method specified is not supported",
            )),
        }
    }
}

#[async_trait::async_trait]
impl KeyService for SseS3Only {
    fn validate_put(&self, sse: &SseRequest, _secure_transport: bool) -> Result<(), ApiError> {
        Self::refuse_unsupported(sse)
    }

    async fn key_for_put(
        &self,
        _ctx: &RequestContext,
        object: &ObjectIdentity,
        sse: &SseRequest,
    ) -> Result<PutKey, ApiError> {
        Self::refuse_unsupported(sse)?;
        let data_key = Zeroizing::new(crypto::random_array::<32>());
        let wrapped = self
            .root
            .seal(&Self::aad(object), &data_key[..])
            .map_err(ApiError::internal)?;
        let descriptor = EncryptionDescriptor::from_typed(&S3ManagedDescriptor {
            sse: "AES256".into(),
            wrapped: base64::engine::general_purpose::STANDARD.encode(wrapped),
        })
        .map_err(ApiError::internal)?;
        Ok(PutKey {
            encryption: Encryption {
                data_key,
                descriptor,
            },
            response: Self::response(),
        })
    }

    async fn key_for_get(
        &self,
        _ctx: &RequestContext,
        object: &ObjectIdentity,
        descriptor: &EncryptionDescriptor,
        sse: &SseRequest,
    ) -> Result<ReadKey, ApiError> {
        let response = self.describe(descriptor, sse)?;
        let d: S3ManagedDescriptor = descriptor.to_typed().map_err(ApiError::internal)?;
        let wrapped = base64::engine::general_purpose::STANDARD
            .decode(d.wrapped)
            .map_err(ApiError::internal)?;
        let plain = self
            .root
            .open(&Self::aad(object), &wrapped)
            .map_err(ApiError::internal)?;
        let mut data_key = Zeroizing::new([0u8; 32]);
        if plain.len() != 32 {
            return Err(ApiError::internal(
                "unwrapped data key has the wrong length",
            ));
        }
        data_key.copy_from_slice(&plain);
        Ok(ReadKey { data_key, response })
    }

    fn describe(
        &self,
        descriptor: &EncryptionDescriptor,
        sse: &SseRequest,
    ) -> Result<SseResponse, ApiError> {
        if sse.is_customer() {
            return Err(ApiError::bad_request(
                "InvalidRequest",
                "The encryption parameters are not applicable to this object.",
            ));
        }
        let d: S3ManagedDescriptor = descriptor.to_typed().map_err(ApiError::internal)?;
        if d.sse != "AES256" {
            return Err(ApiError::internal("unknown descriptor"));
        }
        Ok(Self::response())
    }
}
