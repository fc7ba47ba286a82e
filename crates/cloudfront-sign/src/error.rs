//! The crate's two error types: [`SignError`] for a viewer's request that fails (always a 403 at
//! the edge), and [`KeyError`] for key material or signing that fails (a configuration problem).

/// Why a viewer's signed URL or signed cookies were refused.
///
/// `Display` is a precise reason for logs. What the viewer sees is [`SignError::code`] and
/// [`SignError::message`], which follow CloudFront's error bodies and deliberately say less: a
/// viewer learns that a signature failed, never which part of the policy it failed against.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// No `Key-Pair-Id` (or `CloudFront-Key-Pair-Id` cookie), or an empty one.
    #[error("missing Key-Pair-Id query parameter or CloudFront-Key-Pair-Id cookie")]
    MissingKeyPairId,

    /// Credentials without a `Signature` (or `CloudFront-Signature` cookie), or an empty one.
    #[error("missing Signature query parameter or CloudFront-Signature cookie")]
    MissingSignature,

    /// The signature is not CloudFront base64.
    #[error("the signature is not valid CloudFront base64")]
    MalformedSignature,

    /// `Hash-Algorithm` is neither `SHA1` nor `SHA256`.
    #[error("unsupported Hash-Algorithm {0:?} (expected SHA1 or SHA256)")]
    InvalidHashAlgorithm(String),

    /// A signing parameter appears twice in the query string, so which one was signed is ambiguous.
    #[error("the {0} query parameter appears more than once")]
    DuplicateParameter(&'static str),

    /// The key pair id names no key trusted for this request.
    #[error("unknown key pair id")]
    UnknownKey,

    /// The signature does not verify against the (canned or custom) policy and the key.
    #[error("the signature does not match the policy")]
    BadSignature,

    /// The request time is at or past the policy's `DateLessThan` (the canned `Expires`).
    #[error("the signature expired at {expires} (unix seconds)")]
    Expired { expires: i64 },

    /// The request time is at or before the custom policy's `DateGreaterThan`.
    #[error("the signature is not valid before {starts} (unix seconds)")]
    NotYetValid { starts: i64 },

    /// The client address is outside the custom policy's `IpAddress` range, or unknown.
    #[error("the client IP address is not allowed by the policy")]
    IpNotAllowed,

    /// The URL does not match the custom policy's `Resource` pattern.
    #[error("the URL does not match the policy's Resource")]
    ResourceMismatch,

    /// The policy cannot be read: neither or both of `Expires`/`Policy`, a bad `Expires`, bad
    /// base64, bad JSON, an unknown field, or no `DateLessThan`.
    #[error("malformed policy: {0}")]
    MalformedPolicy(&'static str),
}

impl SignError {
    /// The `<Code>` CloudFront puts in its 403 error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingKeyPairId => "MissingKey",
            Self::UnknownKey => "InvalidKey",
            Self::MalformedPolicy(_) => "MalformedPolicy",
            _ => "AccessDenied",
        }
    }

    /// The `<Message>` CloudFront puts in its 403 error body.
    ///
    /// "Missing Key-Pair-Id query parameter or cookie value", "Unknown Key" and "Malformed Policy"
    /// are CloudFront's documented or widely reported wording; everything CloudFront does not
    /// distinguish publicly collapses to "Access denied", so viewers learn nothing more from us
    /// than from CloudFront.
    pub fn message(&self) -> &'static str {
        match self {
            Self::MissingKeyPairId => "Missing Key-Pair-Id query parameter or cookie value",
            Self::UnknownKey => "Unknown Key",
            Self::MalformedPolicy(_) => "Malformed Policy",
            Self::Expired { .. } => "Request has expired",
            Self::MissingSignature
            | Self::MalformedSignature
            | Self::InvalidHashAlgorithm(_)
            | Self::DuplicateParameter(_)
            | Self::BadSignature
            | Self::NotYetValid { .. }
            | Self::IpNotAllowed
            | Self::ResourceMismatch => "Access denied",
        }
    }
}

/// Why a key could not be loaded or a signature could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text holds no `-----BEGIN ...-----` / `-----END ...-----` block with base64 inside.
    #[error("not a PEM document")]
    NotPem,

    /// A PEM block of a kind we do not read (for example an encrypted private key).
    #[error("unsupported PEM label {0:?}")]
    UnsupportedPemLabel(String),

    /// A key that is neither RSA nor ECDSA P-256, the two kinds CloudFront accepts.
    #[error("unsupported key algorithm: CloudFront accepts RSA and ECDSA P-256 keys")]
    UnsupportedAlgorithm,

    /// The DER inside the PEM does not parse, or aws-lc rejected the key (for example an RSA
    /// key shorter than 2048 bits).
    #[error("malformed key: {0}")]
    Malformed(&'static str),

    /// The signature could not be produced, or failed its own verification afterwards.
    #[error("signing failed")]
    Signing,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewer_wording_follows_cloudfront() {
        let table: &[(SignError, &str, &str)] = &[
            (
                SignError::MissingKeyPairId,
                "MissingKey",
                "Missing Key-Pair-Id query parameter or cookie value",
            ),
            (SignError::UnknownKey, "InvalidKey", "Unknown Key"),
            (
                SignError::MalformedPolicy("x"),
                "MalformedPolicy",
                "Malformed Policy",
            ),
            (
                SignError::Expired { expires: 1 },
                "AccessDenied",
                "Request has expired",
            ),
            (SignError::BadSignature, "AccessDenied", "Access denied"),
            (SignError::IpNotAllowed, "AccessDenied", "Access denied"),
            (SignError::ResourceMismatch, "AccessDenied", "Access denied"),
            (
                SignError::NotYetValid { starts: 1 },
                "AccessDenied",
                "Access denied",
            ),
        ];
        for (err, code, message) in table {
            assert_eq!(err.code(), *code, "{err:?}");
            assert_eq!(err.message(), *message, "{err:?}");
        }
    }

    #[test]
    fn log_text_is_more_precise_than_viewer_text() {
        let err = SignError::Expired {
            expires: 1767225600,
        };
        assert!(err.to_string().contains("1767225600"));
        assert!(!err.message().contains("1767225600"));
    }
}
