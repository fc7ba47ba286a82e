//! Persisted IAM records. Each is stored as `meta`'s versioned JSON; keys are listed beside each type.
//!
//! Keys join their parts with `/`, which IAM names never contain, so a prefix scan of `<account>/` lists an
//! account's entities in name order.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// `iam.accounts`: `<account id>` → Account. `iam.account_names`: `<name>` → account id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

/// `iam.users`: `<account>/<user name>` → User.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub account: String,
    pub name: String,
    pub user_id: String,
    pub path: String,
    pub arn: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccessKeyStatus {
    Active,
    Inactive,
}

impl AccessKeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessKeyStatus::Active => "Active",
            AccessKeyStatus::Inactive => "Inactive",
        }
    }
}

/// `iam.access_keys`: `<access key id>` → AccessKey. The secret is sealed under the root key with the access key
/// id as associated data; it is never stored in plaintext.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessKey {
    pub id: String,
    pub account: String,
    /// `None` for the account's root access key.
    pub user: Option<String>,
    pub status: AccessKeyStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "sealed")]
    pub sealed_secret: Vec<u8>,
}

/// `iam.roles`: `<account>/<role name>` → Role.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Role {
    pub account: String,
    pub name: String,
    pub role_id: String,
    pub path: String,
    pub arn: String,
    pub trust_policy: String,
    pub description: Option<String>,
    pub max_session_duration: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

/// `iam.managed_policies`: `<account>/<policy name>` → ManagedPolicy (policy names are unique per account,
/// whatever their path, as in IAM).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManagedPolicy {
    pub account: String,
    pub name: String,
    pub policy_id: String,
    pub path: String,
    pub arn: String,
    pub description: Option<String>,
    pub default_version: String,
    pub versions: Vec<PolicyVersion>,
    pub attachment_count: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyVersion {
    pub id: String,
    pub document: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

impl ManagedPolicy {
    pub fn default_document(&self) -> &str {
        self.versions
            .iter()
            .find(|v| v.id == self.default_version)
            .map(|v| v.document.as_str())
            .unwrap_or("")
    }
}

/// `iam.sessions`: `<access key id>` → Session, a set of temporary credentials issued by STS AssumeRole.
/// The secret is sealed like a long-term key's; only a SHA-256 of the session token is kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub access_key_id: String,
    pub account: String,
    pub role_name: String,
    pub role_id: String,
    pub role_arn: String,
    pub session_name: String,
    #[serde(with = "sealed")]
    pub sealed_secret: Vec<u8>,
    pub token_sha256: String,
    pub session_policy: Option<String>,
    #[serde(default)]
    pub session_policy_arns: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expiration: OffsetDateTime,
    /// The access key id of the principal that assumed the role, for the audit trail.
    pub source_identity: Option<String>,
}

/// Sealed bytes are stored as base64 inside the JSON record.
mod sealed {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(serde::de::Error::custom)
    }
}

/// Builds `<a>/<b>` keys.
pub(crate) fn key2(a: &str, b: &str) -> Vec<u8> {
    format!("{a}/{b}").into_bytes()
}

/// Builds `<a>/<b>/<c>` keys.
pub(crate) fn key3(a: &str, b: &str, c: &str) -> Vec<u8> {
    format!("{a}/{b}/{c}").into_bytes()
}
