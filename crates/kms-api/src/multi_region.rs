//! Multi-Region keys: ReplicateKey (a copy of a primary key in another region's namespace, sharing its key
//! material) and UpdatePrimaryRegion.

use api::{ApiError, Call, Reply};
use kms::{KeyRecord, Tag};
use serde_json::json;

use crate::authz::{cond, lockout_check, parse_key_policy, tag_conditions, KeyUse, Planned, Req};
use crate::keys::recorded;
use crate::{engine_error, wire, Input, KmsService};

pub(crate) enum Op {
    ReplicateKey {
        key: KeyRecord,
        region: String,
        policy: Option<String>,
        bypass_lockout_check: bool,
        description: Option<String>,
        tags: Vec<Tag>,
    },
    UpdatePrimaryRegion {
        key: KeyRecord,
        region: String,
    },
}

pub(crate) fn plan(req: &Req<'_>) -> Option<Result<Planned, ApiError>> {
    Some(match req.operation {
        "ReplicateKey" => plan_replicate_key(req),
        "UpdatePrimaryRegion" => plan_update_primary_region(req),
        _ => return None,
    })
}

fn plan_replicate_key(req: &Req<'_>) -> Result<Planned, ApiError> {
    let target = req.key("KeyId")?;
    let region = req.body.region("ReplicaRegion")?;
    let policy = req.body.policy("Policy")?;
    let bypass = req
        .body
        .bool("BypassPolicyLockoutSafetyCheck")?
        .unwrap_or(false);
    let description = req.body.string("Description", 0, 8192)?;
    let tags = req.body.tags("Tags")?.unwrap_or_default();
    let check = req.key_check(
        &target,
        "ReplicateKey",
        KeyUse {
            context: None,
            extra: vec![cond("kms:ReplicaRegion", region.clone())],
        },
    )?;
    // Making the replica is creating a key in the replica's region, as AWS authorizes it.
    let mut create = req.identity_check(
        "CreateKey",
        "*",
        vec![
            cond("kms:MultiRegion", "true"),
            cond("kms:MultiRegionKeyType", "REPLICA"),
            cond(
                "kms:BypassPolicyLockoutSafetyCheck",
                if bypass { "true" } else { "false" },
            ),
        ],
    );
    create
        .context
        .push(cond("aws:RequestedRegion", region.clone()));
    let mut planned = Planned::new(Input::MultiRegion(Op::ReplicateKey {
        key: target.key.clone(),
        region,
        policy,
        bypass_lockout_check: bypass,
        description,
        tags: tags
            .iter()
            .map(|(key, value)| Tag {
                key: key.clone(),
                value: value.clone(),
            })
            .collect(),
    }))
    .on_key(&target.key)
    .check(check)
    .check(create);
    if !tags.is_empty() {
        planned = planned.check(req.identity_check("TagResource", "*", tag_conditions(&tags)));
    }
    Ok(planned)
}

fn plan_update_primary_region(req: &Req<'_>) -> Result<Planned, ApiError> {
    let target = req.key("KeyId")?;
    let region = req.body.region("PrimaryRegion")?;
    let extra = || vec![cond("kms:PrimaryRegion", region.clone())];
    let check = req.key_check(
        &target,
        "UpdatePrimaryRegion",
        KeyUse {
            context: None,
            extra: extra(),
        },
    )?;
    let mut planned = Planned::new(Input::MultiRegion(Op::UpdatePrimaryRegion {
        key: target.key.clone(),
        region: region.clone(),
    }))
    .on_key(&target.key)
    .check(check);
    // The replica that becomes primary must allow it too.
    if target.key.is_multi_region() && region != target.key.region() {
        let arn = kms::key_arn(&region, target.key.account(), target.key.key_id());
        if let Ok(replica) = req.resolve(&arn) {
            let check = req.key_check(
                &replica,
                "UpdatePrimaryRegion",
                KeyUse {
                    context: None,
                    extra: extra(),
                },
            )?;
            planned = planned.on_key(&replica.key).check(check);
        }
    }
    Ok(planned)
}

pub(crate) async fn execute(svc: &KmsService, call: &Call, op: Op) -> Result<Reply, ApiError> {
    match op {
        Op::ReplicateKey {
            key,
            region,
            policy,
            bypass_lockout_check,
            description,
            tags,
        } => {
            if let Some(doc) = &policy {
                let parsed = parse_key_policy(doc)?;
                if !bypass_lockout_check {
                    let arn = kms::key_arn(&region, key.account(), key.key_id());
                    lockout_check(&svc.iam, &call.ctx, &parsed, &arn, key.account())?;
                }
            }
            let policy_text = policy
                .clone()
                .unwrap_or_else(|| kms::default_key_policy(key.account()));
            let meta = svc
                .kms
                .replicate_key(&key, &region, policy, description, tags.clone())
                .await
                .map_err(engine_error)?;
            let meta = serde_json::to_value(&meta).map_err(ApiError::internal)?;
            let body = json!({
                "ReplicaKeyMetadata": meta,
                "ReplicaPolicy": policy_text,
                "ReplicaTags": tags,
            });
            Ok(wire::reply(&body).with_response_elements(json!({
                "replicaKeyMetadata": recorded(&meta),
                "replicaPolicy": policy_text,
            })))
        }
        Op::UpdatePrimaryRegion { key, region } => {
            svc.kms
                .update_primary_region(&key, &region)
                .await
                .map_err(engine_error)?;
            Ok(wire::empty())
        }
    }
}
