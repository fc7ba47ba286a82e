//! Bucket configuration: versioning, default encryption, bucket policy (BlockPublicPolicy enforced here) and
//! its public status, Block Public Access, Object Ownership, CORS, bucket tags, and the ACL calls as S3
//! answers them for buckets whose ACLs are disabled (BucketOwnerEnforced).

use api::ApiError;
use objects::{BucketEncryption, CorsRule, OwnershipControls, PublicAccessBlock, Versioning};
use policy::{Policy, PolicyKind};
use s3s::dto::*;
use s3s::S3Response;

use crate::error::{from_object, invalid_argument, Result};
use crate::front::Shared;
use crate::service::Op;

fn no_content<T: Default>() -> Result<S3Response<T>> {
    Ok(S3Response::with_status(
        T::default(),
        http::StatusCode::NO_CONTENT,
    ))
}

pub(crate) async fn get_bucket_versioning(
    _shared: &Shared,
    op: Op<GetBucketVersioningInput>,
) -> Result<S3Response<GetBucketVersioningOutput>> {
    let status = match op.bucket()?.versioning {
        Versioning::Unversioned => None,
        Versioning::Enabled => Some(BucketVersioningStatus::from("Enabled".to_owned())),
        Versioning::Suspended => Some(BucketVersioningStatus::from("Suspended".to_owned())),
    };
    Ok(S3Response::new(GetBucketVersioningOutput {
        mfa_delete: None,
        status,
    }))
}

pub(crate) async fn put_bucket_versioning(
    shared: &Shared,
    op: Op<PutBucketVersioningInput>,
) -> Result<S3Response<PutBucketVersioningOutput>> {
    let c = &op.input.versioning_configuration;
    if c.mfa_delete
        .as_ref()
        .is_some_and(|m| m.as_str() == "Enabled")
    {
        return Err(crate::error::not_implemented("MFA delete"));
    }
    let state = match c.status.as_ref().map(|s| s.as_str()) {
        Some("Enabled") => Versioning::Enabled,
        Some("Suspended") => Versioning::Suspended,
        _ => return Err(crate::error::malformed_xml()),
    };
    shared
        .objects
        .put_bucket_versioning(&op.input.bucket, state)
        .await
        .map_err(from_object)?;
    Ok(S3Response::new(PutBucketVersioningOutput::default()))
}

/// The configuration every bucket has when none was set: SSE-S3.
fn default_encryption() -> BucketEncryption {
    BucketEncryption {
        sse_algorithm: "AES256".into(),
        kms_key_id: None,
        bucket_key_enabled: false,
    }
}

pub(crate) async fn get_bucket_encryption(
    _shared: &Shared,
    op: Op<GetBucketEncryptionInput>,
) -> Result<S3Response<GetBucketEncryptionOutput>> {
    let e = op
        .bucket()?
        .encryption
        .clone()
        .unwrap_or_else(default_encryption);
    let rule = ServerSideEncryptionRule {
        apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
            kms_master_key_id: e.kms_key_id.clone(),
            sse_algorithm: ServerSideEncryption::from(e.sse_algorithm.clone()),
        }),
        bucket_key_enabled: Some(e.bucket_key_enabled),
    };
    Ok(S3Response::new(GetBucketEncryptionOutput {
        server_side_encryption_configuration: Some(ServerSideEncryptionConfiguration {
            rules: vec![rule],
        }),
    }))
}

pub(crate) async fn put_bucket_encryption(
    shared: &Shared,
    op: Op<PutBucketEncryptionInput>,
) -> Result<S3Response<PutBucketEncryptionOutput>> {
    let rules = &op.input.server_side_encryption_configuration.rules;
    let [rule] = rules.as_slice() else {
        return Err(crate::error::malformed_xml());
    };
    let Some(default) = &rule.apply_server_side_encryption_by_default else {
        return Err(crate::error::malformed_xml());
    };
    let algorithm = default.sse_algorithm.as_str().to_owned();
    if !["AES256", "aws:kms", "aws:kms:dsse"].contains(&algorithm.as_str()) {
        return Err(crate::error::malformed_xml());
    }
    if default.kms_master_key_id.is_some() && algorithm == "AES256" {
        return Err(invalid_argument(
            "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
        ));
    }
    shared
        .objects
        .put_bucket_encryption(
            &op.input.bucket,
            BucketEncryption {
                sse_algorithm: algorithm,
                kms_key_id: default.kms_master_key_id.clone().filter(|k| !k.is_empty()),
                bucket_key_enabled: rule.bucket_key_enabled.unwrap_or(false),
            },
        )
        .await
        .map_err(from_object)?;
    Ok(S3Response::new(PutBucketEncryptionOutput::default()))
}

