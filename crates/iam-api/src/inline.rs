//! Inline policies of users and roles: Put/Get/List/Delete UserPolicy and RolePolicy.

use api::{ApiError, Call, Check, Plan, Reply};
use iam::Iam;
use ids::IamNameKind;

use crate::input::{plan as new_plan, Req};
use crate::wire::{self, Out};
use crate::Input;

/// The identity an inline policy belongs to.
pub(crate) enum Owner {
    User(String),
    Role(String),
}

impl Owner {
    fn name(&self) -> &str {
        match self {
            Owner::User(n) | Owner::Role(n) => n,
        }
    }

    /// The member naming the owner in requests and responses.
    fn member(&self) -> &'static str {
        match self {
            Owner::User(_) => "UserName",
            Owner::Role(_) => "RoleName",
        }
    }
}

pub(crate) enum Op {
    Put {
        owner: Owner,
        policy_name: String,
        document: String,
    },
    Get {
        owner: Owner,
        policy_name: String,
    },
    List {
        owner: Owner,
        marker: Option<String>,
        max_items: usize,
    },
    Delete {
        owner: Owner,
        policy_name: String,
    },
}

pub(crate) fn plan(action: &str, req: &Req<'_>) -> Option<Result<Plan, ApiError>> {
    let (operation, read_only): (&'static str, bool) = match action {
        "PutUserPolicy" => ("PutUserPolicy", false),
        "GetUserPolicy" => ("GetUserPolicy", true),
        "ListUserPolicies" => ("ListUserPolicies", true),
        "DeleteUserPolicy" => ("DeleteUserPolicy", false),
        "PutRolePolicy" => ("PutRolePolicy", false),
        "GetRolePolicy" => ("GetRolePolicy", true),
        "ListRolePolicies" => ("ListRolePolicies", true),
        "DeleteRolePolicy" => ("DeleteRolePolicy", false),
        _ => return None,
    };
    Some(decode(req, operation).and_then(|(op, arn)| {
        new_plan(
            operation,
            read_only,
            vec![Check::own(format!("iam:{operation}"), arn, req.account)],
            Input::Inline(op),
        )
    }))
}

/// Decodes the request and returns it with the ARN of the owning user or role.
fn decode(req: &Req<'_>, operation: &str) -> Result<(Op, String), ApiError> {
    let (owner, arn) = if operation.contains("User") {
        let name = req.name("UserName", 128)?;
        let arn = req.user_arn(&name);
        (Owner::User(name), arn)
    } else {
        let name = req.name("RoleName", 64)?;
        let arn = req.role_arn(&name);
        (Owner::Role(name), arn)
    };
    let op = match operation {
        "PutUserPolicy" | "PutRolePolicy" => Op::Put {
            owner,
            policy_name: req.new_name("PolicyName", IamNameKind::Policy)?,
            document: req.document("PolicyDocument")?,
        },
        "GetUserPolicy" | "GetRolePolicy" => Op::Get {
            owner,
            policy_name: req.name("PolicyName", 128)?,
        },
        "ListUserPolicies" | "ListRolePolicies" => Op::List {
            owner,
            marker: req.marker()?,
            max_items: req.max_items()?,
        },
        _ => Op::Delete {
            owner,
            policy_name: req.name("PolicyName", 128)?,
        },
    };
    Ok((op, arn))
}

pub(crate) async fn execute(iam: &Iam, call: &Call, out: Out, op: Op) -> Result<Reply, ApiError> {
    let account = call.ctx.caller.account.as_str();
    match op {
        Op::Put {
            owner: Owner::User(user),
            policy_name,
            document,
        } => put_user_policy(iam, account, out, &user, &policy_name, &document).await,
        Op::Put {
            owner: Owner::Role(role),
            policy_name,
            document,
        } => put_role_policy(iam, account, out, &role, &policy_name, &document).await,
        Op::Get {
            owner: Owner::User(user),
            policy_name,
        } => {
            let doc = iam.user_policy(account, &user, &policy_name)?;
            Ok(get_user_policy(out, &Owner::User(user), &policy_name, &doc))
        }
        Op::Get {
            owner: Owner::Role(role),
            policy_name,
        } => {
            let doc = iam.role_policy(account, &role, &policy_name)?;
            Ok(get_role_policy(out, &Owner::Role(role), &policy_name, &doc))
        }
        Op::List {
            owner,
            marker,
            max_items,
        } => match &owner {
            Owner::User(user) => {
                let page = iam.list_user_policies(account, user, marker.as_deref(), max_items)?;
                Ok(list_user_policies(out, &page.items, page.marker.as_deref()))
            }
            Owner::Role(role) => {
                let page = iam.list_role_policies(account, role, marker.as_deref(), max_items)?;
                Ok(list_role_policies(out, &page.items, page.marker.as_deref()))
            }
        },
        Op::Delete {
            owner: Owner::User(user),
            policy_name,
        } => delete_user_policy(iam, account, out, &user, &policy_name).await,
        Op::Delete {
            owner: Owner::Role(role),
            policy_name,
        } => delete_role_policy(iam, account, out, &role, &policy_name).await,
    }
}

async fn put_user_policy(
    iam: &Iam,
    account: &str,
    out: Out,
    user: &str,
    policy_name: &str,
    document: &str,
) -> Result<Reply, ApiError> {
    iam.put_user_policy(account, user, policy_name, document)
        .await?;
    Ok(out.empty())
}

async fn put_role_policy(
    iam: &Iam,
    account: &str,
    out: Out,
    role: &str,
    policy_name: &str,
    document: &str,
) -> Result<Reply, ApiError> {
    iam.put_role_policy(account, role, policy_name, document)
        .await?;
    Ok(out.empty())
}

fn get_user_policy(out: Out, owner: &Owner, policy_name: &str, document: &str) -> Reply {
    inline_policy(out, owner, policy_name, document)
}

fn get_role_policy(out: Out, owner: &Owner, policy_name: &str, document: &str) -> Reply {
    inline_policy(out, owner, policy_name, document)
}

/// The shared result of GetUserPolicy and GetRolePolicy.
fn inline_policy(out: Out, owner: &Owner, policy_name: &str, document: &str) -> Reply {
    out.result(|w| {
        w.elem(owner.member(), owner.name())
            .elem("PolicyName", policy_name)
            .elem("PolicyDocument", &wire::document(document));
    })
}

fn list_user_policies(out: Out, names: &[String], marker: Option<&str>) -> Reply {
    policy_names(out, names, marker)
}

fn list_role_policies(out: Out, names: &[String], marker: Option<&str>) -> Reply {
    policy_names(out, names, marker)
}

/// The shared result of ListUserPolicies and ListRolePolicies.
fn policy_names(out: Out, names: &[String], marker: Option<&str>) -> Reply {
    out.result(|w| {
        w.open("PolicyNames");
        for n in names {
            w.elem("member", n);
        }
        w.close("PolicyNames");
        wire::truncation(w, marker);
    })
}

async fn delete_user_policy(
    iam: &Iam,
    account: &str,
    out: Out,
    user: &str,
    policy_name: &str,
) -> Result<Reply, ApiError> {
    iam.delete_user_policy(account, user, policy_name).await?;
    Ok(out.empty())
}

async fn delete_role_policy(
    iam: &Iam,
    account: &str,
    out: Out,
    role: &str,
    policy_name: &str,
) -> Result<Reply, ApiError> {
    iam.delete_role_policy(account, role, policy_name).await?;
    Ok(out.empty())
}
