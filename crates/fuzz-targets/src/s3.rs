//! The whole S3 front end as one target: the fuzzer's bytes become a request (anonymous, SigV4-signed with a
//! real key, presigned-shaped, or signed with an aws-chunked body whose chunks are signed too) that goes through
//! the real dispatcher — router, authentication, s3s's parsing and aws-chunked decoding, the access check, XML
//! bodies, the handlers — against an in-memory store holding a bucket and an object. Any response is a pass;
//! a panic, a hang or an answer without an S3 error document for a 4xx/5xx is a failure.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use time::OffsetDateTime;

struct Env {
    runtime: tokio::runtime::Runtime,
    dispatcher: Arc<api::Dispatcher>,
    root: sigv4::Credentials,
    _dir: tempfile::TempDir,
}

const HOST: &str = "127.0.0.1:9000";

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (dispatcher, root) = runtime.block_on(async {
            let store = meta::Store::new(meta::MemoryBackend::new()).expect("a store");
            let iam = iam::Iam::new(store.clone(), Arc::new(crypto::RootKey::generate()));
            let (_account, akid, secret) =
                iam.create_account("fuzz", None).await.expect("an account");
            let signer = audit::DigestSigner::load_or_create(&dir.path().join("digest.der"))
                .expect("a digest key");
            let config = audit::AuditConfig {
                sync: audit::SyncMode::Interval(std::time::Duration::from_secs(3600)),
                ..audit::AuditConfig::default()
            };
            let audit = Arc::new(
                audit::AuditLog::open(&dir.path().join("audit"), config, signer).expect("a trail"),
            );
            let mut dispatcher = api::Dispatcher::new(
                iam.clone(),
                audit,
                "us-east-1",
                Arc::new(api::Metrics::new()),
            );
            let objects = objects::Objects::new(
                store.clone(),
                Arc::new(blob::MemoryBlobStore::new()),
                objects::Config::default(),
            );
            let s3 = s3_api::S3Frontend::new(
                dispatcher.core().clone(),
                objects,
                Arc::new(s3_api::SseS3Only::new()),
                s3_api::S3Options::default(),
            );
            dispatcher.register_raw(Arc::new(s3));
            let root = sigv4::Credentials {
                access_key_id: akid,
                secret_access_key: secret.to_string(),
                session_token: None,
            };
            (Arc::new(dispatcher), root)
        });
        let env = Env {
            runtime,
            dispatcher,
            root,
            _dir: dir,
        };
        // Something to act on: a bucket with an object.
        for (method, path, body) in [
            ("PUT", "/fzb", &b""[..]),
            ("PUT", "/fzb/obj", &b"fuzzed object body"[..]),
        ] {
            let req = http::Request::builder()
                .method(method)
                .uri(format!("http://{HOST}{path}"))
                .header("host", HOST)
                .body(())
                .expect("a request");
            let (parts, ()) = req.into_parts();
            env.send(signed(&env, parts, body, Mode::Signed));
        }
        env
    })
}

#[derive(Clone, Copy)]
enum Mode {
    Anonymous,
    Signed,
    Unsigned,
    Chunked(usize),
}

