//! Accounts and their root access keys.

use base64::Engine;
use zeroize::Zeroizing;

use crate::model::{AccessKey, AccessKeyStatus, Account};
use crate::{now, tables, Iam, IamError};

/// A freshly made secret access key: 40 characters, as AWS's are.
pub(crate) fn new_secret() -> Zeroizing<String> {
    let bytes: [u8; 30] = crypto::random_array();
    Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// A random 12-digit account id that does not start with 0.
fn new_account_id() -> String {
    let r: [u8; 8] = crypto::random_array();
    let n = u64::from_le_bytes(r) % 900_000_000_000 + 100_000_000_000;
    n.to_string()
}

impl Iam {
    /// Creates an account and its root access key. `root_key` lets the operator choose the root credentials
    /// (first start with `COFFER_ROOT_ACCESS_KEY_ID`/`COFFER_ROOT_SECRET_ACCESS_KEY`); otherwise fresh ones are made.
    /// Returns the account and the root access key id and secret — the only time the secret is revealed.
    pub async fn create_account(
        &self,
        name: &str,
        root_key: Option<(String, String)>,
    ) -> Result<(Account, String, Zeroizing<String>), IamError> {
        if name.is_empty() || name.len() > 50 || name.chars().any(|c| c.is_control()) {
            return Err(IamError::ValidationError(
                "account name must be 1 to 50 printable characters".into(),
            ));
        }
        let (akid, secret) = match root_key {
            Some((id, secret)) => {
                ids::AccessKeyId::parse(&id)?;
                if secret.len() < 16
                    || secret.len() > 128
                    || secret.chars().any(|c| c.is_whitespace())
                {
                    return Err(IamError::ValidationError(
                        "the root secret access key must be 16 to 128 characters without spaces"
                            .into(),
                    ));
                }
                (id, Zeroizing::new(secret))
            }
            None => (
                ids::AccessKeyId::generate(false, &crate::random16()).to_string(),
                new_secret(),
            ),
        };
        let sealed = self.seal_secret(&akid, &secret)?;
        let name = name.to_owned();
        let key_id = akid.clone();
        let account = self
            .write(move |txn| {
                if txn.get(tables::ACCOUNT_NAMES, name.as_bytes())?.is_some() {
                    return Err(IamError::EntityAlreadyExists(format!(
                        "An account named {name} already exists."
                    )));
                }
                if txn.get(tables::ACCESS_KEYS, key_id.as_bytes())?.is_some() {
                    return Err(IamError::EntityAlreadyExists(format!(
                        "Access key {key_id} already exists."
                    )));
                }
                let mut id = new_account_id();
                while txn.get(tables::ACCOUNTS, id.as_bytes())?.is_some() {
                    id = new_account_id();
                }
                let account = Account {
                    id: id.clone(),
                    name: name.clone(),
                    created: now(),
                };
                txn.put(
                    tables::ACCOUNTS,
                    id.as_bytes().to_vec(),
                    meta::codec::encode_json(&account)?,
                );
                txn.put(
                    tables::ACCOUNT_NAMES,
                    name.as_bytes().to_vec(),
                    meta::codec::encode_json(&id)?,
                );
                let key = AccessKey {
                    id: key_id.clone(),
                    account: id,
                    user: None,
                    status: AccessKeyStatus::Active,
                    created: account.created,
                    sealed_secret: sealed,
                };
                txn.put(
                    tables::ACCESS_KEYS,
                    key_id.as_bytes().to_vec(),
                    meta::codec::encode_json(&key)?,
                );
                txn.put(
                    crate::keys::USER_KEYS,
                    format!("{}/user//{key_id}", key.account).into_bytes(),
                    Vec::new(),
                );
                Ok(account)
            })
            .await?;
        Ok((account, akid, secret))
    }

    /// Every account, in id order.
    pub fn list_accounts(&self) -> Result<Vec<Account>, IamError> {
        self.store()
            .scan(tables::ACCOUNTS, meta::Range::all())?
            .into_iter()
            .map(|(_, v)| meta::codec::decode_json(&v).map_err(IamError::from))
            .collect()
    }

    pub fn account(&self, id: &str) -> Result<Option<Account>, IamError> {
        Ok(self
            .store()
            .get(tables::ACCOUNTS, id.as_bytes())?
            .map(|b| meta::codec::decode_json(&b))
            .transpose()?)
    }

    pub fn account_by_name(&self, name: &str) -> Result<Option<Account>, IamError> {
        let Some(id) = self.store().get(tables::ACCOUNT_NAMES, name.as_bytes())? else {
            return Ok(None);
        };
        let id: String = meta::codec::decode_json(&id)?;
        self.account(&id)
    }
}
