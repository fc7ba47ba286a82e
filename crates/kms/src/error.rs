//! The engine's one error type; each variant is one AWS KMS exception name.

/// A KMS failure. [`KmsError::code`] is the AWS exception name (the JSON `__type`); `Display` is the message sent
/// to the client, worded as AWS words it. Messages never carry key material, plaintext or policy text.
#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Disabled(String),
    #[error("{0}")]
    InvalidState(String),
    #[error("{0}")]
    InvalidCiphertext(String),
    #[error("{0}")]
    IncorrectKey(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    InvalidAliasName(String),
    /// AWS answers `NotAuthorizedException` for aliases under the reserved `alias/aws/` prefix.
    #[error("{0}")]
    NotAuthorized(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    Tag(String),
    #[error("{0}")]
    InvalidGrantToken(String),
    #[error("{0}")]
    InvalidGrantId(String),
    #[error("{0}")]
    InvalidArn(String),
    #[error("{0}")]
    InvalidMarker(String),
    #[error("{0}")]
    UnsupportedOperation(String),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("internal storage error")]
    Storage(#[from] meta::Error),
}

impl KmsError {
    /// The AWS exception name for the wire (`__type`).
    pub fn code(&self) -> &'static str {
        match self {
            KmsError::NotFound(_) => "NotFoundException",
            KmsError::Disabled(_) => "DisabledException",
            KmsError::InvalidState(_) => "KMSInvalidStateException",
            KmsError::InvalidCiphertext(_) => "InvalidCiphertextException",
            KmsError::IncorrectKey(_) => "IncorrectKeyException",
            KmsError::AlreadyExists(_) => "AlreadyExistsException",
            KmsError::InvalidAliasName(_) => "InvalidAliasNameException",
            KmsError::NotAuthorized(_) => "NotAuthorizedException",
            KmsError::LimitExceeded(_) => "LimitExceededException",
            KmsError::Validation(_) => "ValidationException",
            KmsError::MalformedPolicyDocument(_) => "MalformedPolicyDocumentException",
            KmsError::Tag(_) => "TagException",
            KmsError::InvalidGrantToken(_) => "InvalidGrantTokenException",
            KmsError::InvalidGrantId(_) => "InvalidGrantIdException",
            KmsError::InvalidArn(_) => "InvalidArnException",
            KmsError::InvalidMarker(_) => "InvalidMarkerException",
            KmsError::UnsupportedOperation(_) => "UnsupportedOperationException",
            KmsError::Internal(_) | KmsError::Storage(_) => "KMSInternalException",
        }
    }

    /// The HTTP status AWS KMS sends with this exception.
    pub fn status(&self) -> u16 {
        match self {
            KmsError::Internal(_) | KmsError::Storage(_) => 500,
            _ => 400,
        }
    }

    /// The invalid-state error AWS gives for a key pending deletion.
    pub(crate) fn pending_deletion(arn: &str) -> KmsError {
        KmsError::InvalidState(format!("{arn} is pending deletion."))
    }

    /// The error for a key that does not exist in the namespace it was looked for in.
    pub(crate) fn key_not_found(arn: &str) -> KmsError {
        KmsError::NotFound(format!("Key '{arn}' does not exist"))
    }

    /// AWS's generic one-constraint validation message.
    pub(crate) fn constraint(what: &str, value: impl std::fmt::Display, rule: &str) -> KmsError {
        KmsError::Validation(format!(
            "1 validation error detected: Value '{value}' at '{what}' failed to satisfy constraint: {rule}"
        ))
    }
}

impl From<crypto::SealError> for KmsError {
    fn from(_: crypto::SealError) -> Self {
        KmsError::Internal("the root of trust could not open or seal key material".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_aws_exception_names() {
        assert_eq!(
            KmsError::NotFound(String::new()).code(),
            "NotFoundException"
        );
        assert_eq!(
            KmsError::InvalidState(String::new()).code(),
            "KMSInvalidStateException"
        );
        assert_eq!(
            KmsError::Internal(String::new()).code(),
            "KMSInternalException"
        );
        assert_eq!(KmsError::Internal(String::new()).status(), 500);
        assert_eq!(KmsError::Tag(String::new()).status(), 400);
        assert_eq!(
            KmsError::pending_deletion("arn:x").to_string(),
            "arn:x is pending deletion."
        );
    }
}
