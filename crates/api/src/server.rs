//! The HTTP listener: accepts connections, answers `/health` and `/metrics`, hands everything else to the
//! dispatcher, and drains connections on shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use crate::dispatch::{ApiBody, Dispatcher, Peer};

/// Serves `dispatcher` on `listener` until `shutdown` completes, then waits for open requests to finish.
pub async fn serve(
    listener: TcpListener,
    dispatcher: Arc<Dispatcher>,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, addr) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Running out of file descriptors and similar are transient; keep serving.
                        tracing::warn!("accept failed: {e}");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let dispatcher = dispatcher.clone();
                let peer = Peer { addr, secure: false };
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let dispatcher = dispatcher.clone();
                    async move { Ok::<_, Infallible>(route(&dispatcher, req, peer).await) }
                });
                let conn = builder.serve_connection(TokioIo::new(stream), svc).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!("connection from {addr} ended: {e}");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
}

async fn route(dispatcher: &Dispatcher, req: Request<Incoming>, peer: Peer) -> Response<ApiBody> {
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
