//! S3 POST policies: the signed document of a browser form upload (POST Object), its signature (SigV4 and
//! SigV2) and the check that every form field is one the policy allows.
//!
//! Pure and deterministic: the caller passes the form's fields (everything before the file) and `now`.
//! The rules are AWS's: the policy must not have expired; every form field except `policy`, the signature
//! fields, `file` and `x-ignore-*` must be named by a condition; every condition must hold (`{"name":
//! "value"}` and `["eq", "$name", "value"]` exactly, `["starts-with", "$name", "prefix"]`); the
//! `content-length-range` bounds the file, which the caller enforces while streaming it.

use aws_lc_rs::{constant_time, hmac};
use base64::Engine;
use time::OffsetDateTime;

/// Why a form was refused. `Display` is the message S3 puts in the error body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostPolicyError {
    /// The policy is not base64, not JSON, or not shaped as a policy (S3: `InvalidPolicyDocument`).
    #[error("Invalid Policy: {0}")]
    Malformed(String),
    /// Past its `expiration` (S3: `AccessDenied`).
    #[error("Invalid according to Policy: Policy expired.")]
    Expired,
    /// A condition does not hold (S3: `AccessDenied`).
    #[error("Invalid according to Policy: Policy Condition failed: {0}")]
    ConditionFailed(String),
    /// A form field no condition names (S3: `AccessDenied`).
    #[error("Invalid according to Policy: Extra input fields: {0}")]
    ExtraField(String),
}

impl PostPolicyError {
    /// The S3 error code.
    pub fn code(&self) -> &'static str {
        match self {
            PostPolicyError::Malformed(_) => "InvalidPolicyDocument",
            _ => "AccessDenied",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Condition {
    Eq(String, String),
    StartsWith(String, String),
    ContentLength(u64, u64),
}

/// A parsed POST policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostPolicy {
    pub expiration: OffsetDateTime,
    conditions: Vec<Condition>,
}

/// The longest policy document accepted, decoded.
pub const MAX_POLICY_BYTES: usize = 20 * 1024;

/// Fields that no condition needs to name.
fn exempt(name: &str) -> bool {
    matches!(
        name,
        "policy" | "x-amz-signature" | "signature" | "awsaccesskeyid" | "file"
    ) || name.starts_with("x-ignore-")
}

fn malformed(m: impl Into<String>) -> PostPolicyError {
    PostPolicyError::Malformed(m.into())
}

/// The name a condition refers to: `$key` → `key`, lowercased (form field names are not case-sensitive).
fn field_name(raw: &str) -> Result<String, PostPolicyError> {
    let name = raw
        .strip_prefix('$')
        .ok_or_else(|| malformed(format!("condition names must start with '$': {raw}")))?;
    if name.is_empty() {
        return Err(malformed("empty condition name"));
    }
    Ok(name.to_ascii_lowercase())
}

fn length(v: &serde_json::Value) -> Result<u64, PostPolicyError> {
    match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| malformed("content-length-range bounds must be non-negative integers"))
}

