//! The HTTP listener: accepts connections (up to a cap), answers `/health` and `/metrics`, hands everything else
//! to the dispatcher, closes connections that are too slow or idle too long, and drains connections on shutdown.
//!
//! The endpoint speaks HTTP/1.1, as the AWS SDKs and the aws CLI do against S3 and KMS endpoints. HTTP/2 (prior
//! knowledge, as there is no TLS here) is not offered: hyper's HTTP/2 server has no header-read timeout, and the
//! protocol detection in front of it would be one more wait without a limit.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::conn::{GuardedBody, GuardedIo, RequestGuard, TimeoutBody, Timeouts, Watch};
use crate::dispatch::{ApiBody, Dispatcher, Peer};

/// The most request headers hyper parses (more is `431`): hyper's default, stated.
pub const MAX_HEADERS: usize = 100;
/// The most bytes of request line and headers (more is `431`): room for presigned URLs with session tokens
/// and S3's 2 KB of user metadata, many times over.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// hyper's read buffer limit per connection (its default is about 400 KB).
pub const MAX_BUF_BYTES: usize = 256 * 1024;

/// How long to pause accepting after an error such as running out of file descriptors, so the accept loop does
/// not spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The listener's limits against slow, idle and too many clients (`[api]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A request head (request line and headers) must be complete within this, counted from the connection's
    /// accept for its first request and from the head's first byte for later ones.
    pub header_timeout: Duration,
    /// A kept-alive connection may wait this long for its next request; a response may wait this long for the
    /// client to read more of it. Longer than the idle timeout of the edge's origin connection pool (60 s), so the
    /// endpoint never closes a connection the edge is about to reuse.
    pub idle_timeout: Duration,
    /// A request body being read may pause this long between pieces.
    pub body_timeout: Duration,
    /// Connections open at once; more are answered `503` and closed.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            body_timeout: Duration::from_secs(30),
            max_connections: 512,
        }
    }
}

/// What a connection over the cap gets before it is closed.
const OVER_CAPACITY: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\nretry-after: 1\r\n\r\n";

/// Serves `dispatcher` on `listener` within `limits` until `shutdown` completes, then waits for open requests to
/// finish.
pub async fn serve(
    listener: TcpListener,
    dispatcher: Arc<Dispatcher>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.max_headers(MAX_HEADERS)
        .max_header_size(MAX_HEADER_BYTES)
        .max_buf_size(MAX_BUF_BYTES)
        .keep_alive(true);
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let timeouts = Timeouts {
        header: limits.header_timeout,
        idle: limits.idle_timeout,
    };
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, addr) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Running out of file descriptors and similar are transient; keep serving.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                };
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    tracing::warn!(
                        "refusing a connection from {addr}: {} connections are open",
                        limits.max_connections
                    );
                    // Best effort, without waiting on the client: the connection is closed either way.
                    let _ = stream.try_write(OVER_CAPACITY);
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let dispatcher = dispatcher.clone();
                let peer = Peer { addr, secure: false };
                let watch = Watch::new();
                let svc = {
                    let watch = watch.clone();
                    hyper::service::service_fn(move |req: Request<Incoming>| {
                        watch.request_started();
                        let guard = RequestGuard(watch.clone());
                        let dispatcher = dispatcher.clone();
                        async move {
                            let req = req.map(|b| TimeoutBody::new(b, limits.body_timeout));
                            let resp = route(&dispatcher, req, peer).await;
                            Ok::<_, Infallible>(resp.map(|inner| GuardedBody { inner, _guard: guard }))
                        }
                    })
                };
                let io = TokioIo::new(GuardedIo::new(stream, watch.clone()));
                let conn = graceful.watch(http.serve_connection(io, svc));
                tokio::spawn(async move {
                    tokio::select! {
                        ended = conn => if let Err(e) = ended {
                            tracing::debug!("connection from {addr} ended: {e}");
                        },
                        () = watch.expired(timeouts) => {
                            tracing::debug!("closing the connection from {addr}: it was too slow or idle too long");
                        }
                    }
                    drop(permit);
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
}

async fn route(
    dispatcher: &Dispatcher,
    req: Request<TimeoutBody<Incoming>>,
    peer: Peer,
) -> Response<ApiBody> {
    let unsigned = !req.headers().contains_key(http::header::AUTHORIZATION)
        && !req
            .uri()
            .query()
            .is_some_and(|q| q.contains("X-Amz-Algorithm="));
    if unsigned && req.method() == http::Method::GET {
        match req.uri().path() {
            "/health" => {
                // Unhealthy while the audit trail cannot be written: every request is refused then.
                return match dispatcher.core().audit_failure() {
                    None => text(200, "text/plain", "ok\n".into()),
                    Some(_) => text(
                        503,
                        "text/plain",
                        "unavailable: the audit trail cannot be written\n".into(),
                    ),
                };
            }
            "/metrics" => {
                return text(
                    200,
                    "text/plain; version=0.0.4",
                    dispatcher.metrics().render().into(),
                )
            }
            _ => {}
        }
    }
    dispatcher.serve_http(req, peer).await
}

fn text(status: u16, content_type: &'static str, body: Bytes) -> Response<ApiBody> {
    let mut r = Response::new(
        Full::new(body)
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    r
}
