//! What a cache policy decides: the cache key (which query strings, headers and cookies are in it — and are
//! therefore forwarded to the origin), how long a response stays fresh, and whether it may be compressed.

use cloudfront_model::{CacheKeyParameters, CachePolicyConfig, KeyBehavior, NormalizedPath};
use http::HeaderMap;

use crate::query::Param;

/// The legacy defaults CloudFront applies to a behavior without a cache policy.
pub fn legacy_policy() -> &'static CachePolicyConfig {
    static LEGACY: std::sync::OnceLock<CachePolicyConfig> = std::sync::OnceLock::new();
    LEGACY.get_or_init(|| CachePolicyConfig {
        comment: None,
        name: "legacy".into(),
        default_ttl: Some(86_400),
        max_ttl: Some(31_536_000),
        min_ttl: 0,
        parameters: CacheKeyParameters {
            enable_accept_encoding_gzip: false,
            enable_accept_encoding_brotli: Some(false),
            headers: KeyBehavior::none(),
            cookies: KeyBehavior::none(),
            query_strings: KeyBehavior::none(),
        },
    })
}

/// Whether responses under `policy` are ever cached.
pub fn caches(policy: &CachePolicyConfig) -> bool {
    policy.max_ttl.unwrap_or(31_536_000) > 0 || policy.min_ttl > 0
}

/// A request's cache key and what of it is forwarded to the origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    pub key: String,
    /// The query string sent to the origin (`None`: none).
    pub query: Option<String>,
    /// Headers (and a rebuilt `Cookie`) sent to the origin.
    pub headers: Vec<(String, String)>,
}

fn selected(behavior: &KeyBehavior, name: &str) -> bool {
    let listed = behavior.items.iter().any(|i| i.eq_ignore_ascii_case(name));
    match behavior.behavior.as_str() {
        "whitelist" => listed,
        "allExcept" => !listed,
        "all" | "allViewer" | "allViewerAndWhitelistCloudFront" => true,
        _ => false,
    }
}

/// The cache key of a request for `path` of distribution `dist` with query parameters `params`. The path is the
/// normalized one, so every spelling of an object shares its entry (and its invalidations); query parameters are
/// selected by their decoded names and kept as received. `origin_scheme` is the scheme the origin will be asked
/// with when the viewer's own protocol chooses it (OriginProtocolPolicy `match-viewer`): an answer fetched over
/// plain HTTP is then never served to HTTPS viewers.
pub fn cache_key(
    dist: &str,
    path: &NormalizedPath,
    params: &[Param<'_>],
    headers: &HeaderMap,
    policy: &CachePolicyConfig,
    origin_scheme: Option<&str>,
) -> CacheKey {
    let p = &policy.parameters;
    let mut selected_raw: Vec<&str> = params
        .iter()
        .filter(|param| selected(&p.query_strings, &param.name))
        .map(|param| param.raw)
        .collect();
    selected_raw.sort_unstable();
    let query = (!selected_raw.is_empty()).then(|| selected_raw.join("&"));

    let mut forwarded: Vec<(String, String)> = Vec::new();
    if p.headers.behavior == "whitelist" {
        let mut names: Vec<String> = p
            .headers
            .items
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        names.sort_unstable();
        names.dedup();
        for n in names {
            if let Some(v) = headers.get(&n).and_then(|v| v.to_str().ok()) {
                forwarded.push((n, v.to_owned()));
            }
        }
    }
    let mut cookies: Vec<(String, String)> = headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            selected(&p.cookies, k).then(|| (k.to_owned(), v.to_owned()))
        })
        .collect();
    cookies.sort();
    if !cookies.is_empty() {
        let joined: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        forwarded.push(("cookie".into(), joined.join("; ")));
    }

    let mut key = String::with_capacity(dist.len() + path.as_str().len() + 8);
    key.push_str(dist);
    if let Some(scheme) = origin_scheme {
        key.push('\u{2}');
        key.push_str(scheme);
    }
    key.push('\u{1}');
    key.push_str(path.as_str());
    key.push('\u{1}');
    if let Some(q) = &query {
        key.push_str(q);
    }
    for (n, v) in &forwarded {
        key.push('\u{1}');
        key.push_str(n);
        key.push('=');
        key.push_str(v);
    }
    CacheKey {
        key,
        query,
        headers: forwarded,
    }
}

