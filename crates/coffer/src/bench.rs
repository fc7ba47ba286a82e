//! `coffer bench`: a closed-loop load generator for any AWS-compatible endpoint. N workers each keep one
//! request in flight over kept-alive connections, signing every request with SigV4 like an SDK would, and the
//! tool reports throughput and latency percentiles. The same command runs against coffer and against a peer
//! (e.g. `moto_server`) so the two are compared under one client.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// `sts:GetCallerIdentity` (Query protocol, POST form).
    StsGetCallerIdentity,
    /// `kms:GenerateDataKey` (AES_256) on a key the tool creates first (JSON 1.1).
    KmsGenerateDataKey,
    /// `kms:Decrypt` of a data key the tool generates first (JSON 1.1).
    KmsDecrypt,
}

/// One request of a workload: the signing name, the `X-Amz-Target` (JSON protocols), the content type, the body.
struct RequestShape {
    service: &'static str,
    target: Option<&'static str>,
    content_type: &'static str,
    body: Bytes,
}

impl RequestShape {
    fn kms(target: &'static str, body: serde_json::Value) -> Self {
        Self {
            service: "kms",
            target: Some(target),
            content_type: "application/x-amz-json-1.1",
            body: Bytes::from(body.to_string()),
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// What each request does.
    #[arg(value_enum)]
    workload: Workload,
    /// The endpoint URL, e.g. http://127.0.0.1:9000.
    #[arg(long)]
    endpoint: String,
    /// A shared-credentials file (e.g. <data-dir>/root-credentials).
    #[arg(long)]
    credentials: PathBuf,
    /// The profile to read from the credentials file.
    #[arg(long, default_value = "default")]
    profile: String,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Requests kept in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// How long to run, in seconds (after a one-second warm-up).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Reads one profile's keys from a shared-credentials file.
fn read_credentials(path: &std::path::Path, profile: &str) -> anyhow::Result<sigv4::Credentials> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut current = String::new();
    let (mut id, mut secret, mut token) = (None, None, None);
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(p) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = p.trim().to_owned();
            continue;
        }
        if current != profile {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            match k.trim() {
                "aws_access_key_id" => id = Some(v.trim().to_owned()),
                "aws_secret_access_key" => secret = Some(v.trim().to_owned()),
                "aws_session_token" => token = Some(v.trim().to_owned()),
                _ => {}
            }
        }
    }
    match (id, secret) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(sigv4::Credentials {
            access_key_id,
            secret_access_key,
            session_token: token,
        }),
        _ => bail!(
            "profile [{profile}] in {} has no access key",
            path.display()
        ),
    }
}

struct Target {
    endpoint: http::Uri,
    host: String,
    creds: sigv4::Credentials,
    region: String,
}

impl Target {
    /// A signed request of `shape`.
    fn request(&self, shape: &RequestShape) -> anyhow::Result<http::Request<Full<Bytes>>> {
        let mut builder = http::Request::builder()
            .method("POST")
            .uri(self.endpoint.clone())
            .header("host", &self.host)
            .header("content-type", shape.content_type);
        if let Some(t) = shape.target {
            builder = builder.header("x-amz-target", t);
        }
        let (mut parts, ()) = builder.body(())?.into_parts();
        let params = sigv4::SigningParams {
            credentials: &self.creds,
            region: &self.region,
            service: shape.service,
            now: time::OffsetDateTime::now_utc(),
            mode: sigv4::UriMode::Normalize,
        };
        sigv4::sign_request(&mut parts, &sigv4::sha256_hex(&shape.body), &params)
            .map_err(|e| anyhow::anyhow!("signing: {e}"))?;
        Ok(http::Request::from_parts(
            parts,
            Full::new(shape.body.clone()),
        ))
    }
}