impl PostPolicy {
    /// Decodes and parses the base64 `policy` field.
    pub fn parse(policy_b64: &str) -> Result<PostPolicy, PostPolicyError> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(policy_b64.trim())
            .map_err(|_| malformed("the policy is not base64"))?;
        if raw.len() > MAX_POLICY_BYTES {
            return Err(malformed("the policy is too large"));
        }
        let doc: serde_json::Value =
            serde_json::from_slice(&raw).map_err(|e| malformed(format!("not JSON: {e}")))?;
        let obj = doc
            .as_object()
            .ok_or_else(|| malformed("the policy must be a JSON object"))?;
        for key in obj.keys() {
            if key != "expiration" && key != "conditions" {
                return Err(malformed(format!("unexpected policy element {key}")));
            }
        }
        let expiration = obj
            .get("expiration")
            .and_then(|e| e.as_str())
            .ok_or_else(|| malformed("the policy has no expiration"))?;
        let expiration =
            OffsetDateTime::parse(expiration, &time::format_description::well_known::Rfc3339)
                .map_err(|_| malformed("the expiration is not an ISO 8601 date"))?;
        let list = obj
            .get("conditions")
            .and_then(|c| c.as_array())
            .ok_or_else(|| malformed("the policy has no conditions list"))?;
        let mut conditions = Vec::with_capacity(list.len());
        for c in list {
            match c {
                serde_json::Value::Object(map) => {
                    if map.is_empty() {
                        return Err(malformed("an empty condition"));
                    }
                    for (k, v) in map {
                        let v = v.as_str().ok_or_else(|| {
                            malformed(format!("the value of {k} must be a string"))
                        })?;
                        conditions.push(Condition::Eq(k.to_ascii_lowercase(), v.to_owned()));
                    }
                }
                serde_json::Value::Array(items) => {
                    let op = items
                        .first()
                        .and_then(|o| o.as_str())
                        .map(str::to_ascii_lowercase)
                        .ok_or_else(|| malformed("a condition must start with its operator"))?;
                    match (op.as_str(), items.len()) {
                        ("content-length-range", 3) => {
                            let (min, max) = (length(&items[1])?, length(&items[2])?);
                            if min > max {
                                return Err(malformed(
                                    "content-length-range minimum exceeds its maximum",
                                ));
                            }
                            conditions.push(Condition::ContentLength(min, max));
                        }
                        ("eq" | "starts-with", 3) => {
                            let name = items[1]
                                .as_str()
                                .ok_or_else(|| malformed("a condition's field must be a string"))
                                .and_then(field_name)?;
                            let value = items[2]
                                .as_str()
                                .ok_or_else(|| malformed("a condition's value must be a string"))?
                                .to_owned();
                            conditions.push(if op == "eq" {
                                Condition::Eq(name, value)
                            } else {
                                Condition::StartsWith(name, value)
                            });
                        }
                        _ => return Err(malformed(format!("unknown condition {op}"))),
                    }
                }
                _ => return Err(malformed("a condition must be an object or an array")),
            }
        }
        Ok(PostPolicy {
            expiration,
            conditions,
        })
    }

    /// The value an `eq` condition requires of `field` (lowercase name), if any.
    pub fn eq_value(&self, field: &str) -> Option<&str> {
        self.conditions.iter().find_map(|c| match c {
            Condition::Eq(n, v) if n == field => Some(v.as_str()),
            _ => None,
        })
    }

    /// Checks the form against the policy: not expired, every condition holds, every field is named.
    /// `fields` are (lowercase name, value) in form order, without the file; `bucket` is the bucket of the
    /// request URL (the `bucket` condition refers to it). Returns the `content-length-range`, if any.
    pub fn check(
        &self,
        fields: &[(String, String)],
        bucket: &str,
        now: OffsetDateTime,
    ) -> Result<Option<(u64, u64)>, PostPolicyError> {
        if now >= self.expiration {
            return Err(PostPolicyError::Expired);
        }
        let value = |name: &str| -> Option<&str> {
            if name == "bucket" {
                return Some(bucket);
            }
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let mut range: Option<(u64, u64)> = None;
        for c in &self.conditions {
            match c {
                Condition::Eq(name, want) => {
                    if value(name) != Some(want.as_str()) {
                        return Err(PostPolicyError::ConditionFailed(format!(
                            "[\"eq\", \"${name}\", \"{want}\"]"
                        )));
                    }
                }
                Condition::StartsWith(name, prefix) => {
                    if !value(name).is_some_and(|v| v.starts_with(prefix.as_str())) {
                        return Err(PostPolicyError::ConditionFailed(format!(
                            "[\"starts-with\", \"${name}\", \"{prefix}\"]"
                        )));
                    }
                }
                Condition::ContentLength(min, max) => {
                    // Several ranges: the file must satisfy each.
                    range = Some(match range {
                        Some((a, b)) => ((*min).max(a), (*max).min(b)),
                        None => (*min, *max),
                    });
                }
            }
        }
        if range.is_some_and(|(min, max)| min > max) {
            // Ranges that do not overlap: no file can satisfy them.
            return Err(PostPolicyError::ConditionFailed(
                "[\"content-length-range\"]".into(),
            ));
        }
        let named = |field: &str| {
            self.conditions.iter().any(|c| match c {
                Condition::Eq(n, _) | Condition::StartsWith(n, _) => n == field,
                Condition::ContentLength(..) => false,
            })
        };
        for (name, _) in fields {
            if !exempt(name) && !named(name) {
                return Err(PostPolicyError::ExtraField(name.clone()));
            }
        }
        Ok(range)
    }
}

/// The SigV4 signature of a POST form: hex HMAC-SHA256 of the base64 policy with the scope's signing key.
pub fn post_signature_v4(signing_key: &[u8; 32], policy_b64: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, signing_key);
    hex::encode(hmac::sign(&key, policy_b64.as_bytes()).as_ref())
}

