//! IAM entity names and paths, validated with IAM's own character sets and length limits.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::InvalidId;

/// Which kind of IAM entity a name belongs to; the kinds differ only in their maximum length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IamNameKind {
    User,
    Role,
    Policy,
    Group,
    RoleSessionName,
}

impl IamNameKind {
    fn max_len(self) -> usize {
        match self {
            IamNameKind::User | IamNameKind::Role | IamNameKind::RoleSessionName => 64,
            IamNameKind::Policy | IamNameKind::Group => 128,
        }
    }

    fn min_len(self) -> usize {
        match self {
            IamNameKind::RoleSessionName => 2,
            _ => 1,
        }
    }

    fn field(self) -> &'static str {
        match self {
            IamNameKind::User => "userName",
            IamNameKind::Role => "roleName",
            IamNameKind::Policy => "policyName",
            IamNameKind::Group => "groupName",
            IamNameKind::RoleSessionName => "roleSessionName",
        }
    }
}

/// A user, role, group or policy name: `[\w+=,.@-]+`, within the kind's length limit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IamName(String);

impl IamName {
    /// Validates as IAM does; the error message mirrors IAM's `ValidationError` text.
    pub fn parse(s: &str, kind: IamNameKind) -> Result<Self, InvalidId> {
        let field = kind.field();
        if s.len() < kind.min_len() || s.len() > kind.max_len() {
            return Err(InvalidId(format!(
                "1 validation error detected: Value '{s}' at '{field}' failed to satisfy constraint: \
                 Member must have length between {} and {}",
                kind.min_len(),
                kind.max_len()
            )));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b))
        {
            return Err(InvalidId(format!(
                "1 validation error detected: Value '{s}' at '{field}' failed to satisfy constraint: \
                 Member must satisfy regular expression pattern: [\\w+=,.@-]+"
            )));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An IAM path: `/` or `/segment/…/`, printable ASCII, at most 512 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IamPath(String);

impl IamPath {
    pub fn root() -> Self {
        Self("/".into())
    }

    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        let ok = !s.is_empty()
            && s.len() <= 512
            && s.starts_with('/')
            && s.ends_with('/')
            && s.bytes().all(|b| (0x21..=0x7e).contains(&b));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidId(format!(
                "1 validation error detected: Value '{s}' at 'path' failed to satisfy constraint: \
                 Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for IamPath {
    fn default() -> Self {
        Self::root()
    }
}

impl fmt::Display for IamPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(IamName::parse("alice", IamNameKind::User).is_ok());
        assert!(IamName::parse("a+b=c,d.e@f-g_h", IamNameKind::User).is_ok());
        assert!(IamName::parse("", IamNameKind::User).is_err());
        assert!(IamName::parse("bad/name", IamNameKind::User).is_err());
        assert!(IamName::parse(&"x".repeat(65), IamNameKind::User).is_err());
        assert!(IamName::parse(&"x".repeat(128), IamNameKind::Policy).is_ok());
        assert!(IamName::parse("x", IamNameKind::RoleSessionName).is_err());
    }

    #[test]
    fn paths() {
        assert!(IamPath::parse("/").is_ok());
        assert!(IamPath::parse("/division/team/").is_ok());
        assert!(IamPath::parse("/nope").is_err());
        assert!(IamPath::parse("nope/").is_err());
    }
}
