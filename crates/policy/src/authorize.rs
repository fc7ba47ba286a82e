//! AWS's combined evaluation: identity, session and resource policies together, including cross-account
//! access and KMS-style key policies that must grant (or delegate) before IAM policies count.

use crate::policy::{Policy, Scan};
use crate::request::{PrincipalKind, Request};

/// Everything the decision depends on.
#[derive(Debug, Clone, Copy)]
pub struct AuthzInput<'a> {
    pub request: Request<'a>,
    /// The principal's identity-based policies (user or role, inline and attached); empty for anonymous and
    /// service principals.
    pub identity_policies: &'a [&'a Policy],
    /// The STS session policy, if the session was created with one.
    pub session_policy: Option<&'a Policy>,
    /// The bucket policy, key policy or role trust policy.
    pub resource_policy: Option<&'a Policy>,
    /// The account that owns the resource.
    pub resource_account: &'a str,
    /// True for KMS keys: IAM policies grant nothing unless the key policy allows the caller or delegates to
    /// the caller's account.
    pub resource_policy_required: bool,
}

/// Why access was granted or refused; enough to build AWS's AccessDenied message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    Allowed,
    ExplicitDenyIdentity,
    ExplicitDenySession,
    ExplicitDenyResource,
    /// No identity-based policy allows the action (and no resource policy grants it on its own).
    NoIdentityAllow,
    /// The resource policy neither grants nor delegates the action (cross-account, key policies, anonymous and
    /// service callers).
    NoResourceAllow,
    /// Identity or role-level permissions allow the action but the session policy does not.
    NoSessionAllow,
}

impl Reason {
    /// The tail of AWS's AccessDenied message, e.g. `because no identity-based policy allows the s3:GetObject
    /// action` or `with an explicit deny in a resource-based policy`; empty for `Allowed`.
    pub fn phrase(&self, action: &str) -> String {
        match self {
            Reason::Allowed => String::new(),
            Reason::ExplicitDenyIdentity => {
                "with an explicit deny in an identity-based policy".to_owned()
            }
            Reason::ExplicitDenySession => "with an explicit deny in a session policy".to_owned(),
            Reason::ExplicitDenyResource => {
                "with an explicit deny in a resource-based policy".to_owned()
            }
            Reason::NoIdentityAllow => {
                format!("because no identity-based policy allows the {action} action")
            }
            Reason::NoResourceAllow => {
                format!("because no resource-based policy allows the {action} action")
            }
            Reason::NoSessionAllow => {
                format!("because no session policy allows the {action} action")
            }
        }
    }

    pub fn is_explicit_deny(&self) -> bool {
        matches!(
            self,
            Reason::ExplicitDenyIdentity
                | Reason::ExplicitDenySession
                | Reason::ExplicitDenyResource
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decision {
    pub allowed: bool,
    pub reason: Reason,
}

impl Decision {
    /// AWS's full AccessDenied message for this request, e.g. `User: arn:aws:iam::1:user/a is not authorized to
    /// perform: s3:GetObject on resource: arn:aws:s3:::b/k because no identity-based policy allows the
    /// s3:GetObject action`.
    pub fn denial_message(&self, req: &Request<'_>) -> String {
        let who = match req.principal.kind {
            PrincipalKind::Anonymous => "anonymous",
            _ => req.principal.arn,
        };
        let mut msg = format!("User: {who} is not authorized to perform: {}", req.action);
        if !req.resource.is_empty() {
            msg.push_str(" on resource: ");
            msg.push_str(req.resource);
        }
        let tail = self.reason.phrase(req.action);
        if !tail.is_empty() {
            msg.push(' ');
            msg.push_str(&tail);
        }
        msg
    }
}

fn deny(reason: Reason) -> Decision {
    Decision {
        allowed: false,
        reason,
    }
}

/// Decides a request the way AWS does: an explicit deny anywhere wins; otherwise the identity, session and
/// resource policies must together allow it, with the cross-account and key-policy rules described on
/// [`AuthzInput`].
///
/// The account root (`PrincipalKind::Root`) has no identity policies and holds every permission of its
/// account implicitly, as in AWS; key policies and cross-account resource policies still have to admit it.
pub fn authorize(input: &AuthzInput<'_>) -> Decision {
    let req = &input.request;
    let principal = req.principal;

    // Explicit denies first: nothing else matters once one applies.
    let mut identity = false;
    for policy in input.identity_policies {
        let scan = policy.scan(req);
        if scan.deny {
            return deny(Reason::ExplicitDenyIdentity);
        }
        identity |= scan.allows();
    }
    let session = input.session_policy.map(|p| p.scan(req));
    if session.is_some_and(|s| s.deny) {
        return deny(Reason::ExplicitDenySession);
    }
    let resource = input
        .resource_policy
        .map(|p| p.scan(req))
        .unwrap_or_default();
    if resource.deny {
        return deny(Reason::ExplicitDenyResource);
    }

    let iam_caller = !matches!(
        principal.kind,
        PrincipalKind::Anonymous | PrincipalKind::Service
    );
    if !iam_caller {
        // Anonymous and service callers have no identity: only a resource policy naming them can grant.
        return if resource.allow_direct {
            allow()
        } else {
            deny(Reason::NoResourceAllow)
        };
    }
    let identity = identity || principal.kind == PrincipalKind::Root;
    let session_ok = session.is_none_or(|s| s.allows());
    let identity_effective = identity && session_ok;
    let cross_account = principal.account != input.resource_account;

    let allowed = if cross_account {
        // Both sides must agree: the caller's account through IAM, the owner through the resource policy.
        identity_effective && resource.allows()
    } else if input.resource_policy_required {
        granted_by_resource(&resource, session_ok) || (resource.allow_account && identity_effective)
    } else {
        identity_effective || granted_by_resource(&resource, session_ok)
    };
    if allowed {
        return allow();
    }
    deny(implicit_deny_reason(
        &resource,
        identity,
        session_ok,
        input.resource_policy_required,
    ))
}

fn allow() -> Decision {
    Decision {
        allowed: true,
        reason: Reason::Allowed,
    }
}

/// A resource policy grants on its own when it names the caller itself; naming the caller's role grants too,
/// but that grant is part of the role's permissions, which a session policy limits.
fn granted_by_resource(resource: &Scan, session_ok: bool) -> bool {
    resource.allow_direct || (resource.allow_role && session_ok)
}

/// Picks the policy type to blame for an implicit deny, matching the message AWS would give.
fn implicit_deny_reason(resource: &Scan, identity: bool, session_ok: bool, key: bool) -> Reason {
    // A key policy that neither grants nor delegates is the whole story: IAM could not have helped.
    if key && !resource.allows() {
        return Reason::NoResourceAllow;
    }
    if (identity || resource.allow_role) && !session_ok {
        return Reason::NoSessionAllow;
    }
    if !identity {
        return Reason::NoIdentityAllow;
    }
    // Identity (and session) allowed, so what is missing is the owner's consent (cross-account).
    Reason::NoResourceAllow
}
