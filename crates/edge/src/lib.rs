//! The edge: the CDN in front of the store, serving viewers for CloudFront-style distributions.
//!
//! A viewer's request is matched to a distribution by `Host` (or by SNI for the certificate), checked against the
//! cache behavior its path selects (viewer protocol policy, allowed methods, signed URLs or cookies), then served
//! from the cache or from one collapsed origin fetch, signed with SigV4 as the distribution's Origin Access
//! Control. Writes are streamed to the origin and invalidate their path here.
//!
//! The edge is stateless apart from its cache: it learns distributions and invalidations from the API's edge feed
//! ([`state::follow`]) and reaches the store only through the public S3 API with its own credentials, so any
//! number of edges can run on any hosts (`coffer edge --api URL`).

mod cache;
mod cached;
pub mod conditional;
mod conn;
pub mod egress;
mod forward;
mod log;
mod metrics;
mod origin;
mod policy;
pub mod query;
pub mod request;
mod respond;
mod signed;
mod state;
mod tls;
mod viewer;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

pub use cache::CacheConfig;
pub use conn::ListenerLimits;
pub use ipnet::IpNet;
pub use metrics::Metrics;
pub use origin::{CALLER_HEADER, DISTRIBUTION_HEADER};

/// Errors of streaming bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How to run an edge node.
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    /// The API endpoint (`http://host:port`): the edge feed and every S3 origin.
    pub api: String,
    /// The edge identity's credentials.
    pub credentials: sigv4::Credentials,
    /// The region origin requests are signed for when an origin's name carries none.
    pub region: String,
    pub http: Option<SocketAddr>,
    pub https: Option<SocketAddr>,
    /// The edge's own files: default certificate, disk cache, access log.
    pub dir: PathBuf,
    /// Names for the self-signed default certificate made on first start.
    pub default_certificate_names: Vec<String>,
    pub cache: CacheConfig,
    /// Write `<dir>/access.log`.
    pub access_log: bool,
    /// The HTTPS port put in redirects (the bound port when `None`).
    pub public_https_port: Option<u16>,
    pub origin_timeout: Duration,
    /// Extra CA certificates (PEM) trusted for HTTPS origins, besides the system's.
    pub origin_ca_file: Option<PathBuf>,
    /// Networks custom origins may reach although they are internal (loopback, private…): `[edge]
    /// origin_allow_networks`. Empty: only global unicast addresses.
    pub origin_allow_networks: Vec<ipnet::IpNet>,
    /// The deployment's listeners besides the edge's own and the API endpoint (which the edge knows), e.g. a
    /// metrics listener: never reachable as origins.
    pub own_listeners: Vec<SocketAddr>,
    /// Timeouts and the connection cap of the viewer listeners.
    pub limits: ListenerLimits,
}

/// Reads `[edge] origin_allow_networks` entries: CIDR ranges (`127.0.0.0/8`, `fd00::/8`) or single addresses.
pub fn parse_networks(entries: &[String]) -> anyhow::Result<Vec<IpNet>> {
    entries
        .iter()
        .map(|e| {
            e.parse::<IpNet>()
                .or_else(|_| e.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    anyhow::anyhow!("{e:?} is not a network like 127.0.0.0/8 or an address")
                })
        })
        .collect()
}

/// Whether `networks` allow a loopback address, so that the control plane may accept `localhost` as a custom
/// origin's name.
pub fn allows_loopback(networks: &[IpNet]) -> bool {
    let v4 = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    let v6 = std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST);
    networks.iter().any(|n| n.contains(&v4) || n.contains(&v6))
}

