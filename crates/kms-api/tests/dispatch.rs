//! KMS through the real dispatch path: SigV4-signed JSON 1.1 requests into `api::Dispatcher` with the identity
//! and KMS engines on in-memory storage and a real audit log, checking responses, errors, authorization by key
//! policies, grants and condition keys, the in-process client, and what the audit trail records.

use std::collections::BTreeMap;
use std::sync::Arc;

use api::{Dispatcher, Metrics, Peer};
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use iam_api::{IamService, StsService};
use kms_api::{DataKeySpec, DispatcherHandle, KmsClient, KmsService};
use serde_json::{json, Value};
use sigv4::{sign_request, Credentials, SigningParams, UriMode};
use time::OffsetDateTime;

struct Env {
    dispatcher: Arc<Dispatcher>,
    kms_service: Arc<KmsService>,
    iam: iam::Iam,
    audit: Arc<audit::AuditLog>,
    account: String,
    root: Credentials,
    client: KmsClient,
    _dir: tempfile::TempDir,
}

#[derive(Debug)]
struct Resp {
    status: u16,
    body: Value,
}

impl Resp {
    #[track_caller]
    fn ok(&self) -> &Value {
        assert_eq!(self.status, 200, "{}", self.body);
        &self.body
    }

    #[track_caller]
    fn err(&self, code: &str) -> String {
        assert_eq!(self.body["__type"], code, "{}", self.body);
        assert_eq!(
            self.status,
            if code == "KMSInternalException" {
                500
            } else {
                400
            }
        );
        self.body["message"].as_str().unwrap_or_default().to_owned()
    }
}

fn creds(id: &str, secret: &str) -> Credentials {
    Credentials {
        access_key_id: id.to_owned(),
        secret_access_key: secret.to_owned(),
        session_token: None,
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().expect("a base64 string"))
        .unwrap()
}

impl Env {
    async fn new() -> Env {
        Env::with_audit(audit::AuditConfig::default()).await
    }

    async fn with_audit(audit_config: audit::AuditConfig) -> Env {
        let store = meta::Store::new(meta::MemoryBackend::new()).unwrap();
        let root = Arc::new(crypto::RootKey::generate());
        let iam = iam::Iam::new(store.clone(), root.clone());
        let kms = kms::Kms::new(store.clone(), root);
        let (account, akid, secret) = iam.create_account("test", None).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let signer = audit::DigestSigner::load_or_create(&dir.path().join("digest.der")).unwrap();
        let audit = Arc::new(
            audit::AuditLog::open(&dir.path().join("audit"), audit_config, signer).unwrap(),
        );
        let handle = DispatcherHandle::new();
        let client = KmsClient::new(handle.clone(), "s3");
        let kms_service = Arc::new(KmsService::new(kms, iam.clone()));
        let mut dispatcher = Dispatcher::new(
            iam.clone(),
            audit.clone(),
            "us-east-1",
            Arc::new(Metrics::new()),
        );
        dispatcher.register(Arc::new(IamService::new(iam.clone())));
        dispatcher.register(Arc::new(StsService::new(iam.clone())));
        dispatcher.register(kms_service.clone());
        let dispatcher = Arc::new(dispatcher);
        handle.bind(&dispatcher);
        Env {
            dispatcher,
            kms_service,
            iam,
            audit,
            account: account.id,
            root: creds(&akid, &secret),
            client,
            _dir: dir,
        }
    }

    async fn signed(
        &self,
        c: &Credentials,
        region: &str,
        service: &str,
        headers: &[(&str, &str)],
        body: String,
    ) -> (u16, String) {
        let mut builder = http::Request::builder()
            .method("POST")
            .uri("http://127.0.0.1:9000/");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let (mut parts, ()) = builder.body(()).unwrap().into_parts();
        let signing = SigningParams {
            credentials: c,
            region,
            service,
            now: OffsetDateTime::now_utc(),
            mode: UriMode::Normalize,
        };
        sign_request(&mut parts, &sigv4::sha256_hex(body.as_bytes()), &signing).unwrap();
        let req = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
        let peer = Peer {
            addr: "127.0.0.1:40000".parse().unwrap(),
            secure: false,
        };
        let resp = self.dispatcher.handle(req, peer).await;
        (
            resp.status().as_u16(),
            String::from_utf8(resp.body().to_vec()).unwrap(),
        )
    }

    async fn call_in(&self, c: &Credentials, region: &str, op: &str, body: Value) -> Resp {
        let target = format!("TrentService.{op}");
        let (status, text) = self
            .signed(
                c,
                region,
                "kms",
                &[
                    ("content-type", "application/x-amz-json-1.1"),
                    ("x-amz-target", &target),
                ],
                body.to_string(),
            )
            .await;
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        Resp { status, body }
    }

    async fn call(&self, c: &Credentials, op: &str, body: Value) -> Resp {
        self.call_in(c, "us-east-1", op, body).await
    }

    async fn root(&self, op: &str, body: Value) -> Resp {
        self.call(&self.root, op, body).await
    }

    async fn iam_call(&self, params: &[(&str, &str)]) -> String {
        let form = params
            .iter()
            .map(|(k, v)| format!("{}={}", sigv4::uri_encode(k), sigv4::uri_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let (status, text) = self
            .signed(
                &self.root,
                "us-east-1",
                "iam",
                &[(
                    "content-type",
                    "application/x-www-form-urlencoded; charset=utf-8",
                )],
                form,
            )
            .await;
        assert_eq!(status, 200, "{text}");
        text
    }

    /// A user with an access key (and an inline policy when given): its ARN and credentials.
    async fn user(&self, name: &str, policy: Option<&str>) -> (String, Credentials) {
        self.iam_call(&[("Action", "CreateUser"), ("UserName", name)])
            .await;
        if let Some(p) = policy {
            self.iam_call(&[
                ("Action", "PutUserPolicy"),
                ("UserName", name),
                ("PolicyName", "p"),
                ("PolicyDocument", p),
            ])
            .await;
        }
        let text = self
            .iam_call(&[("Action", "CreateAccessKey"), ("UserName", name)])
            .await;
        let tag = |t: &str| {
            let start = text.find(&format!("<{t}>")).unwrap() + t.len() + 2;
            let end = text[start..].find('<').unwrap() + start;
            text[start..end].to_owned()
        };
        (
            format!("arn:aws:iam::{}:user/{name}", self.account),
            creds(&tag("AccessKeyId"), &tag("SecretAccessKey")),
        )
    }

    /// A key with `policy` (the default when `None`): its metadata.
    async fn key(&self, policy: Option<String>) -> Value {
        let body = match policy {
            Some(p) => json!({ "Policy": p }),
            None => json!({}),
        };
        self.root("CreateKey", body).await.ok()["KeyMetadata"].clone()
    }

    /// The root policy (`kms:*` for the account) plus `statements`.
    fn policy(&self, statements: Vec<Value>) -> String {
        let mut all = vec![json!({
            "Sid": "Enable IAM User Permissions", "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{}:root", self.account)},
            "Action": "kms:*", "Resource": "*"
        })];
        all.extend(statements);
        json!({"Version": "2012-10-17", "Statement": all}).to_string()
    }

