//! The crate's one error type: I/O and key failures, lookup input errors, and every problem `verify` can find.

use std::path::PathBuf;

/// Everything that can go wrong in the audit crate.
///
/// The verification variants name the first problem found precisely enough for an operator to go and look at
/// the bytes: the segment or digest file, the record sequence number, and the byte offset of the record's line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file system operation failed.
    #[error("audit I/O error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The signing key file could not be parsed, or a key could not be generated.
    #[error("audit signing key {path}: {reason}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// Why it was rejected.
        reason: String,
    },
    /// Signing a digest failed.
    #[error("signing an audit digest failed")]
    Signing,
    /// The configuration is unusable (e.g. a zero segment size or digest interval).
    #[error("invalid audit configuration: {0}")]
    InvalidConfig(String),
    /// An event could not be serialized to JSON.
    #[error("audit event could not be encoded: {0}")]
    Encode(String),
    /// The log has been closed (or its writer thread has stopped), so nothing more can be appended.
    #[error("the audit log is closed")]
    Closed,
    /// A write or fsync failed earlier; the writer refuses further appends rather than chain onto an unknown state.
    #[error("the audit writer failed and stopped: {0}")]
    WriterFailed(String),
    /// `LookupEvents` input is invalid (maps to `InvalidLookupAttributesException` / `InvalidMaxResultsException`
    /// / `InvalidTimeRangeException`, as the message says).
    #[error("invalid lookup: {0}")]
    InvalidQuery(String),
    /// The `NextToken` is malformed, from another process lifetime, or from a query with different parameters
    /// (maps to `InvalidNextTokenException`).
    #[error("invalid next token")]
    InvalidNextToken,

    /// The last record of the newest segment is incomplete: the process stopped mid-write. This is what a crash
    /// leaves behind, not tampering; `AuditLog::open` truncates it.
    #[error(
        "torn final record in {segment} at byte {offset} (seq {expected_seq} was being written)"
    )]
    TornTail {
        /// The segment file.
        segment: PathBuf,
        /// Byte offset where the incomplete record starts.
        offset: u64,
        /// The sequence number the incomplete record would have had.
        expected_seq: u64,
    },
    /// A complete record line does not parse as a version-1 record: it was altered.
    #[error(
        "record corrupt in {segment} at byte {offset} (expected seq {expected_seq}): {reason}"
    )]
    RecordCorrupt {
        /// The segment file.
        segment: PathBuf,
        /// Byte offset of the line.
        offset: u64,
        /// The sequence number the record should have.
        expected_seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// A record's stored hash does not match its content: it was altered.
    #[error("record seq {seq} altered in {segment} at byte {offset}: hash does not match content")]
    RecordAltered {
        /// The segment file.
        segment: PathBuf,
        /// Byte offset of the line.
        offset: u64,
        /// The record's sequence number.
        seq: u64,
    },
    /// A record's sequence number is not the next one: records were deleted, inserted or reordered.
    #[error("record missing or reordered in {segment} at byte {offset}: expected seq {expected_seq}, found {found_seq}")]
    RecordOutOfSequence {
        /// The segment file.
        segment: PathBuf,
        /// Byte offset of the line.
        offset: u64,
        /// The sequence number that should come next.
        expected_seq: u64,
        /// The sequence number found.
        found_seq: u64,
    },
    /// A record's `prev` does not equal the previous record's hash: the chain was cut and re-joined.
    #[error("hash chain broken at seq {seq} in {segment} at byte {offset}")]
    ChainBroken {
        /// The segment file.
        segment: PathBuf,
        /// Byte offset of the line.
        offset: u64,
        /// The record's sequence number.
        seq: u64,
    },
    /// A segment file's name does not match the first record in it, or a segment is missing.
    #[error("segment {segment} is misnamed or out of place: {reason}")]
    SegmentMisplaced {
        /// The segment file.
        segment: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A digest file does not parse, or its signature does not verify under the given public key.
    #[error("digest {digest} is invalid: {reason}")]
    DigestInvalid {
        /// The digest file.
        digest: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A digest is validly signed but does not match the records or the digest chain (records or digests were
    /// removed or rewritten).
    #[error("digest {digest} does not match the log: {reason}")]
    DigestMismatch {
        /// The digest file.
        digest: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }

    /// True for the variants that mean "the log was altered" (as opposed to a crash's torn tail or an I/O error).
    pub fn is_tampering(&self) -> bool {
        matches!(
            self,
            Error::RecordCorrupt { .. }
                | Error::RecordAltered { .. }
                | Error::RecordOutOfSequence { .. }
                | Error::ChainBroken { .. }
                | Error::SegmentMisplaced { .. }
                | Error::DigestInvalid { .. }
                | Error::DigestMismatch { .. }
        )
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
