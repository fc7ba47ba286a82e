//! `coffer serve`: opens the data directory, creates the first account on first start, and serves every
//! service on one endpoint until SIGINT or SIGTERM.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::config::{FileConfig, Overrides, ServeConfig};
use crate::state::{self, Layout};
use crate::ServeArgs;

/// How often expired STS sessions are removed from the store.
const SESSION_PURGE_INTERVAL: Duration = Duration::from_secs(600);
/// How often scheduled KMS key deletions and automatic rotations are carried out.
const KMS_DUE_INTERVAL: Duration = Duration::from_secs(60);
/// How often unreferenced blobs are looked for, and how old one must be before it is removed.
const BLOB_GC_INTERVAL: Duration = Duration::from_secs(600);
const BLOB_GC_GRACE: Duration = Duration::from_secs(600);

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let file = match &args.config {
        Some(p) => FileConfig::load(p)?,
        None => FileConfig::default(),
    };
    let config = ServeConfig::resolve(
        file,
        Overrides {
            data_dir: args.data_dir,
            api: args.api,
            region: args.region,
            edge_http: args.edge_http,
            edge_https: args.edge_https,
            pkcs11: crate::config::Pkcs11FileConfig::from_env(),
        },
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("coffer")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(config))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    let layout = Layout::new(&config.data_dir);
    let opened = state::open_state_with(&layout, config.pkcs11.as_ref())?;
    let iam = opened.iam.clone();
    let first_account = bootstrap(&layout, &iam).await?;
    let (edge_identity, edge_credentials) = crate::edge::ensure_identity(&layout, &iam).await?;
    let audit = state::open_audit(&layout, config.audit_sync, config.digest_interval)?;

    let metrics = Arc::new(api::Metrics::new());
    {
        let audit = audit.clone();
        metrics.add_source(Box::new(move || {
            render_audit_metrics(&audit.metrics(), audit.failure().is_some())
        }));
        let store = opened.store.clone();
        metrics.add_source(Box::new(move || {
            store.metrics().to_prometheus("coffer_meta")
        }));
    }
    let mut dispatcher = api::Dispatcher::new(iam.clone(), audit.clone(), &config.region, metrics);
    dispatcher.register(Arc::new(iam_api::IamService::new(iam.clone())));
    dispatcher.register(Arc::new(iam_api::StsService::new(iam.clone())));
    dispatcher.register(Arc::new(trail_api::CloudTrailService::new(audit.clone())));
    let kms = kms::Kms::new(opened.store.clone(), opened.root.clone());
    let kms_service = Arc::new(kms_api::KmsService::new(kms.clone(), iam.clone()));
    {
        let k = kms_service.clone();
        dispatcher
            .metrics()
            .add_source(Box::new(move || k.metrics_text()));
    }
    dispatcher.register(kms_service);
    let cloudfront = cloudfront::CloudFront::new(
        opened.store.clone(),
        opened.root.clone(),
        cloudfront::Config {
            edge_domain: config.edge_domain.clone(),
            loopback_origins_allowed: edge::allows_loopback(&config.edge_origin_allow_networks),
            alias_trust: Arc::new(
                cloudfront::AliasTrust::load(config.edge_alias_ca_file.as_deref())
                    .map_err(|e| anyhow::anyhow!("edge.alias_ca_file: {e}"))?,
            ),
            ..cloudfront::Config::default()
        },
    );
    dispatcher.register(Arc::new(cloudfront_api::CloudFrontService::new(
        cloudfront.clone(),
    )));
    dispatcher.register(Arc::new(cloudfront_api::AcmService::new(
        cloudfront.clone(),
    )));
    dispatcher.register(Arc::new(cloudfront_api::EdgeStateService::new(
        cloudfront.clone(),
        edge_identity.clone(),
    )));

    // S3: object bodies in the blob store (large) or inline in metadata (small), every one encrypted with a data
    // key from the SSE key manager, which asks KMS on the caller's behalf through the dispatcher itself.
    let blobs = Arc::new(
        blob::LocalBlobStore::open(&layout.blobs_dir())
            .await
            .with_context(|| format!("opening the blob store {}", layout.blobs_dir().display()))?,
    );
    let objects = objects::Objects::new(opened.store.clone(), blobs, objects::Config::default());
    let kms_handle = kms_api::DispatcherHandle::new();
    let keys = Arc::new(sse::KeyManager::new(
        opened.store.clone(),
        opened.root.clone(),
        kms.clone(),
        kms_api::KmsClient::new(kms_handle.clone(), "s3"),
        sse::Config::default(),
    ));
    dispatcher.register_raw(Arc::new(s3_api::S3Frontend::new(
        dispatcher.core().clone(),
        objects.clone(),
        keys,
        s3_api::S3Options {
            data_events: config.s3_data_events,
            service_principals: Arc::new(crate::edge::OacResolver {
                identity: edge_identity,
                cloudfront: cloudfront.clone(),
            }),
            ..s3_api::S3Options::default()
        },
    )));
    let edge_metrics = Arc::new(std::sync::OnceLock::<Arc<edge::Metrics>>::new());
    {
        let m = edge_metrics.clone();
        dispatcher.metrics().add_source(Box::new(move || {
            m.get().map(|m| m.render()).unwrap_or_default()
        }));
    }
    let dispatcher = Arc::new(dispatcher);
    kms_handle.bind(&dispatcher);

    let signals = ShutdownSignal::listen();
    let listener = tokio::net::TcpListener::bind(config.api)
        .await
        .with_context(|| format!("binding the API endpoint {}", config.api))?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    state::write_private(&layout.endpoint_file(), format!("{endpoint}\n").as_bytes())?;
    let admin = crate::admin::listen(&layout, iam.clone())?;

    // The edge talks to this endpoint over HTTP like any other edge node: its feed and its origin fetches are
    // signed requests, authorized and audited here.
    let running_edge = if config.edge_http.is_some() || config.edge_https.is_some() {
        let mut edge_config = crate::edge::config(
            &endpoint,
            edge_credentials,
            &config.region,
            config.edge_http,
            config.edge_https,
            &layout.edge_dir(),
            &config.edge_domain,
            config.edge_cache.clone(),
            config.edge_access_log,
            config.edge_origin_ca_file.clone(),
        );
        edge_config.origin_allow_networks = config.edge_origin_allow_networks.clone();
        edge_config.limits = config.edge_limits.clone();
        let running = edge::start(edge_config).await?;
        crate::edge::write_endpoints(&layout.edge_dir(), &running)?;
        let _ = edge_metrics.set(running.metrics.clone());
        Some(running)
    } else {
        None
    };

    println!("coffer {} is serving", env!("CARGO_PKG_VERSION"));
    println!("  API endpoint:  {endpoint}   (region {})", config.region);
    println!("  data:          {}", layout.root().display());
    println!("  root of trust: {}", opened.root.describe());
    if let Some(running) = &running_edge {
        if let Some(a) = running.http {
            println!(
                "  edge HTTP:     http://{a}   (distributions are <id>.{})",
                config.edge_domain
            );
        }
        if let Some(a) = running.https {
            println!("  edge HTTPS:    https://{a}");
        }
    }
    if let Some((id, name)) = &first_account {
        println!("  account:       {id} ({name})");
    }
    println!("  credentials:   {}", layout.root_credentials().display());
    println!(
        "  try:           AWS_SHARED_CREDENTIALS_FILE={} aws --endpoint-url {endpoint} sts get-caller-identity",
        layout.root_credentials().display()
    );

    let purge = {
        let iam = iam.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SESSION_PURGE_INTERVAL);
            loop {
                tick.tick().await;
                match iam
                    .purge_expired_sessions(time::OffsetDateTime::now_utc())
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("removed {n} expired STS sessions"),
                    Err(e) => tracing::warn!("purging expired sessions failed: {e}"),
                }
            }
        })
    };

    // Scheduled key deletions and automatic rotations: once at start (catching up on downtime), then every
    // KMS_DUE_INTERVAL.
    let kms_due = tokio::spawn(async move {
        let mut tick = tokio::time::interval(KMS_DUE_INTERVAL);
        loop {
            tick.tick().await;
            if let Err(e) = kms.run_due(time::OffsetDateTime::now_utc()).await {
                tracing::warn!("KMS deletions and rotations failed: {e}");
            }
        }
    });

    // Blobs whose metadata commit never happened (a crash between the two) are removed once they are older than
    // BLOB_GC_GRACE, so a PUT still in flight never loses its blob.
    let blob_gc = tokio::spawn(async move {
        let mut tick = tokio::time::interval(BLOB_GC_INTERVAL);
        loop {
            tick.tick().await;
            match objects.collect_garbage(BLOB_GC_GRACE).await {
                Ok(report) => tracing::debug!("blob gc: {report:?}"),
                Err(e) => tracing::warn!("blob gc failed: {e}"),
            }
        }
    });

    // On shutdown, the in-process edge stops first and other edges' long polls are answered at once, so draining
    // open requests never waits for a feed request to time out.
    let shutdown = async move {
        signals.wait().await;
        if let Some(running) = running_edge {
            running.stop();
        }
        cloudfront.close_feed();
    };
    api::server::serve(listener, dispatcher.clone(), config.api_limits, shutdown).await;
    blob_gc.abort();
    tracing::info!("shutting down");
    purge.abort();
    kms_due.abort();
    admin.abort();
    let _ = std::fs::remove_file(layout.admin_socket());
    let _ = std::fs::remove_file(layout.endpoint_file());
    drop(dispatcher);
    // Every request has finished, so this is the last reference: closing writes the final signed digest.
    match Arc::try_unwrap(audit) {
        Ok(log) => log
            .close()
            .map_err(|e| anyhow::anyhow!("closing the audit log: {e}"))?,
        Err(_) => tracing::warn!("audit log still referenced at shutdown; it flushes on drop"),
    }
    Ok(())
}