    /// Every audit event, as stored JSON, newest first.
    fn audit_events(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut q = audit::LookupQuery::default();
        loop {
            let page = self.audit.lookup(&q).unwrap();
            out.extend(
                page.events
                    .into_iter()
                    .map(|e| serde_json::from_str::<Value>(&e.raw_json).unwrap()),
            );
            match page.next_token {
                Some(t) => q.next_token = Some(t),
                None => return out,
            }
        }
    }

    /// The request context of a principal, as the S3 service would hold it for a request it is serving.
    fn context_of(&self, c: &Credentials) -> api::RequestContext {
        let caller = self
            .iam
            .authenticate(&c.access_key_id)
            .unwrap()
            .unwrap()
            .caller
            .clone();
        api::RequestContext {
            request_id: "s3-request".into(),
            region: "us-east-1".into(),
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
}

fn allow_user(arn: &str, actions: Value) -> Value {
    json!({"Effect": "Allow", "Principal": {"AWS": arn}, "Action": actions, "Resource": "*"})
}

#[tokio::test]
async fn keys_aliases_tags_and_policies() {
    let env = Env::new().await;
    let meta = env
        .root(
            "CreateKey",
            json!({"Description": "app", "Tags": [{"TagKey": "team", "TagValue": "a"}]}),
        )
        .await
        .ok()["KeyMetadata"]
        .clone();
    let id = meta["KeyId"].as_str().unwrap().to_owned();
    let arn = format!("arn:aws:kms:us-east-1:{}:key/{id}", env.account);
    assert_eq!(meta["Arn"], arn);
    assert_eq!(meta["KeyState"], "Enabled");
    assert_eq!(meta["KeyManager"], "CUSTOMER");
    assert_eq!(meta["EncryptionAlgorithms"], json!(["SYMMETRIC_DEFAULT"]));
    assert!(meta["CreationDate"].is_number());

    let d = env.root("DescribeKey", json!({"KeyId": arn})).await;
    assert_eq!(d.ok()["KeyMetadata"]["Description"], "app");
    let keys = env.root("ListKeys", json!({})).await;
    assert_eq!(keys.ok()["Keys"], json!([{"KeyId": id, "KeyArn": arn}]));
    assert_eq!(keys.body["Truncated"], false);
    env.root(
        "UpdateKeyDescription",
        json!({"KeyId": id, "Description": "new"}),
    )
    .await
    .ok();
    env.root("DisableKey", json!({"KeyId": id})).await.ok();
    let d = env.root("DescribeKey", json!({"KeyId": id})).await;
    assert_eq!(
        (
            d.body["KeyMetadata"]["KeyState"].as_str(),
            d.body["KeyMetadata"]["Description"].as_str()
        ),
        (Some("Disabled"), Some("new"))
    );
    env.root("EnableKey", json!({"KeyId": id})).await.ok();

    // Aliases work wherever a key id does.
    env.root(
        "CreateAlias",
        json!({"AliasName": "alias/app", "TargetKeyId": id}),
    )
    .await
    .ok();
    env.root(
        "CreateAlias",
        json!({"AliasName": "alias/app", "TargetKeyId": id}),
    )
    .await
    .err("AlreadyExistsException");
    env.root(
        "CreateAlias",
        json!({"AliasName": "alias/aws/x", "TargetKeyId": id}),
    )
    .await
    .err("NotAuthorizedException");
    env.root(
        "CreateAlias",
        json!({"AliasName": "bad name", "TargetKeyId": id}),
    )
    .await
    .err("ValidationException");
    let alias_arn = format!("arn:aws:kms:us-east-1:{}:alias/app", env.account);
    for r in ["alias/app", alias_arn.as_str()] {
        assert_eq!(
            env.root("DescribeKey", json!({"KeyId": r})).await.ok()["KeyMetadata"]["Arn"],
            arn
        );
    }
    let aliases = env.root("ListAliases", json!({"KeyId": id})).await;
    assert_eq!(aliases.ok()["Aliases"][0]["AliasArn"], alias_arn);
    let other = env.key(None).await;
    env.root(
        "UpdateAlias",
        json!({"AliasName": "alias/app", "TargetKeyId": other["KeyId"]}),
    )
    .await
    .ok();
    assert_eq!(
        env.root("DescribeKey", json!({"KeyId": "alias/app"}))
            .await
            .ok()["KeyMetadata"]["KeyId"],
        other["KeyId"]
    );
    env.root("DeleteAlias", json!({"AliasName": "alias/app"}))
        .await
        .ok();
    env.root("DeleteAlias", json!({"AliasName": "alias/app"}))
        .await
        .err("NotFoundException");
    env.root("DescribeKey", json!({"KeyId": "alias/app"}))
        .await
        .err("NotFoundException");

    // Tags.
    env.root(
        "TagResource",
        json!({"KeyId": id, "Tags": [{"TagKey": "env", "TagValue": "prod"}]}),
    )
    .await
    .ok();
    env.root("UntagResource", json!({"KeyId": id, "TagKeys": ["team"]}))
        .await
        .ok();
    let tags = env.root("ListResourceTags", json!({"KeyId": id})).await;
    assert_eq!(
        tags.ok()["Tags"],
        json!([{"TagKey": "env", "TagValue": "prod"}])
    );

    // Key policies: the default gives the account root kms:*.
    assert_eq!(
        env.root("ListKeyPolicies", json!({"KeyId": id})).await.ok()["PolicyNames"],
        json!(["default"])
    );
    let p = env
        .root(
            "GetKeyPolicy",
            json!({"KeyId": id, "PolicyName": "default"}),
        )
        .await;
    let doc: Value = serde_json::from_str(p.ok()["Policy"].as_str().unwrap()).unwrap();
    assert_eq!(
        doc["Statement"][0]["Principal"]["AWS"],
        format!("arn:aws:iam::{}:root", env.account)
    );
    env.root(
        "PutKeyPolicy",
        json!({"KeyId": id, "PolicyName": "default", "Policy": env.policy(vec![])}),
    )
    .await
    .ok();
    env.root("GetKeyPolicy", json!({"KeyId": id, "PolicyName": "other"}))
        .await
        .err("NotFoundException");
    env.root("PutKeyPolicy", json!({"KeyId": id, "Policy": "{nope"}))
        .await
        .err("MalformedPolicyDocumentException");

    // Errors of the protocol and the model.
    env.root(
        "DescribeKey",
        json!({"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}),
    )
    .await
    .err("NotFoundException");
    env.root("DescribeKey", json!({}))
        .await
        .err("ValidationException");
    env.root("DescribeKey", json!({"KeyId": "arn:aws:s3:::bucket"}))
        .await
        .err("InvalidArnException");
    env.root("ListKeys", json!({"Limit": 0}))
        .await
        .err("ValidationException");
    env.root("Nope", json!({}))
        .await
        .err("UnknownOperationException");
    let (status, text) = env
        .signed(
            &env.root,
            "us-east-1",
            "kms",
            &[("x-amz-target", "TrentService.ListKeys")],
            "{not json".into(),
        )
        .await;
    assert_eq!(status, 400);
    assert!(text.contains("SerializationException"), "{text}");
    // Another region is another namespace.
    env.call_in(&env.root, "eu-west-1", "DescribeKey", json!({"KeyId": id}))
        .await
        .err("NotFoundException");
}

#[tokio::test]
async fn cryptography_round_trips_and_errors() {
    let env = Env::new().await;
    let key = env.key(None).await;
    let dest = env.key(None).await;
    let (id, arn) = (key["KeyId"].as_str().unwrap(), key["Arn"].as_str().unwrap());
    let ctx = json!({"aws:s3:arn": "arn:aws:s3:::b/k", "Department": "IT"});
    let e = env
        .root(
            "Encrypt",
            json!({"KeyId": id, "Plaintext": b64(b"secret"), "EncryptionContext": ctx}),
        )
        .await;
    assert_eq!(e.ok()["KeyId"], arn);
    assert_eq!(e.body["EncryptionAlgorithm"], "SYMMETRIC_DEFAULT");
    let blob = e.body["CiphertextBlob"].clone();

    let d = env
        .root(
            "Decrypt",
            json!({"CiphertextBlob": blob, "EncryptionContext": ctx}),
        )
        .await;
    assert_eq!(unb64(&d.ok()["Plaintext"]), b"secret");
    assert_eq!(d.body["KeyId"], arn);
    assert_eq!(d.body["KeyMaterialId"], key["CurrentKeyMaterialId"]);
    env.root(
        "Decrypt",
        json!({"CiphertextBlob": blob, "EncryptionContext": ctx, "KeyId": id}),
    )
    .await
    .ok();
    env.root("Decrypt", json!({"CiphertextBlob": blob}))
        .await
        .err("InvalidCiphertextException");
    env.root(
        "Decrypt",
        json!({"CiphertextBlob": blob, "EncryptionContext": ctx, "KeyId": dest["KeyId"]}),
    )
    .await
    .err("IncorrectKeyException");
    let mut tampered = unb64(&blob);
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    env.root(
        "Decrypt",
        json!({"CiphertextBlob": b64(&tampered), "EncryptionContext": ctx}),
    )
    .await
    .err("InvalidCiphertextException");
    env.root("Decrypt", json!({"CiphertextBlob": b64(b"garbage")}))
        .await
        .err("InvalidCiphertextException");
    env.root(
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(&[0u8; 4097])}),
    )
    .await
    .err("ValidationException");
    env.root("Encrypt", json!({"KeyId": id}))
        .await
        .err("ValidationException");
    env.root(
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"x"), "EncryptionAlgorithm": "RSAES_OAEP_SHA_1"}),
    )
    .await
    .err("InvalidKeyUsageException");
    env.root(
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"x"), "DryRun": true}),
    )
    .await
    .err("DryRunOperationException");

    let r = env
        .root("ReEncrypt", json!({"CiphertextBlob": blob, "SourceEncryptionContext": ctx, "DestinationKeyId": dest["KeyId"]}))
        .await;
    assert_eq!(
        (r.ok()["SourceKeyId"].as_str(), r.body["KeyId"].as_str()),
        (Some(arn), dest["Arn"].as_str())
    );
    let d = env
        .root(
            "Decrypt",
            json!({"CiphertextBlob": r.body["CiphertextBlob"]}),
        )
        .await;
    assert_eq!(unb64(&d.ok()["Plaintext"]), b"secret");

    let g = env
        .root(
            "GenerateDataKey",
            json!({"KeyId": id, "KeySpec": "AES_256", "EncryptionContext": ctx}),
        )
        .await;
    assert_eq!(unb64(&g.ok()["Plaintext"]).len(), 32);
    assert_eq!(g.body["KeyId"], arn);
    let d = env
        .root(
            "Decrypt",
            json!({"CiphertextBlob": g.body["CiphertextBlob"], "EncryptionContext": ctx}),
        )
        .await;
    assert_eq!(d.ok()["Plaintext"], g.body["Plaintext"]);
    let g = env
        .root("GenerateDataKey", json!({"KeyId": id, "NumberOfBytes": 7}))
        .await;
    assert_eq!(unb64(&g.ok()["Plaintext"]).len(), 7);
    env.root("GenerateDataKey", json!({"KeyId": id}))
        .await
        .err("ValidationException");
    env.root(
        "GenerateDataKey",
        json!({"KeyId": id, "KeySpec": "AES_256", "NumberOfBytes": 32}),
    )
    .await
    .err("ValidationException");
    let w = env
        .root(
            "GenerateDataKeyWithoutPlaintext",
            json!({"KeyId": id, "KeySpec": "AES_128"}),
        )
        .await;
    assert!(w.ok().get("Plaintext").is_none());
    let d = env
        .root(
            "Decrypt",
            json!({"CiphertextBlob": w.body["CiphertextBlob"]}),
        )
        .await;
    assert_eq!(unb64(&d.ok()["Plaintext"]).len(), 16);
    let rnd = env
        .root("GenerateRandom", json!({"NumberOfBytes": 64}))
        .await;
    assert_eq!(unb64(&rnd.ok()["Plaintext"]).len(), 64);
    env.root("GenerateRandom", json!({"NumberOfBytes": 1025}))
        .await
        .err("ValidationException");
}

