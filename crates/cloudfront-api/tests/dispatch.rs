//! CloudFront and ACM through the real dispatch path: SigV4-signed REST-XML and JSON requests into
//! `api::Dispatcher` with the engines on in-memory storage and a real audit log, checking every operation, its
//! errors, ETag / If-Match rules, idempotency, delete guards, authorization, audit records, and the read API the
//! edge uses.

use std::sync::Arc;

use api::{Dispatcher, Metrics, Peer};
use bytes::Bytes;
use cloudfront_api::{AcmService, CloudFrontService};
use http_body_util::Full;
use iam_api::IamService;
use sigv4::{sign_request, Credentials, SigningParams, UriMode};
use time::OffsetDateTime;

const NS: &str = "http://cloudfront.amazonaws.com/doc/2020-05-31/";
const OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
const DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";

struct Env {
    dispatcher: Dispatcher,
    cf: cloudfront::CloudFront,
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
    fn tags(&self, name: &str) -> Vec<String> {
        let (open, close) = (format!("<{name}>"), format!("</{name}>"));
        let mut out = Vec::new();
        let mut rest = self.body.as_str();
        while let Some(i) = rest.find(&open) {
            let after = &rest[i + open.len()..];
            let Some(j) = after.find(&close) else { break };
            out.push(after[..j].replace("&amp;", "&"));
            rest = &after[j + close.len()..];
        }
        out
    }

    fn tag(&self, name: &str) -> String {
        self.tags(name).into_iter().next().unwrap_or_default()
    }

    fn etag(&self) -> String {
        self.headers
            .get("etag")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }

    #[track_caller]
    fn ok(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "{}", self.body);
        self
    }

    #[track_caller]
    fn err(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        if self.body.starts_with('{') {
            assert_eq!(self.json()["__type"], code, "{}", self.body);
        } else {
            assert_eq!(self.tag("Code"), code, "{}", self.body);
            assert!(self
                .body
                .contains(&format!("<ErrorResponse xmlns=\"{NS}\">")));
        }
    }
}

fn creds(id: &str, secret: &str) -> Credentials {
    Credentials {
        access_key_id: id.to_owned(),
        secret_access_key: secret.to_owned(),
        session_token: None,
    }
}

impl Env {
    async fn new() -> Env {
        Env::with_config(cloudfront::Config::default()).await
    }

    async fn with_config(config: cloudfront::Config) -> Env {
        let store = meta::Store::new(meta::MemoryBackend::new()).unwrap();
        let root_key: Arc<dyn crypto::RootOfTrust> = Arc::new(crypto::RootKey::generate());
        let iam = iam::Iam::new(store.clone(), root_key.clone());
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
        let cf = cloudfront::CloudFront::new(store, root_key, config);
        dispatcher.register(Arc::new(IamService::new(iam.clone())));
        dispatcher.register(Arc::new(CloudFrontService::new(cf.clone())));
        dispatcher.register(Arc::new(AcmService::new(cf.clone())));
        Env {
            dispatcher,
            cf,
            audit,
            account: account.id,
            root: creds(&akid, &secret),
            _dir: dir,
        }
    }

    async fn send(
        &self,
        c: &Credentials,
        service: &str,
        req: http::request::Builder,
        body: String,
    ) -> Resp {
        let (mut parts, ()) = req.body(()).unwrap().into_parts();
        let signing = SigningParams {
            credentials: c,
            region: "us-east-1",
            service,
            now: OffsetDateTime::now_utc(),
            mode: UriMode::Normalize,
        };
        sign_request(&mut parts, &sigv4::sha256_hex(body.as_bytes()), &signing).unwrap();
        let req = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
        let peer = Peer {
            addr: "127.0.0.1:40000".parse().unwrap(),
            secure: true,
        };
        let resp = self.dispatcher.handle(req, peer).await;
        Resp {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: String::from_utf8(resp.body().to_vec()).unwrap(),
        }
    }

