//! Who is calling: resolving an access key to its principal, and the identity policies that apply to it.

use std::sync::{Arc, OnceLock};

use policy::{Policy, PolicyKind};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::model::{AccessKey, AccessKeyStatus, Role, Session, User};
use crate::{tables, Iam, IamError};

/// The kind of principal behind a request, with what each kind needs for ARNs and policy variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerKind {
    /// An account's root user.
    Root,
    /// An IAM user.
    User { name: String },
    /// A session of an assumed role.
    AssumedRole {
        role_name: String,
        role_arn: String,
        session_name: String,
    },
    /// An AWS service principal (e.g. `cloudfront.amazonaws.com`) acting on behalf of a resource.
    Service { name: String },
    /// No credentials.
    Anonymous,
}

/// An authenticated principal.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The principal's account; empty for anonymous callers.
    pub account: String,
    pub kind: CallerKind,
    /// The principal's ARN (`arn:aws:iam::<acct>:user/<name>`, `arn:aws:sts::<acct>:assumed-role/<role>/<sess>`…).
    pub arn: String,
    /// IAM's unique id: the account id for root, `AIDA…` for users, `AROA…:<session>` for role sessions.
    pub principal_id: String,
    pub access_key_id: Option<String>,
    /// For role sessions: when it was issued, and its session policy.
    pub session: Option<SessionInfo>,
}

#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub created: OffsetDateTime,
    pub expiration: OffsetDateTime,
    pub policy: Option<Arc<Policy>>,
}

impl Caller {
    /// The anonymous principal.
    pub fn anonymous() -> Self {
        Self {
            account: String::new(),
            kind: CallerKind::Anonymous,
            arn: String::new(),
            principal_id: "anonymous".into(),
            access_key_id: None,
            session: None,
        }
    }

    /// A service principal such as `cloudfront.amazonaws.com`.
    pub fn service(name: &str) -> Self {
        Self {
            account: String::new(),
            kind: CallerKind::Service { name: name.into() },
            arn: name.into(),
            principal_id: name.into(),
            access_key_id: None,
            session: None,
        }
    }

    /// CloudTrail's `userIdentity.type` and IAM's `aws:PrincipalType`.
    pub fn identity_type(&self) -> &'static str {
        match self.kind {
            CallerKind::Root => "Root",
            CallerKind::User { .. } => "IAMUser",
            CallerKind::AssumedRole { .. } => "AssumedRole",
            CallerKind::Service { .. } => "AWSService",
            CallerKind::Anonymous => "Anonymous",
        }
    }

    /// The value of `aws:PrincipalType`.
    pub fn principal_type(&self) -> &'static str {
        match self.kind {
            CallerKind::Root => "Account",
            CallerKind::User { .. } => "User",
            CallerKind::AssumedRole { .. } => "AssumedRole",
            CallerKind::Service { .. } => "Service",
            CallerKind::Anonymous => "Anonymous",
        }
    }

    /// The value of `aws:PrincipalArn`: for role sessions it is the role's ARN, as in AWS.
    pub fn principal_arn(&self) -> &str {
        match &self.kind {
            CallerKind::AssumedRole { role_arn, .. } => role_arn,
            _ => &self.arn,
        }
    }

    /// The name shown in `AccessDenied` messages ("User: <arn> is not authorized…").
    pub fn display_arn(&self) -> &str {
        match self.kind {
            CallerKind::Anonymous => "anonymous",
            _ => &self.arn,
        }
    }

    /// The principal in the shape the policy engine matches against.
    pub fn as_policy_principal(&self) -> policy::Principal<'_> {
        let (kind, role_arn) = match &self.kind {
            CallerKind::Root => (policy::PrincipalKind::Root, None),
            CallerKind::User { .. } => (policy::PrincipalKind::User, None),
            CallerKind::AssumedRole { role_arn, .. } => {
                (policy::PrincipalKind::AssumedRole, Some(role_arn.as_str()))
            }
            CallerKind::Service { .. } => (policy::PrincipalKind::Service, None),
            CallerKind::Anonymous => (policy::PrincipalKind::Anonymous, None),
        };
        policy::Principal {
            kind,
            arn: &self.arn,
            account: &self.account,
            role_arn,
        }
    }
}

