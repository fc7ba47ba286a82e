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

use crate::authz::DenialStyle;
use crate::context::{AuthType, RequestContext};
use crate::core::Core;
use crate::error::{ApiError, AuthFailure, Protocol};
use crate::metrics::Metrics;
use crate::service::{Call, Reply, Service};
use crate::trail::CallRecord;

/// The largest request body accepted by services whose bodies are read whole (everything but S3 objects).
pub const MAX_BODY: usize = 8 * 1024 * 1024;

/// The largest body of an unsigned request to those services (none of them serves one; the limit only bounds
/// what is read before saying so).
pub const MAX_ANONYMOUS_BODY: usize = 64 * 1024;

/// Where a request came from and how: filled by the listener.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub addr: SocketAddr,
    pub secure: bool,
}

/// Errors of streaming bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response or request body that may stream (S3 objects) or be complete (everything else).
pub type ApiBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// What is known of a request when it arrives, before any service-specific work.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub request_id: String,
    pub peer: Peer,
    pub time: OffsetDateTime,
    /// The deployment's default region, for requests whose signature names none.
    pub default_region: String,
}

/// A service that owns the whole HTTP exchange — S3, whose SigV4 variants (aws-chunked streaming, POST policy)
/// and REST routing live in s3s. It authenticates through `iam`, authorizes and audits through [`Core`] from
/// its own hooks, and must not run an operation without a `Core::authorize` proof.
#[async_trait::async_trait]
pub trait RawService: Send + Sync + 'static {
    fn signing_name(&self) -> &'static str;
    async fn serve(&self, req: Request<ApiBody>, arrival: Arrival) -> Response<ApiBody>;
}

/// Routes requests to services and applies authentication, authorization and auditing to every one.
pub struct Dispatcher {
    core: Core,
    services: HashMap<&'static str, Arc<dyn Service>>,
    raw: HashMap<&'static str, Arc<dyn RawService>>,
    default_region: String,
    verifier: sigv4::Verifier,
}

