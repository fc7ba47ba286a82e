//! Keys: CreateKey, DescribeKey, ListKeys, UpdateKeyDescription, EnableKey, DisableKey, ScheduleKeyDeletion,
//! CancelKeyDeletion.

use api::{ApiError, Call, Reply};
use kms::{CreateKeyInput, KeyRecord, Tag};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::authz::{cond, lockout_check, parse_key_policy, tag_conditions, KeyUse, Planned, Req};
use crate::input::validation;
use crate::{engine_error, trail, wire, Input, KmsService};

const KEY_USAGES: &[&str] = &[
    "SIGN_VERIFY",
    "ENCRYPT_DECRYPT",
    "GENERATE_VERIFY_MAC",
    "KEY_AGREEMENT",
];
const CUSTOMER_MASTER_KEY_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
];
use kms::KEY_SPECS;
const ORIGINS: &[&str] = &["AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"];

/// ListKeys' default page size.
const DEFAULT_LIMIT: usize = 100;

pub(crate) enum Op {
    CreateKey {
        input: CreateKeyInput,
        bypass_lockout_check: bool,
        custom_key_store: bool,
    },
    DescribeKey {
        key: KeyRecord,
    },
    ListKeys {
        marker: Option<String>,
        limit: usize,
    },
    UpdateKeyDescription {
        key: KeyRecord,
        description: String,
    },
    EnableKey {
        key: KeyRecord,
    },
    DisableKey {
        key: KeyRecord,
    },
    ScheduleKeyDeletion {
        key: KeyRecord,
        days: Option<u32>,
    },
    CancelKeyDeletion {
        key: KeyRecord,
    },
}

pub(crate) fn plan(req: &Req<'_>) -> Option<Result<Planned, ApiError>> {
    Some(match req.operation {
        "CreateKey" => plan_create_key(req),
        "DescribeKey" => plan_on_key(req, |key| Op::DescribeKey { key }),
        "ListKeys" => plan_list_keys(req),
        "UpdateKeyDescription" => plan_update_key_description(req),
        "EnableKey" => plan_on_key(req, |key| Op::EnableKey { key }),
        "DisableKey" => plan_on_key(req, |key| Op::DisableKey { key }),
        "ScheduleKeyDeletion" => plan_schedule_key_deletion(req),
        "CancelKeyDeletion" => plan_on_key(req, |key| Op::CancelKeyDeletion { key }),
        _ => return None,
    })
}

/// An operation on one key with no parameters of its own.
fn plan_on_key(req: &Req<'_>, op: impl FnOnce(KeyRecord) -> Op) -> Result<Planned, ApiError> {
    let target = req.key("KeyId")?;
    req.body.grant_tokens()?;
    let check = req.key_check(&target, req.operation, KeyUse::default())?;
    Ok(Planned::new(Input::Keys(op(target.key.clone())))
        .on_key(&target.key)
        .check(check))
}

