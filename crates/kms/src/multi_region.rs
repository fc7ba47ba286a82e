//! Multi-Region keys: `mrk-` ids whose regional copies share one material set (stored once, under the mrk id),
//! ReplicateKey into another region's namespace, and UpdatePrimaryRegion.

use crate::keys::{check_description, key_record_key, require_not_pending, set_key};
use crate::model::{key_arn, KeyMetadata, KeyRecord, KeyState, MaterialSet, StoredKey, Tag};
use crate::{now, tables, Kms, KmsError};

fn check_region(region: &str) -> Result<(), KmsError> {
    // AWS's RegionType: ^([a-z]+-){2,3}\d+$
    let parts: Vec<&str> = region.split('-').collect();
    let ok = (3..=4).contains(&parts.len())
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !ok {
        return Err(KmsError::constraint(
            "replicaRegion",
            region,
            "Member must satisfy regular expression pattern: ^([a-z]+-){2,3}\\d+$",
        ));
    }
    Ok(())
}

fn require_multi_region(key: &KeyRecord) -> Result<(), KmsError> {
    if !key.is_multi_region() {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} is not a multi-Region key.",
            key.arn()
        )));
    }
    Ok(())
}

impl Kms {
    /// ReplicateKey: a replica of the multi-Region primary `key` in `replica_region` (same account), with its
    /// own policy (default if `None`), description and tags, sharing the primary's material.
    pub async fn replicate_key(
        &self,
        key: &KeyRecord,
        replica_region: &str,
        policy: Option<String>,
        description: Option<String>,
        tags: Vec<Tag>,
    ) -> Result<KeyMetadata, KmsError> {
        require_multi_region(key)?;
        check_region(replica_region)?;
        if !key.is_primary() {
            return Err(KmsError::UnsupportedOperation(format!(
                "{} is not a multi-Region primary key. Replicate its primary key in {}.",
                key.arn(),
                key.materials.primary_region
            )));
        }
        require_not_pending(&key.key)?;
        let description = description.unwrap_or_default();
        check_description(&description)?;
        let policy = match policy {
            Some(p) => {
                crate::key_policy::validate(&p)?;
                p
            }
            None => crate::default_key_policy(key.account()),
        };
        crate::tags::validate_tags(&[], &tags)?;
        let account = key.account().to_owned();
        let key_id = key.key_id().to_owned();
        let replica = StoredKey {
            account: account.clone(),
            region: replica_region.to_owned(),
            key_id: key_id.clone(),
            arn: key_arn(replica_region, &account, &key_id),
            created: now(),
            description,
            state: KeyState::Enabled,
            deletion_date: None,
            pending_window_days: None,
            key_manager: key.key.key_manager,
            origin: key.key.origin.clone(),
            key_spec: key.key.key_spec.clone(),
            key_usage: key.key.key_usage.clone(),
            multi_region: true,
            policy,
            tags,
        };
        let primary_arn = key.arn().to_owned();
        let record = replica.clone();
        let set = self
            .write(move |txn| {
                let sid = set_key(&account, &key_id);
                let mut set: MaterialSet = txn
                    .get_json(tables::SETS, &sid)?
                    .ok_or_else(|| KmsError::key_not_found(&primary_arn))?;
                let rid = key_record_key(&account, &record.region, &key_id);
                if set.primary_region == record.region
                    || set.replica_regions.contains(&record.region)
                    || txn.get(tables::KEYS, &rid)?.is_some()
                {
                    return Err(KmsError::AlreadyExists(format!(
                        "{} already exists",
                        record.arn
                    )));
                }
                set.replica_regions.push(record.region.clone());
                txn.put_json(tables::SETS, sid, &set)?;
                txn.put_json(tables::KEYS, rid, &record)?;
                Ok(set)
            })
            .await?;
        Ok(self.metadata(&KeyRecord::new(replica, set)))
    }

    /// UpdatePrimaryRegion: makes the copy in `primary_region` the primary; the old primary becomes a replica.
    pub async fn update_primary_region(
        &self,
        key: &KeyRecord,
        primary_region: &str,
    ) -> Result<(), KmsError> {
        require_multi_region(key)?;
        check_region(primary_region)?;
        let account = key.account().to_owned();
        let key_id = key.key_id().to_owned();
        let arn = key.arn().to_owned();
        let target = primary_region.to_owned();
        self.write(move |txn| {
            let sid = set_key(&account, &key_id);
            let mut set: MaterialSet = txn
                .get_json(tables::SETS, &sid)?
                .ok_or_else(|| KmsError::key_not_found(&arn))?;
            if set.primary_region == target {
                return Err(KmsError::InvalidState(format!(
                    "{} is already the primary key.",
                    key_arn(&target, &account, &key_id)
                )));
            }
            let Some(pos) = set.replica_regions.iter().position(|r| *r == target) else {
                return Err(KmsError::NotFound(format!(
                    "{arn} has no replica key in {target}."
                )));
            };
            for region in [&set.primary_region, &target] {
                let stored: StoredKey = txn
                    .get_json(tables::KEYS, &key_record_key(&account, region, &key_id))?
                    .ok_or_else(|| KmsError::key_not_found(&key_arn(region, &account, &key_id)))?;
                require_not_pending(&stored)?;
            }
            let old = std::mem::replace(&mut set.primary_region, target);
            set.replica_regions[pos] = old;
            txn.put_json(tables::SETS, sid, &set)?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_pattern() {
        assert!(check_region("us-east-1").is_ok());
        assert!(check_region("us-gov-west-1").is_ok());
        assert!(check_region("useast1").is_err());
        assert!(check_region("us-east-").is_err());
        assert!(check_region("US-east-1").is_err());
    }
}
