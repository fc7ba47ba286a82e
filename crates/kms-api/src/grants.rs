//! Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant. A grant takes effect at
//! once; it lets its grantee do what the key policy leaves implicitly denied, never what it explicitly denies.

use api::{ApiError, Call, Reply};
use iam::CallerKind;
use kms::{CreateGrantInput, Grant, GrantConstraints, KeyRecord};
use serde_json::{json, Value};

use crate::authz::{cond, context_conditions, Conditions, KeyUse, Planned, Req, Target};
use crate::input::{missing, validation, EncryptionContext, GRANT_OPERATIONS};
use crate::{engine_error, wire, Input, KmsService};

/// ListGrants' and ListRetirableGrants' default page size.
const DEFAULT_LIMIT: usize = 50;

pub(crate) enum Op {
    CreateGrant {
        key: KeyRecord,
        input: CreateGrantInput,
        dry_run: bool,
    },
    ListGrants {
        key: KeyRecord,
        grant_id: Option<String>,
        grantee: Option<String>,
        marker: Option<String>,
        limit: usize,
    },
    ListRetirableGrants {
        retiring_principal: String,
        marker: Option<String>,
        limit: usize,
    },
    RetireGrant {
        key: KeyRecord,
        grant_id: String,
        dry_run: bool,
    },
    RevokeGrant {
        key: KeyRecord,
        grant_id: String,
        dry_run: bool,
    },
}

pub(crate) fn plan(req: &Req<'_>) -> Option<Result<Planned, ApiError>> {
    Some(match req.operation {
        "CreateGrant" => plan_create_grant(req),
        "ListGrants" => plan_list_grants(req),
        "ListRetirableGrants" => plan_list_retirable_grants(req),
        "RetireGrant" => plan_retire_grant(req),
        "RevokeGrant" => plan_revoke_grant(req),
        _ => return None,
    })
}

fn grant_id(req: &Req<'_>) -> Result<Option<String>, ApiError> {
    req.body.string("GrantId", 1, 128)
}

fn dry_run(req: &Req<'_>) -> Result<bool, ApiError> {
    Ok(req.body.bool("DryRun")?.unwrap_or(false))
}

/// The condition keys of CreateGrant: what the new grant would allow, to whom, and under which constraints.
fn create_grant_conditions(req: &Req<'_>, input: &CreateGrantInput) -> Conditions {
    let mut out = vec![
        ("kms:GrantOperations".to_owned(), input.operations.clone()),
        cond("kms:GranteePrincipal", input.grantee_principal.clone()),
        cond(
            "kms:GrantIsForAWSResource",
            if req.ctx().via.is_some() {
                "true"
            } else {
                "false"
            },
        ),
    ];
    if let Some(r) = &input.retiring_principal {
        out.push(cond("kms:RetiringPrincipal", r.clone()));
    }
    if let Some(c) = &input.constraints {
        let mut types = Vec::new();
        let mut pairs = EncryptionContext::new();
        if let Some(s) = &c.encryption_context_subset {
            types.push("EncryptionContextSubset".to_owned());
            pairs.extend(s.clone());
        }
        if let Some(e) = &c.encryption_context_equals {
            types.push("EncryptionContextEquals".to_owned());
            pairs.extend(e.clone());
        }
        if !types.is_empty() {
            out.push(("kms:GrantConstraintType".into(), types));
        }
        out.extend(context_conditions(&pairs));
    }
    out
}

/// Members of AWS's CreateGrant that coffer does not implement. Each narrows a grant, so ignoring one would
/// store a grant wider than the caller asked for: they are refused instead.
const UNSUPPORTED_CREATE_GRANT_MEMBERS: &[&str] =
    &["GranteeServicePrincipal", "RetiringServicePrincipal"];

fn unsupported(what: &str) -> ApiError {
    ApiError::bad_request(
        "UnsupportedOperationException",
        format!("{what} is not supported by this endpoint."),
    )
}

