//! Keys: create, resolve (key id, key ARN, alias name or alias ARN), describe, list, description, enable/disable,
//! and the deletion window (schedule / cancel; destruction itself is in `due.rs`).

use time::{Duration, OffsetDateTime};

use crate::model::{
    alias_arn, key_arn, AliasRecord, KeyManager, KeyMetadata, KeyRecord, KeyState, MaterialSet,
    MaterialVersion, MultiRegionConfiguration, MultiRegionKey, RotationConfig, StoredKey, Tag,
};
use crate::{key3, material, now, tables, Kms, KmsError, Page};

/// CreateKey's parameters (the engine's subset; `BypassPolicyLockoutSafetyCheck` is kms-api's business).
#[derive(Debug, Clone, Default)]
pub struct CreateKeyInput {
    pub description: Option<String>,
    /// `None` gives AWS's default key policy ([`crate::default_key_policy`]).
    pub policy: Option<String>,
    pub tags: Vec<Tag>,
    pub multi_region: bool,
    /// `None` or `SYMMETRIC_DEFAULT`; other AWS key specs are `UnsupportedOperationException`.
    pub key_spec: Option<String>,
    /// `None` or `ENCRYPT_DECRYPT`.
    pub key_usage: Option<String>,
    /// `None` or `AWS_KMS`.
    pub origin: Option<String>,
}

/// The largest description AWS accepts.
const MAX_DESCRIPTION: usize = 8192;

/// AWS's `KeySpec` enum (coffer makes `SYMMETRIC_DEFAULT` keys; the rest are refused as unsupported).
pub const KEY_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
    "ECC_NIST_EDWARDS25519",
];

fn check_enum(
    what: &str,
    value: Option<&str>,
    supported: &str,
    all: &[&str],
) -> Result<(), KmsError> {
    match value {
        None => Ok(()),
        Some(v) if v == supported => Ok(()),
        Some(v) if all.contains(&v) => Err(KmsError::UnsupportedOperation(format!(
            "{what} {v} is not supported by this KMS; only {supported} is."
        ))),
        Some(v) => Err(KmsError::constraint(
            what,
            v,
            &format!("Member must satisfy enum value set: [{}]", all.join(", ")),
        )),
    }
}

pub(crate) fn check_description(d: &str) -> Result<(), KmsError> {
    if d.len() > MAX_DESCRIPTION {
        return Err(KmsError::constraint(
            "description",
            "…",
            "Member must have length less than or equal to 8192",
        ));
    }
    Ok(())
}

/// A fresh key id: a random UUID (v4 layout), or `mrk-` + 32 hex for a multi-Region key.
pub(crate) fn new_key_id(multi_region: bool) -> String {
    let mut r: [u8; 16] = crypto::random_array();
    if multi_region {
        return format!("mrk-{}", hex::encode(r));
    }
    r[6] = (r[6] & 0x0f) | 0x40;
    r[8] = (r[8] & 0x3f) | 0x80;
    let h = hex::encode(r);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Whether `s` has the shape of a key id (UUID or `mrk-` + 32 hex).
pub(crate) fn is_key_id(s: &str) -> bool {
    let hex = |t: &str| t.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(m) = s.strip_prefix("mrk-") {
        return m.len() == 32 && hex(m);
    }
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && hex(p))
}

pub(crate) fn key_record_key(account: &str, region: &str, key_id: &str) -> Vec<u8> {
    key3(account, region, key_id)
}

pub(crate) fn set_key(account: &str, key_id: &str) -> Vec<u8> {
    format!("{account}/{key_id}").into_bytes()
}

/// Crypto and most management operations need an enabled key, with AWS's exact messages otherwise.
pub(crate) fn require_enabled(key: &StoredKey) -> Result<(), KmsError> {
    match key.state {
        KeyState::Enabled => Ok(()),
        KeyState::Disabled => Err(KmsError::Disabled(format!("{} is disabled.", key.arn))),
        KeyState::PendingDeletion => Err(KmsError::pending_deletion(&key.arn)),
    }
}

