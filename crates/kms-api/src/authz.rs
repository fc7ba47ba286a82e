//! Forming a KMS request's permission checks: which key it names (resolved without side effects), which ARN
//! each check is on, the key policy that must allow it, whether a grant does, and the condition keys AWS sets —
//! plus the key policy lockout safety check run before a new policy is stored.

use api::{ApiError, Call, Check, Plan, RequestContext, ResourcePolicy};
use iam::{CallerKind, Iam};
use kms::{KeyRecord, Kms};
use policy::{AuthzInput, Policy};
use serde_json::Value;

use crate::input::{Body, EncryptionContext};
use crate::{engine_error, Decoded, Input};

/// Operations whose checks carry `kms:RequestAlias` when the request named the key by an alias.
const REQUEST_ALIAS_ACTIONS: &[&str] = &[
    "Decrypt",
    "DescribeKey",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
];

/// Condition keys added to a check.
pub(crate) type Conditions = Vec<(String, Vec<String>)>;

/// One condition key with one value.
pub(crate) fn cond(key: impl Into<String>, value: impl Into<String>) -> (String, Vec<String>) {
    (key.into(), vec![value.into()])
}

/// `kms:EncryptionContext:<key>` for every pair and `kms:EncryptionContextKeys`, as KMS sets them.
pub(crate) fn context_conditions(ctx: &EncryptionContext) -> Conditions {
    let mut out: Conditions = ctx
        .iter()
        .map(|(k, v)| cond(format!("kms:EncryptionContext:{k}"), v.clone()))
        .collect();
    if !ctx.is_empty() {
        out.push((
            "kms:EncryptionContextKeys".into(),
            ctx.keys().cloned().collect(),
        ));
    }
    out
}

/// `aws:RequestTag/<key>` for every tag and `aws:TagKeys`.
pub(crate) fn tag_conditions(tags: &[(String, String)]) -> Conditions {
    let mut out: Conditions = tags
        .iter()
        .map(|(k, v)| cond(format!("aws:RequestTag/{k}"), v.clone()))
        .collect();
    if !tags.is_empty() {
        out.push((
            "aws:TagKeys".into(),
            tags.iter().map(|(k, _)| k.clone()).collect(),
        ));
    }
    out
}

/// A request being planned: the engine (for read-only lookups), the call and its decoded body.
pub(crate) struct Req<'a> {
    pub kms: &'a Kms,
    pub call: &'a Call,
    pub body: Body,
    pub operation: &'static str,
}

/// A key a request names: its snapshot and, when it was named by an alias, the alias name.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub key: KeyRecord,
    pub alias: Option<String>,
}

/// How a request uses a key beyond the operation: the encryption context it binds (for the condition keys and
/// grant constraints) and operation-specific condition keys.
#[derive(Debug, Default)]
pub(crate) struct KeyUse<'a> {
    pub context: Option<&'a EncryptionContext>,
    pub extra: Conditions,
}

impl<'a> Req<'a> {
    pub fn ctx(&self) -> &RequestContext {
        &self.call.ctx
    }

    /// The account whose namespace ids and alias names resolve in: the caller's, or — for a service principal
    /// acting for a resource — the resource's account.
    pub fn account(&self) -> &str {
        let ctx = self.ctx();
        if ctx.caller.account.is_empty() {
            ctx.source_account.as_deref().unwrap_or_default()
        } else {
            &ctx.caller.account
        }
    }

    pub fn region(&self) -> &str {
        &self.ctx().region
    }

    /// Resolves a key id, key ARN, alias name or alias ARN.
    pub fn resolve(&self, key_ref: &str) -> Result<Target, ApiError> {
        let key = self
            .kms
            .resolve(self.account(), self.region(), key_ref)
            .map_err(engine_error)?;
        Ok(Target {
            key,
            alias: alias_of(key_ref),
        })
    }

    /// The key named by the required member `member`.
    pub fn key(&self, member: &str) -> Result<Target, ApiError> {
        let key_ref = self.body.key_id(member)?;
        self.resolve(&key_ref)
    }

    /// The condition keys every KMS check carries: `kms:CallerAccount` and, through a service, `kms:ViaService`.
    pub fn common_conditions(&self) -> Conditions {
        let ctx = self.ctx();
        let mut out = Conditions::new();
        if !ctx.caller.account.is_empty() {
            out.push(cond("kms:CallerAccount", ctx.caller.account.clone()));
        }
        if let Some(via) = &ctx.via {
            out.push(cond("kms:ViaService", via.service_endpoint.clone()));
        }
        out
    }

    /// `kms:<action>` on `*` or an alias ARN of the caller's account: IAM policies alone decide.
    pub fn identity_check(&self, action: &str, resource: &str, extra: Conditions) -> Check {
        let mut check = Check::own(format!("kms:{action}"), resource, self.account());
        check.context = self.common_conditions();
        check.context.extend(extra);
        check
    }

