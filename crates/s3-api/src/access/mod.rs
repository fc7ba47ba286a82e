//! Authorization of S3 requests, in two steps that s3s calls for us:
//!
//! * `check` (every request, before its input is decoded): who is calling — the caller behind the access
//!   key, the session token, the unsigned-`x-amz-*`-header rule, the [`ServicePrincipalResolver`] seam —
//!   and the [`api::RequestContext`];
//! * the per-operation hooks (typed inputs, before the operation runs): the [`api::Check`]s the operation
//!   needs, evaluated with the identity policies, the bucket policy (Block Public Access applied) and S3's
//!   condition keys through [`api::Core::authorize`]. The proof goes into the request state; operations
//!   take it out and do not run without it.

pub(crate) mod bucket;
pub(crate) mod conditions;
pub(crate) mod identify;
pub(crate) mod object;
pub mod public;
pub mod resolver;
#[cfg(test)]
mod table;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use api::{ApiError, Check, DenialStyle, ResourcePolicy};
use iam::CallerKind;
use objects::Bucket;
use policy::{Policy, PolicyKind};
use s3s::access::{S3Access, S3AccessContext};
use s3s::dto::*;
use s3s::{S3Request, S3Result};

use crate::error::to_s3;
use crate::front::Shared;
use crate::state::RequestState;
use conditions::Keys;

/// How S3 words a denial.
pub(crate) const S3_DENIAL: DenialStyle = DenialStyle {
    code: "AccessDenied",
    status: 403,
    terse_for_anonymous: true,
};

/// One permission an operation needs.
#[derive(Debug, Clone)]
pub(crate) struct Need {
    pub action: &'static str,
    pub bucket: String,
    /// The object key, when the resource is an object (`arn:aws:s3:::bucket/key`).
    pub key: Option<String>,
    pub context: Keys,
    /// The object whose tags become `s3:ExistingObjectTag/<k>` (key, version id), if any policy asks.
    pub existing_object: Option<(String, Option<String>)>,
    /// This need reads the source of a copy (`x-amz-source-expected-bucket-owner` applies, not
    /// `x-amz-expected-bucket-owner`).
    pub copy_source: bool,
    /// The account the caller expects to own the bucket; another owner is AccessDenied.
    pub expected_owner: Option<String>,
}

impl Need {
    pub(crate) fn bucket(action: &'static str, bucket: &str) -> Need {
        Need {
            action,
            bucket: bucket.to_owned(),
            key: None,
            context: Keys::new(),
            existing_object: None,
            copy_source: false,
            expected_owner: None,
        }
    }

    pub(crate) fn object(action: &'static str, bucket: &str, key: &str) -> Need {
        Need {
            key: Some(key.to_owned()),
            ..Need::bucket(action, bucket)
        }
    }

    pub(crate) fn with(mut self, context: Keys) -> Need {
        self.context.extend(context);
        self
    }

    /// Marks the need as reading a copy source.
    pub(crate) fn of_copy_source(mut self) -> Need {
        self.copy_source = true;
        self
    }

    pub(crate) fn resource(&self) -> String {
        match &self.key {
            Some(k) => format!("arn:aws:s3:::{}/{k}", self.bucket),
            None => format!("arn:aws:s3:::{}", self.bucket),
        }
    }
}

/// What an operation needs, decided from its typed input before it runs.
#[derive(Debug, Default)]
pub(crate) struct OpPlan {
    /// The bucket the operation acts on; it must exist (except for CreateBucket) and is loaded into the
    /// request state for the operation.
    pub bucket: Option<String>,
    pub needs: Vec<Need>,
    /// CreateBucket and ListBuckets act on no existing bucket: their checks are against the caller's own
    /// account with no resource policy.
    pub account_level: bool,
    /// CloudTrail's requestParameters.
    pub params: serde_json::Value,
}

/// The S3Access implementation.
pub(crate) struct Access {
    pub(crate) shared: Arc<Shared>,
}

/// Compiled bucket policies, keyed by bucket name and checked against the stored text.
#[derive(Default)]
pub(crate) struct PolicyCache {
    entries: Mutex<HashMap<String, CachedPolicy>>,
}

#[derive(Clone)]
struct CachedPolicy {
    raw: Arc<str>,
    full: Arc<Policy>,
    /// Without public statements (RestrictPublicBuckets); `None` when nothing is left.
    restricted: Option<Arc<Policy>>,
}

