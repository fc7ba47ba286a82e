//! Distributions: create (idempotent on CallerReference), read, list, update with If-Match, delete once disabled;
//! every reference a configuration makes (origins, OACs, cache policies, key groups, certificates, aliases) is
//! checked inside the transaction that stores it. Also the edge's lookup by `Host`.

use std::collections::HashSet;

use crate::cache_policies::managed;
use crate::{
    check_if_match, key2, new_etag, new_id, now, tables, txn_all, txn_put, CfError, CloudFront,
};
use crate::{CacheBehavior, CachePolicy, Distribution, DistributionConfig, KeyGroup};

const VIEWER_POLICIES: &[&str] = &["allow-all", "https-only", "redirect-to-https"];
const MIN_PROTOCOLS: &[&str] = &[
    "SSLv3",
    "TLSv1",
    "TLSv1_2016",
    "TLSv1.1_2016",
    "TLSv1.2_2018",
    "TLSv1.2_2019",
    "TLSv1.2_2021",
    "TLSv1.2_2025",
    "TLSv1.3_2025",
];
const ERROR_CODES: &[u16] = &[400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504];

/// The method sets CloudFront accepts for AllowedMethods and CachedMethods.
fn method_set(methods: &[String]) -> Option<usize> {
    let mut m: Vec<&str> = methods.iter().map(String::as_str).collect();
    m.sort_unstable();
    m.dedup();
    match m.as_slice() {
        ["GET", "HEAD"] => Some(0),
        ["GET", "HEAD", "OPTIONS"] => Some(1),
        ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"] => Some(2),
        _ => None,
    }
}

/// Whether `host` is a valid alias (a DNS name, optionally with one leading `*.`).
fn valid_alias(host: &str) -> bool {
    let name = host.strip_prefix("*.").unwrap_or(host);
    !name.is_empty()
        && host.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// Header names an origin's CustomHeaders may not set: the ones CloudFront refuses (framing, caching and
/// conditional headers, `Host`, `Via`, `X-Amz-*`, `X-Edge-*`, `X-Real-Ip`) — among them every header through which
/// a request could speak for the edge (`X-Amz-Coffer-Distribution-Arn`, security tokens) or address another bucket.
fn custom_header_refused(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "cache-control"
            | "connection"
            | "content-length"
            | "cookie"
            | "expect"
            | "host"
            | "if-match"
            | "if-modified-since"
            | "if-none-match"
            | "if-range"
            | "if-unmodified-since"
            | "keep-alive"
            | "max-forwards"
            | "pragma"
            | "proxy-authorization"
            | "proxy-connection"
            | "range"
            | "request-range"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "via"
            | "x-real-ip"
    ) || n.starts_with("x-amz-")
        || n.starts_with("x-edge-")
}

/// Checks an origin's CustomHeaders: at most 10, names HTTP tokens of at most 256 characters that CloudFront
/// allows, values of at most 1,783 visible characters (CloudFront's quotas).
fn validate_custom_headers(headers: &[(String, String)]) -> Result<(), CfError> {
    if headers.len() > 10 {
        return Err(CfError::client(
            "TooManyOriginCustomHeaders",
            400,
            "Your request contains too many origin custom headers.",
        ));
    }
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    for (name, value) in headers {
        if name.is_empty() || name.len() > 256 || !name.bytes().all(token) {
            return Err(CfError::invalid(format!(
                "The parameter HeaderName {name:?} is not a valid header name."
            )));
        }
        if custom_header_refused(name) {
            return Err(CfError::invalid(format!(
                "The parameter HeaderName {name} is not allowed as an origin custom header."
            )));
        }
        if value.len() > 1783
            || !value
                .bytes()
                .all(|b| b == b' ' || b == b'\t' || b.is_ascii_graphic())
        {
            return Err(CfError::invalid(format!(
                "The parameter HeaderValue of {name} is not a valid header value."
            )));
        }
    }
    Ok(())
}

