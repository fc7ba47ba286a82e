//! Rotation: automatic (by period, performed by `run_due`) and on demand. A rotation adds a material version and
//! makes it current; every earlier version keeps decrypting.

use time::{Duration, OffsetDateTime};

use crate::keys::{check_limit, key_record_key, require_enabled, set_key};
use crate::material::{self, NewMaterial};
use crate::model::{
    KeyManager, KeyRecord, MaterialSet, MaterialVersion, RotationEntry, RotationStatus,
    RotationType, StoredKey,
};
use crate::{tables, Kms, KmsError, Page};

/// AWS's quota of on-demand rotations per key.
pub const MAX_ON_DEMAND_ROTATIONS: u32 = 25;

/// Rotation is managed on the primary of a multi-Region key and never on AWS-managed keys.
fn require_rotatable(key: &StoredKey, set: &MaterialSet) -> Result<(), KmsError> {
    if key.key_manager == KeyManager::Aws {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} is an AWS managed key; AWS rotates it automatically.",
            key.arn
        )));
    }
    if key.multi_region && set.primary_region != key.region {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} is a multi-Region replica key. Manage rotation on its primary key in {}.",
            key.arn, set.primary_region
        )));
    }
    Ok(())
}

fn check_period(days: u32) -> Result<(), KmsError> {
    if !(90..=2560).contains(&days) {
        return Err(KmsError::constraint(
            "rotationPeriodInDays",
            days,
            "Member must have value between 90 and 2560",
        ));
    }
    Ok(())
}

/// Adds `new` to `set` as the current version.
pub(crate) fn apply_rotation(
    txn: &mut meta::Txn<'_>,
    set: &mut MaterialSet,
    new: &NewMaterial,
    kind: RotationType,
    at: OffsetDateTime,
) -> Result<(), KmsError> {
    txn.put_json(
        tables::MATERIALS,
        material::material_key(&set.account, &set.key_id, &new.id_hex),
        &new.sealed,
    )?;
    set.versions.push(MaterialVersion {
        id: new.id_hex.clone(),
        created: at,
        rotation: Some(kind),
    });
    set.current = new.id_hex.clone();
    Ok(())
}

impl Kms {
    /// Reads the key record and material set inside a transaction, applies `f` to the set, writes the set.
    async fn update_set<R, F>(&self, key: &KeyRecord, f: F) -> Result<R, KmsError>
    where
        F: FnOnce(&mut meta::Txn<'_>, &StoredKey, &mut MaterialSet) -> Result<R, KmsError>
            + Send
            + 'static,
        R: Send + 'static,
    {
        let kid = key_record_key(key.account(), key.region(), key.key_id());
        let sid = set_key(key.account(), key.key_id());
        let arn = key.arn().to_owned();
        self.write(move |txn| {
            let stored: StoredKey = txn
                .get_json(tables::KEYS, &kid)?
                .ok_or_else(|| KmsError::key_not_found(&arn))?;
            let mut set: MaterialSet = txn
                .get_json(tables::SETS, &sid)?
                .ok_or_else(|| KmsError::key_not_found(&arn))?;
            let out = f(txn, &stored, &mut set)?;
            txn.put_json(tables::SETS, sid, &set)?;
            Ok(out)
        })
        .await
    }

    /// EnableKeyRotation: rotate every `period_days` (90..=2560, default 365), the first time at `now` + period.
    /// Re-enabling with the same period keeps the scheduled date.
    pub async fn enable_key_rotation(
        &self,
        key: &KeyRecord,
        period_days: Option<u32>,
        now: OffsetDateTime,
    ) -> Result<(), KmsError> {
        let days = period_days.unwrap_or(365);
        check_period(days)?;
        self.update_set(key, move |_, stored, set| {
            require_enabled(stored)?;
            require_rotatable(stored, set)?;
            let r = &mut set.rotation;
            if !(r.enabled && r.period_days == Some(days) && r.next_rotation.is_some()) {
                r.next_rotation = Some(now + Duration::days(i64::from(days)));
            }
            r.enabled = true;
            r.period_days = Some(days);
            Ok(())
        })
        .await
    }

    /// DisableKeyRotation.
    pub async fn disable_key_rotation(&self, key: &KeyRecord) -> Result<(), KmsError> {
        self.update_set(key, |_, stored, set| {
            require_enabled(stored)?;
            require_rotatable(stored, set)?;
            set.rotation.enabled = false;
            set.rotation.next_rotation = None;
            Ok(())
        })
        .await
    }

    /// GetKeyRotationStatus.
    pub fn rotation_status(&self, key: &KeyRecord) -> RotationStatus {
        let r = &key.materials.rotation;
        RotationStatus {
            enabled: r.enabled,
            period_days: if r.enabled { r.period_days } else { None },
            next_rotation_date: if r.enabled { r.next_rotation } else { None },
            on_demand_rotation_start_date: None,
        }
    }

    /// RotateKeyOnDemand: a new material version becomes current at once, whether or not automatic rotation is
    /// enabled (its schedule is unchanged). At most 25 per key.
    pub async fn rotate_key_on_demand(
        &self,
        key: &KeyRecord,
        now: OffsetDateTime,
    ) -> Result<(), KmsError> {
        let new = self.new_material(&key.materials.owner_name())?;
        let cached = std::sync::Arc::clone(&new.key);
        self.update_set(key, move |txn, stored, set| {
            require_enabled(stored)?;
            require_rotatable(stored, set)?;
            if set.on_demand_rotations >= MAX_ON_DEMAND_ROTATIONS {
                return Err(KmsError::LimitExceeded(format!(
                    "{} has reached the limit of {MAX_ON_DEMAND_ROTATIONS} on-demand rotations.",
                    stored.arn
                )));
            }
            set.on_demand_rotations += 1;
            apply_rotation(txn, set, &new, RotationType::OnDemand, now)
        })
        .await?;
        self.remember_material(cached);
        Ok(())
    }

    /// ListKeyRotations: completed rotations, oldest first; `marker` is the index to continue from.
    pub fn list_key_rotations(
        &self,
        key: &KeyRecord,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<Page<RotationEntry>, KmsError> {
        let limit = check_limit(limit)?;
        let start = match marker {
            None => 0,
            Some(m) => m
                .parse::<usize>()
                .map_err(|_| KmsError::InvalidMarker(format!("Invalid marker {m}")))?,
        };
        let rotations: Vec<&MaterialVersion> = key
            .materials
            .versions
            .iter()
            .filter(|v| v.rotation.is_some())
            .collect();
        let items: Vec<RotationEntry> = rotations
            .iter()
            .skip(start)
            .take(limit)
            .filter_map(|v| {
                Some(RotationEntry {
                    key_arn: key.arn().to_owned(),
                    key_material_id: v.id.clone(),
                    rotation_date: v.created,
                    rotation_type: v.rotation?,
                })
            })
            .collect();
        let end = start + items.len();
        Ok(Page {
            items,
            next_marker: (end < rotations.len()).then(|| end.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_bounds() {
        assert!(check_period(90).is_ok() && check_period(2560).is_ok());
        assert_eq!(check_period(89).unwrap_err().code(), "ValidationException");
        assert_eq!(
            check_period(2561).unwrap_err().code(),
            "ValidationException"
        );
    }
}
