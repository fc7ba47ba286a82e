//! The edge's and CloudFront's hostile inputs: viewer paths, conditional and range headers, query strings and
//! hosts, origin names, the CloudFront XML request bodies, and signed-URL credentials and policies.

/// A viewer's path: normalization must be idempotent, its origin spelling must decode back to the same key, and
/// an invalidation of a path (or a prefix) must cover it.
pub fn path(data: &[u8]) {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = cloudfront_model::normalize_path(raw) {
        // What S3 decodes the origin request's path to is exactly the key the decision was about…
        let origin = p.origin_path();
        let decoded = percent_encoding::percent_decode_str(&origin).decode_utf8();
        assert_eq!(
            decoded.as_deref().ok(),
            Some(p.as_str()),
            "the origin spelling decodes to the normalized path"
        );
        // …and normalizing it again changes nothing (escaping can make it longer than a viewer may send).
        if let Ok(again) = cloudfront_model::normalize_path(&origin) {
            assert_eq!(again, p, "the origin spelling names the same key");
        }
        let _ = p.url_path();
        if let Ok(inv) = cloudfront_model::normalize_invalidation_path(raw) {
            assert!(inv.covers(&p), "an invalidation of a path covers it");
        }
        let star = format!("{raw}*");
        if let Ok(inv) = cloudfront_model::normalize_invalidation_path(&star) {
            assert!(
                inv.covers(&p),
                "a prefix invalidation covers its own prefix"
            );
        }
    }
    let _ = cloudfront_model::normalize_invalidation_path(raw);
}

/// Conditional and range headers against a cached object: whatever the headers, a partial answer lies inside
/// the object.
pub fn edge_conditional(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let len: u64 = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(10);
    let etag = lines.next().map(str::to_owned);
    let modified = lines.next().map(str::to_owned);
    let mut headers = http::HeaderMap::new();
    for (name, line) in [
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
        "if-range",
        "range",
    ]
    .iter()
    .zip(lines)
    {
        if let Ok(v) = http::HeaderValue::from_str(line) {
            if !line.is_empty() {
                headers.insert(*name, v);
            }
        }
    }
    let decision = edge::conditional::evaluate(&headers, etag.as_deref(), modified.as_deref(), len);
    if let edge::conditional::Decision::Partial { start, end } = decision {
        assert!(
            start <= end && end < len,
            "a partial answer lies inside the object"
        );
    }
    let range = headers.get("range").and_then(|v| v.to_str().ok());
    if let Ok(Some((start, end))) = edge::conditional::byte_range(range, len) {
        assert!(
            start <= end && end < len,
            "a byte range lies inside the object"
        );
    }
}

/// The viewer's query string, host and request size, and the names an origin may have.
pub fn edge_request(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
    let _ = edge::query::parse(first);
    let _ = cloudfront_model::check_origin_name(first, false);
    let _ = cloudfront_model::check_origin_name(first, true);
    let _ = cloudfront_model::ip_literal(first);
    if let Some(ip) = cloudfront_model::ip_literal(first).flatten() {
        let _ = edge::egress::is_internal(ip);
    }
    if let Some((parts, _)) = crate::request_from_bytes(rest.as_bytes()) {
        let _ = edge::request::viewer_host(&parts.uri, &parts.headers);
        let _ = edge::request::too_large("https", first, &parts.uri, &parts.headers);
    }
}

/// CloudFront's XML request bodies: a distribution and a cache policy configuration.
pub fn cloudfront_xml(data: &[u8]) {
    let _ = cloudfront_api::parse_distribution_config(data);
    let _ = cloudfront_api::parse_cache_policy_config(data);
}

/// Signed-URL and signed-cookie credentials as a viewer sends them, and the custom policies they carry.
pub fn cloudfront_signed(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (query, cookie) = text.split_once('\n').unwrap_or((&text, ""));
    let _ = cloudfront_sign::extract(Some(query), Some(cookie));
    let _ = cloudfront_sign::extract(None, Some(cookie));
    if let Ok(policy) = cloudfront_sign::Policy::parse(data) {
        for url in ["https://d.example/a.txt", "http://d.example/private/%70"] {
            let _ = policy.check(
                url,
                Some("192.0.2.1".parse().expect("an address")),
                1_790_000_000,
            );
            let _ = policy.check(url, None, 0);
        }
    }
}
