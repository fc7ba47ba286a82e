//! IAM users and their inline policies.

use crate::model::{key2, key3, User};
use crate::{now, tables, Iam, IamError};
use ids::{IamName, IamNameKind, IamPath};

/// One page of a listing: the items and, when more remain, the marker to continue from.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub marker: Option<String>,
}

impl Iam {
    /// Reads a page of `table` under `prefix`, continuing after `marker` (an opaque key suffix we handed out).
    pub(crate) fn page(
        &self,
        table: &'static str,
        prefix: &str,
        marker: Option<&str>,
        max_items: usize,
    ) -> Result<Page<Vec<u8>>, IamError> {
        let mut range = meta::Range::prefix(prefix.as_bytes());
        if let Some(m) = marker {
            range = range.after(format!("{prefix}{m}").as_bytes());
        }
        let rows = self.store().scan(table, range.limit(max_items + 1))?;
        let more = rows.len() > max_items;
        let mut items = Vec::with_capacity(rows.len().min(max_items));
        let mut last_key = None;
        for (k, v) in rows.into_iter().take(max_items) {
            last_key = Some(k);
            items.push(v);
        }
        let marker = if more {
            last_key.map(|k| String::from_utf8_lossy(&k[prefix.len()..]).into_owned())
        } else {
            None
        };
        Ok(Page { items, marker })
    }

    pub async fn create_user(
        &self,
        account: &str,
        name: &str,
        path: Option<&str>,
    ) -> Result<User, IamError> {
        let name = IamName::parse(name, IamNameKind::User)?;
        let path = path.map(IamPath::parse).transpose()?.unwrap_or_default();
        let user = User {
            account: account.to_owned(),
            arn: format!("arn:aws:iam::{account}:user{}{}", path, name),
            name: name.to_string(),
            user_id: ids::unique_id("AIDA", &crate::random16()),
            path: path.to_string(),
            created: now(),
            tags: Vec::new(),
        };
        let record = user.clone();
        self.write(move |txn| {
            let key = key2(&record.account, &record.name);
            if txn.get(tables::USERS, &key)?.is_some() {
                return Err(IamError::EntityAlreadyExists(format!(
                    "User with name {} already exists.",
                    record.name
                )));
            }
            txn.put(tables::USERS, key, meta::codec::encode_json(&record)?);
            Ok(())
        })
        .await?;
        Ok(user)
    }

    pub fn user(&self, account: &str, name: &str) -> Result<User, IamError> {
        self.user_record(account, name)?.ok_or_else(|| {
            IamError::NoSuchEntity(format!("The user with name {name} cannot be found."))
        })
    }

    pub fn list_users(
        &self,
        account: &str,
        path_prefix: Option<&str>,
        marker: Option<&str>,
        max_items: usize,
    ) -> Result<Page<User>, IamError> {
        let page = self.page(tables::USERS, &format!("{account}/"), marker, max_items)?;
        let mut items = Vec::new();
        for v in page.items {
            let u: User = meta::codec::decode_json(&v)?;
            if path_prefix.is_none_or(|p| u.path.starts_with(p)) {
                items.push(u);
            }
        }
        Ok(Page {
            items,
            marker: page.marker,
        })
    }

