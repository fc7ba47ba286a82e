//! Key policies: PutKeyPolicy (with the lockout safety check), GetKeyPolicy, ListKeyPolicies. A key has one
//! policy, named `default`.

use api::{ApiError, Call, Reply};
use kms::KeyRecord;
use serde_json::json;

use crate::authz::{cond, lockout_check, parse_key_policy, KeyUse, Planned, Req};
use crate::input::missing;
use crate::{engine_error, wire, Input, KmsService};

pub(crate) enum Op {
    PutKeyPolicy {
        key: KeyRecord,
        name: String,
        policy: String,
        bypass_lockout_check: bool,
    },
    GetKeyPolicy {
        key: KeyRecord,
        name: String,
    },
    ListKeyPolicies,
}

pub(crate) fn plan(req: &Req<'_>) -> Option<Result<Planned, ApiError>> {
    Some(match req.operation {
        "PutKeyPolicy" => plan_put_key_policy(req),
        "GetKeyPolicy" => plan_get_key_policy(req),
        "ListKeyPolicies" => plan_list_key_policies(req),
        _ => return None,
    })
}

/// `PolicyName` (`[\w]+`, 1 to 128 characters); `default` when absent.
fn policy_name(req: &Req<'_>) -> Result<String, ApiError> {
    Ok(req
        .body
        .patterned("PolicyName", 1, 128, "[\\w]+", |c| {
            c.is_ascii_alphanumeric() || c == '_'
        })?
        .unwrap_or_else(|| "default".into()))
}

fn plan_put_key_policy(req: &Req<'_>) -> Result<Planned, ApiError> {
    let target = req.key("KeyId")?;
    let name = policy_name(req)?;
    let policy = req
        .body
        .policy("Policy")?
        .ok_or_else(|| missing("Policy"))?;
    let bypass = req
        .body
        .bool("BypassPolicyLockoutSafetyCheck")?
        .unwrap_or(false);
    let check = req.key_check(
        &target,
        "PutKeyPolicy",
        KeyUse {
            context: None,
            extra: vec![cond(
                "kms:BypassPolicyLockoutSafetyCheck",
                if bypass { "true" } else { "false" },
            )],
        },
    )?;
    Ok(Planned::new(Input::Policies(Op::PutKeyPolicy {
        key: target.key.clone(),
        name,
        policy,
        bypass_lockout_check: bypass,
    }))
    .on_key(&target.key)
    .check(check))
}

fn plan_get_key_policy(req: &Req<'_>) -> Result<Planned, ApiError> {
    let target = req.key("KeyId")?;
    let name = policy_name(req)?;
    let check = req.key_check(&target, "GetKeyPolicy", KeyUse::default())?;
    Ok(Planned::new(Input::Policies(Op::GetKeyPolicy {
        key: target.key.clone(),
        name,
    }))
    .on_key(&target.key)
    .check(check))
}

fn plan_list_key_policies(req: &Req<'_>) -> Result<Planned, ApiError> {
    let target = req.key("KeyId")?;
    req.body.page()?;
    let check = req.key_check(&target, "ListKeyPolicies", KeyUse::default())?;
    Ok(Planned::new(Input::Policies(Op::ListKeyPolicies))
        .on_key(&target.key)
        .check(check))
}

pub(crate) async fn execute(svc: &KmsService, call: &Call, op: Op) -> Result<Reply, ApiError> {
    match op {
        Op::PutKeyPolicy {
            key,
            name,
            policy,
            bypass_lockout_check,
        } => {
            let parsed = parse_key_policy(&policy)?;
            if !bypass_lockout_check {
                lockout_check(&svc.iam, &call.ctx, &parsed, key.arn(), key.account())?;
            }
            svc.kms
                .put_key_policy(&key, &name, &policy)
                .await
                .map_err(engine_error)?;
            Ok(wire::empty())
        }
        Op::GetKeyPolicy { key, name } => {
            if name != "default" {
                return Err(ApiError::bad_request(
                    "NotFoundException",
                    format!("No such policy exists: {name}; the only key policy name is default."),
                ));
            }
            Ok(wire::reply(
                &json!({"Policy": key.policy_text(), "PolicyName": "default"}),
            ))
        }
        Op::ListKeyPolicies => Ok(wire::reply(&wire::page(
            "PolicyNames",
            vec![json!("default")],
            None,
        ))),
    }
}
