//! Aliases: friendly names `alias/<name>` in one (account, region), each pointing at one key of that namespace.

use crate::keys::{check_limit, require_not_pending};
use crate::model::{alias_arn, AliasRecord, KeyRecord};
use crate::{key3, now, tables, Kms, KmsError, Page};

/// Checks an alias name the way AWS does: `alias/` + 1..=250 of `[a-zA-Z0-9:/_-]`, not `alias/aws/…`.
pub(crate) fn validate_alias_name(name: &str) -> Result<(), KmsError> {
    if name.is_empty() || name.len() > 256 {
        return Err(KmsError::constraint(
            "aliasName",
            name,
            "Member must have length between 1 and 256",
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'/' | b'_' | b'-'))
    {
        return Err(KmsError::constraint(
            "aliasName",
            name,
            "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
        ));
    }
    match name.strip_prefix("alias/") {
        Some(rest) if !rest.is_empty() => {}
        _ => {
            return Err(KmsError::InvalidAliasName(format!(
                "Alias must start with the prefix \"alias/\" followed by a name: {name}"
            )))
        }
    }
    if name.starts_with("alias/aws/") {
        return Err(KmsError::NotAuthorized(
            "The alias prefix alias/aws/ is reserved for AWS managed keys.".into(),
        ));
    }
    Ok(())
}

impl Kms {
    /// CreateAlias. The target must be a key of the same (account, region).
    pub async fn create_alias(
        &self,
        account: &str,
        region: &str,
        alias_name: &str,
        target: &KeyRecord,
    ) -> Result<(), KmsError> {
        validate_alias_name(alias_name)?;
        self.put_alias(account, region, alias_name, target, false)
            .await
    }

    /// UpdateAlias: points an existing alias at another key of the same namespace.
    pub async fn update_alias(
        &self,
        account: &str,
        region: &str,
        alias_name: &str,
        target: &KeyRecord,
    ) -> Result<(), KmsError> {
        validate_alias_name(alias_name)?;
        self.put_alias(account, region, alias_name, target, true)
            .await
    }

    /// Writes an alias: `update` requires it to exist, otherwise it must not. Also used (without name
    /// validation) for the reserved `alias/aws/…` names of AWS-managed keys.
    pub(crate) async fn put_alias(
        &self,
        account: &str,
        region: &str,
        alias_name: &str,
        target: &KeyRecord,
        update: bool,
    ) -> Result<(), KmsError> {
        if target.account() != account || target.region() != region {
            return Err(KmsError::NotFound(format!(
                "Key '{}' does not exist",
                crate::key_arn(region, account, target.key_id())
            )));
        }
        require_not_pending(&target.key)?;
        let arn = alias_arn(region, account, alias_name);
        let id = key3(account, region, alias_name);
        let name = alias_name.to_owned();
        let target_id = target.key_id().to_owned();
        let target_key = crate::keys::key_record_key(account, region, &target_id);
        let target_arn = target.arn().to_owned();
        self.write(move |txn| {
            if txn.get(tables::KEYS, &target_key)?.is_none() {
                return Err(KmsError::key_not_found(&target_arn));
            }
            let existing: Option<AliasRecord> = txn.get_json(tables::ALIASES, &id)?;
            let t = now();
            let record = match (existing, update) {
                (Some(_), false) => {
                    return Err(KmsError::AlreadyExists(format!(
                        "An alias with the name {arn} already exists"
                    )))
                }
                (None, true) => {
                    return Err(KmsError::NotFound(format!("Alias {arn} is not found.")))
                }
                (Some(mut a), true) => {
                    a.target_key_id = target_id;
                    a.updated = t;
                    a
                }
                (None, false) => AliasRecord {
                    name,
                    arn,
                    target_key_id: target_id,
                    created: t,
                    updated: t,
                },
            };
            txn.put_json(tables::ALIASES, id, &record)?;
            Ok(())
        })
        .await
    }

    /// DeleteAlias.
    pub async fn delete_alias(
        &self,
        account: &str,
        region: &str,
        alias_name: &str,
    ) -> Result<(), KmsError> {
        if alias_name.starts_with("alias/aws/") {
            return Err(KmsError::NotAuthorized(
                "The alias prefix alias/aws/ is reserved for AWS managed keys.".into(),
            ));
        }
        let arn = alias_arn(region, account, alias_name);
        let id = key3(account, region, alias_name);
        self.write(move |txn| {
            if txn.get(tables::ALIASES, &id)?.is_none() {
                return Err(KmsError::NotFound(format!("Alias {arn} is not found.")));
            }
            txn.delete(tables::ALIASES, id);
            Ok(())
        })
        .await
    }

    /// One alias, if it exists.
    pub fn alias(
        &self,
        account: &str,
        region: &str,
        alias_name: &str,
    ) -> Result<Option<AliasRecord>, KmsError> {
        Ok(self
            .store()
            .get_json(tables::ALIASES, &key3(account, region, alias_name))?)
    }

    /// ListAliases: the namespace's aliases in name order, only those of `key` if given; `marker` is the last
    /// alias name of the previous page.
    pub fn list_aliases(
        &self,
        account: &str,
        region: &str,
        key: Option<&KeyRecord>,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<Page<AliasRecord>, KmsError> {
        let limit = check_limit(limit)?;
        let prefix = format!("{account}/{region}/");
        let mut after = marker.map(|m| format!("{prefix}{m}").into_bytes());
        let mut items = Vec::new();
        // Filtering by key may skip entries, so read in batches until the page is full or the namespace ends.
        loop {
            let batch = self.store().scan_prefix(
                tables::ALIASES,
                prefix.as_bytes(),
                after.as_deref(),
                limit + 1,
            )?;
            let exhausted = batch.len() <= limit;
            for (k, v) in batch {
                after = Some(k);
                let a: AliasRecord = meta::codec::decode_json(&v)?;
                if key.is_none_or(|key| key.key_id() == a.target_key_id) {
                    if items.len() == limit {
                        let next_marker = items.last().map(|a: &AliasRecord| a.name.clone());
                        return Ok(Page { items, next_marker });
                    }
                    items.push(a);
                }
            }
            if exhausted {
                return Ok(Page {
                    items,
                    next_marker: None,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_names_follow_aws_rules() {
        assert!(validate_alias_name("alias/my-key_1:x/y").is_ok());
        for (name, code) in [
            ("alias/", "InvalidAliasNameException"),
            ("my-key", "InvalidAliasNameException"),
            ("alias/has space", "ValidationException"),
            ("", "ValidationException"),
            ("alias/aws/s3", "NotAuthorizedException"),
        ] {
            assert_eq!(
                validate_alias_name(name).unwrap_err().code(),
                code,
                "{name}"
            );
        }
        let long = format!("alias/{}", "a".repeat(251));
        assert_eq!(
            validate_alias_name(&long).unwrap_err().code(),
            "ValidationException"
        );
    }
}