#[tokio::test]
async fn states_rotation_grants_and_multi_region_keys() {
    let env = Env::new().await;
    let key = env.key(None).await;
    let id = key["KeyId"].as_str().unwrap();
    let blob = env
        .root("Encrypt", json!({"KeyId": id, "Plaintext": b64(b"keep")}))
        .await
        .ok()["CiphertextBlob"]
        .clone();

    // Rotation: every earlier material keeps decrypting.
    env.root(
        "EnableKeyRotation",
        json!({"KeyId": id, "RotationPeriodInDays": 89}),
    )
    .await
    .err("ValidationException");
    env.root(
        "EnableKeyRotation",
        json!({"KeyId": id, "RotationPeriodInDays": 180}),
    )
    .await
    .ok();
    let s = env.root("GetKeyRotationStatus", json!({"KeyId": id})).await;
    assert_eq!(
        (
            s.ok()["KeyRotationEnabled"].as_bool(),
            s.body["RotationPeriodInDays"].as_u64()
        ),
        (Some(true), Some(180))
    );
    assert!(s.body["NextRotationDate"].is_number());
    for _ in 0..3 {
        assert_eq!(
            env.root("RotateKeyOnDemand", json!({"KeyId": id}))
                .await
                .ok()["KeyId"],
            key["Arn"]
        );
    }
    let rotations = env.root("ListKeyRotations", json!({"KeyId": id})).await;
    assert_eq!(rotations.ok()["Rotations"].as_array().unwrap().len(), 3);
    assert_eq!(rotations.body["Rotations"][0]["RotationType"], "ON_DEMAND");
    assert_eq!(
        unb64(
            &env.root("Decrypt", json!({"CiphertextBlob": blob}))
                .await
                .ok()["Plaintext"]
        ),
        b"keep"
    );
    env.root("DisableKeyRotation", json!({"KeyId": id}))
        .await
        .ok();

    // Deletion window: pending deletion fails crypto, cancelling leaves it disabled, enabling brings it back.
    env.root(
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 6}),
    )
    .await
    .err("ValidationException");
    let s = env
        .root(
            "ScheduleKeyDeletion",
            json!({"KeyId": id, "PendingWindowInDays": 7}),
        )
        .await;
    assert_eq!(
        (
            s.ok()["KeyState"].as_str(),
            s.body["PendingWindowInDays"].as_u64()
        ),
        (Some("PendingDeletion"), Some(7))
    );
    assert_eq!(s.body["KeyId"], key["Arn"]);
    env.root("Encrypt", json!({"KeyId": id, "Plaintext": b64(b"x")}))
        .await
        .err("KMSInvalidStateException");
    env.root("Decrypt", json!({"CiphertextBlob": blob}))
        .await
        .err("KMSInvalidStateException");
    env.root("CancelKeyDeletion", json!({"KeyId": id}))
        .await
        .ok();
    env.root("Decrypt", json!({"CiphertextBlob": blob}))
        .await
        .err("DisabledException");
    env.root("EnableKey", json!({"KeyId": id})).await.ok();
    env.root("Decrypt", json!({"CiphertextBlob": blob}))
        .await
        .ok();

    // Grants.
    let (alice_arn, alice) = env.user("alice", None).await;
    let g = env
        .root(
            "CreateGrant",
            json!({"KeyId": id, "GranteePrincipal": alice_arn, "RetiringPrincipal": alice_arn,
                                     "Operations": ["Decrypt", "RetireGrant"], "Name": "g1"}),
        )
        .await;
    let grant_id = g.ok()["GrantId"].as_str().unwrap().to_owned();
    assert!(g.body["GrantToken"].is_string());
    env.root(
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": alice_arn, "Operations": ["Nope"]}),
    )
    .await
    .err("ValidationException");
    let list = env.root("ListGrants", json!({"KeyId": id})).await;
    assert_eq!(list.ok()["Grants"][0]["GrantId"], grant_id.as_str());
    assert_eq!(list.body["Grants"][0]["KeyId"], key["Arn"]);
    let retirable = env
        .root(
            "ListRetirableGrants",
            json!({"RetiringPrincipal": alice_arn}),
        )
        .await;
    assert_eq!(retirable.ok()["Grants"][0]["GrantId"], grant_id.as_str());
    env.call(&alice, "Decrypt", json!({"CiphertextBlob": blob}))
        .await
        .ok();
    env.call(
        &alice,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"x")}),
    )
    .await
    .err("AccessDeniedException");
    env.call(
        &alice,
        "RetireGrant",
        json!({"KeyId": key["Arn"], "GrantId": grant_id}),
    )
    .await
    .ok();
    env.call(&alice, "Decrypt", json!({"CiphertextBlob": blob}))
        .await
        .err("AccessDeniedException");
    let g2 = env
        .root(
            "CreateGrant",
            json!({"KeyId": id, "GranteePrincipal": alice_arn, "Operations": ["Decrypt"]}),
        )
        .await;
    let g2 = g2.ok()["GrantId"].clone();
    env.root("RevokeGrant", json!({"KeyId": id, "GrantId": g2}))
        .await
        .ok();
    env.root("RevokeGrant", json!({"KeyId": id, "GrantId": g2}))
        .await
        .err("NotFoundException");

    // Multi-Region keys.
    let mrk = env
        .root("CreateKey", json!({"MultiRegion": true}))
        .await
        .ok()["KeyMetadata"]
        .clone();
    let mrk_id = mrk["KeyId"].as_str().unwrap();
    assert!(mrk_id.starts_with("mrk-"));
    let r = env
        .root(
            "ReplicateKey",
            json!({"KeyId": mrk_id, "ReplicaRegion": "eu-west-1"}),
        )
        .await;
    let replica_arn = format!("arn:aws:kms:eu-west-1:{}:key/{mrk_id}", env.account);
    assert_eq!(r.ok()["ReplicaKeyMetadata"]["Arn"], replica_arn.as_str());
    assert!(r.body["ReplicaPolicy"].is_string());
    env.root(
        "ReplicateKey",
        json!({"KeyId": mrk_id, "ReplicaRegion": "eu-west-1"}),
    )
    .await
    .err("AlreadyExistsException");
    env.root(
        "ReplicateKey",
        json!({"KeyId": id, "ReplicaRegion": "eu-west-1"}),
    )
    .await
    .err("UnsupportedOperationException");
    env.root(
        "ReplicateKey",
        json!({"KeyId": mrk_id, "ReplicaRegion": "Europe"}),
    )
    .await
    .err("ValidationException");
    let blob = env
        .root("Encrypt", json!({"KeyId": mrk_id, "Plaintext": b64(b"mr")}))
        .await
        .ok()["CiphertextBlob"]
        .clone();
    let d = env
        .call_in(
            &env.root,
            "eu-west-1",
            "Decrypt",
            json!({"CiphertextBlob": blob}),
        )
        .await;
    assert_eq!(
        (unb64(&d.ok()["Plaintext"]), d.body["KeyId"].as_str()),
        (b"mr".to_vec(), Some(replica_arn.as_str()))
    );
    env.root(
        "UpdatePrimaryRegion",
        json!({"KeyId": mrk_id, "PrimaryRegion": "eu-west-1"}),
    )
    .await
    .ok();
    let d = env
        .call_in(
            &env.root,
            "eu-west-1",
            "DescribeKey",
            json!({"KeyId": mrk_id}),
        )
        .await;
    assert_eq!(
        d.ok()["KeyMetadata"]["MultiRegionConfiguration"]["MultiRegionKeyType"],
        "PRIMARY"
    );
}

