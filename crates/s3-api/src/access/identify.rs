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
                let creds = match self.shared.core.iam().authenticate(&c.access_key) {
                    Ok(Some(creds)) if creds.active => creds,
                    Ok(_) => return Err(AuthFailure::UnknownKey.to_api_error("s3")),
                    Err(e) => return Err(ApiError::internal(e)),
                };
                // The key s3s verified must be the key of the one mechanism the front read: the claims that feed
                // policies come from the signature that was verified, never from another one beside it.
                let signed_by = match &claims {
                    Some(cl) if cl.access_key_id() == c.access_key => cl.signed_by(),
                    // s3s verified a signature the front did not read: the POST form (browser uploads).
                    None if cx.method() == http::Method::POST => SignedBy::Post,
                    _ => return Err(crate::error::access_denied()),
                };
                let token = claims.as_ref().and_then(|cl| cl.session_token());
                match (&creds.token_sha256, token) {
                    (Some(_), None) if signed_by == SignedBy::Post => {
                        // The form's token field is consumed by s3s before we see it; refuse rather than
                        // accept session credentials unchecked.
                        return Err(ApiError::new(
                            403,
                            "AccessDenied",
                            "Session credentials are not supported for browser-based uploads.",
                        ));
                    }
                    (Some(_), None) => return Err(AuthFailure::BadToken.to_api_error("s3")),
                    (Some(expected), Some(token)) => {
                        if !crypto::constant_time_eq(&crypto::sha256(token.as_bytes()), expected) {
                            return Err(AuthFailure::BadToken.to_api_error("s3"));
                        }
                        if creds.expiration.is_some_and(|exp| exp <= arrival.time) {
                            return Err(AuthFailure::ExpiredToken.to_api_error("s3"));
                        }
                    }
                    (None, Some(_)) => return Err(AuthFailure::BadToken.to_api_error("s3")),
                    (None, None) => {}
                }
                if let Some(cl) = &claims {
                    unsigned_header_rule(cx.headers(), |name| cl.signs_header(name))?;
                }
                (creds.caller.clone(), signed_by)
            }
        };

        let substituted = if matches!(caller.kind, iam::CallerKind::Anonymous) {
            None
        } else {
            self.shared
                .resolver
                .resolve(&caller, cx.method(), cx.uri(), cx.headers())?
        };
        let region = claims
            .as_ref()
            .and_then(|c| c.region())
            .map_or_else(|| arrival.default_region.clone(), str::to_owned);
        let signature_age_ms = claims.as_ref().and_then(|c| c.signed_at()).map(|at| {
            u64::try_from((arrival.time - at).whole_milliseconds().max(0)).unwrap_or(u64::MAX)
        });
        let user_agent = cx
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let auth_type = match signed_by {
            SignedBy::Anonymous => AuthType::Anonymous,
            SignedBy::Query => AuthType::Query,
            SignedBy::Header | SignedBy::Post => AuthType::Header,
        };
        let mut ctx = RequestContext {
            request_id: arrival.request_id.clone(),
            region,
            service: "s3".into(),
            caller,
            source_ip: arrival.peer.addr.ip(),
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
            ctx.caller = sub.caller;
            ctx.source_arn = sub.source_arn;
            ctx.source_account = sub.source_account;
            ctx.via = sub.via;
        }
        let request_keys = super::conditions::request_keys(
            signed_by,
            claims
                .as_ref()
                .map_or("AWS4-HMAC-SHA256", |c| c.signature_version()),
            ctx.signature_age_ms,
            None,
            cx.headers(),
        );
        let mut s = state.lock();
        s.signed_by = Some(signed_by);
        s.request_keys = request_keys;
        s.ctx = Some(ctx);
        Ok(())
    }
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
