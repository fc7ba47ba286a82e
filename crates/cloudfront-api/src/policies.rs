//! Origin access control and cache policy shapes.

use api::ApiError;
use cloudfront::{
    CacheKeyParameters, CachePolicy, CachePolicyConfig, Element, KeyBehavior, Oac, OacConfig,
};

use crate::xml::{invalid, leaf, node, opt, string_list, timestamp, Read};

pub(crate) fn parse_oac(c: &Element) -> Result<OacConfig, ApiError> {
    Ok(OacConfig {
        name: c.req_text("Name")?,
        description: c.text("Description").unwrap_or_default(),
        signing_protocol: c.req_text("SigningProtocol")?,
        signing_behavior: c.req_text("SigningBehavior")?,
        origin_type: c.req_text("OriginAccessControlOriginType")?,
    })
}

fn oac_fields(c: &OacConfig) -> Vec<Element> {
    vec![
        leaf("Name", c.name.as_str()),
        leaf("Description", c.description.as_str()),
        leaf("SigningProtocol", c.signing_protocol.as_str()),
        leaf("SigningBehavior", c.signing_behavior.as_str()),
        leaf("OriginAccessControlOriginType", c.origin_type.as_str()),
    ]
}

pub(crate) fn render_oac_config(c: &OacConfig) -> Element {
    node("OriginAccessControlConfig", oac_fields(c))
}

pub(crate) fn render_oac(o: &Oac) -> Element {
    node(
        "OriginAccessControl",
        vec![leaf("Id", o.id.as_str()), render_oac_config(&o.config)],
    )
}

pub(crate) fn render_oac_summary(o: &Oac) -> Element {
    let mut x = vec![leaf("Id", o.id.as_str())];
    x.extend(oac_fields(&o.config));
    node("OriginAccessControlSummary", x)
}

fn parse_behavior(
    p: &Element,
    config: &str,
    behavior: &str,
    list: &str,
    item: &str,
) -> Result<KeyBehavior, ApiError> {
    let c = p.req(config)?;
    Ok(KeyBehavior {
        behavior: c.req_text(behavior)?,
        items: c.strings(list, item)?,
    })
}

pub(crate) fn parse_cache_policy(c: &Element) -> Result<CachePolicyConfig, ApiError> {
    let p = c.req("ParametersInCacheKeyAndForwardedToOrigin")?;
    Ok(CachePolicyConfig {
        comment: c.text("Comment"),
        name: c.req_text("Name")?,
        default_ttl: c.int("DefaultTTL")?,
        max_ttl: c.int("MaxTTL")?,
        min_ttl: c
            .int("MinTTL")?
            .ok_or_else(|| invalid("The parameter MinTTL is required."))?,
        parameters: CacheKeyParameters {
            enable_accept_encoding_gzip: p
                .bool("EnableAcceptEncodingGzip")?
                .ok_or_else(|| invalid("The parameter EnableAcceptEncodingGzip is required."))?,
            enable_accept_encoding_brotli: p.bool("EnableAcceptEncodingBrotli")?,
            headers: parse_behavior(p, "HeadersConfig", "HeaderBehavior", "Headers", "Name")?,
            cookies: parse_behavior(p, "CookiesConfig", "CookieBehavior", "Cookies", "Name")?,
            query_strings: parse_behavior(
                p,
                "QueryStringsConfig",
                "QueryStringBehavior",
                "QueryStrings",
                "Name",
            )?,
        },
    })
}

fn render_behavior(config: &str, behavior: &str, list: &str, b: &KeyBehavior) -> Element {
    let mut x = vec![leaf(behavior, b.behavior.as_str())];
    if !b.items.is_empty() {
        x.push(string_list(list, "Name", &b.items));
    }
    node(config, x)
}

pub(crate) fn render_cache_policy_config(c: &CachePolicyConfig) -> Element {
    let mut x = Vec::new();
    opt(&mut x, "Comment", c.comment.as_ref());
    x.push(leaf("Name", c.name.as_str()));
    x.push(leaf(
        "DefaultTTL",
        c.default_ttl.unwrap_or(86400.max(c.min_ttl)).to_string(),
    ));
    x.push(leaf("MaxTTL", c.max_ttl.unwrap_or(31_536_000).to_string()));
    x.push(leaf("MinTTL", c.min_ttl.to_string()));
    let p = &c.parameters;
    let mut params = vec![leaf(
        "EnableAcceptEncodingGzip",
        p.enable_accept_encoding_gzip.to_string(),
    )];
    opt(
        &mut params,
        "EnableAcceptEncodingBrotli",
        p.enable_accept_encoding_brotli,
    );
    params.push(render_behavior(
        "HeadersConfig",
        "HeaderBehavior",
        "Headers",
        &p.headers,
    ));
    params.push(render_behavior(
        "CookiesConfig",
        "CookieBehavior",
        "Cookies",
        &p.cookies,
    ));
    params.push(render_behavior(
        "QueryStringsConfig",
        "QueryStringBehavior",
        "QueryStrings",
        &p.query_strings,
    ));
    x.push(node("ParametersInCacheKeyAndForwardedToOrigin", params));
    node("CachePolicyConfig", x)
}

pub(crate) fn render_cache_policy(p: &CachePolicy) -> Element {
    node(
        "CachePolicy",
        vec![
            leaf("Id", p.id.as_str()),
            leaf("LastModifiedTime", timestamp(p.last_modified)),
            render_cache_policy_config(&p.config),
        ],
    )
}

pub(crate) fn render_cache_policy_summary(p: &CachePolicy) -> Element {
    node(
        "CachePolicySummary",
        vec![
            leaf("Type", if p.managed { "managed" } else { "custom" }),
            render_cache_policy(p),
        ],
    )
}