#[tokio::test]
async fn administrators_manage_and_users_use() {
    let env = Env::new().await;
    let (admin_arn, admin) = env.user("admin", None).await;
    let (user_arn, user) = env.user("user", None).await;
    let admin_actions = json!([
        "kms:Create*",
        "kms:Describe*",
        "kms:Enable*",
        "kms:List*",
        "kms:Put*",
        "kms:Update*",
        "kms:Revoke*",
        "kms:Disable*",
        "kms:Get*",
        "kms:Delete*",
        "kms:TagResource",
        "kms:UntagResource",
        "kms:ScheduleKeyDeletion",
        "kms:CancelKeyDeletion"
    ]);
    let use_actions = json!([
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:ReEncrypt*",
        "kms:GenerateDataKey*",
        "kms:DescribeKey"
    ]);
    let policy = env.policy(vec![
        allow_user(&admin_arn, admin_actions),
        allow_user(&user_arn, use_actions),
    ]);
    let key = env.key(Some(policy.clone())).await;
    let id = key["KeyId"].as_str().unwrap();

    env.call(&admin, "DescribeKey", json!({"KeyId": id}))
        .await
        .ok();
    env.call(
        &admin,
        "PutKeyPolicy",
        json!({"KeyId": id, "Policy": policy}),
    )
    .await
    .ok();
    env.call(
        &admin,
        "TagResource",
        json!({"KeyId": id, "Tags": [{"TagKey": "a", "TagValue": "b"}]}),
    )
    .await
    .ok();
    let m = env
        .call(
            &admin,
            "Encrypt",
            json!({"KeyId": id, "Plaintext": b64(b"x")}),
        )
        .await
        .err("AccessDeniedException");
    assert_eq!(
        m,
        format!("User: {admin_arn} is not authorized to perform: kms:Encrypt on resource: {} because no identity-based policy allows the kms:Encrypt action", key["Arn"].as_str().unwrap())
    );

    let blob = env
        .call(
            &user,
            "Encrypt",
            json!({"KeyId": id, "Plaintext": b64(b"x")}),
        )
        .await
        .ok()["CiphertextBlob"]
        .clone();
    env.call(&user, "Decrypt", json!({"CiphertextBlob": blob}))
        .await
        .ok();
    env.call(&admin, "Decrypt", json!({"CiphertextBlob": blob}))
        .await
        .err("AccessDeniedException");
    for (op, body) in [
        ("DisableKey", json!({"KeyId": id})),
        ("ScheduleKeyDeletion", json!({"KeyId": id})),
        ("PutKeyPolicy", json!({"KeyId": id, "Policy": policy})),
        ("GetKeyPolicy", json!({"KeyId": id})),
        (
            "CreateGrant",
            json!({"KeyId": id, "GranteePrincipal": user_arn, "Operations": ["Decrypt"]}),
        ),
    ] {
        env.call(&user, op, body).await.err("AccessDeniedException");
    }
    // No identity policy lets either of them create keys or list them.
    env.call(&user, "CreateKey", json!({}))
        .await
        .err("AccessDeniedException");
    env.call(&admin, "ListKeys", json!({}))
        .await
        .err("AccessDeniedException");

    // An unauthorized caller learns nothing about the key's state.
    env.call(&admin, "DisableKey", json!({"KeyId": id}))
        .await
        .ok();
    env.call(
        &admin,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"x")}),
    )
    .await
    .err("AccessDeniedException");
    env.call(
        &user,
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"x")}),
    )
    .await
    .err("DisabledException");
    env.call(
        &admin,
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    )
    .await
    .ok();
    env.call(&admin, "Decrypt", json!({"CiphertextBlob": blob}))
        .await
        .err("AccessDeniedException");
    env.call(&user, "Decrypt", json!({"CiphertextBlob": blob}))
        .await
        .err("KMSInvalidStateException");
}