/// Static checks of a configuration (no references).
fn validate_shape(c: &DistributionConfig, config: &crate::Config) -> Result<(), CfError> {
    if c.caller_reference.is_empty() {
        return Err(CfError::invalid(
            "The parameter CallerReference is required.",
        ));
    }
    if c.origins.is_empty() {
        return Err(CfError::invalid("The parameter Origins is required."));
    }
    let mut ids = HashSet::new();
    for o in &c.origins {
        if o.id.is_empty() || !ids.insert(o.id.as_str()) {
            return Err(CfError::invalid(
                "Every origin must have a unique, non-empty Id.",
            ));
        }
        if o.domain_name.is_empty() || o.domain_name.contains('/') {
            return Err(CfError::client(
                "InvalidOrigin",
                400,
                "The specified origin server does not exist or is not valid.",
            ));
        }
        if !o.origin_path.is_empty()
            && (!o.origin_path.starts_with('/') || o.origin_path.ends_with('/'))
        {
            return Err(CfError::invalid(
                "The parameter origin path must begin with a slash and must not end with a slash.",
            ));
        }
        // The edge puts the OriginPath in front of the normalized, encoded viewer path as it is, so it must
        // already be in that form: no dot or empty segments, nothing a second decoding would change.
        if !o.origin_path.is_empty()
            && crate::normalize_path(&o.origin_path)
                .map_or(true, |p| p.origin_path() != o.origin_path)
        {
            return Err(CfError::invalid(
                "The parameter origin path must be a normalized path: no dot segments, no empty segments, and only unreserved characters or percent-encoded ones.",
            ));
        }
        validate_custom_headers(&o.custom_headers)?;
        if o.s3_origin_config.is_some() == o.custom_origin_config.is_some() {
            return Err(CfError::invalid(
                "Exactly one of S3OriginConfig and CustomOriginConfig must be specified for each origin.",
            ));
        }
        if let Some(custom) = &o.custom_origin_config {
            // A custom origin is reached at its name: never an IP address or a loopback name (the edge checks
            // every address the name resolves to again when it connects). Names of this deployment's S3 go to
            // the API endpoint instead and are not custom origins.
            if o.s3_bucket().is_none() {
                crate::check_origin_name(&o.domain_name, config.loopback_origins_allowed)
                    .map_err(|e| CfError::invalid(e.to_string()))?;
            }
            if !matches!(
                custom.origin_protocol_policy.as_str(),
                "http-only" | "match-viewer" | "https-only"
            ) {
                return Err(CfError::invalid("Invalid OriginProtocolPolicy."));
            }
        }
        if !o.origin_access_control_id.is_empty() {
            if o.s3_bucket().is_none() {
                return Err(CfError::client(
                    "InvalidDomainNameForOriginAccessControl",
                    400,
                    "An origin access control of type s3 can only be used with an S3 origin domain name.",
                ));
            }
            if o.s3_origin_config
                .as_ref()
                .is_some_and(|s| !s.origin_access_identity.is_empty())
            {
                return Err(CfError::client(
                    "IllegalOriginAccessConfiguration",
                    400,
                    "An origin cannot use both an origin access control and an origin access identity.",
                ));
            }
        }
    }
    let behaviors = std::iter::once(&c.default_cache_behavior).chain(&c.cache_behaviors);
    for (i, b) in behaviors.enumerate() {
        validate_behavior(b, i > 0, &ids)?;
    }
    if c.default_cache_behavior.path_pattern.is_some() {
        return Err(CfError::invalid(
            "The default cache behavior cannot have a PathPattern.",
        ));
    }
    for a in &c.aliases {
        if !valid_alias(a) {
            return Err(CfError::invalid(format!(
                "The parameter CNAME contains an invalid alias: {a}."
            )));
        }
    }
    // The DefaultRootObject is requested for `/` exactly as a viewer's path would be: it must normalize.
    if c.default_root_object.starts_with('/')
        || c.default_root_object.len() > 255
        || (!c.default_root_object.is_empty()
            && crate::normalize_path(&format!("/{}", c.default_root_object)).is_err())
    {
        return Err(CfError::client(
            "InvalidDefaultRootObject",
            400,
            "The specified default root object is invalid.",
        ));
    }
    for e in &c.custom_error_responses {
        if !ERROR_CODES.contains(&e.error_code) {
            return Err(CfError::client(
                "InvalidErrorCode",
                400,
                format!("Invalid error code {}.", e.error_code),
            ));
        }
        if e.response_page_path
            .as_deref()
            .is_some_and(|p| !p.starts_with('/'))
        {
            return Err(CfError::client(
                "InvalidRelativePath",
                400,
                "The ResponsePagePath must begin with a slash.",
            ));
        }
        if e.response_code.as_deref().is_some_and(|r| {
            !r.is_empty() && !r.parse::<u16>().is_ok_and(|c| (200..600).contains(&c))
        }) {
            return Err(CfError::client(
                "InvalidResponseCode",
                400,
                "The ResponseCode is invalid.",
            ));
        }
        if e.error_caching_min_ttl.is_some_and(|t| t < 0) {
            return Err(CfError::invalid("ErrorCachingMinTTL must not be negative."));
        }
    }
    if let Some(v) = &c.viewer_certificate {
        if let Some(m) = &v.minimum_protocol_version {
            if !MIN_PROTOCOLS.contains(&m.as_str()) {
                return Err(CfError::client(
                    "InvalidMinimumProtocolVersion",
                    400,
                    "The minimum protocol version specified is not valid.",
                ));
            }
        }
        if v.ssl_support_method
            .as_deref()
            .is_some_and(|s| !matches!(s, "sni-only" | "vip" | "static-ip"))
        {
            return Err(CfError::invalid("Invalid SSLSupportMethod."));
        }
        if v.iam_certificate_id.is_some() {
            return Err(CfError::client(
                "InvalidViewerCertificate",
                400,
                "IAM server certificates are not supported here; import the certificate into ACM.",
            ));
        }
    }
    let custom_cert = c
        .viewer_certificate
        .as_ref()
        .is_some_and(|v| v.acm_certificate_arn.is_some());
    if !c.aliases.is_empty() && !custom_cert {
        return Err(CfError::client(
            "InvalidViewerCertificate",
            400,
            "To add an alternate domain name (CNAME) to a CloudFront distribution, you must attach a trusted certificate that validates your authorization to use the domain name.",
        ));
    }
    Ok(())
}

