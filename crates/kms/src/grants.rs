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
    "Encapsulate",
    "Decapsulate",
];

/// The grant operations that apply to a `SYMMETRIC_DEFAULT` / `ENCRYPT_DECRYPT` key, the only kind coffer makes.
/// A grant for any other (Sign, GenerateMac…) is refused, as AWS refuses it, rather than stored unusable.
const SYMMETRIC_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
];

/// Operations an encryption-context constraint does not apply to (AWS: "the constraint doesn't apply to these
/// operations"). CreateGrant is not among them: a constraint binds the grants it creates instead.
const UNCONSTRAINED_OPERATIONS: &[&str] = &["DescribeKey", "RetireGrant"];

/// AWS's quota of grants on one KMS key. A key's grants are read on every use of the key, so they are bounded.
pub const MAX_GRANTS_PER_KEY: usize = 50_000;

/// AWS's limits on an encryption-context constraint: pairs per constraint, characters per value.
const MAX_CONSTRAINT_PAIRS: usize = 8;
const MAX_CONSTRAINT_VALUE: usize = 384;

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

/// The account of an AWS principal as a grant names it — an account id, or the ARN of an account root, IAM
/// user or role, assumed-role session or federated user — or `None` for anything else (a service principal
/// such as `cloudfront.amazonaws.com`, which acts for resources of every account).
pub fn principal_account(principal: &str) -> Option<&str> {
    let is_account = |a: &str| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit());
    if is_account(principal) {
        return Some(principal);
    }
    let mut parts = principal.splitn(6, ':');
    let (arn, partition, service, region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let ok = arn == "arn"
        && partition == "aws"
        && matches!(service, "iam" | "sts")
        && region.is_empty()
        && is_account(account)
        && !resource.is_empty();
    ok.then_some(account)
}

fn check_principal(member: &str, p: &str) -> Result<(), KmsError> {
    if !principal_ok(p) {
        return Err(KmsError::constraint(
            member,
            p,
            "Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$",
        ));
    }
    // A service principal acts on behalf of resources in every account: a grant naming one here would let any
    // account's resource (any distribution, any bucket) use the key. AWS takes those only in
    // GranteeServicePrincipal with a SourceArn constraint, which coffer does not offer.
    if principal_account(p).is_none() {
        return Err(KmsError::Validation(format!(
            "{member} {p} is not the ARN of an AWS principal (an account, IAM user, IAM role, assumed-role session \
             or federated user) or an account id."
        )));
    }
    Ok(())
}

fn check_constraint(member: &str, c: Option<&EncryptionContext>) -> Result<(), KmsError> {
    let Some(c) = c else { return Ok(()) };
    if c.len() > MAX_CONSTRAINT_PAIRS {
        return Err(KmsError::Validation(format!(
            "{member} can include at most {MAX_CONSTRAINT_PAIRS} encryption context pairs."
        )));
    }
    if c.values().any(|v| v.chars().count() > MAX_CONSTRAINT_VALUE) {
        return Err(KmsError::Validation(format!(
            "An encryption context value in {member} exceeds {MAX_CONSTRAINT_VALUE} characters."
        )));
    }
    Ok(())
}

