//! S3 through the real dispatch path: SigV4-signed (and anonymous, and presigned) requests into
//! `api::Dispatcher` with IAM/STS and the S3 front end registered, the object engine on memory storage, and
//! a real audit log. Covers bucket policies with condition keys, Block Public Access, the unsigned-header
//! rule, session tokens, ACLs of BucketOwnerEnforced buckets and the audit events of each call.

use std::sync::Arc;

use api::{Dispatcher, Metrics, Peer};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use s3_api::{S3Frontend, S3Options, SseS3Only};
use sigv4::{Credentials, SigningParams, UriMode};
use time::OffsetDateTime;

struct Env {
    dispatcher: Arc<Dispatcher>,
    audit: Arc<audit::AuditLog>,
    account: String,
    root: Credentials,
    _dir: tempfile::TempDir,
}

struct Resp {
    status: u16,
    headers: http::HeaderMap,
    body: String,
}

impl Resp {
    fn tag(&self, name: &str) -> Option<String> {
        let (open, close) = (format!("<{name}>"), format!("</{name}>"));
        let i = self.body.find(&open)? + open.len();
        let j = self.body[i..].find(&close)? + i;
        Some(self.body[i..j].to_owned())
    }

    #[track_caller]
    fn ok(&self) -> &Self {
        assert!(
            (200..300).contains(&self.status),
            "{} {}",
            self.status,
            self.body
        );
        self
    }

    #[track_caller]
    fn err(&self, status: u16, code: &str) -> &Self {
        assert_eq!(
            (self.status, self.tag("Code").unwrap_or_default().as_str()),
            (status, code),
            "{}",
            self.body
        );
        self
    }
}

fn creds(id: &str, secret: &str, token: Option<&str>) -> Credentials {
    Credentials {
        access_key_id: id.to_owned(),
        secret_access_key: secret.to_owned(),
        session_token: token.map(str::to_owned),
    }
}

const HOST: &str = "127.0.0.1:9000";

impl Env {
    async fn new() -> Env {
        Env::with_options(S3Options::default()).await
    }

    async fn with_options(options: S3Options) -> Env {
        let store = meta::Store::new(meta::MemoryBackend::new()).unwrap();
        let iam = iam::Iam::new(store.clone(), Arc::new(crypto::RootKey::generate()));
        let (account, akid, secret) = iam.create_account("test", None).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let signer = audit::DigestSigner::load_or_create(&dir.path().join("digest.der")).unwrap();
        let audit = Arc::new(
            audit::AuditLog::open(
                &dir.path().join("audit"),
                audit::AuditConfig::default(),
                signer,
            )
            .unwrap(),
        );
        let mut dispatcher = Dispatcher::new(
            iam.clone(),
            audit.clone(),
            "us-east-1",
            Arc::new(Metrics::new()),
        );
        dispatcher.register(Arc::new(iam_api::IamService::new(iam.clone())));
        dispatcher.register(Arc::new(iam_api::StsService::new(iam.clone())));
        let objects = objects::Objects::new(
            store.clone(),
            Arc::new(blob::MemoryBlobStore::new()),
            objects::Config::default(),
        );
        let s3 = S3Frontend::new(
            dispatcher.core().clone(),
            objects,
            Arc::new(SseS3Only::new()),
            options,
        );
        dispatcher.register_raw(Arc::new(s3));
        Env {
            dispatcher: Arc::new(dispatcher),
            audit,
            account: account.id,
            root: creds(&akid, &secret, None),
            _dir: dir,
        }
    }

