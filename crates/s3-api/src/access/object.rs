//! What object-level operations need: `s3:GetObject` (or `s3:GetObjectVersion` by version id),
//! `s3:PutObject` with the SSE and tagging keys, CopyObject as `s3:GetObject` on the source plus
//! `s3:PutObject` on the destination, multipart as `s3:PutObject` / `s3:AbortMultipartUpload` /
//! `s3:ListMultipartUploadParts`.

use api::ApiError;
use http::HeaderMap;
use s3s::dto::*;
use serde_json::json;

use super::conditions::{self, header, push, Keys};
use super::{Need, OpPlan};

/// CloudTrail's requestParameters for an object operation.
fn params(bucket: &str, key: &str, headers: &HeaderMap) -> serde_json::Value {
    let mut p = super::bucket::params(bucket, headers, None);
    p["key"] = json!(key);
    for name in [
        "x-amz-server-side-encryption",
        "x-amz-server-side-encryption-aws-kms-key-id",
        "x-amz-server-side-encryption-customer-algorithm",
        "x-amz-copy-source",
        "x-amz-metadata-directive",
    ] {
        if let Some(v) = header(headers, name) {
            p[name] = json!(v);
        }
    }
    p
}

fn plan(
    bucket: &str,
    key: &str,
    headers: &HeaderMap,
    needs: Vec<Need>,
) -> Result<OpPlan, ApiError> {
    Ok(OpPlan {
        bucket: Some(bucket.to_owned()),
        needs,
        account_level: false,
        params: params(bucket, key, headers),
    })
}

/// A need on an existing object: the versioned action and `s3:VersionId` when a version is named, and the
/// object's existing tags for policies that ask (`s3:ExistingObjectTag/<k>`).
pub(crate) fn read(
    action: &'static str,
    versioned: &'static str,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> Need {
    let mut keys = Keys::new();
    push(&mut keys, "s3:VersionId", version);
    let mut need = Need::object(
        if version.is_some() { versioned } else { action },
        bucket,
        key,
    )
    .with(keys);
    need.existing_object = Some((key.to_owned(), version.map(str::to_owned)));
    need
}

/// The write-side keys of PutObject and CreateMultipartUpload.
fn write_keys(headers: &HeaderMap) -> Keys {
    let mut keys = Keys::new();
    conditions::sse_keys(headers, &mut keys);
    conditions::request_tag_keys(header(headers, "x-amz-tagging"), &mut keys);
    keys
}

/// What writing an object needs, from the headers that describe it: `s3:PutObject` with the SSE, ACL and
/// tag keys, `s3:PutObjectTagging` when it sets tags and `s3:PutObjectAcl` when it sets an ACL (AWS's
/// rule for PutObject, CreateMultipartUpload and POST). PutObject's HTTP headers and a browser form's fields
/// (POST Object) both come here.
pub(crate) fn put_needs(bucket: &str, key: &str, h: &HeaderMap) -> Vec<Need> {
    let mut needs = vec![Need::object("s3:PutObject", bucket, key).with(write_keys(h))];
    if h.contains_key("x-amz-tagging") {
        needs.push(Need::object("s3:PutObjectTagging", bucket, key).with(write_keys(h)));
    }
    if conditions::sets_acl(h) {
        needs.push(Need::object("s3:PutObjectAcl", bucket, key).with(write_keys(h)));
    }
    needs
}

/// CloudTrail's requestParameters of a write.
pub(crate) fn put_params(bucket: &str, key: &str, h: &HeaderMap) -> serde_json::Value {
    params(bucket, key, h)
}

pub(crate) fn put_object(i: &PutObjectInput, h: &HeaderMap) -> Result<OpPlan, ApiError> {
    plan(&i.bucket, &i.key, h, put_needs(&i.bucket, &i.key, h))
}

pub(crate) fn create_multipart_upload(
    i: &CreateMultipartUploadInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    plan(&i.bucket, &i.key, h, put_needs(&i.bucket, &i.key, h))
}

pub(crate) fn upload_part(i: &UploadPartInput, h: &HeaderMap) -> Result<OpPlan, ApiError> {
    plan(
        &i.bucket,
        &i.key,
        h,
        vec![Need::object("s3:PutObject", &i.bucket, &i.key)],
    )
}

