//! Distribution and invalidation shapes: DistributionConfig (typed fields plus the elements coffer keeps
//! verbatim), Distribution, DistributionSummary, InvalidationBatch and Invalidation.

use api::ApiError;
use cloudfront::{
    CacheBehavior, CustomErrorResponse, CustomOriginConfig, Distribution, DistributionConfig,
    Element, Invalidation, Origin, S3OriginConfig, Trusted, ViewerCertificate,
};
use time::OffsetDateTime;

use crate::xml::{leaf, list, node, opt, string_list, timestamp, Read};

const CONFIG_KNOWN: &[&str] = &[
    "CallerReference",
    "Aliases",
    "DefaultRootObject",
    "Origins",
    "DefaultCacheBehavior",
    "CacheBehaviors",
    "CustomErrorResponses",
    "Comment",
    "Enabled",
    "ViewerCertificate",
    "PriceClass",
    "HttpVersion",
    "IsIPV6Enabled",
    "WebACLId",
];
const ORIGIN_KNOWN: &[&str] = &[
    "Id",
    "DomainName",
    "OriginPath",
    "CustomHeaders",
    "S3OriginConfig",
    "CustomOriginConfig",
    "ConnectionAttempts",
    "ConnectionTimeout",
    "OriginAccessControlId",
];
const BEHAVIOR_KNOWN: &[&str] = &[
    "PathPattern",
    "TargetOriginId",
    "TrustedSigners",
    "TrustedKeyGroups",
    "ViewerProtocolPolicy",
    "AllowedMethods",
    "SmoothStreaming",
    "Compress",
    "CachePolicyId",
    "OriginRequestPolicyId",
    "ResponseHeadersPolicyId",
];

pub(crate) fn parse_config(c: &Element) -> Result<DistributionConfig, ApiError> {
    Ok(DistributionConfig {
        caller_reference: c.req_text("CallerReference")?,
        aliases: c.strings("Aliases", "CNAME")?,
        default_root_object: c.text("DefaultRootObject").unwrap_or_default(),
        origins: c
            .list("Origins", "Origin")?
            .into_iter()
            .map(parse_origin)
            .collect::<Result<_, _>>()?,
        default_cache_behavior: parse_behavior(c.req("DefaultCacheBehavior")?)?,
        cache_behaviors: c
            .list("CacheBehaviors", "CacheBehavior")?
            .into_iter()
            .map(parse_behavior)
            .collect::<Result<_, _>>()?,
        custom_error_responses: c
            .list("CustomErrorResponses", "CustomErrorResponse")?
            .into_iter()
            .map(|e| {
                Ok(CustomErrorResponse {
                    error_code: e.int("ErrorCode")?.ok_or_else(|| {
                        crate::xml::invalid("The parameter ErrorCode is required.")
                    })?,
                    response_page_path: e.text("ResponsePagePath"),
                    response_code: e.text("ResponseCode"),
                    error_caching_min_ttl: e.int("ErrorCachingMinTTL")?,
                })
            })
            .collect::<Result<_, ApiError>>()?,
        comment: c.req_text("Comment")?,
        enabled: c
            .bool("Enabled")?
            .ok_or_else(|| crate::xml::invalid("The parameter Enabled is required."))?,
        viewer_certificate: c
            .child("ViewerCertificate")
            .map(|v| -> Result<ViewerCertificate, ApiError> {
                Ok(ViewerCertificate {
                    cloudfront_default_certificate: v.bool("CloudFrontDefaultCertificate")?,
                    iam_certificate_id: v.text("IAMCertificateId"),
                    acm_certificate_arn: v.text("ACMCertificateArn"),
                    ssl_support_method: v.text("SSLSupportMethod"),
                    minimum_protocol_version: v.text("MinimumProtocolVersion"),
                    certificate: v.text("Certificate"),
                    certificate_source: v.text("CertificateSource"),
                })
            })
            .transpose()?,
        price_class: c.text("PriceClass"),
        http_version: c.text("HttpVersion"),
        is_ipv6_enabled: c.bool("IsIPV6Enabled")?,
        web_acl_id: c.text("WebACLId"),
        extra: c.rest(CONFIG_KNOWN),
    })
}

