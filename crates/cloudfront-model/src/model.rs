//! The records the engine stores, as typed structs (JSON through `meta`'s versioned codec). A distribution's
//! configuration is kept as the caller sent it: the parts coffer interprets are typed fields, and elements it
//! does not interpret (Logging, Restrictions, OriginGroups, legacy ForwardedValues…) are kept verbatim as
//! [`Element`] trees so `GetDistributionConfig` gives back what `CreateDistribution` was given.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::NormalizedPath;

/// An XML element kept verbatim: name, text and children in document order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Element {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Element>,
}

/// OriginAccessControlConfig.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OacConfig {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// `sigv4`.
    pub signing_protocol: String,
    /// `always`, `never` or `no-override`.
    pub signing_behavior: String,
    /// `s3`.
    pub origin_type: String,
}

/// An origin access control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Oac {
    pub id: String,
    pub etag: String,
    pub config: OacConfig,
}

/// DistributionConfig.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistributionConfig {
    pub caller_reference: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub default_root_object: String,
    pub origins: Vec<Origin>,
    pub default_cache_behavior: CacheBehavior,
    #[serde(default)]
    pub cache_behaviors: Vec<CacheBehavior>,
    #[serde(default)]
    pub custom_error_responses: Vec<CustomErrorResponse>,
    #[serde(default)]
    pub comment: String,
    pub enabled: bool,
    #[serde(default)]
    pub viewer_certificate: Option<ViewerCertificate>,
    #[serde(default)]
    pub price_class: Option<String>,
    #[serde(default)]
    pub http_version: Option<String>,
    #[serde(default)]
    pub is_ipv6_enabled: Option<bool>,
    #[serde(default)]
    pub web_acl_id: Option<String>,
    /// Elements not interpreted by coffer, kept verbatim.
    #[serde(default)]
    pub extra: Vec<Element>,
}

/// One origin of a distribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub id: String,
    pub domain_name: String,
    #[serde(default)]
    pub origin_path: String,
    #[serde(default)]
    pub custom_headers: Vec<(String, String)>,
    #[serde(default)]
    pub s3_origin_config: Option<S3OriginConfig>,
    #[serde(default)]
    pub custom_origin_config: Option<CustomOriginConfig>,
    #[serde(default)]
    pub connection_attempts: Option<u32>,
    #[serde(default)]
    pub connection_timeout: Option<u32>,
    #[serde(default)]
    pub origin_access_control_id: String,
    #[serde(default)]
    pub extra: Vec<Element>,
}

impl Origin {
    /// The bucket (and region, when the name carries one) of an S3 origin named as in AWS:
    /// `<bucket>.s3.<region>.amazonaws.com`, `<bucket>.s3-<region>.amazonaws.com` or `<bucket>.s3.amazonaws.com`.
    pub fn s3_bucket(&self) -> Option<(&str, Option<&str>)> {
        s3_bucket_of(&self.domain_name)
    }
}

/// The bucket and region named by an S3 origin domain.
pub fn s3_bucket_of(domain: &str) -> Option<(&str, Option<&str>)> {
    let rest = domain.strip_suffix(".amazonaws.com")?;
    if let Some(bucket) = rest.strip_suffix(".s3") {
        return (!bucket.is_empty()).then_some((bucket, None));
    }
    if let Some(i) = rest.rfind(".s3.") {
        let region = &rest[i + 4..];
        return (i > 0 && !region.is_empty() && !region.contains('.'))
            .then_some((&rest[..i], Some(region)));
    }
    if let Some(i) = rest.rfind(".s3-") {
        let region = &rest[i + 4..];
        return (i > 0 && !region.is_empty() && !region.contains('.'))
            .then_some((&rest[..i], Some(region)));
    }
    None
}

/// S3OriginConfig.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct S3OriginConfig {
    #[serde(default)]
    pub origin_access_identity: String,
    #[serde(default)]
    pub origin_read_timeout: Option<u32>,
}