impl Dispatcher {
    pub fn new(
        iam: Iam,
        audit: Arc<audit::AuditLog>,
        default_region: &str,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            core: Core::new(iam, audit, metrics),
            services: HashMap::new(),
            raw: HashMap::new(),
            default_region: default_region.to_owned(),
            verifier: sigv4::Verifier::new(),
        }
    }

    /// Adds a service, reachable by its signing name.
    pub fn register(&mut self, service: Arc<dyn Service>) {
        self.services.insert(service.signing_name(), service);
    }

    /// Adds a raw service (S3), reachable by its signing name and by unsigned requests when it is `s3`.
    pub fn register_raw(&mut self, service: Arc<dyn RawService>) {
        self.raw.insert(service.signing_name(), service);
    }

    /// The shared authorization/audit/metrics core, for raw services.
    pub fn core(&self) -> &Core {
        &self.core
    }

    pub fn iam(&self) -> &Iam {
        self.core.iam()
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        self.core.metrics()
    }

    /// The listener's entry point: raw services get the streaming request; every other service goes through
    /// [`Dispatcher::handle`].
    pub async fn serve_http<B>(&self, req: Request<B>, peer: Peer) -> Response<ApiBody>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let service = match scope_service(req.headers(), req.uri()) {
            Some(s) => s,
            None if req.headers().contains_key("x-amz-target") => guess_service_of(req.headers()),
            None => "s3".to_owned(),
        };
        if let Some(raw) = self.raw.get(service.as_str()).cloned() {
            let arrival = Arrival {
                request_id: new_request_id(),
                peer,
                time: OffsetDateTime::now_utc(),
                default_region: self.default_region.clone(),
            };
            let started = Instant::now();
            let label = raw.signing_name();
            let req = req.map(|b| http_body_util::BodyExt::map_err(b, Into::into).boxed_unsync());
            let resp = raw.serve(req, arrival).await;
            self.metrics()
                .observe(label, "S3", resp.status().as_u16(), started.elapsed());
            return resp;
        }
        self.handle(req, peer).await.map(|b| {
            http_body_util::Full::new(b)
                .map_err(|never| match never {})
                .boxed_unsync()
        })
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

        // The body is read whole before the signature can be checked (the signature covers it). So that nobody
        // without credentials can make the server hold megabytes per connection, a request naming an access key
        // that does not exist is refused before its body is read, and an anonymous one (no service here takes
        // one) may send little.
        let limit = match &auth {
            Some(a) => {
                if let Err(err) = self.known_key(&a.access_key_id, &service_name) {
                    return self.finish_unaudited(
                        &service_name,
                        "Unknown",
                        err.render(protocol, &request_id),
                        started,
                    );
                }
                MAX_BODY
            }
            None => MAX_ANONYMOUS_BODY,
        };
        let body = match read_body(body, limit).await {
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
            source_ip: Some(peer.addr.ip()),
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
        self.metrics().observe(
            service.signing_name(),
            operation,
            response.status().as_u16(),
            started.elapsed(),
        );
        response
    }

    /// The metrics label of a service name taken from a request: the registered service's own signing name,
    /// or `unknown` — a credential scope is attacker-chosen text and must never become a series.
    fn service_label(&self, name: &str) -> &'static str {
        if let Some(s) = self.services.get(name) {
            return s.signing_name();
        }
        if let Some(r) = self.raw.get(name) {
            return r.signing_name();
        }
        crate::metrics::UNKNOWN
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
                    let record = CallRecord {
                        operation: "Unknown".into(),
                        read_only: true,
                        management: true,
                        error: Some(err.clone()),
                        ..CallRecord::default()
                    };
                    if let Err(unrecorded) = self
                        .core
                        .record(service.event_source(), &call.ctx, &record)
                        .await
                    {
                        return ("Unknown", Err(unrecorded));
                    }
                }
                return ("Unknown", Err(err));
            }
        };
        let operation = plan.operation;
        let mut record = CallRecord {
            operation: operation.to_owned(),
            read_only: plan.read_only,
            management: plan.management,
            resources: plan.resources.clone(),
            request_parameters: plan.request_parameters.clone(),
            ..CallRecord::default()
        };
        let style = DenialStyle {
            code: service.access_denied_code(),
            status: service.access_denied_status(),
            terse_for_anonymous: service.signing_name() == "s3",
        };
        let result = match self.core.authorize(style, &call.ctx, &plan.checks) {
            Ok(proof) => service.execute(call, plan, proof).await,
            Err(err) => Err(err),
        };
        match &result {
            Ok(reply) => {
                record.response_elements = reply.response_elements.clone();
                record.additional_event_data = reply.additional_event_data.clone();
            }
            // A refusal because the trail is down cannot be recorded either.
            Err(e) if *e == ApiError::audit_unavailable() => return (operation, result),
            Err(e) => record.error = Some(e.clone()),
        }
        // Every decision is audited: an outcome whose event could not be made durable is not reported — the
        // caller gets 503 instead (and so does the service that made an internal call).
        if let Err(unrecorded) = self
            .core
            .record(service.event_source(), &call.ctx, &record)
            .await
        {
            return (operation, Err(unrecorded));
        }
        (operation, result)
    }

    /// Refuses an access key id that is unknown or inactive, as [`Dispatcher::authenticate`] would.
    fn known_key(&self, access_key_id: &str, service: &str) -> Result<(), ApiError> {
        match self.iam().authenticate(access_key_id) {
            Ok(Some(c)) if c.active => Ok(()),
            Ok(_) => Err(AuthFailure::UnknownKey.to_api_error(service)),
            Err(e) => Err(ApiError::internal(e)),
        }
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
        let creds = match self.iam().authenticate(&auth.access_key_id) {
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
        self.metrics()
            .observe(service.signing_name(), operation, status, started.elapsed());
        result
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
        self.metrics().observe(
            self.service_label(service),
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
    guess_service_of(&parts.headers)
}

fn guess_service_of(headers: &http::HeaderMap) -> String {
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        if target.starts_with("TrentService.") {
            return "kms".into();
        }
        if target.contains("CloudTrail") {
            return "cloudtrail".into();
        }
    }
    "s3".into()
}

/// The service named by a request's SigV4 credential scope, read cheaply without validating anything (the
/// service that handles the request verifies the signature).
fn scope_service(headers: &http::HeaderMap, uri: &http::Uri) -> Option<String> {
    let from_credential = |credential: &str| credential.split('/').nth(3).map(str::to_owned);
    if let Some(auth) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(rest) = auth.strip_prefix("AWS4-HMAC-SHA256") {
            let credential = rest
                .split(',')
                .find_map(|p| p.trim().strip_prefix("Credential="))?;
            return from_credential(credential);
        }
        // SigV2 ("AWS <key>:<signature>") exists only for S3.
        return auth.starts_with("AWS ").then(|| "s3".to_owned());
    }
    let query = uri.query()?;
    let raw = query
        .split('&')
        .find_map(|p| p.strip_prefix("X-Amz-Credential="))?;
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()?;
    from_credential(&decoded)
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
            if e.downcast_ref::<crate::conn::BodyTimeout>().is_some() {
                // S3's wording; the client stopped sending its body.
                Err(ApiError::bad_request(
                    "RequestTimeout",
                    "Your socket connection to the server was not read from or written to within the timeout period.",
                ))
            } else if e
                .downcast_ref::<http_body_util::LengthLimitError>()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::AUTHORIZATION, auth.parse().unwrap());
        h
    }

    #[test]
    fn scope_service_reads_header_query_and_sigv2() {
        let uri: http::Uri = "/".parse().unwrap();
        let h = headers(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=x",
        );
        assert_eq!(scope_service(&h, &uri).as_deref(), Some("kms"));
        assert_eq!(
            scope_service(&headers("AWS AKID:sig"), &uri).as_deref(),
            Some("s3")
        );
        let q: http::Uri = "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20150830%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=x"
            .parse()
            .unwrap();
        assert_eq!(
            scope_service(&http::HeaderMap::new(), &q).as_deref(),
            Some("s3")
        );
        assert_eq!(scope_service(&http::HeaderMap::new(), &uri), None);
        assert_eq!(
            scope_service(&headers("AWS4-HMAC-SHA256 garbage"), &uri),
            None
        );
    }
}