    /// A CloudFront request as `c`.
    async fn cf_as(
        &self,
        c: &Credentials,
        method: &str,
        path: &str,
        if_match: Option<&str>,
        body: &str,
    ) -> Resp {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("http://127.0.0.1:9000/2020-05-31/{path}"));
        if let Some(m) = if_match {
            req = req.header("if-match", m);
        }
        self.send(c, "cloudfront", req, body.to_owned()).await
    }

    async fn cf(&self, method: &str, path: &str, if_match: Option<&str>, body: &str) -> Resp {
        self.cf_as(&self.root, method, path, if_match, body).await
    }

    async fn acm(&self, op: &str, body: serde_json::Value) -> Resp {
        let req = http::Request::builder()
            .method("POST")
            .uri("http://127.0.0.1:9000/")
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", format!("CertificateManager.{op}"));
        self.send(&self.root, "acm", req, body.to_string()).await
    }

    /// A user with an access key and, when given, one inline policy.
    async fn user_with(&self, name: &str, policy: Option<&str>) -> Credentials {
        let iam = |params: Vec<(&str, &str)>| {
            let body = params
                .iter()
                .map(|(k, v)| format!("{}={}", sigv4::uri_encode(k), sigv4::uri_encode(v)))
                .collect::<Vec<_>>()
                .join("&");
            let req = http::Request::builder()
                .method("POST")
                .uri("http://127.0.0.1:9000/")
                .header(
                    "content-type",
                    "application/x-www-form-urlencoded; charset=utf-8",
                );
            self.send(&self.root, "iam", req, body)
        };
        iam(vec![("Action", "CreateUser"), ("UserName", name)])
            .await
            .ok(200);
        if let Some(doc) = policy {
            iam(vec![
                ("Action", "PutUserPolicy"),
                ("UserName", name),
                ("PolicyName", "cf"),
                ("PolicyDocument", doc),
            ])
            .await
            .ok(200);
        }
        let r = iam(vec![("Action", "CreateAccessKey"), ("UserName", name)]).await;
        creds(&r.tag("AccessKeyId"), &r.tag("SecretAccessKey"))
    }

    async fn user(&self, name: &str) -> Credentials {
        self.user_with(name, None).await
    }

    async fn create_oac(&self, name: &str) -> Resp {
        self.cf(
            "POST",
            "origin-access-control",
            None,
            &oac_xml(name, "always"),
        )
        .await
    }

    fn audit_events(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut q = audit::LookupQuery::default();
        loop {
            let page = self.audit.lookup(&q).unwrap();
            out.extend(page.events.into_iter().map(|e| e.raw_json));
            match page.next_token {
                Some(t) => q.next_token = Some(t),
                None => return out,
            }
        }
    }
}

fn oac_xml(name: &str, behavior: &str) -> String {
    format!(
        "<OriginAccessControlConfig xmlns=\"{NS}\"><Name>{name}</Name><Description>d</Description>\
         <SigningProtocol>sigv4</SigningProtocol><SigningBehavior>{behavior}</SigningBehavior>\
         <OriginAccessControlOriginType>s3</OriginAccessControlOriginType></OriginAccessControlConfig>"
    )
}

/// A distribution configuration: an S3 origin with `oac`, redirect-to-https, `policy`, and `extra` elements.
fn dist_xml(reference: &str, oac: &str, policy: &str, enabled: bool, extra: &str) -> String {
    format!(
        "<DistributionConfig xmlns=\"{NS}\"><CallerReference>{reference}</CallerReference>\
         <Origins><Quantity>1</Quantity><Items><Origin><Id>s3</Id><DomainName>photos.s3.us-east-1.amazonaws.com</DomainName>\
         <OriginPath>/public</OriginPath><S3OriginConfig><OriginAccessIdentity></OriginAccessIdentity></S3OriginConfig>\
         <OriginAccessControlId>{oac}</OriginAccessControlId></Origin></Items></Origins>\
         <DefaultCacheBehavior><TargetOriginId>s3</TargetOriginId><ViewerProtocolPolicy>redirect-to-https</ViewerProtocolPolicy>\
         <AllowedMethods><Quantity>7</Quantity><Items><Method>GET</Method><Method>HEAD</Method><Method>OPTIONS</Method>\
         <Method>PUT</Method><Method>POST</Method><Method>PATCH</Method><Method>DELETE</Method></Items>\
         <CachedMethods><Quantity>2</Quantity><Items><Method>GET</Method><Method>HEAD</Method></Items></CachedMethods></AllowedMethods>\
         <Compress>true</Compress><CachePolicyId>{policy}</CachePolicyId></DefaultCacheBehavior>\
         <CacheBehaviors><Quantity>1</Quantity><Items><CacheBehavior><PathPattern>/api/*</PathPattern><TargetOriginId>s3</TargetOriginId>\
         <ViewerProtocolPolicy>https-only</ViewerProtocolPolicy><CachePolicyId>{DISABLED}</CachePolicyId></CacheBehavior></Items></CacheBehaviors>\
         <CustomErrorResponses><Quantity>1</Quantity><Items><CustomErrorResponse><ErrorCode>404</ErrorCode>\
         <ErrorCachingMinTTL>5</ErrorCachingMinTTL></CustomErrorResponse></Items></CustomErrorResponses>\
         <DefaultRootObject>index.html</DefaultRootObject><Comment>c &amp; d</Comment>\
         <Logging><Enabled>false</Enabled><IncludeCookies>false</IncludeCookies><Bucket></Bucket><Prefix></Prefix></Logging>\
         <Enabled>{enabled}</Enabled>{extra}</DistributionConfig>"
    )
}

