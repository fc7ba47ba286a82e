//! The one dispatch path: every request is authenticated, routed, planned, authorized, executed and audited
//! here, in that order. Services are reachable only through [`Dispatcher::handle`] (and, for calls one service
//! makes on a principal's behalf, [`Dispatcher::call_internal`]), because their operations need an
//! [`Authorized`] proof that only this module can make.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body_util::BodyExt;
use iam::{Caller, CallerKind, Iam};
use time::OffsetDateTime;

use crate::authz;
use crate::context::{AuthType, RequestContext};
use crate::error::{ApiError, AuthFailure, Protocol};
use crate::metrics::Metrics;
use crate::service::{Authorized, Call, Plan, Reply, Service};

/// The largest request body accepted by services whose bodies are read whole (everything but S3 objects).
pub const MAX_BODY: usize = 8 * 1024 * 1024;

/// Where a request came from and how: filled by the listener.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub addr: SocketAddr,
    pub secure: bool,
}

/// Routes requests to services and applies authentication, authorization and auditing to every one.
pub struct Dispatcher {
    iam: Iam,
    audit: Arc<audit::AuditLog>,
    services: HashMap<&'static str, Arc<dyn Service>>,
    default_region: String,
    verifier: sigv4::Verifier,
    metrics: Arc<Metrics>,
}