impl PolicyCache {
    fn get(&self, bucket: &str, raw: &str) -> Result<CachedPolicy, ApiError> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = entries.get(bucket) {
            if &*c.raw == raw {
                return Ok(c.clone());
            }
        }
        let full = Policy::parse(raw, PolicyKind::Resource).map_err(|e| {
            ApiError::internal(format!(
                "stored bucket policy of {bucket} does not parse: {e}"
            ))
        })?;
        let restricted = public::without_public_statements(raw, &full).map(Arc::new);
        let entry = CachedPolicy {
            raw: raw.into(),
            full: Arc::new(full),
            restricted,
        };
        if entries.len() > 10_000 {
            entries.clear();
        }
        entries.insert(bucket.to_owned(), entry.clone());
        Ok(entry)
    }
}

/// The S3 actions only identities of the bucket owner's account may perform, whatever a bucket policy grants
/// another account: AWS's rule for the bucket policy calls (a caller that is allowed but outside the account
/// gets 405), which coffer extends to the two settings that decide whether a policy or an ACL may make the
/// bucket public (Block Public Access and Object Ownership), where AWS says nothing.
const OWNER_ACCOUNT_ONLY: [&str; 5] = [
    "s3:GetBucketPolicy",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketOwnershipControls",
];

/// The actions the bucket owner's root user may always perform, even against an explicit deny, so that no
/// policy can lock the owner out of their own bucket (AWS's rule).
const OWNER_ROOT_ALWAYS: [&str; 3] = [
    "s3:GetBucketPolicy",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
];

/// What [`decide`] found out while authorizing.
pub(crate) struct Decision {
    pub proof: api::Authorized,
    /// Every bucket a need named, as loaded for the decision.
    pub buckets: HashMap<String, Bucket>,
    /// The resources, for the audit event.
    pub resources: Vec<audit::Resource>,
}

/// The one authorization function of S3. Every permission a request needs goes through it: the checks of
/// each operation's hook, each key of a multi-object delete, every copy source, and the `s3:ListBucket`
/// question that decides whether a missing key is reported as missing.
///
/// For each need it loads the bucket, applies `x-amz-expected-bucket-owner`, takes the bucket policy as it
/// applies to this caller (Block Public Access's RestrictPublicBuckets), adds the request's condition keys
/// (`s3:authType`, `s3:signatureversion`, `s3:signatureAge`, `s3:x-amz-content-sha256`, the global keys) and
/// the need's own, fetches `s3:ExistingObjectTag/*` when a policy asks, applies the owner-account rules, and
/// evaluates everything through [`api::Core::authorize`].
pub(crate) fn decide(
    shared: &Shared,
    state: &RequestState,
    needs: &[Need],
    account_level: bool,
) -> Result<Decision, ApiError> {
    let ctx = state.ctx()?;
    let request_keys = state.lock().request_keys.clone();
    let mut buckets: HashMap<String, Bucket> = HashMap::new();
    let mut resources = Vec::new();
    let mut checks = Vec::with_capacity(needs.len());
    let mut outside_owner_account = false;
    for need in needs {
        let mut context = request_keys.clone();
        context.extend(need.context.iter().cloned());
        if account_level {
            let mut check = Check::own(need.action, need.resource(), &ctx.caller.account);
            check.context = context;
            checks.push(check);
            continue;
        }
        if !buckets.contains_key(&need.bucket) {
            let b = shared
                .objects
                .head_bucket(&need.bucket)
                .map_err(crate::error::from_object)?;
            buckets.insert(need.bucket.clone(), b);
        }
        let bucket = &buckets[&need.bucket];
        if need
            .expected_owner
            .as_deref()
            .is_some_and(|owner| owner != bucket.owner)
        {
            return Err(crate::error::access_denied());
        }
        resources.push(audit::Resource {
            resource_type: if need.key.is_some() {
                "AWS::S3::Object".into()
            } else {
                "AWS::S3::Bucket".into()
            },
            arn: need.resource(),
            account_id: bucket.owner.clone(),
        });
        let owner_account = ctx.caller.account == bucket.owner
            && !matches!(
                ctx.caller.kind,
                CallerKind::Anonymous | CallerKind::Service { .. }
            );
        if OWNER_ACCOUNT_ONLY.contains(&need.action) && !owner_account {
            outside_owner_account = true;
        }
        if owner_account
            && matches!(ctx.caller.kind, CallerKind::Root)
            && OWNER_ROOT_ALWAYS.contains(&need.action)
        {
            // The owner's root may always manage the bucket policy: no check to fail.
            continue;
        }
        let resource_policy = effective_policy(shared, bucket, &ctx.caller)?;
        if let Some((key, version)) = &need.existing_object {
            if policies_mention(
                shared,
                &ctx.caller,
                resource_policy.as_deref(),
                "s3:existingobjecttag/",
            )? {
                if let Ok((_, tags)) =
                    shared
                        .objects
                        .object_tagging(&bucket.name, key, version.as_deref())
                {
                    conditions::existing_tags(&tags, &mut context);
                }
            }
        }
        checks.push(Check {
            action: need.action.to_owned(),
            resource: need.resource(),
            resource_account: bucket.owner.clone(),
            resource_policy: resource_policy.map(|policy| ResourcePolicy {
                policy,
                required: false,
            }),
            context,
            granted: false,
        });
    }
    resources.dedup_by(|a, b| a.arn == b.arn);
    let proof = shared.core.authorize(S3_DENIAL, &ctx, &checks)?;
    if outside_owner_account {
        // Allowed by the policies, but only the owner's account may do this: S3's 405.
        return Err(ApiError::new(
            405,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        ));
    }
    Ok(Decision {
        proof,
        buckets,
        resources,
    })
}