/// On first start, creates the first account and writes its root credentials file.
/// Returns the (id, name) of the first account.
async fn bootstrap(layout: &Layout, iam: &iam::Iam) -> anyhow::Result<Option<(String, String)>> {
    let accounts = iam.list_accounts()?;
    if let Some(a) = accounts
        .iter()
        .find(|a| a.name != crate::edge::SYSTEM_ACCOUNT)
    {
        return Ok(Some((a.id.clone(), a.name.clone())));
    }
    let chosen = match (
        std::env::var("COFFER_ROOT_ACCESS_KEY_ID"),
        std::env::var("COFFER_ROOT_SECRET_ACCESS_KEY"),
    ) {
        (Ok(id), Ok(secret)) => Some((id, secret)),
        (Err(_), Err(_)) => None,
        _ => anyhow::bail!(
            "set both COFFER_ROOT_ACCESS_KEY_ID and COFFER_ROOT_SECRET_ACCESS_KEY, or neither"
        ),
    };
    let (account, akid, secret) = iam
        .create_account("default", chosen)
        .await
        .context("creating the first account")?;
    state::write_private(
        &layout.root_credentials(),
        state::credentials_file("default", &akid, &secret, &account.id).as_bytes(),
    )?;
    tracing::info!(
        "created account {} with its root access key {akid}",
        account.id
    );
    Ok(Some((account.id, account.name)))
}

