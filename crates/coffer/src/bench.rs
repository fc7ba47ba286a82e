//! `coffer bench`: a load generator for any AWS-compatible endpoint, and for plain HTTP servers (an edge, a
//! CDN). By default it is closed-loop: N workers each keep one request in flight over kept-alive connections,
//! signing every request with SigV4 like an SDK would. With `--rate` it is open-loop instead (`open_loop`):
//! requests leave on a fixed schedule whatever the server does, and latency counts from the scheduled time.
//! Either way it reports throughput and latency percentiles. The same command runs against coffer and against
//! a peer (e.g. `moto_server`, `s3s-fs`, nginx) so they are compared under one client.
//!
//! The workloads of each protocol family live in a submodule: `sts` (Query), `kms` (JSON 1.1), `s3` (REST),
//! `web` (unsigned GETs of any URL).

mod kms;
mod open_loop;
mod s3;
mod sts;
mod web;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// `s3:PutObject` of `--object-size` bytes, spread over `--keys` object names (path-style).
    S3Put,
    /// `s3:GetObject` of a set of `--keys` objects of `--object-size` bytes the tool writes first.
    S3Get,
    /// An unsigned `GET` of `--url` with the `--header`s (e.g. a distribution's object through an edge); any
    /// 2xx answer counts, and MB/s is the body bytes received.
    HttpGet,
}

impl Workload {
    fn is_s3(self) -> bool {
        matches!(self, Workload::S3Put | Workload::S3Get)
    }
}

/// The path of a request: one fixed path, or one of `count` object keys chosen by the request's ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RequestPath {
    Fixed(String),
    Spread { prefix: String, count: u64 },
}

impl RequestPath {
    fn for_ticket(&self, ticket: u64) -> String {
        match self {
            RequestPath::Fixed(p) => p.clone(),
            RequestPath::Spread { prefix, count } => {
                format!("{prefix}{:08}", ticket % (*count).max(1))
            }
        }
    }
}

/// One request of a workload, repeated by every worker: the signing name, method, path, headers, body, the
/// payload hash it is signed with (`UNSIGNED-PAYLOAD` or the body's SHA-256, computed once; unused when the
/// target has no credentials) and the body length a successful answer must have.
struct RequestShape {
    service: &'static str,
    method: http::Method,
    path: RequestPath,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
    body: Bytes,
    payload_hash: String,
    expect_len: Option<u64>,
}

impl RequestShape {
    /// A POST to `/` with a signed body, as the Query and JSON protocols send.
    fn post(
        service: &'static str,
        headers: Vec<(http::HeaderName, http::HeaderValue)>,
        body: Bytes,
    ) -> Self {
        Self {
            service,
            method: http::Method::POST,
            path: RequestPath::Fixed("/".to_owned()),
            headers,
            payload_hash: sigv4::sha256_hex(&body),
            body,
            expect_len: None,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// What each request does.
    #[arg(value_enum)]
    workload: Workload,
    /// The endpoint URL, e.g. http://127.0.0.1:9000 (all workloads but http-get).
    #[arg(long, required_unless_present = "url", conflicts_with = "url")]
    endpoint: Option<String>,
    /// A shared-credentials file (e.g. <data-dir>/root-credentials).
    #[arg(long, required_unless_present = "url", conflicts_with = "url")]
    credentials: Option<PathBuf>,
    /// http-get: the URL to GET (plain HTTP), e.g. http://127.0.0.1:8080/index.html.
    #[arg(long, required_if_eq("workload", "http-get"))]
    url: Option<String>,
    /// http-get: an extra request header, `Name: value` (repeatable); `Host: …` replaces the URL's authority.
    #[arg(long = "header", value_name = "NAME: VALUE", requires = "url")]
    headers: Vec<String>,
    /// The profile to read from the credentials file.
    #[arg(long, default_value = "default")]
    profile: String,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Requests kept in flight at once (with --rate: at most, and the number of connections).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// How long to run, in seconds (after a one-second warm-up).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Send exactly this many requests, all measured (no warm-up, no probe), instead of running for --seconds.
    #[arg(long)]
    requests: Option<u64>,
    /// Open loop: send this many requests per second on a fixed schedule, whatever the answers' pace, and
    /// measure each latency from its scheduled send time (so a stall counts against every request it delays).
    #[arg(long, value_parser = positive_rate)]
    rate: Option<f64>,
    /// S3: the object size in bytes (e.g. 4096, 268435456).
    #[arg(long, default_value_t = 4096)]
    object_size: u64,
    /// S3: the bucket, created if absent.
    #[arg(long, default_value = "coffer-bench")]
    bucket: String,
    /// S3: how many object names PUTs spread over, or how many objects GETs read
    /// [default: 1 GiB worth, at most 1,048,576 for PUT and 1,024 for GET].
    #[arg(long)]
    keys: Option<u64>,
    /// S3: set the bucket's default encryption (PutBucketEncryption) before the run.
    #[arg(long, value_parser = ["aws:kms", "AES256"])]
    sse: Option<String>,
    /// S3 with --sse aws:kms: the KMS key [default: one the tool creates].
    #[arg(long, requires = "sse")]
    kms_key_id: Option<String>,
    /// S3 with --sse aws:kms: enable S3 Bucket Keys in the default encryption.
    #[arg(long, requires = "sse")]
    bucket_key: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn positive_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "{s:?} is not a positive number of requests per second"
        )),
    }
}