/// Whether the caller may list `bucket` (`s3:ListBucket`): S3 tells a caller that may not whether a key
/// exists by answering 403 instead of 404.
pub(crate) fn may_list(shared: &Shared, state: &RequestState, bucket: &str) -> bool {
    decide(
        shared,
        state,
        &[Need::bucket("s3:ListBucket", bucket)],
        false,
    )
    .is_ok()
}

impl Access {
    /// Authorizes an operation's plan and stores the proof and the bucket in the request state.
    fn authorize(
        &self,
        ext: &http::Extensions,
        headers: &http::HeaderMap,
        plan: Result<OpPlan, ApiError>,
    ) -> Result<(), ApiError> {
        let state = RequestState::of(ext)?;
        let mut plan = plan?;
        state.lock().record.request_parameters = plan.params.clone();
        let expected = conditions::header(headers, "x-amz-expected-bucket-owner");
        let expected_source = conditions::header(headers, "x-amz-source-expected-bucket-owner");
        for need in &mut plan.needs {
            need.expected_owner = if need.copy_source {
                expected_source
            } else {
                expected
            }
            .map(str::to_owned);
        }
        let mut decision = decide(&self.shared, &state, &plan.needs, plan.account_level)?;
        // A plan may need nothing of the bucket itself (DeleteObjects authorizes each key later), but the
        // bucket must exist and be the expected owner's.
        if !plan.account_level {
            if let Some(name) = &plan.bucket {
                if !decision.buckets.contains_key(name) {
                    let b = self
                        .shared
                        .objects
                        .head_bucket(name)
                        .map_err(crate::error::from_object)?;
                    if expected.is_some_and(|owner| owner != b.owner) {
                        return Err(crate::error::access_denied());
                    }
                    decision.buckets.insert(name.clone(), b);
                }
            }
        }
        let mut s = state.lock();
        s.record.resources = decision.resources;
        if let Some(name) = &plan.bucket {
            s.bucket = decision.buckets.remove(name);
        }
        s.proof = Some(decision.proof);
        Ok(())
    }
}

/// The bucket policy as it applies to `caller`: RestrictPublicBuckets drops its public statements for
/// anonymous callers and callers outside the owner's account (AWS service principals keep them).
fn effective_policy(
    shared: &Shared,
    bucket: &Bucket,
    caller: &iam::Caller,
) -> Result<Option<Arc<Policy>>, ApiError> {
    let Some(raw) = &bucket.policy else {
        return Ok(None);
    };
    let cached = shared.policies.get(&bucket.name, raw)?;
    let restrict = bucket
        .public_access_block
        .is_some_and(|b| b.restrict_public_buckets);
    let outsider = match caller.kind {
        CallerKind::Service { .. } => false,
        CallerKind::Anonymous => true,
        _ => caller.account != bucket.owner,
    };
    if restrict && outsider && public::is_public_policy(&cached.full) {
        return Ok(cached.restricted);
    }
    Ok(Some(cached.full))
}

/// Whether the caller's identity policies or the bucket policy mention a condition key (prefix, lower
/// case) — to fetch object tags only when some policy can use them.
fn policies_mention(
    shared: &Shared,
    caller: &iam::Caller,
    bucket_policy: Option<&Policy>,
    key_prefix: &str,
) -> Result<bool, ApiError> {
    let mentions = |p: &Policy| {
        p.statements().iter().any(|s| {
            s.conditions()
                .iter()
                .any(|c| c.key().to_ascii_lowercase().starts_with(key_prefix))
        })
    };
    if bucket_policy.is_some_and(mentions) {
        return Ok(true);
    }
    let identity = shared
        .core
        .iam()
        .identity_policies(caller)
        .map_err(ApiError::internal)?;
    Ok(identity.iter().any(|p| mentions(p)))
}

