//! Public key and key group shapes.

use api::ApiError;
use cloudfront::{Element, KeyGroup, KeyGroupConfig, PublicKey, PublicKeyConfig};

use crate::xml::{leaf, node, opt, timestamp, Read};

pub(crate) fn parse_public_key(c: &Element) -> Result<PublicKeyConfig, ApiError> {
    Ok(PublicKeyConfig {
        caller_reference: c.req_text("CallerReference")?,
        name: c.req_text("Name")?,
        encoded_key: c.req("EncodedKey")?.text.clone(),
        comment: c.text("Comment"),
    })
}

pub(crate) fn render_public_key_config(c: &PublicKeyConfig) -> Element {
    let mut x = vec![
        leaf("CallerReference", c.caller_reference.as_str()),
        leaf("Name", c.name.as_str()),
        leaf("EncodedKey", c.encoded_key.as_str()),
    ];
    opt(&mut x, "Comment", c.comment.as_ref());
    node("PublicKeyConfig", x)
}

pub(crate) fn render_public_key(k: &PublicKey) -> Element {
    node(
        "PublicKey",
        vec![
            leaf("Id", k.id.as_str()),
            leaf("CreatedTime", timestamp(k.created)),
            render_public_key_config(&k.config),
        ],
    )
}

pub(crate) fn render_public_key_summary(k: &PublicKey) -> Element {
    let mut x = vec![
        leaf("Id", k.id.as_str()),
        leaf("Name", k.config.name.as_str()),
        leaf("CreatedTime", timestamp(k.created)),
        leaf("EncodedKey", k.config.encoded_key.as_str()),
    ];
    opt(&mut x, "Comment", k.config.comment.as_ref());
    node("PublicKeySummary", x)
}

pub(crate) fn parse_key_group(c: &Element) -> Result<KeyGroupConfig, ApiError> {
    let items = c
        .req("Items")?
        .children
        .iter()
        .filter(|e| e.name == "PublicKey")
        .map(|e| e.text.trim().to_owned())
        .collect();
    Ok(KeyGroupConfig {
        name: c.req_text("Name")?,
        items,
        comment: c.text("Comment"),
    })
}

pub(crate) fn render_key_group_config(c: &KeyGroupConfig) -> Element {
    let mut x = vec![leaf("Name", c.name.as_str())];
    x.push(node(
        "Items",
        c.items
            .iter()
            .map(|k| leaf("PublicKey", k.as_str()))
            .collect(),
    ));
    opt(&mut x, "Comment", c.comment.as_ref());
    node("KeyGroupConfig", x)
}

pub(crate) fn render_key_group(g: &KeyGroup) -> Element {
    node(
        "KeyGroup",
        vec![
            leaf("Id", g.id.as_str()),
            leaf("LastModifiedTime", timestamp(g.last_modified)),
            render_key_group_config(&g.config),
        ],
    )
}

pub(crate) fn render_key_group_summary(g: &KeyGroup) -> Element {
    node("KeyGroupSummary", vec![render_key_group(g)])
}