fn plan_create_grant(req: &Req<'_>) -> Result<Planned, ApiError> {
    let target = req.key("KeyId")?;
    if let Some(m) = UNSUPPORTED_CREATE_GRANT_MEMBERS
        .iter()
        .find(|m| req.body.members().get(**m).is_some_and(|v| !v.is_null()))
    {
        return Err(unsupported(m));
    }
    if req
        .body
        .members()
        .get("Constraints")
        .and_then(|c| c.get("SourceArn"))
        .is_some_and(|v| !v.is_null())
    {
        return Err(unsupported("The SourceArn grant constraint"));
    }
    let grantee = req
        .body
        .principal("GranteePrincipal")?
        .ok_or_else(|| missing("GranteePrincipal"))?;
    let retiring = req.body.principal("RetiringPrincipal")?;
    let operations = req
        .body
        .strings("Operations")?
        .ok_or_else(|| missing("Operations"))?;
    for op in &operations {
        if !GRANT_OPERATIONS.contains(&op.as_str()) {
            return Err(validation(
                op,
                "Operations",
                &format!(
                    "Member must satisfy constraint: [Member must satisfy enum value set: [{}]]",
                    GRANT_OPERATIONS.join(", ")
                ),
            ));
        }
    }
    if operations.is_empty() {
        return Err(ApiError::bad_request(
            "ValidationException",
            "1 validation error detected: Value '[]' at 'operations' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    let constraints = req.body.constraints()?.map(|c| GrantConstraints {
        encryption_context_subset: c.subset,
        encryption_context_equals: c.equals,
    });
    let name = req
        .body
        .patterned("Name", 1, 256, "^[a-zA-Z0-9:/_-]+$", |c| {
            c.is_ascii_alphanumeric() || ":/_-".contains(c)
        })?;
    req.kms
        .check_grant_tokens(&req.body.grant_tokens()?)
        .map_err(engine_error)?;
    let input = CreateGrantInput {
        grantee_principal: grantee,
        retiring_principal: retiring,
        operations,
        constraints,
        name,
    };
    let mut check = req.key_check(
        &target,
        "CreateGrant",
        KeyUse {
            context: None,
            extra: create_grant_conditions(req, &input),
        },
    )?;
    // Through a grant, CreateGrant may only pass on what that grant holds: the same operations or fewer, under
    // the same constraints or stricter ones. (The key policy's explicit denies still apply, with the
    // kms:Grant* condition keys above, since a grant never overrides an explicit deny.)
    check.granted = req.grant_allows_create_grant(&target.key, &input);
    Ok(Planned::new(Input::Grants(Op::CreateGrant {
        key: target.key.clone(),
        input,
        dry_run: dry_run(req)?,
    }))
    .on_key(&target.key)
    .check(check))
}

fn plan_list_grants(req: &Req<'_>) -> Result<Planned, ApiError> {
    let target = req.key("KeyId")?;
    let page = req.body.page()?;
    let check = req.key_check(&target, "ListGrants", KeyUse::default())?;
    Ok(Planned::new(Input::Grants(Op::ListGrants {
        key: target.key.clone(),
        grant_id: grant_id(req)?,
        grantee: req.body.principal("GranteePrincipal")?,
        marker: page.marker.clone(),
        limit: page.limit_or(DEFAULT_LIMIT),
    }))
    .on_key(&target.key)
    .check(check))
}

fn plan_list_retirable_grants(req: &Req<'_>) -> Result<Planned, ApiError> {
    let retiring_principal = req
        .body
        .principal("RetiringPrincipal")?
        .ok_or_else(|| missing("RetiringPrincipal"))?;
    let page = req.body.page()?;
    // AWS authorizes kms:ListRetirableGrants (IAM policy) on the retiring principal itself, which must be in
    // the caller's account: a principal of another account (or a service principal) is a resource the caller's
    // policies cannot reach.
    let principal_account = kms::principal_account(&retiring_principal)
        .unwrap_or_default()
        .to_owned();
    let mut check = req.identity_check("ListRetirableGrants", &retiring_principal, Vec::new());
    check.resource_account = principal_account;
    Ok(Planned::new(Input::Grants(Op::ListRetirableGrants {
        retiring_principal,
        marker: page.marker.clone(),
        limit: page.limit_or(DEFAULT_LIMIT),
    }))
    .check(check))
}

/// Whether `principal` (a grant's grantee or retiring principal) names the caller itself: its ARN, its role
/// (for a role session), or — for the account root only — its account.
fn names_caller(req: &Req<'_>, principal: &str) -> bool {
    let caller = &req.ctx().caller;
    match &caller.kind {
        CallerKind::Anonymous | CallerKind::Service { .. } => false,
        CallerKind::AssumedRole { role_arn, .. } => {
            principal == caller.arn || principal == role_arn
        }
        CallerKind::User { .. } => principal == caller.arn,
        CallerKind::Root => principal == caller.arn || principal == caller.account,
    }
}

/// Whether `principal` is an account (its id or its root's ARN) — the caller's own.
fn is_callers_account(req: &Req<'_>, principal: &str) -> bool {
    let account = &req.ctx().caller.account;
    !account.is_empty()
        && (principal == account || principal == format!("arn:aws:iam::{account}:root"))
}

fn plan_retire_grant(req: &Req<'_>) -> Result<Planned, ApiError> {
    let token = req.body.string("GrantToken", 1, 8192)?;
    let (target, grant) = match token {
        Some(token) => {
            let (arn, grant) = req.kms.grant_by_token(&token).map_err(engine_error)?;
            (req.resolve(&arn)?, grant)
        }
        None => {
            let key_ref = req.body.opt_key_id("KeyId")?;
            let id = grant_id(req)?;
            let (Some(key_ref), Some(id)) = (key_ref, id) else {
                return Err(ApiError::bad_request(
                    "ValidationException",
                    "Either GrantToken or both KeyId and GrantId must be specified.",
                ));
            };
            let target = req.resolve(&key_ref)?;
            let grant = req.kms.grant(&target.key, &id).map_err(engine_error)?;
            (target, grant)
        }
    };
    // The grant decides who may retire it (AWS): its retiring principal; its grantee, if the grant includes
    // RetireGrant; and the account that created it, which delegates to its IAM principals with kms:RetireGrant
    // in their IAM policies (so does an account named as the retiring principal). kms:RetireGrant in a key
    // policy is not effective, and a RetireGrant operation in some other grant of the caller's is not either.
    let named = grant
        .retiring_principal
        .as_deref()
        .is_some_and(|p| names_caller(req, p))
        || (names_caller(req, &grant.grantee_principal)
            && grant.operations.iter().any(|o| o == "RetireGrant"));
    let caller = &req.ctx().caller;
    let delegated = grant.issuing_account == caller.account
        || grant
            .retiring_principal
            .as_deref()
            .is_some_and(|p| is_callers_account(req, p));
    if !named && !delegated {
        return Err(ApiError::bad_request(
            "AccessDeniedException",
            format!(
                "User: {} is not authorized to perform: kms:RetireGrant on resource: {} because the grant names \
                 neither it nor its account",
                caller.display_arn(),
                target.key.arn()
            ),
        ));
    }
    // IAM policies of the caller's account decide (an explicit deny there wins even for a named principal).
    let mut check = req.identity_check("RetireGrant", target.key.arn(), Vec::new());
    check.granted = named;
    Ok(Planned::new(Input::Grants(Op::RetireGrant {
        key: target.key.clone(),
        grant_id: grant.grant_id,
        dry_run: dry_run(req)?,
    }))
    .on_key(&target.key)
    .check(check))
}

fn plan_revoke_grant(req: &Req<'_>) -> Result<Planned, ApiError> {
    let target: Target = req.key("KeyId")?;
    let id = grant_id(req)?.ok_or_else(|| missing("GrantId"))?;
    let check = req.key_check(&target, "RevokeGrant", KeyUse::default())?;
    Ok(Planned::new(Input::Grants(Op::RevokeGrant {
        key: target.key.clone(),
        grant_id: id,
        dry_run: dry_run(req)?,
    }))
    .on_key(&target.key)
    .check(check))
}

fn dry_run_succeeded() -> ApiError {
    ApiError::bad_request(
        "DryRunOperationException",
        "The request would have succeeded, but the DryRun option is set.",
    )
}

fn grant_list(member: &str, grants: &[Grant], next: Option<String>) -> Result<Reply, ApiError> {
    let items = grants
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<Value>, _>>()
        .map_err(ApiError::internal)?;
    Ok(wire::reply(&wire::page(member, items, next)))
}

pub(crate) async fn execute(svc: &KmsService, call: &Call, op: Op) -> Result<Reply, ApiError> {
    let kms = &svc.kms;
    match op {
        Op::CreateGrant {
            key,
            input,
            dry_run,
        } => {
            if dry_run {
                return Err(dry_run_succeeded());
            }
            let (grant_id, token) = kms
                .create_grant(&key, input, &call.ctx.caller.account)
                .await
                .map_err(engine_error)?;
            Ok(
                wire::reply(&json!({"GrantId": grant_id, "GrantToken": token}))
                    .with_response_elements(json!({ "grantId": grant_id })),
            )
        }
        Op::ListGrants {
            key,
            grant_id,
            grantee,
            marker,
            limit,
        } => {
            let page = kms
                .list_grants(
                    &key,
                    grant_id.as_deref(),
                    grantee.as_deref(),
                    marker.as_deref(),
                    limit,
                )
                .map_err(engine_error)?;
            grant_list("Grants", &page.items, page.next_marker)
        }
        Op::ListRetirableGrants {
            retiring_principal,
            marker,
            limit,
        } => {
            // Authorized on the retiring principal, a principal of the caller's account: every grant naming it,
            // on keys of any account, as in AWS.
            let page = kms
                .list_retirable_grants(&retiring_principal, marker.as_deref(), limit)
                .map_err(engine_error)?;
            grant_list("Grants", &page.items, page.next_marker)
        }
        Op::RetireGrant {
            key,
            grant_id,
            dry_run,
        } => {
            if dry_run {
                return Err(dry_run_succeeded());
            }
            kms.retire_grant(&key, &grant_id)
                .await
                .map_err(engine_error)?;
            Ok(wire::empty())
        }
        Op::RevokeGrant {
            key,
            grant_id,
            dry_run,
        } => {
            if dry_run {
                return Err(dry_run_succeeded());
            }
            kms.revoke_grant(&key, &grant_id)
                .await
                .map_err(engine_error)?;
            Ok(wire::empty())
        }
    }
}