fn validate(input: &CreateGrantInput) -> Result<(), KmsError> {
    check_principal("granteePrincipal", &input.grantee_principal)?;
    if let Some(r) = &input.retiring_principal {
        check_principal("retiringPrincipal", r)?;
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
    if let Some(op) = input
        .operations
        .iter()
        .find(|o| !SYMMETRIC_OPERATIONS.contains(&o.as_str()))
    {
        return Err(KmsError::Validation(format!(
            "The grant operation {op} is not supported on a KMS key with key spec SYMMETRIC_DEFAULT and key usage \
             ENCRYPT_DECRYPT."
        )));
    }
    if let Some(c) = &input.constraints {
        check_constraint(
            "EncryptionContextEquals",
            c.encryption_context_equals.as_ref(),
        )?;
        check_constraint(
            "EncryptionContextSubset",
            c.encryption_context_subset.as_ref(),
        )?;
    }
    Ok(())
}

fn has_constraint(c: Option<&GrantConstraints>) -> Option<&GrantConstraints> {
    c.filter(|c| c.encryption_context_equals.is_some() || c.encryption_context_subset.is_some())
}

/// Whether every encryption context `child` admits, `parent` admits too: the child is equally strict or
/// stricter. Conservative where exactness would need more cases: a child whose own constraints contradict each
/// other (and so admit nothing) is still judged by its Equals map alone.
pub(crate) fn constraints_imply(
    child: Option<&GrantConstraints>,
    parent: Option<&GrantConstraints>,
) -> bool {
    let Some(parent) = has_constraint(parent) else {
        return true;
    };
    let Some(child) = has_constraint(child) else {
        return false;
    };
    if let Some(eq) = &child.encryption_context_equals {
        // The child admits this one context at most.
        return constraints_hold(Some(parent), eq);
    }
    let Some(sub) = &child.encryption_context_subset else {
        return false;
    };
    // A Subset child admits `sub` plus any extra pairs: never within a parent's Equals, and within a parent's
    // Subset exactly when every pair the parent requires is one the child requires too.
    parent.encryption_context_equals.is_none()
        && parent
            .encryption_context_subset
            .as_ref()
            .is_none_or(|p| p.iter().all(|(k, v)| sub.get(k) == Some(v)))
}

/// Whether `grant` lets its grantee create the grant `new` (CreateGrant through a grant): it must include
/// CreateGrant and every operation of `new`, and `new`'s constraints must imply its own.
pub fn grant_admits(grant: &Grant, new: &CreateGrantInput) -> bool {
    let has = |op: &str| grant.operations.iter().any(|o| o == op);
    has("CreateGrant")
        && new.operations.iter().all(|o| has(o))
        && constraints_imply(new.constraints.as_ref(), grant.constraints.as_ref())
}

/// Whether `grant` allows `operation` with encryption context `ctx`. CreateGrant and RetireGrant are never
/// allowed this way: the first is decided by [`grant_admits`] (what the new grant would allow), the second by
/// the grant being retired.
pub fn grant_permits(grant: &Grant, operation: &str, ctx: &EncryptionContext) -> bool {
    if matches!(operation, "CreateGrant" | "RetireGrant") {
        return false;
    }
    grant.operations.iter().any(|o| o == operation)
        && (UNCONSTRAINED_OPERATIONS.contains(&operation)
            || constraints_hold(grant.constraints.as_ref(), ctx))
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

fn names_grantee(g: &Grant, principal_arn: &str, role_arn: Option<&str>) -> bool {
    !principal_arn.is_empty()
        && (g.grantee_principal == principal_arn || Some(g.grantee_principal.as_str()) == role_arn)
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
            let prefix = format!("{}/{}/{}/", stored.account, stored.region, stored.key_id);
            let existing = txn.scan(tables::GRANTS, meta::Range::prefix(prefix.as_bytes()))?;
            if grant.name.is_some() {
                for (_, v) in &existing {
                    let StoredGrant { grant: g, token } = meta::codec::decode_json(v)?;
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
            if existing.len() >= MAX_GRANTS_PER_KEY {
                return Err(KmsError::LimitExceeded(format!(
                    "The key {arn} already has {MAX_GRANTS_PER_KEY} grants, the most a key may have."
                )));
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
    /// (a `GrantOperation` name other than CreateGrant and RetireGrant, see [`grant_permits`]) with encryption
    /// context `ctx`. Storage errors deny.
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
        grants
            .iter()
            .any(|g| names_grantee(g, principal_arn, role_arn) && grant_permits(g, operation, ctx))
    }

    /// Whether a grant on `key` lets `principal_arn` (or its `role_arn`) create the grant `new`: one grant of
    /// the caller must include CreateGrant and all of `new`'s operations, with constraints `new` keeps. Storage
    /// errors deny.
    pub fn grant_allows_create_grant(
        &self,
        key: &KeyRecord,
        principal_arn: &str,
        role_arn: Option<&str>,
        new: &CreateGrantInput,
    ) -> bool {
        let Ok(grants) = self.grants(key) else {
            return false;
        };
        grants
            .iter()
            .any(|g| names_grantee(g, principal_arn, role_arn) && grant_admits(g, new))
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

    fn constraints(sub: Option<&[(&str, &str)]>, eq: Option<&[(&str, &str)]>) -> GrantConstraints {
        GrantConstraints {
            encryption_context_subset: sub.map(ctx),
            encryption_context_equals: eq.map(ctx),
        }
    }

    #[test]
    fn a_delegated_grant_must_be_equally_strict_or_stricter() {
        let it: &[(&str, &str)] = &[("dept", "IT")];
        let it_team: &[(&str, &str)] = &[("dept", "IT"), ("team", "a")];
        let hr: &[(&str, &str)] = &[("dept", "HR")];
        let imply = |child: Option<GrantConstraints>, parent: Option<GrantConstraints>| {
            constraints_imply(child.as_ref(), parent.as_ref())
        };
        // No parent constraint: anything goes.
        assert!(imply(None, None));
        assert!(imply(Some(constraints(Some(hr), None)), None));
        assert!(imply(None, Some(constraints(None, None))));
        // A parent Subset: the child must require every pair the parent does.
        let parent = || Some(constraints(Some(it), None));
        assert!(!imply(None, parent()));
        assert!(!imply(Some(constraints(None, None)), parent()));
        assert!(!imply(Some(constraints(Some(hr), None)), parent()));
        assert!(!imply(
            Some(constraints(Some(&[("team", "a")]), None)),
            parent()
        ));
        assert!(imply(Some(constraints(Some(it), None)), parent()));
        assert!(imply(Some(constraints(Some(it_team), None)), parent()));
        assert!(imply(Some(constraints(None, Some(it_team))), parent()));
        assert!(!imply(Some(constraints(None, Some(hr))), parent()));
        // A parent Equals: only the very same Equals.
        let parent = || Some(constraints(None, Some(it)));
        assert!(!imply(None, parent()));
        assert!(!imply(Some(constraints(Some(it), None)), parent()));
        assert!(!imply(Some(constraints(Some(it_team), None)), parent()));
        assert!(!imply(Some(constraints(None, Some(it_team))), parent()));
        assert!(imply(Some(constraints(None, Some(it))), parent()));
        assert!(imply(Some(constraints(Some(it), Some(it))), parent()));
    }

    fn grant(ops: &[&str], c: Option<GrantConstraints>) -> Grant {
        Grant {
            key_arn: "arn:aws:kms:us-east-1:111122223333:key/k".into(),
            grant_id: "0".repeat(64),
            name: None,
            created: time::OffsetDateTime::UNIX_EPOCH,
            grantee_principal: "arn:aws:iam::111122223333:user/u".into(),
            retiring_principal: None,
            issuing_account: "111122223333".into(),
            operations: ops.iter().map(|o| (*o).to_owned()).collect(),
            constraints: c,
        }
    }

    #[test]
    fn create_grant_through_a_grant_never_widens_it() {
        let new = |ops: &[&str], c: Option<GrantConstraints>| CreateGrantInput {
            grantee_principal: "arn:aws:iam::111122223333:user/v".into(),
            operations: ops.iter().map(|o| (*o).to_owned()).collect(),
            constraints: c,
            ..Default::default()
        };
        let only_create = grant(&["CreateGrant"], None);
        assert!(grant_admits(&only_create, &new(&["CreateGrant"], None)));
        assert!(!grant_admits(&only_create, &new(&["Decrypt"], None)));
        assert!(!grant_admits(
            &only_create,
            &new(&["Decrypt", "Encrypt"], None)
        ));
        assert!(!grant_admits(&only_create, &new(&["RetireGrant"], None)));
        let no_create = grant(&["Decrypt", "Encrypt"], None);
        assert!(!grant_admits(&no_create, &new(&["Decrypt"], None)));
        let it = || Some(constraints(Some(&[("dept", "IT")]), None));
        let parent = grant(&["CreateGrant", "Decrypt"], it());
        assert!(grant_admits(&parent, &new(&["Decrypt"], it())));
        assert!(!grant_admits(&parent, &new(&["Decrypt"], None)));
        // The CreateGrant operation itself never counts as a grant operation with a context.
        assert!(!grant_permits(
            &parent,
            "CreateGrant",
            &ctx(&[("dept", "IT")])
        ));
        assert!(!grant_permits(
            &grant(&["RetireGrant"], None),
            "RetireGrant",
            &ctx(&[])
        ));
        // Constraints bind cryptographic operations, not DescribeKey.
        let described = grant(&["Decrypt", "DescribeKey"], it());
        assert!(grant_permits(&described, "DescribeKey", &ctx(&[])));
        assert!(!grant_permits(&described, "Decrypt", &ctx(&[])));
        assert!(grant_permits(
            &described,
            "Decrypt",
            &ctx(&[("dept", "IT")])
        ));
    }

    #[test]
    fn principal_accounts() {
        assert_eq!(principal_account("111122223333"), Some("111122223333"));
        assert_eq!(
            principal_account("arn:aws:iam::111122223333:user/a/b"),
            Some("111122223333")
        );
        assert_eq!(
            principal_account("arn:aws:sts::111122223333:federated-user/f"),
            Some("111122223333")
        );
        assert_eq!(principal_account("cloudfront.amazonaws.com"), None);
        assert_eq!(
            principal_account("arn:aws:iam:us-east-1:111122223333:user/a"),
            None
        );
        assert_eq!(principal_account("arn:aws:s3:::111122223333"), None);
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
        // Constraints may accompany DescribeKey and RetireGrant (they do not apply to them).
        let mut described = ok.clone();
        described.operations = vec!["DescribeKey".into(), "RetireGrant".into()];
        described.constraints = Some(GrantConstraints {
            encryption_context_subset: Some(ctx(&[("a", "1")])),
            encryption_context_equals: None,
        });
        assert!(validate(&described).is_ok());
        // Operations of asymmetric and HMAC keys do not apply to the keys coffer makes.
        for op in [
            "Sign",
            "Verify",
            "GetPublicKey",
            "GenerateMac",
            "Encapsulate",
        ] {
            let mut bad = ok.clone();
            bad.operations = vec!["Decrypt".into(), op.into()];
            let e = validate(&bad).unwrap_err();
            assert_eq!(e.code(), "ValidationException");
            assert!(e.to_string().contains(op), "{e}");
        }
        // Grantees and retiring principals are AWS principals, never service principals.
        for p in [
            "cloudfront.amazonaws.com",
            "s3.amazonaws.com",
            "arn:aws:kms:us-east-1:111122223333:key/x",
            "arn:aws:iam::1111:root",
            "arn:aws:iam::111122223333:",
            "11112222333",
        ] {
            let mut bad = ok.clone();
            bad.grantee_principal = p.into();
            assert_eq!(
                validate(&bad).unwrap_err().code(),
                "ValidationException",
                "{p}"
            );
            let mut bad = ok.clone();
            bad.retiring_principal = Some(p.into());
            assert_eq!(
                validate(&bad).unwrap_err().code(),
                "ValidationException",
                "{p}"
            );
        }
        for p in [
            "111122223333",
            "arn:aws:iam::111122223333:root",
            "arn:aws:sts::111122223333:assumed-role/r/s",
        ] {
            let mut good = ok.clone();
            good.grantee_principal = p.into();
            assert!(validate(&good).is_ok(), "{p}");
        }
        let mut bad = ok.clone();
        bad.constraints = Some(GrantConstraints {
            encryption_context_subset: Some(
                (0..9).map(|i| (format!("k{i}"), "v".to_owned())).collect(),
            ),
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
