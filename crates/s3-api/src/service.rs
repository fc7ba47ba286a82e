//! The `s3s::S3` implementation: every supported operation takes the authorization proof out of the request
//! state (refusing to run without it) and calls its handler in the module of its resource.

use std::sync::Arc;

use api::{ApiError, Authorized, RequestContext};
use objects::Bucket;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, S3};

use crate::error::to_s3;
use crate::front::Shared;
use crate::state::RequestState;

/// The s3s service implementation.
pub(crate) struct Handler {
    pub(crate) shared: Arc<Shared>,
}

/// An authorized operation, as its handler receives it.
pub(crate) struct Op<T> {
    pub input: T,
    pub headers: http::HeaderMap,
    pub ctx: RequestContext,
    /// The bucket the per-operation hook loaded (absent for ListBuckets and CreateBucket).
    pub bucket: Option<Bucket>,
    pub state: RequestState,
    /// s3s's handle on the verified trailing headers of an aws-chunked body (readable once the
    /// body has been consumed).
    pub trailing_headers: Option<s3s::TrailingHeaders>,
    /// Proof that the hook authorized this request; handlers hold it while they run.
    pub _proof: Authorized,
}

impl<T> Op<T> {
    fn take(req: S3Request<T>) -> Result<Op<T>, ApiError> {
        let state = RequestState::of(&req.extensions)?;
        let (proof, bucket) = state.take_proof()?;
        let ctx = state.ctx()?;
        Ok(Op {
            input: req.input,
            headers: req.headers,
            ctx,
            bucket,
            state,
            trailing_headers: req.trailing_headers,
            _proof: proof,
        })
    }

