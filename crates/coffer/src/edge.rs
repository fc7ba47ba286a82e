//! The edge's place in the deployment: its identity (the IAM user `edge` of the system account `coffer-system`,
//! whose keys are written to `<data-dir>/edge-credentials`), the S3 resolver that turns that identity's
//! OAC-signed requests into `cloudfront.amazonaws.com` acting for a distribution, and `coffer edge`, which runs an
//! edge node alone against any API endpoint.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use api::{ApiError, Via};
use cloudfront_api::EdgeIdentity;
use iam::Caller;

use crate::state::{self, Layout};

/// The account that owns the deployment's own identities. It holds no resources.
pub const SYSTEM_ACCOUNT: &str = "coffer-system";
const EDGE_USER: &str = "edge";

/// Ensures the system account, its `edge` user and `<data-dir>/edge-credentials` exist. A lost credentials file
/// is replaced with a new key (the old keys are deleted).
pub async fn ensure_identity(
    layout: &Layout,
    iam: &iam::Iam,
) -> anyhow::Result<(EdgeIdentity, sigv4::Credentials)> {
    let account = match iam.account_by_name(SYSTEM_ACCOUNT)? {
        Some(a) => a,
        None => iam.create_account(SYSTEM_ACCOUNT, None).await?.0,
    };
    if iam.user(&account.id, EDGE_USER).is_err() {
        iam.create_user(&account.id, EDGE_USER, Some("/coffer/"))
            .await?;
    }
    let identity = EdgeIdentity {
        account: account.id.clone(),
        user: EDGE_USER.into(),
    };
    let path = layout.edge_credentials();
    if let Ok(creds) = crate::bench::read_credentials(&path, "edge") {
        let known = iam
            .list_access_keys(&account.id, Some(EDGE_USER))?
            .iter()
            .any(|k| k.id == creds.access_key_id);
        if known {
            return Ok((identity, creds));
        }
    }
    for old in iam.list_access_keys(&account.id, Some(EDGE_USER))? {
        iam.delete_access_key(&account.id, Some(EDGE_USER), &old.id)
            .await?;
    }
    let (key, secret) = iam.create_access_key(&account.id, Some(EDGE_USER)).await?;
    state::write_private(
        &path,
        state::credentials_file("edge", &key.id, &secret, &account.id).as_bytes(),
    )?;
    tracing::info!("created the edge identity's access key {}", key.id);
    Ok((
        identity,
        sigv4::Credentials {
            access_key_id: key.id,
            secret_access_key: secret.to_string(),
            session_token: None,
        },
    ))
}

/// S3's view of the edge: a request signed by the edge identity that names a distribution (in the signed
/// [`edge::DISTRIBUTION_HEADER`]) is evaluated as `cloudfront.amazonaws.com` with that distribution's ARN and
/// account as `aws:SourceArn` and `aws:SourceAccount` — or, marked `anonymous` in [`edge::CALLER_HEADER`] (a
/// distribution without OAC), as an anonymous caller. Either way `aws:SourceIp` is absent: the edge's address
/// is not the caller's. A distribution that does not exist is refused.
pub struct OacResolver {
    pub identity: EdgeIdentity,
    pub cloudfront: cloudfront::CloudFront,
}

impl s3_api::ServicePrincipalResolver for OacResolver {
    fn resolve(
        &self,
        caller: &Caller,
        _method: &http::Method,
        _uri: &http::Uri,
        headers: &http::HeaderMap,
    ) -> Result<Option<s3_api::SubstitutedCaller>, ApiError> {
        if !self.identity.is(caller) {
            return Ok(None);
        }
        let Some(arn) = headers
            .get(edge::DISTRIBUTION_HEADER)
            .and_then(|v| v.to_str().ok())
        else {
            return Ok(None);
        };
        let denied = || ApiError::new(403, "AccessDenied", "Access Denied");
        let arn = ids::Arn::parse(arn).map_err(|_| denied())?;
        let id = arn
            .resource
            .strip_prefix("distribution/")
            .filter(|_| arn.service == "cloudfront")
            .ok_or_else(denied)?;
        let d = self
            .cloudfront
            .distribution(&arn.account, id)
            .map_err(|_| denied())?;
        match headers.get(edge::CALLER_HEADER).map(|v| v.as_bytes()) {
            None => {}
            // A fetch for a distribution without OAC: an anonymous viewer's request, as S3 sees CloudFront's
            // unsigned fetches (and, being a service's, without the edge's address as aws:SourceIp).
            Some(b"anonymous") => {
                return Ok(Some(s3_api::SubstitutedCaller {
                    caller: Caller::anonymous(),
                    source_arn: None,
                    source_account: None,
                    via: None,
                }))
            }
            Some(_) => return Err(denied()),
        }
        Ok(Some(s3_api::SubstitutedCaller {
            caller: Caller::service("cloudfront.amazonaws.com"),
            source_arn: Some(d.arn.clone()),
            source_account: Some(d.account.clone()),
            via: Some(Via {
                service_endpoint: "cloudfront.amazonaws.com".into(),
                service_principal: "cloudfront.amazonaws.com".into(),
            }),
        }))
    }
}