/// The statuses CloudFront caches as errors, for ErrorCachingMinTTL.
pub fn is_cached_error(status: u16) -> bool {
    matches!(
        status,
        400 | 403 | 404 | 405 | 414 | 416 | 500 | 501 | 502 | 503 | 504
    )
}

/// The success statuses CloudFront caches.
fn is_cacheable_success(status: u16) -> bool {
    matches!(status, 200 | 203 | 300 | 301 | 410)
}

/// How long (seconds) a response stays fresh: for errors, the distribution's ErrorCachingMinTTL for the code
/// (default 10 s); for cacheable successes, the origin's `Cache-Control`/`Expires` bounded by the policy's
/// minimum and maximum TTL, else its default TTL; 0 for anything else.
pub fn ttl_secs(
    policy: &CachePolicyConfig,
    status: u16,
    headers: &HeaderMap,
    error_caching_min_ttl: Option<i64>,
    now_unix: i64,
) -> i64 {
    if is_cached_error(status) {
        return error_caching_min_ttl.unwrap_or(10).max(0);
    }
    if !is_cacheable_success(status) {
        return 0;
    }
    let min = policy.min_ttl.max(0);
    let max = policy.max_ttl.unwrap_or(31_536_000).max(min);
    let default = policy.default_ttl.unwrap_or(86_400);
    let cache_control = headers
        .get_all(http::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|d| d.trim().to_ascii_lowercase())
        .collect::<Vec<_>>();
    if cache_control
        .iter()
        .any(|d| d == "no-store" || d == "no-cache" || d == "private")
    {
        return min;
    }
    let directive = |name: &str| {
        cache_control.iter().find_map(|d| {
            d.strip_prefix(name)
                .and_then(|r| r.strip_prefix('='))
                .and_then(|v| v.trim_matches('"').parse::<i64>().ok())
        })
    };
    if let Some(age) = directive("s-maxage").or_else(|| directive("max-age")) {
        return age.clamp(min, max);
    }
    if let Some(expires) = headers
        .get(http::header::EXPIRES)
        .and_then(|v| v.to_str().ok())
        .and_then(httpdate_to_unix)
    {
        return (expires - now_unix).clamp(min, max);
    }
    default.clamp(min, max)
}

/// Parses an HTTP date (IMF-fixdate) to unix seconds.
pub fn httpdate_to_unix(s: &str) -> Option<i64> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(s.trim(), format)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

/// Formats unix seconds as an HTTP date.
#[cfg(test)]
pub fn unix_to_httpdate(t: i64) -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}

