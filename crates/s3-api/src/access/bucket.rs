//! What bucket-level operations need: AWS's action names (the S3 service authorization reference), the
//! bucket ARN, and the condition keys of listing.

use api::ApiError;
use http::HeaderMap;
use s3s::dto::*;
use serde_json::{json, Value};

use super::conditions::{header, push, Keys};
use super::{Need, OpPlan};

/// CloudTrail's requestParameters for a bucket operation.
pub(crate) fn params(bucket: &str, headers: &HeaderMap, subresource: Option<&str>) -> Value {
    let mut p =
        json!({ "bucketName": bucket, "Host": header(headers, "host").unwrap_or_default() });
    if let Some(sub) = subresource {
        p[sub] = json!("");
    }
    p
}

/// A plan needing one bucket-level action.
fn one(
    action: &'static str,
    bucket: &str,
    headers: &HeaderMap,
    sub: Option<&str>,
) -> Result<OpPlan, ApiError> {
    Ok(OpPlan {
        bucket: Some(bucket.to_owned()),
        needs: vec![Need::bucket(action, bucket)],
        account_level: false,
        params: params(bucket, headers, sub),
    })
}

/// CreateBucket: `s3:CreateBucket` with `s3:LocationConstraint`, the ACL keys and
/// `s3:x-amz-object-ownership`; `s3:PutBucketOwnershipControls` as well when it sets an ownership.
pub(crate) fn create_bucket(i: &CreateBucketInput, h: &HeaderMap) -> Result<OpPlan, ApiError> {
    let mut keys = Keys::new();
    push(
        &mut keys,
        "s3:LocationConstraint",
        i.create_bucket_configuration
            .as_ref()
            .and_then(|c| c.location_constraint.as_ref())
            .map(|l| l.as_str().to_owned()),
    );
    push(
        &mut keys,
        "s3:x-amz-object-ownership",
        header(h, "x-amz-object-ownership"),
    );
    super::conditions::acl_keys(h, &mut keys);
    let mut needs = vec![Need::bucket("s3:CreateBucket", &i.bucket).with(keys.clone())];
    if i.object_ownership.is_some() {
        needs.push(Need::bucket("s3:PutBucketOwnershipControls", &i.bucket).with(keys));
    }
    Ok(OpPlan {
        bucket: Some(i.bucket.clone()),
        needs,
        account_level: true,
        params: params(&i.bucket, h, None),
    })
}

pub(crate) fn list_buckets(_i: &ListBucketsInput, h: &HeaderMap) -> Result<OpPlan, ApiError> {
    Ok(OpPlan {
        bucket: None,
        needs: vec![Need::bucket("s3:ListAllMyBuckets", "*")],
        account_level: true,
        params: json!({ "Host": header(h, "host").unwrap_or_default() }),
    })
}

pub(crate) fn head_bucket(i: &HeadBucketInput, h: &HeaderMap) -> Result<OpPlan, ApiError> {
    one("s3:ListBucket", &i.bucket, h, None)
}

pub(crate) fn delete_bucket(i: &DeleteBucketInput, h: &HeaderMap) -> Result<OpPlan, ApiError> {
    one("s3:DeleteBucket", &i.bucket, h, None)
}

pub(crate) fn get_bucket_location(
    i: &GetBucketLocationInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    one("s3:GetBucketLocation", &i.bucket, h, Some("location"))
}

pub(crate) fn get_bucket_versioning(
    i: &GetBucketVersioningInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    one("s3:GetBucketVersioning", &i.bucket, h, Some("versioning"))
}

pub(crate) fn put_bucket_versioning(
    i: &PutBucketVersioningInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    one("s3:PutBucketVersioning", &i.bucket, h, Some("versioning"))
}

pub(crate) fn get_bucket_encryption(
    i: &GetBucketEncryptionInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    one(
        "s3:GetEncryptionConfiguration",
        &i.bucket,
        h,
        Some("encryption"),
    )
}

pub(crate) fn put_bucket_encryption(
    i: &PutBucketEncryptionInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    one(
        "s3:PutEncryptionConfiguration",
        &i.bucket,
        h,
        Some("encryption"),
    )
}

pub(crate) fn delete_bucket_encryption(
    i: &DeleteBucketEncryptionInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    one(
        "s3:PutEncryptionConfiguration",
        &i.bucket,
        h,
        Some("encryption"),
    )
}

pub(crate) fn get_bucket_policy(
    i: &GetBucketPolicyInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    one("s3:GetBucketPolicy", &i.bucket, h, Some("policy"))
}

pub(crate) fn put_bucket_policy(
    i: &PutBucketPolicyInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    one("s3:PutBucketPolicy", &i.bucket, h, Some("policy"))
}

pub(crate) fn delete_bucket_policy(
    i: &DeleteBucketPolicyInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    one("s3:DeleteBucketPolicy", &i.bucket, h, Some("policy"))
}

pub(crate) fn get_bucket_policy_status(
    i: &GetBucketPolicyStatusInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    one(
        "s3:GetBucketPolicyStatus",
        &i.bucket,
        h,
        Some("policyStatus"),
    )
}

pub(crate) fn get_public_access_block(
    i: &GetPublicAccessBlockInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    one(
        "s3:GetBucketPublicAccessBlock",
        &i.bucket,
        h,
        Some("publicAccessBlock"),
    )
}

pub(crate) fn put_public_access_block(
    i: &PutPublicAccessBlockInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    one(
        "s3:PutBucketPublicAccessBlock",
        &i.bucket,
        h,
        Some("publicAccessBlock"),
    )
}