pub(crate) async fn delete_bucket_encryption(
    shared: &Shared,
    op: Op<DeleteBucketEncryptionInput>,
) -> Result<S3Response<DeleteBucketEncryptionOutput>> {
    shared
        .objects
        .delete_bucket_encryption(&op.input.bucket)
        .await
        .map_err(from_object)?;
    no_content()
}

fn malformed_policy(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("MalformedPolicy", message)
}

/// Parses a bucket policy and checks that every resource it names is this bucket or inside it.
pub(crate) fn parse_bucket_policy(bucket: &str, text: &str) -> Result<Policy> {
    if text.len() > crate::MAX_BUCKET_POLICY {
        return Err(malformed_policy(
            "Policy exceeds the maximum allowed document size.",
        ));
    }
    let policy =
        Policy::parse(text, PolicyKind::Resource).map_err(|e| malformed_policy(e.to_string()))?;
    let own = format!("arn:aws:s3:::{bucket}");
    for s in policy.statements() {
        let Some(resources) = s.resources() else {
            return malformed_policy("Missing required field Resource").pipe_err();
        };
        for r in resources {
            let inside = r == &own || r.starts_with(&format!("{own}/"));
            if !inside {
                return malformed_policy("Policy has invalid resource").pipe_err();
            }
        }
    }
    Ok(policy)
}

trait PipeErr<T> {
    fn pipe_err(self) -> Result<T>;
}

impl<T> PipeErr<T> for ApiError {
    fn pipe_err(self) -> Result<T> {
        Err(self)
    }
}

pub(crate) async fn put_bucket_policy(
    shared: &Shared,
    op: Op<PutBucketPolicyInput>,
) -> Result<S3Response<PutBucketPolicyOutput>> {
    let bucket = op.bucket()?;
    let policy = parse_bucket_policy(&bucket.name, &op.input.policy)?;
    let blocks = bucket
        .public_access_block
        .is_some_and(|b| b.block_public_policy);
    if blocks && crate::is_public_policy(&policy) {
        return Err(ApiError::new(
            403,
            "AccessDenied",
            format!(
                "User: {} is not authorized to perform: s3:PutBucketPolicy on resource: \"arn:aws:s3:::{}\" because public policies are blocked by the BlockPublicPolicy block public access setting.",
                op.ctx.caller.display_arn(),
                bucket.name
            ),
        ));
    }
    shared
        .objects
        .put_bucket_policy(&bucket.name, op.input.policy.clone())
        .await
        .map_err(from_object)?;
    no_content()
}

pub(crate) async fn get_bucket_policy(
    _shared: &Shared,
    op: Op<GetBucketPolicyInput>,
) -> Result<S3Response<GetBucketPolicyOutput>> {
    let policy = op
        .bucket()?
        .policy
        .clone()
        .ok_or_else(|| from_object(objects::ObjectError::NoSuchBucketPolicy))?;
    Ok(S3Response::new(GetBucketPolicyOutput {
        policy: Some(policy),
    }))
}

pub(crate) async fn delete_bucket_policy(
    shared: &Shared,
    op: Op<DeleteBucketPolicyInput>,
) -> Result<S3Response<DeleteBucketPolicyOutput>> {
    shared
        .objects
        .delete_bucket_policy(&op.input.bucket)
        .await
        .map_err(from_object)?;
    no_content()
}

