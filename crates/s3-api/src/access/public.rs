//! "Is this policy public?" — S3's rules, used by Block Public Access (BlockPublicPolicy refuses a public
//! policy, RestrictPublicBuckets ignores public statements for anonymous and cross-account callers) and by
//! GetBucketPolicyStatus.
//!
//! A statement is public when it allows something to everyone (`"Principal": "*"`, `{"AWS": "*"}` or a
//! `NotPrincipal`) and no condition pins the request to fixed values of a key that identifies who or what is
//! calling: `aws:SourceArn`, `aws:SourceAccount`, `aws:SourceOwner`, `aws:SourceVpc`, `aws:SourceVpce`,
//! `aws:PrincipalAccount`, `aws:PrincipalArn`, `aws:PrincipalOrgID`, `aws:userid` (outside `AROLEID:*`),
//! `s3:x-amz-server-side-encryption-aws-kms-key-id`, or a set of CIDRs in `aws:SourceIp` that is not overly
//! broad. "Fixed" means no wildcard and no policy variable, through a positive (not negated, not `IfExists`,
//! not `ForAllValues`) operator. Deny statements are never public.

use policy::{Effect, Policy, PolicyKind, Statement};

/// The keys whose fixed values make a `*` grant non-public.
const FIXING_KEYS: [&str; 10] = [
    "aws:sourcearn",
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:userid",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
];

/// The broadest CIDRs that still count as "a set of CIDRs" rather than everyone. AWS does not publish its
/// threshold; anything broader than a /8 (IPv4) or /32 (IPv6) is treated as public here.
const MIN_V4_PREFIX: u8 = 8;
const MIN_V6_PREFIX: u8 = 32;

/// Whether `statement` grants public access.
pub fn is_public_statement(statement: &Statement) -> bool {
    if statement.effect() != Effect::Allow {
        return false;
    }
    let everyone = statement.is_not_principal()
        || statement
            .principals()
            .is_some_and(|ps| ps.iter().any(|p| p.is_wildcard()));
    if !everyone {
        return false;
    }
    !statement.conditions().iter().any(fixes_caller)
}

/// Whether any statement of `policy` grants public access.
pub fn is_public_policy(policy: &Policy) -> bool {
    policy.statements().iter().any(is_public_statement)
}

fn fixes_caller(c: &policy::Condition) -> bool {
    if c.is_negated()
        || c.if_exists()
        || c.is_null_check()
        || matches!(c.set_operator(), Some(policy::SetOperator::ForAllValues))
        || c.values().is_empty()
    {
        return false;
    }
    let key = c.key().to_ascii_lowercase();
    let op = c
        .operator()
        .trim_start_matches("ForAnyValue:")
        .to_ascii_lowercase();
    let fixed = |v: &String| !v.contains(['*', '?']) && !v.contains("${");
    if key == "aws:sourceip" {
        return op == "ipaddress" && c.values().iter().all(|v| narrow_cidr(v));
    }
    if !FIXING_KEYS.contains(&key.as_str()) {
        return false;
    }
    let positive = matches!(
        op.as_str(),
        "stringequals" | "stringequalsignorecase" | "stringlike" | "arnequals" | "arnlike"
    );
    positive && c.values().iter().all(fixed)
}

fn narrow_cidr(v: &str) -> bool {
    let (addr, len) = match v.split_once('/') {
        Some((a, l)) => (a, l.parse::<u8>().ok()),
        None => (v, None),
    };
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => len.unwrap_or(32) >= MIN_V4_PREFIX,
        Ok(std::net::IpAddr::V6(_)) => len.unwrap_or(128) >= MIN_V6_PREFIX,
        Err(_) => false,
    }
}

/// The bucket policy without its public statements, as RestrictPublicBuckets evaluates it for anonymous and
/// cross-account callers; `None` when nothing is left.
pub(crate) fn without_public_statements(raw: &str, compiled: &Policy) -> Option<Policy> {
    let mut doc: serde_json::Value = serde_json::from_str(raw).ok()?;
    let statements = match doc.get_mut("Statement")? {
        serde_json::Value::Array(list) => std::mem::take(list),
        other => vec![other.take()],
    };
    if statements.len() != compiled.statements().len() {
        // The compiled policy and the text disagree: keep nothing rather than guess.
        return None;
    }
    let kept: Vec<serde_json::Value> = statements
        .into_iter()
        .zip(compiled.statements())
        .filter(|(_, s)| !is_public_statement(s))
        .map(|(v, _)| v)
        .collect();
    if kept.is_empty() {
        return None;
    }
    doc["Statement"] = serde_json::Value::Array(kept);
    Policy::parse(&doc.to_string(), PolicyKind::Resource).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(statement: &str) -> bool {
        let doc = format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#);
        is_public_policy(&Policy::parse(&doc, PolicyKind::Resource).unwrap())
    }

    #[test]
    fn wildcard_principals_without_fixing_conditions_are_public() {
        let cases = [
            (
                r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
                true,
            ),
            (
                r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
                true,
            ),
            (
                r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}"#,
                false,
            ),
            (
                r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}"#,
                false,
            ),
            (
                r#"{"Effect":"Allow","Principal":{"Service":"cloudfront.amazonaws.com"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
                false,
            ),
            (
                r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"aws:SourceArn":"arn:aws:cloudfront::111122223333:distribution/E1"}}}"#,
                false,
            ),
            (
                r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringLike":{"aws:SourceArn":"arn:aws:cloudfront::*"}}}"#,
                true,
            ),
            (
                r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringNotEquals":{"aws:SourceAccount":"111122223333"}}}"#,
                true,
            ),
            (
                r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abc"}}}"#,
                false,
            ),
            (
                r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}}"#,
                false,
            ),
            (
                r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"0.0.0.0/1"}}}"#,
                true,
            ),
            (
                r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}"#,
                true,
            ),
            (
                r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"aws:userid":"${aws:userid}"}}}"#,
                true,
            ),
            (
                r#"{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
                true,
            ),
        ];
        for (statement, expected) in cases {
            assert_eq!(public(statement), expected, "{statement}");
        }
    }

    #[test]
    fn restricting_drops_only_public_statements() {
        let raw = r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"pub","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
            {"Sid":"cf","Effect":"Allow","Principal":{"Service":"cloudfront.amazonaws.com"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
        let p = Policy::parse(raw, PolicyKind::Resource).unwrap();
        let kept = without_public_statements(raw, &p).unwrap();
        assert_eq!(kept.statements().len(), 1);
        assert_eq!(kept.statements()[0].sid(), Some("cf"));
        let only_public = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#;
        let p = Policy::parse(only_public, PolicyKind::Resource).unwrap();
        assert!(without_public_statements(only_public, &p).is_none());
    }
}