fn plan_create_key(req: &Req<'_>) -> Result<Planned, ApiError> {
    let b = &req.body;
    let policy = b.policy("Policy")?;
    let description = b.string("Description", 0, 8192)?;
    let key_usage = b.enumerated("KeyUsage", KEY_USAGES)?;
    let cmk_spec = b.enumerated("CustomerMasterKeySpec", CUSTOMER_MASTER_KEY_SPECS)?;
    let key_spec = b.enumerated("KeySpec", KEY_SPECS)?;
    if cmk_spec.is_some() && key_spec.is_some() {
        return Err(ApiError::bad_request(
            "ValidationException",
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.",
        ));
    }
    let key_spec = key_spec.or(cmk_spec);
    let origin = b.enumerated("Origin", ORIGINS)?;
    let custom_key_store = b.string("CustomKeyStoreId", 1, 64)?.is_some()
        || b.patterned("XksKeyId", 1, 128, "^[a-zA-Z0-9-_.]+$", |c| {
            c.is_ascii_alphanumeric() || "-_.".contains(c)
        })?
        .is_some();
    let bypass = b.bool("BypassPolicyLockoutSafetyCheck")?.unwrap_or(false);
    let tags = b.tags("Tags")?.unwrap_or_default();
    let multi_region = b.bool("MultiRegion")?.unwrap_or(false);

    let mut extra = vec![
        cond(
            "kms:KeySpec",
            key_spec
                .clone()
                .unwrap_or_else(|| "SYMMETRIC_DEFAULT".into()),
        ),
        cond(
            "kms:KeyUsage",
            key_usage
                .clone()
                .unwrap_or_else(|| "ENCRYPT_DECRYPT".into()),
        ),
        cond(
            "kms:KeyOrigin",
            origin.clone().unwrap_or_else(|| "AWS_KMS".into()),
        ),
        cond(
            "kms:MultiRegion",
            if multi_region { "true" } else { "false" },
        ),
        cond(
            "kms:BypassPolicyLockoutSafetyCheck",
            if bypass { "true" } else { "false" },
        ),
    ];
    if multi_region {
        extra.push(cond("kms:MultiRegionKeyType", "PRIMARY"));
    }
    extra.extend(tag_conditions(&tags));
    let mut planned = Planned::new(Input::Keys(Op::CreateKey {
        input: CreateKeyInput {
            description,
            policy,
            tags: tags
                .iter()
                .map(|(key, value)| Tag {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect(),
            multi_region,
            key_spec,
            key_usage,
            origin,
        },
        bypass_lockout_check: bypass,
        custom_key_store,
    }))
    .check(req.identity_check("CreateKey", "*", extra));
    // Tagging a key as it is made needs permission to tag, as in AWS.
    if !tags.is_empty() {
        planned = planned.check(req.identity_check("TagResource", "*", tag_conditions(&tags)));
    }
    Ok(planned)
}

fn plan_list_keys(req: &Req<'_>) -> Result<Planned, ApiError> {
    let page = req.body.page()?;
    Ok(Planned::new(Input::Keys(Op::ListKeys {
        limit: page.limit_or(DEFAULT_LIMIT),
        marker: page.marker,
    }))
    .check(req.identity_check("ListKeys", "*", Vec::new())))
}

fn plan_update_key_description(req: &Req<'_>) -> Result<Planned, ApiError> {
    let target = req.key("KeyId")?;
    let description = req.body.required_string("Description", 0, 8192)?;
    let check = req.key_check(&target, "UpdateKeyDescription", KeyUse::default())?;
    Ok(Planned::new(Input::Keys(Op::UpdateKeyDescription {
        key: target.key.clone(),
        description,
    }))
    .on_key(&target.key)
    .check(check))
}

fn plan_schedule_key_deletion(req: &Req<'_>) -> Result<Planned, ApiError> {
    let target = req.key("KeyId")?;
    let days = req.body.int("PendingWindowInDays", 1, 365)?;
    if let Some(d) = days {
        if !(7..=30).contains(&d) {
            return Err(validation(
                &d.to_string(),
                "PendingWindowInDays",
                "Member must have value between 7 and 30",
            ));
        }
    }
    let extra = days
        .map(|d| {
            vec![cond(
                "kms:ScheduleKeyDeletionPendingWindowInDays",
                d.to_string(),
            )]
        })
        .unwrap_or_default();
    let check = req.key_check(
        &target,
        "ScheduleKeyDeletion",
        KeyUse {
            context: None,
            extra,
        },
    )?;
    Ok(Planned::new(Input::Keys(Op::ScheduleKeyDeletion {
        key: target.key.clone(),
        days: days.map(|d| d as u32),
    }))
    .on_key(&target.key)
    .check(check))
}

pub(crate) async fn execute(svc: &KmsService, call: &Call, op: Op) -> Result<Reply, ApiError> {
    let kms = &svc.kms;
    match op {
        Op::CreateKey {
            input,
            bypass_lockout_check,
            custom_key_store,
        } => create_key(svc, call, input, bypass_lockout_check, custom_key_store).await,
        Op::DescribeKey { key } => Ok(describe_key(svc, &key)),
        Op::ListKeys { marker, limit } => list_keys(svc, call, marker.as_deref(), limit),
        Op::UpdateKeyDescription { key, description } => {
            kms.update_key_description(&key, &description)
                .await
                .map_err(engine_error)?;
            Ok(wire::empty())
        }
        Op::EnableKey { key } => {
            kms.enable_key(&key).await.map_err(engine_error)?;
            Ok(wire::empty())
        }
        Op::DisableKey { key } => {
            kms.disable_key(&key).await.map_err(engine_error)?;
            Ok(wire::empty())
        }
        Op::ScheduleKeyDeletion { key, days } => schedule_key_deletion(svc, &key, days).await,
        Op::CancelKeyDeletion { key } => {
            kms.cancel_key_deletion(&key).await.map_err(engine_error)?;
            let body = json!({"KeyId": key.arn()});
            Ok(wire::reply(&body).with_response_elements(json!({"keyId": key.arn()})))
        }
    }
}

/// A JSON object's members as CloudTrail records them.
pub(crate) fn recorded(v: &Value) -> Value {
    v.as_object().map_or(Value::Null, trail::record)
}

async fn create_key(
    svc: &KmsService,
    call: &Call,
    input: CreateKeyInput,
    bypass_lockout_check: bool,
    custom_key_store: bool,
) -> Result<Reply, ApiError> {
    if custom_key_store {
        return Err(ApiError::bad_request(
            "UnsupportedOperationException",
            "Custom key stores are not supported.",
        ));
    }
    let ctx = &call.ctx;
    let account = ctx.caller.account.clone();
    if let Some(doc) = &input.policy {
        let parsed = parse_key_policy(doc)?;
        if !bypass_lockout_check {
            // The key's ARN is not known yet; a policy naming it could not have been written either.
            let arn = kms::key_arn(
                &ctx.region,
                &account,
                "00000000-0000-0000-0000-000000000000",
            );
            lockout_check(&svc.iam, ctx, &parsed, &arn, &account)?;
        }
    }
    let meta = svc
        .kms
        .create_key(&account, &ctx.region, input)
        .await
        .map_err(engine_error)?;
    let meta = serde_json::to_value(&meta).map_err(ApiError::internal)?;
    Ok(wire::reply(&json!({"KeyMetadata": meta}))
        .with_response_elements(json!({"keyMetadata": recorded(&meta)})))
}

fn describe_key(svc: &KmsService, key: &KeyRecord) -> Reply {
    wire::reply(&json!({"KeyMetadata": svc.kms.metadata(key)}))
}

fn list_keys(
    svc: &KmsService,
    call: &Call,
    marker: Option<&str>,
    limit: usize,
) -> Result<Reply, ApiError> {
    let ctx = &call.ctx;
    let page = svc
        .kms
        .list_keys(&ctx.caller.account, &ctx.region, marker, limit)
        .map_err(engine_error)?;
    let keys: Vec<Value> = page
        .items
        .iter()
        .map(|k| json!({"KeyId": k.key_id(), "KeyArn": k.arn()}))
        .collect();
    Ok(wire::reply(&wire::page("Keys", keys, page.next_marker)))
}

async fn schedule_key_deletion(
    svc: &KmsService,
    key: &KeyRecord,
    days: Option<u32>,
) -> Result<Reply, ApiError> {
    let date = svc
        .kms
        .schedule_key_deletion(key, days, OffsetDateTime::now_utc())
        .await
        .map_err(engine_error)?;
    let body = json!({
        "KeyId": key.arn(),
        "DeletionDate": wire::epoch(date),
        "KeyState": "PendingDeletion",
        "PendingWindowInDays": days.unwrap_or(30),
    });
    Ok(wire::reply(&body).with_response_elements(recorded(&body)))
}