#[tokio::test]
async fn origin_access_controls_with_etags() {
    let env = Env::new().await;
    let r = env.create_oac("site").await;
    r.ok(201);
    let id = r.tag("Id");
    assert!(id.starts_with('E') && id.len() == 14, "{id}");
    let etag = r.etag();
    assert!(r.headers["location"]
        .to_str()
        .unwrap()
        .ends_with(&format!("/2020-05-31/origin-access-control/{id}")));
    assert!(r
        .body
        .contains(&format!("<OriginAccessControl xmlns=\"{NS}\">")));
    env.create_oac("site")
        .await
        .err(409, "OriginAccessControlAlreadyExists");
    env.cf(
        "POST",
        "origin-access-control",
        None,
        &oac_xml("x", "sometimes"),
    )
    .await
    .err(400, "InvalidArgument");
    env.cf(
        "POST",
        "origin-access-control",
        None,
        "<OriginAccessControlConfig><Name>",
    )
    .await
    .err(400, "MalformedInput");

    let g = env
        .cf("GET", &format!("origin-access-control/{id}"), None, "")
        .await;
    g.ok(200);
    assert_eq!(
        (g.etag(), g.tag("SigningBehavior")),
        (etag.clone(), "always".to_owned())
    );
    let c = env
        .cf(
            "GET",
            &format!("origin-access-control/{id}/config"),
            None,
            "",
        )
        .await;
    assert!(c.body.contains("<OriginAccessControlConfig xmlns="));
    let l = env.cf("GET", "origin-access-control", None, "").await;
    assert_eq!(l.tag("Quantity"), "1");
    assert_eq!(l.tag("IsTruncated"), "false");
    env.cf("GET", "origin-access-control/ENOPE", None, "")
        .await
        .err(404, "NoSuchOriginAccessControl");

    let path = format!("origin-access-control/{id}/config");
    env.cf("PUT", &path, None, &oac_xml("site", "never"))
        .await
        .err(400, "InvalidIfMatchVersion");
    env.cf("PUT", &path, Some("EOLD"), &oac_xml("site", "never"))
        .await
        .err(412, "PreconditionFailed");
    let u = env
        .cf("PUT", &path, Some(&etag), &oac_xml("site", "no-override"))
        .await;
    u.ok(200);
    assert_ne!(u.etag(), etag);
    assert_eq!(u.tag("SigningBehavior"), "no-override");
    env.cf(
        "DELETE",
        &format!("origin-access-control/{id}"),
        Some(&etag),
        "",
    )
    .await
    .err(412, "PreconditionFailed");
    env.cf(
        "DELETE",
        &format!("origin-access-control/{id}"),
        Some(&u.etag()),
        "",
    )
    .await
    .ok(204);
    env.cf("GET", &format!("origin-access-control/{id}"), None, "")
        .await
        .err(404, "NoSuchOriginAccessControl");
}

