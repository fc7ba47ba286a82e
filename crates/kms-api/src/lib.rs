//! AWS KMS on the shared endpoint, speaking JSON 1.1 (`X-Amz-Target: TrentService.<Op>`).
//!
//! Each request is decoded into an [`api::Plan`] naming exactly the permissions AWS checks for the operation:
//! `kms:<Op>` on the key's ARN with the key policy as a *required* resource policy (IAM policies count only when
//! the key policy delegates to the account), grants as an extra way in, and KMS's condition keys. Only after
//! the dispatcher has authorized the plan does anything touch the [`kms::Kms`] engine's state — so a caller
//! without permission learns nothing about a key's state. Handlers are split by resource: keys, aliases, tags,
//! key policies, cryptography, grants, rotation and multi-Region keys. [`KmsClient`] lets other services of
//! the process call KMS on a caller's behalf through the same path.

mod aliases;
mod authz;
mod client;
mod crypto;
mod grants;
mod input;
mod keys;
mod multi_region;
mod policies;
mod rotation;
mod tags;
mod trail;
mod usage;
mod wire;

use api::{ApiError, Authorized, Call, Plan, Protocol, Reply, Service};
use iam::Iam;
use kms::{Kms, KmsError};

pub use client::{DataKey, DataKeySpec, Decrypted, DispatcherHandle, KmsClient};

use crate::authz::Req;
use crate::input::Body;

const TARGET_PREFIX: &str = "TrentService.";

/// Every operation served, with whether CloudTrail marks it read-only (KMS's cryptographic operations are
/// read-only management events in CloudTrail).
const OPERATIONS: &[(&str, bool)] = &[
    ("CreateKey", false),
    ("DescribeKey", true),
    ("ListKeys", true),
    ("UpdateKeyDescription", false),
    ("EnableKey", false),
    ("DisableKey", false),
    ("ScheduleKeyDeletion", false),
    ("CancelKeyDeletion", false),
    ("CreateAlias", false),
    ("UpdateAlias", false),
    ("DeleteAlias", false),
    ("ListAliases", true),
    ("TagResource", false),
    ("UntagResource", false),
    ("ListResourceTags", true),
    ("PutKeyPolicy", false),
    ("GetKeyPolicy", true),
    ("ListKeyPolicies", true),
    ("Encrypt", true),
    ("Decrypt", true),
    ("ReEncrypt", true),
    ("GenerateDataKey", true),
    ("GenerateDataKeyWithoutPlaintext", true),
    ("GenerateRandom", true),
    ("CreateGrant", false),
    ("ListGrants", true),
    ("ListRetirableGrants", true),
    ("RetireGrant", false),
    ("RevokeGrant", false),
    ("EnableKeyRotation", false),
    ("DisableKeyRotation", false),
    ("GetKeyRotationStatus", true),
    ("RotateKeyOnDemand", false),
    ("ListKeyRotations", true),
    ("ReplicateKey", false),
    ("UpdatePrimaryRegion", false),
];

/// A decoded request, carried from `plan` to `execute`.
pub(crate) enum Input {
    Keys(keys::Op),
    Aliases(aliases::Op),
    Tags(tags::Op),
    Policies(policies::Op),
    Crypto(crypto::Op),
    Grants(grants::Op),
    Rotation(rotation::Op),
    MultiRegion(multi_region::Op),
    /// A request of a known operation that cannot be carried out (bad input, unknown key). It needs no
    /// permission, does nothing, and fails with this error in `execute`, so CloudTrail records it under its operation.
    Failed(ApiError),
}

/// What `plan` hands to `execute`: the operation's input and the key it uses (for the usage metrics).
pub(crate) struct Decoded {
    key_id: Option<String>,
    input: Input,
}

/// The KMS service (`kms.amazonaws.com`).
pub struct KmsService {
    pub(crate) kms: Kms,
    pub(crate) iam: Iam,
    usage: usage::Usage,
}

impl KmsService {
    pub fn new(kms: Kms, iam: Iam) -> Self {
        Self {
            kms,
            iam,
            usage: usage::Usage::default(),
        }
    }

