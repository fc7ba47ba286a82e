//! Long-term access keys of IAM users: create, list, activate/deactivate, delete.

use zeroize::Zeroizing;

use crate::accounts::new_secret;
use crate::model::{AccessKey, AccessKeyStatus};
use crate::{now, tables, Iam, IamError};

/// Index `<account>/user/<user>/<access key id>` → "" so a user's keys list without a full scan.
pub(crate) const USER_KEYS: &str = "iam.user_keys";

/// IAM's quota of access keys per user.
const KEYS_PER_USER: usize = 2;

impl Iam {
    /// Creates an access key for `user` (or, with `None`, another root access key for the account).
    /// Returns the record and the secret, which is never retrievable again.
    pub async fn create_access_key(
        &self,
        account: &str,
        user: Option<&str>,
    ) -> Result<(AccessKey, Zeroizing<String>), IamError> {
        if let Some(u) = user {
            self.user(account, u)?;
        }
        let id = ids::AccessKeyId::generate(false, &crate::random16()).to_string();
        let secret = new_secret();
        let key = AccessKey {
            id: id.clone(),
            account: account.to_owned(),
            user: user.map(str::to_owned),
            status: AccessKeyStatus::Active,
            created: now(),
            sealed_secret: self.seal_secret(&id, &secret)?,
        };
        let record = key.clone();
        self.write(move |txn| {
            let owner = record.user.as_deref().unwrap_or("");
            let prefix = format!("{}/user/{owner}/", record.account);
            let existing = txn
                .scan(USER_KEYS, meta::Range::prefix(prefix.as_bytes()))?
                .len();
            if existing >= KEYS_PER_USER {
                return Err(IamError::LimitExceeded(format!(
                    "Cannot exceed quota for AccessKeysPerUser: {KEYS_PER_USER}"
                )));
            }
            txn.put(
                tables::ACCESS_KEYS,
                record.id.as_bytes().to_vec(),
                meta::codec::encode_json(&record)?,
            );
            txn.put(
                USER_KEYS,
                format!("{prefix}{}", record.id).into_bytes(),
                Vec::new(),
            );
            Ok(())
        })
        .await?;
        Ok((key, secret))
    }

    /// The access keys of `user` (root's own keys with `None`), in id order.
    pub fn list_access_keys(
        &self,
        account: &str,
        user: Option<&str>,
    ) -> Result<Vec<AccessKey>, IamError> {
        if let Some(u) = user {
            self.user(account, u)?;
        }
        let prefix = format!("{account}/user/{}/", user.unwrap_or(""));
        let mut out = Vec::new();
        for (k, _) in self
            .store()
            .scan(USER_KEYS, meta::Range::prefix(prefix.as_bytes()))?
        {
            let id = &k[prefix.len()..];
            if let Some(v) = self.store().get(tables::ACCESS_KEYS, id)? {
                out.push(meta::codec::decode_json(&v)?);
            }
        }
        Ok(out)
    }

    /// Looks up one access key that must belong to `user` in `account`.
    fn owned_key(
        &self,
        account: &str,
        user: Option<&str>,
        id: &str,
    ) -> Result<AccessKey, IamError> {
        let missing =
            || IamError::NoSuchEntity(format!("The Access Key with id {id} cannot be found."));
        let Some(v) = self.store().get(tables::ACCESS_KEYS, id.as_bytes())? else {
            return Err(missing());
        };
        let key: AccessKey = meta::codec::decode_json(&v)?;
        if key.account != account || key.user.as_deref() != user {
            return Err(missing());
        }
        Ok(key)
    }

    pub async fn update_access_key(
        &self,
        account: &str,
        user: Option<&str>,
        id: &str,
        status: AccessKeyStatus,
    ) -> Result<(), IamError> {
        let mut key = self.owned_key(account, user, id)?;
        key.status = status;
        self.write(move |txn| {
            txn.put(
                tables::ACCESS_KEYS,
                key.id.as_bytes().to_vec(),
                meta::codec::encode_json(&key)?,
            );
            Ok(())
        })
        .await
    }

    pub async fn delete_access_key(
        &self,
        account: &str,
        user: Option<&str>,
        id: &str,
    ) -> Result<(), IamError> {
        let key = self.owned_key(account, user, id)?;
        self.write(move |txn| {
            txn.delete(tables::ACCESS_KEYS, key.id.as_bytes().to_vec());
            txn.delete(
                USER_KEYS,
                format!(
                    "{}/user/{}/{}",
                    key.account,
                    key.user.as_deref().unwrap_or(""),
                    key.id
                )
                .into_bytes(),
            );
            Ok(())
        })
        .await
    }

    /// Which account and user an access key id belongs to (for `aws iam update-access-key` without `--user-name`
    /// and for STS `GetAccessKeyInfo`).
    pub fn access_key(&self, id: &str) -> Result<Option<AccessKey>, IamError> {
        Ok(self
            .store()
            .get(tables::ACCESS_KEYS, id.as_bytes())?
            .map(|v| meta::codec::decode_json(&v))
            .transpose()?)
    }
}
