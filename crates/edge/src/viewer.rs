//! One viewer request, start to finish: distribution by `Host`, cache behavior by path, viewer protocol policy,
//! allowed methods, signed URL or cookies, then the cache (GET/HEAD under a caching policy) or a streamed origin
//! request (everything else), and finally CloudFront's response headers, the access log and the metrics.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use cloudfront_model::{CacheBehavior, Distribution};
use http::header::{HeaderName, HeaderValue, HOST};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::cache::Cache;
use crate::log::{AccessLog, Entry};
use crate::metrics::Metrics;
use crate::origin::{OriginClient, OutBody};
use crate::policy::{self};
use crate::respond::{self, Stamp};
use crate::state::{Current, Invalidations};

/// Origin headers never passed to viewers or kept in the cache.
pub(crate) fn hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
            | "date"
            | "server"
    )
}

/// The viewer's connection.
#[derive(Debug, Clone)]
pub struct Conn {
    pub peer: SocketAddr,
    /// Protocol and cipher suite, for HTTPS.
    pub tls: Option<(String, String)>,
    /// The TLS server name the viewer asked for, for HTTPS.
    pub sni: Option<String>,
}

/// The edge node's shared state.
pub struct Edge {
    pub current: Arc<Current>,
    pub invalidations: Arc<Invalidations>,
    pub cache: Cache,
    pub origin: Arc<OriginClient>,
    pub metrics: Arc<Metrics>,
    pub log: AccessLog,
    /// This node's random id, in `Via`.
    pub node: String,
    pub https_port: Option<u16>,
    pub max_object_bytes: usize,
    pub ready: tokio::sync::watch::Receiver<bool>,
    pub uncacheable: Mutex<HashMap<String, Instant>>,
    pub ids: RequestIds,
    /// `Via` values by edge domain.
    pub vias: std::sync::RwLock<HashMap<String, HeaderValue>>,
}

/// What one request produced, for the log and the metrics.
pub(crate) struct Outcome {
    pub(crate) response: Response<OutBody>,
    pub(crate) result: &'static str,
}

pub(crate) fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Request ids: CloudFront's shape (56 URL-safe base64 characters), unique without asking the system RNG for
/// every response — a random per-process prefix and a counter.
#[derive(Debug)]
pub struct RequestIds {
    prefix: [u8; 34],
    next: std::sync::atomic::AtomicU64,
}