fn parse_origin(o: &Element) -> Result<Origin, ApiError> {
    Ok(Origin {
        id: o.req_text("Id")?,
        domain_name: o.req_text("DomainName")?,
        origin_path: o.text("OriginPath").unwrap_or_default(),
        custom_headers: o
            .list("CustomHeaders", "OriginCustomHeader")?
            .into_iter()
            .map(|h| {
                Ok((
                    h.req_text("HeaderName")?,
                    h.text("HeaderValue").unwrap_or_default(),
                ))
            })
            .collect::<Result<_, ApiError>>()?,
        s3_origin_config: o
            .child("S3OriginConfig")
            .map(|s| -> Result<S3OriginConfig, ApiError> {
                Ok(S3OriginConfig {
                    origin_access_identity: s.text("OriginAccessIdentity").unwrap_or_default(),
                    origin_read_timeout: s.int("OriginReadTimeout")?,
                })
            })
            .transpose()?,
        custom_origin_config: o
            .child("CustomOriginConfig")
            .map(|s| -> Result<CustomOriginConfig, ApiError> {
                Ok(CustomOriginConfig {
                    http_port: s.int("HTTPPort")?.unwrap_or(80),
                    https_port: s.int("HTTPSPort")?.unwrap_or(443),
                    origin_protocol_policy: s.req_text("OriginProtocolPolicy")?,
                    origin_ssl_protocols: s.strings("OriginSslProtocols", "SslProtocol")?,
                    origin_read_timeout: s.int("OriginReadTimeout")?,
                    origin_keepalive_timeout: s.int("OriginKeepaliveTimeout")?,
                })
            })
            .transpose()?,
        connection_attempts: o.int("ConnectionAttempts")?,
        connection_timeout: o.int("ConnectionTimeout")?,
        origin_access_control_id: o.text("OriginAccessControlId").unwrap_or_default(),
        extra: o.rest(ORIGIN_KNOWN),
    })
}

fn parse_trusted(b: &Element, name: &str, item: &str) -> Result<Option<Trusted>, ApiError> {
    let Some(t) = b.child(name) else {
        return Ok(None);
    };
    Ok(Some(Trusted {
        enabled: t.bool("Enabled")?.unwrap_or(false),
        items: b.strings(name, item)?,
    }))
}

fn parse_behavior(b: &Element) -> Result<CacheBehavior, ApiError> {
    let allowed = b.child("AllowedMethods");
    Ok(CacheBehavior {
        path_pattern: b.text("PathPattern"),
        target_origin_id: b.req_text("TargetOriginId")?,
        trusted_signers: parse_trusted(b, "TrustedSigners", "AwsAccountNumber")?,
        trusted_key_groups: parse_trusted(b, "TrustedKeyGroups", "KeyGroup")?,
        viewer_protocol_policy: b.req_text("ViewerProtocolPolicy")?,
        allowed_methods: match allowed {
            Some(_) => b.strings("AllowedMethods", "Method")?,
            None => Vec::new(),
        },
        cached_methods: match allowed {
            Some(a) => a.strings("CachedMethods", "Method")?,
            None => Vec::new(),
        },
        smooth_streaming: b.bool("SmoothStreaming")?,
        compress: b.bool("Compress")?,
        cache_policy_id: b.text("CachePolicyId").filter(|s| !s.is_empty()),
        origin_request_policy_id: b.text("OriginRequestPolicyId").filter(|s| !s.is_empty()),
        response_headers_policy_id: b.text("ResponseHeadersPolicyId").filter(|s| !s.is_empty()),
        extra: b.rest(BEHAVIOR_KNOWN),
    })
}

fn render_trusted(name: &str, item: &str, t: &Trusted) -> Element {
    let mut l = string_list(name, item, &t.items);
    l.children.insert(0, leaf("Enabled", t.enabled.to_string()));
    l
}

fn render_behavior(name: &str, b: &CacheBehavior) -> Element {
    let mut c = Vec::new();
    opt(&mut c, "PathPattern", b.path_pattern.as_ref());
    c.push(leaf("TargetOriginId", b.target_origin_id.as_str()));
    let none = Trusted::default();
    c.push(render_trusted(
        "TrustedSigners",
        "AwsAccountNumber",
        b.trusted_signers.as_ref().unwrap_or(&none),
    ));
    c.push(render_trusted(
        "TrustedKeyGroups",
        "KeyGroup",
        b.trusted_key_groups.as_ref().unwrap_or(&none),
    ));
    c.push(leaf(
        "ViewerProtocolPolicy",
        b.viewer_protocol_policy.as_str(),
    ));
    let allowed = if b.allowed_methods.is_empty() {
        vec!["HEAD".to_owned(), "GET".to_owned()]
    } else {
        b.allowed_methods.clone()
    };
    let cached = if b.cached_methods.is_empty() {
        vec!["HEAD".to_owned(), "GET".to_owned()]
    } else {
        b.cached_methods.clone()
    };
    let mut a = string_list("AllowedMethods", "Method", &allowed);
    a.children
        .push(string_list("CachedMethods", "Method", &cached));
    c.push(a);
    c.push(leaf(
        "SmoothStreaming",
        b.smooth_streaming.unwrap_or(false).to_string(),
    ));
    c.push(leaf("Compress", b.compress.unwrap_or(false).to_string()));
    opt(&mut c, "CachePolicyId", b.cache_policy_id.as_ref());
    opt(
        &mut c,
        "OriginRequestPolicyId",
        b.origin_request_policy_id.as_ref(),
    );
    opt(
        &mut c,
        "ResponseHeadersPolicyId",
        b.response_headers_policy_id.as_ref(),
    );
    c.extend(b.extra.iter().cloned());
    node(name, c)
}

