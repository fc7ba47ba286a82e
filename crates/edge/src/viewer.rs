//! One viewer request, start to finish: distribution by `Host`, cache behavior by path, viewer protocol policy,
//! allowed methods, signed URL or cookies, then the cache (GET/HEAD under a caching policy) or a streamed origin
//! request (everything else), and finally CloudFront's response headers, the access log and the metrics.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cloudfront_model::{CacheBehavior, CachePolicyConfig, Distribution};
use http::header::{HeaderName, HeaderValue, HOST};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::cache::{Cache, Stored};
use crate::log::{AccessLog, Entry};
use crate::metrics::Metrics;
use crate::origin::{OriginClient, OriginError, OutBody, Target};
use crate::policy::{self, CacheKey};
use crate::respond::{self, Stamp};
use crate::state::{Current, Dist, Invalidations};

/// An entry of the cache, shared with it (no copy of the body or headers).
type CacheEntry = foyer::HybridCacheEntry<String, Stored>;

/// How long a key whose response was too large to cache is sent straight to the origin.
const UNCACHEABLE_FOR: Duration = Duration::from_secs(60);

/// Headers of a viewer's request forwarded to the origin on writes and uncached requests. Everything else —
/// credentials, `x-amz-copy-source`, the distribution header — is dropped, so a viewer can only ask the origin
/// for what the distribution's path and method already allow.
fn forwarded(name: &str) -> bool {
    matches!(
        name,
        "content-type"
            | "content-length"
            | "content-md5"
            | "content-encoding"
            | "content-disposition"
            | "content-language"
            | "cache-control"
            | "expires"
            | "if-match"
            | "if-none-match"
            | "if-modified-since"
            | "if-unmodified-since"
            | "range"
            | "x-amz-storage-class"
            | "x-amz-tagging"
            | "x-amz-sdk-checksum-algorithm"
    ) || name.starts_with("x-amz-meta-")
        || name.starts_with("x-amz-checksum-")
}

/// Viewer headers never sent to an origin, whatever a cache policy lists: they would let a viewer widen what the
/// edge's signature authorizes (credentials, copying another object, naming another distribution).
fn never_forwarded(name: &str) -> bool {
    matches!(
        name,
        "authorization" | "x-amz-security-token" | "x-amz-date" | "x-amz-content-sha256"
    ) || name.starts_with("x-amz-copy-source")
        || name.starts_with("x-amz-coffer-")
}

