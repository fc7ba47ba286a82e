//! Validated identifier newtypes shared by every coffer crate: account ids, access key ids, IAM names and ARNs.
//!
//! Constructors validate ("parse, don't validate"), so a value of one of these types is always well formed and
//! the code that receives it never checks again.

mod arn;
mod iam_names;

pub use arn::Arn;
pub use iam_names::{IamName, IamNameKind, IamPath};

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an identifier was rejected; the message is safe to return to a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidId(pub String);

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl AccountId {
    /// Accepts exactly twelve ASCII digits.
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidId(format!("{s:?} is not a 12-digit account id")))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ARN of the account's root principal, `arn:aws:iam::<id>:root`.
    pub fn root_arn(&self) -> String {
        format!("arn:aws:iam::{}:root", self.0)
    }
}

impl TryFrom<String> for AccountId {
    type Error = InvalidId;
    fn try_from(s: String) -> Result<Self, InvalidId> {
        Self::parse(&s)
    }
}

impl From<AccountId> for String {
    fn from(a: AccountId) -> String {
        a.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Characters AWS uses in access key ids and unique ids: upper-case letters and digits 2-7 (base32).
const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// An access key id: `AKIA` (long-term) or `ASIA` (STS session) followed by 16 base32 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccessKeyId(String);

impl AccessKeyId {
    /// Accepts the forms AWS issues, and also any 16–128 character alphanumeric id, since operators may choose
    /// their own root access key id (`COFFER_ROOT_ACCESS_KEY_ID`) the way other S3 servers let them.
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        if (16..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidId(format!(
                "{s:?} is not a valid access key id (16 to 128 letters and digits)"
            )))
        }
    }

    /// Builds a fresh id from random bytes: `AKIA…` for long-term keys, `ASIA…` for session keys.
    pub fn generate(session: bool, random: &[u8; 16]) -> Self {
        let prefix = if session { "ASIA" } else { "AKIA" };
        Self(format!("{prefix}{}", encode_id(random)))
    }

    /// True for keys issued by STS (`ASIA…`).
    pub fn is_session(&self) -> bool {
        self.0.starts_with("ASIA")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AccessKeyId {
    type Error = InvalidId;
    fn try_from(s: String) -> Result<Self, InvalidId> {
        Self::parse(&s)
    }
}

impl From<AccessKeyId> for String {
    fn from(a: AccessKeyId) -> String {
        a.0
    }
}

impl fmt::Display for AccessKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Encodes 16 random bytes as 16 characters of AWS's id alphabet (one character per byte, 5 bits each).
pub fn encode_id(random: &[u8; 16]) -> String {
    random
        .iter()
        .map(|b| ID_ALPHABET[(b & 31) as usize] as char)
        .collect()
}

/// A unique id as IAM prints it for users (`AIDA…`), roles (`AROA…`) and policies (`ANPA…`).
pub fn unique_id(prefix: &str, random: &[u8; 16]) -> String {
    format!("{prefix}{}", encode_id(random))
}

/// A region name such as `us-east-1`: lower-case letters, digits and dashes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region(String);

impl Region {
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidId(format!("{s:?} is not a valid region name")))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Region {
    type Error = InvalidId;
    fn try_from(s: String) -> Result<Self, InvalidId> {
        Self::parse(&s)
    }
}

impl From<Region> for String {
    fn from(r: Region) -> String {
        r.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids() {
        assert!(AccountId::parse("123456789012").is_ok());
        assert!(AccountId::parse("12345678901").is_err());
        assert!(AccountId::parse("12345678901a").is_err());
        assert_eq!(
            AccountId::parse("123456789012").unwrap().root_arn(),
            "arn:aws:iam::123456789012:root"
        );
    }

    #[test]
    fn access_key_ids() {
        let id = AccessKeyId::generate(false, &[7; 16]);
        assert!(id.as_str().starts_with("AKIA"));
        assert_eq!(id.as_str().len(), 20);
        assert!(!id.is_session());
        assert!(AccessKeyId::generate(true, &[200; 16]).is_session());
        assert!(AccessKeyId::parse("short").is_err());
        assert!(AccessKeyId::parse("AKIA/AAAAAAAAAAAAAAAA").is_err());
    }

    #[test]
    fn regions() {
        assert!(Region::parse("us-east-1").is_ok());
        assert!(Region::parse("US-EAST-1").is_err());
        assert!(Region::parse("").is_err());
        assert!(Region::parse("-x").is_err());
    }
}
