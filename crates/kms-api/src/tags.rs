//! Tags: TagResource, UntagResource, ListResourceTags, with `aws:RequestTag/…` and `aws:TagKeys` for
//! tag-based access control.

use api::{ApiError, Call, Reply};
use kms::{KeyRecord, Tag};
use serde_json::Value;

use crate::authz::{tag_conditions, KeyUse, Planned, Req};
use crate::input::missing;
use crate::{engine_error, wire, Input, KmsService};

/// ListResourceTags' default page size.
const DEFAULT_LIMIT: usize = 50;

pub(crate) enum Op {
    TagResource {
        key: KeyRecord,
        tags: Vec<Tag>,
    },
    UntagResource {
        key: KeyRecord,
        keys: Vec<String>,
    },
    ListResourceTags {
        key: KeyRecord,
        marker: Option<String>,
        limit: usize,
    },
}

pub(crate) fn plan(req: &Req<'_>) -> Option<Result<Planned, ApiError>> {
    Some(match req.operation {
        "TagResource" => plan_tag_resource(req),
        "UntagResource" => plan_untag_resource(req),
        "ListResourceTags" => plan_list_resource_tags(req),
        _ => return None,
    })
}

fn plan_tag_resource(req: &Req<'_>) -> Result<Planned, ApiError> {
    let target = req.key("KeyId")?;
    let tags = req.body.tags("Tags")?.ok_or_else(|| missing("Tags"))?;
    let check = req.key_check(
        &target,
        "TagResource",
        KeyUse {
            context: None,
            extra: tag_conditions(&tags),
        },
    )?;
    let tags = tags
        .into_iter()
        .map(|(key, value)| Tag { key, value })
        .collect();
    Ok(Planned::new(Input::Tags(Op::TagResource {
        key: target.key.clone(),
        tags,
    }))
    .on_key(&target.key)
    .check(check))
}

fn plan_untag_resource(req: &Req<'_>) -> Result<Planned, ApiError> {
    let target = req.key("KeyId")?;
    let keys = req
        .body
        .strings("TagKeys")?
        .ok_or_else(|| missing("TagKeys"))?;
    let extra = if keys.is_empty() {
        Vec::new()
    } else {
        vec![("aws:TagKeys".to_owned(), keys.clone())]
    };
    let check = req.key_check(
        &target,
        "UntagResource",
        KeyUse {
            context: None,
            extra,
        },
    )?;
    Ok(Planned::new(Input::Tags(Op::UntagResource {
        key: target.key.clone(),
        keys,
    }))
    .on_key(&target.key)
    .check(check))
}

fn plan_list_resource_tags(req: &Req<'_>) -> Result<Planned, ApiError> {
    let target = req.key("KeyId")?;
    let page = req.body.page()?;
    let check = req.key_check(&target, "ListResourceTags", KeyUse::default())?;
    Ok(Planned::new(Input::Tags(Op::ListResourceTags {
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
        Op::TagResource { key, tags } => {
            kms.tag_resource(&key, tags).await.map_err(engine_error)?;
            Ok(wire::empty())
        }
        Op::UntagResource { key, keys } => {
            kms.untag_resource(&key, keys).await.map_err(engine_error)?;
            Ok(wire::empty())
        }
        Op::ListResourceTags { key, marker, limit } => {
            let page = kms
                .list_resource_tags(&key, marker.as_deref(), limit)
                .map_err(engine_error)?;
            let items = page
                .items
                .iter()
                .map(serde_json::to_value)
                .collect::<Result<Vec<Value>, _>>()
                .map_err(ApiError::internal)?;
            Ok(wire::reply(&wire::page("Tags", items, page.next_marker)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::cond;

    #[test]
    fn tag_keys_condition_lists_every_key() {
        let c = tag_conditions(&[("a".into(), "1".into()), ("b".into(), "2".into())]);
        assert!(c.contains(&cond("aws:RequestTag/b", "2")));
        assert!(c.contains(&("aws:TagKeys".into(), vec!["a".into(), "b".into()])));
    }
}