#[tokio::test]
async fn grants_with_context_constraints_and_explicit_denies() {
    let env = Env::new().await;
    let (bob_arn, bob) = env.user("bob", None).await;
    let key = env.key(None).await;
    let id = key["KeyId"].as_str().unwrap();
    env.root(
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": bob_arn, "Operations": ["Encrypt", "Decrypt"],
        "Constraints": {"EncryptionContextSubset": {"Department": "IT"}}}),
    )
    .await
    .ok();
    let ctx = json!({"Department": "IT", "Project": "x"});
    let blob = env
        .call(
            &bob,
            "Encrypt",
            json!({"KeyId": key["Arn"], "Plaintext": b64(b"x"), "EncryptionContext": ctx}),
        )
        .await
        .ok()["CiphertextBlob"]
        .clone();
    env.call(
        &bob,
        "Decrypt",
        json!({"CiphertextBlob": blob, "EncryptionContext": ctx}),
    )
    .await
    .ok();
    env.call(&bob, "Encrypt", json!({"KeyId": key["Arn"], "Plaintext": b64(b"x"), "EncryptionContext": {"Department": "HR"}}))
        .await
        .err("AccessDeniedException");
    env.call(
        &bob,
        "Encrypt",
        json!({"KeyId": key["Arn"], "Plaintext": b64(b"x")}),
    )
    .await
    .err("AccessDeniedException");
    env.call(&bob, "DescribeKey", json!({"KeyId": key["Arn"]}))
        .await
        .err("AccessDeniedException");

    // An explicit deny in the key policy beats the grant.
    let deny = json!({"Effect": "Deny", "Principal": {"AWS": bob_arn}, "Action": "kms:Decrypt", "Resource": "*"});
    env.root(
        "PutKeyPolicy",
        json!({"KeyId": id, "Policy": env.policy(vec![deny])}),
    )
    .await
    .ok();
    let m = env
        .call(
            &bob,
            "Decrypt",
            json!({"CiphertextBlob": blob, "EncryptionContext": ctx}),
        )
        .await
        .err("AccessDeniedException");
    assert!(
        m.ends_with("with an explicit deny in a resource-based policy"),
        "{m}"
    );
    env.call(
        &bob,
        "Encrypt",
        json!({"KeyId": key["Arn"], "Plaintext": b64(b"x"), "EncryptionContext": ctx}),
    )
    .await
    .ok();
}

