//! S3 workloads (REST, path-style addressing): PUT and GET of objects of one size.
//!
//! Object bodies are signed as `UNSIGNED-PAYLOAD`, as the AWS SDKs sign them over TLS (the aws CLI hashes the
//! payload on plain HTTP). The payload is then not hashed by the client or checked by the server, so a 256 MiB
//! PUT measures moving and storing bytes, not two SHA-256 passes; every server accepts it on plain HTTP. The
//! body is generated once and every request sends a clone of the same `Bytes`.

use std::sync::Arc;

use anyhow::{bail, Context};
use bytes::Bytes;

use super::{send, BenchArgs, BenchClient, RequestPath, RequestShape, Target, Workload};

const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// The default number of object names: 1 GiB worth, at most 1,048,576 (PUT) or 1,024 (GET, written first).
fn default_keys(workload: Workload, object_size: u64) -> u64 {
    let cap = if workload == Workload::S3Get {
        1 << 10
    } else {
        1 << 20
    };
    ((1u64 << 30) / object_size.max(1)).clamp(1, cap)
}

/// `len` bytes of incompressible filler (xorshift), so no layer can shortcut zeros.
fn filler(len: u64) -> Bytes {
    let len = usize::try_from(len).expect("the object size fits in memory");
    let mut out = Vec::with_capacity(len + 8);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

/// The PutBucketEncryption document for default encryption `sse` (`aws:kms` or `AES256`).
fn encryption_xml(sse: &str, kms_key_id: Option<&str>, bucket_key: bool) -> String {
    let key = kms_key_id
        .map(|k| format!("<KMSMasterKeyID>{k}</KMSMasterKeyID>"))
        .unwrap_or_default();
    format!(
        "<ServerSideEncryptionConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Rule>\
         <ApplyServerSideEncryptionByDefault><SSEAlgorithm>{sse}</SSEAlgorithm>{key}\
         </ApplyServerSideEncryptionByDefault><BucketKeyEnabled>{bucket_key}</BucketKeyEnabled></Rule>\
         </ServerSideEncryptionConfiguration>"
    )
}

/// A bucket-level request with a (small, hashed) body.
fn bucket_request(method: http::Method, path: String, body: Bytes) -> RequestShape {
    RequestShape {
        service: "s3",
        method,
        path: RequestPath::Fixed(path),
        headers: Vec::new(),
        payload_hash: sigv4::sha256_hex(&body),
        body,
        expect_len: None,
    }
}

/// PUTs of `body` under `prefix` followed by the ticket's key number.
fn put_objects(prefix: String, count: u64, body: Bytes) -> RequestShape {
    RequestShape {
        service: "s3",
        method: http::Method::PUT,
        path: RequestPath::Spread { prefix, count },
        headers: vec![(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/octet-stream"),
        )],
        body,
        payload_hash: UNSIGNED_PAYLOAD.to_owned(),
        expect_len: None,
    }
}

/// GETs of what `put` wrote, each answer checked to be `len` bytes long.
fn get_objects(put: RequestShape, len: u64) -> RequestShape {
    RequestShape {
        method: http::Method::GET,
        headers: Vec::new(),
        body: Bytes::new(),
        payload_hash: sigv4::sha256_hex(b""),
        expect_len: Some(len),
        ..put
    }
}

/// Creates the bucket unless it exists.
async fn ensure_bucket(client: &BenchClient, target: &Target, bucket: &str) -> anyhow::Result<()> {
    let path = format!("/{bucket}");
    let head = bucket_request(http::Method::HEAD, path.clone(), Bytes::new());
    let (status, _) = send(client, target, &head, 0).await?;
    if status.is_success() {
        return Ok(());
    }
    let create = bucket_request(http::Method::PUT, path, Bytes::new());
    let (status, body) = send(client, target, &create, 0).await?;
    let text = String::from_utf8_lossy(&body);
    if !status.is_success() && !text.contains("BucketAlreadyOwnedByYou") {
        bail!("CreateBucket {bucket}: the endpoint answered {status}: {text}");
    }
    Ok(())
}

/// Sets the bucket's default encryption from `--sse`, `--kms-key-id` and `--bucket-key`, creating a KMS key
/// (on the same endpoint) for `aws:kms` when none is named.
async fn set_encryption(
    client: &BenchClient,
    target: &Target,
    args: &BenchArgs,
    sse: &str,
) -> anyhow::Result<()> {
    let key = match (&args.kms_key_id, sse) {
        (Some(k), _) => Some(k.clone()),
        (None, "aws:kms") => Some(super::kms::create_key(client, target).await?),
        (None, _) => None,
    };
    let xml = encryption_xml(sse, key.as_deref(), args.bucket_key);
    let put = bucket_request(
        http::Method::PUT,
        format!("/{}?encryption", args.bucket),
        Bytes::from(xml),
    );
    let (status, body) = send(client, target, &put, 0).await?;
    if !status.is_success() {
        bail!(
            "PutBucketEncryption: the endpoint answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(())
}

/// Writes objects 0..count of `put`, `concurrency` at a time.
async fn write_all(
    client: &BenchClient,
    target: &Arc<Target>,
    put: RequestShape,
    concurrency: u64,
) -> anyhow::Result<RequestShape> {
    let RequestPath::Spread { count, .. } = put.path else {
        unreachable!("object PUTs spread over keys")
    };
    let put = Arc::new(put);
    let lanes = concurrency.clamp(1, count);
    let mut set = tokio::task::JoinSet::new();
    for lane in 0..lanes {
        let (client, target, put) = (client.clone(), target.clone(), put.clone());
        set.spawn(async move {
            for ticket in (lane..count).step_by(lanes as usize) {
                let (status, body) = send(&client, &target, &put, ticket).await?;
                if !status.is_success() {
                    bail!(
                        "writing the objects to read: the endpoint answered {status}: {}",
                        String::from_utf8_lossy(&body)
                    );
                }
            }
            Ok(())
        });
    }
    while let Some(done) = set.join_next().await {
        done.context("a writer panicked")??;
    }
    Ok(Arc::into_inner(put).expect("the writers are done"))
}

/// Creates the bucket (and its default encryption), and for GET writes the objects it reads.
pub(super) async fn prepare(
    client: &BenchClient,
    target: &Arc<Target>,
    args: &BenchArgs,
) -> anyhow::Result<RequestShape> {
    ensure_bucket(client, target, &args.bucket).await?;
    if let Some(sse) = &args.sse {
        set_encryption(client, target, args, sse).await?;
    }
    let count = args
        .keys
        .unwrap_or_else(|| default_keys(args.workload, args.object_size))
        .max(1);
    let verb = if args.workload == Workload::S3Get {
        "get"
    } else {
        "put"
    };
    let size = args.object_size;
    let put = put_objects(
        format!("/{}/{verb}-{size}-", args.bucket),
        count,
        filler(size),
    );
    if args.workload == Workload::S3Put {
        return Ok(put);
    }
    let put = write_all(client, target, put, args.concurrency as u64).await?;
    Ok(get_objects(put, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_key_counts_bound_disk_and_set_up_time() {
        assert_eq!(default_keys(Workload::S3Put, 4096), 262_144);
        assert_eq!(default_keys(Workload::S3Get, 4096), 1024);
        assert_eq!(default_keys(Workload::S3Put, 256 << 20), 4);
        assert_eq!(default_keys(Workload::S3Get, 256 << 20), 4);
        assert_eq!(default_keys(Workload::S3Put, 4 << 30), 1);
        assert_eq!(default_keys(Workload::S3Put, 0), 1 << 20);
    }

    #[test]
    fn filler_is_sized_and_not_uniform() {
        let b = filler(4099);
        assert_eq!(b.len(), 4099);
        assert!(b.iter().any(|&x| x != b[0]));
        assert_eq!(filler(0).len(), 0);
        assert_eq!(filler(64), filler(64), "the same every run");
    }

    #[test]
    fn encryption_documents() {
        let x = encryption_xml("aws:kms", Some("k-1"), true);
        assert!(
            x.contains("<SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>k-1</KMSMasterKeyID>")
        );
        assert!(x.contains("<BucketKeyEnabled>true</BucketKeyEnabled>"));
        let x = encryption_xml("AES256", None, false);
        assert!(!x.contains("KMSMasterKeyID"));
        assert!(x.contains("<BucketKeyEnabled>false</BucketKeyEnabled>"));
    }

    #[test]
    fn object_requests_are_signed_without_hashing_the_body() {
        let creds = sigv4::Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "secret".into(),
            session_token: None,
        };
        let target = Target::new("http://127.0.0.1:9000", Some(creds), "us-east-1").unwrap();
        let put = put_objects("/b/put-5-".into(), 10, filler(5));
        let req = target.request(&put, 13).unwrap();
        assert_eq!(req.method(), http::Method::PUT);
        assert_eq!(req.uri().path(), "/b/put-5-00000003");
        assert_eq!(req.headers()["x-amz-content-sha256"], UNSIGNED_PAYLOAD);
        assert!(req.headers()["authorization"]
            .to_str()
            .unwrap()
            .contains("/us-east-1/s3/aws4_request"));

        let get = get_objects(put, 5);
        let req = target.request(&get, 13).unwrap();
        assert_eq!(req.method(), http::Method::GET);
        assert_eq!(req.uri().path(), "/b/put-5-00000003");
        assert_eq!(get.expect_len, Some(5));
        assert_eq!(
            req.headers()["x-amz-content-sha256"],
            sigv4::sha256_hex(b"")
        );
    }
}