/// Origin headers never passed to viewers or kept in the cache.
fn hop_by_hop(name: &str) -> bool {
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

/// Why a cache fill failed.
#[derive(Debug, thiserror::Error)]
enum FillError {
    #[error("{0}")]
    Origin(#[from] OriginError),
    #[error("the response is larger than the largest cached object")]
    TooLarge,
    #[error("reading the origin's body: {0}")]
    Body(String),
}

/// What one request produced, for the log and the metrics.
struct Outcome {
    response: Response<OutBody>,
    result: &'static str,
}

fn now_ms() -> i64 {
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
        let host = req
            .headers()
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| req.uri().authority().map(|a| a.to_string()))
            .unwrap_or_default();
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
                referer: header_str(req.headers(), "referer"),
                user_agent: header_str(req.headers(), "user-agent"),
                cookie: header_str(req.headers(), "cookie"),
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
        let outcome = self.route(req, conn, &id, &host).await;
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

    fn stamp<'a>(&self, d: Option<&Distribution>, x_cache: &'static str, id: &'a str) -> Stamp<'a> {
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

    fn refuse(
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
        if !d.config.enabled {
            return self.refuse(
                Some(d),
                403,
                "Bad request.",
                "The distribution is disabled.",
                id,
            );
        }
        // Only origin-form paths: `*` (OPTIONS *) or anything else not starting with `/` would be glued onto the
        // bucket name in the origin's path-style URL.
        if !req.uri().path().starts_with('/') {
            return self.refuse(
                Some(d),
                400,
                "Bad request.",
                "The request path is not valid.",
                id,
            );
        }
        let mut path = req.uri().path().to_owned();
        if path == "/" && !d.config.default_root_object.is_empty() {
            path = format!("/{}", d.config.default_root_object.trim_start_matches('/'));
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
        let viewer_auth = req.headers().contains_key(http::header::AUTHORIZATION);
        let viewer_https = conn.tls.is_some();

        let cached_method = method == Method::GET || method == Method::HEAD;
        if cached_method && policy::caches(policy) {
            let key = policy::cache_key(&d.id, &path, query.as_deref(), req.headers(), policy);
            if !self.known_uncacheable(&key.key) {
                // Where a fill would go is worked out only on a miss.
                let target = || {
                    let path_and_query = match &key.query {
                        Some(q) => format!("{path}?{q}"),
                        None => path.clone(),
                    };
                    self.origin
                        .target(d, origin, oac, &path_and_query, viewer_auth, viewer_https)
                };
                return self
                    .cached(&dist, behavior, policy, &key, target, &path, req, id)
                    .await;
            }
        }
        // Everything else goes to the origin as it came, with the query the viewer sent (minus signing params).
        let full_query = match &query {
            Some(q) if !q.is_empty() => format!("{}?{q}", req.uri().path()),
            _ => req.uri().path().to_owned(),
        };
        let target =
            match self
                .origin
                .target(d, origin, oac, &full_query, viewer_auth, viewer_https)
            {
                Ok(t) => t,
                Err(e) => return self.refuse(Some(d), 502, "Bad gateway.", &e.to_string(), id),
            };
        self.forward(&dist, &path, target, req, id).await
    }

    fn redirect(&self, d: &Distribution, host: &str, req: &Request<Incoming>, id: &str) -> Outcome {
        let name = crate::state::strip_port(host);
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

    #[allow(clippy::too_many_arguments)]
    async fn cached(
        self: &Arc<Self>,
        dist: &Arc<Dist>,
        behavior: &CacheBehavior,
        policy: &CachePolicyConfig,
        key: &CacheKey,
        target: impl FnOnce() -> Result<Target, OriginError>,
        path: &str,
        req: Request<Incoming>,
        id: &str,
    ) -> Outcome {
        let d = &dist.d;
        let (parts, _body) = req.into_parts();
        let ran = Arc::new(AtomicBool::new(false));
        let refreshed = Arc::new(AtomicBool::new(false));
        // A fresh entry is served; a stale or invalidated one is dropped and fetched again (revalidated with the
        // origin when it has a validator and was not invalidated).
        let mut stored: CacheEntry = 'lookup: {
            let now = now_ms();
            let existing = match self.cache.get(&key.key).await {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!("edge cache read failed: {e}");
                    None
                }
            };
            let mut revalidate = None;
            if let Some(e) = existing {
                let invalidated = self.invalidations.is_stale(&d.id, path, e.stamp);
                if !invalidated && e.is_fresh(now) {
                    break 'lookup e;
                }
                self.cache.remove(&key.key);
                if !invalidated
                    && e.status == 200
                    && (e.header("etag").is_some() || e.header("last-modified").is_some())
                {
                    revalidate = Some(e.value().clone());
                }
            }
            let target = match target() {
                Ok(t) => t,
                Err(e) => {
                    return self.refuse(Some(d), 502, "Bad gateway.", &e.to_string(), id);
                }
            };
            let fill = {
                let edge = self.clone();
                let target = target.clone();
                let headers = key.headers.clone();
                let policy = policy.clone();
                let error_ttls = d.config.custom_error_responses.clone();
                let ran = ran.clone();
                let refreshed = refreshed.clone();
                let stamp = self.invalidations.stamp();
                async move {
                    ran.store(true, Ordering::SeqCst);
                    edge.fill(
                        &target,
                        &headers,
                        &policy,
                        &error_ttls,
                        revalidate,
                        stamp,
                        &refreshed,
                    )
                    .await
                }
            };
            match self.cache.get_or_fetch(&key.key, || fill).await {
                Ok(e) => e,
                Err(e) => {
                    let too_large = e
                        .downcast_ref::<FillError>()
                        .is_some_and(|f| matches!(f, FillError::TooLarge));
                    if too_large {
                        self.uncacheable
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(key.key.clone(), Instant::now() + UNCACHEABLE_FOR);
                        let req = Request::from_parts(
                            parts,
                            http_body_util::Empty::new().map_err(|n| match n {}).boxed(),
                        );
                        return self
                            .forward_parts(dist, path, target.clone(), req, id)
                            .await;
                    }
                    tracing::warn!("origin fetch for {} failed: {e}", d.id);
                    let timeout = e
                        .downcast_ref::<FillError>()
                        .is_some_and(|f| matches!(f, FillError::Origin(OriginError::Timeout(_))));
                    return if timeout {
                        self.refuse(
                            Some(d),
                            504,
                            "Gateway timeout.",
                            "The origin did not answer in time.",
                            id,
                        )
                    } else {
                        self.refuse(
                            Some(d),
                            502,
                            "Bad gateway.",
                            "CloudFront wasn't able to connect to the origin.",
                            id,
                        )
                    };
                }
            }
        };
        let filled_here = ran.load(Ordering::SeqCst);
        let result = if stored.status >= 400 {
            "Error"
        } else if filled_here && refreshed.load(Ordering::SeqCst) {
            "RefreshHit"
        } else if filled_here {
            "Miss"
        } else {
            "Hit"
        };
        let x_cache = match result {
            "Error" => "Error from cloudfront",
            "RefreshHit" => "RefreshHit from cloudfront",
            "Miss" => "Miss from cloudfront",
            _ => "Hit from cloudfront",
        };
        // Compression: a separate cache entry per encoding, made from the identity entry.
        if stored.status == 200
            && behavior.compress == Some(true)
            && !parts.headers.contains_key(http::header::RANGE)
            && stored.header("content-encoding").is_none()
            && stored
                .header("content-type")
                .is_some_and(policy::compressible)
            && respond::compress_size_ok(stored.body.len())
        {
            let encoding = respond::pick_encoding(
                parts
                    .headers
                    .get(http::header::ACCEPT_ENCODING)
                    .and_then(|v| v.to_str().ok()),
                policy.parameters.enable_accept_encoding_gzip,
                policy
                    .parameters
                    .enable_accept_encoding_brotli
                    .unwrap_or(false),
            );
            if let Some(enc) = encoding {
                if let Some(variant) = self.variant(&key.key, stored.value(), enc).await {
                    stored = variant;
                }
            }
        }
        let age = (!filled_here).then(|| (now_ms() - stored.stored_at_ms) / 1000);
        let response = respond::from_cache(
            stored.value(),
            &parts.method,
            &parts.headers,
            age,
            &self.stamp(Some(d), x_cache, id),
        );
        Outcome { response, result }
    }

    /// The `enc` variant of the identity entry `identity`, compressed once per identity fetch.
    async fn variant(&self, key: &str, identity: &Stored, enc: &'static str) -> Option<CacheEntry> {
        let vkey = format!("{key}\u{0}{enc}");
        if let Ok(Some(e)) = self.cache.get(&vkey).await {
            if e.value().stored_at_ms == identity.stored_at_ms && e.value().stamp == identity.stamp
            {
                return Some(e);
            }
            self.cache.remove(&vkey);
        }
        let source = identity.clone();
        let made = self
            .cache
            .get_or_fetch(&vkey, move || async move {
                tokio::task::spawn_blocking(move || respond::compress(&source, enc))
                    .await
                    .map_err(|e| anyhow::anyhow!("compression task: {e}"))?
                    .map_err(anyhow::Error::from)
            })
            .await;
        match made {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!("compressing a response failed: {e}");
                None
            }
        }
    }

    /// Fetches one object for the cache (a conditional request when a stale copy can be revalidated).
    #[allow(clippy::too_many_arguments)]
    async fn fill(
        &self,
        target: &Target,
        key_headers: &[(String, String)],
        policy: &CachePolicyConfig,
        error_ttls: &[cloudfront_model::CustomErrorResponse],
        stale: Option<Stored>,
        stamp: u64,
        refreshed: &AtomicBool,
    ) -> Result<Stored, FillError> {
        let mut headers = HeaderMap::new();
        for (n, v) in key_headers.iter().filter(|(n, _)| !never_forwarded(n)) {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(n.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                headers.insert(n, v);
            }
        }
        if let Some(s) = &stale {
            if let Some(v) = s.header("etag").and_then(|v| HeaderValue::from_str(v).ok()) {
                headers.insert(http::header::IF_NONE_MATCH, v);
            } else if let Some(v) = s
                .header("last-modified")
                .and_then(|v| HeaderValue::from_str(v).ok())
            {
                headers.insert(http::header::IF_MODIFIED_SINCE, v);
            }
        }
        let empty = http_body_util::Empty::new().map_err(|n| match n {}).boxed();
        let started = Instant::now();
        let sent = self
            .origin
            .send(target, Method::GET, headers, empty, sigv4::EMPTY_SHA256)
            .await;
        self.metrics
            .origin(sent.as_ref().ok().map(|_| started.elapsed()));
        let resp = sent?;
        let status = resp.status().as_u16();
        let now = now_ms();
        let error_ttl = error_ttls
            .iter()
            .find(|e| e.error_code == status)
            .and_then(|e| e.error_caching_min_ttl);
        let ttl = policy::ttl_secs(policy, status, resp.headers(), error_ttl, now / 1000);
        if status == 304 {
            if let Some(mut s) = stale {
                refreshed.store(true, Ordering::SeqCst);
                s.stored_at_ms = now;
                s.fresh_until_ms = now + ttl_for_refresh(policy, resp.headers(), now) * 1000;
                s.stamp = stamp;
                return Ok(s);
            }
        }
        let too_large = resp
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .is_some_and(|l| l > self.max_object_bytes as u64);
        if too_large {
            return Err(FillError::TooLarge);
        }
        let headers: Vec<(HeaderName, HeaderValue)> = resp
            .headers()
            .iter()
            .filter(|(n, _)| !hop_by_hop(n.as_str()))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        let body = match Limited::new(resp.into_body(), self.max_object_bytes)
            .collect()
            .await
        {
            Ok(b) => b.to_bytes(),
            Err(e)
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                return Err(FillError::TooLarge)
            }
            Err(e) => return Err(FillError::Body(e.to_string())),
        };
        Ok(Stored {
            status,
            headers,
            body,
            stored_at_ms: now,
            fresh_until_ms: now + ttl * 1000,
            stamp,
            encoded: None,
        })
    }

    async fn forward(
        self: &Arc<Self>,
        dist: &Arc<Dist>,
        path: &str,
        target: Target,
        req: Request<Incoming>,
        id: &str,
    ) -> Outcome {
        let req = req.map(|b| b.map_err(|e| Box::new(e) as crate::BoxError).boxed());
        self.forward_parts(dist, path, target, req, id).await
    }

    /// Streams a request to the origin and its response back, uncached. A successful write invalidates its path
    /// on this edge.
    async fn forward_parts(
        &self,
        dist: &Arc<Dist>,
        path: &str,
        target: Target,
        req: Request<OutBody>,
        id: &str,
    ) -> Outcome {
        let d = &dist.d;
        let (parts, body) = req.into_parts();
        let mut headers = HeaderMap::new();
        for (n, v) in &parts.headers {
            if forwarded(n.as_str()) {
                headers.append(n.clone(), v.clone());
            }
        }
        let has_body = !matches!(
            parts.method,
            Method::GET | Method::HEAD | Method::DELETE | Method::OPTIONS
        );
        let payload = if has_body {
            "UNSIGNED-PAYLOAD"
        } else {
            sigv4::EMPTY_SHA256
        };
        let started = Instant::now();
        let sent = self
            .origin
            .send(&target, parts.method.clone(), headers, body, payload)
            .await;
        self.metrics
            .origin(sent.as_ref().ok().map(|_| started.elapsed()));
        let resp = match sent {
            Ok(r) => r,
            Err(OriginError::Timeout(_)) => {
                return self.refuse(
                    Some(d),
                    504,
                    "Gateway timeout.",
                    "The origin did not answer in time.",
                    id,
                )
            }
            Err(e) => {
                tracing::warn!("origin request for {} failed: {e}", d.id);
                return self.refuse(
                    Some(d),
                    502,
                    "Bad gateway.",
                    "CloudFront wasn't able to connect to the origin.",
                    id,
                );
            }
        };
        let status = resp.status();
        if status.is_success()
            && matches!(
                parts.method,
                Method::PUT | Method::POST | Method::PATCH | Method::DELETE
            )
        {
            self.invalidations.apply(&d.id, &[path.to_owned()]);
        }
        let (rparts, rbody) = resp.into_parts();
        let mut out = Response::builder().status(status);
        let h = out.headers_mut().expect("fresh builder");
        for (n, v) in &rparts.headers {
            if !hop_by_hop(n.as_str()) || n == http::header::CONTENT_LENGTH {
                h.append(n.clone(), v.clone());
            }
        }
        let result = if status.as_u16() >= 400 {
            "Error"
        } else {
            "Miss"
        };
        let x_cache = if result == "Error" {
            "Error from cloudfront"
        } else {
            "Miss from cloudfront"
        };
        respond::add_stamp(h, &self.stamp(Some(d), x_cache, id));
        let body = rbody.map_err(|e| Box::new(e) as crate::BoxError).boxed();
        Outcome {
            response: out
                .body(body)
                .unwrap_or_else(|_| Response::new(respond::full(Bytes::new()))),
            result,
        }
    }
}

/// A 304's freshness: its own Cache-Control when it sends one, else the policy's default.
fn ttl_for_refresh(policy: &CachePolicyConfig, headers: &HeaderMap, now_ms: i64) -> i64 {
    policy::ttl_secs(policy, 200, headers, None, now_ms / 1000)
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

    #[test]
    fn credentials_and_copy_sources_never_reach_the_origin() {
        for name in [
            "authorization",
            "x-amz-copy-source",
            "x-amz-coffer-distribution-arn",
            "x-amz-security-token",
        ] {
            assert!(!forwarded(name), "{name}");
            assert!(never_forwarded(name), "{name}");
        }
        assert!(forwarded("content-type") && forwarded("x-amz-meta-owner"));
    }
}
