//! IAM roles: CreateRole, GetRole, ListRoles, DeleteRole, UpdateAssumeRolePolicy.

use api::xml::XmlWriter;
use api::{ApiError, Call, Check, Plan, Reply};
use iam::{Iam, Role};
use ids::IamNameKind;
use serde_json::json;

use crate::input::{check_len, plan as new_plan, Req};
use crate::wire::{self, Out};
use crate::Input;

pub(crate) enum Op {
    CreateRole {
        name: String,
        path: Option<String>,
        trust_policy: String,
        description: Option<String>,
        max_session_duration: Option<u32>,
    },
    GetRole {
        name: String,
    },
    ListRoles {
        path_prefix: Option<String>,
        marker: Option<String>,
        max_items: usize,
    },
    DeleteRole {
        name: String,
    },
    UpdateAssumeRolePolicy {
        name: String,
        document: String,
    },
}

pub(crate) fn plan(action: &str, req: &Req<'_>) -> Option<Result<Plan, ApiError>> {
    Some(match action {
        "CreateRole" => decode_create_role(req),
        "GetRole" => req.name("RoleName", 64).and_then(|name| {
            let check = Check::own("iam:GetRole", req.role_arn(&name), req.account);
            new_plan(
                "GetRole",
                true,
                vec![check],
                Input::Roles(Op::GetRole { name }),
            )
        }),
        "ListRoles" => decode_list_roles(req),
        "DeleteRole" => req.name("RoleName", 64).and_then(|name| {
            let check = Check::own("iam:DeleteRole", req.role_arn(&name), req.account);
            new_plan(
                "DeleteRole",
                false,
                vec![check],
                Input::Roles(Op::DeleteRole { name }),
            )
        }),
        "UpdateAssumeRolePolicy" => decode_update_assume_role_policy(req),
        _ => return None,
    })
}

fn decode_create_role(req: &Req<'_>) -> Result<Plan, ApiError> {
    let name = req.new_name("RoleName", IamNameKind::Role)?;
    let path = req.path("Path")?;
    let trust_policy = req.document("AssumeRolePolicyDocument")?;
    let description = req.opt("Description").map(str::to_owned);
    if let Some(d) = &description {
        check_len(d, "Description", 0, 1000)?;
    }
    let max_session_duration = req
        .params
        .int("MaxSessionDuration", 3600, 43200)?
        .map(|n| n as u32);
    let arn = format!(
        "arn:aws:iam::{}:role{}{name}",
        req.account,
        path.as_deref().unwrap_or("/")
    );
    new_plan(
        "CreateRole",
        false,
        vec![Check::own("iam:CreateRole", arn, req.account)],
        Input::Roles(Op::CreateRole {
            name,
            path,
            trust_policy,
            description,
            max_session_duration,
        }),
    )
}

fn decode_list_roles(req: &Req<'_>) -> Result<Plan, ApiError> {
    let path_prefix = req.path_prefix()?;
    let arn = format!(
        "arn:aws:iam::{}:role{}",
        req.account,
        path_prefix.as_deref().unwrap_or("/")
    );
    new_plan(
        "ListRoles",
        true,
        vec![Check::own("iam:ListRoles", arn, req.account)],
        Input::Roles(Op::ListRoles {
            path_prefix,
            marker: req.marker()?,
            max_items: req.max_items()?,
        }),
    )
}

fn decode_update_assume_role_policy(req: &Req<'_>) -> Result<Plan, ApiError> {
    let name = req.name("RoleName", 64)?;
    let document = req.document("PolicyDocument")?;
    let check = Check::own(
        "iam:UpdateAssumeRolePolicy",
        req.role_arn(&name),
        req.account,
    );
    new_plan(
        "UpdateAssumeRolePolicy",
        false,
        vec![check],
        Input::Roles(Op::UpdateAssumeRolePolicy { name, document }),
    )
}

pub(crate) async fn execute(iam: &Iam, call: &Call, out: Out, op: Op) -> Result<Reply, ApiError> {
    let account = call.ctx.caller.account.as_str();
    match op {
        Op::CreateRole {
            name,
            path,
            trust_policy,
            description,
            max_session_duration,
        } => {
            create_role(
                iam,
                account,
                out,
                &name,
                path.as_deref(),
                &trust_policy,
                description.as_deref(),
                max_session_duration,
            )
            .await
        }
        Op::GetRole { name } => get_role(iam, account, out, &name),
        Op::ListRoles {
            path_prefix,
            marker,
            max_items,
        } => list_roles(
            iam,
            account,
            out,
            path_prefix.as_deref(),
            marker.as_deref(),
            max_items,
        ),
        Op::DeleteRole { name } => delete_role(iam, account, out, &name).await,
        Op::UpdateAssumeRolePolicy { name, document } => {
            update_assume_role_policy(iam, account, out, &name, &document).await
        }
    }
}

/// The members of IAM's `Role` shape.
fn write_role(w: &mut XmlWriter, r: &Role) {
    w.elem("Path", &r.path)
        .elem("RoleName", &r.name)
        .elem("RoleId", &r.role_id)
        .elem("Arn", &r.arn)
        .elem("CreateDate", &wire::time(r.created))
        .elem("AssumeRolePolicyDocument", &wire::document(&r.trust_policy))
        .opt("Description", r.description.as_deref())
        .elem("MaxSessionDuration", &r.max_session_duration.to_string());
}

#[allow(clippy::too_many_arguments)]
async fn create_role(
    iam: &Iam,
    account: &str,
    out: Out,
    name: &str,
    path: Option<&str>,
    trust_policy: &str,
    description: Option<&str>,
    max_session_duration: Option<u32>,
) -> Result<Reply, ApiError> {
    let role = iam
        .create_role(
            account,
            name,
            path,
            trust_policy,
            description,
            max_session_duration,
        )
        .await?;
    let elements = json!({"role": {
        "path": role.path, "roleName": role.name, "roleId": role.role_id, "arn": role.arn,
        "createDate": wire::time(role.created), "assumeRolePolicyDocument": wire::document(&role.trust_policy),
        "maxSessionDuration": role.max_session_duration,
    }});
    Ok(out
        .result(|w| {
            w.open("Role");
            write_role(w, &role);
            w.close("Role");
        })
        .with_response_elements(elements))
}

fn get_role(iam: &Iam, account: &str, out: Out, name: &str) -> Result<Reply, ApiError> {
    let role = iam.role(account, name)?;
    Ok(out.result(|w| {
        w.open("Role");
        write_role(w, &role);
        w.close("Role");
    }))
}

fn list_roles(
    iam: &Iam,
    account: &str,
    out: Out,
    path_prefix: Option<&str>,
    marker: Option<&str>,
    max_items: usize,
) -> Result<Reply, ApiError> {
    let page = iam.list_roles(account, path_prefix, marker, max_items)?;
    Ok(out.result(|w| {
        w.open("Roles");
        for r in &page.items {
            w.open("member");
            write_role(w, r);
            w.close("member");
        }
        w.close("Roles");
        wire::truncation(w, page.marker.as_deref());
    }))
}

async fn delete_role(iam: &Iam, account: &str, out: Out, name: &str) -> Result<Reply, ApiError> {
    iam.delete_role(account, name).await?;
    Ok(out.empty())
}

async fn update_assume_role_policy(
    iam: &Iam,
    account: &str,
    out: Out,
    name: &str,
    document: &str,
) -> Result<Reply, ApiError> {
    iam.update_assume_role_policy(account, name, document)
        .await?;
    Ok(out.empty())
}
