//! The CloudTrail record: field names, nesting and JSON encoding exactly as CloudTrail writes them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// One CloudTrail event record.
///
/// Serialized field names match CloudTrail byte for byte (`sourceIPAddress`, `requestID`, `resources[].ARN`…),
/// because the stored JSON is what `LookupEvents` hands back in `CloudTrailEvent`.
///
/// **Callers decide what goes in `request_parameters`, `response_elements` and `additional_event_data`, and must
/// never put secrets, plaintext, ciphertext, data keys, key material or secret access keys there.** The audit log
/// is append-only and kept for years: whatever is written here can never be removed without breaking the hash
/// chain. CloudTrail itself omits such values (e.g. KMS `Decrypt` logs no plaintext, `GenerateDataKey` no key).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Record format version; CloudTrail's current one is [`EVENT_VERSION`].
    pub event_version: String,
    /// Who made the call.
    pub user_identity: UserIdentity,
    /// When the call was made; serialized as `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds, as CloudTrail does).
    #[serde(with = "iso8601")]
    pub event_time: OffsetDateTime,
    /// Service that received the call, e.g. `kms.amazonaws.com`.
    pub event_source: String,
    /// API operation, e.g. `GenerateDataKey`.
    pub event_name: String,
    /// Region the request was made to.
    pub aws_region: String,
    /// Caller's IP address, or a service principal for service-to-service calls.
    #[serde(rename = "sourceIPAddress")]
    pub source_ip_address: String,
    /// The caller's `User-Agent`.
    pub user_agent: String,
    /// AWS error code when the call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Error message when the call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Request parameters (never secrets; see the type's documentation); `null` when there are none.
    #[serde(default)]
    pub request_parameters: serde_json::Value,
    /// Response elements for mutating calls (never secrets); `null` otherwise.
    #[serde(default)]
    pub response_elements: serde_json::Value,
    /// Extra service-specific data (never secrets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_event_data: Option<serde_json::Value>,
    /// The request id returned to the caller.
    #[serde(rename = "requestID")]
    pub request_id: String,
    /// Unique id of this event.
    #[serde(rename = "eventID")]
    pub event_id: Uuid,
    /// Whether the operation only reads.
    pub read_only: bool,
    /// Resources the call touched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<Resource>>,
    /// `AwsApiCall` or `AwsServiceEvent`.
    pub event_type: EventType,
    /// Whether this is a management (control-plane) event.
    pub management_event: bool,
    /// Account that receives the event.
    pub recipient_account_id: String,
    /// `Management` or `Data`.
    pub event_category: EventCategory,
    /// TLS details of the connection, when it used TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_details: Option<TlsDetails>,
}

/// CloudTrail's current `eventVersion`.
pub const EVENT_VERSION: &str = "1.09";

/// `userIdentity`: the principal that made the call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    /// Kind of principal.
    #[serde(rename = "type")]
    pub identity_type: IdentityType,
    /// Unique principal id (`AIDA…`, `AROA…:session`, account id for root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    /// ARN of the principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// Account owning the principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Access key id used to sign the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// IAM user name (users and root with an alias).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// Service that made the call on the principal's behalf, e.g. `cloudfront.amazonaws.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoked_by: Option<String>,
    /// Session details for temporary credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_context: Option<SessionContext>,
}

/// `userIdentity.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdentityType {
    /// The account root user.
    Root,
    /// An IAM user.
    #[serde(rename = "IAMUser")]
    IamUser,
    /// A role session (STS `AssumeRole`).
    AssumedRole,
    /// An AWS service principal.
    #[serde(rename = "AWSService")]
    AwsService,
    /// Another account.
    #[serde(rename = "AWSAccount")]
    AwsAccount,
    /// Not known (e.g. an unauthenticated caller).
    Unknown,
    /// A federated user (STS `GetFederationToken`).
    FederatedUser,
}