/// Content types CloudFront compresses.
pub fn compressible(content_type: &str) -> bool {
    let ct = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    ct.starts_with("text/")
        || matches!(
            ct.as_str(),
            "application/javascript"
                | "application/x-javascript"
                | "application/json"
                | "application/ld+json"
                | "application/manifest+json"
                | "application/xml"
                | "application/xhtml+xml"
                | "application/rss+xml"
                | "application/atom+xml"
                | "application/wasm"
                | "application/vnd.ms-fontobject"
                | "application/x-font-ttf"
                | "font/otf"
                | "font/ttf"
                | "image/svg+xml"
                | "image/x-icon"
                | "image/vnd.microsoft.icon"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(min: i64, default: i64, max: i64) -> CachePolicyConfig {
        let mut p = legacy_policy().clone();
        p.min_ttl = min;
        p.default_ttl = Some(default);
        p.max_ttl = Some(max);
        p
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn ttls_follow_cloudfront_rules() {
        let p = policy(1, 86_400, 31_536_000);
        assert_eq!(ttl_secs(&p, 200, &headers(&[]), None, 0), 86_400);
        assert_eq!(
            ttl_secs(
                &p,
                200,
                &headers(&[("cache-control", "max-age=60")]),
                None,
                0
            ),
            60
        );
        assert_eq!(
            ttl_secs(
                &p,
                200,
                &headers(&[("cache-control", "max-age=60, s-maxage=5")]),
                None,
                0
            ),
            5
        );
        assert_eq!(
            ttl_secs(
                &p,
                200,
                &headers(&[("cache-control", "max-age=0")]),
                None,
                0
            ),
            1
        );
        assert_eq!(
            ttl_secs(&p, 200, &headers(&[("cache-control", "no-store")]), None, 0),
            1
        );
        let expires = unix_to_httpdate(1_000_100);
        assert_eq!(
            ttl_secs(&p, 200, &headers(&[("expires", &expires)]), None, 1_000_000),
            100
        );
        assert_eq!(ttl_secs(&p, 404, &headers(&[]), None, 0), 10);
        assert_eq!(ttl_secs(&p, 404, &headers(&[]), Some(300), 0), 300);
        assert_eq!(ttl_secs(&p, 206, &headers(&[]), None, 0), 0);
        let disabled = policy(0, 0, 0);
        assert!(!caches(&disabled));
        assert_eq!(
            ttl_secs(
                &disabled,
                200,
                &headers(&[("cache-control", "max-age=60")]),
                None,
                0
            ),
            0
        );
    }

    fn path(s: &str) -> NormalizedPath {
        cloudfront_model::normalize_path(s).unwrap()
    }

    #[test]
    fn keys_take_only_what_the_policy_names() {
        let a = path("/a");
        let mut p = legacy_policy().clone();
        let h = headers(&[
            ("origin", "https://a"),
            ("cookie", "b=2; a=1; c=3"),
            ("x-other", "x"),
        ]);
        let q = |s: &'static str| crate::query::parse(s).unwrap();
        let none = cache_key("E1", &a, &q("z=1&y=2"), &h, &p, None);
        assert_eq!(none.query, None);
        assert!(none.headers.is_empty());
        p.parameters.query_strings = KeyBehavior {
            behavior: "all".into(),
            items: vec![],
        };
        p.parameters.headers = KeyBehavior {
            behavior: "whitelist".into(),
            items: vec!["Origin".into()],
        };
        p.parameters.cookies = KeyBehavior {
            behavior: "whitelist".into(),
            items: vec!["a".into(), "b".into()],
        };
        let k = cache_key("E1", &a, &q("z=1&y=2"), &h, &p, None);
        assert_eq!(k.query.as_deref(), Some("y=2&z=1"));
        assert_eq!(
            k.headers,
            vec![
                ("origin".into(), "https://a".into()),
                ("cookie".into(), "a=1; b=2".into())
            ]
        );
        // Order of query parameters does not split the cache.
        assert_eq!(cache_key("E1", &a, &q("y=2&z=1"), &h, &p, None).key, k.key);
        assert_ne!(cache_key("E2", &a, &q("y=2&z=1"), &h, &p, None).key, k.key);
        // The origin's scheme splits the key when the viewer's protocol picks it.
        let https = cache_key("E1", &a, &q("y=2&z=1"), &h, &p, Some("https"));
        assert_ne!(https.key, k.key);
        assert_ne!(
            cache_key("E1", &a, &q("y=2&z=1"), &h, &p, Some("http")).key,
            https.key
        );
        // Spellings of one object share a key.
        assert_eq!(
            cache_key("E1", &path("/%61"), &q("y=2&z=1"), &h, &p, None).key,
            k.key
        );
    }

    #[test]
    fn query_names_are_selected_decoded() {
        let mut p = legacy_policy().clone();
        p.parameters.query_strings = KeyBehavior {
            behavior: "allExcept".into(),
            items: vec!["versionId".into()],
        };
        let params = crate::query::parse("%76ersionId=old&versionId=old&v=1").unwrap();
        let k = cache_key("E1", &path("/a"), &params, &HeaderMap::new(), &p, None);
        assert_eq!(k.query.as_deref(), Some("v=1"));
        p.parameters.query_strings.behavior = "whitelist".into();
        let k = cache_key("E1", &path("/a"), &params, &HeaderMap::new(), &p, None);
        assert_eq!(k.query.as_deref(), Some("%76ersionId=old&versionId=old"));
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            httpdate_to_unix("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            unix_to_httpdate(784_111_777),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert!(compressible("text/html; charset=utf-8"));
        assert!(!compressible("image/png"));
    }
}