pub(crate) fn complete_multipart_upload(
    i: &CompleteMultipartUploadInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    plan(
        &i.bucket,
        &i.key,
        h,
        vec![Need::object("s3:PutObject", &i.bucket, &i.key)],
    )
}

pub(crate) fn abort_multipart_upload(
    i: &AbortMultipartUploadInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    plan(
        &i.bucket,
        &i.key,
        h,
        vec![Need::object("s3:AbortMultipartUpload", &i.bucket, &i.key)],
    )
}

pub(crate) fn list_parts(i: &ListPartsInput, h: &HeaderMap) -> Result<OpPlan, ApiError> {
    plan(
        &i.bucket,
        &i.key,
        h,
        vec![Need::object(
            "s3:ListMultipartUploadParts",
            &i.bucket,
            &i.key,
        )],
    )
}

pub(crate) fn get_object(i: &GetObjectInput, h: &HeaderMap) -> Result<OpPlan, ApiError> {
    let need = read(
        "s3:GetObject",
        "s3:GetObjectVersion",
        &i.bucket,
        &i.key,
        i.version_id.as_deref(),
    );
    plan(&i.bucket, &i.key, h, vec![need])
}

pub(crate) fn head_object(i: &HeadObjectInput, h: &HeaderMap) -> Result<OpPlan, ApiError> {
    let need = read(
        "s3:GetObject",
        "s3:GetObjectVersion",
        &i.bucket,
        &i.key,
        i.version_id.as_deref(),
    );
    plan(&i.bucket, &i.key, h, vec![need])
}

/// GetObjectAttributes reads the object and its attributes: `s3:GetObject` and `s3:GetObjectAttributes`
/// (their `Version` forms for a version), as AWS requires.
pub(crate) fn get_object_attributes(
    i: &GetObjectAttributesInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    let version = i.version_id.as_deref();
    let needs = vec![
        read(
            "s3:GetObject",
            "s3:GetObjectVersion",
            &i.bucket,
            &i.key,
            version,
        ),
        read(
            "s3:GetObjectAttributes",
            "s3:GetObjectVersionAttributes",
            &i.bucket,
            &i.key,
            version,
        ),
    ];
    plan(&i.bucket, &i.key, h, needs)
}

pub(crate) fn delete_object(i: &DeleteObjectInput, h: &HeaderMap) -> Result<OpPlan, ApiError> {
    let need = read(
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        &i.bucket,
        &i.key,
        i.version_id.as_deref(),
    );
    plan(&i.bucket, &i.key, h, vec![need])
}

/// DeleteObjects needs no permission of its own: the operation authorizes every key through
/// [`super::decide`] exactly as DeleteObject would (`read` below), and reports refused keys in its result as
/// S3 does.
pub(crate) fn delete_objects(i: &DeleteObjectsInput, h: &HeaderMap) -> Result<OpPlan, ApiError> {
    let mut p = super::bucket::params(&i.bucket, h, Some("delete"));
    p["keys"] = json!(i
        .delete
        .objects
        .iter()
        .map(|o| o.key.clone())
        .collect::<Vec<_>>());
    Ok(OpPlan {
        bucket: Some(i.bucket.clone()),
        needs: Vec::new(),
        account_level: false,
        params: p,
    })
}

pub(crate) fn get_object_tagging(
    i: &GetObjectTaggingInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    let need = read(
        "s3:GetObjectTagging",
        "s3:GetObjectVersionTagging",
        &i.bucket,
        &i.key,
        i.version_id.as_deref(),
    );
    plan(&i.bucket, &i.key, h, vec![need])
}

pub(crate) fn put_object_tagging(
    i: &PutObjectTaggingInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    let mut need = read(
        "s3:PutObjectTagging",
        "s3:PutObjectVersionTagging",
        &i.bucket,
        &i.key,
        i.version_id.as_deref(),
    );
    let tags: Vec<(String, String)> = i
        .tagging
        .tag_set
        .iter()
        .map(|t| {
            (
                t.key.clone().unwrap_or_default(),
                t.value.clone().unwrap_or_default(),
            )
        })
        .collect();
    conditions::request_tags(&tags, &mut need.context);
    plan(&i.bucket, &i.key, h, vec![need])
}

