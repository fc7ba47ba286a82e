//! The S3 action table, checked against AWS: for every operation coffer handles, the IAM actions it requires
//! (the extra ones included), the resource each is evaluated against, and the condition keys it fills, as
//! AWS's Service Authorization Reference for S3 and the S3 User Guide's "Required permissions for Amazon S3
//! API operations" state them. A new operation without a row here fails `every_handled_operation_has_a_row`.

use std::collections::BTreeSet;

use http::HeaderMap;
use s3s::dto::*;

use super::{bucket, object, OpPlan};

/// What one need of a plan is, in comparable form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Want {
    action: &'static str,
    resource: &'static str,
    /// Condition key names the need fills (operation-level; the request-level keys are added to every need
    /// by `decide` and checked in `request_keys_reach_every_check`).
    keys: BTreeSet<String>,
    /// Whether the object's tags become `s3:ExistingObjectTag/<k>`.
    existing_tags: bool,
}

fn want(action: &'static str, resource: &'static str, keys: &[&str], existing_tags: bool) -> Want {
    Want {
        action,
        resource,
        keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        existing_tags,
    }
}

fn got(plan: OpPlan) -> Vec<(Want, String)> {
    plan.needs
        .into_iter()
        .map(|n| {
            let resource = n.resource();
            (
                Want {
                    action: n.action,
                    resource: "",
                    keys: n.context.iter().map(|(k, _)| k.clone()).collect(),
                    existing_tags: n.existing_object.is_some(),
                },
                resource,
            )
        })
        .collect()
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    h
}

const B: &str = "arn:aws:s3:::b";
const K: &str = "arn:aws:s3:::b/k";
const SRC: &str = "arn:aws:s3:::src/s";

/// The write-side keys PutObject, CreateMultipartUpload and CopyObject fill from the headers of `write()`.
const WRITE_KEYS: [&str; 8] = [
    "s3:x-amz-server-side-encryption",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:x-amz-storage-class",
    "s3:x-amz-acl",
    "s3:x-amz-grant-read",
    "s3:RequestObjectTag/team",
    "s3:RequestObjectTagKeys",
    "s3:object-lock-mode",
];

fn write() -> HeaderMap {
    headers(&[
        ("x-amz-server-side-encryption", "aws:kms"),
        ("x-amz-server-side-encryption-aws-kms-key-id", "alias/k"),
        ("x-amz-storage-class", "STANDARD"),
        ("x-amz-acl", "private"),
        ("x-amz-grant-read", "id=1"),
        ("x-amz-tagging", "team=blue"),
        ("x-amz-object-lock-mode", "GOVERNANCE"),
    ])
}

fn copy_headers() -> HeaderMap {
    let mut h = write();
    h.insert("x-amz-copy-source", "/src/s".parse().unwrap());
    h.insert("x-amz-metadata-directive", "REPLACE".parse().unwrap());
    h
}

fn copy_source() -> CopySource {
    CopySource::Bucket {
        bucket: "src".into(),
        key: "s".into(),
        version_id: None,
    }
}

