//! Requests from the edge: origin fetches and the API's edge feed.
//!
//! S3 origins named as in AWS (`<bucket>.s3.<region>.amazonaws.com`) are this deployment's S3 on the API endpoint,
//! addressed path-style. With Origin Access Control the request is signed with SigV4 using the edge's own
//! credentials and names the distribution in the signed `x-amz-coffer-distribution-arn` header, so S3 evaluates it
//! as `cloudfront.amazonaws.com` with `aws:SourceArn` — the edge never holds more authority than a distribution's
//! OAC grants it. Custom origins are reached over HTTP or HTTPS as their OriginProtocolPolicy says, HTTPS
//! verified against the system's trusted roots plus an optional extra CA file (for private origins).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cloudfront_model::{s3_bucket_of, Distribution, EdgeState, NormalizedPath, Oac, Origin};
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, HOST};
use http::{HeaderMap, Method, Request, Response, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::egress::{system_resolver, EgressPolicy, GuardedConnector};
use crate::BoxError;

/// How long connecting to a custom origin may take (CloudFront's longest ConnectionTimeout).
const ORIGIN_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The header naming the distribution an OAC-signed request is made for. It is an `x-amz-*` header, so S3 honours
/// it only when the signature covers it.
pub const DISTRIBUTION_HEADER: &str = "x-amz-coffer-distribution-arn";

/// The header by which the edge says a fetch for a distribution without Origin Access Control is an anonymous
/// viewer's (value `anonymous`). Signed with the distribution header, so S3 evaluates the request as an
/// anonymous caller — as S3 sees CloudFront's unsigned fetches — without taking the edge's own address for
/// the caller's.
pub const CALLER_HEADER: &str = "x-amz-coffer-caller";

/// The body type of requests the edge sends.
pub type OutBody = BoxBody<Bytes, BoxError>;

/// Why an origin could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum OriginError {
    #[error("the origin {0} is not usable: {1}")]
    Unsupported(String, &'static str),
    #[error("the origin request could not be signed: {0}")]
    Signing(String),
    #[error("the origin did not answer: {0}")]
    Unreachable(String),
    #[error("the origin took longer than {0:?} to answer")]
    Timeout(Duration),
}

/// How an origin request is authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signing {
    /// Sent as it is (custom origins).
    None,
    /// Signed by the edge for this distribution ARN.
    Oac {
        distribution_arn: String,
        region: String,
    },
    /// An S3 origin without OAC (or with an OAC that never signs): signed by the edge for this distribution and
    /// marked anonymous ([`CALLER_HEADER`]), so S3 evaluates it as an anonymous viewer's request. Unsigned, it
    /// would be indistinguishable from an anonymous request from the edge's own (often internal) address.
    Anonymous {
        distribution_arn: String,
        region: String,
    },
}

/// Where one origin request goes.
#[derive(Debug, Clone)]
pub struct Target {
    pub uri: Uri,
    pub host: String,
    pub signing: Signing,
    /// The origin's CustomHeaders, added to every request (and signed with it).
    pub custom_headers: Vec<(HeaderName, HeaderValue)>,
    /// The origin's OriginReadTimeout: how long to wait for its response.
    pub read_timeout: Option<Duration>,
    /// This deployment's S3 on the API endpoint (the API client), rather than a custom origin (the guarded
    /// origin client).
    pub via_api: bool,
}

/// The edge's HTTP clients, its credentials and the API endpoint. The API client reaches only the API endpoint
/// (the feed and S3 origins); the origin client reaches custom origins, through the [`GuardedConnector`].
pub struct OriginClient {
    api: Client<HttpConnector, OutBody>,
    origins: Client<HttpsConnector<GuardedConnector>, OutBody>,
    api_scheme: String,
    api_authority: String,
    credentials: sigv4::Credentials,
    region: String,
    timeout: Duration,
}

impl std::fmt::Debug for OriginClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OriginClient")
            .field("api", &self.api_authority)
            .finish_non_exhaustive()
    }
}