#[tokio::test]
async fn condition_keys_in_key_policies() {
    let env = Env::new().await;
    let (carol_arn, carol) = env.user("carol", None).await;
    let conditioned = json!({
        "Effect": "Allow", "Principal": {"AWS": carol_arn}, "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*",
        "Condition": {
            "StringEquals": {"kms:EncryptionContext:tenant": "a", "kms:CallerAccount": env.account, "kms:RequestAlias": "alias/t"},
            "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["tenant"]}
        }
    });
    let key = env.key(Some(env.policy(vec![conditioned]))).await;
    env.root(
        "CreateAlias",
        json!({"AliasName": "alias/t", "TargetKeyId": key["KeyId"]}),
    )
    .await
    .ok();
    let ok =
        json!({"KeyId": "alias/t", "Plaintext": b64(b"x"), "EncryptionContext": {"tenant": "a"}});
    env.call(&carol, "Encrypt", ok.clone()).await.ok();
    for bad in [
        json!({"KeyId": key["Arn"], "Plaintext": b64(b"x"), "EncryptionContext": {"tenant": "a"}}),
        json!({"KeyId": "alias/t", "Plaintext": b64(b"x"), "EncryptionContext": {"tenant": "b"}}),
        json!({"KeyId": "alias/t", "Plaintext": b64(b"x"), "EncryptionContext": {"tenant": "a", "more": "x"}}),
    ] {
        env.call(&carol, "Encrypt", bad)
            .await
            .err("AccessDeniedException");
    }

    // Rotation period and deletion window conditions.
    let rotation = json!({
        "Effect": "Allow", "Principal": {"AWS": carol_arn}, "Action": "kms:EnableKeyRotation", "Resource": "*",
        "Condition": {"NumericLessThanEquals": {"kms:RotationPeriodInDays": "180"}}
    });
    let deletion = json!({
        "Effect": "Allow", "Principal": {"AWS": carol_arn}, "Action": "kms:ScheduleKeyDeletion", "Resource": "*",
        "Condition": {"NumericGreaterThanEquals": {"kms:ScheduleKeyDeletionPendingWindowInDays": "20"}}
    });
    let k2 = env.key(Some(env.policy(vec![rotation, deletion]))).await;
    let id = k2["KeyId"].as_str().unwrap();
    env.call(
        &carol,
        "EnableKeyRotation",
        json!({"KeyId": id, "RotationPeriodInDays": 365}),
    )
    .await
    .err("AccessDeniedException");
    env.call(
        &carol,
        "EnableKeyRotation",
        json!({"KeyId": id, "RotationPeriodInDays": 90}),
    )
    .await
    .ok();
    env.call(
        &carol,
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 7}),
    )
    .await
    .err("AccessDeniedException");
    env.call(
        &carol,
        "ScheduleKeyDeletion",
        json!({"KeyId": id, "PendingWindowInDays": 21}),
    )
    .await
    .ok();

    // Grant conditions: only grants for AWS resources, for decrypting.
    let grants = json!({
        "Effect": "Allow", "Principal": {"AWS": carol_arn}, "Action": "kms:CreateGrant", "Resource": "*",
        "Condition": {"ForAllValues:StringEquals": {"kms:GrantOperations": ["Decrypt"]}, "Bool": {"kms:GrantIsForAWSResource": "false"}}
    });
    let k3 = env.key(Some(env.policy(vec![grants]))).await;
    env.call(
        &carol,
        "CreateGrant",
        json!({"KeyId": k3["KeyId"], "GranteePrincipal": carol_arn, "Operations": ["Decrypt"]}),
    )
    .await
    .ok();
    env.call(&carol, "CreateGrant", json!({"KeyId": k3["KeyId"], "GranteePrincipal": carol_arn, "Operations": ["Decrypt", "Encrypt"]}))
        .await
        .err("AccessDeniedException");
}

#[tokio::test]
async fn via_service_policies_and_the_in_process_client() {
    let env = Env::new().await;
    let (dave_arn, dave) = env.user("dave", None).await;
    let via_s3 = json!({
        "Effect": "Allow", "Principal": {"AWS": dave_arn}, "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}
    });
    let key = env.key(Some(env.policy(vec![via_s3]))).await;
    let arn = key["Arn"].as_str().unwrap();
    let s3_ctx: BTreeMap<String, String> = [(
        "aws:s3:arn".to_owned(),
        "arn:aws:s3:::bucket/obj".to_owned(),
    )]
    .into();

    // Directly, dave may do neither.
    env.call(
        &dave,
        "GenerateDataKey",
        json!({"KeyId": arn, "KeySpec": "AES_256"}),
    )
    .await
    .err("AccessDeniedException");
    let on_behalf = env.context_of(&dave);
    let dk = env
        .client
        .generate_data_key(&on_behalf, arn, &s3_ctx, DataKeySpec::Aes256)
        .await
        .unwrap();
    assert_eq!(dk.plaintext.len(), 32);
    assert_eq!(dk.key_arn, arn);
    assert_eq!(
        dk.key_material_id.as_deref(),
        key["CurrentKeyMaterialId"].as_str()
    );
    env.call(
        &dave,
        "Decrypt",
        json!({"CiphertextBlob": b64(&dk.ciphertext), "EncryptionContext": s3_ctx}),
    )
    .await
    .err("AccessDeniedException");
    let opened = env
        .client
        .decrypt(&on_behalf, &dk.ciphertext, &s3_ctx)
        .await
        .unwrap();
    assert_eq!(*opened.plaintext, *dk.plaintext);
    assert_eq!(opened.key_arn, arn);
    // The wrong context fails through the client as well.
    let err = env
        .client
        .decrypt(&on_behalf, &dk.ciphertext, &BTreeMap::new())
        .await
        .unwrap_err();
    assert_eq!(err.code, "InvalidCiphertextException");
    // A principal the key policy does not name gets nothing through S3 either.
    let (_, eve) = env.user("eve", None).await;
    let err = env
        .client
        .decrypt(&env.context_of(&eve), &dk.ciphertext, &s3_ctx)
        .await
        .unwrap_err();
    assert_eq!(err.code, "AccessDeniedException");

    // The client's calls are audited as KMS calls invoked by S3, on behalf of dave; the plaintext never is.
    let events = env.audit_events();
    let via: Vec<&Value> = events
        .iter()
        .filter(|e| e["userIdentity"]["invokedBy"] == "s3.amazonaws.com")
        .collect();
    assert_eq!(via.len(), 4, "{via:?}");
    for e in &via {
        assert_eq!(e["eventSource"], "kms.amazonaws.com");
        assert_eq!(e["sourceIPAddress"], "s3.amazonaws.com");
    }
    let gdk = via
        .iter()
        .find(|e| e["eventName"] == "GenerateDataKey")
        .unwrap();
    assert_eq!(gdk["userIdentity"]["arn"], dave_arn.as_str());
    assert_eq!(
        gdk["requestParameters"]["encryptionContext"]["aws:s3:arn"],
        "arn:aws:s3:::bucket/obj"
    );
    assert_eq!(
        gdk["additionalEventData"]["keyMaterialId"],
        key["CurrentKeyMaterialId"]
    );
    assert!(gdk["responseElements"].is_null());
    assert_eq!(
        gdk["resources"],
        json!([{"ARN": arn, "accountId": env.account, "type": "AWS::KMS::Key"}])
    );
    let raw = serde_json::to_string(&events).unwrap();
    assert!(!raw.contains(&b64(&dk.plaintext)));
    assert!(!raw.contains(&b64(&dk.ciphertext)));
}

