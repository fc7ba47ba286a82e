//! The engine's one error type; every variant maps to one S3 error code and HTTP status.

/// An S3 storage-engine failure. [`code`](ObjectError::code) is the S3 error code,
/// [`status`](ObjectError::status) its HTTP status, and `Display` a message safe to send to the
/// client (it never carries key material, plaintext or internal paths).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectError {
    #[error("The specified bucket does not exist")]
    NoSuchBucket,
    /// The key has no current object. `delete_marker` is the version id of the delete marker
    /// when the key's latest version is one (the API answers with `x-amz-delete-marker: true`).
    #[error("The specified key does not exist.")]
    NoSuchKey { delete_marker: Option<String> },
    #[error("The specified version does not exist.")]
    NoSuchVersion,
    #[error("The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.")]
    BucketAlreadyExists,
    #[error("Your previous request to create the named bucket succeeded and you already own it.")]
    BucketAlreadyOwnedByYou,
    #[error("The bucket you tried to delete is not empty")]
    BucketNotEmpty,
    #[error("The specified bucket is not valid: {0}")]
    InvalidBucketName(String),
    #[error("At least one of the pre-conditions you specified did not hold")]
    PreconditionFailed,
    /// A read precondition (If-None-Match / If-Modified-Since) says the client's copy is current.
    #[error("Not Modified")]
    NotModified,
    #[error("The requested range is not satisfiable")]
    InvalidRange { size: u64 },
    #[error("The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")]
    NoSuchUpload,
    #[error("One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")]
    InvalidPart,
    #[error("The list of parts was not in ascending order. Parts must be ordered by part number.")]
    InvalidPartOrder,
    #[error("Your proposed upload is smaller than the minimum allowed object size.")]
    EntityTooSmall,
    #[error("Your proposed upload exceeds the maximum allowed object size.")]
    EntityTooLarge,
    #[error("{0}")]
    BadDigest(String),
    #[error("{0}")]
    InvalidDigest(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidTag(String),
    #[error(
        "You did not provide the number of bytes specified by the Content-Length HTTP header."
    )]
    IncompleteBody,
    /// GET/HEAD/tagging of a version that is a delete marker.
    #[error("The specified method is not allowed against this resource.")]
    MethodNotAllowed { delete_marker: bool },
    #[error("Your key is too long")]
    KeyTooLongError,
    #[error("Your metadata headers exceed the maximum allowed metadata size.")]
    MetadataTooLarge,
    #[error("The operation is not valid for the object's storage class")]
    InvalidObjectState,
    #[error("The TagSet does not exist")]
    NoSuchTagSet,
    #[error("The server side encryption configuration was not found")]
    ServerSideEncryptionConfigurationNotFoundError,
    #[error("The bucket policy does not exist")]
    NoSuchBucketPolicy,
    #[error("The public access block configuration was not found")]
    NoSuchPublicAccessBlockConfiguration,
    #[error("The CORS configuration does not exist")]
    NoSuchCORSConfiguration,
    #[error("The bucket ownership controls were not found")]
    OwnershipControlsNotFoundError,
    /// The key given for decryption does not match the one the object was sealed with (for
    /// SSE-C a wrong customer key; for KMS-managed keys this means damage).
    #[error("Access Denied")]
    WrongKey,
    /// Stored bytes failed authentication or are missing: tampering, truncation or a lost blob.
    /// Never served as data.
    #[error("We encountered an internal error. Please try again.")]
    Corrupt(String),
    /// The request body stream failed while being read.
    #[error("The request body could not be read: {0}")]
    BodyRead(String),
    #[error("We encountered an internal error. Please try again.")]
    Meta(#[from] meta::Error),
    #[error("We encountered an internal error. Please try again.")]
    Blob(#[from] blob::Error),
    #[error("We encountered an internal error. Please try again.")]
    Internal(String),
}

impl ObjectError {
    /// The S3 error code for the wire.
    pub fn code(&self) -> &'static str {
        use ObjectError::*;
        match self {
            NoSuchBucket => "NoSuchBucket",
            NoSuchKey { .. } => "NoSuchKey",
            NoSuchVersion => "NoSuchVersion",
            BucketAlreadyExists => "BucketAlreadyExists",
            BucketAlreadyOwnedByYou => "BucketAlreadyOwnedByYou",
            BucketNotEmpty => "BucketNotEmpty",
            InvalidBucketName(_) => "InvalidBucketName",
            PreconditionFailed => "PreconditionFailed",
            NotModified => "NotModified",
            InvalidRange { .. } => "InvalidRange",
            NoSuchUpload => "NoSuchUpload",
            InvalidPart => "InvalidPart",
            InvalidPartOrder => "InvalidPartOrder",
            EntityTooSmall => "EntityTooSmall",
            EntityTooLarge => "EntityTooLarge",
            BadDigest(_) => "BadDigest",
            InvalidDigest(_) => "InvalidDigest",
            InvalidArgument(_) => "InvalidArgument",
            InvalidRequest(_) => "InvalidRequest",
            InvalidTag(_) => "InvalidTag",
            IncompleteBody => "IncompleteBody",
            MethodNotAllowed { .. } => "MethodNotAllowed",
            KeyTooLongError => "KeyTooLongError",
            MetadataTooLarge => "MetadataTooLarge",
            InvalidObjectState => "InvalidObjectState",
            NoSuchTagSet => "NoSuchTagSet",
            ServerSideEncryptionConfigurationNotFoundError => {
                "ServerSideEncryptionConfigurationNotFoundError"
            }
            NoSuchBucketPolicy => "NoSuchBucketPolicy",
            NoSuchPublicAccessBlockConfiguration => "NoSuchPublicAccessBlockConfiguration",
            NoSuchCORSConfiguration => "NoSuchCORSConfiguration",
            OwnershipControlsNotFoundError => "OwnershipControlsNotFoundError",
            WrongKey => "AccessDenied",
            BodyRead(_) => "IncompleteBody",
            Corrupt(_) | Meta(_) | Blob(_) | Internal(_) => "InternalError",
        }
    }

    /// The HTTP status S3 uses for this code.
    pub fn status(&self) -> u16 {
        use ObjectError::*;
        match self {
            NotModified => 304,
            WrongKey => 403,
            NoSuchBucket
            | NoSuchKey { .. }
            | NoSuchVersion
            | NoSuchUpload
            | NoSuchTagSet
            | ServerSideEncryptionConfigurationNotFoundError
            | NoSuchBucketPolicy
            | NoSuchPublicAccessBlockConfiguration
            | NoSuchCORSConfiguration
            | OwnershipControlsNotFoundError => 404,
            MethodNotAllowed { .. } => 405,
            BucketAlreadyExists | BucketAlreadyOwnedByYou | BucketNotEmpty => 409,
            PreconditionFailed => 412,
            InvalidRange { .. } => 416,
            InvalidObjectState => 403,
            Corrupt(_) | Meta(_) | Blob(_) | Internal(_) => 500,
            _ => 400,
        }
    }

    /// The version id of the delete marker this error is about, if any (for
    /// `x-amz-delete-marker` / `x-amz-version-id` on 404 and 405 answers).
    pub fn delete_marker(&self) -> Option<&str> {
        match self {
            ObjectError::NoSuchKey {
                delete_marker: Some(v),
            } => Some(v),
            _ => None,
        }
    }
}

impl From<envelope::Error> for ObjectError {
    fn from(e: envelope::Error) -> Self {
        match e {
            envelope::Error::WrongKey => ObjectError::WrongKey,
            envelope::Error::TooLarge => ObjectError::EntityTooLarge,
            other => ObjectError::Corrupt(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses() {
        let cases: [(ObjectError, &str, u16); 8] = [
            (ObjectError::NoSuchBucket, "NoSuchBucket", 404),
            (
                ObjectError::NoSuchKey {
                    delete_marker: None,
                },
                "NoSuchKey",
                404,
            ),
            (ObjectError::BucketNotEmpty, "BucketNotEmpty", 409),
            (ObjectError::PreconditionFailed, "PreconditionFailed", 412),
            (ObjectError::NotModified, "NotModified", 304),
            (ObjectError::InvalidRange { size: 1 }, "InvalidRange", 416),
            (
                ObjectError::MethodNotAllowed {
                    delete_marker: true,
                },
                "MethodNotAllowed",
                405,
            ),
            (ObjectError::Corrupt("x".into()), "InternalError", 500),
        ];
        for (e, code, status) in cases {
            assert_eq!((e.code(), e.status()), (code, status), "{e:?}");
        }
    }
}