#[tokio::test]
async fn distributions_lifecycle_idempotency_and_guards() {
    let env = Env::new().await;
    let oac = env.create_oac("o").await.tag("Id");
    let body = dist_xml("ref-1", &oac, OPTIMIZED, true, "");
    let r = env.cf("POST", "distribution", None, &body).await;
    r.ok(201);
    let id = r.tag("Id");
    assert!(id.starts_with('E') && id.len() == 14);
    assert_eq!(
        r.tag("DomainName"),
        format!("{}.cloudfront.localhost", id.to_lowercase())
    );
    assert_eq!(
        r.tag("ARN"),
        format!("arn:aws:cloudfront::{}:distribution/{id}", env.account)
    );
    assert_eq!(r.tag("Status"), "InProgress");
    assert_eq!(r.tag("Comment"), "c & d");
    assert!(
        r.body.contains("<Logging><Enabled>false</Enabled>"),
        "unknown elements are kept: {}",
        r.body
    );
    let etag = r.etag();

    // Same CallerReference: same configuration → same distribution; different → DistributionAlreadyExists.
    let again = env.cf("POST", "distribution", None, &body).await;
    assert_eq!((again.status, again.tag("Id")), (201, id.clone()));
    env.cf(
        "POST",
        "distribution",
        None,
        &dist_xml("ref-1", &oac, DISABLED, true, ""),
    )
    .await
    .err(409, "DistributionAlreadyExists");

    // Bad references and shapes.
    env.cf(
        "POST",
        "distribution",
        None,
        &dist_xml("r2", "EMISSING", OPTIMIZED, true, ""),
    )
    .await
    .err(404, "NoSuchOriginAccessControl");
    env.cf(
        "POST",
        "distribution",
        None,
        &dist_xml("r3", &oac, "00000000-0000-0000-0000-000000000000", true, ""),
    )
    .await
    .err(404, "NoSuchCachePolicy");
    env.cf(
        "POST",
        "distribution",
        None,
        &body.replace("<Quantity>7</Quantity>", "<Quantity>6</Quantity>"),
    )
    .await
    .err(400, "InconsistentQuantities");
    env.cf(
        "POST",
        "distribution",
        None,
        &body.replace("redirect-to-https", "sometimes"),
    )
    .await
    .err(400, "InvalidArgument");
    let aliases =
        "<Aliases><Quantity>1</Quantity><Items><CNAME>cdn.example.com</CNAME></Items></Aliases>";
    env.cf(
        "POST",
        "distribution",
        None,
        &dist_xml("r4", &oac, OPTIMIZED, true, aliases),
    )
    .await
    .err(400, "InvalidViewerCertificate");

    let cfg = env
        .cf("GET", &format!("distribution/{id}/config"), None, "")
        .await;
    cfg.ok(200);
    assert_eq!(cfg.etag(), etag);
    assert!(cfg.body.starts_with("<?xml"));
    assert!(cfg.body.contains(&format!(
        "<DistributionConfig xmlns=\"{NS}\"><CallerReference>ref-1</CallerReference>"
    )));
    assert_eq!(cfg.tag("PathPattern"), "/api/*");
    assert_eq!(cfg.tag("ErrorCachingMinTTL"), "5");

    let list = env.cf("GET", "distribution", None, "").await;
    assert_eq!(
        (list.tag("Id"), list.tag("Quantity")),
        (id.clone(), "1".to_owned())
    );
    assert_eq!(list.tag("IsTruncated"), "false");

    let path = format!("distribution/{id}/config");
    let updated_body = dist_xml("ref-1", &oac, OPTIMIZED, true, "").replace("c &amp; d", "new");
    env.cf("PUT", &path, None, &updated_body)
        .await
        .err(400, "InvalidIfMatchVersion");
    env.cf("PUT", &path, Some("EBAD"), &updated_body)
        .await
        .err(412, "PreconditionFailed");
    env.cf(
        "PUT",
        &path,
        Some(&etag),
        &updated_body.replace("ref-1", "ref-x"),
    )
    .await
    .err(400, "IllegalUpdate");
    let u = env.cf("PUT", &path, Some(&etag), &updated_body).await;
    u.ok(200);
    assert_eq!(u.tag("Comment"), "new");
    let etag2 = u.etag();
    assert_ne!(etag2, etag);

    // In-use guards.
    let oac_etag = env
        .cf("GET", &format!("origin-access-control/{oac}"), None, "")
        .await
        .etag();
    env.cf(
        "DELETE",
        &format!("origin-access-control/{oac}"),
        Some(&oac_etag),
        "",
    )
    .await
    .err(409, "OriginAccessControlInUse");
    env.cf("DELETE", &format!("distribution/{id}"), Some(&etag2), "")
        .await
        .err(409, "DistributionNotDisabled");

    // The edge's read API.
    let host = format!("{}.cloudfront.localhost:8443", id.to_lowercase());
    let d = env
        .cf
        .distribution_for_host(&host.to_uppercase())
        .expect("found by host");
    assert_eq!(d.id, id);
    assert_eq!(
        d.behavior_for(&cloudfront::normalize_path("/api/x").unwrap())
            .viewer_protocol_policy,
        "https-only"
    );
    assert_eq!(
        d.behavior_for(&cloudfront::normalize_path("/img.png").unwrap())
            .viewer_protocol_policy,
        "redirect-to-https"
    );
    assert_eq!(
        d.config.origins[0].s3_bucket(),
        Some(("photos", Some("us-east-1")))
    );
    assert!(env
        .cf
        .distribution_for_host("nope.cloudfront.localhost")
        .is_none());
    assert!(env.cf.certified_key(&d).unwrap().is_none());

    let disabled = env
        .cf(
            "PUT",
            &path,
            Some(&etag2),
            &dist_xml("ref-1", &oac, OPTIMIZED, false, ""),
        )
        .await;
    disabled.ok(200);
    env.cf("DELETE", &format!("distribution/{id}"), None, "")
        .await
        .err(400, "InvalidIfMatchVersion");
    env.cf(
        "DELETE",
        &format!("distribution/{id}"),
        Some(&disabled.etag()),
        "",
    )
    .await
    .ok(204);
    env.cf("GET", &format!("distribution/{id}"), None, "")
        .await
        .err(404, "NoSuchDistribution");
    assert!(env.cf.distribution_for_host(&host).is_none());
    env.cf(
        "DELETE",
        &format!("origin-access-control/{oac}"),
        Some(&oac_etag),
        "",
    )
    .await
    .ok(204);
}

#[tokio::test]
async fn deployment_status_settles() {
    let env = Env::new().await;
    let r = env
        .cf(
            "POST",
            "distribution",
            None,
            &dist_xml("s", "", OPTIMIZED, true, ""),
        )
        .await;
    r.ok(201);
    let d = env.cf.distribution(&env.account, &r.tag("Id")).unwrap();
    assert_eq!(d.status(d.last_modified), "InProgress");
    assert_eq!(
        d.status(d.last_modified + cloudfront::DEPLOY_DELAY),
        "Deployed"
    );
}