fn render_origin(o: &Origin) -> Element {
    let mut c = vec![
        leaf("Id", o.id.as_str()),
        leaf("DomainName", o.domain_name.as_str()),
        leaf("OriginPath", o.origin_path.as_str()),
        list(
            "CustomHeaders",
            o.custom_headers
                .iter()
                .map(|(k, v)| {
                    node(
                        "OriginCustomHeader",
                        vec![
                            leaf("HeaderName", k.as_str()),
                            leaf("HeaderValue", v.as_str()),
                        ],
                    )
                })
                .collect(),
        ),
    ];
    if let Some(s) = &o.s3_origin_config {
        let mut s3 = vec![leaf(
            "OriginAccessIdentity",
            s.origin_access_identity.as_str(),
        )];
        opt(&mut s3, "OriginReadTimeout", s.origin_read_timeout);
        c.push(node("S3OriginConfig", s3));
    }
    if let Some(s) = &o.custom_origin_config {
        let mut x = vec![
            leaf("HTTPPort", s.http_port.to_string()),
            leaf("HTTPSPort", s.https_port.to_string()),
            leaf("OriginProtocolPolicy", s.origin_protocol_policy.as_str()),
        ];
        // OriginSslProtocols requires its Items once present (botocore refuses to send the config back
        // otherwise), so a configuration that named none gets none back.
        if !s.origin_ssl_protocols.is_empty() {
            x.push(string_list(
                "OriginSslProtocols",
                "SslProtocol",
                &s.origin_ssl_protocols,
            ));
        }
        opt(&mut x, "OriginReadTimeout", s.origin_read_timeout);
        opt(&mut x, "OriginKeepaliveTimeout", s.origin_keepalive_timeout);
        c.push(node("CustomOriginConfig", x));
    }
    c.push(leaf(
        "ConnectionAttempts",
        o.connection_attempts.unwrap_or(3).to_string(),
    ));
    c.push(leaf(
        "ConnectionTimeout",
        o.connection_timeout.unwrap_or(10).to_string(),
    ));
    c.push(leaf(
        "OriginAccessControlId",
        o.origin_access_control_id.as_str(),
    ));
    c.extend(o.extra.iter().cloned());
    node("Origin", c)
}

fn render_viewer_certificate(v: Option<&ViewerCertificate>) -> Element {
    let default = ViewerCertificate {
        cloudfront_default_certificate: Some(true),
        minimum_protocol_version: Some("TLSv1".into()),
        certificate_source: Some("cloudfront".into()),
        ..ViewerCertificate::default()
    };
    let v = v.unwrap_or(&default);
    let mut c = Vec::new();
    opt(
        &mut c,
        "CloudFrontDefaultCertificate",
        v.cloudfront_default_certificate,
    );
    opt(&mut c, "IAMCertificateId", v.iam_certificate_id.as_ref());
    opt(&mut c, "ACMCertificateArn", v.acm_certificate_arn.as_ref());
    opt(&mut c, "SSLSupportMethod", v.ssl_support_method.as_ref());
    opt(
        &mut c,
        "MinimumProtocolVersion",
        v.minimum_protocol_version.as_ref(),
    );
    opt(&mut c, "Certificate", v.certificate.as_ref());
    opt(&mut c, "CertificateSource", v.certificate_source.as_ref());
    node("ViewerCertificate", c)
}