pub(crate) async fn get_bucket_policy_status(
    _shared: &Shared,
    op: Op<GetBucketPolicyStatusInput>,
) -> Result<S3Response<GetBucketPolicyStatusOutput>> {
    let bucket = op.bucket()?;
    let text = bucket
        .policy
        .as_deref()
        .ok_or_else(|| from_object(objects::ObjectError::NoSuchBucketPolicy))?;
    let policy = Policy::parse(text, PolicyKind::Resource).map_err(ApiError::internal)?;
    Ok(S3Response::new(GetBucketPolicyStatusOutput {
        policy_status: Some(PolicyStatus {
            is_public: Some(crate::is_public_policy(&policy)),
        }),
    }))
}

pub(crate) async fn get_public_access_block(
    _shared: &Shared,
    op: Op<GetPublicAccessBlockInput>,
) -> Result<S3Response<GetPublicAccessBlockOutput>> {
    let b = op
        .bucket()?
        .public_access_block
        .ok_or_else(|| from_object(objects::ObjectError::NoSuchPublicAccessBlockConfiguration))?;
    Ok(S3Response::new(GetPublicAccessBlockOutput {
        public_access_block_configuration: Some(PublicAccessBlockConfiguration {
            block_public_acls: Some(b.block_public_acls),
            block_public_policy: Some(b.block_public_policy),
            ignore_public_acls: Some(b.ignore_public_acls),
            restrict_public_buckets: Some(b.restrict_public_buckets),
        }),
    }))
}

pub(crate) async fn put_public_access_block(
    shared: &Shared,
    op: Op<PutPublicAccessBlockInput>,
) -> Result<S3Response<PutPublicAccessBlockOutput>> {
    let c = &op.input.public_access_block_configuration;
    shared
        .objects
        .put_public_access_block(
            &op.input.bucket,
            PublicAccessBlock {
                block_public_acls: c.block_public_acls.unwrap_or(false),
                ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
                block_public_policy: c.block_public_policy.unwrap_or(false),
                restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
            },
        )
        .await
        .map_err(from_object)?;
    Ok(S3Response::new(PutPublicAccessBlockOutput::default()))
}

pub(crate) async fn delete_public_access_block(
    shared: &Shared,
    op: Op<DeletePublicAccessBlockInput>,
) -> Result<S3Response<DeletePublicAccessBlockOutput>> {
    shared
        .objects
        .delete_public_access_block(&op.input.bucket)
        .await
        .map_err(from_object)?;
    no_content()
}

pub(crate) async fn get_bucket_ownership_controls(
    _shared: &Shared,
    op: Op<GetBucketOwnershipControlsInput>,
) -> Result<S3Response<GetBucketOwnershipControlsOutput>> {
    let o = op
        .bucket()?
        .ownership
        .clone()
        .ok_or_else(|| from_object(objects::ObjectError::OwnershipControlsNotFoundError))?;
    Ok(S3Response::new(GetBucketOwnershipControlsOutput {
        ownership_controls: Some(OwnershipControls_ {
            rules: vec![OwnershipControlsRule {
                object_ownership: ObjectOwnership::from(o.object_ownership),
            }],
        }),
    }))
}

use s3s::dto::OwnershipControls as OwnershipControls_;

pub(crate) async fn put_bucket_ownership_controls(
    shared: &Shared,
    op: Op<PutBucketOwnershipControlsInput>,
) -> Result<S3Response<PutBucketOwnershipControlsOutput>> {
    let [rule] = op.input.ownership_controls.rules.as_slice() else {
        return Err(crate::error::malformed_xml());
    };
    let value = rule.object_ownership.as_str();
    if ![
        "BucketOwnerEnforced",
        "BucketOwnerPreferred",
        "ObjectWriter",
    ]
    .contains(&value)
    {
        return Err(crate::error::malformed_xml());
    }
    shared
        .objects
        .put_bucket_ownership_controls(
            &op.input.bucket,
            OwnershipControls {
                object_ownership: value.to_owned(),
            },
        )
        .await
        .map_err(from_object)?;
    Ok(S3Response::new(PutBucketOwnershipControlsOutput::default()))
}

pub(crate) async fn delete_bucket_ownership_controls(
    shared: &Shared,
    op: Op<DeleteBucketOwnershipControlsInput>,
) -> Result<S3Response<DeleteBucketOwnershipControlsOutput>> {
    shared
        .objects
        .delete_bucket_ownership_controls(&op.input.bucket)
        .await
        .map_err(from_object)?;
    no_content()
}

