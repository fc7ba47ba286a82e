//! The engine's error type; each variant maps to one IAM/STS wire error code.

/// An IAM or STS failure. `code()` is the AWS error code; `Display` is the message sent to the client.
#[derive(Debug, thiserror::Error)]
pub enum IamError {
    #[error("{0}")]
    NoSuchEntity(String),
    #[error("{0}")]
    EntityAlreadyExists(String),
    #[error("{0}")]
    DeleteConflict(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    ValidationError(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    PackedPolicyTooLarge(String),
    #[error("{0}")]
    ExpiredToken(String),
    #[error("{0}")]
    InvalidClientTokenId(String),
    #[error("internal storage error")]
    Storage(#[from] meta::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl IamError {
    /// The AWS error code for the wire.
    pub fn code(&self) -> &'static str {
        match self {
            IamError::NoSuchEntity(_) => "NoSuchEntity",
            IamError::EntityAlreadyExists(_) => "EntityAlreadyExists",
            IamError::DeleteConflict(_) => "DeleteConflict",
            IamError::LimitExceeded(_) => "LimitExceeded",
            IamError::MalformedPolicyDocument(_) => "MalformedPolicyDocument",
            IamError::InvalidInput(_) => "InvalidInput",
            IamError::ValidationError(_) => "ValidationError",
            IamError::AccessDenied(_) => "AccessDenied",
            IamError::PackedPolicyTooLarge(_) => "PackedPolicyTooLarge",
            IamError::ExpiredToken(_) => "ExpiredToken",
            IamError::InvalidClientTokenId(_) => "InvalidClientTokenId",
            IamError::Storage(_) | IamError::Internal(_) => "ServiceFailure",
        }
    }

    /// The HTTP status AWS uses for this code.
    pub fn status(&self) -> u16 {
        match self {
            IamError::NoSuchEntity(_) => 404,
            IamError::EntityAlreadyExists(_)
            | IamError::DeleteConflict(_)
            | IamError::LimitExceeded(_) => 409,
            IamError::AccessDenied(_)
            | IamError::ExpiredToken(_)
            | IamError::InvalidClientTokenId(_) => 403,
            IamError::Storage(_) | IamError::Internal(_) => 500,
            _ => 400,
        }
    }
}

impl From<ids::InvalidId> for IamError {
    fn from(e: ids::InvalidId) -> Self {
        IamError::ValidationError(e.0)
    }
}
