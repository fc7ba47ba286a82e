//! The access check every request passes once its signature is verified: who is calling and in what
//! context. Builds the [`api::RequestContext`] and stores it in the request state.

use api::{ApiError, AuthFailure, AuthType, RequestContext};
use iam::Caller;
use s3s::access::S3AccessContext;

use super::Access;
use crate::state::{RequestState, SignedBy};

/// `x-amz-*` headers S3 accepts without a signature.
const UNSIGNED_ALLOWED: [&str; 1] = ["x-amz-content-sha256"];

impl Access {
    pub(super) fn identify(&self, cx: &mut S3AccessContext<'_>) -> Result<(), ApiError> {
        let state = RequestState::of(cx.extensions_mut())?;
        let operation = cx.s3_op().name();
        let (arrival, claims, expected) = {
            let mut s = state.lock();
            s.record.operation = operation.to_owned();
            (s.arrival.clone(), s.claims.clone(), s.operation)
        };
        crate::route::check_same(expected, operation)?;
        let arrival = arrival.ok_or_else(|| ApiError::internal("arrival missing"))?;

        let (caller, signed_by) = match cx.credentials() {
            None => (Caller::anonymous(), SignedBy::Anonymous),
            Some(c) => {
                // The key s3s verified must be the key of the one mechanism the front read: the claims that feed
                // policies come from the signature that was verified, never from another one beside it.
                let Some(cl) = claims
                    .as_ref()
                    .filter(|cl| cl.access_key_id() == c.access_key)
                else {
                    return Err(crate::error::access_denied());
                };
                let caller = caller_of_key(
                    &self.shared,
                    &c.access_key,
                    cl.session_token(),
                    arrival.time,
                )?;
                unsigned_header_rule(cx.headers(), |name| cl.signs_header(name))?;
                (caller, cl.signed_by())
            }
        };
        let substituted = if matches!(caller.kind, iam::CallerKind::Anonymous) {
            None
        } else {
            self.shared
                .resolver
                .resolve(&caller, cx.method(), cx.uri(), cx.headers())?
        };
        let who = Identified {
            caller,
            signed_by,
            signature_version: claims
                .as_ref()
                .map_or("AWS4-HMAC-SHA256", |c| c.signature_version()),
            region: claims.as_ref().and_then(|c| c.region()).map(str::to_owned),
            signed_at: claims.as_ref().and_then(|c| c.signed_at()),
        };
        settle(&state, &arrival, who, cx.headers(), substituted);
        Ok(())
    }
}

/// Who a request's verified signature (or its absence) says is calling, and how.
pub(crate) struct Identified {
    pub caller: Caller,
    pub signed_by: SignedBy,
    /// The value of `s3:signatureversion`.
    pub signature_version: &'static str,
    /// The credential scope's region, if the mechanism has one.
    pub region: Option<String>,
    /// When the request was signed, for `s3:signatureAge`.
    pub signed_at: Option<time::OffsetDateTime>,
}

/// The caller behind an access key whose signature was verified: the key is active, and a session token is
/// present exactly when the key is a session's, matches it (constant time) and has not expired.
pub(crate) fn caller_of_key(
    shared: &crate::front::Shared,
    access_key: &str,
    token: Option<&str>,
    now: time::OffsetDateTime,
) -> Result<Caller, ApiError> {
    let creds = match shared.core.iam().authenticate(access_key) {
        Ok(Some(creds)) if creds.active => creds,
        Ok(_) => return Err(AuthFailure::UnknownKey.to_api_error("s3")),
        Err(e) => return Err(ApiError::internal(e)),
    };
    match (&creds.token_sha256, token) {
        (Some(_), None) | (None, Some(_)) => return Err(AuthFailure::BadToken.to_api_error("s3")),
        (Some(expected), Some(token)) => {
            if !crypto::constant_time_eq(&crypto::sha256(token.as_bytes()), expected) {
                return Err(AuthFailure::BadToken.to_api_error("s3"));
            }
            if creds.expiration.is_some_and(|exp| exp <= now) {
                return Err(AuthFailure::ExpiredToken.to_api_error("s3"));
            }
        }
        (None, None) => {}
    }
    Ok(creds.caller.clone())
}

/// Builds the request context of an identified caller and stores it, with the request's condition keys, in
/// the request state.
pub(crate) fn settle(
    state: &RequestState,
    arrival: &api::Arrival,
    who: Identified,
    headers: &http::HeaderMap,
    substituted: Option<super::resolver::SubstitutedCaller>,
) {
    let signature_age_ms = who.signed_at.map(|at| {
        u64::try_from((arrival.time - at).whole_milliseconds().max(0)).unwrap_or(u64::MAX)
    });
    let user_agent = headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let auth_type = match who.signed_by {
        SignedBy::Anonymous => AuthType::Anonymous,
        SignedBy::Query => AuthType::Query,
        SignedBy::Header | SignedBy::Post => AuthType::Header,
    };
    let mut ctx = RequestContext {
        request_id: arrival.request_id.clone(),
        region: who.region.unwrap_or_else(|| arrival.default_region.clone()),
        service: "s3".into(),
        caller: who.caller,
        source_ip: Some(arrival.peer.addr.ip()),
        secure_transport: arrival.peer.secure,
        user_agent,
        time: arrival.time,
        auth_type,
        signature_age_ms,
        via: None,
        source_arn: None,
        source_account: None,
    };
    if let Some(sub) = substituted {
        // A service acting for one of its resources: its connection's address is not the caller's.
        ctx.source_ip = None;
        ctx.caller = sub.caller;
        ctx.source_arn = sub.source_arn;
        ctx.source_account = sub.source_account;
        ctx.via = sub.via;
    }
    let request_keys = super::conditions::request_keys(
        who.signed_by,
        who.signature_version,
        ctx.signature_age_ms,
        None,
        headers,
    );
    let mut s = state.lock();
    s.signed_by = Some(who.signed_by);
    s.request_keys = request_keys;
    s.ctx = Some(ctx);
}

/// S3 refuses a signed request carrying an `x-amz-*` header its signature does not cover, in the header
/// and in the presigned form alike: an unsigned `x-amz-copy-source` would turn a presigned PUT into a copy.
pub(crate) fn unsigned_header_rule(
    headers: &http::HeaderMap,
    signed: impl Fn(&str) -> bool,
) -> Result<(), ApiError> {
    for name in headers.keys() {
        let name = name.as_str();
        if name.starts_with("x-amz-") && !UNSIGNED_ALLOWED.contains(&name) && !signed(name) {
            return Err(ApiError::new(
                403,
                "AccessDenied",
                "There were headers present in the request which were not signed",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_amz_headers_are_refused() {
        let mut h = http::HeaderMap::new();
        h.insert("x-amz-content-sha256", "UNSIGNED-PAYLOAD".parse().unwrap());
        h.insert("x-amzn-trace-id", "Root=1".parse().unwrap());
        h.insert("content-type", "text/plain".parse().unwrap());
        assert!(unsigned_header_rule(&h, |n| n == "host").is_ok());
        h.insert("x-amz-copy-source", "/b/k".parse().unwrap());
        let e = unsigned_header_rule(&h, |n| n == "host").unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (403, "AccessDenied"));
        assert!(unsigned_header_rule(&h, |n| n == "host" || n == "x-amz-copy-source").is_ok());
    }
}
