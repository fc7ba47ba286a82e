//! [`MemoryBlobStore`]: the [`BlobStore`] contract in memory, for tests of the layers above.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;

use crate::{
    BlobId, BlobReader, BlobStore, BlobWriter, Error, GcReport, IsLive, Result, DEFAULT_CHUNK,
};

/// An in-memory blob store with the same semantics as [`crate::LocalBlobStore`] (minus
/// durability). Cheap to clone; clones share the blobs.
#[derive(Clone)]
pub struct MemoryBlobStore {
    inner: Arc<Inner>,
}

struct Inner {
    blobs: Mutex<HashMap<BlobId, Stored>>,
    chunk: usize,
}

struct Stored {
    bytes: Bytes,
    committed: Instant,
}

impl std::fmt::Debug for MemoryBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBlobStore")
            .field("blobs", &self.blobs().len())
            .finish()
    }
}

impl Default for MemoryBlobStore {
    fn default() -> Self {
        MemoryBlobStore::new()
    }
}

impl MemoryBlobStore {
    /// An empty store yielding [`DEFAULT_CHUNK`]-sized read chunks.
    pub fn new() -> MemoryBlobStore {
        MemoryBlobStore::with_chunk(DEFAULT_CHUNK)
    }

    /// An empty store whose readers yield chunks of `chunk` bytes (small values exercise the
    /// chunk boundaries of the layers above).
    pub fn with_chunk(chunk: usize) -> MemoryBlobStore {
        MemoryBlobStore {
            inner: Arc::new(Inner {
                blobs: Mutex::new(HashMap::new()),
                chunk: chunk.max(1),
            }),
        }
    }

    fn blobs(&self) -> std::sync::MutexGuard<'_, HashMap<BlobId, Stored>> {
        // A panic while holding this lock cannot leave the map half-updated (every critical
        // section is one map operation), so a poisoned lock is still consistent.
        self.inner
            .blobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn bytes(&self, id: &BlobId) -> Result<Bytes> {
        self.blobs()
            .get(id)
            .map(|s| s.bytes.clone())
            .ok_or(Error::NotFound(*id))
    }
}

#[async_trait]
impl BlobStore for MemoryBlobStore {
    async fn create(&self) -> Result<Box<dyn BlobWriter>> {
        Ok(Box::new(MemoryWriter {
            store: self.clone(),
            buf: Vec::new(),
        }))
    }

    async fn read(&self, id: &BlobId, offset: u64, len: u64) -> Result<BlobReader> {
        let bytes = self.bytes(id)?;
        let size = bytes.len() as u64;
        let end = offset.checked_add(len).filter(|&end| end <= size);
        let Some(end) = end else {
            return Err(Error::OutOfRange {
                id: *id,
                offset,
                len,
                size,
            });
        };
        let range = bytes.slice(offset as usize..end as usize);
        let chunk = self.inner.chunk;
        let chunks = (0..range.len())
            .step_by(chunk)
            .map(move |at| Ok(range.slice(at..(at + chunk).min(range.len()))));
        Ok(BlobReader::new(IterStream(chunks)))
    }

    async fn len(&self, id: &BlobId) -> Result<u64> {
        Ok(self.bytes(id)?.len() as u64)
    }

    async fn delete(&self, id: &BlobId) -> Result<()> {
        self.blobs().remove(id);
        Ok(())
    }

    async fn list(&self) -> Result<Vec<BlobId>> {
        Ok(self.blobs().keys().copied().collect())
    }

    async fn gc(&self, live: &IsLive<'_>, grace: Duration) -> Result<GcReport> {
        let mut report = GcReport::default();
        let now = Instant::now();
        self.blobs().retain(|id, stored| {
            report.scanned += 1;
            if live(id) {
                report.live += 1;
                true
            } else if now.duration_since(stored.committed) < grace {
                report.young += 1;
                true
            } else {
                report.deleted += 1;
                report.bytes_freed += stored.bytes.len() as u64;
                false
            }
        });
        Ok(report)
    }
}

struct MemoryWriter {
    store: MemoryBlobStore,
    buf: Vec<u8>,
}

#[async_trait]
impl BlobWriter for MemoryWriter {
    async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.buf.extend_from_slice(chunk);
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<BlobId> {
        let id = BlobId::random();
        let stored = Stored {
            bytes: Bytes::from(self.buf),
            committed: Instant::now(),
        };
        self.store.blobs().insert(id, stored);
        Ok(id)
    }

    async fn abort(self: Box<Self>) {}
}

/// An iterator as a stream (every item is ready at once).
struct IterStream<I>(I);

impl<I: Iterator + Unpin> futures_core::Stream for IterStream<I> {
    type Item = I::Item;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<I::Item>> {
        std::task::Poll::Ready(self.0.next())
    }
}