impl OriginClient {
    pub fn new(
        api: &str,
        credentials: sigv4::Credentials,
        region: &str,
        timeout: Duration,
        origin_ca: Option<&Path>,
        egress: Arc<EgressPolicy>,
    ) -> anyhow::Result<OriginClient> {
        let uri: Uri = api.trim_end_matches('/').parse()?;
        let authority = uri
            .authority()
            .ok_or_else(|| anyhow::anyhow!("the API URL {api} has no host"))?;
        anyhow::ensure!(
            uri.scheme_str() == Some("http"),
            "the API URL {api} must be http:// (the edge reaches the API on a trusted network)"
        );
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_keepalive(Some(Duration::from_secs(60)));
        let api_client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .build(connector);
        let guarded = GuardedConnector::new(egress, system_resolver(), ORIGIN_CONNECT_TIMEOUT);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(origin_tls(origin_ca)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(guarded);
        let origins = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .build(connector);
        Ok(OriginClient {
            api: api_client,
            origins,
            api_scheme: "http".into(),
            api_authority: authority.to_string(),
            credentials,
            region: region.to_owned(),
            timeout,
        })
    }

    /// Where a request for `path` with `query` goes for `origin`: the origin's OriginPath, then the normalized
    /// path encoded so the origin decodes it to exactly the object every decision was made about.
    #[allow(clippy::too_many_arguments)]
    pub fn target(
        &self,
        d: &Distribution,
        origin: &Origin,
        oac: Option<&Oac>,
        path: &NormalizedPath,
        query: Option<&str>,
        viewer_https: bool,
    ) -> Result<Target, OriginError> {
        let mut path_and_query = path.origin_path();
        if let Some(q) = query.filter(|q| !q.is_empty()) {
            path_and_query.push('?');
            path_and_query.push_str(q);
        }
        // The API refuses CustomHeaders that would frame the request or speak for the edge; one stored before
        // that check is dropped here.
        let custom_headers = origin
            .custom_headers
            .iter()
            .filter(|(n, _)| {
                let n = n.to_ascii_lowercase();
                !crate::forward::never_forwarded(&n) && !n.starts_with("x-amz-")
            })
            .filter_map(|(n, v)| {
                Some((
                    HeaderName::from_bytes(n.as_bytes()).ok()?,
                    HeaderValue::from_str(v).ok()?,
                ))
            })
            .collect();
        let read_timeout = origin
            .s3_origin_config
            .as_ref()
            .and_then(|c| c.origin_read_timeout)
            .or_else(|| {
                origin
                    .custom_origin_config
                    .as_ref()
                    .and_then(|c| c.origin_read_timeout)
            })
            .map(|secs| Duration::from_secs(u64::from(secs.clamp(1, 180))));
        if let Some((bucket, region)) = s3_bucket_of(&origin.domain_name) {
            let uri = format!(
                "{}://{}/{bucket}{}{path_and_query}",
                self.api_scheme, self.api_authority, origin.origin_path
            );
            // `no-override` leaves a viewer's Authorization to the origin instead of signing; the edge never
            // forwards a viewer's credentials (they would widen what the edge's signature authorizes, and a
            // junk one would make an unsigned request whose error is cached for everyone), so there is nothing
            // to leave alone: it signs, like `always`.
            let signing = matches!(
                oac.map(|o| o.config.signing_behavior.as_str()),
                Some("always" | "no-override")
            );
            return Ok(Target {
                uri: uri
                    .parse()
                    .map_err(|_| OriginError::Signing(format!("bad origin URI {uri}")))?,
                host: self.api_authority.clone(),
                signing: if signing {
                    Signing::Oac {
                        distribution_arn: d.arn.clone(),
                        region: region.unwrap_or(&self.region).to_owned(),
                    }
                } else {
                    Signing::Anonymous {
                        distribution_arn: d.arn.clone(),
                        region: region.unwrap_or(&self.region).to_owned(),
                    }
                },
                custom_headers,
                read_timeout,
                via_api: true,
            });
        }
        let Some(custom) = &origin.custom_origin_config else {
            return Err(OriginError::Unsupported(
                origin.domain_name.clone(),
                "an S3OriginConfig names a bucket that is not <bucket>.s3[.<region>].amazonaws.com",
            ));
        };
        // IP literals are refused when the distribution is written; this catches one stored before that.
        // Loopback names are left to the connector, which checks every address against the operator's allowed
        // networks.
        if let Err(e) = cloudfront_model::check_origin_name(&origin.domain_name, true) {
            return Err(OriginError::Unsupported(
                origin.domain_name.clone(),
                e.static_message(),
            ));
        }
        let https = match custom.origin_protocol_policy.as_str() {
            "https-only" => true,
            "match-viewer" => viewer_https,
            _ => false,
        };
        let (scheme, port, default_port) = if https {
            ("https", custom.https_port, 443)
        } else {
            ("http", custom.http_port, 80)
        };
        let host = if port == default_port {
            origin.domain_name.clone()
        } else {
            format!("{}:{port}", origin.domain_name)
        };
        let uri = format!("{scheme}://{host}{}{path_and_query}", origin.origin_path);
        Ok(Target {
            uri: uri
                .parse()
                .map_err(|_| OriginError::Signing(format!("bad origin URI {uri}")))?,
            host,
            signing: Signing::None,
            custom_headers,
            read_timeout,
            via_api: false,
        })
    }

    /// Sends one origin request. `payload_hash` is `UNSIGNED-PAYLOAD` for streamed bodies.
    pub async fn send(
        &self,
        target: &Target,
        method: Method,
        mut headers: HeaderMap,
        body: OutBody,
        payload_hash: &str,
    ) -> Result<Response<Incoming>, OriginError> {
        headers.insert(
            HOST,
            HeaderValue::from_str(&target.host).map_err(|e| OriginError::Signing(e.to_string()))?,
        );
        for (n, v) in &target.custom_headers {
            headers.insert(n.clone(), v.clone());
        }
        let mut builder = Request::builder().method(method).uri(target.uri.clone());
        *builder.headers_mut().expect("a fresh builder has headers") = headers;
        let (mut parts, ()) = builder
            .body(())
            .map_err(|e| OriginError::Signing(e.to_string()))?
            .into_parts();
        let signed_for = match &target.signing {
            Signing::None => None,
            Signing::Oac {
                distribution_arn,
                region,
            } => Some((distribution_arn, region, false)),
            Signing::Anonymous {
                distribution_arn,
                region,
            } => Some((distribution_arn, region, true)),
        };
        // Only the edge says who a fetch is for; nothing a viewer sent may.
        parts.headers.remove(CALLER_HEADER);
        if let Some((distribution_arn, region, anonymous)) = signed_for {
            parts.headers.remove(AUTHORIZATION);
            parts.headers.insert(
                HeaderName::from_static(DISTRIBUTION_HEADER),
                HeaderValue::from_str(distribution_arn)
                    .map_err(|e| OriginError::Signing(e.to_string()))?,
            );
            if anonymous {
                parts.headers.insert(
                    HeaderName::from_static(CALLER_HEADER),
                    HeaderValue::from_static("anonymous"),
                );
            }
            self.sign(&mut parts, region, "s3", payload_hash)?;
        }
        let req = Request::from_parts(parts, body);
        let timeout = target.read_timeout.unwrap_or(self.timeout);
        let sent = if target.via_api {
            self.api.request(req)
        } else {
            self.origins.request(req)
        };
        match tokio::time::timeout(timeout, sent).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => Err(OriginError::Unreachable(error_chain(&e))),
            Err(_) => Err(OriginError::Timeout(timeout)),
        }
    }