    /// The bucket loaded by the hook; its absence is a bug.
    pub(crate) fn bucket(&self) -> Result<&Bucket, ApiError> {
        self.bucket
            .as_ref()
            .ok_or_else(|| ApiError::internal("operation ran without its bucket"))
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Converts a handler's error, attaching headers it left in the state (`x-amz-delete-marker`…).
fn fail(state: Option<&RequestState>, e: ApiError) -> s3s::S3Error {
    let mut err = to_s3(e);
    if let Some(h) = state.and_then(|s| s.lock().error_headers.take()) {
        err.set_headers(h);
    }
    err
}

macro_rules! ops {
    ($($op:ident $name:literal: $input:ty => $output:ty = $f:path;)*) => {
        /// The AWS operations coffer handles through s3s; everything else AWS's model knows is
        /// `NotImplemented` before anything runs.
        pub(crate) const HANDLED: &[&str] = &[$($name),*];

        /// Whether coffer handles the AWS operation `name`.
        pub(crate) fn handles(name: &str) -> bool {
            HANDLED.contains(&name)
        }

        #[async_trait::async_trait]
        impl S3 for Handler {
            $(
                async fn $op(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    let op = Op::take(req).map_err(|e| fail(None, e))?;
                    let state = op.state.clone();
                    $f(&self.shared, op).await.map_err(|e| fail(Some(&state), e))
                }
            )*
        }
    };
}

ops! {
    create_bucket "CreateBucket": CreateBucketInput => CreateBucketOutput = crate::buckets::create_bucket;
    head_bucket "HeadBucket": HeadBucketInput => HeadBucketOutput = crate::buckets::head_bucket;
    delete_bucket "DeleteBucket": DeleteBucketInput => DeleteBucketOutput = crate::buckets::delete_bucket;
    list_buckets "ListBuckets": ListBucketsInput => ListBucketsOutput = crate::buckets::list_buckets;
    get_bucket_location "GetBucketLocation": GetBucketLocationInput => GetBucketLocationOutput = crate::buckets::get_bucket_location;
    get_bucket_versioning "GetBucketVersioning": GetBucketVersioningInput => GetBucketVersioningOutput = crate::config::get_bucket_versioning;
    put_bucket_versioning "PutBucketVersioning": PutBucketVersioningInput => PutBucketVersioningOutput = crate::config::put_bucket_versioning;
    get_bucket_encryption "GetBucketEncryption": GetBucketEncryptionInput => GetBucketEncryptionOutput = crate::config::get_bucket_encryption;
    put_bucket_encryption "PutBucketEncryption": PutBucketEncryptionInput => PutBucketEncryptionOutput = crate::config::put_bucket_encryption;
    delete_bucket_encryption "DeleteBucketEncryption": DeleteBucketEncryptionInput => DeleteBucketEncryptionOutput = crate::config::delete_bucket_encryption;
    get_bucket_policy "GetBucketPolicy": GetBucketPolicyInput => GetBucketPolicyOutput = crate::config::get_bucket_policy;
    put_bucket_policy "PutBucketPolicy": PutBucketPolicyInput => PutBucketPolicyOutput = crate::config::put_bucket_policy;
    delete_bucket_policy "DeleteBucketPolicy": DeleteBucketPolicyInput => DeleteBucketPolicyOutput = crate::config::delete_bucket_policy;
    get_bucket_policy_status "GetBucketPolicyStatus": GetBucketPolicyStatusInput => GetBucketPolicyStatusOutput = crate::config::get_bucket_policy_status;
    get_public_access_block "GetPublicAccessBlock": GetPublicAccessBlockInput => GetPublicAccessBlockOutput = crate::config::get_public_access_block;
    put_public_access_block "PutPublicAccessBlock": PutPublicAccessBlockInput => PutPublicAccessBlockOutput = crate::config::put_public_access_block;
    delete_public_access_block "DeletePublicAccessBlock": DeletePublicAccessBlockInput => DeletePublicAccessBlockOutput = crate::config::delete_public_access_block;
    get_bucket_ownership_controls "GetBucketOwnershipControls": GetBucketOwnershipControlsInput => GetBucketOwnershipControlsOutput = crate::config::get_bucket_ownership_controls;
    put_bucket_ownership_controls "PutBucketOwnershipControls": PutBucketOwnershipControlsInput => PutBucketOwnershipControlsOutput = crate::config::put_bucket_ownership_controls;
    delete_bucket_ownership_controls "DeleteBucketOwnershipControls": DeleteBucketOwnershipControlsInput => DeleteBucketOwnershipControlsOutput = crate::config::delete_bucket_ownership_controls;
    get_bucket_cors "GetBucketCors": GetBucketCorsInput => GetBucketCorsOutput = crate::config::get_bucket_cors;
    put_bucket_cors "PutBucketCors": PutBucketCorsInput => PutBucketCorsOutput = crate::config::put_bucket_cors;
    delete_bucket_cors "DeleteBucketCors": DeleteBucketCorsInput => DeleteBucketCorsOutput = crate::config::delete_bucket_cors;
    get_bucket_tagging "GetBucketTagging": GetBucketTaggingInput => GetBucketTaggingOutput = crate::config::get_bucket_tagging;
    put_bucket_tagging "PutBucketTagging": PutBucketTaggingInput => PutBucketTaggingOutput = crate::config::put_bucket_tagging;
    delete_bucket_tagging "DeleteBucketTagging": DeleteBucketTaggingInput => DeleteBucketTaggingOutput = crate::config::delete_bucket_tagging;
    get_bucket_acl "GetBucketAcl": GetBucketAclInput => GetBucketAclOutput = crate::config::get_bucket_acl;
    put_bucket_acl "PutBucketAcl": PutBucketAclInput => PutBucketAclOutput = crate::config::put_bucket_acl;
    list_objects "ListObjects": ListObjectsInput => ListObjectsOutput = crate::listing::list_objects;
    list_objects_v2 "ListObjectsV2": ListObjectsV2Input => ListObjectsV2Output = crate::listing::list_objects_v2;
    list_object_versions "ListObjectVersions": ListObjectVersionsInput => ListObjectVersionsOutput = crate::listing::list_object_versions;
    list_multipart_uploads "ListMultipartUploads": ListMultipartUploadsInput => ListMultipartUploadsOutput = crate::multipart::list_multipart_uploads;
    put_object "PutObject": PutObjectInput => PutObjectOutput = crate::objects::put_object;
    get_object "GetObject": GetObjectInput => GetObjectOutput = crate::objects::get_object;
    head_object "HeadObject": HeadObjectInput => HeadObjectOutput = crate::objects::head_object;
    delete_object "DeleteObject": DeleteObjectInput => DeleteObjectOutput = crate::objects::delete_object;
    delete_objects "DeleteObjects": DeleteObjectsInput => DeleteObjectsOutput = crate::objects::delete_objects;
    copy_object "CopyObject": CopyObjectInput => CopyObjectOutput = crate::objects::copy_object;
    get_object_tagging "GetObjectTagging": GetObjectTaggingInput => GetObjectTaggingOutput = crate::objects::get_object_tagging;
    put_object_tagging "PutObjectTagging": PutObjectTaggingInput => PutObjectTaggingOutput = crate::objects::put_object_tagging;
    delete_object_tagging "DeleteObjectTagging": DeleteObjectTaggingInput => DeleteObjectTaggingOutput = crate::objects::delete_object_tagging;
    get_object_attributes "GetObjectAttributes": GetObjectAttributesInput => GetObjectAttributesOutput = crate::objects::get_object_attributes;
    get_object_acl "GetObjectAcl": GetObjectAclInput => GetObjectAclOutput = crate::objects::get_object_acl;
    put_object_acl "PutObjectAcl": PutObjectAclInput => PutObjectAclOutput = crate::objects::put_object_acl;
    create_multipart_upload "CreateMultipartUpload": CreateMultipartUploadInput => CreateMultipartUploadOutput = crate::multipart::create_multipart_upload;
    upload_part "UploadPart": UploadPartInput => UploadPartOutput = crate::multipart::upload_part;
    upload_part_copy "UploadPartCopy": UploadPartCopyInput => UploadPartCopyOutput = crate::multipart::upload_part_copy;
    complete_multipart_upload "CompleteMultipartUpload": CompleteMultipartUploadInput => CompleteMultipartUploadOutput = crate::multipart::complete_multipart_upload;
    abort_multipart_upload "AbortMultipartUpload": AbortMultipartUploadInput => AbortMultipartUploadOutput = crate::multipart::abort_multipart_upload;
    list_parts "ListParts": ListPartsInput => ListPartsOutput = crate::multipart::list_parts;
}