fn validate_behavior(
    b: &CacheBehavior,
    needs_pattern: bool,
    origins: &HashSet<&str>,
) -> Result<(), CfError> {
    if needs_pattern && b.path_pattern.as_deref().is_none_or(str::is_empty) {
        return Err(CfError::invalid(
            "The parameter PathPattern is required for a cache behavior.",
        ));
    }
    if !origins.contains(b.target_origin_id.as_str()) {
        return Err(CfError::client(
            "NoSuchOrigin",
            404,
            "One or more of your origins or origin groups do not exist.",
        ));
    }
    if !VIEWER_POLICIES.contains(&b.viewer_protocol_policy.as_str()) {
        return Err(CfError::invalid(format!(
            "Invalid ViewerProtocolPolicy {}.",
            b.viewer_protocol_policy
        )));
    }
    if !b.allowed_methods.is_empty() {
        let allowed = method_set(&b.allowed_methods).ok_or_else(|| {
            CfError::invalid(
                "The AllowedMethods are not one of the combinations CloudFront supports.",
            )
        })?;
        // CachedMethods is GET+HEAD or GET+HEAD+OPTIONS, and never more than AllowedMethods.
        if !b.cached_methods.is_empty()
            && !method_set(&b.cached_methods).is_some_and(|c| c <= 1 && c <= allowed)
        {
            return Err(CfError::invalid(
                "The CachedMethods must be GET and HEAD (optionally OPTIONS), and allowed.",
            ));
        }
    }
    let forwarded = b.extra.iter().any(|e| e.name == "ForwardedValues");
    if b.cache_policy_id.is_none() && !forwarded {
        return Err(CfError::invalid(
            "The parameter ForwardedValues is required when a cache policy is not specified.",
        ));
    }
    Ok(())
}

