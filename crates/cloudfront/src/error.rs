//! The engine's one error type: a client error carries CloudFront's (or ACM's) error code, HTTP status and a
//! message worded as AWS words it; everything else is internal and never reaches the client.

/// A CloudFront or ACM failure.
#[derive(Debug, thiserror::Error)]
pub enum CfError {
    /// An error the caller caused, with the AWS error code and status sent for it.
    #[error("{message}")]
    Client {
        code: &'static str,
        status: u16,
        message: String,
    },
    #[error("internal error: {0}")]
    Internal(String),
    #[error("internal storage error")]
    Storage(#[from] meta::Error),
}

impl CfError {
    pub fn client(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        CfError::Client {
            code,
            status,
            message: message.into(),
        }
    }

    /// `InvalidArgument` (400) with `message`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::client("InvalidArgument", 400, message)
    }

    /// The AWS error code.
    pub fn code(&self) -> &'static str {
        match self {
            CfError::Client { code, .. } => code,
            CfError::Internal(_) | CfError::Storage(_) => "InternalError",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            CfError::Client { status, .. } => *status,
            _ => 500,
        }
    }

    pub(crate) fn no_such_distribution() -> Self {
        Self::client(
            "NoSuchDistribution",
            404,
            "The specified distribution does not exist.",
        )
    }

    pub(crate) fn no_such_oac() -> Self {
        Self::client(
            "NoSuchOriginAccessControl",
            404,
            "The specified origin access control does not exist.",
        )
    }

    pub(crate) fn no_such_cache_policy() -> Self {
        Self::client("NoSuchCachePolicy", 404, "The cache policy does not exist.")
    }
}

impl From<crypto::SealError> for CfError {
    fn from(_: crypto::SealError) -> Self {
        CfError::Internal("the root of trust could not seal or open a private key".into())
    }
}
