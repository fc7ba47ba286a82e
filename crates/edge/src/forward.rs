//! Requests that are not served from the cache — writes, and reads under a policy that does not cache — streamed
//! to the origin and back, with only the viewer headers an origin may see.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use cloudfront_model::{InvalidationPath, NormalizedPath};

use crate::origin::{OriginError, OutBody, Target};
use crate::respond;
use crate::state::Dist;
use crate::viewer::{hop_by_hop, Edge, Outcome};

/// Headers of a viewer's request forwarded to the origin on writes and uncached requests. Everything else —
/// credentials, `x-amz-copy-source`, the distribution header — is dropped, so a viewer can only ask the origin
/// for what the distribution's path and method already allow.
pub(crate) fn forwarded(name: &str) -> bool {
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
/// edge's signature authorizes (credentials, copying another object, naming another distribution), or change
/// how the edge's own request is framed (hop-by-hop headers, lengths, `Expect`, `Host`).
pub(crate) fn never_forwarded(name: &str) -> bool {
    matches!(
        name,
        "authorization"
            | "x-amz-security-token"
            | "x-amz-date"
            | "x-amz-content-sha256"
            | "host"
            | "content-length"
            | "transfer-encoding"
            | "connection"
            | "keep-alive"
            | "proxy-authorization"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "upgrade"
            | "expect"
    ) || name.starts_with("x-amz-copy-source")
        || name.starts_with("x-amz-coffer-")
}

impl Edge {
    pub(crate) async fn forward(
        self: &Arc<Self>,
        dist: &Arc<Dist>,
        path: &NormalizedPath,
        target: Target,
        req: Request<Incoming>,
        id: &str,
    ) -> Outcome {
        let req = req.map(|b| b.map_err(|e| Box::new(e) as crate::BoxError).boxed());
        self.forward_parts(dist, path, target, req, id).await
    }

    /// Streams a request to the origin and its response back, uncached. A successful write invalidates its path
    /// on this edge.
    pub(crate) async fn forward_parts(
        &self,
        dist: &Arc<Dist>,
        path: &NormalizedPath,
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
            self.invalidations
                .apply_normalized(&d.id, vec![InvalidationPath::exact(path.clone())]);
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

#[cfg(test)]
mod tests {
    use super::*;

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
        for framing in [
            "host",
            "content-length",
            "transfer-encoding",
            "connection",
            "expect",
        ] {
            assert!(never_forwarded(framing), "{framing}");
        }
    }
}