impl Dispatcher {
    pub fn new(
        iam: Iam,
        audit: Arc<audit::AuditLog>,
        default_region: &str,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            iam,
            audit,
            services: HashMap::new(),
            default_region: default_region.to_owned(),
            verifier: sigv4::Verifier::new(),
            metrics,
        }
    }

    /// Adds a service, reachable by its signing name.
    pub fn register(&mut self, service: Arc<dyn Service>) {
        self.services.insert(service.signing_name(), service);
    }

    pub fn iam(&self) -> &Iam {
        &self.iam
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Handles one HTTP request end to end. Never fails: every problem becomes the protocol's error response.
    pub async fn handle<B>(&self, req: Request<B>, peer: Peer) -> Response<Bytes>
    where
        B: hyper::body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let started = Instant::now();
        let request_id = new_request_id();
        let (parts, body) = req.into_parts();

        let auth = match sigv4::parse(&parts) {
            Ok(a) => a,
            Err(e) => {
                let service = guess_service(&parts);
                let protocol = self.protocol_of(&service);
                let err = AuthFailure::Signature(e.code().to_owned(), e.to_string())
                    .to_api_error(&service);
                return self.finish_unaudited(
                    &service,
                    "Unknown",
                    err.render(protocol, &request_id),
                    started,
                );
            }
        };
        let service_name = match &auth {
            Some(a) => a.service.clone(),
            None => guess_service(&parts),
        };
        let Some(service) = self.services.get(service_name.as_str()).cloned() else {
            let err = ApiError::bad_request(
                "InvalidAction",
                format!("The service '{service_name}' is not offered by this endpoint."),
            );
            return self.finish_unaudited(
                &service_name,
                "Unknown",
                err.render(
                    Protocol::Query {
                        xmlns: "https://iam.amazonaws.com/doc/2010-05-08/",
                    },
                    &request_id,
                ),
                started,
            );
        };
        let protocol = service.protocol();

        let body = match read_body(body, MAX_BODY).await {
            Ok(b) => b,
            Err(err) => {
                return self.finish_unaudited(
                    &service_name,
                    "Unknown",
                    err.render(protocol, &request_id),
                    started,
                )
            }
        };

        let now = OffsetDateTime::now_utc();
        let (caller, auth_type, region, signature_age_ms) = match &auth {
            None => (
                Caller::anonymous(),
                AuthType::Anonymous,
                self.default_region.clone(),
                None,
            ),
            Some(a) => match self.authenticate(&parts, a, &body, &service_name, now) {
                Ok(caller) => {
                    let age = (now - a.request_time).whole_milliseconds().max(0) as u64;
                    let kind = if a.is_presigned() {
                        AuthType::Query
                    } else {
                        AuthType::Header
                    };
                    (caller, kind, a.region.clone(), Some(age))
                }
                Err(err) => {
                    return self.finish_unaudited(
                        &service_name,
                        "Unknown",
                        err.render(protocol, &request_id),
                        started,
                    )
                }
            },
        };

        let ctx = RequestContext {
            request_id: request_id.clone(),
            region,
            service: service_name.clone(),
            caller,
            source_ip: peer.addr.ip(),
            secure_transport: peer.secure,
            user_agent: parts
                .headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            time: now,
            auth_type,
            signature_age_ms,
            via: None,
            source_arn: None,
            source_account: None,
        };
        let call = Call { ctx, parts, body };
        let (operation, outcome) = self.run(service.as_ref(), &call).await;
        let response = match outcome {
            Ok(reply) => into_response(reply, &request_id),
            Err(err) => err.render(protocol, &request_id),
        };
        self.metrics.observe(
            &service_name,
            operation,
            response.status().as_u16(),
            started.elapsed(),
        );
        response
    }

    /// Plans, authorizes, executes and audits one call. Returns the operation name for metrics.
    async fn run(
        &self,
        service: &dyn Service,
        call: &Call,
    ) -> (&'static str, Result<Reply, ApiError>) {
        let plan = match service.plan(call).await {
            Ok(p) => p,
            Err(err) => {
                // Requests that fail to decode are audited too (CloudTrail records failed calls), unless
                // nobody was authenticated.
                if !matches!(call.ctx.caller.kind, CallerKind::Anonymous) {
                    let event = crate::trail::event(
                        service,
                        call,
                        "Unknown",
                        true,
                        true,
                        &[],
                        None,
                        Err(&err),
                    );
                    self.audit_event(event).await;
                }
                return ("Unknown", Err(err));
            }
        };
        let operation = plan.operation;
        let read_only = plan.read_only;
        let management = plan.management;
        let request_parameters = plan.request_parameters.clone();
        let resources = plan.resources.clone();

        let result = match self.authorize(service, call, &plan) {
            Ok(proof) => service.execute(call, plan, proof).await,
            Err(err) => Err(err),
        };
        let event = crate::trail::event(
            service,
            call,
            operation,
            read_only,
            management,
            &resources,
            Some(request_parameters),
            result.as_ref(),
        );
        self.audit_event(event).await;
        (operation, result)
    }

    /// Evaluates every check of `plan`; all must be allowed.
    fn authorize(
        &self,
        service: &dyn Service,
        call: &Call,
        plan: &Plan,
    ) -> Result<Authorized, ApiError> {
        authz::authorize(&self.iam, service, &call.ctx, &plan.checks)?;
        Ok(Authorized::new())
    }

    /// Resolves the access key, checks session tokens and expiry, and verifies the signature.
    fn authenticate(
        &self,
        parts: &http::request::Parts,
        auth: &sigv4::ParsedAuth,
        body: &Bytes,
        service: &str,
        now: OffsetDateTime,
    ) -> Result<Caller, ApiError> {
        let creds = match self.iam.authenticate(&auth.access_key_id) {
            Ok(Some(c)) if c.active => c,
            Ok(_) => return Err(AuthFailure::UnknownKey.to_api_error(service)),
            Err(e) => return Err(ApiError::internal(e)),
        };
        if let Some(expected) = &creds.token_sha256 {
            let Some(token) = &auth.session_token else {
                return Err(AuthFailure::BadToken.to_api_error(service));
            };
            if !crypto::constant_time_eq(&crypto::sha256(token.as_bytes()), expected) {
                return Err(AuthFailure::BadToken.to_api_error(service));
            }
            if creds.expiration.is_some_and(|exp| exp <= now) {
                return Err(AuthFailure::ExpiredToken.to_api_error(service));
            }
        } else if auth.session_token.is_some() {
            // A session token sent with long-term credentials is not one we issued for them.
            return Err(AuthFailure::BadToken.to_api_error(service));
        }

        let computed = sigv4::sha256_hex(body);
        let payload_hash = match auth.payload_hash.as_deref() {
            Some(declared)
                if declared.len() == 64 && declared.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                if !declared.eq_ignore_ascii_case(&computed) {
                    return Err(ApiError::bad_request(
                        "XAmzContentSHA256Mismatch",
                        "The provided 'x-amz-content-sha256' header does not match what was computed.",
                    ));
                }
                declared.to_owned()
            }
            Some(declared) if service == "s3" => declared.to_owned(),
            Some(_) => {
                return Err(ApiError::bad_request(
                    "InvalidRequest",
                    "x-amz-content-sha256 must be the SHA-256 of the payload for this service.",
                ))
            }
            None if service == "s3" && auth.is_presigned() => "UNSIGNED-PAYLOAD".to_owned(),
            None => computed,
        };
        let mode = if service == "s3" {
            sigv4::UriMode::S3
        } else {
            sigv4::UriMode::Normalize
        };
        self.verifier
            .verify(parts, auth, &creds.secret, &payload_hash, mode, now)
            .map_err(|e| {
                let message = match e.code() {
                    // Services other than S3 word clock skew as an expired (or not yet current) signature.
                    "RequestTimeTooSkewed" if service != "s3" => {
                        skew_message(auth.request_time, now)
                    }
                    _ => e.to_string(),
                };
                AuthFailure::Signature(e.code().to_owned(), message).to_api_error(service)
            })?;
        Ok(creds.caller.clone())
    }

    /// Runs an operation of `service` for a call built inside the process — a service acting on a principal's
    /// behalf (S3 asking KMS for a data key). It is planned, authorized and audited exactly like an HTTP call.
    pub async fn call_internal(&self, service_name: &str, call: Call) -> Result<Reply, ApiError> {
        let Some(service) = self.services.get(service_name).cloned() else {
            return Err(ApiError::internal(format!(
                "no service named {service_name}"
            )));
        };
        let started = Instant::now();
        let (operation, result) = self.run(service.as_ref(), &call).await;
        let status = match &result {
            Ok(r) => r.status,
            Err(e) => e.status,
        };
        self.metrics
            .observe(service_name, operation, status, started.elapsed());
        result
    }

    async fn audit_event(&self, event: audit::Event) {
        if let Err(e) = self.audit.append(event).await {
            tracing::error!("audit append failed: {e}");
        }
    }

    fn protocol_of(&self, service: &str) -> Protocol {
        self.services
            .get(service)
            .map(|s| s.protocol())
            .unwrap_or(Protocol::RestXml)
    }

    fn finish_unaudited(
        &self,
        service: &str,
        operation: &'static str,
        response: Response<Bytes>,
        started: Instant,
    ) -> Response<Bytes> {
        self.metrics.observe(
            service,
            operation,
            response.status().as_u16(),
            started.elapsed(),
        );
        response
    }
}