pub(crate) fn delete_public_access_block(
    i: &DeletePublicAccessBlockInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    one(
        "s3:PutBucketPublicAccessBlock",
        &i.bucket,
        h,
        Some("publicAccessBlock"),
    )
}

pub(crate) fn get_bucket_ownership_controls(
    i: &GetBucketOwnershipControlsInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    one(
        "s3:GetBucketOwnershipControls",
        &i.bucket,
        h,
        Some("ownershipControls"),
    )
}

pub(crate) fn put_bucket_ownership_controls(
    i: &PutBucketOwnershipControlsInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    one(
        "s3:PutBucketOwnershipControls",
        &i.bucket,
        h,
        Some("ownershipControls"),
    )
}

pub(crate) fn delete_bucket_ownership_controls(
    i: &DeleteBucketOwnershipControlsInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    one(
        "s3:PutBucketOwnershipControls",
        &i.bucket,
        h,
        Some("ownershipControls"),
    )
}

pub(crate) fn get_bucket_cors(i: &GetBucketCorsInput, h: &HeaderMap) -> Result<OpPlan, ApiError> {
    one("s3:GetBucketCORS", &i.bucket, h, Some("cors"))
}

pub(crate) fn put_bucket_cors(i: &PutBucketCorsInput, h: &HeaderMap) -> Result<OpPlan, ApiError> {
    one("s3:PutBucketCORS", &i.bucket, h, Some("cors"))
}

pub(crate) fn delete_bucket_cors(
    i: &DeleteBucketCorsInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    one("s3:PutBucketCORS", &i.bucket, h, Some("cors"))
}

pub(crate) fn get_bucket_tagging(
    i: &GetBucketTaggingInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    one("s3:GetBucketTagging", &i.bucket, h, Some("tagging"))
}

pub(crate) fn put_bucket_tagging(
    i: &PutBucketTaggingInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    one("s3:PutBucketTagging", &i.bucket, h, Some("tagging"))
}

pub(crate) fn delete_bucket_tagging(
    i: &DeleteBucketTaggingInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    one("s3:PutBucketTagging", &i.bucket, h, Some("tagging"))
}

pub(crate) fn get_bucket_acl(i: &GetBucketAclInput, h: &HeaderMap) -> Result<OpPlan, ApiError> {
    one("s3:GetBucketAcl", &i.bucket, h, Some("acl"))
}

pub(crate) fn put_bucket_acl(i: &PutBucketAclInput, h: &HeaderMap) -> Result<OpPlan, ApiError> {
    let mut plan = one("s3:PutBucketAcl", &i.bucket, h, Some("acl"))?;
    for need in &mut plan.needs {
        super::conditions::acl_keys(h, &mut need.context);
    }
    Ok(plan)
}

/// `s3:prefix`, `s3:delimiter`, `s3:max-keys` of a listing.
fn list_keys(prefix: Option<&str>, delimiter: Option<&str>, max_keys: Option<i32>) -> Keys {
    let mut keys = Keys::new();
    // AWS evaluates s3:prefix as the empty string when no prefix is given.
    push(&mut keys, "s3:prefix", Some(prefix.unwrap_or_default()));
    push(&mut keys, "s3:delimiter", delimiter);
    push(&mut keys, "s3:max-keys", max_keys.map(|m| m.to_string()));
    keys
}

fn listing(
    action: &'static str,
    bucket: &str,
    h: &HeaderMap,
    prefix: Option<&str>,
    delimiter: Option<&str>,
    max_keys: Option<i32>,
    sub: Option<&str>,
) -> Result<OpPlan, ApiError> {
    let mut p = params(bucket, h, sub);
    if let Some(x) = prefix {
        p["prefix"] = json!(x);
    }
    if let Some(x) = delimiter {
        p["delimiter"] = json!(x);
    }
    if let Some(x) = max_keys {
        p["max-keys"] = json!(x.to_string());
    }
    Ok(OpPlan {
        bucket: Some(bucket.to_owned()),
        needs: vec![Need::bucket(action, bucket).with(list_keys(prefix, delimiter, max_keys))],
        account_level: false,
        params: p,
    })
}

pub(crate) fn list_objects(i: &ListObjectsInput, h: &HeaderMap) -> Result<OpPlan, ApiError> {
    listing(
        "s3:ListBucket",
        &i.bucket,
        h,
        i.prefix.as_deref(),
        i.delimiter.as_deref(),
        i.max_keys,
        None,
    )
}

pub(crate) fn list_objects_v2(i: &ListObjectsV2Input, h: &HeaderMap) -> Result<OpPlan, ApiError> {
    let mut plan = listing(
        "s3:ListBucket",
        &i.bucket,
        h,
        i.prefix.as_deref(),
        i.delimiter.as_deref(),
        i.max_keys,
        None,
    )?;
    plan.params["list-type"] = json!("2");
    Ok(plan)
}

pub(crate) fn list_object_versions(
    i: &ListObjectVersionsInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    listing(
        "s3:ListBucketVersions",
        &i.bucket,
        h,
        i.prefix.as_deref(),
        i.delimiter.as_deref(),
        i.max_keys,
        Some("versions"),
    )
}

pub(crate) fn list_multipart_uploads(
    i: &ListMultipartUploadsInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    listing(
        "s3:ListBucketMultipartUploads",
        &i.bucket,
        h,
        i.prefix.as_deref(),
        i.delimiter.as_deref(),
        i.max_uploads,
        Some("uploads"),
    )
}