pub(crate) async fn get_bucket_cors(
    _shared: &Shared,
    op: Op<GetBucketCorsInput>,
) -> Result<S3Response<GetBucketCorsOutput>> {
    let rules = op
        .bucket()?
        .cors
        .clone()
        .ok_or_else(|| from_object(objects::ObjectError::NoSuchCORSConfiguration))?;
    let rules = rules
        .into_iter()
        .map(|r| CORSRule {
            allowed_headers: (!r.allowed_headers.is_empty()).then_some(r.allowed_headers),
            allowed_methods: r.allowed_methods,
            allowed_origins: r.allowed_origins,
            expose_headers: (!r.expose_headers.is_empty()).then_some(r.expose_headers),
            id: r.id,
            max_age_seconds: r.max_age_seconds.and_then(|m| i32::try_from(m).ok()),
        })
        .collect();
    Ok(S3Response::new(GetBucketCorsOutput {
        cors_rules: Some(rules),
    }))
}

pub(crate) async fn put_bucket_cors(
    shared: &Shared,
    op: Op<PutBucketCorsInput>,
) -> Result<S3Response<PutBucketCorsOutput>> {
    let rules = &op.input.cors_configuration.cors_rules;
    if rules.is_empty() || rules.len() > 100 {
        return Err(crate::error::malformed_xml());
    }
    let mut out = Vec::with_capacity(rules.len());
    for r in rules {
        for m in &r.allowed_methods {
            if !["GET", "PUT", "POST", "DELETE", "HEAD"].contains(&m.as_str()) {
                return Err(crate::error::invalid_request(format!(
                    "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
                )));
            }
        }
        if r.allowed_origins.is_empty() || r.allowed_methods.is_empty() {
            return Err(crate::error::malformed_xml());
        }
        out.push(CorsRule {
            id: r.id.clone(),
            allowed_methods: r.allowed_methods.clone(),
            allowed_origins: r.allowed_origins.clone(),
            allowed_headers: r.allowed_headers.clone().unwrap_or_default(),
            expose_headers: r.expose_headers.clone().unwrap_or_default(),
            max_age_seconds: r.max_age_seconds.and_then(|m| u32::try_from(m).ok()),
        });
    }
    shared
        .objects
        .put_bucket_cors(&op.input.bucket, out)
        .await
        .map_err(from_object)?;
    Ok(S3Response::new(PutBucketCorsOutput::default()))
}

pub(crate) async fn delete_bucket_cors(
    shared: &Shared,
    op: Op<DeleteBucketCorsInput>,
) -> Result<S3Response<DeleteBucketCorsOutput>> {
    shared
        .objects
        .delete_bucket_cors(&op.input.bucket)
        .await
        .map_err(from_object)?;
    no_content()
}

/// Tags of a `Tagging` document, validated as S3 does for buckets (50) or objects (10).
pub(crate) fn tags_of(tagging: &Tagging, max: usize) -> Result<Vec<objects::Tag>> {
    let bad = |m: &str| ApiError::bad_request("InvalidTag", m.to_owned());
    if tagging.tag_set.len() > max {
        return Err(bad(&format!("Object tags cannot be greater than {max}")));
    }
    let mut out: Vec<objects::Tag> = Vec::with_capacity(tagging.tag_set.len());
    for t in &tagging.tag_set {
        let key = t.key.clone().unwrap_or_default();
        let value = t.value.clone().unwrap_or_default();
        if key.is_empty() || key.chars().count() > 128 {
            return Err(bad("The TagKey you have provided is invalid"));
        }
        if value.chars().count() > 256 {
            return Err(bad("The TagValue you have provided is invalid"));
        }
        if out.iter().any(|o| o.key == key) {
            return Err(bad("Cannot provide multiple Tags with the same key"));
        }
        out.push(objects::Tag::new(key, value));
    }
    Ok(out)
}

