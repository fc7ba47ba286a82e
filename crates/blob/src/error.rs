//! The blob crate's one error type.

use std::io;

use crate::BlobId;

/// The result of a blob operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong storing or reading blobs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No committed blob has this id.
    #[error("blob {0} not found")]
    NotFound(BlobId),

    /// A read asked for bytes past the end of the blob.
    #[error("range {offset}+{len} is outside blob {id} of {size} bytes")]
    OutOfRange {
        /// The blob read.
        id: BlobId,
        /// The first byte asked for.
        offset: u64,
        /// How many bytes were asked for.
        len: u64,
        /// The blob's size.
        size: u64,
    },

    /// A string is not a blob id (32 lowercase hex digits).
    #[error("invalid blob id")]
    InvalidId,

    /// A writer failed earlier (or a `write` future was dropped midway) and cannot continue.
    #[error("blob writer is unusable after an earlier failure")]
    Poisoned,

    /// The operating system refused an operation.
    #[error("blob storage {op} failed: {source}")]
    Io {
        /// What the store was doing.
        op: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// Wraps an I/O error with the operation that hit it.
    pub(crate) fn io(op: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Io { op, source }
    }
}
