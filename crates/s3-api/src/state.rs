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

/// The mutable state of one request.
#[derive(Default)]
pub(crate) struct State {
    pub arrival: Option<Arrival>,
    /// The SigV4 claims read before s3s ran (header or presigned form).
    pub claims: Option<sigv4::ParsedAuth>,
    pub signed_by: Option<SignedBy>,
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
    pub(crate) fn new(arrival: Arrival, claims: Option<sigv4::ParsedAuth>) -> Self {
        let state = State {
            arrival: Some(arrival),
            claims,
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
