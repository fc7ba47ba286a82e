//! The per-request state the front end puts into the request extensions: what arrived, what the signature
//! claims, the request context once the caller is known, the authorization proof, and what the audit event
//! will say. Every stage of one request (front, access check, per-operation hook, operation) shares it.

use std::sync::{Arc, Mutex, MutexGuard};

use api::{ApiError, Arrival, Authorized, CallRecord, RequestContext};
use objects::Bucket;

/// How the request was signed, including the S3-only POST form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignedBy {
    Anonymous,
    Header,
    Query,
    /// A browser form upload (POST policy).
    Post,
}

impl SignedBy {
    /// The value of `s3:authType`.
    pub(crate) fn s3_auth_type(self) -> Option<&'static str> {
        match self {
            SignedBy::Anonymous => None,
            SignedBy::Header => Some("REST-HEADER"),
            SignedBy::Query => Some("REST-QUERY-STRING"),
            SignedBy::Post => Some("POST"),
        }
    }
}

/// What the one authentication mechanism of a request claims, read by the front before s3s runs. For SigV2
/// the front has already verified the signature itself (constant-time, with its clock rules); SigV4 and its
/// aws-chunked forms are verified by s3s, and the access check refuses a request whose verified access key is
/// not the one claimed here.
#[derive(Debug, Clone)]
pub(crate) enum Claims {
    V4(sigv4::ParsedAuth),
    V2(sigv4::V2Auth),
}

impl Claims {
    pub(crate) fn access_key_id(&self) -> &str {
        match self {
            Claims::V4(c) => &c.access_key_id,
            Claims::V2(c) => &c.access_key_id,
        }
    }

    pub(crate) fn session_token(&self) -> Option<&str> {
        match self {
            Claims::V4(c) => c.session_token.as_deref(),
            Claims::V2(c) => c.session_token.as_deref(),
        }
    }

    pub(crate) fn signed_by(&self) -> SignedBy {
        let query = match self {
            Claims::V4(c) => c.is_presigned(),
            Claims::V2(c) => matches!(c.kind, sigv4::V2Kind::Presigned { .. }),
        };
        if query {
            SignedBy::Query
        } else {
            SignedBy::Header
        }
    }

    /// The value of `s3:signatureversion`.
    pub(crate) fn signature_version(&self) -> &'static str {
        match self {
            Claims::V4(_) => "AWS4-HMAC-SHA256",
            Claims::V2(_) => "AWS",
        }
    }

    /// The region of the credential scope; SigV2 has none.
    pub(crate) fn region(&self) -> Option<&str> {
        match self {
            Claims::V4(c) => Some(c.region.as_str()).filter(|r| !r.is_empty()),
            Claims::V2(_) => None,
        }
    }

    /// When the request was signed, for `s3:signatureAge`; a SigV2 presigned URL does not say.
    pub(crate) fn signed_at(&self) -> Option<time::OffsetDateTime> {
        match self {
            Claims::V4(c) => Some(c.request_time),
            Claims::V2(c) => match c.kind {
                sigv4::V2Kind::Header { date } => Some(date),
                sigv4::V2Kind::Presigned { .. } => None,
            },
        }
    }

    /// Whether an `x-amz-*` header is covered by the signature. SigV2's string to sign covers every one.
    pub(crate) fn signs_header(&self, name: &str) -> bool {
        match self {
            Claims::V4(c) => c.signed_headers.iter().any(|s| s == name),
            Claims::V2(_) => true,
        }
    }
}

/// The mutable state of one request.
#[derive(Default)]
pub(crate) struct State {
    pub arrival: Option<Arrival>,
    /// What the request's one authentication mechanism claims (`None`: anonymous or a POST form).
    pub claims: Option<Claims>,
    /// The AWS operation the router matched; s3s must agree.
    pub operation: &'static str,
    pub signed_by: Option<SignedBy>,
    /// The condition keys every check of this request carries (`s3:authType`, `s3:signatureversion`,
    /// `s3:signatureAge`, `s3:x-amz-content-sha256`), built once by the access check.
    pub request_keys: crate::access::conditions::Keys,
    /// Built by the access check once the caller is known.
    pub ctx: Option<RequestContext>,
    /// Set by the per-operation hook; taken by the operation.
    pub proof: Option<Authorized>,
    /// The bucket the operation acts on, loaded by the per-operation hook.
    pub bucket: Option<Bucket>,
    /// What the audit event records.
    pub record: CallRecord,
    /// An error an operation produced, recorded verbatim (s3s renders the wire form).
    pub error: Option<ApiError>,
    /// Headers an error response carries (`x-amz-delete-marker`, `x-amz-version-id`).
    pub error_headers: Option<http::HeaderMap>,
}

/// A shared handle on [`State`]; cloneable so it can live in `http::Extensions`.
#[derive(Clone, Default)]
pub(crate) struct RequestState(Arc<Mutex<State>>);

impl RequestState {
    pub(crate) fn new(arrival: Arrival, claims: Option<Claims>, operation: &'static str) -> Self {
        let state = State {
            arrival: Some(arrival),
            claims,
            operation,
            ..State::default()
        };
        RequestState(Arc::new(Mutex::new(state)))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while the lock was held cannot leave the state inconsistent in a way that matters more
        // than losing the request, so a poisoned lock is used as is.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The state of the request whose extensions these are.
    pub(crate) fn of(ext: &http::Extensions) -> Result<RequestState, ApiError> {
        ext.get::<RequestState>()
            .cloned()
            .ok_or_else(|| ApiError::internal("request state missing from the extensions"))
    }

    /// The request context; an error if the access check has not built it (which would be a bug).
    pub(crate) fn ctx(&self) -> Result<RequestContext, ApiError> {
        self.lock()
            .ctx
            .clone()
            .ok_or_else(|| ApiError::internal("request context missing"))
    }

    /// Takes the authorization proof of this request: an operation that cannot get one does not run.
    pub(crate) fn take_proof(&self) -> Result<(Authorized, Option<Bucket>), ApiError> {
        let mut s = self.lock();
        match s.proof.take() {
            Some(p) => Ok((p, s.bucket.clone())),
            None => Err(ApiError::new(403, "AccessDenied", "Access Denied")),
        }
    }
}
