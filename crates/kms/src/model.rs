//! Persisted KMS records (`meta`'s versioned JSON; keys documented beside each type) and the public shapes
//! the engine returns, serializable with AWS's field names.

use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::material::MaterialKey;
use crate::EncryptionContext;

/// The lifecycle state of a key, spelled as AWS's `KeyState` enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
        }
    }
}

/// Who manages a key: the customer, or AWS (the `aws/<service>` keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum KeyManager {
    Aws,
    Customer,
}

impl KeyManager {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyManager::Aws => "AWS",
            KeyManager::Customer => "CUSTOMER",
        }
    }
}

/// A resource tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    #[serde(rename = "TagKey")]
    pub key: String,
    #[serde(rename = "TagValue")]
    pub value: String,
}

/// `kms.keys`: `<account>/<region>/<key id>` → StoredKey. One per key per region: a multi-Region replica is its
/// own record (own policy, description, tags, state) sharing the [`MaterialSet`] of its primary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredKey {
    pub account: String,
    pub region: String,
    pub key_id: String,
    pub arn: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    pub description: String,
    pub state: KeyState,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub deletion_date: Option<OffsetDateTime>,
    #[serde(default)]
    pub pending_window_days: Option<u32>,
    pub key_manager: KeyManager,
    pub origin: String,
    pub key_spec: String,
    pub key_usage: String,
    pub multi_region: bool,
    pub policy: String,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// How a material version came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RotationType {
    Automatic,
    OnDemand,
}

impl RotationType {
    pub fn as_str(self) -> &'static str {
        match self {
            RotationType::Automatic => "AUTOMATIC",
            RotationType::OnDemand => "ON_DEMAND",
        }
    }
}

/// One version of a key's material (its bytes are in `kms.materials`, sealed).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MaterialVersion {
    /// 64 lower-case hex characters: AWS's `KeyMaterialId`, and the 32 raw bytes in every ciphertext header.
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// `None` for the key's original material.
    pub rotation: Option<RotationType>,
}

/// Automatic rotation settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RotationConfig {
    pub enabled: bool,
    pub period_days: Option<u32>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub next_rotation: Option<OffsetDateTime>,
}

/// `kms.material_sets`: `<account>/<key id>` → MaterialSet: what every region's copy of a key shares — its
/// material versions, rotation settings and (for multi-Region keys) which region is primary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MaterialSet {
    pub account: String,
    pub key_id: String,
    pub multi_region: bool,
    pub current: String,
    /// Oldest first; every version keeps decrypting until the key is destroyed.
    pub versions: Vec<MaterialVersion>,
    pub rotation: RotationConfig,
    pub on_demand_rotations: u32,
    pub primary_region: String,
    #[serde(default)]
    pub replica_regions: Vec<String>,
}

impl MaterialSet {
    /// The name that sealed material is bound to (see `docs/design/kms-keys.md`): the key ARN in its only
    /// region, or `<account>:<mrk id>` for a multi-Region key, whose material every region shares.
    pub fn owner_name(&self) -> String {
        if self.multi_region {
            format!("{}:{}", self.account, self.key_id)
        } else {
            key_arn(&self.primary_region, &self.account, &self.key_id)
        }
    }

    pub fn has_version(&self, id: &[u8; 32]) -> bool {
        self.versions.iter().any(|v| hex_eq(&v.id, id))
    }
}

/// `kms.materials`: `<account>/<key id>/<material id>` → SealedMaterial: 32 bytes of key material sealed by the
/// root of trust with associated data naming the owner and material id (`material::aad`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SealedMaterial {
    #[serde(with = "b64")]
    pub sealed: Vec<u8>,
}

/// `kms.aliases`: `<account>/<region>/<alias name>` → AliasRecord.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasRecord {
    #[serde(rename = "AliasName")]
    pub name: String,
    #[serde(rename = "AliasArn")]
    pub arn: String,
    #[serde(rename = "TargetKeyId")]
    pub target_key_id: String,
    #[serde(rename = "CreationDate", with = "epoch")]
    pub created: OffsetDateTime,
    #[serde(rename = "LastUpdatedDate", with = "epoch")]
    pub updated: OffsetDateTime,
}

/// Grant constraints, exactly AWS's semantics (see [`crate::Kms::grant_allows`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantConstraints {
    #[serde(
        rename = "EncryptionContextSubset",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub encryption_context_subset: Option<EncryptionContext>,
    #[serde(
        rename = "EncryptionContextEquals",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub encryption_context_equals: Option<EncryptionContext>,
}

