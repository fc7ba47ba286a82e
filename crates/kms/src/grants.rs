//! Grants: per-key permissions for a grantee principal, with optional encryption-context constraints,
//! effective immediately. Grant tokens are opaque strings that name their grant.

use std::sync::Arc;

use base64::Engine;

use crate::keys::{check_limit, key_record_key, require_not_pending};
use crate::model::{Grant, GrantConstraints, KeyRecord, StoredKey};
use crate::{now, tables, EncryptionContext, Kms, KmsError, Page};

/// AWS's `GrantOperation` enum.
pub const GRANT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
];

/// Operations that take no encryption context, so a grant with constraints cannot allow them.
const NO_CONTEXT_OPERATIONS: &[&str] = &[
    "Sign",
    "Verify",
    "GetPublicKey",
    "DescribeKey",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
];

/// CreateGrant's parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateGrantInput {
    pub grantee_principal: String,
    pub retiring_principal: Option<String>,
    pub operations: Vec<String>,
    pub constraints: Option<GrantConstraints>,
    pub name: Option<String>,
}

const TOKEN_VERSION: u8 = 1;

/// A grant as stored: the entry and the token issued with it (not secret: a token only names its grant), so an
/// idempotent CreateGrant can return the same token.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredGrant {
    grant: Grant,
    token: String,
}

fn principal_ok(p: &str) -> bool {
    (1..=256).contains(&p.len())
        && p.chars()
            .all(|c| c.is_alphanumeric() || "_+=,.@:/-".contains(c))
}

fn validate(input: &CreateGrantInput) -> Result<(), KmsError> {
    if !principal_ok(&input.grantee_principal) {
        return Err(KmsError::constraint(
            "granteePrincipal",
            &input.grantee_principal,
            "Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$",
        ));
    }
    if let Some(r) = &input.retiring_principal {
        if !principal_ok(r) {
            return Err(KmsError::constraint(
                "retiringPrincipal",
                r,
                "Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$",
            ));
        }
    }
    if input.operations.is_empty() {
        return Err(KmsError::Validation(
            "1 validation error detected: Value at 'operations' failed to satisfy constraint: Member must have length greater than or equal to 1".into(),
        ));
    }
    for op in &input.operations {
        if !GRANT_OPERATIONS.contains(&op.as_str()) {
            return Err(KmsError::constraint(
                "operations",
                op,
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    GRANT_OPERATIONS.join(", ")
                ),
            ));
        }
    }
    if let Some(name) = &input.name {
        let ok = (1..=256).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'/' | b'_' | b'-'));
        if !ok {
            return Err(KmsError::constraint(
                "name",
                name,
                "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
            ));
        }
    }
    if let Some(c) = &input.constraints {
        if c.encryption_context_equals.is_some() || c.encryption_context_subset.is_some() {
            if let Some(op) = input
                .operations
                .iter()
                .find(|o| NO_CONTEXT_OPERATIONS.contains(&o.as_str()))
            {
                return Err(KmsError::Validation(format!(
                    "Grant constraints are not supported for the {op} operation, which takes no encryption context."
                )));
            }
        }
    }
    Ok(())
}

/// Whether `ctx` satisfies `c`, exactly as AWS: Equals is map equality; Subset needs every constraint pair in
/// `ctx` (which may hold more). Both, if present, must hold.
pub(crate) fn constraints_hold(c: Option<&GrantConstraints>, ctx: &EncryptionContext) -> bool {
    let Some(c) = c else { return true };
    if let Some(eq) = &c.encryption_context_equals {
        if eq != ctx {
            return false;
        }
    }
    if let Some(sub) = &c.encryption_context_subset {
        if !sub.iter().all(|(k, v)| ctx.get(k) == Some(v)) {
            return false;
        }
    }
    true
}

fn grant_key(key: &StoredKey, grant_id: &str) -> Vec<u8> {
    format!("{}/{}/{}/{grant_id}", key.account, key.region, key.key_id).into_bytes()
}

fn retirable_key(principal: &str, key: &StoredKey, grant_id: &str) -> Vec<u8> {
    format!(
        "{principal}\0{}/{}/{}/{grant_id}",
        key.account, key.region, key.key_id
    )
    .into_bytes()
}