    fn sign(
        &self,
        parts: &mut http::request::Parts,
        region: &str,
        service: &str,
        payload_hash: &str,
    ) -> Result<(), OriginError> {
        let params = sigv4::SigningParams {
            credentials: &self.credentials,
            region,
            service,
            now: time::OffsetDateTime::now_utc(),
            mode: if service == "s3" {
                sigv4::UriMode::S3
            } else {
                sigv4::UriMode::Normalize
            },
        };
        sigv4::sign_request(parts, payload_hash, &params)
            .map(|_| ())
            .map_err(|e| OriginError::Signing(e.to_string()))
    }

    /// Asks the API's edge feed for the state after `generation`/`cursor`, waiting up to `wait` seconds.
    pub async fn edge_state(
        &self,
        generation: &str,
        cursor: u64,
        wait: u64,
    ) -> anyhow::Result<EdgeState> {
        let generation: String =
            percent_encoding::utf8_percent_encode(generation, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let uri = format!(
            "{}://{}/edge/state?cursor={cursor}&generation={generation}&wait={wait}",
            self.api_scheme, self.api_authority
        );
        let (mut parts, ()) = Request::get(&uri)
            .header(HOST, &self.api_authority)
            .body(())?
            .into_parts();
        self.sign(&mut parts, &self.region, "coffer-edge", sigv4::EMPTY_SHA256)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let req = Request::from_parts(parts, Empty::new().map_err(|n| match n {}).boxed());
        let deadline = Duration::from_secs(wait) + Duration::from_secs(10);
        let resp = tokio::time::timeout(deadline, self.api.request(req))
            .await
            .map_err(|_| anyhow::anyhow!("the API did not answer within {deadline:?}"))??;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        anyhow::ensure!(
            status.is_success(),
            "the API answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        Ok(serde_json::from_slice(&body)?)
    }
}

/// An error and its sources, for logs (hyper's own message is only "client error (Connect)").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// TLS for HTTPS origins: the system's trusted roots (as `rustls-native-certs` finds them) plus the certificates in
/// `extra` (PEM), for origins with a private CA.
fn origin_tls(extra: Option<&Path>) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::warn!("loading the system's trusted certificates: {e}");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!("{added} system roots for HTTPS origins ({ignored} unusable)");
    if let Some(path) = extra {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        for cert in certs {
            let cert = cert.map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
            roots.add(cert).map_err(|e| {
                anyhow::anyhow!("a certificate in {} is not usable: {e}", path.display())
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