/// A grant; serializes as AWS's `GrantListEntry`. Stored in `kms.grants`: `<account>/<region>/<key id>/<grant id>` →
/// `{"grant": Grant, "token": <the token issued with it>}`. `kms.retirable`: `<retiring principal>\0<account>/<region>/<key id>/<grant id>` → "".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    #[serde(rename = "KeyId")]
    pub key_arn: String,
    #[serde(rename = "GrantId")]
    pub grant_id: String,
    #[serde(rename = "Name", skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "CreationDate", with = "epoch")]
    pub created: OffsetDateTime,
    #[serde(rename = "GranteePrincipal")]
    pub grantee_principal: String,
    #[serde(rename = "RetiringPrincipal", skip_serializing_if = "Option::is_none")]
    pub retiring_principal: Option<String>,
    #[serde(rename = "IssuingAccount")]
    pub issuing_account: String,
    #[serde(rename = "Operations")]
    pub operations: Vec<String>,
    #[serde(rename = "Constraints", skip_serializing_if = "Option::is_none")]
    pub constraints: Option<GrantConstraints>,
}

/// A key as the engine hands it out: an immutable snapshot of its regional record and shared material set,
/// cheap to clone, with its parsed policy, grants and current material attached lazily.
#[derive(Clone)]
pub struct KeyRecord(pub(crate) Arc<KeyInfo>);

impl std::fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRecord")
            .field("arn", &self.key.arn)
            .field("state", &self.key.state)
            .field("current_material", &self.materials.current)
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for KeyRecord {
    type Target = KeyInfo;
    fn deref(&self) -> &KeyInfo {
        &self.0
    }
}

/// What a [`KeyRecord`] holds.
pub struct KeyInfo {
    pub key: StoredKey,
    pub materials: MaterialSet,
    pub(crate) current: OnceLock<Arc<MaterialKey>>,
    pub(crate) policy: OnceLock<Arc<policy::Policy>>,
    pub(crate) grants: OnceLock<Arc<[Grant]>>,
}

impl KeyRecord {
    pub(crate) fn new(key: StoredKey, materials: MaterialSet) -> KeyRecord {
        KeyRecord(Arc::new(KeyInfo {
            key,
            materials,
            current: OnceLock::new(),
            policy: OnceLock::new(),
            grants: OnceLock::new(),
        }))
    }

    pub fn arn(&self) -> &str {
        &self.key.arn
    }
    pub fn key_id(&self) -> &str {
        &self.key.key_id
    }
    pub fn account(&self) -> &str {
        &self.key.account
    }
    pub fn region(&self) -> &str {
        &self.key.region
    }
    pub fn state(&self) -> KeyState {
        self.key.state
    }
    pub fn key_manager(&self) -> KeyManager {
        self.key.key_manager
    }
    pub fn is_multi_region(&self) -> bool {
        self.key.multi_region
    }
    /// The material every Encrypt/GenerateDataKey with this snapshot uses (AWS's `CurrentKeyMaterialId`).
    pub fn current_material_id(&self) -> &str {
        &self.materials.current
    }
    /// The stored key policy document (GetKeyPolicy).
    pub fn policy_text(&self) -> &str {
        &self.key.policy
    }
    pub fn tags(&self) -> &[Tag] {
        &self.key.tags
    }
    /// Whether this regional copy is the primary of its multi-Region key (always true for single-Region keys).
    pub fn is_primary(&self) -> bool {
        self.materials.primary_region == self.key.region
    }
}

/// A primary or replica of a multi-Region key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MultiRegionKey {
    #[serde(rename = "Arn")]
    pub arn: String,
    #[serde(rename = "Region")]
    pub region: String,
}

/// `MultiRegionConfiguration` of DescribeKey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MultiRegionConfiguration {
    #[serde(rename = "MultiRegionKeyType")]
    pub multi_region_key_type: String,
    #[serde(rename = "PrimaryKey")]
    pub primary_key: MultiRegionKey,
    #[serde(rename = "ReplicaKeys")]
    pub replica_keys: Vec<MultiRegionKey>,
}