    /// `kms:<action>` on the target key: the key policy must allow it (or delegate to IAM), or a grant for the
    /// action must; the key's attributes, the request's alias and context are condition keys.
    pub fn key_check(
        &self,
        target: &Target,
        action: &str,
        key_use: KeyUse<'_>,
    ) -> Result<Check, ApiError> {
        let key = &target.key;
        let policy = self.kms.key_policy(key).map_err(engine_error)?;
        let mut context = self.common_conditions();
        context.extend(key_conditions(key));
        if let (Some(alias), true) = (&target.alias, REQUEST_ALIAS_ACTIONS.contains(&action)) {
            context.push(cond("kms:RequestAlias", alias.clone()));
        }
        let empty = EncryptionContext::new();
        let enc_ctx = key_use.context.unwrap_or(&empty);
        if key_use.context.is_some() {
            context.extend(context_conditions(enc_ctx));
        }
        context.extend(key_use.extra);
        let granted =
            kms::GRANT_OPERATIONS.contains(&action) && self.grant_allows(key, action, enc_ctx);
        Ok(Check {
            action: format!("kms:{action}"),
            resource: key.arn().to_owned(),
            resource_account: key.account().to_owned(),
            resource_policy: Some(ResourcePolicy {
                policy,
                required: true,
            }),
            context,
            granted,
        })
    }

    /// The caller as a grant can name it: its ARN and, for a role session, the role's ARN. `None` for callers
    /// no grant names — anonymous callers and service principals (which act for resources of every account, so
    /// a grant to one would serve them all).
    fn grantee(&self) -> Option<(&str, Option<&str>)> {
        let caller = &self.ctx().caller;
        match &caller.kind {
            CallerKind::Anonymous | CallerKind::Service { .. } => None,
            CallerKind::AssumedRole { role_arn, .. } => Some((&caller.arn, Some(role_arn))),
            CallerKind::Root | CallerKind::User { .. } => Some((&caller.arn, None)),
        }
    }

    /// Whether a grant on `key` gives the caller `operation` with this encryption context (never CreateGrant
    /// or RetireGrant: see [`Req::grant_allows_create_grant`] and RetireGrant's own check).
    pub fn grant_allows(&self, key: &KeyRecord, operation: &str, ctx: &EncryptionContext) -> bool {
        self.grantee()
            .is_some_and(|(arn, role)| self.kms.grant_allows(key, arn, role, operation, ctx))
    }

    /// Whether a grant on `key` lets the caller create `new`: a grant of the caller's that includes CreateGrant
    /// and every operation of `new`, whose constraints `new` keeps or tightens.
    pub fn grant_allows_create_grant(&self, key: &KeyRecord, new: &kms::CreateGrantInput) -> bool {
        self.grantee()
            .is_some_and(|(arn, role)| self.kms.grant_allows_create_grant(key, arn, role, new))
    }
}

/// The condition keys describing a key: `kms:KeySpec`, `kms:KeyUsage`, `kms:KeyOrigin`, `kms:MultiRegion`,
/// `kms:MultiRegionKeyType` and `aws:ResourceTag/<key>`.
fn key_conditions(key: &KeyRecord) -> Conditions {
    let k = &key.key;
    let mut out = vec![
        cond("kms:KeySpec", k.key_spec.clone()),
        cond("kms:KeyUsage", k.key_usage.clone()),
        cond("kms:KeyOrigin", k.origin.clone()),
        cond(
            "kms:MultiRegion",
            if k.multi_region { "true" } else { "false" },
        ),
    ];
    if k.multi_region {
        out.push(cond(
            "kms:MultiRegionKeyType",
            if key.is_primary() {
                "PRIMARY"
            } else {
                "REPLICA"
            },
        ));
    }
    for t in key.tags() {
        out.push(cond(format!("aws:ResourceTag/{}", t.key), t.value.clone()));
    }
    out
}

/// The alias a key reference names, if it is an alias name or alias ARN.
fn alias_of(key_ref: &str) -> Option<String> {
    if key_ref.starts_with("alias/") {
        return Some(key_ref.to_owned());
    }
    let resource = key_ref.strip_prefix("arn:")?.splitn(5, ':').nth(4)?;
    resource.starts_with("alias/").then(|| resource.to_owned())
}

/// What a handler decides while planning: checks, the keys the request is about (audit resources) and its
/// decoded input.
pub(crate) struct Planned {
    checks: Vec<Check>,
    resources: Vec<audit::Resource>,
    key_id: Option<String>,
    input: Input,
    params: Vec<(&'static str, Value)>,
}

impl Planned {
    pub fn new(input: Input) -> Self {
        Self {
            checks: Vec::new(),
            resources: Vec::new(),
            key_id: None,
            input,
            params: Vec::new(),
        }
    }