#[tokio::test]
async fn invalidations_and_the_edge_feed() {
    let env = Env::new().await;
    let id = env
        .cf(
            "POST",
            "distribution",
            None,
            &dist_xml("i", "", OPTIMIZED, true, ""),
        )
        .await
        .tag("Id");
    let batch = |r: &str, paths: &[&str]| {
        let items: String = paths.iter().map(|p| format!("<Path>{p}</Path>")).collect();
        format!(
            "<InvalidationBatch xmlns=\"{NS}\"><Paths><Quantity>{}</Quantity><Items>{items}</Items></Paths>\
             <CallerReference>{r}</CallerReference></InvalidationBatch>",
            paths.len()
        )
    };
    let (start, _) = env.cf.invalidations_since(0, 100).unwrap();
    assert!(start.is_empty());
    let path = format!("distribution/{id}/invalidation");
    let r = env.cf("POST", &path, None, &batch("a", &["/*"])).await;
    r.ok(201);
    let inv = r.tag("Id");
    assert!(inv.starts_with('I'));
    assert_eq!(r.tag("Status"), "InProgress");
    assert!(r.headers["location"]
        .to_str()
        .unwrap()
        .ends_with(&format!("{path}/{inv}")));
    let same = env.cf("POST", &path, None, &batch("a", &["/*"])).await;
    assert_eq!(same.tag("Id"), inv);
    env.cf("POST", &path, None, &batch("a", &["/other"]))
        .await
        .err(400, "InvalidArgument");
    env.cf("POST", &path, None, &batch("b", &["/a*b"]))
        .await
        .err(400, "InvalidArgument");
    env.cf("POST", &path, None, &batch("c", &["/img/*", "/index.html"]))
        .await
        .ok(201);
    env.cf(
        "POST",
        "distribution/ENOPE/invalidation",
        None,
        &batch("d", &["/*"]),
    )
    .await
    .err(404, "NoSuchDistribution");

    let g = env.cf("GET", &format!("{path}/{inv}"), None, "").await;
    assert_eq!(g.tag("Path"), "/*");
    env.cf("GET", &format!("{path}/INOPE"), None, "")
        .await
        .err(404, "NoSuchInvalidation");
    let l = env.cf("GET", &format!("{path}?MaxItems=1"), None, "").await;
    assert_eq!(
        (l.tag("Quantity"), l.tag("IsTruncated")),
        ("1".to_owned(), "true".to_owned())
    );

    let (events, cursor) = env.cf.invalidations_since(0, 100).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].paths, vec!["/*"]);
    assert_eq!(events[1].distribution_id, id);
    assert!(cloudfront::normalize_invalidation_path("/img/*")
        .unwrap()
        .covers(&cloudfront::normalize_path("/img/a.png").unwrap()));
    let (none, same_cursor) = env.cf.invalidations_since(cursor, 100).unwrap();
    assert!(none.is_empty());
    assert_eq!(same_cursor, cursor);
}

fn policy_xml(name: &str, min: i64, default: i64, max: i64) -> String {
    format!(
        "<CachePolicyConfig xmlns=\"{NS}\"><Comment>mine</Comment><Name>{name}</Name><DefaultTTL>{default}</DefaultTTL>\
         <MaxTTL>{max}</MaxTTL><MinTTL>{min}</MinTTL><ParametersInCacheKeyAndForwardedToOrigin>\
         <EnableAcceptEncodingGzip>true</EnableAcceptEncodingGzip><EnableAcceptEncodingBrotli>true</EnableAcceptEncodingBrotli>\
         <HeadersConfig><HeaderBehavior>whitelist</HeaderBehavior><Headers><Quantity>1</Quantity><Items><Name>Origin</Name></Items></Headers></HeadersConfig>\
         <CookiesConfig><CookieBehavior>none</CookieBehavior></CookiesConfig>\
         <QueryStringsConfig><QueryStringBehavior>all</QueryStringBehavior></QueryStringsConfig>\
         </ParametersInCacheKeyAndForwardedToOrigin></CachePolicyConfig>"
    )
}

#[tokio::test]
async fn cache_policies_managed_and_custom() {
    let env = Env::new().await;
    let m = env
        .cf("GET", &format!("cache-policy/{OPTIMIZED}"), None, "")
        .await;
    m.ok(200);
    assert_eq!(
        (
            m.tag("Name"),
            m.tag("MinTTL"),
            m.tag("DefaultTTL"),
            m.tag("MaxTTL")
        ),
        (
            "Managed-CachingOptimized".into(),
            "1".into(),
            "86400".into(),
            "31536000".into()
        )
    );
    assert_eq!(m.tag("EnableAcceptEncodingBrotli"), "true");
    let d = env
        .cf("GET", &format!("cache-policy/{DISABLED}/config"), None, "")
        .await;
    assert_eq!(
        (d.tag("MaxTTL"), d.tag("EnableAcceptEncodingGzip")),
        ("0".into(), "false".into())
    );
    env.cf(
        "DELETE",
        &format!("cache-policy/{OPTIMIZED}"),
        Some("x"),
        "",
    )
    .await
    .err(400, "IllegalDelete");
    env.cf(
        "PUT",
        &format!("cache-policy/{OPTIMIZED}"),
        Some("x"),
        &policy_xml("n", 0, 1, 2),
    )
    .await
    .err(400, "IllegalUpdate");

    let c = env
        .cf(
            "POST",
            "cache-policy",
            None,
            &policy_xml("mine", 0, 60, 600),
        )
        .await;
    c.ok(201);
    let id = c.tag("Id");
    env.cf(
        "POST",
        "cache-policy",
        None,
        &policy_xml("mine", 0, 60, 600),
    )
    .await
    .err(409, "CachePolicyAlreadyExists");
    env.cf(
        "POST",
        "cache-policy",
        None,
        &policy_xml("bad", 100, 60, 600),
    )
    .await
    .err(400, "InvalidArgument");
    let l = env.cf("GET", "cache-policy?Type=custom", None, "").await;
    assert_eq!(
        (l.tags("Type"), l.tag("Id")),
        (vec!["custom".to_owned()], id.clone())
    );
    let all = env.cf("GET", "cache-policy", None, "").await;
    assert_eq!(all.tags("Type").len(), 3);
    let u = env
        .cf(
            "PUT",
            &format!("cache-policy/{id}"),
            Some(&c.etag()),
            &policy_xml("mine", 0, 30, 600),
        )
        .await;
    u.ok(200);
    assert_eq!(u.tag("DefaultTTL"), "30");

    let dist = env
        .cf(
            "POST",
            "distribution",
            None,
            &dist_xml("cp", "", &id, true, ""),
        )
        .await;
    dist.ok(201);
    env.cf("DELETE", &format!("cache-policy/{id}"), Some(&u.etag()), "")
        .await
        .err(409, "CachePolicyInUse");
    let off = env
        .cf(
            "PUT",
            &format!("distribution/{}/config", dist.tag("Id")),
            Some(&dist.etag()),
            &dist_xml("cp", "", OPTIMIZED, true, ""),
        )
        .await;
    off.ok(200);
    env.cf("DELETE", &format!("cache-policy/{id}"), Some(&u.etag()), "")
        .await
        .ok(204);
    env.cf("GET", &format!("cache-policy/{id}"), None, "")
        .await
        .err(404, "NoSuchCachePolicy");
}