/// DescribeKey's `KeyMetadata`, with AWS's field names; dates serialize as epoch seconds as in KMS's JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyMetadata {
    #[serde(rename = "AWSAccountId")]
    pub aws_account_id: String,
    #[serde(rename = "KeyId")]
    pub key_id: String,
    #[serde(rename = "Arn")]
    pub arn: String,
    #[serde(rename = "CreationDate", with = "epoch")]
    pub creation_date: OffsetDateTime,
    #[serde(rename = "Enabled")]
    pub enabled: bool,
    #[serde(rename = "Description")]
    pub description: String,
    #[serde(rename = "KeyUsage")]
    pub key_usage: String,
    #[serde(rename = "KeyState")]
    pub key_state: KeyState,
    #[serde(
        rename = "DeletionDate",
        with = "epoch::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub deletion_date: Option<OffsetDateTime>,
    #[serde(
        rename = "PendingDeletionWindowInDays",
        skip_serializing_if = "Option::is_none"
    )]
    pub pending_deletion_window_in_days: Option<u32>,
    #[serde(rename = "Origin")]
    pub origin: String,
    #[serde(rename = "KeyManager")]
    pub key_manager: KeyManager,
    #[serde(rename = "CustomerMasterKeySpec")]
    pub customer_master_key_spec: String,
    #[serde(rename = "KeySpec")]
    pub key_spec: String,
    #[serde(rename = "EncryptionAlgorithms")]
    pub encryption_algorithms: Vec<String>,
    #[serde(rename = "MultiRegion")]
    pub multi_region: bool,
    #[serde(
        rename = "MultiRegionConfiguration",
        skip_serializing_if = "Option::is_none"
    )]
    pub multi_region_configuration: Option<MultiRegionConfiguration>,
    #[serde(rename = "CurrentKeyMaterialId")]
    pub current_key_material_id: String,
}

/// One completed rotation (ListKeyRotations' `RotationsListEntry`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RotationEntry {
    #[serde(rename = "KeyId")]
    pub key_arn: String,
    #[serde(rename = "KeyMaterialId")]
    pub key_material_id: String,
    #[serde(rename = "RotationDate", with = "epoch")]
    pub rotation_date: OffsetDateTime,
    #[serde(rename = "RotationType")]
    pub rotation_type: RotationType,
}

/// GetKeyRotationStatus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationStatus {
    pub enabled: bool,
    pub period_days: Option<u32>,
    pub next_rotation_date: Option<OffsetDateTime>,
    /// Set while an on-demand rotation is in progress; rotations here complete at once, so always `None`.
    pub on_demand_rotation_start_date: Option<OffsetDateTime>,
}

/// `arn:aws:kms:<region>:<account>:key/<key id>`.
pub fn key_arn(region: &str, account: &str, key_id: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:key/{key_id}")
}

/// `arn:aws:kms:<region>:<account>:<alias name>` (the name includes `alias/`).
pub fn alias_arn(region: &str, account: &str, alias_name: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:{alias_name}")
}

/// Compares a 64-hex material id with raw bytes without allocating.
pub(crate) fn hex_eq(hex_id: &str, raw: &[u8; 32]) -> bool {
    let b = hex_id.as_bytes();
    if b.len() != 64 {
        return false;
    }
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    raw.iter().enumerate().all(|(i, byte)| {
        b[2 * i] == DIGITS[usize::from(byte >> 4)] && b[2 * i + 1] == DIGITS[usize::from(byte & 15)]
    })
}

/// Sealed bytes as base64 inside JSON records.
mod b64 {
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

/// Timestamps as KMS's JSON protocol sends them: epoch seconds with a fraction. (Also read back from records.)
pub(crate) mod epoch {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    pub fn to_f64(t: &OffsetDateTime) -> f64 {
        // Millisecond precision, as AWS prints it.
        (t.unix_timestamp_nanos() / 1_000_000) as f64 / 1000.0
    }

    pub fn from_f64(v: f64) -> Option<OffsetDateTime> {
        OffsetDateTime::from_unix_timestamp_nanos((v * 1000.0).round() as i128 * 1_000_000).ok()
    }

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(to_f64(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let v = f64::deserialize(d)?;
        from_f64(v).ok_or_else(|| serde::de::Error::custom("timestamp out of range"))
    }

    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(
            t: &Option<OffsetDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_f64(to_f64(t)),
                None => s.serialize_none(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_eq_matches_hex_encoding() {
        let raw = [0xabu8; 32];
        assert!(hex_eq(&hex::encode(raw), &raw));
        assert!(!hex_eq(&hex::encode([0xacu8; 32]), &raw));
        assert!(!hex_eq("ab", &raw));
        assert!(!hex_eq(&hex::encode(raw).to_uppercase(), &raw));
    }

    #[test]
    fn alias_records_serialize_with_aws_names() {
        let t = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let a = AliasRecord {
            name: "alias/x".into(),
            arn: alias_arn("us-east-1", "111122223333", "alias/x"),
            target_key_id: "k".into(),
            created: t,
            updated: t,
        };
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["AliasArn"], "arn:aws:kms:us-east-1:111122223333:alias/x");
        assert_eq!(v["CreationDate"], 1_700_000_000.0);
        let back: AliasRecord = serde_json::from_value(v).unwrap();
        assert_eq!(back, a);
    }
}
