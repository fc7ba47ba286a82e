//! Managed policies and their attachments: CreatePolicy, GetPolicy, GetPolicyVersion, ListPolicies,
//! DeletePolicy, Attach/Detach/ListAttached UserPolicies and RolePolicies.

use api::xml::XmlWriter;
use api::{ApiError, Call, Check, Plan, Reply};
use iam::{Iam, IamError, ManagedPolicy};
use ids::IamNameKind;
use serde_json::json;

use crate::inline::Owner;
use crate::input::{check_len, plan as new_plan, validation, Req};
use crate::wire::{self, Out};
use crate::Input;

pub(crate) enum Op {
    CreatePolicy {
        name: String,
        path: Option<String>,
        document: String,
        description: Option<String>,
    },
    GetPolicy {
        arn: String,
    },
    GetPolicyVersion {
        arn: String,
        version: String,
    },
    ListPolicies {
        scope: String,
        only_attached: bool,
        path_prefix: Option<String>,
        marker: Option<String>,
        max_items: usize,
    },
    DeletePolicy {
        arn: String,
    },
    Attach {
        owner: Owner,
        arn: String,
    },
    Detach {
        owner: Owner,
        arn: String,
    },
    ListAttached {
        owner: Owner,
        path_prefix: Option<String>,
        marker: Option<String>,
        max_items: usize,
    },
}

pub(crate) fn plan(action: &str, req: &Req<'_>) -> Option<Result<Plan, ApiError>> {
    Some(match action {
        "CreatePolicy" => decode_create_policy(req),
        "GetPolicy" => req.arn("PolicyArn").and_then(|arn| {
            let check = policy_check(req, "iam:GetPolicy", &arn);
            new_plan(
                "GetPolicy",
                true,
                vec![check],
                Input::Policies(Op::GetPolicy { arn }),
            )
        }),
        "GetPolicyVersion" => decode_get_policy_version(req),
        "ListPolicies" => decode_list_policies(req),
        "DeletePolicy" => req.arn("PolicyArn").and_then(|arn| {
            let check = policy_check(req, "iam:DeletePolicy", &arn);
            new_plan(
                "DeletePolicy",
                false,
                vec![check],
                Input::Policies(Op::DeletePolicy { arn }),
            )
        }),
        "AttachUserPolicy" | "AttachRolePolicy" | "DetachUserPolicy" | "DetachRolePolicy" => {
            decode_attachment(req, action)
        }
        "ListAttachedUserPolicies" | "ListAttachedRolePolicies" => {
            decode_list_attached(req, action)
        }
        _ => return None,
    })
}

/// The account a policy ARN belongs to for authorization: AWS-managed policies are readable by every
/// account, so they count as the caller's own.
fn policy_check(req: &Req<'_>, action: &str, arn: &str) -> Check {
    let owner = arn
        .strip_prefix("arn:aws:iam::")
        .and_then(|rest| rest.split_once(':'))
        .map(|(account, _)| account)
        .filter(|a| !a.is_empty() && *a != "aws")
        .unwrap_or(req.account);
    let mut check = Check::own(action, arn, req.account);
    check.resource_account = owner.to_owned();
    check
}

fn decode_create_policy(req: &Req<'_>) -> Result<Plan, ApiError> {
    let name = req.new_name("PolicyName", IamNameKind::Policy)?;
    let path = req.path("Path")?;
    let document = req.document("PolicyDocument")?;
    let description = req.opt("Description").map(str::to_owned);
    if let Some(d) = &description {
        check_len(d, "Description", 0, 1000)?;
    }
    let arn = format!(
        "arn:aws:iam::{}:policy{}{name}",
        req.account,
        path.as_deref().unwrap_or("/")
    );
    new_plan(
        "CreatePolicy",
        false,
        vec![Check::own("iam:CreatePolicy", arn, req.account)],
        Input::Policies(Op::CreatePolicy {
            name,
            path,
            document,
            description,
        }),
    )
}

fn decode_get_policy_version(req: &Req<'_>) -> Result<Plan, ApiError> {
    let arn = req.arn("PolicyArn")?;
    let version = req.required("VersionId")?.to_owned();
    let digits = version.strip_prefix('v').unwrap_or("");
    let number = digits.split('.').next().unwrap_or("");
    if number.is_empty() || number.starts_with('0') || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(validation(
            &version,
            "versionId",
            "Member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?",
        ));
    }
    let check = policy_check(req, "iam:GetPolicyVersion", &arn);
    new_plan(
        "GetPolicyVersion",
        true,
        vec![check],
        Input::Policies(Op::GetPolicyVersion { arn, version }),
    )
}

