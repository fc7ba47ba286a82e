//! STS sessions: temporary credentials issued by AssumeRole.
//!
//! Whether the caller may assume the role (the trust policy and the caller's own permissions) is decided by the
//! dispatcher before [`Iam::assume_role`] runs; this module only checks the request's own limits and issues the
//! session.

use base64::Engine;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::accounts::new_secret;
use crate::caller::{Caller, CallerKind};
use crate::model::{Role, Session};
use crate::{now, tables, Iam, IamError};
use ids::{IamName, IamNameKind};

/// STS's limit on the packed size of session policies.
const SESSION_POLICY_LIMIT: usize = 2048;

#[derive(Debug, Clone)]
pub struct AssumeRoleInput {
    pub role: Role,
    pub session_name: String,
    pub duration_seconds: Option<u32>,
    pub policy: Option<String>,
    pub policy_arns: Vec<String>,
}

/// A new session and the secrets that are revealed only now.
pub struct IssuedSession {
    pub session: Session,
    pub secret_access_key: Zeroizing<String>,
    pub session_token: Zeroizing<String>,
}

impl Iam {
    pub async fn assume_role(
        &self,
        caller: &Caller,
        input: AssumeRoleInput,
    ) -> Result<IssuedSession, IamError> {
        let session_name = IamName::parse(&input.session_name, IamNameKind::RoleSessionName)?;
        let duration = input.duration_seconds.unwrap_or(3600);
        if duration < 900 {
            return Err(IamError::ValidationError(format!(
                "1 validation error detected: Value '{duration}' at 'durationSeconds' failed to satisfy constraint: \
                 Member must have value greater than or equal to 900"
            )));
        }
        // Role chaining (a role session assuming a role) is limited to one hour, as in AWS.
        let chained = matches!(caller.kind, CallerKind::AssumedRole { .. });
        if duration > input.role.max_session_duration || (chained && duration > 3600) {
            return Err(IamError::ValidationError(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                    .into(),
            ));
        }
        let mut packed = String::new();
        if let Some(doc) = &input.policy {
            crate::managed::validate_identity_policy(doc)?;
            packed.push_str(doc);
        }
        for arn in &input.policy_arns {
            self.managed_policy(arn)?;
            packed.push_str(arn);
        }
        if crate::managed::policy_size(&packed) > SESSION_POLICY_LIMIT {
            return Err(IamError::PackedPolicyTooLarge(
                "Packed policy consumes more than 100% of the allotted space. Please reduce the size of the \
                 session policy."
                    .into(),
            ));
        }
        let access_key_id = ids::AccessKeyId::generate(true, &crate::random16()).to_string();
        let secret = new_secret();
        let token_bytes: [u8; 96] = crypto::random_array();
        let session_token =
            Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(token_bytes));
        let created = now();
        let session = Session {
            access_key_id: access_key_id.clone(),
            account: input.role.account.clone(),
            role_name: input.role.name.clone(),
            role_id: input.role.role_id.clone(),
            role_arn: input.role.arn.clone(),
            session_name: session_name.to_string(),
            sealed_secret: self.seal_secret(&access_key_id, &secret)?,
            token_sha256: hex::encode(crypto::sha256(session_token.as_bytes())),
            session_policy: merge_session_policies(self, &input)?,
            session_policy_arns: input.policy_arns.clone(),
            created,
            expiration: created + Duration::seconds(i64::from(duration)),
            source_identity: caller.access_key_id.clone(),
        };
        let record = session.clone();
        self.write(move |txn| {
            txn.put(
                tables::SESSIONS,
                record.access_key_id.as_bytes().to_vec(),
                meta::codec::encode_json(&record)?,
            );
            Ok(())
        })
        .await?;
        Ok(IssuedSession {
            session,
            secret_access_key: secret,
            session_token,
        })
    }

    /// Removes sessions that expired before `now`; returns how many were removed.
    pub async fn purge_expired_sessions(&self, now: OffsetDateTime) -> Result<usize, IamError> {
        let mut expired = Vec::new();
        for (k, v) in self.store().scan(tables::SESSIONS, meta::Range::all())? {
            let s: Session = meta::codec::decode_json(&v)?;
            if s.expiration < now {
                expired.push(k);
            }
        }
        let n = expired.len();
        if n > 0 {
            self.write(move |txn| {
                for k in expired {
                    txn.delete(tables::SESSIONS, k);
                }
                Ok(())
            })
            .await?;
        }
        Ok(n)
    }
}

/// Session policies given inline and by ARN combine into one document: AWS evaluates their intersection with the
/// role's policies, and a single combined document (statements from every source) evaluates the same way.
fn merge_session_policies(iam: &Iam, input: &AssumeRoleInput) -> Result<Option<String>, IamError> {
    if input.policy.is_none() && input.policy_arns.is_empty() {
        return Ok(None);
    }
    let mut statements: Vec<serde_json::Value> = Vec::new();
    let mut docs: Vec<String> = input.policy.iter().cloned().collect();
    for arn in &input.policy_arns {
        docs.push(iam.managed_policy(arn)?.default_document().to_owned());
    }
    for doc in docs {
        let v: serde_json::Value = serde_json::from_str(&doc)
            .map_err(|_| IamError::MalformedPolicyDocument("Syntax errors in policy.".into()))?;
        match v.get("Statement") {
            Some(serde_json::Value::Array(a)) => statements.extend(a.iter().cloned()),
            Some(s) => statements.push(s.clone()),
            None => {}
        }
    }
    // Sids may repeat across sources; they carry no meaning in evaluation, so drop them.
    for s in &mut statements {
        if let Some(o) = s.as_object_mut() {
            o.remove("Sid");
        }
    }
    Ok(Some(
        serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string(),
    ))
}
