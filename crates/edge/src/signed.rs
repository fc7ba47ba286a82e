//! Signed URLs and signed cookies for cache behaviors with trusted key groups: the credentials are taken from the
//! query string or the `CloudFront-*` cookies and verified (by `cloudfront-sign`) against the keys of the
//! behavior's key groups: a canned policy for the URL as the viewer asked for it (or its normalized spelling), a
//! custom policy's Resource against the normalized spelling only, both without the signing parameters.

use std::net::IpAddr;

use cloudfront_model::NormalizedPath;
use http::HeaderMap;

use crate::state::Snapshot;

/// Checks a request; returns the query string to use from here on (the signing parameters removed), or the
/// message of CloudFront's 403.
#[allow(clippy::too_many_arguments)]
pub fn check(
    snapshot: &Snapshot,
    account: &str,
    groups: &[String],
    scheme: &str,
    host: &str,
    raw_path: &str,
    path: &NormalizedPath,
    query: Option<&str>,
    headers: &HeaderMap,
    client_ip: IpAddr,
) -> Result<Option<String>, &'static str> {
    let cookies: Vec<&str> = headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let cookie_header = (!cookies.is_empty()).then(|| cookies.join("; "));
    let extracted = cloudfront_sign::extract(query, cookie_header.as_deref())
        .map_err(|e| e.message())?
        .ok_or("Missing Key-Pair-Id query parameter or cookie value")?;
    let remaining = extracted.remaining_query.as_deref();
    let url = cloudfront_sign::viewer_url(scheme, host, raw_path, remaining);
    let normalized = cloudfront_sign::viewer_url(scheme, host, &path.url_path(), remaining);
    let request = cloudfront_sign::Request {
        url_without_signing_params: &url,
        normalized_url: &normalized,
        client_ip: Some(client_ip),
        now: time::OffsetDateTime::now_utc().unix_timestamp(),
    };
    cloudfront_sign::verify(&extracted.credentials, &request, |id| {
        snapshot.trusted_key(account, groups, id)
    })
    .map_err(|e| {
        tracing::debug!("signed request refused: {e}");
        e.message()
    })?;
    Ok(extracted.remaining_query)
}