/// Whether two signatures are equal, in constant time.
pub fn signatures_match(computed: &str, provided: &str) -> bool {
    constant_time::verify_slices_are_equal(computed.as_bytes(), provided.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const NOW: OffsetDateTime = datetime!(2026-12-01 12:00:00 UTC);

    #[test]
    fn a_form_within_its_policy_passes() {
        let p = PostPolicy::parse(&b64(
            r#"{"expiration":"2026-12-01T13:00:00.000Z","conditions":[
            {"bucket":"photos"},["starts-with","$key","user/"],{"acl":"private"},
            ["content-length-range",1,1048576],["starts-with","$Content-Type","image/"],
            {"x-amz-credential":"AKID/20261201/us-east-1/s3/aws4_request"}]}"#,
        ))
        .unwrap();
        let f = fields(&[
            ("key", "user/a.png"),
            ("acl", "private"),
            ("content-type", "image/png"),
            (
                "x-amz-credential",
                "AKID/20261201/us-east-1/s3/aws4_request",
            ),
            ("policy", "…"),
            ("x-amz-signature", "…"),
            ("x-ignore-tracking", "1"),
        ]);
        assert_eq!(p.check(&f, "photos", NOW), Ok(Some((1, 1_048_576))));
    }

    #[test]
    fn violations_are_refused() {
        let p = PostPolicy::parse(&b64(
            r#"{"expiration":"2026-12-01T13:00:00Z","conditions":[{"bucket":"photos"},["starts-with","$key","user/"]]}"#,
        ))
        .unwrap();
        let err =
            |f: &[(&str, &str)], bucket: &str, now| p.check(&fields(f), bucket, now).unwrap_err();
        assert!(matches!(
            err(&[("key", "admin/x")], "photos", NOW),
            PostPolicyError::ConditionFailed(_)
        ));
        assert!(matches!(
            err(&[("key", "user/x")], "other", NOW),
            PostPolicyError::ConditionFailed(_)
        ));
        assert!(matches!(
            err(&[], "photos", NOW),
            PostPolicyError::ConditionFailed(_)
        ));
        assert_eq!(
            err(
                &[
                    ("key", "user/x"),
                    ("x-amz-server-side-encryption-aws-kms-key-id", "k")
                ],
                "photos",
                NOW
            ),
            PostPolicyError::ExtraField("x-amz-server-side-encryption-aws-kms-key-id".into())
        );
        assert_eq!(
            err(
                &[("key", "user/x")],
                "photos",
                datetime!(2026-12-01 13:00:00 UTC)
            ),
            PostPolicyError::Expired
        );
        assert_eq!(
            err(&[("key", "admin/x")], "photos", NOW).code(),
            "AccessDenied"
        );
        assert_eq!(
            p.check(&fields(&[("key", "user/x")]), "photos", NOW),
            Ok(None)
        );
    }

    #[test]
    fn malformed_policies_are_refused() {
        for doc in [
            "not base64 !!",
            &b64("[]"),
            &b64("{}"),
            &b64(r#"{"expiration":"tomorrow","conditions":[]}"#),
            &b64(r#"{"expiration":"2026-12-01T13:00:00Z"}"#),
            &b64(r#"{"expiration":"2026-12-01T13:00:00Z","conditions":[["eq","key","x"]]}"#),
            &b64(r#"{"expiration":"2026-12-01T13:00:00Z","conditions":[["eq","$key"]]}"#),
            &b64(r#"{"expiration":"2026-12-01T13:00:00Z","conditions":[["matches","$key","x"]]}"#),
            &b64(
                r#"{"expiration":"2026-12-01T13:00:00Z","conditions":[["content-length-range",5,1]]}"#,
            ),
            &b64(
                r#"{"expiration":"2026-12-01T13:00:00Z","conditions":[["content-length-range",-1,1]]}"#,
            ),
            &b64(r#"{"expiration":"2026-12-01T13:00:00Z","conditions":[{"key":1}]}"#),
            &b64(r#"{"expiration":"2026-12-01T13:00:00Z","conditions":[],"extra":1}"#),
        ] {
            let e = PostPolicy::parse(doc).unwrap_err();
            assert_eq!(e.code(), "InvalidPolicyDocument", "{doc}");
        }
    }

    #[test]
    fn several_ranges_narrow() {
        let p = PostPolicy::parse(&b64(r#"{"expiration":"2026-12-01T13:00:00Z","conditions":[
            ["content-length-range",10,100],["content-length-range","20","200"]]}"#))
        .unwrap();
        assert_eq!(p.check(&[], "b", NOW), Ok(Some((20, 100))));
        let disjoint =
            PostPolicy::parse(&b64(r#"{"expiration":"2026-12-01T13:00:00Z","conditions":[
            ["content-length-range",1,5],["content-length-range",10,20]]}"#))
            .unwrap();
        assert!(matches!(
            disjoint.check(&[], "b", NOW),
            Err(PostPolicyError::ConditionFailed(_))
        ));
    }
}
