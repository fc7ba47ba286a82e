//! `KeyManager` end to end in one process: memory meta (recording every committed byte), the real KMS engine
//! behind a real `api::Dispatcher` with `KmsService` registered, so every KMS request S3 makes on a caller's
//! behalf is authorized by key policies and audited exactly as in production.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use api::{ApiError, Dispatcher, Metrics, RequestContext};
use base64::Engine as _;
use iam_api::{IamService, StsService};
use kms_api::{DispatcherHandle, KmsClient, KmsService};
use md5::{Digest as _, Md5};
use objects::{BucketEncryption, EncryptionDescriptor};
use s3_api::{KeyService, ObjectIdentity, PutKey, SseRequest, SseResponse};
use serde_json::json;
use sse::{
    Config, KeyManager, MasterKeyRecord, MASTER_KEY_AAD, MASTER_KEY_RECORD, MASTER_KEY_TABLE,
};
use time::OffsetDateTime;
use zeroize::Zeroizing;

const REGION: &str = "us-east-1";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A memory backend that also keeps every byte ever committed (table names, keys, values, deleted or not).
struct Recording {
    inner: meta::MemoryBackend,
    log: Arc<Mutex<Vec<u8>>>,
}

impl meta::Backend for Recording {
    fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, meta::Error> {
        self.inner.get(table, key)
    }

    fn scan(&self, table: &str, range: &meta::Range) -> Result<Vec<meta::Entry>, meta::Error> {
        self.inner.scan(table, range)
    }

    fn commit(&self, batch: meta::WriteBatch) -> Result<(), meta::Error> {
        {
            let mut log = self.log.lock().unwrap();
            for (table, ops) in batch.tables() {
                log.extend_from_slice(table.as_bytes());
                for (k, v) in ops {
                    log.extend_from_slice(k);
                    if let Some(v) = v {
                        log.extend_from_slice(v);
                    }
                }
            }
        }
        self.inner.commit(batch)
    }
}

struct Env {
    store: meta::Store,
    log: Arc<Mutex<Vec<u8>>>,
    root: Arc<crypto::RootKey>,
    kms: kms::Kms,
    iam: iam::Iam,
    account: String,
    client: KmsClient,
    keys: KeyManager,
    _dispatcher: Arc<Dispatcher>,
    _dir: tempfile::TempDir,
}

impl Env {
    async fn new() -> Env {
        Env::with_config(Config::default()).await
    }

    async fn with_config(config: Config) -> Env {
        let log = Arc::new(Mutex::new(Vec::new()));
        let store = meta::Store::new(Recording {
            inner: meta::MemoryBackend::new(),
            log: log.clone(),
        })
        .unwrap();
        let root = Arc::new(crypto::RootKey::generate());
        let iam = iam::Iam::new(store.clone(), root.clone());
        let kms = kms::Kms::new(store.clone(), root.clone());
        let (account, _, _) = iam.create_account("test", None).await.unwrap();
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
        let handle = DispatcherHandle::new();
        let client = KmsClient::new(handle.clone(), "s3");
        let mut dispatcher = Dispatcher::new(iam.clone(), audit, REGION, Arc::new(Metrics::new()));
        dispatcher.register(Arc::new(IamService::new(iam.clone())));
        dispatcher.register(Arc::new(StsService::new(iam.clone())));
        dispatcher.register(Arc::new(KmsService::new(kms.clone(), iam.clone())));
        let dispatcher = Arc::new(dispatcher);
        handle.bind(&dispatcher);
        let keys = KeyManager::new(
            store.clone(),
            root.clone(),
            kms.clone(),
            client.clone(),
            config,
        );
        Env {
            store,
            log,
            root,
            kms,
            iam,
            account: account.id,
            client,
            keys,
            _dispatcher: dispatcher,
            _dir: dir,
        }
    }

    /// A user with an access key; the request context S3 would hold for it (plain HTTP from loopback).
    async fn user(&self, name: &str) -> RequestContext {
        self.iam
            .create_user(&self.account, name, None)
            .await
            .unwrap();
        let (key, _) = self
            .iam
            .create_access_key(&self.account, Some(name))
            .await
            .unwrap();
        let caller = self
            .iam
            .authenticate(&key.id)
            .unwrap()
            .unwrap()
            .caller
            .clone();
        RequestContext {
            request_id: "s3-request".into(),
            region: REGION.into(),
            service: "s3".into(),
            caller,
            source_ip: Some("127.0.0.1".parse().unwrap()),
            secure_transport: false,
            user_agent: "test".into(),
            time: OffsetDateTime::now_utc(),
            auth_type: api::AuthType::Header,
            signature_age_ms: Some(0),
            via: None,
            source_arn: None,
            source_account: None,
        }
    }