impl Default for RequestIds {
    fn default() -> Self {
        Self {
            prefix: crypto::random_array(),
            next: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl RequestIds {
    fn next(&self) -> String {
        use base64::Engine;
        let mut raw = [0u8; 42];
        raw[..34].copy_from_slice(&self.prefix);
        raw[34..].copy_from_slice(&self.next.fetch_add(1, Ordering::Relaxed).to_be_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }
}

impl Edge {
    pub async fn serve(self: &Arc<Self>, req: Request<Incoming>, conn: &Conn) -> Response<OutBody> {
        let started = Instant::now();
        let id = self.ids.next();
        // The one host the request is for; a request that names none, several or a malformed one is answered
        // 400 below (after the access log entry is begun, with what it sent).
        let host_checked = crate::request::viewer_host(req.uri(), req.headers());
        let host = host_checked.clone().unwrap_or_else(|_| {
            req.headers()
                .get(HOST)
                .map(|v| crate::log::escape(v.as_bytes()))
                .unwrap_or_default()
        });
        // Only what the access log needs is copied, and only when it is on.
        let mut entry = self.log.enabled().then(|| {
            let mut entry = Entry {
                unix_ms: now_ms(),
                location: respond::POP.into(),
                client_ip: conn.peer.ip().to_string(),
                client_port: conn.peer.port(),
                method: req.method().to_string(),
                uri_stem: req.uri().path().to_owned(),
                query: req.uri().query().unwrap_or_default().to_owned(),
                request_id: id.clone(),
                host_header: host.clone(),
                protocol: if conn.tls.is_some() { "https" } else { "http" }.into(),
                protocol_version: format!("{:?}", req.version()),
                referer: header_log(req.headers(), "referer"),
                user_agent: header_log(req.headers(), "user-agent"),
                cookie: header_log(req.headers(), "cookie"),
                cs_bytes: req
                    .headers()
                    .get(http::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok()?.parse().ok())
                    .unwrap_or(0),
                ..Entry::default()
            };
            if let Some((p, c)) = &conn.tls {
                entry.ssl_protocol = p.clone();
                entry.ssl_cipher = c.clone();
            }
            entry
        });
        let scheme = if conn.tls.is_some() { "https" } else { "http" };
        let outcome = if crate::request::too_large(scheme, &host, req.uri(), req.headers()) {
            // CloudFront's answer to a request beyond its limits: 413, then the connection is closed.
            let mut o = self.refuse(
                None,
                413,
                "Request Entity Too Large.",
                "The request's URL or headers are longer than CloudFront accepts.",
                &id,
            );
            o.response
                .headers_mut()
                .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
            o
        } else if let Err(e) = host_checked {
            self.refuse(None, 400, "Bad request.", &format!("{e}."), &id)
        } else {
            self.route(req, conn, &id, &host).await
        };
        let response = outcome.response;
        let bytes = response
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(0);
        self.metrics.result(outcome.result, bytes);
        if let Some(mut entry) = entry.take() {
            entry.sc_bytes = bytes;
            entry.status = response.status().as_u16();
            entry.result_type = outcome.result.into();
            entry.host = host;
            entry.content_type = header_str(response.headers(), "content-type");
            entry.content_len = Some(bytes);
            entry.time_taken = started.elapsed().as_secs_f64();
            self.log.record(&entry);
        }
        response
    }

    pub(crate) fn stamp<'a>(
        &self,
        d: Option<&Distribution>,
        x_cache: &'static str,
        id: &'a str,
    ) -> Stamp<'a> {
        Stamp {
            x_cache,
            via: self.via(d),
            request_id: id,
        }
    }

    /// `1.1 <node>.<edge domain> (CloudFront)`, made once per edge domain.
    fn via(&self, d: Option<&Distribution>) -> HeaderValue {
        let domain = d
            .and_then(|d| d.domain_name.split_once('.').map(|(_, rest)| rest))
            .unwrap_or("cloudfront.localhost");
        if let Some(v) = self
            .vias
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(domain)
        {
            return v.clone();
        }
        let v = HeaderValue::from_str(&format!("1.1 {}.{domain} (CloudFront)", self.node))
            .unwrap_or_else(|_| HeaderValue::from_static("1.1 coffer (CloudFront)"));
        self.vias
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(domain.to_owned(), v.clone());
        v
    }

    pub(crate) fn refuse(
        &self,
        d: Option<&Distribution>,
        status: u16,
        title: &str,
        detail: &str,
        id: &str,
    ) -> Outcome {
        Outcome {
            response: respond::error_page(
                status,
                title,
                detail,
                &self.stamp(d, "Error from cloudfront", id),
            ),
            result: "Error",
        }
    }

    async fn route(
        self: &Arc<Self>,
        req: Request<Incoming>,
        conn: &Conn,
        id: &str,
        host: &str,
    ) -> Outcome {
        if !*self.ready.borrow() {
            return self.refuse(
                None,
                503,
                "The edge is starting.",
                "Its configuration has not arrived from the API yet.",
                id,
            );
        }
        let snapshot = self.current.get();
        let Some(dist) = snapshot.for_host(host).cloned() else {
            return self.refuse(
                None,
                403,
                "Bad request.",
                "We can't connect to the server for this app or website at this time. There might be too much traffic or a configuration error. Try again later, or contact the app or website owner.",
                id,
            );
        };
        let d = &dist.d;
        // Domain fronting: a TLS connection made for one account's distribution (its SNI) may not carry
        // requests for another account's (CloudFront answers 421).
        if let Some(sni) = &conn.sni {
            if snapshot
                .for_host(sni)
                .is_some_and(|s| s.d.account != d.account)
            {
                return self.refuse(
                    None,
                    421,
                    "Misdirected request.",
                    "The TLS server name and the Host header name distributions of different accounts.",
                    id,
                );
            }
        }
        if !d.config.enabled {
            return self.refuse(
                Some(d),
                403,
                "Bad request.",
                "The distribution is disabled.",
                id,
            );
        }
        // The one normalized path: behavior, signature requirement, cache key, invalidations and the origin
        // request all take it. Only origin-form paths normalize (`*` of `OPTIONS *` does not), and a path that
        // cannot name one object (a bad escape, non-UTF-8, a backslash) is refused.
        let mut path = match cloudfront_model::normalize_path(req.uri().path()) {
            Ok(p) => p,
            Err(e) => {
                return self.refuse(
                    Some(d),
                    400,
                    "Bad request.",
                    &format!("The request path is not valid: {e}."),
                    id,
                )
            }
        };
        if path.is_root() && !d.config.default_root_object.is_empty() {
            match cloudfront_model::normalize_path(&format!("/{}", d.config.default_root_object)) {
                Ok(p) => path = p,
                Err(_) => {
                    return self.refuse(
                        Some(d),
                        502,
                        "Bad gateway.",
                        "The distribution's default root object is not a valid path.",
                        id,
                    )
                }
            }
        }
        let behavior = d.behavior_for(&path);

        // Viewer protocol policy.
        if conn.tls.is_none() {
            match behavior.viewer_protocol_policy.as_str() {
                "redirect-to-https" => return self.redirect(d, host, &req, id),
                "https-only" => {
                    return self.refuse(
                        Some(d),
                        403,
                        "Bad request.",
                        "This distribution only accepts HTTPS.",
                        id,
                    )
                }
                _ => {}
            }
        }

        // Allowed methods.
        let method = req.method().clone();
        if !allowed(behavior, &method) {
            return self.refuse(
                Some(d),
                403,
                "Bad request.",
                "This distribution is not configured to allow the HTTP request method that was used for this request. The distribution supports only cachable requests.",
                id,
            );
        }

        // Signed URLs and cookies.
        let mut query = req.uri().query().map(str::to_owned);
        if let Some(groups) = behavior.trusted_key_groups.as_ref().filter(|t| t.enabled) {
            let scheme = if conn.tls.is_some() { "https" } else { "http" };
            match crate::signed::check(
                &snapshot,
                &d.account,
                &groups.items,
                scheme,
                host,
                req.uri().path(),
                &path,
                query.as_deref(),
                req.headers(),
                conn.peer.ip(),
            ) {
                Ok(rest) => query = rest,
                Err(message) => return self.refuse(Some(d), 403, "Access denied.", message, id),
            }
        }

        let policy = behavior
            .cache_policy_id
            .as_deref()
            .and_then(|p| snapshot.cache_policy(p))
            .map_or_else(|| policy::legacy_policy(), |p| &p.config);
        let Some(origin) = d
            .config
            .origins
            .iter()
            .find(|o| o.id == behavior.target_origin_id)
        else {
            return self.refuse(
                Some(d),
                502,
                "Bad gateway.",
                "The cache behavior's origin does not exist.",
                id,
            );
        };
        let oac = (!origin.origin_access_control_id.is_empty())
            .then(|| snapshot.oac(&d.account, &origin.origin_access_control_id))
            .flatten();
        let viewer_https = conn.tls.is_some();

        // The query, read once. An S3 origin never sees S3's own authentication parameters from a viewer.
        let mut params = match crate::query::parse(query.as_deref().unwrap_or("")) {
            Ok(p) => p,
            Err(e) => {
                return self.refuse(
                    Some(d),
                    400,
                    "Bad request.",
                    &format!("The query string is not valid: {e}."),
                    id,
                )
            }
        };
        if origin.s3_bucket().is_some() {
            params.retain(|p| !crate::query::is_s3_credential(&p.name));
        }

        let cached_method = method == Method::GET || method == Method::HEAD;
        if cached_method && policy::caches(policy) {
            // The origin request depends on the viewer's protocol only under match-viewer (custom origins).
            let origin_scheme = origin
                .custom_origin_config
                .as_ref()
                .filter(|c| {
                    c.origin_protocol_policy == "match-viewer" && origin.s3_bucket().is_none()
                })
                .map(|_| if viewer_https { "https" } else { "http" });
            let key =
                policy::cache_key(&d.id, &path, &params, req.headers(), policy, origin_scheme);
            if !self.known_uncacheable(&key.key) {
                // Where a fill would go is worked out only on a miss.
                let target = || {
                    self.origin
                        .target(d, origin, oac, &path, key.query.as_deref(), viewer_https)
                };
                return self
                    .cached(&dist, behavior, policy, &key, target, &path, req, id)
                    .await;
            }
        }
        // Everything else goes to the origin with the query the viewer sent (minus signing params).
        let origin_query = crate::query::join(&params);
        let target =
            match self
                .origin
                .target(d, origin, oac, &path, origin_query.as_deref(), viewer_https)
            {
                Ok(t) => t,
                Err(e) => return self.refuse(Some(d), 502, "Bad gateway.", &e.to_string(), id),
            };
        self.forward(&dist, &path, target, req, id).await
    }

    fn redirect(&self, d: &Distribution, host: &str, req: &Request<Incoming>, id: &str) -> Outcome {
        let name = cloudfront_model::strip_port(host);
        let authority = match self.https_port {
            Some(443) | None => name.to_owned(),
            Some(p) => format!("{name}:{p}"),
        };
        let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let location = format!("https://{authority}{pq}");
        let mut resp = respond::error_page(
            301,
            "Moved Permanently.",
            "",
            &self.stamp(Some(d), "Redirect from cloudfront", id),
        );
        *resp.status_mut() = StatusCode::MOVED_PERMANENTLY;
        if let Ok(v) = HeaderValue::from_str(&location) {
            resp.headers_mut().insert(http::header::LOCATION, v);
        }
        resp.headers_mut().insert(
            HeaderName::from_static("x-cache"),
            HeaderValue::from_static("Redirect from cloudfront"),
        );
        Outcome {
            response: resp,
            result: "Redirect",
        }
    }

    fn known_uncacheable(&self, key: &str) -> bool {
        let mut map = self.uncacheable.lock().unwrap_or_else(|p| p.into_inner());
        if map.is_empty() {
            return false;
        }
        if map.len() > 10_000 {
            let now = Instant::now();
            map.retain(|_, until| *until > now);
        }
        match map.get(key) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                map.remove(key);
                false
            }
            None => false,
        }
    }
}

/// A header as the access log records it: every value, escaped (`crate::log::escape`), joined with `,`.
fn header_log(h: &HeaderMap, name: &str) -> String {
    h.get_all(name)
        .iter()
        .map(|v| crate::log::escape(v.as_bytes()))
        .collect::<Vec<_>>()
        .join(",")
}

fn header_str(h: &HeaderMap, name: &str) -> String {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Whether a behavior's AllowedMethods include `method` (GET and HEAD when none are listed).
fn allowed(b: &CacheBehavior, method: &Method) -> bool {
    if b.allowed_methods.is_empty() {
        return matches!(*method, Method::GET | Method::HEAD);
    }
    b.allowed_methods
        .iter()
        .any(|m| m.eq_ignore_ascii_case(method.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_have_cloudfront_shape_and_never_repeat() {
        let ids = RequestIds::default();
        let a = ids.next();
        let b = ids.next();
        assert_eq!(a.len(), 56);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
        assert_ne!(
            RequestIds::default().next(),
            a,
            "each process has its own prefix"
        );
    }
}