fn decode_list_policies(req: &Req<'_>) -> Result<Plan, ApiError> {
    let scope = req.opt("Scope").unwrap_or("All").to_owned();
    if !matches!(scope.as_str(), "All" | "AWS" | "Local") {
        return Err(validation(
            &scope,
            "scope",
            "Member must satisfy enum value set: [All, AWS, Local]",
        ));
    }
    if let Some(u) = req.opt("PolicyUsageFilter") {
        if !matches!(u, "PermissionsPolicy" | "PermissionsBoundary") {
            return Err(validation(
                u,
                "policyUsageFilter",
                "Member must satisfy enum value set: [PermissionsPolicy, PermissionsBoundary]",
            ));
        }
    }
    let only_attached = req.params.bool("OnlyAttached")?.unwrap_or(false);
    let path_prefix = req.path_prefix()?;
    let arn = format!(
        "arn:aws:iam::{}:policy{}",
        req.account,
        path_prefix.as_deref().unwrap_or("/")
    );
    new_plan(
        "ListPolicies",
        true,
        vec![Check::own("iam:ListPolicies", arn, req.account)],
        Input::Policies(Op::ListPolicies {
            scope,
            only_attached,
            path_prefix,
            marker: req.marker()?,
            max_items: req.max_items()?,
        }),
    )
}

/// The owner named by `UserName` or `RoleName`, and its ARN.
fn owner(req: &Req<'_>, action: &str) -> Result<(Owner, String), ApiError> {
    if action.contains("User") {
        let name = req.name("UserName", 64)?;
        let arn = req.user_arn(&name);
        Ok((Owner::User(name), arn))
    } else {
        let name = req.name("RoleName", 64)?;
        let arn = req.role_arn(&name);
        Ok((Owner::Role(name), arn))
    }
}

fn decode_attachment(req: &Req<'_>, action: &str) -> Result<Plan, ApiError> {
    let (owner, owner_arn) = owner(req, action)?;
    let arn = req.arn("PolicyArn")?;
    let (operation, op): (&'static str, Op) = match action {
        "AttachUserPolicy" => (
            "AttachUserPolicy",
            Op::Attach {
                owner,
                arn: arn.clone(),
            },
        ),
        "AttachRolePolicy" => (
            "AttachRolePolicy",
            Op::Attach {
                owner,
                arn: arn.clone(),
            },
        ),
        "DetachUserPolicy" => (
            "DetachUserPolicy",
            Op::Detach {
                owner,
                arn: arn.clone(),
            },
        ),
        _ => (
            "DetachRolePolicy",
            Op::Detach {
                owner,
                arn: arn.clone(),
            },
        ),
    };
    // IAM authorizes attachments against the user or role, with the policy in `iam:PolicyARN`.
    let mut check = Check::own(format!("iam:{operation}"), owner_arn, req.account);
    check.context.push(("iam:PolicyARN".into(), vec![arn]));
    new_plan(operation, false, vec![check], Input::Policies(op))
}

fn decode_list_attached(req: &Req<'_>, action: &str) -> Result<Plan, ApiError> {
    let (owner, owner_arn) = owner(req, action)?;
    let operation = if action == "ListAttachedUserPolicies" {
        "ListAttachedUserPolicies"
    } else {
        "ListAttachedRolePolicies"
    };
    new_plan(
        operation,
        true,
        vec![Check::own(
            format!("iam:{operation}"),
            owner_arn,
            req.account,
        )],
        Input::Policies(Op::ListAttached {
            owner,
            path_prefix: req.path_prefix()?,
            marker: req.marker()?,
            max_items: req.max_items()?,
        }),
    )
}

