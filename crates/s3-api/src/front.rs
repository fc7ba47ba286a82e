//! The front end: the `RawService` the dispatcher calls for S3, wrapping the `s3s` service with our
//! authentication, access checks, host parsing and operations, and writing one audit event per request.

use std::sync::Arc;

use api::{ApiBody, ApiError, Arrival, Core, Protocol, RawService};
use http::{HeaderValue, Request, Response};
use http_body_util::BodyExt;
use s3s::service::{S3Service, S3ServiceBuilder};

use crate::access::{Access, PolicyCache};
use crate::auth::IamAuth;
use crate::host::Hosts;
use crate::service::Handler;
use crate::sse::KeyService;
use crate::state::RequestState;
use crate::ServicePrincipalResolver;

/// The largest XML request body (DeleteObjects of 1,000 keys and CompleteMultipartUpload of 10,000 parts fit
/// with room to spare). s3s reads it whole once the caller is authenticated, before the operation's check.
pub const MAX_XML_BODY: usize = 4 * 1024 * 1024;

/// The largest XML request body an anonymous caller may send (the JSON and Query services' limit too).
pub const MAX_ANONYMOUS_XML_BODY: usize = api::MAX_ANONYMOUS_BODY;

/// The largest bucket policy, as AWS limits it.
pub const MAX_BUCKET_POLICY: usize = 20 * 1024;

/// Deployment options of the S3 front end.
#[derive(Clone)]
pub struct S3Options {
    /// Base domains for virtual-hosted-style requests besides `s3.amazonaws.com`,
    /// `s3.<region>.amazonaws.com` and `s3.localhost` (e.g. `s3.example.com` for `<bucket>.s3.example.com`).
    pub base_domains: Vec<String>,
    /// Record data events (object reads and writes) in the audit trail; management events are always
    /// recorded.
    pub data_events: bool,
    /// Who signs on behalf of resources (the edge); the default substitutes nobody.
    pub service_principals: Arc<dyn ServicePrincipalResolver>,
}

impl Default for S3Options {
    fn default() -> Self {
        S3Options {
            base_domains: Vec::new(),
            data_events: true,
            service_principals: Arc::new(crate::NoServicePrincipals),
        }
    }
}

impl std::fmt::Debug for S3Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Options")
            .field("base_domains", &self.base_domains)
            .field("data_events", &self.data_events)
            .finish_non_exhaustive()
    }
}

/// What every stage of the S3 path shares.
pub(crate) struct Shared {
    pub core: Core,
    pub objects: objects::Objects,
    pub keys: Arc<dyn KeyService>,
    pub resolver: Arc<dyn ServicePrincipalResolver>,
    pub policies: PolicyCache,
    pub hosts: Hosts,
    /// Checks SigV4 signatures the front must verify itself (before reading an XML body).
    pub verifier: sigv4::Verifier,
    pub data_events: bool,
}

/// S3 on the shared endpoint. Register it with `Dispatcher::register_raw`.
pub struct S3Frontend {
    shared: Arc<Shared>,
    service: S3Service,
}

impl std::fmt::Debug for S3Frontend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Frontend").finish_non_exhaustive()
    }
}

impl S3Frontend {
    /// S3 over `objects`, authorizing and auditing through `core` (the dispatcher's), encrypting through
    /// `keys`.
    pub fn new(
        core: Core,
        objects: objects::Objects,
        keys: Arc<dyn KeyService>,
        options: S3Options,
    ) -> Self {
        let shared = Arc::new(Shared {
            core: core.clone(),
            objects,
            keys,
            resolver: options.service_principals.clone(),
            policies: PolicyCache::default(),
            hosts: Hosts::new(&options.base_domains),
            verifier: sigv4::Verifier::new(),
            data_events: options.data_events,
        });
        let mut builder = S3ServiceBuilder::new(Handler {
            shared: shared.clone(),
        });
        builder.set_auth(IamAuth {
            iam: core.iam().clone(),
        });
        builder.set_access(Access {
            shared: shared.clone(),
        });
        builder.set_host(Hosts::new(&options.base_domains));
        let mut config = s3s::config::S3Config::default();
        config.xml_max_body_size = MAX_XML_BODY;
        builder.set_config(Arc::new(s3s::config::StaticConfigProvider::new(Arc::new(
            config,
        ))));
        S3Frontend {
            shared,
            service: builder.build(),
        }
    }

