//! Key policies: stored as the text the client sent, validated with the policy engine, parsed once per key
//! snapshot; the default policy and the AWS-managed keys' policy in AWS's own wording and layout.

use std::sync::Arc;

use policy::{Policy, PolicyKind};

use crate::keys::require_not_pending;
use crate::model::KeyRecord;
use crate::{Kms, KmsError};

/// AWS's key policy size quota.
pub const MAX_POLICY_BYTES: usize = 32_768;

/// Checks a key policy document: size, then the policy language (as a resource policy).
pub(crate) fn validate(doc: &str) -> Result<Arc<Policy>, KmsError> {
    if doc.is_empty() {
        return Err(KmsError::constraint(
            "policy",
            "",
            "Member must have length greater than or equal to 1",
        ));
    }
    if doc.len() > MAX_POLICY_BYTES {
        return Err(KmsError::LimitExceeded(format!(
            "The key policy exceeds the maximum size of {MAX_POLICY_BYTES} bytes."
        )));
    }
    Policy::parse(doc, PolicyKind::Resource)
        .map(Arc::new)
        .map_err(|e| KmsError::MalformedPolicyDocument(e.to_string()))
}

/// The key policy CreateKey gives a key when none is supplied, formatted exactly as AWS returns it.
pub fn default_key_policy(account: &str) -> String {
    format!(
        r#"{{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {{
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "arn:aws:iam::{account}:root"
    }},
    "Action" : "kms:*",
    "Resource" : "*"
  }} ]
}}"#
    )
}

/// The policy of an AWS-managed key (`aws/<service>`): the account's principals may use it only through the
/// service, and may read its metadata directly.
pub fn aws_managed_policy(account: &str, region: &str, service: &str) -> String {
    format!(
        r#"{{
  "Version" : "2012-10-17",
  "Id" : "auto-{service}-2",
  "Statement" : [ {{
    "Sid" : "Allow access through {upper} for all principals in the account that are authorized to use {upper}",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "*"
    }},
    "Action" : [ "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey" ],
    "Resource" : "*",
    "Condition" : {{
      "StringEquals" : {{
        "kms:CallerAccount" : "{account}",
        "kms:ViaService" : "{service}.{region}.amazonaws.com"
      }}
    }}
  }}, {{
    "Sid" : "Allow direct access to key metadata to the account",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "arn:aws:iam::{account}:root"
    }},
    "Action" : [ "kms:Describe*", "kms:Get*", "kms:List*" ],
    "Resource" : "*"
  }} ]
}}"#,
        upper = service.to_ascii_uppercase()
    )
}

impl Kms {
    /// The key's policy, parsed (once per snapshot).
    pub fn key_policy(&self, key: &KeyRecord) -> Result<Arc<Policy>, KmsError> {
        if let Some(p) = key.policy.get() {
            return Ok(Arc::clone(p));
        }
        let parsed = Policy::parse(&key.key.policy, PolicyKind::Resource).map_err(|e| {
            KmsError::Internal(format!(
                "stored key policy of {} no longer parses: {e}",
                key.arn()
            ))
        })?;
        Ok(Arc::clone(key.policy.get_or_init(|| Arc::new(parsed))))
    }

    /// PutKeyPolicy (only the policy name `default` exists). The lockout safety check is kms-api's, which
    /// knows the caller.
    pub async fn put_key_policy(
        &self,
        key: &KeyRecord,
        policy_name: &str,
        doc: &str,
    ) -> Result<(), KmsError> {
        check_policy_name(policy_name)?;
        validate(doc)?;
        let doc = doc.to_owned();
        self.update_key(key, move |k| {
            require_not_pending(k)?;
            k.policy = doc;
            Ok(())
        })
        .await
    }
}

/// Only `default` names a key policy.
pub(crate) fn check_policy_name(name: &str) -> Result<(), KmsError> {
    if name != "default" {
        return Err(KmsError::NotFound(format!(
            "No such policy exists: {name}; the only key policy name is default."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_policies_parse_and_name_the_account() {
        let d = default_key_policy("111122223333");
        let p = validate(&d).unwrap();
        assert_eq!(p.id(), Some("key-default-1"));
        assert!(d.contains("arn:aws:iam::111122223333:root"));
        let m = aws_managed_policy("111122223333", "eu-west-1", "s3");
        let p = validate(&m).unwrap();
        assert_eq!(p.id(), Some("auto-s3-2"));
        assert!(m.contains("s3.eu-west-1.amazonaws.com"));
        assert!(m.contains("through S3 for all principals"));
    }

    #[test]
    fn bad_policies_are_rejected_with_aws_errors() {
        assert_eq!(
            validate("{").unwrap_err().code(),
            "MalformedPolicyDocumentException"
        );
        let big = format!("{{\"x\":\"{}\"}}", "a".repeat(MAX_POLICY_BYTES));
        assert_eq!(validate(&big).unwrap_err().code(), "LimitExceededException");
        assert_eq!(validate("").unwrap_err().code(), "ValidationException");
        assert!(check_policy_name("default").is_ok());
        assert_eq!(
            check_policy_name("other").unwrap_err().code(),
            "NotFoundException"
        );
    }
}