/// What an access key id resolves to: the secret (in zeroizing memory) and the principal it authenticates.
pub struct Credentials {
    pub secret: Zeroizing<String>,
    pub caller: Caller,
    pub active: bool,
    /// For session credentials: SHA-256 of the session token the request must carry.
    pub token_sha256: Option<[u8; 32]>,
    pub expiration: Option<OffsetDateTime>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("caller", &self.caller)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// The identity policy of an account's root user: everything, as AWS grants root within its own account.
fn root_policy() -> Arc<Policy> {
    static ROOT: OnceLock<Arc<Policy>> = OnceLock::new();
    ROOT.get_or_init(|| {
        Arc::new(
            Policy::parse(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
                PolicyKind::Identity,
            )
            .expect("the root policy is valid"),
        )
    })
    .clone()
}

/// The sealing context of a secret access key.
pub(crate) fn secret_aad(access_key_id: &str) -> Vec<u8> {
    format!("coffer:iam:access-key:{access_key_id}").into_bytes()
}

impl Iam {
    /// Resolves an access key id (long-term or session) to its credentials; `None` when no such key exists.
    /// Results are cached until the next IAM write.
    pub fn authenticate(&self, access_key_id: &str) -> Result<Option<Arc<Credentials>>, IamError> {
        let generation = self.generation();
        if let Some((g, c)) = self
            .inner
            .credentials
            .read()
            .expect("credential cache lock")
            .get(access_key_id)
        {
            if *g == generation {
                return Ok(Some(c.clone()));
            }
        }
        let resolved = if access_key_id.starts_with("ASIA") {
            self.resolve_session(access_key_id)?
        } else {
            self.resolve_long_term(access_key_id)?
        };
        let Some(resolved) = resolved else {
            return Ok(None);
        };
        let resolved = Arc::new(resolved);
        let mut cache = self
            .inner
            .credentials
            .write()
            .expect("credential cache lock");
        if cache.len() > 100_000 {
            cache.clear();
        }
        cache.insert(access_key_id.to_owned(), (generation, resolved.clone()));
        Ok(Some(resolved))
    }

