//! AWS-managed keys (`aws/<service>`, KeyManager AWS), created on first use with AWS's managed-key policy.

use crate::keys::{key_record_key, set_key, CreateKeyInput};
use crate::model::{AliasRecord, KeyManager, KeyRecord, MaterialSet, StoredKey};
use crate::{alias_arn, key3, now, tables, Kms, KmsError};

fn description(service: &str) -> String {
    match service {
        "s3" => {
            "Default master key that protects my S3 objects when no other key is defined".into()
        }
        other => format!(
            "Default key that protects my {} resources when no other key is defined",
            other.to_ascii_uppercase()
        ),
    }
}

impl Kms {
    /// The AWS-managed key of `service` (e.g. `s3`) in (`account`, `region`), created with alias
    /// `alias/aws/<service>` on first use. Idempotent, also under concurrent first uses.
    pub async fn aws_managed_key(
        &self,
        account: &str,
        region: &str,
        service: &str,
    ) -> Result<KeyRecord, KmsError> {
        if service.is_empty()
            || service.len() > 64
            || !service
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(KmsError::Validation(format!(
                "{service:?} is not a service name"
            )));
        }
        let alias_name = format!("alias/aws/{service}");
        if let Ok(k) = self.resolve(account, region, &alias_name) {
            return Ok(k);
        }
        let input = CreateKeyInput {
            description: Some(description(service)),
            policy: Some(crate::aws_managed_policy(account, region, service)),
            ..CreateKeyInput::default()
        };
        let new = self.prepare_key(account, region, input, KeyManager::Aws)?;
        let (acct, reg) = (account.to_owned(), region.to_owned());
        let alias_id = key3(account, region, &alias_name);
        let key_id = self
            .write(move |txn| {
                // Another caller may have won the race: its key is the one.
                if let Some(a) = txn.get_json::<AliasRecord>(tables::ALIASES, &alias_id)? {
                    return Ok(a.target_key_id);
                }
                new.put(txn)?;
                let t = now();
                txn.put_json(
                    tables::ALIASES,
                    alias_id,
                    &AliasRecord {
                        arn: alias_arn(&reg, &acct, &alias_name),
                        name: alias_name,
                        target_key_id: new.key.key_id.clone(),
                        created: t,
                        updated: t,
                    },
                )?;
                Ok(new.key.key_id.clone())
            })
            .await?;
        let key: Option<StoredKey> = self
            .store()
            .get_json(tables::KEYS, &key_record_key(account, region, &key_id))?;
        let set: Option<MaterialSet> = self
            .store()
            .get_json(tables::SETS, &set_key(account, &key_id))?;
        match (key, set) {
            (Some(k), Some(s)) => Ok(KeyRecord::new(k, s)),
            _ => Err(KmsError::Internal(format!(
                "the AWS managed key for {service} vanished"
            ))),
        }
    }
}
