//! IAM users: CreateUser, GetUser, ListUsers, DeleteUser.

use api::xml::XmlWriter;
use api::{ApiError, Call, Check, Plan, Reply};
use iam::{Iam, User};
use ids::IamNameKind;
use serde_json::json;

use crate::input::{plan as new_plan, Req, Subject};
use crate::wire::{self, Out};
use crate::Input;

pub(crate) enum Op {
    CreateUser {
        name: String,
        path: Option<String>,
    },
    GetUser {
        subject: Subject,
    },
    ListUsers {
        path_prefix: Option<String>,
        marker: Option<String>,
        max_items: usize,
    },
    DeleteUser {
        name: String,
    },
}

pub(crate) fn plan(action: &str, req: &Req<'_>) -> Option<Result<Plan, ApiError>> {
    Some(match action {
        "CreateUser" => decode_create_user(req),
        "GetUser" => req.subject().and_then(|subject| {
            let arn = req.subject_arn(&subject);
            new_plan(
                "GetUser",
                true,
                vec![Check::own("iam:GetUser", arn, req.account)],
                Input::Users(Op::GetUser { subject }),
            )
        }),
        "ListUsers" => decode_list_users(req),
        "DeleteUser" => req.name("UserName", 128).and_then(|name| {
            new_plan(
                "DeleteUser",
                false,
                vec![Check::own(
                    "iam:DeleteUser",
                    req.user_arn(&name),
                    req.account,
                )],
                Input::Users(Op::DeleteUser { name }),
            )
        }),
        _ => return None,
    })
}

fn decode_create_user(req: &Req<'_>) -> Result<Plan, ApiError> {
    let name = req.new_name("UserName", IamNameKind::User)?;
    let path = req.path("Path")?;
    let arn = format!(
        "arn:aws:iam::{}:user{}{name}",
        req.account,
        path.as_deref().unwrap_or("/")
    );
    new_plan(
        "CreateUser",
        false,
        vec![Check::own("iam:CreateUser", arn, req.account)],
        Input::Users(Op::CreateUser { name, path }),
    )
}

fn decode_list_users(req: &Req<'_>) -> Result<Plan, ApiError> {
    let path_prefix = req.path_prefix()?;
    let marker = req.marker()?;
    let max_items = req.max_items()?;
    // IAM authorizes listing against the path being listed: `user/` for all users.
    let arn = format!(
        "arn:aws:iam::{}:user{}",
        req.account,
        path_prefix.as_deref().unwrap_or("/")
    );
    new_plan(
        "ListUsers",
        true,
        vec![Check::own("iam:ListUsers", arn, req.account)],
        Input::Users(Op::ListUsers {
            path_prefix,
            marker,
            max_items,
        }),
    )
}

pub(crate) async fn execute(iam: &Iam, call: &Call, out: Out, op: Op) -> Result<Reply, ApiError> {
    match op {
        Op::CreateUser { name, path } => create_user(iam, call, out, &name, path.as_deref()).await,
        Op::GetUser { subject } => get_user(iam, call, out, &subject),
        Op::ListUsers {
            path_prefix,
            marker,
            max_items,
        } => list_users(
            iam,
            call,
            out,
            path_prefix.as_deref(),
            marker.as_deref(),
            max_items,
        ),
        Op::DeleteUser { name } => delete_user(iam, call, out, &name).await,
    }
}

/// The members of IAM's `User` shape.
fn write_user(w: &mut XmlWriter, u: &User) {
    w.elem("Path", &u.path)
        .elem("UserName", &u.name)
        .elem("UserId", &u.user_id)
        .elem("Arn", &u.arn)
        .elem("CreateDate", &wire::time(u.created));
}

async fn create_user(
    iam: &Iam,
    call: &Call,
    out: Out,
    name: &str,
    path: Option<&str>,
) -> Result<Reply, ApiError> {
    let user = iam
        .create_user(&call.ctx.caller.account, name, path)
        .await?;
    let elements = json!({"user": {
        "path": user.path, "userName": user.name, "userId": user.user_id, "arn": user.arn,
        "createDate": wire::time(user.created),
    }});
    Ok(out
        .result(|w| {
            w.open("User");
            write_user(w, &user);
            w.close("User");
        })
        .with_response_elements(elements))
}

/// GetUser; without a user name, the caller itself. For the root user IAM answers with the account: its id as
/// the user id, the root ARN, and the account's creation date.
fn get_user(iam: &Iam, call: &Call, out: Out, subject: &Subject) -> Result<Reply, ApiError> {
    let account = &call.ctx.caller.account;
    match subject {
        Subject::User(name) => {
            let user = iam.user(account, name)?;
            Ok(out.result(|w| {
                w.open("User");
                write_user(w, &user);
                w.close("User");
            }))
        }
        Subject::Root => {
            let created = iam.account(account)?.map(|a| a.created).ok_or_else(|| {
                ApiError::internal(format!("account {account} of a caller is missing"))
            })?;
            Ok(out.result(|w| {
                w.open("User")
                    .elem("UserId", account)
                    .elem("Arn", &format!("arn:aws:iam::{account}:root"))
                    .elem("CreateDate", &wire::time(created))
                    .close("User");
            }))
        }
    }
}

fn list_users(
    iam: &Iam,
    call: &Call,
    out: Out,
    path_prefix: Option<&str>,
    marker: Option<&str>,
    max_items: usize,
) -> Result<Reply, ApiError> {
    let page = iam.list_users(&call.ctx.caller.account, path_prefix, marker, max_items)?;
    Ok(out.result(|w| {
        w.open("Users");
        for u in &page.items {
            w.open("member");
            write_user(w, u);
            w.close("member");
        }
        w.close("Users");
        wire::truncation(w, page.marker.as_deref());
    }))
}

async fn delete_user(iam: &Iam, call: &Call, out: Out, name: &str) -> Result<Reply, ApiError> {
    iam.delete_user(&call.ctx.caller.account, name).await?;
    Ok(out.empty())
}