/// `coffer edge`: an edge node alone, pointed at an API endpoint.
#[derive(Debug, clap::Args)]
pub struct EdgeArgs {
    /// The API endpoint, e.g. http://10.0.0.5:9000.
    #[arg(long, env = "COFFER_EDGE_API")]
    api: String,
    /// The edge identity's credentials file (the API's `<data-dir>/edge-credentials`).
    #[arg(long, env = "COFFER_EDGE_CREDENTIALS")]
    credentials: PathBuf,
    /// Viewer HTTP listener, or `off`.
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: String,
    /// Viewer HTTPS listener, or `off`.
    #[arg(long, default_value = "127.0.0.1:8443")]
    https: String,
    /// The edge's directory: default certificate, disk cache, access log.
    #[arg(long, default_value = "./coffer-edge")]
    dir: PathBuf,
    /// The region origin requests are signed for when an origin names none.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Serve Prometheus metrics at http://<addr>/metrics.
    #[arg(long)]
    metrics: Option<std::net::SocketAddr>,
    /// Memory cache size in MiB.
    #[arg(long, default_value_t = 256)]
    cache_memory_mb: usize,
    /// Disk cache size in MiB (0: no disk tier).
    #[arg(long, default_value_t = 1024)]
    cache_disk_mb: usize,
    /// Write CloudFront standard access logs to <dir>/access.log.
    #[arg(long)]
    access_log: bool,
    /// The edge domain distributions are named under, for the default certificate.
    #[arg(long, default_value = "cloudfront.localhost")]
    domain: String,
    /// Extra CA certificates (PEM) to trust for HTTPS custom origins, besides the system's.
    #[arg(long)]
    origin_ca: Option<PathBuf>,
    /// An internal network (CIDR) custom origins may reach, e.g. 127.0.0.0/8; repeatable. Default: none.
    #[arg(long = "origin-allow-network")]
    origin_allow_networks: Vec<String>,
    /// Milliseconds a viewer has to send a request's head.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout_ms: u64,
    /// Milliseconds a viewer has to complete the TLS handshake.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    tls_handshake_timeout_ms: u64,
    /// Milliseconds an idle keep-alive connection (or an unread response) is kept.
    #[arg(long, default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_ms: u64,
    /// Open viewer connections over both listeners; more are closed at once.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
}