pub(crate) async fn execute(iam: &Iam, call: &Call, out: Out, op: Op) -> Result<Reply, ApiError> {
    let account = call.ctx.caller.account.as_str();
    match op {
        Op::CreatePolicy {
            name,
            path,
            document,
            description,
        } => {
            create_policy(
                iam,
                account,
                out,
                &name,
                path.as_deref(),
                &document,
                description.as_deref(),
            )
            .await
        }
        Op::GetPolicy { arn } => get_policy(iam, out, &arn),
        Op::GetPolicyVersion { arn, version } => get_policy_version(iam, out, &arn, &version),
        Op::ListPolicies {
            scope,
            only_attached,
            path_prefix,
            marker,
            max_items,
        } => list_policies(
            iam,
            account,
            out,
            &scope,
            only_attached,
            path_prefix.as_deref(),
            marker.as_deref(),
            max_items,
        ),
        Op::DeletePolicy { arn } => delete_policy(iam, account, out, &arn).await,
        Op::Attach {
            owner: Owner::User(user),
            arn,
        } => attach_user_policy(iam, account, out, &user, &arn).await,
        Op::Attach {
            owner: Owner::Role(role),
            arn,
        } => attach_role_policy(iam, account, out, &role, &arn).await,
        Op::Detach {
            owner: Owner::User(user),
            arn,
        } => detach_user_policy(iam, account, out, &user, &arn).await,
        Op::Detach {
            owner: Owner::Role(role),
            arn,
        } => detach_role_policy(iam, account, out, &role, &arn).await,
        Op::ListAttached {
            owner: Owner::User(user),
            path_prefix,
            marker,
            max_items,
        } => {
            let attached = iam.list_attached(account, "user", &user)?;
            Ok(list_attached_user_policies(
                out,
                attached,
                path_prefix.as_deref(),
                marker.as_deref(),
                max_items,
            ))
        }
        Op::ListAttached {
            owner: Owner::Role(role),
            path_prefix,
            marker,
            max_items,
        } => {
            let attached = iam.list_attached(account, "role", &role)?;
            Ok(list_attached_role_policies(
                out,
                attached,
                path_prefix.as_deref(),
                marker.as_deref(),
                max_items,
            ))
        }
    }
}

/// The members of IAM's `Policy` shape; `Description` only where IAM returns it (Create/GetPolicy).
fn write_policy(w: &mut XmlWriter, p: &ManagedPolicy, with_description: bool) {
    w.elem("PolicyName", &p.name)
        .elem("PolicyId", &p.policy_id)
        .elem("Arn", &p.arn)
        .elem("Path", &p.path)
        .elem("DefaultVersionId", &p.default_version)
        .elem("AttachmentCount", &p.attachment_count.to_string())
        .elem("PermissionsBoundaryUsageCount", "0")
        .elem("IsAttachable", "true");
    if with_description {
        w.opt("Description", p.description.as_deref());
    }
    w.elem("CreateDate", &wire::time(p.created))
        .elem("UpdateDate", &wire::time(p.updated));
}

#[allow(clippy::too_many_arguments)]
async fn create_policy(
    iam: &Iam,
    account: &str,
    out: Out,
    name: &str,
    path: Option<&str>,
    document: &str,
    description: Option<&str>,
) -> Result<Reply, ApiError> {
    let p = iam
        .create_policy(account, name, path, document, description)
        .await?;
    let elements = json!({"policy": {
        "policyName": p.name, "policyId": p.policy_id, "arn": p.arn, "path": p.path,
        "defaultVersionId": p.default_version, "attachmentCount": p.attachment_count,
        "permissionsBoundaryUsageCount": 0, "isAttachable": true,
        "createDate": wire::time(p.created), "updateDate": wire::time(p.updated),
    }});
    Ok(out
        .result(|w| {
            w.open("Policy");
            write_policy(w, &p, true);
            w.close("Policy");
        })
        .with_response_elements(elements))
}

fn get_policy(iam: &Iam, out: Out, arn: &str) -> Result<Reply, ApiError> {
    let p = iam.managed_policy(arn)?;
    Ok(out.result(|w| {
        w.open("Policy");
        write_policy(w, &p, true);
        w.close("Policy");
    }))
}

fn get_policy_version(iam: &Iam, out: Out, arn: &str, version: &str) -> Result<Reply, ApiError> {
    let p = iam.managed_policy(arn)?;
    let v = p.versions.iter().find(|v| v.id == version).ok_or_else(|| {
        ApiError::from(IamError::NoSuchEntity(format!(
            "Policy {arn} version {version} does not exist or is not attachable."
        )))
    })?;
    Ok(out.result(|w| {
        w.open("PolicyVersion")
            .elem("Document", &wire::document(&v.document))
            .elem("VersionId", &v.id)
            .elem(
                "IsDefaultVersion",
                if v.id == p.default_version {
                    "true"
                } else {
                    "false"
                },
            )
            .elem("CreateDate", &wire::time(v.created))
            .close("PolicyVersion");
    }))
}

