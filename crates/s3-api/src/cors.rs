//! CORS: preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) answered from the
//! bucket's rules, and the `Access-Control-*` headers of actual requests from a browser.

use api::{ApiBody, ApiError};
use http::{HeaderMap, HeaderValue, Method, Response};
use http_body_util::BodyExt;
use objects::CorsRule;

use crate::front::Shared;
use crate::state::RequestState;

/// `*` in an origin or header pattern matches any run of characters (S3 allows one).
fn wildcard_match(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern.eq_ignore_ascii_case(value),
        Some((pre, post)) => {
            value.len() >= pre.len() + post.len()
                && value[..pre.len()].eq_ignore_ascii_case(pre)
                && value[value.len() - post.len()..].eq_ignore_ascii_case(post)
        }
    }
}

/// The first rule allowing `origin`, `method` and every requested header.
fn matching_rule<'a>(
    rules: &'a [CorsRule],
    origin: &str,
    method: &str,
    headers: &[String],
) -> Option<&'a CorsRule> {
    rules.iter().find(|r| {
        r.allowed_origins.iter().any(|o| wildcard_match(o, origin))
            && r.allowed_methods
                .iter()
                .any(|m| m.eq_ignore_ascii_case(method))
            && headers
                .iter()
                .all(|h| r.allowed_headers.iter().any(|a| wildcard_match(a, h)))
    })
}

/// The bucket a request addresses (virtual-hosted or path style).
fn bucket_of(shared: &Shared, parts: &http::request::Parts) -> Option<String> {
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if let Some((bucket, _)) = shared.hosts.split(host) {
        return Some(bucket.to_owned());
    }
    let path = parts.uri.path().trim_start_matches('/');
    let first = path.split('/').next().filter(|s| !s.is_empty())?;
    percent_encoding::percent_decode_str(first)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

fn forbidden(message: &str) -> Response<ApiBody> {
    crate::front::error_response(&ApiError::new(403, "AccessForbidden", message), "")
}

/// Answers a CORS preflight, or `None` when the request is not one.
pub(crate) fn preflight(
    shared: &Shared,
    parts: &http::request::Parts,
) -> Option<Response<ApiBody>> {
    if parts.method != Method::OPTIONS {
        return None;
    }
    let header = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok());
    let origin = header("origin")?;
    let Some(method) = header("access-control-request-method") else {
        return Some(crate::front::error_response(
            &ApiError::bad_request(
                "BadRequest",
                "Insufficient information. Origin request header needed.",
            ),
            "",
        ));
    };
    let requested: Vec<String> = header("access-control-request-headers")
        .map(|h| {
            h.split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let Some(bucket) = bucket_of(shared, parts) else {
        return Some(forbidden("CORSResponse: Bucket not found"));
    };
    let rules = match shared.objects.bucket_cors(&bucket) {
        Ok(r) => r,
        Err(objects::ObjectError::NoSuchBucket) => {
            return Some(forbidden("CORSResponse: Bucket not found"))
        }
        Err(_) => {
            return Some(forbidden(
                "CORSResponse: CORS is not enabled for this bucket.",
            ))
        }
    };
    let Some(rule) = matching_rule(&rules, origin, method, &requested) else {
        return Some(forbidden(
            "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
        ));
    };
    let mut resp = Response::new(
        http_body_util::Empty::new()
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    let h = resp.headers_mut();
    allow_origin(rule, origin, h);
    set(
        h,
        "access-control-allow-methods",
        &rule.allowed_methods.join(", "),
    );
    if !requested.is_empty() {
        set(h, "access-control-allow-headers", &requested.join(", "));
    }
    if let Some(age) = rule.max_age_seconds {
        set(h, "access-control-max-age", &age.to_string());
    }
    expose(rule, h);
    set(
        h,
        "vary",
        "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    );
    Some(resp)
}

/// Adds `Access-Control-*` headers to the response of an actual cross-origin request.
pub(crate) fn decorate(
    shared: &Shared,
    state: &RequestState,
    origin: &HeaderValue,
    method: &Method,
    headers: &mut HeaderMap,
) {
    let Ok(origin) = origin.to_str() else { return };
    let Some(bucket) = state.lock().bucket.clone() else {
        return;
    };
    let Ok(rules) = shared.objects.bucket_cors(&bucket.name) else {
        return;
    };
    if let Some(rule) = matching_rule(&rules, origin, method.as_str(), &[]) {
        allow_origin(rule, origin, headers);
        set(
            headers,
            "access-control-allow-methods",
            &rule.allowed_methods.join(", "),
        );
        expose(rule, headers);
        set(
            headers,
            "vary",
            "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
        );
    }
}

fn allow_origin(rule: &CorsRule, origin: &str, h: &mut HeaderMap) {
    if rule.allowed_origins.iter().any(|o| o == "*") {
        set(h, "access-control-allow-origin", "*");
    } else {
        set(h, "access-control-allow-origin", origin);
        set(h, "access-control-allow-credentials", "true");
    }
}

fn expose(rule: &CorsRule, h: &mut HeaderMap) {
    if !rule.expose_headers.is_empty() {
        set(
            h,
            "access-control-expose-headers",
            &rule.expose_headers.join(", "),
        );
    }
}

fn set(h: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_origin_method_and_headers() {
        let rules = vec![CorsRule {
            allowed_origins: vec!["https://*.example.com".into()],
            allowed_methods: vec!["PUT".into(), "GET".into()],
            allowed_headers: vec!["content-*".into(), "x-amz-*".into()],
            ..CorsRule::default()
        }];
        assert!(matching_rule(
            &rules,
            "https://app.example.com",
            "PUT",
            &["content-type".into()]
        )
        .is_some());
        assert!(matching_rule(&rules, "https://app.example.org", "PUT", &[]).is_none());
        assert!(matching_rule(&rules, "https://app.example.com", "DELETE", &[]).is_none());
        assert!(matching_rule(
            &rules,
            "https://app.example.com",
            "GET",
            &["authorization".into()]
        )
        .is_none());
    }
}