#[tokio::test]
async fn the_audit_trail_never_holds_plaintext_or_ciphertext() {
    let env = Env::new().await;
    let key = env.key(None).await;
    let id = key["KeyId"].as_str().unwrap();
    let secret = b"the-plaintext-nobody-may-log";
    let e = env
        .root(
            "Encrypt",
            json!({"KeyId": id, "Plaintext": b64(secret), "EncryptionContext": {"k": "v"}}),
        )
        .await;
    let blob = e.ok()["CiphertextBlob"].clone();
    let d = env
        .root(
            "Decrypt",
            json!({"CiphertextBlob": blob, "EncryptionContext": {"k": "v"}}),
        )
        .await;
    d.ok();
    let g = env
        .root(
            "GenerateDataKey",
            json!({"KeyId": id, "KeySpec": "AES_256"}),
        )
        .await;
    let r = env.root("ReEncrypt", json!({"CiphertextBlob": blob, "SourceEncryptionContext": {"k": "v"}, "DestinationKeyId": id})).await;
    let rnd = env
        .root("GenerateRandom", json!({"NumberOfBytes": 32}))
        .await;
    let grant = env.root("CreateGrant", json!({"KeyId": id, "GranteePrincipal": "arn:aws:iam::111122223333:root", "Operations": ["Decrypt"]})).await;
    let events = env.audit_events();
    let raw = serde_json::to_string(&events).unwrap();
    for secret in [
        b64(secret),
        blob.as_str().unwrap().to_owned(),
        g.ok()["Plaintext"].as_str().unwrap().to_owned(),
        g.body["CiphertextBlob"].as_str().unwrap().to_owned(),
        r.ok()["CiphertextBlob"].as_str().unwrap().to_owned(),
        rnd.ok()["Plaintext"].as_str().unwrap().to_owned(),
        grant.ok()["GrantToken"].as_str().unwrap().to_owned(),
    ] {
        assert!(!raw.contains(&secret), "{secret} is in the trail");
    }
    let enc = events.iter().find(|e| e["eventName"] == "Encrypt").unwrap();
    assert_eq!(
        enc["requestParameters"],
        json!({"keyId": id, "encryptionContext": {"k": "v"}, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"})
    );
    assert_eq!(enc["readOnly"], true);
    assert_eq!(enc["managementEvent"], true);
    assert_eq!(
        enc["additionalEventData"]["keyMaterialId"],
        key["CurrentKeyMaterialId"]
    );
    let dec = events.iter().find(|e| e["eventName"] == "Decrypt").unwrap();
    assert_eq!(dec["resources"][0]["ARN"], key["Arn"]);
    let created = events
        .iter()
        .find(|e| e["eventName"] == "CreateGrant")
        .unwrap();
    assert!(created["responseElements"]["grantId"].is_string());
    // Denied and failed calls are audited under their operation too.
    env.root("Decrypt", json!({"CiphertextBlob": b64(b"garbage")}))
        .await
        .err("InvalidCiphertextException");
    let events = env.audit_events();
    assert_eq!(events[0]["eventName"], "Decrypt");
    assert_eq!(events[0]["errorCode"], "InvalidCiphertextException");

    // Usage metrics count per operation, never naming a key (anyone may read /metrics).
    let text = env.kms_service.metrics_text();
    assert!(
        text.contains("coffer_kms_requests_total{operation=\"Encrypt\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("coffer_kms_requests_total{operation=\"ReEncrypt\"} 1\n"),
        "{text}"
    );
    assert!(!text.contains(id), "{text}");
}

#[tokio::test]
async fn the_key_policy_lockout_safety_check() {
    let env = Env::new().await;
    let (frank_arn, frank) = env.user(
        "frank",
        Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#),
    )
    .await;
    let decrypt_only = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{}:root", env.account)}, "Action": "kms:Decrypt", "Resource": "*"}]})
    .to_string();
    let m = env
        .root("CreateKey", json!({"Policy": decrypt_only}))
        .await
        .err("MalformedPolicyDocumentException");
    assert_eq!(
        m,
        "The new key policy will not allow you to update the key policy in the future."
    );
    let key = env.key(None).await;
    let id = key["KeyId"].as_str().unwrap();
    env.root("PutKeyPolicy", json!({"KeyId": id, "Policy": decrypt_only}))
        .await
        .err("MalformedPolicyDocumentException");
    // Frank's own IAM policy counts only while the key policy delegates to the account.
    let only_root = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{}:root", env.account)}, "Action": "kms:*", "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalType": "Account"}}}]})
    .to_string();
    env.call(
        &frank,
        "PutKeyPolicy",
        json!({"KeyId": id, "Policy": only_root}),
    )
    .await
    .err("MalformedPolicyDocumentException");
    let frank_too = env.policy(vec![allow_user(&frank_arn, json!("kms:PutKeyPolicy"))]);
    env.call(
        &frank,
        "PutKeyPolicy",
        json!({"KeyId": id, "Policy": frank_too}),
    )
    .await
    .ok();
    // Bypassing the check stores the policy, and it takes effect at once.
    env.root(
        "PutKeyPolicy",
        json!({"KeyId": id, "Policy": decrypt_only, "BypassPolicyLockoutSafetyCheck": true}),
    )
    .await
    .ok();
    env.root("DescribeKey", json!({"KeyId": id}))
        .await
        .err("AccessDeniedException");
    env.call(&frank, "DescribeKey", json!({"KeyId": id}))
        .await
        .err("AccessDeniedException");
    env.root(
        "CreateKey",
        json!({"Policy": decrypt_only, "BypassPolicyLockoutSafetyCheck": true}),
    )
    .await
    .ok();
}

#[tokio::test]
async fn a_grant_never_gives_more_than_it_holds() {
    let env = Env::new().await;
    let key = env.key(None).await;
    let id = key["Arn"].as_str().unwrap().to_owned();
    let blob = env
        .root("Encrypt", json!({"KeyId": id, "Plaintext": b64(b"owner")}))
        .await
        .ok()["CiphertextBlob"]
        .clone();
    let (mallory_arn, mallory) = env.user("mallory", None).await;
    let (trent_arn, trent) = env.user("trent", None).await;

    // A CreateGrant-only grant passes on CreateGrant and nothing else.
    env.root(
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": mallory_arn, "Operations": ["CreateGrant"]}),
    )
    .await
    .ok();
    for ops in [
        json!(["Decrypt", "Encrypt"]),
        json!(["CreateGrant", "Decrypt"]),
    ] {
        env.call(
            &mallory,
            "CreateGrant",
            json!({"KeyId": id, "GranteePrincipal": mallory_arn, "Operations": ops}),
        )
        .await
        .err("AccessDeniedException");
    }
    env.call(&mallory, "Decrypt", json!({"CiphertextBlob": blob}))
        .await
        .err("AccessDeniedException");
    env.call(
        &mallory,
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": trent_arn, "Operations": ["CreateGrant"]}),
    )
    .await
    .ok();

    // Constraints are kept or tightened, never dropped.
    env.root("CreateGrant", json!({"KeyId": id, "GranteePrincipal": trent_arn,
        "Operations": ["CreateGrant", "Decrypt"], "Constraints": {"EncryptionContextSubset": {"t": "a"}}}))
        .await
        .ok();
    env.call(
        &trent,
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": mallory_arn, "Operations": ["Decrypt"]}),
    )
    .await
    .err("AccessDeniedException");
    env.call(
        &trent,
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": mallory_arn,
        "Operations": ["Decrypt"], "Constraints": {"EncryptionContextEquals": {"t": "a"}}}),
    )
    .await
    .ok();
    env.call(&mallory, "Decrypt", json!({"CiphertextBlob": blob}))
        .await
        .err("AccessDeniedException");

    // Members that would narrow a grant but are not implemented are refused, never ignored.
    env.root(
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": trent_arn, "Operations": ["Decrypt"],
        "Constraints": {"SourceArn": "arn:aws:s3:::b"}}),
    )
    .await
    .err("UnsupportedOperationException");
    env.root(
        "CreateGrant",
        json!({"KeyId": id, "GranteeServicePrincipal": "s3.amazonaws.com",
        "GranteePrincipal": trent_arn, "Operations": ["Decrypt"]}),
    )
    .await
    .err("UnsupportedOperationException");
    env.root(
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": "cloudfront.amazonaws.com", "Operations": ["Decrypt"]}),
    )
    .await
    .err("ValidationException");

    // RetireGrant: mallory's RetireGrant grant covers that grant only.
    let own = env
        .root(
            "CreateGrant",
            json!({"KeyId": id, "GranteePrincipal": mallory_arn, "Operations": ["RetireGrant"]}),
        )
        .await
        .ok()["GrantId"]
        .clone();
    let victim = env
        .root(
            "CreateGrant",
            json!({"KeyId": id, "GranteePrincipal": trent_arn, "Operations": ["Encrypt"]}),
        )
        .await
        .ok()["GrantId"]
        .clone();
    env.call(
        &mallory,
        "RetireGrant",
        json!({"KeyId": id, "GrantId": victim}),
    )
    .await
    .err("AccessDeniedException");
    env.call(
        &trent,
        "RetireGrant",
        json!({"KeyId": id, "GrantId": victim}),
    )
    .await
    .err("AccessDeniedException");
    env.call(
        &mallory,
        "RetireGrant",
        json!({"KeyId": id, "GrantId": own}),
    )
    .await
    .ok();
    env.root("RetireGrant", json!({"KeyId": id, "GrantId": victim}))
        .await
        .ok();

    // ListRetirableGrants is for principals of the caller's own account.
    env.root(
        "ListRetirableGrants",
        json!({"RetiringPrincipal": "arn:aws:iam::999988887777:user/x"}),
    )
    .await
    .err("AccessDeniedException");
    env.root(
        "ListRetirableGrants",
        json!({"RetiringPrincipal": mallory_arn}),
    )
    .await
    .ok();
}