/// Management operations that AWS refuses on a key pending deletion.
pub(crate) fn require_not_pending(key: &StoredKey) -> Result<(), KmsError> {
    if key.state == KeyState::PendingDeletion {
        return Err(KmsError::pending_deletion(&key.arn));
    }
    Ok(())
}

/// Everything needed to write a brand-new key (one region's record plus, for a new key, its material).
pub(crate) struct NewKey {
    pub(crate) key: StoredKey,
    pub(crate) set: MaterialSet,
    pub(crate) material: material::NewMaterial,
}

impl NewKey {
    /// Writes the key, its material set and first material version.
    pub(crate) fn put(&self, txn: &mut meta::Txn<'_>) -> Result<(), KmsError> {
        let k = &self.key;
        txn.put_json(
            tables::KEYS,
            key_record_key(&k.account, &k.region, &k.key_id),
            k,
        )?;
        txn.put_json(tables::SETS, set_key(&k.account, &k.key_id), &self.set)?;
        txn.put_json(
            tables::MATERIALS,
            material::material_key(&k.account, &k.key_id, &self.material.id_hex),
            &self.material.sealed,
        )?;
        Ok(())
    }
}

impl Kms {
    /// CreateKey.
    pub async fn create_key(
        &self,
        account: &str,
        region: &str,
        input: CreateKeyInput,
    ) -> Result<KeyMetadata, KmsError> {
        let new = self.prepare_key(account, region, input, KeyManager::Customer)?;
        let record = KeyRecord::new(new.key.clone(), new.set.clone());
        self.write(move |txn| new.put(txn)).await?;
        Ok(self.metadata(&record))
    }

    /// Validates CreateKey input and builds the records and first material of a new key.
    pub(crate) fn prepare_key(
        &self,
        account: &str,
        region: &str,
        input: CreateKeyInput,
        manager: KeyManager,
    ) -> Result<NewKey, KmsError> {
        ids::AccountId::parse(account).map_err(|e| KmsError::Validation(e.0))?;
        ids::Region::parse(region).map_err(|e| KmsError::Validation(e.0))?;
        check_enum(
            "keySpec",
            input.key_spec.as_deref(),
            "SYMMETRIC_DEFAULT",
            KEY_SPECS,
        )?;
        check_enum(
            "keyUsage",
            input.key_usage.as_deref(),
            "ENCRYPT_DECRYPT",
            &[
                "SIGN_VERIFY",
                "ENCRYPT_DECRYPT",
                "GENERATE_VERIFY_MAC",
                "KEY_AGREEMENT",
            ],
        )?;
        check_enum(
            "origin",
            input.origin.as_deref(),
            "AWS_KMS",
            &["AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"],
        )?;
        let description = input.description.unwrap_or_default();
        check_description(&description)?;
        let policy = match input.policy {
            Some(p) => {
                crate::key_policy::validate(&p)?;
                p
            }
            None => crate::default_key_policy(account),
        };
        crate::tags::validate_tags(&[], &input.tags)?;
        let key_id = new_key_id(input.multi_region);
        let arn = key_arn(region, account, &key_id);
        let created = now();
        let set_owner = if input.multi_region {
            format!("{account}:{key_id}")
        } else {
            arn.clone()
        };
        let material = self.new_material(&set_owner)?;
        let rotation = if manager == KeyManager::Aws {
            // AWS rotates its managed keys every year, always.
            RotationConfig {
                enabled: true,
                period_days: Some(365),
                next_rotation: Some(created + Duration::days(365)),
            }
        } else {
            RotationConfig::default()
        };
        let set = MaterialSet {
            account: account.to_owned(),
            key_id: key_id.clone(),
            multi_region: input.multi_region,
            current: material.id_hex.clone(),
            versions: vec![MaterialVersion {
                id: material.id_hex.clone(),
                created,
                rotation: None,
            }],
            rotation,
            on_demand_rotations: 0,
            primary_region: region.to_owned(),
            replica_regions: Vec::new(),
        };
        let key = StoredKey {
            account: account.to_owned(),
            region: region.to_owned(),
            key_id,
            arn,
            created,
            description,
            state: KeyState::Enabled,
            deletion_date: None,
            pending_window_days: None,
            key_manager: manager,
            origin: "AWS_KMS".into(),
            key_spec: "SYMMETRIC_DEFAULT".into(),
            key_usage: "ENCRYPT_DECRYPT".into(),
            multi_region: input.multi_region,
            policy,
            tags: input.tags,
        };
        self.remember_material(std::sync::Arc::clone(&material.key));
        Ok(NewKey { key, set, material })
    }