/// The service of a request whose credential scope we could not read: JSON targets and form posts name
/// theirs; everything else is S3, as on AWS's S3 endpoints.
fn guess_service(parts: &http::request::Parts) -> String {
    if let Some(target) = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
    {
        if target.starts_with("TrentService.") {
            return "kms".into();
        }
        if target.contains("CloudTrail") {
            return "cloudtrail".into();
        }
    }
    "s3".into()
}

/// Reads a whole body, refusing anything larger than `limit`.
async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, ApiError>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let limited = http_body_util::Limited::new(body, limit);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(ApiError::new(
                    413,
                    "RequestEntityTooLarge",
                    format!("The request body exceeds the maximum allowed size of {limit} bytes."),
                ))
            } else {
                Err(ApiError::bad_request(
                    "IncompleteBody",
                    "The request body could not be read.",
                ))
            }
        }
    }
}

fn into_response(reply: Reply, request_id: &str) -> Response<Bytes> {
    let mut resp = Response::new(reply.body);
    *resp.status_mut() = http::StatusCode::from_u16(reply.status).unwrap_or(http::StatusCode::OK);
    let h = resp.headers_mut();
    for (k, v) in reply.headers {
        h.append(k, v);
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}

/// AWS's wording for a signature outside the allowed clock skew, on every service but S3.
fn skew_message(request_time: OffsetDateTime, now: OffsetDateTime) -> String {
    let f = sigv4::format_amz_date;
    if request_time < now {
        format!(
            "Signature expired: {} is now earlier than {} ({} - 15 min.)",
            f(request_time),
            f(now - sigv4::MAX_SKEW),
            f(now)
        )
    } else {
        format!(
            "Signature not yet current: {} is still later than {} ({} + 15 min.)",
            f(request_time),
            f(now + sigv4::MAX_SKEW),
            f(now)
        )
    }
}

/// A request id in AWS's shape (a UUID).
fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