pub(crate) fn tagging_of(tags: &[objects::Tag]) -> Vec<Tag> {
    tags.iter()
        .map(|t| Tag {
            key: Some(t.key.clone()),
            value: Some(t.value.clone()),
        })
        .collect()
}

pub(crate) async fn get_bucket_tagging(
    _shared: &Shared,
    op: Op<GetBucketTaggingInput>,
) -> Result<S3Response<GetBucketTaggingOutput>> {
    let tags = op
        .bucket()?
        .tags
        .clone()
        .ok_or_else(|| from_object(objects::ObjectError::NoSuchTagSet))?;
    Ok(S3Response::new(GetBucketTaggingOutput {
        tag_set: tagging_of(&tags),
    }))
}

pub(crate) async fn put_bucket_tagging(
    shared: &Shared,
    op: Op<PutBucketTaggingInput>,
) -> Result<S3Response<PutBucketTaggingOutput>> {
    let tags = tags_of(&op.input.tagging, 50)?;
    shared
        .objects
        .put_bucket_tagging(&op.input.bucket, tags)
        .await
        .map_err(from_object)?;
    no_content()
}

pub(crate) async fn delete_bucket_tagging(
    shared: &Shared,
    op: Op<DeleteBucketTaggingInput>,
) -> Result<S3Response<DeleteBucketTaggingOutput>> {
    shared
        .objects
        .delete_bucket_tagging(&op.input.bucket)
        .await
        .map_err(from_object)?;
    no_content()
}

/// The only ACL a bucket with ACLs disabled has: the owner with FULL_CONTROL.
pub(crate) fn owner_full_control(owner: &str) -> (Owner, Vec<Grant>) {
    let grant = Grant {
        grantee: Some(Grantee {
            display_name: None,
            email_address: None,
            id: Some(owner.to_owned()),
            type_: Type::from("CanonicalUser".to_owned()),
            uri: None,
        }),
        permission: Some(Permission::from("FULL_CONTROL".to_owned())),
    };
    (crate::buckets::owner(owner), vec![grant])
}

/// Whether an ACL request asks for anything beyond the owner's full control (which disabled ACLs refuse).
pub(crate) fn acl_beyond_owner(
    canned: Option<&str>,
    grants_in_headers: bool,
    policy: Option<&AccessControlPolicy>,
    owner: &str,
) -> bool {
    if grants_in_headers {
        return true;
    }
    if canned.is_some_and(|c| !matches!(c, "private" | "bucket-owner-full-control")) {
        return true;
    }
    policy.is_some_and(|p| {
        p.grants.as_deref().unwrap_or_default().iter().any(|g| {
            let to_owner = g
                .grantee
                .as_ref()
                .is_some_and(|e| e.id.as_deref() == Some(owner));
            let full = g
                .permission
                .as_ref()
                .is_some_and(|p| p.as_str() == "FULL_CONTROL");
            !(to_owner && full)
        })
    })
}

pub(crate) fn acl_not_supported() -> ApiError {
    ApiError::bad_request(
        "AccessControlListNotSupported",
        "The bucket does not allow ACLs",
    )
}

pub(crate) async fn get_bucket_acl(
    _shared: &Shared,
    op: Op<GetBucketAclInput>,
) -> Result<S3Response<GetBucketAclOutput>> {
    let (owner, grants) = owner_full_control(&op.bucket()?.owner);
    Ok(S3Response::new(GetBucketAclOutput {
        grants: Some(grants),
        owner: Some(owner),
    }))
}

pub(crate) async fn put_bucket_acl(
    _shared: &Shared,
    op: Op<PutBucketAclInput>,
) -> Result<S3Response<PutBucketAclOutput>> {
    let i = &op.input;
    let grants = i.grant_full_control.is_some()
        || i.grant_read.is_some()
        || i.grant_read_acp.is_some()
        || i.grant_write.is_some()
        || i.grant_write_acp.is_some();
    let owner = &op.bucket()?.owner;
    if acl_beyond_owner(
        i.acl.as_ref().map(|a| a.as_str()),
        grants,
        i.access_control_policy.as_ref(),
        owner,
    ) {
        return Err(acl_not_supported());
    }
    Ok(S3Response::new(PutBucketAclOutput::default()))
}