    /// Deletes a user that has no access keys, inline policies or attached policies left, as IAM requires.
    pub async fn delete_user(&self, account: &str, name: &str) -> Result<(), IamError> {
        let (account, name) = (account.to_owned(), name.to_owned());
        self.write(move |txn| {
            let key = key2(&account, &name);
            let Some(bytes) = txn.get(tables::USERS, &key)? else {
                return Err(IamError::NoSuchEntity(format!(
                    "The user with name {name} cannot be found."
                )));
            };
            let _: User = meta::codec::decode_json(&bytes)?;
            let keys_prefix = format!("{account}/{name}/");
            if !txn
                .scan(
                    tables::USER_POLICIES,
                    meta::Range::prefix(keys_prefix.as_bytes()).limit(1),
                )?
                .is_empty()
            {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must delete policies first.".into(),
                ));
            }
            let attached = format!("{account}/user/{name}/");
            if !txn
                .scan(
                    tables::ATTACHMENTS,
                    meta::Range::prefix(attached.as_bytes()).limit(1),
                )?
                .is_empty()
            {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must detach all policies first.".into(),
                ));
            }
            let owned = format!("{account}/user/{name}/");
            if !txn
                .scan(
                    crate::keys::USER_KEYS,
                    meta::Range::prefix(owned.as_bytes()).limit(1),
                )?
                .is_empty()
            {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must delete access keys first.".into(),
                ));
            }
            txn.delete(tables::USERS, key);
            Ok(())
        })
        .await
    }

    pub async fn put_user_policy(
        &self,
        account: &str,
        user: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<(), IamError> {
        self.put_inline(
            tables::USER_POLICIES,
            tables::USERS,
            "user",
            account,
            user,
            policy_name,
            document,
            2048,
        )
        .await
    }

    pub fn user_policy(
        &self,
        account: &str,
        user: &str,
        policy_name: &str,
    ) -> Result<String, IamError> {
        self.user(account, user)?;
        self.inline(tables::USER_POLICIES, account, user, policy_name, "user")
    }

    pub fn list_user_policies(
        &self,
        account: &str,
        user: &str,
        marker: Option<&str>,
        max_items: usize,
    ) -> Result<Page<String>, IamError> {
        self.user(account, user)?;
        self.list_inline(tables::USER_POLICIES, account, user, marker, max_items)
    }

    pub async fn delete_user_policy(
        &self,
        account: &str,
        user: &str,
        policy_name: &str,
    ) -> Result<(), IamError> {
        self.user(account, user)?;
        self.delete_inline(tables::USER_POLICIES, account, user, policy_name, "user")
            .await
    }

    /// Stores an inline policy after validating it and checking the owner's aggregate size quota (IAM counts
    /// characters other than white space across all of an identity's inline policies).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn put_inline(
        &self,
        table: &'static str,
        owner_table: &'static str,
        owner_kind: &'static str,
        account: &str,
        owner: &str,
        policy_name: &str,
        document: &str,
        quota: usize,
    ) -> Result<(), IamError> {
        let policy_name = IamName::parse(policy_name, IamNameKind::Policy)?;
        crate::managed::validate_identity_policy(document)?;
        let (account, owner, document) =
            (account.to_owned(), owner.to_owned(), document.to_owned());
        self.write(move |txn| {
            if txn.get(owner_table, &key2(&account, &owner))?.is_none() {
                return Err(IamError::NoSuchEntity(format!(
                    "The {owner_kind} with name {owner} cannot be found."
                )));
            }
            let key = key3(&account, &owner, policy_name.as_str());
            let mut total = crate::managed::policy_size(&document);
            for (k, v) in txn.scan(
                table,
                meta::Range::prefix(format!("{account}/{owner}/").as_bytes()),
            )? {
                if k != key {
                    total += crate::managed::policy_size(&meta::codec::decode_json::<String>(&v)?);
                }
            }
            if total > quota {
                return Err(IamError::LimitExceeded(format!(
                    "Maximum policy size of {quota} bytes exceeded for {owner_kind} {owner}"
                )));
            }
            txn.put(table, key, meta::codec::encode_json(&document)?);
            Ok(())
        })
        .await
    }

    pub(crate) fn inline(
        &self,
        table: &'static str,
        account: &str,
        owner: &str,
        policy_name: &str,
        owner_kind: &str,
    ) -> Result<String, IamError> {
        match self
            .store()
            .get(table, &key3(account, owner, policy_name))?
        {
            Some(v) => Ok(meta::codec::decode_json(&v)?),
            None => Err(IamError::NoSuchEntity(format!(
                "The {owner_kind} policy with name {policy_name} cannot be found."
            ))),
        }
    }

    pub(crate) fn list_inline(
        &self,
        table: &'static str,
        account: &str,
        owner: &str,
        marker: Option<&str>,
        max_items: usize,
    ) -> Result<Page<String>, IamError> {
        let prefix = format!("{account}/{owner}/");
        let mut range = meta::Range::prefix(prefix.as_bytes());
        if let Some(m) = marker {
            range = range.after(format!("{prefix}{m}").as_bytes());
        }
        let rows = self.store().scan(table, range.limit(max_items + 1))?;
        let more = rows.len() > max_items;
        let items: Vec<String> = rows
            .into_iter()
            .take(max_items)
            .map(|(k, _)| String::from_utf8_lossy(&k[prefix.len()..]).into_owned())
            .collect();
        let marker = if more { items.last().cloned() } else { None };
        Ok(Page { items, marker })
    }

    pub(crate) async fn delete_inline(
        &self,
        table: &'static str,
        account: &str,
        owner: &str,
        policy_name: &str,
        owner_kind: &'static str,
    ) -> Result<(), IamError> {
        let key = key3(account, owner, policy_name);
        let policy_name = policy_name.to_owned();
        self.write(move |txn| {
            if txn.get(table, &key)?.is_none() {
                return Err(IamError::NoSuchEntity(format!(
                    "The {owner_kind} policy with name {policy_name} cannot be found."
                )));
            }
            txn.delete(table, key);
            Ok(())
        })
        .await
    }
}
