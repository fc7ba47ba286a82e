//! Long-term access keys: CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey.
//!
//! Without `UserName` each operation is about the caller's own keys (the root user's for root). The secret
//! access key appears once, in the CreateAccessKey response body, and never in audit data.

use api::{ApiError, Call, Check, Plan, Reply};
use iam::{AccessKey, AccessKeyStatus, Iam};
use serde_json::json;

use crate::input::{check_len, plan as new_plan, validation, Req, Subject};
use crate::wire::{self, Out};
use crate::Input;

pub(crate) enum Op {
    CreateAccessKey {
        subject: Subject,
    },
    ListAccessKeys {
        subject: Subject,
        marker: Option<String>,
        max_items: usize,
    },
    UpdateAccessKey {
        subject: Subject,
        id: String,
        status: AccessKeyStatus,
    },
    DeleteAccessKey {
        subject: Subject,
        id: String,
    },
}

pub(crate) fn plan(action: &str, req: &Req<'_>) -> Option<Result<Plan, ApiError>> {
    let (operation, read_only, iam_action) = match action {
        "CreateAccessKey" => ("CreateAccessKey", false, "iam:CreateAccessKey"),
        "ListAccessKeys" => ("ListAccessKeys", true, "iam:ListAccessKeys"),
        "UpdateAccessKey" => ("UpdateAccessKey", false, "iam:UpdateAccessKey"),
        "DeleteAccessKey" => ("DeleteAccessKey", false, "iam:DeleteAccessKey"),
        _ => return None,
    };
    Some(decode(req, operation).and_then(|(subject, op)| {
        let arn = req.subject_arn(&subject);
        new_plan(
            operation,
            read_only,
            vec![Check::own(iam_action, arn, req.account)],
            Input::Keys(op),
        )
    }))
}

fn decode(req: &Req<'_>, operation: &str) -> Result<(Subject, Op), ApiError> {
    let subject = req.subject()?;
    let op = match operation {
        "CreateAccessKey" => Op::CreateAccessKey {
            subject: subject.clone(),
        },
        "ListAccessKeys" => Op::ListAccessKeys {
            subject: subject.clone(),
            marker: req.marker()?,
            max_items: req.max_items()?,
        },
        "UpdateAccessKey" => {
            let id = access_key_id(req)?;
            let status = match req.required("Status")? {
                "Active" => AccessKeyStatus::Active,
                "Inactive" => AccessKeyStatus::Inactive,
                other => {
                    return Err(validation(
                        other,
                        "status",
                        "Member must satisfy enum value set: [Active, Inactive, Expired]",
                    ))
                }
            };
            Op::UpdateAccessKey {
                subject: subject.clone(),
                id,
                status,
            }
        }
        _ => Op::DeleteAccessKey {
            subject: subject.clone(),
            id: access_key_id(req)?,
        },
    };
    Ok((subject, op))
}

/// `accessKeyIdType`: 16 to 128 word characters.
fn access_key_id(req: &Req<'_>) -> Result<String, ApiError> {
    let id = req.required("AccessKeyId")?;
    check_len(id, "AccessKeyId", 16, 128)?;
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(validation(
            id,
            "accessKeyId",
            "Member must satisfy regular expression pattern: [\\w]+",
        ));
    }
    Ok(id.to_owned())
}

pub(crate) async fn execute(iam: &Iam, call: &Call, out: Out, op: Op) -> Result<Reply, ApiError> {
    match op {
        Op::CreateAccessKey { subject } => create_access_key(iam, call, out, &subject).await,
        Op::ListAccessKeys {
            subject,
            marker,
            max_items,
        } => list_access_keys(iam, call, out, &subject, marker.as_deref(), max_items),
        Op::UpdateAccessKey {
            subject,
            id,
            status,
        } => update_access_key(iam, call, out, &subject, &id, status).await,
        Op::DeleteAccessKey { subject, id } => {
            delete_access_key(iam, call, out, &subject, &id).await
        }
    }
}

async fn create_access_key(
    iam: &Iam,
    call: &Call,
    out: Out,
    subject: &Subject,
) -> Result<Reply, ApiError> {
    let (key, secret) = iam
        .create_access_key(&call.ctx.caller.account, subject.user())
        .await?;
    let created = wire::time(key.created);
    // CloudTrail records the key id, never the secret.
    let elements = json!({"accessKey": {
        "userName": key.user, "accessKeyId": key.id, "status": key.status.as_str(), "createDate": created,
    }});
    Ok(out
        .result(|w| {
            w.open("AccessKey")
                .opt("UserName", key.user.as_deref())
                .elem("AccessKeyId", &key.id)
                .elem("Status", key.status.as_str())
                .elem("SecretAccessKey", &secret)
                .elem("CreateDate", &created)
                .close("AccessKey");
        })
        .with_response_elements(elements))
}

fn list_access_keys(
    iam: &Iam,
    call: &Call,
    out: Out,
    subject: &Subject,
    marker: Option<&str>,
    max_items: usize,
) -> Result<Reply, ApiError> {
    let keys = iam.list_access_keys(&call.ctx.caller.account, subject.user())?;
    let (keys, next) = wire::page(keys, |k: &AccessKey| k.id.clone(), marker, max_items);
    Ok(out.result(|w| {
        w.open("AccessKeyMetadata");
        for k in &keys {
            w.open("member")
                .opt("UserName", k.user.as_deref())
                .elem("AccessKeyId", &k.id)
                .elem("Status", k.status.as_str())
                .elem("CreateDate", &wire::time(k.created))
                .close("member");
        }
        w.close("AccessKeyMetadata");
        wire::truncation(w, next.as_deref());
    }))
}

async fn update_access_key(
    iam: &Iam,
    call: &Call,
    out: Out,
    subject: &Subject,
    id: &str,
    status: AccessKeyStatus,
) -> Result<Reply, ApiError> {
    iam.update_access_key(&call.ctx.caller.account, subject.user(), id, status)
        .await?;
    Ok(out.empty())
}

async fn delete_access_key(
    iam: &Iam,
    call: &Call,
    out: Out,
    subject: &Subject,
    id: &str,
) -> Result<Reply, ApiError> {
    iam.delete_access_key(&call.ctx.caller.account, subject.user(), id)
        .await?;
    Ok(out.empty())
}
