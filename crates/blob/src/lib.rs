//! Storage for object bytes (already encrypted by the layer above): the backend-neutral
//! [`BlobStore`] trait, [`LocalBlobStore`] on a local filesystem with group fsync, and
//! [`MemoryBlobStore`] for tests.
//!
//! A blob is an immutable byte string named by a random [`BlobId`]. It is written once through a
//! [`BlobWriter`] and becomes visible only when [`BlobWriter::commit`] returns, at which point it is
//! durable; an aborted, dropped or crashed writer leaves nothing visible. Which blobs are live is
//! decided by the metadata store (`crates/meta`): a PUT commits its blob first and then the
//! metadata record that names it, so a crash in between leaves an unreferenced blob, which
//! [`BlobStore::gc`] removes later. The protocol and the fsync discipline are specified in
//! `docs/design/storage.md`.

mod dirsync;
mod error;
mod id;
mod local;
mod memory;
mod reader;

use std::time::Duration;

use async_trait::async_trait;

pub use error::{Error, Result};
pub use id::BlobId;
pub use local::{LocalBlobStore, LocalOptions, SyncStats};
pub use memory::MemoryBlobStore;
pub use reader::BlobReader;

/// The default size of the chunks a [`BlobReader`] yields and a local writer hands to the disk.
pub const DEFAULT_CHUNK: usize = 256 * 1024;

/// Where object bytes live. Implementations: [`LocalBlobStore`], [`MemoryBlobStore`]; remote
/// backends (through Apache OpenDAL) will implement the same trait.
///
/// Contract, for every implementation:
/// * A blob is visible (to [`read`](BlobStore::read), [`len`](BlobStore::len),
///   [`list`](BlobStore::list)) exactly when its writer's [`commit`](BlobWriter::commit) has
///   returned `Ok`, and it is durable from then on. Blobs are immutable.
/// * A writer that is aborted, dropped, fails, or whose process dies before `commit` returns
///   leaves no visible blob (local temp files are removed at the latest by the next open).
/// * Ids are random 128-bit values chosen by the store, never derived from object names.
/// * [`delete`](BlobStore::delete) is idempotent; a delete need not be durable (a blob that
///   reappears after a crash is unreferenced and collected by [`gc`](BlobStore::gc)).
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Starts a new blob.
    async fn create(&self) -> Result<Box<dyn BlobWriter>>;

    /// Streams `len` bytes of blob `id` from `offset`, in chunks, in constant memory.
    ///
    /// The whole range must lie inside the blob: `offset + len > size` is
    /// [`Error::OutOfRange`], never a short read. A missing blob is [`Error::NotFound`].
    async fn read(&self, id: &BlobId, offset: u64, len: u64) -> Result<BlobReader>;

    /// The size of blob `id` in bytes.
    async fn len(&self, id: &BlobId) -> Result<u64>;

    /// Removes blob `id`; removing a blob that does not exist succeeds.
    async fn delete(&self, id: &BlobId) -> Result<()>;

    /// Every visible blob, in no particular order (for orphan collection and checks).
    async fn list(&self) -> Result<Vec<BlobId>>;

    /// Deletes every blob for which `live` is false and which is older than `grace`.
    ///
    /// `grace` protects blobs whose metadata commit is still in flight: a PUT commits its blob
    /// before the record naming it, so a blob younger than the longest PUT must be kept. Use a
    /// grace far above that (the default in `coffer` is an hour), or `Duration::ZERO` only when
    /// no writer can be running (startup, tests).
    async fn gc(&self, live: &IsLive<'_>, grace: Duration) -> Result<GcReport>;
}

/// The liveness test [`BlobStore::gc`] asks about each blob: true if metadata references it.
pub type IsLive<'a> = dyn Fn(&BlobId) -> bool + Send + Sync + 'a;

/// One blob being written. Obtained from [`BlobStore::create`].
#[async_trait]
pub trait BlobWriter: Send {
    /// Appends `chunk` to the blob. May buffer; the bytes are durable only after `commit`.
    ///
    /// After an error, or if a `write` future is dropped before completing, the writer is
    /// unusable: later calls and `commit` fail with [`Error::Poisoned`].
    async fn write(&mut self, chunk: &[u8]) -> Result<()>;

    /// Makes the blob durable and visible, and returns its id. On error nothing is visible.
    async fn commit(self: Box<Self>) -> Result<BlobId>;

    /// Discards the blob. Dropping an uncommitted writer does the same.
    async fn abort(self: Box<Self>);
}

/// What one [`BlobStore::gc`] pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Blobs examined.
    pub scanned: u64,
    /// Blobs kept because `live` said so.
    pub live: u64,
    /// Unreferenced blobs kept because they are younger than the grace period.
    pub young: u64,
    /// Unreferenced blobs deleted.
    pub deleted: u64,
    /// Bytes freed by the deletions.
    pub bytes_freed: u64,
}
