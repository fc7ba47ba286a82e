//! Customer-managed policies (and the few AWS-managed ones we ship), their versions, and attachments to users
//! and roles. Also the policy checks shared by every IAM write: validation and IAM's size accounting.

use policy::{Policy, PolicyKind};

use crate::model::{key2, ManagedPolicy, PolicyVersion};
use crate::users::Page;
use crate::{now, tables, Iam, IamError};
use ids::{IamName, IamNameKind, IamPath};

/// IAM's quota for a managed policy document, in non-white-space characters.
const MANAGED_POLICY_QUOTA: usize = 6144;
/// IAM's limit on how many managed policies one user or role may have attached.
const ATTACHED_PER_ENTITY: usize = 20;

/// The AWS-managed policies this deployment provides, so that attaching them works as in AWS.
const AWS_MANAGED: &[(&str, &str, &str)] = &[
    (
        "AdministratorAccess",
        "ANPAIWMBCKSKIEE64ZLYK",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    ),
    (
        "IAMFullAccess",
        "ANPAI7XKCFMBPM3QQRRVQ",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","organizations:DescribeAccount","organizations:DescribeOrganization","organizations:DescribeOrganizationalUnit","organizations:DescribePolicy","organizations:ListChildren","organizations:ListParents","organizations:ListPoliciesForTarget","organizations:ListRoots","organizations:ListPolicies","organizations:ListTargetsForPolicy"],"Resource":"*"}]}"#,
    ),
    (
        "AmazonS3FullAccess",
        "ANPAIFIR6V6BVTRAHWINE",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","s3-object-lambda:*"],"Resource":"*"}]}"#,
    ),
    (
        "AmazonS3ReadOnlyAccess",
        "ANPAIZTJ4DXE7G6AGAE6M",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*","s3:Describe*","s3-object-lambda:Get*","s3-object-lambda:List*"],"Resource":"*"}]}"#,
    ),
    (
        "AWSKeyManagementServicePowerUser",
        "ANPAJNPP7PPPPMJRV2SA4",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:CreateAlias","kms:CreateKey","kms:DeleteAlias","kms:Describe*","kms:GenerateRandom","kms:Get*","kms:List*","kms:TagResource","kms:UntagResource","iam:ListGroups","iam:ListRoles","iam:ListUsers"],"Resource":"*"}]}"#,
    ),
    (
        "CloudFrontFullAccess",
        "ANPAIPRV52SH6HDCCFY6U",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["cloudfront:*","s3:ListAllMyBuckets","s3:GetBucketLocation","acm:ListCertificates"],"Resource":"*"}]}"#,
    ),
    (
        "AWSCloudTrail_ReadOnlyAccess",
        "ANPAJDU7KJADWBSEQ3E7S",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["cloudtrail:Get*","cloudtrail:Describe*","cloudtrail:List*","cloudtrail:LookupEvents"],"Resource":"*"}]}"#,
    ),
];

/// IAM counts policy size in characters other than white space.
pub(crate) fn policy_size(doc: &str) -> usize {
    doc.chars().filter(|c| !c.is_whitespace()).count()
}

/// Validates an identity-based policy document as IAM does, mapping problems to `MalformedPolicyDocument`.
pub fn validate_identity_policy(doc: &str) -> Result<Policy, IamError> {
    Policy::parse(doc, PolicyKind::Identity)
        .map_err(|e| IamError::MalformedPolicyDocument(e.to_string()))
}

/// Validates a resource-based policy (a role's trust policy) the same way.
pub fn validate_resource_policy(doc: &str) -> Result<Policy, IamError> {
    Policy::parse(doc, PolicyKind::Resource)
        .map_err(|e| IamError::MalformedPolicyDocument(e.to_string()))
}

fn aws_managed(arn: &str) -> Option<ManagedPolicy> {
    let name = arn.strip_prefix("arn:aws:iam::aws:policy/")?;
    let (n, id, doc) = AWS_MANAGED.iter().find(|(n, _, _)| *n == name)?;
    let created = time::macros::datetime!(2015-02-06 18:39:46 UTC);
    Some(ManagedPolicy {
        account: "aws".into(),
        name: (*n).into(),
        policy_id: (*id).into(),
        path: "/".into(),
        arn: arn.into(),
        description: None,
        default_version: "v1".into(),
        versions: vec![PolicyVersion {
            id: "v1".into(),
            document: (*doc).into(),
            created,
        }],
        attachment_count: 0,
        created,
        updated: created,
    })
}

/// Splits a customer-managed policy ARN into (account, name).
fn parse_policy_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let path_and_name = resource.strip_prefix("policy/")?;
    let name = path_and_name.rsplit('/').next()?;
    Some((account, name))
}

