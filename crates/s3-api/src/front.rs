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
        let claims = match sigv2_claims(&parts, arrival.time)
            .map_or_else(|| sigv4::parse(&parts), |c| Ok(Some(c)))
        {
            Ok(c) => c,
            Err(e) => {
                let err = api::AuthFailure::Signature(e.code().to_owned(), e.to_string())
                    .to_api_error("s3");
                return error_response(&err, &request_id);
            }
        };
        let origin = parts.headers.get(http::header::ORIGIN).cloned();
        let method = parts.method.clone();
        let object_post = method == http::Method::POST && is_object_path(parts.uri.path());
        let state = RequestState::new(arrival, claims);
        parts.extensions.insert(state.clone());
        let req = Request::from_parts(parts, s3s::Body::http_body_unsync(body));

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
            // A POST to an object that names no POST operation (uploads, uploadId, restore, select…) is S3's 405,
            // which is what the tutorials tell viewers to expect; s3s calls it an unknown operation.
            if object_post && error.as_ref().is_some_and(|e| e.code == "NotImplemented") {
                let err = ApiError::new(
                    405,
                    "MethodNotAllowed",
                    "The specified method is not allowed against this resource.",
                );
                let recorded =
                    crate::audit::finish(&self.shared, &state, 405, Some(err.clone())).await;
                return error_response(&recorded.err().unwrap_or(err), &request_id);
            }
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

#[async_trait::async_trait]
impl RawService for S3Frontend {
    fn signing_name(&self) -> &'static str {
        "s3"
    }

    async fn serve(&self, req: Request<ApiBody>, arrival: Arrival) -> Response<ApiBody> {
        self.serve_inner(req, arrival).await
    }
}

/// Signature Version 2 — what the aws CLI v1 and boto3 still use for S3 presigned URLs in us-east-1, where AWS
/// accepts it. s3s verifies the signature itself; this only describes the request to the access layer in the
/// shape of SigV4 claims. SigV2's string to sign covers every `x-amz-*` header, so all of them count as signed.
/// Returns `None` for requests that are not SigV2.
fn sigv2_claims(
    parts: &http::request::Parts,
    now: time::OffsetDateTime,
) -> Option<sigv4::ParsedAuth> {
    let query = parts.uri.query().unwrap_or("");
    let param = |name: &str| {
        query.split('&').find_map(|p| {
            let (k, v) = p.split_once('=')?;
            (k == name).then(|| {
                percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned()
            })
        })
    };
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let (access_key_id, signature, kind) = match header("authorization") {
        Some(v) => {
            let (key, sig) = v.strip_prefix("AWS ")?.split_once(':')?;
            (key.to_owned(), sig.to_owned(), sigv4::AuthKind::Header)
        }
        None => {
            let key = param("AWSAccessKeyId")?;
            let sig = param("Signature")?;
            let expires = param("Expires")
                .and_then(|e| e.parse::<i64>().ok())
                .unwrap_or(0);
            let left = (expires - now.unix_timestamp()).max(0);
            (
                key,
                sig,
                sigv4::AuthKind::Presigned {
                    expires_secs: left as u64,
                },
            )
        }
    };
    let mut signed_headers: Vec<String> = parts
        .headers
        .keys()
        .map(|h| h.as_str().to_owned())
        .filter(|h| h.starts_with("x-amz-") || h == "host")
        .collect();
    signed_headers.sort();
    signed_headers.dedup();
    Some(sigv4::ParsedAuth {
        access_key_id,
        date: String::new(),
        region: String::new(),
        service: "s3".into(),
        signed_headers,
        signature,
        request_time: now,
        session_token: header("x-amz-security-token")
            .map(str::to_owned)
            .or_else(|| param("x-amz-security-token")),
        kind,
        payload_hash: None,
    })
}

/// An S3 error document as a response.
/// Whether a path-style path names an object (`/bucket/key`), not a bucket or the service.
fn is_object_path(path: &str) -> bool {
    path.trim_start_matches('/')
        .split_once('/')
        .is_some_and(|(_, key)| !key.is_empty())
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