/// CustomOriginConfig.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomOriginConfig {
    pub http_port: u16,
    pub https_port: u16,
    /// `http-only`, `match-viewer` or `https-only`.
    pub origin_protocol_policy: String,
    #[serde(default)]
    pub origin_ssl_protocols: Vec<String>,
    #[serde(default)]
    pub origin_read_timeout: Option<u32>,
    #[serde(default)]
    pub origin_keepalive_timeout: Option<u32>,
}

/// DefaultCacheBehavior (no path pattern) or one of CacheBehaviors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheBehavior {
    #[serde(default)]
    pub path_pattern: Option<String>,
    pub target_origin_id: String,
    #[serde(default)]
    pub trusted_signers: Option<Trusted>,
    #[serde(default)]
    pub trusted_key_groups: Option<Trusted>,
    /// `allow-all`, `https-only` or `redirect-to-https`.
    pub viewer_protocol_policy: String,
    #[serde(default)]
    pub allowed_methods: Vec<String>,
    #[serde(default)]
    pub cached_methods: Vec<String>,
    #[serde(default)]
    pub smooth_streaming: Option<bool>,
    #[serde(default)]
    pub compress: Option<bool>,
    #[serde(default)]
    pub cache_policy_id: Option<String>,
    #[serde(default)]
    pub origin_request_policy_id: Option<String>,
    #[serde(default)]
    pub response_headers_policy_id: Option<String>,
    #[serde(default)]
    pub extra: Vec<Element>,
}

/// TrustedSigners / TrustedKeyGroups: `Enabled` and the ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Trusted {
    pub enabled: bool,
    #[serde(default)]
    pub items: Vec<String>,
}

/// One CustomErrorResponse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomErrorResponse {
    pub error_code: u16,
    #[serde(default)]
    pub response_page_path: Option<String>,
    #[serde(default)]
    pub response_code: Option<String>,
    #[serde(default)]
    pub error_caching_min_ttl: Option<i64>,
}

/// ViewerCertificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ViewerCertificate {
    #[serde(default)]
    pub cloudfront_default_certificate: Option<bool>,
    #[serde(default)]
    pub iam_certificate_id: Option<String>,
    #[serde(default)]
    pub acm_certificate_arn: Option<String>,
    #[serde(default)]
    pub ssl_support_method: Option<String>,
    #[serde(default)]
    pub minimum_protocol_version: Option<String>,
    #[serde(default)]
    pub certificate: Option<String>,
    #[serde(default)]
    pub certificate_source: Option<String>,
}

/// A distribution: its configuration and what CloudFront adds to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distribution {
    pub id: String,
    pub account: String,
    pub arn: String,
    pub domain_name: String,
    pub etag: String,
    #[serde(with = "time::serde::rfc3339")]
    pub last_modified: OffsetDateTime,
    pub config: DistributionConfig,
}

impl Distribution {
    /// `InProgress` for [`crate::DEPLOY_DELAY`] after a change, then `Deployed`.
    pub fn status(&self, at: OffsetDateTime) -> &'static str {
        if crate::settled(self.last_modified, at) {
            "Deployed"
        } else {
            "InProgress"
        }
    }

    /// The cache behavior whose path pattern matches `path` first, else the default one, as CloudFront picks.
    /// Only a [`NormalizedPath`] is matched: every spelling of one object selects the same behavior.
    pub fn behavior_for(&self, path: &NormalizedPath) -> &CacheBehavior {
        self.config
            .cache_behaviors
            .iter()
            .find(|b| {
                b.path_pattern
                    .as_deref()
                    .is_some_and(|p| path_matches(p, path.as_str()))
            })
            .unwrap_or(&self.config.default_cache_behavior)
    }
}

/// CloudFront's path patterns: `*` matches any run of characters, `?` exactly one; case-sensitive; the leading
/// `/` is optional in the pattern. Private: behaviors are chosen only through [`Distribution::behavior_for`], for
/// a normalized path.
fn path_matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<char> = pattern
        .strip_prefix('/')
        .unwrap_or(pattern)
        .chars()
        .collect();
    let path: Vec<char> = path.strip_prefix('/').unwrap_or(path).chars().collect();
    glob(&pattern, &path)
}

fn glob(p: &[char], s: &[char]) -> bool {
    let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// A cache key element's behavior (`none`, `whitelist`, `allExcept`, `all`, `allViewer`…) and names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyBehavior {
    pub behavior: String,
    #[serde(default)]
    pub items: Vec<String>,
}