impl Iam {
    pub async fn create_policy(
        &self,
        account: &str,
        name: &str,
        path: Option<&str>,
        document: &str,
        description: Option<&str>,
    ) -> Result<ManagedPolicy, IamError> {
        let name = IamName::parse(name, IamNameKind::Policy)?;
        let path = path.map(IamPath::parse).transpose()?.unwrap_or_default();
        validate_identity_policy(document)?;
        if policy_size(document) > MANAGED_POLICY_QUOTA {
            return Err(IamError::LimitExceeded(format!(
                "Cannot exceed quota for PolicySize: {MANAGED_POLICY_QUOTA}"
            )));
        }
        let created = now();
        let policy = ManagedPolicy {
            account: account.to_owned(),
            arn: format!("arn:aws:iam::{account}:policy{path}{name}"),
            name: name.to_string(),
            policy_id: ids::unique_id("ANPA", &crate::random16()),
            path: path.to_string(),
            description: description.map(str::to_owned),
            default_version: "v1".into(),
            versions: vec![PolicyVersion {
                id: "v1".into(),
                document: document.to_owned(),
                created,
            }],
            attachment_count: 0,
            created,
            updated: created,
        };
        let record = policy.clone();
        self.write(move |txn| {
            let key = key2(&record.account, &record.name);
            if txn.get(tables::MANAGED_POLICIES, &key)?.is_some() {
                return Err(IamError::EntityAlreadyExists(format!(
                    "A policy called {} already exists. Duplicate names are not allowed.",
                    record.name
                )));
            }
            txn.put(
                tables::MANAGED_POLICIES,
                key,
                meta::codec::encode_json(&record)?,
            );
            Ok(())
        })
        .await?;
        Ok(policy)
    }

    /// A managed policy by ARN: a customer-managed one of `account` (or any account, for reads of shared ARNs)
    /// or one of the AWS-managed policies.
    pub fn managed_policy(&self, arn: &str) -> Result<ManagedPolicy, IamError> {
        let missing =
            || IamError::NoSuchEntity(format!("Policy {arn} does not exist or is not attachable."));
        if let Some(p) = aws_managed(arn) {
            return Ok(p);
        }
        let (account, name) = parse_policy_arn(arn)
            .ok_or_else(|| IamError::InvalidInput(format!("ARN {arn} is not valid.")))?;
        let Some(v) = self
            .store()
            .get(tables::MANAGED_POLICIES, &key2(account, name))?
        else {
            return Err(missing());
        };
        let p: ManagedPolicy = meta::codec::decode_json(&v)?;
        if p.arn != arn {
            return Err(missing());
        }
        Ok(p)
    }