    async fn serve_inner(&self, req: Request<ApiBody>, arrival: Arrival) -> Response<ApiBody> {
        let request_id = arrival.request_id.clone();
        let (mut parts, body) = req.into_parts();
        if let Some(resp) = crate::cors::preflight(&self.shared, &parts) {
            return with_request_id(resp, &request_id);
        }
        let (path, virtual_host) = match self.locate(&parts) {
            Ok(x) => x,
            Err(err) => return error_response(&err, &request_id),
        };
        if crate::auth::is_post_form(&parts) {
            // Browser form uploads never reach s3s: its form parser reads the whole file before any access
            // check, and it would honour unsigned HTTP headers.
            return match self.form_target(&parts, &path, virtual_host.as_deref()) {
                Ok(bucket) => {
                    crate::post::post_object(&self.shared, parts, body, arrival, bucket).await
                }
                Err(err) => error_response(&err, &request_id),
            };
        }
        let operation = match self.operation_of(&parts, &path, virtual_host.is_some()) {
            Ok(op) => op,
            Err(err) => return error_response(&err, &request_id),
        };
        let claims = match crate::auth::claims(&self.shared, &parts, arrival.time) {
            Ok(c) => c,
            Err(err) => return error_response(&err, &request_id),
        };
        let body = if takes_xml_body(&parts.method, operation) {
            // Read here, bounded, so an oversized document is S3's 400 (s3s reports a streamed body past its
            // limit as a 500) and s3s parses what is already in memory — but only once the signature is known
            // good (an unknown key or a forged signature costs no body), and for anonymous callers only a
            // small one.
            let limit = match &claims {
                Some(c) => {
                    if let Err(err) =
                        crate::auth::verify_head(&self.shared, &parts, c, arrival.time)
                    {
                        return error_response(&err, &request_id);
                    }
                    MAX_XML_BODY
                }
                None => MAX_ANONYMOUS_XML_BODY,
            };
            match read_xml_body(body, limit, claims.is_none(), declared_length(&parts)).await {
                Ok(bytes) => s3s::Body::from(bytes),
                Err(err) => return error_response(&err, &request_id),
            }
        } else {
            s3s::Body::http_body_unsync(body)
        };
        let origin = parts.headers.get(http::header::ORIGIN).cloned();
        let method = parts.method.clone();
        let state = RequestState::new(arrival, claims, operation);
        parts.extensions.insert(state.clone());
        let req = Request::from_parts(parts, body);

        let resp = match self.service.call(req).await {
            Ok(resp) => resp,
            Err(e) => {
                let err = ApiError::internal(format!("s3s failed: {e:?}"));
                let recorded =
                    crate::audit::finish(&self.shared, &state, err.status, Some(err.clone())).await;
                return error_response(&recorded.err().unwrap_or(err), &request_id);
            }
        };
        let (mut head, body) = resp.into_parts();
        let (body, error) = if head.status.as_u16() >= 300 {
            let bytes = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            let error = crate::audit::parse_error(head.status.as_u16(), &bytes);
            (
                http_body_util::Full::new(bytes)
                    .map_err(|never| match never {})
                    .boxed_unsync(),
                error,
            )
        } else {
            (body.boxed_unsync(), None)
        };
        if let Some(origin) = origin {
            crate::cors::decorate(&self.shared, &state, &origin, &method, &mut head.headers);
        }
        if let Err(unrecorded) =
            crate::audit::finish(&self.shared, &state, head.status.as_u16(), error).await
        {
            return error_response(&unrecorded, &request_id);
        }
        with_request_id(Response::from_parts(head, body), &request_id)
    }
}

impl S3Frontend {
    /// The request's path as s3s will decode it, and the bucket its `Host` names (virtual-hosted style).
    fn locate(&self, parts: &http::request::Parts) -> Result<(String, Option<String>), ApiError> {
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .unwrap_or_default();
        let virtual_host = self.shared.hosts.split(host).map(|(b, _)| b.to_owned());
        let decoded = percent_encoding::percent_decode_str(parts.uri.path())
            .decode_utf8()
            .map_err(|_| {
                ApiError::bad_request("InvalidURI", "Couldn't parse the specified URI.")
            })?;
        Ok((decoded.into_owned(), virtual_host))
    }

