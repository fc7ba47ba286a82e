//! The S3 errors server-side encryption answers, with the codes and messages Amazon S3 sends for each case
//! (recorded answers where AWS documents none), and the mapping of KMS failures seen through S3.

use api::ApiError;

fn invalid_argument(message: &str) -> ApiError {
    ApiError::bad_request("InvalidArgument", message)
}

fn invalid_request(message: &str) -> ApiError {
    ApiError::bad_request("InvalidRequest", message)
}

/// SSE-C headers together with `x-amz-server-side-encryption`.
pub(crate) fn customer_with_sse() -> ApiError {
    invalid_argument(
        "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
    )
}

/// A KMS key id or encryption context without `x-amz-server-side-encryption: aws:kms`.
pub(crate) fn kms_header_without_kms() -> ApiError {
    invalid_argument(
        "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
    )
}

/// An `x-amz-server-side-encryption` value S3 does not know.
pub(crate) fn unsupported_method() -> ApiError {
    invalid_argument("The encryption method specified is not supported")
}

/// DSSE-KMS: two independent layers of encryption, which the single-key envelope cannot give. Refused rather
/// than silently downgraded to one layer.
pub(crate) fn dsse_not_implemented() -> ApiError {
    ApiError::new(
        501,
        "NotImplemented",
        "Dual-layer server-side encryption (aws:kms:dsse) is not implemented by this server; use aws:kms",
    )
}

/// A malformed `x-amz-server-side-encryption-context`.
pub(crate) fn malformed_context() -> ApiError {
    invalid_argument(
        "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map",
    )
}

/// A context that sets `aws:s3:arn` to something other than the ARN S3 itself binds the key to.
pub(crate) fn reserved_context_key() -> ApiError {
    invalid_argument(
        "The encryption context key aws:s3:arn is reserved and must name the object (or, with an S3 Bucket Key, the bucket)",
    )
}

pub(crate) fn customer_missing_algorithm() -> ApiError {
    invalid_argument(
        "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
    )
}

pub(crate) fn customer_bad_algorithm() -> ApiError {
    ApiError::bad_request(
        "InvalidEncryptionAlgorithmError",
        "The Encryption request you specified is not valid. Supported value: AES256.",
    )
}

pub(crate) fn customer_missing_key() -> ApiError {
    invalid_argument(
        "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.",
    )
}

pub(crate) fn customer_missing_md5() -> ApiError {
    invalid_argument(
        "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.",
    )
}

pub(crate) fn customer_md5_mismatch() -> ApiError {
    invalid_argument("The calculated MD5 hash of the key did not match the hash that was provided.")
}

pub(crate) fn customer_bad_key() -> ApiError {
    invalid_argument("The secret key was invalid for the specified algorithm.")
}

/// SSE-C over plain HTTP from anywhere but loopback.
pub(crate) fn customer_insecure() -> ApiError {
    invalid_argument(
        "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.",
    )
}

/// A read of an SSE-C object with a key other than the one it was written with.
pub(crate) fn customer_wrong_key() -> ApiError {
    ApiError::new(
        403,
        "AccessDenied",
        "Requests specifying Server Side Encryption with Customer provided keys must provide the correct secret key.",
    )
}

/// A read of an SSE-C object without its key.
pub(crate) fn customer_key_required() -> ApiError {
    invalid_request(
        "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
    )
}

/// SSE-C headers on a read of an object that is not SSE-C.
pub(crate) fn not_applicable() -> ApiError {
    invalid_request("The encryption parameters are not applicable to this object.")
}

/// `x-amz-server-side-encryption*` (non-SSE-C) headers on a read: the method cannot change on retrieval.
pub(crate) fn sse_header_on_read() -> ApiError {
    invalid_argument("x-amz-server-side-encryption header is not supported for this operation.")
}

/// A stored descriptor that fails to parse or authenticate: the object's metadata was damaged. Never
/// confused with a wrong key, never served.
pub(crate) fn damaged(what: &str) -> ApiError {
    ApiError::internal(format!("damaged encryption descriptor: {what}"))
}

/// Whether a KMS error means the key is gone or unusable, so every cached key under it must be dropped.
pub(crate) fn is_key_unusable(e: &ApiError) -> bool {
    matches!(
        e.code.as_str(),
        "DisabledException" | "KMSInvalidStateException" | "NotFoundException"
    )
}

/// A KMS error, as S3 answers it to its own caller: permission failures are S3's `AccessDenied` (403); key
/// state and lookup failures are `KMS.<exception>` (400) with KMS's message; a ciphertext KMS refuses for a
/// stored object is damage, not the caller's fault.
pub(crate) fn from_kms(e: ApiError) -> ApiError {
    match e.code.as_str() {
        "AccessDeniedException"
        | "MissingAuthenticationTokenException"
        | "UnrecognizedClientException"
        | "ExpiredTokenException" => ApiError::new(403, "AccessDenied", "Access Denied"),
        "InvalidCiphertextException" | "IncorrectKeyException" => {
            ApiError::internal(format!("KMS refused a stored ciphertext: {}", e.message))
        }
        _ if e.status >= 500 => e,
        code => ApiError::new(400, format!("KMS.{code}"), e.message),
    }
}
