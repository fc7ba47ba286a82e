//! Errors on S3's wire: the engine's and the API core's errors become `s3s` errors with S3's code, message
//! and status, exactly once, here.

use api::ApiError;
use objects::ObjectError;
use s3s::{S3Error, S3ErrorCode};

/// The result of our hooks and operations before they are handed to s3s.
pub(crate) type Result<T, E = ApiError> = std::result::Result<T, E>;

/// An engine error as S3 answers it.
pub(crate) fn from_object(e: ObjectError) -> ApiError {
    if matches!(e, ObjectError::WrongKey) {
        // Every data key reaches the engine verified by the `KeyService` (an authenticated unwrap for
        // SSE-S3 and SSE-KMS; for SSE-C the keyed check, which answers a wrong customer key with 403
        // itself), so an envelope refusing it has an altered header: damage, never the caller's 403.
        tracing::error!(
            "stored object damaged: the envelope header does not commit to its data key"
        );
        return ApiError::new(
            500,
            "InternalError",
            "We encountered an internal error. Please try again.",
        );
    }
    let status = e.status();
    let code = e.code();
    if status >= 500 {
        // The engine's message for these is already generic; keep the detail in the log only.
        tracing::error!(error = ?e, "storage engine failure");
    }
    ApiError::new(status, code, e.to_string())
}

/// Our error as an s3s error (which renders S3's `<Error>` document).
pub(crate) fn to_s3(e: ApiError) -> S3Error {
    let code = S3ErrorCode::from_bytes(e.code.as_bytes())
        .unwrap_or_else(|| S3ErrorCode::Custom(e.code.clone().into()));
    let mut err = S3Error::with_message(code, e.message);
    if let Ok(status) = http::StatusCode::from_u16(e.status) {
        err.set_status_code(status);
    }
    err
}

/// Shorthands for S3's common client errors.
pub(crate) fn invalid_argument(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("InvalidArgument", message)
}

pub(crate) fn invalid_request(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("InvalidRequest", message)
}

pub(crate) fn malformed_xml() -> ApiError {
    ApiError::bad_request(
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

pub(crate) fn access_denied() -> ApiError {
    ApiError::new(403, "AccessDenied", "Access Denied")
}

pub(crate) fn not_implemented(what: &str) -> ApiError {
    ApiError::new(
        501,
        "NotImplemented",
        format!("A header or operation you provided implies functionality that is not implemented: {what}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_the_envelope_refuses_is_damage_not_access_denied() {
        let e = from_object(ObjectError::WrongKey);
        assert_eq!((e.status, e.code.as_str()), (500, "InternalError"));
        let e = from_object(ObjectError::NoSuchBucket);
        assert_eq!((e.status, e.code.as_str()), (404, "NoSuchBucket"));
    }
}