/// Checks what a configuration refers to, inside the writing transaction.
fn validate_refs(
    txn: &meta::Txn,
    account: &str,
    c: &DistributionConfig,
    self_id: &str,
    cf: &CloudFront,
) -> Result<(), CfError> {
    for o in &c.origins {
        if !o.origin_access_control_id.is_empty()
            && txn
                .get(tables::OACS, &key2(account, &o.origin_access_control_id))?
                .is_none()
        {
            return Err(CfError::no_such_oac());
        }
    }
    let managed_ids: Vec<String> = managed().into_iter().map(|p| p.id).collect();
    for b in std::iter::once(&c.default_cache_behavior).chain(&c.cache_behaviors) {
        if let Some(p) = &b.cache_policy_id {
            if !managed_ids.contains(p)
                && txn
                    .get_json::<CachePolicy>(tables::CACHE_POLICIES, &key2(account, p))?
                    .is_none()
            {
                return Err(CfError::no_such_cache_policy());
            }
        }
        if let Some(t) = &b.trusted_key_groups {
            for g in &t.items {
                if txn
                    .get_json::<KeyGroup>(tables::KEY_GROUPS, &key2(account, g))?
                    .is_none()
                {
                    return Err(CfError::client(
                        "TrustedKeyGroupDoesNotExist",
                        400,
                        "The specified key group does not exist.",
                    ));
                }
            }
        }
    }
    for a in &c.aliases {
        if let Some(owner) = txn.get(tables::HOSTS, a.to_ascii_lowercase().as_bytes())? {
            if owner != key2(account, self_id) {
                return Err(CfError::client(
                    "CNAMEAlreadyExists",
                    409,
                    "One or more of the CNAMEs you provided are already associated with a different resource.",
                ));
            }
        }
    }
    if let Some(arn) = c
        .viewer_certificate
        .as_ref()
        .and_then(|v| v.acm_certificate_arn.as_ref())
    {
        let cert = cf.certificate_in_txn(txn, account, arn).map_err(|_| {
            CfError::client(
                "InvalidViewerCertificate",
                400,
                format!("The specified SSL certificate doesn't exist, isn't in us-east-1 region, isn't valid, or doesn't include a valid certificate chain: {arn}"),
            )
        })?;
        // The certificate is what proves the account controls its aliases: trusted chain, valid now, covering
        // every name.
        cf.config().alias_trust.check(
            &cert.certificate_pem,
            cert.chain_pem.as_deref(),
            &c.aliases,
            rustls_pki_types::UnixTime::now(),
        )?;
    }
    Ok(())
}

/// Adds (or removes) a distribution's host names.
fn index_hosts(txn: &mut meta::Txn, d: &Distribution, add: bool) {
    let owner = key2(&d.account, &d.id);
    for host in std::iter::once(&d.domain_name).chain(&d.config.aliases) {
        let key = host.to_ascii_lowercase().into_bytes();
        if add {
            txn.put(tables::HOSTS, key, owner.clone());
        } else {
            txn.delete(tables::HOSTS, key);
        }
    }
}