    pub fn check(mut self, check: Check) -> Self {
        self.checks.push(check);
        self
    }

    /// Names a key the request is about: a CloudTrail resource, and (the first) the key its usage counts for.
    pub fn on_key(mut self, key: &KeyRecord) -> Self {
        if self.key_id.is_none() {
            self.key_id = Some(key.key_id().to_owned());
        }
        if !self.resources.iter().any(|r| r.arn == key.arn()) {
            self.resources.push(audit::Resource {
                arn: key.arn().to_owned(),
                account_id: key.account().to_owned(),
                resource_type: "AWS::KMS::Key".into(),
            });
        }
        self
    }

    /// A request parameter CloudTrail records even when the client left it to its default.
    pub fn default_param(mut self, name: &'static str, value: Value) -> Self {
        self.params.push((name, value));
        self
    }

    pub fn into_plan(self, operation: &'static str, read_only: bool, mut params: Value) -> Plan {
        for (name, value) in self.params {
            match &mut params {
                Value::Object(o) => {
                    o.entry(name).or_insert(value);
                }
                other => {
                    let mut o = serde_json::Map::new();
                    o.insert(name.into(), value);
                    *other = Value::Object(o);
                }
            }
        }
        let mut plan = Plan::new(
            operation,
            read_only,
            self.checks,
            Decoded {
                key_id: self.key_id,
                input: self.input,
            },
        )
        .with_parameters(params);
        plan.resources = self.resources;
        plan
    }
}

/// The key policy lockout safety check: unless bypassed, a new key policy must still allow the caller to
/// change the key policy (with the caller's IAM policies counting only if the new policy delegates to them).
pub(crate) fn lockout_check(
    iam: &Iam,
    ctx: &RequestContext,
    new_policy: &Policy,
    key_arn: &str,
    key_account: &str,
) -> Result<(), ApiError> {
    let identity = iam
        .identity_policies(&ctx.caller)
        .map_err(ApiError::internal)?;
    let identity: Vec<&Policy> = identity.iter().map(|p| p.as_ref()).collect();
    let principal = ctx.caller.as_policy_principal();
    let mut context = ctx.policy_context();
    if !ctx.caller.account.is_empty() {
        context.insert("kms:CallerAccount", ctx.caller.account.clone());
    }
    if let Some(via) = &ctx.via {
        context.insert("kms:ViaService", via.service_endpoint.clone());
    }
    let input = AuthzInput {
        request: policy::Request {
            principal: &principal,
            action: "kms:PutKeyPolicy",
            resource: key_arn,
            context: &context,
        },
        identity_policies: &identity,
        session_policy: ctx
            .caller
            .session
            .as_ref()
            .and_then(|s| s.policy.as_deref()),
        resource_policy: Some(new_policy),
        resource_account: key_account,
        resource_policy_required: true,
    };
    if policy::authorize(&input).allowed {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "MalformedPolicyDocumentException",
            "The new key policy will not allow you to update the key policy in the future.",
        ))
    }
}

/// Parses a key policy document, with KMS's error for one that is not a valid resource policy.
pub(crate) fn parse_key_policy(doc: &str) -> Result<Policy, ApiError> {
    Policy::parse(doc, policy::PolicyKind::Resource).map_err(|e| {
        ApiError::bad_request(
            "MalformedPolicyDocumentException",
            format!("The key policy is malformed: {}", e.message()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_recognised_in_names_and_arns() {
        assert_eq!(alias_of("alias/app").as_deref(), Some("alias/app"));
        assert_eq!(
            alias_of("arn:aws:kms:us-east-1:111122223333:alias/app/x").as_deref(),
            Some("alias/app/x")
        );
        assert_eq!(alias_of("arn:aws:kms:us-east-1:111122223333:key/abc"), None);
        assert_eq!(alias_of("1234abcd-12ab-34cd-56ef-1234567890ab"), None);
    }

    #[test]
    fn context_and_tag_conditions() {
        let ctx: EncryptionContext = [
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "2".to_owned()),
        ]
        .into();
        let c = context_conditions(&ctx);
        assert!(c.contains(&cond("kms:EncryptionContext:a", "1")));
        assert!(c.contains(&(
            "kms:EncryptionContextKeys".into(),
            vec!["a".into(), "b".into()]
        )));
        assert!(context_conditions(&EncryptionContext::new()).is_empty());
        let t = tag_conditions(&[("team".into(), "x".into())]);
        assert_eq!(
            t,
            vec![
                cond("aws:RequestTag/team", "x"),
                ("aws:TagKeys".into(), vec!["team".into()])
            ]
        );
    }
}