pub(crate) fn delete_object_tagging(
    i: &DeleteObjectTaggingInput,
    h: &HeaderMap,
) -> Result<OpPlan, ApiError> {
    let need = read(
        "s3:DeleteObjectTagging",
        "s3:DeleteObjectVersionTagging",
        &i.bucket,
        &i.key,
        i.version_id.as_deref(),
    );
    plan(&i.bucket, &i.key, h, vec![need])
}

pub(crate) fn get_object_acl(i: &GetObjectAclInput, h: &HeaderMap) -> Result<OpPlan, ApiError> {
    let need = read(
        "s3:GetObjectAcl",
        "s3:GetObjectVersionAcl",
        &i.bucket,
        &i.key,
        i.version_id.as_deref(),
    );
    plan(&i.bucket, &i.key, h, vec![need])
}

pub(crate) fn put_object_acl(i: &PutObjectAclInput, h: &HeaderMap) -> Result<OpPlan, ApiError> {
    let mut need = read(
        "s3:PutObjectAcl",
        "s3:PutObjectVersionAcl",
        &i.bucket,
        &i.key,
        i.version_id.as_deref(),
    );
    conditions::acl_keys(h, &mut need.context);
    plan(&i.bucket, &i.key, h, vec![need])
}

/// The bucket, key and version of a copy source; access points are not offered.
pub(crate) fn copy_source(src: &CopySource) -> Result<(String, String, Option<String>), ApiError> {
    match src {
        CopySource::Bucket {
            bucket,
            key,
            version_id,
        } => Ok((
            bucket.to_string(),
            key.to_string(),
            version_id.as_deref().map(str::to_owned),
        )),
        _ => Err(crate::error::invalid_argument(
            "Invalid copy source object key",
        )),
    }
}

/// The copy-specific keys, on both sides.
fn copy_keys(h: &HeaderMap) -> Keys {
    let mut keys = Keys::new();
    push(
        &mut keys,
        "s3:x-amz-copy-source",
        header(h, "x-amz-copy-source"),
    );
    push(
        &mut keys,
        "s3:x-amz-metadata-directive",
        header(h, "x-amz-metadata-directive"),
    );
    keys
}

pub(crate) fn copy_object(i: &CopyObjectInput, h: &HeaderMap) -> Result<OpPlan, ApiError> {
    let (sb, sk, sv) = copy_source(&i.copy_source)?;
    let source = read(
        "s3:GetObject",
        "s3:GetObjectVersion",
        &sb,
        &sk,
        sv.as_deref(),
    )
    .with(copy_keys(h))
    .of_copy_source();
    let mut dest_keys = write_keys(h);
    dest_keys.extend(copy_keys(h));
    let mut needs = vec![
        source,
        Need::object("s3:PutObject", &i.bucket, &i.key).with(dest_keys.clone()),
    ];
    if matches!(
        i.tagging_directive.as_ref().map(|d| d.as_str()),
        Some("REPLACE")
    ) && i.tagging.is_some()
    {
        needs.push(Need::object("s3:PutObjectTagging", &i.bucket, &i.key).with(dest_keys.clone()));
    }
    if conditions::sets_acl(h) {
        needs.push(Need::object("s3:PutObjectAcl", &i.bucket, &i.key).with(dest_keys));
    }
    plan(&i.bucket, &i.key, h, needs)
}

pub(crate) fn upload_part_copy(i: &UploadPartCopyInput, h: &HeaderMap) -> Result<OpPlan, ApiError> {
    let (sb, sk, sv) = copy_source(&i.copy_source)?;
    let source = read(
        "s3:GetObject",
        "s3:GetObjectVersion",
        &sb,
        &sk,
        sv.as_deref(),
    )
    .with(copy_keys(h))
    .of_copy_source();
    plan(
        &i.bucket,
        &i.key,
        h,
        vec![
            source,
            Need::object("s3:PutObject", &i.bucket, &i.key).with(copy_keys(h)),
        ],
    )
}