    fn user_arn(&self, name: &str) -> String {
        format!("arn:aws:iam::{}:user/{name}", self.account)
    }

    /// A customer-managed key whose policy delegates to IAM and adds `statements`; its ARN.
    async fn key(&self, statements: Vec<serde_json::Value>) -> String {
        let mut all = vec![json!({
            "Sid": "Enable IAM User Permissions", "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{}:root", self.account)},
            "Action": "kms:*", "Resource": "*"
        })];
        all.extend(statements);
        let policy = json!({"Version": "2012-10-17", "Statement": all}).to_string();
        self.kms
            .create_key(
                &self.account,
                REGION,
                kms::CreateKeyInput {
                    policy: Some(policy),
                    ..kms::CreateKeyInput::default()
                },
            )
            .await
            .unwrap()
            .arn
    }

    /// A key `users` may use through S3 only.
    async fn key_for(&self, users: &[&str]) -> String {
        let arns: Vec<String> = users.iter().map(|u| self.user_arn(u)).collect();
        self.key(vec![json!({
            "Effect": "Allow", "Principal": {"AWS": arns},
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*",
            "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}
        })])
        .await
    }

    fn record(&self, arn: &str) -> kms::KeyRecord {
        self.kms.resolve(&self.account, REGION, arn).unwrap()
    }

    fn object(&self, key: &str, default: Option<BucketEncryption>) -> ObjectIdentity {
        ObjectIdentity {
            bucket: "bucket".into(),
            key: key.into(),
            region: REGION.into(),
            bucket_owner: self.account.clone(),
            bucket_default: default,
        }
    }

    async fn put(
        &self,
        ctx: &RequestContext,
        object: &ObjectIdentity,
        sse: &SseRequest,
    ) -> Result<PutKey, ApiError> {
        self.keys.validate_put(sse, ctx.secure_transport)?;
        self.keys.key_for_put(ctx, object, sse).await
    }

    /// Puts, then reads the key back with `read` headers: same key, and the same response from GET and HEAD.
    async fn round_trip(
        &self,
        ctx: &RequestContext,
        object: &ObjectIdentity,
        sse: &SseRequest,
        read: &SseRequest,
    ) -> (PutKey, SseResponse) {
        let put = self.put(ctx, object, sse).await.unwrap();
        let got = self
            .keys
            .key_for_get(ctx, object, &put.encryption.descriptor, read)
            .await
            .unwrap();
        assert_eq!(
            *got.data_key, *put.encryption.data_key,
            "the data key must come back"
        );
        let head = self
            .keys
            .describe(&put.encryption.descriptor, read)
            .unwrap();
        assert_eq!(head, got.response, "HEAD and GET answer the same headers");
        (put, got.response)
    }

    fn committed(&self) -> Vec<u8> {
        self.log.lock().unwrap().clone()
    }
}

fn headers(f: impl FnOnce(&mut SseRequest)) -> SseRequest {
    let mut r = SseRequest::default();
    f(&mut r);
    r
}

fn kms_headers(key: Option<&str>, bucket_key: Option<bool>) -> SseRequest {
    headers(|r| {
        r.algorithm = Some("aws:kms".into());
        r.kms_key_id = key.map(str::to_owned);
        r.bucket_key_enabled = bucket_key;
    })
}

fn customer(key: &[u8]) -> SseRequest {
    headers(|r| {
        r.customer_algorithm = Some("AES256".into());
        r.customer_key = Some(Zeroizing::new(B64.encode(key)));
        r.customer_key_md5 = Some(B64.encode(Md5::digest(key)));
    })
}

fn kms_default(key: Option<&str>, bucket_key: bool) -> Option<BucketEncryption> {
    Some(BucketEncryption {
        sse_algorithm: "aws:kms".into(),
        kms_key_id: key.map(str::to_owned),
        bucket_key_enabled: bucket_key,
    })
}

fn aes256() -> SseResponse {
    SseResponse {
        algorithm: Some("AES256".into()),
        ..SseResponse::default()
    }
}

fn kms_response(arn: &str, bucket_key: bool) -> SseResponse {
    SseResponse {
        algorithm: Some("aws:kms".into()),
        kms_key_id: Some(arn.into()),
        bucket_key_enabled: bucket_key.then_some(true),
        ..SseResponse::default()
    }
}

#[track_caller]
fn assert_err(r: Result<impl Sized, ApiError>, status: u16, code: &str) -> String {
    match r {
        Ok(_) => panic!("expected {code}, got success"),
        Err(e) => {
            assert_eq!((e.status, e.code.as_str()), (status, code), "{}", e.message);
            e.message
        }
    }
}

fn descriptor(put: &PutKey) -> serde_json::Value {
    put.encryption.descriptor.0.clone()
}