/// `userIdentity.sessionContext`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext {
    /// The role or user that issued the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_issuer: Option<SessionIssuer>,
    /// When the session was created and whether MFA was used.
    pub attributes: SessionAttributes,
}

/// `userIdentity.sessionContext.sessionIssuer`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuer {
    /// `Role`, `IAMUser` or `Root`.
    #[serde(rename = "type")]
    pub issuer_type: String,
    /// Issuer's principal id.
    pub principal_id: String,
    /// Issuer's ARN.
    pub arn: String,
    /// Issuer's account.
    pub account_id: String,
    /// Issuer's friendly name (the role name for roles).
    pub user_name: String,
}

/// `userIdentity.sessionContext.attributes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionAttributes {
    /// When the temporary credentials were issued.
    #[serde(with = "iso8601")]
    pub creation_date: OffsetDateTime,
    /// CloudTrail writes this boolean as the string `"true"`/`"false"`.
    #[serde(with = "bool_string")]
    pub mfa_authenticated: bool,
}

/// One element of `resources`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// The resource ARN (CloudTrail spells this key in capitals).
    #[serde(rename = "ARN")]
    pub arn: String,
    /// Account owning the resource.
    #[serde(rename = "accountId")]
    pub account_id: String,
    /// Resource type, e.g. `AWS::KMS::Key`.
    #[serde(rename = "type")]
    pub resource_type: String,
}

/// `eventType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    /// A call to an API.
    AwsApiCall,
    /// An event the service generated itself (e.g. automatic key rotation).
    AwsServiceEvent,
}

/// `eventCategory`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventCategory {
    /// Control-plane operations.
    Management,
    /// Data-plane operations (object reads and writes).
    Data,
}

/// `tlsDetails`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsDetails {
    /// e.g. `TLSv1.3`.
    pub tls_version: String,
    /// e.g. `TLS_AES_128_GCM_SHA256`.
    pub cipher_suite: String,
    /// The `Host` the client sent.
    pub client_provided_host_header: String,
}

impl Event {
    /// The session name when the caller is a role session: the last component of
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>`. CloudTrail's `Username` lookup matches this for roles.
    pub fn session_name(&self) -> Option<&str> {
        let id = &self.user_identity;
        if !matches!(
            id.identity_type,
            IdentityType::AssumedRole | IdentityType::FederatedUser
        ) {
            return None;
        }
        if let Some(arn) = &id.arn {
            if let Some((_, name)) = arn.rsplit_once('/') {
                return Some(name);
            }
        }
        id.principal_id
            .as_deref()
            .and_then(|p| p.split_once(':'))
            .map(|(_, s)| s)
    }
}

/// CloudTrail's timestamp form: UTC, whole seconds, literal `Z`.
pub(crate) mod iso8601 {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::format_description::BorrowedFormatItem;
    use time::macros::format_description;
    use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

    const FORMAT: &[BorrowedFormatItem<'static>] =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

    /// Formats `t` as `2026-01-02T03:04:05Z`, dropping sub-second digits like CloudTrail.
    pub(crate) fn format(t: OffsetDateTime) -> String {
        // FORMAT only has components every UTC date-time provides, so formatting cannot fail.
        t.to_offset(UtcOffset::UTC)
            .format(FORMAT)
            .unwrap_or_default()
    }

    /// Parses `2026-01-02T03:04:05Z`.
    pub(crate) fn parse(s: &str) -> Result<OffsetDateTime, time::error::Parse> {
        PrimitiveDateTime::parse(s, FORMAT).map(PrimitiveDateTime::assume_utc)
    }

    pub(crate) fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*t))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A boolean written as the JSON string `"true"` or `"false"`.
mod bool_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(b: &bool, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if *b { "true" } else { "false" })
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        match <std::borrow::Cow<'de, str>>::deserialize(d)?.as_ref() {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(serde::de::Error::custom(format!(
                "expected \"true\" or \"false\", got {other:?}"
            ))),
        }
    }
}