impl CloudFront {
    /// CreateDistribution. The same CallerReference with the same configuration gives back the distribution it
    /// created; with a different configuration it is `DistributionAlreadyExists`.
    pub async fn create_distribution(
        &self,
        account: &str,
        config: DistributionConfig,
    ) -> Result<Distribution, CfError> {
        validate_shape(&config, self.config())?;
        let (account, cf) = (account.to_owned(), self.clone());
        self.write(move |txn| {
            let ref_key = key2(&account, &config.caller_reference);
            if let Some(id) = txn.get(tables::CALLER_REFS, &ref_key)? {
                let id = String::from_utf8_lossy(&id).into_owned();
                if let Some(d) = txn.get_json::<Distribution>(tables::DISTRIBUTIONS, &key2(&account, &id))? {
                    if d.config == config {
                        return Ok(d);
                    }
                    return Err(CfError::client(
                        "DistributionAlreadyExists",
                        409,
                        format!("The caller reference that you are using to create a distribution is associated with another distribution. Already exists: {id}"),
                    ));
                }
            }
            let count = txn_all::<Distribution>(txn, tables::DISTRIBUTIONS, &account)?.len();
            if count >= cf.config().max_distributions {
                return Err(CfError::client(
                    "TooManyDistributions",
                    400,
                    "Processing your request would cause you to exceed the maximum number of distributions allowed.",
                ));
            }
            let id = new_id('E');
            validate_refs(txn, &account, &config, &id, &cf)?;
            let d = Distribution {
                arn: format!("arn:aws:cloudfront::{account}:distribution/{id}"),
                domain_name: format!("{}.{}", id.to_ascii_lowercase(), cf.config().edge_domain),
                account: account.clone(),
                etag: new_etag(),
                last_modified: now(),
                id,
                config,
            };
            txn.put(tables::CALLER_REFS, ref_key, d.id.clone().into_bytes());
            index_hosts(txn, &d, true);
            txn_put(txn, tables::DISTRIBUTIONS, &account, &d.id, &d)?;
            Ok(d)
        })
        .await
    }

    /// GetDistribution / GetDistributionConfig.
    pub fn distribution(&self, account: &str, id: &str) -> Result<Distribution, CfError> {
        self.read(tables::DISTRIBUTIONS, account, id)?
            .ok_or_else(CfError::no_such_distribution)
    }

    /// ListDistributions: every distribution of the account, by id.
    pub fn list_distributions(&self, account: &str) -> Result<Vec<Distribution>, CfError> {
        self.read_all(tables::DISTRIBUTIONS, account)
    }

    /// UpdateDistribution: the whole configuration is replaced; CallerReference cannot change (`IllegalUpdate`).
    pub async fn update_distribution(
        &self,
        account: &str,
        id: &str,
        if_match: Option<&str>,
        config: DistributionConfig,
    ) -> Result<Distribution, CfError> {
        validate_shape(&config, self.config())?;
        let (account, id, if_match, cf) = (
            account.to_owned(),
            id.to_owned(),
            if_match.map(str::to_owned),
            self.clone(),
        );
        self.write(move |txn| {
            let mut d: Distribution = txn
                .get_json(tables::DISTRIBUTIONS, &key2(&account, &id))?
                .ok_or_else(CfError::no_such_distribution)?;
            check_if_match(&d.etag, if_match.as_deref())?;
            if d.config.caller_reference != config.caller_reference {
                return Err(CfError::client(
                    "IllegalUpdate",
                    400,
                    "The CallerReference of a distribution cannot be changed.",
                ));
            }
            validate_refs(txn, &account, &config, &id, &cf)?;
            index_hosts(txn, &d, false);
            d.config = config;
            d.etag = new_etag();
            d.last_modified = now();
            index_hosts(txn, &d, true);
            txn_put(txn, tables::DISTRIBUTIONS, &account, &id, &d)?;
            Ok(d)
        })
        .await
    }