fn make_token(key_arn: &str, grant_id_raw: &[u8; 32]) -> String {
    let mut raw = Vec::with_capacity(1 + 2 + key_arn.len() + 32 + 16);
    raw.push(TOKEN_VERSION);
    raw.extend_from_slice(&(key_arn.len() as u16).to_be_bytes());
    raw.extend_from_slice(key_arn.as_bytes());
    raw.extend_from_slice(grant_id_raw);
    raw.extend_from_slice(&crypto::random_array::<16>());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// The key ARN and grant id a token names; anything else is `InvalidGrantTokenException`.
pub fn parse_grant_token(token: &str) -> Result<(String, String), KmsError> {
    let bad = || KmsError::InvalidGrantToken("Invalid grant token.".into());
    if token.is_empty() || token.len() > 8192 {
        return Err(bad());
    }
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    if raw.len() < 3 || raw[0] != TOKEN_VERSION {
        return Err(bad());
    }
    let n = usize::from(u16::from_be_bytes([raw[1], raw[2]]));
    if raw.len() != 3 + n + 32 + 16 {
        return Err(bad());
    }
    let arn = std::str::from_utf8(&raw[3..3 + n]).map_err(|_| bad())?;
    if !arn.starts_with("arn:aws:kms:") {
        return Err(bad());
    }
    Ok((arn.to_owned(), hex::encode(&raw[3 + n..3 + n + 32])))
}

fn check_grant_id(id: &str) -> Result<(), KmsError> {
    if id.len() != 64 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(KmsError::InvalidGrantId(format!("Invalid grant ID {id}")));
    }
    Ok(())
}

impl Kms {
    /// CreateGrant: returns (grant id, grant token). With a `name`, an identical request returns the existing
    /// grant; a differing one creates a new grant, as in AWS.
    pub async fn create_grant(
        &self,
        key: &KeyRecord,
        input: CreateGrantInput,
        issuing_account: &str,
    ) -> Result<(String, String), KmsError> {
        validate(&input)?;
        let raw_id: [u8; 32] = crypto::random_array();
        let grant = Grant {
            key_arn: key.arn().to_owned(),
            grant_id: hex::encode(raw_id),
            name: input.name.clone(),
            created: now(),
            grantee_principal: input.grantee_principal,
            retiring_principal: input.retiring_principal,
            issuing_account: issuing_account.to_owned(),
            operations: input.operations,
            constraints: input.constraints,
        };
        let token = make_token(key.arn(), &raw_id);
        let id = key_record_key(key.account(), key.region(), key.key_id());
        let arn = key.arn().to_owned();
        self.write(move |txn| {
            let stored: StoredKey = txn
                .get_json(tables::KEYS, &id)?
                .ok_or_else(|| KmsError::key_not_found(&arn))?;
            require_not_pending(&stored)?;
            if grant.name.is_some() {
                let prefix = format!("{}/{}/{}/", stored.account, stored.region, stored.key_id);
                for (_, v) in txn.scan(tables::GRANTS, meta::Range::prefix(prefix.as_bytes()))? {
                    let StoredGrant { grant: g, token } = meta::codec::decode_json(&v)?;
                    if g.name == grant.name
                        && g.grantee_principal == grant.grantee_principal
                        && g.retiring_principal == grant.retiring_principal
                        && g.operations == grant.operations
                        && g.constraints == grant.constraints
                    {
                        return Ok((g.grant_id, token));
                    }
                }
            }
            let record = StoredGrant { grant, token };
            txn.put_json(
                tables::GRANTS,
                grant_key(&stored, &record.grant.grant_id),
                &record,
            )?;
            let grant = &record.grant;
            if let Some(r) = &grant.retiring_principal {
                txn.put(
                    tables::RETIRABLE,
                    retirable_key(r, &stored, &grant.grant_id),
                    Vec::new(),
                );
            }
            Ok((record.grant.grant_id.clone(), record.token.clone()))
        })
        .await
    }

    /// The grants of a key snapshot (read once per snapshot).
    pub fn grants(&self, key: &KeyRecord) -> Result<Arc<[Grant]>, KmsError> {
        if let Some(g) = key.grants.get() {
            return Ok(Arc::clone(g));
        }
        let prefix = format!("{}/{}/{}/", key.account(), key.region(), key.key_id());
        let grants: Vec<Grant> = self
            .store()
            .scan(tables::GRANTS, meta::Range::prefix(prefix.as_bytes()))?
            .into_iter()
            .map(|(_, v)| meta::codec::decode_json::<StoredGrant>(&v).map(|s| s.grant))
            .collect::<Result<_, _>>()?;
        Ok(Arc::clone(key.grants.get_or_init(|| grants.into())))
    }