impl BenchArgs {
    /// What clap cannot say: `--url` and `--header` belong to http-get only (clap lets `--endpoint`, which
    /// conflicts with `--url`, excuse the `--url` that `--header` requires).
    fn check(&self) -> anyhow::Result<()> {
        let web_args = self.url.is_some() || !self.headers.is_empty();
        if web_args && self.workload != Workload::HttpGet {
            bail!("--url and --header are for the http-get workload; the others take --endpoint");
        }
        Ok(())
    }
}

/// Reads one profile's keys from a shared-credentials file.
pub(crate) fn read_credentials(
    path: &std::path::Path,
    profile: &str,
) -> anyhow::Result<sigv4::Credentials> {
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
    /// `scheme://authority`, without a trailing slash.
    base: String,
    /// The `Host` header: the authority, unless a workload names another.
    host: String,
    /// Requests are signed with these; without them (http-get) they go unsigned.
    creds: Option<sigv4::Credentials>,
    region: String,
}

impl Target {
    fn new(
        endpoint: &str,
        creds: Option<sigv4::Credentials>,
        region: &str,
    ) -> anyhow::Result<Self> {
        let uri: http::Uri = endpoint.parse().context("not a URL")?;
        let host = uri
            .authority()
            .map(|a| a.to_string())
            .context("the URL needs a host")?;
        let scheme = uri.scheme_str().unwrap_or("http");
        Ok(Self {
            base: format!("{scheme}://{host}"),
            host,
            creds,
            region: region.to_owned(),
        })
    }

    /// The signed request number `ticket` of `shape`. The body is a clone of the shape's `Bytes`: no copy.
    fn request(
        &self,
        shape: &RequestShape,
        ticket: u64,
    ) -> anyhow::Result<http::Request<Full<Bytes>>> {
        let mut builder = http::Request::builder()
            .method(shape.method.clone())
            .uri(format!("{}{}", self.base, shape.path.for_ticket(ticket)))
            .header("host", &self.host);
        for (name, value) in &shape.headers {
            builder = builder.header(name, value);
        }
        let (mut parts, ()) = builder.body(())?.into_parts();
        let Some(credentials) = &self.creds else {
            return Ok(http::Request::from_parts(
                parts,
                Full::new(shape.body.clone()),
            ));
        };
        let params = sigv4::SigningParams {
            credentials,
            region: &self.region,
            service: shape.service,
            now: time::OffsetDateTime::now_utc(),
            mode: if shape.service == "s3" {
                sigv4::UriMode::S3
            } else {
                sigv4::UriMode::Normalize
            },
        };
        sigv4::sign_request(&mut parts, &shape.payload_hash, &params)
            .map_err(|e| anyhow::anyhow!("signing: {e}"))?;
        Ok(http::Request::from_parts(
            parts,
            Full::new(shape.body.clone()),
        ))
    }
}

type BenchClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// Sends request `ticket` of `shape` and returns the status and the whole body (for set-up calls).
async fn send(
    client: &BenchClient,
    target: &Target,
    shape: &RequestShape,
    ticket: u64,
) -> anyhow::Result<(http::StatusCode, Bytes)> {
    let resp = client
        .request(target.request(shape, ticket)?)
        .await
        .context("the endpoint did not answer")?;
    let status = resp.status();
    Ok((status, resp.into_body().collect().await?.to_bytes()))
}

/// Sends one request and returns the body of a successful answer.
async fn call(
    client: &BenchClient,
    target: &Target,
    shape: &RequestShape,
) -> anyhow::Result<Bytes> {
    let (status, body) = send(client, target, shape, 0).await?;
    if !status.is_success() {
        bail!(
            "the endpoint answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(body)
}

/// One measured request: sent, its answer read to the end without keeping it, its status and length checked.
/// Returns the body's length.
async fn exchange(
    client: &BenchClient,
    target: &Target,
    shape: &RequestShape,
    ticket: u64,
) -> Result<u64, String> {
    let req = target.request(shape, ticket).map_err(|e| e.to_string())?;
    let resp = client.request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let mut body = resp.into_body();
    if !status.is_success() {
        let text = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        return Err(format!("{status}: {}", String::from_utf8_lossy(&text)));
    }
    let mut len = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.map_err(|e| e.to_string())?.into_data() {
            len += data.len() as u64;
        }
    }
    match shape.expect_len {
        Some(want) if want != len => Err(format!("{status}: {len} bytes instead of {want}")),
        _ => Ok(len),
    }
}

/// Prepares what the workload needs (a key, a ciphertext, a bucket and objects) and returns the request every
/// worker repeats.
async fn prepare(
    client: &BenchClient,
    target: &Arc<Target>,
    args: &BenchArgs,
) -> anyhow::Result<RequestShape> {
    match args.workload {
        Workload::StsGetCallerIdentity => Ok(sts::get_caller_identity()),
        Workload::KmsGenerateDataKey | Workload::KmsDecrypt => {
            kms::prepare(client, target, args.workload).await
        }
        Workload::S3Put | Workload::S3Get => s3::prepare(client, target, args).await,
        Workload::HttpGet => web::get(args),
    }
}

/// Where the requests go: the `--url` (unsigned) for http-get, else the `--endpoint` with the credentials.
fn target(args: &BenchArgs) -> anyhow::Result<Target> {
    if let Some(url) = &args.url {
        return web::target(url, &args.headers, &args.region);
    }
    let (Some(endpoint), Some(credentials)) = (&args.endpoint, &args.credentials) else {
        bail!("--endpoint and --credentials are required");
    };
    let creds = read_credentials(credentials, &args.profile)?;
    Target::new(endpoint, Some(creds), &args.region).context("--endpoint")
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    args.check()?;
    let target = Arc::new(target(&args)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(drive(target, &args))?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let size = match report.mb_per_second {
            Some(mbs) if args.workload.is_s3() => {
                format!(" of {} bytes, {mbs:.1} MB/s,", args.object_size)
            }
            Some(mbs) => format!(", {mbs:.1} MB/s,"),
            None => String::new(),
        };
        let load = match args.rate {
            Some(rate) => format!(
                "scheduled at {rate:.0} req/s over at most {} connections",
                args.concurrency
            ),
            None => format!("with {} in flight", args.concurrency),
        };
        println!(
            "{:?}: {} requests{size} in {:.2}s {load}: {:.0} req/s, p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms, {} errors",
            args.workload,
            report.requests,
            report.seconds,
            report.requests_per_second,
            report.p50_ms,
            report.p90_ms,
            report.p99_ms,
            report.p999_ms,
            report.max_ms,
            report.errors
        );
        if let Some(d) = report.p99_send_delay_ms {
            println!(
                "p99 send delay (pacing, waiting for a connection; counted in latency): {d:.3} ms"
            );
        }
        if let Some(e) = &report.first_error {
            println!("first error: {e}");
        }
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
    /// Measured requests answered per second (with --rate: achieved, against `rate` scheduled).
    requests_per_second: f64,
    /// With --rate: the scheduled requests per second.
    rate: Option<f64>,
    /// Object bytes moved per second, in 10^6 bytes (S3 workloads; body bytes received for http-get).
    mb_per_second: Option<f64>,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    max_ms: f64,
    /// With --rate: how late the 99th-percentile request left its schedule (the pacer's lag, and waiting for a
    /// free connection). Latency counts this wait; when it is most of p99, the client or the connection count
    /// limits the run, not the server's answers.
    p99_send_delay_ms: Option<f64>,
    first_error: Option<String>,
}

impl Report {
    fn new(mut tally: Tally, elapsed: Duration, args: &BenchArgs) -> Self {
        let seconds = elapsed.as_secs_f64();
        tally.latencies.sort_unstable();
        tally.send_delays.sort_unstable();
        let all = &tally.latencies;
        let requests_per_second = all.len() as f64 / seconds;
        let mb_per_second = match args.workload {
            w if w.is_s3() => Some(requests_per_second * args.object_size as f64 / 1e6),
            Workload::HttpGet => Some(tally.bytes as f64 / seconds / 1e6),
            _ => None,
        };
        Report {
            requests: all.len() as u64,
            errors: tally.errors,
            seconds,
            requests_per_second,
            rate: args.rate,
            mb_per_second,
            p50_ms: percentile(all, 0.50),
            p90_ms: percentile(all, 0.90),
            p99_ms: percentile(all, 0.99),
            p999_ms: percentile(all, 0.999),
            max_ms: all.last().map(|v| f64::from(*v) / 1000.0).unwrap_or(0.0),
            p99_send_delay_ms: args.rate.map(|_| percentile(&tally.send_delays, 0.99)),
            first_error: tally.first_error,
        }
    }
}

/// The outcomes of measured requests: latencies of the successful ones in microseconds, their body bytes,
/// and the failures; in an open loop also how late each request left its schedule, in microseconds.
#[derive(Debug, Default)]
struct Tally {
    latencies: Vec<u32>,
    send_delays: Vec<u32>,
    bytes: u64,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn record(&mut self, latency: Duration, outcome: Result<u64, String>) {
        match outcome {
            Ok(len) => {
                self.latencies.push(micros(latency));
                self.bytes += len;
            }
            Err(e) => {
                self.errors += 1;
                self.first_error.get_or_insert(e);
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.send_delays.extend(other.send_delays);
        self.bytes += other.bytes;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// A duration in whole microseconds, saturated to fit a `u32` (71 minutes).
fn micros(d: Duration) -> u32 {
    d.as_micros().min(u128::from(u32::MAX)) as u32
}

/// The `p` quantile (0..=1) of sorted latencies in microseconds, in milliseconds (nearest rank).
fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    f64::from(sorted[i]) / 1000.0
}

async fn drive(target: Arc<Target>, args: &BenchArgs) -> anyhow::Result<Report> {
    let concurrency = args.concurrency.max(1);
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_nodelay(true);
    let client: BenchClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(concurrency)
        .build(connector);
    // Set up, and fail fast with a clear message if the endpoint is down or rejects the credentials.
    let shape = Arc::new(prepare(&client, &target, args).await?);
    if args.requests.is_none() {
        exchange(&client, &target, &shape, 0)
            .await
            .map_err(|e| anyhow::anyhow!("the endpoint answered {e}"))?;
    }
    let (tally, elapsed) = match args.rate {
        Some(rate) => {
            let schedule = open_loop::Schedule::new(rate, args.seconds, args.requests);
            open_loop::drive(client, target, shape, schedule, concurrency).await?
        }
        None => {
            closed_loop(
                client,
                target,
                shape,
                args.seconds,
                args.requests,
                concurrency,
            )
            .await?
        }
    };
    Ok(Report::new(tally, elapsed, args))
}

/// `concurrency` workers each send their next request as soon as the last one is answered, for one unmeasured
/// second and then `seconds`, or for exactly `limit` requests, all measured. Returns the measured outcomes and
/// the time they took.
async fn closed_loop(
    client: BenchClient,
    target: Arc<Target>,
    shape: Arc<RequestShape>,
    seconds: f64,
    limit: Option<u64>,
    concurrency: usize,
) -> anyhow::Result<(Tally, Duration)> {
    // In a timed run, workers start unmeasured (warm-up) and stop when told; with --requests, every request
    // is measured and workers stop when the tickets run out.
    let measuring = Arc::new(AtomicBool::new(limit.is_some()));
    let stop = Arc::new(AtomicBool::new(false));
    let tickets = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(concurrency);
    let started = Instant::now();
    for _ in 0..concurrency {
        let (client, target, shape) = (client.clone(), target.clone(), shape.clone());
        let (measuring, stop, tickets) = (measuring.clone(), stop.clone(), tickets.clone());
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally {
                latencies: Vec::with_capacity(1 << 12),
                ..Tally::default()
            };
            while !stop.load(Ordering::Relaxed) {
                let ticket = tickets.fetch_add(1, Ordering::Relaxed);
                if limit.is_some_and(|n| ticket >= n) {
                    break;
                }
                let began = Instant::now();
                let outcome = exchange(&client, &target, &shape, ticket).await;
                if measuring.load(Ordering::Relaxed) {
                    tally.record(began.elapsed(), outcome);
                }
            }
            tally
        }));
    }
    let timed = if limit.is_none() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        measuring.store(true, Ordering::Relaxed);
        let measured_from = Instant::now();
        tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
        measuring.store(false, Ordering::Relaxed);
        stop.store(true, Ordering::Relaxed);
        Some(measured_from.elapsed())
    } else {
        None
    };

    let mut all = Tally::default();
    for t in tasks {
        all.merge(t.await?);
    }
    Ok((all, timed.unwrap_or_else(|| started.elapsed())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: BenchArgs,
    }

    pub(super) fn parse(extra: &[&str]) -> Result<BenchArgs, clap::Error> {
        let mut argv = vec![
            "bench",
            "--endpoint",
            "http://127.0.0.1:9000",
            "--credentials",
            "c",
        ];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).map(|c| c.args)
    }

    /// Parses a command line without `--endpoint` and `--credentials`.
    pub(super) fn parse_url(extra: &[&str]) -> Result<BenchArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("bench").chain(extra.iter().copied())).map(|c| c.args)
    }

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

    #[test]
    fn parses_workloads_and_s3_options() {
        let a = parse(&["kms-decrypt"]).unwrap();
        assert_eq!(a.workload, Workload::KmsDecrypt);
        assert_eq!((a.concurrency, a.seconds, a.requests), (64, 10.0, None));

        let a = parse(&[
            "s3-put",
            "--object-size",
            "268435456",
            "--bucket",
            "b1",
            "--sse",
            "aws:kms",
            "--bucket-key",
            "--requests",
            "10000",
            "--keys",
            "7",
        ])
        .unwrap();
        assert_eq!(a.workload, Workload::S3Put);
        assert_eq!(a.object_size, 268_435_456);
        assert_eq!(a.bucket, "b1");
        assert_eq!(a.sse.as_deref(), Some("aws:kms"));
        assert!(a.bucket_key);
        assert_eq!((a.requests, a.keys), (Some(10_000), Some(7)));

        let a = parse(&["s3-get"]).unwrap();
        assert_eq!(
            (a.workload, a.object_size, a.sse, a.bucket_key),
            (Workload::S3Get, 4096, None, false)
        );

        assert!(parse(&["s3-put", "--bucket-key"]).is_err(), "needs --sse");
        assert!(
            parse(&["s3-put", "--kms-key-id", "k"]).is_err(),
            "needs --sse"
        );
        assert!(parse(&["s3-put", "--sse", "aws:kms:dsse"]).is_err());
        assert!(parse(&["s3-put", "--object-size", "4k"]).is_err());
        assert!(parse(&["s3-delete"]).is_err());
    }

    #[test]
    fn parses_http_get_and_rates() {
        let a = parse_url(&[
            "http-get",
            "--url",
            "http://127.0.0.1:8080/o",
            "--header",
            "Host: d.cloudfront.localhost",
            "--rate",
            "20000",
        ])
        .unwrap();
        assert_eq!(a.workload, Workload::HttpGet);
        assert_eq!(a.url.as_deref(), Some("http://127.0.0.1:8080/o"));
        assert_eq!(a.headers, ["Host: d.cloudfront.localhost"]);
        assert_eq!(
            (a.rate, &a.endpoint, &a.credentials),
            (Some(20_000.0), &None, &None)
        );
        a.check().unwrap();

        assert_eq!(
            parse(&["kms-decrypt", "--rate", "0.5"]).unwrap().rate,
            Some(0.5)
        );
        for bad in ["0", "-1", "inf", "NaN", "fast"] {
            assert!(parse(&["kms-decrypt", "--rate", bad]).is_err(), "{bad}");
        }
        assert!(parse_url(&["http-get"]).is_err(), "needs --url");
        assert!(parse_url(&["s3-get"]).is_err(), "needs --endpoint");
        assert!(
            parse(&["http-get", "--url", "http://x/"]).is_err(),
            "no --endpoint with --url"
        );
        assert!(
            parse_url(&["http-get", "--header", "A: b"]).is_err(),
            "needs --url"
        );
        let a = parse(&["s3-get", "--header", "A: b"]).unwrap();
        assert!(a.check().is_err(), "--header is for http-get only");
        let a = parse_url(&["s3-get", "--url", "http://x/"]).unwrap();
        assert!(a.check().is_err(), "--url is for http-get only");
    }

    #[test]
    fn reports_sum_tallies() {
        let mut a = Tally::default();
        a.record(Duration::from_micros(1500), Ok(1024));
        a.record(Duration::from_secs(1), Err("503: slow down".into()));
        let mut b = Tally::default();
        b.record(Duration::from_micros(500), Ok(1024));
        b.record(Duration::from_micros(10), Err("later".into()));
        a.merge(b);
        let args = parse_url(&["http-get", "--url", "http://x/", "--rate", "4"]).unwrap();
        let r = Report::new(a, Duration::from_secs(2), &args);
        assert_eq!((r.requests, r.errors), (2, 2));
        assert_eq!(r.first_error.as_deref(), Some("503: slow down"));
        assert_eq!((r.requests_per_second, r.rate), (1.0, Some(4.0)));
        assert_eq!(r.mb_per_second, Some(2048.0 / 2.0 / 1e6));
        assert_eq!((r.p50_ms, r.p99_ms, r.max_ms), (0.5, 1.5, 1.5));
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        assert_eq!(percentile(&[], 0.5), 0.0);
        let v: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile(&v, 0.50), 50.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&v, 1.0), 100.0);
        assert_eq!(percentile(&[7000], 0.99), 7.0);
    }

    #[test]
    fn paths_spread_over_keys() {
        let p = RequestPath::Spread {
            prefix: "/b/k-".into(),
            count: 3,
        };
        assert_eq!(p.for_ticket(0), "/b/k-00000000");
        assert_eq!(p.for_ticket(4), "/b/k-00000001");
        assert_eq!(RequestPath::Fixed("/".into()).for_ticket(9), "/");
    }

    #[test]
    fn targets_keep_scheme_and_authority_only() {
        let creds = sigv4::Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "secret".into(),
            session_token: None,
        };
        let t = Target::new("http://127.0.0.1:9000/", Some(creds), "us-east-1").unwrap();
        assert_eq!(
            (t.base.as_str(), t.host.as_str()),
            ("http://127.0.0.1:9000", "127.0.0.1:9000")
        );
        let shape = sts::get_caller_identity();
        let req = t.request(&shape, 0).unwrap();
        assert_eq!(req.uri().to_string(), "http://127.0.0.1:9000/");
        assert!(req.headers()["authorization"]
            .to_str()
            .unwrap()
            .contains("/us-east-1/sts/aws4_request"));
        assert!(
            !req.headers().contains_key("x-amz-content-sha256"),
            "only S3 sends it"
        );
    }
}