/// A running edge node.
#[derive(Debug)]
pub struct RunningEdge {
    pub http: Option<SocketAddr>,
    pub https: Option<SocketAddr>,
    pub metrics: Arc<Metrics>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningEdge {
    /// Stops accepting viewers and following the feed.
    pub fn stop(self) {
        for t in self.tasks {
            t.abort();
        }
    }
}

/// Binds the listeners, opens the cache and starts following the API's feed. Returns once the listeners are
/// bound; until the first state arrives every request gets 503.
pub async fn start(config: EdgeConfig) -> anyhow::Result<RunningEdge> {
    // The edge's directory holds its cache, its access log and its default certificate's key: owner-only.
    cache::private_dir(&config.dir)?;
    let current = Arc::new(state::Current::default());
    let invalidations = Arc::new(state::Invalidations::default());

    let metrics = Arc::new(Metrics::default());
    let log = if config.access_log {
        log::AccessLog::open(&config.dir.join("access.log"))?
    } else {
        log::AccessLog::disabled()
    };

    let http = match config.http {
        Some(a) => Some(
            TcpListener::bind(a)
                .await
                .with_context(|| format!("binding the edge's HTTP listener {a}"))?,
        ),
        None => None,
    };
    let https = match config.https {
        Some(a) => Some(
            TcpListener::bind(a)
                .await
                .with_context(|| format!("binding the edge's HTTPS listener {a}"))?,
        ),
        None => None,
    };
    let http_addr = http.as_ref().map(TcpListener::local_addr).transpose()?;
    let https_addr = https.as_ref().map(TcpListener::local_addr).transpose()?;
    // No custom origin may be one of the deployment's own listeners: these, the API endpoint, and whatever the
    // caller names.
    let mut own: Vec<SocketAddr> = http_addr.into_iter().chain(https_addr).collect();
    own.extend(&config.own_listeners);
    own.extend(api_addresses(&config.api).await?);
    let egress = Arc::new(egress::EgressPolicy::new(
        config.origin_allow_networks.clone(),
        own,
    ));
    let client = Arc::new(origin::OriginClient::new(
        &config.api,
        config.credentials.clone(),
        &config.region,
        config.origin_timeout,
        config.origin_ca_file.as_deref(),
        egress,
    )?);
    let cache = cache::open(&config.dir.join("cache"), &config.cache).await?;
    let (ready_tx, ready_rx) = tokio::sync::watch::channel(false);
    let node = hex::encode(crypto::random_array::<8>());
    let edge = Arc::new(viewer::Edge {
        current: current.clone(),
        invalidations: invalidations.clone(),
        cache,
        origin: client.clone(),
        metrics: metrics.clone(),
        log,
        node,
        https_port: config.public_https_port.or(https_addr.map(|a| a.port())),
        max_object_bytes: config.cache.max_object_bytes,
        ready: ready_rx,
        uncacheable: Default::default(),
        vias: Default::default(),
        ids: Default::default(),
    });

    let mut tasks = vec![tokio::spawn(state::follow(
        client,
        current.clone(),
        invalidations,
        ready_tx,
    ))];
    let slots = Arc::new(tokio::sync::Semaphore::new(
        config.limits.max_connections.max(1),
    ));
    if let Some(listener) = http {
        let (edge, limits, slots) = (edge.clone(), config.limits.clone(), slots.clone());
        tasks.push(tokio::spawn(async move {
            accept_loop(listener, edge, None, limits, slots).await;
        }));
    }
    if let Some(listener) = https {
        let default =
            tls::default_certificate(&config.dir.join("tls"), &config.default_certificate_names)?;
        let acceptor = tls::Acceptor::new(current, default)?;
        let (edge, limits) = (edge.clone(), config.limits.clone());
        tasks.push(tokio::spawn(async move {
            accept_loop(listener, edge, Some(acceptor), limits, slots).await;
        }));
    }
    Ok(RunningEdge {
        http: http_addr,
        https: https_addr,
        metrics,
        tasks,
    })
}

/// The socket addresses of the API endpoint URL's authority.
async fn api_addresses(api: &str) -> anyhow::Result<Vec<SocketAddr>> {
    let uri: http::Uri = api
        .trim_end_matches('/')
        .parse()
        .with_context(|| format!("the API URL {api}"))?;
    let host = uri
        .host()
        .ok_or_else(|| anyhow::anyhow!("the API URL {api} has no host"))?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port = uri.port_u16().unwrap_or(80);
    let addrs = tokio::net::lookup_host((host, port))
        .await
        .with_context(|| format!("resolving the API endpoint {host}"))?
        .collect();
    Ok(addrs)
}

async fn accept_loop(
    listener: TcpListener,
    edge: Arc<viewer::Edge>,
    tls: Option<tls::Acceptor>,
    limits: ListenerLimits,
    slots: Arc<tokio::sync::Semaphore>,
) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("edge accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Beyond the cap the connection is closed at once; the ones already open are not affected.
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            edge.metrics.connection_refused();
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let edge = edge.clone();
        let tls = tls.clone();
        let limits = limits.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match tls {
                None => {
                    let conn = viewer::Conn {
                        peer,
                        tls: None,
                        sni: None,
                    };
                    serve_connection(tcp, conn, edge, limits).await;
                }
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(tcp));
                    let stream = match handshake.await {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!("TLS handshake with {peer} failed: {e}");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!("TLS handshake with {peer} timed out");
                            edge.metrics.connection_timed_out();
                            return;
                        }
                    };
                    let conn = viewer::Conn {
                        peer,
                        tls: Some(tls::describe(stream.get_ref().1)),
                        sni: stream.get_ref().1.server_name().map(str::to_owned),
                    };
                    serve_connection(stream, conn, edge, limits).await;
                }
            }
        });
    }
}

/// Serves HTTP/1.1 or HTTP/2 on one accepted (and, for HTTPS, handshaken) connection until it ends, or until its
/// watchdog closes it (see [`conn`]).
async fn serve_connection<I>(
    io: I,
    conn: viewer::Conn,
    edge: Arc<viewer::Edge>,
    limits: ListenerLimits,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let activity = conn::Activity::new();
    let io = TokioIo::new(conn::Watched::new(io, activity.clone()));
    let service = {
        let (edge, activity) = (edge.clone(), activity.clone());
        hyper::service::service_fn(move |req| {
            let in_flight = activity.begin();
            let edge = edge.clone();
            let conn = conn.clone();
            async move {
                let resp = edge.serve(req, &conn).await;
                Ok::<_, std::convert::Infallible>(resp.map(|b| conn::Guarded::new(b, in_flight)))
            }
        })
    };
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .max_buf_size(MAX_REQUEST_HEAD_BUFFER)
        .max_headers(MAX_REQUEST_HEADERS);
    builder
        .http2()
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .max_header_list_size(MAX_REQUEST_HEAD_BUFFER as u32);
    let served = builder.serve_connection(io, service);
    let closed = tokio::select! {
        _ = served => false,
        () = conn::watchdog(activity, limits) => true,
    };
    if closed {
        edge.metrics.connection_timed_out();
    }
}

/// The most a request head may take in hyper's buffer (the edge refuses heads over CloudFront's 20,480 bytes
/// itself, with CloudFront's error).
const MAX_REQUEST_HEAD_BUFFER: usize = 64 * 1024;
/// The most header fields one request may have.
const MAX_REQUEST_HEADERS: usize = 100;
/// The most HTTP/2 streams open at once on one connection.
const MAX_CONCURRENT_STREAMS: u32 = 128;
