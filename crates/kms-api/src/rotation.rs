//! Rotation: EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations.
//! Every earlier material version keeps decrypting after a rotation.

use api::{ApiError, Call, Reply};
use kms::KeyRecord;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::authz::{cond, KeyUse, Planned, Req};
use crate::{engine_error, wire, Input, KmsService};

/// ListKeyRotations' default page size.
const DEFAULT_LIMIT: usize = 100;

pub(crate) enum Op {
    EnableKeyRotation {
        key: KeyRecord,
        period_days: Option<u32>,
    },
    DisableKeyRotation {
        key: KeyRecord,
    },
    GetKeyRotationStatus {
        key: KeyRecord,
    },
    RotateKeyOnDemand {
        key: KeyRecord,
    },
    ListKeyRotations {
        key: KeyRecord,
        marker: Option<String>,
        limit: usize,
    },
}

pub(crate) fn plan(req: &Req<'_>) -> Option<Result<Planned, ApiError>> {
    Some(match req.operation {
        "EnableKeyRotation" => plan_enable_key_rotation(req),
        "DisableKeyRotation" => plan_on_key(req, |key| Op::DisableKeyRotation { key }),
        "GetKeyRotationStatus" => plan_on_key(req, |key| Op::GetKeyRotationStatus { key }),
        "RotateKeyOnDemand" => plan_on_key(req, |key| Op::RotateKeyOnDemand { key }),
        "ListKeyRotations" => plan_list_key_rotations(req),
        _ => return None,
    })
}

fn plan_on_key(req: &Req<'_>, op: impl FnOnce(KeyRecord) -> Op) -> Result<Planned, ApiError> {
    let target = req.key("KeyId")?;
    let check = req.key_check(&target, req.operation, KeyUse::default())?;
    Ok(Planned::new(Input::Rotation(op(target.key.clone())))
        .on_key(&target.key)
        .check(check))
}

fn plan_enable_key_rotation(req: &Req<'_>) -> Result<Planned, ApiError> {
    let target = req.key("KeyId")?;
    let period = req.body.int("RotationPeriodInDays", 90, 2560)?;
    // AWS evaluates kms:RotationPeriodInDays with the period that will apply, 365 by default.
    let extra = vec![cond(
        "kms:RotationPeriodInDays",
        period.unwrap_or(365).to_string(),
    )];
    let check = req.key_check(
        &target,
        "EnableKeyRotation",
        KeyUse {
            context: None,
            extra,
        },
    )?;
    Ok(Planned::new(Input::Rotation(Op::EnableKeyRotation {
        key: target.key.clone(),
        period_days: period.map(|p| p as u32),
    }))
    .on_key(&target.key)
    .check(check))
}

fn plan_list_key_rotations(req: &Req<'_>) -> Result<Planned, ApiError> {
    let target = req.key("KeyId")?;
    req.body.enumerated(
        "IncludeKeyMaterial",
        &["ALL_KEY_MATERIAL", "ROTATIONS_ONLY"],
    )?;
    let page = req.body.page()?;
    let check = req.key_check(&target, "ListKeyRotations", KeyUse::default())?;
    Ok(Planned::new(Input::Rotation(Op::ListKeyRotations {
        key: target.key.clone(),
        marker: page.marker.clone(),
        limit: page.limit_or(DEFAULT_LIMIT),
    }))
    .on_key(&target.key)
    .check(check))
}

pub(crate) async fn execute(svc: &KmsService, _call: &Call, op: Op) -> Result<Reply, ApiError> {
    let kms = &svc.kms;
    match op {
        Op::EnableKeyRotation { key, period_days } => {
            kms.enable_key_rotation(&key, period_days, OffsetDateTime::now_utc())
                .await
                .map_err(engine_error)?;
            Ok(wire::empty())
        }
        Op::DisableKeyRotation { key } => {
            kms.disable_key_rotation(&key).await.map_err(engine_error)?;
            Ok(wire::empty())
        }
        Op::GetKeyRotationStatus { key } => {
            let s = kms.rotation_status(&key);
            let mut body = json!({"KeyRotationEnabled": s.enabled, "KeyId": key.arn()});
            if let Some(p) = s.period_days {
                body["RotationPeriodInDays"] = json!(p);
            }
            if let Some(d) = s.next_rotation_date {
                body["NextRotationDate"] = wire::epoch(d);
            }
            if let Some(d) = s.on_demand_rotation_start_date {
                body["OnDemandRotationStartDate"] = wire::epoch(d);
            }
            Ok(wire::reply(&body))
        }
        Op::RotateKeyOnDemand { key } => {
            kms.rotate_key_on_demand(&key, OffsetDateTime::now_utc())
                .await
                .map_err(engine_error)?;
            Ok(wire::reply(&json!({"KeyId": key.arn()}))
                .with_response_elements(json!({"keyId": key.arn()})))
        }
        Op::ListKeyRotations { key, marker, limit } => {
            let page = kms
                .list_key_rotations(&key, marker.as_deref(), limit)
                .map_err(engine_error)?;
            let items = page
                .items
                .iter()
                .map(serde_json::to_value)
                .collect::<Result<Vec<Value>, _>>()
                .map_err(ApiError::internal)?;
            Ok(wire::reply(&wire::page(
                "Rotations",
                items,
                page.next_marker,
            )))
        }
    }
}