    /// DeleteDistribution: only a disabled, deployed distribution can be deleted (`DistributionNotDisabled`).
    pub async fn delete_distribution(
        &self,
        account: &str,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), CfError> {
        let (account, id, if_match) = (
            account.to_owned(),
            id.to_owned(),
            if_match.map(str::to_owned),
        );
        self.write(move |txn| {
            let d: Distribution = txn
                .get_json(tables::DISTRIBUTIONS, &key2(&account, &id))?
                .ok_or_else(CfError::no_such_distribution)?;
            check_if_match(&d.etag, if_match.as_deref())?;
            if d.config.enabled {
                return Err(CfError::client(
                    "DistributionNotDisabled",
                    409,
                    "The distribution you are trying to delete has not been disabled.",
                ));
            }
            index_hosts(txn, &d, false);
            txn.delete(
                tables::CALLER_REFS,
                key2(&account, &d.config.caller_reference),
            );
            txn.delete(tables::DISTRIBUTIONS, key2(&account, &id));
            let prefix = format!("{account}/{id}/");
            for e in txn.scan_prefix(tables::INVALIDATIONS, prefix.as_bytes(), None, usize::MAX)? {
                txn.delete(tables::INVALIDATIONS, e.0);
            }
            Ok(())
        })
        .await
    }