    /// Finds a key by key id, key ARN, alias name or alias ARN. A key or alias ARN resolves in the namespace it
    /// names (cross-account use); ids and alias names resolve in (`account`, `region`).
    pub fn resolve(
        &self,
        account: &str,
        region: &str,
        key_ref: &str,
    ) -> Result<KeyRecord, KmsError> {
        let cache_key = format!("{account}\0{region}\0{key_ref}");
        if let Some(rec) = self.cached_key(&cache_key) {
            return Ok(rec);
        }
        let gen = self.generation();
        let rec = self.resolve_uncached(account, region, key_ref)?;
        self.cache_key(cache_key, gen, &rec);
        Ok(rec)
    }

    fn resolve_uncached(
        &self,
        account: &str,
        region: &str,
        key_ref: &str,
    ) -> Result<KeyRecord, KmsError> {
        if key_ref.is_empty() || key_ref.len() > 2048 {
            return Err(KmsError::constraint(
                "keyId",
                key_ref,
                "Member must have length between 1 and 2048",
            ));
        }
        if key_ref.starts_with("arn:") {
            let arn = ids::Arn::parse(key_ref)
                .map_err(|_| KmsError::InvalidArn(format!("Invalid arn {key_ref}")))?;
            if arn.service != "kms" || arn.account.is_empty() || arn.region.is_empty() {
                return Err(KmsError::InvalidArn(format!("Invalid arn {key_ref}")));
            }
            if let Some(id) = arn.resource.strip_prefix("key/") {
                return self.load(&arn.account, &arn.region, id);
            }
            if arn.resource.starts_with("alias/") {
                return self.resolve_alias(&arn.account, &arn.region, &arn.resource);
            }
            return Err(KmsError::InvalidArn(format!("Invalid arn {key_ref}")));
        }
        if key_ref.starts_with("alias/") {
            return self.resolve_alias(account, region, key_ref);
        }
        if !is_key_id(key_ref) {
            return Err(KmsError::NotFound(format!("Invalid keyId '{key_ref}'")));
        }
        self.load(account, region, key_ref)
    }