#[tokio::test]
async fn public_keys_and_key_groups() {
    let env = Env::new().await;
    let pem = rcgen::KeyPair::generate().unwrap().public_key_pem();
    let key_xml = |r: &str, name: &str, key: &str| {
        format!(
            "<PublicKeyConfig xmlns=\"{NS}\"><CallerReference>{r}</CallerReference><Name>{name}</Name>\
             <EncodedKey>{key}</EncodedKey><Comment>c</Comment></PublicKeyConfig>"
        )
    };
    let k = env
        .cf("POST", "public-key", None, &key_xml("r1", "k1", &pem))
        .await;
    k.ok(201);
    let kid = k.tag("Id");
    assert!(kid.starts_with('K'));
    assert_eq!(
        env.cf("POST", "public-key", None, &key_xml("r1", "k1", &pem))
            .await
            .tag("Id"),
        kid
    );
    env.cf("POST", "public-key", None, &key_xml("r1", "k2", &pem))
        .await
        .err(409, "PublicKeyAlreadyExists");
    env.cf(
        "POST",
        "public-key",
        None,
        &key_xml(
            "r2",
            "k2",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
        ),
    )
    .await
    .err(400, "InvalidArgument");
    assert!(env
        .cf("GET", &format!("public-key/{kid}/config"), None, "")
        .await
        .body
        .contains("BEGIN PUBLIC KEY"));
    assert_eq!(
        env.cf("GET", "public-key", None, "").await.tag("Quantity"),
        "1"
    );
    env.cf("GET", "public-key/KNOPE", None, "")
        .await
        .err(404, "NoSuchPublicKey");

    let group_xml = |name: &str, key: &str| {
        format!("<KeyGroupConfig xmlns=\"{NS}\"><Name>{name}</Name><Items><PublicKey>{key}</PublicKey></Items></KeyGroupConfig>")
    };
    env.cf("POST", "key-group", None, &group_xml("g", "KNOPE"))
        .await
        .err(404, "NoSuchPublicKey");
    let g = env
        .cf("POST", "key-group", None, &group_xml("g", &kid))
        .await;
    g.ok(201);
    let gid = g.tag("Id");
    env.cf("POST", "key-group", None, &group_xml("g", &kid))
        .await
        .err(409, "KeyGroupAlreadyExists");
    assert_eq!(
        env.cf("GET", &format!("key-group/{gid}"), None, "")
            .await
            .tag("PublicKey"),
        kid
    );
    assert_eq!(
        env.cf("GET", &format!("key-group/{gid}/config"), None, "")
            .await
            .tag("Name"),
        "g"
    );
    assert_eq!(
        env.cf("GET", "key-group", None, "").await.tag("Quantity"),
        "1"
    );

    let trusted = format!("<TrustedKeyGroups><Enabled>true</Enabled><Quantity>1</Quantity><Items><KeyGroup>{gid}</KeyGroup></Items></TrustedKeyGroups>");
    let body = dist_xml("kg", "", OPTIMIZED, true, "").replace(
        "<ViewerProtocolPolicy>redirect-to-https</ViewerProtocolPolicy>",
        &format!("{trusted}<ViewerProtocolPolicy>redirect-to-https</ViewerProtocolPolicy>"),
    );
    let d = env.cf("POST", "distribution", None, &body).await;
    d.ok(201);
    assert!(d
        .body
        .contains("<ActiveTrustedKeyGroups><Enabled>true</Enabled><Quantity>1</Quantity>"));
    env.cf(
        "POST",
        "distribution",
        None,
        &body
            .replace(&gid, "00000000-0000-0000-0000-000000000000")
            .replace("kg", "kg2"),
    )
    .await
    .err(400, "TrustedKeyGroupDoesNotExist");
    env.cf("DELETE", &format!("key-group/{gid}"), Some(&g.etag()), "")
        .await
        .err(409, "ResourceInUse");
    env.cf("DELETE", &format!("public-key/{kid}"), Some(&k.etag()), "")
        .await
        .err(409, "PublicKeyInUse");
    let off = env
        .cf(
            "PUT",
            &format!("distribution/{}/config", d.tag("Id")),
            Some(&d.etag()),
            &dist_xml("kg", "", OPTIMIZED, true, ""),
        )
        .await;
    off.ok(200);
    env.cf("DELETE", &format!("key-group/{gid}"), Some(&g.etag()), "")
        .await
        .ok(204);
    env.cf("DELETE", &format!("public-key/{kid}"), Some(&k.etag()), "")
        .await
        .ok(204);
}

