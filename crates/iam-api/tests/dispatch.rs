//! IAM and STS through the real dispatch path: SigV4-signed Query requests into `api::Dispatcher` with the
//! identity engine on in-memory storage and a real audit log, checking responses, errors and audit events.

use std::sync::Arc;

use api::{Dispatcher, Metrics, Peer};
use bytes::Bytes;
use http_body_util::Full;
use iam_api::{IamService, StsService};
use sigv4::{sign_request, Credentials, SigningParams, UriMode};
use time::OffsetDateTime;

/// The whole stack for one test.
struct Env {
    dispatcher: Dispatcher,
    store: meta::Store,
    audit: Arc<audit::AuditLog>,
    account: String,
    root: Credentials,
    _dir: tempfile::TempDir,
}

/// A response: status and body.
struct Resp {
    status: u16,
    body: String,
}

impl Resp {
    /// The text of the first `<name>` element, unescaped.
    fn tag(&self, name: &str) -> Option<String> {
        self.tags(name).into_iter().next()
    }

    /// The text of every `<name>` element, in order.
    fn tags(&self, name: &str) -> Vec<String> {
        let (open, close) = (format!("<{name}>"), format!("</{name}>"));
        let mut out = Vec::new();
        let mut rest = self.body.as_str();
        while let Some(i) = rest.find(&open) {
            let after = &rest[i + open.len()..];
            let Some(j) = after.find(&close) else { break };
            out.push(unescape(&after[..j]));
            rest = &after[j + close.len()..];
        }
        out
    }

    fn code(&self) -> String {
        self.tag("Code").unwrap_or_default()
    }

    fn message(&self) -> String {
        self.tag("Message").unwrap_or_default()
    }

    #[track_caller]
    fn ok(&self) -> &Self {
        assert_eq!(self.status, 200, "{}", self.body);
        self
    }

    #[track_caller]
    fn err(&self, status: u16, code: &str) -> &Self {
        assert_eq!(
            (self.status, self.code().as_str()),
            (status, code),
            "{}",
            self.body
        );
        assert!(self.body.contains("<ErrorResponse"), "{}", self.body);
        self
    }
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn decode_document(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

fn form(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", sigv4::uri_encode(k), sigv4::uri_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn creds(id: &str, secret: &str, token: Option<&str>) -> Credentials {
    Credentials {
        access_key_id: id.to_owned(),
        secret_access_key: secret.to_owned(),
        session_token: token.map(str::to_owned),
    }
}

const ALLOW_ALL_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;

impl Env {
    async fn new() -> Env {
        let store = meta::Store::new(meta::MemoryBackend::new()).unwrap();
        let iam = iam::Iam::new(
            store.clone(),
            std::sync::Arc::new(crypto::RootKey::generate()),
        );
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
        dispatcher.register(Arc::new(IamService::new(iam.clone())));
        dispatcher.register(Arc::new(StsService::new(iam.clone())));
        Env {
            dispatcher,
            store,
            audit,
            account: account.id,
            root: creds(&akid, &secret, None),
            _dir: dir,
        }
    }

    async fn send(&self, c: &Credentials, service: &str, params: &[(&str, &str)]) -> Resp {
        let body = form(params);
        let (mut parts, ()) = http::Request::builder()
            .method("POST")
            .uri("http://127.0.0.1:9000/")
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(())
            .unwrap()
            .into_parts();
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
            secure: false,
        };
        let resp = self.dispatcher.handle(req, peer).await;
        Resp {
            status: resp.status().as_u16(),
            body: String::from_utf8(resp.body().to_vec()).unwrap(),
        }
    }

    async fn iam(&self, c: &Credentials, params: &[(&str, &str)]) -> Resp {
        self.send(c, "iam", params).await
    }

    async fn sts(&self, c: &Credentials, params: &[(&str, &str)]) -> Resp {
        self.send(c, "sts", params).await
    }

    async fn root(&self, params: &[(&str, &str)]) -> Resp {
        self.iam(&self.root, params).await
    }

    /// Creates a user with an access key; returns its credentials.
    async fn user(&self, name: &str) -> Credentials {
        self.root(&[("Action", "CreateUser"), ("UserName", name)])
            .await
            .ok();
        let r = self
            .root(&[("Action", "CreateAccessKey"), ("UserName", name)])
            .await;
        r.ok();
        creds(
            &r.tag("AccessKeyId").unwrap(),
            &r.tag("SecretAccessKey").unwrap(),
            None,
        )
    }

    async fn put_user_policy(&self, user: &str, name: &str, doc: &str) {
        self.root(&[
            ("Action", "PutUserPolicy"),
            ("UserName", user),
            ("PolicyName", name),
            ("PolicyDocument", doc),
        ])
        .await
        .ok();
    }

    fn arn(&self, resource: &str) -> String {
        format!("arn:aws:iam::{}:{resource}", self.account)
    }

    /// Every audit event, newest first, as stored JSON.
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

fn allow(actions: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":{actions},"Resource":"*"}}]}}"#
    )
}

#[tokio::test]
async fn caller_identity_for_root_user_and_assumed_role() {
    let env = Env::new().await;
    let r = env.sts(&env.root, &[("Action", "GetCallerIdentity")]).await;
    r.ok();
    assert!(r.body.starts_with(
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
    ));
    assert_eq!(r.tag("Arn").unwrap(), env.arn("root"));
    assert_eq!(r.tag("Account").unwrap(), env.account);
    assert_eq!(r.tag("UserId").unwrap(), env.account);
    assert!(r.tag("RequestId").is_some());

    let alice = env.user("alice").await;
    let r = env.sts(&alice, &[("Action", "GetCallerIdentity")]).await;
    r.ok();
    assert_eq!(r.tag("Arn").unwrap(), env.arn("user/alice"));
    assert!(r.tag("UserId").unwrap().starts_with("AIDA"));

    env.root(&[
        ("Action", "CreateRole"),
        ("RoleName", "reader"),
        ("AssumeRolePolicyDocument", ALLOW_ALL_TRUST),
    ])
    .await
    .ok();
    let r = env
        .sts(
            &alice,
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", &env.arn("role/reader")),
                ("RoleSessionName", "s1"),
            ],
        )
        .await;
    r.ok();
    let session = creds(
        &r.tag("AccessKeyId").unwrap(),
        &r.tag("SecretAccessKey").unwrap(),
        Some(&r.tag("SessionToken").unwrap()),
    );
    let r = env.sts(&session, &[("Action", "GetCallerIdentity")]).await;
    r.ok();
    assert_eq!(
        r.tag("Arn").unwrap(),
        format!("arn:aws:sts::{}:assumed-role/reader/s1", env.account)
    );
    assert!(
        r.tag("UserId").unwrap().starts_with("AROA") && r.tag("UserId").unwrap().ends_with(":s1")
    );
}