    /// Whether a grant on `key` lets `principal_arn` (or, for a role session, `role_arn`) perform `operation`
    /// (a `GrantOperation` name) with encryption context `ctx`. Storage errors deny.
    pub fn grant_allows(
        &self,
        key: &KeyRecord,
        principal_arn: &str,
        role_arn: Option<&str>,
        operation: &str,
        ctx: &EncryptionContext,
    ) -> bool {
        let Ok(grants) = self.grants(key) else {
            return false;
        };
        grants.iter().any(|g| {
            (g.grantee_principal == principal_arn || Some(g.grantee_principal.as_str()) == role_arn)
                && g.operations.iter().any(|o| o == operation)
                && constraints_hold(g.constraints.as_ref(), ctx)
        })
    }

    /// One grant of `key`.
    pub fn grant(&self, key: &KeyRecord, grant_id: &str) -> Result<Grant, KmsError> {
        check_grant_id(grant_id)?;
        self.store()
            .get_json::<StoredGrant>(tables::GRANTS, &grant_key(&key.key, grant_id))?
            .map(|s| s.grant)
            .ok_or_else(|| KmsError::NotFound(format!("Grant ID {grant_id} not found")))
    }

    /// The grant a token names, and the ARN of its key (RetireGrant by token). `InvalidGrantTokenException` for
    /// a malformed token, `NotFoundException` if the grant is gone.
    pub fn grant_by_token(&self, token: &str) -> Result<(String, Grant), KmsError> {
        let (arn, grant_id) = parse_grant_token(token)?;
        let key = self.resolve("", "", &arn)?;
        let grant = self.grant(&key, &grant_id)?;
        Ok((arn, grant))
    }

    /// Checks the GrantTokens of a request: at most 10, each well formed.
    pub fn check_grant_tokens(&self, tokens: &[String]) -> Result<(), KmsError> {
        if tokens.len() > 10 {
            return Err(KmsError::Validation(
                "1 validation error detected: Value at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10".into(),
            ));
        }
        for t in tokens {
            parse_grant_token(t)?;
        }
        Ok(())
    }

