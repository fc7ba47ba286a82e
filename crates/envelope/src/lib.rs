//! The object envelope: a versioned, authenticated, chunked encryption format for object bodies at rest.
//!
//! An object is stored as a fixed-size [header](Header) followed by AES-256-GCM segments built with the STREAM
//! construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015): each segment's nonce carries its position and a
//! final-segment flag, so reordering, duplication, truncation and extension are all detected. The header commits
//! to the data key, so a wrong key is told apart from tampering, and it is bound into every segment together with
//! caller-supplied associated data (the object's identity). The byte-level specification is
//! `docs/design/envelope.md`.
//!
//! The crate is pure: no I/O and no clocks. Randomness (the per-object salt and nonce prefix) comes from
//! aws-lc-rs's `SystemRandom`, or from the caller through [`Encryptor::with_salt_and_prefix`] for golden tests.
//!
//! * [`Encryptor`] / [`Decryptor`] stream in constant memory: feed slices of any size, get whole segments out.
//! * [`ciphertext_len`] / [`plaintext_len`] map lengths both ways without reading anything.
//! * [`plan_range`] and [`Decryptor::starting_at`] decrypt only the segments a range GET touches.
//! * [`derive_object_key`] and [`customer_key_check`] serve S3 Bucket Keys and SSE-C.

mod decrypt;
mod encrypt;
mod format;
mod keys;
mod range;
mod segment;

pub use decrypt::Decryptor;
pub use encrypt::Encryptor;
pub use format::{
    ciphertext_len, plaintext_len, Header, SegmentSize, ALGORITHM_AES_256_GCM_HKDF_SHA256,
    FORMAT_VERSION, HEADER_LEN, MAGIC, NONCE_PREFIX_LEN, SALT_LEN, TAG_LEN,
};
pub use keys::{customer_key_check, derive_object_key, verify_customer_key, KEY_LEN};
pub use range::{plan_range, RangePlan};

/// Why an envelope could not be produced or opened. Messages are safe to show a client: they never carry key
/// bytes, plaintext or ciphertext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The key does not match the header's key commitment: the caller supplied the wrong key (or the
    /// commitment or salt bytes of the header were altered, which cannot be told apart from a wrong key).
    #[error("the key does not match the one this object was encrypted with")]
    WrongKey,
    /// A segment failed authentication: the stored bytes, their order, the header or the associated data
    /// differ from what was written.
    #[error("object data failed authentication at segment {segment}")]
    Tampered { segment: u64 },
    /// The ciphertext ended before its final segment.
    #[error("object data is truncated")]
    Truncated,
    /// The bytes are not an envelope this reader understands structurally (bad magic, unknown algorithm,
    /// segment size out of bounds, data beyond a planned range…).
    #[error("malformed object envelope: {0}")]
    Malformed(&'static str),
    /// The header names a format version newer than this reader.
    #[error("unsupported object envelope version {0}")]
    UnsupportedVersion(u8),
    /// The plaintext needs more than 2^32 segments at this segment size.
    #[error("object is too large for the envelope format at this segment size")]
    TooLarge,
    /// A segment size outside [`SegmentSize::MIN`]..=[`SegmentSize::MAX`].
    #[error("invalid envelope segment size {0}")]
    InvalidSegmentSize(u64),
    /// A byte range that is empty, inverted or beyond the end of the object.
    #[error("invalid byte range for this object")]
    InvalidRange,
}