#[tokio::test]
async fn user_requests_follow_their_inline_policies() {
    let env = Env::new().await;
    let alice = env.user("alice").await;
    let r = env.iam(&alice, &[("Action", "ListUsers")]).await;
    r.err(403, "AccessDenied");
    assert_eq!(
        r.message(),
        format!(
            "User: {} is not authorized to perform: iam:ListUsers on resource: {} because no identity-based policy \
             allows the iam:ListUsers action",
            env.arn("user/alice"),
            env.arn("user/")
        )
    );

    env.put_user_policy(
        "alice",
        "read",
        &allow(r#"["iam:ListUsers","iam:GetUser"]"#),
    )
    .await;
    let r = env.iam(&alice, &[("Action", "ListUsers")]).await;
    r.ok();
    assert_eq!(r.tags("UserName"), vec!["alice"]);
    let r = env.iam(&alice, &[("Action", "GetUser")]).await;
    r.ok();
    assert_eq!(r.tag("Arn").unwrap(), env.arn("user/alice"));
    assert_eq!(r.tag("UserName").unwrap(), "alice");

    // Her own GetUser is now explicitly denied; creating users was never allowed.
    env.put_user_policy(
        "alice",
        "deny",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:GetUser","Resource":"*"}]}"#,
    )
    .await;
    let r = env.iam(&alice, &[("Action", "GetUser")]).await;
    r.err(403, "AccessDenied");
    assert_eq!(
        r.message(),
        format!(
            "User: {0} is not authorized to perform: iam:GetUser on resource: {0} with an explicit deny in an \
             identity-based policy",
            env.arn("user/alice")
        )
    );
    let r = env
        .iam(&alice, &[("Action", "CreateUser"), ("UserName", "mallory")])
        .await;
    r.err(403, "AccessDenied");
    assert!(r.message().contains(&format!(
        "iam:CreateUser on resource: {}",
        env.arn("user/mallory")
    )));
    env.root(&[("Action", "GetUser"), ("UserName", "mallory")])
        .await
        .err(404, "NoSuchEntity");
}

#[tokio::test]
async fn users_and_access_keys() {
    let env = Env::new().await;
    let r = env
        .root(&[
            ("Action", "CreateUser"),
            ("UserName", "bob"),
            ("Path", "/team/"),
        ])
        .await;
    r.ok();
    assert!(r
        .body
        .contains("<CreateUserResult><User><Path>/team/</Path><UserName>bob</UserName>"));
    assert_eq!(r.tag("Arn").unwrap(), env.arn("user/team/bob"));
    let created = r.tag("CreateDate").unwrap();
    assert!(
        OffsetDateTime::parse(&created, &time::format_description::well_known::Rfc3339).is_ok(),
        "{created}"
    );
    env.root(&[("Action", "CreateUser"), ("UserName", "bob")])
        .await
        .err(409, "EntityAlreadyExists");
    let r = env
        .root(&[("Action", "CreateUser"), ("UserName", "bad name!")])
        .await;
    r.err(400, "ValidationError");
    assert!(r.message().contains("userName"), "{}", r.message());
    let r = env.root(&[("Action", "CreateUser")]).await;
    r.err(400, "ValidationError");
    assert!(
        r.message().contains("Value null at 'userName'"),
        "{}",
        r.message()
    );
    env.root(&[("Action", "GetUser"), ("UserName", "nobody")])
        .await
        .err(404, "NoSuchEntity");
    let r = env.root(&[("Action", "FlyToTheMoon")]).await;
    r.err(400, "InvalidAction");
    assert_eq!(
        r.message(),
        "Could not find operation FlyToTheMoon for version 2010-05-08"
    );

    // The root user's own identity has no UserName.
    let r = env.root(&[("Action", "GetUser")]).await;
    r.ok();
    assert_eq!(r.tag("Arn").unwrap(), env.arn("root"));
    assert_eq!(r.tag("UserId").unwrap(), env.account);
    assert!(r.tag("UserName").is_none());

    env.root(&[("Action", "CreateUser"), ("UserName", "carol")])
        .await
        .ok();
    let r = env
        .root(&[("Action", "ListUsers"), ("MaxItems", "1")])
        .await;
    r.ok();
    assert_eq!(r.tags("UserName"), vec!["bob"]);
    assert_eq!(r.tag("IsTruncated").unwrap(), "true");
    let marker = r.tag("Marker").unwrap();
    let r = env
        .root(&[
            ("Action", "ListUsers"),
            ("MaxItems", "1"),
            ("Marker", &marker),
        ])
        .await;
    assert_eq!(r.tags("UserName"), vec!["carol"]);
    assert_eq!(r.tag("IsTruncated").unwrap(), "false");
    let r = env
        .root(&[("Action", "ListUsers"), ("PathPrefix", "/team/")])
        .await;
    assert_eq!(r.tags("UserName"), vec!["bob"]);
    env.root(&[("Action", "ListUsers"), ("MaxItems", "0")])
        .await
        .err(400, "ValidationError");

    // Two keys per user; the third is over quota.
    let k1 = env
        .root(&[("Action", "CreateAccessKey"), ("UserName", "bob")])
        .await;
    k1.ok();
    assert_eq!(k1.tag("UserName").unwrap(), "bob");
    assert_eq!(k1.tag("Status").unwrap(), "Active");
    assert_eq!(k1.tag("SecretAccessKey").unwrap().len(), 40);
    let bob = creds(
        &k1.tag("AccessKeyId").unwrap(),
        &k1.tag("SecretAccessKey").unwrap(),
        None,
    );
    let k2 = env
        .root(&[("Action", "CreateAccessKey"), ("UserName", "bob")])
        .await;
    k2.ok();
    let r = env
        .root(&[("Action", "CreateAccessKey"), ("UserName", "bob")])
        .await;
    r.err(409, "LimitExceeded");
    let r = env
        .root(&[("Action", "ListAccessKeys"), ("UserName", "bob")])
        .await;
    r.ok();
    assert_eq!(r.tags("AccessKeyId").len(), 2);
    assert!(!r.body.contains("SecretAccessKey"));

    // Bob manages his own keys without naming himself, given the permission.
    env.put_user_policy("bob", "keys", &allow(r#""iam:*AccessKey*""#))
        .await;
    let r = env.iam(&bob, &[("Action", "ListAccessKeys")]).await;
    r.ok();
    assert_eq!(r.tags("UserName"), vec!["bob", "bob"]);
    let r = env
        .iam(&bob, &[("Action", "ListAccessKeys"), ("MaxItems", "1")])
        .await;
    assert_eq!(r.tags("AccessKeyId").len(), 1);
    assert_eq!(r.tag("IsTruncated").unwrap(), "true");
    let k2_id = k2.tag("AccessKeyId").unwrap();
    env.iam(
        &bob,
        &[
            ("Action", "UpdateAccessKey"),
            ("AccessKeyId", &k2_id),
            ("Status", "Inactive"),
        ],
    )
    .await
    .ok();
    let r = env.iam(&bob, &[("Action", "ListAccessKeys")]).await;
    assert!(r.tags("Status").contains(&"Inactive".to_owned()));
    let k2_creds = creds(&k2_id, &k2.tag("SecretAccessKey").unwrap(), None);
    env.iam(&k2_creds, &[("Action", "ListAccessKeys")])
        .await
        .err(403, "InvalidClientTokenId");
    env.iam(
        &bob,
        &[
            ("Action", "UpdateAccessKey"),
            ("AccessKeyId", &k2_id),
            ("Status", "Sideways"),
        ],
    )
    .await
    .err(400, "ValidationError");
    env.iam(
        &bob,
        &[
            ("Action", "DeleteAccessKey"),
            ("AccessKeyId", "AKIAAAAAAAAAAAAAAAAA"),
        ],
    )
    .await
    .err(404, "NoSuchEntity");

    // A user with keys or policies cannot be deleted.
    env.root(&[("Action", "DeleteUser"), ("UserName", "bob")])
        .await
        .err(409, "DeleteConflict");
    env.root(&[
        ("Action", "DeleteUserPolicy"),
        ("UserName", "bob"),
        ("PolicyName", "keys"),
    ])
    .await
    .ok();
    env.root(&[
        ("Action", "DeleteAccessKey"),
        ("UserName", "bob"),
        ("AccessKeyId", &k2_id),
    ])
    .await
    .ok();
    let r = env
        .root(&[("Action", "DeleteUser"), ("UserName", "bob")])
        .await;
    r.err(409, "DeleteConflict");
    assert!(r.message().contains("access keys"), "{}", r.message());
    env.root(&[
        ("Action", "DeleteAccessKey"),
        ("UserName", "bob"),
        ("AccessKeyId", &bob.access_key_id),
    ])
    .await
    .ok();
    let r = env
        .root(&[("Action", "DeleteUser"), ("UserName", "bob")])
        .await;
    r.ok();
    assert!(r.body.starts_with("<DeleteUserResponse"));
    assert!(!r.body.contains("DeleteUserResult"));
    env.root(&[("Action", "GetUser"), ("UserName", "bob")])
        .await
        .err(404, "NoSuchEntity");

    // Root's own second key, made without a user name, works.
    let r = env.root(&[("Action", "CreateAccessKey")]).await;
    r.ok();
    assert!(r.tag("UserName").is_none());
    let root2 = creds(
        &r.tag("AccessKeyId").unwrap(),
        &r.tag("SecretAccessKey").unwrap(),
        None,
    );
    let r = env.sts(&root2, &[("Action", "GetCallerIdentity")]).await;
    assert_eq!(r.tag("Arn").unwrap(), env.arn("root"));
    let r = env.root(&[("Action", "ListAccessKeys")]).await;
    assert_eq!(r.tags("AccessKeyId").len(), 2);
}

#[tokio::test]
async fn inline_and_managed_policies() {
    let env = Env::new().await;
    env.root(&[("Action", "CreateUser"), ("UserName", "dave")])
        .await
        .ok();
    let doc = allow(r#""s3:GetObject""#);

    let r = env
        .root(&[
            ("Action", "PutUserPolicy"),
            ("UserName", "dave"),
            ("PolicyName", "p"),
            ("PolicyDocument", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject"}]}"#),
        ])
        .await;
    r.err(400, "MalformedPolicyDocument");
    assert!(r.message().contains("Statement"), "{}", r.message());
    env.root(&[
        ("Action", "PutUserPolicy"),
        ("UserName", "dave"),
        ("PolicyName", "p"),
        ("PolicyDocument", "{"),
    ])
    .await
    .err(400, "MalformedPolicyDocument");
    env.root(&[
        ("Action", "PutUserPolicy"),
        ("UserName", "ghost"),
        ("PolicyName", "p"),
        ("PolicyDocument", &doc),
    ])
    .await
    .err(404, "NoSuchEntity");
    env.put_user_policy("dave", "p", &doc).await;
    let r = env
        .root(&[
            ("Action", "GetUserPolicy"),
            ("UserName", "dave"),
            ("PolicyName", "p"),
        ])
        .await;
    r.ok();
    assert_eq!(r.tag("UserName").unwrap(), "dave");
    let encoded = r.tag("PolicyDocument").unwrap();
    assert!(encoded.starts_with("%7B%22Version%22"), "{encoded}");
    assert_eq!(decode_document(&encoded), doc);
    let r = env
        .root(&[("Action", "ListUserPolicies"), ("UserName", "dave")])
        .await;
    assert_eq!(r.tags("member"), vec!["p"]);
    env.root(&[
        ("Action", "DeleteUserPolicy"),
        ("UserName", "dave"),
        ("PolicyName", "p"),
    ])
    .await
    .ok();
    env.root(&[
        ("Action", "GetUserPolicy"),
        ("UserName", "dave"),
        ("PolicyName", "p"),
    ])
    .await
    .err(404, "NoSuchEntity");

    // Roles.
    let r = env
        .root(&[
            ("Action", "CreateRole"),
            ("RoleName", "app"),
            ("Path", "/svc/"),
            ("AssumeRolePolicyDocument", ALLOW_ALL_TRUST),
            ("Description", "the app"),
            ("MaxSessionDuration", "7200"),
        ])
        .await;
    r.ok();
    assert_eq!(r.tag("Arn").unwrap(), env.arn("role/svc/app"));
    assert_eq!(r.tag("MaxSessionDuration").unwrap(), "7200");
    env.root(&[
        ("Action", "CreateRole"),
        ("RoleName", "app"),
        ("AssumeRolePolicyDocument", ALLOW_ALL_TRUST),
    ])
    .await
    .err(409, "EntityAlreadyExists");
    env.root(&[
        ("Action", "CreateRole"),
        ("RoleName", "bad"),
        ("AssumeRolePolicyDocument", &doc),
    ])
    .await
    .err(400, "MalformedPolicyDocument");
    env.root(&[
        ("Action", "CreateRole"),
        ("RoleName", "x"),
        ("AssumeRolePolicyDocument", ALLOW_ALL_TRUST),
        ("MaxSessionDuration", "60"),
    ])
    .await
    .err(400, "ValidationError");
    let r = env
        .root(&[("Action", "GetRole"), ("RoleName", "app")])
        .await;
    r.ok();
    assert_eq!(
        decode_document(&r.tag("AssumeRolePolicyDocument").unwrap()),
        ALLOW_ALL_TRUST
    );
    assert_eq!(r.tag("Description").unwrap(), "the app");
    env.root(&[("Action", "GetRole"), ("RoleName", "nope")])
        .await
        .err(404, "NoSuchEntity");
    let trust2 = ALLOW_ALL_TRUST.replace("\"*\"", &format!("\"{}\"", env.arn("root")));
    env.root(&[
        ("Action", "UpdateAssumeRolePolicy"),
        ("RoleName", "app"),
        ("PolicyDocument", &trust2),
    ])
    .await
    .ok();
    let r = env.root(&[("Action", "ListRoles")]).await;
    r.ok();
    assert_eq!(r.tags("RoleName"), vec!["app"]);
    assert_eq!(
        decode_document(&r.tag("AssumeRolePolicyDocument").unwrap()),
        trust2
    );
    env.root(&[
        ("Action", "PutRolePolicy"),
        ("RoleName", "app"),
        ("PolicyName", "rp"),
        ("PolicyDocument", &doc),
    ])
    .await
    .ok();
    let r = env
        .root(&[
            ("Action", "GetRolePolicy"),
            ("RoleName", "app"),
            ("PolicyName", "rp"),
        ])
        .await;
    assert_eq!(r.tag("RoleName").unwrap(), "app");
    assert_eq!(decode_document(&r.tag("PolicyDocument").unwrap()), doc);
    let r = env
        .root(&[("Action", "ListRolePolicies"), ("RoleName", "app")])
        .await;
    assert_eq!(r.tags("member"), vec!["rp"]);
    env.root(&[("Action", "DeleteRole"), ("RoleName", "app")])
        .await
        .err(409, "DeleteConflict");
    env.root(&[
        ("Action", "DeleteRolePolicy"),
        ("RoleName", "app"),
        ("PolicyName", "rp"),
    ])
    .await
    .ok();

    // Managed policies.
    let r = env
        .root(&[
            ("Action", "CreatePolicy"),
            ("PolicyName", "Readers"),
            ("PolicyDocument", &doc),
            ("Description", "d"),
        ])
        .await;
    r.ok();
    let policy_arn = r.tag("Arn").unwrap();
    assert_eq!(policy_arn, env.arn("policy/Readers"));
    assert_eq!(r.tag("DefaultVersionId").unwrap(), "v1");
    env.root(&[
        ("Action", "CreatePolicy"),
        ("PolicyName", "Readers"),
        ("PolicyDocument", &doc),
    ])
    .await
    .err(409, "EntityAlreadyExists");
    let r = env
        .root(&[("Action", "GetPolicy"), ("PolicyArn", &policy_arn)])
        .await;
    r.ok();
    assert_eq!(r.tag("PolicyName").unwrap(), "Readers");
    assert_eq!(r.tag("Description").unwrap(), "d");
    let r = env
        .root(&[
            ("Action", "GetPolicyVersion"),
            ("PolicyArn", &policy_arn),
            ("VersionId", "v1"),
        ])
        .await;
    r.ok();
    assert_eq!(decode_document(&r.tag("Document").unwrap()), doc);
    assert_eq!(r.tag("IsDefaultVersion").unwrap(), "true");
    env.root(&[
        ("Action", "GetPolicyVersion"),
        ("PolicyArn", &policy_arn),
        ("VersionId", "v9"),
    ])
    .await
    .err(404, "NoSuchEntity");
    env.root(&[
        ("Action", "GetPolicyVersion"),
        ("PolicyArn", &policy_arn),
        ("VersionId", "one"),
    ])
    .await
    .err(400, "ValidationError");
    let r = env
        .root(&[("Action", "ListPolicies"), ("Scope", "Local")])
        .await;
    assert_eq!(r.tags("PolicyName"), vec!["Readers"]);
    let r = env
        .root(&[("Action", "ListPolicies"), ("Scope", "AWS")])
        .await;
    assert!(r
        .tags("PolicyName")
        .contains(&"AdministratorAccess".to_owned()));

    env.root(&[
        ("Action", "AttachUserPolicy"),
        ("UserName", "dave"),
        ("PolicyArn", &policy_arn),
    ])
    .await
    .ok();
    let r = env
        .root(&[("Action", "ListAttachedUserPolicies"), ("UserName", "dave")])
        .await;
    r.ok();
    assert_eq!(r.tags("PolicyArn"), vec![policy_arn.clone()]);
    let r = env
        .root(&[("Action", "GetPolicy"), ("PolicyArn", &policy_arn)])
        .await;
    assert_eq!(r.tag("AttachmentCount").unwrap(), "1");
    env.root(&[("Action", "DeletePolicy"), ("PolicyArn", &policy_arn)])
        .await
        .err(409, "DeleteConflict");
    env.root(&[
        ("Action", "DetachUserPolicy"),
        ("UserName", "dave"),
        ("PolicyArn", &policy_arn),
    ])
    .await
    .ok();
    env.root(&[
        ("Action", "DetachUserPolicy"),
        ("UserName", "dave"),
        ("PolicyArn", &policy_arn),
    ])
    .await
    .err(404, "NoSuchEntity");
    env.root(&[("Action", "DeletePolicy"), ("PolicyArn", &policy_arn)])
        .await
        .ok();
    env.root(&[("Action", "GetPolicy"), ("PolicyArn", &policy_arn)])
        .await
        .err(404, "NoSuchEntity");

    let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
    env.root(&[
        ("Action", "AttachRolePolicy"),
        ("RoleName", "app"),
        ("PolicyArn", admin),
    ])
    .await
    .ok();
    env.root(&[
        ("Action", "AttachRolePolicy"),
        ("RoleName", "app"),
        ("PolicyArn", "arn:aws:iam::aws:policy/NoSuch"),
    ])
    .await
    .err(404, "NoSuchEntity");
    let r = env
        .root(&[("Action", "ListAttachedRolePolicies"), ("RoleName", "app")])
        .await;
    assert_eq!(r.tags("PolicyName"), vec!["AdministratorAccess"]);
    env.root(&[("Action", "DeleteRole"), ("RoleName", "app")])
        .await
        .err(409, "DeleteConflict");
    env.root(&[
        ("Action", "DetachRolePolicy"),
        ("RoleName", "app"),
        ("PolicyArn", admin),
    ])
    .await
    .ok();
    env.root(&[("Action", "DeleteRole"), ("RoleName", "app")])
        .await
        .ok();
    let r = env.root(&[("Action", "ListRoles")]).await;
    assert!(r.tags("RoleName").is_empty());

    // An attached managed policy grants what it says.
    let dave = {
        let r = env
            .root(&[("Action", "CreateAccessKey"), ("UserName", "dave")])
            .await;
        creds(
            &r.tag("AccessKeyId").unwrap(),
            &r.tag("SecretAccessKey").unwrap(),
            None,
        )
    };
    env.iam(&dave, &[("Action", "ListRoles")])
        .await
        .err(403, "AccessDenied");
    env.root(&[
        ("Action", "AttachUserPolicy"),
        ("UserName", "dave"),
        ("PolicyArn", "arn:aws:iam::aws:policy/IAMFullAccess"),
    ])
    .await
    .ok();
    env.iam(&dave, &[("Action", "ListRoles")]).await.ok();
}

#[tokio::test]
async fn assume_role_trust_session_policies_and_tokens() {
    let env = Env::new().await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"sts:AssumeRole"}}]}}"#,
        env.arn("user/alice")
    );
    env.root(&[
        ("Action", "CreateRole"),
        ("RoleName", "ops"),
        ("AssumeRolePolicyDocument", &trust),
    ])
    .await
    .ok();
    env.root(&[
        ("Action", "PutRolePolicy"),
        ("RoleName", "ops"),
        ("PolicyName", "list"),
        (
            "PolicyDocument",
            &allow(r#"["iam:ListUsers","iam:ListRoles"]"#),
        ),
    ])
    .await
    .ok();
    let role_arn = env.arn("role/ops");

    // Bob is not in the trust policy: even his own permission to assume any role does not help.
    env.put_user_policy("bob", "assume", &allow(r#""sts:AssumeRole""#))
        .await;
    let r = env
        .sts(
            &bob,
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", &role_arn),
                ("RoleSessionName", "bb"),
            ],
        )
        .await;
    r.err(403, "AccessDenied");
    assert!(
        r.message().starts_with(&format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            env.arn("user/bob")
        )),
        "{}",
        r.message()
    );
    let missing = env.arn("role/nothere");
    let r = env
        .sts(
            &bob,
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", &missing),
                ("RoleSessionName", "bb"),
            ],
        )
        .await;
    r.err(403, "AccessDenied");
    assert_eq!(
        r.message(),
        format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {missing}",
            env.arn("user/bob")
        )
    );
    let r = env
        .sts(
            &env.root,
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", &role_arn),
                ("RoleSessionName", "rr"),
            ],
        )
        .await;
    r.err(403, "AccessDenied");
    assert_eq!(r.message(), "Roles may not be assumed by root accounts.");
    env.sts(
        &alice,
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", &role_arn),
            ("RoleSessionName", "x"),
        ],
    )
    .await
    .err(400, "ValidationError");
    env.sts(&alice, &[("Action", "AssumeRole"), ("RoleArn", &role_arn)])
        .await
        .err(400, "ValidationError");
    env.sts(
        &alice,
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", &role_arn),
            ("RoleSessionName", "ok"),
            ("DurationSeconds", "60"),
        ],
    )
    .await
    .err(400, "ValidationError");
    env.sts(&alice, &[("Action", "Nope")])
        .await
        .err(400, "InvalidAction");

    // Alice, named by the trust policy, gets a session limited by her session policy.
    let r = env
        .sts(
            &alice,
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", &role_arn),
                ("RoleSessionName", "alice-s"),
                ("DurationSeconds", "900"),
                ("Policy", &allow(r#""iam:ListUsers""#)),
            ],
        )
        .await;
    r.ok();
    assert_eq!(
        r.tag("Arn").unwrap(),
        format!("arn:aws:sts::{}:assumed-role/ops/alice-s", env.account)
    );
    assert!(r.tag("AccessKeyId").unwrap().starts_with("ASIA"));
    assert!(r.tag("PackedPolicySize").is_some());
    let expiration = OffsetDateTime::parse(
        &r.tag("Expiration").unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let remaining = expiration - OffsetDateTime::now_utc();
    assert!(
        remaining.whole_seconds() > 800 && remaining.whole_seconds() <= 900,
        "{remaining}"
    );
    let (akid, secret, token) = (
        r.tag("AccessKeyId").unwrap(),
        r.tag("SecretAccessKey").unwrap(),
        r.tag("SessionToken").unwrap(),
    );
    let session = creds(&akid, &secret, Some(&token));
    env.iam(&session, &[("Action", "ListUsers")]).await.ok();
    let r = env.iam(&session, &[("Action", "ListRoles")]).await;
    r.err(403, "AccessDenied");
    assert!(
        r.message()
            .ends_with("because no session policy allows the iam:ListRoles action"),
        "{}",
        r.message()
    );

    // Wrong or missing tokens, and an expired session.
    env.sts(
        &creds(&akid, &secret, Some("bogus")),
        &[("Action", "GetCallerIdentity")],
    )
    .await
    .err(403, "InvalidClientTokenId");
    env.sts(
        &creds(&akid, &secret, None),
        &[("Action", "GetCallerIdentity")],
    )
    .await
    .err(403, "InvalidClientTokenId");
    env.sts(
        &creds("ASIAAAAAAAAAAAAAAAAA", &secret, Some(&token)),
        &[("Action", "GetCallerIdentity")],
    )
    .await
    .err(403, "InvalidClientTokenId");
    let r = env
        .sts(
            &alice,
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", &role_arn),
                ("RoleSessionName", "old"),
            ],
        )
        .await;
    r.ok();
    let old = creds(
        &r.tag("AccessKeyId").unwrap(),
        &r.tag("SecretAccessKey").unwrap(),
        Some(&r.tag("SessionToken").unwrap()),
    );
    expire_session(&env.store, &old.access_key_id).await;
    let r = env.sts(&old, &[("Action", "GetCallerIdentity")]).await;
    r.err(403, "ExpiredToken");

    // ExternalId is offered to the trust policy as sts:ExternalId.
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"sts:AssumeRole","Condition":{{"StringEquals":{{"sts:ExternalId":"xyz-123"}}}}}}]}}"#,
        env.arn("user/bob")
    );
    env.root(&[
        ("Action", "CreateRole"),
        ("RoleName", "partner"),
        ("AssumeRolePolicyDocument", &trust),
    ])
    .await
    .ok();
    let partner = env.arn("role/partner");
    env.sts(
        &bob,
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", &partner),
            ("RoleSessionName", "pp"),
        ],
    )
    .await
    .err(403, "AccessDenied");
    env.sts(
        &bob,
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", &partner),
            ("RoleSessionName", "pp"),
            ("ExternalId", "nope-1"),
        ],
    )
    .await
    .err(403, "AccessDenied");
    env.sts(
        &bob,
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", &partner),
            ("RoleSessionName", "pp"),
            ("ExternalId", "xyz-123"),
        ],
    )
    .await
    .ok();

    // GetAccessKeyInfo names the account of a key.
    let r = env
        .sts(
            &alice,
            &[
                ("Action", "GetAccessKeyInfo"),
                ("AccessKeyId", &bob.access_key_id),
            ],
        )
        .await;
    r.err(403, "AccessDenied");
    let r = env
        .sts(
            &env.root,
            &[
                ("Action", "GetAccessKeyInfo"),
                ("AccessKeyId", &bob.access_key_id),
            ],
        )
        .await;
    r.ok();
    assert_eq!(r.tag("Account").unwrap(), env.account);
}