/// Generates the S3Access impl: `check`, and one hook per supported operation calling its planner.
macro_rules! hooks {
    ($($op:ident: $input:ty => $planner:path;)*) => {
        #[async_trait::async_trait]
        impl S3Access for Access {
            async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
                self.identify(cx).map_err(to_s3)
            }

            $(
                async fn $op(&self, req: &mut S3Request<$input>) -> S3Result<()> {
                    let plan = $planner(&req.input, &req.headers);
                    self.authorize(&req.extensions, &req.headers, plan)
                        .map_err(to_s3)
                }
            )*
        }
    };
}

hooks! {
    create_bucket: CreateBucketInput => bucket::create_bucket;
    head_bucket: HeadBucketInput => bucket::head_bucket;
    delete_bucket: DeleteBucketInput => bucket::delete_bucket;
    list_buckets: ListBucketsInput => bucket::list_buckets;
    get_bucket_location: GetBucketLocationInput => bucket::get_bucket_location;
    get_bucket_versioning: GetBucketVersioningInput => bucket::get_bucket_versioning;
    put_bucket_versioning: PutBucketVersioningInput => bucket::put_bucket_versioning;
    get_bucket_encryption: GetBucketEncryptionInput => bucket::get_bucket_encryption;
    put_bucket_encryption: PutBucketEncryptionInput => bucket::put_bucket_encryption;
    delete_bucket_encryption: DeleteBucketEncryptionInput => bucket::delete_bucket_encryption;
    get_bucket_policy: GetBucketPolicyInput => bucket::get_bucket_policy;
    put_bucket_policy: PutBucketPolicyInput => bucket::put_bucket_policy;
    delete_bucket_policy: DeleteBucketPolicyInput => bucket::delete_bucket_policy;
    get_bucket_policy_status: GetBucketPolicyStatusInput => bucket::get_bucket_policy_status;
    get_public_access_block: GetPublicAccessBlockInput => bucket::get_public_access_block;
    put_public_access_block: PutPublicAccessBlockInput => bucket::put_public_access_block;
    delete_public_access_block: DeletePublicAccessBlockInput => bucket::delete_public_access_block;
    get_bucket_ownership_controls: GetBucketOwnershipControlsInput => bucket::get_bucket_ownership_controls;
    put_bucket_ownership_controls: PutBucketOwnershipControlsInput => bucket::put_bucket_ownership_controls;
    delete_bucket_ownership_controls: DeleteBucketOwnershipControlsInput => bucket::delete_bucket_ownership_controls;
    get_bucket_cors: GetBucketCorsInput => bucket::get_bucket_cors;
    put_bucket_cors: PutBucketCorsInput => bucket::put_bucket_cors;
    delete_bucket_cors: DeleteBucketCorsInput => bucket::delete_bucket_cors;
    get_bucket_tagging: GetBucketTaggingInput => bucket::get_bucket_tagging;
    put_bucket_tagging: PutBucketTaggingInput => bucket::put_bucket_tagging;
    delete_bucket_tagging: DeleteBucketTaggingInput => bucket::delete_bucket_tagging;
    get_bucket_acl: GetBucketAclInput => bucket::get_bucket_acl;
    put_bucket_acl: PutBucketAclInput => bucket::put_bucket_acl;
    list_objects: ListObjectsInput => bucket::list_objects;
    list_objects_v2: ListObjectsV2Input => bucket::list_objects_v2;
    list_object_versions: ListObjectVersionsInput => bucket::list_object_versions;
    list_multipart_uploads: ListMultipartUploadsInput => bucket::list_multipart_uploads;
    put_object: PutObjectInput => object::put_object;
    get_object: GetObjectInput => object::get_object;
    head_object: HeadObjectInput => object::head_object;
    delete_object: DeleteObjectInput => object::delete_object;
    delete_objects: DeleteObjectsInput => object::delete_objects;
    copy_object: CopyObjectInput => object::copy_object;
    get_object_tagging: GetObjectTaggingInput => object::get_object_tagging;
    put_object_tagging: PutObjectTaggingInput => object::put_object_tagging;
    delete_object_tagging: DeleteObjectTaggingInput => object::delete_object_tagging;
    get_object_attributes: GetObjectAttributesInput => object::get_object_attributes;
    get_object_acl: GetObjectAclInput => object::get_object_acl;
    put_object_acl: PutObjectAclInput => object::put_object_acl;
    create_multipart_upload: CreateMultipartUploadInput => object::create_multipart_upload;
    upload_part: UploadPartInput => object::upload_part;
    upload_part_copy: UploadPartCopyInput => object::upload_part_copy;
    complete_multipart_upload: CompleteMultipartUploadInput => object::complete_multipart_upload;
    abort_multipart_upload: AbortMultipartUploadInput => object::abort_multipart_upload;
    list_parts: ListPartsInput => object::list_parts;
}
