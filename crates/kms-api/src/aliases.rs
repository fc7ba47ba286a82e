//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases. Changing an alias needs permission on the alias
//! (IAM policies) and on every key it points at before and after (key policies), as in AWS.

use api::{ApiError, Call, Reply};
use kms::KeyRecord;
use serde_json::Value;

use crate::authz::{KeyUse, Planned, Req, Target};
use crate::{engine_error, wire, Input, KmsService};

/// ListAliases' default page size.
const DEFAULT_LIMIT: usize = 100;

pub(crate) enum Op {
    CreateAlias {
        name: String,
        target: KeyRecord,
    },
    UpdateAlias {
        name: String,
        target: KeyRecord,
    },
    DeleteAlias {
        name: String,
    },
    ListAliases {
        key: Option<KeyRecord>,
        marker: Option<String>,
        limit: usize,
    },
}

pub(crate) fn plan(req: &Req<'_>) -> Option<Result<Planned, ApiError>> {
    Some(match req.operation {
        "CreateAlias" => plan_create_alias(req),
        "UpdateAlias" => plan_update_alias(req),
        "DeleteAlias" => plan_delete_alias(req),
        "ListAliases" => plan_list_aliases(req),
        _ => return None,
    })
}

impl Req<'_> {
    /// `arn:aws:kms:<region>:<account>:<alias name>`.
    fn alias_arn(&self, name: &str) -> String {
        kms::alias_arn(self.region(), self.account(), name)
    }

    /// The key an existing alias points at; `NotFoundException` when the alias does not exist.
    fn alias_target(&self, name: &str) -> Result<Target, ApiError> {
        let alias = self
            .kms
            .alias(self.account(), self.region(), name)
            .map_err(engine_error)?
            .ok_or_else(|| {
                ApiError::bad_request(
                    "NotFoundException",
                    format!("Alias {} is not found.", self.alias_arn(name)),
                )
            })?;
        let key = self
            .kms
            .resolve(self.account(), self.region(), &alias.target_key_id)
            .map_err(engine_error)?;
        Ok(Target { key, alias: None })
    }
}

fn plan_create_alias(req: &Req<'_>) -> Result<Planned, ApiError> {
    let name = req.body.alias_name("AliasName")?;
    let target = req.key("TargetKeyId")?;
    let alias_check = req.identity_check("CreateAlias", &req.alias_arn(&name), Vec::new());
    let key_check = req.key_check(&target, "CreateAlias", KeyUse::default())?;
    Ok(Planned::new(Input::Aliases(Op::CreateAlias {
        name,
        target: target.key.clone(),
    }))
    .on_key(&target.key)
    .check(alias_check)
    .check(key_check))
}

fn plan_update_alias(req: &Req<'_>) -> Result<Planned, ApiError> {
    let name = req.body.alias_name("AliasName")?;
    let target = req.key("TargetKeyId")?;
    let current = req.alias_target(&name)?;
    let alias_check = req.identity_check("UpdateAlias", &req.alias_arn(&name), Vec::new());
    let old_check = req.key_check(&current, "UpdateAlias", KeyUse::default())?;
    let new_check = req.key_check(&target, "UpdateAlias", KeyUse::default())?;
    Ok(Planned::new(Input::Aliases(Op::UpdateAlias {
        name,
        target: target.key.clone(),
    }))
    .on_key(&target.key)
    .on_key(&current.key)
    .check(alias_check)
    .check(old_check)
    .check(new_check))
}

fn plan_delete_alias(req: &Req<'_>) -> Result<Planned, ApiError> {
    let name = req.body.alias_name("AliasName")?;
    if name.starts_with("alias/aws/") {
        return Err(ApiError::bad_request(
            "NotAuthorizedException",
            "The alias prefix alias/aws/ is reserved for AWS managed keys.",
        ));
    }
    let current = req.alias_target(&name)?;
    let alias_check = req.identity_check("DeleteAlias", &req.alias_arn(&name), Vec::new());
    let key_check = req.key_check(&current, "DeleteAlias", KeyUse::default())?;
    Ok(Planned::new(Input::Aliases(Op::DeleteAlias { name }))
        .on_key(&current.key)
        .check(alias_check)
        .check(key_check))
}

fn plan_list_aliases(req: &Req<'_>) -> Result<Planned, ApiError> {
    let key = req
        .body
        .opt_key_id("KeyId")?
        .map(|r| req.resolve(&r))
        .transpose()?;
    let page = req.body.page()?;
    let mut planned = Planned::new(Input::Aliases(Op::ListAliases {
        key: key.as_ref().map(|t| t.key.clone()),
        marker: page.marker.clone(),
        limit: page.limit_or(DEFAULT_LIMIT),
    }))
    .check(req.identity_check("ListAliases", "*", Vec::new()));
    if let Some(t) = &key {
        planned = planned.on_key(&t.key);
    }
    Ok(planned)
}

pub(crate) async fn execute(svc: &KmsService, call: &Call, op: Op) -> Result<Reply, ApiError> {
    let (account, region) = (namespace(call), call.ctx.region.as_str());
    let kms = &svc.kms;
    match op {
        Op::CreateAlias { name, target } => {
            kms.create_alias(account, region, &name, &target)
                .await
                .map_err(engine_error)?;
            Ok(wire::empty())
        }
        Op::UpdateAlias { name, target } => {
            kms.update_alias(account, region, &name, &target)
                .await
                .map_err(engine_error)?;
            Ok(wire::empty())
        }
        Op::DeleteAlias { name } => {
            kms.delete_alias(account, region, &name)
                .await
                .map_err(engine_error)?;
            Ok(wire::empty())
        }
        Op::ListAliases { key, marker, limit } => {
            let page = kms
                .list_aliases(account, region, key.as_ref(), marker.as_deref(), limit)
                .map_err(engine_error)?;
            let items = page
                .items
                .iter()
                .map(serde_json::to_value)
                .collect::<Result<Vec<Value>, _>>()
                .map_err(ApiError::internal)?;
            Ok(wire::reply(&wire::page("Aliases", items, page.next_marker)))
        }
    }
}

/// The account whose aliases a call works on (see [`Req::account`]).
fn namespace(call: &Call) -> &str {
    let ctx = &call.ctx;
    if ctx.caller.account.is_empty() {
        ctx.source_account.as_deref().unwrap_or_default()
    } else {
        &ctx.caller.account
    }
}
