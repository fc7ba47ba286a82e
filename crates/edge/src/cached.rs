//! The cached path: a fresh entry is served as it is; a missing, stale or invalidated one is filled by one origin
//! request however many viewers wait (foyer's `get_or_fetch`), revalidated when it can be; compressed variants are
//! made once per entry.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudfront_model::{CacheBehavior, CachePolicyConfig, NormalizedPath};
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::cache::Stored;
use crate::forward::never_forwarded;
use crate::origin::{OriginError, Target};
use crate::policy::{self, CacheKey};
use crate::respond;
use crate::state::Dist;
use crate::viewer::{hop_by_hop, now_ms, Edge, Outcome};

/// An entry of the cache, shared with it (no copy of the body or headers).
type CacheEntry = Arc<Stored>;

/// How long a key whose response was too large to cache is sent straight to the origin.
const UNCACHEABLE_FOR: Duration = Duration::from_secs(60);

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

impl Edge {
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn cached(
        self: &Arc<Self>,
        dist: &Arc<Dist>,
        behavior: &CacheBehavior,
        policy: &CachePolicyConfig,
        key: &CacheKey,
        target: impl FnOnce() -> Result<Target, OriginError>,
        path: &NormalizedPath,
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
            let existing = self.cache.get(&key.key).await;
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
                    revalidate = Some(Stored::clone(&e));
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
            match self.cache.get_or_fetch(&key.key, fill).await {
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
                if let Some(variant) = self.variant(&key.key, &stored, enc).await {
                    stored = variant;
                }
            }
        }
        let age = (!filled_here).then(|| (now_ms() - stored.stored_at_ms) / 1000);
        let response = respond::from_cache(
            &stored,
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
        if let Some(e) = self.cache.get(&vkey).await {
            if e.stored_at_ms == identity.stored_at_ms && e.stamp == identity.stamp {
                return Some(e);
            }
            self.cache.remove(&vkey);
        }
        let source = identity.clone();
        let made = self
            .cache
            .get_or_fetch(&vkey, async move {
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
}

/// A 304's freshness: its own Cache-Control when it sends one, else the policy's default.
fn ttl_for_refresh(policy: &CachePolicyConfig, headers: &HeaderMap, now_ms: i64) -> i64 {
    policy::ttl_secs(policy, 200, headers, None, now_ms / 1000)
}