    fn open_secret(
        &self,
        access_key_id: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<String>, IamError> {
        let plain = self
            .root()
            .open(&secret_aad(access_key_id), sealed)
            .map_err(|_| {
                IamError::Internal(format!(
                "the sealed secret of access key {access_key_id} does not open under this root key"
            ))
            })?;
        String::from_utf8(plain.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| IamError::Internal("sealed secret is not UTF-8".into()))
    }

    fn resolve_long_term(&self, access_key_id: &str) -> Result<Option<Credentials>, IamError> {
        let Some(bytes) = self
            .store()
            .get(tables::ACCESS_KEYS, access_key_id.as_bytes())?
        else {
            return Ok(None);
        };
        let key: AccessKey = meta::codec::decode_json(&bytes)?;
        let secret = self.open_secret(access_key_id, &key.sealed_secret)?;
        let caller = match &key.user {
            None => Caller {
                account: key.account.clone(),
                kind: CallerKind::Root,
                arn: format!("arn:aws:iam::{}:root", key.account),
                principal_id: key.account.clone(),
                access_key_id: Some(key.id.clone()),
                session: None,
            },
            Some(name) => {
                let user = self.user_record(&key.account, name)?.ok_or_else(|| {
                    IamError::Internal(format!("access key {access_key_id} names a missing user"))
                })?;
                Caller {
                    account: key.account.clone(),
                    kind: CallerKind::User {
                        name: user.name.clone(),
                    },
                    arn: user.arn.clone(),
                    principal_id: user.user_id.clone(),
                    access_key_id: Some(key.id.clone()),
                    session: None,
                }
            }
        };
        Ok(Some(Credentials {
            secret,
            caller,
            active: key.status == AccessKeyStatus::Active,
            token_sha256: None,
            expiration: None,
        }))
    }

    fn resolve_session(&self, access_key_id: &str) -> Result<Option<Credentials>, IamError> {
        let Some(bytes) = self
            .store()
            .get(tables::SESSIONS, access_key_id.as_bytes())?
        else {
            return Ok(None);
        };
        let s: Session = meta::codec::decode_json(&bytes)?;
        let secret = self.open_secret(access_key_id, &s.sealed_secret)?;
        let mut token = [0u8; 32];
        hex::decode_to_slice(&s.token_sha256, &mut token)
            .map_err(|_| IamError::Internal("bad session token digest".into()))?;
        let policy = match &s.session_policy {
            Some(doc) => Some(Arc::new(Policy::parse(doc, PolicyKind::Identity).map_err(
                |e| IamError::Internal(format!("stored session policy no longer parses: {e}")),
            )?)),
            None => None,
        };
        // A session is bound to its role's unique id, not its name: once the role is deleted, or replaced by a
        // new role of the same name, the session's credentials are refused. (AWS keeps authenticating such a
        // session with no identity permissions; refusing it outright also keeps it from reaching resource
        // policies that name the role by ARN — which a new role of the same name would otherwise inherit.)
        match self.role_record(&s.account, &s.role_name)? {
            Some(role) if role.role_id == s.role_id => {}
            _ => return Ok(None),
        }
        Ok(Some(Credentials {
            secret,
            caller: Caller {
                account: s.account.clone(),
                kind: CallerKind::AssumedRole {
                    role_name: s.role_name.clone(),
                    role_arn: s.role_arn.clone(),
                    session_name: s.session_name.clone(),
                },
                arn: format!(
                    "arn:aws:sts::{}:assumed-role/{}/{}",
                    s.account, s.role_name, s.session_name
                ),
                principal_id: format!("{}:{}", s.role_id, s.session_name),
                access_key_id: Some(s.access_key_id.clone()),
                session: Some(SessionInfo {
                    created: s.created,
                    expiration: s.expiration,
                    policy,
                }),
            },
            active: true,
            token_sha256: Some(token),
            expiration: Some(s.expiration),
        }))
    }

    /// The identity-based policies that apply to `caller`: inline and attached policies of the user or of the
    /// session's role; everything for an account's root user; none for anonymous and service principals.
    /// Session policies are not included (see [`Caller::session`]).
    pub fn identity_policies(&self, caller: &Caller) -> Result<Arc<[Arc<Policy>]>, IamError> {
        let (table, owner) = match &caller.kind {
            CallerKind::Root => return Ok(Arc::from(vec![root_policy()])),
            CallerKind::Anonymous | CallerKind::Service { .. } => return Ok(Arc::from(Vec::new())),
            CallerKind::User { name } => (tables::USER_POLICIES, format!("user/{name}")),
            CallerKind::AssumedRole { role_name, .. } => {
                (tables::ROLE_POLICIES, format!("role/{role_name}"))
            }
        };
        let cache_key = format!("{}/{owner}", caller.account);
        let generation = self.generation();
        if let Some((g, p)) = self
            .inner
            .policies
            .read()
            .expect("policy cache lock")
            .get(&cache_key)
        {
            if *g == generation {
                return Ok(p.clone());
            }
        }
        let mut docs: Vec<String> = Vec::new();
        let name = owner.split_once('/').map(|(_, n)| n).unwrap_or_default();
        let prefix = format!("{}/{name}/", caller.account);
        for (_, v) in self
            .store()
            .scan(table, meta::Range::prefix(prefix.as_bytes()))?
        {
            docs.push(meta::codec::decode_json::<String>(&v)?);
        }
        for arn in self.attached_policy_arns(&caller.account, &owner)? {
            if let Some(doc) = self.managed_policy_document(&arn)? {
                docs.push(doc);
            }
        }
        let mut policies = Vec::with_capacity(docs.len());
        for doc in docs {
            match Policy::parse(&doc, PolicyKind::Identity) {
                Ok(p) => policies.push(Arc::new(p)),
                Err(e) => {
                    tracing::warn!("skipping a stored identity policy that no longer parses: {e}")
                }
            }
        }
        let policies: Arc<[Arc<Policy>]> = Arc::from(policies);
        self.inner
            .policies
            .write()
            .expect("policy cache lock")
            .insert(cache_key, (generation, policies.clone()));
        Ok(policies)
    }

    pub(crate) fn user_record(&self, account: &str, name: &str) -> Result<Option<User>, IamError> {
        Ok(self
            .store()
            .get(tables::USERS, &crate::model::key2(account, name))?
            .map(|b| meta::codec::decode_json(&b))
            .transpose()?)
    }

    pub(crate) fn role_record(&self, account: &str, name: &str) -> Result<Option<Role>, IamError> {
        Ok(self
            .store()
            .get(tables::ROLES, &crate::model::key2(account, name))?
            .map(|b| meta::codec::decode_json(&b))
            .transpose()?)
    }
}
