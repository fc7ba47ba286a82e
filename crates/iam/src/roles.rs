//! IAM roles, their trust policies and their inline policies.

use crate::model::{key2, Role};
use crate::users::Page;
use crate::{now, tables, Iam, IamError};
use ids::{IamName, IamNameKind, IamPath};

/// IAM's default quota for a trust policy, in non-white-space characters.
const TRUST_POLICY_QUOTA: usize = 2048;
/// IAM's quota for the inline policies of one role, in non-white-space characters.
const ROLE_INLINE_QUOTA: usize = 10240;

fn check_trust_policy(doc: &str) -> Result<(), IamError> {
    crate::managed::validate_resource_policy(doc)?;
    if crate::managed::policy_size(doc) > TRUST_POLICY_QUOTA {
        return Err(IamError::LimitExceeded(format!(
            "Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_QUOTA}"
        )));
    }
    Ok(())
}

impl Iam {
    pub async fn create_role(
        &self,
        account: &str,
        name: &str,
        path: Option<&str>,
        trust_policy: &str,
        description: Option<&str>,
        max_session_duration: Option<u32>,
    ) -> Result<Role, IamError> {
        let name = IamName::parse(name, IamNameKind::Role)?;
        let path = path.map(IamPath::parse).transpose()?.unwrap_or_default();
        check_trust_policy(trust_policy)?;
        let max_session_duration = max_session_duration.unwrap_or(3600);
        if !(3600..=43200).contains(&max_session_duration) {
            return Err(IamError::ValidationError(format!(
                "1 validation error detected: Value '{max_session_duration}' at 'maxSessionDuration' failed to \
                 satisfy constraint: Member must have value less than or equal to 43200 and greater than or equal to 3600"
            )));
        }
        if description.is_some_and(|d| d.chars().count() > 1000) {
            return Err(IamError::ValidationError(
                "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have \
                 length less than or equal to 1000"
                    .into(),
            ));
        }
        let role = Role {
            account: account.to_owned(),
            arn: format!("arn:aws:iam::{account}:role{path}{name}"),
            name: name.to_string(),
            role_id: ids::unique_id("AROA", &crate::random16()),
            path: path.to_string(),
            trust_policy: trust_policy.to_owned(),
            description: description.map(str::to_owned),
            max_session_duration,
            created: now(),
        };
        let record = role.clone();
        self.write(move |txn| {
            let key = key2(&record.account, &record.name);
            if txn.get(tables::ROLES, &key)?.is_some() {
                return Err(IamError::EntityAlreadyExists(format!(
                    "Role with name {} already exists.",
                    record.name
                )));
            }
            txn.put(tables::ROLES, key, meta::codec::encode_json(&record)?);
            Ok(())
        })
        .await?;
        Ok(role)
    }

    pub fn role(&self, account: &str, name: &str) -> Result<Role, IamError> {
        self.role_record(account, name)?.ok_or_else(|| {
            IamError::NoSuchEntity(format!("The role with name {name} cannot be found."))
        })
    }

    /// A role by ARN, in any account (AssumeRole may name another account's role).
    pub fn role_by_arn(&self, arn: &str) -> Result<Option<Role>, IamError> {
        let Some(rest) = arn.strip_prefix("arn:aws:iam::") else {
            return Ok(None);
        };
        let Some((account, resource)) = rest.split_once(':') else {
            return Ok(None);
        };
        let Some(path_name) = resource.strip_prefix("role/") else {
            return Ok(None);
        };
        let name = path_name.rsplit('/').next().unwrap_or_default();
        Ok(self.role_record(account, name)?.filter(|r| r.arn == arn))
    }

    pub fn list_roles(
        &self,
        account: &str,
        path_prefix: Option<&str>,
        marker: Option<&str>,
        max_items: usize,
    ) -> Result<Page<Role>, IamError> {
        let page = self.page(tables::ROLES, &format!("{account}/"), marker, max_items)?;
        let mut items = Vec::new();
        for v in page.items {
            let r: Role = meta::codec::decode_json(&v)?;
            if path_prefix.is_none_or(|p| r.path.starts_with(p)) {
                items.push(r);
            }
        }
        Ok(Page {
            items,
            marker: page.marker,
        })
    }

    pub async fn update_assume_role_policy(
        &self,
        account: &str,
        name: &str,
        document: &str,
    ) -> Result<(), IamError> {
        check_trust_policy(document)?;
        let mut role = self.role(account, name)?;
        role.trust_policy = document.to_owned();
        self.write(move |txn| {
            txn.put(
                tables::ROLES,
                key2(&role.account, &role.name),
                meta::codec::encode_json(&role)?,
            );
            Ok(())
        })
        .await
    }

    /// Deletes a role that has no inline or attached policies left, as IAM requires.
    pub async fn delete_role(&self, account: &str, name: &str) -> Result<(), IamError> {
        let (account, name) = (account.to_owned(), name.to_owned());
        self.write(move |txn| {
            let key = key2(&account, &name);
            if txn.get(tables::ROLES, &key)?.is_none() {
                return Err(IamError::NoSuchEntity(format!(
                    "The role with name {name} cannot be found."
                )));
            }
            let inline = format!("{account}/{name}/");
            if !txn
                .scan(
                    tables::ROLE_POLICIES,
                    meta::Range::prefix(inline.as_bytes()).limit(1),
                )?
                .is_empty()
            {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must delete policies first.".into(),
                ));
            }
            let attached = format!("{account}/role/{name}/");
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
            txn.delete(tables::ROLES, key);
            Ok(())
        })
        .await
    }

    pub async fn put_role_policy(
        &self,
        account: &str,
        role: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<(), IamError> {
        self.put_inline(
            tables::ROLE_POLICIES,
            tables::ROLES,
            "role",
            account,
            role,
            policy_name,
            document,
            ROLE_INLINE_QUOTA,
        )
        .await
    }

    pub fn role_policy(
        &self,
        account: &str,
        role: &str,
        policy_name: &str,
    ) -> Result<String, IamError> {
        self.role(account, role)?;
        self.inline(tables::ROLE_POLICIES, account, role, policy_name, "role")
    }

    pub fn list_role_policies(
        &self,
        account: &str,
        role: &str,
        marker: Option<&str>,
        max_items: usize,
    ) -> Result<Page<String>, IamError> {
        self.role(account, role)?;
        self.list_inline(tables::ROLE_POLICIES, account, role, marker, max_items)
    }

    pub async fn delete_role_policy(
        &self,
        account: &str,
        role: &str,
        policy_name: &str,
    ) -> Result<(), IamError> {
        self.role(account, role)?;
        self.delete_inline(tables::ROLE_POLICIES, account, role, policy_name, "role")
            .await
    }
}
