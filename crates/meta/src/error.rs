//! The one error type of the metadata layer.

use std::sync::Arc;

/// Everything that can go wrong in the metadata layer.
///
/// The type is `Clone` because one failed group commit has to be reported to every transaction
/// in the group; sources are therefore held behind `Arc`.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The storage engine failed a read or could not be opened.
    #[error("metadata backend failed: {0}")]
    Backend(Arc<dyn std::error::Error + Send + Sync>),

    /// The storage engine failed to commit a group of transactions; none of its writes applied.
    #[error("metadata commit failed: {0}")]
    Commit(Arc<dyn std::error::Error + Send + Sync>),

    /// The transaction closure panicked; its writes were discarded.
    #[error("metadata transaction panicked: {0}")]
    Panicked(String),

    /// The committer thread is gone, so no transaction can run.
    #[error("metadata committer has stopped")]
    Closed,

    /// A transaction was started from inside a transaction closure, which would deadlock.
    #[error("metadata transaction started from inside a transaction")]
    Reentrant,

    /// A stored value could not be decoded, or a value could not be encoded.
    #[error("metadata value encoding: {0}")]
    Encoding(String),

    /// A stored value carries a format version this binary does not know.
    #[error("metadata value has unknown format version {0}")]
    UnknownFormat(u8),
}

impl Error {
    /// Wraps an engine error raised while reading or opening.
    pub fn backend(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Backend(Arc::new(source))
    }

    /// Wraps an engine error raised while committing.
    pub fn commit(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Commit(Arc::new(source))
    }
}
