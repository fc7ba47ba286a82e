//! The seam between the dispatcher and each AWS service: a service decodes a request into a [`Plan`] (what it
//! wants to do and which permissions that needs), and runs it only with the dispatcher's [`Authorized`] proof.

use std::any::Any;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use policy::Policy;

use crate::context::RequestContext;
use crate::error::{ApiError, Protocol};

/// A request as a service sees it: its context, its head, and its (signature-verified) body.
#[derive(Debug)]
pub struct Call {
    pub ctx: RequestContext,
    pub parts: http::request::Parts,
    pub body: Bytes,
}

/// A resource-based policy to evaluate with a check: a bucket policy, a key policy, a role's trust policy.
#[derive(Debug, Clone)]
pub struct ResourcePolicy {
    pub policy: Arc<Policy>,
    /// When true (KMS key policies), identity policies count only if this policy delegates to the account.
    pub required: bool,
}

/// One permission the operation needs: `action` on `resource`, with the resource's owner and policy.
#[derive(Debug, Clone)]
pub struct Check {
    pub action: String,
    pub resource: String,
    /// The account that owns the resource; decides same-account versus cross-account evaluation.
    pub resource_account: String,
    pub resource_policy: Option<ResourcePolicy>,
    /// Service-specific condition keys (`s3:prefix`, `kms:EncryptionContext:…`), added to the global ones.
    pub context: Vec<(String, Vec<String>)>,
    /// A grant outside the policy language (a KMS grant) allows this request. It allows what the policies
    /// leave implicitly denied; an explicit deny in any policy still wins, as in AWS.
    pub granted: bool,
}

impl Check {
    /// A check against a resource of the caller's own account that has no resource policy (IAM entities…).
    pub fn own(action: impl Into<String>, resource: impl Into<String>, account: &str) -> Self {
        Self {
            action: action.into(),
            resource: resource.into(),
            resource_account: account.to_owned(),
            resource_policy: None,
            context: Vec::new(),
            granted: false,
        }
    }
}

/// What a request will do, decided before anything is done.
pub struct Plan {
    /// The AWS operation name (`CreateUser`), the audit trail's eventName.
    pub operation: &'static str,
    pub read_only: bool,
    /// Data events (S3 object reads/writes, KMS crypto) versus management events.
    pub management: bool,
    /// Every permission the operation needs; all must be allowed. Empty means none is needed
    /// (`sts:GetCallerIdentity`, as in AWS).
    pub checks: Vec<Check>,
    /// The request as CloudTrail records it — never secrets, plaintext or ciphertext.
    pub request_parameters: serde_json::Value,
    pub resources: Vec<audit::Resource>,
    /// The decoded input, for the service's `execute` to take back.
    pub input: Box<dyn Any + Send + Sync>,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("operation", &self.operation)
            .field("checks", &self.checks)
            .finish_non_exhaustive()
    }
}

impl Plan {
    /// A plan for a management operation with the given checks and decoded input.
    pub fn new(
        operation: &'static str,
        read_only: bool,
        checks: Vec<Check>,
        input: impl Any + Send + Sync,
    ) -> Self {
        Self {
            operation,
            read_only,
            management: true,
            checks,
            request_parameters: serde_json::Value::Null,
            resources: Vec::new(),
            input: Box::new(input),
        }
    }

    pub fn with_parameters(mut self, params: serde_json::Value) -> Self {
        self.request_parameters = params;
        self
    }

    /// Takes back the decoded input; a mismatch is a bug in the service, reported as an internal error.
    pub fn take_input<T: Any>(self) -> Result<T, ApiError> {
        self.input.downcast::<T>().map(|b| *b).map_err(|_| {
            ApiError::internal(format!(
                "plan input of {} has the wrong type",
                self.operation
            ))
        })
    }
}

/// Proof that the dispatcher authorized a plan. Only this crate can make one, so no service operation can run
/// without passing through [`crate::Dispatcher`].
#[derive(Debug)]
pub struct Authorized {
    _private: (),
}

impl Authorized {
    pub(crate) fn new() -> Self {
        Self { _private: () }
    }
}

/// A successful response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    /// The response as CloudTrail records it (never secrets).
    pub response_elements: serde_json::Value,
    /// CloudTrail's `additionalEventData` (e.g. KMS's `keyMaterialId`), never secrets.
    pub additional_event_data: Option<serde_json::Value>,
}

impl Reply {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            headers: vec![(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(content_type),
            )],
            body: body.into(),
            response_elements: serde_json::Value::Null,
            additional_event_data: None,
        }
    }

    pub fn with_response_elements(mut self, v: serde_json::Value) -> Self {
        self.response_elements = v;
        self
    }

    pub fn with_additional_event_data(mut self, v: serde_json::Value) -> Self {
        self.additional_event_data = Some(v);
        self
    }
}

/// An AWS service on the shared endpoint.
#[async_trait::async_trait]
pub trait Service: Send + Sync + 'static {
    /// The signing name in the credential scope (`iam`, `sts`, `kms`, `s3`, `cloudfront`, `cloudtrail`).
    fn signing_name(&self) -> &'static str;
    /// CloudTrail's eventSource, e.g. `iam.amazonaws.com`.
    fn event_source(&self) -> &'static str;
    fn protocol(&self) -> Protocol;
    /// The error code this service uses for an authorization failure (`AccessDenied`, `AccessDeniedException`).
    fn access_denied_code(&self) -> &'static str {
        "AccessDenied"
    }
    /// The HTTP status of an authorization failure.
    fn access_denied_status(&self) -> u16 {
        403
    }
    /// Decodes the request into a plan. Must have no side effects: nothing has been authorized yet.
    async fn plan(&self, call: &Call) -> Result<Plan, ApiError>;
    /// Runs an authorized plan.
    async fn execute(&self, call: &Call, plan: Plan, proof: Authorized) -> Result<Reply, ApiError>;
}