    async fn send_raw(&self, req: http::Request<Full<Bytes>>) -> Resp {
        let peer = Peer {
            addr: "127.0.0.1:40000".parse().unwrap(),
            secure: false,
        };
        let resp = self.dispatcher.serve_http(req, peer).await;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        Resp {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// A signed request (or anonymous when `c` is `None`).
    async fn s3(
        &self,
        c: Option<&Credentials>,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Resp {
        let mut b = http::Request::builder()
            .method(method)
            .uri(format!("http://{HOST}{path}"))
            .header("host", HOST);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        if !body.is_empty() {
            b = b.header("content-length", body.len());
        }
        let (mut parts, ()) = b.body(()).unwrap().into_parts();
        if let Some(c) = c {
            let params = SigningParams {
                credentials: c,
                region: "us-east-1",
                service: "s3",
                now: OffsetDateTime::now_utc(),
                mode: UriMode::S3,
            };
            sigv4::sign_request(&mut parts, &sigv4::sha256_hex(body), &params).unwrap();
        }
        self.send_raw(http::Request::from_parts(
            parts,
            Full::new(Bytes::copy_from_slice(body)),
        ))
        .await
    }

    async fn root(&self, method: &str, path: &str, body: &[u8]) -> Resp {
        self.s3(Some(&self.root), method, path, &[], body).await
    }

    async fn iam(&self, params: &[(&str, &str)]) -> String {
        self.iam_as(&self.root, params).await
    }

    async fn iam_as(&self, c: &Credentials, params: &[(&str, &str)]) -> String {
        let body = params
            .iter()
            .map(|(k, v)| format!("{}={}", sigv4::uri_encode(k), sigv4::uri_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let (mut parts, ()) = http::Request::builder()
            .method("POST")
            .uri(format!("http://{HOST}/"))
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(())
            .unwrap()
            .into_parts();
        let service = if params
            .iter()
            .any(|(k, v)| *k == "Action" && *v == "AssumeRole")
        {
            "sts"
        } else {
            "iam"
        };
        let params_ = SigningParams {
            credentials: c,
            region: "us-east-1",
            service,
            now: OffsetDateTime::now_utc(),
            mode: UriMode::Normalize,
        };
        sigv4::sign_request(&mut parts, &sigv4::sha256_hex(body.as_bytes()), &params_).unwrap();
        let r = self
            .send_raw(http::Request::from_parts(
                parts,
                Full::new(Bytes::from(body)),
            ))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }

    async fn user(&self, name: &str, policy: Option<&str>) -> Credentials {
        self.iam(&[("Action", "CreateUser"), ("UserName", name)])
            .await;
        if let Some(p) = policy {
            self.iam(&[
                ("Action", "PutUserPolicy"),
                ("UserName", name),
                ("PolicyName", "p"),
                ("PolicyDocument", p),
            ])
            .await;
        }
        let body = self
            .iam(&[("Action", "CreateAccessKey"), ("UserName", name)])
            .await;
        let r = Resp {
            status: 200,
            headers: http::HeaderMap::new(),
            body,
        };
        creds(
            &r.tag("AccessKeyId").unwrap(),
            &r.tag("SecretAccessKey").unwrap(),
            None,
        )
    }

    fn audit_events(&self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        let mut q = audit::LookupQuery::default();
        loop {
            let page = self.audit.lookup(&q).unwrap();
            out.extend(
                page.events
                    .into_iter()
                    .map(|e| serde_json::from_str(&e.raw_json).unwrap()),
            );
            match page.next_token {
                Some(t) => q.next_token = Some(t),
                None => return out,
            }
        }
    }
}

const ALLOW_S3: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;

#[tokio::test]
async fn bucket_and_object_round_trip_with_audit() {
    let env = Env::new().await;
    env.root("PUT", "/photos", b"").await.ok();
    env.root("PUT", "/photos", b"")
        .await
        .err(409, "BucketAlreadyOwnedByYou");
    env.root("PUT", "/Bad_Name", b"")
        .await
        .err(400, "InvalidBucketName");
    env.root("HEAD", "/photos", b"").await.ok();
    let r = env
        .s3(
            Some(&env.root),
            "PUT",
            "/photos/cat.txt",
            &[
                ("content-type", "text/plain"),
                ("x-amz-meta-colour", "grey"),
            ],
            b"meow",
        )
        .await;
    r.ok();
    assert_eq!(r.headers["x-amz-server-side-encryption"], "AES256");
    let r = env.root("GET", "/photos/cat.txt", b"").await;
    r.ok();
    assert_eq!(r.body, "meow");
    assert_eq!(r.headers["content-type"], "text/plain");
    assert_eq!(r.headers["x-amz-meta-colour"], "grey");
    assert_eq!(r.headers["x-amz-server-side-encryption"], "AES256");
    let r = env
        .s3(
            Some(&env.root),
            "GET",
            "/photos/cat.txt",
            &[("range", "bytes=1-2")],
            b"",
        )
        .await;
    assert_eq!((r.status, r.body.as_str()), (206, "eo"));
    let r = env.root("GET", "/photos?list-type=2&prefix=c", b"").await;
    r.ok();
    assert_eq!(r.tag("Key").as_deref(), Some("cat.txt"));
    assert_eq!(r.tag("KeyCount").as_deref(), Some("1"));
    let r = env.root("GET", "/", b"").await;
    r.ok();
    assert_eq!(r.tag("Name").as_deref(), Some("photos"));
    env.root("GET", "/photos/dog.txt", b"")
        .await
        .err(404, "NoSuchKey");
    env.root("GET", "/nothere/x", b"")
        .await
        .err(404, "NoSuchBucket");
    env.root("DELETE", "/photos", b"")
        .await
        .err(409, "BucketNotEmpty");
    env.root("DELETE", "/photos/cat.txt", b"").await.ok();
    env.root("DELETE", "/photos", b"").await.ok();

    let events = env.audit_events();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["eventName"].as_str().unwrap())
        .collect();
    for n in [
        "CreateBucket",
        "HeadBucket",
        "PutObject",
        "GetObject",
        "ListObjectsV2",
        "ListBuckets",
        "DeleteObject",
        "DeleteBucket",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    let put = events
        .iter()
        .find(|e| e["eventName"] == "PutObject")
        .unwrap();
    assert_eq!(put["eventSource"], "s3.amazonaws.com");
    assert_eq!(put["eventCategory"], "Data");
    assert_eq!(put["requestParameters"]["bucketName"], "photos");
    assert_eq!(put["requestParameters"]["key"], "cat.txt");
    assert_eq!(put["resources"][0]["ARN"], "arn:aws:s3:::photos/cat.txt");
    let create = events
        .iter()
        .find(|e| e["eventName"] == "CreateBucket" && e["errorCode"].is_null())
        .unwrap();
    assert_eq!(create["managementEvent"], true);
    let failed = events
        .iter()
        .find(|e| e["eventName"] == "GetObject" && e["errorCode"] == "NoSuchKey");
    assert!(
        failed.is_some(),
        "the failed GET is recorded with its S3 code"
    );
}

#[tokio::test]
async fn new_buckets_are_private_and_acls_are_disabled() {
    let env = Env::new().await;
    env.root("PUT", "/bk1", b"").await.ok();
    let r = env.root("GET", "/bk1?publicAccessBlock", b"").await;
    r.ok();
    assert_eq!(r.tag("BlockPublicPolicy").as_deref(), Some("true"));
    assert_eq!(r.tag("RestrictPublicBuckets").as_deref(), Some("true"));
    let r = env.root("GET", "/bk1?ownershipControls", b"").await;
    assert_eq!(
        r.tag("ObjectOwnership").as_deref(),
        Some("BucketOwnerEnforced")
    );
    let r = env.root("GET", "/bk1?acl", b"").await;
    r.ok();
    assert_eq!(r.tag("Permission").as_deref(), Some("FULL_CONTROL"));
    env.s3(
        Some(&env.root),
        "PUT",
        "/bk1/k",
        &[("x-amz-acl", "public-read")],
        b"x",
    )
    .await
    .err(400, "AccessControlListNotSupported");
    env.s3(
        Some(&env.root),
        "PUT",
        "/bk1/k",
        &[("x-amz-acl", "bucket-owner-full-control")],
        b"x",
    )
    .await
    .ok();
    env.s3(
        Some(&env.root),
        "PUT",
        "/bk1?acl",
        &[("x-amz-acl", "public-read")],
        b"",
    )
    .await
    .err(400, "AccessControlListNotSupported");
    // Anonymous callers get a terse AccessDenied.
    let r = env.s3(None, "GET", "/bk1/k", &[], b"").await;
    r.err(403, "AccessDenied");
    assert!(r.body.contains("<Message>Access Denied</Message>"));
}

fn public_read(bucket: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"pub","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    )
}

#[tokio::test]
async fn block_public_access_matrix() {
    let env = Env::new().await;
    env.root("PUT", "/site", b"").await.ok();
    env.root("PUT", "/site/index.html", b"hello").await.ok();
    let policy = public_read("site");
    // BlockPublicPolicy refuses a public policy.
    env.root("PUT", "/site?policy", policy.as_bytes())
        .await
        .err(403, "AccessDenied");
    env.root("GET", "/site?policy", b"")
        .await
        .err(404, "NoSuchBucketPolicy");
    // With BPA off the policy is accepted and anonymous reads work.
    env.root("DELETE", "/site?publicAccessBlock", b"")
        .await
        .ok();
    env.root("PUT", "/site?policy", policy.as_bytes())
        .await
        .ok();
    let r = env.root("GET", "/site?policyStatus", b"").await;
    assert_eq!(r.tag("IsPublic").as_deref(), Some("true"));
    let r = env.s3(None, "GET", "/site/index.html", &[], b"").await;
    assert_eq!((r.status, r.body.as_str()), (200, "hello"));
    // Anonymous access stops at the policy's action.
    env.s3(None, "PUT", "/site/evil.html", &[], b"x")
        .await
        .err(403, "AccessDenied");
    // RestrictPublicBuckets ignores the public statement for anonymous callers.
    let bpa = r#"<PublicAccessBlockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><BlockPublicAcls>false</BlockPublicAcls><IgnorePublicAcls>false</IgnorePublicAcls><BlockPublicPolicy>false</BlockPublicPolicy><RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>"#;
    env.root("PUT", "/site?publicAccessBlock", bpa.as_bytes())
        .await
        .ok();
    env.s3(None, "GET", "/site/index.html", &[], b"")
        .await
        .err(403, "AccessDenied");
    // The owner's own account is not affected.
    env.root("GET", "/site/index.html", b"").await.ok();
    // A policy naming a fixed service principal with a fixed SourceArn is not public.
    let oac = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"cloudfront.amazonaws.com"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*","Condition":{"StringEquals":{"AWS:SourceArn":"arn:aws:cloudfront::111122223333:distribution/E1"}}}]}"#;
    let full = r#"<PublicAccessBlockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>"#;
    env.root("PUT", "/site?publicAccessBlock", full.as_bytes())
        .await
        .ok();
    env.root("PUT", "/site?policy", oac.as_bytes()).await.ok();
    let r = env.root("GET", "/site?policyStatus", b"").await;
    assert_eq!(r.tag("IsPublic").as_deref(), Some("false"));
    env.s3(None, "GET", "/site/index.html", &[], b"")
        .await
        .err(403, "AccessDenied");
    // Bad policies are MalformedPolicy.
    env.root("PUT", "/site?policy", b"{not json")
        .await
        .err(400, "MalformedPolicy");
    let other = public_read("another-bucket");
    env.root("PUT", "/site?policy", other.as_bytes())
        .await
        .err(400, "MalformedPolicy");
}

#[tokio::test]
async fn tutorial_policies_on_server_side_encryption_headers() {
    let env = Env::new().await;
    env.root("PUT", "/secure", b"").await.ok();
    let alice = env.user("alice", Some(ALLOW_S3)).await;
    let deny_unless_kms = r#"{"Version":"2012-10-17","Statement":[{"Sid":"DenyIncorrectEncryptionHeader","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::secure/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}}]}"#;
    env.root("PUT", "/secure?policy", deny_unless_kms.as_bytes())
        .await
        .ok();
    env.s3(Some(&alice), "PUT", "/secure/a", &[], b"x")
        .await
        .err(403, "AccessDenied");
    let r = env
        .s3(
            Some(&alice),
            "PUT",
            "/secure/a",
            &[("x-amz-server-side-encryption", "AES256")],
            b"x",
        )
        .await;
    r.err(403, "AccessDenied");
    assert!(
        r.body.contains("explicit deny in a resource-based policy"),
        "{}",
        r.body
    );
    // aws:kms passes the policy; this test's key service offers SSE-S3 only, so the upload stops there.
    env.s3(
        Some(&alice),
        "PUT",
        "/secure/a",
        &[("x-amz-server-side-encryption", "aws:kms")],
        b"x",
    )
    .await
    .err(501, "NotImplemented");

    let key_arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let deny_unless_key = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::secure/*","Condition":{{"StringNotEqualsIfExists":{{"s3:x-amz-server-side-encryption-aws-kms-key-id":"{key_arn}"}}}}}}]}}"#
    );
    env.root("PUT", "/secure?policy", deny_unless_key.as_bytes())
        .await
        .ok();
    env.s3(
        Some(&alice),
        "PUT",
        "/secure/b",
        &[
            ("x-amz-server-side-encryption", "aws:kms"),
            (
                "x-amz-server-side-encryption-aws-kms-key-id",
                "arn:aws:kms:us-east-1:111122223333:key/other",
            ),
        ],
        b"x",
    )
    .await
    .err(403, "AccessDenied");
    env.s3(
        Some(&alice),
        "PUT",
        "/secure/b",
        &[
            ("x-amz-server-side-encryption", "aws:kms"),
            ("x-amz-server-side-encryption-aws-kms-key-id", key_arn),
        ],
        b"x",
    )
    .await
    .err(501, "NotImplemented");
    // IfExists: a request without the key id header is denied as well.
    env.s3(Some(&alice), "PUT", "/secure/c", &[], b"x")
        .await
        .err(403, "AccessDenied");
}

#[tokio::test]
async fn identity_and_bucket_policies_with_listing_keys() {
    let env = Env::new().await;
    env.root("PUT", "/docs", b"").await.ok();
    env.root("PUT", "/docs/home/bob/a.txt", b"1").await.ok();
    env.root("PUT", "/docs/home/eve/b.txt", b"2").await.ok();
    let bob = env
        .user(
            "bob",
            Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::docs","Condition":{"StringLike":{"s3:prefix":"home/bob/*"}}},{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::docs/home/bob/*"}]}"#),
        )
        .await;
    env.s3(
        Some(&bob),
        "GET",
        "/docs?list-type=2&prefix=home/bob/",
        &[],
        b"",
    )
    .await
    .ok();
    let r = env
        .s3(
            Some(&bob),
            "GET",
            "/docs?list-type=2&prefix=home/eve/",
            &[],
            b"",
        )
        .await;
    r.err(403, "AccessDenied");
    assert!(
        r.body.contains("User: arn:aws:iam::"),
        "named callers get AWS's full message: {}",
        r.body
    );
    env.s3(Some(&bob), "GET", "/docs/home/bob/a.txt", &[], b"")
        .await
        .ok();
    env.s3(Some(&bob), "GET", "/docs/home/eve/b.txt", &[], b"")
        .await
        .err(403, "AccessDenied");
    // A bucket policy grants a same-account user on its own.
    let eve = env.user("eve", None).await;
    env.s3(Some(&eve), "GET", "/docs/home/eve/b.txt", &[], b"")
        .await
        .err(403, "AccessDenied");
    let grant = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{}:user/eve"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::docs/home/eve/*"}}]}}"#,
        env.account
    );
    env.root("PUT", "/docs?policy", grant.as_bytes()).await.ok();
    env.s3(Some(&eve), "GET", "/docs/home/eve/b.txt", &[], b"")
        .await
        .ok();
    // An explicit deny on the bucket wins over the identity allow.
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::docs/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
    env.root("PUT", "/docs?policy", deny.as_bytes()).await.ok();
    env.s3(Some(&bob), "GET", "/docs/home/bob/a.txt", &[], b"")
        .await
        .err(403, "AccessDenied");
}

#[tokio::test]
async fn unsigned_amz_headers_are_refused() {
    let env = Env::new().await;
    env.root("PUT", "/upl", b"").await.ok();
    env.root("PUT", "/upl/src", b"secret").await.ok();
    // A presigned PUT signed for host only.
    let params = SigningParams {
        credentials: &env.root,
        region: "us-east-1",
        service: "s3",
        now: OffsetDateTime::now_utc(),
        mode: UriMode::S3,
    };
    let uri: http::Uri = format!("http://{HOST}/upl/dest").parse().unwrap();
    let url = sigv4::presign_url(
        &http::Method::PUT,
        &uri,
        &http::HeaderMap::new(),
        &params,
        300,
    )
    .unwrap();
    let send = |extra: Option<(&'static str, &'static str)>| {
        let mut b = http::Request::builder()
            .method("PUT")
            .uri(url.as_str())
            .header("host", HOST)
            .header("content-length", 4);
        if let Some((k, v)) = extra {
            b = b.header(k, v);
        }
        b.body(Full::new(Bytes::from_static(b"data"))).unwrap()
    };
    let r = env
        .send_raw(send(Some(("x-amz-copy-source", "/upl/src"))))
        .await;
    r.err(403, "AccessDenied");
    assert!(r.body.contains("not signed"), "{}", r.body);
    env.root("GET", "/upl/dest", b"")
        .await
        .err(404, "NoSuchKey");
    env.send_raw(send(None)).await.ok();
    let r = env.root("GET", "/upl/dest", b"").await;
    assert_eq!(r.body, "data");
    // A header-signed request with an x-amz header added after signing is refused too.
    let (mut parts, ()) = http::Request::builder()
        .method("GET")
        .uri(format!("http://{HOST}/upl/src"))
        .header("host", HOST)
        .body(())
        .unwrap()
        .into_parts();
    sigv4::sign_request(&mut parts, sigv4::EMPTY_SHA256, &params).unwrap();
    parts
        .headers
        .insert("x-amz-request-payer", "requester".parse().unwrap());
    env.send_raw(http::Request::from_parts(parts, Full::new(Bytes::new())))
        .await
        .err(403, "AccessDenied");
}

#[tokio::test]
async fn session_tokens_are_checked() {
    let env = Env::new().await;
    env.root("PUT", "/sess", b"").await.ok();
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{}:root"}},"Action":"sts:AssumeRole"}}]}}"#,
        env.account
    );
    env.iam(&[
        ("Action", "CreateRole"),
        ("RoleName", "reader"),
        ("AssumeRolePolicyDocument", &trust),
    ])
    .await;
    env.iam(&[
        ("Action", "PutRolePolicy"),
        ("RoleName", "reader"),
        ("PolicyName", "p"),
        ("PolicyDocument", ALLOW_S3),
    ])
    .await;
    let role_arn = format!("arn:aws:iam::{}:role/reader", env.account);
    let assumer = env
        .user("assumer", Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#))
        .await;
    let body = env
        .iam_as(
            &assumer,
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", &role_arn),
                ("RoleSessionName", "s1"),
            ],
        )
        .await;
    let r = Resp {
        status: 200,
        headers: http::HeaderMap::new(),
        body,
    };
    let (id, secret, token) = (
        r.tag("AccessKeyId").unwrap(),
        r.tag("SecretAccessKey").unwrap(),
        r.tag("SessionToken").unwrap(),
    );
    assert!(id.starts_with("ASIA"));
    let good = creds(&id, &secret, Some(&token));
    env.s3(Some(&good), "PUT", "/sess/k", &[], b"v").await.ok();
    let wrong = creds(&id, &secret, Some("not-the-token"));
    env.s3(Some(&wrong), "GET", "/sess/k", &[], b"")
        .await
        .err(400, "InvalidToken");
    let missing = creds(&id, &secret, None);
    env.s3(Some(&missing), "GET", "/sess/k", &[], b"")
        .await
        .err(400, "InvalidToken");
    let unknown = creds("AKIAUNKNOWNKEY000000", "x", None);
    env.s3(Some(&unknown), "GET", "/sess/k", &[], b"")
        .await
        .err(403, "InvalidAccessKeyId");
    let events = env.audit_events();
    let put = events
        .iter()
        .find(|e| e["eventName"] == "PutObject" && e["requestParameters"]["bucketName"] == "sess")
        .unwrap();
    assert_eq!(put["userIdentity"]["type"], "AssumedRole");
}

#[tokio::test]
async fn bad_input_gets_s3_error_codes() {
    let env = Env::new().await;
    env.root("PUT", "/inp", b"").await.ok();
    env.root(
        "PUT",
        "/inp?versioning",
        b"<VersioningConfiguration><Status>Enabled",
    )
    .await
    .err(400, "MalformedXML");
    let big = "x".repeat(3000);
    env.s3(
        Some(&env.root),
        "PUT",
        "/inp/k",
        &[("x-amz-meta-big", big.as_str())],
        b"v",
    )
    .await
    .err(400, "MetadataTooLarge");
    env.root("PUT", "/inp/k", b"hello").await.ok();
    env.s3(
        Some(&env.root),
        "GET",
        "/inp/k",
        &[("range", "bytes=10-20")],
        b"",
    )
    .await
    .err(416, "InvalidRange");
    env.s3(
        Some(&env.root),
        "GET",
        "/inp/k",
        &[("if-none-match", "*")],
        b"",
    )
    .await;
    env.s3(
        Some(&env.root),
        "PUT",
        "/inp/k",
        &[("if-none-match", "*")],
        b"again",
    )
    .await
    .err(412, "PreconditionFailed");
    // Versioning and delete markers.
    env.root(
        "PUT",
        "/inp?versioning",
        b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
    )
    .await
    .ok();
    let v1 = env.root("PUT", "/inp/v", b"one").await.headers["x-amz-version-id"]
        .to_str()
        .unwrap()
        .to_owned();
    env.root("PUT", "/inp/v", b"two").await.ok();
    let r = env
        .root("GET", &format!("/inp/v?versionId={v1}"), b"")
        .await;
    assert_eq!(r.body, "one");
    let r = env.root("DELETE", "/inp/v", b"").await;
    assert_eq!(r.headers["x-amz-delete-marker"], "true");
    let r = env.root("GET", "/inp/v", b"").await;
    r.err(404, "NoSuchKey");
    assert_eq!(r.headers["x-amz-delete-marker"], "true");
    let r = env.root("GET", "/inp?versions", b"").await;
    r.ok();
    assert!(r.body.contains("<DeleteMarker>"), "{}", r.body);
}

/// CRC32 (ISO-HDLC), base64 as S3 prints it.
fn crc32_b64(data: &[u8]) -> String {
    use base64::Engine as _;
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    base64::engine::general_purpose::STANDARD.encode((!crc).to_be_bytes())
}

impl Env {
    /// A PutObject with an aws-chunked body whose CRC32 comes as a trailer: unsigned
    /// (`STREAMING-UNSIGNED-PAYLOAD-TRAILER`) or with signed chunks and trailer.
    async fn put_trailed(&self, path: &str, data: &[u8], crc32: &str, signed: bool) -> Resp {
        let mode = if signed {
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
        } else {
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        };
        let (mut parts, ()) = http::Request::builder()
            .method("PUT")
            .uri(format!("http://{HOST}{path}"))
            .header("host", HOST)
            .header("content-encoding", "aws-chunked")
            .header("x-amz-content-sha256", mode)
            .header("x-amz-decoded-content-length", data.len())
            .header("x-amz-trailer", "x-amz-checksum-crc32")
            .header("x-amz-sdk-checksum-algorithm", "CRC32")
            .body(())
            .unwrap()
            .into_parts();
        let now = OffsetDateTime::now_utc();
        let params = SigningParams {
            credentials: &self.root,
            region: "us-east-1",
            service: "s3",
            now,
            mode: UriMode::S3,
        };
        let seed = sigv4::sign_request(&mut parts, mode, &params).unwrap();
        let trailer = vec![("x-amz-checksum-crc32".to_owned(), crc32.to_owned())];
        let mut body = Vec::new();
        if signed {
            let auth = sigv4::parse(&parts).unwrap().unwrap();
            let key = sigv4::signing_key(
                &self.root.secret_access_key,
                &auth.date,
                &auth.region,
                &auth.service,
            );
            let mut signer =
                sigv4::ChunkSigner::new(key, &auth.amz_date(), &auth.credential_scope(), &seed);
            for chunk in data.chunks(64 << 10) {
                body.extend(signer.encode_chunk(chunk, true));
            }
            body.extend(signer.encode_chunk(&[], true));
            body.extend(signer.encode_trailer(&trailer));
        } else {
            for chunk in data.chunks(64 << 10) {
                body.extend(format!("{:x}\r\n", chunk.len()).into_bytes());
                body.extend_from_slice(chunk);
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(b"0\r\n");
            for (name, value) in &trailer {
                body.extend(format!("{name}:{value}\r\n").into_bytes());
            }
            body.extend_from_slice(b"\r\n");
        }
        parts.headers.insert("content-length", body.len().into());
        self.send_raw(http::Request::from_parts(
            parts,
            Full::new(Bytes::from(body)),
        ))
        .await
    }
}

#[tokio::test]
async fn trailing_checksums_are_verified() {
    let env = Env::new().await;
    env.root("PUT", "/trail", b"").await.ok();
    let data: Vec<u8> = (0..150_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let crc = crc32_b64(&data);
    for signed in [false, true] {
        env.root("PUT", "/trail/k", b"first").await.ok();
        let r = env
            .put_trailed("/trail/k", &data, &crc32_b64(b"other"), signed)
            .await;
        r.err(400, "BadDigest");
        assert_eq!(
            r.tag("Message").as_deref(),
            Some("The CRC32 you specified did not match the calculated checksum.")
        );
        let r = env.root("GET", "/trail/k", b"").await;
        r.ok();
        assert_eq!(r.body, "first", "signed={signed}");
        env.put_trailed("/trail/fresh", &data, "AAAAAA==", signed)
            .await
            .err(400, "BadDigest");
        env.root("GET", "/trail/fresh", b"")
            .await
            .err(404, "NoSuchKey");

        let r = env.put_trailed("/trail/k", &data, &crc, signed).await;
        r.ok();
        assert_eq!(r.headers["x-amz-checksum-crc32"], crc.as_str());
        let r = env
            .s3(
                Some(&env.root),
                "GET",
                "/trail/k",
                &[("x-amz-checksum-mode", "ENABLED")],
                b"",
            )
            .await;
        r.ok();
        assert_eq!(r.headers["x-amz-checksum-crc32"], crc.as_str());
        assert!(r.body.as_bytes() == data.as_slice(), "signed={signed}");
    }
}

/// The edge's seam (issue 5): the deployment's edge identity names the distribution it fetches for in a signed
/// `x-amz-*` header, and S3 evaluates the request as `cloudfront.amazonaws.com` with that `aws:SourceArn`.
struct EdgeResolver;

const DISTRIBUTION_HEADER: &str = "x-amz-coffer-distribution-arn";

impl s3_api::ServicePrincipalResolver for EdgeResolver {
    fn resolve(
        &self,
        caller: &iam::Caller,
        _method: &http::Method,
        _uri: &http::Uri,
        headers: &http::HeaderMap,
    ) -> Result<Option<s3_api::SubstitutedCaller>, api::ApiError> {
        let is_edge = matches!(&caller.kind, iam::CallerKind::User { name } if name == "edge");
        let Some(arn) = headers
            .get(DISTRIBUTION_HEADER)
            .and_then(|v| v.to_str().ok())
        else {
            return Ok(None);
        };
        if !is_edge {
            return Ok(None);
        }
        Ok(Some(s3_api::SubstitutedCaller {
            caller: iam::Caller::service("cloudfront.amazonaws.com"),
            source_arn: Some(arn.to_owned()),
            source_account: Some(caller.account.clone()),
            via: None,
        }))
    }
}

#[tokio::test]
async fn service_principal_requests_are_evaluated_as_cloudfront_with_source_arn() {
    let env = Env::with_options(S3Options {
        service_principals: Arc::new(EdgeResolver),
        ..S3Options::default()
    })
    .await;
    let root = env.root.clone();
    let bucket = "oac-origin";
    assert_eq!(
        env.s3(Some(&root), "PUT", &format!("/{bucket}"), &[], b"")
            .await
            .status,
        200
    );
    assert_eq!(
        env.s3(
            Some(&root),
            "PUT",
            &format!("/{bucket}/test.txt"),
            &[],
            b"hello"
        )
        .await
        .status,
        200
    );
    let dist1 = format!(
        "arn:aws:cloudfront::{}:distribution/E1AAAAAAAAAAAA",
        env.account
    );
    let dist2 = format!(
        "arn:aws:cloudfront::{}:distribution/E2BBBBBBBBBBBB",
        env.account
    );
    // The tutorial's bucket policy: only CloudFront, only for distribution 1.
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AllowCloudFrontServicePrincipal",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{bucket}/*"),
            "Condition": {"StringEquals": {"AWS:SourceArn": dist1}}
        }]
    })
    .to_string();
    let put = env
        .s3(
            Some(&root),
            "PUT",
            &format!("/{bucket}?policy"),
            &[],
            policy.as_bytes(),
        )
        .await;
    assert_eq!(put.status, 204, "{}", put.body);
    let edge = env.user("edge", None).await;
    let path = format!("/{bucket}/test.txt");

    let ok = env
        .s3(
            Some(&edge),
            "GET",
            &path,
            &[(DISTRIBUTION_HEADER, &dist1)],
            b"",
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body, "hello");
    // Another distribution is not in the policy: the tutorial's pitfall.
    let other = env
        .s3(
            Some(&edge),
            "GET",
            &path,
            &[(DISTRIBUTION_HEADER, &dist2)],
            b"",
        )
        .await;
    assert_eq!(other.status, 403);
    // Without the header the edge is an ordinary user with no permissions.
    assert_eq!(
        env.s3(Some(&edge), "GET", &path, &[], b"").await.status,
        403
    );
    // Another identity naming a distribution gets no substitution.
    let mallory = env.user("mallory", None).await;
    let forged = env
        .s3(
            Some(&mallory),
            "GET",
            &path,
            &[(DISTRIBUTION_HEADER, &dist1)],
            b"",
        )
        .await;
    assert_eq!(forged.status, 403);

    let events = env.audit_events();
    let served = events
        .iter()
        .find(|e| e["eventName"] == "GetObject" && e["errorCode"].is_null())
        .expect("the allowed GetObject is audited");
    assert_eq!(served["userIdentity"]["type"], "AWSService");
    assert_eq!(
        served["userIdentity"]["invokedBy"],
        "cloudfront.amazonaws.com"
    );
}