#[tokio::test]
async fn acm_certificates_and_viewer_certificates() {
    let b64 = |s: &str| base64_encode(s.as_bytes());
    let site = rcgen::generate_simple_self_signed(vec![
        "cdn.example.com".into(),
        "www.example.com".into(),
    ])
    .unwrap();
    // The operator trusts this (self-signed) certificate as a root for aliases, as `[edge] alias_ca_file` would.
    let mut trust = cloudfront::AliasTrust::none();
    trust.add_pem(site.cert.pem().as_bytes()).unwrap();
    let env = Env::with_config(cloudfront::Config {
        alias_trust: Arc::new(trust),
        ..cloudfront::Config::default()
    })
    .await;
    let other = rcgen::generate_simple_self_signed(vec!["other.example.com".into()]).unwrap();
    let (cert, key) = (site.cert.pem(), site.signing_key.serialize_pem());

    let bad = env
        .acm("ImportCertificate", serde_json::json!({"Certificate": b64(&cert), "PrivateKey": b64(&other.signing_key.serialize_pem())}))
        .await;
    bad.err(400, "ValidationException");
    env.acm(
        "ImportCertificate",
        serde_json::json!({"Certificate": b64("junk"), "PrivateKey": b64(&key)}),
    )
    .await
    .err(400, "ValidationException");
    let r = env
        .acm(
            "ImportCertificate",
            serde_json::json!({"Certificate": b64(&cert), "PrivateKey": b64(&key)}),
        )
        .await;
    r.ok(200);
    let arn = r.json()["CertificateArn"].as_str().unwrap().to_owned();
    assert!(arn.starts_with(&format!(
        "arn:aws:acm:us-east-1:{}:certificate/",
        env.account
    )));

    let d = env
        .acm(
            "DescribeCertificate",
            serde_json::json!({"CertificateArn": arn}),
        )
        .await;
    let c = &d.json()["Certificate"];
    assert_eq!(
        (c["Status"].as_str(), c["Type"].as_str()),
        (Some("ISSUED"), Some("IMPORTED"))
    );
    assert_eq!(
        c["SubjectAlternativeNames"],
        serde_json::json!(["cdn.example.com", "www.example.com"])
    );
    assert_eq!(c["KeyAlgorithm"], "EC_prime256v1");
    assert!(c["NotAfter"].as_i64().unwrap() > c["NotBefore"].as_i64().unwrap());
    let g = env
        .acm("GetCertificate", serde_json::json!({"CertificateArn": arn}))
        .await;
    assert!(g.json()["Certificate"]
        .as_str()
        .unwrap()
        .contains("BEGIN CERTIFICATE"));
    assert!(!g.body.contains("PRIVATE KEY"));
    let l = env.acm("ListCertificates", serde_json::json!({})).await;
    assert_eq!(
        l.json()["CertificateSummaryList"][0]["CertificateArn"],
        arn.as_str()
    );
    env.acm(
        "DescribeCertificate",
        serde_json::json!({"CertificateArn": "arn:aws:acm:us-east-1:1:certificate/x"}),
    )
    .await
    .err(400, "InvalidArnException");
    let missing = format!(
        "arn:aws:acm:us-east-1:{}:certificate/8f1e2d3c-4b5a-4697-8877-665544332211",
        env.account
    );
    env.acm(
        "GetCertificate",
        serde_json::json!({"CertificateArn": missing}),
    )
    .await
    .err(400, "ResourceNotFoundException");

    let viewer = |arn: &str| {
        format!(
            "<Aliases><Quantity>1</Quantity><Items><CNAME>cdn.example.com</CNAME></Items></Aliases>\
             <ViewerCertificate><ACMCertificateArn>{arn}</ACMCertificateArn><SSLSupportMethod>sni-only</SSLSupportMethod>\
             <MinimumProtocolVersion>TLSv1.2_2021</MinimumProtocolVersion></ViewerCertificate>"
        )
    };
    env.cf(
        "POST",
        "distribution",
        None,
        &dist_xml("v0", "", OPTIMIZED, true, &viewer(&missing)),
    )
    .await
    .err(400, "InvalidViewerCertificate");
    // A certificate nobody trusts proves nothing about the name.
    let untrusted = rcgen::generate_simple_self_signed(vec!["cdn.example.com".into()]).unwrap();
    let r = env
        .acm(
            "ImportCertificate",
            serde_json::json!({"Certificate": b64(&untrusted.cert.pem()), "PrivateKey": b64(&untrusted.signing_key.serialize_pem())}),
        )
        .await;
    r.ok(200);
    let untrusted_arn = r.json()["CertificateArn"].as_str().unwrap().to_owned();
    env.cf(
        "POST",
        "distribution",
        None,
        &dist_xml("v0", "", OPTIMIZED, true, &viewer(&untrusted_arn)),
    )
    .await
    .err(400, "InvalidViewerCertificate");
    let dist = env
        .cf(
            "POST",
            "distribution",
            None,
            &dist_xml("v1", "", OPTIMIZED, true, &viewer(&arn)),
        )
        .await;
    dist.ok(201);
    env.cf(
        "POST",
        "distribution",
        None,
        &dist_xml("v2", "", OPTIMIZED, true, &viewer(&arn)),
    )
    .await
    .err(409, "CNAMEAlreadyExists");
    env.acm(
        "DeleteCertificate",
        serde_json::json!({"CertificateArn": arn}),
    )
    .await
    .err(400, "ResourceInUseException");

    // The edge: by alias, with the certificate and the unsealed key.
    let found = env
        .cf
        .distribution_for_host("CDN.example.com")
        .expect("alias");
    let ck = env.cf.certified_key(&found).unwrap().unwrap();
    assert_eq!(ck.private_key_pem.as_slice(), key.as_bytes());
    assert!(ck.certificate_pem.contains("BEGIN CERTIFICATE"));

    let off = env
        .cf(
            "PUT",
            &format!("distribution/{}/config", dist.tag("Id")),
            Some(&dist.etag()),
            &dist_xml("v1", "", OPTIMIZED, true, ""),
        )
        .await;
    off.ok(200);
    env.acm(
        "DeleteCertificate",
        serde_json::json!({"CertificateArn": arn}),
    )
    .await
    .ok(200);
    env.acm(
        "DescribeCertificate",
        serde_json::json!({"CertificateArn": arn}),
    )
    .await
    .err(400, "ResourceNotFoundException");

    // Audit: the import is recorded by ARN only, never with the certificate or the key.
    let events = env.audit_events();
    let import: Vec<&String> = events
        .iter()
        .filter(|e| e.contains("\"ImportCertificate\""))
        .collect();
    assert!(!import.is_empty());
    assert!(import
        .iter()
        .all(|e| !e.contains("PRIVATE KEY") && !e.contains(&b64(&key))));
}

