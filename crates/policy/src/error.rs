//! The error for a policy document that is malformed or invalid, in AWS's wording.

use std::fmt;

/// Why a policy document was rejected. The message is safe to return to clients (as `MalformedPolicyDocument`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    statement: Option<usize>,
    sid: Option<String>,
    message: String,
}

impl PolicyError {
    /// An error about the document as a whole.
    pub(crate) fn document(message: impl Into<String>) -> PolicyError {
        PolicyError {
            statement: None,
            sid: None,
            message: message.into(),
        }
    }

    pub(crate) fn statement(
        index: usize,
        sid: Option<&str>,
        message: impl Into<String>,
    ) -> PolicyError {
        PolicyError {
            statement: Some(index),
            sid: sid.map(str::to_owned),
            message: message.into(),
        }
    }

    /// The problem alone, without the statement prefix, e.g. `Invalid Condition type : StringEqualz`.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The zero-based index of the offending statement, when the problem is in one.
    pub fn statement_index(&self) -> Option<usize> {
        self.statement
    }

    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.statement, &self.sid) {
            (Some(i), Some(sid)) => write!(f, "Statement {i} (Sid {sid:?}): {}", self.message),
            (Some(i), None) => write!(f, "Statement {i}: {}", self.message),
            (None, _) => f.write_str(&self.message),
        }
    }
}