    /// The AWS operation a request is ([`crate::route`]).
    fn operation_of(
        &self,
        parts: &http::request::Parts,
        path: &str,
        virtual_host: bool,
    ) -> Result<&'static str, ApiError> {
        let (target, path) = crate::route::target_of(path, virtual_host);
        crate::route::resolve(
            &parts.method,
            target,
            path,
            parts.uri.query().unwrap_or(""),
            &parts.headers,
            crate::service::handles,
        )
        .map(|op| op.name)
    }

    /// The bucket a browser form uploads to. The form carries its own signature, so no other mechanism may
    /// stand beside it, and it names a bucket and no subresource.
    fn form_target(
        &self,
        parts: &http::request::Parts,
        path: &str,
        virtual_host: Option<&str>,
    ) -> Result<String, ApiError> {
        let mechanism = sigv4::mechanism(parts).map_err(|e| {
            api::AuthFailure::Signature(e.code().to_owned(), e.to_string()).to_api_error("s3")
        })?;
        if mechanism != sigv4::Mechanism::Anonymous {
            let e = sigv4::Error::MultipleAuthMechanisms;
            return Err(
                api::AuthFailure::Signature(e.code().to_owned(), e.to_string()).to_api_error("s3"),
            );
        }
        let query = parts.uri.query().unwrap_or("");
        let subresource = query
            .split('&')
            .filter_map(|p| p.split('=').next())
            .find(|k| crate::route::is_subresource(k));
        match (crate::post::form_bucket(path, virtual_host), subresource) {
            (Some(bucket), None) => Ok(bucket),
            _ => Err(crate::error::invalid_request(
                "A browser form upload (multipart/form-data) is a POST to a bucket with no subresource.",
            )),
        }
    }
}

#[async_trait::async_trait]
impl RawService for S3Frontend {
    fn signing_name(&self) -> &'static str {
        "s3"
    }

    async fn serve(&self, req: Request<ApiBody>, arrival: Arrival) -> Response<ApiBody> {
        self.serve_inner(req, arrival).await
    }
}

/// An S3 error document as a response.
/// The request's `Content-Length`, if it declares one.
fn declared_length(parts: &http::request::Parts) -> Option<u64> {
    parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// The answer to a body past `limit`: S3's 400 for signed callers; anonymous callers, who may send only
/// [`MAX_ANONYMOUS_XML_BODY`], get the 403 they would get for most of these operations anyway.
fn too_big(limit: usize, anonymous: bool) -> ApiError {
    if anonymous {
        ApiError::new(
            403,
            "AccessDenied",
            format!("Anonymous requests may carry at most {limit} bytes of XML."),
        )
    } else {
        ApiError::bad_request(
            "MaxMessageLengthExceeded",
            format!("Your request was too big: at most {limit} bytes."),
        )
    }
}

/// An XML request body, whole, at most `limit` bytes; a declared length past it is refused before anything is
/// read.
async fn read_xml_body(
    body: ApiBody,
    limit: usize,
    anonymous: bool,
    declared: Option<u64>,
) -> Result<bytes::Bytes, ApiError> {
    if declared.is_some_and(|d| d > limit as u64) {
        return Err(too_big(limit, anonymous));
    }
    let mut limited = http_body_util::Limited::new(body, limit);
    let mut out = bytes::BytesMut::new();
    while let Some(frame) = limited.frame().await {
        match frame {
            Ok(f) => {
                if let Ok(data) = f.into_data() {
                    out.extend_from_slice(&data);
                }
            }
            Err(e) => {
                let too_big = e
                    .downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some();
                return Err(if too_big {
                    ApiError::bad_request(
                        "MaxMessageLengthExceeded",
                        format!("Your request was too big: at most {MAX_XML_BODY} bytes."),
                    )
                } else {
                    ApiError::bad_request("IncompleteBody", "The request body could not be read.")
                });
            }
        }
    }
    Ok(out.freeze())
}

/// Whether an operation's request body is an XML document (everything written with PUT or POST but object and
/// part uploads, whose bodies stream).
fn takes_xml_body(method: &http::Method, operation: &str) -> bool {
    matches!(*method, http::Method::PUT | http::Method::POST)
        && !matches!(operation, "PutObject" | "UploadPart")
}

pub(crate) fn error_response(err: &ApiError, request_id: &str) -> Response<ApiBody> {
    err.render(Protocol::RestXml, request_id).map(|b| {
        http_body_util::Full::new(b)
            .map_err(|never| match never {})
            .boxed_unsync()
    })
}

fn with_request_id(mut resp: Response<ApiBody>, request_id: &str) -> Response<ApiBody> {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amz-request-id", v);
    }
    resp
}
