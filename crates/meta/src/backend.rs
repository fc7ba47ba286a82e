//! The narrow seam between the store and a storage engine.

use crate::{Error, Range, WriteBatch};

/// One key and its value, as returned by scans.
pub type Entry = (Vec<u8>, Vec<u8>);

/// An ordered, transactional key-value engine: the only thing a new storage engine (redb today,
/// PostgreSQL later) has to implement.
///
/// Contract:
/// * Keys are ordered by their bytes (lexicographic, unsigned), per table. A table that was never
///   written reads as empty; it is never an error.
/// * Reads see the latest committed state, and never a part of a batch.
/// * [`Backend::commit`] applies the whole batch or nothing, and returns `Ok` only once the batch
///   is durable: a crash after `Ok` never loses it.
/// * Commits are issued by one thread at a time (the store's committer), so an implementation
///   need not detect conflicts between them; it must allow reads concurrent with a commit.
pub trait Backend: Send + Sync + 'static {
    /// The value stored under `key` in `table`.
    fn get(&self, table: &str, key: &[u8]) -> Result<Option<Vec<u8>>, Error>;

    /// Entries of `table` within `range`, in the range's direction, at most its limit.
    fn scan(&self, table: &str, range: &Range) -> Result<Vec<Entry>, Error>;

    /// Applies `batch` atomically and durably.
    fn commit(&self, batch: WriteBatch) -> Result<(), Error>;
}
