//! The one error type of the crate, with the AWS error code each variant maps to.

use time::OffsetDateTime;

/// What went wrong while parsing, verifying or signing a SigV4 request.
///
/// `Display` gives the message AWS puts in the error body; [`Error::code`] gives the AWS error code.
/// Messages never contain the secret key or the signature we computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The `Authorization` header is missing a component or is not `key=value` shaped.
    #[error("{message}")]
    IncompleteSignature { message: String },

    /// The credential scope or the date in it is wrong (header authentication).
    #[error("The authorization header is malformed; {message}")]
    AuthorizationHeaderMalformed { message: String },

    /// A presigned URL's `X-Amz-*` query parameters are missing or invalid.
    #[error("{message}")]
    AuthorizationQueryParametersError { message: String },

    /// The request uses an algorithm other than `AWS4-HMAC-SHA256` (for example SigV2).
    #[error("The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")]
    UnsupportedAlgorithm,

    /// More than one of: an `Authorization` header, SigV4 query parameters, SigV2 query parameters.
    #[error("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")]
    MultipleAuthMechanisms,

    /// Neither `X-Amz-Date` nor a parseable `Date` was present.
    #[error("AWS authentication requires a valid Date or x-amz-date header")]
    MissingDate,

    /// The signature does not match. `details` lets the caller put the canonical request and
    /// string to sign in the error body, as S3 does, without recomputing them.
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")]
    SignatureDoesNotMatch { details: Box<MismatchDetails> },

    /// Header authentication with a request time more than 15 minutes away from now.
    #[error("The difference between the request time and the current time is too large.")]
    RequestTimeTooSkewed {
        request_time: OffsetDateTime,
        server_time: OffsetDateTime,
    },

    /// A presigned URL past `X-Amz-Date + X-Amz-Expires`.
    #[error("Request has expired")]
    RequestExpired {
        expires: OffsetDateTime,
        server_time: OffsetDateTime,
    },

    /// A presigned URL whose `X-Amz-Date` lies further in the future than the allowed skew.
    #[error("Request is not valid yet")]
    RequestNotYetValid,

    /// An `x-amz-*` header was sent without being listed in `SignedHeaders`.
    /// S3 calls this `AccessDenied` (HeadersNotSigned); callers for other services may map it
    /// differently, which is why the header name is carried.
    #[error("There were headers present in the request which were not signed")]
    UnsignedAmzHeader { header: String },

    /// A malformed aws-chunked body (bad chunk header, wrong length, missing final chunk).
    #[error("{message}")]
    IncompleteBody { message: String },

    /// Signing was asked to do something impossible (no host, a value that is not a valid header).
    #[error("cannot sign request: {message}")]
    Signing { message: String },
}

/// The intermediate values of a failed verification, as S3 reports them in `SignatureDoesNotMatch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MismatchDetails {
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signature_provided: String,
}

impl Error {
    /// The AWS error code for this error, as it appears in `<Code>` / `__type`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::IncompleteSignature { .. } => "IncompleteSignature",
            Error::AuthorizationHeaderMalformed { .. } => "AuthorizationHeaderMalformed",
            Error::AuthorizationQueryParametersError { .. } => "AuthorizationQueryParametersError",
            Error::UnsupportedAlgorithm => "InvalidRequest",
            Error::MultipleAuthMechanisms => "InvalidArgument",
            Error::MissingDate => "AccessDenied",
            Error::SignatureDoesNotMatch { .. } => "SignatureDoesNotMatch",
            Error::RequestTimeTooSkewed { .. } => "RequestTimeTooSkewed",
            Error::RequestExpired { .. } => "AccessDenied",
            Error::RequestNotYetValid => "AccessDenied",
            Error::UnsignedAmzHeader { .. } => "AccessDenied",
            Error::IncompleteBody { .. } => "IncompleteBody",
            Error::Signing { .. } => "InternalError",
        }
    }

    pub(crate) fn mismatch(
        canonical_request: String,
        string_to_sign: String,
        provided: &str,
    ) -> Self {
        Error::SignatureDoesNotMatch {
            details: Box::new(MismatchDetails {
                canonical_request,
                string_to_sign,
                signature_provided: provided.to_owned(),
            }),
        }
    }
}