    fn resolve_alias(
        &self,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<KeyRecord, KmsError> {
        let alias: Option<AliasRecord> = self
            .store()
            .get_json(tables::ALIASES, &key3(account, region, name))?;
        match alias {
            Some(a) => self.load(account, region, &a.target_key_id),
            None => Err(KmsError::NotFound(format!(
                "Alias {} is not found.",
                alias_arn(region, account, name)
            ))),
        }
    }

    /// Reads a key's regional record and material set from the store.
    pub(crate) fn load(
        &self,
        account: &str,
        region: &str,
        key_id: &str,
    ) -> Result<KeyRecord, KmsError> {
        let missing = || KmsError::key_not_found(&key_arn(region, account, key_id));
        let key: StoredKey = self
            .store()
            .get_json(tables::KEYS, &key_record_key(account, region, key_id))?
            .ok_or_else(missing)?;
        let set: MaterialSet = self
            .store()
            .get_json(tables::SETS, &set_key(account, key_id))?
            .ok_or_else(missing)?;
        Ok(KeyRecord::new(key, set))
    }

    /// DescribeKey's `KeyMetadata`.
    pub fn metadata(&self, key: &KeyRecord) -> KeyMetadata {
        let k = &key.key;
        let set = &key.materials;
        let multi_region_configuration = k.multi_region.then(|| {
            let entry = |region: &str| MultiRegionKey {
                arn: key_arn(region, &k.account, &k.key_id),
                region: region.to_owned(),
            };
            MultiRegionConfiguration {
                multi_region_key_type: if set.primary_region == k.region {
                    "PRIMARY".into()
                } else {
                    "REPLICA".into()
                },
                primary_key: entry(&set.primary_region),
                replica_keys: set.replica_regions.iter().map(|r| entry(r)).collect(),
            }
        });
        KeyMetadata {
            aws_account_id: k.account.clone(),
            key_id: k.key_id.clone(),
            arn: k.arn.clone(),
            creation_date: k.created,
            enabled: k.state == KeyState::Enabled,
            description: k.description.clone(),
            key_usage: k.key_usage.clone(),
            key_state: k.state,
            deletion_date: k.deletion_date,
            pending_deletion_window_in_days: k.pending_window_days,
            origin: k.origin.clone(),
            key_manager: k.key_manager,
            customer_master_key_spec: k.key_spec.clone(),
            key_spec: k.key_spec.clone(),
            encryption_algorithms: vec!["SYMMETRIC_DEFAULT".into()],
            multi_region: k.multi_region,
            multi_region_configuration,
            current_key_material_id: set.current.clone(),
        }
    }

    /// ListKeys: the keys of (`account`, `region`) in key-id order; `marker` is the last key id of the previous
    /// page.
    pub fn list_keys(
        &self,
        account: &str,
        region: &str,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<Page<KeyRecord>, KmsError> {
        let limit = check_limit(limit)?;
        let prefix = format!("{account}/{region}/");
        let after = marker.map(|m| format!("{prefix}{m}"));
        let entries = self.store().scan_prefix(
            tables::KEYS,
            prefix.as_bytes(),
            after.as_deref().map(str::as_bytes),
            limit + 1,
        )?;
        let more = entries.len() > limit;
        let mut items = Vec::with_capacity(entries.len().min(limit));
        for (_, v) in entries.into_iter().take(limit) {
            let key: StoredKey = meta::codec::decode_json(&v)?;
            let set: MaterialSet = self
                .store()
                .get_json(tables::SETS, &set_key(&key.account, &key.key_id))?
                .ok_or_else(|| KmsError::key_not_found(&key.arn))?;
            items.push(KeyRecord::new(key, set));
        }
        let next_marker = more
            .then(|| items.last().map(|k: &KeyRecord| k.key.key_id.clone()))
            .flatten();
        Ok(Page { items, next_marker })
    }

    /// Re-reads `key`'s stored record inside a transaction, applies `f`, and writes it back.
    pub(crate) async fn update_key<R, F>(&self, key: &KeyRecord, f: F) -> Result<R, KmsError>
    where
        F: FnOnce(&mut StoredKey) -> Result<R, KmsError> + Send + 'static,
        R: Send + 'static,
    {
        let id = key_record_key(key.account(), key.region(), key.key_id());
        let arn = key.arn().to_owned();
        self.write(move |txn| {
            let mut stored: StoredKey = txn
                .get_json(tables::KEYS, &id)?
                .ok_or_else(|| KmsError::key_not_found(&arn))?;
            let out = f(&mut stored)?;
            txn.put_json(tables::KEYS, id, &stored)?;
            Ok(out)
        })
        .await
    }

    /// UpdateKeyDescription.
    pub async fn update_key_description(
        &self,
        key: &KeyRecord,
        description: &str,
    ) -> Result<(), KmsError> {
        check_description(description)?;
        let description = description.to_owned();
        self.update_key(key, move |k| {
            require_not_pending(k)?;
            k.description = description;
            Ok(())
        })
        .await
    }

    /// EnableKey.
    pub async fn enable_key(&self, key: &KeyRecord) -> Result<(), KmsError> {
        self.update_key(key, |k| {
            require_not_pending(k)?;
            k.state = KeyState::Enabled;
            Ok(())
        })
        .await
    }

    /// DisableKey.
    pub async fn disable_key(&self, key: &KeyRecord) -> Result<(), KmsError> {
        self.update_key(key, |k| {
            require_not_pending(k)?;
            k.state = KeyState::Disabled;
            Ok(())
        })
        .await
    }

    /// ScheduleKeyDeletion: the key becomes `PendingDeletion` and is destroyed by [`Kms::run_due`] at the
    /// returned date (`now` + `pending_days`, 7..=30, default 30).
    pub async fn schedule_key_deletion(
        &self,
        key: &KeyRecord,
        pending_days: Option<u32>,
        now: OffsetDateTime,
    ) -> Result<OffsetDateTime, KmsError> {
        let days = pending_days.unwrap_or(30);
        if !(7..=30).contains(&days) {
            return Err(KmsError::Validation(format!(
                "PendingWindowInDays value {days} is invalid: it must be between 7 and 30 days."
            )));
        }
        if key.key_manager() == KeyManager::Aws {
            return Err(KmsError::UnsupportedOperation(format!(
                "{} is an AWS managed key and cannot be deleted.",
                key.arn()
            )));
        }
        let set_id = set_key(key.account(), key.key_id());
        let date = now + Duration::days(i64::from(days));
        let id = key_record_key(key.account(), key.region(), key.key_id());
        let arn = key.arn().to_owned();
        self.write(move |txn| {
            let mut stored: StoredKey = txn
                .get_json(tables::KEYS, &id)?
                .ok_or_else(|| KmsError::key_not_found(&arn))?;
            require_not_pending(&stored)?;
            if stored.multi_region {
                let set: MaterialSet = txn
                    .get_json(tables::SETS, &set_id)?
                    .ok_or_else(|| KmsError::key_not_found(&arn))?;
                if set.primary_region == stored.region && !set.replica_regions.is_empty() {
                    return Err(KmsError::UnsupportedOperation(format!(
                        "{arn} is a multi-Region primary key with replica keys [{}]; delete its replicas first.",
                        set.replica_regions.join(", ")
                    )));
                }
            }
            stored.state = KeyState::PendingDeletion;
            stored.deletion_date = Some(date);
            stored.pending_window_days = Some(days);
            txn.put_json(tables::KEYS, id, &stored)?;
            Ok(())
        })
        .await?;
        Ok(date)
    }

    /// CancelKeyDeletion: back to `Disabled`, as AWS does.
    pub async fn cancel_key_deletion(&self, key: &KeyRecord) -> Result<(), KmsError> {
        self.update_key(key, |k| {
            if k.state != KeyState::PendingDeletion {
                return Err(KmsError::InvalidState(format!(
                    "{} is not pending deletion.",
                    k.arn
                )));
            }
            k.state = KeyState::Disabled;
            k.deletion_date = None;
            k.pending_window_days = None;
            Ok(())
        })
        .await
    }
}

/// List limits: AWS's `LimitType` is 1..=1000.
pub(crate) fn check_limit(limit: usize) -> Result<usize, KmsError> {
    if !(1..=1000).contains(&limit) {
        return Err(KmsError::constraint(
            "limit",
            limit,
            "Member must have value between 1 and 1000",
        ));
    }
    Ok(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_have_aws_shapes() {
        let id = new_key_id(false);
        assert!(is_key_id(&id), "{id}");
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        let mrk = new_key_id(true);
        assert!(mrk.starts_with("mrk-") && mrk.len() == 36 && is_key_id(&mrk));
        assert!(!is_key_id("alias/x"));
        assert!(!is_key_id("1234abcd-12ab-34cd-56ef-1234567890a"));
        assert!(!is_key_id("mrk-xyz"));
    }

    #[test]
    fn enums_reject_unknown_and_unsupported() {
        assert!(check_enum("keySpec", None, "SYMMETRIC_DEFAULT", KEY_SPECS).is_ok());
        assert_eq!(
            check_enum("keySpec", Some("RSA_2048"), "SYMMETRIC_DEFAULT", KEY_SPECS)
                .unwrap_err()
                .code(),
            "UnsupportedOperationException"
        );
        assert_eq!(
            check_enum("keySpec", Some("AES"), "SYMMETRIC_DEFAULT", KEY_SPECS)
                .unwrap_err()
                .code(),
            "ValidationException"
        );
        assert!(check_limit(0).is_err() && check_limit(1001).is_err() && check_limit(1000).is_ok());
    }
}
