//! Amazon Resource Names: parsing into their six parts and formatting back, byte for byte.

use std::fmt;

use crate::InvalidId;

/// `arn:partition:service:region:account:resource`; the resource part keeps any further `:` or `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arn {
    pub partition: String,
    pub service: String,
    pub region: String,
    pub account: String,
    pub resource: String,
}

impl Arn {
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        let mut parts = s.splitn(6, ':');
        let (
            Some("arn"),
            Some(partition),
            Some(service),
            Some(region),
            Some(account),
            Some(resource),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return Err(InvalidId(format!("{s:?} is not a valid ARN")));
        };
        if partition.is_empty() || service.is_empty() {
            return Err(InvalidId(format!("{s:?} is not a valid ARN")));
        }
        Ok(Self {
            partition: partition.to_owned(),
            service: service.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            resource: resource.to_owned(),
        })
    }

    /// An IAM ARN in the `aws` partition: `arn:aws:iam::<account>:<resource>`.
    pub fn iam(account: &str, resource: impl Into<String>) -> Self {
        Self {
            partition: "aws".into(),
            service: "iam".into(),
            region: String::new(),
            account: account.to_owned(),
            resource: resource.into(),
        }
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for s in [
            "arn:aws:iam::123456789012:user/alice",
            "arn:aws:sts::123456789012:assumed-role/R/s",
            "arn:aws:s3:::bucket/key:with:colons",
            "arn:aws:kms:us-east-1:123456789012:key/abc",
        ] {
            assert_eq!(Arn::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(Arn::parse("arn:aws:s3:::b/k:x").unwrap().resource, "b/k:x");
        assert!(Arn::parse("arn:aws:iam").is_err());
        assert!(Arn::parse("nope:aws:iam::1:x").is_err());
        assert_eq!(
            Arn::iam("123456789012", "root").to_string(),
            "arn:aws:iam::123456789012:root"
        );
    }
}
