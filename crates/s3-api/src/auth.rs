//! Authentication: the one decision of how a request is signed, and the secrets s3s verifies signatures
//! with.
//!
//! [`claims`] runs first, in the front, for every request: it takes the request's single authentication
//! mechanism ([`sigv4::mechanism`] — two of them are `InvalidArgument`), reads what that mechanism claims,
//! and for SigV2 verifies the signature itself (constant-time, with the clock rules SigV4 has) before s3s
//! verifies it again. s3s verifies SigV4 in all its forms with the secret [`IamAuth`] looks up; the access
//! check then refuses a request unless the key s3s verified is the key claimed here, so every claim that
//! feeds a policy (`s3:authType`, `s3:signatureversion`, `s3:signatureAge`, the principal) comes from the
//! signature that was verified.

use api::{ApiError, AuthFailure};
use iam::Iam;
use s3s::auth::{S3Auth, SecretKey};
use s3s::S3Result;

use crate::front::Shared;
use crate::state::Claims;

pub(crate) struct IamAuth {
    pub(crate) iam: Iam,
}

#[async_trait::async_trait]
impl S3Auth for IamAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.iam.authenticate(access_key) {
            Ok(Some(c)) if c.active => Ok(SecretKey::from(c.secret.as_str())),
            Ok(_) => Err(crate::error::to_s3(
                api::AuthFailure::UnknownKey.to_api_error("s3"),
            )),
            Err(e) => Err(crate::error::to_s3(api::ApiError::internal(e))),
        }
    }
}

fn signature_error(e: &sigv4::Error) -> ApiError {
    AuthFailure::Signature(e.code().to_owned(), e.to_string()).to_api_error("s3")
}

/// What the request's one authentication mechanism claims; `None` for anonymous requests. SigV2 requests are
/// verified here.
pub(crate) fn claims(
    shared: &Shared,
    parts: &http::request::Parts,
    now: time::OffsetDateTime,
) -> Result<Option<Claims>, ApiError> {
    use sigv4::Mechanism;
    let mechanism = sigv4::mechanism(parts).map_err(|e| signature_error(&e))?;
    match mechanism {
        Mechanism::Anonymous => Ok(None),
        Mechanism::V4Header | Mechanism::V4Query => sigv4::parse(parts)
            .map(|c| c.map(Claims::V4))
            .map_err(|e| signature_error(&e)),
        Mechanism::V2Header | Mechanism::V2Query => {
            let auth = sigv4::parse_v2(parts, now).map_err(|e| signature_error(&e))?;
            // SigV2 signs only its own list of subresources; one the router knows beyond it (`encryption`,
            // `publicAccessBlock`…) would choose an operation the signature never named.
            let query = parts.uri.query().unwrap_or("");
            for name in query.split('&').filter_map(|p| p.split('=').next()) {
                let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
                if crate::route::is_subresource(&name) && !sigv4::v2_signs_subresource(&name) {
                    return Err(ApiError::bad_request(
                        "InvalidRequest",
                        format!(
                            "The ?{name} subresource requires AWS Signature Version 4 (AWS4-HMAC-SHA256)."
                        ),
                    ));
                }
            }
            let creds = match shared.core.iam().authenticate(&auth.access_key_id) {
                Ok(Some(c)) if c.active => c,
                Ok(_) => return Err(AuthFailure::UnknownKey.to_api_error("s3")),
                Err(e) => return Err(ApiError::internal(e)),
            };
            let host = parts
                .headers
                .get(http::header::HOST)
                .and_then(|v| v.to_str().ok())
                .or_else(|| parts.uri.authority().map(|a| a.as_str()))
                .unwrap_or_default();
            let bucket = shared.hosts.split(host).map(|(bucket, _)| bucket);
            sigv4::verify_v2(parts, &auth, &creds.secret, bucket)
                .map_err(|e| signature_error(&e))?;
            Ok(Some(Claims::V2(auth)))
        }
    }
}

/// Verifies a request's signature from its head alone, for the requests whose body the front reads before s3s
/// runs (XML documents): an unknown key or a wrong signature is refused before a byte of the body is read.
/// SigV2 was verified by [`claims`] already; SigV4's canonical request covers the declared payload hash, so the
/// signature can be checked now and s3s checks the body against that hash later.
pub(crate) fn verify_head(
    shared: &Shared,
    parts: &http::request::Parts,
    claims: &Claims,
    now: time::OffsetDateTime,
) -> Result<(), ApiError> {
    let Claims::V4(auth) = claims else {
        return Ok(());
    };
    let creds = match shared.core.iam().authenticate(&auth.access_key_id) {
        Ok(Some(c)) if c.active => c,
        Ok(_) => return Err(AuthFailure::UnknownKey.to_api_error("s3")),
        Err(e) => return Err(ApiError::internal(e)),
    };
    let payload_hash = match parts
        .headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
    {
        Some(declared) => declared.to_owned(),
        None if auth.is_presigned() => sigv4::UNSIGNED_PAYLOAD.to_owned(),
        None => sigv4::EMPTY_SHA256.to_owned(),
    };
    // S3 accepts `x-amz-content-sha256` unsigned; it takes no part in the signature, so it is left out here.
    let unsigned_hash = parts.headers.contains_key("x-amz-content-sha256")
        && !auth
            .signed_headers
            .iter()
            .any(|h| h == "x-amz-content-sha256");
    let verified = if unsigned_hash {
        let mut head = http::Request::builder()
            .method(parts.method.clone())
            .uri(parts.uri.clone())
            .version(parts.version)
            .body(())
            .map_err(ApiError::internal)?
            .into_parts()
            .0;
        head.headers = parts.headers.clone();
        head.headers.remove("x-amz-content-sha256");
        shared.verifier.verify(
            &head,
            auth,
            &creds.secret,
            &payload_hash,
            sigv4::UriMode::S3,
            now,
        )
    } else {
        shared.verifier.verify(
            parts,
            auth,
            &creds.secret,
            &payload_hash,
            sigv4::UriMode::S3,
            now,
        )
    };
    verified.map_err(|e| signature_error(&e))
}

/// Whether a request is a browser form upload (POST Object): `POST` with a `multipart/form-data` body.
pub(crate) fn is_post_form(parts: &http::request::Parts) -> bool {
    parts.method == http::Method::POST
        && parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .get(..19)
                    .is_some_and(|t| t.eq_ignore_ascii_case("multipart/form-data"))
            })
}
