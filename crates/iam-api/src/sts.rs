//! STS: GetCallerIdentity, AssumeRole, GetAccessKeyInfo.
//!
//! AssumeRole is authorized against the role's trust policy as a resource policy that must admit the caller
//! (directly, through its role, or by delegating to the caller's account). The new secret access key and
//! session token appear only in the response body, never in audit data.

use std::sync::Arc;

use api::{ApiError, Call, Check, Plan, Reply, ResourcePolicy};
use iam::{AssumeRoleInput, CallerKind, Iam};
use ids::IamNameKind;
use policy::{Policy, PolicyKind};
use serde_json::json;

use crate::input::{check_len, plan as new_plan, validation, Req};
use crate::wire::{self, Out};
use crate::Input;

/// STS's allotment for packed session policies, against which `PackedPolicySize` is a percentage.
const PACKED_POLICY_ALLOTMENT: usize = 2048;

pub(crate) enum Op {
    GetCallerIdentity,
    AssumeRole(AssumeRole),
    GetAccessKeyInfo { access_key_id: String },
}

pub(crate) struct AssumeRole {
    role_arn: String,
    session_name: String,
    duration_seconds: Option<u32>,
    policy: Option<String>,
    policy_arns: Vec<String>,
}

pub(crate) fn plan(action: &str, req: &Req<'_>) -> Option<Result<Plan, ApiError>> {
    Some(match action {
        // Anyone may ask who they are: no permission is needed, as in AWS.
        "GetCallerIdentity" => new_plan(
            "GetCallerIdentity",
            true,
            Vec::new(),
            Input::Sts(Op::GetCallerIdentity),
        ),
        "AssumeRole" => decode_assume_role(req),
        "GetAccessKeyInfo" => decode_get_access_key_info(req),
        _ => return None,
    })
}

/// AWS's refusal of an AssumeRole, also used when the role does not exist so as not to reveal that.
fn assume_role_denied(caller_arn: &str, role_arn: &str) -> ApiError {
    ApiError::new(
        403,
        "AccessDenied",
        format!("User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"),
    )
}

fn decode_assume_role(req: &Req<'_>) -> Result<Plan, ApiError> {
    let role_arn = req.arn("RoleArn")?;
    let session_name = req.new_name("RoleSessionName", IamNameKind::RoleSessionName)?;
    let duration_seconds = req
        .params
        .int("DurationSeconds", 900, 43200)?
        .map(|n| n as u32);
    let policy = req.opt_document("Policy")?;
    let mut policy_arns = Vec::new();
    for entry in req.params.structs("PolicyArns") {
        let arn = entry.get("arn").cloned().unwrap_or_default();
        check_len(&arn, "arn", 20, 2048)?;
        policy_arns.push(arn);
    }
    let external_id = req.opt("ExternalId");
    if let Some(id) = external_id {
        check_len(id, "ExternalId", 2, 1224)?;
        if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@:/-".contains(&b))
        {
            return Err(validation(
                id,
                "externalId",
                "Member must satisfy regular expression pattern: [\\w+=,.@:\\/-]*",
            ));
        }
    }
    if matches!(req.caller().kind, CallerKind::Root) {
        return Err(ApiError::new(
            403,
            "AccessDenied",
            "Roles may not be assumed by root accounts.",
        ));
    }

    let role = req.iam.role_by_arn(&role_arn)?;
    let mut check = Check::own("sts:AssumeRole", role_arn.clone(), req.account);
    if let Some(role) = &role {
        let trust = Policy::parse(&role.trust_policy, PolicyKind::Resource).map_err(|e| {
            ApiError::internal(format!(
                "the stored trust policy of {} does not parse: {e}",
                role.arn
            ))
        })?;
        check.resource_account = role.account.clone();
        // The trust policy must admit the caller: naming it (or its role) grants on its own, naming the
        // caller's account delegates to the caller's IAM policies. IAM policies alone never suffice.
        check.resource_policy = Some(ResourcePolicy {
            policy: Arc::new(trust),
            required: true,
        });
    } else if let Some(account) = role_arn
        .strip_prefix("arn:aws:iam::")
        .and_then(|r| r.split_once(':'))
        .map(|(a, _)| a)
    {
        // No such role: the check carries no trust policy, so nothing admits the caller; `execute` refuses too.
        check.resource_account = account.to_owned();
    }
    check
        .context
        .push(("sts:RoleSessionName".into(), vec![session_name.clone()]));
    if let Some(id) = external_id {
        check
            .context
            .push(("sts:ExternalId".into(), vec![id.to_owned()]));
    }
    new_plan(
        "AssumeRole",
        false,
        vec![check],
        Input::Sts(Op::AssumeRole(AssumeRole {
            role_arn,
            session_name,
            duration_seconds,
            policy,
            policy_arns,
        })),
    )
}