    pub(crate) fn managed_policy_document(&self, arn: &str) -> Result<Option<String>, IamError> {
        match self.managed_policy(arn) {
            Ok(p) => Ok(Some(p.default_document().to_owned())),
            Err(IamError::NoSuchEntity(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn list_policies(
        &self,
        account: &str,
        scope: &str,
        only_attached: bool,
        path_prefix: Option<&str>,
        marker: Option<&str>,
        max_items: usize,
    ) -> Result<Page<ManagedPolicy>, IamError> {
        let mut all: Vec<ManagedPolicy> = Vec::new();
        if scope == "All" || scope == "AWS" {
            for (n, _, _) in AWS_MANAGED {
                if let Some(mut p) = aws_managed(&format!("arn:aws:iam::aws:policy/{n}")) {
                    p.attachment_count = self.attachment_count(account, &p.arn)?;
                    all.push(p);
                }
            }
        }
        if scope == "All" || scope == "Local" {
            for (_, v) in self.store().scan(
                tables::MANAGED_POLICIES,
                meta::Range::prefix(format!("{account}/").as_bytes()),
            )? {
                all.push(meta::codec::decode_json(&v)?);
            }
        }
        all.retain(|p| {
            (!only_attached || p.attachment_count > 0)
                && path_prefix.is_none_or(|pp| p.path.starts_with(pp))
        });
        let start = match marker {
            Some(m) => all
                .iter()
                .position(|p| p.arn == m)
                .map(|i| i + 1)
                .unwrap_or(all.len()),
            None => 0,
        };
        let rest = &all[start..];
        let items: Vec<ManagedPolicy> = rest.iter().take(max_items).cloned().collect();
        let marker = (rest.len() > max_items)
            .then(|| items.last().map(|p| p.arn.clone()))
            .flatten();
        Ok(Page { items, marker })
    }

    /// Deletes a customer-managed policy that is no longer attached anywhere.
    pub async fn delete_policy(&self, account: &str, arn: &str) -> Result<(), IamError> {
        let p = self.managed_policy(arn)?;
        if p.account != account {
            return Err(IamError::NoSuchEntity(format!(
                "Policy {arn} does not exist or is not attachable."
            )));
        }
        self.write(move |txn| {
            let key = key2(&p.account, &p.name);
            let Some(v) = txn.get(tables::MANAGED_POLICIES, &key)? else {
                return Err(IamError::NoSuchEntity(format!(
                    "Policy {} was not found.",
                    p.arn
                )));
            };
            let current: ManagedPolicy = meta::codec::decode_json(&v)?;
            if current.attachment_count > 0 {
                return Err(IamError::DeleteConflict(
                    "Cannot delete a policy attached to entities.".into(),
                ));
            }
            txn.delete(tables::MANAGED_POLICIES, key);
            Ok(())
        })
        .await
    }

    /// Attaches a managed policy to `user/<name>` or `role/<name>` of `account`.
    pub async fn attach_policy(
        &self,
        account: &str,
        owner_kind: &str,
        owner: &str,
        arn: &str,
    ) -> Result<(), IamError> {
        self.check_owner(account, owner_kind, owner)?;
        let policy = self.managed_policy(arn)?;
        if policy.account != "aws" && policy.account != account {
            return Err(IamError::NoSuchEntity(format!(
                "Policy {arn} does not exist or is not attachable."
            )));
        }
        let (account, owner_kind, owner, arn) = (
            account.to_owned(),
            owner_kind.to_owned(),
            owner.to_owned(),
            arn.to_owned(),
        );
        self.write(move |txn| {
            let prefix = format!("{account}/{owner_kind}/{owner}/");
            let key = format!("{prefix}{arn}").into_bytes();
            if txn.get(tables::ATTACHMENTS, &key)?.is_some() {
                return Ok(());
            }
            if txn
                .scan(tables::ATTACHMENTS, meta::Range::prefix(prefix.as_bytes()))?
                .len()
                >= ATTACHED_PER_ENTITY
            {
                return Err(IamError::LimitExceeded(format!(
                    "Cannot exceed quota for PoliciesPerUser: {ATTACHED_PER_ENTITY}"
                )));
            }
            txn.put(tables::ATTACHMENTS, key, Vec::new());
            adjust_attachment_count(txn, &account, &arn, 1)?;
            Ok(())
        })
        .await
    }

    pub async fn detach_policy(
        &self,
        account: &str,
        owner_kind: &str,
        owner: &str,
        arn: &str,
    ) -> Result<(), IamError> {
        self.check_owner(account, owner_kind, owner)?;
        let (account, owner_kind, owner, arn) = (
            account.to_owned(),
            owner_kind.to_owned(),
            owner.to_owned(),
            arn.to_owned(),
        );
        self.write(move |txn| {
            let key = format!("{account}/{owner_kind}/{owner}/{arn}").into_bytes();
            if txn.get(tables::ATTACHMENTS, &key)?.is_none() {
                return Err(IamError::NoSuchEntity(format!(
                    "Policy {arn} was not found."
                )));
            }
            txn.delete(tables::ATTACHMENTS, key);
            adjust_attachment_count(txn, &account, &arn, -1)?;
            Ok(())
        })
        .await
    }

    /// The ARNs of the managed policies attached to `owner` ("user/<name>" or "role/<name>").
    pub fn attached_policy_arns(
        &self,
        account: &str,
        owner: &str,
    ) -> Result<Vec<String>, IamError> {
        let prefix = format!("{account}/{owner}/");
        Ok(self
            .store()
            .scan(tables::ATTACHMENTS, meta::Range::prefix(prefix.as_bytes()))?
            .into_iter()
            .map(|(k, _)| String::from_utf8_lossy(&k[prefix.len()..]).into_owned())
            .collect())
    }

    /// (name, arn) of the managed policies attached to a user or role, for ListAttached*Policies.
    pub fn list_attached(
        &self,
        account: &str,
        owner_kind: &str,
        owner: &str,
    ) -> Result<Vec<(String, String)>, IamError> {
        self.check_owner(account, owner_kind, owner)?;
        Ok(self
            .attached_policy_arns(account, &format!("{owner_kind}/{owner}"))?
            .into_iter()
            .map(|arn| (arn.rsplit('/').next().unwrap_or_default().to_owned(), arn))
            .collect())
    }

    fn attachment_count(&self, account: &str, arn: &str) -> Result<u32, IamError> {
        let mut n = 0;
        for (k, _) in self.store().scan(
            tables::ATTACHMENTS,
            meta::Range::prefix(format!("{account}/").as_bytes()),
        )? {
            if k.ends_with(arn.as_bytes()) {
                n += 1;
            }
        }
        Ok(n)
    }

    fn check_owner(&self, account: &str, owner_kind: &str, owner: &str) -> Result<(), IamError> {
        match owner_kind {
            "user" => self.user(account, owner).map(|_| ()),
            "role" => self.role(account, owner).map(|_| ()),
            _ => Err(IamError::Internal(format!(
                "unknown policy owner kind {owner_kind}"
            ))),
        }
    }
}

/// Keeps a customer-managed policy's attachment count in step with its attachments.
fn adjust_attachment_count(
    txn: &mut meta::Txn,
    account: &str,
    arn: &str,
    delta: i64,
) -> Result<(), IamError> {
    let Some((owner_account, name)) = parse_policy_arn(arn) else {
        return Ok(());
    };
    if owner_account != account {
        return Ok(());
    }
    let key = key2(owner_account, name);
    if let Some(v) = txn.get(tables::MANAGED_POLICIES, &key)? {
        let mut p: ManagedPolicy = meta::codec::decode_json(&v)?;
        p.attachment_count = (i64::from(p.attachment_count) + delta).max(0) as u32;
        txn.put(tables::MANAGED_POLICIES, key, meta::codec::encode_json(&p)?);
    }
    Ok(())
}