/// Sends one request and returns the body of a successful answer.
async fn call<C>(
    client: &Client<C, Full<Bytes>>,
    target: &Target,
    shape: &RequestShape,
) -> anyhow::Result<Bytes>
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
{
    let resp = client
        .request(target.request(shape)?)
        .await
        .context("the endpoint did not answer")?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        bail!(
            "the endpoint answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(body)
}

/// Prepares what the workload needs (a key, a ciphertext) and returns the request every worker repeats.
async fn prepare<C>(
    client: &Client<C, Full<Bytes>>,
    target: &Target,
    workload: Workload,
) -> anyhow::Result<RequestShape>
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
{
    let json = |b: &Bytes| -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(b).context("the endpoint's answer is not JSON")
    };
    Ok(match workload {
        Workload::StsGetCallerIdentity => RequestShape {
            service: "sts",
            target: None,
            content_type: "application/x-www-form-urlencoded; charset=utf-8",
            body: Bytes::from_static(b"Action=GetCallerIdentity&Version=2011-06-15"),
        },
        Workload::KmsGenerateDataKey | Workload::KmsDecrypt => {
            let created = call(
                client,
                target,
                &RequestShape::kms(
                    "TrentService.CreateKey",
                    serde_json::json!({"Description": "coffer bench"}),
                ),
            )
            .await?;
            let key_id = json(&created)?["KeyMetadata"]["KeyId"]
                .as_str()
                .context("CreateKey returned no KeyId")?
                .to_owned();
            let context = serde_json::json!({"purpose": "bench"});
            let gdk = RequestShape::kms(
                "TrentService.GenerateDataKey",
                serde_json::json!({"KeyId": key_id, "KeySpec": "AES_256", "EncryptionContext": context}),
            );
            if workload == Workload::KmsGenerateDataKey {
                gdk
            } else {
                let generated = json(&call(client, target, &gdk).await?)?;
                let blob = generated["CiphertextBlob"]
                    .as_str()
                    .context("GenerateDataKey returned no blob")?;
                RequestShape::kms(
                    "TrentService.Decrypt",
                    serde_json::json!({"CiphertextBlob": blob, "EncryptionContext": context}),
                )
            }
        }
    })
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let creds = read_credentials(&args.credentials, &args.profile)?;
    let endpoint: http::Uri = args.endpoint.parse().context("--endpoint is not a URL")?;
    let host = endpoint
        .authority()
        .map(|a| a.to_string())
        .context("--endpoint needs a host")?;
    let target = Arc::new(Target {
        endpoint,
        host,
        creds,
        region: args.region.clone(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(drive(
        target,
        args.workload,
        args.concurrency.max(1),
        args.seconds,
    ))?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "{:?}: {} requests in {:.2}s with {} in flight: {:.0} req/s, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms, {} errors",
            args.workload,
            report.requests,
            report.seconds,
            args.concurrency,
            report.requests_per_second,
            report.p50_ms,
            report.p99_ms,
            report.max_ms,
            report.errors
        );
    }
    Ok(if report.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

#[derive(Debug, serde::Serialize)]
struct Report {
    requests: u64,
    errors: u64,
    seconds: f64,
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    first_error: Option<String>,
}

async fn drive(
    target: Arc<Target>,
    workload: Workload,
    concurrency: usize,
    seconds: f64,
) -> anyhow::Result<Report> {
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(concurrency)
        .build(connector);
    // Set up, and fail fast with a clear message if the endpoint is down or rejects the credentials.
    let shape = Arc::new(prepare(&client, &target, workload).await?);
    call(&client, &target, &shape).await?;

    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (client, target, measuring, stop) = (
            client.clone(),
            target.clone(),
            measuring.clone(),
            stop.clone(),
        );
        let shape = shape.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<u32> = Vec::with_capacity(1 << 16);
            let mut errors = 0u64;
            let mut first_error = None;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let outcome = match target.request(&shape) {
                    Ok(req) => match client.request(req).await {
                        Ok(resp) => {
                            let ok = resp.status().is_success();
                            let status = resp.status();
                            match resp.into_body().collect().await {
                                Ok(_) if ok => Ok(()),
                                Ok(b) => Err(format!(
                                    "{status}: {}",
                                    String::from_utf8_lossy(&b.to_bytes())
                                )),
                                Err(e) => Err(e.to_string()),
                            }
                        }
                        Err(e) => Err(e.to_string()),
                    },
                    Err(e) => Err(e.to_string()),
                };
                if measuring.load(Ordering::Relaxed) {
                    match outcome {
                        Ok(()) => latencies
                            .push(started.elapsed().as_micros().min(u32::MAX as u128) as u32),
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert(e);
                        }
                    }
                }
            }
            (latencies, errors, first_error)
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);

    let mut all = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for t in tasks {
        let (l, e, f) = t.await?;
        all.extend(l);
        errors += e;
        if first_error.is_none() {
            first_error = f;
        }
    }
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        let i = ((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1;
        f64::from(all[i]) / 1000.0
    };
    Ok(Report {
        requests: all.len() as u64,
        errors,
        seconds: elapsed,
        requests_per_second: all.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: all.last().map(|v| f64::from(*v) / 1000.0).unwrap_or(0.0),
        first_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_profiles() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c");
        std::fs::write(
            &p,
            "# x\n[default]\naws_access_key_id = AKIAAAAAAAAAAAAAAAAA\naws_secret_access_key = s3cr3t/+\n[other]\naws_access_key_id = B\n",
        )
        .unwrap();
        let c = read_credentials(&p, "default").unwrap();
        assert_eq!(c.access_key_id, "AKIAAAAAAAAAAAAAAAAA");
        assert_eq!(c.secret_access_key, "s3cr3t/+");
        assert!(read_credentials(&p, "other").is_err());
        assert!(read_credentials(&p, "missing").is_err());
    }
}