fn signed(
    env: &Env,
    mut parts: http::request::Parts,
    body: &[u8],
    mode: Mode,
) -> http::Request<Full<Bytes>> {
    let now = OffsetDateTime::now_utc();
    let params = sigv4::SigningParams {
        credentials: &env.root,
        region: "us-east-1",
        service: "s3",
        now,
        mode: sigv4::UriMode::S3,
    };
    let body = match mode {
        Mode::Anonymous => Bytes::copy_from_slice(body),
        Mode::Signed => {
            let _ = sigv4::sign_request(&mut parts, &sigv4::sha256_hex(body), &params);
            Bytes::copy_from_slice(body)
        }
        Mode::Unsigned => {
            parts.headers.insert(
                "x-amz-content-sha256",
                http::HeaderValue::from_static(sigv4::UNSIGNED_PAYLOAD),
            );
            let _ = sigv4::sign_request(&mut parts, sigv4::UNSIGNED_PAYLOAD, &params);
            Bytes::copy_from_slice(body)
        }
        Mode::Chunked(size) => {
            let h = &mut parts.headers;
            h.insert(
                "content-encoding",
                http::HeaderValue::from_static("aws-chunked"),
            );
            h.insert(
                "x-amz-content-sha256",
                http::HeaderValue::from_static(sigv4::STREAMING_PAYLOAD),
            );
            if let Ok(v) = http::HeaderValue::from_str(&body.len().to_string()) {
                h.insert("x-amz-decoded-content-length", v);
            }
            let Ok(seed) = sigv4::sign_request(&mut parts, sigv4::STREAMING_PAYLOAD, &params)
            else {
                return http::Request::from_parts(parts, Full::new(Bytes::copy_from_slice(body)));
            };
            let date = sigv4::format_amz_date(now);
            let key =
                sigv4::signing_key(&env.root.secret_access_key, &date[..8], "us-east-1", "s3");
            let scope = sigv4::credential_scope(&date[..8], "us-east-1", "s3");
            let mut signer = sigv4::ChunkSigner::new(key, &date, &scope, &seed);
            let mut out = Vec::with_capacity(body.len() + 256);
            for chunk in body.chunks(size.max(1)).chain(std::iter::once(&b""[..])) {
                let sig = signer.sign_chunk(chunk);
                out.extend_from_slice(
                    format!("{:x};chunk-signature={sig}\r\n", chunk.len()).as_bytes(),
                );
                out.extend_from_slice(chunk);
                out.extend_from_slice(b"\r\n");
            }
            Bytes::from(out)
        }
    };
    if let Ok(v) = http::HeaderValue::from_str(&body.len().to_string()) {
        parts.headers.insert(http::header::CONTENT_LENGTH, v);
    }
    http::Request::from_parts(parts, Full::new(body))
}

impl Env {
    fn send(&self, req: http::Request<Full<Bytes>>) -> u16 {
        let peer = api::Peer {
            addr: "127.0.0.1:40000".parse().expect("an address"),
            secure: false,
        };
        let dispatcher = self.dispatcher.clone();
        self.runtime.block_on(async move {
            let resp = dispatcher.serve_http(req, peer).await;
            let status = resp.status().as_u16();
            let body = tokio::time::timeout(
                std::time::Duration::from_secs(20),
                resp.into_body().collect(),
            )
            .await
            .expect("a response body never hangs");
            let body = body.map(|c| c.to_bytes()).unwrap_or_default();
            if std::env::var_os("FUZZ_S3_DEBUG").is_some() {
                eprintln!("{status} {}", String::from_utf8_lossy(&body));
            }
            if status >= 400 && !body.is_empty() {
                assert!(
                    body.starts_with(b"<?xml"),
                    "an S3 error is an XML document: {status} {:?}",
                    String::from_utf8_lossy(&body[..body.len().min(200)])
                );
            }
            status
        })
    }
}

/// The target: the first byte chooses how the request is signed, the rest is the request (see
/// [`crate::request_from_bytes`]). Paths name the bucket `fzb` and its object `obj` to reach real resources.
pub fn s3_request(data: &[u8]) {
    let _ = status_of(data);
}

fn status_of(data: &[u8]) -> Option<u16> {
    let (&mode, rest) = data.split_first()?;
    let (mut parts, body) = crate::request_from_bytes(rest)?;
    if body.len() > 1 << 20 {
        return None;
    }
    let env = env();
    let mode = match mode % 4 {
        0 => Mode::Anonymous,
        1 => Mode::Signed,
        2 => Mode::Unsigned,
        _ => Mode::Chunked(usize::from(mode >> 2) * 16 + 1),
    };
    if !parts.headers.contains_key(http::header::HOST) {
        parts
            .headers
            .insert(http::header::HOST, http::HeaderValue::from_static(HOST));
    }
    let req = signed(env, parts, body, mode);
    Some(env.send(req))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_reach_the_handlers_as_their_first_byte_says() {
        let status = |mode: u8, text: &str| status_of(&[&[mode][..], text.as_bytes()].concat());
        assert_eq!(status(1, "GET /fzb/obj HTTP/1.1\n\n"), Some(200));
        assert_eq!(status(2, "GET /fzb/obj HTTP/1.1\n\n"), Some(200));
        assert_eq!(status(0, "GET /fzb/obj HTTP/1.1\n\n"), Some(403));
        assert_eq!(status(3, "PUT /fzb/c HTTP/1.1\n\nchunked body"), Some(200));
        assert_eq!(status(1, "GET /fzb/c HTTP/1.1\n\n"), Some(200));
        assert_eq!(
            status(1, "DELETE /fzb?metadataConfiguration HTTP/1.1\n\n"),
            Some(501)
        );
    }
}