/// Parses a listener address or `off`.
pub fn listener(text: &str, what: &str) -> anyhow::Result<Option<std::net::SocketAddr>> {
    if text == "off" {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .with_context(|| format!("{what} {text:?} is not an address like 127.0.0.1:8080 or `off`"))
}

/// The edge configuration shared by `serve` and `edge`.
#[allow(clippy::too_many_arguments)]
pub fn config(
    api: &str,
    credentials: sigv4::Credentials,
    region: &str,
    http: Option<std::net::SocketAddr>,
    https: Option<std::net::SocketAddr>,
    dir: &Path,
    domain: &str,
    cache: edge::CacheConfig,
    access_log: bool,
    origin_ca_file: Option<PathBuf>,
) -> edge::EdgeConfig {
    edge::EdgeConfig {
        api: api.to_owned(),
        credentials,
        region: region.to_owned(),
        http,
        https,
        dir: dir.to_owned(),
        default_certificate_names: vec!["localhost".into(), format!("*.{domain}"), domain.into()],
        cache,
        access_log,
        public_https_port: None,
        origin_timeout: Duration::from_secs(30),
        origin_ca_file,
        origin_allow_networks: Vec::new(),
        own_listeners: Vec::new(),
        limits: edge::ListenerLimits::default(),
    }
}

pub fn run(args: EdgeArgs) -> anyhow::Result<ExitCode> {
    let credentials = crate::bench::read_credentials(&args.credentials, "edge")
        .or_else(|_| crate::bench::read_credentials(&args.credentials, "default"))?;
    let mut config = config(
        &args.api,
        credentials,
        &args.region,
        listener(&args.http, "--http")?,
        listener(&args.https, "--https")?,
        &args.dir,
        &args.domain,
        edge::CacheConfig {
            memory_bytes: args.cache_memory_mb * 1024 * 1024,
            disk_bytes: args.cache_disk_mb * 1024 * 1024,
            ..edge::CacheConfig::default()
        },
        args.access_log,
        args.origin_ca.clone(),
    );
    config.origin_allow_networks =
        edge::parse_networks(&args.origin_allow_networks).context("--origin-allow-network")?;
    config.own_listeners.extend(args.metrics);
    config.limits = edge::ListenerLimits {
        header_read_timeout: Duration::from_millis(args.header_timeout_ms),
        tls_handshake_timeout: Duration::from_millis(args.tls_handshake_timeout_ms),
        idle_timeout: Duration::from_millis(args.idle_timeout_ms),
        max_connections: args.max_connections as usize,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("coffer-edge")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let running = edge::start(config).await?;
        println!("coffer edge {} is serving", env!("CARGO_PKG_VERSION"));
        if let Some(a) = running.http {
            println!("  HTTP:  http://{a}");
        }
        if let Some(a) = running.https {
            println!("  HTTPS: https://{a}");
        }
        println!("  API:   {}", args.api);
        write_endpoints(&args.dir, &running)?;
        let metrics_task = match args.metrics {
            Some(addr) => Some(serve_metrics(addr, running.metrics.clone()).await?),
            None => None,
        };
        crate::serve::shutdown_signal().await;
        if let Some(t) = metrics_task {
            t.abort();
        }
        running.stop();
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Writes `<dir>/edge-endpoints`: `http <addr>` and `https <addr>` lines, for scripts that bind port 0.
pub fn write_endpoints(dir: &Path, running: &edge::RunningEdge) -> anyhow::Result<()> {
    let mut text = String::new();
    if let Some(a) = running.http {
        text.push_str(&format!("http {a}\n"));
    }
    if let Some(a) = running.https {
        text.push_str(&format!("https {a}\n"));
    }
    std::fs::create_dir_all(dir)?;
    state::write_private(&dir.join("edge-endpoints"), text.as_bytes())
}

/// Connections the metrics listener serves at once; one request each, done within [`METRICS_CONNECTION_TIME`].
const METRICS_CONNECTIONS: usize = 64;
/// How long one metrics connection may last, start to end: bounds a slow request head, a scraper that stops
/// reading and everything between.
const METRICS_CONNECTION_TIME: Duration = Duration::from_secs(10);

/// `coffer edge --metrics`: `/metrics` on its own listener, with a connection cap and a time limit on every
/// connection, as every listener has.
async fn serve_metrics(
    addr: std::net::SocketAddr,
    metrics: std::sync::Arc<edge::Metrics>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the metrics listener {addr}"))?;
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(METRICS_CONNECTIONS));
    Ok(tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                continue;
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let metrics = metrics.clone();
                        async move {
                            let (status, body) = if req.uri().path() == "/metrics" {
                                (200, metrics.render())
                            } else {
                                (404, "not found\n".to_owned())
                            };
                            let resp = http::Response::builder()
                                .status(status)
                                .header("content-type", "text/plain; version=0.0.4")
                                .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                                .expect("static response");
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                let conn = hyper::server::conn::http1::Builder::new()
                    .keep_alive(false)
                    .max_buf_size(16 * 1024)
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), service);
                let _ = tokio::time::timeout(METRICS_CONNECTION_TIME, conn).await;
                drop(permit);
            });
        }
    }))
}