/// Moves a session's expiration into the past, as time passing would.
async fn expire_session(store: &meta::Store, access_key_id: &str) {
    let id = access_key_id.to_owned();
    store
        .transact_async(move |txn| -> Result<(), meta::Error> {
            let raw = txn
                .get("iam.sessions", id.as_bytes())?
                .expect("session stored");
            let mut s: iam::Session = meta::codec::decode_json(&raw)?;
            s.expiration = OffsetDateTime::now_utc() - time::Duration::seconds(5);
            txn.put(
                "iam.sessions",
                id.into_bytes(),
                meta::codec::encode_json(&s)?,
            );
            Ok(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn simulate_custom_and_principal_policies() {
    let env = Env::new().await;
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"Read","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
        {"Sid":"NoDelete","Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"},
        {"Sid":"FromOffice","Effect":"Allow","Action":"s3:ListBucket","Resource":"*",
         "Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#;
    let base = [
        ("Action", "SimulateCustomPolicy"),
        ("PolicyInputList.member.1", policy),
        ("ActionNames.member.1", "s3:GetObject"),
        ("ActionNames.member.2", "s3:DeleteObject"),
        ("ActionNames.member.3", "s3:PutObject"),
        ("ActionNames.member.4", "s3:ListBucket"),
        ("ResourceArns.member.1", "arn:aws:s3:::b/k"),
    ];
    let r = env.root(&base).await;
    r.ok();
    assert_eq!(
        r.tags("EvalActionName"),
        vec![
            "s3:GetObject",
            "s3:DeleteObject",
            "s3:PutObject",
            "s3:ListBucket"
        ]
    );
    assert_eq!(
        r.tags("EvalDecision"),
        vec!["allowed", "explicitDeny", "implicitDeny", "implicitDeny"]
    );
    assert_eq!(r.tags("EvalResourceName"), vec!["arn:aws:s3:::b/k"; 4]);
    assert_eq!(
        r.tags("SourcePolicyId"),
        vec!["PolicyInputList.1", "PolicyInputList.1"]
    );
    assert_eq!(
        r.tags("MissingContextValues").last().unwrap(),
        "<member>aws:SourceIp</member>"
    );

    let mut with_ip = base.to_vec();
    with_ip.extend([
        ("ContextEntries.member.1.ContextKeyName", "aws:SourceIp"),
        (
            "ContextEntries.member.1.ContextKeyValues.member.1",
            "10.1.2.3",
        ),
        ("ContextEntries.member.1.ContextKeyType", "ip"),
    ]);
    let r = env.root(&with_ip).await;
    assert_eq!(
        r.tags("EvalDecision"),
        vec!["allowed", "explicitDeny", "implicitDeny", "allowed"]
    );
    assert!(
        r.tags("MissingContextValues").iter().all(String::is_empty),
        "{}",
        r.body
    );

    // Without resources the simulation is for "*".
    let r = env
        .root(&[
            ("Action", "SimulateCustomPolicy"),
            ("PolicyInputList.member.1", policy),
            ("ActionNames.member.1", "s3:DeleteObject"),
        ])
        .await;
    assert_eq!(r.tag("EvalResourceName").unwrap(), "*");
    env.root(&[
        ("Action", "SimulateCustomPolicy"),
        ("PolicyInputList.member.1", policy),
    ])
    .await
    .err(400, "ValidationError");
    env.root(&[
        ("Action", "SimulateCustomPolicy"),
        ("PolicyInputList.member.1", "{"),
        ("ActionNames.member.1", "s3:X"),
    ])
    .await
    .err(400, "MalformedPolicyDocument");

    // A permissions boundary caps what the policies allow.
    let mut bounded = base.to_vec();
    bounded.push(("PermissionsBoundaryPolicyInputList.member.1", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#));
    let r = env.root(&bounded).await;
    assert_eq!(r.tag("EvalDecision").unwrap(), "implicitDeny");
    assert_eq!(r.tag("AllowedByPermissionsBoundary").unwrap(), "false");

    // The principal simulation uses the user's stored policies, named by policy name.
    env.root(&[("Action", "CreateUser"), ("UserName", "erin")])
        .await
        .ok();
    env.put_user_policy("erin", "reads", &allow(r#""s3:GetObject""#))
        .await;
    let r = env
        .root(&[
            ("Action", "SimulatePrincipalPolicy"),
            ("PolicySourceArn", &env.arn("user/erin")),
            ("ActionNames.member.1", "s3:GetObject"),
            ("ActionNames.member.2", "s3:PutObject"),
        ])
        .await;
    r.ok();
    assert_eq!(r.tags("EvalDecision"), vec!["allowed", "implicitDeny"]);
    assert_eq!(r.tag("SourcePolicyId").unwrap(), "reads");
    assert_eq!(r.tag("SourcePolicyType").unwrap(), "user");
    env.root(&[
        ("Action", "SimulatePrincipalPolicy"),
        ("PolicySourceArn", &env.arn("user/ghost")),
        ("ActionNames.member.1", "s3:GetObject"),
    ])
    .await
    .err(404, "NoSuchEntity");
}

#[tokio::test]
async fn audit_events_record_parameters_but_never_secrets() {
    let env = Env::new().await;
    let alice = env.user("alice").await;
    env.root(&[
        ("Action", "CreateRole"),
        ("RoleName", "r"),
        ("AssumeRolePolicyDocument", ALLOW_ALL_TRUST),
    ])
    .await
    .ok();
    let r = env
        .sts(
            &alice,
            &[
                ("Action", "AssumeRole"),
                ("RoleArn", &env.arn("role/r")),
                ("RoleSessionName", "ss"),
            ],
        )
        .await;
    r.ok();
    let session_secret = r.tag("SecretAccessKey").unwrap();
    let token = r.tag("SessionToken").unwrap();
    let session_key = r.tag("AccessKeyId").unwrap();
    env.iam(&alice, &[("Action", "ListUsers")])
        .await
        .err(403, "AccessDenied");

    let events = env.audit_events();
    for e in &events {
        assert!(
            !e.contains(&alice.secret_access_key),
            "a user's secret access key leaked: {e}"
        );
        assert!(
            !e.contains(&env.root.secret_access_key),
            "the root secret leaked: {e}"
        );
        assert!(!e.contains(&session_secret), "a session secret leaked: {e}");
        assert!(!e.contains(&token), "a session token leaked: {e}");
    }
    let parsed: Vec<serde_json::Value> = events
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let find = |name: &str| {
        parsed
            .iter()
            .find(|e| e["eventName"] == name)
            .cloned()
            .unwrap()
    };
    let create_key = find("CreateAccessKey");
    assert_eq!(create_key["eventSource"], "iam.amazonaws.com");
    assert_eq!(create_key["requestParameters"]["userName"], "alice");
    assert_eq!(
        create_key["responseElements"]["accessKey"]["accessKeyId"],
        alice.access_key_id.as_str()
    );
    let create_user = find("CreateUser");
    assert_eq!(
        create_user["responseElements"]["user"]["arn"],
        env.arn("user/alice").as_str()
    );
    let assume = find("AssumeRole");
    assert_eq!(assume["eventSource"], "sts.amazonaws.com");
    assert_eq!(
        assume["requestParameters"]["roleArn"],
        env.arn("role/r").as_str()
    );
    assert_eq!(assume["requestParameters"]["roleSessionName"], "ss");
    assert_eq!(
        assume["responseElements"]["credentials"]["accessKeyId"],
        session_key.as_str()
    );
    let denied = find("ListUsers");
    assert_eq!(denied["errorCode"], "AccessDenied");
}