impl KeyBehavior {
    pub fn none() -> Self {
        Self {
            behavior: "none".into(),
            items: Vec::new(),
        }
    }
}

/// ParametersInCacheKeyAndForwardedToOrigin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheKeyParameters {
    pub enable_accept_encoding_gzip: bool,
    #[serde(default)]
    pub enable_accept_encoding_brotli: Option<bool>,
    pub headers: KeyBehavior,
    pub cookies: KeyBehavior,
    pub query_strings: KeyBehavior,
}

/// CachePolicyConfig.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachePolicyConfig {
    #[serde(default)]
    pub comment: Option<String>,
    pub name: String,
    #[serde(default)]
    pub default_ttl: Option<i64>,
    #[serde(default)]
    pub max_ttl: Option<i64>,
    pub min_ttl: i64,
    pub parameters: CacheKeyParameters,
}

/// A cache policy, managed (AWS's) or custom (the account's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachePolicy {
    pub id: String,
    pub etag: String,
    #[serde(with = "time::serde::rfc3339")]
    pub last_modified: OffsetDateTime,
    pub managed: bool,
    pub config: CachePolicyConfig,
}

/// An invalidation of one distribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invalidation {
    pub id: String,
    pub distribution_id: String,
    pub caller_reference: String,
    pub paths: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub create_time: OffsetDateTime,
}

impl Invalidation {
    /// `InProgress` for [`crate::DEPLOY_DELAY`], then `Completed`.
    pub fn status(&self, at: OffsetDateTime) -> &'static str {
        if crate::settled(self.create_time, at) {
            "Completed"
        } else {
            "InProgress"
        }
    }
}

/// PublicKeyConfig.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyConfig {
    pub caller_reference: String,
    pub name: String,
    pub encoded_key: String,
    #[serde(default)]
    pub comment: Option<String>,
}

/// A public key for signed URLs and cookies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKey {
    pub id: String,
    pub etag: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    pub config: PublicKeyConfig,
}

/// KeyGroupConfig.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyGroupConfig {
    pub name: String,
    pub items: Vec<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// A key group: the public keys a cache behavior trusts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyGroup {
    pub id: String,
    pub etag: String,
    #[serde(with = "time::serde::rfc3339")]
    pub last_modified: OffsetDateTime,
    pub config: KeyGroupConfig,
}

/// An imported ACM certificate. The private key is stored only sealed by the root of trust.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    pub arn: String,
    pub account: String,
    pub region: String,
    pub id: String,
    pub domain_name: String,
    pub subject_alternative_names: Vec<String>,
    pub serial: String,
    pub subject: String,
    pub issuer: String,
    /// `RSA_2048`, `EC_prime256v1`…
    pub key_algorithm: String,
    pub signature_algorithm: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub imported: OffsetDateTime,
    pub certificate_pem: String,
    #[serde(default)]
    pub chain_pem: Option<String>,
    /// The PEM private key sealed by the root of trust with the ARN as associated data, hex.
    pub sealed_key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_origin_names() {
        assert_eq!(
            s3_bucket_of("my.bucket.s3.eu-west-1.amazonaws.com"),
            Some(("my.bucket", Some("eu-west-1")))
        );
        assert_eq!(s3_bucket_of("b.s3.amazonaws.com"), Some(("b", None)));
        assert_eq!(
            s3_bucket_of("b.s3-us-west-2.amazonaws.com"),
            Some(("b", Some("us-west-2")))
        );
        assert_eq!(s3_bucket_of("example.com"), None);
        assert_eq!(s3_bucket_of(".s3.amazonaws.com"), None);
    }

    #[test]
    fn path_patterns() {
        assert!(path_matches("/images/*.jpg", "/images/a/b.jpg"));
        assert!(path_matches("images/?.png", "/images/a.png"));
        assert!(!path_matches("/images/*.jpg", "/img/a.jpg"));
        assert!(path_matches("*", "/anything"));
        // `?` is one character, not one byte.
        assert!(path_matches("/?.txt", "/é.txt"));
    }
}