/// The parts of a configuration shared by DistributionConfig and DistributionSummary.
fn common(c: &DistributionConfig) -> (Vec<Element>, Vec<Element>) {
    let head = vec![
        string_list("Aliases", "CNAME", &c.aliases),
        list("Origins", c.origins.iter().map(render_origin).collect()),
        render_behavior("DefaultCacheBehavior", &c.default_cache_behavior),
        list(
            "CacheBehaviors",
            c.cache_behaviors
                .iter()
                .map(|b| render_behavior("CacheBehavior", b))
                .collect(),
        ),
        list(
            "CustomErrorResponses",
            c.custom_error_responses
                .iter()
                .map(|e| {
                    let mut x = vec![leaf("ErrorCode", e.error_code.to_string())];
                    opt(&mut x, "ResponsePagePath", e.response_page_path.as_ref());
                    opt(&mut x, "ResponseCode", e.response_code.as_ref());
                    x.push(leaf(
                        "ErrorCachingMinTTL",
                        e.error_caching_min_ttl.unwrap_or(10).to_string(),
                    ));
                    node("CustomErrorResponse", x)
                })
                .collect(),
        ),
        leaf("Comment", c.comment.as_str()),
    ];
    let tail = vec![
        leaf(
            "PriceClass",
            c.price_class.as_deref().unwrap_or("PriceClass_All"),
        ),
        leaf("Enabled", c.enabled.to_string()),
        render_viewer_certificate(c.viewer_certificate.as_ref()),
        leaf("WebACLId", c.web_acl_id.as_deref().unwrap_or("")),
        leaf("HttpVersion", c.http_version.as_deref().unwrap_or("http2")),
        leaf(
            "IsIPV6Enabled",
            c.is_ipv6_enabled.unwrap_or(true).to_string(),
        ),
    ];
    (head, tail)
}

pub(crate) fn render_config(c: &DistributionConfig) -> Element {
    let (head, tail) = common(c);
    let mut x = vec![leaf("CallerReference", c.caller_reference.as_str())];
    x.extend(head);
    x.insert(2, leaf("DefaultRootObject", c.default_root_object.as_str()));
    x.extend(tail);
    x.extend(c.extra.iter().cloned());
    node("DistributionConfig", x)
}

fn active_key_groups(d: &Distribution) -> Element {
    let groups: Vec<String> = std::iter::once(&d.config.default_cache_behavior)
        .chain(&d.config.cache_behaviors)
        .filter_map(|b| b.trusted_key_groups.as_ref())
        .filter(|t| t.enabled)
        .flat_map(|t| t.items.iter().cloned())
        .collect();
    let mut l = list(
        "ActiveTrustedKeyGroups",
        groups
            .iter()
            .map(|g| {
                node(
                    "KGKeyPairIds",
                    vec![
                        leaf("KeyGroupId", g.as_str()),
                        list("KeyPairIds", Vec::new()),
                    ],
                )
            })
            .collect(),
    );
    l.children
        .insert(0, leaf("Enabled", (!groups.is_empty()).to_string()));
    l
}

pub(crate) fn render_distribution(
    d: &Distribution,
    in_progress: usize,
    at: OffsetDateTime,
) -> Element {
    let mut signers = list("ActiveTrustedSigners", Vec::new());
    signers.children.insert(0, leaf("Enabled", "false"));
    node(
        "Distribution",
        vec![
            leaf("Id", d.id.as_str()),
            leaf("ARN", d.arn.as_str()),
            leaf("Status", d.status(at)),
            leaf("LastModifiedTime", timestamp(d.last_modified)),
            leaf("InProgressInvalidationBatches", in_progress.to_string()),
            leaf("DomainName", d.domain_name.as_str()),
            signers,
            active_key_groups(d),
            render_config(&d.config),
        ],
    )
}

pub(crate) fn render_summary(d: &Distribution, at: OffsetDateTime) -> Element {
    let (head, tail) = common(&d.config);
    let mut x = vec![
        leaf("Id", d.id.as_str()),
        leaf("ARN", d.arn.as_str()),
        leaf("ETag", d.etag.as_str()),
        leaf("Status", d.status(at)),
        leaf("LastModifiedTime", timestamp(d.last_modified)),
        leaf("DomainName", d.domain_name.as_str()),
    ];
    x.extend(head);
    x.extend(tail);
    x.extend(
        d.config
            .extra
            .iter()
            .filter(|e| matches!(e.name.as_str(), "Restrictions" | "OriginGroups"))
            .cloned(),
    );
    x.push(leaf("Staging", "false"));
    node("DistributionSummary", x)
}

pub(crate) fn render_invalidation(i: &Invalidation, at: OffsetDateTime) -> Element {
    node(
        "Invalidation",
        vec![
            leaf("Id", i.id.as_str()),
            leaf("Status", i.status(at)),
            leaf("CreateTime", timestamp(i.create_time)),
            node(
                "InvalidationBatch",
                vec![
                    string_list("Paths", "Path", &i.paths),
                    leaf("CallerReference", i.caller_reference.as_str()),
                ],
            ),
        ],
    )
}

pub(crate) fn render_invalidation_summary(i: &Invalidation, at: OffsetDateTime) -> Element {
    node(
        "InvalidationSummary",
        vec![
            leaf("Id", i.id.as_str()),
            leaf("CreateTime", timestamp(i.create_time)),
            leaf("Status", i.status(at)),
        ],
    )
}