#[tokio::test]
async fn authorization_and_audit() {
    let env = Env::new().await;
    let alice = env.user("alice").await;
    env.cf_as(&alice, "GET", "distribution", None, "")
        .await
        .err(403, "AccessDenied");
    env.cf_as(
        &alice,
        "POST",
        "origin-access-control",
        None,
        &oac_xml("a", "always"),
    )
    .await
    .err(403, "AccessDenied");
    let req = http::Request::builder()
        .method("POST")
        .uri("http://127.0.0.1:9000/")
        .header("x-amz-target", "CertificateManager.ListCertificates");
    let r = env.send(&alice, "acm", req, "{}".into()).await;
    r.err(400, "AccessDeniedException");
    env.cf("GET", "nothing-here", None, "")
        .await
        .err(404, "InvalidURI");

    // Identity policies decide: list on `*`, and per-distribution actions on the distribution's ARN.
    let dist = env
        .cf(
            "POST",
            "distribution",
            None,
            &dist_xml("authz", "", OPTIMIZED, true, ""),
        )
        .await;
    dist.ok(201);
    let id = dist.tag("Id");
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"cloudfront:ListDistributions","Resource":"*"}},{{"Effect":"Allow","Action":"cloudfront:GetDistribution","Resource":"arn:aws:cloudfront::{}:distribution/{id}"}}]}}"#,
        env.account
    );
    let bob = env.user_with("bob", Some(&policy)).await;
    env.cf_as(&bob, "GET", "distribution", None, "")
        .await
        .ok(200);
    env.cf_as(&bob, "GET", &format!("distribution/{id}"), None, "")
        .await
        .ok(200);
    env.cf_as(&bob, "GET", &format!("distribution/{id}/config"), None, "")
        .await
        .err(403, "AccessDenied");
    env.cf_as(&bob, "GET", "distribution/EOTHER", None, "")
        .await
        .err(403, "AccessDenied");

    let oac = env.create_oac("audited").await;
    oac.ok(201);
    let events = env.audit_events();
    let create = events
        .iter()
        .find(|e| e.contains("\"CreateOriginAccessControl\"") && !e.contains("AccessDenied"))
        .expect("audited");
    let v: serde_json::Value = serde_json::from_str(create).unwrap();
    assert_eq!(v["eventSource"], "cloudfront.amazonaws.com");
    assert_eq!(
        v["requestParameters"]["originAccessControlConfig"]["name"],
        "audited"
    );
    assert_eq!(
        v["responseElements"]["originAccessControl"]["id"],
        oac.tag("Id").as_str()
    );
    assert!(events
        .iter()
        .any(|e| e.contains("\"ListDistributions\"") && e.contains("AccessDenied")));
}

fn base64_encode(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