/// Every decision is audited: once an event cannot be made durable, the call that produced it and every later
/// one answer 503 — KMS's JSON `ServiceUnavailableException` — and so do calls made in-process on a caller's
/// behalf (S3 asking for a data key), so no data key or plaintext leaves without its record.
#[tokio::test]
async fn nothing_is_answered_without_its_audit_record() {
    let env = Env::with_audit(audit::AuditConfig {
        segment_max_bytes: 4096,
        ..audit::AuditConfig::default()
    })
    .await;
    let key = env.key(None).await;
    let arn = key["Arn"].as_str().unwrap().to_owned();
    let ctx: BTreeMap<String, String> =
        [("aws:s3:arn".to_owned(), "arn:aws:s3:::b/k".to_owned())].into();
    let on_behalf = env.context_of(&env.root);
    env.client
        .generate_data_key(&on_behalf, &arn, &ctx, DataKeySpec::Aes256)
        .await
        .unwrap();

    // The next segment cannot be created: rotation fails once the current one is full.
    let segments = env._dir.path().join("audit/segments");
    std::fs::rename(&segments, env._dir.path().join("segments.gone")).unwrap();
    let mut refused = None;
    for _ in 0..200 {
        let r = env.root("DescribeKey", json!({"KeyId": arn})).await;
        if r.status != 200 {
            refused = Some(r);
            break;
        }
    }
    let r = refused.expect("a full segment forces a rotation, which fails");
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.body["__type"], "ServiceUnavailableException");
    let r = env
        .root("Encrypt", json!({"KeyId": arn, "Plaintext": b64(b"x")}))
        .await;
    assert_eq!(
        (r.status, r.body["__type"].as_str()),
        (503, Some("ServiceUnavailableException"))
    );
    assert!(r.body.get("CiphertextBlob").is_none());
    let err = env
        .client
        .generate_data_key(&on_behalf, &arn, &ctx, DataKeySpec::Aes256)
        .await
        .unwrap_err();
    assert_eq!((err.status, err.code.as_str()), (503, "ServiceUnavailable"));
    // Bad input is refused the same way: even a failure needs its record.
    let r = env.root("Encrypt", json!({"KeyId": 5})).await;
    assert_eq!(r.status, 503);
}