#[allow(clippy::too_many_arguments)]
fn list_policies(
    iam: &Iam,
    account: &str,
    out: Out,
    scope: &str,
    only_attached: bool,
    path_prefix: Option<&str>,
    marker: Option<&str>,
    max_items: usize,
) -> Result<Reply, ApiError> {
    let page = iam.list_policies(
        account,
        scope,
        only_attached,
        path_prefix,
        marker,
        max_items,
    )?;
    Ok(out.result(|w| {
        w.open("Policies");
        for p in &page.items {
            w.open("member");
            write_policy(w, p, false);
            w.close("member");
        }
        w.close("Policies");
        wire::truncation(w, page.marker.as_deref());
    }))
}

async fn delete_policy(iam: &Iam, account: &str, out: Out, arn: &str) -> Result<Reply, ApiError> {
    iam.delete_policy(account, arn).await?;
    Ok(out.empty())
}

async fn attach_user_policy(
    iam: &Iam,
    account: &str,
    out: Out,
    user: &str,
    arn: &str,
) -> Result<Reply, ApiError> {
    iam.attach_policy(account, "user", user, arn).await?;
    Ok(out.empty())
}

async fn attach_role_policy(
    iam: &Iam,
    account: &str,
    out: Out,
    role: &str,
    arn: &str,
) -> Result<Reply, ApiError> {
    iam.attach_policy(account, "role", role, arn).await?;
    Ok(out.empty())
}

async fn detach_user_policy(
    iam: &Iam,
    account: &str,
    out: Out,
    user: &str,
    arn: &str,
) -> Result<Reply, ApiError> {
    iam.detach_policy(account, "user", user, arn).await?;
    Ok(out.empty())
}

async fn detach_role_policy(
    iam: &Iam,
    account: &str,
    out: Out,
    role: &str,
    arn: &str,
) -> Result<Reply, ApiError> {
    iam.detach_policy(account, "role", role, arn).await?;
    Ok(out.empty())
}

fn list_attached_user_policies(
    out: Out,
    attached: Vec<(String, String)>,
    path_prefix: Option<&str>,
    marker: Option<&str>,
    max_items: usize,
) -> Reply {
    attached_policies(out, attached, path_prefix, marker, max_items)
}

fn list_attached_role_policies(
    out: Out,
    attached: Vec<(String, String)>,
    path_prefix: Option<&str>,
    marker: Option<&str>,
    max_items: usize,
) -> Reply {
    attached_policies(out, attached, path_prefix, marker, max_items)
}

/// The path of a policy ARN (`/` for `policy/name`, `/a/` for `policy/a/name`).
fn policy_path(arn: &str) -> String {
    let resource = arn.split_once(":policy").map_or("/", |(_, r)| r);
    match resource.rfind('/') {
        Some(i) => resource[..=i].to_owned(),
        None => "/".to_owned(),
    }
}

/// The shared result of ListAttachedUserPolicies and ListAttachedRolePolicies.
fn attached_policies(
    out: Out,
    mut attached: Vec<(String, String)>,
    path_prefix: Option<&str>,
    marker: Option<&str>,
    max_items: usize,
) -> Reply {
    if let Some(prefix) = path_prefix {
        attached.retain(|(_, arn)| policy_path(arn).starts_with(prefix));
    }
    let (items, next) = wire::page(attached, |(_, arn)| arn.clone(), marker, max_items);
    out.result(|w| {
        w.open("AttachedPolicies");
        for (name, arn) in &items {
            w.open("member")
                .elem("PolicyName", name)
                .elem("PolicyArn", arn)
                .close("member");
        }
        w.close("AttachedPolicies");
        wire::truncation(w, next.as_deref());
    })
}

#[cfg(test)]
mod tests {
    use super::policy_path;

    #[test]
    fn policy_paths_come_from_arns() {
        assert_eq!(
            policy_path("arn:aws:iam::aws:policy/AdministratorAccess"),
            "/"
        );
        assert_eq!(
            policy_path("arn:aws:iam::123456789012:policy/team/a/P"),
            "/team/a/"
        );
    }
}