type Row = (&'static str, OpPlan, Vec<Want>);

/// One row per operation: the plan coffer makes and what AWS requires.
fn rows() -> Vec<Row> {
    let none = HeaderMap::new();
    let v = Some("3".to_owned());
    let plain = |a: &'static str| vec![want(a, B, &[], false)];
    let list_keys = ["s3:prefix", "s3:delimiter", "s3:max-keys"];
    let copy_write: Vec<&str> = WRITE_KEYS
        .iter()
        .copied()
        .chain(["s3:x-amz-copy-source", "s3:x-amz-metadata-directive"])
        .collect();
    let copy_read = ["s3:x-amz-copy-source", "s3:x-amz-metadata-directive"];
    vec![
        (
            "AbortMultipartUpload",
            object::abort_multipart_upload(
                &AbortMultipartUploadInput::builder()
                    .bucket("b".into())
                    .key("k".into())
                    .upload_id("u".into())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            vec![want("s3:AbortMultipartUpload", K, &[], false)],
        ),
        (
            "CompleteMultipartUpload",
            object::complete_multipart_upload(
                &CompleteMultipartUploadInput::builder()
                    .bucket("b".into())
                    .key("k".into())
                    .upload_id("u".into())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            vec![want("s3:PutObject", K, &[], false)],
        ),
        (
            "CopyObject",
            object::copy_object(
                &CopyObjectInput::builder()
                    .bucket("b".into())
                    .key("k".into())
                    .copy_source(copy_source())
                    .tagging_directive(Some(TaggingDirective::from_static("REPLACE")))
                    .tagging(Some("team=blue".into()))
                    .build()
                    .unwrap(),
                &copy_headers(),
            )
            .unwrap(),
            vec![
                want("s3:GetObject", SRC, &copy_read, true),
                want("s3:PutObject", K, &copy_write, false),
                want("s3:PutObjectTagging", K, &copy_write, false),
                want("s3:PutObjectAcl", K, &copy_write, false),
            ],
        ),
        (
            "CreateBucket",
            bucket::create_bucket(
                &CreateBucketInput::builder()
                    .bucket("b".into())
                    .object_ownership(Some(ObjectOwnership::from_static("ObjectWriter")))
                    .create_bucket_configuration(Some(CreateBucketConfiguration {
                        location_constraint: Some(BucketLocationConstraint::from_static(
                            "eu-west-1",
                        )),
                        ..Default::default()
                    }))
                    .build()
                    .unwrap(),
                &headers(&[
                    ("x-amz-acl", "private"),
                    ("x-amz-object-ownership", "ObjectWriter"),
                ]),
            )
            .unwrap(),
            {
                let keys = [
                    "s3:LocationConstraint",
                    "s3:x-amz-acl",
                    "s3:x-amz-object-ownership",
                ];
                vec![
                    want("s3:CreateBucket", B, &keys, false),
                    want("s3:PutBucketOwnershipControls", B, &keys, false),
                ]
            },
        ),
        (
            "CreateMultipartUpload",
            object::create_multipart_upload(
                &CreateMultipartUploadInput::builder()
                    .bucket("b".into())
                    .key("k".into())
                    .tagging(Some("team=blue".into()))
                    .build()
                    .unwrap(),
                &write(),
            )
            .unwrap(),
            vec![
                want("s3:PutObject", K, &WRITE_KEYS, false),
                want("s3:PutObjectTagging", K, &WRITE_KEYS, false),
                want("s3:PutObjectAcl", K, &WRITE_KEYS, false),
            ],
        ),
        (
            "DeleteBucket",
            bucket::delete_bucket(
                &DeleteBucketInput::builder()
                    .bucket("b".into())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            plain("s3:DeleteBucket"),
        ),
        (
            "DeleteBucketCors",
            bucket::delete_bucket_cors(
                &DeleteBucketCorsInput::builder()
                    .bucket("b".into())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            plain("s3:PutBucketCORS"),
        ),
        (
            "DeleteBucketEncryption",
            bucket::delete_bucket_encryption(
                &DeleteBucketEncryptionInput::builder()
                    .bucket("b".into())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            plain("s3:PutEncryptionConfiguration"),
        ),
        (
            "DeleteBucketOwnershipControls",
            bucket::delete_bucket_ownership_controls(
                &DeleteBucketOwnershipControlsInput::builder()
                    .bucket("b".into())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            plain("s3:PutBucketOwnershipControls"),
        ),
        (
            "DeleteBucketPolicy",
            bucket::delete_bucket_policy(
                &DeleteBucketPolicyInput::builder()
                    .bucket("b".into())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            plain("s3:DeleteBucketPolicy"),
        ),
        (
            "DeleteBucketTagging",
            bucket::delete_bucket_tagging(
                &DeleteBucketTaggingInput::builder()
                    .bucket("b".into())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            plain("s3:PutBucketTagging"),
        ),
        (
            "DeleteObject",
            object::delete_object(
                &DeleteObjectInput::builder()
                    .bucket("b".into())
                    .key("k".into())
                    .version_id(v.clone())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            vec![want("s3:DeleteObjectVersion", K, &["s3:VersionId"], true)],
        ),
        (
            // Each key is authorized by `decide` as the DeleteObject above (`object::read`); the operation itself
            // needs nothing but its bucket.
            "DeleteObjects",
            object::delete_objects(
                &DeleteObjectsInput::builder()
                    .bucket("b".into())
                    .delete(Delete {
                        objects: vec![ObjectIdentifier {
                            key: "k".into(),
                            ..Default::default()
                        }],
                        quiet: None,
                    })
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            vec![],
        ),
        (
            "DeleteObjectTagging",
            object::delete_object_tagging(
                &DeleteObjectTaggingInput::builder()
                    .bucket("b".into())
                    .key("k".into())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            vec![want("s3:DeleteObjectTagging", K, &[], true)],
        ),
        (
            "DeletePublicAccessBlock",
            bucket::delete_public_access_block(
                &DeletePublicAccessBlockInput::builder()
                    .bucket("b".into())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            plain("s3:PutBucketPublicAccessBlock"),
        ),
        (
            "GetBucketAcl",
            bucket::get_bucket_acl(
                &GetBucketAclInput::builder()
                    .bucket("b".into())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            plain("s3:GetBucketAcl"),
        ),
        (
            "GetBucketCors",
            bucket::get_bucket_cors(
                &GetBucketCorsInput::builder()
                    .bucket("b".into())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            plain("s3:GetBucketCORS"),
        ),
        (
            "GetBucketEncryption",
            bucket::get_bucket_encryption(
                &GetBucketEncryptionInput::builder()
                    .bucket("b".into())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            plain("s3:GetEncryptionConfiguration"),
        ),
        (
            "GetBucketLocation",
            bucket::get_bucket_location(
                &GetBucketLocationInput::builder()
                    .bucket("b".into())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            plain("s3:GetBucketLocation"),
        ),
        (
            "GetBucketOwnershipControls",
            bucket::get_bucket_ownership_controls(
                &GetBucketOwnershipControlsInput::builder()
                    .bucket("b".into())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            plain("s3:GetBucketOwnershipControls"),
        ),
        (
            "GetBucketPolicy",
            bucket::get_bucket_policy(
                &GetBucketPolicyInput::builder()
                    .bucket("b".into())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            plain("s3:GetBucketPolicy"),
        ),
        (
            "GetBucketPolicyStatus",
            bucket::get_bucket_policy_status(
                &GetBucketPolicyStatusInput::builder()
                    .bucket("b".into())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            plain("s3:GetBucketPolicyStatus"),
        ),
        (
            "GetBucketTagging",
            bucket::get_bucket_tagging(
                &GetBucketTaggingInput::builder()
                    .bucket("b".into())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            plain("s3:GetBucketTagging"),
        ),
        (
            "GetBucketVersioning",
            bucket::get_bucket_versioning(
                &GetBucketVersioningInput::builder()
                    .bucket("b".into())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            plain("s3:GetBucketVersioning"),
        ),
        (
            "GetObject",
            object::get_object(
                &GetObjectInput::builder()
                    .bucket("b".into())
                    .key("k".into())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            vec![want("s3:GetObject", K, &[], true)],
        ),
        (
            "GetObjectAcl",
            object::get_object_acl(
                &GetObjectAclInput::builder()
                    .bucket("b".into())
                    .key("k".into())
                    .version_id(v.clone())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            vec![want("s3:GetObjectVersionAcl", K, &["s3:VersionId"], true)],
        ),
        (
            "GetObjectAttributes",
            object::get_object_attributes(
                &GetObjectAttributesInput::builder()
                    .bucket("b".into())
                    .key("k".into())
                    .object_attributes(vec![ObjectAttributes::from_static("ETag")])
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            vec![
                want("s3:GetObject", K, &[], true),
                want("s3:GetObjectAttributes", K, &[], true),
            ],
        ),
        (
            "GetObjectTagging",
            object::get_object_tagging(
                &GetObjectTaggingInput::builder()
                    .bucket("b".into())
                    .key("k".into())
                    .version_id(v.clone())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            vec![want(
                "s3:GetObjectVersionTagging",
                K,
                &["s3:VersionId"],
                true,
            )],
        ),
        (
            "GetPublicAccessBlock",
            bucket::get_public_access_block(
                &GetPublicAccessBlockInput::builder()
                    .bucket("b".into())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            plain("s3:GetBucketPublicAccessBlock"),
        ),
        (
            "HeadBucket",
            bucket::head_bucket(
                &HeadBucketInput::builder()
                    .bucket("b".into())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            plain("s3:ListBucket"),
        ),
        (
            "HeadObject",
            object::head_object(
                &HeadObjectInput::builder()
                    .bucket("b".into())
                    .key("k".into())
                    .version_id(v.clone())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            vec![want("s3:GetObjectVersion", K, &["s3:VersionId"], true)],
        ),
        (
            // ListAllMyBuckets has no resource type: it is evaluated against every bucket ARN.
            "ListBuckets",
            bucket::list_buckets(&ListBucketsInput::default(), &none).unwrap(),
            vec![want("s3:ListAllMyBuckets", "arn:aws:s3:::*", &[], false)],
        ),
        (
            "ListMultipartUploads",
            bucket::list_multipart_uploads(
                &ListMultipartUploadsInput::builder()
                    .bucket("b".into())
                    .delimiter(Some("/".into()))
                    .max_uploads(Some(5))
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            vec![want(
                "s3:ListBucketMultipartUploads",
                B,
                &["s3:prefix", "s3:delimiter", "s3:max-keys"],
                false,
            )],
        ),
        (
            "ListObjects",
            bucket::list_objects(
                &ListObjectsInput::builder()
                    .bucket("b".into())
                    .prefix(Some("p/".into()))
                    .delimiter(Some("/".into()))
                    .max_keys(Some(10))
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            vec![want("s3:ListBucket", B, &list_keys, false)],
        ),
        (
            "ListObjectsV2",
            bucket::list_objects_v2(
                &ListObjectsV2Input::builder()
                    .bucket("b".into())
                    .prefix(Some("p/".into()))
                    .delimiter(Some("/".into()))
                    .max_keys(Some(10))
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            vec![want("s3:ListBucket", B, &list_keys, false)],
        ),
        (
            "ListObjectVersions",
            bucket::list_object_versions(
                &ListObjectVersionsInput::builder()
                    .bucket("b".into())
                    .prefix(Some("p/".into()))
                    .delimiter(Some("/".into()))
                    .max_keys(Some(10))
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            vec![want("s3:ListBucketVersions", B, &list_keys, false)],
        ),
        (
            "ListParts",
            object::list_parts(
                &ListPartsInput::builder()
                    .bucket("b".into())
                    .key("k".into())
                    .upload_id("u".into())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            vec![want("s3:ListMultipartUploadParts", K, &[], false)],
        ),
        (
            "PutBucketAcl",
            bucket::put_bucket_acl(
                &PutBucketAclInput::builder()
                    .bucket("b".into())
                    .build()
                    .unwrap(),
                &headers(&[("x-amz-acl", "private"), ("x-amz-grant-write", "id=1")]),
            )
            .unwrap(),
            vec![want(
                "s3:PutBucketAcl",
                B,
                &["s3:x-amz-acl", "s3:x-amz-grant-write"],
                false,
            )],
        ),
        (
            "PutBucketCors",
            bucket::put_bucket_cors(
                &PutBucketCorsInput::builder()
                    .bucket("b".into())
                    .cors_configuration(CORSConfiguration::default())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            plain("s3:PutBucketCORS"),
        ),
        (
            "PutBucketEncryption",
            bucket::put_bucket_encryption(
                &PutBucketEncryptionInput::builder()
                    .bucket("b".into())
                    .server_side_encryption_configuration(
                        ServerSideEncryptionConfiguration::default(),
                    )
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            plain("s3:PutEncryptionConfiguration"),
        ),
        (
            "PutBucketOwnershipControls",
            bucket::put_bucket_ownership_controls(
                &PutBucketOwnershipControlsInput::builder()
                    .bucket("b".into())
                    .ownership_controls(OwnershipControls::default())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            plain("s3:PutBucketOwnershipControls"),
        ),
        (
            "PutBucketPolicy",
            bucket::put_bucket_policy(
                &PutBucketPolicyInput::builder()
                    .bucket("b".into())
                    .policy("{}".into())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            plain("s3:PutBucketPolicy"),
        ),
        (
            "PutBucketTagging",
            bucket::put_bucket_tagging(
                &PutBucketTaggingInput::builder()
                    .bucket("b".into())
                    .tagging(Tagging::default())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            plain("s3:PutBucketTagging"),
        ),
        (
            "PutBucketVersioning",
            bucket::put_bucket_versioning(
                &PutBucketVersioningInput::builder()
                    .bucket("b".into())
                    .versioning_configuration(VersioningConfiguration::default())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            plain("s3:PutBucketVersioning"),
        ),
        (
            "PutObject",
            object::put_object(
                &PutObjectInput::builder()
                    .bucket("b".into())
                    .key("k".into())
                    .build()
                    .unwrap(),
                &write(),
            )
            .unwrap(),
            vec![
                want("s3:PutObject", K, &WRITE_KEYS, false),
                want("s3:PutObjectTagging", K, &WRITE_KEYS, false),
                want("s3:PutObjectAcl", K, &WRITE_KEYS, false),
            ],
        ),
        (
            "PutObjectAcl",
            object::put_object_acl(
                &PutObjectAclInput::builder()
                    .bucket("b".into())
                    .key("k".into())
                    .build()
                    .unwrap(),
                &headers(&[("x-amz-acl", "private")]),
            )
            .unwrap(),
            vec![want("s3:PutObjectAcl", K, &["s3:x-amz-acl"], true)],
        ),
        (
            "PutObjectTagging",
            object::put_object_tagging(
                &PutObjectTaggingInput::builder()
                    .bucket("b".into())
                    .key("k".into())
                    .tagging(Tagging {
                        tag_set: vec![Tag {
                            key: Some("team".into()),
                            value: Some("blue".into()),
                        }],
                    })
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            vec![want(
                "s3:PutObjectTagging",
                K,
                &["s3:RequestObjectTag/team", "s3:RequestObjectTagKeys"],
                true,
            )],
        ),
        (
            "PutPublicAccessBlock",
            bucket::put_public_access_block(
                &PutPublicAccessBlockInput::builder()
                    .bucket("b".into())
                    .public_access_block_configuration(PublicAccessBlockConfiguration::default())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            plain("s3:PutBucketPublicAccessBlock"),
        ),
        (
            "UploadPart",
            object::upload_part(
                &UploadPartInput::builder()
                    .bucket("b".into())
                    .key("k".into())
                    .part_number(1)
                    .upload_id("u".into())
                    .build()
                    .unwrap(),
                &none,
            )
            .unwrap(),
            vec![want("s3:PutObject", K, &[], false)],
        ),
        (
            "UploadPartCopy",
            object::upload_part_copy(
                &UploadPartCopyInput::builder()
                    .bucket("b".into())
                    .key("k".into())
                    .copy_source(copy_source())
                    .part_number(1)
                    .upload_id("u".into())
                    .build()
                    .unwrap(),
                &headers(&[("x-amz-copy-source", "/src/s")]),
            )
            .unwrap(),
            vec![
                want("s3:GetObject", SRC, &["s3:x-amz-copy-source"], true),
                want("s3:PutObject", K, &["s3:x-amz-copy-source"], false),
            ],
        ),
    ]
}

#[test]
fn every_operation_needs_what_aws_requires() {
    for (name, plan, mut expected) in rows() {
        let mut actual: Vec<Want> = got(plan)
            .into_iter()
            .map(|(mut w, resource)| {
                // Compare the resource as text; `Want` holds the expected one as a static.
                let wanted = expected
                    .iter()
                    .find(|e| e.action == w.action)
                    .map_or("", |e| e.resource);
                assert_eq!(resource, wanted, "{name}: resource of {}", w.action);
                w.resource = wanted;
                w
            })
            .collect();
        actual.sort();
        expected.sort();
        assert_eq!(actual, expected, "{name}");
    }
}

#[test]
fn every_handled_operation_has_a_row() {
    let covered: BTreeSet<&str> = rows().iter().map(|(name, _, _)| *name).collect();
    let handled: BTreeSet<&str> = crate::service::HANDLED.iter().copied().collect();
    assert_eq!(covered, handled);
}

#[test]
fn versioned_reads_and_copies_use_the_version_actions() {
    let src = CopySource::Bucket {
        bucket: "src".into(),
        key: "s".into(),
        version_id: Some("7".into()),
    };
    let plan = object::copy_object(
        &CopyObjectInput::builder()
            .bucket("b".into())
            .key("k".into())
            .copy_source(src)
            .build()
            .unwrap(),
        &HeaderMap::new(),
    )
    .unwrap();
    let read = &plan.needs[0];
    assert_eq!(read.action, "s3:GetObjectVersion");
    assert!(read.copy_source);
    assert!(read
        .context
        .iter()
        .any(|(k, v)| k == "s3:VersionId" && v == &["7".to_owned()]));
    let plan = object::get_object_attributes(
        &GetObjectAttributesInput::builder()
            .bucket("b".into())
            .key("k".into())
            .version_id(Some("7".into()))
            .object_attributes(vec![])
            .build()
            .unwrap(),
        &HeaderMap::new(),
    )
    .unwrap();
    let actions: Vec<&str> = plan.needs.iter().map(|n| n.action).collect();
    assert_eq!(
        actions,
        ["s3:GetObjectVersion", "s3:GetObjectVersionAttributes"]
    );
}

#[test]
fn request_keys_reach_every_check() {
    let h = headers(&[("x-amz-content-sha256", "UNSIGNED-PAYLOAD")]);
    let keys = super::conditions::request_keys(
        crate::state::SignedBy::Query,
        "AWS4-HMAC-SHA256",
        Some(1500),
        None,
        &h,
    );
    let names: BTreeSet<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "s3:authType",
            "s3:signatureversion",
            "s3:signatureAge",
            "s3:x-amz-content-sha256"
        ])
    );
    assert!(keys
        .iter()
        .any(|(k, v)| k == "s3:authType" && v == &["REST-QUERY-STRING".to_owned()]));
    let anonymous = super::conditions::request_keys(
        crate::state::SignedBy::Anonymous,
        "AWS4-HMAC-SHA256",
        None,
        None,
        &HeaderMap::new(),
    );
    assert!(anonymous.is_empty());
}
