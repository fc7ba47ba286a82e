//! Golden-file tests for IAM's persisted records (spec: `docs/design/iam-records.md`): today's encoder must
//! produce the checked-in bytes, and every checked-in file must still decode, so a change that would strand
//! existing data directories fails here first. `IAM_BLESS=1` rewrites the files after a deliberate format change.

use std::path::PathBuf;

use iam::{AccessKey, AccessKeyStatus, Account, ManagedPolicy, PolicyVersion, Role, Session, User};
use serde::{de::DeserializeOwned, Serialize};
use time::macros::datetime;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Encodes `value`, compares with (or, when blessing, writes) the golden file, and decodes the file back.
fn check<T: Serialize + DeserializeOwned + std::fmt::Debug>(name: &str, value: &T) -> T {
    let encoded = meta::codec::encode_json(value).unwrap();
    let path = golden(name);
    if std::env::var_os("IAM_BLESS").is_some() {
        std::fs::write(&path, &encoded).unwrap();
    }
    let stored = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        String::from_utf8_lossy(&stored),
        String::from_utf8_lossy(&encoded),
        "{name}: the encoding changed; old data directories would no longer read back the same"
    );
    meta::codec::decode_json(&stored).unwrap()
}

#[test]
fn account_record() {
    let a = Account {
        id: "123456789012".into(),
        name: "default".into(),
        created: datetime!(2026-01-02 03:04:05 UTC),
    };
    let back = check("account.v1", &a);
    assert_eq!(
        (back.id, back.name, back.created),
        (a.id, a.name, a.created)
    );
}

#[test]
fn user_record() {
    let u = User {
        account: "123456789012".into(),
        name: "alice".into(),
        user_id: "AIDAEXAMPLEEXAMPLEEX".into(),
        path: "/team/".into(),
        arn: "arn:aws:iam::123456789012:user/team/alice".into(),
        created: datetime!(2026-01-02 03:04:05 UTC),
        tags: vec![("k".into(), "v".into())],
    };
    let back = check("user.v1", &u);
    assert_eq!(back.arn, u.arn);
    assert_eq!(back.tags, u.tags);
}

#[test]
fn access_key_record() {
    let k = AccessKey {
        id: "AKIAEXAMPLEEXAMPLE00".into(),
        account: "123456789012".into(),
        user: Some("alice".into()),
        status: AccessKeyStatus::Inactive,
        created: datetime!(2026-01-02 03:04:05 UTC),
        sealed_secret: vec![1, 2, 3, 250, 251, 252],
    };
    let back = check("access_key.v1", &k);
    assert_eq!(back.sealed_secret, k.sealed_secret);
    assert_eq!(back.status, AccessKeyStatus::Inactive);
}

#[test]
fn role_record() {
    let r = Role {
        account: "123456789012".into(),
        name: "reader".into(),
        role_id: "AROAEXAMPLEEXAMPLEEX".into(),
        path: "/".into(),
        arn: "arn:aws:iam::123456789012:role/reader".into(),
        trust_policy: r#"{"Version":"2012-10-17","Statement":[]}"#.into(),
        description: Some("reads".into()),
        max_session_duration: 7200,
        created: datetime!(2026-01-02 03:04:05 UTC),
    };
    let back = check("role.v1", &r);
    assert_eq!(back.max_session_duration, 7200);
    assert_eq!(back.trust_policy, r.trust_policy);
}

#[test]
fn managed_policy_record() {
    let p = ManagedPolicy {
        account: "123456789012".into(),
        name: "ReadOnly".into(),
        policy_id: "ANPAEXAMPLEEXAMPLEEX".into(),
        path: "/".into(),
        arn: "arn:aws:iam::123456789012:policy/ReadOnly".into(),
        description: None,
        default_version: "v1".into(),
        versions: vec![PolicyVersion {
            id: "v1".into(),
            document: r#"{"Version":"2012-10-17","Statement":[]}"#.into(),
            created: datetime!(2026-01-02 03:04:05 UTC),
        }],
        attachment_count: 2,
        created: datetime!(2026-01-02 03:04:05 UTC),
        updated: datetime!(2026-01-03 03:04:05 UTC),
    };
    let back = check("managed_policy.v1", &p);
    assert_eq!(back.default_document(), p.default_document());
    assert_eq!(back.attachment_count, 2);
}

#[test]
fn session_record() {
    let s = Session {
        access_key_id: "ASIAEXAMPLEEXAMPLE00".into(),
        account: "123456789012".into(),
        role_name: "reader".into(),
        role_id: "AROAEXAMPLEEXAMPLEEX".into(),
        role_arn: "arn:aws:iam::123456789012:role/reader".into(),
        session_name: "s1".into(),
        sealed_secret: vec![9, 8, 7],
        token_sha256: "00".repeat(32),
        session_policy: None,
        session_policy_arns: vec![],
        created: datetime!(2026-01-02 03:04:05 UTC),
        expiration: datetime!(2026-01-02 04:04:05 UTC),
        source_identity: Some("AKIAEXAMPLEEXAMPLE00".into()),
    };
    let back = check("session.v1", &s);
    assert_eq!(back.expiration, s.expiration);
    assert_eq!(back.sealed_secret, s.sealed_secret);
}
