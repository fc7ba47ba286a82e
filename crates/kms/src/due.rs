//! Background work at a given time: destroy keys whose deletion date has passed, rotate keys whose automatic
//! rotation is due. `coffer serve` calls [`Kms::run_due`] periodically; tests call it with chosen times.

use time::{Duration, OffsetDateTime};

use crate::keys::{key_record_key, set_key};
use crate::model::{AliasRecord, KeyState, MaterialSet, RotationType, StoredKey};
use crate::rotation::apply_rotation;
use crate::{grants, tables, Kms, KmsError};

/// What [`Kms::run_due`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DueReport {
    /// ARNs of keys destroyed.
    pub deleted: Vec<String>,
    /// ARNs (primary region) of keys rotated automatically.
    pub rotated: Vec<String>,
}

impl Kms {
    /// Destroys every key whose deletion date is at or before `now` (record, aliases, grants, and — when no
    /// region holds the key any more — its material set and every material version), then rotates every key
    /// whose next rotation date is at or before `now` and whose primary copy is enabled.
    pub async fn run_due(&self, now: OffsetDateTime) -> Result<DueReport, KmsError> {
        let mut report = DueReport::default();
        // A full scan keeps this simple; a date index can replace it when key counts grow large.
        for (_, v) in self.store().scan(tables::KEYS, meta::Range::all())? {
            let key: StoredKey = meta::codec::decode_json(&v)?;
            if key.state == KeyState::PendingDeletion && key.deletion_date.is_some_and(|d| d <= now)
            {
                let arn = key.arn.clone();
                if let Some(destroyed) = self.destroy(key, now).await? {
                    self.forget_materials(&destroyed);
                    report.deleted.push(arn);
                }
            }
        }
        for (_, v) in self.store().scan(tables::SETS, meta::Range::all())? {
            let set: MaterialSet = meta::codec::decode_json(&v)?;
            if set.rotation.enabled && set.rotation.next_rotation.is_some_and(|d| d <= now) {
                if let Some(arn) = self.rotate_due(set, now).await? {
                    report.rotated.push(arn);
                }
            }
        }
        if !report.deleted.is_empty() || !report.rotated.is_empty() {
            tracing::info!(
                deleted = report.deleted.len(),
                rotated = report.rotated.len(),
                "kms due work done"
            );
        }
        Ok(report)
    }

    /// Destroys one key if it is still due; returns the material ids destroyed with it (possibly none, when
    /// other regions still hold the key), or `None` if it was no longer due.
    async fn destroy(
        &self,
        key: StoredKey,
        now: OffsetDateTime,
    ) -> Result<Option<Vec<String>>, KmsError> {
        self.write(move |txn| {
            let kid = key_record_key(&key.account, &key.region, &key.key_id);
            let Some(stored) = txn.get_json::<StoredKey>(tables::KEYS, &kid)? else {
                return Ok(None);
            };
            if stored.state != KeyState::PendingDeletion
                || stored.deletion_date.is_none_or(|d| d > now)
            {
                return Ok(None);
            }
            txn.delete(tables::KEYS, kid);
            let prefix = format!("{}/{}/", stored.account, stored.region);
            for (k, v) in txn.scan(tables::ALIASES, meta::Range::prefix(prefix.as_bytes()))? {
                let a: AliasRecord = meta::codec::decode_json(&v)?;
                if a.target_key_id == stored.key_id {
                    txn.delete(tables::ALIASES, k);
                }
            }
            grants::delete_key_grants(txn, &stored)?;
            let sid = set_key(&stored.account, &stored.key_id);
            let mut destroyed = Vec::new();
            if let Some(mut set) = txn.get_json::<MaterialSet>(tables::SETS, &sid)? {
                if set.primary_region == stored.region {
                    if set.replica_regions.is_empty() {
                        // The last copy: the material goes with it.
                        let mprefix = format!("{}/{}/", stored.account, stored.key_id);
                        for (k, _) in
                            txn.scan(tables::MATERIALS, meta::Range::prefix(mprefix.as_bytes()))?
                        {
                            txn.delete(tables::MATERIALS, k);
                        }
                        destroyed = set.versions.iter().map(|v| v.id.clone()).collect();
                        txn.delete(tables::SETS, sid);
                        return Ok(Some(destroyed));
                    }
                    set.primary_region = set.replica_regions.remove(0);
                } else {
                    set.replica_regions.retain(|r| *r != stored.region);
                }
                txn.put_json(tables::SETS, sid, &set)?;
            }
            destroyed.clear();
            Ok(Some(destroyed))
        })
        .await
    }

    /// Rotates one material set automatically if it is still due and its primary copy is enabled.
    async fn rotate_due(
        &self,
        set: MaterialSet,
        now: OffsetDateTime,
    ) -> Result<Option<String>, KmsError> {
        let new = self.new_material(&set.owner_name())?;
        let cached = std::sync::Arc::clone(&new.key);
        let rotated = self
            .write(move |txn| {
                let sid = set_key(&set.account, &set.key_id);
                let Some(mut set) = txn.get_json::<MaterialSet>(tables::SETS, &sid)? else {
                    return Ok(None);
                };
                let (enabled, period, next) = (
                    set.rotation.enabled,
                    set.rotation.period_days.unwrap_or(365),
                    set.rotation.next_rotation,
                );
                if !enabled || next.is_none_or(|d| d > now) {
                    return Ok(None);
                }
                let kid = key_record_key(&set.account, &set.primary_region, &set.key_id);
                let Some(primary) = txn.get_json::<StoredKey>(tables::KEYS, &kid)? else {
                    return Ok(None);
                };
                // AWS does not rotate disabled or pending-deletion keys; it rotates when they are enabled again.
                if primary.state != KeyState::Enabled {
                    return Ok(None);
                }
                apply_rotation(txn, &mut set, &new, RotationType::Automatic, now)?;
                set.rotation.next_rotation = Some(now + Duration::days(i64::from(period)));
                txn.put_json(tables::SETS, sid, &set)?;
                Ok(Some(primary.arn))
            })
            .await?;
        if rotated.is_some() {
            self.remember_material(cached);
        }
        Ok(rotated)
    }
}