    /// The distribution serving `host` (its default domain name or an alias), by the same rule the edge applies
    /// to its snapshot (`cloudfront_model::normalize_host`, then `wildcard_alias`). Two point reads; a storage
    /// failure is logged and answers `None`.
    pub fn distribution_for_host(&self, host: &str) -> Option<Distribution> {
        let host = crate::normalize_host(host);
        let lookup = |name: &str| -> Result<Option<Distribution>, CfError> {
            let Some(owner) = self.store().get(tables::HOSTS, name.as_bytes())? else {
                return Ok(None);
            };
            Ok(self.store().get_json(tables::DISTRIBUTIONS, &owner)?)
        };
        let found = lookup(&host).and_then(|d| match (d, crate::wildcard_alias(&host)) {
            (Some(d), _) => Ok(Some(d)),
            (None, Some(wildcard)) => lookup(&wildcard),
            (None, None) => Ok(None),
        });
        match found {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!("looking up the distribution for {host}: {e}");
                None
            }
        }
    }

    /// Every distribution of `account` as a transaction sees them (for the in-use guards of other resources).
    pub(crate) fn distributions_in_txn(
        txn: &meta::Txn,
        account: &str,
    ) -> Result<Vec<Distribution>, CfError> {
        txn_all(txn, tables::DISTRIBUTIONS, account)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::Config;
    use crate::S3OriginConfig;

    fn config(reference: &str) -> DistributionConfig {
        DistributionConfig {
            caller_reference: reference.into(),
            aliases: Vec::new(),
            default_root_object: String::new(),
            origins: vec![crate::Origin {
                id: "o".into(),
                domain_name: "b.s3.amazonaws.com".into(),
                origin_path: String::new(),
                custom_headers: Vec::new(),
                s3_origin_config: Some(S3OriginConfig::default()),
                custom_origin_config: None,
                connection_attempts: None,
                connection_timeout: None,
                origin_access_control_id: String::new(),
                extra: Vec::new(),
            }],
            default_cache_behavior: CacheBehavior {
                path_pattern: None,
                target_origin_id: "o".into(),
                trusted_signers: None,
                trusted_key_groups: None,
                viewer_protocol_policy: "allow-all".into(),
                allowed_methods: vec!["GET".into(), "HEAD".into()],
                cached_methods: vec!["GET".into(), "HEAD".into(), "OPTIONS".into()],
                smooth_streaming: None,
                compress: None,
                cache_policy_id: Some(crate::CACHING_OPTIMIZED_ID.into()),
                origin_request_policy_id: None,
                response_headers_policy_id: None,
                extra: Vec::new(),
            },
            cache_behaviors: Vec::new(),
            custom_error_responses: Vec::new(),
            comment: String::new(),
            enabled: true,
            viewer_certificate: None,
            price_class: None,
            http_version: None,
            is_ipv6_enabled: None,
            web_acl_id: None,
            extra: Vec::new(),
        }
    }

    #[test]
    fn custom_headers_cannot_speak_for_the_edge() {
        let h = |n: &str, v: &str| vec![(n.to_owned(), v.to_owned())];
        assert!(validate_custom_headers(&h("X-Origin-Secret", "s3cr3t value")).is_ok());
        for (n, v) in [
            ("X-Amz-Coffer-Distribution-Arn", "arn"),
            ("x-amz-security-token", "t"),
            ("Host", "b.s3.amazonaws.com"),
            ("Content-Length", "5"),
            ("X-Edge-Location", "x"),
            ("Bad Name", "x"),
            ("", "x"),
            ("X-Ok", "bad\u{1}"),
            ("X-Ok", "line\r\nInjected: 1"),
        ] {
            assert_eq!(
                validate_custom_headers(&h(n, v)).unwrap_err().code(),
                "InvalidArgument",
                "{n:?}"
            );
        }
        let many: Vec<(String, String)> = (0..11).map(|i| (format!("X-{i}"), "v".into())).collect();
        assert_eq!(
            validate_custom_headers(&many).unwrap_err().code(),
            "TooManyOriginCustomHeaders"
        );
    }

    #[tokio::test]
    async fn custom_origins_are_public_names() {
        let store = meta::Store::new(meta::MemoryBackend::new()).unwrap();
        let cf = CloudFront::new(
            store,
            Arc::new(crypto::RootKey::generate()),
            Config::default(),
        );
        let custom = |domain: &str| {
            let mut c = config(domain);
            c.default_cache_behavior.cached_methods.pop();
            c.origins[0].domain_name = domain.into();
            c.origins[0].s3_origin_config = None;
            c.origins[0].custom_origin_config = Some(crate::CustomOriginConfig {
                http_port: 80,
                https_port: 443,
                origin_protocol_policy: "http-only".into(),
                origin_ssl_protocols: Vec::new(),
                origin_read_timeout: None,
                origin_keepalive_timeout: None,
            });
            c
        };
        for bad in [
            "127.0.0.1",
            "2130706433",
            "[::1]",
            "localhost",
            "a.localhost",
            "x@10.0.0.1",
        ] {
            let err = cf.create_distribution("1", custom(bad)).await.unwrap_err();
            assert_eq!(err.code(), "InvalidArgument", "{bad}");
        }
        cf.create_distribution("1", custom("origin.example.com"))
            .await
            .unwrap();
        let loopback = CloudFront::new(
            meta::Store::new(meta::MemoryBackend::new()).unwrap(),
            Arc::new(crypto::RootKey::generate()),
            Config {
                loopback_origins_allowed: true,
                ..Config::default()
            },
        );
        loopback
            .create_distribution("1", custom("localhost"))
            .await
            .unwrap();
        let err = loopback
            .create_distribution("1", custom("127.0.0.1"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "InvalidArgument");
    }

    #[tokio::test]
    async fn quota_and_method_rules() {
        let store = meta::Store::new(meta::MemoryBackend::new()).unwrap();
        let cf = CloudFront::new(
            store,
            Arc::new(crypto::RootKey::generate()),
            Config {
                max_distributions: 1,
                ..Config::default()
            },
        );
        // CachedMethods may not exceed AllowedMethods.
        let err = cf.create_distribution("1", config("a")).await.unwrap_err();
        assert_eq!(err.code(), "InvalidArgument");
        let mut ok = config("a");
        ok.default_cache_behavior.cached_methods.pop();
        cf.create_distribution("1", ok.clone()).await.unwrap();
        ok.caller_reference = "b".into();
        let err = cf.create_distribution("1", ok.clone()).await.unwrap_err();
        assert_eq!(err.code(), "TooManyDistributions");
        // Quotas are per account.
        cf.create_distribution("2", ok).await.unwrap();
    }
}