    /// ListGrants: grants of `key` in grant-id order, optionally only `grant_id` or those for `grantee`;
    /// `marker` is the last grant id of the previous page.
    pub fn list_grants(
        &self,
        key: &KeyRecord,
        grant_id: Option<&str>,
        grantee: Option<&str>,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<Page<Grant>, KmsError> {
        let limit = check_limit(limit)?;
        if let Some(id) = grant_id {
            check_grant_id(id)?;
        }
        let prefix = format!("{}/{}/{}/", key.account(), key.region(), key.key_id());
        let after = marker.map(|m| format!("{prefix}{m}").into_bytes());
        let mut range = meta::Range::prefix(prefix.as_bytes());
        if let Some(a) = &after {
            range = range.after(a);
        }
        let mut items = Vec::new();
        for (_, v) in self.store().scan(tables::GRANTS, range)? {
            let g = meta::codec::decode_json::<StoredGrant>(&v)?.grant;
            if grant_id.is_some_and(|id| id != g.grant_id)
                || grantee.is_some_and(|p| p != g.grantee_principal)
            {
                continue;
            }
            if items.len() == limit {
                let next_marker = items.last().map(|g: &Grant| g.grant_id.clone());
                return Ok(Page { items, next_marker });
            }
            items.push(g);
        }
        Ok(Page {
            items,
            next_marker: None,
        })
    }

    /// ListRetirableGrants: every grant naming `retiring_principal`, across keys.
    pub fn list_retirable_grants(
        &self,
        retiring_principal: &str,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<Page<Grant>, KmsError> {
        let limit = check_limit(limit)?;
        let prefix = format!("{retiring_principal}\0");
        let after = marker.map(|m| format!("{prefix}{m}").into_bytes());
        let entries = self.store().scan_prefix(
            tables::RETIRABLE,
            prefix.as_bytes(),
            after.as_deref(),
            limit + 1,
        )?;
        let more = entries.len() > limit;
        let mut items = Vec::new();
        let mut last = None;
        for (k, _) in entries.into_iter().take(limit) {
            let suffix = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            if let Some(g) = self
                .store()
                .get_json::<StoredGrant>(tables::GRANTS, suffix.as_bytes())?
            {
                items.push(g.grant);
            }
            last = Some(suffix);
        }
        Ok(Page {
            items,
            next_marker: if more { last } else { None },
        })
    }

    /// Removes a grant (RetireGrant / RevokeGrant do the same to the data; who may call them is kms-api's check).
    async fn remove_grant(&self, key: &KeyRecord, grant_id: &str) -> Result<Grant, KmsError> {
        check_grant_id(grant_id)?;
        let gk = grant_key(&key.key, grant_id);
        let stored = key.key.clone();
        let grant_id = grant_id.to_owned();
        self.write(move |txn| {
            let g = txn
                .get_json::<StoredGrant>(tables::GRANTS, &gk)?
                .ok_or_else(|| KmsError::NotFound(format!("Grant ID {grant_id} not found")))?
                .grant;
            txn.delete(tables::GRANTS, gk);
            if let Some(r) = &g.retiring_principal {
                txn.delete(tables::RETIRABLE, retirable_key(r, &stored, &grant_id));
            }
            Ok(g)
        })
        .await
    }

    /// RetireGrant (by key and grant id; use [`Kms::grant_by_token`] first for a token). Returns the grant.
    pub async fn retire_grant(&self, key: &KeyRecord, grant_id: &str) -> Result<Grant, KmsError> {
        self.remove_grant(key, grant_id).await
    }

    /// RevokeGrant.
    pub async fn revoke_grant(&self, key: &KeyRecord, grant_id: &str) -> Result<(), KmsError> {
        self.remove_grant(key, grant_id).await.map(|_| ())
    }
}

/// Deletes every grant of a destroyed key (and its retirable index entries) inside `txn`.
pub(crate) fn delete_key_grants(txn: &mut meta::Txn<'_>, key: &StoredKey) -> Result<(), KmsError> {
    let prefix = format!("{}/{}/{}/", key.account, key.region, key.key_id);
    for (k, v) in txn.scan(tables::GRANTS, meta::Range::prefix(prefix.as_bytes()))? {
        let g = meta::codec::decode_json::<StoredGrant>(&v)?.grant;
        if let Some(r) = &g.retiring_principal {
            txn.delete(tables::RETIRABLE, retirable_key(r, key, &g.grant_id));
        }
        txn.delete(tables::GRANTS, k);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn constraint_semantics_match_aws() {
        let eq = GrantConstraints {
            encryption_context_equals: Some(ctx(&[("a", "1")])),
            encryption_context_subset: None,
        };
        assert!(constraints_hold(Some(&eq), &ctx(&[("a", "1")])));
        assert!(!constraints_hold(
            Some(&eq),
            &ctx(&[("a", "1"), ("b", "2")])
        ));
        assert!(!constraints_hold(Some(&eq), &ctx(&[])));
        assert!(!constraints_hold(Some(&eq), &ctx(&[("A", "1")])));
        let sub = GrantConstraints {
            encryption_context_equals: None,
            encryption_context_subset: Some(ctx(&[("a", "1")])),
        };
        assert!(constraints_hold(
            Some(&sub),
            &ctx(&[("a", "1"), ("b", "2")])
        ));
        assert!(!constraints_hold(Some(&sub), &ctx(&[("a", "2")])));
        assert!(!constraints_hold(Some(&sub), &ctx(&[])));
        assert!(constraints_hold(None, &ctx(&[])));
    }

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let t = make_token(arn, &[5; 32]);
        assert_eq!(
            parse_grant_token(&t).unwrap(),
            (arn.to_owned(), hex::encode([5; 32]))
        );
        for bad in ["", "!!!", "AAAA", &t[..t.len() - 2]] {
            assert_eq!(
                parse_grant_token(bad).unwrap_err().code(),
                "InvalidGrantTokenException"
            );
        }
    }

    #[test]
    fn grant_input_validation() {
        let ok = CreateGrantInput {
            grantee_principal: "arn:aws:iam::111122223333:role/app".into(),
            operations: vec!["Decrypt".into()],
            ..Default::default()
        };
        assert!(validate(&ok).is_ok());
        let mut bad = ok.clone();
        bad.operations = vec!["Fly".into()];
        assert_eq!(validate(&bad).unwrap_err().code(), "ValidationException");
        bad.operations = vec![];
        assert_eq!(validate(&bad).unwrap_err().code(), "ValidationException");
        let mut bad = ok.clone();
        bad.operations = vec!["DescribeKey".into()];
        bad.constraints = Some(GrantConstraints {
            encryption_context_subset: Some(ctx(&[("a", "1")])),
            encryption_context_equals: None,
        });
        assert_eq!(validate(&bad).unwrap_err().code(), "ValidationException");
        let mut bad = ok;
        bad.name = Some("bad name".into());
        assert_eq!(validate(&bad).unwrap_err().code(), "ValidationException");
        assert_eq!(
            check_grant_id("xyz").unwrap_err().code(),
            "InvalidGrantIdException"
        );
    }
}