fn decode_get_access_key_info(req: &Req<'_>) -> Result<Plan, ApiError> {
    let id = req.required("AccessKeyId")?;
    check_len(id, "AccessKeyId", 16, 128)?;
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(validation(
            id,
            "accessKeyId",
            "Member must satisfy regular expression pattern: [\\w]*",
        ));
    }
    new_plan(
        "GetAccessKeyInfo",
        true,
        vec![Check::own("sts:GetAccessKeyInfo", "*", req.account)],
        Input::Sts(Op::GetAccessKeyInfo {
            access_key_id: id.to_owned(),
        }),
    )
}

pub(crate) async fn execute(iam: &Iam, call: &Call, out: Out, op: Op) -> Result<Reply, ApiError> {
    match op {
        Op::GetCallerIdentity => Ok(get_caller_identity(call, out)),
        Op::AssumeRole(input) => assume_role(iam, call, out, input).await,
        Op::GetAccessKeyInfo { access_key_id } => get_access_key_info(iam, out, &access_key_id),
    }
}

fn get_caller_identity(call: &Call, out: Out) -> Reply {
    let caller = &call.ctx.caller;
    out.result(|w| {
        w.elem("UserId", &caller.principal_id)
            .elem("Account", &caller.account)
            .elem("Arn", &caller.arn);
    })
}

async fn assume_role(
    iam: &Iam,
    call: &Call,
    out: Out,
    input: AssumeRole,
) -> Result<Reply, ApiError> {
    let caller = &call.ctx.caller;
    let Some(role) = iam.role_by_arn(&input.role_arn)? else {
        return Err(assume_role_denied(caller.display_arn(), &input.role_arn));
    };
    let packed: usize = input
        .policy
        .iter()
        .chain(input.policy_arns.iter())
        .map(|s| s.chars().filter(|c| !c.is_whitespace()).count())
        .sum();
    let has_session_policy = input.policy.is_some() || !input.policy_arns.is_empty();
    let issued = iam
        .assume_role(
            caller,
            AssumeRoleInput {
                role,
                session_name: input.session_name,
                duration_seconds: input.duration_seconds,
                policy: input.policy,
                policy_arns: input.policy_arns,
            },
        )
        .await?;
    let s = &issued.session;
    let assumed_role_id = format!("{}:{}", s.role_id, s.session_name);
    let assumed_arn = format!(
        "arn:aws:sts::{}:assumed-role/{}/{}",
        s.account, s.role_name, s.session_name
    );
    let expiration = wire::time(s.expiration);
    let packed_size = has_session_policy.then(|| (packed * 100).div_ceil(PACKED_POLICY_ALLOTMENT));
    // CloudTrail records the access key id and expiration; the secret and the token stay out of audit data.
    let mut elements = json!({
        "credentials": {"accessKeyId": s.access_key_id, "expiration": expiration},
        "assumedRoleUser": {"assumedRoleId": assumed_role_id, "arn": assumed_arn},
    });
    if let Some(n) = packed_size {
        elements["packedPolicySize"] = json!(n);
    }
    Ok(out
        .result(|w| {
            w.open("Credentials")
                .elem("AccessKeyId", &s.access_key_id)
                .elem("SecretAccessKey", &issued.secret_access_key)
                .elem("SessionToken", &issued.session_token)
                .elem("Expiration", &expiration)
                .close("Credentials");
            w.open("AssumedRoleUser")
                .elem("AssumedRoleId", &assumed_role_id)
                .elem("Arn", &assumed_arn)
                .close("AssumedRoleUser");
            if let Some(n) = packed_size {
                w.elem("PackedPolicySize", &n.to_string());
            }
        })
        .with_response_elements(elements))
}

fn get_access_key_info(iam: &Iam, out: Out, access_key_id: &str) -> Result<Reply, ApiError> {
    let Some(creds) = iam.authenticate(access_key_id)? else {
        return Err(ApiError::bad_request(
            "InvalidParameterValue",
            format!("The access key ID {access_key_id} is not recognized."),
        ));
    };
    let account = creds.caller.account.clone();
    Ok(out.result(|w| {
        w.elem("Account", &account);
    }))
}