    /// Per-key, per-operation request counts in Prometheus text format, for `/metrics`.
    pub fn metrics_text(&self) -> String {
        self.usage.render()
    }
}

/// The wire error of an engine failure: the engine's messages are written to be sent.
pub(crate) fn engine_error(e: KmsError) -> ApiError {
    match e {
        KmsError::Internal(_) | KmsError::Storage(_) => {
            let mut err = ApiError::internal(&e);
            err.code = "KMSInternalException".into();
            err
        }
        _ => ApiError::new(e.status(), e.code(), e.to_string()),
    }
}

fn unknown_operation(target: &str) -> ApiError {
    ApiError::bad_request(
        "UnknownOperationException",
        format!("Unknown operation {target}"),
    )
}

#[async_trait::async_trait]
impl Service for KmsService {
    fn signing_name(&self) -> &'static str {
        "kms"
    }

    fn event_source(&self) -> &'static str {
        "kms.amazonaws.com"
    }

    fn protocol(&self) -> Protocol {
        Protocol::Json
    }

    fn access_denied_code(&self) -> &'static str {
        "AccessDeniedException"
    }

    fn access_denied_status(&self) -> u16 {
        400
    }

    async fn plan(&self, call: &Call) -> Result<Plan, ApiError> {
        let target = call
            .parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let name = target.strip_prefix(TARGET_PREFIX).unwrap_or_default();
        let Some(&(operation, read_only)) = OPERATIONS.iter().find(|(op, _)| *op == name) else {
            return Err(unknown_operation(target));
        };
        if call.ctx.caller.account.is_empty() && call.ctx.source_account.is_none() {
            return Err(ApiError::bad_request(
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            ));
        }
        let body = match Body::parse(&call.body) {
            Ok(b) => b,
            Err(e) => return Ok(failed(operation, read_only, e, serde_json::Value::Null)),
        };
        let params = trail::record(body.members());
        let req = Req {
            kms: &self.kms,
            call,
            body,
            operation,
        };
        let planned = keys::plan(&req)
            .or_else(|| aliases::plan(&req))
            .or_else(|| tags::plan(&req))
            .or_else(|| policies::plan(&req))
            .or_else(|| crypto::plan(&req))
            .or_else(|| grants::plan(&req))
            .or_else(|| rotation::plan(&req))
            .or_else(|| multi_region::plan(&req))
            .unwrap_or_else(|| Err(unknown_operation(target)));
        Ok(match planned {
            Ok(p) => p.into_plan(operation, read_only, params),
            Err(e) => failed(operation, read_only, e, params),
        })
    }

    async fn execute(
        &self,
        call: &Call,
        plan: Plan,
        _proof: Authorized,
    ) -> Result<Reply, ApiError> {
        let operation = plan.operation;
        let Decoded { key_id, input } = plan.take_input()?;
        if key_id.is_some() {
            self.usage.record(operation);
        }
        match input {
            Input::Keys(op) => keys::execute(self, call, op).await,
            Input::Aliases(op) => aliases::execute(self, call, op).await,
            Input::Tags(op) => tags::execute(self, call, op).await,
            Input::Policies(op) => policies::execute(self, call, op).await,
            Input::Crypto(op) => crypto::execute(self, call, op).await,
            Input::Grants(op) => grants::execute(self, call, op).await,
            Input::Rotation(op) => rotation::execute(self, call, op).await,
            Input::MultiRegion(op) => multi_region::execute(self, call, op).await,
            Input::Failed(e) => Err(e),
        }
    }
}

/// The plan of a request that fails before it could do anything: no permission to check, nothing to run.
fn failed(
    operation: &'static str,
    read_only: bool,
    err: ApiError,
    params: serde_json::Value,
) -> Plan {
    Plan::new(
        operation,
        read_only,
        Vec::new(),
        Decoded {
            key_id: None,
            input: Input::Failed(err),
        },
    )
    .with_parameters(params)
}
