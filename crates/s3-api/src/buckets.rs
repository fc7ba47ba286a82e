//! Buckets: CreateBucket (Block Public Access fully on and BucketOwnerEnforced by default, as AWS since
//! 2023), HeadBucket, DeleteBucket, ListBuckets, GetBucketLocation.

use api::ApiError;
use objects::{OwnershipControls, PublicAccessBlock};
use s3s::dto::*;
use s3s::S3Response;

use crate::error::{from_object, Result};
use crate::front::Shared;
use crate::service::Op;

const ENFORCED: &str = "BucketOwnerEnforced";

pub(crate) async fn create_bucket(
    shared: &Shared,
    op: Op<CreateBucketInput>,
) -> Result<S3Response<CreateBucketOutput>> {
    let i = &op.input;
    objects::validate_bucket_name(&i.bucket).map_err(from_object)?;
    let requested = i
        .create_bucket_configuration
        .as_ref()
        .and_then(|c| c.location_constraint.as_ref())
        .map(|c| c.as_str().to_owned())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "us-east-1".to_owned());
    if requested != op.ctx.region {
        return Err(ApiError::bad_request(
            "IllegalLocationConstraintException",
            format!(
                "The {requested} location constraint is incompatible for the region specific endpoint this request was sent to."
            ),
        ));
    }
    let ownership = i
        .object_ownership
        .as_ref()
        .map(|o| o.as_str().to_owned())
        .unwrap_or_else(|| ENFORCED.to_owned());
    if ![
        "BucketOwnerEnforced",
        "BucketOwnerPreferred",
        "ObjectWriter",
    ]
    .contains(&ownership.as_str())
    {
        return Err(crate::error::invalid_argument(
            "Invalid x-amz-object-ownership header",
        ));
    }
    let has_grants = i.grant_full_control.is_some()
        || i.grant_read.is_some()
        || i.grant_read_acp.is_some()
        || i.grant_write.is_some()
        || i.grant_write_acp.is_some();
    let public_acl = i.acl.as_ref().is_some_and(|a| a.as_str() != "private");
    if ownership == ENFORCED && (has_grants || public_acl) {
        return Err(ApiError::bad_request(
            "InvalidBucketAclWithObjectOwnership",
            "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
        ));
    }
    if op.ctx.caller.account.is_empty() {
        return Err(crate::error::access_denied());
    }
    shared
        .objects
        .create_bucket(&i.bucket, &op.ctx.caller.account, &op.ctx.region)
        .await
        .map_err(from_object)?;
    // A new bucket is private: Block Public Access on and ACLs disabled, as AWS does since April 2023.
    shared
        .objects
        .put_public_access_block(
            &i.bucket,
            PublicAccessBlock {
                block_public_acls: true,
                ignore_public_acls: true,
                block_public_policy: true,
                restrict_public_buckets: true,
            },
        )
        .await
        .map_err(from_object)?;
    shared
        .objects
        .put_bucket_ownership_controls(
            &i.bucket,
            OwnershipControls {
                object_ownership: ownership,
            },
        )
        .await
        .map_err(from_object)?;
    Ok(S3Response::new(CreateBucketOutput {
        location: Some(format!("/{}", i.bucket)),
    }))
}

pub(crate) async fn head_bucket(
    _shared: &Shared,
    op: Op<HeadBucketInput>,
) -> Result<S3Response<HeadBucketOutput>> {
    let b = op.bucket()?;
    Ok(S3Response::new(HeadBucketOutput {
        bucket_region: Some(b.region.clone()),
        ..Default::default()
    }))
}

pub(crate) async fn delete_bucket(
    shared: &Shared,
    op: Op<DeleteBucketInput>,
) -> Result<S3Response<DeleteBucketOutput>> {
    shared
        .objects
        .delete_bucket(&op.input.bucket)
        .await
        .map_err(from_object)?;
    Ok(S3Response::with_status(
        DeleteBucketOutput::default(),
        http::StatusCode::NO_CONTENT,
    ))
}

pub(crate) async fn list_buckets(
    shared: &Shared,
    op: Op<ListBucketsInput>,
) -> Result<S3Response<ListBucketsOutput>> {
    let account = &op.ctx.caller.account;
    if account.is_empty() {
        return Err(crate::error::access_denied());
    }
    let i = &op.input;
    let max = i
        .max_buckets
        .map_or(10_000, |m| usize::try_from(m.max(1)).unwrap_or(1));
    let page = shared
        .objects
        .list_buckets(
            account,
            i.prefix.as_deref(),
            i.continuation_token.as_deref(),
            max,
        )
        .map_err(from_object)?;
    let buckets = page
        .buckets
        .iter()
        .filter(|b| i.bucket_region.as_ref().is_none_or(|r| *r == b.region))
        .map(|b| Bucket {
            name: Some(b.name.clone()),
            creation_date: Some(b.created().into()),
            bucket_region: Some(b.region.clone()),
        })
        .collect();
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(buckets),
        continuation_token: page.continuation_token,
        owner: Some(owner(account)),
        prefix: i.prefix.clone(),
    }))
}

/// The owner element S3 prints (the account id as canonical id; no display names since 2025).
pub(crate) fn owner(account: &str) -> Owner {
    Owner {
        display_name: None,
        id: Some(account.to_owned()),
    }
}

pub(crate) async fn get_bucket_location(
    _shared: &Shared,
    op: Op<GetBucketLocationInput>,
) -> Result<S3Response<GetBucketLocationOutput>> {
    let region = &op.bucket()?.region;
    // us-east-1 is reported as an empty LocationConstraint, as S3 does.
    let location_constraint =
        (region != "us-east-1").then(|| BucketLocationConstraint::from(region.clone()));
    Ok(S3Response::new(GetBucketLocationOutput {
        location_constraint,
    }))
}
