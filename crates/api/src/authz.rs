//! Authorization of a plan's checks with AWS's evaluation logic, and AWS's AccessDenied messages.

use iam::Iam;
use policy::{AuthzInput, Policy, Request};

use crate::context::RequestContext;
use crate::error::ApiError;
use crate::service::Check;

/// How a service words an authorization failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DenialStyle {
    /// `AccessDenied` (Query, REST) or `AccessDeniedException` (JSON services).
    pub code: &'static str,
    pub status: u16,
    /// S3 tells anonymous callers only "Access Denied".
    pub terse_for_anonymous: bool,
}

/// Allows the request only if every check is allowed; the first denial becomes the service's AccessDenied error
/// with AWS's message (who, what, which resource, which kind of policy decided), never the policy text.
pub fn authorize(
    iam: &Iam,
    style: DenialStyle,
    ctx: &RequestContext,
    checks: &[Check],
) -> Result<(), ApiError> {
    if checks.is_empty() {
        return Ok(());
    }
    let identity = iam
        .identity_policies(&ctx.caller)
        .map_err(ApiError::internal)?;
    let identity: Vec<&Policy> = identity.iter().map(|p| p.as_ref()).collect();
    let session = ctx
        .caller
        .session
        .as_ref()
        .and_then(|s| s.policy.as_deref());
    let principal = ctx.caller.as_policy_principal();
    let base = ctx.policy_context();
    for check in checks {
        let extended;
        let context = if check.context.is_empty() {
            &base
        } else {
            let mut c = base.clone();
            for (k, v) in &check.context {
                c.insert_multi(k, v.clone());
            }
            extended = c;
            &extended
        };
        let request = Request {
            principal: &principal,
            action: &check.action,
            resource: &check.resource,
            context,
        };
        let input = AuthzInput {
            request,
            identity_policies: &identity,
            session_policy: session,
            resource_policy: check.resource_policy.as_ref().map(|r| r.policy.as_ref()),
            resource_account: &check.resource_account,
            resource_policy_required: check.resource_policy.as_ref().is_some_and(|r| r.required),
        };
        let decision = policy::authorize(&input);
        if !decision.allowed && check.granted && !decision.reason.is_explicit_deny() {
            continue;
        }
        if !decision.allowed {
            let message = if style.terse_for_anonymous && ctx.caller.account.is_empty() {
                // S3 tells anonymous callers nothing beyond the code.
                "Access Denied".to_owned()
            } else {
                decision.denial_message(&input.request)
            };
            return Err(ApiError::new(style.status, style.code, message));
        }
    }
    Ok(())
}
