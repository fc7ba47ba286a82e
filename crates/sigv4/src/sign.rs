//! Signing for clients: header-signed requests and presigned URLs (the load tool, the edge's origin requests).

use http::header::{HeaderName, HeaderValue, AUTHORIZATION, HOST};
use http::{HeaderMap, Method, Uri};
use time::OffsetDateTime;

use crate::canonical::{
    self, credential_scope, format_amz_date, string_to_sign_bytes, uri_encode,
    write_canonical_request, PathForm, QueryFilter, RequestView, UriMode, ALGORITHM, EMPTY_SHA256,
    UNSIGNED_PAYLOAD,
};
use crate::Error;

/// An access key pair, with the session token of temporary credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    // The secret and token never reach logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Who signs, for which scope, at what time, with which path rules.
#[derive(Debug, Clone, Copy)]
pub struct SigningParams<'a> {
    pub credentials: &'a Credentials,
    pub region: &'a str,
    pub service: &'a str,
    pub now: OffsetDateTime,
    pub mode: UriMode,
}

/// Headers never signed: they are set or rewritten by proxies and HTTP stacks after signing.
const UNSIGNABLE: &[&str] = &[
    "authorization",
    "user-agent",
    "x-amzn-trace-id",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "accept-encoding",
];

fn signable(name: &str) -> bool {
    !UNSIGNABLE.contains(&name)
}

fn header_value(value: &str) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(value).map_err(|_| Error::Signing {
        message: "a value is not a valid header value".to_owned(),
    })
}

/// Signs a request in place with the `Authorization` header and returns the signature (the
/// seed for aws-chunked bodies).
///
/// Sets `x-amz-date`, `x-amz-security-token` (temporary credentials), `x-amz-content-sha256`
/// (S3 requires it; its value is `payload_hash`), and `Host` from the URI when missing. Signs
/// `host` and every other header except hop-by-hop ones and `user-agent`.
pub fn sign_request(
    parts: &mut http::request::Parts,
    payload_hash: &str,
    params: &SigningParams<'_>,
) -> Result<String, Error> {
    let headers = &mut parts.headers;
    headers.remove(AUTHORIZATION);
    if !headers.contains_key(HOST) {
        let authority = parts.uri.authority().ok_or_else(|| Error::Signing {
            message: "the request has neither a Host header nor an authority in its URI".to_owned(),
        })?;
        headers.insert(HOST, header_value(authority.as_str())?);
    }
    let amz_date = format_amz_date(params.now);
    headers.insert("x-amz-date", header_value(&amz_date)?);
    if params.service == "s3" {
        headers.insert("x-amz-content-sha256", header_value(payload_hash)?);
    }
    match &params.credentials.session_token {
        Some(token) => {
            headers.insert("x-amz-security-token", header_value(token)?);
        }
        None => {
            headers.remove("x-amz-security-token");
        }
    }

    let mut signed_headers: Vec<String> = headers
        .keys()
        .map(HeaderName::as_str)
        .filter(|n| signable(n))
        .map(str::to_owned)
        .collect();
    signed_headers.sort_unstable();
    signed_headers.dedup();

    let date = &amz_date[..8];
    let scope = credential_scope(date, params.region, params.service);
    let signature = compute_signature(
        &RequestView::from_parts(parts),
        &signed_headers,
        payload_hash,
        params,
        &amz_date,
        &scope,
        QueryFilter::HEADER,
    );
    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
        params.credentials.access_key_id,
        signed_headers.join(";"),
    );
    parts
        .headers
        .insert(AUTHORIZATION, header_value(&authorization)?);
    Ok(signature)
}

fn compute_signature(
    view: &RequestView<'_>,
    signed_headers: &[String],
    payload_hash: &str,
    params: &SigningParams<'_>,
    amz_date: &str,
    scope: &str,
    filter: QueryFilter,
) -> String {
    let mut cr = Vec::with_capacity(512);
    write_canonical_request(
        &mut cr,
        view,
        signed_headers,
        payload_hash,
        PathForm::Mode(params.mode),
        filter,
    );
    let sts = string_to_sign_bytes(amz_date, scope, &cr);
    let key = canonical::signing_key(
        &params.credentials.secret_access_key,
        &amz_date[..8],
        params.region,
        params.service,
    );
    canonical::signature(&key, &sts)
}

/// A presigned URL for `method uri`, valid `expires_secs` seconds from `params.now`.
///
/// `headers_to_sign` are headers the eventual request must carry with exactly these values
/// (`host` is always signed, taken from there or from the URI). The payload is
/// `UNSIGNED-PAYLOAD` for S3 and the empty-body hash for other services, as the AWS SDKs do.
/// The returned URL keeps the URI's scheme and authority when it has them.
pub fn presign_url(
    method: &Method,
    uri: &Uri,
    headers_to_sign: &HeaderMap,
    params: &SigningParams<'_>,
    expires_secs: u64,
) -> Result<String, Error> {
    if !(1..=crate::MAX_PRESIGNED_EXPIRES_SECS).contains(&expires_secs) {
        return Err(Error::Signing {
            message: format!(
                "expires_secs must be between 1 and {}",
                crate::MAX_PRESIGNED_EXPIRES_SECS
            ),
        });
    }
    let mut headers = headers_to_sign.clone();
    if !headers.contains_key(HOST) {
        let authority = uri.authority().ok_or_else(|| Error::Signing {
            message: "no Host header and no authority in the URI".to_owned(),
        })?;
        headers.insert(HOST, header_value(authority.as_str())?);
    }
    let mut signed_headers: Vec<String> = headers
        .keys()
        .map(HeaderName::as_str)
        .filter(|n| signable(n))
        .map(str::to_owned)
        .collect();
    signed_headers.sort_unstable();
    signed_headers.dedup();

    let amz_date = format_amz_date(params.now);
    let scope = credential_scope(&amz_date[..8], params.region, params.service);
    let mut query = uri.query().unwrap_or("").to_owned();
    let mut append = |key: &str, value: &str| {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(key);
        query.push('=');
        query.push_str(&uri_encode(value));
    };
    append("X-Amz-Algorithm", ALGORITHM);
    append(
        "X-Amz-Credential",
        &format!("{}/{scope}", params.credentials.access_key_id),
    );
    append("X-Amz-Date", &amz_date);
    append("X-Amz-Expires", &expires_secs.to_string());
    append("X-Amz-SignedHeaders", &signed_headers.join(";"));
    if let Some(token) = &params.credentials.session_token {
        append("X-Amz-Security-Token", token);
    }

    let payload_hash = if params.service == "s3" {
        UNSIGNED_PAYLOAD
    } else {
        EMPTY_SHA256
    };
    let view = RequestView {
        method: method.as_str(),
        path: uri.path(),
        query: &query,
        headers: &headers,
        authority: uri.authority().map(|a| a.as_str()),
    };
    let signature = compute_signature(
        &view,
        &signed_headers,
        payload_hash,
        params,
        &amz_date,
        &scope,
        QueryFilter::PRESIGNED,
    );
    query.push_str("&X-Amz-Signature=");
    query.push_str(&signature);

    let mut url = String::new();
    if let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) {
        url.push_str(scheme);
        url.push_str("://");
        url.push_str(authority.as_str());
    }
    url.push_str(if uri.path().is_empty() {
        "/"
    } else {
        uri.path()
    });
    url.push('?');
    url.push_str(&query);
    Ok(url)
}
