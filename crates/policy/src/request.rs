//! The request being authorized: who is calling, what action on which resource, and with what context.

use crate::context::Context;

/// What sort of principal made the request; it decides which policy principals can match it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// An unsigned request; only `"*"` principals match it.
    Anonymous,
    /// The account's root user, `arn:aws:iam::<account>:root`.
    Root,
    /// An IAM user.
    User,
    /// A role session; `arn` is the `arn:aws:sts::…:assumed-role/R/S` session ARN, `role_arn` the role.
    AssumedRole,
    /// A federated user or web/SAML identity.
    FederatedUser,
    /// An AWS service principal; `arn` is the service name, e.g. `cloudfront.amazonaws.com`.
    Service,
}

/// The caller, as established by authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal<'a> {
    pub kind: PrincipalKind,
    pub arn: &'a str,
    pub account: &'a str,
    /// For assumed-role sessions, the ARN of the role (with its path); it matches role-ARN principals.
    pub role_arn: Option<&'a str>,
}

/// One authorization question: may `principal` perform `action` on `resource`, given `context`?
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub principal: &'a Principal<'a>,
    /// `service:Action`, e.g. `s3:GetObject`; compared case-insensitively.
    pub action: &'a str,
    /// The resource ARN; may be empty for actions without a resource (e.g. `sts:AssumeRole` trust checks).
    pub resource: &'a str,
    pub context: &'a Context,
}