#[tokio::test]
async fn encryption_matrix() {
    let env = Env::new().await;
    let alice = env.user("alice").await;
    let key = env.key_for(&["alice"]).await;
    let none = SseRequest::default();

    // Nothing requested, no default: SSE-S3, always.
    let (put, get) = env
        .round_trip(&alice, &env.object("plain", None), &none, &none)
        .await;
    assert_eq!(put.response, aes256());
    assert_eq!(get, aes256());
    assert_eq!(descriptor(&put)["sse"], "AES256");

    // SSE-S3 requested.
    let sse_s3 = headers(|r| r.algorithm = Some("AES256".into()));
    let (put, get) = env
        .round_trip(&alice, &env.object("s3", None), &sse_s3, &none)
        .await;
    assert_eq!((put.response.clone(), get), (aes256(), aes256()));

    // SSE-KMS with an explicit key (by ARN; the response always names the ARN).
    let (put, get) = env
        .round_trip(
            &alice,
            &env.object("kms", None),
            &kms_headers(Some(&key), None),
            &none,
        )
        .await;
    assert_eq!(put.response, kms_response(&key, false));
    assert_eq!(get, kms_response(&key, false));
    let d = descriptor(&put);
    assert_eq!(
        d["context"],
        json!({"aws:s3:arn": "arn:aws:s3:::bucket/kms"})
    );
    assert!(d.get("bucket_key").is_none());

    // SSE-KMS by key id: KMS resolves it in the caller's account.
    let key_id = key.rsplit('/').next().unwrap();
    let (put, _) = env
        .round_trip(
            &alice,
            &env.object("kms-id", None),
            &kms_headers(Some(key_id), None),
            &none,
        )
        .await;
    assert_eq!(put.response.kms_key_id.as_deref(), Some(key.as_str()));

    // SSE-KMS with the bucket default's key.
    let object = env.object("kms-default", kms_default(Some(&key), false));
    let (put, get) = env
        .round_trip(&alice, &object, &kms_headers(None, None), &none)
        .await;
    assert_eq!(
        (put.response, get.clone()),
        (kms_response(&key, false), kms_response(&key, false))
    );

    // SSE-KMS without any key: the AWS-managed aws/s3 key, created on first use.
    let (put, get) = env
        .round_trip(
            &alice,
            &env.object("kms-aws", None),
            &kms_headers(None, None),
            &none,
        )
        .await;
    let managed = env.record("alias/aws/s3");
    assert_eq!(managed.key.key_manager, kms::KeyManager::Aws);
    assert_eq!(put.response, kms_response(&managed.key.arn, false));
    assert_eq!(get, kms_response(&managed.key.arn, false));

    // SSE-KMS with an encryption context: merged with aws:s3:arn, echoed on PUT only.
    let with_context = headers(|r| {
        r.algorithm = Some("aws:kms".into());
        r.kms_key_id = Some(key.clone());
        r.kms_context = Some(B64.encode(r#"{"tenant":"t1"}"#));
    });
    let (put, get) = env
        .round_trip(&alice, &env.object("ctx", None), &with_context, &none)
        .await;
    let echoed: BTreeMap<String, String> = serde_json::from_slice(
        &B64.decode(put.response.kms_context.as_deref().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(echoed["tenant"], "t1");
    assert_eq!(echoed["aws:s3:arn"], "arn:aws:s3:::bucket/ctx");
    assert_eq!(get, kms_response(&key, false));

    // SSE-KMS with an S3 Bucket Key (per request): the bucket ARN is the context, each object has a salt.
    let (put, get) = env
        .round_trip(
            &alice,
            &env.object("bk", None),
            &kms_headers(Some(&key), Some(true)),
            &none,
        )
        .await;
    assert_eq!(
        (put.response.clone(), get),
        (kms_response(&key, true), kms_response(&key, true))
    );
    let d = descriptor(&put);
    assert_eq!(d["context"], json!({"aws:s3:arn": "arn:aws:s3:::bucket"}));
    assert!(d["bucket_key"]["salt"].is_string());

    // Bucket Keys from the bucket default; two objects share the KMS ciphertext but not their data keys.
    let default = kms_default(Some(&key), true);
    let (a, get) = env
        .round_trip(&alice, &env.object("bk-a", default.clone()), &none, &none)
        .await;
    assert_eq!(get, kms_response(&key, true));
    let (b, _) = env
        .round_trip(&alice, &env.object("bk-b", default), &none, &none)
        .await;
    assert_eq!(descriptor(&a)["ciphertext"], descriptor(&b)["ciphertext"]);
    assert_ne!(*a.encryption.data_key, *b.encryption.data_key);

    // SSE-C: no x-amz-server-side-encryption in the answer; the MD5 is echoed.
    let c = customer(&[42; 32]);
    let (put, get) = env.round_trip(&alice, &env.object("c", None), &c, &c).await;
    let expected = SseResponse {
        customer_algorithm: Some("AES256".into()),
        customer_key_md5: c.customer_key_md5.clone(),
        ..SseResponse::default()
    };
    assert_eq!((put.response.clone(), get), (expected.clone(), expected));
    // A read may omit the MD5 (S3 answers it).
    let mut no_md5 = c.clone();
    no_md5.customer_key_md5 = None;
    env.keys
        .key_for_get(
            &alice,
            &env.object("c", None),
            &put.encryption.descriptor,
            &no_md5,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn bucket_default_and_explicit_headers() {
    let env = Env::new().await;
    let alice = env.user("alice").await;
    let key = env.key_for(&["alice"]).await;
    let other = env.key_for(&["alice"]).await;
    let s3_default = Some(BucketEncryption {
        sse_algorithm: "AES256".into(),
        kms_key_id: None,
        bucket_key_enabled: false,
    });
    let none = SseRequest::default();

    // An SSE-S3 default, overridden by aws:kms.
    let put = env
        .put(&alice, &env.object("a", s3_default.clone()), &none)
        .await
        .unwrap();
    assert_eq!(put.response, aes256());
    let put = env
        .put(
            &alice,
            &env.object("b", s3_default),
            &kms_headers(Some(&key), None),
        )
        .await
        .unwrap();
    assert_eq!(put.response, kms_response(&key, false));

    // An SSE-KMS default with Bucket Keys, overridden by AES256, by another key, and by the Bucket Key header.
    let default = kms_default(Some(&key), true);
    let aes = headers(|r| r.algorithm = Some("AES256".into()));
    let put = env
        .put(&alice, &env.object("c", default.clone()), &aes)
        .await
        .unwrap();
    assert_eq!(put.response, aes256());
    let put = env
        .put(
            &alice,
            &env.object("d", default.clone()),
            &kms_headers(Some(&other), None),
        )
        .await
        .unwrap();
    assert_eq!(
        put.response,
        kms_response(&other, true),
        "the bucket's Bucket Key setting applies"
    );
    let put = env
        .put(
            &alice,
            &env.object("e", default.clone()),
            &kms_headers(None, Some(false)),
        )
        .await
        .unwrap();
    assert_eq!(put.response, kms_response(&key, false));
    let no_bk = headers(|r| r.bucket_key_enabled = Some(false));
    let put = env
        .put(&alice, &env.object("f", default), &no_bk)
        .await
        .unwrap();
    assert_eq!(put.response, kms_response(&key, false));

    // A default without a key id uses aws/s3.
    let put = env
        .put(&alice, &env.object("g", kms_default(None, false)), &none)
        .await
        .unwrap();
    assert_eq!(
        put.response.kms_key_id,
        Some(env.record("alias/aws/s3").key.arn.clone())
    );
}

#[tokio::test]
async fn invalid_and_conflicting_headers() {
    let env = Env::new().await;
    let alice = env.user("alice").await;
    let key = env.key_for(&["alice"]).await;
    let obj = env.object("o", None);
    let v = |sse: SseRequest| env.keys.validate_put(&sse, false);

    let m = assert_err(
        v(headers(|r| {
            r.kms_key_id = Some(key.clone());
        })),
        400,
        "InvalidArgument",
    );
    assert!(m.contains("requires HTTP header x-amz-server-side-encryption : aws:kms"));
    assert_err(
        v(headers(|r| {
            r.algorithm = Some("AES256".into());
            r.kms_key_id = Some(key.clone());
        })),
        400,
        "InvalidArgument",
    );
    assert_err(
        v(headers(|r| r.algorithm = Some("AES512".into()))),
        400,
        "InvalidArgument",
    );
    assert_err(
        v(headers(|r| r.algorithm = Some("aws:kms:dsse".into()))),
        501,
        "NotImplemented",
    );
    let mut both = customer(&[1; 32]);
    both.algorithm = Some("AES256".into());
    assert!(assert_err(v(both), 400, "InvalidArgument").contains("incompatible"));
    let mut c = customer(&[1; 32]);
    c.customer_algorithm = Some("aws:kms".into());
    assert_err(v(c), 400, "InvalidEncryptionAlgorithmError");
    let mut c = customer(&[1; 32]);
    c.customer_key_md5 = Some(B64.encode(Md5::digest(b"another key")));
    assert!(assert_err(v(c), 400, "InvalidArgument").contains("MD5"));
    assert!(assert_err(v(customer(&[1; 16])), 400, "InvalidArgument")
        .contains("secret key was invalid"));
    for context in [
        "%%%",
        &B64.encode("[1,2]"),
        &B64.encode(r#"{"a":{"b":"c"}}"#),
    ] {
        let r = headers(|r| {
            r.algorithm = Some("aws:kms".into());
            r.kms_context = Some(context.to_owned());
        });
        assert!(assert_err(v(r), 400, "InvalidArgument").contains("string-string map"));
    }
    // The reserved aws:s3:arn key cannot point elsewhere.
    let spoof = headers(|r| {
        r.algorithm = Some("aws:kms".into());
        r.kms_key_id = Some(key.clone());
        r.kms_context = Some(B64.encode(r#"{"aws:s3:arn":"arn:aws:s3:::bucket/other"}"#));
    });
    assert_err(env.put(&alice, &obj, &spoof).await, 400, "InvalidArgument");

    // SSE-C over plain HTTP: refused unless the peer is on loopback; fine over TLS from anywhere.
    let mut remote = alice.clone();
    remote.source_ip = Some("192.0.2.7".parse().unwrap());
    assert!(assert_err(
        env.put(&remote, &obj, &customer(&[1; 32])).await,
        400,
        "InvalidArgument"
    )
    .contains("secure connection"));
    remote.secure_transport = true;
    env.put(&remote, &obj, &customer(&[1; 32])).await.unwrap();
    env.put(&alice, &obj, &customer(&[1; 32])).await.unwrap();

    // Reads: the method cannot be changed, SSE-C headers only fit SSE-C objects, and SSE-C objects need them.
    let s3_obj = env.put(&alice, &obj, &SseRequest::default()).await.unwrap();
    let kms_obj = env
        .put(&alice, &obj, &kms_headers(Some(&key), None))
        .await
        .unwrap();
    let c_obj = env.put(&alice, &obj, &customer(&[1; 32])).await.unwrap();
    for stored in [&s3_obj, &kms_obj] {
        let d = &stored.encryption.descriptor;
        let m = assert_err(
            env.keys
                .key_for_get(&alice, &obj, d, &customer(&[1; 32]))
                .await,
            400,
            "InvalidRequest",
        );
        assert!(m.contains("not applicable"));
        assert_err(
            env.keys.describe(d, &customer(&[1; 32])),
            400,
            "InvalidRequest",
        );
        assert_err(
            env.keys
                .key_for_get(
                    &alice,
                    &obj,
                    d,
                    &headers(|r| r.algorithm = Some("AES256".into())),
                )
                .await,
            400,
            "InvalidArgument",
        );
    }
    let d = &c_obj.encryption.descriptor;
    let m = assert_err(
        env.keys
            .key_for_get(&alice, &obj, d, &SseRequest::default())
            .await,
        400,
        "InvalidRequest",
    );
    assert!(m.contains("correct parameters must be provided"));
    assert_err(
        env.keys.describe(d, &SseRequest::default()),
        400,
        "InvalidRequest",
    );
    // A missing or unknown KMS key is KMS's NotFound, as S3 reports it.
    assert_err(
        env.put(&alice, &obj, &kms_headers(Some("alias/nope"), None))
            .await,
        400,
        "KMS.NotFoundException",
    );
}

#[tokio::test]
async fn wrong_customer_key_is_not_damage() {
    let env = Env::new().await;
    let alice = env.user("alice").await;
    let obj = env.object("c", None);
    let right = customer(&[5; 32]);
    let put = env.put(&alice, &obj, &right).await.unwrap();
    let d = put.encryption.descriptor.clone();

    // The wrong key (or one of the wrong length) is S3's 403, on GET and HEAD alike.
    for wrong in [customer(&[6; 32]), customer(&[5; 31])] {
        let m = assert_err(
            env.keys.key_for_get(&alice, &obj, &d, &wrong).await,
            403,
            "AccessDenied",
        );
        assert!(m.contains("correct secret key"));
        assert_err(env.keys.describe(&d, &wrong), 403, "AccessDenied");
    }
    // A damaged check value is damage (500), even with the right key: never mistaken for a wrong key.
    let mut damaged = d.0.clone();
    let mut check = B64.decode(damaged["check"].as_str().unwrap()).unwrap();
    check[20] ^= 1;
    damaged["check"] = json!(B64.encode(&check));
    let damaged = EncryptionDescriptor(damaged);
    assert_err(
        env.keys.key_for_get(&alice, &obj, &damaged, &right).await,
        500,
        "InternalFailure",
    );
    assert_err(env.keys.describe(&damaged, &right), 500, "InternalFailure");
    // The right key still works on the intact descriptor, and derives the object's data key.
    let got = env
        .keys
        .key_for_get(&alice, &obj, &d, &right)
        .await
        .unwrap();
    assert_eq!(*got.data_key, *put.encryption.data_key);
    // The same key on another object gives another data key.
    let other = env
        .put(&alice, &env.object("c2", None), &right)
        .await
        .unwrap();
    assert_ne!(*other.encryption.data_key, *put.encryption.data_key);

    // SSE-S3: a damaged wrapped key, or a descriptor moved onto another object, is damage too.
    let s3 = env.put(&alice, &obj, &SseRequest::default()).await.unwrap();
    let mut bad = s3.encryption.descriptor.0.clone();
    let mut wrapped = B64.decode(bad["wrapped"].as_str().unwrap()).unwrap();
    wrapped[30] ^= 1;
    bad["wrapped"] = json!(B64.encode(&wrapped));
    let none = SseRequest::default();
    assert_err(
        env.keys
            .key_for_get(&alice, &obj, &EncryptionDescriptor(bad), &none)
            .await,
        500,
        "InternalFailure",
    );
    assert_err(
        env.keys
            .key_for_get(
                &alice,
                &env.object("elsewhere", None),
                &s3.encryption.descriptor,
                &none,
            )
            .await,
        500,
        "InternalFailure",
    );
}

#[tokio::test]
async fn kms_calls_for_ten_thousand_puts() {
    let env = Env::new().await;
    let alice = env.user("alice").await;
    let key = env.key_for(&["alice"]).await;

    let with_bucket_key = kms_default(Some(&key), true);
    for i in 0..10_000 {
        let obj = env.object(&format!("bk/{i}"), with_bucket_key.clone());
        env.keys
            .key_for_put(&alice, &obj, &SseRequest::default())
            .await
            .unwrap();
    }
    let bucket_key_calls = env.keys.kms_calls();
    println!("KMS calls for 10,000 PUTs with S3 Bucket Keys: {bucket_key_calls}");
    assert!(bucket_key_calls <= 10, "{bucket_key_calls}");

    let without = kms_default(Some(&key), false);
    for i in 0..10_000 {
        let obj = env.object(&format!("plain/{i}"), without.clone());
        env.keys
            .key_for_put(&alice, &obj, &SseRequest::default())
            .await
            .unwrap();
    }
    let calls = env.keys.kms_calls() - bucket_key_calls;
    println!("KMS calls for 10,000 PUTs without S3 Bucket Keys: {calls}");
    assert_eq!(calls, 10_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_puts_share_one_bucket_key() {
    let env = std::sync::Arc::new(Env::new().await);
    let alice = env.user("alice").await;
    let key = env.key_for(&["alice"]).await;
    let with_bucket_key = kms_default(Some(&key), true);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..64 {
        let (env, alice, default) = (env.clone(), alice.clone(), with_bucket_key.clone());
        tasks.spawn(async move {
            let obj = env.object(&format!("burst/{i}"), default);
            env.keys
                .key_for_put(&alice, &obj, &SseRequest::default())
                .await
                .map(|_| ())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap().unwrap();
    }
    // A burst of misses on a cold cache fetches the bucket key once; the others wait for it.
    assert_eq!(env.keys.kms_calls(), 1);
}

#[tokio::test]
async fn key_policy_decides_reads_through_s3() {
    let env = Env::new().await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    let via_s3 = json!({"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}});
    let key = env
        .key(vec![
            json!({"Effect": "Allow", "Principal": {"AWS": [env.user_arn("alice"), env.user_arn("bob")]},
                   "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*", "Condition": via_s3}),
            json!({"Effect": "Deny", "Principal": {"AWS": env.user_arn("bob")},
                   "Action": "kms:Decrypt", "Resource": "*", "Condition": via_s3}),
        ])
        .await;
    let none = SseRequest::default();

    // Per-object SSE-KMS: bob may write but not read.
    let obj = env.object("o", None);
    let put = env
        .put(&bob, &obj, &kms_headers(Some(&key), None))
        .await
        .unwrap();
    let m = assert_err(
        env.keys
            .key_for_get(&bob, &obj, &put.encryption.descriptor, &none)
            .await,
        403,
        "AccessDenied",
    );
    assert_eq!(m, "Access Denied");
    env.keys
        .key_for_get(&alice, &obj, &put.encryption.descriptor, &none)
        .await
        .unwrap();

    // With a Bucket Key that alice has just unwrapped (and cached), bob still goes to KMS and is refused.
    let obj = env.object("bk", kms_default(Some(&key), true));
    let put = env.put(&alice, &obj, &none).await.unwrap();
    let d = &put.encryption.descriptor;
    env.keys.key_for_get(&alice, &obj, d, &none).await.unwrap();
    let before = env.keys.kms_calls();
    assert_err(
        env.keys.key_for_get(&bob, &obj, d, &none).await,
        403,
        "AccessDenied",
    );
    assert_eq!(env.keys.kms_calls(), before + 1, "bob's read reached KMS");
    // A principal the key policy does not name is refused writes too.
    let eve = env.user("eve").await;
    assert_err(
        env.put(&eve, &env.object("e", None), &kms_headers(Some(&key), None))
            .await,
        403,
        "AccessDenied",
    );
}

#[tokio::test]
async fn cached_bucket_keys_are_per_principal_and_source() {
    let env = Env::new().await;
    let alice = env.user("alice").await;
    let carol = env.user("carol").await;
    let key = env.key_for(&["alice", "carol"]).await;
    let none = SseRequest::default();
    let default = kms_default(Some(&key), true);

    let put = env
        .put(&alice, &env.object("a", default.clone()), &none)
        .await
        .unwrap();
    assert_eq!(env.keys.kms_calls(), 1);
    // Carol writing to the same bucket gets her own bucket key from KMS.
    let put_c = env
        .put(&carol, &env.object("c", default.clone()), &none)
        .await
        .unwrap();
    assert_eq!(env.keys.kms_calls(), 2);
    assert_ne!(
        descriptor(&put)["ciphertext"],
        descriptor(&put_c)["ciphertext"]
    );
    env.put(&carol, &env.object("c2", default.clone()), &none)
        .await
        .unwrap();
    assert_eq!(env.keys.kms_calls(), 2);

    let obj = env.object("a", default.clone());
    let d = &put.encryption.descriptor;
    env.keys.key_for_get(&alice, &obj, d, &none).await.unwrap();
    assert_eq!(env.keys.kms_calls(), 3, "the first read decrypts");
    for _ in 0..100 {
        env.keys.key_for_get(&alice, &obj, d, &none).await.unwrap();
    }
    assert_eq!(
        env.keys.kms_calls(),
        3,
        "repeated reads by the same principal are cached"
    );
    env.keys.key_for_get(&carol, &obj, d, &none).await.unwrap();
    assert_eq!(
        env.keys.kms_calls(),
        4,
        "another principal is authorized by KMS"
    );
    // The same principal on behalf of another source (a second CDN distribution) reaches KMS again.
    let mut via_cdn = alice.clone();
    via_cdn.source_arn = Some(format!(
        "arn:aws:cloudfront::{}:distribution/E1",
        env.account
    ));
    via_cdn.source_account = Some(env.account.clone());
    env.keys
        .key_for_get(&via_cdn, &obj, d, &none)
        .await
        .unwrap();
    assert_eq!(env.keys.kms_calls(), 5);
    via_cdn.source_arn = Some(format!(
        "arn:aws:cloudfront::{}:distribution/E2",
        env.account
    ));
    env.keys
        .key_for_get(&via_cdn, &obj, d, &none)
        .await
        .unwrap();
    env.keys
        .key_for_get(&via_cdn, &obj, d, &none)
        .await
        .unwrap();
    assert_eq!(env.keys.kms_calls(), 6);
    // Another object under the same bucket key reuses the unwrapped key, with its own derived data key.
    let obj2 = env.object("a2", default);
    let put2 = env.put(&alice, &obj2, &none).await.unwrap();
    let got2 = env
        .keys
        .key_for_get(&alice, &obj2, &put2.encryption.descriptor, &none)
        .await
        .unwrap();
    assert_eq!(*got2.data_key, *put2.encryption.data_key);
    assert_eq!(env.keys.kms_calls(), 6);
    assert_eq!(
        env.keys.cache_stats(),
        sse::CacheStats {
            write_entries: 2,
            read_entries: 4
        }
    );
}

#[tokio::test]
async fn disabled_rotated_and_expired_keys() {
    let env = Env::new().await;
    let alice = env.user("alice").await;
    let key = env.key_for(&["alice"]).await;
    let none = SseRequest::default();
    let default = kms_default(Some(&key), true);
    let obj = env.object("a", default.clone());
    let put = env.put(&alice, &obj, &none).await.unwrap();
    env.keys
        .key_for_get(&alice, &obj, &put.encryption.descriptor, &none)
        .await
        .unwrap();
    assert_eq!(
        env.keys.cache_stats(),
        sse::CacheStats {
            write_entries: 1,
            read_entries: 1
        }
    );
    assert_eq!(env.keys.kms_calls(), 2);

    // Disabled: new writes and reads fail as S3 reports it, and every cached key under it is gone.
    env.kms.disable_key(&env.record(&key)).await.unwrap();
    assert_err(
        env.put(&alice, &env.object("b", default.clone()), &none)
            .await,
        400,
        "KMS.DisabledException",
    );
    assert_eq!(env.keys.kms_calls(), 3, "the failing write asked KMS");
    assert_eq!(
        env.keys.cache_stats(),
        sse::CacheStats {
            write_entries: 0,
            read_entries: 0
        }
    );
    assert_err(
        env.keys
            .key_for_get(&alice, &obj, &put.encryption.descriptor, &none)
            .await,
        400,
        "KMS.DisabledException",
    );
    // Re-enabled: a fresh bucket key from KMS.
    env.kms.enable_key(&env.record(&key)).await.unwrap();
    let again = env
        .put(&alice, &env.object("c", default.clone()), &none)
        .await
        .unwrap();
    assert_eq!(env.keys.kms_calls(), 5);
    assert_ne!(
        descriptor(&again)["ciphertext"],
        descriptor(&put)["ciphertext"]
    );

    // Rotated: the next write takes a bucket key under the new material; old objects still read.
    env.kms
        .rotate_key_on_demand(&env.record(&key), OffsetDateTime::now_utc())
        .await
        .unwrap();
    let rotated = env
        .put(&alice, &env.object("d", default.clone()), &none)
        .await
        .unwrap();
    assert_eq!(env.keys.kms_calls(), 6);
    assert_ne!(
        descriptor(&rotated)["ciphertext"],
        descriptor(&again)["ciphertext"]
    );
    env.put(&alice, &env.object("e", default.clone()), &none)
        .await
        .unwrap();
    assert_eq!(env.keys.kms_calls(), 6);
    let got = env
        .keys
        .key_for_get(&alice, &obj, &put.encryption.descriptor, &none)
        .await
        .unwrap();
    assert_eq!(*got.data_key, *put.encryption.data_key);

    // A zero TTL never reuses a bucket key: every write and read asks KMS.
    let env = Env::with_config(Config {
        bucket_key_ttl: std::time::Duration::ZERO,
        read_cache_ttl: std::time::Duration::ZERO,
        ..Config::default()
    })
    .await;
    let alice = env.user("alice").await;
    let key = env.key_for(&["alice"]).await;
    let default = kms_default(Some(&key), true);
    for i in 0..5 {
        let obj = env.object(&format!("k{i}"), default.clone());
        let put = env.put(&alice, &obj, &none).await.unwrap();
        env.keys
            .key_for_get(&alice, &obj, &put.encryption.descriptor, &none)
            .await
            .unwrap();
    }
    assert_eq!(env.keys.kms_calls(), 10);
}

#[tokio::test]
async fn no_key_plaintext_reaches_the_metadata_store() {
    let env = Env::new().await;
    let alice = env.user("alice").await;
    let key = env.key_for(&["alice"]).await;
    let customer_key = [0x5c; 32];
    let cases = [
        ("s3", SseRequest::default(), None),
        ("kms", kms_headers(Some(&key), None), None),
        ("aws", kms_headers(None, None), None),
        ("bk", SseRequest::default(), kms_default(Some(&key), true)),
        ("c", customer(&customer_key), None),
    ];
    let mut secrets: Vec<Vec<u8>> = vec![customer_key.to_vec()];
    let mut stored = Vec::new();
    for (name, sse, default) in cases {
        let obj = env.object(name, default);
        let put = env.put(&alice, &obj, &sse).await.unwrap();
        secrets.push(put.encryption.data_key.to_vec());
        let d = put.encryption.descriptor.0.clone();
        if d.get("bucket_key").is_some() {
            // The bucket key itself, as KMS unwraps it.
            let context: BTreeMap<String, String> =
                serde_json::from_value(d["context"].clone()).unwrap();
            let ciphertext = B64.decode(d["ciphertext"].as_str().unwrap()).unwrap();
            let bk = env
                .client
                .decrypt(&alice, &ciphertext, &context)
                .await
                .unwrap();
            secrets.push(bk.plaintext.to_vec());
        }
        stored.push((name, serde_json::to_vec(&d).unwrap()));
    }
    // Persist the descriptors as the object engine would.
    env.store
        .transact(move |txn| {
            for (name, d) in stored {
                txn.put("test.objects", name.as_bytes().to_vec(), d);
            }
            Ok::<_, meta::Error>(())
        })
        .unwrap();

    // The master key exists only sealed by the root of trust, bound to its name.
    let record: MasterKeyRecord = env
        .store
        .get_json(MASTER_KEY_TABLE, MASTER_KEY_RECORD)
        .unwrap()
        .unwrap();
    let sealed = B64.decode(&record.sealed).unwrap();
    let master = crypto::open(&env.root, MASTER_KEY_AAD, &sealed).unwrap();
    assert_eq!(master.len(), 32);
    assert!(crypto::open(&env.root, b"coffer:sse:s3-master-key:2", &sealed).is_err());
    secrets.push(master.to_vec());

    let committed = env.committed();
    assert!(!committed.is_empty());
    for secret in &secrets {
        for needle in [
            secret.clone(),
            B64.encode(secret).into_bytes(),
            hex_of(secret).into_bytes(),
        ] {
            assert!(
                !committed
                    .windows(needle.len())
                    .any(|w| w == needle.as_slice()),
                "a key reached the metadata store"
            );
        }
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