fn render_audit_metrics(m: &audit::Metrics, failed: bool) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    out.push_str(
        "# HELP coffer_audit_failed 1 while the audit trail cannot be written (every request is refused).\n",
    );
    out.push_str("# TYPE coffer_audit_failed gauge\n");
    let _ = writeln!(out, "coffer_audit_failed {}", u8::from(failed));
    out.push_str("# HELP coffer_audit_backlog Audit events queued but not yet written.\n");
    out.push_str("# TYPE coffer_audit_backlog gauge\n");
    let _ = writeln!(out, "coffer_audit_backlog {}", m.queue_backlog);
    out.push_str("# HELP coffer_audit_fsync_seconds Latency of audit fsyncs.\n");
    out.push_str("# TYPE coffer_audit_fsync_seconds histogram\n");
    for (le, n) in &m.fsync_seconds.buckets {
        let _ = writeln!(out, "coffer_audit_fsync_seconds_bucket{{le=\"{le}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "coffer_audit_fsync_seconds_bucket{{le=\"+Inf\"}} {}",
        m.fsync_seconds.count
    );
    let _ = writeln!(
        out,
        "coffer_audit_fsync_seconds_sum {}",
        m.fsync_seconds.sum
    );
    let _ = writeln!(
        out,
        "coffer_audit_fsync_seconds_count {}",
        m.fsync_seconds.count
    );
    out
}

pub(crate) async fn shutdown_signal() {
    ShutdownSignal::listen().wait().await;
}

/// SIGINT and SIGTERM, listened for from the moment this is made. tokio installs a signal handler only when
/// the stream is created, so a server creates this before it announces itself (the endpoint file): a SIGTERM
/// sent as soon as it is up must shut it down cleanly, never kill it with the default action.
pub(crate) struct ShutdownSignal {
    interrupt: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignal {
    pub(crate) fn listen() -> Self {
        use tokio::signal::unix::{signal, SignalKind};
        let listen = |kind, name| match signal(kind) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!("cannot listen for {name}: {e}");
                None
            }
        };
        Self {
            interrupt: listen(SignalKind::interrupt(), "SIGINT"),
            terminate: listen(SignalKind::terminate(), "SIGTERM"),
        }
    }

    pub(crate) async fn wait(mut self) {
        async fn next(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            () = next(&mut self.interrupt) => {}
            () = next(&mut self.terminate) => {}
        }
    }
}
